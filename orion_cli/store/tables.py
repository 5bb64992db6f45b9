"""The ledger's tables as SQLAlchemy Core objects — the hot path's only schema import.

Commands that run every few seconds (``halt``, ``audit tail``, cron's ``reconcile``) import these
Core tables and never the ORM, which keeps their start-up cheap. :mod:`orion_cli.store.schema` maps
typed ORM models onto the very same ``Table`` objects for code that prefers them. Money columns are
``Numeric``, never ``Float``. Audit rows store their timestamp and payload as the exact text that was
hashed, so the chain verifies byte for byte on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Dialect, Index, Integer, MetaData, Numeric, String, Table, Text
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PLACES = 10  # core.money.LEDGER_PLACES, which venue figures are held to (not imported: start-up cost)
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_SQLITE_MAX_UNITS = 2**63 - 1
# A position still held (a closed one keeps its row, size 0, for its realised P&L). Literal text, in the
# partial index and in every query meant to use it: a bound 0 would not prove the index's condition.
HELD_POSITION = "size <> 0"


class Checked:
    """A column type that refuses, as it is read, a stored value orion never writes there.

    The value becomes :class:`~orion_cli.store.stored.CorruptValue` naming ``where`` (``table.column``,
    set for every column of :data:`metadata` below), which :class:`~orion_cli.store.db.Database` turns
    into a damaged ledger (exit 3) naming the row; the type's :meth:`problem` is what finds that row."""

    where = ""

    def problem(self, value: Any, dialect_name: str) -> str | None:  # pragma: no cover - each type has its own
        raise NotImplementedError

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return value  # written as given (Money converts its own)

    def corrupt(self, problem: str) -> Exception:
        from orion_cli.store.stored import CorruptValue

        table, _, column = self.where.partition(".")
        return CorruptValue(table or "?", column or "?", problem)


class Money(Checked, TypeDecorator[Decimal]):
    """An exact ``Numeric(28, 10)``: prices, sizes, fees and balances never pass through a float.

    PostgreSQL stores NUMERIC exactly. SQLite's NUMERIC affinity would turn a decimal into a REAL
    (15 significant digits), so there the value is stored as an exact integer count of 10⁻¹⁰ —
    still a NUMERIC column, read back by this type as the same Decimal. A value with more than
    ten decimal places is refused rather than silently rounded; one read back that is not integer
    units (text, a REAL written by hand) is a damaged ledger.
    """

    impl = Numeric(28, 10)
    cache_ok = True

    def __init__(self, where: str = "") -> None:
        super().__init__()
        self.where = where

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # SQLite: hand the integer units to the driver untouched (Numeric's own processors use floats).
        return dialect.type_descriptor(BigInteger() if dialect.name == "sqlite" else Numeric(28, 10))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"money columns take Decimal, not {type(value).__name__}")
        d = Decimal(value)
        if not d.is_finite() or d != d.quantize(MONEY_QUANTUM):
            raise ValueError(f"money value {d} has more than {MONEY_PLACES} decimal places or is not finite")
        if dialect.name == "sqlite":
            units = int(d.scaleb(MONEY_PLACES))
            if abs(units) > _SQLITE_MAX_UNITS:
                raise ValueError(f"money value {d} out of range for SQLite storage")
            return units
        return d

    def problem(self, value: Any, dialect_name: str) -> str | None:
        if value is None or dialect_name != "sqlite" or (isinstance(value, int) and not isinstance(value, bool)):
            return None
        from orion_cli.store.stored import shown

        return f"holds {shown(value)}, not a money amount (SQLite keeps integer units of 10^-{MONEY_PLACES})"

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, int):
                return plain(Decimal(value).scaleb(-MONEY_PLACES))
            raise self.corrupt(self.problem(value, "sqlite") or "")
        return plain(Decimal(value))


class Choice(Checked, TypeDecorator[str]):
    """A ``String`` holding one of ``values`` (a status, a side): read back as it is, as text; any other
    value (a status no orion has, a BLOB) is a damaged ledger, not an internal error where it is decoded."""

    impl = String
    cache_ok = True

    def __init__(self, length: int, values: frozenset[str], where: str = "") -> None:
        super().__init__(length)
        self.values = values
        self.where = where

    def problem(self, value: Any, dialect_name: str) -> str | None:
        if value is None or value in self.values:
            return None
        from orion_cli.store.stored import shown

        return f"holds {shown(value)}, which is none of {', '.join(sorted(self.values))}"

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or value in self.values:
            return value  # type: ignore[no-any-return]
        raise self.corrupt(self.problem(value, dialect.name) or "")


class JsonObject(Checked, TypeDecorator[str]):
    """A ``Text`` holding a JSON object orion wrote (``empty_ok``: or ""), read back as that text."""

    impl = Text
    cache_ok = True

    def __init__(self, empty_ok: bool = False, where: str = "") -> None:
        super().__init__()
        self.empty_ok = empty_ok
        self.where = where

    def problem(self, value: Any, dialect_name: str) -> str | None:
        from orion_cli.core.money import loads_exact
        from orion_cli.store.stored import json_problem

        return json_problem(value, loads=loads_exact, empty_ok=self.empty_ok)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        problem = self.problem(value, dialect.name)
        if problem is not None:
            raise self.corrupt(problem)
        return value  # type: ignore[no-any-return]


# The values orion writes to its choice columns (``tests/store/test_stored_values.py`` holds them to the
# enums: Venue, Side, Action, TimeInForce, OrderStatus, ExecStatus), spelled out so that this module stays
# the hot path's only schema import.
VENUES = frozenset({"kalshi", "polymarket"})
SIDES = frozenset({"yes", "no"})
ACTIONS = frozenset({"buy", "sell"})
TIMES_IN_FORCE = frozenset({"fill_or_kill", "immediate_or_cancel", "good_till_canceled"})
ORDER_STATUSES = frozenset({"intent", "submitted", "unknown", "open", "filled", "partial", "cancelled", "rejected"})
EXEC_STATUSES = frozenset({"intents", "leg1_sent", "leg1_done", "leg2_sent", "hedged", "done", "unwinding",
                           "unwound", "halted", "failed", "refused"})


metadata = MetaData()

orion_meta = Table(
    "orion_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", String(32), nullable=False),
    Column("type", String(64), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("actor", Text, nullable=False),
    Column("venue", String(16), nullable=True),
    Column("market", String(200), nullable=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_type_seq", "type", "seq"),
    Index("ix_audit_ts", "ts"),
)

halt_state = Table(
    "halt_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("halted", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # manual | breaker | drawdown | unwind
    Column("since", String(32), nullable=True),
    Column("by", Text, nullable=False),  # JSON actor
)

opportunities = Table(
    "opportunities",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("pair_key", String(400), nullable=False),
    Column("observed_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("net_profit", Text, nullable=False),  # exact decimal text (display/sort key; the record is canonical)
    Column("net_edge", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("record", JsonObject(), nullable=False),
    Index("ix_opportunities_observed", "observed_at"),  # migration 0009: the prune every scan runs
)


# -- the trading ledger (migration 0003) ----------------------------------------------------------


def plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without ever producing an exponent (``1000.0000`` → ``1000``)."""
    try:
        return _plain_cached(value)
    except TypeError:  # a signalling NaN cannot be hashed
        return _plain(value)


def _plain(value: Decimal) -> Decimal:
    if value == 0:
        return Decimal(0)
    n = value.normalize()
    return n.quantize(Decimal(1)) if n.as_tuple().exponent > 0 else n  # type: ignore[operator]


# The result depends only on the number (equal Decimals, 1.0 and 1, give the same plain form), and the
# order path formats the same few prices and sizes dozens of times per trade.
_plain_cached = functools.lru_cache(maxsize=4096)(_plain)


orders = Table(
    "orders",
    metadata,
    Column("client_order_id", String(100), primary_key=True),
    Column("execution_id", String(64), nullable=True),
    Column("mode", String(8), nullable=False),
    Column("venue", Choice(16, VENUES), nullable=False),
    Column("market_id", String(200), nullable=False),
    Column("token_id", String(100), nullable=False),
    Column("side", Choice(4, SIDES), nullable=False),
    Column("action", Choice(4, ACTIONS), nullable=False),
    Column("size", Money, nullable=False),
    Column("limit_price", Money, nullable=False),
    Column("time_in_force", Choice(24, TIMES_IN_FORCE), nullable=False),
    Column("status", Choice(16, ORDER_STATUSES), nullable=False),
    Column("venue_order_id", String(200), nullable=False),
    Column("filled_size", Money, nullable=False),
    Column("avg_fill_price", Money, nullable=True),
    Column("fees", Money, nullable=False),
    Column("payload", Text, nullable=False),  # the exact prepared body, committed before sending
    Column("category", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("reject_reason", Text, nullable=False),
    Index("ix_orders_mode_status", "mode", "status"),
    Index("ix_orders_mode_created", "mode", "created_at"),
    Index("ix_orders_execution", "execution_id"),
    Index("ix_orders_venue_order", "venue", "venue_order_id"),
    Index("ix_orders_mode_market", "mode", "market_id"),  # migration 0008: a held leg's pair partner
)

fills = Table(
    "fills",
    metadata,
    Column("mode", String(8), primary_key=True),
    Column("venue", Choice(16, VENUES), primary_key=True),
    Column("fill_id", String(200), primary_key=True),
    Column("client_order_id", String(100), nullable=False),  # "" when the venue reports a fill we never sent
    Column("venue_order_id", String(200), nullable=False),
    Column("market_id", String(200), nullable=False),
    Column("side", Choice(4, SIDES), nullable=False),
    Column("action", Choice(4, ACTIONS), nullable=False),
    Column("size", Money, nullable=False),
    Column("price", Money, nullable=False),
    Column("fee", Money, nullable=False),
    Column("ts", String(32), nullable=False),
    Column("is_taker", Boolean, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    # migration 0010: the YES/NO pairs this buy closed on a netting venue (each paid $1 into its cash)
    Column("netted", Money, nullable=False, server_default="0"),
    Index("ix_fills_order", "client_order_id"),
    Index("ix_fills_ts", "mode", "ts"),
)

positions = Table(
    "positions",
    metadata,
    Column("mode", String(8), primary_key=True),
    Column("venue", Choice(16, VENUES), primary_key=True),
    Column("market_id", String(200), primary_key=True),
    Column("side", Choice(4, SIDES), primary_key=True),
    Column("size", Money, nullable=False),
    Column("cost", Money, nullable=False),  # what the contracts held cost (fees excluded)
    Column("fees", Money, nullable=False),  # fees paid on the contracts held
    Column("realized_pnl", Money, nullable=False),  # cumulative, net of fees
    Column("category", String(64), nullable=False),
    Column("updated_at", String(32), nullable=False),
)
# Migration 0014: the positions held, without the closed history (every trade's checks read them). Not an
# Index above: a partial index is each dialect's own keyword to SQLAlchemy, which would load the PostgreSQL
# dialect on every SQLite start-up to check it. The statement is the same text on both; store/fresh.py runs it.
HELD_POSITIONS_INDEX = ("CREATE INDEX ix_positions_held ON positions (mode, venue, market_id, side) "
                        f"WHERE {HELD_POSITION}")

balances = Table(
    "balances",
    metadata,
    Column("mode", String(8), primary_key=True),
    Column("venue", Choice(16, VENUES), primary_key=True),
    Column("available", Money, nullable=False),
    Column("reserved", Money, nullable=False),
    Column("total", Money, nullable=False),
    Column("as_of", String(32), nullable=False),
    Column("source", String(16), nullable=False),  # ledger (paper) | venue (a live venue's report)
)

equity_snapshots = Table(
    "equity_snapshots",
    metadata,
    Column("mode", String(8), primary_key=True),
    # The trading day: the UTC instant it starts ("2026-11-23T13:00Z", ledger.day_key; migration 0013).
    Column("day", String(20), primary_key=True),
    Column("start_equity", Money, nullable=False),  # cash + positions at cost before the day's first change
    Column("recorded_at", String(32), nullable=False),
    # Its end, as a key: it stands whatever the reset hour says. Last, where migration 0013 added it (a new
    # ledger is created from these declarations: store/fresh.py).
    Column("ends_at", String(20), nullable=False),
)


# -- executions and the loss breaker (migration 0004) ----------------------------------------------

executions = Table(
    "executions",
    metadata,
    Column("key", String(64), primary_key=True),  # the idempotency key: one execution per key, ever
    Column("opportunity_id", String(16), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("status", Choice(16, EXEC_STATUSES), nullable=False),
    Column("size", Money, nullable=False),
    Column("plan", Text, nullable=False),  # JSON: legs, prices, fees, edge at decision time
    Column("result", Text, nullable=False),  # JSON: what happened (fills, unwind, reasons)
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_executions_status", "mode", "status"),
)

breaker_state = Table(
    "breaker_state",
    metadata,
    Column("mode", String(8), primary_key=True),
    Column("peak_equity", Money, nullable=True),
    Column("warned_day", String(20), nullable=True),  # trading day (its key) a warning was last raised
    Column("tripped_kind", String(16), nullable=True),  # daily_loss | drawdown
    Column("tripped_at", String(32), nullable=True),
    Column("detail", Text, nullable=False),
    Column("updated_at", String(32), nullable=False),
)


# -- settlements (migration 0006) ------------------------------------------------------------------

settlements = Table(
    "settlements",
    metadata,
    Column("mode", String(8), primary_key=True),
    Column("venue", Choice(16, VENUES), primary_key=True),
    Column("market_id", String(200), primary_key=True),  # one settlement per market: recorded once
    Column("result", String(16), nullable=False),
    Column("yes_payout", Money, nullable=False),  # per YES contract; a NO contract pays 1 - this (void: 0)
    Column("paid_at", String(32), nullable=False),
    Column("contracts", Money, nullable=False),  # what the ledger held and settled, both sides
    Column("payout", Money, nullable=False),  # the cash those contracts brought
    Column("realized_pnl", Money, nullable=False),  # payout - their cost - their fees
    Column("cash_moved", Boolean, nullable=False),  # False: the venue's report already held the payout
    Column("source", String(16), nullable=False),
    Column("recorded_at", String(32), nullable=False),
)


# -- transfers (migration 0007) --------------------------------------------------------------------

transfers = Table(
    "transfers",
    metadata,
    Column("mode", String(8), primary_key=True),
    Column("venue", Choice(16, VENUES), primary_key=True),
    Column("kind", String(12), primary_key=True),  # deposit | withdrawal
    Column("transfer_id", String(100), primary_key=True),
    Column("status", String(16), nullable=False),  # applied | returned: the last one seen
    Column("amount", Money, nullable=False),  # signed: + into the account, - out of it
    Column("capital", Money, nullable=False),  # what moved the equity references: amount, or 0 if a report held it
    Column("at", String(32), nullable=False),  # when the venue finalized it
    Column("recorded_at", String(32), nullable=False),
)


def _name_checked_columns() -> None:
    """Tell each checked column's type which column it is (its errors name it)."""
    for table in metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, Checked):
                column.type.where = f"{table.name}.{column.name}"


_name_checked_columns()
