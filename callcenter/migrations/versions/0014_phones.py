"""Phones: receptionists' SIP phones and browser softphones (lines feature).

Revision ID: 0014_phones
Revises: 0013_app_leases
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_phones"
down_revision: str | None = "0013_app_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    t = "phones"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), server_default="", nullable=False),
        sa.Column("realm", sa.String(64), nullable=False),
        sa.Column("password_digest", sa.String(200), nullable=False),
        sa.Column("auto_answer", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("name", name=op.f(f"uq_{t}_name")),
    )


def downgrade() -> None:
    op.drop_table("phones")
