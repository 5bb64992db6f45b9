"""A PostgreSQL ledger orion can connect to but not write: a role without the privileges, a read-only
database (a standby after a failover). Found by black-box review: `orion halt` said "unexpected internal
error" (exit 1, a ProgrammingError or InternalError) instead of "NOT halted" (exit 3) with the sentinel
file's hint, as SQLite's read-only file does; `scan`, `reconcile` and `trade --confirm` exited 1 too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orion_cli.cli.app import app

pytestmark = pytest.mark.postgres


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _error(result: Result) -> dict[str, Any]:
    return dict(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.fixture
def ledger(pg_server: Any, pg_migrated: str, isolated_home: Path) -> Iterator[tuple[str, str]]:
    """A migrated ledger holding the demo scan's opportunity: (its owner's URL, the opportunity's id)."""
    url = pg_server.create_database(template=pg_migrated)
    try:
        scan = run("--db", url, "scan", "--demo", "--jsonl")
        assert scan.exit_code == 0, scan.output
        yield url, json.loads(scan.stdout.splitlines()[0])["id"]
    finally:
        pg_server.drop_database(url)


def _role(pg_server: Any, url: str, name: str, *privileges: str) -> str:
    """``url`` as a new login role ``name`` granted ``privileges`` on every table (the cluster trusts
    loopback: no password)."""
    dbname = url.rsplit("/", 1)[1]
    with pg_server.connect(dbname) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
        conn.execute(f'GRANT {", ".join(privileges)} ON ALL TABLES IN SCHEMA public TO "{name}"')
    return url.replace("//orion@", f"//{name}@")


def _drop_role(pg_server: Any, url: str, name: str) -> None:
    dbname = url.rsplit("/", 1)[1]
    with pg_server.connect(dbname) as conn:
        conn.execute(f'DROP OWNED BY "{name}"')
        conn.execute(f'DROP ROLE "{name}"')


def _assert_refused(result: Result, reason: str) -> dict[str, Any]:
    assert result.exit_code == 3, result.output
    error = _error(result)
    assert error["reason"] == reason and error["exit_code"] == 3, error
    assert "internal" not in result.stderr
    return error


def test_a_select_only_role_is_refused_as_storage_and_halt_says_not_halted(
        pg_server: Any, ledger: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, op_id = ledger
    ro = _role(pg_server, url, "orion_ro", "SELECT")
    try:
        stop = tmp_path / "stop orion"
        monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(stop))
        halt = run("--db", ro, "halt", "--reason", "ro", "--json")
        error = _assert_refused(halt, "storage_denied")
        assert error["message"].startswith("NOT halted: ") and "permission denied" in error["message"], error
        assert f"create the file halt.sentinel_file names: '{stop}'" in halt.stderr
        assert "GRANT" in halt.stderr and "HALTED" not in halt.stderr
        monkeypatch.delenv("ORION__HALT__SENTINEL_FILE")
        for command in (["scan", "--demo"], ["reconcile", "--demo"], ["trade", op_id, "--demo", "--confirm"]):
            _assert_refused(run("--db", ro, *command, "--json"), "storage_denied")
        assert run("--db", url, "halt", "--status", "--json").exit_code == 0
        assert json.loads(run("--db", url, "halt", "--status", "--json").stdout)["halted"] is False
    finally:
        _drop_role(pg_server, url, "orion_ro")


def test_the_readers_read_with_a_select_only_role(pg_server: Any, ledger: tuple[str, str]) -> None:
    """README (Storage): a ledger kept for its audit history is still checked. The commands that only read
    it (audit verify and tail, halt --status, report) need no more than SELECT on a migrated ledger."""
    url, _op_id = ledger
    ro = _role(pg_server, url, "orion_reader", "SELECT")
    try:
        for command in (["audit", "verify"], ["audit", "tail", "-n", "1"], ["halt", "--status"], ["report"]):
            done = run("--db", ro, *command, "--json")
            assert done.exit_code == 0, (command, done.output)
        assert json.loads(run("--db", ro, "audit", "verify", "--json").stdout)["ok"] is True
    finally:
        _drop_role(pg_server, url, "orion_reader")


def test_a_read_only_database_is_refused_as_storage_and_halt_says_not_halted(
        pg_server: Any, ledger: tuple[str, str]) -> None:
    """A standby after a failover, or default_transaction_read_only: PostgreSQL's SQLSTATE 25006."""
    url, op_id = ledger
    dbname = url.rsplit("/", 1)[1]
    with pg_server.connect() as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
    halt = run("--db", url, "halt", "--reason", "failover", "--json")
    error = _assert_refused(halt, "storage_readonly")
    assert error["message"].startswith("NOT halted: ") and "read-only" in error["message"], error
    assert "no halt.sentinel_file is configured" in halt.stderr and "standby" in halt.stderr
    for command in (["scan", "--demo"], ["reconcile", "--demo"], ["trade", op_id, "--demo", "--confirm"]):
        _assert_refused(run("--db", url, *command, "--json"), "storage_readonly")


def test_the_privileges_the_readme_names_are_enough(pg_server: Any, ledger: tuple[str, str]) -> None:
    """README (Storage): SELECT, INSERT, UPDATE and DELETE on orion's tables run every command of a
    migrated ledger; CREATE is needed only to make or migrate one."""
    url, op_id = ledger
    rw = _role(pg_server, url, "orion_rw", "SELECT", "INSERT", "UPDATE", "DELETE")
    try:
        for command in (["scan", "--demo"], ["trade", op_id, "--demo", "--confirm"], ["reconcile", "--demo"],
                        ["halt", "--reason", "rw"], ["resume", "--yes"]):
            done = run("--db", rw, *command)
            assert done.exit_code == 0, (command, done.output)
    finally:
        _drop_role(pg_server, url, "orion_rw")


def test_a_role_that_may_not_create_the_schema_is_said_so_not_unreachable(pg_server: Any,
                                                                          isolated_home: Path) -> None:
    """A new database whose schema this role may not create tables in (PostgreSQL 15's default for
    public): the migration's "permission denied" was said as "cannot connect … is the server running?"."""
    url = pg_server.create_database()
    dbname = url.rsplit("/", 1)[1]
    try:
        with pg_server.connect(dbname) as conn:
            conn.execute("DROP ROLE IF EXISTS orion_nocreate")
            conn.execute("CREATE ROLE orion_nocreate LOGIN")
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        done = run("--db", url.replace("//orion@", "//orion_nocreate@"), "init", "--json")
        error = _assert_refused(done, "storage_denied")
        assert "cannot connect" not in error["message"] and "CREATE" in done.stderr, done.stderr
    finally:
        with pg_server.connect(dbname) as conn:
            conn.execute("DROP ROLE orion_nocreate")
        pg_server.drop_database(url)
