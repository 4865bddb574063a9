"""What the output folder holds: the path of every document, and an entry in reader-facing form.

Feeds and pages are built from the same ``Story`` so they never disagree on a
headline, a summary or a link.  Every text field of a ``Story`` is already
cleaned of characters that XML 1.0 forbids (C0 controls, lone surrogates,
U+FFFE/U+FFFF; feedgen raises on them) and of C1 controls, which are HTML
parse errors and never belong in newspaper text.

Paths are POSIX, relative to the output folder and to ``site.base_url``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from digest.chars import XML_UNSAFE
from digest.paper.bylines import split_mark
from digest.paper.titles import short_title
from digest.publish.digests import paragraphs, story_summary
from digest.types import Article, Caption, Credit, Entry, Head, Kind, Section

INDEX = "index.html"
SUBSCRIBE = "subscribe.html"
DIGESTS_INDEX = "digests/index.html"
ISSUES_INDEX = "issues/index.html"
# Served with status 404 for any path (by ``digest serve`` and by nginx): its links start at the site root.
NOT_FOUND = "404.html"
STYLESHEET = "static/style.css"
STYLESHEET_FEED = "static/feed.css"  # what a browser opening an Atom document draws it with
ICON = "static/icon.svg"
# PNG icons for what does not show SVG: feed readers, browser tabs, a phone's home screen.
FAVICON = "favicon.ico"  # where browsers and readers look without being told (PNG inside an ICO)
TOUCH_ICON = "apple-touch-icon.png"  # 180×180, the size iOS asks for; also the JSON Feed icon
OPML = "feeds.opml"  # the two feeds a new reader wants: every article, and the daily digest
OPML_SECTIONS = "feeds-sections.opml"  # one folder of section feeds, for those who pick sections
FEEDS_PAGE = "feeds/index.html"  # how to follow the site: readers, email, every feed's address
ALL_FEED = "all"
DIGESTS_FEED = "digests"
# What the digest of a day without new articles says (digest.empty_days = "notice"): in the email and
# in its feed entry alike.
NO_ARTICLES = "这段时间没有新文章。"
# Media types of the feed documents (the server sends them; pages announce them in <link>).
ATOM_TYPE = "application/atom+xml"
JSON_FEED_TYPE = "application/feed+json"
# The subscription endpoints (served by digest.web.subscriptions, linked from emails and pages).
SUBSCRIBE_PATH = "/subscribe"
CONFIRM_PATH = "/confirm"
PREFERENCES_PATH = "/preferences"
UNSUBSCRIBE_PATH = "/unsubscribe"

# Folders publish owns: stale files are pruned only inside these.
OWNED_FOLDERS = ("feeds", "sections", "articles", "digests", "issues", "static")

_SPACES = re.compile(r"\s+")

_KIND_LABELS = {
    Kind.NEWS: "",
    Kind.PHOTO: "图片新闻",
    Kind.INTERVIEW: "访谈",
    Kind.COMMENTARY: "评论",
    Kind.INFOGRAPHIC: "图解",
}


def feed_path(name: str, suffix: str = ".atom") -> str:
    """The subscription document of feed ``name`` (``all``, ``digests`` or a section slug);
    ``suffix`` names the format (``.atom``, ``.json``)."""
    return f"feeds/{name}{suffix}"


def archive_path(name: str, number: int, suffix: str = ".atom") -> str:
    """RFC 5005 archive document ``number`` (1 = oldest) of feed ``name`` in the format of ``suffix``."""
    return f"feeds/archive/{name}/{number}{suffix}"


def section_path(section: Section) -> str:
    """The HTML page listing one section's articles."""
    return f"sections/{section.slug}.html"


def article_path(entry: Entry | Head) -> str:
    """The HTML page of one article, foldered by issue date."""
    return f"articles/{entry.issue_date.isoformat()}/{entry.uid}.html"


# The notice standing in for a withdrawn article's page: the server answers its path with 410 Gone.
GONE_SUFFIX = ".gone"


def gone_path(entry: Entry) -> str:
    """The notice file of a withdrawn article (``article_path`` plus ``GONE_SUFFIX``)."""
    return article_path(entry) + GONE_SUFFIX


def digest_path(day: date) -> str:
    """The HTML page of the digest made on ``day``."""
    return f"digests/{day.isoformat()}.html"


def issue_path(day: date) -> str:
    """The HTML page of one issue in paper order: a folder's index, so ``/issues/<date>/`` is its URL."""
    return f"issues/{day.isoformat()}/index.html"


def page_anchor(number: int) -> str:
    """The fragment of page ``number`` on its issue page (``p0`` holds pages of unknown number)."""
    return f"p{number}"


def absolute_url(base_url: str, path: str) -> str:
    """``path`` under the configured base URL (which may itself hold a path prefix)."""
    return base_url.rstrip("/") + "/" + path


def root_prefix(path: str) -> str:
    """The relative prefix from the document at ``path`` back to the site root (``""``, ``"../"``...).

    Pages link relatively so the site works behind any base URL or path prefix.
    """
    return "../" * path.count("/")


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids or HTML treats as errors."""
    return XML_UNSAFE.sub("", text)


def one_line(text: str) -> str:
    """A cleaned single-line form: whitespace runs (line wraps included) become one space."""
    return _SPACES.sub(" ", clean(text)).strip()


def byline(credits: tuple[Credit, ...]) -> str:
    """``本报记者 白莲 李明　通讯员 王芳 摄``: consecutive credits sharing a role are named once, and
    a mark (摄, 文/图) stands after the names it credits, as papers print it.

    A person the page credits twice in roles that fit together (``记者 X`` in the dateline and
    ``长城网记者 X 摄`` under a photo; ``X`` and ``X 摄``) is named once: ``长城网记者 X 摄``.
    """
    groups: list[tuple[str, str, list[str]]] = []  # the role before the names, the mark after them
    for name, before, mark in _one_per_person(credits):
        if groups and groups[-1][:2] == (before, mark):
            groups[-1][2].append(name)
        else:
            groups.append((before, mark, [name]))
    return "　".join(" ".join(w for w in (before, *names, mark) if w) for before, mark, names in groups)


def _one_per_person(credits: tuple[Credit, ...]) -> list[tuple[str, str, str]]:
    """Each credit as (name, role before it, mark after it), in order; a name credited again in a
    role that repeats or adds to the one it has (记者, then 长城网记者 摄) takes both at its first place.
    Roles that do not fit together (记者 and 通讯员, 摄 and 文/图) stay two credits."""
    people: list[tuple[str, str, str]] = []
    for credit in credits:
        name = one_line(credit.name)
        before, mark = split_mark(one_line(credit.role))
        for at, (known, known_before, known_mark) in enumerate(people):
            marks_fit = not (known_mark and mark and known_mark != mark)
            if (
                known == name
                and marks_fit
                and (_within(known_before, before) or _within(before, known_before))
            ):
                fuller = before if _within(known_before, before) else known_before
                people[at] = (name, fuller, known_mark or mark)
                break
        else:
            people.append((name, before, mark))
    return people


def _within(role: str, other: str) -> bool:
    """Whether ``other`` says all ``role`` says: each word of it ends a word of ``other`` (记者 in
    长城网记者; the empty role in any)."""
    return all(any(word.endswith(part) for word in other.split()) for part in role.split())


def dateline(article: Article) -> str:
    """``呼和浩特 11月27日`` from the article's place and ``MM-DD`` date; empty when it has neither."""
    parts = [one_line(article.place or "")]
    match = re.fullmatch(r"(\d{1,2})-(\d{1,2})", article.date or "")
    if match:
        parts.append(f"{int(match[1])}月{int(match[2])}日")
    return " ".join(p for p in parts if p)


def caption_line(caption: Caption) -> str:
    """A caption as one line of text with its credit: ``图为…。（本报记者 林小河 摄）``."""
    return f"{caption.text}（{caption.credit}）" if caption.credit else caption.text


@dataclass(frozen=True)
class Story:
    """One entry as readers see it, in feeds and on pages alike (every text already cleaned)."""

    uid: str
    tag: str
    path: str
    section: Section
    issue_date: date
    position: int
    published: datetime
    updated: datetime
    headline: str
    kicker: str
    subtitle: str
    byline: str
    authors: tuple[str, ...]
    dateline: str
    kind_label: str
    paragraphs: tuple[str, ...]
    summary: str
    notes: tuple[str, ...]
    jumps: tuple[str, ...]
    place: str
    date_unsure: bool = False  # the issue date rests on the file time: shown as 日期待核
    headline_derived: bool = False  # no headline was printed: ``headline`` is the text's short title
    captions: tuple[Caption, ...] = ()  # photo captions, shown after the text


def derived_headline(article: Article | Head) -> str:
    """A headline-less article's short title from its first clause (``digest.paper.titles``);
    "" when it has a title (a ``Head`` with a title carries no body)."""
    if one_line(article.title or ""):
        return ""
    text = article.body or (article.printed_body() if isinstance(article, Article) else "")
    return one_line(short_title(text) or "")


def headline(article: Article | Head) -> str:
    """The headline readers see; a missing title falls back to the text's short title."""
    return (
        one_line(article.title or "")
        or derived_headline(article)
        or one_line(article.kicker or "")
        or one_line(article.subtitle or "")
        or "无标题"
    )


@dataclass(frozen=True)
class Line:
    """One article as an issue page lists it: light, so an issue of a 100k archive costs little."""

    uid: str
    path: str
    section: Section
    position: int
    headline: str
    kicker: str


def line(head: Head) -> Line:
    """The issue-page form of an article (see ``present`` for the whole of it)."""
    return Line(
        uid=head.uid,
        path=article_path(head),
        section=Section(name=one_line(head.section.name), slug=head.section.slug),
        position=head.position,
        headline=headline(head),
        kicker=one_line(head.kicker or ""),
    )


def present(entry: Entry, tz: tzinfo | None = None) -> Story:
    """The reader-facing form of ``entry``; a missing headline falls back to the text's short title.

    With ``tz`` (the configured timezone) its instants are shown in local time,
    so feeds say ``2024-11-27T06:00:00+08:00`` rather than the store's UTC.
    """
    article = entry.article
    kicker = one_line(article.kicker or "")
    subtitle = one_line(article.subtitle or "")
    derived = derived_headline(article)
    body = paragraphs(article.body)
    captions = tuple(
        Caption(one_line(c.text), one_line(c.credit), c.at) for c in article.captions if one_line(c.text)
    )
    return Story(
        uid=entry.uid,
        tag=entry.tag,
        path=article_path(entry),
        section=Section(name=one_line(entry.section.name), slug=entry.section.slug),
        issue_date=entry.issue_date,
        position=entry.position,
        published=entry.published.astimezone(tz) if tz else entry.published,
        updated=entry.updated.astimezone(tz) if tz else entry.updated,
        headline=headline(article),
        kicker=kicker,
        subtitle=subtitle,
        byline=byline(article.credits),
        authors=tuple(a for a in (one_line(name) for name in article.authors) if a),
        dateline=dateline(article),
        kind_label=_KIND_LABELS[article.kind],
        paragraphs=body,
        summary=story_summary(body, [c.text for c in captions]),
        notes=tuple(n for n in (one_line(note) for note in article.notes) if n),
        jumps=tuple(j for j in (one_line(jump) for jump in article.jumps) if j),
        place=one_line(article.place or ""),
        date_unsure=entry.dated_by.unsure,
        headline_derived=bool(derived),
        captions=captions,
    )


def feed_order(entries: Iterable[Entry]) -> list[Entry]:
    """Entries oldest first, the order feeds log them in (``types.FeedKey``): by the change sequence
    of their latest version (a correction comes again at the end), then issue date and page position.

    The sequence only grows, so an entry that arrives or changes never lands in a full archive page.
    """
    return sorted(entries, key=lambda e: e.feed_key)
