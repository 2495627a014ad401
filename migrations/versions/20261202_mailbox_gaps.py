"""mailbox_gaps: a reply mail remembers the time-slot request it answered

Revision ID: mailbox_gaps
Revises: mailbox
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "mailbox_gaps"  # the branch mailbox-gaps; Alembic refuses "-" in revision ids
down_revision: str | None = "mailbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_mails") as batch:
        batch.add_column(
            sa.Column("slot_request_id", sa.Integer(), nullable=True, comment="The time-slot request a reply answered.")
        )
        batch.create_foreign_key(
            "fk_inbound_mails_slot_request_id_slot_requests", "slot_requests", ["slot_request_id"], ["id"]
        )
        batch.create_index("ix_inbound_mails_slot_request_id", ["slot_request_id"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_mails") as batch:
        batch.drop_index("ix_inbound_mails_slot_request_id")
        batch.drop_constraint("fk_inbound_mails_slot_request_id_slot_requests", type_="foreignkey")
        batch.drop_column("slot_request_id")
