"""Which articles make a day's digest, and the short summaries that describe them.

Pure functions: no clock, no I/O.  The digest job passes in the day, the
configured time and zone, and the end of the previous digest, so a digest
missed while the service was down covers exactly the gap since the last one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.types import Digest, Entry, Section

# C0/C1 controls, lone surrogates and the two non-characters: never part of newspaper
# text, and XML 1.0 (feeds) or email encoders reject them.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")
_ENDS = "。！？!?"
_CLOSERS = "”’」』）)》〉】\"'"
# One sentence: text up to a run of terminators plus any closing quotes and the spaces
# after them; or the unterminated rest of a paragraph.  Both branches consume at least
# one character and the first cannot match without a terminator, so matching is linear.
_SENTENCE = re.compile(rf"[^{_ENDS}]*[{_ENDS}]+[{re.escape(_CLOSERS)}]*\s*|[^{_ENDS}]+$")


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


def build_digest(entries: Iterable[Entry], day: date, since: datetime, until: datetime) -> Digest:
    """The digest of ``day``: entries first seen in ``[since, until)``, grouped by section.

    Sections come in the paper's order (issue date, then the earliest page
    position among their entries); entries keep page order within a section.
    """
    if since.utcoffset() is None or until.utcoffset() is None:
        raise ValueError("since and until must be timezone-aware")
    chosen = sorted(
        (e for e in entries if since <= e.first_seen < until),
        key=lambda e: (e.issue_date, e.position, e.uid),
    )
    groups: dict[Section, list[Entry]] = {}
    for entry in chosen:
        # Sorted input means a section's first entry is its earliest: dict order is paper order.
        groups.setdefault(entry.section, []).append(entry)
    return Digest(
        day=day,
        since=since,
        until=until,
        groups=tuple((section, tuple(items)) for section, items in groups.items()),
    )


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
    sentence: when the first sentence alone is longer than ``limit`` it is
    returned whole.  Control characters and lone surrogates are dropped and
    whitespace runs become one space, so the result is one clean line.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    taken = ""
    for paragraph in _paragraphs(text):
        for index, match in enumerate(_SENTENCE.finditer(paragraph)):
            # Inside a paragraph the original spacing is kept; paragraphs are glued.
            grown = taken + match.group() if index else _glue(taken, match.group())
            if taken and len(grown.rstrip()) > limit:
                return taken.rstrip()
            taken = grown
    return taken.rstrip()


def _paragraphs(text: str) -> Iterable[str]:
    for line in _UNSAFE.sub("", text).splitlines():
        paragraph = _SPACES.sub(" ", line).strip()
        if paragraph:
            yield paragraph


def _glue(taken: str, sentence: str) -> str:
    if not taken:
        return sentence
    # CJK text runs on without spaces; Latin text needs one between paragraphs.
    return taken + ("" if _is_wide(taken[-1]) and _is_wide(sentence[0]) else " ") + sentence


def _is_wide(char: str) -> bool:
    return ord(char) >= 0x2E80
