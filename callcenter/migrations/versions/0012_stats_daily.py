"""Statistics: daily rollups per tenant-local day (sums of the 15-minute rows, ADR 0009).

Revision ID: 0012_stats_daily
Revises: 0011_audit_preferences
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_stats_daily"
down_revision: str | None = "0011_audit_preferences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INTS = (
    "offered",
    "answered",
    "answered_in_sl",
    "abandoned",
    "abandoned_short",
    "timeout",
    "blocked",
    "diverted",
    "lost",
    "voicemail",
    "callback",
    "not_offered",
    "billable",
)
_FLOATS = ("wait_answered", "wait_max", "talk", "handled")


def upgrade() -> None:
    t = "stats_daily"
    op.create_table(
        t,
        sa.Column("tenant_key", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _INTS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in _FLOATS),
        sa.CheckConstraint("grain IN ('tenant', 'queue', 'agent')", name=op.f(f"ck_{t}_grain")),
        sa.PrimaryKeyConstraint("tenant_key", "grain", "day", "key", name=op.f(f"pk_{t}")),
    )


def downgrade() -> None:
    op.drop_table("stats_daily")
