"""What the service runs, each job once at a time: ingest, publish, the digest, retries and pruning,
with their health and metrics."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest.config import Config
from digest.errors import DigestError
from digest.faults import crash_point
from digest.ingest.pipeline import ingest
from digest.ingest.scan import changed_files
from digest.ingest.watch import Settler, quiet_for
from digest.mail.transports import Mailer
from digest.service.health import (
    STATE_NAME,
    JobRun,
    ServiceState,
    carried_runs,
    digest_counts,
    hand_failed_since,
    health_report,
    ingest_counts,
    load_cli_runs,
    max_issue_age,
    prune_counts,
    publish_counts,
    save_state,
)
from digest.service.jobs import DigestResult, catch_up_digest, retry_deliveries, run_publish
from digest.service.leader import Leadership, SoleLeader
from digest.service.metrics import Metrics
from digest.service.retention import prune
from digest.service.websub import Notifier
from digest.store.database import Store

log = logging.getLogger(__name__)

# While a job keeps failing the same way, how often the log says so again.
REMIND_SECONDS = 3600


def utc_now() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


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
        self._runs = carried_runs(config.paths.data)  # what it did before this start
        self._started = clock()
        self.settler = Settler(config.ingest.settle_seconds)
        self._said: str | None = None  # the source folder problem last logged
        self._saved_leading: bool | None = None  # the role health.json last said (None: not known)
        self._repeats = Repeats()

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
            present: set[str] | None = None
            try:
                encoding = self._config.ingest.encoding
                files, present = ([], None) if problem else changed_files(self._store, source, encoding)
            except OSError as exc:
                self._failed("ingest", time.monotonic(), f"cannot read the source folder {source} ({exc})")
                return
            except DigestError as exc:
                self._failed("ingest", time.monotonic(), str(exc))
                return
            settled = {path for path in files if quiet_for(path, self._config.ingest.settle_seconds)}
            # Files still being written wait in the settler; the watcher hands them on once whole.
            self.settler.note(path for path in files if path not in settled)
            self._refresh([path for path in files if path in settled], publish, present)
            if self._failing("prune"):
                # Tried again at every rescan, as a publish is: its failure (the service's, or one by
                # hand since) stands until a prune works (``health.failing``), and the nightly run
                # would keep it for a day.
                self._prune()

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
        """The daily cron job, also run at start-up: make the latest due digest if it was missed, or
        finish its emails that are due."""
        with self._job() as go:
            if go:
                self._digest(
                    lambda now: catch_up_digest(
                        self._config, self._store, self._mailer, now, self._notifier, self._stopping.is_set
                    )
                )

    def retry(self) -> None:
        """Every minute: make a digest whose cron run was missed while running (``missed_digest``), and
        send the emails whose retry is due, whatever their digest."""
        with self._job() as go:
            if go:
                self._digest(self._retry_due)

    def _retry_due(self, now: datetime) -> DigestResult | None:
        results = retry_deliveries(
            self._config, self._store, self._mailer, now, self._notifier, self._stopping.is_set
        )
        return results[-1] if results else None

    def prune(self) -> None:
        """The daily retention job: old ledger rows, sign-ups, outbox files and dry runs go."""
        with self._job() as go:
            if go:
                self._prune()

    def _prune(self) -> None:
        started = time.monotonic()
        try:
            report = prune(self._config, self._store, self._clock())
        except DigestError as exc:
            self._failed("prune", started, str(exc))
            return
        ms = round((time.monotonic() - started) * 1000)
        self._done("prune", JobRun(self._clock(), ms, prune_counts(report)))

    def take_over(self) -> None:
        """At start-up and whenever this instance gains the lead: ingest what was missed, publish, and
        make (or finish) a missed digest."""
        self.rescan(publish=True)
        self.digest()

    def save_start(self) -> None:
        """Save the state once as the service starts, before any job: this process's pid and start,
        the runs carried from before, and no role yet (``leading`` None) unless it always leads.

        Until the first job ended, ``health.json`` named the previous process, and ``digest status``
        said this one ran since that one's start: for as long as start-up waited for PostgreSQL or
        read a big folder.  Before start-up tries for the lead, ``held`` is False on any instance of a
        shared database, which is no standby yet: saved as such, a standby's first job would find its
        role already saved and never drop its failed runs (``_job``).  No crash point: a kill leaves
        the previous file or this one, whole (``save_state``), and the next start carries either's runs.
        """
        with self._lock:
            self._save(dataclasses.replace(self.state(), leading=self._leader.held or None))

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
            leading=self._leader.held,
            base_url=self._config.site.base_url,
        )

    def health(self) -> Mapping[str, object]:
        """For ``/healthz``; ``digest status`` prints the same.  A dead database raises ``StoreError``."""
        state = self.state()
        self._metrics.files_waiting.set(state.files_waiting)
        age = max_issue_age(self._config.health.max_issue_age)
        by_hand = load_cli_runs(self._config.paths.data)  # a digest ingest or send-digest beside it
        return health_report(self._store.status(), state, self._clock(), age, by_hand)

    @contextmanager
    def _job(self) -> Iterator[bool]:
        """Hold the job lock; yields False once closing or while another instance leads (the job must
        not start), saves the state after, and on a standby whenever its role changed, so that
        ``digest status`` beside it says it runs (as a standby) rather than that it never ran."""
        with self._lock:
            go = not self._closed and self._leader.held
            if go:
                crash_point("service.job_start")
            yield go
            if go:
                crash_point("service.before_save_state")
                self._save()
            elif not self._closed and self._saved_leading is not self._leader.held:
                self._stand_by()

    def _stand_by(self) -> None:
        """This instance became a standby: forget its failed runs, then save the role.

        A standby runs no job, so a failure from when it led (before a restart, or before it lost
        the lead) would never be replaced, and would keep it degraded for as long as it stands by;
        how the job runs now is the leader's to tell.  Its runs that ended well stay: what it did.
        """
        self._runs = {job: run for job, run in self._runs.items() if run.error is None}
        self._save()

    def _refresh(self, paths: Sequence[Path], publish: bool, present: set[str] | None = None) -> bool:
        """Ingest ``paths``; with ``present``, the names of every page file a rescan listed, also
        retract the articles of files gone from the folder (``retract_vanished``, as a scan of the
        whole folder by ``digest ingest`` does); publish when that changed the store (or
        ``publish``).  True when published.

        A rescan that found nothing changed and nothing gone is no run: the last one stays
        reported, unless it failed, or a run by hand failed since: then this one tells whether the
        work itself fails, and clears the error when it does not (``health.failing``).  One that
        only retracted is a run, reported with its count.
        """
        touched = False
        failing = self._failing("ingest")
        if paths or failing or present is not None:
            started = time.monotonic()
            try:
                result = ingest(self._config, self._store, self._clock(), paths, present=present)
            except DigestError as exc:
                self._failed("ingest", started, str(exc))
                return False
            if paths or failing or result.touched:
                self._metrics.ingested(result)
                self._done("ingest", JobRun(self._clock(), result.ms, ingest_counts(result)))
                crash_point("service.after_ingest")
            # A run that failed may have stored part of its work before it stopped: the one that
            # works publishes it, or it waited for the next page to change.
            touched = result.touched or failing
        # A publish that failed (a full disk, a read-only folder) is tried again at every rescan, and
        # one after a publish by hand failed: else that failure stood until the next page arrived.
        return (touched or publish or self._failing("publish")) and self._publish()

    def _publish(self) -> bool:
        started = time.monotonic()
        try:
            result = run_publish(self._config, self._store, self._notifier)
        except DigestError as exc:
            self._failed("publish", started, str(exc))
            return False
        seconds = time.monotonic() - started
        self._metrics.published(result, seconds)
        self._done("publish", JobRun(self._clock(), round(seconds * 1000), publish_counts(result)))
        return True

    def _digest(self, job: Callable[[datetime], DigestResult | None]) -> None:
        failing = self._failing("digest")
        if failing:
            # A failed run (the service's, or one by hand since) may have made the digest and stopped
            # before publishing its page: the emails sent now would link a page not there.  A publish
            # that fails holds no email back, though (its failure is the publish job's to report):
            # else a blocked output folder kept every copy waiting until it expired, and the sign-ups'
            # confirmations, which this job sends too.
            self._publish()
        started = time.monotonic()
        try:
            result = job(self._clock())
        except DigestError as exc:
            self._failed("digest", started, str(exc))
            return
        seconds = time.monotonic() - started
        self._metrics.digested(result, seconds)
        if result is not None:
            self._done("digest", JobRun(self._clock(), round(seconds * 1000), digest_counts(result)))
            return
        if failing:
            # Nothing was due, and nothing failed: the job works again.  Kept, the failure (the
            # service's, or one by hand since) stood until the next day's digest (``health.failing``).
            self._done("digest", JobRun(self._clock(), round(seconds * 1000), {"sent": 0}))

    def _failing(self, job: str) -> bool:
        """Whether ``job``'s last run failed: the service's own, or one by hand since (``cli-runs.json``).

        Either way the service runs the job again at its next chance (a rescan for ingest, publish and
        prune, the minutely retry for the digest), to find whether the work itself fails; its run that
        works clears the failure.  A run by hand is often the operator's own shell, user or folders.
        """
        last = self._runs.get(job)
        by_hand = load_cli_runs(self._config.paths.data).get(job)
        return (last is not None and last.error is not None) or hand_failed_since(last, by_hand)

    def _done(self, job: str, run: JobRun) -> None:
        self._repeats.ended(job, f"{job} works again")
        self._runs[job] = run

    def _failed(self, job: str, started: float, error: str) -> None:
        self._repeats.say(job, logging.ERROR, f"{job} failed: {error}")
        self._metrics.failed(job)
        self._runs[job] = JobRun(self._clock(), round((time.monotonic() - started) * 1000), {}, error)

    def _save(self, state: ServiceState | None = None) -> None:
        """Write ``state`` (by default the current one) to ``health.json``; a failure is logged."""
        state = state or self.state()
        self._saved_leading = state.leading
        try:
            save_state(self._config.paths.data, state)
        except OSError as exc:
            message = f"cannot write {STATE_NAME} in {self._config.paths.data}: {exc.strerror}"
            self._repeats.say(STATE_NAME, logging.WARNING, message)
        else:
            self._repeats.ended(STATE_NAME, f"{STATE_NAME} written again")


class Repeats:
    """Log lines for standing problems: each one when it starts or changes, then a reminder every
    ``REMIND_SECONDS`` while it lasts, and one line when it ends.

    A job retried at every rescan (a full disk, a read-only folder) would otherwise log the same
    error every ``schedule.scan_interval``, for days, burying everything else.
    """

    def __init__(self) -> None:
        self._standing: dict[str, _Standing] = {}

    def say(self, key: str, level: int, message: str) -> None:
        """``message`` failed again for ``key``: logged when new or due for a reminder."""
        now = time.monotonic()
        standing = self._standing.get(key)
        if standing is None or standing.message != message:
            self._standing[key] = _Standing(message, now, time.time())
            log.log(level, "%s", message)
            return
        standing.repeats += 1
        if now - standing.said >= REMIND_SECONDS:
            standing.said = now
            since = datetime.fromtimestamp(standing.since).astimezone().isoformat(timespec="seconds")
            log.log(level, "%s (still, %d times since %s)", message, standing.repeats + 1, since)

    def ended(self, key: str, message: str) -> None:
        """``key`` worked: say so once if it had been failing."""
        standing = self._standing.pop(key, None)
        if standing is not None:
            log.info("%s after %d failed attempts", message, standing.repeats + 1)


@dataclass
class _Standing:
    message: str
    said: float  # monotonic time it was last logged
    since: float  # wall-clock time it began, for the reminder
    repeats: int = 0  # times it came back after the first, logged or not
