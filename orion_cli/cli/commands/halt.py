"""``orion halt`` and ``orion resume``: the kill switch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.output import Column
from orion_cli.cli.streams import unwritten

if TYPE_CHECKING:
    from orion_cli.cli.stopping import StopFlag
    from orion_cli.core.cancel_open import VenueCancels
    from orion_cli.core.config import Settings
    from orion_cli.core.errors import ConfigError
    from orion_cli.core.models import Venue
    from orion_cli.risk.halt import HaltStatus
    from orion_cli.store.db import Database
    from orion_cli.store.ledger import TradingDay

HALT_COLUMNS = [
    Column("halted", "halted"),
    Column("reason", "reason"),
    Column("kind", "kind"),
    Column("scope", "scope"),
    Column("since", "since"),
    Column("by.user", "user"),
    Column("by.host", "host"),
    Column("by.pid", "pid"),
    Column("sentinel_file", "sentinel file"),
]
# `halt --status` and `resume`: when a daily-loss trip still in force stops refusing trades (null: none).
REFUSES_UNTIL_COLUMN = Column("breaker_refuses_until", "breaker refuses until")


CANCEL_COLUMNS = [
    Column("venue", "venue"),
    Column("order_id", "order id"),
    Column("orion", "orion's"),
    Column("market", "market"),
    Column("side", "side"),
    Column("action", "action"),
    Column("price", "price", justify="right"),
    Column("size", "size", justify="right"),
    Column("filled_size", "filled", justify="right"),
    Column("status", "status"),
    Column("error", "error"),
]


# Secrets errors of the store itself (every venue's the same). Anything else is taken as one venue's
# credentials, so the other venues are still tried: a misreading costs an unlock, never a spared order.
VAULT_PROBLEMS = frozenset({"no_vault", "vault_link_dangling", "locked", "wrong_password", "password_file",
                            "weak_password", "vault_damaged", "vault_version", "vault_busy", "vault_rekeyed",
                            "loose_permissions", "no_keyring", "keyring_error", "keyring_unreadable"})
CANCEL_HINT = "`orion secrets encrypt` the venue's credentials, or disable it (kalshi.enabled / polymarket.enabled)"


def cancel_again(mode: str) -> str:
    """The `orion halt --cancel-open` that retries the cancels where this one ran: in ``mode``'s ledger.

    Why: every retry hint named `orion halt --cancel-open` alone. After `halt --cancel-open --live`
    failed at a venue (exit 5), that command, run as printed where trading.mode is paper, cancelled the
    paper ledger's orders, exited 0 and left the venues' orders resting, in an emergency. The options
    that choose the ledger are repeated: ``--live`` here (harmless where the mode is live anyway, and
    the environment pair may not be set where the hint is read), ``--config``/``--db`` by the output
    (core/command_line)."""
    return "orion halt --cancel-open" + (" --live" if mode == "live" else "")


# What a vault message adds that a halt must not repeat: the halt itself did change the ledger.
_NOTHING_CHANGED = re.compile(r"; nothing was changed(?: by this command)?")


def one_line_reason(reason: str, limit: int) -> tuple[str, list[str]]:
    """The halt reason as the kill switch stores it, and what had to change to make it so.

    A reason is one line on every refused order and status line, of at most ``limit`` characters.
    Refusing one that is not used to refuse the halt itself: `orion halt --reason "$(tail -2 app.log)"`
    in a script exited 2 with trading still on. The halt never waits on its wording, so line breaks,
    tabs and control characters become single spaces (no reason can forge a second status line) and
    a reason too long is cut. Leading and trailing spaces go, so a blank reason is no reason (the
    default one), not an empty line on every refusal.
    """
    changed: list[str] = []
    reason = reason.strip()
    if not reason.isprintable():
        reason = " ".join("".join(ch if ch.isprintable() else " " for ch in reason).split())
        changed.append("line breaks and control characters became spaces")
    if len(reason) > limit:
        changed.append(f"cut to {limit} characters ({len(reason)} given)")
        reason = reason[:limit - 1] + "…"
    return reason, changed


# One word after `orion halt` that names what a user may have meant instead of halting (`orion halt status`):
# refused, NOT halted, rather than stored as the reason of a halt nobody asked for.
_NOT_A_REASON = frozenset({"status", "cancel-open", "live", "reason", "help", "resume"})


def words_as_reason(reason: str, words: list[str]) -> tuple[str, str | None]:
    """The reason to halt with when words follow `orion halt` outside ``--reason``, and the warning to give.

    Why: `orion halt venue outage` (or `-r venue outage`, the reason unquoted) was a usage error, exit 2
    with trading still on, where the command's one job is to stop it. The words are the reason; beside
    ``--reason`` they are its rest, said so. A single word naming an option or `resume` is refused
    instead (:data:`_NOT_A_REASON`)."""
    if not words:
        return reason, None
    if len(words) == 1 and not reason and words[0].lower().lstrip("-") in _NOT_A_REASON:
        word = words[0].lower().lstrip("-")
        meant = "`orion resume`" if word == "resume" else f"`orion halt --{word}`"
        raise typer.BadParameter(f"{words[0]!r} is not an option: did you mean {meant}? To halt with it as the "
                                 f"reason: orion halt --reason {word}", param_hint="REASON")
    joined = " ".join(filter(None, (reason, *words)))
    said = [f"took {joined!r} as the reason: the words beside --reason are the rest of it"] if reason else []
    # Halted all the same (the words may be a reason's), but an option written without its dashes did nothing:
    # `orion halt outage --cancel-open live` cancelled the paper ledger's orders, not the venues'.
    named = sorted({w.lower() for w in words} & {"status", "cancel-open", "live"})
    if named:
        options = " ".join("--" + w for w in named)
        said.append(f"{' and '.join(repr(w) for w in named)} in the reason did nothing; if {options} was meant, "
                    "run it again with the dashes")
    return joined, "; ".join(said) or None


def halt_command(
    ctx: typer.Context,
    words: Annotated[list[str] | None, typer.Argument(
        metavar="[REASON]...", show_default=False,
        help="The reason as words, quoted or not (`orion halt venue outage`); after --reason, the rest of it.")] = None,
    reason: Annotated[str, typer.Option(
        "--reason", "-r", help="Why trading is being halted; stored as one line of at most 500 characters "
                               "(never refused).")] = "",
    status: Annotated[bool, typer.Option("--status", help="Show the kill switch without changing it, and until "
                                                         "when a daily-loss breaker trip refuses trades.")] = False,
    cancel_open: Annotated[bool, typer.Option(
        "--cancel-open", help="After halting, cancel every resting order on the enabled venues (orion's and any "
                              "other the same accounts placed).")] = False,
    live: Annotated[bool, typer.Option(
        "--live", help="With --cancel-open: cancel at the live venues (the vault's credentials) even where "
                       "trading.mode is paper. Cancelling needs no live authorization.")] = False,
) -> None:
    """Engage the kill switch: every order path refuses until `orion resume`.

    The state lives in the database, so every process and host sharing it is halted at once. The halt is
    engaged first, whatever --cancel-open then meets. --cancel-open works on the ledger of this command
    (live when trading.mode is live, with the live environment pair, or with --live; the paper ledger
    otherwise). It exits 5, still halted, when a venue cannot be reached or an order cannot be cancelled
    (4 when credentials were missing or a venue refused them); running it again is safe. A broken
    config.toml (a wrong key of a known section too) only warns, as long as its database section is
    valid (--cancel-open then exits 3; a wrong halt section halts, then exits 3); an unknown section,
    which may be a misspelt database one, or one that cannot be parsed needs the database named:
    `orion --db URL halt`. A ledger that cannot be opened or record the halt
    (unreachable, read-only, damaged) exits 3 saying NOT halted, and names the sentinel file
    (halt.sentinel_file), which still halts every orion configured with it. With alerts enabled, a
    halt this command engages is alerted (kind halt); the vault is then opened without a prompt (an
    alert it cannot send is audited as alert.failed). The ledger must
    exist already (exit 3 otherwise; `orion init` creates one): a mistyped --db, ORION__DATABASE__URL or
    ORION_HOME is not created and halted.

    Example:  orion halt --reason "venue outage" --cancel-open --live   ·   orion halt venue outage   ·
    orion halt --status --json
    """
    from orion_cli.core.errors import StorageError
    from orion_cli.risk.halt import MAX_REASON, KillSwitch

    app = get_app(ctx)
    if status and cancel_open:
        raise typer.BadParameter("--status shows the kill switch; it cancels nothing", param_hint="--cancel-open")
    if status and (reason or words):
        raise typer.BadParameter("--status shows the kill switch; it halts nothing, so it takes no reason",
                                 param_hint="--reason" if reason else "REASON")
    reason, took_words = words_as_reason(reason, words or [])
    reason, cleaned = one_line_reason(reason, MAX_REASON)
    # --status reads the sentinel file: a wrong [halt] key still refuses there (see _to_halt).
    if status:
        settings = app.settings(lenient=True)
        db = app.db(existing=True, read_only=True)  # an archived ledger's too
    else:
        settings, db = _to_halt(app)
    others = [p for p in settings.problems if p not in settings.halt_problems]
    if others:
        where = settings.sources.get("database.url", "default")
        app.out.warn(f"the configuration is invalid: {'; '.join(others)}. The kill switch does not "
                     f"depend on what is wrong: database {db.display_url} (from {where}). Fix "
                     "it before trading (`orion config show` checks it)")
    mode = "live" if live else app.mode()
    switch = KillSwitch(db, sentinel_file=settings.halt.sentinel_file, mode=mode)
    if status:
        st = switch.status()
        tripped = _daily_trip(app, settings, db, mode)
        until = None if tripped is None else tripped.end
        rec = {**st.to_record(),
               "breaker_refuses_until": until}
        app.out.record(rec, [*HALT_COLUMNS, REFUSES_UNTIL_COLUMN],
                       title="kill switch")
        _say_release(app, st)
        _say_daily_trip(app, tripped, mode)
        _say_other_daily_trip(app, settings, db, mode)
        _say_reset_change(app, settings, db, mode)
        return
    asked = reason or "halted from the command line"
    try:
        st = switch.engage(asked)  # first: a flag given wrongly must not keep the kill switch off
    except StorageError as exc:  # busy, full, damaged: say plainly that nothing is halted, and what still can be
        raise _not_halted(exc, _unrecorded_hint(settings, exc)) from None
    app.out.banner(f"HALTED: {st.reason}")
    if took_words:
        app.out.warn(took_words)
    with _halt_alert(app, settings, st, mode):
        _after_engaging(app, settings, st, db, mode, asked=asked, cleaned=cleaned, cancel_open=cancel_open,
                        live=live)
    # Last: nothing may delay the kill switch, its cancels or its alert (review: a write lock taken by
    # another process right after the engage held --cancel-open up to busy_timeout_ms, and a Ctrl-C then
    # lost the alert). Skipped for a configuration loaded with problems.
    app.record_config(db, mode)


def _daily_trip(app: AppContext, settings: Settings, db: Database, mode: str) -> TradingDay | None:
    """The trading day whose daily-loss trip of ``mode`` refuses trades now, until its end (None: none in
    force). Releasing the kill switch does not lift it, so `halt --status` said "halted": false while
    every trade was refused. A breaker state that cannot be read is warned of, never allowed to stand
    between the operator and the kill switch's own status."""
    from sqlalchemy.exc import SQLAlchemyError

    from orion_cli.core.errors import OrionError
    from orion_cli.risk.breaker import daily_trip_day

    try:
        return daily_trip_day(db, mode, settings.breaker.reset_hour_utc)
    except (OrionError, SQLAlchemyError) as exc:
        app.out.warn(f"the loss breaker's state could not be read: {getattr(exc, 'message', None) or exc}")
        return None


def _say_daily_trip(app: AppContext, tripped: TradingDay | None, mode: str) -> None:
    """Said even with -q: trading is refused whatever the kill switch says. The day by when it began: a
    date alone ("today (2026-11-23)") read wrong when the day began at the reset hour yesterday."""
    from orion_cli.risk.breaker import reset_text

    if tripped is not None:
        app.out.warn(f"the {mode} daily-loss breaker tripped in {tripped.began()}: it refuses every {mode} trade "
                     f"(BREAKER) until its reset at {reset_text(tripped.end)}, the kill switch released or not")


def _say_other_daily_trip(app: AppContext, settings: Settings, db: Database, mode: str) -> None:
    """The other mode's daily-loss trip in force, said too (kept with -q): one ledger holds both modes and one
    kill switch, and with trading.mode at paper a trader going live through trade's flags was told nothing of
    the live trip refusing every live trade (found reviewing paper against live)."""
    other = "live" if mode == "paper" else "paper"
    _say_daily_trip(app, _daily_trip(app, settings, db, other), other)


def _say_reset_change(app: AppContext, settings: Settings, db: Database, mode: str) -> None:
    """A changed breaker.reset_hour_utc waiting for the recorded trading day's end, said (kept with -q)."""
    from sqlalchemy.exc import SQLAlchemyError

    from orion_cli.core.errors import OrionError
    from orion_cli.risk.breaker import reset_change_warning
    from orion_cli.store.ledger import Ledger

    try:
        day = Ledger(db, mode, reset_hour_utc=settings.breaker.reset_hour_utc).current_day()
    except (OrionError, SQLAlchemyError):
        return  # said by _daily_trip, which read the same ledger
    message = reset_change_warning(day)
    if message is not None:
        app.out.warn(message)


def _to_halt(app: AppContext) -> tuple[Settings, Database]:
    """The settings and the ledger `orion halt` engages, or an error that says ``NOT halted`` first.

    Why: a ledger that could not be opened (PostgreSQL unreachable, a read-only directory, a file that
    is not a database, one migrated by a newer orion) or a configuration naming no database it could
    trust said only "cannot connect…" (exit 3), as any other command does, where a halt whose database
    would not record it says NOT halted and what still halts: the sentinel file, or the database named
    on the command line. An unreachable database is just when the operator needs that way."""
    from orion_cli.core.errors import ConfigError

    try:
        # A bad edit to config.toml must not stand between the operator and the kill switch: only the
        # database has to be right (see load_settings). Engaging writes the database only, so a wrong
        # [halt] key (the sentinel file) does not stop it; it is an error once the switch is on.
        settings = app.settings(lenient=True, engaging=True)
    except ConfigError as exc:  # the database cannot be told: the command line can name it
        way = "`orion --db URL halt` engages the kill switch on URL, whatever the configuration says of the database"
        hint = exc.hint
        if not app.db_url and "orion --db URL halt" not in (hint or ""):  # named already: its value is wrong
            hint = (f"{hint} Or {way}" if hint.endswith("?") else f"{hint}; or {way}") if hint else way
        raise _not_halted(exc, hint) from None
    try:
        return settings, app.db(existing=True)  # a mistyped --db must not halt a new, empty ledger
    except ConfigError as exc:  # StorageError among them: unreachable, unwritable, foreign, newer, missing
        raise _not_halted(exc, _unrecorded_hint(settings, exc)) from None


def _not_halted(exc: ConfigError, hint: str | None) -> ConfigError:
    """``exc`` (a ConfigError, or a StorageError) saying first that the kill switch is NOT engaged."""
    return type(exc)(f"NOT halted: {exc.message}", hint=hint, reason=exc.reason)


def _say_release(app: AppContext, st: HaltStatus) -> None:
    """A halt the drawdown breaker engaged is released only by `orion resume --breaker --yes` (from a
    script), and a database halt under the sentinel file only once the file is removed (`orion resume`
    refuses while it exists): said under the status, as `orion resume` alone is refused for either."""
    from orion_cli.risk.halt import DRAWDOWN_KIND, PAPER_SCOPE, release_hint

    if not st.halted or st.kind == "sentinel":
        return
    if st.scope == PAPER_SCOPE:
        app.out.info("it halts paper trading only (orion engaged it for a paper trade): live trading is not "
                     "halted by it; `orion halt` halts both")
    if st.kind == DRAWDOWN_KIND:
        app.out.info(f"halted by the drawdown breaker{' and the sentinel file' if st.sentinel else ''}: "
                     f"{release_hint(st)}")
    elif st.sentinel:
        app.out.info(f"halted in the database ({st.kind}) and by the sentinel file: {release_hint(st)}")


def _after_engaging(app: AppContext, settings: Settings, st: HaltStatus, db: Database, mode: str, *, asked: str,
                    cleaned: list[str], cancel_open: bool, live: bool) -> None:
    """Everything `orion halt` does once the switch is on: say so, check [halt], cancel with --cancel-open."""
    if cleaned:
        app.out.warn(f"the reason was stored as shown: {' and '.join(cleaned)}")
    if st.already_halted:  # the first halt is kept (a breaker's kind among it)
        app.out.info(f"already halted since {st.since}; that halt's reason is kept, and this one "
                     f"({asked!r}) is in the audit log")
    _say_release(app, st)  # a drawdown trip kept, or the sentinel file: `orion resume --yes` alone is refused
    if settings.halt_problems:
        from orion_cli.core.errors import ConfigError

        # The configuration's error is the outcome (exit 3), whether or not stdout takes the record.
        app.out.outcome_first(lambda: app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch"))
        raise ConfigError(f"halted in the database {db.display_url}, but the [halt] configuration is wrong: "
                          f"{settings.halt_problems[0]}",
                          hint="fix it, then check the sentinel file with `orion halt --status`" +
                               (f"; --cancel-open cancelled nothing: run `{cancel_again(mode)}` then"
                                if cancel_open else ""),
                          reason="config_invalid")
    if not cancel_open:
        if live:
            app.out.warn("--live only chooses where --cancel-open cancels; the halt stops every mode")
        app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch")
        return
    if settings.problems:  # which venues, at which addresses, in which mode: not from a broken file
        from orion_cli.core.errors import ConfigError

        app.out.outcome_first(lambda: app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch"))
        raise ConfigError(f"halted, but --cancel-open needs a valid configuration: {settings.problems[0]}",
                          hint=f"fix the configuration, then run `{cancel_again(mode)}` again",
                          reason="config_invalid")
    cancels, problems, credentials, unlisted = _cancel_open(app, mode)
    outcomes = [o for r in cancels for o in r.outcomes]
    records = [o.to_record() for o in outcomes]
    if app.out.format == "json":  # one document: the halt, with what was cancelled and where nothing was listed
        app.out.record({**st.to_record(), "cancels": records, "not_listed": unlisted}, HALT_COLUMNS)
    else:
        app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch")
        # A venue that listed nothing is not one with nothing resting (what stderr says may be redirected).
        empty = (f"resting orders not listed on {', '.join(unlisted)}: none cancelled there (see the error)"
                 if unlisted else "no resting orders")
        app.out.records(records, CANCEL_COLUMNS, title=f"resting orders ({mode})", empty=empty)
    done, finished = sum(o.cancelled for o in outcomes), sum(o.finished_first for o in outcomes)
    if done or finished:
        app.out.success(f"{done} resting order(s) cancelled" + (f"; {finished} finished before the cancel "
                                                                 "(see status)" if finished else ""))
    if mode == "live" and any(o.orion for o in outcomes):
        app.out.info("orion's own orders among them get their final state and fills from `orion reconcile`")
    if problems:
        from orion_cli.core.errors import SecretsError, VenueUnavailable

        again = cancel_again(mode)
        message = f"halted, but not every resting order was cancelled: {'; '.join(problems)}"
        hint = f"running `{again}` again is safe"
        if credentials is not None:  # nothing but credentials stood in the way
            reason, fix = credentials
            if reason in VAULT_PROBLEMS:
                # The vault's own hint (as `balance` gives it: unlock it, the right password), not "encrypt
                # the credentials"; and its "nothing was changed" is not this command's: the halt is on.
                message = ("halted (the kill switch is engaged); only cancelling the resting orders failed: "
                           f"{_NOTHING_CHANGED.sub('', '; '.join(problems))}")
                fix = fix or "`orion secrets check` says why the vault does not open"
            raise SecretsError(message, hint=f"{fix or CANCEL_HINT}; then run `{again}` to cancel them",
                               reason=reason)
        if any(r.rejected for r in cancels):  # a revoked or mistyped key: running again changes nothing
            from orion_cli.core.errors import REJECTED_HINT, AuthError

            raise AuthError(message, hint=f"{REJECTED_HINT}; then run `{again}` again")
        raise VenueUnavailable(", ".join(sorted({p.split(":", 1)[0] for p in problems})), message, hint=hint)


@contextmanager
def _halt_alert(app: AppContext, settings: Settings, st: HaltStatus, mode: str) -> Iterator[None]:
    """Alert a halt this command engaged (kind ``halt``, as a reconcile's or an execution's halt is), and
    wait for its delivery (at most 5 s) as the command ends, whatever --cancel-open meets meanwhile:
    after the cancels, which must not wait on the vault's key derivation (nor on a Ctrl-C's alert).

    Why: the issue's alerts go out "on halt", and a halt by hand is the one a team most needs to hear of
    (a cron job's watch stops trading, and nobody at that terminal knows why). A halt that was already
    engaged is not alerted again: the first was. The alert must never stand between the operator and
    the kill switch, so it is built after the switch is on, never asks for the vault's password (a
    vault the non-interactive chain cannot open audits it as ``alert.failed``, as for any command), and
    a configuration with problems only warns that nothing was alerted.
    """
    if st.already_halted or not settings.alerts.enabled:
        yield
        return
    if settings.problems:
        app.out.warn("the halt was not alerted: alerts need a valid configuration (`orion config show` checks it)")
        yield
        return
    from orion_cli.cli.stopping import end_if_stopped

    try:
        yield  # --cancel-open first: a resting order must not wait on the vault's key derivation
    except Exception:
        _send_halt_alert(app, settings, st, mode)  # a stop during its wait: the error's own exit code wins
        raise
    end_if_stopped(_send_halt_alert(app, settings, st, mode), "the halt was engaged and alerted (delivered or "
                                                              "audited)")


def _halted_modes(st: HaltStatus) -> str:
    """Which trading a halt stops, as its alert says it: the alert's mode is the command's (paper where
    trading.mode is), and a person's halt stopping live trading too read as a paper drill to whoever was on
    call (found following the README's first day with real money)."""
    from orion_cli.risk.halt import PAPER_SCOPE

    return "paper trading" if st.scope == PAPER_SCOPE else "trading (paper and live)"


def _send_halt_alert(app: AppContext, settings: Settings, st: HaltStatus, mode: str) -> StopFlag:
    """The halt's alert (kind ``halt``): who halted, and why."""
    by = st.by or {}
    return _send_alert(app, settings, mode, "halt", f"{_halted_modes(st)} halted{_who(by)}: {st.reason}",
                       {"kind": st.kind, "reason": st.reason, "mode": mode, "scope": st.scope or "all",
                        "by": dict(by)})


def _who(by: dict[str, Any]) -> str:
    return f" by {by.get('user')}@{by.get('host')}" if by.get("user") and by.get("host") else ""


def _send_alert(app: AppContext, settings: Settings, mode: str, kind: str, message: str,
                payload: dict[str, Any]) -> StopFlag:
    """Build the sink (the vault opened without a prompt), emit one alert, wait for delivery (at most 5 s).

    Shared by `orion halt` (kind ``halt``) and `orion resume` (kind ``resume``): neither ever asks for
    the vault's password for it; a vault the non-interactive chain cannot open audits the alert as
    ``alert.failed``. A stop (Ctrl-C, SIGTERM, SIGHUP) during the wait is held until the alert is
    delivered or audited, as in `trade` and `reconcile`: raised out of the wait, it left the alert
    neither delivered nor audited. The caller ends as the stop does (``end_if_stopped``)."""
    from orion_cli.cli.live_venues import LazyStore, warn_undelivered
    from orion_cli.cli.stopping import StopFlag, flush_alerts_then_restore
    from orion_cli.core.alerts import webhook_sink

    with LazyStore(app, ask=False) as secrets:
        sink = webhook_sink(settings, lambda name: secrets.get().reveal_optional(name), app.db(), mode=mode,
                            warn=app.out.warn, undelivered=warn_undelivered(app))
        stop = StopFlag(app.out)
        stop.install()
        try:
            sink.emit(kind, message, payload)
        finally:
            flush_alerts_then_restore(stop, sink)
    return stop


def _unrecorded_hint(settings: Settings, exc: ConfigError) -> str:
    """What still halts when the database would not record a halt (or could not be opened): the
    sentinel file, which this command does not create (engaging writes the database only), or, with
    none configured, configuring one or stopping the processes; with the store's own advice, first
    for a ledger not found (a mistyped path, put right at once). The store's general word on the
    sentinel file is left out, said here for this configuration: "no halt.sentinel_file is
    configured", then "the file halt.sentinel_file names halts every orion…", contradicted itself."""
    import shlex

    from orion_cli.store.db import without_sentinel_advice

    own = without_sentinel_advice(exc.hint or "")
    sentinel_file = settings.halt.sentinel_file
    if sentinel_file:
        advice = (f"to halt every orion configured with it meanwhile, create the file halt.sentinel_file names: "
                  f"{shlex.quote(sentinel_file)}")
    else:
        why, way = (f"the [halt] configuration is wrong ({settings.halt_problems[0]})", "fix it")\
            if settings.halt_problems else ("no halt.sentinel_file is configured", "set halt.sentinel_file to an "
                                            "absolute path in the configuration every orion reads")
        advice = (f"{why}, so no file halts orion meanwhile: stop the orion processes themselves (cron, systemd) "
                  f"until the database is usable, or {way} (a process already running reads it once restarted) "
                  "and create that file")
    if not own:
        return advice
    return f"{own}; {advice}" if exc.reason == "storage_missing" else f"{advice}; {own}"


def _cancel_open(app: AppContext, mode: str) -> tuple[list[VenueCancels], list[str], tuple[str, str | None] | None,
                                                     list[str]]:
    """Cancel on each enabled venue of ``mode``: (per-venue results, problems, when credentials were the only
    problem the reason and hint of the first, and the venues whose resting orders could not be listed)."""
    from orion_cli.cli.commands.market_data import run
    from orion_cli.cli.live_venues import LazyStore, aclose_venues, live_venues, venues_wanted
    from orion_cli.core.cancel_open import cancel_open_orders
    from orion_cli.core.errors import SecretsError
    from orion_cli.venues.trading import TradingVenue

    settings = app.settings()
    db = app.db()
    venues: dict[Venue, TradingVenue] = {}
    # (what, reason, hint) of each venue whose credentials could not be read
    missing: list[tuple[str, str, str | None]] = []
    unlisted: list[str] = []
    with LazyStore(app) as secrets:
        if mode == "live":
            wanted = venues_wanted(settings, None)
            for i, venue in enumerate(wanted):  # one venue's missing credentials spare no other's
                try:
                    venues.update(live_venues(settings, secrets.get(), [venue], missing_hint=CANCEL_HINT,
                                              warn=app.out.warn))
                except SecretsError as exc:
                    if exc.reason not in VAULT_PROBLEMS:
                        missing.append((f"{venue.value}: {exc.message}", exc.reason, exc.hint))
                        unlisted.append(venue.value)
                        continue
                    # The vault itself: the same for every venue left, so it is said once and not
                    # unlocked (or asked for) again.
                    missing.append((f"{', '.join(v.value for v in wanted[i:])}: {exc.message}", exc.reason,
                                    exc.hint))
                    unlisted += [v.value for v in wanted[i:]]
                    break
            if venues:
                app.out.banner(f"LIVE: cancelling the resting orders on {', '.join(v.value for v in venues)}.")
        else:
            from orion_cli.cli.commands.market_data import open_source
            from orion_cli.store.ledger import Ledger
            from orion_cli.venues.paper import PaperVenue

            if Ledger(db, "live").balances():
                # This ledger has held live money: a halt meant for the venues must not pass for one
                # that cancelled them (an info line, which -q drops, would be the only trace).
                app.out.warn("paper mode: only the paper ledger's resting orders are cancelled, and this ledger "
                             "has traded live: `orion halt --cancel-open --live` cancels the venues' orders")
            else:
                app.out.info("paper: cancelling the paper ledger's resting orders (--live for the venues)")
            source = open_source(app, None, False)  # not read: cancelling needs no quotes
            venues = {v: PaperVenue(v, db, source, settings) for v in venues_wanted(settings, None)}

        async def main() -> list[VenueCancels]:
            try:
                return await cancel_open_orders(db, venues, mode)
            finally:
                await aclose_venues(venues.values())

        results: list[VenueCancels] = run(main) if venues else []
    problems = [f"{r.venue.value}: resting orders not listed ({r.unreachable})" for r in results if r.unreachable]
    problems += [f"{o.venue.value}: order {o.order.venue_order_id}: {o.error}" for r in results for o in r.outcomes
                 if o.failed]
    credentials = (missing[0][1], missing[0][2]) if missing and not problems else None
    unlisted += [r.venue.value for r in results if r.unreachable]
    return results, [what for what, _, _ in missing] + problems, credentials, unlisted


def resume_command(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Release without the typed confirmation.")] = False,
    breaker: Annotated[
        bool, typer.Option("--breaker", help="Also release a halt engaged by the drawdown breaker.")
    ] = False,
) -> None:
    """Release the kill switch (typed confirmation on a terminal, --yes otherwise).

    Then warns, even with -q, of each interrupted execution (of either ledger) still holding a leg
    unhedged, such as one halted after a failed unwind, naming the command that resumes it. With
    alerts enabled, a release is then alerted (kind resume: the halt released, who released it); the
    vault is opened for it without a prompt (an alert it cannot send is audited as alert.failed).

    Exit 3 when no ledger exists there (a mistyped --db or ORION_HOME is not created). Exit 6, releasing
    nothing, while the sentinel file (halt.sentinel_file) exists: remove it first.

    Example:  orion resume --yes
    """
    from orion_cli.cli.prompts import ask_text, interactive
    from orion_cli.core.errors import Refused
    from orion_cli.risk.halt import DRAWDOWN_KIND, KillSwitch, needs_breaker
    from orion_cli.store.audit import default_actor

    app = get_app(ctx)
    settings = app.settings()
    switch = KillSwitch(app.db(existing=True), sentinel_file=settings.halt.sentinel_file, mode=app.mode())
    current = switch.status()
    if not current.halted:
        app.out.info("not halted; nothing to release")
        app.out.record(current.to_record(), HALT_COLUMNS, title="kill switch")
        return
    if current.sentinel:
        # Releasing only the database's halt would leave trading halted: a script's `resume --yes &&
        # trade` must not read that as released. Nothing is released; the file goes first.
        import shlex

        also = "" if current.kind == "sentinel" else f" as well as in the database ({current.kind}: {current.reason})"
        # The path as a shell needs it: `rm` of one with a space, unquoted, removes other files.
        raise Refused(f"halted by the sentinel file {shlex.quote(current.sentinel)}{also}; remove that file to resume"
                      + ("" if current.kind == "sentinel" else ", then run resume again (nothing was released)"),
                      reason="HALTED")
    if current.kind == DRAWDOWN_KIND and not breaker:
        # Refused before asking: typing RESUME only to be told then that it needed --breaker (a black-box review).
        raise needs_breaker()
    if not yes:
        if not interactive():
            from orion_cli.risk.halt import release_command

            # The whole command: for a drawdown trip `orion resume --yes` is refused next (--breaker).
            raise Refused("resume needs confirmation: pass --yes (no terminal to ask on)", reason="NOT_CONFIRMED",
                          hint=f"`{release_command(current.kind)}`")
        app.out.banner(f"Trading is halted: {current.reason} (since {current.since})")
        answer = ask_text("Type RESUME to release the kill switch:")
        if answer.strip() != "RESUME":
            raise Refused("resume not confirmed; the kill switch stays engaged", reason="NOT_CONFIRMED")
    by = default_actor("resume")
    st = switch.release(actor=by, breaker=breaker)
    if st.released is not None:  # a refused release (BREAKER) resumes nothing: no configuration to record
        app.record_config(app.db(), app.mode())  # the configuration trading resumes under (config.loaded)
    # Released: stdout refusing the record (a full disk under `> file`) must not hide that trading is on
    # again, nor skip its alert. Said on stderr and alerted first; then it ends "could not write the output".
    # A daily trip in force refuses every trade still: in the record, as `halt --status` gives it (found in
    # review: a script saw "halted": false after `resume --yes --json` and read trading as on).
    tripped = _daily_trip(app, settings, app.db(), app.mode())
    rec = {**st.to_record(), "breaker_refuses_until": None if tripped is None else tripped.end}
    unwritten_output = app.out.outcome_first(lambda: app.out.record(rec, [*HALT_COLUMNS, REFUSES_UNTIL_COLUMN],
                                                                    title="kill switch"))
    if st.halted:  # a sentinel file created meanwhile: released in the database, not for trading
        raise Refused(f"the database's halt was released, but trading is still halted: {st.reason}",
                      reason="HALTED", hint="`orion halt --status` shows what holds it")
    if unwritten_output is not None:  # even with -q: the exit code alone would read as "still halted"
        app.out.warn(f"{unwritten(unwritten_output)}; the kill switch was released")
    app.out.success("kill switch released")
    _say_daily_trip(app, tripped, app.mode())
    _say_other_daily_trip(app, settings, app.db(), app.mode())
    _say_reset_change(app, settings, app.db(), app.mode())
    _warn_unhedged(app)  # before the alert's wait (up to 5 s): the operator's next step comes first
    if st.released is not None and settings.alerts.enabled:
        from orion_cli.cli.stopping import end_if_stopped

        end_if_stopped(_send_resume_alert(app, settings, st.released, by, app.mode()),
                       "the kill switch was released and its alert delivered or audited")
    if unwritten_output is not None:
        raise unwritten_output


def _send_resume_alert(app: AppContext, settings: Settings, was: HaltStatus, by: dict[str, Any],
                       mode: str) -> StopFlag:
    """Alert that trading restarted (kind ``resume``): what halt was released, and who released it.

    Why: `orion halt` alerts, and a team watching the alert channel otherwise never learns that
    trading is on again. Sent only when this command released a halt and trading is no longer
    halted (a sentinel file still halting it raises first); like the halt's, it never asks for the
    vault's password."""
    return _send_alert(app, settings, mode, "resume",
                       f"{_halted_modes(was)} resumed{_who(by)}: the {was.kind} halt since {was.since} ({was.reason}) "
                       "is released",
                       {"was_kind": was.kind, "was_reason": was.reason, "was_since": was.since, "mode": mode,
                        "was_scope": was.scope or "all", "by": dict(by)})


def _warn_unhedged(app: AppContext) -> None:
    """Warn, even with -q, of each interrupted execution that holds a leg unhedged (a halted one whose
    unwind failed, above all), naming the command that resumes it.

    Why: releasing the kill switch says nothing of them, while `orion reconcile` reports each as drift
    and `trade --watch` refuses to trade beside it; the operator who released it is the one to resume
    them. Both ledgers: the kill switch is the database's, whichever mode the command was given. The
    switch is already released, so a failure to look is a warning, never the command's failure.
    """
    from sqlalchemy.exc import DBAPIError

    from orion_cli.core.errors import OrionError
    from orion_cli.core.reconcile import unhedged_executions

    try:
        found = [e for mode in ("live", "paper") for e in unhedged_executions(app.db(existing=True), mode)]
    except (OrionError, DBAPIError, OSError) as exc:
        app.out.warn(f"could not look for interrupted executions ({type(exc).__name__}); `orion reconcile` "
                     "lists them")
        return
    for e in found:
        # A paper trade resumes on the data it was priced from: the flags recorded with it (resume has
        # none of its own to give); one recorded before orion kept them is named with a reminder.
        data = " (with the --demo or --snapshot FILE it was traded on, if any)" \
            if e.mode == "paper" and not e.data_recorded else ""
        app.out.warn(f"{e.mode} execution {e.key} was interrupted at {e.status} with a leg unhedged "
                     f"({e.imbalance.held_text}); "
                     + (f"its market has settled since, so nothing is left to hedge or sell: resume it with "
                        f"`{e.resume()}`{data} to end it, sending nothing" if e.settled
                        else f"resume it with `{e.resume()}`{data}"))
