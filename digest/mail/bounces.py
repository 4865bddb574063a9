"""The bounce mailbox: delivery reports, complaints and unsubscribe mails, read over IMAP and acted on.

Mail goes out with ``smtp.return_path`` as its envelope sender, so reports
of mail that could not be delivered (RFC 3464 delivery status notifications)
land in that mailbox, apart from replies; ``List-Unsubscribe`` offers a
``mailto:`` to the same address once this mailbox is read.  Each run reads the
unseen messages of ``bounces.folder``:

- a DSN whose recipient ``Action: failed`` with a 5.x.x ``Status`` is a hard
  bounce of that recipient (counted; suppressed at ``digest.bounce_limit``);
- an abuse report (RFC 5965 ``feedback-report``) marks the address complained;
- a message whose subject is "unsubscribe" (or 退订) unsubscribes: the subscriber
  whose link token follows that word (what ``List-Unsubscribe``'s mailto sends),
  or its sender when it replies to an email we sent to that address;

and marks each one seen, so nothing is acted on twice.  Anybody can mail the
bounce address (it is every email's envelope sender), so a delivery report or an
abuse report counts only when the message it returns carries a Message-ID we
signed for that very address (``tokens.sent_to``; MTAs and feedback loops return
at least the headers): a forged one would cut a subscriber off for good.
Reading a message is pure (``read_report``); the IMAP session is the edge.
"""

from __future__ import annotations

import dataclasses
import imaplib
import logging
import re
import ssl
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import parseaddr
from enum import Enum

from digest.config import BouncesConfig, Config
from digest.errors import DeliveryError, TokenError
from digest.mail.signing import signing_secret
from digest.mail.tokens import Purpose, sent_to, verify
from digest.store.database import Store
from digest.store.records import SubscriberStatus

log = logging.getLogger(__name__)

_UNSUBSCRIBE_SUBJECTS = ("unsubscribe", "退订")


class ReportKind(Enum):
    """What a message in the bounce mailbox says about an address."""

    HARD_BOUNCE = "hard bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True)
class Report:
    """One address and what happened to it, with the words of the report."""

    kind: ReportKind
    email: str
    detail: str
    quoted: tuple[str, ...] = ()  # the Message-IDs of the messages a report returns or replies to
    token: str = ""  # an unsubscribe mail's link token (``List-Unsubscribe``'s mailto subject)


def read_report(data: bytes) -> list[Report]:
    """What one message of the bounce mailbox says (nothing for anything else)."""
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    if message.get_content_type() == "multipart/report":
        kind = message.get_param("report-type", "")
        found = {"delivery-status": _delivery_status, "feedback-report": _feedback}.get(str(kind))
        quoted = _returned_ids(message)
        return [dataclasses.replace(report, quoted=quoted) for report in found(message)] if found else []
    word, _, token = str(message.get("Subject", "")).strip().partition(" ")
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    if sender and word.lower() in _UNSUBSCRIBE_SUBJECTS:
        replied = " ".join(str(message.get(name, "")) for name in ("In-Reply-To", "References"))
        quoted = tuple(f"<{found}>" for found in re.findall(r"<([^<>\s]+)>", replied))
        detail = f"an email with the subject {word.lower()!r}"
        return [Report(ReportKind.UNSUBSCRIBE, sender, detail, quoted, token.strip())]
    return []


def _delivery_status(message: EmailMessage) -> list[Report]:
    """RFC 3464 §2.3: per-recipient groups of ``Final-Recipient``, ``Action``, ``Status``."""
    reports: list[Report] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for fields in _field_groups(part):
            recipient = fields.get("final-recipient", "").partition(";")[2].strip().lower()
            status = fields.get("status", "")
            if recipient and fields.get("action", "").lower() == "failed" and status.startswith("5."):
                detail = f"{status} {fields.get('diagnostic-code', '').partition(';')[2].strip()}".strip()
                reports.append(Report(ReportKind.HARD_BOUNCE, recipient, detail))
    return reports


def _feedback(message: EmailMessage) -> list[Report]:
    """RFC 5965: the complained-of recipient is in ``Original-Rcpt-To`` (or the returned message's To)."""
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            for fields in _field_groups(part):
                recipient = fields.get("original-rcpt-to", "").strip().lower()
                if recipient:
                    return [Report(ReportKind.COMPLAINT, recipient, fields.get("feedback-type", "abuse"))]
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            returned = part.get_payload(0) if part.is_multipart() else part
            to = parseaddr(str(returned.get("To", "")))[1].lower() if isinstance(returned, Message) else ""
            if to:
                return [Report(ReportKind.COMPLAINT, to, "abuse")]
    return []


def _returned_ids(message: EmailMessage) -> tuple[str, ...]:
    """The Message-IDs of the messages (or their headers) a report returns."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and part.is_multipart():
            returned = part.get_payload(0)
            found += (
                [str(v) for v in returned.get_all("Message-ID", [])] if isinstance(returned, Message) else []
            )
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            raw = text if isinstance(text, bytes) else str(part.get_payload()).encode()
            found += [
                str(v) for v in message_from_bytes(raw, policy=policy.default).get_all("Message-ID", [])
            ]
    return tuple(found)


def _field_groups(part: Message) -> list[dict[str, str]]:
    """The header-like field groups of a report part, names in lower case."""
    payload = part.get_payload()
    groups: list[dict[str, str]] = []
    if isinstance(payload, list):  # the email package parses message/delivery-status into blocks
        for block in payload:
            if isinstance(block, Message):
                groups.append({name.lower(): str(value) for name, value in block.items()})
        return groups
    text = part.get_payload(decode=True)
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(payload)
    for chunk in raw.replace("\r\n", "\n").split("\n\n"):
        parsed = message_from_bytes(chunk.strip().encode(), policy=policy.default)
        groups.append({name.lower(): str(value) for name, value in parsed.items()})
    return groups


def process_bounce_mailbox(config: Config, store: Store, now: datetime) -> Counter[str]:
    """Read the unseen messages of the bounce mailbox, act on each report, mark them seen.

    ``DeliveryError`` when the mailbox cannot be reached; the next run tries again.
    """
    settings = config.bounces
    counts: Counter[str] = Counter()
    secret = signing_secret(config)
    try:
        with _session(settings) as imap:
            _select(imap, settings)
            _, numbers = imap.search(None, "UNSEEN")
            for number in numbers[0].split():
                _, fetched = imap.fetch(number, "(BODY.PEEK[])")
                data = next((item[1] for item in fetched if isinstance(item, tuple)), b"")
                for report in read_report(data):
                    counts[_act(config, store, report, now, secret)] += 1
                imap.store(number, "+FLAGS", "\\Seen")
    except (imaplib.IMAP4.error, OSError) as exc:
        raise _unreachable(settings, exc) from exc
    return counts


def bounce_mailbox_problem(settings: BouncesConfig) -> str | None:
    """Why the bounce mailbox cannot be read (unreachable, TLS, login, no such folder), or None.

    It logs in and opens the folder read-only (EXAMINE), as ``digest check`` should: nothing is
    marked seen, so the next run still acts on every report waiting there."""
    try:
        with _session(settings) as imap:
            _select(imap, settings, readonly=True)
    except DeliveryError as exc:
        return str(exc)
    except (imaplib.IMAP4.error, OSError) as exc:
        return str(_unreachable(settings, exc))
    return None


def _select(imap: imaplib.IMAP4, settings: BouncesConfig, readonly: bool = False) -> None:
    status, _ = imap.select(_quoted(settings.folder), readonly=readonly)
    if status != "OK":
        raise DeliveryError(f"bounces.folder: no folder {settings.folder!r} on {settings.host}")


def _unreachable(settings: BouncesConfig, exc: BaseException) -> DeliveryError:
    return DeliveryError(
        f"bounce mailbox {settings.user}@{settings.host}:{settings.port}: {exc}; check [bounces]"
    )


def _act(config: Config, store: Store, report: Report, now: datetime, secret: str) -> str:
    holder = _token_holder(store, secret, report.token, now) if report.token else None
    if holder is not None:  # the mailto's token names whom it unsubscribes, whoever sent it
        report = dataclasses.replace(report, email=holder)
    known = store.subscriber(report.email)
    if known is None:
        return "unknown address"
    if holder is None and not any(sent_to(secret, value, report.email) for value in report.quoted):
        log.warning(
            "ignored a %s of %s: it names no link or message we sent to that address (forged?)",
            report.kind.value,
            report.email,
        )
        return "not ours"
    if report.kind is ReportKind.HARD_BOUNCE:
        after = store.record_hard_bounce(report.email, report.detail, now, config.digest.bounce_limit)
        log.info("hard bounce of %s: %s", report.email, report.detail)
        return "suppressed" if after is not None and after.state is SubscriberStatus.BOUNCED else "counted"
    status = (
        SubscriberStatus.COMPLAINED if report.kind is ReportKind.COMPLAINT else SubscriberStatus.UNSUBSCRIBED
    )
    if known.state.suppressed:
        return "already suppressed"
    store.set_subscriber_status(report.email, status, f"{report.kind.value}: {report.detail}", now)
    log.info("%s: %s (%s)", report.email, status.value, report.detail)
    return status.value


def _token_holder(store: Store, secret: str, token: str, now: datetime) -> str | None:
    """The address whose link token ``token`` is, if it is a valid one (of any age)."""
    try:
        key = verify(secret, token, Purpose.MANAGE, now, None)
    except TokenError:
        return None
    holder = store.subscriber_by_key(key)
    return holder.email if holder is not None else None


def _session(settings: BouncesConfig) -> imaplib.IMAP4:
    if settings.security == "tls":
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            settings.host, settings.port, ssl_context=ssl.create_default_context(), timeout=30
        )
    else:
        imap = imaplib.IMAP4(settings.host, settings.port, timeout=30)
        if settings.security == "starttls":
            imap.starttls(ssl.create_default_context())
    try:
        imap.login(settings.user, settings.password)
    except BaseException:
        imap.shutdown()
        raise
    return imap


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
