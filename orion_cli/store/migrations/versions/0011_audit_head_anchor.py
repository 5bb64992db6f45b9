"""Anchor every audit log: the head anchor written for a log that has none.

Why: ``audit verify`` took a log without its head anchor for one written before anchors, and called
it intact, so deleting the newest events together with the anchor (or every event with it) passed
(found by a black-box run). From this revision on every ledger has its anchor: a new one's names the
empty log (seq 0, the genesis hash), an older one's the newest event it holds now (a deletion before
this upgrade cannot be told from here). So a log without its anchor is a broken one.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# As orion_cli.store.audit_head and .audit write them (a migration keeps its own copy: the code may move on).
HEAD_KEY = "audit_head"
GENESIS_HASH = "0" * 64


def upgrade() -> None:
    conn = op.get_bind()
    meta = sa.table("orion_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    if conn.execute(sa.select(meta.c.value).where(meta.c.key == HEAD_KEY)).first() is not None:
        return
    events = sa.table("audit_events", sa.column("seq", sa.BigInteger), sa.column("hash", sa.String))
    newest = conn.execute(sa.select(events.c.seq, events.c.hash).order_by(events.c.seq.desc()).limit(1)).first()
    head = f"{int(newest[0])}:{newest[1]}" if newest is not None else f"0:{GENESIS_HASH}"
    # An older orion writing its first event between the read above and this insert writes the anchor
    # itself (a newer one than ours): kept. A plain insert failed there on PostgreSQL, as a unique
    # violation reported as an unreachable server (found in review). Both dialects take ON CONFLICT.
    conn.execute(sa.text("INSERT INTO orion_meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO NOTHING"),
                 {"key": HEAD_KEY, "value": head})


def downgrade() -> None:
    # The anchor is an ordinary row every append has kept since before this revision: left as it is.
    pass
