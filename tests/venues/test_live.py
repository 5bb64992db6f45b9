"""The live source against the loopback simulators: both venues at once, degraded, down."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sim.kalshi_sim import KalshiSim
from sim.polymarket_sim import PolymarketSim

from orion_cli.core.config import Settings, load_settings
from orion_cli.core.errors import DataError, ExitCode, VenueUnavailable
from orion_cli.core.models import Venue
from orion_cli.venues.base import ProgressEvent
from orion_cli.venues.http import RetryPolicy
from orion_cli.venues.live import LiveSource
from orion_cli.venues.snapshot import parse_capture

FAST = RetryPolicy(attempts=1, base_delay=0.0, max_delay=0.0)


def dead_url() -> str:
    """A loopback port nobody listens on: connections are refused at once."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[KalshiSim, PolymarketSim]]:
    k = KalshiSim()
    p = PolymarketSim.universe(6)
    k.start()
    p.start()
    try:
        yield k, p
    finally:
        k.stop()
        p.stop()


def settings(kalshi_url: str, gamma_url: str, clob_url: str) -> Settings:
    return load_settings(overrides={
        "kalshi.prod_base_url": kalshi_url,
        "polymarket.gamma_url": gamma_url,
        "polymarket.clob_url": clob_url,
        "kalshi.read_tokens_per_second": 100000,
    })


def test_both_venues_fetched_with_books(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    k, p = sims
    src = LiveSource(settings(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url), retry=FAST)
    events: list[ProgressEvent] = []
    data = asyncio.run(src.fetch(progress=events.append))
    assert not data.degraded
    kalshi = data.for_venue(Venue.KALSHI)
    poly = data.for_venue(Venue.POLYMARKET)
    assert kalshi and poly
    assert any(b[0] is Venue.KALSHI for b in data.books)
    assert any(b[0] is Venue.POLYMARKET for b in data.books)
    assert {e.venue for e in events} == {"kalshi", "polymarket"}
    # Both venues were being fetched at the same time: each sim saw requests.
    assert k.requests and p.requests


def test_capture_replays_exactly(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    k, p = sims
    src = LiveSource(settings(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url), retry=FAST)
    capture = asyncio.run(src.capture())
    fetched = asyncio.run(src.fetch())  # the simulators answer the same way twice
    replayed = parse_capture(capture)
    assert replayed.markets == fetched.markets

    def levels(books: Any) -> dict[Any, Any]:  # everything but when each book was fetched
        return {key: (b.venue, b.market_id, b.yes, b.no) for key, b in books.items()}

    assert levels(replayed.books) == levels(fetched.books) and replayed.books
    assert capture.kalshi is not None and capture.kalshi.markets and capture.kalshi.orderbooks
    assert capture.polymarket is not None and capture.polymarket.events and capture.polymarket.books


def test_a_malformed_gamma_row_does_not_break_looking_up_another_market(
        sims: tuple[KalshiSim, PolymarketSim]) -> None:
    """A bad `clobTokenIds` string in one row was an unexpected internal error (exit 1) for every lookup."""
    k, p = sims
    src = LiveSource(settings(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url), retry=FAST)
    data = asyncio.run(src.fetch())
    good = next(m for m in data.for_venue(Venue.POLYMARKET) if data.book_for(m) is not None)
    broken = next(m for _ev, m in p.all_markets() if str(m.get("conditionId", "")).lower() != good.id.lower()
                  and "clobTokenIds" in m)
    broken["clobTokenIds"] = '["12", 34'
    market, _ = asyncio.run(src.book(good.id))
    assert market.id == good.id
    with pytest.raises(DataError):  # the broken market itself: a typed data error naming the field
        asyncio.run(src.book(broken["conditionId"]))


def test_limit_caps_markets_per_venue(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    k, p = sims
    src = LiveSource(settings(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url), retry=FAST)
    data = asyncio.run(src.fetch(limit=2))
    assert 0 < len(data.for_venue(Venue.KALSHI)) <= 2
    assert 0 < len(data.for_venue(Venue.POLYMARKET)) <= 2


def test_polymarket_down_keeps_kalshi(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    k, _ = sims
    dead = dead_url()
    src = LiveSource(settings(k.server.base_url + "/trade-api/v2", dead, dead), retry=FAST)
    data = asyncio.run(src.fetch())
    assert data.is_degraded
    assert set(data.degraded) == {Venue.POLYMARKET}
    assert "unavailable" in data.degraded[Venue.POLYMARKET]
    assert data.for_venue(Venue.KALSHI)
    assert not data.for_venue(Venue.POLYMARKET)


def test_kalshi_down_keeps_polymarket(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    _, p = sims
    src = LiveSource(settings(dead_url() + "/trade-api/v2", p.gamma_url, p.clob_url), retry=FAST)
    data = asyncio.run(src.fetch())
    assert set(data.degraded) == {Venue.KALSHI}
    assert data.for_venue(Venue.POLYMARKET)


def test_both_down_raises_venue_unavailable() -> None:
    dead = dead_url()
    src = LiveSource(settings(dead + "/trade-api/v2", dead, dead), retry=FAST)
    with pytest.raises(VenueUnavailable) as info:
        asyncio.run(src.fetch())
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
    assert "kalshi" in info.value.message and "polymarket" in info.value.message


def test_single_venue_down_raises(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    dead = dead_url()
    src = LiveSource(settings(dead + "/trade-api/v2", dead, dead), retry=FAST)
    with pytest.raises(VenueUnavailable):
        asyncio.run(src.fetch([Venue.KALSHI]))


def test_book_by_ticker_and_by_condition_id(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    k, p = sims
    src = LiveSource(settings(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url), retry=FAST)
    data = asyncio.run(src.fetch())
    km = next(m for m in data.for_venue(Venue.KALSHI) if data.book_for(m) is not None)
    market, book = asyncio.run(src.book(km.id))
    assert market.id == km.id and book.venue is Venue.KALSHI
    assert book.yes == data.book_for(km).yes  # type: ignore[union-attr]
    pm = next(m for m in data.for_venue(Venue.POLYMARKET) if data.book_for(m) is not None)
    market, book = asyncio.run(src.book(pm.id))
    assert market.id == pm.id and book.venue is Venue.POLYMARKET
