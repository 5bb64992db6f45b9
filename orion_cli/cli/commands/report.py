"""``orion report``: execution quality from the ledger and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orion_cli.cli.context import get_app
from orion_cli.cli.output import Column
from orion_cli.cli.params import one_venue

SUMMARY_COLUMNS = [
    Column("mode", "mode"),
    Column("since", "since"),
    Column("venue", "venue"),
    Column("orders_sent", "orders sent"),
    Column("orders_filled", "orders filled"),
    Column("fill_rate", "fill rate"),
    Column("executions", "executions"),
    Column("executions_with_realised_edge", "with a realised edge"),
    Column("hedged_contracts", "hedged contracts"),
    Column("quoted_edge", "quoted edge / contract"),
    Column("realised_edge", "realised edge / contract"),
    Column("realised_profit", "realised profit"),
    Column("unwind_cost", "of which full unwinds cost"),
    Column("rejection_events", "risk rejections"),
]

VENUE_COLUMNS = [
    Column("venue", "venue"),
    Column("orders_sent", "sent", "right"),
    Column("filled", "filled", "right"),
    Column("partial", "partial", "right"),
    Column("cancelled", "cancelled", "right"),
    Column("rejected", "rejected", "right"),
    Column("unanswered", "unanswered", "right"),
    Column("fill_rate", "fill rate", "right"),
    Column("slippage.mean", "slip mean $", "right"),
    Column("slippage.p50", "slip p50 $", "right"),
    Column("slippage.p95", "slip p95 $", "right"),
    Column("latency_ms.p50", "lat p50 ms", "right"),
    Column("latency_ms.p95", "lat p95 ms", "right"),
    Column("latency_ms.p99", "lat p99 ms", "right"),
]

REJECTION_COLUMNS = [
    Column("check", "check"),
    Column("count", "count", "right"),
    Column("last_at", "last"),
]

EXECUTION_COLUMNS = [
    Column("key", "execution"),
    Column("status", "status"),
    Column("hedged", "hedged", "right"),
    Column("quoted_edge", "quoted edge", "right"),
    Column("planned_edge", "planned edge", "right"),
    Column("realised_edge", "realised edge", "right"),
    Column("edge_vs_quote", "vs quote", "right"),
    Column("realised_profit", "profit $", "right"),
    Column("note", "note"),
]

NOT_RECORDED = "n/a"


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    """Table cells: a figure that was not recorded reads "n/a", not a blank that looks like zero."""
    return {k: (_shown(v) if isinstance(v, dict) else (NOT_RECORDED if v is None else v)) for k, v in record.items()}


def report_command(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="Only what happened at or after: ISO time or 30m/2h/1d.")
    ] = None,
    venue_given: Annotated[
        list[str] | None, typer.Option("--venue", help="Only this venue (kalshi or polymarket): its orders' fill rate, "
                                                "slippage and latency, and the executions and rejections with a "
                                                "leg there, counted whole (a two-leg trade is in both venues' "
                                                "reports).")
    ] = None,
    live: Annotated[bool, typer.Option("--live", help=(
        "The live ledger even where trading.mode is paper (live trading through trade's --live flags)."))] = False,
) -> None:
    """Execution quality: fill rate, slippage against quote, latency, rejections by check, realised edge.

    Figures come from the ledger and the audit log of the current mode (paper unless live, or --live); a figure
    nothing recorded yet is shown as n/a (null in JSON), never estimated. Slippage is in dollars per
    contract against what the plan's price levels cost for the contracts filled, cheapest first
    (positive = worse); latency is send → the venue's answer.
    The summary's realised profit includes what fully unwound executions cost (unwind cost).

    Example:  orion report --since 1d   ·   orion report --venue kalshi --json
    """
    from datetime import datetime

    from orion_cli.cli.commands.audit import parse_since
    from orion_cli.core.errors import UsageError
    from orion_cli.core.models import Venue
    from orion_cli.core.report import build_report

    app = get_app(ctx)
    app.live_asked = live
    chosen: Venue | None = None
    venue = one_venue(venue_given)
    if venue is not None:
        try:
            chosen = Venue(venue.strip().lower())
        except ValueError:
            raise UsageError(f"--venue {venue!r}: expected one of {', '.join(v.value for v in Venue)}",
                             hint="--venue takes kalshi or polymarket; leave it out for both") from None
    since_dt = datetime.fromisoformat(parse_since(since).replace("Z", "+00:00")) if since is not None else None
    # A mistyped URL: refused, not an empty report.
    db = app.db(existing=True, read_only=True)
    report = build_report(db, mode=app.mode(), since=since_dt, venue=chosen)
    if app.mode() == "paper":
        from orion_cli.store.ledger import Ledger

        if Ledger(db, "live").balances():  # the live figures are elsewhere, and nothing here said so
            app.out.warn("this ledger has traded live: this report is the paper ledger's; `orion report --live` "
                         "reports the live one")
    out = app.out
    if out.machine:
        out.records(report.records(), [])
        return
    summary = report.summary()
    out.record(_shown(summary), SUMMARY_COLUMNS, title=f"execution quality ({report.mode})")
    for note in report.notes:
        out.info(f"note: {note}")
    if report.empty:
        return
    out.records([_shown(v.to_record()) for v in report.venues], VENUE_COLUMNS, title="by venue")
    out.records([r.to_record() for r in report.rejections], REJECTION_COLUMNS, title="risk rejections by check",
                empty="no risk rejections")
    out.records([_shown(e.to_record()) | {"note": e.note} for e in report.executions], EXECUTION_COLUMNS,
                title="realised vs quoted edge (per contract)", empty="no executions")
