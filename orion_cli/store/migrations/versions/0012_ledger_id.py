"""Give every ledger its own random id: the salt of the client order ids it sends.

Why: client order ids were derived from the idempotency key alone, and Kalshi keeps a client order id
per account for ever, answering a reuse with 409 ``order_already_exists``. A second ledger trading the
same accounts with the same key (another ``--db``, a fresh ``init``, the default ``op-<id>`` key of the
same opportunity in the same minute) sent the first ledger's id and was answered with the first
ledger's order, which it adopted as its own (found by a black-box run). From this revision on the
ids of new orders are derived from the key *and* this id (``execution.executor.client_order_id``);
an order committed before it keeps, and is looked up by, the id stored with it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# As orion_cli.store.meta writes it (a migration keeps its own copy: the code may move on).
LEDGER_ID_KEY = "ledger_id"


def upgrade() -> None:
    conn = op.get_bind()
    meta = sa.table("orion_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    if conn.execute(sa.select(meta.c.value).where(meta.c.key == LEDGER_ID_KEY)).first() is not None:
        return
    # Kept if written meanwhile (orion_cli.store.meta makes one for a ledger whose row is missing): ON
    # CONFLICT, which both dialects take, never a unique violation (as 0011's anchor once failed).
    conn.execute(sa.text("INSERT INTO orion_meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO NOTHING"),
                 {"key": LEDGER_ID_KEY, "value": secrets.token_hex(16)})


def downgrade() -> None:
    # Orders sent since carry ids salted with it; an older orion ignores the row. Left as it is.
    pass
