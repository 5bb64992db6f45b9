"""The execution status machine: where a two-leg execution stands, persisted with its audit event.

One row of ``executions`` per idempotency key. Its ``status`` says how far the execution got, so a
re-run after a crash (``Executor.resume``) knows which orders may exist at the venues:

```
intents ─▶ leg1_sent ─▶ leg1_done ─▶ leg2_sent ─▶ hedged ─▶ done
   │            │            │    ▲      │ (retry)     │
   │            │            │    └──────┘             │
   │            ▼            ▼           ▼             │
   └──────▶ failed       unwinding ◀─────┘◀────────────┘ (leftover first leg)
                             │
                             ▼
                          unwound

any non-final status ─▶ halted (kill switch engaged mid-way, or an unwind that failed)
halted ─▶ leg2_sent / hedged / done / unwinding / unwound / failed (a later resume)
```

``refused`` is never persisted: a plan the checks refuse leaves no row, so the same key may be
tried again once the reason is gone (nothing was sent). ``failed`` means no exposure was taken
(the first leg filled nothing, or was never sent before a crash). Final statuses are never left.

:func:`advance` moves the row and appends ``execution.transition`` in the caller's transaction,
so the status and its audit event can never disagree.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from orion_cli.core.errors import NotFound, OrionError
from orion_cli.store.audit import AuditLog, canonical_json, iso_utc
from orion_cli.store.stored import CorruptValue, shown
from orion_cli.store.tables import executions
from orion_cli.venues.trading import TradingError

if TYPE_CHECKING:
    from orion_cli.risk.halt import HaltStatus

# The reject reason of an order cancelled without ever reaching its venue (an intent abandoned or
# superseded, or a submitted order the venue does not know). The executor counts such orders as not
# sent: they use no hedge retry and do not turn the next attempt into a retry. Reconcile uses it too.
NEVER_SENT = "never sent: "
# How long after an order was sent a venue's "not found" is not taken for "never placed": a venue may
# place an order it was sent seconds after the sender stopped hearing (a process killed mid-request, a
# slow gateway). Reconcile leaves such an order pending (its default grace); a resume does not close it.
LATE_LISTING_GRACE = timedelta(seconds=120)
# Client order id prefix of the fills `orion reconcile --fix` records to move the ledger to the venue's
# positions (no venue order): a close made by hand arrives as one of these sells.
ADJUST_PREFIX = "reconcile-adj-"
# Client order id prefix of the orders `orion reconcile --fix` adopts from the venue's own listing: a trade
# made outside orion (by hand on the website) whose fills the venue lists, a close by hand among them.
EXTERNAL_PREFIX = "ext-"


def resume_command(opportunity_id: str, key: str, *, mode: str, source_flags: str = "",
                   plan: str | None = None) -> str:
    """The command that finishes an interrupted execution by its key (nothing sent is sent again).

    A live one needs ``--live`` (the gate then asks for its authorization as usual); a paper one the
    data it was priced from (``--demo`` or ``--snapshot FILE``), or it would read the live books. That
    is the one its stored ``plan`` records (:func:`recorded_source_flags`), else ``source_flags``, the
    data of the command naming it (an execution recorded before orion kept them)."""
    import shlex

    live = " --live" if mode == "live" else ""
    recorded = recorded_source_flags(plan)
    return (f"orion trade {shlex.quote(opportunity_id)} --confirm --idempotency-key {shlex.quote(key)}"
            f"{live}{source_flags if recorded is None else recorded}")


# The key of an execution's stored plan under which the executor records the data flags of the trade
# (``" --demo"``, ``" --snapshot FILE"`` with the path absolute, ``""`` for the live books).
SOURCE_FLAGS = "source_flags"


def recorded_source_flags(plan: str | Mapping[str, Any] | None) -> str | None:
    """The data flags (``" --demo"``, ``" --snapshot FILE"``, ``""``) an execution was traded on, as its
    stored ``plan`` records them; None when it does not (recorded before orion kept them, or unreadable).

    Why: `orion resume` names the command resuming an interrupted paper execution, and has no data
    flags of its own to borrow; resumed on other data than it was traded on, it reads other books."""
    try:
        record = load_result(plan) if isinstance(plan, str) else dict(plan or {})
    except ValueError:
        return None
    flags = record.get(SOURCE_FLAGS)
    if not isinstance(flags, str):
        return None
    if flags in ("", " --demo"):
        return flags
    # A command for the operator to paste: nothing but --snapshot and one (quoted) path, as written.
    import shlex

    try:
        words = shlex.split(flags)
    except ValueError:
        return None
    # The trade records the path absolute; anything else (a flag, a relative path, a line break that
    # would forge a second line of the warning naming it) was not written by orion.
    ok = (len(words) == 2 and flags == f" --snapshot {shlex.quote(words[1])}" and words[1].startswith("/")
          and flags.isprintable())
    return flags if ok else None


# What the command that resumes an interrupted execution does while trading is halted, said wherever
# orion names that command then: a halt lets no further buy out, so the hedge is not bought and the
# filled first leg is sold back at the unwind's bounded loss (README "Kill switch"). Releasing the
# halt first lets the same command hedge it, which may still lock the planned profit.
HALT_SELLS_BACK = "halted: resuming it now sells the filled leg back (up to trading.max_unwind_loss)"


def sells_back_advice(halt: HaltStatus | None) -> str:
    """:data:`HALT_SELLS_BACK`, then what releases the halt first (``halt``: see
    :func:`~orion_cli.risk.halt.release_steps`): the exact command a script must type."""
    from orion_cli.risk.halt import release_steps

    return f"{HALT_SELLS_BACK}; {release_steps(halt)} first"


def halt_sells_back(status: str, result: str | Mapping[str, Any] | None) -> bool:
    """Whether resuming the execution at ``status`` (with its stored ``result``) would buy the hedge if
    trading were not halted, so that a halt turns the resume into selling the filled first leg back.

    Why: the operator is told to run the resume command, and while halted it costs the unwind's loss
    where releasing the halt first would hedge. Not so when nothing was sent (``intents``: the resume
    ends it failed), when it is hedged, nor when it buys nothing either way (the executor's
    ``no_more_buys``): its unwind had begun (``unwinding``, or an unwind intent recorded), or a halt for
    dust told the operator to close those shares by hand. A result that cannot be read is taken as
    one that would hedge: the warning is then the safe side."""
    if status not in (ExecStatus.LEG1_SENT, ExecStatus.LEG1_DONE, ExecStatus.LEG2_SENT, ExecStatus.HALTED):
        return False
    try:
        record = load_result(result) if isinstance(result, str) else dict(result or {})
    except ValueError:
        return True
    intents = record.get("intents")
    if isinstance(intents, Mapping) and any(str(tag).startswith("u") for tag in intents):
        return False
    return not (record.get("dust_accepted") or (record.get("dust") if status == ExecStatus.HALTED else None))


def resume_advice(command: str, *, sells_back: bool, first: bool = False, halt: HaltStatus | None = None) -> str:
    """How to finish an interrupted execution: "resume it with `command`", or while halted (when it
    would sell back: :func:`~orion_cli.core.reconcile.resume_sells_back`) what resuming does then, and
    to release the halt before the command (``halt``: the halt, for its exact release). ``first``: it
    stands in the way of a new trade ("resume it first with").

    Why the command comes last: "--confirm would sell …" read beside a trader's own --confirm (a new
    trade refused because of this one) named the wrong command."""
    if sells_back:
        return f"{sells_back_advice(halt)}, then resume it with `{command}` to hedge it"
    return f"resume it{' first' if first else ''} with `{command}`"


class ExecStatus(StrEnum):
    INTENTS = "intents"  # plan checked, execution and both intents committed; nothing sent
    LEG1_SENT = "leg1_sent"  # the first leg may be at the venue
    LEG1_DONE = "leg1_done"  # the first leg is terminal and filled something
    LEG2_SENT = "leg2_sent"  # a second-leg order (or a retry) may be at the venue
    HEDGED = "hedged"  # equal shares on both venues (dust aside)
    DONE = "done"  # hedged and every order read back
    UNWINDING = "unwinding"  # selling back an unhedged excess
    UNWOUND = "unwound"  # the excess was sold back within the loss bound
    HALTED = "halted"  # stopped with a precise record for reconcile; the kill switch is engaged
    FAILED = "failed"  # ended without taking exposure
    REFUSED = "refused"  # result-only: the checks refused the plan (never persisted)

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset({ExecStatus.DONE, ExecStatus.UNWOUND, ExecStatus.FAILED, ExecStatus.REFUSED})
# As stored: what a crash or a kill can leave behind, for a resume (or reconcile) to finish.
UNFINISHED: tuple[str, ...] = tuple(s.value for s in ExecStatus if s not in FINAL)

TRANSITIONS: Mapping[ExecStatus, frozenset[ExecStatus]] = {
    ExecStatus.INTENTS: frozenset({ExecStatus.LEG1_SENT, ExecStatus.FAILED, ExecStatus.HALTED}),
    ExecStatus.LEG1_SENT: frozenset({ExecStatus.LEG1_DONE, ExecStatus.FAILED, ExecStatus.HALTED}),
    ExecStatus.LEG1_DONE: frozenset({ExecStatus.LEG2_SENT, ExecStatus.HEDGED, ExecStatus.UNWINDING,
                                     ExecStatus.HALTED}),
    ExecStatus.LEG2_SENT: frozenset({ExecStatus.LEG2_SENT, ExecStatus.HEDGED, ExecStatus.UNWINDING,
                                     ExecStatus.HALTED}),
    ExecStatus.HEDGED: frozenset({ExecStatus.DONE, ExecStatus.UNWINDING, ExecStatus.HALTED}),
    ExecStatus.UNWINDING: frozenset({ExecStatus.UNWINDING, ExecStatus.UNWOUND, ExecStatus.HALTED}),
    ExecStatus.HALTED: frozenset({ExecStatus.HALTED, ExecStatus.LEG2_SENT, ExecStatus.HEDGED, ExecStatus.DONE,
                                  ExecStatus.UNWINDING, ExecStatus.UNWOUND, ExecStatus.FAILED}),
}


class IllegalExecutionTransition(TradingError):
    """A bug: the executor tried to move an execution along an edge the machine does not have."""

    reason = "illegal_execution_transition"


def allowed(src: ExecStatus, dst: ExecStatus) -> bool:
    return dst in TRANSITIONS.get(src, frozenset())


def current(conn: Connection, key: str) -> ExecStatus | None:
    row = conn.execute(select(executions.c.status).where(executions.c.key == key)).first()
    return None if row is None else ExecStatus(row.status)


def advance(conn: Connection, key: str, to: ExecStatus, *, mode: str, result: Mapping[str, Any],
            detail: Mapping[str, Any] | None = None, actor: Mapping[str, Any] | None = None,
            now: datetime | None = None) -> ExecStatus:
    """Persist ``to`` (and the whole ``result`` record) plus ``execution.transition``, in ``conn``."""
    now = now or datetime.now(UTC)
    src = current(conn, key)
    if src is None:
        raise NotFound(f"no execution with key {key!r}", reason="execution_not_found")
    if (src is to and src.final) or (src is not to and not allowed(src, to)):
        raise IllegalExecutionTransition(f"execution {key}: {src.value} → {to.value} is not allowed")
    conn.execute(update(executions).where(executions.c.key == key).values(
        status=to.value, result=canonical_json(dict(result)), updated_at=iso_utc(now)))
    payload: dict[str, Any] = {"key": key, "from": src.value, "to": to.value}
    if detail:
        payload.update(detail)
    AuditLog.append(conn, "execution.transition", payload, mode=mode, actor=actor, now=now)
    return to


def save_result(conn: Connection, key: str, result: Mapping[str, Any], *, now: datetime | None = None) -> None:
    """Refresh the ``result`` record without a status change (its facts are audited by the ledger)."""
    conn.execute(update(executions).where(executions.c.key == key).values(
        result=canonical_json(dict(result)), updated_at=iso_utc(now or datetime.now(UTC))))


@contextlib.contextmanager
def decoding(key: str | None, column: str = "plan", where: str = "") -> Iterator[None]:
    """Decoding an execution's stored ``column``: text that is not JSON, or a record missing what every
    orion writes there (``{}`` for a plan), is a damaged ledger naming the execution (exit 3,
    ``storage_corrupt``), not an internal error (a ``JSONDecodeError``, a ``KeyError``: exit 1).

    Checked here, where a command needs the record, not by the column's type as the row is read:
    reconcile reads a damaged result and goes on (it judges that execution's fills at once and
    reports it), and the pipeline's exposure checks name the execution whose plan they cannot read."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as exc:
        if isinstance(exc, OrionError):  # raised by what the block calls, with its own exit code
            raise
        if isinstance(exc, json.JSONDecodeError):
            raise CorruptValue("executions", column, "is not JSON", keys=[{"key": key}] if key else (),
                               where=where) from None
        raise CorruptValue("executions", column, f"is not an execution's {column} ({type(exc).__name__}: "
                           f"{shown(exc.args[0]) if exc.args else ''})", keys=[{"key": key}] if key else (),
                           where=where) from None


def load_result(text: str) -> dict[str, Any]:
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def load_record(text: str) -> dict[str, Any]:
    """An execution's stored plan or result, where a command needs what it holds (inside :func:`decoding`):
    a JSON value that is not an object is damage (``TypeError``), not an empty record (:func:`load_result`
    reads it as one), which failed later on a missing key, an internal error."""
    value = json.loads(text) if text else {}
    if not isinstance(value, dict):
        raise TypeError(f"a JSON {type(value).__name__}, not an object")
    return value
