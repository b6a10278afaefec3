"""odk: ODK Collect submissions by instanceID (XML verbatim), their attachments, device seqs

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cases.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "odk_submissions",
        sa.Column("instance_id", sa.String(length=64), primary_key=True),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("form_version", sa.String(length=32), nullable=False),
        sa.Column("surveyor_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("seq_count", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_odk_submissions_surveyor_id", "odk_submissions", ["surveyor_id"])
    op.create_table(
        "odk_attachments",
        sa.Column(
            "instance_id",
            sa.String(length=64),
            sa.ForeignKey("odk_submissions.instance_id"),
            primary_key=True,
        ),
        sa.Column("filename", sa.String(length=255), primary_key=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "odk_device_seqs",
        sa.Column("device_id", sa.String(length=64), primary_key=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("odk_device_seqs")
    op.drop_table("odk_attachments")
    op.drop_index("ix_odk_submissions_surveyor_id", table_name="odk_submissions")
    op.drop_table("odk_submissions")
