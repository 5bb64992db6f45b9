"""Venue-neutral market-data model: markets, order books and ticks.

Both venues are normalised to one picture: a binary market with a YES and a NO side, each side a
list of bids and asks *best first*, prices in dollars (0–1) and sizes in contracts, all Decimal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from orion_cli.core.errors import DataError
from orion_cli.core.fees import FeeModel
from orion_cli.core.money import CENT, MICRO, ONE, ZERO, ceil_to, floor_to, is_multiple


class Venue(StrEnum):
    KALSHI = "kalshi"
    POLYMARKET = "polymarket"


# Polymarket refuses a marketable BUY (every buy orion sends there: FOK or FAK) that spends less than
# $1, "invalid amount for a marketable BUY order ($0.5), min size: $1" (reference pitfall 8), however
# many shares it is for. Unchecked, such a leg passed every check and was refused once sent: as the
# second leg, after the first had filled, leaving it to unwind. The scan does not offer one either.
POLYMARKET_MIN_MARKETABLE_BUY = Decimal(1)


def order_cash_out(venue: Venue, size: Decimal, limit_price: Decimal, fees: Decimal) -> Decimal:
    """The cash a buy of ``size`` at ``limit_price`` can take from the account at worst, with its fees.

    Kalshi keeps a non-direct member's balance (one trading through a broker) to the cent, charging a
    rounding fee per order to get there; the reference's safety margin is cash out rounded up to the
    cent. Orion cannot tell which kind of member an account is, so it assumes the worse. An immediate
    Polymarket buy is signed for size x limit rounded up to the cent (:func:`polymarket_buy_spend`),
    which it spends in full; its fees are counted on top, as the worse case.

    One figure for BALANCE and ORDER_NOTIONAL, and for the default size a trade is cut to: a size that
    fitted the limit by another figure was planned, then refused by ORDER_NOTIONAL.
    """
    if venue is Venue.KALSHI:
        return ceil_to(size * limit_price + fees, CENT)
    return polymarket_buy_spend(size, limit_price) + fees


def polymarket_buy_spend(size: Decimal, limit_price: Decimal) -> Decimal:
    """The dollars an immediate Polymarket buy of ``size`` at ``limit_price`` is signed for, and spends.

    Size x limit rounded up to the cent, as ``marketable_amounts`` signs it: the venue takes a marketable
    buy as an amount of dollars and spends all of it, best ask first (more shares at better prices).
    """
    return ceil_to(size * limit_price, CENT)


def polymarket_buy_shares(spend: Decimal, price: Decimal) -> Decimal:
    """The shares ``spend`` dollars buy at ``price``: floored to the venue's 6-decimal base unit (its
    fills state shares to 6 places: $1 at 0.48 bought 2.083334 in a recorded fill; floored here, so
    orion never counts a share more than the venue gives)."""
    return floor_to(spend / price, MICRO)


def polymarket_buy_fill(size: Decimal, limit_price: Decimal, fee_model: FeeModel) -> tuple[Decimal, Decimal, Decimal]:
    """(dollars spent, shares bought, fee) of an immediate Polymarket buy of ``size`` filled at its limit.

    The buy is signed for :func:`polymarket_buy_spend` dollars and the venue spends all of them, so it
    gets a little more than ``size`` shares; the venue's fee is on the shares bought. Pricing, the
    trade's plan and the paper venue all cost a Polymarket buy leg this way: at its dollars (the extra
    shares are not counted as hedged value) plus that fee.
    """
    spend = polymarket_buy_spend(size, limit_price)
    shares = polymarket_buy_shares(spend, limit_price)
    return spend, shares, fee_model.fill_fee(shares, limit_price)


def polymarket_buy_short_of_minimum(size: Decimal, limit_price: Decimal) -> Decimal | None:
    """What an immediate Polymarket buy of ``size`` at ``limit_price`` spends, when under the minimum.

    One rule for everything that sends or models a buy there: the pre-trade check, a hedge retry
    sized by what the first leg filled, and the paper venue (so paper refuses what live would).
    """
    spend = polymarket_buy_spend(size, limit_price)
    return spend if spend < POLYMARKET_MIN_MARKETABLE_BUY else None


class Side(StrEnum):
    """Which outcome token: YES or NO."""

    YES = "yes"
    NO = "no"

    @property
    def other(self) -> Side:
        return Side.NO if self is Side.YES else Side.YES


class MarketStatus(StrEnum):
    """Normalised status; venues' own vocabularies are mapped by their clients."""

    OPEN = "open"
    PAUSED = "paused"
    UNOPENED = "unopened"
    CLOSED = "closed"
    SETTLED = "settled"


@dataclass(frozen=True, slots=True)
class TickRange:
    start: Decimal
    end: Decimal
    step: Decimal


@dataclass(frozen=True, slots=True)
class TickStructure:
    """Valid prices: a list of ranges each with its own step (Kalshi's ``price_ranges``)."""

    ranges: tuple[TickRange, ...]

    @classmethod
    def uniform(cls, step: Decimal) -> TickStructure:
        return cls((TickRange(ZERO, ONE, step),))

    def step_at(self, price: Decimal) -> Decimal:
        """The step of the first range holding ``price`` (at a boundary, the lower range's): a label for
        the grid near a price, never a distance to walk (:meth:`tick_above` / :meth:`tick_below` do that)."""
        for r in self.ranges:
            if r.start <= price <= r.end:
                return r.step
        return self.ranges[-1].step if self.ranges else Decimal("0.01")

    @property
    def min_step(self) -> Decimal:
        return min(r.step for r in self.ranges)

    def is_valid(self, price: Decimal) -> bool:
        """On the grid and strictly inside (0, 1)."""
        if price <= 0 or price >= ONE:
            return False
        return any(r.start <= price <= r.end and is_multiple(price - r.start, r.step) for r in self.ranges)

    def tick_above(self, price: Decimal, *, inclusive: bool = False) -> Decimal | None:
        """The lowest valid price above ``price`` (or at it, with ``inclusive``); None when there is none.

        Every range's grid (counted from its start) is looked at, so at a boundary the step up is the
        upper range's: on Kalshi's tapered structure 0.90 goes to 0.901, 0.10 to 0.11.
        """
        if price <= 0:
            price, inclusive = ZERO, False
        best: Decimal | None = None
        for r in self.ranges:
            if price < r.start:
                cand = r.start
            else:
                cand = r.start + ceil_to(price - r.start, r.step)
                if cand == price and not inclusive:
                    cand += r.step
                if cand > r.end:
                    continue
            if best is None or cand < best:
                best = cand
        return best if best is not None and best < ONE else None

    def tick_below(self, price: Decimal, *, inclusive: bool = False) -> Decimal | None:
        """The highest valid price below ``price`` (or at it, with ``inclusive``); None when there is none.

        The mirror of :meth:`tick_above`: at a boundary the step down is the lower range's, so on
        Kalshi's tapered structure 0.90 goes to 0.89 and 0.10 to 0.099.
        """
        if price >= ONE:
            price, inclusive = ONE, False
        best: Decimal | None = None
        for r in self.ranges:
            if price < r.start:
                continue
            cand = r.start + floor_to(min(price, r.end) - r.start, r.step)
            if cand == price and not inclusive:
                cand -= r.step
                if cand < r.start:
                    continue
            if best is None or cand > best:
                best = cand
        return best if best is not None and best > 0 else None


@dataclass(frozen=True, slots=True)
class Market:
    """One binary market on one venue.

    ``id`` is the Kalshi ticker or the Polymarket condition id; Polymarket's outcome tokens are in
    ``yes_token`` / ``no_token``.

    Polymarket's neg-risk flag comes twice: ``neg_risk`` is Gamma's (event grouping: which markets
    form a mutually exclusive basket), ``clob_neg_risk`` the CLOB order book's (None when no book
    said). The book's is the one the CLOB holds orders to, and Gamma's can lag it, so an order is
    signed for the exchange :attr:`signs_neg_risk` names; basket eligibility keeps Gamma's.
    """

    venue: Venue
    id: str
    event_id: str
    title: str
    status: MarketStatus
    close_time: datetime | None
    fee_model: FeeModel
    ticks: TickStructure
    outcome_label: str = ""
    rules: str = ""
    category: str = ""
    open_time: datetime | None = None
    expected_resolution_time: datetime | None = None
    min_size: Decimal = Decimal("0.01")
    size_step: Decimal = Decimal("0.01")
    market_type: str = "binary"  # or "scalar"
    neg_risk: bool = False
    neg_risk_augmented: bool = False
    clob_neg_risk: bool | None = None
    is_other: bool = False  # an "Other"/placeholder outcome of a multi-outcome event
    yes_token: str = ""
    no_token: str = ""
    event_title: str = ""
    url: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_open(self) -> bool:
        return self.status is MarketStatus.OPEN

    def not_open_at(self, now: datetime) -> str | None:
        """Why no order can go to this market at ``now``, or None when one can: its status is not open, or
        its close time has passed (``close_time <= now``). The one rule behind a leg's ``INVALID_ORDER``
        and the scan's holding back a pair as ``MARKET_NOT_OPEN`` (never priced)."""
        if self.status is not MarketStatus.OPEN:
            return f"market {self.id} is {self.status.value}, not open"
        if self.close_time is not None and self.close_time <= now:
            closed = self.close_time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            return f"market {self.id} closed at {closed}"
        return None

    @property
    def signs_neg_risk(self) -> bool:
        """Whether an order here is signed for the Neg Risk CTF Exchange: the CLOB book's flag when
        a book stated it, else Gamma's (a wrong flag is refused as "invalid signature")."""
        return self.neg_risk if self.clob_neg_risk is None else self.clob_neg_risk


@dataclass(frozen=True, slots=True)
class PriceLevel:
    price: Decimal
    size: Decimal


def _check_levels(levels: tuple[PriceLevel, ...], field_name: str) -> None:
    for i, lv in enumerate(levels):
        if not (ZERO < lv.price < ONE):
            raise DataError(f"{field_name}[{i}].price", f"out of range (0, 1): {lv.price}")
        if lv.size < 0:
            raise DataError(f"{field_name}[{i}].size", f"negative value {lv.size}")


@dataclass(frozen=True, slots=True)
class BookSide:
    """Bids (highest first) and asks (lowest first) for one outcome token."""

    bids: tuple[PriceLevel, ...] = ()
    asks: tuple[PriceLevel, ...] = ()

    @classmethod
    def build(cls, bids: list[PriceLevel], asks: list[PriceLevel], field_name: str = "book") -> BookSide:
        """Sort defensively (venues send worst→best), merge duplicates, drop empty levels."""
        b = _merge(bids, reverse=True)
        a = _merge(asks, reverse=False)
        _check_levels(b, f"{field_name}.bids")
        _check_levels(a, f"{field_name}.asks")
        return cls(b, a)

    @property
    def best_bid(self) -> PriceLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> PriceLevel | None:
        return self.asks[0] if self.asks else None

    @property
    def crossed(self) -> bool:
        """The best bid is at or above the best ask. A venue matches such orders as they arrive, so a
        book showing both is not one it holds: pricing it would buy at an ask under a bid that exists
        only in the data (a recording's 0.01 ask under a 0.11 bid was offered as 46 arbitrages)."""
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid.price >= ask.price

    def off_grid(self, ticks: TickStructure) -> PriceLevel | None:
        """The first level (bids, then asks) whose price ``ticks`` holds invalid, the rule a leg's limit
        price is checked by (``INVALID_ORDER``): a scan must not offer a price no order can be sent at."""
        return next((lv for lv in (*self.bids, *self.asks) if not ticks.is_valid(lv.price)), None)


def repeated_price(levels: Sequence[PriceLevel]) -> Decimal | None:
    """A price listed at more than one level of one side (of the levels with size), or None.

    Venues send each price once; :meth:`BookSide.build` would add the sizes, doubling the depth a
    copy-pasted level shows, so the venue parsers refuse such a side instead."""
    seen: set[Decimal] = set()
    for lv in levels:
        if lv.size > 0:
            if lv.price in seen:
                return lv.price
            seen.add(lv.price)
    return None


def _merge(levels: list[PriceLevel], *, reverse: bool) -> tuple[PriceLevel, ...]:
    acc: dict[Decimal, Decimal] = {}
    for lv in levels:
        if lv.size > 0:
            acc[lv.price] = acc.get(lv.price, ZERO) + lv.size
    return tuple(PriceLevel(p, s) for p, s in sorted(acc.items(), key=lambda kv: kv[0], reverse=reverse))


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Both outcome sides of one market as orion reads it.

    ``unreadable`` names a side (``"yes"``/``"no"``) whose book could not be read, with why: a
    Polymarket market's two sides are two tokens' books, and the venue can answer one and not the
    other. Such a side is empty because nothing was read, not because it has no depth: no order
    can fill against it, and ``orion book`` says so rather than show it as an empty book.
    """

    venue: Venue
    market_id: str
    yes: BookSide
    no: BookSide
    fetched_at: datetime
    unreadable: dict[str, str] = field(default_factory=dict, hash=False)

    def side(self, side: Side) -> BookSide:
        return self.yes if side is Side.YES else self.no

    def unread(self, side: Side | str) -> str | None:
        """"the YES side could not be read (why)" for a side marked :attr:`unreadable`, else None: the
        words every command that meets such a side says it in."""
        name = side.value if isinstance(side, Side) else side
        why = self.unreadable.get(name)
        return f"the {name.upper()} side could not be read ({why})" if why else None

    def age_seconds(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        return max(0.0, (now - self.fetched_at).total_seconds())


def utcnow() -> datetime:
    return datetime.now(UTC)
