"""Record, per fill, the YES/NO pairs it netted on a netting venue (Kalshi).

Why: Kalshi nets YES against NO; a buy of one side while the other is held closes pairs, each
paying $1 into the venue's cash at once. The ledger closes them as the fill is recorded and moves
the cash by that dollar; a live report read before the fill and recorded after it must add it
back (``Ledger._unreported``), which only a per-fill record allows. Existing fills netted nothing
in the ledger: 0.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("netted", sa.Numeric(28, 10), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("netted")
