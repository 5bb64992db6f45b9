"""Reconcile reporting an execution that has ended (done, unwound, failed) with its legs unequal.

Found in review (the concurrency runs of s50): an execution left ``failed`` ("no exposure") with its
first leg filled 10 and its second cancelled with nothing, no unwind; the venues agreeing share for
share. `orion reconcile` said clean, exit 0, on every run: only executions that have not ended were
judged. A naked leg the ledger knows of is drift on every run, as an interrupted execution's is, until
it is gone: hedged or closed by a trade recorded outside orion since it began, or its market settled.
The states the executor ends with on purpose are not drift (an unwound excess, an overfill beside an
equal pair, dust the operator accepted, shares the unwind found closed by hand).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from core.test_reconcile import (  # type: ignore[import-not-found]
    EARLIER,
    MKT,
    NOW,
    PM,
    FakeVenue,
    _execution,
    _in_flight,
    _run,
    _state,
    _types,
    _verify,
)
from sqlalchemy import event

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.config import Settings, load_settings
from orion_cli.core.models import Side, Venue
from orion_cli.risk.halt import KillSwitch
from orion_cli.store.db import Database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.trading import (
    Action,
    Fill,
    OrderRequest,
    OrderStatus,
    Position,
    PreparedOrder,
    Settlement,
    TimeInForce,
)

K, P = Venue.KALSHI, Venue.POLYMARKET
INTENTS = {"l1": {"leg": "first"}, "l2": {"leg": "second"}, "u1": {"leg": "first"}}
ENDED = "not fixed by reconcile: an ended execution is not resumed"


@pytest.fixture
def settings() -> Settings:
    return load_settings(environ={})


def _order(ledger: Ledger, coid: str, *, venue: Venue = K, market: str = MKT, side: Side = Side.YES,
           action: Action = Action.BUY, size: str = "10", price: str = "0.40", filled: str = "0",
           at: datetime = EARLIER, execution: str | None = None) -> None:
    """An IOC order, sent at ``at`` and ended: filled (``filled`` ≥ ``size``: a buy may get more), else
    cancelled with what it filled."""
    req = OrderRequest(venue, market, side, action, D(size), D(price), TimeInForce.IOC, coid)
    ledger.record_intent(PreparedOrder(req, "{}"), execution_id=execution, now=at)
    ledger.mark_submitted(coid, now=at)
    if D(filled) == 0:
        ledger.cancelled(coid, reason="IOC: nothing filled", now=at)
        return
    fill = Fill(venue, f"f-{coid}", f"o-{coid}", market, side, action, D(filled), D(price), D("0.01"), at)
    ledger.transition(coid, OrderStatus.FILLED if D(filled) >= D(size) else OrderStatus.CANCELLED,
                      venue_order_id=f"o-{coid}", fills=[fill], now=at, overfill_ok=action is Action.BUY)


def _venues(db: Database) -> dict[Venue, FakeVenue]:
    """Each venue saying exactly what the ledger holds there: its fills and positions."""
    ledger = Ledger(db, "live")
    return {v: FakeVenue(venue_=v, fills_=ledger.fills(venue=v), positions_=ledger.positions(v)) for v in (K, P)}


def _drifts(results: list[Any]) -> list[tuple[Any, ...]]:
    return [(d.kind, d.ref, d.venue, d.market, d.side, d.ledger_qty, d.venue_qty, d.value, d.fixed)
            for r in results for d in r.drifts]


def _failed_with_its_first_leg_filled(db: Database, key: str = "KE", *, at: datetime = EARLIER) -> None:
    """As found: ``key`` ended failed, its first leg (10 Kalshi YES at 0.40) filled, its second (Polymarket
    NO) cancelled with nothing filled, and no unwind."""
    ledger = Ledger(db, "live")
    _order(ledger, f"{key}-l1", filled="10", at=at)
    _order(ledger, f"{key}-l2", venue=P, market=PM, side=Side.NO, price="0.55", at=at)
    _execution(db, key, "failed", [f"{key}-l1", f"{key}-l2"],
               {"message": "the first leg was not found at the venue: never placed", "intents": INTENTS}, at=at)


def test_a_failed_execution_whose_first_leg_filled_is_drift_on_every_run(db: Database, settings: Settings) -> None:
    _failed_with_its_first_leg_filled(db)
    alerts = NullAlertSink()
    for when in (NOW, NOW + timedelta(minutes=5)):
        results = _run(db, settings, _venues(db), alerts=alerts, halt_on_drift=True, now=when)
        assert _drifts(results) == [("execution", "KE", K, MKT, Side.YES, D(10), D(0), D(4), False)], results
        assert [(r.status, r.counts["drifts"]) for r in results] == [("drift", 1), ("clean", 0)], results
        (d,) = results[0].drifts
        assert "execution KE has ended failed" in d.detail, d.detail
        assert f"10 held on kalshi ({MKT} yes, the first leg), 0 on the other leg: 10 unhedged" in d.detail, d.detail
        assert "--json | jq -c 'select(.payload.key == \"KE\" or .payload.execution_id == \"KE\")'`" in d.detail
        assert d.fix.startswith(ENDED) and "hedge or close the 10 unhedged by hand" in d.fix, d.fix
    assert [k for k, _, _ in alerts.emitted] == ["reconcile.drift", "halt", "reconcile.drift"], alerts.emitted
    assert "ended execution(s)" in alerts.emitted[0][1], alerts.emitted[0]
    st = KillSwitch(db).status()
    assert st.halted and st.kind == "reconcile", st
    assert _types(db).count("reconcile.execution_unhedged") == 2
    assert "reconcile.execution_interrupted" not in _types(db)
    _verify(db)


def _done(db: Database) -> str:
    ledger = Ledger(db, "live")
    _order(ledger, "KB-l1", filled="10")
    _order(ledger, "KB-l2", venue=P, market=PM, side=Side.NO, price="0.55", filled="10")
    _execution(db, "KB", "done", ["KB-l1", "KB-l2"], {"message": "both legs filled in equal shares"})
    return "done"


def _overfill(db: Database) -> str:
    ledger = Ledger(db, "live")  # a Polymarket buy sent as dollars got 0.3 more than its size
    _order(ledger, "KB-l1", venue=P, market=PM, filled="10.3")
    _order(ledger, "KB-l2", side=Side.NO, price="0.55", filled="10")
    _execution(db, "KB", "done", ["KB-l1", "KB-l2"], {"overfill": {"l1": "0.3"}, "intents": INTENTS})
    return "done"


def _unwound(db: Database, sold: str = "4", second: str = "6") -> str:
    ledger = Ledger(db, "live")
    _order(ledger, "KB-l1", filled="10")
    _order(ledger, "KB-l2", venue=P, market=PM, side=Side.NO, price="0.55", filled=second)
    _order(ledger, "KB-u1", action=Action.SELL, size=sold, price="0.38", filled=sold)
    _execution(db, "KB", "unwound", ["KB-l1", "KB-l2", "KB-u1"], {"intents": INTENTS})
    return "unwound"


def _nothing_filled(db: Database) -> str:
    ledger = Ledger(db, "live")
    _order(ledger, "KB-l1")
    _order(ledger, "KB-l2", venue=P, market=PM, side=Side.NO, price="0.55")
    _execution(db, "KB", "failed", ["KB-l1", "KB-l2"], {"message": "first leg cancelled with nothing filled"})
    return "failed"


def _dust_accepted(db: Database) -> str:
    """The executor's dust case: Polymarket 6.5, the Kalshi hedge 6; its halt said to close the 0.5 by hand,
    the operator released it and resumed, and the execution ended done with the dust accepted."""
    ledger = Ledger(db, "live")
    _order(ledger, "KB-l1", venue=P, market=PM, filled="6.5")
    _order(ledger, "KB-l2", side=Side.NO, price="0.55", filled="6")
    dust = {"leg": "first", "venue": "polymarket", "market": PM, "side": "yes", "shares": "0.5"}
    _execution(db, "KB", "done", ["KB-l1", "KB-l2"], {"intents": INTENTS, "dust_accepted": dust})
    return "done"


def _closed_outside(db: Database) -> str:
    """A failed unwind's remaining 2 closed by hand, recorded by `reconcile --fix` (an adjustment sell), and
    the resume then ended it unwound naming them (``closed_outside``)."""
    _unwound(db, sold="2")
    _order(Ledger(db, "live"), "reconcile-adj-1", action=Action.SELL, size="2", price="0.40", filled="2",
           at=EARLIER + timedelta(minutes=1))
    gone = {"leg": "first", "venue": "kalshi", "market": MKT, "side": "yes", "shares": "2"}
    from sqlalchemy import update

    from orion_cli.store.audit import canonical_json
    from orion_cli.store.tables import executions

    with db.write() as conn:
        conn.execute(update(executions).where(executions.c.key == "KB").values(
            result=canonical_json({"intents": INTENTS, "closed_outside": gone})))
    return "unwound"


@pytest.mark.parametrize("ended", [
    _done, _overfill, _unwound, lambda db: _unwound(db, sold="10", second="0"), _nothing_filled, _dust_accepted,
    _closed_outside,
], ids=["done", "an overfill beside an equal pair", "the excess sold back", "the first leg sold back whole",
        "nothing filled", "dust the operator accepted", "shares the unwind found closed by hand"])
def test_an_execution_that_ended_as_the_executor_ends_one_is_not_drift(
        db: Database, settings: Settings, ended: Callable[[Database], str]) -> None:
    ended(db)
    results = _run(db, settings, _venues(db))
    assert [(r.status, r.drifts) for r in results] == [("clean", []), ("clean", [])], results
    assert "reconcile.execution_unhedged" not in _types(db)


def test_a_naked_leg_whose_market_settled_is_not_drift_any_more(db: Database, settings: Settings) -> None:
    """Decided: once the ledger has recorded the settlement of the naked leg's market (closed at the payout,
    the gain or loss realised), nothing is left to hedge or close, and the execution is not reported."""
    _failed_with_its_first_leg_filled(db)
    assert [d[0] for d in _drifts(_run(db, settings, _venues(db)))] == ["execution"]
    venues = _venues(db)
    venues[K].positions_ = []
    venues[K].settlements_ = [Settlement(K, MKT, D(1), NOW - timedelta(minutes=1), result="yes",
                                         counts=((Side.YES, D(10)),), revenue=D(10))]
    for when in (NOW + timedelta(minutes=5), NOW + timedelta(minutes=10)):
        results = _run(db, settings, venues, now=when)
        assert _drifts(results) == [], results
    assert _types(db).count("position.settled") == 1
    _verify(db)


@pytest.mark.parametrize(("how", "left"), [
    ("sold by hand", D(0)), ("sold 4 by hand", D(6)), ("closed by hand, adopted as an adjustment", D(0)),
    ("hedged by hand", D(0)),
])
def test_a_naked_leg_hedged_or_closed_by_hand_once_recorded_is_not_drift_any_more(
        db: Database, settings: Settings, how: str, left: D) -> None:
    """What an ended execution's drift says to do: hedge or close it by hand, and `reconcile --fix` records
    that trade (an `ext-…` order for a fill the venue lists, a `reconcile-adj-…` fill for a position no
    fill explains). A trade outside orion since the execution began that sells the leg holding more, or
    buys the other, counts against what it left unhedged."""
    _failed_with_its_first_leg_filled(db)
    venues = _venues(db)
    when = NOW - timedelta(minutes=2)
    if how.startswith("sold"):
        sold = D(4) if "4" in how else D(10)
        venues[K].fills_.append(Fill(K, "f-hand", "o-hand", MKT, Side.YES, Action.SELL, sold, D("0.45"), D(0), when))
        venues[K].positions_ = [Position(K, MKT, Side.YES, D(10) - sold, D("0.40"), (D(10) - sold) * D("0.40"))] \
            if sold < 10 else []
    elif how.startswith("closed"):
        venues[K].positions_ = []  # its sale not listed: a position no fill explains
    else:
        venues[P].fills_.append(Fill(P, "f-hand", "o-hand", PM, Side.NO, Action.BUY, D(10), D("0.55"), D(0), when))
        venues[P].positions_ = [Position(P, PM, Side.NO, D(10), D("0.55"), D("5.5"))]
    # Not recorded yet: the ledger still holds the naked leg.
    assert "execution" in [d[0] for d in _drifts(_run(db, settings, venues))]
    fixed = _run(db, settings, venues, fix=True, now=NOW + timedelta(minutes=5))
    execution = [d for r in fixed for d in r.drifts if d.kind == "execution"]
    if left:
        (d,) = execution
        assert (d.ref, d.ledger_qty, d.venue_qty, d.value) == ("KE", D(10), D(0), D("2.4")), d
        assert "10 unhedged, 4 of them closed or hedged by trades outside orion since it began: 6 left" in d.detail
    else:
        assert execution == [], execution
    assert all(d.fixed for r in fixed for d in r.drifts if d.kind != "execution"), fixed
    again = _run(db, settings, venues, now=NOW + timedelta(minutes=10))
    assert [(d[0], d[1]) for d in _drifts(again)] == ([("execution", "KE")] if left else []), again
    _verify(db)


@pytest.mark.parametrize("leg", ["the other leg hedged, then sold", "the naked leg sold, then bought back"])
def test_a_round_trip_by_hand_does_not_end_the_drift(db: Database, settings: Settings, leg: str) -> None:
    """Found in review: only the trades by hand that close or hedge were counted, so a hedge bought and
    later sold (or a close bought back) read as a hedge, and the naked leg as clean."""
    _failed_with_its_first_leg_filled(db)
    venues = _venues(db)
    first, then = NOW - timedelta(minutes=4), NOW - timedelta(minutes=2)
    if leg.startswith("the other"):
        venues[P].fills_ += [Fill(P, "f-h1", "o-h1", PM, Side.NO, Action.BUY, D(10), D("0.50"), D(0), first),
                             Fill(P, "f-h2", "o-h2", PM, Side.NO, Action.SELL, D(10), D("0.50"), D(0), then)]
    else:
        venues[K].fills_ += [Fill(K, "f-h1", "o-h1", MKT, Side.YES, Action.SELL, D(10), D("0.45"), D(0), first),
                             Fill(K, "f-h2", "o-h2", MKT, Side.YES, Action.BUY, D(10), D("0.45"), D(0), then)]
    venues[K].positions_ = [Position(K, MKT, Side.YES, D(10), D("0.40"), D(4))]
    venues[P].positions_ = []
    _run(db, settings, venues, fix=True, now=NOW + timedelta(minutes=5))
    again = _run(db, settings, venues, now=NOW + timedelta(minutes=10))
    assert [(d[0], d[1]) for d in _drifts(again)] == [("execution", "KE")], again
    _verify(db)


def test_an_interrupted_execution_is_reported_once_as_interrupted(db: Database, settings: Settings) -> None:
    """Not twice: an execution that has not ended has its own drift (resume it)."""
    ledger = Ledger(db, "live")
    _order(ledger, "KI-l1", filled="10")
    _execution(db, "KI", "leg2_sent", ["KI-l1"], {"intents": INTENTS})
    results = _run(db, settings, _venues(db))
    assert [(d[0], d[1]) for d in _drifts(results)] == [("execution", "KI")], results
    assert "execution KI was interrupted at leg2_sent" in results[0].drifts[0].detail
    assert "reconcile.execution_unhedged" not in _types(db)


def test_a_late_fill_leaving_an_ended_execution_unequal_is_one_drift_then_reported_on_every_run(
        db: Database, settings: Settings) -> None:
    """The run that records the late fill reports the legs once (its late-fill drift); every later run
    reports them again, as still unhedged, until that is gone (found in review: the next run read clean)."""
    ledger = Ledger(db, "live")
    _order(ledger, "KL-l1", filled="10")
    _in_flight(ledger, "KL-l2", "pm-2", venue=P, market=PM, side=Side.NO, price="0.55")
    _execution(db, "KL", "done", ["KL-l1", "KL-l2"], {"message": "both legs filled in equal shares; the venue has "
                                                                 "not listed the fills of 1 order(s) yet"})
    six = Fill(P, "p1", "pm-2", PM, Side.NO, Action.BUY, D(6), D("0.55"), D("0.01"), EARLIER)
    venues = _venues(db)
    venues[P].fills_, venues[P].positions_ = [six], [Position(P, PM, Side.NO, D(6), D("0.55"), D("3.3"))]
    venues[P].orders["KL-l2"] = _state("KL-l2", "pm-2", OrderStatus.CANCELLED, "10", "6", (six,), side=Side.NO,
                                        market=PM, price="0.55", venue=P)
    first = _run(db, settings, venues)
    assert [(d[0], d[1], d[5], d[6]) for d in _drifts(first)] == [("execution", "KL", D(10), D(6))], first
    assert "reconcile recorded" in next(d for r in first for d in r.drifts).detail  # the late fill's own drift
    assert "reconcile.execution_unhedged" not in _types(db)
    later = _run(db, settings, venues, now=NOW + timedelta(minutes=5))
    assert [(d[0], d[1], d[5], d[6], d[7]) for d in _drifts(later)] == [("execution", "KL", D(10), D(6), D("1.6"))]
    assert "execution KL has ended done" in next(d for r in later for d in r.drifts).detail
    assert _types(db).count("reconcile.execution_unhedged") == 1
    _verify(db)


def test_an_execution_interrupted_at_hedged_with_its_legs_unequal_is_drift(db: Database, settings: Settings) -> None:
    """`hedged` is not final: a crash there (the executor's dust case, accepting the 0.5 when it died) leaves
    a leg unequal that only a resume ends. Neither the interrupted nor the ended executions' drift named it."""
    ledger = Ledger(db, "live")
    _order(ledger, "KH-l1", venue=P, market=PM, filled="6.5")
    _order(ledger, "KH-l2", side=Side.NO, price="0.55", filled="6")
    _execution(db, "KH", "hedged", ["KH-l1", "KH-l2"], {"intents": INTENTS})
    results = _run(db, settings, _venues(db))
    assert [(d[0], d[1], d[2], d[5], d[6]) for d in _drifts(results)] == [("execution", "KH", P, D("6.5"), D(6))]
    d = next(d for r in results for d in r.drifts)
    assert "execution KH was interrupted at hedged" in d.detail and "resume it with `orion trade op1" in d.detail


def test_the_ended_executions_are_judged_in_one_query_however_many_there_are(db: Database) -> None:
    """It runs every minute from cron: one query over every ended execution's orders finds the few whose legs
    differ, and those are read in a fixed number more, however many there are."""
    from orion_cli.core.reconcile import unhedged_ended_executions

    def statements(build: Callable[[], None]) -> tuple[int, list[str]]:
        build()
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = unhedged_ended_executions(db, "live")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")]), [e.key for e in found]

    ledger = Ledger(db, "live")

    def balanced(n: int) -> Callable[[], None]:
        def build() -> None:
            for i in range(n):
                key = f"KB{i}"
                _order(ledger, f"{key}-l1", filled="10")
                _order(ledger, f"{key}-l2", venue=P, market=PM, side=Side.NO, price="0.55", filled="10")
                _execution(db, key, "done", [f"{key}-l1", f"{key}-l2"])
        return build

    assert statements(balanced(40)) == (1, [])
    selects, _ = statements(lambda: _failed_with_its_first_leg_filled(db, "KN0"))
    assert selects <= 4, selects
    assert statements(lambda: [_failed_with_its_first_leg_filled(db, f"KN{i}") for i in range(1, 6)]) == (
        selects, [f"KN{i}" for i in range(6)])
