"""The trading ledger: orders, fills, positions, balances and start-of-day equity.

Money columns are NUMERIC(28, 10) (see :class:`orion_cli.store.tables.Money` for how SQLite keeps
them exact); times are ISO-8601 UTC text like the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Numeric(28, 10), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(100), primary_key=True),
        sa.Column("execution_id", sa.String(64), nullable=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("venue", sa.String(16), nullable=False),
        sa.Column("market_id", sa.String(200), nullable=False),
        sa.Column("token_id", sa.String(100), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("action", sa.String(4), nullable=False),
        _money("size"),
        _money("limit_price"),
        sa.Column("time_in_force", sa.String(24), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("venue_order_id", sa.String(200), nullable=False),
        _money("filled_size"),
        _money("avg_fill_price", nullable=True),
        _money("fees"),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_orders_mode_status", "orders", ["mode", "status"])
    op.create_index("ix_orders_execution", "orders", ["execution_id"])
    op.create_index("ix_orders_venue_order", "orders", ["venue", "venue_order_id"])
    op.create_table(
        "fills",
        sa.Column("mode", sa.String(8), primary_key=True),
        sa.Column("venue", sa.String(16), primary_key=True),
        sa.Column("fill_id", sa.String(200), primary_key=True),
        sa.Column("client_order_id", sa.String(100), nullable=False),
        sa.Column("venue_order_id", sa.String(200), nullable=False),
        sa.Column("market_id", sa.String(200), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("action", sa.String(4), nullable=False),
        _money("size"),
        _money("price"),
        _money("fee"),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("is_taker", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_fills_order", "fills", ["client_order_id"])
    op.create_index("ix_fills_ts", "fills", ["mode", "ts"])
    op.create_table(
        "positions",
        sa.Column("mode", sa.String(8), primary_key=True),
        sa.Column("venue", sa.String(16), primary_key=True),
        sa.Column("market_id", sa.String(200), primary_key=True),
        sa.Column("side", sa.String(4), primary_key=True),
        _money("size"),
        _money("cost"),
        _money("fees"),
        _money("realized_pnl"),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "balances",
        sa.Column("mode", sa.String(8), primary_key=True),
        sa.Column("venue", sa.String(16), primary_key=True),
        _money("available"),
        _money("reserved"),
        _money("total"),
        sa.Column("as_of", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_table(
        "equity_snapshots",
        sa.Column("mode", sa.String(8), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        _money("start_equity"),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("equity_snapshots")
    op.drop_table("balances")
    op.drop_table("positions")
    op.drop_index("ix_fills_ts", table_name="fills")
    op.drop_index("ix_fills_order", table_name="fills")
    op.drop_table("fills")
    op.drop_index("ix_orders_venue_order", table_name="orders")
    op.drop_index("ix_orders_execution", table_name="orders")
    op.drop_index("ix_orders_mode_status", table_name="orders")
    op.drop_table("orders")
