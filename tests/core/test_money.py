"""Parsing venue and user numbers into Decimal: exact, bounded, and printed without exponents."""

from __future__ import annotations

import time
from decimal import Decimal, localcontext

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orion_cli.core.errors import DataError
from orion_cli.core.money import (
    JsonTooDeep,
    ceil_to,
    decimal_str,
    floor_to,
    is_multiple,
    loads_exact,
    to_amount,
    to_decimal,
    to_price,
)


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
    (Decimal("-0.00"), "0.00"),  # a tiny loss rounded to cents is no loss
    (Decimal("-0E-100000000"), "0E-100000000"),
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


@pytest.mark.parametrize(("value", "problem"), [
    ("-0.01", "negative value -0.01"),
    (-1, "negative value -1"),
    (Decimal("-0.000001"), "negative value"),
    ("NaN", "not a finite number"),
    ("Infinity", "not a finite number"),
    ("-Infinity", "not a finite number"),
    (Decimal("sNaN"), "not a finite number"),
    (0.5, "got float"),
    (True, "got bool"),
    (False, "got bool"),
    ("", "empty string"),
    ("abc", "not a number"),
    # Decimal() reads other scripts' digits and "_" (a venue's number never has them): not guessed at.
    ("０.５６", "not a number"),
    ("٣", "not a number"),
    ("1_000", "not a number"),
    (None, "missing"),
])
def test_to_decimal_refuses_what_is_not_a_non_negative_exact_number(value: object, problem: str) -> None:
    """Mutation audit: the refusals of the module doc (negatives, NaN and infinities, floats, booleans)
    were pinned only through the venue parsers, if at all; each now fails here by name."""
    with pytest.raises(DataError) as refused:
        to_decimal(value, "size")
    assert refused.value.field == "size" and problem in refused.value.problem, refused.value.problem


def test_negatives_and_missing_values_only_where_allowed() -> None:
    assert to_decimal("-0.01", "pnl", allow_negative=True) == Decimal("-0.01")
    assert to_decimal(None, "fee", allow_none=True) == 0


@pytest.mark.parametrize(("value", "places", "ok"), [
    ("0.0001", 4, True), ("0.00010", 4, True), ("0.00001", 4, False), ("1.000001", 6, True), ("1.0000001", 6, False),
])
def test_max_places_refuses_a_finer_value(value: str, places: int, ok: bool) -> None:
    """Mutation audit: dropping the ``max_places`` refusal passed every test (a Kalshi fee finer than its
    $0.0001 grid would have been taken)."""
    if ok:
        assert to_decimal(value, "fee", max_places=places) == Decimal(value)
    else:
        with pytest.raises(DataError, match=f"more than {places} decimal places"):
            to_decimal(value, "fee", max_places=places)


@pytest.mark.parametrize(("value", "ok"), [
    ("0.5000000001", True), ("0.50000000000000000000", True), ("123456789.0123456789", True),
    ("0.50000000001", False), ("0.16800000001", False), ("0." + "0" * 39 + "1", False),
])
def test_a_figure_the_ledger_records_is_held_to_its_ten_places(value: str, ok: bool) -> None:
    """Found by a numbers review: venue fills with 11 places were read (to_decimal takes 40) and refused
    by the ledger's write after money moved (exit 1, a leg unhedged); refused where they are read."""
    if ok:
        assert to_amount(value, "trade.price") == Decimal(value)
    else:
        with pytest.raises(DataError, match=r"trade\.price.*more than 10 decimal places"):
            to_amount(value, "trade.price")
    assert to_decimal(value, "outcomePrices[0]") == Decimal(value)  # display figures keep their 40 places


def test_the_readers_ten_places_are_the_ledgers() -> None:
    from orion_cli.core.money import LEDGER_MAX, LEDGER_PLACES
    from orion_cli.store.tables import _SQLITE_MAX_UNITS, MONEY_PLACES

    assert LEDGER_PLACES == MONEY_PLACES
    assert LEDGER_MAX == Decimal(_SQLITE_MAX_UNITS).scaleb(-MONEY_PLACES)


@pytest.mark.parametrize(("value", "ok"), [("922337203.6854775807", True), ("-922337203.6854775807", True),
                                           ("922337203.6854775808", False), ("999999999", False), ("1e15", False)])
def test_a_figure_the_ledger_records_is_held_to_what_it_can_store(value: str, ok: bool) -> None:
    """Found by a numbers review: a live balance of $999,999,999 passed the reader (1e15) and failed the
    ledger's SQLite write (exit 1, "StatementError") where an unreadable balance is a refusal."""
    if ok:
        assert to_amount(value, "balance_dollars", allow_negative=True) == Decimal(value)
    else:
        with pytest.raises(DataError, match=r"balance_dollars.*out of range for the ledger"):
            to_amount(value, "balance_dollars")


@pytest.mark.parametrize(("value", "ok"), [("0", True), ("1", True), ("1.0000", True), ("1.0001", False),
                                           ("-0.0001", False), ("2", False)])
def test_to_price_is_a_binary_contract_price_from_zero_to_one(value: str, ok: bool) -> None:
    """Mutation audit: a price above 1 (or below 0) was refused by no test of to_price."""
    if ok:
        assert to_price(value, "ask") == Decimal(value)
    else:
        with pytest.raises(DataError) as refused:
            to_price(value, "ask")
        assert refused.value.field == "ask"


@given(st.decimals(min_value=0, max_value=Decimal("1e15"), places=40, allow_nan=False, allow_infinity=False),
       st.sampled_from([Decimal("0.01"), Decimal("0.0001"), Decimal("0.000001"), Decimal("0.00001"),
                        Decimal("0.05"), Decimal("0.001"), Decimal(2)]))
@example(Decimal("999999999999999." + "9" * 40), Decimal("0.01"))
@example(Decimal("1." + "0" * 39 + "1"), Decimal("0.01"))
def test_the_grid_roundings_bracket_the_value_on_the_grid(value: Decimal, step: Decimal) -> None:
    """Any value to_decimal takes (16 integer digits, 40 places). Found in review: at 40 significant digits
    the first example floored to 1000000000000000.00, above the value, and the second counted as on the
    cent grid."""
    assert to_decimal(str(value), "value") == value
    down, up = floor_to(value, step), ceil_to(value, step)
    assert down <= value <= up and up - down in (0, step)
    assert is_multiple(down, step) and is_multiple(up, step)
    assert (down == up) == is_multiple(value, step)


def test_the_grid_roundings_keep_their_own_precision_whatever_the_callers_context() -> None:
    """A caller's coarse context must not round the quotient first: at 5 digits 123456.789 / 0.01 would be
    1.2346E+7, and the floor 1.2346E+5 (123460), more than the value."""
    with localcontext() as ctx:
        ctx.prec = 5
        assert floor_to(Decimal("123456.789"), Decimal("0.01")) == Decimal("123456.78")
        assert ceil_to(Decimal("123456.781"), Decimal("0.01")) == Decimal("123456.79")
        assert not is_multiple(Decimal("123456.781"), Decimal("0.01"))
    with pytest.raises(ZeroDivisionError):
        floor_to(Decimal(1), Decimal(0))


@pytest.mark.usefixtures("default_recursion_limit")
def test_json_nested_too_deeply_is_a_value_error_every_venue_reader_catches() -> None:
    """Found by a fault review: a venue answer of some 2,000 nested brackets raised RecursionError, which no
    reader of venue answers caught (they catch ValueError): exit 1, an order's first leg left unhedged."""
    # Under the interpreter's default limit, as orion runs (some test raises it, and a parse that deep under a
    # raised limit can overflow the C stack instead: it crashed an xdist worker).
    deep = b'{"x":' + b"[" * 3000 + b"]" * 3000 + b"}"
    with pytest.raises(JsonTooDeep) as caught:
        loads_exact(deep)
    assert isinstance(caught.value, ValueError)
    assert loads_exact(b'{"p": 0.10, "n": [[1]]}') == {"p": Decimal("0.10"), "n": [[1]]}
