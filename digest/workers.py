"""Worker processes for the CPU-bound, pure parts of big jobs: parsing an archive, rendering one.

Parsing and rendering run Python code on one core at a time; a whole
archive spreads over every core the process may use.  Only the pure steps
go to workers (text in, values or bytes out); reading the database, staging
files and everything else with side effects stays in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def cpu_count() -> int:
    """The cores this process may run on (its affinity, which containers and ``taskset`` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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
    context.set_forkserver_preload(list(preload))
    return context


def pool(
    preload: Sequence[str], initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor | None:
    """A pool of one worker per core, or None on a single core (the work then runs in this process)."""
    workers = cpu_count()
    if workers < 2:
        return None
    return ProcessPoolExecutor(
        workers, mp_context=start_method(preload), initializer=initializer, initargs=initargs
    )


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
