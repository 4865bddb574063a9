"""Drawing pages and feed entries, at once or in worker processes: the pure part of a build.

Workers get the configuration, sections and where the publish stages once; each draws a batch of
articles, stages their pages itself and sends back what it staged with the feed entries (their
Atom and JSON drawn), or draws an issue's page and sends its bytes back; this process records and
stages the rest, and splices the feed documents itself: a document is mostly its entries, drawn
already, and sending them to a worker and back cost more than the splicing (docs/performance.md)."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from datetime import date
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

from digest import workers
from digest.config import Config
from digest.publish.catalog import Catalog
from digest.publish.feeds import drawn
from digest.publish.issues import Place, places
from digest.publish.items import (
    FeedItem,
    story_item,
)
from digest.publish.layout import (
    Line,
    Story,
    line,
    present,
)
from digest.publish.site import Site
from digest.publish.staging import Staged, Staging, stage
from digest.types import Entry, Listed, Section, page_number

if TYPE_CHECKING:
    from digest.workerpool import Workers

Put = Callable[[str, bytes], None]
Record = Callable[[str, Staged], None]
# An article's page as drawn: its bytes, or what a worker did staging them.
Page = bytes | Staged
Load = Callable[[], Entry]


T = TypeVar("T")


# Articles a worker draws per task; issue pages being drawn at once.
ARTICLE_BATCH = 50
ISSUES_IN_FLIGHT = 8


def _articles(
    site: Site, config: Config, entries: Sequence[tuple[Load, Place | None]]
) -> list[tuple[str, bytes, FeedItem]]:
    """The page and the feed entry of each article (its ``Listed.load``, and its place in its
    issue when known): pure, so a worker process can draw them."""
    pages, items = [], []
    for load, place in entries:
        entry = load()
        story = present(entry, config.tz)
        pages.append(site.article(story, place or _nowhere(entry)))
        items.append(story_item(story, config))
    # Each entry's XML and JSON once here, spliced into every feed document that holds it.
    return [(path, page, item) for (path, page), item in zip(pages, drawn(items), strict=True)]


def _issue_in_worker(day: date, lines: Sequence[Line], days: Sequence[date]) -> tuple[str, bytes]:
    if _worker_site is None:
        raise RuntimeError("a render worker was started without its site")
    return _worker_site.issue(day, lines, days)


def _nowhere(entry: Entry) -> Place:
    """The place of an entry whose issue is not looked up: its page, no neighbours."""
    return Place(page_number(entry.position), entry.section.name, None, None)


class _IssueBook:
    """Where each article of a full build stands in its issue, read an issue at a time.

    The feed stream comes in feed order, which follows the paper's order of
    arrival: the last few issues read are kept (``KEPT``), so each issue is
    read about once, and its page is drawn the first time it is read; memory
    stays flat however many issues the archive holds.
    """

    KEPT = 8

    def __init__(
        self, catalog: Catalog, days: Sequence[date], draw: Callable[[date, list[Line]], None]
    ) -> None:
        self._catalog = catalog
        self._days = list(days)
        self._draw = draw
        self._kept: OrderedDict[date, dict[str, Place]] = OrderedDict()
        self._drawn: set[date] = set()

    def place(self, entry: Listed) -> Place | None:
        """``entry``'s place in its issue (None: not in it, the store changed meanwhile)."""
        day = entry.issue_date
        places = self._kept.get(day)
        if places is None:
            places = self._kept[day] = self._read(day)
            if len(self._kept) > self.KEPT:
                self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(day)
        return places.get(entry.uid)

    def finish(self) -> None:
        """Draw the page of every issue the stream did not reach (none, unless the store changed
        between the issue list and the stream)."""
        for day in self._days:
            if day not in self._drawn:
                self._read(day)

    def _read(self, day: date) -> dict[str, Place]:
        lines = [line(entry) for entry in self._catalog.issue_heads(day)]
        if day not in self._drawn:
            self._draw(day, lines)
            self._drawn.add(day)
        return places(lines)


# What a worker process draws with: the site of the build it serves, and where that build stages
# (set as the worker starts), and the folders it knows exist.
_worker_site: Site | None = None
_worker_staging: Staging | None = None
_worker_folders: set[str] = set()


def start_worker(config: Config, sections: Sequence[Section], staging: Staging | None = None) -> None:
    """First thing in a render worker: the site it draws, and where it stages pages (None: it
    sends their bytes back)."""
    global _worker_site, _worker_staging
    _worker_site, _worker_staging = Site(config, sections), staging
    _worker_folders.clear()


def _articles_in_worker(
    entries: Sequence[tuple[Load, Place | None]],
) -> Sequence[tuple[str, Page, FeedItem]]:
    if _worker_site is None:
        raise RuntimeError("a render worker was started without its site")
    drawn = _articles(_worker_site, _worker_site.config, entries)
    staging = _worker_staging
    if staging is None:
        return drawn
    return [(path, stage(staging, path, page, _worker_folders), item) for path, page, item in drawn]


class _Drawing:
    """Draws the article and issue pages of a full build, here or in worker processes.

    What is drawn here is handed to ``put``; article pages a worker staged
    itself are handed to ``record`` (what it did, never the bytes).  At most a
    few batches wait at any time: memory stays flat however big the archive.
    """

    def __init__(
        self, site: Site, config: Config, put: Put, pool: Workers | None, record: Record | None = None
    ) -> None:
        self._site = site
        self._config = config
        self._put = put
        self._pool = pool
        self._record = record  # what workers staged themselves is recorded through it
        # Where an entry stands in its issue (``_IssueBook.place``), asked as its batch is sent.
        self.place: Callable[[Listed], Place | None] = lambda entry: None
        self._issues: deque[Future[tuple[str, bytes]]] = deque()

    def articles(self, entries: Iterable[Listed]) -> Iterator[tuple[Listed, FeedItem]]:
        """Put each entry's page; yields the listing and its feed item, in the order of ``entries``.

        Only each listing's ``load`` goes to a worker, which makes the ``Entry``: this process,
        the one the whole build waits on, never does."""
        sent: deque[list[Listed]] = deque()

        def batches() -> Iterator[list[tuple[Load, Place | None]]]:
            for batch in _batches(entries, ARTICLE_BATCH):
                sent.append(batch)
                yield [(entry.load, self.place(entry)) for entry in batch]

        drawn: Iterator[Sequence[tuple[str, Page, FeedItem]]]
        if self._pool is None:
            drawn = (_articles(self._site, self._config, batch) for batch in batches())
        else:
            drawn = self._pool.ordered(_articles_in_worker, batches(), 2 * workers.cpu_count())
        for pages in drawn:
            for entry, (path, page, item) in zip(sent.popleft(), pages, strict=True):
                if isinstance(page, bytes):
                    self._put(path, page)
                elif self._record is not None:
                    self._record(path, page)
                else:
                    raise RuntimeError("a worker staged a page for a build that records none")
                yield entry, item
            self._collect(ISSUES_IN_FLIGHT)

    def issue(self, day: date, lines: Sequence[Line], days: Sequence[date]) -> None:
        """Put the page of the issue of ``day`` (``Site.issue``)."""
        if self._pool is None:
            self._put(*self._site.issue(day, lines, days))
        else:
            self._issues.append(self._pool.submit(_issue_in_worker, day, lines, days))
            self._collect(ISSUES_IN_FLIGHT)

    def finish(self) -> None:
        """Put every issue page still being drawn."""
        self._collect(0)

    def _collect(self, limit: int) -> None:
        """Put the issue pages drawn so far, waiting for the oldest while more than ``limit`` wait."""
        while self._issues and (self._issues[0].done() or len(self._issues) > limit):
            self._put(*self._issues.popleft().result())


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _stories(entries: Iterable[Entry], config: Config) -> list[Story]:
    return [present(entry, config.tz) for entry in entries]
