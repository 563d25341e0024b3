"""Callbacks: requests of callers who accepted a callback offer.

Revision ID: 0004_callbacks
Revises: 0003_routing
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_callbacks"
down_revision: str | None = "0003_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    t = "callback_requests"
    op.create_table(
        t,
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'dialling', 'done', 'failed', 'cancelled')",
            name=op.f(f"ck_{t}_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{t}_tenant_id_tenants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("linkedid", name=op.f(f"uq_{t}_linkedid")),
    )
    op.create_index("ix_callback_requests_status_requested_at", t, ["status", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_callback_requests_status_requested_at", table_name="callback_requests")
    op.drop_table("callback_requests")
