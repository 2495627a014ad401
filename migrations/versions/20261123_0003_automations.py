"""automations: rules, runs, birthday greetings

Revision ID: 0003_automations
Revises: 0002_slot_requests
Create Date: 2026-11-23 16:34:40.973120
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base
from domain.automation_builtin import BUILTIN_RULES

revision: str = "0003_automations"
down_revision: str | None = "0002_slot_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("trigger", sa.String(length=60), nullable=False),
        sa.Column(
            "conditions", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "actions", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("enabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column(
            "builtin_key",
            sa.String(length=60),
            nullable=True,
            comment="Set on the rules immoflow ships; seeding finds them by it.",
        ),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            db.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
        sa.UniqueConstraint("builtin_key", name=op.f("uq_automation_rules_builtin_key")),
    )
    with op.batch_alter_table("automation_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_rules_trigger"), ["trigger"], unique=False)

    op.create_table(
        "automation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("event_depth", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=60), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=True, comment="None when the run was never started."),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("started_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "facts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="The event fields the conditions saw.",
        ),
        sa.Column(
            "actions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="Snapshot of the rule's actions.",
        ),
        sa.Column(
            "steps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="Per action: outcome and detail.",
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["automation_rules.id"],
            name=op.f("fk_automation_runs_rule_id_automation_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint("rule_id", "event_id", name=op.f("uq_automation_runs_rule_id_event_id")),
    )
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_runs_outcome"), ["outcome"], unique=False)
        batch_op.create_index("ix_automation_runs_rule_started", ["rule_id", "started_at"], unique=False)

    op.create_table(
        "birthday_greetings",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="The (local) day the scan greeted on."),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            db.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_birthday_greetings_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("contact_id", "year", name=op.f("pk_birthday_greetings")),
    )
    # ### end Alembic commands ###
    _seed_builtin_rules()


def _seed_builtin_rules() -> None:
    """The seed's example rules, disabled: the office switches on what it wants (README, "Automations")."""
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    rules = sa.table(
        "automation_rules",
        sa.column("builtin_key", sa.String()),
        sa.column("name", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("trigger", sa.String()),
        sa.column("conditions", json_type),
        sa.column("actions", json_type),
        sa.column("enabled", sa.Boolean()),
    )
    op.bulk_insert(rules, [{**rule, "enabled": False} for rule in BUILTIN_RULES])


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table("birthday_greetings")
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_runs_rule_started")
        batch_op.drop_index(batch_op.f("ix_automation_runs_outcome"))

    op.drop_table("automation_runs")
    with op.batch_alter_table("automation_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_rules_trigger"))

    op.drop_table("automation_rules")
    # ### end Alembic commands ###
