"""A SQLite ledger archived read-only (README, Storage: "Keep the old SQLite file, read-only, for its audit
history: `orion --db OLD audit verify` still checks it"). Found by review: every reader opened it as a writer
does, so `audit verify`, `audit tail` and `halt --status` exited 3 ("cannot open database … for writing") on a
read-only file, directory or mount, and in a writable directory left -wal and -shm files beside the archive.

The suite may run as root, who writes any file whatever its mode: a command meant to meet the permissions as a
user does runs under ``setpriv`` with root's permission override dropped (or as it is, when not root)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from unprivileged import as_user

from orion_cli.core.errors import StorageError
from orion_cli.store.db import HEAD_REVISION, open_database


def orion(*args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(as_user() if prefix is None else prefix), sys.executable, "-m", "orion_cli", *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _error(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(done.stderr.strip().splitlines()[-1]))


def _state(directory: Path) -> dict[str, str]:
    """Every file of ``directory`` and its digest."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture
def ledger(isolated_home: Path, tmp_path: Path) -> Path:
    """A ledger (closed, its log checkpointed) holding a halt and its audit events."""
    path = tmp_path / "live" / "orion.db"
    path.parent.mkdir()
    done = orion("--db", str(path), "init", "--json", prefix=[])
    assert done.returncode == 0, done.stderr
    halt = orion("--db", str(path), "halt", "--reason", "archived", "--json", prefix=[])
    assert halt.returncode == 0, halt.stderr
    assert {p.name for p in path.parent.iterdir()} == {"orion.db", "orion.db.migrate.lock"}
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Path]:
    """A directory for an archived ledger, made writable again afterwards (for tmp_path's clean-up)."""
    where = tmp_path / "archive"
    where.mkdir()
    yield where
    where.chmod(0o755)
    for p in where.iterdir():
        p.chmod(0o644)


READERS = (["audit", "verify"], ["audit", "tail", "-n", "1"], ["halt", "--status"], ["report"])


@pytest.mark.parametrize("layout", ["file", "both"])
def test_the_readers_read_an_archived_ledger_and_write_nothing_and_a_writer_still_refuses(
        ledger: Path, archive: Path, layout: str) -> None:
    """``file``: the file read-only (chmod 444) in a writable directory; ``both``: in a read-only directory
    (chmod 555) too."""
    old = archive / "old.db"
    shutil.copy(ledger, old)
    if layout in ("file", "both"):
        old.chmod(0o444)
    if layout in ("directory", "both"):
        archive.chmod(0o555)
    before = _state(archive)
    results = {" ".join(command): orion("--db", str(old), *command, "--json") for command in READERS}
    for command, done in results.items():
        assert done.returncode == 0, (command, done.stderr)
    verified = json.loads(results["audit verify"].stdout)
    assert verified["ok"] is True and verified["events"] >= 3, verified
    assert json.loads(results["audit tail -n 1"].stdout)["type"] == "config.loaded"
    status = json.loads(results["halt --status"].stdout)
    assert status["halted"] is True and status["reason"] == "archived", status
    # Nothing written to or beside the archive (no -wal, no -shm, no lock file).
    assert _state(archive) == before
    # A writer still refuses, as before: halt says NOT halted.
    halt = orion("--db", str(old), "halt", "--reason", "again", "--json")
    assert halt.returncode == 3, halt.stderr
    error = _error(halt)
    assert error["reason"] == "storage_readonly" and error["message"].startswith("NOT halted: "), error
    if layout != "file":  # in a writable directory a writer's probe may leave -wal/-shm files, as before
        assert _state(archive) == before


def test_a_writable_ledger_in_a_directory_the_reader_may_not_write_is_refused_not_read_as_unchanging(
        ledger: Path, archive: Path) -> None:
    """Review: a reader that could not make the -shm file (read access to a trader's directory, no write)
    read the ledger as immutable, though it has write permission and its owner may be committing: torn
    pages made `audit verify` say the chain was broken. It is refused, naming how to read it."""
    old = archive / "old.db"
    shutil.copy(ledger, old)
    archive.chmod(0o555)
    before = _state(archive)
    for command in READERS:
        done = orion("--db", str(old), *command, "--json")
        assert done.returncode == 3, (command, done.stderr)
        error = _error(done)
        assert error["reason"] == "storage_readonly" and "may be written" in error["message"], error
        assert "chmod a-w" in done.stderr, done.stderr
    assert _state(archive) == before


def _with_unread_log(ledger: Path, archive: Path, *, shm: bool) -> None:
    """``archive``/old.db with a write-ahead log holding a change its file lacks (the halt's reason), as a
    ledger copied while a process had it open; with or without the -shm file; all read-only."""
    live = sqlite3.connect(ledger, isolation_level=None)
    try:
        live.execute("PRAGMA wal_autocheckpoint = 0")
        live.execute("UPDATE halt_state SET reason = 'only in the log'")
        shutil.copy(ledger, archive / "old.db")
        shutil.copy(f"{ledger}-wal", archive / "old.db-wal")
        if shm:
            shutil.copy(f"{ledger}-shm", archive / "old.db-shm")
    finally:
        live.close()
    assert (archive / "old.db-wal").stat().st_size > 0
    for p in archive.iterdir():
        p.chmod(0o444)
    archive.chmod(0o555)


def test_an_archive_whose_log_holds_changes_and_cannot_be_read_is_refused_not_read_without_them(
        ledger: Path, archive: Path) -> None:
    """Without a -shm file, and none can be made, SQLite reads a WAL database read-only only as immutable,
    which ignores the -wal: the halt's reason in the log would have been read as the file's older one."""
    _with_unread_log(ledger, archive, shm=False)
    before = _state(archive)
    done = orion("--db", str(archive / "old.db"), "halt", "--status", "--json")
    assert done.returncode == 3, (done.stdout, done.stderr)
    error = _error(done)
    assert error["reason"] == "storage_readonly" and "old.db-wal holds" in error["message"], error
    assert "writable directory" in done.stderr and "only in the log" not in done.stdout
    assert _state(archive) == before


def test_an_archive_with_its_log_and_shm_is_read_with_the_log(ledger: Path, archive: Path) -> None:
    _with_unread_log(ledger, archive, shm=True)
    before = _state(archive)
    done = orion("--db", str(archive / "old.db"), "halt", "--status", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reason"] == "only in the log"
    assert _state(archive) == before


def _at_older_revision(path: Path) -> None:
    from store.test_db import _upgrade_to  # the migration tests' own way to leave a ledger at an older revision

    db = open_database(f"sqlite:///{path}", migrate=False)
    try:
        _upgrade_to(db, f"{int(HEAD_REVISION) - 1:04d}")
    finally:
        db.dispose()


def _revision(path: Path) -> str:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_an_archive_at_an_older_schema_is_not_migrated_and_says_so(isolated_home: Path, archive: Path) -> None:
    old = archive / "old.db"
    _at_older_revision(old)
    old.chmod(0o444)
    archive.chmod(0o555)
    before = _state(archive)
    done = orion("--db", str(old), "audit", "verify", "--json")
    assert done.returncode == 3, (done.stdout, done.stderr)
    error = _error(done)
    assert error["reason"] == "storage_readonly" and "not migrated" in error["message"], error
    assert "older than this orion's" in error["message"] and "copy" in done.stderr
    assert _state(archive) == before


def test_a_reader_of_a_writable_ledger_at_an_older_schema_still_migrates_it(isolated_home: Path,
                                                                           tmp_path: Path) -> None:
    """As every command did: a ledger the reader may write is brought to this orion's schema."""
    path = tmp_path / "older.db"
    _at_older_revision(path)
    assert _revision(path) != HEAD_REVISION
    done = orion("--db", str(path), "audit", "verify", "--json")
    assert done.returncode == 0, done.stderr
    assert _revision(path) == HEAD_REVISION


def test_a_read_only_open_of_a_ledger_nobody_may_write_refuses_writes_and_touches_nothing(
        isolated_home: Path, tmp_path: Path) -> None:
    """In-process (as root too: a chmod 444 file is read as immutable, and the reader's connection is
    query-only): a write through a reader's handle is refused as a read-only ledger, never made."""
    path = tmp_path / "archived" / "old.db"
    path.parent.mkdir()
    open_database(f"sqlite:///{path}").dispose()
    path.chmod(0o444)
    before = _state(path.parent)
    db = open_database(f"sqlite:///{path}", create=False, read_only=True)
    try:
        with db.read() as conn:
            assert conn.execute(text("SELECT halted FROM halt_state")).scalar_one() in (0, False)
        with pytest.raises(StorageError) as refused, db.write() as conn:
            conn.execute(text("UPDATE halt_state SET halted = 1"))
        assert refused.value.reason == "storage_readonly"
    finally:
        db.dispose()
    assert _state(path.parent) == before
    path.chmod(0o644)


def test_the_readers_read_a_ledger_on_a_read_only_mount(ledger: Path) -> None:
    """A real read-only bind mount, in a mount namespace of the child's own (root only)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to mount a directory read-only")
    home = ledger.parent
    before = _state(home)
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" || exit 99; exec "$@"'
    for command in (["audit", "verify"], ["halt", "--status"], ["halt", "--reason", "ro"]):
        done = subprocess.run(["unshare", "-m", "sh", "-c", script, str(home), sys.executable, "-m", "orion_cli",
                               "--db", str(ledger), *command, "--json"], capture_output=True, text=True, timeout=120)
        if done.returncode == 99:
            pytest.skip(f"cannot make a read-only bind mount here: {done.stderr.strip()[:200]}")
        if command[-1] == "ro":  # the writer: NOT halted, as before
            assert done.returncode == 3 and _error(done)["reason"] == "storage_readonly", done.stderr
        else:
            assert done.returncode == 0, (command, done.stderr)
    assert _state(home) == before


def test_a_ledger_the_reader_may_not_read_is_said_so_not_blamed_on_the_shm_file(ledger: Path, archive: Path) -> None:
    """Review: the read-only open took every "cannot open" for a -shm file it could not make, so a ledger
    this user may not read at all was said to need a writable directory (which it had) or `chmod a-w`."""
    import pwd

    if os.geteuid() != 0:
        pytest.skip("needs root to give the ledger to another user")
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user nobody to give the ledger to")
    old = archive / "old.db"
    shutil.copy(ledger, old)
    os.chown(old, nobody, -1)
    old.chmod(0o600)  # writable, by its owner only: not an archive, and not this reader's to read
    done = orion("--db", str(old), "audit", "verify", "--json")
    assert done.returncode == 3, done.stderr
    error = _error(done)
    assert "-shm" not in error["message"] and "chmod a-w" not in done.stderr, error
    assert "ermission denied" in error["message"] or "cannot read" in error["message"], error
