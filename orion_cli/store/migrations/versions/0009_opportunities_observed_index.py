"""Index opportunities by when they were scanned, for the prune every scan runs; drop the unread expiry index.

Why: each scan first forgets the opportunities scanned over a week ago, inside the write transaction
that every trade's checks and intents also wait for. Without an index on ``observed_at`` that delete
read the whole table: with a week of `scan --watch` behind it (a row per opportunity per minute) it
held the write lock for 35-110 ms per 200,000 rows, on every round. ``ix_opportunities_expires``
served no query (an opportunity is loaded by id and its expiry read from its record) and only cost
every scan's upserts a write.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_opportunities_observed", "opportunities", ["observed_at"])
    op.drop_index("ix_opportunities_expires", table_name="opportunities")


def downgrade() -> None:
    op.create_index("ix_opportunities_expires", "opportunities", ["expires_at"])
    op.drop_index("ix_opportunities_observed", table_name="opportunities")
