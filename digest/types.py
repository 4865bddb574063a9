"""The domain model, shared by every stage.

Frozen dataclasses with tuples for sequences, so values can be hashed,
compared and passed between threads without copies.  Every datetime is
timezone-aware; a naive one is a bug.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Kind(StrEnum):
    """What sort of piece an article is; drives labels in feeds and pages."""

    NEWS = "news"
    PHOTO = "photo"
    INTERVIEW = "interview"
    COMMENTARY = "commentary"
    INFOGRAPHIC = "infographic"


class DatedBy(StrEnum):
    """Where a page's issue date came from, strongest first (see ``digest.paper.dating``)."""

    NAME = "name"
    HEADER = "header"
    TEXT = "text"
    TEXT_GUESSED_YEAR = "text-guessed-year"  # month and day from the text, year from the file time
    MTIME = "mtime"

    @property
    def unsure(self) -> bool:
        """Whether a person should check the date (shown as 日期待核)."""
        return self in (DatedBy.TEXT_GUESSED_YEAR, DatedBy.MTIME)


class Retraction(StrEnum):
    """Why an article was withdrawn from the feeds, the site and later digests."""

    FILE_GONE = "file-gone"  # its page file disappeared (and stayed gone)
    DROPPED = "dropped"  # a re-read of its page no longer holds it
    BY_HAND = "by-hand"  # ``digest retract``; only ``digest retract --restore`` undoes it


@dataclass(frozen=True)
class Credit:
    """One person named in a byline, with the role the paper gave them."""

    name: str
    role: str  # 记者, 本报记者, 通讯员, 摄, 文/图, 设计, ... ("" when the page gives none)


@dataclass(frozen=True)
class Caption:
    """A photo caption printed with a story, kept apart from its text.

    ``at`` is how many body paragraphs were printed before it (0: above the
    text), so the text as the page ran it can be put back together
    (``Article.printed_body``); ``credit`` is the photographer's credit as
    printed (``记者 杨杰 摄``), "" when the caption carries none.  The people
    it names are among the article's ``credits`` too.
    """

    text: str
    credit: str = ""
    at: int = 0


@dataclass(frozen=True)
class Article:
    """One article as the parser recovers it from a page: text only, no I/O facts.

    ``date`` is the month and day of the dateline as ``MM-DD`` (pages rarely
    print a year); ``body`` is plain text, paragraphs separated by one blank
    line.
    """

    title: str | None
    body: str
    section: str | None = None
    kicker: str | None = None
    subtitle: str | None = None
    credits: tuple[Credit, ...] = ()
    date: str | None = None
    place: str | None = None
    dateline: str | None = None  # as printed: 本报乌海4月12日电(记者郝飏)
    kind: Kind = Kind.NEWS
    notes: tuple[str, ...] = ()  # editor notes (编辑有话说) kept apart from the body
    jumps: tuple[str, ...] = ()  # page jumps (上接第1版, ■本报第4版), never left in the body
    captions: tuple[Caption, ...] = ()  # photo captions, never left in the body

    @property
    def authors(self) -> tuple[str, ...]:
        """Names only, in byline order, each once."""
        seen: dict[str, None] = {}
        for credit in self.credits:
            seen.setdefault(credit.name, None)
        return tuple(seen)

    def printed_body(self) -> str:
        """The body with its captions back where the page printed them (credits left out).

        What the text was before captions were kept apart: identity and the
        story's length are measured on it, so setting captions apart changes
        neither an article's id nor its kind.
        """
        if not self.captions:
            return self.body
        paras = self.body.split("\n\n") if self.body else []
        out: list[str] = []
        for index in range(len(paras) + 1):
            out.extend(c.text for c in self.captions if min(c.at, len(paras)) == index)
            if index < len(paras):
                out.append(paras[index])
        return "\n\n".join(out)


@dataclass(frozen=True)
class Page:
    """The articles of one page file, in reading order.

    ``dropped`` lists the layout noise the parser removed (column logos,
    page furniture, the repeated half of a running head, a dateline's
    ``题：`` repeating the headline), so an editor can see that nothing else
    went missing.
    """

    name: str
    articles: tuple[Article, ...]
    dropped: tuple[str, ...] = ()


# The section of articles whose page names none.
DEFAULT_SECTION = "其他"


@dataclass(frozen=True)
class Section:
    """A newspaper section as published: its printed name and its URL slug."""

    name: str
    slug: str


# Feed order (``publish.layout.feed_order``): where an entry stands in its feeds' log, oldest first.
# The change sequence of its latest version comes first, so an entry that arrives or changes goes
# after every entry already logged (RFC 5005 archive pages never change); one change reads whole
# issues, so then the issue date, the place in the paper, and the uid to break ties.
# ``store.schema.FEED_ORDER`` lists the same columns for SQL, in the order of ``FEED_KEY_FIELDS``.
FeedKey = tuple[int, date, int, str]
FEED_KEY_FIELDS = ("feed_seq", "issue_date", "position", "uid")


def feed_key(seq: int, issue_date: date, position: int, uid: str) -> FeedKey:
    """The feed-order key of an entry (or of a row holding its ``FEED_KEY_FIELDS``)."""
    return (seq, issue_date, position, uid)


# Positions of one page's articles: page number × PAGE_SPAN + place on the page (``digest.ingest.read``).
PAGE_SPAN = 1000


def page_number(position: int) -> int:
    """The printed page an article's position is on (0 when unknown)."""
    return position // PAGE_SPAN


def newest_first(key: FeedKey) -> tuple[int, int, bool, int, str]:
    """A sort key listing a feed document's entries as readers get them: the latest change first,
    and within one change the newest issue first, in paper order (page 1 first, articles of a page
    of unknown number after the numbered pages, as ``publish.order`` lists them)."""
    seq, issue_date, position, uid = key
    return (-seq, -issue_date.toordinal(), position < PAGE_SPAN, position, uid)


@dataclass(frozen=True)
class Entry:
    """An article as stored and published.

    ``uid`` is the stable key (see ``digest.ingest.identity``) and ``tag`` the Atom
    id built from it; neither changes once published.  ``published`` is the
    newspaper date as an instant in the configured timezone; ``updated``
    moves only when the article's content changes.
    """

    uid: str
    tag: str
    article: Article
    section: Section
    issue_date: date
    published: datetime
    updated: datetime
    first_seen: datetime
    source: str
    position: int = 0
    dated_by: DatedBy = DatedBy.NAME
    retracted: Retraction | None = None
    retracted_at: datetime | None = None
    feed_seq: int = 0  # the change sequence of its first or last changed version: its place in feeds
    # Withdrawn because a re-read merged its text into another article: that one's uid.
    successor: str | None = None

    @property
    def feed_key(self) -> FeedKey:
        """Where it stands in feed order (``FeedKey``): later versions come later."""
        return feed_key(self.feed_seq, self.issue_date, self.position, self.uid)


@dataclass(frozen=True)
class Listed:
    """An entry's place in a feed (``Catalog.feed_listing``) and how to get the entry itself.

    A full build reads the feed in one process and draws the pages in others:
    ``load`` is what crosses to them (the stored row, made an ``Entry`` where
    it is drawn), while the reading process keeps to the key and the section.
    """

    feed_key: FeedKey
    section_slug: str
    load: Callable[[], Entry]

    @property
    def issue_date(self) -> date:
        """The entry's issue date, from its key."""
        return self.feed_key[1]

    @property
    def position(self) -> int:
        """The entry's place in the paper, from its key."""
        return self.feed_key[2]

    @property
    def uid(self) -> str:
        """The entry's stable key, from its feed key."""
        return self.feed_key[3]


@dataclass(frozen=True)
class Head:
    """What an issue page shows of an article (``Store.issue_heads``): its place, and the parts its
    headline is made of; ``body`` is "" when there is a title (only an untitled article's headline
    falls back to its first sentence), so a whole issue's heads are a small read."""

    uid: str
    issue_date: date
    position: int
    section: Section
    title: str | None
    kicker: str | None
    subtitle: str | None
    body: str

    @classmethod
    def of(cls, entry: Entry) -> Head:
        """The head of an entry at hand."""
        article = entry.article
        body = "" if article.title else article.body
        return cls(
            entry.uid,
            entry.issue_date,
            entry.position,
            entry.section,
            article.title,
            article.kicker,
            article.subtitle,
            body,
        )


@dataclass(frozen=True)
class Digest:
    """The articles first seen in one window, grouped by section in paper order."""

    day: date
    since: datetime
    until: datetime
    groups: tuple[tuple[Section, tuple[Entry, ...]], ...] = field(default=())

    @property
    def count(self) -> int:
        """How many articles the digest holds."""
        return sum(len(entries) for _, entries in self.groups)
