"""What this machine saw of a ledger's log, kept outside it (store.seen_head): a restored ledger is found."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from orion_cli.store.audit import AuditLog
from orion_cli.store.audit_head import get_head
from orion_cli.store.db import Database, open_database
from orion_cli.store.seen_head import Seen, SeenHead, behind


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    database.seen = SeenHead(tmp_path / "state" / "seen" / "ledger.json")
    return database


def _append(db: Database, n: int) -> None:
    for i in range(n):
        AuditLog(db).record("test.event", {"i": i})


def _head(db: Database) -> tuple[int, str]:
    with db.read() as conn:
        head = get_head(conn)
    assert head is not None
    return head


def test_each_committed_append_is_recorded_as_seen_and_a_rolled_back_one_is_not(db: Database) -> None:
    assert db.seen is not None
    _append(db, 3)
    seen = db.seen.read()
    assert seen is not None and (seen.seq, seen.digest) == _head(db)
    with pytest.raises(RuntimeError), db.write() as conn:
        AuditLog.append(conn, "test.event", {"i": "lost"})
        raise RuntimeError("the transaction fails after its append")
    assert db.seen.read() == seen  # what did not commit was never seen
    with db.write() as conn:  # a transaction without an event leaves it as it was
        conn.exec_driver_sql("SELECT 1")
    assert db.seen.read() == seen


def test_the_marker_never_goes_back_unless_reset(tmp_path: Path) -> None:
    head = SeenHead(tmp_path / "m.json")
    head.advance(5, "e5")
    head.advance(4, "e4")  # another process's older commit, written last
    assert (head.read() or Seen(0, "", "")).seq == 5
    head.advance(2, "e2", reset=True)
    assert (head.read() or Seen(0, "", "")).digest == "e2"
    assert (head.path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("text", [b"", b"{", b'{"seq": "5", "hash": "x", "at": "t"}',
                                  b'{"seq": -1, "hash": "x", "at": "t"}', b'{"seq": 5, "hash": "x"}', b"x" * 5000])
def test_a_torn_or_foreign_marker_is_no_evidence(tmp_path: Path, text: bytes) -> None:
    head = SeenHead(tmp_path / "m.json")
    head.path.write_bytes(text)
    assert head.read() is None
    head.advance(1, "e1")  # and is written over
    assert head.read() is not None


def test_a_state_directory_that_cannot_be_written_costs_only_the_marker(db: Database, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    db.seen = SeenHead(blocker / "seen" / "ledger.json")  # below a file: never a directory
    _append(db, 1)  # the write commits all the same
    assert db.seen.read() is None and _head(db)[0] >= 1


def test_a_ledger_restored_from_a_backup_is_behind_what_was_seen_and_one_written_on_since_too(
        db: Database, tmp_path: Path) -> None:
    assert db.seen is not None
    _append(db, 2)
    path = Path(db.url.removeprefix("sqlite:///"))
    backup = tmp_path / "backup.db"
    src, dst = sqlite3.connect(path), sqlite3.connect(backup)  # a nightly job's online backup
    src.backup(dst)
    src.close()
    dst.close()
    _append(db, 3)
    seen = db.seen.read()
    assert seen is not None
    with db.read() as conn:
        assert behind(conn, seen) is None  # the ledger as it is: not behind
    db.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, path)
    restored = open_database(db.url)
    try:
        with restored.read() as conn:
            found = behind(conn, seen)
        assert found is not None and not found.rewritten and found.head_seq == seen.seq - 3
        assert f"reach seq {seen.seq}" in found.said() and "restored from a backup" in found.said()
        _append(restored, 5)  # written on past the seq seen, with other events
        with restored.read() as conn:
            found = behind(conn, seen)
        assert found is not None and found.rewritten and found.head_seq == seen.seq + 2
    finally:
        restored.dispose()
