"""The ``config.loaded`` audit event (DESIGN §7): the configuration a command that acts ran under.

An execution (before its ``execution.requested``), a reconcile, a halt or a resume appends it in a
short write transaction of its own, only when the effective values differ from those the newest
``config.loaded`` of this ledger records (by ``digest``): a cron reconcile every minute does not
flood the log, and every execution's limits can be read from the ``config.loaded`` before it.

The payload holds, for every key, what ``orion config show --sources`` shows (value and source,
masked the same way: a URL's password as ``***``, a value that looks like a key or token not shown)
and the config files read. The digest is SHA-256 of the canonical JSON of the masked values alone
(not their sources), so not even a hash of a secret is recorded. Secrets themselves (the vault's
password, API keys, the alert webhook URL) are never settings and never reach it.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from orion_cli.store.audit import AuditLog, Event, canonical_json
from orion_cli.store.tables import audit_events

if TYPE_CHECKING:
    from orion_cli.core.config import Settings
    from orion_cli.store.db import Database

CONFIG_LOADED = "config.loaded"

_NEWEST = (select(audit_events.c.payload).where(audit_events.c.type == CONFIG_LOADED)
           .order_by(audit_events.c.seq.desc()).limit(1))


def config_payload(settings: Settings) -> dict[str, Any]:
    """``digest``, ``settings`` ({key: {value, source}}, as `config show --sources`) and ``config_files``."""
    from orion_cli.core.config import iter_flat

    flat = list(iter_flat(settings))
    body: dict[str, Any] = {
        "settings": {key: {"value": value, "source": source} for key, value, source in flat},
        "config_files": list(settings.config_files),
    }
    # Of the values alone: two processes with the same limits from different places (--db in cron, the
    # environment for a trader) run under one configuration, and would otherwise record it in turns.
    values = {key: value for key, value, _ in flat}
    digest = hashlib.sha256(canonical_json(values).encode("utf-8")).hexdigest()
    return {"digest": digest, **body}


def record_config_loaded(db: Database, settings: Settings, *, mode: str) -> Event | None:
    """Append ``config.loaded`` unless the newest one in this ledger has the same digest (then None).

    The newest one is read inside the write transaction, under the lock that serialises writers: of two
    processes starting together with one configuration, the second finds the first's event and records
    nothing; the chain never forks, as every append is serialised so."""
    payload = config_payload(settings)
    with db.read() as conn:  # the usual answer, without the writers' lock: the newest one is this one
        newest = conn.execute(_NEWEST).scalar()
    if newest is not None and _digest(newest) == payload["digest"]:
        return None
    with db.write() as conn:
        newest = conn.execute(_NEWEST).scalar()
        if newest is not None and _digest(newest) == payload["digest"]:
            return None
        return AuditLog.append(conn, CONFIG_LOADED, payload, mode=mode)


def _digest(stored: str) -> str | None:
    """The digest a stored payload records; None for one altered into something else (recorded anew)."""
    try:
        value = json.loads(stored)
    except (ValueError, TypeError):
        return None
    digest = value.get("digest") if isinstance(value, dict) else None
    return digest if isinstance(digest, str) else None
