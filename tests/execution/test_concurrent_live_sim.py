"""Eight OS processes trading live at once against the venue simulators: the limits hold *at the venue*.

``tests/risk/test_concurrent_limits.py`` proves the check + intent transaction is serialised by
counting ledger rows. This suite closes the loop: each worker (a ``multiprocessing`` *spawn* child,
sharing nothing but the database and the two simulators) runs the real :class:`Executor` with the
real pre-trade pipeline, real venue clients (RSA-PSS signed Kalshi V2 orders, EIP-712 signed
Polymarket orders) over loopback, and fresh balances read from the venues. Afterwards the orders are
counted where they landed — the simulators — and must respect:

* the rate limit (orders per minute and per hour, both legs counted);
* the per-order notional limit (a plan above it is refused before anything is sent);
* the per-market exposure limit (orders × limit price per market);
* one order per client order id, one execution per idempotency key.

Two pairs are traded: pair 0's Polymarket market binds on exposure, the run as a whole on the rate
limit, and every worker also tries one oversized plan (notional) and keys shared with other workers
(duplicates).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from eth_account import Account
from racing import WORKER, race, wait_for_start
from sim.kalshi_sim import API_PREFIX, KalshiSim
from sim.polymarket_sim import PolymarketSim, _tokens_of

PROCS = 8
ATTEMPTS = 5  # per worker: four regular plans and one oversized one
KEY_ID = "0b7f3c1e-9a41-4f7e-8d0c-3f5a2b6c7d8e"
TEMPLATE_TICKER = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"  # a recorded market, copied under two tickers
TICKERS = ("KXWTACHALLENGERMATCH-26JUN11JIMLEP-CONCA", "KXWTACHALLENGERMATCH-26JUN11JIMLEP-CONCB")
OVERRIDES: dict[str, Any] = {
    "rate_limits.orders_per_minute": 10,  # five two-leg executions in all
    "rate_limits.orders_per_hour": 10,
    "limits.market_exposure": "16",  # Polymarket NO at 0.50 × 10 + fees ≈ 5.2 a leg: three fit, a fourth not
    "limits.order_notional": "8",  # size 10 fits; the oversized plan (size 20) does not
    "limits.category_exposure": "1000",
    "limits.total_exposure": "1000",
    "trading.min_edge": "0",
}
SIZE, OVERSIZE = D(10), D(20)


# -- the worker (a spawned process) -----------------------------------------------------------------


def _plan(pair: int, key: str, size: D, w: dict[str, Any]) -> Any:
    from orion_cli.core.config import load_settings
    from orion_cli.core.fees import FeeModel
    from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, Side, TickStructure, Venue
    from orion_cli.core.opportunity import Leg, Opportunity
    from orion_cli.execution.executor import build_plan

    now = datetime.now(UTC)
    ticker, (cond, yes, no) = TICKERS[pair], w["poly"][pair]
    km = Market(Venue.KALSHI, ticker, "E", "t", MarketStatus.OPEN, None, FeeModel.kalshi(),
                TickStructure.uniform(D("0.01")), category="Concurrency", min_size=D("1"), size_step=D("1"))
    pm = Market(Venue.POLYMARKET, cond, "E", "t", MarketStatus.OPEN, None, FeeModel.polymarket(D("0.04")),
                TickStructure.uniform(D("0.01")), category="Concurrency", min_size=D("1"), size_step=D("0.01"),
                yes_token=yes, no_token=no)
    kb = OrderBook(Venue.KALSHI, ticker, BookSide((PriceLevel(D("0.38"), D("5000")),),
                                                  (PriceLevel(D("0.40"), D("5000")),)),
                   BookSide((), (PriceLevel(D("0.62"), D("5000")),)), now)
    pb = OrderBook(Venue.POLYMARKET, cond, BookSide((), (PriceLevel(D("0.55"), D("5000")),)),
                   BookSide((PriceLevel(D("0.47"), D("5000")),), (PriceLevel(D("0.50"), D("5000")),)), now)
    legs = (Leg(Venue.KALSHI, ticker, Side.YES, size, D("0.4"), D("0.4"), D(0), 1, D(5000), D(4)),
            Leg(Venue.POLYMARKET, cond, Side.NO, size, D("0.5"), D("0.5"), D(0), 1, D(5000), D(5), token_id=no))
    opp = Opportunity(f"conc{pair:04d}", "cross_venue", legs, size, D(9), D(0), D("0.1"), D("0.1"), D(1), D(1),
                      D("0.1"), None, None, D(0), D("0.3"), now, now, "k~p")
    return build_plan(opp, {(Venue.KALSHI, ticker): (km, kb), (Venue.POLYMARKET, cond): (pm, pb)},
                      size=size, key=key, settings=load_settings(overrides=OVERRIDES, environ={}), now=now)


async def _worker(w: dict[str, Any]) -> dict[str, Any]:
    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.core.config import load_settings
    from orion_cli.core.models import Venue
    from orion_cli.core.settlement import record_reports
    from orion_cli.execution.executor import Executor
    from orion_cli.risk.checks import PipelineContext
    from orion_cli.store.db import open_database
    from orion_cli.store.ledger import Ledger
    from orion_cli.venues.http import RetryPolicy
    from orion_cli.venues.kalshi.client import RateTier
    from orion_cli.venues.kalshi.signing import KalshiSigner
    from orion_cli.venues.kalshi.trading import KalshiTrading
    from orion_cli.venues.polymarket.signing import ApiCredentials, PrivateKey
    from orion_cli.venues.polymarket.trading import PolymarketTrading

    settings = load_settings(overrides=OVERRIDES, environ={})
    db = open_database(w["url"])
    rsa_key = serialization.load_pem_private_key(w["rsa_pem"].encode(), password=None)
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    fast = RetryPolicy(2, 0.001, 0.01)
    venues: dict[Venue, Any] = {
        Venue.KALSHI: KalshiTrading(KalshiSigner(KEY_ID, rsa_key), base_url=w["kalshi_url"],
                                    tier=RateTier("test", 1e6, 1e6, 1e6, 1e6), retry=fast,
                                    cancel_poll_delays=(0.01,)),
        Venue.POLYMARKET: PolymarketTrading(ApiCredentials(*w["creds"]), PrivateKey.from_hex(w["pkey"]),
                                            clob_url=w["clob_url"], data_url=w["data_url"],
                                            geoblock_url=w["geoblock_url"], retry=fast, timeout=5.0),
    }
    outcomes: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    errors: list[str] = []
    try:
        ledger = Ledger(db, "live")
        ex = Executor(db, ledger, venues, settings, mode="live", alerts=NullAlertSink(), verify_delays=(0.0, 0.05))
        ready = time.monotonic()
        wait_for_start(w, timeout=180)
        went = time.monotonic()
        for j in range(ATTEMPTS):
            oversized = j == ATTEMPTS - 1
            pair = (w["worker"] + j) % 2
            # Keys drawn from a pool the workers share: the same key reaches several processes.
            key = f"conc-{w['worker'] * 3 + j * 7 % 11:02d}" if not oversized else f"conc-big-{w['worker']}"
            try:
                balances = {v: await venue.balance() for v, venue in venues.items()}
                # As `orion trade --confirm`: the reports are recorded before the checks (BALANCE
                # refuses a live venue the ledger holds no report of).
                await record_reports(ledger, venues, balances)
                ctx = PipelineContext(settings=settings, mode="live", authorized=True, authorization="flag",
                                      balances=balances, now=datetime.now(UTC))
                result = await ex.execute(_plan(pair, key, OVERSIZE if oversized else SIZE, w), ctx)
                outcomes[result.status] += 1
                refused.update(c.name for c in result.verdict.checks if not c.passed)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")
    finally:
        await asyncio.gather(*(v.aclose() for v in venues.values()))
        db.dispose()
    return {"outcomes": outcomes, "refused": refused, "errors": errors, "wait_s": round(went - ready, 2),
            "trading_s": round(time.monotonic() - went, 2)}


if __name__ == WORKER:
    _out = asyncio.run(_worker(WORKER_ARGS))  # type: ignore[name-defined]  # noqa: F821
    Path(WORKER_ARGS["out"]).write_text(json.dumps(_out))  # type: ignore[name-defined]  # noqa: F821


# -- the parent: simulators, workers, and the count at the venues -----------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def venues_up(rsa_key: rsa.RSAPrivateKey) -> Iterator[tuple[KalshiSim, PolymarketSim, dict[str, Any]]]:
    ksim = KalshiSim()
    ksim.register_key(KEY_ID, rsa_key.public_key())
    template = next(m for m in ksim.markets if m["ticker"] == TEMPLATE_TICKER)
    for ticker in TICKERS:
        ksim.add_market({**template, "ticker": ticker})
        ksim.set_book(ticker, [["0.3800", "5000.00"]], [["0.6000", "5000.00"]])
    ksim.account(KEY_ID).cash = D("100000")
    psim = PolymarketSim.universe(2, seed=23, markets_per_event=1)
    poly = []
    for _ev, m in list(psim.all_markets())[:2]:
        m["orderPriceMinTickSize"], m["negRisk"], m["feesEnabled"] = 0.01, False, True
        m["feeSchedule"] = {"exponent": 1, "rate": 0.04, "takerOnly": True, "rebateRate": 0}
        yes, no = _tokens_of(m)
        for token, asks in ((yes, [("0.55", "5000")]), (no, [("0.50", "5000")])):
            book = psim.books[token]
            book["asks"] = [{"price": p, "size": s} for p, s in asks]
            book["bids"] = [{"price": "0.47", "size": "5000"}]
            book["tick_size"], book["neg_risk"] = "0.01", False
        poly.append((m["conditionId"], yes, no))
    acct = Account.create()
    from orion_cli.venues.polymarket.signing import PrivateKey

    pkey = PrivateKey.from_hex(acct.key.hex())
    creds = psim.add_account(pkey.address, balance=D("100000"))
    ksim.start()
    psim.start()
    try:
        yield ksim, psim, {
            "kalshi_url": ksim.server.base_url + API_PREFIX, "clob_url": psim.clob_url, "data_url": psim.data_url,
            "geoblock_url": psim.geoblock_url, "pkey": acct.key.hex(),
            "creds": [creds["apiKey"], creds["secret"], creds["passphrase"]], "poly": poly,
            "rsa_pem": rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode(),
        }
    finally:
        psim.stop()
        ksim.stop()


def test_eight_live_processes_never_exceed_a_limit_counted_at_the_venues(
        db_url: str, tmp_path: Path, venues_up: tuple[KalshiSim, PolymarketSim, dict[str, Any]]) -> None:
    from orion_cli.store.audit import AuditLog
    from orion_cli.store.db import open_database
    from orion_cli.store.ledger import Ledger

    ksim, psim, common = venues_up
    open_database(db_url).dispose()  # migrate once, before the race
    results = race(__file__, {**common, "url": db_url}, tmp_path, PROCS, timeout=180)
    assert [e for r in results for e in r["errors"]] == []

    # -- counted at the venues --
    acct = ksim.account(KEY_ID)
    kalshi = [acct.order(oid) or {} for oid in acct.created]
    poly = list(psim.orders.values())
    by_cid = Counter(str(o.get("client_order_id", "")) for o in kalshi)
    assert all(n == 1 for n in by_cid.values()), by_cid
    assert len(poly) == len({o["id"] for o in poly})
    placed = len(kalshi) + len(poly)
    assert placed <= OVERRIDES["rate_limits.orders_per_minute"], placed
    notional: Counter[str] = Counter()
    for o in kalshi:
        own = D(o["yes_price_dollars"]) if o["outcome_side"] == "yes" else D(o["no_price_dollars"])
        order_notional = D(o["initial_count_fp"]) * own
        assert order_notional <= D(OVERRIDES["limits.order_notional"]), o
        notional[o["ticker"]] += order_notional
    for o in poly:
        order_notional = D(o["original_size"]) * D(o["price"])
        assert order_notional <= D(OVERRIDES["limits.order_notional"]), o
        notional[o["market"]] += order_notional
    assert all(v <= D(OVERRIDES["limits.market_exposure"]) for v in notional.values()), notional

    # -- and the ledger agrees with the venues, the chain intact --
    db = open_database(db_url)
    try:
        ledger_orders = Ledger(db, "live").orders()
        sent = [o for o in ledger_orders if o.venue_order_id]
        assert len(sent) == placed
        assert AuditLog(db).verify().ok
    finally:
        db.dispose()

    # The limits were contended, or this proves nothing about serialisation across processes.
    refused: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for r in results:
        refused.update(r["refused"])
        outcomes.update(r["outcomes"])
    assert outcomes["done"] >= 2, outcomes
    assert refused["ORDER_NOTIONAL"] >= PROCS, refused
    assert refused["RATE_LIMIT"] + refused["MARKET_EXPOSURE"] > 0, refused
    print(json.dumps({"suite": "eight live processes", "db": db_url.split(":", 1)[0], "placed_at_venues": placed,
                      "outcomes": dict(outcomes), "refusals": dict(refused),
                      "notional_by_market": {k: str(v) for k, v in notional.items()},
                      "worker_trading_seconds": [r["trading_s"] for r in results]}))
