"""Stop signals reaching a command that runs a job by hand (``digest ingest``, ``publish``, ``build``,
``send-digest``, ``prune``).

Ctrl-C raises ``KeyboardInterrupt`` where the job stands.  SIGTERM (systemd, ``timeout``, ``kill``) and
SIGHUP (a closed terminal) ended the process there and then, by their default action: no note of the
run reached ``<data>/cli-runs.json``, and ``digest status`` went on showing the run before as the last,
though this one may have done half its work.  While a job runs they raise ``Stopped`` instead, as
Ctrl-C does: the way out closes what the job opened (its transaction rolls back, its staged files are
deleted, the output folder's lock is let go), the run is noted as failed, and the command exits with
128 + the signal's number, as a shell reports a command a signal ended.  ``send-digest`` stops between
two emails instead (``BetweenEmails``): one cut in the middle would be in doubt.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

from digest.service import stop_signals

BEFORE_IT_ENDED = "before it ended; run it again"


def stopped_reason(sig: signal.Signals, where: str = BEFORE_IT_ENDED) -> str:
    """The error a run by hand that ``sig`` stopped ``where`` it stood is noted with, in plain words."""
    if sig == signal.SIGINT:
        return f"interrupted (SIGINT, Ctrl-C) {where}"
    why = " (its terminal closed)" if sig == signal.SIGHUP else ""
    return f"stopped by {sig.name}{why} {where}"


def exit_status(sig: signal.Signals) -> int:
    """The status a shell reports for a command ``sig`` ended (``$?`` 143 for SIGTERM)."""
    return 128 + int(sig)


class Stopped(BaseException):
    """SIGTERM or SIGHUP reached a job run by hand, raised where it stood.  No ``Exception``, as
    ``KeyboardInterrupt`` is none: nothing that handles an error takes it for one and goes on."""

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum)
        super().__init__(stopped_reason(self.signal))


@contextmanager
def stops_raise() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise ``Stopped`` in the job under way.

    Only a signal left to its default action is taken: one another handler took before stays with
    it, and a SIGHUP ``nohup`` ignores stays ignored.  A handler set inside takes over until it hands
    back (``send-digest``'s ``BetweenEmails``: its second signal raises here).  A second signal ends
    the process at once, as before, should the way out itself hang.
    """
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    taken: list[signal.Signals] = [
        sig
        for sig in stop_signals()
        if main and sig != signal.SIGINT and signal.getsignal(sig) == signal.SIG_DFL
    ]

    owner = os.getpid()

    def stop(signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != owner:
            # A worker forked inside (an ingest's or a build's pool) inherits this handler, and gets the
            # signal too when it goes to the whole group (systemd, a closed terminal).  Raised there,
            # ``Stopped`` would come out of the pool's task loop with a traceback, or back to the
            # parent as a result that cannot be unpickled: the worker ends by the signal, as before.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        _default(taken)
        raise Stopped(signum)

    for sig in taken:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        _default(taken)


def _default(signals: list[signal.Signals]) -> None:
    for sig in signals:
        signal.signal(sig, signal.SIG_DFL)


class BetweenEmails:
    """SIGTERM, Ctrl-C or SIGHUP asks a send to stop between two messages, neither after the whole
    run nor in the middle of one; ``by`` is the signal that asked.  A second one stops the command as
    it would have without this (``Stopped``, ``KeyboardInterrupt``): a hung connection too."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.by: signal.Signals | None = None
        self._previous: dict[signal.Signals, signal._HANDLER] = {}

    def __enter__(self) -> BetweenEmails:
        self._previous = {sig: signal.signal(sig, self._stop) for sig in stop_signals()}
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._restore()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.by = signal.Signals(signum)
        self.asked.set()
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
