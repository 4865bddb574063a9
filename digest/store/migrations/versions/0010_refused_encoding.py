"""The encoding setting a page file was refused under: ``sources.refused_encoding``.

A file refused for its encoding (Big5 too short to tell from GBK, or not the
encoding ``ingest.encoding`` names) stayed refused after the setting changed:
its bytes were the ones recorded, so no scan read it again, and only
``digest ingest --reparse`` did.  The new column holds the setting of the
refusal, and a scan under another setting reads the file again.  The setting
of a refusal from before it is not known: one whose reason names the setting
(every refusal for the encoding does) is marked with ``?``, which no setting
is, so the first scan reads it once again and records its setting.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sources")}
    if "refused_encoding" not in columns:
        op.add_column("sources", sa.Column("refused_encoding", sa.String(length=64), nullable=True))
        op.execute("UPDATE sources SET refused_encoding = '?' WHERE last_error LIKE '%ingest.encoding%'")
