"""Polymarket's public market data: Gamma discovery and CLOB order books, over the shared HTTP layer.

Three hosts (Gamma, CLOB, Data API) are three :class:`VenueHttp` instances, each with token buckets
sized to the venue's published per-endpoint windows (reference §6.10) so that we throttle ourselves
before Cloudflare queues or refuses us.

Listing uses ``/events/keyset`` (``after_cursor`` → ``next_cursor``, absent on the last page) by
default: Polymarket retired deep offset pagination on the list endpoints in 2026 (offset beyond
about 2000 answers a validation error). Offset paging over ``/events`` remains selectable. Both are
guarded against the known failure where the cursor is ignored and the same page comes back, by a
repeated-cursor check, a no-new-items check and a page cap; a guarded stop returns what was read
and marks the listing incomplete rather than looping or discarding good data.

``POST /books`` is a read that happens to use POST; the shared layer never retries POSTs (orders
must not be re-sent blindly), so this module retries it itself with the same policy as reads.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from orion_cli.core.errors import DataError, VenueError, VenueUnavailable
from orion_cli.core.models import Market, OrderBook, utcnow
from orion_cli.core.money import loads_exact
from orion_cli.venues.http import AsyncTokenBucket, RetryPolicy, VenueHttp, VenueHttpError, VenueSendFailed
from orion_cli.venues.polymarket.firewall import VENUE, public_refusal
from orion_cli.venues.polymarket.parse import (
    ClobMarketInfo,
    TokenBook,
    combine_books,
    parse_book,
    parse_clob_market_info,
    parse_gamma_market,
)

GAMMA_URL = "https://gamma-api.polymarket.com"
CLOB_URL = "https://clob.polymarket.com"
DATA_URL = "https://data-api.polymarket.com"

# (requests, per seconds) from docs.polymarket.com/api-reference/rate-limits (reference §6.10).
RATE_WINDOWS: dict[str, tuple[float, float]] = {
    "gamma": (4000, 10),
    "gamma_events": (500, 10),
    "gamma_markets": (300, 10),
    "clob": (9000, 10),
    "clob_book": (1500, 10),
    "clob_books": (500, 10),
    "clob_read": (1500, 10),  # other single-item CLOB reads (clob-markets, time, ok)
    "data": (1000, 10),
    "data_positions": (150, 10),
}

KEYSET_MAX_LIMIT = 100  # /markets/keyset documented max; /events/keyset is capped there too in practice
BOOKS_MAX_BATCH = 100  # tokens per POST /books; conservative, the venue does not document a max

Pagination = Literal["keyset", "offset"]


def _bucket(name: str, scale: float) -> AsyncTokenBucket:
    count, seconds = RATE_WINDOWS[name]
    capacity = max(1.0, count * scale)
    return AsyncTokenBucket(capacity, capacity / seconds)


@dataclass(frozen=True, slots=True)
class FetchError:
    """One book :meth:`PolymarketClient.get_books` could not parse; the other tokens' books are still usable."""

    item: str  # the token id (or its place in the answer)
    stage: Literal["books"]
    message: str


@dataclass(slots=True)
class Listing:
    """Raw Gamma items from a paginated listing and whether the walk reached the real end."""

    items: list[dict[str, Any]]
    complete: bool
    pages: int
    stop_reason: str = ""
    # Items the walk met again (a listing that shifted between pages) unlike their first copy: kept for the
    # parser, which refuses a market whose copies disagree rather than keep the first unseen. Exact copies
    # (a venue ignoring the cursor repeats page one) are dropped.
    repeats: list[dict[str, Any]] = field(default_factory=list)


def _item_key(item: Mapping[str, Any]) -> str:
    for key in ("id", "conditionId", "slug"):
        value = item.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return f"{key}:{value}"
    return "json:" + json.dumps(item, sort_keys=True, default=str)[:200]


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


class PolymarketClient:
    """Async public client. Use as ``async with PolymarketClient() as pm: ...``."""

    def __init__(
        self,
        *,
        gamma_url: str = GAMMA_URL,
        clob_url: str = CLOB_URL,
        data_url: str = DATA_URL,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass
        max_concurrency: int = 8,
        pagination: Pagination = "keyset",
        page_limit: int = KEYSET_MAX_LIMIT,
        max_pages: int = 500,
        books_batch: int = BOOKS_MAX_BATCH,
        rate_scale: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if page_limit < 1 or max_pages < 1 or books_batch < 1:
            raise ValueError("page_limit, max_pages and books_batch must be positive")
        if pagination == "keyset":
            page_limit = min(page_limit, KEYSET_MAX_LIMIT)
        self.pagination: Pagination = pagination
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.books_batch = min(books_batch, BOOKS_MAX_BATCH)
        self.retry = retry

        def make(base: str, names: Sequence[str]) -> VenueHttp:
            return VenueHttp(
                VENUE,
                base,
                buckets={n: _bucket(n, rate_scale) for n in names},
                max_concurrency=max_concurrency,
                timeout=timeout,
                retry=retry,
                transport=transport,
                # No request here carries a credential: a 401/403 is the firewall refusing this host
                # (Geoblocked, exit 6) or the venue refusing the request, never our keys rejected.
                classify_denied=public_refusal,
            )

        self.gamma = make(gamma_url, ["gamma_events", "gamma_markets"])
        self.clob = make(clob_url, ["clob_book", "clob_books", "clob_read"])
        self.data = make(data_url, ["data_positions"])
        self._overall = {
            "gamma": _bucket("gamma", rate_scale),
            "clob": _bucket("clob", rate_scale),
            "data": _bucket("data", rate_scale),
        }

    # -- lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        await asyncio.gather(self.gamma.aclose(), self.clob.aclose(), self.data.aclose())

    async def __aenter__(self) -> PolymarketClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- Gamma ------------------------------------------------------------------------------

    async def gamma_get(self, path: str, params: Mapping[str, Any], bucket: str = "gamma_markets") -> Any:
        """Any Gamma GET, charged to the overall Gamma window and ``bucket``; retried like all reads."""
        await self._overall["gamma"].acquire()
        return await self.gamma.get_json(path, params, bucket=bucket)

    _gamma_get = gamma_get

    async def _walk(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        key: str,
        bucket: str,
        mode: Pagination,
    ) -> Listing:
        """Page through a Gamma listing, with loop guards. ``key`` names the keyset page's array."""
        items: list[dict[str, Any]] = []
        seen: dict[str, dict[str, Any]] = {}
        repeats: list[dict[str, Any]] = []
        cursors: set[str] = set()
        cursor: str | None = None
        offset = 0
        for page in range(1, self.max_pages + 1):
            query: dict[str, Any] = {**params, "limit": self.page_limit}
            if mode == "keyset":
                if cursor:
                    query["after_cursor"] = cursor
            else:
                query["offset"] = offset
            try:
                body = await self._gamma_get(path + ("/keyset" if mode == "keyset" else ""), query, bucket)
            except VenueHttpError as exc:
                if page > 1 and 400 <= exc.status < 500:
                    # Deep offsets are refused with a validation error; keep what we have.
                    return Listing(items, False, page - 1, f"page {page} refused: HTTP {exc.status}", repeats=repeats)
                raise
            if mode == "keyset":
                if not isinstance(body, Mapping):
                    raise DataError(f"{path}/keyset", f"expected an object, got {type(body).__name__}")
                rows = body.get(key)
                next_cursor = body.get("next_cursor")
            else:
                rows, next_cursor = body, None
            if rows is None and mode == "keyset":
                # Gamma sends its list (an empty one, [], on a last page with nothing in it): an answer without it
                # says nothing of the markets, and taken for none it made Polymarket look empty, no warning (a
                # fault review); refused as Kalshi's listing without its markets is. After the first page, the
                # pages read are kept, the listing incomplete, as for a later page refused.
                if page > 1:
                    return Listing(items, False, page - 1, f"page {page} without its {key} list", repeats=repeats)
                raise DataError(key, "missing")
            if rows is None:
                rows = []
            if not isinstance(rows, list):
                raise DataError(key, f"expected an array, got {type(rows).__name__}")
            fresh = 0
            for row in rows:
                if not isinstance(row, dict):
                    raise DataError(f"{key}[]", f"expected an object, got {type(row).__name__}")
                k = _item_key(row)
                if k not in seen:
                    seen[k] = row
                    items.append(row)
                    fresh += 1
                elif row != seen[k]:
                    repeats.append(row)
            if mode == "keyset":
                if next_cursor in (None, ""):
                    return Listing(items, True, page, repeats=repeats)
                if not isinstance(next_cursor, str):
                    raise DataError("next_cursor", f"expected a string, got {type(next_cursor).__name__}")
                if next_cursor in cursors:
                    return Listing(items, False, page, "next_cursor repeated (cursor ignored by the venue?)",
                                   repeats=repeats)
                if rows and fresh == 0:
                    return Listing(items, False, page, "page held only items already seen", repeats=repeats)
                if not rows:
                    return Listing(items, False, page, "empty page with a next_cursor", repeats=repeats)
                cursors.add(next_cursor)
                cursor = next_cursor
            else:
                if len(rows) < self.page_limit:
                    return Listing(items, True, page, repeats=repeats)
                if fresh == 0:
                    return Listing(items, False, page, "page held only items already seen", repeats=repeats)
                offset += len(rows)
        return Listing(items, False, self.max_pages, f"page cap {self.max_pages} reached", repeats=repeats)

    async def list_events(self, *, closed: bool = False, active: bool | None = True) -> Listing:
        """Raw Gamma events (each with its ``markets[]``). ``closed`` is always sent explicitly."""
        params: dict[str, Any] = {"closed": closed}
        if active is not None:
            params["active"] = active
        return await self._walk("/events", params, key="events", bucket="gamma_events", mode=self.pagination)

    async def list_markets(self, *, closed: bool = False, active: bool | None = True) -> Listing:
        """Raw Gamma markets (each with ``events[0]`` for event facts)."""
        params: dict[str, Any] = {"closed": closed}
        if active is not None:
            params["active"] = active
        return await self._walk("/markets", params, key="markets", bucket="gamma_markets", mode=self.pagination)

    async def get_market(self, gamma_id: str) -> Market:
        body = await self._gamma_get(f"/markets/{gamma_id}", {}, "gamma_markets")
        return parse_gamma_market(body)

    # -- CLOB -------------------------------------------------------------------------------

    async def get_book(self, token_id: str, *, verify_hash: bool = False) -> TokenBook:
        """``GET /book?token_id=``; a 404 (no book for this token) raises :class:`VenueHttpError`."""
        await self._overall["clob"].acquire()
        body = await self.clob.get_json("/book", {"token_id": token_id}, bucket="clob_book")
        book = parse_book(body, verify_hash=verify_hash)
        if book.asset_id != token_id:
            raise DataError("book.asset_id", f"asked for token {token_id[:20]}…, got {book.asset_id[:20]}…")
        return book

    async def _post_books_once(self, body: bytes) -> Any:
        await self._overall["clob"].acquire()
        response = await self.clob.send("POST", "/books", body, bucket="clob_books")
        status = response.status_code
        if status == 429 or status >= 500:
            raise VenueSendFailed(VENUE, f"POST /books: HTTP {status}", may_have_reached=True)
        if status >= 400:
            detail = " ".join(response.content[:200].decode("utf-8", "replace").split())
            raise VenueHttpError(VENUE, "POST", "/books", status, "", detail)
        try:
            return loads_exact(response.content)
        except (ValueError, UnicodeDecodeError):
            snippet = " ".join(response.content[:80].decode("utf-8", "replace").split())
            raise VenueError(f"{VENUE} returned a non-JSON body for POST /books: {snippet!r}") from None

    async def post_books(self, token_ids: Sequence[str]) -> Any:
        """Raw ``POST /books`` body for ``token_ids``, with read-style retries (re-sending is safe)."""
        body = json.dumps([{"token_id": t} for t in token_ids], separators=(",", ":")).encode()
        attempts = max(1, self.retry.attempts)
        last = ""
        for attempt in range(attempts):
            if attempt:
                cap = min(self.retry.max_delay, self.retry.base_delay * 2**attempt)
                await asyncio.sleep(random.uniform(0, cap))
            try:
                return await self._post_books_once(body)
            except VenueSendFailed as exc:
                last = exc.cause
        raise VenueUnavailable(
            VENUE,
            f"POST /books failed after {attempts} attempts: {last}",
            hint="the venue may be down or rate limiting us; try again later",
        )

    _post_books = post_books  # kept for callers written before the public name existed

    async def get_books(
        self, token_ids: Sequence[str], *, verify_hash: bool = False
    ) -> tuple[dict[str, TokenBook], list[FetchError]]:
        """Books for many tokens via ``POST /books`` in batches, one batch after another.

        Tokens the venue returns no book for are simply absent; a malformed book is an error for
        that token only.
        """
        books: dict[str, TokenBook] = {}
        errors: list[FetchError] = []
        unique = list(dict.fromkeys(token_ids))
        for batch in _chunks(unique, self.books_batch):
            got, errs = await self._books_batch(batch, verify_hash=verify_hash)
            books.update(got)
            errors.extend(errs)
        return books, errors

    async def _books_batch(
        self, batch: Sequence[str], *, verify_hash: bool
    ) -> tuple[dict[str, TokenBook], list[FetchError]]:
        body = await self.post_books(batch)
        if not isinstance(body, list):
            raise DataError("books", f"expected an array, got {type(body).__name__}")
        wanted = set(batch)
        books: dict[str, TokenBook] = {}
        errors: list[FetchError] = []
        for i, raw in enumerate(body):
            asset = raw.get("asset_id") if isinstance(raw, Mapping) else None
            label = str(asset)[:80] if asset else f"books[{i}]"
            try:
                book = parse_book(raw, prefix=f"books[{i}]", verify_hash=verify_hash)
            except DataError as exc:
                errors.append(FetchError(label, "books", str(exc)))
                continue
            if book.asset_id in wanted:
                books[book.asset_id] = book
        return books, errors

    async def get_order_book(self, market: Market, *, verify_hash: bool = False) -> OrderBook:
        """Both sides of one market from its two tokens' books (one ``POST /books``)."""
        fetched_at = utcnow()
        books, errors = await self.get_books([market.yes_token, market.no_token], verify_hash=verify_hash)
        if errors:
            raise DataError(f"book {errors[0].item[:20]}", errors[0].message)
        return combine_books(market, books.get(market.yes_token), books.get(market.no_token), fetched_at)

    async def get_clob_market(self, condition_id: str) -> ClobMarketInfo:
        """``GET /clob-markets/{condition_id}``: tick, neg-risk flag and fee parameters."""
        await self._overall["clob"].acquire()
        body = await self.clob.get_json(f"/clob-markets/{condition_id}", bucket="clob_read")
        return parse_clob_market_info(body, condition_id)

    # -- Data API ---------------------------------------------------------------------------

    async def get_positions(self, user: str, *, limit: int = 500, max_pages: int = 20) -> list[dict[str, Any]]:
        """Raw Data-API ``/positions`` rows for a funder address (offset-paged, capped)."""
        rows: list[dict[str, Any]] = []
        for page in range(max_pages):
            await self._overall["data"].acquire()
            body = await self.data.get_json(
                "/positions",
                {"user": user, "limit": limit, "offset": page * limit, "sizeThreshold": 0},
                bucket="data_positions",
            )
            if not isinstance(body, list):
                raise DataError("positions", f"expected an array, got {type(body).__name__}")
            rows.extend(r for r in body if isinstance(r, dict))
            if len(body) < limit:
                return rows
        raise VenueError(f"{VENUE} /positions did not end within {max_pages} pages")
