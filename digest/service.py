"""``digest serve``: one process that watches, ingests, publishes, sends digests and serves HTTP.

Threads: uvicorn's event loop on the main thread (it owns SIGINT/SIGTERM),
an APScheduler background scheduler (safety-net rescans and the daily
digest cron), and a watchfiles thread for low-latency ingest.  Jobs never
overlap: one lock serialises them.  A lock file in the data folder keeps a
second ``serve`` away from the same database and outbox.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import uvicorn
import watchfiles
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import Config
from digest.errors import AlreadyRunningError, ConfigError, DigestError
from digest.ingest import ingest, is_page_file
from digest.jobs import catch_up_digest, run_digest, run_publish
from digest.mail import Mailer, make_mailer
from digest.server import create_app
from digest.store import Store

log = logging.getLogger(__name__)

LOCK_NAME = "serve.lock"
# A file is read once it has stopped changing for this long (editors write in pieces).
SETTLE_MS = 500
# How long a digest cron run may start late (machine asleep, a long ingest) and still run.
DIGEST_GRACE_SECONDS = 3600


def utc_now() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


@contextmanager
def data_lock(data: Path) -> Iterator[None]:
    """Hold ``<data>/serve.lock`` while serving; a second holder gets ``AlreadyRunningError``."""
    path = data / LOCK_NAME
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise AlreadyRunningError(
                f"another digest serve (pid {holder}) is using the data folder {data}; "
                "stop it first or give this one another --data folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Runner:
    """The jobs the service runs, serialised by one lock; expected failures are logged, not raised."""

    def __init__(self, config: Config, store: Store, mailer: Mailer, clock: Callable[[], datetime] = utc_now):
        self._config = config
        self._store = store
        self._mailer = mailer
        self._clock = clock
        self._lock = threading.Lock()
        self.last_scan: datetime | None = None
        self.last_error: str | None = None

    def refresh(self, publish: bool = False) -> None:
        """Ingest what changed; publish when the store changed (or ``publish`` asks for it)."""
        with self._lock:
            now = self._clock()
            try:
                report = ingest(self._config, self._store, now)
                if report.touched or publish:
                    run_publish(self._config, self._store)
            except DigestError as exc:
                log.error("refresh failed: %s", exc)
                self.last_error = str(exc)
            else:
                self.last_error = None
            self.last_scan = now

    def digest(self) -> None:
        """The daily cron job."""
        with self._lock:
            try:
                run_digest(self._config, self._store, self._mailer, self._clock())
            except DigestError as exc:
                log.error("digest failed: %s", exc)

    def catch_up(self) -> None:
        """Make a digest missed while the service was down (or finish its emails)."""
        with self._lock:
            try:
                catch_up_digest(self._config, self._store, self._mailer, self._clock())
            except DigestError as exc:
                log.error("missed digest failed: %s", exc)

    def health(self) -> Mapping[str, object]:
        """For ``/healthz``: store counts (a dead database raises ``StoreError`` → 503) and the last scan."""
        status = self._store.status()
        return {
            "status": "ok" if self.last_error is None else "degraded",
            "articles": status.articles,
            "latest_issue": status.latest_issue,
            "latest_digest": status.latest_digest,
            "unreadable_files": len(status.failed_sources),
            "emails_waiting": status.pending_deliveries,
            "last_scan": self.last_scan,
            "last_error": self.last_error,
        }


def watch(source: Path, stop: threading.Event, on_change: Callable[[], None]) -> None:
    """Call ``on_change`` whenever page files under ``source`` changed and then settled."""

    def pages_only(_change: watchfiles.Change, path: str) -> bool:
        return is_page_file(Path(path))

    for _changes in watchfiles.watch(source, watch_filter=pages_only, step=SETTLE_MS, stop_event=stop):
        on_change()


def listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a busy port is a clear ``ConfigError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ConfigError(
            "server.port",
            f"cannot listen on {host}:{port} ({exc.strerror or exc})",
            "stop the program using it or choose another --port / --host",
        ) from exc


def serve(config: Config) -> None:
    """Run until SIGINT or SIGTERM, then stop every thread and return (exit status 0)."""
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        # Before uvicorn runs and after it re-raises the signal it caught: just remember it.
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with data_lock(config.paths.data), Store.open(config.database_url) as store:
            mailer = make_mailer(config, config.paths.data)
            try:
                _run(config, store, mailer, stopping)
            finally:
                mailer.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(config: Config, store: Store, mailer: Mailer, stopping: threading.Event) -> None:
    sock = listen(config.server.host, config.server.port)
    runner = Runner(config, store, mailer)
    scheduler = BackgroundScheduler(timezone=config.tz)
    watcher = threading.Thread(
        target=watch, args=(config.paths.source, stopping, runner.refresh), name="digest-watch", daemon=True
    )
    try:
        runner.refresh(publish=True)
        runner.catch_up()
        clock = config.digest_clock
        scheduler.add_job(
            runner.refresh, IntervalTrigger(seconds=config.schedule.scan_interval), id="scan", coalesce=True
        )
        scheduler.add_job(
            runner.digest,
            CronTrigger(hour=clock.hour, minute=clock.minute, timezone=config.tz),
            id="digest",
            coalesce=True,
            misfire_grace_time=DIGEST_GRACE_SECONDS,
        )
        scheduler.start()
        watcher.start()
        app = create_app(
            config.paths.output, health=runner.health, hubs=config.feeds.hubs, base_url=config.site.base_url
        )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,
                access_log=log.isEnabledFor(logging.DEBUG),
                timeout_graceful_shutdown=5,
            )
        )
        if not stopping.is_set():
            log.info(
                "serving %s on http://%s:%d/", config.paths.output, config.server.host, config.server.port
            )
            server.run(sockets=[sock])
    finally:
        stopping.set()
        if watcher.is_alive():
            watcher.join(timeout=10)
        if scheduler.running:
            scheduler.shutdown(wait=True)
        sock.close()
        log.info("stopped")
