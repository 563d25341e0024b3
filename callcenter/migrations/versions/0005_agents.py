"""Agents: each receptionist's wanted presence (logged in, paused, reason).

Revision ID: 0005_agents
Revises: 0004_callbacks
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_agents"
down_revision: str | None = "0004_callbacks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the model type: a migration must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    t = "agent_presence"
    op.create_table(
        t,
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("logged_in", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("pause_reason", sa.String(64), server_default="", nullable=False),
        sa.Column("paused_queues", JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f(f"fk_{t}_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f(f"pk_{t}")),
    )


def downgrade() -> None:
    op.drop_table("agent_presence")
