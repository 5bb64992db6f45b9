"""What the plan's levels cost for a quantity: the exact basis of every slippage figure.

The plan here walked 140 @ 0.80 and 160 @ 0.81 (the demo's Kalshi NO book for 300 contracts): 241.60,
an average of 0.80533… that the plan stores rounded up to 0.805334.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from orion_cli.core.models import PriceLevel
from orion_cli.execution.slippage import levels_from_record, levels_record, planned_cost

PLAN = (PriceLevel(D("0.80"), D("140")), PriceLevel(D("0.81"), D("160")))


def test_the_whole_planned_size_costs_exactly_what_the_plan_walked() -> None:
    assert planned_cost(PLAN, D("300")) == D("241.60")
    assert D("241.60") - planned_cost(PLAN, D("300")) == 0  # a fill at plan: slippage exactly 0, not -0.0002


def test_one_tick_worse_on_every_level_is_the_exact_extra_cost() -> None:
    paid = D("140") * D("0.81") + D("160") * D("0.82")  # 244.60
    assert paid - planned_cost(PLAN, D("300")) == D("3.00")  # 0.01 × 300, not 0.009999 × 300


@pytest.mark.parametrize(("quantity", "cost"), [
    ("140", "112.00"),  # the cheapest level alone: a partial fill there is at plan, not an improvement
    ("100", "80.00"),
    ("200", "160.60"),  # 140 @ 0.80 + 60 @ 0.81
])
def test_a_partial_fill_is_compared_with_the_cheapest_planned_levels(quantity: str, cost: str) -> None:
    assert planned_cost(PLAN, D(quantity)) == D(cost)


def test_a_later_order_of_the_leg_is_compared_with_the_levels_the_earlier_ones_left() -> None:
    assert planned_cost(PLAN, D("160"), after=D("140")) == D("129.60")  # the retry after a 140 fill: all at 0.81
    assert planned_cost(PLAN, D("100"), after=D("100")) == D("40") * D("0.80") + D("60") * D("0.81")
    # The leg's orders add up to the leg against its plan.
    assert planned_cost(PLAN, D("140")) + planned_cost(PLAN, D("160"), after=D("140")) == D("241.60")


def test_contracts_beyond_the_planned_levels_are_compared_at_the_worst_planned_price() -> None:
    assert planned_cost(PLAN, D("301.5")) == D("241.60") + D("1.5") * D("0.81")  # an overfill
    assert planned_cost(PLAN, D("2"), after=D("310")) == D("1.62")


def test_levels_are_taken_cheapest_first_whatever_their_recorded_order() -> None:
    assert planned_cost(tuple(reversed(PLAN)), D("140")) == D("112.00")


def test_no_recorded_levels_is_no_planned_cost() -> None:
    assert planned_cost((), D("10")) is None


def test_levels_round_trip_exactly_and_an_older_plan_has_none() -> None:
    rec = levels_record(PLAN)
    assert rec == [["0.80", "140"], ["0.81", "160"]]
    assert levels_from_record(rec) == PLAN
    assert levels_from_record(None) == ()
