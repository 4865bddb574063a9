"""Runs of a job by hand (``digest ingest``, ``publish``, ``build``, ``send-digest``, ``prune``) as
``digest status`` tells them from ``<data>/cli-runs.json``: those that failed as well as those that
ended well, the commands run as the operator runs them."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from test_cli import EXAMPLES, digest
from test_delivery_faults import STOPS_DEFAULT
from test_service import page

from digest.config import Config
from digest.mail.transports import OutboxMailer
from digest.publish import staging
from digest.service.health import CLI_RUNS_NAME
from digest.service.metrics import Metrics
from digest.service.runner import Runner
from digest.store.database import Store

# Nothing listens on port 1: the PostgreSQL server is down, or the URL is stale.
GONE = {"DIGEST_DATABASE_URL": "postgresql://digest:secret@127.0.0.1:1/news"}


@pytest.fixture
def options(tmp_path: Path) -> list[str | Path]:
    return ["--source", EXAMPLES, "--data", tmp_path / "data", "--output", tmp_path / "out"]


def _last(lines: list[str], job: str) -> str:
    (line,) = [line for line in lines if line.startswith(f"last {job}: ")]
    return line


def test_a_failed_run_by_hand_is_shown_until_a_later_run_ends_well(
    tmp_path: Path, options: list[str | Path]
) -> None:
    """Before, only a run that ended well was noted: after ``digest publish`` failed, ``status`` showed
    the last publish that had worked, and ``errors: none``."""
    assert digest("build", *options, cwd=tmp_path).returncode == 0
    failed = digest("publish", *options, cwd=tmp_path, env=GONE)
    assert failed.returncode == 1 and failed.stderr.startswith("error: database "), failed.stderr
    said = failed.stderr.strip().removeprefix("error: ")

    shown = digest("status", *options, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    # As a failure of the service's is shown: the error in place of the counts, and under errors.
    assert _last(lines, "publish").endswith(f" ms) FAILED: {said} (by digest publish)")
    assert f"errors: publish: {said}" in lines
    assert _last(lines, "ingest").endswith("(by digest build)")  # the other job's run stays
    report = json.loads(digest("status", "--json", *options, cwd=tmp_path).stdout)
    assert report["status"] == "degraded" and report["last_publish"]["error"] == said
    assert report["last_publish"]["by"] == "digest publish"
    assert "secret" not in (tmp_path / "data" / CLI_RUNS_NAME).read_text(encoding="utf-8")

    # Asked for a day not over yet, send-digest refuses to start: no run of the digest job.
    early = digest("send-digest", "--date", "2099-01-01", *options, cwd=tmp_path)
    assert early.returncode == 1 and "is due at" in early.stderr
    assert "last digest: -" in digest("status", *options, cwd=tmp_path).stdout.splitlines()

    assert digest("publish", *options, cwd=tmp_path).returncode == 0
    lines = digest("status", *options, cwd=tmp_path).stdout.splitlines()
    assert "FAILED" not in _last(lines, "publish") and "errors: none" in lines


def test_build_notes_the_job_that_failed(tmp_path: Path, options: list[str | Path]) -> None:
    """The database gone, ``build`` fails at its first job, the ingest; its publish never ran."""
    assert digest("build", *options, cwd=tmp_path, env=GONE).returncode == 1
    lines = digest("status", *options, cwd=tmp_path).stdout.splitlines()
    assert " FAILED: database " in _last(lines, "ingest") and _last(lines, "ingest").endswith(
        "(by digest build)"
    )
    assert "last publish: -" in lines


def test_a_record_an_older_version_wrote_still_reads(tmp_path: Path, options: list[str | Path]) -> None:
    """The file keeps its shape: one written before failures were noted reads as it did, its runs
    stay beside a failure noted later, and one edited by hand into another shape is read as none."""
    data = tmp_path / "data"
    assert digest("migrate", *options, cwd=tmp_path).returncode == 0  # a database for status to read
    older = {
        "ingest": {
            "at": "2024-11-27T01:00:00+00:00",
            "ms": 40,
            "counts": {"files": 3, "read": 3, "failed": 0, "new": 7, "changed": 0},
            "error": None,
            "by": "digest ingest",
        }
    }
    record = data / CLI_RUNS_NAME
    record.write_text(json.dumps(older), encoding="utf-8")
    lines = digest("status", *options, cwd=tmp_path).stdout.splitlines()
    assert _last(lines, "ingest").endswith(
        "(40 ms) files 3, read 3, failed 0, new 7, changed 0 (by digest ingest)"
    )

    assert digest("publish", *options, cwd=tmp_path, env=GONE).returncode == 1
    runs = json.loads(record.read_text(encoding="utf-8"))
    assert runs["ingest"] == older["ingest"] and runs["publish"]["error"].startswith("database ")
    assert runs["publish"]["counts"] == {} and runs["publish"]["by"] == "digest publish"

    record.write_text(json.dumps({"publish": runs["publish"] | {"error": {"text": "x"}}}), encoding="utf-8")
    shown = digest("status", *options, cwd=tmp_path)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    assert "last publish: -" in shown.stdout.splitlines()


def test_a_run_by_hand_stopped_by_ctrl_c_is_noted_as_interrupted(
    tmp_path: Path, options: list[str | Path]
) -> None:
    """Before, Ctrl-C (``KeyboardInterrupt``) passed the note by, as it is no ``Exception``: status went
    on showing the publish before it as the last, and nothing told that this one stopped half way."""
    assert digest("build", *options, cwd=tmp_path).returncode == 0
    returncode, stderr = _stop_while_publishing(tmp_path, ["publish", *map(str, options)], signal.SIGINT)
    assert returncode == 130 and "Traceback" not in stderr, stderr

    lines = digest("status", *options, cwd=tmp_path).stdout.splitlines()
    assert " FAILED: interrupted (SIGINT, Ctrl-C) before it ended" in _last(lines, "publish")
    assert _last(lines, "publish").endswith("(by digest publish)")
    assert "errors: publish: interrupted (SIGINT, Ctrl-C) before it ended; run it again" in lines
    assert digest("publish", *options, cwd=tmp_path).returncode == 0
    assert "errors: none" in digest("status", *options, cwd=tmp_path).stdout.splitlines()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda sig: sig.name)
def test_a_run_by_hand_stopped_by_sigterm_or_sighup_is_noted_and_exits_as_a_shell_reports_it(
    tmp_path: Path, options: list[str | Path], sig: signal.Signals
) -> None:
    """Before, SIGTERM (systemd stopping a unit, ``timeout``) and SIGHUP (a closed terminal) ended the
    command where it stood: no note of the run, so status went on showing the publish before it as
    the last, and ``errors: none``.  ``build`` here: its ingest ended well, its publish was stopped."""
    assert digest("build", *options, cwd=tmp_path).returncode == 0
    returncode, stderr = _stop_while_publishing(tmp_path, ["build", *map(str, options)], sig)
    why = " (its terminal closed)" if sig == signal.SIGHUP else ""
    said = f"stopped by {sig.name}{why} before it ended; run it again"
    assert returncode == 128 + sig and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == said

    lines = digest("status", *options, cwd=tmp_path).stdout.splitlines()
    assert _last(lines, "publish").endswith(f" ms) FAILED: {said} (by digest build)")
    assert "FAILED" not in _last(lines, "ingest") and _last(lines, "ingest").endswith("(by digest build)")
    assert f"errors: publish: {said}" in lines
    # Nothing half done is left: no staged file, and the folder's lock went with the process.
    assert not [path for path in (tmp_path / "out").rglob("*") if ".tmp" in path.name]
    assert digest("publish", *options, cwd=tmp_path).returncode == 0
    assert "errors: none" in digest("status", *options, cwd=tmp_path).stdout.splitlines()


def _stop_while_publishing(tmp_path: Path, args: list[str], sig: signal.Signals) -> tuple[int, str]:
    """Run ``digest *args`` until its publish waits for the output folder (``tmp_path/out``), held
    here: a run under way, for sure; then send it ``sig``.  Its exit status and stderr."""
    output = tmp_path / "out"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    folder = os.open(output, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        command = [sys.executable, "-c", STOPS_DEFAULT, "-m", "digest.cli", *args]
        with subprocess.Popen(command, cwd=tmp_path, env=environ, stderr=subprocess.PIPE, text=True) as run:
            try:
                _wait_until_it_opens(run.pid, output)
                run.send_signal(sig)
                _, stderr = run.communicate(timeout=30)
            finally:
                # A run the signal did not stop waits for the lock held here, and leaving the block
                # waits for it: the test failed, it must not hang the whole suite.
                run.kill()
    finally:
        os.close(folder)
    return run.returncode, stderr


def _wait_until_it_opens(pid: int, folder: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        opened = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                opened.add(os.readlink(fd))
        if str(folder) in opened:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never opened {folder}")


# --- beside the service: whose failure stands ---------------------------------------------------


def _runner(config: Config, store: Store) -> Runner:
    config.paths.data.mkdir(parents=True, exist_ok=True)
    for example in EXAMPLES.glob("*.txt"):
        shutil.copy(example, config.paths.source / example.name)
    time.sleep(config.ingest.settle_seconds + 0.1)  # the rescan leaves files written in the last moments
    runner = Runner(config, store, OutboxMailer(config.paths.data / "outbox"), Metrics())
    runner.rescan()
    assert runner.health()["errors"] == []
    return runner


def _by_hand(
    config: Config, *args: str, env: dict[str, str] | None = None, output: Path | None = None
) -> int:
    output = output or config.paths.output
    folders = ["--source", config.paths.source, "--data", config.paths.data, "--output", output]
    environ = {"DIGEST_DATABASE_URL": config.database_url} | (env or {})
    return digest(*args, *folders, cwd=config.paths.data.parent, env=environ).returncode


def test_a_publish_by_hand_that_failed_is_cleared_by_the_services_next_rescan(
    config: Config, store: Store
) -> None:
    """Before, the service published only when a page changed: a ``digest publish`` run by hand with a
    stale database URL kept ``/healthz`` degraded until the next page arrived, a day later, though
    the service published well all along."""
    runner = _runner(config, store)
    assert _by_hand(config, "publish", env=GONE) == 1
    (error,) = runner.health()["errors"]
    assert isinstance(error, str) and error.startswith("publish: database ")

    runner.rescan()  # nothing changed in the folder: the service publishes to find out
    health = runner.health()
    assert health["status"] == "ok" and health["errors"] == []
    last = health["last_publish"]
    assert isinstance(last, dict) and "by" not in last and "error" not in last


def test_a_run_by_hand_that_worked_does_not_hide_the_services_failure(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the later run was the only one judged: a publish by hand into another folder that
    worked made ``/healthz`` say ok while the service's publish failed at every rescan."""
    runner = _runner(config, store)
    monkeypatch.setattr(staging, "LOCK_WAIT_SECONDS", 0.3)
    holder = os.open(config.paths.output, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # a leftover process holds the service's output folder
        runner.rescan(publish=True)
        assert _by_hand(config, "publish", output=config.paths.data.parent / "elsewhere") == 0
        health = runner.health()
        last = health["last_publish"]
        assert isinstance(last, dict) and last["by"] == "digest publish" and "error" not in last
        assert health["status"] == "degraded"
        (error,) = health["errors"]
        assert isinstance(error, str) and error.startswith("publish: another publish has held the output")
        assert error.endswith(" (by the service)")
    finally:
        os.close(holder)
    runner.rescan()  # the folder free again, the service's own publish clears it
    assert runner.health()["errors"] == []


def test_a_digest_by_hand_after_the_services_failed_clears_it_once_the_service_runs_well(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's digest failed (its page could not be published); the operator freed the folder and
    sent it by hand.  That run does not hide the service's failure, and the service's next retry, with
    nothing left to do and nothing failing, clears it; before, kept, it stood until the next day's digest."""
    config.paths.data.mkdir(parents=True, exist_ok=True)
    (config.paths.source / "2024-11-27_01.txt").write_text(page("示例水库完成冬季检修"), encoding="utf-8")
    time.sleep(config.ingest.settle_seconds + 0.1)
    at = datetime(2024, 11, 27, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: the 07:00 digest is due
    runner = Runner(config, store, OutboxMailer(config.paths.data / "outbox"), Metrics(), clock=lambda: at)
    monkeypatch.setattr(staging, "LOCK_WAIT_SECONDS", 0.3)
    config.paths.output.mkdir(parents=True, exist_ok=True)
    holder = os.open(config.paths.output, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        runner.take_over()
    finally:
        os.close(holder)
    assert [e for e in runner.health()["errors"] if str(e).startswith("digest: ")], runner.health()
    runner.rescan()  # the folder free again: the publish works
    assert _by_hand(config, "send-digest", "--date", "2024-11-27") == 0

    health = runner.health()
    last = health["last_digest"]
    assert isinstance(last, dict) and last["by"] == "digest send-digest" and "error" not in last
    (error,) = health["errors"]
    assert isinstance(error, str) and error.startswith("digest: ") and error.endswith(" (by the service)")

    runner.retry()  # the service's own digest job: nothing due, nothing failing
    assert runner.health()["errors"] == []


# --- beside the service: a run by hand that failed is run again ----------------------------------


@pytest.mark.parametrize(
    ("job", "command", "chance"), [("prune", "prune", "rescan"), ("digest", "send-digest", "retry")]
)
def test_a_prune_or_digest_by_hand_that_failed_is_run_again_at_the_services_next_chance(
    config: Config, store: Store, job: str, command: str, chance: str
) -> None:
    """Before, the service ran these jobs again only after a failure of its own: a ``digest prune`` or
    ``send-digest`` by hand with a stale database URL kept ``/healthz`` degraded until the nightly
    prune or the next day's digest, though nothing was wrong.  The next chance is a rescan for the
    prune, the minutely retry for the digest: with nothing due, as the service made the day's digest."""
    runner = _runner(config, store)
    runner.digest()
    assert _by_hand(config, command, env=GONE) == 1
    (error,) = runner.health()["errors"]
    assert isinstance(error, str) and error.startswith(f"{job}: database ")

    getattr(runner, chance)()
    health = runner.health()
    assert health["errors"] == []
    last = health[f"last_{job}"]
    assert isinstance(last, dict) and "by" not in last and "error" not in last


@pytest.mark.parametrize("publishes", [True, False], ids=["publishes", "publish-fails-too"])
def test_a_digest_made_by_hand_before_its_publish_failed_is_published_before_its_emails_go(
    config: Config, store: Store, publishes: bool
) -> None:
    """``send-digest`` by hand made the digest (its ledger rows with it), then could not publish its page
    (another output folder, where a file stands in the way).  Before, the service's next retry sent the
    emails at once, each linking a web page that was not there until the next page arrived.

    Where the service cannot publish either (its own output folder blocked too), the emails still go,
    and the publish is what is reported failing: before, each retry failed at the publish and sent
    nothing, so every copy would expire (``digest.retry_hours``) over a blocked output folder."""
    config.paths.data.mkdir(parents=True, exist_ok=True)
    (config.paths.source / "2024-11-27_01.txt").write_text(page("示例水库完成冬季检修"), encoding="utf-8")
    time.sleep(config.ingest.settle_seconds + 0.1)
    clock = [datetime(2024, 11, 26, 22, 0, tzinfo=UTC)]  # 06:00 in Shanghai: in the 07:00 digest
    runner = Runner(
        config, store, OutboxMailer(config.paths.data / "outbox"), Metrics(), clock=lambda: clock[0]
    )
    runner.rescan()
    assert _by_hand(config, "subscribers", "add", "reader@example.com") == 0
    elsewhere = config.paths.data.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "digests").write_text("in the way", encoding="utf-8")

    assert _by_hand(config, "send-digest", "--date", "2024-11-27", output=elsewhere) == 1
    assert store.digest(date(2024, 11, 27)) is not None  # made, and its email waits
    (error,) = runner.health()["errors"]
    assert isinstance(error, str) and error.startswith("digest: cannot write "), error
    web_page = config.paths.output / "digests" / "2024-11-27.html"
    assert not web_page.exists()

    if not publishes:
        (config.paths.output / "digests").rename(config.paths.output / "digests.moved")
        (config.paths.output / "digests").write_text("in the way", encoding="utf-8")

    clock[0] = datetime(2024, 11, 27, 1, 0, tzinfo=UTC)  # the digest of that day made: none is missed
    runner.retry()
    (email,) = (config.paths.data / "outbox").glob("*.eml")
    if publishes:
        assert web_page.is_file() and web_page.stat().st_mtime_ns <= email.stat().st_mtime_ns
        return
    errors = runner.health()["errors"]
    assert isinstance(errors, list) and any(e.startswith("publish: cannot write ") for e in errors), errors
