"""The live source against the loopback simulators: both venues at once, degraded, down."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sim.kalshi_sim import KalshiSim
from sim.polymarket_sim import PolymarketSim
from sim.server import FaultRule, SimRequest, SimResponse

from orion_cli.core.config import Settings, load_settings
from orion_cli.core.errors import ExitCode, OrionError, VenueError, VenueUnavailable
from orion_cli.core.models import Venue
from orion_cli.venues.base import ProgressEvent
from orion_cli.venues.http import RetryPolicy
from orion_cli.venues.live import LiveSource
from orion_cli.venues.snapshot import KalshiParser, SnapshotSource, parse_capture, write_capture

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
    # Live data is no recording: judged at the current time, not when the fetch began (found in review).
    later = datetime.now(UTC) + timedelta(hours=1)
    assert data.recorded_at is None and data.market_clock(later) == later


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
    with pytest.raises(VenueError) as info:  # the broken market itself: the venue's bad data, naming the field
        asyncio.run(src.book(broken["conditionId"]))
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE and "clobTokenIds" in info.value.message


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
    # The cause, for "DEGRADED: polymarket data missing (…)" and a replay's "polymarket unavailable: …",
    # which printed "polymarket unavailable: polymarket unavailable: …" (found black-box).
    assert "failed after 1 attempts" in data.degraded[Venue.POLYMARKET]
    assert "unavailable" not in data.degraded[Venue.POLYMARKET]
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
    assert info.value.message.startswith("kalshi and polymarket unavailable: kalshi: GET /markets failed")
    assert "; polymarket: GET " in info.value.message and info.value.message.count("unavailable") == 1


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


# -- the re-read `orion trade` prices on: the market's fee must be read, never guessed -------------

ONE_TICKER = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"  # a recorded market, with a recorded book
ONE_EVENT = "KXWTACHALLENGERMATCH-26JUN11JIMLEP"
ONE_SERIES = "KXWTACHALLENGERMATCH"


@pytest.fixture
def ksim() -> Iterator[KalshiSim]:
    """A Kalshi simulator of its own: these tests change its fees and fail its requests."""
    k = KalshiSim()
    k.start()
    try:
        yield k
    finally:
        k.stop()


def _one(k: KalshiSim) -> LiveSource:
    dead = dead_url()  # book() of a Kalshi ticker asks Kalshi only
    return LiveSource(settings(k.server.base_url + "/trade-api/v2", dead, dead), retry=FAST)


def test_book_prices_a_market_by_the_fee_its_series_states(ksim: KalshiSim) -> None:
    ksim.series_fees[ONE_SERIES] = ("quadratic", 2)
    market, _ = asyncio.run(_one(ksim).book(ONE_TICKER))
    assert market.fee_model.multiplier == 2 and market.fee_model.source.startswith(f"series {ONE_SERIES} ")


def test_book_reads_the_series_the_event_names_not_only_the_tickers_prefix(ksim: KalshiSim) -> None:
    """Found in review: the series was fetched by the event ticker's prefix while the parser prices by
    the event's own series_ticker; where they differ, the fetched series went unused and the market
    was priced at the default fee (fail open). The named series is read too (here it is unknown: 404)."""
    ksim.series_fees[ONE_SERIES] = ("quadratic", 2)
    ksim.events_extra[ONE_EVENT] = {**ksim.event_obj(ONE_EVENT), "series_ticker": "KXRENAMED"}
    with pytest.raises(VenueError) as info:
        asyncio.run(_one(ksim).book(ONE_TICKER))
    assert "series KXRENAMED" in info.value.message and "fee unknown" in info.value.message


@pytest.mark.parametrize(("fault", "raised"), [
    (FaultRule("status", status=503, path_prefix=f"/trade-api/v2/series/{ONE_SERIES}"), VenueUnavailable),
    (FaultRule("status", status=404, path_prefix=f"/trade-api/v2/series/{ONE_SERIES}",
               body={"error": {"code": "not_found"}}), VenueError),
    (FaultRule("malformed", path_prefix=f"/trade-api/v2/series/{ONE_SERIES}"), VenueError),
    (FaultRule("remove_field", field="series", path_prefix=f"/trade-api/v2/series/{ONE_SERIES}"), VenueError),
    (FaultRule("status", status=503, path_prefix=f"/trade-api/v2/events/{ONE_EVENT}"), VenueUnavailable),
    (FaultRule("status", status=404, path_prefix=f"/trade-api/v2/events/{ONE_EVENT}",
               body={"error": {"code": "not_found"}}), VenueError),
])
def test_book_refuses_a_market_whose_series_or_event_cannot_be_fetched(
        ksim: KalshiSim, fault: FaultRule, raised: type[OrionError]) -> None:
    """The re-read before a trade dropped a failed series (or event) fetch and priced the market at the
    default quadratic x1: half the fee of a x2 series, so a trade whose edge the fee takes back. It
    now fails as the venue failed (exit 5), naming what was not read and that the fee is unknown."""
    ksim.series_fees[ONE_SERIES] = ("quadratic", 2)
    ksim.server.add_fault(fault)
    with pytest.raises(raised) as info:
        asyncio.run(_one(ksim).book(ONE_TICKER))
    assert type(info.value) is raised
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
    what = f"series {ONE_SERIES}" if "/series/" in fault.path_prefix else f"event {ONE_EVENT}"
    assert what in info.value.message and "fee unknown" in info.value.message and ONE_TICKER in info.value.message


@pytest.mark.parametrize("fee_type", ["flat", "mystery", ""])
def test_book_refuses_a_market_whose_series_fee_type_is_not_modelled_naming_the_series(
        ksim: KalshiSim, fee_type: str) -> None:
    """As a scan does ("fee unknown"); the error named the fee type but not whose it was. Found in review:
    it then said nothing of what to do, and exit 5 reads as an outage to wait out (cron retries), though
    the venue sends the same type on every try: the hint says retrying will not help, and what does."""
    ksim.series_fees[ONE_SERIES] = (fee_type, 2)
    with pytest.raises(VenueError) as info:  # what the venue sent cannot be priced: exit 5, not internal (1)
        asyncio.run(_one(ksim).book(ONE_TICKER))
    assert "fee unknown" in info.value.message and f"series {ONE_SERIES}" in info.value.message
    assert info.value.hint and "retrying will not help" in info.value.hint and "upgrade orion" in info.value.hint
    ksim.event_fee_overrides[ONE_EVENT] = ("flat", 1)  # an event override orion cannot model: the same
    ksim.series_fees[ONE_SERIES] = ("quadratic", 1)
    with pytest.raises(VenueError) as info:
        asyncio.run(_one(ksim).book(ONE_TICKER))
    assert "fee unknown" in info.value.message and f"event {ONE_EVENT}" in info.value.message
    assert info.value.hint and "retrying will not help" in info.value.hint


def test_book_of_a_series_whose_fee_is_junk_not_an_unmodelled_type_does_not_say_retrying_cannot_help(
        ksim: KalshiSim) -> None:
    """The hint is for a fee type orion has no formula for; a malformed multiplier is junk data, which
    the venue may send right on the next try."""
    ksim.series_fees[ONE_SERIES] = ("quadratic", -1)
    with pytest.raises(VenueError) as info:
        asyncio.run(_one(ksim).book(ONE_TICKER))
    assert "fee unknown" in info.value.message and info.value.hint is None


@pytest.mark.parametrize(("junk", "said"), [
    ({"book": [["abc", "10.00"]]}, "price: not a number: 'abc'"),
    ({"book": [["0.3800"]]}, "expected [price, size]"),
    ({"close_time": "abc"}, "close_time: not an ISO-8601 time"),
    ({"status": 5}, "status: expected a string"),
    ({"event_ticker": None}, "event_ticker: missing"),
])
def test_a_market_or_book_the_venue_sends_unreadable_is_the_venue_at_fault_exit_5(
        ksim: KalshiSim, junk: dict[str, Any], said: str) -> None:
    """Found black-box: a 200 with a price "abc" or a level without its size ended `orion book` and
    `orion trade` as an internal error (exit 1, the parser's DataError); the venue's data is at fault,
    as for a body that is not JSON at all: exit 5, naming the venue, the market and the field."""
    market = next(m for m in ksim.markets if m["ticker"] == ONE_TICKER)
    if "book" in junk:
        ksim.set_book(ONE_TICKER, junk["book"], [["0.6000", "50.00"]])
    else:
        market.update(junk)
    with pytest.raises(VenueError) as info:
        asyncio.run(_one(ksim).book(ONE_TICKER))
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
    assert info.value.message.startswith("kalshi ") and ONE_TICKER in info.value.message
    assert said in info.value.message


@pytest.mark.parametrize(("answer", "said"), [
    ({}, "orderbook_fp: missing"), ([], "orderbook_fp: missing"), ("maintenance", "orderbook_fp: missing"),
    ({"orderbook": {"yes": [[38, 50]], "no": [[60, 50]]}}, "legacy cent 'orderbook' shape"),
])
def test_a_book_answer_without_its_book_is_not_read_as_an_empty_book(ksim: KalshiSim, answer: Any,
                                                                      said: str) -> None:
    """Found by a fault review: an orderbook answer without ``orderbook_fp`` ({}, a list, the old cent shape)
    was made ``{"orderbook_fp": None}``, which reads as a wholly empty book: `book` showed no bids or asks
    (exit 0), and a trade was refused by INVALID_ORDER "size 0", naming no venue. Exit 5, naming the field."""
    ksim.server.add_fault(FaultRule("status", method="GET", status=200, body=answer,
                                    path_prefix=f"/trade-api/v2/markets/{ONE_TICKER}/orderbook"))
    with pytest.raises(VenueError) as info:
        asyncio.run(_one(ksim).book(ONE_TICKER))
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
    assert info.value.message.startswith("kalshi ") and said in info.value.message, info.value.message
    ksim.server.clear_faults()
    _, book = asyncio.run(_one(ksim).book(ONE_TICKER))  # the answer as sent: read
    assert book.yes.bids or book.yes.asks


def test_a_listing_the_venue_sends_unreadable_is_the_venue_at_fault_exit_5(ksim: KalshiSim) -> None:
    """The listing itself without its list (`markets --venue kalshi`): exit 5 naming the venue, not
    exit 1 with "markets: missing" alone."""
    ksim.server.add_fault(FaultRule("remove_field", field="markets", path_prefix="/trade-api/v2/markets"))
    with pytest.raises(VenueError) as info:
        asyncio.run(_one(ksim).fetch([Venue.KALSHI]))
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
    assert info.value.message == "kalshi listing: markets: missing"


# -- a read that does not price (the executor's hedge retry, paper settlement): no fee, nothing to fail


@pytest.mark.parametrize(("fault", "fee_type"), [
    (FaultRule("status", status=503, path_prefix=f"/trade-api/v2/series/{ONE_SERIES}"), "quadratic"),
    (FaultRule("status", status=404, path_prefix=f"/trade-api/v2/series/{ONE_SERIES}",
               body={"error": {"code": "not_found"}}), "quadratic"),
    (FaultRule("status", status=503, path_prefix=f"/trade-api/v2/events/{ONE_EVENT}"), "quadratic"),
    (None, "flat"),  # a fee orion does not model: the parser refuses the series
])
def test_a_book_read_without_fees_is_not_refused_when_the_series_or_event_cannot_be_read(
        ksim: KalshiSim, fault: FaultRule | None, fee_type: str) -> None:
    """Found in review: the executor's hedge retry read its book through the strict read above, so a
    series (or event) failing to answer made it skip the retry and sell the filled first leg back,
    although the book itself was readable. Read with ``with_fees=False`` the market and its book come
    back: the fee's sources are not asked for, and the market's fee is the labelled stand-in."""
    ksim.series_fees[ONE_SERIES] = ("quadratic", 2)
    priced, priced_book = asyncio.run(_one(ksim).book(ONE_TICKER))
    ksim.series_fees[ONE_SERIES] = (fee_type, 2)
    if fault is not None:
        ksim.server.add_fault(fault)
    ksim.server.clear_requests()  # the read above finished all its requests: none can arrive late
    market, book = asyncio.run(_one(ksim).book(ONE_TICKER, with_fees=False))
    asked = [r.path for r in ksim.server.requests]
    assert not [p for p in asked if "/series" in p or "/events" in p], asked
    assert (market.id, market.status) == (ONE_TICKER, priced.status)
    assert (book.yes, book.no) == (priced_book.yes, priced_book.no) and book.yes.asks
    assert market.fee_model.source.startswith("default") and "fee unknown" in market.fee_model.source
    assert market.fee_model.multiplier == 1  # the stand-in, not the series' x2: never to be priced with
    with pytest.raises(OrionError, match="fee unknown"):  # pricing still refuses it
        asyncio.run(_one(ksim).book(ONE_TICKER))


def _stuck_events(ksim: KalshiSim, cursor: Callable[[int], str]) -> list[int]:
    """Answer ``GET /events`` with the simulator's first page and ``cursor(n)`` as the next cursor of
    the n-th request, ahead of the simulator's own route; returns the request count, as it grows."""
    calls = [0]
    own = next(h for meth, pat, h in ksim.server.routes if meth == "GET" and pat.pattern.endswith("/events"))

    def handler(req: SimRequest, m: re.Match[str]) -> SimResponse:
        calls[0] += 1
        answer = own(req, m)
        return SimResponse(200, {**answer.body, "cursor": cursor(calls[0])})

    ksim.server.routes.insert(0, ("GET", re.compile(r"/trade-api/v2/events"), handler))
    return calls


@pytest.mark.parametrize("stuck", ["repeated", "page_cap"])
def test_a_kalshi_events_walk_cut_short_is_an_events_item_error_not_a_complete_listing(
        ksim: KalshiSim, stuck: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: the events walk ended silently on a repeated cursor (a garbage cursor makes
    Kalshi answer page 1 again) or at the page cap, as if every event had been read, where
    KalshiClient.get_events raises PaginationError: a market whose event was not read is priced
    without the event's fee override. It is now an ``events`` item error naming why."""
    import orion_cli.venues.live as live

    monkeypatch.setattr(live, "_KALSHI_EVENTS_MAX_PAGES", 5)
    calls = _stuck_events(ksim, (lambda n: "same") if stuck == "repeated" else (lambda n: f"c{n}"))
    src = LiveSource(settings(ksim.server.base_url + "/trade-api/v2", dead_url(), dead_url()), retry=FAST)
    capture = asyncio.run(src.capture([Venue.KALSHI], with_books=False))
    errors = [e for e in capture.errors if e.kind == "events"]
    assert len(errors) == 1 and errors[0].venue == "kalshi" and errors[0].reason == "incomplete"
    said = "cursor repeated at page 2" if stuck == "repeated" else "more than 5 pages"
    assert said in errors[0].message and "not read" in errors[0].message
    assert calls[0] == (2 if stuck == "repeated" else 5)


def test_a_kalshi_events_walk_to_an_empty_cursor_has_no_events_error(ksim: KalshiSim) -> None:
    src = LiveSource(settings(ksim.server.base_url + "/trade-api/v2", dead_url(), dead_url()), retry=FAST)
    capture = asyncio.run(src.capture([Venue.KALSHI], with_books=False))
    assert capture.kalshi is not None and capture.kalshi.events
    assert not [e for e in capture.errors if e.kind == "events"]


class _Recording(LiveSource):
    """The live source, keeping each Kalshi client it makes (pages of ``page_limit`` markets) and the
    parser each fetch feeds."""

    def __init__(self, *args: Any, page_limit: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.page_limit = page_limit

    def kalshi_client(self) -> Any:
        client = super().kalshi_client()
        client.page_limit = self.page_limit
        return client


def _parsers(monkeypatch: pytest.MonkeyPatch) -> list[KalshiParser]:
    import orion_cli.venues.live as live

    made: list[KalshiParser] = []

    class Kept(KalshiParser):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            made.append(self)

    monkeypatch.setattr(live, "KalshiParser", Kept)
    return made


@pytest.fixture
def bigger_ksim() -> Iterator[KalshiSim]:
    """450 markets (5 pages of 100, 5 batches of books), some the venue sends unreadable."""
    k = KalshiSim(KalshiSim.universe(450, seed=3))
    series = sorted({m["event_ticker"].split("-", 1)[0] for m in k.markets})
    k.series_fees[series[0]] = ("flat", 1)  # a fee orion does not model: its markets refused
    k.series_fees[series[1]] = ("quadratic", 2)
    others = [m for m in k.markets if m["event_ticker"].split("-", 1)[0] not in series[:2]]
    others[7]["close_time"] = "yesterday"  # a market object with a bad field
    others[8]["ticker"] = others[9]["ticker"]  # a ticker listed twice, the copies differing
    k.set_book(others[20]["ticker"], [["1.5000", "10.00"]], None)  # a book with a price above 1
    k.event_fee_overrides[others[30]["event_ticker"]] = ("quadratic", 0)
    k.start()
    try:
        yield k
    finally:
        k.stop()


def test_a_live_kalshi_fetch_and_the_replay_of_its_recording_parse_alike(
        bigger_ksim: KalshiSim, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The live fetch parses each page of markets and each batch of books as it arrives (overlapping the
    requests the rate limit holds back) with the pieces parse_kalshi is made of; a snapshot feeds them
    the whole recording. Same objects, same order: same markets, books and errors, bad items included."""
    made = _parsers(monkeypatch)
    dead = dead_url()
    src = _Recording(settings(bigger_ksim.server.base_url + "/trade-api/v2", dead, dead), retry=FAST, page_limit=100)
    parser = KalshiParser(datetime.now(UTC))
    capture = asyncio.run(src.capture([Venue.KALSHI], kalshi_parser=parser))
    live = parse_capture(capture, (Venue.KALSHI,), source="live", kalshi_parser=parser)
    # 450 objects fed (one ticker listed twice, both copies recorded), 449 markets
    assert parser.fed(capture.kalshi) and parser.markets_fed == 450  # type: ignore[arg-type]
    path = tmp_path / "rec.json.gz"
    write_capture(capture, path)
    replayed = SnapshotSource(path, label="live").load([Venue.KALSHI])
    assert live.markets == replayed.markets and len(live.markets) > 400
    assert live.books == replayed.books and len(live.books) > 400  # fetched_at included
    assert live.errors == replayed.errors
    kinds = {(e.kind, e.message.split(" (")[0]) for e in live.errors}
    assert ("market", "fee unknown") in kinds and any("close_time" in e.message for e in live.errors)
    assert any(e.kind == "book" and "above 1" in e.message for e in live.errors)
    assert {m.fee_model.multiplier for m in live.markets} == {0, 1, 2}
    # The copies of the ticker listed twice disagree: which is current cannot be told, so it is not priced.
    twice = next(e for e in live.errors if "listed twice" in e.message)
    assert twice.kind == "market" and twice.key not in {m.id for m in live.markets}
    # And fetch() itself: the parser it fed is the one it finished, not a second parse of the capture.
    fetched = asyncio.run(src.fetch([Venue.KALSHI]))
    assert len(made) == 1 and made[0].fed(capture.kalshi)  # type: ignore[arg-type]
    # A second fetch: its book batches may come back in another order, and a bad book's error names its
    # index in the recording (found flaking under load), so its errors are compared by what and whose.
    assert fetched.markets == replayed.markets
    assert sorted((e.kind, e.key, e.reason) for e in fetched.errors) == sorted(
        (e.kind, e.key, e.reason) for e in replayed.errors)


def test_the_live_kalshi_fetch_parses_while_it_still_fetches(
        bigger_ksim: KalshiSim, monkeypatch: pytest.MonkeyPatch) -> None:
    """`orion scan`'s fetch parsed the whole capture only after its last request, adding ~1 s per 5000
    markets to a fetch the rate limit paces, and read /series and the /events walk only after the last
    page of markets. Both now overlap: when the last batch of books comes in, every market and every
    earlier book has been parsed, and the series and events were asked for before the last page."""
    made = _parsers(monkeypatch)
    dead = dead_url()
    src = _Recording(settings(bigger_ksim.server.base_url + "/trade-api/v2", dead, dead), retry=FAST, page_limit=100)
    bigger_ksim.server.add_fault(FaultRule("latency", path_prefix="/trade-api/v2/markets/orderbooks", seconds=0.1))
    seen: list[tuple[int, int, int]] = []

    def progress(ev: ProgressEvent) -> None:
        if ev.stage == "books" and made:
            seen.append((ev.done, made[0].markets_fed, made[0].books_fed))

    data = asyncio.run(src.fetch([Venue.KALSHI], progress=progress))
    assert len(data.books) > 400
    done, markets_fed, books_fed = seen[-1]  # as the last batch of books is added
    # 449 markets, one of them listed twice (450 objects). Every market is parsed by then; how many of the
    # batches that arrive together are is the scheduler's (review: `books_fed >= 349` failed on a loaded machine).
    assert done == 449 and markets_fed == 450 and books_fed <= 449, seen
    paths = [r.path.removeprefix("/trade-api/v2") for r in bigger_ksim.requests]
    last_page = max(i for i, p in enumerate(paths) if p == "/markets")
    assert paths.index("/series") < last_page and paths.index("/events") < last_page, paths


def test_a_limited_fetch_refuses_the_markets_of_a_series_or_event_it_could_not_read(ksim: KalshiSim) -> None:
    """`--limit` reads each series and event on its own; one that failed was an item error while its
    markets were priced at the default quadratic x1 (or without the event's fee override)."""
    src = _one(ksim)
    first = asyncio.run(src.fetch([Venue.KALSHI], limit=3, with_books=False))
    series = first.markets[0].extra["series_ticker"]
    ksim.series_fees[series] = ("quadratic", 2)
    ksim.server.add_fault(FaultRule("status", status=503, path_prefix=f"/trade-api/v2/series/{series}"))
    data = asyncio.run(src.fetch([Venue.KALSHI], limit=3, with_books=False))
    assert not [m for m in data.markets if m.extra["series_ticker"] == series]
    refused = [e for e in data.errors if e.kind == "market"]
    assert refused and all(f"fee unknown (series {series}: not read: " in e.message for e in refused), refused
    # read once, said once (review: the missing-series pass read it again and recorded its error twice)
    assert [e.key for e in data.errors if e.kind == "series"] == [series], data.errors
    ksim.server.clear_faults()
    event = first.markets[0].event_id
    ksim.server.add_fault(FaultRule("status", status=503, path_prefix=f"/trade-api/v2/events/{event}"))
    data = asyncio.run(src.fetch([Venue.KALSHI], limit=3, with_books=False))
    assert event not in {m.event_id for m in data.markets}
    assert any(e.kind == "market" and f"fee unknown (event {event}: not read: " in e.message for e in data.errors)


def test_a_kalshi_events_walk_that_fails_leaves_its_markets_unpriced_and_the_data_incomplete(
        ksim: KalshiSim) -> None:
    """An event can override its series' fee; with the walk failing, a market's override is unknown."""
    ksim.server.add_fault(FaultRule("status", status=503, path_prefix="/trade-api/v2/events"))
    data = asyncio.run(_one(ksim).fetch([Venue.KALSHI]))
    assert not data.markets
    assert all("fee unknown (event " in e.message and "the events listing was not read to its end" in e.message
               for e in data.errors if e.kind == "market")
    assert "events listing could not be read" in data.incomplete[Venue.KALSHI]
    assert any(k[0] is Venue.KALSHI for k in data.books)  # kept, for marking a position held there


def test_an_event_the_complete_walk_did_not_return_is_read_on_its_own(ksim: KalshiSim) -> None:
    """The events walk now runs beside the listing: an event opened meanwhile (or not listed as open)
    is not in it. Its market would lose the event's fee override and title; the event is read alone."""
    target = asyncio.run(_one(ksim).fetch([Venue.KALSHI], with_books=False)).markets[0].event_id
    ksim.event_fee_overrides[target] = ("quadratic", 0)
    own = ksim._events

    def without_target(req: SimRequest, m: re.Match[str]) -> SimResponse:
        answer = own(req, m)
        return SimResponse(200, {**answer.body, "events": [e for e in answer.body["events"]
                                                           if e["event_ticker"] != target]})

    ksim.server.routes.insert(0, ("GET", re.compile(r"/trade-api/v2/events$"), without_target))
    data = asyncio.run(_one(ksim).fetch([Venue.KALSHI], with_books=False))
    assert f"/trade-api/v2/events/{target}" in [r.path for r in ksim.requests]
    market = next(m for m in data.markets if m.event_id == target)
    assert market.fee_model.multiplier == 0 and market.event_title and not data.errors


def test_one_unreadable_book_item_in_a_recording_costs_its_own_book_only(ksim: KalshiSim) -> None:
    """parse_kalshi parsed the recorded books as one batch: one item without a ticker (a hand-edited
    or damaged file) dropped every book of the recording. Each item is read on its own now, as the
    live fetch reads them batch by batch."""
    capture = asyncio.run(_one(ksim).capture([Venue.KALSHI]))
    assert capture.kalshi is not None
    whole = parse_capture(capture, (Venue.KALSHI,))
    capture.kalshi.orderbooks.insert(0, {"orderbook_fp": {"yes_dollars": [], "no_dollars": []}})
    data = parse_capture(capture, (Venue.KALSHI,))
    assert data.books == whole.books and len(data.books) > 5
    assert [(e.kind, e.key) for e in data.errors] == [("book", "#0")] and "ticker" in data.errors[0].message


@pytest.mark.parametrize("read_alone", [True, False], ids=["read_alone", "too_many_to_read"])
def test_an_event_the_walk_did_not_return_is_read_on_its_own_or_its_markets_refused(
        ksim: KalshiSim, monkeypatch: pytest.MonkeyPatch, read_alone: bool) -> None:
    """Review: past the events orion reads one by one, a market whose event the walk lacked was priced by
    its series alone, silently, its event's fee override ignored (every edge overstated at x2)."""
    import orion_cli.venues.live as live

    if not read_alone:
        monkeypatch.setattr(live, "_KALSHI_MISSING_MAX", 0)
    market = asyncio.run(_one(ksim).fetch([Venue.KALSHI], with_books=False)).markets[0]
    ksim.event_fee_overrides[market.event_id] = ("quadratic", 2)
    own = ksim._events

    def without_it(req: SimRequest, m: re.Match[str]) -> SimResponse:
        answer = own(req, m)
        body = dict(answer.body)
        body["events"] = [e for e in body["events"] if e["event_ticker"] != market.event_id]
        return SimResponse(answer.status, body)

    ksim.server.routes.insert(0, ("GET", re.compile(r"/trade-api/v2/events$"), without_it))
    data = asyncio.run(_one(ksim).fetch([Venue.KALSHI], with_books=False))
    mine = [m for m in data.markets if m.event_id == market.event_id]
    if read_alone:
        assert mine and all(m.fee_model.multiplier == 2 for m in mine) and not data.errors
    else:
        assert not mine, [m.fee_model.source for m in mine]
        assert any(e.kind == "market" and e.key == market.id and "fee unknown" in e.message
                   for e in data.errors), data.errors


def test_a_series_answer_without_its_listing_is_an_unread_listing(ksim: KalshiSim) -> None:
    """Review: `GET /series` answering `{}` was taken for an empty listing: every market then refused one
    by one (or read one by one), never said to be an incomplete listing."""
    ksim.server.routes.insert(0, ("GET", re.compile(r"/trade-api/v2/series$"),
                                  lambda req, m: SimResponse(200, {})))
    data = asyncio.run(_one(ksim).fetch([Venue.KALSHI], with_books=False))
    assert any(e.kind == "series" and e.key == "/series" and "missing" in e.message for e in data.errors), data.errors
    assert "kalshi" in data.incomplete, data.incomplete


@pytest.mark.parametrize("read_alone", [True, False], ids=["read_alone", "too_many_to_read"])
def test_a_series_the_listing_did_not_hold_is_read_on_its_own_or_its_markets_refused(
        ksim: KalshiSim, monkeypatch: pytest.MonkeyPatch, read_alone: bool) -> None:
    """A series missing from GET /series (opened while the listing was read) priced its markets at the
    default quadratic x1. It is read on its own; when more are missing than orion reads one by one,
    their markets are refused ("fee unknown"), never priced at the default."""
    import orion_cli.venues.live as live

    if not read_alone:
        monkeypatch.setattr(live, "_KALSHI_MISSING_MAX", 0)
    market = asyncio.run(_one(ksim).fetch([Venue.KALSHI], with_books=False)).markets[0]
    series = market.extra["series_ticker"]
    ksim.series_fees[series] = ("quadratic", 2)
    own = ksim._series_list

    def without_it(req: SimRequest, m: re.Match[str]) -> SimResponse:
        answer = own(req, m)
        return SimResponse(200, {"series": [s for s in answer.body["series"] if s["ticker"] != series]})

    ksim.server.routes.insert(0, ("GET", re.compile(r"/trade-api/v2/series"), without_it))
    data = asyncio.run(_one(ksim).fetch([Venue.KALSHI], with_books=False))
    mine = [m for m in data.markets if m.extra["series_ticker"] == series]
    if read_alone:
        assert mine and all(m.fee_model.multiplier == 2 for m in mine) and not data.errors
    else:
        assert not mine and not [m for m in data.markets if "default" in m.fee_model.source]
        assert any(e.kind == "market" and e.key == market.id and f"fee unknown (series {series}: not read: "
                   in e.message for e in data.errors), data.errors


def test_a_market_the_kalshi_listing_sends_twice_across_pages(tmp_path: Path) -> None:
    """A listing that shifts between two cursor pages sends a market again. The live fetch kept the first
    copy and dropped the others unseen, so a market whose copies disagree (its close time moved) was
    priced by whichever came first. Every copy is now recorded and fed to the parser a replay uses:
    copies that agree collapse silently, copies that disagree make the market an item error, unpriced."""
    markets = KalshiSim.universe(150, seed=4)
    again = markets[99]["ticker"]  # the last of page 1 comes back first on page 2: the listing shifted
    markets.insert(100, dict(markets[99], volume_fp="77.00"))  # traded meanwhile: its volume moved, no more
    moved = markets[50]["ticker"]
    markets.append(dict(markets[50], close_time="2031-01-01T00:00:00Z"))
    k = KalshiSim(markets)
    k.start()
    try:
        dead = dead_url()
        src = _Recording(settings(k.server.base_url + "/trade-api/v2", dead, dead), retry=FAST, page_limit=100)
        parser = KalshiParser(datetime.now(UTC))
        capture = asyncio.run(src.capture([Venue.KALSHI], kalshi_parser=parser))
        data = parse_capture(capture, (Venue.KALSHI,), source="live", kalshi_parser=parser)
    finally:
        k.stop()
    assert len(capture.kalshi.markets) == 152  # type: ignore[union-attr]  # every copy recorded
    ids = [m.id for m in data.markets]
    assert ids.count(again) == 1 and (Venue.KALSHI, again) in data.books
    assert moved not in ids and len(ids) == 149
    [twice] = [e for e in data.errors if "listed twice" in e.message]
    assert (twice.kind, twice.key) == ("market", moved) and "differ in close_time" in twice.message
    # The replay of its recording says the same.
    path = tmp_path / "shifted.json"
    write_capture(capture, path)
    replayed = SnapshotSource(path, label="live").load([Venue.KALSHI])
    assert replayed.markets == data.markets and replayed.errors == data.errors


def test_an_event_the_gamma_listing_sends_twice_changed_is_not_priced_by_its_first_copy() -> None:
    """Gamma's keyset listing dropped an event met again, keeping its first copy unseen; one whose market
    changed between the two (its end date moved) was priced by the first. The changed copy is now recorded
    (an exact one, as a venue ignoring the cursor sends, is still dropped) and the market is an item error."""
    import copy

    p = PolymarketSim.universe(4, seed=2)
    changed = copy.deepcopy(p.events[1])
    cid = changed["markets"][0]["conditionId"]
    changed["markets"][0]["endDate"] = "2031-01-01T00:00:00Z"
    p.events.append(changed)
    p.events.append(copy.deepcopy(p.events[2]))  # an exact copy: nothing to say
    p.start()
    try:
        dead = dead_url()
        data = asyncio.run(LiveSource(settings(dead, p.gamma_url, p.clob_url), retry=FAST).fetch([Venue.POLYMARKET]))
    finally:
        p.stop()
    ids = [m.id for m in data.markets]
    assert cid not in ids and len(ids) == len(set(ids)) == 11, ids  # 12 listed, one refused
    assert [(e.kind, e.key) for e in data.errors if "listed twice" in e.message] == [("market", cid)]
    assert not [e for e in data.errors if "listed twice" not in e.message], data.errors


@pytest.mark.parametrize("answer", [{}, {"events": None}, {"data": []}])
def test_a_gamma_listing_without_its_events_is_not_read_as_no_markets(answer: dict[str, Any]) -> None:
    """Found by a fault review: a keyset page without its ``events`` list was taken for an empty one:
    `markets --venue polymarket` printed [] (exit 0, no warning), a scan covered Kalshi only, and a recording
    showed Polymarket with no markets. It is unreadable, as Kalshi's listing without its markets is."""
    p = PolymarketSim.universe(2, seed=5)
    p.start()
    try:
        p.server.add_fault(FaultRule("status", method="GET", path_prefix="/gamma/events/keyset", status=200,
                                     body=answer))
        src = LiveSource(settings(dead_url(), p.gamma_url, p.clob_url), retry=FAST)
        with pytest.raises(VenueError) as info:
            asyncio.run(src.fetch([Venue.POLYMARKET]))
        assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
        assert info.value.message.startswith("polymarket") and "events: missing" in info.value.message
    finally:
        p.stop()


@pytest.mark.timeout(60)
def test_an_answer_sent_a_byte_at_a_time_is_bounded_by_the_request_timeout(ksim: KalshiSim) -> None:
    """Found by a fault review: httpx's timeout bounds each read of the socket, so an answer dribbled a byte a
    second took minutes (`book` 94 s at timeout_seconds 2; an order's answer 228 s, the hedge waiting), and one
    never ending would block for ever. The whole request is bounded by timeout_seconds: retried, then exit 5."""
    ksim.server.add_fault(FaultRule("trickle", method="GET", seconds=0.3,
                                    path_prefix=f"/trade-api/v2/markets/{ONE_TICKER}/orderbook"))
    dead = dead_url()
    s = load_settings(overrides={"kalshi.prod_base_url": ksim.server.base_url + "/trade-api/v2",
                                 "polymarket.gamma_url": dead, "polymarket.clob_url": dead,
                                 "kalshi.read_tokens_per_second": 100000, "kalshi.timeout_seconds": "0.5"})
    with pytest.raises(VenueUnavailable) as info:
        asyncio.run(LiveSource(s, retry=FAST).book(ONE_TICKER))
    assert "no whole answer within 0.5 s" in str(info.value), info.value


@pytest.mark.parametrize("listing", ["events"])
def test_empty_pages_each_with_a_new_cursor_stop_the_listing(ksim: KalshiSim, listing: str) -> None:
    """Found by a fault review: Kalshi pages with no items but a fresh cursor each time never ended the open
    events' walk before its page cap: `markets --venue kalshi` made 10,000 requests to /events (500 s). Twenty
    in a row stop it, said as an incomplete listing."""
    from orion_cli.venues.live import KALSHI_EVENTS_EMPTY_PAGES_MAX as EMPTY_PAGES_MAX

    served = []

    def empty_page(request: SimRequest, match: re.Match[str]) -> SimResponse:
        served.append(request.path)
        return SimResponse(200, {listing: [], "cursor": f"c{len(served)}", "milestones": []})

    ksim.server.routes.insert(0, ("GET", re.compile(f"/trade-api/v2/{listing}"), empty_page))
    dead = dead_url()
    src = LiveSource(settings(ksim.server.base_url + "/trade-api/v2", dead, dead), retry=FAST)
    try:
        data = asyncio.run(src.fetch([Venue.KALSHI]))
    except VenueError as exc:  # the markets listing itself incomplete: nothing of Kalshi to show
        said = str(exc)
    else:
        said = " ".join(e.message for e in data.errors) + " ".join(data.incomplete.values())
    assert len(served) == EMPTY_PAGES_MAX, len(served)
    assert f"{EMPTY_PAGES_MAX} empty pages in a row, each with a new cursor" in said, said


def test_a_later_gamma_page_without_its_list_keeps_the_pages_read_as_an_incomplete_listing() -> None:
    """Found reviewing the fix above: a later page without its list threw away every page already read, the
    whole venue degraded; as for a later page refused, the pages read are kept, the listing incomplete."""
    p = PolymarketSim.universe(4, seed=5)
    p.start()
    try:
        served: list[int] = []
        method, pattern, handler = next(r for r in p.server.routes if r[0] == "GET" and "keyset" in r[1].pattern
                                        and "events" in r[1].pattern)

        def second_page_empty(request: SimRequest, match: re.Match[str]) -> SimResponse:
            served.append(1)
            return handler(request, match) if len(served) == 1 else SimResponse(200, {})

        p.server.routes.insert(0, (method, pattern, second_page_empty))
        from orion_cli.venues.polymarket.client import PolymarketClient

        async def listing() -> Any:
            async with PolymarketClient(gamma_url=p.gamma_url, clob_url=p.clob_url, data_url=p.data_url,
                                        page_limit=1, retry=FAST) as client:
                return await client.list_events()

        got = asyncio.run(listing())
        assert len(served) == 2 and got.items and not got.complete
        assert "page 2 without its events list" in str(got), got
    finally:
        p.stop()
