"""What a run sending emails one after another heeds between two of them, the digest's copies
(``digest.mail.delivery``) and the subscription emails (``digest.mail.subscribers``) alike.

A request to stop (SIGTERM, SIGINT, SIGHUP: ``stopping()``) ends the run before its next email;
the rest wait for the next run.  ``SERVER_DOWN_AFTER`` transient failures in a row mean the mail
server is down: the rest are put off to the retry time the last failure got, instead of each
costing the mailer's whole timeout (30 s a step in ``digest serve``) while the job lock keeps
ingest and publish waiting.  The digest job shares one run between its copies and the emails about
emptied sections that follow them (``digest.mail.emptied``), so a server the copies found down is
not tried again for each of those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from digest.store.records import DeliveryState

log = logging.getLogger(__name__)

SERVER_DOWN_AFTER = 3  # transient failures in a row that stop a run
# Outcomes reached without a word with the server: they neither add to a streak nor end it.
_UNTRIED = (DeliveryState.SKIPPED, DeliveryState.EXPIRED)

T = TypeVar("T")


@dataclass(frozen=True)
class Outage:
    """The mail server seems down: the last failure's error, and the retry time it was given."""

    error: str
    retry_at: datetime

    @property
    def reason(self) -> str:
        """What an email put off for it says it waits for."""
        return f"not tried, the server seemed down: {self.error}"


class SendRun:
    """One run of sends: whether it was asked to stop, and the transient failures in a row so far."""

    def __init__(self, stopping: Callable[[], bool] = lambda: False) -> None:
        self.stopping = stopping
        self._streak = 0
        self._last: Outage | None = None

    @property
    def outage(self) -> Outage | None:
        """The outage once ``SERVER_DOWN_AFTER`` failures came in a row, else None."""
        return self._last if self._streak >= SERVER_DOWN_AFTER else None

    def record(
        self, outcome: DeliveryState, error: str | None = None, retry_at: datetime | None = None
    ) -> None:
        """One email's outcome: ``failed`` (with its error and retry time) adds to the streak, any other
        the server gave (sent, refused, unknown) ends it; one skipped or expired untried changes nothing."""
        if outcome is DeliveryState.FAILED:
            assert retry_at is not None, "a failed email waits for a retry"
            self._streak += 1
            self._last = Outage(error or "no reason given", retry_at)
        elif outcome not in _UNTRIED:
            self._streak = 0

    def each(
        self,
        items: Sequence[T],
        what: str,
        put_off: Callable[[Sequence[T], Outage], None],
        holds: Callable[[], str | None] = lambda: None,
    ) -> Iterator[T]:
        """``items`` one by one while the run may go on; ``what`` names them in the log.

        Before each: once asked to stop, or once ``holds()`` says why this run may send no more (its
        send lease went to another run), the rest are left as they are for the next run; once the
        server seems down, ``put_off(rest, outage)`` makes them wait for the retry.
        """
        for index, item in enumerate(items):
            left = len(items) - index
            why = "asked to stop" if self.stopping() else holds()
            if why is not None:
                log.warning("%s: %s; %d emails wait for the next run", what, why, left)
                return
            outage = self.outage
            if outage is not None:
                put_off(items[index:], outage)
                log.warning(
                    "%s: server down (%s); %d emails wait until %s", what, outage.error, left, outage.retry_at
                )
                return
            yield item
