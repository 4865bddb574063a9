"""What a running service keeps between publishes: the entries it drew last, ready to draw again.

A service publishes page after page, and its subscription documents hold mostly the entries they
held before.  Each one's feed item (drawn in every format) and story are kept, keyed by the entry
itself, every field of it, and the configuration, so a corrected or moved article, or a changed
setting, is a new key and drawn afresh: an incremental publish draws only what is new.  A full
build draws everything anyway and keeps nothing here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import tzinfo
from functools import lru_cache

from digest.config import Config
from digest.publish.feeds import drawn
from digest.publish.items import FeedItem, story_item
from digest.publish.layout import Story, present
from digest.types import Entry

# Every subscription document's entries (feeds.size, or the whole newest issue, for every feed)
# with room to spare.
KEPT_DRAWN = 2048


class Kept:
    """The feed items of the latest entries drawn under one configuration, least recently used
    first out; another configuration starts afresh."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._config: Config | None = None
        self._items: OrderedDict[Entry, FeedItem] = OrderedDict()

    def feed_items(self, entries: Sequence[Entry], config: Config) -> list[FeedItem]:
        """The feed item of each of ``entries``; those not kept are drawn together (one feedgen
        document for all of them) and kept."""
        if config is not self._config and config != self._config:
            self._items.clear()
            self._config = config
        kept = self._items
        missing = [entry for entry in entries if entry not in kept]
        fresh = drawn([story_item(story(entry, config.tz), config) for entry in missing])
        for entry, item in zip(missing, fresh, strict=True):
            kept[entry] = item
        found = []
        for entry in entries:
            kept.move_to_end(entry)
            found.append(kept[entry])
        while len(kept) > self._size:
            kept.popitem(last=False)
        return found


ITEMS = Kept(KEPT_DRAWN)


@lru_cache(maxsize=KEPT_DRAWN)
def story(entry: Entry, tz: tzinfo | None) -> Story:
    """``layout.present(entry, tz)``, kept."""
    return present(entry, tz)


def feed_items(entries: Sequence[Entry], config: Config) -> list[FeedItem]:
    """The feed item of each of ``entries``, drawn or kept (``Kept.feed_items``)."""
    return ITEMS.feed_items(entries, config)
