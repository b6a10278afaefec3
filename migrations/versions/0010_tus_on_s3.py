"""tus on S3: an upload's offset, multipart upload and parts in the database

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tus_uploads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("offset_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("tail_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("multipart_id", sa.Text(), nullable=True))
    op.create_table(
        "tus_upload_parts",
        sa.Column(
            "upload_id", sa.String(length=32), sa.ForeignKey("tus_uploads.id"), primary_key=True
        ),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("etag", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tus_upload_parts")
    with op.batch_alter_table("tus_uploads", schema=None) as batch_op:
        batch_op.drop_column("multipart_id")
        batch_op.drop_column("tail_bytes")
        batch_op.drop_column("offset_bytes")
