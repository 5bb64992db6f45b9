"""The plan a trade would send and its preview: fresh books, balances, and every check run and rolled back.

A preview runs the very checks ``--confirm`` runs, inside a transaction it rolls back, so what it says
is what an execution would meet, and it writes nothing (paper accounts opened for it included).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orion_cli.cli.commands.trade.data import ReplaySource, current_time, fresh_books
from orion_cli.cli.commands.trade.sizing import refuse_size_below_step, size_within_limits
from orion_cli.cli.commands.trade.venues import VenueSet
from orion_cli.cli.context import AppContext

if TYPE_CHECKING:
    from orion_cli.core.config import Settings
    from orion_cli.core.models import Venue
    from orion_cli.core.opportunity import Opportunity
    from orion_cli.execution.plan import TradePlan, Verdict
    from orion_cli.risk.breaker import Breaker
    from orion_cli.risk.checks import PipelineContext
    from orion_cli.venues.base import MarketSource
    from orion_cli.venues.trading import Balance


def pipeline_context(settings: Settings, mode: str, authorized: bool, authorization: str,
                     balances: Mapping[Venue, Balance | None], breaker: Breaker | None = None, *,
                     preview: bool = False, source: MarketSource | None = None,
                     watch: bool = False) -> PipelineContext:
    """``watch``: for `trade --watch`, whose plans must earn trading.min_profit (EDGE_GONE)."""
    from orion_cli.risk.checks import PipelineContext as Ctx

    recorded_at = source.recorded_at if isinstance(source, ReplaySource) else None
    return Ctx(settings=settings, mode=mode, authorized=authorized, authorization=authorization,
               balances=dict(balances), now=current_time(), breaker=breaker, preview=preview, clock=current_time,
               recorded_at=recorded_at, min_profit=settings.trading.min_profit if watch else None)


class _Rollback(Exception):
    """Raised inside the preview transaction so that nothing the checks touched is committed."""


def preview_verdict(app: AppContext, plan: TradePlan, ctx: PipelineContext) -> Verdict:
    """Every check's verdict, evaluated in a write transaction that is always rolled back."""
    from orion_cli.risk.checks import evaluate

    box: list[Verdict] = []
    try:
        with app.db().write() as conn:
            if ctx.mode == "paper":
                _open_paper_accounts(app, plan, ctx, conn)
            box.append(evaluate(conn, plan, ctx))
            raise _Rollback
    except _Rollback:
        pass
    return box[0]


def _open_paper_accounts(app: AppContext, plan: TradePlan, ctx: PipelineContext, conn: Any) -> None:
    """A paper account a leg trades on that the ledger holds no balance of yet gets its starting cash
    in the preview's transaction (rolled back with it), as ``--confirm`` opens it before its checks:
    so BREAKER judges the equity and peak ``--confirm`` will (on a fresh ledger it said "peak 0.00"
    where ``--confirm`` judged 2000.00)."""
    from orion_cli.store.ledger import Ledger

    # The breaker's trading day, as PaperVenue's ledger books it: counted from midnight UTC, the new
    # account's cash went to another day than the one BREAKER reads, a gain hiding the day's loss.
    ledger = Ledger(app.db(), "paper", reset_hour_utc=ctx.settings.breaker.reset_hour_utc)
    p = ctx.settings.paper
    for venue in dict.fromkeys(leg.venue for leg in plan.legs):
        start = p.kalshi_balance if venue.value == "kalshi" else p.polymarket_balance
        ledger.ensure_balance(venue, start, conn=conn, now=ctx.now)


async def plan_and_balances(app: AppContext, venues: VenueSet, source: MarketSource, op: Opportunity,
                            size: Decimal | None, key: str, *, write: bool, quiet: bool = False,
                            size_given: bool = False) -> tuple[TradePlan, dict[Venue, Balance | None]]:
    """Fresh books, the plan on them and the venues' balances. ``quiet``: without saying a size cut
    (the watch's recheck of a remembered refusal, said once, not every round). ``size_given``: ``size``
    is the operator's --size, refused (exit 2) when it is below one step of the legs' size grid.
    ``size`` None: the default size (:func:`size_within_limits`) on the fresh markets' size steps; when
    not even the legs' smallest size fits the limits, the scanned size, which the checks then refuse."""
    from orion_cli.execution.executor import build_plan
    from orion_cli.store.tables import plain

    fresh = await fresh_books(source, op)
    if size is None:
        limited = size_within_limits(op, app.settings(), lambda: [m for m, _ in fresh.values()])
        size = op.size if limited.size is None else limited.size
        if limited.size is None:
            app.out.info(f"{limited.unfit_note(op.id)}; planning the scanned size {plain(size)} for the checks")
        elif limited.binding is not None and not quiet:
            app.out.info(limited.cut_note())
    if size is not None and size_given:
        refuse_size_below_step(size, [market for market, _ in fresh.values()])
    plan = build_plan(op, fresh, size=size, key=key, settings=app.settings(), now=current_time())
    if size is not None and plan.size < size and not quiet:  # said, not left to be noticed in the plan
        from orion_cli.core.money import floor_to
        from orion_cli.core.pricing import size_grid

        grid = size_grid([leg.market.size_step for leg in plan.legs])
        why = (f"the legs trade in steps of {plain(grid)}" if floor_to(size, grid) == plan.size
               else f"the thinnest leg's fresh asks allow {plain(plan.size)}")
        app.out.info(f"size {plain(size)} wanted; {why}: planning {plain(plan.size)}")
    balances = await venues.balances(write=write)
    return plan, balances
