"""Kalshi authenticated trading: balance, positions, V2 orders, cancels and fills.

Why it looks the way it does (facts in ``../shared/reference/kalshi.md`` §2.3–2.5, §3, §7):

- Orders go through the V2 endpoint ``POST /portfolio/events/orders``, which quotes *everything on
  the YES book*: buy YES at p → ``bid`` p; sell YES at p → ``ask`` p; buy NO at q → ``ask`` 1−q;
  sell NO at q → ``bid`` 1−q. orion's prices are always the traded outcome's price, so the
  translation happens here and nowhere else, in both directions (request and fills).
- Prices are rounded onto the market's tick grid *toward safety* on the YES book: a ``bid`` is
  rounded down (never pay more), an ``ask`` up (never receive less). Both the NO-buy and the
  YES-sell cases are asks, so one rule covers all four combinations.
- The body is built once by :meth:`KalshiTrading.prepare` and persisted by the caller; a retry
  sends the same bytes with the same ``client_order_id``. Kalshi keeps client order ids forever
  (also after a cancel), so a 409 ``order_already_exists`` proves the first attempt landed: the
  order is looked up, never placed again.
- The 409 is only proof once the order found under the id *is* this order: the id may have been used
  on the account before (another orion ledger with the same idempotency key; a ledger restored from a
  backup), and an order holding it for another ticker, direction, count or price is someone else's.
  :meth:`find_order` checks an order it finds by client order id against the request it knows for
  that id and raises :class:`ClientOrderIdTaken` (a rejection: this order was not placed) for one
  that differs, so it is never adopted. An identical one is taken as this order: ids are unique per
  execution (its random nonce), so only a copy of this ledger made while the execution was in flight
  can hold it, and restored from a backup that copy's order is this execution's own (no rule on the
  venue's creation time can tell it from a copy still trading; one copy must resume the execution).
- ``VenueHttp.send`` never retries. A transport failure after the request may have left this host,
  or a 5xx on create, is :class:`OrderOutcomeUnknown`: look the order up first.
- Kalshi has no lookup by client order id: :meth:`find_order` lists ``/portfolio/orders`` (narrowed
  to the ticker when the request is known) and then ``/historical/orders``, filtering locally.
- A V2 ``ask`` is reported back (``book_side``/``outcome_side``) identically whether it was placed
  as "sell YES" or "buy NO": the venue cannot tell us which one we meant. Requests seen by this
  instance (``prepare``/``submit``/:meth:`remember`) are used; otherwise a ``bid`` reads as
  *buy YES* and an ``ask`` as *buy NO* (orion's arbitrage buys both outcomes).
- For the same reason every *sell* is sent ``reduce_only``: positions are netted (``position_fp``
  signed, + YES / − NO), so an ``ask`` with no YES held *buys NO* and a ``bid`` with no NO held buys
  YES. orion sells only to unwind shares it believes it holds; if they are gone (closed by hand, a
  sell the ledger missed), a plain sell would open the opposite position — naked exposure, the
  reverse of an unwind. ``reduce_only`` caps the count at the position held, so such a sell fills
  only what is really there (nothing, when nothing is). Buys omit the field (its default is false),
  so their wire format is unchanged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from orion_cli.core.aio import all_of, gather_limited
from orion_cli.core.errors import DataError, OrionError, VenueError, VenueUnavailable
from orion_cli.core.models import Market, Side, TickStructure, Venue
from orion_cli.core.money import (
    BASIS,
    CENT,
    LEDGER_PLACES,
    ONE,
    ZERO,
    floor_to,
    is_multiple,
    loads_exact,
    to_amount,
    to_price,
)
from orion_cli.venues.http import RetryPolicy, VenueHttp, VenueHttpError, VenueSendFailed
from orion_cli.venues.kalshi.client import PROD_BASE_URL, TIERS, RateTier, below_venue_bucket
from orion_cli.venues.kalshi.parse import (
    ExchangeStatus,
    KalshiErrorBody,
    describe_error,
    exchange_status_answer,
    parse_error_body,
)
from orion_cli.venues.kalshi.signing import KalshiSigner
from orion_cli.venues.trading import (
    TRANSFER_STATUSES,
    VOID,
    Action,
    Balance,
    ClientOrderIdTaken,
    Fill,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    PreparedOrder,
    Settlement,
    SettlementsIncomplete,
    Transfer,
    listed_once,
    reported_amount,
)

__all__ = [
    "CREATE_PATH",
    "ENDPOINT_COSTS",
    "HistoricalCutoff",
    "KalshiTrading",
    "OrderInvalid",
    "book_side_for",
    "outcome_price",
    "parse_settlement",
    "parse_transfer",
    "yes_book_price",
]

CREATE_PATH = "/portfolio/events/orders"
DEFAULT_COST = 10.0
DEFAULT_RETRY = RetryPolicy()
# Non-default token costs (GET /account/endpoint_costs, recorded 2026-06-11; V2 create is default).
ENDPOINT_COSTS: dict[str, float] = {
    "DELETE /portfolio/events/orders/:order_id": 2.0,
    "GET /portfolio/orders/:order_id": 2.0,
}
SIZE_STEP = Decimal("0.01")  # fractional trading is always on: counts in hundredths
LIST_LIMIT = 200
TRANSFER_LIMIT = 500  # the most the deposit and withdrawal lists allow: read whole on every report
# Markets whose settlements are read at once (each its own paged request; the read bucket still paces them).
SETTLEMENT_CONCURRENCY = 4
MAX_PAGES = 200
SELF_TRADE_PREVENTION = ("taker_at_cross", "maker")
_PRICE_Q = Decimal("0.0001")
_COUNT_Q = Decimal("0.01")
_CANCEL_POLL_DELAYS = (0.05, 0.1, 0.2, 0.4)


class OrderInvalid(OrderRejected):
    """Refused locally before anything was sent (off the size grid, price outside (0, 1), ...)."""


@dataclass(frozen=True, slots=True)
class HistoricalCutoff:
    """``GET /historical/cutoff``: data older than these moved to ``/historical/*``."""

    market_settled: datetime
    trades_created: datetime
    orders_updated: datetime


# -- the YES-book translation ----------------------------------------------------------------


def book_side_for(side: Side, action: Action) -> str:
    """V2 ``side``: buy YES / sell NO are ``bid``; sell YES / buy NO are ``ask``."""
    return "bid" if (side is Side.YES) == (action is Action.BUY) else "ask"


def yes_book_price(side: Side, price: Decimal) -> Decimal:
    """The outcome's price expressed on the YES book (NO at q is YES at 1 − q)."""
    return price if side is Side.YES else ONE - price


def outcome_price(side: Side, yes_price: Decimal) -> Decimal:
    """Inverse of :func:`yes_book_price`."""
    return yes_price if side is Side.YES else ONE - yes_price


def _default_direction(book_side: str) -> tuple[Side, Action]:
    return (Side.YES, Action.BUY) if book_side == "bid" else (Side.NO, Action.BUY)


# -- small wire helpers ----------------------------------------------------------------------


def _obj(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DataError(name, f"expected an object, got {type(value).__name__}")
    return value


def _str(obj: Mapping[str, Any], key: str, name: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise DataError(f"{name}.{key}", "missing")
        return ""
    if not isinstance(value, str):
        raise DataError(f"{name}.{key}", f"expected a string, got {type(value).__name__}")
    return value


def _dec(obj: Mapping[str, Any], key: str, name: str, *, default: Decimal | None = None) -> Decimal:
    value = obj.get(key)
    if value is None and default is not None:
        return default
    return to_amount(value, f"{name}.{key}")


def _reduced_by(content: bytes) -> Decimal | None:
    """``reduced_by`` of a V2 cancel answer (the count cancelled), or None when it cannot be read."""
    try:
        body = loads_exact(content)
        return to_amount(body.get("reduced_by"), "cancel.reduced_by") if isinstance(body, Mapping) else None
    except (ValueError, UnicodeDecodeError, DataError):
        return None


def _price(obj: Mapping[str, Any], key: str, name: str) -> Decimal:
    return to_price(obj.get(key), f"{name}.{key}", max_places=LEDGER_PLACES)


def _iso(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataError(name, f"expected an ISO-8601 time, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DataError(name, f"not an ISO-8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise DataError(name, f"time without a timezone: {value[:40]!r}")
    return parsed.astimezone(UTC)


def _epoch(value: Any, name: str, *, millis: bool = False) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(name, f"expected an integer timestamp, got {type(value).__name__}")
    try:
        return datetime.fromtimestamp(value / 1000 if millis else value, UTC)
    except (ValueError, OverflowError, OSError):  # milliseconds where seconds were meant, or worse
        raise DataError(name, f"not a time: {str(value)[:20]}") from None


def _cents(obj: Mapping[str, Any], key: str, name: str, *, below: int | None = None,
           label: str = "whole cents") -> Decimal:
    """A whole number of cents, 0 <= n (< ``below``), in dollars (the spec's integer cents fields)."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (below is not None and value >= below):
        raise DataError(f"{name}.{key}", f"expected {label}, got {str(value)[:20]!r}")
    return Decimal(value) / 100


def _void_refunds(obj: Mapping[str, Any], name: str, counts: tuple[tuple[Side, Decimal], ...],
                  revenue: Decimal) -> tuple[tuple[Side, Decimal], ...]:
    """What a voided market returned per contract of each side Kalshi settled: ``revenue`` (what
    came back, a fee refunded with the cost included) over the contracts. Both sides listed (Kalshi
    nets them, so not expected): ``revenue`` split by each side's ``*_total_cost_dollars``.

    That the refund is in ``revenue`` is read from the SDK's "returned at original cost", not
    recorded: a ``revenue`` short of the cost basis by more than a cent a contract (0 for a void, say)
    is refused as unreadable, so the market is named and the balance report waits, rather than
    booking a refund as a loss of everything the contracts cost."""
    held = [(side, n) for side, n in counts if n > 0]
    cost = {side: _dec(obj, f"{side.value}_total_cost_dollars", name) for side, _ in held}
    total = sum(cost.values(), ZERO)
    if revenue < total - CENT * sum((n for _, n in held), ZERO):
        raise DataError(f"{name}.revenue", f"a void returning {revenue} of a cost basis of {total}: is the refund "
                                           "elsewhere?")
    if len(held) == 1:
        return ((held[0][0], revenue / held[0][1]),)
    if held and total <= 0:
        raise DataError(f"{name}.yes_total_cost_dollars", "a void of both sides without what either cost")
    return tuple((side, cost[side] / n * revenue / total) for side, n in held)


def parse_settlement(obj: Mapping[str, Any], name: str) -> Settlement:
    """One spec ``Settlement``: ``value`` is one YES contract's payout in cents (absent: from the
    result), ``revenue`` the cents paid, the counts fixed-point strings.

    ``void``, which the spec's ``market_result`` enum (yes | no | scalar) does not list, is Kalshi's
    SDK's word for a market voided or cancelled, "all positions returned at original cost"
    (``value`` optional, and no YES payout either way): a settlement whose ``refunds`` are what
    ``revenue`` says came back (:func:`_void_refunds`).
    """
    ticker = _str(obj, "ticker", name)
    result = _str(obj, "market_result", name)
    if result == VOID:
        yes_payout = ZERO  # unused: a void pays its refunds
    elif obj.get("value") is not None:
        yes_payout = _cents(obj, "value", name, below=101, label="whole cents 0-100")
    elif result in ("yes", "no"):
        yes_payout = ONE if result == "yes" else ZERO
    else:
        raise DataError(f"{name}.value", f"a {result or 'blank'} result without the payout value")
    revenue = _cents(obj, "revenue", name)
    settled = _iso(obj.get("settled_time"), f"{name}.settled_time")
    if settled is None:
        raise DataError(f"{name}.settled_time", "missing")
    counts = tuple((side, _dec(obj, f"{side.value}_count_fp", name)) for side in (Side.YES, Side.NO))
    refunds = _void_refunds(obj, name, counts, revenue) if result == VOID else None
    # Paid as of its second: the balance that holds it says when in whole seconds (``updated_ts``), so
    # a payout within the balance's own second counts as held (never added on top of it twice).
    settled = settled.replace(microsecond=0)
    return Settlement(Venue.KALSHI, ticker, yes_payout, settled, result=result,
                      counts=counts, revenue=revenue,
                      source="settlements", refunds=refunds)


def parse_transfer(obj: Mapping[str, Any], kind: str, name: str) -> Transfer | None:
    """One spec ``Deposit`` / ``Withdrawal``: ``amount_cents`` and ``fee_cents`` whole cents,
    ``finalized_ts`` epoch seconds. None for one that never moved the cash (pending, failed).

    The amount excludes the fee, whichever way the venue charges it: a fee taken from the balance
    then counts as a loss, never as a gain.
    """
    transfer_id = _str(obj, "id", name)
    if not 0 < len(transfer_id) <= 100:
        raise DataError(f"{name}.id", f"an id of {len(transfer_id)} characters (1 to 100 are stored)")
    status = _str(obj, "status", name)
    if status not in ("pending", "applied", "failed", "returned"):
        raise DataError(f"{name}.status", f"not a transfer status: {status[:20]!r}")
    amount = _cents(obj, "amount_cents", name, below=10**15)
    if status not in TRANSFER_STATUSES:
        return None
    at = _epoch(obj.get("finalized_ts"), f"{name}.finalized_ts")
    if at is None:
        raise DataError(f"{name}.finalized_ts", f"missing for an {status} {kind}")
    method = obj.get("type")
    fee = None if obj.get("fee_cents") is None else _cents(obj, "fee_cents", name, below=10**15)
    return Transfer(Venue.KALSHI, transfer_id, kind, status, amount if kind == "deposit" else -amount, at,
                    method=method[:16] if isinstance(method, str) else "", fee=fee)


def _cursor(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get("cursor")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataError(f"{name}.cursor", f"expected a string, got {type(value).__name__}")
    return value


def _min_ts_param(when: datetime) -> int:
    """``min_ts`` for items from ``when`` on: the spec's filter keeps items *after* a whole second, so
    one second earlier than ``when``'s own (a fill in the second its order was created would be lost);
    the exact bound is applied to the answer."""
    return int(when.timestamp()) - 1


def _fees_from_average(per: Decimal, filled: Decimal) -> Decimal:
    """The fees of a create answer, which states only ``average_fee_paid``: the venue's per-contract
    average (spec), itself rounded to its last digit, so ``per × filled`` can be below what was
    charged (1 @ $0.52 + 8 @ $0.53 cost $0.1570; the average $0.0174 × 9 is $0.1566). A cost is
    never understated: the answer is the most the fills can have cost, the largest multiple of
    $0.0001 (each fill's fee is rounded up to it, reference §4) within half the average's last digit
    of it, per contract. Exact when one fill's average is exact (1 @ $0.52: $0.0175); the read-back
    order's ``taker_fees_dollars`` and the fills' ``fee_cost`` replace it with the exact sum."""
    if per <= 0 or filled <= 0:
        return ZERO
    half_digit = Decimal(1).scaleb(per.as_tuple().exponent) / 2  # type: ignore[arg-type]
    return floor_to((per + half_digit) * filled, BASIS)


def _not_the_request(order: Mapping[str, Any], request: OrderRequest) -> str:
    """How an order found under ``request``'s client order id differs from what ``request`` sends ("" when
    it is that order): ticker, YES-book side, price and count, as the venue lists them.

    A sell is sent ``reduce_only``, whose count the venue may cap at the position held: its order may
    list fewer contracts than asked, never more.
    """
    name = "order"
    differs: list[str] = []
    ticker = _str(order, "ticker", name)
    if ticker != request.market_id:
        differs.append(f"ticker {ticker}, not {request.market_id}")
    book_side = _str(order, "book_side", name)
    if book_side != book_side_for(request.side, request.action):
        differs.append(f"{book_side} on the YES book, not {book_side_for(request.side, request.action)}")
    price, sent = _price(order, "yes_price_dollars", name), yes_book_price(request.side, request.limit_price)
    if price != sent:
        differs.append(f"YES price {_price_str(price)}, not {_price_str(sent)}")
    count = _dec(order, "initial_count_fp", name)
    if count > request.size or (request.action is Action.BUY and count != request.size):
        differs.append(f"{_count_str(count)} contracts, not {_count_str(request.size)}")
    return "; ".join(differs)


def _count_str(count: Decimal) -> str:
    return f"{count.quantize(_COUNT_Q):f}"


def _price_str(price: Decimal) -> str:
    # Requests accept 2–4 decimal places (deci-cent ticks fit in 4); never more.
    return f"{price.quantize(_PRICE_Q):f}"


# -- the client ------------------------------------------------------------------------------


class KalshiTrading:
    """A live Kalshi account behind the venue-neutral :class:`~orion_cli.venues.trading.TradingVenue`.

    ``markets`` (ticker → :class:`Market`) gives :meth:`prepare` each market's tick grid; without
    one the request's ``tick_size`` is used as a uniform grid.
    """

    def __init__(
        self,
        signer: KalshiSigner,
        *,
        base_url: str = PROD_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        tier: str | RateTier = "basic",
        markets: Mapping[str, Market] | None = None,
        self_trade_prevention: str = "taker_at_cross",
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_concurrency: int = 4,
        endpoint_costs: Mapping[str, float] | None = None,
        default_cost: float = DEFAULT_COST,
        max_pages: int = MAX_PAGES,
        cancel_poll_delays: tuple[float, ...] = _CANCEL_POLL_DELAYS,
    ) -> None:
        if isinstance(tier, str):
            try:
                tier = TIERS[tier.lower()]
            except KeyError:
                raise ValueError(f"unknown Kalshi rate tier {tier!r}; one of {', '.join(TIERS)}") from None
        if self_trade_prevention not in SELF_TRADE_PREVENTION:
            raise ValueError(f"self_trade_prevention must be one of {SELF_TRADE_PREVENTION}")
        self.tier = tier
        self.self_trade_prevention = self_trade_prevention
        self.default_cost = default_cost
        self.costs = dict(ENDPOINT_COSTS if endpoint_costs is None else endpoint_costs)
        self.max_pages = max_pages
        self.cancel_poll_delays = cancel_poll_delays
        self.markets: dict[str, Market] = dict(markets or {})
        self.buckets = {  # with headroom below the venue's own buckets, as the market-data client
            "read": below_venue_bucket(tier.read_capacity, tier.read_rate, default_cost),
            "write": below_venue_bucket(tier.write_capacity, tier.write_rate, default_cost),
        }
        self.http = VenueHttp(
            "kalshi",
            base_url,
            buckets=self.buckets,
            max_concurrency=max_concurrency,
            timeout=timeout,
            retry=retry,
            auth=signer,
            transport=transport,
            describe_error=describe_error,
        )
        self._requests: dict[str, OrderRequest] = {}  # client_order_id → what we asked for
        self._cid_by_order: dict[str, str] = {}  # venue order id → client_order_id

    # -- protocol basics --------------------------------------------------------------------

    @property
    def venue(self) -> Venue:
        return Venue.KALSHI

    @property
    def mode(self) -> str:
        return "live"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> KalshiTrading:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def add_market(self, market: Market) -> None:
        self.markets[market.id] = market

    def remember(self, prepared: PreparedOrder | OrderRequest, venue_order_id: str = "") -> None:
        """Tell this instance what a persisted order meant (after a restart, before a lookup)."""
        request = prepared.request if isinstance(prepared, PreparedOrder) else prepared
        self._requests[request.client_order_id] = request
        if venue_order_id:
            self._cid_by_order[venue_order_id] = request.client_order_id

    def _cost(self, method: str, template: str) -> float:
        return self.costs.get(f"{method} {template}", self.default_cost)

    async def _get(self, path: str, params: Any = None, *, template: str | None = None) -> Any:
        return await self.http.get_json(
            path, params, bucket="read", cost=self._cost("GET", template or path)
        )

    # -- exchange, balance, positions -------------------------------------------------------

    async def exchange_status(self) -> ExchangeStatus:
        """Check before trading: orders are refused while ``trading_active`` is false."""
        return exchange_status_answer(await self._get("/exchange/status"))

    async def require_trading(self) -> ExchangeStatus:
        status = await self.exchange_status()
        if not status.can_trade:
            resume = f"; expected back {status.estimated_resume_time:%Y-%m-%d %H:%M}Z" if (
                status.estimated_resume_time) else ""
            raise VenueUnavailable("kalshi", f"exchange is not trading (maintenance or halt){resume}")
        return status

    async def balance(self, *, with_reserved: bool = True) -> Balance:
        """``available`` is ``balance_dollars`` (to $0.0001; the integer ``balance`` is truncated).

        Kalshi's balance is cash *available for trading* (spec ``GetBalanceResponse``), so cash
        held for resting orders is not in it. ``portfolio_value`` is the value of *positions*, not
        of resting orders, so ``reserved`` is computed from the resting orders themselves
        (remaining × the price of the outcome each one buys); ``total = available + reserved``.
        With ``with_reserved=False`` no order list is read and ``reserved`` is 0.

        ``as_of`` is ``updated_ts``, the whole second of the balance's last change (a fill at
        12:00:00.5 is in a report "as of" 12:00:00); ``read_at``, taken before asking, is what the
        ledger judges the fills and payouts it recorded against.
        """
        read_at = datetime.now(UTC)
        data = _obj(await self._get("/portfolio/balance"), "balance")
        available = _dec(data, "balance_dollars", "balance")
        as_of = _epoch(data.get("updated_ts"), "balance.updated_ts") or datetime.now(UTC)
        reserved = ZERO
        if with_reserved:
            async for order in self._iter_orders("/portfolio/orders", {"status": "resting"}):
                reserved += _order_reserve(order)
        return Balance(Venue.KALSHI, "live", available, reserved, available + reserved, as_of, read_at=read_at)

    async def positions(self) -> list[Position]:
        """Non-zero market positions; ``position_fp`` > 0 is YES, < 0 is NO."""
        out: list[Position] = []
        async for page in self._pages("/portfolio/positions", {"count_filter": "position"}, "market_positions"):
            for i, raw in enumerate(page):
                name = f"market_positions[{i}]"
                obj = _obj(raw, name)
                ticker = _str(obj, "ticker", name)
                signed = to_amount(obj.get("position_fp"), f"{name}.position_fp", allow_negative=True)
                if signed == 0:
                    continue
                size = abs(signed)
                exposure = to_amount(
                    obj.get("market_exposure_dollars", "0"), f"{name}.market_exposure_dollars", allow_negative=True
                )
                extra = {
                    k: str(obj[k])
                    for k in ("realized_pnl_dollars", "fees_paid_dollars", "total_traded_dollars")
                    if isinstance(obj.get(k), str)
                }
                # The venue's own figures, under the keys every venue's positions use.
                for key, reported in (("fees", "fees_paid_dollars"), ("realized_pnl", "realized_pnl_dollars")):
                    amount = reported_amount(obj.get(reported))
                    if amount is not None:
                        extra[key] = amount
                out.append(
                    Position(
                        venue=Venue.KALSHI,
                        market_id=ticker,
                        side=Side.YES if signed > 0 else Side.NO,
                        size=size,
                        avg_price=(exposure / size).quantize(Decimal("0.000001")) if size else ZERO,
                        exposure=exposure,
                        extra=extra,
                    )
                )
        return listed_once(out, netting=True)

    # -- orders: prepare and submit ---------------------------------------------------------

    def _ticks(self, request: OrderRequest) -> tuple[TickStructure, Decimal]:
        market = self.markets.get(request.market_id)
        if market is not None:
            return market.ticks, max(market.size_step, SIZE_STEP)
        return TickStructure.uniform(request.tick_size), SIZE_STEP

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        """The exact V2 body (no I/O). The returned request carries the rounded limit price.

        A sell carries ``"reduce_only": true``: V2 has no buy/sell action and nets positions, so a
        sell of shares no longer held would open the opposite position instead of closing one; the
        venue caps a reduce-only order's count at the position it reduces. Buys leave the field out
        (the spec's default, false), so a buy's body is exactly what it was.
        """
        if request.venue is not Venue.KALSHI:
            raise OrderInvalid(Venue.KALSHI, "invalid_order", f"not a Kalshi order ({request.venue.value})")
        cid = request.client_order_id.strip()
        if not cid or cid != request.client_order_id:
            raise OrderInvalid(Venue.KALSHI, "invalid_order", "client_order_id must be set (no spaces)")
        if not request.market_id:
            raise OrderInvalid(Venue.KALSHI, "invalid_order", "market ticker is empty")
        ticks, size_step = self._ticks(request)
        if request.size <= 0 or not is_multiple(request.size, size_step):
            raise OrderInvalid(
                Venue.KALSHI, "invalid_count", f"size {request.size} is not a positive multiple of {size_step}"
            )
        if not (ZERO < request.limit_price < ONE):
            raise OrderInvalid(Venue.KALSHI, "invalid_price", f"limit price {request.limit_price} outside (0, 1)")
        book_side = book_side_for(request.side, request.action)
        raw_yes = yes_book_price(request.side, request.limit_price)
        if book_side == "bid":
            yes_price = ticks.tick_below(raw_yes, inclusive=True)
        else:
            yes_price = ticks.tick_above(raw_yes, inclusive=True)
        if yes_price is None:
            raise OrderInvalid(
                Venue.KALSHI,
                "invalid_price",
                f"limit {request.limit_price} has no valid tick on the safe side (YES-book {raw_yes})",
            )
        body: dict[str, str | bool] = {
            "ticker": request.market_id,
            "side": book_side,
            "count": _count_str(request.size),
            "price": _price_str(yes_price),
            "time_in_force": request.time_in_force.value,
            "self_trade_prevention_type": self.self_trade_prevention,
            "client_order_id": cid,
        }
        if request.action is Action.SELL:
            body["reduce_only"] = True
        rounded = replace(request, limit_price=outcome_price(request.side, yes_price))
        self._requests[cid] = rounded
        return PreparedOrder(rounded, json.dumps(body, separators=(",", ":")))

    async def submit(self, prepared: PreparedOrder) -> OrderState:
        """Send the prepared body verbatim (also on a retry).

        Raises :class:`OrderRejected` (venue refused; nothing placed), :class:`OrderOutcomeUnknown`
        (may have been placed: :meth:`find_order` first), :class:`VenueUnavailable` (certainly not
        sent, or rate limited: re-submitting the same prepared order is safe) and ``AuthError``.
        """
        request = prepared.request
        cid = request.client_order_id
        self._requests[cid] = request
        try:
            response = await self.http.send(
                "POST", CREATE_PATH, prepared.payload.encode(), cost=self._cost("POST", CREATE_PATH)
            )
        except VenueSendFailed as exc:
            if exc.may_have_reached:
                raise OrderOutcomeUnknown(Venue.KALSHI, cid, exc.cause) from exc
            raise
        status = response.status_code
        if status in (200, 201):
            try:
                return self._from_create(request, loads_exact(response.content))
            except (ValueError, UnicodeDecodeError, DataError) as exc:
                # The venue accepted something we cannot read: the order exists; look it up.
                raise OrderOutcomeUnknown(Venue.KALSHI, cid, f"unreadable 2xx answer: {exc}") from None
        err = parse_error_body(response.content)
        if status == 409 and err.is_code("order_already_exists"):
            try:
                # Not found among the ticker's orders, the id may be held by an order of another market.
                found = await self.find_order(cid) or await self._find(cid, narrow=False)
            except ClientOrderIdTaken:
                raise  # another order holds the id: this one was not placed
            except OrionError as exc:  # held by the venue, whatever the look-up says: never "not placed"
                raise OrderOutcomeUnknown(
                    Venue.KALSHI, cid, f"kalshi says the client order id exists; looking it up failed: {exc}"
                ) from None
            if found is None:
                raise OrderOutcomeUnknown(
                    Venue.KALSHI, cid, "kalshi says the client order id exists but the order is not listed yet"
                )
            return found
        if err.is_code("fill_or_kill_insufficient_resting_volume"):
            return self._nothing_filled(request, err)
        if status == 429:
            raise VenueUnavailable("kalshi", "order rate limited (HTTP 429); nothing was placed",
                                   hint="re-submit the same prepared order after a short wait")
        if status >= 500:
            raise OrderOutcomeUnknown(Venue.KALSHI, cid, f"HTTP {status} {err.code or err.message}".strip())
        raise OrderRejected(Venue.KALSHI, err.code or f"http_{status}", _err_text(err, status))

    def _nothing_filled(self, request: OrderRequest, err: KalshiErrorBody) -> OrderState:
        return OrderState(
            venue=Venue.KALSHI,
            client_order_id=request.client_order_id,
            venue_order_id="",
            status=OrderStatus.CANCELLED,
            market_id=request.market_id,
            side=request.side,
            action=request.action,
            size=request.size,
            filled_size=ZERO,
            avg_fill_price=None,
            fees=ZERO,
            limit_price=request.limit_price,
            updated_at=datetime.now(UTC),
            venue_status=err.code,
            reject_reason=err.message or err.code,
        )

    def _from_create(self, request: OrderRequest, data: Any) -> OrderState:
        obj = _obj(data, "create_order")
        order_id = _str(obj, "order_id", "create_order")
        filled = _dec(obj, "fill_count", "create_order")
        remaining = _dec(obj, "remaining_count", "create_order")
        avg: Decimal | None = None
        fees = ZERO
        if filled > 0:
            avg_yes = _price(obj, "average_fill_price", "create_order")
            avg = outcome_price(request.side, avg_yes)
            # Required where anything filled, as the average price is (reference §2.4): a missing fee read as $0
            # booked the fills fee-free, understating cost for the ledger and the loss breaker (found in review).
            fees = _fees_from_average(_dec(obj, "average_fee_paid", "create_order"), filled)
        self._cid_by_order[order_id] = request.client_order_id
        return OrderState(
            venue=Venue.KALSHI,
            client_order_id=request.client_order_id,
            venue_order_id=order_id,
            status=_status(request.size, filled, remaining, resting=remaining > 0),
            market_id=request.market_id,
            side=request.side,
            action=request.action,
            size=request.size,
            filled_size=filled,
            avg_fill_price=avg,
            fees=fees,
            limit_price=request.limit_price,
            updated_at=_epoch(obj.get("ts_ms"), "create_order.ts_ms", millis=True) or datetime.now(UTC),
            venue_status="resting" if remaining > 0 else "executed" if filled > 0 else "canceled",
        )

    # -- orders: look up, list, cancel ------------------------------------------------------

    async def get_order(self, venue_order_id: str) -> OrderState | None:
        """``GET /portfolio/orders/{id}``; None on 404 (unknown, or archived to historical)."""
        try:
            data = await self._get(f"/portfolio/orders/{venue_order_id}", template="/portfolio/orders/:order_id")
        except VenueHttpError as exc:
            if exc.status == 404:
                return None
            raise
        order = _obj(_obj(data, "response").get("order"), "order")
        return await self._with_fills(self._from_order(order, "order"), order)

    async def find_order(self, client_order_id: str, venue_order_id: str = "") -> OrderState | None:
        """By venue id when known, else by client order id among live and then historical orders."""
        if venue_order_id:
            state = await self.get_order(venue_order_id)
            if state is not None:
                return state
        return await self._find(client_order_id, venue_order_id)

    async def _find(self, client_order_id: str, venue_order_id: str = "", *, narrow: bool = True) -> OrderState | None:
        """Among live, then historical orders; ``narrow``: only those of the known request's ticker."""
        if not client_order_id and not venue_order_id:
            return None
        known = self._requests.get(client_order_id) if client_order_id else None
        params: dict[str, Any] = {"ticker": known.market_id} if known and narrow else {}
        for path in ("/portfolio/orders", "/historical/orders"):
            async for order in self._iter_orders(path, params):
                oid = order.get("order_id")
                if (client_order_id and order.get("client_order_id") == client_order_id) or (
                    venue_order_id and oid == venue_order_id
                ):
                    if known is not None and not (venue_order_id and oid == venue_order_id):
                        differs = _not_the_request(order, known)
                        if differs:
                            raise ClientOrderIdTaken(Venue.KALSHI, client_order_id, str(oid), differs)
                    return await self._with_fills(self._from_order(order, "order"), order)
        return None

    async def open_orders(self) -> list[OrderState]:
        resting = self._iter_orders("/portfolio/orders", {"status": "resting"})
        return [self._from_order(o, "order") async for o in resting]

    async def cancel(self, venue_order_id: str) -> OrderState | None:
        """V2 cancel. A 404 means the order is already terminal (or unknown): its state is returned.

        The answer is the order as the venue then shows it, never the acknowledgement alone: the V2
        cancel answers only ``{order_id, reduced_by, ts_ms}``, and a read right after it can still say
        ``resting`` (recorded on demo, about 360 ms later), so the order is read back until it is
        terminal, for about 0.75 s. One that still shows resting is returned as read (open, its fills
        as the venue counts them): a cancel counts only when the venue shows the order done, and a
        fill is never derived from ``reduced_by``, so ``halt --cancel-open`` reports it failed and the
        executor leaves it unresolved (reconcile or another cancel settles it) instead of trusting it.
        """
        path = f"/portfolio/events/orders/{venue_order_id}"
        try:
            response = await self.http.send(
                "DELETE", path, None, cost=self._cost("DELETE", "/portfolio/events/orders/:order_id")
            )
        except VenueSendFailed as exc:
            raise VenueUnavailable("kalshi", f"cancel of {venue_order_id}: {exc.cause}",
                                   hint="cancelling again is safe; look the order up to see its state") from exc
        status = response.status_code
        if status == 404:
            return await self.find_order(self._cid_by_order.get(venue_order_id, ""), venue_order_id)
        if status >= 400:
            err = parse_error_body(response.content)
            if status == 429 or status >= 500:
                raise VenueUnavailable("kalshi", f"cancel of {venue_order_id}: HTTP {status} {err.code}".strip(),
                                       hint="cancelling again is safe")
            raise VenueError(f"kalshi refused to cancel {venue_order_id}: HTTP {status} {_err_text(err, status)}")
        reduced_by = _reduced_by(response.content)
        state: OrderState | None = None
        for delay in (0.0, *self.cancel_poll_delays):
            if delay:
                await asyncio.sleep(delay)
            state = await self.get_order(venue_order_id)
            if state is None or state.status.terminal:
                return state
        if state is None:  # pragma: no cover - loop always runs once
            return None
        said = "?" if reduced_by is None else format(reduced_by, "f")
        return replace(state, venue_status=f"{state.venue_status or 'open'} after a cancel acknowledged "
                                           f"with reduced_by {said}")

    # -- fills ------------------------------------------------------------------------------

    async def historical_cutoff(self) -> HistoricalCutoff:
        obj = _obj(await self._get("/historical/cutoff"), "historical_cutoff")

        def at(key: str) -> datetime:
            value = _iso(obj.get(key), f"historical_cutoff.{key}")
            if value is None:
                raise DataError(f"historical_cutoff.{key}", "missing")
            return value

        return HistoricalCutoff(at("market_settled_ts"), at("trades_created_ts"), at("orders_updated_ts"))

    async def fills(self, *, since: datetime | None = None, venue_order_id: str = "") -> list[Fill]:
        """Fills from ``since`` (all when None), oldest first, from live and, past the cutoff,
        historical storage. ``/historical/fills`` has no ``order_id`` or ``min_ts`` filter, so
        those are applied here."""
        params: dict[str, Any] = {"order_id": venue_order_id or None}
        if since is not None:
            params["min_ts"] = _min_ts_param(since)
        raw: dict[str, Mapping[str, Any]] = {}
        async for f in self._iter_fills("/portfolio/fills", params):
            raw.setdefault(str(f.get("fill_id")), f)
        cutoff = await self.historical_cutoff()
        if since is None or since < cutoff.trades_created:
            known = self._requests.get(self._cid_by_order.get(venue_order_id, "")) if venue_order_id else None
            hparams: dict[str, Any] = {"ticker": known.market_id if known else None}
            async for f in self._iter_fills("/historical/fills", hparams):
                if venue_order_id and f.get("order_id") != venue_order_id:
                    continue
                raw.setdefault(str(f.get("fill_id")), f)
        out = [self._from_fill(f, f"fills[{fid}]") for fid, f in raw.items()]
        if since is not None:
            out = [f for f in out if f.ts >= since]
        out.sort(key=lambda f: (f.ts, f.fill_id))
        return out

    async def settlements(self, markets: Sequence[str]) -> list[Settlement]:
        """``/portfolio/settlements`` for each market (``ticker`` filter, cursor-paged), a few
        markets at a time: a live trade waits on this before it checks its balances.

        Kalshi settles and pays at ``settled_time``: the payout is in ``balance_dollars`` from then on.
        A market whose settlement record orion cannot read (an unknown result, a malformed row) fails
        alone: :class:`SettlementsIncomplete` names it, with the other markets' settlements.
        """
        unchecked: dict[str, str] = {}

        async def of(ticker: str) -> list[Settlement]:
            found: list[Settlement] = []
            async for page in self._pages("/portfolio/settlements", {"ticker": ticker}, "settlements"):
                for i, raw in enumerate(page):
                    try:
                        s = parse_settlement(_obj(raw, f"settlements[{i}]"), f"settlements[{i}]")
                    except DataError as exc:
                        # This market only: its record is one orion cannot read (an unknown result, a
                        # malformed row), and the other markets' settlements must still be recorded.
                        unchecked[ticker] = f"its settlement record is not readable: {exc}"[:200]
                        return []
                    if s.market_id == ticker:
                        found.append(s)
            return found

        per_market = await gather_limited(of, dict.fromkeys(markets), limit=SETTLEMENT_CONCURRENCY)
        out = [s for found in per_market for s in found]
        if unchecked:
            raise SettlementsIncomplete(Venue.KALSHI, out, unchecked)
        return out

    async def transfers(self) -> list[Transfer]:
        """``/portfolio/deposits`` and ``/portfolio/withdrawals`` (cursor-paged, both at once): the
        applied and returned ones. The lists have no time filter, so each read walks the account's
        whole history (a page or two for most accounts)."""
        async def listed(kind: str) -> list[Transfer]:
            found: list[Transfer] = []
            key = f"{kind}s"
            async for page in self._pages(f"/portfolio/{key}", {}, key, limit=TRANSFER_LIMIT):
                for i, raw in enumerate(page):
                    t = parse_transfer(_obj(raw, f"{key}[{i}]"), kind, f"{key}[{i}]")
                    if t is not None:
                        found.append(t)
            return found

        deposits, withdrawals = await all_of(listed("deposit"), listed("withdrawal"))
        return deposits + withdrawals

    # -- pagination -------------------------------------------------------------------------

    async def _pages(self, path: str, params: Mapping[str, Any], key: str, *,
                     limit: int | None = None) -> AsyncIterator[list[Any]]:
        """Walk a cursor-paginated list; a repeated cursor (garbage cursors restart at page 1)
        or too many pages stops with :class:`VenueError` rather than looping.

        A page without its list (``{}`` from an API change, or a proxy answering JSON; ``null``) is a
        :class:`DataError`, never an empty page: it says nothing about what it should list, and read as
        "none" it told ``orion halt --cancel-open`` that no order was resting. Every list read here is
        required by the OpenAPI spec and present in every recorded answer, empty ones as ``[]``."""
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(self.max_pages):
            query = {"limit": limit or LIST_LIMIT, **{k: v for k, v in params.items() if v is not None}}
            if cursor:
                query["cursor"] = cursor
            obj = _obj(await self._get(path, query), path)
            items = obj.get(key)
            if not isinstance(items, list):
                got = "missing" if key not in obj else f"expected a list, got {type(items).__name__}"
                raise DataError(f"{path}.{key}", got)
            yield items
            cursor = _cursor(obj, path)
            if cursor is None:
                return
            if cursor in seen:
                raise VenueError(f"kalshi {path}: cursor repeated; stopping")
            seen.add(cursor)
        raise VenueError(f"kalshi {path}: more than {self.max_pages} pages; stopping")

    async def _iter_orders(self, path: str, params: Mapping[str, Any]) -> AsyncIterator[Mapping[str, Any]]:
        async for page in self._pages(path, params, "orders"):
            for i, o in enumerate(page):
                yield _obj(o, f"orders[{i}]")

    async def _iter_fills(self, path: str, params: Mapping[str, Any]) -> AsyncIterator[Mapping[str, Any]]:
        async for page in self._pages(path, params, "fills"):
            for i, f in enumerate(page):
                yield _obj(f, f"fills[{i}]")

    # -- wire → model -----------------------------------------------------------------------

    def _direction(self, cid: str, order_id: str, book_side: str) -> tuple[Side, Action, OrderRequest | None]:
        request = self._requests.get(cid) if cid else None
        if request is None and order_id in self._cid_by_order:
            request = self._requests.get(self._cid_by_order[order_id])
        if request is not None and book_side_for(request.side, request.action) == book_side:
            return request.side, request.action, request
        side, action = _default_direction(book_side)
        return side, action, None

    def _from_order(self, obj: Mapping[str, Any], name: str) -> OrderState:
        order_id = _str(obj, "order_id", name)
        cid = _str(obj, "client_order_id", name, required=False)
        book_side = _str(obj, "book_side", name)
        if book_side not in ("bid", "ask"):
            raise DataError(f"{name}.book_side", f"unknown value {book_side[:20]!r}")
        side, action, request = self._direction(cid, order_id, book_side)
        if cid:
            self._cid_by_order[order_id] = cid
        venue_status = _str(obj, "status", name)
        if venue_status not in ("resting", "canceled", "executed"):
            raise DataError(f"{name}.status", f"unknown order status {venue_status[:20]!r}")
        initial = _dec(obj, "initial_count_fp", name)
        filled = _dec(obj, "fill_count_fp", name)
        remaining = _dec(obj, "remaining_count_fp", name)
        # Both required by the spec's Order: missing, never read as $0 (a renamed field booked fee-free fills).
        fees = _dec(obj, "taker_fees_dollars", name) + _dec(obj, "maker_fees_dollars", name)
        avg: Decimal | None = None
        if filled > 0:
            # Fill cost is what the order's outcome_side exposure cost (bid: YES, ask: NO) — an
            # assumption for asks (only bid costs are recorded); _with_fills replaces it with
            # the fills' explicit yes/no prices whenever fills can be read.
            # Required by the spec's Order too: read as $0, a missing one understated the average fill price.
            cost = _dec(obj, "taker_fill_cost_dollars", name) + _dec(obj, "maker_fill_cost_dollars", name)
            own_side = Side.YES if book_side == "bid" else Side.NO
            own = (cost / filled).quantize(Decimal("0.000001"))
            avg = own if own_side is side else ONE - own
        limit = outcome_price(side, _price(obj, "yes_price_dollars", name))
        updated = _iso(obj.get("last_update_time"), f"{name}.last_update_time") or _iso(
            obj.get("created_time"), f"{name}.created_time"
        )
        return OrderState(
            venue=Venue.KALSHI,
            client_order_id=cid,
            venue_order_id=order_id,
            status=_status(initial, filled, remaining, resting=venue_status == "resting"),
            market_id=_str(obj, "ticker", name),
            side=side,
            action=action,
            size=initial,
            filled_size=filled,
            avg_fill_price=avg,
            fees=fees,
            limit_price=request.limit_price if request is not None else limit,
            updated_at=updated or datetime.now(UTC),
            venue_status=venue_status,
        )

    async def _with_fills(self, state: OrderState, order: Mapping[str, Any]) -> OrderState:
        if state.filled_size <= 0:
            return state
        # Fills cannot precede their order: bounding by its creation keeps the historical store
        # out of the read unless the order itself is older than the cutoff.
        created = _iso(order.get("created_time"), "order.created_time")
        fills = await self.fills(since=created, venue_order_id=state.venue_order_id)
        if not fills:
            return state
        size = sum((f.size for f in fills), ZERO)
        avg = (sum((f.size * f.price for f in fills), ZERO) / size).quantize(Decimal("0.000001")) if size else None
        return replace(state, fills=tuple(fills), avg_fill_price=avg)

    def _from_fill(self, obj: Mapping[str, Any], name: str) -> Fill:
        order_id = _str(obj, "order_id", name)
        book_side = _str(obj, "book_side", name)
        if book_side not in ("bid", "ask"):
            raise DataError(f"{name}.book_side", f"unknown value {book_side[:20]!r}")
        side, action, _ = self._direction("", order_id, book_side)
        yes_price = _price(obj, "yes_price_dollars", name)
        no_price = obj.get("no_price_dollars")
        price = yes_price if side is Side.YES else (
            _price(obj, "no_price_dollars", name) if no_price is not None else ONE - yes_price
        )
        ts = _iso(obj.get("created_time"), f"{name}.created_time") or _epoch(obj.get("ts"), f"{name}.ts")
        if ts is None:
            raise DataError(f"{name}.created_time", "missing")
        taker = obj.get("is_taker")
        return Fill(
            venue=Venue.KALSHI,
            fill_id=_str(obj, "fill_id", name),
            venue_order_id=order_id,
            market_id=_str(obj, "ticker", name, required=False) or _str(obj, "market_ticker", name),
            side=side,
            action=action,
            size=_dec(obj, "count_fp", name),
            price=price,
            fee=_dec(obj, "fee_cost", name),  # required by the spec's Fill: never a silent $0
            ts=ts,
            is_taker=taker if isinstance(taker, bool) else True,
            client_order_id=self._cid_by_order.get(order_id, ""),
        )


def _status(size: Decimal, filled: Decimal, remaining: Decimal, *, resting: bool) -> OrderStatus:
    if resting and remaining > 0:
        return OrderStatus.OPEN
    if filled >= size > 0:
        return OrderStatus.FILLED
    if filled > 0:
        return OrderStatus.PARTIAL
    return OrderStatus.CANCELLED


def _order_reserve(order: Mapping[str, Any]) -> Decimal:
    """Cash held by one resting order: remaining × the price of the outcome it buys."""
    remaining = to_amount(order.get("remaining_count_fp"), "order.remaining_count_fp")
    key = "yes_price_dollars" if order.get("book_side") == "bid" else "no_price_dollars"
    return remaining * to_price(order.get(key), f"order.{key}", max_places=LEDGER_PLACES)


def _err_text(err: KalshiErrorBody, status: int) -> str:
    parts = [p for p in (err.message, err.details) if p and p != err.code]
    return ": ".join(dict.fromkeys(parts)) or f"HTTP {status}"
