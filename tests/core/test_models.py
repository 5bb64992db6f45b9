"""Venue rules the model states once for everything that sends or prices an order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orion_cli.core.errors import DataError
from orion_cli.core.models import polymarket_buy_short_of_minimum, polymarket_min_buy_steps

D = Decimal


@pytest.mark.parametrize(("price", "step", "steps"), [
    (D("0.15"), D("0.01"), 661),  # 6.61 × 0.15 = 0.9915 → signs $1.00; 6.60 signs $0.99
    (D("0.10"), D("0.01"), 991),
    (D("0.5"), D("0.01"), 199),  # 1.99 × 0.5 = 0.995 → $1.00
    (D("0.99"), D("0.01"), 101),  # 1.01 × 0.99 = 0.9999 → $1.00; 1.00 × 0.99 = 0.99
    (D("0.05"), D(1), 20),  # whole shares: 19 sign $0.95
    (D("0.0025"), D("0.01"), 39601),
])
def test_polymarket_min_buy_steps(price: Decimal, step: Decimal, steps: int) -> None:
    assert polymarket_min_buy_steps(price, step) == steps


@given(price=st.integers(1, 9999).map(lambda t: D(t) / 10000),
       step=st.sampled_from([D("0.01"), D("0.05"), D("0.1"), D(1), D("0.0001")]))
def test_polymarket_min_buy_steps_is_the_first_size_the_rule_takes(price: Decimal, step: Decimal) -> None:
    n = polymarket_min_buy_steps(price, step)
    assert polymarket_buy_short_of_minimum(n * step, price) is None
    assert n == 1 or polymarket_buy_short_of_minimum((n - 1) * step, price) is not None


def test_polymarket_min_buy_steps_refuses_a_free_price() -> None:
    with pytest.raises(DataError):
        polymarket_min_buy_steps(D(0), D("0.01"))
