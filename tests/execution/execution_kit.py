"""Shared pieces for the executor tests: two markets, books, a plan, and a scripted venue.

The pair: Kalshi ``KXEXEC-26-A`` YES asks 0.40 × 50 (and 0.42 × 100), Polymarket NO asks
0.50 × 30 (and 0.52 × 100). Buying 10 of each costs 0.90 + fees per pair. The Polymarket leg takes
10/30 of its visible depth against Kalshi's 10/50, so Polymarket is the thinner leg and goes first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

from orion_cli.core.config import Settings, load_settings
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, Side, TickStructure, Venue
from orion_cli.core.pricing import price_pair
from orion_cli.execution.executor import build_plan, client_order_id
from orion_cli.execution.plan import CheckResult, TradePlan, Verdict
from orion_cli.venues.paper import request_payload
from orion_cli.venues.trading import (
    Balance,
    Fill,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    PreparedOrder,
    Settlement,
)

K_TICKER = "KXEXEC-26-A"
P_COND = "0xexec000000000000000000000000000000000000000000000000000000000001"
P_YES, P_NO = "7001", "7002"


def kalshi_market() -> Market:
    return Market(Venue.KALSHI, K_TICKER, "KXEXEC-26", "Exec test", MarketStatus.OPEN, None, FeeModel.kalshi(),
                  TickStructure.uniform(D("0.01")), category="Sports", min_size=D("1"), size_step=D("1"))


def poly_market() -> Market:
    return Market(Venue.POLYMARKET, P_COND, "exec-event", "Exec test", MarketStatus.OPEN, None,
                  FeeModel.polymarket(D("0.03")), TickStructure.uniform(D("0.01")), category="Sports",
                  min_size=D("1"), size_step=D("0.01"), yes_token=P_YES, no_token=P_NO)


def levels(*pairs: tuple[str, str]) -> tuple[PriceLevel, ...]:
    return tuple(PriceLevel(D(p), D(s)) for p, s in pairs)


def kalshi_book(now: datetime, yes_asks: tuple[tuple[str, str], ...] = (("0.40", "50"), ("0.42", "100")),
                ) -> OrderBook:
    yes = BookSide(bids=levels(("0.38", "50")), asks=levels(*yes_asks))
    no = BookSide(bids=levels(("0.58", "50")), asks=levels(("0.62", "50")))
    return OrderBook(Venue.KALSHI, K_TICKER, yes, no, now)


def poly_book(now: datetime, no_asks: tuple[tuple[str, str], ...] = (("0.50", "30"), ("0.52", "100")),
              no_bids: tuple[tuple[str, str], ...] = (("0.47", "100"),)) -> OrderBook:
    yes = BookSide(bids=levels(("0.48", "30")), asks=levels(("0.53", "100")))
    no = BookSide(bids=levels(*no_bids), asks=levels(*no_asks))
    return OrderBook(Venue.POLYMARKET, P_COND, yes, no, now)


def settings(**overrides: Any) -> Settings:
    return load_settings(overrides=overrides, environ={})


def make_plan(key: str = "exec-key-1", size: str = "10", now: datetime | None = None,
              kbook: OrderBook | None = None, pbook: OrderBook | None = None) -> TradePlan:
    now = now or datetime.now(UTC)
    km, pm = kalshi_market(), poly_market()
    kb, pb = kbook or kalshi_book(now), pbook or poly_book(now)
    opp = next(o for o in price_pair(km, kb, pm, pb, inverted=False, now=now)
               if {(leg.venue, leg.side) for leg in o.legs} == {(Venue.KALSHI, Side.YES), (Venue.POLYMARKET, Side.NO)})
    fresh = {(Venue.KALSHI, K_TICKER): (km, kb), (Venue.POLYMARKET, P_COND): (pm, pb)}
    return build_plan(opp, fresh, size=D(size), key=key, settings=settings(), now=now)


def all_pass(conn: Any, plan: TradePlan, ctx: Any) -> Verdict:
    return Verdict((CheckResult("HALTED", True, "stand-in"),))


def refuse(conn: Any, plan: TradePlan, ctx: Any) -> Verdict:
    return Verdict((CheckResult("HALTED", True, "ok"), CheckResult("ORDER_CONTRACTS", False, "too big", leg=0),
                    CheckResult("BALANCE", False, "too poor", leg=1)))


def coid_of(db: Any, key: str, tag: str, *, nonce: str | None = None) -> str:
    """The client order id the executor gives ``tag`` of the execution under ``key`` in ``db``'s ledger:
    salted with the nonce stored with that execution (``nonce``: the one it will get, for an execution
    not committed yet), or the ledger's id for one committed before there were nonces (or none yet: a
    test that writes its orders itself)."""
    from sqlalchemy import select

    from orion_cli.execution.executor import ID_NONCE
    from orion_cli.execution.state import load_result
    from orion_cli.store.meta import ledger_id
    from orion_cli.store.tables import executions

    if nonce is None:
        with db.read() as conn:
            plan = conn.execute(select(executions.c.plan).where(executions.c.key == key)).scalar()
        nonce = (load_result(plan).get(ID_NONCE) if plan is not None else None) or ledger_id(db)
    return client_order_id(key, tag, salt=nonce)


def tag_of(coid: str) -> str:
    return coid.rsplit("-", 1)[1]


class Crash(BaseException):
    """Stands for the process dying at this point (BaseException: nothing in orion catches it)."""


@dataclass
class Exchange:
    """The venue side, shared by every FakeVenue instance (it survives an executor 'crash')."""

    script: dict[str, list[Any]] = field(default_factory=dict)
    orders: dict[str, OrderState] = field(default_factory=dict)  # coid → state the venue holds
    payloads: dict[str, list[str]] = field(default_factory=dict)  # coid → every payload received
    accepted: dict[str, int] = field(default_factory=dict)  # coid → orders actually placed (must stay ≤ 1)
    lookups: int = 0
    failing_lookups: int = 0
    delayed: dict[str, tuple[int | None, OrderState]] = field(default_factory=dict)  # coid → (lookups left, outcome)
    failing_cancels: bool = False
    on_submit: Callable[[str], None] | None = None

    def behaviour(self, tag: str) -> Any:
        steps = self.script.get(tag)
        if not steps:
            return "fill"
        return steps.pop(0) if len(steps) > 1 else steps[0]


class FakeVenue:
    """A scripted TradingVenue with exact fault timing. Script entries per tag (l1, l2, l2a1, u1…):

    ``"fill"`` / ``("fill", price)`` · ``("partial", qty)`` / ``("partial", qty, price)`` · ``"kill"`` · ``"reject"`` ·
    ``"unknown_filled"`` (placed and filled, answer lost) · ``"unknown_absent"`` (answer lost, never
    placed) · ``"unavailable"`` (the venue answers 503: never placed) · ``"auth"`` (the venue refuses
    our credentials, HTTP 401: never placed) · ``"geoblocked"`` (refused for this host: never placed) ·
    ``"crash_after_accept"`` (placed and filled, then the process dies) ·
    ``("delayed", n)`` (accepted unmatched, as Polymarket's ``delayed``; fills in full at the n-th
    lookup, or never with ``None``: only a cancel ends it).
    """

    def __init__(self, venue: Venue, exchange: Exchange, *, fee: str = "0.01") -> None:
        self._venue = venue
        self.x = exchange
        self.fee = D(fee)

    @property
    def venue(self) -> Venue:
        return self._venue

    @property
    def mode(self) -> str:
        return "paper"

    async def balance(self) -> Balance:
        return Balance(self._venue, "paper", D("1000"), D(0), D("1000"), datetime.now(UTC))

    async def positions(self) -> list[Position]:
        return []

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        return PreparedOrder(request, request_payload(request), venue_ref="")

    def _fill(self, r: OrderRequest, qty: D, price: D | None = None) -> OrderState:
        price = price or r.limit_price
        coid = r.client_order_id
        fills = (Fill(self._venue, f"F-{coid}", f"V-{coid}", r.market_id, r.side, r.action, qty, price, self.fee,
                      datetime.now(UTC), client_order_id=coid),) if qty > 0 else ()
        status = OrderStatus.FILLED if qty == r.size else OrderStatus.PARTIAL if qty > 0 else OrderStatus.CANCELLED
        return OrderState(self._venue, coid, f"V-{coid}", status, r.market_id, r.side, r.action, r.size, qty,
                          price if qty > 0 else None, self.fee if qty > 0 else D(0), r.limit_price,
                          datetime.now(UTC), fills, venue_status=status.value)

    def _place(self, state: OrderState) -> OrderState:
        self.x.orders[state.client_order_id] = state
        self.x.accepted[state.client_order_id] = self.x.accepted.get(state.client_order_id, 0) + 1
        return state

    async def submit(self, prepared: PreparedOrder) -> OrderState:
        r = prepared.request
        coid = r.client_order_id
        self.x.payloads.setdefault(coid, []).append(prepared.payload)
        if self.x.on_submit is not None:
            self.x.on_submit(tag_of(coid))
        if coid in self.x.orders:  # a venue never places the same client order id twice
            return self.x.orders[coid]
        b = self.x.behaviour(tag_of(coid))
        kind = b[0] if isinstance(b, tuple) else b
        if kind == "fill":
            return self._place(self._fill(r, r.size, D(b[1]) if isinstance(b, tuple) else None))
        if kind == "partial":  # ("partial", qty) at the limit, or ("partial", qty, price)
            return self._place(self._fill(r, D(b[1]), D(b[2]) if len(b) > 2 else None))
        if kind == "kill":
            return self._place(self._fill(r, D(0)))
        if kind == "reject":
            raise OrderRejected(self._venue, "INSUFFICIENT_BALANCE", "scripted rejection")
        if kind == "geoblocked":
            from orion_cli.venues.trading import Geoblocked

            raise Geoblocked(f"{self._venue.value}'s firewall refused POST /order from this host (HTTP 403)")
        if kind == "unknown_filled":
            self._place(self._fill(r, r.size))
            raise OrderOutcomeUnknown(self._venue, coid, "scripted timeout")
        if kind == "unknown_absent":
            raise OrderOutcomeUnknown(self._venue, coid, "scripted timeout before the venue saw it")
        if kind == "unavailable":
            from orion_cli.core.errors import VenueUnavailable

            raise VenueUnavailable(self._venue.value, "POST /orders: HTTP 503 after 3 attempts")
        if kind == "auth":
            from orion_cli.core.errors import REJECTED_HINT, AuthError

            raise AuthError(f"{self._venue.value} rejected our credentials for POST /orders: HTTP 401 "
                            "header_timestamp_expired header timestamp expired", hint=REJECTED_HINT)
        if kind == "delayed":
            self.x.delayed[coid] = (b[1], self._fill(r, r.size))
            return self._place(OrderState(self._venue, coid, f"V-{coid}", OrderStatus.SUBMITTED, r.market_id, r.side,
                                          r.action, r.size, D(0), None, D(0), r.limit_price, datetime.now(UTC), (),
                                          venue_status="delayed"))
        if kind == "crash_after_accept":
            self._place(self._fill(r, r.size))
            raise Crash(coid)
        raise AssertionError(f"unknown script step {b!r}")

    async def find_order(self, client_order_id: str, venue_order_id: str = "") -> OrderState | None:
        self.x.lookups += 1
        if self.x.failing_lookups > 0:
            self.x.failing_lookups -= 1
            from orion_cli.core.errors import VenueUnavailable

            raise VenueUnavailable(self._venue.value, "scripted lookup failure")
        await asyncio.sleep(0)
        if client_order_id in self.x.delayed:
            left, outcome = self.x.delayed[client_order_id]
            if left is not None and left <= 1:
                del self.x.delayed[client_order_id]
                self.x.orders[client_order_id] = outcome
            else:
                self.x.delayed[client_order_id] = (None if left is None else left - 1, outcome)
        return self.x.orders.get(client_order_id)

    async def cancel(self, venue_order_id: str) -> OrderState | None:
        if self.x.failing_cancels:
            from orion_cli.core.errors import VenueUnavailable

            raise VenueUnavailable(self._venue.value, "scripted cancel failure")
        for coid, st in self.x.orders.items():
            if st.venue_order_id == venue_order_id:
                self.x.delayed.pop(coid, None)
                if st.status in (OrderStatus.OPEN, OrderStatus.SUBMITTED):
                    self.x.orders[coid] = replace(st, status=OrderStatus.CANCELLED)
                return self.x.orders[coid]
        return None

    async def open_orders(self) -> list[OrderState]:
        return []

    async def fills(self, *, since: datetime | None = None, venue_order_id: str = "") -> list[Fill]:
        return [f for st in self.x.orders.values() for f in st.fills]

    async def settlements(self, markets: Sequence[str]) -> list[Settlement]:
        return []

    async def transfers(self) -> None:
        return None


def fake_venues(x: Exchange) -> Mapping[Venue, FakeVenue]:
    return {Venue.KALSHI: FakeVenue(Venue.KALSHI, x), Venue.POLYMARKET: FakeVenue(Venue.POLYMARKET, x)}
