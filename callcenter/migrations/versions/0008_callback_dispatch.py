"""Callback dispatch: the virtual place, lease with fencing token, attempts, merged requests.

Revision ID: 0008_callback_dispatch
Revises: 0007_stats
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_callback_dispatch"
down_revision: str | None = "0007_stats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
ACTIVE = sa.text("status IN ('pending', 'dialling')")
ATTEMPT_OUTCOMES = "'answered', 'no_answer', 'busy', 'failed', 'machine', 'interrupted'"


def upgrade() -> None:
    t = "callback_requests"
    with op.batch_alter_table(t) as batch:
        batch.add_column(sa.Column("arrival_at", WHEN, nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("stage", sa.String(16), nullable=True))
        batch.add_column(sa.Column("due_at", WHEN, nullable=True))
        batch.add_column(sa.Column("expires_at", WHEN, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("requests", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("source", sa.String(16), server_default="ivr", nullable=False))
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=True))
        batch.add_column(sa.Column("done_at", WHEN, nullable=True))
        batch.add_column(sa.Column("promised_at", WHEN, nullable=True))
        batch.add_column(sa.Column("wait_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("agent", sa.String(80), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("lease_token", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("lease_until", WHEN, nullable=True))
    op.create_index(
        "uq_callback_requests_active_number",
        t,
        ["tenant", "number"],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    a = "callback_attempts"
    op.create_table(
        a,
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("request_id", BIGINT_PK, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(80), nullable=True),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("cause", sa.String(32), nullable=True),
        sa.CheckConstraint(f"outcome IN ({ATTEMPT_OUTCOMES})", name=op.f(f"ck_{a}_outcome")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["callback_requests.id"],
            name=op.f(f"fk_{a}_request_id_callback_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{a}")),
        sa.UniqueConstraint("channel_id", name=op.f(f"uq_{a}_channel_id")),
        sa.UniqueConstraint("request_id", "attempt", name=op.f(f"uq_{a}_request_id")),
    )
    op.create_index(op.f(f"ix_{a}_request_id"), a, ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_callback_attempts_request_id", table_name="callback_attempts")
    op.drop_table("callback_attempts")
    op.drop_index("uq_callback_requests_active_number", table_name="callback_requests")
    with op.batch_alter_table("callback_requests") as batch:
        for column in (
            "lease_until", "lease_token", "lease_owner", "note", "agent", "wait_seconds",
            "promised_at", "done_at", "outcome", "source", "requests", "attempts",
            "expires_at", "due_at", "stage", "priority", "arrival_at",
        ):  # fmt: skip
            batch.drop_column(column)
