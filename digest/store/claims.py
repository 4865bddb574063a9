"""Claimed sending, shared by the digest ledger (``deliveries``) and the subscription emails
(``notices``): each email waiting to go is taken by one sender before it is composed, and only
that sender moves it on, so of two senders at once exactly one sends it and nothing goes twice.

A row's ``status`` moves ``pending``/``failed`` → ``claimed`` (a compare-and-set naming the
sender in ``claim``: one UPDATE whose rowcount says who won) → ``sending`` (just before the final
"."; from here on never sent again) → its outcome.  Every write names the state it expects and,
once claimed, the claimant, so a write that lost a race changes nothing and says so (rowcount 0).
When a sender dies, ``recover`` sends its ``claimed`` rows again (their server never got the ".")
and makes its ``sending`` rows ``unknown`` (they may have arrived).  Who may recover what is the
caller's to decide: the ledger under its send lease, the notices by the age of the claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.records import CLAIMED, WAITING, DeliveryState, FailingEmails
from digest.store.schema import UTCDateTime

# What a row left ``claimed`` by a dead sender says when it waits again.
RESENT = "interrupted before the message was complete; sent again"


class Claims:
    """The claim, commit, mark and recovery writes of one table of emails, built once (a statement
    built per call costs more than SQLite's work).

    ``key``: the columns naming one row, bound as ``b_<name>`` (bound names must differ from the
    column names in an UPDATE).  ``stamp``: a column that takes the time of each claim, when the
    table judges claims by their age.
    """

    def __init__(self, table: sa.Table, key: Sequence[sa.Column[Any]], stamp: sa.Column[Any] | None = None):
        self._names = tuple(f"b_{column.name}" for column in key)
        row = tuple(column == sa.bindparam(name) for column, name in zip(key, self._names, strict=True))
        status, mine = table.c.status, table.c.claim == sa.bindparam("b_claim")
        self._table = table
        stamped = {} if stamp is None else {stamp.name: sa.bindparam("b_at", type_=UTCDateTime)}
        self._claim = (
            sa.update(table)
            .where(*row, status.in_(WAITING))
            .values(status=DeliveryState.CLAIMED, claim=sa.bindparam("b_claim"), **stamped)
        )
        self._commit = (
            sa.update(table)
            .where(*row, mine, status == DeliveryState.CLAIMED)
            .values(status=DeliveryState.SENDING)
        )
        self._release = (
            sa.update(table)
            .where(*row, mine, status == DeliveryState.CLAIMED)
            .values(status=DeliveryState.FAILED, next_attempt_at=None, last_error=sa.bindparam("b_error"))
        )
        outcome = dict(
            status=sa.bindparam("b_status"),
            attempts=table.c.attempts + 1,
            last_error=sa.bindparam("b_error"),
            next_attempt_at=sa.bindparam("b_next", type_=UTCDateTime),
            sent_at=sa.func.coalesce(sa.bindparam("b_sent", type_=UTCDateTime), table.c.sent_at),
        )
        # The outcome of a claimed row, by its claimant; ``unknown`` too, which a recovery made of a
        # row this sender still had in flight: the answer it got is truer.
        self._mark = (
            sa.update(table)
            .where(*row, mine, status.in_((*CLAIMED, DeliveryState.UNKNOWN)))
            .values(**outcome)
        )
        # The outcome of a waiting row never claimed: skipped or expired without a try.
        self._mark_waiting = sa.update(table).where(*row, status.in_(WAITING)).values(**outcome)

    def _row(self, key: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self._names, key, strict=True))

    def claim(self, conn: Connection, key: Sequence[Any], holder: str, at: datetime | None = None) -> bool:
        """Mark a waiting row ``claimed`` by ``holder`` (at ``at``); False when another took it first."""
        stamped = {} if at is None else {"b_at": at}
        return conn.execute(self._claim, {**self._row(key), "b_claim": holder, **stamped}).rowcount == 1

    def commit(self, conn: Connection, key: Sequence[Any], holder: str) -> bool:
        """``claimed`` → ``sending`` just before the final "."; False when the row is no longer ours."""
        return conn.execute(self._commit, {**self._row(key), "b_claim": holder}).rowcount == 1

    def release(self, conn: Connection, key: Sequence[Any], holder: str, reason: str) -> bool:
        """``claimed`` → ``failed`` and due at once, by ``holder``, which abandoned the email before
        its final "." (``reason`` says why); False when the row is no longer ``holder``'s."""
        values = {**self._row(key), "b_claim": holder, "b_error": reason}
        return conn.execute(self._release, values).rowcount == 1

    def mark(
        self,
        conn: Connection,
        key: Sequence[Any],
        status: DeliveryState,
        at: datetime,
        error: str | None,
        next_attempt: datetime | None,
        claim: str | None,
    ) -> bool:
        """Record one attempt: ``sent`` (with the time), or another status with the error and retry time.

        With ``claim``, only a row that sender claimed changes; without, only a waiting row.
        False when the row was not in that state: nothing written.
        """
        values = {
            **self._row(key),
            "b_status": status,
            "b_error": error,
            "b_next": next_attempt,
            # other states keep the time of an earlier send
            "b_sent": at if status == DeliveryState.SENT else None,
        }
        if claim is None:
            return conn.execute(self._mark_waiting, values).rowcount == 1
        return conn.execute(self._mark, {**values, "b_claim": claim}).rowcount == 1

    def outlook(
        self, conn: Connection, newest_first: Sequence[sa.ColumnElement[Any]]
    ) -> tuple[datetime | None, str | None]:
        """The earliest retry of a waiting row, and the error of the newest row not sent (the rows in
        ``newest_first`` order), for ``digest status``."""
        table = self._table
        next_attempt = conn.execute(
            sa.select(sa.func.min(table.c.next_attempt_at)).where(table.c.status.in_(WAITING))
        ).scalar_one()
        error = conn.execute(
            sa.select(table.c.last_error)
            .where(table.c.last_error.is_not(None), table.c.status != DeliveryState.SENT)
            .order_by(*newest_first)
            .limit(1)
        ).scalar_one_or_none()
        return next_attempt, error

    def recover(self, conn: Connection, dead: sa.ColumnElement[bool], reason: str) -> tuple[int, int]:
        """Rows matching ``dead`` (claims of senders known to be over): ``claimed`` ones wait again,
        since their server never got the "."; ``sending`` ones (a crash at the point of no return)
        become ``unknown`` with ``reason``.  The two counts."""
        table = self._table
        retried = conn.execute(
            sa.update(table)
            .where(dead, table.c.status == DeliveryState.CLAIMED)
            .values(status=DeliveryState.FAILED, next_attempt_at=None, last_error=RESENT)
        )
        unknown = conn.execute(
            sa.update(table)
            .where(dead, table.c.status == DeliveryState.SENDING)
            .values(status=DeliveryState.UNKNOWN, attempts=table.c.attempts + 1, last_error=reason)
        )
        return int(retried.rowcount), int(unknown.rowcount)


def failing_emails(
    conn: Connection,
    table: sa.Table,
    tried: sa.ColumnElement[Any],
    went: sa.Column[Any],
    since: sa.ColumnElement[Any],
    rows: sa.FromClause | None = None,
) -> FailingEmails | None:
    """The rows of ``table`` waiting after a failed try (or put off) whose try, dated by ``tried``,
    came after the last that was sent (its ``went``), or None: how many, the earliest ``since`` and
    the latest tried one's error.  ``rows``: ``table`` joined to what ``tried`` and ``since`` read."""
    worked = sa.select(sa.func.max(went)).where(table.c.status == DeliveryState.SENT).scalar_subquery()
    failing = sa.and_(
        table.c.status.in_(WAITING),
        table.c.last_error.is_not(None),
        sa.or_(worked.is_(None), tried > worked),
    )
    source = table if rows is None else rows
    count, first = conn.execute(
        sa.select(sa.func.count(), sa.func.min(since)).select_from(source).where(failing)
    ).one()
    if not count:
        return None
    error = conn.execute(
        sa.select(table.c.last_error).select_from(source).where(failing).order_by(tried.desc()).limit(1)
    ).scalar_one()
    return FailingEmails(int(count), first, str(error))
