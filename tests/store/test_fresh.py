"""A new ledger is built at HEAD in one step (store/fresh.py): the same ledger the migrations build.

Every other test's new ledger now comes from the one step, so the migrations' own result from an empty
database is held here, on both backends, against it: the same tables, columns, keys, indexes and
constraints as the database reports them, and the same rows.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pgserver
import pytest
from sqlalchemy import inspect, text
from store.replayed import replay_migrations

from orion_cli.core.errors import StorageError
from orion_cli.store import fresh
from orion_cli.store.db import HEAD_REVISION, Database, open_database


@pytest.fixture
def replayed_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second empty database beside ``db_url``'s, on the same backend."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'replayed.db'}"
        return
    server: pgserver.PgServer = request.getfixturevalue("pg_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


def _schema(db: Database) -> dict[str, Any]:
    """The schema as the database reports it, in declaration order where it has one."""
    with db.engine.connect() as conn:
        insp = inspect(conn)
        out: dict[str, Any] = {}
        for table in sorted(insp.get_table_names()):
            out[table] = {
                "columns": [(c["name"], repr(c["type"]), c["nullable"], c.get("default"))
                            for c in insp.get_columns(table)],
                "primary_key": insp.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]), _partial(i))
                                  for i in insp.get_indexes(table)),
                "unique": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
                "foreign_keys": insp.get_foreign_keys(table),
                "checks": sorted(c["sqltext"] for c in insp.get_check_constraints(table)),
            }
        return out


def _partial(index: Any) -> str:
    """A partial index's condition as the database reports it ("" for a whole-table index)."""
    where = next((v for k, v in index.get("dialect_options", {}).items() if k.endswith("_where")), None)
    return "" if where is None else str(where)


def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows; the ledger id, random in each ledger, stands as its shape."""
    with db.engine.connect() as conn:
        out = {}
        for table in sorted(inspect(conn).get_table_names()):
            rows = [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
            out[table] = sorted(tuple(("<32 hex>" if re.fullmatch(r"[0-9a-f]{32}", str(v)) and r[0] == "ledger_id"
                                       else v) for v in r) for r in rows)
        return out


def test_a_new_ledger_is_the_ledger_the_migrations_build(db_url: str, replayed_url: str) -> None:
    made = open_database(db_url)  # a new ledger: the one step
    replay_migrations(replayed_url)
    replayed = open_database(replayed_url)
    try:
        assert _schema(made) == _schema(replayed)
        assert _rows(made) == _rows(replayed)
        assert _rows(made)["alembic_version"] == [(HEAD_REVISION,)]
        with made.engine.connect() as conn:
            ids = conn.execute(text("SELECT value FROM orion_meta WHERE key = 'ledger_id'")).scalars().all()
        with replayed.engine.connect() as conn:
            other = conn.execute(text("SELECT value FROM orion_meta WHERE key = 'ledger_id'")).scalars().all()
        assert len(ids) == 1 and len(other) == 1 and ids != other  # each ledger its own
    finally:
        made.dispose()
        replayed.dispose()


def test_a_new_ledger_whose_creation_fails_is_left_empty_and_made_by_the_next_open(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One transaction: a failure after the tables were created (here the ledger id's draw) leaves no
    table behind, not a ledger without its marker, anchor or version that every later open refuses."""

    def fail(_n: int) -> str:
        raise RuntimeError("the ledger id could not be drawn")

    with monkeypatch.context() as patched:
        patched.setattr(fresh.secrets, "token_hex", fail)
        with pytest.raises(RuntimeError, match="could not be drawn"):
            open_database(db_url)
    bare = open_database(db_url, migrate=False)
    try:
        with bare.engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        bare.dispose()
    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
    finally:
        db.dispose()


def _refused_as_foreign_and_left(db_url: str, create_view: str) -> None:
    """``create_view`` run in the empty database ``db_url``; then opening it as a ledger is refused as foreign
    and changes nothing."""
    sqlite = db_url.startswith("sqlite")

    def objects() -> list[tuple[str, str]]:
        if sqlite:
            with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as conn:
                return sorted(conn.execute("SELECT type, name FROM sqlite_master").fetchall())
        bare = open_database(db_url, migrate=False)
        try:
            with bare.engine.connect() as conn:
                return sorted((str(kind), str(name)) for kind, name in conn.execute(text(
                    "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema()")))
        finally:
            bare.dispose()

    if sqlite:
        with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as conn:
            conn.execute(create_view)
            conn.commit()
    else:
        bare = open_database(db_url, migrate=False)
        try:
            with bare.engine.begin() as conn:
                conn.execute(text(create_view))
        finally:
            bare.dispose()
    before = objects()
    assert len(before) == 1, before
    with pytest.raises(StorageError) as caught:
        open_database(db_url)
    assert caught.value.reason == "storage_foreign"
    assert "tables or views that are not orion's" in str(caught.value)
    assert objects() == before


@pytest.mark.parametrize("create_view", ["CREATE VIEW positions AS SELECT 1 AS size",
                                         "CREATE VIEW desk_report AS SELECT 1 AS size"],
                         ids=["named like a ledger table", "of its own name"])
def test_a_database_holding_only_a_view_is_refused_as_foreign_and_left_as_it_was(db_url: str,
                                                                                  create_view: str) -> None:
    """The count of tables that finds a database empty did not see views. A view named ``positions`` made the
    new ledger's ``CREATE TABLE`` fail, refused as "may be corrupt" (``storage_corrupt``), which might lead a
    trader to restore or delete a healthy database; a view of another name had orion's tables made beside it.
    Either way the database is not orion's: ``storage_foreign``, nothing created."""
    _refused_as_foreign_and_left(db_url, create_view)


@pytest.mark.postgres
@pytest.mark.parametrize("create", [
    "CREATE MATERIALIZED VIEW positions AS SELECT 1 AS size",
    "CREATE SEQUENCE orders",
    "CREATE TYPE fills AS (size numeric)",
    "CREATE EXTENSION IF NOT EXISTS file_fdw; CREATE SERVER orion_test_files FOREIGN DATA WRAPPER file_fdw; "
    "CREATE FOREIGN TABLE positions (size numeric) SERVER orion_test_files OPTIONS (filename '/dev/null')",
], ids=["materialized view", "sequence", "composite type", "foreign table"])
def test_a_postgresql_database_holding_only_another_relation_is_refused_as_foreign(pg_server: Any,
                                                                                   create: str) -> None:
    """PostgreSQL's inspector lists tables (and views) apart from the other relations a table's name can clash
    with: each of them alone made the database look empty (found in review, for foreign tables)."""
    url = pg_server.create_database()
    try:
        _refused_as_foreign_and_left(url, create)
    finally:
        pg_server.drop_database(url)


def test_a_new_sqlite_ledger_is_made_without_loading_alembic_or_the_postgresql_dialect(tmp_path: Path) -> None:
    """The first command on a new machine paid for importing Alembic (about 0.2 s) to replay migrations,
    and with it SQLAlchemy's PostgreSQL dialect package."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = ("import sys; from orion_cli.store.db import open_database; "
            f"open_database({url!r}).dispose(); "
            "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('alembic')} | "
            "{m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql')}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
