"""One reconcile run's state, and the helpers every step of it uses.

A run reads every venue first and then writes in one transaction; the context carries what the steps
share across both (the ledger, the clock, the grace and lookback, ``--fix``, whether a drift halts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, StatementError

from orion_cli.core.alert_sink import AlertSink
from orion_cli.core.config import Settings
from orion_cli.core.errors import AuthError, OrionError, StorageError, venue_cause
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ONE, ZERO
from orion_cli.core.reconcile.results import Drift
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database
from orion_cli.store.ledger import Ledger
from orion_cli.store.tables import MONEY_QUANTUM
from orion_cli.venues.trading import Geoblocked

T = TypeVar("T")

# (venue, market id) → the market's category as the venue states it ("" when it states none).
CategoryLookup = Callable[[Venue, str], Awaitable[str]]


class Unreachable(Exception):
    """A venue call failed: the venue is reported unavailable, the others carry on. ``rejected``: it
    refused our credentials (exit 4: a key to fix, not an outage to wait out); ``geoblocked``: it
    refused this host's location (exit 6, as a trade it refuses so: a host to move, nothing read)."""

    def __init__(self, reason: str, *, rejected: bool = False, geoblocked: bool = False, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rejected = rejected
        self.geoblocked = geoblocked
        self.hint = hint

    @classmethod
    def of(cls, exc: OrionError) -> Unreachable:
        # The cause: the reason is shown as "kalshi unavailable: <reason>" (and so is the exit-5 error).
        return cls(venue_cause(exc), rejected=isinstance(exc, AuthError), geoblocked=isinstance(exc, Geoblocked),
                   hint=exc.hint or "")


async def venue_call(aw: Awaitable[T]) -> T:
    """A venue read; its failure makes the venue unavailable (:class:`Unreachable`). Not a failure of the
    ledger's own database (:class:`StorageError`: busy, damaged, full), which the paper venue reads
    and writes: that is raised as it is and ends the run (exit 3, its reason). Taken for the venue's,
    a busy ledger was "kalshi unavailable: database is busy", exit 5, which a unit counting 5 as an
    outcome (SuccessExitStatus=5 7) let pass, and the metrics said the venue was down."""
    try:
        return await aw
    except StorageError:
        raise
    except OrionError as exc:
        raise Unreachable.of(exc) from exc


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def round_money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def valid_price(price: Decimal | None) -> Decimal | None:
    if price is None or not price.is_finite():
        return None
    p = round_money(price)
    return p if ZERO < p < ONE else None


@dataclass
class RunContext:
    """What every step of one run reads, set once by :func:`~orion_cli.core.reconcile.reconcile_async`."""

    db: Database
    ledger: Ledger
    settings: Settings
    mode: str
    fix: bool
    alerts: AlertSink
    now: datetime  # when the run began: what its grace and lookback judgements are measured from
    # The time as the run goes on (real time, unless a test injects one or a caller fixes ``now``): when
    # it records a fill it learned from the venue. Not ``now``: a report another process read after the
    # run began and before the fill happened would count as holding a fill recorded at ``now``.
    clock: Callable[[], datetime]
    halt_on_drift: bool
    lookback: timedelta
    grace: timedelta
    marks: Mapping[tuple[Venue, str, Side], Decimal]
    actor: dict[str, Any]
    source_flags: str = ""  # paper: the --demo / --snapshot FILE a printed resume command needs
    # How a loss-breaker warning is said to the operator (the command's `warning:` lines, kept with -q).
    warn: Callable[[str], None] | None = None
    # How --fix learns the category of a market the ledger holds none for (categories.learn_categories),
    # and what it learned: what an adoption there records, so the category caps count it.
    category_lookup: CategoryLookup | None = None
    categories: dict[tuple[Venue, str], str] = field(default_factory=dict)

    def category(self, venue: Venue, market: str) -> str:
        """The category ``--fix`` records for what it adopts in ``market`` ("" when not learned)."""
        return self.categories.get((venue, market), "")

    def audit(self, conn: Connection, type_: str, payload: Mapping[str, Any], *, venue: Venue | None,
              market: str | None = None) -> None:
        """Append the run's event, stamped when it is written (``clock``), as the fills it records are. Stamped
        with the run's start (``now``, by which it judges), its events came after, in seq, the fills it recorded
        meanwhile and carried earlier times: `audit tail --since` between the two dropped the events that
        explain those fills (found auditing the log)."""
        AuditLog.append(conn, type_, payload, mode=self.mode, actor=self.actor,
                        venue=venue.value if venue is not None else None, market=market, now=self.clock())


def halt_for_drift(ctx: RunContext, conn: Connection, reason: str,
                   detail: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """Engage the kill switch for ``--halt-on-drift`` in the caller's transaction.

    Returns the ``halt`` alert to send once the transaction is over (after the drift alert it
    follows), or None when trading was already halted: the halt that came first was the one alerted.
    """
    from orion_cli.risk.halt import KillSwitch, read_halt_row, status_of

    # Halted for this mode's trading already: a paper-only halt that this engage widens to live trading is a
    # halt live trading had not had, and is alerted (found reviewing this change: none was).
    was_halted = status_of(read_halt_row(conn), mode=ctx.mode).halted
    KillSwitch(ctx.db, sentinel_file=ctx.settings.halt.sentinel_file, mode=ctx.mode).engage(
        reason, kind="reconcile", actor=ctx.actor, conn=conn, automatic=True)
    if was_halted:
        return None
    return "halt", f"trading halted: {reason}", {"kind": "reconcile", **detail, "mode": ctx.mode, "reason": reason}


def savepoint_fix(ctx: RunContext, conn: Connection, drift: Drift, apply: Any) -> Drift:
    """Run one adoption in a savepoint; a failure leaves the drift reported and unfixed."""
    if not ctx.fix:
        return drift
    try:
        with conn.begin_nested():
            how = apply()
            fixed = replace(drift, fixed=True, fix=how)
            ctx.audit(conn, "reconcile.fixed", {k: v for k, v in fixed.to_record().items() if k != "type"},
                      venue=drift.venue, market=drift.market)
    except OrionError as exc:
        return replace(drift, fix=f"not adopted: {exc}")
    except (StatementError, ValueError, ArithmeticError) as exc:
        # A value the ledger cannot store (the savepoint is rolled back): this drift stays reported and
        # unfixed; the venue's other fixes and its summary are kept. The database itself failing is
        # not this drift's problem: that still ends the run.
        what = unstorable(exc)
        return replace(drift, fix=f"not adopted: {type(what).__name__}: {str(what)[:200]}")
    return fixed


def unstorable(exc: BaseException) -> BaseException:
    """What the ledger could not store, for the drift's message. The database itself failing is not
    one drift's problem: that is raised again and ends the run."""
    if isinstance(exc, DBAPIError):
        raise exc
    return exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
