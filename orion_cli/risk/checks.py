"""The pre-trade pipeline (DESIGN §4): every check, for both legs, before the first leg is sent.

:func:`evaluate` runs inside the caller's :meth:`Database.write` transaction, which serialises every
orion process sharing the database; the caller records the order intents in that same transaction,
so eight processes at once can never exceed a limit that one process respects. It never stops at
the first failure: ``trade`` without ``--confirm`` shows every verdict.

Fail closed: a check that cannot be evaluated (unknown balance, a query that fails, a value of the
wrong type) fails, and its ``detail`` says why. Limits are inclusive: a value *equal* to its limit
passes; one cent more fails.

What counts as exposure, in every exposure check alike: money committed, cost plus fees. Open
positions of this mode at cost plus the fees paid on them (from the ledger), plus buy orders still in
flight (intent / submitted / unknown / open) at their limit price for the unfilled part plus the fees
their execution's plan expected for those contracts (an order orion did not place, one reconcile
adopted, has no plan and counts without fees), plus this plan's legs at worst cost including fees
(``LegPlan.notional``). A Polymarket buy, in flight or planned, counts at the dollars it is signed for
(size × limit rounded up to the cent, :func:`polymarket_buy_spend`): the venue spends all of them, so
that is the cost its position holds once it fills.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, String, Text, and_, bindparam, case, cast, func, literal, not_, select, type_coerce
from sqlalchemy.exc import DBAPIError

from orion_cli.core.categories import normalise_category
from orion_cli.core.config import Settings, parse_window
from orion_cli.core.errors import OrionError
from orion_cli.core.models import (
    POLYMARKET_MIN_MARKETABLE_BUY,
    Market,
    OrderBook,
    Side,
    Venue,
    order_cash_out,
    polymarket_buy_short_of_minimum,
    polymarket_buy_spend,
)
from orion_cli.core.money import ZERO, ceil_to
from orion_cli.core.opportunity import not_a_pair
from orion_cli.core.plain_text import plural
from orion_cli.execution.plan import CHECK_ORDER, NOT_EVALUATED, CheckResult, LegPlan, TradePlan, Verdict
from orion_cli.execution.state import NEVER_SENT
from orion_cli.risk.halt import halted_detail, missing_halt_row, status_of
from orion_cli.store.audit import TAIL_COLUMNS, iso_utc, prime_tail
from orion_cli.store.db import (
    SCHEMA_COMPATIBLE_FROM,
    SCHEMA_REVISION,
    Database,
    display_url_of,
    upgraded_since_opened,
    usable_revision,
)
from orion_cli.store.ledger import (
    DAY_FIGURE_COLUMNS,
    HELD_POSITIONS_OF_MODE,
    DayFigures,
    cash_move,
    day_key,
    positions_from_rows,
    positions_in,
    report_time,
)
from orion_cli.store.prepared import Batch, Prepared
from orion_cli.store.tables import MONEY_QUANTUM, Money, balances, executions, fills, orders, orion_meta, plain
from orion_cli.venues.trading import Action, Balance, OrderStatus, Position

if TYPE_CHECKING:
    from orion_cli.risk.breaker import Breaker

# Orders whose unfilled part may still fill: they count toward exposure (and, before the venue has
# acknowledged them, against the cash a venue reports as available).
IN_FLIGHT = (OrderStatus.INTENT.value, OrderStatus.SUBMITTED.value, OrderStatus.UNKNOWN.value,
             OrderStatus.OPEN.value)
UNACKNOWLEDGED = (OrderStatus.INTENT.value, OrderStatus.SUBMITTED.value, OrderStatus.UNKNOWN.value)


@dataclass(frozen=True)
class PipelineContext:
    settings: Settings
    mode: str  # "paper" | "live"
    authorized: bool  # live trading authorized (always True in paper)
    authorization: str  # how: "paper" | "flag" | "typed" | "env"; or why not
    balances: Mapping[Venue, Balance | None]  # None = unknown → BALANCE fails closed
    now: datetime
    # Optional: the process's breaker (keeps the marks of its last update); without one, the
    # BREAKER check values open positions at cost.
    breaker: Breaker | None = None
    # A preview (`trade` without --confirm): it records no balance report, where --confirm records
    # the one it reads before its checks. BALANCE then says so instead of refusing a live venue the
    # ledger has no report of yet.
    preview: bool = False
    # The clock the checks are judged by, read once the writers' lock is held (:func:`evaluate`);
    # ``now`` is taken before the wait for it, which may last database.busy_timeout_ms. None: ``now``.
    clock: Callable[[], datetime] | None = None
    # A recording's time (`--demo`, `--snapshot`: MarketData.market_clock): its markets are judged open or
    # closed at it, as the scan that offered them judged them. None (live): at ``now``.
    recorded_at: datetime | None = None
    # The least net profit the plan must earn at the size it trades (EDGE_GONE): trading.min_profit for
    # `trade --watch`, which picks its own size, so that a limit capping it does not trade what the scan's
    # filter kept out. None for a trader's own `trade`: a deliberately small first trade is not refused.
    min_profit: Decimal | None = None


_CENT = Decimal("0.01")


def fmt(value: Decimal) -> str:
    """A number for a detail line: at least two places, never rounded away (100.001 stays 100.001)."""
    try:
        return _fmt_cached(value)
    except TypeError:  # a signalling NaN cannot be hashed
        return _fmt(value)


def _fmt(value: Decimal) -> str:
    v = plain(value)
    return f"{v:.2f}" if v == v.quantize(_CENT) else f"{v:f}"


# Like plain(), a function of the number alone; every trade formats the same limits again.
_fmt_cached = functools.lru_cache(maxsize=4096)(_fmt)


# -- the ledger as the checks see it ------------------------------------------------------------


@dataclass
class _Book:
    """Existing exposure of this mode, cost plus fees (module doc): positions at cost plus the fees paid
    on them, in-flight buys at their limit plus their plan's expected fees."""

    by_market: dict[tuple[str, str], Decimal]
    by_category: dict[str, Decimal]
    total: Decimal
    open_markets: set[tuple[str, str]]
    unacknowledged: dict[str, Decimal]  # venue → cash committed to orders the venue has not confirmed


# Built once (the order path runs them on every trade). Positions at cost plus fees; in-flight buys aggregated in
# SQL (exact: sums and differences of Money stay Money), so a thousand resting orders cost one row per
# market, price and execution, not a thousand Decimal conversions. Each row carries its execution's
# plan (none for an order orion did not place), whose legs say what fees the plan expected
# (:func:`_planned_fees`): in flight only while an execution runs, so usually no row at all.
_PENDING = (
    select(orders.c.venue, orders.c.market_id, orders.c.category, orders.c.status, orders.c.limit_price,
           orders.c.side, orders.c.execution_id,
           # Per order, never below 0: an in-flight overfilled buy must not cancel another's unfilled part.
           type_coerce(func.sum(case((orders.c.size > orders.c.filled_size, orders.c.size - orders.c.filled_size),
                                     else_=literal(0))), Money).label("unfilled"),
           select(executions.c.plan).where(executions.c.key == orders.c.execution_id)
           .scalar_subquery().label("plan"))
    # The statuses as literals, not an expanding list: the statement is prepared once (store/prepared.py).
    .where(orders.c.mode == bindparam("mode"), orders.c.action == "buy",
           orders.c.status.in_([literal(s) for s in IN_FLIGHT]))
    .group_by(orders.c.venue, orders.c.market_id, orders.c.category, orders.c.status, orders.c.limit_price,
              orders.c.side, orders.c.execution_id)
)
_PENDING_BY_MARKET = Prepared(_PENDING, name="pending_by_market")
_EXECUTION = select(executions.c.status, executions.c.created_at).where(executions.c.key == bindparam("key"))


def _orders_created(after: str, up_to: str | None = None) -> Any:
    """How many orders of the mode were created after ``after`` (and at or before ``up_to``), less those
    cancelled as never sent (:data:`NEVER_SENT`: an intent superseded or abandoned before it left): the
    limits are on orders sent. Found reviewing the hedge retry's rate check: after a partial first fill
    the committed second leg, superseded and never sent, was counted beside the hedge that replaced it,
    and a retry that kept within the limit was skipped, the first leg sold back at a loss."""
    never_sent = and_(orders.c.status == OrderStatus.CANCELLED.value,
                      orders.c.reject_reason.startswith(NEVER_SENT, autoescape=True))
    since = select(func.count()).where(orders.c.mode == bindparam("mode"), orders.c.created_at > bindparam(after),
                                       not_(never_sent))
    return since if up_to is None else since.where(orders.c.created_at <= bindparam(up_to))


def _state_statement(dialect: str) -> Any:
    """Every single-value read of the pipeline in one statement (each is a round trip on PostgreSQL).

    The kill switch joined with the breaker state, the day's figures, the recent-order counts, the
    idempotency key's execution, the audit chain's tail (which the order path's own events
    continue), and each venue's cash as the ledger holds it. Built on first use: the breaker module
    imports this one.
    """
    from orion_cli.risk.breaker import HALT_AND_STATE

    return HALT_AND_STATE.add_columns(
        *DAY_FIGURE_COLUMNS,
        # The hour as the minute plus the 59 minutes before it, so the count steps through each
        # order once (it visits every entry of its range; in a burst the whole hour is in the minute).
        _orders_created("hour_cut", "minute_cut").scalar_subquery().label("orders_hour_before_minute"),
        _orders_created("minute_cut").scalar_subquery().label("orders_last_minute"),
        _EXECUTION.with_only_columns(executions.c.status).scalar_subquery().label("key_status"),
        _EXECUTION.with_only_columns(executions.c.created_at).scalar_subquery().label("key_created_at"),
        *TAIL_COLUMNS,
        *(column for venue in Venue for column in _ledger_cash(venue, dialect)),
        # Whether reconcile holds the venue's reports (BALANCE refuses a live leg there): its orion_meta row.
        *(select(orion_meta.c.value).where(orion_meta.c.key == bindparam(f"held_key_{venue.value}"))
          .scalar_subquery().label(f"report_held_{venue.value}") for venue in Venue),
        SCHEMA_REVISION,
        SCHEMA_COMPATIBLE_FROM,
    )


def _ledger_cash(venue: Venue, dialect: str) -> tuple[Any, Any, Any]:
    """The venue's cash as the ledger holds it now, and as of when: paper cash, or live the last report
    moved by the fills recorded since (BALANCE: another process's fills since this one read its balances).

    Third, live and only when that figure is older than this trade's read (``read_<venue>``: its report
    was not recorded), the buy fills recorded after the read, one ``size:price:fee`` each, ``;`` between
    (:func:`_spent_since_read`): the cash they took that the read cannot show. As text because no SQL
    product of two Money columns is exact on SQLite (integer units overflow into a float); the CASE
    runs the look-up only then (both engines evaluate an uncorrelated subquery where it is reached),
    so the usual trade, whose read was just recorded, scans no fills.
    """
    row = select(balances.c.available).where(balances.c.mode == bindparam("mode"), balances.c.venue == venue.value)
    as_of = row.with_only_columns(balances.c.as_of).scalar_subquery()
    read = bindparam(f"read_{venue.value}", type_=String)
    one = (cast(fills.c.size, String) + literal(":") + cast(fills.c.price, String) + literal(":")
           + cast(fills.c.fee, String))
    joined = func.group_concat(one, literal(";")) if dialect == "sqlite" else func.string_agg(one, literal(";"))
    bought = select(joined).where(fills.c.mode == bindparam("mode"), fills.c.venue == venue.value,
                                  fills.c.action == "buy", fills.c.recorded_at > read)
    return (row.scalar_subquery().label(f"ledger_cash_{venue.value}"),
            as_of.label(f"ledger_cash_as_of_{venue.value}"),
            type_coerce(case((as_of < read, bought.scalar_subquery())), Text).label(f"bought_since_read_{venue.value}"))


# Built when first compiled (Prepared takes a function of the dialect): the breaker imports this module.
_PIPELINE_STATE = Prepared(_state_statement, name="pipeline_state")


def _load_book(conn: Connection, mode: str, held: Sequence[Position],
               pending: Sequence[Any] | None = None) -> _Book:
    book = _Book({}, {}, ZERO, set(), {})

    def add(venue: str, market: str, category: str, amount: Decimal) -> None:
        key = (venue, market)
        book.by_market[key] = book.by_market.get(key, ZERO) + amount
        cat = normalise_category(category)
        book.by_category[cat] = book.by_category.get(cat, ZERO) + amount
        book.total += amount
        book.open_markets.add(key)

    for pos in held:
        if pos.size > 0:
            # Cost plus the fees paid: the plan's legs count their expected fees (LegPlan.notional),
            # so the contracts held must count theirs, or a limit meant less for new money than old.
            add(pos.venue.value, pos.market_id, pos.category, pos.exposure + Decimal(pos.extra.get("fees", ZERO)))
    planned: dict[str, dict[tuple[str, str, str], tuple[Decimal, Decimal]]] = {}
    for p in _PENDING_BY_MARKET.rows(conn, {"mode": mode}) if pending is None else pending:
        unfilled = max(ZERO, Decimal(p.unfilled))
        # A Polymarket buy spends the dollars it is signed for in full (module doc), as its plan's leg counted.
        amount = (polymarket_buy_spend(unfilled, Decimal(p.limit_price)) if p.venue == Venue.POLYMARKET.value
                  else unfilled * Decimal(p.limit_price))
        fees = ZERO
        if p.plan is not None and unfilled > 0:
            if p.execution_id not in planned:
                try:
                    planned[p.execution_id] = _planned_fees(p.plan)
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    # Fail closed (each check says so), naming the execution the operator must look at.
                    what = exc if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                    raise ValueError(f"execution {p.execution_id}'s stored plan cannot be read for the fees of its "
                                     f"order in flight: {what}") from exc
            leg = planned[p.execution_id].get((p.venue, p.market_id, p.side))
            if leg is None:  # fail closed (each check says so): the plan does not hold the order's leg
                raise ValueError(f"execution {p.execution_id}'s plan has no {p.venue} {p.market_id} {p.side} leg: "
                                 "the fees of its order in flight are unknown")
            leg_fees, leg_size = leg
            # The plan's fees pro rata (exact for an order nothing has filled yet; else rounded up).
            fees = leg_fees if unfilled == leg_size else ceil_to(leg_fees * unfilled / leg_size, MONEY_QUANTUM)
        add(p.venue, p.market_id, p.category, amount + fees)
        if p.status in UNACKNOWLEDGED:
            # BALANCE's cash in flight, counted as _cash_out counts a leg (order_cash_out): the spend and the
            # fees its plan expected, rounded as the venue takes them (a row groups an execution's orders at
            # one limit: usually one order).
            spend = order_cash_out(Venue(p.venue), unfilled, Decimal(p.limit_price), fees)
            book.unacknowledged[p.venue] = book.unacknowledged.get(p.venue, ZERO) + spend
    return book


def counted_exposure(conn: Connection, mode: str) -> _Book:
    """The existing exposure of ``mode`` the exposure checks count (module doc), read on ``conn``: what
    ``orion positions`` / ``orion balance`` show beside each exposure line. Raises ``ValueError`` where
    the checks fail closed (an execution's stored plan cannot be read for its order in flight)."""
    return _load_book(conn, mode, positions_in(conn, mode))


def _planned_fees(plan: str) -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
    """The fees each leg of an execution's stored plan expected and its size, by (venue, market, side).
    A hedge retried at another limit counts the plan's fees per contract too."""
    out: dict[tuple[str, str, str], tuple[Decimal, Decimal]] = {}
    for leg in json.loads(plan, parse_float=Decimal)["legs"]:
        size, fees = Decimal(str(leg["size"])), Decimal(str(leg["fees"]))
        if size <= 0 or not fees.is_finite() or fees < 0:
            raise ValueError(f"a leg of the stored plan has size {size} and fees {fees}")
        out[(str(leg["venue"]), str(leg["market"]), str(leg["side"]))] = (fees, size)
    return out


class _Lazy:
    """The plan, and the ledger reads several checks share (done once, only if a check needs them)."""

    def __init__(self, conn: Connection, ctx: PipelineContext, plan: TradePlan) -> None:
        self.conn = conn
        self.ctx = ctx
        self.mode = ctx.mode
        self.plan = plan
        self._book: _Book | None = None
        self._positions: list[Position] | None = None
        self._pending: list[Any] | None = None
        self._state: Any = None
        self._problems: list[list[str]] | None = None

    @property
    def leg_problems(self) -> list[list[str]]:
        """:func:`_leg_problems` of each leg (the pipeline and INVALID_ORDER both ask)."""
        if self._problems is None:
            legs = self.plan.legs if isinstance(self.plan.legs, tuple | list) else ()
            at = self.ctx.recorded_at or self.ctx.now
            self._problems = [_leg_problems(leg, self.plan, at) for leg in legs]
        return self._problems

    def prefetch(self) -> None:
        """The three reads every full evaluation needs, sent together (one round trip on PostgreSQL).

        A database error (the writers' lock timed out, the connection died) is raised: on PostgreSQL
        it aborts the transaction, so no check could read anything. Any other failure (a value that
        cannot be bound) leaves each property to read on its own when a check asks, and the checks
        that cannot get their data fail closed with the reason.
        """
        if self._state is not None or self._positions is not None:
            return
        try:
            batch = Batch(self.conn)
            state = batch.add(_PIPELINE_STATE, self._state_values())
            held = batch.add(HELD_POSITIONS_OF_MODE, {"mode": self.mode})
            pending = batch.add(_PENDING_BY_MARKET, {"mode": self.mode})
            batch.run()
        except DBAPIError:
            # The database said no (busy: the writers' lock timed out; or gone). On PostgreSQL the
            # transaction is now aborted, so no check could read anything: the caller reports it.
            raise
        except Exception:  # see above: the checks report it, one by one
            return
        self._positions = positions_from_rows(held.rows)
        self._pending = pending.rows
        if state.rows:  # no kill-switch row: HALTED reads it again and fails closed with the reason
            self._set_state(state.rows[0])

    def _state_values(self) -> dict[str, Any]:
        now = self.ctx.now
        key = self.plan.key if isinstance(self.plan.key, str) else ""
        return {"mode": self.mode, "day_cut": day_key(now), "key": key,
                "minute_cut": iso_utc(now - timedelta(seconds=60)), "hour_cut": iso_utc(now - timedelta(seconds=3600)),
                **{f"read_{venue.value}": self._read_cut(venue) for venue in Venue},
                **{f"held_key_{venue.value}": self._held_key(venue) for venue in Venue}}

    def _held_key(self, venue: Venue) -> str:
        """The key of ``venue``'s held reports; "" (no row) in paper, whose ledger is the venue."""
        if self.mode != "live":
            return ""
        from orion_cli.core.settlement import held_key

        return held_key(self.mode, venue)

    def _read_cut(self, venue: Venue) -> str:
        """When this trade read ``venue``'s balance, as :func:`iso_utc` text: its ``read_at`` (orion's
        clock when it asked), else its ``as_of``; "" (no look-up) in paper, whose ledger *is* the venue
        (every fill re-dates its figure), or when the read is unusable (BALANCE refuses it). Kalshi's
        ``as_of`` is the balance's last change, to the second, before the read: cut there, a fill
        recorded between the two, already in the read, would be taken again."""
        if self.mode != "live":
            return ""
        bal: object = self.ctx.balances.get(venue)
        if not isinstance(bal, Balance) or not isinstance(bal.as_of, datetime):
            return ""
        read = report_time(bal)
        return iso_utc(read) if read.tzinfo is not None else ""  # naive: BALANCE refuses the read

    def _set_state(self, row: Any) -> None:
        if row is None:  # the migration inserts it: a damaged ledger or a manual edit (exit 3)
            raise missing_halt_row(self.conn)
        if not usable_revision(row.schema_revision, row.compatible_from):
            # Upgraded under this process, by a change it cannot use (db.COMPATIBLE_FROM_KEY): exit 3.
            raise upgraded_since_opened(display_url_of(self.conn), row.schema_revision)
        self._state = row
        if Database.in_write(self.conn):
            prime_tail(self.conn, row.audit_tail_seq, row.audit_tail_hash, row.audit_anchor, row.audit_tail_ts)

    @property
    def positions(self) -> list[Position]:
        """The positions of the mode still held (a year's closed history is not read under the lock)."""
        if self._positions is None:
            self._positions = positions_in(self.conn, self.mode)
        return self._positions

    @property
    def state(self) -> Any:
        """The one row of :func:`_state_statement`: halt + breaker state (HALTED, BREAKER), the day's
        figures (BREAKER), recent orders (RATE_LIMIT), the key's execution (DUPLICATE), audit tail."""
        if self._state is None:
            self._set_state(_PIPELINE_STATE.first(self.conn, self._state_values()))
        return self._state

    @property
    def day_figures(self) -> DayFigures:
        return DayFigures.of_row(self.ctx.now, self.ctx.settings.breaker.reset_hour_utc, self.state)

    @property
    def book(self) -> _Book:
        if self._book is None:
            self._book = _load_book(self.conn, self.mode, self.positions, self._pending)
        return self._book


# What the exposure checks' figures count (module doc), said in each of their details.
EXPOSURE_COUNTED = " (cost+fees of positions held, buys in flight and the plan)"


# -- plan-wide checks -------------------------------------------------------------------------------

Result = CheckResult | list[CheckResult]


def check_halted(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    st = status_of(lazy.state, ctx.settings.halt.sentinel_file, ctx.mode)  # a paper-only halt stops no live trade
    if st.halted:  # a drawdown trip or the sentinel file: the detail names the release (`orion resume` is refused)
        return CheckResult("HALTED", False, halted_detail(st))
    return CheckResult("HALTED", True, "kill switch released")


def check_breaker(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    from orion_cli.risk.breaker import Breaker

    breaker = ctx.breaker
    if breaker is None:
        breaker = Breaker.for_connection(conn, ctx.settings, mode=ctx.mode)
    elif breaker.mode != ctx.mode:
        return CheckResult("BREAKER", False, f"breaker is for {breaker.mode} but the plan trades {ctx.mode}")
    return breaker.check(conn, ctx.now, halt_and_state=lazy.state, held_positions=lazy.positions,
                         day_figures=lazy.day_figures)


def check_authorized(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    if ctx.mode not in ("paper", "live"):
        return CheckResult("NOT_AUTHORIZED", False, f"unknown trading mode {ctx.mode!r}")
    if not ctx.authorized:
        # Only a preview meets an unauthorized context, whose mode is what the gate has not decided
        # (a half-set environment is refused, not "paper"): live is named only when asked for.
        what = "live trading" if ctx.mode == "live" else "trading"
        return CheckResult("NOT_AUTHORIZED", False,
                           f"{what} not authorized: {ctx.authorization or 'no authorization given'}")
    return CheckResult("NOT_AUTHORIZED", True, f"{ctx.mode} trading authorized ({ctx.authorization})")


def in_window(now: datetime, start: int, end: int) -> bool:
    """``start`` inclusive, ``end`` exclusive, minutes since midnight UTC; wraps past midnight
    (``parse_window`` refuses ``start == end``; it would read as a whole day)."""
    t = now.astimezone(UTC)
    minute = Decimal(t.hour * 60 + t.minute) + Decimal(t.second * 1_000_000 + t.microsecond) / Decimal(60_000_000)
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def check_window(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    windows = ctx.settings.trading.trading_windows
    if not windows:
        return CheckResult("TRADING_WINDOW", True, "no trading windows configured: always open")
    source = ctx.settings.sources.get("trading.trading_windows", "settings")
    # Named as written, without the spaces around it (" 22:00 - 02:00 " is accepted as 22:00 - 02:00).
    parsed = [(w.strip(), *parse_window(w, source)) for w in windows]
    now_text = ctx.now.astimezone(UTC).strftime("%H:%M:%S")
    for text, start, end in parsed:
        if in_window(ctx.now, start, end):
            return CheckResult("TRADING_WINDOW", True, f"{now_text} UTC inside window {text}")
    return CheckResult("TRADING_WINDOW", False,
                       f"{now_text} UTC outside every trading window ({', '.join(t for t, _, _ in parsed)} UTC)")


def check_edge(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    min_edge = ctx.settings.trading.min_edge
    for name, value in (("net_edge", plan.net_edge), ("net_profit", plan.net_profit)):
        if not _finite(value):
            return CheckResult("EDGE_GONE", False, f"{name} is not a finite decimal: {value!r}")
    if plan.net_edge < min_edge:
        return CheckResult("EDGE_GONE", False, f"net edge {fmt(plan.net_edge)} < min_edge {fmt(min_edge)} "
                                               f"(quoted {fmt(plan.quoted_net_edge)})")
    if plan.net_profit <= 0:
        return CheckResult("EDGE_GONE", False, f"net profit {fmt(plan.net_profit)} <= 0")
    floor = ctx.min_profit
    if floor is not None and plan.net_profit < floor:
        return CheckResult("EDGE_GONE", False, f"net profit {fmt(plan.net_profit)} at size {plain(plan.size)} < "
                                               f"min_profit {fmt(floor)} (trade --watch trades only what earns it)")
    return CheckResult("EDGE_GONE", True, f"net edge {fmt(plan.net_edge)} >= min_edge {fmt(min_edge)}; "
                                          f"net profit {fmt(plan.net_profit)}"
                                          + (f" >= min_profit {fmt(floor)}" if floor is not None else ""))


def check_total(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    limit = ctx.settings.limits.total_exposure
    existing = lazy.book.total
    new = sum((leg.notional for leg in plan.legs), ZERO)
    total = existing + new
    op = "<=" if total <= limit else ">"
    return CheckResult("TOTAL_EXPOSURE", total <= limit,
                       f"existing {fmt(existing)} + plan {fmt(new)} = {fmt(total)} {op} total_exposure {fmt(limit)}"
                       f"{EXPOSURE_COUNTED}")


def check_open_positions(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    limit = ctx.settings.limits.open_positions
    held = lazy.book.open_markets
    new = {(leg.venue.value, leg.market.id) for leg in plan.legs} - held
    count = len(held) + len(new)
    op = "<=" if count <= limit else ">"
    return CheckResult("OPEN_POSITIONS", count <= limit,
                       f"{len(held)} {plural(len(held), 'market')} held + {len(new)} new = {count} {op} "
                       f"open_positions {limit}")


def check_rate(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    last_minute = int(lazy.state.orders_last_minute)
    return _rate(ctx.settings, last_minute, int(lazy.state.orders_hour_before_minute) + last_minute, len(plan.legs))


def _rate(settings: Settings, last_minute: int, last_hour: int, n: int) -> CheckResult:
    rl = settings.rate_limits
    per_min, per_hour = last_minute + n, last_hour + n
    ok = per_min <= rl.orders_per_minute and per_hour <= rl.orders_per_hour
    return CheckResult(
        "RATE_LIMIT", ok,
        f"{last_minute} {plural(last_minute, 'order')} in the last 60 s + {n} = {per_min} "
        f"{'<=' if per_min <= rl.orders_per_minute else '>'} orders_per_minute {rl.orders_per_minute}; "
        f"{last_hour} in the last 3600 s + {n} = {per_hour} "
        f"{'<=' if per_hour <= rl.orders_per_hour else '>'} orders_per_hour {rl.orders_per_hour}",
    )


_RECENT_ORDERS = Prepared(lambda dialect: select(
    _orders_created("minute_cut").scalar_subquery().label("last_minute"),
    _orders_created("hour_cut").scalar_subquery().label("last_hour")), name="recent_orders")


def rate_check(conn: Connection, settings: Settings, mode: str, now: datetime, n: int = 1) -> CheckResult:
    """RATE_LIMIT for ``n`` more orders of ``mode`` beyond those a trade's checks counted: a hedge retry,
    on ``conn`` (the serialised write transaction that then commits it, so processes sharing the
    database count each other's). Found in review: retries went out past orders_per_minute, the check
    having counted a trade's two legs only. An unwind is not held to it: it closes exposure."""
    row = _RECENT_ORDERS.first(conn, {"mode": mode, "minute_cut": iso_utc(now - timedelta(seconds=60)),
                                      "hour_cut": iso_utc(now - timedelta(seconds=3600))})
    return _rate(settings, int(row.last_minute), int(row.last_hour), n)


def check_duplicate(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    if not isinstance(plan.key, str) or not plan.key:
        return CheckResult("DUPLICATE", False, "the plan has no idempotency key")
    st = lazy.state
    if st.key_status is not None:
        return CheckResult("DUPLICATE", False, f"idempotency key {plan.key} already used "
                                               f"(execution {st.key_status}, created {st.key_created_at})")
    return CheckResult("DUPLICATE", True, f"idempotency key {plan.key} unused")


# -- per-leg checks ----------------------------------------------------------------------------------


def _finite(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def _leg_problems(leg: LegPlan, plan: TradePlan, now: datetime) -> list[str]:
    """Everything that makes a leg unsendable, named."""
    problems: list[str] = []
    venue: object = leg.venue  # typed, but a plan may come from anywhere: check anyway
    side: object = leg.side
    if not isinstance(venue, Venue) or not isinstance(side, Side):
        return [f"venue/side of the wrong type: {venue!r}/{side!r}"]
    for name in ("size", "limit_price", "expected_avg_price", "expected_cost", "expected_fees"):
        value = getattr(leg, name)
        if not _finite(value):
            problems.append(f"{name} is not a finite decimal: {value!r}")
    if problems:
        return problems
    if leg.size <= 0:
        problems.append(f"size {leg.size} <= 0")
    if leg.expected_fees < 0 or leg.expected_cost < 0:
        problems.append(f"negative cost/fees {leg.expected_cost}/{leg.expected_fees}")
    if _finite(plan.size) and leg.size != plan.size:
        problems.append(f"size {leg.size} differs from the plan's {plan.size} (legs must be equal shares)")
    market_obj: object = leg.market
    if not isinstance(market_obj, Market) or not market_obj.id:
        return [*problems, "unknown market"]
    market = market_obj
    if market.venue is not leg.venue:
        problems.append(f"market {market.id} is a {market.venue.value} market, the leg is for {leg.venue.value}")
    book = leg.book
    if not isinstance(book, OrderBook) or book.market_id != market.id or book.venue is not leg.venue:
        problems.append(f"the book is not market {market.id}'s")
    elif book.fetched_at.tzinfo is None:
        problems.append("the book's fetched_at is a naive datetime")
    if leg.venue is Venue.POLYMARKET:
        token = market.yes_token if leg.side is Side.YES else market.no_token
        if not leg.token_id or (token and leg.token_id != token):
            problems.append(f"token {leg.token_id or '(none)'} is not market {market.id}'s {leg.side.value} token")
    if (shut := market.not_open_at(now)) is not None:
        problems.append(shut)
    if leg.size > 0:
        if leg.size < market.min_size:
            problems.append(f"size {leg.size} below the market minimum {market.min_size}")
        if market.size_step > 0 and leg.size % market.size_step != 0:
            problems.append(f"size {leg.size} not a multiple of {market.size_step}")
        if leg.venue is Venue.POLYMARKET:
            spend = polymarket_buy_short_of_minimum(leg.size, leg.limit_price)
            if spend is not None:
                problems.append(f"buys {plain(leg.size)} at <= {leg.limit_price} for {fmt(spend)}, below Polymarket's "
                                f"{fmt(POLYMARKET_MIN_MARKETABLE_BUY)} minimum for an immediate buy")
    if not market.ticks.is_valid(leg.limit_price):
        problems.append(f"limit price {leg.limit_price} not on the market's tick grid")
    if leg.expected_avg_price > leg.limit_price:
        problems.append(f"average price {leg.expected_avg_price} above the limit {leg.limit_price}")
    return problems


def check_invalid(conn: Connection, plan: TradePlan, ctx: PipelineContext, lazy: _Lazy) -> Result:
    out: list[CheckResult] = []
    basket = not_a_pair(len(plan.legs))
    if basket is not None:
        out.append(CheckResult("INVALID_ORDER", False, basket))
    known = lazy.leg_problems  # empty when the legs are not a tuple or list: judged here instead
    recorded = "" if ctx.recorded_at is None else f" at the recording's time {iso_utc(ctx.recorded_at)}"
    for i, leg in enumerate(plan.legs):
        problems = known[i] if i < len(known) else _leg_problems(leg, plan, ctx.recorded_at or ctx.now)
        if problems:
            out.append(CheckResult("INVALID_ORDER", False, "; ".join(problems), leg=i))
        else:
            out.append(CheckResult("INVALID_ORDER", True,
                                   f"{leg.venue.value} {leg.market.id} {leg.side.value}: buy {leg.size} "
                                   f"at <= {leg.limit_price}, market open{recorded}", leg=i))
    return out


def check_price_band(leg: LegPlan, i: int, ctx: PipelineContext, lazy: _Lazy) -> CheckResult:
    """Every price the leg pays is in the band: the cheapest level it walks too, not only its average,
    which a few contracts far below the band (0.03 beside 0.06) leave inside it. (A plan stored by an
    earlier build has no levels: its average is the cheapest figure known.)"""
    lo, hi = ctx.settings.limits.price_band_low, ctx.settings.limits.price_band_high
    cheapest = min((level.price for level in leg.levels), default=leg.expected_avg_price)
    for name, price in (("limit", leg.limit_price), ("average", leg.expected_avg_price),
                        ("cheapest level's", cheapest)):
        if price < lo:
            return CheckResult("PRICE_BAND", False, f"{name} price {price} < price_band_low {lo}", leg=i)
        if price > hi:
            return CheckResult("PRICE_BAND", False, f"{name} price {price} > price_band_high {hi}", leg=i)
    return CheckResult("PRICE_BAND", True, f"prices {cheapest}..{leg.limit_price} within [{lo}, {hi}]", leg=i)


def check_stale(leg: LegPlan, i: int, ctx: PipelineContext, lazy: _Lazy) -> CheckResult:
    limit = ctx.settings.trading.quote_max_age_seconds
    delta = ctx.now - leg.book.fetched_at
    age = max(ZERO, (Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000))
    if age > limit:
        return CheckResult("STALE_QUOTE", False, f"book age {fmt(age)} s > quote_max_age_seconds {fmt(limit)}", leg=i)
    return CheckResult("STALE_QUOTE", True, f"book age {fmt(age)} s <= quote_max_age_seconds {fmt(limit)}", leg=i)


def _rounded(needed: Decimal, exact: Decimal, venue: Venue) -> str:
    """What BALANCE and ORDER_NOTIONAL say when the cash out is more than size × limit + fees: a Polymarket
    buy's signed spend is rounded up to the cent (its fees are not), a Kalshi order's whole cash."""
    what = "spend" if venue is Venue.POLYMARKET else "cash"
    return f" ({fmt(exact)} before its {what} is rounded up to the cent)" if needed != exact else ""


def check_notional(leg: LegPlan, i: int, ctx: PipelineContext, lazy: _Lazy) -> CheckResult:
    """The most the order can take (:func:`_cash_out`, as BALANCE counts it), not size × limit + fees:
    a Polymarket buy spends its size × limit rounded up to the cent."""
    limit = ctx.settings.limits.order_notional
    n = _cash_out(leg)
    op = "<=" if n <= limit else ">"
    rounded = _rounded(n, leg.exact_notional, leg.venue)
    return CheckResult("ORDER_NOTIONAL", n <= limit,
                       f"cost+fees {fmt(n)}{rounded} {op} order_notional {fmt(limit)} "
                       f"({plain(leg.size)} x {leg.limit_price} + fees {fmt(leg.expected_fees)})", leg=i)


def check_contracts(leg: LegPlan, i: int, ctx: PipelineContext, lazy: _Lazy) -> CheckResult:
    limit = ctx.settings.limits.order_contracts
    op = "<=" if leg.size <= limit else ">"
    return CheckResult("ORDER_CONTRACTS", leg.size <= limit,
                       f"size {plain(leg.size)} {op} order_contracts {plain(limit)}", leg=i)


def _plan_markets(plan: TradePlan) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    for leg in plan.legs:
        key = (leg.venue.value, leg.market.id)
        out[key] = out.get(key, ZERO) + leg.notional
    return out


def check_market_exposure(leg: LegPlan, i: int, ctx: PipelineContext, lazy: _Lazy) -> CheckResult:
    limit = ctx.settings.limits.market_exposure
    key = (leg.venue.value, leg.market.id)
    existing = lazy.book.by_market.get(key, ZERO)
    new = _plan_markets(lazy.plan)[key]
    total = existing + new
    op = "<=" if total <= limit else ">"
    return CheckResult("MARKET_EXPOSURE", total <= limit,
                       f"{leg.venue.value} {leg.market.id}: existing {fmt(existing)} + plan {fmt(new)} = {fmt(total)} "
                       f"{op} market_exposure {fmt(limit)}{EXPOSURE_COUNTED}", leg=i)


def check_category_exposure(leg: LegPlan, i: int, ctx: PipelineContext, lazy: _Lazy) -> CheckResult:
    limit = ctx.settings.limits.category_exposure
    cat = normalise_category(leg.market.category)
    existing = lazy.book.by_category.get(cat, ZERO)
    new = sum((x.notional for x in lazy.plan.legs if normalise_category(x.market.category) == cat), ZERO)
    total = existing + new
    op = "<=" if total <= limit else ">"
    return CheckResult("CATEGORY_EXPOSURE", total <= limit,
                       f"category {cat}: existing {fmt(existing)} + plan {fmt(new)} = {fmt(total)} {op} "
                       f"category_exposure {fmt(limit)}{EXPOSURE_COUNTED}", leg=i)


def _cash_out(leg: LegPlan) -> Decimal:
    """The cash a leg can take from the account at worst (:func:`order_cash_out`): BALANCE and
    ORDER_NOTIONAL alike."""
    return order_cash_out(leg.venue, leg.size, leg.limit_price, leg.expected_fees)


def check_balance(leg: LegPlan, i: int, ctx: PipelineContext, lazy: _Lazy) -> CheckResult:
    limits = ctx.settings.limits
    venue = leg.venue
    bal = ctx.balances.get(venue)
    if bal is None:
        return CheckResult("BALANCE", False, f"{venue.value} balance unknown: refusing", leg=i)
    if not _finite(bal.available):
        return CheckResult("BALANCE", False, f"{venue.value} available balance is not a decimal: {bal.available!r}",
                           leg=i)
    if bal.mode != ctx.mode:
        return CheckResult("BALANCE", False, f"{venue.value} balance is a {bal.mode} balance; the plan trades "
                                             f"{ctx.mode}", leg=i)
    read = report_time(bal)  # when orion read it: Kalshi's as_of is the balance's last change
    if bal.as_of.tzinfo is None or read.tzinfo is None:
        return CheckResult("BALANCE", False, f"{venue.value} balance time is naive: treated as unknown", leg=i)
    age = (ctx.now - read).total_seconds()
    if age > limits.balance_max_age_seconds:
        return CheckResult("BALANCE", False, f"{venue.value} balance is {int(age)} s old > balance_max_age_seconds "
                                             f"{limits.balance_max_age_seconds}: treated as unknown", leg=i)
    cash, since = bal.available, ""
    recorded = getattr(lazy.state, f"ledger_cash_{venue.value}", None)
    recorded_as_of = getattr(lazy.state, f"ledger_cash_as_of_{venue.value}", None)
    held_value = getattr(lazy.state, f"report_held_{venue.value}", None) if ctx.mode == "live" else None
    if held_value is not None:
        from orion_cli.core.settlement import held_since

        held = held_since(held_value)
        # Reconcile found positions or fills there that the ledger does not hold, not fixed (an account
        # traded by hand, or by another bot). Every limit counts the ledger's positions, so the venue's
        # own were left out of them: a trade beside 400 contracts held by hand passed a $200 market
        # limit (found reviewing first contact with non-empty accounts). Nor does `orion balance` or
        # a trade record a held report (the module doc of core.settlement): only a reconcile that finds
        # the drift gone, or --fix adopting it, ends this. Sent to `orion balance`, the trader was
        # refused again and again.
        return CheckResult("BALANCE", False, f"{venue.value}: the account holds positions or fills that the "
                                             f"live ledger does not ({held}), so "
                                             "the exposure limits, the balance and the loss breaker would "
                                             "count without them: run `orion reconcile --live --venue "
                                             f"{venue.value} --fix` to adopt them (audited), then trade "
                                             "again (undone at the venue, a fill stays drift while it is in "
                                             "reconcile's look-back)",
                           leg=i)
    if ctx.mode == "live" and recorded_as_of is None:
        # No report recorded yet (this trade's could not be: settlements or transfers unreadable). The
        # ledger would book this trade's fills moving no cash, and the first report, already net of
        # them, would then count whole as capital: their cost read as today's profit, hiding as large a
        # loss from the breaker's daily limit. --confirm records the report it reads before its checks.
        if not ctx.preview:
            return CheckResult("BALANCE", False, f"{venue.value}: the live ledger holds no balance report of this "
                                                 "venue yet (this trade's was not recorded: its settlements or "
                                                 "transfers could not be read), so its fills would read as today's "
                                                 "profit and hide losses from the daily limit: run `orion balance` in "
                                                 "live mode to record one, then trade again", leg=i)
        since = " (no report recorded yet: --confirm records this one first)"
    if recorded is not None and Decimal(recorded) < cash and _not_older(recorded_as_of, read):
        # Read before this transaction: fills recorded since (another orion process's trade) have
        # spent some of it. The lower figure, so processes trading at once never share the same cash;
        # but only from a ledger figure at least as new as the read (live: one that starts from an
        # older report, say the last one recorded before a deposit, would refuse cash the venue holds).
        cash = Decimal(recorded)
        since = f", {fmt(cash)} after the fills recorded since"
    else:
        spent = _spent_since_read(getattr(lazy.state, f"bought_since_read_{venue.value}", None), lazy.conn)
        if spent:
            # Live, the ledger's figure is older than the read (this trade's report was not recorded):
            # its own cash is not used (it may predate a deposit), but the buys recorded since the read
            # (another process's trade) spent cash the read still shows.
            cash = bal.available - spent
            since = f", {fmt(cash)} after {fmt(spent)} spent by the fills recorded since it was read"
    mine = [x for x in lazy.plan.legs if x.venue is venue]
    needed = sum((_cash_out(x) for x in mine), ZERO)
    cents = _rounded(needed, sum((x.exact_notional for x in mine), ZERO), venue)
    required = needed * (1 + limits.balance_buffer_pct / 100)
    in_flight = lazy.book.unacknowledged.get(venue.value, ZERO)
    usable = cash - in_flight
    op = ">=" if usable >= required else "<"
    flight = f" - in flight {fmt(in_flight)} = {fmt(usable)}" if in_flight else ""
    return CheckResult("BALANCE", usable >= required,
                       f"{venue.value} available {fmt(bal.available)}{since}{flight} {op} required {fmt(required)} "
                       f"(cost+fees {fmt(needed)}{cents} + {fmt(limits.balance_buffer_pct)}% buffer)", leg=i)


_MONEY = Money()


def _spent_since_read(bought: Any, conn: Connection) -> Decimal:
    """The cash the buy fills listed in ``bought`` (:func:`_ledger_cash`'s text) took: each fill's
    notional, rounded as the ledger books it, plus its fee. Each value is decoded as its Money column
    stores it (on SQLite, integer units)."""
    if not bought:
        return ZERO
    dialect = conn.dialect
    raw = (int if dialect.name == "sqlite" else str)
    total = ZERO
    for one in str(bought).split(";"):
        size, price, fee = (_MONEY.process_result_value(raw(v), dialect) for v in one.split(":"))
        assert size is not None and price is not None and fee is not None
        total -= cash_move(Action.BUY, size, price, fee)
    return total


def _not_older(stored: Any, read_at: datetime) -> bool:
    """Whether the ledger's balance time ``stored`` (:func:`iso_utc` text, whose order is time order)
    is at or after ``read_at``."""
    return bool(stored) and str(stored) >= iso_utc(read_at)


LegCheck = Callable[[LegPlan, int, PipelineContext, _Lazy], CheckResult]
PlanCheck = Callable[[Connection, TradePlan, PipelineContext, _Lazy], Result]

PLAN_CHECKS: dict[str, PlanCheck] = {
    "HALTED": check_halted,
    "BREAKER": check_breaker,
    "NOT_AUTHORIZED": check_authorized,
    "TRADING_WINDOW": check_window,
    "INVALID_ORDER": check_invalid,
    "EDGE_GONE": check_edge,
    "TOTAL_EXPOSURE": check_total,
    "OPEN_POSITIONS": check_open_positions,
    "RATE_LIMIT": check_rate,
    "DUPLICATE": check_duplicate,
}
LEG_CHECKS: dict[str, LegCheck] = {
    "PRICE_BAND": check_price_band,
    "STALE_QUOTE": check_stale,
    "ORDER_NOTIONAL": check_notional,
    "ORDER_CONTRACTS": check_contracts,
    "MARKET_EXPOSURE": check_market_exposure,
    "CATEGORY_EXPOSURE": check_category_exposure,
    "BALANCE": check_balance,
}
# Checks that read the legs' numbers: meaningless (and failed) when a leg is malformed.
_NEEDS_VALID_LEGS = {"TOTAL_EXPOSURE", "OPEN_POSITIONS", *LEG_CHECKS}
assert set(PLAN_CHECKS) | set(LEG_CHECKS) == set(CHECK_ORDER)


def _failed(name: str, exc: BaseException, leg: int | None = None) -> CheckResult:
    what = exc.message if isinstance(exc, OrionError) else f"{type(exc).__name__}: {exc}"
    return CheckResult(name, False, f"could not be evaluated: {what}"[:500], leg=leg)


def evaluate(conn: Connection, plan: TradePlan, ctx: PipelineContext) -> Verdict:
    """Every check of :data:`CHECK_ORDER`, for every leg, in order; never stops at the first failure.

    With ``ctx.clock``, the time-based checks (STALE_QUOTE, BALANCE's age, TRADING_WINDOW, a market's
    close, BREAKER's day) are judged at the clock read once the first statement has run, so under the
    writers' lock (SQLite takes it at BEGIN, PostgreSQL with that statement), never before ``ctx.now``:
    a wait for another process's transaction ages the books as much as any other. The statement's own
    cuts were taken from ``ctx.now``: RATE_LIMIT's window then reaches a little further back (the
    safe side), and BREAKER reads the day's figures again if the day turned meanwhile.
    """
    lazy = _Lazy(conn, ctx, plan)
    lazy.prefetch()
    if ctx.clock is not None:
        ctx = lazy.ctx = dataclasses.replace(ctx, now=max(ctx.now, ctx.clock()))
    results: list[CheckResult] = []
    legs: Sequence[LegPlan] = plan.legs if isinstance(plan.legs, tuple | list) else ()
    malformed = [i for i, problems in enumerate(lazy.leg_problems) if problems]
    for name in CHECK_ORDER:
        if name in _NEEDS_VALID_LEGS and (malformed or not legs):
            why = "the plan has no legs" if not legs else f"leg(s) {', '.join(map(str, malformed))} invalid"
            if name in LEG_CHECKS and legs:
                results.extend(CheckResult(name, False, f"{NOT_EVALUATED}{why}", leg=i) for i in range(len(legs)))
            else:
                results.append(CheckResult(name, False, f"{NOT_EVALUATED}{why}"))
            continue
        if name in LEG_CHECKS:
            for i, leg in enumerate(legs):
                try:
                    results.append(LEG_CHECKS[name](leg, i, ctx, lazy))
                except Exception as exc:  # fail closed
                    results.append(_failed(name, exc, i))
            continue
        try:
            out = PLAN_CHECKS[name](conn, plan, ctx, lazy)
        except Exception as exc:  # fail closed
            out = _failed(name, exc)
        if isinstance(out, list):
            if not out:
                out = [CheckResult(name, False, "the plan has no legs")]
            results.extend(out)
        else:
            results.append(out)
    return Verdict(tuple(results))
