"""Sections: the slug each was given, kept for good, and the forms of its name filed under it; the
sections a re-read emptied, and which subscribers who chose one were told so."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from digest.store.base import Repository, dialect_of
from digest.store.claims import Claims
from digest.store.schema import UTCDateTime, articles, section_notices, sections, subscribers
from digest.types import Section

# A section some article is filed under (withdrawn ones too: a section of tombstones is not empty).
_FILED = sa.select(articles.c.uid).where(articles.c.section_slug == sections.c.slug).exists()
_EMPTIED = sa.select(sections.c.name, sections.c.slug).where(~_FILED).order_by(sections.c.slug)


# What a row says when its email was abandoned at its commit because a section it told of was told
# in another email first (``commit_telling``): it waits to be composed again, without that section.
TOLD_MEANWHILE = "a section it told of was told in another email meanwhile; to be sent again without it"


class _ToldMeanwhile(Exception):
    """Another email noted a section as told first: the commit's transaction is rolled back."""


def note_told(conn: Connection, email: str, slugs: Sequence[str], at: datetime) -> bool:
    """Note in ``conn``'s transaction that ``email`` was told the sections ``slugs`` have no articles.

    False when another email noted one of them first (it told of it); the others are noted all the
    same, so the caller then rolls the transaction back (``commit_telling``).

    Read from the tables, so an address removed meanwhile (or a slug never given) adds no row
    instead of failing the sender's transaction on the foreign key.
    """
    if not slugs:
        return True
    told = (
        sa.select(subscribers.c.email, sections.c.slug, sa.literal(at, UTCDateTime))
        .select_from(subscribers.join(sections, sa.true()))  # each slug, for the one address
        .where(subscribers.c.email == email, sections.c.slug.in_(slugs))
    )
    wanted = conn.execute(sa.select(sa.func.count()).select_from(told.subquery())).scalar_one()
    insert = dialect_of(conn.dialect.name).insert(section_notices)
    # On PostgreSQL an insert of the same note by another transaction under way waits for it, then
    # does nothing if that one committed: only the rows this statement wrote come back.
    noted = conn.execute(
        insert.from_select(["email", "slug", "told_at"], told)
        .on_conflict_do_nothing()
        .returning(section_notices.c.slug)
    ).all()
    return len(noted) == wanted


def commit_telling(
    begin: Callable[[], AbstractContextManager[Connection]],
    claims: Claims,
    key: Sequence[Any],
    holder: str,
    email: str,
    told: Sequence[str],
    at: datetime | None,
) -> bool:
    """``claimed`` → ``sending`` for the row ``key`` of ``claims`` that ``holder`` claimed, its email to
    ``email`` telling of the emptied sections ``told``, noted as told at ``at`` in the same transaction
    (``begin`` opens one).  False when the row is no longer ours; False too when another email noted one
    of those sections first (two digest runs at once): then nothing is noted, the claim goes back to
    waiting (``TOLD_MEANWHILE``) and the email, abandoned before its final ".", is composed again
    without that section by its next sender.  The note is the claim: no address is told twice.
    """
    try:
        with begin() as conn:
            if not claims.commit(conn, key, holder):
                return False
            if told:
                assert at is not None
                if not note_told(conn, email, told, at):
                    raise _ToldMeanwhile
    except _ToldMeanwhile:
        with begin() as conn:
            claims.release(conn, key, holder, TOLD_MEANWHILE)
        return False
    return True


class SectionRepository(Repository):
    """The ``sections`` table (each section name and its slug), the sections it holds that no article
    is filed under any more, and ``section_notices``: who was told of those."""

    def filed_sections(
        self, names: Sequence[str], make: Callable[[str], str], fold: Callable[[str], str]
    ) -> dict[str, Section]:
        """The section each of ``names`` is filed under: the one of that name; else one whose name
        ``fold`` makes the same (two character forms of one name: 經濟 and 经济), under that one's
        name and slug; else a new section, its slug ``make(name)`` made distinct from every slug
        given already (``-2``, ``-3``...) and recorded for good.  Of two forms met for the first time
        together, the first in ``names`` names the section.

        A section's slug is in its URLs and its feeds' addresses, which readers
        subscribe to: it must not change when a name reads differently later, and
        two names must not share one.  A form filed under another's section adds
        no row: the table holds one name a slug, the name the section is shown by.
        Two forms that had sections of their own before keep them (their URLs are
        published); a third goes to the first of them by slug.  A paper has a few
        dozen sections, so the whole table is read.
        """
        with self._begin() as conn:
            rows = conn.execute(sa.select(sections.c.name, sections.c.slug).order_by(sections.c.slug))
            filed: dict[str, Section] = {name: Section(name, slug) for name, slug in rows}
            taken = {section.slug for section in filed.values()}
            unknown = list(dict.fromkeys(name for name in names if name not in filed))
            forms: dict[str, Section] = {}
            if unknown:
                for section in filed.values():
                    forms.setdefault(fold(section.name), section)
            fresh = []
            for name in unknown:
                if (same := forms.get(fold(name))) is not None:
                    filed[name] = same
                    continue
                slug = first = make(name)
                copy = 1
                while slug in taken:
                    copy += 1
                    slug = f"{first}-{copy}"
                taken.add(slug)
                filed[name] = forms[fold(name)] = Section(name, slug)
                fresh.append({"name": name, "slug": slug})
            if fresh:
                conn.execute(dialect_of(conn.dialect.name).insert(sections).on_conflict_do_nothing(), fresh)
                # Another process storing pages at the same moment may have given a name first: its
                # slug is the one stored, and the one this process uses too.
                named = sections.c.name.in_([row["name"] for row in fresh])
                filed |= {
                    name: Section(name, slug)
                    for name, slug in conn.execute(sa.select(sections.c.name, sections.c.slug).where(named))
                }
                # A form filed under one of those new names follows it to the slug stored.
                filed |= {name: filed[filed[name].name] for name in unknown}
        return {name: filed[name] for name in names}

    def emptied_sections(self) -> list[Section]:
        """The sections no article is filed under any more, in slug order: a re-read (a parser
        upgrade, a new ``parser.non_sections`` word, a corrected page) filed them all elsewhere.

        The ``sections`` table keeps every name given a slug, for good; such a section keeps its
        feeds and page at their addresses, so readers subscribed to it meet no 404, but nothing
        lists it (a wrong name an older parser read stays out of the navigation).
        """
        with self._begin() as conn:
            return [Section(name, slug) for name, slug in conn.execute(_EMPTIED)]

    def emptied_to_tell(self, emails: Sequence[str] | None = None) -> dict[str, tuple[Section, ...]]:
        """Each confirmed subscriber (of ``emails``, or every one) who chose sections, with the chosen
        ones no article is filed under any more that it was not told of yet (``note_told``), in
        slug order; a subscriber with none is left out.  Reading only: nothing is changed."""
        with self._begin() as conn:
            emptied = {slug: Section(name, slug) for name, slug in conn.execute(_EMPTIED)}
            if not emptied:
                return {}
            chosen = sa.select(subscribers.c.email, subscribers.c.sections).where(
                subscribers.c.confirmed.is_(True),
                *(() if emails is None else (subscribers.c.email.in_(emails),)),
            )
            people = conn.execute(chosen).all()
            told = sa.select(section_notices.c.email, section_notices.c.slug).where(
                section_notices.c.slug.in_(emptied)
            )
            done = {(email, slug) for email, slug in conn.execute(told)}
        untold: dict[str, tuple[Section, ...]] = {}
        for email, slugs in people:
            picked = set(json.loads(slugs))
            mine = tuple(s for slug, s in emptied.items() if slug in picked and (email, slug) not in done)
            if mine:
                untold[email] = mine
        return untold

    def record_told(self, email: str, slugs: Sequence[str], at: datetime) -> None:
        """Note that ``email`` was told the sections ``slugs`` have no articles (``note_told``)."""
        with self._begin() as conn:
            note_told(conn, email, slugs, at)

    def forget_told(self, email: str, slugs: Sequence[str]) -> None:
        """Undo ``record_told``: the email that told it did not arrive after all, so the next one tells."""
        where = sa.and_(section_notices.c.email == email, section_notices.c.slug.in_(slugs))
        with self._begin() as conn:
            conn.execute(sa.delete(section_notices).where(where))

    def forget_refilled_notices(self) -> int:
        """Forget who was told about sections that have articles again, so that a section emptied
        once more is told again; how many notes were forgotten."""
        filed = sa.select(articles.c.uid).where(articles.c.section_slug == section_notices.c.slug).exists()
        with self._begin() as conn:
            return int(conn.execute(sa.delete(section_notices).where(filed)).rowcount)
