"""``orion halt --cancel-open``: after the kill switch is engaged, cancel every resting order.

The halt stops orion sending; it does not stop an order already resting at a venue from filling.
Orion's own orders are fill-or-kill / immediate-or-cancel and rest only in a failure (an outcome not
yet known), so what rests is mostly what else the account placed: a kill switch cancels it all,
which is why this is asked for explicitly.

Each venue is asked for its resting orders and each is cancelled on its own; one that cannot be
cancelled (or a venue that cannot be reached) does not stop the others, and is reported. Every
venue's outcome is audited as ``halt.cancel_open``. The ledger is not changed here: orion's own
orders get their final state and fills from ``orion reconcile``, which looks them up by their ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orion_cli.core.errors import OrionError
from orion_cli.core.models import Venue
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database
from orion_cli.venues.trading import OrderState, TradingVenue


@dataclass
class CancelOutcome:
    """One resting order and what became of it."""

    venue: Venue
    order: OrderState  # as the venue listed it
    after: OrderState | None = None  # as the venue answered the cancel (None: not known)
    error: str = ""

    @property
    def cancelled(self) -> bool:
        return not self.error

    def to_record(self) -> dict[str, Any]:
        after = self.after or self.order
        return {
            "type": "cancel",
            "venue": self.venue.value,
            "order_id": self.order.venue_order_id,
            "client_order_id": self.order.client_order_id or None,
            "market": self.order.market_id,
            "side": self.order.side.value,
            "action": self.order.action.value,
            "price": self.order.limit_price,
            "size": self.order.size,
            "filled_size": after.filled_size,
            "status": "failed" if self.error else after.status.value,
            "error": self.error or None,
        }


@dataclass
class VenueCancels:
    venue: Venue
    outcomes: list[CancelOutcome] = field(default_factory=list)
    unreachable: str = ""  # the resting orders could not be listed

    @property
    def complete(self) -> bool:
        return not self.unreachable and all(o.cancelled for o in self.outcomes)


async def cancel_open_orders(db: Database, venues: Mapping[Venue, TradingVenue], mode: str) -> list[VenueCancels]:
    """Cancel every order each venue lists as resting; audit each venue's outcome."""
    results: list[VenueCancels] = []
    for venue, tv in venues.items():
        result = VenueCancels(venue)
        try:
            resting = await tv.open_orders()
        except OrionError as exc:
            result.unreachable = exc.message
            resting = []
        for order in resting:
            outcome = CancelOutcome(venue, order)
            try:
                outcome.after = await tv.cancel(order.venue_order_id)
            except OrionError as exc:
                outcome.error = exc.message
            result.outcomes.append(outcome)
        _audit(db, mode, result)
        results.append(result)
    return results


def _audit(db: Database, mode: str, result: VenueCancels) -> None:
    payload: dict[str, Any] = {
        "venue": result.venue.value,
        "mode": mode,
        "cancelled": [_brief(o) for o in result.outcomes if o.cancelled],
        "failed": [{**_brief(o), "error": o.error} for o in result.outcomes if not o.cancelled],
    }
    if result.unreachable:
        payload["unreachable"] = result.unreachable
    AuditLog(db).record("halt.cancel_open", payload, mode=mode, venue=result.venue.value)


def _brief(o: CancelOutcome) -> dict[str, Any]:
    after = o.after or o.order
    return {"order_id": o.order.venue_order_id, "client_order_id": o.order.client_order_id or None,
            "market": o.order.market_id, "status": after.status.value, "filled_size": after.filled_size}
