"""Where ``digest serve``'s start-up stands, for HTTP, ``/healthz`` and systemd while it runs.

HTTP answers as soon as the socket is bound: the previous output is served
as it is, ``/healthz`` says ``starting`` (503, so Docker's health check and a
load balancer wait) and systemd hears ``READY=1`` with ``STATUS=starting: ...``.
Meanwhile the schema is migrated, missed pages are read and the first publish
runs (``service._start``); then ``finish`` and everything is as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from digest.service import sdnotify
from digest.web.server import HEALTH_STATUS


class Startup:
    """The current phase of start-up, or done; thread-safe (one writer, any readers)."""

    def __init__(self) -> None:
        self._phase = "opening"
        self._done = threading.Event()
        self.error: BaseException | None = None  # what stopped start-up, raised by ``serve`` at exit

    @property
    def starting(self) -> bool:
        """True until ``finish``."""
        return not self._done.is_set()

    def step(self, phase: str) -> None:
        """Enter ``phase`` (plain words: "migrating the database"); systemd's status shows it."""
        self._phase = phase
        sdnotify.notify(self.status())

    def finish(self) -> None:
        """Start-up is over: jobs run, health tells the truth."""
        self._done.set()
        sdnotify.notify(self.status())

    def status(self) -> str:
        """The ``STATUS=`` line for systemd."""
        return f"STATUS=starting: {self._phase}" if self.starting else "STATUS=serving"

    def health(self, report: Callable[[], Mapping[str, object]]) -> Callable[[], Mapping[str, object]]:
        """``report`` once started; until then ``starting`` and the phase (the store may be unready)."""

        def current() -> Mapping[str, object]:
            if self.starting:
                return {"status": HEALTH_STATUS, "phase": self._phase}
            return report()

        return current
