"""WebSub publish pings: tell each hub which feeds changed, from a background thread, with retries.

After a publish the service calls ``Notifier.notify`` with the subscription
documents that changed; it returns at once, and a worker thread POSTs
``hub.mode=publish`` and ``hub.url=<feed>`` to every configured hub (the
PubSubHubbub 0.4 publish ping most hubs accept).  The publish has renamed the
new bytes into place before it returns, so a hub fetching the feed on the
ping sees them.

A hub that is down, times out or answers 5xx/429 is retried with exponential
backoff (``backoff``, twice that, ...) up to ``attempts`` tries; any other 4xx
is final.  A ping already waiting for a hub and feed is not queued twice: the
hub fetches the newest bytes whenever it comes.  Failures cost a warning,
never a publish: subscribers still poll.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import httpx

log = logging.getLogger(__name__)

HUB_TIMEOUT = 10.0  # seconds per ping; a slow hub only delays the worker thread
ATTEMPTS = 5
BACKOFF = 2.0  # seconds before the first retry; doubles each time (2, 4, 8, 16)


class Notifier:
    """A worker thread that pings hubs; ``notify`` never blocks.  Use as a context manager or ``close()``."""

    def __init__(
        self,
        hubs: Sequence[str],
        client: httpx.Client,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        self.hubs = tuple(hubs)
        self.accepted = 0  # pings a hub acknowledged
        self.abandoned = 0  # pings given up after the last attempt or a final refusal
        self._client = client
        self._attempts = attempts
        self._backoff = backoff
        self._queue: list[tuple[float, int, str, str, int]] = []  # (due, order, hub, feed, attempt)
        self._waiting: set[tuple[str, str]] = set()
        self._in_flight = 0
        self._order = itertools.count()
        self._closed = False
        self._changed = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="digest-websub", daemon=True)
        self._worker.start()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def notify(self, feeds: Sequence[str]) -> None:
        """Queue a ping to every hub for each feed URL in ``feeds``; returns at once."""
        with self._changed:
            if self._closed:
                raise RuntimeError("the notifier is closed")
            now = time.monotonic()
            for hub in self.hubs:
                for feed in feeds:
                    if (hub, feed) not in self._waiting:
                        self._waiting.add((hub, feed))
                        heapq.heappush(self._queue, (now, next(self._order), hub, feed, 1))
            self._changed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued ping (retries included) is done; False when ``timeout`` ran out."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._in_flight, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Finish the queued pings (at most ``timeout`` seconds), then stop the worker."""
        if not self.wait(timeout):
            log.warning("websub: %d hub pings dropped at shutdown", len(self._queue))
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._worker.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._closed and (not self._queue or self._queue[0][0] > time.monotonic()):
                    delay = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._changed.wait(delay)
                if self._closed:
                    return
                _, _, hub, feed, attempt = heapq.heappop(self._queue)
                self._waiting.discard((hub, feed))
                self._in_flight += 1
            outcome = self._ping(hub, feed, attempt)
            with self._changed:
                self._in_flight -= 1
                if outcome == "retry" and attempt < self._attempts and (hub, feed) not in self._waiting:
                    due = time.monotonic() + self._backoff * 2 ** (attempt - 1)
                    self._waiting.add((hub, feed))
                    heapq.heappush(self._queue, (due, next(self._order), hub, feed, attempt + 1))
                elif outcome == "ok":
                    self.accepted += 1
                elif (hub, feed) not in self._waiting:
                    self.abandoned += 1
                    log.warning("websub: gave up telling %s about %s after %d attempts", hub, feed, attempt)
                self._changed.notify_all()

    def _ping(self, hub: str, feed: str, attempt: int) -> str:
        """One POST: ``ok``, ``retry`` (unreachable, 5xx, 429) or ``final`` (any other refusal)."""
        try:
            response = self._client.post(hub, data={"hub.mode": "publish", "hub.url": feed})
        except httpx.HTTPError as exc:
            log.warning("websub: hub %s not reached for %s (attempt %d): %s", hub, feed, attempt, exc)
            return "retry"
        if response.is_success:
            return "ok"
        log.warning(
            "websub: hub %s answered %d for %s (attempt %d)", hub, response.status_code, feed, attempt
        )
        return "retry" if response.status_code >= 500 or response.status_code == 429 else "final"
