"""Fills that reach an execution after it ended: recorded, then judged once both legs are decided.

A fill resolved early in a run may be hedged by the other leg's fill found later in the same run, so
judging waits until none of the execution's orders is undecided, and the verdict is reported once.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, select

from orion_cli.core.errors import DataError
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ZERO, to_decimal
from orion_cli.core.reconcile.context import RunContext, halt_for_drift, round_money
from orion_cli.core.reconcile.legs import Imbalance, execution_legs, legs_held_text
from orion_cli.core.reconcile.results import ENDED_NOT_RESUMED, Drift, VenueReconcile, attach_drift
from orion_cli.core.reconcile.rows import ENDED_STATUSES, UNDECIDED_STATUSES
from orion_cli.execution.state import load_result, save_result
from orion_cli.store.audit import iso_utc
from orion_cli.store.tables import executions, orders, plain
from orion_cli.venues.trading import Fill


def late_fill(ctx: RunContext, conn: Connection, venue: Venue, ended: Row[Any], row: Row[Any],
              new: Sequence[Fill], *, defer: bool = False) -> list[Drift]:
    """Record in an ended execution the fills ``new`` of its leg ``row``, recorded after it ended
    (adopted in step (2), or found in step (1) for an order it left in flight); [the drift] when that
    leaves its legs unequal.

    Its result said what it knew when it ended ("nothing filled", "both legs filled in equal
    shares"); left so, a naked leg read as none, and once the fill is adopted nothing reports it
    (reconcile looks for unequal legs in executions that have not ended). The status stays (an
    ended execution is never resumed): the result gains ``late_fills`` and its message says what is
    now held, audited as ``execution.late_fill``. With ``defer`` (step (1)) the legs are judged only
    once none of its orders is undecided in the ledger: another order's fills may be read later (in
    this run, on its venue), and judged before that a pair would read as unequal. Such entries keep
    ``unhedged_shares`` null ("not judged"); :func:`judge_deferred_late_fills` judges them at the
    end of the run that decides the last of its orders, whether or not that brings a fill.

    A result that cannot take the entries (unreadable, or ``late_fills`` not a list) is left as it is,
    so nothing would find them waiting there: their legs are judged at once even then (a drift that a
    fill found later in the run may make stale, rather than a naked leg no run reports), and the audit
    event says the result was not updated.
    """
    legs = execution_legs(conn, ended.key)
    imbalance = Imbalance.of(legs, ended.result)
    try:
        record: dict[str, Any] | None = load_result(ended.result)
    except (ValueError, RecursionError):  # unreadable: left as it is (the audit event and the drift still say it)
        record = None
    unusable = "its result cannot be read" if record is None else \
        "its result's late_fills is not a list" if not isinstance(record.get("late_fills", []), list) else ""
    # Step (1) only: there the other leg's fills may be read later in this run. A fill adopted in step
    # (2) is judged at once, as before.
    in_flight = sum(1 for o in legs if o.status in UNDECIDED_STATUSES) if defer else 0
    undecided = 0 if unusable else in_flight
    unhedged = ZERO if imbalance is None else imbalance.unhedged
    held = legs_held_text(imbalance)
    judged = f"{plain(unhedged)} unhedged" if not undecided else \
        f"not judged while {undecided} of its orders is not final in the ledger"
    early = (f"; judged at once, while {in_flight} of its orders is not final in the ledger, as {unusable}: "
             "its late fills cannot wait there for a judgement") if unusable and in_flight else ""
    entries = [{"client_order_id": row.client_order_id, "fill_id": f.fill_id, "action": f.action.value,
                "size": plain(f.size), "price": plain(f.price), "fee": plain(f.fee), "ts": iso_utc(f.ts),
                "recorded_at": iso_utc(ctx.now), "unhedged_shares": None if undecided else plain(unhedged)}
               for f in new]
    ids = ", ".join(f.fill_id for f in new)
    size = plain(sum((f.size for f in new), ZERO))
    what = f"fill{'s' if len(new) > 1 else ''} {ids} ({new[0].action.value} {size}) of {row.client_order_id}"
    if record is not None and not unusable:
        if not undecided:  # the legs judged as a whole: so are the fills an earlier pass left waiting
            _judge_waiting(record.get("late_fills", []), plain(unhedged), iso_utc(ctx.now))
        record.setdefault("late_fills", []).extend(entries)
        record["message"] = (f"{record.get('message') or ended.status}; after it ended, reconcile recorded "
                             f"{what}: {held}, {judged}")
        save_result(conn, ended.key, record, now=ctx.now)
    for entry in entries:
        ctx.audit(conn, "execution.late_fill", {"key": ended.key, "status": ended.status, **entry,
                                                **({"result_not_updated": unusable} if unusable else {})},
                  venue=venue, market=row.market_id)
    if imbalance is None or unhedged == 0 or undecided:
        return []
    return [_late_drift(ended, imbalance, what, judged=early)]


def _late_drift(ended: Row[Any], imbalance: Imbalance, what: str, *, judged: str = "") -> Drift:
    """The ``execution`` drift of an ended execution whose late fills (``what``) left its legs unequal."""
    return Drift(imbalance.venue, "execution", imbalance.market, imbalance.side, plain(imbalance.held),
                 plain(imbalance.other), imbalance.value,
                 f"execution {ended.key} has ended {ended.status}, but reconcile recorded {what} after that: "
                 f"{legs_held_text(imbalance)}{judged}", ref=ended.key,
                 fix=f"{ENDED_NOT_RESUMED}; hedge or close the {plain(imbalance.unhedged)} unhedged by hand")


def judge_deferred_late_fills(ctx: RunContext, results: list[VenueReconcile]) -> None:
    """Judge the late fills step (1) left "not judged" in ended executions none of whose orders is in
    flight any more; what they leave unhedged is an ``execution`` drift (alert, ``--halt-on-drift``).

    Why: step (1) defers the judgement while another of the execution's orders is undecided. When
    that order then ends without a new fill (cancelled with nothing filled, never reached the venue),
    or is decided in a later run, no fill reaches :func:`late_fill` again, and a naked leg was
    reported by no run. So, after every venue (a fill found on any of them counts), each ended
    execution whose last ``late_fills`` entry is still unjudged (``unhedged_shares`` null) is judged
    from the ledger; one with an order still undecided stays unjudged and is found again by a later
    run. Judging fills in those entries (and ``judged_at``) in the same transaction as its audit
    event (``execution.late_fill_judged``) and any halt: the next run no longer finds them, so the
    drift is reported once, as a late fill judged at once is (its fill is recorded, and judged, once).
    A later entry already judged has judged the legs as a whole since: the entries waiting before it
    take its judgement (as :func:`late_fill` now gives it; earlier versions left them waiting).
    """
    if not results:
        return
    where_ended = executions.c.mode == ctx.mode, executions.c.status.in_(sorted(ENDED_STATUSES))
    with ctx.db.read() as conn:  # most runs find none: no write transaction (a lock trades wait on) for them
        # The text filter only narrows the read (canonical JSON has no spaces); each record is checked.
        keys = list(conn.execute(select(executions.c.key).where(
            *where_ended, executions.c.result.like('%"unhedged_shares":null%'))).scalars())
    if not keys:
        return
    found: list[Drift] = []
    halted_alert = None
    with ctx.db.write() as conn:
        candidates = conn.execute(select(executions).where(*where_ended, executions.c.key.in_(keys))
                                  .order_by(executions.c.created_at, executions.c.key)).all()
        for ended in candidates:
            drift = _judge_deferred(ctx, conn, ended, results[0].venue)
            if drift is not None:
                found.append(drift)
        if found and ctx.halt_on_drift:
            halted_alert = halt_for_drift(ctx, conn, f"reconcile found {len(found)} ended execution(s) left "
                                          "unhedged by late fills (--halt-on-drift)", {})
    if not found:
        return
    for d in found:
        attach_drift(results, d)
    ctx.alerts.emit("reconcile.drift", f"{ctx.mode}: {len(found)} ended execution(s) left unhedged by late fills",
                    {"mode": ctx.mode, "drifts": [d.to_record() for d in found]})
    if halted_alert is not None:
        ctx.alerts.emit(*halted_alert)


def _judge_deferred(ctx: RunContext, conn: Connection, ended: Row[Any], where: Venue) -> Drift | None:
    """Judge ended execution ``ended``'s unjudged late fills when none of its orders is undecided; its
    drift when that leaves its legs unequal (see :func:`judge_deferred_late_fills`). ``where``: the
    venue a drift that no order places is reported under."""
    try:
        record = load_result(ended.result)
    except (ValueError, RecursionError):
        return None
    late = record.get("late_fills")
    if not isinstance(late, list):
        return None
    # The last entry that is one: an item of another kind after the waiting entries must not leave them
    # waiting for good (read again by every run, under the write lock).
    final = next((e for e in reversed(late) if isinstance(e, dict)), None)
    if final is None:
        return None
    last = final.get("unhedged_shares")
    if last is not None:
        # A later entry judged the legs as a whole (a ledger written before that judgement covered the
        # entries waiting before it): they take its judgement, so no later run picks them up again.
        # Audited as any judgement that rewrites the result: which entries, by which later one.
        waiting = _judge_waiting(late, last, str(final.get("judged_at") or final.get("recorded_at") or ""))
        if waiting:
            save_result(conn, ended.key, record, now=ctx.now)
            ctx.audit(conn, "execution.late_fill_judged",
                      {"key": ended.key, "status": ended.status, "fill_ids": [e.get("fill_id") for e in waiting],
                       "unhedged_shares": last, "judged_by": final.get("fill_id")}, venue=None)
        return None
    legs = execution_legs(conn, ended.key)
    if any(o.status in UNDECIDED_STATUSES for o in legs):
        return None  # still in flight: judged by the run that decides it
    imbalance = Imbalance.of(legs, ended.result)
    if imbalance is None:
        return _judge_without_orders(ctx, conn, ended, record, late, where)
    unhedged = imbalance.unhedged
    waiting = _judge_waiting(late, plain(unhedged), iso_utc(ctx.now))
    record["message"] = (f"{record.get('message') or ended.status}; once none of its orders was in flight, "
                         f"reconcile judged its legs: {legs_held_text(imbalance)}, {plain(unhedged)} unhedged")
    save_result(conn, ended.key, record, now=ctx.now)
    what = ", ".join(f"{e.get('fill_id')} ({e.get('action')} {e.get('size')}) of {e.get('client_order_id')}"
                     for e in waiting)
    drift = None if unhedged == 0 else _late_drift(
        ended, imbalance, f"fill{'s' if len(waiting) > 1 else ''} {what}",
        judged="; judged once none of its orders was in flight any more")
    ctx.audit(conn, "execution.late_fill_judged",
              {"key": ended.key, "status": ended.status, "fill_ids": [e.get("fill_id") for e in waiting],
               "unhedged_shares": plain(unhedged), "drift": None if drift is None else drift.to_record()},
              venue=imbalance.venue, market=imbalance.market)
    return drift


def _judge_without_orders(ctx: RunContext, conn: Connection, ended: Row[Any], record: dict[str, Any],
                          late: list[Any], where: Venue) -> Drift | None:
    """Judge the waiting late fills of ended execution ``ended``, which no order of the ledger names (only
    a ledger edited by hand gets there: each entry was recorded for one of its orders): its legs cannot
    be judged, so nothing is known to hedge those fills. Their shares are counted unhedged, an
    ``execution`` drift to check by hand, reported once.

    Why: nothing is in flight, so nothing would decide it later; left waiting, every run read it again
    under the write lock, and judged as "nothing held" a naked leg would be reported nowhere.
    """
    waiting = [e for e in late if isinstance(e, dict) and "unhedged_shares" in e and e["unhedged_shares"] is None]
    if not waiting:
        return None
    shares = value = ZERO
    for entry in waiting:
        try:
            size = to_decimal(entry.get("size"), "late_fills.size")
            value += size * to_decimal(entry.get("price"), "late_fills.price")
        except (DataError, ArithmeticError):  # written by reconcile; one that is not counts nothing
            continue
        shares += size
    _judge_waiting(late, plain(shares), iso_utc(ctx.now))
    what = ", ".join(f"{e.get('fill_id')} ({e.get('action')} {e.get('size')}) of {e.get('client_order_id')}"
                     for e in waiting)
    cannot = (f"no order of the ledger names it any more, so its legs cannot be judged: the {plain(shares)} "
              "shares of its late fills are counted unhedged")
    record["message"] = f"{record.get('message') or ended.status}; reconcile judged its late fills: {cannot}"
    save_result(conn, ended.key, record, now=ctx.now)
    # Placed where the order its first fill was recorded on is, when the ledger still holds it.
    named = conn.execute(select(orders.c.venue, orders.c.market_id, orders.c.side).where(
        orders.c.client_order_id == str(waiting[0].get("client_order_id")))).first()
    venue, market, side = where, "", None
    if named is not None:
        try:
            venue, market, side = Venue(named.venue), named.market_id, Side(named.side)
        except ValueError:
            pass
    drift = Drift(venue, "execution", market, side, plain(shares), ZERO, round_money(value),
                  f"execution {ended.key} has ended {ended.status}, but reconcile recorded fill"
                  f"{'s' if len(waiting) > 1 else ''} {what} after that; {cannot}", ref=ended.key,
                  fix="not fixed by reconcile: find the execution's orders and hedge or close what they hold by hand")
    ctx.audit(conn, "execution.late_fill_judged",
              {"key": ended.key, "status": ended.status, "fill_ids": [e.get("fill_id") for e in waiting],
               "unhedged_shares": plain(shares), "drift": drift.to_record()}, venue=venue, market=market or None)
    return drift


def _judge_waiting(late: list[Any], unhedged: Decimal | str, judged_at: str) -> list[dict[str, Any]]:
    """Give the ``late_fills`` entries still waiting for a judgement (``unhedged_shares`` null) the
    judgement of the legs as a whole; the entries so judged."""
    waiting = [e for e in late if isinstance(e, dict) and "unhedged_shares" in e and e["unhedged_shares"] is None]
    for entry in waiting:
        entry.update(unhedged_shares=unhedged, judged_at=judged_at)
    return waiting
