"""messages: smtp_tls, whether the SMTP session that delivered the message used TLS

NULL for mail that did not come over SMTP (uploads, the send API) and for mail captured
before this revision: unknown.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("smtp_tls", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "smtp_tls")
