"""media store

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:05:00

Tables of media: facts of each stored object, thumbnail jobs, tus uploads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cases.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thumbnail_jobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", cases.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", cases.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["media_objects.sha256"],
            name=op.f("fk_thumbnail_jobs_sha256_media_objects"),
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_thumbnail_jobs")),
    )
    with op.batch_alter_table("thumbnail_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_thumbnail_jobs_status", ["status"], unique=False)

    op.create_table(
        "tus_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("metadata_header", sa.Text(), nullable=False),
        sa.Column("created_at", cases.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", cases.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", cases.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_tus_uploads_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tus_uploads")),
    )
    with op.batch_alter_table("tus_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tus_uploads_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tus_uploads_owner_id"), ["owner_id"], unique=False)

    with op.batch_alter_table("media_objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("width", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("height", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("taken_at", cases.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))

    # Objects stored before this revision get their thumbnails made by the worker.
    op.execute(
        "INSERT INTO thumbnail_jobs (sha256, status, attempts, created_at) "
        "SELECT sha256, 'pending', 0, stored_at FROM media_objects"
    )


def downgrade() -> None:
    with op.batch_alter_table("media_objects", schema=None) as batch_op:
        batch_op.drop_column("lon")
        batch_op.drop_column("lat")
        batch_op.drop_column("taken_at")
        batch_op.drop_column("height")
        batch_op.drop_column("width")

    with op.batch_alter_table("tus_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tus_uploads_owner_id"))
        batch_op.drop_index(batch_op.f("ix_tus_uploads_expires_at"))

    op.drop_table("tus_uploads")
    with op.batch_alter_table("thumbnail_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_thumbnail_jobs_status")

    op.drop_table("thumbnail_jobs")
