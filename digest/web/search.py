"""``/search?q=``: the search page, server-rendered (no JavaScript), answered from the database's index.

The query is cut into words (``digest.store.segment``) and every word must be in an
article; articles with every word in the headline come first, then by
relevance; ``PAGE_SIZE`` a page (``&page=N``).  The words are marked in the
headline and in a snippet of the body (``digest.web.highlight``).  An empty
query, one with nothing to search for, a long one (cut to ``MAX_QUERY_CHARS``)
and a bad page number each get a page saying what to do, in Chinese.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from http import HTTPStatus
from urllib.parse import urlencode

from digest.config import Config
from digest.errors import DigestError
from digest.language import DEFAULT_LANGUAGE, fixed_words
from digest.publish.chrome import Chrome
from digest.publish.layout import one_line, present, root_prefix, section_path
from digest.publish.site import Site
from digest.publish.templates import render
from digest.store import search_index
from digest.store.database import Store
from digest.store.segment import words as query_words
from digest.types import Entry
from digest.web.highlight import Part, mark, snippet
from digest.web.http import SECURITY_HEADERS, ASGIApp, Receive, Scope, Send, query_fields, respond

log = logging.getLogger(__name__)

PATH = "/search"
PAGE_SIZE = 20
# Longer queries are cut (and the page says so): a query is a few words, and each one costs a lookup.
MAX_QUERY_CHARS = 50
MAX_WORDS = 10
# Deep pages cost the database a sort of everything before them; nobody reads page 500.
MAX_PAGE = 100
# Page links shown around the current one.
_PAGE_LINKS = 5


@dataclass(frozen=True)
class Result:
    """One article found: its headline and a snippet of its body with the searched words marked."""

    href: str
    headline: tuple[Part, ...]
    snippet: tuple[Part, ...]
    section: str
    section_href: str
    issue_date: date
    byline: tuple[Part, ...]
    in_headline: bool


@dataclass(frozen=True)
class PageLink:
    """A link to one page of results; ``current`` is the page shown (not a link)."""

    label: str
    href: str
    current: bool = False


@dataclass(frozen=True)
class SearchPage:
    """``search.html``: the form (holding ``query``), a notice, and one page of results.

    ``notice`` explains an empty, unsearchable, shortened or out-of-range query
    (empty when there is nothing to say); ``found`` says how many match ("25", or "10000 多" past
    ``search_index.RANKED``, where counting stops).
    """

    chrome: Chrome
    action: str
    query: str
    notice: str
    found: str
    page: int
    pages: int
    first: int  # the number of the page's first result
    results: tuple[Result, ...]
    links: tuple[PageLink, ...]
    previous: str
    next: str


@dataclass(frozen=True)
class Query:
    """A request's query, checked: the text (cut to ``MAX_QUERY_CHARS``), its words, the page."""

    text: str
    words: tuple[str, ...]
    page: int
    notice: str


def read_query(raw: bytes, language: str = DEFAULT_LANGUAGE) -> Query | str:
    """The query of a query string, or why it cannot be answered (a bad page number); what it says
    in ``site.language``'s characters, the reader's own words as typed."""
    words = partial(fixed_words, tag=language)
    fields = query_fields(raw)
    text = one_line((fields.get("q") or [""])[0])  # no control characters, one space between words
    notice = ""
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        notice = words(f"搜索词太长，只按前 {MAX_QUERY_CHARS} 个字搜索。")
    page_text = (fields.get("page") or ["1"])[0].strip()
    if not page_text.isascii() or not page_text.isdigit() or not 1 <= int(page_text) <= MAX_PAGE:
        return words(f"页码“{{}}”无效：请用 1 到 {MAX_PAGE} 之间的数字。").format(page_text[:20])
    found = tuple(dict.fromkeys(query_words(text)))
    if len(found) > MAX_WORDS:
        found = found[:MAX_WORDS]
        notice = words(f"搜索词太多，只按前 {MAX_WORDS} 个词搜索。")
    if text and not found:
        notice = words("“{}”里没有可以搜索的字词：请输入中文词语、人名、地名或数字。").format(text)
    return Query(text, found, int(page_text), notice)


def page_links(root: str, query: str, page: int, pages: int) -> tuple[PageLink, ...]:
    """Links to the pages around ``page`` (of ``pages``), the first and last always included."""
    if pages < 2:
        return ()
    half = _PAGE_LINKS // 2
    shown = sorted({1, pages, *range(max(1, page - half), min(pages, page + half) + 1)})
    return tuple(PageLink(str(n), root + _href(query, n), n == page) for n in shown)


def _href(query: str, page: int) -> str:
    params = {"q": query} if page == 1 else {"q": query, "page": str(page)}
    return "search?" + urlencode(params)


def create_search_app(config: Config, store: Store) -> ASGIApp:
    """The ASGI app answering ``PATH``; mount it with ``server.create_app(routes={PATH: app})``."""
    return _SearchApp(config, store)


class _SearchApp:
    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: mounted, the site app answers it
            return
        status, headers, body = HTTPStatus.OK, list(SECURITY_HEADERS), b""
        if scope["method"] not in ("GET", "HEAD"):
            status = HTTPStatus.METHOD_NOT_ALLOWED
            headers.append((b"allow", b"GET, HEAD"))
        path = scope["path"].lstrip("/")
        try:
            site = Site(self._config, await asyncio.to_thread(self._store.sections))
            if status == HTTPStatus.OK:
                status, body = await self._answer(site, path, scope.get("query_string", b""))
            else:
                body = self._page(site, path, "", site.words("请用搜索框搜索。"), 0, 1, ())
        except DigestError as exc:
            log.error("search failed: %s", exc)
            status = HTTPStatus.SERVICE_UNAVAILABLE
            # Without the database there are no sections for the navigation; the page says what to do.
            site = Site(self._config, ())
            body = self._page(site, path, "", site.words("搜索暂时不可用，请稍后再试。"), 0, 1, ())
            headers.append((b"retry-after", b"60"))
        page = [(b"content-type", b"text/html; charset=utf-8"), *headers]
        await respond(send, status, page, body, head=scope["method"] == "HEAD")

    async def _answer(self, site: Site, path: str, raw: bytes) -> tuple[HTTPStatus, bytes]:
        query = read_query(raw, self._config.site.language)
        if isinstance(query, str):
            return HTTPStatus.BAD_REQUEST, self._page(site, path, "", query, 0, 1, ())
        if not query.words:
            notice = query.notice or site.words("请输入要搜索的词语，例如人名、地名或事件。")
            return HTTPStatus.OK, self._page(site, path, query.text, notice, 0, 1, ())
        offset = (query.page - 1) * PAGE_SIZE
        total, found = await asyncio.to_thread(self._store.search, query.words, PAGE_SIZE, offset)
        root = root_prefix(path)
        results = tuple(self._result(root, entry, hit, query.words) for entry, hit in found)
        notice = query.notice
        status = HTTPStatus.OK
        if total and not results:
            status, notice = (
                HTTPStatus.NOT_FOUND,
                site.words(f"没有第 {query.page} 页：结果只有 {_pages(total)} 页。"),
            )
        elif not total:
            # A query cut for length still says it found nothing, or the page would seem to have failed.
            missing = site.words("没有找到含“{}”的文章。试试更短的词，或换一个说法。").format(query.text)
            notice = f"{notice}{missing}" if notice else missing
        return status, self._page(site, path, query.text, notice, total, query.page, results)

    def _result(self, root: str, entry: Entry, in_headline: bool, words: Sequence[str]) -> Result:
        story = present(entry, self._config.tz)
        return Result(
            href=root + story.path,
            headline=mark(story.headline, words),
            snippet=snippet(entry.article.body, words),
            section=story.section.name,
            section_href=root + section_path(story.section),
            issue_date=story.issue_date,
            byline=mark(story.byline, words),
            in_headline=in_headline,
        )

    def _page(
        self,
        site: Site,
        path: str,
        text: str,
        notice: str,
        total: int,
        page: int,
        results: tuple[Result, ...],
    ) -> bytes:
        """The page at ``path`` (links relative to it) for the query ``text``."""
        pages = _pages(total)
        root = root_prefix(path)
        # The reader's own words are shown as typed; only the page's own word is converted.
        chrome = site.chrome(path, site.words("搜索：") + text if text else site.words("搜索"), ())
        return render(
            "search.html",
            SearchPage(
                chrome=chrome,
                action=root + PATH.lstrip("/"),
                query=text,
                notice=notice,
                found=f"{search_index.RANKED} 多" if total > search_index.RANKED else str(total),
                page=page,
                pages=pages,
                first=(page - 1) * PAGE_SIZE + 1,
                results=results,
                links=page_links(root, text, page, pages),
                previous=root + _href(text, page - 1) if 1 < page <= pages else "",
                next=root + _href(text, page + 1) if page < pages else "",
            ),
        )


def _pages(total: int) -> int:
    if total > search_index.RANKED:  # counting stopped: as many pages as anyone is shown
        return MAX_PAGE
    return min(MAX_PAGE, max(1, -(-total // PAGE_SIZE)))
