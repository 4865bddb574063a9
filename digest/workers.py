"""Worker processes for the CPU-bound, pure parts of big jobs: parsing an archive, rendering one.

Parsing and rendering run Python code on one core at a time; a whole
archive spreads over every core the process may use.  Only the pure steps
go to workers (text in, values or bytes out); reading the database, staging
files and everything else with side effects stays in the calling process.

Workers never outlive the process that started them, nor hold its locks
(``_start``): each closes the descriptors registered with
``keep_from_workers`` and asks the kernel for SIGKILL when its parent ends.

Workers are a help, never a need: where they cannot start (a container's
or systemd's limit on processes, no shared memory for semaphores, no
memory to fork) the job runs in the calling process, as a job whose worker
died does.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent import futures
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


# Descriptors a worker must not keep: the output folder's flock and ``serve.lock``.  A forked worker
# gets a copy of every descriptor, and a lock held through a copy outlives its parent; each worker
# closes these first thing (its parent keeps its own).  Read in the child right after the fork.
_PRIVATE: set[int] = set()
PR_SET_PDEATHSIG = 1  # prctl(2): a signal for this process when its parent ends


def keep_from_workers(fd: int) -> None:
    """Workers started from now on close ``fd`` (a lock only this process may hold)."""
    _PRIVATE.add(fd)


def release_to_workers(fd: int) -> None:
    """``fd`` is closed: forget it (the number may be reused for anything)."""
    _PRIVATE.discard(fd)


def _start(parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """First thing in every worker: drop the parent's locks, die with the parent, then ``initializer``.

    Without this a worker outlives a parent killed by SIGKILL (the out-of-memory
    killer) for good, waiting on a queue whose write end it holds itself, and
    keeps the parent's locks: the next publish would wait for ever.
    """
    for fd in list(_PRIVATE):
        with contextlib.suppress(OSError):
            os.close(fd)
    _PRIVATE.clear()
    die_with_parent()
    # ``parent`` is 0 for a fork server's worker (whose parent is the server, gone with ours).
    if parent and os.getppid() != parent:
        os._exit(1)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent() -> None:
    """Ask the kernel for SIGKILL when the parent ends (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
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


def start_method(preload: Sequence[str]) -> BaseContext:
    """How to start workers: a fork when this process runs no other thread, else a fork server.

    A fork copies the parent's memory, so a worker starts in milliseconds;
    but a fork of a process running other threads (``digest serve``: the web
    server, the scheduler, the watcher) can copy a lock some thread holds and
    hang the child.  A fork server is a clean process that imports
    ``preload`` once and forks the workers; it costs about half a second.
    """
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["digest.forkguard", *preload])
    return context


class Workers(ProcessPoolExecutor):
    """A process pool that is started whole before any work is given to it.

    A pool starts its workers and two threads (its manager, and its call
    queue's feeder) as tasks arrive.  Under a limit on processes or threads
    (systemd's ``TasksMax=``, docker's ``--pids-limit``) or short of memory,
    one of them is refused: in ``submit`` that would be an ``OSError`` or
    ``RuntimeError`` mid-job, in the manager thread a pool that never answers,
    and either way the workers already forked wait for good, so the process
    hangs at exit.  ``start`` runs a task on every worker first and waits a
    bounded time; a refusal, then or later, kills the workers and is a
    ``BrokenProcessPool``, which callers handle by doing the work themselves.
    """

    def __init__(self, workers: int, *args: Any, **kwargs: Any) -> None:
        self._others = set(multiprocessing.active_children())
        self._workers = workers
        super().__init__(workers, *args, **kwargs)

    def start(self, timeout: float) -> None:
        """Start every worker and both threads now; ``BrokenProcessPool`` when they do not all answer."""
        started = [self.submit(os.getpid) for _ in range(self._workers)]
        _, silent = futures.wait(started, timeout)
        if silent:
            self._kill()
            raise BrokenProcessPool(f"{_REFUSED}: the pool did not answer within {timeout:g} s")
        for future in started:
            future.result()

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """``ProcessPoolExecutor.submit``; a refused process or thread kills the pool: BrokenProcessPool."""
        try:
            return super().submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            raise
        except (OSError, RuntimeError) as exc:
            self._kill()
            raise BrokenProcessPool(f"{_REFUSED}: {exc}") from exc

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """``ProcessPoolExecutor.shutdown``, killing the workers when the pool's manager never started."""
        try:
            super().shutdown(wait, cancel_futures=cancel_futures)
        except RuntimeError:
            # The manager thread never started, so nothing would tell the workers to stop.
            self._kill()

    def _kill(self) -> None:
        for child in set(multiprocessing.active_children()) - self._others:
            child.kill()
            child.join()


_REFUSED = "could not start a worker process"
# Generous: a fork server importing the rendering code on a busy machine takes a second or two.
START_SECONDS = 10.0


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
    try:
        context = start_method(preload)
        parent = os.getpid() if context.get_start_method() == "fork" else 0
        executor = Workers(
            workers, mp_context=context, initializer=_start, initargs=(parent, initializer, initargs)
        )
    except (OSError, NotImplementedError) as exc:
        _cannot(exc, "a pool needs POSIX semaphores: on Linux, a writable /dev/shm")
        return None
    try:
        executor.start(START_SECONDS)
    except BrokenProcessPool as exc:
        executor.shutdown(cancel_futures=True)
        _cannot(
            exc,
            "a limit on processes or threads, such as systemd's TasksMax= or docker's --pids-limit,"
            " or too little memory?",
        )
        return None
    return executor


def _cannot(why: BaseException, hint: str) -> None:
    log.warning("cannot use worker processes (%s; %s); working in this process", why, hint)


def ordered(
    executor: ProcessPoolExecutor, work: Callable[[T], R], items: Iterable[T], ahead: int
) -> Iterator[R]:
    """``map(work, items)`` in worker processes, results in order, at most ``ahead`` items in flight.

    ``Executor.map`` submits every item at once; this pulls ``items`` lazily, so
    a stream from the database is never read into memory whole.
    """
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(executor.submit(work, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
