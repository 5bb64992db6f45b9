"""Transfers: deposits and withdrawals a venue lists, recorded once each.

Why: money the trader moves is capital, not profit or loss. Each one is recorded with what it moved
the start-of-day equity and the breaker's peak by, so it is counted once, and a returned one undone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("mode", sa.String(8), primary_key=True),
        sa.Column("venue", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(12), primary_key=True),
        sa.Column("transfer_id", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(28, 10), nullable=False),
        sa.Column("capital", sa.Numeric(28, 10), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("transfers")
