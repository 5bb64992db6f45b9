"""The live market source: both venues' HTTP APIs, fetched concurrently, degraded not dead.

Why it records raw responses: ``orion snapshot record`` must store what the venues sent, and a
snapshot must replay exactly like live data. So the live source fetches the raw venue objects
(through the venue clients' HTTP layers, with their rate limits and retries) into a
:class:`~orion_cli.venues.snapshot.Capture` and parses that with the very same code a snapshot
goes through. Live data and recordings cannot drift apart. Kalshi's markets and books are parsed
as they arrive (:class:`~orion_cli.venues.snapshot.KalshiParser`, fed the capture's objects in
its order), so the parsing overlaps the requests the rate limit holds back; its series and
events, which price the markets, are read beside the listing.

A venue that cannot be reached (:class:`VenueUnavailable` after retries), rejects us, or answers
with an unusable listing is marked *degraded* and the other venue's data is still returned; only
when every requested venue fails does the fetch raise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orion_cli.core.aio import all_of
from orion_cli.core.errors import (
    AuthError,
    DataError,
    NotFound,
    OrionError,
    VenueError,
    VenueUnavailable,
    venue_cause,
)
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, Venue
from orion_cli.core.redact import mask_web_url
from orion_cli.venues.base import ALL_VENUES, ItemError, MarketData, ProgressEvent, ProgressFn, guess_venue
from orion_cli.venues.snapshot import Capture, KalshiParser, KalshiRaw, PolymarketRaw, parse_capture

if TYPE_CHECKING:
    import httpx

    from orion_cli.core.config import Settings
    from orion_cli.venues.http import AuthCallable, RetryPolicy
    from orion_cli.venues.kalshi.client import KalshiClient
    from orion_cli.venues.polymarket.client import PolymarketClient

__all__ = ["LiveSource"]

_Feed = Callable[[Sequence[Mapping[str, Any]]], None]  # KalshiParser.add_markets / add_orderbooks

_KALSHI_BOOKS_PER_REQUEST = 100
_POLY_BOOK_BATCH_CONCURRENCY = 4
_KALSHI_EVENTS_MAX_PAGES = 10_000  # 2 million open events: a walk that long is a loop, not a listing
# Empty pages in a row, each with a new cursor, after which the open events' walk stops (incomplete): an empty
# page never ends one, and a venue (or a proxy) answering so sent a scan through every page its cap allows
# (10,000, 500 s; found by a fault review). Not applied to /markets (capped at 1,000 pages): whether Kalshi
# filters mve_filter=exclude before or after paging is not known, and empty pages there may be real.
KALSHI_EVENTS_EMPTY_PAGES_MAX = 20
_KALSHI_MISSING_MAX = 100  # listed markets' events or series the listings lacked, read one by one up to this
_PARSE_SLICE = 100  # market or book objects parsed between two turns of the event loop
# What to do when no venue answers: reading commands have offline data sets; recording has none.
OFFLINE_HINT = "check the network; `--snapshot FILE` or `--demo` work offline"
RECORD_OFFLINE_HINT = "recording reads the live venues: check the network (and the venue URLs in the config)"


def unreadable(venue: Venue, what: str, problem: DataError | str, *, hint: str = "") -> VenueError:
    """A venue's answer orion cannot use (a field missing, mistyped or out of range; a fee it does not
    model), as the error a command ends with: exit 5, naming the venue and what was read.

    The parsers raise :class:`DataError`, whose exit 1 is an internal error's; here the data came
    from the venue, which is at fault as when it answers with a body that is not JSON at all (already
    a :class:`VenueError`). Turned here, where the live reads meet the parsers, not in the CLI: a
    ``DataError`` elsewhere (the ledger's own records) stays an internal error.
    """
    return VenueError(f"{venue.value} {what}: {problem}", hint=hint or None)


def _err(venue: str, kind: str, key: str, exc: OrionError) -> ItemError:
    return ItemError(venue, kind, key, str(exc), exc.reason)


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _first_markets(event: dict[str, Any], n: int) -> tuple[dict[str, Any], list[Market]]:
    """A Gamma event cut to its first ``n`` readable markets (and the bad ones among them), marked partial.

    ``"_orion_partial"`` (docs/snapshot-format.md) says the nested list is not the event's full set
    of outcomes, so a cut neg-risk event is never priced as a complete basket.
    """
    from orion_cli.venues.polymarket.parse import parse_gamma_event, parse_gamma_market

    kept: list[Any] = []
    readable = 0
    for m in event.get("markets") or []:
        if readable >= n:
            break
        kept.append(m)
        try:
            parse_gamma_market(m, event=event)
            readable += 1
        except DataError:
            pass  # kept: reported, with its reason, when the capture is parsed
    cut = {**event, "markets": kept, "_orion_partial": True}
    return cut, parse_gamma_event(cut, skipped=[])


class LiveSource:
    """Kalshi and Polymarket over HTTP, configured from :class:`Settings`.

    ``kalshi_auth`` signs Kalshi requests (Kalshi's spec lists auth on the order-book endpoints);
    without it books are requested unsigned and a refusal becomes a per-book error, not a failure
    of the whole venue. Transports are injectable for the loopback simulators in tests.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        kalshi_auth: AuthCallable | None = None,
        kalshi_transport: httpx.AsyncBaseTransport | None = None,
        polymarket_transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.kalshi_auth = kalshi_auth
        self._k_transport = kalshi_transport
        self._p_transport = polymarket_transport
        self._retry = retry

    @property
    def name(self) -> str:
        return f"live venues (kalshi {self.settings.kalshi.environment})"

    @property
    def kalshi_url(self) -> str:
        return self.settings.kalshi.base_url

    def enabled(self, venues: Sequence[Venue]) -> tuple[Venue, ...]:
        from orion_cli.core.config import enabled_venues

        on = enabled_venues(self.settings)
        return tuple(v for v in venues if v in on)

    # -- clients ------------------------------------------------------------------------------

    def kalshi_client(self) -> KalshiClient:
        from orion_cli.venues.kalshi.client import KalshiClient, RateTier

        k = self.settings.kalshi
        tier = RateTier("config", float(k.read_tokens_per_second), float(k.read_tokens_per_second),
                        float(k.write_tokens_per_second), float(k.write_tokens_per_second))
        extra: dict[str, Any] = {"retry": self._retry} if self._retry is not None else {}
        return KalshiClient(self.kalshi_url, signer=self.kalshi_auth, tier=tier,  # type: ignore[arg-type]
                            max_concurrency=k.max_concurrency, timeout=float(k.timeout_seconds),
                            transport=self._k_transport, **extra)

    def polymarket_client(self, *, max_pages: int | None = None) -> PolymarketClient:
        from orion_cli.venues.polymarket.client import PolymarketClient

        p = self.settings.polymarket
        extra: dict[str, Any] = {"retry": self._retry} if self._retry is not None else {}
        if max_pages is not None:
            extra["max_pages"] = max_pages
        return PolymarketClient(gamma_url=p.gamma_url, clob_url=p.clob_url, data_url=p.data_url,
                                timeout=float(p.timeout_seconds), max_concurrency=p.max_concurrency,
                                transport=self._p_transport, **extra)

    # -- the MarketSource API -----------------------------------------------------------------

    async def fetch(
        self,
        venues: Sequence[Venue] = ALL_VENUES,
        *,
        with_books: bool = True,
        limit: int | None = None,
        progress: ProgressFn | None = None,
    ) -> MarketData:
        # Kalshi's markets and books are parsed as they arrive, by the code a snapshot is parsed with.
        parser = KalshiParser(datetime.now(UTC))
        capture = await self.capture(venues, with_books=with_books, limit=limit, progress=progress,
                                     kalshi_parser=parser)
        data = parse_capture(capture, capture.venues, source=self.name, with_books=with_books, limit=limit,
                             kalshi_parser=parser)
        # Not a recording: its markets are judged open or closed at the current time (MarketData.market_clock),
        # not when the fetch began (a market closing during a long listing was offered, then refused).
        data.recorded_at = None
        return data

    async def capture(
        self,
        venues: Sequence[Venue] = ALL_VENUES,
        *,
        with_books: bool = True,
        limit: int | None = None,
        progress: ProgressFn | None = None,
        offline_hint: str = OFFLINE_HINT,
        kalshi_parser: KalshiParser | None = None,
    ) -> Capture:
        """Raw responses of every requested venue, fetched concurrently (``kalshi_parser``: fed Kalshi's
        markets and books as they are captured, for :func:`parse_capture` to finish).

        Raises when every requested venue failed: :class:`VenueUnavailable` (with ``offline_hint``)
        if any was unreachable, else the first venue's own error (e.g. :class:`AuthError`, exit 4; a
        listing orion cannot read is a :class:`VenueError`, exit 5).
        """
        wanted = self.enabled(venues)
        if not wanted:
            from orion_cli.core.config import no_venue_enabled

            raise no_venue_enabled(venues)
        capture = Capture(recorded_at=datetime.now(UTC), recorder="orion snapshot record",
                          # Masked: a snapshot is a file to share, and a proxy's password has no place in it.
                          environment={"kalshi": self.settings.kalshi.environment, "polymarket": "prod",
                                       "kalshi_url": mask_web_url(self.kalshi_url),
                                       "polymarket_gamma_url": mask_web_url(self.settings.polymarket.gamma_url),
                                       "polymarket_clob_url": mask_web_url(self.settings.polymarket.clob_url)})
        jobs: dict[Venue, Callable[[], Awaitable[Any]]] = {
            Venue.KALSHI: lambda: self._capture_kalshi(capture, with_books, limit, progress, kalshi_parser),
            Venue.POLYMARKET: lambda: self._capture_polymarket(capture, with_books, limit, progress),
        }
        results = await asyncio.gather(*(jobs[v]() for v in wanted), return_exceptions=True)
        failures: list[tuple[Venue, BaseException]] = []
        for venue, result in zip(wanted, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, OrionError):
                    raise result
                if isinstance(result, DataError):  # the listing's own shape: the venue's data is at fault
                    result = unreadable(venue, "listing", result)
                failures.append((venue, result))
                capture.degraded[venue.value] = venue_cause(result)  # the banner and a replay name the venue
        if len(failures) == len(wanted):
            unreachable = [exc for _, exc in failures if isinstance(exc, VenueUnavailable)]
            if len(failures) == 1:
                raise failures[0][1]
            if unreachable:
                raise VenueUnavailable(
                    " and ".join(v.value for v, _ in failures),
                    "; ".join(f"{v.value}: {capture.degraded[v.value]}" for v, _ in failures),
                    hint=offline_hint,
                )
            raise failures[0][1]
        return capture

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        """See :meth:`MarketSource.book`; ``with_fees`` matters on Kalshi only (a Gamma market
        states its own fee, read with it)."""
        venue = venue or guess_venue(ref)
        if venue is Venue.KALSHI:
            capture = Capture(kalshi=await self._kalshi_one(ref.strip().upper(), with_fees=with_fees))
        else:
            capture = Capture(polymarket=await self._polymarket_one(ref.strip()))
        data = parse_capture(capture, (venue,), source=self.name)
        if not data.markets:
            # The market's own error first: "fee unknown (series S: …)" says whose fee, where the
            # series' error before it names only the field.
            own = [e for e in data.errors if e.kind == "market"] or data.errors
            detail = own[0].message if own else "not listed"
            raise unreadable(venue, f"market {ref}", detail, hint=own[0].hint if own else "")
        market = data.markets[0]
        book = data.book_for(market)
        if book is None and market.status in (MarketStatus.CLOSED, MarketStatus.SETTLED):
            # A market that has ended takes no orders: the venue may serve no book for it, and its
            # state and result (what settlement and `orion book` read) do not need one.
            return market, OrderBook(market.venue, market.id, BookSide(), BookSide(), datetime.now(UTC))
        if book is None:
            detail = "; ".join(e.message for e in data.errors if e.kind == "book") or "no book returned"
            raise unreadable(venue, f"book {market.id}", detail)
        return market, book

    async def category(self, ref: str, *, venue: Venue) -> str:
        """A market's category alone, as a scan reads it (its series' or else its event's on Kalshi, Gamma's on
        Polymarket): what `reconcile --fix` records a position it adopts under. Read without pricing: a market
        whose fee orion does not model is one it will not trade, and :meth:`book` refuses it, but what an
        account holds there counts toward its category's cap all the same (found reviewing the adoption)."""
        from orion_cli.venues.kalshi.parse import series_ticker_of
        from orion_cli.venues.polymarket.parse import gamma_category

        if venue is Venue.POLYMARKET:
            return gamma_category((await self._polymarket_one(ref.strip(), with_books=False)).markets[0])
        ticker = ref.strip().upper()
        async with self.kalshi_client() as client:
            async def get(path: str, params: Any = None) -> Any:
                return await client.http.get_json(path, params, bucket="read", cost=client.request_cost)

            market = await self._kalshi_object(get, f"/markets/{ticker}", "market")
            event_ticker = str(market.get("event_ticker") or "")
            event = await self._kalshi_object(get, f"/events/{event_ticker}", "event") if event_ticker else {}
            named = event.get("series_ticker")
            series_ticker = named if isinstance(named, str) and named else series_ticker_of(event_ticker)
            series = await self._kalshi_object(get, f"/series/{series_ticker}", "series") if series_ticker else {}
        for source in (series, event):
            category = source.get("category")
            if isinstance(category, str) and category.strip():
                return category.strip()
        return ""

    # -- Kalshi -------------------------------------------------------------------------------

    async def _capture_kalshi(self, capture: Capture, with_books: bool, limit: int | None,
                              progress: ProgressFn | None, parser: KalshiParser | None = None) -> None:
        """The raw Kalshi capture; ``parser``, when given, is fed each page of markets and each batch of
        books as it is added to the capture (in the capture's order), so that parsing them overlaps
        the requests the rate limit holds back, instead of following the last of them."""
        from orion_cli.venues.kalshi.client import MARKETS_MAX_LIMIT
        from orion_cli.venues.kalshi.parse import series_ticker_of

        raw = KalshiRaw(fetched_at=parser.fetched_at if parser is not None else datetime.now(UTC))
        async with self.kalshi_client() as client:
            async def get(path: str, params: Any = None) -> Any:
                return await client.http.get_json(path, params, bucket="read", cost=client.request_cost)

            worker: asyncio.Task[None] | None = None
            fee_tasks: list[asyncio.Task[None]] = []  # /series and the /events walk
            book_tasks: list[asyncio.Task[None]] = []
            books_done = [0]
            # The parser's work, in the order the capture grows: (its feed, the objects just added).
            parse_jobs: asyncio.Queue[tuple[_Feed, list[dict[str, Any]]] | None] = asyncio.Queue()

            async def parse_worker() -> None:
                assert parser is not None
                while (job := await parse_jobs.get()) is not None:
                    feed, items = job
                    for i in range(0, len(items), _PARSE_SLICE):
                        feed(items[i : i + _PARSE_SLICE])
                        await asyncio.sleep(0)  # the requests waiting on the loop go out between slices

            def added(feed: _Feed | None, items: list[dict[str, Any]]) -> None:
                if feed is not None and items:
                    parse_jobs.put_nowait((feed, items))

            feed_markets = parser.add_markets if parser is not None else None
            feed_books = parser.add_orderbooks if parser is not None else None

            async def books(chunk: list[str]) -> None:
                try:
                    body = await get("/markets/orderbooks", [("tickers", t) for t in chunk])
                    items = body.get("orderbooks") if isinstance(body, Mapping) else None
                    if not isinstance(items, list):
                        raise DataError("orderbooks", "missing or not a list")
                    wanted = set(chunk)
                    got = [it for it in items if isinstance(it, dict) and it.get("ticker") in wanted]
                    raw.orderbooks.extend(got)
                    added(feed_books, got)
                    found = {it["ticker"] for it in got}
                    capture.errors.extend(ItemError("kalshi", "book", t, f"{t}: missing from the orderbooks answer",
                                                    "book_missing") for t in chunk if t not in found)
                except OrionError as exc:
                    capture.errors.extend(_err("kalshi", "book", t, exc) for t in chunk)
                books_done[0] += len(chunk)
                if progress:
                    progress(ProgressEvent("kalshi", "books", books_done[0], distinct))

            page_size = min(limit, MARKETS_MAX_LIMIT) if limit else None
            pages = 0
            seen: set[str] = set()
            distinct = 0  # markets listed, each counted once however often the listing sent it
            walked: list[dict[str, Any]] = []  # every open event the walk read; ours are kept when it ends
            try:
                if parser is not None:
                    worker = asyncio.create_task(parse_worker())
                if not limit:
                    # The series (fee schedules) and events (titles, fee overrides) price every market: read
                    # beside the listing, not after it, so the markets can be priced as the last books come in.
                    fee_tasks.append(asyncio.create_task(self._kalshi_series(get, raw, capture)))
                    fee_tasks.append(asyncio.create_task(self._kalshi_events(get, walked, capture)))
                try:
                    async for page in client.iter_market_pages(limit=page_size):
                        pages += 1
                        fresh: list[str] = []
                        listed: list[dict[str, Any]] = []
                        for obj in page.markets:
                            t = obj.get("ticker")
                            again = isinstance(t, str) and t in seen
                            if isinstance(t, str) and not again:
                                seen.add(t)
                                fresh.append(t)
                            # A market sent again (the listing shifted between two pages) is recorded and fed
                            # too: the parser collapses copies that agree and refuses the market when they do
                            # not (open on one page, closed on the next), rather than keep the first unseen.
                            listed.append(dict(obj))
                            distinct += not again
                            if limit and distinct >= limit:
                                break
                        raw.markets.extend(listed)
                        added(feed_markets, listed)
                        if progress:
                            progress(ProgressEvent("kalshi", "markets", distinct, None))
                        if with_books:
                            book_tasks.extend(asyncio.create_task(books(c))
                                              for c in _chunks(fresh, _KALSHI_BOOKS_PER_REQUEST))
                        if limit and distinct >= limit:
                            break
                except OrionError as exc:
                    if pages == 0 or isinstance(exc, AuthError):
                        raise
                    raw.complete, raw.stop_reason = False, f"page {pages + 1}: {exc}"
                    capture.errors.append(_err("kalshi", "page", f"page {pages + 1}", exc))
                if limit and distinct >= limit:
                    raw.complete, raw.stop_reason = False, f"limited to {limit} markets"
                # The events and series of the markets listed: the whole lists, or just ours when limited.
                event_tickers = list(dict.fromkeys(str(m.get("event_ticker")) for m in raw.markets
                                                   if m.get("event_ticker")))
                if limit:
                    series_tickers = list(dict.fromkeys(series_ticker_of(e) for e in event_tickers))
                    await asyncio.gather(
                        *(self._kalshi_single(get, f"/series/{s}", "series", raw.series, capture, s)
                          for s in series_tickers),
                        *(self._kalshi_single(get, f"/events/{e}", "event", raw.events, capture, e)
                          for e in event_tickers))
                else:
                    await asyncio.gather(*fee_tasks)
                    wanted = set(event_tickers)
                    raw.events.extend(e for e in walked if e.get("event_ticker") in wanted)
                    walked.clear()
                    if not any(e.kind == "events" and e.venue == "kalshi" for e in capture.errors):
                        # Read whole while the listing went on, the walk can miss an event opened meanwhile
                        # (or one not listed as open): each is read on its own, up to a few.
                        missing = wanted - {str(e.get("event_ticker")) for e in raw.events}
                        if 0 < len(missing) <= _KALSHI_MISSING_MAX:
                            await asyncio.gather(*(
                                self._kalshi_single(get, f"/events/{e}", "event", raw.events, capture, e)
                                for e in event_tickers if e in missing))
                        else:  # too many to read one by one: refused, never priced without the event's
                            # own fee override (review: past 100 they were priced by their series, silently)
                            capture.errors.extend(ItemError(
                                "kalshi", "event", e, f"kalshi event {e}: not in the /events walk, and "
                                f"{len(missing)} events missing are more than orion reads one by one",
                                "incomplete") for e in event_tickers if e in missing)
                if not any(e.kind == "series" and e.key == "/series" for e in capture.errors if e.venue == "kalshi"):
                    # A series the listing did not hold (one opened meanwhile; with --limit, one an event names
                    # other than its ticker's prefix) leaves its markets' fee unknown: read each on its own.
                    named = {e.get("event_ticker"): e.get("series_ticker") for e in raw.events}
                    have = {s.get("ticker") for s in raw.series}
                    # One already read on its own and failed (--limit) has its error: not read, nor said, twice.
                    have |= {e.key for e in capture.errors if e.venue == "kalshi" and e.kind == "series"}
                    missing_series = [st for st in dict.fromkeys(
                        str(named[et]) if isinstance(named.get(et), str) and named[et] else series_ticker_of(et)
                        for et in event_tickers) if st not in have]
                    if 0 < len(missing_series) <= _KALSHI_MISSING_MAX:
                        await asyncio.gather(*(self._kalshi_single(get, f"/series/{st}", "series", raw.series,
                                                                   capture, st) for st in missing_series))
                    else:  # too many to read one by one: their markets are refused, not priced at a default
                        capture.errors.extend(ItemError(
                            "kalshi", "series", st, f"kalshi series {st}: not in the /series listing, and "
                            f"{len(missing_series)} series missing are more than orion reads one by one",
                            "incomplete") for st in missing_series)
                await asyncio.gather(*book_tasks)
                if worker is not None:
                    parse_jobs.put_nowait(None)
                    await worker
            except BaseException:
                pending = [*fee_tasks, *book_tasks, *([worker] if worker is not None else [])]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                raise
        capture.kalshi = raw

    @staticmethod
    async def _kalshi_object(get: Callable[..., Awaitable[Any]], path: str, kind: str) -> dict[str, Any]:
        """The ``kind`` object of a single-object answer (``{"series": {…}}``), without nested markets."""
        body = await get(path)
        obj = body.get(kind) if isinstance(body, Mapping) else None
        if not isinstance(obj, dict):
            raise DataError(kind, "missing or not an object")
        return {k: v for k, v in obj.items() if k != "markets"}

    @staticmethod
    async def _kalshi_single(get: Callable[..., Awaitable[Any]], path: str, kind: str, into: list[dict[str, Any]],
                             capture: Capture, key: str) -> None:
        try:
            into.append(await LiveSource._kalshi_object(get, path, kind))
        except AuthError:
            raise
        except OrionError as exc:
            capture.errors.append(_err("kalshi", kind, key, exc))

    @staticmethod
    async def _kalshi_series(get: Callable[..., Awaitable[Any]], raw: KalshiRaw, capture: Capture) -> None:
        try:
            body = await get("/series")
            items = body.get("series") if isinstance(body, Mapping) else None
            if not isinstance(items, list):  # absent too: an answer without the listing is no empty listing
                raise DataError("series", "missing" if items is None else "not a list")
            raw.series.extend(s for s in items if isinstance(s, dict))
        except AuthError:
            raise
        except OrionError as exc:
            capture.errors.append(_err("kalshi", "series", "/series", exc))

    @staticmethod
    async def _kalshi_events(get: Callable[..., Awaitable[Any]], into: list[dict[str, Any]],
                             capture: Capture) -> None:
        """Every open event's object, into ``into`` (the caller keeps the listed markets' events: titles,
        fee overrides).

        Only an empty cursor ends the walk as complete. A repeated cursor (a garbage cursor makes
        Kalshi answer page 1 again) or the page cap stops it with an ``events`` item error, as
        :meth:`KalshiClient.get_events` raises ``PaginationError`` there: the events after it were
        not read, and a market parsed without its event loses the event's fee override."""
        cursor: str | None = None
        seen: set[str] = set()
        stopped = f"more than {_KALSHI_EVENTS_MAX_PAGES} pages"  # unless the walk ends or a cursor repeats
        empty = 0
        try:
            for page in range(1, _KALSHI_EVENTS_MAX_PAGES + 1):
                body = await get("/events", {"limit": 200, "status": "open", "cursor": cursor})
                items = body.get("events") if isinstance(body, Mapping) else None
                if not isinstance(items, list):
                    raise DataError("events", "missing or not a list")
                into.extend(e for e in items if isinstance(e, dict))
                nxt = body.get("cursor")
                if not nxt or not isinstance(nxt, str):
                    return
                if nxt in seen:
                    stopped = f"cursor repeated at page {page}"
                    break
                empty = 0 if items else empty + 1
                if empty >= KALSHI_EVENTS_EMPTY_PAGES_MAX:
                    stopped = f"{empty} empty pages in a row, each with a new cursor, at page {page}"
                    break
                seen.add(nxt)
                cursor = nxt
            capture.errors.append(ItemError("kalshi", "events", "/events",
                                            f"kalshi /events: {stopped}; the events after it were not read",
                                            "incomplete"))
        except AuthError:
            raise
        except OrionError as exc:
            capture.errors.append(_err("kalshi", "events", "/events", exc))

    async def _kalshi_one(self, ticker: str, *, with_fees: bool = True) -> KalshiRaw:
        """One market with its book, series and event, read afresh: what ``orion trade`` prices on.

        Unlike a scan, which lists a series or event it could not fetch and goes on, this read fails
        with it. The series and the event carry the market's fee (type, multiplier, override), and
        the default quadratic x1 stands only for a series nobody asked for: a market priced at it
        while its series charges x2 shows an edge the venue's fee takes back, and ``trade`` would
        send it. So a series or event that cannot be fetched raises, naming it, the market and
        "fee unknown": :class:`VenueUnavailable` when Kalshi could not be reached after retries,
        :class:`VenueError` when it answered with something unusable (a 404, a body without the
        object), both exit 5 like the book itself, so ``trade`` sends nothing and can be run again;
        :class:`AuthError` as it came (exit 4). One fetched but stating a fee orion does not model
        (``flat``, an unknown or empty type, a bad multiplier) is refused by the parser, as in a
        scan, and :meth:`book` says so (``VenueError``, exit 5: "fee unknown (series S: …)").

        ``with_fees=False`` reads the market and its book only, for a reader that does not price:
        the executor's hedge retry, which only asks whether the book still offers its limit (a
        series failing to answer sent a filled first leg to the unwind), and paper settlement, which
        asks for the result (a series whose fee orion does not model kept the position from ever
        settling). Nothing then fails for the fee, and the market carries the default fee stand-in.
        """
        from orion_cli.venues.http import VenueHttpError
        from orion_cli.venues.kalshi.parse import series_ticker_of

        raw = KalshiRaw(fetched_at=datetime.now(UTC))
        async with self.kalshi_client() as client:
            async def get(path: str, params: Any = None) -> Any:
                return await client.http.get_json(path, params, bucket="read", cost=client.request_cost)

            async def fee_source(kind: str, key: str, path: str, into: list[dict[str, Any]]) -> None:
                if not with_fees:
                    return  # not asked for, so not read: the market keeps the default stand-in
                if not key:
                    return  # no event ticker: the parser refuses the market and names the field
                what = f"{kind} {key}"
                try:
                    into.append(await self._kalshi_object(get, path, kind))
                except AuthError:
                    raise
                except VenueUnavailable as exc:
                    raise VenueUnavailable("kalshi", f"fee unknown for {ticker}: {what} could not be read "
                                                     f"({exc.cause})", hint=exc.hint) from None
                except OrionError as exc:
                    raise VenueError(f"kalshi market {ticker}: fee unknown: {what} could not be read ({exc})",
                                     hint=exc.hint) from None

            try:
                body = await get(f"/markets/{ticker}")
            except VenueHttpError as exc:
                if exc.status == 404:
                    raise NotFound(f"no Kalshi market {ticker}", reason="market_not_found") from None
                raise
            market = body.get("market") if isinstance(body, Mapping) else None
            if not isinstance(market, dict):
                raise unreadable(Venue.KALSHI, f"market {ticker}", "market: missing or not an object")
            raw.markets.append(market)
            et = str(market.get("event_ticker") or "")
            st = series_ticker_of(et)
            book_body, _, _ = await all_of(
                get(f"/markets/{ticker}/orderbook"),
                fee_source("series", st, f"/series/{st}", raw.series),
                fee_source("event", et, f"/events/{et}", raw.events),
            )
            # The parser prices by the event's own series; fetched in parallel by the ticker's prefix,
            # the series it names may be another, which would otherwise leave the fee at the default.
            named = raw.events[0].get("series_ticker") if raw.events else None
            if isinstance(named, str) and named and named != st:
                await fee_source("series", named, f"/series/{named}", raw.series)
            # As answered, for the parser to judge: an answer without the book ({}, a list, the old cent shape)
            # was made {"orderbook_fp": None}, which it reads as a wholly empty book (found by a fault review: a
            # trade refused by INVALID_ORDER "size 0", naming no venue).
            answered = dict(book_body) if isinstance(book_body, Mapping) else {}
            raw.orderbooks.append({**answered, "ticker": ticker})
        return raw

    # -- Polymarket ---------------------------------------------------------------------------

    async def _capture_polymarket(self, capture: Capture, with_books: bool, limit: int | None,
                                  progress: ProgressFn | None) -> None:
        from orion_cli.venues.polymarket.client import KEYSET_MAX_LIMIT
        from orion_cli.venues.polymarket.parse import parse_gamma_event

        raw = PolymarketRaw(fetched_at=datetime.now(UTC))
        max_pages = None
        if limit:
            # Events hold one or more markets, so ``limit`` events always cover ``limit`` markets.
            max_pages = max(1, -(-limit // KEYSET_MAX_LIMIT))
        async with self.polymarket_client(max_pages=max_pages) as client:
            listing = await client.list_events()
            open_markets: list[Market] = []
            count = 0
            for ev in listing.items:
                try:
                    parsed = parse_gamma_event(ev, skipped=[])
                except DataError:
                    parsed = []  # reported again, with its reason, when the capture is parsed
                if limit and count + len(parsed) > limit:
                    # An event holds several markets: keep only as many as the limit leaves, so that
                    # every market recorded gets its books.
                    ev, parsed = _first_markets(ev, limit - count)
                raw.events.append(ev)
                count += len(parsed)
                open_markets.extend(m for m in parsed if m.status is MarketStatus.OPEN)
                if limit and count >= limit:
                    break
            if not limit:
                # An event the listing sent again, changed (it shifted between pages): recorded after the
                # others, for the parser to refuse a market whose copies disagree. Its books are those of
                # the first copy's tokens. Not under --limit, whose events are cut to the markets kept.
                raw.events.extend(listing.repeats)
            if progress:
                progress(ProgressEvent("polymarket", "markets", count, count))
            if limit and (count >= limit or not listing.complete):
                raw.complete, raw.stop_reason = False, f"limited to {limit} markets"
            elif not listing.complete:
                raw.complete, raw.stop_reason = False, listing.stop_reason
                capture.errors.append(ItemError("polymarket", "listing", "listing",
                                                f"listing incomplete: {listing.stop_reason}", "incomplete"))
            if with_books:
                await self._polymarket_books(client, open_markets[:limit] if limit else open_markets, raw,
                                             capture, progress)
        capture.polymarket = raw

    @staticmethod
    async def _polymarket_books(client: PolymarketClient, markets: Sequence[Market], raw: PolymarketRaw,
                                capture: Capture, progress: ProgressFn | None) -> None:
        tokens = list(dict.fromkeys(t for m in markets for t in (m.yes_token, m.no_token)))
        batches = _chunks(tokens, client.books_batch)
        sem = asyncio.Semaphore(_POLY_BOOK_BATCH_CONCURRENCY)
        done = [0]

        async def run(batch: list[str]) -> None:
            async with sem:
                try:
                    # POST /books is a read; the client's retrying helper is not public yet.
                    body = await client._post_books(batch)
                    if not isinstance(body, list):
                        raise DataError("books", f"expected an array, got {type(body).__name__}")
                    wanted = set(batch)
                    raw.books.extend(b for b in body if isinstance(b, dict) and str(b.get("asset_id")) in wanted)
                except OrionError as exc:
                    capture.errors.append(_err("polymarket", "book", f"{len(batch)} tokens", exc))
                done[0] += len(batch)
                if progress:
                    progress(ProgressEvent("polymarket", "books", done[0], len(tokens)))

        await asyncio.gather(*(run(b) for b in batches))

    async def _polymarket_one(self, ref: str, *, with_books: bool = True) -> PolymarketRaw:
        from orion_cli.venues.polymarket.parse import parse_gamma_market

        if ref.startswith("0x"):
            params: dict[str, Any] = {"condition_ids": ref.lower()}
        elif ref.isdigit():
            params = {"clob_token_ids": ref}
        else:
            params = {"slug": ref}
        raw = PolymarketRaw(fetched_at=datetime.now(UTC))
        async with self.polymarket_client() as client:
            chosen: dict[str, Any] | None = None
            # Gamma's /markets answers only open markets unless `closed` is sent (reference §1): an
            # id look-up asks for open ones, then closed ones, so a resolved market is found too
            # (paper settlements read it; `orion book` shows it as closed).
            for closed in (False, True):
                await client._overall["gamma"].acquire()
                body = await client.gamma.get_json("/markets", {**params, "closed": closed}, bucket="gamma_markets")
                chosen = _gamma_row_named(body, ref)
                if chosen is not None:
                    break
            if chosen is None:
                raise NotFound(f"no Polymarket market {ref!r}", reason="market_not_found",
                               hint="use a condition id (0x…), an outcome token id or a market slug")
            raw.markets.append(chosen)
            if not with_books:
                return raw
            try:
                market = parse_gamma_market(chosen)
            except DataError as exc:
                raise unreadable(Venue.POLYMARKET, f"market {ref}", exc) from None
            body = await client._post_books([market.yes_token, market.no_token])
            if isinstance(body, list):
                raw.books.extend(b for b in body if isinstance(b, dict))
        return raw


def _gamma_row_named(body: Any, ref: str) -> dict[str, Any] | None:
    """The row of a Gamma ``/markets`` answer that ``ref`` names (condition id, slug or token id)."""
    rows = body.get("markets") if isinstance(body, Mapping) else body
    if not isinstance(rows, list):
        raise unreadable(Venue.POLYMARKET, f"market {ref}", f"markets: expected an array, got {type(rows).__name__}")
    for row in rows:
        if not isinstance(row, dict):
            continue
        tokens = row.get("clobTokenIds") or row.get("positionIds") or "[]"
        try:
            token_list = json.loads(tokens) if isinstance(tokens, str) else tokens
        except (ValueError, RecursionError):
            token_list = []  # still found by condition id or slug; parsing it then names the bad field
        if not isinstance(token_list, list):
            token_list = []
        ids = {str(row.get("conditionId", "")).lower(), str(row.get("slug", "")).lower(),
               *(str(t) for t in token_list or [])}
        if ref.lower() in ids:
            return row
    return None
