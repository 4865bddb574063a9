"""Copying a whole digest database into another: how a SQLite backup moves to PostgreSQL.

``digest restore`` of a SQLite backup with ``database.url`` on PostgreSQL lands here
(docs/scaling.md, "Moving from SQLite").  A dump of one database cannot be read by
the other, but both hold the same tables (``digest.store.schema``) once migrated to
the same revision, so the rows are read through the models and written back: each
type converts on the way (SQLite's text datetimes and 0/1 booleans become
PostgreSQL's).  The search index is not modelled, since its tables differ between
the two databases, and is made anew from the copied articles.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.store import search_index
from digest.store.schema import metadata

# Rows read and written at a time: bounded memory for an archive of long articles.
_BATCH = 1000


def copy_database(source: Engine, target: Engine) -> None:
    """Replace every row of ``target``'s tables with those of ``source``, in one transaction.

    Both must be at the same schema revision (``Store.open`` brings them there).
    Should anything fail, ``target`` is left as it was.
    """
    with source.connect() as reading, target.begin() as writing:
        for table in reversed(metadata.sorted_tables):  # children first, for the foreign keys
            writing.execute(table.delete())
        for table in metadata.sorted_tables:
            rows = reading.execution_options(yield_per=_BATCH).execute(sa.select(table))
            for batch in rows.partitions():
                writing.execute(table.insert(), [dict(row._mapping) for row in batch])
        search_index.fill(writing, anew=True)
