"""Which venues were last seen below ``alerts.low_balance``, per ledger (paper / live).

``balance.low`` is alerted when a venue's balance *falls* below the threshold, not on every look
that finds it still low. What "before" was has to outlive the process: a single ``orion trade`` run
from cron, a reconcile every few minutes and several traders sharing one database each see only
their own look. The state is a row per low venue in ``orion_meta`` (key
``balance_low:<mode>:<venue>``, value: when it was first seen low), changed in one serialised write
transaction, so of several processes looking at once exactly one finds the fall.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, insert, select

from orion_cli.core.models import Venue
from orion_cli.store.audit import iso_utc
from orion_cli.store.db import Database
from orion_cli.store.tables import orion_meta

KEY_PREFIX = "balance_low:"


def _key(mode: str, venue: Venue) -> str:
    return f"{KEY_PREFIX}{mode}:{venue.value}"


def record_low(db: Database, mode: str, low: Iterable[Venue], recovered: Iterable[Venue], now: datetime) -> set[Venue]:
    """Mark ``low`` venues low and ``recovered`` ones not; return the venues of ``low`` that fell since
    the last look (were not marked before)."""
    low, recovered = set(low), set(recovered)
    if not low and not recovered:
        return set()
    with db.write() as conn:
        keys = {_key(mode, v): v for v in low | recovered}
        marked = {keys[k] for k in conn.execute(select(orion_meta.c.key).where(orion_meta.c.key.in_(keys))).scalars()}
        fell = low - marked
        if fell:
            conn.execute(insert(orion_meta), [{"key": _key(mode, v), "value": iso_utc(now)} for v in sorted(fell)])
        cleared = recovered & marked
        if cleared:
            conn.execute(delete(orion_meta).where(orion_meta.c.key.in_([_key(mode, v) for v in cleared])))
    return fell

