"""A Kalshi Trade API v2 simulator on :class:`sim.server.SimServer`, held to recorded responses.

Every body it serves is built from the real captures in ``../shared/fixtures/kalshi/`` (market
objects are the recorded ones or copies of them with varied tickers and prices), in their key
order and types: ``cursor: ""`` on the last page, a garbage cursor silently answers page 1,
``limit`` above the maximum is a bare ``{"msg": ...}`` 400, order books are bids only in
ascending price order, and signed requests are verified (RSA-PSS) against registered public keys
with the recorded 401 bodies.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from sim.server import FaultRule, SimRequest, SimResponse, SimServer

from orion_cli.venues.kalshi.signing import verify_signature

__all__ = ["API_PREFIX", "FIXTURES", "KalshiSim", "load_fixture"]

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
KALSHI_FIXTURES = FIXTURES / "kalshi"
API_PREFIX = "/trade-api/v2"

# The ``status`` filter vocabulary → the response vocabulary (recorded: closed → determined).
_STATUS_FILTER = {
    "unopened": {"initialized"},
    "open": {"active"},
    "paused": {"inactive"},
    "closed": {"closed", "determined", "disputed", "amended"},
    "settled": {"finalized"},
}
_EVENT_STATUS_FILTER = {"unopened": "unopened", "open": "open", "closed": "closed", "settled": "settled"}

LIMIT_OVER_MAX = {
    "msg": "Parameter validation failed for GetMarkets: Key: 'GetMarketsParams.Limit' "
    "Error:Field validation for 'Limit' failed on the 'lte' tag"
}
NOT_FOUND = {"error": {"code": "not_found", "message": "not found", "service": "exchange"}}


def load_fixture(name: str) -> Any:
    """A recorded Kalshi body (``markets__page1`` → ``kalshi/markets__page1.json``)."""
    return json.loads((KALSHI_FIXTURES / f"{name}.json").read_text())


def _recorded_401(name: str) -> SimResponse:
    return SimResponse(401, load_fixture(name))


def _dollars(p: float | int) -> str:
    return f"{p:.4f}"


class KalshiSim:
    """The Kalshi market-data endpoints orion uses, with auth checks and fault injection."""

    MARKETS_MAX_LIMIT = 1000
    EVENTS_MAX_LIMIT = 200
    BATCH_BOOKS_MAX = 100

    def __init__(
        self,
        markets: Iterable[Mapping[str, Any]] | None = None,
        *,
        seed: int = 0,
        require_auth_for_books: bool = False,
        timestamp_window: tuple[float, float] = (15.0, 60.0),
    ) -> None:
        self.server = SimServer("kalshi", seed=seed)
        self.seed = seed
        source = markets if markets is not None else self.recorded_markets()
        self.markets: list[dict[str, Any]] = [dict(m) for m in source]
        self._index = {m["ticker"]: m for m in self.markets}
        self._by_event_cache: dict[str, list[dict[str, Any]]] | None = None
        self.books: dict[str, dict[str, Any]] = {}
        base_book = load_fixture("orderbook__base")["orderbook_fp"]
        self.books.setdefault("KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP", base_book)
        self.events_extra: dict[str, dict[str, Any]] = {}
        for e in json.loads((FIXTURES / "crossvenue" / "kalshi_nba_events.json").read_text())["events"]:
            self.events_extra[e["event_ticker"]] = e
        self.series_fees: dict[str, tuple[str, int | float]] = {}
        self.event_fee_overrides: dict[str, tuple[str, int | float]] = {}
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self.require_auth_for_books = require_auth_for_books
        self.timestamp_window = timestamp_window
        self.empty_side_as_null = False
        self.auth_failures = 0
        self._cursors: dict[str, int] = {}
        self._install_routes()
        self.server.rate_limit_cost = 10.0  # Kalshi bills 10 tokens per request by default

    # -- data -------------------------------------------------------------------------------

    @staticmethod
    def recorded_markets() -> list[dict[str, Any]]:
        """Every distinct recorded market object (open, closed, settled, unopened)."""
        out: dict[str, dict[str, Any]] = {}
        for name in (
            "markets__status_open",
            "markets__single_filter_lastpage",
            "markets__high_temp",
            "markets__page1",
            "markets__page2",
            "markets__page3",
            "markets__status_closed",
            "markets__status_settled",
        ):
            for m in load_fixture(name)["markets"]:
                out.setdefault(m["ticker"], m)
        return list(out.values())

    @staticmethod
    def universe(n: int, *, seed: int = 0, per_event: int = 10) -> list[dict[str, Any]]:
        """``n`` open markets made by varying real recorded ones (tickers, events, prices).

        Templates are the recorded *active* non-combo markets; copies are shallow (nested
        objects such as ``price_ranges`` are shared, read-only) to keep 50k markets cheap.
        """
        rng = random.Random(seed)
        templates = [
            m
            for m in load_fixture("markets__status_open")["markets"]
            if m["status"] == "active" and "mve_collection_ticker" not in m
        ]
        out: list[dict[str, Any]] = []
        for i in range(n):
            t = templates[i % len(templates)]
            series = t["event_ticker"].split("-", 1)[0]
            event = f"{series}-SIM{i // per_event:06d}"
            m = copy.copy(t)
            bid = rng.randint(2, 90)
            ask = min(99, bid + rng.randint(1, 8))
            m["ticker"] = f"{event}-M{i % per_event}"
            m["event_ticker"] = event
            m["yes_bid_dollars"] = _dollars(bid / 100)
            m["yes_ask_dollars"] = _dollars(ask / 100)
            m["no_bid_dollars"] = _dollars((100 - ask) / 100)
            m["no_ask_dollars"] = _dollars((100 - bid) / 100)
            m["yes_bid_size_fp"] = f"{rng.randint(1, 500)}.00"
            m["yes_ask_size_fp"] = f"{rng.randint(1, 500)}.00"
            out.append(m)
        return out

    def add_market(self, market: Mapping[str, Any]) -> None:
        m = dict(market)
        self.markets.append(m)
        self._index[m["ticker"]] = m
        self._by_event_cache = None

    @property
    def by_event(self) -> dict[str, list[dict[str, Any]]]:
        if self._by_event_cache is None:
            cache: dict[str, list[dict[str, Any]]] = {}
            for m in self.markets:
                cache.setdefault(m["event_ticker"], []).append(m)
            self._by_event_cache = cache
        return self._by_event_cache

    def set_book(self, ticker: str, yes: list[list[str]] | None, no: list[list[str]] | None) -> None:
        self.books[ticker] = {"no_dollars": no, "yes_dollars": yes}

    def book_for(self, ticker: str) -> dict[str, Any]:
        """The market's book: an explicit one, else generated deterministically from the ticker."""
        book = self.books.get(ticker)
        if book is not None:
            return book
        digest = hashlib.sha256(f"{self.seed}:{ticker}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        m = self._index.get(ticker, {})
        try:
            bid = round(float(m.get("yes_bid_dollars", "0")) * 100)
            ask = round(float(m.get("yes_ask_dollars", "0")) * 100)
        except ValueError:
            bid = ask = 0
        if not (0 < bid < ask < 100):
            bid = rng.randint(5, 85)
            ask = bid + rng.randint(1, 6)
        no_best = 100 - ask
        yes = [[_dollars((bid - k) / 100), f"{rng.randint(1, 300)}.00"] for k in range(rng.randint(0, 4))]
        no = [[_dollars((no_best - k) / 100), f"{rng.randint(1, 300)}.00"] for k in range(rng.randint(0, 4))]
        yes = [lv for lv in yes if lv[0] > "0.0000"]
        no = [lv for lv in no if lv[0] > "0.0000"]
        # Live captures list levels worst → best (ascending price).
        return {"no_dollars": sorted(no, key=lambda lv: lv[0]), "yes_dollars": sorted(yes, key=lambda lv: lv[0])}

    def _wire_book(self, ticker: str) -> dict[str, Any]:
        book = self.book_for(ticker)
        out: dict[str, Any] = {}
        for key in ("no_dollars", "yes_dollars"):
            side = book.get(key)
            out[key] = None if (not side and self.empty_side_as_null) else (side or [])
        return out

    def series_obj(self, ticker: str) -> dict[str, Any]:
        fee_type, multiplier = self.series_fees.get(ticker, ("quadratic", 1))
        return {
            "additional_prohibitions": [],
            "category": "Sports",
            "contract_terms_url": f"https://kalshi.com/contract-terms/{ticker}",
            "contract_url": f"https://kalshi.com/contracts/{ticker}",
            "fee_multiplier": multiplier,
            "fee_type": fee_type,
            "frequency": "custom",
            "settlement_sources": [],
            "tags": [],
            "ticker": ticker,
            "title": ticker,
        }

    def event_obj(self, event_ticker: str, *, nested: bool = False) -> dict[str, Any]:
        base = self.events_extra.get(event_ticker)
        if base is None:
            first = (self.by_event.get(event_ticker) or [None])[0]
            base = {
                "available_on_brokers": False,
                "category": "Sports",
                "collateral_return_type": "",
                "event_ticker": event_ticker,
                "mutually_exclusive": False,
                "series_ticker": event_ticker.split("-", 1)[0],
                "strike_period": "",
                "sub_title": "",
                "title": (first or {}).get("title", event_ticker),
            }
        out = dict(base)
        override = self.event_fee_overrides.get(event_ticker)
        if override is not None:
            out["fee_multiplier_override"] = override[1]
            out["fee_type_override"] = override[0]
        if nested:
            out["markets"] = list(self.by_event.get(event_ticker, []))
        return dict(sorted(out.items()))

    # -- auth -------------------------------------------------------------------------------

    def register_key(self, key_id: str, public_key: rsa.RSAPublicKey) -> None:
        self.keys[key_id] = public_key

    def _check_auth(self, req: SimRequest, required: bool) -> SimResponse | None:
        key_id = req.headers.get("kalshi-access-key")
        ts = req.headers.get("kalshi-access-timestamp")
        sig = req.headers.get("kalshi-access-signature")
        if key_id is None and ts is None and sig is None:
            if required:
                self.auth_failures += 1
                return _recorded_401("auth__missing_signature_header")
            return None
        failure: SimResponse | None = None
        if not sig:
            failure = _recorded_401("auth__missing_signature_header")
        elif not key_id or key_id not in self.keys:
            failure = _recorded_401("auth__unknown_key_id")
        elif not ts or not ts.isdigit():
            failure = _recorded_401("auth__bad_signature")
        else:
            age = time.time() - int(ts) / 1000
            past, future = self.timestamp_window
            if age > past or -age > future:
                failure = _recorded_401("auth__skew_minus30s")
            elif not verify_signature(self.keys[key_id], ts, req.method, req.path, sig):
                failure = _recorded_401("auth__bad_signature")
        if failure is not None:
            self.auth_failures += 1
        return failure

    # -- routes -----------------------------------------------------------------------------

    def _install_routes(self) -> None:
        p = re.escape(API_PREFIX)
        r = self.server.route
        r("GET", p + r"/exchange/status", self._exchange_status)
        r("GET", p + r"/markets", self._markets)
        r("GET", p + r"/markets/orderbooks", self._orderbooks)
        r("GET", p + r"/markets/(?P<ticker>[^/]+)/orderbook", self._orderbook)
        r("GET", p + r"/markets/(?P<ticker>[^/]+)", self._market)
        r("GET", p + r"/events", self._events)
        r("GET", p + r"/events/(?P<event>[^/]+)", self._event)
        r("GET", p + r"/series", self._series_list)
        r("GET", p + r"/series/(?P<series>[^/]+)", self._series)

    def _guard(self, req: SimRequest, *, required: bool = False) -> SimResponse | None:
        return self._check_auth(req, required)

    def _exchange_status(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        return self._guard(req) or SimResponse(200, load_fixture("exchange__status"))

    def _new_cursor(self, offset: int) -> str:
        raw = hashlib.sha256(f"{self.seed}:{offset}:{len(self._cursors)}".encode()).digest()[:24]
        token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self._cursors[token] = offset
        return token

    def _limit(self, req: SimRequest, default: int, maximum: int, minimum: int) -> int | SimResponse:
        text = req.param("limit")
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            return SimResponse(400, {"msg": f"Parameter validation failed: invalid limit {text!r}"})
        if value > maximum or value < minimum:
            return SimResponse(400, LIMIT_OVER_MAX)
        return value or default

    def _page(self, items: list[Any], req: SimRequest, limit: int) -> tuple[list[Any], str]:
        cursor = req.param("cursor") or ""
        offset = self._cursors.get(cursor, 0)  # garbage or stale cursor → page 1, like the venue
        page = items[offset : offset + limit]
        nxt = offset + limit
        return page, (self._new_cursor(nxt) if nxt < len(items) else "")

    def _markets(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req)
        if denied:
            return denied
        limit = self._limit(req, 100, self.MARKETS_MAX_LIMIT, 0)
        if isinstance(limit, SimResponse):
            return limit
        items = self.markets
        status = req.param("status")
        if status:
            wanted = _STATUS_FILTER.get(status)
            if wanted is None:
                return SimResponse(400, {"msg": f"Parameter validation failed for GetMarkets: status {status!r}"})
            items = [x for x in items if x.get("status") in wanted]
        mve = req.param("mve_filter")
        if mve == "exclude":
            items = [x for x in items if "mve_collection_ticker" not in x]
        elif mve == "only":
            items = [x for x in items if "mve_collection_ticker" in x]
        if req.param("series_ticker"):
            s = req.param("series_ticker")
            items = [x for x in items if x["event_ticker"].split("-", 1)[0] == s]
        if req.param("event_ticker"):
            e = req.param("event_ticker")
            items = [x for x in items if x["event_ticker"] == e]
        if req.param("tickers"):
            wanted_t = set((req.param("tickers") or "").split(","))
            items = [x for x in items if x["ticker"] in wanted_t]
        page, cursor = self._page(items, req, limit)
        return SimResponse(200, {"cursor": cursor, "markets": page})

    def _market(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req)
        if denied:
            return denied
        market = self._index.get(m["ticker"])
        return SimResponse(200, {"market": market}) if market else SimResponse(404, NOT_FOUND)

    def _orderbook(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req, required=self.require_auth_for_books)
        if denied:
            return denied
        ticker = m["ticker"]
        if ticker not in self._index:
            return SimResponse(404, NOT_FOUND)
        book = self._wire_book(ticker)
        depth = int(req.param("depth") or 0)
        if depth > 0:  # the best ``depth`` levels: the *last* ones, as levels are ascending
            book = {k: (v[-depth:] if v else v) for k, v in book.items()}
        return SimResponse(200, {"orderbook_fp": book})

    def _orderbooks(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req, required=self.require_auth_for_books)
        if denied:
            return denied
        tickers = req.query.get("tickers", [])
        if not tickers or len(tickers) > self.BATCH_BOOKS_MAX:
            return SimResponse(
                400,
                {"msg": "Parameter validation failed for GetMarketOrderbooks: Key: 'Tickers' "
                 "Error:Field validation for 'Tickers' failed on the 'max' tag"},
            )
        books = [
            {"orderbook_fp": self._wire_book(t), "ticker": t} for t in dict.fromkeys(tickers) if t in self._index
        ]
        return SimResponse(200, {"orderbooks": books})

    def _event_tickers(self) -> list[str]:
        return list(self.by_event)

    def _events(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req)
        if denied:
            return denied
        limit = self._limit(req, 200, self.EVENTS_MAX_LIMIT, 1)
        if isinstance(limit, SimResponse):
            return limit
        status = req.param("status")
        tickers = self._event_tickers()
        if status:
            if status not in _EVENT_STATUS_FILTER:
                return SimResponse(400, {"msg": f"Parameter validation failed for GetEvents: status {status!r}"})
            wanted = _STATUS_FILTER[status]
            live = {x["event_ticker"] for x in self.markets if x.get("status") in wanted}
            tickers = [t for t in tickers if t in live]
        s = req.param("series_ticker")
        if s:
            tickers = [t for t in tickers if t.split("-", 1)[0] == s]
        nested = req.param("with_nested_markets") == "true"
        page, cursor = self._page(tickers, req, limit)
        return SimResponse(200, {"cursor": cursor, "events": [self.event_obj(t, nested=nested) for t in page]})

    def _event(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req)
        if denied:
            return denied
        et = m["event"]
        if et not in self.events_extra and et not in self.by_event:
            return SimResponse(404, NOT_FOUND)
        nested = req.param("with_nested_markets") == "true"
        body: dict[str, Any] = {"event": self.event_obj(et, nested=nested)}
        body["markets"] = [] if nested else list(self.by_event.get(et, []))
        return SimResponse(200, body)

    def _series_tickers(self) -> list[str]:
        return list(dict.fromkeys(m["event_ticker"].split("-", 1)[0] for m in self.markets))

    def _series_list(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req)
        if denied:
            return denied
        return SimResponse(200, {"series": [self.series_obj(t) for t in self._series_tickers()]})

    def _series(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req)
        if denied:
            return denied
        if m["series"] not in self._series_tickers():
            return SimResponse(404, NOT_FOUND)
        return SimResponse(200, {"series": self.series_obj(m["series"])})

    # -- delegation -------------------------------------------------------------------------

    @property
    def requests(self) -> list[SimRequest]:
        return self.server.requests

    def add_fault(self, rule: FaultRule) -> None:
        self.server.add_fault(rule)

    def start(self) -> str:
        """Start serving; returns the base URL *including* ``/trade-api/v2``."""
        return self.server.start() + API_PREFIX

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> KalshiSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
