"""The executor end to end over loopback: ``KalshiTrading`` + ``PolymarketTrading`` against the simulators.

The simulators verify every signature and keep their own order books, balances and orders, so the
counts taken there (orders created per client order id / order hash) are the venue's truth: zero
duplicates under 5xx, ``drop_after`` (accepted, answer lost) and 409 duplicate answers.

The pair: Polymarket NO asks 0.50 × 30 (the thinner leg, sent first), Kalshi YES asks 0.40 × 50.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from eth_account import Account
from execution.execution_kit import all_pass, coid_of, settings
from sim.kalshi_sim import API_PREFIX, KalshiSim
from sim.polymarket_sim import PolymarketSim, _tokens_of
from sim.server import FaultRule

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.errors import Refused
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, Side, TickStructure, Venue
from orion_cli.core.opportunity import Leg, Opportunity
from orion_cli.execution.executor import Executor, build_plan
from orion_cli.execution.plan import TradePlan
from orion_cli.risk.halt import KillSwitch
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database, open_database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.http import RetryPolicy
from orion_cli.venues.kalshi.client import RateTier
from orion_cli.venues.kalshi.signing import KalshiSigner
from orion_cli.venues.kalshi.trading import KalshiTrading
from orion_cli.venues.polymarket.signing import ApiCredentials, PrivateKey
from orion_cli.venues.polymarket.trading import PolymarketTrading
from orion_cli.venues.trading import OrderStatus

TICKER = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"
KEY_ID = "8c35ecb3-328f-4f52-8c7c-0f4b9862f8d1"
CREATE = API_PREFIX + "/portfolio/events/orders"
FREE = RateTier("test", 1e6, 1e6, 1e6, 1e6)
FAST = RetryPolicy(2, 0.001, 0.01)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def psim() -> Iterator[PolymarketSim]:
    s = PolymarketSim.universe(2, seed=11, markets_per_event=1)
    with s:
        yield s


@pytest.fixture
def ksim(rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiSim]:
    s = KalshiSim()
    s.register_key(KEY_ID, rsa_key.public_key())
    # YES bids 0.38 × 50; NO bids 0.60 × 50 → YES asks 0.40 × 50
    s.set_book(TICKER, [["0.3800", "50.00"]], [["0.6000", "50.00"]])
    s.start()
    yield s
    s.stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'sim.db'}")
    yield database
    database.dispose()


class Setup:
    def __init__(self, ksim: KalshiSim, psim: PolymarketSim, rsa_key: rsa.RSAPrivateKey) -> None:
        psim.reset()
        self.ksim, self.psim, self.rsa_key = ksim, psim, rsa_key
        _ev, m = next((ev, m) for ev, m in psim.all_markets() if len(_tokens_of(m)) == 2)
        m["orderPriceMinTickSize"], m["negRisk"], m["feesEnabled"] = 0.01, False, True
        m["feeSchedule"] = {"exponent": 1, "rate": 0.04, "takerOnly": True, "rebateRate": 0}
        self.cond: str = m["conditionId"]
        self.yes, self.no = _tokens_of(m)
        for token, asks in ((self.yes, [("0.55", "100")]), (self.no, [("0.52", "100"), ("0.50", "30")])):
            book = psim.books[token]
            book["asks"] = [{"price": p, "size": s} for p, s in asks]
            book["bids"] = [{"price": "0.47", "size": "100"}]
            book["tick_size"], book["neg_risk"] = "0.01", False
        acct = Account.create()
        self.pkey = PrivateKey.from_hex(acct.key.hex())
        self.creds = ApiCredentials.from_response(psim.add_account(self.pkey.address, balance=D("1000")))

    def venues(self) -> dict[Venue, Any]:
        k = KalshiTrading(KalshiSigner(KEY_ID, self.rsa_key), base_url=self.ksim.server.base_url + API_PREFIX,
                          tier=FREE, retry=FAST, cancel_poll_delays=(0.01,))
        p = PolymarketTrading(self.creds, self.pkey, clob_url=self.psim.clob_url, data_url=self.psim.data_url,
                              geoblock_url=self.psim.geoblock_url, retry=FAST, timeout=2.0)
        return {Venue.KALSHI: k, Venue.POLYMARKET: p}

    def markets(self) -> tuple[Market, Market]:
        km = Market(Venue.KALSHI, TICKER, "E", "t", MarketStatus.OPEN, None, FeeModel.kalshi(),
                    TickStructure.uniform(D("0.01")), category="Tennis", min_size=D("1"), size_step=D("1"))
        pm = Market(Venue.POLYMARKET, self.cond, "E", "t", MarketStatus.OPEN, None, FeeModel.polymarket(D("0.04")),
                    TickStructure.uniform(D("0.01")), category="Tennis", min_size=D("1"), size_step=D("0.01"),
                    yes_token=self.yes, no_token=self.no)
        return km, pm

    def plan(self, key: str, size: D = D(10), kalshi_depth: D = D(50)) -> TradePlan:
        now = datetime.now(UTC)
        km, pm = self.markets()
        kb = OrderBook(Venue.KALSHI, TICKER, BookSide((PriceLevel(D("0.38"), D("50")),),
                                                      (PriceLevel(D("0.40"), kalshi_depth),)),
                       BookSide((), (PriceLevel(D("0.62"), D("50")),)), now)
        pb = OrderBook(Venue.POLYMARKET, self.cond, BookSide((), (PriceLevel(D("0.55"), D("100")),)),
                       BookSide((PriceLevel(D("0.47"), D("100")),),
                                (PriceLevel(D("0.50"), D("30")), PriceLevel(D("0.52"), D("100")))), now)
        legs = (Leg(Venue.KALSHI, TICKER, Side.YES, D(10), D("0.4"), D("0.4"), D(0), 1, D(50), D(4)),
                Leg(Venue.POLYMARKET, self.cond, Side.NO, D(10), D("0.5"), D("0.5"), D(0), 1, D(30), D(5),
                    token_id=self.no))
        opp = Opportunity("simopp01", "cross_venue", legs, D(10), D(9), D(0), D("0.1"), D("0.1"), D(1), D(1),
                          D("0.1"), None, None, D(0), D("0.3"), now, now, "k~p")
        return build_plan(opp, {(Venue.KALSHI, TICKER): (km, kb), (Venue.POLYMARKET, self.cond): (pm, pb)},
                          size=size, key=key, settings=settings(), now=now)

    def kalshi_created(self) -> dict[str, int]:
        out: dict[str, int] = {}
        acct = self.ksim.account(KEY_ID)
        for oid in acct.created:
            o = acct.order(oid) or {}
            cid = str(o.get("client_order_id", ""))
            out[cid] = out.get(cid, 0) + 1
        return out

    def poly_orders(self) -> int:
        return len(self.psim.orders)


@pytest.fixture
def env(ksim: KalshiSim, psim: PolymarketSim, rsa_key: rsa.RSAPrivateKey) -> Setup:
    return Setup(ksim, psim, rsa_key)


def execute(db: Database, env: Setup, key: str, alerts: NullAlertSink | None = None, size: D = D(10),
            plan: TradePlan | None = None, **kw: Any) -> Any:
    async def main() -> Any:
        venues = env.venues()
        try:
            ex = Executor(db, Ledger(db, "live"), venues, settings(), mode="live", alerts=alerts or NullAlertSink(),
                          evaluate=all_pass, verify_delays=(0.0, 0.05), decide_delays=(0.05, 0.05, 0.05), **kw)
            return await ex.execute(plan or env.plan(key, size), None)
        finally:
            await asyncio.gather(*(v.aclose() for v in venues.values()))

    return asyncio.run(main())


def assert_no_duplicates(env: Setup, db: Database, key: str) -> None:
    created = env.kalshi_created()
    assert all(n == 1 for n in created.values()), created
    assert env.poly_orders() <= len([o for o in Ledger(db, "live").orders(execution_id=key)
                                     if o.venue is Venue.POLYMARKET])
    assert AuditLog(db).verify().ok


def test_happy_path_over_loopback(db: Database, env: Setup) -> None:
    res = execute(db, env, "sim-happy")
    assert res.status == "done", res.message
    assert [o.status for o in res.orders] == [OrderStatus.FILLED, OrderStatus.FILLED]
    assert [o.venue for o in res.orders] == [Venue.POLYMARKET, Venue.KALSHI]  # the thinner leg first
    assert env.kalshi_created() == {coid_of(db, "sim-happy", "l2"): 1} and env.poly_orders() == 1
    fills = Ledger(db, "live").fills()
    assert sum((f.size for f in fills if f.venue is Venue.KALSHI), D(0)) == D(10)
    assert sum((f.size for f in fills if f.venue is Venue.POLYMARKET), D(0)) == D(10)
    assert_no_duplicates(env, db, "sim-happy")


def test_a_polymarket_leg_is_planned_at_its_best_ask_so_every_share_is_hedged(db: Database, env: Setup) -> None:
    # Asked for 40: Polymarket's NO asks are 0.50 × 30 then 0.52 × 100. A buy of 40 limited at 0.52 is
    # signed for $20.80, which the venue spends in full: 30 at 0.50 and 11.15 at 0.52, 1.15 NO beyond
    # the 40 Kalshi YES. The plan takes the best ask's 30 instead, on both legs.
    res = execute(db, env, "sim-best-ask", size=D(40))
    assert res.status == "done", res.message
    held = {(p.venue, p.side): p.size for p in Ledger(db, "live").positions()}
    assert held == {(Venue.KALSHI, Side.YES): D(30), (Venue.POLYMARKET, Side.NO): D(30)}
    assert_no_duplicates(env, db, "sim-best-ask")


def test_a_polymarket_hedge_retry_is_limited_at_the_fresh_best_ask(db: Database, env: Setup) -> None:
    # Kalshi is the thinner leg (12 deep at plan time) and fills 10 YES at 0.40. Polymarket's NO asks
    # have moved to 0.52 × 200: the planned FOK at 0.50 is killed and the retry, priced up to the pair's
    # breakeven (about 0.57), finds 0.52. Limited at 0.57 it was signed for $5.70, which the venue spent
    # in full at 0.52: 10.96 NO against 10 YES. Limited at the best ask, $5.20 buys the 10.
    plan = env.plan("sim-retry-best", kalshi_depth=D(12))
    book = env.psim.books[env.no]
    book["asks"] = [{"price": "0.52", "size": "200"}]
    _km, pm = env.markets()
    fresh = OrderBook(Venue.POLYMARKET, env.cond, BookSide(), BookSide((), (PriceLevel(D("0.52"), D("200")),)),
                      datetime.now(UTC))

    async def books(venue: Venue, market_id: str) -> tuple[Market, OrderBook]:
        assert venue is Venue.POLYMARKET and market_id == env.cond
        return pm, fresh

    res = execute(db, env, "sim-retry-best", plan=plan, books=books)
    assert res.status == "done", res.message
    assert [o.venue for o in res.orders][:2] == [Venue.KALSHI, Venue.POLYMARKET]  # the thinner leg first
    held = {(p.venue, p.side): p.size for p in Ledger(db, "live").positions()}
    assert held == {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert_no_duplicates(env, db, "sim-retry-best")


def test_a_polymarket_first_leg_matched_late_is_waited_for_then_hedged(db: Database, env: Setup) -> None:
    env.psim.delay_matching, env.psim.delayed_lookups = True, 3  # still "delayed" through the read-back
    res = execute(db, env, "sim-delayed")
    assert res.status == "done", res.message
    assert not KillSwitch(db, mode="live").status().halted
    held = {(p.venue, p.side): p.size for p in Ledger(db, "live").positions()}
    assert held == {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
    assert_no_duplicates(env, db, "sim-delayed")


def test_a_polymarket_first_leg_never_matched_is_cancelled_and_nothing_is_hedged(db: Database, env: Setup) -> None:
    env.psim.delay_matching, env.psim.delayed_lookups = True, None
    res = execute(db, env, "sim-undecided")
    assert res.status == "failed" and "nothing filled" in res.message, res.message
    assert not KillSwitch(db, mode="live").status().halted
    assert env.kalshi_created() == {} and [o["status"] for o in env.psim.orders.values()] == ["CANCELED"]
    assert Ledger(db, "live").positions() == []
    assert_no_duplicates(env, db, "sim-undecided")


def test_kalshi_5xx_on_the_second_leg_is_looked_up_then_resent_verbatim(db: Database, env: Setup) -> None:
    env.ksim.server.add_fault(FaultRule("status", status=500, times=1, method="POST", path_prefix=CREATE))
    res = execute(db, env, "sim-5xx")
    assert res.status == "done", res.message
    posts = [r for r in env.ksim.server.requests if r.method == "POST" and r.path == CREATE]
    assert len(posts) == 2 and posts[0].body == posts[1].body
    assert env.kalshi_created() == {coid_of(db, "sim-5xx", "l2"): 1}
    assert_no_duplicates(env, db, "sim-5xx")


def test_kalshi_drop_after_on_the_second_leg_is_found_not_resent(db: Database, env: Setup) -> None:
    env.ksim.server.add_fault(FaultRule("drop_after", times=1, method="POST", path_prefix=CREATE))
    res = execute(db, env, "sim-drop")
    assert res.status == "done", res.message
    posts = [r for r in env.ksim.server.requests if r.method == "POST" and r.path == CREATE]
    assert len(posts) == 1
    assert env.kalshi_created() == {coid_of(db, "sim-drop", "l2"): 1}
    assert_no_duplicates(env, db, "sim-drop")


def test_kalshi_409_duplicate_is_read_back_never_placed_twice(db: Database, env: Setup) -> None:
    # The create lands but its answer is lost, and the first lookup cannot see the client order id:
    # the same body goes again and Kalshi answers 409 order_already_exists → looked up, not placed.
    env.ksim.server.add_fault(FaultRule("drop_after", times=1, method="POST", path_prefix=CREATE))
    env.ksim.server.add_fault(FaultRule("remove_field", field="client_order_id", times=1, method="GET",
                                        path_prefix=API_PREFIX + "/portfolio/orders"))
    res = execute(db, env, "sim-409")
    assert res.status == "done", res.message
    posts = [r for r in env.ksim.server.requests if r.method == "POST" and r.path == CREATE]
    assert len(posts) == 2 and posts[0].body == posts[1].body
    assert env.kalshi_created() == {coid_of(db, "sim-409", "l2"): 1}
    assert_no_duplicates(env, db, "sim-409")


def test_polymarket_drop_after_on_the_first_leg_is_found_by_hash(db: Database, env: Setup) -> None:
    env.psim.server.add_fault(FaultRule("drop_after", times=1, method="POST", path_prefix="/clob/order"))
    res = execute(db, env, "sim-pdrop")
    assert res.status == "done", res.message
    assert env.poly_orders() == 1
    assert_no_duplicates(env, db, "sim-pdrop")


def test_thin_second_leg_retries_then_unwinds_at_the_venue(db: Database, env: Setup) -> None:
    # After planning, Kalshi's YES asks thin to 4 at 0.40: the FOK second leg is killed, the IOC
    # retry takes the 4, nothing is left for the next retry, and 6 Polymarket NO are sold back.
    env.ksim.set_book(TICKER, [["0.3800", "50.00"]], [["0.6000", "4.00"]])
    alerts = NullAlertSink()
    res = execute(db, env, "sim-unwind", alerts)
    assert res.status == "unwound", res.message
    held = {(p.venue, p.side): p.size for p in Ledger(db, "live").positions()}
    assert held == {(Venue.KALSHI, Side.YES): D(4), (Venue.POLYMARKET, Side.NO): D(4)}
    assert alerts.emitted == [] and not KillSwitch(db, mode="live").status().halted
    assert_no_duplicates(env, db, "sim-unwind")


def test_unwind_that_cannot_fill_halts_and_alerts(db: Database, env: Setup) -> None:
    env.ksim.set_book(TICKER, [["0.3800", "50.00"]], [])
    for token in (env.no,):  # nobody bids for the NO shares: the unwind finds nothing
        env.psim.books[token]["bids"] = []
    alerts = NullAlertSink()
    res = execute(db, env, "sim-halt", alerts)
    assert res.status == "halted", res.message
    assert KillSwitch(db, mode="live").status().halted
    assert [k for k, _, _ in alerts.emitted] == ["unwind.failed"]
    assert_no_duplicates(env, db, "sim-halt")


PINNED_NONCE = "f" * 32


def _pin_nonce(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the next execution a known nonce, so a test can place an order under one of its ids first
    (as a copy of the same execution in a ledger restored from a backup would have)."""
    from orion_cli.execution import executor as executor_mod

    monkeypatch.setattr(executor_mod, "new_id_nonce", lambda: PINNED_NONCE)


def _place_foreign(env: Setup, cid: str, side: Side, size: str, price: str) -> str:
    """An order another party (another orion ledger on this account, this ledger before a restore from
    backup) placed under ``cid``: Kalshi keeps the id for ever."""
    from orion_cli.venues.trading import Action, OrderRequest, TimeInForce

    async def main() -> str:
        k = env.venues()[Venue.KALSHI]
        try:
            request = OrderRequest(Venue.KALSHI, TICKER, side, Action.BUY, D(size), D(price), TimeInForce.IOC, cid)
            return (await k.submit(k.prepare(request))).venue_order_id
        finally:
            await k.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize("tag", ["l1", "l2"])
def test_a_kalshi_client_order_id_another_order_holds_is_never_adopted(db: Database, env: Setup, tag: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a black-box run: a second ledger trading the same accounts with the same key sent the first
    ledger's Kalshi id, was answered 409 order_already_exists, and adopted the order found under it
    (10 filled where it asked 5): "done", 10 Kalshi contracts booked that it never bought, its own
    Polymarket shares unhedged. Ids are now salted per ledger; should one still be held by another order
    (a ledger restored from a backup), the send is refused naming the collision and nothing of that
    order is booked: a first leg fails with nothing sent anywhere, a second is hedged by a retry."""
    key = f"sim-taken-{tag}"
    plan = env.plan(key, kalshi_depth=D(12) if tag == "l1" else D(50))  # Kalshi the thinner leg: sent first
    _pin_nonce(monkeypatch)  # the id another party already used: this execution's own
    foreign = _place_foreign(env, coid_of(db, key, tag, nonce=PINNED_NONCE), Side.YES, "3", "0.40")
    res = execute(db, env, key, plan=plan)
    ledger = Ledger(db, "live")
    booked = {o.venue_order_id for o in ledger.orders(execution_id=key) if o.venue is Venue.KALSHI}
    assert foreign not in booked and all(f.venue_order_id != foreign for f in ledger.fills())
    taken = ledger.order(coid_of(db, key, tag))
    assert taken is not None and taken.status is OrderStatus.REJECTED and taken.filled_size == 0
    assert "client_order_id_taken" in taken.reject_reason and foreign in taken.reject_reason
    assert not KillSwitch(db, mode="live").status().halted
    if tag == "l1":
        assert res.status == "failed" and "client_order_id_taken" in res.message and foreign in res.message
        assert env.poly_orders() == 0 and ledger.positions() == []
        assert list(env.kalshi_created()) == [coid_of(db, key, tag)]  # only the foreign order
        from orion_cli.cli.commands.trade.say import raise_for_result

        with pytest.raises(Refused) as refused:  # `orion trade`: exit 6, the collision its reason
            raise_for_result(res)
        assert refused.value.reason == "CLIENT_ORDER_ID_TAKEN" and refused.value.exit_code == 6
    else:
        assert res.status == "done", res.message
        held = {(p.venue, p.side): p.size for p in ledger.positions()}
        assert held == {(Venue.KALSHI, Side.YES): D(10), (Venue.POLYMARKET, Side.NO): D(10)}
        assert env.kalshi_created() == {coid_of(db, key, "l2"): 1, coid_of(db, key, "l2a1"): 1}
    assert AuditLog(db).verify().ok


def test_a_kalshi_order_found_under_its_id_after_a_lost_answer_is_not_adopted_if_another(
        db: Database, env: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same collision met by a look-up: the first leg's create is dropped (its answer lost, the venue
    never saw it) and the look-up by client order id finds another order under that id. It is not taken
    for the first leg: the outcome stays unresolved, so the execution halts naming the collision, with
    nothing of that order booked and nothing sent to Polymarket."""
    key = "sim-taken-lost"
    plan = env.plan(key, kalshi_depth=D(12))  # Kalshi the thinner leg: sent first
    _pin_nonce(monkeypatch)
    foreign = _place_foreign(env, coid_of(db, key, "l1", nonce=PINNED_NONCE), Side.YES, "3", "0.40")
    env.ksim.server.add_fault(FaultRule("drop", times=1, method="POST", path_prefix=CREATE))
    res = execute(db, env, key, plan=plan)
    assert res.status == "halted" and "client_order_id_taken" in res.message and foreign in res.message, res.message
    ledger = Ledger(db, "live")
    assert all(o.venue_order_id != foreign for o in ledger.orders()) and ledger.fills() == []
    assert env.poly_orders() == 0 and list(env.kalshi_created()) == [coid_of(db, key, "l1")]
    assert KillSwitch(db, mode="live").status().halted
