"""One sender per digest at a time, across processes and machines: a lease row held for the run.

A send run takes the lease of its digest (``Store.take_send_lease``) before it
touches a delivery row and lets go when it ends.  While another run holds it,
a run sends nothing and says who is sending.  The lease lapses
``LEASE_SECONDS`` after its last renewal, so a run on a machine that vanished
blocks nobody for long; a holder on this machine whose process is gone
(SIGKILL, out of memory) is taken over at once.  A run renews its lease
between messages and stops as soon as a renewal fails: then another run has
taken over, and the guarded ledger writes (``digest.store.database``) keep the late
run from changing the new one's rows.

The lease is also what makes recovery safe: only its holder turns rows that
earlier runs left claimed back into waiting or ``unknown`` rows, because no
other run can still be sending them.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from digest.errors import StoreError
from digest.store.database import Store
from digest.store.records import SendLease

log = logging.getLogger(__name__)

LEASE_SECONDS = 120  # well beyond one message's SMTP timeouts (30 s a step)
RENEW_SECONDS = 20  # renewed between messages once this old


def wall_clock() -> datetime:
    """The real time, aware; leases are about real processes, whatever clock the digest runs on."""
    return datetime.now(UTC)


def new_holder() -> str:
    """This run's name in the lease table: host, pid and a random part (two runs in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_gone(holder: str) -> bool:
    """Whether ``holder`` names a process on this machine that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    return host == socket.gethostname() and pid_text.isdigit() and not pid_alive(int(pid_text))


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(lease: SendLease) -> str:
    """``pid 123 on host h, until 12:00:05 UTC`` for messages."""
    host, _, rest = lease.holder.partition(":")
    pid = rest.partition(":")[0]
    return f"pid {pid} on {host}, lease until {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC"


class Lease:
    """This run's hold on the send lease of one digest."""

    def __init__(self, store: Store, day: date, clock: Callable[[], datetime] = wall_clock) -> None:
        self._store = store
        self._day = day
        self._clock = clock
        self.holder = new_holder()
        self._renewed = clock()

    def take(self) -> SendLease | None:
        """Take the lease; None when taken, else the lease another live run holds."""
        now = self._clock()
        until = now + timedelta(seconds=LEASE_SECONDS)
        other = self._store.take_send_lease(self._day, self.holder, now, until)
        if other is not None and holder_gone(other.holder):
            log.warning("digest day=%s: the sender %s is gone; taking over", self._day, describe(other))
            if self._store.steal_send_lease(other, self.holder, now, until):
                other = None
        self._renewed = now
        return other

    def keep(self) -> bool:
        """Renew when due; False when the lease is no longer ours (stop sending)."""
        now = self._clock()
        if now - self._renewed < timedelta(seconds=RENEW_SECONDS):
            return True
        self._renewed = now
        return self._store.renew_send_lease(self._day, self.holder, now + timedelta(seconds=LEASE_SECONDS))

    def release(self) -> None:
        """Let go, so the next run need not wait; a database error here only delays that run."""
        try:
            self._store.release_send_lease(self._day, self.holder)
        except StoreError as exc:
            log.warning("digest day=%s: could not release the send lease (%s); it lapses", self._day, exc)
