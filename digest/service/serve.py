"""``digest serve``: one process that watches, ingests, publishes, sends digests and serves HTTP.

Threads: uvicorn's event loop on the main thread (it owns SIGINT/SIGTERM),
an APScheduler background scheduler (safety-net rescans and the daily
digest cron), and a watcher thread for low-latency ingest (``digest.ingest.watch``).
``Runner`` holds every job and one lock, so jobs never overlap; ``_run`` is
the one place that starts and stops the threads.  On SIGTERM, SIGINT or SIGHUP
(unless started under ``nohup``) the HTTP server stops, the job under way
finishes (a publish only ever renames whole files into place, a send stops
between two emails), no new job starts, and the process exits 0.  A lock file
in the data folder keeps a second ``serve`` away from the same database and
outbox.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import httpx
import psycopg
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import Config
from digest.config_warnings import lan_warnings
from digest.errors import SchemaError, StoreError
from digest.faults import crash_point
from digest.ingest.watch import Watcher
from digest.mail.transports import Mailer, make_mailer, smtp_problem
from digest.service import sdnotify, stop_signals
from digest.service.datalock import data_lock
from digest.service.leader import leadership
from digest.service.listening import listen
from digest.service.metrics import METRICS_PATH, Metrics
from digest.service.runner import Runner
from digest.service.startup import Startup
from digest.service.websub import HUB_TIMEOUT, Notifier
from digest.store.database import Store
from digest.store.urls import is_postgresql
from digest.store.versioning import SchemaVersion
from digest.web.hosts import HostNames
from digest.web.limits import server_options
from digest.web.search import PATH as SEARCH_PATH
from digest.web.search import create_search_app
from digest.web.server import create_app
from digest.web.subscriptions import create_subscription_app, signup_mailer, subscription_routes

log = logging.getLogger(__name__)


# How long a digest cron run may start late (a long ingest) and still run; one missed by more (machine
# asleep, clock stepped forward) is made by the retry job within a minute (``jobs.missed_digest``).
DIGEST_GRACE_SECONDS = 3600
# How often emails waiting for a retry (each row has its own backoff time) and a missed digest are looked at.
RETRY_SECONDS = 60
# How often start-up tries again to reach a PostgreSQL server that did not answer.
DATABASE_RETRY_SECONDS = 5.0
# Local time of the daily retention run (``digest.service.retention``): a quiet hour for most papers.
PRUNE_AT = (3, 40)


def serve(config: Config) -> None:
    """Run until SIGINT, SIGTERM or SIGHUP, then stop every thread and return (exit status 0)."""
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        # Before uvicorn runs and after it re-raises the signal it caught: just remember it.
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in stop_signals()}
    # A home server's operator runs serve, rarely check: say it where they look (journal, terminal).
    for warning in lan_warnings(config):
        log.warning("%s", warning)
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
        migrated = _migrate_once_reachable(store, startup, stopping)
        if migrated is None:
            return
        before, after = migrated
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


def _migrate_once_reachable(
    store: Store, startup: Startup, stopping: threading.Event
) -> tuple[SchemaVersion, str] | None:
    """``store.migrate()``, waiting while a PostgreSQL server does not answer; None if told to stop.

    At boot the service may come up before its database server (or the network to it): exiting would
    take the site down with it and leave a restart loop to the init system, while HTTP can go on
    serving the previous output.  A server that answers with an error (``_not_answering``), a schema
    this code cannot use, and any SQLite failure (no server to wait for: a path or permission the
    operator must fix) still stop start-up with the reason."""
    said = ""
    while True:
        try:
            return store.migrate()
        except SchemaError:
            raise
        except StoreError as exc:
            if not is_postgresql(store.url) or not _not_answering(exc):
                raise
            if str(exc) != said:
                said = str(exc)
                log.warning(
                    "waiting for the database, serving the previous output meanwhile (again every %g s): %s",
                    DATABASE_RETRY_SECONDS,
                    exc,
                )
            startup.step("waiting for the database")
        if stopping.wait(DATABASE_RETRY_SECONDS):
            return None


# What a PostgreSQL server answers while it cannot take connections for a while; any other FATAL
# answer at connection (a wrong password, no such database or role) waiting will not mend.
_PASSING = (
    "starting up",
    "shutting down",
    "in recovery",
    "too many clients",
    "not yet accepting",
    "not accepting connections",
    "connection slots are reserved",
)


def _not_answering(exc: StoreError) -> bool:
    """Whether ``exc`` is a PostgreSQL server not answering yet (refused, unreachable, timed out,
    starting up) rather than one that answered with an error: a wrong password, a missing database
    or role, a statement that failed.  libpq gives no SQLSTATE at connection, so its words tell."""
    reason = getattr(exc.__cause__, "orig", None)
    if not isinstance(reason, psycopg.OperationalError) or reason.sqlstate is not None:
        return False
    text = str(reason)
    return "FATAL:" not in text or any(words in text for words in _PASSING)


def _probe_smtp(config: Config) -> None:
    """Log at start-up, rather than at the first digest, that the SMTP server cannot take our mail.

    Only a warning: a relay that is down for a while must not keep the site and feeds from serving,
    and the digest's emails wait for a retry until it is back."""
    problem = smtp_problem(config.smtp)
    if problem is not None:
        log.warning("smtp.host: %s (emails wait for a retry meanwhile)", problem)


def _hang_up(server: uvicorn.Server, stopping: threading.Event) -> None:
    """SIGHUP (uvicorn takes only SIGINT and SIGTERM): stop as for SIGTERM, and say why."""
    log.warning("SIGHUP: stopping as for SIGTERM (digest serve has nothing to reload; start it again)")
    stopping.set()  # a send under way stops between two emails now, not after HTTP has closed
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

    # Sign-up emails on the app's own threads, with a short SMTP timeout but for the reply to the ".".
    subscriptions = create_subscription_app(config, store, lambda: signup_mailer(config))
    site = create_app(
        config.paths.output,
        health=startup.health(runner.health),
        hubs=config.feeds.hubs,
        base_url=config.site.base_url,
        health_token=config.health.token,
        routes={
            METRICS_PATH: metrics.asgi_app(),
            SEARCH_PATH: create_search_app(config, store),
            **subscription_routes(subscriptions),
        },
        starting=lambda: startup.starting,
        hosts=HostNames.of(config),
        language=config.site.language,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            metrics.count_requests(site),
            log_config=None,
            access_log=log.isEnabledFor(logging.DEBUG),
            timeout_graceful_shutdown=5,
            **server_options(),  # a request deadline and a connection limit (digest.web.limits)
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
            runner.save_start()  # health.json names this process at once, not after its first job
            starter.start()
            if config.smtp.host:
                threading.Thread(
                    target=_probe_smtp, args=(config,), name="digest-smtp-probe", daemon=True
                ).start()
            host = config.server.host
            log.info(
                "serving %s on http://%s:%d/ (starting)",
                config.paths.output,
                f"[{host}]" if ":" in host else host,  # an IPv6 address, as a URL writes it
                config.server.port,
            )
            _tell_systemd(scheduler, server, stopping, startup)
            scheduler.start()
            if signal.SIGHUP in stop_signals():  # not under nohup
                signal.signal(signal.SIGHUP, lambda _signum, _frame: _hang_up(server, stopping))
            server.run(sockets=[sock])
    finally:
        stopping.set()
        sdnotify.notify(sdnotify.STOPPING)
        log.info("stopping: letting the job under way finish")
        runner.close()
        subscriptions.close()  # the sign-up emails under way end within their timeouts; the rest wait queued
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
