"""Foundation: meta marker, audit log, halt state.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orion_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("venue", sa.String(16), nullable=True),
        sa.Column("market", sa.String(200), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_type_seq", "audit_events", ["type", "seq"])
    op.create_index("ix_audit_ts", "audit_events", ["ts"])
    op.create_table(
        "halt_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("since", sa.String(32), nullable=True),
        sa.Column("by", sa.Text(), nullable=False),
    )
    op.bulk_insert(
        sa.table("orion_meta", sa.column("key", sa.String), sa.column("value", sa.Text)),
        [{"key": "application", "value": "orion"}],
    )
    op.bulk_insert(
        sa.table(
            "halt_state",
            sa.column("id", sa.Integer),
            sa.column("halted", sa.Boolean),
            sa.column("reason", sa.Text),
            sa.column("kind", sa.String),
            sa.column("since", sa.String),
            sa.column("by", sa.Text),
        ),
        [{"id": 1, "halted": False, "reason": "", "kind": "manual", "since": None, "by": ""}],
    )


def downgrade() -> None:
    op.drop_table("halt_state")
    op.drop_index("ix_audit_ts", table_name="audit_events")
    op.drop_index("ix_audit_type_seq", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("orion_meta")
