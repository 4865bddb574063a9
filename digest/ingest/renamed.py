"""A page file renamed and edited at once: the new file is read as the gone file's page read again.

A rename alone is known by the bytes (``pipeline._alike_datings``).  Renamed and edited at once (an
editor's "save as" of a corrected page, a re-export under another name), the new file had neither a
record nor known bytes, so it was dated by its own evidence: when its name lost the date or the page
number, another day or page 0.  Its stories came as new articles beside the old ones, which stayed
until the old name had been gone ``ingest.settle_seconds``: each story twice in a feed reader.

A new file is taken for the page of a gone file when all of these hold:

- the gone file was read fine, is no longer in the source folder, and is not being read now;
- the new file's own evidence names no other page: its issue date is the gone file's, unless that date
  rests on the file time (then any day), or only its year does (then the same month and day); and its
  page number is the gone file's, unless either is unknown (0);
- more than half of the gone file's live articles are among the new file's, and more than half of the
  new file's are the gone file's (``identity.match``): the same stories, a few edited, added or dropped;
- every gone file that passes holds that one page (two pages passing leave it undecided).

It is then read as an in-place edit of the gone file is: it keeps the page (its date, with the
stronger evidence of the two when both give that date, and its page number unless the new file
prints one), its articles are matched against the gone file's and keep their ids, and one the edit
dropped is withdrawn at once.  A new page never takes over a page whose file is still there (that
is a copy: ``read._held_elsewhere``), nor one whose stories it mostly does not hold.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence, Set
from dataclasses import dataclass

from digest.config import Config
from digest.ingest import identity
from digest.ingest.read import Parsed, as_known
from digest.paper.dating import Dating
from digest.store.database import Store
from digest.store.records import SourceRecord
from digest.types import DatedBy, Entry

log = logging.getLogger(__name__)

# DatedBy lists its evidence strongest first.
_STRENGTH = list(DatedBy)


@dataclass(frozen=True)
class Renamed:
    """The page a new file holds as a gone file's successor: that file's page, articles and name(s)."""

    dating: Dating
    entries: tuple[Entry, ...]
    paths: frozenset[str]


def find(
    store: Store, config: Config, new: Sequence[tuple[SourceRecord, Parsed]], reading: Set[str]
) -> dict[str, Renamed]:
    """Which of the ``new`` files (never read, their bytes unknown) hold the page of a gone file, by
    path; ``reading``: the files read in this batch, which are no gone file."""
    if not new:
        return {}
    folder = str(config.paths.source)

    def vanished(path: str) -> bool:
        return path not in reading and not os.path.exists(os.path.join(folder, path))

    datings = [parsed.dating for _, parsed in new]
    if any(dated.by is DatedBy.MTIME for dated in datings):
        # Any page may be this one: the names alone are read and looked for (13k in about 0.08 s),
        # and the records only of those gone.
        candidates = list(store.sources([path for path in store.source_paths() if vanished(path)]).values())
    else:
        candidates = store.dated_sources(
            [dated.day for dated in datings if not dated.unsure],
            [(dated.day.month, dated.day.day) for dated in datings if dated.by is DatedBy.TEXT_GUESSED_YEAR],
        )
    gone = [
        record
        for record in candidates
        if record.last_error is None and record.issue_date is not None and vanished(record.path)
    ]
    if not gone:
        return {}
    pages = store.page_entries(
        [(record.issue_date, record.page or 0, record.path) for record in gone if record.issue_date]
    )
    held = {
        record.path: [entry for entry in entries if entry.source == record.path]
        for record, entries in zip(gone, pages, strict=True)
    }
    found: dict[str, Renamed] = {}
    for record, parsed in new:
        fits = [
            old for old in gone if _same_page(old, parsed.dating) and _same_stories(held[old.path], parsed)
        ]
        if len({(old.issue_date, old.page) for old in fits}) != 1:
            continue
        found[record.path] = _succeed(fits, held, parsed.dating)
        log.info(
            "page file %s holds the stories of %s, which is gone: read as that page renamed and edited",
            record.path,
            ", ".join(sorted(old.path for old in fits)),
        )
    return found


def _same_page(old: SourceRecord, fresh: Dating) -> bool:
    """Whether a new file's own evidence (``fresh``) allows it to hold the page of the gone file ``old``."""
    if fresh.page and old.page and fresh.page != old.page:
        return False
    if old.issue_date is None or fresh.by is DatedBy.MTIME:
        return old.issue_date is not None
    if fresh.by is DatedBy.TEXT_GUESSED_YEAR:
        return (old.issue_date.month, old.issue_date.day) == (fresh.day.month, fresh.day.day)
    return old.issue_date == fresh.day


def _same_stories(theirs: Sequence[Entry], parsed: Parsed) -> bool:
    """Whether more than half of a gone file's live articles are among the page's, and more than half
    of the page's among them."""
    live = [entry for entry in theirs if entry.retracted is None]
    articles = parsed.page.articles
    if not live or not articles:
        return False
    matched = sum(uid is not None for uid in identity.match([as_known(e) for e in live], articles))
    return 2 * matched > len(live) and 2 * matched > len(articles)


def _succeed(fits: Sequence[SourceRecord], held: dict[str, list[Entry]], fresh: Dating) -> Renamed:
    """The page a new file holds as the successor of the gone files ``fits`` (all of one page)."""
    old = fits[0]
    assert old.issue_date is not None and old.dated_by is not None
    by = DatedBy(old.dated_by)
    if fresh.day == old.issue_date:
        by = min(by, fresh.by, key=_STRENGTH.index)
    dating = Dating(old.issue_date, by, fresh.page or old.page or 0)
    entries = tuple(entry for record in fits for entry in held[record.path])
    return Renamed(dating, entries, frozenset(record.path for record in fits))
