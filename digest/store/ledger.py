"""Digests and the delivery ledger: one row per digest and recipient, claimed, committed and marked
by one run at a time under the send lease, so a copy is never sent twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.base import Repository, dialect_of
from digest.store.claims import Claims, failing_emails
from digest.store.records import (
    CLAIMED,
    SETTLED,
    WAITING,
    Delivery,
    DeliveryState,
    DeliverySummary,
    DigestRecord,
    FailingEmails,
    SendLease,
)
from digest.store.schema import deliveries, delivery_counts, digests, send_leases
from digest.store.sections import commit_telling

_CLAIMS = Claims(deliveries, (deliveries.c.day, deliveries.c.email))


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now)


class LedgerRepository(Repository):
    """Digests, deliveries and send leases."""

    def save_digest(self, record: DigestRecord, recipients: Sequence[str] = ()) -> bool:
        """Record a digest once, with a pending delivery row per recipient, in one transaction.

        One transaction, so a crash never leaves a digest whose recipients were
        not written down.  A second save of the same day keeps the first; False then,
        also when another process saves the same day at the same moment (the insert
        does nothing on conflict rather than fail on the primary key).
        """
        with self._begin() as conn:
            dialect = dialect_of(conn.dialect.name)
            insert = dialect.insert(digests).values(**record.__dict__).on_conflict_do_nothing()
            if conn.execute(insert.returning(digests.c.day)).first() is None:
                return False
            if recipients:
                conn.execute(
                    sa.insert(deliveries),
                    [
                        {"day": record.day, "email": e, "status": DeliveryState.PENDING, "attempts": 0}
                        for e in recipients
                    ],
                )
        return True

    def digest(self, day: date) -> DigestRecord | None:
        """The digest made for ``day``, if any."""
        with self._begin() as conn:
            row = conn.execute(sa.select(digests).where(digests.c.day == day)).first()
        return DigestRecord(**row._asdict()) if row else None

    def digests(self, before: date | None = None) -> list[DigestRecord]:
        """Digests made, newest first; only days before ``before`` when given."""
        query = sa.select(digests).order_by(digests.c.day.desc())
        if before is not None:
            query = query.where(digests.c.day < before)
        with self._begin() as conn:
            return [DigestRecord(**row._asdict()) for row in conn.execute(query)]

    def due_deliveries(self, day: date, now: datetime, retry_now: bool = False) -> list[Delivery]:
        """Rows of one digest waiting to be sent whose next attempt is due at ``now`` (``retry_now``:
        every waiting row, its retry time not waited for)."""
        waiting = [deliveries.c.day == day, deliveries.c.status.in_(WAITING)]
        query = sa.select(deliveries).where(*waiting, *([] if retry_now else [_due(now)]))
        query = query.order_by(deliveries.c.email)
        with self._begin() as conn:
            return [Delivery(**row._asdict()) for row in conn.execute(query)]

    def days_due(self, now: datetime) -> list[date]:
        """Digests with rows due at ``now`` (or left claimed by a crash), oldest first."""
        query = (
            sa.select(deliveries.c.day)
            .where(sa.or_(deliveries.c.status.in_(WAITING) & _due(now), deliveries.c.status.in_(CLAIMED)))
            .distinct()
            .order_by(deliveries.c.day)
        )
        with self._begin() as conn:
            return list(conn.execute(query).scalars())

    def claim_delivery(self, day: date, email: str, holder: str) -> bool:
        """Mark a waiting row ``claimed`` by ``holder``; False when another sender took it first
        (compare-and-set).  Done before the message is composed, so a lost race costs no body."""
        with self._begin() as conn:
            return _CLAIMS.claim(conn, (day, email), holder)

    def commit_delivery(
        self, day: date, email: str, holder: str, told: Sequence[str] = (), at: datetime | None = None
    ) -> bool:
        """``claimed`` → ``sending`` just before the final "."; False when the row is no longer ours.

        ``told``: the emptied sections the copy tells of, noted as told at ``at`` in the same
        transaction, so a crash from here on (the copy then ``unknown``) never tells them twice;
        False, and the row waits again, when another email told of one first (``commit_telling``).
        """
        return commit_telling(self._begin, _CLAIMS, (day, email), holder, email, told, at)

    def recover_deliveries(self, day: date, holder: str, reason: str) -> tuple[int, int]:
        """Rows of ``day`` claimed by a run other than ``holder`` (which must hold the send lease, so
        those runs are over): ``claimed`` ones wait again, since their server never got the ".";
        ``sending`` ones (a crash at the point of no return) become ``unknown``.  The two counts."""
        others = sa.or_(deliveries.c.claim.is_(None), deliveries.c.claim != holder)
        with self._begin() as conn:
            return _CLAIMS.recover(conn, sa.and_(deliveries.c.day == day, others), reason)

    def defer_deliveries(self, day: date, emails: Sequence[str], until: datetime, reason: str) -> None:
        """Leave waiting rows untried until ``until`` (the server is down: trying each is pointless)."""
        with self._begin() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.day == day,
                    deliveries.c.email.in_(sa.bindparam("emails", expanding=True)),
                    deliveries.c.status.in_(WAITING),
                )
                .values(next_attempt_at=until, last_error=reason),
                {"emails": list(emails)},
            )

    def deliveries(self, day: date) -> list[Delivery]:
        """Every delivery row of one digest."""
        query = sa.select(deliveries).where(deliveries.c.day == day).order_by(deliveries.c.email)
        with self._begin() as conn:
            return [Delivery(**row._asdict()) for row in conn.execute(query)]

    def mark_delivery(
        self,
        day: date,
        email: str,
        status: DeliveryState,
        at: datetime,
        error: str | None = None,
        next_attempt: datetime | None = None,
        claim: str | None = None,
    ) -> bool:
        """Record one attempt: ``sent`` (with the time), or another status with the error and retry time.

        With ``claim``, only a row that run claimed changes; without, only a waiting row (one
        skipped or expired untried).  False when the row was not in that state: nothing written.
        """
        with self._begin() as conn:
            return _CLAIMS.mark(conn, (day, email), status, at, error, next_attempt, claim)

    def take_send_lease(self, day: date, holder: str, now: datetime, until: datetime) -> SendLease | None:
        """Hold the send lease of ``day`` until ``until``: None when taken, else the lease in force.

        Free, lapsed (``expires_at`` passed) or already ours: taken.  One
        statement, so of two runs asking at once exactly one gets it.
        """
        dialect = dialect_of(self._engine.dialect.name)
        insert = dialect.insert(send_leases).values(day=day, holder=holder, taken_at=now, expires_at=until)
        upsert = insert.on_conflict_do_update(
            index_elements=[send_leases.c.day],
            set_={"holder": holder, "taken_at": now, "expires_at": until},
            where=sa.or_(send_leases.c.expires_at <= now, send_leases.c.holder == holder),
        )
        with self._begin() as conn:
            conn.execute(upsert)
            row = conn.execute(sa.select(send_leases).where(send_leases.c.day == day)).one()
        lease = SendLease(**row._asdict())
        return None if lease.holder == holder else lease

    def steal_send_lease(self, lease: SendLease, holder: str, now: datetime, until: datetime) -> bool:
        """Take over ``lease`` whose holder is known to be dead; False when it changed meanwhile."""
        with self._begin() as conn:
            result = conn.execute(
                sa.update(send_leases)
                .where(send_leases.c.day == lease.day, send_leases.c.holder == lease.holder)
                .values(holder=holder, taken_at=now, expires_at=until)
            )
        return result.rowcount == 1

    def renew_send_lease(self, day: date, holder: str, until: datetime) -> bool:
        """Extend our lease; False when it is no longer ours (it lapsed and another run took it)."""
        with self._begin() as conn:
            result = conn.execute(
                sa.update(send_leases)
                .where(send_leases.c.day == day, send_leases.c.holder == holder)
                .values(expires_at=until)
            )
        return result.rowcount == 1

    def release_send_lease(self, day: date, holder: str) -> None:
        """Let go of our lease (if it is still ours), so the next run need not wait for it to lapse."""
        with self._begin() as conn:
            conn.execute(
                sa.delete(send_leases).where(send_leases.c.day == day, send_leases.c.holder == holder)
            )

    def send_leases(self) -> list[SendLease]:
        """Every lease on record, lapsed or not, oldest digest first (for ``digest status``)."""
        with self._begin() as conn:
            rows = conn.execute(sa.select(send_leases).order_by(send_leases.c.day))
            return [SendLease(**row._asdict()) for row in rows]

    def delivery_summary(self) -> DeliverySummary:
        """Rows by status, the earliest retry waiting and the error of the latest failed row."""
        with self._begin() as conn:
            counts = self._delivery_counts(conn)
            newest = (deliveries.c.day.desc(), deliveries.c.next_attempt_at.desc())
            next_attempt, error = _CLAIMS.outlook(conn, newest)
        return DeliverySummary(
            counts=tuple(counts.items()),
            next_attempt_at=next_attempt,
            last_error=error,
            leases=tuple(self.send_leases()),
        )

    def prune_deliveries(self, before: date, dry_run: bool = False) -> int:
        """Fold the settled ledger rows of digests dated before ``before`` into ``delivery_counts``
        and delete them, in one transaction (the counts are written first); how many rows.

        Rows still waiting or claimed are left to the send loop.  ``dry_run``: count only.
        """
        old = sa.and_(deliveries.c.day < before, deliveries.c.status.in_(SETTLED))
        counted = sa.select(deliveries.c.day, deliveries.c.status, sa.func.count()).where(old)
        with self._begin() as conn:
            rows = conn.execute(counted.group_by(deliveries.c.day, deliveries.c.status)).all()
            total = sum(int(n) for _, _, n in rows)
            if dry_run or not rows:
                return total
            dialect = dialect_of(conn.dialect.name)
            insert = dialect.insert(delivery_counts)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["day", "status"],
                    set_={"count": delivery_counts.c["count"] + insert.excluded["count"]},
                ),
                [{"day": day, "status": status, "count": n} for day, status, n in rows],
            )
            conn.execute(sa.delete(deliveries).where(old))
        return total

    def _delivery_counts(self, conn: Connection) -> dict[str, int]:
        """Ledger rows by status, the rows retention folded into ``delivery_counts`` included."""
        counts: dict[str, int] = {}
        live = sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
        folded = sa.select(delivery_counts.c.status, sa.func.sum(delivery_counts.c["count"])).group_by(
            delivery_counts.c.status
        )
        for query in (live, folded):
            for status, n in conn.execute(query):
                counts[str(status)] = counts.get(str(status), 0) + int(n)
        return dict(sorted(counts.items()))


def failing_copies(conn: Connection) -> FailingEmails | None:
    """The digest copies waiting after a failed try (or put off, the server seeming down) of digests
    made after the last copy that went, or None: a copy sent clears them.

    The ledger keeps no time of each try (``notices.claimed_at``'s like), so a copy's tries are
    dated by its digest's ``made_at``: every try of a digest made after the last ``sent_at`` came
    after it, and failed.  Copies of a digest some of whose copies went are never counted, even
    when the server went down after them: without a migration the ledger cannot tell those tries
    from earlier ones (the next day's digest shows it then).
    """
    rows = deliveries.join(digests, deliveries.c.day == digests.c.day)
    made = digests.c.made_at
    return failing_emails(conn, deliveries, made, deliveries.c.sent_at, made, rows)
