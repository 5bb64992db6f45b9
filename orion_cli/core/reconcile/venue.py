"""One venue's comparison, from its reads to its verdict: clean, drift, or unavailable and why.

A venue that cannot be read is reported unavailable with the reason its exit code follows (our
credentials 4, this host's location 6, an outage 5), and the other venues are compared all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from orion_cli.core.aio import all_of
from orion_cli.core.models import Venue
from orion_cli.core.reconcile.categories import learn_categories, record_categories
from orion_cli.core.reconcile.context import RunContext, Unreachable, halt_for_drift, parse_ts, venue_call
from orion_cli.core.reconcile.holdings import compare_positions, read_settlements, read_transfers, record_settlements
from orion_cli.core.reconcile.orders import missing_fills, resolve_order, unknown_open_orders
from orion_cli.core.reconcile.results import (
    MAX_AUDITED_DRIFTS,
    OPEN_STATUSES,
    ORDER_UNDECIDED_FIX,
    Drift,
    VenueReconcile,
)
from orion_cli.core.reconcile.rows import order_rows, teach, teach_fees
from orion_cli.venues.trading import Balance, Position, Settlement, TradingVenue


async def reconcile_venue(ctx: RunContext, venue: Venue, tv: TradingVenue, result: VenueReconcile) -> None:
    """Compare ``venue`` (:func:`_compare_venue`), then alert its drift. An outage is the caller's
    (:func:`record_unreachable`); any other error, a stop (Ctrl-C, SIGTERM: KeyboardInterrupt) or a
    cancellation is raised again once the drift found before it is reported (:func:`_failed`)."""
    try:
        halted_alert = await _compare_venue(ctx, venue, tv, result)
    except Unreachable:
        raise
    except (Exception, KeyboardInterrupt, asyncio.CancelledError) as exc:
        _failed(ctx, venue, result, exc)
        raise
    _alert_venue_drift(ctx, venue, result, halted_alert)
    if tv.mode == "live" and result.balance is not None:
        # Alerted on the run that sees the balance fall below the threshold, not on every cron run after.
        from orion_cli.core.alerts import LowBalanceWatch

        LowBalanceWatch(ctx.settings, ctx.alerts, ctx.db, ctx.mode).check([result.balance])


async def _compare_venue(ctx: RunContext, venue: Venue, tv: TradingVenue,
                         result: VenueReconcile) -> tuple[str, str, dict[str, Any]] | None:
    """Steps (1)-(5) for ``venue`` and its summary (``reconcile.clean`` / ``reconcile.drift``); the halt
    alert to send after its drift alert, if any."""
    with ctx.db.read() as conn:
        open_rows = order_rows(conn, ctx.mode, venue, statuses=OPEN_STATUSES)
    since = ctx.now - ctx.lookback
    for row in open_rows:
        since = min(since, parse_ts(row.created_at))
    with ctx.db.read() as conn:
        recent = order_rows(conn, ctx.mode, venue, since=since - timedelta(days=1))
        teach(tv, recent)
        teach_fees(conn, tv, venue, [*recent, *open_rows])
    teach(tv, open_rows)

    # (1) orders whose outcome is not final, by their persisted ids
    for row in open_rows:
        await resolve_order(ctx, venue, tv, row, result)

    # venue reads for (2)-(5), before the one write transaction
    venue_fills = await venue_call(tv.fills(since=since))
    # When orion learned them: a fill adopted below is recorded at this time, so a report read after
    # it (this run's own, read next) holds it whatever the clocks say, and one read before it (another
    # process's, since the run began) is judged by the fill's date (Ledger.report_holds). Not the
    # time of the write: this run's own report, read between the two, would then judge the fills it
    # holds by their date, and count one a venue clock ahead of this host's dates after it twice.
    fills_read = ctx.clock()
    venue_positions = await venue_call(tv.positions())
    venue_open = await venue_call(tv.open_orders())
    balance = await venue_call(tv.balance())
    # What --fix may adopt in markets the ledger holds no category for: their categories, read before the write.
    await learn_categories(ctx, venue, {*(p.market_id for p in venue_positions), *(o.market_id for o in venue_open),
                                        *(f.market_id for f in venue_fills)})
    # After the balance: a market settled (or a transfer finalized) in between is then paid after
    # that report, and counted.
    (venue_settlements, unchecked, unsettled), (moved, unmoved) = await all_of(
        read_settlements(ctx, venue, tv, result), read_transfers(venue, tv, result))
    unread = "; ".join(why for why in (unsettled, unmoved) if why)  # no answer: the venue is unavailable
    # Without its transfers the report is not recorded (a deposit in it would count as profit); nor
    # beside a held market not checked for settlement (its payout, in the report, would count twice);
    # nor beside positions or fills that disagree with the ledger, not fixed (:func:`_settle_and_compare`).
    report = balance if tv.mode == "live" and moved is not None and not unchecked else None
    if tv.mode == "live" and report is None:
        result.report_withheld = WITHHELD_TRANSFERS if moved is None else WITHHELD_UNCHECKED
    result.balance = balance
    result.counts.update(orders_checked=len(open_rows), fills_checked=len(venue_fills),
                         positions_venue=len(venue_positions), open_orders_venue=len(venue_open))

    halted_alert: tuple[str, str, dict[str, Any]] | None = None  # sent after the drift alert it follows
    with _dropped_if_rolled_back(result), ctx.db.write() as conn:
        unknown_open_orders(ctx, conn, venue, venue_open, result)
        waiting = missing_fills(ctx, conn, venue, venue_fills, result, learned=fills_read)
        # Each settlement's cash is judged against the report read above, which then replaces the
        # ledger's figure (after any --fix adjustment, whose cash that report already holds), plus
        # the payouts and fills recorded that it cannot hold (Ledger.record_balance adds them).
        from orion_cli.core.settlement import held_reports

        held = tv.mode == "live" and bool(held_reports(conn, ctx.mode, [venue]))
        unreconciled, withhold = _settle_and_compare(ctx, conn, venue, venue_settlements, venue_positions, result,
                                                     report=report, unchecked=unchecked, waiting=waiting)
        record_categories(ctx, conn, venue)
        unreconciled = unreconciled if tv.mode == "live" else []  # a paper ledger is its own venue: no report
        withhold = withhold and tv.mode == "live"
        if withhold:
            report = None
            why = WITHHELD_UNRECONCILED if unreconciled else WITHHELD_STILL_HELD if held else WITHHELD_PENDING
            result.report_withheld = "; ".join(x for x in (result.report_withheld, why) if x)
        if report is not None:
            result.transfers = ctx.ledger.record_transfers(moved or [], balance, conn=conn, now=ctx.now)
            ctx.ledger.record_balance(balance, conn=conn, now=ctx.now)
        if tv.mode == "live":
            from orion_cli.core.settlement import hold_report, release_report

            if unreconciled:  # `orion balance` and a live trade do not record its reports either
                kinds = " and ".join(sorted({d.kind for d in unreconciled}))
                hold_report(conn, ctx.mode, venue, f"{len(unreconciled)} {kinds} drift(s) not fixed", now=ctx.now)
            elif not withhold:  # a run that left something pending did not find the ledger agreeing: kept
                release_report(conn, ctx.mode, venue)
            # Said, audited and in the exit code: a run that left the venue held read as clean (exit 0) while
            # every live leg there was refused (found reviewing a day of unattended operation).
            result.trading_refused = held_reports(conn, ctx.mode, [venue]).get(venue, "")
        if not _in_doubt(result) and not unreconciled:
            # What this venue recorded may raise equity (a settlement, a report, an adopted position)
            # in a run whose breaker update is skipped (drift, another venue pending): its peak is
            # recorded now, or a later loss is measured from the old one. Not while a trade is still
            # recording this venue's fills (pending): a sell the venue filled and the ledger has not
            # recorded yet is its cash reported beside contracts still held at cost, a peak never had;
            # that trade's own breaker update records the peak once its fills are in. Nor while its
            # positions or fills disagree with the ledger, not fixed (a sale made by hand): the same
            # hazard, which lasts until they are adopted; a figure recorded beside it earlier (by a
            # `balance` run before this one saw it) is not made a peak here.
            from orion_cli.risk.breaker import record_peak

            record_peak(conn, ctx.ledger, now=ctx.now, actor=ctx.actor)
        result.status = "drift" if result.drifts else "unavailable" if unread else "clean"
        result.reason = unread or ""
        result.counts.update(resolved=len(result.resolved), settled=len(result.settled),
                             transfers=len(result.transfers), drifts=len(result.drifts), fixed=result.fixed,
                             pending=len(result.pending))
        payload = {
            "venue": venue.value,
            "mode": ctx.mode,
            "status": result.status,
            "reason": result.reason or None,
            "refusal": result.refusal,
            "counts": dict(result.counts),
            "drifts": [d.to_record() for d in result.drifts[:MAX_AUDITED_DRIFTS]],
            "drifts_not_listed": max(0, len(result.drifts) - MAX_AUDITED_DRIFTS),
            "resolved": [r.to_record() for r in result.resolved],
            "settled": [{"market": x.settlement.market_id, "payout": x.payout, "realized_pnl": x.realized_pnl}
                        for x in result.settled],
            "pending": result.pending,
            "report_withheld": result.report_withheld or None,
            "live_trading_refused": result.trading_refused or None,
            "fix": ctx.fix,
        }
        ctx.audit(conn, f"reconcile.{result.status}", payload, venue=venue)
        halted_alert = _halt_for_venue_drift(ctx, conn, venue, result)
    return halted_alert


WITHHELD_TRANSFERS = "its deposits and withdrawals could not be read (a deposit in it would count as profit)"
WITHHELD_UNCHECKED = "a held market was not checked for settlement (its payout in it would count twice)"
WITHHELD_UNRECONCILED = (
    "positions or fills disagree with the ledger and were not fixed: beside contracts the ledger holds at cost "
    "(or lacks), its cash would count a trade made outside orion twice or not at all (a peak never had, a loss "
    "hidden); nor is the peak raised. Neither `orion balance` nor a live trade records its reports until a "
    "reconcile finds none or --fix adopts them")
WITHHELD_PENDING = (
    "this run left some of its positions, fills or orders pending (an order not final yet, a change within the "
    "grace period), so it cannot say they agree: beside them its cash may hold a trade the ledger does not (a "
    "fill the venue took back, a sale by hand), equity the account never had; recorded by a run that finds "
    "them agreeing")
WITHHELD_STILL_HELD = (
    "an earlier reconcile found positions or fills disagreeing with the ledger, and this run left some of them "
    "pending (not compared), so it cannot say they agree now: still held")
# Drift that leaves the venue's cash beside holdings the ledger does not have: its report is not recorded.
HOLDINGS_KINDS = frozenset({"fill", "position"})


def _settle_and_compare(ctx: RunContext, conn: Connection, venue: Venue, found: Sequence[Settlement],
                        venue_positions: Sequence[Position], result: VenueReconcile, *, report: Balance | None,
                        unchecked: set[str], waiting: Mapping[str, Decimal]) -> tuple[list[Drift], bool]:
    """Settle what the venue settled (:func:`record_settlements`), then compare positions
    (:func:`compare_positions`); the ``fill`` and ``position`` drift left unfixed, and whether ``report``
    must not be recorded: beside that drift, or while anything is left pending (a position difference
    deferred as an order in flight is no agreement: for a venue an earlier run held, releasing the hold
    then recorded the very figure it was for; for any venue, a fill the venue took back, or a sale by
    hand within the grace, left its refund beside the contracts still held at cost, a peak never had).

    Why: a sale made outside orion (the README's "close them by hand, then `reconcile --fix`") is in
    the venue's cash while the ledger still holds the contracts at cost until it is adopted. Recorded
    by a run without ``--fix``, that cash counted twice: equity and the day's P&L up by the sale's
    proceeds (a $60 loss read as a $40 gain, the BREAKER check passing), a peak the account never had,
    and once adopted a drawdown from it that tripped the breaker. A run that finds the ledger agreeing
    (or ``--fix`` adopting it all) records the report.

    Settlements come first (a market the venue settled is no position to compare), each judged against
    ``report``; when the report is then not recorded, one judged as held by it would not reach the
    ledger's cash, so both steps are done again, in a savepoint, judged by the stored figure.
    """
    kept = len(result.drifts), len(result.settled), len(result.pending)
    with conn.begin_nested() as savepoint:
        record_settlements(ctx, conn, venue, found, result, report=report)
        compare_positions(ctx, conn, venue, venue_positions, result, unchecked=unchecked, waiting=waiting)
        unreconciled = _unreconciled(result)
        withhold = bool(unreconciled) or _in_doubt(result)
        if report is None or not withhold or all(s.cash_moved for s in result.settled[kept[1]:]):
            return unreconciled, withhold
        savepoint.rollback()
    del result.drifts[kept[0]:], result.settled[kept[1]:], result.pending[kept[2]:]
    record_settlements(ctx, conn, venue, found, result, report=None)
    compare_positions(ctx, conn, venue, venue_positions, result, unchecked=unchecked, waiting=waiting)
    unreconciled = _unreconciled(result)
    return unreconciled, bool(unreconciled) or _in_doubt(result)


def _in_doubt(result: VenueReconcile) -> bool:
    """Whether ``result`` left something undecided: pending, or an order the venue has not decided that
    no process drives (drift, but as much in flight as a pending one: its fills may yet come)."""
    return bool(result.pending) or any(d.fix == ORDER_UNDECIDED_FIX for d in result.drifts)


def _unreconciled(result: VenueReconcile) -> list[Drift]:
    """``result``'s ``fill`` and ``position`` drift not fixed in this run."""
    return [d for d in result.drifts if d.kind in HOLDINGS_KINDS and not d.fixed]


@contextmanager
def _dropped_if_rolled_back(result: VenueReconcile) -> Iterator[None]:
    """Around the comparison's write transaction: if it fails (rolled back), the drift it added to
    ``result`` is dropped. Its fixes were not made ("adopted" would be false), and the next run finds all
    of it again; the drift found before it stands, and :func:`_failed` reports that."""
    kept = len(result.drifts)
    try:
        yield
    except BaseException:
        del result.drifts[kept:]
        raise


def _halt_for_venue_drift(ctx: RunContext, conn: Connection, venue: Venue,
                          result: VenueReconcile) -> tuple[str, str, dict[str, Any]] | None:
    """With ``--halt-on-drift`` and drift on ``venue``, halt in the caller's transaction (see
    :func:`halt_for_drift`); the halt alert to send after the drift alert, if any."""
    if not result.drifts or not ctx.halt_on_drift:
        return None
    return halt_for_drift(ctx, conn, f"reconcile found {len(result.drifts)} drift(s) on {venue.value} "
                          "(--halt-on-drift)", {"venue": venue.value})


def _alert_venue_drift(ctx: RunContext, venue: Venue, result: VenueReconcile,
                       halted_alert: tuple[str, str, dict[str, Any]] | None, *, note: str = "") -> None:
    """Alert ``venue``'s drift (once its transaction is over), then the halt it caused."""
    if result.drifts or result.trading_refused:
        unfixed = len(result.drifts) - result.fixed
        ctx.alerts.emit(
            "reconcile.drift",
            f"{venue.value} ({ctx.mode}): {len(result.drifts)} drift(s) between the ledger and the venue"
            + (f", {result.fixed} adopted with --fix" if result.fixed else "")
            + (f", {unfixed} left" if unfixed and ctx.fix else "")
            + note
            # the operator's one sign that trading there has stopped (a run may find nothing new and still hold it)
            + (f"; live trades there are refused until --fix adopts them ({result.trading_refused})"
               if result.trading_refused else ""),
            {"venue": venue.value, "mode": ctx.mode, "counts": dict(result.counts),
             "drifts": [d.to_record() for d in result.drifts[:20]],
             "live_trading_refused": result.trading_refused or None},
        )
    if halted_alert is not None:
        ctx.alerts.emit(*halted_alert)


def record_unreachable(ctx: RunContext, venue: Venue, result: VenueReconcile, exc: Unreachable) -> None:
    """Record that ``venue`` could not be reached in this run (audited ``reconcile.unavailable``),
    keeping what its pass found before that.

    Why the drift too: step (1) may already have found some (a late fill leaving an ended execution's
    legs unequal, an order it could not settle) and recorded the fills behind it, so no later run
    finds it again: this is its only report. It is reported as the venue's summary would have: the
    status ``drift`` (the reason stays, as for an interrupted execution on an unreachable venue), its
    count, the alert and the ``--halt-on-drift`` halt. Without it the run still exited 7 (the drift
    was listed) and the command printed HALTED, with no alert and the kill switch off.
    """
    result.status = "drift" if result.drifts else "unavailable"
    result.reason = exc.reason
    result.rejected, result.geoblocked, result.hint = exc.rejected, exc.geoblocked, exc.hint
    if result.drifts:
        result.counts["drifts"] = len(result.drifts)
    with ctx.db.write() as conn:
        if ctx.mode == "live":
            # Held by an earlier run's drift, the venue's live legs are still refused: said and in the exit code
            # (7), as a run that compared it says it (found in review: exit 5, the gauge 0, read as an outage).
            from orion_cli.core.settlement import held_reports

            result.trading_refused = held_reports(conn, ctx.mode, [venue]).get(venue, "")
        ctx.audit(conn, "reconcile.unavailable", {
            "venue": venue.value, "mode": ctx.mode, "status": result.status, "reason": exc.reason,
            "live_trading_refused": result.trading_refused or None,
            "refusal": result.refusal, "resolved": [r.to_record() for r in result.resolved],
            "drifts": [d.to_record() for d in result.drifts[:MAX_AUDITED_DRIFTS]],
            "drifts_not_listed": max(0, len(result.drifts) - MAX_AUDITED_DRIFTS)}, venue=venue)
        halted_alert = _halt_for_venue_drift(ctx, conn, venue, result)
    _alert_venue_drift(ctx, venue, result, halted_alert, note=f"; then the venue failed: {exc.reason}")


def _failed(ctx: RunContext, venue: Venue, result: VenueReconcile, exc: BaseException) -> None:
    """Report the drift ``venue``'s pass found before it failed with ``exc`` (not an outage) or was
    stopped, as :func:`record_unreachable` does; the caller then raises ``exc`` again, which ends the run with
    its own exit code (1 for an internal error, 130 for a stop).

    Why: step (1) records each fill it finds in a transaction of its own, so the drift it leaves (an
    ended execution's legs unequal, more filled than an order's size) is found by no later run. An error
    after it lost that drift: exit 1, no alert, no ``--halt-on-drift`` halt. It is audited as
    ``reconcile.failed``, alerted and halted for; only the error's type is named (its text may quote a
    statement or a connection). If the database is what failed, the alert still goes out and says so.
    """
    if not result.drifts:
        return
    what = type(exc).__name__
    result.status = "drift"
    result.counts["drifts"] = len(result.drifts)
    stopped = isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError))
    note = f"; then the run {'was stopped' if stopped else 'failed'} ({what})"
    halted_alert = None
    try:
        with ctx.db.write() as conn:
            ctx.audit(conn, "reconcile.failed", {
                "venue": venue.value, "mode": ctx.mode, "status": result.status, "error": what,
                "resolved": [r.to_record() for r in result.resolved],
                "drifts": [d.to_record() for d in result.drifts[:MAX_AUDITED_DRIFTS]],
                "drifts_not_listed": max(0, len(result.drifts) - MAX_AUDITED_DRIFTS)}, venue=venue)
            halted_alert = _halt_for_venue_drift(ctx, conn, venue, result)
    except Exception as again:  # the database may be what failed: the drift is alerted all the same
        halt = " or halted for" if ctx.halt_on_drift else ""
        note += f", and it could not be audited{halt} ({type(again).__name__})"
    _alert_venue_drift(ctx, venue, result, halted_alert, note=note)
