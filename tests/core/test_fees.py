"""Fee models: the constructors refuse rates and multipliers that would price a fee below zero."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from orion_cli.core.errors import DataError
from orion_cli.core.fees import FeeModel


@pytest.mark.parametrize("multiplier", [D("-0.5"), D("-0.0001")])
def test_a_negative_kalshi_fee_multiplier_is_refused(multiplier: D) -> None:
    """Mutation audit: a negative multiplier (a venue's junk) priced every Kalshi fill at a negative fee,
    an edge that is not there; no test refused it."""
    with pytest.raises(DataError) as refused:
        FeeModel.kalshi("quadratic", multiplier)
    assert refused.value.field == "fee_multiplier"
    assert FeeModel.kalshi("quadratic", D(0)).fill_fee(D(10), D("0.50")) == 0  # zero: a fee-free series


@pytest.mark.parametrize(("rate", "ok"), [(D("-0.0001"), False), (D(0), True), (D(1), True), (D("1.0001"), False)])
def test_a_polymarket_fee_rate_outside_zero_to_one_is_refused(rate: D, ok: bool) -> None:
    """Mutation audit: the lower bound (a negative rate, so a negative fee) was pinned by no test."""
    if ok:
        assert FeeModel.polymarket(rate).fill_fee(D(10), D("0.50")) >= 0
    else:
        with pytest.raises(DataError) as refused:
            FeeModel.polymarket(rate)
        assert refused.value.field == "feeSchedule.rate"
