"""The hash-chained audit log: append/tail/after, tamper detection, concurrent appenders."""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from orion_cli.store import audit as audit_module
from orion_cli.store.audit import GENESIS_HASH, AuditLog, compute_hash, iso_utc
from orion_cli.store.db import Database, open_database

ACTOR = {"command": "test", "user": "tester", "host": "h1", "pid": 1}


def _fill(log: AuditLog, n: int, type_: str = "test.event") -> None:
    for i in range(n):
        log.record(type_, {"i": i}, actor=ACTOR)


# -- append / tail / after ---------------------------------------------------------------------


def test_append_links_each_event_to_the_previous(db: Database) -> None:
    log = AuditLog(db)
    first = log.record("halt.engaged", {"reason": "r", "amount": Decimal("1.10")}, actor=ACTOR, venue="kalshi",
                       market="KX-1", mode="paper")
    second = log.record("halt.released", {"reason": "r"}, actor=ACTOR)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.payload == {"reason": "r", "amount": "1.10"}  # money is an exact decimal string
    assert first.hash == compute_hash(GENESIS_HASH, 1, first.ts, "halt.engaged", "paper", json.dumps(ACTOR),
                                      "kalshi", "KX-1", json.dumps(first.payload))
    stored = log.tail(2)
    assert stored == [first, second]
    rec = stored[0].to_record()
    assert rec["v"] == 1 and rec["type"] == "halt.engaged" and rec["venue"] == "kalshi"
    assert rec["ts"].endswith("Z")


def test_an_event_never_records_a_secret_the_process_revealed(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A venue's words quoted into an event (a failed alert's, a reconcile's unavailable venue) may quote a
    credential back; what the store revealed is stored scrubbed, and the chain verifies over what is stored."""
    from orion_cli.core import revealed
    from orion_cli.secrets.store import SecretValue

    revealed.forget_revealed()  # the conftest forgets them again after the test
    with SecretValue("polymarket_api_passphrase", b"s3cr3t-passphrase") as v:
        v.reveal()
    event = AuditLog(db).record("reconcile.unavailable", {"error": "401: passphrase s3cr3t-passphrase refused"},
                                actor=ACTOR)
    assert event.payload == {"error": "401: passphrase *** refused"}
    assert "s3cr3t" not in json.dumps([e.to_record() for e in AuditLog(db).tail(5)])
    assert AuditLog(db).verify().ok


def test_the_default_actor_writes_a_byte_that_is_not_utf8_as_its_escape() -> None:
    """Found in review: a lone surrogate (a byte of the command line or LOGNAME that is not UTF-8) in the actor
    failed every append, and, stored with a halt, the table that printed it."""
    from orion_cli.store.audit import canonical_json, default_actor

    actor = default_actor("halt bad\udcffbyte")
    assert actor["command"] == "halt bad\\xffbyte"
    canonical_json(actor).encode("utf-8")  # a text every append can hash


def test_default_actor_names_user_host_and_pid(db: Database) -> None:
    event = AuditLog(db).record("test.actor")
    assert {"user", "host", "pid", "command"} <= set(event.actor)
    assert event.actor["pid"] == os.getpid()


def test_tail_returns_the_last_n_oldest_first_with_filters(db: Database) -> None:
    log = AuditLog(db)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with db.write() as conn:
        for i in range(10):
            type_ = ("halt.engaged", "halt.released", "order.intent", "halted.other")[i % 4]
            AuditLog.append(conn, type_, {"i": i}, actor=ACTOR, now=base + timedelta(minutes=i))
    assert [e.seq for e in log.tail(3)] == [8, 9, 10]
    assert [e.seq for e in log.tail(100)] == list(range(1, 11))
    assert log.tail(0) == []
    fam = log.tail(100, types=("halt",))
    assert {e.type for e in fam} == {"halt.engaged", "halt.released"}  # not halted.other
    # A name, not a LIKE pattern (found by black-box testing: `-t %` listed every event, `-t h%` halt's)
    assert log.tail(100, types=("%",)) == [] and log.tail(100, types=("h%",)) == []
    assert log.tail(100, types=("hal_",)) == [] and log.after(0, types=("%",)) == []
    assert [e.type for e in log.tail(100, types=("order.intent",))] == ["order.intent"] * 2
    assert [e.seq for e in log.tail(100, since=iso_utc(base + timedelta(minutes=7)))] == [8, 9, 10]
    assert [e.seq for e in log.tail(2, types=("halt",), since=iso_utc(base))] == [9, 10]
    assert [e.seq for e in log.after(7)] == [8, 9, 10]
    assert [e.seq for e in log.after(0, types=("halt.released",))] == [2, 6, 10]
    assert [e.seq for e in log.after(0, limit=2)] == [1, 2]
    assert log.after(10) == []
    assert log.last_seq() == 10


def test_since_reads_every_event_at_or_after_a_time_in_batches_in_seq_order(db: Database,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`audit tail --since` without -n (a black-box review found it cut to the newest 20): every event since
    then, however many, in keyset batches; one whose time was taken before a later seq's (its writer
    waited for the lock) is still found. (Written as an orion before appends kept time from running back
    wrote them: a ledger may hold such events.)"""
    chain_tail = audit_module._chain_tail
    monkeypatch.setattr(audit_module, "_chain_tail", lambda conn: (*chain_tail(conn)[:3], ""))
    log = AuditLog(db)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    minutes = [0, 1, 2, 9, 3, 4, 5, 6, 7, 8, 10, 11]  # seq 4 carries a later time than seq 5-10
    with db.write() as conn:
        for i, m in enumerate(minutes):
            AuditLog.append(conn, ("halt.engaged", "order.intent")[i % 2], {"i": i}, actor=ACTOR,
                            now=base + timedelta(minutes=m))
    since = iso_utc(base + timedelta(minutes=7))
    expected = [seq for seq, m in enumerate(minutes, 1) if m >= 7]
    assert expected == [4, 9, 10, 11, 12]
    for batch in (1, 2, 3, 1000):
        assert [e.seq for e in log.since(since, batch=batch)] == expected
    assert [e.seq for e in log.since(since, types=("halt",), batch=1)] == [9, 11]
    assert [e.seq for e in log.since(iso_utc(base), batch=5)] == list(range(1, 13))
    assert list(log.since(iso_utc(base + timedelta(days=1)))) == []
    assert log.count_since(since) == 5 and log.count_since(since, types=("order.intent",)) == 3
    assert list(AuditLog(db).since("2000-01-01T00:00:00.000000Z")) == log.tail(100)


def test_unmatched_names_the_types_and_families_no_event_is_of(db: Database) -> None:
    log = AuditLog(db)
    assert log.unmatched(("halt",)) == ["halt"] and log.types() == []
    log.record("halt.engaged", {}, actor=ACTOR)
    log.record("order.intent", {}, actor=ACTOR)
    assert log.unmatched(("halt", "halt.engaged", "halt.*", "order.intent", "halt.engage", "hal", "%", "_alt")) == [
        "halt.engage", "hal", "%", "_alt"]  # a family is a whole word; % and _ are text, not patterns
    assert log.types() == ["halt.engaged", "order.intent"]


def test_empty_log(db: Database) -> None:
    log = AuditLog(db)
    assert log.tail(5) == []
    assert log.last_seq() == 0
    result = log.verify()
    assert result.ok and result.events == 0 and result.first_bad_seq is None


def test_an_event_is_part_of_its_transaction(db: Database) -> None:
    """Rolled back with the change it records: no event without its change, no change without its event."""
    with pytest.raises(RuntimeError), db.write() as conn:
        AuditLog.append(conn, "order.intent", {"id": "x"}, actor=ACTOR)
        raise RuntimeError("the order write failed")
    assert AuditLog(db).last_seq() == 0


def test_no_update_or_delete_path_in_the_audit_module() -> None:
    source = inspect.getsource(audit_module)
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert not imported & {"update", "delete"}
    assert "UPDATE" not in source and "DELETE" not in source  # no raw SQL either
    public = {name for name in dir(AuditLog) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("update", "delete", "remove", "edit", "truncate"))}


# -- verify: tampering is detected and the first bad seq named --------------------------------


def _exec(db: Database, sql: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def _row(db: Database, seq: int) -> dict[str, object]:
    with db.read() as conn:
        return dict(conn.execute(text("SELECT * FROM audit_events WHERE seq = :s"), {"s": seq}).mappings().one())


def test_verify_intact_chain(db: Database) -> None:
    log = AuditLog(db)
    _fill(log, 6)
    result = log.verify()
    assert result.ok and result.events == 6 and result.first_bad_seq is None and result.problem is None


def test_verify_detects_an_altered_row(db: Database) -> None:
    log = AuditLog(db)
    _fill(log, 6)
    _exec(db, "UPDATE audit_events SET payload = :p WHERE seq = 4", p='{"i":999}')
    result = log.verify()
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "altered" in (result.problem or "")
    assert result.events == 3


@pytest.mark.parametrize("column,value", [("ts", "2020-01-01T00:00:00.000000Z"), ("type", "order.filled"),
                                          ("mode", "live"), ("venue", "kalshi"), ("actor", '{"user":"mallory"}')])
def test_verify_detects_any_altered_column(tmp_path: Path, column: str, value: str) -> None:
    db = open_database(str(tmp_path / "a.db"))
    try:
        log = AuditLog(db)
        _fill(log, 4)
        _exec(db, f"UPDATE audit_events SET {column} = :v WHERE seq = 2", v=value)
        assert log.verify().first_bad_seq == 2
    finally:
        db.dispose()


@pytest.mark.parametrize("column", ["payload", "actor"])
def test_verify_detects_a_text_column_cast_to_bytes(tmp_path: Path, column: str) -> None:
    """Found in review: json.loads takes bytes, so a payload (or actor) cast to a BLOB by hand verified as
    intact, where `audit tail` (and the README) say it was altered."""
    db = open_database(str(tmp_path / "a.db"))
    try:
        log = AuditLog(db)
        _fill(log, 4)
        _exec(db, f"UPDATE audit_events SET {column} = CAST({column} AS BLOB) WHERE seq = 2")
        result = log.verify()
        assert not result.ok and result.first_bad_seq == 2, result
    finally:
        db.dispose()


def test_verify_detects_a_deleted_row(db: Database) -> None:
    log = AuditLog(db)
    _fill(log, 6)
    _exec(db, "DELETE FROM audit_events WHERE seq = 3")
    result = log.verify()
    assert not result.ok
    # Found by black-box testing: the row after the deleted one (4) was named, while a deleted newest row
    # is named itself; README says the first seq deleted.
    assert result.first_bad_seq == 3
    assert "expected seq 3" in (result.problem or "")


def test_verify_detects_a_deleted_first_row(db: Database) -> None:
    log = AuditLog(db)
    _fill(log, 3)
    _exec(db, "DELETE FROM audit_events WHERE seq = 1")
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 1


def test_verify_calls_a_dropped_table_a_chain_broken_from_seq_1(db: Database) -> None:
    """Found in review: with the audit_events table dropped (the database still there), verify raised a
    storage error (exit 3, "no such table"), which a monitor keyed on exit 7 takes for an outage."""
    log = AuditLog(db)
    _fill(log, 3)
    _exec(db, "DROP TABLE audit_events")
    result = log.verify()
    assert (result.ok, result.events, result.first_bad_seq) == (False, 0, 1)
    assert "audit_events" in (result.problem or "") and "missing" in (result.problem or "")
    assert "head anchor records 3 events" in (result.problem or "")


def test_verify_detects_an_inserted_row_even_when_correctly_chained(db: Database) -> None:
    """A forger shifts rows 3.. up by one and inserts a valid-looking event at seq 3."""
    log = AuditLog(db)
    _fill(log, 6)
    for seq in range(6, 2, -1):
        _exec(db, "UPDATE audit_events SET seq = :n WHERE seq = :o", n=seq + 1, o=seq)
    prev = _row(db, 2)
    ts = iso_utc(datetime.now(UTC))
    actor, payload = json.dumps(ACTOR), '{"forged":true}'
    digest = compute_hash(str(prev["hash"]), 3, ts, "test.event", "paper", actor, None, None, payload)
    _exec(db, "INSERT INTO audit_events (seq, ts, type, mode, actor, venue, market, payload, prev_hash, hash) "
              "VALUES (3, :ts, 'test.event', 'paper', :a, NULL, NULL, :p, :ph, :h)",
          ts=ts, a=actor, p=payload, ph=prev["hash"], h=digest)
    result = log.verify()
    assert not result.ok
    # The forged row itself chains; the next one links past it to seq 2, which names it (it was seq 4).
    assert result.first_bad_seq == 3
    assert result.events == 2
    assert result.problem == "seq 3 is not on the chain: seq 4 links to seq 2 (inserted after seq 2, or replaced)"


def test_verify_detects_a_naively_inserted_row(db: Database) -> None:
    log = AuditLog(db)
    _fill(log, 3)
    row = _row(db, 3)
    _exec(db, "INSERT INTO audit_events (seq, ts, type, mode, actor, venue, market, payload, prev_hash, hash) "
              "VALUES (4, :ts, 'order.filled', 'live', :a, NULL, NULL, '{}', :ph, :h)",
          ts=row["ts"], a=row["actor"], ph=row["hash"], h="f" * 64)
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 4


@pytest.mark.parametrize("appended", [1, 2])
def test_verify_names_a_correctly_chained_event_appended_after_the_newest(db: Database, appended: int) -> None:
    """Found in a black-box run: a forged event appended after the newest one, chained as the README tells,
    was reported at seq 3, the last genuine event, as "events were deleted or the anchor was altered":
    an investigator was sent to the wrong row with the wrong story. The first event past the head
    anchor is the inserted one."""
    log = AuditLog(db)
    _fill(log, 3)
    for seq in range(4, 4 + appended):
        prev = _row(db, seq - 1)
        ts, actor, payload = str(prev["ts"]), json.dumps({**ACTOR, "user": "mallory"}), '{"forged":true}'
        digest = compute_hash(str(prev["hash"]), seq, ts, "halt.released", "paper", actor, None, None, payload)
        _exec(db, "INSERT INTO audit_events (seq, ts, type, mode, actor, venue, market, payload, prev_hash, hash) "
                  "VALUES (:s, :ts, 'halt.released', 'paper', :a, NULL, NULL, :p, :ph, :h)",
              s=seq, ts=ts, a=actor, p=payload, ph=prev["hash"], h=digest)
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 4 and result.events == 3
    inserted = "1 event was" if appended == 1 else "2 events were"
    assert result.problem == ("seq 4 follows the newest event the head anchor records (seq 3): "
                              f"{inserted} inserted after it, or the anchor was altered")


def test_verify_detects_a_reordering(db: Database) -> None:
    log = AuditLog(db)
    _fill(log, 6)
    # Swap the events at seq 3 and 4 (each keeps its own content, hashes and prev_hash).
    _exec(db, "UPDATE audit_events SET seq = -3 WHERE seq = 3")
    _exec(db, "UPDATE audit_events SET seq = 3 WHERE seq = 4")
    _exec(db, "UPDATE audit_events SET seq = 4 WHERE seq = -3")
    result = log.verify()
    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.events == 2


def test_verify_detects_a_reordering_with_seqs_rewritten(db: Database) -> None:
    """Swapping the *contents* of two rows but keeping seq order is caught by the hash."""
    log = AuditLog(db)
    _fill(log, 5)
    r2, r3 = _row(db, 2), _row(db, 3)
    for seq, src in ((2, r3), (3, r2)):
        _exec(db, "UPDATE audit_events SET ts = :ts, type = :ty, payload = :p WHERE seq = :s",
              ts=src["ts"], ty=src["type"], p=src["payload"], s=seq)
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_verify_streams_in_pages(db: Database) -> None:
    """A chain longer than one keyset page verifies across page boundaries."""
    with db.write() as conn:
        for i in range(130):
            AuditLog.append(conn, "test.bulk", {"i": i}, actor=ACTOR)
    log = AuditLog(db)
    rows = list(log.iter_all(batch=50))
    assert [r.seq for r in rows] == list(range(1, 131))
    assert log.verify().events == 130
    _exec(db, "UPDATE audit_events SET payload = :p WHERE seq = 120", p='{"i":0}')
    assert log.verify().first_bad_seq == 120


# -- concurrency: several OS processes appending at once --------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orion_cli.store.audit import AuditLog
    from orion_cli.store.db import open_database

    url, ready, go, n, worker = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    db = open_database(url)
    log = AuditLog(db)
    ready.touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("never told to go")
        time.sleep(0.005)
    start = time.time()
    for i in range(n):
        log.record("test.concurrent", {"worker": worker, "i": i})
    print(start, time.time())
    db.dispose()
    """
)


def test_concurrent_processes_never_fork_the_chain(db_url: str, tmp_path: Path) -> None:
    procs, per_proc = 4, 20
    open_database(db_url).dispose()  # migrate first: this test is about appends, not start-up
    go = tmp_path / "go"
    children = []
    spans: list[tuple[float, float]] = []
    for w in range(procs):
        ready = tmp_path / f"ready-{w}"
        children.append((ready, subprocess.Popen(
            [sys.executable, "-c", _CHILD, db_url, str(ready), str(go), str(per_proc), f"w{w}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )))
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() for r, _ in children):
            failed = [p for _, p in children if p.poll() not in (None, 0)]
            assert not failed, failed[0].communicate()[1]
            assert time.monotonic() < deadline, "children did not start"
            time.sleep(0.02)
        go.touch()  # all appenders start together
        for _, p in children:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            start, end = (float(x) for x in out.split())
            spans.append((start, end))
    finally:
        for _, p in children:
            if p.poll() is None:
                p.kill()
    db = open_database(db_url)
    try:
        log = AuditLog(db)
        result = log.verify()
        assert result.ok, result
        assert result.events == procs * per_proc
        rows = list(log.iter_all())
        assert [r.seq for r in rows] == list(range(1, procs * per_proc + 1))
        assert len({r.prev_hash for r in rows}) == len(rows), "two events share a predecessor: the chain forked"
        by_worker: dict[str, list[int]] = {}
        pids = set()
        for r in rows:
            payload = json.loads(r.payload)
            by_worker.setdefault(payload["worker"], []).append(payload["i"])
            pids.add(json.loads(r.actor)["pid"])
        assert {w: sorted(v) for w, v in by_worker.items()} == {f"w{w}": list(range(per_proc)) for w in range(procs)}
        assert len(pids) == procs
        # Every appender was running at the same moment (otherwise this proves nothing about concurrency).
        assert max(s for s, _ in spans) < min(e for _, e in spans), spans
    finally:
        db.dispose()


def test_deleting_the_newest_events_is_detected_by_the_head_anchor(db: Database) -> None:
    """A valid-looking shorter chain is still caught: the anchor remembers where the log ended."""
    from sqlalchemy import text as sql_text

    log = AuditLog(db)
    for i in range(5):
        log.record("test.event", {"i": i}, actor=ACTOR)
    assert log.verify().ok
    with db.engine.begin() as conn:
        conn.execute(sql_text("DELETE FROM audit_events WHERE seq >= 4"))
    result = log.verify()
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "deleted" in (result.problem or "")


@pytest.mark.parametrize("deleted", ["DELETE FROM audit_events WHERE seq >= 4", "DELETE FROM audit_events"])
@pytest.mark.parametrize("next_write", ["record", "order_path_prefetch"])
def test_a_deletion_stays_detected_after_the_next_write(db: Database, deleted: str, next_write: str) -> None:
    """Found by a black-box run: the next event re-used the deleted seq, moved the anchor to it, and
    `audit verify` said "intact" again; deleting every row and writing started a fresh valid chain.
    The chain now goes on after the anchor, leaving the hole for verify to report."""
    from sqlalchemy import text as sql_text

    from orion_cli.store.audit import TAIL_COLUMNS, prime_tail

    log = AuditLog(db)
    for i in range(5):
        log.record("test.event", {"i": i}, actor=ACTOR)
    with db.engine.begin() as conn:
        conn.execute(sql_text(deleted))
    assert not log.verify().ok
    if next_write == "record":
        log.record("test.event", {"i": "after"}, actor=ACTOR)
    else:  # as the pre-trade checks do: the tail read in their own statement, then appends
        with db.write() as conn:
            row = conn.execute(select(*TAIL_COLUMNS)).one()
            prime_tail(conn, row.audit_tail_seq, row.audit_tail_hash, row.audit_anchor, row.audit_tail_ts)
            AuditLog.append(conn, "test.event", {"i": "after"}, actor=ACTOR)
    with db.read() as conn:
        newest = conn.execute(sql_text("SELECT max(seq) FROM audit_events")).scalar()
    assert newest == 6  # after the anchored head (5), not in the hole
    result = log.verify()
    assert not result.ok and result.first_bad_seq is not None and result.first_bad_seq <= 6


def _forge_after_the_newest(db: Database, n: int) -> None:
    """Append ``n`` well-chained ``halt.released`` rows directly, the head anchor untouched (as a forger
    following the README would)."""
    with db.read() as conn:
        newest = int(conn.execute(text("SELECT max(seq) FROM audit_events")).scalar_one())
    for seq in range(newest + 1, newest + 1 + n):
        prev = _row(db, seq - 1)
        ts, actor, payload = "2026-11-23T07:00:00.000000Z", json.dumps({**ACTOR, "user": "mallory"}), '{"forged":true}'
        digest = compute_hash(str(prev["hash"]), seq, ts, "halt.released", "paper", actor, None, None, payload)
        _exec(db, "INSERT INTO audit_events (seq, ts, type, mode, actor, venue, market, payload, prev_hash, hash) "
                  "VALUES (:s, :ts, 'halt.released', 'paper', :a, NULL, NULL, :p, :ph, :h)",
              s=seq, ts=ts, a=actor, p=payload, ph=prev["hash"], h=digest)


@pytest.mark.parametrize("forged", [1, 2])
@pytest.mark.parametrize("next_write", ["record", "order_path_prefetch"])
def test_an_insertion_stays_detected_after_the_next_write(db: Database, forged: int, next_write: str) -> None:
    """Found in review: rows appended past the head anchor were reported only until orion's next event,
    which linked to the newest row and anchored it, so the forged rows passed every later verify.
    The next event now links to the anchored one: the forged rows stay off the chain, named."""
    from orion_cli.store.audit import TAIL_COLUMNS, prime_tail

    log = AuditLog(db)
    _fill(log, 2)
    _forge_after_the_newest(db, forged)
    assert log.verify().first_bad_seq == 3
    for i in range(2):  # and stays reported after more writes, not only the first
        if next_write == "record":
            log.record("test.event", {"i": f"after{i}"}, actor=ACTOR)
        else:  # as the pre-trade checks do: the tail read in their own statement, then appends
            with db.write() as conn:
                row = conn.execute(select(*TAIL_COLUMNS)).one()
                prime_tail(conn, row.audit_tail_seq, row.audit_tail_hash, row.audit_anchor, row.audit_tail_ts)
                AuditLog.append(conn, "test.event", {"i": f"after{i}"}, actor=ACTOR)
        result = log.verify()
        assert not result.ok and result.first_bad_seq == 3 and result.events == 2
        rows = "seq 3 is" if forged == 1 else "seq 3-4 are"
        assert result.problem == (f"{rows} not on the chain: seq {3 + forged} links to seq 2 "
                                  "(inserted after seq 2, or replaced)")
    after = _row(db, 3 + forged)
    assert after["prev_hash"] == _row(db, 2)["hash"]  # orion's own event goes on from the anchored one
    assert _row(db, 4 + forged)["prev_hash"] == after["hash"]


def test_a_log_sqlite_cannot_read_is_reported_broken_not_raised(tmp_path: Path) -> None:
    """Found in review: a damaged page ("database disk image is malformed") made `audit verify` an
    "unexpected internal error" (exit 1), which a monitor keyed on its exit 7 reads as "a bug, retry".
    A log that cannot be read is not a verified one: broken from the first seq not read, saying why."""
    from store.damage import damage_tables

    path = tmp_path / "ledger.db"
    db = open_database(str(path))
    _fill(AuditLog(db), 3)
    db.dispose()
    damage_tables(path, "audit_events")
    db = open_database(str(path))
    try:
        result = AuditLog(db).verify()
    finally:
        db.dispose()
    assert not result.ok and result.first_bad_seq == 1 and result.events == 0
    assert result.problem is not None and result.problem.startswith("the log cannot be read from seq 1 on: ")
    assert str(path) in result.problem and "malformed" in result.problem and "backup" in result.problem


@pytest.mark.parametrize("when", ["between_pages", "after_the_walk"])
def test_an_event_appended_while_verify_walks_is_not_tampering(db: Database, when: str) -> None:
    """Found in review: the anchor was read only after the walk, so an event another process committed
    meanwhile (cron reconcile, a trade) was reported as "events were deleted"."""
    log = AuditLog(db)
    for i in range(5):
        log.record("test.event", {"i": i}, actor=ACTOR)

    class Racing(AuditLog):
        def iter_all(self, batch: int = 5000) -> Iterator[Any]:
            for n, row in enumerate(super().iter_all(batch=2), start=1):
                yield row
                if when == "between_pages" and n == 2:
                    AuditLog(db).record("test.event", {"i": "meanwhile"}, actor=ACTOR)
            if when == "after_the_walk":
                AuditLog(db).record("test.event", {"i": "meanwhile"}, actor=ACTOR)

    result = Racing(db).verify()
    assert result.ok, result
    assert log.verify().ok and log.verify().events == 6
    # A deletion is still caught while events are being appended.
    from sqlalchemy import text as sql_text

    with db.engine.begin() as conn:
        conn.execute(sql_text("DELETE FROM audit_events WHERE seq = 6"))
    assert not Racing(db).verify().ok


# -- the order path's shortcuts: spliced link, batched writes, remembered tail --------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=10), _json_values, max_size=5),
       actor=st.dictionaries(st.text(max_size=10), st.text() | st.integers(), max_size=4),
       venue=st.none() | st.text(max_size=12), market=st.none() | st.text(max_size=12),
       type_=st.text(min_size=1, max_size=20), seq=st.integers(min_value=1, max_value=2**62))
def test_the_spliced_link_equals_the_verifiers_hash(payload: dict[str, object], actor: dict[str, object],
                                                    venue: str | None, market: str | None, type_: str,
                                                    seq: int) -> None:
    """append() hashes the stored texts spliced; verify() re-parses them. They must never differ."""
    try:
        actor_text, payload_text = audit_module.canonical_json(actor), audit_module.canonical_json(payload)
        expected = compute_hash("ab" * 32, seq, "2026-11-21T00:00:00.000000Z", type_, "paper", actor_text, venue,
                                market, payload_text)
    except UnicodeEncodeError:  # lone surrogates: refused either way
        return
    assert audit_module._link_from_texts("ab" * 32, seq, "2026-11-21T00:00:00.000000Z", type_, "paper", actor_text,
                                         venue, market, payload_text) == expected


class _Colour(Enum):
    RED = "red"
    PRICE = Decimal("0.45")


_any_floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [1e-5, -1e-5, -3.2e-6, -1e-7, 9.999e-05, 0.0001, 1e16, 1.5e-300, 5e-324, -0.0, 1e22])
_leaves = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63, max_value=2**70) | st.text()
           | st.decimals(allow_nan=False, allow_infinity=False) | st.datetimes(timezones=st.just(UTC))
           | st.sampled_from(list(_Colour)))
_encodable = st.recursive(
    _leaves | _any_floats,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                   | st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _has_nan_or_infinity(value: object) -> bool:
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(_has_nan_or_infinity(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nan_or_infinity(v) for v in value)
    return False


@settings(max_examples=500, deadline=None)
@given(value=_encodable)
def test_the_fast_encoder_writes_the_reference_text_and_a_fixed_point_of_it(value: object) -> None:
    """canonical_json (orjson where it agrees) against reference_json, the chain's definition.

    Equal text for everything but float NaN/infinity (written null by design); and always a text
    that the verifier's parse-and-re-encode gives back unchanged, or the chain would report tampering.
    """
    fast = audit_module.canonical_json(value)
    if not _has_nan_or_infinity(value):
        assert fast == audit_module.reference_json(value)
    assert audit_module.reference_json(json.loads(fast)) == fast


def test_the_fast_encoder_refuses_what_the_reference_refuses_and_keeps_its_odd_cases() -> None:
    for bad in ({"x": object()}, {"d": datetime(2026, 1, 1).date()}, {"b": b"bytes"}):
        with pytest.raises(TypeError, match="not JSON-serialisable"):
            audit_module.canonical_json(bad)
    # Cases orjson refuses or spells differently, handed to the reference: identical text.
    for odd in ({1: "int key"}, {"n": 2**80}, {"f": 1e-7}, {"s": {3}}, {"tiny": 0.00001}, [1e-05, "x:1e-5"]):
        assert audit_module.canonical_json(odd) == audit_module.reference_json(odd)
    # Both encoders accept a UUID, as its text.
    assert audit_module.canonical_json({"u": UUID(int=5)}) == audit_module.reference_json({"u": UUID(int=5)}) \
        == '{"u":"00000000-0000-0000-0000-000000000005"}'
    # NaN and infinity are null whichever encoder writes the text (1e-5 sends this one to the reference).
    assert audit_module.canonical_json({"nan": float("nan")}) == '{"nan":null}'
    assert audit_module.canonical_json({"nan": float("nan"), "inf": [float("-inf")], "f": 1e-5}) \
        == '{"f":1e-05,"inf":[null],"nan":null}'


def test_a_large_float_is_spelled_as_the_reference_spells_it() -> None:
    """Found installing the declared dependency floors: orjson before 3.12 writes 1e16 where the reference
    writes 1e+16, so an event holding one (a webhook's Retry-After of 1e16 seconds, audited in alert.failed)
    was written with a hash `audit verify` called altered (exit 7). The floor is orjson 3.12; these are the
    floats that tell."""
    for big in ({"retry_after_s": 1e16}, [1.5e300, -2e22, 1e17], {"f": 123456789012345678.0}):
        assert audit_module.canonical_json(big) == audit_module.reference_json(big)
    assert audit_module.canonical_json({"r": 1e16}) == '{"r":1e+16}'


def test_only_a_real_small_float_takes_the_slow_encoder() -> None:
    """Found profiling the order path: a client order id whose hash ends in a digit and "e"
    (`orion-…7e-l1`, about one trade in seven) sent every event of that trade to the reference
    encoder, twenty times slower, though it holds no float."""
    spelled = audit_module._float_spelled_differently
    assert not spelled(b'{"client_order_id":"orion-0c1f97e-l1","note":"one-off e-mail"}')
    assert spelled(b'{"f":1e-07}') and spelled(b'[2.5e-05]') and spelled(b'{"t":0.00001}') and spelled(b"0.00001")


def test_a_batch_writes_its_events_at_the_end_with_the_chain_intact(db: Database) -> None:
    _fill(AuditLog(db), 2)
    with db.write() as conn:
        with audit_module.batched(conn):
            first = AuditLog.append(conn, "batch.one", {"n": Decimal("1.50")}, actor=ACTOR)
            second = AuditLog.append(conn, "batch.two", {"n": 2}, actor=ACTOR)
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 2  # not yet written
        third = AuditLog.append(conn, "after.batch", {}, actor=ACTOR)
    assert (first.seq, second.seq, third.seq) == (3, 4, 5)
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert [e.type for e in AuditLog(db).tail(3)] == ["batch.one", "batch.two", "after.batch"]
    assert AuditLog(db).verify().ok


def test_a_batch_that_raises_writes_nothing_and_the_next_append_rereads_the_tail(db: Database) -> None:
    _fill(AuditLog(db), 1)
    with db.write() as conn:
        with pytest.raises(RuntimeError), audit_module.batched(conn):
            AuditLog.append(conn, "lost", {}, actor=ACTOR)
            raise RuntimeError("boom")
        kept = AuditLog.append(conn, "kept", {}, actor=ACTOR)
    assert kept.seq == 2
    assert AuditLog(db).verify().ok


def test_a_rolled_back_savepoint_never_leaves_a_stale_tail(db: Database) -> None:
    """The tail is remembered per (innermost) transaction: reconcile's --fix adopts in savepoints."""
    _fill(AuditLog(db), 1)
    with db.write() as conn:
        AuditLog.append(conn, "outer.before", {}, actor=ACTOR)
        nested = conn.begin_nested()
        AuditLog.append(conn, "inside.savepoint", {}, actor=ACTOR)
        nested.rollback()
        after = AuditLog.append(conn, "outer.after", {}, actor=ACTOR)
    assert after.seq == 3
    assert [e.type for e in AuditLog(db).tail(2)] == ["outer.before", "outer.after"]
    assert AuditLog(db).verify().ok


def test_a_primed_tail_continues_the_chain_and_never_overrides_a_newer_one(db: Database) -> None:
    """The pre-trade checks read the tail with their other reads and hand it to the appends."""
    _fill(AuditLog(db), 2)
    with db.write() as conn:
        seq, digest, anchor, ts = conn.execute(select(*audit_module.TAIL_COLUMNS)).one()
        assert seq == 2 and anchor == f"2:{digest}"
        audit_module.prime_tail(conn, seq, digest, anchor, ts)
        first = AuditLog.append(conn, "after.prime", {}, actor=ACTOR)
        with audit_module.batched(conn):
            second = AuditLog.append(conn, "batched", {}, actor=ACTOR)
            audit_module.prime_tail(conn, seq, digest, anchor, ts)  # read before `second`: must not win
            third = AuditLog.append(conn, "after.stale.prime", {}, actor=ACTOR)
    assert (first.seq, second.seq, third.seq) == (3, 4, 5)
    assert AuditLog(db).verify().ok
    with db.write() as conn:  # an empty log (never anchored) primes the genesis link
        conn.execute(text("DELETE FROM audit_events"))
        audit_module.prime_tail(conn, None, None, None, None)
        fresh = AuditLog.append(conn, "fresh", {}, actor=ACTOR)
        conn.rollback()
    assert (fresh.seq, fresh.prev_hash) == (1, GENESIS_HASH)


def test_iso_utc_keeps_the_two_instants_of_a_repeated_local_hour_apart() -> None:
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    first = datetime(2024, 11, 3, 1, 30, tzinfo=ny)  # EDT
    second = first.replace(fold=1)  # EST, an hour later; equal and equal-hashing to `first`
    assert (iso_utc(first), iso_utc(second)) == ("2024-11-03T05:30:00.000000Z", "2024-11-03T06:30:00.000000Z")
    assert iso_utc(datetime(2024, 11, 3, 5, 30, tzinfo=UTC)) == "2024-11-03T05:30:00.000000Z"


def test_actors_that_hash_alike_are_still_encoded_apart() -> None:
    texts = [audit_module._actor_text({"command": "x", "pid": v}) for v in (1, True, 1.0)]
    # Equal values of one type, spelled apart: each is kept as written.
    assert [audit_module._actor_text({"stake": v}) for v in (Decimal("1.0"), Decimal("1.00"))] == [
        '{"stake":"1.0"}', '{"stake":"1.00"}']
    assert [audit_module._actor_text({"x": v}) for v in (0.0, -0.0)] == ['{"x":0.0}', '{"x":-0.0}']
    assert texts == ['{"command":"x","pid":1}', '{"command":"x","pid":true}', '{"command":"x","pid":1.0}']
    assert audit_module._actor_text({"command": "x", "tags": ["a"]}) == '{"command":"x","tags":["a"]}'


def test_a_url_in_the_actor_command_is_recorded_with_its_password_masked(db: Database) -> None:
    """Defence in depth: the command words are never an option's value (core/command_line), but a URL
    given as a word (an argument) must not put a password into the append-only log either."""
    from orion_cli.core.command_line import set_actor_command

    try:
        set_actor_command("snapshot postgresql://orion:hunter2@db.example/orion")
        event = AuditLog(db).record("test.actor")
        explicit = audit_module.default_actor("sqlite:///x.db?password=hunter2")
    finally:
        set_actor_command(None)
    assert event.actor["command"] == "snapshot postgresql://orion:***@db.example/orion"
    assert "hunter2" not in event.actor_json and "hunter2" not in json.dumps(explicit)


def test_a_new_ledger_has_its_anchor_and_verifies_intact(db: Database) -> None:
    with db.read() as conn:
        assert conn.execute(text("SELECT value FROM orion_meta WHERE key = 'audit_head'")).scalar_one() == \
            f"0:{GENESIS_HASH}"
    assert AuditLog(db).verify().to_record() == {"type": "audit_verify", "ok": True, "events": 0,
                                                 "first_bad_seq": None, "problem": None}


def _write_one_and_a_batch(db: Database, log: AuditLog) -> None:
    """orion's two ways of appending after a tampering: one event, and a batch (as an execution writes)."""
    log.record("after.deletion", {}, actor=ACTOR)
    with db.write() as conn, audit_module.batched(conn):
        AuditLog.append(conn, "after.deletion.batched", {}, actor=ACTOR)


def test_deleting_the_newest_events_with_the_anchor_is_found_and_stays_found(db: Database) -> None:
    """Found by a black-box run: with the anchor row deleted too, the log was taken for one written before
    anchors, and verify said "intact (3 events)"; orion's next write would then have anchored what was left."""
    log = AuditLog(db)
    _fill(log, 5)
    _exec(db, "DELETE FROM audit_events WHERE seq >= 4")
    _exec(db, "DELETE FROM orion_meta WHERE key = 'audit_head'")
    result = log.verify()
    assert (result.ok, result.events, result.first_bad_seq) == (False, 3, 4)
    assert "head anchor" in (result.problem or "") and "missing" in (result.problem or "")
    _write_one_and_a_batch(db, log)  # orion goes on (a halt must be recordable)...
    again = log.verify()  # ... without anchoring what is left
    assert (again.ok, again.events, again.first_bad_seq) == (False, 5, 6)
    assert "missing" in (again.problem or "")


@pytest.mark.parametrize("overwritten", ["", "garbage", "x:" + "0" * 64, "3:", "²:" + "0" * 64, "３:" + "0" * 64,
                                         "9" * 19 + ":" + "0" * 64, "9" * 5000 + ":" + "0" * 64],
                         ids=["empty", "garbage", "x", "3", "superscript", "fullwidth", "int64", "5000-digits"])
def test_a_deletion_with_the_anchor_blanked_or_garbled_stays_found(db: Database, overwritten: str) -> None:
    """Found in review: the deletion above with the anchor overwritten (UPDATE, not DELETE) was found once,
    but an anchor that did not parse was written afresh by orion's next event, at what was left, and verify
    then said "intact". A sequence number in digits that are not ASCII ("²", "３"), or of more digits than a
    64-bit integer holds, is garbled too: "²", 19 digits and 5,000 were each an internal error (exit 1) of
    every command writing an event, `orion halt` included."""
    log = AuditLog(db)
    _fill(log, 5)
    _exec(db, "DELETE FROM audit_events WHERE seq >= 4")
    _exec(db, f"UPDATE orion_meta SET value = '{overwritten}' WHERE key = 'audit_head'")
    found = log.verify()
    assert not found.ok
    if overwritten.partition(":")[0] in ("", "garbage", "x", "²", "9" * 19, "9" * 5000):  # no number to name
        assert "head anchor cannot be read" in (found.problem or "") and "seq -1" not in (found.problem or "")
    _write_one_and_a_batch(db, log)
    again = log.verify()
    assert not again.ok and again.first_bad_seq is not None and again.first_bad_seq <= 4, again


def test_deleting_every_event_with_the_anchor_is_a_log_broken_from_seq_1(db: Database) -> None:
    log = AuditLog(db)
    _fill(log, 3)
    _exec(db, "DELETE FROM audit_events")
    _exec(db, "DELETE FROM orion_meta WHERE key = 'audit_head'")
    result = log.verify()
    assert (result.ok, result.events, result.first_bad_seq) == (False, 0, 1)


def test_a_dropped_anchor_table_is_a_broken_log(db: Database) -> None:
    """The anchor's table dropped: verify reports the log broken after its newest event (exit 7 in the CLI),
    as it does for a dropped audit_events; reading it was a storage error."""
    log = AuditLog(db)
    _fill(log, 3)
    _exec(db, "DROP TABLE orion_meta")
    result = log.verify()
    assert (result.ok, result.events, result.first_bad_seq) == (False, 3, 4)
    assert "orion_meta" in (result.problem or "") and "dropped" in (result.problem or "")


def test_a_dropped_anchor_table_is_a_damaged_ledger_to_every_other_reader(db: Database) -> None:
    """PostgreSQL's "relation does not exist" was an internal error (exit 1); both backends now say the
    ledger is damaged (exit 3, storage_corrupt), naming the table."""
    from orion_cli.core.errors import StorageError
    from orion_cli.store.tables import orion_meta

    _exec(db, "DROP TABLE orion_meta")
    with pytest.raises(StorageError) as info, db.write() as conn:
        conn.execute(select(orion_meta.c.value))
    assert info.value.reason == "storage_corrupt" and "orion_meta table is missing" in info.value.message


def test_time_never_runs_back_along_the_log(db: Database) -> None:
    """Found auditing the log: events stamped with an earlier moment (a reconcile's start, a clock stepped
    back) followed later ones in seq, so `--since` (by time) split what seq keeps together. An event is never
    stamped before the one it follows; one stamped later keeps its own time. Primed or read, alike."""
    from datetime import UTC, datetime, timedelta

    log = AuditLog(db)
    late = datetime.now(UTC) + timedelta(hours=1)
    first = log.record("at.late", {}, actor=ACTOR, now=late)
    earlier = log.record("stamped.earlier", {}, actor=ACTOR, now=late - timedelta(minutes=5))
    assert earlier.ts == first.ts  # not before it
    with db.write() as conn:
        seq, digest, anchor, ts = conn.execute(select(*audit_module.TAIL_COLUMNS)).one()
        audit_module.prime_tail(conn, seq, digest, anchor, ts)
        primed = AuditLog.append(conn, "primed.earlier", {}, actor=ACTOR, now=late - timedelta(seconds=30))
        inside = AuditLog.append(conn, "then.earlier", {}, actor=ACTOR, now=late - timedelta(seconds=40))
    assert primed.ts == inside.ts == first.ts
    later = log.record("later", {}, actor=ACTOR, now=late + timedelta(seconds=1))
    assert later.ts > first.ts
    stamps = [e.ts for e in sorted(log.tail(10), key=lambda e: e.seq)]
    assert stamps == sorted(stamps)
    assert log.verify().ok


def test_an_event_far_ahead_of_the_clock_is_not_followed(db: Database) -> None:
    """One event stamped far ahead (a clock once set a year wrong, a tampered row) must not hold every later event at
    its time: an event is never stamped before the one it follows by at most TS_CLAMP (lock waits, a run's
    seconds); beyond that the time is the clock's."""
    from datetime import UTC, datetime, timedelta

    log = AuditLog(db)
    now = datetime.now(UTC)
    log.record("clock.wrong", {}, actor=ACTOR, now=now + timedelta(days=365))
    after = log.record("clock.right", {}, actor=ACTOR, now=now)
    assert after.ts == iso_utc(now)
    near = log.record("a.little.ahead", {}, actor=ACTOR, now=now + audit_module.TS_CLAMP - timedelta(seconds=1))
    assert log.record("then.now", {}, actor=ACTOR, now=now).ts == near.ts
    with db.write() as conn:  # a newest row whose ts is not a time (altered in place) is not followed either
        conn.execute(text("UPDATE audit_events SET ts = 'garbage' WHERE seq = (SELECT max(seq) FROM audit_events)"))
    assert log.record("after.garbage", {}, actor=ACTOR, now=now).ts == iso_utc(now)
