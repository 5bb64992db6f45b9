"""Authenticated Polymarket CLOB V2 trading: orders, balances, positions and the geoblock gate.

Why it is shaped this way (``orion_cli.venues.trading`` has the contract):

* **One signed order, sent as often as needed.** :meth:`PolymarketTrading.prepare` signs the order
  once (``orders.build_signed_order``) and the :class:`PreparedOrder` carries the exact body text;
  :meth:`PolymarketTrading.submit` only ever HMAC-signs and sends *those* bytes. A retry, or a
  re-send after a restart, is therefore the same order (same salt, same signature, same order
  hash), and the venue refuses a second copy ("order {hash} is invalid. Duplicated."), which
  :meth:`submit` answers by reading the existing order back instead of failing (and, while it
  cannot be read yet, with :class:`OrderOutcomeUnknown`: the venue holds it, so it is not rejected).
* **A lost answer is looked up, never guessed.** ``POST /order`` is sent exactly once per call
  (``VenueHttp.send`` never retries). A timeout or dropped connection after the request left, and
  any 5xx (the venue documents "could not run the execution" 500s for orders it had accepted),
  raise :class:`OrderOutcomeUnknown`; the order hash is known before sending, so
  :meth:`find_order` can always answer.
* **A FOK that finds no liquidity is not an error.** The venue answers 400 "order couldn't be fully
  filled. FOK orders are fully filled or killed." (and the FAK equivalent); that is the normal
  "killed" outcome and becomes a CANCELLED :class:`OrderState`. An answer that may still mean
  "placed" (a delayed match, a cancelled request context, or an order id with a placed status but no
  ``success``) is an :class:`OrderOutcomeUnknown`, looked up by the order's hash; every other refusal
  is an :class:`OrderRejected` with the venue's message.
* **A version mismatch is checked, never re-signed.** An order refused as ``order_version_mismatch``
  makes the client read ``GET /version``: at 2 (the version orion signs) the same signed bytes go
  once more; at any other, :class:`OrderVersionUnsupported` (exit 5) names it. Nothing was placed.
* **Geoblock first.** Polymarket refuses many countries; :meth:`submit` consults
  ``GET https://polymarket.com/api/geoblock`` (cached for ``geoblock_ttl`` seconds) and raises
  :class:`Geoblocked` (exit 6) naming the country and region before anything is sent.
* **A firewall's 403 is the geoblock, not our keys.** Cloudflare in front of Polymarket answers a
  host it blocks (geoblocked countries, many datacenter and cloud IPs; often only ``POST /order``,
  while reads work and the geoblock endpoint says "not blocked") with an HTML 403 "Sorry, you have
  been blocked" page (py-clob-client issues #101, #143, #152, #262; clob-client #231, #262). The
  request never reached the CLOB, so no key was judged and nothing was placed: every client here
  raises :class:`Geoblocked` for a 403 whose body is not a JSON object (:func:`_firewall_refusal`),
  and the executor records the order rejected rather than looking up an order that cannot exist.
  The CLOB's own 401/403 (a JSON ``{"error": ...}``) stays :class:`AuthError` (exit 4).

Wire facts (reference notes §2.2-§2.5, py_clob_client_v2 1.2.1 ``client.py``/``endpoints.py``;
docs.polymarket.com/trading/orders/create, /resources/error-codes, /trading/orders/cancel):
``POST /order`` answers ``{success, errorMsg, orderID, status (live|matched|delayed|unmatched),
makingAmount, takingAmount, transactionsHashes, tradeIDs}`` with the amounts as decimal strings
(BUY: making = pUSD, taking = shares; SELL the reverse); order lookups are ``GET /data/order/{hash}``
(the newer docs also show ``/order/{hash}``; the official 1.2.1 client uses ``/data/order/``);
``DELETE /order`` takes ``{"orderID"}`` and answers ``{canceled: [...], not_canceled: {id: reason}}``;
``/data/orders`` and ``/data/trades`` page with ``next_cursor`` from ``"MA=="`` until ``"LTE="``;
``/balance-allowance`` gives ``balance`` in pUSD base units (6 decimals).

Fees: the venue sets taker fees at match time (nothing is signed), at the *market's* rate: the
reference (§4) gives it per market (Gamma ``feeSchedule``, ``/clob-markets`` ``fd.r``/``fd.e``), never
from the trade record, and a live V2 taker fill has been seen reporting ``fee_rate_bps`` 0 while it
was charged (py-clob-client-v2 issue #107). So a taker fill in a market whose fee model the client
was told (:meth:`PolymarketTrading.remember_fee`: ``orion trade`` tells it each leg's model before
sending, a resume and ``orion reconcile`` the model the execution's plan persisted) is charged by that
:class:`~orion_cli.core.fees.FeeModel`: ``size × rate × (p × (1 − p))^exponent`` floored to 5
decimals, which is how the recorded on-chain fills come out. Only in a market whose model is unknown
(another market, or one whose schedule orion only assumed) is the trade record's ``fee_rate_bps``
used, with exponent 1, and that figure is an estimate. Makers pay nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx

from orion_cli.core.aio import all_of, gather_limited
from orion_cli.core.errors import AuthError, DataError, OrionError, VenueError, VenueUnavailable
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import Side, Venue, utcnow
from orion_cli.core.money import LEDGER_QUANTUM, MICRO, ceil_to, loads_exact, to_amount, to_decimal
from orion_cli.core.plain_text import ascii_digits
from orion_cli.venues.http import (
    AsyncTokenBucket,
    ConcurrencyGate,
    RetryPolicy,
    VenueHttp,
    VenueHttpError,
    VenueSendFailed,
)
from orion_cli.venues.polymarket.firewall import GEOBLOCK_URL, VENUE, public_refusal
from orion_cli.venues.polymarket.firewall import describe_error as _describe_error
from orion_cli.venues.polymarket.firewall import error_message as _error_message
from orion_cli.venues.polymarket.firewall import firewall_refusal as _firewall_refusal
from orion_cli.venues.polymarket.orders import OrderSide, OrderType, SignatureType, build_signed_order
from orion_cli.venues.polymarket.parse import MarketOutcome, is_assumed_fee, parse_market_outcome
from orion_cli.venues.polymarket.signing import (
    POLYGON_CHAIN_ID,
    ApiCredentials,
    PrivateKey,
    l1_headers,
    l2_headers,
    to_checksum_address,
)
from orion_cli.venues.trading import (
    FINAL_PAYOUTS,
    Action,
    Balance,
    Fill,
    Geoblocked,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderVersionUnsupported,
    Position,
    PreparedOrder,
    Settlement,
    SettlementsIncomplete,
    TimeInForce,
    listed_once,
    payout_result,
    reported_amount,
)

__all__ = [
    "CLOB_URL",
    "DATA_URL",
    "END_CURSOR",
    "GEOBLOCK_URL",
    "INITIAL_CURSOR",
    "GeoblockStatus",
    "PolymarketTrading",
    "derive_api_key",
    "parse_balance_units",
    "parse_open_order",
    "parse_position",
    "parse_trade_fills",
]

CLOB_URL: Final = "https://clob.polymarket.com"
DATA_URL: Final = "https://data-api.polymarket.com"
INITIAL_CURSOR: Final = "MA=="
END_CURSOR: Final = "LTE="

log = logging.getLogger(__name__)


def _log_warning(text: str) -> None:
    log.warning("%s", text)

_UNIT = Decimal(1_000_000)
_FEE_STEP = Decimal("0.00001")
_TIF_TO_ORDER_TYPE: Final = {
    TimeInForce.FOK: OrderType.FOK,
    TimeInForce.IOC: OrderType.FAK,
    TimeInForce.GTC: OrderType.GTC,
}
# (requests, per seconds): docs.polymarket.com/api-reference/rate-limits (reference §6.10).
_RATE_WINDOWS: Final = {
    "order": (3500.0, 10.0),
    "read": (1500.0, 10.0),
    "balance": (200.0, 10.0),
    "balance_update": (50.0, 10.0),
    "auth": (100.0, 10.0),
    "data_positions": (150.0, 10.0),
    "geoblock": (10.0, 1.0),
}
_KILLED_MARKERS: Final = (
    "fok orders are fully filled or killed",
    "fak orders are partially filled or killed",
    "no orders found to match with fak order",
)
_DUPLICATE_MARKER: Final = "duplicated"
# Refusal-shaped answers that may still mean "placed": a match delayed by market conditions (the docs
# mark ORDER_DELAYED as no failure) and a request context cancelled mid-way. Looked up, never taken as
# rejected: a rejection lets the executor send another, differently signed order beside one that may
# fill. ("could not run the execution" as a 4xx is the documented EXECUTION_ERROR failure: rejected;
# as a 5xx it is an unknown outcome like every 5xx.)
_MAYBE_PLACED_MARKERS: Final = ("order match delayed", "context canceled")
_PLACED_STATUSES: Final = frozenset({"live", "matched", "delayed", "unmatched"})
# The order version orion signs (CLOB V2, EIP-712 domain "2"; reference §0) and GET /version reports.
ORDER_VERSION: Final = 2
# The CLOB's refusal of an order signed in a version it does not take: 400 {"error": "order_version_mismatch"}
# (py-clob-client-v2 ORDER_VERSION_MISMATCH_ERROR; reference §0).
_VERSION_MISMATCH_MARKERS: Final = ("order_version_mismatch", "order version mismatch")


def _version_mismatch(response: httpx.Response) -> bool:
    """Whether ``POST /order`` was refused as ``order_version_mismatch``: a 4xx (as field reports show),
    or a 2xx whose body is only that error, no order (the form py-clob-client-v2 looks for), which
    would otherwise be read as a plain rejection and never checked against GET /version."""
    status = response.status_code
    if 400 <= status < 500:
        said = _error_message(response.content).lower()
    elif 200 <= status < 300:
        try:
            body = loads_exact(response.content)
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(body, Mapping) or body.get("success") is True or body.get("orderID"):
            return False
        error = body.get("error")
        said = error.lower() if isinstance(error, str) else ""
    else:
        return False
    return any(marker in said for marker in _VERSION_MISMATCH_MARKERS)


def _bucket(name: str) -> AsyncTokenBucket:
    count, seconds = _RATE_WINDOWS[name]
    return AsyncTokenBucket(count, count / seconds)


def _units_to_amount(value: Any, field: str) -> Decimal:
    """pUSD/share base units (integer string) → Decimal; a fractional string is refused, not rescaled."""
    if isinstance(value, int) and not isinstance(value, bool):
        units = value
    elif isinstance(value, str) and ascii_digits(text := value.strip()):
        if len(text) > 22:  # past to_decimal's 1e15 whatever the digits (and int() refuses 4,300 of them)
            raise DataError(field, f"number out of range: {len(text)} digits")
        units = int(text)
    else:
        raise DataError(field, f"expected integer base units (6 decimals), got {str(value)[:40]!r}")
    # to_decimal's bounds, as for every other venue number: no balance or size is negative or above 1e15.
    return to_amount(Decimal(units) / _UNIT, field)


def parse_balance_units(payload: Any) -> Decimal:
    """``GET /balance-allowance`` → the balance in dollars (pUSD has 6 decimals)."""
    if not isinstance(payload, Mapping):
        raise DataError("balance_allowance", "expected a JSON object")
    return _units_to_amount(payload.get("balance"), "balance_allowance.balance")


def _amount(value: Any, field: str) -> Decimal:
    """``makingAmount``/``takingAmount``: decimal strings, "" when nothing matched."""
    if value is None or value == "":
        return Decimal(0)
    return to_amount(value, field)


def _parse_ts(value: Any) -> datetime:
    """Trade/order times come as unix seconds (int or digits), milliseconds, or ISO-8601 text."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise DataError("timestamp", f"not a time: {value}")
        value = int(value)
    if isinstance(value, str) and ascii_digits(text := value.strip()):
        if len(text) > 16:  # far past any time even in milliseconds (13 digits now); int() refuses 4,300 digits
            raise DataError("timestamp", f"time out of range: {text[:40]!r}")
        value = int(text)
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise DataError("timestamp", f"time out of range: {str(value)[:40]}") from None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise DataError("timestamp", f"unreadable time {value[:40]!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return utcnow()


def _side_of_outcome(outcome: Any) -> Side:
    """Polymarket outcome labels: "No" is the NO token; anything else is read as the YES token."""
    return Side.NO if isinstance(outcome, str) and outcome.strip().lower() == "no" else Side.YES


def _action(side: Any, field: str) -> Action:
    text = str(side or "").upper()
    if text == "BUY":
        return Action.BUY
    if text == "SELL":
        return Action.SELL
    raise DataError(field, f"expected BUY or SELL, got {str(side)[:20]!r}")


def _fee(size: Decimal, price: Decimal, fee_rate_bps: Any) -> Decimal:
    """A taker fill's fee from the trade record's own rate (exponent 1): only for a market whose fee
    model is unknown, since V2 records have been seen reporting 0 for a charged fill."""
    if fee_rate_bps in (None, ""):
        return Decimal(0)
    rate = to_amount(fee_rate_bps, "trade.fee_rate_bps") / Decimal(10_000)
    with localcontext() as ctx:
        ctx.prec = 50
        raw = size * rate * price * (1 - price)
    return (raw / _FEE_STEP).to_integral_value(rounding=ROUND_FLOOR) * _FEE_STEP


TokenInfo = tuple[str, Side]  # (market id, outcome side) of a token


@dataclass(frozen=True, slots=True)
class GeoblockStatus:
    """The venue's verdict on this host's location."""

    blocked: bool
    country: str
    region: str
    checked_at: datetime


def parse_open_order(
    raw: Any,
    *,
    tokens: Mapping[str, TokenInfo] | None = None,
    client_order_id: str = "",
    fills: tuple[Fill, ...] = (),
) -> OrderState:
    """One ``/data/order/{id}`` or ``/data/orders`` row → :class:`OrderState`."""
    if not isinstance(raw, Mapping):
        raise DataError("order", "expected a JSON object")
    order_id = raw.get("id")
    if not isinstance(order_id, str) or not order_id:
        raise DataError("order.id", "missing")
    status_text = str(raw.get("status") or "").upper().removeprefix("ORDER_STATUS_")
    size = to_amount(raw.get("original_size"), "order.original_size")
    matched = to_amount(raw.get("size_matched", "0"), "order.size_matched", allow_none=True)
    price = to_amount(raw.get("price"), "order.price")
    asset = str(raw.get("asset_id") or "")
    known = (tokens or {}).get(asset)
    market_id, side = known if known else (str(raw.get("market") or ""), _side_of_outcome(raw.get("outcome")))
    if status_text == "LIVE":
        status = OrderStatus.OPEN
    elif status_text == "MATCHED":
        status = OrderStatus.FILLED if matched >= size else OrderStatus.PARTIAL
    elif status_text.startswith("CANCEL") or status_text in ("INVALID", "EXPIRED", "KILLED"):
        status = OrderStatus.PARTIAL if matched > 0 else OrderStatus.CANCELLED
    else:  # DELAYED, UNMATCHED or a word we do not know: not final, look again later
        status = OrderStatus.SUBMITTED
    avg: Decimal | None = None
    fees = Decimal(0)
    if fills:
        shares = sum((f.size for f in fills), Decimal(0))
        if shares > 0:
            with localcontext() as ctx:
                ctx.prec = 50
                avg = sum((f.size * f.price for f in fills), Decimal(0)) / shares
        fees = sum((f.fee for f in fills), Decimal(0))
    created = raw.get("created_at")
    return OrderState(
        venue=Venue.POLYMARKET,
        client_order_id=client_order_id,
        venue_order_id=order_id,
        status=status,
        market_id=market_id,
        side=side,
        action=_action(raw.get("side"), "order.side"),
        size=size,
        filled_size=matched,
        avg_fill_price=avg,
        fees=fees,
        limit_price=price,
        updated_at=_parse_ts(created) if created is not None else utcnow(),
        fills=fills,
        venue_status=status_text.lower(),
    )


def parse_trade_fills(
    raw: Any,
    *,
    api_key: str,
    funder: str,
    tokens: Mapping[str, TokenInfo] | None = None,
    fee_models: Mapping[str, FeeModel] | None = None,
) -> list[Fill]:
    """Our side(s) of one ``/data/trades`` row: the taker fill, or each of our maker orders.

    A trade whose settlement FAILED on chain moved no shares and no cash: it gives no fill. One still
    MATCHED, MINED or RETRYING counts (the hedge cannot wait for CONFIRMED); if it fails later,
    ``orion reconcile`` sees the venue's positions disagree with the ledger and reports the drift.

    ``fee_models`` (by market id): a taker fill in one of these markets is charged by its model, not
    by the record's ``fee_rate_bps`` (see the module docstring); other markets fall back to the record.
    """
    if not isinstance(raw, Mapping):
        raise DataError("trade", "expected a JSON object")
    if str(raw.get("status") or "").upper() == "FAILED":
        return []
    trade_id = str(raw.get("id") or "")
    if not trade_id:
        raise DataError("trade.id", "missing")
    ts = _parse_ts(raw.get("match_time") or raw.get("last_update"))
    funder_l = funder.lower()
    trader_side = str(raw.get("trader_side") or "").upper()
    we_take = trader_side == "TAKER" or (not trader_side and raw.get("owner") == api_key)
    out: list[Fill] = []
    if we_take:
        asset = str(raw.get("asset_id") or "")
        known = (tokens or {}).get(asset)
        market_id, side = known if known else (str(raw.get("market") or ""), _side_of_outcome(raw.get("outcome")))
        size = to_amount(raw.get("size"), "trade.size")
        price = to_amount(raw.get("price"), "trade.price")
        model = (fee_models or {}).get(market_id)
        if model is not None:
            fee = model.fill_fee(size, price, taker=True)
        else:
            fee = _fee(size, price, raw.get("fee_rate_bps"))
        out.append(
            Fill(
                venue=Venue.POLYMARKET,
                fill_id=trade_id,
                venue_order_id=str(raw.get("taker_order_id") or ""),
                market_id=market_id,
                side=side,
                action=_action(raw.get("side"), "trade.side"),
                size=size,
                price=price,
                fee=fee,
                ts=ts,
                is_taker=True,
            )
        )
        return out
    makers = raw.get("maker_orders") or []
    if not isinstance(makers, list):
        raise DataError("trade.maker_orders", "expected an array")
    for i, mo in enumerate(makers):
        if not isinstance(mo, Mapping):
            raise DataError(f"trade.maker_orders[{i}]", "expected an object")
        mine = mo.get("owner") == api_key or str(mo.get("maker_address") or "").lower() == funder_l
        if not mine:
            continue
        asset = str(mo.get("asset_id") or raw.get("asset_id") or "")
        known = (tokens or {}).get(asset)
        market_id, side = known if known else (str(raw.get("market") or ""), _side_of_outcome(mo.get("outcome")))
        order_id = str(mo.get("order_id") or "")
        out.append(
            Fill(
                venue=Venue.POLYMARKET,
                fill_id=f"{trade_id}:{order_id}",
                venue_order_id=order_id,
                market_id=market_id,
                side=side,
                action=_action(mo.get("side"), f"trade.maker_orders[{i}].side"),
                size=to_amount(mo.get("matched_amount"), f"trade.maker_orders[{i}].matched_amount"),
                price=to_amount(mo.get("price"), f"trade.maker_orders[{i}].price"),
                fee=Decimal(0),
                ts=ts,
                is_taker=False,
            )
        )
    return out


def _position_side(raw: Mapping[str, Any]) -> Side:
    """The side a Data-API row holds, by the rule the market parser picks the YES token with.

    A Yes/No market's YES is the outcome labelled "Yes" whichever index it has (some markets list
    ``["No","Yes"]``); read by ``outcomeIndex`` alone, a NO holding there would be taken for YES and
    settled the wrong way round. Any other two labels (team names): the first outcome is YES.
    """
    label, opposite = raw.get("outcome"), raw.get("oppositeOutcome")
    own = label.strip().lower() if isinstance(label, str) else None
    other = opposite.strip().lower() if isinstance(opposite, str) else None
    # Both labels: the market parser's own test ({yes, no} exactly). The held outcome's label alone: a
    # "Yes"/"No" is the best word there is. The other outcome's label alone says nothing of this one.
    if (own is not None and other is not None and sorted((own, other)) == ["no", "yes"]) or (
            other is None and own in ("yes", "no")):
        return Side.NO if own == "no" else Side.YES
    index = raw.get("outcomeIndex")
    if isinstance(index, int) and not isinstance(index, bool) and index in (0, 1):
        return Side.YES if index == 0 else Side.NO
    # Neither a word nor a position to go by: a guess would settle the holding either way round.
    raise DataError("position.outcomeIndex",
                    f"missing, and the outcome label {str(label)[:40]!r} does not say the side")


def _venue_average(value: Any, field: str) -> Decimal:
    """``avgPrice``/``initialValue``: the Data API's own averages, JSON numbers it computed in floating
    point (``0.3421052631578947``), rounded up to the ledger's places: a reconcile adjustment books a
    fill at that average, and the ledger refused the write past 10 places (exit 1)."""
    return ceil_to(to_decimal(value, field), LEDGER_QUANTUM)


def parse_position(raw: Any) -> Position | None:
    """One Data-API ``/positions`` row; ``None`` for a closed-out (size 0) row."""
    if not isinstance(raw, Mapping):
        raise DataError("position", "expected a JSON object")
    size = to_amount(raw.get("size"), "position.size")
    if size == 0:
        return None
    avg = _venue_average(raw.get("avgPrice"), "position.avgPrice")
    side = _position_side(raw)
    market = raw.get("conditionId")
    if not isinstance(market, str) or not market:
        raise DataError("position.conditionId", "missing")
    initial = raw.get("initialValue")
    exposure = _venue_average(initial, "position.initialValue") if initial is not None else size * avg
    extra = {k: str(raw[k]) for k in ("asset", "outcome", "slug", "eventSlug", "curPrice") if raw.get(k) is not None}
    if raw.get("redeemable") is True:
        extra["redeemable"] = "true"
    realized = reported_amount(raw.get("realizedPnl"))  # the Data API reports no fees
    if realized is not None:
        extra["realized_pnl"] = realized
    return Position(
        venue=Venue.POLYMARKET,
        market_id=market,
        side=side,
        size=size,
        avg_price=avg,
        exposure=exposure,
        title=str(raw.get("title") or ""),
        extra=extra,
    )


# Markets no longer listed whose outcome and trades are read at once.
OUTCOME_CONCURRENCY = 4


def redeemable_price(p: Position) -> Decimal | None:
    """What one token of a resolved (``redeemable``) position pays; None when the position is not
    redeemable or its price is not a final one (a display price is never taken for a payout)."""
    if p.extra.get("redeemable") != "true":
        return None
    try:
        price = to_decimal(p.extra.get("curPrice", ""), "position.curPrice")
    except DataError:  # "sNaN" too: compared as read by Decimal(), it raised InvalidOperation (exit 1)
        return None
    return price if price in FINAL_PAYOUTS else None


def _split_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise DataError("geoblock_url", f"not an absolute URL: {url[:80]!r}")
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/"


async def derive_api_key(
    key: PrivateKey,
    *,
    clob_url: str = CLOB_URL,
    chain_id: int = POLYGON_CHAIN_ID,
    nonce: int = 0,
    timestamp: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 10.0,
) -> ApiCredentials:
    """L1 ``GET /auth/derive-api-key``: the API credentials bound to ``key`` (same nonce, same key)."""
    http = VenueHttp(VENUE, clob_url, timeout=timeout, transport=transport, describe_error=_describe_error,
                     classify_denied=_firewall_refusal)
    try:
        return await _derive(http, key, chain_id=chain_id, nonce=nonce, timestamp=timestamp)
    finally:
        await http.aclose()


async def _derive(
    http: VenueHttp, key: PrivateKey, *, chain_id: int, nonce: int, timestamp: int | None
) -> ApiCredentials:
    headers = l1_headers(key, timestamp=timestamp, nonce=nonce, chain_id=chain_id)
    response = await http.send("GET", "/auth/derive-api-key", headers=headers, bucket="auth")
    if response.status_code == 429 or response.status_code >= 500:
        # The venue down or busy (sent once, not retried): an outage, not the venue judging the wallet.
        detail = _error_message(response.content)
        raise VenueUnavailable(VENUE, f"GET /auth/derive-api-key: HTTP {response.status_code}"
                                      + (f" ({detail})" if detail else ""))
    if response.status_code >= 400:
        raise VenueHttpError(
            VENUE, "GET", "/auth/derive-api-key", response.status_code, "", _error_message(response.content)
        )
    try:
        payload = loads_exact(response.content)
    except (ValueError, UnicodeDecodeError):
        raise VenueError(f"{VENUE} returned a non-JSON body for GET /auth/derive-api-key") from None
    return ApiCredentials.from_response(payload)


class PolymarketTrading:
    """Live Polymarket trading over CLOB V2 (implements :class:`~orion_cli.venues.trading.TradingVenue`).

    ``key`` signs orders and owns the API key (``POLY_ADDRESS``); ``funder`` is the wallet that
    holds the money (the proxy/Safe for signature types 1/2, the deposit wallet for 3, the key's
    own address for 0) and is the address positions are read for.
    """

    def __init__(
        self,
        creds: ApiCredentials,
        key: PrivateKey,
        *,
        clob_url: str = CLOB_URL,
        data_url: str = DATA_URL,
        geoblock_url: str = GEOBLOCK_URL,
        chain_id: int = POLYGON_CHAIN_ID,
        funder: str | None = None,
        signature_type: SignatureType | int = SignatureType.EOA,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass
        geoblock_ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
        max_pages: int = 200,
        auto_sync_clock: bool = True,
        warn: Callable[[str], None] | None = None,
        max_concurrency: int = 8,
    ) -> None:
        """``warn``: where a notice for the operator goes (the clock's skew); the CLI passes its own
        warning output, so it reads and is silenced like every other warning. Without it, the log.

        ``max_concurrency``: requests in flight to each of the venue's hosts at most (``polymarket.
        max_concurrency``), shared by the clients of one host (the CLOB's signed, public and L1 ones)."""
        self.creds = creds
        self.key = key
        self.chain_id = chain_id
        self.signature_type = SignatureType(signature_type)
        if self.signature_type is SignatureType.EOA:
            if funder is not None and to_checksum_address(funder, "funder") != key.address:
                raise DataError("funder", "an EOA account's funder is the signing key's own address")
            self.funder = key.address
        else:
            if funder is None:
                raise DataError("funder", f"signature type {self.signature_type.name} needs the funder address")
            self.funder = to_checksum_address(funder, "funder")
        self.geoblock_ttl = geoblock_ttl
        self.max_pages = max_pages
        self._clock = clock
        self._clock_offset = 0.0
        self._warn: Callable[[str], None] = warn if warn is not None else _log_warning
        self._geoblock: GeoblockStatus | None = None
        self._geoblock_at = 0.0
        self._tokens: dict[str, TokenInfo] = {}
        self._fee_models: dict[str, FeeModel] = {}  # by market id: what a taker fill there is charged
        self._hash_by_coid: dict[str, str] = {}
        self._coid_by_hash: dict[str, str] = {}

        gates: dict[str, ConcurrencyGate] = {}

        def make(base: str, names: list[str], auth: bool, *, signed: bool = False) -> VenueHttp:
            """``auth``: L2-signed by this client; ``signed``: carries a credential of its own (L1)."""
            return VenueHttp(
                VENUE,
                base,
                buckets={n: _bucket(n) for n in names},
                max_concurrency=max_concurrency,
                gate=gates.setdefault(base.rstrip("/"), ConcurrencyGate(max_concurrency)),
                timeout=timeout,
                retry=retry,
                auth=self._l2_auth if auth else None,
                transport=transport,
                describe_error=_describe_error,
                before_first=self._sync_clock_once if auth and auto_sync_clock else None,
                # Only a signed request's 401/403 can be about our keys; the others send none.
                classify_denied=_firewall_refusal if auth or signed else public_refusal,
            )

        self.clob = make(clob_url, ["order", "read", "balance", "balance_update"], auth=True)
        self.public = make(clob_url, ["read"], auth=False)
        self.l1 = make(clob_url, ["auth"], auth=False, signed=True)  # derive-api-key: the wallet's L1 signature
        self.data = make(data_url, ["data_positions"], auth=False)
        geo_base, self._geoblock_path = _split_url(geoblock_url)
        self.geo = make(geo_base, ["geoblock"], auth=False)
        # Resolved markets whose payout a balance report of this process already counted, and when.
        self._payout_reported: dict[str, datetime] = {}
        # The last balance report: when, and the markets whose tokens it listed.
        self._listed: tuple[datetime, frozenset[str]] | None = None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def venue(self) -> Venue:
        return Venue.POLYMARKET

    @property
    def mode(self) -> str:
        return "live"

    def _now(self) -> int:
        return int(self._clock() + self._clock_offset)

    def _l2_auth(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return l2_headers(self.key.address, self.creds, method, path, body or None, timestamp=self._now())

    def register_token(self, token_id: str, market_id: str, side: Side) -> None:
        """Tell the client which market/outcome a token is, for orders and fills it did not place."""
        self._tokens[token_id] = (market_id, side)

    def remember_fee(self, market_id: str, fee_model: FeeModel) -> None:
        """Tell the client the fee model of ``market_id``, which then prices its taker fills' fees.

        Why: the venue charges each market's own rate at match time, and V2 trade records cannot be
        relied on to report it (``fee_rate_bps`` 0 on a charged fill has been seen), so a fee booked
        from the record alone could understate a fill's cost, tripping the loss breaker late and
        leaving the ledger's cash above the venue's. A model orion only *assumed* (fees on, no
        schedule published: the highest rate, an upper bound for pricing) is not the market's and is
        not remembered; that market's fills keep the record's rate.
        """
        if is_assumed_fee(fee_model):
            return
        self._fee_models[market_id] = fee_model

    async def aclose(self) -> None:
        await asyncio.gather(self.clob.aclose(), self.public.aclose(), self.l1.aclose(), self.data.aclose(),
                             self.geo.aclose())

    async def __aenter__(self) -> PolymarketTrading:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- public helpers ---------------------------------------------------------------------

    async def server_time(self) -> int:
        """``GET /time``: the CLOB's clock in unix seconds."""
        body = await self.public.get_json("/time", bucket="read")
        if isinstance(body, Decimal):
            body = int(body)
        if not isinstance(body, int) or isinstance(body, bool):
            raise DataError("time", f"expected unix seconds, got {type(body).__name__}")
        return body

    async def sync_clock(self) -> float:
        """Align L2 timestamps with the server (HMAC timestamps that drift are refused)."""
        server = await self.server_time()
        self._clock_offset = server - self._clock()
        return self._clock_offset

    async def _sync_clock_once(self) -> None:
        """Before the first signed request: a host clock off by more than the venue's tolerance
        would otherwise see every signed request refused as bad credentials. Best effort: if the
        server's clock cannot be read, the local one signs."""
        try:
            offset = await self.sync_clock()
        except (VenueUnavailable, VenueError, DataError) as exc:  # no answer, or none orion can read
            self._warn(f"polymarket: could not read the CLOB's clock ({exc.message}); signing with the local clock")
            return
        if abs(offset) >= 5:
            self._warn(f"polymarket: this host's clock is {offset:+.0f} s off the CLOB's; signing with the CLOB's time")

    async def version(self) -> int:
        """``GET /version``: the order version the CLOB expects (2 for CLOB V2)."""
        body = await self.public.get_json("/version", bucket="read")
        value = body.get("version") if isinstance(body, Mapping) else None
        if not isinstance(value, int) or isinstance(value, bool):  # the venue's fault: exit 5, naming it
            raise VenueError(f"{VENUE} GET /version: version: missing or not an integer")
        return value

    async def derive_api_key(self, key: PrivateKey | None = None, *, nonce: int = 0) -> ApiCredentials:
        """L1 ``GET /auth/derive-api-key`` for ``key`` (default: this client's key)."""
        return await _derive(self.l1, key or self.key, chain_id=self.chain_id, nonce=nonce, timestamp=self._now())

    async def check_geoblock(self) -> GeoblockStatus:
        """Ask the venue whether this host may trade; raise :class:`Geoblocked` (exit 6) when not."""
        body = await self.geo.get_json(self._geoblock_path, bucket="geoblock")
        if not isinstance(body, Mapping) or not isinstance(body.get("blocked"), bool):
            # An answer orion cannot read is the venue's fault (exit 5, naming it), not an internal error (1).
            raise VenueError(f"{VENUE} geoblock check: blocked: missing or not a boolean; nothing was sent")
        status = GeoblockStatus(
            blocked=body["blocked"],
            country=str(body.get("country") or "?"),
            region=str(body.get("region") or ""),
            checked_at=utcnow(),
        )
        self._geoblock, self._geoblock_at = status, time.monotonic()
        if status.blocked:
            raise _blocked(status)
        return status

    async def _ensure_allowed(self) -> None:
        cached = self._geoblock
        if cached is None or time.monotonic() - self._geoblock_at >= self.geoblock_ttl:
            await self.check_geoblock()
        elif cached.blocked:
            raise _blocked(cached)

    # -- balances ---------------------------------------------------------------------------

    async def balance_allowance(self, asset_type: str = "COLLATERAL", token_id: str | None = None) -> dict[str, Any]:
        """Raw ``GET /balance-allowance`` for this account's signature type."""
        params: dict[str, Any] = {"asset_type": asset_type, "signature_type": int(self.signature_type)}
        if token_id:
            params["token_id"] = token_id
        body = await self.clob.get_json("/balance-allowance", params, bucket="balance")
        if not isinstance(body, dict):
            raise DataError("balance_allowance", "expected a JSON object")
        return body

    async def update_balance_allowance(self, asset_type: str = "COLLATERAL", token_id: str | None = None) -> None:
        """``GET /balance-allowance/update``: make the CLOB re-read on-chain balance and approvals."""
        params: dict[str, Any] = {"asset_type": asset_type, "signature_type": int(self.signature_type)}
        if token_id:
            params["token_id"] = token_id
        path = "/balance-allowance/update?" + urlencode(params)
        try:
            response = await self.clob.send("GET", path, bucket="balance_update")
        except VenueSendFailed as exc:
            raise VenueUnavailable(VENUE, exc.cause) from None
        if response.status_code >= 400:
            raise VenueHttpError(
                VENUE, "GET", "/balance-allowance/update", response.status_code, "", _error_message(response.content)
            )

    async def _refreshed_collateral(self) -> dict[str, Any]:
        """``GET /balance-allowance`` for pUSD, after ``GET /balance-allowance/update`` refreshed it.

        Why: the CLOB caches balances, and until an update it reports the figure it last read (a deposit
        or a wrap not counted: 0, or "not enough balance / allowance"; reference §2.4, pitfall 7). Our
        credentials refused (401/403 with the CLOB's own error) raise :class:`AuthError`, as the read
        would; any other failure of the update (the region or firewall refusing it, a 5xx, a timeout) is
        a warning, and the cached figure is read anyway.
        """
        try:
            await self.update_balance_allowance("COLLATERAL")
        except AuthError:
            raise
        except OrionError as exc:
            self._warn(f"polymarket: the CLOB's balance could not be refreshed ({exc.message}); "
                       "reading the figure it has cached")
        return await self.balance_allowance("COLLATERAL")

    async def balance(self) -> Balance:
        """pUSD cash: the venue's balance, less what open BUY orders reserve; ``total`` also holds
        the payout of resolved positions not yet redeemed.

        Why: a resolved market pays only when its tokens are redeemed on chain, so the CLOB's cash
        lacks the payout until then. The ledger settles the position at resolution (reconcile), so
        the cash it owes is counted here, in ``total`` (equity), never in ``available`` (spendable).
        Redeeming moves it from one to the other and leaves ``total`` unchanged. The cash is read
        after asking the CLOB to refresh it (:meth:`_refreshed_collateral`).
        """
        as_of = utcnow()
        raw, orders, held = await all_of(self._refreshed_collateral(), self.open_orders(), self.positions())
        cash = parse_balance_units(raw)
        reserved = Decimal(0)
        for order in orders:
            if order.action is Action.BUY and order.status is OrderStatus.OPEN:
                reserved += order.remaining * order.limit_price
        unredeemed = Decimal(0)
        for p in held:
            price = redeemable_price(p)
            if price is not None:
                unredeemed += p.size * price
                # This report holds the payout: a settlement of the market is paid as of it.
                self._payout_reported.setdefault(p.market_id, as_of)
        # A market this report lists nothing of was already redeemed (or sold) when its cash was read.
        self._listed = (as_of, frozenset(p.market_id for p in held))
        return Balance(
            venue=Venue.POLYMARKET,
            mode="live",
            available=max(Decimal(0), cash - reserved),
            reserved=reserved,
            # pUSD has 6 decimals; with nothing unredeemed, the cash as read (a 0.000000 added to it wrote one
            # amount two ways in `balance --json`: available 989.52182, total 989.521820)
            total=cash + unredeemed.quantize(MICRO, ROUND_FLOOR) if unredeemed else cash,
            as_of=as_of,
            read_at=as_of,  # taken before asking
        )

    async def transfers(self) -> None:
        """Polymarket's APIs list no deposits or withdrawals (they are on-chain pUSD transfers to the
        funder), so a transfer counts as profit or loss on its day."""
        return None

    async def settlements(self, markets: Sequence[str]) -> list[Settlement]:
        """Resolved markets among ``markets``.

        Not yet redeemed: the Data API flags their positions ``redeemable``, at the final price (1
        or 0, 0.5 for a 50-50), with the tokens held of each side. The payout counts in
        :meth:`balance`'s ``total`` from the first report that saw it: that report's time is when it
        was paid (``paid_at``); one not seen by a report yet is paid now.

        Already redeemed (the holder claimed it before orion looked): the Data API lists nothing of
        the market, so the CLOB's market record says how it ended (:meth:`market_outcome`), and the
        account's own trades in its two tokens say what it held (:meth:`_redeemed`; requests only for
        markets no longer listed). The payout is in the CLOB's cash: paid as of the first report that
        counted it unredeemed, else of the last :meth:`balance` report if that report listed nothing
        of the market either, else now. (The cash and the positions of one report come from two
        systems read at once; a redemption seen by one and not yet by the other skews that report
        until the next.)

        A market listed by no one and not resolved (closed awaiting resolution, unknown to the
        venue), or sold (its trades hold nothing), is no settlement: reconcile reports it as a
        position the venue no longer holds.
        """
        wanted = set(markets)
        now = utcnow()
        yes_of: dict[str, Decimal] = {}
        counts: dict[str, dict[Side, Decimal]] = {}
        listed: set[str] = set()
        for p in await self.positions():
            listed.add(p.market_id)
            price = redeemable_price(p)
            if p.market_id not in wanted or price is None:
                continue
            yes_of.setdefault(p.market_id, price if p.side is Side.YES else 1 - price)
            held = counts.setdefault(p.market_id, {Side.YES: Decimal(0), Side.NO: Decimal(0)})
            held[p.side] += p.size
        out = []
        for market, yes in yes_of.items():
            out.append(Settlement(Venue.POLYMARKET, market, yes, self._payout_reported.get(market, now),
                                  result=payout_result(yes), counts=tuple(counts[market].items()),
                                  source="redeemable"))
        gone = sorted(wanted - listed)
        unchecked: dict[str, str] = {}
        answered: set[str] = set()  # unchecked, though the venue answered (a record orion cannot use)

        async def checked(market: str) -> tuple[MarketOutcome, dict[Side, Decimal]] | None:
            try:
                return await self._redeemed(market)
            except Geoblocked:  # this host, not this market: no market can be checked (reconcile: unavailable)
                raise
            except OrionError as exc:  # this market only: the others are still checked
                unchecked[market] = str(exc)[:200]
                if not isinstance(exc, VenueUnavailable):
                    answered.add(market)
                return None

        redeemed = await gather_limited(checked, gone, limit=OUTCOME_CONCURRENCY)
        for market, found in zip(gone, redeemed, strict=True):
            if found is None:
                continue
            o, held = found
            last = self._listed
            paid_at = self._payout_reported.get(market) or (
                last[0] if last is not None and market not in last[1] else now)
            assert o.yes_payout is not None
            out.append(Settlement(Venue.POLYMARKET, market, o.yes_payout, paid_at, result=o.result,
                                  counts=tuple(held.items()), source="market outcome"))
        if unchecked:
            raise SettlementsIncomplete(Venue.POLYMARKET, out, unchecked, unreachable=not answered)
        return out

    async def _redeemed(self, market: str) -> tuple[MarketOutcome, dict[Side, Decimal]] | None:
        """A market no longer listed: its outcome, and what the account's own trades say it held of
        each side (bought less sold), if it resolved and the account held something; else None.

        Why the trades: a position that vanished was redeemed, or sold. Sold, it is no settlement
        (reconcile reports the position the venue no longer holds); partly sold, the counts differ
        from the ledger's and reconcile reports that. A market the venue does not know (its market
        lookup answers 404) settles nothing; any other failure (venue down, a record orion cannot
        read, a 404 from the trades reads) is raised, and :meth:`settlements` names the market as
        not checked.
        """
        try:
            o = await self.market_outcome(market)
        except VenueHttpError as exc:
            if exc.status != 404:
                raise
            return None  # a market the venue does not know settles nothing (only this lookup says so)
        if o.yes_payout is None:
            return None
        sides = {o.yes_token: Side.YES, o.no_token: Side.NO}
        for token, side in sides.items():
            known = self._tokens.get(token)
            if known is not None and known != (market, side):
                raise DataError("tokens", f"token {token[:16]}… is {known[1].value} of {known[0][:20]}… "
                                          f"to orion, {side.value} of {market[:20]}… to the CLOB")
            self.register_token(token, market, side)
        # A trade is listed under its taker's token; the account's side of it may be a maker order
        # on the other token (a mint or a merge). Both lists, each fill once, under its own side.
        seen: dict[tuple[str, str, Side], Fill] = {}
        for token in sides:
            for f in await self.fills(asset_id=token):
                if f.market_id == market:
                    seen.setdefault((f.fill_id, f.venue_order_id, f.side), f)
        held = {Side.YES: Decimal(0), Side.NO: Decimal(0)}
        for f in seen.values():
            held[f.side] += f.size if f.action is Action.BUY else -f.size
        held = {side: max(Decimal(0), n) for side, n in held.items()}
        return (o, held) if any(held.values()) else None

    async def market_outcome(self, condition_id: str) -> MarketOutcome:
        """``GET /markets/{condition_id}`` (public CLOB): closed, and the winner if resolved."""
        body = await self.public.get_json(f"/markets/{condition_id}", bucket="read")
        return parse_market_outcome(body, condition_id)

    async def positions(self) -> list[Position]:
        """Data-API ``/positions?user=<funder>`` (offset-paged), closed-out rows dropped."""
        out: list[Position] = []
        limit = 500
        for page in range(self.max_pages):
            body = await self.data.get_json(
                "/positions",
                {"user": self.funder.lower(), "limit": limit, "offset": page * limit, "sizeThreshold": 0},
                bucket="data_positions",
            )
            if not isinstance(body, list):
                raise DataError("positions", f"expected an array, got {type(body).__name__}")
            for row in body:
                pos = parse_position(row)
                if pos is not None:
                    out.append(pos)
            if len(body) < limit:
                return listed_once(out, netting=False)
        raise VenueError(f"{VENUE} /positions did not end within {self.max_pages} pages")

    # -- orders -----------------------------------------------------------------------------

    def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Sign the order once; the payload is the exact ``POST /order`` body (no I/O)."""
        if request.venue is not Venue.POLYMARKET:
            raise DataError("venue", f"not a Polymarket order: {request.venue}")
        if not request.token_id:
            raise DataError("token_id", "a Polymarket order needs the outcome token id")
        signed = build_signed_order(
            self.key,
            token_id=request.token_id,
            side=OrderSide.BUY if request.action is Action.BUY else OrderSide.SELL,
            price=request.limit_price,
            size=request.size,
            tick_size=request.tick_size,
            order_type=_TIF_TO_ORDER_TYPE[request.time_in_force],
            owner=self.creds.api_key,
            neg_risk=request.neg_risk,
            protocol_v2=request.protocol_v2,
            signature_type=self.signature_type,
            funder=None if self.signature_type is SignatureType.EOA else self.funder,
            chain_id=self.chain_id,
        )
        self._remember(request, signed.order_hash)
        return PreparedOrder(request=request, payload=signed.body.decode("utf-8"), venue_ref=signed.order_hash)

    def _remember(self, request: OrderRequest, order_hash: str) -> None:
        self._tokens.setdefault(request.token_id, (request.market_id, request.side))
        self._hash_by_coid[request.client_order_id] = order_hash
        self._coid_by_hash[order_hash] = request.client_order_id

    def _check_payload(self, prepared: PreparedOrder) -> None:
        try:
            payload = json.loads(prepared.payload)
        except ValueError:
            raise DataError("payload", "not the JSON body of a signed order") from None
        order = payload.get("order") if isinstance(payload, dict) else None
        if not isinstance(order, dict) or payload.get("owner") != self.creds.api_key:
            raise DataError("payload", "not a signed order of this API key")
        if not prepared.venue_ref:
            raise DataError("venue_ref", "the order hash is missing; it is needed to look the order up")

    async def submit(self, prepared: PreparedOrder) -> OrderState:
        """Send the prepared body verbatim (HMAC over exactly those bytes). See the module docstring."""
        request = prepared.request
        self._check_payload(prepared)
        self._remember(request, prepared.venue_ref)
        await self._ensure_allowed()
        body = prepared.payload.encode("utf-8")
        response = await self._post_order(request, body)
        if _version_mismatch(response):
            # The CLOB says the order's format is not the version it takes. The official clients then
            # read GET /version and sign again; orion signs V2 only, so: the CLOB at 2 (a cutover in
            # flight, a stale node) gets the same signed bytes once more (nothing was placed, and the
            # same order hash keeps it idempotent); any other version is refused, never re-signed.
            await self._check_order_version(request)
            response = await self._post_order(request, body)
            if _version_mismatch(response):
                raise OrderVersionUnsupported(
                    Venue.POLYMARKET,
                    f"polymarket refused order {request.client_order_id} as order_version_mismatch again "
                    f"after GET /version reported {ORDER_VERSION}, the version orion signs; nothing was placed")
        status = response.status_code
        message = _error_message(response.content)
        if status in (425, 429) or status == 503:
            # Documented as "not accepted": matching engine restarting, rate limited, paused.
            raise VenueUnavailable(VENUE, f"POST /order refused with HTTP {status}: {message}; nothing was placed")
        if status >= 500:
            raise OrderOutcomeUnknown(Venue.POLYMARKET, request.client_order_id, f"HTTP {status}: {message}")
        if status >= 400:
            return await self._refused(prepared, f"HTTP {status}", message)
        try:
            parsed = loads_exact(response.content)
        except (ValueError, UnicodeDecodeError):
            raise OrderOutcomeUnknown(
                Venue.POLYMARKET, request.client_order_id, f"unreadable answer (HTTP {status})"
            ) from None
        if not isinstance(parsed, Mapping):
            raise OrderOutcomeUnknown(Venue.POLYMARKET, request.client_order_id, "answer is not a JSON object")
        return await self._accepted(prepared, parsed)

    async def _post_order(self, request: OrderRequest, body: bytes) -> httpx.Response:
        """``POST /order`` with ``body`` exactly once; a lost answer is an unknown outcome."""
        try:
            return await self.clob.send("POST", "/order", body, bucket="order")
        except VenueSendFailed as exc:
            if exc.may_have_reached:
                raise OrderOutcomeUnknown(Venue.POLYMARKET, request.client_order_id, exc.cause) from None
            raise

    async def _check_order_version(self, request: OrderRequest) -> None:
        """After an ``order_version_mismatch``: return when ``GET /version`` reports the version orion
        signs, else raise :class:`OrderVersionUnsupported` naming what it reports (exit 5)."""
        said = f"polymarket refused order {request.client_order_id} as order_version_mismatch"
        try:
            version = await self.version()
        except VenueUnavailable as exc:
            raise VenueUnavailable(VENUE, f"{said.removeprefix('polymarket ')} and GET /version could not be "
                                          f"read ({exc.cause}); nothing was placed") from None
        except (VenueError, DataError) as exc:
            raise OrderVersionUnsupported(Venue.POLYMARKET, f"{said}; its GET /version answer could not be "
                                                            f"read ({exc.message}); nothing was placed") from None
        if version != ORDER_VERSION:
            raise OrderVersionUnsupported(
                Venue.POLYMARKET,
                f"{said}: the CLOB takes order version {version}, orion signs version {ORDER_VERSION} "
                "(CLOB V2) and does not sign another; nothing was placed")

    async def _refused(self, prepared: PreparedOrder, code: str, message: str) -> OrderState:
        lowered = message.lower()
        request = prepared.request
        if _DUPLICATE_MARKER in lowered:
            # The venue already holds this exact signed order (an earlier send did arrive).
            try:
                existing = await self.find_order(request.client_order_id, prepared.venue_ref)
            except OrionError as exc:  # held by the venue, whatever the look-up says: never "not placed"
                raise OrderOutcomeUnknown(Venue.POLYMARKET, request.client_order_id,
                                          f"the venue says it already holds this order; looking it up failed: {exc}"
                                          [:300]) from None
            if existing is not None:
                return existing
            # Not readable yet, but held by the venue: it may be live or filled, never "rejected".
            raise OrderOutcomeUnknown(Venue.POLYMARKET, request.client_order_id,
                                      "the venue says it already holds this order, which cannot be read yet")
        if any(marker in lowered for marker in _KILLED_MARKERS):
            return self._state(prepared, OrderStatus.CANCELLED, Decimal(0), None, "killed", message)
        if any(marker in lowered for marker in _MAYBE_PLACED_MARKERS):
            raise OrderOutcomeUnknown(Venue.POLYMARKET, request.client_order_id, f"{code}: {message}"[:300])
        raise OrderRejected(Venue.POLYMARKET, code, message or "no reason given")

    async def _accepted(self, prepared: PreparedOrder, body: Mapping[str, Any]) -> OrderState:
        request = prepared.request
        success = body.get("success")
        error_msg = body.get("errorMsg") or ""
        if not isinstance(error_msg, str):
            error_msg = json.dumps(error_msg)[:300]
        order_id = body.get("orderID") or ""
        if success is not True and order_id and str(body.get("status") or "").lower() in _PLACED_STATUSES:
            # Not called a success, yet an order id and a placed status: what happened is looked up.
            said = f"success={success!r} with order {order_id} {body.get('status')}: {error_msg}"
            raise OrderOutcomeUnknown(Venue.POLYMARKET, request.client_order_id, said[:300])
        if success is not True or (error_msg and not order_id):
            code = error_msg if error_msg.isupper() and " " not in error_msg else "ORDER_FAILED"
            return await self._refused(prepared, code, error_msg or "success=false without a reason")
        making = _amount(body.get("makingAmount"), "order_response.makingAmount")
        taking = _amount(body.get("takingAmount"), "order_response.takingAmount")
        shares, usd = (taking, making) if request.action is Action.BUY else (making, taking)
        avg: Decimal | None = None
        if shares > 0:
            with localcontext() as ctx:
                ctx.prec = 50
                avg = usd / shares
        venue_status = str(body.get("status") or "").lower()
        if venue_status == "matched" and shares <= 0:
            # Matched, but the answer leaves out the amounts (they are optional in the venue's
            # answer): not a final state with nothing filled. The read-back tells what filled.
            status = OrderStatus.SUBMITTED
        elif venue_status == "matched":
            if shares >= request.size:
                status = OrderStatus.FILLED
            elif request.time_in_force is TimeInForce.GTC:
                status = OrderStatus.OPEN
            else:
                status = OrderStatus.PARTIAL
        elif venue_status == "live":
            status = OrderStatus.OPEN
        else:  # delayed / unmatched / unknown: accepted, outcome still to come
            status = OrderStatus.SUBMITTED
        state = self._state(prepared, status, shares, avg, venue_status, error_msg)
        if isinstance(order_id, str) and order_id and order_id != prepared.venue_ref:
            self._coid_by_hash[order_id] = request.client_order_id
            return _replace_id(state, order_id)
        return state

    def _state(
        self,
        prepared: PreparedOrder,
        status: OrderStatus,
        filled: Decimal,
        avg: Decimal | None,
        venue_status: str,
        reason: str,
    ) -> OrderState:
        r = prepared.request
        return OrderState(
            venue=Venue.POLYMARKET,
            client_order_id=r.client_order_id,
            venue_order_id=prepared.venue_ref,
            status=status,
            market_id=r.market_id,
            side=r.side,
            action=r.action,
            size=r.size,
            filled_size=filled,
            avg_fill_price=avg,
            fees=Decimal(0),
            limit_price=r.limit_price,
            updated_at=utcnow(),
            venue_status=venue_status,
            reject_reason=reason,
        )

    async def find_order(self, client_order_id: str, venue_order_id: str = "") -> OrderState | None:
        """``GET /data/order/{hash}``; ``None`` when the venue never saw it. Fills give price and fees."""
        order_id = venue_order_id or self._hash_by_coid.get(client_order_id, "")
        if not order_id:
            raise DataError(
                "venue_order_id", "Polymarket orders are found by their order hash; persist PreparedOrder.venue_ref"
            )
        try:
            body = await self.clob.get_json(f"/data/order/{order_id}", bucket="read")
        except VenueHttpError as exc:
            if exc.status == 404:
                return None
            raise
        if body in (None, "", {}):
            return None
        coid = client_order_id or self._coid_by_hash.get(order_id, "")
        state = parse_open_order(body, tokens=self._tokens, client_order_id=coid)
        if state.filled_size > 0:
            asset = str(body.get("asset_id") or "") if isinstance(body, Mapping) else ""
            fills = await self.fills(venue_order_id=state.venue_order_id, asset_id=asset)
            state = parse_open_order(body, tokens=self._tokens, client_order_id=coid, fills=tuple(fills))
        return state

    async def cancel(self, venue_order_id: str) -> OrderState | None:
        """``DELETE /order``; an order that is already matched or cancelled is not an error.

        A 425 (matching engine restarting), 429 (rate limited) or 5xx is the venue not answering the
        cancel, not refusing it: :class:`VenueUnavailable` with the hint that cancelling again is safe,
        as for Kalshi. A rate-limited cancel during ``orion halt --cancel-open`` or an unwind then reads
        as "try again", not as a refusal. Any other 4xx is a refusal (:class:`VenueHttpError`).
        """
        body = json.dumps({"orderID": venue_order_id}, separators=(",", ":")).encode()
        again = "cancelling again is safe; look the order up to see its state"
        try:
            response = await self.clob.send("DELETE", "/order", body, bucket="order")
        except VenueSendFailed as exc:
            raise VenueUnavailable(VENUE, f"cancel {venue_order_id}: {exc.cause}", hint=again) from None
        status = response.status_code
        if status in (425, 429) or status >= 500:
            detail = _error_message(response.content)
            cause = f"cancel {venue_order_id}: HTTP {status}" + (f" ({detail})" if detail else "")
            raise VenueUnavailable(VENUE, cause, hint=again)
        if status >= 400:
            raise VenueHttpError(VENUE, "DELETE", "/order", status, "", _error_message(response.content))
        try:
            parsed = loads_exact(response.content)
        except (ValueError, UnicodeDecodeError):
            raise VenueError(f"{VENUE} returned a non-JSON body for DELETE /order") from None
        if not isinstance(parsed, Mapping) or not isinstance(parsed.get("canceled", []), list):
            raise DataError("cancel", "expected {canceled: [...], not_canceled: {...}}")
        return await self.find_order(self._coid_by_hash.get(venue_order_id, ""), venue_order_id)

    async def _paged(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        """Every page of a CLOB ``{data, next_cursor}`` list.

        A page without its ``data`` array (``{}`` from an API change, or a proxy answering JSON;
        ``null``) is a :class:`DataError`, never an empty page: it says nothing about the orders or
        trades it should list, and read as "none" it told ``orion halt --cancel-open`` that no order
        was resting. An empty list is ``"data": []``, as Polymarket's own SDK requires."""
        rows: list[Any] = []
        cursor = INITIAL_CURSOR
        seen: set[str] = set()
        for _ in range(self.max_pages):
            body = await self.clob.get_json(path, {**params, "next_cursor": cursor}, bucket="read")
            if not isinstance(body, Mapping):
                raise DataError(path, "expected a paged object {data, next_cursor}")
            data = body.get("data")
            if not isinstance(data, list):
                raise DataError(f"{path}.data", "missing" if "data" not in body else "expected an array")
            rows.extend(data)
            nxt = body.get("next_cursor")
            if nxt in (None, "", END_CURSOR):
                return rows
            if not isinstance(nxt, str) or nxt in seen:
                raise VenueError(f"{VENUE} {path}: next_cursor repeated or malformed; refusing to loop")
            seen.add(nxt)
            cursor = nxt
        raise VenueError(f"{VENUE} {path} did not end within {self.max_pages} pages")

    async def open_orders(self) -> list[OrderState]:
        """``GET /data/orders`` (all pages): this API key's resting orders."""
        rows = await self._paged("/data/orders", {})
        return [
            parse_open_order(r, tokens=self._tokens, client_order_id=self._coid_by_hash.get(str(r.get("id")), ""))
            if isinstance(r, Mapping)
            else parse_open_order(r)
            for r in rows
        ]

    async def fills(
        self, *, since: datetime | None = None, venue_order_id: str = "", asset_id: str = ""
    ) -> list[Fill]:
        """``GET /data/trades`` (all pages), our side of each trade; optionally one order's only.

        ``since`` is compared at the venue's resolution: a trade's ``match_time`` is whole unix
        seconds, while ``since`` (reconcile passes an open order's own ``created_at``) carries
        microseconds, so a fill matched in ``since``'s own second reads as before it and was dropped:
        the late fill of exactly the order being resolved. Kept from ``since``'s whole second on, and
        ``after`` asks for one second earlier (whether the venue's bound is inclusive is not
        documented), as the Kalshi client's ``min_ts`` does.
        """
        params: dict[str, Any] = {}
        floor = since.replace(microsecond=0) if since is not None else None
        if floor is not None:
            params["after"] = int(floor.timestamp()) - 1
        if asset_id:
            params["asset_id"] = asset_id
        rows = await self._paged("/data/trades", params)
        out: list[Fill] = []
        for row in rows:
            for f in parse_trade_fills(row, api_key=self.creds.api_key, funder=self.funder, tokens=self._tokens,
                                       fee_models=self._fee_models):
                if venue_order_id and f.venue_order_id != venue_order_id:
                    continue
                if floor is not None and f.ts < floor:
                    continue
                coid = self._coid_by_hash.get(f.venue_order_id, "")
                out.append(_with_coid(f, coid) if coid else f)
        return out


def _blocked(status: GeoblockStatus) -> Geoblocked:
    where = status.country + (f" (region {status.region})" if status.region else "")
    return Geoblocked(
        f"Polymarket refuses trading from this location: {where}; no order was sent",
        hint="Polymarket's geoblock covers the US, GB, FR, DE and others; trade from a permitted location",
    )


def _replace_id(state: OrderState, order_id: str) -> OrderState:
    return replace(state, venue_order_id=order_id)


def _with_coid(fill: Fill, coid: str) -> Fill:
    return replace(fill, client_order_id=coid)
