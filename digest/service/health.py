"""The service's health, one report for ``/healthz`` and ``digest status``.

``digest serve`` records what each job did last (when, how long, counts, or
the error) and keeps it in ``<data>/health.json``, rewritten atomically after
every job.  ``/healthz`` answers from memory, ``digest status`` from that
file; both add live counts from the store, so the two always agree, and the
command still tells what the service last did after it stopped or crashed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from digest.store.records import StoreStatus

STATE_NAME = "health.json"
JOBS = ("ingest", "publish", "digest", "prune")


@dataclass(frozen=True)
class JobRun:
    """One run of a job: when it ended, how long it took, what it counted, or why it failed."""

    at: datetime
    ms: int
    counts: Mapping[str, int | str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class ServiceState:
    """What only the running service knows."""

    pid: int
    started: datetime
    runs: Mapping[str, JobRun]  # by job name, see ``JOBS``
    files_waiting: int
    problems: tuple[str, ...]  # standing problems outside any one job (a missing source folder)


def health_report(
    status: StoreStatus, state: ServiceState | None, now: datetime, max_issue_age: timedelta | None = None
) -> dict[str, Any]:
    """The health report: store counts plus the service's last runs (``None`` when it never ran).

    ``errors`` lists what is wrong now: a job whose last run failed, a
    standing problem, page files that cannot be read (a reader would miss
    their articles), or nothing new for longer than ``max_issue_age`` (the
    paper stopped arriving); ``status`` is ``degraded`` while that list is not
    empty.
    """
    service = _service_report(state)
    errors: list[str] = service.pop("errors")
    if status.failed_sources:
        errors.append(f"{len(status.failed_sources)} page files cannot be read (digest status lists them)")
    arrived = status.latest_arrival
    if max_issue_age is not None and arrived is not None and now - arrived > max_issue_age:
        hours = int((now - arrived).total_seconds() // 3600)
        errors.append(f"no new article for {hours} hours (last at {arrived.isoformat(timespec='minutes')})")
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


def unreachable_report(state: ServiceState | None, error: str) -> dict[str, Any]:
    """The health report when the database cannot be read: the service's last runs and the reason.

    ``digest status`` needs it most then, with PostgreSQL away; the counts, which only the
    database knows, are left out rather than shown as zero.
    """
    service = _service_report(state)
    return {"status": "error", "error": error, **service, "errors": [*service["errors"], error]}


def _service_report(state: ServiceState | None) -> dict[str, Any]:
    """What ``<data>/health.json`` says: pid, start, each job's last run, files waiting, errors."""
    errors: list[str] = []
    runs: dict[str, object] = {}
    for job in JOBS:
        run = state.runs.get(job) if state else None
        runs[f"last_{job}"] = None if run is None else _run_json(run)
        if run is not None and run.error is not None:
            errors.append(f"{job}: {run.error}")
    if state is not None:
        errors.extend(state.problems)
    return {
        "pid": state.pid if state else None,
        "started": state.started.isoformat() if state else None,
        **runs,
        "files_waiting": state.files_waiting if state else 0,
        "errors": errors,
    }


def _run_json(run: JobRun) -> dict[str, object]:
    result: dict[str, object] = {"at": run.at.isoformat(), "ms": run.ms, **run.counts}
    if run.error is not None:
        result["error"] = run.error
    return result


def save_state(data: Path, state: ServiceState) -> None:
    """Write ``<data>/health.json`` whole (temporary file, then rename): a reader never sees half."""
    payload = asdict(state)
    text = json.dumps(payload, ensure_ascii=False, default=_iso, indent=1)
    fd, name = tempfile.mkstemp(dir=data, prefix=f".{STATE_NAME}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(name, data / STATE_NAME)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def load_state(data: Path) -> ServiceState | None:
    """The state the service last saved, or ``None`` when it never ran here or the file is unreadable."""
    try:
        raw = json.loads((data / STATE_NAME).read_text(encoding="utf-8"))
        runs = {
            job: JobRun(datetime.fromisoformat(run["at"]), int(run["ms"]), dict(run["counts"]), run["error"])
            for job, run in raw["runs"].items()
        }
        return ServiceState(
            int(raw["pid"]),
            datetime.fromisoformat(raw["started"]),
            runs,
            int(raw["files_waiting"]),
            tuple(raw["problems"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in {STATE_NAME}")


def describe(health: Mapping[str, Any], running: int | None, tz: tzinfo) -> list[str]:
    """``digest status`` lines for a ``health_report``; ``running``: the serving pid (0: unknown) or None."""
    if health["pid"] is None:
        lines = ["service: has never run with this data folder"]
    elif running is not None:
        lines = [f"service: running (pid {running or health['pid']}) since {_local(health['started'], tz)}"]
    else:
        lines = [f"service: not running (pid {health['pid']} started {_local(health['started'], tz)})"]
    for job in JOBS:
        run = health[f"last_{job}"]
        if run is None:
            lines.append(f"last {job}: -")
            continue
        counts = ", ".join(f"{k} {v}" for k, v in run.items() if k not in ("at", "ms", "error"))
        outcome = f"FAILED: {run['error']}" if "error" in run else counts
        lines.append(f"last {job}: {_local(run['at'], tz)} ({run['ms']} ms) {outcome}")
    lines.append(f"files waiting: {health['files_waiting']}")
    lines.append("errors: " + ("none" if not health["errors"] else "; ".join(health["errors"])))
    return lines


def _local(iso: str, tz: tzinfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def max_issue_age(hours: int) -> timedelta | None:
    """``health.max_issue_age`` as a duration; 0 turns the check off."""
    return timedelta(hours=hours) if hours > 0 else None
