"""cancel_open_orders against a scripted venue: several cancels at once, each judged on its own."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

from orion_cli.core import cancel_open
from orion_cli.core.errors import VenueUnavailable
from orion_cli.core.models import Side, Venue
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database
from orion_cli.venues.trading import Action, OrderState, OrderStatus

NOW = datetime.now(UTC)


def _resting(i: int) -> OrderState:
    return OrderState(Venue.KALSHI, f"manual-{i}", f"o-{i}", OrderStatus.OPEN, "KXTEST-26-A", Side.YES, Action.BUY,
                      D(3), D(0), None, D(0), D("0.05"), NOW)


class SlowCancels:
    """Lists ``n`` resting orders; each cancel takes a few loop turns (a round trip), counted while in flight.
    Order ``o-5`` cannot be cancelled (the venue is unreachable for it)."""

    def __init__(self, n: int) -> None:
        self.resting = [_resting(i) for i in range(n)]
        self.running = 0
        self.most = 0

    @property
    def venue(self) -> Venue:
        return Venue.KALSHI

    @property
    def mode(self) -> str:
        return "live"

    async def open_orders(self) -> list[OrderState]:
        return list(self.resting)

    async def cancel(self, venue_order_id: str) -> OrderState | None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            if venue_order_id == "o-5":
                raise VenueUnavailable("kalshi", "connection reset")
            order = next(o for o in self.resting if o.venue_order_id == venue_order_id)
            return replace(order, status=OrderStatus.CANCELLED)
        finally:
            self.running -= 1


def test_resting_orders_are_cancelled_several_at_once_and_one_failure_stops_none(db: Database) -> None:
    venue = SlowCancels(20)
    (result,) = asyncio.run(cancel_open.cancel_open_orders(db, {Venue.KALSHI: venue}, "live"))  # type: ignore[dict-item]
    assert 2 <= venue.most <= cancel_open.CANCEL_CONCURRENCY
    # Reported in the order the venue listed them; every one but o-5 cancelled.
    assert [o.order.venue_order_id for o in result.outcomes] == [f"o-{i}" for i in range(20)]
    assert [o.order.venue_order_id for o in result.outcomes if o.failed] == ["o-5"]
    assert sum(1 for o in result.outcomes if o.cancelled) == 19 and not result.complete
    (event,) = AuditLog(db).tail(5, types=("halt.cancel_open",))
    assert len(event.payload["cancelled"]) == 19 and event.payload["failed"][0]["order_id"] == "o-5"


class OneNeverAnswers(SlowCancels):
    """``o-3``'s cancel never answers (a hung connection); the others do."""

    async def cancel(self, venue_order_id: str) -> OrderState | None:
        if venue_order_id == "o-3":
            await asyncio.Event().wait()
        return await super().cancel(venue_order_id)


def test_a_run_stopped_part_way_still_audits_what_the_venue_answered(db: Database) -> None:
    """Found in review: the audit was written after every cancel answered, so Ctrl-C during a halt's
    cancels left orders cancelled at the venue with no record of it."""
    venue = OneNeverAnswers(6)

    async def stopped() -> None:
        task = asyncio.ensure_future(cancel_open.cancel_open_orders(db, {Venue.KALSHI: venue}, "live"))  # type: ignore[dict-item]
        for _ in range(50):  # every other cancel answered
            await asyncio.sleep(0)
        task.cancel()  # as Ctrl-C does to asyncio.run's task
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(stopped())
    (event,) = AuditLog(db).tail(5, types=("halt.cancel_open",))
    assert [c["order_id"] for c in event.payload["cancelled"]] == ["o-0", "o-1", "o-2", "o-4"]
    assert [f["order_id"] for f in event.payload["failed"]] == ["o-5"]
    assert [n["order_id"] for n in event.payload["not_finished"]] == ["o-3"]


class PartlyFilledThenCancelled(SlowCancels):
    """``o-0`` rests with 1 of 3 filled; the cancel takes the other 2 off, so the venue shows it ``partial``
    (the status both venues give an order done with part of it filled). ``o-1`` filled in full first."""

    def __init__(self) -> None:
        super().__init__(2)
        self.resting[0] = replace(self.resting[0], filled_size=D(1), avg_fill_price=D("0.05"))

    async def cancel(self, venue_order_id: str) -> OrderState | None:
        order = next(o for o in self.resting if o.venue_order_id == venue_order_id)
        if venue_order_id == "o-1":
            return replace(order, status=OrderStatus.FILLED, filled_size=order.size)
        return replace(order, status=OrderStatus.PARTIAL)


def test_a_partly_filled_order_the_cancel_took_off_the_book_counts_as_cancelled(db: Database) -> None:
    """Found by review: it was reported (and audited) as finished before the cancel, so the halt's record
    said the kill switch stopped nothing when it took the rest of the order off the book."""
    (result,) = asyncio.run(cancel_open.cancel_open_orders(db, {Venue.KALSHI: PartlyFilledThenCancelled()},  # type: ignore[dict-item]
                                                           "live"))
    assert [(o.order.venue_order_id, o.cancelled, o.finished_first) for o in result.outcomes] == [
        ("o-0", True, False), ("o-1", False, True)]
    (event,) = AuditLog(db).tail(5, types=("halt.cancel_open",))
    assert [b["order_id"] for b in event.payload["cancelled"]] == ["o-0"]
    assert [b["order_id"] for b in event.payload["finished_first"]] == ["o-1"]


def test_the_ledgers_own_database_failing_in_the_listing_is_a_storage_error_not_the_venue_unreachable(
        db: Database) -> None:
    """Found in review (as in reconcile): the paper venue lists its resting orders from the ledger's
    database, and that failing (busy) was reported as the venue unreachable. Raised as it is: exit 3."""
    from orion_cli.core.errors import StorageError

    busy = StorageError("database is busy: database is locked (sqlite:///l.db)", reason="storage_busy")

    class Busy(SlowCancels):
        async def open_orders(self) -> list[OrderState]:
            raise busy

    try:
        asyncio.run(cancel_open.cancel_open_orders(db, {Venue.KALSHI: Busy(3)}, "live"))  # type: ignore[dict-item]
    except StorageError as exc:
        assert exc is busy
    else:
        raise AssertionError("a busy ledger was taken for the venue unreachable")
