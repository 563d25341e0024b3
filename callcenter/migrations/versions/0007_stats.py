"""Statistics: 15-minute rollups and per-tenant counting thresholds (ADR 0009).

Revision ID: 0007_stats
Revises: 0006_pbx_records
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_stats"
down_revision: str | None = "0006_pbx_records"
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
    t = "stats_rollups"
    op.create_table(
        t,
        sa.Column("tenant_key", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(8), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _INTS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in _FLOATS),
        sa.CheckConstraint("grain IN ('tenant', 'queue', 'agent')", name=op.f(f"ck_{t}_grain")),
        sa.PrimaryKeyConstraint("tenant_key", "grain", "bucket", "key", name=op.f(f"pk_{t}")),
    )
    t = "stats_settings"
    op.create_table(
        t,
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("service_level_seconds", sa.Integer(), nullable=False),
        sa.Column("short_abandon_seconds", sa.Integer(), nullable=False),
        sa.Column("billable_after_seconds", sa.Integer(), nullable=False),
        sa.Column("wrapup_seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{t}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f(f"pk_{t}")),
    )


def downgrade() -> None:
    op.drop_table("stats_settings")
    op.drop_table("stats_rollups")
