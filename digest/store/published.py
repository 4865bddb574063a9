"""What publishing reads and records: feeds in their order, frozen archive pages, and which
articles and digests are already in the output folder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any

import sqlalchemy as sa

from digest.store.articles import content_hash
from digest.store.base import (
    ENTRY_ORDER,
    LIVE,
    Repository,
    entry_from_row,
    entry_from_values,
    feed_key_of,
    in_feed,
    sql_feed_key,
)
from digest.store.records import DigestRecord
from digest.store.schema import (
    ARCHIVE_LAST_KEY,
    ARTICLES_SEQ,
    FEED_ORDER,
    articles,
    counters,
    digests,
    feed_archives,
    publish_state,
    published_digests,
    published_entries,
)
from digest.types import Entry, FeedKey, Head, Listed, Section, feed_key

# Built once: a full build asks it for every issue, and building the statement each time was a third
# of the reading (0.072 s against 0.047 s for 105 issues).  ``body`` only for an untitled article,
# whose headline falls back to its first sentence.
_ISSUE_HEADS = (
    sa.select(
        articles.c.uid,
        articles.c.position,
        articles.c.section_name,
        articles.c.section_slug,
        articles.c.title,
        articles.c.kicker,
        articles.c.subtitle,
        sa.case(
            (sa.or_(articles.c.title.is_(None), articles.c.title == ""), articles.c.body), else_=""
        ).label("body"),
    )
    .where(articles.c.issue_date == sa.bindparam("b_day", type_=articles.c.issue_date.type), LIVE)
    .order_by(articles.c.position, articles.c.uid)
)


class PublishRepository(Repository):
    """Feed streams, archives and the published marks."""

    def entries(self, limit: int | None = None) -> list[Entry]:
        """Every entry (or the ``limit`` newest issues' worth), newest issue first, in paper order."""
        query = sa.select(articles).order_by(*ENTRY_ORDER)
        if limit is not None:
            query = query.limit(limit)
        with self._begin() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def entries_first_seen(self, since: datetime, until: datetime) -> list[Entry]:
        """Entries first seen in ``[since, until)``: what a digest window holds."""
        query = (
            sa.select(articles)
            .where(articles.c.first_seen >= since, articles.c.first_seen < until, LIVE)
            .order_by(*ENTRY_ORDER)
        )
        with self._begin() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def feed_sections(self) -> list[Section]:
        """Each section once, in order of its first entry in feed order (stable between publishes):
        the sections the navigation lists."""
        # Withdrawn articles count: a section whose every article went keeps its feed, of tombstones.
        slugs = sa.select(articles.c.section_slug).distinct()
        with self._begin() as conn:
            firsts = []
            for slug in conn.execute(slugs).scalars():
                # One indexed probe per section: a handful of sections, however large the archive.
                row = conn.execute(
                    sa.select(articles.c.section_name, *FEED_ORDER)
                    .where(articles.c.section_slug == slug)
                    .order_by(*FEED_ORDER)
                    .limit(1)
                ).one()
                firsts.append((tuple(row)[1:], Section(row.section_name, slug)))
        return [section for _, section in sorted(firsts)]

    def feed_count(self, section: str | None = None) -> int:
        """How many entries the feed of ``section`` (None: every article) holds."""
        query = sa.select(sa.func.count()).select_from(articles).where(*in_feed(section))
        with self._begin() as conn:
            return int(conn.execute(query).scalar_one())

    def feed_stream(
        self, section: str | None = None, batch: int = 500, after: FeedKey | None = None
    ) -> Iterator[Entry]:
        """Every entry of a feed in feed order (after the feed key ``after``, when given), read
        ``batch`` rows at a time (never the whole table)."""
        return (entry_from_row(row) for row in self._feed_rows(section, batch, after))

    def feed_listing(self, batch: int = 500) -> Iterator[Listed]:
        """Every entry of the feed of every article, in feed order, as ``Listed``: read like
        ``feed_stream``, each row made an ``Entry`` only by the ``load`` of its listing."""
        for row in self._feed_rows(None, batch, None):
            yield Listed(feed_key_of(row), row.section_slug, partial(entry_from_values, tuple(row)))

    def _feed_rows(self, section: str | None, batch: int, after: FeedKey | None) -> Iterator[sa.Row[Any]]:
        query = sa.select(articles).where(*in_feed(section)).order_by(*FEED_ORDER).limit(batch)
        while True:
            page = query if after is None else query.where(sa.tuple_(*FEED_ORDER) > sql_feed_key(after))
            with self._begin() as conn:
                rows = conn.execute(page).all()
            yield from rows
            if len(rows) < batch:
                return
            after = feed_key_of(rows[-1])

    def feed_live(self, section: str | None, after: FeedKey | None) -> tuple[int, int]:
        """How many entries of a feed come after the feed key ``after`` (the last full archive
        page), and how many of those come before the first entry of the feed's newest issue."""
        beyond = () if after is None else (sa.tuple_(*FEED_ORDER) > sql_feed_key(after),)
        where = (*in_feed(section), *beyond)
        count = sa.select(sa.func.count()).select_from(articles)
        with self._begin() as conn:
            total = int(conn.execute(count.where(*where)).scalar_one())
            newest = conn.execute(sa.select(sa.func.max(articles.c.issue_date)).where(*where)).scalar_one()
            if newest is None:
                return total, total
            in_newest = (*where, articles.c.issue_date == newest)
            first = conn.execute(
                sa.select(*FEED_ORDER).where(*in_newest).order_by(*FEED_ORDER).limit(1)
            ).one()
            older = sa.tuple_(*FEED_ORDER) < sql_feed_key(tuple(first))
            before = conn.execute(count.where(*where, older)).scalar_one()
        return total, int(before)

    def feed_archives(self, name: str) -> list[FeedKey]:
        """The last feed key of each full archive page of feed ``name``, page 1 first."""
        query = (
            sa.select(*ARCHIVE_LAST_KEY).where(feed_archives.c.feed == name).order_by(feed_archives.c.number)
        )
        with self._begin() as conn:
            return [feed_key(int(s), day, int(p), uid) for s, day, p, uid in conn.execute(query)]

    def add_feed_archives(self, name: str, pages: Sequence[tuple[int, FeedKey]]) -> None:
        """Record archive pages of feed ``name`` that became full: (number, last feed key) each."""
        if not pages:
            return
        rows = [
            {
                "feed": name,
                "number": number,
                **{c.name: v for c, v in zip(ARCHIVE_LAST_KEY, key, strict=True)},
            }
            for number, key in pages
        ]
        with self._begin() as conn:
            conn.execute(
                sa.delete(feed_archives).where(
                    feed_archives.c.feed == name, feed_archives.c.number.in_([n for n, _ in pages])
                )
            )
            conn.execute(sa.insert(feed_archives), rows)

    def latest_issue(self) -> list[Entry]:
        """The entries of the newest issue date, in paper order."""
        newest = sa.select(sa.func.max(articles.c.issue_date)).where(LIVE).scalar_subquery()
        query = sa.select(articles).where(articles.c.issue_date == newest, LIVE).order_by(*ENTRY_ORDER)
        with self._begin() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def issues(self) -> list[tuple[date, int]]:
        """Every issue date with live articles and how many it holds, oldest first."""
        query = (
            sa.select(articles.c.issue_date, sa.func.count())
            .where(LIVE)
            .group_by(articles.c.issue_date)
            .order_by(articles.c.issue_date)
        )
        with self._begin() as conn:
            return [(day, int(count)) for day, count in conn.execute(query)]

    def issue_entries(self, day: date) -> list[Entry]:
        """The live entries of one issue, by position (an indexed range of ``issue_date``)."""
        query = (
            sa.select(articles)
            .where(articles.c.issue_date == day, LIVE)
            .order_by(articles.c.position, articles.c.uid)
        )
        with self._begin() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def issue_heads(self, day: date) -> list[Head]:
        """The heads of the live entries of one issue, by position (``types.Head``): what issue
        pages and an article's neighbours show, for a fraction of the reading of ``issue_entries``."""
        with self._begin() as conn:
            return [
                Head(uid, day, position, Section(name, slug), title, kicker, subtitle, body)
                for uid, position, name, slug, title, kicker, subtitle, body in conn.execute(
                    _ISSUE_HEADS, {"b_day": day}
                )
            ]

    def section_latest(self, slug: str, limit: int) -> list[Entry]:
        """The ``limit`` newest entries of one section, newest issue first, in paper order."""
        query = (
            sa.select(articles)
            .where(articles.c.section_slug == slug, LIVE)
            .order_by(*ENTRY_ORDER)
            .limit(limit)
        )
        with self._begin() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def retracted_entries(self, section: str | None = None, limit: int | None = None) -> list[Entry]:
        """Withdrawn articles (of one section), the latest withdrawn first: their tombstones."""
        query = (
            sa.select(articles)
            # Withdrawal sets both; the time is what the indexes hold, so only withdrawn rows are read.
            .where(articles.c.retracted.is_not(None), articles.c.retracted_at.is_not(None))
            .where(*(() if section is None else (articles.c.section_slug == section,)))
            .order_by(articles.c.retracted_at.desc(), articles.c.uid)
            .limit(limit)
        )
        with self._begin() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def publish_state(self) -> dict[str, str]:
        """Named facts about the last publish (its token, the section list it used...)."""
        with self._begin() as conn:
            return {name: value for name, value in conn.execute(sa.select(publish_state))}

    def set_publish_state(self, values: dict[str, str]) -> None:
        """Replace the named facts given, leaving the others."""
        with self._begin() as conn:
            conn.execute(sa.delete(publish_state).where(publish_state.c.name.in_(list(values))))
            if values:
                conn.execute(sa.insert(publish_state), [{"name": k, "value": v} for k, v in values.items()])

    def unpublished(self, since: int, limit: int | None = None) -> list[tuple[Entry, str | None]]:
        """Entries added or changed after change sequence ``since`` (see ``snapshot``), each with
        the section slug it was published under (None when it never was), in feed order.

        An indexed range of ``articles.seq``: the cost follows the change, not the
        archive.  With ``limit``, at most that many (the caller rebuilds instead).
        """
        query = (
            sa.select(articles, published_entries.c.section_slug.label("published_slug"))
            .outerjoin(published_entries, published_entries.c.uid == articles.c.uid)
            .where(articles.c.seq > since)
            .order_by(articles.c.seq)
            .limit(limit)
        )
        with self._begin() as conn:
            found = [(entry_from_row(row), row.published_slug) for row in conn.execute(query)]
        return sorted(found, key=lambda pair: pair[0].feed_key)

    def unpublished_digests(self) -> list[DigestRecord]:
        """Digests made (or remade with another window) since the last publish, oldest first."""
        query = (
            sa.select(digests)
            .outerjoin(published_digests, published_digests.c.day == digests.c.day)
            .where(sa.or_(published_digests.c.day.is_(None), published_digests.c.until != digests.c.until))
            .order_by(digests.c.day)
        )
        with self._begin() as conn:
            return [DigestRecord(**row._asdict()) for row in conn.execute(query)]

    def mark_published(
        self, entries: Sequence[Entry], records: Sequence[DigestRecord], seq: int | None = None
    ) -> None:
        """Remember that ``entries`` (as given) and the digests ``records`` are now in the output,
        and with ``seq`` that every change up to that sequence is (publish state ``seq``)."""
        with self._begin() as conn:
            if seq is not None:
                conn.execute(sa.delete(publish_state).where(publish_state.c.name == "seq"))
                conn.execute(sa.insert(publish_state).values(name="seq", value=str(seq)))
            for start in range(0, len(entries), 500):
                chunk = entries[start : start + 500]
                uids = [entry.uid for entry in chunk]
                conn.execute(sa.delete(published_entries).where(published_entries.c.uid.in_(uids)))
                rows = [
                    {
                        "uid": e.uid,
                        "content_hash": content_hash(e.article, e.section),
                        "section_slug": e.section.slug,
                    }
                    for e in chunk
                ]
                conn.execute(sa.insert(published_entries), rows)
            if records:
                days = [record.day for record in records]
                conn.execute(sa.delete(published_digests).where(published_digests.c.day.in_(days)))
                conn.execute(
                    sa.insert(published_digests), [{"day": r.day, "until": r.until} for r in records]
                )

    def mark_all_published(self) -> int:
        """Take every article and digest as published, as they stand now (before a full rebuild);
        returns the change sequence of that state.

        The counter row is locked first, so the rows copied are exactly those up to
        the sequence returned: one written while the rebuild runs has a later one
        and the next publish renders it again: nothing is taken as published unseen.
        """
        with self._begin() as conn:
            # The delete first: on SQLite it takes the write lock, so the counter read next is current.
            conn.execute(sa.delete(published_entries))
            conn.execute(sa.delete(published_digests))
            seq = int(
                conn.execute(sa.select(counters.c.value).where(ARTICLES_SEQ).with_for_update()).scalar_one()
            )
            conn.execute(
                sa.insert(published_entries).from_select(
                    ["uid", "content_hash", "section_slug"],
                    sa.select(articles.c.uid, articles.c.content_hash, articles.c.section_slug),
                )
            )
            conn.execute(
                sa.insert(published_digests).from_select(
                    ["day", "until"], sa.select(digests.c.day, digests.c.until)
                )
            )
        return seq

    def sections(self) -> list[Section]:
        """Every section articles were filed under, in the order of their earliest page position."""
        query = (
            sa.select(articles.c.section_slug, sa.func.min(articles.c.section_name))
            .group_by(articles.c.section_slug)
            .order_by(sa.func.min(articles.c.position), articles.c.section_slug)
        )
        with self._begin() as conn:
            return [Section(name, slug) for slug, name in conn.execute(query)]
