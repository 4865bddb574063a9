"""Subscribers, the suppression list, and the subscription emails waiting to be sent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.base import IN_BATCH, Repository, dialect_of
from digest.store.claims import Claims, failing_emails
from digest.store.records import (
    CLAIMED,
    NOTICES_DONE,
    WAITING,
    DeliveryState,
    DeliverySummary,
    FailingEmails,
    Notice,
    NoticeKind,
    Subscriber,
    SubscriberStatus,
    new_key,
)
from digest.store.schema import notices, subscribers
from digest.store.sections import commit_telling

_CLAIMS = Claims(notices, (notices.c.email, notices.c.kind), stamp=notices.c.claimed_at)


def _subscriber(row: sa.Row[Any]) -> Subscriber:
    return Subscriber(
        email=row.email,
        sections=tuple(json.loads(row.sections)),
        confirmed=row.confirmed,
        created=row.created,
        confirm_sent_at=row.confirm_sent_at,
        confirmed_at=row.confirmed_at,
        status=SubscriberStatus(row.status) if row.status else None,
        key=row.key or "",
        reason=row.reason or "",
        status_at=row.status_at,
        source=row.source or "",
        bounces=row.bounces or 0,
    )


def _subscriber_values(subscriber: Subscriber) -> dict[str, Any]:
    """The columns of a subscriber row but ``email`` and ``created``; ``key`` only when it has one."""
    values: dict[str, Any] = {
        "sections": json.dumps(list(subscriber.sections)),
        "confirmed": subscriber.confirmed,
        "confirm_sent_at": subscriber.confirm_sent_at,
        "confirmed_at": subscriber.confirmed_at,
        "status": subscriber.state.value,
        "reason": subscriber.reason or None,
        "status_at": subscriber.status_at,
        "source": subscriber.source or None,
        "bounces": subscriber.bounces,
    }
    if subscriber.key:
        values["key"] = subscriber.key
    return values


def _moved(status: SubscriberStatus, reason: str, at: datetime) -> dict[str, object]:
    """The columns of an address moved to ``status``.  One that leaves (``suppressed``) gets a new
    link key: no link sent before, a confirmation link still in its time included, works after it,
    so only a fresh sign-up (fresh consent) brings it back."""
    values: dict[str, object] = {
        "status": status.value,
        "confirmed": status is SubscriberStatus.CONFIRMED,
        "reason": reason,
        "status_at": at,
    }
    if status.suppressed:
        values["key"] = new_key()
    return values


class SubscriberRepository(Repository):
    """Subscribers and their notices."""

    def add_subscriber(self, subscriber: Subscriber) -> bool:
        """Add or update a subscriber (every field but ``created``); True when the address is new."""
        return self.add_subscribers([subscriber]) == 1

    def add_subscribers(self, many: Sequence[Subscriber]) -> int:
        """Add or update subscribers in one transaction; returns how many addresses were new."""
        new = 0
        with self._begin() as conn:
            for subscriber in many:
                values = _subscriber_values(subscriber)
                where = subscribers.c.email == subscriber.email
                if conn.execute(sa.select(subscribers.c.email).where(where)).first():
                    conn.execute(sa.update(subscribers).where(where).values(**values))
                else:
                    values.setdefault("key", new_key())
                    conn.execute(
                        sa.insert(subscribers).values(
                            email=subscriber.email, created=subscriber.created, **values
                        )
                    )
                    new += 1
        return new

    def remove_subscriber(self, email: str) -> bool:
        """Forget a subscriber; True when there was one."""
        with self._begin() as conn:
            result = conn.execute(sa.delete(subscribers).where(subscribers.c.email == email))
        return bool(result.rowcount)

    def subscribers(self, confirmed_only: bool = True) -> list[Subscriber]:
        """Subscribers by address; only confirmed ones unless asked otherwise."""
        query = sa.select(subscribers).order_by(subscribers.c.email)
        if confirmed_only:
            query = query.where(subscribers.c.confirmed.is_(True))
        with self._begin() as conn:
            return [_subscriber(row) for row in conn.execute(query)]

    def subscriber(self, email: str) -> Subscriber | None:
        """One subscriber, confirmed or not."""
        with self._begin() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.email == email)).first()
        return _subscriber(row) if row else None

    def subscriber_by_key(self, key: str) -> Subscriber | None:
        """The subscriber whose links carry ``key``, whatever its status."""
        with self._begin() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.key == key)).first()
        return _subscriber(row) if row else None

    def subscriber_keys(self) -> dict[str, str]:
        """Every address's link key."""
        with self._begin() as conn:
            rows = conn.execute(sa.select(subscribers.c.email, subscribers.c.key))
            return {email: key for email, key in rows}

    def set_subscriber_status(self, email: str, status: SubscriberStatus, reason: str, at: datetime) -> bool:
        """Move an address to ``status`` (keeping its row: the suppression list); True when it exists."""
        with self._begin() as conn:
            result = conn.execute(
                sa.update(subscribers)
                .where(subscribers.c.email == email)
                .values(**_moved(status, reason, at))
            )
        return bool(result.rowcount)

    def record_hard_bounce(self, email: str, error: str, at: datetime, limit: int) -> Subscriber | None:
        """Count one hard bounce; at ``limit`` the address becomes ``bounced``. None: an unknown address."""
        where = subscribers.c.email == email
        with self._begin() as conn:
            bounces = sa.func.coalesce(subscribers.c.bounces, 0) + 1
            if not conn.execute(sa.update(subscribers).where(where).values(bounces=bounces)).rowcount:
                return None
            conn.execute(
                sa.update(subscribers)
                .where(
                    where,
                    subscribers.c.bounces >= limit,
                    subscribers.c.status.in_(
                        (SubscriberStatus.PENDING.value, SubscriberStatus.CONFIRMED.value)
                    ),
                )
                .values(**_moved(SubscriberStatus.BOUNCED, error[:500], at))
            )
            row = conn.execute(sa.select(subscribers).where(where)).first()
        return _subscriber(row) if row else None

    def queue_notice(
        self, email: str, kind: NoticeKind, now: datetime, *, keep_waiting: bool = False
    ) -> None:
        """A subscription email to send now (a new request replaces an older row of the same kind).

        A row some sender has claimed is left to it: that email is on its way.  ``keep_waiting``:
        a row of that kind still waiting (pending, or failed and waiting for its retry) is left as
        it is too, its retry time and attempts included.
        """
        dialect = dialect_of(self._engine.dialect.name)
        values = {
            "status": DeliveryState.PENDING,
            "attempts": 0,
            "created": now,
            "last_error": None,
            "next_attempt_at": None,
            "sent_at": None,
        }
        kept = (*CLAIMED, *WAITING) if keep_waiting else CLAIMED
        with self._begin() as conn:
            conn.execute(
                dialect.insert(notices)
                .values(email=email, kind=kind.value, **values)
                .on_conflict_do_update(
                    index_elements=["email", "kind"], set_=values, where=notices.c.status.not_in(kept)
                )
            )

    def due_notices(
        self, now: datetime, email: str | None = None, kind: NoticeKind | None = None
    ) -> list[Notice]:
        """Subscription emails to send at ``now`` (pending, or failed with their wait over): every
        address's or ``email``'s, of every kind or of ``kind``."""
        query = sa.select(notices).where(
            notices.c.status.in_(WAITING),
            sa.or_(notices.c.next_attempt_at.is_(None), notices.c.next_attempt_at <= now),
        )
        if kind is not None:
            query = query.where(notices.c.kind == kind.value)
        return self._notices(query, email)

    def defer_notices(self, waiting: Sequence[Notice], until: datetime, reason: str) -> None:
        """Leave ``waiting`` emails untried until ``until`` (the server is down: trying each is pointless);
        one claimed or sent meanwhile is left as it is."""
        keys = [(notice.email, notice.kind.value) for notice in waiting]
        key = sa.tuple_(notices.c.email, notices.c.kind)
        with self._begin() as conn:
            for at in range(0, len(keys), IN_BATCH):
                conn.execute(
                    sa.update(notices)
                    .where(key.in_(keys[at : at + IN_BATCH]), notices.c.status.in_(WAITING))
                    .values(next_attempt_at=until, last_error=reason)
                )

    def notices(self, email: str | None = None) -> list[Notice]:
        """Every subscription email on record (or ``email``'s), whatever its status, oldest first."""
        return self._notices(sa.select(notices), email)

    def _notices(self, query: sa.Select[Any], email: str | None) -> list[Notice]:
        if email is not None:
            query = query.where(notices.c.email == email)
        with self._begin() as conn:
            rows = conn.execute(query.order_by(notices.c.created, notices.c.email)).all()
        return [
            Notice(
                email=r.email,
                kind=NoticeKind(r.kind),
                status=r.status,
                attempts=r.attempts,
                created=r.created,
                last_error=r.last_error,
                next_attempt_at=r.next_attempt_at,
                claim=r.claim,
                claimed_at=r.claimed_at,
            )
            for r in rows
        ]

    def notice_summary(self) -> DeliverySummary:
        """Subscription emails by status, the earliest retry waiting and the error of the latest one
        not sent (for ``digest status``)."""
        with self._begin() as conn:
            counts = self._notice_counts(conn)
            newest = (notices.c.created.desc(), notices.c.next_attempt_at.desc().nulls_last())
            next_attempt, error = _CLAIMS.outlook(conn, newest)
        return DeliverySummary(counts=tuple(counts.items()), next_attempt_at=next_attempt, last_error=error)

    def _notice_counts(self, conn: Connection) -> dict[str, int]:
        """Subscription emails by status (every status that has rows), in status order."""
        rows = conn.execute(sa.select(notices.c.status, sa.func.count()).group_by(notices.c.status))
        return {str(status): int(n) for status, n in sorted(rows)}

    def claim_notice(self, notice: Notice, holder: str, at: datetime) -> bool:
        """Mark a waiting ``notice`` ``claimed`` by ``holder`` at ``at`` (the wall clock); False when
        another sender took it first (compare-and-set).  Done before the email is composed."""
        with self._begin() as conn:
            return _CLAIMS.claim(conn, (notice.email, notice.kind.value), holder, at)

    def commit_notice(
        self, notice: Notice, holder: str, told: Sequence[str] = (), at: datetime | None = None
    ) -> bool:
        """``claimed`` → ``sending`` just before the final "."; False when the row is no longer ours.

        ``told``: the emptied sections the email tells of, noted as told at ``at`` in the same
        transaction, so a crash from here on (the email then ``unknown``) never tells them twice;
        False, and the row waits again, when another email told of one first (``commit_telling``).
        """
        key = (notice.email, notice.kind.value)
        return commit_telling(self._begin, _CLAIMS, key, holder, notice.email, told, at)

    def mark_notice(
        self,
        notice: Notice,
        status: DeliveryState,
        at: datetime,
        error: str | None = None,
        next_attempt: datetime | None = None,
        claim: str | None = None,
    ) -> bool:
        """Record the outcome of one attempt at ``notice``: with ``claim``, only while that sender's
        claim holds; without, only while it waits.  False when not: nothing written."""
        with self._begin() as conn:
            return _CLAIMS.mark(
                conn, (notice.email, notice.kind.value), status, at, error, next_attempt, claim
            )

    def recover_notices(self, claimed_before: datetime, reason: str) -> tuple[int, int]:
        """Notices whose claim was taken before ``claimed_before`` (the wall clock), by senders that
        must be dead by now: ``claimed`` ones wait again, ``sending`` ones become ``unknown``."""
        with self._begin() as conn:
            return _CLAIMS.recover(conn, notices.c.claimed_at < claimed_before, reason)

    def remove_expired_signups(self, before: datetime) -> list[str]:
        """Forget web sign-ups never confirmed and last asked for before ``before``; their addresses."""
        where = sa.and_(
            subscribers.c.status == SubscriberStatus.PENDING.value,
            subscribers.c.source == "web",
            sa.func.coalesce(subscribers.c.confirm_sent_at, subscribers.c.created) < before,
        )
        with self._begin() as conn:
            gone = [email for (email,) in conn.execute(sa.select(subscribers.c.email).where(where))]
            if gone:
                conn.execute(sa.delete(subscribers).where(where))
                conn.execute(sa.delete(notices).where(notices.c.email.in_(gone)))
        return gone

    def claim_confirmation(
        self, subscriber: Subscriber, now: datetime, resend_after: timedelta
    ) -> Subscriber | None:
        """Note a confirmation email to ``subscriber`` now, unless one went within ``resend_after``.

        A new address is inserted as given.  Atomic (one conditional UPDATE), so of
        many sign-ups of one address at once exactly one is told to send; None for the others.
        """
        dialect = dialect_of(self._engine.dialect.name)
        values = _subscriber_values(subscriber)
        values.setdefault("key", new_key())
        with self._begin() as conn:
            conn.execute(
                dialect.insert(subscribers)
                .values(email=subscriber.email, created=subscriber.created, **values)
                .on_conflict_do_nothing()
            )
            where = subscribers.c.email == subscriber.email
            claimed = conn.execute(
                sa.update(subscribers)
                .where(
                    where,
                    sa.or_(
                        subscribers.c.confirm_sent_at.is_(None),
                        subscribers.c.confirm_sent_at <= now - resend_after,
                    ),
                )
                .values(confirm_sent_at=now)
            ).rowcount
            row = conn.execute(sa.select(subscribers).where(where)).first() if claimed else None
        return _subscriber(row) if row else None

    def prune_signups(self, before: datetime, dry_run: bool = False) -> tuple[int, int]:
        """Delete sign-ups still pending whose last confirmation request (or creation) is before
        ``before``, and subscription emails done with before then; how many of each.

        The suppression list (unsubscribed, bounced, complained) is never pruned:
        it is what keeps those addresses from being mailed again.
        """
        pending = sa.and_(
            subscribers.c.status == SubscriberStatus.PENDING.value,
            sa.func.coalesce(subscribers.c.confirm_sent_at, subscribers.c.created) < before,
        )
        finished = sa.func.coalesce(notices.c.sent_at, notices.c.created)
        done = sa.and_(notices.c.status.in_(NOTICES_DONE), finished < before)
        with self._begin() as conn:
            gone = [email for (email,) in conn.execute(sa.select(subscribers.c.email).where(pending))]
            mails = sa.or_(done, notices.c.email.in_(gone)) if gone else done
            count = conn.execute(sa.select(sa.func.count()).select_from(notices).where(mails)).scalar_one()
            if not dry_run:
                conn.execute(sa.delete(notices).where(mails))
                conn.execute(sa.delete(subscribers).where(pending))
        return len(gone), int(count)


def failing_notices(conn: Connection) -> FailingEmails | None:
    """The subscription emails waiting after a failed try (or put off, the server seeming down)
    begun after the last one that was sent began, or None: a send that works clears them.

    Tries are compared by ``claimed_at``, the wall clock each try's claim took; one never tried
    (put off in its first run) by when it was queued.
    """
    tried = sa.func.coalesce(notices.c.claimed_at, notices.c.created)
    return failing_emails(conn, notices, tried, notices.c.claimed_at, notices.c.created)
