"""Paper order: how the articles of one issue follow each other in print.

An article's ``position`` is its page number × ``types.PAGE_SPAN`` plus its
place on the page (``digest.ingest.read``), so on numbered pages paper order
is position order.  A page of unknown number (0: neither the file name nor
the page header gave one) comes after the numbered ones, split by section so
its stories still read in groups, in the order the sections first appear,
the catch-all ``其他`` last.  The issue pages and the digest both list in
this order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from digest.types import DEFAULT_SECTION, Section, page_number


class Placed(Protocol):
    """Anything with a place in an issue (``Entry``, ``output.Story``, ``output.Line``)."""

    @property
    def uid(self) -> str: ...

    @property
    def position(self) -> int: ...

    @property
    def section(self) -> Section: ...


P = TypeVar("P", bound=Placed)


def paper_order(items: Sequence[P]) -> list[P]:
    """``items`` of one issue in paper order: numbered pages first, by page and place on the page;
    then the articles of unknown pages section by section (places on several unknown pages would
    interleave)."""
    first: dict[str, int] = {}
    for item in items:
        first[item.section.slug] = min(item.position, first.get(item.section.slug, item.position))

    def key(item: P) -> tuple[bool, bool, int, str, int, str]:
        if page_number(item.position):
            return False, False, item.position, "", 0, item.uid
        other = item.section.name == DEFAULT_SECTION
        return True, other, first[item.section.slug], item.section.slug, item.position, item.uid

    return sorted(items, key=key)
