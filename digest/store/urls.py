"""The database URL: the one place that knows its schemes and spellings.

Users write ``postgresql://`` (or ``postgres://``) or ``sqlite:///path``; SQLAlchemy wants
``postgresql+psycopg://``; libpq tools (``pg_dump``) want the plain scheme back; logs want no password.
"""

from __future__ import annotations

import re
from pathlib import Path

# The schemes a user may write, before any ``+driver``.
SCHEMES = ("sqlite", "postgresql", "postgres")


def default_url(data: Path) -> str:
    """The embedded default: SQLite in the data folder."""
    return f"sqlite:///{data / 'digest.sqlite3'}"


def scheme(url: str) -> str:
    """The URL's scheme without a ``+driver`` suffix, e.g. ``postgresql``."""
    return url.partition(":")[0].partition("+")[0]


def is_postgresql(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return scheme(url) in ("postgresql", "postgres")


def resolve_sqlite(url: str, base: Path) -> str:
    """A relative SQLite file URL made absolute against ``base`` (the config file's folder)."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:" and not url.startswith("sqlite:////"):
        return f"sqlite:///{(base / url.removeprefix('sqlite:///')).absolute()}"
    return url


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` select the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://`` (SQLAlchemy's spelling) → ``postgresql://`` for libpq."""
    head, sep, rest = url.partition("://")
    return f"{head.partition('+')[0]}{sep}{rest}"


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, fit for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)
