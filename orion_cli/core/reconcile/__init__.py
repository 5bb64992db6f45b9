"""``orion reconcile``: the ledger against each venue's own account, and orders whose outcome is unknown.

Why it runs the way it does (DESIGN §2, §5 point 6, §7):

* **Unknown outcomes first, by persisted ids.** Every ledger order that is not terminal (``intent``,
  ``submitted``, ``unknown``, ``open``) is looked up with ``find_order(client_order_id,
  venue_order_id)`` before anything else is compared. Found: its fills and state are recorded
  through the :class:`~orion_cli.store.ledger.Ledger` (audited ``order.*``, plus
  ``reconcile.resolved``). Provably absent at the venue (the venue answers "no such order"): it is
  marked ``cancelled`` with "never reached the venue", unless a process drives its execution (its
  key lock is held) or the row changed since it was read (both checked in the write). Orders
  younger than ``grace`` are left alone and reported as pending, because an executor may be
  sending them this very moment; so are those, and fills
  within ``grace`` of an order the ledger holds undecided, or does not hold while one of ours in that
  market still awaits its venue id, and the position they explain.
* **Detection reads, one transaction writes.** All venue I/O (fills since the oldest open activity
  or ``lookback``, positions, resting orders, balance) happens first; then one
  :meth:`Database.write` transaction compares, applies ``--fix`` adoptions (each in a savepoint, so
  one impossible adoption cannot lose the others), refreshes the live balance snapshot and appends
  ``reconcile.clean`` / ``reconcile.drift`` — the summary and the fixes it reports commit together.
* **Never silently.** A drift is reported whether or not it is fixed; ``--fix`` adopts the venue's
  truth through ordinary ledger orders and fills (an ``ext-…`` order for a fill or resting order
  orion never placed, a ``reconcile-adj-…`` fill for a position difference no fill explains),
  each with its ``reconcile.fixed`` event. Nothing is ever sent to a venue, and an order the ledger
  holds ended is never reopened: one the venue still lists resting is reported only. A fill recorded for a leg
  of an execution that has ended (resolved in step (1) or adopted) is recorded in that execution's
  result too, and legs it leaves unequal are an ``execution`` drift. A fill resolved in step (1)
  is judged only when none of the execution's orders is undecided in the ledger (the other leg's
  fills may come later in the run); left "not judged", it is judged once every venue is compared,
  by the first run in which none of them is undecided any more (fill or no fill), and reported once.
* **One venue down is not every venue down.** A venue that cannot be reached is ``unavailable``
  (audited ``reconcile.unavailable``) and the others are still reconciled. So is one that refuses
  this host's location (Polymarket's geoblock or firewall, :class:`Geoblocked`), with ``refusal``
  ``GEOBLOCKED``: what it could not read is neither clean nor drift.
* **Kalshi nets.** Holding YES and NO of one Kalshi market nets out at the venue, and so does the
  ledger when it records the buy that makes the pairs (``position.netted``); a ledger from before
  that still holds both sides of a market, so for netting venues positions are compared as net
  YES − NO per market.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from orion_cli.core.alert_sink import AlertSink
from orion_cli.core.config import Settings
from orion_cli.core.errors import DataError, OrionError
from orion_cli.core.models import Side, Venue
from orion_cli.core.reconcile.context import CategoryLookup, RunContext, Unreachable
from orion_cli.core.reconcile.executions import (
    INTERRUPTED_FIX,
    EndedUnhedged,
    Unhedged,
    report_ended_unhedged,
    report_stuck_executions,
    resume_sells_back,
    unhedged_ended_executions,
    unhedged_executions,
)
from orion_cli.core.reconcile.late_fills import judge_deferred_late_fills
from orion_cli.core.reconcile.results import (
    DEFAULT_GRACE,
    DEFAULT_LOOKBACK,
    OPEN_STATUSES,
    ORDER_UNDECIDED_FIX,
    Drift,
    Resolved,
    VenueReconcile,
)
from orion_cli.core.reconcile.rows import order_rows, teach, teach_fees
from orion_cli.core.reconcile.venue import reconcile_venue, record_unreachable
from orion_cli.store.audit import default_actor
from orion_cli.store.db import Database
from orion_cli.store.ledger import Ledger
from orion_cli.store.tables import executions, orders
from orion_cli.venues.trading import TradingVenue

log = logging.getLogger(__name__)

# The public names, importable from the package wherever their module is.
__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_LOOKBACK",
    "INTERRUPTED_FIX",
    "OPEN_STATUSES",
    "ORDER_UNDECIDED_FIX",
    "CategoryLookup",
    "Drift",
    "EndedUnhedged",
    "Resolved",
    "Unhedged",
    "VenueReconcile",
    "order_rows",
    "reconcile",
    "reconcile_async",
    "resume_sells_back",
    "teach",
    "teach_fees",
    "unhedged_ended_executions",
    "unhedged_executions",
]


def reconcile(
    db: Database,
    ledger: Ledger,
    venues: Mapping[Venue, TradingVenue],
    settings: Settings,
    *,
    mode: str,
    fix: bool,
    alerts: AlertSink,
    now: datetime | None = None,
    halt_on_drift: bool = False,
    lookback: timedelta = DEFAULT_LOOKBACK,
    grace: timedelta = DEFAULT_GRACE,
    marks: Mapping[tuple[Venue, str, Side], Decimal] | None = None,
    actor: Mapping[str, Any] | None = None,
    source_flags: str = "",
    clock: Callable[[], datetime] | None = None,
    category_lookup: CategoryLookup | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[VenueReconcile]:
    """Synchronous wrapper of :func:`reconcile_async` (runs its own event loop)."""
    return asyncio.run(reconcile_async(db, ledger, venues, settings, mode=mode, fix=fix, alerts=alerts, now=now,
                                       halt_on_drift=halt_on_drift, lookback=lookback, grace=grace, marks=marks,
                                       actor=actor, source_flags=source_flags, clock=clock,
                                       category_lookup=category_lookup, warn=warn))


async def reconcile_async(
    db: Database,
    ledger: Ledger,
    venues: Mapping[Venue, TradingVenue],
    settings: Settings,
    *,
    mode: str,
    fix: bool,
    alerts: AlertSink,
    now: datetime | None = None,
    halt_on_drift: bool = False,
    lookback: timedelta = DEFAULT_LOOKBACK,
    grace: timedelta = DEFAULT_GRACE,
    marks: Mapping[tuple[Venue, str, Side], Decimal] | None = None,
    actor: Mapping[str, Any] | None = None,
    source_flags: str = "",
    warn: Callable[[str], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    category_lookup: CategoryLookup | None = None,
) -> list[VenueReconcile]:
    """Reconcile every venue in ``venues`` (in order) against the ``mode`` ledger; see the module doc.

    ``warn``: how a loss-breaker warning this run raises is said (without one, it is audited and
    alerted only): it is said once a day, so a cron run that raises it first must say it.

    ``now``: when the run begins (default: ``clock()``). ``clock``: the time as it runs (default: the
    real time; with a ``now`` given and no ``clock``, that fixed ``now``), which dates the fills it
    records (:func:`_apply_found`, :func:`missing_fills`).

    ``category_lookup``: how ``--fix`` reads the category of a market the ledger holds none for, which what
    it adopts there is recorded under (:mod:`.categories`); without one, that is uncategorised."""
    if ledger.mode != mode:
        raise DataError("mode", f"the ledger is {ledger.mode!r} but reconcile was asked for {mode!r}")
    start = now if now is not None else (clock or _real_time)()
    if clock is None:
        clock = _real_time if now is None else (lambda: start)
    ctx = RunContext(db=db, ledger=ledger, settings=settings, mode=mode, fix=fix, alerts=alerts,
                     now=start, clock=clock, halt_on_drift=halt_on_drift, lookback=lookback, grace=grace,
                     marks=dict(marks or {}), actor=dict(actor) if actor is not None else default_actor("reconcile"),
                     source_flags=source_flags, warn=warn, category_lookup=category_lookup)
    _refuse_unknown_states(db)
    results: list[VenueReconcile] = []
    for venue, tv in venues.items():
        result = VenueReconcile(venue=venue, mode=mode)
        try:
            await reconcile_venue(ctx, venue, tv, result)
        except Unreachable as exc:
            record_unreachable(ctx, venue, result, exc)
        results.append(result)
    judge_deferred_late_fills(ctx, results)
    report_stuck_executions(ctx, results)
    report_ended_unhedged(ctx, results)
    _update_breaker(ctx, results)
    return results


def _real_time() -> datetime:
    return datetime.now(UTC)


def _refuse_unknown_states(db: Database) -> None:
    """A damaged ledger (exit 3, ``storage_corrupt``, naming the row) when an execution or an order is in a
    state no orion writes, of any mode.

    Why: reconcile reads only the states it acts on, so an execution whose status was altered into
    something else (``weird``) was read by nothing and the run said "clean: the ledger and the venues
    agree" of a ledger holding an execution in no known state. Reading the status of such a row is what
    raises the error (the column's type, ``store/tables.py``); both reads are answered by an index."""
    from orion_cli.store.tables import EXEC_STATUSES, ORDER_STATUSES

    with db.read() as conn:
        conn.execute(select(executions.c.key, executions.c.status)
                     .where(executions.c.status.not_in(sorted(EXEC_STATUSES))).limit(1)).first()
        conn.execute(select(orders.c.client_order_id, orders.c.status)
                     .where(orders.c.status.not_in(sorted(ORDER_STATUSES))).limit(1)).first()


def _update_breaker(ctx: RunContext, results: Sequence[VenueReconcile]) -> None:
    """Hand the ledger's figures, as a clean run leaves them, to the loss breaker: it warns and trips here.

    A loss recorded outside a trade (a withdrawal Polymarket lists no transfer for, a fill adopted, a
    settlement) otherwise made the BREAKER check refuse every trade while nothing tripped: no halt, no
    alert, `orion_halted` 0 on the cron run that recorded it. Only when every venue reads clean, with
    nothing pending: a venue's cash is recorded even while fills it paid for are too young to judge or
    are drift not adopted, and those contracts' cost would read as a loss that halts trading (mid-trade,
    an unwind). Such a run leaves the breaker to the next clean one and to the pre-trade check. Its
    failing never costs the run's results: the check before the next trade recomputes it.

    An ``execution`` drift alone does not stop it: it says what the ledger holds (a leg unhedged), and the
    ledger agrees with the venues. Found in review: an ended execution's drift lasts until the leg is
    closed by hand or settles, and for all that time, when a loss is likeliest, cron never tripped.
    """
    # ``reason``: the venue was not read in full (``unavailable``, kept when drift was found beside it).
    if any(r.pending or r.reason or any(d.kind != "execution" for d in r.drifts) for r in results):
        return
    from orion_cli.risk.breaker import Breaker

    try:
        status = Breaker(ctx.db, ctx.settings, mode=ctx.mode, ledger=ctx.ledger,
                         alerts=ctx.alerts).update(ctx.marks or None)
    except (OrionError, DBAPIError) as exc:
        log.warning("reconcile: the loss breaker could not be updated (%s)", type(exc).__name__)
        return
    if ctx.warn is not None:
        for _kind, message in status.warning_messages:
            ctx.warn(f"{message}; at the limit it trips and halts trading")
