"""Walking a tick grid: ``TickStructure.tick_above`` / ``tick_below`` against a brute-force list of every
valid price, on each of Kalshi's named structures, Polymarket's uniform ticks and a few parsed shapes
(ranges whose start is off their step's grid, a gap between ranges).

Found in review: stepping by ``step_at(price)`` takes the step of the *first* range holding a price, so
on Kalshi's tapered grid the step up from 0.90 was the middle range's 0.01 and 0.901–0.909 were
skipped (an unwind sell priced at 0.91 where 0.906 was allowed)."""

from __future__ import annotations

import bisect
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion_cli.core.models import TickRange, TickStructure
from orion_cli.venues.kalshi.parse import PRICE_LEVEL_STRUCTURES

STRUCTURES: dict[str, TickStructure] = {
    **{f"kalshi:{name}": TickStructure(ranges) for name, ranges in PRICE_LEVEL_STRUCTURES.items()},
    **{f"polymarket:{tick}": TickStructure.uniform(D(tick)) for tick in ("0.1", "0.01", "0.001", "0.0001")},
    # parse_ticks takes any ranges Kalshi sends: starts off their step's grid, and a gap.
    "offset": TickStructure((TickRange(D("0"), D("0.105"), D("0.005")), TickRange(D("0.105"), D("1"), D("0.02")))),
    "gap": TickStructure((TickRange(D("0.05"), D("0.4"), D("0.05")), TickRange(D("0.6"), D("0.97"), D("0.01")))),
}


def valid_prices(ticks: TickStructure) -> list[D]:
    """Every valid price, from each range's own grid (start + k × step up to its end), inside (0, 1)."""
    out: set[D] = set()
    for r in ticks.ranges:
        k = 0
        while (p := r.start + k * r.step) <= r.end:
            if D(0) < p < D(1):
                out.add(p)
            k += 1
    return sorted(out)


VALID = {name: valid_prices(t) for name, t in STRUCTURES.items()}


def above(valid: list[D], x: D, inclusive: bool) -> D | None:
    i = bisect.bisect_left(valid, x) if inclusive else bisect.bisect_right(valid, x)
    return valid[i] if i < len(valid) else None


def below(valid: list[D], x: D, inclusive: bool) -> D | None:
    i = bisect.bisect_right(valid, x) if inclusive else bisect.bisect_left(valid, x)
    return valid[i - 1] if i > 0 else None


def test_the_brute_force_list_agrees_with_is_valid() -> None:
    """The oracle is independent of the code under test; on a fine grid it matches ``is_valid``."""
    fine = [D(i) / 10000 for i in range(-100, 10101)]
    for name, ticks in STRUCTURES.items():
        assert [p for p in fine if ticks.is_valid(p)] == VALID[name], name
    assert D("0.905") in VALID["kalshi:tapered_deci_cent"] and D("0.105") not in VALID["kalshi:tapered_deci_cent"]


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_walking_up_and_down_visits_every_valid_price_once(name: str) -> None:
    ticks, valid = STRUCTURES[name], VALID[name]
    up: list[D] = []
    p = ticks.tick_above(D(0))
    while p is not None:
        up.append(p)
        p = ticks.tick_above(p)
    assert up == valid
    down: list[D] = []
    p = ticks.tick_below(D(1))
    while p is not None:
        down.append(p)
        p = ticks.tick_below(p)
    assert down == valid[::-1]
    # From each valid price, and from a point strictly between two of them, one step lands on the neighbour.
    for i, v in enumerate(valid):
        nxt = valid[i + 1] if i + 1 < len(valid) else None
        prev = valid[i - 1] if i else None
        assert (ticks.tick_above(v), ticks.tick_below(v)) == (nxt, prev), v
        assert ticks.tick_above(v, inclusive=True) == v == ticks.tick_below(v, inclusive=True)
        if nxt is not None:
            mid = (v + nxt) / 2
            assert (ticks.tick_above(mid), ticks.tick_below(mid)) == (nxt, v), mid
            assert (ticks.tick_above(mid, inclusive=True), ticks.tick_below(mid, inclusive=True)) == (nxt, v)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(STRUCTURES)), inclusive=st.booleans(),
       x=st.decimals(min_value=D("-0.2"), max_value=D("1.2"), places=6, allow_nan=False, allow_infinity=False))
def test_tick_above_and_below_match_brute_force_anywhere(name: str, inclusive: bool, x: D) -> None:
    ticks, valid = STRUCTURES[name], VALID[name]
    assert ticks.tick_above(x, inclusive=inclusive) == above(valid, x, inclusive)
    assert ticks.tick_below(x, inclusive=inclusive) == below(valid, x, inclusive)


def test_kalshi_tapered_boundaries_step_into_the_range_on_their_side() -> None:
    t = STRUCTURES["kalshi:tapered_deci_cent"]
    assert (t.tick_above(D("0.90")), t.tick_below(D("0.90"))) == (D("0.901"), D("0.89"))
    assert (t.tick_above(D("0.10")), t.tick_below(D("0.10"))) == (D("0.11"), D("0.099"))
    assert (t.tick_above(D("0.999")), t.tick_below(D("0.001"))) == (None, None)
    assert (t.tick_above(D("0.9005")), t.tick_below(D("0.1005"))) == (D("0.901"), D("0.1"))
