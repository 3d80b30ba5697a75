"""inboxes: email_username and email_username_enabled, the inbox's own e-mail address

Mailtrap's inbox address (``{email_username}@{domain}``): when enabled, unauthenticated SMTP
mail to that local part lands in the inbox. Existing inboxes get a random username, off.

Plain ADD COLUMN and CREATE INDEX (not a batch rebuild, which would drop SQLite's
AUTOINCREMENT); the column stays nullable in the schema for that reason, and every inbox
has a value.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("inboxes", sa.Column("email_username", sa.String(length=64), nullable=True))
    op.add_column(
        "inboxes",
        sa.Column(
            "email_username_enabled", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    random_name = (
        "lower(hex(randomblob(7)))"
        if sqlite
        else "substr(replace(gen_random_uuid()::text, '-', ''), 1, 14)"
    )
    op.execute(f"UPDATE inboxes SET email_username = {random_name} WHERE email_username IS NULL")
    op.create_index("ix_inboxes_email_username", "inboxes", ["email_username"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_inboxes_email_username", table_name="inboxes")
    op.drop_column("inboxes", "email_username_enabled")
    op.drop_column("inboxes", "email_username")
