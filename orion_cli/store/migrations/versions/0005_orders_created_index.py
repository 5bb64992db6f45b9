"""Index orders by (mode, created_at) for the rate-limit check.

Why: RATE_LIMIT counts this mode's orders of the last hour before every trade. Without the index
that count reads every order the ledger ever held, so the order path slowed as the ledger aged.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_mode_created", "orders", ["mode", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_mode_created", table_name="orders")
