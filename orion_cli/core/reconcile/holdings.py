"""Positions, settlements and transfers: the venue's holdings against what the ledger's fills add up to.

A difference no fill explains is reported with its value (at a mark where one is known); ``--fix`` books
it as a ``reconcile-adj-`` fill, so the ledger's positions agree with the venue's through ordinary records.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import Connection, select
from sqlalchemy.exc import StatementError

from orion_cli.core.errors import AuthError, DataError, OrionError, SecretsError, StorageError, VenueUnavailable
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import CENT, ZERO
from orion_cli.core.reconcile.context import RunContext, parse_ts, round_money, savepoint_fix, unstorable, valid_price
from orion_cli.core.reconcile.legs import Imbalance, orders_of
from orion_cli.core.reconcile.results import NOT_FINAL, QTY_TOLERANCE, Drift, VenueReconcile
from orion_cli.core.reconcile.rows import external_payload, order_rows
from orion_cli.execution.state import ADJUST_PREFIX, ExecStatus
from orion_cli.store.ledger import NETTING_VENUES, Ledger
from orion_cli.store.tables import executions, orders, plain
from orion_cli.venues.trading import (
    Action,
    Balance,
    Fill,
    Geoblocked,
    OrderRequest,
    OrderStatus,
    Position,
    PreparedOrder,
    Settlement,
    SettlementsIncomplete,
    TimeInForce,
    TradingVenue,
    Transfer,
)


@dataclass
class _Holding:
    size: Decimal = ZERO
    avg: Decimal | None = None


UNCHECKED_FIX = "not fixed: whether the market settled is unknown; checked again on the next run"
UNREADABLE_FIX = ("not fixed: the venue's settlement record of it cannot be read; check the market at the venue. "
                  "Checked again on the next run; the venue's balance report is not recorded until it is read")
UNDECIDED_FIX = ("not fixed: an order in this market is not final in the ledger, or a fill in it is too recent; "
                 "checked again on the next run")


def _unanswered(exc: OrionError, result: VenueReconcile) -> bool:
    """Whether ``exc``, from a read of settlements or transfers, means the venue gave no answer to read:
    an outage, or a refusal of this host's location (flagged ``geoblocked``: exit 6) or of our
    credentials (flagged ``rejected``: exit 4), as :func:`venue_call` takes them for every other read.
    Else (False) it answered something orion cannot read: drift, as the venue's record disagrees."""
    if not isinstance(exc, (VenueUnavailable, Geoblocked, SecretsError)):
        return False
    if isinstance(exc, Geoblocked):
        result.geoblocked, result.hint = True, exc.hint or ""
    elif isinstance(exc, AuthError):
        result.rejected, result.hint = True, exc.hint or ""
    return True


async def read_settlements(ctx: RunContext, venue: Venue, tv: TradingVenue,
                           result: VenueReconcile) -> tuple[list[Settlement], set[str], str | None]:
    """The venue's settlements of the markets the ledger holds there, the held markets it could not
    say about, and why not when it could not be asked (no answer: :func:`_unanswered`; else None).

    Either way the fills, positions and orders are still compared, and a position in a market not
    checked is never adopted (a vanished one may be a settled one). An answer orion cannot read is
    settlement drift; no answer at all makes the venue unavailable (exit 5 for an outage; 4 or 6 for a
    refusal, as any read refused so), not drift: nothing the venue said disagrees, and --fix could not
    mend it."""
    with ctx.db.read() as conn:
        held = sorted({p.market_id for p in ctx.ledger.positions(venue, conn=conn)})
    if not held:
        return [], set(), None
    try:
        return await tv.settlements(held), set(), None
    except SettlementsIncomplete as exc:
        why = exc.unchecked[min(exc.unchecked)] if exc.unchecked else ""
        found, unchecked, outage = exc.found, set(exc.unchecked), exc.unreachable
        cause = f"{exc.message} ({why})" if why else exc.message
    except StorageError:
        raise  # the ledger's own database, not the venue's answer: exit 3 (see venue_call)
    except OrionError as exc:
        found, unchecked, cause, outage = [], set(held), exc.message, _unanswered(exc, result)
    if outage:
        return found, unchecked, f"could not read the settlements of the markets held: {cause}"[:400]
    result.drifts.append(Drift(venue, "settlement", ", ".join(sorted(unchecked))[:200], None, ZERO, ZERO, ZERO,
                               f"could not read the venue's settlements of the markets held: {cause}"[:400],
                               fix=UNREADABLE_FIX))
    return found, unchecked, None


async def read_transfers(venue: Venue, tv: TradingVenue,
                         result: VenueReconcile) -> tuple[list[Transfer] | None, str | None]:
    """The venue's deposits and withdrawals ([] when it lists none), and why not when it could not be
    asked (else None). Either way the rest of the venue is still compared; without them (None) the
    balance report is not recorded. As for settlements (:func:`read_settlements`): a list orion cannot
    read is ``transfers`` drift; no answer at all (:func:`_unanswered`: an outage, this host or our
    credentials refused) makes the venue unavailable, not drift: nothing the venue said disagrees."""
    try:
        return await tv.transfers() or [], None
    except StorageError:
        raise  # the ledger's own database, not the venue's answer: exit 3 (see venue_call)
    except OrionError as exc:
        if _unanswered(exc, result):
            return None, f"could not read the venue's deposits and withdrawals: {exc.message}"[:400]
        result.drifts.append(Drift(venue, "transfers", "", None, ZERO, ZERO, ZERO,
                                   f"could not read the venue's deposits and withdrawals: {exc.message}"[:400],
                                   fix="not fixed: the balance report is recorded once they can be read"))
        return None, None


def record_settlements(ctx: RunContext, conn: Connection, venue: Venue, found: Sequence[Settlement],
                       result: VenueReconcile, *, report: Balance | None) -> None:
    """Close what the ledger holds in each market the venue settled, at the payout (with or
    without ``--fix``: a settlement is the venue's record of how a held market ended, not a
    disagreement to adopt). Each in a savepoint, so one the ledger cannot take is reported as drift
    and the others are kept.

    Where the venue says how many contracts it settled, a number other than the ledger's is drift:
    the ledger settles what it held, and the venue's cash holds what the venue paid.
    """
    netting = venue in NETTING_VENUES
    for s in found:
        try:
            with conn.begin_nested():
                settled = ctx.ledger.record_settlement(s, conn=conn, now=ctx.now, report=report)
        except (OrionError, StatementError, ValueError, ArithmeticError) as exc:
            what = unstorable(exc)
            result.drifts.append(Drift(venue, "settlement", s.market_id, None, ZERO, ZERO, ZERO,
                                       f"settled at the venue ({s.result or 'payout ' + str(s.yes_payout)}) but the "
                                       f"ledger could not record it: {str(what)[:200]}",
                                       fix="not fixed: see the error"))
            continue
        if settled is None:
            continue
        result.settled.append(settled)
        if not s.counts:
            continue
        theirs = dict(s.counts)
        if s.revenue is not None:
            if netting:  # a netting venue pays the net holding only
                net = theirs.get(Side.YES, ZERO) - theirs.get(Side.NO, ZERO)
                stated = abs(net) * s.payout(Side.YES if net >= 0 else Side.NO)
            else:
                stated = sum((n * s.payout(side) for side, n in s.counts), ZERO)
            if abs(stated - s.revenue) >= CENT:
                result.drifts.append(Drift(
                    venue, "settlement", s.market_id, None, stated, s.revenue, plain(abs(stated - s.revenue)),
                    f"the venue paid {s.revenue} for contracts that pay {stated}", fix="not fixable: reported"))
        lines = ([(Side.YES, settled.held(Side.YES) - settled.held(Side.NO),
                   theirs.get(Side.YES, ZERO) - theirs.get(Side.NO, ZERO))] if netting else
                 [(side, settled.held(side), theirs.get(side, ZERO)) for side in (Side.YES, Side.NO)])
        for side, mine, venue_qty in lines:
            if abs(mine - venue_qty) <= QTY_TOLERANCE:
                continue
            # A net difference is YES contracts when positive, NO contracts when negative.
            unit = s.payout(side if not netting or mine - venue_qty > 0 else Side.NO)
            result.drifts.append(Drift(
                venue, "settlement", s.market_id, side, mine, venue_qty, plain(abs(mine - venue_qty) * unit),
                f"the venue settled {venue_qty} {side.value}{' (net of NO)' if netting else ''}, the ledger held "
                f"{mine}; the ledger settled its own, the venue's cash holds what it paid",
                fix="not fixable: the market is settled"))


def _holdings(held: Sequence[Position]) -> dict[tuple[str, Side], _Holding]:
    out: dict[tuple[str, Side], _Holding] = {}
    for p in held:
        h = out.setdefault((p.market_id, p.side), _Holding())
        h.size += p.size
        h.avg = p.avg_price if p.size > 0 else h.avg
    return out


def markets_disagreeing(ledger: Ledger, venue: Venue, venue_positions: Sequence[Position], *,
                        settling: Iterable[str] = ()) -> list[str]:
    """The markets where ``venue``'s positions and the ledger's disagree (beyond a micro-share), as the
    comparison below counts them, apart from the markets the ledger has settled or the venue lists as
    resolved (a venue still listing their tokens holds a payout) and those in ``settling`` (settled at the
    venue, being recorded with the report). A quick look for ``orion balance``, which reads both: no grace
    for a trade recording its fills this moment, no fix; ``reconcile`` judges."""
    from orion_cli.core.settlement import resolved

    over = {*settling, *(p.market_id for p in venue_positions if resolved(p))}
    over |= ledger.settled_markets(venue, (p.market_id for p in venue_positions))
    mine = _holdings([p for p in ledger.positions(venue) if p.market_id not in over])
    theirs = _holdings([p for p in venue_positions if p.market_id not in over])
    netting = venue in NETTING_VENUES
    return [m for m in sorted({m for m, _ in (*mine, *theirs)}) if _compare_market(m, mine, theirs, netting=netting)]


def compare_positions(ctx: RunContext, conn: Connection, venue: Venue, venue_positions: Sequence[Position],
                      result: VenueReconcile, *, unchecked: set[str], waiting: Mapping[str, Decimal]) -> None:
    ledger_pos = ctx.ledger.positions(venue, conn=conn)
    result.counts["positions_ledger"] = len(ledger_pos)
    mine = _holdings(ledger_pos)
    # A market the ledger has settled is over: a venue that still lists its tokens (Polymarket, until
    # they are redeemed) holds a payout, which its balance counts, not a position.
    settled = ctx.ledger.settled_markets(venue, (p.market_id for p in venue_positions), conn=conn)
    # Nor is one the venue lists as resolved in a market the ledger holds nothing of (tokens bought before
    # orion, never redeemed: a lost bet's are worth nothing, and Polymarket lists them until they are
    # burned). Adopted at their old cost, they settled as a loss that tripped the daily breaker, and
    # unadopted they held the venue's reports, which refuses every live trade there (found in review).
    from orion_cli.core.settlement import resolved

    ours = {p.market_id for p in ledger_pos}
    theirs = _holdings([p for p in venue_positions
                        if p.market_id not in settled and not (resolved(p) and p.market_id not in ours)])
    # Closed ones too: a position the ledger closed seconds ago (an unwind) may still show at a venue
    # whose positions lag; calling that drift would have --fix buy it back. (Only those closed within the
    # grace are read: the rest of a year's closed history is no use here, and this runs under the lock.)
    closed = ctx.ledger.closed_since(venue, ctx.now - ctx.grace, conn=conn)
    recent = {(p.market_id, p.side) for p in (*ledger_pos, *closed)
              if p.extra.get("updated_at") and ctx.now - parse_ts(p.extra["updated_at"]) < ctx.grace}
    # Orders still not final after step (1): young ones, or ones the venue called filled without listing
    # their fills yet; and the fills step (2) left pending as too young. They may explain the difference
    # once recorded; adopting it now would count those contracts twice.
    undecided: dict[str, Decimal] = dict(waiting)  # market → the contracts those could still bring
    for r in order_rows(conn, ctx.mode, venue, statuses=NOT_FINAL):
        undecided[r.market_id] = undecided.get(r.market_id, ZERO) + max(ZERO, Decimal(r.size) - Decimal(r.filled_size))
    markets = sorted({m for m, _ in (*mine, *theirs)})
    for market in markets:
        lines = _compare_market(market, mine, theirs, netting=venue in NETTING_VENUES)
        for side, ledger_qty, venue_qty in lines:
            if (market, side) in recent or (market, side.other) in recent:
                result.pending.append(f"position {market} {side.value}: ledger {ledger_qty}, venue {venue_qty}; "
                                      f"changed in the last {int(ctx.grace.total_seconds())} s")
                continue
            explained = undecided.get(market)
            if explained is not None and abs(venue_qty - ledger_qty) <= explained + QTY_TOLERANCE:
                result.pending.append(f"position {market} {side.value}: ledger {ledger_qty}, venue {venue_qty}; "
                                      "an order in it is not final in the ledger yet (its fills may not be listed), "
                                      "or a fill in it is too recent to adopt")
                continue
            price = _value_price(ctx, venue, market, side, mine, theirs)
            value = plain(abs(venue_qty - ledger_qty) * price) if price is not None else ZERO
            gone = " (closed or settled at the venue?)" if venue_qty == 0 else ""
            paired = _hedged_pairs_said(conn, ctx.mode, venue, market, side) if venue_qty < ledger_qty else ""
            drift = Drift(venue, "position", market, side, ledger_qty, venue_qty, value,
                          f"ledger holds {ledger_qty} {side.value}, the venue {venue_qty}{gone}{paired}")

            if market in unchecked:  # settled, perhaps: adopting would close it at cost, not at its payout
                result.drifts.append(replace(drift, fix=UNCHECKED_FIX))
                continue
            if explained is not None:  # more than those orders explain: drift, but part of it may be theirs
                result.drifts.append(replace(drift, fix=UNDECIDED_FIX))
                continue

            def adopt(market: str = market, side: Side = side, ledger_qty: Decimal = ledger_qty,
                      venue_qty: Decimal = venue_qty) -> str:
                return _adjust(ctx, conn, venue, market, side, venue_qty - ledger_qty, mine, theirs)

            result.drifts.append(savepoint_fix(ctx, conn, drift, adopt))


Book = Mapping[tuple[str, Side], _Holding]


def _hedged_pairs_said(conn: Connection, mode: str, venue: Venue, market: str, side: Side) -> str:
    """For a position the venue holds less of than the ledger: the hedged executions (ended ``done``) whose
    leg it is, and their other legs, which a fill taken back or a sale by hand there leaves unhedged.

    Why: a Polymarket trade that fails on chain after it matched takes the shares back. Reported as this
    drift, ``--fix`` adopted the venue's figure with an adjustment of no execution, and from then on the
    pair read hedged and reconcile clean while the other leg stood alone (found in review)."""
    keys = sorted({r.execution_id for r in conn.execute(
        select(orders.c.execution_id).join(executions, executions.c.key == orders.c.execution_id).where(
            orders.c.mode == mode, orders.c.venue == venue.value, orders.c.market_id == market,
            orders.c.side == side.value, orders.c.action == Action.BUY.value,
            executions.c.status == ExecStatus.DONE.value))})
    if not keys:
        return ""
    others: list[str] = []
    for key, legs in orders_of(conn, keys[:3]).items():
        mine = [o for o in legs if (o.venue, o.market_id, o.side) != (venue.value, market, side.value)]
        held = Imbalance.of(mine)
        if held is not None and held.held > 0:
            others.append(f"execution {key}: {plain(held.held)} {held.side.value} of {held.market} on "
                          f"{held.venue.value}")
    if not others:
        return ""
    more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    return (f"; the ledger holds them as a leg of a hedged pair ({'; '.join(others)}{more}): if the venue no "
            "longer holds them (a fill it took back, a sale by hand), that other leg is unhedged: hedge or close "
            "it by hand, as --fix adopts only this position")


def _compare_market(market: str, mine: Book, theirs: Book, *, netting: bool) -> list[tuple[Side, Decimal, Decimal]]:
    """(side, ledger qty, venue qty) for every disagreement in one market."""
    def size(book: Mapping[tuple[str, Side], _Holding], side: Side) -> Decimal:
        h = book.get((market, side))
        return h.size if h is not None else ZERO

    if not netting:
        out = []
        for side in (Side.YES, Side.NO):
            a, b = size(mine, side), size(theirs, side)
            if abs(a - b) > QTY_TOLERANCE:
                out.append((side, a, b))
        return out
    ledger_net = size(mine, Side.YES) - size(mine, Side.NO)
    venue_net = size(theirs, Side.YES) - size(theirs, Side.NO)
    if abs(ledger_net - venue_net) <= QTY_TOLERANCE:
        return []
    if ledger_net * venue_net >= 0:  # same side (or one flat): one line on that side
        side = Side.YES if (ledger_net > 0 or venue_net > 0) else Side.NO
        return [(side, abs(ledger_net), abs(venue_net))]
    ledger_side = Side.YES if ledger_net > 0 else Side.NO
    return [(ledger_side, abs(ledger_net), ZERO), (ledger_side.other, ZERO, abs(venue_net))]


def _value_price(ctx: RunContext, venue: Venue, market: str, side: Side, mine: Mapping[tuple[str, Side], _Holding],
                 theirs: Mapping[tuple[str, Side], _Holding]) -> Decimal | None:
    mark = ctx.marks.get((venue, market, side))
    if mark is not None:
        return mark
    for book in (theirs, mine):
        h = book.get((market, side))
        if h is not None and h.avg is not None and h.avg > 0:
            return h.avg
    return None


def _adjust(ctx: RunContext, conn: Connection, venue: Venue, market: str, side: Side, delta: Decimal,
            mine: Mapping[tuple[str, Side], _Holding], theirs: Mapping[tuple[str, Side], _Holding]) -> str:
    """Move the ledger by ``delta`` contracts of ``side`` with adjustment fills (no venue order)."""
    held = dict.fromkeys((Side.YES, Side.NO), ZERO)
    for p in ctx.ledger.positions(venue, conn=conn):  # as of now, after earlier adjustments
        if p.market_id == market:
            held[p.side] += p.size
    netting = venue in NETTING_VENUES
    done: list[str] = []
    if delta < 0:
        # Less of `side`: sell what the ledger holds; on a netting venue the rest is more of the other side.
        sell = min(held[side], -delta) if netting else -delta
        if sell > 0:
            done.append(_adjust_fill(ctx, conn, venue, market, side, Action.SELL, sell, mine, theirs))
        if -delta - sell > 0:
            done.append(_adjust_fill(ctx, conn, venue, market, side.other, Action.BUY, -delta - sell, mine, theirs))
    else:
        # More of `side`: on a netting venue first less of the other side, then buy the rest.
        sell = min(held[side.other], delta) if netting else ZERO
        if sell > 0:
            done.append(_adjust_fill(ctx, conn, venue, market, side.other, Action.SELL, sell, mine, theirs))
        if delta - sell > 0:
            done.append(_adjust_fill(ctx, conn, venue, market, side, Action.BUY, delta - sell, mine, theirs))
    return "; ".join(done)


def _adjust_fill(ctx: RunContext, conn: Connection, venue: Venue, market: str, side: Side, action: Action,
                 qty: Decimal, mine: Mapping[tuple[str, Side], _Holding],
                 theirs: Mapping[tuple[str, Side], _Holding]) -> str:
    # A sell leaves at the ledger's own average (no invented P&L); a buy enters at the venue's average.
    sources = (mine, theirs) if action is Action.SELL else (theirs, mine)
    price: Decimal | None = None
    for book in sources:
        h = book.get((market, side))
        price = valid_price(h.avg if h is not None else None)
        if price is not None:
            break
    if price is None:
        price = valid_price(ctx.marks.get((venue, market, side)))
    if price is None:
        raise DataError(f"{market} {side.value}", "no average price or mark in (0, 1) to adjust the position at")
    coid = f"{ADJUST_PREFIX}{uuid.uuid4().hex}"
    request = OrderRequest(venue, market, side, action, qty, price, TimeInForce.IOC, coid)
    payload = external_payload(adjustment=True, market=market, side=side.value, action=action.value, size=qty)
    ctx.ledger.record_intent(PreparedOrder(request, payload), category=ctx.category(venue, market), conn=conn,
                             now=ctx.now)
    fill = Fill(venue=venue, fill_id=coid, venue_order_id="", market_id=market, side=side, action=action, size=qty,
                price=price, fee=ZERO, ts=ctx.now, is_taker=False, client_order_id=coid)
    ctx.ledger.transition(coid, OrderStatus.FILLED, fills=[fill], venue_status="reconcile adjustment", conn=conn,
                          now=ctx.now)
    done = f"{action.value} {qty} {side.value} at {price} (adjustment {coid})"
    if action is Action.BUY and ctx.mode != "paper":
        # No fill says when these were bought, so not whether today's cash paid for them: as capital,
        # the adjustment cannot raise today's P&L (if today's cash did pay, the day shows that loss).
        cost = round_money(qty * price)
        ctx.ledger.count_capital(conn, venue, market, side, qty, cost, now=ctx.now,
                                 why=f"reconcile adjustment {coid}: contracts the venue holds that no fill explains")
        done += f"; their cost {plain(cost)} counted as capital, not profit"
    return done
