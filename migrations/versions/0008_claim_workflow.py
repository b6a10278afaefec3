"""claim workflow: dispatch purposes, teams, delegation and closing, approval money,
monotonic tablet time, irregular (held) packets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cases.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("max_approve", sa.Float(), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurred_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("self_reported", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("delegated_from", sa.Text(), nullable=True))
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=16), server_default="scene", nullable=False)
        )
        batch_op.add_column(sa.Column("team", sa.String(length=64), nullable=True))
    with op.batch_alter_table("packets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("boot_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("elapsed_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("monotonic_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_amount", sa.Float(), nullable=True))
    with op.batch_alter_table("case_timings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=64), nullable=True))
    with op.batch_alter_table("case_progress", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("missing_documents", sa.Text(), server_default="", nullable=False)
        )
    op.create_table(
        "case_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], name=op.f("fk_case_actions_by_id_users")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_actions_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_actions")),
    )
    op.create_index("ix_case_actions_case_id_id", "case_actions", ["case_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_actions_case_id_id", table_name="case_actions")
    op.drop_table("case_actions")
    for table, columns in (
        ("case_progress", ["missing_documents"]),
        ("case_timings", ["team"]),
        ("reviews", ["approved_amount"]),
        ("packets", ["monotonic_at", "elapsed_ms", "boot_id"]),
        ("dispatches", ["team", "purpose"]),
        ("cases", ["delegated_from", "self_reported", "occurred_at"]),
        ("users", ["max_approve", "team"]),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_column(column)
