"""``build_report`` on a ledger filled through PaperVenue, every figure worked out by hand.

Kalshi fee per fill: ceil_to_$0.0001(0.07 × C × P × (1 − P)); the Polymarket markets here are fee-free.
Latency is made deterministic by a clock the market source advances when the paper venue re-reads
the book (between ``order.submitted`` and the venue's answer).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import insert

from orion_cli.core.config import load_settings
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, Side, TickStructure, Venue
from orion_cli.core.report import build_report, failed_checks, percentile, plan_figures
from orion_cli.store.audit import AuditLog, canonical_json, iso_utc
from orion_cli.store.db import Database
from orion_cli.store.tables import executions, opportunities
from orion_cli.venues.paper import PaperVenue
from orion_cli.venues.trading import Action, OrderRejected, OrderRequest, OrderState, PreparedOrder, TimeInForce

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def levels(*pairs: tuple[str, str]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(D(p), D(s)) for p, s in pairs)


@dataclass
class Listing:
    market: Market
    book: OrderBook
    delay_ms: int


class Source:
    """Markets on both venues; reading a book takes ``delay_ms`` of (simulated) venue time."""

    name = "test"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.listings: dict[str, Listing] = {}

    def add(self, venue: Venue, market_id: str, *, yes_asks: tuple[PriceLevel, ...] = (),
            yes_bids: tuple[PriceLevel, ...] = (), no_asks: tuple[PriceLevel, ...] = (), delay_ms: int,
            status: MarketStatus = MarketStatus.OPEN) -> None:
        fees = FeeModel.kalshi() if venue is Venue.KALSHI else FeeModel.polymarket(D(0))
        market = Market(venue, market_id, "EV", f"Market {market_id}", status, None, fees,
                        TickStructure.uniform(D("0.01")), category="Politics")
        book = OrderBook(venue, market_id, BookSide(yes_bids, yes_asks), BookSide((), no_asks), T0)
        self.listings[market_id] = Listing(market, book, delay_ms)

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused by the paper venue
        raise NotImplementedError

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        listing = self.listings[ref]
        self.clock.now += timedelta(milliseconds=listing.delay_ms)
        return listing.market, listing.book


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = Clock(T0)
        self.source = Source(self.clock)
        settings = load_settings(environ={})
        self.venues = {v: PaperVenue(v, db, self.source, settings, clock=self.clock) for v in Venue}

    def place(self, venue: Venue, market: str, side: Side, action: Action, size: str, limit: str, cid: str,
              execution_id: str | None = None, tif: TimeInForce = TimeInForce.FOK) -> OrderState | None:
        pv = self.venues[venue]
        request = OrderRequest(venue, market, side, action, D(size), D(limit), tif, cid)
        prepared = pv.prepare(request)
        pv.ledger.record_intent(prepared, execution_id=execution_id, now=self.clock())
        try:
            return asyncio.run(pv.submit(prepared))
        except OrderRejected:
            return None

    def execution(self, key: str, legs: list[dict[str, str]], *, quoted: str, planned: str, size: str,
                  status: str, result: dict[str, Any] | None = None, mode: str = "paper",
                  specs: list[dict[str, Any]] | None = None) -> None:
        plan: dict[str, Any] = {"type": "plan", "key": key, "opportunity_id": f"op-{key}", "size": size,
                                "net_edge": planned, "quoted_net_edge": quoted, "legs": legs}
        if specs is not None:
            plan["specs"] = specs
        ts = iso_utc(self.clock())
        with self.db.write() as conn:
            conn.execute(insert(executions).values(
                key=key, opportunity_id=f"op-{key}", mode=mode, status=status, size=D(size),
                plan=canonical_json(plan), result=canonical_json(result or {"type": "execution"}),
                created_at=ts, updated_at=ts))

    def rejected(self, payload: dict[str, Any], *, venue: str | None = None, mode: str = "paper") -> None:
        AuditLog(self.db).record("risk.rejected", payload, mode=mode, venue=venue, now=self.clock())


def leg(venue: str, market: str, side: str, avg: str) -> dict[str, str]:
    return {"venue": venue, "market": market, "side": side, "size": "10", "avg_price": avg, "limit_price": avg}


@pytest.fixture
def world(db: Database) -> World:
    """The timeline the tests below work through by hand.

    10:00 exec-1: Kalshi buy 10 YES KX-A (5 @ 0.40 fee 0.084, 5 @ 0.41 fee 0.0847; 120 ms) and
          Polymarket buy 10 NO PM-A (10 @ 0.50, no fee; 300 ms, but the executor recorded 42.5 ms).
    10:05 risk.rejected ×4 (+1 polymarket-only, +1 in live mode).
    10:10 manual Kalshi buy 1 YES KX-C (closed market: rejected, 200 ms) and 1 YES KX-A (filled, 120 ms).
    11:00 exec-2: Kalshi buy 10 YES KX-B (10 @ 0.30 fee 0.147; 80 ms); Polymarket FOK 10 NO PM-B at
          0.60 against asks at 0.61 (cancelled; 250 ms); unwind: sell 10 YES KX-B at 0.28 (fee 0.1412; 80 ms).
    11:10 risk.rejected ×1.
    """
    w = World(db)
    s = w.source
    s.add(Venue.KALSHI, "KX-A", yes_asks=levels(("0.40", "5"), ("0.41", "10")), delay_ms=120)
    s.add(Venue.KALSHI, "KX-B", yes_asks=levels(("0.30", "50")), yes_bids=levels(("0.28", "50")), delay_ms=80)
    s.add(Venue.KALSHI, "KX-C", yes_asks=levels(("0.50", "50")), delay_ms=200, status=MarketStatus.CLOSED)
    s.add(Venue.POLYMARKET, "PM-A", no_asks=levels(("0.50", "100")), delay_ms=300)
    s.add(Venue.POLYMARKET, "PM-B", no_asks=levels(("0.61", "100")), delay_ms=250)

    w.execution("exec-1", [leg("kalshi", "KX-A", "yes", "0.40"), leg("polymarket", "PM-A", "no", "0.50")],
                quoted="0.09", planned="0.085", size="10", status="done",
                result={"key": "exec-1", "legs": {"l2": {"coid": "e1-p", "latency_ms": "42.5"}}})
    assert w.place(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, "10", "0.41", "e1-k", "exec-1") is not None
    assert w.place(Venue.POLYMARKET, "PM-A", Side.NO, Action.BUY, "10", "0.50", "e1-p", "exec-1") is not None

    w.clock.now = T0 + timedelta(minutes=5)
    w.rejected({"checks": [{"name": "BALANCE", "passed": False, "leg": 0}, {"name": "BALANCE", "passed": False,
                                                                          "leg": 1},
                           {"name": "HALTED", "passed": True, "leg": None}]})
    w.rejected({"failed": ["EDGE_GONE", "STALE_QUOTE"]})
    w.rejected({"reason": "BALANCE"})
    w.rejected({"detail": "something else"})
    w.rejected({"check": "PRICE_BAND"}, venue="polymarket")
    w.rejected({"check": "RATE_LIMIT"}, mode="live")

    w.clock.now = T0 + timedelta(minutes=10)
    assert w.place(Venue.KALSHI, "KX-C", Side.YES, Action.BUY, "1", "0.50", "manual-1") is None
    assert w.place(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, "1", "0.40", "manual-2") is not None

    w.clock.now = T0 + timedelta(hours=1)
    w.execution("exec-2", [leg("kalshi", "KX-B", "yes", "0.30"), leg("polymarket", "PM-B", "no", "0.60")],
                quoted="0.08", planned="0.10", size="10", status="unwound")
    w.place(Venue.KALSHI, "KX-B", Side.YES, Action.BUY, "10", "0.30", "e2-k", "exec-2")
    w.place(Venue.POLYMARKET, "PM-B", Side.NO, Action.BUY, "10", "0.60", "e2-p", "exec-2")
    w.place(Venue.KALSHI, "KX-B", Side.YES, Action.SELL, "10", "0.28", "e2-k-unwind", "exec-2",
            tif=TimeInForce.IOC)
    w.clock.now = T0 + timedelta(hours=1, minutes=10)
    w.rejected({"failed": [{"name": "DUPLICATE", "passed": False}]})
    w.execution("exec-live", [leg("kalshi", "KX-A", "yes", "0.40")], quoted="0.1", planned="0.1", size="10",
                status="done", mode="live")
    return w


def by_type(records: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == type_]


def test_fill_rate_slippage_and_latency_per_venue(world: World) -> None:
    report = build_report(world.db, mode="paper", now=T0 + timedelta(hours=2))
    kalshi, poly = report.venues
    assert kalshi.venue == "kalshi" and poly.venue == "polymarket"
    # Kalshi sent e1-k, manual-1 (rejected), manual-2, e2-k, e2-k-unwind: 4 filled of 5.
    assert (kalshi.sent, kalshi.filled, kalshi.rejected, kalshi.partial, kalshi.cancelled) == (5, 4, 1, 0, 0)
    assert kalshi.fill_rate == D("0.8")
    assert kalshi.contracts_sent == D("32") and kalshi.contracts_filled == D("31")
    assert kalshi.contract_fill_rate == D("0.96875")  # 31/32, exact to 1e-6
    # Slippage: e1-k avg (2.00 + 2.05)/10 = 0.405 vs 0.40 → +0.005; e2-k 0.30 vs 0.30 → 0.
    # manual-2 has no plan (noted); the unwind is a sell (no quote).
    s = kalshi.slippage
    assert (s.orders, s.contracts) == (2, D("20"))
    assert s.mean == D("0.0025")  # (0.005 × 10 + 0 × 10) / 20
    assert (s.p50, s.p95, s.total) == (D("0"), D("0.005"), D("0.05"))
    # Latency: 120 (e1-k), 200 (manual-1, answered by a rejection), 120 (manual-2), 80 (e2-k), 80 (unwind).
    lat = kalshi.latency_ms
    assert (lat.samples, lat.p50, lat.p95, lat.p99, lat.source) == (5, D("120"), D("200"), D("200"), "audit")

    assert (poly.sent, poly.filled, poly.cancelled) == (2, 1, 1)
    assert poly.fill_rate == D("0.5") and poly.contract_fill_rate == D("0.5")
    assert (poly.slippage.orders, poly.slippage.mean) == (1, D("0"))
    # e1-p: the executor's own 42.5 ms wins over the audit's 300 ms; e2-p from the audit log: 250 ms.
    assert (poly.latency_ms.p50, poly.latency_ms.p95, poly.latency_ms.source) == (D("42.5"), D("250"), "mixed")
    assert any("1 filled buy order(s) have no planned price" in n for n in report.notes)


@pytest.mark.parametrize(("sent", "filled", "contracts_sent", "contracts_filled", "rate", "contract_rate"), [
    (20000, 19999, "200000", "199999.99", "0.99995", "0.999999"),
    (3000000, 2999999, "3", "2.9999999", "0.999999", "0.999999"),  # at 1e-6 too: down, not to 1
    (3, 2, "3", "2", "0.666666", "0.666666"),
    (7, 7, "7.5", "7.5", "1", "1"),
])
def test_a_fill_rate_is_never_shown_above_what_filled(sent: int, filled: int, contracts_sent: str,
                                                       contracts_filled: str, rate: str, contract_rate: str) -> None:
    """Found in review: 19999 orders filled of 20000 showed a fill rate of 1 (half-even to 4 places), as
    if every order had filled. A rate is rounded down: 1 only when all filled."""
    from orion_cli.core.report import LatencyStats, Report, SlippageStats, VenueQuality

    v = VenueQuality("kalshi", sent, filled, 0, sent - filled, 0, 0, D(contracts_sent), D(contracts_filled),
                     SlippageStats(0, D(0), None, None, None, None), LatencyStats(0, None, None, None, "audit"))
    assert (v.fill_rate, v.contract_fill_rate) == (D(rate), D(contract_rate))
    record = v.to_record()
    assert (record["fill_rate"], record["contract_fill_rate"]) == (D(rate), D(contract_rate))
    summary = Report("paper", None, None, T0, [v], [], [], 0).summary()
    assert summary["fill_rate"] == D(rate)


def test_an_intent_cancelled_before_it_was_sent_is_not_counted_as_sent(world: World) -> None:
    """Found in review: a hedge intent superseded or cancelled at a halt counted as sent and cancelled,
    halving the fill rate of a venue that filled everything it was sent."""
    from orion_cli.execution.state import NEVER_SENT
    from orion_cli.store.ledger import Ledger

    ledger = Ledger(world.db, "paper")
    request = OrderRequest(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, D("10"), D("0.40"), TimeInForce.FOK, "e3-k")
    ledger.record_intent(PreparedOrder(request, "{}"), now=T0 + timedelta(minutes=30))
    ledger.cancelled("e3-k", reason=f"{NEVER_SENT}halted before it was sent", now=T0 + timedelta(minutes=30))
    kalshi = build_report(world.db, mode="paper", now=T0 + timedelta(hours=2)).venues[0]
    assert (kalshi.sent, kalshi.filled, kalshi.cancelled) == (5, 4, 0)  # as without it
    assert kalshi.contracts_sent == D("32")


def test_an_order_closed_as_never_reached_that_a_late_fill_is_recorded_on_counts_as_sent(world: World) -> None:
    """Found in review: reconcile's "never reached the venue" reason stays on an order a fill listed later is
    recorded on; read by its reason alone, the filled order was left out of the fill rate and slippage."""
    from orion_cli.core.reconcile.results import NEVER_REACHED
    from orion_cli.store.ledger import Ledger
    from orion_cli.venues.trading import Fill

    ledger = Ledger(world.db, "paper")
    at = T0 + timedelta(minutes=30)
    request = OrderRequest(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, D("10"), D("0.40"), TimeInForce.FOK, "e3-k")
    ledger.record_intent(PreparedOrder(request, "{}"), now=at)
    ledger.mark_submitted("e3-k", now=at)
    ledger.cancelled("e3-k", reason=NEVER_REACHED, now=at)
    before = build_report(world.db, mode="paper", now=T0 + timedelta(hours=2)).venues[0]
    assert (before.sent, before.filled) == (5, 4)  # closed as never reached: not sent
    fill = Fill(Venue.KALSHI, "f-e3", "V-e3", "KX-A", Side.YES, Action.BUY, D("10"), D("0.40"), D("0.07"), at,
                client_order_id="e3-k")
    ledger.record_fills("e3-k", [fill], now=at)
    after = build_report(world.db, mode="paper", now=T0 + timedelta(hours=2)).venues[0]
    assert (after.sent, after.contracts_sent, after.contracts_filled) == (
        6, before.contracts_sent + 10, before.contracts_filled + 10)


def test_rejections_by_check_in_pipeline_order(world: World) -> None:
    report = build_report(world.db, mode="paper")
    counts = [(r.check, r.count) for r in report.rejections]
    # BALANCE failing on both legs counts once per event; the live RATE_LIMIT is another mode's.
    assert counts == [("PRICE_BAND", 1), ("STALE_QUOTE", 1), ("EDGE_GONE", 1), ("BALANCE", 2), ("DUPLICATE", 1),
                      ("UNSPECIFIED", 1)]
    assert report.rejection_events == 6
    only_kalshi = build_report(world.db, mode="paper", venue=Venue.KALSHI)
    assert "PRICE_BAND" not in [r.check for r in only_kalshi.rejections]
    assert only_kalshi.rejection_events == 5


def test_realised_against_quoted_edge_per_execution(world: World) -> None:
    report = build_report(world.db, mode="paper")
    e1, e2 = report.executions
    assert [e1.key, e2.key] == ["exec-1", "exec-2"]  # exec-live is another mode's
    # exec-1 paid 2.00 + 2.05 + 0.084 + 0.0847 + 5.00 = 9.2187 for 10 complete sets paying $10.
    assert (e1.hedged, e1.paid, e1.realised_profit) == (D("10"), D("9.2187"), D("0.7813"))
    assert e1.realised_edge == D("0.07813")
    assert (e1.quoted_edge, e1.planned_edge, e1.planned_size) == (D("0.09"), D("0.085"), D("10"))
    assert e1.edge_vs_quote == D("-0.01187")
    assert e1.note == ""
    # exec-2 bought 10 YES at 0.30 (fee 0.147), the other leg was killed, and the unwind sold 10 at 0.28
    # (fee 0.1412): nothing hedged, it cost 3.00 + 0.147 − 2.80 + 0.1412 = 0.4882.
    assert (e2.hedged, e2.realised_edge, e2.realised_profit) == (D("0"), None, D("-0.4882"))
    assert "fully unwound" in e2.note
    summary = report.summary()
    assert summary["executions"] == 2 and summary["executions_with_realised_edge"] == 1
    # The edge compares with the quote over the hedged execution; the profit also pays for the unwind
    # (it used to leave exec-2's 0.4882 out and show 0.7813).
    assert (summary["realised_edge"], summary["quoted_edge"]) == (D("0.07813"), D("0.09"))
    assert (summary["realised_profit"], summary["unwind_cost"]) == (D("0.2931"), D("0.4882"))
    assert summary["orders_sent"] == 7 and summary["orders_filled"] == 5
    assert summary["empty"] is False


def test_an_unhedged_execution_has_no_realised_edge(world: World) -> None:
    world.clock.now = T0 + timedelta(hours=3)
    world.execution("exec-3", [leg("kalshi", "KX-A", "yes", "0.40"), leg("polymarket", "PM-B", "no", "0.60")],
                    quoted="0.05", planned="0.05", size="5", status="failed")
    world.place(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, "5", "0.40", "e3-k", "exec-3")
    world.place(Venue.POLYMARKET, "PM-B", Side.NO, Action.BUY, "5", "0.60", "e3-p", "exec-3")
    report = build_report(world.db, mode="paper", since=T0 + timedelta(hours=3))
    [e3] = report.executions
    assert e3.realised_edge is None and e3.realised_profit is None
    assert e3.note == "unhedged 5 on kalshi:KX-A:yes; realised edge unknown until settled"


def test_an_overfill_is_carried_at_cost_not_realised(world: World) -> None:
    world.clock.now = T0 + timedelta(hours=5)
    world.execution("exec-5", [leg("kalshi", "KX-A", "yes", "0.40"), leg("polymarket", "PM-A", "no", "0.50")],
                    quoted="0.09", planned="0.09", size="5", status="done")
    world.place(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, "5", "0.40", "e5-k", "exec-5")  # fee 0.084
    world.place(Venue.POLYMARKET, "PM-A", Side.NO, Action.BUY, "6", "0.50", "e5-p", "exec-5")  # one share over
    [e5] = build_report(world.db, mode="paper", since=T0 + timedelta(hours=5)).executions
    # paid 2.00 + 0.084 + 3.00 = 5.084, of which the sixth NO share (0.50) is still held:
    # 5 sets pay 5 − 4.584 = 0.416, i.e. 0.0832 per contract.
    assert (e5.hedged, e5.paid, e5.realised_profit, e5.realised_edge) == (D("5"), D("5.084"), D("0.416"),
                                                                         D("0.0832"))
    assert e5.note == "unhedged 1 on polymarket:PM-A:no carried at cost 0.5, left out of the realised figures"


def test_since_filter(world: World) -> None:
    report = build_report(world.db, mode="paper", since=T0 + timedelta(minutes=30))
    kalshi, poly = report.venues
    assert (kalshi.sent, kalshi.filled, poly.sent, poly.filled) == (2, 2, 1, 0)
    assert poly.fill_rate == D("0")
    assert [e.key for e in report.executions] == ["exec-2"]
    assert [(r.check, r.count) for r in report.rejections] == [("DUPLICATE", 1)]
    assert report.since == "2026-11-21T10:30:00.000000Z"


def test_an_execution_begun_before_the_window_and_ended_in_it_is_in_the_window(world: World) -> None:
    """Found re-deriving the report: an execution halted overnight and unwound the next morning realised its
    loss in the morning, yet `--since` the morning left it out (its start was before), while counting the
    sell-back order that realised it: the loss was in no window starting after the execution began."""
    from sqlalchemy import update

    since = T0 + timedelta(minutes=30)
    assert [e.key for e in build_report(world.db, mode="paper", since=since).executions] == ["exec-2"]
    with world.db.write() as conn:  # exec-1, begun at 10:00, last changed (its end recorded) at 10:45
        conn.execute(update(executions).where(executions.c.key == "exec-1").values(
            updated_at=iso_utc(T0 + timedelta(minutes=45))))
    assert [e.key for e in build_report(world.db, mode="paper", since=since).executions] == ["exec-1", "exec-2"]
    assert [e.key for e in build_report(world.db, mode="paper", since=T0 + timedelta(minutes=50)).executions] == [
        "exec-2"]


def test_the_note_says_why_no_execution_has_a_realised_edge(world: World) -> None:
    """Found by black-box testing: with only unwound executions the report said "no execution is fully
    hedged yet", as if a hedge were still to come; an unwound or unfilled execution never will be."""
    unwound = build_report(world.db, mode="paper", since=T0 + timedelta(minutes=30))
    [note] = [n for n in unwound.notes if n.startswith("realised edge")]
    assert note == ("realised edge: none, as no execution ended hedged: 1 fully unwound (the cost is in "
                    "realised_profit and unwind_cost); see each execution's note")
    assert [(e.key, e.outcome) for e in unwound.executions] == [("exec-2", "unwound")]
    world.clock.now = T0 + timedelta(hours=3)
    legs = [leg("kalshi", "KX-A", "yes", "0.40"), leg("polymarket", "PM-B", "no", "0.60")]
    world.execution("exec-3", legs, quoted="0.05", planned="0.05", size="5", status="failed")
    world.place(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, "5", "0.40", "e3-k", "exec-3")
    world.execution("exec-4", legs, quoted="0.05", planned="0.05", size="5", status="refused")
    later = build_report(world.db, mode="paper", since=T0 + timedelta(hours=3))
    assert ("realised edge: none, as no execution ended hedged: 1 holding unhedged contracts, valued once "
            "settled, 1 with nothing filled; see each execution's note") in later.notes
    assert [e.outcome for e in later.executions] == ["unhedged", "unfilled"]
    assert not [n for n in build_report(world.db, mode="paper").notes if n.startswith("realised edge")]  # exec-1


def test_records_are_typed_and_null_when_not_recorded(world: World) -> None:
    report = build_report(world.db, mode="paper", venue=Venue.POLYMARKET)
    records = report.records()
    assert {r["type"] for r in records} == {"report_summary", "report_venue", "report_rejection",
                                           "report_execution"}
    [venue] = by_type(records, "report_venue")
    assert venue["venue"] == "polymarket"
    assert venue["latency_ms"]["p99"] == D("250")
    assert by_type(records, "report_summary")[0]["venue"] == "polymarket"


def test_an_empty_ledger_is_a_clear_empty_report(db: Database) -> None:
    report = build_report(db, mode="paper")
    assert report.empty
    assert report.notes == ["nothing to report: no orders, executions or risk rejections in the paper ledger"]
    assert [v.venue for v in report.venues] == ["kalshi", "polymarket"]
    for v in report.venues:
        assert (v.sent, v.fill_rate, v.slippage.mean, v.latency_ms.p50, v.latency_ms.source) == (
            0, None, None, None, None)
    assert report.rejections == [] and report.executions == []
    summary = report.summary()
    assert summary["fill_rate"] is None and summary["realised_edge"] is None and summary["empty"] is True


def test_latency_not_recorded_is_null_and_noted(db: Database) -> None:
    w = World(db)
    w.source.add(Venue.KALSHI, "KX-A", yes_asks=levels(("0.40", "5")), delay_ms=10)
    pv = w.venues[Venue.KALSHI]
    prepared = pv.prepare(OrderRequest(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, D("1"), D("0.40"),
                                       TimeInForce.FOK, "sent-no-answer"))
    pv.ledger.record_intent(prepared, now=w.clock())
    pv.ledger.mark_submitted("sent-no-answer", now=w.clock())  # sent, never answered (a crash)
    report = build_report(db, mode="paper")
    kalshi = report.venues[0]
    assert (kalshi.sent, kalshi.unanswered, kalshi.latency_ms.samples, kalshi.latency_ms.p50) == (1, 1, 0, None)
    assert any(n.startswith("latency on kalshi: not recorded") for n in report.notes)


def test_percentile_is_nearest_rank() -> None:
    values = [D(v) for v in ("5", "1", "4", "2", "3")]
    assert [percentile(values, p) for p in (50, 95, 99)] == [D("3"), D("5"), D("5")]
    assert percentile([D(7)], 50) == D(7)
    assert percentile([], 50) is None
    assert percentile([D(n) for n in range(1, 101)], 95) == D(95)


def test_failed_checks_reads_every_spelling() -> None:
    assert failed_checks({"checks": [{"name": "A", "passed": False}, {"name": "B", "passed": True}]}) == ["A"]
    assert failed_checks({"failed_checks": ["X", {"name": "Y"}], "reason": "ignored"}) == ["X", "Y"]
    assert failed_checks({"check": "HALTED"}) == ["HALTED"]
    assert failed_checks({}) == []


def test_a_plan_with_one_leg_is_not_valued_as_a_set(world: World) -> None:
    world.clock.now = T0 + timedelta(hours=4)
    world.execution("exec-4", [leg("kalshi", "KX-A", "yes", "0.40")], quoted="0.05", planned="0.05", size="5",
                    status="done")
    world.place(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, "5", "0.40", "e4-k", "exec-4")
    [e4] = build_report(world.db, mode="paper", since=T0 + timedelta(hours=4)).executions
    assert e4.realised_edge is None and e4.realised_profit is None
    assert "fewer than two legs" in e4.note


def test_slippage_uses_the_plan_of_an_execution_started_before_the_window(world: World) -> None:
    world.clock.now = T0 + timedelta(hours=6)
    world.execution("exec-6", [leg("kalshi", "KX-A", "yes", "0.39"), leg("polymarket", "PM-A", "no", "0.50")],
                    quoted="0.09", planned="0.09", size="5", status="done")
    world.clock.now += timedelta(seconds=1)
    world.place(Venue.KALSHI, "KX-A", Side.YES, Action.BUY, "5", "0.40", "e6-k", "exec-6")
    report = build_report(world.db, mode="paper", since=T0 + timedelta(hours=6, milliseconds=500))
    assert report.executions == []  # exec-6 itself started before the window
    kalshi = report.venues[0]
    assert (kalshi.sent, kalshi.slippage.orders, kalshi.slippage.mean) == (1, 1, D("0.01"))  # 0.40 vs 0.39


# -- slippage against the plan's levels, exact -----------------------------------------------------------
#
# The plan walked 140 @ 0.80 + 160 @ 0.81 = 241.60 for 300 YES of KX-S (the repro's Kalshi book): its
# average 0.80533… is stored rounded up to 0.805334, and the levels in the leg's spec.

PLANNED = [["0.80", "140"], ["0.81", "160"]]


def _slip_world(db: Database, *asks: tuple[str, str], specs: bool = True) -> World:
    w = World(db)
    w.source.add(Venue.KALSHI, "KX-S", yes_asks=levels(*asks), delay_ms=10)
    w.execution("exec-s", [{"venue": "kalshi", "market": "KX-S", "side": "yes", "size": "300", "cost": "241.60",
                            "avg_price": "0.805334", "limit_price": "0.81"}],
                quoted="0.01", planned="0.01", size="300", status="done",
                specs=[{"venue": "kalshi", "market": "KX-S", "side": "yes", "planned_levels": PLANNED}]
                if specs else None)
    return w


def _kalshi_slippage(db: Database) -> tuple[Any, list[str]]:
    report = build_report(db, mode="paper")
    return report.venues[0].slippage, report.notes


def test_an_order_filled_exactly_at_the_planned_levels_has_no_slippage(db: Database) -> None:
    """Found by black-box testing: the fill average 0.8053333333 against the rounded-up 0.805334 showed
    mean -0.0000006667 and total -0.00020001, a price improvement that never happened."""
    w = _slip_world(db, ("0.80", "140"), ("0.81", "360"))
    assert w.place(Venue.KALSHI, "KX-S", Side.YES, Action.BUY, "300", "0.81", "s-1", "exec-s") is not None
    s, notes = _kalshi_slippage(db)
    assert (s.orders, s.contracts, s.mean, s.p50, s.p95, s.total) == (1, D("300"), D(0), D(0), D(0), D(0))
    assert not any("planned average" in n for n in notes)


def test_every_level_a_tick_worse_is_exactly_a_tick_of_slippage(db: Database) -> None:
    w = _slip_world(db, ("0.81", "140"), ("0.82", "360"))
    assert w.place(Venue.KALSHI, "KX-S", Side.YES, Action.BUY, "300", "0.82", "s-1", "exec-s") is not None
    s, _ = _kalshi_slippage(db)
    # 140 @ 0.81 + 160 @ 0.82 = 244.60 against 241.60 (it was 0.0099993333 a contract, 2.99979999 in all).
    assert (s.mean, s.p50, s.total) == (D("0.01"), D("0.01"), D("3"))


def test_a_partial_fill_and_its_retry_are_compared_with_the_levels_they_took(db: Database) -> None:
    """The first order fills the 140 @ 0.80 only: against the plan's cheapest 140 that is at plan, not
    0.005334 a contract better than the average of all 300. The retry then takes 160 @ 0.81, the levels
    the first left: at plan too, not 0.004666 a contract worse."""
    w = _slip_world(db, ("0.80", "140"))
    assert w.place(Venue.KALSHI, "KX-S", Side.YES, Action.BUY, "300", "0.81", "s-1", "exec-s",
                   tif=TimeInForce.IOC) is not None
    s, _ = _kalshi_slippage(db)
    assert (s.orders, s.contracts, s.mean, s.total) == (1, D("140"), D(0), D(0))
    w.source.add(Venue.KALSHI, "KX-S", yes_asks=levels(("0.81", "160"), ("0.82", "100")), delay_ms=10)
    w.clock.now += timedelta(seconds=1)
    retried_at = w.clock.now
    assert w.place(Venue.KALSHI, "KX-S", Side.YES, Action.BUY, "160", "0.82", "s-2", "exec-s") is not None
    s, _ = _kalshi_slippage(db)
    assert (s.orders, s.contracts, s.mean, s.p95, s.total) == (2, D("300"), D(0), D(0), D(0))
    # Its first order outside the window, the retry is still measured after it.
    kalshi = build_report(db, mode="paper", since=retried_at).venues[0]
    assert (kalshi.slippage.orders, kalshi.slippage.total) == (1, D(0))


def test_a_plan_recorded_before_levels_were_kept_uses_its_exact_average_and_says_so(db: Database) -> None:
    """An older ledger row has the leg's cost and size (and the rounded average) but no levels: a fill at
    plan is still exactly 0 (cost / size, not 0.805334); a partial fill is compared with that average."""
    w = _slip_world(db, ("0.80", "140"), ("0.81", "360"), specs=False)
    assert w.place(Venue.KALSHI, "KX-S", Side.YES, Action.BUY, "300", "0.81", "s-1", "exec-s") is not None
    s, notes = _kalshi_slippage(db)
    assert (s.mean, s.total) == (D(0), D(0))
    assert "slippage: 1 order(s) of executions recorded before plans kept their price levels are measured " \
           "against the leg's planned average (a partial fill there is not compared with the cheapest levels)" \
           in notes
    w.source.add(Venue.KALSHI, "KX-S", yes_asks=levels(("0.80", "140")), delay_ms=10)
    w.execution("exec-old", [{"venue": "kalshi", "market": "KX-S", "side": "yes", "size": "300",
                              "cost": "241.60", "avg_price": "0.805334"}],
                quoted="0.01", planned="0.01", size="300", status="done")
    assert w.place(Venue.KALSHI, "KX-S", Side.YES, Action.BUY, "300", "0.81", "s-old", "exec-old",
                   tif=TimeInForce.IOC) is not None
    s, _ = _kalshi_slippage(db)
    # 140 @ 0.80 = 112 against 140 × 241.60 / 300 = 112.746666…: -0.0053333333 a contract.
    assert (s.orders, s.p50, s.total) == (2, D("-0.0053333333"), D("-0.7466666667"))


def test_a_cross_venue_rejection_counts_for_the_venue_of_the_leg_that_failed(db: Database) -> None:
    """Found by review: `report --venue polymarket` counted a MARKET_EXPOSURE refusal of a plan's Kalshi
    leg (leg 0), as it filtered on the event's venue column, empty for every cross-venue plan. A leg's
    check now counts for its leg's venue (the event's `leg_venues`, else the stored opportunity's legs);
    a plan-wide check, and a leg whose venue is recorded nowhere (noted), for every venue."""
    w = World(db)
    exposure = {"name": "MARKET_EXPOSURE", "passed": False, "leg": 0, "detail": "kalshi KX-A: existing …"}
    halted = {"name": "HALTED", "passed": False, "leg": None}
    band = {"name": "PRICE_BAND", "passed": False, "leg": 1}
    w.rejected({"key": "r1", "opportunity_id": "op-new", "leg_venues": ["kalshi", "polymarket"],
                "checks": [exposure], "failed": [exposure]})
    w.rejected({"key": "r2", "opportunity_id": "op-new", "leg_venues": ["kalshi", "polymarket"],
                "checks": [halted, band], "failed": [halted, band]})
    # Recorded before events named their legs' venues: the stored opportunity's legs say which.
    with db.write() as conn:
        conn.execute(insert(opportunities).values(
            id="op-old", kind="cross", pair_key="p", observed_at=iso_utc(T0), expires_at=iso_utc(T0),
            net_profit="1", net_edge="0.1", source="test",
            record=canonical_json({"id": "op-old", "legs": [{"venue": "kalshi"}, {"venue": "polymarket"}]})))
    w.rejected({"key": "r3", "opportunity_id": "op-old", "checks": [exposure], "failed": [exposure]})
    w.rejected({"key": "r4", "opportunity_id": "op-gone", "checks": [exposure], "failed": [exposure]})

    def counts(venue: Venue | None) -> tuple[list[tuple[str, int]], int, list[str]]:
        report = build_report(db, mode="paper", venue=venue)
        return [(r.check, r.count) for r in report.rejections], report.rejection_events, report.notes

    poly, poly_events, poly_notes = counts(Venue.POLYMARKET)
    # r1 and r3 failed only on Kalshi's leg; r2's HALTED is the plan's, its PRICE_BAND Polymarket's leg;
    # r4's leg venue is not known: counted (and noted) rather than dropped.
    assert (poly, poly_events) == ([("HALTED", 1), ("PRICE_BAND", 1), ("MARKET_EXPOSURE", 1)], 2)
    assert any(n.startswith("rejections: 1 event(s) name a failing leg whose venue is not recorded")
               for n in poly_notes)
    kalshi, kalshi_events, _ = counts(Venue.KALSHI)
    assert (kalshi, kalshi_events) == ([("HALTED", 1), ("MARKET_EXPOSURE", 3)], 4)
    everything, events, notes = counts(None)
    assert (everything, events) == ([("HALTED", 1), ("PRICE_BAND", 1), ("MARKET_EXPOSURE", 3)], 4)
    assert not [n for n in notes if n.startswith("rejections:")]


def test_a_realised_edge_is_shown_at_the_planned_edges_precision(db: Database) -> None:
    """Found by a black-box reviewer: an execution that realised exactly its plan showed realised
    0.0324251351 against planned 0.032425, as if it had beaten the plan by 1.35e-7. The realised edge is
    now at the quoted and planned edges' precision (1e-6, rounded down as the plan's is)."""
    w = World(db)
    w.source.add(Venue.KALSHI, "KX-D", yes_asks=levels(("0.37", "100")), delay_ms=10)
    w.source.add(Venue.POLYMARKET, "PM-D", no_asks=levels(("0.50", "100")), delay_ms=10)
    # 7 × 0.37 = 2.59 + fee ceil(0.07 × 7 × 0.37 × 0.63 = 0.114219) = 0.1143, + 7 × 0.50 = 3.50 (no fee):
    # paid 6.2043 for 7 sets paying 7, profit 0.7957; 0.7957 / 7 = 0.11367142857…
    w.execution("exec-d", [leg("kalshi", "KX-D", "yes", "0.37"), leg("polymarket", "PM-D", "no", "0.50")],
                quoted="0.113671", planned="0.113671", size="7", status="done")
    w.place(Venue.KALSHI, "KX-D", Side.YES, Action.BUY, "7", "0.37", "d-k", "exec-d")
    w.place(Venue.POLYMARKET, "PM-D", Side.NO, Action.BUY, "7", "0.50", "d-p", "exec-d")
    report = build_report(db, mode="paper")
    (e,) = report.executions
    assert e.realised_profit == D("0.7957")
    assert e.realised_edge == e.planned_edge == D("0.113671")
    record = e.to_record()
    assert (record["realised_edge"], record["planned_edge"], record["edge_vs_quote"]) == (
        D("0.113671"), D("0.113671"), D("0"))
    assert str(record["edge_vs_quote"]) == "0"
    summary = report.summary()
    assert (summary["realised_edge"], summary["quoted_edge"]) == (D("0.113671"), D("0.113671"))


def test_a_history_read_a_row_at_a_time_reports_the_same(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plans, results and audit payloads are read in batches and kept only as the figures they give (a
    year's held whole took half a gigabyte): batches of one row give the report one batch gives, on both
    backends (PostgreSQL reads them through a server-side cursor)."""
    import orion_cli.core.report as report_module

    whole = build_report(world.db, mode="paper", now=T0).records()
    monkeypatch.setattr(report_module, "_ROWS_PER_BATCH", 1)
    assert build_report(world.db, mode="paper", now=T0).records() == whole
    assert by_type(whole, "report_execution") and by_type(whole, "report_rejection")


def test_the_plan_figures_keep_what_the_report_reads_and_nothing_else() -> None:
    plan = {"key": "k", "size": "10", "net_edge": "0.1", "quoted_net_edge": "0.09", "net_profit": "1",
            "legs": [{"venue": "kalshi", "market": "KX", "side": "yes", "cost": "4", "size": "10",
                      "avg_price": "0.4", "book": {"asks": [["0.4", "100"]]}}, "junk"],
            "specs": [{"venue": "kalshi", "market": "KX", "side": "yes", "planned_levels": [["0.4", "10"]],
                       "fee_model": {"kind": "kalshi"}}]}
    assert plan_figures(plan) == {
        "size": "10", "quoted_net_edge": "0.09", "net_edge": "0.1",
        "legs": [{"venue": "kalshi", "market": "KX", "side": "yes", "cost": "4", "size": "10", "avg_price": "0.4"}],
        "specs": [{"venue": "kalshi", "market": "KX", "side": "yes", "planned_levels": [["0.4", "10"]]}]}
    assert plan_figures("not a plan") is None and plan_figures({"legs": "x"}) == {}
