"""What ``orion trade`` says: the plan and its checks, an execution's outcome, and the hints that go with them.

Kept apart from the deciding code so a single trade and a watch round say the same thing of the same
ending: both take an execution's credentials, geoblock, version and halt endings from these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orion_cli.cli.commands.trade.data import current_time
from orion_cli.cli.context import AppContext
from orion_cli.cli.output import Column
from orion_cli.core.errors import REJECTED_HINT, AuthError, Halted, Refused, VenueError

if TYPE_CHECKING:
    from orion_cli.core.alerts import Outcome
    from orion_cli.execution.executor import ExecutionResult
    from orion_cli.execution.plan import TradePlan, Verdict
    from orion_cli.risk.halt import HaltStatus
    from orion_cli.store.ledger import TradingDay


LEG_COLUMNS = [
    Column("venue", "venue"),
    Column("market", "market"),
    Column("side", "side"),
    Column("size", "size", "right"),
    Column("limit_price", "limit", "right"),
    Column("avg_price", "avg price", "right"),
    Column("cost", "cost", "right"),
    Column("fees", "fees", "right"),
]
PLAN_COLUMNS = [
    Column("opportunity_id", "opportunity"),
    Column("key", "idempotency key"),
    Column("mode", "mode"),
    Column("size", "size (each leg)", "right"),
    Column("cost", "cost", "right"),
    Column("fees", "fees", "right"),
    Column("net_edge", "net edge/ct", "right"),
    Column("quoted_net_edge", "quoted edge/ct", "right"),
    Column("net_profit", "net profit", "right"),
]
CHECK_COLUMNS = [
    Column("verdict", "verdict"),
    Column("name", "check"),
    Column("leg", "leg", "right"),
    Column("detail", "detail"),
]
EXECUTION_COLUMNS = [
    Column("key", "key"),
    Column("status", "status"),
    Column("message", "message"),
]
ORDER_COLUMNS = [
    Column("venue", "venue"),
    Column("market", "market"),
    Column("side", "side"),
    Column("status", "status"),
    Column("size", "size", "right"),
    Column("filled_size", "filled", "right"),
    Column("avg_fill_price", "avg fill", "right"),
    Column("fees", "fees", "right"),
]
WATCH_COLUMNS = [
    Column("ts", "time"),
    Column("event", "event"),
    Column("text", "detail"),
]


def shown_plan_record(plan: TradePlan, mode: str, *, confirm_refused: str | None = None) -> dict[str, Any]:
    rec = plan.to_record()
    rec["mode"] = mode
    rec["confirm_refused"] = confirm_refused
    return rec


def render_plan(app: AppContext, plan: TradePlan, mode: str, verdict: Verdict | None, *,
                blocking: str | None = None) -> None:
    """``blocking``: why --confirm would be refused though the checks pass (an unfinished execution
    of the same markets), said last, where the verdict is read."""
    out = app.out
    # In the record too: a script reading only stdout must learn that every check passing is not enough.
    rec = shown_plan_record(plan, mode, confirm_refused=blocking)
    checks = [c.to_record() for c in verdict.checks] if verdict is not None else []
    if out.machine:
        if out.format == "json":
            out.records([rec, *checks], PLAN_COLUMNS)
        else:
            out.stream(rec, PLAN_COLUMNS)
            for c in checks:
                out.stream(c, CHECK_COLUMNS)
        if blocking is not None:
            out.warn(f"--confirm would be refused: {blocking}; nothing was placed")
        return
    out.record(rec, PLAN_COLUMNS, title=f"plan ({mode})")
    out.records(rec["legs"], LEG_COLUMNS, title="legs (buy, equal shares)")
    if verdict is not None:
        rows = [{**c, "verdict": "pass" if c["passed"] else "FAIL", "leg": "" if c["leg"] is None else c["leg"]}
                for c in checks]
        out.records(rows, CHECK_COLUMNS, title="pre-trade checks")
        failed = verdict.first_failure
        if failed is not None:
            out.info(f"would be refused by {failed.name}: {failed.detail}; nothing was placed")
        elif blocking is None:
            out.info("every check passes; nothing was placed (add --confirm to execute)")
    if blocking is not None:
        out.warn(f"--confirm would be refused: {blocking}; nothing was placed")


def render_execution(app: AppContext, result: ExecutionResult, plan: dict[str, Any] | None = None, *,
                     size_ignored: dict[str, str] | None = None) -> None:
    """``plan``: the plan record, which ``--json`` carries inside the execution's one document.
    ``size_ignored``: the --size a re-run of a used key did not use, and the key's recorded size."""
    out = app.out
    rec = result.to_record()
    if plan is not None:
        rec["plan"] = plan
    if size_ignored is not None:
        rec["size_ignored"] = size_ignored
    if out.machine:
        out.record(rec)
        return
    out.record(rec, EXECUTION_COLUMNS, title="execution")
    orders = [o.to_record() for o in result.orders]
    if orders:
        out.records(orders, ORDER_COLUMNS, title="orders")


def breaker_tripped_hint(trips: Sequence[str], reset_at: datetime | None) -> str:
    """The release of a halt the loss breaker engaged, as the exact command: a drawdown trip needs
    --breaker (and, from a script, --yes). Said when a trade trips the breaker, and as the hint of a
    watch that a trip stops. It said "`orion resume` … (`--breaker` after a drawdown trip)", and
    `orion resume` alone was refused for one. A daily-loss trip also refuses every trade (BREAKER) until
    the trading day's reset, the kill switch released or not: said with the reset's date and time
    (``reset_at``: the end of the trading day it tripped in, :func:`daily_reset_at`), as "00:00 UTC"
    alone may be 24 hours away, and a changed reset hour does not move it."""
    from orion_cli.risk.breaker import DAILY, DRAWDOWN, HALT_KIND, reset_text
    from orion_cli.risk.halt import release_command

    kind = HALT_KIND[DRAWDOWN] if DRAWDOWN in trips else None  # trips are the breaker's names, not halt kinds
    hint = f"`orion halt --status` says more, `{release_command(kind)}` releases the kill switch"
    if DAILY in trips:
        when = f"its reset at {reset_text(reset_at)}" if reset_at is not None else "the end of its trading day"
        hint += f"; trades stay refused by the daily-loss breaker until {when}, even once the kill switch is released"
    return hint


def daily_reset_at(app: AppContext, mode: str) -> datetime | None:
    """When ``mode``'s daily-loss trip in force stops refusing trades (the end of the trading day it
    tripped in, as recorded); None when none is, or the state cannot be read (the hint says it without
    the time: the trip is said either way)."""
    from orion_cli.risk.breaker import daily_trip_until

    try:
        return daily_trip_until(app.db(), mode, app.settings().breaker.reset_hour_utc)
    except Exception:  # the trip is said regardless; only its time is left out
        return None


def say_breaker_tripped(app: AppContext, result: ExecutionResult, mode: str) -> None:
    """Say, even with -q, that this trade tripped the loss breaker: its own status (done, or refused by
    BREAKER) and exit code do not tell that every later trade is halted until someone resumes."""
    if not result.breaker_tripped:
        return
    from orion_cli.risk.breaker import DAILY

    reset_at = daily_reset_at(app, mode) if DAILY in result.breaker_tripped else None
    app.out.banner(f"HALTED: the loss breaker tripped ({', '.join(result.breaker_tripped)}); "
                   f"{breaker_tripped_hint(result.breaker_tripped, reset_at)}.")


def say_reset_change(app: AppContext, mode: str, said: set[str] | None = None, day: TradingDay | None = None) -> None:
    """Warn (kept with -q) while ``breaker.reset_hour_utc`` differs from the hour the recorded trading day
    ends at: the change takes effect at that end (:func:`reset_change_warning`). ``day``: the day the
    caller measured (else read now); ``said``: the day keys warned of already (a watch's memory). A
    ledger that cannot be read says nothing here: the command's own reads report it."""
    from orion_cli.risk.breaker import reset_change_warning
    from orion_cli.store.ledger import Ledger

    if day is None:
        try:
            day = Ledger(app.db(), mode, reset_hour_utc=app.settings().breaker.reset_hour_utc).current_day()
        except Exception:
            return
    message = reset_change_warning(day)
    if message is None or (said is not None and day.key in said):
        return
    if said is not None:
        said.add(day.key)
    app.out.warn(message)


def say_breaker_warnings(app: AppContext, warnings: Sequence[tuple[str, str]], *, watch: bool = False) -> None:
    """Say, even with -q, each loss-breaker warning (``breaker.warn_at_pct`` of a limit) an update raised:
    (kind, message) as audited. Alerts are off by default, so the audit event alone reached no one at
    a terminal. In a machine-readable watch also a ``breaker_warning`` event on stdout, with ``kind``
    and ``message``."""
    for kind, message in warnings:
        app.out.warn(f"{message}; at the limit it trips and halts trading")
        if watch and app.out.machine:
            watch_event(app, "breaker_warning", message, kind=kind, message=message)


def say_undelivered(app: AppContext, outcome: Outcome) -> None:
    """A watch's alert that was not delivered: the ``warning:`` line (kept with -q) and, in a
    machine-readable watch, an ``alert_failed`` event on stdout with ``kind`` (the alert's), ``error``,
    ``attempts`` and ``status``, as for a breaker warning."""
    from orion_cli.core.alerts import undelivered_text

    text = undelivered_text(outcome)
    app.out.warn(text)
    if app.out.machine:
        watch_event(app, "alert_failed", text, kind=outcome.kind, error=outcome.error, attempts=outcome.attempts,
                    status=outcome.status, message=text)


HALT_HINT = "`orion halt --status` shows why"


def halt_hint(halt: HaltStatus) -> str:
    """HALT_HINT and the exact release (:func:`~orion_cli.risk.halt.release_hint`): `orion resume --yes`,
    `--breaker` too for a drawdown trip, the sentinel file removed first. Review: a trade refused by a
    manual halt named no release at all (only a drawdown trip or the file did), where a breaker trip's
    refusal names its command."""
    from orion_cli.risk.halt import release_hint

    return f"{HALT_HINT}; {release_hint(halt)}"


def halted_refusal_hint(app: AppContext, mode: str) -> str:
    """The hint of a trade the HALTED check refused: :func:`halt_hint` of the kill switch as it stands
    now; when it cannot be read (or was released meanwhile), HALT_HINT and the ordinary release."""
    from orion_cli.risk.halt import KillSwitch, release_command

    try:
        halt = KillSwitch(app.db(), sentinel_file=app.settings().halt.sentinel_file, mode=mode).status(trading=True)
    except Exception:  # the refusal is said regardless; only the release is the ordinary one
        halt = None
    if halt is None or not halt.halted:
        return f"{HALT_HINT}; `{release_command(None)}` releases it"
    return halt_hint(halt)


def reconcile_flags(source_flags: str, mode: str) -> str:
    """What an `orion reconcile` a trade's message names must carry to read the ledger it traded on: the
    trade's --demo/--snapshot, or --live for a live trade (:func:`~orion_cli.core.command_line.live_flag`)."""
    from orion_cli.core.command_line import live_flag

    return source_flags or live_flag(mode)


def halted_execution_hint(source_flags: str = "") -> str:
    """An execution that halted left an outcome unknown or an unwind unfinished: what reached the venues
    is reconcile's to tell (a single trade and the watch say the same). With the trade's --demo or
    --snapshot, as a bare `orion reconcile` after a trade on recorded data reads the live venues."""
    return f"{HALT_HINT}; `orion reconcile{source_flags}` checks what reached the venues"


# A venue refused orion's credentials for an order: the key, its environment or the clock to fix, as
# every other command's credentials rejection says (REJECTED_HINT), and the check that proves the fix.
CREDENTIALS_REFUSED_HINT = f"{REJECTED_HINT}; `orion secrets check --online` tries them against each venue"


# An order refused for this host's location, where the venue's geoblock answer let the trade start.
GEOBLOCKED_ORDER_HINT = "trade from a location and network the venue permits (datacenter addresses are often blocked)"


def credentials_refusal(result: ExecutionResult) -> AuthError | None:
    """The error (exit 4, reason ``auth``) an execution ends with when a venue refused orion's
    credentials for one of its orders and it then ended without a halt: failed (a first leg, nothing
    placed) or unwound (a hedge, the first leg sold back). A halt stays a halt (exit 6): what it left
    naked comes first. None otherwise."""
    from orion_cli.execution.executor import CREDENTIALS_REFUSED  # loaded already: the execution ran

    if result.outcome not in ("failed", "unwound") or not result.detail.get(CREDENTIALS_REFUSED):
        return None
    what = "execution failed" if result.outcome == "failed" else "the first leg was unwound"
    return AuthError(f"{what}: {result.message}", hint=CREDENTIALS_REFUSED_HINT)


def geoblock_refusal(result: ExecutionResult) -> Refused | None:
    """The refusal (exit 6, reason ``GEOBLOCKED``) an execution ends with when a venue refused one of
    its orders for this host's location (a firewall that lets the geoblock check pass) and it then
    ended without a halt: failed (a first leg, nothing placed) or unwound (a hedge, the first leg sold
    back). A single trade and the watch end on it alike. None otherwise."""
    from orion_cli.execution.executor import GEOBLOCKED  # loaded already: the execution ran

    blocked = result.detail.get(GEOBLOCKED)
    if result.outcome not in ("failed", "unwound") or not blocked:
        return None
    what = "execution failed" if result.outcome == "failed" else "the first leg was unwound"
    return Refused(f"{what}: {blocked[0]['venue']} refused an order from this host: {blocked[0]['reason']}",
                   reason="GEOBLOCKED", hint=GEOBLOCKED_ORDER_HINT)


def version_refusal(result: ExecutionResult) -> VenueError | None:
    """The venue error (exit 5, reason ``ORDER_VERSION_MISMATCH``) an execution ends with when a venue
    refused one of its orders for the order format orion signs (Polymarket's CLOB reporting an order
    version other than 2) and it then ended without a halt. None otherwise."""
    from orion_cli.execution.executor import VERSION_REFUSED  # loaded already: the execution ran

    refused = result.detail.get(VERSION_REFUSED)
    if result.outcome not in ("failed", "unwound") or not refused:
        return None
    what = "execution failed" if result.outcome == "failed" else "the first leg was unwound"
    return VenueError(f"{what}: {refused[0]['reason']}", reason="ORDER_VERSION_MISMATCH",
                      hint="orion signs Polymarket CLOB V2 orders only; check the venue's announcements")


def id_taken_refusal(result: ExecutionResult) -> Refused | None:
    """The refusal (exit 6, reason ``CLIENT_ORDER_ID_TAKEN``) of an execution that failed because the venue
    holds another order under its first leg's client order id (an id used before on the account: another
    ledger, or this one restored from a backup, under the same key). Nothing was placed. None otherwise."""
    from orion_cli.execution.executor import ID_TAKEN  # loaded already: the execution ran

    taken = [r for r in result.detail.get(ID_TAKEN, []) if r.get("tag") == "l1"]
    if result.outcome != "failed" or not taken:
        return None
    return Refused(f"execution failed: {result.message}", reason="CLIENT_ORDER_ID_TAKEN",
                   hint="that order is not this execution's and nothing of it was booked; another "
                        "--idempotency-key sends new ids")


def overfill_refusal(result: ExecutionResult, source_flags: str = "") -> Refused | None:
    """A venue reported fills beyond an order's size that nothing explains (:func:`unexplained_overfill`):
    its fills feed is not to be traded on unseen. ``trade --watch`` stops on it (exit 6, ``VENUE_OVERFILL``);
    found in review, a watch traded on while each round's fills were listed twice, the ledger holding
    twice the contracts the venue did and a phantom loss near the daily limit."""
    from orion_cli.execution.executor import unexplained_overfill

    odd = unexplained_overfill(result.detail)
    if not odd:
        return None
    said = ", ".join(f"{venue} {format(shares.normalize(), 'f')}" for venue, shares in sorted(odd.items()))
    return Refused(f"a venue reported contracts filled beyond an order's count, which its orders never do ({said})",
                   reason="VENUE_OVERFILL",
                   hint=f"`orion reconcile{source_flags}` compares the ledger with the venue; trade again once "
                        "they agree")


# The error record's reason for an execution that sent orders and then halted (an unwind that failed, an
# outcome it could not learn): something may be held unhedged. `HALTED` is a trade refused before anything was
# sent; found in review, a script could tell the two apart only by whether stdout held an execution record.
EXECUTION_HALTED = "EXECUTION_HALTED"


def raise_for_result(result: ExecutionResult, source_flags: str = "",
                     halted_hint: Callable[[], str] | None = None) -> None:
    """Exit codes: done 0; refused, halted, unwound 6; a venue unreachable 5; a venue that refused
    orion's credentials for an order 4 (:func:`credentials_refusal`). A re-run of a used key (nothing
    sent) exits as the execution it reports ended (:attr:`ExecutionResult.outcome`): 0 only for one
    that ended done. ``source_flags``: the trade's --demo/--snapshot, carried by the hints that name
    `orion reconcile`. ``halted_hint``: the hint of a refusal by HALTED (:func:`halted_refusal_hint`)."""
    from orion_cli.venues.trading import OrderStatus

    status = result.outcome
    if status == "done":
        return
    refusal = credentials_refusal(result) or geoblock_refusal(result) or version_refusal(result) or \
        id_taken_refusal(result)
    if refusal is not None:
        raise refusal
    if status == "refused":
        failed = result.verdict.first_failure
        name = failed.name if failed is not None else "REFUSED"
        detail = failed.detail if failed is not None else result.message
        hint = (halted_hint() if halted_hint is not None else HALT_HINT) if name == "HALTED" else None
        raise Refused(f"refused by {name}: {detail}", reason=name, hint=hint)
    if status == "halted":
        raise Halted(f"halted: {result.message}", reason=EXECUTION_HALTED, hint=halted_execution_hint(source_flags))
    if status == "unwound":
        live = " --live" if source_flags == " --live" else ""  # a live trade's (reconcile_flags)
        raise Refused(f"the first leg was unwound: {result.message}", reason="UNWOUND",
                      hint=f"`orion positions{live}` shows what is held")
    unknown = any(o.status is OrderStatus.UNKNOWN for o in result.orders)
    text = result.message.lower()
    if unknown or "unavailable" in text or "unreachable" in text:
        raise VenueError(f"execution failed: {result.message}", reason="venue_unavailable",
                         hint=f"`orion reconcile{source_flags}` resolves orders whose outcome is unknown")
    raise Refused(f"execution failed: {result.message}", reason="NOT_FILLED")


def watch_event(app: AppContext, event: str, text: str = "", **fields: Any) -> None:
    """One line of the watch's stream. Stdout refusing it (a full disk) ends the stream, not the watch's
    work: the loop stops between executions (:func:`watch_output_ended`) and says on stderr what it did."""
    rec: dict[str, Any] = {"type": "watch", "v": 1, "event": event, "ts": current_time(), **fields}
    if app.out.machine:
        app.out.outcome_first(lambda: app.out.stream(rec, WATCH_COLUMNS))
    else:
        app.out.outcome_first(lambda: app.out.stream({**rec, "text": text}, WATCH_COLUMNS))
