"""One ``digest serve`` per data folder: a lock file held for the process's life, and who holds it."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from digest import workers
from digest.errors import AlreadyRunningError
from digest.store.lease import pid_alive

LOCK_NAME = "serve.lock"


# A serve.lock whose pid is dead but still locked: how long its leftover holder gets to go
# (workers end with their parent; this covers the moment they take to).
STALE_LOCK_SECONDS = 10.0


@contextmanager
def data_lock(data: Path) -> Iterator[None]:
    """Hold ``<data>/serve.lock`` while serving; a second holder gets ``AlreadyRunningError``."""
    path = data / LOCK_NAME
    with path.open("a+") as handle:
        _take_data_lock(handle, data)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        workers.keep_from_workers(handle.fileno())
        try:
            yield
        finally:
            workers.release_to_workers(handle.fileno())
            fcntl.flock(handle, fcntl.LOCK_UN)


def _take_data_lock(handle: IO[str], data: Path) -> None:
    """Lock ``serve.lock``; while the pid written in it is dead, wait ``STALE_LOCK_SECONDS`` for
    whatever still holds the lock (a process the dead one left) to end, then say which it is."""
    deadline = time.monotonic() + STALE_LOCK_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
        if holder.isdigit() and not pid_alive(int(holder)):
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise AlreadyRunningError(
                f"the digest serve that locked the data folder {data} (pid {holder}) is gone, but a "
                f"process it started still holds {data / LOCK_NAME}; stop it (fuser -v {data / LOCK_NAME})"
            )
        raise AlreadyRunningError(
            f"another digest serve (pid {holder}) is using the data folder {data}; "
            "stop it first or give this one another --data folder"
        )


def lock_holder(data: Path) -> int | None:
    """The pid of the ``digest serve`` using ``data`` (0 if unreadable), or ``None`` when none is."""
    try:
        with (data / LOCK_NAME).open("r") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read().strip()
                return int(text) if text.isdigit() else 0
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        pass
    return None
