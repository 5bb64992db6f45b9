"""Slippage against the plan, exact (the executor's ``legs.*.slippage`` and ``orion report``).

An order's slippage is what its fills cost minus what the plan's price levels would have cost for the
same contracts, in dollars; positive = paid more than planned. The plan walks the fresh book cheapest
first, so:

* a full fill at the planned levels has slippage exactly 0;
* a partial fill is compared with the cheapest planned levels for the quantity filled (not with the
  average of the whole planned size, which would call a partial fill at the best level an improvement);
* a later order of the same leg (a hedge retry) is compared with the levels the earlier orders of the
  leg did not take (``after``), so the leg's orders add up to the leg's fills against its plan;
* contracts beyond the planned levels (a Polymarket buy that got more shares than asked) are compared
  at the plan's worst level price, the leg's limit.

Everything is exact Decimal. The plan's average price is stored rounded *up* to 6 dp for display, so
it is not a basis: a fill exactly at plan would show a price improvement that never happened. Rounding,
if any, is for display at the very end.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from orion_cli.core.models import PriceLevel
from orion_cli.core.money import ZERO


def planned_cost(levels: Sequence[PriceLevel], quantity: Decimal, *, after: Decimal = ZERO) -> Decimal | None:
    """What the planned ``levels`` cost for ``quantity`` contracts, cheapest first, skipping the first
    ``after`` contracts (taken by earlier orders of the leg); None when the plan recorded no levels."""
    if not levels:
        return None
    ordered = sorted(levels, key=lambda lv: lv.price)
    start, end = after, after + quantity
    cost = ZERO
    at = ZERO  # contracts of the levels before this one
    for lv in ordered:
        lo, hi = max(at, start), min(at + lv.size, end)
        if hi > lo:
            cost += (hi - lo) * lv.price
        at += lv.size
    if end > at:  # beyond what the plan walked: at its worst (last) price
        cost += (end - max(at, start)) * ordered[-1].price
    return cost


def levels_record(levels: Sequence[PriceLevel]) -> list[list[str]]:
    """``[[price, size], …]`` as exact strings, for the persisted plan."""
    return [[format(lv.price, "f"), format(lv.size, "f")] for lv in levels]


def levels_from_record(rec: object) -> tuple[PriceLevel, ...]:
    """The inverse of :func:`levels_record`; a plan written before the levels were kept has none (``()``)."""
    if not isinstance(rec, list):
        return ()
    return tuple(PriceLevel(Decimal(str(p)), Decimal(str(s))) for p, s in rec)
