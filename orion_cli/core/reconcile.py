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
import hashlib
import json
import logging
import shlex
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, and_, case, func, not_, or_, select
from sqlalchemy.exc import DBAPIError, StatementError

from orion_cli.core.aio import all_of
from orion_cli.core.alert_sink import AlertSink
from orion_cli.core.config import Settings
from orion_cli.core.errors import (
    AuthError,
    DataError,
    OrionError,
    SecretsError,
    StorageError,
    VenueError,
    VenueUnavailable,
    venue_cause,
)
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import CENT, MICRO, ONE, ZERO, to_decimal
from orion_cli.execution.state import (
    ADJUST_PREFIX,
    LATE_LISTING_GRACE,
    NEVER_SENT,
    ExecStatus,
    load_result,
    resume_command,
    save_result,
)
from orion_cli.store.audit import AuditLog, canonical_json, default_actor, iso_utc
from orion_cli.store.db import Database
from orion_cli.store.ledger import NETTING_VENUES, CountedTransfer, Ledger, SettledMarket
from orion_cli.store.tables import MONEY_QUANTUM, executions, fills, orders, plain
from orion_cli.venues.trading import (
    Action,
    Balance,
    Fill,
    Geoblocked,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    PreparedOrder,
    Settlement,
    SettlementsIncomplete,
    TimeInForce,
    TradingVenue,
    Transfer,
    fit_fills,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_LOOKBACK",
    "Drift",
    "EndedUnhedged",
    "Resolved",
    "Unhedged",
    "VenueReconcile",
    "order_rows",
    "reconcile",
    "reconcile_async",
    "teach",
    "teach_fees",
    "unhedged_ended_executions",
    "unhedged_executions",
]

T = TypeVar("T")

DEFAULT_LOOKBACK = timedelta(hours=24)
DEFAULT_GRACE = LATE_LISTING_GRACE
OPEN_STATUSES = (OrderStatus.INTENT, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN, OrderStatus.OPEN)
# The fix of an order's drift that the venue has not decided (:func:`_unattended`).
ORDER_UNDECIDED_FIX = "not fixed by reconcile: the venue has not decided it"
NOT_FINAL = (OrderStatus.INTENT, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN)
QTY_TOLERANCE = MICRO  # Polymarket's 6-decimal share unit
EXTERNAL_PREFIX = "ext-"
MAX_AUDITED_DRIFTS = 200
# NEVER_SENT first: a resumed execution must not count this order as a hedge attempt that was sent.
NEVER_REACHED = f"{NEVER_SENT}never reached the venue (reconcile: the venue does not know the order)"


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drift:
    """One disagreement between the ledger and a venue.

    ``value`` is the size of the disagreement in dollars: |venue − ledger| × price, the price being
    the mark when one is given, else the venue's average price, else the ledger's.
    """

    venue: Venue
    kind: str  # position | order | fill | balance | settlement | transfers
    market: str
    side: Side | None
    ledger_qty: Decimal
    venue_qty: Decimal
    value: Decimal
    detail: str
    ref: str = ""  # fill id / venue order id / client order id
    fixed: bool = False
    fix: str = ""  # what --fix did, or why it could not

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "drift",
            "venue": self.venue.value,
            "kind": self.kind,
            "market": self.market,
            "side": self.side.value if self.side is not None else None,
            "ledger_qty": plain(self.ledger_qty),
            "venue_qty": plain(self.venue_qty),
            "value": plain(self.value),
            "detail": self.detail,
            "ref": self.ref,
            "fixed": self.fixed,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Resolved:
    """A ledger order whose outcome was looked up at the venue and recorded."""

    venue: Venue
    client_order_id: str
    venue_order_id: str
    market: str
    side: Side
    before: str
    after: str
    filled_size: Decimal
    new_fills: int
    detail: str

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "resolved",
            "venue": self.venue.value,
            "client_order_id": self.client_order_id,
            "order_id": self.venue_order_id,
            "market": self.market,
            "side": self.side.value,
            "from": self.before,
            "to": self.after,
            "filled_size": plain(self.filled_size),
            "new_fills": self.new_fills,
            "detail": self.detail,
        }


@dataclass
class VenueReconcile:
    """The outcome for one venue: ``clean``, ``drift`` or ``unavailable`` (with ``reason``)."""

    venue: Venue
    mode: str
    status: str = "clean"
    drifts: list[Drift] = field(default_factory=list)
    resolved: list[Resolved] = field(default_factory=list)
    settled: list[SettledMarket] = field(default_factory=list)
    transfers: list[CountedTransfer] = field(default_factory=list)  # deposits/withdrawals counted as capital
    reason: str = ""
    rejected: bool = False  # unavailable because the venue refused our credentials (exit 4, not 5)
    geoblocked: bool = False  # unavailable because the venue refused this host's location (exit 6, not 5)
    hint: str = ""  # what to do about a refusal (the venue's error's hint); not in the record
    pending: list[str] = field(default_factory=list)  # not judged yet: too recent to call
    balance: Balance | None = None
    report_withheld: str = ""  # live: why the venue's balance report was not recorded ("" when it was)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def fixed(self) -> int:
        return sum(1 for d in self.drifts if d.fixed)

    @property
    def refusal(self) -> str | None:
        """Why the venue refused to be read, as the error's ``reason`` the exit code goes with:
        ``auth`` (our credentials, exit 4), ``GEOBLOCKED`` (this host's location, exit 6); else None
        (an outage, or read in full)."""
        return "auth" if self.rejected else Geoblocked.reason if self.geoblocked else None

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "reconcile",
            "venue": self.venue.value,
            "mode": self.mode,
            "status": self.status,
            "drifts": [d.to_record() for d in self.drifts],
            "resolved": [r.to_record() for r in self.resolved],
            "settled": [x.to_record() for x in self.settled],
            "transfers": [x.to_record() for x in self.transfers],
            "pending": list(self.pending),
            "fixed": self.fixed,
            "reason": self.reason or None,
            "refusal": self.refusal,
            "balance": None if self.balance is None else self.balance.to_record(),
            "report_withheld": self.report_withheld or None,
            "counts": dict(self.counts),
        }


class _Unreachable(Exception):
    """A venue call failed: the venue is reported unavailable, the others carry on. ``rejected``: it
    refused our credentials (exit 4: a key to fix, not an outage to wait out); ``geoblocked``: it
    refused this host's location (exit 6, as a trade it refuses so: a host to move, nothing read)."""

    def __init__(self, reason: str, *, rejected: bool = False, geoblocked: bool = False, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rejected = rejected
        self.geoblocked = geoblocked
        self.hint = hint

    @classmethod
    def of(cls, exc: OrionError) -> _Unreachable:
        # The cause: the reason is shown as "kalshi unavailable: <reason>" (and so is the exit-5 error).
        return cls(venue_cause(exc), rejected=isinstance(exc, AuthError), geoblocked=isinstance(exc, Geoblocked),
                   hint=exc.hint or "")


async def _call(aw: Awaitable[T]) -> T:
    """A venue read; its failure makes the venue unavailable (:class:`_Unreachable`). Not a failure of the
    ledger's own database (:class:`StorageError`: busy, damaged, full), which the paper venue reads
    and writes: that is raised as it is and ends the run (exit 3, its reason). Taken for the venue's,
    a busy ledger was "kalshi unavailable: database is busy", exit 5, which a unit counting 5 as an
    outcome (SuccessExitStatus=5 7) let pass, and the metrics said the venue was down."""
    try:
        return await aw
    except StorageError:
        raise
    except OrionError as exc:
        raise _Unreachable.of(exc) from exc


# -- helpers ----------------------------------------------------------------------------------


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _q(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def _valid_price(price: Decimal | None) -> Decimal | None:
    if price is None or not price.is_finite():
        return None
    p = _q(price)
    return p if ZERO < p < ONE else None


def _ledger_coid(prefix: str, venue: Venue, ref: str) -> str:
    """A deterministic client order id for an adopted order (≤ 100 chars, the column's width)."""
    coid = f"{prefix}{venue.value}-{ref}"
    if len(coid) <= 100:
        return coid
    return f"{prefix}{venue.value}-{hashlib.sha256(ref.encode()).hexdigest()[:64]}"


def _request_of(row: Row[Any]) -> OrderRequest | None:
    try:
        tif = TimeInForce(row.time_in_force)
        return OrderRequest(Venue(row.venue), row.market_id, Side(row.side), Action(row.action), Decimal(row.size),
                            Decimal(row.limit_price), tif, row.client_order_id, token_id=row.token_id)
    except ValueError:
        return None


def teach(tv: TradingVenue, rows: Sequence[Row[Any]]) -> None:
    """Tell a live client what our persisted orders meant, as a restarted process must.

    Kalshi reports an ``ask`` identically for "sell YES" and "buy NO" (``remember`` disambiguates);
    Polymarket needs token → (market, side) to name markets as the ledger does (``register_token``).
    """
    remember = getattr(tv, "remember", None)
    register = getattr(tv, "register_token", None)
    for row in rows:
        request = _request_of(row)
        if request is None:
            continue
        if callable(remember):
            remember(request, row.venue_order_id)
        if callable(register) and row.token_id:
            register(row.token_id, row.market_id, request.side)


def teach_fees(conn: Connection, tv: TradingVenue, venue: Venue, rows: Sequence[Row[Any]]) -> None:
    """Tell a client (``remember_fee``) the fee model each of these orders' executions planned its
    ``venue`` legs with.

    Why: Polymarket's trade records do not reliably report the fee charged (a V2 taker fill has been
    seen with ``fee_rate_bps`` 0), so its client charges a fill by the market's model when it knows
    one. Each execution's plan persists its legs' models, and reading them is one local query (no
    venue request): the fills reconcile records for orion's own orders are then charged as the trade
    that sent them charges them. A plan that cannot be read teaches nothing; those fills, and fills in
    markets orion never planned, keep the trade record's rate.
    """
    remember_fee = getattr(tv, "remember_fee", None)
    keys = sorted({row.execution_id for row in rows if row.execution_id})
    if not callable(remember_fee) or not keys:
        return
    from orion_cli.execution.executor import LegSpec

    for key, text in conn.execute(select(executions.c.key, executions.c.plan).where(executions.c.key.in_(keys))):
        try:
            specs = [LegSpec.from_record(rec) for rec in load_result(text).get("specs", [])]
        except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            log.warning("reconcile: the plan of execution %s cannot be read for its fee models (%s)", key, exc)
            continue
        for spec in specs:
            if spec.venue is venue:
                remember_fee(spec.market_id, spec.fee_model)


def order_rows(conn: Connection, mode: str, venue: Venue, *, statuses: Sequence[OrderStatus] = (),
                since: datetime | None = None) -> list[Row[Any]]:
    stmt = select(orders).where(orders.c.mode == mode, orders.c.venue == venue.value)
    if statuses:
        stmt = stmt.where(orders.c.status.in_([s.value for s in statuses]))
    if since is not None:
        from orion_cli.store.audit import iso_utc

        stmt = stmt.where(orders.c.created_at >= iso_utc(since))
    return list(conn.execute(stmt.order_by(orders.c.created_at, orders.c.client_order_id)).all())


def _find_row(conn: Connection, mode: str, venue: Venue, *, client_order_id: str = "",
              venue_order_id: str = "") -> Row[Any] | None:
    if client_order_id:
        row = conn.execute(select(orders).where(orders.c.client_order_id == client_order_id)).first()
        if row is not None and row.mode == mode and row.venue == venue.value:
            return row
    if venue_order_id:
        return conn.execute(select(orders).where(
            orders.c.mode == mode, orders.c.venue == venue.value, orders.c.venue_order_id == venue_order_id)
            .order_by(orders.c.created_at)).first()
    return None


def _order_being_sent(conn: Connection, mode: str, venue: Venue, f: Fill) -> bool:
    """Whether the ledger holds an order of ours that ``f`` may belong to: same venue, market, side and
    action, not final, and with no venue order id yet (so no fill could be matched to it)."""
    return conn.execute(select(orders.c.client_order_id).where(
        orders.c.mode == mode, orders.c.venue == venue.value, orders.c.market_id == f.market_id,
        orders.c.side == f.side.value, orders.c.action == f.action.value, orders.c.venue_order_id == "",
        orders.c.status.in_([s.value for s in NOT_FINAL])).limit(1)).first() is not None


def _external_payload(**fields: Any) -> str:
    return canonical_json({"external": True, "adopted_by": "reconcile", **fields})


# -- the service ------------------------------------------------------------------------------


@dataclass
class _Context:
    db: Database
    ledger: Ledger
    settings: Settings
    mode: str
    fix: bool
    alerts: AlertSink
    now: datetime  # when the run began: what its grace and lookback judgements are measured from
    # The time as the run goes on (real time, unless a test injects one or a caller fixes ``now``): when
    # it records a fill it learned from the venue. Not ``now``: a report another process read after the
    # run began and before the fill happened would count as holding a fill recorded at ``now``.
    clock: Callable[[], datetime]
    halt_on_drift: bool
    lookback: timedelta
    grace: timedelta
    marks: Mapping[tuple[Venue, str, Side], Decimal]
    actor: dict[str, Any]
    source_flags: str = ""  # paper: the --demo / --snapshot FILE a printed resume command needs
    # How a loss-breaker warning is said to the operator (the command's `warning:` lines, kept with -q).
    warn: Callable[[str], None] | None = None

    def audit(self, conn: Connection, type_: str, payload: Mapping[str, Any], *, venue: Venue | None,
              market: str | None = None) -> None:
        AuditLog.append(conn, type_, payload, mode=self.mode, actor=self.actor,
                        venue=venue.value if venue is not None else None, market=market, now=self.now)


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
) -> list[VenueReconcile]:
    """Synchronous wrapper of :func:`reconcile_async` (runs its own event loop)."""
    return asyncio.run(reconcile_async(db, ledger, venues, settings, mode=mode, fix=fix, alerts=alerts, now=now,
                                       halt_on_drift=halt_on_drift, lookback=lookback, grace=grace, marks=marks,
                                       actor=actor, source_flags=source_flags, clock=clock))


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
) -> list[VenueReconcile]:
    """Reconcile every venue in ``venues`` (in order) against the ``mode`` ledger; see the module doc.

    ``warn``: how a loss-breaker warning this run raises is said (without one, it is audited and
    alerted only): it is said once a day, so a cron run that raises it first must say it.

    ``now``: when the run begins (default: ``clock()``). ``clock``: the time as it runs (default: the
    real time; with a ``now`` given and no ``clock``, that fixed ``now``), which dates the fills it
    records (:func:`_apply_found`, :func:`_missing_fills`)."""
    if ledger.mode != mode:
        raise DataError("mode", f"the ledger is {ledger.mode!r} but reconcile was asked for {mode!r}")
    start = now if now is not None else (clock or _real_time)()
    if clock is None:
        clock = _real_time if now is None else (lambda: start)
    ctx = _Context(db=db, ledger=ledger, settings=settings, mode=mode, fix=fix, alerts=alerts,
                   now=start, clock=clock, halt_on_drift=halt_on_drift, lookback=lookback, grace=grace,
                   marks=dict(marks or {}), actor=dict(actor) if actor is not None else default_actor("reconcile"),
                   source_flags=source_flags, warn=warn)
    _refuse_unknown_states(db)
    results: list[VenueReconcile] = []
    for venue, tv in venues.items():
        result = VenueReconcile(venue=venue, mode=mode)
        try:
            await _reconcile_venue(ctx, venue, tv, result)
        except _Unreachable as exc:
            _unreachable(ctx, venue, result, exc)
        results.append(result)
    _judge_deferred_late_fills(ctx, results)
    _stuck_executions(ctx, results)
    _ended_unhedged(ctx, results)
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


def _update_breaker(ctx: _Context, results: Sequence[VenueReconcile]) -> None:
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
ENDED_NOT_RESUMED = "not fixed by reconcile: an ended execution is not resumed"
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
    imbalance: _Imbalance
    halted_for: str = ""  # a halted one's own message (why it halted), one line; else ""
    # Its resume would hedge the filled first leg, so that while halted it sells it back instead
    # (:func:`~orion_cli.execution.state.halt_sells_back`): what a printed resume command must say then.
    halt_sells_back: bool = False
    plan: str = ""  # its stored plan (which records the data flags it was traded on)

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
        legs = _orders_of(conn, [row["key"] for row in rows])
        recorded = {r.key: r.result for r in conn.execute(select(executions.c.key, executions.c.result)
                                                          .where(executions.c.key.in_(list(legs))))}
    found: list[Unhedged] = []
    for row in rows:
        imbalance = _Imbalance.of(legs[row["key"]], recorded.get(row["key"]))
        if imbalance is None or imbalance.unhedged == 0:
            continue  # nothing filled, or equal shares: interrupted, but nothing is at risk
        found.append(Unhedged(row["key"], row["opportunity_id"], row["mode"], row["status"], row["updated_at"],
                              imbalance, _halted_for(recorded.get(row["key"])) if row["status"] ==
                              ExecStatus.HALTED.value else "",
                              imbalance.leg == "first" and halt_sells_back(row["status"], recorded.get(row["key"])),
                              row["plan"]))
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
        legs = _orders_of(conn, [key])[key]
    if not legs or any(_leg_of(o, {}) == "first" and not OrderStatus(o.status).terminal for o in legs):
        return True  # nothing to judge by (its orders are gone), or a first leg that may yet fill
    imbalance = _Imbalance.of(legs, result)
    return imbalance is not None and imbalance.unhedged > 0 and imbalance.leg == "first"


def _orders_of(conn: Connection, keys: list[str]) -> dict[str, list[Any]]:
    """Each execution's order rows, oldest first, as :meth:`_Imbalance.of` reads them (and their status)."""
    legs: dict[str, list[Any]] = {key: [] for key in keys}
    for leg in conn.execute(select(orders.c.execution_id, orders.c.client_order_id, orders.c.venue,
                                   orders.c.market_id, orders.c.side, orders.c.action, orders.c.size,
                                   orders.c.filled_size, orders.c.avg_fill_price, orders.c.status)
                            .where(orders.c.execution_id.in_(keys))
                            .order_by(orders.c.created_at, orders.c.client_order_id)):
        legs[leg.execution_id].append(leg)
    return legs


def _halted_for(result: str | None) -> str:
    """A halted execution's own message (why it halted: the unwind that failed, the dust left), as one
    line of at most ``MAX_HALT_MESSAGE`` characters; "" when its result has none or cannot be read."""
    try:
        message = load_result(result or "").get("message")
    except (ValueError, RecursionError):
        return ""
    text = " ".join(str(message).split()) if message else ""
    return text if len(text) <= MAX_HALT_MESSAGE else text[:MAX_HALT_MESSAGE - 1] + "…"


def _stuck_executions(ctx: _Context, results: list[VenueReconcile]) -> None:
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
    halt = KillSwitch(ctx.db, sentinel_file=ctx.settings.halt.sentinel_file, mode=ctx.mode).status() \
        if found else None
    halted = halt is not None and (halt.halted or ctx.halt_on_drift)
    held = halt if halt is not None and halt.halted else None
    for e in found:
        imbalance = e.imbalance
        why = f"; it halted: {e.halted_for}" if e.halted_for else ""
        advice = resume_advice(e.resume(ctx.source_flags), sells_back=halted and e.halt_sells_back, halt=held)
        drift = Drift(
            venue=imbalance.venue, kind="execution", market=imbalance.market, side=imbalance.side,
            ledger_qty=plain(imbalance.held), venue_qty=plain(imbalance.other), value=imbalance.value,
            detail=(f"execution {e.key} was interrupted at {e.status} (last change {e.updated_at}{why}): "
                    f"{imbalance.held_text}; {advice}"),
            ref=e.key, fix=INTERRUPTED_FIX)
        _attach(results, drift)
        stuck.append(drift)
    _report_executions(ctx, stuck, "reconcile.execution_interrupted", f"{len(stuck)} interrupted execution(s)",
                       "may leave a leg unhedged")


def _report_executions(ctx: _Context, drifts: Sequence[Drift], event: str, what: str, alert_says: str) -> None:
    """Audit ``drifts`` (one ``event`` each), halt for them under ``--halt-on-drift``, and alert once."""
    if not drifts:
        return
    halted_alert = None
    with ctx.db.write() as conn:
        for d in drifts:
            ctx.audit(conn, event, d.to_record(), venue=d.venue, market=d.market)
        if ctx.halt_on_drift:
            halted_alert = _halt_for_drift(ctx, conn, f"reconcile found {what} (--halt-on-drift)", {})
    ctx.alerts.emit("reconcile.drift", f"{ctx.mode}: {what} {alert_says}",
                    {"mode": ctx.mode, "drifts": [d.to_record() for d in drifts]})
    if halted_alert is not None:
        ctx.alerts.emit(*halted_alert)


# -- ended executions left unhedged -------------------------------------------------------------
#
# An execution that has ended (done, unwound, failed) is never resumed, and was judged nowhere: one whose
# legs differ, share for share agreed by the venues, read clean on every run (found in review: a first
# leg filled 10 under `failed`, the second cancelled with nothing, no unwind; exit 0 for ever). Its legs
# are judged as the interrupted ones are (:class:`_Imbalance`), from the ledger alone (net directional
# exposure the ledger knows of), and what it leaves unhedged is drift on every run until it is gone.


@dataclass(frozen=True, slots=True)
class EndedUnhedged:
    """An ended execution whose legs the ledger holds unequal: what `orion reconcile` reports as an
    ``execution`` drift on every run (:func:`unhedged_ended_executions`)."""

    key: str
    status: str
    created_at: str
    updated_at: str
    imbalance: _Imbalance
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
            ledger_qty=plain(imbalance.held), venue_qty=plain(imbalance.other), value=_q(self.left * imbalance.price),
            detail=(f"execution {self.key} has ended {self.status} (last change {self.updated_at}) with its legs "
                    f"unequal: {_held_text(imbalance)}: {said}; {look}"),
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
    :class:`_Imbalance` judges it: the two instruments hold as many (or the one holds none), or nothing
    was sold and the buys were for as many (an overfill beside an equal pair is held). Anything else
    (three instruments, say) is judged by :class:`_Imbalance` from its rows. One with an order undecided
    is left to the late-fill judgement (:func:`_judge_deferred_late_fills`): its fills may come yet."""
    o = orders.c
    buy = o.action == Action.BUY.value
    per = (select(o.execution_id.label("key"),
                  func.sum(case((buy, o.filled_size), else_=-o.filled_size)).label("held"),
                  func.sum(case((buy, case((o.filled_size < o.size, o.filled_size), else_=o.size)),
                                else_=0)).label("asked"),
                  func.sum(case((buy, 0), else_=o.filled_size)).label("sold"),
                  func.sum(case((o.status.in_(sorted(_UNDECIDED)), 1), else_=0)).label("undecided"))
           .join(executions, executions.c.key == o.execution_id)
           .where(executions.c.mode == mode, executions.c.status.in_(sorted(_ENDED)))
           .group_by(o.execution_id, o.venue, o.market_id, o.side)
           .subquery())
    legs = func.count()
    alike = (func.max(per.c.held) == func.min(per.c.held), func.max(per.c.asked) == func.min(per.c.asked))
    even = or_(and_(legs == 1, func.max(per.c.held) == 0), and_(legs == 2, alike[0]),
               and_(func.sum(per.c.sold) == 0,
                    or_(and_(legs == 1, func.max(per.c.asked) == 0), and_(legs == 2, alike[1]))))
    return (select(per.c.key).group_by(per.c.key)
            .having(func.sum(per.c.undecided) == 0, not_(even)))


def _leftover(record: Mapping[str, Any], name: str, imbalance: _Imbalance) -> Decimal:
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

    Judged as the interrupted ones are (:class:`_Imbalance`: unwind sells and hedge retries counted, an
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
    from orion_cli.store.tables import settlements

    with db.read() as conn:
        rows = conn.execute(select(executions.c.key, executions.c.status, executions.c.result,
                                   executions.c.created_at, executions.c.updated_at)
                            .where(executions.c.key.in_(_ended_uneven(mode)))
                            .order_by(executions.c.created_at, executions.c.key)).all()
        if not rows:
            return []
        legs = _orders_of(conn, [row.key for row in rows])
        judged: list[tuple[Any, _Imbalance, Instrument | None]] = []  # (execution row, its legs, its other leg)
        for row in rows:
            imbalance = _Imbalance.of(legs[row.key], row.result)
            if imbalance is None or imbalance.unhedged == 0:
                continue
            heavy = (imbalance.venue, imbalance.market, imbalance.side)
            light = next(((Venue(o.venue), o.market_id, Side(o.side)) for o in legs[row.key]
                          if (Venue(o.venue), o.market_id, Side(o.side)) != heavy), None)
            judged.append((row, imbalance, light))
        if not judged:
            return []
        markets = sorted({m for _, i, light in judged for m in (i.market, *((light[1],) if light else ()))})
        settled = {(r.venue, r.market_id) for r in conn.execute(
            select(settlements.c.venue, settlements.c.market_id).where(
                settlements.c.mode == mode, settlements.c.market_id.in_(markets)))}
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


def _ended_unhedged(ctx: _Context, results: list[VenueReconcile]) -> None:
    """Report every ended execution that leaves a leg unhedged (:func:`unhedged_ended_executions`) as an
    ``execution`` drift (exit 7, audited as ``reconcile.execution_unhedged``, alerted, and halted for with
    ``--halt-on-drift``) on every run, as an interrupted execution's is, until that is gone. One this run
    already reported (its late fill judged just now) is not reported twice."""
    if not results:
        return
    reported = {d.ref for r in results for d in r.drifts if d.kind == "execution"}
    found = [e.drift(ctx.source_flags) for e in unhedged_ended_executions(ctx.db, ctx.mode) if e.key not in reported]
    for d in found:
        _attach(results, d)
    _report_executions(ctx, found, "reconcile.execution_unhedged", f"{len(found)} ended execution(s)",
                       "leave a leg unhedged")


@dataclass(frozen=True, slots=True)
class _Imbalance:
    """What an execution's orders filled, as the leg holding the most against the other.

    Legs are told apart as the executor tells them (its tags: ``l1`` the first leg, ``l2`` and its
    retries ``l2a…`` the second, an unwind ``u…`` the leg its intent names), not by venue: both legs
    of a within-venue execution (YES and NO of one market, a two-outcome neg-risk basket) are on one
    venue. An order the executor did not name counts as a leg of its own instrument.

    Balanced is judged as the executor judges it: by what each order was for, so the overfill of a
    buy (a dollar-amount buy at better prices gets more shares than asked) beside an otherwise equal
    pair is held, not unhedged. Once the legs differ, every share filled counts.
    """

    leg: str  # "first" / "second" (or an unnamed order's instrument): the leg holding the most
    venue: Venue  # where that leg is
    market: str
    side: Side
    held: Decimal  # contracts of that leg (buys less sells)
    other: Decimal  # contracts of the other leg
    price: Decimal  # the average fill of its last buy (0: none), to value the difference
    balanced: bool = False  # equal shares up to the orders' sizes (an overfill aside)

    @property
    def unhedged(self) -> Decimal:
        return ZERO if self.balanced else abs(self.held - self.other)

    @property
    def value(self) -> Decimal:
        return _q(self.unhedged * self.price)

    @property
    def held_text(self) -> str:
        named = f", the {self.leg} leg" if self.leg in _LEG_NAMES else ""
        return (f"{plain(self.held)} held on {self.venue.value} ({self.market} {self.side.value}{named}), "
                f"{plain(self.other)} on the other leg")

    @classmethod
    def of(cls, legs: Sequence[Any], result: str | None = None) -> _Imbalance | None:
        """From an execution's order rows (client_order_id, venue, market_id, side, action, size,
        filled_size, avg_fill_price), oldest first, and its stored ``result`` (where the executor
        records which leg each order is for); None when it has none."""
        try:
            intents = load_result(result or "").get("intents")
        except (ValueError, RecursionError):
            intents = None
        held: dict[str, Decimal] = {}
        asked: dict[str, Decimal] = {}  # the buys, each counted up to its size
        price: dict[str, Decimal] = {}
        where: dict[str, Any] = {}
        named = intents if isinstance(intents, dict) else {}
        # An order the executor's tags do not place (an unwind whose intent the result lacks) goes
        # with the leg of its own instrument: an unwind sells what its leg bought.
        instrument = {_leg_of(o, named): (o.venue, o.market_id, o.side) for o in reversed(legs)}
        by_instrument = {inst: leg for leg, inst in instrument.items() if leg in _LEG_NAMES}
        sold = False
        for o in legs:
            leg = _leg_of(o, named)
            if leg not in _LEG_NAMES:
                leg = by_instrument.get((o.venue, o.market_id, o.side), leg)
            where.setdefault(leg, o)
            filled = Decimal(o.filled_size)
            buy = o.action == Action.BUY.value
            sold = sold or (not buy and filled > 0)
            held[leg] = held.get(leg, ZERO) + (filled if buy else -filled)
            if buy:
                asked[leg] = asked.get(leg, ZERO) + min(filled, Decimal(o.size))
            if o.avg_fill_price is not None and buy:
                price[leg] = Decimal(o.avg_fill_price)
        if not held:
            return None
        first = max(held, key=lambda k: abs(held[k]))
        o = where[first]
        # As the executor's _imbalance: an overfill beside buys equal up to their sizes is held; once
        # anything was sold back (an unwind), every share counts, as that unwind sells them all.
        balanced = not sold and asked.get(first, ZERO) == sum((q for k, q in asked.items() if k != first), ZERO)
        return cls(first, Venue(o.venue), o.market_id, Side(o.side), held[first],
                   sum((q for k, q in held.items() if k != first), ZERO), price.get(first, ZERO), balanced)


_LEG_NAMES = ("first", "second")


def _leg_of(o: Any, intents: Mapping[str, Any]) -> str:
    """Which leg of its execution the order ``o`` belongs to, as the executor tells it (``_Run.spec_of``):
    by the tag ending its client order id, and for an unwind by the leg its intent records. An order not
    named so (not placed by the executor) is a leg of its own instrument."""
    tag = o.client_order_id.rsplit("-", 1)[-1]
    if tag == "l1":
        return "first"
    if tag.startswith("l2"):
        return "second"
    intent = intents.get(tag)
    leg = intent.get("leg") if isinstance(intent, dict) else None
    return leg if leg in _LEG_NAMES else f"{o.venue} {o.market_id} {o.side}"


def _halt_for_drift(ctx: _Context, conn: Connection, reason: str,
                    detail: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """Engage the kill switch for ``--halt-on-drift`` in the caller's transaction.

    Returns the ``halt`` alert to send once the transaction is over (after the drift alert it
    follows), or None when trading was already halted: the halt that came first was the one alerted.
    """
    from orion_cli.risk.halt import KillSwitch, read_halt_row

    was_halted = bool(read_halt_row(conn).halted)
    KillSwitch(ctx.db, sentinel_file=ctx.settings.halt.sentinel_file, mode=ctx.mode).engage(
        reason, kind="reconcile", actor=ctx.actor, conn=conn)
    if was_halted:
        return None
    return "halt", f"trading halted: {reason}", {"kind": "reconcile", **detail, "mode": ctx.mode, "reason": reason}


async def _reconcile_venue(ctx: _Context, venue: Venue, tv: TradingVenue, result: VenueReconcile) -> None:
    """Compare ``venue`` (:func:`_compare_venue`), then alert its drift. An outage is the caller's
    (:func:`_unreachable`); any other error, a stop (Ctrl-C, SIGTERM: KeyboardInterrupt) or a
    cancellation is raised again once the drift found before it is reported (:func:`_failed`)."""
    try:
        halted_alert = await _compare_venue(ctx, venue, tv, result)
    except _Unreachable:
        raise
    except (Exception, KeyboardInterrupt, asyncio.CancelledError) as exc:
        _failed(ctx, venue, result, exc)
        raise
    _alert_venue_drift(ctx, venue, result, halted_alert)
    if tv.mode == "live" and result.balance is not None:
        # Alerted on the run that sees the balance fall below the threshold, not on every cron run after.
        from orion_cli.core.alerts import LowBalanceWatch

        LowBalanceWatch(ctx.settings, ctx.alerts, ctx.db, ctx.mode).check([result.balance])


async def _compare_venue(ctx: _Context, venue: Venue, tv: TradingVenue,
                         result: VenueReconcile) -> tuple[str, str, dict[str, Any]] | None:
    """Steps (1)-(5) for ``venue`` and its summary (``reconcile.clean`` / ``reconcile.drift``); the halt
    alert to send after its drift alert, if any."""
    with ctx.db.read() as conn:
        open_rows = order_rows(conn, ctx.mode, venue, statuses=OPEN_STATUSES)
    since = ctx.now - ctx.lookback
    for row in open_rows:
        since = min(since, _parse_ts(row.created_at))
    with ctx.db.read() as conn:
        recent = order_rows(conn, ctx.mode, venue, since=since - timedelta(days=1))
        teach(tv, recent)
        teach_fees(conn, tv, venue, [*recent, *open_rows])
    teach(tv, open_rows)

    # (1) orders whose outcome is not final, by their persisted ids
    for row in open_rows:
        await _resolve(ctx, venue, tv, row, result)

    # venue reads for (2)-(5), before the one write transaction
    venue_fills = await _call(tv.fills(since=since))
    # When orion learned them: a fill adopted below is recorded at this time, so a report read after
    # it (this run's own, read next) holds it whatever the clocks say, and one read before it (another
    # process's, since the run began) is judged by the fill's date (Ledger.report_holds). Not the
    # time of the write: this run's own report, read between the two, would then judge the fills it
    # holds by their date, and count one a venue clock ahead of this host's dates after it twice.
    fills_read = ctx.clock()
    venue_positions = await _call(tv.positions())
    venue_open = await _call(tv.open_orders())
    balance = await _call(tv.balance())
    # After the balance: a market settled (or a transfer finalized) in between is then paid after
    # that report, and counted.
    (venue_settlements, unchecked, unsettled), (moved, unmoved) = await all_of(
        _read_settlements(ctx, venue, tv, result), _read_transfers(venue, tv, result))
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
        _unknown_open_orders(ctx, conn, venue, venue_open, result)
        waiting = _missing_fills(ctx, conn, venue, venue_fills, result, learned=fills_read)
        # Each settlement's cash is judged against the report read above, which then replaces the
        # ledger's figure (after any --fix adjustment, whose cash that report already holds), plus
        # the payouts and fills recorded that it cannot hold (Ledger.record_balance adds them).
        from orion_cli.core.settlement import held_reports

        held = tv.mode == "live" and bool(held_reports(conn, ctx.mode, [venue]))
        unreconciled, withhold = _settle_and_compare(ctx, conn, venue, venue_settlements, venue_positions, result,
                                                     report=report, unchecked=unchecked, waiting=waiting, held=held)
        unreconciled = unreconciled if tv.mode == "live" else []  # a paper ledger is its own venue: no report
        withhold = withhold and tv.mode == "live"
        if withhold:
            report = None
            why = WITHHELD_UNRECONCILED if unreconciled else WITHHELD_STILL_HELD
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
WITHHELD_STILL_HELD = (
    "an earlier reconcile found positions or fills disagreeing with the ledger, and this run left some of them "
    "pending (not compared), so it cannot say they agree now: still held")
# Drift that leaves the venue's cash beside holdings the ledger does not have: its report is not recorded.
HOLDINGS_KINDS = frozenset({"fill", "position"})


def _settle_and_compare(ctx: _Context, conn: Connection, venue: Venue, found: Sequence[Settlement],
                        venue_positions: Sequence[Position], result: VenueReconcile, *, report: Balance | None,
                        unchecked: set[str], waiting: Mapping[str, Decimal],
                        held: bool = False) -> tuple[list[Drift], bool]:
    """Settle what the venue settled (:func:`_settle`), then compare positions (:func:`_positions`); the
    ``fill`` and ``position`` drift left unfixed, and whether ``report`` must not be recorded: beside
    that drift, or, for a venue an earlier run ``held``, while anything is left pending (a position
    difference deferred as an order in flight is no agreement, and releasing the hold then recorded
    the very figure it was for).

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
        _settle(ctx, conn, venue, found, result, report=report)
        _positions(ctx, conn, venue, venue_positions, result, unchecked=unchecked, waiting=waiting)
        unreconciled = _unreconciled(result)
        withhold = bool(unreconciled) or (held and _in_doubt(result))
        if report is None or not withhold or all(s.cash_moved for s in result.settled[kept[1]:]):
            return unreconciled, withhold
        savepoint.rollback()
    del result.drifts[kept[0]:], result.settled[kept[1]:], result.pending[kept[2]:]
    _settle(ctx, conn, venue, found, result, report=None)
    _positions(ctx, conn, venue, venue_positions, result, unchecked=unchecked, waiting=waiting)
    unreconciled = _unreconciled(result)
    return unreconciled, bool(unreconciled) or (held and _in_doubt(result))


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


def _halt_for_venue_drift(ctx: _Context, conn: Connection, venue: Venue,
                          result: VenueReconcile) -> tuple[str, str, dict[str, Any]] | None:
    """With ``--halt-on-drift`` and drift on ``venue``, halt in the caller's transaction (see
    :func:`_halt_for_drift`); the halt alert to send after the drift alert, if any."""
    if not result.drifts or not ctx.halt_on_drift:
        return None
    return _halt_for_drift(ctx, conn, f"reconcile found {len(result.drifts)} drift(s) on {venue.value} "
                                      "(--halt-on-drift)", {"venue": venue.value})


def _alert_venue_drift(ctx: _Context, venue: Venue, result: VenueReconcile,
                       halted_alert: tuple[str, str, dict[str, Any]] | None, *, note: str = "") -> None:
    """Alert ``venue``'s drift (once its transaction is over), then the halt it caused."""
    if result.drifts:
        unfixed = len(result.drifts) - result.fixed
        ctx.alerts.emit(
            "reconcile.drift",
            f"{venue.value} ({ctx.mode}): {len(result.drifts)} drift(s) between the ledger and the venue"
            + (f", {result.fixed} adopted with --fix" if result.fixed else "")
            + (f", {unfixed} left" if unfixed and ctx.fix else "")
            + note,
            {"venue": venue.value, "mode": ctx.mode, "counts": dict(result.counts),
             "drifts": [d.to_record() for d in result.drifts[:20]]},
        )
    if halted_alert is not None:
        ctx.alerts.emit(*halted_alert)


def _unreachable(ctx: _Context, venue: Venue, result: VenueReconcile, exc: _Unreachable) -> None:
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
        ctx.audit(conn, "reconcile.unavailable", {
            "venue": venue.value, "mode": ctx.mode, "status": result.status, "reason": exc.reason,
            "refusal": result.refusal, "resolved": [r.to_record() for r in result.resolved],
            "drifts": [d.to_record() for d in result.drifts[:MAX_AUDITED_DRIFTS]],
            "drifts_not_listed": max(0, len(result.drifts) - MAX_AUDITED_DRIFTS)}, venue=venue)
        halted_alert = _halt_for_venue_drift(ctx, conn, venue, result)
    _alert_venue_drift(ctx, venue, result, halted_alert, note=f"; then the venue failed: {exc.reason}")


def _failed(ctx: _Context, venue: Venue, result: VenueReconcile, exc: BaseException) -> None:
    """Report the drift ``venue``'s pass found before it failed with ``exc`` (not an outage) or was
    stopped, as :func:`_unreachable` does; the caller then raises ``exc`` again, which ends the run with
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


# -- (1) unknown outcomes ---------------------------------------------------------------------


async def _resolve(ctx: _Context, venue: Venue, tv: TradingVenue, row: Row[Any], result: VenueReconcile) -> None:
    coid = row.client_order_id
    before = OrderStatus(row.status)
    young = ctx.now - _parse_ts(row.updated_at) < ctx.grace
    try:
        state = await tv.find_order(coid, row.venue_order_id)
    except (VenueUnavailable, VenueError, SecretsError, Geoblocked) as exc:
        # A host refused for its location learnt nothing of the order: not a failed lookup (drift).
        raise _Unreachable.of(exc) from exc
    except StorageError:
        raise  # the ledger's own database (the paper venue's book): exit 3, not the venue's lookup failing
    except OrionError as exc:
        result.drifts.append(_order_drift(venue, row, f"outcome {before.value}; the venue lookup failed: {exc}"))
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
            result.drifts.append(_order_drift(venue, row, "the ledger holds it open (acknowledged) but the venue "
                                                          "does not know it"))
            return
        reported = _reported_filled(ctx, row)
        if reported is None:  # what its execution recorded cannot be read: not proof it never landed
            result.drifts.append(_order_drift(venue, row, "the venue does not find it, and its execution's record "
                                                          "of what the venue reported cannot be read"))
            return
        if reported:  # the venue said it filled (its fills not listed yet): it reached the venue
            result.drifts.append(_order_drift(venue, row, f"the venue reported it filled {plain(reported)} but does "
                                                          "not find it now", venue_qty=reported))
            return
        _never_reached(ctx, venue, row, result)
        return
    await _apply_found(ctx, venue, tv, row, state, result)


def _never_reached(ctx: _Context, venue: Venue, row: Row[Any], result: VenueReconcile) -> None:
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


def _reported_filled(ctx: _Context, row: Row[Any]) -> Decimal | None:
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
        entry = load_result(text).get("legs", {}).get(row.client_order_id.rsplit("-", 1)[-1], {})
        return max(ZERO, to_decimal(entry.get("filled", "0"), "legs.filled", allow_negative=True))
    except (DataError, ValueError, ArithmeticError, AttributeError, RecursionError):
        return None


async def _apply_found(ctx: _Context, venue: Venue, tv: TradingVenue, row: Row[Any], state: OrderState,
                       result: VenueReconcile) -> None:
    coid = row.client_order_id
    before = OrderStatus(row.status)
    found = list(state.fills)
    if sum((f.size for f in found), ZERO) < state.filled_size and state.venue_order_id:
        found = await _call(tv.fills(venue_order_id=state.venue_order_id))
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
            known = _known_fill_ids(conn, ctx.mode, venue, [f.fill_id for f in own])
            after = ctx.ledger.transition(coid, target, venue_order_id=state.venue_order_id or None, fills=own,
                                          venue_status=state.venue_status, reject_reason=state.reject_reason,
                                          conn=conn, now=learned, overfill_ok=buy)
            new = [f for f in own if f.fill_id not in known]
            new_fills = len(new)
            changed = after.status is not before or new_fills > 0
            # An order its execution left in flight (the venue had not listed its fills): recorded only
            # now, its fills may leave the ended execution's legs unequal.
            ended = _ended_execution(conn, row) if new else None
            late = _late_fill(ctx, conn, venue, ended, row, new, defer=True) if ended is not None else []
            res = Resolved(venue, coid, after.venue_order_id, row.market_id, Side(row.side), before.value,
                           after.status.value, after.filled_size, new_fills, detail)
            if changed:
                ctx.audit(conn, "reconcile.resolved", {k: v for k, v in res.to_record().items() if k != "type"},
                          venue=venue, market=row.market_id)
    except StorageError:
        raise  # the ledger's own database (busy, damaged, full): exit 3, never drift
    except OrionError as exc:
        result.drifts.append(_order_drift(venue, row, f"{detail}, but it cannot be recorded: {exc}",
                                          venue_qty=state.filled_size))
        return
    if changed:
        result.resolved.append(res)
    result.drifts.extend(late)
    if over > 0:
        result.drifts.append(_order_drift(
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
            result.drifts.append(_order_drift(venue, row, said, venue_qty=state.filled_size,
                                              ledger_qty=after.filled_size))
    elif after.status in NOT_FINAL:
        unattended = None if changed else _unattended(ctx, row)
        if unattended is None:
            result.pending.append(f"order {coid}: {detail} (not final at the venue yet)")
        else:
            drift = _order_drift(venue, row, f"{detail} (not final at the venue), {unattended}",
                                 venue_qty=state.filled_size, ledger_qty=after.filled_size)
            result.drifts.append(replace(drift, fix=ORDER_UNDECIDED_FIX))


def _in_hand(ctx: _Context, row: Row[Any]) -> bool:
    """Whether an order may still be in a process's hands: changed in the ledger less than the grace period
    ago, or its execution driven (its key held) by another process."""
    from orion_cli.execution.keylock import driven

    young = ctx.now - _parse_ts(row.updated_at) < ctx.grace
    return young or bool(row.execution_id and driven(ctx.db, row.execution_id))


def _unattended(ctx: _Context, row: Row[Any]) -> str | None:
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
    age = ctx.now - _parse_ts(row.updated_at)
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
    halt = KillSwitch(ctx.db, sentinel_file=ctx.settings.halt.sentinel_file, mode=ctx.mode).status()
    halted = halt.halted or ctx.halt_on_drift
    sells_back = halted and resume_sells_back(ctx.db, key, ex.status, ex.result)
    command = resume_command(ex.opportunity_id, key, mode=ex.mode, source_flags=ctx.source_flags, plan=ex.plan)
    return f"{unmoved}: {resume_advice(command, sells_back=sells_back, halt=halt if halt.halted else None)}"


def _known_fill_ids(conn: Connection, mode: str, venue: Venue, ids: Sequence[str] | None = None) -> set[str]:
    stmt = select(fills.c.fill_id).where(fills.c.mode == mode, fills.c.venue == venue.value)
    if ids is not None:
        if not ids:
            return set()
        stmt = stmt.where(fills.c.fill_id.in_(list(ids)))
    return {r[0] for r in conn.execute(stmt)}


def _order_drift(venue: Venue, row: Row[Any], detail: str, *, venue_qty: Decimal | None = None,
                 ledger_qty: Decimal | None = None) -> Drift:
    """An order the reconcile could not settle; ``value`` = the quantity in doubt × its limit price."""
    filled = Decimal(row.filled_size) if ledger_qty is None else ledger_qty
    vq = filled if venue_qty is None else venue_qty
    at_stake = abs(vq - filled) if vq != filled else Decimal(row.size) - filled
    return Drift(venue, "order", row.market_id, Side(row.side), filled, vq, plain(at_stake * Decimal(row.limit_price)),
                 f"order {row.client_order_id}: {detail}", ref=row.client_order_id)


# -- (4) resting orders orion did not place -----------------------------------------------------


def _savepoint_fix(ctx: _Context, conn: Connection, drift: Drift, apply: Any) -> Drift:
    """Run one adoption in a savepoint; a failure leaves the drift reported and unfixed."""
    if not ctx.fix:
        return drift
    try:
        with conn.begin_nested():
            how = apply()
            fixed = replace(drift, fixed=True, fix=how)
            ctx.audit(conn, "reconcile.fixed", {k: v for k, v in fixed.to_record().items() if k != "type"},
                      venue=drift.venue, market=drift.market)
    except OrionError as exc:
        return replace(drift, fix=f"not adopted: {exc}")
    except (StatementError, ValueError, ArithmeticError) as exc:
        # A value the ledger cannot store (the savepoint is rolled back): this drift stays reported and
        # unfixed; the venue's other fixes and its summary are kept. The database itself failing is
        # not this drift's problem: that still ends the run.
        what = _unstorable(exc)
        return replace(drift, fix=f"not adopted: {type(what).__name__}: {str(what)[:200]}")
    return fixed


def ended_resting_fix(mode: str) -> str:
    """What to do about an ended order the venue lists resting. The halt named with ``--live`` for a live
    ledger: without it, run where the live environment pair is not set, it cancelled the paper ledger's."""
    halt = "orion halt --cancel-open" + (" --live" if mode == "live" else "")
    return (f"not fixed by reconcile: the ledger never reopens an ended order; cancel it at the venue (`{halt}` "
            "halts, then cancels every resting order), or let it fill: its fills are then fill drift, which --fix "
            "records on that order")


def _unknown_open_orders(ctx: _Context, conn: Connection, venue: Venue, venue_open: Sequence[OrderState],
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
        row = _find_row(conn, ctx.mode, venue, client_order_id=st.client_order_id,
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
            coid = _ledger_coid(EXTERNAL_PREFIX, venue, st.venue_order_id)
            request = OrderRequest(venue, st.market_id, st.side, st.action, st.size, st.limit_price,
                                   TimeInForce.GTC, coid)
            payload = _external_payload(venue_order_id=st.venue_order_id, client_order_id=st.client_order_id)
            ctx.ledger.record_intent(PreparedOrder(request, payload, venue_ref=st.venue_order_id), conn=conn,
                                     now=ctx.now)
            ctx.ledger.transition(coid, OrderStatus.OPEN, venue_order_id=st.venue_order_id,
                                  venue_status=f"external: {st.venue_status}", conn=conn, now=ctx.now)
            return f"recorded as ledger order {coid} (open)"

        result.drifts.append(_savepoint_fix(ctx, conn, drift, adopt))


def _ended_but_resting(ctx: _Context, venue: Venue, row: Row[Any], st: OrderState, result: VenueReconcile, *,
                       resolved_here: set[str]) -> None:
    """``row`` is ended in the ledger while the venue lists it resting as ``st``: an ``order`` drift
    (pending while another process ended it within ``grace``; see :func:`_unknown_open_orders`)."""
    coid = row.client_order_id
    held = f"ledger order {coid} ({row.status}, filled {plain(Decimal(row.filled_size))} of {plain(Decimal(row.size))})"
    if ctx.now - _parse_ts(row.updated_at) < ctx.grace and coid not in resolved_here:
        result.pending.append(f"{held} ended less than {int(ctx.grace.total_seconds())} s ago, but the venue lists "
                              f"order {st.venue_order_id or coid} resting ({plain(st.remaining)} left)")
        return
    result.drifts.append(Drift(
        venue, "order", st.market_id, st.side, ZERO, st.remaining, plain(st.remaining * st.limit_price),
        f"resting {st.action.value} {st.side.value} order {st.venue_order_id or '?'} ({plain(st.remaining)} at "
        f"{st.limit_price}, venue says {st.venue_status or st.status.value}) is {held} in the ledger: it can still "
        "fill, and an ended order counts toward no exposure or in-flight cash", ref=coid,
        fix=ended_resting_fix(ctx.mode)))


# -- (2) fills the ledger does not have ----------------------------------------------------------


def _missing_fills(ctx: _Context, conn: Connection, venue: Venue, venue_fills: Sequence[Fill],
                   result: VenueReconcile, *, learned: datetime) -> dict[str, Decimal]:
    """Report (and with ``--fix`` adopt) the venue's fills the ledger lacks; returns, by market, the
    contracts of the fills left pending, which the position comparison must not adopt in their place.
    ``learned``: when the venue listed them, the time an adopted fill is recorded at."""
    known = _known_fill_ids(conn, ctx.mode, venue)
    waiting: dict[str, Decimal] = {}
    for f in venue_fills:
        if f.fill_id in known:
            continue
        row = _find_row(conn, ctx.mode, venue, client_order_id=f.client_order_id, venue_order_id=f.venue_order_id)
        # Young: within the grace either way (a venue clock a little ahead), never one from the far
        # future, which would otherwise stay "young" and hide an outside trade for as long as it lasts.
        young = -ctx.grace <= ctx.now - f.ts < ctx.grace
        if young and (OrderStatus(row.status) in OPEN_STATUSES if row is not None
                      else _order_being_sent(conn, ctx.mode, venue, f)):
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
        ended = _ended_execution(conn, row) if row is not None else None
        whose = f"of ledger order {row.client_order_id} ({row.status})" if row is not None else \
            f"of venue order {f.venue_order_id or '?'}{beyond}, which is not in the ledger" + (
                "" if beyond else " (a trade placed outside orion?)")
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
                    late.extend(_late_fill(ctx, conn, venue, ended, row, [f]))
                    done += f"; recorded in execution {ended.key} as a late fill"
                return done
            coid = _ledger_coid(EXTERNAL_PREFIX, venue, f.fill_id)
            price = _valid_price(f.price)
            if price is None:
                raise DataError(f"fill {f.fill_id}", f"price {f.price} is outside (0, 1)")
            request = OrderRequest(venue, f.market_id, f.side, f.action, f.size, price, TimeInForce.IOC, coid)
            payload = _external_payload(venue_order_id=f.venue_order_id, fill_id=f.fill_id)
            ctx.ledger.record_intent(PreparedOrder(request, payload, venue_ref=f.venue_order_id), conn=conn,
                                     now=ctx.now)
            ctx.ledger.transition(coid, OrderStatus.FILLED, fills=[replace(f, client_order_id=coid)],
                                  venue_status="external", conn=conn, now=learned)
            return f"recorded as ledger order {coid} (filled)"

        fixed = _savepoint_fix(ctx, conn, drift, adopt)
        result.drifts.append(fixed)
        if fixed.fixed:
            result.drifts.extend(late)
    return waiting


def _ended_execution(conn: Connection, row: Row[Any]) -> Row[Any] | None:
    """The execution ``row`` is a leg of, when it has ended (done, unwound, failed): no process
    drives it any more, and nothing resumes it."""
    if not row.execution_id:
        return None
    found = conn.execute(select(executions).where(executions.c.key == row.execution_id)).first()
    return found if found is not None and found.status in _ENDED else None


_ENDED = frozenset(s.value for s in ExecStatus if s.final)


def _late_fill(ctx: _Context, conn: Connection, venue: Venue, ended: Row[Any], row: Row[Any],
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
    ``unhedged_shares`` null ("not judged"); :func:`_judge_deferred_late_fills` judges them at the
    end of the run that decides the last of its orders, whether or not that brings a fill.

    A result that cannot take the entries (unreadable, or ``late_fills`` not a list) is left as it is,
    so nothing would find them waiting there: their legs are judged at once even then (a drift that a
    fill found later in the run may make stale, rather than a naked leg no run reports), and the audit
    event says the result was not updated.
    """
    legs = _execution_legs(conn, ended.key)
    imbalance = _Imbalance.of(legs, ended.result)
    try:
        record: dict[str, Any] | None = load_result(ended.result)
    except (ValueError, RecursionError):  # unreadable: left as it is (the audit event and the drift still say it)
        record = None
    unusable = "its result cannot be read" if record is None else \
        "its result's late_fills is not a list" if not isinstance(record.get("late_fills", []), list) else ""
    # Step (1) only: there the other leg's fills may be read later in this run. A fill adopted in step
    # (2) is judged at once, as before.
    in_flight = sum(1 for o in legs if o.status in _UNDECIDED) if defer else 0
    undecided = 0 if unusable else in_flight
    unhedged = ZERO if imbalance is None else imbalance.unhedged
    held = _held_text(imbalance)
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


def _execution_legs(conn: Connection, key: str) -> Sequence[Any]:
    """Execution ``key``'s orders, oldest first, as :meth:`_Imbalance.of` reads them (and their status)."""
    return conn.execute(select(orders.c.client_order_id, orders.c.venue, orders.c.market_id, orders.c.side,
                               orders.c.action, orders.c.size, orders.c.filled_size, orders.c.avg_fill_price,
                               orders.c.status)
                        .where(orders.c.execution_id == key)
                        .order_by(orders.c.created_at, orders.c.client_order_id)).all()


def _held_text(imbalance: _Imbalance | None) -> str:
    """What an execution's legs hold, for its message and drift; an overfill beside an otherwise equal
    pair is named as held, not hedged."""
    if imbalance is None:
        return ""
    held = imbalance.held_text
    if imbalance.balanced and imbalance.held != imbalance.other:
        held += (f" (the {plain(abs(imbalance.held - imbalance.other))} beyond its orders' sizes is an overfill: "
                 "held, not hedged)")
    return held


def _late_drift(ended: Row[Any], imbalance: _Imbalance, what: str, *, judged: str = "") -> Drift:
    """The ``execution`` drift of an ended execution whose late fills (``what``) left its legs unequal."""
    return Drift(imbalance.venue, "execution", imbalance.market, imbalance.side, plain(imbalance.held),
                 plain(imbalance.other), imbalance.value,
                 f"execution {ended.key} has ended {ended.status}, but reconcile recorded {what} after that: "
                 f"{_held_text(imbalance)}{judged}", ref=ended.key,
                 fix=f"{ENDED_NOT_RESUMED}; hedge or close the {plain(imbalance.unhedged)} unhedged by hand")


def _judge_deferred_late_fills(ctx: _Context, results: list[VenueReconcile]) -> None:
    """Judge the late fills step (1) left "not judged" in ended executions none of whose orders is in
    flight any more; what they leave unhedged is an ``execution`` drift (alert, ``--halt-on-drift``).

    Why: step (1) defers the judgement while another of the execution's orders is undecided. When
    that order then ends without a new fill (cancelled with nothing filled, never reached the venue),
    or is decided in a later run, no fill reaches :func:`_late_fill` again, and a naked leg was
    reported by no run. So, after every venue (a fill found on any of them counts), each ended
    execution whose last ``late_fills`` entry is still unjudged (``unhedged_shares`` null) is judged
    from the ledger; one with an order still undecided stays unjudged and is found again by a later
    run. Judging fills in those entries (and ``judged_at``) in the same transaction as its audit
    event (``execution.late_fill_judged``) and any halt: the next run no longer finds them, so the
    drift is reported once, as a late fill judged at once is (its fill is recorded, and judged, once).
    A later entry already judged has judged the legs as a whole since: the entries waiting before it
    take its judgement (as :func:`_late_fill` now gives it; earlier versions left them waiting).
    """
    if not results:
        return
    where_ended = executions.c.mode == ctx.mode, executions.c.status.in_(sorted(_ENDED))
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
            halted_alert = _halt_for_drift(ctx, conn, f"reconcile found {len(found)} ended execution(s) left "
                                                      "unhedged by late fills (--halt-on-drift)", {})
    if not found:
        return
    for d in found:
        _attach(results, d)
    ctx.alerts.emit("reconcile.drift", f"{ctx.mode}: {len(found)} ended execution(s) left unhedged by late fills",
                    {"mode": ctx.mode, "drifts": [d.to_record() for d in found]})
    if halted_alert is not None:
        ctx.alerts.emit(*halted_alert)


def _judge_deferred(ctx: _Context, conn: Connection, ended: Row[Any], where: Venue) -> Drift | None:
    """Judge ended execution ``ended``'s unjudged late fills when none of its orders is undecided; its
    drift when that leaves its legs unequal (see :func:`_judge_deferred_late_fills`). ``where``: the
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
    legs = _execution_legs(conn, ended.key)
    if any(o.status in _UNDECIDED for o in legs):
        return None  # still in flight: judged by the run that decides it
    imbalance = _Imbalance.of(legs, ended.result)
    if imbalance is None:
        return _judge_without_orders(ctx, conn, ended, record, late, where)
    unhedged = imbalance.unhedged
    waiting = _judge_waiting(late, plain(unhedged), iso_utc(ctx.now))
    record["message"] = (f"{record.get('message') or ended.status}; once none of its orders was in flight, "
                         f"reconcile judged its legs: {_held_text(imbalance)}, {plain(unhedged)} unhedged")
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


def _judge_without_orders(ctx: _Context, conn: Connection, ended: Row[Any], record: dict[str, Any],
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
    drift = Drift(venue, "execution", market, side, plain(shares), ZERO, _q(value),
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


def _attach(results: list[VenueReconcile], drift: Drift) -> None:
    """Add a drift found once every venue is compared to its venue's result (else the first), which it
    makes ``drift`` also over ``unavailable`` (its reason stays): a leg may be unhedged."""
    target = next((r for r in results if r.venue == drift.venue), results[0])
    target.drifts.append(drift)
    target.counts["drifts"] = len(target.drifts)
    target.status = "drift"


_UNDECIDED = frozenset(s.value for s in OPEN_STATUSES)


# -- (3) positions ------------------------------------------------------------------------------


@dataclass
class _Holding:
    size: Decimal = ZERO
    avg: Decimal | None = None


# -- (3b) settled markets -----------------------------------------------------------------------


UNCHECKED_FIX = "not fixed: whether the market settled is unknown; checked again on the next run"
UNREADABLE_FIX = ("not fixed: the venue's settlement record of it cannot be read; check the market at the venue. "
                  "Checked again on the next run; the venue's balance report is not recorded until it is read")
UNDECIDED_FIX = ("not fixed: an order in this market is not final in the ledger, or a fill in it is too recent; "
                 "checked again on the next run")


def _unanswered(exc: OrionError, result: VenueReconcile) -> bool:
    """Whether ``exc``, from a read of settlements or transfers, means the venue gave no answer to read:
    an outage, or a refusal of this host's location (flagged ``geoblocked``: exit 6) or of our
    credentials (flagged ``rejected``: exit 4), as :func:`_call` takes them for every other read.
    Else (False) it answered something orion cannot read: drift, as the venue's record disagrees."""
    if not isinstance(exc, (VenueUnavailable, Geoblocked, SecretsError)):
        return False
    if isinstance(exc, Geoblocked):
        result.geoblocked, result.hint = True, exc.hint or ""
    elif isinstance(exc, AuthError):
        result.rejected, result.hint = True, exc.hint or ""
    return True


async def _read_settlements(ctx: _Context, venue: Venue, tv: TradingVenue,
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
        raise  # the ledger's own database, not the venue's answer: exit 3 (see _call)
    except OrionError as exc:
        found, unchecked, cause, outage = [], set(held), exc.message, _unanswered(exc, result)
    if outage:
        return found, unchecked, f"could not read the settlements of the markets held: {cause}"[:400]
    result.drifts.append(Drift(venue, "settlement", ", ".join(sorted(unchecked))[:200], None, ZERO, ZERO, ZERO,
                               f"could not read the venue's settlements of the markets held: {cause}"[:400],
                               fix=UNREADABLE_FIX))
    return found, unchecked, None


async def _read_transfers(venue: Venue, tv: TradingVenue,
                          result: VenueReconcile) -> tuple[list[Transfer] | None, str | None]:
    """The venue's deposits and withdrawals ([] when it lists none), and why not when it could not be
    asked (else None). Either way the rest of the venue is still compared; without them (None) the
    balance report is not recorded. As for settlements (:func:`_read_settlements`): a list orion cannot
    read is ``transfers`` drift; no answer at all (:func:`_unanswered`: an outage, this host or our
    credentials refused) makes the venue unavailable, not drift: nothing the venue said disagrees."""
    try:
        return await tv.transfers() or [], None
    except StorageError:
        raise  # the ledger's own database, not the venue's answer: exit 3 (see _call)
    except OrionError as exc:
        if _unanswered(exc, result):
            return None, f"could not read the venue's deposits and withdrawals: {exc.message}"[:400]
        result.drifts.append(Drift(venue, "transfers", "", None, ZERO, ZERO, ZERO,
                                   f"could not read the venue's deposits and withdrawals: {exc.message}"[:400],
                                   fix="not fixed: the balance report is recorded once they can be read"))
        return None, None


def _unstorable(exc: BaseException) -> BaseException:
    """What the ledger could not store, for the drift's message. The database itself failing is not
    one drift's problem: that is raised again and ends the run."""
    if isinstance(exc, DBAPIError):
        raise exc
    return exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc


def _settle(ctx: _Context, conn: Connection, venue: Venue, found: Sequence[Settlement],
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
            what = _unstorable(exc)
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


def _positions(ctx: _Context, conn: Connection, venue: Venue, venue_positions: Sequence[Position],
               result: VenueReconcile, *, unchecked: set[str], waiting: Mapping[str, Decimal]) -> None:
    every = ctx.ledger.positions(venue, conn=conn, include_closed=True)
    ledger_pos = [p for p in every if p.size != 0]  # what positions() without closed ones returns
    result.counts["positions_ledger"] = len(ledger_pos)
    mine = _holdings(ledger_pos)
    # A market the ledger has settled is over: a venue that still lists its tokens (Polymarket, until
    # they are redeemed) holds a payout, which its balance counts, not a position.
    settled = ctx.ledger.settled_markets(venue, conn=conn)
    theirs = _holdings([p for p in venue_positions if p.market_id not in settled])
    # Closed ones too: a position the ledger closed seconds ago (an unwind) may still show at a venue
    # whose positions lag; calling that drift would have --fix buy it back.
    recent = {(p.market_id, p.side) for p in every
              if p.extra.get("updated_at") and ctx.now - _parse_ts(p.extra["updated_at"]) < ctx.grace}
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
            drift = Drift(venue, "position", market, side, ledger_qty, venue_qty, value,
                          f"ledger holds {ledger_qty} {side.value}, the venue {venue_qty}{gone}")

            if market in unchecked:  # settled, perhaps: adopting would close it at cost, not at its payout
                result.drifts.append(replace(drift, fix=UNCHECKED_FIX))
                continue
            if explained is not None:  # more than those orders explain: drift, but part of it may be theirs
                result.drifts.append(replace(drift, fix=UNDECIDED_FIX))
                continue

            def adopt(market: str = market, side: Side = side, ledger_qty: Decimal = ledger_qty,
                      venue_qty: Decimal = venue_qty) -> str:
                return _adjust(ctx, conn, venue, market, side, venue_qty - ledger_qty, mine, theirs)

            result.drifts.append(_savepoint_fix(ctx, conn, drift, adopt))


Book = Mapping[tuple[str, Side], _Holding]


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


def _value_price(ctx: _Context, venue: Venue, market: str, side: Side, mine: Mapping[tuple[str, Side], _Holding],
                 theirs: Mapping[tuple[str, Side], _Holding]) -> Decimal | None:
    mark = ctx.marks.get((venue, market, side))
    if mark is not None:
        return mark
    for book in (theirs, mine):
        h = book.get((market, side))
        if h is not None and h.avg is not None and h.avg > 0:
            return h.avg
    return None


def _adjust(ctx: _Context, conn: Connection, venue: Venue, market: str, side: Side, delta: Decimal,
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


def _adjust_fill(ctx: _Context, conn: Connection, venue: Venue, market: str, side: Side, action: Action,
                 qty: Decimal, mine: Mapping[tuple[str, Side], _Holding],
                 theirs: Mapping[tuple[str, Side], _Holding]) -> str:
    # A sell leaves at the ledger's own average (no invented P&L); a buy enters at the venue's average.
    sources = (mine, theirs) if action is Action.SELL else (theirs, mine)
    price: Decimal | None = None
    for book in sources:
        h = book.get((market, side))
        price = _valid_price(h.avg if h is not None else None)
        if price is not None:
            break
    if price is None:
        price = _valid_price(ctx.marks.get((venue, market, side)))
    if price is None:
        raise DataError(f"{market} {side.value}", "no average price or mark in (0, 1) to adjust the position at")
    coid = f"{ADJUST_PREFIX}{uuid.uuid4().hex}"
    request = OrderRequest(venue, market, side, action, qty, price, TimeInForce.IOC, coid)
    payload = _external_payload(adjustment=True, market=market, side=side.value, action=action.value, size=qty)
    ctx.ledger.record_intent(PreparedOrder(request, payload), conn=conn, now=ctx.now)
    fill = Fill(venue=venue, fill_id=coid, venue_order_id="", market_id=market, side=side, action=action, size=qty,
                price=price, fee=ZERO, ts=ctx.now, is_taker=False, client_order_id=coid)
    ctx.ledger.transition(coid, OrderStatus.FILLED, fills=[fill], venue_status="reconcile adjustment", conn=conn,
                          now=ctx.now)
    done = f"{action.value} {qty} {side.value} at {price} (adjustment {coid})"
    if action is Action.BUY and ctx.mode != "paper":
        # No fill says when these were bought, so not whether today's cash paid for them: as capital,
        # the adjustment cannot raise today's P&L (if today's cash did pay, the day shows that loss).
        cost = _q(qty * price)
        ctx.ledger.count_capital(conn, venue, market, side, qty, cost, now=ctx.now,
                                 why=f"reconcile adjustment {coid}: contracts the venue holds that no fill explains")
        done += f"; their cost {plain(cost)} counted as capital, not profit"
    return done
