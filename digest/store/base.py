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
from digest.store.urls import mask_url
from digest.types import Article, Caption, Credit, DatedBy, Entry, Kind, Retraction, Section


def entry_from_row(row: sa.Row[Any]) -> Entry:
    """An ``articles`` row as the domain's ``Entry``."""
    section = Section(row.section_name, row.section_slug)
    article = Article(
        title=row.title,
        body=row.body,
        section=row.section_name,
        kicker=row.kicker,
        subtitle=row.subtitle,
        credits=tuple(Credit(name, role) for name, role in json.loads(row.credits)),
        date=row.date,
        place=row.place,
        kind=Kind(row.kind),
        notes=tuple(json.loads(row.notes)),
        jumps=tuple(json.loads(row.jumps)),
        captions=tuple(Caption(text, credit, at) for text, credit, at in json.loads(row.captions or "[]")),
    )
    return Entry(
        uid=row.uid,
        tag=row.tag,
        article=article,
        section=section,
        issue_date=row.issue_date,
        published=row.published,
        updated=row.updated,
        first_seen=row.first_seen,
        source=row.source,
        position=row.position,
        dated_by=DatedBy(row.dated_by or DatedBy.NAME),
        retracted=Retraction(row.retracted) if row.retracted else None,
        retracted_at=row.retracted_at,
        feed_seq=row.feed_seq or 0,
    )


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
        return StoreError(
            f"database {mask_url(self.url)}: {reason}; check that the server is running, "
            "the URL is right and the file or database is writable"
        )
