"""The ledger's own id: a random value each ledger gets once (migration 0012), kept in ``orion_meta``.

It salts the client order ids that an execution committed before executions had their own nonce
commits later (a hedge retry, an unwind: ``execution.executor.client_order_id``), so that two ledgers
trading the same venue accounts with the same idempotency key send different ids: Kalshi keeps a client
order id per account for ever and answers a reuse with the order that holds it. Every newer execution
salts its ids with its own nonce instead, which a copy of the ledger does not share for a key it trades
anew.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, func, select

from orion_cli.store.db import Database
from orion_cli.store.dialect_insert import insert_for
from orion_cli.store.tables import orion_meta

LEDGER_ID_KEY = "ledger_id"


def read_ledger_id(conn: Connection) -> str | None:
    row = conn.execute(select(orion_meta.c.value).where(orion_meta.c.key == LEDGER_ID_KEY)).first()
    return None if row is None or not str(row[0]).strip() else str(row[0]).strip()


def ledger_id(db: Database) -> str:
    """This ledger's id. One missing (its row deleted by hand) is made anew: orders committed before
    keep the ids stored with them, and a new id only makes the next ones differ from every other
    ledger's as well."""
    with db.read() as conn:
        found = read_ledger_id(conn)
    if found is not None:
        return found
    with db.write() as conn:
        make = insert_for(conn.dialect.name)
        stmt = make(orion_meta).values(key=LEDGER_ID_KEY, value=secrets.token_hex(16))
        # Another process may make it first (kept), or the row may hold a blank value (replaced).
        conn.execute(stmt.on_conflict_do_update(index_elements=[orion_meta.c.key], set_={"value": stmt.excluded.value},
                                                where=func.trim(orion_meta.c.value) == ""))
        made = read_ledger_id(conn)
    assert made is not None
    return made
