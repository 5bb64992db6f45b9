"""Settlements: a held market's payout, recorded once per market.

Why: an arbitrage is held until the market settles. Without a record of the payout the ledger kept a
settled position at cost while the venue's cash already held the payout (equity counted twice), and
reconcile reported every settlement as drift.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlements",
        sa.Column("mode", sa.String(8), primary_key=True),
        sa.Column("venue", sa.String(16), primary_key=True),
        sa.Column("market_id", sa.String(200), primary_key=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("yes_payout", sa.Numeric(28, 10), nullable=False),
        sa.Column("paid_at", sa.String(32), nullable=False),
        sa.Column("contracts", sa.Numeric(28, 10), nullable=False),
        sa.Column("payout", sa.Numeric(28, 10), nullable=False),
        sa.Column("realized_pnl", sa.Numeric(28, 10), nullable=False),
        sa.Column("cash_moved", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settlements")
