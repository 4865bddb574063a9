"""What each email template receives as ``page``: plain values, so the templates hold no logic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import css_inline

from digest.language import DEFAULT_LANGUAGE, fixed_words
from digest.paper.columns import wrap_text
from digest.publish.templates import environment
from digest.types import Entry, Section

_TEXT_COLUMNS = 72  # the plain-text part, in display columns (CJK counts two: digest.paper.columns)
# Styles live in the template's <style>; most mail clients ignore <style>, so they are
# inlined.  @media rules cannot be inlined and are kept (they are dropped without
# keep_at_rules).  Nothing is fetched: the email has no remote stylesheets.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


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
    # Where the index links when ``items`` is empty (``digest.max_items`` left the whole section
    # out): its page on the site; the section is still named and counted, not silently dropped.
    url: str = ""


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
    web_url: str  # the day's web page; empty: it is not published (a test copy of a day not made)
    unsubscribe_url: str
    preferences_url: str  # empty: no preferences link
    recipient: str
    emptied: str = ""  # ``emptied_note`` of chosen sections with no articles any more; empty: none
    test_copy: bool = False  # sent by ``send-digest --to`` to an address that need not be subscribed


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


@dataclass(frozen=True)
class EmptiedEmail:
    """The context of the "a section you chose has no articles any more" templates, sent on its own
    when the subscriber's other sections have nothing that day (``digest.mail.emptied``)."""

    title: str
    subject: str
    recipient: str
    note: str  # ``emptied_note``
    preferences_url: str
    unsubscribe_url: str
    site_url: str  # the front page: its navigation lists the sections there are


def emptied_note(names: Sequence[str], language: str = DEFAULT_LANGUAGE) -> str:
    """What a subscriber is told, once, of the chosen sections ``names`` no article is filed under
    any more: which, why, and that the subscription did not change; in ``site.language``'s
    characters but for the names, as printed."""
    it, these = ("它", "这个") if len(names) == 1 else ("它们", "这些")
    note = fixed_words(
        f"您订阅的{{}}版面现在没有文章了：{it}原有的文章已归入别的版面（也许只是版面改了名字）。"
        f"您的订阅没有改动，但在{it}重新有文章之前，{these}版面不会有文章寄给您。",
        language,
    )
    return note.format("、".join(f"“{name}”" for name in names))


def capped(groups: tuple[tuple[Section, tuple[Entry, ...]], ...], limit: int) -> list[tuple[Entry, ...]]:
    """Each section's entries the email shows: at most ``limit`` in all, taken round the sections.

    Round by round every section gives its next article, so a long first
    section cannot push the others out; within a section page order stays.
    """
    taken = [0] * len(groups)
    left = limit
    rank = 0
    while left > 0 and any(rank < len(entries) for _, entries in groups):
        for index, (_, entries) in enumerate(groups):
            if left > 0 and rank < len(entries):
                taken[index] += 1
                left -= 1
        rank += 1
    return [entries[:count] for (_, entries), count in zip(groups, taken, strict=True)]


def render_email(
    name: str, page: DigestEmail | ConfirmEmail | ManageEmail | EmptiedEmail, language: str = DEFAULT_LANGUAGE
) -> tuple[str, str]:
    """The ``email/<name>`` templates for ``site.language``: plain text wrapped at 72 display columns,
    HTML with the CSS inlined (mail clients drop <style>)."""
    env = environment(language)
    text = wrap_text(env.get_template(f"email/{name}.txt").render(page=page), _TEXT_COLUMNS)
    html = _INLINER.inline(env.get_template(f"email/{name}.html").render(page=page))
    return text, html
