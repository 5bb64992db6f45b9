"""The loss breaker: daily loss ($ and %), drawdown, warnings once a day, trips, reset hour, persistence."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.config import Settings, load_settings
from orion_cli.core.errors import Refused
from orion_cli.core.models import Side, Venue
from orion_cli.risk.breaker import Breaker
from orion_cli.risk.halt import KillSwitch
from orion_cli.store.audit import AuditLog, iso_utc
from orion_cli.store.db import Database, open_database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.trading import Action, Balance, Fill, OrderRequest, PreparedOrder, TimeInForce, Transfer

DAY1 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
_IDS = count()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    open_database(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def lite(tmp_path: Path, template: Path) -> Iterator[Database]:
    shutil.copyfile(template, tmp_path / "b.db")
    database = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        yield database
    finally:
        database.dispose()


def settings(**overrides: Any) -> Settings:
    return load_settings(overrides=overrides)


def trade(led: Ledger, action: Action, size: str, price: str, *, fee: str = "0", market: str = "KXM",
          now: datetime = DAY1) -> None:
    coid = f"c{next(_IDS)}"
    req = OrderRequest(Venue.KALSHI, market, Side.YES, action, D(size), D(price), TimeInForce.IOC, coid)
    led.record_intent(PreparedOrder(req, f'{{"id":"{coid}"}}'), now=now)
    led.record_fills(coid, [Fill(Venue.KALSHI, f"f-{coid}", f"v-{coid}", market, Side.YES, action, D(size), D(price),
                                 D(fee), now)], now=now)


def lose(led: Ledger, amount: str, *, now: datetime = DAY1) -> None:
    """Realise a loss of exactly ``amount``: buy 100 at 0.50, sell them at 0.50 paying ``amount`` in fees."""
    trade(led, Action.BUY, "100", "0.50", now=now)
    trade(led, Action.SELL, "100", "0.50", fee=amount, now=now)


def make(db: Database, s: Settings, *, cash: str = "10000", now: datetime = DAY1) -> tuple[Breaker, Ledger,
                                                                                             NullAlertSink]:
    led = Ledger(db, "paper", reset_hour_utc=s.breaker.reset_hour_utc)
    led.ensure_balance(Venue.KALSHI, D(cash), now=now - timedelta(minutes=1))
    sink = NullAlertSink()
    return Breaker(db, s, mode="paper", ledger=led, alerts=sink), led, sink


def events(db: Database, type_: str) -> list[dict[str, Any]]:
    return [e.payload for e in AuditLog(db).tail(100, types=(type_,))]


def check(db: Database, b: Breaker, now: datetime) -> Any:
    with db.write() as conn:
        return b.check(conn, now)


def test_daily_loss_in_dollars_warns_at_80_percent_once_then_trips(lite: Database,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["orion", "trade", "op1", "--confirm"])  # the process that trips it
    s = settings()  # daily_loss 50, 5% of 10000 = 500: the dollar limit binds
    b, led, sink = make(lite, s)
    lose(led, "39.99")
    st = b.update(now=DAY1)
    assert st.warnings == () and st.daily_loss == D("39.99") and check(lite, b, DAY1).passed
    lose(led, "0.01")  # 40.00 = 80% of 50
    st = b.update(now=DAY1)
    assert st.warnings == ("daily_loss",) and st.trips == ()
    assert st.daily_limit == 50 and st.daily_limit_source == "breaker.daily_loss" and st.daily_used_pct == 80
    assert b.update(now=DAY1 + timedelta(minutes=1)).warnings == ()  # once per trading day
    [warning] = events(lite, "breaker.warning")
    assert warning["kind"] == "daily_loss" and warning["daily_loss"] == "40"
    assert [k for k, _, _ in sink.emitted] == ["breaker.warning"]
    assert check(lite, b, DAY1).passed and not KillSwitch(lite).status().halted

    lose(led, "9.99")  # 49.99: still below
    assert b.update(now=DAY1).trips == () and check(lite, b, DAY1).passed
    lose(led, "0.01")  # 50.00: the limit is reached
    st = b.update(now=DAY1)
    assert st.trips == ("daily_loss",) and st.tripped == "daily_loss" and not st.ok
    halt = KillSwitch(lite).status()
    assert halt.halted and halt.kind == "breaker" and "daily loss 50.00" in halt.reason
    [tripped] = events(lite, "breaker.tripped")
    assert tripped["kind"] == "daily_loss" and tripped["halt_kind"] == "breaker"
    assert (tripped["tripped"], tripped["tripped_at"]) == ("daily_loss", iso_utc(DAY1))  # was null, null
    assert sink.emitted[-1][2]["tripped"] == "daily_loss"
    assert [k for k, _, _ in sink.emitted] == ["breaker.warning", "breaker.tripped"]
    # Found by a black-box run: the halt it engaged came first in the audit log, the cause after it.
    trail = sorted(AuditLog(lite).tail(100, types=("breaker.tripped", "halt.engaged")), key=lambda e: e.seq)
    assert [e.type for e in trail] == ["breaker.tripped", "halt.engaged"]
    # Signed by the command that tripped it, as every event's actor (found in review: `breaker`, no command).
    assert [e.actor["command"] for e in trail] == ["trade op1", "trade op1"], [e.actor for e in trail]
    assert halt.by["command"] == "trade op1"
    r = check(lite, b, DAY1)
    assert not r.passed and r.name == "BREAKER" and "daily loss 50.00 >= limit 50.00" in r.detail
    assert b.update(now=DAY1).trips == ()  # tripped once, not on every update
    assert len(events(lite, "breaker.tripped")) == 1
    # A daily trip is released by a plain resume; the BREAKER check still refuses until the reset.
    KillSwitch(lite).release()
    assert not check(lite, b, DAY1 + timedelta(hours=1)).passed


def test_a_trip_event_and_alert_name_the_trip_in_force(lite: Database) -> None:
    """Found by black-box testing: `breaker.tripped` (audit event and alert) carried `"tripped": null`
    and `"tripped_at": null`, the figures as they were before the trip it reports."""
    s = _drawdown_settings(**{"breaker.daily_loss": "150"})
    b, led, sink = make(lite, s, cash="1000")
    trade(led, Action.BUY, "1000", "0.50")  # cash 500 + 1000 contracts at cost 500: equity 1000
    key = (Venue.KALSHI, "KXM", Side.YES)
    assert b.update({key: D("0.40")}, now=DAY1).trips == ("drawdown",)  # 900: 10% below 1000
    lose(led, "50", now=DAY1 + timedelta(minutes=1))  # 150 lost today: the daily limit, under the drawdown trip
    assert b.update({key: D("0.40")}, now=DAY1 + timedelta(minutes=1)).trips == ("daily_loss",)
    drawdown, daily = sorted(AuditLog(lite).tail(100, types=("breaker.tripped",)), key=lambda e: e.seq)
    alerts = [payload for kind, _, payload in sink.emitted if kind == "breaker.tripped"]
    assert [a["kind"] for a in alerts] == ["drawdown", "daily_loss"]
    for event, alert in zip((drawdown, daily), alerts, strict=True):
        # the drawdown trip stays in force: it outranks the daily one
        assert (event.payload["tripped"], event.payload["tripped_at"]) == ("drawdown", iso_utc(DAY1))
        assert (alert["tripped"], alert["tripped_at"]) == ("drawdown", iso_utc(DAY1))
    assert daily.payload["kind"] == "daily_loss" and daily.payload["halt_kind"] == "breaker"


def test_daily_loss_as_a_share_of_start_of_day_equity(lite: Database) -> None:
    s = settings()
    b, led, _ = make(lite, s, cash="500")  # 5% of 500 = 25 < 50
    lose(led, "24.99")
    st = b.update(now=DAY1)
    assert st.daily_limit == 25 and st.daily_limit_source == "breaker.daily_loss_pct"
    assert st.trips == () and st.warnings == ("daily_loss",)
    lose(led, "0.01")
    st = b.update(now=DAY1)
    assert st.trips == ("daily_loss",)
    assert "breaker.daily_loss_pct" in check(lite, b, DAY1).detail


def _drawdown_settings(**more: Any) -> Settings:
    return settings(**{"breaker.daily_loss": "10000000", "breaker.daily_loss_pct": "100", **more})


def test_drawdown_from_peak_trips_and_needs_resume_breaker(lite: Database) -> None:
    s = _drawdown_settings()
    b, led, sink = make(lite, s, cash="1000")
    trade(led, Action.BUY, "1000", "0.50")  # cash 500 + 1000 contracts at cost 500: equity 1000
    key = (Venue.KALSHI, "KXM", Side.YES)
    st = b.update({key: D("0.60")}, now=DAY1)  # 1100 at the bid: no peak until it is realised
    assert (st.equity, st.peak_equity, st.drawdown) == (D("1100"), D("1000"), D("0"))
    st = b.update({key: D("0.4201")}, now=DAY1)  # 920.1: 7.99% below 1000
    assert st.warnings == () and st.drawdown_pct < 8
    st = b.update({key: D("0.42")}, now=DAY1)  # 920: exactly 8% = 80% of 10%
    assert st.warnings == ("drawdown",) and st.drawdown_used_pct == 80
    st = b.update({key: D("0.4001")}, now=DAY1)  # 900.1: 9.99%
    assert st.trips == () and check(lite, b, DAY1).passed
    st = b.update({key: D("0.40")}, now=DAY1)  # 900: exactly 10%
    assert st.trips == ("drawdown",) and st.tripped == "drawdown"
    halt = KillSwitch(lite).status()
    assert halt.halted and halt.kind == "drawdown"
    assert [k for k, _, _ in sink.emitted] == ["breaker.warning", "breaker.tripped"]
    r = check(lite, b, DAY1)
    assert not r.passed and "drawdown 10.00% from peak 1000.00" in r.detail

    with pytest.raises(Refused, match="resume --breaker"):
        KillSwitch(lite).release()
    assert not check(lite, b, DAY1).passed
    trade(led, Action.SELL, "1000", "0.40")  # the fall realised: 900 at cost too
    KillSwitch(lite).release(breaker=True)
    # Released deliberately: the peak is rebased to the equity at that moment, trading may resume.
    assert check(lite, b, DAY1).passed
    st = b.update(now=DAY1)
    assert st.peak_equity == 900 and st.tripped is None and st.ok
    assert events(lite, "breaker.reset")[0]["new_peak"] == "900"


def test_a_drawdown_trip_while_already_halted_still_needs_resume_breaker(lite: Database) -> None:
    s = _drawdown_settings()
    b, led, _ = make(lite, s, cash="1000")
    trade(led, Action.BUY, "1000", "0.50")
    KillSwitch(lite).engage("manual stop")
    b.update({(Venue.KALSHI, "KXM", Side.YES): D("0.40")}, now=DAY1)  # 900: 10% below 1000
    assert KillSwitch(lite).status().kind == "drawdown"
    with pytest.raises(Refused):
        KillSwitch(lite).release()


def test_a_drawdown_trip_in_force_refuses_though_the_figures_recovered(lite: Database) -> None:
    """Mutation audit: the BREAKER check failed on a drawdown trip only while the figures were still past
    the limit; dropping the "trip in force" refusal passed once the bid came back, with the drawdown halt
    unreleased. A drawdown trip refuses until `orion resume --breaker`, whatever the figures do."""
    s = _drawdown_settings()
    b, led, _ = make(lite, s, cash="1000")
    trade(led, Action.BUY, "1000", "0.50")
    key = (Venue.KALSHI, "KXM", Side.YES)
    assert b.update({key: D("0.40")}, now=DAY1).trips == ("drawdown",)  # 900: 10% below 1000
    st = b.update({key: D("0.50")}, now=DAY1 + timedelta(minutes=1))  # back at cost: no drawdown left
    assert st.drawdown == 0 and st.tripped == "drawdown" and not st.ok
    r = check(lite, b, DAY1 + timedelta(minutes=1))
    assert not r.passed and f"drawdown breaker tripped at {iso_utc(DAY1)}" in r.detail, r.detail
    assert "`orion resume --breaker --yes`" in r.detail, r.detail
    assert not b.status(DAY1 + timedelta(minutes=1)).ok


def test_the_daily_part_resets_at_the_configured_hour(lite: Database) -> None:
    s = settings(**{"breaker.reset_hour_utc": 6})
    b, led, _ = make(lite, s)
    lose(led, "50")
    assert b.update(now=DAY1).trips == ("daily_loss",)
    next_day_0559 = datetime(2026, 11, 22, 5, 59, 59, tzinfo=UTC)
    next_day_0600 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    r = check(lite, b, next_day_0559)  # still the trading day of the trip
    assert not r.passed and "daily loss 50.00 >= limit 50.00" in r.detail
    assert check(lite, b, next_day_0600).passed  # a new trading day measures from its own start
    st = b.update(now=next_day_0600)
    assert st.day == "2026-11-22" and st.tripped is None and st.daily_loss == 0
    # The halt the trip engaged is not released by the clock: a person resumes.
    assert KillSwitch(lite).status().halted
    # A new day may warn (and trip) again.
    lose(led, "40", now=next_day_0600 + timedelta(hours=1))
    assert b.update(now=next_day_0600 + timedelta(hours=1)).warnings == ("daily_loss",)


def test_a_daily_trip_in_force_says_when_it_resets_even_while_the_loss_is_over_the_limit(lite: Database) -> None:
    """Found by a black-box run: after a trip and `orion resume`, a loss still at the limit was all the
    BREAKER refusal said (a `trade --watch`, marking at the bids, stopped on it): nothing told that the
    refusal lasts until the reset hour, whatever the figures do. Said beside the figures now."""
    s = settings(**{"breaker.reset_hour_utc": 6})
    b, led, _ = make(lite, s)
    lose(led, "50")
    assert b.update(now=DAY1).trips == ("daily_loss",)
    KillSwitch(lite).release()
    r = check(lite, b, DAY1 + timedelta(hours=1))
    assert not r.passed
    # The reset as a full date-time: "06:00 UTC" alone may be a day away.
    assert r.detail == ("daily loss 50.00 >= limit 50.00 (breaker.daily_loss); daily loss breaker tripped in the "
                        "trading day that began 2026-11-21 06:00 UTC; it resets at 2026-11-22 06:00 UTC")
    assert b.update(now=DAY1 + timedelta(hours=1)).problems == tuple(r.detail.split("; ", 1))


def test_daily_trip_until_is_the_trading_days_reset_while_the_trip_is_in_force(lite: Database) -> None:
    """What `orion halt --status` and `orion resume` say: the daily trip refuses trades until the reset,
    as a full date-time (the reset hour of the next calendar day when tripped after it)."""
    from orion_cli.risk.breaker import daily_trip_until

    s = settings(**{"breaker.reset_hour_utc": 6})
    b, led, _ = make(lite, s)
    assert daily_trip_until(lite, "paper", 6, DAY1) is None
    lose(led, "50")
    assert b.update(now=DAY1).trips == ("daily_loss",)
    KillSwitch(lite).release()
    reset = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    assert daily_trip_until(lite, "paper", 6, DAY1 + timedelta(hours=1)) == reset
    assert daily_trip_until(lite, "paper", 6, reset - timedelta(microseconds=1)) == reset
    assert daily_trip_until(lite, "paper", 6, reset) is None  # the new trading day
    assert daily_trip_until(lite, "live", 6, DAY1 + timedelta(hours=1)) is None  # per mode


def test_state_persists_across_breaker_instances(db_url: str) -> None:
    db = open_database(db_url)
    try:
        s = _drawdown_settings()
        b, led, _ = make(db, s, cash="1000")
        trade(led, Action.BUY, "1000", "0.50")
        trade(led, Action.SELL, "1000", "0.60")  # 100 realised: cash 1100
        assert b.update(now=DAY1).peak_equity == 1100
        lose(led, "100")  # equity 1000
        # Another process: 9.09% below the persisted peak.
        again = Breaker(db, s, mode="paper", ledger=Ledger(db, "paper"), alerts=NullAlertSink())
        assert again.status(now=DAY1).peak_equity == 1100
        st = again.update(now=DAY1)
        assert st.warnings == ("drawdown",) and st.drawdown_pct == D("9.0909090909")
        third = Breaker(db, s, mode="paper", ledger=Ledger(db, "paper"), alerts=NullAlertSink())
        assert third.update(now=DAY1).warnings == ()  # warned_day persisted too
        # The pipeline's fallback (a connection only) reads the same persisted peak.
        with db.write() as conn:
            r = Breaker.for_connection(conn, s, mode="paper").check(conn, DAY1)
        assert r.passed and "peak 1100.00" in r.detail
    finally:
        db.dispose()


def test_check_fails_closed_when_the_figures_cannot_be_computed(lite: Database,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    b, _, _ = make(lite, settings())

    def boom(**_k: Any) -> Any:
        raise RuntimeError("ledger unreadable")

    monkeypatch.setattr(b.ledger, "daily_pnl", boom)
    r = check(lite, b, DAY1)
    assert not r.passed and "cannot compute the breaker: RuntimeError: ledger unreadable" in r.detail


def test_alerts_go_out_only_after_the_commit(lite: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    b, led, sink = make(lite, settings())
    lose(led, "50")

    def fail(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("disk full")

    import orion_cli.risk.breaker as breaker_mod

    monkeypatch.setattr(breaker_mod.AuditLog, "append", fail)
    with pytest.raises(RuntimeError):
        b.update(now=DAY1)
    assert sink.emitted == [] and not KillSwitch(lite).status().halted


def test_live_buys_between_venue_reports_do_not_raise_the_peak_into_a_false_drawdown(lite: Database) -> None:
    """Live cash used to stay at the last report while fills grew the positions: each buy's cost was
    counted twice, the peak rose by it, and the next report (cash down by what was spent) read as a
    drawdown from that peak, tripping a halt that needs `orion resume --breaker` on no loss at all."""
    s = settings(**{"breaker.drawdown_pct": "10", "breaker.daily_loss": "1000"})
    led = Ledger(lite, "live", reset_hour_utc=s.breaker.reset_hour_utc)
    b = Breaker(lite, s, mode="live", ledger=led, alerts=NullAlertSink())
    report = Balance(Venue.KALSHI, "live", D("100"), D("0"), D("100"), DAY1, source="venue")
    led.record_balance(report, now=DAY1)
    trade(led, Action.BUY, "30", "0.45", now=DAY1)  # 13.50 spent, held at cost
    assert b.update(now=DAY1).peak_equity == D("100")
    later = DAY1 + timedelta(minutes=5)
    led.record_balance(Balance(Venue.KALSHI, "live", D("86.5"), D("0"), D("86.5"), later, source="venue"), now=later)
    st = b.update(now=later)
    assert (st.equity, st.peak_equity, st.drawdown, st.trips, st.tripped) == (D("100"), D("100"), D("0"), (), None)


def test_a_live_unwind_loss_trips_the_daily_breaker_without_waiting_for_a_venue_report(lite: Database) -> None:
    s = settings(**{"breaker.daily_loss": "1.5", "breaker.daily_loss_pct": "50"})
    led = Ledger(lite, "live", reset_hour_utc=s.breaker.reset_hour_utc)
    b = Breaker(lite, s, mode="live", ledger=led, alerts=NullAlertSink())
    led.record_balance(Balance(Venue.KALSHI, "live", D("100"), D("0"), D("100"), DAY1, source="venue"), now=DAY1)
    trade(led, Action.BUY, "20", "0.50", now=DAY1)
    trade(led, Action.SELL, "20", "0.42", now=DAY1)  # sold back 0.08 a share lower: 1.60 lost
    st = b.update(now=DAY1)
    assert (st.daily_loss, st.trips) == (D("1.6"), ("daily_loss",))
    assert KillSwitch(lite, mode="live").status().halted


# -- capital moved in or out is not profit or loss -------------------------------------------------


def _live(lite: Database, s: Settings) -> tuple[Breaker, Ledger]:
    led = Ledger(lite, "live", reset_hour_utc=s.breaker.reset_hour_utc)
    return Breaker(lite, s, mode="live", ledger=led, alerts=NullAlertSink()), led


def _report(led: Ledger, total: str, at: datetime, moved: tuple[Transfer, ...] = (),
            venue: Venue = Venue.KALSHI) -> None:
    """As `orion balance` records one: the transfers it holds, then the report, in one transaction."""
    rep = Balance(venue, "live", D(total), D(0), D(total), at, source="venue")
    with led.db.write() as conn:
        led.record_transfers(moved, rep, conn=conn, now=at)
        led.record_balance(rep, conn=conn, now=at)


def test_a_withdrawal_trips_neither_the_daily_loss_nor_the_drawdown(lite: Database) -> None:
    """A trader who took 600 of 1000 out used to read as a 60% loss: a halt that needed
    `orion resume --breaker`, with nothing lost."""
    s = settings(**{"breaker.daily_loss": "100", "breaker.drawdown_pct": "10"})
    b, led = _live(lite, s)
    _report(led, "1000", DAY1)
    assert b.update(now=DAY1).peak_equity == D(1000)
    at = DAY1 + timedelta(hours=1)
    _report(led, "400", at, (Transfer(Venue.KALSHI, "w1", "withdrawal", "applied", D(-600), at),))
    st = b.update(now=at)
    assert (st.equity, st.start_equity, st.daily_pnl, st.peak_equity, st.drawdown) == (D(400), D(400), D(0),
                                                                                      D(400), D(0))
    assert st.trips == () and st.tripped is None and not KillSwitch(lite).status().halted


def test_a_deposit_does_not_hide_the_days_loss_or_the_drawdown(lite: Database) -> None:
    """A 300 loss then a 500 deposit used to read as a 200 profit: the breaker let trading go on."""
    s = settings(**{"breaker.daily_loss": "250", "breaker.drawdown_pct": "25"})
    b, led = _live(lite, s)
    _report(led, "1000", DAY1)
    assert b.update(now=DAY1).peak_equity == D(1000)
    lost = DAY1 + timedelta(hours=1)
    _report(led, "700", lost)  # the venue's cash after a 300 loss the ledger did not see coming
    at = lost + timedelta(minutes=5)
    _report(led, "1200", at, (Transfer(Venue.KALSHI, "d1", "deposit", "applied", D(500), at),))
    st = b.update(now=at)
    assert (st.daily_pnl, st.peak_equity, st.drawdown) == (D(-300), D(1500), D(300))
    assert st.tripped == "daily_loss" and KillSwitch(lite).status().halted


def test_a_venue_seen_for_the_first_time_does_not_hide_a_drawdown(lite: Database) -> None:
    """Its cash is capital: it moved today's start equity but not the persisted peak, so a 10% drawdown
    vanished under the new venue's balance."""
    s = settings(**{"breaker.daily_loss": "10000", "breaker.drawdown_pct": "15"})
    b, led = _live(lite, s)
    _report(led, "1000", DAY1)
    assert b.update(now=DAY1).peak_equity == D(1000)
    _report(led, "900", DAY1 + timedelta(hours=1))
    assert b.update(now=DAY1 + timedelta(hours=1)).drawdown == D(100)
    at = DAY1 + timedelta(hours=2)
    _report(led, "500", at, venue=Venue.POLYMARKET)
    st = b.update(now=at)
    assert (st.equity, st.peak_equity, st.drawdown) == (D(1400), D(1500), D(100))


def _pair_leg(led: Ledger, execution: str, venue: Venue, market: str, side: Side, size: str, price: str) -> None:
    coid = f"c{next(_IDS)}"
    req = OrderRequest(venue, market, side, Action.BUY, D(size), D(price), TimeInForce.IOC, coid)
    led.record_intent(PreparedOrder(req, f'{{"id":"{coid}"}}'), execution_id=execution, now=DAY1)
    led.record_fills(coid, [Fill(venue, f"f-{coid}", f"v-{coid}", market, side, Action.BUY, D(size), D(price), D(0),
                                 DAY1)], now=DAY1)


@pytest.mark.parametrize(("settled_first", "yes_payout"), [("kalshi", "0"), ("kalshi", "1"), ("polymarket", "1"),
                                                           ("polymarket", "0")])
def test_a_hedged_pair_settling_one_venue_first_is_neither_a_loss_nor_a_peak(
        lite: Database, settled_first: str, yes_payout: str) -> None:
    """Found in review: the settled leg's payout was booked while its partner, now worth its own payout,
    still counted at cost, so a locked 7.50 profit read as a 60 loss (a false daily-loss trip), or the
    other way round as a 90 gain (a false peak, so a false drawdown once the second leg settled)."""
    from orion_cli.venues.trading import Settlement

    s = settings(**{"breaker.daily_loss": "50"})
    b, led, _ = make(lite, s)
    led.ensure_balance(Venue.POLYMARKET, D("500"), now=DAY1 - timedelta(minutes=1))
    # 150 YES on Kalshi at 0.40 + 150 NO of the same event on Polymarket at 0.55: one leg pays 150.
    _pair_leg(led, "exec-1", Venue.KALSHI, "KXM", Side.YES, "150", "0.40")
    _pair_leg(led, "exec-1", Venue.POLYMARKET, "0xM", Side.NO, "150", "0.55")
    start = b.update(now=DAY1 + timedelta(minutes=1))
    assert start.daily_pnl == 0
    venue, market = (Venue.KALSHI, "KXM") if settled_first == "kalshi" else (Venue.POLYMARKET, "0xM")
    led.record_settlement(Settlement(venue, market, D(yes_payout), DAY1 + timedelta(minutes=2)),
                          now=DAY1 + timedelta(minutes=2))
    st = b.update(now=DAY1 + timedelta(minutes=3))
    assert st.daily_pnl == D("7.50"), st  # the locked profit, whichever leg won and settled first
    assert st.trips == () and st.problems == () and not KillSwitch(lite).status().halted
    assert st.peak_equity == st.equity
    assert check(lite, b, DAY1 + timedelta(minutes=3)).passed
    # The next trading days open where the last one closed (found in review: the start of day was
    # taken at cost, so each new day showed the other leg's implied value as its P&L, and tripped).
    day2 = DAY1 + timedelta(days=1)
    quiet = b.update(now=day2)  # nothing changed yet: no snapshot
    assert quiet.daily_pnl == 0 and quiet.trips == (), quiet
    trade(led, Action.BUY, "1", "0.50", market="KXOTHER", now=day2 + timedelta(minutes=1))  # the day's snapshot
    busy = b.update(now=day2 + timedelta(minutes=2))
    assert busy.daily_pnl == 0 and busy.trips == () and not KillSwitch(lite).status().halted, busy
    # The other venue settles the same way: the figures do not move.
    other, other_market = (Venue.POLYMARKET, "0xM") if settled_first == "kalshi" else (Venue.KALSHI, "KXM")
    led.record_settlement(Settlement(other, other_market, D(yes_payout), day2 + timedelta(minutes=4)),
                          now=day2 + timedelta(minutes=4))
    final = b.update(now=day2 + timedelta(minutes=5))
    assert final.daily_pnl == 0 and final.drawdown == 0 and final.trips == ()


def test_a_voided_leg_says_nothing_of_its_partners_value(lite: Database) -> None:
    """A void pays no outcome (each side back at cost): its stored YES payout of 0 must not value the
    pair's other leg at 1 (150 NO bought at 0.55 read as a 67.50 gain: a false peak, then a drawdown)."""
    from orion_cli.venues.trading import Settlement

    s = settings(**{"breaker.daily_loss": "50"})
    b, led, _ = make(lite, s)
    led.ensure_balance(Venue.POLYMARKET, D("500"), now=DAY1 - timedelta(minutes=1))
    _pair_leg(led, "exec-1", Venue.KALSHI, "KXM", Side.YES, "150", "0.40")
    _pair_leg(led, "exec-1", Venue.POLYMARKET, "0xM", Side.NO, "150", "0.55")
    assert b.update(now=DAY1 + timedelta(minutes=1)).daily_pnl == 0
    led.record_settlement(Settlement(Venue.KALSHI, "KXM", D(0), DAY1 + timedelta(minutes=2), result="void",
                                     refunds=((Side.YES, D("0.40")),)), now=DAY1 + timedelta(minutes=2))
    st = b.update(now=DAY1 + timedelta(minutes=3))
    assert (st.daily_pnl, st.trips) == (0, ()), st  # refunded at cost; the partner still at cost
    assert st.peak_equity == st.equity


def test_an_unpaired_position_is_not_valued_by_another_markets_settlement(lite: Database) -> None:
    from orion_cli.venues.trading import Settlement

    s = settings(**{"breaker.daily_loss": "50"})
    b, led, _ = make(lite, s)
    _pair_leg(led, "exec-1", Venue.KALSHI, "KXM", Side.YES, "150", "0.40")
    _pair_leg(led, "exec-2", Venue.KALSHI, "KXN", Side.YES, "100", "0.50")  # another execution: no pair
    led.record_settlement(Settlement(Venue.KALSHI, "KXM", D(0), DAY1 + timedelta(minutes=2)),
                          now=DAY1 + timedelta(minutes=2))
    st = b.update(now=DAY1 + timedelta(minutes=3))
    assert st.daily_pnl == D("-60") and "daily_loss" in st.trips  # a real loss is still a loss


def test_a_bid_above_cost_is_no_peak_a_check_at_cost_reads_as_a_drawdown(lite: Database) -> None:
    """Found in review (rev1): `trade --watch` persisted the peak at its round's bids (`update(marks)`),
    while the BREAKER check of its own trades (and every single trade, reconcile) values positions at
    cost. A held leg whose bid rose (400 bought at 0.30, bid 0.60) left a peak of 1120 that the next
    check at cost read as a 10.7% drawdown: refused, then tripped by the refusal's update, with
    nothing lost. The peak is recorded at cost (or a settled partner's value) only."""
    s = _drawdown_settings()
    b, led, _ = make(lite, s, cash="1000")
    trade(led, Action.BUY, "400", "0.30")  # cash 880 + 400 contracts at cost 120: equity 1000, nothing lost
    watch = b.update({(Venue.KALSHI, "KXM", Side.YES): D("0.60")}, now=DAY1)
    assert (watch.equity, watch.trips) == (D("1120"), ())
    assert (watch.peak_equity, watch.drawdown) == (D("1000"), D("0"))
    single = Breaker(lite, s, mode="paper", ledger=led, alerts=NullAlertSink())  # no marks
    later = DAY1 + timedelta(minutes=1)
    r = check(lite, single, later)
    assert r.passed, r.detail
    assert single.update(now=later).trips == ()
    assert not KillSwitch(lite).status().halted
    # The bid falls below cost: that fall is a drawdown at marks, from the peak at cost.
    fell = b.update({(Venue.KALSHI, "KXM", Side.YES): D("0.05")}, now=later)  # 880 + 20: 10% below 1000
    assert (fell.peak_equity, fell.trips) == (D("1000"), ("drawdown",))


# -- the peak is recorded wherever equity is valued in a write, not only by update ---------------------


def test_a_peak_a_check_saw_outside_an_update_is_where_the_drawdown_is_measured_from(lite: Database) -> None:
    """Found in review (rev1): the peak was persisted only by ``update``; equity raised by a write that
    runs none (a settlement recorded by `orion balance` / a live trade's report recording, a reconcile
    run left pending or with drift, an adopted position) was seen by the pre-trade check (peak 1100)
    and forgotten: the trade's loss then measured its drawdown from the old peak (1.5%, not 10.45%),
    no trip. The checks' write transaction now records it."""
    from orion_cli.venues.trading import Settlement

    s = _drawdown_settings()
    b, led, _ = make(lite, s, cash="1000")
    trade(led, Action.BUY, "200", "0.50", market="WIN")
    assert b.update(now=DAY1).peak_equity == 1000
    led.record_settlement(Settlement(Venue.KALSHI, "WIN", D(1), DAY1), now=DAY1)  # +100: equity 1100
    later = DAY1 + timedelta(minutes=5)
    assert "(peak 1100.00)" in check(lite, b, later).detail  # the check sees the new peak...
    lose(led, "115", now=later)  # equity 985: 10.45% below 1100
    st = b.update(now=later)
    assert st.peak_equity == 1100 and st.trips == ("drawdown",), st  # ...and the update measures from it


def test_the_first_check_after_resume_breaker_rebases_the_peak_for_good(lite: Database) -> None:
    """The same gap after `orion resume --breaker`: the check rebased the peak in its view only, and the
    next update rebased it again after the trade, to the equity its loss had left: that loss was never
    measured."""
    s = _drawdown_settings()
    b, led, _ = make(lite, s, cash="1000")
    lose(led, "100")
    assert b.update(now=DAY1).trips == ("drawdown",)
    KillSwitch(lite).release(breaker=True)
    later = DAY1 + timedelta(minutes=5)
    r = check(lite, b, later)
    assert r.passed and "(peak 900.00)" in r.detail
    [reset] = events(lite, "breaker.reset")
    assert (reset["old_peak"], reset["new_peak"]) == ("1000", "900")
    lose(led, "90", now=later)  # 810: 10% below 900
    st = b.update(now=later)
    assert (st.peak_equity, st.trips) == (D("900"), ("drawdown",)), st
    assert len(events(lite, "breaker.reset")) == 1


def test_the_check_writes_nothing_unless_the_peak_rises_and_nothing_in_a_read(lite: Database) -> None:
    """The order path runs the check in every trade's write transaction: a peak that stands costs no
    statement there, and a preview (a read-only transaction) never writes."""
    from sqlalchemy import event, select

    from orion_cli.store.tables import breaker_state

    s = _drawdown_settings()
    b, led, _ = make(lite, s, cash="1000")
    writes: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        if "breaker_state" in statement and not statement.lstrip().upper().startswith("SELECT"):
            writes.append(statement)

    event.listen(lite.engine, "before_cursor_execute", seen)
    try:
        with lite.read() as conn:
            assert b.check(conn, DAY1).passed
        assert writes == []  # a preview: no row written, even the first one
        assert check(lite, b, DAY1).passed
        assert len(writes) == 1  # the first peak
        trade(led, Action.BUY, "100", "0.50", fee="1")  # equity 999: the peak stands
        assert check(lite, b, DAY1).passed and len(writes) == 1
        trade(led, Action.SELL, "100", "0.60")  # +10 realised: 1009
        assert check(lite, b, DAY1).passed and len(writes) == 2
    finally:
        event.remove(lite.engine, "before_cursor_execute", seen)
    with lite.read() as conn:
        assert conn.execute(select(breaker_state.c.peak_equity)).scalar() == D("1009")


def test_record_peak_on_a_ledger_missing_its_kill_switch_row_says_it_is_damaged(lite: Database) -> None:
    """Found in the final read: without the halt_state row, record_peak read the breaker as never written and
    inserted a second breaker_state row for the mode: an IntegrityError, "unexpected internal error" (exit 1),
    from `orion balance`, a live trade or reconcile; the pre-trade checks already say "damaged" (exit 3)."""
    from sqlalchemy import text

    from orion_cli.core.errors import StorageError
    from orion_cli.risk.breaker import record_peak

    b, led, _ = make(lite, settings())
    b.update(now=DAY1)  # the mode's breaker_state row exists
    with lite.write() as conn:
        conn.execute(text("DELETE FROM halt_state"))
    with pytest.raises(StorageError) as caught, lite.write() as conn:
        record_peak(conn, led, now=DAY1)
    assert caught.value.reason == "storage_corrupt" and "halt_state" in caught.value.message


# -- warnings: none for a kind whose trip is in force; the drawdown's comes back after its reset ----------


def test_no_daily_warning_after_the_days_daily_trip(lite: Database) -> None:
    """Found in review: after a daily trip and `orion resume`, a watch on higher bids raised a
    `breaker.warning` "84.39% used" (and its alert) after the `breaker.tripped`: the warning branch
    checked only the day's warned flag, and the trip had come with no warning before it. The day's trip
    is in force until the reset: it warns of nothing more that day."""
    s = settings()  # daily_loss 50
    b, led, sink = make(lite, s)
    trade(led, Action.BUY, "1000", "0.50")  # 500 at cost: nothing lost
    key = (Venue.KALSHI, "KXM", Side.YES)
    assert b.update({key: D("0.45")}, now=DAY1).trips == ("daily_loss",)  # 50 lost at the bid, no warning first
    KillSwitch(lite).release()
    st = b.update({key: D("0.458")}, now=DAY1 + timedelta(minutes=1))  # 42 lost: 84% of the limit
    assert (st.warnings, st.trips, st.daily_used_pct) == ((), (), D("84.00")), st
    assert events(lite, "breaker.warning") == []
    assert [k for k, _, _ in sink.emitted] == ["breaker.tripped"]
    # The next trading day is a new one: it warns again.
    next_day = DAY1 + timedelta(days=1)
    lose(led, "42", now=next_day)
    assert b.update({key: D("0.50")}, now=next_day).warnings == ("daily_loss",)


def test_no_drawdown_warning_while_its_trip_is_in_force(lite: Database) -> None:
    """The same gap for the drawdown: tripped with no warning before (one fall past the limit), a bid
    back to 80% of the limit warned while the trip still held the kill switch."""
    s = _drawdown_settings()
    b, led, sink = make(lite, s, cash="1000")
    trade(led, Action.BUY, "1000", "0.50")
    key = (Venue.KALSHI, "KXM", Side.YES)
    assert b.update({key: D("0.40")}, now=DAY1).trips == ("drawdown",)
    st = b.update({key: D("0.42")}, now=DAY1)  # 8%: 80% of the limit, the trip not released
    assert (st.warnings, st.tripped) == ((), "drawdown"), st
    assert events(lite, "breaker.warning") == [] and [k for k, _, _ in sink.emitted] == ["breaker.tripped"]


@pytest.mark.parametrize("checked_first", [False, True], ids=["update", "check-then-update"])
def test_resume_breaker_lets_the_drawdown_warn_again_the_same_day(lite: Database, checked_first: bool) -> None:
    """Found in review: warned (80%), tripped, `orion resume --breaker`: the peak was rebased but the
    once-a-day warned flag survived it, so the drawdown from the new peak reached 80% of the limit
    again that day with no warning. The rebase clears it, whether the update rebases or a trade's
    check did first (its write persists the cleared flag)."""
    s = _drawdown_settings()
    b, led, sink = make(lite, s, cash="1000")
    trade(led, Action.BUY, "1000", "0.50")  # equity 1000 at cost: the peak
    key = (Venue.KALSHI, "KXM", Side.YES)
    assert b.update({key: D("0.42")}, now=DAY1).warnings == ("drawdown",)
    assert b.update({key: D("0.40")}, now=DAY1).trips == ("drawdown",)
    KillSwitch(lite).release(breaker=True)
    later = DAY1 + timedelta(minutes=5)
    if checked_first:
        single = Breaker(lite, s, mode="paper", ledger=led, alerts=NullAlertSink())  # a trade's, no marks
        assert check(lite, single, later).passed
        assert len(events(lite, "breaker.reset")) == 1
    st = b.update({key: D("0.42")}, now=later)  # 8% below the rebased peak (1000 at cost)
    assert (st.warnings, st.trips, st.peak_equity) == (("drawdown",), (), D("1000")), st
    assert len(events(lite, "breaker.warning")) == 2
    assert [k for k, _, _ in sink.emitted] == ["breaker.warning", "breaker.tripped", "breaker.warning"]
    assert b.update({key: D("0.42")}, now=later).warnings == ()  # once again per day from here


def test_an_update_says_its_warnings_in_the_words_audited(lite: Database) -> None:
    """What `trade` and the watch print (``warning_messages``) is the audited message, kind by kind."""
    b, led, _ = make(lite, settings())
    lose(led, "40")
    st = b.update(now=DAY1)
    [audited] = events(lite, "breaker.warning")
    assert st.warning_messages == (("daily_loss", audited["message"]),)
    assert audited["message"] == ("paper loss breaker warning: daily loss 40.00 of limit 50.00 (80.00% used, "
                                  "breaker.daily_loss)")


# -- a changed reset hour (the trading day is the ledger's recorded one, keyed by its start) ---------


def _hour(db: Database, hour: int, *, led: Ledger | None = None) -> tuple[Breaker, Ledger]:
    """The breaker and ledger of a process configured with reset hour ``hour`` (another process, or the
    same after a config edit)."""
    s = settings(**{"breaker.reset_hour_utc": hour})
    led = led or Ledger(db, "paper", reset_hour_utc=hour)
    return Breaker(db, s, mode="paper", ledger=led, alerts=NullAlertSink()), led


def test_a_daily_trip_in_force_outlasts_a_change_of_reset_hour_to_the_end_it_promised(lite: Database) -> None:
    """Found in review: reset hour 12, a trip at 05:00 promised "resets at 12:00"; switched to hour 0 at
    06:00, the day became another date label with no trip and no snapshot: BREAKER passed, the loss
    read 0, and as much could be lost again. The recorded day stands until its end."""
    trip_at = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    b, led, _ = make(lite, settings(**{"breaker.reset_hour_utc": 12}), now=trip_at - timedelta(hours=30))
    lose(led, "50", now=trip_at)
    assert b.update(now=trip_at).trips == ("daily_loss",)
    KillSwitch(lite).release()
    later = trip_at + timedelta(hours=1)
    b0, led0 = _hour(lite, 0)
    r = check(lite, b0, later)
    assert not r.passed and r.detail == (
        "daily loss 50.00 >= limit 50.00 (breaker.daily_loss); daily loss breaker tripped in the trading day that "
        "began 2026-11-21 12:00 UTC; it resets at 2026-11-22 12:00 UTC")
    st = b0.status(now=later)
    assert (st.daily_loss, st.start_equity) == (D("50"), D("10000"))
    assert st.reset_change == (
        "breaker.reset_hour_utc is 0, but the trading day that began 2026-11-21 12:00 UTC was recorded under "
        "another reset hour: it ends at 2026-11-22 12:00 UTC, and the new hour takes effect then (the next "
        "trading day runs from 2026-11-22 12:00 UTC to 2026-11-23 00:00 UTC)")
    from orion_cli.risk.breaker import daily_trip_until

    assert daily_trip_until(lite, "paper", 0, later) == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    # A loss recorded by the new-hour process counts in the same day: no second limit's worth.
    lose(led0, "10", now=later)
    assert b0.status(now=later).daily_loss == 60
    # At the promised end, the day in between: 12:00 to the new hour's 00:00, from its own start.
    end = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert check(lite, b0, end).passed
    st = b0.update(now=end)
    assert (st.daily_loss, st.tripped, st.reset_change) == (0, None, None)
    assert st.trading_day is not None and (st.trading_day.start, st.trading_day.end) == (
        end, datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    # From there on, the new hour's own days.
    assert led0.current_day(datetime(2026, 11, 23, 5, 0, tzinfo=UTC)).start == datetime(2026, 11, 23, 0, 0,
                                                                                         tzinfo=UTC)


def test_a_past_days_trip_never_comes_back_under_another_reset_hour(lite: Database) -> None:
    """Found in review: a trip at 10:00 under hour 0 (ended at midnight); the next day at 12:00 with hour 13
    the window was labelled with the trip's date again: "tripped today (…)", every trade refused and
    the old loss shown as today's."""
    b, led, _ = make(lite, settings())
    trip_at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    lose(led, "50", now=trip_at)
    assert b.update(now=trip_at).trips == ("daily_loss",)
    KillSwitch(lite).release()
    b13, _ = _hour(lite, 13)
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    r = check(lite, b13, noon)
    assert r.passed, r.detail
    st = b13.update(now=noon)
    assert (st.daily_loss, st.tripped, st.problems) == (0, None, ())
    # The day after the trip's: from its end (00:00) to hour 13's next boundary, 13 hours.
    assert st.trading_day is not None and (st.trading_day.start, st.trading_day.end) == (
        datetime(2026, 11, 24, 0, 0, tzinfo=UTC), datetime(2026, 11, 24, 13, 0, tzinfo=UTC))


def test_a_trip_says_when_its_trading_day_began_not_a_date_that_reads_as_yesterday(lite: Database) -> None:
    """Found in review: with reset hour 13 a trip at 12:30 said "tripped today (2026-11-23)" on the 24th."""
    at = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    b, led, _ = make(lite, settings(**{"breaker.reset_hour_utc": 13}), now=at)
    lose(led, "50", now=at)
    st = b.update(now=at)
    assert st.problems[-1] == ("daily loss breaker tripped in the trading day that began 2026-11-23 13:00 UTC; "
                               "it resets at 2026-11-24 13:00 UTC")


def test_a_warning_records_its_day_so_another_hour_does_not_warn_again_within_it(lite: Database) -> None:
    """A warning keyed to a day nothing recorded (the loss at marks alone, no fill that day) would be
    keyed to another day by a process with another hour, and warned again within the same hours."""
    s = settings(**{"breaker.reset_hour_utc": 12})
    at = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    b, led, _ = make(lite, s, now=at - timedelta(days=2))
    trade(led, Action.BUY, "100", "0.50", now=at - timedelta(days=2))
    marks = {(Venue.KALSHI, "KXM", Side.YES): D("0.10")}  # 40 of the 50 limit: a warning
    assert b.update(marks, now=at).warnings == ("daily_loss",)
    b0, _ = _hour(lite, 0)
    assert b0.update(marks, now=at + timedelta(hours=1)).warnings == ()


def test_an_update_that_changes_nothing_writes_nothing(lite: Database) -> None:
    """Found in a soak: every round of a quiet `trade --watch 1` rewrote the breaker's row (its updated_at
    alone), some 16 KB a second of the database's journal. Figures that change nothing write nothing;
    a warning (a change) is still written."""
    from sqlalchemy import select

    from orion_cli.store.tables import breaker_state

    s = settings()
    b, led, _ = make(lite, s)
    lose(led, "10")
    b.update(now=DAY1)

    def stored() -> Any:
        with lite.read() as conn:
            return conn.execute(select(breaker_state).where(breaker_state.c.mode == "paper")).one()

    first = stored()
    assert b.update(now=DAY1 + timedelta(minutes=5)).warnings == ()
    assert stored() == first  # updated_at included: no write
    lose(led, "30")  # 40 of 50: a warning, recorded with its day
    assert b.update(now=DAY1 + timedelta(minutes=6)).warnings == ("daily_loss",)
    after = stored()
    assert after.warned_day is not None and after.updated_at != first.updated_at


def test_the_settled_partners_of_held_legs_are_found_by_index_seeks(lite: Database) -> None:
    """Found reviewing a year-old ledger: the settled partners of the held legs were read in one join, which
    SQLite's planner (no statistics) ran, from four held executions on, as every settlement times every
    order of its venue: 45 s on 3,700 executions, minutes a year on, in every breaker figure (positions,
    balance, reconcile, each trade's checks under the writers' lock, so `orion halt` timed out behind it).
    Every lookup must seek an index by what it is given; and the figure is still the right one."""
    from sqlalchemy import event

    from orion_cli.store.ledger import settled_pair_values
    from orion_cli.venues.trading import Settlement

    led = Ledger(lite, "paper")
    for venue in Venue:
        led.ensure_balance(venue, D(100000), now=DAY1 - timedelta(minutes=1))
    for i in range(30):  # a history: closed pairs whose markets settled
        _pair_leg(led, f"old-{i}", Venue.KALSHI, f"KXOLD{i}", Side.YES, "10", "0.40")
        _pair_leg(led, f"old-{i}", Venue.POLYMARKET, f"0xOLD{i}", Side.NO, "10", "0.55")
        for venue, market in ((Venue.KALSHI, f"KXOLD{i}"), (Venue.POLYMARKET, f"0xOLD{i}")):
            led.record_settlement(Settlement(venue, market, D(1), DAY1), now=DAY1)
    held = []
    for i in range(6):  # six pairs held, the first one's Kalshi leg settled (YES won: its NO partner pays 0)
        _pair_leg(led, f"new-{i}", Venue.KALSHI, f"KXNEW{i}", Side.YES, "10", "0.40")
        _pair_leg(led, f"new-{i}", Venue.POLYMARKET, f"0xNEW{i}", Side.NO, "10", "0.55")
        held += [(Venue.KALSHI, f"KXNEW{i}", Side.YES), (Venue.POLYMARKET, f"0xNEW{i}", Side.NO)]
    led.record_settlement(Settlement(Venue.KALSHI, "KXNEW0", D(1), DAY1), now=DAY1)
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_a: Any) -> None:
        statements.append((statement, parameters))

    with lite.read() as conn:
        event.listen(lite.engine, "before_cursor_execute", seen)
        try:
            values = settled_pair_values(conn, "paper", held)
        finally:
            event.remove(lite.engine, "before_cursor_execute", seen)
        plans = [row[-1] for statement, parameters in statements
                 for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()]
    assert values == {(Venue.POLYMARKET, "0xNEW0", Side.NO): D(0)}
    assert len(statements) >= 2 and plans, statements
    for plan in plans:
        assert not plan.startswith("SCAN"), plans
        if plan.startswith("SEARCH orders"):
            assert "ix_orders_execution" in plan or "ix_orders_mode_market" in plan, plans
        if plan.startswith("SEARCH settlements"):
            assert "(mode=? AND venue=? AND market_id=?)" in plan, plans


def test_a_paper_trip_halts_paper_trading_and_leaves_live_trading_alone(lite: Database) -> None:
    """Found reviewing paper against live on one ledger: a paper drill's daily-loss trip halted live trading
    too (and between a live trade's legs, its first leg sold back at a real loss)."""
    s = settings()
    b, led, _ = make(lite, s)
    lose(led, "50")
    assert b.update(now=DAY1).trips == ("daily_loss",)
    assert KillSwitch(lite, mode="paper").status(trading=True).halted
    halt = KillSwitch(lite, mode="live").status(trading=True)
    assert not halt.halted, halt
    from orion_cli.risk.halt import status_of
    from orion_cli.store.tables import halt_state

    with lite.read() as conn:
        row = conn.execute(halt_state.select()).one()
    assert status_of(row, mode="paper").scope == "paper" and not status_of(row, mode="live").halted


def test_a_paper_drawdown_halt_does_not_hold_back_the_rebase_of_a_released_live_drawdown_trip(
        lite: Database) -> None:
    """A live drawdown trip released with --breaker is rebased at the live breaker's next update. A paper
    drawdown halt engaged in between is no halt of live trading: it must not keep the live peak."""
    s = _drawdown_settings()
    led = Ledger(lite, "live", reset_hour_utc=s.breaker.reset_hour_utc)
    led.record_balance(Balance(Venue.KALSHI, "live", D("1000"), D(0), D("1000"), DAY1 - timedelta(minutes=2)),
                       now=DAY1 - timedelta(minutes=2))
    live = Breaker(lite, s, mode="live", ledger=led, alerts=NullAlertSink())
    assert live.update(now=DAY1).peak_equity == 1000
    led.record_balance(Balance(Venue.KALSHI, "live", D("880"), D(0), D("880"), DAY1), now=DAY1)  # 12% down
    assert live.update(now=DAY1).trips == ("drawdown",)
    KillSwitch(lite, mode="live").release(breaker=True)
    KillSwitch(lite, mode="paper").engage("paper drawdown tripped", kind="drawdown", automatic=True)
    st = live.update(now=DAY1 + timedelta(minutes=1))
    assert st.peak_equity == 880 and st.tripped is None and st.ok, st
