"""``orion halt --cancel-open``: after the kill switch is engaged, cancel every resting order.

The halt stops orion sending; it does not stop an order already resting at a venue from filling.
Orion's own orders are fill-or-kill / immediate-or-cancel and rest only in a failure (an outcome not
yet known), so what rests is mostly what else the account placed: a kill switch cancels it all,
which is why this is asked for explicitly.

The venues are worked on at once; on each, every resting order is cancelled on its own (a few at a
time, paced by the venue client's rate limits), so one that cannot be cancelled does not stop the
others. A cancel counts only when the venue's answer shows the order cancelled (or partial: the rest of a
partly filled order taken off the book); one that filled
first is reported as such, and one still open (or not found) after the cancel is a failure. Every
venue's outcome is audited as ``halt.cancel_open``, also when the run is stopped part way (Ctrl-C,
SIGTERM): the cancels the venue already answered are recorded, and the orders still waiting for an
answer are named as ``not_finished``. Orion's own orders (found in the ledger) are
named as such; a live one's final state and fills are then recorded by ``orion reconcile``, which
looks them up by their ids (a paper venue's cancel is its ledger's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orion_cli.core.aio import gather_limited
from orion_cli.core.errors import AuthError, OrionError, StorageError
from orion_cli.core.models import Venue
from orion_cli.core.reconcile import OPEN_STATUSES, order_rows, teach
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.trading import OrderState, OrderStatus, TradingVenue

# Cancels in flight at once on one venue.
CANCEL_CONCURRENCY = 8


@dataclass
class CancelOutcome:
    """One resting order and what became of it."""

    venue: Venue
    order: OrderState  # as the venue listed it
    orion: bool = False  # one of orion's own orders (in the ledger)
    after: OrderState | None = None  # as the venue showed it after the cancel
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)

    @property
    def cancelled(self) -> bool:
        """Taken off the book by the cancel: ``cancelled``, or ``partial`` (both venues' status for an
        order done with part of it filled: the cancel took the rest)."""
        return not self.error and self.after is not None and \
            self.after.status in (OrderStatus.CANCELLED, OrderStatus.PARTIAL)

    @property
    def finished_first(self) -> bool:
        """Filled (or otherwise ended) before the cancel reached it: not a failure."""
        return not self.cancelled and not self.failed

    @property
    def final_state(self) -> OrderState:
        return self.after or self.order

    def to_record(self) -> dict[str, Any]:
        after = self.final_state
        return {
            "type": "cancel",
            "venue": self.venue.value,
            "order_id": self.order.venue_order_id,
            "client_order_id": self.order.client_order_id or None,
            "orion": self.orion,
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
    rejected: bool = False  # ... because the venue refused our credentials: a key to fix, not an outage
    not_finished: list[OrderState] = field(default_factory=list)  # stopped before the venue answered

    @property
    def complete(self) -> bool:
        return not self.unreachable and not self.not_finished and not any(o.failed for o in self.outcomes)


async def cancel_open_orders(db: Database, venues: Mapping[Venue, TradingVenue], mode: str) -> list[VenueCancels]:
    """Cancel every order each venue lists as resting (the venues at once); audit each venue's outcome."""
    ledger = Ledger(db, mode)
    return list(await asyncio.gather(*(_cancel_venue(db, ledger, venue, tv, mode) for venue, tv in venues.items())))


async def _cancel_venue(db: Database, ledger: Ledger, venue: Venue, tv: TradingVenue, mode: str) -> VenueCancels:
    result = VenueCancels(venue)
    with db.read() as conn:  # a restarted process must be told what its own open orders meant
        teach(tv, order_rows(conn, mode, venue, statuses=OPEN_STATUSES))
    try:
        resting = await tv.open_orders()
    except StorageError:
        raise  # the ledger's own database (the paper venue's book): exit 3, not the venue unreachable
    except OrionError as exc:
        result.unreachable = exc.message
        result.rejected = isinstance(exc, AuthError)
        resting = []

    answered: dict[int, CancelOutcome] = {}  # by listing position, kept as each answer comes

    async def cancel(item: tuple[int, OrderState]) -> None:
        answered[item[0]] = await cancel_one(item[1])

    async def cancel_one(order: OrderState) -> CancelOutcome:
        own = ledger.find_order(venue, client_order_id=order.client_order_id, venue_order_id=order.venue_order_id)
        outcome = CancelOutcome(venue, order, orion=own is not None)
        try:
            outcome.after = await tv.cancel(order.venue_order_id)
        except OrionError as exc:
            outcome.error = exc.message
        else:
            if outcome.after is None:
                outcome.error = "not found at the venue after the cancel: look it up before trusting it is gone"
            elif not outcome.after.status.terminal:
                outcome.error = f"the venue still shows it {outcome.after.status.value} after the cancel"
        return outcome

    # Several at once: a halt is when waiting on each cancel in turn costs the most.
    try:
        await gather_limited(cancel, list(enumerate(resting)), limit=CANCEL_CONCURRENCY)
    finally:  # stopped part way too: what the venue already answered is in the audit log
        result.outcomes = [answered[i] for i in sorted(answered)]
        result.not_finished = [o for i, o in enumerate(resting) if i not in answered]
        _audit(db, mode, result)
    return result


def _audit(db: Database, mode: str, result: VenueCancels) -> None:
    payload: dict[str, Any] = {
        "venue": result.venue.value,
        "mode": mode,
        "cancelled": [_brief(o) for o in result.outcomes if o.cancelled],
        "finished_first": [_brief(o) for o in result.outcomes if o.finished_first],
        "failed": [{**_brief(o), "error": o.error} for o in result.outcomes if o.failed],
    }
    if result.unreachable:
        payload["unreachable"] = result.unreachable
    if result.not_finished:
        payload["not_finished"] = [{"order_id": o.venue_order_id, "client_order_id": o.client_order_id or None,
                                    "market": o.market_id} for o in result.not_finished]
    AuditLog(db).record("halt.cancel_open", payload, mode=mode, venue=result.venue.value)


def _brief(o: CancelOutcome) -> dict[str, Any]:
    after = o.final_state
    return {"order_id": o.order.venue_order_id, "client_order_id": o.order.client_order_id or None,
            "orion": o.orion, "market": o.order.market_id, "status": after.status.value,
            "filled_size": after.filled_size}
