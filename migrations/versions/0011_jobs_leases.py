"""jobs: a job table for background work, leases on thumbnail jobs (many workers)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cases.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("worker_id", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_jobs_status_id", "jobs", ["status", "id"])
    with op.batch_alter_table("thumbnail_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leased_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("worker_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("thumbnail_jobs", schema=None) as batch_op:
        batch_op.drop_column("worker_id")
        batch_op.drop_column("leased_until")
    op.drop_index("ix_jobs_status_id", table_name="jobs")
    op.drop_table("jobs")
