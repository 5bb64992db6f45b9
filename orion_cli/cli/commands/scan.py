"""``orion scan``: match both venues, price every tradable pair against depth and fees, store and show."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orion_cli.cli.commands.market_data import DemoOpt, SnapshotOpt, announce, open_source, progress_bar, run
from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.output import Column, rich_console
from orion_cli.cli.params import decimal_value, finite, one_venue, shown_option
from orion_cli.core.categories import CATEGORY_HELP
from orion_cli.core.config import key_spec

if TYPE_CHECKING:
    from orion_cli.core.opportunity import Opportunity
    from orion_cli.core.scan import ScanResult

OPPORTUNITY_COLUMNS = [
    Column("id", "id"),
    Column("kind", "kind"),
    Column("legs_text", "legs (buy)"),
    Column("size", "size", "right"),
    Column("cost", "cost", "right"),
    Column("fees", "fees", "right"),
    Column("net_edge", "net edge/ct", "right"),
    Column("net_profit", "net profit", "right"),
    Column("return_on_capital", "return", "right"),
    Column("annualized_return", "annualised", "right"),
    Column("quote_age_seconds", "quote age s", "right"),
    Column("expires_at", "expires"),
]

CANDIDATE_COLUMNS = [
    Column("kalshi_id", "kalshi"),
    Column("polymarket_id", "polymarket"),
    Column("inverted", "inverted"),
    Column("confidence", "confidence", "right"),
    Column("reasons_text", "held back because"),
    Column("if_curated_text", "net edge if curated"),
]

# How often a watch's wait asks whether its reader went away.
READER_POLL_SECONDS = 0.5


def _decimal_option(value: str | None, name: str, key: str) -> Decimal | None:
    """A plain decimal in the range of the configuration key the option stands in for: the option
    took up to 1e12 for --min-profit where trading.min_profit takes at most 100000 (and an exponent
    like 1e999999 overflows the pricing arithmetic)."""
    if value is None:
        return None
    d = decimal_value(value, name)
    spec = key_spec(key)
    if not spec.min <= d <= spec.max:
        raise typer.BadParameter(f"{shown_option(value)} must be a number from {spec.min} to {spec.max}, as {key}",
                                 param_hint=name)
    return d


# The range of the key --max-results stands in for: the option took up to 100000, which the key
# (1..10000) refuses, so a value that worked on the command line failed from the configuration (exit 3).
MAX_RESULTS = key_spec("trading.max_results")


def pairs_path(app: AppContext) -> Path:
    from orion_cli.core.paths import default_pairs_file

    configured = app.settings().matching.pairs_file
    return Path(configured).expanduser() if configured else default_pairs_file()


def pairs_configured(app: AppContext) -> bool:
    """Whether matching.pairs_file names the pairs file (config, environment): then it must exist to be
    read (exit 3, never "no curated pairs") and its directory to be written (never made)."""
    return bool(app.settings().matching.pairs_file)


def _legs_text(rec: dict[str, Any]) -> str:
    parts = []
    for leg in rec["legs"]:
        market = str(leg["market"])
        if len(market) > 24:
            market = market[:10] + "…" + market[-8:]
        parts.append(f"{leg['venue'][:4]} {market} {leg['side'].upper()} ≤{leg['worst_price']}")
    return " + ".join(parts)


def opportunity_row(op: Opportunity) -> dict[str, Any]:
    rec = op.to_record()
    rec["legs_text"] = _legs_text(rec)
    return rec


def _scan_once(app: AppContext, source: Any, options: Any, include_candidates: bool) -> ScanResult:
    from datetime import UTC, datetime

    from orion_cli.core.scan import scan
    from orion_cli.execution.state import UNFINISHED
    from orion_cli.matching.pairs import load_pairs
    from orion_cli.store import opportunities as store

    settings = app.settings()
    curated = load_pairs(pairs_path(app), configured=pairs_configured(app))
    with progress_bar(app) as progress:
        data = run(lambda: source.fetch(options.venues, with_books=True, progress=progress))
    announce(app, source, data)
    result = scan(data, curated, settings, options)
    db = app.db()
    with db.write() as conn:
        # Scanned a week ago or more (by when they were scanned, not by their quotes' expiry, which on
        # a recorded snapshot passed long ago): their ids stay loadable that long.
        store.prune(conn, older_than=datetime.now(UTC) - store.RETENTION, unfinished=UNFINISHED)
        store.save(conn, result.opportunities, source=source.name)
    _ = include_candidates
    return result


def warn_new(out: Any, notes: Sequence[str], said: set[str] | None) -> None:
    """Warn each note, once per ``said`` when one is given (a watch's rounds repeat their notes)."""
    for note in notes:
        if said is None or note not in said:
            out.warn(note)
        if said is not None:
            said.add(note)


def _render(app: AppContext, result: ScanResult, include_candidates: bool, *, stream: bool = False,
            said: set[str] | None = None) -> None:
    """``said``: the notes a streaming watch already warned about (each is said the first round it shows,
    not every round; a table refreshed in place is cleared, so it says them again)."""
    out = app.out
    rows = [opportunity_row(op) for op in result.opportunities]
    for rec in rows:
        if out.machine:
            rec.pop("legs_text", None)
    cands: list[dict[str, Any]] = []
    if include_candidates:
        for c in result.held_back:
            rec = c.to_record()
            key = (c.kalshi_id, c.polymarket_id)
            if key in result.if_curated:
                edge = result.if_curated[key]
                rec["net_edge_if_curated"] = edge
                rec["if_curated_text"] = "no profitable size" if edge is None else f"{edge:f}/ct"
            rec["reasons_text"] = ", ".join(rec["reasons"])
            if out.machine:
                rec.pop("reasons_text")
                rec.pop("if_curated_text", None)
            cands.append(rec)
    if stream:
        for rec in rows:
            out.stream(rec, OPPORTUNITY_COLUMNS)
        for rec in cands:
            out.stream(rec, CANDIDATE_COLUMNS)
    elif out.format == "json":
        # --json promises one JSON document: both record types in one array, told apart by "type".
        out.records([*rows, *cands], OPPORTUNITY_COLUMNS)
    else:
        out.records(rows, OPPORTUNITY_COLUMNS, title="opportunities (net of fees, sorted by net profit)",
                    empty="no opportunity clears min-edge and min-profit")
        if include_candidates:
            if out.machine:
                for rec in cands:
                    out.stream(rec, CANDIDATE_COLUMNS)
            else:
                out.records(cands, CANDIDATE_COLUMNS, title="candidates held back", empty="no held-back candidates")
    warn_new(out, result.notes, said)
    stats = result.match_stats
    matched = f"{len(result.tradable)} tradable pair(s)" + (
        f", {len(result.held_back)} candidate(s) held back of {stats.checked_candidates} checked" if stats else ""
    )
    out.info(f"{len(result.opportunities)} opportunit{'y' if len(result.opportunities) == 1 else 'ies'}; "
             f"{matched}; {result.priced_pairs} pair(s) priced; source: {result.source}")


def scan_command(
    ctx: typer.Context,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
    min_edge: Annotated[str | None, typer.Option("--min-edge", help="Minimum net edge per contract, USD "
                                                                    "(default trading.min_edge). If the most "
                                                                    "profitable size falls short of it, the size "
                                                                    "whose net profit exceeds it per contract by "
                                                                    "the most is priced instead.")] = None,
    min_profit: Annotated[str | None, typer.Option("--min-profit", help="Minimum net profit per opportunity, "
                                                                        "USD (default trading.min_profit).")] = None,
    max_results: Annotated[int | None, typer.Option("--max-results", min=MAX_RESULTS.min, max=MAX_RESULTS.max,
                                                    help="Show at most N (default trading.max_results).")] = None,
    venue: Annotated[list[str] | None, typer.Option("--venue", help="kalshi or polymarket: only within-venue "
                                                                    "arbitrage on that venue (default: both).")] = None,
    category: Annotated[str | None, typer.Option("--category", "-c", help=CATEGORY_HELP)] = None,
    include_candidates: Annotated[bool, typer.Option("--include-candidates",
                                                     help="Also list matched candidates held back, with "
                                                          "the reasons.")] = False,
    watch: Annotated[float | None, typer.Option("--watch", min=1, max=86400, callback=finite,
                                                help="Rescan every S seconds (a table refreshed in place on a "
                                                     "terminal, a JSON-lines stream otherwise: with --json "
                                                     "too, as a stream has no end to close a document). "
                                                     "Ctrl-C, SIGTERM or SIGHUP stops it (exit 130).")] = None,
) -> None:
    """Find arbitrage: match both venues' markets and price each pair against real depth and exact fees.

    The opportunities found are stored (with an id and an expiry for `orion trade`) and printed.

    Example:  orion scan --demo   ·   orion scan --min-edge 0.02 --jsonl | jq .net_profit
    """
    from orion_cli.core.scan import ScanOptions
    from orion_cli.venues.base import parse_venues

    app = get_app(ctx)
    settings = app.settings()
    options = ScanOptions.from_settings(
        settings,
        min_edge=_decimal_option(min_edge, "--min-edge", "trading.min_edge"),  # a contract pays at most 1
        min_profit=_decimal_option(min_profit, "--min-profit", "trading.min_profit"),
        max_results=max_results,
        venues=parse_venues(one_venue(venue)),
        category=category,
    )
    source = open_source(app, snapshot, demo)
    if watch is None:
        result = _scan_once(app, source, options, include_candidates)
        _render(app, result, include_candidates)
        return
    from orion_cli.cli.stopping import StopFlag

    # SIGTERM (systemd, Docker, `kill`) and SIGHUP end the watch as Ctrl-C does (exit 130, said on
    # stderr and, when machine-readable, as an error record), not as a process killed mid-line (143).
    stop = StopFlag(app.out)
    stop.install()
    said: set[str] = set()
    try:
        while True:
            started = time.monotonic()
            result = _scan_once(app, source, options, include_candidates)
            if app.out.machine or not app.out.interactive:
                _render(app, result, include_candidates, stream=True, said=said)
            else:
                rich_console(app.out.stdout).clear()
                _render(app, result, include_candidates)
                app.out.info(f"refreshing every {watch:g}s — Ctrl-C to stop")
            # Its reader gone (`| head`): no one to refresh for. Asked during the wait too: with --watch 300 a
            # `| head -1` pipeline waited up to five minutes for the next round to notice (found in review).
            end = started + watch
            while not app.out.stdout_closed():
                left = end - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(left, READER_POLL_SECONDS))
            else:
                return
    finally:
        stop.restore()
