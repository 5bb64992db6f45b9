"""``orion report``: JSON and table output, filters, the empty ledger, bad options.

The command is mounted on a private copy of the root app (same callback, same error boundary), so
these tests do not depend on its registration in orion_cli/cli/app.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from orion_cli.cli.app import OrionGroup, root
from orion_cli.cli.commands import report
from orion_cli.cli.commands.audit import SINCE_HINT
from orion_cli.core.config import load_settings
from orion_cli.core.models import Side, Venue
from orion_cli.store.audit import AuditLog, canonical_json, iso_utc
from orion_cli.store.db import open_database
from orion_cli.store.tables import executions
from orion_cli.venues.paper import PaperVenue
from orion_cli.venues.snapshot import demo_source
from orion_cli.venues.trading import Action, OrderRequest, OrderStatus, TimeInForce


def _app() -> typer.Typer:
    app = typer.Typer(cls=OrionGroup)
    app.callback()(root)
    app.command("report")(report.report_command)
    return app


APP = _app()


def run(*args: str) -> Any:
    return CliRunner().invoke(APP, list(args))


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """One paper execution of a within-venue set, planned at 0.29 + 0.70: 10 YES of KXNBA-26-NYK at the
    demo ask 0.30 (fee 0.147) and 10 NO at 0.71 (fee ceil(0.07 × 10 × 0.71 × 0.29 = 0.14413) = 0.1442).

    Plus one risk rejection (BALANCE) from two days ago.
    """
    from sqlalchemy import insert

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    db = open_database(url)
    now = datetime.now(UTC)
    plan = {"type": "plan", "key": "exec-cli", "size": "10", "net_edge": "0.05", "quoted_net_edge": "0.06",
            "legs": [{"venue": "kalshi", "market": "KXNBA-26-NYK", "side": "yes", "avg_price": "0.29"},
                     {"venue": "kalshi", "market": "KXNBA-26-NYK", "side": "no", "avg_price": "0.70"}]}
    with db.write() as conn:
        conn.execute(insert(executions).values(
            key="exec-cli", opportunity_id="op-cli", mode="paper", status="done", size=D(10),
            plan=canonical_json(plan), result="{}", created_at=iso_utc(now), updated_at=iso_utc(now)))
    AuditLog(db).record("risk.rejected", {"failed": ["BALANCE"]}, now=now - timedelta(days=2))
    pv = PaperVenue(Venue.KALSHI, db, demo_source(), load_settings(environ={}))

    async def buy(side: Side, limit: str, cid: str) -> Any:
        await pv.market("KXNBA-26-NYK")
        req = OrderRequest(Venue.KALSHI, "KXNBA-26-NYK", side, Action.BUY, D("10"), D(limit), TimeInForce.FOK, cid)
        prepared = pv.prepare(req)
        pv.ledger.record_intent(prepared, execution_id="exec-cli")
        return await pv.submit(prepared)

    assert asyncio.run(buy(Side.YES, "0.30", "cli-1")).status is OrderStatus.FILLED
    assert asyncio.run(buy(Side.NO, "0.71", "cli-2")).status is OrderStatus.FILLED
    db.dispose()
    return url


def records(output: str) -> list[dict[str, Any]]:
    data = json.loads(output)
    assert isinstance(data, list)
    return data


def test_json_report(ledger_url: str) -> None:
    result = run("--db", ledger_url, "report", "--json")
    assert result.exit_code == 0, result.output
    recs = records(result.stdout)
    assert [r["type"] for r in recs] == ["report_summary", "report_venue", "report_venue", "report_rejection",
                                         "report_execution"]
    summary, kalshi, poly, rejection, execution = recs
    assert summary["mode"] == "paper" and summary["empty"] is False
    assert summary["orders_sent"] == 2 and summary["fill_rate"] == "1"
    assert kalshi["venue"] == "kalshi" and kalshi["fill_rate"] == "1"
    assert kalshi["slippage"]["mean"] == "0.01"  # 0.30 vs 0.29 and 0.71 vs 0.70
    assert kalshi["latency_ms"]["samples"] == 2 and kalshi["latency_ms"]["source"] == "audit"
    assert poly["orders_sent"] == 0 and poly["fill_rate"] is None and poly["latency_ms"]["p50"] is None
    assert rejection == {"type": "report_rejection", "check": "BALANCE", "count": 1,
                         "last_at": rejection["last_at"]}
    # 10 complete sets pay $10; paid 3.00 + 7.10 + 0.147 + 0.1442 = 10.3912.
    assert execution["realised_profit"] == "-0.3912" and execution["realised_edge"] == "-0.03912"
    assert execution["quoted_edge"] == "0.06" and execution["edge_vs_quote"] == "-0.09912"


def test_jsonl_when_piped_and_filters(ledger_url: str) -> None:
    result = run("--db", ledger_url, "report", "--since", "1d", "--venue", "polymarket")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["type"] for r in lines] == ["report_summary", "report_venue"]
    assert lines[0]["venue"] == "polymarket" and lines[0]["empty"] is True
    assert lines[1]["venue"] == "polymarket"
    kalshi = [json.loads(line) for line in run("--db", ledger_url, "report", "--since", "1d", "--venue", "KALSHI")
              .stdout.splitlines()]
    assert [r["type"] for r in kalshi] == ["report_summary", "report_venue", "report_execution"]  # rejection older


def test_table_report(ledger_url: str) -> None:
    result = run("--db", ledger_url, "--format", "table", "report")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("execution quality (paper)", "by venue", "kalshi", "polymarket", "risk rejections by check",
                 "BALANCE", "exec-cli", "-0.3912", "n/a",
                 # what they count (found re-deriving a report: "fully hedged" counted an execution halted with
                 # a leg naked, and "of which unwinds cost" only the fully unwound ones)
                 "with a realised edge", "of which full unwinds cost"):
        assert text in out, text
    assert "fully hedged" not in out


def test_empty_ledger_is_a_clear_empty_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_database(url).dispose()
    result = run("--db", url, "--format", "table", "report")
    assert result.exit_code == 0, result.output
    assert "nothing to report: no orders, executions or risk rejections in the paper ledger" in result.stderr
    assert "execution quality (paper)" in result.stdout
    as_json = run("--db", url, "report", "--json")
    assert as_json.exit_code == 0
    summary = records(as_json.stdout)[0]
    assert summary["empty"] is True and summary["fill_rate"] is None


@pytest.mark.parametrize(("args", "hint"), [
    (["--venue", "nyse"], "--venue takes kalshi or polymarket; leave it out for both"),
    (["--since", "yesterday"], SINCE_HINT),
    (["--since", "bogus"], SINCE_HINT),
])
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], hint: str) -> None:
    """Found black-box: these printed an error line without the `hint:` line every parser usage error
    carries; the hint says what the option takes."""
    result = run("--db", f"sqlite:///{tmp_path / 'x.db'}", "--json", "report", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    error = json.loads(lines[-1])
    assert error["type"] == "error" and error["exit_code"] == 2
    assert lines[0].startswith(f"error: {args[0]} {args[1]!r}: ") and lines[1] == f"hint: {hint}", lines


def test_a_paper_trade_filled_exactly_at_its_plan_reports_zero_slippage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by black-box testing (scan --demo, trade --size 300, report): the plan's Kalshi leg is 140 @ 0.80
    + 160 @ 0.81 = 241.60 and paper fills exactly that, yet the execution's leg slippage was -0.0003 and the
    report's mean -0.0000006667 (total -0.00020001): the fill average against the plan's average rounded
    up to 6 dp."""
    from orion_cli.cli.app import app as orion_app

    for name in ("ORDER_CONTRACTS", "ORDER_NOTIONAL", "MARKET_EXPOSURE", "CATEGORY_EXPOSURE"):
        monkeypatch.setenv(f"ORION__LIMITS__{name}", "10000")

    def invoke(*args: str) -> Any:
        result = CliRunner().invoke(orion_app, list(args))
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    op_id = invoke("scan", "--demo", "--json")[0]["id"]
    execution = invoke("trade", op_id, "--demo", "--confirm", "--size", "300", "--json")
    assert execution["status"] == "done", execution
    [order] = [o for o in execution["orders"] if o["venue"] == "kalshi"]
    assert D(order["filled_size"]) == 300
    [leg] = [leg for leg in execution["legs"].values() if leg["venue"] == "kalshi"]
    assert leg["planned_avg"] == "0.805334" and leg["slippage"] == "0"
    [kalshi] = [r for r in invoke("report", "--venue", "kalshi", "--json") if r["type"] == "report_venue"]
    assert kalshi["slippage"] == {"orders": 1, "contracts": "300", "mean": "0", "p50": "0", "p95": "0",
                                  "total": "0"}
