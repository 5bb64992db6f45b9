"""What a reconcile run reports: each drift, each order it resolved, and each venue's outcome.

The records cron and shell pipelines read (``reconcile --json``) and the audit events carry, kept apart
from the steps that find them so every step reports in the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from orion_cli.core.models import Side, Venue
from orion_cli.core.money import MICRO
from orion_cli.execution.state import LATE_LISTING_GRACE, NEVER_SENT
from orion_cli.store.ledger import CountedTransfer, SettledMarket
from orion_cli.store.tables import plain
from orion_cli.venues.trading import Balance, Geoblocked, OrderStatus

DEFAULT_LOOKBACK = timedelta(hours=24)
DEFAULT_GRACE = LATE_LISTING_GRACE
OPEN_STATUSES = (OrderStatus.INTENT, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN, OrderStatus.OPEN)
# The fix of an order's drift that the venue has not decided (:func:`_unattended`).
ORDER_UNDECIDED_FIX = "not fixed by reconcile: the venue has not decided it"
NOT_FINAL = (OrderStatus.INTENT, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN)
QTY_TOLERANCE = MICRO  # Polymarket's 6-decimal share unit
MAX_AUDITED_DRIFTS = 200
# NEVER_SENT first: a resumed execution must not count this order as a hedge attempt that was sent.
NEVER_REACHED = f"{NEVER_SENT}never reached the venue (reconcile: the venue does not know the order)"


@dataclass(frozen=True, slots=True)
class Drift:
    """One disagreement between the ledger and a venue.

    ``value`` is the size of the disagreement in dollars: |venue − ledger| × price, the price being
    the mark when one is given, else the venue's average price, else the ledger's.
    """

    venue: Venue
    kind: str  # position | order | fill | balance | settlement | transfers
    market: str
    side: Side | None
    ledger_qty: Decimal
    venue_qty: Decimal
    value: Decimal
    detail: str
    ref: str = ""  # fill id / venue order id / client order id
    fixed: bool = False
    fix: str = ""  # what --fix did, or why it could not

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "drift",
            "venue": self.venue.value,
            "kind": self.kind,
            "market": self.market,
            "side": self.side.value if self.side is not None else None,
            "ledger_qty": plain(self.ledger_qty),
            "venue_qty": plain(self.venue_qty),
            "value": plain(self.value),
            "detail": self.detail,
            "ref": self.ref,
            "fixed": self.fixed,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Resolved:
    """A ledger order whose outcome was looked up at the venue and recorded."""

    venue: Venue
    client_order_id: str
    venue_order_id: str
    market: str
    side: Side
    before: str
    after: str
    filled_size: Decimal
    new_fills: int
    detail: str

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "resolved",
            "venue": self.venue.value,
            "client_order_id": self.client_order_id,
            "order_id": self.venue_order_id,
            "market": self.market,
            "side": self.side.value,
            "from": self.before,
            "to": self.after,
            "filled_size": plain(self.filled_size),
            "new_fills": self.new_fills,
            "detail": self.detail,
        }


@dataclass
class VenueReconcile:
    """The outcome for one venue: ``clean``, ``drift`` or ``unavailable`` (with ``reason``)."""

    venue: Venue
    mode: str
    status: str = "clean"
    drifts: list[Drift] = field(default_factory=list)
    resolved: list[Resolved] = field(default_factory=list)
    settled: list[SettledMarket] = field(default_factory=list)
    transfers: list[CountedTransfer] = field(default_factory=list)  # deposits/withdrawals counted as capital
    reason: str = ""
    rejected: bool = False  # unavailable because the venue refused our credentials (exit 4, not 5)
    geoblocked: bool = False  # unavailable because the venue refused this host's location (exit 6, not 5)
    hint: str = ""  # what to do about a refusal (the venue's error's hint); not in the record
    pending: list[str] = field(default_factory=list)  # not judged yet: too recent to call
    balance: Balance | None = None
    report_withheld: str = ""  # live: why the venue's balance report was not recorded ("" when it was)
    # live: why, after this run, every live leg on the venue is refused (its reports held: drift not fixed)
    trading_refused: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def fixed(self) -> int:
        return sum(1 for d in self.drifts if d.fixed)

    @property
    def refusal(self) -> str | None:
        """Why the venue refused to be read, as the error's ``reason`` the exit code goes with:
        ``auth`` (our credentials, exit 4), ``GEOBLOCKED`` (this host's location, exit 6); else None
        (an outage, or read in full)."""
        return "auth" if self.rejected else Geoblocked.reason if self.geoblocked else None

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "reconcile",
            "venue": self.venue.value,
            "mode": self.mode,
            "status": self.status,
            "drifts": [d.to_record() for d in self.drifts],
            "resolved": [r.to_record() for r in self.resolved],
            "settled": [x.to_record() for x in self.settled],
            "transfers": [x.to_record() for x in self.transfers],
            "pending": list(self.pending),
            "fixed": self.fixed,
            "reason": self.reason or None,
            "refusal": self.refusal,
            "balance": None if self.balance is None else self.balance.to_record(),
            "report_withheld": self.report_withheld or None,
            "live_trading_refused": self.trading_refused or None,
            "counts": dict(self.counts),
        }


ENDED_NOT_RESUMED = "not fixed by reconcile: an ended execution is not resumed"


def order_drift(venue: Venue, row: Row[Any], detail: str, *, venue_qty: Decimal | None = None,
                ledger_qty: Decimal | None = None) -> Drift:
    """An order the reconcile could not settle; ``value`` = the quantity in doubt × its limit price."""
    filled = Decimal(row.filled_size) if ledger_qty is None else ledger_qty
    vq = filled if venue_qty is None else venue_qty
    at_stake = abs(vq - filled) if vq != filled else Decimal(row.size) - filled
    return Drift(venue, "order", row.market_id, Side(row.side), filled, vq, plain(at_stake * Decimal(row.limit_price)),
                 f"order {row.client_order_id}: {detail}", ref=row.client_order_id)


def attach_drift(results: list[VenueReconcile], drift: Drift) -> None:
    """Add a drift found once every venue is compared to its venue's result (else the first), which it
    makes ``drift`` also over ``unavailable`` (its reason stays): a leg may be unhedged."""
    target = next((r for r in results if r.venue == drift.venue), results[0])
    target.drifts.append(drift)
    target.counts["drifts"] = len(target.drifts)
    target.status = "drift"
