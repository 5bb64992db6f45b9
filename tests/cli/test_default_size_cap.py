"""A trade's default size when an order limit cuts the scanned size: the most ORDER_NOTIONAL and
ORDER_CONTRACTS themselves let through, judged on the plan of that size, and not one size step more."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from orion_cli.cli.app import app as orion_app
from orion_cli.cli.commands.trade.sizing import size_within_limits
from orion_cli.core.config import load_settings
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, TickStructure, Venue
from orion_cli.core.opportunity import Opportunity
from orion_cli.core.pricing import price_pair
from orion_cli.execution.executor import build_plan
from orion_cli.risk.checks import check_contracts, check_notional

D = Decimal
NOW = datetime(2026, 6, 11, 12, 0, 0, tzinfo=UTC)


def _market(venue: Venue, mid: str, fee: FeeModel, step: Decimal, minimum: Decimal) -> Market:
    return Market(venue=venue, id=mid, event_id="E", title="t", status=MarketStatus.OPEN,
                  close_time=NOW + timedelta(days=30), fee_model=fee, ticks=TickStructure.uniform(D("0.01")),
                  size_step=step, min_size=minimum, yes_token=f"{mid}-yes", no_token=f"{mid}-no")


def _limit_results(op: Opportunity, fresh: dict[Any, Any], size: Decimal, limits: Any) -> list[bool]:
    """ORDER_NOTIONAL and ORDER_CONTRACTS, the checks themselves, on each leg of the plan of ``size``."""
    plan = build_plan(op, fresh, size=size, key="k", settings=limits, now=NOW)
    assert plan.size == size, (plan.size, size)  # every size up to the scanned one fills on these books
    ctx = SimpleNamespace(settings=limits)
    return [check(leg, i, ctx, None).passed for i, leg in enumerate(plan.legs)  # type: ignore[arg-type]
            for check in (check_notional, check_contracts)]


cents = st.integers(min_value=1, max_value=99).map(lambda c: D(c) / 100)
hundredths = st.integers(min_value=1, max_value=300_000).map(lambda c: D(c) / 100)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(
    ladder=st.lists(st.tuples(st.integers(min_value=5, max_value=90), hundredths), min_size=1, max_size=4,
                    unique_by=lambda t: t[0]),
    other=st.lists(st.tuples(st.integers(min_value=1, max_value=40), hundredths), min_size=1, max_size=3,
                   unique_by=lambda t: t[0]),
    other_venue=st.sampled_from([Venue.POLYMARKET, Venue.KALSHI]),
    poly_rate=st.sampled_from([D(0), D("0.01"), D("0.04"), D("0.05"), D("0.07")]),
    kalshi_multiplier=st.sampled_from([D(1), D("0.5"), D(2)]),
    kalshi_step=st.sampled_from([D("0.01"), D(1)]),
    minimum=st.sampled_from([D("0.01"), D(1), D(5)]),
    notional=st.integers(min_value=100, max_value=50_000).map(lambda c: D(c) / 100),
    contracts=st.one_of(st.just(D(10) ** 6), st.integers(min_value=1, max_value=500_000).map(lambda c: D(c) / 100)),
)
# The reviewer's case: NO asks 0.50 x 100 and 0.90 x 2000 against a 0.06 ask, $100 notional: the average
# fee per contract of the scanned 2100 cut it to 110.21, whose cheapest-level fees made it $101.01.
@example(ladder=[(50, D(100)), (90, D(2000))], other=[(6, D(5000))], other_venue=Venue.POLYMARKET,
         poly_rate=D("0.05"), kalshi_multiplier=D(1), kalshi_step=D("0.01"), minimum=D("0.01"),
         notional=D(100), contracts=D(1000))
def test_the_default_size_is_the_most_the_checks_let_through(
        ladder: list[tuple[int, Decimal]], other: list[tuple[int, Decimal]], other_venue: Venue, poly_rate: Decimal,
        kalshi_multiplier: Decimal, kalshi_step: Decimal, minimum: Decimal, notional: Decimal,
        contracts: Decimal) -> None:
    km = _market(Venue.KALSHI, "KX-A", FeeModel.kalshi(multiplier=kalshi_multiplier), kalshi_step, minimum)
    if other_venue is Venue.POLYMARKET:
        om = _market(Venue.POLYMARKET, "0xb", FeeModel.polymarket(poly_rate), D("0.01"), minimum)
    else:  # two Kalshi ladders: both orders' cash rounded up to the cent, fees per level
        om = _market(Venue.KALSHI, "KX-B", FeeModel.kalshi(multiplier=kalshi_multiplier), D("0.01"), minimum)
    kb = OrderBook(Venue.KALSHI, km.id, BookSide(),
                   BookSide.build([], [PriceLevel(D(c) / 100, q) for c, q in ladder]), NOW)
    ob = OrderBook(other_venue, om.id, BookSide.build([], [PriceLevel(D(c) / 100, q) for c, q in other]),
                   BookSide(), NOW)
    opps = price_pair(km, kb, om, ob, inverted=False, now=NOW)
    event("priced" if opps else "no opportunity")
    if not opps:
        return
    op = opps[0]
    limits = load_settings(overrides={"limits.order_notional": str(notional), "limits.order_contracts": str(contracts)})
    fresh = {(km.venue, km.id): (km, kb), (om.venue, om.id): (om, ob)}

    limited = size_within_limits(op, limits, lambda: [km, om])
    event(f"binding {limited.binding}, {'unfit' if limited.size is None else 'fits'}")
    grid = limited.step or max(kalshi_step, D("0.01"))
    if limited.size is None:  # nothing the legs trade fits: the smallest of them is refused
        assert limited.allowed < limited.smallest
        if limited.smallest <= op.size:
            assert not all(_limit_results(op, fresh, limited.smallest, limits))
        return
    assert all(_limit_results(op, fresh, limited.size, limits)), (limited, op.size)
    if limited.size + grid <= op.size:
        assert not all(_limit_results(op, fresh, limited.size + grid, limits)), (limited, op.size)
    else:
        assert limited.size == op.size and limited.binding is None


def test_a_trade_cut_to_the_order_notional_passes_it(fee_heavy_cheap_levels: Path,
                                                     monkeypatch: Any) -> None:
    """Found by a reviewer: the default size cut to limits.order_notional at the scanned size's average
    fee per contract (110.21 of 2100) was refused by ORDER_NOTIONAL ($101.01 > $100), exit 6; the cut
    size's cheapest levels pay more in fees per contract. The cut is the check's own most: 109.1, whose
    Kalshi order is $99.9974, $100.00 to the cent."""
    monkeypatch.setenv("ORION__LIMITS__ORDER_CONTRACTS", "1000")
    snap = str(fee_heavy_cheap_levels)
    runner = CliRunner()
    scan = runner.invoke(orion_app, ["scan", "--snapshot", snap, "--jsonl"])
    assert scan.exit_code == 0, scan.stderr
    [op_id] = [r["id"] for r in map(json.loads, scan.stdout.splitlines()) if r.get("strategy") == "cross_direct"]
    result = runner.invoke(orion_app, ["trade", op_id, "--snapshot", snap, "--confirm", "--jsonl"])
    assert result.exit_code == 0, result.stderr
    assert "size 109.1 (scanned 2100, capped by limits.order_notional $100; --size to choose)" in result.stderr
    execution = json.loads(result.stdout.splitlines()[-1])
    assert execution["status"] == "done", execution
    assert [o["size"] for o in execution["orders"]] == ["109.1", "109.1"]
    notional = [c for c in execution["checks"] if c["name"] == "ORDER_NOTIONAL"]
    assert notional[0]["passed"] and notional[0]["detail"].startswith("cost+fees 100.00 (99.9974 "), notional
