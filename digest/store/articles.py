"""Page files and their articles: what ingest records and reads back (withdrawals: ``retraction``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from digest.store import search_index
from digest.store.base import IN_BATCH, Repository, entry_from_row
from digest.store.records import SourceRecord, UpsertReport
from digest.store.schema import ARTICLES_SEQ, UTCDateTime, articles, counters, naive_utc, sources
from digest.types import PAGE_SPAN, Article, Entry, Retraction, Section

# ``json.dumps`` with options makes a new encoder on every call, which cost as much as encoding these
# short lists; an ingest encodes five values an article.  The same options, so the same text.
_json = json.JSONEncoder(ensure_ascii=False).encode
_sorted_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def content_hash(article: Article, section: Section) -> str:
    """A fingerprint of everything a reader sees of an article; ``updated`` moves when it changes."""
    return _columns_hash(_article_columns(article), section)


def _columns_hash(columns: dict[str, Any], section: Section) -> str:
    fields = {**columns, "section_name": section.name}
    if fields.get("captions") is None:
        # An article without captions keeps the hash it had before the column existed, so an
        # upgrade moves no ``updated``.
        fields.pop("captions", None)
    return hashlib.sha256(_sorted_json(fields).encode()).hexdigest()


def _article_columns(article: Article) -> dict[str, Any]:
    return {
        "title": article.title,
        "kicker": article.kicker,
        "subtitle": article.subtitle,
        "credits": _json([[c.name, c.role] for c in article.credits]),
        "date": article.date,
        "place": article.place,
        "kind": article.kind.value,
        "body": article.body,
        "notes": _json(list(article.notes)),
        "jumps": _json(list(article.jumps)),
        "captions": (
            _json([[c.text, c.credit, c.at] for c in article.captions]) if article.captions else None
        ),
    }


def _update_rows(conn: sa.Connection, updates: dict[str, dict[str, Any]]) -> None:
    """Write ``updates`` (columns by uid): one executemany per set of columns written.

    A statement per row cost SQLAlchemy a statement's construction and cache
    key each time: a re-read of every page that changed every article spent
    more than half its time there.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for uid, values in updates.items():
        row = {f"b_{name}": value for name, value in values.items()}
        groups.setdefault(tuple(sorted(values)), []).append({"b_uid": uid, **row})
    for names, rows in groups.items():
        statement = (
            sa.update(articles)
            .where(articles.c.uid == sa.bindparam("b_uid"))
            .values({name: sa.bindparam(f"b_{name}") for name in names})
        )
        conn.execute(statement, rows)


def _sqlite_instant(value: datetime | None) -> str | None:
    """What SQLAlchemy writes for a ``UTCDateTime`` on SQLite: naive UTC, microseconds always."""
    naive = naive_utc(value)
    return None if naive is None else naive.isoformat(" ", "microseconds")


def _sqlite_day(value: date | None) -> str | None:
    """What SQLAlchemy writes for a ``Date`` on SQLite."""
    return None if value is None else value.isoformat()


def _sqlite_writer(column: sa.Column[Any]) -> Callable[[Any], Any]:
    """How a value of ``column`` goes to the SQLite driver: the strings SQLAlchemy's bind
    processors make for dates and instants; text and numbers as they are."""
    if isinstance(column.type, UTCDateTime):
        return _sqlite_instant
    if isinstance(column.type, sa.Date):
        return _sqlite_day
    return lambda value: value


_SQLITE_INSERT = (
    f"INSERT INTO articles ({', '.join(column.name for column in articles.c)}) "
    f"VALUES ({', '.join('?' for _ in articles.c)})"
)
_SQLITE_WRITERS = [(column.name, _sqlite_writer(column)) for column in articles.c]
# A column given a default would get NULL from the tuple insert: such a table goes through SQLAlchemy.
_SQLITE_TUPLES = all(column.default is None and column.server_default is None for column in articles.c)


def insert_rows(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (``articles`` columns by name; one left out is NULL) in their order.

    On SQLite each row goes to the driver as a tuple of the values SQLAlchemy would bind: its
    handling of each row's parameters cost a full build's ingest more than SQLite's own insert."""
    if not rows:
        return
    if conn.dialect.name != "sqlite" or not _SQLITE_TUPLES:
        conn.execute(sa.insert(articles), list(rows))
        return
    writers = _SQLITE_WRITERS
    conn.exec_driver_sql(
        _SQLITE_INSERT, [tuple(write(row.get(name)) for name, write in writers) for row in rows]
    )


class ArticleRepository(Repository):
    """Page files seen and the articles read from them."""

    def source(self, path: str) -> SourceRecord | None:
        """What was recorded for a page file, if anything."""
        return self.sources([path]).get(path)

    def sources(self, paths: Sequence[str]) -> dict[str, SourceRecord]:
        """``source`` for many files in one transaction: the records found, by path."""
        found: dict[str, SourceRecord] = {}
        with self._begin() as conn:
            for at in range(0, len(paths), IN_BATCH):
                chosen = sa.select(sources).where(sources.c.path.in_(paths[at : at + IN_BATCH]))
                for row in conn.execute(chosen):
                    found[row.path] = SourceRecord(**row._asdict())
        return found

    def sources_alike(self, hashes: Sequence[str]) -> dict[str, list[SourceRecord]]:
        """The files read whose bytes hash to one of ``hashes`` (``sources.content_hash``), by hash."""
        found: dict[str, list[SourceRecord]] = {}
        with self._begin() as conn:
            for at in range(0, len(hashes), IN_BATCH):
                alike = sources.c.content_hash.in_(hashes[at : at + IN_BATCH])
                for row in conn.execute(sa.select(sources).where(alike, sources.c.last_error.is_(None))):
                    found.setdefault(row.content_hash, []).append(SourceRecord(**row._asdict()))
        return found

    def page_sources(self, day: date, page: int) -> list[SourceRecord]:
        """The files read fine whose page is ``page`` (0: unknown number) of the issue of ``day``."""
        on_page = (sources.c.issue_date == day, sources.c.page == page, sources.c.last_error.is_(None))
        with self._begin() as conn:
            return [SourceRecord(**row._asdict()) for row in conn.execute(sa.select(sources).where(*on_page))]

    def dated_sources(self, days: Sequence[date], on: Sequence[tuple[int, int]]) -> list[SourceRecord]:
        """The files read fine that hold a page of an issue of ``days``, or of a (month, day) of
        ``on`` in any year."""
        issue = sources.c.issue_date
        month, day = sa.extract("month", issue), sa.extract("day", issue)
        dated = sa.or_(issue.in_(sorted(set(days))), *(sa.and_(month == m, day == d) for m, d in on))
        query = sa.select(sources).where(sources.c.last_error.is_(None), dated)
        with self._begin() as conn:
            return [SourceRecord(**row._asdict()) for row in conn.execute(query)]

    def record_source(self, record: SourceRecord) -> None:
        """Remember a page file's hash and outcome (``last_error`` None when it was read fine)."""
        self.record_sources([record])

    def record_sources(self, records: Sequence[SourceRecord]) -> None:
        """``record_source`` for many files in one transaction."""
        paths = [record.path for record in records]
        with self._begin() as conn:
            for at in range(0, len(paths), IN_BATCH):
                conn.execute(sa.delete(sources).where(sources.c.path.in_(paths[at : at + IN_BATCH])))
            if records:
                conn.execute(sa.insert(sources), [record.__dict__ for record in records])

    def source_stamps(self, parser_version: str, encoding: str) -> dict[str, str]:
        """The stamp of every file ``parser_version`` read, by path, but those refused for their
        encoding under another setting than ``encoding``: one query, for cheap rescans."""
        refused = sources.c.refused_encoding
        query = sa.select(sources.c.path, sources.c.stamp).where(
            sources.c.stamp.is_not(None),
            sources.c.parser_version == parser_version,
            sa.or_(refused.is_(None), refused == encoding),
        )
        with self._begin() as conn:
            return {path: stamp for path, stamp in conn.execute(query)}

    def older_parser_versions(self, parser_version: str) -> dict[str, str]:
        """The stored page files another parser version than ``parser_version`` read, each with
        that version's name (``"none"`` for rows from before versions were kept): the pages an
        upgrade reads again once they are found in the folder.  A file that could not be read
        (``last_error``) was read by no version, and is left out."""
        version = sa.func.coalesce(sources.c.parser_version, "none")
        query = sa.select(sources.c.path, version).where(
            sa.or_(sources.c.parser_version.is_(None), sources.c.parser_version != parser_version),
            sources.c.last_error.is_(None),
        )
        with self._begin() as conn:
            return {str(path): str(name) for path, name in conn.execute(query)}

    def set_source_stamps(self, stamps: dict[str, str | None]) -> None:
        """Remember the stat of files whose bytes were found unchanged (touched, or copied over)."""
        if not stamps:
            return
        where = sources.c.path == sa.bindparam("b_path")
        statement = sa.update(sources).where(where).values(stamp=sa.bindparam("b_stamp"))
        with self._begin() as conn:
            conn.execute(statement, [{"b_path": path, "b_stamp": stamp} for path, stamp in stamps.items()])

    def upsert_entries(
        self, entries: Sequence[Entry], now: datetime | None = None, cut: Mapping[str, str] | None = None
    ) -> UpsertReport:
        """Insert new entries; rewrite changed ones keeping ``first_seen``; leave unchanged ones alone.

        A new entry is stored with its own ``updated`` (ingest gives the first
        version ``updated == published``).  A changed one (its content hash
        differs) gets ``updated`` = ``now`` (the time the change was detected,
        never before ``published``; without ``now``, the entry's own), so only a
        detected change moves it.  An entry whose content is the same but whose
        place moved (issue date, page position, date evidence) or that was
        withdrawn automatically and is back is rewritten without moving
        ``updated``.  A retraction by hand survives every re-read.  One query
        finds what is stored and one multi-row insert adds the new entries, so
        a large ingest costs round trips per batch, not per article.  Rows added or
        changed take the next step of the change sequence (``unpublished``).  ``cut``: texts
        already cut into search index words, by text (``search_index.refresh``).
        """
        new = changed = unchanged = 0
        inserts: dict[str, dict[str, Any]] = {}
        # Rows updated in place, by uid (their search documents follow): written together at the end.
        updates: dict[str, dict[str, Any]] = {}
        if not entries:
            return UpsertReport()
        with self._begin() as conn:
            # First, so the row lock on the counter orders concurrent writers before they read.
            conn.execute(sa.update(counters).where(ARTICLES_SEQ).values(value=counters.c.value + 1))
            seq = conn.execute(sa.select(counters.c.value).where(ARTICLES_SEQ)).scalar_one()
            stored: dict[str, tuple[Any, ...]] = {}
            uids = list(dict.fromkeys(entry.uid for entry in entries))
            for at in range(0, len(uids), IN_BATCH):
                query = sa.select(
                    articles.c.uid,
                    articles.c.content_hash,
                    articles.c.issue_date,
                    articles.c.position,
                    articles.c.dated_by,
                    articles.c.retracted,
                    articles.c.source,
                ).where(articles.c.uid.in_(uids[at : at + IN_BATCH]))
                stored.update((row.uid, tuple(row)[1:]) for row in conn.execute(query))
            for entry in entries:
                shown = _article_columns(entry.article)
                digest = _columns_hash(shown, entry.section)
                columns = {
                    **shown,
                    "section_name": entry.section.name,
                    "section_slug": entry.section.slug,
                    "position": entry.position,
                    "source": entry.source,
                    "content_hash": digest,
                    "seq": seq,
                    "issue_date": entry.issue_date,
                    "published": entry.published,
                    "dated_by": entry.dated_by.value,
                }
                known = stored.get(entry.uid)
                if known is None:
                    inserts[entry.uid] = {
                        "uid": entry.uid,
                        "tag": entry.tag,
                        "feed_seq": seq,
                        "updated": entry.updated,
                        "first_seen": entry.first_seen,
                        "retracted": None,
                        "retracted_at": None,
                        **columns,
                    }
                    new += 1
                    place = (entry.issue_date, entry.position, entry.dated_by.value)
                    stored[entry.uid] = (digest, *place, None, entry.source)
                    continue
                old_hash, old_day, old_position, old_dated, retracted, old_source = known
                # An automatic retraction ends when the article is read again; one by hand does not.
                back = retracted in (Retraction.FILE_GONE, Retraction.DROPPED)
                kept = (
                    {"retracted": None, "retracted_at": None, "successor": None, "feed_seq": seq}
                    if back
                    else {}
                )
                place = (entry.issue_date, entry.position, entry.dated_by.value)
                if old_hash != digest:
                    updated = max(now, entry.published) if now is not None else entry.updated
                    # A new version comes again at the head of the feeds (RFC 5005 §4.1... the
                    # subscription document), while the archive page that held it stays as it was.
                    values = {"updated": updated, "feed_seq": seq, **columns, **kept}
                    changed += 1
                elif back or place != (old_day, old_position, old_dated):
                    values = {**columns, **kept}
                    unchanged += 1
                else:
                    if entry.source != old_source:  # a renamed file: nothing a reader sees moved
                        updates.setdefault(entry.uid, {})["source"] = entry.source
                    unchanged += 1
                    continue
                if entry.uid in inserts:  # met twice in this batch: the later text wins, as a first version
                    firsts = ("updated", "feed_seq")
                    inserts[entry.uid] |= {k: v for k, v in values.items() if k not in firsts}
                else:
                    # Met again later in the batch, the later values win, as they would written in turn.
                    updates[entry.uid] = {**updates.get(entry.uid, {}), **values}
                stored[entry.uid] = (digest, *place, None if back else retracted, entry.source)
            _update_rows(conn, updates)
            insert_rows(conn, list(inserts.values()))
            rewritten = [uid for uid, values in updates.items() if values.keys() != {"source"}]
            search_index.refresh(conn, rewritten, cut)
            search_index.insert(conn, list(inserts.values()), cut)
        return UpsertReport(new=new, changed=changed, unchanged=unchanged)

    def page_entries(self, pages: Sequence[tuple[date, int, str]]) -> list[list[Entry]]:
        """For each (issue date, page number, file) of re-read pages, the articles the page held
        before, for ``identity.match``: those of that page of that issue (0: the issue's pages of
        unknown number), and those last read from that file.

        Two indexed reads for the whole batch (the issues' articles, the files' articles), not
        two per page.
        """
        days = sorted({day for day, _, _ in pages})
        paths = sorted({source for _, _, source in pages})
        by_day: dict[date, list[Entry]] = {}
        by_source: dict[str, list[Entry]] = {}
        with self._begin() as conn:
            for at in range(0, len(days), IN_BATCH):
                query = sa.select(articles).where(articles.c.issue_date.in_(days[at : at + IN_BATCH]))
                for row in conn.execute(query):
                    by_day.setdefault(row.issue_date, []).append(entry_from_row(row))
            for at in range(0, len(paths), IN_BATCH):
                query = sa.select(articles).where(articles.c.source.in_(paths[at : at + IN_BATCH]))
                for row in conn.execute(query):
                    by_source.setdefault(row.source, []).append(entry_from_row(row))
        found = []
        for day, page, source in pages:
            mine = {e.uid: e for e in by_day.get(day, []) if e.position // PAGE_SPAN == page}
            mine |= {e.uid: e for e in by_source.get(source, [])}
            found.append(sorted(mine.values(), key=lambda e: (e.position, e.uid)))
        return found

    def taken_uids(self, uids: Sequence[str]) -> set[str]:
        """Which of ``uids`` some stored article already has."""
        found: set[str] = set()
        with self._begin() as conn:
            for at in range(0, len(uids), IN_BATCH):
                query = sa.select(articles.c.uid).where(articles.c.uid.in_(uids[at : at + IN_BATCH]))
                found.update(conn.execute(query).scalars())
        return found

    def find_entry(self, key: str) -> Entry | None:
        """The article whose uid or ``tag:`` id is ``key``."""
        query = sa.select(articles).where(sa.or_(articles.c.uid == key, articles.c.tag == key))
        with self._begin() as conn:
            row = conn.execute(query).first()
        return entry_from_row(row) if row else None

    def search(self, words: Sequence[str], limit: int, offset: int) -> tuple[int, list[tuple[Entry, bool]]]:
        """Live articles holding every one of ``words`` (``digest.store.segment``): how many (counted up to
        ``search_index.RANKED + 1``), and ``limit`` of them from ``offset``, each with whether the
        words are all in its headline, those first."""
        with self._begin() as conn:
            total, hits = search_index.search(conn, words, limit, offset)
            uids = [hit.uid for hit in hits]
            rows = {row.uid: row for row in conn.execute(sa.select(articles).where(articles.c.uid.in_(uids)))}
        return total, [(entry_from_row(rows[hit.uid]), hit.in_headline) for hit in hits if hit.uid in rows]

    def source_uids(self, paths: Sequence[str]) -> dict[str, list[str]]:
        """The live (not withdrawn) articles last read from each of ``paths``."""
        found: dict[str, list[str]] = {}
        with self._begin() as conn:
            for at in range(0, len(paths), IN_BATCH):
                query = sa.select(articles.c.source, articles.c.uid).where(
                    articles.c.source.in_(paths[at : at + IN_BATCH]), articles.c.retracted.is_(None)
                )
                for path, uid in conn.execute(query):
                    found.setdefault(path, []).append(uid)
        return found

    def source_paths(self) -> dict[str, datetime | None]:
        """Every page file recorded, by path, with the time a scan first missed it (None: it was
        there at the last scan): one query, which a rescan of a big folder runs every time."""
        query = sa.select(sources.c.path, sources.c.missing_since).order_by(sources.c.path)
        with self._begin() as conn:
            return {path: missing for path, missing in conn.execute(query)}

    def mark_missing(self, paths: Sequence[str], since: datetime | None) -> None:
        """Note when a scan first missed the files ``paths`` (None: they are back)."""
        if not paths:
            return
        with self._begin() as conn:
            # Only rows that change: most scans find every file where it was.
            unset = (
                sources.c.missing_since.is_(None)
                if since is not None
                else sources.c.missing_since.is_not(None)
            )
            for at in range(0, len(paths), IN_BATCH):
                chosen = sources.c.path.in_(paths[at : at + IN_BATCH])
                conn.execute(sa.update(sources).where(chosen, unset).values(missing_since=since))

    def forget_sources(self, paths: Sequence[str]) -> None:
        """Drop the records of page files that are gone for good."""
        with self._begin() as conn:
            for at in range(0, len(paths), IN_BATCH):
                conn.execute(sa.delete(sources).where(sources.c.path.in_(paths[at : at + IN_BATCH])))
