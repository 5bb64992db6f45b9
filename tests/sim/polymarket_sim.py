"""A loopback Polymarket: Gamma, CLOB and Data-API endpoints orion reads, in recorded shapes.

Layout: **one** :class:`SimServer` with three path prefixes standing in for the three hosts:

    gamma_url = base + "/gamma"   (gamma-api.polymarket.com)
    clob_url  = base + "/clob"    (clob.polymarket.com)
    data_url  = base + "/data"    (data-api.polymarket.com)

so one fault rule can target one host (``FaultRule("status", path_prefix="/clob/books")``) and one
``sim.requests`` list shows the whole conversation in order.

Data: by default the recorded Gamma events (``polymarket/gamma_event*.json`` and the 50 NBA events
of ``crossvenue/polymarket_nba_events.json``), served exactly as recorded (JSON-encoded string
fields stay strings). :meth:`PolymarketSim.universe` builds larger universes by copying real event
records and varying ids, tokens, ticks (including 0.005/0.0025), fee schedules and flags.
Every token of every market gets a generated CLOB book in the recorded ``/book`` shape (bids
ascending, asks descending, best last, a valid sha1 ``hash``); the two tokens of a market get
books that are close to, but deliberately not exactly, mirrors of each other. The real captured
``paired/poly_book.json`` is served for its own token.

Behaviour copied from the venue (and from reported bugs, to test the client's guards):
``/events`` and ``/markets`` apply ``closed=false`` when ``closed`` is absent; offsets beyond
``offset_max`` answer 422 pointing at the keyset endpoints; ``/…/keyset`` rejects ``offset``,
caps ``limit`` at 100, omits ``next_cursor`` on the last page and answers 400 to a garbage cursor;
``keyset_ignores_cursor = True`` reproduces the 2026-04 bug where the cursor was ignored and page
one came back forever (with ``keyset_fresh_cursors`` each answer carries a new cursor).
``/clob-markets/{id}`` uses the compact keys of the reference notes (``t``, ``mts``, ``nr``,
``fd{r,e}``); no real capture of it exists, so its shape is an assumption.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sim.server import SimRequest, SimResponse, SimServer

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"

_EVENT_FILES = ("polymarket/gamma_event.json", "polymarket/gamma_event_sports_composite_game_id.json")
_NBA_FILE = "crossvenue/polymarket_nba_events.json"
_TICKS = (0.01, 0.001, 0.005, 0.0025, 0.01, 0.001, 0.1)
_FEES = (None, (0.04, "politics_fees"), (0.05, "sports_fees_v2"), (0.07, "crypto_fees"), (0.03, "sports_fees_v2"))

_cache: dict[str, Any] = {}


def _load(rel: str) -> Any:
    if rel not in _cache:
        _cache[rel] = json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
    return copy.deepcopy(_cache[rel])


def _recorded_events_shared() -> list[dict[str, Any]]:
    """The cached recorded events themselves: read-only, copy what you change."""
    if "events" not in _cache:
        events: list[dict[str, Any]] = []
        for rel in (*_EVENT_FILES, _NBA_FILE):
            events.extend(json.loads((FIXTURES / rel).read_text(encoding="utf-8")))
        _cache["events"] = events
    shared: list[dict[str, Any]] = _cache["events"]
    return shared


def recorded_events() -> list[dict[str, Any]]:
    """Every recorded Gamma event (with nested markets), as plain JSON (floats stay floats)."""
    return copy.deepcopy(_recorded_events_shared())


def sim_book_hash(book: dict[str, Any]) -> str:
    """The CLOB book hash, written independently of orion's parser (sha1 of compact JSON)."""
    ordered = {
        "market": book["market"],
        "asset_id": book["asset_id"],
        "timestamp": book["timestamp"],
        "hash": "",
        "bids": [{"price": lv["price"], "size": lv["size"]} for lv in book["bids"]],
        "asks": [{"price": lv["price"], "size": lv["size"]} for lv in book["asks"]],
        "min_order_size": book["min_order_size"],
        "tick_size": book["tick_size"],
        "neg_risk": book["neg_risk"],
        "last_trade_price": book["last_trade_price"],
    }
    return hashlib.sha1(json.dumps(ordered, separators=(",", ":")).encode()).hexdigest()


def _tick_str(tick: Any) -> str:
    return format(float(tick), "f").rstrip("0").rstrip(".") if tick is not None else "0.01"


def _fmt(value: float, places: int) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


def make_book(
    token: str,
    market: str,
    *,
    mid: float,
    tick: Any,
    neg_risk: bool,
    rng: random.Random,
    depth: int = 5,
) -> dict[str, Any]:
    """A ``/book`` body around ``mid``: bids ascending and asks descending (best last), as the CLOB does."""
    t = float(tick or 0.01)
    places = max(2, len(_tick_str(t).split(".")[-1]))
    steps = round(1 / t)
    mid_step = min(max(round(mid / t), 2), steps - 2)
    spread = rng.randint(1, 3)
    bid_top = max(1, mid_step - spread // 2 - (spread % 2))
    ask_top = min(steps - 1, max(bid_top + 1, mid_step + spread // 2 + 1))
    bids = []
    for i in range(depth):
        p = bid_top - i * rng.randint(1, 2)
        if p < 1:
            break
        bids.append({"price": _fmt(p * t, places), "size": _fmt(rng.uniform(5, 500), 2)})
    asks = []
    for i in range(depth):
        p = ask_top + i * rng.randint(1, 2)
        if p > steps - 1:
            break
        asks.append({"price": _fmt(p * t, places), "size": _fmt(rng.uniform(5, 500), 2)})
    book = {
        "market": market,
        "asset_id": token,
        "timestamp": str(int(time.time() * 1000)),
        "hash": "",
        "bids": list(reversed(bids)),  # worst → best: best bid last
        "asks": list(reversed(asks)),  # worst → best: best ask last
        "min_order_size": "5",
        "tick_size": _tick_str(t),
        "neg_risk": neg_risk,
        "last_trade_price": _fmt(mid_step * t, places),
    }
    book["hash"] = sim_book_hash(book)
    return book


def _decode(value: Any) -> list[Any]:
    if isinstance(value, str):
        decoded = json.loads(value)
        return decoded if isinstance(decoded, list) else []
    return value if isinstance(value, list) else []


def _tokens_of(market: dict[str, Any]) -> list[str]:
    key = "positionIds" if market.get("version") == "v2" else "clobTokenIds"
    try:
        return [str(t) for t in _decode(market.get(key))]
    except ValueError:
        return []


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode()


def _uncursor(text: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(text.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    m = re.fullmatch(r"idx:(\d+)", raw)
    return int(m.group(1)) if m else None


def _flag(req: SimRequest, name: str) -> bool | None:
    value = req.param(name)
    if value is None:
        return None
    return value.lower() == "true"


class PolymarketSim:
    """Gamma + CLOB + Data API on one loopback server (see the module docstring for the layout)."""

    def __init__(
        self,
        events: list[dict[str, Any]] | None = None,
        *,
        seed: int = 0,
        books: dict[str, dict[str, Any]] | None = None,
        generate_books: bool = True,
    ) -> None:
        self.server = SimServer("polymarket", seed=seed)
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = events if events is not None else recorded_events()
        self.books: dict[str, dict[str, Any]] = dict(books or {})
        self.offset_max = 2000
        self.keyset_max_limit = 100
        self.books_max_batch = 500
        self.keyset_ignores_cursor = False
        self.keyset_fresh_cursors = False  # with the above: a new cursor each time, same page
        self._cursor_serial = 0
        self.positions: list[dict[str, Any]] = _load("polymarket/data_api_positions_response.json")
        self.trades: dict[str, Any] = _load("polymarket/data_api_trades_captured_response.json")
        real = _load("paired/poly_book.json")
        self.books.setdefault(real["asset_id"], real)
        if generate_books:
            self.generate_books()
        self._pristine = copy.deepcopy((self.events, self.books))
        self._routes()

    def reset(self) -> None:
        """Back to the state after construction (data, switches, faults, request log), server kept.

        Lets a test module share one running server: starting and stopping one costs ~0.5 s.
        """
        self.events, self.books = copy.deepcopy(self._pristine)
        self.offset_max = 2000
        self.keyset_max_limit = 100
        self.books_max_batch = 500
        self.keyset_ignores_cursor = False
        self.keyset_fresh_cursors = False
        self.server.clear_faults()
        self.server.clear_requests()
        self.server.latency = 0.0
        self.server.rate_limit = None

    # -- data --------------------------------------------------------------------------------

    @classmethod
    def universe(
        cls,
        n_events: int,
        *,
        seed: int = 0,
        markets_per_event: int = 4,
        closed_fraction: float = 0.0,
    ) -> PolymarketSim:
        """``n_events`` open events made by varying real recorded events (ids, tokens, ticks, fees)."""
        rng = random.Random(seed)
        templates = _recorded_events_shared()
        events: list[dict[str, Any]] = []
        for i in range(n_events):
            template = templates[i % len(templates)]
            ev = copy.deepcopy({k: v for k, v in template.items() if k != "markets"})
            ev["markets"] = copy.deepcopy(template.get("markets", [])[:markets_per_event])
            ev["id"] = str(900000 + i)
            ev["slug"] = ev["ticker"] = f"{ev.get('slug', 'event')}-sim-{i}"
            ev["active"], ev["closed"] = True, rng.random() < closed_fraction
            markets = []
            for j, m in enumerate(ev["markets"]):
                digest = hashlib.sha256(f"{seed}:{i}:{j}".encode()).digest()
                m["id"] = str(5_000_000 + i * 100 + j)
                m["conditionId"] = "0x" + digest.hex()
                yes_t = str(int.from_bytes(hashlib.sha256(digest + b"y").digest(), "big") >> 4)
                no_t = str(int.from_bytes(hashlib.sha256(digest + b"n").digest(), "big") >> 4)
                m["clobTokenIds"] = json.dumps([yes_t, no_t])
                m["slug"] = f"{m.get('slug', 'market')}-sim-{i}-{j}"
                m["active"], m["closed"] = True, ev["closed"]
                m["acceptingOrders"] = not ev["closed"]
                m["enableOrderBook"] = True
                m["orderPriceMinTickSize"] = _TICKS[(i + j) % len(_TICKS)]
                fee = _FEES[(i * 7 + j) % len(_FEES)]
                if fee is None:
                    m["feesEnabled"], m["feeSchedule"], m["feeType"] = False, None, None
                else:
                    m["feesEnabled"] = True
                    m["feeSchedule"] = {"exponent": 1, "rate": fee[0], "takerOnly": True, "rebateRate": 0.25}
                    m["feeType"] = fee[1]
                price = round(rng.uniform(0.05, 0.95), 3)
                m["outcomePrices"] = json.dumps([f"{price}", f"{round(1 - price, 3)}"])
                markets.append(m)
            ev["markets"] = markets
            events.append(ev)
        return cls(events, seed=seed)

    def all_markets(self) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:
        for ev in self.events:
            for m in ev.get("markets") or []:
                yield ev, m

    def generate_books(self) -> None:
        """A book for each token of each market that has none yet (YES near the display price)."""
        for _ev, m in self.all_markets():
            tokens = _tokens_of(m)
            if len(tokens) != 2 or not isinstance(m.get("conditionId"), str):
                continue
            try:
                prices = [float(p) for p in _decode(m.get("outcomePrices"))]
            except (TypeError, ValueError):
                prices = []
            p0 = prices[0] if len(prices) == 2 and 0.02 < prices[0] < 0.98 else self.rng.uniform(0.1, 0.9)
            tick = m.get("orderPriceMinTickSize") or 0.01
            neg = bool(m.get("negRisk"))
            if tokens[0] not in self.books:
                self.books[tokens[0]] = make_book(
                    tokens[0], m["conditionId"], mid=p0, tick=tick, neg_risk=neg, rng=self.rng
                )
            if tokens[1] not in self.books:
                # Near the complement, not an exact mirror: the client must read both books.
                skew = self.rng.choice((-1, 0, 1)) * float(tick)
                self.books[tokens[1]] = make_book(
                    tokens[1], m["conditionId"], mid=1 - p0 + skew, tick=tick, neg_risk=neg, rng=self.rng
                )

    def market(self, condition_id: str) -> dict[str, Any]:
        for _ev, m in self.all_markets():
            if m.get("conditionId") == condition_id:
                return m
        raise KeyError(condition_id)

    # -- server ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def gamma_url(self) -> str:
        return self.server.base_url + "/gamma"

    @property
    def clob_url(self) -> str:
        return self.server.base_url + "/clob"

    @property
    def data_url(self) -> str:
        return self.server.base_url + "/data"

    @property
    def requests(self) -> list[SimRequest]:
        return self.server.requests

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> PolymarketSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _routes(self) -> None:
        r = self.server.route
        r("GET", r"/gamma/events", self._events)
        r("GET", r"/gamma/events/keyset", self._events_keyset)
        r("GET", r"/gamma/markets", self._markets)
        r("GET", r"/gamma/markets/keyset", self._markets_keyset)
        r("GET", r"/gamma/markets/(?P<id>[^/]+)", self._market_by_id)
        r("GET", r"/clob/book", self._book)
        r("POST", r"/clob/books", self._books)
        r("GET", r"/clob/clob-markets/(?P<cid>[^/]+)", self._clob_market)
        r("GET", r"/clob/time", lambda req, m: SimResponse(200, int(time.time())))
        r("GET", r"/clob/ok", lambda req, m: SimResponse(200, b'"OK"'))
        r("GET", r"/data/positions", self._positions)
        r("GET", r"/data/trades", lambda req, m: SimResponse(200, self.trades))

    # -- Gamma -------------------------------------------------------------------------------

    def _filtered_events(self, req: SimRequest) -> list[dict[str, Any]]:
        closed = _flag(req, "closed")
        closed = False if closed is None else closed  # the venue's silent default
        active = _flag(req, "active")
        out = []
        for ev in self.events:
            if bool(ev.get("closed")) != closed:
                continue
            if active is not None and bool(ev.get("active")) != active:
                continue
            out.append(ev)
        return out

    def _filtered_markets(self, req: SimRequest) -> list[dict[str, Any]]:
        closed = _flag(req, "closed")
        closed = False if closed is None else closed
        active = _flag(req, "active")
        out = []
        for ev, m in self.all_markets():
            if bool(m.get("closed")) != closed:
                continue
            if active is not None and bool(m.get("active")) != active:
                continue
            summary = {k: v for k, v in ev.items() if k not in ("markets", "series", "tags")}
            out.append({**m, "events": [summary]})
        return out

    def _offset_page(self, req: SimRequest, rows: list[dict[str, Any]]) -> SimResponse:
        try:
            limit = int(req.param("limit", "20") or 20)
            offset = int(req.param("offset", "0") or 0)
        except ValueError:
            return SimResponse(422, {"error": "limit and offset must be integers"})
        if limit < 0 or offset < 0:
            return SimResponse(422, {"error": "limit and offset must be non-negative"})
        if offset > self.offset_max:
            return SimResponse(
                422, {"error": f"offset above {self.offset_max} is not supported; use the keyset endpoint"}
            )
        return SimResponse(200, rows[offset : offset + min(limit, 500)])

    def _keyset_page(self, req: SimRequest, rows: list[dict[str, Any]], key: str) -> SimResponse:
        if "offset" in req.query:
            return SimResponse(422, {"error": "offset is not supported on keyset endpoints; use after_cursor"})
        try:
            limit = int(req.param("limit", "20") or 20)
        except ValueError:
            return SimResponse(422, {"error": "limit must be an integer"})
        limit = max(1, min(limit, self.keyset_max_limit))
        start = 0
        cursor = req.param("after_cursor")
        if cursor and not self.keyset_ignores_cursor:
            idx = _uncursor(cursor)
            if idx is None:
                return SimResponse(400, {"error": "invalid cursor"})
            start = idx
        page = rows[start : start + limit]
        body: dict[str, Any] = {key: page}
        if start + limit < len(rows):
            body["next_cursor"] = _cursor(start + limit)
            if self.keyset_ignores_cursor and self.keyset_fresh_cursors:
                self._cursor_serial += 1
                body["next_cursor"] += f"~{self._cursor_serial}"
        return SimResponse(200, body)

    def _events(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        return self._offset_page(req, self._filtered_events(req))

    def _events_keyset(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        return self._keyset_page(req, self._filtered_events(req), "events")

    def _markets(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        return self._offset_page(req, self._filtered_markets(req))

    def _markets_keyset(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        return self._keyset_page(req, self._filtered_markets(req), "markets")

    def _market_by_id(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        for ev, mk in self.all_markets():
            if str(mk.get("id")) == m.group("id"):
                summary = {k: v for k, v in ev.items() if k not in ("markets", "series", "tags")}
                return SimResponse(200, {**mk, "events": [summary]})
        return SimResponse(404, {"type": "not found error", "error": "id not found"})

    # -- CLOB --------------------------------------------------------------------------------

    def _book(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        token = req.param("token_id")
        if not token:
            return SimResponse(400, {"error": "Invalid token id"})
        book = self.books.get(token)
        if book is None:
            return SimResponse(404, {"error": "No orderbook exists for the requested token id"})
        return SimResponse(200, book)

    def _books(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        try:
            body = req.json()
        except ValueError:
            return SimResponse(400, {"error": "Invalid payload"})
        if not isinstance(body, list) or not all(isinstance(x, dict) and "token_id" in x for x in body):
            return SimResponse(400, {"error": "Invalid payload"})
        if len(body) > self.books_max_batch:
            return SimResponse(400, {"error": f"too many token ids (max {self.books_max_batch})"})
        out = [self.books[x["token_id"]] for x in body if x["token_id"] in self.books]
        return SimResponse(200, out)

    def _clob_market(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        try:
            mk = self.market(m.group("cid"))
        except KeyError:
            return SimResponse(404, {"error": "market not found"})
        labels = _decode(mk.get("outcomes"))
        tokens = _tokens_of(mk)
        body: dict[str, Any] = {
            "t": [{"t": t, "o": o} for t, o in zip(tokens, labels, strict=False)],
            "mts": mk.get("orderPriceMinTickSize"),
            "nr": bool(mk.get("negRisk")),
        }
        sched = mk.get("feeSchedule")
        if mk.get("feesEnabled") and isinstance(sched, dict):
            body["fd"] = {"r": sched.get("rate"), "e": sched.get("exponent", 1)}
        return SimResponse(200, body)

    # -- Data API ----------------------------------------------------------------------------

    def _positions(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        user = (req.param("user") or "").lower()
        if not re.fullmatch(r"0x[0-9a-f]{40}", user):
            return SimResponse(400, {"error": "invalid user address"})
        limit = int(req.param("limit", "100") or 100)
        offset = int(req.param("offset", "0") or 0)
        rows = [p for p in self.positions if str(p.get("proxyWallet", "")).lower() == user]
        return SimResponse(200, rows[offset : offset + limit])
