"""Deposits and withdrawals: capital counted once, with the first venue report that holds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from orion_cli.core.errors import DataError
from orion_cli.core.models import Venue
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.trading import Balance, Transfer

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LIMITS = {"daily_loss": D(10_000), "daily_loss_pct": D(100)}


def report(total: str, at: datetime, venue: Venue = Venue.KALSHI) -> Balance:
    return Balance(venue, "live", D(total), D(0), D(total), at)


def deposit(tid: str, amount: str, at: datetime, *, status: str = "applied") -> Transfer:
    return Transfer(Venue.KALSHI, tid, "deposit", status, D(amount), at, method="ach")


def withdrawal(tid: str, amount: str, at: datetime, *, status: str = "applied") -> Transfer:
    return Transfer(Venue.KALSHI, tid, "withdrawal", status, -D(amount), at, method="wire")


def record(led: Ledger, moved: list[Transfer], rep: Balance) -> list[D]:
    """As record_reports does: the transfers, then the report, in one transaction."""
    with led.db.write() as conn:
        counted = led.record_transfers(moved, rep, conn=conn, now=rep.as_of)
        led.record_balance(rep, conn=conn, now=rep.as_of)
    return [c.capital for c in counted]


def pnl(led: Ledger, at: datetime) -> tuple[D, D, D]:
    p = led.daily_pnl(**LIMITS, now=at)
    return p.start_equity, p.equity, p.pnl


def capital_events(db: Database) -> list[dict[str, Any]]:
    return [e.payload for e in AuditLog(db).tail(50, types=("capital.transfer",))]


@pytest.fixture
def led(db: Database) -> Ledger:
    ledger = Ledger(db, "live")
    ledger.record_balance(report("1000", T0), now=T0)  # the venue's first report: capital as a whole
    return ledger


def test_a_deposit_the_report_holds_is_capital_not_profit(led: Ledger, db: Database) -> None:
    at = T0 + timedelta(hours=1)
    assert record(led, [deposit("d1", "500", at - timedelta(minutes=5))], report("1500", at)) == [D(500)]
    assert pnl(led, at) == (D(1500), D(1500), D(0))
    (event,) = capital_events(db)
    assert (event["id"], event["kind"], event["amount"], event["capital"]) == ("d1", "deposit", "500", "500")
    # Listed again with every later report: counted once.
    later = at + timedelta(hours=1)
    assert record(led, [deposit("d1", "500", at - timedelta(minutes=5))], report("1500", later)) == []
    assert pnl(led, later) == (D(1500), D(1500), D(0)) and len(capital_events(db)) == 1


def test_a_withdrawal_is_capital_and_a_fee_taken_with_it_stays_a_loss(led: Ledger) -> None:
    at = T0 + timedelta(hours=1)
    # 600 out, and the venue took a 2.50 fee from the balance too: the fee is the day's loss.
    assert record(led, [withdrawal("w1", "600", at)], report("397.50", at)) == [D(-600)]
    assert pnl(led, at) == (D(400), D("397.50"), D("-2.50"))


def test_a_transfer_finalized_after_the_report_waits_for_the_report_that_holds_it(led: Ledger) -> None:
    at = T0 + timedelta(hours=1)
    pending = deposit("d1", "500", at + timedelta(seconds=1))  # the report was taken before it landed
    assert record(led, [pending], report("1000", at)) == []
    assert pnl(led, at) == (D(1000), D(1000), D(0))
    later = at + timedelta(minutes=1)
    assert record(led, [pending], report("1500", later)) == [D(500)]
    assert pnl(led, later) == (D(1500), D(1500), D(0))


def test_a_transfer_the_stored_figure_already_held_is_remembered_not_counted(db: Database) -> None:
    """Finalized before the venue's first report (or before a report recorded without it): that figure
    already holds it, so counting it again would make a loss of it."""
    ledger = Ledger(db, "live")
    first = deposit("d0", "1000", T0 - timedelta(days=3))
    assert record(ledger, [first], report("1000", T0)) == []  # the first report: capital as a whole
    at = T0 + timedelta(hours=1)
    assert record(ledger, [first], report("1000", at)) == []
    assert pnl(ledger, at) == (D(1000), D(1000), D(0))
    # Its return later takes that capital back out (found in review: it read as a 1000 loss).
    back = T0 + timedelta(hours=2)
    assert record(ledger, [deposit("d0", "1000", back, status="returned")], report("0", back)) == [D(-1000)]
    assert pnl(ledger, back) == (D(0), D(0), D(0))


def test_a_returned_transfer_undoes_what_it_counted(led: Ledger, db: Database) -> None:
    at = T0 + timedelta(hours=1)
    assert record(led, [deposit("d1", "500", at)], report("1500", at)) == [D(500)]
    back = at + timedelta(hours=1)
    assert record(led, [deposit("d1", "500", back, status="returned")], report("1000", back)) == [D(-500)]
    assert pnl(led, back) == (D(1000), D(1000), D(0))
    assert [e["status"] for e in capital_events(db)] == ["applied", "returned"]
    # Listed as returned from now on: undone once.
    assert record(led, [deposit("d1", "500", back, status="returned")], report("1000", back + timedelta(hours=1))) == []


def test_a_deposit_and_its_return_both_after_the_last_report_cancel_out(led: Ledger) -> None:
    """Seen only once returned: the cash never showed it to orion, so there is nothing to count."""
    at = T0 + timedelta(hours=1)
    assert record(led, [deposit("d1", "500", at, status="returned")], report("1000", at)) == []
    assert pnl(led, at) == (D(1000), D(1000), D(0))


def test_the_same_id_as_a_deposit_and_a_withdrawal_are_two_transfers(led: Ledger) -> None:
    at = T0 + timedelta(hours=1)
    assert record(led, [deposit("x", "300", at), withdrawal("x", "100", at)], report("1200", at)) == [D(300),
                                                                                                        D(-100)]
    assert pnl(led, at) == (D(1200), D(1200), D(0))


def test_another_venues_transfer_is_refused(led: Ledger) -> None:
    with pytest.raises(DataError):
        record(led, [deposit("d1", "5", T0 + timedelta(hours=1))], report("5", T0 + timedelta(hours=1),
                                                                          Venue.POLYMARKET))


def test_a_transfer_must_say_which_way_it_moved() -> None:
    with pytest.raises(ValueError):
        Transfer(Venue.KALSHI, "d", "deposit", "applied", D(-5), T0)
    with pytest.raises(ValueError):
        Transfer(Venue.KALSHI, "w", "withdrawal", "applied", D(5), T0)
    with pytest.raises(ValueError):
        Transfer(Venue.KALSHI, "d", "deposit", "pending", D(5), T0)


def test_the_boundaries_are_the_reports_seconds(led: Ledger) -> None:
    """Kalshi states both times in whole seconds: finalized at the report's own second is held by it;
    at the stored report's second, by the stored one."""
    at = T0 + timedelta(hours=1)
    assert record(led, [deposit("d1", "500", at), deposit("d0", "7", T0)], report("1500", at)) == [D(500)]
    assert pnl(led, at) == (D(1500), D(1500), D(0))


def test_a_report_older_than_the_stored_one_is_not_recorded(led: Ledger) -> None:
    """Found in review: a trade recorded the newer report with its deposit; a reconcile that had read
    the venue earlier then recorded its older report, without the deposit: a 500 false loss."""
    newer, older = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    assert record(led, [deposit("d1", "500", newer)], report("1500", newer)) == [D(500)]
    assert record(led, [deposit("d1", "500", newer)], report("1000", older)) == []
    bal = led.balance(Venue.KALSHI)
    assert bal is not None and (bal.total, bal.as_of) == (D(1500), newer)
    assert pnl(led, newer) == (D(1500), D(1500), D(0))


@pytest.mark.parametrize(("way", "total"), [(deposit, "1500"), (withdrawal, "900")])
def test_capital_dated_before_a_day_another_writer_recorded_counts_in_that_days_start(
        led: Ledger, way: Any, total: str) -> None:
    # A run whose clock was read before the reset records the transfer after another process recorded
    # the next trading day (its first fill): the cash must be in that day's start equity too, or the
    # day counts a deposit as profit and a withdrawal as a loss the breaker trips on.
    next_day = led.current_day(T0).end
    moved = way("t1", "500" if way is deposit else "100", next_day - timedelta(seconds=30))
    with led.db.write() as conn:
        led.ensure_day(conn, next_day + timedelta(seconds=1))
    run_clock = next_day - timedelta(seconds=2)
    with led.db.write() as conn:
        led.record_transfers([moved], report(total, next_day + timedelta(seconds=3)), conn=conn, now=run_clock)
        led.record_balance(report(total, next_day + timedelta(seconds=3)), conn=conn, now=run_clock)
    assert pnl(led, next_day + timedelta(minutes=1)) == (D(total), D(total), D(0))
    assert pnl(led, run_clock) == (D(total), D(total), D(0))  # the day it was dated in counts it too
