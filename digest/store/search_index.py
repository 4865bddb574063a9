"""The full-text index of the articles, in the database's own engine: SQLite FTS5 or PostgreSQL.

Each live (not withdrawn) article has one document of three fields: its
headline (kicker, title, subtitle), its byline (the names credited) and its
body, each stored as the words ``digest.store.segment`` cuts it into, joined by
spaces, so both engines match whole Chinese words.  The original text stays
in ``articles`` for display.

Schema objects (raw DDL: neither an FTS5 table nor a GIN index is a plain
SQLAlchemy table):

- SQLite: ``search_docs(id INTEGER PRIMARY KEY, uid TEXT UNIQUE)`` maps an
  article to the rowid of ``search_text``, an FTS5 table (headline, byline,
  body; ``unicode61``), and of ``search_heads``, one of the headlines alone.
  The rowid of ``articles`` is not used: VACUUM may renumber it.
- PostgreSQL: ``search_docs(uid TEXT PRIMARY KEY, headline tsvector, doc
  tsvector)`` with a GIN index on ``doc`` (the three fields, weighted A, B, D).
  The ``simple`` configuration only splits at spaces and lower-cases: Debian's
  PostgreSQL 15 ships no Chinese text search configuration (zhparser and
  pg_jieba are not packaged), and pg_trgm cannot match a two-character word
  (trigrams need three), so the words are cut in Python, as for SQLite.

The store keeps the index current in the transaction of every write to
``articles`` (``refresh``), and ``fill`` fills it for a database that has
articles but not (all) their documents: one made before search existed, or
restored from a copy without it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.segment import index_text
from digest.types import Article

log = logging.getLogger(__name__)

_BATCH = 500
# Matches up to this many are ordered by relevance; more, newest first (``search``).
RANKED = 10_000
# Headline hits rank first anyway (``search``); among the rest a word in the byline weighs more
# than one in the body.  bm25 takes a weight per FTS5 column; ts_rank per label {D, C, B, A}.
_SQLITE_WEIGHTS = "10.0, 4.0, 1.0"
_PG_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"

# One page of a table's matches, newest indexed first (``_search_sqlite``).
_NEWEST = "SELECT rowid FROM {table} WHERE {table} MATCH :q ORDER BY rowid DESC LIMIT :limit OFFSET :offset"

LIVE = sa.text(
    "SELECT uid, kicker, title, subtitle, credits, body FROM articles "
    "WHERE retracted IS NULL AND uid IN :uids ORDER BY issue_date, position, uid"
).bindparams(sa.bindparam("uids", expanding=True))


@dataclass(frozen=True)
class Document:
    """One article as the index stores it: each field already cut into space-separated words."""

    uid: str
    headline: str
    byline: str
    body: str


@dataclass(frozen=True)
class Hit:
    """One result: the article, and whether every query word is in its headline."""

    uid: str
    in_headline: bool


def _fields(headline: Sequence[str | None], names: Sequence[str], body: str) -> tuple[str, str, str]:
    """The texts an index document cuts into words: headline (kicker, title, subtitle), byline, body."""
    return " ".join(part for part in headline if part), " ".join(names), body


def article_fields(article: Article) -> tuple[str, str, str]:
    """A parsed article's index texts (headline, byline, body), as its stored row gives them."""
    names = [credit.name for credit in article.credits]
    return _fields((article.kicker, article.title, article.subtitle), names, article.body)


def document(row: Mapping[Any, Any], cut: Callable[[str], str] = index_text) -> Document:
    """The index document of an ``articles`` row (uid, kicker, title, subtitle, credits, body)."""
    names = [name for name, _role in json.loads(row["credits"])]
    headline, byline, body = _fields((row["kicker"], row["title"], row["subtitle"]), names, row["body"])
    return Document(row["uid"], cut(headline), cut(byline), cut(body))


def _cutter(cut: Mapping[str, str] | None) -> Callable[[str], str]:
    """``index_text``, taking texts already cut (by a worker process, ``article_fields``) from ``cut``."""
    if not cut:
        return index_text
    return lambda text: found if (found := cut.get(text)) is not None else index_text(text)


# The index as this version makes it in a new database (``versioning`` creates one at once).
# Migration 0003 keeps its own copy, as it stood then; tests/test_migrations.py holds the two alike.
SQLITE_DDL = (
    "CREATE TABLE IF NOT EXISTS search_docs (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5("
    "headline, byline, body, tokenize = 'unicode61 remove_diacritics 2')",
    # The headlines again, alone: "every word in the headline" then costs what the headline hits
    # cost, where a column filter on search_text reads every match of the words (13 ms at 100k).
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_heads USING fts5("
    "headline, tokenize = 'unicode61 remove_diacritics 2')",
)
POSTGRESQL_DDL = (
    "CREATE TABLE IF NOT EXISTS search_docs "
    "(uid TEXT PRIMARY KEY, id BIGSERIAL NOT NULL, headline tsvector NOT NULL, doc tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS search_docs_doc ON search_docs USING gin (doc)",
)


def create(conn: Connection) -> None:
    """Make the index's tables and indexes, empty, in a new database."""
    for statement in POSTGRESQL_DDL if _postgres(conn) else SQLITE_DDL:
        conn.exec_driver_sql(statement)


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def fill(conn: Connection, *, anew: bool = False) -> int:
    """Fill the index (made by migration 0003) when it lacks documents; returns how many were
    (re)written.  Called by ``Store.migrate`` after the schema is current, in one transaction.
    ``anew`` rewrites it whatever it holds: every article was replaced (``digest.store.transfer``)."""
    if _postgres(conn):
        # Two instances starting at once on an older database: one counts and fills, the other waits
        # and then finds it full (rather than both filling and colliding on uids).
        conn.exec_driver_sql("LOCK TABLE search_docs IN SHARE ROW EXCLUSIVE MODE")
    live = conn.exec_driver_sql("SELECT count(*) FROM articles WHERE retracted IS NULL").scalar_one()
    counts = ["search_docs"] if _postgres(conn) else ["search_docs", "search_text", "search_heads"]
    if not anew and all(
        conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one() == live for name in counts
    ):
        return 0
    started = time.monotonic()
    conn.exec_driver_sql("DELETE FROM search_docs")
    if not _postgres(conn):
        conn.exec_driver_sql("DELETE FROM search_text")
        conn.exec_driver_sql("DELETE FROM search_heads")
    # In paper order, oldest first: the ids give "newest first" its order (``search``).
    in_order = "SELECT uid FROM articles WHERE retracted IS NULL ORDER BY issue_date, position, uid"
    uids = list(conn.exec_driver_sql(in_order).scalars())
    for at in range(0, len(uids), _BATCH):
        refresh(conn, uids[at : at + _BATCH])
    log.info("search index filled: articles=%d ms=%d", len(uids), round((time.monotonic() - started) * 1000))
    return len(uids)


def refresh(conn: Connection, uids: Sequence[str], cut: Mapping[str, str] | None = None) -> None:
    """Rewrite the documents of ``uids`` from ``articles``: a live article gets its current text,
    a withdrawn one leaves the index.  ``cut``: texts already cut into index words, by text."""
    words = _cutter(cut)
    for at in range(0, len(uids), _BATCH):
        batch = list(dict.fromkeys(uids[at : at + _BATCH]))
        _remove(conn, batch)
        _write(conn, [document(row._mapping, words) for row in conn.execute(LIVE, {"uids": batch})])


def insert(conn: Connection, rows: Sequence[Mapping[str, Any]], cut: Mapping[str, str] | None = None) -> None:
    """Add the documents of articles inserted in this transaction, from the values just written
    (``articles`` columns): none can have a document yet, and nothing needs reading back."""
    words = _cutter(cut)
    for at in range(0, len(rows), _BATCH):
        # In the order ``refresh`` writes a batch (LIVE's), which gives the ids their order.
        batch = sorted(
            rows[at : at + _BATCH], key=lambda row: (row["issue_date"], row["position"], row["uid"])
        )
        _write(conn, [document(row, words) for row in batch])


def _write(conn: Connection, docs: list[Document]) -> None:
    if docs:
        (_write_postgres if _postgres(conn) else _write_sqlite)(conn, docs)


def _remove(conn: Connection, uids: list[str]) -> None:
    chosen: sa.BindParameter[list[str]] = sa.bindparam("uids", expanding=True)
    if not _postgres(conn):
        for table in ("search_text", "search_heads"):
            conn.execute(
                sa.text(
                    f"DELETE FROM {table} WHERE rowid IN (SELECT id FROM search_docs WHERE uid IN :uids)"
                ).bindparams(chosen),
                {"uids": uids},
            )
    conn.execute(sa.text("DELETE FROM search_docs WHERE uid IN :uids").bindparams(chosen), {"uids": uids})


def _write_sqlite(conn: Connection, docs: list[Document]) -> None:
    # The ids SQLite would pick (the largest plus one, in order), chosen here rather than read back:
    # every caller has written in this transaction already, so no other writer can take them.
    first = conn.exec_driver_sql("SELECT coalesce(max(id), 0) + 1 FROM search_docs").scalar_one()
    numbered = list(enumerate(docs, start=first))
    # Plain tuples to the driver: SQLAlchemy's handling of each row's parameters cost about what
    # FTS5's indexing did.
    conn.exec_driver_sql("INSERT INTO search_docs (id, uid) VALUES (?, ?)", [(i, d.uid) for i, d in numbered])
    conn.exec_driver_sql(
        "INSERT INTO search_text (rowid, headline, byline, body) VALUES (?, ?, ?, ?)",
        [(i, d.headline, d.byline, d.body) for i, d in numbered],
    )
    conn.exec_driver_sql(
        "INSERT INTO search_heads (rowid, headline) VALUES (?, ?)", [(i, d.headline) for i, d in numbered]
    )


def _write_postgres(conn: Connection, docs: list[Document]) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO search_docs (uid, headline, doc) VALUES (:uid, to_tsvector('simple', :h), "
            "setweight(to_tsvector('simple', :h), 'A') || setweight(to_tsvector('simple', :b), 'B') "
            "|| to_tsvector('simple', :t))"
        ),
        [{"uid": d.uid, "h": d.headline, "b": d.byline, "t": d.body} for d in docs],
    )


def search(conn: Connection, words: Sequence[str], limit: int, offset: int) -> tuple[int, list[Hit]]:
    """The documents holding every one of ``words``: how many (counted up to ``RANKED + 1``: more
    is "more than ``RANKED``"), and ``limit`` of them from ``offset``, those with every word in the
    headline first.

    Up to ``RANKED`` matches are ordered by relevance (bm25, ts_rank); beyond,
    a word is in so many articles that relevance says little and scoring them
    all costs more than a reader waits, so the newest indexed come first.
    """
    if not words:
        return 0, []
    if _postgres(conn):
        return _search_postgres(conn, " ".join(words), limit, offset)
    # Each word quoted: an FTS5 string, never syntax (AND, NOT, NEAR, column filters, *).
    return _search_sqlite(
        conn, " ".join('"' + word.replace('"', '""') + '"' for word in words), limit, offset
    )


def _search_sqlite(conn: Connection, match: str, limit: int, offset: int) -> tuple[int, list[Hit]]:
    capped = sa.text(
        "SELECT count(*) FROM (SELECT rowid FROM search_text WHERE search_text MATCH :q LIMIT :cap)"
    )
    total = int(conn.execute(capped, {"q": match, "cap": RANKED + 1}).scalar_one())
    if total <= RANKED:
        rows = conn.execute(
            sa.text(
                "SELECT d.uid, search_text.rowid IN "
                "(SELECT rowid FROM search_heads WHERE search_heads MATCH :q) AS hit "
                "FROM search_text JOIN search_docs AS d ON d.id = search_text.rowid "
                f"WHERE search_text MATCH :q ORDER BY hit DESC, bm25(search_text, {_SQLITE_WEIGHTS}), d.uid "
                "LIMIT :limit OFFSET :offset"
            ),
            {"q": match, "limit": limit, "offset": offset},
        )
        return total, [Hit(uid, bool(hit)) for uid, hit in rows]
    # Newest first is rowid order, which FTS5 walks without sorting: the headline hits, then the rest.
    heads = int(
        conn.execute(
            sa.text("SELECT count(*) FROM search_heads WHERE search_heads MATCH :q"), {"q": match}
        ).scalar_one()
    )
    found: list[tuple[int, bool]] = []
    if offset < heads:
        page = {"q": match, "limit": limit, "offset": offset}
        found += [
            (rowid, True) for (rowid,) in conn.execute(sa.text(_NEWEST.format(table="search_heads")), page)
        ]
    if len(found) < limit:
        rest = {
            "q": f"({match}) NOT {{headline}} : ({match})",
            "limit": limit - len(found),
            "offset": max(0, offset - heads),
        }
        found += [
            (rowid, False) for (rowid,) in conn.execute(sa.text(_NEWEST.format(table="search_text")), rest)
        ]
    uids: dict[int, str] = {
        number: uid
        for number, uid in conn.execute(
            sa.text("SELECT id, uid FROM search_docs WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": [rowid for rowid, _ in found] or [0]},
        )
    }
    return total, [Hit(uids[rowid], hit) for rowid, hit in found if rowid in uids]


def _search_postgres(conn: Connection, words: str, limit: int, offset: int) -> tuple[int, list[Hit]]:
    query = "plainto_tsquery('simple', :q)"
    capped = f"SELECT count(*) FROM (SELECT 1 FROM search_docs WHERE doc @@ {query} LIMIT :cap) AS found"
    total = int(conn.execute(sa.text(capped), {"q": words, "cap": RANKED + 1}).scalar_one())
    then = f"ts_rank('{_PG_WEIGHTS}'::float4[], doc, q) DESC" if total <= RANKED else "id DESC"
    rows = conn.execute(
        sa.text(
            f"SELECT uid, headline @@ q AS hit FROM search_docs, {query} AS q "
            f"WHERE doc @@ q ORDER BY hit DESC, {then}, uid LIMIT :limit OFFSET :offset"
        ),
        {"q": words, "limit": limit, "offset": offset},
    )
    return total, [Hit(uid, bool(hit)) for uid, hit in rows]
