"""A live report recorded by `orion trade` / `orion balance` comes with the settlements it may hold."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from orion_cli.core.errors import VenueUnavailable
from orion_cli.core.models import Side, Venue
from orion_cli.core.settlement import record_reports, release_report
from orion_cli.store.db import Database
from orion_cli.store.ledger import Ledger, SettledMarket
from orion_cli.venues.trading import (
    Action,
    Balance,
    Fill,
    OrderRequest,
    OrderStatus,
    Position,
    PreparedOrder,
    Settlement,
    SettlementsIncomplete,
    TimeInForce,
    Transfer,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MKT = "KXSETTLE-26-A"


class FakeVenue:
    """Only what record_reports asks: the settlements of the markets held (or an outage)."""

    def __init__(self, found: list[Settlement], *, down: bool = False, moved: list[Transfer] | None = None,
                 transfers_down: bool = False, holds: list[Position] | None = None) -> None:
        self.found = found
        self.down = down
        self.moved = moved
        self.transfers_down = transfers_down
        self.holds = holds or []
        self.asked: list[list[str]] = []
        self.positions_asked = 0

    async def positions(self) -> list[Position]:
        self.positions_asked += 1
        return self.holds

    async def settlements(self, markets: Sequence[str]) -> list[Settlement]:
        self.asked.append(list(markets))
        if self.down:
            raise VenueUnavailable("kalshi", "connection refused")
        return [s for s in self.found if s.market_id in markets]

    async def transfers(self) -> list[Transfer] | None:
        if self.transfers_down:
            raise VenueUnavailable("kalshi", "connection refused")
        return self.moved


def _reports(ledger: Ledger, venue: FakeVenue, report: Balance) -> list[SettledMarket]:
    return asyncio.run(record_reports(ledger, {Venue.KALSHI: venue}, {Venue.KALSHI: report},  # type: ignore[dict-item]
                                      now=NOW))


def _hold(ledger: Ledger) -> None:
    """1000 YES at 0.40 bought after a $1000 report: $600 cash, $400 at cost."""
    ledger.record_balance(Balance(Venue.KALSHI, "live", D(1000), D(0), D(1000), NOW - timedelta(days=1)),
                          now=NOW - timedelta(days=1))
    req = OrderRequest(Venue.KALSHI, MKT, Side.YES, Action.BUY, D(1000), D("0.40"), TimeInForce.IOC, "c1")
    ledger.record_intent(PreparedOrder(req, "{}"), now=NOW - timedelta(hours=5))
    ledger.transition("c1", OrderStatus.FILLED, fills=[Fill(Venue.KALSHI, "f1", "o1", MKT, Side.YES, Action.BUY,
                                                            D(1000), D("0.40"), D(0), NOW - timedelta(hours=5))],
                      now=NOW - timedelta(hours=5))


def test_a_report_that_holds_a_payout_is_recorded_with_its_settlement_never_beside_the_position(
        db: Database) -> None:
    """Found in review: `orion trade` recorded a report holding the payout while the ledger still held
    the position at cost (equity 2000 for a true 1600; the next day's settlement read as a 400 loss)."""
    ledger = Ledger(db, "live")
    _hold(ledger)
    paid = NOW - timedelta(hours=1)
    venue = FakeVenue([Settlement(Venue.KALSHI, MKT, D(1), paid, result="yes")])
    report = Balance(Venue.KALSHI, "live", D(1600), D(0), D(1600), NOW)  # the venue's cash after the payout

    (settled,) = _reports(ledger, venue, report)

    assert venue.asked == [[MKT]] and settled.payout == D(1000) and not settled.cash_moved
    assert ledger.positions() == []
    pnl = ledger.daily_pnl(daily_loss=D(10_000), daily_loss_pct=D(100), now=NOW)
    assert pnl.equity == D(1600)  # not 2000


def test_a_payout_made_after_the_report_is_added_to_it(db: Database) -> None:
    ledger = Ledger(db, "live")
    _hold(ledger)
    report = Balance(Venue.KALSHI, "live", D(600), D(0), D(600), NOW - timedelta(minutes=1))
    venue = FakeVenue([Settlement(Venue.KALSHI, MKT, D(1), NOW, result="yes")])  # paid after the report was read
    (settled,) = _reports(ledger, venue, report)
    assert settled.cash_moved
    bal = ledger.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D(1600)


def test_a_report_whose_settlements_cannot_be_read_is_not_recorded(db: Database) -> None:
    ledger = Ledger(db, "live")
    _hold(ledger)
    report = Balance(Venue.KALSHI, "live", D(1600), D(0), D(1600), NOW)
    got = _reports(ledger, FakeVenue([], down=True), report)
    assert got == []
    bal = ledger.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D(600)  # the last report moved by the fill: nothing counted twice
    assert len(ledger.positions()) == 1


class OneUnreadable(FakeVenue):
    """A venue that settled every held market, one of them in a record orion cannot read."""

    def __init__(self, found: list[Settlement], unreadable: str) -> None:
        super().__init__(found, moved=[])
        self.unreadable = unreadable

    async def settlements(self, markets: Sequence[str]) -> list[Settlement]:
        read = await super().settlements(markets)
        raise SettlementsIncomplete(Venue.KALSHI, read, {self.unreadable: "market_result: not a result: 'all_void'"})


def test_one_unreadable_settlement_no_longer_keeps_the_others_from_settling(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Found in review: one Kalshi settlement record orion could not read (a voided market) failed
    them all, so no held market ever settled and the venue's report was never recorded again."""
    ledger = Ledger(db, "live")
    _hold(ledger)
    other = "KXSETTLE-26-B"
    req = OrderRequest(Venue.KALSHI, other, Side.NO, Action.BUY, D(10), D("0.50"), TimeInForce.IOC, "c2")
    ledger.record_intent(PreparedOrder(req, "{}"), now=NOW - timedelta(hours=4))
    ledger.transition("c2", OrderStatus.FILLED, fills=[Fill(Venue.KALSHI, "f2", "o2", other, Side.NO, Action.BUY,
                                                            D(10), D("0.50"), D(0), NOW - timedelta(hours=4))],
                      now=NOW - timedelta(hours=4))
    venue = OneUnreadable([Settlement(Venue.KALSHI, MKT, D(1), NOW - timedelta(hours=1), result="yes")], other)
    report = Balance(Venue.KALSHI, "live", D(1595), D(0), D(1595), NOW)  # may hold the unread one's payout

    with caplog.at_level(logging.WARNING, logger="orion_cli.core.settlement"):
        (settled,) = _reports(ledger, venue, report)

    assert settled.settlement.market_id == MKT and settled.payout == D(1000) and settled.cash_moved
    assert [p.market_id for p in ledger.positions()] == [other]  # at cost, until its record can be read
    bal = ledger.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D(1595)  # 600 − 5 + the payout: the report itself not recorded
    assert bal.as_of == NOW - timedelta(days=1)
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert other in warned and "all_void" in warned and "orion reconcile" in warned


class WaitsForTheOther(FakeVenue):
    """Answers only once the other venue has been asked too: asked one after the other, it times out."""

    def __init__(self, started: asyncio.Event, other: asyncio.Event) -> None:
        super().__init__([])
        self.started, self.other = started, other

    async def settlements(self, markets: Sequence[str]) -> list[Settlement]:
        self.started.set()
        await asyncio.wait_for(self.other.wait(), timeout=5)
        return await super().settlements(markets)


def test_the_venues_settlements_are_read_at_once(db: Database) -> None:
    """A live trade waits on these before its checks: one venue after the other doubled the wait."""
    ledger = Ledger(db, "live")
    _hold(ledger)
    poly = "0x" + "ab" * 32
    req = OrderRequest(Venue.POLYMARKET, poly, Side.NO, Action.BUY, D(5), D("0.5"), TimeInForce.FOK, "c2")
    ledger.record_intent(PreparedOrder(req, "{}"), now=NOW - timedelta(hours=5))
    ledger.transition("c2", OrderStatus.FILLED, fills=[Fill(Venue.POLYMARKET, "f2", "o2", poly, Side.NO, Action.BUY,
                                                            D(5), D("0.5"), D(0), NOW - timedelta(hours=5))],
                      now=NOW - timedelta(hours=5))

    async def go() -> tuple[WaitsForTheOther, WaitsForTheOther]:
        k_started, p_started = asyncio.Event(), asyncio.Event()
        kalshi, polymarket = WaitsForTheOther(k_started, p_started), WaitsForTheOther(p_started, k_started)
        reports = {v: Balance(v, "live", D(600), D(0), D(600), NOW) for v in (Venue.KALSHI, Venue.POLYMARKET)}
        await record_reports(ledger, {Venue.KALSHI: kalshi, Venue.POLYMARKET: polymarket},  # type: ignore[dict-item]
                             reports, now=NOW)
        return kalshi, polymarket

    kalshi, polymarket = asyncio.run(go())
    assert (kalshi.asked, polymarket.asked) == ([[MKT]], [[poly]])
    assert {b.venue: b.total for b in ledger.balances()} == {Venue.KALSHI: D(600), Venue.POLYMARKET: D(600)}


def test_the_deposits_a_report_holds_are_recorded_with_it_as_capital(db: Database) -> None:
    """`orion balance` after a 500 deposit used to record it as a 500 profit (and a withdrawal as a loss
    that tripped the breaker)."""
    ledger = Ledger(db, "live")
    _hold(ledger)
    moved = [Transfer(Venue.KALSHI, "d1", "deposit", "applied", D(500), NOW - timedelta(minutes=3))]
    report = Balance(Venue.KALSHI, "live", D(1100), D(0), D(1100), NOW)
    assert _reports(ledger, FakeVenue([], moved=moved), report) == []
    pnl = ledger.daily_pnl(daily_loss=D(10_000), daily_loss_pct=D(100), now=NOW)
    assert (pnl.equity, pnl.pnl) == (D(1500), D(0))


def test_a_report_whose_transfers_cannot_be_read_is_not_recorded(db: Database) -> None:
    ledger = Ledger(db, "live")
    _hold(ledger)
    report = Balance(Venue.KALSHI, "live", D(1100), D(0), D(1100), NOW)
    assert _reports(ledger, FakeVenue([], transfers_down=True), report) == []
    bal = ledger.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D(600)  # not a 500 profit from a deposit it could not see


def test_the_peak_a_recorded_report_raises_is_recorded_with_it(db: Database) -> None:
    """Found in review (rev1): `orion balance` (and a live trade) recorded a settlement's gain with no
    breaker update after it; a loss recorded before the next trade's check (a reconcile run) was then
    measured from the older peak: 1400 read as no drawdown at all instead of 12.5% below 1600."""
    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.core.config import load_settings
    from orion_cli.risk.breaker import Breaker

    s = load_settings(overrides={"breaker.daily_loss": "100000", "breaker.daily_loss_pct": "100",
                                 "breaker.drawdown_pct": "10"}, environ={})
    ledger = Ledger(db, "live")
    _hold(ledger)  # equity 1000
    breaker = Breaker(db, s, mode="live", ledger=ledger, alerts=NullAlertSink())
    assert breaker.update(now=NOW - timedelta(hours=2)).peak_equity == D(1000)
    venue = FakeVenue([Settlement(Venue.KALSHI, MKT, D(1), NOW - timedelta(hours=1), result="yes")])
    _reports(ledger, venue, Balance(Venue.KALSHI, "live", D(1600), D(0), D(1600), NOW))  # the payout: 1600
    later = NOW + timedelta(minutes=5)
    ledger.record_balance(Balance(Venue.KALSHI, "live", D(1400), D(0), D(1400), later), now=later)
    st = breaker.update(now=later)
    assert (st.peak_equity, st.trips) == (D(1600), ("drawdown",)), st


def test_a_report_of_a_venue_reconcile_holds_is_not_recorded_until_a_reconcile_releases_it(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Found in review: reconcile found 200 contracts sold by hand (fill and position drift, not fixed);
    the venue's cash held the sale while the ledger held them at cost. `orion balance` or a live trade
    recorded that cash all the same: equity up by the proceeds (a loss read as a gain by the BREAKER
    check), and a peak the account never had. Held, the report is not recorded (its settlements are
    judged by the stored figure) until a reconcile finds the ledger agreeing or --fix adopts them."""
    from orion_cli.core.settlement import hold_report, release_report

    ledger = Ledger(db, "live")
    _hold(ledger)  # $600 cash, 1000 YES at cost
    with db.write() as conn:
        hold_report(conn, "live", Venue.KALSHI, "1 position drift(s) not fixed", now=NOW - timedelta(minutes=9))
        hold_report(conn, "live", Venue.KALSHI, "2 fill and position drift(s) not fixed", now=NOW)
    venue = FakeVenue([Settlement(Venue.KALSHI, MKT, D(1), NOW - timedelta(hours=1), result="yes")], moved=[])
    report = Balance(Venue.KALSHI, "live", D(1650), D(0), D(1650), NOW)  # the payout, and a sale's 50

    with caplog.at_level(logging.WARNING, logger="orion_cli.core.settlement"):
        (settled,) = _reports(ledger, venue, report)

    assert settled.payout == D(1000) and settled.cash_moved  # judged by the stored figure
    bal = ledger.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D(1600)  # 600 + the payout, not the report's 1650
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "not recorded" in warned and "2 fill and position drift(s) not fixed" in warned
    assert "since 2026-11-22T11:51:00.000000Z" in warned  # the first hold's time stays

    with db.write() as conn:
        release_report(conn, "live", Venue.KALSHI)
    _reports(ledger, FakeVenue([], moved=[]), report)
    bal = ledger.balance(Venue.KALSHI)
    assert bal is not None and bal.total == D(1650)


def test_a_voided_market_is_said_with_what_it_refunded(db: Database) -> None:
    """Found by a mutation audit (the notice dropped, every test passed): a void closes the position at
    what the venue refunded, not at an outcome, and the operator is told so, with the realised P&L."""
    ledger = Ledger(db, "live")
    _hold(ledger)
    void = Settlement(Venue.KALSHI, MKT, D(0), NOW - timedelta(hours=1), result="void",
                      refunds=((Side.YES, D("0.40")),))
    said: list[str] = []
    report = Balance(Venue.KALSHI, "live", D(1000), D(0), D(1000), NOW)
    (settled,) = asyncio.run(record_reports(ledger, {Venue.KALSHI: FakeVenue([void])},  # type: ignore[dict-item]
                                            {Venue.KALSHI: report}, now=NOW, warn=said.append))
    assert settled.payout == D(400) and settled.realized_pnl == D(0)
    assert said == [f"kalshi {MKT}: the venue voided the market; its positions were closed at what it refunded "
                    "(400), realised P&L 0"]


def _position(size: str) -> Position:
    return Position(Venue.KALSHI, MKT, Side.YES, D(size), D("0.40"), D(0))


def test_a_first_report_beside_positions_the_account_already_holds_is_held_not_recorded(db: Database) -> None:
    """Found reviewing first contact with non-empty accounts: a fresh live ledger recorded the venue's first
    report and every limit then counted without the positions the account held (bought by hand). Read with
    the first report, they hold the venue's reports, as reconcile holds them for drift, until --fix adopts
    them; an account holding nothing (dust below a micro-share aside: none) is recorded as before."""
    from orion_cli.core.settlement import held_reports

    ledger = Ledger(db, "live")
    report = Balance(Venue.KALSHI, "live", D(1000), D(0), D(1000), NOW)
    venue = FakeVenue([], holds=[_position("400"), _position("0.0000001")])
    assert _reports(ledger, venue, report) == [] and venue.positions_asked == 1
    assert ledger.balance(Venue.KALSHI) is None
    with db.read() as conn:
        held = held_reports(conn, "live", [Venue.KALSHI])
    assert "1 position(s) the account held before orion first recorded its report" in held[Venue.KALSHI], held

    with db.write() as conn:
        release_report(conn, "live", Venue.KALSHI)  # as a reconcile --fix adopting them
    empty = FakeVenue([], holds=[_position("0.0000001")])
    _reports(ledger, empty, report)
    assert ledger.balance(Venue.KALSHI) is not None and empty.positions_asked == 1
    later = FakeVenue([], holds=[_position("400")])
    _reports(ledger, later, report)  # a report recorded: positions are reconcile's to compare from then on
    assert later.positions_asked == 0


def test_a_resolved_position_at_the_first_report_is_a_payout_not_a_hold(db: Database) -> None:
    """Found reviewing the first-contact hold: Polymarket lists a resolved market's tokens until they are
    redeemed (a lost bet's worth nothing). Counted, they held the venue and sent the trader to `reconcile
    --fix`, which adopted them at their old cost and settled them as a loss that tripped the daily breaker.
    The report's total already holds their payout: the first report is recorded."""
    ledger = Ledger(db, "live")
    report = Balance(Venue.KALSHI, "live", D(1000), D(0), D(1000), NOW)
    lost = Position(Venue.KALSHI, MKT, Side.YES, D(100), D("0.80"), D(0), extra={"redeemable": "true", "curPrice": "0"})
    venue = FakeVenue([], holds=[lost])
    _reports(ledger, venue, report)
    assert venue.positions_asked == 1 and ledger.balance(Venue.KALSHI) is not None
