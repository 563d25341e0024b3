"""Voicemail: messages, their audio, mailbox settings (voicemail.models).

Revision ID: 0010_voicemail
Revises: 0009_jobs
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_voicemail"
down_revision: str | None = "0009_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types: a migration must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    t = "voicemails"
    op.create_table(
        t,
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("caller_e164", sa.String(32), nullable=True),
        sa.Column("caller_name", sa.String(200), nullable=True),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("call_linkedid", sa.String(64), nullable=True),
        sa.Column("channel_id", sa.String(64), nullable=True),
        sa.Column("recording_name", sa.String(120), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=True),
        sa.Column("stored_at", TS, nullable=True),
        sa.Column("transcript_status", sa.String(16), nullable=False),
        sa.Column("transcript_text", sa.Text(), nullable=True),
        sa.Column("transcript_words", JSON, nullable=True),
        sa.Column("transcript_model", sa.String(120), nullable=True),
        sa.Column("transcript_rtf", sa.Float(), nullable=True),
        sa.Column("transcript_error", sa.Text(), nullable=True),
        sa.Column("transcribed_at", TS, nullable=True),
        sa.Column("emailed_at", TS, nullable=True),
        sa.Column("handled_at", TS, nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.Column("assigned_to", sa.Integer(), nullable=True),
        sa.Column("callback_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('recording', 'stored', 'empty', 'lost')", name=op.f(f"ck_{t}_status")
        ),
        sa.CheckConstraint(
            "transcript_status IN ('pending', 'done', 'failed', 'none')",
            name=op.f(f"ck_{t}_transcript"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{t}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("recording_name", name=op.f(f"uq_{t}_recording_name")),
    )
    op.create_index("ix_voicemails_inbox", t, ["tenant_id", "created_at"])
    op.create_index(op.f(f"ix_{t}_caller_e164"), t, ["caller_e164"])
    op.create_index(op.f(f"ix_{t}_contact_id"), t, ["contact_id"])

    a = "voicemail_audio"
    op.create_table(
        a,
        sa.Column("voicemail_id", BIGINT_PK, nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["voicemail_id"],
            ["voicemails.id"],
            name=op.f(f"fk_{a}_voicemail_id_voicemails"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("voicemail_id", name=op.f(f"pk_{a}")),
    )

    b = "voicemail_boxes"
    op.create_table(
        b,
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(40), nullable=False),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("greetings", JSON, nullable=False),
        sa.Column("max_seconds", sa.Integer(), nullable=False),
        sa.Column("silence_seconds", sa.Integer(), nullable=False),
        sa.Column("review", sa.Boolean(), nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{b}_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "mailbox", name=op.f(f"pk_{b}")),
    )


def downgrade() -> None:
    op.drop_table("voicemail_boxes")
    op.drop_table("voicemail_audio")
    op.drop_index(op.f("ix_voicemails_contact_id"), table_name="voicemails")
    op.drop_index(op.f("ix_voicemails_caller_e164"), table_name="voicemails")
    op.drop_index("ix_voicemails_inbox", table_name="voicemails")
    op.drop_table("voicemails")
