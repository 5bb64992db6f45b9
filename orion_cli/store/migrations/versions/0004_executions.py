"""Executions (one per idempotency key) and the loss breaker's persisted state.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("opportunity_id", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("size", sa.Numeric(28, 10), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_executions_status", "executions", ["mode", "status"])
    op.create_table(
        "breaker_state",
        sa.Column("mode", sa.String(8), primary_key=True),
        sa.Column("peak_equity", sa.Numeric(28, 10), nullable=True),
        sa.Column("warned_day", sa.String(10), nullable=True),
        sa.Column("tripped_kind", sa.String(16), nullable=True),
        sa.Column("tripped_at", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("breaker_state")
    op.drop_index("ix_executions_status", table_name="executions")
    op.drop_table("executions")
