"""Typed ORM models, mapped onto the Core tables of :mod:`orion_cli.store.tables`.

The tables are defined once (there); these classes add typed attribute access for code that wants
ORM objects. Hot paths use the Core tables directly and never import this module.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import DeclarativeBase, Mapped

from orion_cli.store import tables


class Base(DeclarativeBase):
    metadata = tables.metadata


class Meta(Base):
    """Marks a database as orion's; a database without it is foreign and never touched."""

    __table__ = tables.orion_meta

    key: Mapped[str]
    value: Mapped[str]


class AuditEvent(Base):
    """One append-only audit record; ``hash`` = SHA-256(prev_hash ‖ canonical JSON of the event)."""

    __table__ = tables.audit_events

    seq: Mapped[int]
    ts: Mapped[str]
    type: Mapped[str]
    mode: Mapped[str]
    actor: Mapped[str]
    venue: Mapped[str | None]
    market: Mapped[str | None]
    payload: Mapped[str]
    prev_hash: Mapped[str]
    hash: Mapped[str]


class HaltState(Base):
    """The kill switch: a single row (id = 1) shared by every process and host using this database."""

    __table__ = tables.halt_state

    id: Mapped[int]
    halted: Mapped[bool]
    reason: Mapped[str]
    kind: Mapped[str]
    since: Mapped[str | None]
    by: Mapped[str]


class StoredOpportunity(Base):
    """A priced opportunity from a scan: the full JSON record plus the columns we query by."""

    __table__ = tables.opportunities

    id: Mapped[str]
    kind: Mapped[str]
    pair_key: Mapped[str]
    observed_at: Mapped[str]
    expires_at: Mapped[str]
    net_profit: Mapped[str]
    net_edge: Mapped[str]
    source: Mapped[str]
    record: Mapped[str]


class Order(Base):
    """One order this ledger sent (or is about to send): intent first, then every state it reached."""

    __table__ = tables.orders

    client_order_id: Mapped[str]
    execution_id: Mapped[str | None]
    mode: Mapped[str]
    venue: Mapped[str]
    market_id: Mapped[str]
    token_id: Mapped[str]
    side: Mapped[str]
    action: Mapped[str]
    size: Mapped[Decimal]
    limit_price: Mapped[Decimal]
    time_in_force: Mapped[str]
    status: Mapped[str]
    venue_order_id: Mapped[str]
    filled_size: Mapped[Decimal]
    avg_fill_price: Mapped[Decimal | None]
    fees: Mapped[Decimal]
    payload: Mapped[str]
    category: Mapped[str]
    created_at: Mapped[str]
    updated_at: Mapped[str]
    reject_reason: Mapped[str]


class StoredFill(Base):
    """One execution, unique per (mode, venue, fill_id) so a fill reported twice counts once."""

    __table__ = tables.fills

    mode: Mapped[str]
    venue: Mapped[str]
    fill_id: Mapped[str]
    client_order_id: Mapped[str]
    venue_order_id: Mapped[str]
    market_id: Mapped[str]
    side: Mapped[str]
    action: Mapped[str]
    size: Mapped[Decimal]
    price: Mapped[Decimal]
    fee: Mapped[Decimal]
    ts: Mapped[str]
    is_taker: Mapped[bool]
    recorded_at: Mapped[str]


class StoredPosition(Base):
    """Contracts held in one outcome of one market, with their cost, fees and realised P&L."""

    __table__ = tables.positions

    mode: Mapped[str]
    venue: Mapped[str]
    market_id: Mapped[str]
    side: Mapped[str]
    size: Mapped[Decimal]
    cost: Mapped[Decimal]
    fees: Mapped[Decimal]
    realized_pnl: Mapped[Decimal]
    category: Mapped[str]
    updated_at: Mapped[str]


class StoredBalance(Base):
    """Cash on one venue in one mode (paper: kept by the ledger; live: the venue's last report)."""

    __table__ = tables.balances

    mode: Mapped[str]
    venue: Mapped[str]
    available: Mapped[Decimal]
    reserved: Mapped[Decimal]
    total: Mapped[Decimal]
    as_of: Mapped[str]
    source: Mapped[str]


class EquitySnapshot(Base):
    """Start-of-day equity per mode: the base of today's P&L and the daily loss breaker."""

    __table__ = tables.equity_snapshots

    mode: Mapped[str]
    day: Mapped[str]
    ends_at: Mapped[str]
    start_equity: Mapped[Decimal]
    recorded_at: Mapped[str]


class Execution(Base):
    """One two-leg execution, keyed by its idempotency key (one execution per key, ever)."""

    __table__ = tables.executions

    key: Mapped[str]
    opportunity_id: Mapped[str]
    mode: Mapped[str]
    status: Mapped[str]
    size: Mapped[Decimal]
    plan: Mapped[str]
    result: Mapped[str]
    created_at: Mapped[str]
    updated_at: Mapped[str]


class BreakerState(Base):
    """The loss breaker's persisted state per mode: peak equity, warnings, trips."""

    __table__ = tables.breaker_state

    mode: Mapped[str]
    peak_equity: Mapped[Decimal | None]
    warned_day: Mapped[str | None]
    tripped_kind: Mapped[str | None]
    tripped_at: Mapped[str | None]
    detail: Mapped[str]
    updated_at: Mapped[str]
