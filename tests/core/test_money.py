"""Parsing venue and user numbers into Decimal: exact, bounded, and printed without exponents."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orion_cli.core.errors import DataError
from orion_cli.core.money import decimal_str, to_decimal, to_price


@pytest.mark.parametrize("text", ["0.01", "0.999", "1000000.5", "0", "0.0001", "0.000001", "1", "-3.25",
                                  "999999999999999", "1e15", "0." + "0" * 39 + "1"])
def test_normal_numbers_round_trip_exactly(text: str) -> None:
    d = to_decimal(text, "price", allow_negative=True)
    assert d == Decimal(text)
    assert "E" not in decimal_str(d) and "e" not in decimal_str(d)
    assert to_decimal(decimal_str(d), "price", allow_negative=True) == d


@given(st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=6, allow_nan=False,
                   allow_infinity=False))
def test_a_number_within_the_bounds_round_trips(value: Decimal) -> None:
    d = to_decimal(str(value), "size", allow_negative=True)
    assert d == value
    assert to_decimal(decimal_str(d), "size", allow_negative=True) == value
    assert "E" not in decimal_str(d)


@pytest.mark.parametrize(("value", "problem"), [
    ("1e999999", "out of range"),
    ("1E+100000000", "out of range"),  # abs() of it raised decimal.Overflow: an internal error
    ("-1E+100000000", "out of range"),
    ("9" * 10_000, "out of range"),
    pytest.param(10 ** 10_000, "out of range", id="int-of-10001-digits"),
    (Decimal("1E+999999999"), "out of range"),
    ("1000000000000000.5", "out of range"),
    ("1E-100000000", "decimal places"),  # printed (decimal_str), a hundred million digits
    ("1E-999999999999999999", "decimal places"),
    ("0E-100000000", "decimal places"),  # a zero, but written out as one all the same
    ("0." + "1" * 10_000, "decimal places"),
    ("0." + "0" * 40 + "1", "decimal places"),
    (Decimal("1E-41"), "decimal places"),
])
def test_absurd_magnitudes_and_precision_are_refused_quickly(value: object, problem: str) -> None:
    """Found in review: a venue (or a user) sending 1E+100000000 made to_decimal raise decimal.Overflow
    (an internal error, not the venue-data error its callers handle), and 1E-100000000 or a
    ten-thousand-digit fraction was taken, to be quantized, summed and printed at that length. Both are
    refused by their exponent and digits alone, at once, with a message of bounded length."""
    started = time.monotonic()
    with pytest.raises(DataError) as refused:
        to_decimal(value, "levels.price", allow_negative=True)
    assert time.monotonic() - started < 1
    assert refused.value.field == "levels.price" and problem in refused.value.problem
    assert len(refused.value.message) < 160, refused.value.message


def test_forty_decimal_places_is_the_limit() -> None:
    assert to_decimal("0." + "0" * 39 + "1", "fee") == Decimal("1E-40")
    with pytest.raises(DataError, match="more than 40 decimal places"):
        to_decimal("0." + "0" * 40 + "1", "fee")
    # Trailing zeros are places too: the value is fine, its form is not.
    with pytest.raises(DataError, match="more than 40 decimal places"):
        to_decimal("0.5" + "0" * 40, "fee")


def test_a_positive_exponent_is_taken_as_the_integer() -> None:
    assert str(to_decimal("1E+3", "size")) == "1000"
    assert str(to_decimal("0E+100000000", "size")) == "0"  # not a zero printed with its exponent
    assert decimal_str(to_decimal("0E+100000000", "size")) == "0"


def test_to_price_refuses_absurd_values_as_data_errors() -> None:
    with pytest.raises(DataError):
        to_price("1E+100000000", "ask")
    with pytest.raises(DataError):
        to_price("1E-100000000", "ask")
    assert to_price("0.999", "ask") == Decimal("0.999")


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("0.01"), "0.01"),
    (Decimal("1E+5"), "100000"),
    (Decimal("1E-7"), "0.0000001"),
    (Decimal("-0"), "0"),
    (Decimal("1E+99"), "1" + "0" * 99),  # 100 digits: still written out
    (Decimal("1E+100"), "1E+100"),  # past 100: scientific, exact
    (Decimal("1E-100000000"), "1E-100000000"),  # never a hundred million characters
    (Decimal("-1E+999999999"), "-1E+999999999"),
    (Decimal("0E-100000000"), "0E-100000000"),
])
def test_decimal_str_is_fixed_point_for_normal_values_and_bounded_for_huge_exponents(
        value: Decimal, expected: str) -> None:
    started = time.monotonic()
    assert decimal_str(value) == expected
    assert time.monotonic() - started < 1
    assert Decimal(decimal_str(value)) == value
