"""Which ``digest serve`` runs the jobs: one leader per database, every instance serves HTTP.

With SQLite there is one instance per data folder (``serve.lock``), so it
always leads (:class:`SoleLeader`).  With PostgreSQL several instances may
share one database; the leader holds a session-level advisory lock on a
connection of its own (:class:`AdvisoryLeader`).  The lock lives exactly as
long as that session, so when the leader dies (SIGKILL, a crash, a lost
machine) PostgreSQL releases it and a standby, which retries every
``CHECK_SECONDS``, takes over.

Timing, so that two instances never both believe they lead:

- A killed process's socket is closed by its kernel: the server ends the
  session and frees the lock at once; the next standby retry wins.
- A silent network loss is found by TCP keepalives the session turns on
  *server side* (``SERVER_KEEPALIVE``: idle 10 s, then 3 probes 5 s apart,
  about 25 s), after which the lock is freed.  The leader checks its
  connection every ``CHECK_SECONDS`` with ``tcp_user_timeout`` and client
  keepalives (about 10 s), so it steps down before the server lets go.

A job that was already running when leadership was lost finishes; the
store's idempotent upserts and the delivery ledger keep a late write from
doing harm (see docs/scaling.md).
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

import psycopg
from psycopg.conninfo import make_conninfo

from digest.store.urls import is_postgresql, libpq_url, mask_url

log = logging.getLogger(__name__)

# A standby tries for the lock this often; the leader checks its connection this often.
CHECK_SECONDS = 5.0
# First half of the two-part advisory lock key: "DGST", so other users of advisory locks keep theirs.
LOCK_CLASS = 0x44475354
# Server-side keepalives for the lock session, so a leader lost to the network frees the lock.
SERVER_KEEPALIVE = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}
# Client side: give up on an unanswered check well before the server gives up on us.
CLIENT_KEEPALIVE = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 8000,  # ms
}


class Leadership(Protocol):
    """Whether this process may run ingest, publish and digest jobs right now."""

    @property
    def held(self) -> bool:
        """True while this process leads."""
        ...

    def start(self, on_gain: Callable[[], None]) -> None:
        """Try to lead now; keep trying in the background, calling ``on_gain`` on each later gain."""
        ...

    def close(self) -> None:
        """Stop trying and let go of the lead."""
        ...


class SoleLeader:
    """SQLite: the data-folder lock already makes this the only instance, so it always leads."""

    @property
    def held(self) -> bool:
        """Always True."""
        return True

    def start(self, on_gain: Callable[[], None]) -> None:
        """Nothing to acquire."""

    def close(self) -> None:
        """Nothing to release."""


class AdvisoryLeader:
    """PostgreSQL: lead while holding ``pg_try_advisory_lock(LOCK_CLASS, <schema key>)`` on our own session.

    The key includes the schema the tables live in, so two deployments in
    one database (different ``search_path``) elect their leaders apart.
    """

    def __init__(self, url: str, interval: float = CHECK_SECONDS) -> None:
        self._dsn = make_conninfo(libpq_url(url), **CLIENT_KEEPALIVE)
        self._label = mask_url(url)
        self._interval = interval
        self._held = threading.Event()
        self._stop = threading.Event()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._key: int | None = None
        self._thread: threading.Thread | None = None
        self._on_gain: Callable[[], None] = _nothing
        self._started = False

    @property
    def held(self) -> bool:
        """True while our session holds the lock (as far as the last check could tell)."""
        return self._held.is_set()

    def start(self, on_gain: Callable[[], None]) -> None:
        """Try once now (so a lone instance leads from its first job), then every ``interval`` seconds."""
        self._on_gain = on_gain
        self._check()
        if not self.held:
            log.info("standby: another instance leads on %s; serving HTTP only", self._label)
        self._started = True
        self._thread = threading.Thread(target=self._loop, name="digest-leader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the checks and end the lock session (which frees the lock)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._held.clear()
        self._drop()

    def __enter__(self) -> AdvisoryLeader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._check()

    def _check(self) -> None:
        """One round: connect if needed, then confirm the lock (leader) or try for it (standby)."""
        try:
            conn = self._conn or self._connect()
            key = self._key
            if self.held:
                row = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 2",
                    (LOCK_CLASS, key),
                ).fetchone()
                if not row or row[0] == 0:
                    self._step_down("the lock is no longer held by this session")
                return
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, key)).fetchone()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if self.held:
                self._step_down(f"lost the database connection ({reason})")
            else:
                log.warning("leader election on %s: %s; retrying", self._label, reason)
            self._drop()
            return
        if row and row[0]:
            self._held.set()
            log.info("leader: this instance now runs ingest, publish and digest jobs (%s)", self._label)
            if self._started:
                self._on_gain()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(self._dsn, autocommit=True)
        try:
            settings = ", ".join(f"set_config('{name}', %s, false)" for name in SERVER_KEEPALIVE)
            conn.execute(f"SELECT {settings}", tuple(SERVER_KEEPALIVE.values()))
            row = conn.execute("SELECT current_schema()").fetchone()
        except psycopg.Error:
            conn.close()
            raise
        self._key = schema_key(str(row[0]) if row else "public")
        self._conn = conn
        return conn

    def _step_down(self, reason: str) -> None:
        self._held.clear()
        log.error("leader: stepping down, %s; jobs stop until the lead is regained", reason)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                log.debug("closing the leader connection failed", exc_info=True)


def schema_key(schema: str) -> int:
    """The second half of the lock key for the tables in ``schema``.

    Non-negative, so it compares equal to ``pg_locks.objid`` (an unsigned oid).
    """
    return zlib.crc32(schema.encode()) & 0x7FFFFFFF


def leader_running(url: str) -> bool:
    """Whether a ``digest serve`` leads on the database and schema of ``url`` right now."""
    with psycopg.connect(libpq_url(url), connect_timeout=10) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s"
            " AND objid = %s AND objsubid = 2"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_CLASS, schema_key(str(row[0]) if row else "public")),
        ).fetchone()
    return bool(held and held[0])


def _nothing() -> None:
    """The gain callback before ``start``."""


def leadership(url: str) -> Leadership:
    """An :class:`AdvisoryLeader` for a PostgreSQL URL, else a :class:`SoleLeader`."""
    return AdvisoryLeader(url) if is_postgresql(url) else SoleLeader()
