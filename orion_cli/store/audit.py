"""The append-only, hash-chained audit log (DESIGN §7).

Events are appended inside the transaction of the change they record (:meth:`Database.write`
serialises writers, so the chain never forks). ``hash = SHA-256(prev_hash ‖ canonical JSON of
{seq, ts, type, mode, actor, venue, market, payload})``. No code path updates or deletes a row;
:func:`verify` recomputes the chain in constant memory and names the first bad ``seq``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Connection, insert, select

from orion_cli.store.audit_head import get_head, set_head
from orion_cli.store.db import Database
from orion_cli.store.tables import audit_events

GENESIS_HASH = "0" * 64
SCHEMA_VERSION = 1


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, Decimal as exact strings, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def iso_utc(ts: datetime) -> str:
    """ISO-8601 UTC with microseconds and ``Z`` — fixed width, so text order is time order."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_actor(command: str = "") -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {
        "command": command or _command_from_argv(),
        "user": user,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def _command_from_argv() -> str:
    words = [w for w in sys.argv[1:3] if not w.startswith("-")]
    return " ".join(words) or "orion"


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts: str
    type: str
    mode: str
    actor: dict[str, Any]
    venue: str | None
    market: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_record(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "seq": self.seq,
            "ts": self.ts,
            "type": self.type,
            "mode": self.mode,
            "actor": self.actor,
            "venue": self.venue,
            "market": self.market,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def compute_hash(prev_hash: str, seq: int, ts: str, type_: str, mode: str, actor: str, venue: str | None,
                 market: str | None, payload: str) -> str:
    """The chain link. ``actor`` and ``payload`` are the stored canonical JSON texts."""
    body = canonical_json(
        {
            "seq": seq,
            "ts": ts,
            "type": type_,
            "mode": mode,
            "actor": json.loads(actor),
            "venue": venue,
            "market": market,
            "payload": json.loads(payload),
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


class AuditLog:
    """Append and read audit events."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writing -------------------------------------------------------------------------------

    @staticmethod
    def append(
        conn: Connection,
        type_: str,
        payload: Mapping[str, Any] | None = None,
        *,
        mode: str = "paper",
        actor: Mapping[str, Any] | None = None,
        venue: str | None = None,
        market: str | None = None,
        now: datetime | None = None,
    ) -> Event:
        """Append inside the caller's :meth:`Database.write` transaction."""
        newest = select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
        last = conn.execute(newest).first()
        seq = (last[0] + 1) if last else 1
        prev = last[1] if last else GENESIS_HASH
        ts = iso_utc(now or datetime.now(UTC))
        actor_d = dict(actor) if actor is not None else default_actor()
        actor_text = canonical_json(actor_d)
        payload_d = dict(payload or {})
        payload_text = canonical_json(payload_d)
        # Re-parse so the in-memory event equals what a reader will see (Decimals become strings).
        payload_d = json.loads(payload_text)
        digest = compute_hash(prev, seq, ts, type_, mode, actor_text, venue, market, payload_text)
        conn.execute(
            insert(audit_events).values(
                seq=seq, ts=ts, type=type_, mode=mode, actor=actor_text, venue=venue, market=market,
                payload=payload_text, prev_hash=prev, hash=digest,
            )
        )
        set_head(conn, seq, digest)
        return Event(seq, ts, type_, mode, json.loads(actor_text), venue, market, payload_d, prev, digest)

    def record(self, type_: str, payload: Mapping[str, Any] | None = None, **kwargs: Any) -> Event:
        """Append in a transaction of its own (for events that accompany no other change)."""
        with self.db.write() as conn:
            return self.append(conn, type_, payload, **kwargs)

    # -- reading -------------------------------------------------------------------------------

    @staticmethod
    def _row_to_event(row: Any) -> Event:
        return Event(
            seq=row.seq, ts=row.ts, type=row.type, mode=row.mode, actor=json.loads(row.actor), venue=row.venue,
            market=row.market, payload=json.loads(row.payload), prev_hash=row.prev_hash, hash=row.hash,
        )

    def tail(self, n: int = 20, *, types: tuple[str, ...] = (), since: str | None = None) -> list[Event]:
        """The last ``n`` matching events, oldest first. Cost grows with ``n``, not with the log."""
        stmt = select(audit_events)
        if types:
            stmt = stmt.where(_type_filter(types))
        if since:
            stmt = stmt.where(audit_events.c.ts >= since)
        stmt = stmt.order_by(audit_events.c.seq.desc()).limit(n)
        with self.db.read() as conn:
            rows = conn.execute(stmt).all()
        return [self._row_to_event(r) for r in reversed(rows)]

    def after(self, seq: int, *, types: tuple[str, ...] = (), limit: int = 1000) -> list[Event]:
        """Events with a seq greater than ``seq`` (for ``--follow``)."""
        stmt = select(audit_events).where(audit_events.c.seq > seq)
        if types:
            stmt = stmt.where(_type_filter(types))
        stmt = stmt.order_by(audit_events.c.seq).limit(limit)
        with self.db.read() as conn:
            rows = conn.execute(stmt).all()
        return [self._row_to_event(r) for r in rows]

    def last_seq(self) -> int:
        with self.db.read() as conn:
            row = conn.execute(select(audit_events.c.seq).order_by(audit_events.c.seq.desc()).limit(1)).first()
        return int(row[0]) if row else 0

    def iter_all(self, batch: int = 5000) -> Iterator[Any]:
        """Every row in seq order, fetched in keyset pages so memory stays flat."""
        last = 0
        while True:
            with self.db.read() as conn:
                rows = conn.execute(
                    select(audit_events).where(audit_events.c.seq > last).order_by(audit_events.c.seq).limit(batch)
                ).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].seq

    def verify(self) -> VerifyResult:
        """Recompute the whole chain; report the first broken seq and why."""
        prev_hash = GENESIS_HASH
        expected_seq = 1
        count = 0
        for row in self.iter_all():
            problem = None
            if row.seq != expected_seq:
                problem = f"expected seq {expected_seq}, found {row.seq} (a row was deleted or inserted)"
            elif row.prev_hash != prev_hash:
                problem = "prev_hash does not match the previous event (rows reordered, deleted or inserted)"
            else:
                try:
                    digest = compute_hash(prev_hash, row.seq, row.ts, row.type, row.mode, row.actor, row.venue,
                                          row.market, row.payload)
                except (ValueError, TypeError):
                    digest = ""
                if digest != row.hash:
                    problem = "hash mismatch (the event was altered)"
            if problem:
                return VerifyResult(ok=False, events=count, first_bad_seq=int(row.seq), problem=problem)
            prev_hash = row.hash
            expected_seq += 1
            count += 1
        with self.db.read() as conn:
            head = get_head(conn)
        if head is not None and (head[0] != count or head[1] != prev_hash):
            return VerifyResult(
                ok=False, events=count, first_bad_seq=min(count + 1, max(head[0], 1)),
                problem=f"the newest event should be seq {head[0]} (head anchor) but the log ends at seq {count}: "
                        "events were deleted or the anchor was altered",
            )
        return VerifyResult(ok=True, events=count, first_bad_seq=None, problem=None)


def _type_filter(types: tuple[str, ...]) -> Any:
    """``halt`` matches ``halt.engaged`` and ``halt.released``; an exact type matches itself."""
    from sqlalchemy import or_

    clauses = []
    for t in types:
        if t.endswith(".*"):
            t = t[:-2]
        if "." in t:
            clauses.append(audit_events.c.type == t)
        else:
            clauses.append(audit_events.c.type.like(f"{t}.%"))
            clauses.append(audit_events.c.type == t)
    return or_(*clauses)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    events: int
    first_bad_seq: int | None
    problem: str | None

    def to_record(self) -> dict[str, Any]:
        return {"type": "audit_verify", "ok": self.ok, "events": self.events,
                "first_bad_seq": self.first_bad_seq, "problem": self.problem}
