"""ids never reused; messages carry a random uid and count their analysis attempts

SQLite reuses the highest deleted rowid unless a table is declared AUTOINCREMENT: every
table with an integer id is rebuilt with it (rows and ids kept). PostgreSQL sequences never
go back, so there only the columns are added.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Parents before children: each rebuild copies the rows with their ids.
ID_TABLES = ("projects", "inboxes", "api_tokens", "messages", "attachments", "audits",
             "audit_results")  # fmt: skip


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("uid", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("analysis_attempts", sa.Integer(), nullable=False, server_default="0")
        )
    random_uid = (
        "lower(hex(randomblob(16)))" if sqlite else "replace(gen_random_uuid()::text, '-', '')"
    )
    op.execute(f"UPDATE messages SET uid = {random_uid} WHERE uid IS NULL")
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
        batch.create_index("ix_messages_uid", ["uid"], unique=True)
    if sqlite:
        for table in ID_TABLES:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ):
                pass


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_uid")
        batch.drop_column("analysis_attempts")
        batch.drop_column("uid")
