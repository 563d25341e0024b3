"""Leader lease of app instances (which one owns the ARI application).

Revision ID: 0013_app_leases
Revises: 0012_stats_daily
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_app_leases"
down_revision: str | None = "0012_stats_daily"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    t = "app_leases"
    op.create_table(
        t,
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f(f"pk_{t}")),
    )


def downgrade() -> None:
    op.drop_table("app_leases")
