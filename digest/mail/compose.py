"""The digest and confirmation emails, and the two ways they leave: an outbox folder or SMTP.

Composing is pure (the clock comes in as ``now``).  Mailers are the edge:
``OutboxMailer`` is the embedded default until ``smtp.host`` is set,
``SmtpMailer`` keeps one connection open across a run of sends.  Both raise
``DeliveryError`` for "try again later", ``PermanentDeliveryError`` when the
server refused this recipient for good, and ``UncertainDeliveryError`` when
the message may have arrived; and both call a ``commit`` hook at their point
of no return, which is what lets ``digest.mail.delivery`` promise "never twice".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage

import markupsafe

from digest.chars import HEADER_UNSAFE
from digest.config import Config
from digest.errors import ConfigError
from digest.language import fixed_words
from digest.mail.address import recipient_address, sender_address
from digest.mail.dkim import dkim_signer
from digest.mail.message import (
    POLICY,
    URI,
    WIRE_8BIT,
    Outgoing,
    checked_headers,
    date_header,
    declare_language,
    folded,
    list_unsubscribe,
    wire,
)
from digest.mail.pages import (
    ConfirmEmail,
    DigestEmail,
    EmailItem,
    EmailSection,
    EmptiedEmail,
    ManageEmail,
    capped,
    emptied_note,
    render_email,
)
from digest.mail.signing import signing_secret
from digest.mail.tokens import message_id
from digest.publish.digests import select_sections
from digest.publish.layout import absolute_url, caption_line, digest_path, one_line, present, section_path
from digest.publish.templates import cn_date
from digest.types import Digest, Entry

_MAX_BODY_LINE = 990  # the same limit, with room for CRLF and dot-stuffing
_SUBJECT_HEADLINE = 28  # characters of the lead headline in the subject; more is cut with …
_PREHEADER = 90  # characters of the inbox preview
_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


# Stand-ins rendered into the cached bodies and replaced per recipient (plain ASCII, so neither
# Jinja's escaping nor css-inline's serialiser changes them).
_RECIPIENT = "digest-slot-recipient"
_UNSUBSCRIBE = "digest-slot-unsubscribe"
_PREFERENCES = "digest-slot-preferences"
_SLOT_ROOM = 300  # what filling the slots may add to a line (an address, an escaped URL)
# In a message serialised once per section choice: the personal headers, and the HTML part's
# slots apart from the plain text's (they are filled HTML-escaped).
_TO = "digest-slot-to"
_MESSAGE_ID = "digest-slot-message-id"
_LIST_UNSUBSCRIBE = "digest-slot-list-unsubscribe"
_HTML = ".html"
_BODY_SLOTS = (_RECIPIENT, _UNSUBSCRIBE, _PREFERENCES)
# An HTML slot's name starts with its plain one's, so those come first; one group, so that
# re.split keeps the slots between the literal parts.
_WIRE_SLOTS = re.compile(
    "({})".format(
        "|".join(
            re.escape(slot)
            for slot in (_LIST_UNSUBSCRIBE, _MESSAGE_ID, _TO, *(s + _HTML for s in _BODY_SLOTS), *_BODY_SLOTS)
        )
    ).encode()
)


@dataclass(frozen=True)
class _Template:
    """One section choice's email: bodies with slots, and the whole message serialised once."""

    count: int
    lead: str  # the first headline: it goes into the subject
    text: str
    html: str
    text_cte: str
    html_cte: str
    # The 8bit message split at its slots (literal, slot, literal, ...); None when a part is
    # base64, where a slot cannot be filled in the encoded bytes.
    wire: tuple[bytes, ...] | None


@dataclass(frozen=True)
class _Personal:
    """What differs per recipient: headers as they go on the wire, and the values of the body slots."""

    to: Address
    headers: dict[str, str]  # header slot -> folded value
    slots: dict[str, str]  # body slot -> value, not yet escaped


class DigestEmailMaker:
    """One digest's emails: rendered and serialised once per section choice, headers folded once.

    Rendering, CSS inlining and the email package's serialising cost
    milliseconds, more than the SMTP exchange; per recipient only the
    address, the Message-ID and the personal links differ, so those are slots
    filled in by plain replacement in the serialised bytes (HTML-escaped in
    the HTML part).  Every header is checked here: nothing supplied can
    smuggle a header in.  A line break in the sender or site title raises
    ``ConfigError``; in a recipient ``PermanentDeliveryError`` (the address is
    unusable); in an unsubscribe URI ``ValueError`` (our own code built it).
    """

    def __init__(
        self,
        digest: Digest,
        *,
        config: Config,
        site_url: str,
        now: datetime,
        web_page: bool = True,
        test_copy: bool = False,
    ) -> None:
        """``web_page`` False: the day's web page is not there to link (``web_url`` empty);
        ``test_copy``: the footer says so, rather than that the reader subscribed."""
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        self._digest = digest
        self._web_page = web_page
        self._test_copy = test_copy
        self._sender = sender_address(config.smtp.sender)
        self._envelope = envelope_sender(config)
        self._signer = dkim_signer(config)
        self._secret = signing_secret(config)  # signs Message-IDs: reports quoting one are checked
        self._title = _subject_text(config.site.title)
        self._site_url = site_url
        self._now = now
        self._date = date_header(now, config.tz)
        self._max_items = config.digest.max_items
        self._language = config.site.language
        self._templates: dict[tuple[frozenset[str] | None, bool, tuple[str, ...]], _Template] = {}
        self._headers: dict[tuple[int, str], list[tuple[str, str]]] = {}

    def outgoing(
        self,
        recipient: str,
        *,
        unsubscribe_url: str,
        unsubscribe_mailto: str,
        preferences_url: str | None = None,
        sections: frozenset[str] | None = None,
        emptied: tuple[str, ...] = (),
    ) -> Outgoing:
        """The email to ``recipient``, narrowed to the section slugs they chose (None: all).

        ``emptied`` names chosen sections that have no articles any more: the email says so at
        the top (``pages.emptied_note``).  Its bytes come without the email package when both
        bodies are 8bit; ``Outgoing.message`` builds the same email with it.
        """
        personal = self._personal(recipient, unsubscribe_url, unsubscribe_mailto, preferences_url)
        template = self._template(sections, preferences_url is not None, emptied)
        if template.wire is None:
            data = self._message(template, personal).as_bytes(policy=WIRE_8BIT)
        else:
            # Folded header values take the wire's line ends; they are ASCII (RFC 2047 words).
            values = {
                slot: "\r\n".join(value.splitlines()).encode("ascii")
                for slot, value in personal.headers.items()
            }
            for slot, value in personal.slots.items():
                values[slot] = value.encode()
                values[slot + _HTML] = str(markupsafe.escape(value)).encode()
            parts = list(template.wire)
            parts[1::2] = [values[slot.decode()] for slot in template.wire[1::2]]
            data = b"".join(parts)
        data = checked_headers(data, personal.to.addr_spec)
        return Outgoing(
            sender=self._envelope,
            recipient=personal.to.addr_spec,
            date=self._now,
            data=self._signer(data) if self._signer is not None else data,
            message=lambda: self._message(template, personal),
            signer=self._signer,
        )

    def count(self, sections: frozenset[str] | None) -> int:
        """How many articles the email to a subscriber of ``sections`` holds."""
        return select_sections(self._digest, sections).count

    def _personal(
        self, recipient: str, unsubscribe_url: str, unsubscribe_mailto: str, preferences_url: str | None
    ) -> _Personal:
        to = recipient_address(recipient)
        headers = {
            _TO: folded([("To", to)])[0][1],
            _MESSAGE_ID: message_id(self._secret, "digest", to.addr_spec, self._sender.domain),
            _LIST_UNSUBSCRIBE: list_unsubscribe(unsubscribe_url, unsubscribe_mailto),
        }
        slots = {_RECIPIENT: to.addr_spec, _UNSUBSCRIBE: unsubscribe_url, _PREFERENCES: preferences_url or ""}
        return _Personal(to, headers, slots)

    def _message(self, template: _Template, personal: _Personal) -> EmailMessage:
        message = EmailMessage(policy=POLICY)
        for name, value in self._common_headers(template.count, template.lead):
            message.set_raw(name, value)
        message.set_raw("To", personal.headers[_TO])
        message.set_raw("Message-ID", personal.headers[_MESSAGE_ID])
        message.set_raw("List-Unsubscribe", personal.headers[_LIST_UNSUBSCRIBE])
        message.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
        message.set_content(_fill(template.text, personal.slots, escape=False), cte=template.text_cte)
        html = _fill(template.html, personal.slots, escape=True)
        message.add_alternative(html, subtype="html", cte=template.html_cte)
        declare_language(message, self._language)
        return message

    def _template(
        self, sections: frozenset[str] | None, preferences: bool, emptied: tuple[str, ...]
    ) -> _Template:
        key = (sections, preferences, emptied)
        if key not in self._templates:
            chosen = select_sections(self._digest, sections)
            shown = capped(chosen.groups, self._max_items)
            email_sections = tuple(
                EmailSection(
                    name=one_line(section.name),
                    items=tuple(_item(entry, self._site_url) for entry in kept),
                    total=len(entries),
                    anchor=f"section-{number}",
                    url="" if kept else absolute_url(self._site_url, section_path(section)),
                )
                for number, ((section, entries), kept) in enumerate(zip(chosen.groups, shown, strict=True), 1)
            )
            headlines = [item.headline for section in email_sections for item in section.items]
            page = DigestEmail(
                title=self._title,
                day=chosen.day,
                weekday=_WEEKDAYS[chosen.day.weekday()],
                count=chosen.count,
                more=chosen.count - len(headlines),
                preheader=_shorten(
                    "；".join(headlines[1:4]) or fixed_words("今天的新文章", self._language), _PREHEADER
                ),
                sections=email_sections,
                site_url=self._site_url,
                web_url=absolute_url(self._site_url, digest_path(chosen.day)) if self._web_page else "",
                unsubscribe_url=_UNSUBSCRIBE,
                preferences_url=_PREFERENCES if preferences else "",
                recipient=_RECIPIENT,
                emptied=emptied_note([one_line(name) for name in emptied], self._language) if emptied else "",
                test_copy=self._test_copy,
            )
            text, html = render_email("digest", page, self._language)
            lead = headlines[0] if headlines else ""
            template = _Template(
                chosen.count, lead, text, html, _transfer_encoding(text), _transfer_encoding(html), None
            )
            if template.text_cte == template.html_cte == "8bit":
                slotted = _Personal(
                    Address(addr_spec="slot@localhost"),
                    {slot: slot for slot in (_TO, _MESSAGE_ID, _LIST_UNSUBSCRIBE)},
                    {},
                )
                # The HTML part's slots get their own names, so they can be filled escaped.
                html_slotted = replace(
                    template,
                    html=_fill(html, {s: s + _HTML for s in _BODY_SLOTS}, escape=False),
                )
                data = self._message(html_slotted, slotted).as_bytes(policy=WIRE_8BIT)
                template = replace(template, wire=tuple(_WIRE_SLOTS.split(data)))
            self._templates[key] = template
        return self._templates[key]

    def _common_headers(self, count: int, lead: str) -> list[tuple[str, str]]:
        """Subject, From, Date, List-Id, Auto-Submitted, folded by the email package once per count and lead.

        The subject names the day, the count and the lead headline, so the inbox line says what is inside.
        """
        if (count, lead) not in self._headers:
            subject = f"{self._title} · {cn_date(self._digest.day)} · {count} " + fixed_words(
                "篇", self._language
            )
            if lead:
                subject += f"：{_shorten(lead, _SUBJECT_HEADLINE)}"
            self._headers[(count, lead)] = folded(
                [
                    ("Subject", subject),
                    ("From", self._sender),
                    ("Date", self._date),
                    ("List-Id", _list_id(self._title, self._sender)),
                    ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies
                ]
            )
        return self._headers[(count, lead)]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def compose_digest_email(
    digest: Digest,
    *,
    config: Config,
    recipient: str,
    site_url: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    now: datetime,
    sections: frozenset[str] | None = None,
    preferences_url: str | None = None,
) -> EmailMessage:
    """The digest as one multipart/alternative email (plain text + inlined-CSS HTML) to ``recipient``.

    ``sections`` narrows it to the section slugs the subscriber chose.  The
    headers carry RFC 2369/2919 list headers and RFC 8058 one-click
    unsubscribe.  For many recipients, make one ``DigestEmailMaker``.
    """
    maker = DigestEmailMaker(digest, config=config, site_url=site_url, now=now)
    return maker.outgoing(
        recipient,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=unsubscribe_mailto,
        preferences_url=preferences_url,
        sections=sections,
    ).message()


def compose_confirmation_email(
    *, config: Config, recipient: str, confirm_url: str, hours: int, site_url: str, now: datetime
) -> EmailMessage:
    """The double opt-in email: one link that confirms the subscription within ``hours``."""
    to, title = _addressed(config, recipient, now, (confirm_url,))
    page = ConfirmEmail(
        title=title, recipient=to.addr_spec, confirm_url=confirm_url, hours=hours, site_url=site_url
    )
    return _notice(config, to, fixed_words("请确认订阅", config.site.language) + title, "confirm", page, now)


def compose_manage_email(
    *,
    config: Config,
    recipient: str,
    preferences_url: str,
    unsubscribe_url: str,
    site_url: str,
    now: datetime,
) -> EmailMessage:
    """The answer to a sign-up of an address already confirmed: its links, instead of silence."""
    to, title = _addressed(config, recipient, now, (preferences_url, unsubscribe_url))
    page = ManageEmail(title, to.addr_spec, preferences_url, unsubscribe_url, site_url)
    return _notice(config, to, fixed_words("您已订阅", config.site.language) + title, "manage", page, now)


def compose_emptied_email(
    *,
    config: Config,
    recipient: str,
    sections: tuple[str, ...],
    preferences_url: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    site_url: str,
    now: datetime,
) -> EmailMessage:
    """The email that tells a subscriber, once, that the chosen ``sections`` (names) have no articles
    any more, on a day no digest goes to them; with the digest's list headers, one-click unsubscribe too."""
    to, title = _addressed(config, recipient, now)
    names = tuple(one_line(name) for name in sections)  # one line each: a name goes into the subject
    language = config.site.language
    subject = fixed_words("{}：您订阅的{}版面没有文章了", language).format(
        title, "、".join(f"“{n}”" for n in names)
    )
    note = emptied_note(names, language)
    page = EmptiedEmail(title, subject, to.addr_spec, note, preferences_url, unsubscribe_url, site_url)
    return _notice(config, to, subject, "emptied", page, now, (unsubscribe_url, unsubscribe_mailto))


def _addressed(
    config: Config, recipient: str, now: datetime, urls: tuple[str, ...] = ()
) -> tuple[Address, str]:
    """What a subscription email checks before it is drawn: ``now`` is timezone-aware, ``recipient``
    one address, the site title one line (``_subject_text``) and each of ``urls`` plain ASCII;
    returns the recipient's address and the title."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    to = recipient_address(recipient)
    title = _subject_text(config.site.title)
    for url in urls:
        if not URI.fullmatch(url):
            raise ValueError(f"URI {url!r} must be plain ASCII")
    return to, title


def _notice(
    config: Config,
    to: Address,
    subject: str,
    name: str,
    page: ConfirmEmail | ManageEmail | EmptiedEmail,
    now: datetime,
    unsubscribe: tuple[str, str] | None = None,
) -> EmailMessage:
    """A one-recipient email about the subscription, from the ``email/<name>`` templates; with
    ``unsubscribe`` (https, mailto URIs) the digest's list headers and one-click unsubscribe too."""
    sender = sender_address(config.smtp.sender)
    text, html = render_email(name, page, config.site.language)
    message = EmailMessage(policy=POLICY)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = date_header(now, config.tz)
    message["Message-ID"] = message_id(signing_secret(config), name, to.addr_spec, sender.domain)
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe is not None:
        message["List-Id"] = _list_id(_subject_text(config.site.title), sender)
        # Raw and pre-folded: the email package would RFC 2047-encode a long URI (docs: PITFALLS).
        message.set_raw("List-Unsubscribe", list_unsubscribe(*unsubscribe))
        message.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    declare_language(message, config.site.language)
    return message


def _list_id(title: str, sender: Address) -> str:
    """The RFC 2919 List-Id of the daily digest, which its notices carry too."""
    return f"{title} <daily.{sender.domain}>"


def _transfer_encoding(body: str) -> str:
    """8bit (UTF-8 as is) when every line fits RFC 5322's limit once its slots are filled, else base64.

    8bit is a third of base64's size and far quicker to write; mailers turn it
    into base64 for the rare server without 8BITMIME (RFC 6152).
    """
    longest = max((_filled_length(line) for line in body.splitlines()), default=0)
    return "8bit" if longest <= _MAX_BODY_LINE else "base64"


def _filled_length(line: str) -> int:
    """Octets ``line`` may take once its slots are filled: room is kept only where a slot is, so a
    long summary (a first sentence of 200 characters) is not sent base64 for a footer's sake."""
    room = _SLOT_ROOM if any(slot in line for slot in _BODY_SLOTS) else 0
    return len(line.encode()) + room


def _fill(body: str, slots: dict[str, str], *, escape: bool) -> str:
    for slot, value in slots.items():
        body = body.replace(slot, str(markupsafe.escape(value)) if escape else value)
    return body


def _subject_text(title: str) -> str:
    if HEADER_UNSAFE.search(title) or not title.strip():
        raise ConfigError("site.title", f"{title!r} cannot be an email subject", "use one line of plain text")
    return title


def _item(entry: Entry, site_url: str) -> EmailItem:
    story = present(entry)
    return EmailItem(
        kicker=story.kicker,
        headline=story.headline,
        authors=story.authors,
        summary=story.summary,
        url=absolute_url(site_url, story.path),
        captions=tuple(caption_line(c) for c in story.captions),
        headline_derived=story.headline_derived,
    )


def prepared(message: EmailMessage, config: Config) -> Outgoing:
    """A composed message (a confirmation) ready for the wire: the configured envelope sender, DKIM-signed."""
    signer = dkim_signer(config)
    email = replace(wire(message), sender=envelope_sender(config), signer=signer)
    return replace(email, data=signer(email.data)) if signer is not None else email


def envelope_sender(config: Config) -> str:
    """MAIL FROM: ``smtp.return_path`` (where bounces go, apart from replies), else the sender's address."""
    return config.smtp.return_path or sender_address(config.smtp.sender).addr_spec
