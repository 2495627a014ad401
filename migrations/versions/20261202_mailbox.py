"""mailbox: IMAP settings on mailboxes, inbound mails

Revision ID: mailbox
Revises: 0003_automations
Create Date: 2026-12-02 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "mailbox"
down_revision: str | None = "properties"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAILBOX_COLUMNS = (
    "imap_host", "imap_port", "imap_tls", "imap_user", "imap_password_encrypted", "folder", "processed_action",
    "processed_folder", "enabled", "uidvalidity", "last_uid", "last_contact_at", "last_error", "last_error_at",
)  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.add_column(sa.Column("imap_host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("imap_port", sa.Integer(), server_default="993", nullable=False))
        batch.add_column(
            sa.Column("imap_tls", sa.String(length=10), server_default="tls", nullable=False, comment="tls | none")
        )
        batch.add_column(sa.Column("imap_user", sa.String(length=320), nullable=True))
        batch.add_column(
            sa.Column("imap_password_encrypted", sa.Text(), nullable=True, comment="Fernet token, app key.")
        )
        batch.add_column(sa.Column("folder", sa.String(length=200), server_default="INBOX", nullable=False))
        batch.add_column(
            sa.Column(
                "processed_action", sa.String(length=10), server_default="flag", nullable=False, comment="flag | move"
            )
        )
        batch.add_column(sa.Column("processed_folder", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("enabled", sa.Boolean(), server_default="0", nullable=False))
        batch.add_column(sa.Column("uidvalidity", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_uid", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("last_contact_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_error_at", db.base.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "inbound_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column(
            "dedup_key", sa.String(length=300), nullable=False, comment="Message-ID, else sha256 of the raw bytes."
        ),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("sender", sa.String(length=400), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("parser", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True, comment="Why it was not recognised, or what was done."),
        sa.Column("inquiry_id", sa.Integer(), nullable=True),
        sa.Column("related_message_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("processed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            db.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_inbound_mails_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"], ["users.id"], name=op.f("fk_inbound_mails_decided_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(["inquiry_id"], ["inquiries.id"], name=op.f("fk_inbound_mails_inquiry_id_inquiries")),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailboxes.id"], name=op.f("fk_inbound_mails_mailbox_id_mailboxes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["related_message_id"], ["messages.id"], name=op.f("fk_inbound_mails_related_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mails")),
        sa.UniqueConstraint("mailbox_id", "dedup_key", name=op.f("uq_inbound_mails_mailbox_id_dedup_key")),
    )
    op.create_index("ix_inbound_mails_mailbox_status", "inbound_mails", ["mailbox_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_inbound_mails_mailbox_status", table_name="inbound_mails")
    op.drop_table("inbound_mails")
    with op.batch_alter_table("mailboxes") as batch:
        for column in reversed(MAILBOX_COLUMNS):
            batch.drop_column(column)
