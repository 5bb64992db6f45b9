"""The upserts build for the ledger's own dialect, and a SQLite ledger never loads PostgreSQL's package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database
from orion_cli.store.dialect_insert import insert_for
from orion_cli.store.meta import ledger_id
from orion_cli.store.tables import orion_meta


def test_each_dialect_gets_its_own_insert() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    assert isinstance(insert_for("sqlite")(orion_meta), sqlite.Insert)
    assert isinstance(insert_for("postgresql")(orion_meta), postgresql.Insert)


def test_the_upserts_write_on_either_engine(db_url: str) -> None:
    db = open_database(db_url)
    try:
        with db.write() as conn:
            conn.execute(text("DELETE FROM orion_meta WHERE key = 'ledger_id'"))
        made = ledger_id(db)  # inserted anew: no row
        assert ledger_id(db) == made  # kept: the row exists
        first, second = AuditLog(db).record("test.actor"), AuditLog(db).record("test.actor")  # the anchor, moved
        with db.read() as conn:
            head = conn.execute(text("SELECT value FROM orion_meta WHERE key = 'audit_head'")).scalar_one()
        assert head == f"{second.seq}:{second.hash}" and second.seq == first.seq + 1
        assert AuditLog(db).verify().ok
    finally:
        db.dispose()


def test_a_sqlite_ledger_never_imports_the_postgresql_dialect(tmp_path: Path) -> None:
    """Found while timing the suite: both upserts imported ``sqlalchemy.dialects.postgresql`` at the top,
    and with it every PostgreSQL driver dialect SQLAlchemy ships: about 70 ms of every command's start."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    open_database(url).dispose()  # made here: a new ledger's migration (alembic) loads every dialect
    code = (
        "import sys\n"
        "from orion_cli.store.db import open_database\n"
        "from orion_cli.store.meta import ledger_id\n"
        "from orion_cli.store.audit import AuditLog\n"
        f"db = open_database({url!r})\n"
        "ledger_id(db)\n"
        "AuditLog(db).record('test.actor')\n"
        "assert AuditLog(db).verify().ok\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql'))\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
