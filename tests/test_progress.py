"""Progress of long commands: a bar on a terminal (a real pseudo-terminal here), log lines elsewhere."""

from __future__ import annotations

import fcntl
import logging
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import Config
from digest.ingest.pipeline import ingest
from digest.progress import BarProgress, LogProgress, reporter
from digest.publish.build import publish_store
from digest.store.database import Store

ROOT = Path(__file__).resolve().parents[1]
PAGE = "● 要闻\n\n# 第{n}版的标题\n\n示例正文，第{n}版。\n"


def _pages(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        (folder / f"2024-11-29_{n:03d}.txt").write_text(PAGE.format(n=n), encoding="utf-8")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_progress_says_how_far_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    meter = LogProgress("ingest", "files", every=10, clock=clock)
    caplog.set_level(logging.INFO, logger="digest.progress")
    meter.start(13_000)
    for done, at in ((1_000, 4.0), (2_600, 10.0), (3_000, 15.0), (5_200, 20.0)):
        clock.now = at
        meter.update(done)
    meter.close()
    assert [r.getMessage() for r in caplog.records] == [
        "ingest: 2,600 of 13,000 files (20%), 10 s, about 40 s left",
        "ingest: 5,200 of 13,000 files (40%), 20 s, about 30 s left",
    ]


def test_ingest_and_a_full_publish_report_progress_in_the_log(
    config: Config, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _pages(config.paths.source, 450)  # three batches of 200 files at most
    caplog.set_level(logging.INFO, logger="digest.progress")
    now = datetime(2024, 11, 29, 1, 0, tzinfo=UTC)
    ingest(config, store, now, progress=LogProgress("ingest", "files", every=0))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("ingest: 200 of 450 files (44%)")
    assert lines[-1].startswith("ingest: 450 of 450 files (100%)")
    caplog.clear()
    publish_store(
        store, config, config.paths.output, full=True, progress=LogProgress("publish", "x", every=0)
    )
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 450 and lines[-1].startswith("publish: 450 of 450 x (100%)")


def test_a_short_job_logs_no_progress(config: Config, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    _pages(config.paths.source, 3)
    caplog.set_level(logging.DEBUG, logger="digest.progress")
    ingest(config, store, datetime(2024, 11, 29, 1, 0, tzinfo=UTC))
    assert caplog.records == []


def test_reporter_draws_a_bar_only_on_a_terminal() -> None:
    main, secondary = pty.openpty()
    try:
        with os.fdopen(secondary, "w", closefd=False) as terminal:
            assert isinstance(reporter("ingest", "files", terminal), BarProgress)
    finally:
        os.close(main)
        os.close(secondary)
    with open(os.devnull, "w") as elsewhere:
        assert isinstance(reporter("ingest", "files", elsewhere), LogProgress)


def _run_on_terminal(command: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``command`` with standard error on a pseudo-terminal; its exit status and all it drew."""
    main, secondary = pty.openpty()
    # A terminal window of 100 columns, as a person's (a new pseudo-terminal has none).
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary
    )
    os.close(secondary)
    drawn = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the process closed its side
            break
        if not chunk:
            break
        drawn += chunk
    status = process.wait(timeout=120)
    assert process.stdout is not None
    process.stdout.close()
    os.close(main)
    return status, drawn.decode("utf-8", "replace")


@pytest.mark.slow
def test_ingest_and_publish_full_draw_a_bar_on_a_terminal_and_not_in_a_pipe(tmp_path: Path) -> None:
    _pages(tmp_path / "pages", 60)
    folders = ["--source", str(tmp_path / "pages"), "--data", str(tmp_path / "data")]
    folders += ["--output", str(tmp_path / "output")]
    digest = [sys.executable, "-m", "digest.cli"]
    status, drawn = _run_on_terminal([*digest, "ingest", *folders], tmp_path)
    assert status == 0, drawn
    assert "ingest: 100%|" in drawn and "| 60/60 [" in drawn and " files/s]" in drawn, drawn
    status, drawn = _run_on_terminal([*digest, "publish", "--full", *folders], tmp_path)
    assert status == 0, drawn
    assert "publish: 100%|" in drawn and "| 60/60 [" in drawn and " articles/s]" in drawn, drawn
    # Not a terminal: no bar, no carriage returns; the summary on standard output as before.
    shutil.rmtree(tmp_path / "data")
    piped = subprocess.run(
        [*digest, "ingest", *folders], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    )
    assert piped.stderr == "" and piped.stdout.startswith("ingested 60 files: 60 read")
