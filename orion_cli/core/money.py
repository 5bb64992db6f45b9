"""Exact money: parsing fixed-point strings into Decimal and rounding toward safety.

Every price, size, fee and balance in orion is a :class:`~decimal.Decimal`. Values enter through
:func:`to_decimal`, which refuses floats (parse JSON with ``parse_float=Decimal``), NaN, infinities,
negatives, absurd magnitudes (above 1e15) and absurd precision (more than 40 decimal places), and
names the offending field in the error. A figure the ledger records (fills, orders, balances, positions)
enters through :func:`to_amount`, held to the ledger's 10 places.
"""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, InvalidOperation
from typing import Any

from orion_cli.core.errors import DataError
from orion_cli.core.plain_text import plain_ascii

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
BASIS = Decimal("0.0001")  # Kalshi's fee and balance granularity
MICRO = Decimal("0.000001")  # Polymarket's 6-decimal base unit

# Anything above this is a corrupted payload, not a market (keeps exponents sane).
_MAX_MAGNITUDE = Decimal("1e15")
# No venue price, size, fee or balance has more; more would make every later quantize, sum and
# printed figure as long as the exponent says ("1E-100000000" prints as a hundred million digits).
MAX_PLACES = 40
# What the ledger stores (store/tables.py: Numeric(28, 10), on SQLite integer units of 10^-10): every venue
# figure it records is refused past this at the boundary (:func:`to_amount`).
LEDGER_PLACES = 10
LEDGER_QUANTUM = Decimal(1).scaleb(-LEDGER_PLACES)
# The largest magnitude it stores on every backend: SQLite keeps integer units of 10^-10 in 64 bits.
LEDGER_MAX = Decimal(2**63 - 1).scaleb(-LEDGER_PLACES)
# decimal_str writes a value longer than this in scientific notation (no value to_decimal takes is).
_MAX_FIXED_CHARS = 100
# The grid roundings divide and multiply exactly: 100 significant digits hold any value to_decimal takes
# (16 integer digits and 40 places) divided by any grid step. At 40, a value of more digits could round the
# wrong way (999999999999999.99…9, forty 9s after the point, floored to the cent gave 1000000000000000.00).
# The context is built from Python's defaults and ignores the caller's (its rounding, traps and limits); no
# caller in orion changes anything but precision. One context object, its methods called directly:
# entering a ``localcontext()`` on every call was half of each rounding's time, and a scan prices with tens
# of thousands of them. Its flags are written and never read, so sharing it between threads is safe.
_ROUNDING = Context(prec=100)


def to_decimal(
    value: Any,
    field: str,
    *,
    allow_negative: bool = False,
    allow_none: bool = False,
    max_places: int | None = None,
) -> Decimal:
    """Parse ``value`` (str, int or Decimal) exactly, or raise :class:`DataError` naming ``field``."""
    if value is None:
        if allow_none:
            return ZERO
        raise DataError(field, "missing")
    if isinstance(value, bool) or isinstance(value, float):
        raise DataError(field, f"expected a decimal string, got {type(value).__name__}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise DataError(field, "empty string")
        try:
            if not plain_ascii(text):  # Decimal() also reads "٣", full-width "３" and "1_0": no venue's number
                raise InvalidOperation
            d = Decimal(text)
        except InvalidOperation:
            raise DataError(field, f"not a number: {text[:40]!r}") from None
    else:
        raise DataError(field, f"expected a decimal string, got {type(value).__name__}")
    if not d.is_finite():
        raise DataError(field, f"not a finite number: {value!s:.40}")
    # Told from the exponent and the digits, never by arithmetic: abs() of 1E+100000000 raises
    # decimal.Overflow (an internal error), and 1E-100000000 in fixed point is a hundred million digits.
    if d and (d.adjusted() > 15 or d.copy_abs() > _MAX_MAGNITUDE):
        raise DataError(field, f"number out of range (magnitude above 1e15): {_shown(value, d)}")
    exponent = int(d.as_tuple().exponent)
    if -exponent > MAX_PLACES:
        raise DataError(field, f"more than {MAX_PLACES} decimal places: {_shown(value, d)}")
    if exponent > 0:  # "1E+3", "0E+100000000": the integer itself (at most 16 digits, exact)
        d = d.quantize(ONE)
    if d < 0 and not allow_negative:
        raise DataError(field, f"negative value {d}")
    if max_places is not None and d != d.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_FLOOR):
        raise DataError(field, f"more than {max_places} decimal places: {d}")
    return d


def to_amount(value: Any, field: str, *, allow_negative: bool = False, allow_none: bool = False) -> Decimal:
    """A venue figure the ledger records (a fill, an order, a balance, a position): :func:`to_decimal`
    within the ledger's :data:`LEDGER_PLACES`.

    Refused here, at the boundary, the value is an unreadable answer (an order's outcome looked up, a
    read refused); accepted, it reached the ledger's write after money had moved, which refused it
    there: a trade with its first leg filled ended in an internal error, unhedged and not halted.
    Display-only figures (Gamma's ``outcomePrices`` carry 34 places) keep :func:`to_decimal`'s 40. So
    with magnitudes: past :data:`LEDGER_MAX` (about $922M), a balance was exit 1 where it is a refusal.
    """
    d = to_decimal(value, field, allow_negative=allow_negative, allow_none=allow_none, max_places=LEDGER_PLACES)
    if d.copy_abs() > LEDGER_MAX:
        raise DataError(field, f"number out of range for the ledger (magnitude above {LEDGER_MAX}): {_shown(value, d)}")
    return d


def _shown(value: Any, d: Decimal) -> str:
    """A refused value for an error message, as sent (a string) and at most 40 characters of it."""
    text = value.strip() if isinstance(value, str) else str(d)
    return repr(text) if len(text) <= 40 else f"{text[:40]!r}… ({len(text)} characters)"


def to_price(value: Any, field: str, *, max_places: int | None = None) -> Decimal:
    """A binary-contract price in dollars: 0 ≤ p ≤ 1."""
    d = to_decimal(value, field, max_places=max_places)
    if d > ONE:
        raise DataError(field, f"price {d} above 1")
    return d


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """Round up to a multiple of ``step`` (fees are rounded up: never under-estimate a cost)."""
    quotient = _ROUNDING.divide(value, step).to_integral_value(rounding=ROUND_CEILING, context=_ROUNDING)
    return _ROUNDING.multiply(quotient, step)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """Round down to a multiple of ``step``."""
    quotient = _ROUNDING.divide(value, step).to_integral_value(rounding=ROUND_FLOOR, context=_ROUNDING)
    return _ROUNDING.multiply(quotient, step)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` lies exactly on the ``step`` grid."""
    quotient = _ROUNDING.divide(value, step)
    return quotient == quotient.to_integral_value(context=_ROUNDING)


def fixed_str(value: Decimal) -> str:
    """``value`` in fixed-point notation with a zero never signed: "-0.00" (a tiny loss rounded to cents)
    reads as a loss to a pipeline."""
    return format(value.copy_abs() if value.is_zero() else value, "f")


def decimal_str(value: Decimal) -> str:
    """Exact string for JSON output, without exponent notation; a value whose fixed-point form would be
    longer than 100 characters (none that :func:`to_decimal` takes) in scientific notation instead,
    exact still: ``1E-100000000`` would otherwise be written out as a hundred million digits. A zero
    never carries a sign: "-0.00" (a tiny loss rounded to cents) would read as a loss."""
    if value.is_zero():
        value = value.copy_abs()
    if value.is_finite():
        digits, exponent = len(value.as_tuple().digits), int(value.as_tuple().exponent)
        fixed = digits + exponent if exponent >= 0 else max(digits, -exponent) + 2
        if fixed > _MAX_FIXED_CHARS:
            return str(value)
    return fixed_str(value)


class JsonTooDeep(ValueError):
    """JSON nested deeper than the parser can recurse: a document orion cannot read, as any malformed one."""


def loads_exact(data: str | bytes) -> Any:
    """``json.loads`` with every JSON number that has a fraction parsed as Decimal.

    A document nested too deeply is a :class:`JsonTooDeep` (a ``ValueError``), not a ``RecursionError``:
    every venue answer is read by catching ``ValueError``, and an order answer of some 2,000 nested brackets
    escaped as an internal error (exit 1), the first leg filled and left unhedged (found by a review)."""
    try:
        return json.loads(data, parse_float=Decimal)
    except RecursionError:
        raise JsonTooDeep("JSON nested too deeply") from None
