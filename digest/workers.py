"""Worker processes for the CPU-bound, pure parts of big jobs: parsing an archive, rendering one.

Parsing and rendering run Python code on one core at a time; a whole
archive spreads over every core the process may use.  Only the pure steps
go to workers (text in, values or bytes out); reading the database, staging
files and everything else with side effects stays in the calling process.

Workers never outlive the process that started them, nor hold its locks
(``workerpool._start``): each closes the descriptors registered with
``keep_from_workers`` and asks the kernel for SIGKILL when its parent ends.

Workers are a help, never a need: where they cannot start (a container's
or systemd's limit on processes, no shared memory for semaphores, no
memory to fork) the job runs in the calling process, as a job whose worker
died does.

This module is what every command loads: the locks workers must not keep,
and whether a pool would pay.  The pool itself (``workerpool``, with
``multiprocessing`` and ``concurrent.futures.process``, about 10 ms of
imports) loads only when one starts.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.workerpool import Workers

log = logging.getLogger(__name__)


# Descriptors a worker must not keep: the output folder's flock and ``serve.lock``.  A forked worker
# gets a copy of every descriptor, and a lock held through a copy outlives its parent; each worker
# closes these first thing (its parent keeps its own).  Read in the child right after the fork.
PRIVATE: set[int] = set()
PR_SET_PDEATHSIG = 1  # prctl(2): a signal for this process when its parent ends


def keep_from_workers(fd: int) -> None:
    """Workers started from now on close ``fd`` (a lock only this process may hold)."""
    PRIVATE.add(fd)


def release_to_workers(fd: int) -> None:
    """``fd`` is closed: forget it (the number may be reused for anything)."""
    PRIVATE.discard(fd)


def die_with_parent() -> None:
    """Ask the kernel for SIGKILL when the parent ends (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
        # Here, not at the top: only workers and the fork server get this far, and ctypes costs
        # every other command a few milliseconds of imports.
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before the prctl: then nobody would signal us, and we are PID 1's.
    if os.getppid() == 1:
        os._exit(1)


def cpu_count() -> int:
    """The cores this process may run on (its affinity, which containers and ``taskset`` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# How long ``free_cores`` watches the CPUs: long enough to see a busy core busy, short beside a big job.
SAMPLE_SECONDS = 0.05
# A pool pays only with this many cores to itself: with fewer, pickling and piping every batch
# between processes costs more than the second core gives (docs/performance.md measures it).
POOL_MIN_FREE = 2
# A core counts as free when at least this share of it was idle (rounding against the pool).
_FREE_ROUNDING = 0.25


def _proc_stat(cores: set[int]) -> tuple[dict[int, tuple[int, int]], int]:
    """(idle, total) jiffies of each of ``cores``, and the tasks runnable on the machine now (this
    one included), from /proc/stat (Linux); ({}, 1) where unreadable."""
    times: dict[int, tuple[int, int]] = {}
    running = 1
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            for line in stat:
                name, *fields = line.split()
                if name == "procs_running":
                    running = int(fields[0])
                elif name.startswith("cpu") and name != "cpu" and int(name[3:]) in cores:
                    # user nice system idle iowait irq softirq steal: idle and iowait are time it was free.
                    values = [int(v) for v in fields[:8]]
                    times[int(name[3:])] = (values[3] + values[4], sum(values))
    except (OSError, ValueError):
        return {}, 1
    return times, running


def free_cores(sample: float = SAMPLE_SECONDS) -> float:
    """How many of the cores this process may use are idle: the least of what a short look at the
    CPUs (/proc/stat over ``sample`` seconds) and the tasks other than this one ready to run at
    either end of it say.

    The look catches cores kept busy; the runnable tasks catch one that is busy
    in bursts (a test run) and happened to be idle over the look.  Both are of
    now: the load average, which is of the last minute, counts a command that
    ran just before (``digest ingest`` before ``digest publish --full``) as
    other work, and kept a build that had the machine to itself in one process.
    """
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    first, running = _proc_stat(cores)
    if first:
        time.sleep(sample)
        second, running_after = _proc_stat(cores)
        looked = sum(
            (second[c][0] - first[c][0]) / max(second[c][1] - first[c][1], 1) for c in first if c in second
        )
        running = max(running, running_after)
    else:
        looked = float(len(cores))
    return max(min(looked, len(cores) - (running - 1)), 0.0)


def useful_workers(asked: int = 0) -> int:
    """Worker processes that make a job faster now: ``asked`` when set (``build.workers``; 1 means
    none), else the free cores, or 0 when fewer than ``POOL_MIN_FREE`` are (one process then does
    the job sooner than a pool would)."""
    if asked:
        return asked if asked > 1 else 0
    if cpu_count() < POOL_MIN_FREE:
        return 0
    free = int(free_cores() + _FREE_ROUNDING)
    return free if free >= POOL_MIN_FREE else 0


def pool(
    preload: Sequence[str],
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    asked: int = 0,
) -> Workers | None:
    """A started pool of ``useful_workers(asked)`` workers; None when that is none (one core, or
    other work keeping the cores busy), or when this system will not run one (the work then runs
    in this process, and the log says why)."""
    workers = useful_workers(asked)
    if not workers:
        log.info(
            "no worker processes (build.workers=%d, fewer than %d free cores or 1 asked)",
            asked,
            POOL_MIN_FREE,
        )
        return None
    # Only now: a command that starts no pool never loads multiprocessing and its friends.
    from digest import workerpool

    return workerpool.start(workers, preload, initializer, initargs)
