"""Reconcile judging an execution's legs as the executor does: cases a review of the late-fill and
leg-naming changes found (each failed before its fix)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from core.test_reconcile import (  # type: ignore[import-not-found]
    EARLIER,
    MKT,
    NOW,
    PM,
    FakeVenue,
    _both_legs_filled_after_it_ended,
    _execution,
    _fill,
    _filled_order,
    _in_flight,
    _intent,
    _result_of,
    _run,
    _state,
    _types,
    _verify,
    _waiting_for_judgement,
)
from execution.execution_kit import coid_of

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.config import Settings, load_settings
from orion_cli.core.errors import DataError, VenueUnavailable
from orion_cli.core.models import Side, Venue
from orion_cli.risk.halt import KillSwitch
from orion_cli.store.audit import AuditLog, canonical_json, iso_utc
from orion_cli.store.db import Database
from orion_cli.store.ledger import Ledger
from orion_cli.store.tables import executions
from orion_cli.venues.trading import (
    Action,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    PreparedOrder,
    TimeInForce,
)

PENDING = {"message": "both legs filled in equal shares; the venue has not listed the fills of 1 order(s) yet"}


@pytest.fixture
def settings() -> Settings:
    return load_settings(environ={})


def _pm_state(cid: str, status: OrderStatus, filled: str, fills: tuple[Any, ...]) -> OrderState:
    return _state(cid, "pm-2", status, "10", filled, fills, side=Side.NO, market=PM, price="0.55",
                  venue=Venue.POLYMARKET)


def _unwind_sell(ledger: Ledger, coid: str, venue: Venue, market: str, size: D, status: OrderStatus,
                 venue_order_id: str, fill: Any) -> None:
    """An unwind sell of YES at 0.38, sent and ended ``status`` with ``fill``."""
    req = OrderRequest(venue, market, Side.YES, Action.SELL, size, D("0.38"), TimeInForce.IOC, coid)
    ledger.record_intent(PreparedOrder(req, "{}"), now=EARLIER)
    ledger.mark_submitted(coid, now=EARLIER)
    ledger.transition(coid, status, venue_order_id=venue_order_id, fills=[fill], now=EARLIER)


def _still_unhedged(results: list[Any], key: str, alerts: NullAlertSink) -> None:
    """A run after the one that judged ``key``'s late fill (10 on its first leg, nothing on the other):
    the fill is not judged again, but the naked leg is drift on every run, as an ended execution left
    unhedged, alerted, until it is gone (found in review: it read clean after that one run)."""
    drifts = [d for r in results for d in r.drifts]
    assert [(d.kind, d.ref, d.venue, d.ledger_qty, d.venue_qty) for d in drifts] == [
        ("execution", key, Venue.KALSHI, D(10), D(0))], drifts
    assert f"execution {key} has ended done" in drifts[0].detail, drifts[0].detail
    assert [k for k, _, _ in alerts.emitted][2:] == ["reconcile.drift"], alerts.emitted


def _kalshi_clean() -> FakeVenue:
    k1 = _fill("k1", "o-1", "10", "0.40")
    return FakeVenue(fills_=[k1], positions_=[Position(Venue.KALSHI, MKT, Side.YES, D(10), D("0.40"), D(4))])


# -- a fill adopted in step (2) is judged at once, whatever else is in flight ---------------------


class _LookupFails(FakeVenue):
    """find_order answers something orion cannot read (a DataError: not an outage)."""

    broken: bool = True

    async def find_order(self, client_order_id: str, venue_order_id: str = "") -> OrderState | None:
        if self.broken:
            raise DataError("order", "an answer orion cannot read")
        return await super().find_order(client_order_id, venue_order_id)


def test_a_late_fill_adopted_onto_an_order_still_in_flight_is_judged_once_the_order_is_decided(
        db: Database, settings: Settings) -> None:
    """Run 1 (--fix): the in-flight leg's lookup fails (order drift), and step (2) adopts its listed
    fill onto it; it stays submitted (6 of 10). Found in review: the judgement was deferred while the
    order was in flight, and run 2, deciding the order with no new fill, never made it: 4 naked."""
    ledger = Ledger(db, "live")
    _filled_order(ledger, "K8-l1", "o-1", [_fill("k1", "o-1", "10", "0.40")])
    _in_flight(ledger, "K8-l2", "pm-2", venue=Venue.POLYMARKET, market=PM, side=Side.NO, price="0.55")
    _execution(db, "K8", "done", ["K8-l1", "K8-l2"], PENDING)
    six = _fill("p1", "pm-2", "6", "0.55", venue=Venue.POLYMARKET, market=PM, side=Side.NO)
    held = [Position(Venue.POLYMARKET, PM, Side.NO, D(6), D("0.55"), D("3.3"))]
    poly = _LookupFails(venue_=Venue.POLYMARKET, fills_=[six], positions_=held,
                        orders={"K8-l2": _pm_state("K8-l2", OrderStatus.CANCELLED, "6", (six,))})
    first = _run(db, settings, {Venue.KALSHI: _kalshi_clean(), Venue.POLYMARKET: poly}, fix=True)
    poly.broken = False
    second = _run(db, settings, {Venue.KALSHI: _kalshi_clean(), Venue.POLYMARKET: poly}, fix=True,
                  now=NOW + timedelta(minutes=5))
    order = ledger.order("K8-l2")
    assert order is not None and order.status is OrderStatus.CANCELLED and order.filled_size == D(6)
    record = _result_of(db, "K8")
    kinds = [d.kind for r in (*first, *second) for d in r.drifts]
    assert "execution" in kinds, (kinds, record.get("late_fills"), record.get("message"))


# -- an unreadable executions.result does not abort the run ---------------------------------------


def test_a_malformed_result_of_an_ended_execution_does_not_abort_reconcile(db: Database,
                                                                            settings: Settings) -> None:
    from sqlalchemy import update

    from orion_cli.store.tables import executions

    ledger = Ledger(db, "live")
    _filled_order(ledger, "K7-l1", "o-1", [_fill("k1", "o-1", "10", "0.40")])
    _in_flight(ledger, "K7-l2", "pm-2", venue=Venue.POLYMARKET, market=PM, side=Side.NO, price="0.55")
    _execution(db, "K7", "done", ["K7-l1", "K7-l2"], PENDING)
    with db.write() as conn:
        conn.execute(update(executions).where(executions.c.key == "K7").values(result="{not json"))
    ten = _fill("p1", "pm-2", "10", "0.55", venue=Venue.POLYMARKET, market=PM, side=Side.NO)
    poly = FakeVenue(venue_=Venue.POLYMARKET, fills_=[ten],
                     positions_=[Position(Venue.POLYMARKET, PM, Side.NO, D(10), D("0.55"), D("5.5"))],
                     orders={"K7-l2": _pm_state("K7-l2", OrderStatus.FILLED, "10", (ten,))})
    # Found in review: json.JSONDecodeError escaped reconcile (exit 1, "unexpected internal error"), and
    # no venue after it, nor the interrupted executions, was reconciled.
    results = _run(db, settings, {Venue.POLYMARKET: poly, Venue.KALSHI: _kalshi_clean()})
    assert [r.status for r in results] != []


# -- an unwind whose intent cannot be read counts with the leg of its instrument -------------------


def test_an_unwind_whose_intent_is_not_in_the_result_counts_with_its_own_leg(db: Database,
                                                                              settings: Settings) -> None:
    """Cross-venue pair interrupted while unwinding: l1 10 (Kalshi), l2 6 (Polymarket), u1 sold 4 of
    l1 (Kalshi). Balanced. When the execution's result does not name u1's leg (unreadable result),
    u1 must count with the leg of its instrument (an unwind sells what its leg bought). Found in
    review: it became a third "leg" with -4, summed into "the other leg": 10 against 2, 8 unhedged."""
    ledger = Ledger(db, "live")
    l1, l2, u1 = (coid_of(db, "K6", tag) for tag in ("l1", "l2", "u1"))
    k1 = _fill("k1", "o-1", "10", "0.40")
    p1 = _fill("p1", "pm-2", "6", "0.55", venue=Venue.POLYMARKET, market=PM, side=Side.NO)
    ku = _fill("ku", "o-u", "4", "0.38", action=Action.SELL)
    _filled_order(ledger, l1, "o-1", [k1])
    _filled_order(ledger, l2, "pm-2", [p1])
    _unwind_sell(ledger, u1, Venue.KALSHI, MKT, D(4), OrderStatus.FILLED, "o-u", ku)
    _execution(db, "K6", "unwinding", [l1, l2, u1], None, at=NOW - timedelta(seconds=1))
    from sqlalchemy import update

    from orion_cli.store.tables import executions

    with db.write() as conn:
        conn.execute(update(executions).where(executions.c.key == "K6").values(result="{truncated"))
    kalshi = FakeVenue(fills_=[k1, ku], positions_=[Position(Venue.KALSHI, MKT, Side.YES, D(6), D("0.40"), D("2.4"))])
    poly = FakeVenue(venue_=Venue.POLYMARKET, fills_=[p1],
                     positions_=[Position(Venue.POLYMARKET, PM, Side.NO, D(6), D("0.55"), D("3.3"))])
    results = _run(db, settings, {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly})
    drifts = [(d.kind, d.ledger_qty, d.venue_qty, d.detail) for r in results for d in r.drifts]
    assert drifts == [], drifts


# -- once anything was sold back, an overfill is unhedged, as the executor counts it -----------------


def test_a_late_overfill_of_an_unwound_pairs_first_leg_is_unhedged_as_the_executor_counts_it(
        db: Database, settings: Settings) -> None:
    """l1 (Polymarket buy, size 10) filled 10, l2 (Kalshi) 6, u1 sold l1's excess 4: unwound, 6 and 6.
    Then the venue lists 0.3 more for l1 (a dollar-amount buy's price improvement). The executor's
    _imbalance compares the buys (10 against 6: unequal), so its excess is raw 10.3 - 6 = 4.3: with 4
    sold, 0.3 is left unhedged (dust: it halts). Found in review: reconcile subtracted the sells before
    comparing the buys (10 - 4 = 6 against 6): "balanced", 0 unhedged, "an overfill: held, not hedged"."""
    ledger = Ledger(db, "live")
    l1, l2, u1 = (coid_of(db, "K4x", tag) for tag in ("l1", "l2", "u1"))
    p1 = _fill("p1", "pm-1", "10", "0.40", venue=Venue.POLYMARKET, market=PM)
    k1 = _fill("k1", "o-2", "6", "0.55", side=Side.NO)
    pu = _fill("pu", "pm-u", "4", "0.38", venue=Venue.POLYMARKET, market=PM, action=Action.SELL)
    _filled_order(ledger, l1, "pm-1", [p1])
    _filled_order(ledger, l2, "o-2", [k1])
    _unwind_sell(ledger, u1, Venue.POLYMARKET, PM, D(4), OrderStatus.FILLED, "pm-u", pu)
    intents = {"l1": {"leg": "first"}, "l2": {"leg": "second"}, "u1": {"leg": "first"}}
    _execution(db, "K4x", "unwound", [l1, l2, u1], {
        "intents": intents, "message": "second leg short; the excess was sold back within max_unwind_loss"})
    over = _fill("p2", "pm-1", "0.3", "0.40", venue=Venue.POLYMARKET, market=PM, ts=EARLIER + timedelta(seconds=5))
    poly = FakeVenue(venue_=Venue.POLYMARKET, fills_=[p1, pu, over],
                     positions_=[Position(Venue.POLYMARKET, PM, Side.YES, D("6.3"), D("0.40"), D("2.52"))])
    (res,) = _run(db, settings, {Venue.POLYMARKET: poly}, fix=True)
    record = _result_of(db, "K4x")
    assert [(x["fill_id"], x["unhedged_shares"]) for x in record["late_fills"]] == [("p2", "0.3")], \
        (record["late_fills"], record["message"])
    assert "execution" in [d.kind for d in res.drifts], res.drifts


def test_an_interrupted_unwind_that_left_the_overfill_unsold_is_reported(db: Database,
                                                                           settings: Settings) -> None:
    """Interrupted at unwinding: l1 (Polymarket buy, size 10) filled 10.3, l2 (Kalshi) 6, u1 (IOC, asked
    4.3 = the executor's raw excess) sold 4, then the process died. 0.3 of the first leg is naked; the
    executor, resumed, would sell it (or halt on it as dust). Found in review: the buys less the sells
    (10 - 4 = 6 against 6) read "balanced", and nothing was reported."""
    ledger = Ledger(db, "live")
    l1, l2, u1 = (coid_of(db, "K3x", tag) for tag in ("l1", "l2", "u1"))
    p1 = _fill("p1", "pm-1", "10", "0.40", venue=Venue.POLYMARKET, market=PM)
    p2 = _fill("p2", "pm-1", "0.3", "0.40", venue=Venue.POLYMARKET, market=PM)
    k1 = _fill("k1", "o-2", "6", "0.55", side=Side.NO)
    pu = _fill("pu", "pm-u", "4", "0.38", venue=Venue.POLYMARKET, market=PM, action=Action.SELL)
    _intent(ledger, l1, status="submitted", venue=Venue.POLYMARKET, market=PM)
    ledger.transition(l1, OrderStatus.FILLED, venue_order_id="pm-1", fills=[p1, p2], now=EARLIER, overfill_ok=True)
    _filled_order(ledger, l2, "o-2", [k1])
    _unwind_sell(ledger, u1, Venue.POLYMARKET, PM, D("4.3"), OrderStatus.CANCELLED, "pm-u", pu)
    intents = {"l1": {"leg": "first"}, "l2": {"leg": "second"}, "u1": {"leg": "first"}}
    _execution(db, "K3x", "unwinding", [l1, l2, u1], {"intents": intents}, at=NOW - timedelta(seconds=1))
    poly = FakeVenue(venue_=Venue.POLYMARKET, fills_=[p1, p2, pu],
                     positions_=[Position(Venue.POLYMARKET, PM, Side.YES, D("6.3"), D("0.40"), D("2.52"))])
    kalshi = FakeVenue(fills_=[k1], positions_=[Position(Venue.KALSHI, MKT, Side.NO, D(6), D("0.55"), D("3.3"))])
    results = _run(db, settings, {Venue.POLYMARKET: poly, Venue.KALSHI: kalshi})
    drifts = [(d.kind, d.ledger_qty, d.venue_qty) for r in results for d in r.drifts]
    assert ("execution", D("6.3"), D(6)) in drifts, drifts


# -- a late fill left "not judged" is judged once nothing of its execution is in flight -------------


@pytest.mark.parametrize("later", [False, True], ids=["same run", "later run"])
def test_a_late_fill_left_not_judged_is_judged_once_none_of_its_executions_orders_is_in_flight(
        db: Database, settings: Settings, later: bool) -> None:
    """Both legs of K9 left in flight (the venue called them filled before listing their fills). Kalshi's
    pass finds the first leg's 10 while the second is still in flight: recorded, "not judged". The
    second is then found cancelled with nothing filled (in that run, or in a later one, its venue down
    before): no new fill, so nothing judged the pair again. Found in review: 10 naked, reported by no
    run, ever (--halt-on-drift never halted)."""
    ledger = Ledger(db, "live")
    _in_flight(ledger, "K9-l1", "o-1")
    _in_flight(ledger, "K9-l2", "pm-2", venue=Venue.POLYMARKET, market=PM, side=Side.NO, price="0.55")
    _execution(db, "K9", "done", ["K9-l1", "K9-l2"], PENDING)
    k1 = _fill("k1", "o-1", "10", "0.40")
    kalshi = FakeVenue(fills_=[k1], orders={"K9-l1": _state("K9-l1", "o-1", OrderStatus.FILLED, "10", "10", (k1,))},
                       positions_=[Position(Venue.KALSHI, MKT, Side.YES, D(10), D("0.40"), D(4))])
    poly = FakeVenue(venue_=Venue.POLYMARKET, orders={"K9-l2": _pm_state("K9-l2", OrderStatus.CANCELLED, "0", ())})
    alerts = NullAlertSink()
    venues = {Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}
    when = NOW
    if later:
        poly.down = True
        before = _run(db, settings, venues, halt_on_drift=True, alerts=alerts)
        assert [d.kind for r in before for d in r.drifts] == [] and not KillSwitch(db).status().halted
        assert [(x["fill_id"], x["unhedged_shares"]) for x in _result_of(db, "K9")["late_fills"]] == [("k1", None)]
        poly.down, when = False, NOW + timedelta(minutes=5)
    results = _run(db, settings, venues, halt_on_drift=True, alerts=alerts, now=when)
    drifts = [(d.kind, d.ref, d.venue, d.ledger_qty, d.venue_qty, d.value) for r in results for d in r.drifts]
    assert drifts == [("execution", "K9", Venue.KALSHI, D(10), D(0), D(4))], drifts
    assert results[0].status == "drift" and results[0].counts["drifts"] == 1
    assert [k for k, _, _ in alerts.emitted] == ["reconcile.drift", "halt"], alerts.emitted
    assert KillSwitch(db).status().halted
    record = _result_of(db, "K9")
    assert [(x["fill_id"], x["unhedged_shares"]) for x in record["late_fills"]] == [("k1", "10")], record
    assert "10 unhedged" in record["message"], record["message"]
    # Judged once: the next run has nothing new to say about K9's late fill, but the naked leg it left
    # is still drift, as an ended execution left unhedged, until it is gone.
    judged = _types(db).count("execution.late_fill_judged")
    again = _run(db, settings, venues, alerts=alerts, now=when + timedelta(minutes=5))
    _still_unhedged(again, "K9", alerts)
    assert _types(db).count("execution.late_fill_judged") == judged
    _verify(db)


def test_a_fill_an_earlier_version_left_waiting_takes_the_later_fills_judgement_audited(
        db: Database, settings: Settings) -> None:
    """As in the K4 test, p1's pass judged K11's legs, but, as versions before this fix wrote it, k1's
    entry was left waiting: every run took the write lock to look at K11 again, for good. The next run
    gives it p1's judgement, audited (found in review: the result was rewritten with no event)."""
    venues = _both_legs_filled_after_it_ended(db, "K11")
    assert [d for r in _run(db, settings, venues) for d in r.drifts] == []
    record = _result_of(db, "K11")
    record["late_fills"][0].update(unhedged_shares=None)  # as an earlier version left it
    record["late_fills"][0].pop("judged_at")
    with db.write() as conn:
        conn.execute(executions.update().where(executions.c.key == "K11").values(result=canonical_json(record)))
    assert _waiting_for_judgement(db) == ["K11"]
    assert [d for r in _run(db, settings, venues, now=NOW + timedelta(minutes=5)) for d in r.drifts] == []
    late = _result_of(db, "K11")["late_fills"]
    assert [(x["fill_id"], x["unhedged_shares"]) for x in late] == [("k1", "0"), ("p1", "0")], late
    assert late[0]["judged_at"] == late[1]["recorded_at"]
    assert _waiting_for_judgement(db) == []
    (event,) = [e for e in AuditLog(db).tail(500) if e.type == "execution.late_fill_judged"]
    assert {k: event.payload[k] for k in ("key", "fill_ids", "unhedged_shares", "judged_by")} == {
        "key": "K11", "fill_ids": ["k1"], "unhedged_shares": "0", "judged_by": "p1"}, event.payload
    _verify(db)


@pytest.mark.parametrize("stored", ["{truncated", canonical_json({"message": "done", "late_fills": {"k0": "?"}})],
                         ids=["unreadable", "late_fills not a list"])
def test_a_late_fill_its_executions_result_cannot_take_is_judged_at_once_and_reported(
        db: Database, settings: Settings, stored: str) -> None:
    """As K9, but K12's result cannot take the late fill (unreadable, or `late_fills` not a list): it is
    left as it is. Found in review: k1, found while K12-l2 was in flight, was deferred to a judgement
    recorded nowhere, and K12-l2 then ended with nothing: 10 naked, reported by no run. With nowhere to
    wait, the legs are judged at once."""
    venues = _both_legs_filled_after_it_ended(db, "K12")
    poly = venues[Venue.POLYMARKET]
    poly.fills_, poly.positions_ = [], []
    poly.orders["K12-l2"] = _pm_state("K12-l2", OrderStatus.CANCELLED, "0", ())
    with db.write() as conn:
        conn.execute(executions.update().where(executions.c.key == "K12").values(result=stored))
    alerts = NullAlertSink()
    results = _run(db, settings, venues, halt_on_drift=True, alerts=alerts)
    drifts = [(d.kind, d.ref, d.venue, d.ledger_qty, d.venue_qty, d.value) for r in results for d in r.drifts]
    assert drifts == [("execution", "K12", Venue.KALSHI, D(10), D(0), D(4))], drifts
    assert "judged at once, while 1 of its orders is not final" in results[0].drifts[0].detail
    assert [k for k, _, _ in alerts.emitted] == ["reconcile.drift", "halt"], alerts.emitted
    assert KillSwitch(db).status().halted
    with db.read() as conn:  # left as it is
        assert conn.execute(executions.select().where(executions.c.key == "K12")).one().result == stored
    (event,) = [e for e in AuditLog(db).tail(500) if e.type == "execution.late_fill"]
    assert (event.payload["fill_id"], event.payload["unhedged_shares"]) == ("k1", "10"), event.payload
    assert event.payload["result_not_updated"].startswith("its result"), event.payload
    # Judged once: the fill is recorded, and nothing waits for a later run; the naked leg is still drift.
    again = _run(db, settings, venues, alerts=alerts, now=NOW + timedelta(minutes=5))
    _still_unhedged(again, "K12", alerts)
    assert _types(db).count("execution.late_fill") == 1
    _verify(db)


@pytest.mark.parametrize("shape", ["no order names it", "an item of another kind last"])
def test_a_late_fill_left_waiting_with_nothing_in_flight_is_judged_by_the_first_run(
        db: Database, settings: Settings, shape: str) -> None:
    """K13's late fill k1 (10 on its first leg) waits for a judgement, and nothing of K13 is in flight:
    no order names K13 any more (a ledger edited by hand), or its `late_fills` ends with an item that
    is not an entry. Found in review: never judged (a naked leg reported by no run), and every run read
    K13 again under the write lock. Judged once, on the first run."""
    ledger = Ledger(db, "live")
    k1 = _fill("k1", "o-1", "10", "0.40")
    _filled_order(ledger, "K13-l1", "o-1", [k1])
    _intent(ledger, "K13-l2", status="submitted", venue=Venue.POLYMARKET, market=PM, side=Side.NO, price="0.55")
    ledger.cancelled("K13-l2", reason="IOC: nothing filled", now=EARLIER)
    entry = {"client_order_id": "K13-l1", "fill_id": "k1", "action": "buy", "size": "10", "price": "0.4",
             "fee": "0.01", "ts": iso_utc(EARLIER), "recorded_at": iso_utc(EARLIER), "unhedged_shares": None}
    late: list[Any] = [entry] if shape == "no order names it" else [entry, "?"]
    _execution(db, "K13", "done", [] if shape == "no order names it" else ["K13-l1", "K13-l2"])
    with db.write() as conn:
        conn.execute(executions.update().where(executions.c.key == "K13").values(
            result=canonical_json({"message": "done", "late_fills": late})))
    kalshi = FakeVenue(fills_=[k1], positions_=[Position(Venue.KALSHI, MKT, Side.YES, D(10), D("0.40"), D(4))])
    alerts = NullAlertSink()
    results = _run(db, settings, {Venue.KALSHI: kalshi}, halt_on_drift=True, alerts=alerts)
    drifts = [(d.kind, d.ref, d.venue, d.market, d.side, d.ledger_qty, d.venue_qty, d.value)
              for r in results for d in r.drifts]
    assert drifts == [("execution", "K13", Venue.KALSHI, MKT, Side.YES, D(10), D(0), D(4))], drifts
    assert [k for k, _, _ in alerts.emitted] == ["reconcile.drift", "halt"], alerts.emitted
    assert KillSwitch(db).status().halted
    assert [(x["fill_id"], x["unhedged_shares"]) for x in _result_of(db, "K13")["late_fills"][:1]] == [("k1", "10")]
    assert _waiting_for_judgement(db) == []  # nothing left for a later run
    (event,) = [e for e in AuditLog(db).tail(500) if e.type == "execution.late_fill_judged"]
    assert (event.payload["key"], event.payload["fill_ids"]) == ("K13", ["k1"]), event.payload
    again = _run(db, settings, {Venue.KALSHI: kalshi}, alerts=alerts, now=NOW + timedelta(minutes=5))
    if shape == "no order names it":  # judged once; no order holds the leg that later runs could judge
        assert [d for r in again for d in r.drifts] == [] and len(alerts.emitted) == 2
    else:
        _still_unhedged(again, "K13", alerts)
    assert _types(db).count("execution.late_fill_judged") == 1
    _verify(db)


# -- drift found in step (1) survives its venue failing later in the run --------------------------------


def _second_leg_found_short(db: Database, key: str, kind: type[FakeVenue] = FakeVenue) -> FakeVenue:
    """Execution ``key`` ended "done" with its second leg in flight (its first filled 10 on Kalshi); the
    Polymarket venue (a ``kind``) then finds that leg cancelled with 6 filled: an execution drift, 4 naked,
    found in step (1), its fill recorded there."""
    ledger = Ledger(db, "live")
    _filled_order(ledger, f"{key}-l1", "o-1", [_fill("k1", "o-1", "10", "0.40")])
    _in_flight(ledger, f"{key}-l2", "pm-2", venue=Venue.POLYMARKET, market=PM, side=Side.NO, price="0.55")
    _execution(db, key, "done", [f"{key}-l1", f"{key}-l2"], PENDING)
    six = _fill("p1", "pm-2", "6", "0.55", venue=Venue.POLYMARKET, market=PM, side=Side.NO)
    return kind(venue_=Venue.POLYMARKET,
                orders={f"{key}-l2": _pm_state(f"{key}-l2", OrderStatus.CANCELLED, "6", (six,))})


class _ListingDown(FakeVenue):
    """Orders are found, but the fills listing of step (2) fails as an outage would."""

    async def fills(self, *, since: Any = None, venue_order_id: str = "") -> list[Any]:
        raise VenueUnavailable(self.venue_.value, "GET /trades: HTTP 503 after 3 attempts")


def test_an_execution_drift_found_before_its_venue_fails_is_reported_alerted_and_halts(
        db: Database, settings: Settings) -> None:
    """Step (1) finds K10's in-flight second leg filled 6 of 10 (an execution drift: 4 naked), then
    the venue's fills listing fails. Found in review: the venue was reported only "unavailable" (drift
    count unset), with no alert and no --halt-on-drift halt, though the CLI then printed HALTED; the
    fill being recorded, no later run reported it."""
    poly = _second_leg_found_short(db, "K10", _ListingDown)
    alerts = NullAlertSink()
    (res,) = _run(db, settings, {Venue.POLYMARKET: poly}, halt_on_drift=True, alerts=alerts)
    assert [(d.kind, d.ref, d.ledger_qty, d.venue_qty) for d in res.drifts] == [("execution", "K10", D(10), D(6))]
    assert res.status == "drift" and "503" in res.reason and res.counts["drifts"] == 1, res
    assert [k for k, _, _ in alerts.emitted] == ["reconcile.drift", "halt"], alerts.emitted
    st = KillSwitch(db).status()
    assert st.halted and st.kind == "reconcile", st
    (event,) = [e for e in AuditLog(db).tail(500) if e.type == "reconcile.unavailable"]
    assert [d["ref"] for d in event.payload["drifts"]] == ["K10"], event.payload
    _verify(db)


class _PositionsBroken(FakeVenue):
    """Orders are found, then reading the positions fails with an error that is not orion's (a bug)."""

    async def positions(self) -> list[Any]:
        raise RuntimeError("an internal error")


class _StoppedReadingPositions(FakeVenue):
    """Orders are found, then the run is stopped while the positions are read (Ctrl-C, or SIGTERM from
    cron's `timeout` or systemd, which orion turns into KeyboardInterrupt)."""

    async def positions(self) -> list[Any]:
        raise KeyboardInterrupt


class _CancelledReadingPositions(FakeVenue):
    async def positions(self) -> list[Any]:
        raise asyncio.CancelledError


@pytest.mark.parametrize("where", ["reading the venue", "in the comparison", "stopped", "cancelled"])
def test_an_execution_drift_found_before_an_internal_error_is_alerted_and_halts_and_the_error_is_raised(
        db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Step (1) finds K14's second leg filled 6 of 10 (4 naked; its fill recorded, so no later run finds
    it again), then the run fails with an error that is not an outage. Found in review: exit 1, and the
    drift was lost: no alert, no --halt-on-drift halt. The error still ends the run; what the failed
    comparison found (here a resting order --fix adopted) was rolled back and is not reported. Found in
    the next review: a stop (Ctrl-C, SIGTERM) or a cancellation there lost it the same way."""
    from orion_cli.core.reconcile import venue as module

    venue_kind = {"reading the venue": _PositionsBroken, "stopped": _StoppedReadingPositions,
                  "cancelled": _CancelledReadingPositions}.get(where, FakeVenue)
    poly = _second_leg_found_short(db, "K14", venue_kind)
    if where == "in the comparison":
        poly.open_ = [OrderState(Venue.POLYMARKET, "", "manual-rest", OrderStatus.OPEN, PM, Side.NO, Action.BUY,
                                 D(8), D(0), None, D(0), D("0.25"), NOW, venue_status="resting")]

        def broken(*args: Any, **kwargs: Any) -> None:
            raise KeyError("an internal error")

        monkeypatch.setattr(module, "compare_positions", broken)
    alerts = NullAlertSink()
    with pytest.raises((RuntimeError, KeyError, KeyboardInterrupt, asyncio.CancelledError)):
        _run(db, settings, {Venue.POLYMARKET: poly}, fix=True, halt_on_drift=True, alerts=alerts)
    assert [k for k, _, _ in alerts.emitted] == ["reconcile.drift", "halt"], alerts.emitted
    assert [d["ref"] for d in alerts.emitted[0][2]["drifts"]] == ["K14"], alerts.emitted[0]
    said = "then the run was stopped" if where in ("stopped", "cancelled") else "then the run failed"
    assert said in alerts.emitted[0][1], alerts.emitted[0][1]
    st = KillSwitch(db).status()
    assert st.halted and st.kind == "reconcile", st
    (event,) = [e for e in AuditLog(db).tail(500) if e.type == "reconcile.failed"]
    assert [d["ref"] for d in event.payload["drifts"]] == ["K14"], event.payload
    assert event.payload["error"] in ("RuntimeError", "KeyError", "KeyboardInterrupt", "CancelledError"), event.payload
    assert "reconcile.fixed" not in [e.type for e in AuditLog(db).tail(500)]
    assert sorted(o.client_order_id for o in Ledger(db, "live").orders()) == ["K14-l1", "K14-l2"]
    _verify(db)
