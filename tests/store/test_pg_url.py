"""PostgreSQL URLs: a password holding "@", the URL's own options, per-schema locks, and failure hints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from orion_cli.core.errors import StorageError
from orion_cli.core.redact import scrub_url_secrets, url_secrets
from orion_cli.core.runlock import RunLock, RunLocked
from orion_cli.store.db import PG_WRITE_LOCK, open_database, pg_connect_args, pg_open_error, pg_write_lock_sql

# -- a password holding an unescaped "@" --------------------------------------------------------

PLANTED = "hunter@Canary2024Secret"


def _orion(args: list[str], home: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION")}
    env.update({"ORION_HOME": str(home / "orion"), "HOME": str(home), "NO_COLOR": "1",
                "ORION__LOGGING__FILE": str(home / "orion.log"), **(extra_env or {})})
    return subprocess.run([sys.executable, "-m", "orion_cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("via", ["--db", "ORION__DATABASE__URL"])
def test_a_password_with_an_unescaped_at_is_refused_before_connecting_and_never_shown(tmp_path: Path,
                                                                                       via: str) -> None:
    """Found by a black-box run: the driver ended the password at its first "@" and resolved the rest as the
    host, so ``failed to resolve host 'Canary2024Secret@127.0.0.1'`` went to stderr, JSON and the log file."""
    from pgserver import free_port

    url = f"postgresql://orion:{PLANTED}@127.0.0.1:{free_port()}/orion"
    args, env = (["--db", url], None) if via == "--db" else ([], {"ORION__DATABASE__URL": url})
    done = _orion([*args, "--json", "init"], tmp_path, env)
    log = (tmp_path / "orion.log").read_text() if (tmp_path / "orion.log").exists() else ""
    said = done.stdout + done.stderr + log
    assert done.returncode == 3, said
    for piece in ("Canary2024Secret", "hunter", "resolve host"):
        assert piece not in said, piece
    record = json.loads([line for line in (done.stdout + done.stderr).splitlines() if line.startswith("{")][-1])
    assert record["reason"] == "storage_url"
    assert "%40" in done.stderr and "***" not in done.stderr.split("hint:", 1)[1].splitlines()[0]


@pytest.mark.parametrize("userinfo", ["orion:hunter@2024Secret", "orion:a@bcd/efg", "orion:pw?x@yzw"])
def test_every_form_of_an_at_in_the_password_is_refused(userinfo: str) -> None:
    with pytest.raises(StorageError) as refused:
        open_database(f"postgresql://{userinfo}@127.0.0.1:1/orion", migrate=False)
    assert refused.value.reason == "storage_url"
    assert "%40" in (refused.value.hint or "")


def test_a_percent_encoded_at_in_the_password_is_taken() -> None:
    db = open_database("postgresql://orion:hunter%402024Secret@127.0.0.1:1/orion", migrate=False)
    try:
        assert make_url(db.url).password == "hunter@2024Secret"
    finally:
        db.dispose()


def test_a_drivers_message_is_scrubbed_of_every_part_of_the_password() -> None:
    url = f"postgresql+psycopg://orion:{PLANTED}@127.0.0.1:55441/orion?sslpassword=KeyPass99"
    assert "Canary2024Secret" in url_secrets(url) and "KeyPass99" in url_secrets(url)
    said = scrub_url_secrets("failed to resolve host 'Canary2024Secret@127.0.0.1'; KeyPass99", url)
    assert said == "failed to resolve host '***@127.0.0.1'; ***"


# -- the URL's own options and connect_timeout ------------------------------------------------


def test_the_urls_options_and_connect_timeout_are_kept_with_orions_lock_timeout() -> None:
    assert pg_connect_args({}, 500) == {"connect_timeout": 10, "options": "-c lock_timeout=500"}
    assert pg_connect_args({"options": "-csearch_path=app_a", "connect_timeout": "2"}, 500) == {
        "options": "-csearch_path=app_a -c lock_timeout=500"}
    # A lock_timeout the URL sets is its own.
    assert pg_connect_args({"options": "-c lock_timeout=99"}, 500) == {"connect_timeout": 10,
                                                                         "options": "-c lock_timeout=99"}


def test_connect_timeout_in_the_url_is_honoured() -> None:
    """``?connect_timeout=1`` against a loopback port that accepts and never answers gives up in about a
    second; orion's own 10 s replaced it."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StorageError) as info:
            open_database(f"postgresql://orion@127.0.0.1:{port}/orion?connect_timeout=1")
        assert time.monotonic() - started < 5, info.value.message


@pytest.fixture
def two_schemas(pg_server: Any) -> Iterator[tuple[str, str]]:
    url = pg_server.create_database("schemas")
    name = url.rsplit("/", 1)[1]
    with pg_server.connect(name) as conn:
        conn.execute("CREATE SCHEMA app_a")
        conn.execute("CREATE SCHEMA app_b")
    try:
        yield (f"{url}?options=-csearch_path%3Dapp_a", f"{url}?options=-csearch_path%3Dapp_b")
    finally:
        pg_server.drop_database(url)


@pytest.mark.postgres
def test_two_ledgers_in_two_schemas_of_one_database_are_separate(two_schemas: tuple[str, str],
                                                                  pg_server: Any) -> None:
    """Found by a black-box run: the URL's options were replaced by orion's, so both ledgers' tables went to
    ``public`` and halting one halted the other."""
    from orion_cli.risk.halt import KillSwitch

    a, b = (open_database(u) for u in two_schemas)
    try:
        KillSwitch(a).engage("only ledger a")
        assert KillSwitch(a).status().halted
        assert not KillSwitch(b).status().halted
        with a.read() as conn:
            assert conn.execute(text("SELECT current_setting('lock_timeout')")).scalar_one() == "10s"
    finally:
        a.dispose()
        b.dispose()
    with pg_server.connect(two_schemas[0].rsplit("/", 1)[1].split("?")[0]) as conn:
        where = {r[0] for r in conn.execute(
            "SELECT schemaname FROM pg_tables WHERE tablename = 'halt_state'").fetchall()}
    assert where == {"app_a", "app_b"}


# -- advisory locks per ledger ---------------------------------------------------------------


def test_a_ledger_in_public_keeps_the_lock_key_older_orions_take() -> None:
    assert pg_write_lock_sql({}) == f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})"
    assert pg_write_lock_sql({"orion.pg_lock_scope": "app_a"}) != pg_write_lock_sql({})
    assert pg_write_lock_sql({"orion.pg_lock_scope": "app_a"}) != pg_write_lock_sql({"orion.pg_lock_scope": "app_b"})


@pytest.mark.postgres
def test_writers_of_ledgers_in_two_schemas_do_not_wait_on_each_other(two_schemas: tuple[str, str]) -> None:
    a = open_database(two_schemas[0])
    b = open_database(two_schemas[1], busy_timeout_ms=300)
    a2 = open_database(two_schemas[0], busy_timeout_ms=300)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with a.write() as conn:
            conn.execute(text("SELECT 1"))
            holding.set()
            release.wait(10)

    writer = threading.Thread(target=hold)
    writer.start()
    try:
        assert holding.wait(10)
        with b.write() as conn:  # another ledger: not held up
            conn.execute(text("SELECT 1"))
        with pytest.raises(StorageError) as busy, a2.write() as conn:  # the same ledger still is
            conn.execute(text("SELECT 1"))
        assert busy.value.reason == "storage_busy"
        # Run locks (reconcile, execution keys) likewise.
        with RunLock(a, "reconcile"):
            with RunLock(b, "reconcile"):
                pass
            with pytest.raises(RunLocked), RunLock(a2, "reconcile"):
                pass
    finally:
        release.set()
        writer.join(10)
        for db in (a, b, a2):
            db.dispose()


# -- failure hints by cause --------------------------------------------------------------------


def _no_secret(err: StorageError, *secrets: str) -> None:
    said = f"{err.message} {err.hint}"
    for s in secrets:
        assert s not in said
    assert "***" not in (err.hint or "")


@pytest.mark.postgres
def test_a_missing_database_is_said_to_be_missing_and_its_name_is_no_way_to_the_password(pg_server: Any) -> None:
    url = f"postgresql://orion:Canary_pw_77@127.0.0.1:{pg_server.port}/Canary_pw_77"
    with pytest.raises(StorageError) as info:
        open_database(url)
    assert info.value.reason == "storage_no_database", info.value.message
    assert 'database "***" does not exist' in info.value.message
    assert "createdb" in (info.value.hint or "") and "ORION__DATABASE__URL" in (info.value.hint or "")


@pytest.mark.postgres
def test_a_user_without_create_on_the_schema_is_told_which_privilege(pg_server: Any) -> None:
    url = pg_server.create_database("noperm")
    name = url.rsplit("/", 1)[1]
    with pg_server.connect(name) as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE orion_nocreate LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    import orion_cli.store.db as store_db

    made: list[Any] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        made.append(real_create_engine(*args, **kwargs))
        return made[-1]

    real_create_engine = store_db.create_engine
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(store_db, "create_engine", recording)
            with pytest.raises(StorageError) as info:
                open_database(f"postgresql://orion_nocreate:Canary_pw_78@127.0.0.1:{pg_server.port}/{name}")
        assert info.value.reason == "storage_denied", info.value.message
        assert "GRANT CREATE ON SCHEMA" in (info.value.hint or "")
        _no_secret(info.value, "Canary_pw_78")
        # Found merging: a refused open left its engine, with the connection it had pooled, to the garbage
        # collector, whose ResourceWarning ("deleted while still open") failed an unrelated test.
        assert [engine.pool.checkedin() for engine in made] == [0]
    finally:
        pg_server.drop_database(url)


@pytest.mark.postgres
def test_a_search_path_naming_no_schema_that_exists_is_said_so(two_schemas: tuple[str, str]) -> None:
    with pytest.raises(StorageError) as info:
        open_database(two_schemas[0].replace("app_a", "app_c"))
    assert info.value.reason == "storage_no_schema", info.value.message
    assert "CREATE SCHEMA" in (info.value.hint or "")


@pytest.mark.postgres
def test_ssl_required_of_a_server_without_it_is_said_to_be_ssl(pg_server: Any) -> None:
    with pytest.raises(StorageError) as info:
        open_database(f"postgresql://orion:Canary_pw_79@127.0.0.1:{pg_server.port}/postgres?sslmode=require")
    assert info.value.reason == "storage_ssl", info.value.message
    assert "sslmode" in (info.value.hint or "")
    _no_secret(info.value, "Canary_pw_79")


@pytest.mark.parametrize(("state", "said", "reason"), [
    ("28P01", 'connection failed: FATAL:  password authentication failed for user "orion"', "storage_auth"),
    (None, 'connection failed: FATAL:  password authentication failed for user "orion"', "storage_auth"),
    (None, 'connection failed: FATAL:  no pg_hba.conf entry for host "10.0.0.5", user "orion"', "storage_auth"),
    (None, 'connection failed: FATAL:  database "orion" does not exist', "storage_no_database"),
    (None, 'connection failed: FATAL:  role "orion_database" does not exist', "storage_auth"),
    ("42501", "permission denied for schema public", "storage_denied"),
    (None, "connection failed: server does not support SSL, but SSL was required", "storage_ssl"),
    (None, "connection failed: Connection refused", "storage_unreachable"),
    (None, 'connection failed: connection to server at "ssl-db.internal" (10.0.0.9), port 5432 failed: '
           'Connection refused', "storage_unreachable"),
    (None, 'connection failed: root certificate file "/root/.postgresql/root.crt" does not exist', "storage_ssl"),
    ("3F000", "no schema has been selected to create in", "storage_no_schema"),
])
def test_each_cause_has_its_own_reason_and_a_hint_without_the_password(state: str | None, said: str,
                                                                        reason: str) -> None:
    exc = SimpleNamespace(orig=SimpleNamespace(sqlstate=state))
    err = pg_open_error(exc, "postgresql+psycopg://orion:***@db/orion", said,  # type: ignore[arg-type]
                        make_url("postgresql+psycopg://orion:Canary_pw_80@db/orion"))
    assert err.reason == reason
    assert "ORION__DATABASE__URL" in (err.hint or "")
    _no_secret(err, "Canary_pw_80")
