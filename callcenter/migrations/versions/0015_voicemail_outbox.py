"""Voicemail e-mail outbox state: the fixed Message-ID, when sending began, attempts.

Revision ID: 0015_voicemail_outbox
Revises: 0014_phones
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_voicemail_outbox"
down_revision: str | None = "0014_phones"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("voicemails") as batch:
        batch.add_column(sa.Column("email_message_id", sa.String(250), nullable=True))
        batch.add_column(sa.Column("email_sending_at", TS, nullable=True))
        batch.add_column(
            sa.Column("email_attempts", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("voicemails") as batch:
        batch.drop_column("email_attempts")
        batch.drop_column("email_sending_at")
        batch.drop_column("email_message_id")
