"""What every repository of the store shares: the engine, one transaction per operation (or the
thread's pinned snapshot), plain-words failures, and the article filters and orders feeds and pages use."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import StoreError
from digest.store import versioning
from digest.store.schema import FEED_ORDER, articles
from digest.store.urls import is_postgresql, mask_url
from digest.types import (
    Article,
    Caption,
    Credit,
    DatedBy,
    Entry,
    FeedKey,
    Kind,
    Retraction,
    Section,
    feed_key,
)


def entry_from_row(row: sa.Row[Any]) -> Entry:
    """An ``articles`` row as the domain's ``Entry``."""
    # Read once into a dict: a Row's attribute lookup costs as much as the rest of this together,
    # and a full build turns every stored article into an Entry at least once.
    return _entry(dict(zip(row._fields, row, strict=True)))


# The columns of a whole ``articles`` row, in the order ``select(articles)`` reads them.
_COLUMNS = tuple(column.name for column in articles.columns)


def entry_from_values(values: tuple[Any, ...]) -> Entry:
    """A whole ``articles`` row read as a plain tuple (``tuple(row)``) as the domain's ``Entry``:
    what a full build sends to the process that draws the entry (``Listed``)."""
    return _entry(dict(zip(_COLUMNS, values, strict=True)))


def feed_key_of(row: sa.Row[Any]) -> FeedKey:
    """The feed-order key of a row holding the ``FEED_KEY_FIELDS`` (as ``Entry.feed_key``)."""
    return feed_key(row.feed_seq or 0, row.issue_date, row.position, row.uid)


def _entry(col: dict[str, Any]) -> Entry:
    article = Article(
        title=col["title"],
        body=col["body"],
        section=col["section_name"],
        kicker=col["kicker"],
        subtitle=col["subtitle"],
        credits=tuple(Credit(name, role) for name, role in _json_list(col["credits"])),
        date=col["date"],
        place=col["place"],
        kind=_KINDS[col["kind"]],
        notes=tuple(_json_list(col["notes"])),
        jumps=tuple(_json_list(col["jumps"])),
        captions=tuple(Caption(text, credit, at) for text, credit, at in _json_list(col["captions"])),
    )
    retracted = col["retracted"]
    return Entry(
        uid=col["uid"],
        tag=col["tag"],
        article=article,
        section=Section(col["section_name"], col["section_slug"]),
        issue_date=col["issue_date"],
        published=col["published"],
        updated=col["updated"],
        first_seen=col["first_seen"],
        source=col["source"],
        position=col["position"],
        dated_by=_DATED_BY[col["dated_by"] or DatedBy.NAME],
        retracted=Retraction(retracted) if retracted else None,
        retracted_at=col["retracted_at"],
        feed_seq=col["feed_seq"] or 0,
        successor=col["successor"],
    )


_KINDS = {kind.value: kind for kind in Kind}
_DATED_BY = {by.value: by for by in DatedBy}


def _json_list(text: str | None) -> list[Any]:
    """A JSON list column; most are empty (no notes, jumps or captions), which needs no parsing."""
    return [] if text is None or text == "[]" else list(json.loads(text))


# Keys per ``IN (...)`` list: well under SQLite's and PostgreSQL's limits on bound parameters.
IN_BATCH = 500


# Paper order: newest issue first, then page and position on the page.
ENTRY_ORDER = (articles.c.issue_date.desc(), articles.c.position, articles.c.uid)


# Articles not withdrawn: the only ones feeds, pages and digests show.
LIVE = articles.c.retracted.is_(None)


def in_feed(section: str | None) -> tuple[sa.ColumnElement[bool], ...]:
    """The filter of one feed: every live article (None) or one section's."""
    return (LIVE,) if section is None else (LIVE, articles.c.section_slug == section)


def dialect_of(name: str) -> Any:
    """The SQLAlchemy dialect module whose ``insert`` knows ``ON CONFLICT`` for database ``name``.

    PostgreSQL's is imported only when used: it is a fifth of the import time of a command on SQLite.
    """
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql
    return sqlite


def sql_feed_key(values: tuple[Any, ...]) -> sa.Tuple:
    """A feed-order key (``types.FeedKey``) as SQL, each value bound with its column's type (UTC
    datetimes stay UTC)."""
    pairs = zip(values, FEED_ORDER, strict=True)
    return sa.tuple_(*(sa.literal(value, column.type) for value, column in pairs))


class Repository:
    """The engine and the transaction every repository method runs in."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self.url = url
        self._pinned = threading.local()  # the connection of this thread's ``snapshot``, if any
        self.schema: versioning.SchemaVersion | None = None  # known once read or migrated

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        pinned: Connection | None = getattr(self._pinned, "conn", None)
        try:
            if pinned is not None:
                yield pinned
            else:
                with self._engine.begin() as conn:
                    yield conn
        except SQLAlchemyError as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: SQLAlchemyError) -> StoreError:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if "disk is full" in reason or "No space left" in reason:
            # SQLite's SQLITE_FULL and PostgreSQL's ENOSPC: a server or URL to check would mislead.
            fix = "free space on the disk that holds it; what arrives meanwhile is read once there is room"
        elif is_postgresql(self.url):
            fix = "check that the server is running, the URL is right and the database is writable"
        else:
            # A SQLite file has no server: what fails is its path, its permissions or the file itself.
            fix = (
                "check the URL's path, that the file is a SQLite database and that this user can write"
                " it and its folder"
            )
        return StoreError(f"database {mask_url(self.url)}: {reason}; {fix}")
