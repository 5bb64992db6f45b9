"""The ledger on SQLite and PostgreSQL: transitions with their audit events, exact positions and P&L."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select

from orion_cli.core.errors import DataError, NotFound, Refused
from orion_cli.core.models import Side, Venue
from orion_cli.store import ledger as ledger_module
from orion_cli.store.audit import AuditLog, iso_utc
from orion_cli.store.db import Database
from orion_cli.store.ledger import IllegalTransition, Ledger, trading_day, used_percent
from orion_cli.store.tables import audit_events, fills, orders
from orion_cli.venues.trading import (
    Action,
    Balance,
    Fill,
    OrderRequest,
    OrderStatus,
    PreparedOrder,
    Settlement,
    TimeInForce,
)

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def prepared(coid: str = "c1", *, size: str = "10", price: str = "0.40", side: Side = Side.YES,
             action: Action = Action.BUY, market: str = "KXA-1", venue: Venue = Venue.KALSHI) -> PreparedOrder:
    req = OrderRequest(venue, market, side, action, D(size), D(price), TimeInForce.IOC, coid)
    return PreparedOrder(req, f'{{"client_order_id":"{coid}","size":"{size}"}}')


def fill(fid: str, size: str, price: str, fee: str, *, coid: str = "c1", side: Side = Side.YES,
         action: Action = Action.BUY, market: str = "KXA-1", venue: Venue = Venue.KALSHI) -> Fill:
    return Fill(venue, fid, "v-" + coid, market, side, action, D(size), D(price), D(fee), NOW, True, coid)


def test_intent_and_transitions_write_their_audit_events_in_the_same_transaction(db: Database) -> None:
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    st = led.record_intent(prepared(), execution_id="ex1", category="Sports", now=NOW)
    assert st.status is OrderStatus.INTENT
    assert led.order_payload("c1") == '{"client_order_id":"c1","size":"10"}'
    led.mark_submitted("c1", now=NOW)
    led.mark_submitted("c1", now=NOW)  # repeated: no second event
    led.mark_acknowledged("c1", "v-c1", now=NOW)
    led.record_fills("c1", [fill("f1", "4", "0.39", "0.0666")], now=NOW)
    led.record_fills("c1", [fill("f1", "4", "0.39", "0.0666")], now=NOW)  # the same fill reported twice
    st = led.transition("c1", OrderStatus.PARTIAL, fills=[fill("f2", "2", "0.40", "0.0336")], now=NOW)
    assert (st.status, st.filled_size, st.fees, st.venue_order_id) == (OrderStatus.PARTIAL, D("6"), D("0.1002"),
                                                                      "v-c1")
    assert st.avg_fill_price == D("0.3933333333")  # (1.56 + 0.80) / 6, to ten places
    types = [e.type for e in AuditLog(db).tail(20)]
    assert types == ["balance.initialised", "order.intent", "order.submitted", "order.acknowledged",
                     "order.partial", "order.partial"]
    last = AuditLog(db).tail(1)[0]
    assert last.payload["to"] == "partial" and last.payload["fills"][0]["fill_id"] == "f2"
    assert AuditLog(db).verify().ok
    with pytest.raises(IllegalTransition):
        led.transition("c1", OrderStatus.OPEN)
    with pytest.raises(NotFound):
        led.transition("nope", OrderStatus.CANCELLED)
    assert [o.client_order_id for o in led.orders(execution_id="ex1")] == ["c1"]
    assert len(led.fills(client_order_id="c1")) == 2


def test_a_failing_change_leaves_neither_row_nor_event(db: Database) -> None:
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    led.record_intent(prepared(), now=NOW)
    with db.read() as c:
        before = len(c.execute(select(audit_events.c.seq)).all())
    with pytest.raises(DataError):  # 11 contracts on a 10-contract order
        led.record_fills("c1", [fill("f1", "6", "0.40", "0"), fill("f2", "5", "0.40", "0")], now=NOW)
    with db.read() as c:
        assert len(c.execute(select(audit_events.c.seq)).all()) == before
        assert c.execute(select(fills)).all() == []
        assert c.execute(select(orders.c.status)).scalar_one() == "intent"
    assert led.balance(Venue.KALSHI) is not None and led.balance(Venue.KALSHI).available == D("100")  # type: ignore[union-attr]


def test_positions_balances_and_exposure_are_exact(db: Database) -> None:
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("1000"), now=NOW)
    led.ensure_balance(Venue.POLYMARKET, D("500.123456"), now=NOW)
    led.record_intent(prepared("k1", size="100.01", price="0.33"), category="Sports", now=NOW)
    led.transition("k1", OrderStatus.FILLED, fills=[fill("k1a", "100.01", "0.33", "1.5480", coid="k1")], now=NOW)
    led.record_intent(prepared("p1", size="33.333333", price="0.571", market="0xabc", venue=Venue.POLYMARKET,
                               side=Side.NO), category="sports", now=NOW)
    led.record_fills("p1", [fill("p1a", "33.333333", "0.571", "0.24497", coid="p1", market="0xabc",
                                 venue=Venue.POLYMARKET, side=Side.NO)], now=NOW)
    led.record_intent(prepared("k2", size="7", price="0.9", market="KXB-2"), category="Politics", now=NOW)
    led.record_fills("k2", [fill("k2a", "7", "0.9", "0.0441", coid="k2", market="KXB-2")], now=NOW)
    assert led.order("p1").status is OrderStatus.FILLED  # type: ignore[union-attr]  # fully filled → filled
    k = led.balance(Venue.KALSHI)
    p = led.balance(Venue.POLYMARKET)
    assert k is not None and p is not None
    assert k.available == D("1000") - D("33.0033") - D("1.5480") - D("6.3") - D("0.0441")
    assert p.available == D("500.123456") - D("19.033333143") - D("0.24497")
    pos = {(x.venue, x.market_id, x.side): x for x in led.positions()}
    assert pos[(Venue.POLYMARKET, "0xabc", Side.NO)].exposure == D("19.033333143")
    assert pos[(Venue.KALSHI, "KXA-1", Side.YES)].avg_price == D("0.33")
    ex = led.exposure()
    assert ex.total == D("33.0033") + D("19.033333143") + D("6.3")
    assert ex.category("SPORTS") == D("33.0033") + D("19.033333143")  # Kalshi "Sports" + Polymarket "sports"
    assert ex.category("politics") == D("6.3")
    assert ex.market(Venue.KALSHI, "KXA-1") == D("33.0033")
    assert ex.open_markets == 3
    # Partial sale at a profit: a third of the cost and fees leave with the contracts.
    led.record_intent(prepared("k3", size="33.34", price="0.50", action=Action.SELL), now=NOW)
    led.record_fills("k3", [fill("k3a", "33.34", "0.50", "0.5835", coid="k3", action=Action.SELL)], now=NOW)
    after = {(x.venue, x.market_id, x.side): x for x in led.positions()}[(Venue.KALSHI, "KXA-1", Side.YES)]
    cost_out = (D("33.0033") * D("33.34") / D("100.01")).quantize(D("1e-10"))
    assert after.size == D("66.67") and after.exposure == D("33.0033") - cost_out
    with pytest.raises(DataError, match="holds"):
        led.record_intent(prepared("k4", size="100", price="0.5", action=Action.SELL), now=NOW)
        led.record_fills("k4", [fill("k4a", "100", "0.5", "0", coid="k4", action=Action.SELL)], now=NOW)


def test_todays_pnl_against_the_daily_loss_limit(db: Database) -> None:
    led = Ledger(db, "paper")
    yesterday = NOW - timedelta(days=1)
    led.ensure_balance(Venue.KALSHI, D("1000"), now=yesterday)
    pnl = led.daily_pnl(daily_loss=D("50"), daily_loss_pct=D("5"), now=NOW)
    assert (pnl.start_equity, pnl.pnl, pnl.used_share, pnl.marked) == (D("1000"), D("0"), D("0"), True)
    led.record_intent(prepared(size="100", price="0.40"), now=NOW)
    led.record_fills("c1", [fill("f1", "100", "0.40", "1.68")], now=NOW)
    # Later the same day a paper deposit on another venue is not profit.
    led.ensure_balance(Venue.POLYMARKET, D("200"), now=NOW + timedelta(hours=1))
    at_cost = led.daily_pnl(daily_loss=D("50"), daily_loss_pct=D("5"), now=NOW + timedelta(hours=2))
    assert (at_cost.start_equity, at_cost.pnl, at_cost.marked) == (D("1200"), D("-1.68"), False)
    marks = {(Venue.KALSHI, "KXA-1", Side.YES): D("0.10")}
    marked = led.daily_pnl(daily_loss=D("50"), daily_loss_pct=D("2"), marks=marks, now=NOW + timedelta(hours=2))
    # equity 1198.32 cash + 100 × 0.10 = 1208.32 … minus start 1200 + 40 cost: loss = 1.68 + 30
    assert marked.pnl == D("-31.68") and marked.unrealised == D("-30")
    assert (marked.limit, marked.limit_source) == (D("24"), "breaker.daily_loss_pct")  # 2 % of 1200 < 50
    assert marked.used_share == D("1.32") and marked.used_pct == D("132.00")
    rec = marked.to_record()
    assert rec["type"] == "pnl" and rec["today_pnl"] == D("-31.68") and rec["daily_loss_limit"] == D("24")
    # The next trading day starts from the equity at cost.
    tomorrow = led.daily_pnl(daily_loss=D("50"), daily_loss_pct=D("5"), now=NOW + timedelta(days=1))
    assert tomorrow.start_equity == D("1158.32") + D("40") and tomorrow.pnl == 0


@pytest.mark.parametrize(("share", "shown"), [(D("0.99998"), D("99.99")), (D("0.76405"), D("76.40")),
                                              (D("0.764059"), D("76.40")), (D("1"), D("100.00")),
                                              (D("1.32"), D("132.00")), (D("0"), D("0.00"))])
def test_a_used_percentage_is_rounded_down_so_100_means_the_limit_is_reached(share: D, shown: D) -> None:
    """Found by a black-box review: `balance` showed used_pct "100.00" beside a BREAKER check that passed
    (a loss of 5.27289 against a limit of 5.2729: 99.998%, rounded half-even)."""
    assert used_percent(share) == shown and str(used_percent(share)) == str(shown)


def test_trading_day_tells_apart_the_two_instants_of_a_repeated_hour() -> None:
    """01:30 on the night New York leaves daylight time happens twice: 05:30 and 06:30 UTC."""
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    first, second = (datetime(2026, 11, 1, 1, 30, tzinfo=ny, fold=f) for f in (0, 1))
    assert first == second  # equal (and equal-hashing) as Python compares them...
    for _ in range(2):  # ...asked in turn, repeatedly: neither answer may stand in for the other
        assert trading_day(first, 6)[0] == "2026-10-31"
        assert trading_day(second, 6)[0] == "2026-11-01"


def test_trading_day_honours_the_reset_hour() -> None:
    assert trading_day(datetime(2026, 1, 2, 3, tzinfo=UTC), 5)[0] == "2026-01-01"
    assert trading_day(datetime(2026, 1, 2, 5, tzinfo=UTC), 5)[0] == "2026-01-02"


def test_the_recorded_trading_day_stands_and_a_changed_hour_starts_at_its_end() -> None:
    """The day is the ledger's recorded one while it lasts, whatever the hour now says; after it, the day
    runs from its end to the new hour's next boundary; with the hour unchanged every day is the hour's."""
    from orion_cli.store.ledger import current_day, day_key

    def at(d: int, h: int) -> datetime:
        return datetime(2026, 11, d, h, tzinfo=UTC)

    recorded = (day_key(at(21, 12)), day_key(at(22, 12)))  # hour 12's day
    day = current_day(at(22, 6), 0, *recorded)
    assert (day.start, day.end, day.recorded, day.hour_change_pending) == (at(21, 12), at(22, 12), True, True)
    assert day.key == "2026-11-21T12:00Z" and day.next_end == at(23, 0)
    day = current_day(at(22, 12), 0, *recorded)  # the day in between: 12:00 to hour 0's next boundary
    assert (day.start, day.end, day.recorded, day.hour_change_pending) == (at(22, 12), at(23, 0), False, False)
    assert current_day(at(22, 12), 12, *recorded).start == at(22, 12)  # unchanged: the hour's own day
    assert current_day(at(25, 3), 0, *recorded).start == at(25, 0)  # long after: the new hour's own day
    later = current_day(at(24, 12), 13, day_key(at(23, 0)), day_key(at(24, 0)))  # a later hour: a 13 h day
    assert (later.start, later.end) == (at(24, 0), at(24, 13))
    assert (current_day(at(24, 12), 13, None, None).start, later.reset_hour_utc) == (at(23, 13), 13)


def test_a_venue_balance_seen_for_the_first_time_is_capital_not_profit(db: Database) -> None:
    """`orion balance` twice on a quiet day showed today's P&L = the whole balance (breaker input)."""
    led = Ledger(db, "live")

    def pnl(now: datetime) -> tuple[D, D]:
        p = led.daily_pnl(daily_loss=D("100"), daily_loss_pct=D("10"), now=now)
        return p.start_equity, p.pnl

    led.record_balance(Balance(Venue.KALSHI, "live", D("1000"), D("0"), D("1000"), NOW), now=NOW)
    assert pnl(NOW) == (D("1000"), D("0"))
    later = NOW + timedelta(hours=1)  # a second venue first seen later the same day
    led.record_balance(Balance(Venue.POLYMARKET, "live", D("500.25"), D("0"), D("500.25"), later), now=later)
    assert pnl(later) == (D("1500.25"), D("0"))
    led.record_balance(Balance(Venue.KALSHI, "live", D("900"), D("0"), D("900"), later), now=later)
    assert pnl(later) == (D("1500.25"), D("-100"))  # a real change still counts


def _peak(db: Database) -> D | None:
    from orion_cli.store.tables import breaker_state

    with db.read() as c:
        return c.execute(select(breaker_state.c.peak_equity)).scalar()


def test_a_buy_filled_just_before_the_reset_hour_and_recorded_just_after_is_todays_trade(db: Database) -> None:
    """A guard for any rule that dates fills against the trading day: one by the fill's date alone
    (tried in review) booked this ordinary live buy as capital, a false 200 loss that tripped both
    breakers."""
    from orion_cli.store.tables import breaker_state

    led = Ledger(db, "live")
    midnight = datetime(2026, 11, 22, tzinfo=UTC)
    led.record_balance(Balance(Venue.KALSHI, "live", D("1000"), D("0"), D("1000"), midnight - timedelta(hours=2)),
                       now=midnight - timedelta(hours=2))
    with db.write() as c:
        c.execute(breaker_state.insert().values(mode="live", peak_equity=D("1000"), detail="{}", updated_at="x"))
    led.record_intent(prepared(size="500"), now=midnight - timedelta(seconds=1))
    led.record_fills("c1", [replace(fill("f1", "500", "0.40", "0"), ts=midnight - timedelta(milliseconds=500))],
                     now=midnight + timedelta(milliseconds=300))
    p = led.daily_pnl(daily_loss=D("100"), daily_loss_pct=D("10"), now=midnight + timedelta(seconds=1))
    assert (p.start_equity, p.equity, p.pnl) == (D("1000"), D("1000"), D("0"))
    assert "capital.adopted" not in [e.type for e in AuditLog(db).tail(20)] and _peak(db) == D("1000")


def test_live_cash_is_the_last_venue_report_moved_by_the_fills_recorded_since(db: Database) -> None:
    led = Ledger(db, "live")
    bal = Balance(Venue.KALSHI, "live", D("12.3456"), D("1"), D("13.3456"), NOW, source="venue")
    led.record_balance(bal, now=NOW)
    led.record_balance(bal, now=NOW)  # unchanged: no second event
    led.record_intent(prepared(), now=NOW)
    led.record_fills("c1", [fill("f1", "10", "0.40", "0.0672")], now=NOW + timedelta(seconds=1))
    moved = led.balance(Venue.KALSHI)
    assert moved is not None
    # 10 × 0.40 + 0.0672 paid; reserved and the report's time stay as the venue said them.
    assert (moved.available, moved.reserved, moved.total, moved.as_of) == (D("8.2784"), D("1"), D("9.2784"), NOW)
    assert [e.type for e in AuditLog(db).tail(5)] == ["balance.updated", "order.intent", "order.filled"]
    assert all(e.mode == "live" for e in AuditLog(db).tail(5))
    assert Ledger(db, "paper").positions() == [] and len(led.positions()) == 1

    # The venue's next report already holds the fill: it replaces the figure, nothing counted twice.
    later = NOW + timedelta(minutes=1)
    led.record_balance(Balance(Venue.KALSHI, "live", D("8.2784"), D("1"), D("9.2784"), later, source="venue"),
                       now=later)
    assert led.balance(Venue.KALSHI) == Balance(Venue.KALSHI, "live", D("8.2784"), D("1"), D("9.2784"), later,
                                                source="venue")
    assert [e.type for e in AuditLog(db).tail(1)] == ["order.filled"]  # the fills explained the whole change
    # A change the fills do not explain (here a $5 deposit) is audited with the figure it replaced.
    led.record_balance(Balance(Venue.KALSHI, "live", D("13.2784"), D("1"), D("14.2784"), later, source="venue"),
                       now=later)
    event = AuditLog(db).tail(1)[0]
    assert (event.type, event.payload["total"], event.payload["previous_total"]) == (
        "balance.updated", "14.2784", "9.2784")


def test_a_fill_the_venue_report_already_holds_does_not_move_live_cash_again(db: Database) -> None:
    """Found in review: an order out before a report (an unknown outcome, a reconcile that left it
    pending) whose fill the report already held was charged again when the fill was recorded."""
    led = Ledger(db, "live")
    t0 = NOW - timedelta(minutes=2)
    led.record_balance(Balance(Venue.KALSHI, "live", D("500"), D("0"), D("500"), t0, source="venue"), now=t0)
    led.record_intent(prepared("c1"), now=t0)  # sent; its outcome unknown to the ledger
    led.record_intent(prepared("c2"), now=t0)
    filled_at = NOW - timedelta(minutes=1)
    # The venue filled c1 at filled_at; its report at NOW holds that: 500 − 4.00 − 0.0672.
    led.record_balance(Balance(Venue.KALSHI, "live", D("495.9328"), D("0"), D("495.9328"), NOW, source="venue"),
                       now=NOW)
    early = Fill(Venue.KALSHI, "f1", "v-c1", "KXA-1", Side.YES, Action.BUY, D(10), D("0.40"), D("0.0672"),
                 filled_at, True, "c1")
    led.record_fills("c1", [early], now=NOW + timedelta(seconds=5))
    bal = led.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D("495.9328")  # not 491.8656
    # c2, also out before the report, filled after it: the report cannot hold that one.
    late = replace(early, fill_id="f2", venue_order_id="v-c2", client_order_id="c2", ts=NOW + timedelta(seconds=1))
    led.record_fills("c2", [late], now=NOW + timedelta(seconds=5))
    bal = led.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D("491.8656")
    assert led.daily_pnl(daily_loss=D("100"), daily_loss_pct=D("50"), now=NOW).pnl == D("-0.1344")  # two fees


def test_a_live_fill_before_any_venue_report_moves_no_cash(db: Database) -> None:
    led = Ledger(db, "live")
    led.record_intent(prepared(), now=NOW)
    led.record_fills("c1", [fill("f1", "10", "0.40", "0.0672")], now=NOW)
    assert led.balance(Venue.KALSHI) is None and led.positions()[0].size == D(10)
    # The first report is the cash it finds (capital as a whole), even one read before that fill.
    led.record_balance(_kalshi_report("100", NOW - timedelta(seconds=1)), now=NOW)
    assert _cash(led) == (D(100), D(100))


def test_a_live_loss_counts_in_todays_pnl_before_the_venue_reports_cash_again(db: Database) -> None:
    """Live cash used to stay at the last report: a bought-and-sold-back leg showed P&L 0 (the loss was
    invisible to the breaker until the next `balance`/`reconcile`), and a held buy showed its cost as profit."""
    led = Ledger(db, "live")
    led.record_balance(Balance(Venue.KALSHI, "live", D("100"), D("0"), D("100"), NOW, source="venue"), now=NOW)

    def pnl() -> D:
        return led.daily_pnl(daily_loss=D("100"), daily_loss_pct=D("50"), now=NOW).pnl

    led.record_intent(prepared(), now=NOW)
    led.record_fills("c1", [fill("f1", "10", "0.40", "0.07")], now=NOW)
    assert pnl() == D("-0.07")  # cash 95.93 + the position at its cost 4.00: the fee is spent
    led.record_intent(prepared("c2", price="0.30", action=Action.SELL), now=NOW)
    led.record_fills("c2", [fill("f2", "10", "0.30", "0.05", coid="c2", action=Action.SELL)], now=NOW)
    assert pnl() == D("-1.12")  # bought for 4.00 + 0.07, sold for 3.00 − 0.05
    bal = led.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D("98.88")


def _kalshi_report(total: str, as_of: datetime, **kw: Any) -> Balance:
    return Balance(Venue.KALSHI, "live", D(total), D(0), D(total), as_of, source="venue", **kw)


def _cash(led: Ledger) -> tuple[D, D]:
    bal = led.balance(Venue.KALSHI)
    assert bal is not None
    return bal.available, bal.total


def test_a_report_read_before_another_process_recorded_a_fill_keeps_that_fill_in_the_cash(db: Database) -> None:
    """Found in review: a report read before another process recorded a fill made after it (a trade
    beside a cron reconcile) replaced the figure, and the fill's cost left the ledger's cash until the
    next report: equity (the breaker's) and the BALANCE check's cash overstated by it."""
    led = Ledger(db, "live")
    t0 = NOW - timedelta(minutes=1)
    led.record_balance(_kalshi_report("500", t0 - timedelta(minutes=1)), now=t0 - timedelta(minutes=1))
    led.record_intent(prepared("c1"), now=t0 - timedelta(seconds=30))
    # Process A reads the venue at t0 (500: nothing filled yet); then c1 fills, and process B records it.
    led.record_fills("c1", [replace(fill("f1", "10", "0.40", "0.0672"), ts=t0 + timedelta(seconds=5))],
                     now=t0 + timedelta(seconds=6))
    assert _cash(led) == (D("495.9328"), D("495.9328"))
    events = len(AuditLog(db).tail(100))

    led.record_balance(_kalshi_report("500", t0), now=t0 + timedelta(seconds=10))  # A records its report

    assert _cash(led) == (D("495.9328"), D("495.9328"))  # the report plus the fill it cannot hold
    assert led.balance(Venue.KALSHI).as_of == t0  # type: ignore[union-attr]
    assert len(AuditLog(db).tail(100)) == events  # the figure did not change: no balance.updated
    pnl = led.daily_pnl(daily_loss=D("100"), daily_loss_pct=D("50"), now=NOW)
    assert (pnl.equity, pnl.pnl) == (D("499.9328"), D("-0.0672"))  # cash + the position at cost: the fee
    # The venue's next report holds the fill: it replaces the figure, nothing counted twice.
    led.record_balance(_kalshi_report("495.9328", NOW), now=NOW)
    assert _cash(led) == (D("495.9328"), D("495.9328"))


def test_a_report_keeps_only_the_fills_it_cannot_hold(db: Database) -> None:
    """c1 was out before the report and filled before it: the report holds it. c2, out before it too,
    filled after it: the report cannot hold that one. Only c2 is added to the report."""
    led = Ledger(db, "live")
    t0 = NOW - timedelta(minutes=1)
    led.record_balance(_kalshi_report("500", t0 - timedelta(minutes=2)), now=t0 - timedelta(minutes=2))
    led.record_intents([(prepared("c1"), ""), (prepared("c2"), "")], now=t0 - timedelta(seconds=90))
    led.record_fills("c1", [replace(fill("f1", "10", "0.40", "0.0672"), ts=t0 - timedelta(seconds=60))],
                     now=t0 - timedelta(seconds=59))
    led.record_fills("c2", [replace(fill("f2", "10", "0.40", "0.0672", coid="c2"), ts=t0 + timedelta(seconds=5))],
                     now=t0 + timedelta(seconds=6))
    assert _cash(led) == (D("491.8656"), D("491.8656"))

    led.record_balance(_kalshi_report("495.9328", t0), now=t0 + timedelta(seconds=10))  # holds f1, not f2

    assert _cash(led) == (D("491.8656"), D("491.8656"))  # not 495.9328 (f2 lost), nor 487.7984 (f1 twice)
    event = AuditLog(db).tail(1)[0]
    assert event.type == "order.filled"  # the figure the fills made is the one recorded: no balance.updated


def test_a_fill_of_an_order_sent_after_the_report_counts_once_whatever_its_timestamp(db: Database) -> None:
    """c1 was sent after the report (the ledger's clock) though the venue dates its fill before it (a
    venue clock behind): the report cannot hold it. c2's fill is after the report by both clocks: it
    is found by both of the ledger's look-ups and counts once."""
    led = Ledger(db, "live")
    t0 = NOW - timedelta(minutes=1)
    led.record_balance(_kalshi_report("500", t0 - timedelta(minutes=2)), now=t0 - timedelta(minutes=2))
    led.record_intents([(prepared("c1"), ""), (prepared("c2"), "")], now=t0 + timedelta(seconds=2))
    led.record_fills("c1", [replace(fill("f1", "10", "0.40", "0.0672"), ts=t0 - timedelta(seconds=1))],
                     now=t0 + timedelta(seconds=3))
    led.record_fills("c2", [replace(fill("f2", "10", "0.40", "0.0672", coid="c2"), ts=t0 + timedelta(seconds=3))],
                     now=t0 + timedelta(seconds=4))

    led.record_balance(_kalshi_report("501", t0), now=t0 + timedelta(seconds=10))  # $1 more: a deposit, say

    assert _cash(led) == (D("492.8656"), D("492.8656"))  # 501 − 2 × 4.0672
    event = AuditLog(db).tail(1)[0]
    assert (event.type, event.payload["total"], event.payload["previous_total"]) == (
        "balance.updated", "492.8656", "491.8656")
    assert (event.payload["reported_total"], event.payload["unreported"]) == ("501", "-8.1344")


def test_a_kalshi_report_dated_to_the_second_of_its_last_change_holds_the_fill_that_made_it(db: Database) -> None:
    """Kalshi dates its balance by its last change, in whole seconds: a fill at t0 + 0.5 s is in a
    report "as of" t0. Judged by that date alone, the last trade's fill would count a second time at
    every report until the balance changed again; the report is judged by when orion read it."""
    led = Ledger(db, "live")
    t0 = NOW.replace(microsecond=0) - timedelta(minutes=1)
    led.record_balance(_kalshi_report("500", t0 - timedelta(minutes=2)), now=t0 - timedelta(minutes=2))
    led.record_intent(prepared("c1"), now=t0 + timedelta(milliseconds=300))
    led.record_fills("c1", [replace(fill("f1", "10", "0.40", "0.0672"), ts=t0 + timedelta(milliseconds=500))],
                     now=t0 + timedelta(milliseconds=600))
    read = t0 + timedelta(seconds=10)
    # Another process's order, sent and filled after the report was read: not in it.
    led.record_intent(prepared("c2"), now=read + timedelta(seconds=1))
    led.record_fills("c2", [replace(fill("f2", "10", "0.40", "0.0672", coid="c2"), ts=read + timedelta(seconds=2))],
                     now=read + timedelta(seconds=3))

    led.record_balance(_kalshi_report("495.9328", t0, read_at=read), now=read + timedelta(seconds=5))

    assert _cash(led) == (D("491.8656"), D("491.8656"))  # f1 in the report, f2 after it


def test_a_report_read_before_a_payout_recorded_by_another_process_keeps_the_payout(db: Database) -> None:
    """The same race with a settlement: a payout made after the report (recorded first by another
    process) stays in the cash; one made before it is the report's own."""
    led = Ledger(db, "live")
    t0 = NOW - timedelta(minutes=1)
    led.record_balance(_kalshi_report("50", t0 - timedelta(minutes=10)), now=t0 - timedelta(minutes=10))
    for market in ("KXA-1", "KXB-1"):
        led.record_intent(prepared(f"c-{market}", market=market), now=t0 - timedelta(minutes=9))
        led.transition(f"c-{market}", OrderStatus.FILLED,
                       fills=[replace(fill(f"f-{market}", "10", "0.40", "0", coid=f"c-{market}", market=market),
                                      ts=t0 - timedelta(minutes=9))], now=t0 - timedelta(minutes=9))
    assert _cash(led) == (D(42), D(42))
    held = led.record_settlement(Settlement(Venue.KALSHI, "KXA-1", D(1), t0 - timedelta(seconds=5), result="yes"),
                                 now=t0 + timedelta(seconds=6))
    late = led.record_settlement(Settlement(Venue.KALSHI, "KXB-1", D(1), t0 + timedelta(seconds=5), result="yes"),
                                 now=t0 + timedelta(seconds=6))
    assert held is not None and late is not None and held.cash_moved and late.cash_moved
    assert _cash(led) == (D(62), D(62))

    led.record_balance(_kalshi_report("52", t0), now=t0 + timedelta(seconds=10))  # 42 + KXA-1's 10

    assert _cash(led) == (D(62), D(62))  # and KXB-1's 10, paid after it


def test_money_columns_refuse_more_than_ten_places(db: Database) -> None:
    led = Ledger(db, "paper")
    with pytest.raises(Exception, match="decimal places"):
        led.ensure_balance(Venue.KALSHI, D("1.00000000001"), now=NOW)
    big = D("123456789.0123456789")  # 19 significant digits survive exactly on both backends
    led.ensure_balance(Venue.KALSHI, big, now=NOW)
    assert led.balance(Venue.KALSHI).total == big  # type: ignore[union-attr]


def test_intents_recorded_together_equal_what_a_read_back_returns(db: Database) -> None:
    led = Ledger(db, "paper")
    states = led.record_intents([(prepared("b1", size="10.50"), "sports"), (prepared("b2", price="0.4100"), "")],
                                execution_id="ex-1", now=NOW)
    assert states == [led.order("b1"), led.order("b2")]
    events = AuditLog(db).tail(5)
    assert [e.type for e in events] == ["order.intent", "order.intent"]
    assert [e.payload["client_order_id"] for e in events] == ["b1", "b2"]
    assert AuditLog(db).verify().ok


def test_intents_recorded_together_stay_idempotent_and_refuse_a_reused_id(db: Database) -> None:
    led = Ledger(db, "paper")
    led.record_intent(prepared("b1"), execution_id="ex-1", now=NOW)
    again = led.record_intents([(prepared("b1"), ""), (prepared("b2"), "")], execution_id="ex-1", now=NOW)
    assert [s.client_order_id for s in again] == ["b1", "b2"]
    assert [e.type for e in AuditLog(db).tail(5)] == ["order.intent", "order.intent"]  # b1 not recorded twice
    with pytest.raises(Refused):
        led.record_intents([(prepared("b3"), ""), (prepared("b1", size="11"), "")], execution_id="ex-1", now=NOW)
    assert led.order("b3") is None  # refused as a whole: nothing of the batch was written
    with pytest.raises(Refused):
        led.record_intents([(prepared("b4"), ""), (prepared("b4"), "")], execution_id="ex-1", now=NOW)


def test_intents_with_ids_declared_unused_are_still_refused_by_the_primary_key(db: Database) -> None:
    """The order path skips the look-up when its key was unused; a clash must still refuse, not crash."""
    led = Ledger(db, "paper")
    led.record_intent(prepared("c1"), execution_id="ex-1", now=NOW)
    with pytest.raises(Refused) as refused, db.write() as conn:
        led.record_intents([(prepared("c2"), ""), (prepared("c1"), "")], execution_id="ex-2", conn=conn, now=NOW,
                           unused_ids=True)
    assert refused.value.reason == "DUPLICATE"
    assert led.order("c2") is None and led.order("c1") is not None
    assert [e.type for e in AuditLog(db).tail(5)] == ["order.intent"]
    assert AuditLog(db).verify().ok
    fresh = led.record_intents([(prepared("c3"), "")], execution_id="ex-3", now=NOW, unused_ids=True)
    assert fresh == [led.order("c3")]


# -- settlement ----------------------------------------------------------------------------------


PM = Venue.POLYMARKET
PM_MARKET = "0xcond"


def _hold_both_sides(led: Ledger) -> None:
    """10 YES at 0.40 (fee 0.0672) and 4 NO at 0.55 (fee 0.0693) of one Polymarket market, both filled.

    Polymarket, because it holds YES and NO apart until they settle; Kalshi nets them (the buy of NO
    would close 4 pairs at once), so settling both sides held is a Polymarket case."""
    led.record_intent(prepared("y1", venue=PM, market=PM_MARKET), now=NOW)
    led.transition("y1", OrderStatus.FILLED,
                   fills=[fill("fy", "10", "0.40", "0.0672", coid="y1", venue=PM, market=PM_MARKET)], now=NOW)
    led.record_intent(prepared("n1", size="4", price="0.55", side=Side.NO, venue=PM, market=PM_MARKET), now=NOW)
    led.transition("n1", OrderStatus.FILLED, fills=[fill("fn", "4", "0.55", "0.0693", coid="n1", side=Side.NO,
                                                         venue=PM, market=PM_MARKET)], now=NOW)


def test_a_settlement_closes_each_side_at_its_payout_and_pays_the_paper_cash_once(db: Database) -> None:
    led = Ledger(db, "paper")
    led.ensure_balance(PM, D("100"), now=NOW)
    _hold_both_sides(led)
    cash_before = led.balance(PM)
    assert cash_before is not None and cash_before.total == D("100") - D("4.0672") - D("2.2693")
    later = NOW + timedelta(hours=2)
    s = Settlement(PM, PM_MARKET, D(1), later, result="yes", source="venue")

    settled = led.record_settlement(s, now=later)

    assert settled is not None and settled.cash_moved
    assert [(x.side, x.size, x.pays, x.payout, x.realized_pnl) for x in settled.sides] == [
        (Side.NO, D(4), D(0), D(0), D("-2.2693")), (Side.YES, D(10), D(1), D(10), D("5.9328"))]
    assert (settled.payout, settled.realized_pnl) == (D(10), D("3.6635"))
    assert led.positions() == []
    closed = {p.side: p for p in led.positions(include_closed=True)}
    assert (closed[Side.YES].extra["realized_pnl"], closed[Side.NO].extra["realized_pnl"]) == ("5.9328", "-2.2693")
    cash = led.balance(PM)
    assert cash is not None and cash.total == cash_before.total + 10 and cash.available == cash_before.available + 10
    event = AuditLog(db).tail(1)[0]
    assert (event.type, event.market, event.payload["payout"], event.payload["realized_pnl"]) == (
        "position.settled", PM_MARKET, "10", "3.6635")
    # Equity moved by exactly the realised P&L net of the fees already paid: cash + cost before,
    # cash alone after.
    pnl = led.daily_pnl(daily_loss=D(1000), daily_loss_pct=D(100), now=later)
    assert pnl.equity == D(100) + D("3.6635")

    # The same settlement seen again (every reconcile run sees it): nothing changes.
    assert led.record_settlement(s, now=later + timedelta(minutes=5)) is None
    assert led.balance(PM) == cash
    assert AuditLog(db).tail(1)[0].seq == event.seq
    assert [r["market"] for r in led.settlements()] == [PM_MARKET]
    assert AuditLog(db).verify().ok


def test_closed_since_reads_only_the_positions_closed_from_that_instant(db: Database) -> None:
    """Reconcile reads the positions closed within its grace, not a year of closed history: a market
    settled earlier stays out, one settled at the instant is in (the cut is inclusive), held ones never."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    for i, market in enumerate(("KXA-1", "KXA-2", "KXA-3")):
        led.record_intent(prepared(f"c{i}", market=market), execution_id=f"ex{i}", now=NOW)
        led.record_fills(f"c{i}", [fill(f"f{i}", "10", "0.40", "0", coid=f"c{i}", market=market)], now=NOW)
    early, cut = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    led.record_settlement(Settlement(Venue.KALSHI, "KXA-1", D(1), early), now=early)
    led.record_settlement(Settlement(Venue.KALSHI, "KXA-2", D(0), cut), now=cut)

    assert [(p.market_id, p.size) for p in led.closed_since(Venue.KALSHI, cut)] == [("KXA-2", D(0))]
    assert [p.market_id for p in led.closed_since(Venue.KALSHI, early)] == ["KXA-1", "KXA-2"]
    assert led.closed_since(Venue.KALSHI, cut + timedelta(microseconds=1)) == []
    assert led.closed_since(Venue.POLYMARKET, early) == []
    assert [p.market_id for p in led.positions(Venue.KALSHI)] == ["KXA-3"]
    # Settled markets, of the ones asked about only.
    assert led.settled_markets(Venue.KALSHI) == {"KXA-1", "KXA-2"}
    assert led.settled_markets(Venue.KALSHI, ["KXA-2", "KXA-3", "KXA-9"]) == {"KXA-2"}
    assert led.settled_markets(Venue.KALSHI, []) == set()


def test_categories_are_read_for_the_markets_asked_about_closed_positions_included(db: Database) -> None:
    """A live position report names no category: the ledger's, recorded with the plan, is looked up for
    those markets only (a settled market's too), per venue."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    for i, (market, category) in enumerate((("KXA-1", "Sports"), ("KXA-2", "Politics"), ("KXA-3", ""))):
        led.record_intent(prepared(f"c{i}", market=market), execution_id=f"ex{i}", category=category, now=NOW)
        led.record_fills(f"c{i}", [fill(f"f{i}", "10", "0.40", "0", coid=f"c{i}", market=market)], now=NOW)
    led.record_settlement(Settlement(Venue.KALSHI, "KXA-1", D(1), NOW), now=NOW)

    asked = {(Venue.KALSHI, "KXA-1"), (Venue.KALSHI, "KXA-3"), (Venue.POLYMARKET, "KXA-2"), (Venue.KALSHI, "KXA-9")}
    assert led.categories(asked) == {(Venue.KALSHI, "KXA-1"): "Sports"}
    assert led.categories({(Venue.KALSHI, "KXA-2")}) == {(Venue.KALSHI, "KXA-2"): "Politics"}
    assert led.categories(set()) == {}


def test_a_void_closes_each_side_at_its_refund_and_pays_back_the_cost(db: Database) -> None:
    """Found in review: a voided market (each side returned at cost) had no representation; a YES
    payout of 0 would have closed 10 YES bought at 0.40 as a 4.00 loss while 4.00 came back."""
    led = Ledger(db, "paper")
    led.ensure_balance(PM, D("100"), now=NOW)
    _hold_both_sides(led)
    cash_before = led.balance(PM)
    assert cash_before is not None
    later = NOW + timedelta(hours=2)
    # The venue states the YES refund (0.40 each); NO, which it does not list, comes back at its own cost.
    s = Settlement(PM, PM_MARKET, D(0), later, result="void", refunds=((Side.YES, D("0.40")),))

    settled = led.record_settlement(s, now=later)

    assert settled is not None and settled.cash_moved
    assert [(x.side, x.size, x.pays, x.payout, x.realized_pnl) for x in settled.sides] == [
        (Side.NO, D(4), D("0.55"), D("2.2"), D("-0.0693")), (Side.YES, D(10), D("0.4"), D(4), D("-0.0672"))]
    assert (settled.payout, settled.realized_pnl) == (D("6.2"), D("-0.1365"))  # the fees only
    assert led.positions() == []
    cash = led.balance(PM)
    assert cash is not None and cash.total == cash_before.total + D("6.2")
    event = AuditLog(db).tail(1)[0]
    assert (event.type, event.payload["result"], event.payload["voided"], event.payload["payout"]) == (
        "position.settled", "void", True, "6.2")
    assert [(r["result"], r["realized_pnl"]) for r in led.settlements()] == [("void", D("-0.1365"))]
    assert AuditLog(db).verify().ok


def test_a_void_side_refunded_at_a_cost_that_does_not_divide_records_a_ledger_price(db: Database) -> None:
    """Found in the final read: 3 contracts costing 1.00 came back at cost with a per-contract figure of
    1/3 to 28 digits, kept for ever in the hash-chained `position.settled` event; the ledger's figures
    have 10 places. The cost itself is paid back exactly."""
    led = Ledger(db, "paper")
    led.ensure_balance(PM, D("100"), now=NOW)
    led.record_intent(prepared("y3", size="3", venue=PM, market=PM_MARKET), now=NOW)
    led.transition("y3", OrderStatus.FILLED,
                   fills=[fill(f"fy{i}", "1", price, "0", coid="y3", venue=PM, market=PM_MARKET)
                          for i, price in enumerate(("0.33", "0.33", "0.34"))], now=NOW)
    later = NOW + timedelta(hours=2)
    settled = led.record_settlement(Settlement(PM, PM_MARKET, D(0), later, result="void", refunds=()), now=later)
    assert settled is not None
    (side,) = settled.sides
    assert side.pays == D("0.3333333333") and side.payout == D(1) and side.realized_pnl == 0
    assert AuditLog(db).tail(1)[0].payload["positions"][0]["pays"] == "0.3333333333"


def test_a_live_settlement_the_venue_report_already_holds_moves_no_cash(db: Database) -> None:
    paid = NOW + timedelta(hours=1)
    for market, report_at, moved in (("KXA-1", NOW, True), ("KXB-1", paid + timedelta(seconds=1), False)):
        led = Ledger(db, "live")
        led.record_balance(Balance(Venue.KALSHI, "live", D("50"), D("0"), D("50"), report_at, source="venue"),
                           now=report_at)
        led.record_intent(prepared(f"c-{market}", market=market), now=NOW)
        led.transition(f"c-{market}", OrderStatus.FILLED,
                       fills=[fill(f"f-{market}", "10", "0.40", "0", coid=f"c-{market}", market=market)],
                       now=paid + timedelta(seconds=2))
        before = led.balance(Venue.KALSHI)
        assert before is not None
        settled = led.record_settlement(Settlement(Venue.KALSHI, market, D(1), paid, result="yes"),
                                        now=paid + timedelta(minutes=1))
        assert settled is not None and settled.cash_moved is moved
        after = led.balance(Venue.KALSHI)
        # 10 YES pay $10: added to a report older than the payout, never to one that holds it.
        assert after is not None and after.total == before.total + (10 if moved else 0)
        assert settled.realized_pnl == D("6")


def test_a_winning_live_settlement_after_the_last_report_adds_its_payout(db: Database) -> None:
    led = Ledger(db, "live")
    led.record_balance(Balance(Venue.KALSHI, "live", D("50"), D("0"), D("50"), NOW, source="venue"), now=NOW)
    led.record_intent(prepared(), now=NOW)
    led.transition("c1", OrderStatus.FILLED, fills=[fill("f1", "10", "0.40", "0")], now=NOW)
    paid = NOW + timedelta(hours=1)
    settled = led.record_settlement(Settlement(Venue.KALSHI, "KXA-1", D("0.5"), paid, result="scalar"),
                                    now=paid + timedelta(minutes=1))
    assert settled is not None and settled.cash_moved and settled.payout == D(5)
    bal = led.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D(51) and bal.as_of == NOW  # 50 − 4 + 5; the report's time kept


def test_a_settlement_of_a_market_the_ledger_does_not_hold_records_nothing(db: Database) -> None:
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    seq = AuditLog(db).last_seq()
    assert led.record_settlement(Settlement(Venue.KALSHI, "KXZ-9", D(1), NOW), now=NOW) is None
    assert AuditLog(db).last_seq() == seq and led.settlements() == []
    with pytest.raises(ValueError):
        Settlement(Venue.KALSHI, "KXZ-9", D("1.5"), NOW)


def _kalshi_report(total: str, as_of: datetime, **kw: Any) -> Balance:
    return Balance(Venue.KALSHI, "live", D(total), D(0), D(total), as_of, source="venue", **kw)


@pytest.mark.parametrize(("action", "reported"), [(Action.BUY, "495.9328"), (Action.SELL, "499.8656")])
def test_a_fill_a_report_holds_recorded_after_it_moves_no_cash_again(db: Database, action: Action,
                                                                     reported: str) -> None:
    """Found in review: the stored report kept Kalshi's ``as_of`` (the balance's last change, to the
    second) while it was judged by its read time: a fill the report holds, recorded by its trade after
    another process recorded that report, was taken for one it cannot hold and moved the cash again
    (a buy debited twice, a sale credited twice: a peak never had). The stored time is the judged one."""
    led = Ledger(db, "live")
    t0 = NOW.replace(microsecond=0) - timedelta(minutes=1)
    led.record_balance(_kalshi_report("500", t0 - timedelta(minutes=2)), now=t0 - timedelta(minutes=2))
    if action is Action.SELL:  # shares to sell, bought and reported long before
        led.record_intent(prepared("c0"), now=t0 - timedelta(seconds=100))
        led.record_fills("c0", [replace(fill("f0", "10", "0.40", "0.0672", coid="c0"), ts=t0 - timedelta(seconds=99))],
                         now=t0 - timedelta(seconds=99))
        led.record_balance(_kalshi_report("495.9328", t0 - timedelta(seconds=99), read_at=t0 - timedelta(seconds=90)),
                           now=t0 - timedelta(seconds=90))
    led.record_intent(prepared("c1", action=action), now=t0 + timedelta(milliseconds=300))  # sent at t0+0.3
    # Another process reads the balance at t0+0.8, holding the fill (at t0+0.5); Kalshi dates it t0.
    led.record_balance(_kalshi_report(reported, t0, read_at=t0 + timedelta(milliseconds=800)),
                       now=t0 + timedelta(milliseconds=900))
    led.record_fills("c1", [replace(fill("f1", "10", "0.40", "0.0672", action=action),
                                    ts=t0 + timedelta(milliseconds=500))], now=t0 + timedelta(seconds=1))
    bal = led.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D(reported)


# -- a host clock that disagrees with the venue's ------------------------------------------------

VENUE_BEHIND, VENUE_AHEAD = timedelta(seconds=-3), timedelta(seconds=3)  # the venue's clock minus the host's


def _skewed_ledger(db: Database, action: Action, t0: datetime, skew: timedelta) -> tuple[Ledger, D]:
    """A live Kalshi ledger whose last report (read at t0 − 5 min) is its cash, with 800 YES held for
    a sale; returns it and that cash. The venue dates what it does on its own clock: host + ``skew``."""
    led = Ledger(db, "live")
    start = t0 - timedelta(minutes=10)
    led.record_balance(_kalshi_report("1000", start + skew, read_at=start), now=start)
    if action is Action.BUY:
        return led, D(1000)
    bought = t0 - timedelta(minutes=8)
    led.record_intent(prepared("c0", size="800"), now=bought)
    led.record_fills("c0", [replace(fill("f0", "800", "0.40", "0", coid="c0"), ts=bought + skew)], now=bought)
    led.record_balance(_kalshi_report("680", bought + skew, read_at=t0 - timedelta(minutes=5)),
                       now=t0 - timedelta(minutes=5))
    return led, D(680)


def _trade_800_at_half(led: Ledger, action: Action, t0: datetime, filled: datetime, recorded: datetime) -> D:
    """Send c1 (800 YES at 0.50) at ``t0``, record its fill (venue date ``filled``) at ``recorded``;
    returns what it moved Kalshi's cash by."""
    led.record_intent(prepared("c1", size="800", price="0.50", action=action), now=t0)
    led.record_fills("c1", [replace(fill("f1", "800", "0.50", "0", action=action), ts=filled)], now=recorded)
    return D(-400) if action is Action.BUY else D(400)


@pytest.mark.parametrize("skew", [VENUE_AHEAD, VENUE_BEHIND], ids=["host-behind", "host-ahead"])
@pytest.mark.parametrize("action", [Action.BUY, Action.SELL])
def test_a_fill_recorded_before_the_report_was_read_is_held_by_it_whatever_the_clocks(
        db: Database, action: Action, skew: timedelta) -> None:
    """Found in review: a fill was judged held by a report only when the venue dated it no later than
    orion read the report, one time on each clock. A host 3 s behind Kalshi: a buy sent at 10:00:00
    fills at Kalshi's 10:00:03.2, orion records it at once and reads the balance at 10:00:01 (Kalshi's
    $600 holds it), and the fill counted a second time: cash 200, a $400 loss never made, the daily
    and drawdown breakers tripped. A sale overstated the cash instead (a loss hidden, a peak never
    had). Orion had recorded the fill before it asked: the venue knew it, and the report holds it."""
    t0 = NOW.replace(microsecond=0)
    led, cash = _skewed_ledger(db, action, t0, skew)
    filled = t0 + skew + timedelta(milliseconds=200)  # the venue's date for a fill at the host's t0 + 0.2 s
    moved = _trade_800_at_half(led, action, t0, filled, t0 + timedelta(milliseconds=300))
    assert _cash(led) == (cash + moved, cash + moved)  # the fill moves the last report's cash, once
    read = t0 + timedelta(seconds=1)
    led.record_balance(_kalshi_report(str(cash + moved), filled.replace(microsecond=0), read_at=read), now=read)
    assert _cash(led) == (cash + moved, cash + moved)
    # A buy's 0.50 is held at cost; a sale of what cost 0.40 made 0.10 each.
    made = D(0) if action is Action.BUY else D(80)
    assert led.daily_pnl(daily_loss=D(100), daily_loss_pct=D(50), now=read).pnl == made


def test_a_host_clock_behind_the_venue_trips_no_breaker_on_a_fill_the_report_holds(db: Database) -> None:
    """The reviewer's case end to end: the daily and drawdown breakers (the latter cleared only by
    ``resume --breaker``) stay untripped and nothing is halted."""
    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.core.config import load_settings
    from orion_cli.risk.breaker import Breaker
    from orion_cli.risk.halt import KillSwitch

    t0 = NOW.replace(microsecond=0)
    led, _ = _skewed_ledger(db, Action.BUY, t0, VENUE_AHEAD)
    breaker = Breaker(db, load_settings(overrides={}), mode="live", ledger=led, alerts=NullAlertSink())
    filled = t0 + VENUE_AHEAD + timedelta(milliseconds=200)
    _trade_800_at_half(led, Action.BUY, t0, filled, t0 + timedelta(milliseconds=300))
    read = t0 + timedelta(seconds=1)
    led.record_balance(_kalshi_report("600", filled.replace(microsecond=0), read_at=read), now=read)
    status = breaker.update(now=read + timedelta(milliseconds=100))
    assert (status.equity, status.daily_pnl, status.trips) == (D(1000), D(0), ())
    assert not KillSwitch(db, mode="live").status().halted


@pytest.mark.parametrize("stored_first", [True, False], ids=["report-stored-first", "fill-recorded-first"])
@pytest.mark.parametrize("skew", [timedelta(0), VENUE_AHEAD], ids=["same-clock", "host-behind"])
@pytest.mark.parametrize("action", [Action.BUY, Action.SELL])
def test_a_fill_made_after_the_report_was_read_is_still_added_to_it(db: Database, action: Action, skew: timedelta,
                                                                    stored_first: bool) -> None:
    """The report is read at t0 + 1 s, before the fill (host t0 + 1.5 s); the fill is learned later
    (reconcile reading fills after the balance, an unknown outcome resolved), before or after that
    report is stored. The report cannot hold it: its cash is added. (A host clock *ahead* of the
    venue's cannot be told apart here: the venue's date is all there is.)"""
    t0 = NOW.replace(microsecond=0)
    led, cash = _skewed_ledger(db, action, t0, skew)
    read = t0 + timedelta(seconds=1)
    report = _kalshi_report(str(cash), t0 - timedelta(minutes=5) + skew, read_at=read)
    if stored_first:
        led.record_balance(report, now=read + timedelta(milliseconds=100))
    moved = _trade_800_at_half(led, action, t0, t0 + skew + timedelta(milliseconds=1500), t0 + timedelta(seconds=2))
    if not stored_first:
        led.record_balance(report, now=t0 + timedelta(seconds=3))
    assert _cash(led) == (cash + moved, cash + moved)


@pytest.mark.parametrize("action", [Action.BUY, Action.SELL])
def test_a_fill_learned_before_another_processs_report_and_written_after_it_is_held_by_it(db: Database,
                                                                                          action: Action) -> None:
    """Review: a fill was recorded no earlier than the report already stored. A trade learns its fill at
    t0 + 0.3 s (Kalshi's clock 3 s ahead dates it t0 + 3.2 s); while it waits for the write lock, a
    ``balance`` in another process reads Kalshi's cash at t0 + 1 s, which holds the fill, and stores it
    first. Moved up to that report's time, the fill was judged by its date alone (after the read) and
    its cash moved again: a buy's $400 twice (cash 200 for 600, a loss never made), a sale's proceeds
    twice. It is recorded at the time it was learned, which every caller passes."""
    t0 = NOW.replace(microsecond=0)
    led, cash = _skewed_ledger(db, action, t0, VENUE_AHEAD)
    filled = t0 + VENUE_AHEAD + timedelta(milliseconds=200)
    led.record_intent(prepared("c1", size="800", price="0.50", action=action), now=t0)
    moved = D(-400) if action is Action.BUY else D(400)
    read = t0 + timedelta(seconds=1)
    led.record_balance(_kalshi_report(str(cash + moved), filled.replace(microsecond=0), read_at=read), now=read)
    learned = t0 + timedelta(milliseconds=300)
    led.record_fills("c1", [replace(fill("f1", "800", "0.50", "0", action=action), ts=filled)], now=learned)
    assert _cash(led) == (cash + moved, cash + moved)
    with db.read() as conn:
        assert conn.execute(select(fills.c.recorded_at).where(fills.c.fill_id == "f1")).scalar() == iso_utc(learned)


def test_report_holds_and_the_ledgers_unreported_fills_are_exact_negations(db: Database) -> None:
    """Every order of the three times a fill is judged by (its order's creation, its recording, the
    venue's date) before, at and after a report's time: :meth:`Ledger._unreported` adds exactly the
    fills :func:`ledger_module.report_holds` does not hold. Fill i buys 2**i at 0.50, so the sum
    names the fills added."""
    led = Ledger(db, "live")  # no report stored: the fills move no cash, their rows are what is judged
    taken = NOW.replace(microsecond=0)
    offsets = (timedelta(seconds=-1), timedelta(0), timedelta(seconds=1))
    expected = D(0)
    for i, (created, recorded, dated) in enumerate((a, b, c) for a in offsets for b in offsets for c in offsets):
        coid = f"n{i}"
        led.record_intent(prepared(coid, size=str(2 ** i), price="0.50"), now=taken + created)
        led.record_fills(coid, [replace(fill(f"f{i}", str(2 ** i), "0.50", "0", coid=coid), ts=taken + dated)],
                         now=taken + recorded)
        if not ledger_module.report_holds(taken, taken + created, taken + dated, taken + recorded):
            expected -= D(2 ** i) / 2
    assert expected not in (0, -(D(2 ** 27) - 1) / 2)  # some held, some not
    with db.read() as conn:
        assert led._unreported(conn, Venue.KALSHI, taken) == expected


# -- Kalshi nets YES against NO ------------------------------------------------------------------

def _buy(led: Ledger, coid: str, size: str, price: str, fee: str, at: datetime, *, side: Side = Side.YES,
         venue: Venue = Venue.KALSHI, market: str = "KXA-1") -> None:
    led.record_intent(prepared(coid, size=size, price=price, side=side, venue=venue, market=market), now=at)
    led.transition(coid, OrderStatus.FILLED, fills=[replace(
        fill(f"f-{coid}", size, price, fee, coid=coid, side=side, venue=venue, market=market), ts=at)], now=at)


def _realised(led: Ledger) -> D:
    return sum((D(p.extra["realized_pnl"]) for p in led.positions(include_closed=True)), D(0))


def test_a_kalshi_buy_of_the_side_opposite_one_held_closes_the_pairs_at_a_dollar_each(db: Database) -> None:
    """Kalshi nets YES against NO (``position_fp`` is signed): buying 100 NO while holding 100 YES
    leaves the account holding nothing, and the 100 pairs pay $1 each into its cash at once
    (1000 − 40 − 55 + 100 = 1005). Found in review: the ledger kept both sides at cost beside the
    venue's report, so equity read 1100 (today's P&L +100 for a real +5, hiding up to 95 of losses
    from the daily limit, and a peak of 1100 the account never had) and exposure 95 where nothing
    is held."""
    led = Ledger(db, "live")
    t0 = NOW - timedelta(minutes=10)
    led.record_balance(_kalshi_report("1000", t0), now=t0)
    _buy(led, "exec-a-l2", "100", "0.40", "0", t0 + timedelta(minutes=1))  # one execution's Kalshi leg
    _buy(led, "exec-b-l1", "100", "0.55", "0", t0 + timedelta(minutes=2), side=Side.NO)  # a later one's

    assert led.positions() == [] and led.exposure().total == 0
    assert _realised(led) == D(5)  # each pair pays 1 and cost 0.40 + 0.55
    assert _cash(led) == (D(1005), D(1005))  # the fills recorded since the report, and what the pairs paid
    # The venue's next report holds all of it: nothing counted twice.
    led.record_balance(_kalshi_report("1005", t0 + timedelta(minutes=5)), now=t0 + timedelta(minutes=5))
    pnl = led.daily_pnl(daily_loss=D(100), daily_loss_pct=D(50), now=NOW)
    assert (pnl.equity, pnl.pnl) == (D(1005), D(5))
    (netted,) = [e for e in AuditLog(db).tail(20) if e.type == "position.netted"]
    assert netted.market == "KXA-1" and netted.payload == {
        "side": "no", "pairs": "100", "payout": "100", "cost": "95", "realized_pnl": "5", "fill_id": "f-exec-b-l1",
        "client_order_id": "exec-b-l1", "cash_moved": True}
    assert AuditLog(db).verify().ok


def test_kalshi_netting_closes_pairs_pro_rata_with_their_fees_and_keeps_the_rest(db: Database) -> None:
    """Paper cash is the ledger's own, so paper Kalshi nets as the venue does. Each closed pair takes
    its share of each side's cost and fees (Kalshi charges no fee for the netting itself); a buy
    larger than the other side held closes what is there and holds the rest."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D(1000), now=NOW)
    _buy(led, "y1", "100", "0.40", "1.68", NOW)
    _buy(led, "n1", "60", "0.55", "1.04", NOW, side=Side.NO)
    # 60 pairs: 60 − (24 + 1.008) − (33 + 1.04); 40 YES left at 16 (fees 0.672).
    assert [(p.side, p.size, p.exposure, p.extra["fees"]) for p in led.positions()] == [
        (Side.YES, D(40), D(16), "0.672")]
    assert _realised(led) == D("0.952")
    assert _cash(led) == (D("984.28"), D("984.28"))  # 1000 − 41.68 − 34.04 + 60
    _buy(led, "n2", "70", "0.50", "1.40", NOW, side=Side.NO)
    # 40 pairs: 40 − (16 + 0.672) − (20 + 0.80); 30 NO left at 15 (fees 0.60).
    assert [(p.side, p.size, p.exposure, p.extra["fees"]) for p in led.positions()] == [
        (Side.NO, D(30), D(15), "0.6")]
    assert _realised(led) == D("3.48")
    assert _cash(led) == (D("987.88"), D("987.88"))  # 984.28 − 36.40 + 40
    pnl = led.daily_pnl(daily_loss=D(100), daily_loss_pct=D(50), now=NOW)
    assert (pnl.equity, pnl.pnl) == (D("1002.88"), D("2.88"))  # the realised 3.48 less the fees still held


def test_a_report_read_before_a_netting_fill_and_recorded_after_it_keeps_what_the_pairs_paid(db: Database) -> None:
    """The race a live report already survives for a plain fill (another process reads the venue,
    a trade records a fill, the report is recorded after it: the report plus the fills it cannot
    hold): a fill that netted pairs moved the cash by its cost *and* the dollar each pair paid."""
    led = Ledger(db, "live")
    t0 = NOW - timedelta(minutes=10)
    led.record_balance(_kalshi_report("1000", t0), now=t0)
    _buy(led, "a", "100", "0.40", "0", t0 + timedelta(minutes=1))
    read = t0 + timedelta(minutes=2)  # another process reads 960: A is in it, B not yet
    _buy(led, "b", "100", "0.55", "0", t0 + timedelta(minutes=3), side=Side.NO)
    assert _cash(led) == (D(1005), D(1005))

    led.record_balance(_kalshi_report("960", read), now=t0 + timedelta(minutes=4))

    assert _cash(led) == (D(1005), D(1005))  # 960 − 55 + 100, not 905


def test_polymarket_holds_yes_and_no_apart(db: Database) -> None:
    """Polymarket's YES and NO are two tokens: holding both is two positions until they are merged or
    settled (the venue does not net them), so the ledger keeps them apart there."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.POLYMARKET, D(1000), now=NOW)
    _buy(led, "py", "100", "0.40", "0", NOW, venue=Venue.POLYMARKET, market="0xcond")
    _buy(led, "pn", "100", "0.55", "0", NOW, side=Side.NO, venue=Venue.POLYMARKET, market="0xcond")
    assert [(p.side, p.size) for p in led.positions()] == [(Side.NO, D(100)), (Side.YES, D(100))]
    bal = led.balance(Venue.POLYMARKET)
    assert bal is not None and bal.total == D(905)


def test_a_netting_fill_a_report_already_holds_moves_no_cash_again(db: Database) -> None:
    """The venue credits the pairs in the trade itself, so a report that holds the fill (its order
    was out before the report and it filled before it; recorded after the report, as a resolved
    unknown outcome is) holds the dollar each pair paid too: neither moves the cash again."""
    led = Ledger(db, "live")
    t0 = NOW - timedelta(minutes=10)
    led.record_balance(_kalshi_report("1000", t0), now=t0)
    _buy(led, "a", "100", "0.40", "0", t0 + timedelta(minutes=1))
    led.record_intent(prepared("b", size="100", price="0.55", side=Side.NO), now=t0 + timedelta(minutes=2))
    led.record_balance(_kalshi_report("1005", t0 + timedelta(minutes=4)), now=t0 + timedelta(minutes=4))

    fb = replace(fill("f-b", "100", "0.55", "0", coid="b", side=Side.NO), ts=t0 + timedelta(minutes=3))
    led.transition("b", OrderStatus.FILLED, fills=[fb], now=t0 + timedelta(minutes=5))  # resolved late

    assert _cash(led) == (D(1005), D(1005))  # the report's, not 1050
    assert led.positions() == [] and _realised(led) == D(5)
    (netted,) = [e for e in AuditLog(db).tail(20) if e.type == "position.netted"]
    assert (netted.payload["pairs"], netted.payload["cash_moved"]) == ("100", False)


def test_pairs_a_ledger_held_on_both_sides_before_it_netted_are_not_paid_again(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger from before netting may hold both sides of a Kalshi market (10 YES, 4 NO: the venue
    holds the net, 6 YES). Those 4 pairs were paid for then and are left as they are; a later buy
    nets against the venue's net holding only, so no dollar is credited twice."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D(1000), now=NOW)
    with monkeypatch.context() as m:  # the ledger as it was before netting
        m.setattr(ledger_module, "NETTING_VENUES", frozenset())
        _buy(led, "y1", "10", "0.40", "0", NOW)
        _buy(led, "n1", "4", "0.55", "0", NOW, side=Side.NO)
    assert _cash(led) == (D("993.8"), D("993.8"))

    _buy(led, "n2", "3", "0.50", "0", NOW, side=Side.NO)  # nets 3 of the 6 YES the venue holds
    assert [(p.side, p.size) for p in led.positions()] == [(Side.NO, D(4)), (Side.YES, D(7))]
    assert _cash(led) == (D("995.3"), D("995.3"))  # 993.8 − 1.5 + 3
    _buy(led, "n3", "10", "0.50", "0", NOW, side=Side.NO)  # nets the other 3, then holds 7 NO net
    assert [(p.side, p.size, p.exposure) for p in led.positions()] == [(Side.NO, D(11), D("5.7")),
                                                                       (Side.YES, D(4), D("1.6"))]
    assert _cash(led) == (D("993.3"), D("993.3"))  # 995.3 − 5 + 3
    assert _realised(led) == D("0.6")  # two netted 3 at 1 − 0.40 − 0.50


# -- found by a hand mutation audit of the bookkeeping: each test below failed with one mutant ------


@pytest.mark.parametrize(("size", "price", "fee"), [("0", "0.40", "0"), ("-1", "0.40", "0"), ("1", "0", "0"),
                                                    ("1", "1", "0"), ("1", "0.40", "-0.01")],
                         ids=["size-0", "size-negative", "price-0", "price-1", "fee-negative"])
def test_a_fill_of_an_impossible_size_price_or_fee_is_refused_and_moves_nothing(db: Database, size: str,
                                                                                price: str, fee: str) -> None:
    """The ledger is the last gate (a Fill validates nothing): a negative fee booked would add cash,
    a zero-size fill an order's event with nothing in it, a price of 0 or 1 a position at no risk."""
    from orion_cli.store.tables import positions

    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    led.record_intent(prepared(), now=NOW)
    with pytest.raises(DataError, match="impossible size/price/fee"):
        led.record_fills("c1", [fill("f1", size, price, fee)], now=NOW)
    assert _cash(led) == (D("100"), D("100"))
    with db.read() as c:
        assert c.execute(select(positions)).all() == [] and c.execute(select(fills)).all() == []


@pytest.mark.parametrize("other", [{"action": Action.SELL}, {"side": Side.NO}, {"market_id": "KXB-1"},
                                   {"venue": Venue.POLYMARKET}], ids=["action", "side", "market", "venue"])
def test_a_fill_that_is_not_the_orders_is_refused(db: Database, other: dict[str, Any]) -> None:
    """A sell reported against a buy order (or another side, market, venue) booked as the order's
    would move the cash and the position the wrong way."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    led.record_intent(prepared(), now=NOW)
    with pytest.raises(DataError, match="does not belong to order c1"):
        led.record_fills("c1", [replace(fill("f1", "4", "0.40", "0"), **other)], now=NOW)
    assert _cash(led) == (D("100"), D("100")) and led.positions() == []


def test_a_partial_sell_realises_its_proceeds_less_its_fee_and_its_share_of_cost_and_fees(db: Database) -> None:
    from orion_cli.store.tables import positions

    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    led.record_intent(prepared(), now=NOW)
    led.record_fills("c1", [fill("f1", "10", "0.40", "0.10")], now=NOW)
    led.record_intent(prepared("c2", size="4", price="0.55", action=Action.SELL), now=NOW)
    led.record_fills("c2", [fill("f2", "4", "0.55", "0.03", coid="c2", action=Action.SELL)], now=NOW)
    with db.read() as c:
        row = c.execute(select(positions)).one()
    # 4 of 10 leave: cost 1.60 and fees 0.04 of 4.00 and 0.10; realised 2.20 - 0.03 - 1.60 - 0.04.
    assert (row.size, row.cost, row.fees, row.realized_pnl) == (D(6), D("2.4"), D("0.06"), D("0.53"))
    assert _cash(led) == (D("98.07"), D("98.07"))  # 100 - 4.10 + 2.17


def test_paper_cash_moves_for_every_fill_whatever_its_date_against_the_last_move(db: Database) -> None:
    """Paper cash is the ledger's own: no venue report holds anything, so the rule that skips a live
    fill a report holds must not skip a paper fill dated before the cash last moved."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D("100"), now=NOW)
    led.record_intent(prepared("a", size="10"), now=NOW)
    led.record_intent(prepared("b", size="10"), now=NOW)
    led.record_fills("b", [fill("fb", "10", "0.40", "0", coid="b")], now=NOW + timedelta(seconds=2))
    led.record_fills("a", [fill("fa", "10", "0.40", "0", coid="a")], now=NOW + timedelta(seconds=3))
    assert _cash(led) == (D(92), D(92))


def test_a_report_taken_at_the_instant_of_a_payout_holds_it(db: Database) -> None:
    """Both ways the boundary is judged: a payout dated at the stored report's instant is not added to
    it, and a report taken at the instant of a payout already added keeps no second copy of it."""
    paid = NOW + timedelta(hours=1)
    led = Ledger(db, "live")
    led.record_balance(_kalshi_report("50", NOW), now=NOW)
    for market in ("KXA-1", "KXB-1"):
        led.record_intent(prepared(f"c-{market}", market=market), now=NOW)
        led.record_fills(f"c-{market}", [fill(f"f-{market}", "10", "0.40", "0", coid=f"c-{market}", market=market)],
                         now=NOW + timedelta(seconds=1))
    assert _cash(led) == (D(42), D(42))
    settled = led.record_settlement(Settlement(Venue.KALSHI, "KXA-1", D(1), paid, result="yes"),
                                    now=paid + timedelta(minutes=1))
    assert settled is not None and settled.cash_moved and _cash(led) == (D(52), D(52))
    led.record_balance(_kalshi_report("52", paid), now=paid + timedelta(minutes=2))  # holds the payout
    assert _cash(led) == (D(52), D(52))
    settled = led.record_settlement(Settlement(Venue.KALSHI, "KXB-1", D(1), paid, result="yes"),
                                    now=paid + timedelta(minutes=3))
    assert settled is not None and not settled.cash_moved and _cash(led) == (D(52), D(52))


@pytest.mark.parametrize("order", ["stored newer", "passed newer"])
def test_the_newer_of_a_passed_and_the_stored_report_decides_whether_a_payout_is_held(db: Database,
                                                                                     order: str) -> None:
    """Found by a test review (a mutation survived): nothing passed ``report=`` older than the stored one.
    Another process stored a report taken after the $10 payout ($56); this one settles with a report taken
    before it: the stored, newer one holds the payout, so no cash moves (the older one would add it again,
    $66, equity the breaker and BALANCE count twice). The mirror: the stored report is older than the payout
    and the passed one newer: it holds the payout too."""
    paid = NOW + timedelta(hours=1)
    led = Ledger(db, "live")
    led.record_balance(_kalshi_report("50", NOW), now=NOW)
    led.record_intent(prepared("c-KXA-1", market="KXA-1"), now=NOW)
    led.record_fills("c-KXA-1", [fill("f-KXA-1", "10", "0.40", "0", coid="c-KXA-1", market="KXA-1")],
                     now=NOW + timedelta(seconds=1))
    assert _cash(led) == (D(46), D(46))
    before, after = _kalshi_report("46", paid - timedelta(minutes=5)), _kalshi_report("56", paid + timedelta(minutes=1))
    stored, passed = (after, before) if order == "stored newer" else (before, after)
    led.record_balance(stored, now=paid + timedelta(minutes=2))
    settled = led.record_settlement(Settlement(Venue.KALSHI, "KXA-1", D(1), paid, result="yes"),
                                    now=paid + timedelta(minutes=3), report=passed)
    assert settled is not None and not settled.cash_moved
    assert _cash(led) == ((D(56), D(56)) if order == "stored newer" else (D(46), D(46)))


def test_capital_moves_the_start_equity_and_the_peak_floored_at_zero_and_adopted_contracts_only_the_start(
        db: Database) -> None:
    from orion_cli.store.tables import breaker_state

    led = Ledger(db, "live")
    led.record_balance(_kalshi_report("1000", NOW), now=NOW)
    with db.write() as c:
        c.execute(breaker_state.insert().values(mode="live", peak_equity=D("1000"), detail="{}", updated_at="x"))
        led.count_capital(c, Venue.KALSHI, "KXA-1", Side.YES, D(5), D(2), now=NOW, why="adopted")
    start = led.daily_pnl(daily_loss=D("100"), daily_loss_pct=D("10"), now=NOW).start_equity
    assert (start, _peak(db)) == (D(1002), D(1000))  # the peak stays (count_capital's reasons)
    with db.write() as c:
        led._add_capital(c, NOW, D(-1500))  # a withdrawal beyond the peak
    assert _peak(db) == D(0)


def test_a_trading_day_ends_at_its_end_exclusive() -> None:
    day = ledger_module.current_day(NOW, 0, None, None)
    assert day.holds(day.start) and day.holds(day.end - timedelta(microseconds=1)) and not day.holds(day.end)


def test_the_netting_audit_event_realises_the_buys_own_fee_share_and_none_is_written_when_no_pair_closes(
        db: Database) -> None:
    """``position.netted``'s realized_pnl is the pairs' payout less both sides' cost *and* the buy's
    own share of its fee; a buy against an emptied other side closes nothing and writes no event."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D(1000), now=NOW)
    _buy(led, "y1", "100", "0.40", "1.68", NOW)
    _buy(led, "n1", "60", "0.55", "1.04", NOW, side=Side.NO)
    _buy(led, "n2", "70", "0.50", "1.40", NOW, side=Side.NO)  # closes the last 40 YES: the YES row is empty
    _buy(led, "n3", "10", "0.50", "0", NOW, side=Side.NO)  # nothing of YES left to pair with
    events = [e.payload for e in AuditLog(db).tail(50) if e.type == "position.netted"]
    # 60 - 33 - (24 + 1.008) - 1.04 and 40 - 20 - (16 + 0.672) - 40/70 of 1.40; the sum is the 3.48 realised.
    assert [(p["client_order_id"], p["pairs"], p["realized_pnl"]) for p in events] == [
        ("n1", "60", "0.952"), ("n2", "40", "2.528")]
    assert _realised(led) == D("3.48")


def test_a_fractional_fill_moves_the_cash_by_its_notional_rounded_to_the_ledgers_places(db: Database) -> None:
    """size × price can have more places than the ledger stores: the cash moves by the notional rounded
    as the position's cost is (unrounded, the Money column refused the fill and the order's record)."""
    from orion_cli.store.tables import positions

    led = Ledger(db, "paper")
    led.ensure_balance(Venue.POLYMARKET, D(100), now=NOW)
    led.record_intent(prepared(size="0.33333", price="0.123457", venue=Venue.POLYMARKET), now=NOW)
    led.record_fills("c1", [fill("f1", "0.33333", "0.123457", "0", venue=Venue.POLYMARKET)], now=NOW)
    bal = led.balance(Venue.POLYMARKET)
    assert bal is not None and bal.total == D("100") - D("0.0411519218")  # 0.04115192181 to ten places
    with db.read() as c:
        assert c.execute(select(positions.c.cost)).scalar() == D("0.0411519218")


def test_a_paper_balance_report_is_recorded_as_it_is(db: Database) -> None:
    """Paper cash is the ledger's own: a paper venue's report (reconcile records it) already holds every
    fill, so none is added to it as one it could not hold (that took a paper buy's cost out twice)."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D(100), now=NOW)
    at = NOW + timedelta(seconds=1)
    led.record_intent(prepared(), now=at)
    led.record_fills("c1", [replace(fill("f1", "10", "0.40", "0"), ts=at)], now=at)
    assert _cash(led) == (D(96), D(96))
    led.record_balance(Balance(Venue.KALSHI, "paper", D(96), D(0), D(96), at, source="ledger"), now=at)
    assert _cash(led) == (D(96), D(96))


def test_overfill_is_taken_only_for_a_buy_never_for_a_sell(db: Database) -> None:
    """``overfill_ok`` is for a dollar-amount buy filled at better prices; a sell filled beyond its
    size would take contracts out of the position that the order never asked to sell."""
    led = Ledger(db, "paper")
    led.ensure_balance(Venue.KALSHI, D(100), now=NOW)
    led.record_intent(prepared(), now=NOW)
    led.record_fills("c1", [fill("f1", "10", "0.40", "0")], now=NOW)
    led.record_intent(prepared("c2", size="4", price="0.55", action=Action.SELL), now=NOW)
    with pytest.raises(DataError, match="more than its size 4"):
        led.transition("c2", None, fills=[fill("f2", "6", "0.55", "0", coid="c2", action=Action.SELL)], now=NOW,
                       overfill_ok=True)
    assert [p.size for p in led.positions()] == [D(10)] and _cash(led) == (D(96), D(96))
    led.record_intent(prepared("c3", size="4", price="0.40"), now=NOW)  # a buy: the venue's fill is held
    st = led.transition("c3", None, fills=[fill("f3", "5", "0.40", "0", coid="c3")], now=NOW, overfill_ok=True)
    assert st.filled_size == D(5) and [p.size for p in led.positions()] == [D(15)]
