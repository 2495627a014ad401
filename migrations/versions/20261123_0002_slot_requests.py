"""slot requests: time-slot links (seed 001) and the slots prospects proposed

Revision ID: 0002_slot_requests
Revises: 0001
Create Date: 2026-11-23 16:34:01.707686
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base

revision: str = "0002_slot_requests"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slot_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=True),
        sa.Column("recipient_kind", sa.String(length=20), nullable=False, comment="user | contact_person"),
        sa.Column("recipient_user_id", sa.Integer(), nullable=True, comment="Set when recipient_kind is user."),
        sa.Column(
            "response_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="Non-empty subset of email, task, sms.",
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("expires_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workflow_id", sa.String(length=300), nullable=True),
        sa.Column("link_nonce", sa.String(length=64), nullable=False, comment="Binds the signed link to this request."),
        sa.Column(
            "send_invitation",
            sa.Boolean(),
            nullable=False,
            comment="False when the link travels in another mail (the {{ time_slot_link }} placeholder).",
        ),
        sa.Column(
            "origin_key",
            sa.String(length=200),
            nullable=True,
            comment="Idempotency of requests made by mails, e.g. inquiry:7:expose.",
        ),
        sa.Column("inquiry_id", sa.Integer(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "deliveries",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="How the answer was routed (channel, recipient, fallback reason).",
        ),
        sa.Column("chosen_position", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            db.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name=op.f("fk_slot_requests_appointment_id_appointments")
        ),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_slot_requests_contact_id_contacts")),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_slot_requests_created_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(["inquiry_id"], ["inquiries.id"], name=op.f("fk_slot_requests_inquiry_id_inquiries")),
        sa.ForeignKeyConstraint(
            ["property_id"], ["properties.id"], name=op.f("fk_slot_requests_property_id_properties")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"], ["users.id"], name=op.f("fk_slot_requests_recipient_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["raw_payloads.id"], name=op.f("fk_slot_requests_submission_id_raw_payloads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_requests")),
        sa.UniqueConstraint("origin_key", name=op.f("uq_slot_requests_origin_key")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_slot_requests_workflow_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("slot_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slot_requests_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_slot_requests_status"), ["status"], unique=False)

    op.create_table(
        "slot_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("starts_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["slot_requests.id"],
            name=op.f("fk_slot_proposals_request_id_slot_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_proposals")),
        sa.UniqueConstraint("request_id", "position", name=op.f("uq_slot_proposals_request_id_position")),
    )


def downgrade() -> None:
    op.drop_table("slot_proposals")
    with op.batch_alter_table("slot_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_requests_status"))
        batch_op.drop_index(batch_op.f("ix_slot_requests_contact_id"))

    op.drop_table("slot_requests")
