"""WebSub publish pings against a real hub on loopback: background delivery, retries, backoff, give-up."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from atomcheck import make_config, make_entry
from test_server import serving

from digest.config import Config, PathsConfig
from digest.service.jobs import run_publish
from digest.service.websub import Notifier
from digest.store.database import Store

BASE = "http://example.test/paper/"


@dataclass
class Hub:
    """An ASGI hub that records each ping, what the feed file held at that moment, and its answer.

    ``answers`` are used first (one per request), then 204.  ``gate``, when
    set, holds every request until released.
    """

    output: Path | None = None
    answers: list[int] = field(default_factory=list)
    pings: list[tuple[dict[str, str], int, float, bytes]] = field(default_factory=list)
    gate: threading.Event | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, 10)
        form = dict(parse_qsl(body.decode()))
        status = self.answers.pop(0) if self.answers else 204
        feed = b""
        if self.output is not None:
            # What a hub fetching the topic right now would get.
            feed = (self.output / form["hub.url"].removeprefix(BASE)).read_bytes()
        self.pings.append((form, status, time.monotonic(), feed))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def _config(tmp_path: Path, hubs: tuple[str, ...]) -> Config:
    paths = PathsConfig(source=tmp_path / "pages", data=tmp_path / "data", output=tmp_path / "output")
    return replace(make_config(hubs=hubs), paths=paths)


def test_pings_follow_a_publish_in_the_background_and_retry_with_backoff(
    tmp_path: Path, client: httpx.Client
) -> None:
    hub = Hub(output=tmp_path / "output", answers=[503, 503], gate=threading.Event())
    with serving(hub) as url, Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}") as store:
        config = _config(tmp_path, (url + "/hub",))
        entry = make_entry("新到的稿件", section="要闻")
        store.upsert_entries([entry])
        with Notifier(config.feeds.hubs, client, attempts=3, backoff=0.2) as notifier:
            report = run_publish(config, store, notifier)
            # The hub is holding the first ping, yet the publish is done: pinging never blocks it.
            assert report.changed_feeds and hub.pings == []
            hub.gate.set()  # type: ignore[union-attr]
            assert notifier.wait(timeout=20)
        topics = sorted(report.changed_feeds)
        assert sorted({form["hub.url"] for form, *_ in hub.pings}) == topics
        assert {form["hub.mode"] for form, *_ in hub.pings} == {"publish"}
        assert notifier.accepted == len(topics) and notifier.abandoned == 0
        # Two 503s cost two retries, each after the backoff; the new entry was live at every ping.
        assert len(hub.pings) == len(topics) + 2
        assert [status for _, status, _, _ in hub.pings].count(503) == 2
        for topic in topics:
            times = [t for form, _, t, _ in hub.pings if form["hub.url"] == topic]
            assert all(later - earlier >= 0.2 * 0.9 for earlier, later in itertools.pairwise(times))
        for form, _, _, feed in hub.pings:
            assert feed == (config.paths.output / form["hub.url"].removeprefix(BASE)).read_bytes()
        assert entry.tag.encode() in (config.paths.output / "feeds/all.atom").read_bytes()


def test_a_refusal_is_final_and_a_dead_hub_is_given_up_after_the_last_attempt(
    tmp_path: Path, client: httpx.Client
) -> None:
    hub = Hub(answers=[400])
    with serving(hub) as url:
        dead = "http://127.0.0.1:9/hub"  # the discard port: connection refused
        with Notifier((url + "/hub", dead), client, attempts=3, backoff=0.05) as notifier:
            notifier.notify(["http://example.test/paper/feeds/all.atom"])
            assert notifier.wait(timeout=20)
        assert [status for _, status, _, _ in hub.pings] == [400]  # not retried
        assert (notifier.accepted, notifier.abandoned) == (0, 2)
        with pytest.raises(RuntimeError, match="closed"):
            notifier.notify(["http://example.test/paper/feeds/all.atom"])


def test_a_ping_already_waiting_is_not_queued_twice(client: httpx.Client) -> None:
    hub = Hub(gate=threading.Event())
    with serving(hub) as url, Notifier((url + "/hub",), client) as notifier:
        feeds = ["http://example.test/paper/feeds/all.atom", "http://example.test/paper/feeds/yao-wen.atom"]
        notifier.notify(feeds)
        notifier.notify(feeds)
        notifier.notify(feeds[:1])
        hub.gate.set()  # type: ignore[union-attr]
        assert notifier.wait(timeout=20)
    # The first ping may already be in flight when the repeats arrive; then one more follows.
    assert 2 <= len(hub.pings) <= 3
    assert {form["hub.url"] for form, *_ in hub.pings} == set(feeds)


def test_a_one_off_publish_pings_before_returning(tmp_path: Path) -> None:
    hub = Hub()
    with serving(hub) as url, Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}") as store:
        config = _config(tmp_path, (url + "/hub",))
        store.upsert_entries([make_entry("新到的稿件", section="要闻")])
        report = run_publish(config, store)
        assert sorted(form["hub.url"] for form, *_ in hub.pings) == sorted(report.changed_feeds)
        hub.pings.clear()
        assert run_publish(config, store).changed_feeds == () and hub.pings == []
