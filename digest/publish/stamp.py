"""What the output folder was built from: a fingerprint of the rendering code, the templates and the
settings every page depends on, kept in a marker file; a different one means a full rebuild."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from digest import __version__
from digest.config import Config
from digest.publish.templates import TEMPLATES
from digest.types import Section

# Hidden (the server never serves dot files); holds the token of the build the folder is from.
MARKER = ".digest-publish"


@cache
def _code_stamp() -> str:
    """A fingerprint of the rendering code and the templates."""
    digest = hashlib.sha256(__version__.encode())
    # Every module of this package renders or decides what is rendered; hashing them all means a new
    # module cannot be forgotten (a forgotten one would serve stale output after an upgrade).
    for path in (
        *sorted(Path(__file__).parent.glob("*.py")),
        *sorted(p for p in TEMPLATES.rglob("*") if p.is_file()),
    ):
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _stamp(config: Config, sections: Sequence[Section]) -> str:
    """What every page depends on: code, templates, the site and feed settings, whether empty days
    are shown (``digestlog.shown_digests``), the section list."""
    facts = [
        _code_stamp(),
        repr(config.site),
        repr(config.feeds),
        config.digest.empty_days,
        [(s.name, s.slug) for s in sections],
    ]
    return hashlib.sha256(json.dumps(facts, ensure_ascii=False).encode()).hexdigest()


def _read_marker(output_dir: Path) -> str:
    try:
        return (output_dir / MARKER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _write_marker(output_dir: Path, token: str) -> None:
    temp = output_dir / f"{MARKER}.tmp"
    temp.write_text(token + "\n", encoding="ascii")
    os.replace(temp, output_dir / MARKER)
