"""How big a new trade is by default: the scanned size, cut to what the order limits allow.

Shared by a single trade without ``--size`` and by the watch, so both size a plan the same way before
the pre-trade checks see it: a scanned size that ORDER_CONTRACTS or ORDER_NOTIONAL would refuse outright
becomes the most that limit allows on the legs' size step, rather than a refusal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import typer

from orion_cli.cli.params import decimal_value, shown_option
from orion_cli.core.plain_text import plural

if TYPE_CHECKING:
    from orion_cli.core.config import Settings
    from orion_cli.core.models import Market
    from orion_cli.core.opportunity import Leg, Opportunity


ZERO = Decimal(0)


MAX_SIZE_OPTION = Decimal(10) ** 9


def parse_size_option(value: str | None) -> Decimal | None:
    if value is None:
        return None
    d = decimal_value(value, "--size")
    if d <= 0:
        raise typer.BadParameter(f"{shown_option(value)} must be a finite number > 0", param_hint="--size")
    if d > MAX_SIZE_OPTION:  # beyond any book; and 1e400 is beyond what a Decimal rounds (an internal error)
        raise typer.BadParameter(f"{shown_option(value)} is more than {MAX_SIZE_OPTION:,} contracts",
                                 param_hint="--size")
    return d


def default_key(opportunity_id: str) -> str:
    """One execution per stored opportunity unless the operator names another key."""
    return f"op-{opportunity_id.strip().lower()}"


@dataclasses.dataclass(frozen=True, slots=True)
class LimitedSize:
    """A new trade's default size: the scanned size, or, when an order limit cuts it, the most that
    limit allows on the legs' size step (:func:`size_within_limits`)."""

    scanned: Decimal
    size: Decimal | None  # None: the limits allow less than the smallest size the legs trade
    binding: str | None = None  # the limit cutting the scanned size, "order_contracts" or "order_notional"
    limit: Decimal = ZERO  # that limit's value
    allowed: Decimal = ZERO  # the most it allows, floored to the legs' size step
    smallest: Decimal = ZERO  # the smallest size the legs trade (one size step, or a market's minimum)
    step: Decimal = ZERO  # the legs' size step

    @property
    def reason(self) -> str:
        """The check that refuses a trade none of whose sizes fits: the binding limit's."""
        return (self.binding or "order_notional").upper()

    def cut_note(self) -> str:
        """Said when the limit cuts the scanned size."""
        from orion_cli.store.tables import plain

        return (f"size {plain(self.allowed)} (scanned {plain(self.scanned)}, capped by {self._limit()}; "
                "--size to choose)")

    def unfit_note(self, op_id: str) -> str:
        """Why no size of ``op_id`` fits the limits."""
        from orion_cli.store.tables import plain

        if self.allowed <= 0:
            return (f"{self._limit()} allows less than one size step ({plain(self.step)}) of {op_id} at the "
                    "scanned prices")
        return (f"{self._limit()} allows {plain(self.allowed)} {plural(self.allowed, 'contract')} of {op_id} at the "
                f"scanned prices, below the smallest size its legs trade ({plain(self.smallest)})")

    def _limit(self) -> str:
        from orion_cli.store.tables import plain

        value = f"${plain(self.limit)}" if self.binding == "order_notional" else f"{plain(self.limit)}"
        return f"limits.{self.binding} {value}"


def scanned_size_fits(op: Opportunity, settings: Settings) -> bool:
    """Whether the scanned size fits ORDER_CONTRACTS and ORDER_NOTIONAL: each leg's cash out at its limit
    (worst) price with its scanned fees, by the check's own figure (:func:`order_cash_out`: rounded up to
    the cent)."""
    from orion_cli.core.models import order_cash_out

    limits = settings.limits
    return op.size <= limits.order_contracts and all(
        order_cash_out(leg.venue, op.size, leg.worst_price, leg.fees) <= limits.order_notional for leg in op.legs)


def scanned_cash_out(leg: Leg, market: Market, size: Decimal) -> Decimal:
    """The cash out ORDER_NOTIONAL counts for a buy of ``size`` of ``leg`` at the scanned prices: the
    plan's own figures for it (:func:`costed_buy`: the limit and fees of the cheapest levels ``size``
    takes of those the scan walked, each its own fill) through :func:`order_cash_out`, as the check.

    Not the scanned size's fee per contract: the cheapest levels can cost more in fees per contract
    (Kalshi's fee is highest at 0.5), and a size so cut was then refused by ORDER_NOTIONAL. A stored
    opportunity without its fills (an earlier build's) is walked at its worst price.
    """
    from orion_cli.core.models import PriceLevel, order_cash_out
    from orion_cli.execution.executor import costed_buy

    asks = [PriceLevel(f.price, f.size) for f in leg.fills]
    walked = sum((f.size for f in leg.fills), ZERO)
    if walked < size:
        asks.append(PriceLevel(leg.worst_price, size - walked))
    limit, _, fees, _ = costed_buy(market, asks, size)
    return order_cash_out(leg.venue, size, limit, fees)


def order_limit_cap(op: Opportunity, settings: Settings, markets: Sequence[Market],
                    grid: Decimal) -> tuple[Decimal, str | None]:
    """The most of ``op`` on ``grid`` (the legs' size step) that ORDER_CONTRACTS and ORDER_NOTIONAL allow
    on every leg at the scanned prices, and which of them binds (None: neither cuts the scanned size).

    ORDER_NOTIONAL is judged by :func:`scanned_cash_out`, the check's figure, which grows with the size:
    the largest size that fits is found by bisection on the grid, so one step more does not fit.
    ``markets``: the legs' markets (their fee models).
    """
    from orion_cli.core.errors import DataError
    from orion_cli.core.money import floor_to

    limits = settings.limits
    by_key = {(m.venue, m.id): m for m in markets}
    try:
        legs = [(leg, by_key[(leg.venue, leg.market_id)]) for leg in op.legs]
    except KeyError as exc:
        raise DataError("markets", f"no market for leg {exc.args[0]}") from None

    def fits(n: int) -> bool:
        return all(scanned_cash_out(leg, m, n * grid) <= limits.order_notional for leg, m in legs)

    most = floor_to(min(limits.order_contracts, op.size), grid)
    hi = int(most / grid)
    if fits(hi):
        return most, "order_contracts" if limits.order_contracts < op.size else None
    lo = 0  # fits (a size of 0 takes nothing); hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo * grid, "order_notional"


def size_within_limits(op: Opportunity, settings: Settings,
                       markets: Callable[[], Sequence[Market]]) -> LimitedSize:
    """The default size of a new trade of ``op``: the scanned size when it fits limits.order_contracts
    and limits.order_notional, else the most the binding limit allows on the legs' size step (the grid
    the scan and the plan size on: the lcm of the markets' size steps) at the scanned prices, by the
    checks' own figures (:func:`order_limit_cap`), or no size when that is below the smallest size the
    legs trade (one step, or a market's minimum order).

    ``markets``: the legs' markets, asked for only when a limit binds (their size steps and fee models
    are not stored with the opportunity).
    """
    from orion_cli.core.money import ceil_to
    from orion_cli.core.pricing import size_grid

    if scanned_size_fits(op, settings):
        return LimitedSize(op.size, op.size)
    legs = markets()
    grid = size_grid([m.size_step for m in legs])
    allowed, binding = order_limit_cap(op, settings, legs, grid)
    if binding is None:
        return LimitedSize(op.size, op.size)
    smallest = max(grid, ceil_to(max(m.min_size for m in legs), grid))
    limit = settings.limits.order_notional if binding == "order_notional" else settings.limits.order_contracts
    return LimitedSize(op.size, allowed if allowed >= smallest else None, binding, limit, allowed, smallest, grid)


def short_of_venue_minimum(op: Opportunity, size: Decimal) -> str | None:
    """Why ``size`` of ``op`` would spend less than a venue takes for an immediate buy, or None.

    The limits can cap a trade below Polymarket's $1 minimum (5 x 0.15 under a $5 order notional);
    INVALID_ORDER would refuse it, and ``--watch`` would try it again every round. The price is the
    scanned ladder walked to ``size``: the limit a plan on the same books would carry.
    """
    from orion_cli.core.models import POLYMARKET_MIN_MARKETABLE_BUY, Venue, polymarket_buy_short_of_minimum

    for leg in op.legs:
        if leg.venue is not Venue.POLYMARKET:
            continue
        walked, price = ZERO, leg.worst_price
        for fill in leg.fills:
            walked += fill.size
            if walked >= size:
                price = fill.price
                break
        spend = polymarket_buy_short_of_minimum(size, price)
        if spend is not None:
            return (f"{size} {plural(size, 'contract')} (what the order limits allow) at <= {price} spend {spend} on "
                    f"Polymarket, below its {POLYMARKET_MIN_MARKETABLE_BUY} dollar minimum for an immediate buy")
    return None


def refuse_size_below_step(size: Decimal, markets: Sequence[Market]) -> None:
    """A --size below one step of the legs' common size grid (0.001 where both venues count in
    hundredths, 0.5 on a whole-contract Kalshi market) rounds to 0 contracts: a mistyped size, refused
    as a usage error (exit 2) naming the smallest size, before anything is written or sent. Planned, it
    went on to a plan of 0 contracts that INVALID_ORDER then refused (exit 6), as if a check had."""
    from orion_cli.core.models import POLYMARKET_MIN_MARKETABLE_BUY, Venue
    from orion_cli.core.money import ceil_to, floor_to
    from orion_cli.core.pricing import size_grid
    from orion_cli.store.tables import plain

    grid = size_grid([m.size_step for m in markets])
    if floor_to(size, grid) <= 0:
        # The smallest size is also each market's minimum order (Polymarket's orderMinSize), on the grid.
        smallest = max(grid, ceil_to(max(m.min_size for m in markets), grid))
        # Not "the smallest size they trade" where a Polymarket leg is: a buy there must also spend $1,
        # and 5 at 0.15 was then refused by INVALID_ORDER (exit 6) as the size the message named.
        dollars = next((f"; a Polymarket buy must also spend at least ${plain(POLYMARKET_MIN_MARKETABLE_BUY)}"
                        for m in markets if m.venue is Venue.POLYMARKET), "")
        raise typer.BadParameter(f"{plain(size)} {plural(size, 'contract')} is below one size step of these legs "
                                 f"({plain(grid)}) and would round to 0; the smallest size they trade is "
                                 f"{plain(smallest)}{dollars}", param_hint="--size")
