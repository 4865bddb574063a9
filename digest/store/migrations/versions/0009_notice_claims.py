"""Subscription emails claimed before they are sent: ``notices.claim`` and ``notices.claimed_at``.

Two senders at once (the sign-up's own send just after its answer and the
service's retry job, two instances on one PostgreSQL database, the daily run
telling of an emptied section and the retry job) could each read the same
waiting email and each send it: the subscriber got two confirmations.  A
sender now claims a row (a compare-and-set naming it in ``claim``, at
``claimed_at``) before it composes the email, as the digest ledger does, and
a claim older than a couple of minutes is a dead sender's, sent again (or,
past its final ".", marked ``unknown``).  Both start empty: no row of an
older version is claimed.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("notices")}
    if "claim" not in columns:
        op.add_column("notices", sa.Column("claim", sa.Text(), nullable=True))
    if "claimed_at" not in columns:
        op.add_column("notices", sa.Column("claimed_at", sa.DateTime(), nullable=True))
