"""Withdrawn articles: withdrawing, undoing it, and where a merged article's text went."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa

from digest.store import search_index
from digest.store.base import IN_BATCH, Repository, entry_from_row
from digest.store.schema import ARTICLES_SEQ, articles, counters
from digest.types import Entry, Retraction


class RetractionRepository(Repository):
    """Withdrawals: by ingest (a page file gone, an article gone from its page) or by hand."""

    def retract(
        self,
        uids: Sequence[str],
        why: Retraction,
        at: datetime,
        successors: Mapping[str, str] | None = None,
    ) -> int:
        """Withdraw the articles ``uids`` (those not already withdrawn); returns how many.

        The row stays (its id is never given out again) and takes a step of the
        change sequence, so the next publish replaces it with a tombstone.
        ``successors``: for a withdrawn article whose text another article now
        holds (a re-read merged them), that article's uid: its page leads there.
        """
        count = 0
        with self._begin() as conn:
            seq = _next_seq(conn)
            for start in range(0, len(uids), IN_BATCH):
                result = conn.execute(
                    sa.update(articles)
                    .where(articles.c.uid.in_(uids[start : start + IN_BATCH]))
                    .where(articles.c.retracted.is_(None))
                    .values(retracted=why.value, retracted_at=at, seq=seq, successor=None)
                )
                count += int(result.rowcount)
            heirs = successors or {}
            linked = [{"b_uid": uid, "b_successor": heirs[uid]} for uid in uids if uid in heirs]
            if linked:
                # Only the rows this call withdrew (its step of the sequence): one withdrawn before
                # keeps what it had.
                conn.execute(
                    sa.update(articles)
                    .where(articles.c.uid == sa.bindparam("b_uid"), articles.c.seq == seq)
                    .values(successor=sa.bindparam("b_successor")),
                    linked,
                )
            search_index.refresh(conn, uids)
        return count

    def withdraw_merged(self, uid: str, at: datetime) -> bool:
        """Withdraw by hand an article a re-read merged into another (``retract`` with
        ``successors``): its successor is forgotten, so its URL answers the withdrawal notice
        (410) instead of leading to the article that holds its text, which stays as it is.
        True when ``uid`` was such an article."""
        with self._begin() as conn:
            seq = _next_seq(conn)
            result = conn.execute(
                sa.update(articles)
                .where(articles.c.uid == uid, articles.c.retracted.is_not(None))
                .where(articles.c.successor.is_not(None))
                .values(retracted=Retraction.BY_HAND.value, retracted_at=at, successor=None, seq=seq)
            )
        return result.rowcount == 1

    def restore(self, uid: str) -> bool:
        """Undo the retraction of one article; True when it was withdrawn."""
        with self._begin() as conn:
            seq = _next_seq(conn)
            result = conn.execute(
                sa.update(articles)
                .where(articles.c.uid == uid, articles.c.retracted.is_not(None))
                .values(retracted=None, retracted_at=None, successor=None, seq=seq, feed_seq=seq)
            )
            search_index.refresh(conn, [uid])
        return result.rowcount == 1

    def entries_by_uid(self, uids: Sequence[str]) -> dict[str, Entry]:
        """The articles ``uids`` that are stored, withdrawn or not, by uid (a merged article's
        successor: ``publish.moved``)."""
        found: dict[str, Entry] = {}
        with self._begin() as conn:
            for at in range(0, len(uids), IN_BATCH):
                query = sa.select(articles).where(articles.c.uid.in_(uids[at : at + IN_BATCH]))
                found.update((row.uid, entry_from_row(row)) for row in conn.execute(query))
        return found


def _next_seq(conn: sa.Connection) -> int:
    """Take the next step of the articles' change sequence: the rows a withdrawal or a restore
    writes with it are what the next publish renders again."""
    conn.execute(sa.update(counters).where(ARTICLES_SEQ).values(value=counters.c.value + 1))
    return int(conn.execute(sa.select(counters.c.value).where(ARTICLES_SEQ)).scalar_one())
