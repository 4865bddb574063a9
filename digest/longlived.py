"""What a process keeps for its whole life, kept out of the cyclic garbage collector's way.

A command's modules and tables live as long as the process, and CPython's
collector walks every object it tracks on each full collection: pypinyin's
phrase table alone is about 190,000 objects, more than the rest of the
program.  A build ran enough full collections to spend a tenth of its time
walking objects that can never become garbage (docs/performance.md).
``settle`` moves what is alive now into the permanent generation
(``gc.freeze``), which the collector never scans; worker processes forked
later inherit it, so their pages of it stay shared.

It also makes the young generation larger.  A build allocates millions of
containers that die within an article (lines, matches, entries, rows); at
CPython's threshold of 700 the collector ran 858 young collections and 6 full
ones over a 10k-article build, 0.28 s of CPU, and from ``settle`` on at 5,000
180 and 1, 0.10 s, with the same peak memory (docs/performance.md).
"""

from __future__ import annotations

import gc

# Net container allocations between young collections (CPython's default: 700).
YOUNG_THRESHOLD = 5000


def settle() -> None:
    """Take every object alive now out of the collector's scans, the young garbage collected first.

    Call it when what is alive is what the process keeps (its imports done, a
    big table loaded), at most a few times in a process: an object frozen is
    still freed when its last reference goes, but a cycle it is part of is
    never collected.  Only the young generations are collected first: that is
    where garbage made since the last collection is, and a full collection
    cost 40 ms at a command's start (none found anything to free there).
    The young generation's threshold is raised to ``YOUNG_THRESHOLD`` (never lowered).
    """
    gc.collect(1)
    gc.freeze()
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
