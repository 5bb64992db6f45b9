"""One round of ``orion trade --watch``: the opportunities scanned, the best traded within the limits.

A refused opportunity is refused (and audited) once, then skipped while a preview says the same
check would refuse it again, so a watch neither spams the audit log nor retries a refusal for ever.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from orion_cli.cli.commands.trade.data import current_time, fresh_books
from orion_cli.cli.commands.trade.once import StoppedBeforeSending, bind_execute
from orion_cli.cli.commands.trade.plan import pipeline_context, plan_and_balances, preview_verdict
from orion_cli.cli.commands.trade.records import executions_of, halt_now, interrupted_executions
from orion_cli.cli.commands.trade.say import (
    EXECUTION_HALTED,
    WATCH_COLUMNS,
    breaker_tripped_hint,
    credentials_refusal,
    daily_reset_at,
    geoblock_refusal,
    halted_execution_hint,
    halted_refusal_hint,
    overfill_refusal,
    reconcile_flags,
    say_breaker_tripped,
    say_breaker_warnings,
    version_refusal,
    watch_event,
)
from orion_cli.cli.commands.trade.sizing import default_key, short_of_venue_minimum, size_within_limits
from orion_cli.cli.commands.trade.stops import TRANSIENT_SECRETS_REASONS, WatchStop, watch_output_ended
from orion_cli.cli.commands.trade.venues import VenueSet
from orion_cli.cli.context import AppContext
from orion_cli.cli.stopping import StopFlag
from orion_cli.core.errors import ExitCode, OrionError, SecretsError, StorageError

if TYPE_CHECKING:
    from orion_cli.cli.live_venues import LazyStore
    from orion_cli.core.alert_sink import AlertSink
    from orion_cli.core.alerts import LowBalanceWatch
    from orion_cli.core.gate import Authorization
    from orion_cli.core.models import Market, Venue
    from orion_cli.core.opportunity import Opportunity
    from orion_cli.execution.plan import CheckResult, TradePlan
    from orion_cli.venues.base import MarketSource
    from orion_cli.venues.trading import Balance


# The legs an opportunity trades, as (venue, market, side): the same ones come back every round, and
# under a new id after a rescan in a new minute bucket.
LegsKey = tuple[tuple[str, str, str], ...]


def legs_key(op: Opportunity) -> LegsKey:
    """What the watch remembers a refusal by (:class:`WatchRefusal`): not the id, which a rescan renews."""
    return tuple(sorted((leg.venue.value, leg.market_id, leg.side.value) for leg in op.legs))


# How long the watch judges a remembered refusal as a preview does before it lets the trade itself meet
# the checks again. The preview records nothing: live, a held market the venue settled since stays
# counted in the exposure until a trade (or `orion balance`, or reconcile) records the settlement, so a
# skip judged by previews alone could last for ever. One refusal audited per legs per period, not one a round.
REFUSAL_RECHECK_SECONDS = 600.0


@dataclasses.dataclass
class WatchRefusal:
    """A check that refused the watch's trade of some legs (``check``), whether the watch has said (a
    ``skipped`` event) that it skips them while that check would refuse them again, and when (monotonic)
    the trade itself was refused."""

    check: str
    said: bool = False
    at: float = dataclasses.field(default_factory=time.monotonic)


def _still_refused(app: AppContext, secrets: LazyStore, op: Opportunity, size: Decimal, key: str,
                   auth: Authorization, source: MarketSource, check: str) -> CheckResult | None:
    """Whether ``check`` would refuse ``op`` again: its failing result, or None when it would pass or
    this cannot tell (a read failed or refused: the trade itself then meets it and ends as it does).

    The preview's way: the books re-read and the balances read without recording them (as
    ``--confirm`` would read them), then every check in a write transaction rolled back -- the
    writers' lock is held for the checks only, as a preview holds it, and nothing is audited. It
    decides only whether the watch skips: a trade it lets through runs the whole pipeline in its own
    transaction, as ever."""
    from orion_cli.cli.commands.market_data import run

    venues = VenueSet(app, auth.mode, source, [leg.venue for leg in op.legs], secrets)

    async def plan_it() -> tuple[TradePlan, dict[Venue, Balance | None]]:
        try:  # quiet: a skip is said once, not every round
            return await plan_and_balances(app, venues, source, op, size, key, write=False, quiet=True)
        finally:
            await venues.aclose()

    try:
        plan, balances = run(plan_it)
    except OrionError:
        return None
    if venues.rejected:  # a venue refused orion's credentials for a balance: the trade stops the watch on it
        return None
    ctx = pipeline_context(app.settings(), auth.mode, True, auth.how, balances, preview=True, source=source,
                           watch=True)
    verdict = preview_verdict(app, plan, ctx)
    return next((c for c in verdict.checks if c.name == check and not c.passed), None)


def _leg_markets(op: Opportunity, markets: Mapping[tuple[Venue, str], Market] | None,
                 source: MarketSource) -> Callable[[], list[Market]]:
    """The legs' markets for :func:`size_within_limits`: the round's scan data's, or read again."""
    def read() -> list[Market]:
        from orion_cli.cli.commands.market_data import run

        known = markets or {}
        if all((leg.venue, leg.market_id) in known for leg in op.legs):
            return [known[(leg.venue, leg.market_id)] for leg in op.legs]
        return [m for m, _ in run(lambda: fresh_books(source, op)).values()]

    return read


def trade_round(app: AppContext, secrets: LazyStore, ops: Sequence[Opportunity], auth: Authorization,
                source: MarketSource, alerts: AlertSink, low_balance: LowBalanceWatch, stop: StopFlag, trades: int,
                max_trades: int | None, *, source_flags: str = "",
                refused: dict[LegsKey, WatchRefusal] | None = None,
                markets: Mapping[tuple[Venue, str], Market] | None = None) -> tuple[int, WatchStop | None]:
    """Trade the round's opportunities best first; returns (trades, why the watch stops or None).

    None also when a stop was requested (Ctrl-C, SIGTERM, SIGHUP): the loop asks the flag itself.

    An execution of this mode left interrupted (a leg may be unhedged) stops the loop before anything
    is traded, naming the command that resumes it; an opportunity already executed under any key is
    not traded again.

    ``refused`` (the watch's, kept across rounds): the legs a check refused, audited then as every
    refusal is. While that check would refuse them again (:func:`_still_refused`) they are skipped,
    said once, not traded (and audited ``risk.rejected``) again every round: at --watch 1 one
    unchanging limit wrote 86,000 refusals a day. Once it would pass, they are traded again."""
    from orion_cli.cli.commands.market_data import run
    from orion_cli.core.command_line import with_options
    from orion_cli.core.opportunity import not_a_pair
    from orion_cli.core.reconcile import resume_sells_back
    from orion_cli.execution.state import resume_advice, resume_command

    settings = app.settings()
    stuck = interrupted_executions(app, auth.mode)
    if stuck:
        # Skipping it every round would hide it, and trading its legs again (under a new opportunity
        # id after a restart, or another key) would add to it; its key resumes it, never sending twice.
        p = stuck[0]
        resume = resume_command(p["opportunity_id"], p["key"], mode=p["mode"], source_flags=source_flags,
                                plan=p["plan"])
        # A halt engaged since the round's own check (a cron `reconcile --halt-on-drift` during the scan)
        # turns that command into selling the leg back: said, as everywhere the command is named.
        halt = halt_now(app, p["mode"])
        advice = resume_advice(resume, sells_back=halt.halted and resume_sells_back(app.db(), p["key"], p["status"],
                                                                                    p.get("result")), halt=halt)
        watch_event(app, "interrupted_execution", f"{p['opportunity_id']}: execution {p['key']} stopped at "
                    f"{p['status']}; {advice}", opportunity_id=p["opportunity_id"], key=p["key"],
                    status=p["status"], resume=with_options(resume, app.out.command_options))
        return trades, WatchStop.refused(
            f"execution {p['key']} was interrupted at {p['status']}: {advice}",
            "EXECUTION_INTERRUPTED",
            "resume it, then start the watch again; `orion reconcile` lists each one holding a leg unhedged")
    for op in ops:
        if max_trades is not None and trades >= max_trades:
            return trades, WatchStop.finished(f"max trades ({max_trades}) reached")
        if stop.is_requested():
            return trades, None
        if (ended := watch_output_ended(app.out)) is not None:
            return trades, ended
        key = default_key(op.id)
        executed = executions_of(app, op.id)
        prior = [e for e in executed if e["mode"] == auth.mode]
        if prior:  # finished, or being driven by another process now
            watch_event(app, "skipped", f"{op.id}: already executed", opportunity_id=op.id, key=prior[0]["key"],
                        reason="already_executed")
            continue
        if any(e["key"] == key for e in executed):
            # Executed in the other mode under its default key (a paper trade of it beside a live watch): traded
            # here under a key of this mode's. Skipped as "already executed", a live watch lost the trade to a
            # paper drill (found reviewing paper against live); under that key, DUPLICATE would refuse it.
            key = f"{key}-{auth.mode}"
        basket = not_a_pair(len(op.legs))
        if basket is not None:  # every round again would refuse it again
            watch_event(app, "skipped", f"{op.id}: {basket}", opportunity_id=op.id, key=key, reason="INVALID_ORDER",
                        detail=basket)
            continue
        try:  # as a single trade sizes it: the scanned size, or the most the binding limit allows
            limited = size_within_limits(op, settings, _leg_markets(op, markets, source))
        except OrionError as exc:  # the legs' markets could not be read again (none of the round's data)
            watch_event(app, "error", f"{op.id}: {exc.message}", opportunity_id=op.id, key=key, reason=exc.reason,
                        message=exc.message)
            continue
        if limited.size is None:
            why = limited.unfit_note(op.id)
            watch_event(app, "skipped", f"{op.id}: {why}", opportunity_id=op.id, key=key, reason=limited.reason,
                        detail=why)
            continue
        size = limited.size
        short = short_of_venue_minimum(op, size)
        if short is not None:
            watch_event(app, "skipped", f"{op.id}: {short}", opportunity_id=op.id, key=key, reason="INVALID_ORDER",
                        detail=short)
            continue
        legs = legs_key(op) if refused is not None else ()
        if (refused is not None and (known := refused.get(legs)) is not None
                and time.monotonic() - known.at < REFUSAL_RECHECK_SECONDS):
            still = _still_refused(app, secrets, op, size, key, auth, source, known.check)
            if still is not None:
                if not known.said:
                    watch_event(app, "skipped", f"{op.id}: still refused by {known.check}: {still.detail}; skipped "
                                "until it would pass", opportunity_id=op.id, key=key, reason=known.check,
                                detail=still.detail)
                    known.said = True
                continue
        if refused is not None:
            refused.pop(legs, None)
        venues = VenueSet(app, auth.mode, source, [leg.venue for leg in op.legs], secrets)
        try:
            with stop.section():
                _, result = run(bind_execute(app, venues, source, op, size, key, auth, alerts, low_balance,
                                             stop.stop_before_sending))
        except StoppedBeforeSending:
            return trades, None  # nothing of this trade was sent; the loop stops on the request
        except OrionError as exc:
            watch_event(app, "error", f"{op.id}: {exc.message}", opportunity_id=op.id, key=key, reason=exc.reason,
                        message=exc.message)
            if exc.exit_code == ExitCode.REFUSED and exc.reason in ("HALTED", "GEOBLOCKED"):
                # Every later trade would be refused the same way. Ended as `trade --confirm` ends on
                # it (reason, hint): a geoblock is no halt, and `orion halt --status` would say none.
                return trades, WatchStop.refused(exc.message, exc.reason, exc.hint)
            if isinstance(exc, StorageError) and exc.reason == "storage_newer":
                # Another orion upgraded the ledger under this one (nothing was sent): every later round's
                # statements may no longer fit it. Ended as the single trade ends (exit 3).
                return trades, WatchStop.failed(exc)
            if isinstance(exc, SecretsError) and (exc.reason == "vault_rekeyed" or (
                    exc.reason == "wrong_password" and secrets.awaiting_new_password())):
                # Nothing was sent (the vault is read before any order). Unlocked again at its next use with
                # the password its sources give then; one that still gives the old password is waited for a
                # while (LazyStore.awaiting_new_password), then stops the watch (exit 4).
                if exc.reason == "vault_rekeyed":
                    secrets.rekeyed()
                continue
            if isinstance(exc, SecretsError) and exc.reason not in TRANSIENT_SECRETS_REASONS:
                # A venue refused orion's credentials before any order (its balance, the exchange's
                # status), or orion has none it can use (a key removed from the vault since the watch
                # began): every later round would meet the same failure. Ended as that single trade
                # ends (exit 4) and as a refusal of an order ends the watch; an outage (exit 5) is not.
                return trades, WatchStop.credentials_refused(exc)
            continue
        failed = result.verdict.first_failure if result.status == "refused" else None
        if refused is not None and failed is not None:
            refused[legs] = WatchRefusal(failed.name)
        # The watch stream's shape: every line has `v`, `event` and `ts`, an execution as the `watch` events do.
        rec = {**result.to_record(), "v": 1, "event": "execution", "ts": current_time(), "opportunity_id": op.id}
        if app.out.machine:  # stdout refusing it ends the stream; the execution is still counted and said below
            app.out.outcome_first(functools.partial(app.out.stream, rec, WATCH_COLUMNS))
        else:
            watch_event(app, "execution", f"{op.id} {key}: {result.status} — {result.message}", key=key,
                        status=result.status)
        say_breaker_warnings(app, result.breaker_warnings, watch=True)
        say_breaker_tripped(app, result, auth.mode)
        # Every execution that sent an order counts (an unwound one risked money too), not only "done".
        if result.status != "already_done" and result.sent_orders:
            trades += 1
        if result.breaker_tripped:  # a halt, whatever else this round would have ended on
            return trades, WatchStop.refused(f"the loss breaker tripped ({', '.join(result.breaker_tripped)})",
                                             "HALTED", breaker_tripped_hint(result.breaker_tripped,
                                                                            daily_reset_at(app, auth.mode)))
        refusal = credentials_refusal(result)
        if refusal is not None:  # every later order there would be refused alike: even the --max-trades'th
            return trades, WatchStop.credentials_refused(refusal)
        if result.status == "halted":  # raise_for_result's message and hint; a halt, even on the last trade
            return trades, WatchStop.refused(f"halted: {result.message}", EXECUTION_HALTED,
                                             halted_execution_hint(reconcile_flags(source_flags, auth.mode)))
        blocked = geoblock_refusal(result)
        if blocked is not None:  # an order refused for this host's location (a firewall that blocks orders only)
            return trades, WatchStop.refused(blocked.message, blocked.reason, blocked.hint)
        unsigned = version_refusal(result)
        if unsigned is not None:  # an order refused for the format orion signs: so would every later one be
            return trades, WatchStop.venue_refused(unsigned)
        odd = overfill_refusal(result, reconcile_flags(source_flags, auth.mode))
        if odd is not None:  # a fills feed saying what the venue's orders never do: not traded on unseen
            return trades, WatchStop.refused(odd.message, odd.reason, odd.hint)
        if result.status != "already_done" and result.sent_orders and max_trades is not None \
                and trades >= max_trades:
            return trades, WatchStop.finished(f"max trades ({max_trades}) reached")
        if failed is not None and failed.name in ("BREAKER", "HALTED"):  # in a single trade's words
            return trades, WatchStop.refused(f"refused by {failed.name}: {failed.detail}", failed.name,
                                             halted_refusal_hint(app, auth.mode) if failed.name == "HALTED"
                                             else None)
    return trades, None
