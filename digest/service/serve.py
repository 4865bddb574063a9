"""``digest serve``: one process that watches, ingests, publishes, sends digests and serves HTTP.

Threads: uvicorn's event loop on the main thread (it owns SIGINT/SIGTERM),
an APScheduler background scheduler (safety-net rescans and the daily
digest cron), and a watcher thread for low-latency ingest (``digest.ingest.watch``).
``Runner`` holds every job and one lock, so jobs never overlap; ``_run`` is
the one place that starts and stops the threads.  On SIGTERM or SIGINT the
HTTP server stops, the job under way finishes (a publish only ever renames
whole files into place), no new job starts, and the process exits 0.  A lock
file in the data folder keeps a second ``serve`` away from the same database
and outbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

import httpx
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest import workers
from digest.config import Config
from digest.errors import AlreadyRunningError, ConfigError, DigestError
from digest.faults import crash_point
from digest.ingest.pipeline import changed_files, ingest
from digest.ingest.watch import Settler, Watcher, quiet_for
from digest.mail.transports import Mailer, make_mailer
from digest.service import sdnotify
from digest.service.health import STATE_NAME, JobRun, ServiceState, health_report, max_issue_age, save_state
from digest.service.jobs import DigestResult, catch_up_digest, retry_deliveries, run_digest, run_publish
from digest.service.leader import Leadership, SoleLeader, leadership
from digest.service.metrics import METRICS_PATH, Metrics
from digest.service.retention import prune
from digest.service.startup import Startup
from digest.service.websub import HUB_TIMEOUT, Notifier
from digest.store.database import Store
from digest.store.lease import pid_alive
from digest.web.limits import server_options
from digest.web.search import PATH as SEARCH_PATH
from digest.web.search import create_search_app
from digest.web.server import create_app
from digest.web.subscriptions import create_subscription_app, subscription_routes

log = logging.getLogger(__name__)

LOCK_NAME = "serve.lock"
# A serve.lock whose pid is dead but still locked: how long its leftover holder gets to go
# (workers end with their parent; this covers the moment they take to).
STALE_LOCK_SECONDS = 10.0
# How long a digest cron run may start late (machine asleep, a long ingest) and still run.
DIGEST_GRACE_SECONDS = 3600
# How often emails waiting for a retry are looked at (each row has its own backoff time).
RETRY_SECONDS = 60
# Local time of the daily retention run (``digest.service.retention``): a quiet hour for most papers.
PRUNE_AT = (3, 40)


def utc_now() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


@contextmanager
def data_lock(data: Path) -> Iterator[None]:
    """Hold ``<data>/serve.lock`` while serving; a second holder gets ``AlreadyRunningError``."""
    path = data / LOCK_NAME
    with path.open("a+") as handle:
        _take_data_lock(handle, data)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        workers.keep_from_workers(handle.fileno())
        try:
            yield
        finally:
            workers.release_to_workers(handle.fileno())
            fcntl.flock(handle, fcntl.LOCK_UN)


def _take_data_lock(handle: IO[str], data: Path) -> None:
    """Lock ``serve.lock``; while the pid written in it is dead, wait ``STALE_LOCK_SECONDS`` for
    whatever still holds the lock (a process the dead one left) to end, then say which it is."""
    deadline = time.monotonic() + STALE_LOCK_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
        if holder.isdigit() and not pid_alive(int(holder)):
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise AlreadyRunningError(
                f"the digest serve that locked the data folder {data} (pid {holder}) is gone, but a "
                f"process it started still holds {data / LOCK_NAME}; stop it (fuser -v {data / LOCK_NAME})"
            )
        raise AlreadyRunningError(
            f"another digest serve (pid {holder}) is using the data folder {data}; "
            "stop it first or give this one another --data folder"
        )


def lock_holder(data: Path) -> int | None:
    """The pid of the ``digest serve`` using ``data`` (0 if unreadable), or ``None`` when none is."""
    try:
        with (data / LOCK_NAME).open("r") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read().strip()
                return int(text) if text.isdigit() else 0
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        pass
    return None


def source_problem(source: Path) -> str | None:
    """What keeps the source folder from being read (missing, or no permission to list it), or None."""
    if not source.is_dir():
        return f"source folder {source} is missing"
    try:
        with os.scandir(source):
            pass
    except OSError as exc:
        return f"cannot read the source folder {source} ({exc.strerror or exc}); check its permissions"
    return None


class Runner:
    """Ingest, publish and the daily digest, one job at a time.

    Expected failures are logged, counted and kept for ``/healthz``; the
    service goes on.  ``close`` waits for the job under way and then refuses
    new ones, so a publish is never cut short by a shutdown.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        mailer: Mailer,
        metrics: Metrics,
        clock: Callable[[], datetime] = utc_now,
        leader: Leadership | None = None,
        notifier: Notifier | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self._config = config
        self._notifier = notifier  # WebSub pings in the background, so a slow hub never holds a job
        self._leader = leader or SoleLeader()
        self._store = store
        self._mailer = mailer
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        # Set by SIGTERM (``serve``) or ``close``: a send under way stops between two emails.
        self._stopping = stopping or threading.Event()
        self._runs: dict[str, JobRun] = {}
        self._started = clock()
        self.settler = Settler(config.ingest.settle_seconds)
        self._said: str | None = None  # the source folder problem last logged

    def rescan(self, publish: bool = False) -> None:
        """The safety net: ingest every settled page file in the source folder; ``publish`` forces one.

        Files whose stat is the one recorded when they were read are not opened
        (``ingest.changed_files``): a rescan of an unchanged folder of 13k files
        takes a tenth of a second and logs nothing above DEBUG.
        """
        with self._job() as go:
            if not go:
                return
            source = self._config.paths.source
            problem = source_problem(source)
            if problem is not None and problem != self._said:
                # scan() would quietly find no file; said once here, and /healthz lists it (``state``).
                log.warning("%s; no page is read until it is fixed", problem)
            self._said = problem
            try:
                files = [] if problem else changed_files(self._store, source)[0]
            except OSError as exc:
                self._failed("ingest", time.monotonic(), f"cannot read the source folder {source} ({exc})")
                return
            except DigestError as exc:
                self._failed("ingest", time.monotonic(), str(exc))
                return
            settled = {path for path in files if quiet_for(path, self._config.ingest.settle_seconds)}
            # Files still being written wait in the settler; the watcher hands them on once whole.
            self.settler.note(path for path in files if path not in settled)
            self._refresh([path for path in files if path in settled], publish)

    def ingest(self, paths: Sequence[Path]) -> None:
        """Ingest page files the watcher found settled, and publish what they changed."""
        with self._job() as go:
            if go and self._refresh(paths, publish=False):
                done = time.time()
                for path in paths:
                    # ctime, not mtime: a copy that keeps an old mtime is still a fresh drop.
                    with contextlib.suppress(OSError):
                        self._metrics.page_seconds.observe(max(0.0, done - path.stat().st_ctime))

    def digest(self) -> None:
        """The daily cron job."""
        with self._job() as go:
            if go:
                self._digest(
                    lambda now: run_digest(
                        self._config,
                        self._store,
                        self._mailer,
                        now,
                        notifier=self._notifier,
                        stopping=self._stopping.is_set,
                    )
                )

    def catch_up(self) -> None:
        """Make a digest missed while the service was down (or finish its emails)."""
        with self._job() as go:
            if go:
                self._digest(
                    lambda now: catch_up_digest(
                        self._config, self._store, self._mailer, now, self._stopping.is_set
                    )
                )

    def retry(self) -> None:
        """Send the emails whose retry is due, whatever their digest."""
        with self._job() as go:
            if go:
                self._digest(self._retry_due)

    def _retry_due(self, now: datetime) -> DigestResult | None:
        results = retry_deliveries(self._config, self._store, self._mailer, now, self._stopping.is_set)
        return results[-1] if results else None

    def prune(self) -> None:
        """The daily retention job: old ledger rows, sign-ups, outbox files and dry runs go."""
        with self._job() as go:
            if not go:
                return
            started = time.monotonic()
            try:
                report = prune(self._config, self._store, self._clock())
            except DigestError as exc:
                self._failed("prune", started, str(exc))
                return
            counts: dict[str, int | str] = {"removed": report.removed, "deliveries": report.deliveries}
            self._runs["prune"] = JobRun(self._clock(), round((time.monotonic() - started) * 1000), counts)

    def take_over(self) -> None:
        """At start-up and whenever this instance gains the lead: ingest what was missed, publish, and
        make (or finish) a missed digest."""
        self.rescan(publish=True)
        self.catch_up()

    def close(self) -> None:
        """Wait for the job under way, then refuse new ones; a send stops between two emails."""
        self._stopping.set()
        with self._lock:
            self._closed = True

    def state(self) -> ServiceState:
        """What the service knows beyond the store: last runs, files waiting, standing problems."""
        source = self._config.paths.source
        return ServiceState(
            pid=os.getpid(),
            started=self._started,
            runs=dict(self._runs),
            files_waiting=self.settler.waiting,
            problems=tuple(problem for problem in (source_problem(source),) if problem is not None),
        )

    def health(self) -> Mapping[str, object]:
        """For ``/healthz``; ``digest status`` prints the same.  A dead database raises ``StoreError``."""
        state = self.state()
        self._metrics.files_waiting.set(state.files_waiting)
        age = max_issue_age(self._config.health.max_issue_age)
        return health_report(self._store.status(), state, self._clock(), age)

    @contextmanager
    def _job(self) -> Iterator[bool]:
        """Hold the job lock; yields False once closing or while another instance leads (the job must
        not start), saves the state after."""
        with self._lock:
            go = not self._closed and self._leader.held
            if go:
                crash_point("service.job_start")
            yield go
            if go:
                crash_point("service.before_save_state")
                self._save()

    def _refresh(self, paths: Sequence[Path], publish: bool) -> bool:
        """Ingest ``paths``; publish when that changed the store (or ``publish``).  True when published.

        No path (a rescan that found nothing changed) runs no ingest, and the last one stays
        reported, unless it failed: then an empty one clears the error.
        """
        touched = False
        failed = self._runs.get("ingest")
        if paths or (failed is not None and failed.error is not None):
            started = time.monotonic()
            try:
                result = ingest(self._config, self._store, self._clock(), paths)
            except DigestError as exc:
                self._failed("ingest", started, str(exc))
                return False
            self._metrics.ingested(result)
            keys = ("files", "read", "failed", "new", "changed")
            counts: dict[str, int | str] = {key: getattr(result, key) for key in keys}
            self._runs["ingest"] = JobRun(self._clock(), result.ms, counts)
            crash_point("service.after_ingest")
            touched = result.touched
        # A publish that failed (a full disk, a read-only folder) is tried again at every rescan.
        last = self._runs.get("publish")
        retry = last is not None and last.error is not None
        return (touched or publish or retry) and self._publish()

    def _publish(self) -> bool:
        started = time.monotonic()
        try:
            result = run_publish(self._config, self._store, self._notifier)
            articles = self._store.status().articles
        except DigestError as exc:
            self._failed("publish", started, str(exc))
            return False
        seconds = time.monotonic() - started
        self._metrics.published(result, seconds, articles)
        counts: dict[str, int | str] = {"written": result.written_count, "unchanged": result.unchanged}
        self._runs["publish"] = JobRun(self._clock(), round(seconds * 1000), counts)
        return True

    def _digest(self, job: Callable[[datetime], DigestResult | None]) -> None:
        started = time.monotonic()
        try:
            result = job(self._clock())
        except DigestError as exc:
            self._failed("digest", started, str(exc))
            return
        seconds = time.monotonic() - started
        self._metrics.digested(result, seconds)
        if result is not None:
            counts: dict[str, int | str] = {"day": result.digest.day.isoformat()}
            counts |= {"articles": result.digest.count, "sent": result.sent}
            counts |= {"failed": result.failed, "refused": result.refused}
            self._runs["digest"] = JobRun(self._clock(), round(seconds * 1000), counts)

    def _failed(self, job: str, started: float, error: str) -> None:
        log.error("%s failed: %s", job, error)
        self._metrics.failed(job)
        self._runs[job] = JobRun(self._clock(), round((time.monotonic() - started) * 1000), {}, error)

    def _save(self) -> None:
        try:
            save_state(self._config.paths.data, self.state())
        except OSError as exc:
            log.warning("cannot write %s in %s: %s", STATE_NAME, self._config.paths.data, exc.strerror)


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
        # The schema is migrated by ``_start``, while HTTP already answers.
        with data_lock(config.paths.data), Store.open(config.database_url, migrate=False) as store:
            mailer = make_mailer(config, config.paths.data)
            try:
                _run(config, store, mailer, stopping)
            finally:
                mailer.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _schedule(scheduler: BackgroundScheduler, config: Config, runner: Runner) -> None:
    """The safety-net rescan and the daily digest cron, in the configured timezone."""
    scheduler.add_job(
        runner.rescan, IntervalTrigger(seconds=config.schedule.scan_interval), id="scan", coalesce=True
    )
    clock = config.digest_clock
    scheduler.add_job(
        runner.digest,
        CronTrigger(hour=clock.hour, minute=clock.minute, timezone=config.tz),
        id="digest",
        coalesce=True,
        misfire_grace_time=DIGEST_GRACE_SECONDS,
    )
    scheduler.add_job(runner.retry, IntervalTrigger(seconds=RETRY_SECONDS), id="retry", coalesce=True)
    hour, minute = PRUNE_AT
    scheduler.add_job(
        runner.prune,
        CronTrigger(hour=hour, minute=minute, timezone=config.tz),
        id="prune",
        coalesce=True,
        misfire_grace_time=DIGEST_GRACE_SECONDS,
    )


def _tell_systemd(
    scheduler: BackgroundScheduler, server: uvicorn.Server, stopping: threading.Event, startup: Startup
) -> None:
    """Under ``Type=notify``: READY once HTTP answers (``STATUS=`` says whether start-up still runs);
    watchdog pings from the job scheduler.

    The pings come from a scheduler job, so a scheduler that stopped running
    jobs stops them too and systemd restarts the service (``WatchdogSec``).
    The scheduler runs from the start, so a long start-up is not taken for a hang.
    """
    interval = sdnotify.watchdog_interval()
    if interval is not None:
        scheduler.add_job(lambda: sdnotify.notify(sdnotify.WATCHDOG), IntervalTrigger(seconds=interval))

    def ready() -> None:
        while not server.started and not stopping.wait(0.05):
            pass
        if server.started:
            sdnotify.notify(sdnotify.READY, startup.status())

    threading.Thread(target=ready, name="digest-ready", daemon=True).start()


def _start(
    startup: Startup,
    store: Store,
    runner: Runner,
    steps: tuple[Callable[[], None], Callable[[], None]],
    stopping: threading.Event,
    server: uvicorn.Server,
) -> None:
    """Start-up in the background while HTTP answers: migrate, ``lead`` (try for the lead), catch
    up (re-read pages, the first publish, a missed digest), then ``begin`` the scheduled jobs.  A
    failure (a database newer than this code, one that cannot be reached) stops the server;
    ``serve`` raises it."""
    lead, begin = steps
    try:
        startup.step("migrating the database")
        before, after = store.migrate()
        if before.behind:
            log.info("database schema: %s → %s", before.current or "empty", after)
        if stopping.is_set():
            return
        lead()
        startup.step("reading pages and publishing")
        runner.take_over()
        crash_point("service.after_take_over")
        if not stopping.is_set():
            begin()
            startup.finish()
    except BaseException as exc:  # handed to the main thread, which raises it after HTTP stops
        startup.error = exc
        server.should_exit = True


def _run(config: Config, store: Store, mailer: Mailer, stopping: threading.Event) -> None:
    """Start HTTP at once and the rest in the background (``_start``); on the way out, stop them in
    order."""
    sock = listen(config.server.host, config.server.port)
    metrics = Metrics()
    leader = leadership(config.database_url)
    http = httpx.Client(timeout=HUB_TIMEOUT)
    notifier = Notifier(config.feeds.hubs, http) if config.feeds.hubs else None
    runner = Runner(config, store, mailer, metrics, leader=leader, notifier=notifier, stopping=stopping)
    watcher = Watcher(config.paths.source, stopping, runner.ingest, runner.rescan, runner.settler)
    watch_thread = threading.Thread(target=watcher.run, name="digest-watch", daemon=True)
    scheduler = BackgroundScheduler(timezone=config.tz)
    startup = Startup()

    def lead() -> None:
        # Every instance serves HTTP; only the leader runs jobs (a PostgreSQL advisory lock).
        leader.start(lambda: scheduler.add_job(runner.take_over, id="take-over", replace_existing=True))

    def begin() -> None:
        _schedule(scheduler, config, runner)
        watch_thread.start()
        metrics.track(store, leader)

    site = create_app(
        config.paths.output,
        health=startup.health(runner.health),
        hubs=config.feeds.hubs,
        base_url=config.site.base_url,
        health_token=config.health.token,
        routes={
            METRICS_PATH: metrics.asgi_app(),
            SEARCH_PATH: create_search_app(config, store),
            **subscription_routes(
                create_subscription_app(config, store, lambda: make_mailer(config, config.paths.data))
            ),
        },
        starting=lambda: startup.starting,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            metrics.count_requests(site),
            log_config=None,
            access_log=log.isEnabledFor(logging.DEBUG),
            timeout_graceful_shutdown=5,
            **server_options(),  # header timeout and a connection limit (digest.web.limits)
            # uvicorn would take X-Forwarded-For from any local peer as the client's address; we
            # decide whose header counts (server.trusted_proxies, digest.web.ratelimit.client_address).
            proxy_headers=False,
        )
    )
    starter = threading.Thread(
        target=_start, args=(startup, store, runner, (lead, begin), stopping, server), name="digest-start"
    )
    try:
        if not stopping.is_set():
            starter.start()
            log.info(
                "serving %s on http://%s:%d/ (starting)",
                config.paths.output,
                config.server.host,
                config.server.port,
            )
            _tell_systemd(scheduler, server, stopping, startup)
            scheduler.start()
            server.run(sockets=[sock])
    finally:
        stopping.set()
        sdnotify.notify(sdnotify.STOPPING)
        log.info("stopping: letting the job under way finish")
        runner.close()
        if starter.is_alive():
            starter.join()  # it sees ``stopping`` after the job under way and starts nothing more
        if watch_thread.is_alive():
            watch_thread.join()
        if scheduler.running:
            scheduler.shutdown(wait=True)
        leader.close()
        if notifier is not None:
            notifier.close(timeout=HUB_TIMEOUT)  # pings still retrying are dropped; hubs poll anyway
        http.close()
        sock.close()
        log.info("stopped")
    if startup.error is not None:
        raise startup.error
