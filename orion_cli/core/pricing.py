"""Pricing arbitrages against real ask depth and exact per-fill fees.

Every opportunity here is "buy one share of each leg; exactly one leg pays $1 at settlement":

- cross-venue pair, direct polarity (A's YES is B's YES): A-YES + B-NO, and A-NO + B-YES;
- cross-venue pair, inverted polarity (A's YES is B's NO): A-YES + B-YES, and A-NO + B-NO;
- within one market: YES + NO;
- a complete neg-risk event: the YES of every outcome.

Only executable asks are used (never bids, mids or display prices). All legs get the same number of
shares. Each price level a leg walks is one fill, and fees are charged per fill exactly as the venue
does (:meth:`FeeModel.fill_fee`: Kalshi rounds each fill *up* to $0.0001, so splitting across levels
costs more than one fill of the same size; Polymarket floors to 5 decimals).

A Polymarket leg takes its best ask level only. An immediate buy there is signed as dollars (size ×
one limit price, rounded up to the cent) and the venue spends all of them: a leg walking cheaper levels
before its limit would spend the difference on extra shares at the limit, which the other leg does not
hedge. So the leg is costed at those dollars (:func:`polymarket_buy_fill`), its fee on the shares they
buy (a little more than the size: the fee is the venue's, on what it fills), and the extra shares count
for nothing (they are held, not hedged): the edge is the hedged pair's. And the dollars must fit the
level: its last sizes are out of reach when the cent rounding of the spend asks for more than the level
holds (:meth:`_Ladder.fills_in_full`), so the search skips sizes that do not fill (the bounds of those
that do are critical sizes too).

Choosing the size
-----------------
Profit ``P(n)`` at ``n`` grid steps (the grid is the lcm of the legs' size steps, 0.01 contract on
both venues today) is ``n·g·payout − Σ cost − Σ fees``. It is piecewise linear between *critical
sizes* (the grid points either side of every level boundary of every ladder, plus the min and max
size), but per-fill fee rounding adds a saw-tooth of amplitude below one rounding unit per leg, so
``P`` is not concave and its maximum need not sit on a critical size. What we do, and why it is
exact:

1. Truncation. Prices rise along each ladder, so once the levels the next share comes from sum to
   ≥ the payout, every further share costs ≥ $1 and fees never fall: ``P`` is non-increasing from
   there. The search stops at the first such critical size that fills (see above; under a
   ``min_edge`` hurdle, where ties go to the larger size, at the first whose levels sum to more than
   the payout). A Polymarket leg's spend, rounded up to the cent, can make a larger size earn a little
   more (its spend a whole number of cents); so when the unrounded profit at the cut (plus the fee
   floors) could still beat the best found before it, the sizes past the cut are searched too.
2. Every critical size is evaluated exactly.
3. Between two consecutive critical sizes every leg stays on one level, so with ``m`` the slope of
   the unrounded profit (payout − Σ price − Σ unrounded per-contract fee) and ``U`` the sum of the
   legs' fee rounding units, any interior ``n`` satisfies ``P(n) ≤ P⁺(n) < P⁺(n') + m·(n − n') + U`` for
   the interior end ``n'`` towards which ``m`` climbs, where ``P⁺`` is the profit with a Polymarket
   leg's spend not rounded up to the cent (equal to ``P`` for other legs; the rounding only costs).
   Only the sizes within ``U / |m|`` steps of that end can still beat the best value found so far;
   those are evaluated one by one (all of them when ``m = 0``). Intervals whose bound cannot beat the
   best are skipped.

Step 3 is exhaustive unless a window exceeds :data:`INTERVAL_SCAN_CAP` sizes (or all windows together
exceed :data:`SCAN_BUDGET`), which needs a marginal edge within a hair of zero; then the chosen size
is within ``U`` (at most $0.00011 for a Kalshi + Polymarket pair) of the true maximum. Ties go to
the smaller size (same profit, less capital at risk), except above the ``min_edge`` hurdle (below).
Reported figures are always the exact ones of the chosen size, so an approximation can never report
a non-positive net.

``min_edge`` (per contract, after fees): if the profit-maximising size does not clear it, the size is
re-chosen to maximise ``P(n) − min_edge·size`` (min_edge acts as a hurdle on every contract). If
any size clears the edge, that maximum is ≥ 0, so the re-chosen size clears it too (it is the size
that earns most *above the hurdle*, not necessarily the most profitable size that clears it). Ties
there go to the larger size: contracts earning exactly ``min_edge`` clear it, and add profit.

Fees are modelled in dollars per fill as :meth:`FeeModel.fill_fee` gives them. Kalshi's per-order
cent accumulator and a broker's rounding fee are not modelled (the per-fill sum is the conservative
figure for direct members).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from functools import reduce
from itertools import pairwise
from math import lcm

from orion_cli.core.errors import DataError
from orion_cli.core.fees import POLY_FEE_STEP, FeeModel
from orion_cli.core.models import (
    POLYMARKET_MIN_MARKETABLE_BUY,
    BookSide,
    Market,
    OrderBook,
    Side,
    Venue,
    polymarket_buy_fill,
    polymarket_buy_spend,
)
from orion_cli.core.money import BASIS, CENT, ONE, ZERO, ceil_to, floor_to
from orion_cli.core.opportunity import Fill, Leg, Opportunity, OpportunityKind, opportunity_id, ratio_down

DEFAULT_QUOTE_TTL_SECONDS = 30
INTERVAL_SCAN_CAP = 4_000
SCAN_BUDGET = 20_000

SECONDS_PER_YEAR = Decimal(365 * 24 * 3600)
MIN_ANNUALIZATION_HORIZON = timedelta(days=1)
_AVG_PRICE_STEP = Decimal("0.000001")
# Decimal products are exact here; the slack only guards the bound against context rounding in v**e.
_BOUND_SLACK = Decimal("1e-12")


# --------------------------------------------------------------------------------------------------
# public API


def price_pair(
    market_a: Market,
    book_a: OrderBook,
    market_b: Market,
    book_b: OrderBook,
    *,
    inverted: bool,
    now: datetime,
    max_size: Decimal | None = None,
    min_edge: Decimal = ZERO,
    quote_ttl_seconds: int = DEFAULT_QUOTE_TTL_SECONDS,
    market_now: datetime | None = None,
    pair_key: str | None = None,
) -> list[Opportunity]:
    """Both directions of a matched cross-venue pair, best net profit first.

    ``inverted`` means A's YES settles like B's NO (e.g. "Team A wins" vs "Team B wins"), so the
    covering legs are A-YES + B-YES and A-NO + B-NO instead of A-YES + B-NO and A-NO + B-YES.
    """
    _check_book(market_a, book_a)
    _check_book(market_b, book_b)
    key = pair_key or f"{market_a.venue.value}:{market_a.id}~{market_b.venue.value}:{market_b.id}"
    strategy = "cross_inverted" if inverted else "cross_direct"
    out: list[Opportunity] = []
    for side_a in (Side.YES, Side.NO):
        side_b = side_a if inverted else side_a.other
        opp = _price_legs(
            ((market_a, book_a, side_a), (market_b, book_b, side_b)),
            kind="cross_venue",
            strategy=strategy,
            pair_key=key,
            title=market_a.title,
            event_id="",
            now=now,
            max_size=max_size,
            min_edge=min_edge,
            quote_ttl_seconds=quote_ttl_seconds,
            market_now=market_now,
        )
        if opp is not None:
            out.append(opp)
    return sorted(out, key=lambda o: o.net_profit, reverse=True)


def price_within_venue(
    market: Market,
    book: OrderBook,
    *,
    now: datetime,
    max_size: Decimal | None = None,
    min_edge: Decimal = ZERO,
    quote_ttl_seconds: int = DEFAULT_QUOTE_TTL_SECONDS,
    market_now: datetime | None = None,
) -> list[Opportunity]:
    """YES ask + NO ask (+ fees) below $1 on one market: buy both, one of them pays $1."""
    _check_book(market, book)
    opp = _price_legs(
        ((market, book, Side.YES), (market, book, Side.NO)),
        kind="within_venue",
        strategy="yes_no",
        pair_key=f"{market.venue.value}:{market.id}",
        title=market.title,
        event_id=market.event_id,
        now=now,
        max_size=max_size,
        min_edge=min_edge,
        quote_ttl_seconds=quote_ttl_seconds,
        market_now=market_now,
    )
    return [] if opp is None else [opp]


def neg_risk_guard(markets: Sequence[Market], event_market_count: int) -> str | None:
    """Why buying every YES of this event is *not* a sure $1, or None when it is.

    The basket pays $1 only if exactly one of the given markets resolves YES, which holds when the
    markets are *all* the outcomes of one mutually exclusive (neg-risk) event. Refused when:
    fewer than two markets; mixed venues or events; a duplicate; a market not flagged neg-risk; an
    *augmented* neg-risk event (its placeholder / "Other" outcomes change meaning as outcomes are
    added, so the listed set is not a fixed partition); fewer markets than the venue lists for the
    event (``event_market_count``: a missing outcome, including a missing "Other", is a way for
    every leg to lose); or any market not open or not binary.
    """
    if len(markets) < 2:
        return "fewer than two outcomes"
    if len({m.venue for m in markets}) != 1:
        return "markets from more than one venue"
    events = {m.event_id for m in markets}
    if len(events) != 1 or "" in events:
        return "markets from more than one event (or no event id)"
    if len({m.id for m in markets}) != len(markets):
        return "duplicate market"
    if not all(m.neg_risk for m in markets):
        return "event is not neg-risk (outcomes not mutually exclusive)"
    if any(m.neg_risk_augmented for m in markets):
        return "augmented neg-risk event (placeholder/Other outcomes)"
    if len(markets) != event_market_count:
        return f"incomplete event: {len(markets)} of {event_market_count} outcomes"
    if not all(m.is_open for m in markets):
        return "an outcome market is not open"
    if not all(m.market_type == "binary" for m in markets):
        return "an outcome market is not binary"
    return None


def price_neg_risk_event(
    markets: Sequence[Market],
    books: Mapping[str, OrderBook] | Sequence[OrderBook],
    *,
    event_market_count: int,
    now: datetime,
    max_size: Decimal | None = None,
    min_edge: Decimal = ZERO,
    quote_ttl_seconds: int = DEFAULT_QUOTE_TTL_SECONDS,
    market_now: datetime | None = None,
) -> list[Opportunity]:
    """The YES asks of every outcome of a complete neg-risk event summing (with fees) below $1.

    ``books`` maps market id → book (or is aligned with ``markets``). Nothing is reported when
    :func:`neg_risk_guard` refuses the event.
    """
    if neg_risk_guard(markets, event_market_count) is not None:
        return []
    if isinstance(books, Mapping):
        missing = [m.id for m in markets if m.id not in books]
        if missing:
            return []
        ordered = [books[m.id] for m in markets]
    else:
        if len(books) != len(markets):
            raise DataError("books", f"{len(books)} books for {len(markets)} markets")
        ordered = list(books)
    for m, b in zip(markets, ordered, strict=True):
        _check_book(m, b)
    first = markets[0]
    opp = _price_legs(
        tuple((m, b, Side.YES) for m, b in zip(markets, ordered, strict=True)),
        kind="within_venue",
        strategy="neg_risk",
        pair_key=f"{first.venue.value}:event:{first.event_id}",
        title=first.event_title or first.title,
        event_id=first.event_id,
        now=now,
        max_size=max_size,
        min_edge=min_edge,
        quote_ttl_seconds=quote_ttl_seconds,
        market_now=market_now,
    )
    return [] if opp is None else [opp]


def fillable_size(legs: Sequence[tuple[Market, BookSide]], size: Decimal, grid: Decimal) -> Decimal:
    """The largest size on ``grid``, at most ``size``, that every leg's immediate buy fills in full.

    Within the visible ask depth, and for a Polymarket leg, small enough that the dollars its buy is
    signed for can be spent at or below its limit (:meth:`_Ladder.fills_in_full`); 0 when none is.
    """
    ladders = [_Ladder.from_asks(side, m.fee_model, spends_dollars=m.venue is Venue.POLYMARKET) for m, side in legs]
    size = floor_to(max(size, ZERO), grid)
    while True:  # a smaller size can move another leg to a cheaper level, whose bound may be lower
        smaller = min((lad.largest_fillable(size, grid) for lad in ladders), default=size)
        if smaller == size:
            return size
        size = smaller


# --------------------------------------------------------------------------------------------------
# ladders


def fee_shape(model: FeeModel, price: Decimal) -> tuple[Decimal, Decimal]:
    """(unrounded taker fee per contract at ``price``, rounding unit) of one fill.

    ``fill_fee(q, p)`` differs from ``q × per-contract`` by less than the unit (ceil for Kalshi,
    floor for Polymarket). An unknown fee kind gets a $1 unit: the size search then falls back to
    its capped scan instead of trusting a wrong bound.
    """
    if model.kind == "free" or model.taker_rate == 0:
        return ZERO, ZERO
    variance = price * (ONE - price)
    if model.kind == "kalshi":
        return model.multiplier * model.taker_rate * variance, BASIS
    if model.kind == "polymarket":
        return model.taker_rate * variance**model.exponent, POLY_FEE_STEP
    return ZERO, ONE  # type: ignore[unreachable]  # a fee kind added later without updating this


@dataclass(frozen=True, slots=True)
class _Ladder:
    """One leg's ask ladder (lowest price first) with prefix sums over fully consumed levels."""

    prices: tuple[Decimal, ...]
    sizes: tuple[Decimal, ...]
    cum: tuple[Decimal, ...]  # cum[k] = depth of the k cheapest levels; len = levels + 1
    full_cost: tuple[Decimal, ...]
    full_fee: tuple[Decimal, ...]
    level_fees: tuple[Decimal, ...]
    fee_model: FeeModel
    unit: Decimal
    spends_dollars: bool = False  # a Polymarket buy: the venue takes it as dollars (see fills_in_full)

    @classmethod
    def from_asks(cls, side: BookSide, fee_model: FeeModel, *, spends_dollars: bool = False) -> _Ladder:
        """The executable asks; for a buy the venue takes as dollars, the best level alone.

        Such a buy is signed for its size x one limit price and spends all of it: walking cheaper
        levels first would leave dollars over, which buy extra shares at the limit that nothing hedges
        (at a sweep of a few cents, a third more shares than the pair). At one price the extra is
        under a cent's worth.
        """
        merged: dict[Decimal, Decimal] = {}
        for lv in side.asks:
            if ZERO < lv.price < ONE and lv.size > 0:  # executable levels only
                merged[lv.price] = merged.get(lv.price, ZERO) + lv.size
        prices = tuple(sorted(merged))[: 1 if spends_dollars else None]
        sizes = tuple(merged[p] for p in prices)
        cum, full_cost, full_fee, level_fees = [ZERO], [ZERO], [ZERO], []
        unit = ZERO
        for p, q in zip(prices, sizes, strict=True):
            fee = fee_model.fill_fee(q, p)
            level_fees.append(fee)
            cum.append(cum[-1] + q)
            full_cost.append(full_cost[-1] + p * q)
            full_fee.append(full_fee[-1] + fee)
            # The fee rounding only: a dollar buy's cent of rounding is left to upper_cost_fees (the bounds
            # are taken on the unrounded spend, which the rounded one never beats).
            unit = max(unit, fee_shape(fee_model, p)[1])
        return cls(prices, sizes, tuple(cum), tuple(full_cost), tuple(full_fee), tuple(level_fees), fee_model, unit,
                   spends_dollars)

    @property
    def total(self) -> Decimal:
        return self.cum[-1]

    def level_at(self, s: Decimal) -> int:
        """Index k of the level the share after position ``s`` comes from: cum[k] ≤ s < cum[k+1]."""
        return bisect_right(self.cum, s) - 1

    def fills_in_full(self, s: Decimal) -> bool:
        """Whether an immediate buy of ``s`` shares, limited at the worst level it walks, fills in full.

        A buy taken as dollars is signed for ``s`` x that limit, rounded up to the cent, and the venue
        spends all of it: a fill-or-kill buy whose dollars the book cannot absorb at or below the limit
        is killed. So all of a level is out of reach when its cost is not a whole number of cents (a
        level of 321 at 0.155 holds $49.755 of asks: a buy of all 321 is signed for $49.76 and killed,
        one of 320, for $49.60, fills). A buy for a number of contracts (Kalshi's) fills at any size
        within the depth.
        """
        if s > self.total:
            return False
        if not self.spends_dollars or s <= 0:
            return True
        k = bisect_left(self.cum, s) - 1  # the level the last share comes from: cum[k] < s <= cum[k+1]
        return polymarket_buy_spend(s, self.prices[k]) <= self.full_cost[k + 1]

    def spend_limits(self) -> tuple[Decimal, ...]:
        """Per level, the most shares whose buy limited there the book can absorb (see :meth:`fills_in_full`).

        Within one level the spend only grows with the size, so the sizes that fill are those up to
        this bound: the size search takes them as critical sizes, past which a level stops filling.
        """
        if not self.spends_dollars:
            return ()
        return tuple(min(self.cum[k + 1], floor_to(self.full_cost[k + 1], CENT) / p) for k, p in enumerate(self.prices))

    def largest_fillable(self, s: Decimal, grid: Decimal) -> Decimal:
        """The largest size on ``grid``, at most ``s``, that :meth:`fills_in_full` (0 when none does)."""
        s = floor_to(min(s, self.total), grid)
        limits = self.spend_limits()
        while s > 0 and not self.fills_in_full(s):
            s = min(floor_to(limits[bisect_left(self.cum, s) - 1], grid), s - grid)
        return max(s, ZERO)

    def linear_cost(self, s: Decimal) -> Decimal:
        """Cost plus fees of buying ``s`` before any rounding: price plus unrounded fee, per contract."""
        out, left = ZERO, s
        for p, q in zip(self.prices, self.sizes, strict=True):
            take = min(left, q)
            if take <= 0:
                break
            out += take * (p + fee_shape(self.fee_model, p)[0])
            left -= take
        return out

    def cost_fees(self, s: Decimal) -> tuple[Decimal, Decimal]:
        """(cost, fees) of buying ``s``; a buy taken as dollars costs them (:func:`polymarket_buy_fill`)."""
        if self.spends_dollars and s > 0:
            spend, _, fee = polymarket_buy_fill(s, self.prices[bisect_left(self.cum, s) - 1], self.fee_model)
            return spend, fee
        k = self.level_at(s)
        cost, fees = self.full_cost[k], self.full_fee[k]
        if k < len(self.prices):
            q = s - self.cum[k]
            if q > 0:
                p = self.prices[k]
                cost += p * q
                fees += self.fee_model.fill_fee(q, p)
        return cost, fees

    def upper_cost_fees(self, s: Decimal) -> tuple[Decimal, Decimal]:
        """:meth:`cost_fees` with a dollar buy's spend not rounded up (size × price, the fee on ``s`` shares):
        never more than what buying ``s`` costs (the rounding only adds dollars, and shares to pay the fee
        on), so the profit it gives bounds the true profit from above, as the search's bounds need, with
        the fee rounding unit alone; with the cent of rounding in the unit the bounds pruned far less and
        a scan took twice as long."""
        if self.spends_dollars and s > 0:
            price = self.prices[bisect_left(self.cum, s) - 1]
            return s * price, self.fee_model.fill_fee(s, price)
        return self.cost_fees(s)

    def fills(self, s: Decimal) -> tuple[Fill, ...]:
        """The fills buying ``s`` makes; a buy taken as dollars, the shares they buy at its one level."""
        if self.spends_dollars and s > 0:
            price = self.prices[bisect_left(self.cum, s) - 1]
            _, shares, fee = polymarket_buy_fill(s, price, self.fee_model)
            return (Fill(price, shares, fee),)
        k = self.level_at(s)
        out = [Fill(self.prices[i], self.sizes[i], self.level_fees[i]) for i in range(k)]
        if k < len(self.prices):
            q = s - self.cum[k]
            if q > 0:
                out.append(Fill(self.prices[k], q, self.fee_model.fill_fee(q, self.prices[k])))
        return tuple(out)


# --------------------------------------------------------------------------------------------------
# the size search


def _steps(x: Decimal, grid: Decimal, rounding: str) -> int:
    with localcontext() as ctx:
        ctx.prec = 40
        return int((x / grid).to_integral_value(rounding=rounding))


def size_grid(steps: Sequence[Decimal]) -> Decimal:
    """The coarsest step every leg accepts: lcm of the size steps (0.01 and 0.01 → 0.01)."""
    if not steps or any(s <= 0 for s in steps):
        raise DataError("size_step", f"non-positive size step in {[str(s) for s in steps]}")
    places = max(max(0, -int(s.normalize().as_tuple().exponent)) for s in steps)
    ints = [int(s.scaleb(places)) for s in steps]
    return Decimal(reduce(lcm, ints)).scaleb(-places)


@dataclass(frozen=True, slots=True)
class _Choice:
    steps: int
    value: Decimal  # P(n) − hurdle·size at the chosen size


def _best_size(ladders: Sequence[_Ladder], grid: Decimal, n_lo: int, n_hi: int, payout: Decimal, *,
               larger_on_tie: bool = False) -> _Choice | None:
    """argmax over n in [n_lo, n_hi] of ``n·grid·payout − Σ cost − Σ fees`` (see module docstring).

    Ties go to the smaller size, or with ``larger_on_tie`` to the larger: under a hurdle (payout
    below 1) equal values mean the extra contracts earn exactly the hurdle, so more of them is more
    profit, not the same profit for more capital.
    """
    if n_lo > n_hi:
        return None

    def profit(n: int, unrounded: bool) -> Decimal:
        s = n * grid
        v = s * payout
        for lad in ladders:
            c, f = lad.upper_cost_fees(s) if unrounded else lad.cost_fees(s)
            v -= c + f
        return v

    def value(n: int) -> Decimal:
        return profit(n, False)

    def upper(n: int) -> Decimal:
        """At least value(n): the profit with each dollar buy's spend unrounded (the bounds' reference)."""
        return profit(n, True)

    def fills(n: int) -> bool:
        return all(lad.fills_in_full(n * grid) for lad in ladders)

    crit = {n_lo, n_hi}
    for lad in ladders:
        # Level boundaries, and (Polymarket) the last size of each level whose spend the book absorbs:
        # between two critical sizes every leg stays on one level and either fills or does not.
        for c in (*lad.cum[1:-1], *lad.spend_limits()):
            for n in (_steps(c, grid, ROUND_FLOOR), _steps(c, grid, ROUND_CEILING)):
                if n_lo < n < n_hi:
                    crit.add(n)
    every = sorted(crit)
    points = every
    # 1. truncation: from the first size whose next share costs ≥ payout, P never rises again (with
    #    larger_on_tie, from one whose next share costs more: at equal cost P stays level). So the
    #    first size from there that fills is the best of the rest (one that fills: critical sizes).
    #    Not quite with a buy taken as dollars: its spend is rounded up to the cent, so a larger size
    #    whose spend is a whole number of cents can earn more. Past the cut, P stays below its unrounded
    #    figure at the cut plus the fee floors (``tail_bound``): the rest is searched when that can win.
    tail_bound: Decimal | None = None
    for i, n in enumerate(points):
        if n == n_hi:
            break
        s = n * grid
        cost = sum(lad.prices[lad.level_at(s)] for lad in ladders)
        if cost > payout or (cost == payout and not larger_on_tie):  # a tie may still extend the size
            last = next((j for j in range(i, len(points)) if fills(points[j])), len(points) - 1)
            if any(lad.spends_dollars for lad in ladders) and last + 1 < len(points):
                cut = points[last] * grid
                tail_bound = cut * payout - sum((lad.linear_cost(cut) for lad in ladders), ZERO) + sum(
                    (POLY_FEE_STEP for lad in ladders if lad.fee_model.kind == "polymarket"), _BOUND_SLACK)
            points = points[: last + 1]
            break

    found = _search(ladders, grid, points, payout, larger_on_tie, value, upper, fills)
    if tail_bound is not None and (found is None or tail_bound >= found.value):
        found = _search(ladders, grid, every, payout, larger_on_tie, value, upper, fills)
    return found


def _search(ladders: Sequence[_Ladder], grid: Decimal, points: Sequence[int], payout: Decimal, larger_on_tie: bool,
            value: Callable[[int], Decimal], upper: Callable[[int], Decimal],
            fills: Callable[[int], bool]) -> _Choice | None:
    """Steps 2 and 3 of the size search (module docstring) over the critical sizes ``points``. The bounds
    are taken from ``upper`` (at least ``value``; equal but for a dollar buy's cent of rounding)."""
    best_n, best_v = -1, Decimal(0)

    def consider(n: int, v: Decimal) -> None:
        nonlocal best_n, best_v
        if best_n < 0 or v > best_v or (v == best_v and (n > best_n if larger_on_tie else n < best_n)):
            best_n, best_v = n, v

    # 2. every critical size that fills
    for n in points:
        if fills(n):
            consider(n, value(n))

    # 3. the interiors, most promising first
    unit_sum = sum((lad.unit for lad in ladders), ZERO) + _BOUND_SLACK
    intervals: list[tuple[Decimal, int, int, Decimal, Decimal, Decimal]] = []
    for a, b in pairwise(points):
        if b - a < 2:
            continue
        lo, hi = a + 1, b - 1
        if not fills(lo):  # nor does any size in between (see the critical sizes)
            continue
        consider(lo, value(lo))
        consider(hi, value(hi))
        v_lo, v_hi = upper(lo), upper(hi)  # the bounds' references (module docstring)
        s_lo = lo * grid
        slope = payout
        for lad in ladders:
            p = lad.prices[lad.level_at(s_lo)]
            slope -= p + fee_shape(lad.fee_model, p)[0]
        m = slope * grid
        bound = (v_hi if m > 0 else v_lo if m < 0 else min(v_lo, v_hi)) + unit_sum
        intervals.append((bound, lo, hi, v_lo, v_hi, m))
    intervals.sort(key=lambda t: t[0], reverse=True)

    budget = SCAN_BUDGET
    for bound, lo, hi, v_lo, v_hi, m in intervals:
        if bound < best_v:
            break  # sorted: no later interval can beat the best either
        if hi - lo < 2:
            continue
        if m > 0:
            candidates = range(hi - 1, lo, -1)
            ref_n, ref_v = hi, v_hi
        else:
            candidates = range(lo + 1, hi)
            ref_n, ref_v = lo, v_lo
        scanned = 0
        for n in candidates:
            if ref_v + m * (n - ref_n) + unit_sum < best_v:
                break  # further from ref only lowers the bound (or, for m = 0, keeps it)
            if scanned >= INTERVAL_SCAN_CAP or budget <= 0:
                break  # capped: the chosen size is then within unit_sum of the true maximum
            consider(n, value(n))
            scanned += 1
            budget -= 1
    if best_n < 0:
        return None
    return _Choice(best_n, best_v)


# --------------------------------------------------------------------------------------------------
# building opportunities


def _check_book(market: Market, book: OrderBook) -> None:
    if book.venue is not market.venue or book.market_id != market.id:
        raise DataError("book", f"book {book.venue.value}:{book.market_id} is not for market {market.id}")


def _price_legs(
    specs: Sequence[tuple[Market, OrderBook, Side]],
    *,
    kind: OpportunityKind,
    strategy: str,
    pair_key: str,
    title: str,
    event_id: str,
    now: datetime,
    max_size: Decimal | None,
    min_edge: Decimal,
    quote_ttl_seconds: int,
    market_now: datetime | None = None,
) -> Opportunity | None:
    if now.tzinfo is None:
        raise DataError("now", "naive datetime (timezone-aware UTC required)")
    if max_size is not None and max_size <= 0:
        return None
    if any(not m.is_open or m.market_type != "binary" for m, _, _ in specs):
        return None  # fail closed: no quotes from paused/closed markets, no scalar payouts
    ladders = [_Ladder.from_asks(book.side(side), m.fee_model, spends_dollars=m.venue is Venue.POLYMARKET)
               for m, book, side in specs]
    if any(lad.total <= 0 for lad in ladders):
        return None
    grid = size_grid([m.size_step for m, _, _ in specs])
    n_lo = max(1, _steps(max(m.min_size for m, _, _ in specs), grid, ROUND_CEILING))
    for (m, _, _), lad in zip(specs, ladders, strict=True):
        if m.venue is Venue.POLYMARKET:  # enough shares that even at its best ask the buy spends $1
            n_lo = max(n_lo, _steps(POLYMARKET_MIN_MARKETABLE_BUY / lad.prices[0], grid, ROUND_CEILING))
    cap = min(lad.total for lad in ladders)
    if max_size is not None:
        cap = min(cap, max_size)
    n_hi = _steps(cap, grid, ROUND_FLOOR)

    choice = _best_size(ladders, grid, n_lo, n_hi, ONE)
    if choice is None:
        return None
    if min_edge > 0 and choice.value < min_edge * choice.steps * grid:
        choice = _best_size(ladders, grid, n_lo, n_hi, ONE - min_edge, larger_on_tie=True)
        if choice is None or choice.value < 0:
            return None
    size = choice.steps * grid

    legs: list[Leg] = []
    for (market, _, side), lad in zip(specs, ladders, strict=True):
        fills = lad.fills(size)
        cost, fees = lad.cost_fees(size)
        bought = sum((f.size for f in fills), ZERO)
        token = ""
        if market.venue is Venue.POLYMARKET:
            token = market.yes_token if side is Side.YES else market.no_token
        legs.append(
            Leg(
                venue=market.venue,
                market_id=market.id,
                side=side,
                size=size,
                avg_price=ceil_to(sum((f.price * f.size for f in fills), ZERO) / bought, _AVG_PRICE_STEP),
                worst_price=fills[-1].price,
                fees=fees,
                levels_consumed=len(fills),
                depth_available=lad.total,
                cost=cost,
                fills=fills,
                token_id=token,
            )
        )
    cost = sum((leg.cost for leg in legs), ZERO)
    fees = sum((leg.fees for leg in legs), ZERO)
    gross = size - cost
    net = gross - fees
    if net <= 0 or net < min_edge * size:
        return None

    oldest = min(book.fetched_at for _, book, _ in specs)
    age = max(now - oldest, timedelta(0))
    closes = [m.close_time for m, _, _ in specs]
    close_time = None if any(c is None for c in closes) else max(c for c in closes if c is not None)
    return Opportunity(
        id=opportunity_id(kind, tuple((leg.venue.value, leg.market_id, leg.side.value) for leg in legs), now),
        kind=kind,
        legs=tuple(legs),
        size=size,
        cost=cost,
        fees=fees,
        gross_edge=ratio_down(gross, size),
        net_edge=ratio_down(net, size),
        gross_profit=gross,
        net_profit=net,
        return_on_capital=ratio_down(net, cost + fees),
        # Over the time to close of the markets' world: a recording's, replayed (MarketData.market_clock).
        annualized_return=annualized_return(net, cost + fees, close_time, market_now or now),
        close_time=close_time,
        quote_age_seconds=seconds(age),
        depth_consumed=max(leg.depth_fraction for leg in legs),
        observed_at=now,
        expires_at=oldest + timedelta(seconds=quote_ttl_seconds),
        pair_key=pair_key,
        strategy=strategy,
        title=title,
        event_id=event_id,
    )


def seconds(td: timedelta) -> Decimal:
    """A timedelta as exact Decimal seconds (microsecond resolution, no float)."""
    return Decimal(td.days * 86400 + td.seconds) + Decimal(td.microseconds).scaleb(-6)


def annualized_return(
    net_profit: Decimal, capital: Decimal, close_time: datetime | None, now: datetime
) -> Decimal | None:
    """Simple (not compounded) annualisation: ``net / capital × year / horizon``.

    The horizon runs from ``now`` to the *latest* close of the legs' markets, since the capital is
    tied up until every leg settles. It is floored at one day: payouts never arrive instantly, and
    minutes-to-close would otherwise turn a cent into a meaningless 10⁵ % a year. None when a
    market has no close time, has already closed, or there is no capital.
    """
    if close_time is None or capital <= 0 or close_time <= now:
        return None
    horizon = max(close_time - now, MIN_ANNUALIZATION_HORIZON)
    return ratio_down(net_profit * SECONDS_PER_YEAR, capital * seconds(horizon))
