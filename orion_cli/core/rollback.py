"""A ledger found behind what this machine saw of it: recorded, and its live venues held until reconciled.

Why (found reviewing a ledger behind its venues): restored from last night's backup, the ledger forgot
the orders and fills orion had made since, which the venues still held. Until someone ran `orion
reconcile`, a trade re-run with its idempotency key placed the pair again under new ids, a market's
exposure limit was passed by the forgotten positions, a resumed execution sent an unwind the venue had
already filled (out of another pair's hedge), and ``audit verify`` called the shortened log intact.

So the first command that opens the ledger for writing after the rollback (:func:`notice_rollback`)
records it in the log (``ledger.rolled_back``), and holds each venue the live ledger has traded on as
reconcile holds a venue with drift (:func:`orion_cli.core.settlement.hold_report`): a live trade there
is refused by its BALANCE check, and the resume of an execution sends nothing there
(:func:`orion_cli.core.settlement.rolled_back_venues`), until `orion reconcile --live` of the venue
finds it agreeing or ``--fix`` adopts what the venue holds. A paper ledger's venues are in the ledger
itself, rolled back with it: only recorded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from orion_cli.core.models import Venue
from orion_cli.store.db import Database
from orion_cli.store.seen_head import Behind, SeenHead, behind

log = logging.getLogger(__name__)


def keep_seen(db: Database, directory: Path) -> None:
    """From now on, record in ``directory`` what this process sees committed to ``db``'s log."""
    from orion_cli.store.meta import ledger_id

    db.seen = SeenHead.of(directory, ledger_id(db), db.display_url)


def notice_rollback(db: Database, *, now: datetime | None = None) -> tuple[Behind, list[Venue]] | None:
    """When ``db`` is behind what this machine saw of it: record so, hold its live venues (module doc),
    and return what was found with the venues held. A ledger seen for the first time is only remembered."""
    seen_head = db.seen
    if seen_head is None:
        return None
    seen = seen_head.read()
    if seen is None:
        _remember_head(db, seen_head)
        return None
    with db.read() as conn:
        if behind(conn, seen) is None:
            return None
    from orion_cli.core.settlement import hold_report
    from orion_cli.store.audit import AuditLog
    from orion_cli.store.ledger import Ledger

    now = now or datetime.now(UTC)
    with db.write() as conn:
        seen = seen_head.read() or seen  # another process may have recorded it meanwhile
        found = behind(conn, seen)
        if found is None:
            return None
        live = Ledger(db, "live")
        held = [v for v in Venue if live.balance(v, conn=conn) is not None]
        said = found.said()
        for venue in held:
            hold_report(conn, "live", venue, said, now=now, rolled_back=said)
        event = AuditLog.append(conn, "ledger.rolled_back", {**found.to_record(), "held": [v.value for v in held]},
                                mode="live" if held else "paper", now=now)
    # The log goes on from here: what was seen before is recorded in it, not looked for again.
    seen_head.advance(event.seq, event.hash, reset=True)
    return found, held


def _remember_head(db: Database, seen_head: SeenHead) -> None:
    from orion_cli.store.audit_head import get_head

    with db.read() as conn:
        head = get_head(conn)
    if head is not None and head[0] >= 0:
        seen_head.advance(*head)
