"""Paper fills on real recorded books, every figure worked out by hand in the comments.

Kalshi fee per fill: ceil_to_$0.0001(0.07 × C × P × (1 − P)). Polymarket (rate 0.03, exponent 1):
floor_to_$0.00001(C × 0.03 × P × (1 − P)).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from orion_cli.core.config import Settings, load_settings
from orion_cli.core.errors import ExitCode
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import Market, MarketStatus, OrderBook, Side, TickStructure, Venue
from orion_cli.core.money import loads_exact
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database, open_database
from orion_cli.venues.kalshi.parse import PRICE_LEVEL_STRUCTURES, parse_orderbook
from orion_cli.venues.paper import PaperVenue, slip
from orion_cli.venues.polymarket.parse import combine_books, parse_book
from orion_cli.venues.trading import (
    Action,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderStatus,
    TimeInForce,
)

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


class FixedSource:
    """A market source holding one market and a book the test can swap (what submit re-reads)."""

    name = "fixture"

    def __init__(self, market: Market, book: OrderBook) -> None:
        self.market, self.book_ = market, book
        self.reads = 0

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - not used by the paper venue
        raise NotImplementedError

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        self.reads += 1
        return self.market, self.book_


def kalshi_market(ticker: str = "KXTEST-26-A", status: MarketStatus = MarketStatus.OPEN) -> Market:
    return Market(Venue.KALSHI, ticker, "KXTEST-26", "Test market", status, None, FeeModel.kalshi(),
                  TickStructure.uniform(D("0.01")), category="Sports")


def kalshi_book(fixtures_dir: Path, name: str, ticker: str = "KXTEST-26-A") -> OrderBook:
    return parse_orderbook(loads_exact((fixtures_dir / name).read_bytes()), ticker, fetched_at=NOW)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'paper.db'}")
    yield database
    database.dispose()


def settings(**overrides: Any) -> Settings:
    return load_settings(overrides={f"paper.{k}": v for k, v in overrides.items()}, environ={})


def venue_for(db: Database, source: FixedSource, venue: Venue = Venue.KALSHI, **cfg: Any) -> PaperVenue:
    return PaperVenue(venue, db, source, settings(**cfg), clock=lambda: NOW)


def order(size: str, limit: str, tif: TimeInForce = TimeInForce.FOK, *, side: Side = Side.YES,
          action: Action = Action.BUY, coid: str = "c1", market: str = "KXTEST-26-A",
          venue: Venue = Venue.KALSHI, token: str = "") -> OrderRequest:
    return OrderRequest(venue, market, side, action, D(size), D(limit), tif, coid, token_id=token)


def place(pv: PaperVenue, req: OrderRequest) -> OrderState:
    return asyncio.run(pv.submit(pv.prepare(req)))


# Paired Kalshi book (kalshi_orderbook_nonempty.json):
#   yes bids 0.24×100000, 0.23×28.55, 0.22×252   no bids 0.75×40, 0.74×200, 0.73×40.34
#   → YES asks (1 − NO bids) 0.25×40, 0.26×200, 0.27×40.34;  NO asks 0.76×100000, 0.77×28.55, 0.78×252


@pytest.fixture
def paired(fixtures_dir: Path) -> FixedSource:
    return FixedSource(kalshi_market(), kalshi_book(fixtures_dir, "paired/kalshi_orderbook_nonempty.json"))


def test_fok_walks_levels_up_to_the_limit_with_fees_per_level(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired)
    st = place(pv, order("100", "0.26"))
    # 40 @ 0.25: 0.07 × 40 × 0.25 × 0.75 = 0.525   → 0.5250
    # 60 @ 0.26: 0.07 × 60 × 0.26 × 0.74 = 0.80808 → 0.8081 (rounded up per fill)
    assert st.status is OrderStatus.FILLED
    assert [(f.size, f.price, f.fee) for f in st.fills] == [(D("40"), D("0.25"), D("0.5250")),
                                                            (D("60"), D("0.26"), D("0.8081"))]
    assert st.filled_size == D("100") and st.fees == D("1.3331")
    assert st.avg_fill_price == D("0.256")  # (10 + 15.6) / 100
    bal = asyncio.run(pv.balance())
    assert bal.available == bal.total == D("973.0669")  # 1000 − 25.6 − 1.3331
    (pos,) = asyncio.run(pv.positions())
    assert (pos.side, pos.size, pos.avg_price, pos.exposure, pos.category) == (Side.YES, D("100"), D("0.256"),
                                                                                D("25.6"), "Sports")
    assert paired.reads == 1  # the book was re-read at submit


def test_fok_is_all_or_nothing_at_the_boundary(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired)
    # Within 0.26 there are exactly 40 + 200 = 240 contracts.
    killed = place(pv, order("240.01", "0.26", coid="over"))
    assert killed.status is OrderStatus.CANCELLED and killed.filled_size == 0 and killed.fills == ()
    assert asyncio.run(pv.balance()).available == D("1000")
    assert asyncio.run(pv.positions()) == []
    exact = place(pv, order("240", "0.26", coid="exact"))
    # 40 @ 0.25 → 0.5250; 200 @ 0.26: 0.07 × 200 × 0.1924 = 2.6936
    assert exact.status is OrderStatus.FILLED and exact.fees == D("3.2186")
    assert asyncio.run(pv.balance()).available == D("1000") - D("10") - D("52") - D("3.2186")


def test_ioc_fills_what_is_there_and_cancels_the_rest(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired)
    st = place(pv, order("300", "0.26", TimeInForce.IOC))
    assert st.status is OrderStatus.PARTIAL
    assert st.filled_size == D("240") and st.remaining == D("60") and st.fees == D("3.2186")
    assert "60.00 unfilled" in st.reject_reason
    none = place(pv, order("10", "0.24", TimeInForce.IOC, coid="below"))  # best YES ask is 0.25
    assert none.status is OrderStatus.CANCELLED and none.filled_size == 0


def test_no_side_buy_on_the_base_book(db: Database, fixtures_dir: Path) -> None:
    # orderbook__base.json: yes bid 0.47×3, no bid 0.48×3 → NO ask = 1 − 0.47 = 0.53 × 3
    src = FixedSource(kalshi_market(), kalshi_book(fixtures_dir, "kalshi/orderbook__base.json"))
    pv = venue_for(db, src)
    st = place(pv, order("3", "0.53", TimeInForce.IOC, side=Side.NO))
    # 0.07 × 3 × 0.53 × 0.47 = 0.052311 → 0.0524
    assert (st.status, st.filled_size, st.avg_fill_price, st.fees) == (OrderStatus.FILLED, D("3"), D("0.53"),
                                                                      D("0.0524"))
    assert asyncio.run(pv.balance()).available == D("998.3576")  # 1000 − 1.59 − 0.0524


def test_sell_walks_bids_and_realises_pnl(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired)
    place(pv, order("100", "0.26", coid="buy"))  # cost 25.6, fees 1.3331
    st = place(pv, order("60", "0.24", TimeInForce.IOC, action=Action.SELL, coid="sell"))
    # YES bids: 60 @ 0.24: 0.07 × 60 × 0.24 × 0.76 = 0.76608 → 0.7661
    assert (st.status, st.fees, st.avg_fill_price) == (OrderStatus.FILLED, D("0.7661"), D("0.24"))
    (pos,) = asyncio.run(pv.positions())
    # 60 of 100 sold: cost out 25.6 × 0.6 = 15.36, fees out 1.3331 × 0.6 = 0.79986
    assert (pos.size, pos.exposure) == (D("40"), D("10.24"))
    assert D(pos.extra["realized_pnl"]) == D("14.4") - D("0.7661") - D("15.36") - D("0.79986")
    assert asyncio.run(pv.balance()).available == D("973.0669") + D("14.4") - D("0.7661")
    with pytest.raises(OrderRejected) as exc:
        place(pv, order("41", "0.20", TimeInForce.IOC, action=Action.SELL, coid="oversell"))
    assert exc.value.code == "INSUFFICIENT_POSITION"


def test_paper_kalshi_nets_a_no_buy_against_the_yes_held_as_kalshi_does(db: Database, paired: FixedSource) -> None:
    """Kalshi nets YES against NO: 40 YES then 40 NO of one market leave the account holding nothing,
    the 40 pairs having paid $1 each into its cash. Paper Kalshi held both (and its cash lacked the $40),
    so a within-venue pair or two executions crossing in one market diverged from what live trading
    would hold; an unwind then sold shares Kalshi no longer holds."""
    pv = venue_for(db, paired)
    place(pv, order("40", "0.25", coid="y"))  # 40 YES at 0.25, fee 0.5250
    # NO asks 0.76: 0.07 × 40 × 0.76 × 0.24 = 0.51072 → 0.5108
    st = place(pv, order("40", "0.76", side=Side.NO, coid="n"))
    assert (st.status, st.fees) == (OrderStatus.FILLED, D("0.5108"))
    assert asyncio.run(pv.positions()) == []
    bal = asyncio.run(pv.balance())
    assert bal.available == bal.total == D("1000") - D("10.5250") - D("30.9108") + D("40")
    closed = pv.ledger.positions(include_closed=True)
    assert sum((D(p.extra["realized_pnl"]) for p in closed), D(0)) == D("40") - D("10.5250") - D("30.9108")


def test_insufficient_balance_is_rejected_and_changes_nothing(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired, kalshi_balance="25")
    # worst case 100 × 0.26 + fee(100 @ 0.26) = 26 + 1.3468 > 25, though the walk itself would cost 26.9331
    with pytest.raises(OrderRejected) as exc:
        place(pv, order("100", "0.26"))
    assert exc.value.code == "INSUFFICIENT_BALANCE" and exc.value.exit_code == ExitCode.REFUSED
    st = asyncio.run(pv.find_order("c1"))
    assert st is not None and st.status is OrderStatus.REJECTED and st.filled_size == 0
    assert "INSUFFICIENT_BALANCE" in st.reject_reason
    assert asyncio.run(pv.balance()).available == D("25")
    assert asyncio.run(pv.fills()) == []
    types = [e.type for e in AuditLog(db).tail(20)]
    assert types[-1] == "order.rejected"


def test_resubmitting_the_same_order_never_fills_twice(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired)
    prepared = pv.prepare(order("100", "0.26"))
    first = asyncio.run(pv.submit(prepared))
    second = asyncio.run(pv.submit(prepared))
    assert second == first
    assert len(asyncio.run(pv.fills())) == 2  # the two levels of the first submission, nothing more
    assert asyncio.run(pv.balance()).available == D("973.0669")
    assert paired.reads == 1  # the retry did not even look at the book
    # A different order under the same client order id is refused, not merged.
    from orion_cli.core.errors import Refused

    with pytest.raises(Refused) as exc:
        pv.ledger.record_intent(pv.prepare(order("5", "0.26")))
    assert exc.value.reason == "DUPLICATE"


def test_slippage_moves_every_level_against_the_trader(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired, slippage_ticks=1)
    # YES asks become 0.26×40, 0.27×200, 0.28×40.34
    killed = place(pv, order("100", "0.26", coid="fok"))
    assert killed.status is OrderStatus.CANCELLED
    st = place(pv, order("100", "0.27", TimeInForce.IOC, coid="ioc"))
    # 40 @ 0.26: 0.07 × 40 × 0.1924 = 0.53872 → 0.5388; 60 @ 0.27: 0.07 × 60 × 0.1971 = 0.82782 → 0.8279
    assert [(f.price, f.fee) for f in st.fills] == [(D("0.26"), D("0.5388")), (D("0.27"), D("0.8279"))]
    assert slip(D("0.25"), TickStructure.uniform(D("0.01")), 2, Action.SELL) == D("0.23")
    assert slip(D("0.99"), TickStructure.uniform(D("0.01")), 1, Action.BUY) is None


def test_slippage_steps_to_the_next_valid_tick_across_a_kalshi_tapered_boundary() -> None:
    """Found in review: a slip stepped by ``step_at`` (the first range holding the price), so on Kalshi's
    tapered grid a buy slipped 0.90 → 0.91 (skipping 0.901–0.909) and 0.10 → 0.101 (off the grid: 0.1–0.9
    steps by 0.01), and a sell slipped 0.901 → 0.891 (off the grid too). Each step is now to the next valid
    price on the trader's worse side."""
    tapered = TickStructure(PRICE_LEVEL_STRUCTURES["tapered_deci_cent"])
    assert slip(D("0.90"), tapered, 1, Action.BUY) == D("0.901")
    assert slip(D("0.10"), tapered, 1, Action.BUY) == D("0.11")
    assert slip(D("0.89"), tapered, 2, Action.BUY) == D("0.901")
    assert slip(D("0.90"), tapered, 1, Action.SELL) == D("0.89")
    assert slip(D("0.10"), tapered, 1, Action.SELL) == D("0.099")
    assert slip(D("0.901"), tapered, 1, Action.SELL) == D("0.90")
    assert slip(D("0.91"), tapered, 1, Action.SELL) == D("0.909")
    assert slip(D("0.11"), tapered, 2, Action.SELL) == D("0.099")
    assert slip(D("0.999"), tapered, 1, Action.BUY) is None and slip(D("0.001"), tapered, 1, Action.SELL) is None
    for price in (D("0.09"), D("0.1"), D("0.5"), D("0.9"), D("0.95")):
        for action in (Action.BUY, Action.SELL):
            for steps in range(1, 12):
                slipped = slip(price, tapered, steps, action)
                assert slipped is None or tapered.is_valid(slipped), (price, action, steps, slipped)


def test_prepare_validates_ticks_sizes_and_prices(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired)
    for req, words in (
        (order("10", "0.255"), "tick"),
        (order("10", "1"), "outside (0, 1)"),
        (order("0", "0.25"), "positive"),
        (order("10", "0.25", TimeInForce.GTC), "fill_or_kill"),
        (order("10", "0.25", venue=Venue.POLYMARKET), "kalshi"),
    ):
        with pytest.raises(OrderRejected) as exc:
            pv.prepare(req)
        assert exc.value.code == "INVALID_ORDER" and words in str(exc.value), (req, str(exc.value))
    asyncio.run(pv.market("KXTEST-26-A"))  # now the market's own size step is known
    with pytest.raises(OrderRejected, match=r"multiple of 0\.01"):
        pv.prepare(order("1.005", "0.25"))
    payload = pv.prepare(order("10", "0.25")).payload
    assert loads_exact(payload) == {"action": "buy", "client_order_id": "c1", "limit_price": "0.25",
                                    "market_id": "KXTEST-26-A", "side": "yes", "size": "10",
                                    "time_in_force": "fill_or_kill", "token_id": "", "venue": "kalshi"}


def test_closed_market_is_rejected(db: Database, fixtures_dir: Path) -> None:
    src = FixedSource(kalshi_market(status=MarketStatus.CLOSED),
                      kalshi_book(fixtures_dir, "paired/kalshi_orderbook_nonempty.json"))
    pv = venue_for(db, src)
    with pytest.raises(OrderRejected) as exc:
        place(pv, order("1", "0.25"))
    assert exc.value.code == "MARKET_CLOSED"


# Polymarket poly_book.json (one token, used as YES): asks best first 0.21×15, 0.23×25.08, 0.24×41.91, 0.29×7.51…
#   bids best first 0.17×5, 0.16×50, 0.15×91.15…


@pytest.fixture
def poly(fixtures_dir: Path) -> FixedSource:
    raw = loads_exact((fixtures_dir / "paired/poly_book.json").read_bytes())
    tb = parse_book(raw)
    market = Market(Venue.POLYMARKET, tb.market, "ev", "Poly test", MarketStatus.OPEN, None,
                    FeeModel.polymarket(D("0.03")), TickStructure.uniform(D("0.01")), category="sports",
                    min_size=D("5"), yes_token=tb.asset_id, no_token="1234567890")
    return FixedSource(market, combine_books(market, tb, None, NOW))


def test_polymarket_fills_and_fees_to_the_hundred_thousandth(db: Database, poly: FixedSource) -> None:
    pv = venue_for(db, poly, Venue.POLYMARKET, polymarket_balance="100")
    m = poly.market
    st = place(pv, order("50", "0.24", TimeInForce.IOC, venue=Venue.POLYMARKET, market=m.id, token=m.yes_token))
    # A Polymarket buy spends dollars: 50 × 0.24 = $12.00, best ask first within the limit, so the
    # cheaper levels leave dollars for more shares at 0.24 than 50 − 15 − 25.08 (as the venue fills it).
    # 15 @ 0.21:    $3.15;    15 × 0.03 × 0.1659 = 0.074655   → 0.07465 (floored)
    # 25.08 @ 0.23: $5.7684;  25.08 × 0.03 × 0.1771 = 0.13325004 → 0.13325
    # the $3.0816 left @ 0.24 = 12.84 shares: 12.84 × 0.03 × 0.1824 = 0.07026048 → 0.07026
    assert [(f.size, f.price, f.fee) for f in st.fills] == [(D("15"), D("0.21"), D("0.07465")),
                                                            (D("25.08"), D("0.23"), D("0.13325")),
                                                            (D("12.84"), D("0.24"), D("0.07026"))]
    assert st.status is OrderStatus.FILLED and st.fees == D("0.27816") and st.filled_size == D("52.92")
    # cost: the $12.00 signed for, all spent
    assert asyncio.run(pv.balance()).available == D("100") - D("12") - D("0.27816")
    sold = place(pv, order("20", "0.16", TimeInForce.IOC, action=Action.SELL, venue=Venue.POLYMARKET,
                           market=m.id, coid="s1"))
    # 5 @ 0.17: 5 × 0.03 × 0.1411 = 0.021165 → 0.02116;  15 @ 0.16: 15 × 0.03 × 0.1344 = 0.06048
    assert [(f.size, f.price, f.fee) for f in sold.fills] == [(D("5"), D("0.17"), D("0.02116")),
                                                              (D("15"), D("0.16"), D("0.06048"))]
    with pytest.raises(OrderRejected, match="minimum 5"):
        place(pv, order("4", "0.24", venue=Venue.POLYMARKET, market=m.id, coid="small"))
    with pytest.raises(OrderRejected, match="not the yes token"):
        pv.prepare(order("5", "0.24", venue=Venue.POLYMARKET, market=m.id, coid="tok", token="999999999"))
    # Polymarket refuses an immediate buy spending under $1 (size x limit up to the cent); paper too.
    # Found in review: paper filled such a hedge, so paper showed a pair live trading could not make.
    with pytest.raises(OrderRejected, match=r"buy for 0\.99 is below Polymarket's 1 dollar minimum") as exc:
        pv.prepare(order("5.5", "0.18", venue=Venue.POLYMARKET, market=m.id, coid="under", token=m.yes_token))
    assert exc.value.code == "INVALID_ORDER"
    pv.prepare(order("5.56", "0.18", venue=Venue.POLYMARKET, market=m.id, coid="rounds-up", token=m.yes_token))
    bought = place(pv, order("5", "0.21", venue=Venue.POLYMARKET, market=m.id, coid="ok", token=m.yes_token))
    assert bought.status is OrderStatus.FILLED  # 1.05: at the minimum's right side
    under_sell = place(pv, order("5", "0.15", TimeInForce.IOC, action=Action.SELL, venue=Venue.POLYMARKET,
                                 market=m.id, coid="s2"))
    assert under_sell.filled_size == D(5)  # the minimum is for buys; a 0.75 sell is taken


def test_a_paper_polymarket_buy_spends_its_size_times_limit_rounded_up_to_the_cent(db: Database,
                                                                                    poly: FixedSource) -> None:
    """Found in review: paper filled exactly the size at size x price (150.5 at 0.15: 22.575), where the venue
    takes a signed $22.58 and spends all of it. Here 10.05 at 0.21 (the best ask, 15 deep) = 2.1105 is
    signed for 2.12, which buys 2.12 / 0.21 = 10.095238 shares (6 places, floored); the fee is on those:
    10.095238 × 0.03 × 0.21 × 0.79 = 0.0502438... → 0.05024 (10.05's own would be 0.05001)."""
    pv = venue_for(db, poly, Venue.POLYMARKET, polymarket_balance="100")
    m = poly.market
    st = place(pv, order("10.05", "0.21", venue=Venue.POLYMARKET, market=m.id, token=m.yes_token))
    assert st.status is OrderStatus.FILLED
    assert [(f.size, f.price, f.fee) for f in st.fills] == [(D("10.095238"), D("0.21"), D("0.05024"))]
    # 10.095238 × 0.21 = 2.11999998: the signed 2.12 less the share's last decimal floored away
    assert asyncio.run(pv.balance()).available == D("100") - D("2.11999998") - D("0.05024")
    (pos,) = asyncio.run(pv.positions())
    assert pos.size == D("10.095238")
    # Fill-or-kill is judged on the dollars: 71.4 at 0.21 is signed for 14.994 → 14.99, which the 15 at
    # 0.21 ($3.15) cannot take within the limit: killed. Immediate-or-cancel takes the level and stops.
    killed = place(pv, order("71.4", "0.21", venue=Venue.POLYMARKET, market=m.id, token=m.yes_token, coid="fok"))
    assert killed.status is OrderStatus.CANCELLED and killed.fills == ()
    part = place(pv, order("71.4", "0.21", TimeInForce.IOC, venue=Venue.POLYMARKET, market=m.id,
                           token=m.yes_token, coid="ioc"))
    assert part.status is OrderStatus.PARTIAL and part.filled_size == D("15")  # the level's 15 ($3.15)
    # The cash check counts the signed dollars and the fee on the shares they buy at the limit. Left:
    # 100 − 2.11999998 − 0.05024 − 3.15 − 0.07465 = 94.60511002. 440.05 at 0.21 = 92.4105 + fee 2.19012
    # = 94.60062 fits; signed for 92.42, 440.095238 shares, fee 2.19035: 94.61035 does not.
    with pytest.raises(OrderRejected, match=r"INSUFFICIENT_BALANCE|needs 94\.61035") as poor:
        place(pv, order("440.05", "0.21", venue=Venue.POLYMARKET, market=m.id, token=m.yes_token, coid="poor"))
    assert poor.value.code == "INSUFFICIENT_BALANCE" and "needs 94.61035" in poor.value.message


def test_find_cancel_open_orders_and_audit_chain(db: Database, paired: FixedSource) -> None:
    pv = venue_for(db, paired)
    st = place(pv, order("10", "0.25"))
    assert asyncio.run(pv.find_order("", st.venue_order_id)) == st
    assert asyncio.run(pv.find_order("nope")) is None
    assert asyncio.run(pv.cancel(st.venue_order_id)) == st  # terminal: returned as is
    assert asyncio.run(pv.open_orders()) == []
    assert len(asyncio.run(pv.fills(since=NOW))) == 1
    # An intent that was never processed can be cancelled.
    prepared = pv.prepare(order("5", "0.25", coid="never"))
    pv.ledger.record_intent(prepared)
    cancelled = asyncio.run(pv.cancel("paper-never"))
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    log = AuditLog(db)
    assert log.verify().ok
    types = [e.type for e in log.tail(50)]
    assert types[:4] == ["order.intent", "order.submitted", "balance.initialised", "order.filled"]
    assert types[-2:] == ["order.intent", "order.cancelled"]


def test_latency_is_applied(db: Database, paired: FixedSource) -> None:
    import time

    pv = venue_for(db, paired, latency_ms=50)
    t0 = time.monotonic()
    place(pv, order("1", "0.25"))
    assert time.monotonic() - t0 >= 0.05


# -- settlement -------------------------------------------------------------------------------------


def test_a_paper_position_settles_as_its_market_does_and_pays_the_paper_cash(db: Database,
                                                                            paired: FixedSource) -> None:
    from dataclasses import replace

    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.core.reconcile import reconcile

    pv = venue_for(db, paired)
    place(pv, order("40", "0.25"))  # 40 YES at 0.25, fee 0.5250
    cash = pv.ledger.balance(Venue.KALSHI)
    assert cash is not None and cash.total == D("1000") - D("10") - D("0.5250")

    def run() -> Any:
        (res,) = reconcile(db, pv.ledger, {Venue.KALSHI: pv}, pv.settings, mode="paper", fix=False,
                           alerts=NullAlertSink(), now=NOW)
        return res

    assert run().settled == []  # still open: nothing settles
    paired.market = replace(kalshi_market(status=MarketStatus.SETTLED), extra={"result": "yes"})
    res = run()
    assert res.status == "clean", res.drifts
    (s,) = res.settled
    assert (s.settlement.source, s.payout, s.realized_pnl) == ("market data", D(40), D("29.4750"))
    assert pv.ledger.positions() == []
    after = pv.ledger.balance(Venue.KALSHI)
    assert after is not None and after.total == cash.total + 40
    assert run().settled == []  # once


def test_a_settlement_payout_is_read_only_where_the_market_states_it_exactly() -> None:
    from dataclasses import replace

    from orion_cli.venues.paper import market_settlement

    settled = kalshi_market(status=MarketStatus.SETTLED)
    assert market_settlement(kalshi_market(), NOW) is None  # open
    assert market_settlement(settled, NOW) is None  # settled, but the payout is not stated
    for extra, pays in (({"result": "no"}, 0), ({"result": "yes", "settlement_value_dollars": "0.3700"},
                                                D("0.37"))):
        s = market_settlement(replace(settled, extra=extra), NOW)
        assert s is not None and s.yes_payout == pays
    # Found reviewing market lifecycles: a void shows a settlement value of 0, read first, and was booked as a
    # total loss; it returns every position at its cost, as the live settlement does.
    void = market_settlement(replace(settled, extra={"result": "void", "settlement_value_dollars": "0.0000"}), NOW)
    assert void is not None and void.voided and void.result == "void", void
    pm = Market(Venue.POLYMARKET, "0xc", "e", "q", MarketStatus.SETTLED, None, FeeModel.free(),
                TickStructure.uniform(D("0.01")))
    for shown, pays in (("1", D(1)), ("0", D(0)), ("0.5", D("0.5")), ("0.2325", None), ("", None)):
        s = market_settlement(replace(pm, extra={"display_yes_price": shown}), NOW)
        assert (s.yes_payout if s else None) == pays


@pytest.mark.parametrize("series", ["unmodelled fee", "unreadable"])
def test_a_paper_kalshi_position_settles_though_its_series_fee_cannot_be_read(db: Database, series: str) -> None:
    """Found in review: settlement read the market through the source's pricing read, which refuses a
    Kalshi market whose series cannot be read or states a fee orion does not model ("fee unknown"),
    so such a position could never settle. Settling needs the market's result, not its fee: it now
    reads the market without it, over loopback as a paper run on live data does."""
    from sim.kalshi_sim import API_PREFIX, KalshiSim
    from sim.server import FaultRule

    from orion_cli.core.errors import OrionError
    from orion_cli.venues.http import RetryPolicy
    from orion_cli.venues.live import LiveSource

    ticker = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"  # a recorded market of the simulator
    ksim = KalshiSim()
    later = "2099-01-01T00:00:00Z"
    km = next(m for m in ksim.markets if m["ticker"] == ticker)
    km["close_time"] = km["expiration_time"] = km["latest_expiration_time"] = later  # still open
    ksim.set_book(ticker, [["0.3800", "50.00"]], [["0.6000", "50.00"]])  # YES asks 0.40 × 50
    with ksim:
        src = LiveSource(load_settings(overrides={"kalshi.prod_base_url": ksim.server.base_url + API_PREFIX,
                                                  "kalshi.read_tokens_per_second": 100000}, environ={}),
                         retry=RetryPolicy(attempts=1, base_delay=0.0, max_delay=0.0))
        pv = PaperVenue(Venue.KALSHI, db, src, settings(), clock=lambda: NOW)
        asyncio.run(pv.market(ticker))  # prepare validates against it
        assert place(pv, order("10", "0.40", market=ticker)).status is OrderStatus.FILLED
        series_ticker = ticker.split("-", 1)[0]
        if series == "unreadable":
            ksim.server.add_fault(FaultRule("status", status=503, path_prefix=f"{API_PREFIX}/series/{series_ticker}"))
        else:
            ksim.series_fees[series_ticker] = ("flat", 1)
        ksim.settle_market(ticker, "yes")
        with pytest.raises(OrionError, match="fee unknown"):  # the pricing read still refuses it
            asyncio.run(src.book(ticker))
        (s,) = asyncio.run(pv.settlements([ticker]))
    assert (s.market_id, s.yes_payout, s.result) == (ticker, D(1), "yes")


def test_a_paper_polymarket_position_settles_when_its_market_resolves(db: Database) -> None:
    """Found in review: the market look-up asked Gamma's /markets without `closed`, which the venue then
    takes as `closed=false` (reference §1), so a resolved market was "not found" and a paper position
    on it never settled. Over loopback, against the simulator that keeps that default."""
    from sim.polymarket_sim import PolymarketSim, _tokens_of

    from orion_cli.venues.http import RetryPolicy
    from orion_cli.venues.live import LiveSource

    psim = PolymarketSim.universe(2, seed=11, markets_per_event=1)
    ev, m = next((ev, m) for ev, m in psim.all_markets() if len(_tokens_of(m)) == 2)
    m["orderPriceMinTickSize"], m["negRisk"], m["feesEnabled"] = 0.01, False, False
    ev["negRisk"] = ev["enableNegRisk"] = False
    m["active"], m["closed"], m["acceptingOrders"], m["endDate"] = True, False, True, "2099-01-01T00:00:00Z"
    cond = m["conditionId"]
    for token in _tokens_of(m):
        book = psim.books[token]
        book["asks"], book["bids"] = [{"price": "0.40", "size": "100"}], [{"price": "0.38", "size": "100"}]
        book["tick_size"], book["neg_risk"] = "0.01", False
    with psim:
        src = LiveSource(load_settings(overrides={"polymarket.gamma_url": psim.gamma_url,
                                                  "polymarket.clob_url": psim.clob_url, "kalshi.enabled": False},
                                       environ={}),
                         retry=RetryPolicy(attempts=1, base_delay=0.0, max_delay=0.0))
        pv = PaperVenue(Venue.POLYMARKET, db, src, settings(), clock=lambda: NOW)
        asyncio.run(pv.market(cond))
        assert place(pv, order("10", "0.40", market=cond, venue=Venue.POLYMARKET)).status is OrderStatus.FILLED
        assert asyncio.run(pv.settlements([cond])) == []  # still open
        psim.resolve_market(cond, 0)  # YES wins
        # Found in review: the CLOB may serve no book for a market that has ended; its result is enough.
        for token in _tokens_of(m):
            psim.books.pop(token)
        (s,) = asyncio.run(pv.settlements([cond]))
        market, book = asyncio.run(src.book(cond))  # `orion book` shows it ended, with an empty book
    assert (s.market_id, s.yes_payout) == (cond, D(1))
    assert market.status is MarketStatus.SETTLED and book.yes.asks == book.no.asks == ()
