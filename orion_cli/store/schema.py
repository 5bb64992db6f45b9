"""Typed SQLAlchemy models. Money columns are ``Numeric``, never ``Float``.

Audit rows store their timestamp and payload as the exact text that was hashed, so the hash chain
verifies byte-for-byte on SQLite and PostgreSQL alike (no driver-dependent datetime or JSON
round-trips).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Marks a database as orion's; a database without it is foreign and never touched."""

    __tablename__ = "orion_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditEvent(Base):
    """One append-only audit record; ``hash`` = SHA-256(prev_hash ‖ canonical JSON of the event)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(Text)
    venue: Mapped[str | None] = mapped_column(String(16), nullable=True)
    market: Mapped[str | None] = mapped_column(String(200), nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_type_seq", "type", "seq"),
        Index("ix_audit_ts", "ts"),
    )


class HaltState(Base):
    """The kill switch: a single row (id = 1) shared by every process and host using this database."""

    __tablename__ = "halt_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    halted: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="manual")  # manual | breaker | drawdown | unwind
    since: Mapped[str | None] = mapped_column(String(32), nullable=True)
    by: Mapped[str] = mapped_column(Text, default="")  # JSON actor


class StoredOpportunity(Base):
    """A priced opportunity from a scan: the full JSON record plus the columns we query by."""

    __tablename__ = "opportunities"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    pair_key: Mapped[str] = mapped_column(String(400))
    observed_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32), index=True)
    net_profit: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    net_edge: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    source: Mapped[str] = mapped_column(String(32))
    record: Mapped[str] = mapped_column(Text)
