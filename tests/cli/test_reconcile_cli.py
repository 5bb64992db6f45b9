"""``orion reconcile``: exit codes 0/7/5/6, JSON, the metrics file, cron conditions and the overlap lock.

The command is mounted on a private copy of the root app (same callback, same error boundary), so these
tests do not depend on its registration in orion_cli/cli/app.py. Drift and outages are injected by
replacing the paper venue the command builds with a subclass that reports something else.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from typer.testing import CliRunner
from venue_down_snapshot import DOWN_REASON, write_venue_down_snapshot

from orion_cli.cli.app import OrionGroup, root
from orion_cli.cli.commands import reconcile as reconcile_cmd
from orion_cli.core.errors import AuthError, VenueUnavailable
from orion_cli.core.metrics import write_atomic
from orion_cli.core.models import Side, Venue
from orion_cli.core.runlock import RunLock
from orion_cli.risk.halt import KillSwitch
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database
from orion_cli.venues import paper as paper_mod
from orion_cli.venues.trading import Fill, Geoblocked, OrderState, OrderStatus, Position

ROOT = Path(__file__).resolve().parents[2]


def _app() -> typer.Typer:
    app = typer.Typer(cls=OrionGroup)
    app.callback()(root)
    app.command("reconcile")(reconcile_cmd.reconcile_command)
    app.command("noop", hidden=True)(lambda: None)  # a group of one command would swallow the command name
    return app


APP = _app()


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(APP, list(args))


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    """A ledger that exists, as `orion init` leaves it (reconcile refuses one named but missing)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    open_database(url).dispose()
    return url


@pytest.fixture
def drifting(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Make the paper venues report an extra position (drift) or fail (outage), per venue; ``found``
    scripts what an order lookup answers, by client order id."""
    script: dict[str, Any] = {"extra": {}, "down": set(), "rejecting": set(), "blocking": set(), "found": {},
                              "transfers": {}}

    def fail(venue: Venue) -> None:
        if venue in script["blocking"]:
            raise Geoblocked("Polymarket's firewall refused GET /positions from this host (HTTP 403); the "
                             "request never reached Polymarket", hint="trade from a permitted location and network")
        if venue in script["rejecting"]:
            raise AuthError(f"{venue.value} rejected our credentials for GET /portfolio/positions: HTTP 401")
        if venue in script["down"]:
            raise VenueUnavailable(venue.value, "HTTP 503 after 3 attempts")

    class Scripted(paper_mod.PaperVenue):
        async def positions(self) -> list[Position]:
            fail(self.venue)
            return [*await super().positions(), *script["extra"].get(self.venue, [])]

        async def fills(self, **kw: Any) -> list[Fill]:
            fail(self.venue)
            return await super().fills(**kw)

        async def find_order(self, client_order_id: str, venue_order_id: str = "") -> OrderState | None:
            found: OrderState | None = script["found"].get(client_order_id)
            return found or await super().find_order(client_order_id, venue_order_id)

        async def transfers(self) -> None:
            error: Exception | None = script["transfers"].get(self.venue)
            if error is not None:
                raise error
            return await super().transfers()

    monkeypatch.setattr(paper_mod, "PaperVenue", Scripted)
    return script


def _extra(venue: Venue = Venue.KALSHI) -> Position:
    return Position(venue, "KXNBA-26-NYK", Side.YES, D("3"), D("0.30"), D("0.9"))


# -- exit codes -------------------------------------------------------------------------------


def test_clean_is_exit_0_with_one_reconcile_record_per_venue(db_file: str) -> None:
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 0, res.output
    recs = json.loads(res.stdout)
    assert [(r["type"], r["venue"], r["status"], r["drifts"]) for r in recs] == [
        ("reconcile", "kalshi", "clean", []), ("reconcile", "polymarket", "clean", [])]
    assert recs[0]["mode"] == "paper" and recs[0]["balance"]["available"] == "1000"
    db = open_database(db_file)
    assert [e.type for e in AuditLog(db).tail(10, types=("reconcile",))] == ["reconcile.clean"] * 2
    db.dispose()


def test_a_bare_reconcile_after_demo_trades_hints_the_demo_data_they_were_made_on(
        db_file: str, drifting: dict[str, Any]) -> None:
    """Found in review: after `orion trade ID --demo --confirm`, a bare `orion reconcile` read the live
    venues for the demo positions (offline: exit 5 and no hint) and nothing said the trades were made on
    the demo data set. The hint names `orion reconcile --demo`, which run as printed is clean; a run
    reading that data says nothing more."""
    from orion_cli.cli.app import app as orion_app

    def orion(*args: str) -> Any:
        return CliRunner().invoke(orion_app, ["--db", db_file, *args])

    scan = orion("scan", "--demo", "--jsonl")
    assert scan.exit_code == 0, scan.output
    op = json.loads(scan.stdout.splitlines()[0])["id"]
    traded = orion("trade", op, "--demo", "--confirm", "--size", "10")
    assert traded.exit_code == 0, traded.output
    drifting["down"] |= {Venue.KALSHI, Venue.POLYMARKET}  # the live venues, as offline
    res = _invoke("--db", db_file, "reconcile")
    assert res.exit_code == 5, res.output
    hint = next(line for line in res.stderr.splitlines() if line.startswith("hint: "))
    assert hint == ("hint: the paper ledger's latest trade was made on the demo data set, and this run read the "
                    f"live venues: `orion --db {db_file} reconcile --demo` reconciles it on the data it was priced "
                    "on"), res.stderr
    drifting["down"].clear()
    res = _invoke(*hint.split("`")[1].split()[1:])  # as printed
    assert res.exit_code == 0 and "the paper ledger's latest trade" not in res.stderr, res.output


def test_no_venue_enabled_is_a_config_error_not_clean(db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by black-box testing: with both venues disabled, reconcile compared nothing and said
    "clean" (exit 0), which a cron job reads as "every venue agrees"."""
    monkeypatch.setenv("ORION__KALSHI__ENABLED", "false")
    monkeypatch.setenv("ORION__POLYMARKET__ENABLED", "false")
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 3, res.output
    assert json.loads(res.stderr.strip().splitlines()[-1])["reason"] == "no_venue"
    named = _invoke("--db", db_file, "reconcile", "--demo", "--venue", "kalshi", "--json")
    assert named.exit_code == 0, named.output  # named explicitly, a disabled venue is still reconciled


def test_no_venue_enabled_is_the_error_every_command_gives_naming_the_keys_and_the_venue_option(
        db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: reconcile built its own "no venue is enabled" error, whose hint ("enable a venue")
    named no key to set, beside the one scan, markets, snapshot record and trade --watch give. It gives
    that one now (the keys and their environment variable), with its own way round: --venue."""
    from orion_cli.core.config import no_venue_enabled

    monkeypatch.setenv("ORION__KALSHI__ENABLED", "false")
    monkeypatch.setenv("ORION__POLYMARKET__ENABLED", "false")
    res = _invoke("--db", db_file, "reconcile", "--demo")
    assert res.exit_code == 3, res.output
    shared = no_venue_enabled(tuple(Venue))
    assert f"error: {shared.message}" in res.stderr, res.stderr
    assert f"hint: {shared.hint}; or name one with --venue" in res.stderr, res.stderr
    assert "ORION__KALSHI__ENABLED=true" in res.stderr


def test_drift_is_exit_7_with_the_drift_in_the_record(db_file: str, drifting: dict[str, Any]) -> None:
    drifting["extra"][Venue.KALSHI] = [_extra()]
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 7, res.output
    recs = {r["venue"]: r for r in json.loads(res.stdout)}
    assert recs["polymarket"]["status"] == "clean"
    (drift,) = recs["kalshi"]["drifts"]
    assert drift == {**drift, "type": "drift", "kind": "position", "market": "KXNBA-26-NYK", "side": "yes",
                     "ledger_qty": "0", "venue_qty": "3", "value": "0.9", "fixed": False}
    err = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert err == [{"type": "error", "exit_code": 7, "reason": "drift", "message": err[0]["message"]}]
    assert "kalshi" in err[0]["message"]
    # the hint runs as given: on this ledger (--db), on the same data (--demo)
    assert f"`orion --db {db_file} reconcile --demo --fix` adopts" in res.stderr


def _interrupted_paper_execution(db_file: str, status: str, result: str = "{}", coid: str = "c-1") -> None:
    """Paper execution k-stuck (of op123456) left at ``status``: its first leg, 3 Kalshi YES, filled, and
    nothing on the other leg. ``coid``: the first leg's client order id (``k-stuck-l1`` tags it the
    executor's first leg)."""
    from sqlalchemy import insert

    from orion_cli.store.ledger import Ledger
    from orion_cli.store.tables import executions
    from orion_cli.venues.trading import Action, OrderRequest, OrderStatus, PreparedOrder, TimeInForce

    db = open_database(db_file)
    try:
        at = "2026-11-22T09:00:00Z"
        with db.write() as conn:
            conn.execute(insert(executions), {"key": "k-stuck", "opportunity_id": "op123456", "mode": "paper",
                                              "status": status, "size": D(3), "plan": "{}", "result": result,
                                              "created_at": at, "updated_at": at})
        ledger = Ledger(db, "paper")
        ledger.ensure_balance(Venue.KALSHI, D(1000))
        req = OrderRequest(Venue.KALSHI, "KXNBA-26-NYK", Side.YES, Action.BUY, D(3), D("0.30"), TimeInForce.FOK, coid)
        ledger.record_intent(PreparedOrder(req, "{}"), execution_id="k-stuck")
        fill = Fill(Venue.KALSHI, "f-1", "v-1", "KXNBA-26-NYK", Side.YES, Action.BUY, D(3), D("0.30"), D(0),
                    datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
        ledger.transition(coid, OrderStatus.FILLED, venue_order_id="v-1", fills=[fill])
    finally:
        db.dispose()


def test_an_interrupted_execution_is_drift_whose_hint_is_to_resume_it(db_file: str) -> None:
    """Found by black-box testing: the hint said `reconcile --fix` adopts the venue's truth, while the
    drift itself says reconcile does not fix it (a resume finishes an execution)."""
    _interrupted_paper_execution(db_file, "leg2_sent")
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 7, res.output
    drifts = [d for r in json.loads(res.stdout) for d in r["drifts"]]
    assert [(d["kind"], d["ledger_qty"], d["venue_qty"]) for d in drifts] == [("execution", "3", "0")]
    assert "resume each interrupted execution" in res.stderr and "--fix` adopts" not in res.stderr


def _undecided_order(db_file: str, drifting: dict[str, Any], monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    """A first leg sent at ``at`` that the venue keeps `delayed`, of an execution no process drives."""
    from sqlalchemy import insert

    from orion_cli.store.ledger import Ledger
    from orion_cli.store.tables import executions
    from orion_cli.venues.trading import Action, OrderRequest, PreparedOrder, TimeInForce

    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    db = open_database(db_file)
    try:
        with db.write() as conn:
            conn.execute(insert(executions), {"key": "k-late", "opportunity_id": "op123456", "mode": "paper",
                                              "status": "leg1_sent", "size": D(3), "plan": "{}", "result": "{}",
                                              "created_at": stamp, "updated_at": stamp})
        ledger = Ledger(db, "paper")
        req = OrderRequest(Venue.KALSHI, "KXNBA-26-NYK", Side.YES, Action.BUY, D(3), D("0.30"), TimeInForce.FOK,
                           "k-late-l1")
        ledger.record_intent(PreparedOrder(req, "{}", venue_ref="v-late"), execution_id="k-late", now=at)
        ledger.mark_submitted("k-late-l1", now=at)
    finally:
        db.dispose()
    drifting["found"]["k-late-l1"] = OrderState(
        Venue.KALSHI, "k-late-l1", "v-late", OrderStatus.SUBMITTED, "KXNBA-26-NYK", Side.YES, Action.BUY, D(3), D(0),
        None, D(0), D("0.30"), at, (), venue_status="delayed")
    # As a live venue answers: the paper venue's own undecided order is one it never settled (closed).
    monkeypatch.setattr(paper_mod.PaperVenue, "mode", property(lambda self: "live"))


def test_an_undecided_order_no_process_drives_is_drift_whose_hint_is_its_resume_not_fix(
        db_file: str, drifting: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Found black-box: a first leg the venue kept `delayed` after its trade was killed was pending and
    "clean", exit 0, on every run. Past the grace period it is drift, exit 7, and the hint is its
    execution's resume: --fix adopts no truth the venue has not decided."""
    _undecided_order(db_file, drifting, monkeypatch, datetime(2026, 11, 22, 9, 0, tzinfo=UTC))  # past the grace
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 7, res.output
    (drift,) = [d for r in json.loads(res.stdout) for d in r["drifts"]]
    assert (drift["kind"], drift["ref"], drift["fixed"]) == ("order", "k-late-l1", False), drift
    assert drift["detail"].endswith("resume it with `orion --db " + db_file + " trade op123456 --confirm "
                                    "--idempotency-key k-late --demo`"), drift["detail"]
    assert "hint: resume each interrupted execution with the command its drift names" in res.stderr, res.stderr
    assert "--fix` adopts" not in res.stderr, res.stderr


def test_a_run_that_leaves_something_pending_does_not_say_the_ledger_and_venues_agree(
        db_file: str, drifting: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: a run that left a difference pending (inside the grace period) printed "clean: the
    ledger and the venues agree", though it had not compared it. Still exit 0 (no drift), it says what is
    pending."""
    _undecided_order(db_file, drifting, monkeypatch, datetime.now(UTC) - timedelta(seconds=10))
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 0, res.output
    assert [len(r["pending"]) for r in json.loads(res.stdout) if r["pending"]] == [1], res.stdout
    assert "clean: no drift found; 1 item pending" in res.stderr and "agree" not in res.stderr, res.stderr


@pytest.mark.parametrize(("halt", "result", "sells_back"), [
    ("--halt-on-drift", "{}", True),  # the run halts for it
    ("halted before", "{}", True),
    ("tripped before", "{}", True),  # a drawdown trip: its release needs --breaker
    ("--halt-on-drift tripped before", "{}", True),  # the trip's halt is kept
    ("", "{}", False),  # not halted: the resume hedges
    # its unwind had begun: the resume sells back, halted or not, and releasing the halt changes nothing
    ("--halt-on-drift", json.dumps({"intents": {"u1": {"leg": "first"}}}), False),
])
def test_while_halted_an_interrupted_executions_drift_says_its_resume_would_sell_the_leg_back(
        db_file: str, halt: str, result: str, sells_back: bool) -> None:
    """Found by black-box testing: `reconcile --halt-on-drift` halted for an execution killed between its
    legs and said "resume each interrupted execution with the command its drift names"; the drift named
    `orion trade OP --confirm --idempotency-key op-OP --demo`, which, run while halted, sold the filled
    first leg back at a loss (a halt sends no further buy) where `orion resume` first would have hedged it.
    Both now say so while halted, naming the release as a script must type it: "run `orion resume`
    first" named a command that, without a terminal, refuses (exit 6, pass --yes), and after a drawdown
    trip refuses for --breaker too."""
    from orion_cli.execution.state import HALT_SELLS_BACK

    _interrupted_paper_execution(db_file, "leg2_sent", result, coid="k-stuck-l1")
    if halt.endswith("before"):
        db = open_database(db_file)
        try:
            KillSwitch(db).engage("by hand", kind="drawdown" if "tripped" in halt else "manual")
        finally:
            db.dispose()
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json",
                  *(["--halt-on-drift"] if halt.startswith("--") else []))
    assert res.exit_code == 7, res.output
    (drift,) = [d for r in json.loads(res.stdout) for d in r["drifts"]]
    # Each command named carries this run's --db: run as printed, it acts on this ledger.
    command = f"`orion --db {db_file} trade op123456 --confirm --idempotency-key k-stuck --demo`"
    hint = [line for line in res.stderr.splitlines() if line.startswith("hint:")]
    release = "resume --breaker --yes" if "tripped" in halt else "resume --yes"
    if sells_back:
        advice = f"{HALT_SELLS_BACK}; run `orion --db {db_file} {release}` first"
        assert drift["detail"].endswith(f"0 on the other leg; {advice}, then resume it with {command} "
                                        "to hedge it"), drift["detail"]
        assert hint == [f"hint: {advice}, then resume each interrupted execution with the command its "
                        "drift names"], res.stderr
    else:
        assert drift["detail"].endswith(f"0 on the other leg; resume it with {command}"), drift["detail"]
        assert hint == ["hint: resume each interrupted execution with the command its drift names"], res.stderr


def test_a_halted_execution_whose_unhedged_legs_market_settled_is_named_to_end_by_its_resume(db_file: str) -> None:
    """Found in review: a halted execution's naked leg whose market then settled (reconcile recorded its
    payout) was still named with "resuming would sell the leg back; release the halt first": the resume
    now ends it sending nothing (the payout closed the shares), halted or not, and the drift says so."""
    from orion_cli.store.ledger import Ledger
    from orion_cli.venues.trading import Settlement

    _interrupted_paper_execution(db_file, "halted", json.dumps({"message": "unwind sold 0 of 3 shares"}),
                                 coid="k-stuck-l1")
    db = open_database(db_file)
    try:
        assert Ledger(db, "paper").record_settlement(Settlement(Venue.KALSHI, "KXNBA-26-NYK", D(1),
                                                                datetime(2026, 11, 23, tzinfo=UTC))) is not None
        KillSwitch(db).engage("by hand")
    finally:
        db.dispose()
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 7, res.output
    (drift,) = [d for r in json.loads(res.stdout) for d in r["drifts"]]
    command = f"`orion --db {db_file} trade op123456 --confirm --idempotency-key k-stuck --demo`"
    assert drift["detail"].endswith(
        "0 on the other leg; its market has settled since (the ledger holds its payout), so nothing is left to "
        f"hedge or sell: resume it with {command} to end it, sending nothing"), drift["detail"]
    hint = [line for line in res.stderr.splitlines() if line.startswith("hint:")]
    assert hint == ["hint: resume each interrupted execution with the command its drift names"], res.stderr
    from orion_cli.cli.app import app

    released = CliRunner().invoke(app, ["--db", db_file, "resume", "--yes"])
    assert released.exit_code == 0, released.output
    said = " ".join(released.stderr.split())
    assert "its market has settled since, so nothing is left to hedge or sell: resume it with `orion" in said, said
    assert said.endswith("to end it, sending nothing"), said
    from orion_cli.core.reconcile import resume_sells_back

    db = open_database(db_file)
    try:  # what trade's messages ask while halted: the resume sells nothing back
        KillSwitch(db).engage("by hand")
        assert not resume_sells_back(db, "k-stuck", "halted", "{}")
    finally:
        db.dispose()


@pytest.mark.parametrize("released", [False, True])
def test_a_halted_execution_left_unhedged_is_drift_for_cron_also_after_resume(
        db_file: str, tmp_path: Path, released: bool) -> None:
    """Found by black-box testing: after a failed unwind the execution ended `halted` with its first leg
    held; once `orion resume` released the kill switch, `orion reconcile --halt-on-drift` said "clean"
    (exit 0, metrics drifts 0, nothing halted) while `trade --watch` refused to trade beside it as
    interrupted. A cron job saw all green with a naked leg held."""
    _interrupted_paper_execution(db_file, "halted", json.dumps({"message": "unwind sold 0 of 3 shares; 3 remain "
                                                                            "unhedged"}))
    db = open_database(db_file)
    try:
        switch = KillSwitch(db)
        switch.engage("execution k-stuck: unwind sold 0 of 3 shares; 3 remain unhedged", kind="unwind")
        if released:
            switch.release()
    finally:
        db.dispose()
    prom = tmp_path / "orion.prom"
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--halt-on-drift", "--metrics-file", str(prom))
    assert res.exit_code == 7, res.output
    (drift,) = [d for r in json.loads(res.stdout) for d in r["drifts"]]
    assert (drift["venue"], drift["kind"], drift["ledger_qty"], drift["venue_qty"], drift["ref"]) == (
        "kalshi", "execution", "3", "0", "k-stuck")
    assert "execution k-stuck was interrupted at halted" in drift["detail"], drift["detail"]
    assert (f"resume it with `orion --db {db_file} trade op123456 --confirm --idempotency-key k-stuck --demo`"
            in drift["detail"]), drift["detail"]
    assert "resume each interrupted execution" in res.stderr
    assert "HALTED: drift found with --halt-on-drift" in res.stderr
    samples = dict(line.rsplit(" ", 1) for line in prom.read_text().splitlines() if line and line[0] != "#")
    assert samples['orion_reconcile_drifts{venue="kalshi",mode="paper"}'] == "1"
    assert samples["orion_halted"] == "1" and samples["orion_reconcile_exit_code"] == "7"
    db = open_database(db_file)
    try:
        st = KillSwitch(db).status()
        events = [e.type for e in AuditLog(db).tail(50)]
    finally:
        db.dispose()
    assert st.halted and st.kind == ("reconcile" if released else "unwind"), st
    assert events.count("reconcile.execution_interrupted") == 1


@pytest.mark.parametrize("status", ["failed", "done"])
def test_an_ended_execution_holding_one_leg_is_drift_for_cron_on_every_run(db_file: str, tmp_path: Path,
                                                                          status: str) -> None:
    """Found in review: an execution ended (`failed` "no exposure", or `done`) with its first leg filled and
    nothing on the other, the venue agreeing share for share: `orion reconcile` said clean, exit 0, on every
    cron run. It is drift (exit 7, the metrics' drift count, --halt-on-drift), naming the execution, what
    its legs hold and where to look; the hint says it is not resumed but hedged or closed by hand."""
    _interrupted_paper_execution(db_file, status, coid="k-stuck-l1")
    prom = tmp_path / "orion.prom"
    for _ in range(2):  # every cron run
        res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--halt-on-drift", "--metrics-file", str(prom))
        assert res.exit_code == 7, res.output
        (drift,) = [d for r in json.loads(res.stdout) for d in r["drifts"]]
        assert (drift["venue"], drift["kind"], drift["market"], drift["ledger_qty"], drift["venue_qty"], drift["value"],
                drift["ref"], drift["fixed"]) == ("kalshi", "execution", "KXNBA-26-NYK", "3", "0", "0.9", "k-stuck",
                                                   False), drift
        assert f"execution k-stuck has ended {status}" in drift["detail"], drift["detail"]
        assert "3 held on kalshi (KXNBA-26-NYK yes, the first leg), 0 on the other leg: 3 unhedged" in drift["detail"]
        look = (f"`orion --db {db_file} audit tail --since 2026-11-22T09:00:00Z --json | jq -c "
                "'select(.payload.key == \"k-stuck\" or .payload.execution_id == \"k-stuck\")'`")
        assert look in drift["detail"], drift["detail"]
        assert "an execution that has ended is not resumed" in res.stderr, res.stderr
        assert "resume each interrupted execution" not in res.stderr, res.stderr
        samples = dict(line.rsplit(" ", 1) for line in prom.read_text().splitlines() if line and line[0] != "#")
        assert samples['orion_reconcile_drifts{venue="kalshi",mode="paper"}'] == "1"
        assert samples["orion_halted"] == "1" and samples["orion_reconcile_exit_code"] == "7"
    db = open_database(db_file)
    try:
        events = [e.type for e in AuditLog(db).tail(50)]
    finally:
        db.dispose()
    assert events.count("reconcile.execution_unhedged") == 2 and "reconcile.execution_interrupted" not in events


def test_drift_table_on_stdout_names_market_quantities_and_value(db_file: str, drifting: dict[str, Any]) -> None:
    drifting["extra"][Venue.KALSHI] = [_extra()]
    res = _invoke("--db", db_file, "reconcile", "--demo", "--format", "table")
    assert res.exit_code == 7
    assert "KXNBA-26-NYK" in res.stdout and "ledger qty" in res.stdout and "0.9" in res.stdout
    assert "\x1b[" not in res.stdout + res.stderr


def test_unreachable_venue_is_exit_5_and_drift_elsewhere_wins(db_file: str, drifting: dict[str, Any]) -> None:
    drifting["down"].add(Venue.POLYMARKET)
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 5, res.output
    recs = {r["venue"]: r for r in json.loads(res.stdout)}
    assert recs["polymarket"]["status"] == "unavailable" and "503" in recs["polymarket"]["reason"]
    assert recs["kalshi"]["status"] == "clean"
    # Found black-box: the warning and the error said "polymarket unavailable: polymarket unavailable: …"
    # (the reason was the VenueUnavailable's whole message); the reason is now its cause, said once.
    assert recs["polymarket"]["reason"] == "HTTP 503 after 3 attempts"
    said = [ln for ln in res.stderr.splitlines() if "HTTP 503" in ln]
    assert "warning: polymarket unavailable: HTTP 503 after 3 attempts" in said, res.stderr
    assert "error: polymarket unavailable: HTTP 503 after 3 attempts" in said, res.stderr
    assert "unavailable: polymarket unavailable" not in res.stderr
    drifting["extra"][Venue.KALSHI] = [_extra()]
    assert _invoke("--db", db_file, "reconcile", "--demo", "--json").exit_code == 7


def test_a_venue_refusing_our_credentials_is_exit_4_not_an_outage(db_file: str, drifting: dict[str, Any],
                                                                   tmp_path: Path) -> None:
    """Found by black-box testing: a 401 (a revoked or rotated key) was reported as the venue unavailable,
    exit 5, which the README's systemd unit counts as success, so the unit never failed."""
    drifting["rejecting"].add(Venue.POLYMARKET)
    prom = tmp_path / "orion.prom"
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--metrics-file", str(prom))
    assert res.exit_code == 4, res.output
    recs = {r["venue"]: r for r in json.loads(res.stdout)}
    assert recs["polymarket"]["status"] == "unavailable" and "401" in recs["polymarket"]["reason"]
    assert recs["kalshi"]["status"] == "clean"
    assert "orion_reconcile_exit_code 4" in prom.read_text()
    assert '"reason":"auth"' in res.stderr.replace(" ", "") and "API key" in res.stderr
    drifting["down"].add(Venue.KALSHI)  # an outage beside it: the key still decides
    assert _invoke("--db", db_file, "reconcile", "--demo", "--json").exit_code == 4
    drifting["down"].clear()
    drifting["extra"][Venue.KALSHI] = [_extra()]  # a drift still wins
    assert _invoke("--db", db_file, "reconcile", "--demo", "--json").exit_code == 7


def test_a_venue_refusing_this_hosts_location_is_exit_6_geoblocked_not_an_outage(
        db_file: str, drifting: dict[str, Any], tmp_path: Path) -> None:
    """Found in review: a Polymarket firewall's refusal of this host was exit 5, an outage the README's
    systemd unit counts as success and cron waits out, where `trade` refuses it with exit 6 (GEOBLOCKED):
    a host to move. The venue is unavailable (never clean, never drift) and the JSON says why."""
    drifting["blocking"].add(Venue.POLYMARKET)
    prom = tmp_path / "orion.prom"
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--metrics-file", str(prom))
    assert res.exit_code == 6, res.output
    recs = {r["venue"]: r for r in json.loads(res.stdout)}
    assert (recs["polymarket"]["status"], recs["polymarket"]["refusal"]) == ("unavailable", "GEOBLOCKED")
    assert "firewall" in recs["polymarket"]["reason"] and recs["polymarket"]["drifts"] == []
    assert (recs["kalshi"]["status"], recs["kalshi"]["refusal"]) == ("clean", None)
    assert "orion_reconcile_exit_code 6" in prom.read_text()
    error = json.loads(res.stderr.strip().splitlines()[-1])
    assert (error["exit_code"], error["reason"]) == (6, "GEOBLOCKED") and "permitted location" in res.stderr
    drifting["down"].add(Venue.KALSHI)  # an outage beside it: the refusal still decides
    assert _invoke("--db", db_file, "reconcile", "--demo", "--json").exit_code == 6
    drifting["down"].clear()
    drifting["rejecting"].add(Venue.KALSHI)  # a key to fix beside it: exit 4, as without it
    assert _invoke("--db", db_file, "reconcile", "--demo", "--json").exit_code == 4
    drifting["rejecting"].clear()
    drifting["extra"][Venue.KALSHI] = [_extra()]  # a drift still wins
    assert _invoke("--db", db_file, "reconcile", "--demo", "--json").exit_code == 7


def test_a_transfers_read_with_no_answer_is_exit_5_or_4_not_drift(db_file: str, drifting: dict[str, Any]) -> None:
    """Found in review (rev1): an outage of the deposits/withdrawals endpoints was `transfers` drift: exit 7,
    which cron acts on as the ledger being wrong (and --halt-on-drift halted). No answer is the venue
    unavailable (exit 5); a refusal of our credentials there is exit 4, as on any other read."""
    drifting["transfers"][Venue.KALSHI] = VenueUnavailable("kalshi", "GET /portfolio/deposits: HTTP 503")
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--halt-on-drift")
    assert res.exit_code == 5, res.output
    recs = {r["venue"]: r for r in json.loads(res.stdout)}
    assert (recs["kalshi"]["status"], recs["kalshi"]["drifts"], recs["kalshi"]["refusal"]) == ("unavailable", [], None)
    assert "deposits and withdrawals" in recs["kalshi"]["reason"] and recs["polymarket"]["status"] == "clean"
    db = open_database(db_file)
    assert not KillSwitch(db).status().halted
    db.dispose()
    drifting["transfers"][Venue.KALSHI] = AuthError("kalshi rejected our credentials for GET /portfolio/deposits")
    rejected = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert rejected.exit_code == 4, rejected.output
    assert json.loads(rejected.stdout)[0]["refusal"] == "auth"


def test_every_venue_failing_names_each_venue_beside_its_own_cause(db_file: str, drifting: dict[str, Any]) -> None:
    """Found in review: with every venue failing, the error joined their reasons with "; " unlabelled:
    "kalshi, polymarket unavailable: HTTP 503 after 3 attempts; HTTP 503 after 3 attempts", and a refusal
    of our credentials read "could not read the venue's deposits and withdrawals: …" twice, so which venue
    said what was lost. Each cause is now labelled with its venue, once (never "polymarket: Polymarket's…")."""
    drifting["down"].update({Venue.KALSHI, Venue.POLYMARKET})
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert res.exit_code == 5, res.output
    error = json.loads(res.stderr.strip().splitlines()[-1])
    assert error["message"] == ("kalshi, polymarket unavailable: kalshi: HTTP 503 after 3 attempts; "
                                "polymarket: HTTP 503 after 3 attempts"), error
    text = _invoke("--db", db_file, "reconcile", "--demo")
    assert "error: kalshi, polymarket unavailable: kalshi: HTTP 503 after 3 attempts; polymarket: HTTP 503" \
        in text.stderr, text.stderr
    drifting["down"].clear()

    for venue in Venue:  # a cause that does not name its venue: labelled, on exit 4 too
        drifting["transfers"][venue] = AuthError("rejected our credentials for GET /portfolio/deposits: HTTP 401")
    rejected = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert rejected.exit_code == 4, rejected.output
    message = json.loads(rejected.stderr.strip().splitlines()[-1])["message"]
    assert message.startswith("kalshi: could not read the venue's deposits and withdrawals: rejected"), message
    assert "; polymarket: could not read the venue's deposits and withdrawals: rejected" in message, message
    drifting["transfers"].clear()

    drifting["blocking"].add(Venue.POLYMARKET)  # a cause naming its venue already: said once
    drifting["rejecting"].add(Venue.KALSHI)
    both = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert both.exit_code == 4, both.output
    assert json.loads(both.stderr.strip().splitlines()[-1])["message"] == (
        "kalshi rejected our credentials for GET /portfolio/positions: HTTP 401")
    drifting["rejecting"].clear()
    drifting["down"].add(Venue.KALSHI)
    blocked = _invoke("--db", db_file, "reconcile", "--demo", "--json")
    assert blocked.exit_code == 6, blocked.output
    assert json.loads(blocked.stderr.strip().splitlines()[-1])["message"].startswith("Polymarket's firewall refused")


def _holding_a_paper_position(tmp_path: Path) -> str:
    """A file ledger (its URL) holding the demo's best opportunity, traded on paper (both legs filled)."""
    from orion_cli.cli.app import app as orion_app

    db_file = f"sqlite:///{tmp_path / 'ledger.db'}"
    runner = CliRunner()
    scan = runner.invoke(orion_app, ["--db", db_file, "scan", "--demo", "--jsonl"])
    op = json.loads(scan.stdout.splitlines()[0])["id"]
    trade = runner.invoke(orion_app, ["--db", db_file, "trade", op, "--demo", "--confirm", "--jsonl"])
    assert trade.exit_code == 0, trade.output
    return db_file


def test_a_breaker_warning_a_reconcile_raises_is_said_even_quietly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: reconcile's breaker update threw its warning away (audited, alerted: alerts are off by
    default), and the warning is once a day, so a cron reconcile crossing warn_at_pct first left every
    later trade silent about it. The trade's fees (1.7575) are 87.88% of a $2 daily limit here."""
    from orion_cli.cli.app import app as orion_app

    db_file = _holding_a_paper_position(tmp_path)
    monkeypatch.setenv("ORION__BREAKER__DAILY_LOSS", "2")
    done = CliRunner().invoke(orion_app, ["--db", db_file, "-q", "reconcile", "--demo", "--jsonl"])
    assert done.exit_code == 0, done.output
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert any("loss breaker warning: daily loss 1.7575 of limit 2.00" in w for w in warnings), done.stderr
    assert all(json.loads(line)["type"] == "reconcile" for line in done.stdout.splitlines()), done.stdout


def test_paper_reconcile_with_its_market_data_unreachable_is_exit_5_not_drift(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by black-box testing: holding a paper position, `orion reconcile` with the live market
    data unreachable exited 7 (settlement drift, hinting --fix) though the ledger and the paper venue
    agreed; from cron that read as a ledger gone wrong. The data is read here from a closed port."""
    import socket

    db_file = _holding_a_paper_position(tmp_path)
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    for key in ("KALSHI__PROD_BASE_URL", "KALSHI__DEMO_BASE_URL", "POLYMARKET__GAMMA_URL", "POLYMARKET__CLOB_URL",
                "POLYMARKET__DATA_URL"):
        monkeypatch.setenv(f"ORION__{key}", closed)
    res = _invoke("--db", db_file, "reconcile", "--json")
    assert res.exit_code == 5, res.output
    recs = json.loads(res.stdout)
    assert {(r["venue"], r["status"]) for r in recs} == {("kalshi", "unavailable"), ("polymarket", "unavailable")}
    assert all(r["drifts"] == [] and "could not read the settlements" in r["reason"] for r in recs)
    assert "--fix" not in res.stderr
    assert _invoke("--db", db_file, "reconcile", "--demo", "--json").exit_code == 0  # with its data: clean


def test_paper_reconcile_on_a_snapshot_that_recorded_the_venue_down_is_exit_5_not_clean(tmp_path: Path) -> None:
    """Found in a black-box run: holding a paper Kalshi position, `reconcile --snapshot F`, F recording
    Kalshi down, reported Kalshi clean (exit 0) though whether the held market settled was never
    looked up; the live run with the market data unreachable says unavailable (exit 5)."""
    db_file = _holding_a_paper_position(tmp_path)
    down = str(write_venue_down_snapshot(tmp_path / "down.json"))
    res = _invoke("--db", db_file, "reconcile", "--snapshot", down, "--json")
    assert res.exit_code == 5, res.output
    recs = {r["venue"]: r for r in json.loads(res.stdout)}
    assert (recs["kalshi"]["status"], recs["kalshi"]["drifts"]) == ("unavailable", [])
    assert "could not read the settlements" in recs["kalshi"]["reason"] and DOWN_REASON in recs["kalshi"]["reason"]
    assert recs["polymarket"]["status"] == "clean"
    assert "--fix" not in res.stderr


def test_venue_option_limits_the_run_and_rejects_unknown_names(db_file: str) -> None:
    res = _invoke("--db", db_file, "reconcile", "--demo", "--venue", "kalshi", "--json")
    assert res.exit_code == 0 and [r["venue"] for r in json.loads(res.stdout)] == ["kalshi"]
    assert _invoke("--db", db_file, "reconcile", "--venue", "nyse").exit_code == 2


def test_halt_on_drift_engages_the_kill_switch(db_file: str, drifting: dict[str, Any]) -> None:
    drifting["extra"][Venue.KALSHI] = [_extra()]
    res = _invoke("--db", db_file, "reconcile", "--demo", "--halt-on-drift", "--json")
    assert res.exit_code == 7 and "HALTED" in res.stderr
    db = open_database(db_file)
    assert KillSwitch(db).status().halted
    db.dispose()


def test_a_held_lock_is_exit_6_locked_naming_the_holder(db_file: str) -> None:
    db = open_database(db_file)
    with RunLock(db, "reconcile", actor={"pid": 4242, "host": "cron-host", "user": "ops"}):
        started = time.monotonic()
        res = _invoke("--db", db_file, "reconcile", "--demo", "--json")
        assert time.monotonic() - started < 10
    assert res.exit_code == 6, res.output
    err = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert err[0]["reason"] == "LOCKED" and "pid 4242" in err[0]["message"] and "cron-host" in err[0]["message"]
    assert res.stdout == ""
    # Released: the next run goes ahead.
    assert _invoke("--db", db_file, "reconcile", "--demo", "--json").exit_code == 0
    db.dispose()


def test_the_lock_is_held_across_hosts_on_postgresql(pg_server: Any) -> None:
    url = pg_server.create_database()
    try:
        a, b = open_database(url), open_database(url)
        with RunLock(a, "reconcile", actor={"pid": 1, "host": "host-a", "user": "ops"}):
            with pytest.raises(Exception, match="another orion reconcile is running") as exc:
                RunLock(b, "reconcile").acquire()
            assert "host-a" in str(exc.value)
            RunLock(b, "other-job").acquire()  # a different name is a different lock
        with RunLock(b, "reconcile"):
            pass
        a.dispose()
        b.dispose()
    finally:
        pg_server.drop_database(url)


def test_live_mode_without_credentials_is_exit_4_and_never_prompts(db_file: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORION__TRADING__MODE", "live")
    res = _invoke("--db", db_file, "reconcile", "--venue", "kalshi", "--json")
    assert res.exit_code == 4, res.output
    err = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert err[0]["exit_code"] == 4 and "vault" in err[0]["message"]
    assert _invoke("--db", db_file, "reconcile", "--demo").exit_code == 2  # recorded data is for paper only


@pytest.mark.parametrize("pair", [{"ORION_PAPER_TRADING": "0", "ORION_LIVE_TRADING_AUTHORIZED": "true"},
                                  {"ORION_PAPER_TRADING": "0"}])
def test_the_live_environment_pair_reconciles_the_live_ledger(db_file: str, monkeypatch: pytest.MonkeyPatch,
                                                              pair: dict[str, str]) -> None:
    """A service trading live through the environment pair (trading.mode left at paper) must have its
    live ledger reconciled; one half of the pair changes nothing."""
    for name, value in pair.items():
        monkeypatch.setenv(name, value)
    res = _invoke("--db", db_file, "reconcile", "--venue", "kalshi", "--json")
    if len(pair) == 2:
        assert res.exit_code == 4, res.output  # live: the venue's credentials are needed (none here)
        assert "vault" in res.stderr
    else:
        assert res.exit_code == 0, res.output  # still paper
        assert json.loads(res.stdout)[0]["mode"] == "paper"


# -- metrics --------------------------------------------------------------------------------


def test_metrics_file_is_prometheus_text(db_file: str, tmp_path: Path, drifting: dict[str, Any]) -> None:
    drifting["extra"][Venue.KALSHI] = [_extra()]
    drifting["down"].add(Venue.POLYMARKET)
    prom = tmp_path / "textfile" / "orion.prom"
    prom.parent.mkdir()
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--metrics-file", str(prom))
    assert res.exit_code == 7
    text = prom.read_text()
    samples = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in text.splitlines()
               if line and not line.startswith("#")}
    assert samples['orion_reconcile_drifts{venue="kalshi",mode="paper"}'] == "1"
    assert samples['orion_reconcile_drifts{venue="polymarket",mode="paper"}'] == "0"
    assert samples['orion_reconcile_status{venue="kalshi",status="drift",mode="paper"}'] == "1"
    assert samples['orion_reconcile_status{venue="kalshi",status="clean",mode="paper"}'] == "0"
    assert samples['orion_reconcile_status{venue="polymarket",status="unavailable",mode="paper"}'] == "1"
    assert samples["orion_halted"] == "0" and samples["orion_reconcile_exit_code"] == "7"
    assert abs(float(samples["orion_reconcile_last_run_timestamp_seconds"]) - time.time()) < 60
    assert 0 <= float(samples["orion_reconcile_duration_seconds"]) < 60
    for family in ("orion_reconcile_last_run_timestamp_seconds", "orion_reconcile_drifts", "orion_reconcile_status",
                   "orion_reconcile_duration_seconds", "orion_halted"):
        assert f"# TYPE {family} gauge" in text
    assert text.endswith("\n")
    assert sorted(p.name for p in prom.parent.iterdir()) == ["orion.prom"]  # no temp file left behind


@pytest.mark.parametrize(("failure", "exit_code"), [("config", 3), ("no_ledger", 3), ("busy", 3), ("vault", 4),
                                                     ("internal", 1), ("locked", 6)])
def test_a_run_that_ends_before_comparing_still_writes_its_exit_code_to_the_metrics_file(
        db_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str, exit_code: int) -> None:
    """Found in review: a run that failed before the comparison (a configuration error, a mistyped
    ORION_HOME, a locked vault, a busy ledger) left the previous run's file, which still said
    `orion_reconcile_exit_code 0` with the old timestamp: no alert on the exit code could fire. Each now
    writes its exit code and time (no venue figures: none was compared; `orion_halted` when the ledger
    could be read). A run refused by the lock still leaves the file to the run holding it."""
    from orion_cli.cli.context import AppContext
    from orion_cli.core.errors import StorageError

    prom = tmp_path / "orion.prom"
    assert _invoke("--db", db_file, "reconcile", "--demo", "--metrics-file", str(prom)).exit_code == 0
    before = prom.read_text()
    assert "orion_reconcile_exit_code 0\n" in before
    db_arg = db_file
    held = None
    if failure == "config":
        monkeypatch.setenv("ORION__LIMITS__ORDER_NOTIONAL", "abc")
    elif failure == "no_ledger":
        db_arg = f"sqlite:///{tmp_path / 'typo.db'}"
    elif failure == "busy":
        def busy(self: AppContext, *, existing: bool = False) -> Any:
            raise StorageError("database is busy: database is locked (x.db)", reason="storage_busy")
        monkeypatch.setattr(AppContext, "db", busy)
    elif failure == "vault":
        monkeypatch.setenv("ORION__TRADING__MODE", "live")
    elif failure == "internal":
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug")
        monkeypatch.setattr(reconcile_cmd, "open_source", broken)
    else:
        held = open_database(db_file)
        lock = RunLock(held, "reconcile", actor={"pid": 4242, "host": "cron-host", "user": "ops"})
        lock.acquire()
    try:
        args = ["--db", db_arg, "reconcile"] + ([] if failure == "vault" else ["--demo"])
        res = _invoke(*args, "--metrics-file", str(prom))
    finally:
        if held is not None:
            lock.release()
            held.dispose()
    assert res.exit_code == exit_code, res.output
    text = prom.read_text()
    if failure == "locked":
        assert text == before  # the run holding the lock writes it
        return
    samples = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in text.splitlines()
               if line and not line.startswith("#")}
    assert samples["orion_reconcile_exit_code"] == str(exit_code)
    assert abs(float(samples["orion_reconcile_last_run_timestamp_seconds"]) - time.time()) < 60
    assert not any(name.startswith(("orion_reconcile_drifts", "orion_reconcile_status")) for name in samples)
    # The kill switch only where the ledger was opened and readable.
    assert samples.get("orion_halted") == ("0" if failure in ("vault", "internal") else None), text
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".orion.prom")) == []


def test_metrics_are_replaced_atomically_never_written_in_place(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "textfile").mkdir()
    target = tmp_path / "textfile" / "orion.prom"
    write_atomic(target, "old 1\n")
    inode = target.stat().st_ino
    write_atomic(target, "new 1\n")
    assert target.read_text() == "new 1\n" and target.stat().st_ino != inode  # a new file renamed over it

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "half")
    assert target.read_text() == "new 1\n"  # a failed write leaves the previous metrics whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["orion.prom"]


@pytest.mark.parametrize("bad", ["", ".", "missing-dir/orion.prom", "DIR"])
def test_an_unusable_metrics_path_is_a_usage_error_before_any_work(db_file: str, tmp_path: Path, bad: str) -> None:
    """Found by the bad-input suite: `--metrics-file=` used to end in an internal error (exit 1)."""
    path = str(tmp_path) if bad == "DIR" else (str(tmp_path / bad) if bad not in ("", ".") else bad)
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--metrics-file", path)
    assert res.exit_code == 2, res.output
    assert "--metrics-file" in res.stderr and "reconciling" not in res.stderr


def test_a_metrics_path_naming_a_file_that_is_not_orion_metrics_is_refused(db_file: str, tmp_path: Path) -> None:
    """Replaced on every run: a typo must not overwrite a key or a data file (it once hit the demo snapshot)."""
    precious = tmp_path / "id_ed25519"
    precious.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    res = _invoke("--db", db_file, "reconcile", "--demo", "--metrics-file", str(precious))
    assert res.exit_code == 2 and "not an orion metrics file" in res.stderr, res.output
    assert precious.read_bytes() == b"-----BEGIN OPENSSH PRIVATE KEY-----\n"
    ours = tmp_path / "orion.prom"
    assert _invoke("--db", db_file, "reconcile", "--demo", "--metrics-file", str(ours)).exit_code == 0
    assert _invoke("--db", db_file, "reconcile", "--demo", "--metrics-file", str(ours)).exit_code == 0  # replaced


def test_a_metrics_path_that_is_not_a_regular_file_is_refused_and_left_as_it_was(db_file: str, tmp_path: Path) -> None:
    """Found by a black-box run: `--metrics-file /dev/null` as root replaced /dev/null with a regular file,
    a symbolic link was replaced by a file, and a FIFO hung the run until something wrote to it."""
    import os
    import stat

    ours = tmp_path / "orion.prom"
    assert _invoke("--db", db_file, "reconcile", "--demo", "--metrics-file", str(ours)).exit_code == 0
    link = tmp_path / "link.prom"
    link.symlink_to(ours)
    fifo = tmp_path / "fifo.prom"
    os.mkfifo(fifo)
    for path, said in ((link, "symbolic link"), (fifo, "not a regular file")):
        res = _invoke("--db", db_file, "reconcile", "--demo", "--metrics-file", str(path))
        assert res.exit_code == 2 and said in res.stderr, res.output
    assert link.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)
    # A device: as root a stand-in for /dev/null in the test's own directory, so a regression replaces
    # that one, never the machine's (only root could replace the real one).
    device = Path(os.devnull)
    if os.geteuid() == 0:
        device = tmp_path / "null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    res = _invoke("--db", db_file, "reconcile", "--demo", "--metrics-file", str(device))
    assert res.exit_code == 2 and "not a regular file" in res.stderr, res.output
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_a_metrics_file_that_cannot_be_written_is_exit_3_naming_it(db_file: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import orion_cli.core.metrics as metrics

    def refuse(path: Path, content: str, *, mode: int = 0o644) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(metrics, "write_atomic", refuse)
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--metrics-file", str(tmp_path / "o.prom"))
    assert res.exit_code == 3, res.output
    assert "cannot write --metrics-file" in res.stderr and "Permission denied" in res.stderr
    assert "Traceback" not in res.output


def test_a_metrics_file_that_cannot_be_written_does_not_hide_drift(db_file: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    drifting: dict[str, Any]) -> None:
    """Found in review: the metrics failure was raised before the drift was shown (nothing on stdout,
    exit 3). Drift is what cron must see: exit 7, the drift rendered, the metrics failure warned."""
    import orion_cli.core.metrics as metrics

    def refuse(path: Path, content: str, *, mode: int = 0o644) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(metrics, "write_atomic", refuse)
    drifting["extra"][Venue.KALSHI] = [_extra()]
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--metrics-file", str(tmp_path / "o.prom"))
    assert res.exit_code == 7, res.output
    assert [r["status"] for r in json.loads(res.stdout) if r["venue"] == "kalshi"] == ["drift"]
    assert "cannot write --metrics-file" in res.stderr


@pytest.mark.parametrize("drift", [True, False], ids=["drift", "clean"])
@pytest.mark.parametrize("errnum", [errno.ENOSPC, errno.EIO], ids=["full-disk", "io-error"])
def test_output_that_cannot_be_written_does_not_hide_drift_and_the_metrics_say_the_exit_code(
        db_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drifting: dict[str, Any], drift: bool,
        errnum: int) -> None:
    """Found in a black-box run: `reconcile > /dev/full` that found drift exited 1 ("could not write the
    output"), never said drift was found, and its metrics file said exit code 7. Drift is what cron must
    see: exit 7, named on stderr after a warning that the output was lost; without drift the lost output
    is exit 1 (an I/O error too, which was an "unexpected internal error"), and the metrics record the
    same code either way."""
    from orion_cli.cli import output

    def refused(stream: Any, text: str) -> None:
        raise OSError(errnum, os.strerror(errnum))

    monkeypatch.setattr(output, "_write_whole", refused)
    if drift:
        drifting["extra"][Venue.KALSHI] = [_extra()]
    prom = tmp_path / "orion.prom"
    res = _invoke("--db", db_file, "reconcile", "--demo", "--jsonl", "--metrics-file", str(prom))
    code = 7 if drift else 1
    assert res.exit_code == code, res.output
    assert f"orion_reconcile_exit_code {code}\n" in prom.read_text()
    record = json.loads(res.stderr.strip().splitlines()[-1])
    lost = f"could not write the output: {os.strerror(errnum)}"
    if drift:
        assert f"warning: {lost}; drift was found, exit 7" in res.stderr
        assert record["reason"] == "drift" and "drift between the paper ledger and kalshi" in record["message"]
    else:
        assert record == {"type": "error", "exit_code": 1, "reason": "output_failed", "message": lost}


def test_drift_on_a_venue_that_was_then_unreachable_still_exits_7() -> None:
    """Found in review: an interrupted execution is reported on the venue holding the most; when that
    venue was unreachable its result stayed "unavailable" and the run exited 5, hiding the drift."""
    from orion_cli.cli.commands.reconcile import outcome
    from orion_cli.core.reconcile import Drift, VenueReconcile

    stuck = Drift(Venue.POLYMARKET, "execution", "0xm", Side.YES, D("10"), D("0"), D("4"), "interrupted", ref="K1")
    down = VenueReconcile(Venue.POLYMARKET, "live", status="unavailable", reason="HTTP 503", drifts=[stuck])
    clean = VenueReconcile(Venue.KALSHI, "live")
    drifted, unavailable, code = outcome([clean, down])
    assert code == 7 and drifted == [down] and unavailable == [down]
    assert outcome([clean, VenueReconcile(Venue.POLYMARKET, "live", status="unavailable")])[2] == 5
    assert outcome([clean])[2] == 0
    # Found reviewing a day of unattended operation: a run that left a venue held (an earlier run's drift, not
    # settled by this one: live legs there refused) read as clean, exit 0, while trading there had stopped.
    held = VenueReconcile(Venue.KALSHI, "live", trading_refused="since …: 1 fill drift(s) not fixed")
    assert outcome([held, VenueReconcile(Venue.POLYMARKET, "live", status="unavailable")])[2] == 7


def test_drift_found_before_a_venue_fails_is_alerted_and_halted_and_the_banner_says_so(
        db_file: str, drifting: dict[str, Any]) -> None:
    """Step (1) finds the in-flight second leg of ended execution K11 filled 6 of 10 (4 naked), then the
    venue's fills listing fails. Found in review: the run exited 7 and printed "HALTED" while the kill
    switch stayed off (the halt, like the alert, was only in the venue's summary, never reached), and
    the JSON said "unavailable" with no drift count."""
    from core.test_reconcile import MKT, _execution, _fill, _filled_order, _in_flight, _state  # type: ignore[import-not-found]

    from orion_cli.store.ledger import Ledger

    db = open_database(db_file)
    ledger = Ledger(db, "paper")
    ledger.ensure_balance(Venue.KALSHI, D("1000"))
    _filled_order(ledger, "K11-l1", "o-1", [_fill("k1", "o-1", "10", "0.40")])
    _in_flight(ledger, "K11-l2", "o-2", side=Side.NO, price="0.55")
    _execution(db, "K11", "done", ["K11-l1", "K11-l2"], {"message": "both legs filled"}, mode="paper")
    six = _fill("k2", "o-2", "6", "0.55", side=Side.NO)
    drifting["found"]["K11-l2"] = _state("K11-l2", "o-2", OrderStatus.CANCELLED, "10", "6", (six,), side=Side.NO,
                                         market=MKT, price="0.55")
    drifting["down"].add(Venue.KALSHI)
    res = _invoke("--db", db_file, "reconcile", "--demo", "--venue", "kalshi", "--halt-on-drift", "--json")
    assert res.exit_code == 7, res.output  # drift wins over 5, as documented
    (rec,) = json.loads(res.stdout)
    assert [(d["kind"], d["ref"], d["ledger_qty"], d["venue_qty"]) for d in rec["drifts"]] == [
        ("execution", "K11", "10", "6")], rec
    assert (rec["status"], rec["counts"]["drifts"]) == ("drift", 1) and "503" in rec["reason"], rec
    assert "HALTED" in res.stderr and KillSwitch(db).status().halted
    assert "kalshi unavailable: " in res.stderr  # the failure is still named
    db.dispose()


def test_halted_is_printed_only_when_the_kill_switch_is_on(db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The banner said HALTED whenever --halt-on-drift met drift, whether or not the run had halted."""
    from orion_cli.core import reconcile as core
    from orion_cli.core.reconcile import Drift, VenueReconcile

    drift = Drift(Venue.KALSHI, "position", "KXNBA-26-NYK", Side.YES, D(0), D(3), D("0.9"), "not halted for")

    async def not_halting(*args: Any, **kw: Any) -> list[VenueReconcile]:
        return [VenueReconcile(Venue.KALSHI, "paper", status="drift", drifts=[drift])]

    monkeypatch.setattr(core, "reconcile_async", not_halting)
    res = _invoke("--db", db_file, "reconcile", "--demo", "--venue", "kalshi", "--halt-on-drift", "--json")
    assert res.exit_code == 7, res.output
    assert "HALTED" not in res.stderr and "the kill switch is not engaged" in res.stderr, res.stderr


def test_a_breaker_trip_during_a_clean_run_is_said_even_with_q(db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: a clean run updates the loss breaker, which can trip and halt trading; the run
    said only "clean" (exit 0), so a cron job's output never told of the halt."""
    from orion_cli.risk.breaker import Breaker

    def trips(self: Breaker, marks: Any = None, now: Any = None) -> Any:
        KillSwitch(self.db).engage("daily loss 120 reached the limit 100", kind="breaker")
        return SimpleNamespace(warning_messages=())  # the status update returns: tripped, no warning said

    monkeypatch.setattr(Breaker, "update", trips)
    res = _invoke("--db", db_file, "-q", "reconcile", "--demo", "--json")
    assert res.exit_code == 0, res.output
    assert [r["status"] for r in json.loads(res.stdout)] == ["clean", "clean"]
    assert "HALTED during this run (breaker: daily loss 120 reached the limit 100)" in res.stderr, res.stderr


def test_a_daily_loss_trip_during_a_run_says_trades_stay_refused_until_the_reset(
        db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: a trip's banner offered `orion resume --yes` alone, while a daily-loss trip refuses
    every trade until the trading day's reset, the kill switch released or not (as `trade` says)."""
    from orion_cli.risk import breaker
    from orion_cli.risk.breaker import Breaker

    def trips(self: Breaker, marks: Any = None, now: Any = None) -> Any:
        KillSwitch(self.db).engage("daily loss 120 reached the limit 100", kind="breaker")
        return SimpleNamespace(warning_messages=())  # the status update returns: tripped, no warning said

    monkeypatch.setattr(Breaker, "update", trips)
    asked: list[tuple[str, int]] = []

    def until(db: Any, mode: str, reset_hour_utc: int, now: Any = None) -> datetime | None:
        asked.append((mode, reset_hour_utc))
        return datetime(2026, 11, 25, 6, tzinfo=UTC) if len(asked) == 1 else None

    monkeypatch.setattr(breaker, "daily_trip_until", until)
    res = _invoke("--db", db_file, "-q", "reconcile", "--demo", "--json")
    assert res.exit_code == 0 and asked == [("paper", 0)], res.output
    assert (f"`orion --db {db_file} resume --yes` releases the kill switch; trades stay refused by the daily-loss "
            "breaker until its reset at 2026-11-25 06:00 UTC, even once the kill switch is released") in res.stderr, \
        res.stderr
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json")  # no trip in force: the release alone
    assert res.exit_code == 0 and "daily-loss" not in res.stderr, res.stderr


def test_a_halt_older_than_the_run_is_a_warning_on_a_clean_run(db_file: str) -> None:
    db = open_database(db_file)
    KillSwitch(db).engage("maintenance")
    db.dispose()
    res = _invoke("--db", db_file, "reconcile", "--demo")
    assert res.exit_code == 0, res.output
    assert "warning: trading is halted since" in res.stderr and "(manual: maintenance)" in res.stderr, res.stderr
    assert "HALTED during this run" not in res.stderr


def test_a_stop_while_alerts_are_flushed_at_exit_is_deferred_until_they_are(
        db_file: str, tmp_path: Path, drifting: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: Ctrl-C (or SIGTERM) during the up-to-5 s wait for alerts at exit raised out of
    the wait, as it once did in `trade`: the drift's alert was neither delivered nor audited, and the
    drift found (exit 7), the records and the metrics were lost. The stop now waits for the flush
    (bounded); the run is reported, a failure keeps its exit code, and a clean one ends as the stop."""
    import signal

    from orion_cli.core.alert_sink import NullAlertSink

    flushed: list[str] = []
    sinks: list[NullAlertSink] = []

    class StoppedDuringFlush(NullAlertSink):
        def flush(self, timeout: float = 5.0) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the operator's Ctrl-C, while the sink waits
            flushed.append("finished")

    def sink(app: Any, secrets: Any, mode: str) -> NullAlertSink:
        sinks.append(StoppedDuringFlush())
        return sinks[-1]

    monkeypatch.setattr(reconcile_cmd, "alert_sink", sink)
    prom = tmp_path / "orion.prom"
    drifting["extra"][Venue.KALSHI] = [_extra()]
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--metrics-file", str(prom))
    assert flushed == ["finished"], res.output
    assert [kind for kind, _, _ in sinks[0].emitted] == ["reconcile.drift"]
    assert res.exit_code == 7, res.output  # the drift found still wins
    assert "stopping after the alerts are delivered or audited" in res.stderr
    assert [r["status"] for r in json.loads(res.stdout)] == ["drift", "clean"]
    assert "orion_reconcile_exit_code 7\n" in prom.read_text()

    drifting["extra"].clear()
    res = _invoke("--db", db_file, "reconcile", "--demo", "--json", "--metrics-file", str(prom))
    assert flushed == ["finished"] * 2, res.output
    assert res.exit_code == 130, res.output  # clean, then stopped as asked
    assert "interrupted: the run was reported and its alerts delivered or audited first" in res.stderr
    assert [r["status"] for r in json.loads(res.stdout)] == ["clean", "clean"]
    assert "orion_reconcile_exit_code 130\n" in prom.read_text()  # what the process exits with


# -- cron conditions: env -i, no TTY, and two overlapping runs ------------------------------------


RUNNER = textwrap.dedent('''
    import sys, time
    sys.path[:0] = {paths!r}
    import typer
    from orion_cli.cli.app import OrionGroup, root
    from orion_cli.cli.commands import reconcile as cmd
    if sys.argv[1:2] == ["--slow"]:
        sys.argv.pop(1)
        import orion_cli.core.reconcile as core
        real = core.reconcile_async
        async def slow(*a, **k):
            time.sleep(4)
            return await real(*a, **k)
        core.reconcile_async = slow
    app = typer.Typer(cls=OrionGroup)
    app.callback()(root)
    app.command("reconcile")(cmd.reconcile_command)
    app.command("noop", hidden=True)(lambda: None)
    app(prog_name="orion")
''')


@pytest.fixture
def runner_script(tmp_path: Path) -> Path:
    script = tmp_path / "run_orion.py"
    script.write_text(RUNNER.format(paths=[str(ROOT)]))
    return script


def _cron_env(home: Path) -> dict[str, str]:
    """What `env -i ORION_HOME=… orion reconcile` gives a process: only ORION_* variables, and XDG_STATE_HOME.
    Without HOME, the user's state directory is the account's home from the password database: the suite
    wrote what it saw of these ledgers into the real ~/.local/state/orion (store.seen_head)."""
    return {"ORION_HOME": str(home), "ORION__LOGGING__LEVEL": "warning", "XDG_STATE_HOME": str(home / "state")}


def _start(script: Path, home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in _cron_env(home).items()),
                             sys.executable, str(script), *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(sys.platform == "win32" or not Path("/usr/bin/env").exists(), reason="POSIX env -i")
def test_under_env_i_without_a_tty_it_finishes_without_prompting(runner_script: Path, tmp_path: Path) -> None:
    home = tmp_path / "cron-home"
    home.mkdir()
    open_database(f"sqlite:///{home / 'orion.db'}").dispose()  # the ledger cron reconciles exists
    proc = _start(runner_script, home, "reconcile")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]  # piped: JSON lines, no table
    assert {(r["venue"], r["status"]) for r in lines} == {("kalshi", "clean"), ("polymarket", "clean")}
    assert "\x1b[" not in out + err and "?" not in err  # no colour, no question asked
    assert (home / "orion.db").exists()


@pytest.mark.skipif(sys.platform == "win32" or not Path("/usr/bin/env").exists(), reason="POSIX env -i")
def test_two_overlapping_runs_the_second_exits_promptly_with_the_lock_message(runner_script: Path,
                                                                              tmp_path: Path) -> None:
    home = tmp_path / "cron-home"
    home.mkdir()
    open_database(f"sqlite:///{home / 'orion.db'}").dispose()
    first = _start(runner_script, home, "--slow", "reconcile")
    holder = home / "orion.db.reconcile.lock.json"
    deadline = time.monotonic() + 30
    while not holder.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    assert holder.exists(), first.communicate()[1] if first.poll() is not None else "lock never taken"
    started = time.monotonic()
    second = _start(runner_script, home, "reconcile")
    out2, err2 = second.communicate(timeout=30)
    took = time.monotonic() - started
    assert second.returncode == 6, err2
    assert "another orion reconcile is running" in err2 and f"pid {first.pid}" in err2
    assert out2 == ""
    assert first.poll() is None, "the first run should still be running when the second gives up"
    assert took < 4  # promptly: it did not wait for the first run to finish
    _out1, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert not holder.exists()


@pytest.mark.parametrize("command", [["reconcile", "--demo"], ["scan", "--demo"], ["report"], ["markets", "--demo"],
                                     ["book", "KXNBA-26-NYK", "--demo"]])
def test_venue_given_twice_is_a_usage_error_in_every_command(db_file: str, command: list[str]) -> None:
    """Found in review: `reconcile --venue kalshi --venue polymarket` reconciled Polymarket alone (the
    parser kept the last value) and exited 0; every command taking --venue did the same. --venue names
    one venue (leaving it out covers both): given twice is exit 2, before anything is read."""
    from orion_cli.cli.app import app as orion_app

    res = CliRunner().invoke(orion_app, ["--db", db_file, *command, "--venue", "kalshi", "--venue", "polymarket"])
    assert res.exit_code == 2, res.output
    assert "--venue" in res.stderr and "given 2 times" in res.stderr
    assert res.stdout == ""
    once = CliRunner().invoke(orion_app, ["--db", db_file, *command, "--venue", "kalshi"])
    assert once.exit_code == 0, once.output
