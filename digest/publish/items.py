"""What a feed document holds, whatever its format: specs, entries, tombstones, history links,
and the entry of an article or a digest in reader-facing form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup

from digest.config import Config
from digest.language import fixed_words
from digest.publish.layout import (
    ALL_FEED,
    DIGESTS_FEED,
    DIGESTS_INDEX,
    INDEX,
    NO_ARTICLES,
    Story,
    absolute_url,
    digest_path,
    one_line,
    present,
    section_path,
)
from digest.publish.markup import story_html
from digest.types import Digest, Section

# An empty feed has no data to date it by; a wall-clock stamp would change its bytes on every build.
_NO_DATA = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedSpec:
    """One logical feed: file name, Chinese title and subtitle, and the HTML page it mirrors."""

    name: str
    title: str
    subtitle: str
    page: str


@dataclass(frozen=True)
class FeedItem:
    """One Atom entry, whether it comes from an article or a digest."""

    id: str
    title: str
    link: str
    published: datetime
    updated: datetime
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    content: str  # HTML, published escaped (type="html"); CDATA would make invalid Atom
    summary: str
    atom: bytes = b""  # the entry as feedgen writes it in a document, once written (``with_atom``)
    json: bytes = b""  # the item as it stands in a JSON Feed document, once written (``with_json``)


@dataclass(frozen=True)
class Tombstone:
    """A withdrawn entry (RFC 6721 ``at:deleted-entry``): its id, when it went, and its old page."""

    ref: str
    when: datetime
    link: str
    comment: str = "此文已撤回"  # RFC 6721 ``at:comment``: why it left, in words a reader may see


def tombstone(story: Story, when: datetime, config: Config, successor: Story | None = None) -> Tombstone:
    """The tombstone of a withdrawn article; one a re-read merged into ``successor`` says so (its
    old link leads there: ``publish.moved``)."""
    link = absolute_url(config.site.base_url, story.path)
    if successor is None:
        return Tombstone(story.tag, when.astimezone(config.tz), link)
    return Tombstone(story.tag, when.astimezone(config.tz), link, f"此文已并入《{successor.headline}》")


@dataclass(frozen=True)
class History:
    """RFC 5005 position of one document: archive flag, the previous archive page, the live feed
    (absolute URLs of documents in the same format)."""

    archive: bool = False
    prev: str = ""
    current: str = ""
    next: str = ""


@dataclass(frozen=True)
class FeedDocument:
    """One feed document to write, whatever its format: its feed, its items newest first, its place
    in the history, its own path, and the tombstones of entries withdrawn from it."""

    spec: FeedSpec
    items: Sequence[FeedItem]
    history: History
    path: str
    tombstones: Sequence[Tombstone] = ()


def all_spec(config: Config) -> FeedSpec:
    """The feed of every article."""
    title = one_line(config.site.title)
    words = fixed_words("：全部文章", config.site.language)
    return FeedSpec(ALL_FEED, title, one_line(config.site.subtitle) or title + words, INDEX)


def section_spec(config: Config, section: Section) -> FeedSpec:
    """The feed of one section's articles."""
    site = one_line(config.site.title)
    name = one_line(section.name)
    # A section slugged "all" or "digests" must not overwrite those feeds.
    file = f"section-{section.slug}" if section.slug in (ALL_FEED, DIGESTS_FEED) else section.slug
    words = fixed_words("版块的文章", config.site.language)
    return FeedSpec(file, f"{site} · {name}", f"{site}「{name}」{words}", section_path(section))


def digests_spec(config: Config) -> FeedSpec:
    """The feed of daily digests."""
    site = one_line(config.site.title)
    title, subtitle = (
        fixed_words(words, config.site.language) for words in ("每日摘要", "每天的新文章，按版块汇总")
    )
    return FeedSpec(DIGESTS_FEED, f"{site} · {title}", site + subtitle, DIGESTS_INDEX)


def story_item(story: Story, config: Config) -> FeedItem:
    """The Atom entry of one article."""
    extra = (story.kicker, story.place)
    categories = tuple(dict.fromkeys(c for c in (story.section.name, *extra) if c))
    return FeedItem(
        id=story.tag,
        title=story.headline,
        link=absolute_url(config.site.base_url, story.path),
        published=story.published,
        updated=story.updated,
        authors=story.authors or (one_line(config.site.feed_author),),
        categories=categories,
        content=story_html(story),
        summary=story.summary,
    )


def digest_item(digest: Digest, config: Config) -> FeedItem:
    """The Atom entry of one daily digest: headlines with links, grouped by section."""
    base = config.site.base_url
    parts: list[Markup] = []
    for section, entries in digest.groups:
        parts.append(Markup("<h3>{}</h3>").format(one_line(section.name)))
        items = []
        for story in (present(entry, config.tz) for entry in entries):
            link = absolute_url(base, story.path)
            items.append(
                Markup('<li><a href="{}">{}</a>{}</li>').format(
                    link, story.headline, f"：{story.summary}" if story.summary else ""
                )
            )
        parts.append(Markup("<ul>{}</ul>").format(Markup("").join(items)))
    if not parts:
        # A day without articles (shown with digest.empty_days = "notice"): what the email said, since a
        # reader shows an entry without content as an empty message.
        parts.append(Markup("<p>{}</p>").format(fixed_words(NO_ARTICLES, config.site.language)))
    sections = tuple(dict.fromkeys(one_line(s.name) for s, _ in digest.groups))
    # A back issue's group is headed 要闻（11月26日）; a category is the section itself, one tag a reader
    # can filter on, not a new one each day.
    categories = tuple(
        dict.fromkeys(one_line(e.section.name) for _, entries in digest.groups for e in entries)
    )
    day = f"{digest.day.month}月{digest.day.day}日"
    language = config.site.language
    if sections:
        summary = fixed_words(f"{day}共{digest.count}篇新文章：", language) + "、".join(sections)
    else:
        summary = fixed_words(f"{day}没有新文章。", language)
    return FeedItem(
        id=f"tag:{config.site.tag_authority}:digest/{digest.day.isoformat()}",
        title=f"{one_line(config.site.title)} " + fixed_words(f"{day}摘要（{digest.count}篇）", language),
        link=absolute_url(base, digest_path(digest.day)),
        published=digest.until.astimezone(config.tz),
        updated=digest.until.astimezone(config.tz),
        authors=(one_line(config.site.feed_author),),
        categories=categories,
        content=str(Markup("\n").join(parts)),
        summary=summary,
    )
