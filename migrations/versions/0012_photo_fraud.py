"""photo fraud signals: EXIF presence and Software, the pHash, the near-duplicate index

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exif_present", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("exif_software", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("phash", sa.BigInteger(), nullable=True))
    op.create_table(
        "media_phash_segments",
        sa.Column("key", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("phash", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column(
            "sha256",
            sa.String(length=64),
            sa.ForeignKey("media_objects.sha256"),
            primary_key=True,
        ),
    )


def downgrade() -> None:
    op.drop_table("media_phash_segments")
    with op.batch_alter_table("media_objects", schema=None) as batch_op:
        batch_op.drop_column("phash")
        batch_op.drop_column("exif_software")
        batch_op.drop_column("exif_present")
