"""Which articles make a day's digest, and the short summaries that describe them.

Pure functions: no clock, no I/O.  The digest job passes in the day, the
configured time and zone, and the end of the previous digest, so a digest
missed while the service was down covers exactly the gap since the last one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.chars import XML_UNSAFE
from digest.paper.columns import wide
from digest.publish.order import paper_order
from digest.types import Digest, Entry, Section

# C0/C1 controls, lone surrogates and the two non-characters: never part of newspaper
# text, and XML 1.0 (feeds) or email encoders reject them.
_SPACES = re.compile(r"\s+")
_ENDS = "。！？!?"
_CLOSERS = "”’」』）)》〉】\"'"
# Marks that open a quotation or an aside, and the ones that close them (never ASCII quotes,
# which open and close alike, nor ’, which is also an apostrophe).
_OPENERS = "“「『（("
_CLOSERS_OF_OPENERS = "”」』）)"  # either bracket closes either: pages close （ with )
# Either kind, found in C: a sentence is mostly other characters, a Python step each to skip.
_QUOTE_MARKS = re.compile(f"[{re.escape(_OPENERS + _CLOSERS_OF_OPENERS)}]")
# One sentence: text up to a run of terminators plus any closing quotes and the spaces
# after them; or the unterminated rest of a paragraph.  Both branches consume at least
# one character and the first cannot match without a terminator, so matching is linear.
_SENTENCE = re.compile(rf"[^{_ENDS}]*[{_ENDS}]+[{re.escape(_CLOSERS)}]*\s*|[^{_ENDS}]+$")

# An editors' label opening a paragraph (编者按 or 编后, bracketed or not), then a colon, a space, or
# nothing more.
_EDITORS_LABEL = re.compile(
    r"^[【\[〔]?(?:编者按|编者的话|编后语|编后记|编后|编辑有话说)(?:[】\]〕]\s*[:：]?|\s*[:：]|\s|$)\s*"
)


def digest_window(
    day: date, digest_time: time, tz: ZoneInfo, previous_until: datetime | None
) -> tuple[datetime, datetime]:
    """The instants ``(since, until)`` a digest made on ``day`` covers.

    ``until`` is ``day`` at ``digest_time`` in ``tz``.  ``since`` is where the
    previous digest stopped, so nothing falls between two digests even after
    downtime; without a previous digest it is one calendar day earlier (same
    wall-clock time, so a DST change gives a 23- or 25-hour window).  A
    previous digest that ended after ``until`` (the digest time was moved
    earlier) gives an empty window rather than an inverted one.
    """
    if previous_until is not None and previous_until.utcoffset() is None:
        raise ValueError("previous_until must be timezone-aware")
    until = _local_instant(day, digest_time, tz)
    if previous_until is None:
        return _local_instant(day - timedelta(days=1), digest_time, tz), until
    return min(previous_until, until), until


def _local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    # A round trip through UTC turns a wall time inside a DST gap into a real instant.
    wall = datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)
    return wall.astimezone(UTC).astimezone(tz)


def build_digest(
    entries: Iterable[Entry], day: date, since: datetime, until: datetime, backfill_days: int | None = None
) -> Digest:
    """The digest of ``day``: entries first seen in ``[since, until)``, grouped by issue and section.

    With ``backfill_days``, only issues dated at most that many days before
    ``day`` are in it (back issues go to the site and feeds, never into an
    email; ``back_issues`` counts what was kept out).  Issues come newest
    first; within one, sections in paper order (``order.paper_order``: the
    numbered pages first, then the pages of unknown number) and entries in
    it.  A group of an
    issue other than ``day``'s names its date after the section
    (``要闻（11月26日）``, with the year when it is not ``day``'s: ``其他（2025年12月11日）``), so
    every item shows it.
    """
    if since.utcoffset() is None or until.utcoffset() is None:
        raise ValueError("since and until must be timezone-aware")
    issues: dict[date, list[Entry]] = {}
    for entry in _in_window(entries, since, until):
        if _current(entry, day, backfill_days):
            issues.setdefault(entry.issue_date, []).append(entry)
    groups: dict[tuple[date, Section], list[Entry]] = {}
    for issue in sorted(issues, reverse=True):
        # In paper order a section's first entry is its earliest: dict order is the paper's.
        for entry in paper_order(issues[issue]):
            groups.setdefault((issue, entry.section), []).append(entry)
    return Digest(
        day=day,
        since=since,
        until=until,
        groups=tuple((_labelled(sec, issue, day), tuple(items)) for (issue, sec), items in groups.items()),
    )


def back_issues(
    entries: Iterable[Entry], day: date, since: datetime, until: datetime, backfill_days: int
) -> tuple[int, int]:
    """How many issues, and articles, of ``[since, until)`` are too old (or dated after the day
    after ``day``) for the digest of ``day``."""
    old = [e for e in _in_window(entries, since, until) if not _current(e, day, backfill_days)]
    return len({e.issue_date for e in old}), len(old)


def _in_window(entries: Iterable[Entry], since: datetime, until: datetime) -> Iterable[Entry]:
    return (e for e in entries if since <= e.first_seen < until)


def _current(entry: Entry, day: date, backfill_days: int | None) -> bool:
    # The next day's issue may be out by the digest time (exported the evening before); a later
    # date is a misdated page, never news of the day.
    return backfill_days is None or -1 <= (day - entry.issue_date).days <= backfill_days


def _labelled(section: Section, issue: date, day: date) -> Section:
    if issue == day:
        return section
    # A back issue of another year (a long digest.backfill_days, or the first days of January) says
    # which year: 12月11日 alone in a January digest reads as the coming December.
    year = f"{issue.year}年" if issue.year != day.year else ""
    return Section(f"{section.name}（{year}{issue.month}月{issue.day}日）", section.slug)


def select_sections(digest: Digest, slugs: frozenset[str] | None) -> Digest:
    """``digest`` narrowed to the sections a subscriber chose (``None``: all of them)."""
    if slugs is None:
        return digest
    return Digest(
        day=digest.day,
        since=digest.since,
        until=digest.until,
        groups=tuple((section, items) for section, items in digest.groups if section.slug in slugs),
    )


def summary(text: str, limit: int = 120) -> str:
    """The first whole sentences of ``text`` that fit in ``limit`` characters.

    A sentence ends at 。！？!? (with any closing quotes or brackets after
    them) or at the end of a paragraph.  The result is never cut inside a
    sentence, nor inside a quotation (a 。 within “…” ends no sentence of the
    text around it): when the first sentence alone is longer than ``limit`` it
    is returned whole.  Control characters and lone surrogates are dropped and
    whitespace runs become one space, so the result is one clean line.
    Paragraphs join on it as punctuation allows: nothing after 。 and the
    like, a full-width space after a paragraph that ends without punctuation
    (a crosshead), one space between Latin paragraphs.
    """
    return summary_of(paragraphs(text), limit)


def story_summary(paras: Sequence[str], captions: Sequence[str], limit: int = 120) -> str:
    """The summary of a story from its own text: ``summary_of`` its body ``paras``, past the editor's
    note it may open with.

    A note under a label (``编者按 …``, ``【编后】…``, ``编辑有话说：…``) is the editors' words
    about the story, and a summary opening with the label reads as one: it is left out.  A photo
    story whose text is its ``captions`` (set apart from the body by the parser, with only the note
    left there) is summed up from the captions, joined as paragraphs are; a story that is nothing
    but a note, from the note without its label.
    """
    own = list(paras)
    notes: list[str] = []
    while own and (label := _EDITORS_LABEL.match(own[0])):
        note = own.pop(0)[label.end() :]
        if not note and own:  # the label on a line of its own: its note is the next paragraph
            note = own.pop(0)
        notes.append(note)
    return summary_of(own or [c for c in captions if c] or notes, limit)


def summary_of(paras: Iterable[str], limit: int = 120) -> str:
    """``summary`` of a text already cut into ``paragraphs`` (an article's page has them anyway)."""
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    taken = ""
    whole = ""  # the longest ``taken`` that leaves no quotation open: where a summary may stop
    for paragraph in paras:
        # A quotation running on into the next paragraph opens again there (no closing mark at the
        # paragraph's end, as Chinese sets it), so each paragraph starts outside quotes.
        depth = 0
        for index, match in enumerate(_SENTENCE.finditer(paragraph)):
            # Inside a paragraph the original spacing is kept; paragraphs are glued (``_glue``).
            grown = taken + match.group() if index else _glue(taken, match.group())
            if taken and len(grown.rstrip()) > limit:
                if whole:
                    return whole.rstrip()
                if len(grown.rstrip()) > limit + limit // 2:
                    # No quote closed within half as much again (one running on, a bracket the page
                    # never closed): a sentence's end inside it, rather than a whole long paragraph.
                    return taken.rstrip()
            taken = grown
            depth = _still_open(match.group(), depth)
            if depth == 0 or match.end() == len(paragraph):
                whole = taken
    return taken.rstrip()


def _still_open(sentence: str, depth: int) -> int:
    """Quotations (and brackets) open after ``sentence``, ``depth`` being those open before it.

    A 。 or ？ inside “…” ends a sentence of the quotation, not of the text around it: a summary
    stopping there would end on an open quote (``李军说：“坐什么车？``).
    """
    for char in _QUOTE_MARKS.findall(sentence):
        if char in _OPENERS:
            depth += 1
        elif depth:
            depth -= 1
    return depth


def paragraphs(body: str) -> tuple[str, ...]:
    """Body paragraphs, one per non-empty line: cleaned of characters XML cannot hold, whitespace
    runs made one space."""
    found = (_SPACES.sub(" ", line).strip() for line in XML_UNSAFE.sub("", body).splitlines())
    return tuple(p for p in found if p)


def _glue(taken: str, sentence: str) -> str:
    """``taken`` and the first sentence of the next paragraph, on one line."""
    if not taken:
        return sentence
    return taken + _paragraph_break(taken, sentence) + sentence


def _paragraph_break(before: str, after: str) -> str:
    """What stands for a paragraph break between ``before`` and ``after`` in a one-line summary.

    After closing punctuation, nothing in Chinese (。 carries its own space, also before a
    digit: ``作答。5月13日``) and one space in Latin text.  A paragraph that ends without
    punctuation is a crosshead or a lead-in: glued as is it would read as one clause with the
    text after it, so it gets a full-width space (一个全角空格, the Chinese way of setting a
    heading off on the same line), or one space between Latin words.
    """
    last = before.rstrip(_CLOSERS)[-1:] or before[-1]
    if unicodedata.category(last).startswith("P"):
        return "" if wide(last) else " "
    return "\u3000" if wide(last) or wide(after[0]) else " "
