"""What a new operator meets: the README, config.toml and deploy notes taken literally, and the
mistakes they make in them caught by ``digest check`` and ``digest serve`` in plain words."""

from __future__ import annotations

import argparse
import re
import shutil
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from faulty_smtp import FaultySmtp
from loopback import free_port, wait_for
from smtp_sink import SmtpSink
from test_cli import digest
from test_service import Serve

ROOT = Path(__file__).resolve().parents[1]


def _folders(home: Path) -> list[str | Path]:
    (home / "pages").mkdir(exist_ok=True)
    return ["--source", home / "pages", "--data", home / "data", "--output", home / "out"]


@pytest.mark.slow
def test_check_says_the_smtp_server_cannot_be_reached_and_passes_one_that_answers(tmp_path: Path) -> None:
    closed = {"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(free_port())}
    result = digest("check", *_folders(tmp_path), cwd=tmp_path, env=closed)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: smtp.host: cannot reach the SMTP server")
    assert "check smtp.host and smtp.port" in errors[0] and "Traceback" not in result.stderr

    with SmtpSink() as sink:
        answering = {"DIGEST_SMTP_HOST": sink.host, "DIGEST_SMTP_PORT": str(sink.port)}
        wrong_security = digest("check", *_folders(tmp_path), cwd=tmp_path, env=answering)
        assert wrong_security.returncode == 2, wrong_security.stderr
        # The sink offers no STARTTLS, which smtp.security's default asks for: the fix names the key.
        assert "error: smtp.host: " in wrong_security.stderr and "smtp.security" in wrong_security.stderr
        plain = digest(
            "check", *_folders(tmp_path), cwd=tmp_path, env=answering | {"DIGEST_SMTP_SECURITY": "none"}
        )
        assert plain.returncode == 0, plain.stderr
        assert "error" not in plain.stderr and f"emails to SMTP {sink.host}:{sink.port}" in plain.stdout
        assert sink.messages == []  # a probe, not a test email


@pytest.mark.slow
def test_serve_warns_at_start_up_that_the_smtp_server_cannot_be_reached(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    closed = {"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(free_port())}
    service = Serve(tmp_path, pages, settings=closed)
    try:
        wait_for(lambda: "smtp.host: cannot reach" in service.log(), 30, "the SMTP warning")
        (line,) = [line for line in service.lines if "smtp.host:" in line]
        assert " WARNING " in line and "emails wait for a retry" in line
        assert service.http.get("/feeds/all.atom").status_code == 200  # the site still serves
    finally:
        assert service.stop() == 0, service.log()
    assert "Traceback" not in service.log()


BUSY = "421 4.3.2 mx.test busy, try again later"
BLOCKED = "554 5.7.1 mx.test: no SMTP service for you"


def _at(server: FaultySmtp) -> dict[str, str]:
    return {
        "DIGEST_SMTP_HOST": server.host,
        "DIGEST_SMTP_PORT": str(server.port),
        "DIGEST_SMTP_SECURITY": "none",
    }


@pytest.mark.parametrize(
    ("greeting", "says"),
    [(BUSY, "is not taking connections now"), (BLOCKED, "refuses this machine")],
)
def test_check_says_what_a_relay_refusing_its_greeting_means_without_promising_a_retry(
    tmp_path: Path, greeting: str, says: str
) -> None:
    """Before: "…answered 554 5.7.1 …; will retry", the wording of a send, from a check that retries none."""
    with FaultySmtp(seed=0, greeting=greeting) as relay:
        result = digest("check", *_folders(tmp_path), cwd=tmp_path, env=_at(relay))
    assert result.returncode == 2, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error.startswith(f"error: smtp.host: {relay.host}:{relay.port} {says}")
    assert greeting in error and "set smtp.host to" in error and "retry" not in error


@pytest.mark.slow
def test_serve_warns_at_start_up_what_a_busy_relay_means(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    with FaultySmtp(seed=0, greeting=BUSY) as relay:
        service = Serve(tmp_path, pages, settings=_at(relay))
        try:
            wait_for(lambda: "smtp.host:" in service.log(), 30, "the SMTP warning")
        finally:
            assert service.stop() == 0, service.log()
    (line,) = [line for line in service.lines if "smtp.host:" in line]
    assert " WARNING " in line and "is not taking connections now" in line and BUSY in line
    assert "will retry" not in line and line.endswith("(emails wait for a retry meanwhile)")


def test_the_readme_lists_each_command_once_and_every_command_it_lists_exists() -> None:
    from digest.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `digest ([a-z-]+)", readme, re.MULTILINE)
    # ``backup FILE`` / ``restore FILE`` share a row.
    listed = [*rows, "restore"]
    assert len(rows) == len(set(rows)), f"a command has two rows: {sorted(rows)}"
    parser = build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    assert sorted(listed) == sorted(commands.choices), "README's command table and `digest --help` differ"


def test_a_test_copy_says_which_digest_went_to_whom_and_where_to_find_it(tmp_path: Path) -> None:
    """Before, ``send-digest --to`` printed only "test copy sent to ADDRESS": not which digest, nor
    whether it went to an SMTP server or into the outbox, nor which file there."""
    options = [
        "--source",
        ROOT / "examples" / "pages",
        "--data",
        tmp_path / "data",
        "--output",
        tmp_path / "out",
    ]
    assert digest("ingest", *options, cwd=tmp_path).returncode == 0
    copy = ["send-digest", "--date", "2024-11-27", "--to", "editor@example.org", *options]
    into_outbox = digest(*copy, cwd=tmp_path)
    assert into_outbox.returncode == 0, into_outbox.stderr
    (written,) = (tmp_path / "data" / "outbox").glob("*.eml")
    subject = message_from_bytes(written.read_bytes(), policy=policy.default)["Subject"]
    assert "2024年11月27日" in subject  # the day, as the inbox shows it
    lines = into_outbox.stdout.splitlines()
    told = "test copy of the digest of 2024-11-27 sent to editor@example.org, outside the delivery ledger"
    assert told in lines and f"  subject: {subject}" in lines
    assert f"  written to {written} (smtp.host is not set: emails go to the outbox, none is mailed)" in lines

    with SmtpSink() as sink:
        at = {
            "DIGEST_SMTP_HOST": sink.host,
            "DIGEST_SMTP_PORT": str(sink.port),
            "DIGEST_SMTP_SECURITY": "none",
        }
        mailed = digest(*copy, cwd=tmp_path, env=at)
    assert mailed.returncode == 0, mailed.stderr
    (received,) = sink.messages
    lines = mailed.stdout.splitlines()
    assert told in lines and f"  subject: {received.message()['Subject']}" in lines
    assert f"  handed to the SMTP server {sink.host}:{sink.port}" in lines
    assert list((tmp_path / "data" / "outbox").glob("*.eml")) == [written]


def _heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as ``-``."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_links_between_the_docs_reach_a_file_and_a_heading_of_it() -> None:
    documents = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for document in documents:
        for link in re.findall(r"\]\(([^)\s]+)\)", document.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", link):
                continue  # https:, mailto:: not ours to check
            path, _, anchor = link.partition("#")
            target = (document.parent / path).resolve() if path else document
            if not target.exists():
                broken.append(f"{document.name}: {link} (no such file)")
            elif anchor and anchor not in _heading_anchors(target.read_text(encoding="utf-8")):
                broken.append(f"{document.name}: {link} (no such heading)")
    assert not broken, broken
