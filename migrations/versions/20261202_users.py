"""users: roles, deactivation, set-password link versions; tasks done at / by

Revision ID: users
Revises: 0003_automations
Create Date: 2026-12-02 06:20:00

Before this revision every user who could log in could change everything: they become admins, so no office
loses access to its settings by upgrading. New users are agents unless made admins.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.base

revision: str = "users"
down_revision: str | None = "security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=20), server_default="agent", nullable=False))
        batch_op.add_column(sa.Column("deactivated_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "password_link_version",
                sa.Integer(),
                server_default="0",
                nullable=False,
                comment="Bumped per set-password link and per password set: older links die.",
            )
        )
    op.execute("UPDATE users SET role = 'admin' WHERE password_hash IS NOT NULL")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("done_by_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_tasks_done_by_user_id_users"), "users", ["done_by_user_id"], ["id"])
        batch_op.create_index("ix_tasks_assignee_done", ["assignee_user_id", "done"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_assignee_done")
        batch_op.drop_constraint(batch_op.f("fk_tasks_done_by_user_id_users"), type_="foreignkey")
        batch_op.drop_column("done_by_user_id")
        batch_op.drop_column("done_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_link_version")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("role")
