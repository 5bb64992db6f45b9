"""The audit log's head anchor: the newest (seq, hash), kept outside the append-only table.

A hash chain alone cannot reveal that its newest events were deleted (what remains is still a valid
chain). Every append also records its link here, in the same transaction, and ``audit verify``
checks that the chain ends exactly at the anchor. Every ledger has one from its first migration on
(0011; a new one's names the empty log), so a missing anchor is itself a broken log.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.sql import Executable

from orion_cli.core.plain_text import ascii_digits
from orion_cli.store.dialect_insert import insert_for
from orion_cli.store.prepared import Prepared, defer
from orion_cli.store.seen_head import HEAD_SET
from orion_cli.store.tables import orion_meta

HEAD_KEY = "audit_head"


def _upsert_head(dialect: str) -> Executable:
    # One statement whether or not the anchor exists (migration 0011 writes it for every ledger; a test
    # deletes it), so it needs no result and can go out with the other writes of a batch.
    make = insert_for(dialect)
    stmt = make(orion_meta).values(key=HEAD_KEY, value=bindparam("head", type_=orion_meta.c.value.type))
    return stmt.on_conflict_do_update(index_elements=[orion_meta.c.key], set_={"value": stmt.excluded.value})


_SET_HEAD = Prepared(_upsert_head, name="set_audit_head")


def set_head(conn: Connection, seq: int, digest: str) -> None:
    """Anchor the newest link; inside :func:`~orion_cli.store.prepared.deferred`, with its other writes."""
    defer(conn, _SET_HEAD, {"head": f"{seq}:{digest}"})
    conn.info[HEAD_SET] = (seq, digest)


def get_head(conn: Connection) -> tuple[int, str] | None:
    """The anchored (seq, hash), or None when the anchor is missing: every ledger has one since migration
    0011, so the anchor was deleted (``audit verify`` reports the log broken)."""
    row = conn.execute(select(orion_meta.c.value).where(orion_meta.c.key == HEAD_KEY)).first()
    return None if row is None else parse_head(row[0])


def parse_head(value: object) -> tuple[int, str]:
    """The anchor's ``"seq:hash"`` text as (seq, hash); seq -1 when it is not a number (tampered).
    ASCII digits only, at most 18 (within a 64-bit integer, as the column it is compared with): ``isdigit``
    also takes "²", which ``int`` refuses, and a longer number overflowed the database's integer or ``int``'s
    4,300-digit limit. Each was an internal error of every event's write, ``orion halt``'s included."""
    seq_text, _, digest = str(value).partition(":")
    readable = ascii_digits(seq_text) and len(seq_text) <= 18
    return (int(seq_text), digest) if readable else (-1, digest)
