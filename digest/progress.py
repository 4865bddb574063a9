"""How far a long job is: a bar on a terminal, or a one-line log record every so often.

``digest ingest`` of a back catalogue and ``digest publish --full`` of a big
archive run for minutes.  On a terminal (standard error is a TTY) a tqdm bar
shows the count, rate and time left, and log records are written above it
rather than through it.  Elsewhere (the journal, a log file, a pipe) a bar
would be a stream of carriage returns, so one INFO line is logged every
``LOG_EVERY_SECONDS`` instead; work shorter than that (a rescan, a page
dropped into the folder) logs nothing at all.

The jobs call ``start(total)``, ``update(done)`` and ``close()``; which of the
two shows it is decided at the edge (``reporter``), never inside a job.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Never, Protocol, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger(__name__)

# Seconds between two progress lines in a log: a few lines a minute, never a flood.
LOG_EVERY_SECONDS = 10.0


class Progress(Protocol):
    """Told the size of a job, then how much of it is done."""

    def start(self, total: int) -> None:
        """The job has ``total`` units of work."""

    def update(self, done: int) -> None:
        """``done`` units (in all, not since the last call) are finished."""

    def close(self) -> None:
        """The job ended (finished or failed)."""


class LogProgress:
    """An INFO line (``ingest: 5,200 of 13,000 files (40%), 12 s, about 18 s left``) every ``every`` s."""

    def __init__(
        self,
        task: str,
        unit: str,
        every: float = LOG_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._task = task
        self._unit = unit
        self._every = every
        self._clock = clock
        self._total = 0
        self._started = self._last = 0.0

    def start(self, total: int) -> None:
        self._total = total
        self._started = self._last = self._clock()

    def update(self, done: int) -> None:
        now = self._clock()
        if now - self._last < self._every or not self._total:
            return
        self._last = now
        spent = now - self._started
        left = spent * (self._total - done) / done if done else None
        log.info(
            "%s: %s of %s %s (%d%%), %d s%s",
            self._task,
            f"{done:,}",
            f"{self._total:,}",
            self._unit,
            100 * done // self._total,
            spent,
            f", about {left:.0f} s left" if left is not None else "",
        )

    def close(self) -> None:
        return None


class BarProgress:
    """A tqdm bar on ``stream``; log records go above the bar while it is shown."""

    def __init__(self, task: str, unit: str, stream: TextIO) -> None:
        self._task = task
        self._unit = unit
        self._stream = stream
        self._bar: tqdm[Never] | None = None
        self._redirect = contextlib.ExitStack()

    def start(self, total: int) -> None:
        # Here, not at the top: tqdm and its logging helper take 60 ms to import (importlib.metadata,
        # asyncio), which every command run from a script, the journal or a pipe would pay for nothing.
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        self._bar = tqdm(
            total=total, desc=self._task, unit=f" {self._unit}", file=self._stream, dynamic_ncols=True
        )
        self._redirect.enter_context(logging_redirect_tqdm())

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._redirect.close()
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def reporter(task: str, unit: str, stream: TextIO | None = None) -> Progress:
    """A bar when ``stream`` (standard error) is a terminal, else a log line every so often."""
    stream = stream or sys.stderr
    if stream.isatty():
        return BarProgress(task, unit, stream)
    return LogProgress(task, unit)
