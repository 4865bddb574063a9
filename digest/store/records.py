"""What the store hands out and takes in: typed records of sources, subscribers, digests and
the delivery ledger, and the states they move through."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum, StrEnum


class DeliveryState(StrEnum):
    """Where one email of the delivery ledger (a digest copy or a subscription notice) stands.

    A ``StrEnum``: the value is what the ``status`` column holds and what metrics count by.
    """

    PENDING = "pending"  # to be sent when its attempt is due
    CLAIMED = "claimed"  # a run is handing it over; the server has no "." yet
    SENDING = "sending"  # the "." is on its way: from here on never sent again
    SENT = "sent"
    FAILED = "failed"  # a temporary failure: retried with backoff
    REFUSED = "refused"  # the server refused it for good (5xx)
    SKIPPED = "skipped"  # no longer subscribed, or nothing new in the chosen sections
    UNKNOWN = "unknown"  # the connection broke after the ".": it may have arrived; never resent
    EXPIRED = "expired"  # not delivered within its retry window


# Delivery rows that the send loop picks up (when their next attempt is due).
WAITING = (DeliveryState.PENDING, DeliveryState.FAILED)


# Ledger states no run changes any more: the only rows retention may fold into daily counts.
SETTLED = (
    DeliveryState.SENT,
    DeliveryState.REFUSED,
    DeliveryState.SKIPPED,
    DeliveryState.UNKNOWN,
    DeliveryState.EXPIRED,
)


# Outcomes after which an email may be in its recipient's mailbox: what it told counts as told.
MAY_HAVE_ARRIVED = (DeliveryState.SENT, DeliveryState.UNKNOWN)


# Subscription emails done with (sent, maybe sent, or given up on).
NOTICES_DONE = (DeliveryState.SENT, DeliveryState.REFUSED, DeliveryState.UNKNOWN, DeliveryState.EXPIRED)


# A claimed row is one run's until that run ends it: ``claimed`` while the message is being
# handed over (the server has no "." yet), ``sending`` from just before the "." on.
CLAIMED = (DeliveryState.CLAIMED, DeliveryState.SENDING)


@dataclass(frozen=True)
class SourceRecord:
    """What the store remembers of one page file (and of the page it holds, once read)."""

    path: str
    content_hash: str
    size: int
    mtime: datetime
    last_error: str | None
    seen_at: datetime
    issue_date: date | None = None
    dated_by: str | None = None
    page: int | None = None
    parser_version: str | None = None
    missing_since: datetime | None = None
    stamp: str | None = None  # the file's stat when read (``ingest.file_stamp``); None: not trusted
    # Of a file refused for its encoding: the ``ingest.encoding`` setting it was refused under.
    refused_encoding: str | None = None


@dataclass(frozen=True)
class DigestRecord:
    """A digest that was made: its window and size (the entries are re-read from ``articles``)."""

    day: date
    since: datetime
    until: datetime
    made_at: datetime
    count: int


class SubscriberStatus(Enum):
    """Where an address stands; the last three are the suppression list, never mailed and never revived."""

    PENDING = "pending"  # signed up, not confirmed yet
    CONFIRMED = "confirmed"  # receives digests
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # hard bounces reached ``digest.bounce_limit``
    COMPLAINED = "complained"  # marked as spam (a feedback report)

    @property
    def suppressed(self) -> bool:
        """Whether the address has left: only its own fresh consent brings it back."""
        return self not in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED)

    @property
    def refuses_mail(self) -> bool:
        """Whether the mailbox or its owner refused our mail (hard bounces, a spam complaint).

        Such an address gets no email of any kind, not even a confirmation of a new sign-up
        that anyone could type into the form; only the operator brings it back
        (``--resubscribe``).  An unsubscribed address is not one: its owner may sign up again.
        """
        return self in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


@dataclass(frozen=True)
class Subscriber:
    """An email recipient; empty ``sections`` means every section.

    ``status`` None means ``CONFIRMED`` or ``PENDING`` as ``confirmed`` says;
    ``confirmed`` is always ``status is CONFIRMED``.  ``key`` empty: the store
    keeps the one it has, or gives a new address a random one.
    """

    email: str
    sections: tuple[str, ...]
    confirmed: bool
    created: datetime
    confirm_sent_at: datetime | None = None
    confirmed_at: datetime | None = None  # when consent was given (the confirmation, or the import's)
    status: SubscriberStatus | None = None
    key: str = ""
    reason: str = ""
    status_at: datetime | None = None
    source: str = ""
    bounces: int = 0

    def __post_init__(self) -> None:
        if self.status is None:
            derived = SubscriberStatus.CONFIRMED if self.confirmed else SubscriberStatus.PENDING
            object.__setattr__(self, "status", derived)
        elif self.confirmed != (self.status is SubscriberStatus.CONFIRMED):
            raise ValueError(f"subscriber {self.email}: confirmed={self.confirmed} but status {self.status}")

    @property
    def state(self) -> SubscriberStatus:
        """``status``, never None."""
        assert self.status is not None  # set in __post_init__
        return self.status


class NoticeKind(Enum):
    """What a subscription email is for."""

    CONFIRM = "confirm"  # double opt-in: the link that confirms a sign-up
    MANAGE = "manage"  # a sign-up of an address already confirmed: its preferences and unsubscribe links
    EMPTIED = "emptied"  # a section the subscriber chose has no articles any more (digest.mail.emptied)


@dataclass(frozen=True)
class Notice:
    """One subscription email waiting, sent, or given up on."""

    email: str
    kind: NoticeKind
    status: str  # a ``DeliveryState``: pending, claimed, sending, sent, failed (retried), refused, ...
    attempts: int
    created: datetime
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    claim: str | None = None  # the sender that claimed it last (``claimed_at``, by the wall clock)
    claimed_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """One digest for one recipient; the statuses are explained in ``digest.mail.delivery``."""

    day: date
    email: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None = None
    claim: str | None = None  # the lease holder of the run that claimed the row last


@dataclass(frozen=True)
class SendLease:
    """The run sending one digest: ``holder`` (host:pid:random) until ``expires_at`` unless renewed."""

    day: date
    holder: str
    taken_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class DeliverySummary:
    """The rows of a ledger (every digest's copies, or the subscription emails) by status, the next
    retry and the latest error."""

    counts: tuple[tuple[str, int], ...]
    next_attempt_at: datetime | None
    last_error: str | None
    leases: tuple[SendLease, ...] = ()  # runs sending (or that were, if lapsed)


@dataclass(frozen=True)
class UpsertReport:
    """How an upsert changed the articles table."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class FailingEmails:
    """Emails waiting for a retry that were tried only after the last one that went: the mail server
    (or the outbox folder) fails now, not one address.  Subscription emails
    (``subscribers.failing_notices``) or digest copies (``ledger.failing_copies``)."""

    count: int
    since: datetime  # when the oldest of them was queued (a copy: when its digest was made)
    last_error: str  # the newest one's


@dataclass(frozen=True)
class StoreStatus:
    """Counts for ``digest status`` and the health check."""

    sources: int
    failed_sources: tuple[tuple[str, str], ...]
    articles: int
    latest_issue: date | None
    latest_digest: date | None
    subscribers: int
    pending_deliveries: int
    latest_arrival: datetime | None = None  # when the newest article was first seen
    unsure_dates: tuple[tuple[str, date], ...] = ()  # pages dated by their file time: 日期待核
    retracted: int = 0  # articles withdrawn
    notices: tuple[tuple[str, int], ...] = ()  # subscription emails by status
    failing_notices: FailingEmails | None = None
    failing_copies: FailingEmails | None = None  # digest copies


def new_key() -> str:
    """A random subscriber key: 96 bits, URL-safe, nothing derived from the address."""
    return secrets.token_urlsafe(12)
