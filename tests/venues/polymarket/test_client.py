"""PolymarketClient over real loopback HTTP against PolymarketSim: paging, guards, batches, retries.

The full-universe fetch is tested as ``orion scan`` runs it: :class:`LiveSource` (its Polymarket
capture, through this client, parsed by the snapshot parser), see :func:`live_fetch`."""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Callable, Coroutine, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:  # importable under any pytest import mode
    sys.path.insert(0, _TESTS)

from sim.polymarket_sim import PolymarketSim  # noqa: E402
from sim.server import FaultRule  # noqa: E402

from orion_cli.core.config import load_settings  # noqa: E402
from orion_cli.core.errors import AuthError, ExitCode, VenueUnavailable  # noqa: E402
from orion_cli.core.models import MarketStatus, Venue  # noqa: E402
from orion_cli.venues.base import MarketData  # noqa: E402
from orion_cli.venues.http import RetryPolicy, VenueHttpError  # noqa: E402
from orion_cli.venues.live import LiveSource  # noqa: E402
from orion_cli.venues.polymarket.client import BOOKS_MAX_BATCH, PolymarketClient  # noqa: E402
from orion_cli.venues.polymarket.parse import parse_gamma_event  # noqa: E402
from orion_cli.venues.trading import Geoblocked  # noqa: E402

T = TypeVar("T")
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[PolymarketSim]:
    s = PolymarketSim.universe(250, seed=7, markets_per_event=2)
    with s:
        yield s


@pytest.fixture
def sim(shared_sim: PolymarketSim) -> PolymarketSim:
    shared_sim.reset()  # fresh data, switches, faults and request log on the running server
    return shared_sim


def client(sim: PolymarketSim, **kw: Any) -> PolymarketClient:
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", 2.0)
    return PolymarketClient(gamma_url=sim.gamma_url, clob_url=sim.clob_url, data_url=sim.data_url, **kw)


def reqs(sim: PolymarketSim, method: str, path: str) -> list[Any]:
    return [r for r in sim.requests if r.method == method and r.path == path]


def with_client(sim: PolymarketSim, fn: Callable[[PolymarketClient], Coroutine[Any, Any, T]], **kw: Any) -> T:
    async def go() -> T:
        async with client(sim, **kw) as pm:
            return await fn(pm)

    return run(go())


def live_fetch(sim: PolymarketSim) -> MarketData:
    """The production full fetch (what ``orion scan`` runs live) of Polymarket alone, against ``sim``."""
    settings = load_settings(overrides={"polymarket.gamma_url": sim.gamma_url, "polymarket.clob_url": sim.clob_url,
                                        "polymarket.data_url": sim.data_url, "polymarket.timeout_seconds": 2,
                                        "kalshi.enabled": False})
    return run(LiveSource(settings, retry=FAST).fetch([Venue.POLYMARKET]))


def open_markets(data: MarketData) -> list[Any]:
    return [m for m in data.markets if m.status is MarketStatus.OPEN]


def book(data: MarketData, market_id: str) -> Any:
    return data.books.get((Venue.POLYMARKET, market_id))


# --------------------------------------------------------------------------- pagination


def test_keyset_pagination_reads_every_event_and_sends_closed(sim: PolymarketSim) -> None:
    listing = with_client(sim, lambda pm: pm.list_events())
    assert listing.complete and listing.pages == 3 and len(listing.items) == 250
    assert len({e["id"] for e in listing.items}) == 250
    calls = reqs(sim, "GET", "/gamma/events/keyset")
    assert len(calls) == 3
    for i, r in enumerate(calls):
        assert r.param("closed") == "false" and r.param("active") == "true" and r.param("limit") == "100"
        assert "offset" not in r.query
        assert ("after_cursor" in r.query) == (i > 0)


def test_offset_pagination(sim: PolymarketSim) -> None:
    listing = with_client(sim, lambda pm: pm.list_events(), pagination="offset")
    assert listing.complete and len(listing.items) == 250
    calls = reqs(sim, "GET", "/gamma/events")
    assert [r.param("offset") for r in calls] == ["0", "100", "200"]
    assert all(r.param("closed") == "false" for r in calls)


def test_markets_keyset_listing(sim: PolymarketSim) -> None:
    listing = with_client(sim, lambda pm: pm.list_markets())
    assert listing.complete and len(listing.items) == sum(len(e["markets"]) for e in sim.events)
    assert all(r.param("closed") == "false" for r in reqs(sim, "GET", "/gamma/markets/keyset"))


@pytest.mark.parametrize(("fresh", "reason"), [(False, "next_cursor repeated"), (True, "already seen")])
def test_loop_guard_when_the_venue_ignores_the_cursor(sim: PolymarketSim, fresh: bool, reason: str) -> None:
    sim.keyset_ignores_cursor = True  # the 2026-04 Gamma bug: page one forever
    sim.keyset_fresh_cursors = fresh
    listing = with_client(sim, lambda pm: pm.list_events())
    assert not listing.complete and reason in listing.stop_reason
    assert len(listing.items) == 100
    assert len(reqs(sim, "GET", "/gamma/events/keyset")) == 2


def test_page_cap(sim: PolymarketSim) -> None:
    listing = with_client(sim, lambda pm: pm.list_events(), max_pages=2)
    assert not listing.complete and "page cap" in listing.stop_reason and len(listing.items) == 200


def test_deep_offset_refusal_keeps_what_was_read(sim: PolymarketSim) -> None:
    sim.offset_max = 150
    listing = with_client(sim, lambda pm: pm.list_events(), pagination="offset")
    assert not listing.complete and "422" in listing.stop_reason and len(listing.items) == 200


# --------------------------------------------------------------------------- books


def test_universe_books_in_batches(sim: PolymarketSim) -> None:
    data = live_fetch(sim)
    assert not data.incomplete and data.errors == []
    opened = open_markets(data)
    assert opened and len(data.books) == len(opened)
    tokens = [t for m in opened for t in (m.yes_token, m.no_token)]
    posts = reqs(sim, "POST", "/clob/books")
    assert len(posts) == math.ceil(len(tokens) / BOOKS_MAX_BATCH) > 1
    sent = [x["token_id"] for r in posts for x in r.json()]
    assert all(len(r.json()) <= BOOKS_MAX_BATCH for r in posts)
    assert sorted(sent) == sorted(tokens)
    for m in opened[:50]:
        ob = book(data, m.id)
        yes_raw, no_raw = sim.books[m.yes_token], sim.books[m.no_token]
        assert ob.yes.best_bid is not None and ob.yes.best_ask is not None
        assert ob.yes.best_bid.price == Decimal(yes_raw["bids"][-1]["price"])  # best is last on the wire
        assert ob.yes.best_ask.price == Decimal(yes_raw["asks"][-1]["price"])
        assert ob.no.best_ask is not None and ob.no.best_ask.price == Decimal(no_raw["asks"][-1]["price"])


def test_get_order_book_reads_both_tokens(sim: PolymarketSim) -> None:
    async def go(pm: PolymarketClient) -> Any:
        listing = await pm.list_events()
        m = next(x for ev in listing.items for x in parse_gamma_event(ev, skipped=[]) if x.status is MarketStatus.OPEN)
        return m, await pm.get_order_book(m, verify_hash=True), await pm.get_book(m.no_token)

    m, ob, no_book = with_client(sim, go)
    assert ob.market_id == m.id
    assert ob.no == no_book.side
    assert ob.yes.best_bid is not None
    assert ob.yes.best_bid.price == Decimal(sim.books[m.yes_token]["bids"][-1]["price"])


def test_universe_survives_bad_items(sim: PolymarketSim) -> None:
    bad_market = sim.events[3]["markets"][0]
    bad_market["outcomePrices"] = '["NaN", "0.5"]'
    markets = [m for _e, m in sim.all_markets() if m is not bad_market]
    neg = json.loads(markets[10]["clobTokenIds"])[1]
    sim.books[neg]["bids"][0]["size"] = "-3"
    gone = json.loads(markets[20]["clobTokenIds"])[0]
    del sim.books[gone]
    data = live_fetch(sim)
    by_kind: dict[str, list[Any]] = {}
    for e in data.errors:
        by_kind.setdefault(e.kind, []).append(e)
    assert set(by_kind) == {"market", "book"}
    assert [e.key for e in by_kind["market"]] == [bad_market["conditionId"]]
    assert "outcomePrices[0]" in by_kind["market"][0].message
    half, missing_id = markets[10]["conditionId"], markets[20]["conditionId"]
    assert sorted((e.key, e.reason) for e in by_kind["book"]) == sorted(
        [(neg, "bad_data"), (half, "book_missing"), (missing_id, "book_missing")])
    assert "size" in next(e.message for e in by_kind["book"] if e.key == neg)
    assert bad_market["conditionId"] not in {m.id for m in data.markets}
    # A side whose book could not be read is empty and marked so (no order fills against it); the
    # other side is still real.
    halfread = book(data, half)
    assert halfread.no.bids == () and halfread.no.asks == () and "size" in halfread.unreadable["no"]
    assert halfread.yes.asks and "yes" not in halfread.unreadable
    missing = book(data, missing_id)
    assert missing.yes.bids == () and missing.yes.asks == () and missing.no.asks  # NO side still real
    assert "no book returned" in missing.unreadable["yes"] and "no" not in missing.unreadable
    assert len(data.books) == len(open_markets(data))


def test_universe_markets_carry_their_books_terms_and_disagreeing_books_are_not_quoted(sim: PolymarketSim) -> None:
    """The CLOB books' tick, minimum and neg-risk flag override Gamma's; a market whose YES and NO books
    disagree on the flag gets no book (not quoted), and its Gamma terms stay as listed."""
    open_ms = [(ev, m) for ev, m in sim.all_markets() if not ev.get("closed")]
    (lagging_ev, lagging), (_, split) = open_ms[0], open_ms[1]
    lagging["orderPriceMinTickSize"], lagging["negRisk"] = 0.01, False
    lagging_ev["negRisk"] = lagging_ev["enableNegRisk"] = False  # orion reads Gamma's flag from the event too
    for t in json.loads(lagging["clobTokenIds"]):
        sim.books[t].update(tick_size="0.001", min_order_size="7", neg_risk=True)
    split_yes, split_no = json.loads(split["clobTokenIds"])
    sim.books[split_yes]["neg_risk"], sim.books[split_no]["neg_risk"] = True, False
    data = live_fetch(sim)
    m = next(x for x in data.markets if x.id == lagging["conditionId"])
    assert (m.ticks.min_step, m.min_size, m.signs_neg_risk, m.neg_risk) == (Decimal("0.001"), Decimal(7), True, False)
    assert book(data, split["conditionId"]) is None
    assert [(e.key, e.kind) for e in data.errors] == [(split["conditionId"], "book")]
    assert "neg-risk" in data.errors[0].message


def test_universe_survives_a_failed_batch(sim: PolymarketSim, monkeypatch: pytest.MonkeyPatch) -> None:
    import orion_cli.venues.live as live

    # One batch at a time, so that the three failures are one batch's three attempts.
    monkeypatch.setattr(live, "_POLY_BOOK_BATCH_CONCURRENCY", 1)
    sim.server.add_fault(FaultRule("status", method="POST", path_prefix="/clob/books", status=500, times=3))
    data = live_fetch(sim)
    failed = [e for e in data.errors if e.kind == "book"]
    assert len(failed) == 1 and "failed after 3 attempts" in failed[0].message
    assert failed[0].key == f"{BOOKS_MAX_BATCH} tokens"
    assert len(data.books) == len(open_markets(data)) - BOOKS_MAX_BATCH // 2  # one batch = 50 markets' tokens


def test_hash_mismatch_is_reported_per_token(sim: PolymarketSim) -> None:
    toks = json.loads(sim.events[0]["markets"][0]["clobTokenIds"])
    sim.books[toks[0]]["asks"][-1]["size"] = "999"  # content changed, hash not recomputed
    books, errors = with_client(sim, lambda pm: pm.get_books(toks, verify_hash=True))
    assert [(e.item, e.stage) for e in errors] == [(toks[0], "books")] and "hash" in errors[0].message
    assert set(books) == {toks[1]}


# --------------------------------------------------------------------------- retries and failures


def test_5xx_is_retried(sim: PolymarketSim) -> None:
    sim.server.add_fault(FaultRule("status", path_prefix="/gamma/events", status=503, times=2))
    listing = with_client(sim, lambda pm: pm.list_events())
    assert listing.complete and len(reqs(sim, "GET", "/gamma/events/keyset")) == 5


def test_429_is_retried(sim: PolymarketSim) -> None:
    tok = json.loads(sim.events[0]["markets"][0]["clobTokenIds"])[0]
    sim.server.add_fault(FaultRule("rate_limit", path_prefix="/clob/book", times=2))
    book = with_client(sim, lambda pm: pm.get_book(tok))
    assert book.asset_id == tok and len(reqs(sim, "GET", "/clob/book")) == 3


def test_timeout_is_retried(sim: PolymarketSim) -> None:
    tok = json.loads(sim.events[0]["markets"][0]["clobTokenIds"])[0]
    sim.server.add_fault(FaultRule("timeout", path_prefix="/clob/book", seconds=1.0, times=1))
    book = with_client(sim, lambda pm: pm.get_book(tok), timeout=0.3)
    assert book.asset_id == tok


def test_post_books_retries_5xx_and_dropped_connections(sim: PolymarketSim) -> None:
    toks = json.loads(sim.events[0]["markets"][0]["clobTokenIds"])
    sim.server.add_fault(FaultRule("status", path_prefix="/clob/books", status=502, times=1))
    sim.server.add_fault(FaultRule("drop", path_prefix="/clob/books", times=1))
    books, errors = with_client(sim, lambda pm: pm.get_books(toks))
    assert errors == [] and set(books) == set(toks)


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        (FaultRule("status", path_prefix="/gamma/events", status=500), "gamma"),
        (FaultRule("rate_limit", path_prefix="/gamma/events"), "gamma"),
        (FaultRule("timeout", path_prefix="/gamma/events", seconds=1.0), "gamma"),
        (FaultRule("status", path_prefix="/clob/books", status=503), "books"),
        (FaultRule("drop", path_prefix="/clob/books"), "books"),
    ],
)
def test_exhausted_retries_raise_venue_unavailable(sim: PolymarketSim, rule: FaultRule, path: str) -> None:
    sim.server.add_fault(rule)
    toks = json.loads(sim.events[0]["markets"][0]["clobTokenIds"])

    async def go(pm: PolymarketClient) -> Any:
        return await (pm.list_events() if path == "gamma" else pm.get_books(toks))

    with pytest.raises(VenueUnavailable) as exc:
        with_client(sim, go, timeout=0.3)
    assert exc.value.venue == "polymarket"
    assert rule.fired == FAST.attempts


def test_universe_raises_when_listing_is_unavailable(sim: PolymarketSim) -> None:
    sim.server.add_fault(FaultRule("status", path_prefix="/gamma/", status=502))
    with pytest.raises(VenueUnavailable):
        live_fetch(sim)


def test_malformed_listing_is_a_venue_error_not_a_crash(sim: PolymarketSim) -> None:
    from orion_cli.core.errors import OrionError

    sim.server.add_fault(FaultRule("malformed", path_prefix="/gamma/events", times=1))
    with pytest.raises(OrionError):
        with_client(sim, lambda pm: pm.list_events())


# The page Polymarket's Cloudflare front answers a blocked host with (HTTP 403), cut down as in
# test_trading.py; the IP and Ray ID are made up.
BLOCK_PAGE = (b"<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>"
              b"<div>Please enable cookies.</div><h1 data-translate=\"block_headline\">Sorry, you have been blocked"
              b"</h1><span>Cloudflare Ray ID: 8f3c0a1b2c3d4e5f</span><span>Your IP: 203.0.113.77</span></body></html>")


@pytest.mark.parametrize("call", ["list_events", "get_book", "get_books", "get_positions"])
def test_a_firewall_403_on_a_public_read_is_the_geoblock_not_bad_credentials(sim: PolymarketSim, call: str) -> None:
    """Found in review: this client sends no credential, yet a blocked host's Cloudflare 403 was "polymarket
    rejected our credentials" (exit 4, the raw page in the message, a hint to check API keys); the
    trading client already took the same page for this host's refusal (Geoblocked, exit 6)."""
    for prefix in ("/gamma/", "/clob/", "/data/"):
        sim.server.add_fault(FaultRule("status", path_prefix=prefix, status=403, body=BLOCK_PAGE))
    toks = json.loads(sim.events[0]["markets"][0]["clobTokenIds"])

    async def go(pm: PolymarketClient) -> Any:
        if call == "list_events":
            return await pm.list_events()
        if call == "get_book":
            return await pm.get_book(toks[0])
        if call == "get_books":
            return await pm.get_books(toks)
        return await pm.get_positions("0x" + "1" * 40)

    with pytest.raises(Geoblocked) as info:
        with_client(sim, go)
    exc = info.value
    assert exc.exit_code is ExitCode.REFUSED and exc.reason == "GEOBLOCKED"
    assert "firewall" in exc.message and "Sorry, you have been blocked" in exc.message
    assert exc.hint is not None and "geoblock" in exc.hint
    for wrong in ("credentials", "<", "203.0.113.77", "8f3c0a1b2c3d4e5f", "cookies"):
        assert wrong not in f"{exc.message} {exc.hint}"
    assert len(sim.requests) == 1  # a refusal of this host is not retried


@pytest.mark.parametrize("status", [401, 403])
def test_a_json_401_or_403_to_a_request_without_credentials_is_not_a_credentials_error(
    sim: PolymarketSim, status: int
) -> None:
    """No key was sent, so none was rejected: the venue refused the request (exit 5, as any other 4xx),
    never AuthError's "rejected our credentials" with its hint to check the API keys (exit 4)."""
    sim.server.add_fault(FaultRule("status", path_prefix="/gamma/", status=status, body={"error": "forbidden"}))
    with pytest.raises(VenueHttpError) as info:
        with_client(sim, lambda pm: pm.list_events())
    exc = info.value
    assert not isinstance(exc, AuthError) and exc.exit_code is ExitCode.VENUE_UNAVAILABLE
    assert exc.status == status and "forbidden" in exc.message and "credentials" not in exc.message
    assert exc.hint is not None and "carried no credentials" in exc.hint


# --------------------------------------------------------------------------- other endpoints


def test_clob_market_and_positions(sim: PolymarketSim) -> None:
    raw = next(m for _e, m in sim.all_markets() if m.get("feesEnabled"))

    async def go(pm: PolymarketClient) -> Any:
        info = await pm.get_clob_market(raw["conditionId"])
        rows = await pm.get_positions("0x56687bf447db6ffa42ffe2204a05edaa20f55839")
        return info, rows

    info, rows = with_client(sim, go)
    assert info.fee_model is not None
    assert info.fee_model.taker_rate == Decimal(str(raw["feeSchedule"]["rate"]))
    assert info.tokens == tuple(json.loads(raw["clobTokenIds"]))
    assert rows and all(r["proxyWallet"] == "0x56687bf447db6ffa42ffe2204a05edaa20f55839" for r in rows)


def test_rate_windows_match_the_published_limits(sim: PolymarketSim) -> None:
    pm = client(sim)
    try:
        assert pm.gamma.buckets["gamma_events"].capacity == 500
        assert pm.gamma.buckets["gamma_events"].refill_per_second == 50
        assert pm.gamma.buckets["gamma_markets"].capacity == 300
        assert pm.clob.buckets["clob_book"].capacity == 1500
        assert pm.clob.buckets["clob_books"].capacity == 500
        assert pm.data.buckets["data_positions"].capacity == 150
    finally:
        run(pm.aclose())


def test_recorded_universe_end_to_end() -> None:
    with PolymarketSim(seed=1) as s:
        data = live_fetch(s)
    assert not data.incomplete and not data.degraded and data.errors == []
    assert len(data.markets) == sum(len(e["markets"]) for e in s.events if not e.get("closed"))
    assert {(Venue.POLYMARKET, m.id) for m in open_markets(data)} == set(data.books)
