"""A new ledger built at the current schema in one transaction, instead of by replaying every migration.

Why: replaying the migrations into an empty database took 41–49 ms of the first command on every new
ledger (Alembic loads each script; on SQLite the batch operations of 0010 and 0013 rebuild tables that
are still empty). ``tables.py`` declares the schema the migrations build, so a new ledger is that
metadata created, the rows the migrations seed, and Alembic's version row at HEAD. The two are held
equal on both backends, table by table and row by row, by tests/store/test_fresh.py; a ledger that
exists at an older revision is still migrated one step at a time.
"""

from __future__ import annotations

import secrets
from functools import cache

from sqlalchemy import Column, Connection, MetaData, Numeric, PrimaryKeyConstraint, String, Table, insert

from orion_cli.store.audit import GENESIS_HASH
from orion_cli.store.audit_head import HEAD_KEY
from orion_cli.store.db import COMPATIBLE_FROM, COMPATIBLE_FROM_KEY
from orion_cli.store.meta import LEDGER_ID_KEY
from orion_cli.store.tables import HELD_POSITIONS_INDEX, Money, halt_state, metadata, orion_meta

# Alembic's own version table, as its MigrationContext creates it (the test compares it too).
_alembic_version = Table("alembic_version", MetaData(), Column("version_num", String(32), nullable=False),
                         PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


@cache
def _as_migrated() -> MetaData:
    """``tables.py``'s declarations with each money column as the migrations create it on every backend,
    NUMERIC(28, 10). (The code binds a SQLite money value as its integer units, through BIGINT: a NUMERIC
    column keeps such an integer as it is, and BIGINT would be another column type than every migrated
    ledger's.)"""
    migrated = MetaData()
    for table in metadata.sorted_tables:
        for column in table.to_metadata(migrated).columns:
            if isinstance(column.type, Money):
                column.type = Numeric(28, 10)
    return migrated


def create_at_head(conn: Connection, head: str) -> None:
    """In ``conn``'s open transaction, on a database that holds no table: the whole schema, the seeded
    rows (migrations 0001, 0011, 0012 and 0014) and the version ``head``. The caller commits, once."""
    # Without looking first: anything already named like one of them that the caller's count of relations does
    # not see (a PostgreSQL enum or domain type) fails the creation, and the transaction with it, rather than
    # being taken as that table.
    _as_migrated().create_all(conn, checkfirst=False)
    conn.exec_driver_sql(HELD_POSITIONS_INDEX)  # 0014 (tables.py says why it is not declared there)
    conn.execute(insert(orion_meta), [
        {"key": "application", "value": "orion"},  # 0001: the marker of an orion ledger
        {"key": HEAD_KEY, "value": f"0:{GENESIS_HASH}"},  # 0011: the anchor of an empty audit log
        {"key": LEDGER_ID_KEY, "value": secrets.token_hex(16)},  # 0012: this ledger's own id
        {"key": COMPATIBLE_FROM_KEY, "value": COMPATIBLE_FROM},  # 0014: the oldest revision that may use it
    ])
    conn.execute(insert(halt_state).values(id=1, halted=False, reason="", kind="manual", since=None, by=""))  # 0001
    _alembic_version.create(conn)
    conn.execute(insert(_alembic_version).values(version_num=head))
