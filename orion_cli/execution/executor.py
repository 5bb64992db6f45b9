"""Two-leg execution (DESIGN §5): checked, committed before sending, never placed twice.

How one execution runs (the statuses are :mod:`orion_cli.execution.state`):

1. **Check and commit.** One :meth:`Database.write` transaction runs every pre-trade check
   (``evaluate``); a refusal audits ``risk.rejected`` with every failing check and stores nothing,
   so the same key may be tried again once the reason is gone. (A key another process is executing
   is refused before that transaction, as DUPLICATE, and audited the same way: :func:`audit_refusal`.)
   Otherwise the ``executions`` row (status ``intents``), ``execution.requested`` and both legs'
   order intents (the exact prepared payloads) are committed together. Client order ids are derived
   from a random nonce the execution gets when it is committed (kept in its stored plan), the
   idempotency key and a tag (``l1``, ``l2``, ``l2a1``…, ``u1``…) and stored with each intent, so a
   re-run after a crash finds every order it may have sent by the ids it sent (the execution is found
   by its key, never by an id), and no other execution — in another ledger, or in a copy of this one
   restored from a backup — ever sends the same id (Kalshi keeps a client order id per account for
   ever and answers a reuse with the order holding it). An execution in flight when the ledger was
   copied is the same execution in both copies, ids and all: restored, its orders are its own.
2. **The thinner leg first.** The leg whose planned size is the larger share of the visible ask
   depth within its limit is the one least likely to fill, so it goes first (ties: Kalshi first,
   because a marketable Polymarket BUY is dollar-denominated and may deliver a few more shares than
   asked, which the second leg then ignores as dust rather than chasing). Both legs use
   ``trading.time_in_force`` (FOK by default, IOC allowed); nothing ever rests.
3. **Equal shares.** The second leg buys exactly what the first filled (floored to the second
   market's size step, never more than planned). Short: up to ``trading.second_leg_retries`` IOC
   retries, each re-reading the book when a reader is available, at a limit that keeps the pair's
   net ≥ 0 after fees given every fill so far, and within ORDER_NOTIONAL and PRICE_BAND (the checks
   passed the plan's price, not this one). A first leg filled in part supersedes the committed
   second leg (the wrong size) with one sized to the fill, sent as that leg would be (at the plan's
   limit) unless the fresh book has moved above it: then at the breakeven limit, as a retry; the
   retries follow the same way. Still short: the first leg's excess is sold back
   (IOC) at a limit that keeps the loss ≤ ``trading.max_unwind_loss``. If that fails or is short,
   the kill switch is engaged (kind ``unwind``), ``unwind.failed`` is alerted and the execution is
   left ``halted`` with a precise record (``executions.result``) for ``reconcile``. A remainder too
   small to sell (below the venue's size step or minimum order: ``result.dust``) is naked exposure
   all the same and halts the same way.
4. **Read back.** Every order that reached the venue is looked up (``find_order``) and audited as
   ``order.verified``; fills come from the read-back (venues' create answers lack them). Slippage
   (what the fills cost minus what the plan's levels cost for that quantity, exact, in dollars:
   :mod:`orion_cli.execution.slippage`) and latency (send → answer) go into the result.
5. **Unknown outcomes.** ``OrderOutcomeUnknown`` → ``Ledger.mark_unknown`` → ``find_order`` with
   the persisted ids. Only when the venue says it never saw the order is the *same* prepared
   payload re-sent (every venue also refuses a duplicate of it). An outcome that stays unknown
   halts (fail closed). A re-send refused after a lost answer is not proof that nothing was placed
   (the first copy may have spent the balance the second needed): the order is looked for again,
   and if it is still not found, its outcome stays unknown and halts, never "rejected". A venue that
   refuses orion's credentials (HTTP 401/403, ``AuthError``) did nothing with the order: it is
   rejected as any refusal (the same rule after a lost answer), and the execution's result names it
   (``credentials_refused``). A hedge is then not retried at that venue (every retry would be refused
   the same way): the first leg is unwound at once. An order a venue holds under the order's client order
   id that is not this order (Kalshi's ``ClientOrderIdTaken``: an id used before on the account) is never
   taken for it: answered to a send, the order is rejected (``result.client_order_id_taken``), nothing
   placed; met by a look-up, the outcome stays unresolved and halts.
6. **Resume** (:meth:`Executor.resume`) looks every order of the key up, then finishes what is
   safe: it hedges or unwinds a filled first leg, but it never sends a first leg that had not
   been sent before the interruption (its prices are stale; the execution becomes ``failed``), and
   it never prepares a new order for a tag whose intent exists. Every decision from a filled count
   goes by one rule (:meth:`Executor._filled`): an order the ledger holds final counts the fills
   recorded there (by its read-back, or by ``orion reconcile`` after the interruption), never an
   earlier read-back's count of an order the venue had not decided yet.

The halt is checked inside the transaction that marks each order submitted. A halt engaged
mid-execution stops every further *buy* (second leg and its retries); the unwind of naked first-leg
exposure is still sent, because it only reduces risk and a halt should not leave an unhedged
position behind. The choice is recorded in the result (``halted_mid_execution``).

An execution that ends (``done``, ``unwound``, ``failed``) cancels, with its final status, every order
of it still at ``intent`` (never marked submitted) as never sent: the pre-trade checks count an
intent as a market held and cash in flight. One marked submitted may be at the venue: it stays for
``orion reconcile``. A ``halted`` execution keeps its intents, which a resume may still send.

Money is Decimal throughout. A marketable Polymarket BUY spends a dollar amount (size × limit, rounded up
to the cent), so it may get more shares than the order's size, at better prices or from the cent's rounding
alone: the ledger holds them (``result.overfill`` says how many).
Beside a hedged pair they are neither hedged nor unwound; an unwound pair sells them with the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import DatabaseError, IntegrityError

from orion_cli.core.config import Settings
from orion_cli.core.errors import (
    AuthError,
    DataError,
    Halted,
    NotFound,
    OrionError,
    Refused,
    StorageError,
    VenueUnavailable,
)
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import (
    POLYMARKET_MIN_MARKETABLE_BUY,
    Market,
    OrderBook,
    PriceLevel,
    Side,
    TickRange,
    TickStructure,
    Venue,
    polymarket_buy_fill,
    polymarket_buy_short_of_minimum,
    polymarket_buy_spend,
    utcnow,
)
from orion_cli.core.money import CENT, ONE, ZERO, ceil_to, floor_to
from orion_cli.core.opportunity import Opportunity, not_a_pair, ratio_down
from orion_cli.core.pricing import fillable_size, size_grid
from orion_cli.execution.keylock import KEY_LOCK_PATIENCE, execution_lock
from orion_cli.execution.plan import CheckResult, LegPlan, TradePlan, Verdict, sole_venue
from orion_cli.execution.slippage import levels_from_record, levels_record, planned_cost
from orion_cli.execution.state import (
    ADJUST_PREFIX,
    EXTERNAL_PREFIX,
    LATE_LISTING_GRACE,
    NEVER_SENT,
    SOURCE_FLAGS,
    ExecStatus,
    IllegalExecutionTransition,
    advance,
    allowed,
    current,
    decoding,
    load_record,
    save_result,
)
from orion_cli.risk.halt import KillSwitch, assert_not_halted, release_steps
from orion_cli.store.audit import AuditLog, canonical_json, default_actor, iso_utc
from orion_cli.store.audit import batched as audit_batch
from orion_cli.store.db import Database
from orion_cli.store.ledger import NETTING_VENUES, Ledger, intents_refused
from orion_cli.store.prepared import Prepared, defer, deferred
from orion_cli.store.tables import executions, fills, plain
from orion_cli.venues.trading import (
    Action,
    ClientOrderIdTaken,
    Fill,
    Geoblocked,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderVersionUnsupported,
    PreparedOrder,
    TimeInForce,
    TradingVenue,
    fit_fills,
)

if TYPE_CHECKING:
    from orion_cli.core.alert_sink import AlertSink
    from orion_cli.core.runlock import RunLock
    from orion_cli.risk.breaker import Breaker
    from orion_cli.risk.checks import PipelineContext

log = logging.getLogger(__name__)

__all__ = ["CRASH_STEPS", "ExecutionResult", "Executor", "LegSpec", "audit_refusal", "build_plan", "client_order_id",
           "leg_order", "venues_resume_may_send_to"]

# -- test hook ------------------------------------------------------------------------------------
# Crash tests (tests/execution/test_crash.py) SIGKILL a real process at a named step. The variable
# is read once, at import, and only when ORION_TEST_CRASH_AT is set; otherwise the hook is inert.
_CRASH_AT: str | None = os.environ["ORION_TEST_CRASH_AT"] if "ORION_TEST_CRASH_AT" in os.environ else None

CRASH_STEPS: tuple[str, ...] = (
    "intents_committed",  # execution + both intents committed, nothing sent
    "l1_marked",  # first leg marked submitted, not sent
    "l1_sent",  # first leg answered by the venue, answer not yet read back/recorded by the executor
    "l1_recorded",  # first leg recorded and verified
    "l2_marked",
    "l2_sent",
    "l2_recorded",
    "before_final",  # everything recorded, final status not yet written
)


def _crash_point(step: str) -> None:
    if _CRASH_AT is not None and _CRASH_AT == step:
        os.kill(os.getpid(), signal.SIGKILL)


EvaluateFn = Callable[[Connection, TradePlan, Any], Verdict]
# A market's current book, read for the hedge retry's "is the limit still offered" check only: the
# retry's limit is priced with the plan's fees, so a reader need not (and should not) fail when the
# market's fee cannot be read now (`orion trade` passes `MarketSource.book(..., with_fees=False)`).
BookReader = Callable[[Venue, str], Awaitable[tuple[Market, OrderBook]]]

_PRICE_Q = Decimal("0.000001")
_RESULT_STATUS = {
    ExecStatus.DONE: "done",
    ExecStatus.UNWOUND: "unwound",
    ExecStatus.HALTED: "halted",
    ExecStatus.FAILED: "failed",
    ExecStatus.REFUSED: "refused",
}


def venues_resume_may_send_to(status: ExecStatus, plan_json: str, key: str | None = None,
                              where: str = "") -> frozenset[Venue]:
    """Where resuming an execution stopped at ``status`` may send (or cancel) an order next.

    A first leg is never re-sent: one never sent is abandoned (nothing goes anywhere); one that may be
    at the venue is looked up there (and cancelled if undecided), and if it filled the hedge follows,
    so both venues. From a first leg known filled the hedge goes to the second leg's venue (an unwind
    of a short hedge would follow on the first's, as without a resume); once hedged, or unwinding,
    only the first leg's venue may get an order (the unwind). A halted execution may be anywhere, so
    both. Final ones send nothing.
    """
    with decoding(key, where=where):
        plan = load_record(plan_json)
        specs = {int(s["index"]): Venue(s["venue"]) for s in plan["specs"]}
        first, second = specs[int(plan["first"])], specs[int(plan["second"])]
    if status.final or status is ExecStatus.INTENTS:
        return frozenset()
    if status in (ExecStatus.LEG1_DONE, ExecStatus.LEG2_SENT):
        return frozenset({second})
    if status in (ExecStatus.HEDGED, ExecStatus.UNWINDING):
        return frozenset({first})
    return frozenset({first, second})  # LEG1_SENT, HALTED, and any status not named here: either venue


# The key, in an execution's stored plan, of the random nonce that salts its client order ids.
ID_NONCE = "id_nonce"


def new_id_nonce() -> str:
    """A new execution's own random salt for its client order ids (:func:`client_order_id`)."""
    return secrets.token_hex(16)


def client_order_id(key: str, tag: str, *, salt: str) -> str:
    """Deterministic per (salt, key, tag), for a new order only: each order's id is stored with its
    intent, and every later use (a resume, a look-up, reconcile) takes the stored one.

    ``salt`` is the execution's own random nonce (:data:`ID_NONCE` in its stored plan, made when it is
    committed); an execution committed before there were nonces salts the orders it commits later
    with the ledger's id (:func:`orion_cli.store.meta.ledger_id`). Kalshi keeps a client order id per
    account for ever and answers a reuse with the order holding it: an id of the key alone made a
    second ledger with the same key send the first ledger's ids, and one of the ledger and the key
    made a copy of a ledger (restored from a backup) send the original's.
    """
    if not salt:
        raise DataError("id_nonce", "a client order id needs its execution's nonce")
    digest = hashlib.sha256(f"{salt}\n{key}".encode()).hexdigest()[:24]
    return f"orion-{digest}-{tag}"


def _d(value: Decimal) -> str:
    """For the result record: exact, without trailing zeros."""
    return format(plain(value), "f")


def _x(value: Decimal) -> str:
    """Exactly as given ("10.00" stays "10.00"): a re-built request must equal the persisted one."""
    return format(value, "f")


# -- planning -------------------------------------------------------------------------------------


def _refused_as_invalid(verdict: Verdict, *, leg: int | None = None) -> bool:
    """The checks already refused the plan by INVALID_ORDER (a size of 0 fails it on every leg); with
    ``leg``, on that leg (a leg's failed preparation is its own finding unless its check said it)."""
    return any(c.name == "INVALID_ORDER" and not c.passed and (leg is None or c.leg == leg)
               for c in verdict.checks)


def build_plan(opportunity: Opportunity, fresh: Mapping[tuple[Venue, str], tuple[Market, OrderBook]], *,
               size: Decimal | None, key: str, settings: Settings, now: datetime) -> TradePlan:
    """Re-price the opportunity's legs on fresh books at ``size`` (default: the scanned size).

    The size is capped by every leg's fresh ask depth (floored to the legs' common size grid), and a
    Polymarket leg's by the depth the dollars its buy is signed for need (``fillable_size``), so a
    thinned book shrinks the trade instead of planning fills that cannot happen; a size of 0 then
    fails ``INVALID_ORDER`` in the checks. The edge is recomputed with per-fill fees.
    """
    del settings  # the checks judge the plan against the settings; pricing needs none of them
    specs: list[tuple[Market, OrderBook, Side, str]] = []
    for leg in opportunity.legs:
        try:
            market, book = fresh[(leg.venue, leg.market_id)]
        except KeyError:
            raise DataError("fresh", f"no fresh book for {leg.venue.value}:{leg.market_id}") from None
        token = leg.token_id
        if not token and market.venue is Venue.POLYMARKET:
            token = market.yes_token if leg.side is Side.YES else market.no_token
        specs.append((market, book, leg.side, token))
    wanted = opportunity.size if size is None else size
    grid = size_grid([m.size_step for m, _, _, _ in specs])
    chosen = fillable_size([(m, b.side(s)) for m, b, s, _ in specs], wanted, grid)
    legs: list[LegPlan] = []
    for market, book, side, token in specs:
        limit, cost, fees, taken = costed_buy(market, book.side(side).asks, chosen)
        bought = sum((lv.size for lv in taken), ZERO)
        avg = ceil_to(sum((lv.price * lv.size for lv in taken), ZERO) / bought, _PRICE_Q) if bought > 0 else limit
        legs.append(LegPlan(venue=market.venue, market=market, side=side, size=chosen, limit_price=limit,
                            expected_avg_price=avg, expected_cost=cost, expected_fees=fees, book=book,
                            token_id=token, levels=tuple(taken)))
    net = chosen - sum((leg.expected_cost + leg.expected_fees for leg in legs), ZERO)
    return TradePlan(key=key, opportunity_id=opportunity.id, legs=tuple(legs), size=chosen,
                     net_edge=ratio_down(net, chosen) if chosen > 0 else ZERO, net_profit=net if chosen > 0 else ZERO,
                     quoted_net_edge=opportunity.net_edge, planned_at=now)


def costed_buy(market: Market, asks: Sequence[PriceLevel],
               size: Decimal) -> tuple[Decimal, Decimal, Decimal, tuple[PriceLevel, ...]]:
    """(limit price, cost, fees, levels taken) of an immediate buy of ``size`` on ``market`` walking
    ``asks`` (lowest first): the figures a plan's leg carries (:func:`build_plan`), which ORDER_NOTIONAL
    and BALANCE count as its cash out (``order_cash_out(venue, size, limit, fees)``).

    The limit is the worst level walked (the best ask when none is). Each level walked is a fill with its
    own fee. A Polymarket buy is costed as scan prices it (core/pricing.py): the dollars it is signed for,
    which the venue spends in full at its limit, the fee on the shares they buy.
    """
    cost = fees = ZERO
    worst: Decimal | None = None
    taken: list[PriceLevel] = []
    left = size
    for lv in asks:
        if left <= 0:
            break
        if not (ZERO < lv.price < ONE) or lv.size <= 0:
            continue
        take = min(left, lv.size)
        taken.append(PriceLevel(lv.price, take))
        cost += take * lv.price
        fees += market.fee_model.fill_fee(take, lv.price)
        worst = lv.price
        left -= take
    limit = worst if worst is not None else (asks[0].price if asks else ONE)
    if market.venue is Venue.POLYMARKET and size > 0:
        cost, shares, fees = polymarket_buy_fill(size, limit, market.fee_model)
        taken = [PriceLevel(limit, shares)]
    return limit, cost, fees, tuple(taken)


@dataclass(frozen=True, slots=True)
class LegSpec:
    """What the executor needs of one planned leg, persisted in the plan so ``resume`` has it too."""

    index: int
    venue: Venue
    market_id: str
    token_id: str
    side: Side
    category: str
    fee_model: FeeModel
    ticks: TickStructure
    size_step: Decimal
    min_size: Decimal
    neg_risk: bool  # the exchange its orders are signed for: Market.signs_neg_risk (the CLOB book's flag)
    protocol_v2: bool
    limit_price: Decimal
    planned_avg: Decimal
    planned_size: Decimal
    depth_ratio: Decimal  # planned size / visible ask depth within the limit (higher = less likely to fill)
    # The plan's levels for this leg (LegPlan.levels), the basis of slippage; () in a plan persisted
    # before they were kept (see planned_cost).
    planned_levels: tuple[PriceLevel, ...] = ()

    @classmethod
    def from_plan(cls, index: int, leg: LegPlan) -> LegSpec:
        m = leg.market
        depth = sum((lv.size for lv in leg.book.side(leg.side).asks if ZERO < lv.price <= leg.limit_price), ZERO)
        ratio = Decimal("Infinity") if depth <= 0 else leg.size / depth
        return cls(index=index, venue=leg.venue, market_id=m.id, token_id=leg.token_id, side=leg.side,
                   category=m.category, fee_model=m.fee_model, ticks=m.ticks, size_step=m.size_step,
                   min_size=m.min_size, neg_risk=m.signs_neg_risk, protocol_v2=m.extra.get("protocol") == "v2",
                   limit_price=leg.limit_price, planned_avg=leg.expected_avg_price, planned_size=leg.size,
                   depth_ratio=ratio, planned_levels=leg.levels)

    def to_record(self) -> dict[str, Any]:
        fm = self.fee_model
        return {
            "index": self.index, "venue": self.venue.value, "market": self.market_id, "token_id": self.token_id,
            "side": self.side.value, "category": self.category,
            "fee_model": {"kind": fm.kind, "taker_rate": _d(fm.taker_rate), "maker_rate": _d(fm.maker_rate),
                          "multiplier": _d(fm.multiplier), "exponent": fm.exponent, "source": fm.source},
            "ticks": [[_d(r.start), _d(r.end), _d(r.step)] for r in self.ticks.ranges],
            "size_step": _d(self.size_step), "min_size": _d(self.min_size), "neg_risk": self.neg_risk,
            "protocol_v2": self.protocol_v2, "limit_price": _d(self.limit_price),
            "planned_avg": _d(self.planned_avg), "planned_size": _d(self.planned_size),
            "depth_ratio": "inf" if self.depth_ratio.is_infinite() else _d(self.depth_ratio),
            "planned_levels": levels_record(self.planned_levels),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> LegSpec:
        fm = rec["fee_model"]
        return cls(
            index=int(rec["index"]), venue=Venue(rec["venue"]), market_id=str(rec["market"]),
            token_id=str(rec["token_id"]), side=Side(rec["side"]), category=str(rec["category"]),
            fee_model=FeeModel(fm["kind"], Decimal(fm["taker_rate"]), Decimal(fm["maker_rate"]),
                               Decimal(fm["multiplier"]), int(fm["exponent"]), str(fm["source"])),
            ticks=TickStructure(tuple(TickRange(Decimal(a), Decimal(b), Decimal(c)) for a, b, c in rec["ticks"])),
            size_step=Decimal(rec["size_step"]), min_size=Decimal(rec["min_size"]), neg_risk=bool(rec["neg_risk"]),
            protocol_v2=bool(rec["protocol_v2"]), limit_price=Decimal(rec["limit_price"]),
            planned_avg=Decimal(rec["planned_avg"]), planned_size=Decimal(rec["planned_size"]),
            depth_ratio=Decimal("Infinity") if rec["depth_ratio"] == "inf" else Decimal(rec["depth_ratio"]),
            planned_levels=levels_from_record(rec.get("planned_levels")),
        )

    def planned_cost(self, quantity: Decimal, *, after: Decimal = ZERO) -> Decimal:
        """What the plan's levels cost for ``quantity`` after the leg's first ``after`` contracts
        (execution/slippage.py). A plan persisted before the levels were kept has only the average,
        rounded up to 6 dp, so there it is that average × quantity (off by under $0.000001 a contract)."""
        cost = planned_cost(self.planned_levels, quantity, after=after)
        return cost if cost is not None else self.planned_avg * quantity

    def request(self, *, coid: str, action: Action, size: Decimal, limit: Decimal, tif: TimeInForce) -> OrderRequest:
        return OrderRequest(venue=self.venue, market_id=self.market_id, side=self.side, action=action, size=size,
                            limit_price=limit, time_in_force=tif, client_order_id=coid, token_id=self.token_id,
                            tick_size=self.ticks.step_at(limit), neg_risk=self.neg_risk, protocol_v2=self.protocol_v2)


def leg_order(specs: Sequence[LegSpec]) -> tuple[LegSpec, LegSpec]:
    """(first, second): the larger share of visible depth first; ties → Kalshi first (module doc)."""
    if len(specs) != 2:
        raise DataError("plan.legs", f"a two-leg execution needs exactly two legs, got {len(specs)}")
    a, b = specs
    key_a = (a.depth_ratio, a.venue is Venue.KALSHI)
    key_b = (b.depth_ratio, b.venue is Venue.KALSHI)
    return (a, b) if key_a >= key_b else (b, a)


def _request_record(r: OrderRequest) -> dict[str, Any]:
    return {"venue": r.venue.value, "market_id": r.market_id, "side": r.side.value, "action": r.action.value,
            "size": _x(r.size), "limit_price": _x(r.limit_price), "time_in_force": r.time_in_force.value,
            "client_order_id": r.client_order_id, "token_id": r.token_id, "tick_size": _x(r.tick_size),
            "neg_risk": r.neg_risk, "protocol_v2": r.protocol_v2}


def _request_from(rec: Mapping[str, Any]) -> OrderRequest:
    return OrderRequest(venue=Venue(rec["venue"]), market_id=rec["market_id"], side=Side(rec["side"]),
                        action=Action(rec["action"]), size=Decimal(rec["size"]),
                        limit_price=Decimal(rec["limit_price"]), time_in_force=TimeInForce(rec["time_in_force"]),
                        client_order_id=rec["client_order_id"], token_id=rec["token_id"],
                        tick_size=Decimal(rec["tick_size"]), neg_risk=bool(rec["neg_risk"]),
                        protocol_v2=bool(rec["protocol_v2"]))


# -- results --------------------------------------------------------------------------------------


def _intent_record(prepared: PreparedOrder, leg_name: str) -> dict[str, Any]:
    return {"leg": leg_name, "request": _request_record(prepared.request), "payload": prepared.payload,
            "venue_ref": prepared.venue_ref}


@dataclass(frozen=True)
class Committed:
    """What :meth:`Executor.commit_intents` decided: the key existed (resume it), refused, or ready to send."""

    exists: bool
    verdict: Verdict
    run: _Run | None


_EXECUTION_EXISTS = select(executions.c.key).where(executions.c.key == bindparam("key"))
_INSERT_EXECUTION = Prepared.insert(executions, name="insert_execution")


# What an execution's update of the loss breaker made: its trips, and its warnings as (kind, message).
BreakerNews = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]


@dataclass
class ExecutionResult:
    key: str
    status: str  # "done" | "refused" | "unwound" | "halted" | "already_done" | "failed"
    verdict: Verdict
    orders: list[OrderState]
    message: str
    detail: dict[str, Any] = field(default_factory=dict)  # executions.result: fills, slippage, latency, unwind
    # The loss breaker's trips (daily_loss, drawdown) that this execution's figures made: trading is
    # halted now, which the caller must say — the execution's own status does not.
    breaker_tripped: tuple[str, ...] = ()
    # The loss breaker's warnings (at breaker.warn_at_pct of a limit) that this execution's figures
    # raised, in the words audited as breaker.warning: the caller says them (alerts are off by default).
    breaker_warnings: tuple[tuple[str, str], ...] = ()  # (kind, message)

    @property
    def outcome(self) -> str:
        """How the execution ended: ``status``, but for a re-run of a used key (``already_done``,
        nothing sent) the stored execution's end (done, unwound or failed), which the caller's exit
        code and refusal then follow: a retry loop must not read a failed or unwound execution as
        success because it was asked for twice. Empty (no success either) if the stored end is missing."""
        if self.status != "already_done":
            return self.status
        return str(self.detail.get("status") or "")

    @property
    def sent_orders(self) -> bool:
        """Whether any of its orders reached a venue (done, unwound, a killed FOK...): a trade made."""
        return any(_was_sent(o) for o in self.orders)

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "execution",
            "key": self.key,
            "status": self.status,
            "message": self.message,
            "passed": self.verdict.passed,
            "checks": [c.to_record() for c in self.verdict.checks],
            "orders": [o.to_record() for o in self.orders],
            "execution_status": self.detail.get("status"),
            "legs": self.detail.get("legs", {}),
            "unwind": self.detail.get("unwind"),
            "overfill": self.detail.get("overfill", {}),
            "breaker_tripped": list(self.breaker_tripped),
        }


class _Unresolved(OrionError):
    """An order's outcome could not be established (lookups failed): fail closed."""

    reason = "order_outcome_unknown"


class _NotDriving(OrionError):
    """This process no longer has the execution to itself: its key lock is gone (a PostgreSQL session
    the server ended) or another process moved its status. Nothing more is sent; the kill switch is
    engaged, as for any outcome the ledger cannot vouch for."""

    reason = "execution_taken"


@dataclass
class _Run:
    key: str
    status: ExecStatus
    first: LegSpec
    second: LegSpec
    result: dict[str, Any]
    # What salts the client order id of an order committed from now on: the execution's nonce (the
    # ledger's id for an execution committed before there were nonces).
    salt: str
    # A resume of a halted execution: the unsellable remainder ("dust") that halt named, if any.
    halted_dust: dict[str, Any] | None = None
    # A resume's: the legs ("first", "second") whose market the ledger has settled (`orion reconcile`
    # recorded the venue's settlement). Nothing more is bought or sold there: a settled leg's shares
    # were paid out or lost, so hedging them buys a bet on nothing, and the venue refuses a sell.
    settled: frozenset[str] = frozenset()

    def coid(self, tag: str) -> str:
        """The client order id of ``tag``: the one committed with its intent (an execution begun before
        ids were salted as now keeps its own), else the one a new intent gets."""
        rec = self.result.get("intents", {}).get(tag)
        if rec is not None:
            return str(rec["request"]["client_order_id"])
        return client_order_id(self.key, tag, salt=self.salt)

    def prepared(self, tag: str) -> PreparedOrder:
        rec = self.result["intents"][tag]
        return PreparedOrder(_request_from(rec["request"]), rec["payload"], rec["venue_ref"])

    def tags(self, prefix: str) -> list[str]:
        return sorted((t for t in self.result["intents"] if t == prefix or t.startswith(prefix + "a")
                       or (prefix == "u" and t.startswith("u"))), key=_tag_order)

    def spec_of(self, tag: str) -> LegSpec:
        if tag == "l1":
            return self.first
        if tag.startswith("l2"):
            return self.second
        return self.first if self.result["intents"][tag]["leg"] == "first" else self.second


def _tag_order(tag: str) -> tuple[int, int]:
    if tag.startswith("l2a"):
        return (1, int(tag[3:] or 0))
    if tag.startswith("u"):
        return (2, int(tag[1:] or 0))
    return (0, 0)


def _settled_or_unresolved(run: _Run, tag: str, state: OrderState) -> None:
    """After a resume's look-up (and cancel) of an order that may be at the venue: it is final, or it
    was never placed; one still resting (a cancel answered but did not take) may yet fill, so
    nothing more may be sent beside it."""
    if not state.status.terminal and state.status is not OrderStatus.INTENT:
        raise _Unresolved(f"{run.coid(tag)} is {state.status.value} at the venue after a look-up and a cancel")


# The execution result's records of orders a venue refused for good (see Executor._refusals).
CREDENTIALS_REFUSED = "credentials_refused"
GEOBLOCKED = "geoblocked"
VERSION_REFUSED = "order_version_refused"  # the venue takes no order in the format orion signs
# The venue holds another order under the order's client order id (ClientOrderIdTaken): not this order,
# never taken for it. Not a reason to skip the hedge's retries, whose ids are new.
ID_TAKEN = "client_order_id_taken"


def _credentials_said(refusal: Mapping[str, Any], what: str = "") -> str:
    """An execution's message naming the venue that refused orion's credentials, for which order, and
    its answer (the venue's error, never a credential)."""
    tag = str(refusal["tag"])
    leg = "first leg" if tag == "l1" else "second leg" if tag.startswith("l2") else "unwind"
    return f"{refusal['venue']} refused orion's credentials for the {leg}{what} ({refusal['reason']})"


def unexplained_overfill(result: Mapping[str, Any]) -> dict[str, Decimal]:
    """By venue, the shares a venue reported filled beyond an order's size where nothing explains it: any
    order but a Polymarket buy, which spends a dollar amount (:func:`_overfill_said`), and such a buy whose
    fills are worth more than the dollars it was signed for (``result.overfill_beyond_spend``). Its fills
    feed then said something its orders never do (a fill listed twice under two ids): ``trade --watch``
    stops on it."""
    out: dict[str, Decimal] = {}
    intents = result.get("intents", {})
    beyond = result.get("overfill_beyond_spend", {})  # a Polymarket buy's fills worth more than it could spend
    for tag, shares in result.get("overfill", {}).items():
        request = intents.get(tag, {}).get("request", {})
        venue = str(request.get("venue", "?"))
        if venue == Venue.POLYMARKET.value and request.get("action") == Action.BUY.value and tag not in beyond:
            continue
        out[venue] = out.get(venue, ZERO) + Decimal(shares)
    return out


def _overfill_said(run: _Run) -> str:
    """The message's words for the shares venues filled beyond the orders' sizes (``result.overfill``).

    Only a Polymarket buy spends a dollar amount and so may get more shares (at better prices, or from its
    amount's rounding up to the cent); any other order is for a count it never exceeds, so more than asked
    there is not explained away (:func:`unexplained_overfill`)."""
    odd = unexplained_overfill(run.result)
    bought = sum((Decimal(shares) for shares in run.result["overfill"].values()), ZERO) - sum(odd.values(), ZERO)
    said = ""
    if bought > 0:
        said += (f"; {Venue.POLYMARKET.value} filled {_d(bought)} share(s) more than asked (a dollar-amount buy: its "
                 "dollars, rounded up to the cent, or better prices bought more): held, not hedged")
    for venue, shares in sorted(odd.items()):
        said += (f"; {venue} reported {_d(shares)} contract(s) filled beyond the order's count, which its orders "
                 "never do: held, not hedged; check them with `orion reconcile`")
    return said


def _was_sent(order: OrderState) -> bool:
    """Whether the order reached its venue: anything filled did, whatever its reason says. (A leg reconcile
    closed as never reached the venue keeps that reason when a fill listed later is recorded on it; read by
    its reason alone, a filled hedge attempt would not count against the retry budget.)"""
    if order.filled_size > 0:
        return True
    return order.status is not OrderStatus.INTENT and not order.reject_reason.startswith(NEVER_SENT)


# -- the executor ---------------------------------------------------------------------------------


class Executor:
    """Carries out checked two-leg plans; ``resume`` finishes or reports an interrupted one."""

    def __init__(self, db: Database, ledger: Ledger, venues: Mapping[Venue, TradingVenue], settings: Settings, *,
                 mode: str, alerts: AlertSink, breaker: Breaker | None = None, evaluate: EvaluateFn | None = None,
                 books: BookReader | None = None, verify_delays: Sequence[float] = (0.0, 0.05, 0.2),
                 fill_delays: Sequence[float] = (0.5, 1.0, 2.0), decide_delays: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
                 resend_limit: int = 2, refused_delays: Sequence[float] = (0.2, 0.6),
                 actor: Mapping[str, Any] | None = None, source_flags: str | None = None) -> None:
        self.db = db
        self.ledger = ledger
        self.venues = dict(venues)
        self.settings = settings
        self.mode = mode
        self.alerts = alerts
        self.breaker = breaker
        self._evaluate = evaluate
        self._books = books
        self.verify_delays = tuple(verify_delays) or (0.0,)
        self.fill_delays = tuple(fill_delays)  # waits for fills a venue lists after calling the order done
        self.decide_delays = tuple(decide_delays)  # waits for an order the venue accepted but has not matched yet
        self.resend_limit = resend_limit
        # Backoff after a venue refused an order before taking it (a 429, a 503 for an order not placed):
        # the n-th re-send waits about refused_delays[n] (the last repeats), jittered so that processes
        # refused together do not come back together. Kalshi's 429 carries no Retry-After.
        self.refused_delays = tuple(refused_delays) or (0.0,)
        self.actor = dict(actor) if actor is not None else None
        self.kill_switch = KillSwitch(db, sentinel_file=settings.halt.sentinel_file, mode=mode)
        # The data flags the trade reads (" --demo", " --snapshot FILE", "" for the live books), kept in
        # each new execution's stored plan: `orion resume`, which has none of its own, names the command
        # resuming an interrupted one with them (state.recorded_source_flags). None: not recorded.
        self.source_flags = source_flags
        # The execution this executor was driving when a storage error stopped it, and the status it had
        # reached: committed and unfinished (a leg may be unhedged), for the error to name its resume.
        self.interrupted: tuple[str, ExecStatus] | None = None
        self._ledger_id: str | None = None  # read once (store.meta.ledger_id)
        self._driving: RunLock | None = None  # the key lock of the execution being driven (_assert_driving)

    def ledger_id(self) -> str:
        """The ledger's own id, which salts the client order ids an execution committed before there were
        nonces (:data:`ID_NONCE`) commits now (:func:`client_order_id`)."""
        if self._ledger_id is None:
            from orion_cli.store.meta import ledger_id

            self._ledger_id = ledger_id(self.db)
        return self._ledger_id

    # -- public ---------------------------------------------------------------------------------

    def _key_lock(self, key: str) -> Any:
        return execution_lock(self.db, key, actor=self.actor)

    def _in_progress(self, key: str, exc: OrionError, plan: TradePlan | None = None) -> ExecutionResult:
        """The refusal of a key another process holds, audited as the checks' refusals are (DESIGN §4:
        every failure is a reason code in the audit log), though it comes before their transaction.
        ``plan``: the one refused (its opportunity and venue); a resume takes the stored execution's
        opportunity."""
        opportunity_id = plan.opportunity_id if plan is not None else None
        check = CheckResult("DUPLICATE", False, f"execution {key} is in progress in another process: {exc.message}")
        if opportunity_id is None:
            with self.db.read() as conn:
                opportunity_id = conn.execute(select(executions.c.opportunity_id)
                                              .where(executions.c.key == key)).scalar() or ""
        audit_refusal(self.db, check, key=key, opportunity_id=opportunity_id, mode=self.mode, actor=self.actor,
                      venue=sole_venue(leg.venue for leg in plan.legs) if plan is not None else None)
        return ExecutionResult(key, "refused", Verdict((check,)), [], f"refused by DUPLICATE: {check.detail}")

    async def execute(self, plan: TradePlan, ctx: PipelineContext) -> ExecutionResult:
        """Check, commit, send both legs. A key that already exists is resumed, never re-sent."""
        from orion_cli.core.runlock import RunLocked

        lock = self._key_lock(plan.key)
        try:
            lock.acquire(patience=KEY_LOCK_PATIENCE)
        except RunLocked as exc:
            return self._in_progress(plan.key, exc, plan)
        self._driving = lock
        try:
            return await self._execute_locked(plan, ctx)
        finally:
            self._driving = None
            lock.release()

    async def _execute_locked(self, plan: TradePlan, ctx: PipelineContext) -> ExecutionResult:
        committed = self.commit_intents(plan, ctx)
        if committed.exists:
            return await self._resume_locked(plan.key)
        verdict = committed.verdict
        if not verdict.passed:
            from orion_cli.risk.breaker import refused_at_a_limit

            if any(refused_at_a_limit(c) for c in verdict.checks):
                # Figures past a limit that nothing has tripped on yet (a loss a balance report or a
                # reconcile recorded): the breaker trips now (halt, alert), not only this refusal.
                tripped, warned = self._update_breaker()
            else:
                tripped, warned = (), ()
            failure = verdict.first_failure
            msg = f"refused by {failure.name}: {failure.detail}" if failure else "refused"
            return ExecutionResult(plan.key, "refused", verdict, [], msg, breaker_tripped=tripped,
                                   breaker_warnings=warned)
        _crash_point("intents_committed")
        assert committed.run is not None
        return await self._drive_noting(committed.run, verdict, fresh=True)

    def commit_intents(self, plan: TradePlan, ctx: PipelineContext) -> Committed:
        """Prepare both legs, run every check, and commit the execution and both intents — or the refusal.

        One serialised write transaction: no other orion process can place an order between the
        checks and the intents they allowed. This is the order path's fixed cost (benchmarked by
        ``benchmarks/bench_order_path.py``), so its events go out as one batch.
        """
        specs = [LegSpec.from_plan(i, leg) for i, leg in enumerate(plan.legs)]
        basket = not_a_pair(len(specs))  # refused below, through the checks, with nothing prepared
        pair = leg_order(specs) if basket is None else None
        tif = TimeInForce(self.settings.trading.time_in_force)
        # This execution's own salt, committed with it: no other execution (another ledger, a copy of
        # this one) derives the same ids from the same key.
        salt = new_id_nonce()
        prepared: dict[str, PreparedOrder] = {}
        prepare_problem = ""
        # The leg whose preparation failed: its venue's finding, counted for that venue's leg only
        # (`report --venue`), and not said twice when the leg's own INVALID_ORDER check found it too.
        problem_leg: int | None = None
        if plan.size > 0 and pair is not None:
            for tag, spec in zip(("l1", "l2"), pair, strict=True):
                try:
                    prepared[tag] = self._venue(spec.venue).prepare(spec.request(
                        coid=client_order_id(plan.key, tag, salt=salt), action=Action.BUY, size=plan.size,
                        limit=spec.limit_price, tif=tif))
                except OrderRejected as exc:
                    # Refused by the client's own check while preparing: no venue saw it, so not "rejected".
                    prepare_problem = (f"the {exc.venue.value} order would be refused ({exc.code}), found "
                                       f"before sending: {exc.detail}")
                except DataError as exc:
                    prepare_problem = str(exc)
                if prepare_problem:
                    prepared, problem_leg = {}, spec.index
                    break
        evaluate = self._evaluate or _default_evaluate()
        if ctx is not None and ctx.clock is None:
            # Judged at the time the writers' lock is held, not at ctx.now (taken before the wait for it).
            ctx = replace(ctx, clock=utcnow)
        with self.db.write() as conn:
            verdict = evaluate(conn, plan, ctx)
            now = datetime.now(UTC)  # the lock held: what this transaction records is stamped after the last writer's
            # A passed DUPLICATE check already proved the key unused in this transaction; otherwise (it
            # failed, or a custom evaluate has none) look: an existing key is resumed, not refused.
            duplicate = next((c for c in verdict.checks if c.name == "DUPLICATE" and c.leg is None), None)
            key_unused = duplicate is not None and duplicate.passed
            if not key_unused and conn.execute(_EXECUTION_EXISTS, {"key": plan.key}).first() is not None:
                return Committed(True, Verdict(), None)
            if basket is not None:
                if verdict.passed:  # INVALID_ORDER says so; an evaluate without it must not send either
                    verdict = Verdict((*verdict.checks, CheckResult("INVALID_ORDER", False, basket)))
            elif prepare_problem and not _refused_as_invalid(verdict, leg=problem_leg):
                verdict = Verdict((*verdict.checks, CheckResult("INVALID_ORDER", False, prepare_problem,
                                                                leg=problem_leg)))
            elif not prepare_problem and not prepared and not _refused_as_invalid(verdict):
                # A size of 0 is INVALID_ORDER's own finding on each leg: not said a third time here.
                verdict = Verdict((*verdict.checks, CheckResult(
                    "INVALID_ORDER", False, "size is zero on the fresh books")))
            if not verdict.passed:
                rejected = verdict.rejected_record(plan.key, plan.opportunity_id,
                                                   [leg.venue.value for leg in plan.legs])
                AuditLog.append(conn, "risk.rejected", rejected,
                                mode=self.mode, actor=self.actor, now=now,
                                venue=sole_venue(leg.venue for leg in plan.legs))
                return Committed(False, verdict, None)
            assert pair is not None  # a basket never passes (above)
            first, second = pair
            result = self._initial_result(plan, first, second)
            plan_record = plan.to_record()
            legs = (("l1", first, "first"), ("l2", second, "second"))
            for tag, _spec, leg_name in legs:
                result["intents"][tag] = _intent_record(prepared[tag], leg_name)
            try:
                # The execution, both intents, their events and the audit anchor: sent together at the
                # end of the block (one round trip on PostgreSQL), still inside the write transaction.
                with deferred(conn):
                    defer(conn, _INSERT_EXECUTION, {
                        "key": plan.key, "opportunity_id": plan.opportunity_id[:16], "mode": self.mode,
                        "status": ExecStatus.INTENTS.value, "size": plan.size,
                        "plan": canonical_json({**plan_record, "specs": [s.to_record() for s in specs],
                                                "first": first.index, "second": second.index, ID_NONCE: salt,
                                                **({SOURCE_FLAGS: self.source_flags}
                                                   if self.source_flags is not None else {})}),
                        "result": canonical_json(result), "created_at": iso_utc(now), "updated_at": iso_utc(now)})
                    with audit_batch(conn):
                        AuditLog.append(conn, "execution.requested", {
                            **{k: v for k, v in plan_record.items() if k != "type"},
                            "first_leg": first.venue.value, "second_leg": second.venue.value,
                            "order_rule": "larger share of visible depth first; ties Kalshi first",
                            "checks": [c.to_record() for c in verdict.checks],
                            # Which books it was priced on. Found auditing the log: a paper trade on the demo
                            # data (or a snapshot) read as one on the venues' live books; its books' times are
                            # the replay's, and nothing else in the event said so.
                            **({"data": _data_said(self.source_flags)} if self.source_flags is not None else {})},
                            mode=self.mode, actor=self.actor, now=now)
                        # The order ids derive from the key and a new nonce: an unused key means unused ids.
                        self.ledger.record_intents([(prepared[tag], spec.category) for tag, spec, _ in legs],
                                                   execution_id=plan.key, conn=conn, now=now, unused_ids=key_unused)
            except IntegrityError:
                # A key (and so its order ids) that the checks found unused, taken after all.
                raise intents_refused([prepared[tag].request.client_order_id for tag, _, _ in legs]) from None
        return Committed(False, verdict, _Run(plan.key, ExecStatus.INTENTS, first, second, result, salt))

    async def resume(self, key: str) -> ExecutionResult:
        """Look every order of ``key`` up by its persisted ids; finish what is safe, or report."""
        from orion_cli.core.runlock import RunLocked

        lock = self._key_lock(key)
        try:
            lock.acquire(patience=KEY_LOCK_PATIENCE)
        except RunLocked as exc:
            return self._in_progress(key, exc)
        self._driving = lock
        try:
            return await self._resume_locked(key)
        finally:
            self._driving = None
            lock.release()

    async def _resume_locked(self, key: str) -> ExecutionResult:
        with self.db.read() as conn:
            row = conn.execute(select(executions).where(executions.c.key == key)).first()
        if row is None:
            raise NotFound(f"no execution with key {key!r}", reason="execution_not_found")
        if row.mode != self.mode:
            raise NotFound(f"execution {key!r} belongs to the {row.mode} ledger, not {self.mode}",
                           reason="execution_not_found")
        status = ExecStatus(row.status)
        with decoding(key, "result", where=self.db.display_url):
            result = load_record(row.result)
            if not status.final:  # what a resume reads of it: the intents committed with the plan
                dict(result["intents"])
        with decoding(key, where=self.db.display_url):
            plan_rec = load_record(row.plan)
            specs = {int(s["index"]): LegSpec.from_record(s) for s in plan_rec["specs"]}
            first, second = specs[int(plan_rec["first"])], specs[int(plan_rec["second"])]
        nonce = plan_rec.get(ID_NONCE)
        run = _Run(key, status, first, second, result,
                   str(nonce) if nonce else self.ledger_id() if not status.final else "",
                   halted_dust=result.get("dust_accepted") or (result.get("dust") if status is ExecStatus.HALTED
                                                               else None))
        if status.final:
            # Reported as it ended: its stored status (``execution_status``, :attr:`ExecutionResult.outcome`)
            # and its own message, so a failure or an unwind re-run is not read as a success.
            said = result.get("message")
            return ExecutionResult(key, "already_done", Verdict(), self.ledger.orders(execution_id=key),
                                   f"execution already {status.value}{f': {said}' if said else ''}; nothing sent",
                                   {**result, "status": status.value})
        if self.mode == "live":
            self._refuse_rolled_back(key, (first.venue, second.venue))
        for tag in result.get("intents", {}):
            self._teach(run, tag)
        self._legs_from_ledger(run)
        run.settled = self._settled_legs(run)
        for spec in (run.first, run.second):
            # A paper venue fills at the fee the plan read when the venue's fee cannot be read now, as
            # the live venue charges it; the live Polymarket client charges its fills by this model, not
            # by the trade record's rate. `orion trade` registers the plan's markets, a resume only has these.
            remember_fee = getattr(self._venue(spec.venue), "remember_fee", None)
            if callable(remember_fee):
                remember_fee(spec.market_id, spec.fee_model)
        return await self._drive_noting(run, Verdict(), fresh=False)

    def _refuse_rolled_back(self, key: str, venues: Sequence[Venue]) -> None:
        """Refuse to resume ``key`` while the ledger was found rolled back and a venue of it is not yet
        reconciled (core.rollback): its orders' records may be older than the venue's, and a resume
        acting on them re-sent a Polymarket unwind the venue had filled before the restore (a sell out
        of another pair's hedge; found reviewing a ledger behind its venues)."""
        from orion_cli.core.settlement import rolled_back_venues

        with self.db.read() as conn:
            held = rolled_back_venues(conn, self.mode, venues)
        if held:
            names = ", ".join(v.value for v in held)
            raise Refused(f"execution {key} is not resumed: {next(iter(held.values()))}",
                          reason="ROLLED_BACK",
                          hint=f"`orion reconcile --live --fix` (of {names}) adopts what the venues hold; then "
                               "resume it: nothing was sent")

    # -- the flow -------------------------------------------------------------------------------

    async def _drive_noting(self, run: _Run, verdict: Verdict, *, fresh: bool) -> ExecutionResult:
        """:meth:`_drive`, noting in :attr:`interrupted` where a storage error left the execution.

        Why: a database lost mid-trade (the intents committed, a leg perhaps sent) said only "database
        error … shutting down"; only the next trade named the execution left unfinished and its resume."""
        try:
            return await self._drive(run, verdict, fresh=fresh)
        except StorageError as exc:
            self.interrupted = (run.key, run.status)
            if run.status is not ExecStatus.INTENTS and not run.status.final:
                # An order may be at a venue, its outcome unrecorded, and no halt can be recorded either: the
                # on-call is told, as of a halt (found reviewing alerts: nothing paged, a cron'd watch exited 3).
                self.alerts.emit("execution.interrupted", f"execution {run.key} stopped at {run.status.value}: "
                                 f"the ledger failed ({exc.reason}); a leg may be unhedged and nothing more is sent "
                                 "by this process: resume it once the ledger is back (`orion reconcile` names it)",
                                 {"key": run.key, "status": run.status.value, "reason": exc.reason,
                                  "mode": self.mode})
            raise

    async def _drive(self, run: _Run, verdict: Verdict, *, fresh: bool) -> ExecutionResult:
        try:
            # leg 1 -----------------------------------------------------------------------------
            o1 = self._order("l1", run)
            if o1.status is OrderStatus.INTENT:
                if not fresh:
                    return self._abandon(run, verdict, "the first leg was never sent before the interruption; "
                                                       "its prices are stale, so it is not sent now")
                self._move(run, ExecStatus.LEG1_SENT, {"tag": "l1"})
                try:
                    o1 = await self._send(run, "l1")
                except Halted as exc:
                    if self._order("l1", run).status is OrderStatus.SUBMITTED:
                        # Marked by an attempt the venue refused unseen (a lost answer halts instead):
                        # never placed, so not left in flight for the exposure and balance checks.
                        self.ledger.cancelled(run.coid("l1"), reason=f"{NEVER_SENT}halted before it was sent again")
                    return self._abandon(run, verdict, f"halted before the first leg was sent: {exc.message}")
            elif not o1.status.terminal:
                o1 = await self._resolve(run, "l1", resend=False)
                if o1.status is OrderStatus.INTENT:  # provably never placed
                    return self._abandon(run, verdict, "the first leg was not found at the venue: never placed")
            if not o1.status.terminal:
                raise _Unresolved(f"{run.coid('l1')} is {o1.status.value} after read-back")
            filled1 = self._filled(run, "l1")
            refused = [r for r in self._refusals(run, CREDENTIALS_REFUSED) if r["tag"] == "l1"]
            if filled1 <= 0 and refused:
                return self._abandon(run, verdict, _credentials_said(refused[0], ": nothing was placed"))
            if filled1 <= 0:
                return self._abandon(run, verdict, f"first leg {o1.status.value} with nothing filled "
                                                   f"({o1.reject_reason or o1.venue_status or 'no reason'})")
            self._move(run, ExecStatus.LEG1_DONE, {"filled": filled1})
            # leg 2 and retries ------------------------------------------------------------------
            await self._hedge(run, fresh=fresh)
            # leftovers -----------------------------------------------------------------------
            _, heavy, excess = self._imbalance(run)
            if excess > 0:  # an unwind sells out of the ledger's position: what it sells must be recorded first
                await self._read_pending_fills(run, ["l1"] if heavy == "first" else run.tags("l2"))
            ok = await self._unwind(run)
            await self._read_pending_fills(run)
        except _Unresolved as exc:
            return self._fail_halt(run, verdict, f"order outcome unknown and not resolvable: {exc.message}",
                                   alert_kind="halt")
        except (_NotDriving, IllegalExecutionTransition) as exc:
            return self._taken(run, verdict, exc)
        except DataError as exc:  # the ledger refused what the venue did (a sell of fills not listed yet)
            return self._fail_halt(run, verdict, f"the ledger could not record an order's outcome: {exc.message}",
                                   alert_kind="halt")
        except DatabaseError as exc:
            # A statement's own error (the database failing is a StorageError: _drive_noting). Found in
            # review: a ledger upgraded under an older process refused its fill (a NOT NULL column it did
            # not write), after the first leg filled: exit 1, the pair one-legged, nothing halted or named.
            said = str(getattr(exc, "orig", exc)).splitlines()
            why = ("the ledger refused to record the execution's progress: "
                   f"{(said[0] if said else type(exc).__name__)[:200]}")
            try:
                return self._fail_halt(run, verdict, why, alert_kind="halt")
            except DatabaseError as also:
                # The ledger refuses the halt's records too (its audit events, say): left as a lost database
                # leaves an execution, named with its resume (exit 3), never as an internal error.
                self.interrupted = (run.key, run.status)
                try:
                    halted = self.kill_switch.status().halted
                except Exception:  # said as not known to be halted
                    halted = False
                what = "the halt was engaged but not recorded with the execution" if halted else \
                    "the kill switch could not be engaged either"
                raise StorageError(f"{why}; {what}: {str(getattr(also, 'orig', also)).splitlines()[0][:200]}",
                                   reason="storage") from None
        if not ok:
            return self._fail_halt(run, verdict, run.result.get("unwind", {}).get("message", "unwind failed"),
                                   alert_kind="unwind.failed")
        _crash_point("before_final")
        sold = Decimal(run.result.get("unwind", {}).get("sold", "0"))
        gone = run.result.get("closed_outside")
        paid = run.result.get("settled_unhedged")
        final = ExecStatus.UNWOUND if sold > 0 or gone or paid or run.status is ExecStatus.UNWINDING \
            else ExecStatus.DONE
        dust = run.result.get("dust_accepted")
        msg = ("both legs filled in equal shares" + (" but for dust" if dust else "")) if final is ExecStatus.DONE \
            else f"second leg short; {self._unwind_said(run)}" if sold > 0 \
            else "second leg short"
        refused = self._refusals(run, CREDENTIALS_REFUSED)
        if refused and final is ExecStatus.UNWOUND and sold > 0 and refused[0]["tag"].startswith("l2"):
            msg = _credentials_said(refused[0], ", so no retry was sent there; the excess of the first leg was sold "
                                                f"back within max_unwind_loss ({self._unwind_said(run, named=False)})")
        elif refused:
            msg += "; " + _credentials_said(refused[0])
        if gone:
            msg += (f"; {gone['shares']} {gone['side'].upper()} shares of {gone['market']} on {gone['venue']} were not "
                    "held any more (closed outside orion, as `orion reconcile` recorded): not sold")
        if paid:
            msg += (f"; {paid['shares']} {paid['side'].upper()} shares of {paid['market']} on {paid['venue']} stayed "
                    "unhedged until their market settled (the ledger holds its payout): the settlement "
                    "closed them, so nothing was sent for them")
        elif run.settled and final is not ExecStatus.DONE:
            which = " and ".join(f"the {leg} leg's" for leg in sorted(run.settled))
            msg += f"; {which} market has settled: no hedge was sent to it"
        below = run.result.get("hedge_below_minimum")
        if below and final is not ExecStatus.DONE:
            msg += (f"; the {below['shares']} share(s) left to hedge are below {below['venue']}'s minimum order "
                    f"({below['min_size']}): no hedge was sent for them")
        if run.result.get("halted_mid_execution"):
            msg += " (halted mid-execution: no further buys were sent)"
        if dust:
            msg += (f"; {dust['shares']} {dust['side'].upper()} shares of {dust['market']} on {dust['venue']} stay "
                    "unhedged (dust below the venue's minimum order), left to be closed by hand as the released "
                    "halt said")
        if run.result.get("overfill") and final is ExecStatus.DONE:  # an unwind sold it back with the rest
            msg += _overfill_said(run)
        if run.result.get("fills_pending"):
            msg += (f"; the venue has not listed the fills of {len(run.result['fills_pending'])} order(s) yet: they "
                    "count as in flight at their limit until `orion reconcile` records them")
        try:
            if final is ExecStatus.DONE:
                self._move(run, ExecStatus.HEDGED, {})
            elif not allowed(run.status, final):  # a resumed pair found hedged whose earlier sells make it unwound
                self._move(run, ExecStatus.UNWINDING, {})
            run.result["message"] = msg
            self._move(run, final, {"message": msg}, unsent=f"the execution ended {final.value} after a halt "
                       "mid-execution" if run.result.get("halted_mid_execution") else "")
        except IllegalExecutionTransition as exc:
            return self._taken(run, verdict, exc)
        return self._result(run, verdict, msg, self._update_breaker())

    def _taken(self, run: _Run, verdict: Verdict, exc: OrionError) -> ExecutionResult:
        """Another process drives this execution too (:class:`_NotDriving`), or moved it so that a move of
        this one's was refused: halt, naming what this one holds.

        Found in review: a second process given the key through another path to the same ledger (a
        symbolic link), or after a PostgreSQL session lock was lost, resumed this execution and failed it;
        this one's next move was refused and ended it in an internal error (exit 1), its filled first leg
        neither hedged nor unwound and trading not halted."""
        held = self._exposure(run)
        first, second = held["first"], held["second"]
        heavy = first if Decimal(first["bought"]) >= Decimal(second["bought"]) else second
        unhedged = Decimal(held["unhedged_shares"])
        said = (f"; {plain(unhedged)} {heavy['side'].upper()} of {heavy['market']} on {heavy['venue']} held unhedged"
                if unhedged > 0 else "")
        return self._fail_halt(run, verdict, f"this process no longer drives the execution: {exc.message}; nothing "
                                             f"more was sent{said}", alert_kind="halt")

    async def _hedge(self, run: _Run, *, fresh: bool) -> None:
        spec = run.second
        filled1 = self._filled(run, "l1")
        target = plain(min(floor_to(filled1, spec.size_step), spec.planned_size))
        run.result["hedge_target"] = _d(target)
        budget = 1 + self.settings.trading.second_leg_retries
        # settle what may already be at the venue (resume), never re-preparing an existing tag
        for earlier in run.tags("l2"):
            o = self._order(earlier, run)
            if o.status is not OrderStatus.INTENT and not o.status.terminal:
                try:
                    # Not re-sent to a settled market either (found reviewing the session's diff).
                    settled = await self._resolve(run, earlier, resend=not run.settled and not self._halted())
                except Halted:  # halted between the look and the re-send: it is not sent again
                    run.result["halted_mid_execution"] = True
                    settled = await self._resolve(run, earlier, resend=False)
                _settled_or_unresolved(run, earlier, settled)
        # A resume of an execution whose unwind had begun finishes that unwind and buys nothing more:
        # the unwind sold first-leg shares the hedge would otherwise be bought for, unhedged. Nor does
        # one halted for dust: its halt told the operator to close those shares by hand. One halted after
        # an unwind that sold nothing (every sell ended, none filled) may still hedge: nothing it would
        # hedge was sold (found reviewing max_unwind_loss 0: every resume tried the same sell and halted
        # again, though the hedge's book had come back at a profit).
        unwound_nothing = run.status is ExecStatus.HALTED and bool(run.tags("u")) and all(
            self._order(t, run, with_fills=False).status.terminal and self._filled(run, t, raw=True) <= 0
            for t in run.tags("u"))
        if unwound_nothing:
            run.result.get("unwind", {}).pop("message", None)  # that failure is not this run's outcome
        no_more_buys = (bool(run.tags("u")) and not unwound_nothing) or run.halted_dust is not None \
            or bool(run.settled)
        while not no_more_buys:
            hedged = self._filled_leg(run, "l2")
            remaining = plain(floor_to(target - hedged, spec.size_step))
            if remaining <= 0:
                break
            if remaining < spec.min_size:
                # Said, as a retry's skip is (found reviewing IOC partial fills: a Kalshi first leg filled 3,
                # below Polymarket's 5-share minimum, was sold back with nothing saying why no hedge went out).
                run.result["hedge_below_minimum"] = {
                    "venue": spec.venue.value, "shares": _d(remaining), "min_size": _d(spec.min_size)}
                break
            if any(self._refusals(run, k, spec.venue) for k in (CREDENTIALS_REFUSED, GEOBLOCKED, VERSION_REFUSED)):
                # Each retry would be refused the same way while the first leg stays naked: the unwind
                # goes next (not the halt a retried refusal once ended in, which skipped it).
                break
            if self._halted():
                run.result["halted_mid_execution"] = True
                break
            orders = {t: self._order(t, run, with_fills=False) for t in run.tags("l2")}
            sent = [t for t, o in orders.items() if _was_sent(o)]
            pending = [t for t, o in orders.items() if o.status is OrderStatus.INTENT]
            if len(sent) >= budget:
                break
            tag = next((t for t in pending if orders[t].size == remaining), None)
            for stale in pending:  # a committed intent of the wrong size is superseded, never sent
                if stale != tag:
                    self.ledger.cancelled(run.coid(stale), reason=f"{NEVER_SENT}superseded: the hedge needs "
                                                                  f"{_d(remaining)}")
            if tag is None:
                tag = await self._new_hedge_intent(run, remaining, first_send=not sent)
                if tag is None:
                    break
            self._move(run, ExecStatus.LEG2_SENT, {"tag": tag, "size": remaining})
            try:
                done = await self._send(run, tag)
            except Halted:
                run.result["halted_mid_execution"] = True
                self.ledger.cancelled(run.coid(tag), reason=f"{NEVER_SENT}halted before it was sent")
                break
            if not done.status.terminal:
                raise _Unresolved(f"{run.coid(tag)} is {done.status.value} after read-back")
        if floor_to(target - self._filled_leg(run, "l2"), spec.size_step) <= 0:
            self._move(run, ExecStatus.HEDGED, {"hedged": self._filled_leg(run, "l2")})
        del fresh

    async def _read_pending_fills(self, run: _Run, tags: Sequence[str] | None = None) -> None:
        """Read again, a little later, the orders (of ``tags``, or all) a venue called done before
        listing their fills.

        After the flow, both legs are settled (it went by the venue's word), so only the ledger waits:
        what stays unlisted is named in the message and left in flight for ``orion reconcile``.
        """
        for delay in self.fill_delays:
            pending = [t for t in run.result.get("fills_pending", {}) if tags is None or t in tags]
            if not pending:
                return
            await asyncio.sleep(delay)
            for tag in pending:
                prepared = run.prepared(tag)
                ref = self._order(tag, run).venue_order_id or prepared.venue_ref
                try:
                    found = await self._venue(prepared.request.venue).find_order(prepared.request.client_order_id,
                                                                                ref)
                except OrionError:
                    continue  # asked again after the next delay; reconcile after that
                if found is not None and found.status.terminal:
                    await self._verify(run, tag, found, None)

    async def _new_hedge_intent(self, run: _Run, size: Decimal, *, first_send: bool) -> str | None:
        """Commit the next hedge order for ``size`` (None: skipped, the reason in ``result.retries``).

        ``first_send``: no hedge was sent yet, because the committed second leg was superseded (the
        first leg filled in part). It stands for that leg, so it takes the same ladder: the plan's
        limit, unread when the book cannot be read, as the committed leg is sent; but when the fresh
        book has moved above the plan's limit it is priced as a retry is (breakeven, within the
        remaining edge) instead of skipped and the first leg unwound at once.
        """
        spec = run.second
        n = 1 + sum(1 for t in run.result["intents"] if t.startswith("l2a"))
        tag = f"l2a{n}"
        limit = spec.limit_price if first_send else self._breakeven_price(run, size)
        if limit is None:
            run.result.setdefault("retries", []).append({"tag": tag, "skipped": "no price keeps the pair's net >= 0"})
            return None
        note: dict[str, str] = {}
        book: OrderBook | None = None
        if self._books is not None:
            unavailable: str | None = None
            fresh: Market | None = None
            try:
                fresh, book = await self._books(spec.venue, spec.market_id)
                # A side not read (a Polymarket token's book the CLOB did not return) is empty for want
                # of a book, not of asks: it is judged as a book that cannot be read.
                unavailable = book.unread(spec.side) if book is not None else None
            except OrionError as exc:
                unavailable = str(exc)
            if unavailable:
                book = None
                if not first_send:
                    run.result.setdefault("retries", []).append({"tag": tag,
                                                                 "skipped": f"book unavailable: {unavailable}"})
                    return None
                note["priced"] = f"at the plan's limit, the book unavailable: {unavailable}"[:300]
            elif fresh is not None and fresh.ticks != spec.ticks:
                # The venue changed the market's tick since the plan (Polymarket's 0.001 near the extremes):
                # priced and signed on the plan's grid, the hedge's breakeven was rounded down below an ask
                # that still paid, and the first leg was sold back at a loss (found reviewing market
                # lifecycles). Priced, signed and unwound on the market's grid now.
                spec = run.second = replace(spec, ticks=fresh.ticks)
                note["tick"] = f"the market's tick changed since the plan: priced on {fresh.ticks.step_at(limit)}"
                if not first_send:
                    limit = self._breakeven_price(run, size)
                    if limit is None:
                        run.result.setdefault("retries", []).append(
                            {"tag": tag, "skipped": "no price keeps the pair's net >= 0"})
                        return None
        best = book.side(spec.side).best_ask if book is not None else None
        if first_send and best is not None and best.price > limit:
            breakeven = self._breakeven_price(run, size)
            if breakeven is not None and breakeven > limit:
                note["priced"] = f"at breakeven: best ask {_d(best.price)} above the plan's limit {_d(limit)}"
                limit = breakeven
        cap = self._limits_cap_price(spec, size)
        if cap is None or cap < limit:
            # Priced above the plan's limit (breakeven), a hedge can pass what the checks passed the plan
            # at: every order sent keeps to ORDER_NOTIONAL and PRICE_BAND's high end.
            limits = self.settings.limits
            within = f"order_notional {_d(limits.order_notional)} and price_band_high {_d(limits.price_band_high)}"
            if cap is None:
                run.result.setdefault("retries", []).append(
                    {"tag": tag, "skipped": f"no price keeps {_d(size)} within {within}"})
                return None
            note["capped"] = f"at {_d(cap)}, within {within} ({_d(limit)} is not)"
            limit = cap
        if book is not None:
            if best is None or best.price > limit:
                run.result.setdefault("retries", []).append(
                    {"tag": tag, "skipped": f"best ask {best.price if best else 'none'} above {limit}"})
                return None
            if spec.venue is Venue.POLYMARKET:
                # Signed as dollars (size x limit) that the venue spends in full, best ask first: limited
                # above the best ask, the buy would take shares beyond the size that nothing hedges.
                limit = min(limit, best.price)
        if spec.venue is Venue.POLYMARKET:  # a hedge is sized by what the first leg filled, not by the plan
            spend = polymarket_buy_short_of_minimum(size, limit)
            if spend is not None:
                run.result.setdefault("retries", []).append(
                    {"tag": tag, "skipped": f"{_d(size)} at {_d(limit)} spends {_d(spend)}, below Polymarket's "
                                            f"{_d(POLYMARKET_MIN_MARKETABLE_BUY)} minimum for an immediate buy"})
                return None
        request = spec.request(coid=run.coid(tag), action=Action.BUY, size=size, limit=limit,
                               tif=TimeInForce.IOC)
        try:
            prepared = self._venue(spec.venue).prepare(request)
        except (OrderRejected, DataError) as exc:  # nothing sent: the unwind takes over, as for no price
            run.result.setdefault("retries", []).append({"tag": tag, "skipped": f"order invalid: {exc}"})
            return None
        with self.db.write() as conn:
            if not first_send:  # one order more than the trade's checks counted (the first send stands for l2)
                from orion_cli.risk.checks import rate_check

                rate = rate_check(conn, self.settings, self.mode, datetime.now(UTC))
                if not rate.passed:  # the unwind takes over, as for no price: it closes what the retry would hedge
                    run.result.setdefault("retries", []).append({"tag": tag, "skipped": f"RATE_LIMIT: {rate.detail}"})
                    return None
            self._commit_intent(conn, run.key, run.result, tag, prepared, spec, "second", datetime.now(UTC))
            save_result(conn, run.key, run.result)
        run.result.setdefault("retries", []).append({"tag": tag, "size": _d(size), "limit": _d(limit), **note})
        return tag

    async def _unwind(self, run: _Run) -> bool:
        """Sell back whatever one leg holds beyond the other; False when anything is left unhedged.

        A remainder below the venue's size step or minimum order ("dust") cannot be sold back, but
        it is still naked exposure: it halts and alerts like a failed unwind, naming the shares.
        """
        if not await self._sell_back_excess(run):
            return False
        spec, leg_name, excess = self._imbalance(run)
        rest = plain(excess - self._sold(run) - self._closed_outside(run)
                     - Decimal(run.result.get("settled_unhedged", {}).get("shares", "0")))
        if rest <= 0:
            run.result.pop("dust", None)
            return True
        dust = {"leg": leg_name, "venue": spec.venue.value, "market": spec.market_id, "side": spec.side.value,
                "shares": _d(rest)}
        run.result["dust"] = dust
        if dust == run.halted_dust and self._halt_released(run):
            # The halt named exactly these shares and said to close them by hand and release the kill
            # switch; the operator has, and resumes: the execution ends (the shares stay in the ledger,
            # where reconcile adopts a close made by hand) instead of halting again for ever.
            run.result["dust_accepted"] = dust
            with self.db.write() as conn:  # a crash before the final status must not halt for it again
                save_result(conn, run.key, run.result)
            return True
        # The release of the halt in force, if one is (a drawdown trip keeps its kind: --breaker), as every
        # other hint names it; else the one this dust's halt will need.
        in_force = self.kill_switch.status()
        release = release_steps(in_force if in_force.halted else None).removeprefix("run ")
        run.result.setdefault("unwind", {})["message"] = (
            f"{_d(rest)} {spec.side.value.upper()} shares of {spec.market_id} on {spec.venue.value} left unhedged: "
            f"below the venue's size step {_d(spec.size_step)} or minimum order {_d(spec.min_size)}, so they cannot "
            f"be sold back; close them by hand, then release the halt ({release}) and resume this execution "
            "to end it")
        return False

    async def _sell_back_excess(self, run: _Run) -> bool:
        """The unwind proper: False when an excess the venue would take cannot be sold within bounds."""
        spec, leg_name, excess = self._imbalance(run)
        qty = floor_to(excess, spec.size_step)
        # An unwind order a resume finds possibly at the venue is settled whatever the legs say now:
        # it may have sold (or still sell) shares. Re-sent only while there is an excess to sell.
        for tag in run.tags("u"):
            o = self._order(tag, run)
            if o.status is not OrderStatus.INTENT and not o.status.terminal:
                # A sell of a leg whose market settled is not re-sent: the payout closed those shares.
                resend = excess > 0 and run.result["intents"][tag]["leg"] not in run.settled
                _settled_or_unresolved(run, tag, await self._resolve(run, tag, resend=resend))
        if excess > 0:
            run.result["excess"] = {"leg": leg_name, "shares": _d(excess), "sellable": _d(qty)}
        if leg_name in run.settled:
            rest = plain(excess - self._sold(run))
            if rest > 0:  # closed by the venue's payout: nothing is there to sell (the venue refuses a sell)
                run.result["settled_unhedged"] = {"leg": leg_name, "venue": spec.venue.value,
                                                  "market": spec.market_id, "side": spec.side.value,
                                                  "shares": _d(rest)}
            return True
        if qty <= 0 or qty < spec.min_size:
            if excess > 0:
                run.result["dust"] = {"leg": leg_name, "venue": spec.venue.value, "market": spec.market_id,
                                      "side": spec.side.value, "shares": _d(excess)}
            return True
        info: dict[str, Any] = run.result.setdefault("unwind", {})
        loss_cap = self.settings.trading.max_unwind_loss
        sold_before = self._sold(run)
        held = self._held(run, spec, leg_name)
        where = f"{spec.side.value.upper()} shares of {spec.market_id} on {spec.venue.value}"
        if held is None:
            # Not "close the remainder by hand" alone: after a ledger restored from a backup, the close "outside"
            # was orion's own unwind, and the remainder by hand was another pair's hedge (found reviewing a
            # ledger behind its venues).
            info["message"] = (f"{where} were closed outside this ledger's orders (by hand, or by orion before the "
                               "ledger was restored from a backup; `orion reconcile --fix` recorded it) and other "
                               "orders hold shares there too: whose were closed cannot be told, so none are sold; "
                               "compare what the venue holds there with every execution in that market (`orion "
                               "positions --live`) before closing this execution's remainder by hand")
            return False
        # The other leg's shares are hedged by as many of these: only what the ledger holds beyond them
        # is this leg's excess.
        backing = self._filled_leg(run, "l2" if leg_name == "first" else "l1", raw=True)
        if held < backing:
            info["message"] = (
                f"the ledger holds {_d(held)} {where} for this execution, fewer than the {_d(backing)} the other "
                f"leg's shares need: shares of the hedged pair were closed outside orion, and {_d(backing - held)} of "
                "the other leg are unhedged; close them by hand")
            return False
        gone = max(ZERO, excess - sold_before - (held - backing))
        if gone > 0:
            run.result["closed_outside"] = {"leg": leg_name, "venue": spec.venue.value, "market": spec.market_id,
                                            "side": spec.side.value, "shares": _d(gone)}
        else:
            run.result.pop("closed_outside", None)
        qty = plain(floor_to(excess - sold_before - gone, spec.size_step))
        if qty <= 0 or qty < spec.min_size:
            info["sold"] = _d(sold_before)
            info.pop("message", None)
            return True
        budget = 1 + self.settings.trading.second_leg_retries
        orders = {t: self._order(t, run, with_fills=False) for t in run.tags("u")}
        if sum(1 for o in orders.values() if _was_sent(o)) >= budget:
            # Named with the setting that bounds it and the way out (found reviewing non-default settings: with
            # second_leg_retries 0 every resume halted again here, while the messages kept naming the resume).
            info["message"] = (f"unwind attempts exhausted ({budget} sell(s) over every run, 1 + "
                               f"trading.second_leg_retries) with {_d(qty)} {where} still unhedged: close them by "
                               "hand; once `orion reconcile --fix` has recorded it, a resume ends the execution")
            return False
        cost_basis = self._unit_cost(run, leg_name)
        # The bound is on the whole unwind: a resumed or repeated one has only what earlier sells left.
        lost = self._unwind_loss(run, cost_basis, spec)
        allowance = max(ZERO, loss_cap - max(lost, ZERO))
        limit = _min_sell_price(spec, qty, cost_basis, allowance)
        # An intent committed earlier is sent as it is only if its limit still keeps within the allowance.
        reuse = next((t for t, o in orders.items() if o.status is OrderStatus.INTENT and o.size == qty
                      and limit is not None and o.limit_price >= limit), None)
        for t, o in orders.items():
            if o.status is OrderStatus.INTENT and t != reuse:
                self.ledger.cancelled(run.coid(t), reason=f"{NEVER_SENT}superseded by a later unwind")
        tag = reuse or f"u{len(orders) + 1}"
        self._move(run, ExecStatus.UNWINDING, {"tag": tag})
        with self.db.write() as conn:
            AuditLog.append(conn, "unwind.started", {
                "key": run.key, "tag": tag, "leg": leg_name, "venue": spec.venue.value, "market": spec.market_id,
                "side": spec.side.value, "shares": qty, "limit_price": limit, "unit_cost": cost_basis,
                "max_unwind_loss": loss_cap, "lost_so_far": plain(lost.quantize(_PRICE_Q)),
                "loss_allowed": plain(allowance.quantize(_PRICE_Q))},
                mode=self.mode, actor=self.actor, venue=spec.venue.value,
                market=spec.market_id)
        if limit is None:
            within = _d(loss_cap) if lost <= 0 else \
                f"the {_d(allowance.quantize(_PRICE_Q))} left of max_unwind_loss {_d(loss_cap)} " \
                f"({_d(lost.quantize(_PRICE_Q))} already lost unwinding)"
            info.update(message=f"no sell price keeps the loss on {_d(qty)} shares within {within}",
                        shares=_d(qty))
            self._audit_unwind_done(run, tag, spec, qty, ZERO, ok=False)
            return False
        if reuse is None:
            request = spec.request(coid=run.coid(tag), action=Action.SELL, size=qty, limit=limit,
                                   tif=TimeInForce.IOC)
            try:
                prepared = self._venue(spec.venue).prepare(request)
            except (OrderRejected, DataError) as exc:
                info.update(message=f"unwind order invalid: {exc}", shares=_d(qty))
                self._audit_unwind_done(run, tag, spec, qty, ZERO, ok=False)
                return False
            with self.db.write() as conn:
                self._commit_intent(conn, run.key, run.result, tag, prepared, spec, leg_name, datetime.now(UTC))
                save_result(conn, run.key, run.result)
        done = await self._send(run, tag, allow_halted=True)
        if not done.status.terminal:
            raise _Unresolved(f"{run.coid(tag)} is {done.status.value} after read-back")
        sold = self._sold(run)
        left = floor_to(excess - sold - gone, spec.size_step)
        info.update(sold=_d(sold), shares=_d(excess), limit_price=_d(limit), unit_cost=_d(cost_basis))
        ok = left <= 0 or left < spec.min_size
        if not ok:
            info["message"] = f"unwind sold {_d(sold)} of {_d(excess)} shares; {_d(left)} remain unhedged"
        else:  # an earlier attempt's failure (a resumed unwind) is not this one's outcome
            info.pop("message", None)
        self._audit_unwind_done(run, tag, spec, excess, sold, ok=ok)
        return ok

    # -- sending --------------------------------------------------------------------------------

    async def _send(self, run: _Run, tag: str, *, allow_halted: bool = False) -> OrderState:
        """Send (or re-send verbatim) the committed intent ``tag``; unknown outcomes are looked up."""
        prepared = run.prepared(tag)
        venue = self._venue(prepared.request.venue)
        coid = prepared.request.client_order_id
        step = tag if tag in ("l1", "l2") else ("l2" if tag.startswith("l2") else "u")
        state: OrderState | None = None
        looked = False  # an attempt's outcome was unknown, and the order was then not found
        last_error = ""
        started = time.monotonic()
        refusals = 0
        for attempt in range(self.resend_limit + 1):
            with self.db.write() as conn:
                self._assert_driving(conn, run)
                if not allow_halted:
                    try:
                        assert_not_halted(conn, self.settings.halt.sentinel_file, self.mode)
                    except Halted as exc:
                        if looked:  # an earlier attempt's answer was lost: it may still land, not "never sent"
                            raise _Unresolved(f"{coid}: halted ({exc.message}) after an attempt whose answer "
                                              f"was lost ({last_error})"[:500]) from None
                        raise
                self.ledger.mark_submitted(coid, conn=conn)
            _crash_point(f"{step}_marked")
            started = time.monotonic()
            try:
                state = await venue.submit(prepared)
            except OrderOutcomeUnknown as exc:
                if not self._order(tag, run).status.terminal:
                    self.ledger.mark_unknown(coid, str(exc)[:500])
                state = await self._lookup(venue, coid, prepared.venue_ref)
                if state is None:
                    looked, last_error = True, str(exc)
                    continue  # the venue never saw it: the same payload may go again
            except (Refused, AuthError, OrderVersionUnsupported) as exc:
                # OrderRejected, Geoblocked; AuthError: the venue refused our credentials (HTTP 401/403
                # with its own error) and so did nothing with the order; OrderVersionUnsupported: the
                # venue takes no order in the format orion signs. Either way nothing was placed.
                reason = f"{getattr(exc, 'code', exc.reason)}: {exc.message}"[:500]
                if looked:
                    # Not proof that nothing was placed: an earlier attempt's answer was lost and the
                    # order was not found then, yet it may have landed (a venue lists an order a moment
                    # late) and be why this copy is refused (its balance spent, its id taken). Looked for
                    # once more; still not found, its outcome stays unknown: halt, as after a lost answer.
                    state = await self._lookup(venue, coid, prepared.venue_ref)
                    if state is None:
                        raise _Unresolved(f"{coid}: refused ({reason}) after an attempt whose answer was lost "
                                          f"({last_error}), and not found"[:500]) from None
                    break
                if not self._order(tag, run).status.terminal:
                    self.ledger.rejected(coid, reason)
                self._note(run, tag, {"status": "rejected", "reason": reason[:300]})
                # Every later order to this venue would be refused the same way: for orion's credentials
                # (a key without trading rights, a clock off; exit 4 in `orion trade`) or this host's
                # location (a firewall that lets the geoblock check pass and blocks orders; `trade
                # --watch` stops on it). The flow sends that venue no hedge retry (see _refusals).
                kind = CREDENTIALS_REFUSED if isinstance(exc, AuthError) else \
                    GEOBLOCKED if isinstance(exc, Geoblocked) else \
                    VERSION_REFUSED if isinstance(exc, OrderVersionUnsupported) else \
                    ID_TAKEN if isinstance(exc, ClientOrderIdTaken) else None
                # ID_TAKEN: another order holds this one's client order id; later orders have their own.
                if kind is not None:
                    said = reason if kind == CREDENTIALS_REFUSED else exc.message
                    run.result.setdefault(kind, []).append(
                        {"tag": tag, "venue": prepared.request.venue.value,
                         "reason": said[:500 if kind == ID_TAKEN else 300]})
                return self._order(tag, run)
            except VenueUnavailable as exc:
                # Certainly not placed (rate limited / never left this host): same payload again, after
                # a backoff (the venue asked for less; a rate limit refills in fractions of a second).
                last_error = str(exc)
                self._note(run, tag, {"last_error": last_error[:300]})
                if attempt < self.resend_limit:
                    await asyncio.sleep(self._refused_wait(refusals))
                refusals += 1
                continue
            except OrionError as exc:
                # Anything else: assume it may have landed, and look before going on.
                if not self._order(tag, run).status.terminal:
                    self.ledger.mark_unknown(coid, str(exc)[:500])
                state = await self._lookup(venue, coid, prepared.venue_ref)
                if state is None:
                    looked, last_error = True, str(exc)
                    continue
            break
        else:
            # Every attempt ended without the order found placed. It is looked for once more (a venue
            # may list an order a moment late; a look-up that fails leaves the outcome unknown: halt).
            state = await self._lookup(venue, coid, prepared.venue_ref)
            if state is None and looked:
                # An answer was lost (or the venue said it holds the order but could not show it): the
                # order may still be there and fill. Only reconcile, later, can tell: halt.
                raise _Unresolved(f"{coid}: not found after {self.resend_limit + 1} attempts whose answers "
                                  f"were lost ({last_error})"[:500])
            if state is None:
                # Every attempt was refused before the order reached the venue (a 429, a 503 the venue
                # gives for an order it did not take, a connection never made), and the venue does not
                # list it: its outcome is known. Not a reason to halt (that is for an outcome that stays
                # unknown) but a rejection, handled as any: a first leg is abandoned, a hedge is
                # retried, then unwound.
                reason = f"never placed after {self.resend_limit + 1} attempts: {last_error}"[:500]
                if not self._order(tag, run).status.terminal:
                    self.ledger.rejected(coid, reason)
                self._note(run, tag, {"status": "rejected", "reason": reason[:300]})
                return self._order(tag, run)
        assert state is not None  # placed: an answer, or found where the answer was lost
        latency_ms = int((time.monotonic() - started) * 1000)
        _crash_point(f"{step}_sent")
        recorded = await self._verify(run, tag, state, latency_ms)
        if recorded.status in (OrderStatus.SUBMITTED, OrderStatus.UNKNOWN):
            recorded = await self._await_decision(run, tag, recorded)
        _crash_point(f"{step}_recorded")
        return recorded

    def _refused_wait(self, refusals: int) -> float:
        """The wait before re-sending an order refused ``refusals`` times before: equal jitter."""
        base = self.refused_delays[min(refusals, len(self.refused_delays) - 1)]
        return base * random.uniform(0.5, 1.0)

    async def _await_decision(self, run: _Run, tag: str, state: OrderState) -> OrderState:
        """An order the venue accepted but had not matched by the read-back: look again for a bounded
        time, then cancel it, so that only an order whose fate stays unknown halts trading.

        Polymarket answers a marketable order ``delayed`` (or ``unmatched``) when its matching is put
        off; the order may still fill, so it is neither a rejection nor "never placed". Cancelled, it
        is final with whatever it filled, and the flow goes on from there (a first leg with nothing
        filled is abandoned, a short hedge is retried or unwound).
        """
        prepared = run.prepared(tag)
        venue = self._venue(prepared.request.venue)
        coid = prepared.request.client_order_id
        ref = state.venue_order_id or prepared.venue_ref
        waited = 0.0
        for delay in self.decide_delays:
            await asyncio.sleep(delay)
            waited += delay
            try:
                found = await venue.find_order(coid, ref)
            except OrionError:
                continue
            if found is not None and (found.status.terminal or found.status is OrderStatus.OPEN):
                self._note(run, tag, {"decided_after_s": waited})
                return await self._verify(run, tag, found, None)
        if not ref:
            return state
        try:
            cancelled = await venue.cancel(ref)
        except OrionError as exc:
            self._note(run, tag, {"undecided_cancel_failed": str(exc)[:300]})
            return state
        if cancelled is None or not cancelled.status.terminal:
            return state
        self._note(run, tag, {"cancelled_undecided_after_s": waited})
        return await self._verify(run, tag, cancelled, None)

    async def _resolve(self, run: _Run, tag: str, *, resend: bool) -> OrderState:
        """An order that may be at the venue (submitted/unknown/open): look it up, record, maybe re-send.

        Found and decided → recorded. Not found → the venue never saw it: the same payload is re-sent
        when ``resend`` (a hedge or an unwind), else the intent is closed as never sent. Found but
        undecided (the venue has not processed it) → re-sent verbatim when ``resend`` (every venue
        answers a duplicate with the existing order), else cancelled at the venue so a stale first
        leg cannot fill late.
        """
        prepared = run.prepared(tag)
        venue = self._venue(prepared.request.venue)
        coid = prepared.request.client_order_id
        stored = self._order(tag, run)
        found = await self._lookup(venue, coid, stored.venue_order_id or prepared.venue_ref, confirm_absent=not resend)
        if found is not None and (found.status.terminal or found.status is OrderStatus.OPEN):
            return await self._verify(run, tag, found, None)
        if resend:
            return await self._send(run, tag, allow_halted=tag.startswith("u"))
        if found is None:
            # The venue said it filled (the read-back recorded its count): not "never placed". (An order
            # id alone proves nothing: a Polymarket order's hash is known before it is sent.)
            answered = self._filled(run, tag, raw=True)
            if answered > 0:
                raise _Unresolved(f"{coid}: the venue reported it filled {_d(answered)} before "
                                  f"(order {stored.venue_order_id or '?'}) but does not find it now")
            age = datetime.now(UTC) - stored.updated_at
            if venue.mode != "paper" and age < LATE_LISTING_GRACE:
                # Found in review: a trade killed while its first leg's request was at a slow venue, run
                # again at once, closed the leg as never placed after 0.25 s of look-ups and failed; the
                # venue placed and filled it a moment later, unhedged, and reconcile took the fill for a
                # trade made outside orion. (The paper venue decides an order as it records it.)
                raise _Unresolved(f"{coid}: not found at the venue, but sent {age.total_seconds():.0f} s ago: a "
                                  f"venue may still place it, so it is not taken for never placed until "
                                  f"{int(LATE_LISTING_GRACE.total_seconds())} s have passed")
            self.ledger.cancelled(coid, reason=f"{NEVER_SENT}not found at the venue by its persisted ids")
            self._note(run, tag, {"status": "cancelled", "reason": "not found at the venue"})
            # A cancelled intent that was never placed reads as INTENT for the flow's decisions.
            return replace(self._order(tag, run), status=OrderStatus.INTENT)
        try:
            cancelled = await venue.cancel(found.venue_order_id or coid)
        except OrionError as exc:
            raise _Unresolved(f"{coid}: undecided at the venue and the cancel failed: {exc}") from None
        if cancelled is None or not cancelled.status.terminal:
            raise _Unresolved(f"{coid}: undecided at the venue after a cancel")
        return await self._verify(run, tag, cancelled, None)

    async def _lookup(self, venue: TradingVenue, coid: str, ref: str, *,
                      confirm_absent: bool = False) -> OrderState | None:
        """The order as the venue holds it, or None: not found. A look-up that fails is tried again after
        each of ``verify_delays``; all failing, the outcome is unknown (:class:`_Unresolved`).

        ``confirm_absent``: "not found" is believed only when every look-up says it. The caller closes the
        order as never placed on it, and a venue may list an order a moment late: a resumed first leg that
        had filled was closed as "never sent" on the first "not found", the execution failed, and the
        venue kept a position the ledger did not (found in review). A caller that re-sends instead needs
        no such care: the venue answers a duplicate with the order it holds.
        """
        last: Exception | None = None
        answered = 0
        for delay in self.verify_delays:
            if delay:
                await asyncio.sleep(delay)
            try:
                found = await venue.find_order(coid, ref)
            except (VenueUnavailable, OrionError) as exc:
                last = exc
                continue
            if found is not None or not confirm_absent:
                return found
            answered += 1
        if last is None:
            return None  # every look-up answered, and none found it
        raise _Unresolved(f"{coid}: lookup failed: {last}"
                          + (f" (and not found by the {answered} that answered)" if answered else ""))

    async def _verify(self, run: _Run, tag: str, answer: OrderState, latency_ms: int | None) -> OrderState:
        """Read the order back (fills and fees come from there), record it, audit ``order.verified``."""
        prepared = run.prepared(tag)
        venue = self._venue(prepared.request.venue)
        coid = prepared.request.client_order_id
        ref = answer.venue_order_id or prepared.venue_ref
        read: OrderState | None = None
        for delay in self.verify_delays:
            if delay:
                await asyncio.sleep(delay)
            try:
                read = await venue.find_order(coid, ref)
            except OrionError:
                continue
            if read is not None and read.status.terminal and \
                    sum((f.size for f in read.fills), ZERO) >= read.filled_size:
                break
        final = read if read is not None else answer
        if final.status is OrderStatus.OPEN and final.venue_order_id:
            # FOK/IOC never rest; if one does (a venue quirk), take it off the book before going on.
            try:
                cancelled = await venue.cancel(final.venue_order_id)
            except OrionError as exc:  # still resting, and it may fill: only reconcile can tell, later
                raise _Unresolved(f"{coid}: resting at the venue though immediate-or-cancel, and the cancel "
                                  f"failed: {exc}"[:500]) from None
            final = cancelled or final
        fills = final.fills or answer.fills
        listed = sum((f.size for f in fills), ZERO)
        # The venue says it filled but does not list those fills yet (its fills feed lags its orders).
        # The ledger keeps the order in flight, so the checks count it at its limit, until the fills
        # are read (below, or by reconcile); the flow goes by the venue's word.
        unlisted = final.status.terminal and listed < final.filled_size
        state = self._record(run, tag, final, fills, unlisted=unlisted)
        pending = run.result.setdefault("fills_pending", {})
        if unlisted:
            pending[tag] = {"venue_filled": _d(final.filled_size), "listed": _d(listed)}
            state = replace(state, status=final.status)
        else:
            pending.pop(tag, None)
        if not pending:
            run.result.pop("fills_pending")
        spec = run.spec_of(tag)
        filled = max(final.filled_size, listed)
        avg = final.avg_fill_price or answer.avg_fill_price
        leg_buy = tag.startswith("l2") or tag == "l1"  # not an unwind: those sell, with no plan to compare
        entry: dict[str, Any] = {
            "coid": coid, "venue": spec.venue.value, "order_id": final.venue_order_id or ref,
            "status": final.status.value, "size": _d(prepared.request.size), "filled": _d(filled),
            "avg_price": None if avg is None else _d(avg), "fees": _d(sum((f.fee for f in fills), ZERO)),
            "limit_price": _d(prepared.request.limit_price), "action": prepared.request.action.value,
            "verified": read is not None,
        }
        if latency_ms is not None:
            entry["latency_ms"] = latency_ms
        if leg_buy and avg is not None and filled > 0:
            entry["planned_avg"] = _d(spec.planned_avg)
            entry["slippage"] = _d(self._slippage(run, tag, spec, fills if listed >= filled else None, avg, filled))
        self._note(run, tag, entry)
        with self.db.write() as conn:
            AuditLog.append(conn, "order.verified", {
                "key": run.key, "tag": tag, "client_order_id": coid, "order_id": final.venue_order_id or ref,
                "found": read is not None, "answer_status": answer.status.value,
                "venue_status": final.status.value, "answer_filled": answer.filled_size,
                "venue_filled": final.filled_size, "fills_listed": listed,
                "agrees": read is not None and read.status is answer.status
                and read.filled_size == answer.filled_size}, mode=self.mode, actor=self.actor,
                venue=spec.venue.value, market=spec.market_id)
            save_result(conn, run.key, run.result)
        return state

    def _record(self, run: _Run, tag: str, state: OrderState, fills: Sequence[Fill], *,
                unlisted: bool = False) -> OrderState:
        """Record the venue's ``state`` of ``tag`` with ``fills``; ``unlisted``: it is terminal at the
        venue, but not all its fills are listed yet."""
        coid = run.coid(tag)
        current = self._order(tag, run)
        buy = current.action is Action.BUY
        if buy:  # held in full: the ledger holds what the venue filled (see _filled)
            fitted = [f if f.client_order_id else replace(f, client_order_id=coid) for f in fills]
            over = max(ZERO, sum((f.size for f in fitted), ZERO) - current.size)
        else:
            fitted, over = fit_fills(fills, current.size, coid)
        if over > 0:
            run.result.setdefault("overfill", {})[tag] = _d(over)
            if buy and current.venue is Venue.POLYMARKET and \
                    sum((f.size * f.price for f in fitted), ZERO) > polymarket_buy_spend(current.size,
                                                                                      current.limit_price) + CENT:
                # More dollars' worth than the buy was signed for: no better price explains those shares
                # (a fills feed listing a fill twice does): unexplained (:func:`unexplained_overfill`).
                run.result.setdefault("overfill_beyond_spend", {})[tag] = _d(over)
        status: OrderStatus | None = state.status
        if status in (OrderStatus.INTENT, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN) or \
                (current.status.terminal and status is not None and not status.terminal):
            status = None
        elif unlisted:
            # Never done while its fills cannot be read (reconcile's rule too): it keeps its status, even
            # when the fills listed reach its size already (an overfill whose rest is still unlisted).
            status = None if current.status.terminal else current.status
        return self.ledger.transition(coid, status, venue_order_id=state.venue_order_id or None, fills=fitted,
                                      reject_reason=state.reject_reason, venue_status=state.venue_status,
                                      category=run.spec_of(tag).category, overfill_ok=buy)

    # -- endings --------------------------------------------------------------------------------

    def _abandon(self, run: _Run, verdict: Verdict, message: str) -> ExecutionResult:
        """No exposure: the execution ends ``failed``, its unsent intents cancelled with it (:meth:`_move`)."""
        run.result["message"] = message
        self._move(run, ExecStatus.FAILED, {"message": message}, unsent=message)
        return self._result(run, verdict, message)

    def _assert_driving(self, conn: Connection, run: _Run) -> None:
        """Before an order goes out: this process still holds the key's lock, and the ledger's status is
        the one it moved the execution to. Either failing, another process may be driving it too."""
        lock = self._driving
        if lock is not None and not lock.held():
            raise _NotDriving(f"execution {run.key}: its key lock was lost (the database session holding it "
                              "ended)")
        stored = current(conn, run.key)
        if stored is not run.status:
            raise _NotDriving(f"execution {run.key} is {stored.value if stored else 'gone'} in the ledger, not "
                              f"{run.status.value}: another process moved it")

    def _fail_halt(self, run: _Run, verdict: Verdict, message: str, *, alert_kind: str) -> ExecutionResult:
        """Engage the kill switch, alert, and leave the execution ``halted`` with the facts for reconcile."""
        refused = self._refusals(run, CREDENTIALS_REFUSED)
        if refused:  # why the hedge was not retried, or the unwind refused: the key is the operator's to fix
            message += "; " + _credentials_said(refused[0])
        run.result["message"] = message
        run.result["naked"] = self._exposure(run)
        # The kill switch first, in a transaction of its own: a ledger that refuses what follows (the
        # execution's status) must not take the halt back with it.
        # Signed by this process, as its other events are: without an actor the switch signed it as the `halt`
        # command, and `.actor.command` blamed a person (found reviewing market lifecycles).
        halt = self.kill_switch.engage(f"execution {run.key}: {message}"[:500], kind="unwind",
                                       actor=self.actor or default_actor(), automatic=True)
        run.result["halt_since"] = halt.since  # which halt stopped it (see _halt_released)
        # Alerted as soon as the halt holds: a ledger that then refused the execution's record lost the alert
        # of a halt that was engaged (found reviewing alerts).
        self.alerts.emit(alert_kind, f"execution {run.key} halted: {message}",
                         {"key": run.key, "mode": self.mode, "naked": run.result["naked"]})
        with self.db.write() as conn:
            AuditLog.append(conn, "order.failed", {"key": run.key, "message": message, "naked": run.result["naked"]},
                            mode=self.mode, actor=self.actor)
            # The ledger's status, not this run's: another process may have moved it (then it is left as that
            # process left it, and the halt and the audit event still stand).
            stored = current(conn, run.key)
            if stored is not None and (allowed(stored, ExecStatus.HALTED) or stored is ExecStatus.HALTED):
                run.status = advance(conn, run.key, ExecStatus.HALTED, mode=self.mode, result=run.result,
                                     detail={"message": message}, actor=self.actor)
            elif stored is not run.status:
                run.status = ExecStatus.HALTED  # this process's outcome: it halted (what it reports)
        return self._result(run, verdict, message, self._update_breaker())

    def _result(self, run: _Run, verdict: Verdict, message: str,
                breaker: BreakerNews = ((), ())) -> ExecutionResult:
        """``breaker``: what :meth:`_update_breaker` returned (its trips, its warnings)."""
        detail = dict(run.result)
        detail["status"] = run.status.value
        return ExecutionResult(run.key, _RESULT_STATUS.get(run.status, run.status.value), verdict,
                               self.ledger.orders(execution_id=run.key), message, detail, *breaker)

    # -- helpers --------------------------------------------------------------------------------

    def _venue(self, venue: Venue) -> TradingVenue:
        try:
            return self.venues[venue]
        except KeyError:
            raise DataError("venues", f"no trading venue configured for {venue.value}") from None

    def _teach(self, run: _Run, tag: str) -> None:
        """After a restart, tell a venue client what a persisted order meant (for look-ups)."""
        prepared = run.prepared(tag)
        venue = self._venue(prepared.request.venue)
        remember = getattr(venue, "remember", None)
        if callable(remember):
            remember(prepared)
        register = getattr(venue, "register_token", None)
        r = prepared.request
        if callable(register) and r.token_id:
            register(r.token_id, r.market_id, r.side)

    def _commit_intent(self, conn: Connection, key: str, result: dict[str, Any], tag: str, prepared: PreparedOrder,
                       spec: LegSpec, leg_name: str, now: datetime) -> None:
        """One later intent (a retry of the second leg, an unwind) and its record in the result."""
        self.ledger.record_intent(prepared, execution_id=key, category=spec.category, conn=conn, now=now)
        result["intents"][tag] = _intent_record(prepared, leg_name)

    def _initial_result(self, plan: TradePlan, first: LegSpec, second: LegSpec) -> dict[str, Any]:
        return {"key": plan.key, "first_leg": first.venue.value, "second_leg": second.venue.value,
                "planned_size": _d(plan.size), "intents": {}, "legs": {}}

    def _order(self, tag: str, run: _Run, *, with_fills: bool = True) -> OrderState:
        state = self.ledger.order(run.coid(tag), with_fills=with_fills)
        if state is None:
            raise NotFound(f"order {run.coid(tag)} of execution {run.key} is missing from the ledger",
                           reason="order_not_found")
        return state

    def _refusals(self, run: _Run, kind: str, venue: Venue | None = None) -> list[dict[str, Any]]:
        """The orders of this execution a venue (``venue``, or any) refused for good: ``kind`` is
        :data:`CREDENTIALS_REFUSED` (orion's credentials), :data:`GEOBLOCKED` (this host's location) or
        :data:`VERSION_REFUSED` (the order format orion signs)."""
        return [r for r in run.result.get(kind, []) if venue is None or r["venue"] == venue.value]

    def _note(self, run: _Run, tag: str, values: Mapping[str, Any]) -> None:
        run.result.setdefault("legs", {}).setdefault(tag, {}).update(values)

    def _filled(self, run: _Run, tag: str, *, raw: bool = False) -> Decimal:
        """What ``tag`` filled as the legs' balance counts it: the venue's word, up to the order's size.

        A marketable Polymarket buy spends a dollar amount (its size × limit, rounded up to the cent:
        venues/polymarket/orders.py), so at better prices it gets more shares than asked (an
        overfill). Those are held and recorded (``result.overfill``); beside a hedged pair they are
        neither hedged nor sold back, since unwinding them would sell at a loss (or, below the venue's
        minimum order, halt) over a price improvement. ``raw``: the venue's word, overfill included.

        One rule, for the flow and a resume alike: an order the ledger holds final is counted by the
        fills the ledger records for it (its read-back's, or what ``orion reconcile`` recorded after
        an interruption: the result's count may be an earlier read-back's, of an order the venue had
        not decided yet). Otherwise the larger of the two: a read-back's count may be ahead of the
        fills the venue lists (the ledger keeps such an order in flight), and a fill count only grows.
        """
        o = self.ledger.order(run.coid(tag), with_fills=False)  # status, size and filled size: the row's
        entry = run.result.get("legs", {}).get(tag)
        size: Decimal | None = o.size if o is not None else None
        filled = o.filled_size if o is not None else ZERO
        if entry and "filled" in entry and (o is None or not o.status.terminal):
            filled, size = max(filled, Decimal(entry["filled"])), run.prepared(tag).request.size
        return filled if raw or size is None else min(filled, size)

    def _legs_from_ledger(self, run: _Run) -> None:
        """A resume's record of each order the ledger holds final agrees with the ledger's fills.

        The flow goes by them (:meth:`_filled`); the record's count may be an earlier read-back's, of
        an order the venue had not decided then, whose fills ``orion reconcile`` recorded since. Left
        stale, the execution's record would show a leg as unfilled beside a hedge bought for it.
        """
        for tag, entry in run.result.get("legs", {}).items():
            if "filled" not in entry or tag not in run.result.get("intents", {}):
                continue
            o = self.ledger.order(run.coid(tag))
            if o is None or not o.status.terminal or o.filled_size == Decimal(entry["filled"]):
                continue
            avg = o.avg_fill_price
            entry.update(status=o.status.value, filled=_d(o.filled_size), fees=_d(o.fees),
                         avg_price=None if avg is None else _d(avg), from_ledger=True)
            entry.pop("slippage", None)
            spec = run.spec_of(tag)
            if (tag == "l1" or tag.startswith("l2")) and avg is not None and o.filled_size > 0:
                entry["planned_avg"] = _d(spec.planned_avg)
                entry["slippage"] = _d(self._slippage(run, tag, spec, o.fills, avg, o.filled_size))

    def _slippage(self, run: _Run, tag: str, spec: LegSpec, fills: Sequence[Fill] | None, avg: Decimal,
                  filled: Decimal) -> Decimal:
        """Dollars ``tag`` paid over the plan's levels for what it filled (execution/slippage.py), exact.

        Paid is the listed ``fills`` (None: not all listed yet, so the venue's average × filled). The
        plan's levels are taken cheapest first by the leg's earlier orders (a retry follows its ``l2``),
        every share they bought counted, overfill too."""
        paid = sum((f.size * f.price for f in fills), ZERO) if fills is not None else avg * filled
        earlier = [t for t in run.tags("l2") if _tag_order(t) < _tag_order(tag)] if tag != "l1" else []
        after = sum((self._filled(run, t, raw=True) for t in earlier), ZERO)
        return paid - spec.planned_cost(filled, after=after)

    def _filled_leg(self, run: _Run, prefix: str, *, raw: bool = False) -> Decimal:
        return sum((self._filled(run, t, raw=raw) for t in run.tags(prefix)), ZERO)

    def _imbalance(self, run: _Run) -> tuple[LegSpec, str, Decimal]:
        """The leg holding more than the other, and by how many shares (0 when the pair is balanced).

        Balanced is judged by what each order was for (:meth:`_filled`), so an overfill beside a
        hedged pair is no imbalance. Once the legs differ, the excess counts every share the venue
        filled: an unwound or short pair keeps no overfill, because nothing hedges it.
        """
        filled1, hedged = self._filled(run, "l1"), self._filled_leg(run, "l2")
        raw1, raw2 = self._filled(run, "l1", raw=True), self._filled_leg(run, "l2", raw=True)
        if hedged > filled1:
            return run.second, "second", max(ZERO, raw2 - raw1)
        if filled1 > hedged:
            return run.first, "first", max(ZERO, raw1 - raw2)
        return run.first, "first", ZERO

    def _spend(self, run: _Run, tags: Sequence[str], spec: LegSpec) -> tuple[Decimal, Decimal]:
        """(shares, cash) of the orders ``tags`` as the venue filled them: what a buy paid with its fees,
        or what a sell brought in after them.

        From the recorded fills; shares the venue filled but has not listed yet count at the worst
        their limit allows, with the fee there. Counting them as nothing would price a hedge retry past
        breakeven (room that is spent already) or let an unwind lose more than its bound.
        """
        shares = cash = ZERO
        for t in tags:
            request = run.prepared(t).request
            sign = 1 if request.action is Action.BUY else -1
            listed = ZERO
            for f in self.ledger.fills(client_order_id=run.coid(t)):
                listed += f.size
                cash += f.size * f.price + sign * f.fee
            unlisted = self._filled(run, t, raw=True) - listed
            if unlisted > 0:
                cash += unlisted * request.limit_price + sign * spec.fee_model.fill_fee(unlisted, request.limit_price)
                listed += unlisted
            shares += listed
        return shares, cash

    def _sold(self, run: _Run) -> Decimal:
        return sum((self._filled(run, t) for t in run.tags("u")), ZERO)

    def _held(self, run: _Run, spec: LegSpec, leg_name: str) -> Decimal | None:
        """What the ledger holds of the heavy leg's shares for this execution: the position less what
        other orders hold in it, with this execution's fills the venue has not listed yet (bought:
        held; sold back: gone). None when that cannot be told.

        An unwind sells no more than that: shares closed outside orion are not there to sell, and a sell
        of them would be refused (Kalshi's are reduce-only) or sell another pair's shares. A close outside
        orion is what ``orion reconcile --fix`` records after this execution began: an adjustment sell
        (the venue's position fell, no fill listed), or an adopted outside order (``ext-``; the venue
        listed the sale by hand) that sold these shares or, on a netting venue (Kalshi), bought the
        other side and so closed them (``fills.netted``). Found in review: the adopted sale counted as
        another order's shares, so a resume sold the closed shares again, out of another pair's hedge.
        When other orders (another execution, one ``reconcile`` adopted) also hold shares there and
        some were closed by hand, whose they were cannot be told: None.
        """
        mine = {run.coid(t) for t in run.result.get("intents", {})}
        held = others = closed = ZERO
        listed: dict[str, Decimal] = {}  # what the ledger holds of each order's fills (this leg's orders among them)
        other_side = spec.side.other if spec.venue in NETTING_VENUES else None
        with self.db.read() as conn:
            began = conn.execute(select(executions.c.created_at).where(executions.c.key == run.key)).scalar()
            sides = [spec.side.value] if other_side is None else [spec.side.value, other_side.value]
            for r in conn.execute(select(fills.c.client_order_id, fills.c.action, fills.c.size, fills.c.side,
                                         fills.c.netted, fills.c.recorded_at)
                                  .where(fills.c.mode == self.mode, fills.c.venue == spec.venue.value,
                                         fills.c.market_id == spec.market_id, fills.c.side.in_(sides))):
                if r.side != spec.side.value:  # the other side's buy closed this many of these shares
                    signed = -Decimal(r.netted) if r.action == Action.BUY.value else ZERO
                else:
                    signed = Decimal(r.size) if r.action == Action.BUY.value else -Decimal(r.size)
                    listed[r.client_order_id] = listed.get(r.client_order_id, ZERO) + Decimal(r.size)
                if signed == 0:
                    continue
                held += signed
                # A close outside orion recorded before this execution began closed other shares than its own.
                if r.client_order_id.startswith((ADJUST_PREFIX, EXTERNAL_PREFIX)) and signed < 0 \
                        and began is not None and str(r.recorded_at) >= str(began):
                    closed += signed
                elif r.client_order_id not in mine:
                    others += signed
        if closed < 0 and others != 0:
            return None
        held -= others
        bought = ["l1"] if leg_name == "first" else run.tags("l2")
        for t in (*bought, *run.tags("u")):
            unlisted = self._filled(run, t, raw=True) - listed.get(run.coid(t), ZERO)
            if unlisted > 0:
                held += unlisted if t in bought else -unlisted
        return held

    def _settled_legs(self, run: _Run) -> frozenset[str]:
        """The legs of ``run`` whose market the ledger has settled (see :attr:`_Run.settled`)."""
        legs = {"first": run.first, "second": run.second}
        with self.db.read() as conn:
            return frozenset(name for name, spec in legs.items()
                             if self.ledger.settled_markets(spec.venue, [spec.market_id], conn=conn))

    def _closed_outside(self, run: _Run) -> Decimal:
        """Shares of the excess the ledger no longer holds (:meth:`_held`), as the last unwind found."""
        gone = run.result.get("closed_outside")
        return Decimal(gone["shares"]) if gone else ZERO

    def _unit_cost(self, run: _Run, leg_name: str) -> Decimal:
        """All-in cost per share (price + fees) of one leg's buys (see :meth:`_spend`)."""
        spec = run.first if leg_name == "first" else run.second
        shares, spent = self._spend(run, ["l1"] if leg_name == "first" else run.tags("l2"), spec)
        if shares <= 0:  # nothing bought: the plan's price with its fee
            size = spec.planned_size if spec.planned_size > 0 else ONE
            return spec.limit_price + spec.fee_model.fill_fee(size, spec.limit_price) / size
        return spent / shares

    def _unwind_loss(self, run: _Run, unit_cost: Decimal, spec: LegSpec) -> Decimal:
        """What the unwind's sells so far lost against ``unit_cost`` a share, after their fees (< 0: a gain)."""
        shares, proceeds = self._spend(run, run.tags("u"), spec)
        return shares * unit_cost - proceeds

    def _breakeven_price(self, run: _Run, size: Decimal) -> Decimal | None:
        """Highest price for ``size`` more second-leg shares keeping the pair's net ≥ 0 after fees."""
        spec = run.second
        target = Decimal(run.result["hedge_target"])
        _, spent = self._spend(run, run.tags("l2"), spec)
        # The first leg's whole cost, overfill included (it came out of the same dollars); only shares
        # its order was for beyond the target (sold back later) take their share of it away.
        bought, first_cost = self._spend(run, ["l1"], run.first)
        ordered = self._filled(run, "l1")
        if bought <= 0:
            first_cost = self._unit_cost(run, "first") * target
        elif ordered > target > 0:
            first_cost = first_cost * target / ordered
        room = target - first_cost - spent
        if room <= 0:
            return None
        return _highest_price(spec, size, room, ONE)

    def _limits_cap_price(self, spec: LegSpec, size: Decimal) -> Decimal | None:
        """Highest price at which ``size`` shares keep to ORDER_NOTIONAL (cost with fees) and PRICE_BAND."""
        limits = self.settings.limits
        return _highest_price(spec, size, limits.order_notional, limits.price_band_high, cash_out=True)

    def _exposure(self, run: _Run) -> dict[str, Any]:
        filled1, hedged = self._filled(run, "l1", raw=True), self._filled_leg(run, "l2", raw=True)
        sold = self._sold(run)
        return {"first": {"venue": run.first.venue.value, "market": run.first.market_id,
                          "side": run.first.side.value, "bought": _d(filled1)},
                "second": {"venue": run.second.venue.value, "market": run.second.market_id,
                           "side": run.second.side.value, "bought": _d(hedged)},
                "sold_back": _d(sold),
                "unhedged_shares": _d(abs(filled1 - hedged) - sold - self._closed_outside(run))}

    def _unwind_cost(self, run: _Run, leg_name: str, spec: LegSpec) -> dict[str, str]:
        """What the unwind's sells so far did, for the record and the message: shares sold, what they
        brought in after fees a share, what those shares had cost a share (price + fees), and the loss
        (< 0: a gain). ``max_unwind_loss`` bounds that loss; a trader asks what it came to."""
        shares, proceeds = self._spend(run, run.tags("u"), spec)
        unit = self._unit_cost(run, leg_name)
        if shares <= 0:
            return {}
        return {"sold": _d(shares), "sold_at": _d((proceeds / shares).quantize(_PRICE_Q)),
                "unit_cost": _d(unit.quantize(_PRICE_Q)), "loss": _d((shares * unit - proceeds).quantize(_PRICE_Q))}

    def _unwind_said(self, run: _Run, *, named: bool = True) -> str:
        """The unwind of an execution that ended unwound, in words: what was sold back, where, at what, and
        what it lost against what those shares cost. ``named``: lead with "the excess was sold back within
        max_unwind_loss" (a caller that says it itself passes False)."""
        leg_name = run.result.get("excess", {}).get("leg", "first")
        spec = run.first if leg_name == "first" else run.second
        cost = self._unwind_cost(run, leg_name, spec)
        lead = "the excess was sold back within max_unwind_loss" if named else ""
        if not cost:
            return lead
        loss = Decimal(cost["loss"])
        lost = f"a loss of ${_d(loss)}" if loss > 0 else \
            f"a gain of ${_d(-loss)}" if loss < 0 else "no loss"
        said = (f"{cost['sold']} {spec.side.value.upper()} shares of {spec.market_id} on {spec.venue.value} sold "
                f"at {cost['sold_at']} a share after fees, bought at {cost['unit_cost']}: {lost} "
                f"(max_unwind_loss ${_d(self.settings.trading.max_unwind_loss)})")
        return f"{lead}: {said}" if named else said

    def _audit_unwind_done(self, run: _Run, tag: str, spec: LegSpec, qty: Decimal, sold: Decimal, *,
                           ok: bool) -> None:
        leg_name = run.result.get("excess", {}).get("leg", "first")
        cost = self._unwind_cost(run, leg_name, spec) if sold > 0 else {}
        with self.db.write() as conn:
            AuditLog.append(conn, "unwind.done", {
                "key": run.key, "tag": tag, "ok": ok, "shares": qty, "sold": sold,
                **{k: cost[k] for k in ("sold_at", "unit_cost", "loss") if k in cost},
                "message": run.result.get("unwind", {}).get("message", "")}, mode=self.mode, actor=self.actor,
                venue=spec.venue.value, market=spec.market_id)
            save_result(conn, run.key, run.result)

    def _halt_released(self, run: _Run) -> bool:
        """Whether the halt that stopped this execution was released: no halt now, or another one than
        the halt its own engaged or kept (``result.halt_since``, that halt's identity). A cron
        ``reconcile --halt-on-drift`` halts again for the very execution between the operator's ``orion
        resume`` and the resume that ends it. Identity, not time order: hosts sharing a ledger need not
        agree on the time."""
        status = self.kill_switch.status(trading=True)
        if not status.halted:
            return True
        kept = run.result.get("halt_since")
        return kept is not None and status.since is not None and status.since != kept

    def _halted(self) -> bool:
        with self.db.read() as conn:
            try:
                assert_not_halted(conn, self.settings.halt.sentinel_file, self.mode)
            except Halted:
                return True
        return False

    def _move(self, run: _Run, to: ExecStatus, detail: Mapping[str, Any], *, unsent: str = "") -> None:
        """Advance the status (with its audit event); moving back to an earlier phase is skipped.

        A final status also closes, in the same transaction, every order of the execution still at
        ``intent`` (never marked submitted, so it never reached a venue) as never sent, ``unsent``
        saying why: nothing will send it now, and left ``intent`` the checks would count it as a
        market held and cash in flight until a reconcile. An order marked submitted (or unknown) may
        be at the venue and stays for reconcile; a ``halted`` execution is not final (a resume may
        still send its committed intents), so its intents stay too.
        """
        with self.db.write() as conn:
            if run.status is to and to is not ExecStatus.LEG2_SENT:
                save_result(conn, run.key, run.result)
                return
            if not allowed(run.status, to) and _RANK[to] <= _RANK[run.status]:
                save_result(conn, run.key, run.result)
                return
            if to.final:
                reason = NEVER_SENT + (unsent or f"the execution ended {to.value} without it")[:200]
                for tag in run.result.get("intents", {}):
                    order = self.ledger.order(run.coid(tag), conn=conn, with_fills=False)
                    if order is not None and order.status is OrderStatus.INTENT:
                        self.ledger.cancelled(run.coid(tag), reason=reason, conn=conn)
            run.status = advance(conn, run.key, to, mode=self.mode, result=run.result, detail=dict(detail),
                                 actor=self.actor)

    def _update_breaker(self) -> BreakerNews:
        """The trips this update made and the warnings it raised (:class:`ExecutionResult`'s
        ``breaker_tripped`` and ``breaker_warnings``); none when it failed: the next trade's check
        recomputes them."""
        if self.breaker is None:
            return (), ()
        try:
            status = self.breaker.update()
        except Exception as exc:
            # Any failure: an execution's outcome (or a refusal) stands, and its exit code is not the
            # breaker's to change; the check before the next trade recomputes the figures.
            log.error("the loss breaker could not be updated (%s)", type(exc).__name__)  # shown with -q too
            return (), ()
        return status.trips, status.warning_messages


_RANK: Mapping[ExecStatus, int] = {
    ExecStatus.INTENTS: 0, ExecStatus.LEG1_SENT: 1, ExecStatus.LEG1_DONE: 2, ExecStatus.LEG2_SENT: 3,
    ExecStatus.HEDGED: 4, ExecStatus.UNWINDING: 5, ExecStatus.HALTED: 6, ExecStatus.DONE: 7,
    ExecStatus.UNWOUND: 7, ExecStatus.FAILED: 7, ExecStatus.REFUSED: 7,
}


def _data_said(source_flags: str) -> str:
    """``execution.requested``'s ``data``: ``venues`` (the live books), ``demo``, or ``snapshot FILE`` (the path as
    it is, not shell-quoted as the flags a printed command carries)."""
    import shlex

    words = shlex.split(source_flags)
    return " ".join([words[0].removeprefix("--"), *words[1:]]) if words else "venues"


def _buy_cost(spec: LegSpec, size: Decimal, price: Decimal, *, cash_out: bool) -> Decimal:
    """What a buy of ``size`` limited at ``price`` costs with its fee: a Polymarket buy the dollars it is
    signed for (and spends in full) plus the fee on the shares they buy (``polymarket_buy_fill``); with
    ``cash_out``, a Kalshi order's rounded up to the cent, as ORDER_NOTIONAL counts it (``_cash_out``)."""
    if spec.venue is Venue.POLYMARKET:
        spend, _, fee = polymarket_buy_fill(size, price, spec.fee_model)
        return spend + fee
    cost = size * price + spec.fee_model.fill_fee(size, price)
    return ceil_to(cost, CENT) if cash_out else cost


def _highest_price(spec: LegSpec, size: Decimal, budget: Decimal, ceiling: Decimal, *,
                   cash_out: bool = False) -> Decimal | None:
    """Highest valid tick, at most ``ceiling`` (and below 1), at which ``size`` shares cost, with their
    fee, no more than ``budget`` (:func:`_buy_cost`); None when none does."""
    price = spec.ticks.tick_below(min(budget / size, ceiling), inclusive=True)
    while price is not None:
        if _buy_cost(spec, size, price, cash_out=cash_out) <= budget:
            return price
        price = spec.ticks.tick_below(price)
    return None


def _min_sell_price(spec: LegSpec, qty: Decimal, unit_cost: Decimal, max_loss: Decimal) -> Decimal | None:
    """Lowest valid tick at which selling ``qty`` loses at most ``max_loss`` against ``unit_cost``, its fee
    counted; None when none does. No tick under ``unit_cost - max_loss / qty`` can (the fee only adds),
    so the walk starts there and goes up one valid tick at a time (:meth:`TickStructure.tick_above`)."""
    price = spec.ticks.tick_above(unit_cost - max_loss / qty, inclusive=True)
    while price is not None:
        loss = qty * unit_cost - (qty * price - spec.fee_model.fill_fee(qty, price))
        if loss <= max_loss:
            return price
        price = spec.ticks.tick_above(price)
    return None


def audit_refusal(db: Database, check: CheckResult, *, key: str, opportunity_id: str, mode: str,
                  actor: Mapping[str, Any] | None = None, venue: str | None = None) -> None:
    """Audit ``risk.rejected`` for a trade refused outside the checks' transaction, in a write
    transaction of its own: nothing else is written (no execution row, no intent), and the refusal
    may come while another process holds the key. Same payload as the pipeline's refusals
    (:meth:`Verdict.rejected_record`), so ``orion report`` counts it under ``check.name``; ``venue``
    as :func:`~orion_cli.execution.plan.sole_venue` gives it."""
    AuditLog(db).record("risk.rejected", Verdict((check,)).rejected_record(key, opportunity_id), mode=mode,
                        actor=actor, venue=venue)


def _default_evaluate() -> EvaluateFn:
    from orion_cli.risk.checks import evaluate

    return evaluate

