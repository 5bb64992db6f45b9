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
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sim.server import FaultRule, SimRequest, SimResponse, SimServer

__all__ = ["API_PREFIX", "FIXTURES", "KalshiSim", "SimAccount", "load_fixture"]

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


# -- portfolio helpers (exact Decimal; wire strings in the recorded precisions) -----------------

D0 = Decimal(0)
D1 = Decimal(1)
_Q2 = Decimal("0.01")
_Q4 = Decimal("0.0001")
_Q6 = Decimal("0.000001")
DUPLICATE_ORDER = load_fixture("orders__duplicate_client_order_id")
INSUFFICIENT_BALANCE = load_fixture("orders__insufficient_balance")
INVALID_PRICE = load_fixture("orders__invalid_price_structure")
POST_ONLY_CROSS = load_fixture("orders__post_only_cross")
NUMERIC_FIELD = load_fixture("orders__numeric_field_types")  # the flat shape
# Refusals of an order on a market or exchange that is not trading. Not in the recorded fixtures (and not in the
# OpenAPI spec, whose ErrorResponse lists no codes): the status and codes are third parties' journals of the
# production API (409 {"error":{"code":"trading_is_paused",...}} for a halted market; 409 "exchange_is_paused";
# 409 "market_closed" for a closed or settled one), in the nested shape of the recorded order errors; the message
# text is modelled. Reference pitfall 9: closed and determined markets cannot be traded.
EXCHANGE_PAUSED = {"error": {"code": "exchange_is_paused", "message": "exchange is paused", "service": "exchange"}}
TRADING_PAUSED = {"error": {"code": "trading_is_paused", "message": "trading is paused", "service": "exchange"}}
MARKET_CLOSED = {"error": {"code": "market_closed", "message": "market closed", "service": "exchange"}}
# Response ``Market.status`` values whose market takes orders (``active``) or holds its book while halted
# (``inactive``: resting orders stay unless sent with ``cancel_order_on_pause``). Every other status (initialized,
# closed, determined, disputed, amended, finalized) has no resting orders and takes none.
TRADING_STATUS = "active"
PAUSED_STATUS = "inactive"
# Third-party recordings (reference §2.4); the exact message text is not recorded.
FOK_INSUFFICIENT = {
    "error": {
        "code": "fill_or_kill_insufficient_resting_volume",
        "message": "fill or kill insufficient resting volume",
        "service": "exchange",
    }
}


def _c2(x: Decimal) -> str:
    return f"{x.quantize(_Q2):f}"


def _d4(x: Decimal) -> str:
    return f"{x.quantize(_Q4):f}"


def _d6(x: Decimal) -> str:
    return f"{x.quantize(_Q6):f}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_kind(value: Any) -> str:
    """The JSON type name Go's decoder uses in an unmarshal error."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return "number"


def venue_verifies(public_key: rsa.RSAPublicKey, timestamp: str, method: str, target: str, signature: str) -> bool:
    """Kalshi's signature check, composed here from the raw request (reference §1), never with orion's own
    ``signing_message``, so that a mistake in how orion composes the message is refused, not mirrored.

    The message is the ``KALSHI-ACCESS-TIMESTAMP`` header's text, the method as sent (upper case), and the
    path as sent (percent-encoded, ``/trade-api/v2`` included) without its query string, with no separators;
    the body is never signed. RSA-PSS over SHA-256, MGF1(SHA-256), a salt of exactly 32 bytes (the digest's
    length), standard base64."""
    message = (timestamp + method + target.split("?", 1)[0]).encode("ascii")
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                          hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _places(text: str) -> int:
    """Decimal places as written (``"0.010000"`` → 6), which is what a fixed-point decoder holds to."""
    exponent = Decimal(text).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _bad_request(details: str) -> SimResponse:
    """The flat shape Kalshi uses for request-decoding 400s (orders__numeric_field_types)."""
    return SimResponse(400, {"code": "bad_request", "message": "bad request", "details": details})


def kalshi_fee(count: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """Per-fill trade fee, rounded up to $0.0001 (docs.kalshi.com/getting_started/fee_rounding)."""
    raw = rate * count * price * (D1 - price)
    return (raw / _Q4).to_integral_value(rounding=ROUND_CEILING) * _Q4


@dataclass
class SimAccount:
    """One API key's account: cash, positions, orders (live and archived) and fills."""

    user_id: str
    cash: Decimal = Decimal("1000")
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # live, insertion = creation order
    historical_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_ids: dict[str, str] = field(default_factory=dict)  # permanent, also after cancel/archive
    fills: list[dict[str, Any]] = field(default_factory=list)
    historical_fills: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # order ids actually created, for tests
    settlements: list[dict[str, Any]] = field(default_factory=list)  # spec ``Settlement`` objects, oldest first
    # Spec ``Deposit`` / ``Withdrawal`` objects by kind, oldest first.
    transfers: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"deposit": [], "withdrawal": []})

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self.orders.get(order_id) or self.historical_orders.get(order_id)


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
        # event ticker → (fee_type_override, fee_multiplier_override), either None (null) on its own
        self.event_fee_overrides: dict[str, tuple[str | None, int | float | None]] = {}
        self.flat_fees: dict[str, Decimal] = {}  # series → $ per contract of a ``flat`` series (not in the API)
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self.require_auth_for_books = require_auth_for_books
        self.timestamp_window = timestamp_window
        self.empty_side_as_null = False
        self.auth_failures = 0
        self._cursors: dict[str, int] = {}
        # Portfolio state (per API key id = per account).
        self.accounts: dict[str, SimAccount] = {}
        self.starting_cash = Decimal("1000")
        self.exchange_state: dict[str, Any] = dict(load_fixture("exchange__status"))
        self.historical_cutoff = datetime(2026, 1, 1, tzinfo=UTC)
        self.stale_reads_after_cancel = 0  # GETs that still show "resting" after a cancel (demo race)
        # order id → what those stale GETs show (default: the order as the cancel found it)
        self.stale_snapshots: dict[str, dict[str, Any]] = {}
        self._stale: dict[str, list[Any]] = {}
        self._portfolio_lock = threading.RLock()
        self._ids = random.Random(seed + 7919)
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
            elif not venue_verifies(self.keys[key_id], ts, req.method, req.path, sig):
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
        r("GET", p + r"/portfolio/balance", self._balance)
        r("GET", p + r"/portfolio/positions", self._positions)
        r("POST", p + r"/portfolio/events/orders", self._create_order)
        r("DELETE", p + r"/portfolio/events/orders/(?P<order_id>[^/]+)", self._cancel_order)
        r("GET", p + r"/portfolio/orders", self._list_orders)
        r("GET", p + r"/portfolio/orders/(?P<order_id>[^/]+)", self._get_order)
        r("GET", p + r"/portfolio/fills", self._fills)
        r("GET", p + r"/portfolio/settlements", self._settlements)
        r("GET", p + r"/portfolio/deposits", self._transfer_list)
        r("GET", p + r"/portfolio/withdrawals", self._transfer_list)
        r("GET", p + r"/historical/cutoff", self._cutoff)
        r("GET", p + r"/historical/fills", self._historical_fills)
        r("GET", p + r"/historical/orders", self._historical_orders)

    def _guard(self, req: SimRequest, *, required: bool = False) -> SimResponse | None:
        return self._check_auth(req, required)

    def _exchange_status(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        return self._guard(req) or SimResponse(200, dict(self.exchange_state))

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

    def _not_trading(self, market: Mapping[str, Any]) -> SimResponse | None:
        """The refusal of an order the exchange or the market does not take now (see ``EXCHANGE_PAUSED``)."""
        if not (self.exchange_state.get("exchange_active") and self.exchange_state.get("trading_active")):
            return SimResponse(409, EXCHANGE_PAUSED)
        status = market.get("status")
        if status == PAUSED_STATUS:
            return SimResponse(409, TRADING_PAUSED)
        if status != TRADING_STATUS:
            return SimResponse(409, MARKET_CLOSED)
        return None

    def set_market_status(self, ticker: str, status: str) -> None:
        """``ticker``'s ``Market.status`` as the exchange moves it (``inactive``: halted; ``closed``,
        ``determined``, ``finalized``...: over). A market that closes has its resting orders cancelled, their
        collateral released, as the exchange does at close; a halted one keeps them."""
        with self._portfolio_lock:
            self._index[ticker]["status"] = status
            if status in (TRADING_STATUS, PAUSED_STATUS):
                return
            now = time.time()
            for acct in self.accounts.values():
                for order in acct.orders.values():
                    if order["ticker"] != ticker or order["status"] != "resting":
                        continue
                    remaining = Decimal(order["remaining_count_fp"])
                    own = order["yes_price_dollars" if order["book_side"] == "bid" else "no_price_dollars"]
                    acct.cash += Decimal(own) * remaining  # the collateral it held
                    order.update(status="canceled", remaining_count_fp=_c2(D0), last_update_time=_iso(now))

    def _book_shown(self, ticker: str) -> dict[str, Any]:
        """The wire book; a market past its trading life (closed, determined, settled...) has no resting orders,
        so both sides are empty (MODELLED: no recording of such a book; the empty-side shape is the recorded one)."""
        if self._index[ticker].get("status") in (TRADING_STATUS, PAUSED_STATUS):
            return self._wire_book(ticker)
        empty = None if self.empty_side_as_null else []
        return {"no_dollars": empty, "yes_dollars": empty}

    def _orderbook(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req, required=self.require_auth_for_books)
        if denied:
            return denied
        ticker = m["ticker"]
        if ticker not in self._index:
            return SimResponse(404, NOT_FOUND)
        book = self._book_shown(ticker)
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
            {"orderbook_fp": self._book_shown(t), "ticker": t} for t in dict.fromkeys(tickers) if t in self._index
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

    # -- portfolio --------------------------------------------------------------------------

    def account(self, key_id: str) -> SimAccount:
        with self._portfolio_lock:
            acct = self.accounts.get(key_id)
            if acct is None:
                acct = SimAccount(user_id=str(self._new_id()), cash=self.starting_cash)
                self.accounts[key_id] = acct
            return acct

    def _new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._ids.getrandbits(128), version=4)

    def _authed(self, req: SimRequest) -> SimAccount | SimResponse:
        denied = self._guard(req, required=True)
        if denied:
            return denied
        return self.account(req.headers["kalshi-access-key"])

    def set_historical_cutoff(self, when: datetime) -> None:
        """Move fills created, and terminal orders last updated, before ``when`` to historical."""
        with self._portfolio_lock:
            self.historical_cutoff = when
            limit = when.timestamp()
            for acct in self.accounts.values():
                old = [f for f in acct.fills if f["ts"] < limit]
                acct.fills = [f for f in acct.fills if f["ts"] >= limit]
                acct.historical_fills.extend(old)
                for oid, o in list(acct.orders.items()):
                    updated = datetime.fromisoformat(o["last_update_time"]).timestamp()
                    if o["status"] != "resting" and updated < limit:
                        acct.historical_orders[oid] = acct.orders.pop(oid)

    def _cutoff(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        denied = self._guard(req)
        if denied:
            return denied
        ts = self.historical_cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
        return SimResponse(200, {"market_settled_ts": ts, "orders_updated_ts": ts, "trades_created_ts": ts})

    def _balance(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        with self._portfolio_lock:
            cash = acct.cash
            value = sum((p["exposure"] for p in acct.positions.values()), D0)
        return SimResponse(200, {
            "balance": int((cash * 100).to_integral_value(rounding=ROUND_FLOOR)),
            "balance_breakdown": [{"balance": _d4(cash), "exchange_index": 0}],
            "balance_dollars": _d4(cash),
            "portfolio_value": int((value * 100).to_integral_value(rounding=ROUND_FLOOR)),
            "updated_ts": int(time.time()),
        })

    def _positions(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        limit = self._limit(req, 100, 1000, 1)
        if isinstance(limit, SimResponse):
            return limit
        with self._portfolio_lock:
            rows = sorted(acct.positions.items())
            if req.param("count_filter") == "position":
                rows = [(t, p) for t, p in rows if p["position"] != 0]
            if req.param("ticker"):
                rows = [(t, p) for t, p in rows if t == req.param("ticker")]
            market_positions = [
                {
                    "fees_paid_dollars": _d6(p["fees"]),
                    "last_updated_ts": p["updated"],
                    "market_exposure_dollars": _d6(p["exposure"]),
                    "position_fp": _c2(p["position"]),
                    "realized_pnl_dollars": _d6(p["realized"]),
                    "resting_orders_count": 0,
                    "ticker": t,
                    "total_traded_dollars": _d6(p["traded"]),
                }
                for t, p in rows
            ]
            events: dict[str, dict[str, Any]] = {}
            for t, p in rows:
                et = str(self._index.get(t, {}).get("event_ticker") or t.rsplit("-", 1)[0])
                e = events.setdefault(et, {"cost": D0, "shares": D0, "fees": D0, "realized": D0})
                e["cost"] += p["exposure"]
                e["shares"] += abs(p["position"])
                e["fees"] += p["fees"]
                e["realized"] += p["realized"]
        page, cursor = self._page(market_positions, req, limit)
        event_positions = [
            {
                "event_exposure_dollars": _d6(e["cost"]),
                "event_ticker": et,
                "fees_paid_dollars": _d6(e["fees"]),
                "realized_pnl_dollars": _d6(e["realized"]),
                "total_cost_dollars": _d6(e["cost"]),
                "total_cost_shares_fp": _c2(e["shares"]),
            }
            for et, e in sorted(events.items())
        ]
        return SimResponse(200, {"cursor": cursor, "event_positions": event_positions, "market_positions": page})

    # orders ---------------------------------------------------------------------------------

    def _valid_tick(self, market: Mapping[str, Any], price: Decimal) -> bool:
        if not (D0 < price < D1):
            return False
        ranges = market.get("price_ranges") or [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
        for r in ranges:
            start, end, step = Decimal(r["start"]), Decimal(r["end"]), Decimal(r["step"])
            if start <= price <= end and ((price - start) / step) == ((price - start) / step).to_integral_value():
                return True
        return False

    def _live_book(self, ticker: str) -> dict[str, Any]:
        """The book orders match against; copied on first trade so fills consume it."""
        book = self.books.get(ticker)
        if book is None:
            book = self.book_for(ticker)
        book = {k: [list(lv) for lv in (v or [])] for k, v in book.items()}
        self.books[ticker] = book
        return book

    def _plan(
        self, book: Mapping[str, Any], side: str, price: Decimal, count: Decimal
    ) -> list[tuple[int, Decimal, Decimal]]:
        """(level index, YES trade price, quantity) against the opposite bids, best first."""
        levels = book.get("no_dollars" if side == "bid" else "yes_dollars") or []
        out: list[tuple[int, Decimal, Decimal]] = []
        left = count
        for i in sorted(range(len(levels)), key=lambda j: Decimal(levels[j][0]), reverse=True):
            if left <= 0:
                break
            p = Decimal(levels[i][0])
            yes = D1 - p if side == "bid" else p
            if (side == "bid" and yes > price) or (side == "ask" and yes < price):
                break
            qty = min(Decimal(levels[i][1]), left)
            if qty > 0:
                out.append((i, yes, qty))
                left -= qty
        return out

    def fee_schedule(self, ticker: str) -> tuple[str, Decimal]:
        """(fee type, multiplier) the venue charges ``ticker``'s fills at: what this simulator serves, the event's
        ``fee_type_override`` / ``fee_multiplier_override`` (each nullable on its own: a null one leaves the
        series' value) over its series' ``fee_type`` / ``fee_multiplier`` (reference §4)."""
        market = self._index.get(ticker) or {}
        event = str(market.get("event_ticker") or ticker.rsplit("-", 1)[0])
        fee_type, multiplier = self.series_fees.get(event.split("-", 1)[0], ("quadratic", 1))
        override_type, override_multiplier = self.event_fee_overrides.get(event, (None, None))
        if override_type:
            fee_type = override_type
        if override_multiplier is not None:
            multiplier = override_multiplier
        return fee_type, Decimal(str(multiplier))

    def _fee_rate(self, ticker: str) -> Decimal:
        """The taker rate of one fill (every fill here takes: nothing rests against another account). The
        quadratic types charge takers 0.07 × multiplier alike (they differ in maker fees only). ``flat`` is the
        fee schedule's "Specific Trading Fees" table, whose rates the API does not carry: a test trading such a
        series says what the venue charges per contract in ``flat_fees`` (by series), else the order fails
        (a 500: the simulator will not invent a fee)."""
        fee_type, multiplier = self.fee_schedule(ticker)
        if fee_type in ("quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees"):
            return Decimal("0.07") * multiplier
        raise ValueError(f"fee type {fee_type!r} of {ticker}: no formula (set flat_fees for a flat series)")

    def _fill_fee(self, ticker: str, qty: Decimal, yes: Decimal) -> Decimal:
        if self.fee_schedule(ticker)[0] == "flat":
            series = ticker.split("-", 1)[0]
            if series not in self.flat_fees:
                raise ValueError(f"flat fee of series {series}: not in the API; set sim.flat_fees[{series!r}]")
            return ((self.flat_fees[series] * qty) / _Q4).to_integral_value(rounding=ROUND_CEILING) * _Q4
        return kalshi_fee(qty, yes, self._fee_rate(ticker))

    def _apply_fill(self, acct: SimAccount, ticker: str, side: str, own_price: Decimal, qty: Decimal,
                    fee: Decimal, now: float) -> None:
        """Cash and the netted position (a YES and a NO contract pay $1 together at once)."""
        pos = acct.positions.setdefault(
            ticker, {"position": D0, "exposure": D0, "fees": D0, "traded": D0, "realized": D0, "updated": ""})
        acct.cash -= own_price * qty + fee
        delta = qty if side == "bid" else -qty
        held = pos["position"]
        if held != 0 and (held > 0) != (delta > 0):
            closed = min(abs(held), qty)
            avg = pos["exposure"] / abs(held)
            acct.cash += closed  # the pair pays $1
            pos["realized"] += closed * (D1 - avg - own_price)
            pos["exposure"] -= avg * closed
            opened = qty - closed
        else:
            opened = qty
        pos["exposure"] += own_price * opened
        pos["position"] = held + delta
        pos["fees"] += fee
        pos["traded"] += own_price * qty
        pos["updated"] = _iso(now)

    def settle_market(self, ticker: str, result: str, *, value_cents: int | None = None,
                      at: float | None = None) -> None:
        """Settle ``ticker`` as the exchange does: the market turns ``finalized`` with its result, every
        account holding it is paid (YES pays ``value`` cents, NO the rest) and its position is gone,
        with a spec ``Settlement`` record (``revenue`` in cents, counts as fixed-point strings). ``void``
        (the SDK's, not the spec's): every position back at its cost, the record without ``value``."""
        value = value_cents if value_cents is not None else (100 if result == "yes" else 0)
        yes_pays = Decimal(value) / 100
        now = time.time() if at is None else at
        with self._portfolio_lock:
            market = self._index.get(ticker)
            if market is not None:
                self.set_market_status(ticker, "finalized")  # resting orders are cancelled at close
                market.update(result=result, settlement_value_dollars=_d4(yes_pays))
            for acct in self.accounts.values():
                pos = acct.positions.pop(ticker, None)
                if pos is None or pos["position"] == 0:
                    continue
                held = pos["position"]
                paid = held * yes_pays if held > 0 else -held * (D1 - yes_pays)
                if result == "void":  # the SDK's void: every position back at its cost, no value
                    paid = pos["exposure"]
                acct.cash += paid
                acct.settlements.append({
                    "ticker": ticker,
                    "event_ticker": str((market or {}).get("event_ticker") or ticker.rsplit("-", 1)[0]),
                    "market_result": result,
                    "yes_count_fp": _c2(held if held > 0 else D0),
                    "yes_total_cost_dollars": _d4(pos["exposure"] if held > 0 else D0),
                    "no_count_fp": _c2(-held if held < 0 else D0),
                    "no_total_cost_dollars": _d4(pos["exposure"] if held < 0 else D0),
                    "revenue": int((paid * 100).to_integral_value(rounding=ROUND_FLOOR)),
                    "settled_time": _iso(now),
                    "fee_cost": _d4(pos["fees"]),
                    "value": None if result == "void" else value,
                    "ts": int(now),
                })

    def _settlements(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        limit = self._limit(req, 100, 200, 1)
        if isinstance(limit, SimResponse):
            return limit
        with self._portfolio_lock:
            items = list(reversed(acct.settlements))  # newest first
        if req.param("ticker"):
            items = [x for x in items if x["ticker"] == req.param("ticker")]
        filtered = self._filter_ts(items, req, "ts")
        if isinstance(filtered, SimResponse):
            return filtered
        page, cursor = self._page([{k: v for k, v in x.items() if k != "ts"} for x in filtered], req, limit)
        return SimResponse(200, {"cursor": cursor, "settlements": page})

    def transfer(self, key_id: str, kind: str, amount_cents: int, *, status: str = "applied", fee_cents: int = 0,
                 method: str = "ach", at: float | None = None) -> str:
        """A deposit or withdrawal on one account, as the spec lists it. Applied, it moves the cash at
        once: a deposit brings its amount less the fee, a withdrawal takes its amount (fee included)."""
        now = time.time() if at is None else at
        with self._portfolio_lock:
            acct = self.account(key_id)
            tid = str(self._new_id())
            acct.transfers[kind].append({"id": tid, "status": status, "type": method, "amount_cents": amount_cents,
                                         "fee_cents": fee_cents, "created_ts": int(now),
                                         "finalized_ts": None if status == "pending" else int(now)})
            if status == "applied":
                acct.cash += self._transfer_cash(kind, amount_cents, fee_cents)
            return tid

    def return_transfer(self, key_id: str, transfer_id: str, *, at: float | None = None) -> None:
        """An applied transfer sent back (an ACH return): its cash is undone, its status ``returned``."""
        now = time.time() if at is None else at
        with self._portfolio_lock:
            acct = self.account(key_id)
            for kind, items in acct.transfers.items():
                for t in items:
                    if t["id"] == transfer_id:
                        assert t["status"] == "applied", t
                        acct.cash -= self._transfer_cash(kind, t["amount_cents"], t["fee_cents"])
                        t.update(status="returned", finalized_ts=int(now))
                        return
        raise KeyError(transfer_id)

    @staticmethod
    def _transfer_cash(kind: str, amount_cents: int, fee_cents: int) -> Decimal:
        return Decimal(amount_cents - fee_cents) / 100 if kind == "deposit" else -Decimal(amount_cents) / 100

    def _transfer_list(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        limit = self._limit(req, 100, 500, 1)
        if isinstance(limit, SimResponse):
            return limit
        key = "deposits" if req.path.endswith("/deposits") else "withdrawals"
        with self._portfolio_lock:
            items = [dict(t) for t in reversed(acct.transfers[key[:-1]])]  # newest first
        page, cursor = self._page(items, req, limit)
        return SimResponse(200, {key: page, "cursor": cursor})

    def _create_order(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        try:
            body = json.loads(req.body or b"null", parse_float=Decimal)
        except ValueError as exc:
            return _bad_request(f"invalid character in request body: {exc.msg}")
        if not isinstance(body, dict):
            return _bad_request("json: cannot unmarshal request body into Go value of type CreateOrderV2Request")
        for key in ("count", "price"):
            if key in body and not isinstance(body[key], str):
                details = NUMERIC_FIELD["details"].replace(".count ", f".{key} ")
                return SimResponse(400, {**NUMERIC_FIELD, "details": details})
        for key in ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type"):
            if not body.get(key):
                return _bad_request(f"Key: 'CreateOrderV2Request.{key}' Error:Field validation for '{key}' "
                                    "failed on the 'required' tag")
        side, tif, stp = body["side"], body["time_in_force"], body["self_trade_prevention_type"]
        if side not in ("bid", "ask") or tif not in ("fill_or_kill", "immediate_or_cancel", "good_till_canceled") \
                or stp not in ("taker_at_cross", "maker"):
            return _bad_request("Key: 'CreateOrderV2Request' Error:Field validation failed on the 'oneof' tag")
        reduce_only = body.get("reduce_only")
        if reduce_only is not None and not isinstance(reduce_only, bool):  # Go decodes null as absent
            return _bad_request(f"json: cannot unmarshal {_json_kind(reduce_only)} into Go struct field "
                                "CreateOrderV2Request.reduce_only of type bool")
        try:
            count = Decimal(body["count"])
            price = Decimal(body["price"])
        except InvalidOperation:
            return _bad_request("invalid fixed-point string")
        if count <= 0 or count != count.quantize(_Q2) or _places(body["count"]) > 2:
            return SimResponse(400, {"error": {"code": "invalid_order", "message": "invalid order",
                                               "details": "invalid count"}})
        if _places(body["price"]) > 4:
            # Kalshi's fixed-point migration guide: "*_dollars fields are fixed-point dollar strings with up to 4
            # decimal places" (reference §2: requests accept 2-4), so "0.010000" is refused though its value is
            # on the tick grid. (The v3.21 spec's FixedPointDollars says "up to 6"; the docs are the stricter.)
            # The answer is not recorded: MODELLED as the recorded invalid_price body.
            return SimResponse(400, INVALID_PRICE)
        market = self._index.get(body["ticker"])
        if market is None:
            return SimResponse(404, NOT_FOUND)
        refused = self._not_trading(market)
        if refused is not None:
            return refused
        if not self._valid_tick(market, price):
            return SimResponse(400, INVALID_PRICE)
        cid = str(body.get("client_order_id") or "")
        with self._portfolio_lock:
            if cid and cid in acct.client_ids:
                return SimResponse(409, DUPLICATE_ORDER)
            placed = count
            if reduce_only is True:
                # The spec: "the order place count should be capped by the member's current position".
                # Positions are netted (+ YES, - NO): an ask reduces a YES position, a bid a NO one;
                # nothing held on that side caps the count to 0. What Kalshi answers for a cap is not
                # recorded in the fixtures; MODELLED, not recorded: an IOC/GTC order is placed for the
                # capped count (a cap to 0 is the unfilled-IOC answer: 201, fill_count "0.00", order
                # canceled), and a fill_or_kill whose cap is below its count is the recorded 409
                # fill_or_kill_insufficient_resting_volume, as any FOK that cannot fill completely.
                held = acct.positions.get(body["ticker"], {}).get("position", D0)
                placed = min(count, max(held if side == "ask" else -held, D0))
                if tif == "fill_or_kill" and placed < count:
                    return SimResponse(409, FOK_INSUFFICIENT)
            own_limit = price if side == "bid" else D1 - price
            if acct.cash < own_limit * placed:
                return SimResponse(400, INSUFFICIENT_BALANCE)
            book = self._live_book(body["ticker"])
            plan = self._plan(book, side, price, placed)
            filled = sum((q for _, _, q in plan), D0)
            if plan and body.get("post_only"):
                return SimResponse(400, POST_ONLY_CROSS)
            if tif == "fill_or_kill" and filled < count:
                return SimResponse(409, FOK_INSUFFICIENT)
            now = time.time()
            order_id = str(self._new_id())
            levels = book["no_dollars" if side == "bid" else "yes_dollars"]
            total_fee = total_cost = yes_notional = D0
            for i, yes, qty in plan:
                levels[i][1] = _c2(Decimal(levels[i][1]) - qty)
                own = yes if side == "bid" else D1 - yes
                fee = self._fill_fee(body["ticker"], qty, yes)
                total_fee += fee
                total_cost += own * qty
                yes_notional += yes * qty
                self._apply_fill(acct, body["ticker"], side, own, qty, fee, now)
                fill_id = str(self._new_id())
                acct.fills.append({
                    "action": "buy" if side == "bid" else "sell",
                    "book_side": side,
                    "count_fp": _c2(qty),
                    "created_time": _iso(now),
                    "fee_cost": _d6(fee),
                    "fill_id": fill_id,
                    "is_taker": True,
                    "market_ticker": body["ticker"],
                    "no_price_dollars": _d4(D1 - yes),
                    "order_id": order_id,
                    "outcome_side": "yes" if side == "bid" else "no",
                    "side": "yes",
                    "subaccount_number": 0,
                    "ticker": body["ticker"],
                    "trade_id": fill_id,
                    "ts": int(now),
                    "yes_price_dollars": _d4(yes),
                })
            book[("no_dollars" if side == "bid" else "yes_dollars")] = [lv for lv in levels if Decimal(lv[1]) > 0]
            remaining = placed - filled if tif == "good_till_canceled" else D0
            acct.cash -= own_limit * remaining  # collateral held while resting
            status = "resting" if remaining > 0 else ("executed" if filled >= count else "canceled")
            acct.orders[order_id] = {
                "action": "buy" if side == "bid" else "sell",
                "book_side": side,
                "client_order_id": cid,
                "created_time": _iso(now),
                "fill_count_fp": _c2(filled),
                "initial_count_fp": _c2(count),
                "last_update_time": _iso(now),
                "maker_fees_dollars": "0.000000",
                "maker_fill_cost_dollars": "0.000000",
                "no_price_dollars": _d4(D1 - price),
                "order_id": order_id,
                "outcome_side": "yes" if side == "bid" else "no",
                "remaining_count_fp": _c2(remaining),
                "self_trade_prevention_type": stp,
                "side": "yes",
                "status": status,
                "subaccount_number": 0,
                "taker_fees_dollars": _d6(total_fee),
                "taker_fill_cost_dollars": _d6(total_cost),
                "ticker": body["ticker"],
                "type": "limit",
                "user_id": acct.user_id,
                "yes_price_dollars": _d4(price),
            }
            if cid:
                acct.client_ids[cid] = order_id
            acct.created.append(order_id)
        answer: dict[str, Any] = {}
        if filled > 0:
            answer["average_fee_paid"] = f"{(total_fee / filled).quantize(_Q4, rounding=ROUND_HALF_UP):f}"
            answer["average_fill_price"] = f"{(yes_notional / filled).quantize(_Q4, rounding=ROUND_HALF_UP):f}"
        if cid:
            answer["client_order_id"] = cid
        answer.update({"fill_count": _c2(filled), "order_id": order_id, "remaining_count": _c2(remaining),
                       "ts_ms": int(now * 1000)})
        return SimResponse(201, answer)

    def _cancel_order(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        with self._portfolio_lock:
            order = acct.orders.get(m["order_id"])
            if order is None or order["status"] != "resting":
                return SimResponse(404, NOT_FOUND)  # recorded: canceled, executed and unknown ids alike
            if self.stale_reads_after_cancel:
                snapshot = self.stale_snapshots.pop(order["order_id"], None) or dict(order)
                self._stale[order["order_id"]] = [self.stale_reads_after_cancel, snapshot]
            remaining = Decimal(order["remaining_count_fp"])
            own_limit = Decimal(order["yes_price_dollars" if order["book_side"] == "bid" else "no_price_dollars"])
            acct.cash += own_limit * remaining
            now = time.time()
            order.update(remaining_count_fp="0.00", status="canceled", last_update_time=_iso(now))
        return SimResponse(200, {"order_id": order["order_id"], "reduced_by": _c2(remaining),
                                 "ts_ms": int(now * 1000)})

    def _get_order(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        with self._portfolio_lock:
            stale = self._stale.get(m["order_id"])
            if stale is not None and stale[0] > 0:
                stale[0] -= 1
                return SimResponse(200, {"order": dict(stale[1])})
            order = acct.orders.get(m["order_id"])  # archived orders are only in /historical/orders
            return SimResponse(200, {"order": dict(order)}) if order else SimResponse(404, NOT_FOUND)

    def _filter_ts(self, items: list[dict[str, Any]], req: SimRequest, key: str) -> list[dict[str, Any]] | SimResponse:
        out = items
        # The spec: "Filter items after this Unix timestamp", in whole seconds; read strictly, so a
        # client that asks from an order's creation second loses the fills made in that second.
        for name, keep in (("min_ts", lambda t, v: t > v), ("max_ts", lambda t, v: t <= v)):
            text = req.param(name)
            if text is None:
                continue
            if not text.lstrip("-").isdigit():
                return SimResponse(400, {"msg": f"Parameter validation failed: invalid {name} {text!r}"})
            out = [x for x in out if keep(_ts_of(x, key), int(text))]
        return out

    def _order_list(self, req: SimRequest, orders: list[dict[str, Any]], *, live: bool) -> SimResponse:
        limit = self._limit(req, 100, 1000, 1)
        if isinstance(limit, SimResponse):
            return limit
        items = list(reversed(orders))  # newest first, as recorded
        status = req.param("status")
        if status:
            if status not in ("resting", "canceled", "executed"):
                return SimResponse(400, {"msg": f"Parameter validation failed for GetOrders: status {status!r}"})
            items = [o for o in items if o["status"] == status]
        if req.param("ticker"):
            items = [o for o in items if o["ticker"] == req.param("ticker")]
        if req.param("event_ticker"):
            wanted = set((req.param("event_ticker") or "").split(","))
            items = [o for o in items if self._index.get(o["ticker"], {}).get("event_ticker") in wanted]
        filtered = self._filter_ts(items, req, "created_time")
        if isinstance(filtered, SimResponse):
            return filtered
        page, cursor = self._page([dict(o) for o in filtered], req, limit)
        return SimResponse(200, {"cursor": cursor, "orders": page})

    def _list_orders(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        with self._portfolio_lock:
            return self._order_list(req, list(acct.orders.values()), live=True)

    def _historical_orders(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        with self._portfolio_lock:
            return self._order_list(req, list(acct.historical_orders.values()), live=False)

    def _fill_list(self, req: SimRequest, fills: list[dict[str, Any]]) -> SimResponse:
        limit = self._limit(req, 100, 1000, 1)
        if isinstance(limit, SimResponse):
            return limit
        items = list(reversed(fills))
        if req.param("ticker"):
            items = [f for f in items if f["ticker"] == req.param("ticker")]
        if req.param("order_id"):
            items = [f for f in items if f["order_id"] == req.param("order_id")]
        filtered = self._filter_ts(items, req, "ts")
        if isinstance(filtered, SimResponse):
            return filtered
        page, cursor = self._page([dict(f) for f in filtered], req, limit)
        return SimResponse(200, {"cursor": cursor, "fills": page})

    def _fills(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        with self._portfolio_lock:
            return self._fill_list(req, list(acct.fills))

    def _historical_fills(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._authed(req)
        if isinstance(acct, SimResponse):
            return acct
        with self._portfolio_lock:
            return self._fill_list(req, list(acct.historical_fills))

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


def _ts_of(item: Mapping[str, Any], key: str) -> int:
    value = item[key]
    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(str(value)).timestamp())
