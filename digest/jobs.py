"""The units of work the service runs: publish and the daily digest, each with an explicit clock.

``now`` is always a parameter, so tests run a job at any instant and the
scheduler (``digest.service``) stays a thin shell around these functions.
Ingest lives in ``digest.ingest``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parseaddr

import httpx

from digest.config import Config
from digest.digests import build_digest, digest_window
from digest.errors import ConfigError, DeliveryError, PermanentDeliveryError
from digest.mail import Mailer, compose_digest_email
from digest.publish import PublishReport, publish
from digest.store import DigestRecord, Store, Subscriber
from digest.types import Digest

log = logging.getLogger(__name__)

HUB_TIMEOUT = 10  # seconds; a slow hub must not hold up the next ingest


@dataclass(frozen=True)
class DigestResult:
    """One run of the digest job."""

    digest: Digest
    made: bool  # a new digest row was stored (False for a dry run or a re-run of a made day)
    sent: int = 0
    failed: int = 0  # will be retried on the next run
    refused: int = 0  # refused for good; never retried


def run_publish(config: Config, store: Store, http: httpx.Client | None = None) -> PublishReport:
    """Render every feed and page from the store into the output folder (unchanged files untouched).

    Then, with ``feeds.hubs`` configured, tell each hub which feeds changed.
    """
    entries = store.entries()
    digests = [build_digest(entries, r.day, r.since, r.until) for r in store.digests()]
    report = publish(entries, digests, config, config.paths.output)
    if config.feeds.hubs and report.changed_feeds:
        if http is None:
            with httpx.Client(timeout=HUB_TIMEOUT) as client:
                ping_hubs(config.feeds.hubs, report.changed_feeds, client)
        else:
            ping_hubs(config.feeds.hubs, report.changed_feeds, http)
    return report


def ping_hubs(hubs: Sequence[str], feeds: Sequence[str], http: httpx.Client) -> int:
    """WebSub publish pings (hub.mode=publish), sent only once the new bytes are live.

    A hub that is down costs a warning, never the publish: subscribers still
    poll, and the next change pings again.  Returns how many pings were accepted.
    """
    accepted = 0
    for hub in hubs:
        for feed in feeds:
            try:
                response = http.post(hub, data={"hub.mode": "publish", "hub.url": feed})
            except httpx.HTTPError as exc:
                log.warning("hub %s not reached for %s: %s", hub, feed, exc)
                continue
            if response.is_success:
                accepted += 1
            else:
                log.warning("hub %s answered %d for %s", hub, response.status_code, feed)
    return accepted


def due_day(config: Config, now: datetime) -> date:
    """The day of the latest digest time at or before ``now``, in the configured timezone."""
    today = now.astimezone(config.tz).date()
    _, until = digest_window(today, config.digest_clock, config.tz, None)
    return today if until <= now else date.fromordinal(today.toordinal() - 1)


def unsubscribe_token(secret: str, email: str) -> str:
    """A short HMAC of the address: the unsubscribe link proves who it was sent to without a login."""
    mac = hmac.new(secret.encode(), email.lower().encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


def _digest_for(config: Config, store: Store, day: date) -> tuple[Digest, bool]:
    """The digest of ``day``: the stored window when it was made, else the window after the previous one."""
    record = store.digest(day)
    if record is not None:
        since, until = record.since, record.until
    else:
        previous = store.digests(before=day)
        since, until = digest_window(
            day, config.digest_clock, config.tz, previous[0].until if previous else None
        )
    return build_digest(store.entries_first_seen(since, until), day, since, until), record is None


def run_digest(
    config: Config,
    store: Store,
    mailer: Mailer,
    now: datetime,
    day: date | None = None,
    dry_run: bool = False,
    to: str | None = None,
) -> DigestResult:
    """Make the digest of ``day`` (default: the latest due), publish its page, and email it.

    Each recipient gets a ledger row before anything is sent and is marked
    sent right after the hand-over, so a crash or a re-run never sends one
    digest twice to one address.  A re-run of a made day only retries failed
    rows (and adds ``to`` when given).  A dry run stores and sends nothing.
    """
    started = clock.monotonic()
    day = day or due_day(config, now)
    digest, new = _digest_for(config, store, day)
    if digest.until > now and not dry_run:
        raise ConfigError(
            "--date",
            f"the digest of {day} is due at {digest.until.isoformat(timespec='minutes')}",
            "wait until then, or preview it with --dry-run",
        )
    if dry_run:
        return DigestResult(digest, made=False)
    if new:
        store.save_digest(DigestRecord(day, digest.since, digest.until, now, digest.count))
        run_publish(config, store)
    if digest.count == 0 and config.digest.empty_days == "skip" and to is None:
        log.info("digest day=%s entries=0 emails=skipped (digest.empty_days = skip)", day)
        return DigestResult(digest, made=new)
    subscribers = {s.email: s for s in store.subscribers()}
    if to is not None:
        subscribers.setdefault(to, Subscriber(to, (), True, now))
    additions = [to] if to is not None else (list(subscribers) if new else [])
    base = config.site.base_url.rstrip("/")
    sender = parseaddr(config.smtp.sender)[1]
    counts = {"sent": 0, "failed": 0, "refused": 0}
    for delivery in store.plan_deliveries(day, additions):
        subscriber = subscribers.get(delivery.email)
        if subscriber is None:
            store.mark_delivery(day, delivery.email, "refused", now, "no longer subscribed")
            counts["refused"] += 1
            continue
        message = compose_digest_email(
            digest,
            config=config,
            recipient=subscriber.email,
            site_url=base + "/",
            unsubscribe_url=f"{base}/unsubscribe/{unsubscribe_token(config.server.secret, subscriber.email)}",
            unsubscribe_mailto=f"mailto:{sender}?subject=unsubscribe",
            now=now,
            sections=frozenset(subscriber.sections) or None,
        )
        error: str | None = None
        try:
            mailer.send(message)
        except PermanentDeliveryError as exc:
            status, error = "refused", str(exc)
        except DeliveryError as exc:
            status, error = "failed", str(exc)
            log.warning("digest day=%s to=%s not delivered, will retry: %s", day, subscriber.email, exc)
        else:
            status = "sent"
        store.mark_delivery(day, subscriber.email, status, now, error)
        counts[status] += 1
    log.info(
        "digest day=%s entries=%d sent=%d failed=%d refused=%d ms=%d",
        day,
        digest.count,
        counts["sent"],
        counts["failed"],
        counts["refused"],
        (clock.monotonic() - started) * 1000,
    )
    return DigestResult(digest, made=new, **counts)


def catch_up_digest(config: Config, store: Store, mailer: Mailer, now: datetime) -> DigestResult | None:
    """On start-up: make the latest due digest if it was missed, or finish its unsent emails."""
    day = due_day(config, now)
    if store.digest(day) is not None and not any(
        d.status in ("pending", "failed") for d in store.deliveries(day)
    ):
        return None
    return run_digest(config, store, mailer, now, day)
