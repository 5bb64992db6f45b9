"""The audit log's head anchor: the newest (seq, hash), kept outside the append-only table.

A hash chain alone cannot reveal that its newest events were deleted (what remains is still a valid
chain). Every append also records its link here, in the same transaction, and ``audit verify``
checks that the chain ends exactly at the anchor.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select, update

from orion_cli.store.tables import orion_meta

HEAD_KEY = "audit_head"


_UPDATE_HEAD = update(orion_meta).where(orion_meta.c.key == HEAD_KEY).values(value=bindparam("head"))


def set_head(conn: Connection, seq: int, digest: str) -> None:
    value = f"{seq}:{digest}"
    changed = conn.execute(_UPDATE_HEAD, {"head": value})
    if not changed.rowcount:
        conn.execute(insert(orion_meta).values(key=HEAD_KEY, value=value))


def get_head(conn: Connection) -> tuple[int, str] | None:
    """The anchored (seq, hash), or None for a log written before anchors (or by bulk tools)."""
    row = conn.execute(select(orion_meta.c.value).where(orion_meta.c.key == HEAD_KEY)).first()
    if row is None:
        return None
    seq_text, _, digest = str(row[0]).partition(":")
    return (int(seq_text), digest) if seq_text.isdigit() else (-1, digest)
