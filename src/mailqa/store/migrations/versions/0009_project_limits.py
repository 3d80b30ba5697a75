"""projects: max_inboxes and max_inbox_quota_bytes, the admin-set limits of one project

Both null: the global MAILQA_MAX_INBOXES_PER_PROJECT and MAILQA_MAX_INBOX_QUOTA_BYTES apply.

A plain ADD COLUMN and DROP COLUMN (not a batch rebuild, which would drop SQLite's
AUTOINCREMENT).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("max_inboxes", sa.Integer(), nullable=True))
    op.add_column("projects", sa.Column("max_inbox_quota_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("projects", "max_inbox_quota_bytes")
    op.drop_column("projects", "max_inboxes")
