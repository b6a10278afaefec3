"""timings and reviews

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 18:05:00

Tables of timings and review: reviews are part of the log; case_timings,
case_progress and surveyor_positions are derived from it and rebuilt by `kancha recalc`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cases.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested", sa.Text(), nullable=False),
        sa.Column("estimate_packet_id", sa.String(length=64), nullable=False),
        sa.Column("reviewed_at", cases.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_reviews_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_reviews_reviewer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_case_id_id", ["case_id", "id"], unique=False)

    op.create_table(
        "case_timings",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("limit_key", sa.String(length=40), nullable=False),
        sa.Column("dispatched_at", cases.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("start_at", cases.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", cases.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=True),
        sa.Column("end_packet_id", sa.String(length=64), nullable=True),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_timings_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "name", name=op.f("pk_case_timings")),
    )
    with op.batch_alter_table("case_timings", schema=None) as batch_op:
        batch_op.create_index("ix_case_timings_dispatched_at", ["dispatched_at"], unique=False)

    op.create_table(
        "case_progress",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("estimate_packet_id", sa.String(length=64), nullable=True),
        sa.Column("estimate_amount", sa.Float(), nullable=True),
        sa.Column("estimate_at", cases.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("awaiting_review", sa.Boolean(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_progress_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_progress")),
    )
    with op.batch_alter_table("case_progress", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_progress_awaiting_review"), ["awaiting_review"], unique=False
        )

    op.create_table(
        "surveyor_positions",
        sa.Column("surveyor_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("at", cases.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("packet_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["surveyor_id"], ["users.id"], name=op.f("fk_surveyor_positions_surveyor_id_users")
        ),
        sa.PrimaryKeyConstraint("surveyor_id", name=op.f("pk_surveyor_positions")),
    )


def downgrade() -> None:
    op.drop_table("surveyor_positions")
    with op.batch_alter_table("case_progress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_progress_awaiting_review"))
    op.drop_table("case_progress")
    with op.batch_alter_table("case_timings", schema=None) as batch_op:
        batch_op.drop_index("ix_case_timings_dispatched_at")
    op.drop_table("case_timings")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_case_id_id")
    op.drop_table("reviews")
