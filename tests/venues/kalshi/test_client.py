"""The Kalshi client over real loopback HTTP against KalshiSim (signatures verified by the sim).

The full-universe fetch is tested as ``orion scan`` runs it: :class:`LiveSource` (its Kalshi capture,
through this client's paginator and HTTP layer, parsed by the snapshot parser), see :func:`live`."""

from __future__ import annotations

import asyncio
import base64
import itertools
import math
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sim.kalshi_sim import API_PREFIX, KalshiSim, load_fixture
from sim.server import FaultRule, SimResponse, SimServer

from orion_cli.core.config import load_settings
from orion_cli.core.errors import AuthError, ExitCode, VenueUnavailable
from orion_cli.core.models import MarketStatus, Venue
from orion_cli.venues.http import RetryPolicy
from orion_cli.venues.kalshi.client import KalshiClient, PaginationError, RateTier
from orion_cli.venues.kalshi.signing import KalshiSigner
from orion_cli.venues.live import LiveSource

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
FREE = RateTier("test", 1e6, 1e6, 1e6, 1e6)
KEY_ID = "0b8e1c52-6a2e-4d59-9a37-6a4d1f6c2f10"
MARKETS = API_PREFIX + "/markets"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sim() -> Iterator[KalshiSim]:
    s = KalshiSim(KalshiSim.universe(230, seed=1) + KalshiSim.recorded_markets())
    s.start()
    yield s
    s.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def make(url: str, **kw: Any) -> KalshiClient:
    # A generous timeout: on a loaded machine a request retried after 0.5 s made the request counts fail.
    args: dict[str, Any] = {"tier": FREE, "retry": FAST, "timeout": 5.0}
    args.update(kw)
    return KalshiClient(url, **args)


def live(sim: KalshiSim, *, signer: KalshiSigner | None = None, **config: Any) -> LiveSource:
    """The production full fetch (what ``orion scan`` runs live) of Kalshi alone, against ``sim``;
    ``config`` overrides settings keys (``{"kalshi.read_tokens_per_second": 50}``)."""
    settings = load_settings(overrides={"kalshi.prod_base_url": sim.server.base_url + API_PREFIX,
                                        "kalshi.read_tokens_per_second": 100000, "kalshi.timeout_seconds": 5,
                                        "polymarket.enabled": False, **config})
    return LiveSource(settings, kalshi_auth=signer, retry=FAST)  # type: ignore[arg-type]


def market_requests(sim: KalshiSim) -> list[Any]:
    return [r for r in sim.requests if r.path == MARKETS]


def test_pagination_walks_every_page_to_the_empty_cursor(sim: KalshiSim) -> None:
    async def main() -> list[Any]:
        async with make(sim.server.base_url + API_PREFIX, page_limit=50) as c:
            return await c.list_markets_raw()

    raw = run(main())
    expected = [m for m in sim.markets if m["status"] == "active" and "mve_collection_ticker" not in m]
    assert [m["ticker"] for m in raw] == [m["ticker"] for m in expected]
    reqs = market_requests(sim)
    assert len(reqs) == math.ceil(len(expected) / 50)
    assert all(r.query["status"] == ["open"] and r.query["mve_filter"] == ["exclude"] for r in reqs)
    assert "cursor" not in reqs[0].query and all("cursor" in r.query for r in reqs[1:])


def test_garbage_cursor_restarting_at_page_one_is_detected(sim: KalshiSim) -> None:
    sim.add_fault(FaultRule("garbage_cursor", path_prefix=MARKETS, times=1))

    async def main() -> None:
        async with make(sim.start(), page_limit=50) as c:
            async for _ in c.iter_market_pages():
                pass

    with pytest.raises(PaginationError, match="repeats an earlier page"):
        run(main())
    assert len(market_requests(sim)) == 2


def test_repeated_cursor_and_page_cap() -> None:
    counter = itertools.count()
    template = KalshiSim.recorded_markets()[0]
    server = SimServer("loop")

    def same_cursor(req: Any, m: Any) -> SimResponse:
        i = next(counter)
        return SimResponse(200, {"cursor": "same", "markets": [{**template, "ticker": f"T-{i}"}]})

    def new_cursor(req: Any, m: Any) -> SimResponse:
        i = next(counter)
        return SimResponse(200, {"cursor": f"c{i}", "markets": [{**template, "ticker": f"T-{i}"}]})

    server.route("GET", r"/v2/markets", same_cursor)
    server.route("GET", r"/w2/markets", new_cursor)

    async def walk(prefix: str, **kw: Any) -> None:
        async with make(server.base_url + prefix, **kw) as c:
            await c.list_markets_raw()

    with server:
        with pytest.raises(PaginationError, match="cursor repeated"):
            run(walk("/v2"))
        with pytest.raises(PaginationError, match="more than 7 pages"):
            run(walk("/w2", max_pages=7))
        assert len([r for r in server.requests if r.path == "/w2/markets"]) == 7


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule("status", status=503, times=2, body={"error": {"code": "service_unavailable"}}),
        FaultRule("rate_limit", times=2),
        FaultRule("drop", times=2),
        FaultRule("timeout", seconds=1.0, times=1),
    ],
    ids=["5xx", "429", "drop", "timeout"],
)
def test_transient_failures_are_retried(sim: KalshiSim, rule: FaultRule) -> None:
    rule.path_prefix = MARKETS
    sim.add_fault(rule)

    async def main() -> int:
        async with make(sim.start(), timeout=0.3, page_limit=1000) as c:
            return len(await c.list_markets_raw())

    assert run(main()) > 200
    assert len(market_requests(sim)) == (rule.times or 0) + 1


@pytest.mark.parametrize(
    "rule",
    [FaultRule("status", status=502), FaultRule("rate_limit"), FaultRule("drop"), FaultRule("timeout", seconds=1.0)],
    ids=["5xx", "429", "drop", "timeout"],
)
def test_exhausted_retries_are_venue_unavailable(sim: KalshiSim, rule: FaultRule) -> None:
    sim.add_fault(rule)

    with pytest.raises(VenueUnavailable) as info:
        run(live(sim, **{"kalshi.timeout_seconds": Decimal("0.5")}).fetch([Venue.KALSHI]))
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE and info.value.venue == "kalshi"


def test_signed_requests_are_verified_by_the_sim(sim: KalshiSim, key: rsa.RSAPrivateKey) -> None:
    sim.register_key(KEY_ID, key.public_key())
    sim.require_auth_for_books = True

    data = run(live(sim, signer=KalshiSigner(KEY_ID, key)).fetch([Venue.KALSHI]))
    assert len(data.books) > 200 and not data.errors
    assert sim.auth_failures == 0
    assert all("kalshi-access-signature" in r.headers for r in sim.requests)


@pytest.mark.parametrize(
    ("case", "needle"),
    [("wrong_key", "INCORRECT_API_KEY_SIGNATURE"), ("unknown_id", "NOT_FOUND"), ("unsigned", "signature")],
)
def test_bad_or_missing_signature_is_an_auth_error(sim: KalshiSim, key: rsa.RSAPrivateKey, case: str,
                                                   needle: str) -> None:
    sim.register_key(KEY_ID, key.public_key())
    sim.require_auth_for_books = True
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024) if case == "wrong_key" else key
    signer = None if case == "unsigned" else KalshiSigner(
        KEY_ID if case == "wrong_key" else "00000000-0000-0000-0000-000000000000", other
    )
    ticker = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"

    async def main() -> None:
        async with make(sim.start(), signer=signer) as c:
            await c.get_orderbook(ticker)

    with pytest.raises(AuthError) as info:
        run(main())
    assert needle in str(info.value) and info.value.exit_code == ExitCode.AUTH
    assert len(sim.requests) == 1  # never retried
    assert "PRIVATE" not in str(info.value)


def _signed_get(sim: KalshiSim, key: rsa.RSAPrivateKey, target: str, message: Callable[[str, str], bytes],
                pss: padding.AsymmetricPadding | None = None) -> httpx.Response:
    """GET ``target`` (path and query, as sent) signed over ``message(timestamp, target)``, composed here."""
    ts = str(int(time.time() * 1000))
    scheme = pss or padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    sig = base64.b64encode(key.sign(message(ts, target), scheme, hashes.SHA256())).decode()
    headers = {"KALSHI-ACCESS-KEY": KEY_ID, "KALSHI-ACCESS-TIMESTAMP": ts, "KALSHI-ACCESS-SIGNATURE": sig}
    return httpx.get(sim.server.base_url + target, headers=headers, timeout=5.0)


@pytest.mark.parametrize("wrong", ["with_query", "lower_method", "no_api_prefix", "separators", "pkcs1v15",
                                   "salt_max"])
def test_the_simulator_composes_the_signed_message_itself_and_refuses_a_wrong_one(
    sim: KalshiSim, key: rsa.RSAPrivateKey, wrong: str
) -> None:
    """Review (tests/sim realism): the simulator verified with orion's own ``signing_message``, so a mistake
    in it would have been mirrored. It now composes timestamp + METHOD + path-without-query from the raw
    request (reference §1) and verifies with its own PSS parameters: only that message and scheme pass."""
    sim.register_key(KEY_ID, key.public_key())
    target = API_PREFIX + "/portfolio/orders?limit=5"
    bare = target.split("?", 1)[0]
    right = _signed_get(sim, key, target, lambda ts, _t: f"{ts}GET{bare}".encode())
    assert right.status_code == 200, right.text
    messages: dict[str, Callable[[str, str], bytes]] = {
        "with_query": lambda ts, t: f"{ts}GET{t}".encode(),
        "lower_method": lambda ts, _t: f"{ts}get{bare}".encode(),
        "no_api_prefix": lambda ts, _t: f"{ts}GET{bare.removeprefix(API_PREFIX)}".encode(),
        "separators": lambda ts, _t: f"{ts}\nGET\n{bare}".encode(),
    }
    schemes: dict[str, padding.AsymmetricPadding] = {
        "pkcs1v15": padding.PKCS1v15(),
        "salt_max": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
    }
    answer = _signed_get(sim, key, target, messages.get(wrong, lambda ts, _t: f"{ts}GET{bare}".encode()),
                         schemes.get(wrong))
    assert answer.status_code == 401 and answer.json() == load_fixture("auth__bad_signature")


@pytest.mark.parametrize("composed", ["lower_method", "no_api_prefix"])
def test_orions_signer_over_a_wrongly_composed_message_is_refused_by_the_simulator(
    sim: KalshiSim, key: rsa.RSAPrivateKey, composed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The circle broken: were orion's message composition wrong, its requests are refused (AuthError, 401),
    where a simulator verifying with that same composition accepted them."""
    from orion_cli.venues.kalshi import signing

    wrong: dict[str, Callable[[int | str, str, str], bytes]] = {
        "lower_method": lambda ts, method, path: f"{ts}{method.lower()}{path.split('?', 1)[0]}".encode(),
        "no_api_prefix": lambda ts, method, path: f"{ts}{method.upper()}{path.removeprefix(API_PREFIX)}".encode(),
    }
    monkeypatch.setattr(signing, "signing_message", wrong[composed])
    sim.register_key(KEY_ID, key.public_key())
    sim.require_auth_for_books = True

    async def main() -> None:
        async with make(sim.server.base_url + API_PREFIX, signer=KalshiSigner(KEY_ID, key)) as c:
            await c.get_orderbook("KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP")

    with pytest.raises(AuthError, match="INCORRECT_API_KEY_SIGNATURE"):
        run(main())
    assert sim.auth_failures == 1


def test_universe_collects_bad_items_and_keeps_the_rest(sim: KalshiSim) -> None:
    good = sim.markets[0]
    sim.add_market({**good, "ticker": "BAD-NAN", "event_ticker": "BAD-E", "yes_bid_dollars": "NaN"})
    sim.add_market({**good, "ticker": "BAD-BOOK", "event_ticker": "BAD-E"})
    sim.set_book("BAD-BOOK", [["0.5000", "-3.00"]], [])
    sim.set_book(good["ticker"], [["0.4000", "2.00"], ["0.4100", "1.00"]], None)

    data = run(live(sim).fetch([Venue.KALSHI]))
    errors = {(e.kind, e.key) for e in data.errors}
    assert ("market", "BAD-NAN") in errors and ("book", "BAD-BOOK") in errors
    assert "BAD-NAN" not in {m.id for m in data.markets} and (Venue.KALSHI, "BAD-NAN") not in data.books
    assert (Venue.KALSHI, "BAD-BOOK") not in data.books
    assert len(data.markets) > 200 and len(data.books) >= len(data.markets) - 1
    assert not data.incomplete and not data.degraded
    # Books in batches of at most 100 tickers, each listed market's asked for exactly once.
    batch = [r for r in sim.requests if r.path == API_PREFIX + "/markets/orderbooks"]
    sent = [t for r in batch for t in r.query["tickers"]]
    assert all(len(r.query["tickers"]) <= 100 for r in batch) and len(batch) == math.ceil(len(sent) / 100)
    assert sorted(sent) == sorted(m["ticker"] for m in sim.markets
                                  if m["status"] == "active" and "mve_collection_ticker" not in m)
    book = data.books[(Venue.KALSHI, good["ticker"])]
    assert book.yes.best_bid is not None and book.yes.best_bid.price == Decimal("0.4100")
    assert book.no.asks[0].price == Decimal("0.5900") and book.yes.asks == ()


def test_batch_books_are_chunked_by_100(sim: KalshiSim) -> None:
    tickers = [m["ticker"] for m in sim.markets[:250]]

    async def main() -> Any:
        async with make(sim.start()) as c:
            return await c.get_orderbooks([*tickers, "NO-SUCH-TICKER"])

    books, errors = run(main())
    batch = [r for r in sim.requests if r.path == API_PREFIX + "/markets/orderbooks"]
    assert sorted(len(r.query["tickers"]) for r in batch) == [51, 100, 100]
    assert set(books) == set(tickers) and [e.key for e in errors] == ["NO-SUCH-TICKER"]


def test_fee_models_come_from_series_and_event_overrides(sim: KalshiSim) -> None:
    sample = sim.markets[0]
    series = sample["event_ticker"].split("-", 1)[0]
    sim.series_fees[series] = ("quadratic_with_maker_fees", 0.5)
    override_event = sim.markets[1]["event_ticker"]
    sim.event_fee_overrides[override_event] = ("quadratic", 0)

    data = run(live(sim).fetch([Venue.KALSHI], with_books=False))
    by_id = {m.id: m for m in data.markets}
    m0 = by_id[sample["ticker"]]
    if sample["event_ticker"] != override_event:
        assert m0.fee_model.multiplier == Decimal("0.5") and m0.fee_model.maker_rate == Decimal("0.0175")
    m1 = by_id[sim.markets[1]["ticker"]]
    assert m1.fee_model.multiplier == 0 and "override" in m1.fee_model.source
    assert m1.event_title


def test_a_series_whose_fee_is_not_modelled_refuses_its_own_markets_only(sim: KalshiSim) -> None:
    """Found in review: the client's own full fetch (removed; `orion scan` never ran it) parsed the
    /series list all or nothing, so one series with a fee type orion does not model (``flat``)
    dropped every series, and every market was priced at the default quadratic x1, understating a
    x2 series' fee. The live fetch refuses that series' markets and prices the others by theirs."""
    series_of = {m["ticker"]: m["event_ticker"].split("-", 1)[0] for m in sim.markets}
    flat, doubled = sorted(set(series_of.values()))[:2]
    sim.series_fees[flat] = ("flat", 1)
    sim.series_fees[doubled] = ("quadratic", 2)

    data = run(live(sim).fetch([Venue.KALSHI], with_books=False))
    priced = {m.id: m for m in data.markets}
    refused = {e.key: e.message for e in data.errors if e.kind == "market"}
    flat_markets = {t for t, s in series_of.items() if s == flat and t in priced.keys() | refused.keys()}
    doubled_markets = [priced[t] for t, s in series_of.items() if s == doubled and t in priced]
    assert flat_markets and flat_markets <= refused.keys() and not flat_markets & priced.keys()
    assert all("fee unknown" in refused[t] and f"series {flat}" in refused[t] for t in flat_markets)
    assert doubled_markets and all(m.fee_model.multiplier == 2 for m in doubled_markets)
    assert ("series", flat) in {(e.kind, e.key) for e in data.errors}


def test_client_rate_limit_avoids_venue_429s(sim: KalshiSim) -> None:
    # The venue's read bucket as orion's config states it (capacity = one second of refill): 50 tokens,
    # 5 requests of burst, then 5 requests/s; the fetch sends more than the burst.
    sim.server.rate_limit = (50.0, 50.0)
    run(live(sim, **{"kalshi.read_tokens_per_second": 50}).fetch([Venue.KALSHI]))
    assert len(sim.requests) > 6
    assert sim.server.rate_limited == 0


def test_single_endpoints(sim: KalshiSim) -> None:
    async def main() -> Any:
        async with make(sim.start()) as c:
            status = await c.exchange_status()
            market = await c.get_market("KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP")
            book = await c.get_orderbook("KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP", depth=5)
            event = await c.get_event(market.event_id)
            series = await c.get_series("KXWTACHALLENGERMATCH")
            events = await c.get_events(limit=7)
            return status, market, book, event, series, events

    status, market, book, event, series, events = run(main())
    assert status.can_trade and market.status is MarketStatus.OPEN
    assert book.yes.best_ask is not None and book.yes.best_ask.price == Decimal("0.5200")
    assert event.event_ticker == market.event_id and event.markets
    assert series.fee_type == "quadratic" and len(events) == len({e.event_ticker for e in events}) > 7


def test_limit_over_max_is_refused_locally() -> None:
    with pytest.raises(ValueError, match="page_limit"):
        KalshiClient("http://127.0.0.1:9", page_limit=1001)


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_page_limit_out_of_range_for_one_walk_is_refused_before_any_request(limit: int) -> None:
    """The constructor's page_limit was checked; one walk's own limit went out as asked (Kalshi answers a 400)."""
    async def main() -> None:
        async with KalshiClient("http://127.0.0.1:9") as c:  # nothing listens: a request would be a venue error
            async for _ in c.iter_market_pages(limit=limit):
                pass

    with pytest.raises(ValueError, match=r"limit must be 1\.\.1000"):
        run(main())


def test_the_headroom_below_a_fast_venue_bucket_covers_its_jitter_not_just_one_request() -> None:
    """At Basic (200/s) one request's 10 tokens and 50 ms of refill are the same headroom; at
    Prestige (10 000/s) 50 ms is 500 tokens, and a one-request margin let the venue answer 429."""
    from orion_cli.venues.kalshi.client import TIERS, below_venue_bucket

    basic, prestige = TIERS["basic"], TIERS["prestige"]
    assert below_venue_bucket(basic.read_capacity, basic.read_rate, 10.0).capacity == 190
    assert below_venue_bucket(prestige.read_capacity, prestige.read_rate, 10.0).capacity == 9500
    assert below_venue_bucket(prestige.write_capacity, prestige.write_rate, 10.0).capacity == 15600
