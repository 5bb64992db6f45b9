"""Orders whose outcome the ledger does not know, and orders or fills at the venue the ledger lacks.

Looked up by persisted ids before anything else is compared; an order is closed as never placed only
when the venue says it does not know it and no process drives its execution, and ``--fix`` adopts what
orion never placed as ``ext-`` orders, never reopening one the ledger holds ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, select

from orion_cli.core.errors import DataError, OrionError, SecretsError, StorageError, VenueError, VenueUnavailable
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ZERO, to_decimal
from orion_cli.core.reconcile.context import RunContext, Unreachable, parse_ts, savepoint_fix, valid_price, venue_call
from orion_cli.core.reconcile.executions import resume_sells_back
from orion_cli.core.reconcile.late_fills import late_fill
from orion_cli.core.reconcile.legs import order_tag
from orion_cli.core.reconcile.results import (
    NEVER_REACHED,
    NOT_FINAL,
    OPEN_STATUSES,
    ORDER_UNDECIDED_FIX,
    Drift,
    Resolved,
    VenueReconcile,
    order_drift,
)
from orion_cli.core.reconcile.rows import (
    ended_execution,
    external_payload,
    find_row,
    known_fill_ids,
    ledger_coid,
    order_being_sent,
)
from orion_cli.execution.state import EXTERNAL_PREFIX, load_result, resume_command
from orion_cli.store.tables import executions, orders, plain
from orion_cli.venues.trading import (
    Action,
    Fill,
    Geoblocked,
    OrderRequest,
    OrderState,
    OrderStatus,
    PreparedOrder,
    TimeInForce,
    TradingVenue,
    fit_fills,
)


async def resolve_order(ctx: RunContext, venue: Venue, tv: TradingVenue, row: Row[Any], result: VenueReconcile) -> None:
    coid = row.client_order_id
    before = OrderStatus(row.status)
    young = ctx.now - parse_ts(row.updated_at) < ctx.grace
    try:
        state = await tv.find_order(coid, row.venue_order_id)
    except (VenueUnavailable, VenueError, SecretsError, Geoblocked) as exc:
        # A host refused for its location learnt nothing of the order: not a failed lookup (drift).
        raise Unreachable.of(exc) from exc
    except StorageError:
        raise  # the ledger's own database (the paper venue's book): exit 3, not the venue's lookup failing
    except OrionError as exc:
        result.drifts.append(order_drift(venue, row, f"outcome {before.value}; the venue lookup failed: {exc}"))
        return
    if state is not None and state.status in NOT_FINAL and tv.mode == "paper" and not young:
        # The paper venue decides and records an outcome in one transaction: a paper order still
        # not final after the grace period was never settled (a crash between submit and settle).
        state = None
    if state is None:
        if young:
            result.pending.append(f"order {coid} ({before.value}) is younger than {int(ctx.grace.total_seconds())} s")
            return
        if before is OrderStatus.OPEN:
            result.drifts.append(order_drift(venue, row, "the ledger holds it open (acknowledged) but the venue "
                                             "does not know it"))
            return
        reported = _reported_filled(ctx, row)
        if reported is None:  # what its execution recorded cannot be read: not proof it never landed
            result.drifts.append(order_drift(venue, row, "the venue does not find it, and its execution's record "
                                             "of what the venue reported cannot be read"))
            return
        if reported:  # the venue said it filled (its fills not listed yet): it reached the venue
            result.drifts.append(order_drift(venue, row, f"the venue reported it filled {plain(reported)} but does "
                                             "not find it now", venue_qty=reported))
            return
        _never_reached(ctx, venue, row, result)
        return
    await _apply_found(ctx, venue, tv, row, state, result)


def _never_reached(ctx: RunContext, venue: Venue, row: Row[Any], result: VenueReconcile) -> None:
    """Cancel ``row``, which the venue does not know, as never reached the venue: only while no process
    drives its execution (its key lock held for the write) and only if the row is still as read before
    the lookup (compare-and-set in the write transaction); otherwise it is left, pending.

    Why: the lookup and the write are apart, and an executor may send the order in between (a resume of
    an intent older than the grace period). Written regardless, the cancel landed on the order the
    executor had just sent and recorded filled: ``cancelled``, filled 10, "never sent", so the executor
    (and a resume) took a filled leg for one never sent. The ledger lets one ended status follow
    another (a late fill of a cancelled order is recorded on it), so the check is here.
    """
    from orion_cli.execution.keylock import unless_driven

    coid, before = row.client_order_id, OrderStatus(row.status)
    # An order of no execution: no key to hold, nothing drives it.
    with unless_driven(ctx.db, row.execution_id, actor=ctx.actor) if row.execution_id else nullcontext(True) as free:
        if not free:
            result.pending.append(f"order {coid} ({before.value}) is not found at the venue, but execution "
                                  f"{row.execution_id} is in progress in another process (it may be sending it "
                                  "now): left")
            return
        with ctx.db.write() as conn:
            now_row = conn.execute(select(orders.c.status, orders.c.updated_at)
                                   .where(orders.c.client_order_id == coid)).first()
            if now_row is None or (now_row.status, now_row.updated_at) != (row.status, row.updated_at):
                moved = now_row.status if now_row is not None else "gone"
                result.pending.append(f"order {coid} ({before.value}) is not found at the venue, but another "
                                      f"process changed it meanwhile (now {moved}): in progress, left")
                return
            after = ctx.ledger.cancelled(coid, reason=NEVER_REACHED, conn=conn, now=ctx.now)
            res = Resolved(venue, coid, row.venue_order_id, row.market_id, Side(row.side), before.value,
                           after.status.value, after.filled_size, 0, NEVER_REACHED)
            ctx.audit(conn, "reconcile.resolved", {k: v for k, v in res.to_record().items() if k != "type"},
                      venue=venue, market=row.market_id)
    result.resolved.append(res)


def _reported_filled(ctx: RunContext, row: Row[Any]) -> Decimal | None:
    """What the venue reported this order filled when its execution read it back (0 when nothing, or the
    order belongs to no execution; None when its execution's record is missing or cannot be read, so
    nothing is known). An order id alone proves nothing: a Polymarket order's hash is known before sending."""
    if not row.execution_id:
        return ZERO
    with ctx.db.read() as conn:
        text = conn.execute(select(executions.c.result).where(executions.c.key == row.execution_id)).scalar()
    if not text:  # the order names an execution the ledger does not hold: unknown, not "nothing filled"
        return None
    try:
        entry = load_result(text).get("legs", {}).get(order_tag(row.client_order_id), {})
        return max(ZERO, to_decimal(entry.get("filled", "0"), "legs.filled", allow_negative=True))
    except (DataError, ValueError, ArithmeticError, AttributeError, RecursionError):
        return None


async def _apply_found(ctx: RunContext, venue: Venue, tv: TradingVenue, row: Row[Any], state: OrderState,
                       result: VenueReconcile) -> None:
    coid = row.client_order_id
    before = OrderStatus(row.status)
    found = list(state.fills)
    if sum((f.size for f in found), ZERO) < state.filled_size and state.venue_order_id:
        found = await venue_call(tv.fills(venue_order_id=state.venue_order_id))
    covered = sum((f.size for f in found), ZERO) >= state.filled_size
    target: OrderStatus | None = state.status if state.status not in NOT_FINAL else None
    if target is not None and target.terminal and not covered:
        target = None  # never call an order done while its fills cannot be read
    # A buy's fills are held in full (a dollar-amount buy at better prices gets more shares than its
    # size, as the executor records it); a sell never takes more than its size (the ledger refuses
    # more): that excess is drift, and the position check then finds the venue holding it.
    buy = row.action == Action.BUY.value
    if buy:
        own, over = [replace(f, client_order_id=coid) for f in found], ZERO
    else:
        own, over = fit_fills([replace(f, client_order_id=coid) for f in found], Decimal(row.size), coid)
    detail = f"venue says {state.venue_status or state.status.value}"
    # Recorded at the time the venue had answered, not when the run began (a report another process read
    # in between, before the fill happened, would count as holding it: Ledger.report_holds), nor once the
    # write lock is held (one read while this waited, after the venue had the fill, would not, and a
    # venue clock ahead of the host's then had its cash counted twice).
    learned = ctx.clock()
    try:
        with ctx.db.write() as conn:
            known = known_fill_ids(conn, ctx.mode, venue, [f.fill_id for f in own])
            after = ctx.ledger.transition(coid, target, venue_order_id=state.venue_order_id or None, fills=own,
                                          venue_status=state.venue_status, reject_reason=state.reject_reason,
                                          conn=conn, now=learned, overfill_ok=buy)
            new = [f for f in own if f.fill_id not in known]
            new_fills = len(new)
            changed = after.status is not before or new_fills > 0
            # An order its execution left in flight (the venue had not listed its fills): recorded only
            # now, its fills may leave the ended execution's legs unequal.
            ended = ended_execution(conn, row) if new else None
            late = late_fill(ctx, conn, venue, ended, row, new, defer=True) if ended is not None else []
            res = Resolved(venue, coid, after.venue_order_id, row.market_id, Side(row.side), before.value,
                           after.status.value, after.filled_size, new_fills, detail)
            if changed:
                ctx.audit(conn, "reconcile.resolved", {k: v for k, v in res.to_record().items() if k != "type"},
                          venue=venue, market=row.market_id)
    except StorageError:
        raise  # the ledger's own database (busy, damaged, full): exit 3, never drift
    except OrionError as exc:
        result.drifts.append(order_drift(venue, row, f"{detail}, but it cannot be recorded: {exc}",
                                         venue_qty=state.filled_size))
        return
    if changed:
        result.resolved.append(res)
    result.drifts.extend(late)
    if over > 0:
        result.drifts.append(order_drift(
            venue, row, f"{detail}: its fills total {plain(after.filled_size + over)}, {plain(over)} more than the "
                        f"order's size {plain(Decimal(row.size))}; the ledger holds the order's size",
            venue_qty=after.filled_size + over, ledger_qty=after.filled_size))
    if not covered:
        listed = sum((f.size for f in found), ZERO)
        said = f"{detail}: filled {state.filled_size} but the venue lists fills for only {listed}"
        if _in_hand(ctx, row):
            # A venue lists an order's fills a moment after it calls it filled. Drift at once (exit 7, an
            # alert, and under --halt-on-drift a halt that has the trade under way sell its first leg
            # back) for an order a trade sent seconds ago (found in review); pending, as an order the
            # venue does not find yet is.
            result.pending.append(f"order {coid}: {said} yet (changed less than "
                                  f"{int(ctx.grace.total_seconds())} s ago, or its execution is in progress)")
        else:
            result.drifts.append(order_drift(venue, row, said, venue_qty=state.filled_size,
                                             ledger_qty=after.filled_size))
    elif after.status in NOT_FINAL:
        unattended = None if changed else _unattended(ctx, row)
        if unattended is None:
            result.pending.append(f"order {coid}: {detail} (not final at the venue yet)")
        else:
            drift = order_drift(venue, row, f"{detail} (not final at the venue), {unattended}",
                                venue_qty=state.filled_size, ledger_qty=after.filled_size)
            result.drifts.append(replace(drift, fix=ORDER_UNDECIDED_FIX))


def _in_hand(ctx: RunContext, row: Row[Any]) -> bool:
    """Whether an order may still be in a process's hands: changed in the ledger less than the grace period
    ago, or its execution driven (its key held) by another process."""
    from orion_cli.execution.keylock import driven

    young = ctx.now - parse_ts(row.updated_at) < ctx.grace
    return young or bool(row.execution_id and driven(ctx.db, row.execution_id))


def _unattended(ctx: RunContext, row: Row[Any]) -> str | None:
    """Why an order the venue still holds undecided is drift, and what to do, or None while it is pending.

    Found black-box: a live trade killed after its first leg was sent, the match delayed at Polymarket,
    was reported "pending: venue says delayed (not final at the venue yet)" and "clean", exit 0, by every
    reconcile for as long as the venue kept it so: a buy live at the venue that no process watches, and
    no drift, no alert. Pending while it may be in hand: unchanged in the ledger for less than the grace
    period, or its execution's key held (a trade or a resume drives it). Past that, drift: its execution
    resumed by its key looks it up again and finishes it; an execution that has ended cannot, and the
    order is to be checked at the venue. An order of no execution (the paper venue's) stays pending."""
    from orion_cli.execution.state import UNFINISHED, resume_advice
    from orion_cli.risk.halt import KillSwitch

    key = row.execution_id
    if not key or _in_hand(ctx, row):
        return None
    age = ctx.now - parse_ts(row.updated_at)
    with ctx.db.read() as conn:
        ex = conn.execute(select(executions.c.opportunity_id, executions.c.mode, executions.c.status,
                                 executions.c.plan, executions.c.result)
                          .where(executions.c.key == key)).first()
    unmoved = (f"unchanged in the ledger for {int(age.total_seconds())} s (grace "
               f"{int(ctx.grace.total_seconds())} s) and no process drives its execution {key}")
    if ex is None or ex.status not in UNFINISHED:
        return (f"{unmoved}, which has ended: it may still fill; check it at the venue and cancel it there if it "
                "should not")
    # Halted, or about to be by this run's --halt-on-drift (as for an interrupted execution's drift): the
    # resume would sell the filled leg back, and the advice must say so (review: it said "resume it" in
    # the very run that engaged the halt).
    halt = KillSwitch(ctx.db, sentinel_file=ctx.settings.halt.sentinel_file, mode=ctx.mode).status(trading=True)
    halted = halt.halted or ctx.halt_on_drift
    sells_back = halted and resume_sells_back(ctx.db, key, ex.status, ex.result)
    command = resume_command(ex.opportunity_id, key, mode=ex.mode, source_flags=ctx.source_flags, plan=ex.plan)
    return f"{unmoved}: {resume_advice(command, sells_back=sells_back, halt=halt if halt.halted else None)}"


def ended_resting_fix(mode: str) -> str:
    """What to do about an ended order the venue lists resting. The halt named with ``--live`` for a live
    ledger: without it, run where the live environment pair is not set, it cancelled the paper ledger's."""
    halt = "orion halt --cancel-open" + (" --live" if mode == "live" else "")
    return (f"not fixed by reconcile: the ledger never reopens an ended order; cancel it at the venue (`{halt}` "
            "halts, then cancels every resting order), or let it fill: its fills are then fill drift, which --fix "
            "records on that order")


def unknown_open_orders(ctx: RunContext, conn: Connection, venue: Venue, venue_open: Sequence[OrderState],
                        result: VenueReconcile) -> None:
    """Report (and with ``--fix`` adopt) the venue's resting orders the ledger does not hold, and report
    those it holds as ended (filled, partial, cancelled, rejected).

    Why the ended ones: an order the ledger ended (cancelled as "not found at the venue" after a lookup
    lag, a cancel that was answered but did not take) can still fill at any moment while the venue lists
    it resting, yet ended it counts toward no exposure or in-flight cash. The ledger cannot reopen it,
    so it is only reported. One ended within ``grace`` by another process is pending: the venue's list
    was read before that write (a cancel read back while the venue still lists the order) and may be
    stale; one this run ended itself (step (1)) was ended before the list was read, so it is drift."""
    resolved_here = {r.client_order_id for r in result.resolved}
    for st in venue_open:
        row = find_row(conn, ctx.mode, venue, client_order_id=st.client_order_id,
                       venue_order_id=st.venue_order_id)
        if row is not None:
            if OrderStatus(row.status).terminal:
                _ended_but_resting(ctx, venue, row, st, result, resolved_here=resolved_here)
            continue
        drift = Drift(venue, "order", st.market_id, st.side, ZERO, st.remaining,
                      plain(st.remaining * st.limit_price),
                      f"resting {st.action.value} {st.side.value} order {st.venue_order_id} ({st.remaining} at "
                      f"{st.limit_price}) is not in the ledger: placed outside orion?", ref=st.venue_order_id)

        def adopt(st: OrderState = st) -> str:
            coid = ledger_coid(EXTERNAL_PREFIX, venue, st.venue_order_id)
            request = OrderRequest(venue, st.market_id, st.side, st.action, st.size, st.limit_price,
                                   TimeInForce.GTC, coid)
            payload = external_payload(venue_order_id=st.venue_order_id, client_order_id=st.client_order_id)
            ctx.ledger.record_intent(PreparedOrder(request, payload, venue_ref=st.venue_order_id),
                                     category=ctx.category(venue, st.market_id), conn=conn, now=ctx.now)
            ctx.ledger.transition(coid, OrderStatus.OPEN, venue_order_id=st.venue_order_id,
                                  venue_status=f"external: {st.venue_status}", conn=conn, now=ctx.now)
            return f"recorded as ledger order {coid} (open)"

        result.drifts.append(savepoint_fix(ctx, conn, drift, adopt))


def _ended_but_resting(ctx: RunContext, venue: Venue, row: Row[Any], st: OrderState, result: VenueReconcile, *,
                       resolved_here: set[str]) -> None:
    """``row`` is ended in the ledger while the venue lists it resting as ``st``: an ``order`` drift
    (pending while another process ended it within ``grace``; see :func:`unknown_open_orders`)."""
    coid = row.client_order_id
    held = f"ledger order {coid} ({row.status}, filled {plain(Decimal(row.filled_size))} of {plain(Decimal(row.size))})"
    if ctx.now - parse_ts(row.updated_at) < ctx.grace and coid not in resolved_here:
        result.pending.append(f"{held} ended less than {int(ctx.grace.total_seconds())} s ago, but the venue lists "
                              f"order {st.venue_order_id or coid} resting ({plain(st.remaining)} left)")
        return
    result.drifts.append(Drift(
        venue, "order", st.market_id, st.side, ZERO, st.remaining, plain(st.remaining * st.limit_price),
        f"resting {st.action.value} {st.side.value} order {st.venue_order_id or '?'} ({plain(st.remaining)} at "
        f"{st.limit_price}, venue says {st.venue_status or st.status.value}) is {held} in the ledger: it can still "
        "fill, and an ended order counts toward no exposure or in-flight cash", ref=coid,
        fix=ended_resting_fix(ctx.mode)))


def missing_fills(ctx: RunContext, conn: Connection, venue: Venue, venue_fills: Sequence[Fill],
                  result: VenueReconcile, *, learned: datetime) -> dict[str, Decimal]:
    """Report (and with ``--fix`` adopt) the venue's fills the ledger lacks; returns, by market, the
    contracts of the fills left pending, which the position comparison must not adopt in their place.
    ``learned``: when the venue listed them, the time an adopted fill is recorded at."""
    known = known_fill_ids(conn, ctx.mode, venue)
    waiting: dict[str, Decimal] = {}
    for f in venue_fills:
        if f.fill_id in known:
            continue
        row = find_row(conn, ctx.mode, venue, client_order_id=f.client_order_id, venue_order_id=f.venue_order_id)
        # Young: within the grace either way (a venue clock a little ahead), never one from the far
        # future, which would otherwise stay "young" and hide an outside trade for as long as it lasts.
        young = -ctx.grace <= ctx.now - f.ts < ctx.grace
        if young and (OrderStatus(row.status) in OPEN_STATUSES if row is not None
                      else order_being_sent(conn, ctx.mode, venue, f)):
            # No ledger order for it, while one of ours in that market is still being sent: a Kalshi
            # order's id is recorded only once its answer is read back. Adopted now as a trade placed
            # outside orion, its fill would never reach its own order (a fill counts once).
            of = f"order {row.client_order_id}" if row is not None else \
                f"venue order {f.venue_order_id or '?'}, not in the ledger (yet?),"
            result.pending.append(f"fill {f.fill_id} of {of} is younger than {int(ctx.grace.total_seconds())} s")
            # An order not final (the one being sent included, when no row matched) already counts as
            # undecided with its unfilled size: only an open order's young fills add to that.
            if row is not None and OrderStatus(row.status) not in NOT_FINAL:
                waiting[f.market_id] = waiting.get(f.market_id, ZERO) + f.size
            continue
        beyond = ""
        if row is not None and OrderStatus(row.status) is OrderStatus.FILLED \
                and Decimal(row.filled_size) + f.size > Decimal(row.size) \
                and (row.action != Action.BUY.value or row.client_order_id.startswith(EXTERNAL_PREFIX)):
            # The order is full: another fill of an outside order whose first fill was adopted at its
            # own size, or a fill the venue made beyond a sell's size. Neither takes more than its size,
            # so this fill is adopted as a filled order of its own. A buy orion placed holds its fills
            # in full (an overfill: a dollar-amount buy at better prices gets more shares), as step (1)
            # and the executor record it: the fill stays on its order, and so in its execution.
            beyond = f" (beyond the size {plain(Decimal(row.size))} of ledger order {row.client_order_id})"
            row = None
        ended = ended_execution(conn, row) if row is not None else None
        whose = f"of ledger order {row.client_order_id} ({row.status})" if row is not None else \
            f"of venue order {f.venue_order_id or '?'}{beyond}, which is not in the ledger" + (
                "" if beyond else " (placed outside this ledger: by hand, by another program, or by orion in a "
                                  "ledger since restored from a backup?)")
        if ended is not None:
            whose += f", a leg of execution {ended.key}, which has ended {ended.status}"
        drift = Drift(venue, "fill", f.market_id, f.side, ZERO, f.size, plain(f.size * f.price),
                      f"{f.action.value} {f.size} {f.side.value} at {f.price} (fee {f.fee}) {whose} is missing "
                      f"from the ledger", ref=f.fill_id)
        late: list[Drift] = []  # what the fill, once recorded, leaves unhedged in an execution that has ended

        def adopt(f: Fill = f, row: Row[Any] | None = row, ended: Row[Any] | None = ended,
                  late: list[Drift] = late) -> str:
            if row is not None:
                ctx.ledger.transition(row.client_order_id, None,
                                      fills=[replace(f, client_order_id=row.client_order_id)], conn=conn,
                                      now=learned, overfill_ok=row.action == Action.BUY.value)
                done = f"recorded on ledger order {row.client_order_id}"
                if ended is not None:
                    late.extend(late_fill(ctx, conn, venue, ended, row, [f]))
                    done += f"; recorded in execution {ended.key} as a late fill"
                return done
            coid = ledger_coid(EXTERNAL_PREFIX, venue, f.fill_id)
            price = valid_price(f.price)
            if price is None:
                raise DataError(f"fill {f.fill_id}", f"price {f.price} is outside (0, 1)")
            request = OrderRequest(venue, f.market_id, f.side, f.action, f.size, price, TimeInForce.IOC, coid)
            payload = external_payload(venue_order_id=f.venue_order_id, fill_id=f.fill_id)
            # Before the venue's first report (a ledger meeting an account traded by hand), the report this run
            # records is the account's cash after this buy: its contracts are capital like that cash, not
            # today's profit (found reviewing first contact with non-empty accounts: +$186 of "profit" from a
            # hand buy, masking as much loss from the daily breaker for the rest of the day).
            first = ctx.mode == "live" and f.action is Action.BUY and ctx.ledger.balance(venue, conn=conn) is None
            ctx.ledger.record_intent(PreparedOrder(request, payload, venue_ref=f.venue_order_id),
                                     category=ctx.category(venue, f.market_id), conn=conn, now=ctx.now)
            ctx.ledger.transition(coid, OrderStatus.FILLED, fills=[replace(f, client_order_id=coid)],
                                  venue_status="external", conn=conn, now=learned)
            if first:
                ctx.ledger.count_capital(conn, venue, f.market_id, f.side, f.size, plain(f.size * f.price),
                                         now=ctx.now, why="bought before orion's first report of this venue")
                return f"recorded as ledger order {coid} (filled), its contracts capital at their cost"
            return f"recorded as ledger order {coid} (filled)"

        fixed = savepoint_fix(ctx, conn, drift, adopt)
        result.drifts.append(fixed)
        if fixed.fixed:
            result.drifts.extend(late)
    return waiting
