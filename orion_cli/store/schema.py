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
    net_profit: Mapped[Decimal]
    net_edge: Mapped[Decimal]
    source: Mapped[str]
    record: Mapped[str]
