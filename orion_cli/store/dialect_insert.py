"""The ``INSERT … ON CONFLICT`` builder of the ledger's own dialect, imported only for that dialect.

Why not both at the top of the modules that upsert: importing ``sqlalchemy.dialects.postgresql``
imports every PostgreSQL driver dialect SQLAlchemy ships (asyncpg, pg8000, psycopg2 and more), about
70 ms at the start of every command on a SQLite ledger, which never uses any of them. A PostgreSQL
ledger's engine has imported that package already when the first upsert is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.dialects.postgresql import Insert as PgInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert


def insert_for(dialect: str) -> Callable[[Table], SqliteInsert | PgInsert]:
    """``sqlite.insert`` for a SQLite ledger, ``postgresql.insert`` for any other (orion opens only those two)."""
    make: Callable[[Any], SqliteInsert | PgInsert]
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as make
    else:
        from sqlalchemy.dialects.postgresql import insert as make
    return make
