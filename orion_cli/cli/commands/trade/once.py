"""One ``orion trade OP_ID``: from the stored opportunity to a preview, or through the executor to an outcome.

What a single trade refuses before the executor starts (a halt, a disabled venue, another execution left
unfinished on its markets) is refused here, audited, with its own exit code; a used key is reported or
resumed, never planned again. Once the executor has started, its recorded outcome decides the exit code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orion_cli.cli.commands.market_data import announce, open_source, source_flags
from orion_cli.cli.commands.trade.data import (
    ReplaySource,
    data_flags,
    fresh_books,
    is_recorded,
    refuse_live_on_recorded,
    refuse_other_data,
)
from orion_cli.cli.commands.trade.gate import gate_notes, mode_before_gate, run_gate, stop_after_gate
from orion_cli.cli.commands.trade.plan import pipeline_context, plan_and_balances, preview_verdict
from orion_cli.cli.commands.trade.records import (
    audit_trade_refusal,
    driven_now,
    existing_execution,
    halt_now,
    ignored_size,
    interrupted_at,
    markets_of,
    unfinished_executions,
)
from orion_cli.cli.commands.trade.say import (
    halted_refusal_hint,
    raise_for_result,
    reconcile_flags,
    render_execution,
    render_plan,
    say_breaker_tripped,
    say_breaker_warnings,
    say_reset_change,
    shown_plan_record,
)
from orion_cli.cli.commands.trade.sizing import default_key, size_within_limits
from orion_cli.cli.commands.trade.venues import VenueSet, register_markets
from orion_cli.cli.context import AppContext
from orion_cli.cli.output import Column
from orion_cli.cli.stopping import StopFlag, flush_alerts, pause_point
from orion_cli.cli.streams import unwritten
from orion_cli.core.errors import AuthError, NotFound, OrionError, Refused, StorageError

if TYPE_CHECKING:
    from orion_cli.cli.live_venues import LazyStore
    from orion_cli.core.alert_sink import AlertSink
    from orion_cli.core.alerts import LowBalanceWatch
    from orion_cli.core.config import Settings
    from orion_cli.core.gate import Authorization
    from orion_cli.core.models import Market, OrderBook, Venue
    from orion_cli.core.opportunity import Opportunity
    from orion_cli.execution.executor import ExecutionResult
    from orion_cli.execution.plan import TradePlan
    from orion_cli.execution.state import ExecStatus
    from orion_cli.risk.halt import HaltStatus
    from orion_cli.venues.base import MarketSource
    from orion_cli.venues.trading import Balance, TradingVenue


async def _require_exchange_trading(built: Mapping[Venue, TradingVenue], key: str | None = None) -> None:
    """An exchange in maintenance rejects a Kalshi order: found out before anything is sent.

    For a fresh trade that is before the first leg, not after the other leg has filled and must be
    unwound. For a resumed one (``key``) it keeps a temporary pause from turning the hedge into an
    unwind at a loss: the execution stays where it stopped, to be resumed once the exchange trades.
    """
    from orion_cli.core.errors import VenueUnavailable
    from orion_cli.core.models import Venue

    require_trading = getattr(built.get(Venue.KALSHI), "require_trading", None)
    if require_trading is None:
        return
    try:
        await require_trading()
    except VenueUnavailable as exc:
        if key is not None:
            exc.hint = (f"nothing was sent; execution {key} stays where it stopped: run the same command again "
                        "once the exchange trades")
        raise


def _first_refusal(failures: Sequence[BaseException]) -> BaseException | None:
    """Which of the failures of a live trade's reads before its first order ends it: a stop or
    cancellation first, then a geoblock (exit 6), then a credentials refusal (exit 4), then the rest
    (an exchange not trading, exit 5), each kind in the order given. Both refusals stop a watch, where
    an outage is waited out: an outage beside one must not hide it."""
    from orion_cli.venues.trading import Geoblocked

    def rank(exc: BaseException) -> int:
        if not isinstance(exc, Exception):
            return 0
        return 1 if isinstance(exc, Geoblocked) else 2 if isinstance(exc, AuthError) else 3

    return min(failures, key=rank, default=None)


class StoppedBeforeSending(Exception):
    """A stop (Ctrl-C, SIGTERM, SIGHUP) came while the trade was still being prepared: nothing is sent."""


async def execute_plan(app: AppContext, venues: VenueSet, source: MarketSource, op: Opportunity, size: Decimal | None,
                       key: str, auth: Authorization, alerts: AlertSink, *, resume: bool = False,
                       resume_to: frozenset[Venue] = frozenset(),
                       low_balance: LowBalanceWatch | None = None, size_given: bool = False,
                       stopped: Callable[[], bool],
                       decided: Callable[[], None] = lambda: None,
                       watch: bool = False) -> tuple[TradePlan | None, ExecutionResult]:
    """Plan and execute ``op``, or with ``resume`` finish or report execution ``key`` (``resume_to``: the
    venues the resume may send to next). ``stopped``: asked just before the executor starts; a stop
    requested while books were read and checks prepared raises :class:`StoppedBeforeSending`.
    ``decided``: called as the executor returns (its outcome committed), before the balances read
    after the fills: a stop during that read is one after the outcome, not an interrupted trade.
    ``watch``: the watch's execution, whose plan must earn trading.min_profit (:func:`pipeline_context`)."""
    from orion_cli.execution.executor import Executor
    from orion_cli.risk.breaker import Breaker
    from orion_cli.store.ledger import Ledger

    settings = app.settings()
    mode = auth.mode
    db = app.db()
    ledger = Ledger(db, mode, reset_hour_utc=settings.breaker.reset_hour_utc)
    executor: Executor | None = None
    try:
        built = venues.build()
        breaker = Breaker(db, settings, mode=mode, ledger=ledger, alerts=alerts)

        async def read_book(venue: Venue, market_id: str) -> tuple[Market, OrderBook]:
            # The executor reads a book only to see whether a hedge retry can still fill at its limit,
            # a limit priced with the plan's fees: a Kalshi series or event that fails to answer now
            # must not make it give up and sell the filled first leg back (with_fees=False).
            return await source.book(market_id, venue=venue, with_fees=False)

        executor = Executor(db, ledger, built, settings, mode=mode, alerts=alerts, breaker=breaker,
                            books=read_book, source_flags=data_flags(source))
        if resume:
            # Only when Kalshi gets the next order: a paused Kalshi must not hold up a Polymarket
            # hedge. Geoblock is not asked: Polymarket's submit asks it before every order, and a
            # blocked host must still be able to hedge or unwind on Kalshi.
            from orion_cli.core.models import Venue as V

            if mode == "live" and V.KALSHI in resume_to:
                await _require_exchange_trading(built, key)
            if stopped():
                raise StoppedBeforeSending
            resumed = await executor.resume(key)
            decided()
            return None, resumed
        plan, balances = await plan_and_balances(app, venues, source, op, size, key, write=True,
                                                 size_given=size_given)
        if low_balance is not None:
            low_balance.check(balances)  # alerted on the way down, before the BALANCE check may refuse
        register_markets(built, plan)
        if mode == "live":
            from orion_cli.core.models import Venue as V
            from orion_cli.core.settlement import record_reports

            # The venues' reports anchor the live cash that this trade's fills then move, so the
            # breaker values equity from current cash rather than the last `balance`/`reconcile` run;
            # with them, the held markets the venues have settled since (whose payout they hold). The
            # venue gates refuse before anything is sent: Geoblocked (exit 6), an exchange not trading.
            # All at once: every read between the fresh books and the first order ages the quotes.
            # Each is waited for, so which refusal is shown never depends on which answer came first:
            # a geoblock (exit 6, it stops a watch), then a venue refusing orion's credentials, for the
            # exchange's status or a balance (exit 4, it stops a watch too: a key to fix), before an
            # exchange not trading (exit 5, waited out).
            check_geoblock = getattr(built.get(V.POLYMARKET), "check_geoblock", None)
            outcomes = await asyncio.gather(
                *([check_geoblock()] if check_geoblock is not None else []), _require_exchange_trading(built),
                record_reports(ledger, built, balances, warn=app.out.warn), return_exceptions=True)
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            first = _first_refusal([*failures, *venues.rejected.values()])
            if first is not None:
                raise first
        ctx = pipeline_context(settings, mode, True, auth.how, balances, breaker, source=source, watch=watch)
        if stopped():
            raise StoppedBeforeSending
        # The configuration this execution's checks judge under, when the ledger's newest config.loaded
        # is another's (a read when it is not): after every usage error, before execution.requested, and
        # for each execution of a watch, which another process's record may have come between.
        app.record_config(db, mode, each_time=True)
        result = await executor.execute(plan, ctx)
        decided()
        if low_balance is not None and any(o.filled_size > 0 for o in result.orders):
            await _low_after_fills(low_balance, built, {o.venue for o in result.orders if o.filled_size > 0})
        return plan, result
    except StorageError as exc:
        if executor is not None and executor.interrupted is not None:
            _left_unfinished(app, exc, executor.interrupted, op.id, mode, data_flags(source))
        raise
    finally:
        await venues.aclose()


LOW_AFTER_FILLS_TIMEOUT = 10.0  # seconds: the balances read after an execution, for balance.low only


async def _low_after_fills(low_balance: LowBalanceWatch, built: dict[Venue, TradingVenue],
                           venues: set[Venue]) -> None:
    """``balance.low`` for a venue this execution's own fills took below ``alerts.low_balance``: checked
    before it only, such a fall waited for the next trade. The execution is decided and recorded: a
    balance that cannot be read now is skipped (the next look sees it), never an error of the trade."""
    from orion_cli.core.errors import OrionError

    async def read(tv: TradingVenue) -> Balance | None:
        try:
            return await asyncio.wait_for(tv.balance(), LOW_AFTER_FILLS_TIMEOUT)
        except (OrionError, TimeoutError) as exc:
            logging.getLogger(__package__).info("balance after the fills not read (%s)", type(exc).__name__)
            return None

    try:
        balances = await asyncio.gather(*(read(built[v]) for v in sorted(venues, key=lambda v: v.value)
                                          if v in built))
        low_balance.check(balances)
    except Exception as exc:  # an alert problem never fails a trade whose outcome is decided
        logging.getLogger(__package__).warning("low-balance check after the fills failed (%s)", type(exc).__name__)


def trade_once(app: AppContext, secrets: LazyStore, op_id: str, size: Decimal | None, confirm: bool, live: bool,
               authorize_live: bool, key: str | None, snapshot: Path | None, demo: bool) -> None:
    from orion_cli.cli.commands.market_data import run
    from orion_cli.cli.prompts import confirm as ask_confirm
    from orion_cli.cli.prompts import interactive
    from orion_cli.store import opportunities as store
    from orion_cli.store.tables import plain

    settings = app.settings()
    out = app.out
    size_given = size is not None  # the operator's --size: one below the legs' size step is a usage error
    pre_mode, pre_authorized, pre_how, gate_refuses = mode_before_gate(live, authorize_live)
    refuse_live_on_recorded(pre_mode, authorize_live, snapshot, demo)
    # An opportunity id names a row of a ledger that exists: a missing one is a mistyped --db or
    # ORION_HOME (exit 3), never created here (a `halt` there would then "succeed" and stop nothing).
    try:
        op, scanned_from = store.load(app.db(existing=True), op_id)
    except NotFound as exc:  # the scan to run is of the same data: without the flags it reads the live venues
        exc.hint = f"run `orion scan{source_flags(snapshot, demo)}` and use an id from its output"
        raise
    key = key or default_key(op.id)
    # A used key is reported or resumed from its stored plan: neither today's books nor today's
    # limits size or judge it then.
    prior = existing_execution(app, key)
    refuse_other_data(op, scanned_from, prior, snapshot, demo, pre_mode,  # a usage error: nothing written
                      asked_live=live or authorize_live)
    resuming = prior is not None
    if not confirm:  # --confirm says them at the gate; a preview must not stay silent on them
        for note in gate_notes(app, live, authorize_live):
            out.warn(note)
    # A resume may still have to finish (or unwind) on a venue disabled since: neither refuses it.
    disabled = None if resuming else _refuse_disabled_venues(app, op, settings, key=key, mode=pre_mode,
                                                             confirm=confirm, recorded=is_recorded(snapshot, demo))
    beside = None if resuming else _unfinished_beside(app, op, key, pre_mode, source_flags(snapshot, demo),
                                                      confirm=confirm)
    blocking = disabled or beside  # --confirm's first refusal, which the preview ends with
    if confirm and not resuming:  # a resume may still finish (or sell back) what a halted execution holds
        _refuse_while_halted(app, op, key, pre_mode)
    if store.is_expired(op) and not resuming:  # said once the books will be read (not before a refusal)
        out.info(f"opportunity {op.id} expired at {op.expires_at:%Y-%m-%d %H:%M:%S}Z; re-reading the books "
                 "(STALE_QUOTE / EDGE_GONE decide)")
    source = open_source(app, snapshot, demo)
    if is_recorded(snapshot, demo):
        announce(app, source)
        source = ReplaySource(source)
    leg_venues = [leg.venue for leg in op.legs]
    unfit = False  # nothing fits the limits: the preview shows the scanned size, never offers it
    if size is None and not resuming and is_recorded(snapshot, demo):
        # Sized here, where the legs' markets (their size steps, asked for only when a limit cuts the
        # scanned size) cost no request: so that --confirm is refused before the gate when nothing fits.
        # On the live books no request precedes the gate: the plan sizes it on the fresh markets
        # (plan_and_balances), and the checks refuse what does not fit.
        limited = size_within_limits(op, settings,
                                     lambda: [m for m, _ in run(lambda: fresh_books(source, op)).values()])
        if limited.size is None:
            why = limited.unfit_note(op.id)
            if confirm:
                audit_trade_refusal(app, limited.reason, why, key=key, op=op, mode=pre_mode)
                raise Refused(why, reason=limited.reason)
            # The preview plans the scanned size all the same, as for any plan a check refuses: the
            # checks on the fresh books say which limit refuses and by how much (the size it allows could
            # be below a market's minimum, and INVALID_ORDER would hide the limit), exit 0. Never sent:
            # --confirm is refused above, and the preview does not offer to place it.
            size, unfit = op.size, True
            out.info(f"{why}; planning the scanned size {plain(size)} to show the checks")
        else:
            size = limited.size
            if limited.binding is not None:
                out.info(limited.cut_note())

    if not confirm and prior is not None:
        if not _preview_used_key(app, prior, op, pre_mode, gate_refusal=pre_how if gate_refuses else None,
                                 size=size):
            return
    elif not confirm:
        venues = VenueSet(app, pre_mode, source, leg_venues, secrets)

        async def preview() -> tuple[TradePlan, dict[Venue, Balance | None]]:
            try:
                return await plan_and_balances(app, venues, source, op, size, key, write=False,
                                               size_given=size_given)
            finally:
                await venues.aclose()

        plan, balances = run(preview)
        ctx = pipeline_context(settings, pre_mode, pre_authorized, pre_how, balances, preview=True, source=source)
        verdict = preview_verdict(app, plan, ctx)
        render_plan(app, plan, pre_mode, verdict, blocking=blocking)
        say_reset_change(app, pre_mode)
        # Offered only for a plan --confirm would place: NOT_AUTHORIZED is what the gate, next, decides,
        # unless it refuses whatever is typed (half a pair, which the verdict has just said).
        refused = any(not c.passed and c.name != "NOT_AUTHORIZED" for c in verdict.checks)
        if blocking or refused or unfit or gate_refuses or not (interactive() and not out.machine):
            return
        if not ask_confirm("Place these orders?", default=False):
            out.info("nothing placed")
            return

    venues = VenueSet(app, pre_mode, source, leg_venues, secrets)
    auth = run_gate(app, live=live, authorize_live=authorize_live, venues=venues if pre_mode == "live" or live
                    else None, op=op, notes_said=not confirm, key=key, recorded=is_recorded(snapshot, demo))
    if stop_after_gate(app, auth):
        return
    venues = VenueSet(app, auth.mode, source, leg_venues, secrets)
    from orion_cli.cli.live_venues import alert_sink
    from orion_cli.core.alerts import LowBalanceWatch

    alerts = alert_sink(app, secrets, auth.mode)
    low_balance = LowBalanceWatch(app.settings(), alerts, app.db(), auth.mode)
    # Ctrl-C, SIGTERM or SIGHUP from here on waits until the execution is recorded: stopping between
    # the legs would leave the first one unhedged until someone resumes the key. Once its outcome is
    # decided and recorded (stop.decide(), as the executor returns), a stop only waits for the rest
    # (the alerts, saying the result) and the trade exits with the outcome's code, not 130.
    stop = StopFlag(out)
    stop.install()
    try:
        try:
            with stop.section():
                result = _run_execution(app, venues, source, op, size, key, auth, alerts, low_balance,
                                        stop.stop_before_sending, size_given=size_given, decided=stop.decide)
        except StoppedBeforeSending:
            out.info(f"{stop.reason} before anything was sent: nothing placed")
            raise KeyboardInterrupt from None
        finally:
            flush_alerts(stop, alerts)
        say_breaker_warnings(app, result.breaker_warnings)
        say_breaker_tripped(app, result, auth.mode)
        say_reset_change(app, auth.mode)
        if stop.stopped_after_decided():
            out.info(f"{stop.reason} after the execution was decided and recorded: it ends with its own exit code")
        unwritten_output = out.stdout_failure
        if unwritten_output is not None:  # said even with -q: the caller cannot read what happened on stdout
            from orion_cli.execution.state import FINAL

            ended = result.outcome or result.status  # ended for good (final): a re-run reports it, sends nothing
            said = ("the trade was refused" if result.status == "refused" else
                    f"execution {result.key} ended {ended}; the same command again reports it and sends nothing"
                    if ended in {status.value for status in FINAL} else
                    f"execution {result.key} stopped {ended}, unfinished: the same command again resumes it")
            out.warn(f"{unwritten(unwritten_output)}; {said}")
        # A refusal or failure ends with its own code (as reconcile's drift does); a done execution whose
        # output was lost ends "could not write the output", exit 1, as every command's lost output does.
        raise_for_result(result, reconcile_flags(source_flags(snapshot, demo), auth.mode),
                         lambda: halted_refusal_hint(app, auth.mode))
        if unwritten_output is not None:
            raise unwritten_output
        if stop.requested and not stop.stopped_after_decided():
            out.info(f"{stop.reason}: the execution was finished and recorded first")
            raise KeyboardInterrupt
    finally:
        if stop.decided:  # the exit code is the execution's: a later stop, until the process exits, waits
            stop.hold_until_exit()
        else:
            stop.restore()
        pause_point("trade_end")


USED_KEY_COLUMNS = [Column("key", "key"), Column("opportunity_id", "opportunity"), Column("mode", "mode"),
                    Column("execution_status", "status"), Column("size", "size", "right"),
                    Column("next", "--confirm"), Column("detail", "detail")]


def _preview_used_key(app: AppContext, prior: Mapping[str, Any], op: Opportunity, mode: str, *,
                      gate_refusal: str | None = None, size: Decimal | None = None) -> bool:
    """The preview of a used key: not a fresh plan (today's books and limits do not decide it) but
    what --confirm will do with it (``next``): ``report`` it, ``resume`` it by its stored plan,
    ``unwind`` it (a resume while trading is halted: no further buy is sent, so the filled first leg
    is sold back where a resume after `orion resume` would hedge it), or ``refuse`` (the live gate
    refuses whatever is typed: ``gate_refusal``, its message, is asked first, as --confirm asks the
    gate before it looks at the key; the key is another opportunity's or mode's; another process
    drives it). On a terminal it offers to resume an unfinished one; True when the operator accepts."""
    from orion_cli.cli.prompts import confirm as ask_confirm
    from orion_cli.cli.prompts import interactive
    from orion_cli.core.reconcile import resume_sells_back
    from orion_cli.execution.keylock import driven
    from orion_cli.execution.state import ExecStatus, load_result, sells_back_advice

    out = app.out
    asked = size  # the operator's --size, which the key's stored plan overrides
    status = ExecStatus(prior["status"])
    try:
        size = load_result(prior["plan"]).get("size")
    except (ValueError, TypeError, RecursionError):
        size = None
    if gate_refusal is not None:  # said "report" or "resume", and --confirm then exited 6 at the gate
        after, detail = "refuse", f"refuses it at the live gate (NOT_AUTHORIZED): {gate_refusal}"
    elif prior["opportunity_id"] != op.id or prior["mode"] != mode:
        after, detail = "refuse", "refuses it: the key is another opportunity's or mode's (DUPLICATE)"
    elif status.final:
        after, detail = "report", "reports it; nothing is sent"
    elif driven(app.db(), prior["key"]):
        after, detail = "refuse", "refuses it: another process is driving it (DUPLICATE: in progress)"
    elif (halt := halt_now(app, mode)).halted and resume_sells_back(app.db(), prior["key"], status,
                                                                   prior.get("result")):
        after, detail = "unwind", sells_back_advice(halt)
    else:
        after, detail = "resume", "resumes it by its stored plan: orders already sent are looked up, never sent twice"
    rec = {"type": "used_key", "key": prior["key"], "opportunity_id": prior["opportunity_id"], "mode": prior["mode"],
           "execution_status": status.value, "size": size, "next": after, "detail": detail}
    ignored = ignored_size(app, prior, asked) if after != "refuse" else None
    if ignored is not None:
        rec["size_ignored"] = ignored
    if out.format == "json":  # one array, as a fresh plan's preview is: a script's `.[]` reads both alike
        out.records([rec], USED_KEY_COLUMNS)
    else:
        out.record(rec, USED_KEY_COLUMNS, title="execution under this key")
    afresh = " (another --idempotency-key plans afresh)" if status.final and gate_refusal is None else ""
    used = f"idempotency key {prior['key']} is used by a {prior['mode']} execution of {prior['opportunity_id']} " \
           f"({status.value})"
    if after == "unwind":  # a warning: following the command as before would cost the unwind's loss
        out.warn(f"{used}; {detail}. Nothing was planned or placed")
    else:
        out.info(f"{used}; --confirm {detail}. Nothing was planned or placed{afresh}")
    if after not in ("resume", "unwind") or not (interactive() and not out.machine):
        return False
    # While halted the warning above says why in full; the question (one terminal line) says what yes does.
    question = "Resume it?" if after == "resume" else "Halted: resume it anyway, selling the filled leg back?"
    if ask_confirm(question, default=False):
        return True
    out.info("nothing sent")
    return False


def _refuse_disabled_venues(app: AppContext, op: Opportunity, settings: Settings, *, key: str, mode: str,
                            confirm: bool, recorded: bool) -> str | None:
    """A new execution trades only venues the configuration enables (kalshi.enabled /
    polymarket.enabled): an opportunity scanned before one was disabled, or read from a recording
    that holds it, must not open a position there (that venue's balance, positions and reconcile
    are skipped). With ``confirm`` the refusal is audited (:func:`audit_trade_refusal`) and raised; a
    preview's is returned (None: every venue enabled), to be shown with the plan and its checks and
    exit 0, as every other refusal's preview is (and audited by none). Only on ``recorded`` data: on
    the live books the plan would read the disabled venue's market and book, and a venue is often
    disabled because it is down or blocked, so that preview is refused as --confirm is, before any
    request (an outage's exit 5 would hide the reason)."""
    from orion_cli.core.config import enabled_venues

    enabled = enabled_venues(settings)
    off = sorted({leg.venue.value for leg in op.legs if leg.venue not in enabled})
    if off:
        why = (f"{op.id} trades on {' and '.join(off)}, disabled in the configuration "
               f"({', '.join(f'{v}.enabled = false' for v in off)})")
        if not confirm and recorded:
            return f"{why} (VENUE_DISABLED)"
        if confirm:
            audit_trade_refusal(app, "VENUE_DISABLED", why, key=key, op=op, mode=mode)
        raise Refused(f"{why}; nothing sent", reason="VENUE_DISABLED",
                      hint="enable the venue, or trade an opportunity of the enabled ones")
    return None


def _refuse_while_halted(app: AppContext, op: Opportunity, key: str, mode: str) -> None:
    """A new `--confirm` while the kill switch holds is refused by HALTED (exit 6, audited as the check's
    refusal is) before anything is read: found by a black-box review, a live one printed the banner, read
    both venues' balances with the vault's credentials and audited `live.authorized` first, and with the
    venues down exited 5 where cron reads 6 for "halted". DESIGN §4 puts HALTED first; only the refusals
    decided from the ledger alone come before it (an interrupted execution in the way names how to finish it).
    No `execution` record is printed: as for those, the error record says it."""
    from orion_cli.risk.halt import halted_detail

    st = halt_now(app, mode)
    if st.halted:
        detail = halted_detail(st)
        audit_trade_refusal(app, "HALTED", detail, key=key, op=op, mode=mode)
        raise Refused(f"refused by HALTED: {detail}", reason="HALTED", hint=halted_refusal_hint(app, mode))


def _unfinished_beside(app: AppContext, op: Opportunity, key: str, mode: str, flags: str, *,
                       confirm: bool) -> str | None:
    """Why ``--confirm`` must not start a new execution of ``op`` under ``key`` (None if it may).

    An unfinished execution of ``mode`` under another key that trades any of the same markets (or
    the same opportunity) stands in the way: one interrupted may hold an unhedged leg, and one
    running is still sending; a second position beside it would add to it instead of finishing it.
    Matched by market, not only by id: a scan after a restart gives the same legs a new id.
    Unrelated interrupted executions are named in a warning. Not asked for a used key: resuming one
    is never held back (it is how an interrupted execution is finished). With ``confirm`` the first
    obstacle is raised."""
    from orion_cli.core.reconcile import resume_sells_back
    from orion_cli.execution.state import ExecStatus, resume_advice, resume_command

    mine = {(leg.venue.value, leg.market_id) for leg in op.legs}
    blocking: str | None = None
    halt: HaltStatus | None = None  # asked once, when an execution's resume would sell back while halted
    for e in unfinished_executions(app, mode):
        if e["key"] == key:
            continue
        markets = markets_of(e)  # unknown: it may hold a leg in these markets, so it stands in the way
        same = e["opportunity_id"] == op.id or markets is None or bool(markets & mine)
        if e["running"]:
            if same and blocking is None:
                blocking = (f"execution {e['key']} of {e['opportunity_id']} trades the same markets and is "
                            "running in another process; wait for it to finish")
            continue
        resume = resume_command(e["opportunity_id"], e["key"], mode=e["mode"], source_flags=flags, plan=e["plan"])
        if halt is None:
            halt = halt_now(app, e["mode"])
        sells_back = halt.halted and resume_sells_back(app.db(), e["key"], e["status"], e.get("result"))
        what = interrupted_at(e["key"], e["opportunity_id"], ExecStatus(e["status"]))
        if same and blocking is None:
            blocking = f"{what}; {resume_advice(resume, sells_back=sells_back, first=True, halt=halt)}"
        elif not same:
            app.out.warn(f"{what}; {resume_advice(resume, sells_back=sells_back, halt=halt)}")
    if blocking is not None and confirm:
        audit_trade_refusal(app, "EXECUTION_INTERRUPTED", blocking, key=key, op=op, mode=mode)
        raise Refused(f"not executed: {blocking}", reason="EXECUTION_INTERRUPTED",
                      hint="a new key would trade these markets again beside it")
    return blocking


def _left_unfinished(app: AppContext, exc: OrionError, left: tuple[str, ExecStatus], opportunity_id: str,
                     mode: str, flags: str) -> None:
    """Give ``exc`` (a storage error that stopped an execution after its intents were committed) the hint
    the next trade would give: which execution it left, where, and the command resuming it.

    Why: a database lost mid-trade said only "database error … shutting down" (exit 3), while the ledger
    held the execution at leg1_sent and, live, a leg may be unhedged; only the next trade said so. The
    status is the last this process reached (its own record of it, the database being what failed):
    one whose end could not be recorded is said so."""
    from orion_cli.core.reconcile import resume_sells_back
    from orion_cli.execution.state import resume_advice, resume_command

    key, status = left
    resume = resume_command(opportunity_id, key, mode=mode, source_flags=flags)
    halt: HaltStatus | None = None
    sells_back = False
    try:  # best effort: the database has just failed
        halt = halt_now(app, mode)
        sells_back = halt.halted and resume_sells_back(app.db(), key, status.value, None)
    except Exception:  # the advice without the halt's word, rather than no advice
        halt, sells_back = None, False
    if status.final:  # its end was not recorded: the ledger holds it at the status before
        what = f"execution {key} of {opportunity_id} may not have recorded that it ended {status.value}"
    else:
        what = interrupted_at(key, opportunity_id, status)
    said = f"{what}; {resume_advice(resume, sells_back=sells_back, halt=halt)}"
    exc.hint = f"{said}; {exc.hint}" if exc.hint else said


def _run_execution(app: AppContext, venues: VenueSet, source: MarketSource, op: Opportunity, size: Decimal | None,
                   key: str, auth: Authorization, alerts: AlertSink, low_balance: LowBalanceWatch,
                   stopped: Callable[[], bool], *, size_given: bool = False,
                   decided: Callable[[], None] = lambda: None) -> ExecutionResult:
    """Execute (or resume, or report) the trade under ``key`` and render it. ``decided``: called as
    the executor returns, its outcome committed, before anything is rendered."""
    from orion_cli.cli.commands.market_data import run

    out = app.out
    result: ExecutionResult
    ignored: dict[str, str] | None = None  # a --size the key's stored execution overrides
    prior = existing_execution(app, key)
    if prior is not None:
        if prior["opportunity_id"] != op.id or prior["mode"] != auth.mode:
            used = (f"idempotency key {key} is already used by a {prior['mode']} execution of "
                    f"opportunity {prior['opportunity_id']}")
            audit_trade_refusal(app, "DUPLICATE", used, key=key, op=op, mode=auth.mode)
            raise Refused(used, reason="DUPLICATE", hint="choose another --idempotency-key")
        from orion_cli.execution.executor import venues_resume_may_send_to
        from orion_cli.execution.state import ExecStatus

        status = ExecStatus(prior["status"])
        ignored = ignored_size(app, prior, size if size_given else None)
        if status.final:
            out.info(f"idempotency key {key} was used before ({prior['status']}); reporting it, nothing re-sent")
        elif driven_now(app, key):  # not interrupted: another process is executing it now
            out.info(f"idempotency key {key} is being executed by another orion process (at {prior['status']}); "
                     "waiting a moment for it to end, to report it (refused, exit 6, while it still runs)")
        else:  # interrupted: finish it by its persisted ids (a sent order is looked up, never sent twice)
            from orion_cli.core.reconcile import resume_sells_back

            out.info(f"idempotency key {key} was used before and stopped at {prior['status']}; resuming it: "
                     "orders already sent are looked up, never sent twice")
            if (halt := halt_now(app, auth.mode)).halted and resume_sells_back(app.db(), key, status,
                                                                               prior.get("result")):
                from orion_cli.risk.halt import release_steps

                out.warn("trading is halted: no further buy is sent, so a filled first leg is sold back (up to "
                         f"trading.max_unwind_loss), not hedged; releasing the halt first ({release_steps(halt)}) "
                         "would have let it hedge")
        resume_to = venues_resume_may_send_to(status, prior["plan"], key, app.db().display_url)
        if status is ExecStatus.HALTED and len(resume_to) > 1:  # a sell-back alone goes to one venue only
            from orion_cli.core.reconcile.executions import halted_resume_sells_only_on

            only = halted_resume_sells_only_on(app.db(), key, prior.get("result"),
                                               halted_now=halt_now(app, auth.mode).halted)
            resume_to = frozenset({only}) if only is not None else resume_to
        _, result = run(lambda: execute_plan(app, venues, source, op, size, key, auth, alerts, resume=True,
                                             resume_to=resume_to, stopped=stopped, decided=decided))
        decided()
    else:
        plan, result = run(lambda: execute_plan(app, venues, source, op, size, key, auth, alerts,
                                                low_balance=low_balance, size_given=size_given, stopped=stopped,
                                                decided=decided))
        decided()
        if plan is not None and out.format == "json":  # one document: the plan inside the execution
            out.outcome_first(lambda: render_execution(app, result, shown_plan_record(plan, auth.mode)))
            return result
        if plan is not None:
            out.outcome_first(lambda: render_plan(app, plan, auth.mode,
                                                  result.verdict if result.status == "refused" else None))
    # The outcome is decided and recorded: stdout refusing it (a full disk under `> file`) must not hide it
    # (its exit code, the breaker's HALTED line) behind "could not write the output"; _trade_once says which wins.
    out.outcome_first(lambda: render_execution(app, result, size_ignored=ignored))
    return result


def bind_execute(app: AppContext, venues: VenueSet, source: MarketSource, op: Opportunity, size: Decimal,
                 key: str, auth: Authorization, alerts: AlertSink, low_balance: LowBalanceWatch,
                 stopped: Callable[[], bool]) -> Any:
    """The watch's execution of one opportunity, started by the round when its turn comes."""

    def factory() -> Any:
        return execute_plan(app, venues, source, op, size, key, auth, alerts, low_balance=low_balance, stopped=stopped,
                            watch=True)

    return factory
