"""The service's health, one report for ``/healthz`` and ``digest status``.

``digest serve`` records what each job did last (when, how long, counts, or
the error) and keeps it in ``<data>/health.json``, rewritten atomically after
every job.  ``/healthz`` answers from memory, ``digest status`` from that
file; both add live counts from the store, so the two always agree, and the
command still tells what the service last did after it stopped or crashed.
The service starts from the runs that file kept (``carried_runs``), so a restart
does not blank them; it marks them ``carried`` until each job runs again, and saves the file
once at start, so that it names this process from the first second.
The commands that run a job by hand (``digest ingest``, ``publish``, ``build``,
``send-digest``, ``prune``) note it in ``<data>/cli-runs.json``, whether it ended
well or failed: a job's last run is the later of the two, whoever ran it.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.store.records import FailingEmails, StoreStatus

if TYPE_CHECKING:
    from digest.ingest.pipeline import IngestReport
    from digest.publish.build import PublishReport
    from digest.service.jobs import DigestResult
    from digest.service.retention import PruneReport

STATE_NAME = "health.json"
CLI_RUNS_NAME = "cli-runs.json"
JOBS = ("ingest", "publish", "digest", "prune")
_RUN_FIELDS = frozenset({"at", "ms", "error", "by", "carried"})
Counts = dict[str, int | str]
# How long subscription emails or digest copies may fail before the report says so: with
# ``digest.retry_seconds`` at its default that is four tries, so a server's one busy answer, which
# the next retry gets past, never shows.
MAIL_FAILING_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class JobRun:
    """One run of a job: when it ended, how long it took, what it counted, or why it failed."""

    at: datetime
    ms: int
    counts: Mapping[str, int | str] = field(default_factory=dict)
    error: str | None = None
    by: str | None = None  # the command that ran it (``digest ingest``); None: the service
    carried: bool = False  # the service's run from before its last start (``carried_runs``)


def ingest_counts(report: IngestReport) -> Counts:
    """What a run of the ingest job reports, by the service or ``digest ingest``."""
    return {key: getattr(report, key) for key in ("files", "read", "failed", "new", "changed", "retracted")}


def publish_counts(report: PublishReport) -> Counts:
    """What a run of the publish job reports."""
    return {"written": report.written_count, "unchanged": report.unchanged}


def digest_counts(result: DigestResult) -> Counts:
    """What a run of the digest job reports: the day and its emails."""
    counts: Counts = {"day": result.digest.day.isoformat(), "articles": result.digest.count}
    return counts | {"sent": result.sent, "failed": result.failed, "refused": result.refused}


def prune_counts(report: PruneReport) -> Counts:
    """What a run of the prune job reports."""
    return {"removed": report.removed, "deliveries": report.deliveries}


@dataclass(frozen=True)
class ServiceState:
    """What only the running service knows."""

    pid: int
    started: datetime
    runs: Mapping[str, JobRun]  # by job name, see ``JOBS``
    files_waiting: int
    problems: tuple[str, ...]  # standing problems outside any one job (a missing source folder)
    # False on a standby: another instance on the PostgreSQL database runs the jobs (docs/scaling.md);
    # None when saved at start, before start-up tried for the lead (``Runner.save_start``).
    leading: bool | None = True
    # The site.base_url it links with, which commands run beside it follow (``commands.common.follow_serve``);
    # None in a file from a version before it.
    base_url: str | None = None


def health_report(
    status: StoreStatus,
    state: ServiceState | None,
    now: datetime,
    max_issue_age: timedelta | None = None,
    by_hand: Mapping[str, JobRun] | None = None,
) -> dict[str, Any]:
    """The health report: store counts plus each job's last run, the service's (``state``, ``None``
    when it never ran) or a command's (``by_hand``, ``load_cli_runs``), whichever came later.

    ``errors`` lists what is wrong now: a job whose last run failed, a
    standing problem, page files that cannot be read (a reader would miss
    their articles), or nothing new for longer than ``max_issue_age`` (the
    paper stopped arriving), or subscription emails or digest copies failing to go for
    ``MAIL_FAILING_AFTER`` with no email of their kind sent since (``FailingEmails``); ``status`` is
    ``degraded`` while that list is not
    empty.  A failed run by hand is listed as the service's is, until a later run of the job, the
    service's or a command's, ends well; one by hand that ended well never hides a failure of the
    service's (``failing``).
    """
    service = _service_report(state, by_hand or {})
    errors: list[str] = service.pop("errors")
    if status.failed_sources:
        count = len(status.failed_sources)
        files = "1 page file cannot be read (digest status names it)" if count == 1 else None
        errors.append(files or f"{count} page files cannot be read (digest status lists them)")
    arrived = status.latest_arrival
    if max_issue_age is not None and arrived is not None and now - arrived > max_issue_age:
        hours = int((now - arrived).total_seconds() // 3600)
        errors.append(f"no new article for {hours} hours (last at {arrived.isoformat(timespec='minutes')})")
    kinds = ((status.failing_notices, "subscription email"), (status.failing_copies, "digest copy"))
    for failing, what in kinds:
        if failing is not None and now - failing.since >= MAIL_FAILING_AFTER:
            errors.append(_mail_failing(failing, what, now))
    return {
        "status": "degraded" if errors else "ok",
        **service,
        "errors": errors,
        "articles": status.articles,
        "latest_issue": status.latest_issue.isoformat() if status.latest_issue else None,
        "latest_digest": status.latest_digest.isoformat() if status.latest_digest else None,
        "unreadable_files": len(status.failed_sources),
        "latest_arrival": status.latest_arrival.isoformat() if status.latest_arrival else None,
        "unsure_dates": len(status.unsure_dates),
        "subscribers": status.subscribers,
        "emails_waiting": status.pending_deliveries,
        "subscription_emails": dict(status.notices),
    }


def _mail_failing(failing: FailingEmails, what: str, now: datetime) -> str:
    """What the report says of emails (``what``: one of them) that keep failing, and what to do."""
    minutes = int((now - failing.since).total_seconds() // 60)
    plural = what.removesuffix("y") + "ies" if what.endswith("y") else what + "s"
    emails = f"1 {what}" if failing.count == 1 else f"{failing.count} {plural}"
    return (
        f"mail failing: {emails} not sent for {minutes} minutes, every try since the last email that went"
        f" failed (last error: {failing.last_error}); the service retries them: check the mail server and"
        " the [smtp] settings (`digest check` tries them), or the outbox folder without smtp.host"
    )


def unreachable_report(
    state: ServiceState | None, error: str, by_hand: Mapping[str, JobRun] | None = None
) -> dict[str, Any]:
    """The health report when the database cannot be read: the last runs and the reason.

    ``digest status`` needs it most then, with PostgreSQL away; the counts, which only the
    database knows, are left out rather than shown as zero.
    """
    service = _service_report(state, by_hand or {})
    return {"status": "error", "error": error, **service, "errors": [*service["errors"], error]}


def _service_report(state: ServiceState | None, by_hand: Mapping[str, JobRun]) -> dict[str, Any]:
    """What ``<data>/health.json`` says (pid, start, files waiting, errors), with each job's last run
    taken from it or from ``by_hand``, whichever is later."""
    errors: list[str] = []
    runs: dict[str, object] = {}
    for job in JOBS:
        run = state.runs.get(job) if state else None
        hand = by_hand.get(job)
        last = max((r for r in (run, hand) if r is not None), key=lambda r: r.at, default=None)
        runs[f"last_{job}"] = None if last is None else _run_json(last)
        errors.extend(f"{job}: {error}" for error in failing(run, hand))
    if state is not None:
        errors.extend(state.problems)
    return {
        "pid": state.pid if state else None,
        "started": state.started.isoformat() if state else None,
        "leading": state.leading if state else None,
        **runs,
        "files_waiting": state.files_waiting if state else 0,
        "errors": errors,
    }


def failing(service: JobRun | None, hand: JobRun | None) -> list[str]:
    """The errors of a job's last runs that still stand: ``service``'s and ``hand``'s (``by_hand``).

    The service's failure stands until the service's own run of the job ends well: a run by hand
    that worked may have had another environment (a shell's variables, another user, another
    ``--output``), so it proves nothing of the service's, which tries ingest and publish again at
    every rescan.  A failure by hand stands until any later run of the job ends well, the service's
    or a command's (which replaces it in ``cli-runs.json``); the service tries that job again at its
    next chance, as after a failure of its own (``Runner``): a rescan for ingest, publish and prune,
    its minutely retry for the digest, so a mistake by hand is not reported for a day.
    """
    mine = None if service is None else service.error
    theirs = None if hand is None else hand.error
    errors: list[str] = []
    if mine is not None:
        # Beside a later run by hand that did not fail so, which is shown as the job's last: whose it is.
        beside = hand is not None and service is not None and hand.at > service.at and theirs != mine
        errors.append(mine + (" (by the service)" if beside else ""))
    if hand is None or theirs is None or theirs == mine:
        return errors
    if service is not None and mine is None and service.at > hand.at:
        return errors  # the service did the work since, and it worked
    return [*errors, theirs + (f" (by {hand.by})" if errors and hand.by else "")]


def hand_failed_since(service: JobRun | None, hand: JobRun | None) -> bool:
    """True when ``hand``, a run by hand, failed after ``service``'s last run of the same job (or
    it never ran): the service runs the job again to find whether the work itself fails."""
    return hand is not None and hand.error is not None and (service is None or service.at < hand.at)


def _run_json(run: JobRun) -> dict[str, object]:
    result: dict[str, object] = {"at": run.at.isoformat(), "ms": run.ms, **run.counts}
    if run.error is not None:
        result["error"] = run.error
    if run.by is not None:
        result["by"] = run.by
    if run.carried:
        result["carried"] = True  # only when so: a reader of an older report sees what it knew
    return result


def save_state(data: Path, state: ServiceState) -> None:
    """Write ``<data>/health.json`` whole (temporary file, then rename): a reader never sees half."""
    _write_whole(data / STATE_NAME, asdict(state))


def _write_whole(path: Path, payload: object) -> None:
    text = json.dumps(payload, ensure_ascii=False, default=_iso, indent=1)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def save_cli_run(data: Path, job: str, run: JobRun) -> None:
    """Note in ``<data>/cli-runs.json`` the run of ``job`` a command made; the other jobs' stay."""
    folder = os.open(data, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # One command at a time reads and rewrites it, or two ending at once would each keep only
        # its own job.  The folder is locked, as the file is replaced and a lock on it would not hold.
        fcntl.flock(folder, fcntl.LOCK_EX)
        runs = {**load_cli_runs(data), job: run}
        # A run by hand is never carried: the file keeps the fields it had before ``carried`` was.
        kept = {
            name: {key: value for key, value in asdict(each).items() if key != "carried"}
            for name, each in runs.items()
        }
        _write_whole(data / CLI_RUNS_NAME, kept)
    finally:
        os.close(folder)


def load_cli_runs(data: Path) -> dict[str, JobRun]:
    """Each job's last run by a command (``save_cli_run``); none when no command ran one here."""
    try:
        raw = json.loads((data / CLI_RUNS_NAME).read_text(encoding="utf-8"))
        return {job: _job_run(run) for job, run in raw.items() if job in JOBS}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _job_run(raw: Mapping[str, Any]) -> JobRun:
    at = datetime.fromisoformat(raw["at"])
    if at.tzinfo is None:
        # We always write an offset; a file edited by hand without one could not be compared.
        raise ValueError(f"{raw['at']!r} has no UTC offset")
    # A count named like a field of the run would overwrite it when the run is shown.
    counts = {name: value for name, value in dict(raw["counts"]).items() if name not in _RUN_FIELDS}
    error, by = raw.get("error"), raw.get("by")
    if not all(value is None or isinstance(value, str) for value in (error, by)):
        raise TypeError("a run's error and by are text")  # shown as they are: nothing else is ours
    # Absent from the files of a version before it; a run by hand is never carried.
    return JobRun(at, int(raw["ms"]), counts, error, by, raw.get("carried") is True)


def load_state(data: Path) -> ServiceState | None:
    """The state the service last saved, or ``None`` when it never ran here or the file is unreadable."""
    try:
        raw = json.loads((data / STATE_NAME).read_text(encoding="utf-8"))
        runs = {job: _job_run(run) for job, run in raw["runs"].items()}
        leading = raw.get("leading", True)  # absent from the files of a version before it: always led
        base_url = raw.get("base_url")
        return ServiceState(
            int(raw["pid"]),
            datetime.fromisoformat(raw["started"]),
            runs,
            int(raw["files_waiting"]),
            tuple(raw["problems"]),
            None if leading is None else bool(leading),
            base_url if isinstance(base_url, str) else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def carried_runs(data: Path) -> dict[str, JobRun]:
    """Each job's last run as the service saved it before this start (``load_state``), for the
    service to carry on from; none when it never ran here or the file is unreadable.

    Without them a restart (an upgrade, a reboot, systemd after a crash) showed ``last ingest: -``
    until each job ran again, just when an operator looks.  A failure is carried too: a restart that
    did not fix it must not hide it.  It stays only until the job's next run replaces it, which the
    start-up's catch-up makes at once for ingest, publish and a digest not made (``Runner``).
    Each is marked ``carried``: a status that showed it as this start's would tell of work not done.
    """
    state = load_state(data)
    runs = state.runs if state else {}
    return {job: replace(run, carried=True) for job, run in runs.items() if job in JOBS}


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in {STATE_NAME}")


def describe(health: Mapping[str, Any], running: int | None, tz: tzinfo) -> list[str]:
    """``digest status`` lines for a ``health_report``; ``running``: the serving pid (0: unknown) or None."""
    if health["pid"] is None and running is not None:
        lines = [f"service: starting (pid {running or '?'}); it has run no job yet"]
    elif health["pid"] is None:
        lines = ["service: has never run with this data folder"]
    elif running is not None:
        lines = [f"service: running (pid {running or health['pid']}) since {_local(health['started'], tz)}"]
        if health.get("leading") is False:
            # Its own runs below are none, or those from when it led: say where the jobs' runs are seen.
            lines.append("role: standby (another instance leads and runs the jobs; its status shows them)")
        elif health.get("leading") is None:
            lines.append("role: not known yet (start-up tries for the lead once the database answers)")
    else:
        lines = [f"service: not running (pid {health['pid']} started {_local(health['started'], tz)})"]
    for job in JOBS:
        run = health[f"last_{job}"]
        if run is None:
            lines.append(f"last {job}: -")
            continue
        counts = ", ".join(f"{k} {v}" for k, v in run.items() if k not in _RUN_FIELDS)
        outcome = f"FAILED: {run['error']}" if "error" in run else counts
        by = f" (by {run['by']})" if "by" in run else ""
        if run.get("carried") and health["started"] is not None:
            by += f" (before the restart at {datetime.fromisoformat(health['started']).astimezone(tz):%H:%M})"
        lines.append(f"last {job}: {_local(run['at'], tz)} ({run['ms']} ms) {outcome}{by}")
    lines.append(f"files waiting: {health['files_waiting']}")
    lines.append("errors: " + ("none" if not health["errors"] else "; ".join(health["errors"])))
    return lines


def _local(iso: str, tz: tzinfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def max_issue_age(hours: int) -> timedelta | None:
    """``health.max_issue_age`` as a duration; 0 turns the check off."""
    return timedelta(hours=hours) if hours > 0 else None
