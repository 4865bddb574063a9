"""The article feeds a publish writes: which there are, where their entries go, and their tombstones.

A full build (``build.render_all``) and an incremental publish (``incremental.render_changes``) write the
same feeds the same way; this is what both ask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from digest.config import Config
from digest.publish.catalog import Catalog
from digest.publish.digestlog import _kept
from digest.publish.drawing import Put
from digest.publish.feeds import FeedPlan, plan_feed
from digest.publish.items import FeedSpec, Tombstone, all_spec, section_spec, tombstone
from digest.publish.layout import present
from digest.publish.moved import successors
from digest.types import Entry, FeedKey, Section

# Full archive pages each feed froze in one publish: (number, last feed key), by feed name.
Frozen = dict[str, list[tuple[int, FeedKey]]]


def feed_plan(
    catalog: Catalog,
    name: str,
    slug: str | None,
    config: Config,
    keep: Callable[[str], bool] | None,
    gone: Sequence[Entry] = (),
) -> FeedPlan:
    """Where the entries of feed ``name`` go in this publish (``feeds.plan_feed``)."""
    frozen = catalog.feed_archives(name)
    live, before_newest = catalog.feed_live(slug, frozen[-1] if frozen else None)
    plan = FeedPlan(name, tuple(frozen))
    # Withdrawn text must leave the archive too: the one exception to a frozen page's bytes.
    withdrawn = {plan.page_of(e.feed_key) for e in gone if slug is None or e.section.slug == slug}
    kept = frozenset(
        number
        for number in range(1, len(frozen) + 1)
        if number not in withdrawn and keep is not None and _kept(keep, name, number)
    )
    return plan_feed(name, frozen, kept, live, before_newest, config.feeds.size)


def tombstones(catalog: Catalog, slug: str | None, config: Config) -> list[Tombstone]:
    """Tombstones of a feed's latest withdrawn entries, as many as its subscription document holds;
    one merged into another article names it rather than saying it was withdrawn."""
    gone = catalog.retracted_entries(slug, config.feeds.size)
    heirs = successors(catalog, gone)
    return [
        tombstone(
            present(e, config.tz),
            e.retracted_at or e.updated,
            config,
            present(heirs[e.uid], config.tz) if e.uid in heirs else None,
        )
        for e in gone
    ]


def render_into(put: Put) -> Callable[..., None]:
    """How feed writers hand a document over: ``draw(*args)`` (its path and bytes) put by ``put``.

    Drawn here even when workers draw the article pages: a feed document is mostly its entries,
    drawn already, and shipping them to a worker and back cost more than splicing them here.
    """

    def render(draw: Callable[..., tuple[str, bytes]], *args: Any) -> None:
        put(*draw(*args))

    return render


def feed_specs(config: Config, sections: Sequence[Section]) -> list[tuple[FeedSpec, str | None]]:
    """The article feeds with the section each filters on (None: every article)."""
    return [(all_spec(config), None), *((section_spec(config, s), s.slug) for s in sections)]
