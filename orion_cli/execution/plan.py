"""What an execution intends to do, and every check's verdict on it.

A :class:`TradePlan` is built from an opportunity and *fresh* books just before sending; the
pre-trade pipeline (:mod:`orion_cli.risk.checks`) judges it, and the two-leg executor
(:mod:`orion_cli.execution.executor`) carries it out. Both legs are judged before the first is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from orion_cli.core.models import Market, OrderBook, PriceLevel, Side, Venue, polymarket_buy_spend

# The reason codes of DESIGN §4, in pipeline order.
CHECK_ORDER: tuple[str, ...] = (
    "HALTED",
    "BREAKER",
    "NOT_AUTHORIZED",
    "TRADING_WINDOW",
    "INVALID_ORDER",
    "PRICE_BAND",
    "STALE_QUOTE",
    "EDGE_GONE",
    "ORDER_NOTIONAL",
    "ORDER_CONTRACTS",
    "MARKET_EXPOSURE",
    "CATEGORY_EXPOSURE",
    "TOTAL_EXPOSURE",
    "OPEN_POSITIONS",
    "BALANCE",
    "RATE_LIMIT",
    "DUPLICATE",
)


@dataclass(frozen=True, slots=True)
class LegPlan:
    """Buy ``size`` of ``side`` on ``market`` paying at most ``limit_price`` per contract."""

    venue: Venue
    market: Market
    side: Side
    size: Decimal
    limit_price: Decimal  # worst price walked on the fresh book (the order's limit)
    expected_avg_price: Decimal  # per contract bought
    # Size × prices walked, excluding fees; a Polymarket buy's, the dollars it is signed for (size × limit
    # rounded up to the cent), which buy a little more than ``size`` shares (``polymarket_buy_fill``).
    expected_cost: Decimal
    expected_fees: Decimal  # on the contracts bought
    book: OrderBook  # the fresh book the leg was priced on
    token_id: str = ""  # Polymarket outcome token
    # The levels walked for ``size``, cheapest first: (price, contracts taken; a Polymarket buy's, the
    # shares its dollars buy). Slippage is measured against them (execution/slippage.py), exactly, not
    # against the rounded ``expected_avg_price``.
    levels: tuple[PriceLevel, ...] = ()

    @property
    def notional(self) -> Decimal:
        """Cost plus fees the leg can commit at worst: size × limit price plus fees; for a Polymarket buy,
        the dollars it is signed for (size × limit rounded up to the cent, which the venue spends in
        full: :func:`polymarket_buy_spend`) plus fees. What its position will cost once it fills."""
        if self.venue is Venue.POLYMARKET:
            return polymarket_buy_spend(self.size, self.limit_price) + self.expected_fees
        return self.exact_notional

    @property
    def exact_notional(self) -> Decimal:
        """Size × limit price plus fees, unrounded (a Polymarket leg's :attr:`notional` before its spend is
        rounded up to the cent)."""
        return self.size * self.limit_price + self.expected_fees

    def to_record(self) -> dict[str, Any]:
        return {
            "venue": self.venue.value,
            "market": self.market.id,
            "token_id": self.token_id,
            "side": self.side.value,
            "size": self.size,
            "limit_price": self.limit_price,
            "avg_price": self.expected_avg_price,
            "cost": self.expected_cost,
            "fees": self.expected_fees,
            "category": self.market.category,
            "book_fetched_at": self.book.fetched_at,
        }


def sole_venue(venues: Iterable[Venue]) -> str | None:
    """The venue every leg is on (a within-venue opportunity), else None: a ``risk.rejected`` event's
    venue column, which ``orion report --venue`` filters by. A cross-venue refusal has a leg on each
    venue and counts in each one's report."""
    found = {v.value for v in venues}
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True, slots=True)
class TradePlan:
    """Both legs, equal shares, priced on fresh books; ``key`` is the execution's idempotency key."""

    key: str
    opportunity_id: str
    legs: tuple[LegPlan, ...]
    size: Decimal
    net_edge: Decimal  # per contract, after fees, on the fresh books
    net_profit: Decimal
    quoted_net_edge: Decimal  # what the scan promised
    planned_at: datetime

    @property
    def cost(self) -> Decimal:
        return sum((leg.expected_cost for leg in self.legs), Decimal(0))

    @property
    def fees(self) -> Decimal:
        return sum((leg.expected_fees for leg in self.legs), Decimal(0))

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "plan",
            "key": self.key,
            "opportunity_id": self.opportunity_id,
            "size": self.size,
            "cost": self.cost,
            "fees": self.fees,
            "net_edge": self.net_edge,
            "net_profit": self.net_profit,
            "quoted_net_edge": self.quoted_net_edge,
            "planned_at": self.planned_at,
            "legs": [leg.to_record() for leg in self.legs],
        }


# How a check's detail starts when the check was skipped (its inputs were invalid) and so fails
# closed: a refusal, but not that check's finding (`orion report` does not count it as one).
NOT_EVALUATED = "not evaluated: "


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict. ``name`` is the reason code; ``leg`` is None for plan-wide checks."""

    name: str
    passed: bool
    detail: str
    leg: int | None = None
    # BREAKER: failed on its figures (a limit reached, a trip in force), which the breaker trips on; not
    # when it failed closed (figures not computable, not evaluated). Not part of the record.
    at_limit: bool = field(default=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        return {"type": "check", "name": self.name, "passed": self.passed, "detail": self.detail, "leg": self.leg}


@dataclass(frozen=True, slots=True)
class Verdict:
    """All checks, in pipeline order; the plan may proceed only when every one passed."""

    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if not c.passed), None)

    def rejected_record(self, key: str, opportunity_id: str, leg_venues: Sequence[str] = ()) -> dict[str, Any]:
        """The payload of the ``risk.rejected`` audit event of a refused plan (``orion report`` counts
        its ``failed`` checks by name): one shape for the pipeline's refusals and for those decided
        before it (a key another process is executing, an interrupted execution in the way).

        ``leg_venues``: each plan leg's venue, by leg index, so ``orion report --venue`` counts a
        check that failed on one leg (``leg``) for that leg's venue only (a cross-venue event's
        venue column is empty); recorded when given."""
        record: dict[str, Any] = {"key": key, "opportunity_id": opportunity_id,
                                  "failed": [c.to_record() for c in self.checks if not c.passed],
                                  "checks": [c.to_record() for c in self.checks]}
        if leg_venues:
            record["leg_venues"] = list(leg_venues)
        return record
