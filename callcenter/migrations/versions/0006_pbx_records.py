"""Asterisk's own records: queue_log lines and the read/reconcile cursors (ADR 0004).

Revision ID: 0006_pbx_records
Revises: 0005_agents
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_pbx_records"
down_revision: str | None = "0005_agents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    t = "pbx_queue_log"
    op.create_table(
        t,
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("line_hash", sa.String(40), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("callid", sa.String(64), nullable=False),
        sa.Column("queuename", sa.String(80), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        *(sa.Column(f"data{n}", sa.String(255), nullable=False) for n in range(1, 6)),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("pbx", "line_hash", name="uq_pbx_queue_log_line"),
    )
    op.create_index("ix_pbx_queue_log_callid", t, ["callid"])
    op.create_index("ix_pbx_queue_log_event_time", t, ["event", "time"])
    c = "pbx_record_cursors"
    op.create_table(
        c,
        sa.Column("pbx", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("byte_offset", BIGINT, nullable=False),
        sa.Column("reconciled_id", BIGINT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pbx", "source", name=op.f(f"pk_{c}")),
    )


def downgrade() -> None:
    op.drop_table("pbx_record_cursors")
    op.drop_index("ix_pbx_queue_log_event_time", table_name="pbx_queue_log")
    op.drop_index("ix_pbx_queue_log_callid", table_name="pbx_queue_log")
    op.drop_table("pbx_queue_log")
