"""The kill switch: state in the database, sentinel file, the in-transaction guard, audit events."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from orion_cli.core.errors import ExitCode, Halted, Refused
from orion_cli.risk.halt import HaltStatus, KillSwitch, assert_not_halted, status_in
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database, open_database


def _events(db: Database, type_: str) -> list[dict[str, object]]:
    return [e.to_record() for e in AuditLog(db).tail(100, types=(type_,))]


def test_initially_not_halted(db: Database) -> None:
    st = KillSwitch(db).status()
    assert not st.halted
    assert st.to_record() == {"type": "halt", "halted": False, "reason": None, "kind": None, "since": None,
                              "by": None, "sentinel_file": None, "scope": None}
    with db.write() as conn:
        assert_not_halted(conn)  # does not raise


def test_engage_then_release_with_audit_events(db: Database) -> None:
    switch = KillSwitch(db, mode="paper")
    st = switch.engage("venue outage")
    assert st.halted and st.reason == "venue outage" and st.kind == "manual" and st.since
    assert switch.status() == st
    assert {"user", "host", "pid"} <= set(st.by)
    assert st.by["pid"] == os.getpid() and st.by["host"] == socket.gethostname()

    [engaged] = _events(db, "halt.engaged")
    assert engaged["payload"]["reason"] == "venue outage"  # type: ignore[index]
    actor = engaged["actor"]
    assert actor["user"] and actor["host"] == socket.gethostname() and actor["pid"] == os.getpid()  # type: ignore[index]

    released = switch.release()
    assert not released.halted and switch.status().halted is False
    assert released.released is not None and (released.released.reason, released.released.since) == \
        ("venue outage", st.since)  # what `orion resume` alerts
    [rel] = _events(db, "halt.released")
    assert rel["payload"]["reason"] == "venue outage" and rel["payload"]["was_halted"] is True  # type: ignore[index]
    assert {"user", "host", "pid"} <= set(rel["actor"])  # type: ignore[arg-type]
    assert AuditLog(db).verify().ok


def test_engage_is_idempotent_and_keeps_the_first_reason(db: Database) -> None:
    switch = KillSwitch(db)
    first = switch.engage("first")
    second = switch.engage("second")
    assert second.halted and second.reason == "first" and second.since == first.since
    events = _events(db, "halt.engaged")
    assert len(events) == 2
    assert events[1]["payload"]["already_halted"] is True  # type: ignore[index]
    switch.release()
    assert not switch.status().halted  # one release undoes any number of engages


def test_release_when_not_halted_is_harmless(db: Database) -> None:
    st = KillSwitch(db).release()
    assert not st.halted and st.released is None


def test_assert_not_halted_refuses_inside_the_write_transaction(db: Database) -> None:
    KillSwitch(db).engage("stop")
    with pytest.raises(Halted) as info, db.write() as conn:
        AuditLog.append(conn, "order.intent", {"id": "o1"})
        assert_not_halted(conn)
        conn.execute(text("INSERT INTO orion_meta (key, value) VALUES ('order', 'o1')"))
    assert info.value.exit_code == ExitCode.REFUSED == 6
    assert info.value.reason == "HALTED"
    assert "stop" in info.value.message
    # The refused order left nothing behind: its intent event rolled back with it.
    assert _events(db, "order.intent") == []
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM orion_meta WHERE key = 'order'")).scalar_one() == 0


def test_halt_engaged_by_another_host_is_seen_by_the_next_transaction(db_url: str) -> None:
    """Two Database objects on one URL stand for two hosts sharing a ledger."""
    trader, operator = open_database(db_url), open_database(db_url)
    try:
        with trader.write() as conn:
            assert_not_halted(conn)
        KillSwitch(operator).engage("operator pulled the plug")
        assert KillSwitch(trader).status().halted
        with pytest.raises(Halted, match="operator pulled the plug"), trader.write() as conn:
            assert_not_halted(conn)
        KillSwitch(trader).release()
        assert not KillSwitch(operator).status().halted
        with operator.write() as conn:
            assert_not_halted(conn)
    finally:
        trader.dispose()
        operator.dispose()


def test_sentinel_file_halts_without_the_database(db: Database, tmp_path: Path) -> None:
    sentinel = tmp_path / "HALT"
    switch = KillSwitch(db, sentinel_file=str(sentinel))
    assert not switch.status().halted
    sentinel.write_text("maintenance window\n")
    st = switch.status()
    assert st.halted and st.kind == "sentinel" and st.reason == "maintenance window"
    assert st.sentinel == str(sentinel) and st.to_record()["sentinel_file"] == str(sentinel)
    with pytest.raises(Halted) as info, db.write() as conn:
        assert_not_halted(conn, str(sentinel))
    assert str(sentinel) in info.value.message
    # The database row is untouched: only the file halts.
    with db.read() as conn:
        assert not status_in(conn).halted
    sentinel.unlink()
    assert not switch.status().halted
    with db.write() as conn:
        assert_not_halted(conn, str(sentinel))


def test_empty_sentinel_file_still_halts(db: Database, tmp_path: Path) -> None:
    sentinel = tmp_path / "HALT"
    sentinel.touch()
    st = KillSwitch(db, sentinel_file=str(sentinel)).status()
    assert st.halted and st.reason


def test_database_halt_wins_over_sentinel_in_status(db: Database, tmp_path: Path) -> None:
    sentinel = tmp_path / "HALT"
    sentinel.write_text("file")
    switch = KillSwitch(db, sentinel_file=str(sentinel))
    switch.engage("db")
    st = switch.status()
    assert st.halted and st.reason == "db" and st.kind == "manual"


def test_drawdown_halt_needs_breaker_to_release(db: Database) -> None:
    switch = KillSwitch(db)
    switch.engage("drawdown 12% > 10%", kind="drawdown")
    with pytest.raises(Refused) as info:
        switch.release()
    assert info.value.reason == "BREAKER" and info.value.exit_code == 6
    assert switch.status().halted and switch.status().kind == "drawdown"
    assert _events(db, "halt.released") == []
    st = switch.release(breaker=True)
    assert not st.halted
    assert len(_events(db, "halt.released")) == 1


def test_engage_in_the_callers_transaction_rolls_back_with_it(db: Database) -> None:
    switch = KillSwitch(db)
    with pytest.raises(RuntimeError), db.write() as conn:
        switch.engage("unwind failed", kind="unwind", conn=conn)
        raise RuntimeError("boom")
    assert not switch.status().halted
    assert _events(db, "halt.engaged") == []
    with db.write() as conn:
        switch.engage("unwind failed", kind="unwind", conn=conn)
    assert switch.status().kind == "unwind"


def test_a_sentinel_that_cannot_be_checked_counts_as_halted(db: Database, tmp_path: Path,
                                                            unsearchable: Callable[[Path], None]) -> None:
    """Fail closed: a sentinel under a directory orion may not search may exist."""
    sentinel = tmp_path / "locked" / "HALT"
    unsearchable(sentinel.parent)
    st = KillSwitch(db, sentinel_file=str(sentinel)).status()
    assert st.halted and st.kind == "sentinel" and "cannot be checked" in st.reason


def test_a_named_pipe_as_the_sentinel_counts_as_halted_without_blocking(db: Database, tmp_path: Path) -> None:
    """Found by a black-box audit: a FIFO at the sentinel path was opened plainly, which waits for a
    writer: `halt --status`, `reconcile` and `trade --watch` hung (cron's next runs then found the run
    lock held). It exists, so it halts (fail closed); it is not read."""
    import os
    import threading

    sentinel = tmp_path / "stop"
    os.mkfifo(sentinel)
    found: list[HaltStatus] = []
    reader = threading.Thread(target=lambda: found.append(KillSwitch(db, sentinel_file=str(sentinel)).status()),
                              daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # unblock the hung open so the test process can end
        with open(sentinel, "wb"):
            pass
        pytest.fail("the kill switch check blocked on a named pipe")
    (st,) = found
    assert st.halted and st.kind == "sentinel" and st.reason == "sentinel path is not a regular file", st


@pytest.mark.parametrize(("kind", "release"), [("manual", "orion resume --yes"),
                                               ("drawdown", "orion resume --breaker --yes")])
def test_the_hint_under_a_database_halt_and_the_sentinel_file_names_removing_the_file(
        db: Database, tmp_path: Path, kind: str, release: str) -> None:
    """It named `orion resume --yes` alone, which resume refuses while the sentinel file exists."""
    sentinel = tmp_path / "HALT"
    sentinel.write_text("file")
    KillSwitch(db).engage("db", kind=kind)
    with pytest.raises(Halted) as info, db.write() as conn:
        assert_not_halted(conn, str(sentinel))
    assert info.value.hint == ("`orion halt --status` shows who halted and when; removing the sentinel file "
                               f"{sentinel}, then `{release}`, releases it")
    sentinel.unlink()
    with pytest.raises(Halted) as info, db.write() as conn:
        assert_not_halted(conn, str(sentinel))
    assert info.value.hint == f"`orion halt --status` shows who halted and when; `{release}` releases it"


def test_the_hint_under_the_sentinel_file_alone_names_removing_it(db: Database, tmp_path: Path) -> None:
    sentinel = tmp_path / "HALT"
    sentinel.write_text("file")
    with pytest.raises(Halted) as info, db.write() as conn:
        assert_not_halted(conn, str(sentinel))
    assert info.value.hint == ("`orion halt --status` shows who halted and when; removing the sentinel file "
                               f"{sentinel} releases it")


@pytest.mark.parametrize("kind", [None, "manual", "drawdown"])
def test_a_sentinel_path_with_a_space_is_shell_quoted_in_the_release_hint(
        db: Database, tmp_path: Path, kind: str | None) -> None:
    """The hint named `removing the sentinel file /srv/orion halt/HALT`: an operator's `rm` of that text
    removes two other paths (or none) and the halt stays; the path is now quoted as a shell needs it."""
    import shlex

    sentinel = tmp_path / "orion halt" / "HALT file"
    sentinel.parent.mkdir()
    sentinel.write_text("file")
    if kind is not None:
        KillSwitch(db).engage("db", kind=kind)
    with pytest.raises(Halted) as info, db.write() as conn:
        assert_not_halted(conn, str(sentinel))
    assert f"removing the sentinel file {shlex.quote(str(sentinel))}" in (info.value.hint or "")


# -- found by a hand mutation audit of the kill switch: each test below failed with one mutant -------


def test_a_sentinel_file_that_exists_but_cannot_be_read_still_halts(db: Database, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: the file is there (an operator's script made it), only its reason is unreadable
    (permissions, an I/O error). Returning no status there let every order through."""
    from orion_cli.risk import halt as halt_module

    sentinel = tmp_path / "HALT"
    sentinel.write_text("maintenance")
    real_open = os.open

    def refusing_open(path: object, *args: object, **kw: object) -> int:
        if str(path) == str(sentinel):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(halt_module.os, "open", refusing_open)
    st = KillSwitch(db, sentinel_file=str(sentinel)).status()
    assert st.halted and st.kind == "sentinel" and st.reason == "sentinel file present" and st.sentinel == str(sentinel)
    with pytest.raises(Halted), db.write() as conn:
        assert_not_halted(conn, str(sentinel))


def test_engage_while_the_sentinel_file_exists_names_it(db: Database, tmp_path: Path) -> None:
    """`orion halt` tells the operator that `orion resume` will refuse until the file is removed."""
    sentinel = tmp_path / "HALT"
    sentinel.write_text("file")
    st = KillSwitch(db, sentinel_file=str(sentinel)).engage("db")
    assert st.halted and st.kind == "manual" and st.sentinel == str(sentinel)


def test_release_of_a_drawdown_trip_leaves_an_ordinary_switch(db: Database) -> None:
    """Released, the kind goes back to manual: a switch left as a released drawdown kind would ask
    a later ordinary halt's release for --breaker (and the record would name a trip no longer there)."""
    switch = KillSwitch(db)
    switch.engage("drawdown 12%", kind="drawdown")
    st = switch.release(breaker=True)
    assert not st.halted and st.kind == "manual" and st.released is not None and st.released.kind == "drawdown"


def test_the_release_steps_and_the_unusual_release_name_the_sentinel_file_under_a_database_halt(
        db: Database, tmp_path: Path) -> None:
    """A plain `orion resume` releases nothing while the file exists: every hint names removing it."""
    from orion_cli.risk.halt import halted_where, release_steps, unusual_release

    sentinel = tmp_path / "HALT"
    sentinel.write_text("file")
    switch = KillSwitch(db, sentinel_file=str(sentinel))
    switch.engage("db")
    st = switch.status()
    assert release_steps(st) == f"remove the sentinel file {sentinel}, then run `orion resume --yes`"
    assert unusual_release(st) == f"removing the sentinel file {sentinel}, then `orion resume --yes`, releases it"
    assert halted_where(st) == f"kind manual; also the sentinel file {sentinel}"
    sentinel.unlink()
    st = switch.status()
    assert release_steps(st) == "run `orion resume --yes`" and unusual_release(st) is None
    assert halted_where(st) == "kind manual"


def test_a_halt_whose_by_was_altered_into_another_json_value_reads_as_unreadable(db: Database) -> None:
    """Who engaged it is shown as a mapping everywhere (`halt --status`, alerts): a damaged ``by``
    holding a JSON list must not reach them as one; the halt itself stays readable and releasable."""
    switch = KillSwitch(db)
    switch.engage("db")
    from sqlalchemy import update

    from orion_cli.store.tables import halt_state

    with db.write() as conn:
        conn.execute(update(halt_state).where(halt_state.c.id == 1).values(by="[1, 2]"))
    st = switch.status()
    assert st.halted and st.reason == "db" and st.by == {"unreadable": True}
    assert not switch.release().halted


# -- a halt of paper trading only ------------------------------------------------------------------


def test_a_halt_orion_engages_for_paper_trading_halts_paper_trading_only(db: Database) -> None:
    """Found reviewing paper against live on one ledger: a paper drill's loss-breaker trip engaged the one kill
    switch, which halted live trading, even between a live trade's legs (its first leg sold back at a real loss).
    Engaged by orion for paper trading, a halt stops paper trading only; a person's halt stops both."""
    st = KillSwitch(db, mode="paper").engage("paper loss breaker tripped", kind="breaker", automatic=True)
    assert st.halted and st.scope == "paper" and st.to_record()["scope"] == "paper"
    assert KillSwitch(db, mode="paper").status() == st  # as `halt --status` shows it: halted
    assert not KillSwitch(db, mode="live").status(trading=True).halted
    assert KillSwitch(db, mode="paper").status(trading=True).halted
    with db.write() as conn:
        assert_not_halted(conn, mode="live")  # does not raise
        with pytest.raises(Halted, match=r"^paper trading is halted: paper loss breaker tripped"):
            assert_not_halted(conn, mode="paper")
        with pytest.raises(Halted):
            assert_not_halted(conn)  # no mode: any halt
    [engaged] = _events(db, "halt.engaged")
    assert engaged["payload"] == {"reason": "paper loss breaker tripped", "kind": "breaker", "scope": "paper"}
    assert "scope" not in engaged["actor"]  # who engaged it, as every event's actor
    # Engaged by live trading, orion's own halt stops both.
    KillSwitch(db, mode="paper").release()
    assert KillSwitch(db, mode="live").engage("live unwind failed", kind="unwind", automatic=True).scope is None
    assert KillSwitch(db, mode="paper").status(trading=True).halted
    # The log says each halt's scope, whatever the event's mode: a person's `orion halt` (paper, the default
    # mode) that stops live trading read as paper to a `select(.mode == "live")` (found in review).
    KillSwitch(db, mode="paper").release()
    KillSwitch(db, mode="paper").engage("by hand")
    KillSwitch(db, mode="paper").engage("again")
    KillSwitch(db, mode="paper").release()
    scopes = [e["payload"]["scope"] for e in _events(db, "halt.engaged")]
    assert scopes == ["paper", "all", "all", "all"], scopes
    was = [e["payload"]["was_scope"] for e in _events(db, "halt.released")]
    assert was == ["paper", "all", "all"], was


@pytest.mark.parametrize("how", ["person", "live"])
def test_a_halt_of_both_engaged_over_a_paper_only_one_widens_it_and_keeps_a_drawdown_release(
        db: Database, how: str) -> None:
    KillSwitch(db, mode="paper").engage("paper drawdown tripped", kind="drawdown", automatic=True)
    if how == "person":
        st = KillSwitch(db, mode="paper").engage("going home")
    else:
        st = KillSwitch(db, mode="live").engage("live loss breaker tripped", kind="breaker", automatic=True)
    assert st.halted and st.scope is None and st.kind == "drawdown", st  # released only with --breaker
    assert "paper trading was halted before: paper drawdown tripped" in st.reason, st.reason
    assert KillSwitch(db, mode="live").status(trading=True).halted
    widened = _events(db, "halt.engaged")[-1]
    assert widened["payload"]["widened_from_paper"] is True
    with pytest.raises(Refused, match="--breaker"):
        KillSwitch(db).release()
    assert not KillSwitch(db).release(breaker=True).halted
