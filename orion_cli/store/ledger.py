"""The trading ledger: orders, fills, positions, balances and today's P&L, each change audited.

Every venue (paper now, Kalshi and Polymarket later) records through here, so the two-leg
executor, ``balance``/``positions`` and ``reconcile`` all read one truth:

* an order's *intent* (with the exact prepared payload) is committed before it is sent;
* every status change and every fill writes its audit event in the *same* transaction
  (``order.intent``, ``order.submitted``, ``order.acknowledged``, ``order.filled``,
  ``order.partial``, ``order.cancelled``, ``order.rejected``, ``order.unknown``);
* a fill is unique per (mode, venue, fill_id): reported twice, it counts once;
* positions and balances move by exact Decimal arithmetic. A live balance is the venue's last
  report (:meth:`Ledger.record_balance`) plus the fills recorded since: a fill moves cash the
  moment it is recorded, as it moves the position, so equity (cash + positions) neither counts a
  buy's cost twice (stale cash *and* the new position) nor hides a realised loss until the next
  report. The next report replaces the figure, plus the fills and payouts recorded that it cannot
  hold (read before they happened: another process recorded them first), so nothing is counted
  twice nor dropped. Before the first report a live venue has no balance row and fills move no cash.
* a netting venue (Kalshi: one signed position per market) holds YES and NO as their net, so a buy
  of one side while the other is held closes the pairs it makes, each paying $1 into the cash at
  once (``position.netted``; the pairs are stored with the fill, ``fills.netted``, so a report
  recorded later can add back what they paid). Pairs a ledger from before that still holds on both
  sides are left as they are: they were paid for then.

Today's P&L is equity now (cash + positions at their marks, or at cost when no mark is known)
minus the equity before the day's first change, snapshotted at cost in ``equity_snapshots``. A
position carried over the daily reset therefore contributes all its unrealised P&L, not just
today's move: conservative for the breaker, and stated in the record (``marked``).

A trading day is identified by the instant it starts (:class:`TradingDay`), and the snapshot
records its end too: the day that is recorded lasts until that end whatever ``reset_hour_utc``
says meanwhile (a config edit, another process with another hour). A changed hour takes effect
when the recorded day ends, the day after it running from there to the next boundary of the new
hour (:func:`current_day`). Why: the day was a date label ("the date its window starts on"),
which a changed hour moved under the breaker: a daily trip was lifted hours early and the day's
loss forgotten, or a past day's trip came back and refused every trade.

Every method takes an optional ``conn`` so that callers (the executor's checks) can run it inside
their own :meth:`Database.write` transaction; without one it opens its own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, text, type_coerce, union, update
from sqlalchemy.exc import IntegrityError

from orion_cli.core.categories import CATEGORY_CHARS, normalise_category
from orion_cli.core.errors import DataError, NotFound, Refused
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ZERO
from orion_cli.store.audit import AuditLog, iso_utc
from orion_cli.store.audit import batched as audit_batch
from orion_cli.store.db import Database
from orion_cli.store.prepared import Prepared, defer_many
from orion_cli.store.tables import (
    HELD_POSITION,
    MONEY_QUANTUM,
    Money,
    balances,
    breaker_state,
    equity_snapshots,
    fills,
    orders,
    plain,
    positions,
    settlements,
    transfers,
)
from orion_cli.venues.trading import (
    VOID,
    Action,
    Balance,
    Fill,
    OrderState,
    OrderStatus,
    Position,
    PreparedOrder,
    Settlement,
    TradingError,
    Transfer,
)

log = logging.getLogger(__name__)

STATUS_EVENTS: dict[OrderStatus, str] = {
    OrderStatus.INTENT: "order.intent",
    OrderStatus.SUBMITTED: "order.submitted",
    OrderStatus.OPEN: "order.acknowledged",
    OrderStatus.FILLED: "order.filled",
    OrderStatus.PARTIAL: "order.partial",
    OrderStatus.CANCELLED: "order.cancelled",
    OrderStatus.REJECTED: "order.rejected",
    OrderStatus.UNKNOWN: "order.unknown",
}

MarkKey = tuple[Venue, str, Side]

# Venues that net YES against NO of one market (Kalshi: ``position_fp`` is signed). Polymarket's YES
# and NO are two tokens, held apart until merged or settled.
NETTING_VENUES = frozenset({Venue.KALSHI})

# Built once: the order path runs these on every trade, and building a statement costs more than running it.
_ORDER_BY_COID = select(orders).where(orders.c.client_order_id == bindparam("coid"))
_ORDERS_BY_COIDS = select(orders).where(orders.c.client_order_id.in_(bindparam("coids", expanding=True)))
INSERT_ORDER = Prepared.insert(orders, name="insert_orders")
# The newest recorded trading day that began by ``day_cut`` (:func:`day_key` of now): the primary key's
# index, read backwards, one entry.
_LATEST_DAY = (select(equity_snapshots.c.day, equity_snapshots.c.ends_at, equity_snapshots.c.start_equity)
               .where(equity_snapshots.c.mode == bindparam("mode"), equity_snapshots.c.day <= bindparam("day_cut"))
               .order_by(equity_snapshots.c.day.desc()).limit(1))


def _latest_day(column: Any, label: str) -> Any:
    return _LATEST_DAY.with_only_columns(column).scalar_subquery().label(label)


# The newest recorded day (its start, end and start equity: :meth:`DayFigures.of_row` tells whether it is
# still the current one) and the cash now, in one round trip (sums of Money stay exact Money). The
# pre-trade checks select the same columns alongside their other single-value reads.
DAY_FIGURE_COLUMNS = (
    _latest_day(equity_snapshots.c.day, "day_key"),
    _latest_day(equity_snapshots.c.ends_at, "day_ends"),
    _latest_day(equity_snapshots.c.start_equity, "start_equity"),
    select(type_coerce(func.sum(balances.c.total), Money)).where(balances.c.mode == bindparam("mode"))
    .scalar_subquery().label("cash"),
)
_DAY_FIGURES = select(*DAY_FIGURE_COLUMNS)

# A held leg's pair partner, in two reads with an index each: the executions that bought into the
# held markets (ix_orders_mode_market), then those executions' buys whose market has settled
# (ix_orders_execution). A hedged pair pays 1 on exactly one leg, so once one leg has settled the
# other's payout is known (1 - what the settled side paid) before its own venue settles it.
_BUYS_IN_MARKETS = (
    select(orders.c.execution_id, orders.c.venue, orders.c.market_id, orders.c.side)
    .where(orders.c.mode == bindparam("mode"), orders.c.market_id.in_(bindparam("markets", expanding=True)),
           orders.c.action == "buy", orders.c.filled_size > ZERO, orders.c.execution_id.is_not(None))
    .distinct()
)
# Two lookups, each by its own index, joined in Python: as one join, SQLite's planner (no statistics)
# chose, from four execution ids on, to walk every settlement and for each every order of its venue:
# 45 s on a ledger of 3,700 executions, about 45 minutes a year on, in every breaker figure (positions,
# balance, reconcile, each trade's checks, under the writers' lock: `orion halt` timed out behind it).
_BUYS_OF_EXECUTIONS = (
    select(orders.c.execution_id, orders.c.venue, orders.c.market_id, orders.c.side)
    # No mode term (an execution id is one mode's): it would steer the planner off the execution index.
    .where(orders.c.execution_id.in_(bindparam("executions", expanding=True)),
           orders.c.action == "buy", orders.c.filled_size > ZERO)
    .distinct()
)
_SETTLEMENTS_OF_MARKETS = (
    select(settlements.c.venue, settlements.c.market_id, settlements.c.yes_payout)
    # A voided market paid no outcome (each side came back at cost): it says nothing of its partner's.
    # Venues and market ids as two lists (the pairs are picked in Python): each a column of the primary
    # key, so the lookup seeks (mode, venue, market id) rather than reading every settlement of the mode.
    .where(settlements.c.mode == bindparam("mode"), settlements.c.result != VOID,
           settlements.c.venue.in_(bindparam("venues", expanding=True)),
           settlements.c.market_id.in_(bindparam("market_ids", expanding=True)))
)


def _start_value(size: Decimal, cost: Decimal, implied: Decimal | None) -> Decimal:
    return cost if implied is None else q(size * implied)


def settled_pair_values(conn: Connection, mode: str, held: Iterable[MarkKey]) -> dict[MarkKey, Decimal]:
    """What each of the ``held`` legs pays per share, where its pair's other leg has settled.

    Without it, the settled leg's loss is booked while the other leg, now worth its payout, still
    counts at cost: a hedged, profitable pair reads as a loss (and a win as a peak) until the second
    venue settles too. Where two executions imply different values, the lower one counts.
    """
    wanted = set(held)
    if not wanted:
        return {}
    legs: dict[str, set[MarkKey]] = {}  # execution → the held legs it bought
    for row in conn.execute(_BUYS_IN_MARKETS, {"mode": mode, "markets": sorted({m for _, m, _ in wanted})}):
        key = (Venue(row.venue), row.market_id, Side(row.side))
        if key in wanted:
            legs.setdefault(row.execution_id, set()).add(key)
    values: dict[MarkKey, Decimal] = {}
    if not legs:
        return values
    bought = conn.execute(_BUYS_OF_EXECUTIONS, {"executions": sorted(legs)}).all()
    markets = sorted({(leg.venue, leg.market_id) for leg in bought})
    if not markets:
        return values
    payouts = {(row.venue, row.market_id): row.yes_payout
               for row in conn.execute(_SETTLEMENTS_OF_MARKETS, {
                   "mode": mode, "venues": sorted({v for v, _ in markets}),
                   "market_ids": sorted({m for _, m in markets})})}
    for leg in bought:
        settled = (leg.venue, leg.market_id)
        if settled not in payouts:
            continue
        yes_payout = Decimal(payouts[settled])
        paid = yes_payout if leg.side == Side.YES.value else 1 - yes_payout
        value = max(ZERO, 1 - paid)
        for key in legs[leg.execution_id]:
            if (key[0].value, key[1]) != settled:  # the pair's other leg, not the held one itself
                values[key] = min(value, values.get(key, value))
    return values


def used_percent(share: Decimal) -> Decimal:
    """``share`` of a limit as a percentage with 2 places, rounded down: the half-even rounding showed
    99.998% as "100.00" beside a breaker check that passed (found by a black-box review)."""
    return (share * 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class DayFigures:
    """What :data:`DAY_FIGURE_COLUMNS` read for the trading day ``day``: its start equity (None = no
    snapshot yet) and the cash now (None = no balances)."""

    day: TradingDay
    start_equity: Decimal | None
    cash: Decimal | None

    @classmethod
    def of_row(cls, now: datetime, reset_hour_utc: int, row: Any) -> DayFigures:
        """The day ``now`` is in, from a row holding the :data:`DAY_FIGURE_COLUMNS` read with ``day_cut``
        :func:`day_key` of ``now`` (the Money type reads them as Decimal)."""
        day = current_day(now, reset_hour_utc, row.day_key, row.day_ends)
        return cls(day, row.start_equity if day.recorded else None, row.cash)
_POSITIONS = (select(positions).where(positions.c.mode == bindparam("mode"))
              .order_by(positions.c.venue, positions.c.market_id, positions.c.side))
_VENUE_POSITIONS = _POSITIONS.where(positions.c.venue == bindparam("venue"))
# The positions held, read through ix_positions_held. The condition is the index's own text, not a bound
# value: PostgreSQL's generic plan for a statement prepared in the session cannot prove a partial index's
# condition from a parameter, and would read every closed position too.
_HELD = text(f"positions.{HELD_POSITION}")
_HELD_POSITIONS = _POSITIONS.where(_HELD)
_VENUE_HELD_POSITIONS = _VENUE_POSITIONS.where(_HELD)
# The pre-trade checks read the positions held in a batch with their other reads.
HELD_POSITIONS_OF_MODE = Prepared(_HELD_POSITIONS, name="held_positions_of_mode")
# A venue's positions closed at or after an instant (iso_utc text, fixed width: text order is time order).
_VENUE_CLOSED_SINCE = _VENUE_POSITIONS.where(text(f"NOT (positions.{HELD_POSITION})"),
                                             positions.c.updated_at >= bindparam("since"))


class IllegalTransition(TradingError):
    """An order cannot leave a terminal state for a live one (a bug or a confused venue report)."""

    reason = "illegal_transition"


def q(value: Decimal) -> Decimal:
    """Round a derived value (an average, a pro-rata cost) to the ledger's 10 decimal places."""
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def report_time(report: Balance) -> datetime:
    """The instant a venue report is judged by: when orion read it (``read_at``), else its ``as_of``.

    Why not ``as_of`` alone: Kalshi's is the whole second of the balance's last change, so the fill
    that made that change (at 12:00:00.5 in a report "as of" 12:00:00) would read as one the report
    cannot hold, and count a second time at every report until the balance changed again.
    """
    return report.read_at if report.read_at is not None else report.as_of


def report_holds(taken: datetime, order_created_at: datetime, fill_ts: datetime, recorded_at: datetime) -> bool:
    """Whether a venue report taken at ``taken`` already holds a fill: its order was out before the
    report, *and* either orion had recorded the fill before the report (``recorded_at``) or the
    venue dates it no later than the report (``fill_ts``). (:meth:`Ledger._unreported` selects the
    negation in SQL.)

    Why two ways: the fill's date is the venue's clock, the report's time orion's. A fill orion had
    recorded before it asked for the report (its trade read it back, then a ``balance`` ran) was
    known to the venue before it answered, so the report holds it whatever the two clocks say;
    judged by its date alone, a host clock seconds behind the venue's dated it after the report and
    counted it a second time (a buy's cost twice: a loss never made, both breakers tripped; a sale's
    proceeds twice: a loss hidden, a peak never had). A fill recorded after the report (reconcile
    reading fills after the balance, an unknown outcome resolved later) can only be judged by its
    date. The order's time is the ledger's clock too, so one skewed clock alone cannot have the
    fills of an order sent after the report taken for held."""
    return order_created_at < taken and (recorded_at < taken or fill_ts <= taken)


def cash_move(action: Action | str, size: Decimal, price: Decimal, fee: Decimal) -> Decimal:
    """What a fill moves its venue's cash by: a buy pays its notional and fee, a sell brings its
    notional less the fee (the notional rounded to the ledger's places, as the position's cost is)."""
    notional = q(size * price)
    return -(notional + fee) if Action(action) is Action.BUY else notional - fee


def trading_day(now: datetime, reset_hour_utc: int = 0) -> tuple[str, datetime]:
    """The day of the reset hour alone that ``now`` falls in (its date and its start), days starting at
    the reset hour. Not the breaker's day: that is the ledger's recorded one (:func:`current_day`)."""
    return _trading_day_utc(now if now.tzinfo is UTC else now.astimezone(UTC), reset_hour_utc)


# A trading day's key: the UTC instant it starts, to the minute. Fixed width, so text order is time
# order (the snapshots' primary key is searched by it); 17 characters.
DAY_KEY_FORMAT = "%Y-%m-%dT%H:%MZ"


def day_key(at: datetime) -> str:
    """The key of a day starting at ``at`` (and, of any instant, the text a key that began by then is <=)."""
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).strftime(DAY_KEY_FORMAT)


def parse_day_key(text: str) -> datetime:
    """The instant a key (:func:`day_key`) names; a value that is none is a damaged ledger."""
    try:
        return datetime.strptime(text, DAY_KEY_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise DataError("equity_snapshots", f"a trading day recorded as {str(text)[:40]!r}, "
                        f"not a start instant ({DAY_KEY_FORMAT})") from None


def day_text(at: datetime) -> str:
    """An instant as people read it: "2026-11-23 13:00 UTC"."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class TradingDay:
    """One trading day: ``start`` (inclusive) to ``end``. ``recorded``: the ledger holds it (its start
    equity was snapshotted), so its bounds stand whatever the reset hour now says; else it is the day
    the ledger would record now. ``reset_hour_utc``: the hour configured for this process."""

    start: datetime
    end: datetime
    reset_hour_utc: int
    recorded: bool

    @property
    def key(self) -> str:
        """What identifies it in the ledger (snapshots, the breaker's trips and warnings)."""
        return day_key(self.start)

    @property
    def date(self) -> str:
        """The UTC date it began on (shown as the records' ``day``; not unique: a short day between two
        reset hours may begin on the date of the next)."""
        return self.start.strftime("%Y-%m-%d")

    @property
    def hour_change_pending(self) -> bool:
        """The configured reset hour is not the one this day ends at: it takes effect at ``end``."""
        return self.end.hour != self.reset_hour_utc

    @property
    def next_end(self) -> datetime:
        """Where the day after this one ends: the configured hour's first boundary after ``end``."""
        return _trading_day_utc(self.end, self.reset_hour_utc)[1] + timedelta(days=1)

    def holds(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def began(self) -> str:
        """"the trading day that began 2026-11-23 13:00 UTC": a date alone is ambiguous (a day that began
        at 13:00 yesterday is still today's trading day)."""
        return f"the trading day that began {day_text(self.start)}"


def current_day(now: datetime, reset_hour_utc: int, recorded_key: str | None,
                recorded_end: str | None) -> TradingDay:
    """The trading day ``now`` is in, given the newest day the ledger recorded that began by then.

    That day while it lasts, however the hour was set when it was recorded. After it, the day of
    ``reset_hour_utc``, but never starting before the recorded day's end: a changed hour takes effect
    there, the day in between running from that end to the new hour's next boundary (shorter than 24 h).
    With the hour unchanged every day is the hour's own.
    """
    now = now if now.tzinfo is UTC else now.astimezone(UTC)
    _, start = _trading_day_utc(now, reset_hour_utc)
    end = start + timedelta(days=1)
    if recorded_key is not None:
        r_start = parse_day_key(recorded_key)
        r_end = parse_day_key(recorded_end) if recorded_end is not None else r_start + timedelta(days=1)
        if r_start <= now < r_end:
            return TradingDay(r_start, r_end, reset_hour_utc, True)
        if r_start <= now and r_end > start:
            start = r_end
    return TradingDay(start, end, reset_hour_utc, False)


@functools.lru_cache(maxsize=64)
def _trading_day_utc(now: datetime, reset_hour_utc: int) -> tuple[str, datetime]:
    """Cached: one trade asks for the day of the same instant several times (checks, breaker, ledger).

    Only UTC instants come here: a zoned time that differs only in ``fold`` hashes alike but is
    another instant.
    """
    start = now.replace(hour=reset_hour_utc, minute=0, second=0, microsecond=0)
    if now < start:
        start -= timedelta(days=1)
    return start.strftime("%Y-%m-%d"), start


@dataclass(frozen=True, slots=True)
class ExposureLine:
    """Cost at risk in one market (``key`` = market id) or one category (``key`` = category).

    ``counted``: what the MARKET_EXPOSURE / CATEGORY_EXPOSURE check counts as existing here (the
    ledger's positions at cost plus their fees, and buys in flight with their planned fees:
    :func:`orion_cli.risk.checks.counted_exposure`), against ``limit``; None when not read."""

    kind: str  # market | category
    key: str
    exposure: Decimal
    venue: str = ""
    positions: int = 0
    counted: Decimal | None = None
    limit: Decimal | None = None

    def to_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"type": "exposure", "kind": self.kind, "key": self.key, "exposure": self.exposure,
                               "positions": self.positions, "limit_counted": self.counted, "limit": self.limit}
        if self.venue:
            rec["venue"] = self.venue
        return rec


@dataclass(frozen=True, slots=True)
class Exposure:
    by_market: tuple[ExposureLine, ...]
    by_category: tuple[ExposureLine, ...]
    total: Decimal
    open_markets: int

    def market(self, venue: Venue, market_id: str) -> Decimal:
        return sum((x.exposure for x in self.by_market if x.venue == venue.value and x.key == market_id), ZERO)

    def category(self, category: str) -> Decimal:
        key = normalise_category(category)
        return sum((x.exposure for x in self.by_category if x.key == key), ZERO)


@dataclass(frozen=True, slots=True)
class DailyPnl:
    """Today's P&L against the daily loss limit (the smaller of ``daily_loss`` and its % form)."""

    mode: str
    day: str
    since: datetime
    start_equity: Decimal
    equity: Decimal
    pnl: Decimal
    unrealised: Decimal
    marked: bool  # every open position valued at a current mark (else some at cost)
    limit: Decimal
    limit_source: str  # breaker.daily_loss | breaker.daily_loss_pct
    used_share: Decimal  # loss / limit, 0 when in profit (1 = breaker limit reached)
    trading_day: TradingDay  # the day measured: ``day`` is its date, ``since`` its start

    @property
    def used_pct(self) -> Decimal:
        """Rounded down (:func:`used_percent`): "100.00" only once the limit is reached."""
        return used_percent(self.used_share)

    @property
    def key(self) -> str:
        """The day's key (:attr:`TradingDay.key`): what the breaker's trips and warnings are kept by."""
        return self.trading_day.key

    @property
    def until(self) -> datetime:
        return self.trading_day.end

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "pnl",
            "mode": self.mode,
            "day": self.day,
            "since": self.since,
            "until": self.until,
            "start_equity": self.start_equity,
            "equity": self.equity,
            "today_pnl": self.pnl,
            "unrealised": self.unrealised,
            "marked": self.marked,
            "daily_loss_limit": self.limit,
            "limit_source": self.limit_source,
            "used_pct": self.used_pct,
        }


def payload_digest(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class _Totals:
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    fees: Decimal = ZERO
    fills: list[Fill] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Netted:
    """The YES/NO pairs one buy closed on a netting venue (:meth:`Ledger._net`), each paying $1.

    Why a record: the dollar per pair depends on what was held before the fill, so it cannot be
    derived from the fill again; ``pairs`` is stored with the fill (``fills.netted``) and audited
    as ``position.netted``.
    """

    side: Side  # the side bought
    pairs: Decimal
    other_cost: Decimal  # the other side's closed contracts: their share of its cost, fees included
    own_cost: Decimal  # the buy's own closed contracts at the fill's price
    own_fees: Decimal  # and their share of the fill's fee
    other_pnl: Decimal  # realised on the other side: pairs - own_cost - other_cost

    @property
    def realized_pnl(self) -> Decimal:
        """The pairs' payout less both sides' cost and fees (the buy's own side realises -own_fees)."""
        return self.other_pnl - self.own_fees

    def to_record(self) -> dict[str, Any]:
        return {"side": self.side.value, "pairs": plain(self.pairs), "payout": plain(self.pairs),
                "cost": plain(self.other_cost + self.own_cost + self.own_fees),
                "realized_pnl": plain(self.realized_pnl)}


@dataclass(frozen=True, slots=True)
class SettledSide:
    """One side of a settled market as the ledger closed it."""

    side: Side
    size: Decimal
    pays: Decimal  # per contract
    cost: Decimal  # what the contracts cost, fees included
    payout: Decimal
    realized_pnl: Decimal

    def to_record(self) -> dict[str, Any]:
        return {"side": self.side.value, "size": self.size, "pays": self.pays, "cost": self.cost,
                "payout": self.payout, "realized_pnl": self.realized_pnl}


@dataclass(frozen=True, slots=True)
class SettledMarket:
    """What :meth:`Ledger.record_settlement` did with one settled market."""

    settlement: Settlement
    sides: tuple[SettledSide, ...]
    cash_moved: bool  # False: the venue's last balance report already held the payout

    @property
    def payout(self) -> Decimal:
        return sum((x.payout for x in self.sides), ZERO)

    @property
    def realized_pnl(self) -> Decimal:
        return sum((x.realized_pnl for x in self.sides), ZERO)

    def held(self, side: Side) -> Decimal:
        return sum((x.size for x in self.sides if x.side is side), ZERO)

    def to_record(self) -> dict[str, Any]:
        return {**self.settlement.to_record(), "type": "settled", "positions": [x.to_record() for x in self.sides],
                "payout": self.payout, "realized_pnl": self.realized_pnl, "cash_moved": self.cash_moved}


@dataclass(frozen=True, slots=True)
class CountedTransfer:
    """A deposit or withdrawal :meth:`Ledger.record_transfers` counted as capital (signed: what it
    moved today's start equity and the breaker's peak by)."""

    transfer: Transfer
    capital: Decimal

    def to_record(self) -> dict[str, Any]:
        return {**self.transfer.to_record(), "capital": self.capital}


class Ledger:
    """The ledger of one mode (``paper`` or ``live``) in one database."""

    def __init__(self, db: Database, mode: str = "paper", *, actor: Mapping[str, Any] | None = None,
                 reset_hour_utc: int = 0) -> None:
        if mode not in ("paper", "live"):
            raise DataError("mode", f"expected paper or live, got {mode!r}")
        self.db = db
        self.mode = mode
        self.actor = dict(actor) if actor is not None else None
        self.reset_hour_utc = reset_hour_utc

    # -- plumbing ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.db.write() as c:
                yield c

    @contextlib.contextmanager
    def _read(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.db.read() as c:
                yield c

    def _audit(self, conn: Connection, type_: str, payload: Mapping[str, Any], *, venue: str | None,
               market: str | None, now: datetime) -> None:
        AuditLog.append(conn, type_, payload, mode=self.mode, actor=self.actor, venue=venue, market=market, now=now)

    # -- orders ------------------------------------------------------------------------------------

    def record_intent(
        self,
        prepared: PreparedOrder,
        *,
        execution_id: str | None = None,
        category: str = "",
        conn: Connection | None = None,
        now: datetime | None = None,
    ) -> OrderState:
        """Commit an order's intent (status ``intent``) and its ``order.intent`` event.

        Idempotent: the same client order id with the same payload returns the stored order; with
        a different payload it is refused (``DUPLICATE``) — an id is never reused for another order.
        """
        return self.record_intents([(prepared, category)], execution_id=execution_id, conn=conn, now=now)[0]

    def record_intents(
        self,
        intents: Sequence[tuple[PreparedOrder, str]],
        *,
        execution_id: str | None = None,
        conn: Connection | None = None,
        now: datetime | None = None,
        unused_ids: bool = False,
    ) -> list[OrderState]:
        """:meth:`record_intent` for several ``(prepared, category)`` orders of one execution at once.

        One look-up and one insert for all of them (the order path commits both legs together).
        ``unused_ids``: the caller has proved in this transaction that the ids are new (the order path
        derives them from an idempotency key its DUPLICATE check found unused), so the look-up is
        skipped; should one exist after all, the primary key refuses the insert (``DUPLICATE``).
        """
        now = now or datetime.now(UTC)
        ts = iso_utc(now)
        coids = [p.request.client_order_id for p, _ in intents]
        if len(set(coids)) != len(coids):
            raise Refused("the same client order id twice in one batch of intents", reason="DUPLICATE")
        with self._write(conn) as c:
            stored = {} if unused_ids else {
                row.client_order_id: row for row in c.execute(_ORDERS_BY_COIDS, {"coids": coids})}
            out: list[OrderState] = []
            rows: list[dict[str, Any]] = []
            for prepared, category in intents:
                r = prepared.request
                row = stored.get(r.client_order_id)
                if row is not None:
                    if row.payload != prepared.payload or row.mode != self.mode:
                        raise Refused(f"client order id {r.client_order_id} is already used by another order",
                                      reason="DUPLICATE")
                    out.append(self._state(c, row))
                    continue
                rows.append({
                    "client_order_id": r.client_order_id, "execution_id": execution_id, "mode": self.mode,
                    "venue": r.venue.value, "market_id": r.market_id, "token_id": r.token_id, "side": r.side.value,
                    "action": r.action.value, "size": r.size, "limit_price": r.limit_price,
                    "time_in_force": r.time_in_force.value, "status": OrderStatus.INTENT.value,
                    "venue_order_id": prepared.venue_ref, "filled_size": ZERO, "avg_fill_price": None, "fees": ZERO,
                    "payload": prepared.payload, "category": category[:CATEGORY_CHARS], "created_at": ts,
                    "updated_at": ts, "reject_reason": "",
                })
                # What a read-back would return (a new intent has no fills), without the two queries.
                out.append(OrderState(
                    venue=r.venue, client_order_id=r.client_order_id, venue_order_id=prepared.venue_ref,
                    status=OrderStatus.INTENT, market_id=r.market_id, side=r.side, action=r.action,
                    size=plain(r.size), filled_size=Decimal(0), avg_fill_price=None, fees=Decimal(0),
                    limit_price=plain(r.limit_price), updated_at=_parse_ts(ts), fills=(),
                    venue_status=OrderStatus.INTENT.value, reject_reason="",
                ))
            if not rows:
                return out
            try:
                # Inside the order path's deferred block this goes out with its other writes, and a
                # refusal surfaces there (Executor.commit_intents turns it into the same DUPLICATE).
                defer_many(c, INSERT_ORDER, rows)
            except IntegrityError:
                if not unused_ids:
                    raise
                raise intents_refused(coids) from None
            with audit_batch(c):
                for prepared, category in intents:
                    r = prepared.request
                    if r.client_order_id in stored:
                        continue
                    event = {k: v for k, v in prepared.to_record().items() if k != "type"}
                    event.update(execution_id=execution_id, category=category,
                                 payload_sha256=payload_digest(prepared.payload))
                    self._audit(c, "order.intent", event, venue=r.venue.value, market=r.market_id, now=now)
            return out

    def transition(
        self,
        client_order_id: str,
        status: OrderStatus | None = None,
        *,
        venue_order_id: str | None = None,
        fills: Sequence[Fill] = (),
        reject_reason: str = "",
        venue_status: str = "",
        category: str = "",
        conn: Connection | None = None,
        now: datetime | None = None,
        overfill_ok: bool = False,
    ) -> OrderState:
        """Move an order to ``status`` and record ``fills``, with one audit event, in one transaction.

        ``status=None`` keeps the current status (or makes it ``filled`` once fully filled). Fills
        already recorded are skipped; a call that changes nothing writes nothing. ``category``
        fills in the order's market category when the intent did not know it. Fills beyond the
        order's size are refused, unless ``overfill_ok`` and it is a buy: a dollar-amount buy at
        better prices gets more shares than asked, and the ledger holds what the venue filled.
        """
        now = now or datetime.now(UTC)
        with self._write(conn) as c:
            row = self._order_row(c, client_order_id)
            if row is None:
                raise NotFound(f"no order with client order id {client_order_id!r} in the {self.mode} ledger",
                               reason="order_not_found")
            current = OrderStatus(row.status)
            category = row.category or category[:CATEGORY_CHARS]
            new_fills = [f for f in fills if self._record_fill(c, f, row, category, now)]
            totals = self._totals(c, client_order_id)
            size = Decimal(row.size)
            if totals.filled > size and not (overfill_ok and row.action == Action.BUY.value):
                raise DataError(f"order {client_order_id}", f"fills total {totals.filled}, more than its size {size}")
            target = status or current
            if status is None and totals.filled >= size and size > 0:
                target = OrderStatus.FILLED
            if current.terminal and not target.terminal:
                raise IllegalTransition(f"order {client_order_id} is {current.value}; it cannot become {target.value}")
            new_ref = venue_order_id if venue_order_id and venue_order_id != row.venue_order_id else None
            if target is current and not new_fills and new_ref is None:
                return self._state(c, row, totals)
            avg = q(totals.notional / totals.filled) if totals.filled > 0 else None
            values: dict[str, Any] = {"status": target.value, "filled_size": totals.filled, "avg_fill_price": avg,
                                      "fees": totals.fees, "updated_at": iso_utc(now)}
            if new_ref is not None:
                values["venue_order_id"] = new_ref
            if reject_reason:
                values["reject_reason"] = reject_reason[:2000]
            if category != row.category:
                values["category"] = category
            c.execute(update(orders).where(orders.c.client_order_id == client_order_id).values(**values))
            if target is not current:
                event_type = STATUS_EVENTS[target]
            else:
                event_type = "order.filled" if totals.filled >= size else "order.partial"
            payload: dict[str, Any] = {
                "client_order_id": client_order_id,
                "order_id": new_ref or row.venue_order_id,
                "execution_id": row.execution_id,
                "from": current.value,
                "to": target.value,
                "side": row.side,
                "action": row.action,
                "size": size,
                "filled_size": totals.filled,
                "avg_fill_price": avg,
                "fees": totals.fees,
                "fills": [{k: v for k, v in f.to_record().items() if k != "type"} for f in new_fills],
            }
            if reject_reason:
                payload["reject_reason"] = reject_reason
            if venue_status:
                payload["venue_status"] = venue_status
            self._audit(c, event_type, payload, venue=row.venue, market=row.market_id, now=now)
            fresh = self._order_row(c, client_order_id)
            assert fresh is not None
            return self._state(c, fresh, totals)

    def mark_submitted(self, client_order_id: str, *, conn: Connection | None = None,
                       now: datetime | None = None) -> OrderState:
        """Just before sending: from here on the outcome must be looked up, never assumed."""
        with self._write(conn) as c:
            row = self._order_row(c, client_order_id)
            if row is not None and OrderStatus(row.status) is not OrderStatus.INTENT:
                return self._state(c, row)
            return self.transition(client_order_id, OrderStatus.SUBMITTED, conn=c, now=now)

    def mark_acknowledged(self, client_order_id: str, venue_order_id: str, *, venue_status: str = "",
                          conn: Connection | None = None, now: datetime | None = None) -> OrderState:
        return self.transition(client_order_id, OrderStatus.OPEN, venue_order_id=venue_order_id,
                               venue_status=venue_status, conn=conn, now=now)

    def mark_unknown(self, client_order_id: str, cause: str, *, conn: Connection | None = None,
                     now: datetime | None = None) -> OrderState:
        return self.transition(client_order_id, OrderStatus.UNKNOWN, reject_reason=cause, conn=conn, now=now)

    def record_fills(self, client_order_id: str, new_fills: Sequence[Fill], *, conn: Connection | None = None,
                     now: datetime | None = None) -> OrderState:
        return self.transition(client_order_id, None, fills=new_fills, conn=conn, now=now)

    def cancelled(self, client_order_id: str, *, reason: str = "", conn: Connection | None = None,
                  now: datetime | None = None) -> OrderState:
        """Done with nothing (more) filled: a FOK/IOC that found no liquidity, or a cancel."""
        return self.transition(client_order_id, OrderStatus.CANCELLED, reject_reason=reason, conn=conn, now=now)

    def rejected(self, client_order_id: str, reason: str, *, conn: Connection | None = None,
                 now: datetime | None = None) -> OrderState:
        return self.transition(client_order_id, OrderStatus.REJECTED, reject_reason=reason, conn=conn, now=now)

    # -- fills, positions and balances -------------------------------------------------------------

    def _record_fill(self, c: Connection, f: Fill, order_row: Row[Any], category: str, now: datetime) -> bool:
        if f.venue.value != order_row.venue or f.market_id != order_row.market_id or f.side.value != order_row.side \
                or f.action.value != order_row.action:
            raise DataError(f"fill {f.fill_id}", f"does not belong to order {order_row.client_order_id}")
        exists = c.execute(select(fills.c.fill_id).where(
            fills.c.mode == self.mode, fills.c.venue == f.venue.value, fills.c.fill_id == f.fill_id)).first()
        if exists is not None:
            return False
        if f.size <= 0 or not (ZERO < f.price < 1) or f.fee < 0:
            raise DataError(f"fill {f.fill_id}", f"impossible size/price/fee {f.size}/{f.price}/{f.fee}")
        self._ensure_day_snapshot(c, now)
        cash = c.execute(select(balances).where(balances.c.mode == self.mode,
                                                balances.c.venue == f.venue.value)).first()
        # Recorded at ``now``, the time its caller learned it from the venue (taken before the write lock):
        # a report another process read after that and stored while this waited holds it (report_holds).
        # Moved up to that report's time, it was judged by the venue's date alone, and a venue clock ahead
        # of the host's counted its cash twice. Every caller passes when it learned the fill, none older.
        recorded = now
        netted = self._apply_to_position(c, f, category, now)
        c.execute(insert(fills).values(
            mode=self.mode, venue=f.venue.value, fill_id=f.fill_id,
            client_order_id=f.client_order_id or order_row.client_order_id, venue_order_id=f.venue_order_id,
            market_id=f.market_id, side=f.side.value, action=f.action.value, size=f.size, price=f.price, fee=f.fee,
            ts=iso_utc(f.ts), is_taker=f.is_taker, recorded_at=iso_utc(recorded),
            netted=netted.pairs if netted else ZERO,
        ))
        moved = self._apply_to_balance(c, f, cash, now, order_created_at=order_row.created_at, recorded_at=recorded,
                                       netted=netted.pairs if netted else ZERO)
        if netted is not None:
            self._audit(c, "position.netted", {**netted.to_record(), "fill_id": f.fill_id,
                                               "client_order_id": order_row.client_order_id, "cash_moved": moved},
                        venue=f.venue.value, market=f.market_id, now=now)
        return True

    def _apply_to_position(self, c: Connection, f: Fill, category: str, now: datetime) -> Netted | None:
        """Move the fill's position; on a netting venue a buy first closes the pairs it makes with the
        other side held (:meth:`_net`). Returns those pairs, or None."""
        key = (positions.c.mode == self.mode, positions.c.venue == f.venue.value,
               positions.c.market_id == f.market_id, positions.c.side == f.side.value)
        nets = f.action is Action.BUY and f.venue in NETTING_VENUES
        other: Row[Any] | None = None
        if nets:  # both sides in the one read a fill of any other kind makes of its own side
            both = {r.side: r for r in c.execute(select(positions).where(*key[:3]))}
            row, other = both.get(f.side.value), both.get(f.side.other.value)
        else:
            row = c.execute(select(positions).where(*key)).first()
        size = Decimal(row.size) if row else ZERO
        cost = Decimal(row.cost) if row else ZERO
        fees = Decimal(row.fees) if row else ZERO
        realised = Decimal(row.realized_pnl) if row else ZERO
        # q(): a fill priced at a ledger average (10 places, e.g. a reconcile adjustment) times a
        # fractional size has more places than the ledger stores; Money would refuse the row.
        notional = q(f.size * f.price)
        netted: Netted | None = None
        if f.action is Action.BUY:
            netted = self._net(c, f, other, held=size, now=now) if other is not None else None
            size, cost, fees = size + f.size, cost + notional, fees + f.fee
            if netted is not None:
                size, cost, fees = size - netted.pairs, cost - netted.own_cost, fees - netted.own_fees
                realised -= netted.own_fees
        else:
            if f.size > size:
                raise DataError(f"fill {f.fill_id}", f"sells {f.size} of {f.market_id} {f.side.value} but the "
                                                     f"{self.mode} ledger holds {size}")
            cost_out = cost if f.size == size else q(cost * f.size / size)
            fees_out = fees if f.size == size else q(fees * f.size / size)
            realised += notional - f.fee - cost_out - fees_out
            size, cost, fees = size - f.size, cost - cost_out, fees - fees_out
        values = {"size": size, "cost": cost, "fees": fees, "realized_pnl": realised, "updated_at": iso_utc(now)}
        if row is None:
            c.execute(insert(positions).values(mode=self.mode, venue=f.venue.value, market_id=f.market_id,
                                               side=f.side.value, category=category[:CATEGORY_CHARS], **values))
        else:
            if category and not row.category:
                values["category"] = category[:CATEGORY_CHARS]
            c.execute(update(positions).where(*key).values(**values))
        return netted

    def _net(self, c: Connection, f: Fill, other: Row[Any], *, held: Decimal, now: datetime) -> Netted | None:
        """Close the YES/NO pairs a buy ``f`` makes with the other side held (``other``, its position
        row), as a netting venue does, and write that row.

        The venue holds the net of the two sides, so the buy closes at most what that net holds of
        the other side (``held``: the bought side before the fill). The ledger holds both sides only
        where it did before it netted (a ledger from before migration 0010): those pairs were paid
        for then, and netting against them would credit the dollar twice. Each pair pays $1 at once
        (Kalshi charges no fee for it): the other side's contracts leave pro rata at their cost and
        fees (rounded as a sell's are) and realise ``1 - the fill's price`` each less those (the buy
        is a sale of them at that price, as Kalshi books it); the fill's own netted contracts leave
        at its price and their share of its fee, realising minus that fee. The caller writes the
        bought side's row.
        """
        o_size, o_cost, o_fees = Decimal(other.size), Decimal(other.cost), Decimal(other.fees)
        pairs = min(f.size, max(ZERO, o_size - held))
        if pairs <= 0:
            return None
        cost_out = o_cost if pairs == o_size else q(o_cost * pairs / o_size)
        fees_out = o_fees if pairs == o_size else q(o_fees * pairs / o_size)
        own_cost = q(pairs * f.price)  # rounded as the notional the position adds (that, when all of it nets)
        own_fees = f.fee if pairs == f.size else q(f.fee * pairs / f.size)
        other_pnl = pairs - own_cost - cost_out - fees_out
        c.execute(update(positions).where(
            positions.c.mode == self.mode, positions.c.venue == f.venue.value, positions.c.market_id == f.market_id,
            positions.c.side == f.side.other.value,
        ).values(size=o_size - pairs, cost=o_cost - cost_out, fees=o_fees - fees_out,
                 realized_pnl=Decimal(other.realized_pnl) + other_pnl, updated_at=iso_utc(now)))
        return Netted(f.side, pairs, cost_out + fees_out, own_cost, own_fees, other_pnl)

    def _apply_to_balance(self, c: Connection, f: Fill, row: Row[Any] | None, now: datetime, *,
                          order_created_at: str, recorded_at: datetime, netted: Decimal = ZERO) -> bool:
        """Move the venue's cash by what the fill paid or brought in, and by the dollar each YES/NO
        pair it ``netted`` paid (the venue credits that in the same trade, so the same test decides).
        True when the cash moved.

        Paper cash is the ledger's own. Live cash is the venue's last report moved by the fills
        recorded since; its ``as_of`` stays the report's :func:`report_time` (when orion read it). Without a
        report yet (no row) a live fill moves no cash: the first report brings the cash it finds.

        A fill recorded after the report may already be in it: its order was out before the report
        (an unknown outcome resolved later, a reconcile that left it pending, another process) and
        it happened before the report. Both must hold for the move to be skipped: the order's time
        is the ledger's clock, the fill's is the venue's, so one skewed clock alone cannot skip the
        fills of an order sent after the report. (``recorded_at``, when the caller learned the fill, can
        be before a report another process stored while this waited to write: that report holds it, by
        :func:`report_holds`, and no cash moves.) ``row``: the venue's stored cash.
        """
        if row is None:
            if self.mode != "paper":
                return False
            raise TradingError(f"no {self.mode} balance on {f.venue.value}; initialise it before trading")
        if self.mode != "paper" and report_holds(_parse_ts(row.as_of), _parse_ts(order_created_at), f.ts,
                                                 recorded_at):
            return False  # the venue's report already holds it (and the dollar its pairs paid)
        self._move_cash(c, row, cash_move(f.action, f.size, f.price, f.fee) + netted, now)
        return True

    def _move_cash(self, c: Connection, row: Row[Any], delta: Decimal, now: datetime) -> None:
        """Move a venue's stored cash (``row``) by ``delta``; a paper figure is as of now, a live one
        stays as of the venue's report it was moved from."""
        values: dict[str, Any] = {"available": Decimal(row.available) + delta, "total": Decimal(row.total) + delta}
        if self.mode == "paper":
            values["as_of"] = iso_utc(now)
        c.execute(update(balances).where(balances.c.mode == self.mode, balances.c.venue == row.venue).values(**values))

    # -- settlement -------------------------------------------------------------------------------

    def record_settlement(self, s: Settlement, *, conn: Connection | None = None, now: datetime | None = None,
                          report: Balance | None = None) -> SettledMarket | None:
        """Close what the ledger holds in a settled market at the payout; once per market.

        Each side held is closed at what it pays (``s.payout``; a voided market, at what the venue
        says it refunded per contract, or where it does not say, at the side's own cost): its
        realised P&L gains the payout less the contracts' cost and fees, and the cash it brings
        moves the venue's balance as a fill's would (paper: always; live: unless the venue's last
        report, taken at or after ``s.paid_at``, already holds it). ``report``: a venue report the
        caller records in this transaction, judged (by :func:`report_time`) beside the stored one.
        Audited as ``position.settled``. None when the market's settlement is already recorded or
        the ledger holds nothing in it.
        """
        now = now or datetime.now(UTC)
        key = (settlements.c.mode == self.mode, settlements.c.venue == s.venue.value,
               settlements.c.market_id == s.market_id)
        with self._write(conn) as c:
            if c.execute(select(settlements.c.market_id).where(*key)).first() is not None:
                return None
            held = c.execute(select(positions).where(
                positions.c.mode == self.mode, positions.c.venue == s.venue.value,
                positions.c.market_id == s.market_id, positions.c.size > ZERO).order_by(positions.c.side)).all()
            if not held:
                return None
            self._ensure_day_snapshot(c, now)
            lines: list[SettledSide] = []
            for row in held:
                side = Side(row.side)
                size, cost, fees = Decimal(row.size), Decimal(row.cost), Decimal(row.fees)
                if s.voided and s.refund(side) is None:  # a side the venue did not list: back at its cost
                    each, pays = q(cost / size), cost
                else:
                    each = s.payout(side)
                    pays = q(size * each)
                pnl = pays - cost - fees
                c.execute(update(positions).where(
                    positions.c.mode == self.mode, positions.c.venue == s.venue.value,
                    positions.c.market_id == s.market_id, positions.c.side == side.value).values(
                    size=ZERO, cost=ZERO, fees=ZERO, realized_pnl=Decimal(row.realized_pnl) + pnl,
                    updated_at=iso_utc(now)))
                lines.append(SettledSide(side, plain(size), plain(each), plain(cost + fees), plain(pays),
                                         plain(pnl)))
            payout = sum((x.payout for x in lines), ZERO)
            cash_moved = self._settle_cash(c, s, payout, now, report)
            settled = SettledMarket(s, tuple(lines), cash_moved)
            c.execute(insert(settlements).values(
                mode=self.mode, venue=s.venue.value, market_id=s.market_id, result=VOID if s.voided else s.result[:16],
                yes_payout=s.yes_payout, paid_at=iso_utc(s.paid_at), contracts=sum((x.size for x in lines), ZERO),
                payout=payout, realized_pnl=settled.realized_pnl, cash_moved=cash_moved, source=s.source[:16],
                recorded_at=iso_utc(now)))
            record = {k: v for k, v in settled.to_record().items() if k != "type"}
            self._audit(c, "position.settled", record, venue=s.venue.value, market=s.market_id, now=now)
            return settled

    def _settle_cash(self, c: Connection, s: Settlement, payout: Decimal, now: datetime,
                     report: Balance | None) -> bool:
        """Add a settlement's payout to the venue's cash, unless the venue report holds it."""
        key = (balances.c.mode == self.mode, balances.c.venue == s.venue.value)
        row = c.execute(select(balances).where(*key)).first()
        if row is None:
            return False  # live without a report yet: the first report brings the cash it finds
        if self.mode != "paper":
            reported = _parse_ts(row.as_of)
            if report is not None:
                reported = max(reported, report_time(report))  # the newer one is what is kept
            if reported >= s.paid_at:
                return False  # that report holds it
        self._move_cash(c, row, payout, now)
        return True

    # -- transfers --------------------------------------------------------------------------------

    def record_transfers(self, found: Sequence[Transfer], report: Balance, *, conn: Connection | None = None,
                         now: datetime | None = None) -> list[CountedTransfer]:
        """Count as capital the deposits and withdrawals that ``report`` holds and the stored figure
        does not; call it before recording ``report``, in the same transaction.

        Why against the report: a transfer moves the venue's cash the moment it is finalized, and
        the ledger's cash is the venue's report, so it reaches the ledger's equity with the first
        report taken at or after it. Counting it then, and only then, keeps the day's P&L (in
        dollars) and the drawdown from the peak (in dollars) unchanged. One finalized after
        ``report`` waits for a later report; one the stored figure already held (taken after it, or
        the venue's first report, which is capital as a whole) is remembered without counting. A
        return newly held takes the amount back out. A report older than the stored one counts
        nothing (:meth:`record_balance` does not record it either). Each count is audited as
        ``capital.transfer``.
        """
        now = now or datetime.now(UTC)
        counted: list[CountedTransfer] = []
        with self._write(conn) as c:
            stored = self._balance(c, report.venue)
            if stored is not None and report_time(report) < stored.as_of:
                return counted
            known = {(r.kind, r.transfer_id): r for r in c.execute(select(transfers).where(
                transfers.c.mode == self.mode, transfers.c.venue == report.venue.value))}
            for t in sorted(found, key=lambda t: (t.at, t.kind, t.transfer_id)):
                if t.venue is not report.venue:
                    raise DataError("transfer", f"a {t.venue.value} transfer with a {report.venue.value} report")
                if t.at > report_time(report):
                    continue
                row = known.get((t.kind, t.transfer_id))
                held_before = stored is None or t.at <= stored.as_of
                if row is None:
                    capital = ZERO if held_before or t.status != "applied" else t.amount
                    c.execute(insert(transfers).values(
                        mode=self.mode, venue=t.venue.value, kind=t.kind, transfer_id=t.transfer_id,
                        status=t.status, amount=t.amount, capital=capital, at=iso_utc(t.at), recorded_at=iso_utc(now)))
                elif row.status == "applied" and t.status == "returned":
                    # Whether orion counted it or a report already held it (the first one), the money
                    # was capital in the cash; its return takes it out again.
                    capital = ZERO if held_before else -Decimal(row.amount)
                    c.execute(update(transfers).where(
                        transfers.c.mode == self.mode, transfers.c.venue == t.venue.value, transfers.c.kind == t.kind,
                        transfers.c.transfer_id == t.transfer_id).values(
                        status=t.status, capital=Decimal(row.capital) + capital, at=iso_utc(t.at)))
                else:
                    continue
                if capital:
                    self._add_capital(c, now, capital)
                    move = CountedTransfer(t, capital)
                    self._audit(c, "capital.transfer", {k: v for k, v in move.to_record().items() if k != "type"},
                                venue=t.venue.value, market=None, now=now)
                    counted.append(move)
        return counted

    def settled_markets(self, venue: Venue, markets: Iterable[str] | None = None, *,
                        conn: Connection | None = None) -> set[str]:
        """The markets of ``venue`` the ledger has settled; of ``markets`` only, when given (a lookup
        each, rather than every settlement of the year)."""
        stmt = select(settlements.c.market_id).where(settlements.c.mode == self.mode,
                                                     settlements.c.venue == venue.value)
        if markets is not None:
            wanted = sorted(set(markets))
            if not wanted:
                return set()
            stmt = stmt.where(settlements.c.market_id.in_(wanted))
        with self._read(conn) as c:
            return set(c.execute(stmt).scalars())

    def settlements(self, venue: Venue | None = None) -> list[dict[str, Any]]:
        """The settlements recorded in this ledger, oldest first (the table's rows as plain values)."""
        stmt = select(settlements).where(settlements.c.mode == self.mode)
        if venue is not None:
            stmt = stmt.where(settlements.c.venue == venue.value)
        with self.db.read() as c:
            rows = c.execute(stmt.order_by(settlements.c.recorded_at, settlements.c.market_id)).all()
        return [{"venue": r.venue, "market": r.market_id, "result": r.result, "yes_payout": Decimal(r.yes_payout),
                 "paid_at": r.paid_at, "contracts": Decimal(r.contracts), "payout": Decimal(r.payout),
                 "realized_pnl": Decimal(r.realized_pnl), "cash_moved": bool(r.cash_moved), "source": r.source,
                 "recorded_at": r.recorded_at} for r in rows]

    def ensure_balance(self, venue: Venue, starting: Decimal, *, conn: Connection | None = None,
                       now: datetime | None = None) -> Balance:
        """The paper balance, created at ``starting`` on first use (audited as ``balance.initialised``).

        The starting cash is a deposit, not a profit: it is added to today's start-of-day equity.
        """
        now = now or datetime.now(UTC)
        with self._write(conn) as c:
            existing = self._balance(c, venue)
            if existing is not None:
                return existing
            if starting < 0:
                raise DataError("starting balance", f"negative value {starting}")
            self._add_capital(c, now, starting)
            c.execute(insert(balances).values(mode=self.mode, venue=venue.value, available=starting, reserved=ZERO,
                                              total=starting, as_of=iso_utc(now), source="ledger"))
            self._audit(c, "balance.initialised", {"venue": venue.value, "starting": starting}, venue=venue.value,
                        market=None, now=now)
            bal = self._balance(c, venue)
            assert bal is not None
            return bal

    def record_balance(self, balance: Balance, *, conn: Connection | None = None, now: datetime | None = None) -> None:
        """Store a venue's own balance report (live), audited as ``balance.updated`` when the figure changed.

        The figure recorded is the report plus what the fills and payouts the ledger holds that the
        report cannot hold moved the cash by (:meth:`_unreported`; judged by :func:`report_time`, by
        the rule :meth:`_apply_to_balance` skips a fill by). Why: a report read before another
        process recorded a fill or a payout made after it (a trade beside a cron ``reconcile``) would
        otherwise drop it from the cash until the next report, overstating equity for the breaker and
        the cash the BALANCE check trusts. Its ``as_of`` is the report's :func:`report_time`: every later
        judgement (a fill recorded later, a payout, a transfer, the BALANCE check) is by that instant.

        The event's ``available``/``reserved``/``total`` are that figure and ``previous_total`` the one
        it replaced (the last report plus the fills and payouts recorded since), so a difference they
        do not explain (a deposit, a withdrawal, a fee the ledger did not know) is visible; when the
        figure is not the report's own, ``reported_total`` is the venue's and ``unreported`` what was
        added to it. A report that leaves the figure as it was only updates its time, silently; one
        older than the stored one is not recorded at all.
        """
        now = now or datetime.now(UTC)
        with self._write(conn) as c:
            old = self._balance(c, balance.venue)
            if old is not None and report_time(balance) < old.as_of:
                # Read before the stored one (a trade and a cron reconcile overlapping): recording it
                # would undo what the newer report held (its fills, transfers, payouts).
                log.info("%s: a balance report older than the stored one is not recorded", balance.venue.value)
                return
            # The first report is the cash it finds: before it, no fill moved cash, and all of it is
            # capital (below). A fill it cannot hold is in the next report, which replaces it.
            unreported = ZERO if self.mode == "paper" or old is None else \
                self._unreported(c, balance.venue, report_time(balance))
            figure = balance if not unreported else replace(
                balance, available=plain(balance.available + unreported), total=plain(balance.total + unreported))
            values = {"available": figure.available, "reserved": figure.reserved, "total": figure.total,
                      "as_of": iso_utc(report_time(balance)), "source": balance.source[:16]}
            if old is None:
                # A venue seen for the first time brings capital, not profit: today's start equity
                # includes it, whether or not today's snapshot was taken before this venue was known.
                self._add_capital(c, now, balance.total)
                c.execute(insert(balances).values(mode=self.mode, venue=balance.venue.value, **values))
            else:
                if (old.available, old.reserved, old.total) == (figure.available, figure.reserved, figure.total):
                    c.execute(update(balances).where(balances.c.mode == self.mode,
                                                     balances.c.venue == balance.venue.value).values(**values))
                    return
                self._ensure_day_snapshot(c, now)
                c.execute(update(balances).where(balances.c.mode == self.mode,
                                                 balances.c.venue == balance.venue.value).values(**values))
            payload = {k: v for k, v in figure.to_record().items() if k != "type"}
            if old is not None:
                payload["previous_total"] = old.total
            if unreported:
                payload.update(reported_total=balance.total, unreported=unreported)
            self._audit(c, "balance.updated", payload,
                        venue=balance.venue.value, market=None, now=now)

    def _unreported(self, c: Connection, venue: Venue, taken: datetime) -> Decimal:
        """What the fills and settlement payouts recorded on ``venue`` that a report taken at ``taken``
        cannot hold moved the cash by: a fill of an order created at or after it, or one both dated
        and recorded at or after it (the negation of :func:`report_holds`), with the dollar each pair
        it netted paid (``fills.netted``), and a payout dated after it (as :meth:`_settle_cash` judges one).

        Few and recent, so each look-up is bounded by the report's time on an index: the fills by
        their date (``ix_fills_ts``; their recording time is tested on the rows that finds), the
        orders by their creation (``ix_orders_mode_created``, then their fills by ``ix_fills_order``);
        a fill both find counts once (UNION). The second look-up
        names the fills' mode and venue only in Python: in SQL those terms steer SQLite's planner
        onto the fills' primary key, every fill of the venue for each order. Settlements are one row
        per market ever settled on the venue, read by the primary key's (mode, venue) prefix.
        """
        at = iso_utc(taken)
        columns = (fills.c.mode, fills.c.venue, fills.c.fill_id, fills.c.action, fills.c.size, fills.c.price,
                   fills.c.fee, fills.c.netted)
        dated_after = select(*columns).where(fills.c.mode == self.mode, fills.c.ts > at,
                                             fills.c.venue == venue.value, fills.c.recorded_at >= at)
        sent_after = (select(*columns)
                      .select_from(orders.join(fills, fills.c.client_order_id == orders.c.client_order_id))
                      .where(orders.c.mode == self.mode, orders.c.created_at >= at, orders.c.venue == venue.value))
        moved = sum((cash_move(r.action, Decimal(r.size), Decimal(r.price), Decimal(r.fee)) + Decimal(r.netted)
                     for r in c.execute(union(dated_after, sent_after))
                     if (r.mode, r.venue) == (self.mode, venue.value)), ZERO)
        paid = c.execute(select(type_coerce(func.sum(settlements.c.payout), Money)).where(
            settlements.c.mode == self.mode, settlements.c.venue == venue.value, settlements.c.paid_at > at)).scalar()
        return plain(moved + (ZERO if paid is None else Decimal(paid)))

    # -- start-of-day equity -----------------------------------------------------------------------

    def _start_equity(self, c: Connection) -> Decimal:
        """Cash plus the positions as :meth:`daily_pnl` values them without marks: at cost, or a leg
        whose pair partner has settled at what that implies. At cost only, the day after one venue
        settled a pair would open with the other leg's implied gain or loss as its own P&L."""
        cash = sum((Decimal(r.total) for r in c.execute(select(balances.c.total).where(balances.c.mode == self.mode))),
                   ZERO)
        rows = c.execute(select(positions.c.venue, positions.c.market_id, positions.c.side, positions.c.size,
                                positions.c.cost).where(positions.c.mode == self.mode)).all()
        held = [r for r in rows if Decimal(r.size) != 0]
        keys = [(Venue(r.venue), r.market_id, Side(r.side)) for r in held]
        implied = settled_pair_values(c, self.mode, keys) if held and len(held) < len(rows) else {}
        return cash + sum((_start_value(Decimal(r.size), Decimal(r.cost), implied.get(k))
                           for r, k in zip(held, keys, strict=True)), ZERO)

    def _add_capital(self, c: Connection, now: datetime, amount: Decimal, *, peak_too: bool = True) -> None:
        """Cash brought in (a new balance, a deposit) or taken out (a withdrawal): not a profit or a
        loss, so every figure the breaker measures equity against moves with it. Today's start
        equity (snapshotted first, before the cash moves, if the day has none yet) and the
        persisted peak: left behind, a deposit would hide a drawdown, a withdrawal trip one.
        ``peak_too=False``: today's start only (see :meth:`count_capital`).

        A day already recorded after ``now``'s moves too: a write can be dated before the reset (a
        run's clock, taken before its venue reads) and land after another process recorded the next
        day, whose start equity never held this cash; left there, a deposit would be that day's
        profit and a withdrawal its loss."""
        day = self._ensure_day_snapshot(c, now)
        c.execute(update(equity_snapshots).where(
            equity_snapshots.c.mode == self.mode, equity_snapshots.c.day >= day).values(
            start_equity=equity_snapshots.c.start_equity + amount))
        if not peak_too:
            return
        peak = c.execute(select(breaker_state.c.peak_equity).where(breaker_state.c.mode == self.mode)).scalar()
        if peak is not None:
            c.execute(update(breaker_state).where(breaker_state.c.mode == self.mode).values(
                peak_equity=max(ZERO, Decimal(peak) + amount), updated_at=iso_utc(now)))

    def count_capital(self, c: Connection, venue: Venue, market: str, side: Side, size: Decimal, amount: Decimal, *,
                      now: datetime, why: str) -> None:
        """Count contracts the ledger takes on with no fill to date them (a reconcile adjustment: the
        venue holds them, no fill explains them) as capital at ``amount``, audited as
        ``capital.adopted``.

        Live cash is the venue's report. Contracts bought before today's start equity was taken (the
        likely case: no fill of the lookback explains them) had left that report's cash already, so
        booked at cost today they would be today's profit, a gain that is not one and hides as large
        a real loss from the daily breaker. Bought today after all, the day shows the cash they cost
        as a loss: the breaker may trip early, never late.

        The peak stays: it is the highest equity seen, and if it was seen before the purchase it
        already held the cash these contracts cost (moved, it would be a drawdown that only
        `resume --breaker` clears). Once they count in equity, the peak follows them by itself.
        """
        self._add_capital(c, now, amount, peak_too=False)
        self._audit(c, "capital.adopted", {"venue": venue.value, "market": market, "side": side.value, "size": size,
                                           "capital": amount, "why": why}, venue=venue.value, market=market, now=now)

    def current_day(self, now: datetime | None = None, *, conn: Connection | None = None) -> TradingDay:
        """The trading day ``now`` is in (:func:`current_day`): the recorded one while it lasts."""
        now = now or datetime.now(UTC)
        with self._read(conn) as c:
            row = c.execute(_LATEST_DAY, {"mode": self.mode, "day_cut": day_key(now)}).first()
        return current_day(now, self.reset_hour_utc, None if row is None else row.day,
                           None if row is None else row.ends_at)

    def ensure_day(self, c: Connection, now: datetime) -> TradingDay:
        """Record the trading day ``now`` is in, if it is not yet, in the caller's write transaction: its
        bounds then stand until it ends, whatever the reset hour says meanwhile. The breaker records it
        before it keys a trip or a warning to it."""
        day = self.current_day(now, conn=c)
        if not day.recorded:
            c.execute(insert(equity_snapshots).values(mode=self.mode, day=day.key, ends_at=day_key(day.end),
                                                      start_equity=self._start_equity(c), recorded_at=iso_utc(now)))
            day = replace(day, recorded=True)
        return day

    def _ensure_day_snapshot(self, c: Connection, now: datetime) -> str:
        """Before the day's first change: remember the equity it started with (:meth:`_start_equity`);
        the day's key."""
        return self.ensure_day(c, now).key

    # -- reading -----------------------------------------------------------------------------------

    @staticmethod
    def _order_row(c: Connection, client_order_id: str) -> Row[Any] | None:
        return c.execute(_ORDER_BY_COID, {"coid": client_order_id}).first()

    def _totals(self, c: Connection, client_order_id: str) -> _Totals:
        t = _Totals()
        rows = c.execute(select(fills).where(fills.c.mode == self.mode, fills.c.client_order_id == client_order_id)
                         .order_by(fills.c.ts, fills.c.fill_id)).all()
        for r in rows:
            f = _fill(r)
            t.fills.append(f)
            t.filled += f.size
            t.notional += f.size * f.price
            t.fees += f.fee
        return t

    def _state(self, c: Connection, row: Row[Any], totals: _Totals | None = None) -> OrderState:
        t = totals or self._totals(c, row.client_order_id)
        return OrderState(
            venue=Venue(row.venue), client_order_id=row.client_order_id, venue_order_id=row.venue_order_id,
            status=OrderStatus(row.status), market_id=row.market_id, side=Side(row.side), action=Action(row.action),
            size=Decimal(row.size), filled_size=Decimal(row.filled_size),
            avg_fill_price=None if row.avg_fill_price is None else Decimal(row.avg_fill_price),
            fees=Decimal(row.fees), limit_price=Decimal(row.limit_price), updated_at=_parse_ts(row.updated_at),
            fills=tuple(t.fills), venue_status=row.status, reject_reason=row.reject_reason,
        )

    def order(self, client_order_id: str, *, conn: Connection | None = None,
              with_fills: bool = True) -> OrderState | None:
        """The order as recorded; ``with_fills=False`` skips reading its fills (``fills`` is then empty):
        its status, size and filled size are the order row's own, read in one statement."""
        with self._read(conn) as c:
            row = self._order_row(c, client_order_id)
            if row is None or row.mode != self.mode:
                return None
            return self._state(c, row, None if with_fills else _Totals())

    def order_payload(self, client_order_id: str) -> str | None:
        """The exact prepared body committed before sending (what a retry must re-send)."""
        with self.db.read() as c:
            row = c.execute(select(orders.c.payload, orders.c.mode)
                            .where(orders.c.client_order_id == client_order_id)).first()
        return row.payload if row is not None and row.mode == self.mode else None

    def find_order(self, venue: Venue, *, client_order_id: str = "", venue_order_id: str = "") -> OrderState | None:
        with self.db.read() as c:
            row = None
            if client_order_id:
                row = self._order_row(c, client_order_id)
            if row is None and venue_order_id:
                row = c.execute(select(orders).where(orders.c.venue == venue.value,
                                                     orders.c.venue_order_id == venue_order_id)).first()
            if row is None or row.mode != self.mode or row.venue != venue.value:
                return None
            return self._state(c, row)

    def orders(self, *, venue: Venue | None = None, statuses: Iterable[OrderStatus] = (),
               execution_id: str | None = None) -> list[OrderState]:
        stmt = select(orders).where(orders.c.mode == self.mode)
        if venue is not None:
            stmt = stmt.where(orders.c.venue == venue.value)
        wanted = [s.value for s in statuses]
        if wanted:
            stmt = stmt.where(orders.c.status.in_(wanted))
        if execution_id is not None:
            stmt = stmt.where(orders.c.execution_id == execution_id)
        with self.db.read() as c:
            return [self._state(c, r) for r in c.execute(stmt.order_by(orders.c.created_at)).all()]

    def fills(self, *, venue: Venue | None = None, since: datetime | None = None, venue_order_id: str = "",
              client_order_id: str = "") -> list[Fill]:
        stmt = select(fills).where(fills.c.mode == self.mode)
        if venue is not None:
            stmt = stmt.where(fills.c.venue == venue.value)
        if since is not None:
            stmt = stmt.where(fills.c.ts >= iso_utc(since))
        if venue_order_id:
            stmt = stmt.where(fills.c.venue_order_id == venue_order_id)
        if client_order_id:
            stmt = stmt.where(fills.c.client_order_id == client_order_id)
        with self.db.read() as c:
            return [_fill(r) for r in c.execute(stmt.order_by(fills.c.ts, fills.c.fill_id)).all()]

    def _balance(self, c: Connection, venue: Venue) -> Balance | None:
        row = c.execute(select(balances).where(balances.c.mode == self.mode, balances.c.venue == venue.value)).first()
        return None if row is None else _balance(row, self.mode)

    def balance(self, venue: Venue, *, conn: Connection | None = None) -> Balance | None:
        with self._read(conn) as c:
            return self._balance(c, venue)

    def balances(self) -> list[Balance]:
        with self.db.read() as c:
            rows = c.execute(select(balances).where(balances.c.mode == self.mode).order_by(balances.c.venue)).all()
        return [_balance(r, self.mode) for r in rows]

    def positions(self, venue: Venue | None = None, *, include_closed: bool = False,
                  conn: Connection | None = None) -> list[Position]:
        """Open positions (``exposure`` = cost of the contracts held); extras carry fees and realised P&L."""
        with self._read(conn) as c:
            return positions_in(c, self.mode, venue=venue, include_closed=include_closed)

    def categories(self, markets: Iterable[tuple[Venue, str]]) -> dict[tuple[Venue, str], str]:
        """The category the ledger recorded for each of ``markets`` it has held (closed positions too),
        read for those markets only: not every position of the ledger's history."""
        wanted = set(markets)
        if not wanted:
            return {}
        with self.db.read() as c:
            # Venues and market ids as two lists (the pairs are picked below): the primary key's columns, looked up.
            rows = c.execute(select(positions.c.venue, positions.c.market_id, positions.c.category).where(
                positions.c.mode == self.mode, positions.c.venue.in_(sorted({v.value for v, _ in wanted})),
                positions.c.market_id.in_(sorted({m for _, m in wanted})), positions.c.category != "")
                .order_by(positions.c.venue, positions.c.market_id, positions.c.side)).all()
        # Where the two sides of a market were recorded under different categories, the last side's stands.
        return {(Venue(r.venue), r.market_id): r.category for r in rows if (Venue(r.venue), r.market_id) in wanted}

    def closed_since(self, venue: Venue, since: datetime, *, conn: Connection | None = None) -> list[Position]:
        """``venue``'s positions closed (size 0) by a change at or after ``since``. The database still
        scans the venue's rows for them (no index holds ``updated_at``); only those are read into orion,
        not the closed history of every settled market, which a year of trading makes most of the table."""
        with self._read(conn) as c:
            rows = c.execute(_VENUE_CLOSED_SINCE, {"mode": self.mode, "venue": venue.value,
                                                   "since": iso_utc(since)}).all()
        return positions_from_rows(rows, include_closed=True)

    def exposure(self, held: Sequence[Position] | None = None) -> Exposure:
        """Cost at risk by market and by category (categories compared case-insensitively)."""
        held = self.positions() if held is None else held
        return exposure_of(held)

    def daily_pnl(
        self,
        *,
        daily_loss: Decimal,
        daily_loss_pct: Decimal,
        marks: Mapping[MarkKey, Decimal] | None = None,
        now: datetime | None = None,
        conn: Connection | None = None,
        held_positions: Sequence[Position] | None = None,
        day_figures: DayFigures | None = None,
    ) -> DailyPnl:
        """Equity now (positions at ``marks`` where given, else at what a settled pair partner says they
        pay, else at cost) against the day's start.

        With ``conn`` (the pre-trade checks' transaction) every figure comes from that one view;
        ``held_positions`` and ``day_figures`` when the caller has already read them on it (figures
        for another trading day are ignored and read again).
        """
        now = now or datetime.now(UTC)
        marks = marks or {}
        with self._read(conn) as c:
            if day_figures is None or not day_figures.day.holds(now) \
                    or day_figures.day.reset_hour_utc != self.reset_hour_utc:
                row = c.execute(_DAY_FIGURES, {"mode": self.mode, "day_cut": day_key(now)}).one()
                day_figures = DayFigures.of_row(now, self.reset_hour_utc, row)
            day = day_figures.day
            held = [p for p in (positions_in(c, self.mode) if held_positions is None else held_positions)
                    if p.size != 0]
            keys = [(p.venue, p.market_id, p.side) for p in held]
            wanted = keys if day_figures.start_equity is None else [k for k in keys if k not in marks]
            implied = settled_pair_values(c, self.mode, wanted) if wanted else {}
        cash = ZERO if day_figures.cash is None else day_figures.cash
        # No snapshot: nothing changed today, so today's start equals the ledger now, valued as a
        # snapshot would value it (at cost, or at what a settled pair partner implies).
        start = day_figures.start_equity if day_figures.start_equity is not None else \
            cash + sum((_start_value(p.size, p.exposure, implied.get(k)) for p, k in zip(held, keys, strict=True)),
                       ZERO)
        value = ZERO
        unrealised = ZERO
        marked = True
        for p in held:
            mark = marks.get((p.venue, p.market_id, p.side), implied.get((p.venue, p.market_id, p.side)))
            if mark is None:
                marked = False
                value += p.exposure
            else:
                value += p.size * mark
                unrealised += p.size * mark - p.exposure
        equity = cash + value
        pnl = equity - start
        limit, source = daily_loss, "breaker.daily_loss"
        if start > 0:
            pct_limit = q(start * daily_loss_pct / 100)
            if pct_limit < limit:
                limit, source = pct_limit, "breaker.daily_loss_pct"
        used = ZERO if pnl >= 0 or limit <= 0 else q(-pnl / limit)
        return DailyPnl(mode=self.mode, day=day.date, since=day.start, start_equity=plain(start), equity=plain(equity),
                        pnl=plain(pnl), unrealised=plain(unrealised), marked=marked, limit=plain(limit),
                        limit_source=source, used_share=plain(used), trading_day=day)


def intents_refused(coids: Sequence[str]) -> Refused:
    """The refusal when the ledger rejects intents whose ids were proved unused (a race or tampering)."""
    return Refused(f"the ledger refused the intents for {', '.join(coids)} (an order id already used, or a "
                   "constraint violated)", reason="DUPLICATE")


def positions_in(conn: Connection, mode: str, *, venue: Venue | None = None,
                 include_closed: bool = False) -> list[Position]:
    """:meth:`Ledger.positions` on a caller's connection."""
    if venue is None:
        rows: Sequence[Any] = conn.execute(_POSITIONS if include_closed else _HELD_POSITIONS, {"mode": mode}).all()
    else:
        rows = conn.execute(_VENUE_POSITIONS if include_closed else _VENUE_HELD_POSITIONS,
                            {"mode": mode, "venue": venue.value}).all()
    return positions_from_rows(rows, include_closed=include_closed)


def positions_from_rows(rows: Sequence[Any], *, include_closed: bool = False) -> list[Position]:
    """``positions`` rows (as :data:`POSITIONS_OF_MODE` or :func:`positions_in` read them) as positions."""
    out: list[Position] = []
    for r in rows:
        size, cost = Decimal(r.size), Decimal(r.cost)
        if size == 0 and not include_closed:
            continue
        out.append(Position(
            venue=Venue(r.venue), market_id=r.market_id, side=Side(r.side), size=size,
            avg_price=plain(q(cost / size)) if size > 0 else ZERO, exposure=cost, category=r.category,
            extra={"cost": str(cost), "fees": str(Decimal(r.fees)), "realized_pnl": str(Decimal(r.realized_pnl)),
                   "updated_at": r.updated_at},
        ))
    return out


def exposure_of(held: Sequence[Position]) -> Exposure:
    by_market: dict[tuple[str, str], list[Decimal]] = {}
    by_category: dict[str, list[Decimal]] = {}
    for p in held:
        if p.size <= 0:
            continue
        by_market.setdefault((p.venue.value, p.market_id), []).append(p.exposure)
        by_category.setdefault(normalise_category(p.category), []).append(p.exposure)
    markets = tuple(sorted(
        (ExposureLine("market", m, sum(v, ZERO), venue=venue, positions=len(v)) for (venue, m), v in by_market.items()),
        key=lambda x: (-x.exposure, x.venue, x.key)))
    cats = tuple(sorted((ExposureLine("category", k, sum(v, ZERO), positions=len(v)) for k, v in by_category.items()),
                        key=lambda x: (-x.exposure, x.key)))
    return Exposure(by_market=markets, by_category=cats, total=sum((x.exposure for x in markets), ZERO),
                    open_markets=len(markets))


def _fill(r: Row[Any]) -> Fill:
    return Fill(venue=Venue(r.venue), fill_id=r.fill_id, venue_order_id=r.venue_order_id, market_id=r.market_id,
                side=Side(r.side), action=Action(r.action), size=Decimal(r.size), price=Decimal(r.price),
                fee=Decimal(r.fee), ts=_parse_ts(r.ts), is_taker=bool(r.is_taker), client_order_id=r.client_order_id)


def _balance(r: Row[Any], mode: str) -> Balance:
    return Balance(venue=Venue(r.venue), mode=mode, available=Decimal(r.available), reserved=Decimal(r.reserved),
                   total=Decimal(r.total), as_of=_parse_ts(r.as_of), source=r.source)
