"""Index orders by (mode, market_id) for valuing a leg whose pair partner has settled.

Why: once one leg of a hedged pair settles, the other leg's payout is known, and the loss breaker
values it so (not at cost, which books the settled leg's loss against nothing). Finding a held
leg's pair partner starts from the held leg's market; without the index that read scans every
order the ledger ever held, on every trade.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_mode_market", "orders", ["mode", "market_id"])


def downgrade() -> None:
    op.drop_index("ix_orders_mode_market", table_name="orders")
