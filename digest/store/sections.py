"""Section slugs: the one each section name was given, kept for good."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from digest.store.base import Repository, dialect_of
from digest.store.schema import sections


class SectionRepository(Repository):
    """The ``sections`` table: each section name and its slug."""

    def section_slugs(self, names: Sequence[str], make: Callable[[str], str]) -> dict[str, str]:
        """The slug of each of ``names``: the one it was given before, else ``make(name)``, made
        distinct from every slug given already (``-2``, ``-3``...) and recorded for good.

        A section's slug is in its URLs and its feeds' addresses, which readers
        subscribe to: it must not change when a name reads differently later, and
        two names must not share one.  A paper has a few dozen sections, so the
        whole table is read.
        """
        with self._begin() as conn:
            rows = conn.execute(sa.select(sections.c.name, sections.c.slug))
            given: dict[str, str] = {name: slug for name, slug in rows}
            taken = set(given.values())
            fresh = []
            for name in dict.fromkeys(name for name in names if name not in given):
                slug = first = make(name)
                copy = 1
                while slug in taken:
                    copy += 1
                    slug = f"{first}-{copy}"
                taken.add(slug)
                given[name] = slug
                fresh.append({"name": name, "slug": slug})
            if fresh:
                conn.execute(dialect_of(conn.dialect.name).insert(sections).on_conflict_do_nothing(), fresh)
                # Another process storing pages at the same moment may have given a name first: its
                # slug is the one stored, and the one this process uses too.
                named = sections.c.name.in_([row["name"] for row in fresh])
                given |= {
                    name: slug
                    for name, slug in conn.execute(sa.select(sections.c.name, sections.c.slug).where(named))
                }
        return {name: given[name] for name in names}
