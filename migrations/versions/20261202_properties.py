"""properties: free texts, pictures, source of a property; property and contact imports

Revision ID: properties
Revises: 0003_automations
Create Date: 2026-12-02 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base

revision: str = "properties"
down_revision: str | None = "ui"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _import_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("stored_path", sa.String(length=500), nullable=False, comment="Path below the data dir."),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("report", JSON, nullable=False),
        sa.Column("finished_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            db.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "texts",
                JSON,
                server_default=sa.text("'{}'"),
                nullable=False,
                comment="Free texts (OpenImmo freitexte): description, location, features, other.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "images",
                JSON,
                server_default=sa.text("'[]'"),
                nullable=False,
                comment="Further picture URLs besides the cover.",
            )
        )
        batch_op.add_column(sa.Column("source", sa.String(length=20), nullable=True, comment="office | openimmo"))
        batch_op.add_column(sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=True))

    op.create_table(
        "property_imports",
        *_import_columns(),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False, comment="web | cli"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_property_imports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_property_imports")),
    )
    with op.batch_alter_table("property_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_property_imports_sha256"), ["sha256"], unique=False)

    op.create_table(
        "contact_imports",
        *_import_columns(),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("encoding", sa.String(length=40), nullable=True),
        sa.Column("delimiter", sa.String(length=4), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_contact_imports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_imports")),
    )


def downgrade() -> None:
    op.drop_table("contact_imports")
    with op.batch_alter_table("property_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_property_imports_sha256"))
    op.drop_table("property_imports")
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("source")
        batch_op.drop_column("images")
        batch_op.drop_column("texts")
