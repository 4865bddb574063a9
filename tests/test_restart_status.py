"""``digest status`` after ``digest serve`` restarts: what the service last did is still there.

Before, ``<data>/health.json`` was rewritten at every start with no run in it, so after an upgrade,
a reboot or systemd restarting a crashed service the status said ``last ingest: -`` (and ``last
digest`` fell back to an older run by hand) until each job ran again: just when an operator looks.
A run kept from before the restart is marked so (``carried``), and the file is saved once at start,
so that status tells this process's start from the first second.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import digest_time_long_past
from loopback import free_port, wait_for
from test_service import ROOT, Serve

from digest.ingest.scan import RACY_NS
from digest.service.health import (
    JobRun,
    ServiceState,
    carried_runs,
    describe,
    health_report,
    load_state,
    save_state,
)
from digest.store.records import StoreStatus

TZ = ZoneInfo("Asia/Shanghai")  # the default schedule.timezone, in which status writes times


def _status(service: Serve) -> tuple[dict[str, Any], str]:
    """``digest status --json`` and ``digest status`` beside ``service``, as an operator runs them."""
    done = service.run("status", "--json")
    assert done.returncode == 0, done.stderr
    text = service.run("status")
    assert text.returncode == 0, text.stderr
    return json.loads(done.stdout), text.stdout


@pytest.mark.slow
def test_status_still_shows_the_last_runs_after_a_restart(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    # A file changed within RACY_NS of its reading is read again at the next rescan: aged past it,
    # the pages leave the second start nothing to ingest, so its last ingest is the first start's.
    time.sleep(RACY_NS / 1e9 + 0.2)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "health.json").write_text('{"pid": 12, "runs": {', encoding="utf-8")
    # Both starts on one digest time far from the clock: with the default (23:00 UTC) passing between
    # them, the second start would make that day's digest, and carry no last digest from the first.
    schedule = {"DIGEST_SCHEDULE_DIGEST_TIME": digest_time_long_past()}
    first = Serve(tmp_path, pages, settings=schedule)  # a broken file is read as none: as a fresh folder
    try:
        before, _ = _status(first)
    finally:
        assert first.stop() == 0, first.log()
    assert before["last_ingest"]["files"] > 0 and before["last_digest"] is not None, before

    # Nothing changed in the folder: no ingest and no digest to make.
    again = Serve(tmp_path, pages, settings=schedule)
    try:
        after, text = _status(again)
    finally:
        assert again.stop() == 0, again.log()
    assert after["pid"] == again.process.pid and after["status"] == "ok", after  # saved since the start
    # Kept from the first start, and marked so; the start-up's publish is this start's own run.
    assert after["last_ingest"] == {**before["last_ingest"], "carried": True}, after
    assert after["last_digest"] == {**before["last_digest"], "carried": True}, after
    assert "carried" not in before["last_publish"] and "carried" not in after["last_publish"], after
    restart = datetime.fromisoformat(after["started"]).astimezone(TZ)
    lines = {line.split(":")[0]: line for line in text.splitlines()}
    for job in ("ingest", "digest"):
        assert lines[f"last {job}"].endswith(f" (before the restart at {restart:%H:%M})"), text
    assert "restart" not in lines["last publish"], text
    assert "last ingest: -" not in text and "last digest: -" not in text, text
    assert "Traceback" not in first.log() + again.log()


@pytest.mark.slow
def test_a_failure_from_before_a_restart_stays_until_the_job_runs_again(tmp_path: Path) -> None:
    """The file is as 0.1.0 wrote it (no ``leading``, no ``by``); its publish failed and so did its
    nightly prune.  Each failure is carried until the job runs again, which start-up does for both:
    the publish always, the prune because it failed (tried again at every rescan, as a publish is).
    Before, the prune's failure stood until the nightly run or one by hand, which now proves nothing
    of the service's own (``health.failing``)."""
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    (tmp_path / "data").mkdir()
    before = datetime.now(UTC) - timedelta(hours=5)
    refused = "cannot remove dry-runs/2024-01-01 (Read-only file system)"
    old = {
        "pid": 4242,
        "started": (before - timedelta(days=3)).isoformat(),
        "runs": {
            "publish": {"at": before.isoformat(), "ms": 40, "counts": {}, "error": "No space left on device"},
            "prune": {"at": before.isoformat(), "ms": 12, "counts": {}, "error": refused},
        },
        "files_waiting": 0,
        "problems": [],
    }
    (tmp_path / "data" / "health.json").write_text(json.dumps(old), encoding="utf-8")
    assert load_state(tmp_path / "data") is not None  # read as the service will, carried at its start
    service = Serve(tmp_path, pages)
    try:
        health, text = _status(service)
        assert health["pid"] == service.process.pid and health["status"] == "ok", health
        assert health["last_publish"]["written"] > 0 and "error" not in health["last_publish"]
        assert "removed" in health["last_prune"] and "carried" not in health["last_prune"], health
        assert "\nerrors: none\n" in text, text
        assert service.http.get("/healthz?details").json() == health
    finally:
        assert service.stop() == 0, service.log()
    assert "Traceback" not in service.log()


@pytest.mark.slow
def test_status_tells_this_start_while_start_up_waits_for_the_database(tmp_path: Path) -> None:
    """PostgreSQL not answering yet holds start-up before its first job, as a long first ingest does.

    Before, ``health.json`` kept the previous process's pid and start until a job ended, and status
    said ``running (pid NEW) since`` the old start.  Saved once at start, it tells this one's, with
    the runs kept from before marked so, and no role yet: the lead is tried once the database answers.
    """
    pages = tmp_path / "pages"
    shutil.copytree(ROOT / "examples" / "pages", pages)
    (tmp_path / "data").mkdir()
    ended = datetime.now(UTC) - timedelta(hours=1)
    old = {  # as 0.1.0 wrote it: no "leading", no "by", no "carried"
        "pid": 4242,
        "started": datetime(2021, 3, 4, 8, 0, tzinfo=UTC).isoformat(),
        "runs": {"ingest": {"at": ended.isoformat(), "ms": 30, "counts": {"files": 3, "new": 7}}},
        "files_waiting": 0,
        "problems": [],
    }
    (tmp_path / "data" / "health.json").write_text(json.dumps(old), encoding="utf-8")
    nowhere = {"DIGEST_DATABASE_URL": f"postgresql://digest@127.0.0.1:{free_port()}/digest"}
    service = Serve(tmp_path, pages, started=False, settings=nowhere)
    try:
        wait_for(lambda: "waiting for the database" in service.log(), 30, "start-up to wait for the database")
        done = service.run("status", "--json")
        shown = service.run("status")
    finally:
        assert service.stop() == 0, service.log()
    assert done.returncode == 1 and shown.returncode == 1, done.stderr  # the database's error, as always
    health = json.loads(done.stdout)
    assert health["pid"] == service.process.pid and health["leading"] is None, health
    started = datetime.fromisoformat(health["started"])
    assert datetime.now(UTC) - started < timedelta(minutes=1), health
    assert health["last_ingest"] == {"at": ended.isoformat(), "ms": 30, "files": 3, "new": 7, "carried": True}
    assert (
        f"service: running (pid {service.process.pid}) since {started.astimezone(TZ):%Y-%m-%d %H:%M:%S}"
        in (shown.stdout)
    ), shown.stdout
    assert "2021-03-" not in shown.stdout and "role: standby" not in shown.stdout, shown.stdout
    assert f"files 3, new 7 (before the restart at {started.astimezone(TZ):%H:%M})" in shown.stdout
    assert "Traceback" not in service.log()


def test_carried_runs_are_marked_in_the_file_the_report_and_the_lines(tmp_path: Path) -> None:
    """``carried`` is saved, read back (absent: not carried, as in an older file), added to a run's
    report only when true, and named in the status lines with the start it came from before."""
    at = datetime(2024, 11, 29, 1, 0, tzinfo=UTC)
    start = at + timedelta(minutes=75)
    save_state(tmp_path, ServiceState(7, at, {"ingest": JobRun(at, 5, {"files": 2})}, 0, ()))
    older = json.loads((tmp_path / "health.json").read_text(encoding="utf-8"))
    del older["runs"]["ingest"]["carried"], older["leading"]  # as a version before them wrote it
    (tmp_path / "health.json").write_text(json.dumps(older), encoding="utf-8")
    assert load_state(tmp_path) == ServiceState(7, at, {"ingest": JobRun(at, 5, {"files": 2})}, 0, ())
    carried = carried_runs(tmp_path)
    assert carried == {"ingest": JobRun(at, 5, {"files": 2}, carried=True)}
    state = ServiceState(8, start, {**carried, "publish": JobRun(start, 9, {"carried": 1})}, 0, (), None)
    save_state(tmp_path, state)
    assert load_state(tmp_path) == dataclasses.replace(
        state, runs={**state.runs, "publish": JobRun(start, 9)}
    )

    health = health_report(StoreStatus(0, (), 0, None, None, 0, 0), load_state(tmp_path), start)
    assert health["leading"] is None and health["last_ingest"] == {
        "at": at.isoformat(),
        "ms": 5,
        "files": 2,
        "carried": True,
    }
    assert "carried" not in health["last_publish"], health  # a count of that name is dropped too
    assert describe(health, running=8, tz=UTC)[:4] == [
        "service: running (pid 8) since 2024-11-29 02:15:00 UTC",
        "role: not known yet (start-up tries for the lead once the database answers)",
        "last ingest: 2024-11-29 01:00:00 UTC (5 ms) files 2 (before the restart at 02:15)",
        "last publish: 2024-11-29 02:15:00 UTC (9 ms) ",
    ]
