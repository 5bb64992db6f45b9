"""The venue-neutral trading interface: balances, positions, and orders that are never doubled.

Every venue (Kalshi, Polymarket, Paper) implements :class:`TradingVenue`. Placing an order is two
steps so that nothing is lost and nothing is sent twice:

1. :meth:`TradingVenue.prepare` builds the exact request (for Kalshi the JSON body with its
   ``client_order_id``; for Polymarket the EIP-712-signed order body) without any I/O. The caller
   commits the :class:`PreparedOrder` (intent) to the database *before* sending it.
2. :meth:`TradingVenue.submit` sends that prepared payload. A retry re-sends the *same* payload
   (same client order id / same signed order), never a new one. When the outcome cannot be known
   (timeout or dropped connection after the request may have reached the venue), ``submit`` raises
   :class:`OrderOutcomeUnknown` and the caller must look the order up (:meth:`find_order`) before
   anything else happens.

Prices are always the price of the outcome token being traded (a NO buy at 0.40 is "0.40"),
whatever the venue's wire convention (Kalshi V2 quotes everything on the YES book).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from orion_cli.core.categories import normalise_category
from orion_cli.core.errors import DataError, OrionError, Refused, VenueError, VenueUnavailable
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ONE, ZERO, to_decimal


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TimeInForce(StrEnum):
    FOK = "fill_or_kill"
    IOC = "immediate_or_cancel"
    GTC = "good_till_canceled"


class OrderStatus(StrEnum):
    """Normalised order lifecycle (DESIGN §5)."""

    INTENT = "intent"  # prepared and committed locally, not yet sent
    SUBMITTED = "submitted"  # sent; no answer yet
    UNKNOWN = "unknown"  # sent, outcome unknown (timeout/dropped): must be looked up before anything else
    OPEN = "open"  # resting on the book (GTC), possibly partly filled already
    FILLED = "filled"  # completely filled
    PARTIAL = "partial"  # partly filled and done: the remainder was cancelled (IOC) — never resting
    CANCELLED = "cancelled"  # done with nothing (more) filled: FOK/IOC killed, or cancelled
    REJECTED = "rejected"  # the venue refused it

    @property
    def terminal(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.PARTIAL, OrderStatus.CANCELLED, OrderStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the caller wants: buy or sell ``size`` of one outcome token at ``limit_price`` or better."""

    venue: Venue
    market_id: str
    side: Side
    action: Action
    size: Decimal
    limit_price: Decimal
    time_in_force: TimeInForce
    client_order_id: str
    token_id: str = ""  # Polymarket outcome token (YES or NO token of market_id)
    tick_size: Decimal = Decimal("0.01")
    neg_risk: bool = False
    protocol_v2: bool = False  # Polymarket markets whose Gamma version is "v2" (ExchangeV3)


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """The exact request that will be sent, persisted before sending so a retry re-sends it verbatim."""

    request: OrderRequest
    payload: str  # exact body text (JSON) — for Polymarket the signed order body
    venue_ref: str = ""  # a venue-side id known before sending (Polymarket order hash), else ""

    def to_record(self) -> dict[str, Any]:
        r = self.request
        return {
            "type": "order_intent",
            "venue": r.venue.value,
            "market": r.market_id,
            "token_id": r.token_id,
            "side": r.side.value,
            "action": r.action.value,
            "size": r.size,
            "limit_price": r.limit_price,
            "time_in_force": r.time_in_force.value,
            "client_order_id": r.client_order_id,
            "venue_ref": self.venue_ref,
        }


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution reported by a venue (or simulated by the paper venue)."""

    venue: Venue
    fill_id: str
    venue_order_id: str
    market_id: str
    side: Side
    action: Action
    size: Decimal
    price: Decimal  # price of the traded outcome token
    fee: Decimal
    ts: datetime
    is_taker: bool = True
    client_order_id: str = ""

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "fill",
            "venue": self.venue.value,
            "fill_id": self.fill_id,
            "order_id": self.venue_order_id,
            "client_order_id": self.client_order_id,
            "market": self.market_id,
            "side": self.side.value,
            "action": self.action.value,
            "size": self.size,
            "price": self.price,
            "fee": self.fee,
            "ts": self.ts,
            "is_taker": self.is_taker,
        }


def fit_fills(fills: Sequence[Fill], size: Decimal, coid: str) -> tuple[list[Fill], Decimal]:
    """Fills up to an order's ``size`` (the ledger refuses more), oldest first; the rest is returned
    as the overfill. A venue can fill more than asked (a Polymarket buy given its amount in dollars
    at a better price); the excess shows as a position the ledger does not hold."""
    out: list[Fill] = []
    total = ZERO
    over = ZERO
    for f in sorted(fills, key=lambda x: (x.ts, x.fill_id)):
        f = f if f.client_order_id else replace(f, client_order_id=coid)
        room = size - total
        if room <= 0:
            over += f.size
            continue
        if f.size > room:
            over += f.size - room
            f = replace(f, size=room)
        out.append(f)
        total += f.size
    return out, over


@dataclass(frozen=True, slots=True)
class OrderState:
    """What the venue says about one order."""

    venue: Venue
    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    market_id: str
    side: Side
    action: Action
    size: Decimal
    filled_size: Decimal
    avg_fill_price: Decimal | None
    fees: Decimal
    limit_price: Decimal
    updated_at: datetime
    fills: tuple[Fill, ...] = ()
    venue_status: str = ""  # the venue's own word, for the audit log
    reject_reason: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled_size

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "order",
            "venue": self.venue.value,
            "client_order_id": self.client_order_id,
            "order_id": self.venue_order_id,
            "status": self.status.value,
            "market": self.market_id,
            "side": self.side.value,
            "action": self.action.value,
            "size": self.size,
            "filled_size": self.filled_size,
            "avg_fill_price": self.avg_fill_price,
            "fees": self.fees,
            "limit_price": self.limit_price,
            "updated_at": self.updated_at,
            "venue_status": self.venue_status,
            "reject_reason": self.reject_reason or None,
        }


# What a binary market pays a YES contract once resolved where the venue states no value: 1, 0, or
# 0.5 each for a 50-50. Any other figure is a display price, never taken for a payout.
FINAL_PAYOUTS = (ZERO, Decimal("0.5"), ONE)


def payout_result(yes_payout: Decimal) -> str:
    """The outcome word for a final YES payout: yes, no, or 50-50."""
    return "yes" if yes_payout == ONE else "no" if yes_payout == ZERO else "50-50"



VOID = "void"  # a settlement's result when the market was voided (Kalshi's word; the ledger's too)


@dataclass(frozen=True, slots=True)
class Settlement:
    """A market the venue has settled: what one contract of each side pays, and when it was paid.

    Why a record of its own: an arbitrage is held to settlement, so every execution ends here. The
    ledger closes the position at the payout (not at cost), and the cash it brings counts once,
    whether the venue's next balance report already holds it or not (``paid_at``).

    A voided market (``refunds`` set) pays no outcome: each side is returned at what it cost, so
    no single YES payout (NO = 1 - it) can describe it. ``refunds`` holds what the venue says came
    back per contract of each side it settled; a side it does not list is refunded at the ledger's
    own cost (:meth:`~orion_cli.store.ledger.Ledger.record_settlement`).
    """

    venue: Venue
    market_id: str
    yes_payout: Decimal  # what one YES contract pays, in [0, 1]; a NO contract pays 1 - this (0 for a void)
    paid_at: datetime  # when the payout reached (or counts in) the venue's cash
    result: str = ""  # the venue's word for the outcome: yes | no | scalar | void | ...
    counts: tuple[tuple[Side, Decimal], ...] = ()  # contracts the venue settled, where it says
    revenue: Decimal | None = None  # what the venue says it paid, where it says
    source: str = "venue"  # where the venue said it: at most 16 characters (the ledger's column)
    refunds: tuple[tuple[Side, Decimal], ...] | None = None  # a void: per contract of a side, what came back

    def __post_init__(self) -> None:
        if not (ZERO <= self.yes_payout <= 1):
            raise ValueError(f"a settlement pays between 0 and 1 per contract, not {self.yes_payout}")
        if len(self.source) > 16:
            raise ValueError(f"a settlement's source is at most 16 characters, not {self.source!r}")
        if self.refunds is not None and any(each < 0 for _, each in self.refunds):
            raise ValueError(f"a void refunds nothing negative, not {self.refunds}")

    @property
    def voided(self) -> bool:
        """Whether the market was voided: every position returned at its cost, no outcome paid."""
        return self.refunds is not None

    def refund(self, side: Side) -> Decimal | None:
        """A void's refund per contract of ``side`` as the venue states it; None where it does not."""
        return dict(self.refunds or ()).get(side)

    def payout(self, side: Side) -> Decimal:
        """What one contract of ``side`` brings: its payout, or a void's stated refund (0 where the
        venue states none: the ledger refunds such a side at its own cost)."""
        if self.refunds is not None:
            return self.refund(side) or ZERO
        return self.yes_payout if side is Side.YES else 1 - self.yes_payout

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "settlement",
            "venue": self.venue.value,
            "market": self.market_id,
            "result": self.result,
            "voided": self.voided,
            "yes_payout": self.payout(Side.YES),
            "no_payout": self.payout(Side.NO),
            "paid_at": self.paid_at,
            "venue_counts": {side.value: count for side, count in self.counts},
            "revenue": self.revenue,
            "source": self.source,
        }


# The transfer statuses that moved the venue's cash: ``applied`` (it arrived or left), ``returned``
# (an applied transfer sent back, which undoes it).
TRANSFER_STATUSES = ("applied", "returned")


@dataclass(frozen=True, slots=True)
class Transfer:
    """A deposit to or withdrawal from a venue account, as the venue lists it.

    Why a record of its own: money the trader moves is capital, not profit or loss. Without it a
    deposit would hide the day's losses from the breaker and a withdrawal would trip it. ``amount``
    is signed (in > 0, out < 0) and excludes the venue's fee, so a fee taken from the balance
    still counts as the loss it is.
    """

    venue: Venue
    transfer_id: str
    kind: str  # deposit | withdrawal
    status: str  # one of TRANSFER_STATUSES
    amount: Decimal  # signed: what it moved into the account when applied
    at: datetime  # when it was finalized: the venue's cash holds it from then on
    method: str = ""  # the venue's word for how: ach, wire, crypto, ...
    # What the venue says it charged for it (None: it does not say). Never capital: taken from the cash, it
    # counts as the loss it is; recorded so the log shows the figure that loss came from.
    fee: Decimal | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.transfer_id) <= 100:
            raise ValueError(f"a transfer id is 1 to 100 characters, not {len(self.transfer_id)}")
        if self.kind not in ("deposit", "withdrawal"):
            raise ValueError(f"a transfer is a deposit or a withdrawal, not {self.kind!r}")
        if self.status not in TRANSFER_STATUSES:
            raise ValueError(f"a transfer's status is one of {TRANSFER_STATUSES}, not {self.status!r}")
        if (self.amount < 0) != (self.kind == "withdrawal") and self.amount != 0:
            raise ValueError(f"a {self.kind} of {self.amount}: deposits are positive, withdrawals negative")

    def to_record(self) -> dict[str, Any]:
        return {"type": "transfer", "venue": self.venue.value, "id": self.transfer_id, "kind": self.kind,
                "status": self.status, "amount": self.amount, "at": self.at, "method": self.method, "fee": self.fee}


@dataclass(frozen=True, slots=True)
class Balance:
    """Cash on one venue. ``as_of`` is when the venue (or ledger) reported it.

    ``read_at`` is when orion asked the venue for it, by orion's own clock (None: not known, as for a
    figure the ledger holds). The ledger judges by it which of the fills and payouts it recorded the
    report cannot hold (:meth:`Ledger.record_balance`): ``as_of`` may be older than the reading, as
    Kalshi's, which is the whole second of the balance's last change, before the fill that made it.
    Not part of the record, nor of equality.
    """

    venue: Venue
    mode: str  # paper | live
    available: Decimal
    reserved: Decimal
    total: Decimal
    as_of: datetime
    source: str = "venue"  # venue | ledger
    read_at: datetime | None = field(default=None, compare=False)

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "balance",
            "venue": self.venue.value,
            "mode": self.mode,
            "available": self.available,
            "reserved": self.reserved,
            "total": self.total,
            "as_of": self.as_of,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Position:
    """Contracts held in one outcome of one market. ``exposure`` is the cost at risk (USD).

    ``category`` is the venue's own name (as the ledger stores it; a venue's position report has none);
    the record's ``category`` is the one its exposure is counted under (:func:`normalise_category`, as
    the exposure records and the CATEGORY_EXPOSURE check count it), ``venue_category`` the venue's.

    ``extra["fees"]`` and ``extra["realized_pnl"]`` (USD decimal strings) are the fees paid and the
    realised P&L where the ledger or the venue reports them (:func:`reported_amount`); absent where
    it does not, and shown as not reported, never as 0.
    """

    venue: Venue
    market_id: str
    side: Side
    size: Decimal
    avg_price: Decimal
    exposure: Decimal
    category: str = ""
    title: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "position",
            "venue": self.venue.value,
            "market": self.market_id,
            "side": self.side.value,
            "size": self.size,
            "avg_price": self.avg_price,
            "exposure": self.exposure,
            "category": normalise_category(self.category),
            "venue_category": self.category,
            "title": self.title,
        }


def listed_once(positions: Sequence[Position], *, netting: bool) -> list[Position]:
    """A venue's position list with a row it listed twice dropped, or refused when the two differ.

    Why: a paged list read while it changes (an offset page whose rows shift, a cursor served from a
    moved snapshot) can hand the same row over twice. Counted twice, the position was twice the venue's,
    reconcile called it drift and ``--fix`` adopted the phantom contracts (found in review). Two rows that
    differ for one holding (``netting``: one signed position per market, as Kalshi keeps them) cannot
    both be true: the read is refused (DataError: the venue is unread this time), never guessed."""
    seen: dict[tuple[str, Side | None], Position] = {}
    out: list[Position] = []
    for p in positions:
        key = (p.market_id, None if netting else p.side)
        before = seen.get(key)
        if before is None:
            seen[key] = p
            out.append(p)
        elif before != p:
            raise DataError("positions", f"{p.market_id} is listed twice ({before.size} {before.side.value}, "
                                         f"{p.size} {p.side.value}): the list changed while it was read")
    return out


def reported_amount(value: Any) -> str | None:
    """A venue's USD figure (a fixed-point dollar string, or a JSON number read as Decimal) as an
    exact decimal string; None when it is absent or not a number :func:`to_decimal` takes (not
    reported, never 0)."""
    if value is None:
        return None
    try:
        return str(to_decimal(value, "amount", allow_negative=True))
    except DataError:
        return None


class OrderRejected(Refused):
    """The venue refused the order (insufficient balance, invalid price, FOK not fillable, …)."""

    reason = "ORDER_REJECTED"

    def __init__(self, venue: Venue, code: str, message: str) -> None:
        super().__init__(f"{venue.value} rejected the order: {code}: {message}", reason="ORDER_REJECTED")
        self.venue = venue
        self.code = code
        self.detail = message


class ClientOrderIdTaken(OrderRejected):
    """The venue holds another order under this order's client order id (Kalshi keeps one per account
    for ever and answers a reuse with 409 ``order_already_exists``): an order whose market, direction,
    count or price differ from this one's was placed by someone else (another orion ledger trading the
    same account with the same idempotency key, a ledger restored from a backup). Every send of an
    order carries the same bytes, and the id is unique at the venue, so this one was not placed."""

    CODE = "client_order_id_taken"

    def __init__(self, venue: Venue, client_order_id: str, venue_order_id: str, differs: str) -> None:
        super().__init__(venue, self.CODE, (
            f"{venue.value} holds order {venue_order_id} under client order id {client_order_id}, not this order "
            f"({differs}): the id was used before on this account (another ledger, or this one restored from a "
            "backup, with this idempotency key); this order was not placed and that one is not taken for it"))
        self.client_order_id = client_order_id
        self.venue_order_id = venue_order_id


class OrderOutcomeUnknown(VenueUnavailable):
    """The request may have reached the venue but no answer came back: look the order up first."""

    reason = "ORDER_OUTCOME_UNKNOWN"

    def __init__(self, venue: Venue, client_order_id: str, cause: str) -> None:
        super().__init__(venue.value, f"order {client_order_id} outcome unknown ({cause}); look it up before retrying")
        self.client_order_id = client_order_id


class OrderVersionUnsupported(VenueError):
    """The venue refused the order for its signed format's version and does not take the one orion
    signs (Polymarket's ``order_version_mismatch`` while ``GET /version`` reports another version).
    Nothing was placed and nothing is re-signed in another format (exit 5)."""

    reason = "ORDER_VERSION_MISMATCH"

    def __init__(self, venue: Venue, message: str) -> None:
        super().__init__(message)
        self.venue = venue
        self.code = self.reason


class Geoblocked(Refused):
    """The venue refuses this location (Polymarket geoblock)."""

    reason = "GEOBLOCKED"


class TradingVenue(Protocol):
    """Implemented by the Kalshi and Polymarket clients and by the paper venue."""

    @property
    def venue(self) -> Venue: ...

    @property
    def mode(self) -> str: ...  # "paper" or "live"

    async def balance(self) -> Balance: ...

    async def positions(self) -> list[Position]: ...

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Build the exact request without I/O (validates ticks, sizes, signs Polymarket orders)."""
        ...

    async def submit(self, prepared: PreparedOrder) -> OrderState:
        """Send (or re-send, verbatim) a prepared order. Raises OrderRejected / OrderOutcomeUnknown."""
        ...

    async def find_order(self, client_order_id: str, venue_order_id: str = "") -> OrderState | None:
        """Look an order up by the ids persisted before sending; None when the venue never saw it."""
        ...

    async def cancel(self, venue_order_id: str) -> OrderState | None:
        """Cancel; an order that is already terminal is not an error (returns its state or None)."""
        ...

    async def open_orders(self) -> list[OrderState]: ...

    async def fills(self, *, since: datetime | None = None, venue_order_id: str = "") -> list[Fill]: ...

    async def settlements(self, markets: Sequence[str]) -> list[Settlement]:
        """The settlements of these markets (the ones the ledger holds) that the venue reports; a
        market not settled yet is simply absent."""
        ...

    async def transfers(self) -> list[Transfer] | None:
        """The account's finalized deposits and withdrawals (every status in TRANSFER_STATUSES);
        None when the venue does not list them (its transfers then count as profit or loss)."""
        ...


class SettlementsIncomplete(VenueError):
    """Some held markets could not be checked for a settlement (``unchecked``: market → why); the
    ones that could are in ``found``.

    Why an error and not a shorter list: a market that may have settled must not be taken for one
    that has not. Its payout may already be in the venue's cash (so recording that report would count
    it beside the position still held at cost), and its position may have vanished at the venue (so
    reconcile's --fix would close it at cost, losing the trade's profit).
    """

    def __init__(self, venue: Venue, found: list[Settlement], unchecked: Mapping[str, str], *,
                 unreachable: bool = False) -> None:
        names = ", ".join(m[:24] for m in sorted(unchecked)[:5]) + (" ..." if len(unchecked) > 5 else "")
        super().__init__(f"{venue.value}: {len(unchecked)} held market(s) not checked for a settlement: {names}")
        self.venue = venue
        self.found = found
        self.unchecked = dict(unchecked)
        # Every unchecked market failed for want of an answer (an outage), none on an answer orion
        # could not use: reconcile then reports the venue unavailable, not drift.
        self.unreachable = unreachable


class TradingError(OrionError):
    """Base for trading failures that are neither rejections nor unknown outcomes."""

    reason = "trading_error"
