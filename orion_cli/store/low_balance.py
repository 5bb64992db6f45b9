"""Which venues were last seen below ``alerts.low_balance``, per ledger (paper / live).

``balance.low`` is alerted when a venue's balance *falls* below the threshold, not on every look
that finds it still low. What "before" was has to outlive the process: a single ``orion trade`` run
from cron, a reconcile every few minutes and several traders sharing one database each see only
their own look. The state is a row per low venue in ``orion_meta`` (key
``balance_low:<mode>:<venue>``, value: when it was marked), changed in one serialised write
transaction, so of several processes looking at once exactly one finds the fall. A venue that stays
low is alerted again once a day, so a lost alert (a webhook down) is not lost for good.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from orion_cli.core.models import Venue
from orion_cli.store.audit import iso_utc
from orion_cli.store.db import Database
from orion_cli.store.tables import orion_meta

KEY_PREFIX = "balance_low:"


REMIND_AFTER = timedelta(hours=24)


def _key(mode: str, venue: Venue) -> str:
    return f"{KEY_PREFIX}{mode}:{venue.value}"


def _marks(conn: Connection, keys: Mapping[str, Venue]) -> dict[Venue, str]:
    rows = conn.execute(select(orion_meta.c.key, orion_meta.c.value).where(orion_meta.c.key.in_(list(keys))))
    return {keys[k]: v for k, v in rows}


def _due(marked_at: str, now: datetime, remind_after: timedelta) -> bool:
    try:
        return datetime.fromisoformat(marked_at) <= now - remind_after
    except (ValueError, TypeError):  # not a time this module wrote (or one without a zone): remind, rewrite
        return True


def record_low(db: Database, mode: str, low: Iterable[Venue], recovered: Iterable[Venue], now: datetime, *,
               remind_after: timedelta = REMIND_AFTER) -> set[Venue]:
    """Mark ``low`` venues low and ``recovered`` ones not; return the venues of ``low`` to alert: those that
    fell since the last look, and those marked low longer than ``remind_after`` ago (a reminder, in case
    the alert of the fall was not delivered; their mark is renewed).

    Looked at in a read first, so the common case (nothing changed) takes no write lock; a change is
    re-read and made under the writers' lock, so of several processes only one makes it.
    """
    low, recovered = set(low), set(recovered)
    keys = {_key(mode, v): v for v in low | recovered}
    if not keys:
        return set()

    def changes(marked: dict[Venue, str]) -> tuple[set[Venue], set[Venue], set[Venue]]:
        fell = low - marked.keys()
        due = {v for v in low & marked.keys() if _due(marked[v], now, remind_after)}
        return fell, due, recovered & marked.keys()

    with db.read() as conn:
        if not any(changes(_marks(conn, keys))):
            return set()
    with db.write() as conn:
        fell, due, cleared = changes(_marks(conn, keys))
        stamp = iso_utc(now)
        if fell:
            conn.execute(insert(orion_meta), [{"key": _key(mode, v), "value": stamp} for v in sorted(fell)])
        if due:
            conn.execute(update(orion_meta).where(orion_meta.c.key.in_([_key(mode, v) for v in due]))
                         .values(value=stamp))
        if cleared:
            conn.execute(delete(orion_meta).where(orion_meta.c.key.in_([_key(mode, v) for v in cleared])))
    return fell | due


def clear_low(db: Database, mode: str, venue: str) -> None:
    """Forget that ``venue`` was seen low: its ``balance.low`` alert was not delivered, so the next look
    that finds it low alerts again rather than taking the fall as already told."""
    with db.write() as conn:
        conn.execute(delete(orion_meta).where(orion_meta.c.key == _key(mode, Venue(venue))))
