"""PolymarketTrading end to end over loopback HTTP against PolymarketSim, which verifies every
HMAC (stdlib) and every order signature (eth_account recovery) on its own, so a wrong byte fails."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:  # importable under any pytest import mode
    sys.path.insert(0, _TESTS)

from eth_account import Account  # noqa: E402
from sim.polymarket_sim import PolymarketSim, _tokens_of  # noqa: E402
from sim.server import FaultKind, FaultRule, SimRequest  # noqa: E402

from orion_cli.core.errors import AuthError, DataError, ExitCode, VenueError, VenueUnavailable  # noqa: E402
from orion_cli.core.fees import FeeModel  # noqa: E402
from orion_cli.core.models import Side, Venue  # noqa: E402
from orion_cli.core.money import loads_exact  # noqa: E402
from orion_cli.venues.http import RetryPolicy, VenueHttpError  # noqa: E402
from orion_cli.venues.polymarket.orders import (  # noqa: E402
    OrderSide,
    OrderType,
    SignatureType,
    build_signed_order,
)
from orion_cli.venues.polymarket.parse import parse_fee_model  # noqa: E402
from orion_cli.venues.polymarket.signing import ApiCredentials, PrivateKey  # noqa: E402
from orion_cli.venues.polymarket.trading import (  # noqa: E402
    PolymarketTrading,
    derive_api_key,
    parse_balance_units,
    parse_position,
    parse_trade_fills,
)
from orion_cli.venues.trading import (  # noqa: E402
    Action,
    Geoblocked,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderVersionUnsupported,
    PreparedOrder,
    SettlementsIncomplete,
    TimeInForce,
    TradingVenue,
)

T = TypeVar("T")
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
ASKS = [("0.55", "50"), ("0.53", "20"), ("0.52", "100")]  # worst → best (best last, as the CLOB sends)
BIDS = [("0.45", "50"), ("0.47", "30"), ("0.48", "50")]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[PolymarketSim]:
    s = PolymarketSim.universe(2, seed=11, markets_per_event=1)
    with s:
        yield s


class Market:
    def __init__(self, sim: PolymarketSim, *, nth: int = 0) -> None:
        """The ``nth`` two-outcome market of the simulator (0: the one every test here trades)."""
        _ev, m = [(ev, m) for ev, m in sim.all_markets() if len(_tokens_of(m)) == 2][nth]
        m["orderPriceMinTickSize"] = 0.01
        m["negRisk"] = False
        m["feesEnabled"] = True
        m["feeSchedule"] = {"exponent": 1, "rate": 0.04, "takerOnly": True, "rebateRate": 0}
        self.raw = m
        self.id: str = m["conditionId"]
        self.yes, self.no = _tokens_of(m)
        for token in (self.yes, self.no):
            book = sim.books[token]
            book["asks"] = [{"price": p, "size": s} for p, s in ASKS]
            book["bids"] = [{"price": p, "size": s} for p, s in BIDS]
            book["tick_size"], book["neg_risk"] = "0.01", False


@pytest.fixture
def sim(shared_sim: PolymarketSim) -> PolymarketSim:
    shared_sim.reset()
    return shared_sim


@pytest.fixture
def market(sim: PolymarketSim) -> Market:
    return Market(sim)


class Wallet:
    """A throwaway key registered at the simulator, and the API credentials the venue gave it."""

    def __init__(self, sim: PolymarketSim, *, balance: str = "1000", signature_type: int = 0,
                 shares: dict[str, Decimal] | None = None, register: bool = True) -> None:
        acct = Account.create()
        self.key = PrivateKey.from_hex(acct.key.hex())
        self.funder: str | None = Account.create().address if signature_type else None
        self.signature_type = signature_type
        self.creds = (
            ApiCredentials.from_response(
                sim.add_account(self.key.address, funder=self.funder, signature_type=signature_type,
                                balance=Decimal(balance), shares=shares)
            )
            if register
            else ApiCredentials("00000000-0000-0000-0000-000000000000", "c2VjcmV0", "pass")
        )

    def client(self, sim: PolymarketSim, **kw: Any) -> PolymarketTrading:
        kw.setdefault("retry", FAST)
        kw.setdefault("timeout", 2.0)
        kw.setdefault("creds", self.creds)
        kw.setdefault("key", self.key)
        return PolymarketTrading(
            kw.pop("creds"), kw.pop("key"), clob_url=sim.clob_url, data_url=sim.data_url,
            geoblock_url=sim.geoblock_url, funder=self.funder, signature_type=self.signature_type, **kw,
        )


@pytest.fixture
def wallet(sim: PolymarketSim) -> Wallet:
    return Wallet(sim)


def order(market: Market, *, action: Action = Action.BUY, size: str = "10", price: str = "0.52",
          tif: TimeInForce = TimeInForce.FOK, side: Side = Side.YES, coid: str = "c-1") -> OrderRequest:
    return OrderRequest(
        venue=Venue.POLYMARKET, market_id=market.id, side=side, action=action, size=Decimal(size),
        limit_price=Decimal(price), time_in_force=tif, client_order_id=coid,
        token_id=market.yes if side is Side.YES else market.no, tick_size=Decimal("0.01"),
    )


def posts(sim: PolymarketSim) -> list[SimRequest]:
    return [r for r in sim.requests if r.method == "POST" and r.path == "/clob/order"]


def with_client(wallet: Wallet, sim: PolymarketSim, fn: Callable[[PolymarketTrading], Coroutine[Any, Any, T]],
                **kw: Any) -> T:
    async def go() -> T:
        async with wallet.client(sim, **kw) as pm:
            return await fn(pm)

    return run(go())


# --------------------------------------------------------------------------- orders


def test_is_a_trading_venue(sim: PolymarketSim, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        venue: TradingVenue = pm
        assert venue.venue is Venue.POLYMARKET and venue.mode == "live"

    with_client(wallet, sim, go)


def test_fok_buy_fills_reads_back_with_fills_and_fees(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        prepared = pm.prepare(order(market))
        state = await pm.submit(prepared)
        assert state.status is OrderStatus.FILLED
        assert state.filled_size == Decimal("10") and state.avg_fill_price == Decimal("0.52")
        assert state.venue_order_id == prepared.venue_ref
        # the sim received exactly the prepared bytes, and accepted their HMAC and signature
        assert posts(sim)[-1].body == prepared.payload.encode()
        found = await pm.find_order("c-1", prepared.venue_ref)
        assert found is not None and found.status is OrderStatus.FILLED
        assert found.client_order_id == "c-1" and found.market_id == market.id and found.side is Side.YES
        assert found.avg_fill_price == Decimal("0.52")
        assert found.fees == Decimal("0.09984")  # 10 × 0.04 × 0.52 × 0.48
        fills = await pm.fills(venue_order_id=prepared.venue_ref)
        assert [(f.size, f.price, f.is_taker, f.client_order_id) for f in fills] == [
            (Decimal("10"), Decimal("0.52"), True, "c-1")
        ]
        # The venue charged the market's taker fee on top of 10 × 0.52 (the BUY fee in pUSD): what orion booked.
        assert [(side, units) for _id, side, units in sim.fees_charged] == [("BUY", 99840)]
        bal = await pm.balance()
        assert bal.total == Decimal("994.70016") and bal.available == Decimal("994.70016")
        assert bal.read_at == bal.as_of  # taken before asking: what the ledger judges its fills by
        positions = await pm.positions()
        assert [(p.market_id, p.side, p.size, p.avg_price) for p in positions] == [
            (market.id, Side.YES, Decimal("10"), Decimal("0.52"))
        ]

    with_client(wallet, sim, go)


def test_a_trade_whose_settlement_failed_gives_no_fill(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """Reference notes pitfall 12: matched is provisional; a FAILED trade moved nothing."""
    async def go(pm: PolymarketTrading) -> None:
        prepared = pm.prepare(order(market))
        await pm.submit(prepared)
        assert len(await pm.fills(venue_order_id=prepared.venue_ref)) == 1  # MATCHED: counted
        sim.clob_trades[-1]["status"] = "FAILED"
        assert await pm.fills(venue_order_id=prepared.venue_ref) == []

    with_client(wallet, sim, go)


def _taker_row(**fields: Any) -> dict[str, Any]:
    row = {"id": "t-1", "taker_order_id": "0xmine", "market": "0xcond", "asset_id": "111", "side": "BUY",
           "size": "100", "price": "0.5", "fee_rate_bps": "0", "status": "MATCHED", "match_time": "1760000000",
           "outcome": "Yes", "trader_side": "TAKER", "maker_orders": []}
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


@pytest.mark.parametrize("reported", ["0", "", None, "1000"])
def test_a_taker_fill_in_a_market_whose_fee_model_is_known_is_charged_by_that_model(reported: str | None) -> None:
    """Found in review: the fee was the trade record's fee_rate_bps with exponent 1, but the reference
    gives the rate per market (feeSchedule, fd.r/fd.e) and a live V2 taker fill reported 0 while it was
    charged (py-clob-client-v2 #107): booked as 0, the loss breaker tripped late. py-clob-client-v2's
    vector: rate 0.25, exponent 2, 100 @ 0.5 → 100 × 0.25 × 0.25² = 1.5625, whatever the record says."""
    model = FeeModel.polymarket(Decimal("0.25"), 2)
    (fill,) = parse_trade_fills(_taker_row(fee_rate_bps=reported), api_key="k", funder="0xf",
                                fee_models={"0xcond": model})
    assert fill.is_taker and fill.fee == Decimal("1.5625")
    # the market's model, not the record's rate, also when the market is fee-free
    (free,) = parse_trade_fills(_taker_row(fee_rate_bps="1000"), api_key="k", funder="0xf",
                                fee_models={"0xcond": FeeModel.free()})
    assert free.fee == 0


@pytest.mark.parametrize(("reported", "fee"), [("400", "1.00000"), ("0", "0"), (None, "0")])
def test_a_taker_fill_in_a_market_whose_fee_model_is_unknown_falls_back_to_the_records_rate(
        reported: str | None, fee: str) -> None:
    """Another market's model is not this one's: 100 @ 0.5 at the record's 400 bps is 100 × 0.04 × 0.25."""
    other = {"0xother": FeeModel.polymarket(Decimal("0.07"))}
    for models in (None, other):
        (fill,) = parse_trade_fills(_taker_row(fee_rate_bps=reported), api_key="k", funder="0xf", fee_models=models)
        assert fill.fee == Decimal(fee)


def test_a_fill_reported_without_its_fee_is_charged_by_the_remembered_model(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """The simulator's trade records say fee_rate_bps 0, as a live V2 taker fill did; the market charges
    0.04 (its feeSchedule). Told the model, as `orion trade` tells it, the client books 10 × 0.04 × 0.52
    × 0.48; a model orion only assumed (no schedule published) is not taken for the market's."""
    sim.trade_fee_rate_bps = "0"

    async def go(pm: PolymarketTrading) -> None:
        first = pm.prepare(order(market, coid="c-1"))
        await pm.submit(first)
        unknown = await pm.find_order("c-1", first.venue_ref)
        assert unknown is not None and unknown.fees == 0  # the record's word, without a model

        assumed, is_assumed = parse_fee_model({"feesEnabled": True})
        assert is_assumed
        pm.remember_fee(market.id, assumed)
        still = await pm.find_order("c-1", first.venue_ref)
        assert still is not None and still.fees == 0

        pm.remember_fee(market.id, FeeModel.polymarket(Decimal("0.04")))  # the market's feeSchedule
        found = await pm.find_order("c-1", first.venue_ref)
        assert found is not None and found.status is OrderStatus.FILLED
        assert found.fees == Decimal("0.09984")  # 10 × 0.04 × 0.52 × 0.48
        (fill,) = await pm.fills(venue_order_id=first.venue_ref)
        assert fill.fee == Decimal("0.09984")

    with_client(wallet, sim, go)


def test_fok_not_fillable_is_killed_not_rejected(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        prepared = pm.prepare(order(market, size="500", price="0.53"))
        state = await pm.submit(prepared)
        assert state.status is OrderStatus.CANCELLED and state.filled_size == 0
        assert "FOK orders are fully filled or killed" in state.reject_reason
        assert await pm.find_order("c-1", prepared.venue_ref) is None
        assert (await pm.balance()).total == Decimal("1000")

    with_client(wallet, sim, go)
    assert sim.orders == {}


def test_a_marketable_buy_under_a_dollar_is_refused_by_the_venue(sim: PolymarketSim, market: Market,
                                                                 wallet: Wallet) -> None:
    """The simulator holds Polymarket's $1 minimum for FOK/FAK buys, so the refusal's path is exercised."""
    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected, match=r"marketable BUY order \(\$0\.99\), min size: \$1"):
            await pm.submit(pm.prepare(order(market, size="1.9", price="0.52", tif=TimeInForce.IOC)))
        state = await pm.submit(pm.prepare(order(market, size="1.93", price="0.52", tif=TimeInForce.IOC)))
        assert state.filled_size >= Decimal("1.93")  # 1.01 spent: taken

    with_client(wallet, sim, go)


def _signed(pm: PolymarketTrading, market: Market, *, order_type: OrderType, price: str, size: str,
            tick: str = "0.01", side: OrderSide = OrderSide.BUY, expiration: int = 0) -> PreparedOrder:
    """An order signed as orion would, but with the type, tick and expiration given (GTD, a wrong tick)."""
    signed = build_signed_order(pm.key, token_id=market.yes, side=side, price=Decimal(price), size=Decimal(size),
                                tick_size=Decimal(tick), order_type=order_type, owner=pm.creds.api_key,
                                neg_risk=False, expiration=expiration)
    request = order(market, size=size, price=price, tif=TimeInForce.GTC,
                    action=Action.BUY if side is OrderSide.BUY else Action.SELL)
    return PreparedOrder(request=request, payload=signed.body.decode(), venue_ref=signed.order_hash)


def _refused(wallet: Wallet, sim: PolymarketSim, prepare: Callable[[PolymarketTrading], PreparedOrder],
             said: str) -> None:
    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected, match=said):
            await pm.submit(prepare(pm))

    with_client(wallet, sim, go)
    assert sim.orders == {} and len(posts(sim)) == 1


def test_the_simulator_refuses_a_resting_price_off_the_tick_grid(sim: PolymarketSim, market: Market,
                                                                  wallet: Wallet) -> None:
    """Review (tests/sim realism): the simulator took any price; the venue derives a resting order's price
    as pUSD/shares and refuses one off the market's grid. 0.523 signed for a 0.001 tick, the market's is 0.01."""
    _refused(wallet, sim, lambda pm: _signed(pm, market, order_type=OrderType.GTC, price="0.523", size="10",
                                             tick="0.001"),
             r"Price \(0\.523\) breaks minimum tick size rule: 0\.01")


def test_the_simulator_refuses_a_resting_price_out_of_range(sim: PolymarketSim, market: Market, wallet: Wallet,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from orion_cli.venues.polymarket import orders

    monkeypatch.setattr(orders, "order_amounts", lambda side, *_: orders.OrderAmounts(side, 10_000_000, 10_000_000))
    _refused(wallet, sim, lambda pm: _signed(pm, market, order_type=OrderType.GTC, price="0.52", size="10"),
             r"Price \(1\) out of range, min: 0\.01 - max: 0\.99")


def test_the_simulator_refuses_a_resting_orders_amounts_beyond_the_ticks_precision(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    """A 0.01 tick allows pUSD to 4 decimals (ROUNDING_CONFIG); 10.01 shares at 0.5234 is 5.239234."""
    _refused(wallet, sim, lambda pm: _signed(pm, market, order_type=OrderType.GTC, price="0.5234", size="10.01",
                                             tick="0.0001"),
             "the buy orders maker amount supports a max accuracy of 4 decimals, taker amount a max of 2")


def test_the_simulator_refuses_a_market_orders_amounts_beyond_its_flat_precision(
    sim: PolymarketSim, market: Market, wallet: Wallet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """py-clob-client #121: 1.74 @ 0.58 signed with the limit amounts (pUSD 1.0092) is refused as FOK."""
    from orion_cli.venues.polymarket import orders

    monkeypatch.setattr(orders, "order_amounts", lambda side, price, size, tick, _type:
                        orders.limit_amounts(side, price, size, tick))
    _refused(wallet, sim, lambda pm: pm.prepare(order(market, size="1.74", price="0.58", tif=TimeInForce.FOK)),
             "market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4")


def test_the_simulator_refuses_a_resting_order_under_the_minimum_size(sim: PolymarketSim, market: Market,
                                                                     wallet: Wallet) -> None:
    _refused(wallet, sim, lambda pm: pm.prepare(order(market, size="4", price="0.50", tif=TimeInForce.GTC)),
             r"Size \(4\) lower than the minimum: 5")


def test_the_simulator_refuses_a_gtd_expiring_within_the_venues_60_seconds(sim: PolymarketSim, market: Market,
                                                                          wallet: Wallet) -> None:
    _refused(wallet, sim, lambda pm: _signed(pm, market, order_type=OrderType.GTD, price="0.50", size="10",
                                             expiration=int(time.time()) + 30),
             "must be at least 60 seconds in the future")

    async def later(pm: PolymarketTrading) -> None:  # a minute and more is taken, and rests
        state = await pm.submit(_signed(pm, market, order_type=OrderType.GTD, price="0.50", size="10",
                                        expiration=int(time.time()) + 120))
        assert state.status is OrderStatus.OPEN

    with_client(wallet, sim, later)


def test_fak_partial_fill(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        state = await pm.submit(pm.prepare(order(market, size="150", price="0.53", tif=TimeInForce.IOC)))
        assert state.status is OrderStatus.PARTIAL and state.filled_size == Decimal("120")
        found = await pm.find_order("c-1")
        assert found is not None and found.status is OrderStatus.PARTIAL and found.filled_size == Decimal("120")

    with_client(wallet, sim, go)


def test_fak_with_nothing_to_match_is_killed(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        state = await pm.submit(pm.prepare(order(market, price="0.40", tif=TimeInForce.IOC)))
        assert state.status is OrderStatus.CANCELLED and "FAK" in state.reject_reason

    with_client(wallet, sim, go)


def test_fok_sell_of_held_shares(sim: PolymarketSim, market: Market) -> None:
    w = Wallet(sim, shares={market.yes: Decimal("25")})

    async def go(pm: PolymarketTrading) -> None:
        state = await pm.submit(pm.prepare(order(market, action=Action.SELL, size="20", price="0.48")))
        assert state.status is OrderStatus.FILLED and state.filled_size == Decimal("20")
        assert state.avg_fill_price == Decimal("0.48")
        fills = await pm.fills(venue_order_id=state.venue_order_id)
        assert [f.fee for f in fills] == [Decimal("0.19968")]  # 20 × 0.04 × 0.48 × 0.52, out of the proceeds
        assert [(side, units) for _id, side, units in sim.fees_charged] == [("SELL", 199680)]
        assert (await pm.balance()).total == Decimal("1009.6") - Decimal("0.19968")
        conditional = await pm.balance_allowance("CONDITIONAL", market.yes)
        assert conditional["balance"] == "5000000"

    with_client(w, sim, go)


def test_the_simulators_taker_fee_is_the_recorded_on_chain_fee() -> None:
    """The simulator's fee (written apart from orion's FeeModel) against every real fill captured on chain
    (shares × rate × p(1 − p), floored to 5 decimals) and py-clob-client-v2's exponent-2 vector."""
    from sim.polymarket_sim import FIXTURES

    sim = PolymarketSim.__new__(PolymarketSim)  # the fee needs no server
    rows = json.loads((FIXTURES / "polymarket/chain_order_filled_taker_fees.json").read_text())
    assert len(rows) > 10 and any(r["fee"] != "0" for r in rows)
    for r in rows:
        shares = int(r["taker_amount_filled"] if r["side"] == "BUY" else r["maker_amount_filled"])
        info = {"fee_rate": Decimal(r["fee_rate"]), "fee_exponent": 1}
        assert sim.taker_fee_units(info, Decimal(r["price"]), shares) == int(r["fee"]), r
    vector = {"fee_rate": Decimal("0.25"), "fee_exponent": 2}
    assert sim.taker_fee_units(vector, Decimal("0.5"), 100_000000) == 1_562500  # 100 @ 0.5 → 1.5625


def test_a_buy_fee_taken_in_shares_delivers_fewer_shares_and_no_pusd(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    """The simulator's other denomination for a BUY's fee (the captures do not settle which asset pays it):
    the same amount withheld from the shares delivered, the pUSD paid only the matched notional."""
    sim.fee_denomination = "shares"

    async def go(pm: PolymarketTrading) -> None:
        state = await pm.submit(pm.prepare(order(market)))
        assert state.status is OrderStatus.FILLED and state.filled_size == Decimal("10")
        assert [(side, units) for _id, side, units in sim.fees_charged] == [("BUY", 99840)]
        assert (await pm.balance()).total == Decimal("994.8")
        conditional = await pm.balance_allowance("CONDITIONAL", market.yes)
        assert conditional["balance"] == "9900160"  # 10 − 0.09984
        assert [(p.size, p.avg_price) for p in await pm.positions()] == [
            (Decimal("9.90016"), (Decimal("5.2") / Decimal("9.90016")).quantize(Decimal("0.000001")))]

    with_client(wallet, sim, go)


def test_a_fee_free_market_charges_nothing_and_a_fee_beyond_the_balance_is_refused(
    sim: PolymarketSim, market: Market
) -> None:
    """A pUSD-paid fee is paid on top of the notional, so a balance of just the notional does not cover it;
    in a fee-free market it does."""
    exact = Wallet(sim, balance="5.2")

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected, match="not enough balance"):
            await pm.submit(pm.prepare(order(market)))
        assert sim.fees_charged == [] and (await pm.balance()).total == Decimal("5.2")
        market.raw["feesEnabled"] = False
        state = await pm.submit(pm.prepare(order(market, coid="c-2")))
        assert state.status is OrderStatus.FILLED
        assert sim.fees_charged == [] and (await pm.balance()).total == Decimal(0)

    with_client(exact, sim, go)


def test_gtc_rests_is_listed_reserves_cash_and_cancels_idempotently(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    sim.page_size = 2  # force /data/orders pagination

    async def go(pm: PolymarketTrading) -> None:
        refs = []
        for i in range(5):
            st = await pm.submit(pm.prepare(order(market, size="10", price=f"0.4{i}", tif=TimeInForce.GTC,
                                                  coid=f"g-{i}")))
            assert st.status is OrderStatus.OPEN and st.filled_size == 0
            refs.append(st.venue_order_id)
        listed = await pm.open_orders()
        assert sorted(o.venue_order_id for o in listed) == sorted(refs)
        assert {o.client_order_id for o in listed} == {f"g-{i}" for i in range(5)}
        bal = await pm.balance()
        assert bal.reserved == Decimal("21.0")  # 10 × (0.40 + 0.41 + … + 0.44)
        assert bal.total == Decimal("1000") and bal.available == Decimal("1000") - bal.reserved
        cancelled = await pm.cancel(refs[0])
        assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
        again = await pm.cancel(refs[0])  # already terminal: not an error
        assert again is not None and again.status is OrderStatus.CANCELLED
        assert len(await pm.open_orders()) == 4

    with_client(wallet, sim, go)
    cursors = [r.param("next_cursor") for r in sim.requests if r.path == "/clob/data/orders"]
    assert cursors[:3] == ["MA==", "Mg==", "NA=="]


@pytest.mark.parametrize(("kind", "status"), [("rate_limit", 429), ("status", 503), ("status", 500), ("status", 425)])
def test_a_cancel_the_venue_could_not_take_is_unavailable_and_cancelling_again_is_safe(
        sim: PolymarketSim, market: Market, wallet: Wallet, kind: FaultKind, status: int) -> None:
    """Found in review: a 429 or 5xx on DELETE /order was a VenueHttpError, reported as the venue refusing
    the cancel, while Kalshi reports it as unavailable with "cancelling again is safe". A rate-limited
    cancel during `orion halt --cancel-open` or an unwind must read as "try again"."""
    async def go(pm: PolymarketTrading) -> None:
        st = await pm.submit(pm.prepare(order(market, size="10", price="0.40", tif=TimeInForce.GTC)))
        assert st.status is OrderStatus.OPEN
        sim.server.add_fault(FaultRule(kind, method="DELETE", path_prefix="/clob/order", status=status, times=1))
        with pytest.raises(VenueUnavailable) as info:
            await pm.cancel(st.venue_order_id)
        assert f"HTTP {status}" in info.value.message and "cancelling again is safe" in (info.value.hint or "")
        assert sim.orders[st.venue_order_id]["status"] == "LIVE"  # nothing was cancelled
        again = await pm.cancel(st.venue_order_id)
        assert again is not None and again.status is OrderStatus.CANCELLED

    with_client(wallet, sim, go)


def test_a_cancel_the_venue_refuses_is_a_refusal(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    sim.server.add_fault(FaultRule("status", method="DELETE", path_prefix="/clob/order", status=400,
                                   body={"error": "Invalid orderID"}, times=1))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(VenueHttpError) as info:
            await pm.cancel("0x" + "ab" * 32)
        assert info.value.status == 400 and "Invalid orderID" in info.value.message

    with_client(wallet, sim, go)


PAGED: list[tuple[str, Callable[[PolymarketTrading], Coroutine[Any, Any, Any]]]] = [
    ("/data/orders", lambda pm: pm.open_orders()),
    ("/data/orders", lambda pm: pm.balance()),  # what the open BUY orders reserve
    ("/data/trades", lambda pm: pm.fills()),
]


@pytest.mark.parametrize(("path", "call"), PAGED, ids=["open_orders", "balance", "fills"])
@pytest.mark.parametrize(("answer", "problem"), [({}, "missing"), ({"next_cursor": "LTE="}, "missing"),
                                                 ({"data": None, "next_cursor": "LTE="}, "expected an array")],
                         ids=["empty-object", "cursor-only", "null"])
def test_a_page_without_its_data_is_refused_not_read_as_an_empty_one(
        sim: PolymarketSim, wallet: Wallet, path: str,
        call: Callable[[PolymarketTrading], Coroutine[Any, Any, Any]], answer: Any, problem: str) -> None:
    """Found by black-box testing: the CLOB (or a proxy) answering ``200 {}`` to ``GET /data/orders`` was
    read as "no resting orders", and ``orion halt --cancel-open`` exited 0 having cancelled nothing."""
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob" + path, status=200, body=answer))
    with pytest.raises(DataError) as exc:
        with_client(wallet, sim, call)
    assert (exc.value.field, exc.value.problem) == (f"{path}.data", problem)


@pytest.mark.parametrize(("path", "call"), PAGED, ids=["open_orders", "balance", "fills"])
def test_an_empty_page_is_an_empty_answer_not_an_error(
        sim: PolymarketSim, wallet: Wallet, path: str,
        call: Callable[[PolymarketTrading], Coroutine[Any, Any, Any]]) -> None:
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob" + path, status=200,
                                   body={"limit": 500, "count": 0, "next_cursor": "LTE=", "data": []}))
    got = with_client(wallet, sim, call)
    if isinstance(got, list):
        assert got == []
    else:  # the balance: nothing reserved
        assert got.reserved == 0


def test_gtc_crossing_partially_fills_then_rests(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        st = await pm.submit(pm.prepare(order(market, size="130", price="0.53", tif=TimeInForce.GTC)))
        assert st.status is OrderStatus.OPEN and st.filled_size == Decimal("120")
        found = await pm.find_order("c-1")
        assert found is not None and found.status is OrderStatus.OPEN and found.remaining == Decimal("10")

    with_client(wallet, sim, go)


# --------------------------------------------------------------------------- unknown outcomes


def _wait_for(sim: PolymarketSim, order_hash: str) -> None:
    deadline = time.monotonic() + 5
    while order_hash not in sim.orders and time.monotonic() < deadline:
        time.sleep(0.01)


def test_timeout_after_send_is_unknown_then_found_and_never_doubled(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    sim.server.add_fault(FaultRule("latency", method="POST", path_prefix="/clob/order", seconds=0.6, times=1))

    async def go(pm: PolymarketTrading) -> None:
        await pm.check_geoblock()  # so only the order meets the short timeout
        prepared = pm.prepare(order(market))
        with pytest.raises(OrderOutcomeUnknown) as info:
            await pm.submit(prepared)
        assert info.value.exit_code is ExitCode.VENUE_UNAVAILABLE and info.value.client_order_id == "c-1"
        _wait_for(sim, prepared.venue_ref)
        found = await pm.find_order("c-1", prepared.venue_ref)
        assert found is not None and found.status is OrderStatus.FILLED
        # a retry re-sends the same signed order: the venue refuses the duplicate, we read it back
        again = await pm.submit(prepared)
        assert again.status is OrderStatus.FILLED and again.venue_order_id == prepared.venue_ref

    with_client(wallet, sim, go, timeout=0.25)
    bodies = {r.body for r in posts(sim)}
    assert len(posts(sim)) == 2 and len(bodies) == 1  # identical bytes both times
    assert sim.order_posts_accepted == 1 and len(sim.orders) == 1
    assert sim.account(wallet.creds.api_key).cash == 1000_000000 - 5_200000 - 99840  # charged once, with its fee


def test_dropped_connection_after_acceptance(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    sim.server.add_fault(FaultRule("drop_after", method="POST", path_prefix="/clob/order", times=1))

    async def go(pm: PolymarketTrading) -> None:
        prepared = pm.prepare(order(market))
        with pytest.raises(OrderOutcomeUnknown):
            await pm.submit(prepared)
        found = await pm.find_order("c-1", prepared.venue_ref)
        assert found is not None and found.status is OrderStatus.FILLED

    with_client(wallet, sim, go)
    assert sim.order_posts_accepted == 1


def _persist(prepared: PreparedOrder) -> str:
    r = prepared.request
    return json.dumps({
        "request": {"market_id": r.market_id, "side": r.side.value, "action": r.action.value, "size": str(r.size),
                    "limit_price": str(r.limit_price), "tif": r.time_in_force.value, "coid": r.client_order_id,
                    "token_id": r.token_id, "tick_size": str(r.tick_size), "neg_risk": r.neg_risk},
        "payload": prepared.payload,
        "venue_ref": prepared.venue_ref,
    })


def _restore(text: str) -> PreparedOrder:
    raw = json.loads(text)
    q = raw["request"]
    request = OrderRequest(
        venue=Venue.POLYMARKET, market_id=q["market_id"], side=Side(q["side"]), action=Action(q["action"]),
        size=Decimal(q["size"]), limit_price=Decimal(q["limit_price"]), time_in_force=TimeInForce(q["tif"]),
        client_order_id=q["coid"], token_id=q["token_id"], tick_size=Decimal(q["tick_size"]),
        neg_risk=q["neg_risk"],
    )
    return PreparedOrder(request, raw["payload"], raw["venue_ref"])


def test_resubmit_after_restart_sends_identical_bytes(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    sim.server.add_fault(FaultRule("drop", method="POST", path_prefix="/clob/order", times=1))

    async def first(pm: PolymarketTrading) -> str:
        prepared = pm.prepare(order(market))
        stored = _persist(prepared)  # committed before sending
        with pytest.raises(OrderOutcomeUnknown):
            await pm.submit(prepared)
        return stored

    stored = with_client(wallet, sim, first)

    async def after_restart(pm: PolymarketTrading) -> None:  # a new process: nothing in memory
        prepared = _restore(stored)
        assert await pm.find_order(prepared.request.client_order_id, prepared.venue_ref) is None
        state = await pm.submit(prepared)
        assert state.status is OrderStatus.FILLED and state.venue_order_id == prepared.venue_ref

    with_client(wallet, sim, after_restart)
    sent = posts(sim)
    assert len(sent) == 2 and sent[0].body == sent[1].body == json.loads(stored)["payload"].encode()
    assert sent[0].headers["poly_timestamp"] and sim.order_posts_accepted == 1


def test_connection_refused_is_not_an_unknown_outcome(market: Market, wallet: Wallet) -> None:
    async def go() -> None:
        pm = PolymarketTrading(wallet.creds, wallet.key, clob_url="http://127.0.0.1:9", data_url="http://127.0.0.1:9",
                               geoblock_url="http://127.0.0.1:9/api/geoblock", retry=FAST, timeout=1.0)
        async with pm:
            prepared = pm.prepare(order(market))
            pm._geoblock_at = time.monotonic()  # pretend the geoblock was checked
            pm._geoblock = await _allowed()
            with pytest.raises(VenueUnavailable) as info:
                await pm.submit(prepared)
            assert not isinstance(info.value, OrderOutcomeUnknown)

    run(go())


async def _allowed() -> Any:
    from orion_cli.core.models import utcnow
    from orion_cli.venues.polymarket.trading import GeoblockStatus

    return GeoblockStatus(False, "IE", "", utcnow())


# --------------------------------------------------------------------------- error shapes


def _fixture(fixtures_dir: Path, name: str) -> Any:
    return loads_exact((fixtures_dir / "polymarket" / name).read_text())  # numbers as the client reads them


def test_failed_body_is_rejected_with_the_venue_message(
    sim: PolymarketSim, market: Market, wallet: Wallet, fixtures_dir: Path
) -> None:
    body = _fixture(fixtures_dir, "http_order_response_failed.json")
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=200, body=body))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected) as info:
            await pm.submit(pm.prepare(order(market)))
        assert "Insufficient balance" in str(info.value) and info.value.exit_code is ExitCode.REFUSED

    with_client(wallet, sim, go)


def test_500_body_is_an_unknown_outcome_naming_the_error(
    sim: PolymarketSim, market: Market, wallet: Wallet, fixtures_dir: Path
) -> None:
    body = _fixture(fixtures_dir, "http_order_response_error_500.json")
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=500, body=body))

    async def go(pm: PolymarketTrading) -> None:
        prepared = pm.prepare(order(market))
        with pytest.raises(OrderOutcomeUnknown) as info:
            await pm.submit(prepared)
        assert "Internal server error" in str(info.value)
        assert await pm.find_order("c-1", prepared.venue_ref) is None  # never placed: safe to re-send

    with_client(wallet, sim, go)


@pytest.mark.parametrize(
    "name", ["http_order_response_ok.json", "http_order_response_async_exec.json",
             "http_order_response_trade_ids_only.json"]
)
def test_success_shapes_without_status_stay_pending(
    sim: PolymarketSim, market: Market, wallet: Wallet, fixtures_dir: Path, name: str
) -> None:
    body = _fixture(fixtures_dir, name)
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=200, body=body))

    async def go(pm: PolymarketTrading) -> None:
        state = await pm.submit(pm.prepare(order(market)))
        assert state.status is OrderStatus.SUBMITTED and not state.status.terminal
        assert state.venue_order_id == body["orderID"] and state.filled_size == 0

    with_client(wallet, sim, go)


def test_a_duplicate_that_cannot_be_read_yet_is_an_unknown_outcome_not_a_rejection(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    """The venue already holds this signed order (an earlier send arrived), but the look-up finds
    nothing yet: the leg may be live or filled, so it must be looked up again, not recorded rejected."""
    async def go(pm: PolymarketTrading) -> None:
        prepared = pm.prepare(order(market))
        sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=400,
                                       body={"error": f"order {prepared.venue_ref} is invalid. Duplicated."}))
        with pytest.raises(OrderOutcomeUnknown) as info:
            await pm.submit(prepared)
        assert "already holds" in str(info.value)

    with_client(wallet, sim, go)


def test_a_duplicate_whose_look_up_fails_is_an_unknown_outcome_not_not_placed(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    """Found in review: the look-up after "Duplicated" failing (503) escaped as VenueUnavailable, which
    the executor takes for "certainly not placed": an order the venue holds could be recorded rejected."""
    async def go(pm: PolymarketTrading) -> None:
        prepared = pm.prepare(order(market))
        sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=400,
                                       body={"error": f"order {prepared.venue_ref} is invalid. Duplicated."}))
        sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/data/order", status=503))
        with pytest.raises(OrderOutcomeUnknown) as info:
            await pm.submit(prepared)
        assert "already holds" in str(info.value)

    with_client(wallet, sim, go)


def test_matched_without_amounts_is_read_back_not_final_with_nothing_filled(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    """The amounts are optional in the answer: a "matched" FOK without them has filled, so it must not
    become a final PARTIAL with 0 filled; it stays pending for the read-back."""
    body = {"success": True, "errorMsg": "", "orderID": "0x" + "ab" * 32, "status": "matched"}
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=200, body=body))

    async def go(pm: PolymarketTrading) -> None:
        state = await pm.submit(pm.prepare(order(market)))
        assert state.status is OrderStatus.SUBMITTED and not state.status.terminal
        assert state.venue_order_id == body["orderID"]

    with_client(wallet, sim, go)


@pytest.mark.parametrize(("status", "body"), [
    (400, {"error": "order match delayed due to market conditions"}),
    (200, {"success": False, "errorMsg": "order match delayed due to market conditions", "orderID": ""}),
    (400, {"error": "context canceled"}),
    (200, {"success": False, "errorMsg": "", "orderID": "0x" + "cd" * 32, "status": "matched"}),
    (200, {"success": False, "errorMsg": "", "orderID": "0x" + "cd" * 32, "status": "unmatched"}),
])
def test_an_answer_that_may_mean_placed_is_an_unknown_outcome_not_a_rejection(
    sim: PolymarketSim, market: Market, wallet: Wallet, status: int, body: dict[str, Any]
) -> None:
    """Found in review: these were OrderRejected, so the executor abandoned a first leg that may still
    fill, or sent another, differently signed hedge beside one that may fill. The docs mark a delayed
    match as no failure; an unknown outcome is looked up by the order's hash."""
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=status, body=body))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderOutcomeUnknown):
            await pm.submit(pm.prepare(order(market)))

    with_client(wallet, sim, go)


@pytest.mark.parametrize("message", ["could not run the execution", "order expiration delayed beyond the limit"])
def test_a_documented_failure_stays_a_rejection(
    sim: PolymarketSim, market: Market, wallet: Wallet, message: str
) -> None:
    """Found in review: "could not run the execution" (EXECUTION_ERROR, a failure per the docs) had
    become an unknown outcome, so a hedge was looked up, re-sent and halted instead of refused and
    unwound. Only the phrases that may mean placed are looked up, not any message with "delayed"."""
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=400,
                                   body={"error": message}))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected):
            await pm.submit(pm.prepare(order(market)))

    with_client(wallet, sim, go)


def test_insufficient_balance_from_the_venue(sim: PolymarketSim, market: Market) -> None:
    poor = Wallet(sim, balance="1")

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected) as info:
            await pm.submit(pm.prepare(order(market)))
        assert "not enough balance / allowance" in str(info.value)

    with_client(poor, sim, go)


def test_rate_limited_order_is_not_placed(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    sim.server.add_fault(FaultRule("rate_limit", method="POST", path_prefix="/clob/order", times=1))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(VenueUnavailable) as info:
            await pm.submit(pm.prepare(order(market)))
        assert not isinstance(info.value, OrderOutcomeUnknown)

    with_client(wallet, sim, go)


# --------------------------------------------------------------------------- authentication


def test_wrong_hmac_secret_fails_at_the_sim(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    bad = replace(wallet.creds, secret="d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(AuthError) as info:
            await pm.balance()
        assert bad.secret not in str(info.value) and bad.passphrase not in str(info.value)
        with pytest.raises(AuthError):
            await pm.submit(pm.prepare(order(market)))

    with_client(wallet, sim, go, creds=bad)
    assert sim.orders == {} and sim.account(wallet.creds.api_key).cash == 1000_000000


def test_wrong_wallet_key_fails_at_the_sim(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    other = PrivateKey.generate()

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(AuthError):  # POLY_ADDRESS is not the API key's owner
            await pm.submit(pm.prepare(order(market)))

    with_client(wallet, sim, go, key=other)
    assert sim.orders == {}


def test_order_signed_by_another_key_is_refused(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    forged = build_signed_order(
        PrivateKey.generate(), token_id=market.yes, side="BUY", price=Decimal("0.52"), size=Decimal("10"),
        tick_size=Decimal("0.01"), order_type="FOK", owner=wallet.creds.api_key, neg_risk=False,
    )
    payload = json.loads(forged.body)
    payload["order"]["signer"] = payload["order"]["maker"] = wallet.key.address  # claims to be our wallet
    body = json.dumps(payload, separators=(",", ":"))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected) as info:
            await pm.submit(PreparedOrder(order(market), body, forged.order_hash))
        assert "invalid signature" in str(info.value)

    with_client(wallet, sim, go)
    assert sim.orders == {}


def test_wrong_exchange_for_a_neg_risk_market_is_refused(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    market.raw["negRisk"] = True
    for token in (market.yes, market.no):  # the CLOB checks a signature against its book's flag
        sim.books[token]["neg_risk"] = True

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected, match="invalid signature"):
            await pm.submit(pm.prepare(order(market)))  # signed for the plain CTF exchange
        right = replace(order(market, coid="c-2"), neg_risk=True)
        state = await pm.submit(pm.prepare(right))
        assert state.status is OrderStatus.FILLED

    with_client(wallet, sim, go)


def _version_reads(sim: PolymarketSim) -> int:
    return sum(1 for r in sim.requests if r.path == "/clob/version")


@pytest.mark.parametrize("status", [400, 200])
def test_an_order_version_mismatch_with_the_clob_at_version_2_resends_the_same_bytes_once(
        sim: PolymarketSim, market: Market, wallet: Wallet, status: int) -> None:
    """Found in review: the CLOB's 400 {"error": "order_version_mismatch"} (a node mid-cutover) was a plain
    rejection. The official clients read GET /version and try again; orion signs version 2 only, so with
    the CLOB reporting 2 the very same signed bytes go once more (same hash: idempotent). The same error
    in a 200 body (the form py-clob-client-v2 checks for) is the same refusal, not a plain rejection."""
    sim.version_mismatches = 1
    sim.version_mismatch_status = status

    async def go(pm: PolymarketTrading) -> None:
        prepared = pm.prepare(order(market))
        state = await pm.submit(prepared)
        assert state.status is OrderStatus.FILLED and state.venue_order_id == prepared.venue_ref
        assert [r.body for r in posts(sim)] == [prepared.payload.encode()] * 2  # not re-signed

    with_client(wallet, sim, go)
    assert _version_reads(sim) == 1 and len(sim.orders) == 1


def test_an_order_version_mismatch_repeated_after_version_2_is_a_venue_error_sent_twice_only(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    sim.version_mismatches = 5

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderVersionUnsupported) as info:
            await pm.submit(pm.prepare(order(market)))
        assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE and "again" in info.value.message

    with_client(wallet, sim, go)
    assert len(posts(sim)) == 2 and _version_reads(sim) == 1 and sim.orders == {}


@pytest.mark.parametrize("status", [400, 200])
def test_an_order_version_mismatch_with_the_clob_at_another_version_is_refused_naming_it(
        sim: PolymarketSim, market: Market, wallet: Wallet, status: int) -> None:
    """Orion never signs another format: the CLOB at version 3 gets nothing more, and the error (exit 5)
    names the version."""
    sim.clob_version = 3
    sim.version_mismatch_status = status

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderVersionUnsupported) as info:
            await pm.submit(pm.prepare(order(market)))
        assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
        assert "order version 3" in info.value.message and "nothing was placed" in info.value.message

    with_client(wallet, sim, go)
    assert len(posts(sim)) == 1 and _version_reads(sim) == 1 and sim.orders == {}


def test_an_order_version_mismatch_whose_version_cannot_be_read_is_not_resent(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    sim.version_mismatches = 1
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/version", status=404,
                                   body={"error": "not found"}))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderVersionUnsupported, match="GET /version answer could not be read"):
            await pm.submit(pm.prepare(order(market)))

    with_client(wallet, sim, go)
    assert len(posts(sim)) == 1 and sim.orders == {}


def test_gnosis_safe_account_trades_and_reads_positions_by_funder(sim: PolymarketSim, market: Market) -> None:
    safe = Wallet(sim, signature_type=int(SignatureType.POLY_GNOSIS_SAFE))

    async def go(pm: PolymarketTrading) -> None:
        state = await pm.submit(pm.prepare(order(market)))
        assert state.status is OrderStatus.FILLED
        body = json.loads(posts(sim)[-1].body)
        assert body["order"]["maker"] == safe.funder and body["order"]["signer"] == safe.key.address
        assert body["order"]["signatureType"] == 2
        assert [p.size for p in await pm.positions()] == [Decimal("10")]
        q = [r for r in sim.requests if r.path == "/data/positions"][-1]
        assert q.param("user") == (safe.funder or "").lower()

    with_client(safe, sim, go)


@pytest.mark.parametrize("status", [401, 403])
def test_derive_api_key_refused_is_a_credentials_problem(sim: PolymarketSim, wallet: Wallet, status: int) -> None:
    """Found in review: once the unsigned clients' 401/403 became "no key was judged" (exit 5), the client's
    L1-signed derive-api-key went through the unsigned one, so a refused wallet signature read as an
    outage with a false hint. It is the wallet's signature the venue refused: credentials, exit 4."""
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/auth/derive-api-key", status=status,
                                   body={"error": "Invalid L1 Request headers"}))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(AuthError) as info:
            await pm.derive_api_key()
        assert info.value.exit_code == ExitCode.AUTH

    with_client(wallet, sim, go)


def test_derive_api_key_with_l1_signature(sim: PolymarketSim, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        assert await pm.derive_api_key() == wallet.creds
        stranger = PrivateKey.generate()
        with pytest.raises(VenueHttpError) as info:
            await pm.derive_api_key(stranger)
        assert "Could not derive api key" in str(info.value)

    with_client(wallet, sim, go)
    assert run(derive_api_key(wallet.key, clob_url=sim.clob_url)) == wallet.creds
    l1 = next(r for r in sim.requests if r.path == "/clob/auth/derive-api-key")
    assert l1.headers["poly_address"] == wallet.key.address and l1.headers["poly_nonce"] == "0"
    assert "poly_api_key" not in l1.headers


def test_server_time_version_and_clock_sync(sim: PolymarketSim, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        assert abs(await pm.server_time() - time.time()) < 5
        assert await pm.version() == 2
        assert abs(await pm.sync_clock()) < 5

    with_client(wallet, sim, go)


def test_skewed_clock_is_refused_until_synced(sim: PolymarketSim, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(AuthError):
            await pm.balance_allowance()
        await pm.sync_clock()
        assert (await pm.balance_allowance())["balance"] == "1000000000"

    with_client(wallet, sim, go, clock=lambda: time.time() - 120, auto_sync_clock=False)


def _time_requests(sim: PolymarketSim) -> int:
    return sum(1 for r in sim.requests if r.path == "/clob/time")


def test_the_first_signed_request_aligns_a_skewed_clock_once(sim: PolymarketSim, wallet: Wallet,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """Reference pitfall "HMAC drift": a host clock 2 minutes off would see every signed request refused."""
    async def go(pm: PolymarketTrading) -> None:
        await pm.server_time()  # unsigned: does not sync
        before = _time_requests(sim)
        first = await asyncio.gather(pm.balance_allowance(), pm.balance_allowance())  # concurrent first requests
        assert [b["balance"] for b in first] == ["1000000000"] * 2
        await pm.balance_allowance()
        assert _time_requests(sim) == before + 1  # synced once, before the first signed request

    with caplog.at_level(logging.WARNING, logger="orion_cli.venues.polymarket.trading"):
        with_client(wallet, sim, go, clock=lambda: time.time() - 120)
    assert any("clock is +1" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("fault", [
    FaultRule("malformed", method="GET", path_prefix="/clob/time"),
    FaultRule("status", method="GET", path_prefix="/clob/time", status=404, body={"error": "not found"}),
], ids=["not-json", "404"])
def test_a_server_clock_answer_orion_cannot_read_leaves_the_local_one_signing(
        sim: PolymarketSim, wallet: Wallet, fault: FaultRule) -> None:
    """Found reproducing a black-box finding: a /time answer that is not JSON (or a 4xx) is a VenueError,
    which the best-effort clock read let through: the signed request it came before failed with it (and
    `secrets check --online` judged the API key on /time's answer). The local clock signs, as for no
    answer at all."""
    sim.server.add_fault(fault)
    notes: list[str] = []

    async def go(pm: PolymarketTrading) -> None:
        assert (await pm.balance_allowance())["balance"] == "1000000000"

    with_client(wallet, sim, go, warn=notes.append)
    assert len(notes) == 1 and notes[0].startswith("polymarket: could not read the CLOB's clock (polymarket ")
    assert notes[0].endswith("; signing with the local clock")


def test_the_clock_notice_goes_to_the_warning_output_given_not_to_the_log(
        sim: PolymarketSim, wallet: Wallet, caplog: pytest.LogCaptureFixture) -> None:
    """Found black-box: the notice reached stderr as a raw logger line ("WARNING orion_cli.venues.polymarket.
    trading: …") beside the command's own "warning: …" lines, and -q hid it. The CLI passes its warning
    output as ``warn``; the notice goes there, whole, and nothing is logged."""
    notes: list[str] = []

    async def go(pm: PolymarketTrading) -> None:
        await pm.balance_allowance()

    with caplog.at_level(logging.WARNING, logger="orion_cli.venues.polymarket.trading"):
        with_client(wallet, sim, go, clock=lambda: time.time() - 120, warn=notes.append)
    said = r"polymarket: this host's clock is \+1[12][0-9] s off the CLOB's; signing with the CLOB's time"
    assert len(notes) == 1 and re.fullmatch(said, notes[0]), notes
    assert caplog.records == []


def test_an_unreadable_server_clock_leaves_the_local_one_signing(sim: PolymarketSim, wallet: Wallet,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/time", status=503))

    async def go(pm: PolymarketTrading) -> None:
        assert (await pm.balance_allowance())["balance"] == "1000000000"

    with caplog.at_level(logging.WARNING, logger="orion_cli.venues.polymarket.trading"):
        with_client(wallet, sim, go, retry=RetryPolicy(attempts=1))
    assert any("could not read the CLOB's clock" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- geoblock


def test_geoblocked_refuses_before_sending(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    sim.geoblock = {"blocked": True, "ip": "203.0.113.9", "country": "US", "region": "NY"}

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(Geoblocked) as info:
            await pm.submit(pm.prepare(order(market)))
        assert info.value.exit_code is ExitCode.REFUSED == 6
        assert "US" in str(info.value) and "NY" in str(info.value)
        with pytest.raises(Geoblocked, match="US"):  # the cached verdict refuses too
            await pm.submit(pm.prepare(order(market, coid="c-2")))

    with_client(wallet, sim, go)
    assert posts(sim) == []


def test_geoblock_answer_is_cached(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        status = await pm.check_geoblock()
        assert not status.blocked and status.country == "IE"
        for i in range(2):
            await pm.submit(pm.prepare(order(market, coid=f"c-{i}", size="5")))

    with_client(wallet, sim, go)
    assert len([r for r in sim.requests if r.path == "/api/geoblock"]) == 1


def test_malformed_geoblock_answer_refuses(sim: PolymarketSim, wallet: Wallet) -> None:
    """The venue's fault, exit 5 naming Polymarket (found by a fault review: a DataError, exit 1, "bad_data",
    naming no venue)."""
    from orion_cli.core.errors import ExitCode, VenueError

    sim.geoblock = {"country": "IE"}

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(VenueError, match=r"polymarket geoblock check: blocked") as caught:
            await pm.check_geoblock()
        assert caught.value.exit_code == ExitCode.VENUE_UNAVAILABLE

    with_client(wallet, sim, go)


# The shape of the page Polymarket's Cloudflare front answers a blocked host with (HTTP 403), as
# py-clob-client issues #101, #143, #152, #262 and clob-client #231, #262 show it for POST /order from
# geoblocked countries and datacenter IPs while GETs still work. Cut down; the IP and Ray ID are made up.
CLOUDFLARE_BLOCK_PAGE = b"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" />
<meta name="robots" content="noindex, nofollow" />
</head>
<body>
  <div id="cf-wrapper">
    <div class="cf-alert cf-alert-error cf-cookie-error" id="cookie-alert" data-translate="enable_cookies">
      Please enable cookies.</div>
    <div id="cf-error-details" class="cf-error-details-wrapper">
      <div class="cf-wrapper cf-header cf-error-overview">
        <h1 data-translate="block_headline">Sorry, you have been blocked</h1>
        <h2 class="cf-subheadline"><span data-translate="unable_to_access">You are unable to access</span>
          polymarket.com</h2>
      </div>
      <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center">
        <p class="text-13">
          <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID:
            <strong class="font-semibold">8f3c0a1b2c3d4e5f</strong></span>
          <span id="cf-footer-item-ip" class="cf-footer-item hidden sm:block sm:mb-1">
            Your IP: <span class="hidden" id="cf-footer-ip">203.0.113.77</span>
          </span>
        </p>
      </div>
    </div>
  </div>
</body>
</html>
"""


def _blocked_at_the_edge(sim: PolymarketSim, method: str, path: str, body: bytes = CLOUDFLARE_BLOCK_PAGE) -> None:
    sim.server.add_fault(FaultRule("status", method=method, path_prefix=path, status=403, body=body))


@pytest.mark.parametrize("body", [CLOUDFLARE_BLOCK_PAGE, b"", b"Forbidden"], ids=["cloudflare", "empty", "text"])
def test_a_firewall_403_on_an_order_is_a_location_refusal_not_bad_credentials(
    sim: PolymarketSim, market: Market, wallet: Wallet, body: bytes
) -> None:
    """A 403 that is not the CLOB's JSON never reached the CLOB: no key was judged, nothing was placed.
    It is the geoblock's refusal (exit 6, GEOBLOCKED: the executor records the order rejected, a watch
    stops), not "rejected our credentials" (exit 4, which sends the operator after good keys)."""
    _blocked_at_the_edge(sim, "POST", "/clob/order", body)

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(Geoblocked) as info:
            await pm.submit(pm.prepare(order(market)))
        exc = info.value
        assert exc.exit_code is ExitCode.REFUSED and exc.reason == "GEOBLOCKED"
        text = str(exc)
        assert "firewall" in text and "POST /order" in text and "HTTP 403" in text and "no order was placed" in text
        assert "credentials" not in text
        assert exc.hint is not None and "https://polymarket.com/api/geoblock" in exc.hint and "datacenter" in exc.hint
        assert (await pm.balance()).available == Decimal("1000")  # the reads still answer: only orders are blocked

    with_client(wallet, sim, go)
    assert sim.orders == {} and len(posts(sim)) == 1


def test_a_firewall_refusal_quotes_the_block_page_briefly_and_nothing_else(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    _blocked_at_the_edge(sim, "POST", "/clob/order")

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(Geoblocked) as info:
            await pm.submit(pm.prepare(order(market)))
        said = f"{info.value.message} {info.value.hint}"
        assert "Sorry, you have been blocked" in said  # the page's headline, not its first words ("enable cookies")
        assert len(info.value.message) < 300
        for leak in ("<", "cookies", "203.0.113.77", "8f3c0a1b2c3d4e5f", wallet.creds.secret,
                     wallet.creds.passphrase, wallet.creds.api_key):
            assert leak not in said

    with_client(wallet, sim, go)


@pytest.mark.parametrize("status", [401, 403])
def test_the_clobs_own_json_401_or_403_stays_a_credentials_error(
    sim: PolymarketSim, market: Market, wallet: Wallet, status: int
) -> None:
    body = {"error": "Unauthorized/Invalid api key"}  # the CLOB's error shape (the sim's own 401)
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=status, body=body))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(AuthError) as info:
            await pm.submit(pm.prepare(order(market)))
        assert info.value.exit_code is ExitCode.AUTH and "rejected our credentials" in str(info.value)
        assert "Invalid api key" in str(info.value)

    with_client(wallet, sim, go)


@pytest.mark.parametrize("status", [401, 403])
def test_a_json_401_or_403_to_an_unsigned_read_is_not_a_credentials_error(
    sim: PolymarketSim, wallet: Wallet, status: int
) -> None:
    """Found in review: the Data API, the geoblock endpoint and the public CLOB reads carry no credential,
    so their 401/403 cannot be our keys rejected (exit 4); it is the venue refusing the request."""
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/data/positions", status=status,
                                   body={"error": "forbidden"}))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(VenueHttpError) as info:
            await pm.positions()
        assert not isinstance(info.value, AuthError) and info.value.exit_code is ExitCode.VENUE_UNAVAILABLE
        assert "forbidden" in str(info.value) and "credentials" not in str(info.value)

    with_client(wallet, sim, go)


def test_a_position_row_listed_twice_counts_once_and_two_rows_that_differ_are_refused(
    sim: PolymarketSim, wallet: Wallet, fixtures_dir: Path
) -> None:
    """Found in review: the Data API's offset pages shift when a row is added between two reads, handing
    one row over twice; counted twice, `reconcile --fix` adopted the phantom shares."""
    (row, _closed) = _fixture(fixtures_dir, "data_api_positions_response.json")[:2]
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/data/positions", status=200,
                                   body=[row, dict(row)], times=1))

    async def go(pm: PolymarketTrading) -> None:
        (once,) = await pm.positions()
        assert once.size == Decimal("150.5")
        sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/data/positions", status=200,
                                       body=[row, {**row, "size": 99}], times=1))  # every matching rule fires
        with pytest.raises(DataError, match="listed twice"):
            await pm.positions()

    with_client(wallet, sim, go)


def test_the_clobs_own_region_403_on_an_order_is_the_geoblock_not_bad_credentials(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    """Review: the CLOB checks the location before the keys, answering a restricted host's order 403
    {"error": "Trading restricted in your region, ..."}; JSON, so it stayed "rejected our credentials"."""
    body = {"error": "Trading restricted in your region, please refer to available regions - "
                     "https://docs.polymarket.com/developers/CLOB/geoblock"}
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=403, body=body))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(Geoblocked) as info:
            await pm.submit(pm.prepare(order(market)))
        assert info.value.exit_code is ExitCode.REFUSED and "restricted in your region" in info.value.message
        assert "no order was placed" in info.value.message

    with_client(wallet, sim, go)


def test_the_clobs_region_403_says_what_was_not_done_for_the_call_it_answered() -> None:
    """Final read: the region refusal said "nothing was placed" for every call, a cancel or a key
    derivation too; it now says what that call did not do, as the firewall's refusal does."""
    import httpx

    from orion_cli.venues.polymarket.trading import _firewall_refusal

    body = json.dumps({"error": "Trading restricted in your region, please refer to available regions"}).encode()
    said = {(m, p): _firewall_refusal(m, p, httpx.Response(403, content=body))
            for m, p in (("POST", "/order"), ("DELETE", "/order"), ("GET", "/auth/derive-api-key"))}
    assert all(isinstance(e, Geoblocked) for e in said.values())
    assert said["POST", "/order"].message.endswith("; no order was placed")  # type: ignore[union-attr]
    assert said["DELETE", "/order"].message.endswith("; nothing was cancelled")  # type: ignore[union-attr]
    assert "placed" not in said["GET", "/auth/derive-api-key"].message  # type: ignore[union-attr]


def test_a_firewall_403_on_the_other_authenticated_calls_is_the_same_refusal(
    sim: PolymarketSim, wallet: Wallet
) -> None:
    for method, path in (("GET", "/clob/balance-allowance"), ("DELETE", "/clob/order"),
                         ("GET", "/clob/auth/derive-api-key"), ("GET", "/data/positions")):
        _blocked_at_the_edge(sim, method, path)

    async def go(pm: PolymarketTrading) -> None:
        calls: list[tuple[Callable[[], Coroutine[Any, Any, Any]], str]] = [
            (pm.balance_allowance, "GET /balance-allowance"),
            (lambda: pm.cancel("0x" + "ab" * 32), "DELETE /order"),
            (pm.derive_api_key, "GET /auth/derive-api-key"),
            (pm.positions, "GET /positions"),
        ]
        for call, named in calls:
            with pytest.raises(Geoblocked) as info:
                await call()
            assert named in str(info.value) and "never reached" in str(info.value)
            assert "credentials" not in str(info.value) and "no order was placed" not in str(info.value)
        with pytest.raises(Geoblocked, match=r"DELETE /order.*nothing was cancelled"):
            await pm.cancel("0x" + "cd" * 32)

    with_client(wallet, sim, go)
    with pytest.raises(Geoblocked, match="GET /auth/derive-api-key"):
        run(derive_api_key(wallet.key, clob_url=sim.clob_url))


# --------------------------------------------------------------------------- balances and positions


def test_balance_conversion_is_exact(sim: PolymarketSim) -> None:
    w = Wallet(sim, balance="1234.567891")

    async def go(pm: PolymarketTrading) -> None:
        bal = await pm.balance()
        assert bal.total == Decimal("1234.567891") and isinstance(bal.total, Decimal)
        q = [r for r in sim.requests if r.path == "/clob/balance-allowance"][-1]
        assert q.param("asset_type") == "COLLATERAL" and q.param("signature_type") == "0"

    with_client(w, sim, go)


def test_a_balance_with_nothing_unredeemed_spells_its_total_as_its_cash(sim: PolymarketSim) -> None:
    """Found re-deriving `balance --json` by hand: available "989.52182", total "989.521820", one amount
    written two ways (a 0.000000 of unredeemed payouts added to it), which a pipeline comparing strings reads
    as two."""
    w = Wallet(sim, balance="989.52182")

    async def go(pm: PolymarketTrading) -> None:
        bal = await pm.balance()
        assert str(bal.total) == str(bal.available) == str(bal.total.normalize()), bal

    with_client(w, sim, go)


def test_a_balance_read_that_fails_leaves_none_of_its_other_requests_running(sim: PolymarketSim,
                                                                             wallet: Wallet) -> None:
    """Found in review: the three reads ran under a plain gather, so the cash read's failure left the
    positions read running behind the caller, which then closed the client under it."""
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/balance-allowance", status=400))
    sim.server.add_fault(FaultRule("latency", method="GET", path_prefix="/data/positions", seconds=2))

    async def go(pm: PolymarketTrading) -> list[asyncio.Task[Any]]:
        with pytest.raises(VenueHttpError):
            await pm.balance()
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert with_client(wallet, sim, go) == []


def test_balance_fixtures(fixtures_dir: Path) -> None:
    assert parse_balance_units(_fixture(fixtures_dir, "http_balance_allowance_collateral.json")) == Decimal(1000)
    assert parse_balance_units(_fixture(fixtures_dir, "http_balance_allowance_conditional.json")) == 0
    with pytest.raises(DataError, match="integer base units"):  # "250.500000": refused, never rescaled
        parse_balance_units(_fixture(fixtures_dir, "http_balance_allowance_no_allowance.json"))


def test_update_balance_allowance(sim: PolymarketSim, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        await pm.update_balance_allowance()
        await pm.update_balance_allowance("CONDITIONAL", "123")

    with_client(wallet, sim, go)
    assert sim.balance_updates == 2
    q = [r for r in sim.requests if r.path == "/clob/balance-allowance/update"]
    assert [(r.param("asset_type"), r.param("token_id"), r.param("signature_type")) for r in q] == [
        ("COLLATERAL", None, "0"), ("CONDITIONAL", "123", "0")]


def _balance_paths(sim: PolymarketSim) -> list[str]:
    return [r.path for r in sim.requests if r.path.startswith("/clob/balance-allowance")]


def test_the_balance_is_refreshed_before_it_is_read(sim: PolymarketSim, wallet: Wallet) -> None:
    """Found in review: the balance was read from the CLOB's cache, which lags a deposit or a wrap until
    /balance-allowance/update is called (reference §2.4, pitfall 7): orion saw 0 of a funded account.
    The update (same signature type) now goes first, then the read."""
    notes: list[str] = []

    async def go(pm: PolymarketTrading) -> None:
        assert (await pm.balance()).available == Decimal(1000)

    with_client(wallet, sim, go, warn=notes.append)
    assert _balance_paths(sim) == ["/clob/balance-allowance/update", "/clob/balance-allowance"]
    update = next(r for r in sim.requests if r.path == "/clob/balance-allowance/update")
    assert (update.param("asset_type"), update.param("signature_type")) == ("COLLATERAL", "0")
    assert sim.balance_updates == 1 and notes == []


def test_a_balance_refresh_refusing_our_credentials_is_an_auth_error(sim: PolymarketSim, wallet: Wallet) -> None:
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/balance-allowance/update",
                                   status=401, body={"error": "Unauthorized/Invalid api key"}))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(AuthError) as info:
            await pm.balance()
        assert info.value.exit_code == ExitCode.AUTH

    with_client(wallet, sim, go)
    assert sim.balance_updates == 0


@pytest.mark.parametrize("fault", [
    FaultRule("status", method="GET", path_prefix="/clob/balance-allowance/update", status=403,
              body={"error": "Trading restricted in your region, please refer to available regions"}),
    FaultRule("status", method="GET", path_prefix="/clob/balance-allowance/update", status=403,
              body=b"<html><head><title>Attention Required!</title></head><h1>Sorry, you have been blocked</h1>"
                   b"<p>Your IP: 203.0.113.9</p></html>"),
    FaultRule("status", method="GET", path_prefix="/clob/balance-allowance/update", status=503,
              body={"error": "service unavailable"}),
    FaultRule("timeout", method="GET", path_prefix="/clob/balance-allowance/update", seconds=1.5),
], ids=["region-403", "firewall-403", "5xx", "timeout"])
def test_a_balance_refresh_that_fails_otherwise_is_warned_and_the_cached_figure_read(
        sim: PolymarketSim, wallet: Wallet, fault: FaultRule) -> None:
    sim.server.add_fault(fault)
    notes: list[str] = []

    async def go(pm: PolymarketTrading) -> None:
        assert (await pm.balance()).available == Decimal(1000)

    with_client(wallet, sim, go, warn=notes.append, timeout=0.75)
    assert fault.fired == 1 and sim.balance_updates == 0
    assert _balance_paths(sim)[-1] == "/clob/balance-allowance"
    assert len(notes) == 1 and notes[0].startswith("polymarket: the CLOB's balance could not be refreshed (")
    assert notes[0].endswith("; reading the figure it has cached"), notes
    for secret in (wallet.creds.api_key, wallet.creds.secret, wallet.creds.passphrase, "203.0.113.9"):
        assert secret not in notes[0]


def test_a_balance_refresh_warning_goes_to_the_log_without_a_warn_callback(
        sim: PolymarketSim, wallet: Wallet, caplog: pytest.LogCaptureFixture) -> None:
    sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/balance-allowance/update",
                                   status=500, body={"error": "Internal server error"}))

    async def go(pm: PolymarketTrading) -> None:
        assert (await pm.balance()).available == Decimal(1000)

    with caplog.at_level(logging.WARNING, logger="orion_cli.venues.polymarket.trading"):
        with_client(wallet, sim, go)
    assert [r.levelno for r in caplog.records if "could not be refreshed" in r.getMessage()] == [logging.WARNING]


def test_position_fixture_rows(fixtures_dir: Path) -> None:
    rows = _fixture(fixtures_dir, "data_api_positions_response.json")
    first = parse_position(rows[0])
    assert first is not None and first.side is Side.YES and first.size == Decimal("150.5")
    assert first.avg_price == Decimal("0.55") and first.exposure == Decimal("82.775")
    assert parse_position(rows[1]) is None  # closed out


def test_a_positions_floating_point_averages_are_rounded_up_to_the_ledgers_places(fixtures_dir: Path) -> None:
    """The Data API's averages are JSON numbers it computed in floating point; a reconcile adjustment
    books a fill at ``avgPrice``, and the ledger's write refused more than 10 places (exit 1)."""
    row = {**_fixture(fixtures_dir, "data_api_positions_response.json")[0],
           **loads_exact(b'{"avgPrice": 0.3421052631578947, "initialValue": 51.48684210526315}')}
    held = parse_position(row)
    assert held is not None
    assert (held.avg_price, held.exposure) == (Decimal("0.3421052632"), Decimal("51.4868421053"))
    assert held.size == Decimal("150.5")


def test_a_position_side_follows_the_outcome_label_as_the_market_parser_does(fixtures_dir: Path) -> None:
    """Found by a venue review: the side was read from ``outcomeIndex`` (0 = YES), while the market
    parser takes the token labelled "Yes" in either order. A NO holding in a ``["No","Yes"]`` market
    came back as YES, and its settlement would have been computed the wrong way round."""
    row = _fixture(fixtures_dir, "data_api_positions_response.json")[0]
    opposite = {"Yes": "No", "No": "Yes", "Lakers": "Celtics", "Celtics": "Lakers"}
    for outcome, index, side in (("Yes", 0, Side.YES), ("No", 1, Side.NO),  # the usual order
                                 ("No", 0, Side.NO), ("Yes", 1, Side.YES),  # a ["No","Yes"] market
                                 ("Lakers", 0, Side.YES), ("Celtics", 1, Side.NO)):  # team names: first is YES
        pos = parse_position({**row, "outcome": outcome, "oppositeOutcome": opposite[outcome], "outcomeIndex": index})
        assert pos is not None and pos.side is side, (outcome, index)
        without = {k: v for k, v in row.items() if k != "oppositeOutcome"}
        pos = parse_position({**without, "outcome": outcome, "outcomeIndex": index})
        assert pos is not None and pos.side is side, (outcome, index, "no oppositeOutcome")
    # A "Yes" beside a label that is not "No" (review): the market parser reads such a pair by position,
    # first outcome YES, so the position must too.
    for outcome, other, index, side in (("Yes", "Other", 1, Side.NO), ("No", "Maybe", 0, Side.YES)):
        pos = parse_position({**row, "outcome": outcome, "oppositeOutcome": other, "outcomeIndex": index})
        assert pos is not None and pos.side is side, (outcome, other, index)
    # Only the other outcome's label (review: a "Yes" there read as this holding's): the position decides.
    without = {k: v for k, v in row.items() if k not in ("outcome", "oppositeOutcome")}
    for other, index, side in (("Yes", 1, Side.NO), ("No", 0, Side.YES)):
        pos = parse_position({**without, "oppositeOutcome": other, "outcomeIndex": index})
        assert pos is not None and pos.side is side, (other, index)
    with pytest.raises(DataError, match="outcomeIndex"):  # nothing to go by: refused, never guessed
        parse_position({**{k: v for k, v in without.items() if k != "outcomeIndex"}, "outcome": "Lakers"})


def test_a_position_shows_the_realised_pnl_the_data_api_reports_and_no_fees(fixtures_dir: Path) -> None:
    """Found by a black-box audit: live `orion positions` showed Polymarket fees "0" and realized_pnl "0".
    The Data API reports `realizedPnl` and no fee: the one is shown, the other is null (not reported)."""
    from orion_cli.core.accounts import MarkedPosition

    rows = _fixture(fixtures_dir, "data_api_positions_response.json")
    first = parse_position(rows[0])
    assert first is not None and first.extra["realized_pnl"] == "0.0" and "fees" not in first.extra
    rec = MarkedPosition(first).to_record()
    assert rec["fees"] is None and rec["realized_pnl"] == Decimal(0)
    for reported, shown in ((Decimal("-1.25"), Decimal("-1.25")), ("2.5", Decimal("2.5")), (None, None)):
        rows[0]["realizedPnl"] = reported
        pos = parse_position(rows[0])
        assert pos is not None and MarkedPosition(pos).to_record()["realized_pnl"] == shown


def test_fills_since_filters_by_time(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    from datetime import UTC, datetime, timedelta

    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))
        assert len(await pm.fills(since=datetime.now(UTC) - timedelta(minutes=5))) == 1
        assert await pm.fills(since=datetime.now(UTC) + timedelta(minutes=5)) == []

    with_client(wallet, sim, go)


def test_fills_since_keeps_a_fill_matched_in_sinces_own_second(
    sim: PolymarketSim, market: Market, wallet: Wallet
) -> None:
    """Found in review: ``match_time`` is whole seconds and reconcile passes an open order's own
    ``created_at`` (with microseconds) as ``since``, so that order's fill in the same second was dropped."""
    from datetime import UTC, datetime, timedelta

    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))
        matched = datetime.fromtimestamp(int(sim.clob_trades[-1]["match_time"]), UTC)
        same_second = matched + timedelta(microseconds=700_000)
        assert len(await pm.fills(since=same_second)) == 1
        assert await pm.fills(since=matched + timedelta(seconds=1)) == []  # the next second is after it
        asked = [r.param("after") for r in sim.requests if r.path == "/clob/data/trades"]
        assert asked[0] == str(int(matched.timestamp()) - 1)

    with_client(wallet, sim, go)


def test_prepare_refuses_what_it_cannot_sign(sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(DataError, match="token_id"):
            pm.prepare(replace(order(market), token_id=""))
        with pytest.raises(DataError, match="venue"):
            pm.prepare(replace(order(market), venue=Venue.KALSHI))
        with pytest.raises(DataError, match="price"):
            pm.prepare(order(market, price="0.525"))

    with_client(wallet, sim, go)
    assert sim.requests == []


# --------------------------------------------------------------------------- resolution and redemption


def test_a_resolved_position_is_a_settlement_and_its_payout_counts_in_total_until_redeemed(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))  # 10 YES at 0.52
        assert await pm.settlements([market.id]) == []  # open: nothing settled
        open_bal = await pm.balance()
        sim.resolve_market(market.id, 0)  # YES wins
        (s,) = await pm.settlements([market.id, "0xother"])
        assert (s.market_id, s.result, s.yes_payout, s.payout(Side.YES)) == (market.id, "yes", 1, 1)
        resolved = await pm.balance()
        # Owed, not spendable: the CLOB's cash has not moved, equity has.
        assert resolved.available == open_bal.available and resolved.total == open_bal.total + 10
        # Paid as of the first report that counted it (so that report is never credited it again).
        (again,) = await pm.settlements([market.id])
        assert again.paid_at == resolved.as_of and again.counts == ((Side.YES, 10), (Side.NO, 0))
        sim.redeem(pm.funder, market.id)
        redeemed = await pm.balance()
        assert redeemed.available == open_bal.available + 10 and redeemed.total == resolved.total
        assert await pm.positions() == []
        # Redeemed: nothing listed, so the CLOB's market record says how it ended; still paid as of
        # the first report that counted it.
        (gone,) = await pm.settlements([market.id])
        assert (gone.yes_payout, gone.result, gone.source) == (1, "yes", "market outcome")
        assert gone.counts == ((Side.YES, 10), (Side.NO, 0))  # what the account's trades held
        assert gone.paid_at == resolved.as_of

    with_client(wallet, sim, go)


def _outcome_requests(sim: PolymarketSim) -> list[str]:
    return [r.path for r in sim.requests if r.path.startswith("/clob/markets/")]


def test_a_market_redeemed_before_orion_saw_it_resolved_is_settled_from_the_clob_market(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """Found in review: a holder who claimed the winnings in the venue's app left orion a vanished
    position, which reconcile called drift (and --fix closed at cost, losing the trade's profit)."""
    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market, side=Side.NO)))  # 10 NO
        sim.resolve_market(market.id, 1)  # NO wins
        sim.redeem(pm.funder, market.id)  # before orion looked
        report = await pm.balance()  # its cash holds the payout: it lists nothing of the market
        (s,) = await pm.settlements([market.id])
        assert (s.market_id, s.yes_payout, s.payout(Side.NO), s.result) == (market.id, 0, 1, "no")
        assert s.counts == ((Side.YES, 0), (Side.NO, 10)) and s.revenue is None  # from its own trades
        assert s.paid_at == report.as_of  # so reconcile moves no cash for it

    with_client(wallet, sim, go)
    assert _outcome_requests(sim) == [f"/clob/markets/{market.id}"]


def test_a_position_sold_before_its_market_resolved_is_no_settlement(sim: PolymarketSim, market: Market,
                                                                     wallet: Wallet) -> None:
    """Found in review: a vanished position was taken for a redeemed one, so a sale the ledger did not
    know was booked as a payout (a false profit) instead of drift."""
    # A resolved market takes no more orders (the simulator refuses them as the venue does), so the partly
    # sold case is traded on the simulator's other market.
    other = Market(sim, nth=1)

    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))  # 10 YES
        await pm.submit(pm.prepare(order(market, action=Action.SELL, price="0.01", coid="c-2")))  # sold in full
        sim.resolve_market(market.id, 0)  # YES wins, after the sale
        assert await pm.settlements([market.id]) == []
        await pm.submit(pm.prepare(order(other, coid="c-3")))  # 10 YES on the other market, then partly sold
        await pm.submit(pm.prepare(order(other, action=Action.SELL, size="4", price="0.01", coid="c-4")))
        assert [(p.market_id, p.side, p.size) for p in await pm.positions()] == [(other.id, Side.YES, 6)]
        sim.resolve_market(other.id, 0)
        sim.redeem(pm.funder, other.id)
        (s,) = await pm.settlements([other.id])
        assert s.counts == ((Side.YES, 6), (Side.NO, 0))  # what it held at the end: reconcile compares

    with_client(wallet, sim, go)


def test_a_redeemed_holding_bought_as_a_maker_against_the_other_token_counts(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """Found in review: a trade is listed under its taker's token, so the account's resting NO buy
    matched against a YES buy (a mint) was missed, and a redeemed holding read as sold."""
    async def go(pm: PolymarketTrading) -> None:
        creds = wallet.creds
        sim.clob_trades.append({  # the account's maker order on NO, inside a trade listed under YES
            "id": "mint-1", "taker_order_id": "0xtaker", "market": market.id, "asset_id": market.yes,
            "side": "BUY", "size": "10", "fee_rate_bps": "0", "price": "0.40", "status": "CONFIRMED",
            "match_time": str(int(time.time())), "last_update": str(int(time.time())), "outcome": "Yes",
            "owner": creds.api_key, "trader_side": "MAKER", "maker_address": pm.funder.lower(),
            "maker_orders": [{"order_id": "0xmine", "owner": creds.api_key, "maker_address": pm.funder.lower(),
                              "asset_id": market.no, "matched_amount": "10", "price": "0.60",
                              "side": "BUY", "outcome": "No"}]})
        sim.resolve_market(market.id, 1)  # NO wins; redeemed already: nothing listed
        (s,) = await pm.settlements([market.id])
        assert (s.result, s.counts) == ("no", ((Side.YES, 0), (Side.NO, 10)))

    with_client(wallet, sim, go)


def test_one_market_that_cannot_be_checked_is_named_and_spares_the_others(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """Found in review: one failing lookup failed the whole call, so no market settled, every run. And
    one only logged read as not settled: reconcile's --fix then closed the vanished position at cost."""
    broken = "0x" + "ab" * 32
    gone = "0x" + "cd" * 32  # a market the venue does not know (404): settles nothing, not an error

    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))
        sim.resolve_market(market.id, 0)  # listed, redeemable
        sim.server.add_fault(FaultRule("status", method="GET", path_prefix=f"/clob/markets/{broken}", status=500))
        with pytest.raises(SettlementsIncomplete) as caught:
            await pm.settlements([market.id, broken, gone])
        (s,) = caught.value.found
        assert (s.market_id, s.source) == (market.id, "redeemable")
        assert list(caught.value.unchecked) == [broken] and "500" in caught.value.unchecked[broken]
        assert caught.value.unreachable  # no answer, only 500s: an outage (reconcile: unavailable, not drift)

    with_client(wallet, sim, go)
    assert len(_outcome_requests(sim)) >= 2  # asked, and retried, before giving that market up


def test_a_firewall_403_on_a_redeemed_markets_lookup_is_the_hosts_refusal_not_an_unusable_answer(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """Found in review: the firewall's refusal of a held market's lookup was kept as "an answer orion cannot
    use" for that market, which reconcile reports as settlement drift. No request reached the venue, and
    none will from this host: the refusal is raised (reconcile: the venue unavailable, GEOBLOCKED)."""
    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))
        sim.resolve_market(market.id, 0)
        sim.redeem(pm.funder, market.id)  # listed by no one now: its market record is looked up
        _blocked_at_the_edge(sim, "GET", "/clob/markets/")
        with pytest.raises(Geoblocked, match="firewall refused GET /markets/"):
            await pm.settlements([market.id])

    with_client(wallet, sim, go)


def test_a_trades_read_that_answers_404_leaves_the_market_unchecked_not_unsettled(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """Found in review: only the market lookup's 404 means "the venue does not know this market", but
    the handler also caught the trades reads', so a redeemed market read as settling nothing and
    reconcile's --fix could close its vanished position at cost."""
    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))
        sim.resolve_market(market.id, 0)
        sim.redeem(pm.funder, market.id)  # listed by no one now: its own trades say what it held
        sim.server.add_fault(FaultRule("status", method="GET", path_prefix="/clob/data/trades", status=404))
        with pytest.raises(SettlementsIncomplete) as caught:
            await pm.settlements([market.id])
        assert caught.value.found == [] and list(caught.value.unchecked) == [market.id]
        assert "404" in caught.value.unchecked[market.id]
        assert not caught.value.unreachable  # an answer orion cannot use: drift

    with_client(wallet, sim, go)


def test_a_redeemed_market_no_report_has_seen_is_paid_now(sim: PolymarketSim, market: Market,
                                                          wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))
        before = await pm.balance()  # lists the open position: its cash lacks the payout
        sim.resolve_market(market.id, 0)
        sim.redeem(pm.funder, market.id)
        (s,) = await pm.settlements([market.id])
        assert s.paid_at > before.as_of and s.yes_payout == 1

    with_client(wallet, sim, go)


def test_a_market_sold_or_closed_unresolved_is_no_settlement_and_a_listed_one_costs_no_request(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))
        assert await pm.settlements([market.id]) == []  # listed and open: no market lookup
        assert _outcome_requests(sim) == []
        await pm.submit(pm.prepare(order(market, action=Action.SELL, price="0.01", coid="c-2")))
        assert await pm.positions() == []  # sold out, market open
        assert await pm.settlements([market.id]) == []
        sim.market(market.id).update(closed=True, acceptingOrders=False)  # closed, awaiting resolution
        assert await pm.settlements([market.id]) == []
        assert len(_outcome_requests(sim)) == 2

    with_client(wallet, sim, go)


def test_only_a_final_price_makes_a_redeemable_position_a_payout(fixtures_dir: Path) -> None:
    from orion_cli.venues.polymarket.trading import redeemable_price

    rows = _fixture(fixtures_dir, "data_api_positions_response.json")
    held, _, odd, _ = (parse_position(r) for r in rows)
    assert held is not None and odd is not None
    assert redeemable_price(held) is None  # not redeemable
    assert odd.extra["redeemable"] == "true" and redeemable_price(odd) is None  # redeemable at 0.4: not final
    for price, pays in (("1", 1), ("0", 0), ("0.5", Decimal("0.5")), ("1.0", 1)):
        assert redeemable_price(replace(odd, extra={**odd.extra, "curPrice": price})) == pays
    for junk in ("nan?", "NaN", "sNaN", "-1", "Infinity", ""):  # sNaN raised InvalidOperation when compared
        assert redeemable_price(replace(odd, extra={**odd.extra, "curPrice": junk})) is None


# --------------------------------------------------------------------------- what the simulator refuses


@pytest.mark.parametrize("flags", [{"closed": True}, {"acceptingOrders": False}, {"enableOrderBook": False}],
                         ids=["closed", "not_accepting_orders", "no_order_book"])
def test_an_order_on_a_market_the_clob_does_not_trade_is_refused_and_nothing_is_stored(
        sim: PolymarketSim, market: Market, wallet: Wallet, flags: dict[str, bool]) -> None:
    """Found in review: the simulator matched orders on closed markets, markets not accepting orders and
    markets without a CLOB order book."""
    market.raw.update(flags)

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(OrderRejected, match="the market is not yet ready to process new orders"):
            await pm.submit(pm.prepare(order(market)))
        assert await pm.positions() == []

    with_client(wallet, sim, go)
    assert sim.orders == {} and sim.clob_trades == [] and sim.fees_charged == []
    assert sim.account(wallet.creds.api_key).cash == 1000 * 1_000_000


def test_positions_below_a_share_are_listed_only_to_a_reader_asking_for_size_threshold_0(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """The Data API's sizeThreshold defaults to 1 share: orion asks for 0, or dust it holds would go unseen
    (found in review: the simulator ignored the parameter, so nothing proved orion sends it)."""
    async def go(pm: PolymarketTrading) -> None:
        await pm.submit(pm.prepare(order(market)))  # 10 YES
        await pm.submit(pm.prepare(order(market, action=Action.SELL, size="9.5", price="0.01", coid="c-2")))
        assert [(p.side, p.size) for p in await pm.positions()] == [(Side.YES, Decimal("0.5"))]

    with_client(wallet, sim, go)
    asked = [r.query for r in sim.requests if r.path == "/data/positions"]
    assert asked and all(q.get("sizeThreshold") == ["0"] for q in asked), asked
    import httpx

    url, user = f"{sim.data_url}/positions", wallet.key.address.lower()
    assert httpx.get(url, params={"user": user}).json() == []  # the default threshold, 1 share, hides it
    (row,) = httpx.get(url, params={"user": user, "sizeThreshold": "0"}).json()
    assert (row["asset"], row["size"], row["oppositeAsset"]) == (market.yes, 0.5, market.no)
    assert (row["outcome"], row["oppositeOutcome"], row["redeemable"], row["mergeable"]) == ("Yes", "No", False, False)
    assert row["curPrice"] == float(json.loads(market.raw["outcomePrices"])[0])


# --------------------------------------------------------------------------- found by the mutation audit


def _offline_client() -> PolymarketTrading:
    """A client that never sends anything: for the parts of it that only read what they are given."""
    return PolymarketTrading(ApiCredentials("k-1", "c2VjcmV0", "pass"), PrivateKey.generate())


def _open_row(**fields: Any) -> dict[str, Any]:
    row = {"id": "0xabc", "status": "LIVE", "original_size": "10", "size_matched": "0", "price": "0.40",
           "asset_id": "111", "market": "0xcond", "outcome": "Yes", "side": "BUY", "created_at": 1760000000}
    row.update(fields)
    return row


@pytest.mark.parametrize("status", ["CANCELED", "ORDER_STATUS_CANCELED_MARKET_RESOLVED", "EXPIRED", "KILLED"])
def test_an_order_ended_after_part_of_it_matched_is_partial_not_cancelled(status: str) -> None:
    """A cancelled (or expired, killed) order that matched 4 of its 10 shares holds those 4: PARTIAL,
    never CANCELLED, which would tell the executor nothing filled and leave 4 shares unhedged."""
    from orion_cli.venues.polymarket.trading import parse_open_order

    part = parse_open_order(_open_row(status=status, size_matched="4"))
    assert part.status is OrderStatus.PARTIAL and part.filled_size == Decimal("4")
    assert parse_open_order(_open_row(status=status)).status is OrderStatus.CANCELLED


def test_a_trade_time_in_milliseconds_is_read_as_milliseconds() -> None:
    """``match_time`` in milliseconds (1760000000123) is the same moment as 1760000000 seconds, not a
    date 55 000 years out (or an error) that would put the fill outside every ``since`` window."""
    (ms,) = parse_trade_fills(_taker_row(match_time="1760000000123"), api_key="k", funder="0xf")
    (s,) = parse_trade_fills(_taker_row(match_time="1760000000"), api_key="k", funder="0xf")
    assert int(ms.ts.timestamp()) == int(s.ts.timestamp()) == 1760000000


@pytest.mark.parametrize(("tif", "status"), [(TimeInForce.GTC, OrderStatus.OPEN),
                                              (TimeInForce.IOC, OrderStatus.PARTIAL)])
def test_a_matched_answer_for_part_of_the_order(tif: TimeInForce, status: OrderStatus) -> None:
    """``matched`` for 4 of 10 shares: a GTC rests with the rest (OPEN, cancellable), a FAK is done with
    4 (PARTIAL). The amounts are read by side: a BUY's making is pUSD, its taking shares."""
    pm = _offline_client()
    request = OrderRequest(venue=Venue.POLYMARKET, market_id="0xcond", side=Side.YES, action=Action.BUY,
                           size=Decimal("10"), limit_price=Decimal("0.50"), time_in_force=tif,
                           client_order_id="c-1", token_id="111", tick_size=Decimal("0.01"))
    prepared = PreparedOrder(request, "{}", "0xhash")
    state = run(pm._accepted(prepared, {"success": True, "orderID": "0xhash", "status": "matched",
                                        "makingAmount": "2", "takingAmount": "4"}))
    run(pm.aclose())
    assert state.status is status and state.filled_size == Decimal("4") and state.avg_fill_price == Decimal("0.5")


def test_a_503_on_an_order_is_the_venue_not_taking_orders_not_an_unknown_outcome(
        sim: PolymarketSim, market: Market, wallet: Wallet) -> None:
    """503 (trading paused / cancel-only) is documented as not accepted: VenueUnavailable, nothing placed;
    any other 5xx is an unknown outcome to look up."""
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/order", status=503, times=1,
                                   body={"error": "trading is currently disabled"}))

    async def go(pm: PolymarketTrading) -> None:
        with pytest.raises(VenueUnavailable) as info:
            await pm.submit(pm.prepare(order(market)))
        assert not isinstance(info.value, OrderOutcomeUnknown) and "nothing was placed" in info.value.message

    with_client(wallet, sim, go)
    assert not sim.orders


def test_only_open_buy_orders_reserve_cash() -> None:
    """A resting SELL holds shares, not pUSD: only open BUYs (remaining × limit) come off ``available``."""
    from orion_cli.venues.polymarket.trading import parse_open_order

    pm = _offline_client()
    buy = parse_open_order(_open_row(id="0x1", original_size="10", size_matched="4", price="0.40"))
    sell = parse_open_order(_open_row(id="0x2", side="SELL", original_size="10", price="0.60"))

    async def collateral() -> dict[str, Any]:
        return {"balance": "10000000"}

    async def orders() -> list[Any]:
        return [buy, sell]

    async def held() -> list[Any]:
        return []

    pm._refreshed_collateral, pm.open_orders, pm.positions = collateral, orders, held  # type: ignore[method-assign]
    balance = run(pm.balance())
    run(pm.aclose())
    assert balance.reserved == Decimal("2.4") and balance.available == Decimal("7.6")
    assert balance.total == Decimal("10")


def test_positions_stop_at_a_short_page_without_asking_for_another(sim: PolymarketSim, market: Market) -> None:
    """The Data API's ``/positions`` is offset-paged: a page shorter than the limit is the last, and
    asking again spends the tight data_positions budget (150 per 10 s) for nothing."""
    wallet = Wallet(sim, shares={market.yes: Decimal("5")})
    with_client(wallet, sim, lambda pm: pm.positions())
    assert len([r for r in sim.requests if r.path.endswith("/positions")]) == 1


def test_a_redeemable_no_holding_settles_the_yes_payout_the_other_way_round() -> None:
    """A NO holding redeemable at 1 means NO won: the settlement's YES payout is 0 (and 1 for a NO at 0).
    Taken as the YES payout itself, a NO win would settle as a loss and a loss as a win."""
    pm = _offline_client()
    row = {"size": "10", "avgPrice": "0.4", "outcome": "No", "oppositeOutcome": "Yes", "redeemable": True}
    rows = [{**row, "conditionId": "0xwon", "curPrice": "1"}, {**row, "conditionId": "0xlost", "curPrice": "0"}]

    async def held() -> list[Any]:
        return [p for p in map(parse_position, rows) if p is not None]

    pm.positions = held  # type: ignore[method-assign]
    found = run(pm.settlements(["0xwon", "0xlost"]))
    run(pm.aclose())
    assert {s.market_id: (s.yes_payout, s.result) for s in found} == {
        "0xwon": (Decimal(0), "no"), "0xlost": (Decimal(1), "yes")}
    assert all(dict(s.counts)[Side.NO] == Decimal("10") for s in found)


def test_a_repeated_next_cursor_stops_at_once_naming_the_loop() -> None:
    """A CLOB list answering the same ``next_cursor`` again (a cursor the venue ignores) stops on the
    second page, saying so, instead of spending the read budget on max_pages identical requests."""
    pm = _offline_client()
    calls: list[Any] = []

    async def same_page(path: str, params: Any = None, **kw: Any) -> Any:
        calls.append(params)
        return {"data": [], "next_cursor": "Mg=="}

    pm.clob.get_json = same_page  # type: ignore[method-assign]
    with pytest.raises(VenueError, match="repeated"):
        run(pm.open_orders())
    run(pm.aclose())
    assert len(calls) == 2


@pytest.mark.parametrize(("offset", "warned"), [(5.0, True), (-5.0, True), (4.9, False)])
def test_a_clock_five_seconds_off_the_clobs_is_a_notice(offset: float, warned: bool) -> None:
    notices: list[str] = []
    pm = PolymarketTrading(ApiCredentials("k-1", "c2VjcmV0", "pass"), PrivateKey.generate(), warn=notices.append)

    async def sync() -> float:
        return offset

    pm.sync_clock = sync  # type: ignore[method-assign]
    run(pm._sync_clock_once())
    run(pm.aclose())
    assert bool(notices) is warned


@pytest.mark.parametrize("status", [401, 403])
def test_only_a_403_page_is_the_firewall_and_a_401_stays_a_credentials_answer(status: int) -> None:
    """The firewall in front of Polymarket answers a blocked host 403 with a page; a 401 is the CLOB
    judging our keys (exit 4), whatever its body says."""
    import httpx

    from orion_cli.venues.polymarket.firewall import firewall_refusal

    refused = firewall_refusal("POST", "/order", httpx.Response(status, content=b"<html>Sorry, you have been blocked"))
    assert (refused is not None) is (status == 403)


@pytest.mark.parametrize("text", ["²", "１２", "٣"])
def test_a_number_in_non_ascii_digits_is_bad_data_not_a_crash_or_a_guess(text: str) -> None:
    """``str.isdigit`` is true of ``²`` (which ``int`` then refuses with a bare ValueError, a crash) and of
    full-width or Arabic-Indic digits (which ``int`` reads, a number the venue never sent in base units).
    A balance or a trade time the CLOB sends is ASCII digits; anything else is a DataError naming it."""
    from orion_cli.venues.polymarket.trading import _parse_ts

    with pytest.raises(DataError, match="balance"):
        parse_balance_units({"balance": text})
    with pytest.raises(DataError, match="timestamp"):
        _parse_ts(text)


@pytest.mark.parametrize("value", ["99999999999999999999", 10**20, Decimal("1e30"), Decimal("NaN"), "9" * 5000])
def test_a_time_out_of_range_is_bad_data_not_a_crash(value: object) -> None:
    """Found in review: ASCII digits too large for a time raised a bare OSError or OverflowError (and 5,000 of
    them int()'s ValueError); each is a DataError naming the timestamp."""
    from orion_cli.venues.polymarket.trading import _parse_ts

    with pytest.raises(DataError, match="timestamp"):
        _parse_ts(value)


@pytest.mark.parametrize("value", ["9" * 30, "9" * 5000, 10**30, -1_000_000])
def test_a_balance_out_of_range_is_bad_data_not_a_fortune(value: object) -> None:
    """Found in review: base units skipped the bounds every other venue number has, so a 30-digit balance was
    taken as 1e24 dollars (and 5,000 digits crashed in int()); a negative one passed too."""
    with pytest.raises(DataError, match="balance"):
        parse_balance_units({"balance": value})
    # The bound: what the ledger stores (about $922M, SQLite's 64-bit units of 1e-10), one base unit past it refused.
    assert parse_balance_units({"balance": "922337203685477"}) == Decimal("922337203.685477")
    with pytest.raises(DataError, match="out of range for the ledger"):
        parse_balance_units({"balance": "922337203685478"})
