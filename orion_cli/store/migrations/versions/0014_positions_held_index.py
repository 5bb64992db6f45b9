"""Index the positions still held, apart from the closed ones every settlement leaves behind; say which
older orion may still use the ledger.

Why: a closed position keeps its row (size 0, its realised P&L), so after a year of paired trades a
ledger holds tens of thousands of them beside a handful held. Every trade's checks and the loss
breaker read the held ones under the writers' lock, and read them by scanning every row of the mode:
19 ms per trade at 60,000 rows on SQLite, growing with the ledger's age. A partial index holds only
the rows with a size, in the order they are read.

And ``compatible_from`` in ``orion_meta``: the oldest schema revision whose orion may still use the
ledger (orion_cli.store.db.COMPATIBLE_FROM_KEY). An index changes nothing an older orion reads or writes,
so 0013; a later migration that does sets its own revision there, one that only adds leaves it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# As orion_cli.store.tables creates it on a new ledger (a migration keeps its own copy: the code may move on).
CREATE = "CREATE INDEX ix_positions_held ON positions (mode, venue, market_id, side) WHERE size <> 0"


# As orion_cli.store.db names it; the oldest revision whose orion may use a ledger at this one.
COMPATIBLE_FROM_KEY = "compatible_from"
COMPATIBLE_FROM = "0013"


def upgrade() -> None:
    op.execute(CREATE)
    meta = sa.table("orion_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(sa.delete(meta).where(meta.c.key == COMPATIBLE_FROM_KEY))
    op.execute(sa.insert(meta).values(key=COMPATIBLE_FROM_KEY, value=COMPATIBLE_FROM))


def downgrade() -> None:
    op.drop_index("ix_positions_held", table_name="positions")
    meta = sa.table("orion_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(sa.delete(meta).where(meta.c.key == COMPATIBLE_FROM_KEY))
