"""Offline Atom validation for tests: RFC 4287's RELAX NG schema plus the checks a schema cannot make.

The W3C validator is not installable offline, and feedparser's ``bozo`` only
sees malformed XML, so ``check_atom`` combines: the schema (lxml RelaxNG over
``../shared/eval/atom.rng``), an author for every entry (own or the feed's),
unique entry ids, a UTC offset in every date, well-formed ``tag:`` URIs
(RFC 4151), a ``rel="self"`` link, a valid ``xml:lang`` (``zh-CN``, never
``zh_CN``), no CDATA, and feedparser with ``bozo`` false.

Usage from any test module: ``from atomcheck import check_atom``.  The module
also holds the small factory of invented entries (``make_entry``,
``make_config``) the feed, site and publish tests share.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
from lxml import etree

from digest.config import Config, FeedsConfig, SiteConfig
from digest.ingest.identity import article_uid, tag_uri
from digest.paper.slugs import slugify
from digest.types import Article, Entry, Section

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "eval" / "atom.rng"
ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FH = "{http://purl.org/syndication/history/1.0}"

_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
# RFC 4151: tag:authorityName,date:specific, date is YYYY, YYYY-MM or YYYY-MM-DD.
_TAG = re.compile(r"tag:[A-Za-z0-9.@-]+,\d{4}(?:-\d\d(?:-\d\d)?)?:[\x21-\x7e]*")
_LANG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@cache
def _schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMA)))


def parse(data: bytes) -> Any:
    """The root element of an XML document (entities never expanded, network never touched)."""
    return etree.fromstring(data, _PARSER)


def check_atom(data: bytes) -> Any:
    """Assert ``data`` is a valid Atom feed document; returns its root element for further checks."""
    assert b"<![CDATA[" not in data, "CDATA in an Atom document"
    root = parse(data)
    schema = _schema()
    assert schema.validate(root), f"RELAX NG: {schema.error_log}"

    lang = root.get(XML_LANG)
    assert lang is not None and _LANG.fullmatch(lang), f"xml:lang {lang!r} is not a language tag"

    rels = [link.get("rel", "alternate") for link in root.findall(f"{ATOM}link")]
    assert "self" in rels, "the feed has no rel=self link"

    feed_author = root.find(f"{ATOM}author") is not None
    ids: list[str] = []
    for entry in root.findall(f"{ATOM}entry"):
        ident = entry.findtext(f"{ATOM}id", "")
        ids.append(ident)
        has_author = entry.find(f"{ATOM}author") is not None
        assert has_author or feed_author, f"entry {ident} has no author and the feed none either"
    assert len(ids) == len(set(ids)), "duplicate entry ids"

    for ident in [root.findtext(f"{ATOM}id", ""), *ids]:
        if ident.startswith("tag:"):
            assert _TAG.fullmatch(ident), f"malformed tag URI {ident!r}"
    for element in root.iter(f"{ATOM}updated", f"{ATOM}published"):
        assert _DATE.fullmatch(element.text or ""), f"date without offset: {element.text!r}"

    parsed = feedparser.parse(data)
    assert not parsed.bozo, f"feedparser: {parsed.get('bozo_exception')}"
    return root


# Invented test data shared by the publish-stage tests (never newspaper text).

TZ = ZoneInfo("Asia/Shanghai")
CLOCK = datetime(2024, 11, 27, 9, 30, tzinfo=TZ)
AUTHORITY = "digest.test,2024"


def make_config(
    size: int = 50, hubs: tuple[str, ...] = (), base_url: str = "http://example.test/paper"
) -> Config:
    """A configuration for feed and site tests; the base URL carries a path prefix on purpose."""
    return Config(
        site=SiteConfig(
            title="晨光日报摘要", subtitle="", base_url=base_url, author="编辑部", tag_authority=AUTHORITY
        ),
        feeds=FeedsConfig(size=size, hubs=hubs),
    )


def make_entry(
    title: str | None,
    body: str = "今天天气晴朗。公园里的桂花开了，游人很多。",
    *,
    section: str = "要闻",
    day: date = date(2024, 11, 27),
    position: int = 0,
    seen: datetime = CLOCK,
    updated: datetime | None = None,
    uid: str = "",
    **fields: Any,
) -> Entry:
    """An Entry as the store would hand it over, with a stable uid (computed unless given) and tag."""
    article = Article(title=title, body=body, section=section, **fields)
    uid = uid or article_uid(day, article)
    return Entry(
        uid=uid,
        tag=tag_uri(AUTHORITY, day, uid),
        article=article,
        section=Section(section, slugify(section)),
        issue_date=day,
        published=datetime(day.year, day.month, day.day, tzinfo=TZ),
        updated=updated or seen,
        first_seen=seen,
        source=f"{day.isoformat()}/page-{position}.txt",
        position=position,
    )
