"""The ledger's tables as SQLAlchemy Core objects — the hot path's only schema import.

Commands that run every few seconds (``halt``, ``audit tail``, cron's ``reconcile``) import these
Core tables and never the ORM, which keeps their start-up cheap. :mod:`orion_cli.store.schema` maps
typed ORM models onto the very same ``Table`` objects for code that prefers them. Money columns are
``Numeric``, never ``Float``. Audit rows store their timestamp and payload as the exact text that was
hashed, so the chain verifies byte for byte on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, Numeric, String, Table, Text

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
    Column("net_profit", Numeric(20, 6), nullable=False),
    Column("net_edge", Numeric(20, 6), nullable=False),
    Column("source", String(32), nullable=False),
    Column("record", Text, nullable=False),
    Index("ix_opportunities_expires", "expires_at"),
)
