"""A ledger found behind what this machine saw of it (core.rollback): recorded, its live venues held."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from orion_cli.core.models import Venue
from orion_cli.core.rollback import keep_seen, notice_rollback
from orion_cli.core.settlement import held_reports, hold_report, release_report, rolled_back_venues
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database, open_database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.trading import Balance

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _open(url: str, state: Path) -> Database:
    db = open_database(url)
    keep_seen(db, state)
    return db


def _backup(path: Path, to: Path) -> None:
    src, dst = sqlite3.connect(path), sqlite3.connect(to)
    src.backup(dst)
    src.close()
    dst.close()


def _restore(path: Path, backup: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, path)


@pytest.fixture
def paths(tmp_path: Path) -> tuple[str, Path, Path, Path]:
    path = tmp_path / "ledger.db"
    return f"sqlite:///{path}", path, tmp_path / "backup.db", tmp_path / "state"


def test_a_live_ledger_restored_from_a_backup_holds_the_venues_it_traded_on_until_reconciled(
        paths: tuple[str, Path, Path, Path]) -> None:
    url, path, backup, state = paths
    db = _open(url, state)
    assert notice_rollback(db) is None  # first seen: remembered
    Ledger(db, "live").record_balance(Balance(Venue.KALSHI, "live", D(500), D(0), D(500), NOW), now=NOW)
    db.dispose()
    _backup(path, backup)
    db = _open(url, state)
    for i in range(4):  # what orion records after the backup: gone with the restore
        AuditLog(db).record("test.after_backup", {"i": i})
    db.dispose()
    _restore(path, backup)

    db = _open(url, state)
    try:
        found = notice_rollback(db, now=NOW)
        assert found is not None
        behind, held = found
        assert held == [Venue.KALSHI]  # Polymarket: no live report recorded, the first-contact hold's to judge
        assert behind.seen.seq == behind.head_seq + 4 and not behind.rewritten
        with db.read() as conn:
            assert list(rolled_back_venues(conn, "live", Venue)) == [Venue.KALSHI]
            assert "restored from a backup" in held_reports(conn, "live", [Venue.KALSHI])[Venue.KALSHI]
        event = AuditLog(db).tail(types=("ledger.rolled_back",))[-1]
        payload = json.loads(event.payload_json)
        assert (payload["seen_seq"], payload["head_seq"], payload["held"]) == (behind.seen.seq, behind.head_seq,
                                                                               ["kalshi"])
        assert event.mode == "live"
        # Every time orion records carries microseconds (one parse format for scripts): so does the marker's.
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", payload["seen_at"]), payload
        assert notice_rollback(db) is None  # recorded once: the log goes on from there

        with db.write() as conn:  # reconcile holds it again for its drift: still rolled back
            hold_report(conn, "live", Venue.KALSHI, "2 fill drift(s) not fixed", now=NOW)
            assert list(rolled_back_venues(conn, "live", Venue)) == [Venue.KALSHI]
            said = held_reports(conn, "live", [Venue.KALSHI])[Venue.KALSHI]
            assert "2 fill drift(s) not fixed" in said and "restored from a backup" in said
        with db.write() as conn:  # reconcile found it agreeing (or --fix adopted it)
            release_report(conn, "live", Venue.KALSHI)
            assert rolled_back_venues(conn, "live", Venue) == {}
    finally:
        db.dispose()


def test_a_paper_ledger_rolled_back_is_recorded_and_holds_nothing(paths: tuple[str, Path, Path, Path]) -> None:
    url, path, backup, state = paths
    db = _open(url, state)
    notice_rollback(db)
    db.dispose()
    _backup(path, backup)
    db = _open(url, state)
    AuditLog(db).record("test.after_backup", {})
    db.dispose()
    _restore(path, backup)
    db = _open(url, state)
    try:
        found = notice_rollback(db)
        assert found is not None and found[1] == []
        with db.read() as conn:
            assert rolled_back_venues(conn, "live", Venue) == {} and held_reports(conn, "live", Venue) == {}
        assert AuditLog(db).tail(types=("ledger.rolled_back",))[-1].mode == "paper"
    finally:
        db.dispose()


def test_a_copy_of_the_ledger_opened_elsewhere_is_not_a_rollback_of_it(paths: tuple[str, Path, Path, Path],
                                                                       tmp_path: Path) -> None:
    """A copy (for a report, a second ledger on purpose) keeps its own marker: the original's log going on
    never makes the copy look rolled back, nor does the copy's make the original."""
    url, path, backup, state = paths
    db = _open(url, state)
    notice_rollback(db)
    _backup(path, backup)
    AuditLog(db).record("test.original", {})
    copy = _open(f"sqlite:///{backup}", state)
    try:
        assert notice_rollback(copy) is None
        AuditLog(copy).record("test.copy", {})
        AuditLog(copy).record("test.copy", {})
        assert notice_rollback(db) is None and notice_rollback(copy) is None
    finally:
        copy.dispose()
        db.dispose()


def test_a_hold_whose_record_cannot_be_read_counts_as_rolled_back(paths: tuple[str, Path, Path, Path]) -> None:
    """The resume gate fails closed: a held venue's stored record that cannot be read (damaged) is held by the
    BALANCE check as reconcile's (held_since), and whether it was a rollback's cannot be told, so a resume
    there is refused too until a reconcile releases it."""
    from sqlalchemy import update

    from orion_cli.core.settlement import held_key
    from orion_cli.store.tables import orion_meta

    url, _path, _backup, state = paths
    db = _open(url, state)
    try:
        with db.write() as conn:
            hold_report(conn, "live", Venue.KALSHI, "2 fill drift(s) not fixed", now=NOW)
            hold_report(conn, "live", Venue.POLYMARKET, "1 fill drift(s) not fixed", now=NOW)
        with db.read() as conn:
            assert rolled_back_venues(conn, "live", Venue) == {}  # drift alone: a resume there goes on
        with db.write() as conn:
            conn.execute(update(orion_meta).where(orion_meta.c.key == held_key("live", Venue.KALSHI))
                         .values(value="{damaged"))
        with db.read() as conn:
            found = rolled_back_venues(conn, "live", Venue)
            assert list(found) == [Venue.KALSHI] and "cannot be read" in found[Venue.KALSHI]
            assert held_reports(conn, "live", [Venue.KALSHI]) == {Venue.KALSHI: "by reconcile"}
    finally:
        db.dispose()
