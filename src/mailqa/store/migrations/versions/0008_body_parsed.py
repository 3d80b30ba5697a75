"""messages: body_parsed, False while capture has read only the headers

Capture stores a message after scanning its header block; the analysis job parses the body
and fills in the preview, body sizes, defects and attachment index. Existing rows were
parsed in full when stored.

A plain ADD COLUMN (not a batch rebuild, which would drop SQLite's AUTOINCREMENT).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column("body_parsed", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("body_parsed")
