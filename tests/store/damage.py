"""Damage a SQLite ledger's pages in place, as a failing disk or a bad copy does: the tests of a
corrupt ledger (``test_db.py``, ``test_audit.py``, ``cli/test_halt_cli.py``) share it."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def damage_tables(path: Path, *tables: str) -> None:
    """Overwrite the b-tree page header of each table's root page (never page 1: the file's own header
    and schema stay intact, so the ledger still opens; the damage is met only when the table itself is
    read, not one of its indexes). Call with no connection open: the WAL is checkpointed first."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'").fetchall())
    finally:
        conn.close()
    with path.open("r+b") as fh:
        for table in tables:
            assert int(roots[table]) > 1, table
            fh.seek((int(roots[table]) - 1) * page_size)
            fh.write(b"\xff" * 200)
