"""CRM: organisations, contacts and numbers, telephone notes, call links, webhooks, erasures.

Revision ID: 0002_crm
Revises: 0001_foundation
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_crm"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types: a migration must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def col(name: str, type_: sa.types.TypeEngine[Any], nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, type_, nullable=nullable)


def fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    ref = target.split(".", 1)[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{ref}"), ondelete=ondelete
    )


def pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    t = "crm_organisations"
    op.create_table(
        t,
        col("id", BIGINT_PK),
        col("tenant_id", sa.Integer(), True),
        col("name", sa.String(200)),
        col("switchboard_raw", sa.String(64), True),
        col("switchboard_e164", sa.String(20), True),
        col("number_prefix", sa.String(20), True),
        col("website", sa.String(200), True),
        col("notes", sa.Text()),
        ts("created_at"),
        ts("updated_at"),
        fk(t, "tenant_id", "tenants.id", "CASCADE"),
        pk(t, "id"),
    )
    for c in ("tenant_id", "switchboard_e164", "number_prefix"):
        index(t, c)

    t = "crm_contacts"
    op.create_table(
        t,
        col("id", BIGINT_PK),
        col("tenant_id", sa.Integer(), True),
        col("organisation_id", BIGINT_PK, True),
        col("display_name", sa.String(200)),
        col("given_name", sa.String(100)),
        col("family_name", sa.String(100)),
        col("email", sa.String(254), True),
        col("email_norm", sa.String(254), True),
        col("street", sa.String(200)),
        col("postal_code", sa.String(20)),
        col("city", sa.String(100)),
        col("region", sa.String(100)),
        col("country", sa.String(100)),
        col("language", sa.String(16), True),
        col("tags", JSON),
        col("vip", sa.Boolean()),
        col("notes", sa.Text()),
        col("consent_basis", sa.String(32), True),
        ts("consent_at", True),
        col("source", sa.String(64)),
        ts("created_at"),
        ts("updated_at"),
        fk(t, "tenant_id", "tenants.id", "CASCADE"),
        fk(t, "organisation_id", "crm_organisations.id", "SET NULL"),
        pk(t, "id"),
    )
    index(t, "tenant_id")
    index(t, "organisation_id")
    op.create_index("ix_crm_contacts_tenant_email", t, ["tenant_id", "email_norm"])

    t = "crm_contact_numbers"
    op.create_table(
        t,
        col("id", BIGINT_PK),
        col("contact_id", BIGINT_PK),
        col("tenant_id", sa.Integer(), True),
        col("kind", sa.String(16)),
        col("raw", sa.String(64)),
        col("e164", sa.String(20)),
        col("position", sa.SmallInteger()),
        fk(t, "contact_id", "crm_contacts.id", "CASCADE"),
        pk(t, "id"),
    )
    index(t, "contact_id")
    # The screen-pop index: equality on e164, tenant filter read from the index itself.
    op.create_index(
        "ix_crm_contact_numbers_e164_tenant",
        t,
        ["e164", "tenant_id"],
        postgresql_include=["contact_id"],
    )

    t = "crm_notes"
    op.create_table(
        t,
        col("id", BIGINT_PK),
        col("tenant_id", sa.Integer()),
        col("contact_id", BIGINT_PK, True),
        col("call_id", BIGINT_PK, True),
        col("recipient_name", sa.String(200)),
        col("recipient_email", sa.String(254)),
        col("caller_name", sa.String(200)),
        col("caller_number", sa.String(64)),
        col("caller_e164", sa.String(20), True),
        col("subject", sa.String(300)),
        col("message", sa.Text()),
        col("callback_wanted", sa.Boolean()),
        col("urgency", sa.String(16)),
        col("language", sa.String(16)),
        col("taken_by", sa.Integer(), True),
        ts("taken_at"),
        col("delivery_status", sa.String(16)),
        ts("delivered_at", True),
        col("delivery_error", sa.Text(), True),
        fk(t, "tenant_id", "tenants.id", "CASCADE"),
        fk(t, "contact_id", "crm_contacts.id", "SET NULL"),
        fk(t, "call_id", "calls.id", "SET NULL"),
        pk(t, "id"),
    )
    index(t, "tenant_id")
    op.create_index("ix_crm_notes_contact_taken", t, ["contact_id", "taken_at"])

    t = "crm_call_links"
    op.create_table(
        t,
        col("call_id", BIGINT_PK),
        col("contact_id", BIGINT_PK),
        col("method", sa.String(16)),
        col("linked_by", sa.Integer(), True),
        ts("linked_at"),
        fk(t, "call_id", "calls.id", "CASCADE"),
        fk(t, "contact_id", "crm_contacts.id", "CASCADE"),
        pk(t, "call_id"),
    )
    index(t, "contact_id")

    t = "crm_webhook_endpoints"
    op.create_table(
        t,
        col("id", BIGINT_PK),
        col("tenant_id", sa.Integer()),
        col("url", sa.String(1000)),
        col("secret", sa.String(200)),
        col("events", JSON),
        col("active", sa.Boolean()),
        col("description", sa.String(200)),
        ts("created_at"),
        fk(t, "tenant_id", "tenants.id", "CASCADE"),
        pk(t, "id"),
    )
    index(t, "tenant_id")

    t = "crm_webhook_deliveries"
    op.create_table(
        t,
        col("id", BIGINT_PK),
        col("endpoint_id", BIGINT_PK),
        col("tenant_id", sa.Integer()),
        col("event_id", sa.String(36)),
        col("event", sa.String(64)),
        col("body", sa.Text()),
        col("status", sa.String(16)),
        col("attempts", sa.Integer()),
        ts("next_attempt_at"),
        col("last_status_code", sa.Integer(), True),
        col("last_error", sa.Text(), True),
        ts("created_at"),
        ts("finished_at", True),
        fk(t, "endpoint_id", "crm_webhook_endpoints.id", "CASCADE"),
        pk(t, "id"),
    )
    index(t, "endpoint_id")
    index(t, "event_id")
    op.create_index(
        "ix_crm_webhook_deliveries_due",
        t,
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )

    t = "crm_webhook_attempts"
    op.create_table(
        t,
        col("id", BIGINT_PK),
        col("delivery_id", BIGINT_PK),
        col("attempt", sa.Integer()),
        ts("at"),
        col("status_code", sa.Integer(), True),
        col("error", sa.Text(), True),
        col("duration_ms", sa.Float()),
        fk(t, "delivery_id", "crm_webhook_deliveries.id", "CASCADE"),
        pk(t, "id"),
    )
    index(t, "delivery_id")

    t = "crm_erasures"
    op.create_table(
        t,
        col("id", BIGINT_PK),
        col("tenant_id", sa.Integer(), True),
        col("contact_id", sa.BigInteger()),
        col("erased_by", sa.Integer(), True),
        ts("erased_at"),
        col("counts", JSON),
        pk(t, "id"),
    )


def downgrade() -> None:
    for table in (
        "crm_erasures",
        "crm_webhook_attempts",
        "crm_webhook_deliveries",
        "crm_webhook_endpoints",
        "crm_call_links",
        "crm_notes",
        "crm_contact_numbers",
        "crm_contacts",
        "crm_organisations",
    ):
        op.drop_table(table)
