"""Stop signals while a job runs by hand (``digest.commands.stops``), seen from the processes it forks."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing.synchronize import Event

from digest.commands.stops import stops_raise


def _work(started: Event) -> None:
    started.set()
    time.sleep(60)


def test_a_worker_forked_while_a_job_runs_ends_by_sigterm_not_by_raising_the_jobs_stop() -> None:
    """A forked worker inherits the handler that raises ``Stopped``.  Before, SIGTERM sent to the whole
    group (systemd stopping a unit) raised it in each worker too: a traceback from every idle one, and
    from a busy one a result its parent could not unpickle.  The worker now ends by the signal."""
    context = multiprocessing.get_context("fork")
    started = context.Event()
    with stops_raise():
        worker = context.Process(target=_work, args=(started,))
        worker.start()
        # Python drops a signal that reaches a child before its fork is done: signal it once it works.
        assert started.wait(30) and worker.pid is not None
        os.kill(worker.pid, signal.SIGTERM)
        worker.join(30)
    assert worker.exitcode == -signal.SIGTERM
