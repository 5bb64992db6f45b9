"""The ``orion trade --watch`` loop: the gate once, then rounds until a halt, a breaker trip, a stop or the count.

Each round reads the kill switch first and the breaker at the round's marks before anything is traded,
and the wait between rounds keeps reading the kill switch, so a halt or a trip engaged meanwhile stops
the loop before its next order, never inside an execution.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orion_cli.cli.commands.market_data import announce, open_source, source_flags
from orion_cli.cli.commands.trade.data import ReplaySource, is_recorded, refuse_live_on_recorded
from orion_cli.cli.commands.trade.gate import mode_before_gate, require_ledger_for_live, run_gate, stop_after_gate
from orion_cli.cli.commands.trade.round import LegsKey, WatchRefusal, trade_round
from orion_cli.cli.commands.trade.say import (
    breaker_tripped_hint,
    halt_hint,
    say_breaker_warnings,
    say_reset_change,
    say_undelivered,
    watch_event,
)
from orion_cli.cli.commands.trade.stops import (
    REFUSED_BY_BREAKER,
    TRANSIENT_SECRETS_REASONS,
    WatchStop,
    watch_output_ended,
)
from orion_cli.cli.commands.trade.venues import VenueSet
from orion_cli.cli.context import AppContext
from orion_cli.cli.stopping import StopFlag, flush_alerts
from orion_cli.cli.streams import unwritten
from orion_cli.core.errors import ExitCode, OrionError, SecretsError

if TYPE_CHECKING:
    from orion_cli.cli.live_venues import LazyStore
    from orion_cli.cli.output import Output
    from orion_cli.core.alert_sink import AlertSink
    from orion_cli.core.models import Venue
    from orion_cli.core.opportunity import Opportunity
    from orion_cli.risk.halt import KillSwitch
    from orion_cli.venues.base import MarketSource


WATCH_MISSING_CREDENTIALS_HINT = ("store them with `orion secrets encrypt`, or disable the venue "
                                  "(kalshi.enabled / polymarket.enabled = false)")


def run_watch(app: AppContext, secrets: LazyStore, seconds: float, max_trades: int | None, live: bool,
              authorize_live: bool, snapshot: Path | None, demo: bool) -> None:
    from datetime import UTC, datetime

    from orion_cli.cli.commands.market_data import run
    from orion_cli.cli.commands.scan import pairs_configured, pairs_path, warn_new
    from orion_cli.core.scan import ScanOptions, scan
    from orion_cli.execution.state import UNFINISHED
    from orion_cli.matching.pairs import load_pairs
    from orion_cli.risk.halt import KillSwitch
    from orion_cli.store import opportunities as store

    settings = app.settings()
    from orion_cli.core.config import enabled_venues, no_venue_enabled

    if not enabled_venues(settings):  # each round would fail the same way, for ever
        raise no_venue_enabled(ScanOptions.from_settings(settings).venues)
    pre_mode = mode_before_gate(live, authorize_live).mode
    refuse_live_on_recorded(pre_mode, authorize_live, snapshot, demo)
    require_ledger_for_live(app, pre_mode)
    source = open_source(app, snapshot, demo)
    if is_recorded(snapshot, demo):
        announce(app, source)
        source = ReplaySource(source)
    banner_venues = VenueSet(app, "live", source, enabled_venues(settings), secrets) if pre_mode == "live" else None
    auth = run_gate(app, live=live, authorize_live=authorize_live, venues=banner_venues, op=None,
                    recorded=is_recorded(snapshot, demo))
    if stop_after_gate(app, auth):
        return
    app.record_config(app.db(), auth.mode)  # the configuration the watch trades under (config.loaded)
    if auth.mode == "live":
        # Credentials orion cannot use are no outage to wait out: every round's trade would fail on
        # them (an `error` event a round, for ever). Found now, before the first round, the watch ends
        # as a single trade does (exit 4), whether or not an opportunity would have shown.
        unusable = _unusable_credentials(app, secrets, source, enabled_venues(settings))
        if unusable is not None:
            _end_watch(app, unusable, trades=0, rounds=0)  # raises its error, exit 4
            return
    options = ScanOptions.from_settings(settings)
    curated = load_pairs(pairs_path(app), configured=pairs_configured(app))
    from orion_cli.cli.live_venues import alert_sink
    from orion_cli.core.alerts import LowBalanceWatch

    alerts = alert_sink(app, secrets, auth.mode, watch=True, undelivered=lambda o: say_undelivered(app, o))
    low_balance = LowBalanceWatch(settings, alerts, app.db(), auth.mode)
    switch = KillSwitch(app.db(), sentinel_file=settings.halt.sentinel_file, mode=auth.mode)
    stop = StopFlag(app.out, during="the watch")
    stop.install()
    trades = 0
    rounds = 0
    said: set[str] = set()
    unmarked_said: set[tuple[Venue, str]] = set()  # held positions the rounds could not mark, warned of once
    degraded_said: dict[Venue, str] = {}  # venues whose data the rounds lack, warned of when that begins or ends
    days_said: set[str] = set()  # trading days whose pending change of reset hour was warned of
    refused: dict[LegsKey, WatchRefusal] = {}  # by markets and sides: a refusal audited once (trade_round)
    ended = WatchStop.interrupted(stop.reason)
    app.out.info(f"watching every {seconds:g}s ({auth.mode}); Ctrl-C stops after the execution in flight")
    try:
        while True:
            rounds += 1
            started = time.monotonic()
            halted = _halt_stop(switch)
            if halted is not None:
                ended = halted
                break
            try:
                data = run(lambda: source.fetch(options.venues, with_books=True))
            except OrionError as exc:
                watch_event(app, "scan_failed", exc.message, round=rounds, reason=exc.reason, message=exc.message)
                data = None
            ops: list[Opportunity] = []
            breaker_stop = None if data is None else _breaker_stop_at_marks(app, auth.mode, data, alerts,
                                                                            unmarked_said, days_said)
            if breaker_stop is not None:
                ended = breaker_stop
                break
            if data is not None:
                result = scan(data, curated, settings, options)
                with app.db().write() as conn:
                    # As `scan` does: a watch left running for weeks beside no scan kept every minute's
                    # opportunities for ever (found in a soak).
                    store.prune(conn, older_than=datetime.now(UTC) - store.RETENTION, unfinished=UNFINISHED)
                    store.save(conn, result.opportunities, source=source.name)
                ops = list(result.opportunities)
                warn_new(app.out, result.notes, said)  # a pair never priced: said once, the first round it shows
                _say_degraded(app, data.degraded, degraded_said)
                missing = {v.value: why for v, why in sorted(data.degraded.items(), key=lambda kv: kv[0].value)}
                watch_event(app, "scan", f"round {rounds}: {len(ops)} opportunit{'y' if len(ops) == 1 else 'ies'}"
                            + (f" (no data from {', '.join(missing)})" if missing else ""),
                            round=rounds, opportunities=len(ops), ids=[o.id for o in ops], degraded=missing)
            trades, round_stop = trade_round(
                app, secrets, ops, auth, source, alerts, low_balance, stop, trades, max_trades,
                source_flags=source_flags(snapshot, demo), refused=refused,
                markets=None if data is None else {(m.venue, m.id): m for m in data.markets})
            if round_stop is not None:
                ended = round_stop  # before the flush: a Ctrl-C during it must not replace a halt or refusal
            alerts.flush(0)  # audits, without waiting, the round's alerts that cannot be sent at all
            if round_stop is not None:
                break
            # The stop first: a terminal that hung up (ssh closed) sends SIGHUP, and the writes after it fail
            # (EIO); said as the output failing (exit 1), not as the hang-up (130) it was (found in review).
            if stop.is_requested():
                ended = WatchStop.interrupted(stop.reason)
                break
            if (output_ended := watch_output_ended(app.out)) is not None:
                ended = output_ended
                break
            halted = _sleep(max(0.0, seconds - (time.monotonic() - started)), stop, switch, out=app.out)
            if halted is not None:  # engaged during the wait: the watch stops now, as at a round's start
                ended = halted
                break
            if stop.is_requested():
                ended = WatchStop.interrupted(stop.reason)
                break
    except KeyboardInterrupt:
        if ended.exit_code in (0, int(ExitCode.INTERRUPTED)):  # a safeguard's stop already decided is kept
            ended = WatchStop.interrupted(stop.reason)
    except Exception as exc:  # the error boundary reports it (exit 1 for a bug) once the record is out
        if exc is app.out.stdout_failure and stop.is_requested():  # the hang-up it follows, as above
            ended = WatchStop.interrupted(stop.reason)
        elif exc is app.out.stdout_failure:  # a write outside the watch's stream (say): stopped as its own would
            ended = WatchStop.output_failed(exc)
        elif isinstance(exc, (OSError, typer.Exit, typer.Abort)) or any(
                c.__name__ == "ClickException" for c in type(exc).__mro__):
            raise  # not the output's own failure, nor a command-line exit
        else:
            ended = WatchStop.failed(exc)
    finally:
        try:
            if ended.reason_code == "HALTED":
                _alert_sentinel_halt(switch, alerts, auth.mode)
            flush_alerts(stop, alerts)
        finally:
            # The watch's outcome (its last record and exit code) is decided: a stop from here until the
            # process exits is only noted, as after a single trade. Given back, a stop just after the
            # `stopped` record ended the process 130, or killed it (143, 129) in the interpreter's teardown,
            # where the record said 6 or 0 (found in a black-box run).
            stop.hold_until_exit(said="the watch has stopped (its exit code is decided)")
    _end_watch(app, ended, trades=trades, rounds=rounds)


def _unusable_credentials(app: AppContext, secrets: LazyStore, source: MarketSource,
                          venues: Sequence[Venue]) -> WatchStop | None:
    """Why a live watch cannot trade on ``venues`` with the credentials it has, or None when it can.

    The clients are built as a trade builds them (every credential read, found complete and in its
    form) and closed unused; nothing is sent. A vault another orion process is writing is waited
    out by the rounds, as an outage is."""
    wanted = VenueSet(app, "live", source, venues, secrets)
    try:
        wanted.build()
    except SecretsError as exc:
        if exc.reason in TRANSIENT_SECRETS_REASONS:
            return None
        stop = WatchStop.credentials_refused(exc)
        if exc.reason == "secret_missing":  # the watch trades on every enabled venue, not only one trade's
            stop = dataclasses.replace(stop, hint=WATCH_MISSING_CREDENTIALS_HINT)
        return stop
    finally:
        asyncio.run(wanted.aclose())
    return None


def _end_watch(app: AppContext, ended: WatchStop, *, trades: int, rounds: int) -> None:
    """The ``stopped`` event, then the watch's end: its error (exit 4, 6 or 130) or its exit code."""
    reason = ended.text
    watch_event(app, "stopped", f"{reason}; {trades} trade(s) in {rounds} round(s)", reason=reason, trades=trades,
                rounds=rounds, exit_code=ended.exit_code, reason_code=ended.reason_code)
    if app.out.stdout_closed():  # the event above had no reader; a watch that stops trading is said even with -q
        lost = app.out.stdout_failure
        also = f" ({unwritten(lost)})" if lost is not None and ended.raised is not lost else ""
        app.out.warn(f"watch stopped: {reason}; {trades} trade(s) in {rounds} round(s){also}")
    if not ended.exit_code and app.out.stdout_failure is not None:
        raise app.out.stdout_failure  # the `stopped` record itself was lost: exit 1, as any lost output
    if ended.raised is not None:
        raise ended.raised
    if ended.exit_code in (int(ExitCode.REFUSED), int(ExitCode.AUTH), int(ExitCode.VENUE_UNAVAILABLE),
                           int(ExitCode.CONFIG)):
        raise ended.error()
    if ended.exit_code == int(ExitCode.INTERRUPTED):
        # Ended as a stopped `trade` or `scan --watch` ends: "error: interrupted" (or the signal named)
        # and, when machine-readable, the error record; a bare exit 130 left stderr without a reason.
        raise KeyboardInterrupt
    if ended.exit_code:
        raise typer.Exit(ended.exit_code)


# How often the wait between a watch's rounds reads the kill switch (the database's and the sentinel file).
HALT_POLL_SECONDS = 2.0


def _say_degraded(app: AppContext, degraded: Mapping[Venue, str], said: dict[Venue, str]) -> None:
    """Warn (stderr, kept with -q) when a venue's data goes missing from the rounds and say when it is back:
    once each, not every round. Found in review: with Kalshi down, every round was an empty `scan` event
    and stderr said nothing, so an unattended watch read as "no arbitrage" for as long as the outage lasted.
    Each `scan` event carries ``degraded`` (venue -> why; empty when none)."""
    for venue, why in sorted(degraded.items(), key=lambda kv: kv[0].value):
        if venue not in said:
            app.out.warn(f"{venue.value} data missing ({why}): the rounds cover the other venue only, and "
                         "nothing is traded there, until it answers again")
        said[venue] = why
    for venue in [v for v in said if v not in degraded]:
        del said[venue]
        app.out.info(f"{venue.value} data is back")


def _alert_sentinel_halt(switch: KillSwitch, alerts: AlertSink, mode: str) -> None:
    """Alert a halt held by the sentinel file alone, which stopped this watch. `orion halt` alerts the halt it
    engages; the file is created by hand or by a monitor, and nothing alerted it, while every watch stopped
    on it (found reviewing alerts: the documented emergency path, and the on-call heard nothing)."""
    try:
        st = switch.status(trading=True)
    except OrionError:
        return
    if st.halted and st.kind == "sentinel":
        alerts.emit("halt", f"trading halted by the sentinel file {st.sentinel}: {st.reason}; this trade --watch "
                            "stopped", {"kind": "sentinel", "reason": st.reason, "sentinel": st.sentinel,
                                        "since": st.since, "scope": "all", "mode": mode})


def _halt_stop(switch: KillSwitch) -> WatchStop | None:
    """The watch's stop when the kill switch holds, else None."""
    halt = switch.status(trading=True)  # a paper-only halt does not stop a live watch
    return WatchStop.refused(f"halted: {halt.reason}", "HALTED", halt_hint(halt)) if halt.halted else None


def _sleep(seconds: float, stop: StopFlag, switch: KillSwitch | None = None, *,
           every: float = HALT_POLL_SECONDS, out: Output | None = None) -> WatchStop | None:
    """Wait ``seconds`` or until a stop is asked for; the halt's stop when ``switch`` is found engaged
    meanwhile (read every ``every`` seconds). Found black-box: `orion halt` from another terminal was
    acted on only at the next round, minutes later with a long interval, while `halt` said trading was
    stopped. A read that fails is left to the next round's own check, which says why. ``out``: its
    stream's end stops the wait too (its reader gone: a `| head -1` waited for the next round, which
    fetched every venue's books for no one, found in review)."""

    end = time.monotonic() + seconds
    poll = time.monotonic() + every
    while not stop.is_requested():
        now = time.monotonic()
        left = end - now
        if left <= 0:
            return None
        if out is not None and (ended := watch_output_ended(out)) is not None:
            return ended
        if switch is not None and now >= poll:
            try:
                halted = _halt_stop(switch)
            except OrionError:
                halted = None
            if halted is not None:
                return halted
            poll = time.monotonic() + every
        time.sleep(min(left, 0.1))
    return None


def _breaker_stop_at_marks(app: AppContext, mode: str, data: Any, alerts: AlertSink,
                           unmarked_said: set[tuple[Venue, str]] | None = None,
                           days_said: set[str] | None = None) -> WatchStop | None:
    """Value held positions at the round's books (best bid of the held side) and update the breaker;
    why the watch stops, or None while the breaker lets it trade. A warning the update raises is said
    (:func:`say_breaker_warnings`); so is a held position the round could not mark, valued at cost
    (:func:`_warn_unmarked`), once per market in ``unmarked_said`` (the watch's memory); and a reset hour
    changed while the recorded trading day runs (:func:`say_reset_change`), once per day in ``days_said``.

    The breaker otherwise sees positions at cost, so a market that collapses, or a leg left
    unhedged, would never reach the daily-loss or drawdown limit. A trip made now engages the kill
    switch. A trip already in force needs no halt to refuse every trade: after `orion resume` the
    daily one still does until its reset hour, and the stop says so in the words of a single trade's
    BREAKER refusal, not as a halt that is released.
    """
    from orion_cli.core.accounts import marks_from_books
    from orion_cli.risk.breaker import Breaker
    from orion_cli.store.ledger import Ledger

    settings = app.settings()
    db = app.db()
    ledger = Ledger(db, mode, reset_hour_utc=settings.breaker.reset_hour_utc)
    held = ledger.positions()
    marks = marks_from_books(held, lambda venue, market: data.books.get((venue, market)))
    _warn_unmarked(app, held, marks, data, set() if unmarked_said is None else unmarked_said)
    status = Breaker(db, settings, mode=mode, ledger=ledger, alerts=alerts).update(marks)
    say_breaker_warnings(app, status.warning_messages, watch=True)
    say_reset_change(app, mode, set() if days_said is None else days_said, status.trading_day)
    if status.trips:  # named, with the release, as a trade that trips it says (say_breaker_tripped)
        reset_at = None if status.trading_day is None else status.trading_day.end
        return WatchStop.refused(f"the loss breaker tripped on marked positions ({', '.join(status.trips)})",
                                 "HALTED", breaker_tripped_hint(status.trips, reset_at))
    if status.problems:  # what the BREAKER check of every trade would refuse with
        return WatchStop.refused(f"{REFUSED_BY_BREAKER}{'; '.join(status.problems)}", "BREAKER")
    return None


def _warn_unmarked(app: AppContext, held: Sequence[Any], marks: Mapping[Any, Decimal], data: Any,
                   said: set[tuple[Venue, str]]) -> None:
    """Warn (kept with -q) of each held position the round's books could not mark, which the breaker
    therefore values at cost: its market missing from the round (an item error, a venue down) or its
    side's book unread (a crossed book refused). Once per market per watch (``said``), not every round.
    Found in review: `balance` said "could not mark …" for such a position and the watch said nothing,
    while a loss there was hidden from its breaker."""
    for p in held:
        key = (p.venue, p.market_id)
        if p.size == 0 or (p.venue, p.market_id, p.side) in marks or key in said:
            continue
        said.add(key)
        book = data.books.get(key)
        if book is not None:
            why = book.unread(p.side) or "its side could not be read"
        else:
            why = next((e.message for e in data.errors if e.venue == p.venue.value and e.key == p.market_id),
                       data.degraded.get(p.venue) or "no book for it this round")
        app.out.warn(f"could not mark the held {p.venue.value} {p.market_id} {p.side.value}: {why}; "
                     "the loss breaker values it at cost")
