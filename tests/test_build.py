"""``digest build``: the operator's full rebuild in one process gives what the two commands give."""

from __future__ import annotations

from pathlib import Path

from golden import read_tree
from test_cli import EXAMPLES, digest


def test_build_is_ingest_then_a_full_publish(tmp_path: Path) -> None:
    def folders(name: str) -> list[str]:
        return [
            "--source",
            str(EXAMPLES),
            "--data",
            str(tmp_path / name),
            "--output",
            str(tmp_path / name / "out"),
        ]

    built = digest("build", *folders("one"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith(f"built {tmp_path / 'one' / 'out'}: 3 files (0 failed), 7 articles (7 new")
    assert digest("ingest", *folders("two"), cwd=tmp_path).returncode == 0
    assert digest("publish", "--full", *folders("two"), cwd=tmp_path).returncode == 0
    one, two = read_tree(tmp_path / "one" / "out"), read_tree(tmp_path / "two" / "out")
    assert one.keys() == two.keys() and len(one) > 10
    # The site's pages are the same bytes whichever way they were built.
    assert {k: v for k, v in one.items() if k.endswith(".html")} == {
        k: v for k, v in two.items() if k.endswith(".html")
    }
