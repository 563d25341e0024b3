"""Callbacks: assignment to one receptionist (with a fallback time) and the customer-first
guard's progress per attempt (so an app restart resumes it instead of losing it).

Revision ID: 0016_callback_assign_first
Revises: 0015_voicemail_outbox
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_callback_assign_first"
down_revision: str | None = "0015_voicemail_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("callback_requests") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(80), nullable=True))
        batch.add_column(sa.Column("assigned_until", WHEN, nullable=True))
    with op.batch_alter_table("callback_attempts") as batch:
        batch.add_column(sa.Column("mode", sa.String(16), nullable=True))
        batch.add_column(sa.Column("picked_up_at", WHEN, nullable=True))
        batch.add_column(sa.Column("guard_plays", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("callback_attempts") as batch:
        batch.drop_column("guard_plays")
        batch.drop_column("picked_up_at")
        batch.drop_column("mode")
    with op.batch_alter_table("callback_requests") as batch:
        batch.drop_column("assigned_until")
        batch.drop_column("assigned_to")
