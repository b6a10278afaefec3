"""timings and reviews

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 18:05:00

Tables of timings and review (issue 6).
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
