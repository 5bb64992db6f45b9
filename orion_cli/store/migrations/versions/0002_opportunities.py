"""Opportunities: priced scans stored with a short id and an expiry, for `orion trade OP_ID`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opportunities",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pair_key", sa.String(400), nullable=False),
        sa.Column("observed_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("net_profit", sa.Text(), nullable=False),
        sa.Column("net_edge", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
    )
    op.create_index("ix_opportunities_expires", "opportunities", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_opportunities_expires", table_name="opportunities")
    op.drop_table("opportunities")
