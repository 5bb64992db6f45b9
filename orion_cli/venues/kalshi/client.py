"""Kalshi market-data client (async) on the shared :class:`~orion_cli.venues.http.VenueHttp`.

Why it looks the way it does:
- Kalshi bills every GET 10 tokens from a per-account *read* bucket (Basic: 200 tokens/s), so the
  client spends tokens locally before sending and never needs the venue's 429 to slow down.
- ``/markets`` is cursor-paginated, a garbage or stale cursor silently answers page 1, and the
  last page carries ``cursor: ""``; the paginator therefore tracks cursors and page fingerprints
  and has a page cap, so a venue bug can never make it loop forever.
- The full-universe fetch ``orion scan`` runs is :class:`~orion_cli.venues.live.LiveSource`'s: it walks
  :meth:`KalshiClient.iter_market_pages` and requests the batch books (100 tickers per request) while
  the market pages are still arriving, through this client's HTTP layer, and parses the raw answers
  with the snapshot parser, one bad item at a time (``benchmarks/bench_fetch.py`` times it).
- :meth:`KalshiClient.get_orderbooks` reports a bad book per ticker, as :class:`ItemError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from orion_cli.core.aio import all_or_none
from orion_cli.core.errors import AuthError, DataError, OrionError, VenueError
from orion_cli.core.models import Market, OrderBook
from orion_cli.venues.http import AsyncTokenBucket, RetryPolicy, VenueHttp
from orion_cli.venues.kalshi.parse import (
    ExchangeStatus,
    KalshiEvent,
    KalshiSeries,
    MarketsPage,
    describe_error,
    exchange_status_answer,
    parse_event,
    parse_events_page,
    parse_market,
    parse_market_response,
    parse_markets_page,
    parse_orderbook,
    parse_orderbooks_batch,
    parse_series,
)
from orion_cli.venues.kalshi.signing import KalshiSigner

__all__ = [
    "DEMO_BASE_URL",
    "PROD_BASE_URL",
    "TIERS",
    "ItemError",
    "KalshiClient",
    "PaginationError",
    "RateTier",
]

PROD_BASE_URL = "https://external-api.kalshi.com/trade-api/v2"
DEMO_BASE_URL = "https://external-api.demo.kalshi.co/trade-api/v2"

MARKETS_MAX_LIMIT = 1000
EVENTS_MAX_LIMIT = 200
BATCH_BOOKS_MAX = 100
DEFAULT_REQUEST_COST = 10.0
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class RateTier:
    """Token budgets in tokens per second (docs.kalshi.com/getting_started/rate_limits)."""

    name: str
    read_rate: float
    read_capacity: float
    write_rate: float
    write_capacity: float


TIERS: dict[str, RateTier] = {
    "basic": RateTier("basic", 200, 200, 100, 100),
    # Above Basic, write buckets hold two seconds of budget.
    "advanced": RateTier("advanced", 300, 300, 300, 600),
    "expert": RateTier("expert", 600, 600, 600, 1200),
    "premier": RateTier("premier", 1000, 1000, 1000, 2000),
    "paragon": RateTier("paragon", 2000, 2000, 2000, 4000),
    "prime": RateTier("prime", 4000, 4000, 4000, 8000),
    "prestige": RateTier("prestige", 10000, 10000, 8000, 16000),
}


class PaginationError(VenueError):
    """The venue's cursor walk went wrong (a repeated page or cursor, or too many pages)."""


@dataclass(frozen=True, slots=True)
class ItemError:
    """One book :meth:`KalshiClient.get_orderbooks` could not read, and why."""

    kind: str
    key: str
    message: str
    reason: str = "bad_data"


def _error_item(kind: str, key: str, exc: OrionError) -> ItemError:
    return ItemError(kind, key, str(exc), exc.reason)


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def below_venue_bucket(capacity: float, rate: float, request_cost: float, safety_requests: float = 1.0,
                       safety_seconds: float = 0.05) -> AsyncTokenBucket:
    """Our token bucket for one of the venue's, with headroom so that we never cause its 429.

    Requests whose tokens we take over a window reach the venue spread over that window plus the
    jitter between taking tokens and the venue counting the request (queueing for a connection, the
    network), so the headroom must cover ``rate × jitter`` tokens (``safety_seconds``), and never less
    than ``safety_requests`` requests. At the Basic tier both come to one request; at high rates a
    fixed one-request margin was too small once the venue answered quickly.
    """
    headroom = max(request_cost * safety_requests, rate * safety_seconds)
    return AsyncTokenBucket(max(request_cost, capacity - headroom), rate)


class KalshiClient:
    """Reads Kalshi market data. Pass ``signer`` to sign requests (the orderbook needs it)."""

    def __init__(
        self,
        base_url: str = PROD_BASE_URL,
        *,
        signer: KalshiSigner | None = None,
        tier: str | RateTier = "basic",
        request_cost: float = DEFAULT_REQUEST_COST,
        safety_requests: float = 1.0,
        safety_seconds: float = 0.05,
        max_concurrency: int = 8,
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        page_limit: int = MARKETS_MAX_LIMIT,
        max_pages: int = 1000,
        user_agent: str | None = None,
    ) -> None:
        if isinstance(tier, str):
            try:
                tier = TIERS[tier.lower()]
            except KeyError:
                raise ValueError(f"unknown Kalshi rate tier {tier!r}; one of {', '.join(TIERS)}") from None
        if not 1 <= page_limit <= MARKETS_MAX_LIMIT:
            raise ValueError(f"page_limit must be 1..{MARKETS_MAX_LIMIT} (Kalshi answers 400 above)")
        self.tier = tier
        self.request_cost = request_cost
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.buckets = {
            "read": below_venue_bucket(tier.read_capacity, tier.read_rate, request_cost, safety_requests,
                                       safety_seconds),
            "write": below_venue_bucket(tier.write_capacity, tier.write_rate, request_cost, safety_requests,
                                        safety_seconds),
        }
        extra: dict[str, Any] = {"user_agent": user_agent} if user_agent else {}
        self.http = VenueHttp(
            "kalshi",
            base_url,
            buckets=self.buckets,
            max_concurrency=max_concurrency,
            timeout=timeout,
            retry=retry,
            auth=signer,
            transport=transport,
            describe_error=describe_error,
            **extra,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> KalshiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _get(self, path: str, params: Any = None) -> Any:
        return await self.http.get_json(path, params, bucket="read", cost=self.request_cost)

    # -- exchange ---------------------------------------------------------------------------

    async def exchange_status(self) -> ExchangeStatus:
        return exchange_status_answer(await self._get("/exchange/status"))

    # -- markets ----------------------------------------------------------------------------

    async def iter_market_pages(
        self,
        *,
        status: str | None = "open",
        mve_filter: str | None = "exclude",
        series_ticker: str | None = None,
        event_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[MarketsPage]:
        """Walk ``/markets`` page by page, refusing to loop.

        Raises :class:`PaginationError` when a cursor or a page repeats (a garbage cursor makes
        Kalshi silently restart at page 1) or when ``max_pages`` is exceeded.
        """
        if limit is not None and not 1 <= limit <= MARKETS_MAX_LIMIT:  # as the constructor's page_limit
            raise ValueError(f"limit must be 1..{MARKETS_MAX_LIMIT} (Kalshi answers 400 above)")
        params: dict[str, Any] = {
            "limit": limit or self.page_limit,
            "status": status,
            "mve_filter": mve_filter,
            "series_ticker": series_ticker,
            "event_ticker": event_ticker,
            "tickers": ",".join(tickers) if tickers else None,
        }
        seen_cursors: set[str] = set()
        seen_pages: set[tuple[str, str, int]] = set()
        cursor: str | None = None
        pages = 0
        while True:
            if pages >= self.max_pages:
                raise PaginationError(f"kalshi /markets: more than {self.max_pages} pages; stopping")
            page = parse_markets_page(await self._get("/markets", {**params, "cursor": cursor}))
            pages += 1
            if page.markets:
                first, last = page.markets[0].get("ticker"), page.markets[-1].get("ticker")
                fingerprint = (str(first), str(last), len(page.markets))
                if fingerprint in seen_pages:
                    raise PaginationError(
                        f"kalshi /markets: page {pages} repeats an earlier page (cursor ignored?)"
                    )
                seen_pages.add(fingerprint)
            yield page
            if page.cursor is None:
                return
            if page.cursor in seen_cursors:
                raise PaginationError(f"kalshi /markets: cursor repeated at page {pages}")
            seen_cursors.add(page.cursor)
            cursor = page.cursor

    async def list_markets_raw(self, **filters: Any) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        async for page in self.iter_market_pages(**filters):
            out.extend(page.markets)
        return out

    async def get_market(
        self, ticker: str, *, series: KalshiSeries | None = None, event: KalshiEvent | None = None
    ) -> Market:
        raw = parse_market_response(await self._get(f"/markets/{ticker}"))
        return parse_market(raw, series=series, event=event)

    # -- events and series ------------------------------------------------------------------

    async def get_events(
        self,
        *,
        status: str | None = "open",
        series_ticker: str | None = None,
        with_nested_markets: bool = False,
        limit: int = EVENTS_MAX_LIMIT,
    ) -> list[KalshiEvent]:
        params: dict[str, Any] = {
            "limit": min(limit, EVENTS_MAX_LIMIT),
            "status": status,
            "series_ticker": series_ticker,
            "with_nested_markets": True if with_nested_markets else None,
        }
        out: list[KalshiEvent] = []
        seen: set[str] = set()
        cursor: str | None = None
        for page_no in range(1, self.max_pages + 1):
            events, cursor = parse_events_page(await self._get("/events", {**params, "cursor": cursor}))
            out.extend(events)
            if cursor is None:
                return out
            if cursor in seen:
                raise PaginationError(f"kalshi /events: cursor repeated at page {page_no}")
            seen.add(cursor)
        raise PaginationError(f"kalshi /events: more than {self.max_pages} pages; stopping")

    async def get_event(self, event_ticker: str) -> KalshiEvent:
        data = await self._get(f"/events/{event_ticker}", {"with_nested_markets": True})
        if not isinstance(data, Mapping):
            raise DataError("response", "expected an object")
        return parse_event(data.get("event"), "event")

    async def get_series(self, series_ticker: str) -> KalshiSeries:
        data = await self._get(f"/series/{series_ticker}")
        if not isinstance(data, Mapping):
            raise DataError("response", "expected an object")
        return parse_series(data.get("series"), "series")

    # -- order books ------------------------------------------------------------------------

    async def get_orderbook(self, ticker: str, *, depth: int = 0) -> OrderBook:
        data = await self._get(f"/markets/{ticker}/orderbook", {"depth": depth or None})
        return parse_orderbook(data, ticker)

    async def get_orderbooks(self, tickers: Sequence[str]) -> tuple[dict[str, OrderBook], list[ItemError]]:
        """Books for any number of tickers, 100 per request, concurrently; failures per ticker."""
        unique = list(dict.fromkeys(tickers))
        results = await all_or_none(self._book_chunk(c) for c in _chunks(unique, BATCH_BOOKS_MAX))
        books: dict[str, OrderBook] = {}
        errors: list[ItemError] = []
        for b, e in results:
            books.update(b)
            errors.extend(e)
        return books, errors

    async def _book_chunk(self, chunk: list[str]) -> tuple[dict[str, OrderBook], list[ItemError]]:
        try:
            data = await self._get("/markets/orderbooks", [("tickers", t) for t in chunk])
            books, bad = parse_orderbooks_batch(data)
        except AuthError:
            raise
        except OrionError as exc:  # unavailable after retries, 4xx, or an unreadable answer
            return {}, [_error_item("book", t, exc) for t in chunk]
        errors = [_error_item("book", t, exc) for t, exc in bad.items()]
        wanted = set(chunk)
        for t in chunk:
            if t not in books and t not in bad:
                errors.append(ItemError("book", t, f"{t}: missing from the batch orderbooks answer"))
        return {t: b for t, b in books.items() if t in wanted}, errors
