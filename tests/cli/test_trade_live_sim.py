"""``orion trade --live`` end to end: the real CLI in a subprocess, the vault, both loopback venue simulators.

Nothing is stubbed between the command line and the venues: the subprocess unlocks a throwaway vault
with ``ORION_MASTER_PASSWORD_FILE`` (at the suite's cheap KDF: tests/cheap_kdf.py), builds the live
clients, re-reads both books from the simulators, runs the pre-trade pipeline against balances read
from them, and sends RSA-PSS signed Kalshi and EIP-712 signed Polymarket orders over 127.0.0.1.
Orders are then counted where they landed (the simulators), and the live ledger is held against the
venues' own positions, by ``orion reconcile`` and by ``orion audit verify``.

The pair (as in tests/execution/test_executor_sim.py): Kalshi YES asks 0.40 × 50, Polymarket NO asks
0.50 × 30; 10 contracts a leg.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import forked_orion
import pytest
from cheap_kdf import ORION_ARGV, accept_cheap_kdf
from cli.test_trade_watch import Watch
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from eth_account import Account
from json_documents import json_documents
from sim.kalshi_sim import API_PREFIX, KalshiSim
from sim.polymarket_sim import PolymarketSim, _tokens_of
from sim.server import FaultRule
from sqlalchemy import select

from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ceil_to
from orion_cli.core.opportunity import Leg, Opportunity
from orion_cli.store import opportunities as op_store
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database
from orion_cli.store.ledger import Ledger
from orion_cli.store.tables import executions

TICKER = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"
KEY_ID = "5d1c3e0a-7b2f-4c8e-9a61-2f4b8d0e6c17"
OP_ID = "simlive01"
# A Safe address left in the vault while the signature type is 0 (EOA): the EOA signs and makes the
# order, so this must be ignored (the Polymarket client refuses it as an EOA's funder, the venue as maker).
STRAY_FUNDER = "0x1111111111111111111111111111111111111111"
TIMEOUT = 60
# Most tests here are of what a venue sends and how orion answers it, which the ledger's backend does not
# change: they run on a SQLite ledger only. The tests whose subject includes the ledger's own writes (the
# fills it books, reconcile's corrections and capital, halt's records, the alerts it reads back) run on
# PostgreSQL too. Storage itself is tested on both backends under tests/store, and eight live processes
# share one database of each kind in tests/execution/test_concurrent_live_sim.py.
ONE_BACKEND = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class World:
    ksim: KalshiSim
    psim: PolymarketSim
    db_url: str
    env: dict[str, str]
    cond: str
    no_token: str
    wallet: str
    secrets: dict[str, str] = field(repr=False)

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """The real CLI in its own process, stdin closed (no terminal, no prompt can wait): forked from an
        orion imported once (tests/forked_orion.py), or started afresh for a run that sets a variable read
        at import (ORION_TEST_CRASH_AT)."""
        proc = forked_orion.run(["--db", self.db_url, *args], env={**self.env, **(extra_env or {})},
                                timeout=TIMEOUT)
        self.assert_no_secret(proc.stdout + proc.stderr)
        return proc.returncode, proc.stdout, proc.stderr

    def assert_no_secret(self, text: str) -> None:
        low = text.lower()
        for name, value in self.secrets.items():
            if value.lower() in low:  # not a bare assert: its report would print the value
                pytest.fail(f"{name} leaked into the output", pytrace=False)

    def kalshi_created(self) -> list[dict[str, Any]]:
        acct = self.ksim.account(KEY_ID)
        return [acct.order(oid) or {} for oid in acct.created]

    def poly_created(self) -> list[dict[str, Any]]:
        return list(self.psim.orders.values())

    def venue_positions(self) -> dict[tuple[Venue, Side], D]:
        out: dict[tuple[Venue, Side], D] = {}
        for ticker, pos in self.ksim.account(KEY_ID).positions.items():
            assert ticker == TICKER
            if pos["position"]:
                out[(Venue.KALSHI, Side.YES if pos["position"] > 0 else Side.NO)] = abs(D(pos["position"]))
        for row in self.psim.positions:
            if row.get("proxyWallet") == self.wallet and D(str(row["size"])):
                assert row["asset"] == self.no_token
                out[(Venue.POLYMARKET, Side.NO)] = D(str(row["size"]))
        return out

    def poly_cash(self) -> D:
        """The Polymarket simulator's pUSD balance of this account."""
        return D(self.psim.account(self.secrets["polymarket_api_key"]).cash) / 1_000_000

    def poly_fees_charged(self) -> D:
        """The taker fees the Polymarket simulator charged, in pUSD (a BUY's fee under "pusd")."""
        return sum((D(units) for _id, _side, units in self.psim.fees_charged), D(0)) / 1_000_000

    def ledger_cash(self) -> dict[Venue, tuple[D, D]]:
        """The live ledger's cash per venue, with the fees of the fills it holds there."""
        db = open_database(self.db_url)
        try:
            led = Ledger(db, "live")
            return {b.venue: (b.total, sum((f.fee for f in led.fills(venue=b.venue)), D(0))) for b in led.balances()}
        finally:
            db.dispose()

    def ledger_positions(self) -> dict[tuple[Venue, Side], D]:
        db = open_database(self.db_url)
        try:
            return {(p.venue, p.side): p.size for p in Ledger(db, "live").positions() if p.size}
        finally:
            db.dispose()


def _execution(out: str) -> dict[str, Any]:
    """The execution record among a trade's stdout documents."""
    return next(d for d in json_documents(out) if isinstance(d, dict) and d.get("type") == "execution")


def _crash_at(world: World, step: str, *key: str) -> None:
    """The live trade under ``key``, SIGKILLed at execution step ``step`` (ORION_TEST_CRASH_AT)."""
    code, _out, err = world.run(*LIVE, *key, extra_env={"ORION_TEST_CRASH_AT": step})
    assert code == -9, err


def _store_opportunity(db_url: str, cond: str, no_token: str) -> None:
    """OP_ID: buy YES on Kalshi's TICKER and NO on Polymarket's ``cond``, 10 contracts."""
    now = datetime.now(UTC)
    legs = (Leg(Venue.KALSHI, TICKER, Side.YES, D(10), D("0.4"), D("0.4"), D(0), 1, D(50), D(4)),
            Leg(Venue.POLYMARKET, cond, Side.NO, D(10), D("0.5"), D("0.5"), D(0), 1, D(30), D(5),
                token_id=no_token))
    opp = Opportunity(OP_ID, "cross_venue", legs, D(10), D(9), D(0), D("0.1"), D("0.1"), D(1), D(1),
                      D("0.1"), None, None, D(0), D("0.3"), now, now + timedelta(minutes=10), f"{TICKER}~{cond}")
    db = open_database(db_url)
    try:
        with db.write() as conn:
            op_store.save(conn, [opp], source="live")
    finally:
        db.dispose()


def _pem_lines(pem: bytes) -> list[str]:
    return [ln for ln in pem.decode().splitlines() if not ln.startswith("-----")]


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _vault(tmp_path: Path, values: dict[str, str | bytes]) -> tuple[Path, Path]:
    """A throwaway vault (at the cheap test KDF the CLI runs here accept) and its master password file."""
    from orion_cli.secrets.store import open_store
    from orion_cli.secrets.unlock import resolve_master_password
    from orion_cli.secrets.vault import TEST_KDF

    pw = tmp_path / "master"
    pw.write_text("a throwaway master password for this test only")
    pw.chmod(0o600)
    vault = tmp_path / "vault.json"
    saved = os.environ.get("ORION_MASTER_PASSWORD_FILE")
    os.environ["ORION_MASTER_PASSWORD_FILE"] = str(pw)  # the unlock chain reads it from the environment
    try:
        store = open_store("vault", vault_path=vault, kdf=TEST_KDF, allow_weak_kdf=True,
                           password=lambda new: resolve_master_password(vault, prompt=None, new=new))
        store.set_many(values)
        store.close()
    finally:
        if saved is None:
            del os.environ["ORION_MASTER_PASSWORD_FILE"]
        else:
            os.environ["ORION_MASTER_PASSWORD_FILE"] = saved
    return pw, vault


@pytest.fixture(autouse=True)
def _cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process reads the world's vault too (reconcile and venue clients built in the test)."""
    accept_cheap_kdf(monkeypatch)


@pytest.fixture
def world(db_url: str, tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Iterator[World]:
    ksim = KalshiSim()
    ksim.register_key(KEY_ID, rsa_key.public_key())
    later = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    km = next(m for m in ksim.markets if m["ticker"] == TICKER)  # the recorded market, still open
    km["close_time"] = km["expiration_time"] = km["latest_expiration_time"] = later
    # YES bids 0.38 × 50; NO bids 0.60 × 50 → YES asks 0.40 × 50
    ksim.set_book(TICKER, [["0.3800", "50.00"]], [["0.6000", "50.00"]])
    psim = PolymarketSim.universe(2, seed=11, markets_per_event=1)
    ev, m = next((ev, m) for ev, m in psim.all_markets() if len(_tokens_of(m)) == 2)
    m["orderPriceMinTickSize"], m["negRisk"], m["feesEnabled"] = 0.01, False, True
    ev["negRisk"] = ev["enableNegRisk"] = False  # orion reads neg-risk from the event too; the venue signs for it
    m["feeSchedule"] = {"exponent": 1, "rate": 0.04, "takerOnly": True, "rebateRate": 0}
    m["active"], m["closed"], m["acceptingOrders"] = True, False, True
    m["endDate"] = later
    cond: str = m["conditionId"]
    yes, no = _tokens_of(m)
    for token, asks in ((yes, [("0.55", "100")]), (no, [("0.52", "100"), ("0.50", "30")])):
        book = psim.books[token]
        book["asks"] = [{"price": p, "size": s} for p, s in asks]
        book["bids"] = [{"price": "0.47", "size": "100"}]
        book["tick_size"], book["neg_risk"] = "0.01", False
    acct = Account.create()
    pkey_hex = acct.key.hex().removeprefix("0x")
    creds = psim.add_account(acct.address, balance=D("1000"))

    pem = _pem(rsa_key)
    pw, vault = _vault(tmp_path, {
        "kalshi_api_key_id": KEY_ID, "kalshi_private_key": pem,
        "polymarket_private_key": pkey_hex, "polymarket_api_key": creds["apiKey"],
        "polymarket_api_secret": creds["secret"], "polymarket_api_passphrase": creds["passphrase"],
        "polymarket_funder_address": STRAY_FUNDER, "polymarket_signature_type": "0",
    })

    _store_opportunity(db_url, cond, no)  # as `orion scan` would have stored it, naming the simulators' markets

    ksim.start()
    psim.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORION", "KALSHI_", "POLYMARKET_"))}
    env.update({
        "ORION_HOME": os.environ["ORION_HOME"],
        "NO_COLOR": "1",
        "ORION_MASTER_PASSWORD_FILE": str(pw),
        "ORION__SECRETS__VAULT_PATH": str(vault),
        "ORION__KALSHI__PROD_BASE_URL": ksim.server.base_url + API_PREFIX,
        "ORION__POLYMARKET__GAMMA_URL": psim.gamma_url,
        "ORION__POLYMARKET__CLOB_URL": psim.clob_url,
        "ORION__POLYMARKET__DATA_URL": psim.data_url,
        "ORION__POLYMARKET__GEOBLOCK_URL": psim.geoblock_url,
        "ORION__TRADING__MODE": "live",  # reconcile reads the live ledger; trade still needs both flags
    })
    secrets = {"master password": pw.read_text(), "kalshi_api_key_id": KEY_ID, "polymarket_private_key": pkey_hex,
               "polymarket_api_key": creds["apiKey"], "polymarket_api_secret": creds["secret"],
               "polymarket_api_passphrase": creds["passphrase"]}
    secrets.update({f"kalshi_private_key line {i}": ln for i, ln in enumerate(_pem_lines(pem)) if len(ln) >= 16})
    try:
        yield World(ksim, psim, db_url, env, cond, no, acct.address.lower(), secrets)
    finally:
        psim.stop()
        ksim.stop()


LIVE = ("trade", OP_ID, "--live", "--authorize-live", "--confirm", "--json")


def test_live_trade_fills_both_legs_once_and_the_ledger_matches_the_venues(world: World) -> None:
    started = time.monotonic()
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-1")
    assert code == 0, err
    assert "LIVE trading authorized" in err
    execution = _execution(out)
    assert execution["status"] == "done", execution["message"]
    orders = execution["orders"]
    assert sorted(o["venue"] for o in orders) == ["kalshi", "polymarket"]
    assert all(o["status"] == "filled" for o in orders), orders
    assert {D(o["filled_size"]) for o in orders} == {D(10)}  # equal shares on both legs

    # Counted at the venues: one order per leg, each the size of the plan.
    kalshi, poly = world.kalshi_created(), world.poly_created()
    assert len(kalshi) == 1 and len(poly) == 1, (kalshi, poly)
    assert (kalshi[0]["ticker"], D(kalshi[0]["initial_count_fp"])) == (TICKER, D(10))
    assert (poly[0]["market"], poly[0]["asset_id"]) == (world.cond, world.no_token)
    # The EOA signs and makes the order: the stray funder in the vault is ignored for signature type 0.
    assert poly[0]["maker_address"].lower() == world.wallet

    expected = {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert world.venue_positions() == expected
    assert world.ledger_positions() == expected
    # The live cash the breaker values: the balances read before the trade, moved by its fills (their
    # fees included), is what the venues now hold, each having charged its own taker fee.
    cash = world.ledger_cash()
    assert cash[Venue.KALSHI][0] == world.ksim.account(KEY_ID).cash, cash
    assert cash[Venue.POLYMARKET] == (world.poly_cash(), world.poly_fees_charged()), cash

    # The same command and key again: reported from the ledger, nothing new at either venue.
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-1")
    assert code == 0, err
    again = _execution(out)
    assert again["status"] == "already_done", again["message"]
    assert "nothing re-sent" in err
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1
    assert world.venue_positions() == expected

    code, out, err = world.run("reconcile", "--json")
    assert code == 0, err + out
    code, out, err = world.run("audit", "verify")
    assert code == 0, err + out
    print(json.dumps({"suite": "trade live sim", "db": world.db_url.split(":", 1)[0],
                      "seconds": round(time.monotonic() - started, 2)}))


@ONE_BACKEND
@pytest.mark.parametrize("how", ["phrase", "flags"])
def test_a_live_trade_on_a_terminal_unlocks_the_vault_by_the_typed_password(world: World, how: str) -> None:
    """Found by a black-box review: with no master password in the environment, a live trade on a terminal
    crashed with exit 1 ("asyncio.run() cannot be called from a running event loop") when the banner's
    balances unlocked the vault: the password prompt was asked inside the event loop reading them, so the
    typed phrase could never be reached. On the terminal, it asks for the password, then the phrase."""
    from pty_session import run_on_pty

    env = {k: v for k, v in world.env.items() if k != "ORION_MASTER_PASSWORD_FILE"}
    password = world.secrets["master password"]
    argv = [*ORION_ARGV, "--db", world.db_url, "trade", OP_ID, "--live", "--confirm", "--idempotency-key", how]
    answers = [("Master password", password)]
    if how == "phrase":
        answers.append(("to trade with real money:", "CONFIRM LIVE TRADING"))
    else:
        argv.append("--authorize-live")
    code, shown = run_on_pty(argv, answers, env, timeout=TIMEOUT)
    world.assert_no_secret(shown)
    assert code == 0, shown[-3000:]
    assert shown.count("<answered>") == len(answers), shown[-3000:]  # each asked once
    assert f"LIVE trading authorized ({'typed' if how == 'phrase' else 'flag'})" in shown
    assert "kalshi balance: available $" in shown  # the banner read the balances with the unlocked vault
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1


@ONE_BACKEND
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_at_the_vault_password_prompt_ends_the_live_trade_at_once(world: World, sig: signal.Signals) -> None:
    """Found reviewing the fix above: the password prompt asked from a thread (inside the event loop) was waited
    for by a thread pool's exit, so `kill` (SIGTERM), SIGINT or SIGHUP while it was shown left the process
    hanging until someone pressed Enter. It stops at once (exit 130), nothing authorized or sent."""
    from pty_session import run_on_pty

    env = {k: v for k, v in world.env.items() if k != "ORION_MASTER_PASSWORD_FILE"}
    argv = [*ORION_ARGV, "--db", world.db_url, "trade", OP_ID, "--live", "--confirm", "--idempotency-key", "stop"]
    started = time.monotonic()
    code, shown = run_on_pty(argv, [("Master password", sig)], env, timeout=30)
    assert code == 130, shown[-3000:]
    assert time.monotonic() - started < 20 and "<answered>" in shown
    assert world.kalshi_created() == [] and world.poly_created() == []
    db = open_database(world.db_url)
    try:
        assert AuditLog(db).tail(10, types=("live.authorized",)) == []
    finally:
        db.dispose()


@ONE_BACKEND
@pytest.mark.parametrize("venue", ["kalshi", "polymarket"])
def test_an_order_answer_nested_too_deeply_to_parse_is_an_unknown_outcome_looked_up(world: World, venue: str) -> None:
    """Found by a fault review: an order answer of ~2,000 nested brackets (valid JSON no parser here can
    recurse into) raised RecursionError, which no reader caught: exit 1 with the Polymarket leg filled, the
    Kalshi leg never sent and trading not halted. It is an answer orion cannot read: the order is looked up,
    found filled, and the trade goes on to hedge it."""
    deep = b'{"x":' + b"[" * 3000 + b"]" * 3000 + b"}"
    server, path = ((world.ksim.server, API_PREFIX + "/portfolio/events/orders") if venue == "kalshi"
                    else (world.psim.server, "/clob/order"))
    server.add_fault(FaultRule("malformed", method="POST", path_prefix=path, times=1, body=deep))
    code, out, err = world.run(*LIVE, "--idempotency-key", f"deep-{venue}")
    assert code == 0, err
    assert _execution(out)["status"] == "done", _execution(out)["message"]
    assert "internal error" not in err
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1
    expected = {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert world.venue_positions() == expected == world.ledger_positions()


@ONE_BACKEND
@pytest.mark.timeout(120)
@pytest.mark.parametrize("venue", ["kalshi", "polymarket"])
def test_an_order_answer_sent_a_byte_at_a_time_is_looked_up_once_the_timeout_passes(world: World,
                                                                                     venue: str) -> None:
    """Found by a fault review: an order's answer dribbled a byte a second held the trade for minutes (228 s at
    timeout_seconds 5, the filled first leg unhedged meanwhile): httpx bounds each read, not the request. Past
    timeout_seconds the outcome is unknown, looked up, and the trade goes on: one order per leg, hedged."""
    server, path = ((world.ksim.server, API_PREFIX + "/portfolio/events/orders") if venue == "kalshi"
                    else (world.psim.server, "/clob/order"))
    server.add_fault(FaultRule("trickle", method="POST", path_prefix=path, times=1, seconds=0.3))
    started = time.monotonic()
    short = {"ORION__KALSHI__TIMEOUT_SECONDS": "1", "ORION__POLYMARKET__TIMEOUT_SECONDS": "1"}
    code, out, err = world.run(*LIVE, "--idempotency-key", f"slow-{venue}", extra_env=short)
    assert code == 0, err
    assert _execution(out)["status"] == "done", _execution(out)["message"]
    assert time.monotonic() - started < 60
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1
    expected = {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert world.venue_positions() == expected == world.ledger_positions()


@ONE_BACKEND
def test_a_live_trade_while_halted_is_refused_before_any_venue_is_asked(world: World) -> None:
    """Found by a black-box review: halted, `trade --live --authorize-live --confirm` printed the live banner,
    read both venues' balances with the vault's credentials and audited `live.authorized` before the HALTED
    check refused it; with the venues down it exited 5 where cron reads 6 for "halted". Refused first now."""
    code, _, err = world.run("halt", "--reason", "drill")
    assert code == 0, err
    before = (len(world.ksim.requests), len(world.psim.requests))
    code, out, err = world.run(*LIVE, "--idempotency-key", "halted-1")
    assert code == 6 and json.loads(err.strip().splitlines()[-1])["reason"] == "HALTED", err
    assert "refused by HALTED" in err and "LIVE TRADING" not in err and out == ""
    assert (len(world.ksim.requests), len(world.psim.requests)) == before  # nothing asked of either venue
    db = open_database(world.db_url)
    try:
        events = AuditLog(db).tail(100, types=("live.authorized", "risk.rejected"))
    finally:
        db.dispose()
    assert [(e.type, e.payload["checks"][0]["name"]) for e in events] == [("risk.rejected", "HALTED")]
    code, _, err = world.run("resume", "--yes")
    assert code == 0, err
    code, out, err = world.run(*LIVE, "--idempotency-key", "halted-1")  # the same key, after the release
    assert code == 0, err
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1


def _engage_paper_only_halt(world: World) -> None:
    """The halt the paper loss breaker's trip engages: paper trading only."""
    from orion_cli.risk.halt import KillSwitch

    db = open_database(world.db_url)
    try:
        KillSwitch(db, mode="paper").engage("paper loss breaker tripped: daily loss 0.54 >= 0.40", kind="breaker",
                                            automatic=True)
    finally:
        db.dispose()


def test_a_halt_orion_engaged_for_paper_trading_does_not_stop_a_live_trade(world: World) -> None:
    """Found reviewing paper against live on one ledger: a paper drill's loss-breaker trip engaged the kill
    switch every mode shares, and a live trade then, or already between its legs, was halted (its first leg
    sold back at a real loss). A halt orion engages for paper trading halts paper trading only; `halt --status`
    says so."""
    _engage_paper_only_halt(world)
    code, out, err = world.run("halt", "--status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["halted"] is True and status["scope"] == "paper", status
    assert "it halts paper trading only" in err, err
    code, out, err = world.run(*LIVE, "--idempotency-key", "beside-a-paper-halt")
    assert code == 0, err
    assert _execution(out)["status"] == "done"
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1
    code, out, err = world.run("halt", "--status", "--live", "--json")
    assert code == 0 and json.loads(out)["halted"] is True, err  # still there for paper trading: shown, kept


@ONE_BACKEND
def test_a_live_reconcile_judges_a_paper_only_halt_as_live_trading_sees_it(world: World, tmp_path: Path) -> None:
    """Found reviewing the paper-only halt: a live reconcile beside one told the operator live trading was halted,
    that resuming an interrupted live execution would sell its filled leg back, and to run `orion resume --yes`
    first (which releases the paper drill's halt too), and its metrics said orion_halted 1; the resume hedged."""
    key = ("--idempotency-key", "k-interrupted")
    _crash_at(world, "l2_marked", *key)
    _engage_paper_only_halt(world)
    metrics = tmp_path / "orion.prom"
    code, out, err = world.run("reconcile", "--json", "--metrics-file", str(metrics))
    assert code == 7, err + out
    assert "sells the filled leg back" not in out + err and "trading is halted" not in err, err + out
    assert "\norion_halted 0\n" in metrics.read_text(), metrics.read_text()


@ONE_BACKEND
def test_a_live_halt_on_drift_over_a_paper_only_halt_is_alerted(world: World) -> None:
    """Found reviewing the paper-only halt: `reconcile --halt-on-drift` widening a paper drill's halt to live
    trading sent no halt alert (the kill switch read as halted already), though live trading had just stopped."""
    _engage_paper_only_halt(world)
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(5), D("0.02"), time.time())  # bought by hand
    code, out, err = world.run("reconcile", "--halt-on-drift", "--json",
                               extra_env={"ORION__ALERTS__ENABLED": "true", "ORION__ALERTS__RETRIES": "0"})
    assert code == 7, err + out
    db = open_database(world.db_url)
    try:  # alerts on without a webhook URL in the vault: each is audited as alert.failed
        kinds = [e.payload["kind"] for e in AuditLog(db).tail(500, types=("alert.failed",))]
    finally:
        db.dispose()
    assert "halt" in kinds and "reconcile.drift" in kinds, kinds
    code, out, err = world.run("halt", "--status", "--json")
    assert code == 0 and json.loads(out)["scope"] == "all", out


@ONE_BACKEND
def test_two_ledgers_trading_one_account_with_one_key_each_send_and_book_their_own_orders(
        world: World, tmp_path: Path) -> None:
    """Found by a black-box run: ledger A traded under `--idempotency-key nightly-1`, then ledger B (another
    --db, the same venue accounts) under the same key with --size 5. Client order ids were of the key alone:
    B's Kalshi leg was answered 409 order_already_exists and took A's order (10 filled) for its own, so B
    said "done", booked 10 Kalshi contracts it never bought and left its 5 Polymarket NO unhedged. Ids are
    salted with each ledger's own id now: two Kalshi orders, each ledger booking only its own."""

    other = replace(world, db_url=f"sqlite:///{tmp_path / 'b.db'}")
    _store_opportunity(other.db_url, world.cond, world.no_token)
    # B records its first reports while the accounts hold nothing: met later, beside A's positions, its first
    # report is held until `reconcile --fix` adopts them (a ledger never counts without what they hold).
    code, _, err = other.run("balance")
    assert code == 0, err
    code, out, err = world.run(*LIVE, "--idempotency-key", "nightly-1")
    assert code == 0, err
    assert _execution(out)["status"] == "done"
    code, out, err = other.run(*LIVE, "--size", "5", "--idempotency-key", "nightly-1")
    assert code == 0, err
    b = _execution(out)
    assert b["status"] == "done" and "more than" not in b["message"] and not b["overfill"], b["message"]
    assert sorted((o["venue"], D(o["size"]), D(o["filled_size"])) for o in b["orders"]) == [
        ("kalshi", D(5), D(5)), ("polymarket", D(5), D(5))]

    kalshi = world.kalshi_created()
    assert sorted(D(o["initial_count_fp"]) for o in kalshi) == [D(5), D(10)]
    assert len({o["client_order_id"] for o in kalshi}) == 2, kalshi
    assert world.venue_positions() == {(Venue.KALSHI, Side.YES): D(15), (Venue.POLYMARKET, Side.NO): D(15)}
    assert world.ledger_positions() == {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert other.ledger_positions() == {(Venue.KALSHI, Side.YES): D(5), (Venue.POLYMARKET, Side.NO): D(5)}
    for ledger in (world, other):  # each booked only its own Kalshi order
        _books_only_its_own_kalshi_order(ledger, kalshi, "nightly-1")


def _books_only_its_own_kalshi_order(ledger: World, kalshi: list[dict[str, Any]], key: str) -> None:
    """``ledger`` books one Kalshi order for ``key``, the venue's order under its own client order id, as
    filled as the venue says, and its audit chain verifies."""
    db = open_database(ledger.db_url)
    try:
        mine = [o for o in Ledger(db, "live").orders(execution_id=key) if o.venue is Venue.KALSHI]
    finally:
        db.dispose()
    assert len(mine) == 1
    venue = next(o for o in kalshi if o["client_order_id"] == mine[0].client_order_id)
    assert (mine[0].venue_order_id, mine[0].filled_size) == (venue["order_id"], D(venue["initial_count_fp"]))
    code, out, err = ledger.run("audit", "verify")
    assert code == 0, err + out


@ONE_BACKEND
def test_a_ledger_restored_from_a_backup_trading_the_same_key_sends_and_books_its_own_orders(
        world: World, tmp_path: Path) -> None:
    """Found in review: a copy of a ledger (a backup restored after storage_corrupt, as the README advises,
    or `cp orion.db` to run a second one) has the same ledger id, so the same key gave byte-identical
    client order ids: Kalshi answered the copy's order with 409, the order found under the id matched it
    (same plan: ticker, side, price, count) and was adopted. The copy said "done" with the original's 10
    Kalshi contracts and bought 10 more Polymarket NO: Kalshi 10 YES against Polymarket 20 NO. Each
    execution's ids are salted with its own nonce now: two Kalshi orders, each ledger its own, hedged."""
    import shutil

    code, _, err = world.run("balance")  # its first reports (a backup without any meets the first-contact hold)
    assert code == 0, err
    backup = tmp_path / "backup.db"
    shutil.copyfile(world.db_url.removeprefix("sqlite:///"), backup)  # the backup, made before A's trade
    restored = replace(world, db_url=f"sqlite:///{backup}")
    code, out, err = world.run(*LIVE, "--idempotency-key", "nightly-1")
    assert code == 0, err
    assert _execution(out)["status"] == "done"
    code, out, err = restored.run(*LIVE, "--idempotency-key", "nightly-1")
    assert code == 0, err
    b = _execution(out)
    assert b["status"] == "done" and "more than" not in b["message"] and not b["overfill"], b["message"]

    kalshi = world.kalshi_created()
    assert sorted(D(o["initial_count_fp"]) for o in kalshi) == [D(10), D(10)]
    assert len({o["client_order_id"] for o in kalshi}) == 2, kalshi
    assert world.venue_positions() == {(Venue.KALSHI, Side.YES): D(20), (Venue.POLYMARKET, Side.NO): D(20)}
    for ledger in (world, restored):  # each booked only its own Kalshi order, and is hedged
        assert ledger.ledger_positions() == {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
        _books_only_its_own_kalshi_order(ledger, kalshi, "nightly-1")


@ONE_BACKEND
def test_a_ledger_restored_over_itself_refuses_live_trades_until_reconcile_adopts_what_it_forgot(
        world: World, tmp_path: Path) -> None:
    """Found reviewing a ledger behind its venues: restored from last night's backup (over the ledger, as
    a restore does), it had forgotten trade B, whose contracts the venues still held; B re-run under its
    key placed the pair again (30 contracts a side where the trader meant 20), and a market limit was
    passed by the forgotten positions, until someone ran reconcile. The first command after the restore
    finds the ledger behind what this machine saw of it: recorded, and the live venues held."""
    import sqlite3

    path = Path(world.db_url.removeprefix("sqlite:///"))
    code, out, err = world.run(*LIVE, "--idempotency-key", "a")
    assert code == 0, err
    backup = tmp_path / "nightly.db"
    src, dst = sqlite3.connect(path), sqlite3.connect(backup)
    src.backup(dst)
    src.close()
    dst.close()
    code, out, err = world.run(*LIVE, "--idempotency-key", "b")
    assert code == 0, err
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, path)
    sent = (len(world.kalshi_created()), len(world.poly_created()))

    code, out, err = world.run("audit", "verify", "--json")  # read-only: says so, records nothing
    assert code == 7 and "restored from a backup" in json.loads(out)["problem"], out + err
    code, out, err = world.run(*LIVE, "--idempotency-key", "b")
    assert code == 6, out + err
    assert "restored from a backup" in err and "reconcile --live --fix" in err
    assert json.loads(err.strip().splitlines()[-1])["reason"] == "BALANCE", err
    assert (len(world.kalshi_created()), len(world.poly_created())) == sent  # nothing placed again
    assert world.venue_positions() == {(Venue.KALSHI, Side.YES): D(20), (Venue.POLYMARKET, Side.NO): D(20)}
    code, out, err = world.run("audit", "tail", "--type", "ledger.rolled_back", "--json")
    assert code == 0 and [json.loads(line)["payload"]["held"] for line in out.splitlines()] == [
        ["kalshi", "polymarket"]], out + err
    code, out, err = world.run("audit", "verify")  # the rollback is in the log now: it goes on from there
    assert code == 0, out + err

    code, out, err = world.run("reconcile", "--live", "--fix", "--json")  # adopts B's fills
    assert code == 7, out + err
    assert world.ledger_positions() == world.venue_positions()
    code, out, err = world.run("reconcile", "--live", "--json")
    assert code == 0, out + err
    assert [r["live_trading_refused"] for r in json.loads(out)] == [None, None], out


def _poly_fills(world: World) -> list[tuple[str, D, D, D]]:
    """The live ledger's Polymarket fills: (order, size, price, fee)."""
    db = open_database(world.db_url)
    try:
        return [(f.client_order_id, f.size, f.price, f.fee) for f in Ledger(db, "live").fills(venue=Venue.POLYMARKET)]
    finally:
        db.dispose()



def orion(world: World) -> str:
    """`orion` as every command a message names is written: with the --db this test runs on (the
    message's command, run as printed, acts on the same ledger)."""
    from orion_cli.core.command_line import global_options

    return f"orion {global_options(None, world.db_url)}"

@ONE_BACKEND
def test_a_polymarket_fill_whose_trade_record_reports_no_fee_is_booked_at_the_markets_fee(world: World) -> None:
    """Found in review: a Polymarket fill's fee was the trade record's fee_rate_bps, which a live V2 taker
    fill reported as 0 while it was charged (py-clob-client-v2 #107): the ledger booked no fee, so the loss
    breaker tripped late and its cash drifted from the venue's. `orion trade` now tells the client each
    leg's fee model (the market's feeSchedule, 0.04) before sending: 10 NO @ 0.50 cost 10 × 0.04 × 0.25."""
    world.psim.trade_fee_rate_bps = "0"
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-poly-fee")
    assert code == 0, err
    assert _execution(out)["status"] == "done"
    assert [(size, price, fee) for _coid, size, price, fee in _poly_fills(world)] == [(D(10), D("0.5"), D("0.1"))]


@ONE_BACKEND
@pytest.mark.parametrize("venue", ["kalshi", "polymarket"])
def test_a_fill_figure_finer_than_the_ledger_stores_is_unreadable_not_an_internal_error(world: World,
                                                                                         venue: str) -> None:
    """Found by a numbers review: a fill's price (Polymarket) or fee (Kalshi) with 11 decimal places passed
    the venue reader (it took 40) and reached the ledger's write (10 places), which refused it after money
    had moved: exit 1 with the first leg filled, the hedge never sent (Polymarket first) or the ledger
    short of a leg (Kalshi), trading not halted and every reconcile exit 1. Refused where it is read, the
    fills are unreadable: both legs are sent and hedged, and reconcile reports what it cannot record."""
    server, suffix, key, value = (
        (world.psim.server, "/clob/data/trades", "price", "0.50000000001") if venue == "polymarket"
        else (world.ksim.server, "/portfolio/fills", "fee_cost", "0.16800000001"))
    pattern, own = next((pat, h) for meth, pat, h in server.routes if meth == "GET" and pat.pattern.endswith(suffix))

    def finer(req: Any, m: Any) -> Any:
        answer = own(req, m)
        body = answer.body if isinstance(answer.body, dict) else {}
        for row in body.get("data") or body.get("fills") or []:
            row[key] = value
        return answer

    server.routes.insert(0, ("GET", pattern, finer))
    code, out, err = world.run(*LIVE, "--idempotency-key", f"finer-{venue}")
    assert "internal error" not in err
    assert code == 0 and _execution(out)["status"] == "done", err
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1  # hedged, not left naked
    code, _out, err = world.run("reconcile", "--json")
    assert code == 7 and "internal error" not in err, err  # drift to look at, not exit 1 on every run


def _reconcile_records(out: str) -> dict[str, dict[str, Any]]:
    """`orion reconcile --json`'s per-venue records, by venue."""
    (runs,) = json_documents(out)  # one array: a record per venue
    return {d["venue"]: d for d in runs}


@ONE_BACKEND
def test_a_fee_charging_polymarket_leg_books_the_fee_the_venue_charged_and_reconciles_clean(world: World) -> None:
    """The Polymarket leg's market charges takers 0.04 (its feeSchedule), and the simulator charges it as the
    venue does, the BUY's fee out of the pUSD balance (orion's model): 10 NO @ 0.50 pay 5 + 10 × 0.04 × 0.25.
    The ledger books that fee on the fill, its cash is the venue's to the micro-dollar, and reconcile finds
    nothing to report."""
    assert world.psim.fee_denomination == "pusd"
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-fee-pusd")
    assert code == 0 and _execution(out)["status"] == "done", err
    assert [(side, units) for _id, side, units in world.psim.fees_charged] == [("BUY", 100_000)]
    assert [(size, price, fee) for _coid, size, price, fee in _poly_fills(world)] == [(D(10), D("0.5"), D("0.1"))]
    assert world.poly_cash() == D(1000) - D(5) - D("0.1")
    assert world.ledger_cash()[Venue.POLYMARKET] == (world.poly_cash(), world.poly_fees_charged())
    expected = {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert world.venue_positions() == world.ledger_positions() == expected

    code, out, err = world.run("reconcile", "--json")
    assert code == 0, err + out
    poly = _reconcile_records(out)["polymarket"]
    assert (poly["status"], poly["drifts"], poly["pending"]) == ("clean", [], []), poly
    assert D(poly["balance"]["total"]) == world.poly_cash()
    # And judged past the grace period (nothing left pending because it just changed): still clean.
    [late] = _reconcile_past_grace(world, [Venue.POLYMARKET])
    assert (late.status, late.drifts, late.pending) == ("clean", [], [])


@ONE_BACKEND
def test_a_polymarket_buy_fee_taken_in_shares_is_position_drift_once_the_grace_period_is_over(world: World) -> None:
    """Which asset a BUY's fee comes out of is not settled by the captures (reference §4); orion models pUSD.
    Were it shares, 10 NO bought at 0.50 deliver 10 − 0.1 while the venue's answer and trade record say 10,
    and orion books 10. Reconcile run at once does not call it drift: the position changed within the
    grace period (two minutes), so it is only pending, and the run is clean. Judged after that, it is
    position drift."""
    world.psim.fee_denomination = "shares"
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-fee-shares")
    assert code == 0 and _execution(out)["status"] == "done", err
    assert [(side, units) for _id, side, units in world.psim.fees_charged] == [("BUY", 100_000)]
    assert world.poly_cash() == D(1000) - D(5)  # no pUSD fee: the shares paid it
    assert world.venue_positions()[(Venue.POLYMARKET, Side.NO)] == D("9.9")
    assert world.ledger_positions()[(Venue.POLYMARKET, Side.NO)] == D(10)
    assert [fee for *_rest, fee in _poly_fills(world)] == [D("0.1")]  # booked as pUSD, as orion models it

    # At once: not drift. The ledger's position changed within the grace period, so the difference is
    # pending and the run is clean (exit 0), as for a trade still recording its fills.
    code, out, err = world.run("reconcile", "--json")
    assert code == 0, err + out
    poly = _reconcile_records(out)["polymarket"]
    assert (poly["status"], poly["drifts"]) == ("clean", []), poly
    assert len(poly["pending"]) == 1, poly
    assert poly["pending"][0].endswith(f"{world.cond} no: ledger 10, venue 9.9; changed in the last 120 s"), poly
    # Once the grace period is over: position drift, the ledger's 10 against the venue's 9.9.
    [late] = _reconcile_past_grace(world, [Venue.POLYMARKET])
    assert late.status == "drift" and late.pending == []
    assert [(d.kind, d.market, d.side, d.ledger_qty, d.venue_qty) for d in late.drifts] == [
        ("position", world.cond, Side.NO, D(10), D("9.9"))]


def test_reconcile_books_an_interrupted_polymarket_legs_fill_at_the_fee_its_plan_read(world: World) -> None:
    """The trade is killed once its Polymarket leg (the thinner, so the first) is sent, before its fill is
    recorded; a fresh process's reconcile finds it filled. The trade record says fee_rate_bps 0, so the fee
    comes from the plan the execution persisted (reconcile reads no market), not from the record."""
    world.psim.trade_fee_rate_bps = "0"
    _crash_at(world, "l1_sent", "--idempotency-key", "live-sim-poly-fee-crash")
    assert len(world.poly_created()) == 1 and world.kalshi_created() == []
    assert _poly_fills(world) == []  # killed before the fill was recorded

    _reconcile_past_grace(world, [Venue.POLYMARKET])
    assert [(size, price, fee) for _coid, size, price, fee in _poly_fills(world)] == [(D(10), D("0.5"), D("0.1"))]


def _reconcile_past_grace(world: World, venues: list[Venue]) -> list[Any]:
    """``orion reconcile`` (no --fix) in this process, as a run once the grace period is over would be:
    what changed seconds ago is judged, not left pending. Its :class:`VenueReconcile` results."""
    import asyncio

    from orion_cli.cli.live_venues import aclose_venues, live_venues
    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.core.config import load_settings
    from orion_cli.core.reconcile import reconcile_async
    from orion_cli.secrets.store import open_store
    from orion_cli.secrets.unlock import resolve_master_password

    settings = load_settings(environ=world.env)
    vault = Path(world.env["ORION__SECRETS__VAULT_PATH"])
    store = open_store("vault", vault_path=vault, password=lambda new: resolve_master_password(
        vault, environ=world.env, prompt=None, keyring_get=None, new=new))
    try:
        clients = live_venues(settings, store, venues)
    finally:
        store.close()

    async def check() -> list[Any]:
        db = open_database(world.db_url)
        try:
            return await reconcile_async(db, Ledger(db, "live"), clients, settings, mode="live", fix=False,
                                         alerts=NullAlertSink(), grace=timedelta(0))
        finally:
            await aclose_venues(clients.values())
            db.dispose()

    return asyncio.run(check())


@ONE_BACKEND
def test_a_polymarket_clock_notice_is_one_of_orions_warnings_not_a_raw_log_line(world: World) -> None:
    """Found black-box: "WARNING orion_cli.venues.polymarket.trading: polymarket: could not read the CLOB's
    clock …" reached stderr in the logger's format, and -q hid it. It is a `warning:` line as the
    command's own, kept with -q (which keeps warnings) and beside JSON output (stderr: stdout is data)."""
    world.psim.server.add_fault(FaultRule("status", status=200, path_prefix="/clob/time", body={"not": "a time"}))
    for quiet in ((), ("-q",)):
        code, out, err = world.run(*quiet, "balance", "--json")
        assert code == 0, err
        assert [ln for ln in err.splitlines() if "CLOB's clock" in ln] == [
            "warning: polymarket: could not read the CLOB's clock (time: expected unix seconds, got dict); "
            "signing with the local clock"], err
        assert "orion_cli" not in err and "WARNING" not in err, err
        assert json.loads(out)  # the data, whole, on stdout


@ONE_BACKEND
def test_settlement_and_report_notices_are_orions_warnings_kept_with_quiet(world: World) -> None:
    """Found black-box: "WARNING orion_cli.core.settlement: polymarket: its balance report is not recorded: …"
    reached stderr in the logger's format, and -q (which keeps warnings: a cron log must) dropped it; so
    did a voided market's notice and "settlements or transfers not readable". Each is now a `warning:`
    line of the command itself, with -q and beside JSON on stdout: a live trade's, `balance`'s,
    `positions`'."""
    from orion_cli.core.settlement import hold_report

    def warnings(err: str, words: str) -> list[str]:
        assert "orion_cli" not in err and "WARNING" not in err, err
        return [ln for ln in err.splitlines() if words in ln and ln.startswith("warning: ")]

    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-warn-1")
    assert code == 0 and _execution(out)["status"] == "done", err
    db = open_database(world.db_url)
    try:
        with db.write() as conn:
            hold_report(conn, "live", Venue.POLYMARKET, "1 position drift(s) not fixed", now=datetime.now(UTC))
    finally:
        db.dispose()
    code, out, err = world.run("-q", *LIVE, "--idempotency-key", "live-sim-warn-2")  # a live trade
    assert code == 6 and "refused by BALANCE" in err, err  # a held venue is refused (the limits are blind to it)
    assert len(warnings(err, "polymarket: its balance report is not recorded: `orion --db")) == 1, err

    world.ksim.settle_market(TICKER, "void")
    code, out, err = world.run("-q", "balance", "--json")
    assert code == 0 and json.loads(out), err
    assert len(warnings(err, "polymarket: its balance report is not recorded")) == 1, err
    assert len(warnings(err, f"kalshi {TICKER}: the venue voided the market")) == 1, err

    world.ksim.server.add_fault(FaultRule("status", status=400, path_prefix=API_PREFIX + "/portfolio/deposits"))
    code, out, err = world.run("-q", "positions", "--json")
    assert code == 0 and json_documents(out), err
    assert len(warnings(err, "kalshi: settlements or transfers not readable")) == 1, err


@ONE_BACKEND
def test_live_positions_show_the_fees_a_venue_reports_and_null_where_it_reports_none(world: World) -> None:
    """Found by a black-box audit: live `orion positions` showed `fees: "0"` and `realized_pnl: "0"` for
    both venues, though Kalshi reports fees_paid_dollars (the fee its fill paid). Polymarket's Data API
    reports no fee: null (not reported), never a made-up 0."""
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-fees")
    assert code == 0 and _execution(out)["status"] == "done", err
    kalshi_fee = world.ksim.account(KEY_ID).positions[TICKER]["fees"]
    assert kalshi_fee > 0
    code, out, err = world.run("positions", "--json")
    assert code == 0, err + out
    held = {r["venue"]: r for r in json_documents(out)[0] if r["type"] == "position"}
    assert set(held) == {"kalshi", "polymarket"}, out
    assert (D(held["kalshi"]["fees"]), D(held["kalshi"]["realized_pnl"])) == (kalshi_fee, D(0))
    assert (held["polymarket"]["fees"], held["polymarket"]["realized_pnl"]) == (None, None)


@ONE_BACKEND
def test_live_positions_show_the_category_the_ledger_counts_them_under(world: World) -> None:
    """Found with the black-box audit's category finding: a venue's position report names no category,
    so live `orion positions` listed every position, and its category exposure, as uncategorised while
    the CATEGORY_EXPOSURE check counted the ledger's positions under their markets' categories. Each
    live position now takes the category the ledger recorded for its market."""
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-category")
    assert code == 0 and _execution(out)["status"] == "done", err
    db = open_database(world.db_url)
    try:
        recorded = {(p.venue.value, p.market_id): p.category for p in Ledger(db, "live").positions()}
    finally:
        db.dispose()
    assert recorded[("kalshi", TICKER)] == "Sports" and len(recorded) == 2, recorded  # Polymarket's: none
    code, out, err = world.run("positions", "--json")
    assert code == 0, err + out
    (recs,) = json_documents(out)
    held = {r["venue"]: r for r in recs if r["type"] == "position"}
    counted = {r["key"] for r in recs if r["type"] == "exposure" and r["kind"] == "category"}
    assert counted == {"sports", "uncategorised"}, out
    assert {v: r["category"] for v, r in held.items()} == {"kalshi": "sports", "polymarket": "uncategorised"}, out
    assert {v: r["venue_category"] for v, r in held.items()} == {"kalshi": "Sports", "polymarket": ""}, out


def test_both_markets_settled_one_already_redeemed_reconcile_clean_at_their_payouts(world: World) -> None:
    """The end of every arbitrage: Kalshi settles YES's market NO, Polymarket resolves NO's market NO and
    the holder claims the winnings in the venue's app before orion looks. Reconcile closes both at
    their payouts, with no drift (a vanished position was drift before), and the ledger's cash is
    what the venues hold."""
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-settle")
    assert code == 0 and _execution(out)["status"] == "done", err
    world.ksim.settle_market(TICKER, "no")  # the YES leg pays 0
    world.psim.resolve_market(world.cond, 1)  # the NO leg pays 1 a share
    assert world.psim.redeem(world.wallet, world.cond) == D(10)
    assert world.venue_positions() == {}

    code, out, err = world.run("reconcile", "--json")
    assert code == 0, err + out
    (runs,) = json_documents(out)  # one array: a record per venue
    # Nothing left to wait for either: the vanished positions are settled ones, not changes to recheck.
    assert {d["venue"]: (d["status"], d["pending"]) for d in runs} == {"kalshi": ("clean", []),
                                                                       "polymarket": ("clean", [])}, out
    db = open_database(world.db_url)
    try:
        led = Ledger(db, "live")
        settled = {(r["venue"], r["market"]): r for r in led.settlements()}
        spent = {v: sum((f.price * f.size + f.fee for f in led.fills(venue=v)), D(0)) for v in Venue}
    finally:
        db.dispose()
    assert set(settled) == {("kalshi", TICKER), ("polymarket", world.cond)}
    k, p = settled[("kalshi", TICKER)], settled[("polymarket", world.cond)]
    assert (k["result"], k["contracts"], k["payout"], k["source"]) == ("no", D(10), D(0), "settlements")
    assert (p["result"], p["contracts"], p["payout"], p["source"]) == ("no", D(10), D(10), "market outcome")
    # Both already in the cash the venues reported: none moved twice.
    assert not k["cash_moved"] and not p["cash_moved"]
    assert world.ledger_positions() == {}
    # Each leg's profit is what it paid less what its fills cost, fees included.
    assert k["realized_pnl"] == -spent[Venue.KALSHI] and p["realized_pnl"] == D(10) - spent[Venue.POLYMARKET]
    assert k["realized_pnl"] + p["realized_pnl"] > 0  # the arbitrage's edge, banked
    cash = world.ledger_cash()  # reconcile recorded each venue's report
    assert cash[Venue.KALSHI][0] == world.ksim.account(KEY_ID).cash, cash
    assert cash[Venue.POLYMARKET][0] == D(world.psim.account(world.secrets["polymarket_api_key"]).cash) / 1_000_000

    code, out, err = world.run("reconcile", "--json")  # settled once: the next run has nothing to do
    assert code == 0, err + out
    code, out, err = world.run("audit", "verify")
    assert code == 0, err + out


def test_a_kalshi_withdrawal_is_capital_for_balance_and_reconcile_not_a_loss(world: World) -> None:
    """A trader who took $600 out of Kalshi used to show a $600 loss for the day: a daily-loss trip
    and a halt for the rest of the trading day."""
    code, out, err = world.run("balance", "--json")  # the venues' first reports: capital as a whole
    assert code == 0, err
    time.sleep(1.02 - time.time() % 1)  # the venue states times in whole seconds: the next one
    out_id = world.ksim.transfer(KEY_ID, "withdrawal", 60_000, method="wire")
    world.ksim.transfer(KEY_ID, "deposit", 25_000, status="pending")  # not in the cash yet: not counted
    in_id = world.ksim.transfer(KEY_ID, "deposit", 10_000, fee_cents=150)  # $98.50 reaches the cash
    code, out, err = world.run("balance", "--json")
    assert code == 0, err
    assert world.ledger_cash()[Venue.KALSHI][0] == D("498.5")
    db = open_database(world.db_url)
    try:
        pnl = Ledger(db, "live").daily_pnl(daily_loss=D(10_000), daily_loss_pct=D(100))
        counted = {e.payload["kind"]: e.payload for e in AuditLog(db).tail(20, types=("capital.transfer",))}
    finally:
        db.dispose()
    assert pnl.pnl == D("-1.5"), pnl  # the fee is the loss it is, not capital
    assert len(counted) == 2, counted
    event, deposit = counted["withdrawal"], counted["deposit"]
    assert (event["id"], event["kind"], event["capital"], event["fee"]) == (out_id, "withdrawal", "-600", "0")
    # Found auditing the log: the fee's figure was nowhere in it, the $1.50 loss unexplained.
    assert (deposit["id"], deposit["capital"], deposit["fee"]) == (in_id, "100", "1.5"), deposit

    code, out, err = world.run("reconcile", "--json")  # listed again: counted once
    assert code == 0, err + out
    assert {d["venue"]: d["counts"]["transfers"] for d in json_documents(out)[0]} == {"kalshi": 0, "polymarket": 0}
    code, out, err = world.run("audit", "verify")
    assert code == 0, err + out


@ONE_BACKEND
def test_a_hedge_kalshi_refuses_our_credentials_for_is_unwound_and_the_trade_exits_4(world: World) -> None:
    """Found in review: Kalshi answered the hedge's create with its recorded 401 (auth__skew_minus30s: a
    skewed clock; a read-only key is refused the same way while its signed reads work). Taken for a
    lost answer, the hedge was looked up, re-sent until the limit and the trade halted as "not found after
    3 attempts whose answers were lost" (exit 6), 10 Polymarket NO left naked. The venue placed
    nothing: the Polymarket leg is sold back at once, and the trade exits 4 naming the refusal."""
    from sim.kalshi_sim import load_fixture

    create = FaultRule("status", status=401, body=load_fixture("auth__skew_minus30s"), method="POST",
                       path_prefix=f"{API_PREFIX}/portfolio/events/orders")
    world.ksim.server.add_fault(create)
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-auth")
    assert code == 4, err
    execution = _execution(out)
    assert execution["status"] == "unwound", execution["message"]
    error = json.loads(err.strip().splitlines()[-1])
    assert error["reason"] == "auth" and error["exit_code"] == 4, error
    assert "kalshi refused orion's credentials for the second leg" in error["message"], error
    assert "header_timestamp_expired" in error["message"] and "hint: check the API key id" in err
    assert f"`{orion(world)} secrets check --online`" in err and "answers were lost" not in err
    assert create.fired == 1 and world.kalshi_created() == []  # sent once, never re-sent or retried
    assert [o["side"] for o in world.poly_created()] == ["BUY", "SELL"]  # the first leg and its sale
    assert world.venue_positions() == {} and world.ledger_positions() == {}
    code, out, err = world.run("halt", "--status", "--json")
    assert code == 0 and json.loads(out)["halted"] is False, out
    code, out, err = world.run("audit", "verify")
    assert code == 0, err + out


def _poly_market(world: World) -> dict[str, Any]:
    return world.psim.market(world.cond)


@ONE_BACKEND
def test_a_market_gamma_calls_plain_but_the_clob_book_calls_neg_risk_is_signed_for_the_neg_risk_exchange(
        world: World) -> None:
    """Found in review: orders were signed for the exchange Gamma's negRisk named, and Gamma's metadata can
    lag the CLOB. The simulator, as the venue, checks an order's signature against the flag its book states
    (neg_risk true here, Gamma false): signed for the plain CTF exchange, the leg was refused "invalid
    signature". The book's flag now signs it; Gamma's still decides baskets."""
    assert _poly_market(world)["negRisk"] is False
    for token in _tokens_of(_poly_market(world)):
        world.psim.books[token]["neg_risk"] = True
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-clob-neg-risk")
    assert code == 0, err
    execution = _execution(out)
    assert execution["status"] == "done", execution["message"]
    (poly,) = world.poly_created()
    assert poly["asset_id"] == world.no_token and world.psim.token_info(world.no_token)["neg_risk"] is True
    assert world.venue_positions() == {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}


@ONE_BACKEND
def test_an_unwind_is_priced_on_the_clob_books_tick_not_gammas(world: World) -> None:
    """Gamma says tick 0.001, the CLOB's books 0.01 (the venue holds orders to the book's). The hedge is
    refused (Kalshi's 401), so the 10 NO bought at 0.50 (fee 0.10: 0.51 a share) are sold back within
    max_unwind_loss 0.55: on the book's grid the lowest such price is 0.47; on Gamma's it was 0.465, a
    price off the venue's grid."""
    from sim.kalshi_sim import load_fixture

    _poly_market(world)["orderPriceMinTickSize"] = 0.001
    world.ksim.server.add_fault(FaultRule("status", status=401, body=load_fixture("auth__skew_minus30s"),
                                          method="POST", path_prefix=f"{API_PREFIX}/portfolio/events/orders"))
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-clob-tick",
                               extra_env={"ORION__TRADING__MAX_UNWIND_LOSS": "0.55"})
    assert code == 4, err
    execution = _execution(out)
    assert execution["status"] == "unwound", execution["message"]
    assert D(execution["unwind"]["limit_price"]) == D("0.47"), execution["unwind"]
    assert [o["side"] for o in world.poly_created()] == ["BUY", "SELL"]
    assert world.venue_positions() == {}


@ONE_BACKEND
def test_an_unwound_polymarket_leg_books_both_fees_the_venue_charged(world: World) -> None:
    """The hedge is refused (Kalshi's 401) and the 10 NO bought at 0.50 are sold back at 0.47, each a taker
    in a 0.04 market: the venue charges the buy 0.1 and the sale 10 × 0.04 × 0.47 × 0.53 = 0.09964 (out of
    its proceeds). The ledger's cash, which the loss breaker values, is the venue's, both fees paid."""
    from sim.kalshi_sim import load_fixture

    world.ksim.server.add_fault(FaultRule("status", status=401, body=load_fixture("auth__skew_minus30s"),
                                          method="POST", path_prefix=f"{API_PREFIX}/portfolio/events/orders"))
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-unwind-fees",
                               extra_env={"ORION__TRADING__MAX_UNWIND_LOSS": "0.55"})
    assert code == 4 and _execution(out)["status"] == "unwound", err
    assert [(side, units) for _id, side, units in world.psim.fees_charged] == [("BUY", 100_000), ("SELL", 99_640)]
    assert sorted(fee for *_rest, fee in _poly_fills(world)) == [D("0.09964"), D("0.1")]
    assert world.poly_cash() == D(1000) - D(5) - D("0.1") + D("4.7") - D("0.09964")
    assert world.ledger_cash()[Venue.POLYMARKET] == (world.poly_cash(), world.poly_fees_charged())
    assert world.venue_positions() == world.ledger_positions() == {}


@ONE_BACKEND
def test_a_clob_taking_another_order_version_fails_the_trade_with_exit_5_naming_it(world: World) -> None:
    """The Polymarket leg (the thinner, so the first) is refused order_version_mismatch and GET /version
    reports 3: nothing re-signed, nothing placed, no Kalshi leg sent, and the trade exits 5 naming it."""
    world.psim.clob_version = 3
    code, out, err = world.run(*LIVE, "--idempotency-key", "live-sim-version")
    assert code == 5, err
    assert _execution(out)["status"] == "failed"
    error = json.loads(err.strip().splitlines()[-1])
    assert error["reason"] == "ORDER_VERSION_MISMATCH" and "order version 3" in error["message"], error
    posted = [r for r in world.psim.requests if r.method == "POST" and r.path == "/clob/order"]
    assert len(posted) == 1 and world.poly_created() == [] and world.kalshi_created() == []


@ONE_BACKEND
def test_a_limit_refuses_live_and_nothing_reaches_the_venues(world: World) -> None:
    code, out, err = world.run(*LIVE, "--size", "10", extra_env={"ORION__LIMITS__ORDER_NOTIONAL": "3"})
    assert code == 6, err
    assert json.loads(err.strip().splitlines()[-1])["reason"] == "ORDER_NOTIONAL", err
    assert world.kalshi_created() == [] and world.poly_created() == []
    assert world.ledger_positions() == {}
    db = open_database(world.db_url)
    try:
        assert [o for o in Ledger(db, "live").orders() if o.venue_order_id] == []
    finally:
        db.dispose()
    code, out, err = world.run("audit", "verify")
    assert code == 0, err + out


@ONE_BACKEND
def test_a_live_preview_with_a_leg_on_a_disabled_venue_is_refused_without_a_request_to_that_venue(
        world: World) -> None:
    """Found in review: the preview of a trade with a leg on a disabled venue was made to show the plan (as
    it does on recorded data), which on the live books read the disabled venue's market and book; a venue
    is often disabled because it is down or blocked, and its outage (exit 5) then hid the reason. Live,
    the preview is refused as --confirm is (exit 6, VENUE_DISABLED), before any request to that venue."""
    off = {"ORION__POLYMARKET__ENABLED": "false"}
    before = len(world.psim.requests)
    code, _, err = world.run("trade", OP_ID, "--live", "--authorize-live", "--size", "10", "--json", extra_env=off)
    assert code == 6 and json.loads(err.strip().splitlines()[-1])["reason"] == "VENUE_DISABLED", err
    assert len(world.psim.requests) == before  # nothing asked of the disabled venue
    code, _, err = world.run(*LIVE, "--size", "10", extra_env=off)
    assert code == 6 and json.loads(err.strip().splitlines()[-1])["reason"] == "VENUE_DISABLED", err
    assert len(world.psim.requests) == before
    assert world.kalshi_created() == [] and world.poly_created() == []


@ONE_BACKEND
def test_a_first_live_trade_whose_report_cannot_be_recorded_is_refused_by_balance(world: World) -> None:
    """Review rev1: the first live trade on a venue whose report could not be recorded (its transfers
    unreadable: the report is skipped and the trade went on) filled with no balance row: its fills
    moved no cash, and the next report, net of them, counted whole as capital, so their cost read as
    today's profit and hid as large a loss from the daily breaker. BALANCE now refuses it, nothing is
    sent; once the report can be recorded the same command trades."""
    world.ksim.server.add_fault(FaultRule("status", status=503, path_prefix=f"{API_PREFIX}/portfolio/deposits"))
    code, out, err = world.run(*LIVE)
    assert code == 6, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert rec["reason"] == "BALANCE" and "no balance report" in rec["message"], rec
    assert f"`{orion(world)} balance`" in rec["message"], rec  # on this ledger
    assert world.kalshi_created() == [] and world.poly_created() == []
    assert Venue.KALSHI not in world.ledger_cash() and world.ledger_positions() == {}
    world.ksim.server.clear_faults()
    code, out, err = world.run(*LIVE)
    assert code == 0, err
    assert _execution(out)["status"] == "done"
    assert set(world.ledger_cash()) == {Venue.KALSHI, Venue.POLYMARKET}


@ONE_BACKEND
def test_a_balance_larger_than_the_ledger_stores_is_refused_by_balance_not_an_internal_error(world: World) -> None:
    """Found by a numbers review: a Kalshi balance of $999,999,999 passed the reader and failed the ledger's
    SQLite write (exit 1, "StatementError"). It is a balance orion cannot record: BALANCE refuses, nothing sent."""
    world.ksim.account(KEY_ID).cash = D("999999999")
    code, _out, err = world.run(*LIVE)
    assert code == 6 and "internal error" not in err, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert rec["reason"] == "BALANCE", rec
    assert world.kalshi_created() == [] and world.poly_created() == []


@ONE_BACKEND
def test_an_exchange_in_maintenance_refuses_before_either_leg_is_sent(world: World) -> None:
    world.ksim.exchange_state = {"exchange_active": True, "trading_active": False}
    code, out, err = world.run(*LIVE)
    assert code == 5, err
    assert "exchange is not trading" in err
    assert world.kalshi_created() == [] and world.poly_created() == []  # not even the Polymarket leg
    world.ksim.exchange_state = {"exchange_active": True, "trading_active": True}
    code, out, err = world.run(*LIVE)  # back from maintenance: the same command trades
    assert code == 0, err
    execution = _execution(out)
    assert execution["status"] == "done", execution["message"]
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1


@ONE_BACKEND
@pytest.mark.parametrize(("stop", "code"), [("exchange_paused", "exchange_is_paused"),
                                            ("market_closed", "market_closed")])
def test_kalshi_stopping_trading_after_the_first_leg_filled_unwinds_it_and_reconcile_finds_nothing_amiss(
        world: World, stop: str, code: str) -> None:
    """The suite lacked it (the simulator filled orders whatever the exchange's or the market's state): Kalshi
    stops trading between orion's first leg (Polymarket, the thinner) and its hedge, the exchange paused
    (trading_active false) or the market closed. Kalshi refuses the hedge and its retries (409
    exchange_is_paused / market_closed), placing nothing; orion sells the Polymarket leg back, records it
    (the rejections, the unwind, the fills) and exits 6 UNWOUND; reconcile then finds the ledger and both
    venues agree, each order once, and nothing halted."""
    from orion_cli.store.audit import AuditLog

    dispatch = world.ksim.server.dispatch
    hit: list[str] = []

    def stop_at_the_hedge(request: Any) -> Any:
        if request.method == "POST" and request.path == f"{API_PREFIX}/portfolio/events/orders" and not hit:
            hit.append(request.path)
            if stop == "exchange_paused":
                world.ksim.exchange_state = {"exchange_active": True, "trading_active": False}
            else:
                world.ksim.set_market_status(TICKER, "closed")
        return dispatch(request)

    world.ksim.server.dispatch = stop_at_the_hedge  # type: ignore[method-assign]
    code_, out, err = world.run(*LIVE, "--idempotency-key", f"live-sim-{stop}")
    assert hit and code_ == 6, err
    error = json.loads(err.strip().splitlines()[-1])
    assert error["reason"] == "UNWOUND", error
    execution = _execution(out)
    assert execution["status"] == "unwound", execution["message"]
    kalshi_orders = [o for o in execution["orders"] if o["venue"] == "kalshi"]
    assert kalshi_orders and all(o["status"] == "rejected" and o["reject_reason"].startswith(code)
                                 for o in kalshi_orders), kalshi_orders
    assert world.kalshi_created() == [] and world.ksim.account(KEY_ID).fills == []  # Kalshi placed nothing
    assert world.ksim.account(KEY_ID).cash == world.ksim.starting_cash
    assert [o["side"] for o in world.poly_created()] == ["BUY", "SELL"]  # the first leg and its sale, once each
    assert world.venue_positions() == {} and world.ledger_positions() == {}
    assert world.ledger_cash()[Venue.POLYMARKET] == (world.poly_cash(), world.poly_fees_charged())

    db = open_database(world.db_url)
    try:
        events = AuditLog(db).tail(10_000)
        sent = [o for o in Ledger(db, "live").orders() if o.venue_order_id]
    finally:
        db.dispose()
    rejected = [e for e in events if e.type == "order.rejected"]
    assert len(rejected) == len(kalshi_orders) and {e.venue for e in rejected} == {"kalshi"}, rejected
    assert [e.type for e in events if e.type.startswith("unwind.")] == ["unwind.started", "unwind.done"]
    assert sorted(o.venue_order_id for o in sent) == sorted(world.psim.orders)

    code_, out, err = world.run("reconcile", "--json")
    assert code_ == 0, err + out
    recs = _reconcile_records(out)
    assert {v: (r["status"], r["drifts"]) for v, r in recs.items()} == {
        "kalshi": ("clean", []), "polymarket": ("clean", [])}, recs
    assert len(world.kalshi_created()) == 0 and len(world.poly_created()) == 2  # reconcile re-sent nothing
    code_, out, err = world.run("halt", "--status", "--json")
    assert code_ == 0 and json.loads(out)["halted"] is False, out
    code_, out, err = world.run("audit", "verify")
    assert code_ == 0, err + out


@ONE_BACKEND
@pytest.mark.parametrize(("override", "fee"), [
    (("quadratic", 0), D("0")),  # the event waives the fee
    (("quadratic_with_maker_fees", 2), D("0.3360")),  # 2 × 0.07 × 10 × 0.40 × 0.60, one fill
    ((None, 0.5), D("0.0840")),  # a multiplier override without its type (orion: the larger of it and x1)
], ids=["waived", "doubled", "lone_multiplier"])
def test_a_kalshi_leg_on_an_event_with_a_fee_override_is_planned_at_the_fee_kalshi_charges(
        world: World, override: tuple[str | None, float], fee: D) -> None:
    """Found in review: the simulator charged 0.07 × the series' multiplier whatever the event's
    fee_type_override / fee_multiplier_override it served on /events, so no test held orion's fee for an
    overridden event to the venue's. Orion plans the Kalshi leg at the event's fee and books the fee Kalshi
    charged; the two agree (a lone multiplier override: orion plans the larger, x1 here, never less)."""
    event = next(m for m in world.ksim.markets if m["ticker"] == TICKER)["event_ticker"]
    world.ksim.event_fee_overrides[event] = override
    code, out, err = world.run(*LIVE, "--idempotency-key", f"live-sim-fee-{fee}")
    assert code == 0, err
    execution = _execution(out)
    assert execution["status"] == "done", execution["message"]
    charged = sum((D(f["fee_cost"]) for f in world.ksim.account(KEY_ID).fills), D(0))
    assert charged == fee, world.ksim.account(KEY_ID).fills
    (planned,) = [leg for leg in execution["plan"]["legs"] if leg["venue"] == "kalshi"]
    (sent,) = [o for o in execution["orders"] if o["venue"] == "kalshi"]
    assert D(sent["fees"]) == charged, sent  # booked as charged
    if override[0] is not None:
        assert D(planned["fees"]) == charged, planned  # planned as charged
    else:  # planned at the larger of the lone multiplier and the series' x1 (0.1680): never understated
        assert D(planned["fees"]) == D("0.1680") > charged, planned
    assert world.ledger_cash()[Venue.KALSHI] == (world.ksim.account(KEY_ID).cash, charged)


@ONE_BACKEND
def test_a_kalshi_fee_that_cannot_be_read_refuses_the_trade_before_either_leg_is_sent(world: World) -> None:
    """The re-read before the orders dropped a series it could not fetch and priced the Kalshi leg at the
    default quadratic x1, half the fee of this x2 series: a trade whose edge the fee may take back was
    sent. Now nothing is sent (exit 5, the series named); a fee read but not modelled is refused too."""
    series = TICKER.split("-", 1)[0]
    world.ksim.series_fees[series] = ("quadratic", 2)
    world.ksim.server.add_fault(FaultRule("status", status=503, path_prefix=f"{API_PREFIX}/series/{series}"))
    code, out, err = world.run(*LIVE)
    assert code == 5, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert rec["reason"] == "venue_unavailable" and f"series {series}" in rec["message"], rec
    assert "fee unknown" in rec["message"] and TICKER in rec["message"], rec
    assert world.kalshi_created() == [] and world.poly_created() == []  # not even the Polymarket leg
    world.ksim.server.clear_faults()
    world.ksim.series_fees[series] = ("flat", 1)  # the "Specific Trading Fees" table: rates not in the API
    code, out, err = world.run(*LIVE)
    assert code == 5, err  # what the venue sent cannot be priced: the venue's answer, not an internal error
    rec = json.loads(err.strip().splitlines()[-1])
    assert "fee unknown" in rec["message"] and f"series {series}" in rec["message"], rec
    assert rec["reason"] == "venue_error" and "hint: orion has no formula for this fee type" in err, err
    assert "retrying will not help" in err and "upgrade orion" in err, err
    assert world.kalshi_created() == [] and world.poly_created() == []
    world.ksim.series_fees[series] = ("quadratic", 2)
    code, out, err = world.run(*LIVE)  # the fee read: the same command trades, at the series' fee
    assert code == 0, err
    execution = _execution(out)
    assert execution["status"] == "done", execution["message"]
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1


@ONE_BACKEND
@pytest.mark.parametrize("fault", [
    FaultRule("status", status=503, path_prefix=f"{API_PREFIX}/series"),  # unavailable after retries
    FaultRule("status", status=200, path_prefix=f"{API_PREFIX}/series", body={"series": "not a list"}),
], ids=["unavailable", "not_a_list"])
def test_a_scan_whose_kalshi_series_listing_cannot_be_read_prices_no_kalshi_market_and_says_so(
        world: World, tmp_path: Path, fault: FaultRule) -> None:
    """Found in review: when GET /series failed, `orion scan` recorded a `series` item error and priced
    every Kalshi market at the default quadratic x1, half this x2 series' fee, showing and storing an
    overstated edge (only `trade`'s re-read refused it). A market whose series is unknown is now not
    priced (a `fee unknown` item error; its book is kept) and the scan warns that its data is incomplete."""
    series = TICKER.split("-", 1)[0]
    world.ksim.series_fees[series] = ("quadratic", 2)
    pairs = tmp_path / "pairs.toml"
    pairs.write_text(f'[[pair]]\nkalshi = "{TICKER}"\npolymarket = "{world.cond}"\ninverted = false\n')
    env = {"ORION__MATCHING__PAIRS_FILE": str(pairs)}

    def kalshi_legs(out: str) -> list[dict[str, Any]]:
        return [leg for rec in json.loads(out) if rec.get("type") == "opportunity"
                for leg in rec["legs"] if leg["venue"] == "kalshi"]

    code, out, err = world.run("scan", "--json", extra_env=env)  # the series read: priced at its x2
    assert code == 0, err
    legs = kalshi_legs(out)
    assert legs and all(leg["market"] == TICKER for leg in legs), out
    for leg in legs:  # 0.07 × 2 × C × P × (1 − P), rounded up to Kalshi's 0.0001
        fee = D("0.14") * D(leg["size"]) * D(leg["avg_price"]) * (1 - D(leg["avg_price"]))
        assert D(leg["fees"]) == ceil_to(fee, D("0.0001")), leg
    assert "incomplete" not in err, err

    world.ksim.server.add_fault(fault)
    code, out, err = world.run("-v", "scan", "--json", extra_env=env)
    assert code == 0, err
    assert kalshi_legs(out) == [], out  # before: the pair priced at x1, its edge overstated
    assert "kalshi listing incomplete: the series listing could not be read" in err, err
    assert f"kalshi market {TICKER}: fee unknown (series {series}: the series listing was not read" in err, err
    code, out, err = world.run("-v", "markets", "--venue", "kalshi", "--json", extra_env=env)
    assert code == 0 and TICKER not in {m["id"] for m in json.loads(out)}, err
    assert "kalshi listing incomplete" in err, err


@ONE_BACKEND
def test_a_book_the_venue_sends_unreadable_refuses_the_trade_as_the_venues_fault_before_either_leg(
        world: World) -> None:
    """Found black-box: a 200 with a price "abc" in Kalshi's book ended the trade as an internal error
    (exit 1, the parser's DataError). Nothing is sent, and it exits 5 (the venue's data is at fault),
    naming the venue, the book and the field."""
    world.ksim.set_book(TICKER, [["abc", "50.00"]], [["0.6000", "50.00"]])
    code, _out, err = world.run(*LIVE)
    assert code == 5, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert rec["reason"] == "venue_error" and rec["message"].startswith(f"kalshi book {TICKER}: "), rec
    assert "price: not a number: 'abc'" in rec["message"], rec
    assert world.kalshi_created() == [] and world.poly_created() == []


@ONE_BACKEND
def test_a_kalshi_hedge_retry_is_sent_though_the_series_cannot_be_read_after_the_first_leg_filled(
        world: World) -> None:
    """Found in review: the hedge retry's fresh book was read as a trade's pricing read is, series and
    event included, so a Kalshi series failing to answer once the first leg had filled skipped the retry
    ("book unavailable: … fee unknown") and sold the whole first leg back, although Kalshi's book was
    readable and offered the retry's limit. The retry needs the book only (its limit was priced with
    the plan's fee): it is sent, and only what it could not hedge is sold back."""
    series = TICKER.split("-", 1)[0]
    dispatch = world.ksim.server.dispatch
    hit: list[str] = []

    def thin_then_fail_series(request: Any) -> Any:
        # Once the plan is made and the Polymarket leg filled, as the first Kalshi order arrives: YES
        # asks thin to 4 at 0.40 (the FOK for 10 is killed) and the series stops answering.
        if request.method == "POST" and request.path == f"{API_PREFIX}/portfolio/events/orders" and not hit:
            hit.append(request.path)
            world.ksim.set_book(TICKER, [["0.3800", "50.00"]], [["0.6000", "4.00"]])
            world.ksim.server.add_fault(FaultRule("status", status=503, path_prefix=f"{API_PREFIX}/series/{series}"))
        return dispatch(request)

    world.ksim.server.dispatch = thin_then_fail_series  # type: ignore[method-assign]
    code, out, err = world.run(*LIVE)
    assert hit, err
    execution = _execution(out)
    db = open_database(world.db_url)
    try:
        with db.read() as conn:
            stored = conn.execute(select(executions.c.result).where(executions.c.key == execution["key"])).scalar_one()
    finally:
        db.dispose()
    retries = json.loads(stored)["retries"]
    assert not [r for r in retries if "book unavailable" in r.get("skipped", "")], retries
    assert execution["status"] == "unwound", (code, execution["message"], retries)
    hedge = {(Venue.KALSHI, Side.YES): D(4), (Venue.POLYMARKET, Side.NO): D(4)}  # 6 sold back, not 10
    assert world.venue_positions() == hedge and world.ledger_positions() == hedge
    # Kalshi keeps the IOC retry (the killed FOK is not stored); Polymarket the first leg and the unwind.
    assert [o["client_order_id"].rsplit("-", 1)[1] for o in world.kalshi_created()] == ["l2a1"]
    assert len(world.poly_created()) == 2


@ONE_BACKEND
def test_a_paper_kalshi_hedge_retry_fills_though_the_series_cannot_be_read_as_live_would(world: World) -> None:
    """Found in review: the executor checks a hedge retry's book without the fee, but the paper venue
    then filled it through the read with fees: where live hedges (above), paper refused the second leg
    and every retry (BOOK_UNAVAILABLE: fee unknown) and unwound the first leg. It now fills them at the
    fee the plan read. (Paper fills do not take liquidity away, so each retry finds the 5 again.)"""
    series = TICKER.split("-", 1)[0]
    world.ksim.series_fees[series] = ("quadratic", 2)  # unlike the default stand-in's x1
    dispatch = world.psim.server.dispatch
    books: list[str] = []

    def thin_then_fail_series(request: Any) -> Any:
        # The plan's fresh read is Polymarket's first book read; the paper Polymarket leg's fill is the
        # second: from then on Kalshi's YES asks are 5 at 0.40 and its series does not answer.
        if request.path.startswith("/clob/book"):
            books.append(request.path)
            if len(books) == 2:
                world.ksim.set_book(TICKER, [["0.3800", "50.00"]], [["0.6000", "5.00"]])
                world.ksim.server.add_fault(FaultRule("status", status=503,
                                                      path_prefix=f"{API_PREFIX}/series/{series}"))
        return dispatch(request)

    world.psim.server.dispatch = thin_then_fail_series  # type: ignore[method-assign]
    code, out, err = world.run("trade", OP_ID, "--confirm", "--json", extra_env={"ORION__TRADING__MODE": "paper"})
    assert len(books) >= 2, err
    execution = _execution(out)
    db = open_database(world.db_url)
    try:
        ledger = Ledger(db, "paper")
        held = {(p.venue, p.side): p.size for p in ledger.positions() if p.size}
        kalshi = [o for o in ledger.orders() if o.venue is Venue.KALSHI]
    finally:
        db.dispose()
    assert (code, execution["status"]) == (0, "done"), execution["message"]
    assert held == {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    # The FOK for 10 killed; IOC retries for 10 (5 taken) and 5, none refused for the fee, each charged
    # the series' x2 that the plan read (2 x 0.07 x 5 x 0.40 x 0.60 = 0.168), not the stand-in's x1.
    assert sorted((o.status.value, o.filled_size, o.fees) for o in kalshi) == [
        ("cancelled", D(0), D(0)), ("filled", D(5), D("0.168")), ("partial", D(5), D("0.168"))], kalshi
    assert not world.kalshi_created() and not world.poly_created()  # paper: nothing reached a venue


@ONE_BACKEND
def test_the_live_gates_are_asked_while_the_reports_are_read_not_after(world: World) -> None:
    """Between the fresh books and the first order every read ages the quotes: the exchange-status
    and geoblock checks run alongside the reports' settlement and transfer reads, not after them."""
    seen: dict[str, set[str]] = {}  # each path: the paths in flight when it arrived
    in_flight: Counter[str] = Counter()
    lock = threading.Lock()  # both simulators answer on their own threads
    for sim in (world.ksim, world.psim):
        dispatch = sim.server.dispatch

        def spy(request: Any, dispatch: Any = dispatch) -> Any:
            path = request.path.removeprefix(API_PREFIX)
            with lock:
                seen.setdefault(path, set()).update(+in_flight)
                in_flight[path] += 1
            try:
                return dispatch(request)
            finally:
                with lock:
                    in_flight[path] -= 1

        sim.server.dispatch = spy  # type: ignore[method-assign]
    world.ksim.server.add_fault(FaultRule("latency", method="GET", path_prefix=API_PREFIX + "/exchange/status",
                                          seconds=1.5))
    world.psim.server.add_fault(FaultRule("latency", method="GET", path_prefix="/api/geoblock", seconds=1.5))
    world.ksim.server.add_fault(FaultRule("latency", method="GET", path_prefix=API_PREFIX + "/portfolio/deposits",
                                          seconds=1.5))  # all three slow: any order of arrival overlaps
    code, out, err = world.run(*LIVE)
    assert code == 0 and _execution(out)["status"] == "done", err
    for gate in ("/exchange/status", "/api/geoblock"):  # either arrived while the other was in flight
        assert gate in seen["/portfolio/deposits"] or "/portfolio/deposits" in seen[gate], (gate, seen)


@ONE_BACKEND
def test_a_geoblocked_host_during_maintenance_is_refused_as_geoblocked_whichever_answer_comes_first(
        world: World) -> None:
    """Found in review: with the two gates asked at once, the refusal shown (exit 6 geoblock, which
    stops a watch, or exit 5 maintenance) depended on which answer arrived first."""
    world.ksim.exchange_state = {"exchange_active": True, "trading_active": False}
    world.psim.geoblock = {**world.psim.geoblock, "blocked": True, "country": "US"}
    world.psim.server.add_fault(FaultRule("latency", method="GET", path_prefix="/api/geoblock", seconds=0.5))
    code, _out, err = world.run(*LIVE)  # the geoblock answers last
    assert code == 6, err
    assert "geoblock" in err.lower() and world.kalshi_created() == [] and world.poly_created() == []


@ONE_BACKEND
def test_resuming_into_a_maintenance_window_sends_nothing_and_resumes_after_it(world: World) -> None:
    # Polymarket is the thinner leg, so it goes first; the process dies once it is recorded.
    key = ("--idempotency-key", "live-sim-resume")
    _crash_at(world, "l1_recorded", *key)
    assert len(world.poly_created()) == 1 and world.kalshi_created() == []

    world.ksim.exchange_state = {"exchange_active": True, "trading_active": False}
    code, out, err = world.run(*LIVE, *key)
    # Not hedged into a paused exchange, nor unwound at a loss: nothing sent, the execution waits.
    assert code == 5, err
    assert "exchange is not trading" in err and "run the same command again" in err
    assert len(world.poly_created()) == 1 and world.kalshi_created() == []

    world.ksim.exchange_state = {"exchange_active": True, "trading_active": True}
    code, out, err = world.run(*LIVE, *key)
    assert code == 0, err
    assert "resuming it" in err
    execution = _execution(out)
    assert execution["status"] == "done", execution["message"]
    assert len(world.poly_created()) == 1 and len(world.kalshi_created()) == 1
    expected = {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert world.venue_positions() == expected == world.ledger_positions()


@ONE_BACKEND
def test_a_halted_executions_polymarket_sell_back_is_not_held_up_by_kalshi_maintenance(world: World) -> None:
    """Found in review: the Kalshi hedge refused (maintenance began), the Polymarket leg's sell-back found no
    price within max_unwind_loss and halted. During Kalshi's maintenance the resume that sells it back was
    refused (exit 5, "exchange is not trading"), as if it could send to Kalshi: a halted execution was taken
    to need both venues, and the naked leg waited out the window. Halted, it can only sell back: it does."""
    dispatch = world.ksim.server.dispatch

    def pause_at_the_hedge(request: Any) -> Any:
        if request.method == "POST" and request.path == f"{API_PREFIX}/portfolio/events/orders":
            world.ksim.exchange_state = {"exchange_active": True, "trading_active": False}
        return dispatch(request)

    world.ksim.server.dispatch = pause_at_the_hedge  # type: ignore[method-assign]
    book = world.psim.books[world.no_token]
    book["bids"] = [{"price": "0.30", "size": "100"}]  # selling back loses about $2
    key = ("--idempotency-key", "live-sim-halted-sell-back")
    code, out, err = world.run(*LIVE, *key, extra_env={"ORION__TRADING__MAX_UNWIND_LOSS": "0"})
    assert code == 6 and _execution(out)["status"] == "halted", err
    assert world.kalshi_created() == [] and [o["side"] for o in world.poly_created()] == ["BUY"]
    assert world.ksim.exchange_state["trading_active"] is False  # still in maintenance

    code, out, err = world.run(*LIVE, *key)  # halted still: the resume sells back, within the default $5
    assert code == 6, err
    execution = _execution(out)
    assert execution["status"] == "unwound", execution["message"]
    assert world.kalshi_created() == [] and [o["side"] for o in world.poly_created()] == ["BUY", "SELL"]
    assert world.venue_positions() == {} == world.ledger_positions()


@ONE_BACKEND
def test_resuming_a_polymarket_hedge_is_not_held_up_by_kalshi_maintenance(world: World) -> None:
    """Kalshi's leg first (Polymarket made the deeper book); killed with the hedge marked but not sent.
    During Kalshi's maintenance the resume still sends the hedge, to Polymarket: nothing goes to Kalshi."""
    book = world.psim.books[world.no_token]
    book["asks"] = [{"price": "0.50", "size": "100"}]
    key = ("--idempotency-key", "live-sim-resume-k")
    _crash_at(world, "l2_marked", *key)
    assert len(world.kalshi_created()) == 1 and world.poly_created() == []

    world.ksim.exchange_state = {"exchange_active": True, "trading_active": False}
    code, out, err = world.run(*LIVE, *key)
    assert code == 0, err
    execution = _execution(out)
    assert execution["status"] == "done", execution["message"]
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1
    expected = {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert world.venue_positions() == expected == world.ledger_positions()


def test_alerts_of_a_live_trade_are_the_live_ledgers_and_an_undelivered_low_balance_is_told_again(world: World) -> None:
    """trading.mode says paper; the flag pair makes the trade live, so its alerts are audited as live.

    Alerts are on without a webhook URL in the vault, so each alert is audited as ``alert.failed``
    (unavailable): what the audit log shows is what a webhook would have been sent.
    """
    env = {"ORION__TRADING__MODE": "paper", "ORION__ALERTS__ENABLED": "true",
           "ORION__ALERTS__LOW_BALANCE": "100000"}  # above both simulated accounts

    def low_alerts() -> list[Any]:
        from orion_cli.store.audit import AuditLog

        db = open_database(world.db_url)
        try:
            return [e for e in AuditLog(db).tail(500, types=("alert.failed",)) if e.payload["kind"] == "balance.low"]
        finally:
            db.dispose()

    code, _out, err = world.run(*LIVE, "--size", "5", "--idempotency-key", "live-low-1", extra_env=env)
    assert code == 0, err
    first = low_alerts()
    assert len(first) == 2 and {e.mode for e in first} == {"live"}, [(e.mode, e.payload) for e in first]
    # Another process, a minute later (as from cron): still low, and the alerts went nowhere, so they are
    # not taken as told: alerted (and audited) again, as an undelivered webhook alert is. (Found in the
    # final read: this sink kept the low mark, so once alerts worked the fall waited for the reminder.)
    code, _out, err = world.run(*LIVE, "--size", "5", "--idempotency-key", "live-low-2", extra_env=env)
    assert code == 0, err
    again = low_alerts()
    assert len(again) == 4 and {e.payload["error"] for e in again} == {"unavailable"}


# -- halt --cancel-open ---------------------------------------------------------------------------------


def _cancel_open_audits(world: World) -> dict[str | None, Any]:
    """Each venue's last ``halt.cancel_open`` audit payload, by venue."""
    db = open_database(world.db_url)
    try:
        return {e.venue: e.payload for e in AuditLog(db).tail(50, types=("halt.cancel_open",))}
    finally:
        db.dispose()


def _place_resting_orders(world: World, *, more_polymarket: int = 0) -> dict[Venue, str]:
    """One GTC bid far below the book on each venue, placed by the live clients built from the vault (the
    account's own resting orders, as a trader's other activity leaves them); their venue order ids.
    ``more_polymarket``: that many more on Polymarket (not in the ids returned)."""
    import asyncio

    from orion_cli.cli.live_venues import aclose_venues, live_venues
    from orion_cli.core.config import load_settings
    from orion_cli.secrets.store import open_store
    from orion_cli.secrets.unlock import resolve_master_password
    from orion_cli.venues.trading import Action, OrderRequest, TimeInForce

    settings = load_settings(environ=world.env)
    vault = Path(world.env["ORION__SECRETS__VAULT_PATH"])
    store = open_store("vault", vault_path=vault, password=lambda new: resolve_master_password(
        vault, environ=world.env, prompt=None, keyring_get=None, new=new))
    try:
        venues = live_venues(settings, store, [Venue.KALSHI, Venue.POLYMARKET])
    finally:
        store.close()
    requests = {
        Venue.KALSHI: OrderRequest(Venue.KALSHI, TICKER, Side.YES, Action.BUY, D(3), D("0.05"), TimeInForce.GTC,
                                   "manual-k-1"),
        Venue.POLYMARKET: OrderRequest(Venue.POLYMARKET, world.cond, Side.NO, Action.BUY, D(10), D("0.05"),
                                       TimeInForce.GTC, "manual-p-1", token_id=world.no_token),
    }

    async def place() -> dict[Venue, str]:
        ids = {}
        try:
            for venue, request in requests.items():
                state = await venues[venue].submit(venues[venue].prepare(request))
                assert state.status.value == "open", state
                ids[venue] = state.venue_order_id
            for i in range(more_polymarket):
                request = replace(requests[Venue.POLYMARKET], client_order_id=f"manual-p-more-{i}")
                state = await venues[Venue.POLYMARKET].submit(venues[Venue.POLYMARKET].prepare(request))
                assert state.status.value == "open", state
            return ids
        finally:
            await aclose_venues(venues.values())

    return asyncio.run(place())


@ONE_BACKEND
def test_the_kill_switchs_polymarket_cancels_keep_to_polymarket_max_concurrency(world: World) -> None:
    """Found reviewing the configuration key by key: `polymarket.max_concurrency` ("concurrent requests") bounded
    scan only. The trading client was built without it, each of its five HTTP clients at the default 8, so with
    the key at 1 `halt --cancel-open` sent six cancels to Polymarket at once and reconcile three requests: the
    paths where a trader throttled by Polymarket's firewall most needs the bound."""
    import threading

    _place_resting_orders(world, more_polymarket=5)
    server = world.psim.server
    dispatch = server.dispatch
    in_flight = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def counted(request: Any) -> Any:
        with lock:
            in_flight["now"] += 1
            in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        try:
            time.sleep(0.05)  # long enough for requests sent together to overlap here
            return dispatch(request)
        finally:
            with lock:
                in_flight["now"] -= 1

    server.dispatch = counted  # type: ignore[method-assign]
    try:
        code, _out, err = world.run("halt", "--reason", "drill", "--cancel-open", "--jsonl",
                                   extra_env={"ORION__POLYMARKET__MAX_CONCURRENCY": "1"})
    finally:
        server.dispatch = dispatch  # type: ignore[method-assign]
    assert code == 0, err
    assert "7 resting order(s) cancelled" in err, err
    assert in_flight["peak"] == 1, in_flight


def test_halt_cancel_open_halts_first_then_cancels_every_resting_order(world: World) -> None:
    ids = _place_resting_orders(world)
    code, out, err = world.run("halt", "--reason", "drill", "--cancel-open", "--jsonl")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0]["type"] == "halt" and records[0]["halted"] is True, records[0]
    cancels = {r["venue"]: r for r in records if r.get("type") == "cancel"}
    assert {v: r["order_id"] for v, r in cancels.items()} == {v.value: i for v, i in ids.items()}
    assert {r["status"] for r in cancels.values()} == {"cancelled"} and {r["error"] for r in cancels.values()} == {None}
    assert {r["orion"] for r in cancels.values()} == {False}  # not in the ledger: the account's other orders
    assert "LIVE: cancelling the resting orders on kalshi, polymarket" in err
    assert "2 resting order(s) cancelled" in err
    # Cancelled where it counts: at the venues.
    assert world.ksim.account(KEY_ID).order(ids[Venue.KALSHI])["status"] == "canceled"
    assert world.psim.orders[ids[Venue.POLYMARKET]]["status"] == "CANCELED"

    audited = _cancel_open_audits(world)
    assert {v: [c["order_id"] for c in p["cancelled"]] for v, p in audited.items()} == {
        v.value: [i] for v, i in ids.items()}
    code, out, err = world.run("halt", "--cancel-open", "--json")  # again: nothing rests, still halted
    assert code == 0, err
    (document,) = json_documents(out)  # --json: one document, the halt with what it cancelled
    assert (document["type"], document["halted"], document["cancels"]) == ("halt", True, [])
    assert document["not_listed"] == []  # every venue listed its resting orders: none rest


@ONE_BACKEND
def test_halt_cancel_open_with_a_venue_down_still_halts_and_cancels_the_other(world: World) -> None:
    ids = _place_resting_orders(world)
    code, out, err = world.run("halt", "--cancel-open", "--json",
                               extra_env={"ORION__POLYMARKET__CLOB_URL": "http://127.0.0.1:9"})
    assert code == 5, err
    error = json.loads(err.strip().splitlines()[-1])
    assert "halted, but not every resting order was cancelled" in error["message"] and "polymarket" in error["message"]
    assert world.ksim.account(KEY_ID).order(ids[Venue.KALSHI])["status"] == "canceled"
    assert world.psim.orders[ids[Venue.POLYMARKET]]["status"] == "LIVE"  # could not be reached: still resting
    code, out, err = world.run("halt", "--status", "--json")
    assert code == 0 and json.loads(out)["halted"] is True


@ONE_BACKEND
def test_halt_cancel_open_counts_only_a_cancel_the_venue_confirms(world: World) -> None:
    """Polymarket answers 200 but lists the order under not_canceled: still resting, so exit 5, not success."""
    from sim.server import FaultRule

    ids = _place_resting_orders(world)
    poly_id = ids[Venue.POLYMARKET]
    world.psim.server.add_fault(FaultRule("status", method="DELETE", path_prefix="/clob/order", status=200,
                                          body={"canceled": [], "not_canceled": {poly_id: "order can't be canceled"}}))
    code, out, err = world.run("halt", "--cancel-open", "--jsonl")
    assert code == 5, err
    cancels = {r["venue"]: r for r in map(json.loads, out.splitlines()) if r["type"] == "cancel"}
    assert cancels["kalshi"]["status"] == "cancelled"
    assert cancels["polymarket"]["status"] == "failed" and "still shows it open" in cancels["polymarket"]["error"]
    assert "1 resting order(s) cancelled" in err and world.psim.orders[poly_id]["status"] == "LIVE"


@ONE_BACKEND
@pytest.mark.parametrize("reduced_by", ["3.00", "0.00"])
def test_halt_cancel_open_counts_no_kalshi_cancel_the_order_outlives(reduced_by: str, world: World) -> None:
    """Found by black-box testing: Kalshi answered the cancel 200 but every read of the order afterwards
    said resting; orion printed it cancelled and exited 0 (and, with ``reduced_by`` 0.00, "partial" with
    every contract filled, though the venue showed none filled). Still resting: failed, exit 5, halted."""
    ids = _place_resting_orders(world)
    kalshi_id = ids[Venue.KALSHI]
    # Acknowledged (the V2 answer's shape), but the sim's order is never touched: it stays resting.
    world.ksim.server.add_fault(FaultRule("status", method="DELETE", status=200, times=1,
                                          path_prefix=API_PREFIX + "/portfolio/events/orders",
                                          body={"order_id": kalshi_id, "reduced_by": reduced_by, "ts_ms": 1}))
    code, out, err = world.run("halt", "--cancel-open", "--jsonl")
    assert code == 5, err
    cancels = {r["venue"]: r for r in map(json.loads, out.splitlines()) if r["type"] == "cancel"}
    assert cancels["polymarket"]["status"] == "cancelled"
    kalshi = cancels["kalshi"]
    assert (kalshi["status"], kalshi["filled_size"]) == ("failed", "0.00"), kalshi  # no fill invented
    assert "still shows it open" in kalshi["error"]
    assert "1 resting order(s) cancelled" in err and "halted, but not every resting order was cancelled" in err
    assert world.ksim.account(KEY_ID).order(kalshi_id)["status"] == "resting"
    code, out, err = world.run("halt", "--status", "--json")
    assert code == 0 and json.loads(out)["halted"] is True
    code, out, err = world.run("halt", "--cancel-open", "--jsonl")  # again, as it says: cancelled
    assert code == 0, err
    assert world.ksim.account(KEY_ID).order(kalshi_id)["status"] == "canceled"


@ONE_BACKEND
def test_halt_cancel_open_reads_a_rate_limited_polymarket_cancel_as_try_again_not_a_refusal(world: World) -> None:
    """Found in review: a 429 on Polymarket's DELETE /order was reported as "polymarket rejected DELETE
    /order", a refusal, where Kalshi's says unavailable. It now reads as the venue not answering, and the
    same command again cancels the order."""
    ids = _place_resting_orders(world)
    poly_id = ids[Venue.POLYMARKET]
    world.psim.server.add_fault(FaultRule("rate_limit", method="DELETE", path_prefix="/clob/order", times=1))
    code, out, err = world.run("halt", "--cancel-open", "--jsonl")
    assert code == 5, err
    cancels = {r["venue"]: r for r in map(json.loads, out.splitlines()) if r["type"] == "cancel"}
    assert cancels["kalshi"]["status"] == "cancelled"
    error = cancels["polymarket"]["error"]
    assert cancels["polymarket"]["status"] == "failed" and "polymarket unavailable" in error and "HTTP 429" in error
    assert "rejected" not in error
    assert f"running `{orion(world)} halt --cancel-open --live` again is safe" in err
    assert world.psim.orders[poly_id]["status"] == "LIVE"
    code, out, err = world.run("halt", "--cancel-open", "--jsonl")  # again, as it says: cancelled
    assert code == 0, err
    assert world.psim.orders[poly_id]["status"] == "CANCELED"


@ONE_BACKEND
def test_halt_cancel_open_live_retry_hint_run_as_printed_cancels_at_the_venues(world: World) -> None:
    """Found in review: `halt --cancel-open --live` (trading.mode paper) with a venue down exited 5
    hinting "running `orion halt --cancel-open` again is safe"; run as printed, without --live, it
    cancelled the paper ledger's orders, exited 0 and left the venue's order resting. The hint repeats
    --live (and --db), and the command it names, run as printed, cancels at the venue."""
    import re
    import shlex

    ids = _place_resting_orders(world)
    paper = {"ORION__TRADING__MODE": "paper"}
    code, _, err = world.run("halt", "--cancel-open", "--live", "--jsonl",
                               extra_env={**paper, "ORION__POLYMARKET__CLOB_URL": "http://127.0.0.1:9"})
    assert code == 5, err
    assert world.psim.orders[ids[Venue.POLYMARKET]]["status"] == "LIVE"
    printed = re.search(r"running `(orion [^`]*)` again is safe", err)
    assert printed and printed.group(1) == f"{orion(world)} halt --cancel-open --live", err
    argv = shlex.split(printed.group(1))[1:]
    proc = subprocess.run([*ORION_ARGV, *argv], env={**world.env, **paper}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=TIMEOUT)  # as printed: no --db added
    assert proc.returncode == 0, proc.stderr
    assert world.psim.orders[ids[Venue.POLYMARKET]]["status"] == "CANCELED"


@ONE_BACKEND
def test_halt_cancel_open_with_a_key_the_venue_refuses_exits_4_not_5(world: World) -> None:
    """Found by black-box testing: a revoked key (HTTP 401 listing the resting orders) exited 5 saying
    "running again is safe", as for an outage a retry may outlast; the key must be fixed first."""
    from sim.server import FaultRule

    ids = _place_resting_orders(world)
    world.ksim.server.add_fault(FaultRule("status", method="GET", path_prefix=API_PREFIX + "/portfolio/orders",
                                          status=401, body={"error": {"code": "authentication_error",
                                                                      "message": "invalid key"}}))
    code, out, err = world.run("halt", "--cancel-open", "--json")
    assert code == 4, err
    error = json.loads(err.strip().splitlines()[-1])
    assert error["reason"] == "auth" and "kalshi" in error["message"], error
    assert "check the API key id" in err and "again is safe" not in err
    assert f"then run `{orion(world)} halt --cancel-open --live` again" in err
    assert world.psim.orders[ids[Venue.POLYMARKET]]["status"] != "LIVE"  # the other venue's were still cancelled
    code, out, err = world.run("halt", "--status", "--json")
    assert code == 0 and json.loads(out)["halted"] is True


@ONE_BACKEND
def test_halt_cancel_open_with_venues_answering_without_their_order_lists_exits_5_still_halted(
        world: World) -> None:
    """Found by black-box testing: venues (or a proxy) answering every request ``200 {}`` — no ``orders``
    array, no ``data`` array — were read as "no resting orders": exit 0, ``"cancels": []``, and the audit
    said nothing was cancelled and nothing failed, while the orders still rested. An answer that does
    not list the orders says nothing about them: exit 5, still halted, each venue named."""
    from sim.server import FaultRule

    ids = _place_resting_orders(world)
    world.ksim.server.add_fault(FaultRule("status", method="GET", path_prefix=API_PREFIX + "/portfolio/orders",
                                          status=200, body={}))
    world.psim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/data/orders", status=200,
                                          body={}))
    code, out, err = world.run("halt", "--cancel-open", "--live", "--reason", "drill", "--json")
    assert code == 5, err
    (document,) = json_documents(out)
    assert (document["halted"], document["cancels"]) == (True, [])
    # Found by a black-box review: under the table, "no resting orders" (and the document nothing more), where
    # nothing was listed. It says so now.
    assert document["not_listed"] == ["kalshi", "polymarket"]
    again, table, said = world.run("--format", "table", "halt", "--cancel-open", "--live")
    assert again == 5 and "no resting orders" not in table + said, said
    assert "resting orders not listed on kalshi, polymarket: none cancelled there" in " ".join(said.split())
    error = json.loads(err.strip().splitlines()[-1])
    assert error["reason"] == "venue_unavailable", error
    message = error["message"]
    assert "halted, but not every resting order was cancelled" in message
    assert "kalshi: resting orders not listed (/portfolio/orders.orders: missing)" in message, message
    assert "polymarket: resting orders not listed (/data/orders.data: missing)" in message, message
    assert f"running `{orion(world)} halt --cancel-open --live` again is safe" in err
    assert world.ksim.account(KEY_ID).order(ids[Venue.KALSHI])["status"] == "resting"
    assert world.psim.orders[ids[Venue.POLYMARKET]]["status"] == "LIVE"
    audited = _cancel_open_audits(world)
    assert {v: ("missing" in p.get("unreachable", ""), p["cancelled"]) for v, p in audited.items()} == {
        "kalshi": (True, []), "polymarket": (True, [])}
    code, out, err = world.run("halt", "--status", "--json")
    assert code == 0 and json.loads(out)["halted"] is True


@ONE_BACKEND
def test_halt_cancel_open_live_spares_no_venue_for_the_others_missing_credentials(
        world: World, tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """--live where trading.mode is paper; the vault holds Kalshi's credentials only: Kalshi's orders are
    still cancelled, and the run exits 4 naming Polymarket's missing credentials."""
    ids = _place_resting_orders(world)
    where = tmp_path / "kalshi-only"
    where.mkdir()
    pw, vault = _vault(where, {"kalshi_api_key_id": KEY_ID, "kalshi_private_key": _pem(rsa_key)})
    code, out, err = world.run("halt", "--cancel-open", "--live", "--jsonl", extra_env={
        "ORION__TRADING__MODE": "paper", "ORION_MASTER_PASSWORD_FILE": str(pw),
        "ORION__SECRETS__VAULT_PATH": str(vault)})
    assert code == 4, err
    error = json.loads(err.strip().splitlines()[-1])
    assert "polymarket: polymarket credentials are not in the vault" in error["message"], error
    cancels = [r for r in map(json.loads, out.splitlines()) if r["type"] == "cancel"]
    assert [(r["venue"], r["status"]) for r in cancels] == [("kalshi", "cancelled")]
    assert world.ksim.account(KEY_ID).order(ids[Venue.KALSHI])["status"] == "canceled"
    assert world.psim.orders[ids[Venue.POLYMARKET]]["status"] == "LIVE"


# -- how trade builds its live clients (in process: what the subprocess cannot show) -------------------


class _Spy:
    """Counts vault opens by the live-venue builder and whether each opened store was closed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import orion_cli.cli.live_venues as lv

        self.opened: list[Any] = []
        self.closed: list[Any] = []
        real = lv.open_store

        def spy(app: Any, **kwargs: Any) -> Any:
            store = real(app, **kwargs)
            self.opened.append(store)
            inner = store.close

            def close() -> None:
                self.closed.append(store)
                inner()

            monkeypatch.setattr(store, "close", close)
            return store

        monkeypatch.setattr(lv, "open_store", spy)


def _live_env(monkeypatch: pytest.MonkeyPatch, pw: Path, vault: Path) -> None:
    dead = "http://127.0.0.1:9"  # nothing listens: these tests must not need a venue
    for name, value in {"ORION_MASTER_PASSWORD_FILE": str(pw), "ORION__SECRETS__VAULT_PATH": str(vault),
                        "ORION__KALSHI__PROD_BASE_URL": dead + API_PREFIX, "ORION__POLYMARKET__GAMMA_URL": dead,
                        "ORION__POLYMARKET__CLOB_URL": dead, "ORION__POLYMARKET__DATA_URL": dead,
                        "ORION__POLYMARKET__GEOBLOCK_URL": dead + "/api/geoblock"}.items():
        monkeypatch.setenv(name, value)


def test_trade_clients_get_the_configured_tier_the_eoa_maker_and_one_vault_unlock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey) -> None:
    import asyncio

    from orion_cli.cli.commands.trade.venues import VenueSet
    from orion_cli.cli.context import AppContext
    from orion_cli.cli.live_venues import LazyStore

    acct = Account.create()
    pw, vault = _vault(tmp_path, {
        "kalshi_api_key_id": KEY_ID, "kalshi_private_key": _pem(rsa_key),
        "polymarket_private_key": acct.key.hex().removeprefix("0x"), "polymarket_api_key": KEY_ID,
        "polymarket_api_secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==",
        "polymarket_api_passphrase": "a" * 64, "polymarket_funder_address": STRAY_FUNDER,
        "polymarket_signature_type": "0",
    })
    _live_env(monkeypatch, pw, vault)
    monkeypatch.setenv("ORION__KALSHI__READ_TOKENS_PER_SECOND", "70")
    monkeypatch.setenv("ORION__KALSHI__WRITE_TOKENS_PER_SECOND", "30")
    spy = _Spy(monkeypatch)
    app = AppContext(db_url=f"sqlite:///{tmp_path / 'l.db'}")
    with LazyStore(app) as secrets:
        assert spy.opened == []  # nothing is unlocked until a live client is needed
        venues = VenueSet(app, "live", None, [Venue.KALSHI, Venue.POLYMARKET], secrets)  # type: ignore[arg-type]
        for _ in range(2):  # one client set per event loop, as a trade run builds them
            built = venues.build()
            kalshi, poly = built[Venue.KALSHI], built[Venue.POLYMARKET]
            tier = kalshi.tier  # type: ignore[attr-defined]
            assert (tier.read_rate, tier.read_capacity, tier.write_rate, tier.write_capacity) == (70, 70, 30, 30)
            assert poly.funder.lower() == acct.address.lower()  # type: ignore[attr-defined]
            asyncio.run(venues.aclose())
        assert len(spy.opened) == 1 and spy.closed == []
    assert spy.closed == spy.opened


def test_live_trade_without_polymarket_credentials_exits_4_and_closes_the_vault(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey) -> None:
    from typer.testing import CliRunner

    from orion_cli.cli.app import app as orion_app

    pw, vault = _vault(tmp_path, {"kalshi_api_key_id": KEY_ID, "kalshi_private_key": _pem(rsa_key)})
    _live_env(monkeypatch, pw, vault)
    url = f"sqlite:///{tmp_path / 'l.db'}"
    _store_opportunity(url, "0x" + "ab" * 32, "7")
    spy = _Spy(monkeypatch)
    res = CliRunner().invoke(orion_app, ["--db", url, *LIVE])
    assert res.exit_code == 4, res.output
    err = json.loads(res.stderr.strip().splitlines()[-1])
    assert err["reason"] == "secret_missing"
    assert "polymarket_private_key" in err["message"] and "polymarket_api_secret" in err["message"]
    assert len(spy.opened) == 1 and spy.closed == spy.opened  # one unlock, closed on the error path too
    assert KEY_ID not in res.output
    db = open_database(url)
    try:
        assert Ledger(db, "live").orders() == []
    finally:
        db.dispose()



_BLOCK_PAGE = (b"<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>"
               b"<h1 data-translate=\"block_headline\">Sorry, you have been blocked</h1></body></html>")


@ONE_BACKEND
def test_reconcile_on_a_host_polymarkets_firewall_refuses_is_geoblocked_not_drift(world: World) -> None:
    """Found in review: with an order whose outcome the ledger does not know, reconcile from a host that
    Polymarket's firewall refuses (a 403 page on every read) reported that order as drift ("the venue
    lookup failed", exit 7, --fix hinted, --halt-on-drift halting), and with none the venue unavailable
    (exit 5, an outage to wait out). Nothing was read, so nothing disagrees: the venue is unavailable
    with refusal GEOBLOCKED, and the run exits 6 with the geoblock's reason and hint, as a trade does."""
    _crash_at(world, "l1_sent", "--idempotency-key", "live-sim-geoblocked")
    for prefix in ("/clob", "/data"):
        world.psim.server.add_fault(FaultRule("status", path_prefix=prefix, status=403, body=_BLOCK_PAGE))
    code, out, err = world.run("reconcile", "--json", "--halt-on-drift")
    assert code == 6, err + out
    (runs,) = json_documents(out)
    by = {r["venue"]: r for r in runs}
    assert (by["polymarket"]["status"], by["polymarket"]["drifts"]) == ("unavailable", []), out
    assert by["polymarket"]["refusal"] == "GEOBLOCKED" and "firewall" in by["polymarket"]["reason"]
    assert (by["kalshi"]["status"], by["kalshi"]["refusal"]) == ("clean", None)
    error = json.loads(err.strip().splitlines()[-1])
    assert (error["exit_code"], error["reason"]) == (6, "GEOBLOCKED"), err
    assert "--fix" not in err and "HALTED" not in err and "polymarket.com/api/geoblock" in err
    db = open_database(world.db_url)
    try:
        (event,) = [e for e in AuditLog(db).tail(100) if e.type.startswith("reconcile.") and e.venue == "polymarket"]
        assert event.type == "reconcile.unavailable" and event.payload["refusal"] == "GEOBLOCKED"
        (order,) = Ledger(db, "live").orders(venue=Venue.POLYMARKET)
        assert order.status.value == "submitted"  # still to look up, not settled as never sent
    finally:
        db.dispose()




def _live_watch(world: World) -> Watch:
    """`orion trade --watch 1 --live --authorize-live --jsonl` over the world's simulators."""
    return Watch([*ORION_ARGV, "--db", world.db_url, "trade", "--watch", "1", "--live",
                  "--authorize-live", "--jsonl"], world.env)


@ONE_BACKEND
@pytest.mark.parametrize("refused", ["kalshi exchange status", "polymarket balance"])
def test_a_watch_whose_venue_refuses_our_credentials_before_any_order_stops_with_exit_4(
        world: World, refused: str) -> None:
    """Found in review: a key the venue refuses (revoked, rotated) met before any order was sent did not
    stop `trade --watch`: Kalshi's 401 for its exchange status was an "error" event every round, and
    Polymarket's 401 for the balance made each round's trade a BALANCE refusal, audited every round,
    while a refusal of an order stops the watch (exit 4). It now stops the same way, as that single
    trade ends (exit 4, reason auth). An outage (5xx) before any order still does not stop it."""
    from sim.kalshi_sim import load_fixture

    code, _, err = world.run("pairs", "add", TICKER, world.cond)  # the watch's scan prices the world's pair
    assert code == 0, err
    status = f"{API_PREFIX}/exchange/status"
    world.ksim.server.add_fault(FaultRule("status", method="GET", path_prefix=status, status=503))
    watch = _live_watch(world)
    for _round in (1, 2):  # an outage: said, and the next round tries again
        ev = watch.until(lambda e: e.get("event") in ("error", "stopped"))
        assert (ev["event"], ev["reason"]) == ("error", "venue_unavailable"), ev
    world.ksim.server.clear_faults()
    if refused == "kalshi exchange status":  # every signed Kalshi read refused, as for a revoked key
        for path in (status, f"{API_PREFIX}/portfolio"):
            world.ksim.server.add_fault(FaultRule("status", method="GET", path_prefix=path, status=401,
                                                  body=load_fixture("auth__bad_signature")))
    else:
        world.psim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/balance-allowance",
                                              status=401, body={"error": "Unauthorized/Invalid api key"}))
    stopped = watch.until(lambda e: e.get("event") == "stopped")
    code = watch.finish(timeout=TIMEOUT)
    err = watch.stderr()
    world.assert_no_secret(err + json.dumps(watch.events))
    assert code == 4, err
    assert (stopped["exit_code"], stopped["reason_code"], stopped["trades"]) == (4, "auth", 0), stopped
    assert "rejected our credentials" in stopped["reason"], stopped
    error = json.loads(err.strip().splitlines()[-1])
    assert (error["exit_code"], error["reason"]) == (4, "auth"), err
    assert error["message"] == f"watch stopped: {stopped['reason']}" and "hint: check the API key id" in err
    assert world.kalshi_created() == [] and world.poly_created() == []  # nothing was sent
    db = open_database(world.db_url)
    try:
        assert [e.type for e in AuditLog(db).tail(10_000) if e.type in ("risk.rejected", "order.intent")] == []
    finally:
        db.dispose()
    # A single trade meeting the same refusal ends the same way (exit 4, reason auth), nothing sent.
    code, _, err = world.run(*LIVE, "--idempotency-key", "live-sim-auth-before")
    assert code == 4, err
    assert json.loads(err.strip().splitlines()[-1])["message"] == stopped["reason"], err
    assert world.kalshi_created() == [] and world.poly_created() == []


def _adopt_then_trade(world: World) -> None:
    """`reconcile --fix` adopts what the Kalshi account held by hand (exit 7: the drift it adopted; the next run
    is clean), its report is recorded, and the live trade that was refused then goes through."""
    code, out, err = world.run("reconcile", "--fix", "--json")
    assert code == 7, err + out
    assert Venue.KALSHI in world.ledger_cash()
    code, out, err = world.run(*LIVE)
    assert code == 0, err
    assert _execution(out)["status"] == "done"


@ONE_BACKEND
def test_a_first_live_trade_after_reconcile_held_the_report_for_drift_is_sent_to_reconcile_fix(world: World) -> None:
    """Found in review: on a fresh live ledger whose first reconcile found drift (a position bought outside
    orion), the balance report was held back (report_withheld), and the trade's BALANCE refusal said "run
    `orion balance` in live mode to record one", which records nothing while reconcile holds the venue's
    reports: the trader was sent round in a circle. It now names what does help, `orion reconcile --fix`
    (or a reconcile that finds none), and says why; and the preview no longer promises that --confirm
    records the report."""
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(5), D("0.02"), time.time())  # bought by hand
    code, out, err = world.run("reconcile", "--json")
    assert code == 7, err + out
    (kalshi,) = [r for r in json.loads(out) if r["venue"] == "kalshi"]
    assert kalshi["report_withheld"] and "--fix" in err, (kalshi, err)

    code, out, err = world.run(*LIVE)
    assert code == 6, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert rec["reason"] == "BALANCE" and "does not (since " in rec["message"], rec
    assert f"`{orion(world)} reconcile --live --venue kalshi --fix`" in rec["message"], rec
    assert "balance` in live mode" not in rec["message"] and "transfers could not be read" not in rec["message"], rec
    code, out, err = world.run("trade", OP_ID, "--live", "--authorize-live", "--json")  # the preview agrees
    previewed = [c for c in json.loads(out)[1:] if c["name"] == "BALANCE" and not c["passed"]]
    assert previewed and f"`{orion(world)} reconcile --live --venue kalshi --fix`" in previewed[0]["detail"], out
    assert world.kalshi_created() == [] and world.poly_created() == []

    code, out, err = world.run("balance")  # what the old message said: it records nothing here
    assert Venue.KALSHI not in world.ledger_cash(), err
    _adopt_then_trade(world)  # what the new message says


@ONE_BACKEND
def test_a_live_trade_beside_positions_reconcile_found_and_did_not_adopt_is_refused(world: World) -> None:
    """Found reviewing first contact with non-empty accounts: `orion balance` recorded a report, reconcile then
    found a position bought by hand (drift, exit 7) and held the venue's reports, and the trade still passed
    every check: the limits count the ledger's positions, which held none of it (400 contracts held by hand
    beside a $200 market limit, and the trade added to them). A live trade now refuses every leg on a venue
    whose reports reconcile holds, whatever report the ledger has, until `--fix` adopts what the venue holds."""
    code, _, err = world.run("balance")  # a report recorded first, as a trader looking around would
    assert code == 0 and Venue.KALSHI in world.ledger_cash(), err
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(5), D("0.02"), time.time())  # bought by hand
    metrics = Path(world.db_url.removeprefix("sqlite:///")).parent / "orion.prom"
    code, out, err = world.run("reconcile", "--json", "--metrics-file", str(metrics))
    assert code == 7, err + out
    # How the operator learns trading there has stopped: the record, a warning kept with -q, a gauge.
    (kalshi,) = [r for r in json.loads(out) if r["venue"] == "kalshi"]
    assert "drift(s) not fixed" in kalshi["live_trading_refused"], kalshi
    assert "warning: kalshi: live trades there are refused (since " in err, err
    assert 'orion_live_trading_refused{venue="kalshi",mode="live"} 1' in metrics.read_text(), metrics.read_text()

    code, out, err = world.run(*LIVE)
    assert code == 6, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert rec["reason"] == "BALANCE" and "exposure limits" in rec["message"], rec
    assert f"`{orion(world)} reconcile --live --venue kalshi --fix`" in rec["message"], rec
    assert world.kalshi_created() == [] and world.poly_created() == []

    code, out, err = world.run("reconcile", "--fix", "--json", "--metrics-file", str(metrics))  # adopted
    assert code == 7, err + out
    assert [r["live_trading_refused"] for r in json.loads(out)] == [None, None], out
    assert 'orion_live_trading_refused{venue="kalshi",mode="live"} 0' in metrics.read_text()
    code, out, err = world.run(*LIVE)
    assert code == 0, err
    assert _execution(out)["status"] == "done"


@ONE_BACKEND
def test_a_first_live_trade_beside_an_account_that_already_holds_positions_is_refused(world: World) -> None:
    """Found reviewing first contact with non-empty accounts: on a fresh ledger, never reconciled, the first
    live trade recorded the venue's report and passed every limit, blind to the positions the account held
    (bought by hand): the limits count the ledger's. A live venue's first report is now read with the
    account's positions; where it holds any, the report is not recorded and the venue is held, as reconcile
    holds one for drift, until `reconcile --fix` adopts them. `orion balance` meets the same."""
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(5), D("0.02"), time.time())  # bought by hand
    code, _out, err = world.run(*LIVE)
    assert code == 6, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert rec["reason"] == "BALANCE" and "exposure limits" in rec["message"], rec
    assert "1 position(s) the account held before orion first recorded its report" in rec["message"], rec
    assert "warning: kalshi: the account holds 1 position(s) orion did not trade" in err, err
    assert world.kalshi_created() == [] and world.poly_created() == []
    assert Venue.KALSHI not in world.ledger_cash() and Venue.POLYMARKET in world.ledger_cash()  # an empty account's
    code, _out, err = world.run("balance", "--json")
    assert code == 0 and "warning: kalshi: the account holds 1 position(s)" in err, err
    assert Venue.KALSHI not in world.ledger_cash()

    _adopt_then_trade(world)  # adopted: the limits count it from now on


@ONE_BACKEND
def test_positions_reconcile_adopts_count_toward_their_markets_category_cap(world: World) -> None:
    """Found reviewing what was left alone: `reconcile --fix` recorded the contracts it adopted uncategorised (a
    venue's positions name no category), so CATEGORY_EXPOSURE counted none of them under their market's: $120
    bought by hand in a Sports market beside a $100 Sports cap, adopted, and a live trade there passed. --fix
    now reads the market's category from the venue's market data, and the adoption records it."""
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(300), D("0.50"), time.time())  # $120, by hand
    code, out, err = world.run("reconcile", "--fix", "--json")
    assert code == 7, err + out
    code, out, err = world.run("positions", "--json")
    assert code == 0, err + out
    (recs,) = json_documents(out)
    (held,) = [r for r in recs if r["type"] == "position"]
    assert (held["market"], held["category"]) == (TICKER, "sports"), held
    caps = {"ORION__LIMITS__CATEGORY_EXPOSURE": "100", "ORION__LIMITS__MARKET_EXPOSURE": "100000"}
    code, out, err = world.run(*LIVE, extra_env=caps)
    assert code == 6, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert rec["reason"] == "CATEGORY_EXPOSURE" and "category sports: existing 12" in rec["message"], rec
    assert world.kalshi_created() == [] and world.poly_created() == []


@ONE_BACKEND
def test_reconcile_live_reads_the_venues_where_trading_mode_is_paper_and_a_paper_run_says_so(world: World) -> None:
    """Found reviewing paper against live on one ledger: going live through trade's flags leaves trading.mode at
    paper, and the README's cron `orion reconcile` then reconciled the paper ledger: "clean", exit 0, beside live
    drift it never looked at. `--live` reconciles the live ledger; a paper run on a ledger that has traded live
    warns, naming it."""
    paper = {"ORION__TRADING__MODE": "paper"}
    code, _, err = world.run("balance")  # live: the venues' reports recorded in the live ledger
    assert code == 0 and world.ledger_cash(), err
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(5), D("0.02"), time.time())  # bought by hand
    code, out, err = world.run("reconcile", "--json", extra_env=paper)
    assert code == 0, err + out
    assert "warning: paper mode: only the paper ledger is reconciled, and this ledger has traded live: " \
           f"`{orion(world)} reconcile --live` reconciles the live ledger with the venues" in err, err
    assert {r["mode"] for r in json.loads(out)} == {"paper"}
    code, out, err = world.run("reconcile", "--live", "--json", extra_env=paper)
    assert code == 7, err + out
    (kalshi,) = [r for r in json.loads(out) if r["venue"] == "kalshi"]
    assert kalshi["mode"] == "live" and kalshi["status"] == "drift", kalshi
    code, _, err = world.run("reconcile", "--live", "--demo", extra_env=paper)
    assert code == 2 and "--snapshot/--demo are for paper mode" in err, err


@ONE_BACKEND
def test_a_position_adopted_in_a_market_orion_will_not_price_still_counts_under_its_category(world: World) -> None:
    """Found reviewing the adoption: the category was read through the pricing read, which refuses a market whose
    series charges a fee type orion does not model (flat), so what the account held there was adopted
    uncategorised on every run, though the series states its category. It is read alone now."""
    series = TICKER.split("-")[0]
    world.ksim.series_fees[series] = ("flat", 1)
    world.ksim.flat_fees[series] = D("0.01")
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(300), D("0.50"), time.time())  # $120, by hand
    code, out, err = world.run("reconcile", "--fix", "--json")
    assert code == 7 and "could not be read" not in err, err + out
    code, out, err = world.run("positions", "--json")
    assert code == 0, err + out
    (recs,) = json_documents(out)
    (held,) = [r for r in recs if r["type"] == "position"]
    assert (held["market"], held["category"]) == (TICKER, "sports"), held


@ONE_BACKEND
def test_a_ledger_trading_live_through_the_flags_is_named_with_live_in_every_command_it_is_sent_to(
        world: World) -> None:
    """Found following the README's first day with real money (trading.mode at paper, live through trade's flags):
    the BALANCE refusal sent the trader to `orion reconcile --venue kalshi --fix`, which reconciled the paper
    ledger ("clean", exit 0), so the next live trade was refused again, a loop; an unwound trade pointed at
    `orion positions`, the empty paper ledger, and report/balance/positions had no way to show the live one.
    Each command named carries --live, and those three take it."""
    import shlex

    paper = {"ORION__TRADING__MODE": "paper"}
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(5), D("0.02"), time.time())  # bought by hand
    code, out, err = world.run(*LIVE, extra_env=paper)
    assert code == 6, err
    rec = json.loads(err.strip().splitlines()[-1])
    named = re.findall(r"`([^`]*reconcile[^`]*--fix)`", rec["message"])
    assert named and " --live " in named[0], rec
    code, out, err = world.run(*shlex.split(named[0])[1:], "--json", extra_env=paper)  # run as printed
    assert code == 7, err + out
    assert {r["mode"] for r in json.loads(out)} == {"live"}
    code, out, err = world.run(*LIVE, extra_env=paper)
    assert code == 0 and _execution(out)["status"] == "done", err
    code, out, err = world.run("positions", "--json", extra_env=paper)
    assert code == 0 and "this ledger has traded live: `" in err and "positions --live` show" in err, err
    assert [r for r in json_documents(out)[0] if r["type"] == "position"] == []
    code, out, err = world.run("positions", "--live", "--json", extra_env=paper)
    assert code == 0, err
    assert {r["venue"] for r in json_documents(out)[0] if r["type"] == "position"} == {"kalshi", "polymarket"}
    code, out, err = world.run("report", "--json", extra_env=paper)
    assert code == 0 and "report --live` reports the live one" in err, err
    code, out, err = world.run("report", "--live", "--json", extra_env=paper)
    assert code == 0 and "traded live" not in err, err


def _iso_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@ONE_BACKEND
def test_contracts_bought_by_hand_before_the_first_report_are_capital_not_todays_profit(world: World) -> None:
    """Found reviewing first contact with non-empty accounts: a ledger's first reconcile --fix adopted a hand buy
    of the day (a Kalshi fill within the look-back) as a fill, and recorded the venue's first report, whose
    cash had already paid for it, as the capital: the contracts' cost read as today's profit (+$186), hiding as
    much loss from the daily breaker for the rest of the day. Bought before the venue's first report, they are
    capital at their cost (audited as capital.adopted)."""
    acct = world.ksim.account(KEY_ID)
    now = time.time()
    world.ksim._apply_fill(acct, TICKER, "bid", D("0.40"), D(300), D("0.50"), now)  # $120 by hand, today,
    acct.fills.append({  # with the fill the venue lists for it (as its order endpoint records one)
        "action": "buy", "book_side": "bid", "count_fp": "300.00", "created_time": _iso_ts(now), "fee_cost": "0.500000",
        "fill_id": "hand-1", "is_taker": True, "market_ticker": TICKER, "no_price_dollars": "0.6000",
        "order_id": "hand-order-1", "outcome_side": "yes", "side": "yes", "subaccount_number": 0, "ticker": TICKER,
        "trade_id": "hand-1", "ts": int(now), "yes_price_dollars": "0.4000"})
    code, out, err = world.run("balance")  # the trader looks first: the day starts (Kalshi's report is held)
    assert code == 0, err
    code, out, err = world.run("reconcile", "--fix", "--json")
    assert code == 7, err + out
    code, out, err = world.run("balance", "--json")
    assert code == 0, err
    records = [r for doc in json_documents(out) for r in (doc if isinstance(doc, list) else [doc])]
    (pnl,) = [r for r in records if r.get("type") == "pnl"]
    assert abs(D(pnl["today_pnl"])) < D(10), pnl  # the $120 is capital; marks may move it by cents a contract
    assert D(pnl["start_equity"]) > D(pnl["equity"]) - D(10), pnl


@ONE_BACKEND
def test_balance_does_not_record_a_report_beside_positions_sold_by_hand(world: World) -> None:
    """Found reviewing first contact with non-empty accounts: after a sale made by hand between runs, `orion
    balance` recorded the venue's report, its cash holding the sale beside contracts the ledger still held at
    cost: equity the account never had, and the breaker's peak raised by it (a later real loss then read as a
    drawdown from it). `balance` reads the positions with the report: where they disagree with the ledger's,
    the report is not recorded (a warning names `orion reconcile`)."""
    code, out, err = world.run(*LIVE)
    assert code == 0 and _execution(out)["status"] == "done", err
    before = world.ledger_cash()[Venue.KALSHI]
    acct = world.ksim.account(KEY_ID)
    world.ksim._apply_fill(acct, TICKER, "ask", D("0.55"), D(10), D("0.02"), time.time())  # all 10 YES sold by hand
    code, out, err = world.run("balance", "--json")
    assert code == 0, err
    assert f"warning: kalshi: its positions disagree with the ledger's in 1 market(s) ({TICKER})" in err, err
    assert world.ledger_cash()[Venue.KALSHI] == before
    assert "warning: polymarket" not in err, err  # the other venue agrees: its report is recorded as before


@ONE_BACKEND
def test_a_watch_whose_polymarket_clob_takes_another_order_version_stops_with_exit_5(world: World) -> None:
    """Found in review: a CLOB that takes no V2 order (GET /version 3) did not stop `trade --watch`, as a
    geoblocked order or refused credentials do. The Kalshi leg (the thinner here, so the first) filled, the
    Polymarket hedge was refused, the Kalshi leg was unwound at a loss, and the next round scanned on to
    trade again wherever the books allowed. The watch now stops on the first such refusal, as that single
    trade ends (exit 5, reason ORDER_VERSION_MISMATCH)."""
    world.ksim.set_book(TICKER, [["0.3800", "50.00"]], [["0.6000", "25.00"]])  # YES asks 0.40 × 25: thinner
    code, _, err = world.run("pairs", "add", TICKER, world.cond)  # the watch's scan prices the world's pair
    assert code == 0, err
    world.psim.clob_version = 3
    watch = _live_watch(world)
    first = watch.until(lambda e: e.get("type") == "execution" or e.get("event") == "stopped")
    assert (first.get("type"), first.get("status")) == ("execution", "unwound"), first
    after = watch.until(lambda e: e.get("type") == "execution" or e.get("event") in ("scan", "stopped"))
    if after.get("event") != "stopped":
        watch.proc.kill()
        pytest.fail(f"the watch went on to round {after.get('round')}", pytrace=False)
    code = watch.finish(timeout=TIMEOUT)
    err = watch.stderr()
    assert code == 5, err
    assert (after["exit_code"], after["reason_code"], after["trades"]) == (5, "ORDER_VERSION_MISMATCH", 1), after
    assert "order version 3" in after["reason"], after
    error = json.loads(err.strip().splitlines()[-1])
    assert (error["exit_code"], error["reason"]) == (5, "ORDER_VERSION_MISMATCH"), err
    assert len(world.kalshi_created()) == 2 and world.poly_created() == []  # one leg and its unwind


@ONE_BACKEND
@pytest.mark.parametrize("fault", ["unreadable", "missing"])
def test_a_polymarket_leg_whose_token_book_cannot_be_read_refuses_as_the_venues_fault_sending_nothing(
        world: World, fault: str) -> None:
    """The leg's NO token's book unreadable (a price "abc") or not returned while the YES token's reads:
    that side was empty, planned as no depth ("the thinnest leg's fresh asks allow 0", exit 6 INVALID_ORDER),
    safe but read as a fact about the market. Nothing is sent, and it exits 5 naming the book and the side."""
    if fault == "unreadable":
        world.psim.books[world.no_token]["bids"] = [{"price": "abc", "size": "1"}]
    else:
        del world.psim.books[world.no_token]
    for args in (LIVE, (*LIVE[:-2], "--json")):  # --confirm, and the preview
        code, _out, err = world.run(*args)
        assert code == 5, err
        rec = json.loads(err.strip().splitlines()[-1])
        assert rec["reason"] == "venue_error", rec
        assert rec["message"].startswith(f"polymarket book {world.cond}: the NO side could not be read"), rec
        assert ("not a number: 'abc'" if fault == "unreadable" else "no book returned for token") in rec["message"]
        assert "fresh asks allow 0" not in err and "depth is unknown, not zero" in err
    assert world.kalshi_created() == [] and world.poly_created() == []


@ONE_BACKEND
@pytest.mark.parametrize("creds", ["no vault", "vault without polymarket keys", "locked vault, no password"])
def test_a_live_watch_without_usable_credentials_stops_at_once_with_exit_4(
        world: World, tmp_path: Path, rsa_key: rsa.RSAPrivateKey, creds: str) -> None:
    """Found in review: a live `trade --watch` (authorized by the environment pair, as a service runs it)
    with no vault, a vault without a venue's keys, or a locked vault and no password source (no
    terminal) emitted an `error` event for every opportunity every round, for ever: credentials missing
    are no outage to wait out. It now stops before its first round, exit 4, with a `stopped` record
    whose reason_code is the secrets error's, and that error's hint; nothing is sent."""
    from orion_cli.secrets.unlock import NO_SOURCE_HINT

    code, _, err = world.run("pairs", "add", TICKER, world.cond)  # an opportunity each round
    assert code == 0, err
    env = {**world.env, "ORION_PAPER_TRADING": "0", "ORION_LIVE_TRADING_AUTHORIZED": "true"}
    if creds == "no vault":
        env["ORION__SECRETS__VAULT_PATH"] = str(tmp_path / "none" / "vault.json")
        reason, hint = "no_vault", f"create it with `{orion(world)} secrets encrypt`"
    elif creds == "vault without polymarket keys":
        (tmp_path / "v").mkdir()
        pw, vault = _vault(tmp_path / "v", {"kalshi_api_key_id": KEY_ID, "kalshi_private_key": _pem(rsa_key)})
        env["ORION__SECRETS__VAULT_PATH"], env["ORION_MASTER_PASSWORD_FILE"] = str(vault), str(pw)
        reason, hint = "secret_missing", f"store them with `{orion(world)} secrets encrypt`, or disable the venue"
    else:
        del env["ORION_MASTER_PASSWORD_FILE"]
        reason, hint = "locked", NO_SOURCE_HINT[:60]
    watch, stopped, code, err = _env_watch_until_stopped(world, env)
    assert code == 4, err
    assert [e["event"] for e in watch.events] == ["stopped"], watch.events  # before the first round
    assert (stopped["exit_code"], stopped["reason_code"], stopped["trades"], stopped["rounds"]) == (4, reason, 0, 0)
    if creds == "vault without polymarket keys":
        assert "polymarket credentials are not in the vault" in stopped["reason"], stopped
    error = json.loads(err.strip().splitlines()[-1])
    assert (error["exit_code"], error["reason"]) == (4, reason), err
    assert error["message"] == f"watch stopped: {stopped['reason']}" and f"hint: {hint}" in err, err
    assert world.kalshi_created() == [] and world.poly_created() == []


def _env_watch_until_stopped(world: World, env: dict[str, str], *,
                             before_stop: Callable[[Watch], None] = lambda watch: None,
                             ) -> tuple[Watch, dict[str, Any], int, str]:
    """`orion trade --watch 1 --jsonl` live by ``env``'s pair, run until its `stopped` event (``before_stop``
    first), killed if it outlives the test: the watch, that event, its exit code and its stderr, checked
    to hold no secret."""
    watch = Watch([*ORION_ARGV, "--db", world.db_url, "trade", "--watch", "1", "--jsonl"], env)
    try:
        before_stop(watch)
        stopped = watch.until(lambda e: e.get("event") == "stopped", timeout=20)  # without the fix: never
        code = watch.finish(timeout=TIMEOUT)
    finally:
        if watch.proc.poll() is None:
            watch.proc.kill()
    err = watch.stderr()
    world.assert_no_secret(err + json.dumps(watch.events))
    return watch, stopped, code, err


@ONE_BACKEND
def test_a_live_watch_goes_on_after_the_vault_password_is_rotated_once_its_source_gives_the_new_one(
        world: World, tmp_path: Path) -> None:
    """Found reviewing the vault in use: `orion secrets rotate` under a running live watch stopped it (exit 4,
    vault_rekeyed) at its next trade, hours later, with the new password already in the file it reads: a new
    master password revokes no credential, and the opportunity was lost for nothing. The watch unlocks the
    vault again through its password sources (never a prompt) and trades. The file is updated after the
    rotation (the old password unlocks for it): a round in between that meets the old password waits for the
    new one (LazyStore.awaiting_new_password), it does not stop."""
    code, _, err = world.run("pairs", "add", TICKER, world.cond)
    assert code == 0, err
    status = f"{API_PREFIX}/exchange/status"
    world.ksim.server.add_fault(FaultRule("status", method="GET", path_prefix=status, status=503))
    env = {**world.env, "ORION_PAPER_TRADING": "0", "ORION_LIVE_TRADING_AUTHORIZED": "true"}
    new = tmp_path / "new-password"
    new.write_text("a brand new master password\n")
    new.chmod(0o600)

    def rotate(watch: Watch) -> None:
        for _round in (1, 2):  # the vault unlocked by the first round's trade, refused by the outage
            ev = watch.until(lambda e: e.get("event") in ("error", "stopped"))
            assert (ev["event"], ev["reason"]) == ("error", "venue_unavailable"), ev
        code, _, err = world.run("secrets", "rotate", "--new-password-file", str(new))
        assert code == 0, err
        # The service's file still gives the old password to a round or two (it is updated after the rotation).
        ev = watch.until(lambda e: e.get("event") in ("error", "stopped") and e.get("reason") not in (
            "vault_rekeyed", "venue_unavailable"))
        assert (ev["event"], ev["reason"]) == ("error", "wrong_password"), ev
        Path(env["ORION_MASTER_PASSWORD_FILE"]).write_text(new.read_text())
        world.ksim.server.clear_faults()

    watch = Watch([*ORION_ARGV, "--db", world.db_url, "trade", "--watch", "1", "--jsonl", "--max-trades", "1"],
                  env)
    try:
        rotate(watch)
        stopped = watch.until(lambda e: e.get("event") == "stopped", timeout=30)
        code = watch.finish(timeout=TIMEOUT)
    finally:
        if watch.proc.poll() is None:
            watch.proc.kill()
    world.assert_no_secret(watch.stderr() + json.dumps(watch.events))
    assert code == 0, watch.stderr()
    assert stopped["trades"] == 1 and "max trades" in stopped["reason"], stopped
    assert len(world.kalshi_created()) == 1 and len(world.poly_created()) == 1


@ONE_BACKEND
def test_a_live_watch_whose_key_is_removed_from_the_vault_stops_with_exit_4_an_outage_did_not(
        world: World) -> None:
    """The same for a key removed from the vault while the watch runs (`orion secrets remove`): the
    round's trade fails for want of it (secret_missing), and the watch stops then (exit 4) instead of
    failing every round after. An outage (a 503 for Kalshi's exchange status) still does not stop it.
    (Not met before the first round: a key removed later is met by the round's trade.)"""
    code, _, err = world.run("pairs", "add", TICKER, world.cond)
    assert code == 0, err
    status = f"{API_PREFIX}/exchange/status"
    world.ksim.server.add_fault(FaultRule("status", method="GET", path_prefix=status, status=503))
    env = {**world.env, "ORION_PAPER_TRADING": "0", "ORION_LIVE_TRADING_AUTHORIZED": "true"}

    def outage_then_removal(watch: Watch) -> None:
        for _round in (1, 2):  # an outage: said, and the next round tries again
            ev = watch.until(lambda e: e.get("event") in ("error", "stopped"))
            assert (ev["event"], ev["reason"]) == ("error", "venue_unavailable"), ev
        # Removed while the outage lasts, so no round can trade on what it read before the removal.
        code, _, err = world.run("secrets", "remove", "polymarket_api_secret")
        assert code == 0, err

    watch, stopped, code, err = _env_watch_until_stopped(world, env, before_stop=outage_then_removal)
    assert code == 4, err
    assert (stopped["exit_code"], stopped["reason_code"], stopped["trades"]) == (4, "secret_missing", 0), watch.events
    assert "polymarket_api_secret" in stopped["reason"]
    assert f"hint: store them with `{orion(world)} secrets encrypt`" in err, err
    assert world.kalshi_created() == [] and world.poly_created() == []
