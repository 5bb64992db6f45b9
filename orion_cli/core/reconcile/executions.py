"""Executions the ledger holds unhedged: stuck mid-way, or ended with unequal legs.

Reported on every run until the legs are equal again, so naked exposure is never a one-time warning a
cron log can lose.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, func, not_, or_, select

from orion_cli.core.errors import DataError
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ZERO, to_decimal
from orion_cli.core.reconcile.context import RunContext, halt_for_drift, round_money
from orion_cli.core.reconcile.legs import Imbalance, leg_of, legs_held_text, order_tag, orders_of
from orion_cli.core.reconcile.results import DEFAULT_GRACE, ENDED_NOT_RESUMED, Drift, VenueReconcile, attach_drift
from orion_cli.core.reconcile.rows import ENDED_STATUSES, UNDECIDED_STATUSES
from orion_cli.execution.state import ExecStatus, load_result, resume_command
from orion_cli.store.audit import iso_utc
from orion_cli.store.db import Database
from orion_cli.store.ledger import NETTING_VENUES
from orion_cli.store.tables import executions, fills, orders, plain
from orion_cli.venues.trading import Action, OrderStatus

# An execution left in a non-final state that no process drives (its key lock is free), or that has
# not moved for longer than the grace period, was interrupted (a crash, a kill) between its legs: one
# leg may be filled with nothing on the other venue. HALTED ones too, whether or not the kill switch
# has been released since: the executor's halt alerted once, but until a resume ends it a failed
# unwind's leg (or dust) stays held, and `trade --watch` refuses to trade beside it as interrupted; a
# cron run must not call that clean. HEDGED ones too: most hold equal shares, but a first leg beyond the
# hedge's size step waits there for its unwind, and a crash while a resume accepted released dust
# leaves it there (found in review: reported by nothing). Derived from the machine, so a status added
# to it is not missed; the ended ones (final) are :func:`unhedged_ended_executions`'.
_STUCK = tuple(s.value for s in ExecStatus if not s.final)
# The fix of an interrupted execution's drift (a resume ends it), and the start of an ended one's (it is
# not resumed: what it left unhedged is hedged or closed by hand). The command's hint tells them apart.
INTERRUPTED_FIX = "not fixed by reconcile: resume the execution (orion trade ... --idempotency-key)"


MAX_HALT_MESSAGE = 300  # of a halted execution's own message, quoted in its drift


@dataclass(frozen=True, slots=True)
class Unhedged:
    """An interrupted execution whose legs hold unequal shares: what `orion reconcile` reports as an
    ``execution`` drift and `orion resume` warns of (one reading, so the two name the same ones)."""

    key: str
    opportunity_id: str
    mode: str
    status: str
    updated_at: str
    imbalance: Imbalance
    halted_for: str = ""  # a halted one's own message (why it halted), one line; else ""
    # Its resume would hedge the filled first leg, so that while halted it sells it back instead
    # (:func:`~orion_cli.execution.state.halt_sells_back`): what a printed resume command must say then.
    halt_sells_back: bool = False
    plan: str = ""  # its stored plan (which records the data flags it was traded on)
    # The market of the leg holding more has settled in the ledger: its payout closed those shares, and
    # a resume ends the execution sending nothing (it no longer sells them back, halted or not).
    settled: bool = False

    def resume(self, source_flags: str = "") -> str:
        """The command that resumes it (its own key: nothing already sent is sent again), with the data
        flags recorded with it, else ``source_flags``."""
        return resume_command(self.opportunity_id, self.key, mode=self.mode, source_flags=source_flags,
                              plan=self.plan)

    @property
    def data_recorded(self) -> bool:
        """Whether its stored plan says which data it was traded on (so :meth:`resume` needs no flags)."""
        from orion_cli.execution.state import recorded_source_flags

        return recorded_source_flags(self.plan) is not None


def unhedged_executions(db: Database, mode: str, *, now: datetime | None = None,
                        grace: timedelta = DEFAULT_GRACE) -> list[Unhedged]:
    """The interrupted executions of ``mode`` (see ``_STUCK``) whose legs hold unequal shares, oldest first.

    A recent one may still be running (a trade beside this call): interrupted only if no one drives it
    (its key lock is free), or if it has not moved for ``grace``. One with nothing filled, or equal
    shares, was interrupted with nothing at risk: not listed (its resume ends it).
    """
    from orion_cli.execution.keylock import unfinished_executions
    from orion_cli.execution.state import halt_sells_back

    cut = iso_utc((now or datetime.now(UTC)) - grace)
    rows = [e for e in unfinished_executions(db, mode, _STUCK) if not e["running"] or e["updated_at"] < cut]
    if not rows:
        return []
    with db.read() as conn:
        legs = orders_of(conn, [row["key"] for row in rows])
        recorded = {r.key: r.result for r in conn.execute(select(executions.c.key, executions.c.result)
                                                          .where(executions.c.key.in_(list(legs))))}
        uneven = {row["key"]: imbalance for row in rows
                  if (imbalance := Imbalance.of(legs[row["key"]], recorded.get(row["key"]))) is not None
                  and imbalance.unhedged != 0}  # else nothing filled, or equal shares: nothing is at risk
        settled = settled_in(conn, mode, {i.market for i in uneven.values()})
    found: list[Unhedged] = []
    for row in rows:
        imbalance = uneven.get(row["key"])
        if imbalance is None:
            continue
        paid = (imbalance.venue.value, imbalance.market) in settled
        found.append(Unhedged(row["key"], row["opportunity_id"], row["mode"], row["status"], row["updated_at"],
                              imbalance, _halted_for(recorded.get(row["key"])) if row["status"] ==
                              ExecStatus.HALTED.value else "",
                              imbalance.leg == "first" and not paid
                              and halt_sells_back(row["status"], recorded.get(row["key"])),
                              row["plan"], paid))
    return found


def resume_sells_back(db: Database, key: str, status: str, result: str | None) -> bool:
    """Whether resuming execution ``key`` while trading is halted would sell a filled first leg back
    (:func:`~orion_cli.execution.state.halt_sells_back`), judged on what its orders filled as
    :func:`unhedged_executions` judges it: the first leg holds more than the second.

    Why: the status alone says a hedge is still to buy at ``leg2_sent`` whose two legs both filled, or
    at ``leg1_sent`` whose first leg filled nothing; warning of a sell-back there sends the trader to
    release the kill switch for nothing. A first leg still undecided in the ledger (sent, its outcome
    unknown, or resting) may yet fill: the warning then stands, the safe side. (A second leg's intent
    is not: not sent, or sent to hedge, it can only make the legs more even.)
    """
    from orion_cli.execution.state import halt_sells_back

    if not halt_sells_back(status, result):
        return False
    with db.read() as conn:
        legs = orders_of(conn, [key])[key]
        if not legs or any(leg_of(o, {}) == "first" and not OrderStatus(o.status).terminal for o in legs):
            return True  # nothing to judge by (its orders are gone), or a first leg that may yet fill
        imbalance = Imbalance.of(legs, result)
        if imbalance is None or imbalance.unhedged <= 0 or imbalance.leg != "first":
            return False
        # Its market settled: the resume ends it sending nothing (the payout closed the shares).
        mode = str(conn.execute(select(executions.c.mode).where(executions.c.key == key)).scalar())
        return (imbalance.venue.value, imbalance.market) not in settled_in(conn, mode, [imbalance.market])


def halted_resume_sells_only_on(db: Database, key: str, result: str | None, *, halted_now: bool) -> Venue | None:
    """The one venue a resume of halted execution ``key`` can send to, when all it can send is the sell-back
    of the leg holding the most: no buy follows (trading is halted now, or its unwind sold shares, after
    which the executor buys nothing more; one whose unwind sold nothing may still hedge) and none of its
    orders is undecided (one would be looked up, and perhaps sent again, where it went). None when that
    cannot be told, or when nothing is left to sell.

    Why: a resume is refused while Kalshi is not trading if it may send an order there; a halted execution
    may be anywhere, so both venues were assumed, and its Polymarket sell-back waited out a Kalshi
    maintenance window with the shares naked (found in review)."""
    try:
        intents = load_result(result or "").get("intents")
    except (ValueError, RecursionError):
        return None
    with db.read() as conn:
        legs = orders_of(conn, [key])[key]
    if not legs or any(not OrderStatus(o.status).terminal for o in legs):
        return None
    named = intents if isinstance(intents, dict) else {}
    unwind_sold = any((tag := order_tag(o.client_order_id)).startswith("u") and tag in named
                      and Decimal(o.filled_size) > 0 for o in legs)
    if not (halted_now or unwind_sold):
        return None
    imbalance = Imbalance.of(legs, result)
    if imbalance is None or imbalance.unhedged <= 0:
        return None
    return imbalance.venue


def settled_in(conn: Connection, mode: str, markets: Iterable[str]) -> set[tuple[str, str]]:
    """The (venue, market) pairs among ``markets`` whose settlement the ``mode`` ledger has recorded: one read,
    however many (none for no markets)."""
    from orion_cli.store.tables import settlements

    wanted = sorted(set(markets))
    if not wanted:
        return set()
    return {(r.venue, r.market_id) for r in conn.execute(
        select(settlements.c.venue, settlements.c.market_id).where(
            settlements.c.mode == mode, settlements.c.market_id.in_(wanted)))}


def _halted_for(result: str | None) -> str:
    """A halted execution's own message (why it halted: the unwind that failed, the dust left), as one
    line of at most ``MAX_HALT_MESSAGE`` characters; "" when its result has none or cannot be read."""
    try:
        message = load_result(result or "").get("message")
    except (ValueError, RecursionError):
        return ""
    text = " ".join(str(message).split()) if message else ""
    return text if len(text) <= MAX_HALT_MESSAGE else text[:MAX_HALT_MESSAGE - 1] + "…"


def report_stuck_executions(ctx: RunContext, results: list[VenueReconcile]) -> None:
    """Report every interrupted execution with unequal legs as drift (exit 7, alert, ``--halt-on-drift``),
    halted ones included (:func:`unhedged_executions`).

    Reconcile never trades, so it does not finish them: it names the command that resumes one (the
    execution's own key, so nothing already sent is sent again). Reported by every run until resumed,
    and alerted by each, as any drift a run finds is.
    """
    from orion_cli.execution.state import resume_advice
    from orion_cli.risk.halt import KillSwitch

    if not results:
        return
    stuck: list[Drift] = []  # not the execution drifts of late fills: each venue's own summary has those
    found = unhedged_executions(ctx.db, ctx.mode, now=ctx.now, grace=ctx.grace)
    # Trading halted, or about to be by this run's --halt-on-drift: the resume command each drift names
    # would sell the filled leg back, not hedge it, and the drift says so (and to release the halt first).
    # Its release named exactly: a halt in force (a drawdown trip's, the sentinel file), else the one
    # --halt-on-drift is about to engage (None: an ordinary kind).
    halt = KillSwitch(ctx.db, sentinel_file=ctx.settings.halt.sentinel_file, mode=ctx.mode).status(trading=True) \
        if found else None  # as it stands for this mode's trading: a paper-only halt sells no live leg back
    halted = halt is not None and (halt.halted or ctx.halt_on_drift)
    held = halt if halt is not None and halt.halted else None
    for e in found:
        imbalance = e.imbalance
        why = f"; it halted: {e.halted_for}" if e.halted_for else ""
        advice = resume_advice(e.resume(ctx.source_flags), sells_back=halted and e.halt_sells_back, halt=held)
        if e.settled:
            advice = (f"its market has settled since (the ledger holds its payout), so nothing is left to hedge or "
                      f"sell: {advice} to end it, sending nothing")
        drift = Drift(
            venue=imbalance.venue, kind="execution", market=imbalance.market, side=imbalance.side,
            ledger_qty=plain(imbalance.held), venue_qty=plain(imbalance.other), value=imbalance.value,
            detail=(f"execution {e.key} was interrupted at {e.status} (last change {e.updated_at}{why}): "
                    f"{imbalance.held_text}; {advice}"),
            ref=e.key, fix=INTERRUPTED_FIX)
        attach_drift(results, drift)
        stuck.append(drift)
    _report_executions(ctx, stuck, "reconcile.execution_interrupted", f"{len(stuck)} interrupted execution(s)",
                       "may leave a leg unhedged")


def _report_executions(ctx: RunContext, drifts: Sequence[Drift], event: str, what: str, alert_says: str) -> None:
    """Audit ``drifts`` (one ``event`` each), halt for them under ``--halt-on-drift``, and alert once."""
    if not drifts:
        return
    halted_alert = None
    with ctx.db.write() as conn:
        for d in drifts:
            ctx.audit(conn, event, d.to_record(), venue=d.venue, market=d.market)
        if ctx.halt_on_drift:
            halted_alert = halt_for_drift(ctx, conn, f"reconcile found {what} (--halt-on-drift)", {})
    ctx.alerts.emit("reconcile.drift", f"{ctx.mode}: {what} {alert_says}",
                    {"mode": ctx.mode, "drifts": [d.to_record() for d in drifts]})
    if halted_alert is not None:
        ctx.alerts.emit(*halted_alert)


@dataclass(frozen=True, slots=True)
class EndedUnhedged:
    """An ended execution whose legs the ledger holds unequal: what `orion reconcile` reports as an
    ``execution`` drift on every run (:func:`unhedged_ended_executions`)."""

    key: str
    status: str
    created_at: str
    updated_at: str
    imbalance: Imbalance
    left: Decimal  # the shares still unhedged
    outside: Decimal  # of the legs' difference, what trades outside orion since it began closed or hedged
    accepted: Decimal = ZERO  # of it, the dust its resume accepted (``result.dust_accepted``)

    def drift(self, source_flags: str = "") -> Drift:
        """Its ``execution`` drift; ``source_flags``: the data flags (paper) the `reconcile --fix` it names needs."""
        imbalance = self.imbalance
        said = f"{plain(imbalance.unhedged)} unhedged"
        if self.accepted:
            said += f" ({plain(self.accepted)} of them dust accepted when it ended, left out)"
        if self.outside:
            said += (f", {plain(self.outside)} of them closed or hedged by trades outside orion since it began: "
                     f"{plain(self.left)} left")
        # Its own events only (execution.* name it by key, order.* by execution_id): `--type execution` alone
        # listed every execution's transitions since then, and none of its orders (found in review).
        mine = f"select(.payload.key == {json.dumps(self.key)} or .payload.execution_id == {json.dumps(self.key)})"
        look = (f"look at it with `orion audit tail --since {self.created_at} --json | jq -c {shlex.quote(mine)}` "
                "and at what the ledger holds with `orion positions`")
        return Drift(
            venue=imbalance.venue, kind="execution", market=imbalance.market, side=imbalance.side,
            ledger_qty=plain(imbalance.held), venue_qty=plain(imbalance.other),
            value=round_money(self.left * imbalance.price),
            detail=(f"execution {self.key} has ended {self.status} (last change {self.updated_at}) with its legs "
                    f"unequal: {legs_held_text(imbalance)}: {said}; {look}"),
            ref=self.key,
            fix=(f"{ENDED_NOT_RESUMED}; hedge or close the {plain(self.left)} unhedged by hand (`orion reconcile"
                 f"{source_flags} --fix` records that trade, which ends this drift), or it ends when the market "
                 "settles"))


def _ended_uneven(mode: str) -> Any:
    """The keys of the ended executions of ``mode`` whose orders hold their legs unequal, none of those
    orders undecided: one aggregate over every ended execution's orders, so a run's cost does not grow
    with the executions it holds in round trips.

    Per execution and instrument (venue, market, side: one per leg, as the executor's legs are), what its
    orders hold (buys less sells), what its buys were for (each up to its size) and what it sold. Even as
    :class:`Imbalance` judges it: the two instruments hold as many (or the one holds none), or nothing
    was sold and the buys were for as many (an overfill beside an equal pair is held). Anything else
    (three instruments, say) is judged by :class:`Imbalance` from its rows. One with an order undecided
    is left to the late-fill judgement (:func:`judge_deferred_late_fills`): its fills may come yet."""
    o = orders.c
    buy = o.action == Action.BUY.value
    per = (select(o.execution_id.label("key"),
                  func.sum(case((buy, o.filled_size), else_=-o.filled_size)).label("held"),
                  func.sum(case((buy, case((o.filled_size < o.size, o.filled_size), else_=o.size)),
                                else_=0)).label("asked"),
                  func.sum(case((buy, 0), else_=o.filled_size)).label("sold"),
                  func.sum(case((o.status.in_(sorted(UNDECIDED_STATUSES)), 1), else_=0)).label("undecided"))
           .join(executions, executions.c.key == o.execution_id)
           .where(executions.c.mode == mode, executions.c.status.in_(sorted(ENDED_STATUSES)))
           .group_by(o.execution_id, o.venue, o.market_id, o.side)
           .subquery())
    legs = func.count()
    alike = (func.max(per.c.held) == func.min(per.c.held), func.max(per.c.asked) == func.min(per.c.asked))
    even = or_(and_(legs == 1, func.max(per.c.held) == 0), and_(legs == 2, alike[0]),
               and_(func.sum(per.c.sold) == 0,
                    or_(and_(legs == 1, func.max(per.c.asked) == 0), and_(legs == 2, alike[1]))))
    return (select(per.c.key).group_by(per.c.key)
            .having(func.sum(per.c.undecided) == 0, not_(even)))


def _leftover(record: Mapping[str, Any], name: str, imbalance: Imbalance) -> Decimal:
    """The shares the executor recorded under ``name`` (``dust_accepted``, ``closed_outside``) for the leg
    holding more; 0 when it recorded none there (or none that can be read)."""
    entry = record.get(name)
    if not isinstance(entry, dict) or (entry.get("venue"), entry.get("market"), entry.get("side")) != (
            imbalance.venue.value, imbalance.market, imbalance.side.value):
        return ZERO
    try:
        return to_decimal(entry.get("shares"), f"{name}.shares")
    except (DataError, ArithmeticError):
        return ZERO


Instrument = tuple[Venue, str, Side]


def _moves(f: Any, instrument: Instrument) -> int:
    """+1 when fill ``f`` adds to what is held of ``instrument``, -1 when it takes from it, 0 neither (on a
    netting venue a buy of the other side of its market takes from it, as the venue nets the pair)."""
    venue, market, side = instrument
    if f.venue != venue.value or f.market_id != market:
        return 0
    buy = f.action == Action.BUY.value
    if f.side == side.value:
        return 1 if buy else -1
    return (-1 if buy else 1) if venue in NETTING_VENUES else 0


def unhedged_ended_executions(db: Database, mode: str) -> list[EndedUnhedged]:
    """The ended executions of ``mode`` whose legs the ledger holds unequal, oldest first.

    Judged as the interrupted ones are (:class:`Imbalance`: unwind sells and hedge retries counted, an
    overfill beside an equal pair held), then less what ended it on purpose or since:

    * the dust its resume accepted once the operator released the halt that named it
      (``result.dust_accepted``: the README's "closed by hand", left recorded), and the shares its unwind
      found closed outside orion (``result.closed_outside``);
    * trades placed outside orion since it began (orders of no execution: an ``ext-…`` order or a
      ``reconcile-adj-…`` fill that `reconcile --fix` recorded) selling the leg holding more, or buying
      the other leg: a close or a hedge by hand, each share counted for one execution, the oldest first;
    * a leg holding more whose market the ledger has settled: nothing is left to hedge or close (its
      payout closed it), so it is not listed.

    Four reads at most, whatever the number of executions: one finds the uneven (most runs: none), the
    others read theirs."""
    with db.read() as conn:
        rows = conn.execute(select(executions.c.key, executions.c.status, executions.c.result,
                                   executions.c.created_at, executions.c.updated_at)
                            .where(executions.c.key.in_(_ended_uneven(mode)))
                            .order_by(executions.c.created_at, executions.c.key)).all()
        if not rows:
            return []
        legs = orders_of(conn, [row.key for row in rows])
        judged: list[tuple[Any, Imbalance, Instrument | None]] = []  # (execution row, its legs, its other leg)
        for row in rows:
            imbalance = Imbalance.of(legs[row.key], row.result)
            if imbalance is None or imbalance.unhedged == 0:
                continue
            heavy = (imbalance.venue, imbalance.market, imbalance.side)
            light = next(((Venue(o.venue), o.market_id, Side(o.side)) for o in legs[row.key]
                          if (Venue(o.venue), o.market_id, Side(o.side)) != heavy), None)
            judged.append((row, imbalance, light))
        if not judged:
            return []
        markets = sorted({m for _, i, light in judged for m in (i.market, *((light[1],) if light else ()))})
        settled = settled_in(conn, mode, markets)
        # The trades placed outside orion (orders of no execution) in those markets since the oldest began.
        outside = conn.execute(
            select(fills.c.venue, fills.c.market_id, fills.c.side, fills.c.action, fills.c.size, fills.c.ts)
            .select_from(fills.outerjoin(orders, orders.c.client_order_id == fills.c.client_order_id))
            .where(fills.c.mode == mode, fills.c.market_id.in_(markets), orders.c.execution_id.is_(None),
                   fills.c.ts >= min(str(e.created_at) for e, _, _ in judged))
            .order_by(fills.c.ts, fills.c.fill_id)).all()
    unused = [Decimal(f.size) for f in outside]  # what each has not been counted against yet
    found: list[EndedUnhedged] = []
    for row, imbalance, light in judged:
        if (imbalance.venue.value, imbalance.market) in settled:
            continue
        try:
            record = load_result(row.result)
        except (ValueError, RecursionError):
            record = {}
        accepted = min(imbalance.unhedged, _leftover(record, "dust_accepted", imbalance))
        need = imbalance.unhedged - accepted
        took = ZERO
        heavy = (imbalance.venue, imbalance.market, imbalance.side)
        for i, f in enumerate(outside):  # the oldest execution takes the first trades made after it began
            if unused[i] <= 0 or f.ts < row.created_at:
                continue
            if _moves(f, heavy) < 0 or (light is not None and _moves(f, light) > 0):
                share = min(need - took, unused[i])
            elif took > 0 and (_moves(f, heavy) > 0 or (light is not None and _moves(f, light) < 0)):
                # The other way (the hedge sold, the close bought back): it undoes what was counted. Found in
                # review: a round trip by hand read as a hedge and the naked leg as clean.
                share = -min(took, unused[i])
            else:
                continue
            unused[i] -= abs(share)
            took += share
        gone = min(need, max(took, _leftover(record, "closed_outside", imbalance)))
        if need - gone > 0:
            found.append(EndedUnhedged(row.key, row.status, row.created_at, row.updated_at, imbalance, need - gone,
                                       gone, accepted))
    return found


def report_ended_unhedged(ctx: RunContext, results: list[VenueReconcile]) -> None:
    """Report every ended execution that leaves a leg unhedged (:func:`unhedged_ended_executions`) as an
    ``execution`` drift (exit 7, audited as ``reconcile.execution_unhedged``, alerted, and halted for with
    ``--halt-on-drift``) on every run, as an interrupted execution's is, until that is gone. One this run
    already reported (its late fill judged just now) is not reported twice."""
    if not results:
        return
    reported = {d.ref for r in results for d in r.drifts if d.kind == "execution"}
    found = [e.drift(ctx.source_flags) for e in unhedged_ended_executions(ctx.db, ctx.mode) if e.key not in reported]
    for d in found:
        attach_drift(results, d)
    _report_executions(ctx, found, "reconcile.execution_unhedged", f"{len(found)} ended execution(s)",
                       "leave a leg unhedged")
