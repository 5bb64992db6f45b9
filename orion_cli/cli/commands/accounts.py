"""``orion balance`` and ``orion positions``: cash, exposure and today's P&L per venue."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orion_cli.cli.commands.market_data import DemoOpt, SnapshotOpt, announce, open_source, run
from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.output import Column

if TYPE_CHECKING:
    from orion_cli.core.accounts import AccountsReport
    from orion_cli.core.models import Venue
    from orion_cli.venues.trading import TradingVenue

BALANCE_COLUMNS = [
    Column("venue", "venue"),
    Column("mode", "mode"),
    Column("status", "status"),
    Column("available", "available", "right"),
    Column("reserved", "reserved", "right"),
    Column("total", "total", "right"),
    Column("age_seconds", "age (s)", "right"),
    Column("reason", "reason"),
]

POSITION_COLUMNS = [
    Column("venue", "venue"),
    Column("market", "market"),
    Column("side", "side"),
    Column("size", "size", "right"),
    Column("avg_price", "avg price", "right"),
    Column("exposure", "exposure", "right"),
    Column("mark", "mark", "right"),
    Column("unrealised", "unrealised", "right"),
    Column("category", "category"),
    Column("title", "title"),
]

EXPOSURE_COLUMNS = [
    Column("kind", "by"),
    Column("key", "market / category"),
    Column("venue", "venue"),
    Column("positions", "positions", "right"),
    Column("exposure", "exposure (cost)", "right"),
    # What MARKET_EXPOSURE / CATEGORY_EXPOSURE count here, and their limit: the room a trade has.
    Column("limit_counted", "limit counts (+fees, in flight)", "right"),
    Column("limit", "limit", "right"),
]

PNL_COLUMNS = [
    # The trading day by when it began and ends: its date alone read wrong for a day that began at the
    # reset hour yesterday, or one shortened by a change of the hour.
    Column("since", "trading day began"),
    Column("until", "trading day ends"),
    Column("start_equity", "start-of-day equity"),
    Column("equity", "equity now"),
    Column("today_pnl", "today's P&L"),
    Column("daily_loss_limit", "daily loss limit"),
    Column("used_pct", "limit used (%)"),
    # Every position valued at a mark: a book's best bid, or what a settled pair partner implies (not only
    # books: "marked to books: yes" beside a position valued at its settled partner's $1 read as false).
    Column("marked", "marked (bid or settled pair)"),
    # What the BREAKER check of a trade decides now, on its own basis: the figures above may be marked.
    Column("breaker_check", "BREAKER check now"),
    Column("breaker_refuses_until", "breaker refuses until"),
    Column("breaker_basis", "BREAKER check values at"),
    Column("breaker_detail", "BREAKER check says"),
]

CREDENTIALS_HINT = "store them with `orion secrets encrypt`, or disable the venue (kalshi.enabled / polymarket.enabled)"

RefreshOpt = Annotated[bool, typer.Option("--refresh", help="Re-read the venues and mark positions to the "
                                                            "current books of the source.")]
LiveViewOpt = Annotated[bool, typer.Option("--live", help=(
    "The live ledger and venues (the vault's credentials) even where trading.mode is paper (live trading "
    "through trade's --live flags). Reading needs no live authorization."))]


def _report(app: AppContext, snapshot: Path | None, demo: bool, mark: bool) -> AccountsReport:
    from orion_cli.core.accounts import gather, paper_venues
    from orion_cli.store.ledger import Ledger

    settings = app.settings()
    if app.mode() == "live":
        return _live_report(app, snapshot, demo, mark)
    source = open_source(app, snapshot, demo)
    if snapshot is not None or demo:
        announce(app, source)
    db = app.db(existing=True)  # a mistyped --db or ORION_HOME: refused, not shown as a fresh paper account
    ledger = Ledger(db, "paper", reset_hour_utc=settings.breaker.reset_hour_utc)
    venues = paper_venues(settings, db, source)
    app.out.banner("PAPER: balances and positions of the paper ledger (no real money).")
    if Ledger(db, "live").balances():
        # Live trading through trade's flags keeps trading.mode at paper: the real positions are elsewhere, and
        # nothing here said so (found following the README's first day with real money).
        app.out.warn("this ledger has traded live: `orion balance --live` and `orion positions --live` show the "
                     "venues' accounts")
    report: AccountsReport = run(lambda: gather(venues, ledger, settings, source=source if mark else None))
    _warn_unmarked(app, report)
    _warn_paper_start(app, db, settings)
    return report


def _warn_paper_start(app: AppContext, db: Any, settings: Any) -> None:
    """A ``paper.<venue>_balance`` other than the one this paper ledger's account opened with, said: it
    applies when a paper account is first opened only (a later change would rewrite the history its P&L and
    breaker are measured against), and `config show` said the new value was in force while `balance` and
    every BALANCE check went on with the old one (found reviewing the configuration key by key)."""
    from decimal import Decimal

    from orion_cli.core.models import Venue
    from orion_cli.store.audit import AuditLog
    from orion_cli.store.tables import plain

    opened = {e.payload.get("venue"): e.payload.get("starting")
              for e in AuditLog(db).tail(20, types=("balance.initialised",)) if e.mode == "paper"}
    for venue, configured in ((Venue.KALSHI, settings.paper.kalshi_balance),
                              (Venue.POLYMARKET, settings.paper.polymarket_balance)):
        started = opened.get(venue.value)
        if started is not None and Decimal(str(started)) != configured:
            app.out.warn(f"paper.{venue.value}_balance is {plain(configured)}, but this paper ledger's {venue.value} "
                         f"account opened with {plain(Decimal(str(started)))}: the setting applies when a paper "
                         "account is first opened (a new ledger, another --db, starts with it)")


def _warn_unmarked(app: AppContext, report: AccountsReport) -> None:
    for problem in report.mark_errors:
        app.out.warn(f"could not mark {problem}")
    if report.exposure_error:
        app.out.warn(report.exposure_error)


def _live_report(app: AppContext, snapshot: Path | None, demo: bool, mark: bool) -> AccountsReport:
    """Live mode: each venue's own balances and positions, read with the vault's credentials.

    Read-only (nothing is sent), so no live-trading authorization is needed; the figures are also
    recorded as the ledger's balance snapshot the breaker and the BALANCE check use. ``mark``
    (``--refresh``): positions are marked to the venues' current public books, as in paper mode.
    """
    import dataclasses

    from orion_cli.cli.live_venues import LazyStore, aclose_venues, live_venues, venues_wanted
    from orion_cli.core.accounts import VenueAccount, gather
    from orion_cli.core.errors import SecretsError
    from orion_cli.store.ledger import Ledger

    if snapshot is not None or demo:
        raise typer.BadParameter("--snapshot/--demo are for paper mode; live mode reads the venues",
                                 param_hint="--demo")
    settings = app.settings()
    db = app.db(existing=True)  # a ledger created here at a mistyped path would pass live trading's own check
    ledger = Ledger(db, "live", reset_hour_utc=settings.breaker.reset_hour_utc)
    venues: dict[Venue, TradingVenue] = {}
    missing: dict[Venue, SecretsError] = {}
    with LazyStore(app) as secrets:  # closed as soon as the clients hold their keys
        for wanted in venues_wanted(settings, None):
            # A venue without credentials is shown as unavailable; it must not hide the other's figures.
            try:
                venues.update(live_venues(settings, secrets.get(), [wanted], missing_hint=CREDENTIALS_HINT,
                                          warn=app.out.warn))
            except SecretsError as exc:
                if exc.reason != "secret_missing":
                    raise
                missing[wanted] = exc
    if not venues:
        raise next(iter(missing.values()))  # no venue has credentials: exit 4 naming what is missing
    app.out.banner(f"LIVE: balances and positions as {', '.join(v.value for v in venues)} report them.")

    async def read() -> AccountsReport:
        try:
            # Recorded with the held markets the venues have settled since (their payout is in the report).
            return await gather(venues, ledger, settings, source=open_source(app, None, False) if mark else None,
                                record=True, warn=app.out.warn)
        finally:
            await aclose_venues(venues.values())

    report: AccountsReport = run(read)
    _warn_unmarked(app, report)
    if missing:
        # Warned once, with the other unavailable venues (_finish), the hint in its reason.
        absent = [VenueAccount(v, "live", None, reason=f"{problem.message}; {CREDENTIALS_HINT}")
                  for v, problem in missing.items()]
        report = dataclasses.replace(report, accounts=[*report.accounts, *absent])
    return report


def _exposure_records(report: AccountsReport) -> list[dict[str, Any]]:
    return [x.to_record() for x in (*report.exposure.by_market, *report.exposure.by_category)]


def _finish(app: AppContext, report: AccountsReport) -> None:
    from orion_cli.core.errors import REJECTED_HINT, AuthError, VenueUnavailable

    for acct in report.unavailable:
        app.out.warn(f"{acct.venue.value} unavailable: {acct.reason}")
    rejected = [a for a in report.unavailable if a.rejected]
    if rejected:  # a revoked or mistyped key is not an outage to wait out (exit 5): exit 4
        raise AuthError("; ".join(a.reason for a in rejected), hint=REJECTED_HINT)
    if report.accounts and not report.answered:
        raise VenueUnavailable("every venue", "; ".join(f"{a.venue.value}: {a.reason}" for a in report.accounts))


def _mark_causes(errors: list[str]) -> str:
    """The causes of the marks not read, in short ("kalshi unavailable; polymarket unavailable"): each
    error is "VENUE MARKET: cause", whose first clause is the venue's state; the warnings say the rest."""
    causes = list(dict.fromkeys(e.split(": ", 1)[-1].split(": ", 1)[0] for e in errors))
    shown = "; ".join(causes[:3]) + (f"; {len(causes) - 3} more" if len(causes) > 3 else "")
    return shown if len(shown) <= 160 else shown[:159] + "…"


def _breaker_fields(app: AppContext, report: AccountsReport) -> dict[str, Any]:
    """What the BREAKER check of a trade in this mode decides right now, beside the P&L shown (found in
    review: `balance` said "4.39% used" while every trade was refused by a daily trip in force after
    `orion resume`, and "228.79% used" at marks while a trade passed BREAKER, which values positions at
    cost). The check itself, run in a read transaction (nothing written), so the words are a trade's:
    ``breaker_check`` ``passes``/``refuses``; ``breaker_refuses_until`` the UTC date-time (``…Z``) a
    daily trip in force refuses until, else null (a drawdown trip until `orion resume --breaker`, a
    limit reached until the figures move: said in ``breaker_detail``); ``breaker_basis`` ``cost``: the
    check values open positions at cost (a settled partner's payout where one settled), never at marks,
    which only a `trade --watch` round's own update applies."""
    from datetime import UTC, datetime

    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.risk.breaker import Breaker, daily_trip_until
    from orion_cli.store.ledger import Ledger

    settings = app.settings()
    db = app.db(existing=True)
    now = datetime.now(UTC)
    ledger = Ledger(db, report.mode, reset_hour_utc=settings.breaker.reset_hour_utc)
    breaker = Breaker(db, settings, mode=report.mode, ledger=ledger, alerts=NullAlertSink())
    with db.read() as conn:
        check = breaker.check(conn, now)
    until = daily_trip_until(db, report.mode, settings.breaker.reset_hour_utc, now) if not check.passed else None
    return {"breaker_check": "passes" if check.passed else "refuses",
            "breaker_refuses_until": until,
            "breaker_basis": "cost", "breaker_detail": check.detail}


def _say_breaker(app: AppContext, report: AccountsReport, fields: dict[str, Any]) -> None:
    """The BREAKER check's verdict in a line: a refusal as a warning (kept with -q), a pass as info,
    but a warning when the marked figures shown are past the daily limit the check (at cost) passes.
    Then a changed breaker.reset_hour_utc waiting for the recorded trading day's end (a warning)."""
    from orion_cli.risk.breaker import reset_change_warning

    if fields["breaker_check"] == "refuses":
        # The detail says until when: a daily trip's reset, a drawdown trip's release command.
        app.out.warn(f"the BREAKER check refuses every {report.mode} trade now: {fields['breaker_detail']}")
    elif report.pnl.marked and report.pnl.limit > 0 and report.pnl.used_share >= 1:
        app.out.warn(f"at these marks the daily loss is past its limit, but the BREAKER check of a trade values "
                     f"open positions at cost and passes ({fields['breaker_detail']}); a `trade --watch` round "
                     "marks them at its books' bids and trips the breaker on figures like these")
    else:
        app.out.info(f"the BREAKER check passes a trade now, valuing open positions at cost: "
                     f"{fields['breaker_detail']}")
    change = reset_change_warning(report.pnl.trading_day)
    if change is not None:
        app.out.warn(change)


def _pnl_line(app: AppContext, report: AccountsReport, *, marking: bool) -> None:
    """``marking``: the positions were to be marked (--refresh, --demo, --snapshot). After a refresh that
    could not read the marks, the line says so and why, not to use --refresh: it was just used."""
    p = report.pnl
    if p.marked:
        note = ""
    elif report.mark_errors:
        note = f"; positions at cost where the marks could not be read: {_mark_causes(report.mark_errors)}"
    elif marking:
        note = "; positions at cost where the books had no mark for them"
    else:
        # Paper positions were bought on recorded books (--demo, a snapshot), which the live venues'
        # --refresh cannot mark: the hint names the source they came from first.
        how = "use --refresh" if app.mode() == "live" else \
            "use --demo or --snapshot FILE (the books the paper trades were on), or --refresh (live books)"
        note = f"; positions at cost, not marked — {how}"
    app.out.info(f"today's P&L {p.pnl} of a {p.limit} daily loss limit ({p.used_pct}% used{note})")


def balance_command(
    ctx: typer.Context,
    refresh: RefreshOpt = False,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
    live: LiveViewOpt = False,
) -> None:
    """Per-venue balances (available / reserved / total / age), exposure, and today's P&L vs the loss limit.

    Paper mode reads the paper ledger; live mode (trading.mode = "live", the live environment pair, or
    --live) reads each venue with the vault's credentials and records its report, with the held markets it has
    settled since (position.settled) and the Kalshi deposits and withdrawals it holds (capital, not
    profit or loss: capital.transfer). Polymarket's total includes resolved payouts not yet redeemed. A
    venue that cannot be reached, or has no credentials, is shown as unavailable; exit 5 only when none
    answered (exit 4 when no venue has credentials, or a venue rejected them). Exposure lines show the
    cost and what the exposure limits count (cost plus fees, and buys in flight). Today's P&L marks
    positions to the best bids with --demo or --snapshot (or --refresh on live books), as `orion
    positions` does; else at cost. Beside it, what the BREAKER check of a trade decides now (it values
    positions at cost): passes, or refuses and until when.

    Example:  orion balance   ·   orion balance --demo --json
    """
    app = get_app(ctx)
    app.live_asked = live
    # Marked whenever positions would be: one ledger, one P&L, whichever command shows it.
    marking = refresh or demo or snapshot is not None
    report = _report(app, snapshot, demo, mark=marking)
    balances = [a.to_record() for a in report.accounts]
    breaker = _breaker_fields(app, report)
    pnl = {**report.pnl.to_record(), **breaker}
    if app.out.machine:
        app.out.records([*balances, *_exposure_records(report), pnl], BALANCE_COLUMNS)
    else:
        app.out.records(balances, BALANCE_COLUMNS, title="balances", empty="no venue enabled")
        exposure = _exposure_records(report)
        app.out.records(exposure, EXPOSURE_COLUMNS, title="exposure", empty="no open positions")
        app.out.record(pnl, PNL_COLUMNS, title="today's P&L")
        _pnl_line(app, report, marking=marking)
    _say_breaker(app, report, breaker)
    _finish(app, report)


def positions_command(
    ctx: typer.Context,
    refresh: RefreshOpt = False,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
    live: LiveViewOpt = False,
) -> None:
    """Open positions per venue with exposure by market and category; marked when a source is given.

    Each exposure line shows the positions' cost and, beside it, what MARKET_EXPOSURE /
    CATEGORY_EXPOSURE count there (cost plus fees, and buys in flight) against their limit. With
    --demo or --snapshot (or --refresh on live books) each position is marked to the best bid of its
    outcome. A venue that cannot be read is listed as unavailable (a `balance` record with
    status "unavailable" in JSON), its positions unknown; exit 5 only when none answered.

    Live mode (trading.mode = "live", the live environment pair, or --live) reads each venue's own positions.

    Example:  orion positions --demo   ·   orion positions --live --json
    """
    app = get_app(ctx)
    app.live_asked = live
    marking = refresh or demo or snapshot is not None
    report = _report(app, snapshot, demo, mark=marking)
    positions = [p.to_record() for p in report.positions]
    # A venue that did not answer holds positions nobody has seen: said in the data (its `balance`
    # record, status "unavailable"), not only in a warning that -q drops.
    unseen = [a.to_record() for a in report.unavailable]
    breaker = _breaker_fields(app, report)
    if app.out.machine:
        app.out.records([*positions, *unseen, *_exposure_records(report), {**report.pnl.to_record(), **breaker}],
                        POSITION_COLUMNS)
    else:
        where = ", ".join(a.venue.value for a in report.unavailable)
        empty = f"no open positions on the venues that answered ({where} unavailable)" if where \
            else "no open positions"
        app.out.records(positions, POSITION_COLUMNS, title="positions", empty=empty)
        if where:
            app.out.records(unseen, BALANCE_COLUMNS, title="venues not read")
        exposure = _exposure_records(report)
        if exposure:
            app.out.records(exposure, EXPOSURE_COLUMNS, title="exposure")
        _pnl_line(app, report, marking=marking)
    _say_breaker(app, report, breaker)
    _finish(app, report)
