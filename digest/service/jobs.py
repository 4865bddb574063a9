"""The units of work the service runs: publish and the daily digest, each with an explicit clock.

``now`` is always a parameter, so tests run a job at any instant and the
scheduler (``digest.service.serve``) stays a thin shell around these functions.
Ingest lives in ``digest.ingest.pipeline``.
"""

from __future__ import annotations

import logging
import shutil
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from digest.config import Config
from digest.errors import DeliveryError, NotDueError
from digest.faults import crash_point
from digest.mail.compose import DigestEmailMaker
from digest.mail.delivery import DeliveryReport, Retry, deliver, skip_reason
from digest.mail.emptied import tell_the_unmailed
from digest.mail.sendrun import SendRun
from digest.mail.subscribers import bounce_recorder, personal_links, subscription_upkeep
from digest.mail.transports import Mailer, OutboxMailer
from digest.publish.digestlog import shown_digests
from digest.publish.digests import back_issues, build_digest, digest_window
from digest.service.publish_job import (
    run_publish as run_publish,  # re-exported: the service and tests import it here
)
from digest.service.websub import Notifier
from digest.store.database import Store
from digest.store.records import DigestRecord, Subscriber
from digest.types import Digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CopySent:
    """A test copy (``send-digest --to``), told so the operator can find it."""

    to: str
    subject: str
    file: Path | None  # the outbox file it was written to; None: handed to the SMTP server


@dataclass(frozen=True)
class DigestResult:
    """One run of the digest job."""

    digest: Digest
    made: bool  # a new digest row was stored (False for a dry run, a test copy, a re-run of a made day)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    written_to: Path | None = None  # the folder a dry run wrote its emails into
    made_elsewhere: bool = False  # another run made this digest at the same moment; this one only sent
    back_issues: tuple[int, int] = (0, 0)  # issues, articles of the window kept out of a new digest's email
    test_copy: CopySent | None = None  # the copy ``to`` got (not in a dry run)

    @property
    def sent(self) -> int:
        """Copies handed over in this run."""
        return self.delivery.sent

    @property
    def failed(self) -> int:
        """Copies that will be retried (failed now, or not tried because the server was down)."""
        return self.delivery.failed + self.delivery.deferred

    @property
    def refused(self) -> int:
        """Copies refused for good; never retried."""
        return self.delivery.refused


def due_day(config: Config, now: datetime) -> date:
    """The day of the latest digest time at or before ``now``, in the configured timezone."""
    today = now.astimezone(config.tz).date()
    _, until = digest_window(today, config.digest_clock, config.tz, None)
    return today if until <= now else date.fromordinal(today.toordinal() - 1)


def _digest_for(config: Config, store: Store, day: date) -> tuple[Digest, bool, tuple[int, int]]:
    """The digest of ``day``: the stored window when it was made, else the window after the previous one
    (with the back issues and articles of that window it keeps out of the email)."""
    record = store.digest(day)
    if record is not None:
        since, until = record.since, record.until
    else:
        previous = store.digests(before=day)
        since, until = digest_window(
            day, config.digest_clock, config.tz, previous[0].until if previous else None
        )
    entries = store.entries_first_seen(since, until)
    backfill = config.digest.backfill_days
    issues = articles = 0
    if record is None:
        issues, articles = back_issues(entries, day, since, until, backfill)
        if issues:
            log.info(
                "digest day=%s kept %d back issues (%d articles, dated more than %d days before) out of "
                "the email; they are on the site and in the feeds",
                day,
                issues,
                articles,
                backfill,
            )
    return build_digest(entries, day, since, until, backfill), record is None, (issues, articles)


def run_digest(
    config: Config,
    store: Store,
    mailer: Mailer,
    now: datetime,
    day: date | None = None,
    dry_run: bool = False,
    to: str | None = None,
    notifier: Notifier | None = None,
    stopping: Callable[[], bool] = lambda: False,
    retry_now: bool = False,
) -> DigestResult:
    """Make the digest of ``day`` (default: the latest due), publish its page, and email it.

    ``notifier`` tells WebSub hubs about the digest feed (see ``run_publish``);
    the send loop stops between two messages once ``stopping()`` is true.

    Making the digest writes one ledger row per confirmed subscriber in the
    same transaction; ``digest.mail.delivery`` then sends each row at most once.
    A re-run of a made day sends the rows still due (``retry_now``: also those waiting for a
    retry, at once).  ``to`` sends one test
    copy outside the ledger; ``dry_run`` writes every email (or the one to
    ``to``) as .eml files under ``<data>/dry-run/<day>/`` (replacing what an
    earlier dry run left there), skipping whom a real run would skip, and
    stores nothing.  Neither needs the digest to be due.
    """
    started = clock.monotonic()
    day = day or due_day(config, now)
    digest, new, back = _digest_for(config, store, day)
    if dry_run or to is not None:
        preview = _preview(config, store, mailer, digest, now, dry_run, to, stopping)
        return replace(preview, back_issues=back)
    if digest.until > now:
        raise NotDueError(
            f"the digest of {day} is due at {digest.until.isoformat(timespec='minutes')}; "
            "wait until then, or preview it with --dry-run or --to"
        )
    skip_empty = config.digest.empty_days == "skip"
    raced = False
    if new:
        recipients = [] if digest.count == 0 and skip_empty else [s.email for s in store.subscribers()]
        crash_point("digest.before_save")
        new = store.save_digest(DigestRecord(day, digest.since, digest.until, now, digest.count), recipients)
        crash_point("digest.after_save")
        if new:
            run_publish(config, store, notifier)
            crash_point("digest.after_publish")
        else:
            log.info("digest day=%s: another run made it at the same moment; sending what is due", day)
            raced = True
    record = store.digest(day)
    assert record is not None  # saved above or before
    store.forget_refilled_notices()  # told of a section that has articles again: told again if it empties
    maker = _maker(config, digest, now)
    run = SendRun(stopping)  # one run for the copies and the emails about emptied sections after them
    report = deliver(
        store,
        mailer,
        maker,
        record,
        links=personal_links(config, now, store),
        on_hard_bounce=bounce_recorder(config, store, now),
        retry=Retry(
            first=timedelta(seconds=config.digest.retry_seconds),
            give_up_after=timedelta(hours=config.digest.retry_hours),
        ),
        skip_empty=skip_empty,
        now=now,
        run=run,
        retry_now=retry_now,
        emptied=store.emptied_to_tell(),
    )
    if new:  # once a day: whom the digest does not go to hears of emptied sections apart
        tell_the_unmailed(config, store, mailer, maker, now, run)
    log.info(
        "digest day=%s entries=%d %s ms=%d",
        day,
        digest.count,
        " ".join(f"{k}={v}" for k, v in report.__dict__.items()),
        (clock.monotonic() - started) * 1000,
    )
    return DigestResult(digest, made=new, delivery=report, made_elsewhere=raced, back_issues=back)


def _maker(
    config: Config, digest: Digest, now: datetime, web_page: bool = True, test_copy: bool = False
) -> DigestEmailMaker:
    site_url = config.site.base_url.rstrip("/") + "/"
    return DigestEmailMaker(
        digest, config=config, site_url=site_url, now=now, web_page=web_page, test_copy=test_copy
    )


def _page_there(config: Config, store: Store, digest: Digest, dry_run: bool) -> bool:
    """Whether a preview links the day's web page.  A test copy is read now, so only a page published
    now: none before the digest is made, none for a day it leaves out (``shown_digests``: an empty
    one with ``digest.empty_days = "skip"``).  A dry run shows what the real run sends, which
    publishes the page first: linked when that run would publish one."""
    record = store.digest(digest.day)
    if record is not None:
        return bool(shown_digests(store, [record], config))
    return dry_run and (digest.count > 0 or config.digest.empty_days == "notice")


def _preview(
    config: Config,
    store: Store,
    mailer: Mailer,
    digest: Digest,
    now: datetime,
    dry_run: bool,
    to: str | None,
    stopping: Callable[[], bool],
) -> DigestResult:
    """A test copy to ``to``, or a dry run into a folder: no ledger, nothing stored.

    A dry run skips whom ``deliver`` would skip (``skip_reason``), and empties the day's folder
    first, so the folder holds exactly the emails this run reports.  A test copy is sent unless
    ``stopping()`` is true before it; a dry run writes no more emails once it is, as a send stops.
    """
    folder = config.paths.data / "dry-run" / digest.day.isoformat()
    if dry_run:
        _empty_folder(folder)
    target: Mailer = OutboxMailer(folder) if dry_run else mailer
    recipients = [Subscriber(to, (), True, now)] if to is not None else store.subscribers()
    # A preview publishes nothing, so it links no page that is not there rather than make one.
    maker = _maker(config, digest, now, _page_there(config, store, digest, dry_run), test_copy=to is not None)
    links = personal_links(config, now, store)
    skip_empty = config.digest.empty_days == "skip"
    emptied = store.emptied_to_tell() if dry_run else {}  # what the copies would tell; a real run tells
    sent = skipped = 0
    copy = None
    for subscriber in recipients:
        if stopping():
            break
        if dry_run and skip_reason(maker, subscriber, skip_empty) is not None:
            skipped += 1
            continue
        personal = links(subscriber.email)
        outgoing = maker.outgoing(
            subscriber.email,
            unsubscribe_url=personal.unsubscribe,
            unsubscribe_mailto=personal.mailto,
            preferences_url=personal.preferences,
            sections=frozenset(subscriber.sections) or None,
            emptied=tuple(section.name for section in emptied.get(subscriber.email, ())),
        )
        target.send(outgoing)
        sent += 1
        if to is not None and not dry_run:
            outbox = target.last_written if isinstance(target, OutboxMailer) else None
            copy = CopySent(to, str(outgoing.message()["Subject"]), outbox)
    written = folder if dry_run else None
    report = DeliveryReport(sent=sent, skipped=skipped)
    return DigestResult(digest, made=False, delivery=report, written_to=written, test_copy=copy)


def _empty_folder(folder: Path) -> None:
    """``folder`` made anew and empty: a dry run's files replace an earlier run's, never pile up."""
    try:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(mode=0o700, parents=True)  # its file names are the recipients' addresses
    except OSError as exc:
        raise DeliveryError(
            f"cannot empty {folder} for the dry run: {exc.strerror or exc}; check it is a writable folder"
        ) from exc


def catch_up_digest(
    config: Config,
    store: Store,
    mailer: Mailer,
    now: datetime,
    notifier: Notifier | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> DigestResult | None:
    """The service's digest job (its daily cron run and start-up): make the latest due digest if it
    was not made (``missed_digest``), or finish its emails that are due; None when there is nothing
    to do."""
    made = missed_digest(config, store, mailer, now, notifier, stopping)
    if made is not None:
        return made
    day = due_day(config, now)
    if day not in store.days_due(now):  # only a made digest has ledger rows
        return None
    return run_digest(config, store, mailer, now, day, notifier=notifier, stopping=stopping)


def missed_digest(
    config: Config,
    store: Store,
    mailer: Mailer,
    now: datetime,
    notifier: Notifier | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> DigestResult | None:
    """Make the latest due digest when it was not made, whenever its cron run was missed; else None.

    The cron run is missed while the service is down, but also while it runs: a machine suspended
    or a VM paused over ``schedule.digest_time``, or a clock stepped past it, are more than the
    scheduler's grace time late.  The retry job calls this every minute, so such a day still gets
    its digest (and its page) within a minute, instead of being folded into the next day's.  A day
    before the latest digest made (a clock stepped back) gets none: its window is already covered.
    """
    day = due_day(config, now)
    if store.digest(day) is not None:
        return None
    made = store.digests()
    if made and made[0].day > day:
        return None
    return run_digest(config, store, mailer, now, day, notifier=notifier, stopping=stopping)


def retry_deliveries(
    config: Config,
    store: Store,
    mailer: Mailer,
    now: datetime,
    notifier: Notifier | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> list[DigestResult]:
    """Send every ledger row that is due at ``now``, whatever its digest (the scheduler's retry job),
    then make a digest whose cron run was missed (``missed_digest``).

    Subscription emails waiting for a retry go too, and expired sign-ups are removed.
    """
    subscription_upkeep(config, store, mailer, now, stopping)
    retried = [run_digest(config, store, mailer, now, day, stopping=stopping) for day in store.days_due(now)]
    # After the retries, so a digest that cannot be made holds none of them up; last in the list, so
    # the service's health reports it rather than an older one retried.
    made = missed_digest(config, store, mailer, now, notifier, stopping)
    return retried + ([made] if made is not None else [])
