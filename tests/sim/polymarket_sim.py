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
``fd{r,e}``); no real capture of it exists, so its shape is an assumption. ``/markets/{id}`` (the
CLOB's full market record) follows the recorded ``clob_market_*.json`` captures.

Authenticated trading (``_AuthenticatedClob``, below): API keys from :meth:`add_account`, L1/L2
verification independent of orion's signing code, order matching against the books, balances, taker fees,
trades, positions, duplicates refused as the venue does, and a geoblock endpoint. See README.md.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, localcontext
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


def _one_level_per_price(levels: list[dict[str, str]], *, ascending: bool) -> list[dict[str, str]]:
    """The CLOB aggregates a book by price: one level per price, in wire order (best last; bids
    ascending, asks descending). The steps drawn above can land twice on one price: their sizes are
    added, the depth orion read when it summed repeated levels (it now refuses a book that repeats one)."""
    total: dict[Decimal, Decimal] = {}
    for lv in levels:
        price = Decimal(lv["price"])
        total[price] = total.get(price, Decimal(0)) + Decimal(lv["size"])
    text = {Decimal(lv["price"]): lv["price"] for lv in levels}
    return [{"price": text[p], "size": f"{size:f}"}
            for p, size in sorted(total.items(), reverse=not ascending)]


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
        "bids": _one_level_per_price(bids, ascending=True),  # worst → best: best bid last
        "asks": _one_level_per_price(asks, ascending=False),  # worst → best: best ask last
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



# =========================================================================== authenticated CLOB
#
# Everything below verifies what the client sends *independently* of orion's signing code:
# HMAC with stdlib ``hmac``, EIP-712 with eth_account's ``encode_typed_data`` + ``recover_message``.
#
# Duplicates: the real CLOB refuses a second copy of an order it already holds with HTTP 400
# ``{"error": "order {hash} is invalid. Duplicated."}`` (docs.polymarket.com/resources/error-codes;
# INVALID_ORDER_DUPLICATED in docs.polymarket.com/trading/orders/create). The simulator does the
# same; clients are expected to read the existing order back (GET /data/order/{hash}).
# FOK/FAK kills are 400s with the venue's exact wording and the order is not stored.
# Fees: every taker match in a fee-enabled market (Gamma ``feesEnabled`` with a ``feeSchedule``) is
# charged as the venue does (reference §4): ``shares × rate × (p × (1 − p))^exponent`` per fill, floored
# to 5 decimals (how the recorded on-chain fills come out, chain_order_filled_taker_fees.json); makers pay
# nothing. A SELL's fee comes out of its pUSD proceeds. Which asset a BUY's fee is taken from is not
# settled by the captures, so it is a switch, ``fee_denomination``: "pusd" (orion's model: out of the pUSD
# balance, every share bought delivered) or "shares" (that amount withheld from the shares delivered).
# Trade records keep the recorded shape: the rate (``fee_rate_bps``, see ``trade_fee_rate_bps``), never an
# amount; ``sim.fees_charged`` lists what was charged.

SIM_EXCHANGES: dict[int, dict[str, str]] = {
    137: {
        "v2": "0xE111180000d2663C0091e4f400237545B87B996B",
        "v2_neg_risk": "0xe2222d279d744050d28e00520010520000310F59",
        "v3": "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa",
    },
}
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
MAX_UINT256 = str(2**256 - 1)
CLOB_AUTH_TEXT = "This message attests that I control the given wallet"
INITIAL_CURSOR = "MA=="
END_CURSOR = "LTE="
FOK_KILLED = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_KILLED = "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
_UNITS = Decimal(1_000_000)
# ROUNDING_CONFIG's amount decimals by tick (reference §2.4): a resting order's pUSD side may not have more.
_AMOUNT_DECIMALS = {Decimal("0.1"): 3, Decimal("0.01"): 4, Decimal("0.005"): 5, Decimal("0.0025"): 6,
                    Decimal("0.001"): 5, Decimal("0.0001"): 6}
_ORDER_FIELDS = [
    {"name": "salt", "type": "uint256"},
    {"name": "maker", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "side", "type": "uint8"},
    {"name": "signatureType", "type": "uint8"},
    {"name": "timestamp", "type": "uint256"},
    {"name": "metadata", "type": "bytes32"},
    {"name": "builder", "type": "bytes32"},
]


@dataclass
class SimAccount:
    """One API key on the simulated CLOB: the EOA owning it, the funder wallet and its money."""

    address: str  # EIP-55 EOA: POLY_ADDRESS and the order signer
    api_key: str
    secret: str
    passphrase: str
    funder: str  # the order maker (== address for signature type 0)
    signature_type: int
    cash: int  # pUSD base units
    shares: dict[str, int] = field(default_factory=dict)  # token id -> base units


def _page_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _page_offset(cursor: str) -> int | None:
    try:
        value = int(base64.b64decode(cursor.encode(), validate=True).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return value if value >= 0 else None


def _dec_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


def _err(status: int, message: str) -> SimResponse:
    return SimResponse(status, {"error": message})


class _AuthenticatedClob:
    """Mixin for :class:`PolymarketSim`: L1/L2-authenticated CLOB endpoints, matching and geoblock."""

    server: SimServer
    books: dict[str, dict[str, Any]]
    positions: list[dict[str, Any]]

    def all_markets(self) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:  # provided by PolymarketSim
        raise NotImplementedError

    def _init_trading(self, chain_id: int = 137) -> None:
        self.chain_id = chain_id
        self.trade_lock = threading.RLock()
        self.accounts: dict[str, SimAccount] = {}  # by api key
        self.orders: dict[str, dict[str, Any]] = {}  # by order hash
        self.clob_trades: list[dict[str, Any]] = []
        self.geoblock: dict[str, Any] = {"blocked": False, "ip": "127.0.0.1", "country": "IE", "region": "L"}
        self.hmac_max_skew = 30  # seconds of clock difference accepted on POLY_TIMESTAMP
        self.page_size = 100  # rows per /data/orders and /data/trades page
        self.balance_updates = 0
        self.order_posts_accepted = 0
        self.clob_version = 2
        # The next n POST /order answers are 400 {"error": "order_version_mismatch"} (a CLOB mid-cutover),
        # whatever clob_version says; with clob_version other than 2 every V2-signed order is refused so.
        self.version_mismatches = 0
        self.version_mismatch_status = 400  # py-clob-client-v2 also reads the error in a 200 body
        # Matching put off, as the venue answers "delayed": a FOK/FAK order is held unmatched and
        # matched against the book as it then is at its n-th GET /data/order (None: never; only a
        # cancel ends it).
        self.delay_matching = False
        self.delayed_lookups: int | None = 2
        # What new trade records report as ``fee_rate_bps``; None: the market's feeSchedule rate × 10000.
        # "0" is what a live V2 taker fill was seen reporting while it was charged (py-clob-client-v2 #107).
        self.trade_fee_rate_bps: str | None = None
        # The asset a taker BUY's fee is taken in (see the note above _AuthenticatedClob): "pusd" or "shares".
        self.fee_denomination = "pusd"
        # Each fee charged, in order: (trade id, side, fee in 6-decimal base units of pUSD, or of shares
        # for a BUY under "shares").
        self.fees_charged: list[tuple[str, str, int]] = []

    def _reset_trading(self) -> None:
        self._init_trading(self.chain_id)

    @property
    def geoblock_url(self) -> str:
        return self.server.base_url + "/api/geoblock"

    # -- accounts ----------------------------------------------------------------------------

    def add_account(
        self,
        address: str,
        *,
        funder: str | None = None,
        signature_type: int = 0,
        balance: Decimal = Decimal("1000"),
        shares: dict[str, Decimal] | None = None,
    ) -> dict[str, str]:
        """Register the API key of ``address`` (what L1 derive returns) and fund it; returns the creds."""
        from eth_utils.address import to_checksum_address

        eoa = to_checksum_address(address)
        seed = hashlib.sha256(f"sim-api-key:{eoa}".encode()).digest()
        api_key = str(uuid.UUID(bytes=seed[:16]))
        secret = base64.urlsafe_b64encode(hashlib.sha256(seed + b"secret").digest()).decode()
        passphrase = hashlib.sha256(seed + b"passphrase").hexdigest()
        maker = eoa if signature_type == 0 else to_checksum_address(funder or "")
        acct = SimAccount(
            eoa, api_key, secret, passphrase, maker, signature_type, int(balance * _UNITS),
            {t: int(q * _UNITS) for t, q in (shares or {}).items()},
        )
        with self.trade_lock:
            self.accounts[api_key] = acct
            # Shares held from the start show in the Data API's positions too, as at the venue
            # (bought at an unknown earlier price: the position's average starts at 0).
            for token, units in acct.shares.items():
                info = self.token_info(token)
                if info is not None and units > 0:
                    self._update_position(acct, token, info, units, Decimal(0))
        return {"apiKey": api_key, "secret": secret, "passphrase": passphrase}

    def account(self, api_key: str) -> SimAccount:
        return self.accounts[api_key]

    def _account_by_address(self, address: str) -> SimAccount | None:
        for acct in self.accounts.values():
            if acct.address.lower() == address.lower():
                return acct
        return None

    # -- authentication ----------------------------------------------------------------------

    def _l2(self, req: SimRequest) -> SimAccount | SimResponse:
        h = req.headers
        needed = ("poly_address", "poly_signature", "poly_timestamp", "poly_api_key", "poly_passphrase")
        if any(not h.get(k) for k in needed):
            return _err(401, "Unauthorized/Invalid api key")
        acct = self.accounts.get(h["poly_api_key"])
        if acct is None or not hmac.compare_digest(acct.passphrase, h["poly_passphrase"]):
            return _err(401, "Unauthorized/Invalid api key")
        if h["poly_address"].lower() != acct.address.lower():
            return _err(401, "Unauthorized/Invalid api key")
        try:
            ts = int(h["poly_timestamp"])
        except ValueError:
            return _err(401, "Unauthorized/Invalid api key")
        if abs(time.time() - ts) > self.hmac_max_skew:
            return _err(401, "Unauthorized/Invalid api key")
        message = f"{ts}{req.method}{req.path}".encode() + req.body
        digest = hmac.new(base64.urlsafe_b64decode(acct.secret), message, hashlib.sha256).digest()
        expected = base64.urlsafe_b64encode(digest).decode()
        if not hmac.compare_digest(expected, h["poly_signature"]):
            return _err(401, "Unauthorized/Invalid api key")
        return acct

    def _l1(self, req: SimRequest) -> str | SimResponse:
        """Recover the ClobAuth signer (eth_account) and compare it with POLY_ADDRESS."""
        from eth_account import Account
        from eth_account.messages import encode_typed_data

        h = req.headers
        if any(not h.get(k) for k in ("poly_address", "poly_signature", "poly_timestamp")):
            return _err(401, "Invalid L1 Request headers")
        try:
            nonce = int(h.get("poly_nonce") or "0")
            typed = {
                "types": {
                    "EIP712Domain": [
                        {"name": "name", "type": "string"},
                        {"name": "version", "type": "string"},
                        {"name": "chainId", "type": "uint256"},
                    ],
                    "ClobAuth": [
                        {"name": "address", "type": "address"},
                        {"name": "timestamp", "type": "string"},
                        {"name": "nonce", "type": "uint256"},
                        {"name": "message", "type": "string"},
                    ],
                },
                "primaryType": "ClobAuth",
                "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": self.chain_id},
                "message": {
                    "address": h["poly_address"],
                    "timestamp": h["poly_timestamp"],
                    "nonce": nonce,
                    "message": CLOB_AUTH_TEXT,
                },
            }
            signer = Account.recover_message(encode_typed_data(full_message=typed), signature=h["poly_signature"])
        except Exception:
            return _err(401, "Invalid L1 Request headers")
        if signer.lower() != h["poly_address"].lower() or nonce != 0:
            return _err(401, "Invalid L1 Request headers")
        if abs(time.time() - int(h["poly_timestamp"])) > self.hmac_max_skew:
            return _err(401, "Invalid L1 Request headers")
        return str(signer)

    # -- markets -----------------------------------------------------------------------------

    def token_info(self, token: str) -> dict[str, Any] | None:
        """condition id, outcome label/index, neg-risk and protocol version of a token."""
        for _ev, m in self.all_markets():
            tokens = _tokens_of(m)
            if token in tokens:
                idx = tokens.index(token)
                labels = _decode(m.get("outcomes"))
                sched = m.get("feeSchedule") if m.get("feesEnabled") else None
                rate = sched.get("rate") if isinstance(sched, dict) else 0
                exponent = sched.get("exponent", 1) if isinstance(sched, dict) else 1
                return {
                    "market": m.get("conditionId"),
                    "outcome": labels[idx] if idx < len(labels) else str(idx),
                    "index": idx,
                    "neg_risk": self.clob_neg_risk(token, m),
                    "v2": m.get("version") == "v2",
                    "title": m.get("question", ""),
                    "fee_bps": str(int(Decimal(str(rate or 0)) * 10000)),
                    "fee_rate": Decimal(str(rate or 0)),
                    "fee_exponent": int(exponent if exponent is not None else 1),
                }
        book = self.books.get(token)
        if book is not None:
            return {"market": book["market"], "outcome": "Yes", "index": 0, "neg_risk": bool(book["neg_risk"]),
                    "v2": False, "title": "", "fee_bps": "0", "fee_rate": Decimal(0), "fee_exponent": 1}
        return None

    def clob_neg_risk(self, token: str, market: dict[str, Any]) -> bool:
        """The neg-risk flag the CLOB holds a token's orders to (and checks their signature against):
        its book's ``neg_risk``, which Gamma's ``negRisk`` can lag; Gamma's only when the book states none."""
        flag = (self.books.get(token) or {}).get("neg_risk")
        return bool(market.get("negRisk")) if flag is None else bool(flag)

    def _exchange(self, info: dict[str, Any]) -> tuple[str, str]:
        table = SIM_EXCHANGES[self.chain_id]
        if info["v2"]:
            return table["v3"], "3"
        return (table["v2_neg_risk"] if info["neg_risk"] else table["v2"]), "2"

    def _order_digest_and_signer(self, order: dict[str, Any], info: dict[str, Any]) -> tuple[str, str]:
        from eth_account import Account
        from eth_account.messages import encode_typed_data
        from eth_utils.crypto import keccak

        contract, version = self._exchange(info)
        typed = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Order": _ORDER_FIELDS,
            },
            "primaryType": "Order",
            "domain": {
                "name": "Polymarket CTF Exchange",
                "version": version,
                "chainId": self.chain_id,
                "verifyingContract": contract,
            },
            "message": {
                "salt": int(order["salt"]),
                "maker": order["maker"],
                "signer": order["signer"],
                "tokenId": int(order["tokenId"]),
                "makerAmount": int(order["makerAmount"]),
                "takerAmount": int(order["takerAmount"]),
                "side": 0 if order["side"] == "BUY" else 1,
                "signatureType": int(order["signatureType"]),
                "timestamp": int(order["timestamp"]),
                "metadata": bytes.fromhex(order["metadata"][2:]),
                "builder": bytes.fromhex(order["builder"][2:]),
            },
        }
        signable = encode_typed_data(full_message=typed)
        digest = "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()
        signer = Account.recover_message(signable, signature=order["signature"])
        return digest, str(signer)

    # -- routes ------------------------------------------------------------------------------

    def _trading_routes(self) -> None:
        r = self.server.route
        r("POST", r"/clob/order", self._post_order)
        r("DELETE", r"/clob/order", self._cancel_order)
        r("GET", r"/clob/data/order/(?P<id>[^/]+)", self._get_order)
        r("GET", r"/clob/data/orders", self._get_orders)
        r("GET", r"/clob/data/trades", self._get_trades)
        r("GET", r"/clob/balance-allowance", self._balance_allowance)
        r("GET", r"/clob/balance-allowance/update", self._balance_update)
        r("GET", r"/clob/auth/derive-api-key", self._derive)
        r("GET", r"/clob/version", lambda req, m: SimResponse(200, {"version": self.clob_version}))
        r("GET", r"/api/geoblock", lambda req, m: SimResponse(200, dict(self.geoblock)))

    def _derive(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        signer = self._l1(req)
        if isinstance(signer, SimResponse):
            return signer
        acct = self._account_by_address(signer)
        if acct is None:
            return _err(400, "Could not derive api key!")
        return SimResponse(200, {"apiKey": acct.api_key, "secret": acct.secret, "passphrase": acct.passphrase})

    # -- orders ------------------------------------------------------------------------------

    def _reserved(self, acct: SimAccount, token: str | None) -> int:
        total = 0
        for o in self.orders.values():
            if o["owner"] != acct.api_key or o["status"] != "LIVE":
                continue
            if token is None and o["side"] == "BUY":
                total += o["_reserved"]
            elif token is not None and o["side"] == "SELL" and o["asset_id"] == token:
                total += o["_reserved"]
        return total

    def _post_order(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._l2(req)
        if isinstance(acct, SimResponse):
            return acct
        with self.trade_lock:
            if self.version_mismatches > 0 or self.clob_version != 2:  # orders here are signed for version 2
                self.version_mismatches = max(0, self.version_mismatches - 1)
                return _err(self.version_mismatch_status, "order_version_mismatch")
        try:
            payload = json.loads(req.body)
            order = payload["order"]
            owner, order_type = payload["owner"], payload["orderType"]
            side = order["side"]
            maker_amt, taker_amt = int(order["makerAmount"]), int(order["takerAmount"])
            salt = order["salt"]
            sig_type = int(order["signatureType"])
            token = str(order["tokenId"])
        except (ValueError, KeyError, TypeError):
            return _err(400, "Invalid order payload")
        if not isinstance(salt, int) or not 0 <= salt < 2**53:  # a JSON number beyond 2^53 is rounded
            return _err(400, "Invalid order payload")
        if order_type not in ("GTC", "GTD", "FOK", "FAK") or side not in ("BUY", "SELL"):
            return _err(400, "Invalid order payload")
        if maker_amt <= 0 or taker_amt <= 0:
            return _err(400, "Invalid order payload")
        if payload.get("postOnly") and order_type in ("FOK", "FAK"):
            return _err(400, "invalid post-only order: FOK and FAK orders cannot be post-only")
        if owner != acct.api_key:
            return _err(400, "the order owner has to be the owner of the API KEY")
        if sig_type == 3:
            return _err(400, "the simulator does not model POLY_1271 deposit wallets")
        if str(order.get("signer", "")).lower() != acct.address.lower():
            return _err(400, "the order signer address has to be the address of the API KEY")
        if str(order.get("maker", "")).lower() != acct.funder.lower() or sig_type != acct.signature_type:
            return _err(400, "maker address not allowed, please use the deposit wallet flow")
        info = self.token_info(token)
        if info is None:
            return _err(400, "Invalid token id")
        closed = self.not_taking_orders(token)
        if closed is not None:
            return closed
        try:
            order_hash, recovered = self._order_digest_and_signer(order, info)
        except Exception:
            return _err(400, "invalid signature")
        if recovered.lower() != acct.address.lower():
            return _err(400, "invalid signature")
        refused = self._order_shape(order, order_type, token, maker_amt, taker_amt, order_hash)
        if refused is not None:
            return refused
        if order_type in ("FOK", "FAK") and side == "BUY" and maker_amt < _UNITS:  # pitfall 8: the $1 minimum
            return _err(400, f"invalid amount for a marketable BUY order (${_dec_text(maker_amt / _UNITS)}), "
                             "min size: $1")
        with self.trade_lock:
            if order_hash in self.orders:
                return _err(400, f"order {order_hash} is invalid. Duplicated.")
            if self.delay_matching and payload["orderType"] in ("FOK", "FAK"):
                return self._hold(acct, payload, order, order_hash, info)
            return self._match(acct, payload, order, order_hash, info)

    def market_of_token(self, token: str) -> dict[str, Any] | None:
        """The Gamma market listing ``token``, if any."""
        return next((m for _ev, m in self.all_markets() if token in _tokens_of(m)), None)

    def not_taking_orders(self, token: str) -> SimResponse | None:
        """The refusal of an order on a market the CLOB does not trade: ``closed``, ``acceptingOrders`` false or
        ``enableOrderBook`` false (reference §2.1: CLOB-tradable only if true). A flag left out is not read as
        false here (recorded Gamma markets always carry them). The body is the documented CLOB error shape
        (docs.polymarket.com/resources/error-codes: a single ``error`` string, 400 for a refused order); the
        wording, the venue's MARKET_NOT_READY message, is not recorded for these cases: MODELLED."""
        m = self.market_of_token(token)
        if m is None:
            return None
        if m.get("closed") is True or m.get("acceptingOrders") is False or m.get("enableOrderBook") is False:
            return _err(400, "the market is not yet ready to process new orders")
        return None

    def order_rules(self, token: str) -> tuple[Decimal, Decimal]:
        """(tick size, minimum order size in shares) the venue holds a token's orders to: its book's
        ``tick_size``/``min_order_size``, else its market's ``orderPriceMinTickSize``/``orderMinSize``
        (0.01 and 5 shares, the usual values, when neither says)."""
        book = self.books.get(token) or {}
        tick, minimum = book.get("tick_size"), book.get("min_order_size")
        if tick in (None, "") or minimum in (None, ""):
            for _ev, m in self.all_markets():
                if token in _tokens_of(m):
                    tick = tick if tick not in (None, "") else m.get("orderPriceMinTickSize")
                    minimum = minimum if minimum not in (None, "") else m.get("orderMinSize")
                    break
        return (Decimal(str(tick)) if tick not in (None, "") else Decimal("0.01"),
                Decimal(str(minimum)) if minimum not in (None, "") else Decimal(5))

    def _order_shape(self, order: dict[str, Any], order_type: str, token: str, maker_amt: int, taker_amt: int,
                     order_hash: str) -> SimResponse | None:
        """The venue's refusals of an order's amounts, price and expiration (reference §2.1 "Tick sizes
        and minimums", §2.4 "Rounding" and "Order types"), in the venue's ``{"error": …}`` 400 shape.

        Amounts are 6-decimal base units. A resting order (GTC/GTD) is held to ``ROUNDING_CONFIG``:
        shares to 2 decimals, pUSD to the tick's amount decimals (0.1→3, 0.01→4, 0.005→5, 0.0025→6,
        0.001→5, 0.0001→6), its price pUSD/shares on the tick grid within [tick, 1 − tick], and at least
        ``min_order_size`` shares. A "market" order (FOK/FAK) has flat precision whatever the tick: BUY
        pUSD ≤ 2 decimals and shares ≤ 4 (the recorded server message); its implied price is a worst
        price, not a grid price, and its minimum is the $1 of a marketable BUY (checked by the caller).
        A GTD's expiration must be at least 60 s away (the venue's security threshold).

        Recorded wording: the market BUY precision message and "breaks minimum tick size rule" (py-clob-client
        PR #18). Modelled (no capture): the wording of the other messages, the market SELL precision (by
        symmetry: shares ≤ 2 decimals, pUSD ≤ 4), and the order in which the venue applies these checks.
        """
        buy = order["side"] == "BUY"
        usdc, shares = (maker_amt, taker_amt) if buy else (taker_amt, maker_amt)
        tick, minimum = self.order_rules(token)

        def places(units: int) -> int:  # decimals of an amount in 6-decimal base units
            n = 6
            while n and units % 10 == 0:
                units, n = units // 10, n - 1
            return n

        side_word = "buy" if buy else "sell"
        if order_type in ("FOK", "FAK"):
            maker_max, taker_max = 2, 4  # BUY: pUSD 2, shares 4; SELL (modelled): shares 2, pUSD 4
            if places(maker_amt) > maker_max or places(taker_amt) > taker_max:
                return _err(400, f"invalid amounts, the market {side_word} orders maker amount supports a max "
                                 f"accuracy of {maker_max} decimals, taker amount a max of {taker_max} decimals")
            return None
        amount_dp = _AMOUNT_DECIMALS.get(tick, 6)
        maker_max, taker_max = (amount_dp, 2) if buy else (2, amount_dp)
        if places(maker_amt) > maker_max or places(taker_amt) > taker_max:
            return _err(400, f"invalid amounts, the {side_word} orders maker amount supports a max accuracy of "
                             f"{maker_max} decimals, taker amount a max of {taker_max} decimals")
        price = Decimal(usdc) / Decimal(shares)
        if price % tick != 0:
            return _err(400, f"order {order_hash} is invalid. Price ({_dec_text(price)}) breaks minimum tick size "
                             f"rule: {_dec_text(tick)}")
        if not tick <= price <= 1 - tick:
            return _err(400, f"order {order_hash} is invalid. Price ({_dec_text(price)}) out of range, min: "
                             f"{_dec_text(tick)} - max: {_dec_text(1 - tick)}")
        size = Decimal(shares) / _UNITS
        if size < minimum:
            return _err(400, f"order {order_hash} is invalid. Size ({_dec_text(size)}) lower than the minimum: "
                             f"{_dec_text(minimum)}")
        if order_type == "GTD":
            try:
                expiration = int(str(order.get("expiration", "0")))
            except ValueError:
                return _err(400, "Invalid order payload")
            if expiration < int(time.time()) + 60:
                return _err(400, f"order {order_hash} is invalid. Expiration ({expiration}) must be at least 60 "
                                 "seconds in the future")
        return None

    def _hold(
        self, acct: SimAccount, payload: dict[str, Any], order: dict[str, Any], order_hash: str, info: dict[str, Any]
    ) -> SimResponse:
        """Accept a marketable order unmatched (``delayed``); :meth:`_decide` matches it later."""
        buy = order["side"] == "BUY"
        maker_amt, taker_amt = int(order["makerAmount"]), int(order["takerAmount"])
        limit = (Decimal(maker_amt) / Decimal(taker_amt)) if buy else (Decimal(taker_amt) / Decimal(maker_amt))
        self.orders[order_hash] = {
            "id": order_hash, "status": "DELAYED", "owner": acct.api_key, "maker_address": acct.funder,
            "market": info["market"], "asset_id": str(order["tokenId"]), "side": order["side"],
            "original_size": _dec_text(Decimal(taker_amt if buy else maker_amt) / _UNITS), "size_matched": "0",
            "price": _dec_text(limit.quantize(Decimal("0.000001"))), "outcome": info["outcome"],
            "expiration": str(order.get("expiration", "0")), "order_type": payload["orderType"],
            "associate_trades": [], "created_at": int(time.time()), "_reserved": 0,
            "_body": bytes(json.dumps(payload, separators=(",", ":")).encode()),
            "_held": (acct, payload, order, info, self.delayed_lookups),
        }
        self.order_posts_accepted += 1
        return SimResponse(200, {"success": True, "errorMsg": "", "orderID": order_hash, "takingAmount": "",
                                 "makingAmount": "", "status": "delayed", "transactionsHashes": [], "tradeIDs": []})

    def _decide(self, order_hash: str) -> None:
        """One more look at a held order: at its n-th, match it against the book as it is now."""
        o = self.orders[order_hash]
        acct, payload, order, info, left = o["_held"]
        if left is None or left > 1:
            o["_held"] = (acct, payload, order, info, None if left is None else left - 1)
            return
        del self.orders[order_hash]
        self.order_posts_accepted -= 1  # counted once, when it was held
        answer = self._match(acct, payload, order, order_hash, info)
        if answer.status >= 400:  # killed: nothing (enough) to match by now
            o.update(status="CANCELED", _held=None)
            self.orders[order_hash] = o
            self.order_posts_accepted += 1

    def _match(
        self, acct: SimAccount, payload: dict[str, Any], order: dict[str, Any], order_hash: str, info: dict[str, Any]
    ) -> SimResponse:
        side, order_type = order["side"], payload["orderType"]
        token = str(order["tokenId"])
        maker_amt, taker_amt = int(order["makerAmount"]), int(order["takerAmount"])
        buy = side == "BUY"
        if buy and acct.cash - self._reserved(acct, None) < maker_amt:
            return _err(400, "not enough balance / allowance")
        if not buy and acct.shares.get(token, 0) - self._reserved(acct, token) < maker_amt:
            return _err(400, "not enough balance / allowance")
        market_order = order_type in ("FOK", "FAK")
        limit = (Decimal(maker_amt) / Decimal(taker_amt)) if buy else (Decimal(taker_amt) / Decimal(maker_amt))
        book = self.books.get(token)
        levels = (book["asks"] if buy else book["bids"]) if book else []
        fills: list[tuple[Decimal, int]] = []  # (price, share units)
        budget = Decimal(maker_amt)  # BUY market: pUSD units to spend
        want = taker_amt if buy else maker_amt  # share units wanted (limit BUY / any SELL)
        for level in reversed(levels):  # best last
            price = Decimal(str(level["price"]))
            if (buy and price > limit) or (not buy and price < limit):
                break
            avail = int(Decimal(str(level["size"])) * _UNITS)
            if buy and market_order:
                take = min(avail, int(budget / price))
            else:
                take = min(avail, want)
            if take <= 0:
                break
            fills.append((price, take))
            if buy and market_order:
                budget -= price * take
            else:
                want -= take
            if (buy and market_order and budget < 1) or (not (buy and market_order) and want <= 0):
                break
        filled_units = sum(q for _p, q in fills)
        complete = budget < 1 if (buy and market_order) else want <= 0
        if order_type == "FOK" and not complete:
            return _err(400, FOK_KILLED)
        if order_type == "FAK" and not fills:
            return _err(400, FAK_KILLED)
        usd_units = sum((p * q for p, q in fills), Decimal(0))
        if self.fee_denomination not in ("pusd", "shares"):
            raise ValueError(f"fee_denomination must be 'pusd' or 'shares', not {self.fee_denomination!r}")
        if buy and self.fee_denomination == "pusd":  # the fee is paid on top: the balance must hold it too
            charge = sum(int((p * q).to_integral_value(rounding="ROUND_CEILING")) + self.taker_fee_units(info, p, q)
                         for p, q in fills)
            if acct.cash - self._reserved(acct, None) < charge:
                return _err(400, "not enough balance / allowance")
        trade_ids = self._settle(acct, token, side, fills, info, order_hash)
        original = Decimal(taker_amt if buy else maker_amt) / _UNITS
        if market_order or complete:
            status = "MATCHED"
            reserved = 0
        else:
            status = "LIVE"
            remaining_units = want
            reserved = int(remaining_units * limit) + 1 if buy else remaining_units
        price_text = _dec_text(limit.quantize(Decimal("0.000001")))
        self.orders[order_hash] = {
            "id": order_hash,
            "status": status,
            "owner": acct.api_key,
            "maker_address": acct.funder,
            "market": info["market"],
            "asset_id": token,
            "side": side,
            "original_size": _dec_text(original),
            "size_matched": _dec_text(Decimal(filled_units) / _UNITS),
            "price": price_text,
            "outcome": info["outcome"],
            "expiration": str(order.get("expiration", "0")),
            "order_type": payload["orderType"],
            "associate_trades": trade_ids,
            "created_at": int(time.time()),
            "_reserved": reserved,
            "_body": bytes(json.dumps(payload, separators=(",", ":")).encode()),
        }
        self.order_posts_accepted += 1
        making = usd_units if buy else Decimal(filled_units)
        taking = Decimal(filled_units) if buy else usd_units
        return SimResponse(
            200,
            {
                "success": True,
                "errorMsg": "",
                "orderID": order_hash,
                "takingAmount": _dec_text((taking / _UNITS).quantize(Decimal("0.000001"))) if fills else "",
                "makingAmount": _dec_text((making / _UNITS).quantize(Decimal("0.000001"))) if fills else "",
                "status": "live" if status == "LIVE" else "matched",
                "transactionsHashes": [],
                "tradeIDs": trade_ids,
            },
        )

    def _settle(
        self,
        acct: SimAccount,
        token: str,
        side: str,
        fills: list[tuple[Decimal, int]],
        info: dict[str, Any],
        order_hash: str,
    ) -> list[str]:
        buy = side == "BUY"
        book = self.books.get(token)
        ids: list[str] = []
        for price, qty in fills:
            usd = price * qty
            fee = self.taker_fee_units(info, price, qty)
            delivered = qty
            if buy:
                paid = int(usd.to_integral_value(rounding="ROUND_CEILING"))
                if self.fee_denomination == "shares":
                    delivered -= fee
                else:
                    paid += fee
                acct.cash -= paid
                acct.shares[token] = acct.shares.get(token, 0) + delivered
            else:
                acct.cash += int(usd.to_integral_value(rounding="ROUND_FLOOR")) - fee
                acct.shares[token] = acct.shares.get(token, 0) - qty
            if book is not None:
                levels = book["asks"] if buy else book["bids"]
                for level in levels:
                    if Decimal(str(level["price"])) == price:
                        left = Decimal(str(level["size"])) - Decimal(qty) / _UNITS
                        level["size"] = _dec_text(left)
                levels[:] = [lv for lv in levels if Decimal(str(lv["size"])) > 0]
            trade_id = f"sim-trade-{len(self.clob_trades) + 1}"
            ids.append(trade_id)
            if fee:
                self.fees_charged.append((trade_id, side, fee))
            self.clob_trades.append(
                {
                    "id": trade_id,
                    "taker_order_id": order_hash,
                    "market": info["market"],
                    "asset_id": token,
                    "side": side,
                    "size": _dec_text(Decimal(qty) / _UNITS),
                    "fee_rate_bps": info["fee_bps"] if self.trade_fee_rate_bps is None else self.trade_fee_rate_bps,
                    "price": _dec_text(price),
                    "status": "MATCHED",
                    "match_time": str(int(time.time())),
                    "last_update": str(int(time.time())),
                    "outcome": info["outcome"],
                    "bucket_index": 0,
                    "owner": acct.api_key,
                    "maker_address": acct.funder,
                    "transaction_hash": "0x" + hashlib.sha256(trade_id.encode()).hexdigest(),
                    "trader_side": "TAKER",
                    "maker_orders": [],
                }
            )
            self._update_position(acct, token, info, delivered if buy else -qty, price, cost=usd / _UNITS)
        if book is not None:
            book["hash"] = sim_book_hash(book)
        return ids

    def resolve_market(self, condition_id: str, winning_index: int | None) -> None:
        """UMA resolution: every holder's tokens of ``condition_id`` turn ``redeemable`` at their final
        price (1 for the winning outcome, 0 for the other; 0.5 each for a 50-50, ``None``). Cash moves
        only when they are redeemed (:meth:`redeem`). The market closes with those final prices, and
        the CLOB's ``/markets/{condition_id}`` flags the winner."""
        with self.trade_lock:
            for row in self.positions:
                if row.get("conditionId") == condition_id:
                    row["redeemable"] = True
                    row["curPrice"] = Decimal("0.5") if winning_index is None else \
                        Decimal(1 if row.get("outcomeIndex") == winning_index else 0)
            try:
                mk = self.market(condition_id)  # type: ignore[attr-defined]
            except KeyError:
                return
            final = ["0.5", "0.5"] if winning_index is None else ["1" if i == winning_index else "0" for i in (0, 1)]
            mk.update(closed=True, acceptingOrders=False, umaResolutionStatus="resolved",
                      outcomePrices=json.dumps(final))

    def redeem(self, funder: str, condition_id: str) -> Decimal:
        """The holder redeems a resolved market: its tokens are burned, their payout becomes pUSD."""
        with self.trade_lock:
            acct = next(a for a in self.accounts.values() if a.funder.lower() == funder.lower())
            mine = [r for r in self.positions if r.get("proxyWallet") == funder.lower()
                    and r.get("conditionId") == condition_id and r.get("redeemable")]
            paid = sum((Decimal(str(r["size"])) * Decimal(str(r["curPrice"])) for r in mine), Decimal(0))
            acct.cash += int(paid * _UNITS)
            for r in mine:
                self.positions.remove(r)
                acct.shares.pop(str(r.get("asset")), None)
            return paid

    def taker_fee_units(self, info: dict[str, Any], price: Decimal, qty: int) -> int:
        """The venue's taker fee for ``qty`` share units at ``price`` in a market of ``info``
        (:meth:`token_info`), in 6-decimal base units: ``shares × rate × (p × (1 − p))^exponent``
        floored to 5 decimals (reference §4, the recorded on-chain fills). Written independently of
        orion's ``FeeModel``."""
        rate: Decimal = info.get("fee_rate") or Decimal(0)
        if rate <= 0 or qty <= 0:
            return 0
        with localcontext() as ctx:
            ctx.prec = 60
            fee = Decimal(qty) / _UNITS * rate * (price * (1 - price)) ** int(info.get("fee_exponent", 1))
            step = Decimal("0.00001")
            return int((fee / step).to_integral_value(rounding=ROUND_FLOOR) * step * _UNITS)

    def _update_position(self, acct: SimAccount, token: str, info: dict[str, Any], qty: int, price: Decimal,
                         *, cost: Decimal | None = None) -> None:
        """Move the Data-API position by ``qty`` share units bought (> 0) at ``price``, or sold; a buy
        adds ``cost`` (pUSD paid, when it is not ``qty × price``: shares withheld for a fee)."""
        wallet = acct.funder.lower()
        row = next((p for p in self.positions if p.get("proxyWallet") == wallet and p.get("asset") == token), None)
        delta = Decimal(qty) / _UNITS
        if row is None:
            row = {"proxyWallet": wallet, "asset": token, "conditionId": info["market"], "size": Decimal(0),
                   "avgPrice": Decimal(0), "initialValue": Decimal(0), "title": info["title"],
                   "outcome": info["outcome"], "outcomeIndex": info["index"], "negativeRisk": info["neg_risk"]}
            self.positions.append(row)
        size, value = Decimal(str(row["size"])), Decimal(str(row["initialValue"]))
        if delta > 0:
            value += delta * price if cost is None else cost
        elif size > 0:
            value -= value * (-delta) / size
        size += delta
        row["size"], row["initialValue"] = size, value
        row["avgPrice"] = (value / size).quantize(Decimal("0.000001")) if size > 0 else Decimal(0)

    def _public_order(self, o: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in o.items() if not k.startswith("_")}

    def _get_order(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._l2(req)
        if isinstance(acct, SimResponse):
            return acct
        with self.trade_lock:
            o = self.orders.get(m.group("id"))
            if o is None or o["owner"] != acct.api_key:
                return _err(404, "order not found")
            if o["status"] == "DELAYED":
                self._decide(o["id"])
                o = self.orders[o["id"]]
            return SimResponse(200, self._public_order(o))

    def _cancel_order(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._l2(req)
        if isinstance(acct, SimResponse):
            return acct
        try:
            order_id = req.json()["orderID"]
        except (ValueError, KeyError, TypeError):
            return _err(400, "Invalid order payload")
        if not isinstance(order_id, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", order_id):
            return _err(400, "Invalid orderID")
        with self.trade_lock:
            o = self.orders.get(order_id)
            if o is None or o["owner"] != acct.api_key:
                return SimResponse(200, {"canceled": [], "not_canceled": {order_id: "order not found"}})
            if o["status"] not in ("LIVE", "DELAYED"):
                return SimResponse(200, {"canceled": [], "not_canceled": {order_id: "already canceled or matched"}})
            o["status"], o["_reserved"], o["_held"] = "CANCELED", 0, None
            return SimResponse(200, {"canceled": [order_id], "not_canceled": {}})

    def _paged(self, req: SimRequest, rows: list[dict[str, Any]]) -> SimResponse:
        offset = _page_offset(req.param("next_cursor", INITIAL_CURSOR) or INITIAL_CURSOR)
        if offset is None:
            return _err(400, "invalid next_cursor")
        page = rows[offset : offset + self.page_size]
        end = offset + self.page_size >= len(rows)
        return SimResponse(
            200,
            {
                "limit": self.page_size,
                "count": len(page),
                "next_cursor": END_CURSOR if end else _page_cursor(offset + self.page_size),
                "data": page,
            },
        )

    def _get_orders(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._l2(req)
        if isinstance(acct, SimResponse):
            return acct
        with self.trade_lock:
            rows = [
                self._public_order(o)
                for o in self.orders.values()
                if o["owner"] == acct.api_key and o["status"] == "LIVE"
                and all(req.param(k) in (None, o[f]) for k, f in (("id", "id"), ("market", "market"),
                                                                    ("asset_id", "asset_id")))
            ]
        return self._paged(req, rows)

    def _get_trades(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._l2(req)
        if isinstance(acct, SimResponse):
            return acct
        after, before = req.param("after"), req.param("before")
        with self.trade_lock:
            rows = [
                dict(t)
                for t in self.clob_trades
                if t["owner"] == acct.api_key
                and all(req.param(k) in (None, t[f]) for k, f in (("id", "id"), ("market", "market"),
                                                                    ("asset_id", "asset_id")))
                and (after is None or int(t["match_time"]) >= int(after))
                and (before is None or int(t["match_time"]) <= int(before))
            ]
        return self._paged(req, rows)

    def _balance_params(self, req: SimRequest, acct: SimAccount) -> tuple[str, int] | SimResponse:
        asset_type = req.param("asset_type") or ""
        if asset_type not in ("COLLATERAL", "CONDITIONAL"):
            return _err(400, "Invalid asset type")
        try:
            sig = int(req.param("signature_type") or "")
        except ValueError:
            return _err(400, "Invalid signature_type")
        if sig not in (0, 1, 2, 3):
            return _err(400, "Invalid signature_type")
        return asset_type, sig

    def _balance_allowance(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._l2(req)
        if isinstance(acct, SimResponse):
            return acct
        parsed = self._balance_params(req, acct)
        if isinstance(parsed, SimResponse):
            return parsed
        asset_type, sig = parsed
        table = SIM_EXCHANGES[self.chain_id]
        allowances = {table["v2"]: MAX_UINT256, table["v2_neg_risk"]: MAX_UINT256, NEG_RISK_ADAPTER: MAX_UINT256}
        with self.trade_lock:
            if sig != acct.signature_type:  # another address: the pitfall of a wrong signature type
                return SimResponse(200, {"balance": "0", "allowances": allowances})
            if asset_type == "COLLATERAL":
                return SimResponse(200, {"balance": str(acct.cash), "allowances": allowances})
            token = req.param("token_id")
            if not token:
                return _err(400, "Invalid token id")
            return SimResponse(200, {"balance": str(acct.shares.get(token, 0)), "allowances": allowances})

    def _balance_update(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        acct = self._l2(req)
        if isinstance(acct, SimResponse):
            return acct
        parsed = self._balance_params(req, acct)
        if isinstance(parsed, SimResponse):
            return parsed
        with self.trade_lock:
            self.balance_updates += 1
        return SimResponse(200, b"")


class PolymarketSim(_AuthenticatedClob):
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
        self._pristine = copy.deepcopy((self.events, self.books, self.positions))
        self._init_trading()
        self._routes()

    def reset(self) -> None:
        """Back to the state after construction (data, switches, faults, request log), server kept.

        Lets a test module share one running server: starting and stopping one costs ~0.5 s.
        """
        self.events, self.books, self.positions = copy.deepcopy(self._pristine)
        self._reset_trading()
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
        r("GET", r"/clob/markets/(?P<cid>0x[0-9a-fA-F]+)", self._clob_full_market)
        r("GET", r"/clob/time", lambda req, m: SimResponse(200, int(time.time())))
        r("GET", r"/clob/ok", lambda req, m: SimResponse(200, b'"OK"'))
        r("GET", r"/data/positions", self._positions)
        r("GET", r"/data/trades", lambda req, m: SimResponse(200, self.trades))
        self._trading_routes()

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
            "nr": self.clob_neg_risk(tokens[0], mk) if tokens else bool(mk.get("negRisk")),
        }
        sched = mk.get("feeSchedule")
        if mk.get("feesEnabled") and isinstance(sched, dict):
            body["fd"] = {"r": sched.get("rate"), "e": sched.get("exponent", 1)}
        return SimResponse(200, body)

    def _clob_full_market(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        """``GET /markets/{condition_id}`` in the recorded shape (``clob_market_*.json``): the market's
        flags and each token with its price and ``winner`` (true only once resolved, at price 1)."""
        try:
            mk = self.market(m.group("cid"))
        except KeyError:
            return SimResponse(404, {"error": "market not found"})
        labels = _decode(mk.get("outcomes"))
        prices = [Decimal(str(p)) for p in _decode(mk.get("outcomePrices"))] or [Decimal("0.5")] * 2
        resolved = mk.get("umaResolutionStatus") == "resolved"
        return SimResponse(200, {
            "enable_order_book": bool(mk.get("enableOrderBook", True)), "active": bool(mk.get("active")),
            "closed": bool(mk.get("closed")), "archived": bool(mk.get("archived", False)),
            "accepting_orders": bool(mk.get("acceptingOrders")), "minimum_order_size": mk.get("orderMinSize", 5),
            "minimum_tick_size": mk.get("orderPriceMinTickSize"), "condition_id": mk["conditionId"],
            "question_id": mk.get("questionID", ""), "question": mk.get("question", ""),
            "market_slug": mk.get("slug", ""), "neg_risk": bool(mk.get("negRisk")),
            "is_50_50_outcome": resolved and all(p == Decimal("0.5") for p in prices),
            "tokens": [{"token_id": t, "outcome": o, "price": p, "winner": resolved and p == 1}
                       for t, o, p in zip(_tokens_of(mk), labels, prices, strict=False)],
        })

    # -- Data API ----------------------------------------------------------------------------

    def _positions(self, req: SimRequest, m: re.Match[str]) -> SimResponse:
        user = (req.param("user") or "").lower()
        if not re.fullmatch(r"0x[0-9a-f]{40}", user):
            return SimResponse(400, {"error": "invalid user address"})
        limit = int(req.param("limit", "100") or 100)
        offset = int(req.param("offset", "0") or 0)
        # ``sizeThreshold``: "The minimum position size to include. Defaults to 1.0" (the Data API's OpenAPI,
        # docs.polymarket.com/developers/open-api/get-positions.json), so dust below a share is hidden unless a
        # reader asks for ``sizeThreshold=0``.
        try:
            threshold = Decimal(req.param("sizeThreshold") or "1")
        except ArithmeticError:
            return SimResponse(400, {"error": "invalid sizeThreshold"})
        rows = [self._position_row(p) for p in self.positions if str(p.get("proxyWallet", "")).lower() == user
                and Decimal(str(p.get("size", 0))) >= threshold]
        return SimResponse(200, rows[offset : offset + limit])

    def _position_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A stored position as the v1 Data API lists it (reference §2.4's field list): ``curPrice`` the market's
        price now (its final price once resolved), ``currentValue``, ``cashPnl``, ``redeemable``, ``mergeable``
        (the wallet also holds the other outcome, so a pair could be merged back into pUSD), ``oppositeOutcome``
        and ``oppositeAsset``. Values are the simulator's; the field names and types are the recorded ones."""
        out = dict(row)
        token = str(row.get("asset"))
        m = self.market_of_token(token)
        if m is None:  # a stored row of no listed market (the recorded example rows): as stored
            return out
        tokens, labels, prices = _tokens_of(m), _decode(m.get("outcomes")), _decode(m.get("outcomePrices"))
        idx = tokens.index(token) if token in tokens else None
        other = (1 - idx) if idx is not None and len(tokens) == 2 else None
        size = Decimal(str(row.get("size", 0)))
        if "curPrice" not in out:
            out["curPrice"] = Decimal(str(prices[idx])) if idx is not None and idx < len(prices) else Decimal(0)
        cur = Decimal(str(out["curPrice"]))
        out["currentValue"] = size * cur
        out["cashPnl"] = size * cur - Decimal(str(row.get("initialValue", 0)))
        out.setdefault("redeemable", False)
        opposite = tokens[other] if other is not None else ""
        out["mergeable"] = bool(opposite) and not out["redeemable"] and size > 0 and any(
            str(p.get("asset")) == opposite and p.get("proxyWallet") == row.get("proxyWallet")
            and Decimal(str(p.get("size", 0))) > 0 for p in self.positions)
        out["oppositeOutcome"] = labels[other] if other is not None and other < len(labels) else ""
        out["oppositeAsset"] = opposite
        return out
