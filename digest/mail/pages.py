"""What each email template receives as ``page``: plain values, so the templates hold no logic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class EmailItem:
    """One article in the email: what the reader sees and where the link goes."""

    kicker: str
    headline: str
    authors: tuple[str, ...]
    summary: str
    url: str
    captions: tuple[str, ...] = ()  # photo captions with their credits, one line each
    headline_derived: bool = False  # no headline printed: ``headline`` is the text's first clause


@dataclass(frozen=True)
class EmailSection:
    """A newspaper section and the articles of it the email shows, in page order."""

    name: str
    items: tuple[EmailItem, ...]
    total: int  # articles of the section in the digest, shown or not
    anchor: str  # the id the index at the top links to


@dataclass(frozen=True)
class DigestEmail:
    """The context both email templates receive as ``page``."""

    title: str
    day: date
    weekday: str
    count: int  # articles in the digest (the subscriber's sections)
    more: int  # of those, left out of the email to keep it whole in the inbox (``digest.max_items``)
    preheader: str  # the inbox preview line after the subject
    sections: tuple[EmailSection, ...]
    site_url: str
    web_url: str
    unsubscribe_url: str
    preferences_url: str  # empty: no preferences link
    recipient: str


@dataclass(frozen=True)
class ConfirmEmail:
    """The context of the confirmation email templates."""

    title: str
    recipient: str
    confirm_url: str
    hours: int  # how long the link works
    site_url: str


@dataclass(frozen=True)
class ManageEmail:
    """The context of the "manage your subscription" templates: a sign-up of an address already confirmed."""

    title: str
    recipient: str
    preferences_url: str
    unsubscribe_url: str
    site_url: str
