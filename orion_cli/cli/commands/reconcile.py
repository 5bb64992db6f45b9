"""``orion reconcile``: the ledger against each venue; cron-safe (no prompts, colour or progress bars off a TTY)."""

from __future__ import annotations

import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orion_cli.cli.commands.market_data import DemoOpt, SnapshotOpt, announce, open_source, run, source_flags
from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.live_venues import LazyStore, aclose_venues, alert_sink
from orion_cli.cli.live_venues import live_venues as _live_venues
from orion_cli.cli.live_venues import venues_wanted as _venues_wanted
from orion_cli.cli.output import Column
from orion_cli.cli.params import one_venue
from orion_cli.cli.stopping import StopFlag, end_if_stopped, flush_alerts, pause_point
from orion_cli.core.command_line import live_flag
from orion_cli.core.plain_text import plural

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orion_cli.core.config import Settings
    from orion_cli.core.models import Venue
    from orion_cli.core.reconcile import CategoryLookup, VenueReconcile
    from orion_cli.risk.halt import HaltStatus
    from orion_cli.store.db import Database
    from orion_cli.venues.base import MarketSource

RECONCILE_COLUMNS = [
    Column("venue", "venue"),
    Column("mode", "mode"),
    Column("status", "status"),
    Column("counts.drifts", "drifts", "right"),
    Column("fixed", "fixed", "right"),
    Column("counts.resolved", "resolved", "right"),
    Column("counts.settled", "settled", "right"),
    Column("counts.pending", "pending", "right"),
    Column("reason", "reason"),
]

DRIFT_COLUMNS = [
    Column("venue", "venue"),
    Column("kind", "kind"),
    Column("market", "market"),
    Column("side", "side"),
    Column("ledger_qty", "ledger qty", "right"),
    Column("venue_qty", "venue qty", "right"),
    Column("value", "value", "right"),
    Column("fixed", "fixed"),
    Column("detail", "detail"),
]

RESOLVED_COLUMNS = [
    Column("venue", "venue"),
    Column("client_order_id", "client order id"),
    Column("market", "market"),
    Column("from", "from"),
    Column("to", "to"),
    Column("filled_size", "filled", "right"),
    Column("detail", "detail"),
]


# A deposit or withdrawal counted as capital (moving the breaker's start equity and peak, not P&L).
TRANSFER_COLUMNS = [
    Column("venue", "venue"),
    Column("kind", "kind"),
    Column("id", "id"),
    Column("status", "status"),
    Column("capital", "capital", "right"),
    Column("at", "finalized"),
]

SETTLED_COLUMNS = [
    Column("venue", "venue"),
    Column("market", "market"),
    Column("result", "result"),
    Column("yes_payout", "YES pays", "right"),
    Column("payout", "payout", "right"),
    Column("realized_pnl", "realised P&L", "right"),
    Column("source", "source"),
]


def category_of(source: MarketSource) -> CategoryLookup:
    """How --fix reads the category of a market the ledger holds none for: the market as ``source`` reads it."""
    async def lookup(venue: Venue, market: str) -> str:
        from orion_cli.venues.live import LiveSource  # called only by --fix: not imported by every run

        if isinstance(source, LiveSource):  # the category alone: no book, no fee orion must model
            return await source.category(market, venue=venue)
        found, _book = await source.book(market, venue=venue)
        return found.category

    return lookup


def _check_metrics_path(path: Path) -> None:
    """Refuse, before any work, a --metrics-file that can never be written (exit 2)."""
    text = str(path)
    if not text.strip() or not path.name or path.name in (".", ".."):
        raise typer.BadParameter("needs a file name, e.g. /var/lib/node_exporter/orion.prom",
                                 param_hint="--metrics-file")
    if "\x00" in text:
        raise typer.BadParameter("contains a NUL byte", param_hint="--metrics-file")
    parent = path.parent if str(path.parent) else Path()
    if not parent.is_dir():
        raise typer.BadParameter(f"directory {parent} does not exist", param_hint="--metrics-file")
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a directory", param_hint="--metrics-file")
    # Replaced on every run (a rename over it), so a typo must not name a file that is not ours: a
    # key, a data file, or no file at all (as root, /dev/null became a regular file; a FIFO hung).
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint="--metrics-file") from None
    if stat.S_ISLNK(mode):
        raise typer.BadParameter(f"refusing to replace {path}: it is a symbolic link (name the file itself)",
                                 param_hint="--metrics-file")
    if not stat.S_ISREG(mode):
        raise typer.BadParameter(f"refusing to replace {path}: it is not a regular file (a device, FIFO or socket)",
                                 param_hint="--metrics-file")
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint="--metrics-file") from None
    if head and not head.startswith((b"# HELP orion_", b"# TYPE orion_")):
        raise typer.BadParameter(f"refusing to replace {path}: it is not an orion metrics file",
                                 param_hint="--metrics-file")


class _MetricsRecord:
    """The --metrics-file of one run, written once: by the run that compared the venues (its results),
    or, when it ended before that, with its exit code, its time and no venue figures (``failed``).

    Left untouched by a run that failed first, the file kept the previous run's figures: exit_code 0
    and its timestamp, while runs failed on a configuration error, a mistyped ORION_HOME, a locked
    vault, a busy ledger or a stop. Only a run refused by the lock leaves it alone: the run holding
    the lock writes it."""

    def __init__(self, app: AppContext, path: Path | None, started: float) -> None:
        self.app = app
        self.path = path
        self.started = started
        self.done = path is None
        self.settings: Settings | None = None
        self.db: Database | None = None
        self.mode = ""

    def write(self, results: Sequence[VenueReconcile], *, halted: bool | None, exit_code: int) -> str | None:
        """Write the file (atomically); why it could not be written, or None."""
        from orion_cli.core.metrics import render_reconcile, write_atomic

        self.done = True
        if self.path is None:
            return None
        try:
            write_atomic(self.path, render_reconcile(
                results, finished_at=datetime.now(UTC), duration_seconds=time.monotonic() - self.started,
                halted=halted, mode=self.mode, exit_code=exit_code))
        except OSError as exc:
            return f"cannot write --metrics-file {self.path}: {exc.strerror or exc}"
        return None

    def failed(self, exc: BaseException) -> None:
        """The run ends on ``exc`` before its results were written: the file records its exit code."""
        from orion_cli.cli.stopping import StopFlag
        from orion_cli.core.runlock import RunLocked

        if self.done or isinstance(exc, RunLocked):
            return
        # The exit code is decided: a stop now cuts neither the file nor the message short (see trade).
        StopFlag(self.app.out, during="the run").hold_until_exit(said="the run has ended (its exit code is decided)")
        # A run stopped because that very database went quiet may hang here too: a second stop exits at once.
        error = self.write([], halted=self._halted(exc), exit_code=exit_code_of(exc))
        if error is not None:
            self.app.out.warn(error)  # the run's own failure is the one it exits with

    def _halted(self, exc: BaseException) -> bool | None:
        """The kill switch as it stands, when the ledger can still be read; None (not written) when not."""
        from orion_cli.core.errors import StorageError
        from orion_cli.risk.halt import KillSwitch

        if self.db is None or self.settings is None or isinstance(exc, StorageError):
            return None
        try:
            switch = KillSwitch(self.db, sentinel_file=self.settings.halt.sentinel_file, mode=self.mode)
            return switch.status(trading=True).halted  # this mode's trading: a paper-only halt is no live one
        except Exception:  # the figure is left out; the run's own failure is what it reports
            return None


def exit_code_of(exc: BaseException) -> int:
    """The exit code the CLI's error boundary ends a run with for ``exc``: an orion error's, a usage error's
    (2), a stop's (130); 1 for anything else (an internal error)."""
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    code = getattr(exc, "exit_code", None)
    return int(code) if isinstance(code, int) else 1


def reconcile_command(
    ctx: typer.Context,
    venue: Annotated[list[str] | None, typer.Option("--venue", help="kalshi or polymarket (default: every "
                                                                    "enabled venue).")] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Adopt the venue's truth in the ledger (each change audited "
                                                    "as reconcile.fixed); nothing is ever sent to a venue.")] = False,
    halt_on_drift: Annotated[bool, typer.Option("--halt-on-drift", help="Engage the kill switch when drift is "
                                                                        "found.")] = False,
    metrics_file: Annotated[Path | None, typer.Option("--metrics-file", dir_okay=False, help=(
        "Write Prometheus metrics here (atomically), e.g. for node_exporter's textfile collector."))] = None,
    lookback_hours: Annotated[int, typer.Option("--lookback-hours", min=1, max=24 * 90, help=(
        "Compare venue fills of at least this many hours (further back when an open order is older)."))] = 24,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
    live: Annotated[bool, typer.Option("--live", help=(
        "Reconcile the live ledger with the venues (the vault's credentials) even where trading.mode is paper "
        "(live trading through trade's --live flags). Reconciling needs no live authorization."))] = False,
) -> None:
    """Compare the ledger with each venue's positions, resting orders and fills; resolve unknown orders.

    Orders whose outcome is unknown (intent, submitted, unknown, open) are looked up by their persisted
    ids first. A held market the venue has settled is closed at its payout (realised P&L, cash), audited
    as position.settled, with or without --fix: the end of a trade, not drift. A Kalshi deposit or
    withdrawal the balance now holds counts as capital, not profit or loss (capital.transfer). Each
    drift is reported with market, ledger and venue quantity and value; --fix adopts the venue's truth
    with audit events, under the market's category (read from the venue's market data: CATEGORY_EXPOSURE
    counts it there). A position no fill explains that --fix adds is capital at its cost, not today's
    profit (capital.adopted). Paper mode reconciles the paper ledger against the paper venue
    (--demo/--snapshot choose its data; on a ledger that has traded live, a warning names --live); live mode
    (trading.mode live, or --live) reads the venues with the vault's credentials (ORION_MASTER_PASSWORD_FILE
    for cron). Never prompts without a terminal. Overlapping runs: the
    second exits at once with exit 6 (LOCKED). A halt, one the loss breaker engaged in this run
    (a clean run updates it) or one still held, is said on stderr, even with -q. Ctrl-C or SIGTERM
    during the wait for alerts at exit (at most 5 s) waits for it; the run is then reported and exits
    130, or with its own non-zero code.

    Exit codes: 0 clean · 7 drift (wins over 4, 6 and 5; also a venue left with its live trades refused for
    drift an earlier run found) · 5 a venue could not be reached · 6 another
    run holds the lock (LOCKED), or a venue refused this host's location (GEOBLOCKED: a Polymarket geoblock
    or firewall page; the venue is unavailable, never clean or drift) · 4 credentials missing, vault
    locked or a venue rejected them · 3 no ledger exists there (a mistyped --db,
    ORION__DATABASE__URL or ORION_HOME is never created and reported clean; `orion init` creates one),
    or no venue is enabled.

    Example:  orion reconcile --json   ·   orion reconcile --live --venue kalshi --fix --metrics-file orion.prom
    """
    from orion_cli.cli.streams import unwritten
    from orion_cli.core.errors import DriftFound, ExitCode, VenueUnavailable
    from orion_cli.core.reconcile import reconcile_async
    from orion_cli.core.runlock import RunLock
    from orion_cli.risk.halt import KillSwitch
    from orion_cli.store.ledger import Ledger

    started = time.monotonic()
    from orion_cli.store.audit import iso_utc

    run_began = iso_utc(datetime.now(UTC))
    app = get_app(ctx)
    if metrics_file is not None:
        _check_metrics_path(metrics_file)
    # From here every run writes its exit code to the metrics file, whatever ends it (a configuration or
    # ledger error, a locked vault, a stop): left as it was, the file said the previous run's exit 0.
    record = _MetricsRecord(app, metrics_file, started)
    try:
        settings = app.settings()
        mode = "live" if live else app.mode()
        record.settings, record.mode = settings, mode
        wanted = _venues_wanted(settings, one_venue(venue))
        if not wanted:
            # From cron, "clean" would say every venue agrees when none was compared.
            from orion_cli.core.config import no_venue_enabled
            from orion_cli.core.models import Venue

            raise no_venue_enabled(tuple(Venue), otherwise="or name one with --venue (reconciled though disabled)")
        if mode == "live" and (snapshot is not None or demo):
            raise typer.BadParameter("--snapshot/--demo are for paper mode; live mode reads the venues",
                                     param_hint="--live" if live else "--demo")
        db = app.db(existing=True)  # from cron: a mistyped URL must not reconcile a new, empty ledger as clean
        record.db = db
        with RunLock(db, "reconcile"), LazyStore(app) as secrets:  # the vault, opened on first need, always closed
            try:
                if mode == "live":
                    venues = _live_venues(settings, secrets.get(), wanted, warn=app.out.warn)
                    app.out.banner(f"LIVE: reconciling the live ledger with {', '.join(v.value for v in venues)}.")
                    source = open_source(app, None, False)  # the venues' public market data, for categories
                else:
                    from orion_cli.venues.paper import PaperVenue

                    source = open_source(app, snapshot, demo)
                    if snapshot is not None or demo:
                        announce(app, source)
                    venues = {v: PaperVenue(v, db, source, settings) for v in wanted}
                    from orion_cli.store.ledger import Ledger as LiveLedger

                    if LiveLedger(db, "live").balances():
                        # A ledger that has traded live (through trade's flags, trading.mode left at paper): a cron
                        # run said "clean", exit 0, beside live drift it never looked at (found reviewing paper
                        # against live). Said even with -q; `--live` is the run cron needs.
                        app.out.warn("paper mode: only the paper ledger is reconciled, and this ledger has traded "
                                     "live: `orion reconcile --live` reconciles the live ledger with the venues")
                    else:
                        app.out.info("paper: reconciling the paper ledger with the paper venues (--live for the "
                                     "venues)")
                # The configuration this run judges under (config.loaded): after the usage errors above.
                app.record_config(db, mode)
                alerts = alert_sink(app, secrets, mode)
                ledger = Ledger(db, mode, reset_hour_utc=settings.breaker.reset_hour_utc)

                async def main() -> list[VenueReconcile]:
                    try:
                        return await reconcile_async(db, ledger, venues, settings, mode=mode, fix=fix,
                                                     alerts=alerts, halt_on_drift=halt_on_drift,
                                                     lookback=timedelta(hours=lookback_hours),
                                                     source_flags=source_flags(snapshot, demo), warn=app.out.warn,
                                                     category_lookup=category_of(source))
                    finally:
                        await aclose_venues(venues.values())

                stop = StopFlag(app.out, during="the run")
                try:
                    pause_point("reconcile_started")
                    results: list[VenueReconcile] = run(main)
                finally:
                    # A stop during the wait for alerts (a drift's, a trip's) waits for it, as in `trade`: it
                    # lost them unaudited. Installed after the run, whose Ctrl-C asyncio's own handling still
                    # ends. Then the outcome is decided: a stop from here until the process exits changes no
                    # exit code and cuts no output or metrics file short (given back here, the handlers let
                    # one end a run that found drift with 130 and no metrics, or kill it: 143).
                    stop.install()
                    try:
                        flush_alerts(stop, alerts)
                    finally:
                        stop.hold_until_exit()
                stopped = stop.stopped_before_decided
                pause_point("reconcile_decided")
                drifted, unavailable, exit_code = outcome(results)
                # The data before the metrics, so that they record the run's exit code: stdout refusing it (a
                # full disk under `> file`) is exit 1, unless drift was found (cron must see that: exit 7).
                unwritten_output = app.out.outcome_first(lambda: _render(app, results))
                if unwritten_output is not None and not drifted:
                    exit_code = int(ExitCode.ERROR)
                if stopped and not exit_code:  # reported, then it ends as the stop (130); a failure wins
                    exit_code = int(ExitCode.INTERRUPTED)
                # As it stands for this run's mode: a live run told to `orion resume` for a paper drill's halt
                # would release that halt too (found reviewing this change).
                halt = KillSwitch(db, sentinel_file=settings.halt.sentinel_file, mode=mode).status(trading=True)
                halted = halt.halted
                metrics_error = record.write(results, halted=halted, exit_code=exit_code)
            except BaseException as exc:  # written under the lock: a later run's file is never replaced
                record.failed(exc)
                raise
    except BaseException as exc:
        record.failed(exc)
        raise
    # A metrics file that could not be written fails the run (exit 3), unless it already fails with what
    # cron must see first: drift (exit 7), or output that could not be written (exit 1, as they were to say).
    if metrics_error is not None:
        if not drifted and unwritten_output is None:
            from orion_cli.core.errors import ConfigError

            raise ConfigError(metrics_error, hint="the reconcile itself ran; check the directory and its "
                                                  "permissions", reason="metrics_file")
        app.out.warn(metrics_error)
    for r in unavailable:
        app.out.warn(f"{r.venue.value} unavailable: {r.reason}")
    if halt_on_drift and drifted:
        # Said from the kill switch as read after the run, not assumed from the flag: a drift the run
        # did not halt for must not be announced as halted.
        if halted:
            from orion_cli.risk.halt import release_hint

            app.out.banner(f"HALTED: drift found with --halt-on-drift; {release_hint(halt, 'the kill switch')}.")
        else:
            app.out.warn("drift found with --halt-on-drift, but the kill switch is not engaged: see "
                         "`orion halt --status`")
    elif halted:
        _say_halted(app, halt, since=run_began, daily_until=_daily_trip_until(db, mode, settings))
    other_data = recorded_data_hint(db, mode, source_flags(snapshot, demo))
    if drifted:
        if unwritten_output is not None:
            app.out.warn(f"{unwritten(unwritten_output)}; drift was found, exit 7")
        total = sum(len(r.drifts) for r in drifted)
        fixed = sum(r.fixed for r in drifted)
        from orion_cli.core.reconcile import INTERRUPTED_FIX, ORDER_UNDECIDED_FIX

        # An order the venue has not decided is no truth --fix can adopt: its execution's resume finishes it.
        undecided = any(d.fix == ORDER_UNDECIDED_FIX for r in drifted for d in r.drifts)
        kinds = {d.kind for r in drifted for d in r.drifts if d.fix != ORDER_UNDECIDED_FIX}
        # An execution's drift: interrupted (a resume ends it), or ended (never resumed: hedged or closed by hand).
        ended = any(d.kind == "execution" and d.fix != INTERRUPTED_FIX for r in drifted for d in r.drifts)
        interrupted = any(d.kind == "execution" and d.fix == INTERRUPTED_FIX for r in drifted for d in r.drifts)
        hints = []
        again = live_flag(mode) or source_flags(snapshot, demo)  # the run a hint names reads the same ledger
        if kinds - {"execution"} and not fix:
            hints.append(f"inspect the drifts; `orion reconcile{again} --fix` adopts the venue's truth (audited)")
        if ended:
            hints.append("an execution that has ended is not resumed: hedge or close by hand the shares its drift "
                         f"names unhedged; once that trade is recorded (`orion reconcile{again} "
                         "--fix` adopts it), it is drift no more")
        if interrupted or undecided:  # not reconcile's to fix: only a resume finishes an execution
            from orion_cli.execution.state import HALT_SELLS_BACK, sells_back_advice

            # While halted, a drift whose resume would sell the filled leg back says so (the run judged
            # it): the hint must not send the operator to that command before the release, named as a
            # script must type it (`orion resume --yes`; --breaker after a drawdown trip).
            sells_back = halted and any(HALT_SELLS_BACK in d.detail for r in drifted for d in r.drifts)
            resume = "resume each interrupted execution with the command its drift names" + (
                " (an order the venue has not decided, of an execution that has ended: check it at the venue)"
                if undecided else "")
            hints.append(f"{sells_back_advice(halt)}, then {resume}" if sells_back else resume)
        if other_data is not None:
            hints.insert(0, other_data)
        raise DriftFound(
            f"drift between the {mode} ledger and {', '.join(r.venue.value for r in drifted)}: {total} drift(s)"
            + (f", {fixed} adopted with --fix" if fixed else ""),
            hint="; ".join(hints) or None,
        )
    if unwritten_output is not None:
        raise unwritten_output  # could not write the output: exit 1, as the metrics say (after the warnings)
    rejected = [r for r in unavailable if r.rejected]
    if rejected:  # a revoked or mistyped key is not an outage a unit may wait out (exit 5): exit 4
        from orion_cli.core.errors import REJECTED_HINT, AuthError

        raise AuthError(_causes(rejected), hint=REJECTED_HINT)
    blocked = [r for r in unavailable if r.geoblocked]
    if blocked:  # refused for this host's location: a host to move, not an outage (exit 5), as `trade` says
        from orion_cli.venues.trading import Geoblocked

        raise Geoblocked(_causes(blocked), hint=next((r.hint for r in blocked if r.hint), None))
    if unavailable:  # one venue: its message says "kalshi unavailable: <cause>", the cause left bare
        raise VenueUnavailable(", ".join(r.venue.value for r in unavailable),
                               unavailable[0].reason if len(unavailable) == 1 else _causes(unavailable),
                               hint=other_data)
    if stopped:  # a stop that came before the outcome was decided (in the wait for alerts) ends it: 130
        end_if_stopped(stop, "the run was reported and its alerts delivered or audited")
    pending = sum(len(r.pending) for r in results)
    if pending:  # nothing found apart, but not all was compared: said, not announced as agreement
        app.out.success(f"clean: no drift found; {pending} {plural(pending, 'item')} pending (an order not final "
                        "yet, a change within the grace period), judged by the next run (`pending` in --json)")
    else:
        app.out.success("clean: the ledger and the venues agree")
    if other_data is not None:
        app.out.info(f"note: {other_data}")


def recorded_data_hint(db: Database, mode: str, given_flags: str) -> str | None:
    """Where the paper ledger's latest trade was priced on recorded data (--demo, --snapshot FILE) and this
    run reads other data (the live venues): the `orion reconcile` that reads the data it was made on.

    Review: after `orion trade ID --demo --confirm`, a bare `orion reconcile` looked the held demo markets
    up at the live venues (exit 5 offline, with no hint; a market they do not list stays held, "clean"),
    and nothing said the trades were made on the demo data set. None in live mode, with data flags
    given, or when the latest execution recording its data was on the live books (or it cannot be read)."""
    from sqlalchemy import select

    from orion_cli.execution.state import recorded_source_flags
    from orion_cli.store.tables import executions

    if mode != "paper" or given_flags:
        return None
    try:
        with db.read() as conn:
            plans = conn.execute(select(executions.c.plan).where(executions.c.mode == "paper")
                                 .order_by(executions.c.created_at.desc()).limit(100)).scalars()
            flags = next((f for f in map(recorded_source_flags, plans) if f is not None), None)
    except Exception:  # a hint only: the run's own outcome is said regardless
        return None
    if not flags:
        return None
    words = "the demo data set" if flags == " --demo" else f"the snapshot{flags.removeprefix(' --snapshot')}"
    return (f"the paper ledger's latest trade was made on {words}, and this run read the live venues: "
            f"`orion reconcile{flags}` reconciles it on the data it was priced on")


def _causes(failed: list[VenueReconcile]) -> str:
    """Each failed venue's reason, labelled with its venue ("kalshi: HTTP 503 …; polymarket: …") unless
    it already begins with it ("kalshi rejected our credentials …", "Polymarket's firewall …"): joined
    bare, two venues' causes read "HTTP 503 …; HTTP 503 …" and the operator could not tell which said what."""
    return "; ".join(r.reason if r.reason.casefold().startswith(r.venue.value) else f"{r.venue.value}: {r.reason}"
                     for r in failed)


def _daily_trip_until(db: Database, mode: str, settings: Settings) -> datetime | None:
    """When today's daily-loss trip stops refusing trades (None: none, or its state cannot be read: the
    halt is still said, without it)."""
    from sqlalchemy.exc import SQLAlchemyError

    from orion_cli.core.errors import OrionError
    from orion_cli.risk.breaker import daily_trip_until

    try:
        return daily_trip_until(db, mode, settings.breaker.reset_hour_utc)
    except (OrionError, SQLAlchemyError):
        return None


def _say_halted(app: AppContext, halt: HaltStatus, *, since: str, daily_until: datetime | None = None) -> None:
    """Say, even with -q, that trading is halted: a clean run exits 0, and from cron only the output tells
    that the loss breaker tripped in this run (it updates on a clean run) or that a halt still holds. A
    daily-loss trip refuses trades until its reset even once the kill switch is released: said with it."""
    from orion_cli.risk.breaker import reset_text
    from orion_cli.risk.halt import halted_what, release_hint

    why = f"{halt.kind}: {halt.reason}" if halt.reason else halt.kind
    # --breaker for a drawdown trip; the sentinel file removed first (resume refuses while it exists).
    release = release_hint(halt, "the kill switch")
    if daily_until is not None:
        release += (f"; trades stay refused by the daily-loss breaker until its reset at {reset_text(daily_until)}, "
                    "even once the kill switch is released")
    if halt.since is not None and halt.since >= since:
        app.out.banner(f"HALTED during this run ({why}); `orion halt --status` says more, {release}.")
    else:
        app.out.warn(f"{halted_what(halt)} is halted{f' since {halt.since}' if halt.since else ''} ({why}); {release}")


def outcome(results: list[VenueReconcile]) -> tuple[list[VenueReconcile], list[VenueReconcile], int]:
    """(drifted, unavailable, exit code): 7 for any drift, even one found on a venue that was then
    unreachable (an interrupted execution is reported on the venue holding the most); else 4 when a
    venue refused our credentials; else 6 when one refused this host's location (GEOBLOCKED); else 5;
    else 0. A venue not fully compared is unavailable also when drift found before its failure made its
    status ``drift`` (its reason says why), so it is still named."""
    drifted = [r for r in results if r.drifts]  # status "drift" is set only with drifts
    unavailable = [r for r in results if r.status == "unavailable" or r.reason]
    rejected = any(r.rejected for r in unavailable)
    blocked = any(r.geoblocked for r in unavailable)
    # A venue left held (drift an earlier run found, not settled by this one: live legs there refused) is drift
    # not yet fixed, whatever this run could compare: exit 0 told cron all was well while trading had stopped.
    held = any(r.trading_refused for r in results)
    return drifted, unavailable, (7 if drifted or held else 4 if rejected else 6 if blocked else 5 if unavailable
                                  else 0)


def _render(app: AppContext, results: list[VenueReconcile]) -> None:
    for r in results:  # on stderr whatever the format, kept with -q: a cron log must show it
        if r.trading_refused:
            app.out.warn(f"{r.venue.value}: live trades there are refused ({r.trading_refused}) until a reconcile "
                         f"finds its positions and fills agreeing with the ledger, or `orion reconcile --live --venue "
                         f"{r.venue.value} --fix` adopts them")
    records = [r.to_record() for r in results]
    if app.out.machine:
        app.out.records(records, RECONCILE_COLUMNS)
        return
    app.out.records(records, RECONCILE_COLUMNS, title="reconcile", empty="no venue enabled")
    drifts = [d.to_record() for r in results for d in r.drifts]
    if drifts:
        app.out.records(drifts, DRIFT_COLUMNS, title="drift")
    resolved = [x.to_record() for r in results for x in r.resolved]
    if resolved:
        app.out.records(resolved, RESOLVED_COLUMNS, title="resolved orders")
    settled = [x.to_record() for r in results for x in r.settled]
    if settled:
        app.out.records(settled, SETTLED_COLUMNS, title="settled markets")
    moved = [x.to_record() for r in results for x in r.transfers]
    if moved:
        app.out.records(moved, TRANSFER_COLUMNS, title="deposits and withdrawals counted as capital")
    for r in results:
        for p in r.pending:
            app.out.info(f"pending ({r.venue.value}): {p}")
        if r.report_withheld:
            app.out.info(f"balance report not recorded ({r.venue.value}): {r.report_withheld}")
