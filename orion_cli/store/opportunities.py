"""Storing scanned opportunities so ``orion trade OP_ID`` can find them until they expire."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from orion_cli.core.errors import DataError, NotFound
from orion_cli.core.money import loads_exact
from orion_cli.core.opportunity import Opportunity
from orion_cli.core.plain_text import shown_text
from orion_cli.store.db import Database
from orion_cli.store.stored import CorruptValue
from orion_cli.store.tables import executions
from orion_cli.store.tables import opportunities as opp_table


def _ts(dt: datetime) -> str:
    """Fixed-width UTC text (always six fraction digits), so comparing the column's text orders by time.

    (``iso_z`` once dropped a zero fraction, and as text "12:00:00.5Z" sorts *before* "12:00:00Z".)
    """
    if dt.tzinfo is None:
        raise DataError("time", "naive datetime (timezone-aware UTC required)")
    return dt.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def save(conn: Connection, opportunities: Sequence[Opportunity], *, source: str) -> int:
    """Upsert by id (the same legs within one time bucket keep their id); returns rows written."""
    if not opportunities:
        return 0
    latest = {o.id: o for o in opportunities}  # a repeated id within one batch: the last pricing wins
    opportunities = list(latest.values())
    ids = list(latest)
    conn.execute(delete(opp_table).where(opp_table.c.id.in_(ids)))
    conn.execute(
        insert(opp_table),
        [
            {
                "id": o.id,
                "kind": o.kind,
                "pair_key": o.pair_key[:400],
                "observed_at": _ts(o.observed_at),
                "expires_at": _ts(o.expires_at),
                "net_profit": format(o.net_profit, "f"),
                "net_edge": format(o.net_edge, "f"),
                "source": source,
                "record": json.dumps(o.to_record(), sort_keys=True),
            }
            for o in opportunities
        ],
    )
    return len(opportunities)


# How long a scanned opportunity's id stays loadable (`orion trade ID`): `scan` and `trade --watch` prune
# what is older before they store their own.
RETENTION = timedelta(days=7)


def prune(conn: Connection, *, older_than: datetime, unfinished: Collection[str]) -> int:
    """Forget opportunities scanned before ``older_than``, but not one an execution whose status is in
    ``unfinished`` was planned from.

    By when they were scanned, not by when their quotes expire: trading an id re-reads the books, so
    it stays loadable for as long as promised after the scan that printed it. A recorded snapshot's
    quotes expired long ago; pruned by that, every id of the last scan vanished at the next one.
    An unfinished execution's resume command names its opportunity, and finishing a crashed
    execution may come days later.
    """
    planned = select(executions.c.opportunity_id).where(executions.c.status.in_(list(unfinished)))
    result = conn.execute(delete(opp_table).where(opp_table.c.observed_at < _ts(older_than),
                                                  opp_table.c.id.not_in(planned)))
    return int(result.rowcount or 0)


def load(db: Database, opportunity_id: str) -> tuple[Opportunity, str]:
    """The stored opportunity and the source it was scanned from; NotFound names the id."""
    key = opportunity_id.strip().lower()
    with db.read() as conn:
        row = conn.execute(select(opp_table).where(opp_table.c.id == key)).first()
    if row is None:
        raise NotFound(f"no opportunity with id {shown_text(opportunity_id)}",
                       hint="run `orion scan` and use an id from its output")
    try:
        return Opportunity.from_record(loads_exact(row.record)), row.source
    except (DataError, KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        # JSON, but not an opportunity's record (the column's type refused anything else): a damaged
        # ledger naming the row, not an internal error (exit 1) or bad data (the record is orion's own).
        problem = exc.message if isinstance(exc, DataError) else type(exc).__name__
        raise CorruptValue(opp_table.name, "record", f"is not an opportunity's record ({problem})",
                           keys=[{"id": row.id}], where=db.display_url) from None


def is_expired(op: Opportunity, now: datetime | None = None) -> bool:
    return (now or datetime.now(UTC)) >= op.expires_at
