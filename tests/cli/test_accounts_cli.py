"""``orion balance`` / ``orion positions`` after paper fills made through PaperVenue on the demo set.

The commands are mounted on a private copy of the root app (same callback, same error boundary),
so these tests do not depend on their registration in orion_cli/cli/app.py.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from orion_cli.cli.app import OrionGroup, root
from orion_cli.cli.commands import accounts
from orion_cli.core.accounts import gather
from orion_cli.core.config import load_settings
from orion_cli.core.errors import AuthError, VenueUnavailable
from orion_cli.core.models import Side, Venue
from orion_cli.store.db import open_database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.paper import PaperVenue
from orion_cli.venues.snapshot import demo_source
from orion_cli.venues.trading import Action, OrderRequest, OrderStatus, TimeInForce


def _app() -> typer.Typer:
    app = typer.Typer(cls=OrionGroup)
    app.callback()(root)
    app.command("balance")(accounts.balance_command)
    app.command("positions")(accounts.positions_command)
    return app


APP = _app()


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """A ledger holding one paper fill: 10 YES of KXNBA-26-NYK at the demo ask 0.30."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    db = open_database(url)
    pv = PaperVenue(Venue.KALSHI, db, demo_source(), load_settings(environ={}))

    async def buy() -> Any:
        await pv.market("KXNBA-26-NYK")
        req = OrderRequest(Venue.KALSHI, "KXNBA-26-NYK", Side.YES, Action.BUY, D("10"), D("0.30"),
                           TimeInForce.FOK, "cli-1")
        return await pv.submit(pv.prepare(req))

    assert asyncio.run(buy()).status is OrderStatus.FILLED
    db.dispose()
    return url


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(APP, list(args))


def test_balance_json_after_a_paper_fill(ledger_url: str) -> None:
    res = _invoke("--db", ledger_url, "balance", "--refresh", "--demo", "--json")
    assert res.exit_code == 0, res.output
    recs = json.loads(res.stdout)
    bal = {r["venue"]: r for r in recs if r["type"] == "balance"}
    # 1000 − 10 × 0.30 − fee ceil(0.07 × 10 × 0.30 × 0.70 = 0.147) = 996.853
    assert bal["kalshi"]["available"] == "996.853" and bal["kalshi"]["total"] == "996.853"
    assert bal["kalshi"]["mode"] == "paper" and bal["kalshi"]["reserved"] == "0" and bal["kalshi"]["as_of"]
    assert bal["polymarket"]["available"] == "1000"
    expo = [r for r in recs if r["type"] == "exposure"]
    assert {(r["kind"], r["key"], r["exposure"]) for r in expo} == {("market", "KXNBA-26-NYK", "3"),
                                                                    ("category", "sports", "3")}
    (pnl,) = [r for r in recs if r["type"] == "pnl"]
    # marked at the best YES bid 0.29: 1996.853 + 2.9 − 2000 = −0.247
    assert (pnl["today_pnl"], pnl["daily_loss_limit"], pnl["marked"], pnl["used_pct"]) == ("-0.247", "50", True,
                                                                                          "0.49")
    assert "DEMO DATA" in res.stderr and "PAPER" in res.stderr


def test_a_paper_starting_balance_changed_after_the_account_opened_is_said(ledger_url: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Found reviewing the configuration key by key: `paper.kalshi_balance = "50"` set after the paper account had
    opened (even by a first `orion balance`) changed nothing, silently, while `config show` said it was in force."""
    res = _invoke("--db", ledger_url, "balance", "--json")
    assert res.exit_code == 0 and "paper.kalshi_balance" not in res.stderr, res.output
    monkeypatch.setenv("ORION__PAPER__KALSHI_BALANCE", "50")
    res = _invoke("--db", ledger_url, "balance", "--json")
    assert res.exit_code == 0, res.output
    assert ("warning: paper.kalshi_balance is 50, but this paper ledger's kalshi account opened with 1000: the "
            "setting applies when a paper account is first opened") in res.stderr, res.stderr
    assert "polymarket_balance" not in res.stderr
    bal = {r["venue"]: r for r in json.loads(res.stdout) if r["type"] == "balance"}
    assert D(bal["kalshi"]["total"]) > 990  # the account as it is, not restarted at 50


def test_balance_table_without_refresh_is_at_cost(ledger_url: str) -> None:
    res = _invoke("--db", ledger_url, "balance", "--format", "table")
    assert res.exit_code == 0, res.output
    assert "996.853" in res.stdout and "kalshi" in res.stdout and "polymarket" in res.stdout
    assert "-0.147" in res.stdout  # only the fee is lost while positions are valued at cost
    assert "not marked" in res.stderr
    assert "marked (bid or settled pair)" in res.stdout and "marked to books" not in res.stdout
    # Found by a black-box tester: the hint said only "use --refresh", which reads the live venues,
    # where a paper position bought on recorded books cannot be marked; it names the recorded sources.
    assert "use --demo or --snapshot FILE" in res.stderr, res.stderr


@pytest.mark.parametrize("command", ["positions", "balance"])
def test_a_refresh_that_cannot_read_the_marks_says_so_not_to_use_refresh(
        ledger_url: str, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """Found by a black-box reviewer: paper `positions --refresh` / `balance --refresh` with the venues
    unreachable warned "could not mark …", then ended "positions at cost, not marked — use … or --refresh
    (live books)", advice to use the flag that had just failed. The line says the marks could not be read,
    and why in short."""
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on: connection refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ORION__KALSHI__PROD_BASE_URL", f"{down}/trade-api/v2")
    for key in ("GAMMA_URL", "CLOB_URL", "DATA_URL"):
        monkeypatch.setenv(f"ORION__POLYMARKET__{key}", down)
    res = _invoke("--db", ledger_url, command, "--refresh", "--format", "table")
    assert res.exit_code == 0, res.output
    assert "could not mark kalshi KXNBA-26-NYK: kalshi unavailable" in res.stderr, res.stderr
    (line,) = [x for x in res.stderr.splitlines() if x.startswith("today's P&L")]
    assert line.endswith("(0.29% used; positions at cost where the marks could not be read: kalshi unavailable)"), line
    assert "--refresh" not in line and "not marked" not in line, line


def test_balance_and_positions_show_one_pnl_for_one_source(ledger_url: str) -> None:
    """Found by black-box testing: `positions --demo` marked to the demo books, `balance --demo` (no
    --refresh) silently did not, so the two commands showed different P&L for one ledger."""
    def pnl(*args: str) -> dict[str, Any]:
        res = _invoke("--db", ledger_url, *args, "--demo", "--json")
        assert res.exit_code == 0, res.output
        (found,) = [r for r in json.loads(res.stdout) if r["type"] == "pnl"]
        return dict(found)

    assert pnl("balance") == pnl("positions") == pnl("balance", "--refresh")
    assert pnl("balance")["marked"] is True and pnl("balance")["today_pnl"] == "-0.247"


def test_positions_table_and_json(ledger_url: str) -> None:
    res = _invoke("--db", ledger_url, "positions", "--demo", "--format", "table")
    assert res.exit_code == 0, res.output
    assert "KXNBA-26-NYK" in res.stdout and "New York" in res.stdout and "-0.1" in res.stdout
    res = _invoke("--db", ledger_url, "positions", "--demo", "--jsonl")
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    (pos,) = [r for r in recs if r["type"] == "position"]
    assert {k: pos[k] for k in ("venue", "market", "side", "size", "avg_price", "exposure")} == {
        "venue": "kalshi", "market": "KXNBA-26-NYK", "side": "yes", "size": "10", "avg_price": "0.3",
        "exposure": "3"}
    assert (pos["mark"], pos["unrealised"], pos["fees"]) == ("0.29", "-0.1", "0.147")


def test_a_position_shows_the_category_its_exposure_is_counted_under(tmp_path: Path) -> None:
    """Found by a black-box audit: after a trade of the demo pair, the Kalshi position's record said
    category "Entertainment" while the category exposure records (and the CATEGORY_EXPOSURE check)
    counted it under "culture", so the positions list could not be matched to the category limit.
    The record's ``category`` is now the counted one; the venue's own name is ``venue_category``."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    db = open_database(url)
    pv = PaperVenue(Venue.KALSHI, db, demo_source(), load_settings(environ={}))

    async def buy() -> Any:
        market, book = await pv.market("KXUPONLY-01-BRIA")
        assert market.category == "Entertainment"
        ask = book.side(Side.YES).best_ask
        assert ask is not None
        req = OrderRequest(Venue.KALSHI, "KXUPONLY-01-BRIA", Side.YES, Action.BUY, D("1"), ask.price,
                           TimeInForce.FOK, "cli-cat")
        return await pv.submit(pv.prepare(req))

    assert asyncio.run(buy()).status is OrderStatus.FILLED
    db.dispose()
    res = _invoke("--db", url, "positions", "--json")
    assert res.exit_code == 0, res.output
    recs = json.loads(res.stdout)
    (pos,) = [r for r in recs if r["type"] == "position"]
    cats = {r["key"]: r["exposure"] for r in recs if r["type"] == "exposure" and r["kind"] == "category"}
    assert cats == {"culture": pos["exposure"]}
    assert pos["category"] == "culture", pos
    assert pos["venue_category"] == "Entertainment", pos
    table = _invoke("--db", url, "positions", "--format", "table")
    assert table.exit_code == 0 and "Entertainment" not in table.stdout and "culture" in table.stdout, table.output


def test_exposure_lines_show_what_the_exposure_limits_count(ledger_url: str) -> None:
    """Found by a black-box reviewer: `positions` showed exposure 157.6 where MARKET_EXPOSURE's refusal
    said "existing 159.8064": the checks count cost plus fees (and buys in flight), the lines the cost
    alone, so the trader saw $2.21 more room than the check allowed. Each line now also shows what the
    check counts there (the checks' own function) and its limit; a market only a buy in flight is
    counted in has a line too."""
    from orion_cli.risk.checks import counted_exposure
    from orion_cli.venues.trading import PreparedOrder

    db = open_database(ledger_url)
    # A buy in flight (an intent orion did not plan: no fees known) on a market with no position.
    req = OrderRequest(Venue.KALSHI, "KXNBA-26-BOS", Side.YES, Action.BUY, D("5"), D("0.40"), TimeInForce.FOK,
                       "cli-flight")
    Ledger(db, "paper").record_intent(PreparedOrder(req, "{}"))
    with db.read() as conn:
        book = counted_exposure(conn, "paper")
    db.dispose()
    for command in ("positions", "balance"):
        res = _invoke("--db", ledger_url, command, "--json")
        assert res.exit_code == 0, res.output
        lines = {(r["kind"], r["key"]): (r["exposure"], r["limit_counted"], r["limit"])
                 for r in json.loads(res.stdout) if r["type"] == "exposure"}
        # 10 × 0.30 = 3 at cost, + its fee 0.147 counted; the in-flight buy 5 × 0.40 = 2, no position
        # (recorded with no category, the check counts it as uncategorised).
        assert lines == {("market", "KXNBA-26-NYK"): ("3", "3.147", "200"),
                         ("market", "KXNBA-26-BOS"): ("0", "2", "200"),
                         ("category", "sports"): ("3", "3.147", "500"),
                         ("category", "uncategorised"): ("0", "2", "500")}, lines
        assert D(lines[("market", "KXNBA-26-NYK")][1]) == book.by_market[("kalshi", "KXNBA-26-NYK")]
        assert D(lines[("category", "sports")][1]) == book.by_category["sports"]
    table = _invoke("--db", ledger_url, "positions", "--format", "table")
    assert table.exit_code == 0 and "limit counts" in table.stdout and "3.147" in table.stdout, table.output


def test_exposure_the_limits_cannot_read_is_said_not_shown_as_zero(ledger_url: str) -> None:
    """Where the exposure checks fail closed (an execution's stored plan cannot be read for the fees of
    its order in flight), the lines carry no limit figure (null) and a warning says why."""
    from sqlalchemy import insert

    from orion_cli.store.tables import executions
    from orion_cli.venues.trading import PreparedOrder

    db = open_database(ledger_url)
    with db.write() as conn:
        conn.execute(insert(executions).values(key="bad-plan", opportunity_id="op", mode="paper", status="intents",
                                               size=D("5"), plan="{}", result="{}", created_at="2026-01-01T00:00:00Z",
                                               updated_at="2026-01-01T00:00:00Z"))
    req = OrderRequest(Venue.KALSHI, "KXNBA-26-BOS", Side.YES, Action.BUY, D("5"), D("0.40"), TimeInForce.FOK,
                       "cli-bad")
    Ledger(db, "paper").record_intent(PreparedOrder(req, "{}"), execution_id="bad-plan")
    db.dispose()
    res = _invoke("--db", ledger_url, "positions", "--json")
    assert res.exit_code == 0, res.output
    lines = [r for r in json.loads(res.stdout) if r["type"] == "exposure"]
    assert lines and all(r["limit_counted"] is None and r["limit"] is None for r in lines), lines
    assert "exposure limits' figures cannot be read" in res.stderr and "bad-plan" in res.stderr, res.stderr


def test_live_mode_without_a_vault_is_a_secrets_error(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live mode reads the venues with the vault's credentials; without them: exit 4, nothing on stdout."""
    monkeypatch.setenv("ORION__TRADING__MODE", "live")
    for cmd in ("balance", "positions"):
        res = _invoke("--db", ledger_url, cmd, "--json")
        assert res.exit_code == 4, res.output
        assert res.stdout == ""
        err = json.loads(res.stderr.strip().splitlines()[-1])
        assert err["exit_code"] == 4
    res = _invoke("--db", ledger_url, "balance", "--demo", "--json")
    assert res.exit_code == 2  # --demo is paper only


def _live_kalshi_sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """A started Kalshi simulator and the id of a throwaway key it knows, stored in a fresh vault the
    environment points live mode at (Polymarket disabled). The caller stops the simulator."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from sim.kalshi_sim import API_PREFIX, KalshiSim

    from orion_cli.secrets.store import open_store

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = "0b0f6c1e-2f1a-4c55-9a57-1c6b1e0d9a11"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    pw = tmp_path / "master"
    pw.write_text("a throwaway master password for this test")
    pw.chmod(0o600)
    monkeypatch.setenv("ORION_MASTER_PASSWORD_FILE", str(pw))
    from orion_cli.secrets.unlock import resolve_master_password

    vault = tmp_path / "vault.json"
    store = open_store("vault", vault_path=vault,
                       password=lambda new: resolve_master_password(vault, prompt=None, new=new))
    store.set_many({"kalshi_api_key_id": key_id, "kalshi_private_key": pem})
    store.close()
    sim = KalshiSim()
    sim.register_key(key_id, key.public_key())
    sim.start()
    monkeypatch.setenv("ORION__TRADING__MODE", "live")
    monkeypatch.setenv("ORION__POLYMARKET__ENABLED", "false")
    monkeypatch.setenv("ORION__SECRETS__VAULT_PATH", str(vault))
    monkeypatch.setenv("ORION__KALSHI__PROD_BASE_URL", sim.server.base_url + API_PREFIX)
    return sim, key_id


def test_live_balance_reads_the_venue_with_vault_credentials(tmp_path: Path, ledger_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: vault → signed Kalshi balance call → the simulator's figure, recorded in the ledger."""
    sim, key_id = _live_kalshi_sim(tmp_path, monkeypatch)
    sim.account(key_id).cash = D("123.4567")
    try:
        res = _invoke("--db", ledger_url, "balance", "--json")
        assert res.exit_code == 0, res.output
        records = json.loads(res.stdout)
        bal = next(r for r in records if r["type"] == "balance")
        assert (bal["venue"], bal["mode"], bal["available"]) == ("kalshi", "live", "123.4567")
        # Found by black-box testing: the first live `balance` of a ledger valued the day before recording
        # the venue's report, so its start-of-day equity read 0 (the next run showed the real figure).
        pnl = next(r for r in records if r["type"] == "pnl")
        assert (D(pnl["start_equity"]), D(pnl["equity"]), D(pnl["today_pnl"])) == (D("123.4567"), D("123.4567"), 0)
        assert "LIVE" in res.stderr
        db = open_database(ledger_url)
        try:
            recorded = Ledger(db, "live").balance(Venue.KALSHI)
        finally:
            db.dispose()
        assert recorded is not None and recorded.available == D("123.4567")
        assert key_id not in res.stdout + res.stderr

        # Polymarket enabled but not in the vault: shown as unavailable, Kalshi's figures still shown.
        monkeypatch.setenv("ORION__POLYMARKET__ENABLED", "true")
        res = _invoke("--db", ledger_url, "balance", "--json")
        assert res.exit_code == 0, res.output
        by_venue = {r["venue"]: r for r in json.loads(res.stdout) if r["type"] == "balance"}
        assert by_venue["kalshi"]["available"] == "123.4567"
        assert by_venue["polymarket"]["status"] == "unavailable"
        assert "polymarket credentials are not in the vault" in by_venue["polymarket"]["reason"]
        warned = [ln for ln in res.stderr.splitlines() if "polymarket credentials are not in the vault" in ln]
        assert len(warned) == 1 and "secrets encrypt`" in warned[0], res.stderr  # once, with the hint
    finally:
        sim.stop()


def test_live_refresh_marks_positions_to_the_venues_books(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: live `positions --refresh` / `balance --refresh` dropped the flag, so live P&L
    was always at cost (unrealised losses of an unhedged leg hidden) and the output said "not marked
    — use --refresh" after --refresh was given."""
    from sim.kalshi_sim import KalshiSim

    ticker = next(m["ticker"] for m in KalshiSim.recorded_markets() if m["status"] == "active")
    sim, key_id = _live_kalshi_sim(tmp_path, monkeypatch)
    sim.account(key_id).positions[ticker] = {"position": D("10"), "exposure": D("4.00"), "fees": D("0.17"),
                                             "traded": D("4.00"), "realized": D("0"), "updated": ""}
    sim.set_book(ticker, [["0.25", "30.00"], ["0.31", "12.00"]], [["0.60", "9.00"]])
    url = f"sqlite:///{tmp_path / 'live.db'}"
    open_database(url).dispose()
    try:
        def position(*args: str) -> dict[str, Any]:
            res = _invoke("--db", url, "positions", "--json", *args)
            assert res.exit_code == 0, res.output
            return next(r for r in json.loads(res.stdout) if r["type"] == "position")

        assert position()["mark"] is None
        marked = position("--refresh")
        assert (marked["market"], D(marked["mark"])) == (ticker, D("0.31"))  # the best YES bid
        res = _invoke("--db", url, "balance", "--refresh", "--json")
        assert res.exit_code == 0, res.output
        pnl = next(r for r in json.loads(res.stdout) if r["type"] == "pnl")
        assert pnl["marked"] is True, pnl
        assert "not marked" not in res.stderr
    finally:
        sim.stop()


class _Down:
    venue = Venue.KALSHI
    mode = "paper"

    async def balance(self) -> Any:
        raise VenueUnavailable("kalshi", "connection refused")

    async def positions(self) -> Any:  # pragma: no cover - never reached
        return []


def _kalshi_beside_paper_polymarket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kalshi: Any) -> str:
    """A ledger URL whose `balance`/`positions` report reads ``kalshi`` (a scripted failure) and a paper
    Polymarket venue on the demo data, as the live report would read two venues."""
    from orion_cli.cli.commands import accounts as accounts_cmd

    db_file = f"sqlite:///{tmp_path / 'l.db'}"
    settings = load_settings(environ={})

    def report(app: Any, snapshot: Any, demo: Any, mark: bool) -> Any:
        db = open_database(db_file)
        try:
            ok = PaperVenue(Venue.POLYMARKET, db, demo_source(), settings)
            return asyncio.run(gather({Venue.KALSHI: kalshi, Venue.POLYMARKET: ok}, Ledger(db), settings))
        finally:
            db.dispose()

    monkeypatch.setattr(accounts_cmd, "_report", report)
    return db_file


class _Rejecting(_Down):
    async def balance(self) -> Any:
        raise AuthError("kalshi rejected our credentials for GET /portfolio/balance: HTTP 401")


def test_a_venue_refusing_our_credentials_is_exit_4_with_the_other_venue_still_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by black-box testing: a 401 was shown as the venue unavailable, and with the other venue
    answering `balance` exited 0, so a revoked key went unnoticed from cron."""
    db_file = _kalshi_beside_paper_polymarket(tmp_path, monkeypatch, _Rejecting())
    res = _invoke("--db", db_file, "balance", "--json")
    assert res.exit_code == 4, res.output
    by_venue = {r["venue"]: r for r in json.loads(res.stdout) if r["type"] == "balance"}
    assert by_venue["kalshi"]["status"] == "unavailable" and "401" in by_venue["kalshi"]["reason"]
    assert by_venue["polymarket"]["status"] == "ok"
    assert "API key" in res.stderr


@pytest.mark.parametrize("fmt", ["--json", "table"])
def test_positions_says_which_venue_was_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """Found by black-box testing: with Kalshi unreachable, live `positions` printed only the P&L record
    (the table: "no open positions") and exited 0; the one trace was a warning that -q drops."""
    db_file = _kalshi_beside_paper_polymarket(tmp_path, monkeypatch, _Down())
    args = ["--json"] if fmt == "--json" else ["--format", "table"]
    res = _invoke("--db", db_file, "-q", "positions", *args)
    assert res.exit_code == 0, res.output
    if fmt == "--json":
        unseen = [r for r in json.loads(res.stdout) if r["type"] == "balance"]
        assert [(r["venue"], r["status"]) for r in unseen] == [("kalshi", "unavailable")]
        assert "connection refused" in unseen[0]["reason"]
    else:
        assert "venues not read" in res.stdout and "kalshi" in res.stdout and "connection refused" in res.stdout
        loud = _invoke("--db", db_file, "positions", *args)
        assert "no open positions on the venues that answered (kalshi unavailable)" in loud.stderr


def test_an_unreachable_venue_is_reported_not_fatal(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'l.db'}")
    settings = load_settings(environ={})
    ok = PaperVenue(Venue.POLYMARKET, db, demo_source(), settings)
    report = asyncio.run(gather({Venue.KALSHI: _Down(), Venue.POLYMARKET: ok}, Ledger(db), settings))  # type: ignore[dict-item]
    assert report.answered
    (down,) = report.unavailable
    assert down.to_record()["status"] == "unavailable" and "connection refused" in down.reason
    # Shown as "kalshi unavailable: <reason>": the reason is the cause, not the error's whole message
    # (found black-box: "kalshi unavailable: kalshi unavailable: …").
    assert not down.reason.startswith("kalshi unavailable"), down.reason
    alone = asyncio.run(gather({Venue.KALSHI: _Down()}, Ledger(db), settings))  # type: ignore[dict-item]
    assert not alone.answered
    db.dispose()


def test_the_ledgers_own_database_failing_is_a_storage_error_not_the_venue_unavailable(tmp_path: Path) -> None:
    """Found in review (as in reconcile): the paper venue's balance and positions are the ledger's, and
    its database failing there (busy, "database is locked") was shown as "kalshi unavailable: database
    is busy". A storage error is raised as it is: exit 3, reason storage_busy."""
    from orion_cli.core.errors import StorageError

    db = open_database(f"sqlite:///{tmp_path / 'l.db'}")
    settings = load_settings(environ={})
    busy = StorageError("database is busy: database is locked (sqlite:///l.db)", reason="storage_busy")

    class Busy(PaperVenue):
        async def positions(self) -> Any:
            raise busy

    venue = Busy(Venue.KALSHI, db, demo_source(), settings)
    with pytest.raises(StorageError) as raised:
        asyncio.run(gather({Venue.KALSHI: venue}, Ledger(db, "paper"), settings))
    assert raised.value is busy
    db.dispose()


class _DemoSource:
    """The demo data set as a source; a subclass changes what its ``book`` reads."""

    name = "demo"

    def __init__(self) -> None:
        self.inner = demo_source()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _FeeUnreadable(_DemoSource):
    """The demo data set, except that a Kalshi market's fee (its series) cannot be read now."""

    async def book(self, ref: str, *, venue: Venue | None = None, with_fees: bool = True) -> Any:
        if with_fees and venue is Venue.KALSHI:
            raise VenueUnavailable("kalshi", "series KXNBA answered 503")
        return await self.inner.book(ref, venue=venue, with_fees=with_fees)


def test_a_position_is_marked_though_its_fee_cannot_be_read(ledger_url: str) -> None:
    """A mark is the best bid of the held side: no fee enters it. Marked through the read with fees, a
    Kalshi position whose series did not answer went unmarked (valued at cost, a mark error shown), so
    the day's P&L shown left out what the book said it was worth."""
    db = open_database(ledger_url)
    try:
        settings = load_settings(environ={})
        source = _FeeUnreadable()
        venues = {Venue.KALSHI: PaperVenue(Venue.KALSHI, db, source, settings)}  # type: ignore[arg-type]
        report = asyncio.run(gather(venues, Ledger(db, "paper"), settings, source=source))  # type: ignore[arg-type]
    finally:
        db.dispose()
    assert report.mark_errors == []
    (held,) = report.positions
    bid = asyncio.run(demo_source().book("KXNBA-26-NYK", venue=Venue.KALSHI))[1].side(Side.YES).best_bid
    assert bid is not None and held.mark == bid.price


class _NoTokenBookMissing(_DemoSource):
    """The demo data set, except that the CLOB does not return a Polymarket market's NO token's book now."""

    async def book(self, ref: str, *, venue: Venue | None = None, with_fees: bool = True) -> Any:
        import dataclasses

        from orion_cli.core.models import BookSide

        market, book = await self.inner.book(ref, venue=venue, with_fees=with_fees)
        return market, dataclasses.replace(book, no=BookSide(),
                                           unreadable={"no": f"no book returned for token {market.no_token[:20]}…"})


def test_a_held_side_whose_book_was_not_read_is_not_marked_at_zero(tmp_path: Path) -> None:
    """Found in review: a held Polymarket side whose token's book the CLOB did not return (the other
    token's read, the book marked ``unavailable`` on that side) was marked as a side without bids, at 0:
    `positions` and `balance` showed the position worthless and the day's P&L a phantom loss of its
    whole cost. It is left unmarked (at cost), and the mark error says which side could not be read."""
    cond = "0x4f3421fb2daf5cca7430ed8d8132463963081572d75434393a1808fdb8829fe8"
    db = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        settings = load_settings(environ={})
        pv = PaperVenue(Venue.POLYMARKET, db, demo_source(), settings)

        async def buy() -> Any:
            await pv.market(cond)
            req = OrderRequest(Venue.POLYMARKET, cond, Side.NO, Action.BUY, D("10"), D("0.90"),
                               TimeInForce.FOK, "cli-no-1")
            return await pv.submit(pv.prepare(req))

        assert asyncio.run(buy()).status is OrderStatus.FILLED
        source = _NoTokenBookMissing()
        venues = {Venue.POLYMARKET: PaperVenue(Venue.POLYMARKET, db, source, settings)}  # type: ignore[arg-type]
        report = asyncio.run(gather(venues, Ledger(db, "paper"), settings, source=source))  # type: ignore[arg-type]
        both = asyncio.run(gather(venues, Ledger(db, "paper"), settings, source=demo_source()))  # type: ignore[arg-type]
    finally:
        db.dispose()
    (held,) = report.positions
    assert held.mark is None, held  # at cost, not 0
    (problem,) = report.mark_errors
    assert problem.startswith(f"polymarket {cond}: the NO side could not be read (no book returned for token")
    (read,) = both.positions  # both sides read: marked at the NO bid, as before
    assert both.mark_errors == [] and read.mark == D("0.896"), read


# -- what the BREAKER check decides now, beside the P&L shown ------------------------------------------


def _breaker_fields(pnl: dict[str, Any]) -> tuple[Any, ...]:
    return pnl["breaker_check"], pnl["breaker_refuses_until"], pnl["breaker_basis"]


@pytest.mark.parametrize("command", ["balance", "positions"])
def test_balance_says_the_breaker_refuses_while_a_daily_trip_is_in_force(
        ledger_url: str, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """Found in review: after a daily trip (a watch marking at collapsed bids) and `orion resume`,
    `balance` said "today's P&L -1.7575 of a 40 daily loss limit (4.39% used…)" while every trade was
    refused by BREAKER until the reset. It says the check refuses, until when and why."""
    from datetime import UTC, datetime

    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.risk.breaker import Breaker, next_reset
    from orion_cli.risk.halt import KillSwitch

    monkeypatch.setenv("ORION__BREAKER__DAILY_LOSS", "2")
    db = open_database(ledger_url)
    try:
        s = load_settings()
        led = Ledger(db, "paper")
        watch = Breaker(db, s, mode="paper", ledger=led, alerts=NullAlertSink())
        # The 10 YES marked at 0: 3 + the 0.147 fee lost, over the 2 limit: the daily trip.
        assert watch.update({(Venue.KALSHI, "KXNBA-26-NYK", Side.YES): D(0)}).trips == ("daily_loss",)
        KillSwitch(db).release()
    finally:
        db.dispose()
    until = next_reset(datetime.now(UTC), 0).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    res = _invoke("--db", ledger_url, command, "--json")
    assert res.exit_code == 0, res.output
    (pnl,) = [r for r in json.loads(res.stdout) if r["type"] == "pnl"]
    assert (pnl["used_pct"], pnl["marked"]) == ("7.35", False), pnl  # at cost: 0.147 of 2
    assert _breaker_fields(pnl) == ("refuses", until, "cost"), pnl
    assert pnl["breaker_detail"].startswith("daily loss breaker tripped in the trading day that began "), pnl
    res = _invoke("--db", ledger_url, command, "--format", "table", "-q")
    assert res.exit_code == 0, res.output
    (said,) = [line for line in res.stderr.splitlines() if "BREAKER" in line]
    assert said.startswith("warning: the BREAKER check refuses every paper trade now: daily loss breaker tripped "
                           "in the trading day that began "), said
    assert f"it resets at {until[:10]} 00:00 UTC" in said, said
    if command == "balance":
        assert "refuses" in res.stdout and until in res.stdout, res.stdout


def test_balance_says_the_check_passes_at_cost_when_the_marks_shown_are_past_the_limit(
        ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The converse, found in review: marked, `balance` showed the limit more than used up while a single
    trade passed BREAKER, which values positions at cost. It says the check's basis and verdict."""
    monkeypatch.setenv("ORION__BREAKER__DAILY_LOSS", "0.2")
    res = _invoke("--db", ledger_url, "balance", "--demo", "--json")
    assert res.exit_code == 0, res.output
    (pnl,) = [r for r in json.loads(res.stdout) if r["type"] == "pnl"]
    assert (pnl["today_pnl"], pnl["used_pct"], pnl["marked"]) == ("-0.247", "123.50", True), pnl
    assert _breaker_fields(pnl) == ("passes", None, "cost"), pnl
    assert pnl["breaker_detail"].startswith("daily loss 0.147 < limit 0.20;"), pnl
    res = _invoke("--db", ledger_url, "balance", "--demo", "--format", "table", "-q")
    assert res.exit_code == 0, res.output
    (said,) = [line for line in res.stderr.splitlines() if "BREAKER" in line]
    assert said.startswith("warning: at these marks the daily loss is past its limit, but the BREAKER check of a "
                           "trade values open positions at cost and passes (daily loss 0.147 < limit 0.20;"), said


@pytest.mark.parametrize("command", ["balance", "positions"])
def test_a_changed_reset_hour_is_said_to_wait_for_the_recorded_trading_days_end(
        ledger_url: str, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """A changed breaker.reset_hour_utc takes effect when the recorded trading day ends (changed at once, a
    daily trip in force was lifted early and the day's loss forgotten): said in a warning kept with -q,
    with when; the pnl record says the day's bounds (`since`, `until`)."""
    from datetime import UTC, datetime, timedelta

    began = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # the fill's day, hour 0
    monkeypatch.setenv("ORION__BREAKER__RESET_HOUR_UTC", "12")
    res = _invoke("--db", ledger_url, command, "--format", "table", "-q")
    assert res.exit_code == 0, res.output
    end = began + timedelta(days=1)
    assert (f"warning: breaker.reset_hour_utc is 12, but the trading day that began {began:%Y-%m-%d} 00:00 UTC was "
            f"recorded under another reset hour: it ends at {end:%Y-%m-%d} 00:00 UTC, and the new hour takes effect "
            f"then (the next trading day runs from {end:%Y-%m-%d} 00:00 UTC to {end:%Y-%m-%d} 12:00 UTC)") \
        in res.stderr, res.stderr
    res = _invoke("--db", ledger_url, command, "--json")
    (pnl,) = [r for r in json.loads(res.stdout) if r["type"] == "pnl"]
    assert (pnl["since"], pnl["until"]) == (f"{began:%Y-%m-%dT%H:%M:%S.%f}Z", f"{end:%Y-%m-%dT%H:%M:%S.%f}Z"), pnl
    monkeypatch.setenv("ORION__BREAKER__RESET_HOUR_UTC", "0")
    res = _invoke("--db", ledger_url, command, "--format", "table", "-q")
    assert res.exit_code == 0 and "reset_hour_utc" not in res.stderr, res.stderr
