"""The executor's tick searches against brute force over every valid price: the unwind sell's lowest
price within its loss bound (``_min_sell_price``) and a hedge retry's highest affordable price
(``_highest_price``), on Kalshi's tapered grid and Polymarket's uniform ones.

Found in review: the unwind's walk stepped by ``step_at``, the step of the first range holding a
price, so on Kalshi's tapered grid it went 0.90 → 0.91 and never tried 0.901–0.909: selling 100 bought
at 0.95 with $5 of loss allowed was limited at 0.91 where 0.906 was within the bound, and an unwind
the book could fill at 0.906 failed."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

from execution import execution_kit as kit
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orion_cli.core.fees import FeeModel
from orion_cli.core.models import TickStructure, Venue
from orion_cli.execution import executor as executor_mod
from orion_cli.venues.kalshi.parse import PRICE_LEVEL_STRUCTURES

TAPERED = TickStructure(PRICE_LEVEL_STRUCTURES["tapered_deci_cent"])


def leg(venue: Venue, ticks: TickStructure, fee_model: FeeModel) -> executor_mod.LegSpec:
    plan_leg = next(x for x in kit.make_plan().legs if x.venue is venue)
    return dataclasses.replace(executor_mod.LegSpec.from_plan(1, plan_leg), ticks=ticks, fee_model=fee_model)


def every_valid(ticks: TickStructure) -> list[D]:
    """Every valid price, by brute force over the finest grid any of these structures uses."""
    return [p for p in (D(i) / 10000 for i in range(1, 10000)) if ticks.is_valid(p)]


KALSHI = leg(Venue.KALSHI, TAPERED, FeeModel.kalshi())
SPECS = {
    "kalshi tapered": KALSHI,
    "kalshi deci-cent": dataclasses.replace(KALSHI, ticks=TickStructure(PRICE_LEVEL_STRUCTURES["deci_cent"])),
    "polymarket 0.01": leg(Venue.POLYMARKET, TickStructure.uniform(D("0.01")), FeeModel.polymarket(D("0.03"))),
    "polymarket 0.001": leg(Venue.POLYMARKET, TickStructure.uniform(D("0.001")), FeeModel.polymarket(D("0.03"))),
}
VALID = {name: every_valid(spec.ticks) for name, spec in SPECS.items()}


def sell_loss(spec: executor_mod.LegSpec, qty: D, unit_cost: D, price: D) -> D:
    return qty * unit_cost - (qty * price - spec.fee_model.fill_fee(qty, price))


def test_the_unwind_sell_limit_is_not_pushed_past_the_ticks_above_a_boundary() -> None:
    """The reviewer's case: 0.906 loses 95 − 90.6 + fee 0.5962 = $4.9962, within the bound; 0.905 loses
    95 − 90.5 + 0.6019 = $5.1019, over it. The walk used to try 0.90 and then 0.91."""
    assert executor_mod._min_sell_price(KALSHI, D(100), D("0.95"), D(5)) == D("0.906")


# Where the bound puts the sell's break-even price (unit cost − bound / qty): anywhere, and often just
# under a boundary of the tapered grid, where the fee pushes the answer across it.
FLOORS = st.one_of(st.decimals(min_value=D("0.87"), max_value=D("0.92"), places=4),
                   st.decimals(min_value=D("0.07"), max_value=D("0.12"), places=4),
                   st.decimals(min_value=D("-0.05"), max_value=D("0.999"), places=4))


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(SPECS)), qty=st.integers(min_value=1, max_value=2000), floor=FLOORS,
       markup=st.decimals(min_value=D(0), max_value=D("0.2"), places=3))
# Bought at 0.8938, nothing to lose: 0.90 nets 0.8937 after its $0.0063 fee, 0.901 nets 0.8947 (the old
# walk went 0.90 → 0.91).
@example(name="kalshi tapered", qty=1, floor=D("0.8938"), markup=D(0))
@example(name="kalshi tapered", qty=100, floor=D("0.90"), markup=D("0.05"))  # the reviewer's: 0.906
def test_the_unwind_sell_limit_is_the_lowest_valid_tick_within_the_loss_bound(
        name: str, qty: int, floor: D, markup: D) -> None:
    spec = SPECS[name]
    q = D(qty)
    unit_cost = min(max(floor, D("0.001")) + markup, D("0.999"))
    max_loss = max(D(0), q * (unit_cost - floor))
    expected = next((p for p in VALID[name] if sell_loss(spec, q, unit_cost, p) <= max_loss), None)
    assert executor_mod._min_sell_price(spec, q, unit_cost, max_loss) == expected


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(SPECS)), cash_out=st.booleans(),
       size=st.integers(min_value=1, max_value=2000),
       budget=st.decimals(min_value=D("0.5"), max_value=D(2000), places=2),
       ceiling=st.decimals(min_value=D("0.01"), max_value=D(1), places=3))
def test_a_hedge_retry_price_is_the_highest_valid_tick_within_budget_and_ceiling(
        name: str, cash_out: bool, size: int, budget: D, ceiling: D) -> None:
    spec = SPECS[name]
    s = D(size)
    fits = [p for p in VALID[name]
            if p <= ceiling and executor_mod._buy_cost(spec, s, p, cash_out=cash_out) <= budget]
    expected = fits[-1] if fits else None
    assert executor_mod._highest_price(spec, s, budget, ceiling, cash_out=cash_out) == expected


def test_a_fee_free_unwind_may_sell_at_exactly_its_loss_bound() -> None:
    """Mutation audit: a loss *equal* to max_unwind_loss is within it (limits are inclusive), which only a
    fee-free market (most of Polymarket's) reaches exactly: 10 bought at 0.50 with 0.30 of loss allowed
    sell at 0.47, not 0.48. Starting the walk above the bound's price, or taking only losses under the
    bound, passed every test; a sell priced a tick too high may not fill, and the unwind then halts."""
    free = leg(Venue.POLYMARKET, TickStructure.uniform(D("0.01")), FeeModel.free())
    assert executor_mod._min_sell_price(free, D(10), D("0.50"), D("0.30")) == D("0.47")
    assert sell_loss(free, D(10), D("0.50"), D("0.47")) == D("0.30")
