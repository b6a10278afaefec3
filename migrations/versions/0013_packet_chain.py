"""packet chain: each device's settled packets as a hash chain (sync/chain.py)

Packets stored before this revision are chained here, each device's in order of receipt
(received_at, then seq: the order a push settles them in is not recorded for them).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 14:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cases.models import UTCDateTime
from sync.chain import ChainInput, link, media_of

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    table = op.create_table(
        "packet_chain",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("packet_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("media", sa.Text(), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "n", name=op.f("pk_packet_chain")),
        sa.UniqueConstraint("packet_id", name=op.f("uq_packet_chain_packet_id")),
    )
    _chain_existing(table)


def _chain_existing(table: sa.Table) -> None:
    bind = op.get_bind()
    packets = sa.table(
        "packets",
        sa.column("device_id", sa.String()),
        sa.column("packet_id", sa.String()),
        sa.column("seq", sa.BigInteger()),
        sa.column("body", sa.LargeBinary()),
        sa.column("body_format", sa.String()),
        sa.column("received_at", UTCDateTime()),
        sa.column("status", sa.String()),
    )
    rows = bind.execute(
        sa.select(packets).order_by(packets.c.device_id, packets.c.received_at, packets.c.seq)
    )
    heads: dict[str, tuple[int, str]] = {}
    pending: list[ChainInput] = []
    for r in rows:
        media = media_of(r.body, r.body_format)
        pending.append(
            ChainInput(r.device_id, r.packet_id, r.seq, r.body, r.received_at, r.status, media)
        )
        if len(pending) >= BATCH:
            bind.execute(table.insert(), link(heads, pending))
            pending = []
    if pending:
        bind.execute(table.insert(), link(heads, pending))


def downgrade() -> None:
    op.drop_table("packet_chain")
