"""The worker pool itself, loaded only when ``workers.pool`` decides to start one.

``multiprocessing`` and ``concurrent.futures.process`` take about 10 ms to
import; a command that starts no pool (``digest --help``, a small ingest, an
incremental publish) never pays it.  See ``workers`` for why workers exist
and how they are kept from the parent's locks.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent import futures
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from digest.workers import PRIVATE, die_with_parent

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _start(parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """First thing in every worker: drop the parent's locks, die with the parent, then ``initializer``.

    Without this a worker outlives a parent killed by SIGKILL (the out-of-memory
    killer) for good, waiting on a queue whose write end it holds itself, and
    keeps the parent's locks: the next publish would wait for ever.
    """
    for fd in list(PRIVATE):
        with contextlib.suppress(OSError):
            os.close(fd)
    PRIVATE.clear()
    die_with_parent()
    # ``parent`` is 0 for a fork server's worker (whose parent is the server, gone with ours).
    if parent and os.getppid() != parent:
        os._exit(1)
    if initializer is not None:
        initializer(*initargs)


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

    def ordered(self, work: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
        """``map(work, items)`` in the workers, results in order, at most ``ahead`` items in flight.

        ``Executor.map`` submits every item at once; this pulls ``items`` lazily, so
        a stream from the database is never read into memory whole.
        """
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(self.submit(work, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def _kill(self) -> None:
        for child in set(multiprocessing.active_children()) - self._others:
            child.kill()
            child.join()


_REFUSED = "could not start a worker process"
# Generous: a fork server importing the rendering code on a busy machine takes a second or two.
START_SECONDS = 10.0


def start(
    count: int,
    preload: Sequence[str],
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Workers | None:
    """A started pool of ``count`` workers (``workers.pool`` decided it pays); None when this
    system will not run one (the work then runs in the calling process, and the log says why)."""
    try:
        context = start_method(preload)
        parent = os.getpid() if context.get_start_method() == "fork" else 0
        executor = Workers(
            count, mp_context=context, initializer=_start, initargs=(parent, initializer, initargs)
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
