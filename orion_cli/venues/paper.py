"""The paper venue: orders filled against a market source's real books, state in the ledger.

It implements :class:`~orion_cli.venues.trading.TradingVenue` exactly as the live venues do, so
the executor, ``balance`` and ``reconcile`` run unchanged in paper mode. ``submit`` re-reads the
book, walks the traded outcome's asks (buy) or bids (sell) best first up to the limit price, and
charges the market's own fee model once per level (Kalshi rounds each fill up, so walking levels
costs more than one fill at the average). A Polymarket buy is filled as the venue fills an immediate
buy: as dollars, size × limit rounded up to the cent, spent best ask first within the limit, each
level's shares to the venue's 6 places (floored), so it gets a little more than its size (more at
better prices), which the ledger holds as the live ledger does. Fill-or-kill fills everything or
nothing (a dollar buy: spends all its dollars or nothing); immediate-or-cancel fills what is there.
Optional latency and adverse slippage (every level N ticks worse) make the simulation less kind than
the book. Orders never rest: good-till-cancelled is refused.

Idempotent like a venue: the same client order id submitted twice returns the recorded outcome and
never fills twice — the outcome is decided and written inside one serialised transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection

from orion_cli.core.config import Settings
from orion_cli.core.errors import NotFound, OrionError
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import (
    POLYMARKET_MIN_MARKETABLE_BUY,
    Market,
    MarketStatus,
    OrderBook,
    PriceLevel,
    TickStructure,
    Venue,
    polymarket_buy_fill,
    polymarket_buy_shares,
    polymarket_buy_short_of_minimum,
    polymarket_buy_spend,
)
from orion_cli.core.money import ONE, ZERO, is_multiple
from orion_cli.store.db import Database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.base import MarketSource
from orion_cli.venues.trading import (
    FINAL_PAYOUTS,
    VOID,
    Action,
    Balance,
    Fill,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    PreparedOrder,
    Settlement,
    TimeInForce,
    payout_result,
)

MODE = "paper"


def request_payload(request: OrderRequest) -> str:
    """The request as canonical JSON: the same request always gives the same text."""
    body = {
        "venue": request.venue.value,
        "market_id": request.market_id,
        "token_id": request.token_id,
        "side": request.side.value,
        "action": request.action.value,
        "size": format(request.size, "f"),
        "limit_price": format(request.limit_price, "f"),
        "time_in_force": request.time_in_force.value,
        "client_order_id": request.client_order_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def slip(price: Decimal, ticks: TickStructure, steps: int, action: Action) -> Decimal | None:
    """``price`` moved ``steps`` valid ticks against the trader (up for a buy); None when off the board.
    Each step is to the next valid price (:meth:`TickStructure.tick_above` / ``tick_below``), so one
    crossing a boundary of Kalshi's tapered grid neither skips a tick nor lands between two."""
    p = price
    for _ in range(steps):
        moved = ticks.tick_above(p) if action is Action.BUY else ticks.tick_below(p)
        if moved is None:
            return None
        p = moved
    return p


@dataclass(frozen=True, slots=True)
class SimulatedFill:
    size: Decimal
    price: Decimal
    fee: Decimal


def walk_book(
    levels: tuple[PriceLevel, ...],
    *,
    action: Action,
    size: Decimal,
    limit_price: Decimal,
    market: Market,
    slippage_ticks: int = 0,
) -> list[SimulatedFill]:
    """Take liquidity best first while the (slipped) level price is within the limit; one fill per level."""
    out: list[SimulatedFill] = []
    remaining = size
    for lv in levels:
        if remaining <= 0:
            break
        price = slip(lv.price, market.ticks, slippage_ticks, action) if slippage_ticks else lv.price
        if price is None:
            break
        if (action is Action.BUY and price > limit_price) or (action is Action.SELL and price < limit_price):
            break
        take = min(remaining, lv.size)
        if take <= 0:
            continue
        out.append(SimulatedFill(take, price, market.fee_model.fill_fee(take, price)))
        remaining -= take
    return out


def walk_dollars(
    levels: tuple[PriceLevel, ...],
    *,
    spend: Decimal,
    limit_price: Decimal,
    market: Market,
    slippage_ticks: int = 0,
) -> tuple[list[SimulatedFill], Decimal]:
    """Spend ``spend`` dollars on asks best first while the (slipped) level price is within the limit, as
    Polymarket fills an immediate buy; one fill per level, its shares to 6 places (floored). Returns the
    fills and the dollars left unspent (0 when the book took all of them)."""
    out: list[SimulatedFill] = []
    remaining = spend
    for lv in levels:
        if remaining <= 0:
            break
        price = slip(lv.price, market.ticks, slippage_ticks, Action.BUY) if slippage_ticks else lv.price
        if price is None or price > limit_price:
            break
        if lv.size * price <= remaining:
            take, paid = lv.size, lv.size * price
        else:
            take, paid = polymarket_buy_shares(remaining, price), remaining
        if take <= 0:
            break  # under one base unit of a share left: nothing more to buy
        out.append(SimulatedFill(take, price, market.fee_model.fill_fee(take, price)))
        remaining -= paid
    return out, remaining


class PaperVenue:
    """One venue, simulated: ``PaperVenue(Venue.KALSHI, db, source, settings)``."""

    def __init__(self, venue: Venue, db: Database, source: MarketSource, settings: Settings, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._venue = venue
        self.db = db
        self.source = source
        self.settings = settings
        self.ledger = Ledger(db, MODE, reset_hour_utc=settings.breaker.reset_hour_utc)
        self._clock = clock or (lambda: datetime.now(UTC))
        # The markets last read with their fees, by id: `orion trade` registers its plan's here, as it
        # does with the live clients; ``prepare`` validates against them and a fill falls back on their fee.
        self.markets: dict[str, Market] = {}
        # The fees a resumed execution's persisted plan was priced with, by market id: a resume is a new
        # process, with no market read yet, and fills fall back on these as on the markets above.
        self.plan_fees: dict[str, FeeModel] = {}

    @property
    def venue(self) -> Venue:
        return self._venue

    @property
    def mode(self) -> str:
        return MODE

    @property
    def starting_balance(self) -> Decimal:
        p = self.settings.paper
        return p.kalshi_balance if self._venue is Venue.KALSHI else p.polymarket_balance

    # -- account -----------------------------------------------------------------------------------

    async def balance(self) -> Balance:
        """The ledger's figure, which *is* the paper venue's: current as of now."""
        bal = self.ledger.ensure_balance(self._venue, self.starting_balance, now=self._clock())
        return Balance(bal.venue, MODE, bal.available, bal.reserved, bal.total, self._clock(), source="ledger")

    async def positions(self) -> list[Position]:
        return self.ledger.positions(self._venue)

    # -- orders ------------------------------------------------------------------------------------

    async def market(self, ref: str) -> tuple[Market, OrderBook]:
        """Read a market and its current book from the source (and remember the market for ``prepare``)."""
        market, book = await self.source.book(ref, venue=self._venue)
        self.markets[market.id] = market
        return market, book

    async def _market_for_order(self, ref: str) -> tuple[Market, OrderBook]:
        """The market and its book for filling an order now, as the real venue would fill it.

        The venue charges its fee whether or not orion can read it at that moment. So when the read
        with fees fails (a Kalshi series or event not answering) and this market's fee was read before
        (the plan's market, registered by `orion trade`; on a resume, the fee persisted with the plan,
        see :meth:`remember_fee`), the fresh market and book are read without fees and filled at it.
        Otherwise a hedge retry that live trading sends (the executor checks its book without fees)
        was refused here, and paper unwound a pair that live trading would hedge.
        """
        try:
            return await self.market(ref)
        except NotFound:
            raise
        except OrionError:
            known = self.markets.get(ref)
            fee = known.fee_model if known is not None else self.plan_fees.get(ref)
            if fee is None:
                raise
            fresh, book = await self.source.book(ref, venue=self._venue, with_fees=False)
            return replace(fresh, fee_model=fee), book

    def remember_fee(self, market_id: str, fee_model: FeeModel) -> None:
        """The fee a resumed execution's plan was priced with (the executor tells it on resume)."""
        self.plan_fees[market_id] = fee_model

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Validate without I/O (against the market if it was read before) and build the JSON payload."""
        self._validate(request, self.markets.get(request.market_id))
        return PreparedOrder(request=request, payload=request_payload(request))

    def _validate(self, r: OrderRequest, market: Market | None) -> None:
        def bad(problem: str) -> OrderRejected:
            return OrderRejected(self._venue, "INVALID_ORDER", problem)

        if r.venue is not self._venue:
            raise bad(f"order for {r.venue.value} sent to the paper {self._venue.value} venue")
        if not r.client_order_id:
            raise bad("client order id missing")
        if r.time_in_force is TimeInForce.GTC:
            raise bad("the paper venue fills immediately: use fill_or_kill or immediate_or_cancel")
        for name, value in (("size", r.size), ("limit_price", r.limit_price)):
            if not isinstance(value, Decimal) or not value.is_finite():
                raise bad(f"{name} must be a finite Decimal, got {value!r}")
        if r.size <= 0:
            raise bad(f"size must be positive, got {r.size}")
        if not (ZERO < r.limit_price < ONE):
            raise bad(f"limit price {r.limit_price} outside (0, 1)")
        ticks = market.ticks if market is not None else TickStructure.uniform(r.tick_size)
        if not ticks.is_valid(r.limit_price):
            raise bad(f"limit price {r.limit_price} is off the tick grid (tick {ticks.step_at(r.limit_price)})")
        if market is not None:
            if market.venue is not self._venue or market.id != r.market_id:
                raise bad(f"market {market.id} does not match the order's {r.market_id}")
            if r.size < market.min_size:
                raise bad(f"size {r.size} below the market's minimum {market.min_size}")
            if not is_multiple(r.size, market.size_step):
                raise bad(f"size {r.size} is not a multiple of {market.size_step}")
            if market.yes_token and r.token_id and r.token_id != (
                    market.yes_token if r.side.value == "yes" else market.no_token):
                raise bad(f"token {r.token_id[:20]}… is not the {r.side.value} token of {market.id}")
        if self._venue is Venue.POLYMARKET and r.action is Action.BUY:  # as the venue refuses it
            spend = polymarket_buy_short_of_minimum(r.size, r.limit_price)
            if spend is not None:
                raise bad(f"a buy for {spend} is below Polymarket's {POLYMARKET_MIN_MARKETABLE_BUY} dollar minimum "
                          "for an immediate order")

    async def submit(self, prepared: PreparedOrder) -> OrderState:
        r = prepared.request
        if r.venue is not self._venue:
            raise OrderRejected(self._venue, "INVALID_ORDER", f"order for {r.venue.value}")
        if prepared.payload != request_payload(r):
            raise OrderRejected(self._venue, "INVALID_ORDER", "payload does not match the request")
        existing = self.ledger.order(r.client_order_id)
        if existing is not None and existing.status.terminal:
            return existing
        if existing is None:
            self.ledger.record_intent(prepared, now=self._clock())
        self.ledger.mark_submitted(r.client_order_id, now=self._clock())
        await self.balance()  # the starting balance exists before the first fill
        if self.settings.paper.latency_ms:
            await asyncio.sleep(self.settings.paper.latency_ms / 1000)
        try:
            market, book = await self._market_for_order(r.market_id)
            self._validate(r, market)
            if market.status is not MarketStatus.OPEN:
                raise OrderRejected(self._venue, "MARKET_CLOSED", f"market {market.id} is {market.status.value}")
        except OrderRejected as exc:
            self.ledger.rejected(r.client_order_id, f"{exc.code}: {exc.message}", now=self._clock())
            raise
        except OrionError as exc:
            self.ledger.rejected(r.client_order_id, f"BOOK_UNAVAILABLE: {exc}", now=self._clock())
            raise OrderRejected(self._venue, "BOOK_UNAVAILABLE", str(exc)) from None
        side = book.side(r.side)
        levels = side.asks if r.action is Action.BUY else side.bids
        slippage = self.settings.paper.slippage_ticks
        if self._spends_dollars(r):
            sims, unspent = walk_dollars(levels, spend=polymarket_buy_spend(r.size, r.limit_price),
                                         limit_price=r.limit_price, market=market, slippage_ticks=slippage)
            complete = unspent <= 0
        else:
            sims = walk_book(levels, action=r.action, size=r.size, limit_price=r.limit_price, market=market,
                             slippage_ticks=slippage)
            complete = sum((x.size for x in sims), ZERO) >= r.size
        return self._settle(prepared, market, sims, complete=complete)

    def _spends_dollars(self, r: OrderRequest) -> bool:
        """A Polymarket buy: the venue takes it as dollars (size × limit rounded up to the cent)."""
        return self._venue is Venue.POLYMARKET and r.action is Action.BUY

    def _settle(self, prepared: PreparedOrder, market: Market, sims: list[SimulatedFill], *,
                complete: bool) -> OrderState:
        """Decide and record the outcome in one transaction (re-checking the order and the cash there).
        ``complete``: the book filled the whole order (a dollar buy: spent all its dollars)."""
        r = prepared.request
        now = self._clock()
        filled = sum((s.size for s in sims), ZERO)
        if r.time_in_force is TimeInForce.FOK and not complete:
            sims, filled = [], ZERO
        status = OrderStatus.CANCELLED if filled == 0 else (
            OrderStatus.FILLED if filled >= r.size else OrderStatus.PARTIAL)
        order_ref = f"paper-{r.client_order_id}"
        fills = [
            Fill(venue=self._venue, fill_id=f"{order_ref}-{i + 1}", venue_order_id=order_ref, market_id=r.market_id,
                 side=r.side, action=r.action, size=s.size, price=s.price, fee=s.fee, ts=now, is_taker=True,
                 client_order_id=r.client_order_id)
            for i, s in enumerate(sims)
        ]
        rejection: OrderRejected | None = None
        with self.db.write() as conn:
            current = self.ledger.order(r.client_order_id, conn=conn)
            if current is not None and current.status.terminal:
                return current  # another process settled it first
            problem = self._affordability(conn, r, market, fills)
            if problem is not None:
                code, message = problem
                rejection = OrderRejected(self._venue, code, message)
                state = self.ledger.transition(r.client_order_id, OrderStatus.REJECTED, venue_order_id=order_ref,
                                               reject_reason=f"{code}: {message}", conn=conn, now=now)
            else:
                reason = ""
                if status is OrderStatus.CANCELLED:
                    reason = "no liquidity within the limit price" if r.time_in_force is TimeInForce.IOC else \
                        "fill-or-kill: the book cannot fill the whole size within the limit price"
                elif status is OrderStatus.PARTIAL:
                    reason = f"immediate-or-cancel: {r.size - filled} unfilled, cancelled"
                # A dollar buy's shares beyond its size are held, as the venue holds them (overfill_ok).
                state = self.ledger.transition(r.client_order_id, status, venue_order_id=order_ref, fills=fills,
                                               reject_reason=reason, category=market.category, conn=conn, now=now,
                                               overfill_ok=self._spends_dollars(r))
        if rejection is not None:
            raise rejection
        return state

    def _affordability(self, conn: Connection, r: OrderRequest, market: Market,
                       fills: list[Fill]) -> tuple[str, str] | None:
        """Buys need cash for the worst case (size × limit + fee, as venues reserve; a Polymarket buy, the
        dollars it is signed for and the fee on the shares they buy at the limit); sells need the contracts."""
        bal = self.ledger.balance(self._venue, conn=conn)
        available = bal.available if bal is not None else ZERO
        if r.action is Action.BUY:
            if self._spends_dollars(r):
                spend, _, fee = polymarket_buy_fill(r.size, r.limit_price, market.fee_model)
                worst = spend + fee
            else:
                worst = r.size * r.limit_price + market.fee_model.fill_fee(r.size, r.limit_price)
            actual = sum((f.size * f.price + f.fee for f in fills), ZERO)
            needed = max(worst, actual)
            if available < needed:
                return "INSUFFICIENT_BALANCE", f"needs {needed} (size × limit + fees), paper balance has {available}"
            return None
        held = ZERO
        for p in self.ledger.positions(self._venue, conn=conn):
            if p.market_id == r.market_id and p.side is r.side:
                held = p.size
        if held < r.size:
            return "INSUFFICIENT_POSITION", f"sells {r.size} {r.side.value} of {r.market_id} but holds {held}"
        fees = sum((f.fee for f in fills), ZERO)
        proceeds = sum((f.size * f.price for f in fills), ZERO)
        if available + proceeds < fees:
            return "INSUFFICIENT_BALANCE", f"fees {fees} exceed the paper balance {available} plus proceeds"
        return None

    async def find_order(self, client_order_id: str, venue_order_id: str = "") -> OrderState | None:
        return self.ledger.find_order(self._venue, client_order_id=client_order_id, venue_order_id=venue_order_id)

    async def cancel(self, venue_order_id: str) -> OrderState | None:
        """Paper orders never rest: a settled order is returned as is; one never processed is cancelled."""
        state = self.ledger.find_order(self._venue, venue_order_id=venue_order_id, client_order_id=venue_order_id
                                       .removeprefix("paper-"))
        if state is None or state.status.terminal:
            return state
        return self.ledger.cancelled(state.client_order_id, reason="cancelled before it was processed",
                                     now=self._clock())

    async def open_orders(self) -> list[OrderState]:
        return self.ledger.orders(venue=self._venue, statuses=(OrderStatus.OPEN,))

    async def fills(self, *, since: datetime | None = None, venue_order_id: str = "") -> list[Fill]:
        return self.ledger.fills(venue=self._venue, since=since, venue_order_id=venue_order_id)

    async def transfers(self) -> None:
        """Paper money only moves by trading (its starting cash is the capital)."""
        return None

    async def settlements(self, markets: Sequence[str]) -> list[Settlement]:
        """Paper positions settle as the real market does: read from the market data source.

        A market the source no longer knows cannot be settled here; it stays held (and listed by
        ``orion positions``) until it can. Only the market's state and result are needed, not its
        fee (``with_fees=False``): a Kalshi series that cannot be read, or states a fee orion does
        not model, must not keep a position from ever settling.
        """
        from orion_cli.venues.snapshot import RecordedMarketRefused

        out: list[Settlement] = []
        for ref in dict.fromkeys(markets):
            try:
                market, _ = await self.source.book(ref, venue=self._venue, with_fees=False)
            except (NotFound, RecordedMarketRefused):
                # A recording holding the market but refusing it (its fee unknown, as the recording holds it)
                # settles nothing, as one that does not hold it: it must not leave every position unchecked
                # (found in review: reconcile on such a recording reported settlement drift it cannot fix).
                continue
            s = market_settlement(market, self._clock())
            if s is not None:
                out.append(s)
        return out


def market_settlement(market: Market, at: datetime) -> Settlement | None:
    """A settled market's payout, from its market data; None while it is not settled or the payout
    is not known exactly.

    Kalshi states it (``settlement_value_dollars``, else ``result``); a ``void`` result returns every
    position at its cost, as the live settlement does, whatever value the market shows (it shows 0: read
    first, a void was booked as a total loss, found reviewing market lifecycles). Polymarket's resolved
    market shows its final outcome prices, which are exact (1/0, or 0.5 each for a 50-50 resolution); any
    other figure is a display price and is not taken for a payout.
    """
    if market.status is not MarketStatus.SETTLED:
        return None
    extra = market.extra
    yes: Decimal | None = None
    if market.venue is Venue.KALSHI and extra.get("result") == VOID:
        return Settlement(market.venue, market.id, ZERO, at, result=VOID, source="market data", refunds=())
    if market.venue is Venue.KALSHI:
        if extra.get("settlement_value_dollars"):
            yes = Decimal(extra["settlement_value_dollars"])
        elif extra.get("result") in ("yes", "no"):
            yes = ONE if extra["result"] == "yes" else ZERO
        result = extra.get("result", "")
    else:
        shown = extra.get("display_yes_price")
        yes = Decimal(shown) if shown else None
        result = "" if yes is None else payout_result(yes)
    if yes is None or (yes not in FINAL_PAYOUTS and market.venue is Venue.POLYMARKET) or not (ZERO <= yes <= ONE):
        return None
    return Settlement(market.venue, market.id, yes, at, result=result, source="market data")
