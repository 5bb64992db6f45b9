"""The ledger's executions as ``orion trade`` reads them: used keys, unfinished work, the halt.

A trade looks here before it plans: a used key is reported or resumed rather than planned again, and
an execution another run left unfinished on the same markets is named before anything new is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orion_cli.cli.context import AppContext

if TYPE_CHECKING:
    from orion_cli.core.opportunity import Opportunity
    from orion_cli.execution.state import ExecStatus
    from orion_cli.risk.halt import HaltStatus


def executions_of(app: AppContext, opportunity_id: str) -> list[Mapping[str, Any]]:
    """Every execution of one opportunity, under any key (the default one or ``--idempotency-key``)."""
    from sqlalchemy import select

    from orion_cli.store.tables import executions

    with app.db().read() as conn:
        rows = conn.execute(select(executions.c.key, executions.c.mode, executions.c.status)
                            .where(executions.c.opportunity_id == opportunity_id)
                            .order_by(executions.c.created_at)).all()
    return [dict(row._mapping) for row in rows]


def unfinished_executions(app: AppContext, mode: str) -> list[dict[str, Any]]:
    """The executions of ``mode`` not finished, oldest first, each with ``running``: whether a process
    drives it now. One that none drives was interrupted by a crash or a kill, perhaps with a leg
    unhedged (:func:`orion_cli.execution.keylock.unfinished_executions`)."""
    from orion_cli.execution.keylock import unfinished_executions as unfinished

    return unfinished(app.db(), mode)


def interrupted_executions(app: AppContext, mode: str) -> list[dict[str, Any]]:
    """The unfinished executions of ``mode`` no process drives now. Found by key lock, not by
    opportunity id: a restarted scan gives the same legs a new id."""
    return [e for e in unfinished_executions(app, mode) if not e["running"]]


def markets_of(execution: Mapping[str, Any]) -> set[tuple[str, str]] | None:
    """The (venue, market) pairs of an execution's stored plan; None when the plan cannot say (its
    markets are then unknown, and taken to be any)."""
    from orion_cli.execution.state import load_result

    try:
        legs = load_result(execution["plan"]).get("legs")
        return {(str(leg["venue"]), str(leg["market"])) for leg in legs} if isinstance(legs, list) else None
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def existing_execution(app: AppContext, key: str) -> Mapping[str, Any] | None:
    from sqlalchemy import select

    from orion_cli.store.tables import executions

    with app.db().read() as conn:
        row = conn.execute(select(executions.c.key, executions.c.opportunity_id, executions.c.mode,
                                  executions.c.status, executions.c.plan, executions.c.result)
                           .where(executions.c.key == key)).first()
    return None if row is None else dict(row._mapping)


def ignored_size(app: AppContext, prior: Mapping[str, Any], size: Decimal | None) -> dict[str, str] | None:
    """A --size that a re-run of a used key does not use, with the key's recorded size, said as a warning
    (the ``size_ignored`` field of the record): the key's execution is reported, or resumed, by its stored
    plan, and a run that asked for another size must not read the report as a trade of the size it asked."""
    from orion_cli.execution.state import ExecStatus, load_result
    from orion_cli.store.tables import plain

    if size is None:
        return None
    try:
        recorded = Decimal(str(load_result(prior["plan"]).get("size")))
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        recorded = None
    if recorded is not None and recorded.is_finite() and recorded == size:
        return None
    shown = "unknown" if recorded is None or not recorded.is_finite() else str(plain(recorded))
    final = ExecStatus(prior["status"]).final
    app.out.warn(f"--size {plain(size)} ignored: idempotency key {prior['key']} was used for size {shown} "
                 f"({prior['status']}); {'it is reported as it ended' if final else 'it is resumed by its stored plan'}"
                 f", not re-sized; another --idempotency-key plans --size {plain(size)} afresh")
    return {"requested": str(plain(size)), "recorded": shown}


def trading_halted(app: AppContext) -> bool:
    """Whether the kill switch (the database's, or the sentinel file) holds now: a resume then sends no
    further buy, which every message naming a resume command must say (:func:`resume_sells_back`)."""
    return halt_now(app).halted


def halt_now(app: AppContext, mode: str | None = None) -> HaltStatus:
    """The kill switch now (see :func:`trading_halted`), for the exact command that releases it; ``mode``:
    as it stands for that mode's trading (a paper-only halt does not stop live trading)."""
    from orion_cli.risk.halt import KillSwitch

    switch = KillSwitch(app.db(), sentinel_file=app.settings().halt.sentinel_file, mode=mode or "paper")
    return switch.status(trading=mode is not None)


def audit_trade_refusal(app: AppContext, name: str, detail: str, *, key: str, op: Opportunity, mode: str) -> None:
    """A `--confirm` refused by a check decided before the executor's checks (an execution in the
    way, a key another opportunity's, no size within the order limits, a disabled venue) is
    audited ``risk.rejected`` as theirs are: DESIGN §4 wants every refusal's reason code in the audit
    log, and ``orion report`` counts them from there. The pipeline never runs after it (the refusal is
    raised), so it is audited once. A preview audits nothing: its checks run in a rolled-back
    transaction."""
    from orion_cli.execution.executor import audit_refusal
    from orion_cli.execution.plan import CheckResult, sole_venue

    app.record_config(app.db(), mode, each_time=True)  # the limits that refused it (config.loaded)
    audit_refusal(app.db(), CheckResult(name, False, detail), key=key, opportunity_id=op.id, mode=mode,
                  venue=sole_venue(leg.venue for leg in op.legs))


def driven_now(app: AppContext, key: str) -> bool:
    """Whether another process holds execution ``key``'s lock: it is running, not interrupted.

    Why: a second `trade --idempotency-key K` beside a run still executing K said "was used before and
    stopped at leg1_sent; resuming it", of an execution that had stopped nowhere."""
    from orion_cli.execution.keylock import driven

    return driven(app.db(), key)


def interrupted_at(key: str, opportunity_id: str, status: ExecStatus) -> str:
    """"execution KEY of OP was interrupted at STATUS (what may be at the venues)": as a trade it stands in
    the way of says it, and as the trade a storage error stopped says it (:func:`_left_unfinished`)."""
    from orion_cli.execution.state import ExecStatus

    sent = {ExecStatus.INTENTS: "nothing sent yet", ExecStatus.HEDGED: "hedged, not yet read back"}.get(
        status, "a leg may be unhedged")
    return f"execution {key} of {opportunity_id} was interrupted at {status.value} ({sent})"
