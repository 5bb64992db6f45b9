"""Polymarket wire payloads (Gamma markets/events, CLOB books) → orion's domain model.

Everything that crosses this boundary is checked: a missing, mistyped, NaN, negative or absurd value
raises :class:`DataError` naming the Gamma/CLOB field, never a silent zero. Payloads must be decoded
with :func:`orion_cli.core.money.loads_exact` so that JSON numbers arrive as ``Decimal``.

Decisions worth knowing (they are policy, not venue facts):

* **Market id** is the ``conditionId``. Outcome tokens come from ``clobTokenIds`` (CTF markets,
  ``version`` "v1" or absent) or ``positionIds`` (Protocol-V2 markets, ``version`` "v2"); the
  protocol is kept in ``extra["protocol"]`` because V2 orders are signed for a different exchange.
* **YES/NO mapping** is by label: ``["Yes","No"]`` in either order. Any other two labels (team names,
  Up/Down, Over/Under, Long/Short) map the *first* outcome to YES, with ``outcome_label`` set to it and
  the second label in ``extra["no_label"]``. For Yes/No markets ``outcome_label`` is the
  ``groupItemTitle`` (the outcome inside a multi-market event), else "Yes".
* **Status**: ``closed`` → CLOSED (SETTLED once UMA reports "resolved"); ``archived`` → CLOSED;
  ``active`` false → PAUSED; ``enableOrderBook`` false or absent → PAUSED (not CLOB-tradable);
  ``acceptingOrders`` false or absent → PAUSED. Absent flags fail closed.
* **Fees**: ``feesEnabled`` false → fee-free. A ``feeSchedule`` → ``rate × (p(1−p))^exponent``
  (makers charged too if ``takerOnly`` is false). Fees enabled (or the flag absent) but no schedule →
  the **highest published taker rate** (:data:`ASSUMED_FEE_RATE`, exponent 1), flagged in
  ``extra["fee_assumed"]``: over-estimating a fee can only hide an opportunity, never invent one.
  :func:`parse_clob_market_info` can replace the assumption with ``/clob-markets`` ``fd``.
* **Books**: the CLOB sends bids ascending and asks descending (best is the *last* element);
  :meth:`BookSide.build` re-sorts best-first whatever the wire order. A price listed at two levels
  of one side, or a crossed book (best bid at or above best ask), is refused: the CLOB aggregates by
  price and matches crossing orders, so neither is a book it holds. Each token has its own book:
  :func:`combine_books` takes the YES side from the YES token's book and the NO side from the NO
  token's book, as fetched. A side whose book was not fetched stays **empty**: orion never
  synthesises one token's book as the mirror of the other.
* **Order terms**: the CLOB's books state the tick, minimum size and neg-risk flag the venue holds
  orders to; :func:`clob_terms` puts them over Gamma's (which can lag), and a market whose two books
  disagree on the tick or the flag is left unquoted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orion_cli.core.errors import DataError
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import (
    BookSide,
    Market,
    MarketStatus,
    OrderBook,
    PriceLevel,
    TickStructure,
    Venue,
    repeated_price,
)
from orion_cli.core.money import ONE, ZERO, is_multiple, to_decimal, to_price
from orion_cli.venues.trading import payout_result

# The highest taker rate Polymarket publishes (crypto, 0.07 with exponent 1): an upper bound for
# every published schedule, used when fees are on but the schedule is missing.
ASSUMED_FEE_RATE = Decimal("0.07")
# How an assumed model's ``source`` begins (persisted with a plan, so a resume can tell it too).
ASSUMED_FEE_SOURCE = "assumed rate="

# Ticks seen on Polymarket as of 2026 (py_clob_client_v2 ROUNDING_CONFIG). Others are accepted when
# they divide 1 exactly, because the venue adds ticks without notice.
KNOWN_TICKS = frozenset(Decimal(t) for t in ("0.1", "0.01", "0.001", "0.0001", "0.005", "0.0025"))
DEFAULT_SIZE_STEP = Decimal("0.01")  # shares have 2 decimals in signed order amounts

_CONDITION_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
_TOKEN_ID = re.compile(r"^(?:[0-9]{1,80}|0x[0-9a-fA-F]{1,64})$")
_MAX_TOKEN = 2**256

# "Other"-style and placeholder outcomes of multi-outcome (augmented neg-risk) events.
_OTHER_LABEL = re.compile(
    r"^(?:others?|other\s+\w+|any\s+other.*|someone\s+else|none\s+of\s+the\s+above|field|the\s+field)$",
    re.IGNORECASE,
)
_PLACEHOLDER_LABEL = re.compile(
    r"^(?:person|player|candidate|team|option|company|country|party|individual|nominee|club|driver)"
    r"\s+(?:[A-Z]{1,2}|[0-9]{1,3})$",
    re.IGNORECASE,
)

# Category names orion groups exposure by; Gamma tags/feeTypes are mapped onto these.
_CATEGORIES: dict[str, str] = {
    "politics": "politics",
    "elections": "politics",
    "us-politics": "politics",
    "sports": "sports",
    "esports": "sports",
    "crypto": "crypto",
    "finance": "finance",
    "business": "finance",
    "economy": "economics",
    "economics": "economics",
    "culture": "culture",
    "pop-culture": "culture",
    "weather": "weather",
    "climate": "weather",
    "geopolitics": "geopolitics",
    "world": "geopolitics",
    "tech": "tech",
    "science": "tech",
    "mentions": "mentions",
}


# --------------------------------------------------------------------------- small field readers


def _field(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _req(raw: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    if key not in raw or raw[key] is None:
        raise DataError(_field(prefix, key), "missing")
    return raw[key]


def _str(raw: Mapping[str, Any], key: str, prefix: str = "", *, required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            raise DataError(_field(prefix, key), "missing")
        return ""
    if not isinstance(value, str):
        raise DataError(_field(prefix, key), f"expected a string, got {type(value).__name__}")
    if required and not value.strip():
        raise DataError(_field(prefix, key), "empty string")
    return value


def _bool(raw: Mapping[str, Any], key: str, prefix: str = "", *, default: bool | None = None) -> bool:
    value = raw.get(key)
    if value is None:
        if default is None:
            raise DataError(_field(prefix, key), "missing")
        return default
    if not isinstance(value, bool):
        raise DataError(_field(prefix, key), f"expected a boolean, got {type(value).__name__}")
    return value


def _opt_bool(raw: Mapping[str, Any], key: str, prefix: str = "") -> bool | None:
    if raw.get(key) is None:
        return None
    return _bool(raw, key, prefix)


def _json_list(raw: Mapping[str, Any], key: str, prefix: str = "", *, required: bool = True) -> list[Any]:
    """Gamma sends several arrays as JSON-encoded *strings*; accept those (and real arrays)."""
    field = _field(prefix, key)
    value = raw.get(key)
    if value is None:
        if required:
            raise DataError(field, "missing")
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal)
        except (ValueError, RecursionError):
            raise DataError(field, "not a JSON-encoded array") from None
    if not isinstance(value, list):
        raise DataError(field, f"expected an array, got {type(value).__name__}")
    return value


def parse_time(value: Any, field: str, *, allow_none: bool = True) -> datetime | None:
    """ISO-8601 (``Z``, ``+00``, a space instead of ``T``, or a bare date) → aware UTC datetime."""
    if value is None or value == "":
        if allow_none:
            return None
        raise DataError(field, "missing")
    if not isinstance(value, str):
        raise DataError(field, f"expected an ISO-8601 string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    elif re.search(r"[+-]\d\d$", text) and ("T" in text or " " in text):
        text += ":00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(field, f"not an ISO-8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _ms_time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    ms = to_decimal(value, field)
    if ms != ms.to_integral_value():
        raise DataError(field, f"not an integer millisecond timestamp: {ms}")
    try:
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise DataError(field, "timestamp out of range") from None


def _token_id(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise DataError(field, f"expected a token id string, got {type(value).__name__}")
    text = value.strip()
    if not _TOKEN_ID.match(text):
        raise DataError(field, f"not a token id: {text[:40]!r}")
    if int(text, 0 if text.startswith("0x") else 10) >= _MAX_TOKEN:
        raise DataError(field, "token id above 2**256")
    return text


def parse_tick(value: Any, field: str = "orderPriceMinTickSize") -> Decimal:
    """A price tick: positive, below 1, and dividing 1 exactly (0.1 … 0.0001, 0.005, 0.0025)."""
    tick = to_decimal(value, field)
    if tick in KNOWN_TICKS:
        return tick
    if tick <= 0 or tick >= ONE or not is_multiple(ONE, tick):
        raise DataError(field, f"not a valid tick size: {tick}")
    return tick


# --------------------------------------------------------------------------- fees


def parse_fee_model(raw: Mapping[str, Any], prefix: str = "") -> tuple[FeeModel, bool]:
    """The market's fee model, and whether it is an assumption (no schedule published)."""
    enabled = _opt_bool(raw, "feesEnabled", prefix)
    fee_type = _str(raw, "feeType", prefix)
    schedule = raw.get("feeSchedule")
    if enabled is False:
        return FeeModel.free(f"feesEnabled=false{f' feeType={fee_type}' if fee_type else ''}"), False
    if schedule is None:
        label = "feesEnabled=true" if enabled else "no fee fields"
        kind = f", feeType={fee_type}" if fee_type else ""
        source = f"{ASSUMED_FEE_SOURCE}{ASSUMED_FEE_RATE} ({label}, no feeSchedule{kind})"
        return FeeModel.polymarket(ASSUMED_FEE_RATE, 1, source=source), True
    sp = _field(prefix, "feeSchedule")
    if not isinstance(schedule, Mapping):
        raise DataError(sp, f"expected an object, got {type(schedule).__name__}")
    rate = to_decimal(_req(schedule, "rate", sp), f"{sp}.rate")
    exp_raw = schedule.get("exponent", 1)
    exponent_d = to_decimal(exp_raw, f"{sp}.exponent")
    if exponent_d != exponent_d.to_integral_value():
        raise DataError(f"{sp}.exponent", f"not an integer: {exponent_d}")
    taker_only = _bool(schedule, "takerOnly", sp, default=True)
    source = f"feeType={fee_type or '-'} rate={rate} exponent={int(exponent_d)}"
    model = FeeModel.polymarket(rate, int(exponent_d), source=source)
    if not taker_only:
        model = FeeModel("polymarket", rate, rate, ONE, int(exponent_d), source + " makers-pay")
    return model, False


def is_assumed_fee(model: FeeModel) -> bool:
    """Whether ``model`` is :func:`parse_fee_model`'s upper bound for a market that publishes no
    schedule: right for pricing (it can only hide an edge), wrong as the fee a fill was charged."""
    return model.kind == "polymarket" and model.source.startswith(ASSUMED_FEE_SOURCE)


@dataclass(frozen=True, slots=True)
class ClobMarketInfo:
    """The parts of ``GET /clob-markets/{condition_id}`` orion uses (compact keys t/mts/nr/fd)."""

    condition_id: str
    tokens: tuple[str, ...]
    tick: Decimal | None
    neg_risk: bool | None
    fee_model: FeeModel | None


def parse_clob_market_info(raw: Any, condition_id: str) -> ClobMarketInfo:
    if not isinstance(raw, Mapping):
        raise DataError("clob_market", f"expected an object, got {type(raw).__name__}")
    tokens: list[str] = []
    t = raw.get("t")
    if t is not None:
        if not isinstance(t, list):
            raise DataError("t", f"expected an array, got {type(t).__name__}")
        for i, tok in enumerate(t):
            value = tok.get("t") if isinstance(tok, Mapping) else tok
            tokens.append(_token_id(value, f"t[{i}].t"))
    tick = parse_tick(raw["mts"], "mts") if raw.get("mts") is not None else None
    neg_risk = _opt_bool(raw, "nr")
    fee: FeeModel | None = None
    fd = raw.get("fd")
    if fd is not None:
        if not isinstance(fd, Mapping):
            raise DataError("fd", f"expected an object, got {type(fd).__name__}")
        rate = to_decimal(_req(fd, "r", "fd"), "fd.r")
        exp = to_decimal(fd.get("e", 1), "fd.e")
        if exp != exp.to_integral_value():
            raise DataError("fd.e", f"not an integer: {exp}")
        fee = FeeModel.polymarket(rate, int(exp), source=f"clob-markets fd r={rate} e={int(exp)}")
    return ClobMarketInfo(condition_id, tuple(tokens), tick, neg_risk, fee)


@dataclass(frozen=True, slots=True)
class MarketOutcome:
    """How a market ended, from ``GET /markets/{condition_id}`` (the CLOB's full market record).

    Why this endpoint: once a holder redeems, the Data API lists no position and Gamma's id lookups
    drop closed markets, but the CLOB keeps the market with each token's ``winner`` flag and final
    ``price``. ``yes_payout`` is None while the outcome is not final (open, or closed and awaiting
    resolution).
    """

    condition_id: str
    closed: bool
    yes_payout: Decimal | None
    yes_token: str = ""
    no_token: str = ""

    @property
    def result(self) -> str:
        return "" if self.yes_payout is None else payout_result(self.yes_payout)


_HALF = Decimal("0.5")


def parse_market_outcome(raw: Any, condition_id: str) -> MarketOutcome:
    """Strict: a binary market's two tokens, each with an id, a boolean ``winner`` and a numeric ``price``.

    Final only when the market is closed and its flags and prices agree: one winner at price 1 and
    the other at 0, or (``is_50_50_outcome`` set) no winner and both at 0.5. Anything else (a closed
    market awaiting resolution, whose prices are the last trades, 0.5 each included) is not final: a
    display price is never taken for a payout. YES is the token labelled "Yes", else the first, as
    :func:`parse_gamma_market` maps them.
    """
    if not isinstance(raw, Mapping):
        raise DataError("market", f"expected an object, got {type(raw).__name__}")
    cid = _str(raw, "condition_id", required=True)
    if cid.lower() != condition_id.lower():
        raise DataError("condition_id", f"asked for {condition_id[:20]}…, the venue answered {cid[:20]}…")
    closed = _bool(raw, "closed")
    fifty_fifty = _bool(raw, "is_50_50_outcome", default=False)
    tokens = raw.get("tokens")
    if not isinstance(tokens, list) or len(tokens) != 2 or not all(isinstance(t, Mapping) for t in tokens):
        raise DataError("tokens", "expected the two tokens of a binary market")
    ids = [_token_id(t.get("token_id"), f"tokens[{i}].token_id") for i, t in enumerate(tokens)]
    winners = [_bool(t, "winner", f"tokens[{i}]") for i, t in enumerate(tokens)]
    prices = [to_decimal(_req(t, "price", f"tokens[{i}]"), f"tokens[{i}].price") for i, t in enumerate(tokens)]
    labels = [_str(t, "outcome", f"tokens[{i}]").strip().lower() for i, t in enumerate(tokens)]
    yes_i = labels.index("yes") if sorted(labels) == ["no", "yes"] else 0
    payout: Decimal | None = None
    if closed:
        if winners.count(True) == 1 and sorted(prices) == [ZERO, ONE] and prices[winners.index(True)] == ONE:
            payout = ONE if winners[yes_i] else ZERO
        elif fifty_fifty and not any(winners) and prices == [_HALF, _HALF]:
            payout = _HALF
    return MarketOutcome(cid, closed, payout, ids[yes_i], ids[1 - yes_i])


# --------------------------------------------------------------------------- markets


def gamma_category(raw: Mapping[str, Any]) -> str:
    """A Gamma market's category as :func:`parse_gamma_market` reads it, from the market alone: its fee or
    its tick may be unreadable while its category is not (reconcile records what it adopts under it)."""
    try:
        event = _event_of(raw, None)
    except DataError:
        event = None
    return _category(raw, event)


def _category(raw: Mapping[str, Any], event: Mapping[str, Any] | None) -> str:
    """feeType (operator-set) first, then explicit category, then the first recognised tag."""
    fee_type = raw.get("feeType")
    if isinstance(fee_type, str) and fee_type:
        head = fee_type.lower().split("_fees")[0].split("_")[0]
        if head in _CATEGORIES:
            return _CATEGORIES[head]
    for source in (raw, event or {}):
        cat = source.get("category")
        if isinstance(cat, str) and cat.strip():
            key = cat.strip().lower().replace(" ", "-")
            return _CATEGORIES.get(key, key)
    for source in (raw, event or {}):
        tags = source.get("tags")
        if isinstance(tags, list):
            for tag in tags:
                if isinstance(tag, Mapping):
                    slug = tag.get("slug") or tag.get("label")
                    if isinstance(slug, str) and slug.strip().lower() in _CATEGORIES:
                        return _CATEGORIES[slug.strip().lower()]
    return ""


def _status(raw: Mapping[str, Any], extra: dict[str, str]) -> MarketStatus:
    closed = _bool(raw, "closed")
    active = _bool(raw, "active", default=True)
    archived = _bool(raw, "archived", default=False)
    accepting = _opt_bool(raw, "acceptingOrders")
    order_book = _opt_bool(raw, "enableOrderBook")
    if closed:
        uma = raw.get("umaResolutionStatus")
        if uma == "resolved" or extra.get("uma_status") == "resolved":
            return MarketStatus.SETTLED
        return MarketStatus.CLOSED
    if archived:
        return MarketStatus.CLOSED
    if not active:
        extra["not_tradable"] = "active=false"
        return MarketStatus.PAUSED
    if order_book is not True:
        extra["not_tradable"] = "enableOrderBook=false" if order_book is False else "enableOrderBook absent"
        return MarketStatus.PAUSED
    if accepting is not True:
        extra["not_tradable"] = "acceptingOrders=false" if accepting is False else "acceptingOrders absent"
        return MarketStatus.PAUSED
    return MarketStatus.OPEN


def _event_of(raw: Mapping[str, Any], event: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if event is not None:
        return event
    events = raw.get("events")
    if events is None:
        return None
    if not isinstance(events, list):
        raise DataError("events", f"expected an array, got {type(events).__name__}")
    if events and not isinstance(events[0], Mapping):
        raise DataError("events[0]", f"expected an object, got {type(events[0]).__name__}")
    return events[0] if events else None


def _outcome_tokens(raw: Mapping[str, Any], extra: dict[str, str]) -> list[str]:
    version = raw.get("version")
    if version is None or version == "v1":
        key = "clobTokenIds"
        extra["protocol"] = "v1"
    elif version == "v2":
        key = "positionIds"
        extra["protocol"] = "v2"
    else:
        raise DataError("version", f"unknown market protocol version {str(version)[:20]!r}")
    values = _json_list(raw, key)
    return [_token_id(v, f"{key}[{i}]") for i, v in enumerate(values)]


def is_other_outcome(label: str) -> bool:
    """An 'Other' bucket or a not-yet-named placeholder of an augmented neg-risk event."""
    text = label.strip()
    return bool(text) and bool(_OTHER_LABEL.match(text) or _PLACEHOLDER_LABEL.match(text))


def parse_gamma_market(raw: Any, event: Mapping[str, Any] | None = None) -> Market:
    """One Gamma market (from ``/markets``, ``/markets/keyset`` or nested in an event) → Market.

    ``event`` is the enclosing Gamma event when the market came nested in ``/events``; otherwise the
    market's own ``events[0]`` is used for event-level facts (id, title, ``negRiskAugmented``).
    """
    if not isinstance(raw, Mapping):
        raise DataError("market", f"expected an object, got {type(raw).__name__}")
    extra: dict[str, str] = {}
    cid = _str(raw, "conditionId", required=True).strip()
    if not _CONDITION_ID.match(cid):
        raise DataError("conditionId", f"not a 0x-prefixed 32-byte hex id: {cid[:80]!r}")
    title = _str(raw, "question", required=True).strip()
    ev = _event_of(raw, event)

    labels = _json_list(raw, "outcomes")
    tokens = _outcome_tokens(raw, extra)
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise DataError(f"outcomes[{i}]", "expected a non-empty string")
    if len(labels) != 2:
        raise DataError("outcomes", f"expected 2 outcomes, got {len(labels)}")
    token_key = "positionIds" if extra["protocol"] == "v2" else "clobTokenIds"
    if len(tokens) != len(labels):
        raise DataError(token_key, f"{len(tokens)} token ids for {len(labels)} outcomes")
    if tokens[0] == tokens[1]:
        raise DataError(token_key, "both outcomes have the same token id")
    prices = _json_list(raw, "outcomePrices", required=False)
    display: list[Decimal] = []
    if prices:
        if len(prices) != len(labels):
            raise DataError("outcomePrices", f"{len(prices)} prices for {len(labels)} outcomes")
        display = [to_price(p, f"outcomePrices[{i}]") for i, p in enumerate(prices)]
    uma = _json_list(raw, "umaResolutionStatuses", required=False)
    for i, s in enumerate(uma):
        if not isinstance(s, str):
            raise DataError(f"umaResolutionStatuses[{i}]", f"expected a string, got {type(s).__name__}")
    if uma:
        extra["uma_status"] = uma[-1]

    lowered = [str(lb).strip().lower() for lb in labels]
    if lowered[0] == lowered[1]:
        raise DataError("outcomes", f"both outcomes are labelled {labels[0][:40]!r}")
    group_title = _str(raw, "groupItemTitle").strip()
    if sorted(lowered) == ["no", "yes"]:
        yes_i = lowered.index("yes")
        outcome_label = group_title or "Yes"
    else:
        yes_i = 0
        outcome_label = str(labels[0]).strip()
        extra["no_label"] = str(labels[1]).strip()
    no_i = 1 - yes_i
    if prices:
        extra["display_yes_price"] = f"{display[yes_i]:f}"

    status = _status(raw, extra)
    tradable = status is MarketStatus.OPEN
    tick_raw = raw.get("orderPriceMinTickSize")
    if tick_raw is None and tradable:
        raise DataError("orderPriceMinTickSize", "missing")
    tick = parse_tick(tick_raw) if tick_raw is not None else Decimal("0.01")
    min_raw = raw.get("orderMinSize")
    if min_raw is None and tradable:
        raise DataError("orderMinSize", "missing")
    min_size = to_decimal(min_raw, "orderMinSize") if min_raw is not None else Decimal(5)
    if min_size <= 0:
        raise DataError("orderMinSize", f"must be positive, got {min_size}")
    fee_model, assumed = parse_fee_model(raw)
    if assumed:
        extra["fee_assumed"] = "true"

    neg_risk = _bool(raw, "negRisk", default=False)
    augmented = False
    event_id = event_title = ""
    if ev is not None:
        ev_id = ev.get("id")
        if ev_id is not None and (isinstance(ev_id, bool) or not isinstance(ev_id, str | int)):
            raise DataError("event.id", f"expected a string, got {type(ev_id).__name__}")
        event_id = "" if ev_id is None else str(ev_id)
        event_title = _str(ev, "title", "event").strip()
        augmented = _bool(ev, "negRiskAugmented", "event", default=False)
        neg_risk = neg_risk or _bool(ev, "negRisk", "event", default=False)
        neg_risk = neg_risk or _bool(ev, "enableNegRisk", "event", default=False)
        slug = _str(ev, "slug", "event")
        if slug:
            extra["event_slug"] = slug
    neg_risk_other = _bool(raw, "negRiskOther", default=False)
    is_other = neg_risk_other or (neg_risk and (is_other_outcome(group_title) or is_other_outcome(outcome_label)))

    close_time = parse_time(raw.get("endDate"), "endDate") or parse_time(raw.get("endDateIso"), "endDateIso")
    open_time = parse_time(raw.get("startDate"), "startDate")
    resolution = parse_time(raw.get("umaEndDate"), "umaEndDate")
    for key in ("gameStartTime", "eventStartTime"):
        start = parse_time(raw.get(key), key)
        if start is not None:
            extra["game_start_time"] = start.isoformat()
            break
    for key in ("slug", "id", "questionID", "negRiskMarketID", "sportsMarketType", "feeType"):
        value = raw.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            extra[key] = str(value)
    market_type = "scalar" if raw.get("marketType") == "scalar" else "binary"
    slug = extra.get("slug") or ""
    url = f"https://polymarket.com/event/{extra.get('event_slug', slug)}" if slug or "event_slug" in extra else ""

    return Market(
        venue=Venue.POLYMARKET,
        id=cid,
        event_id=event_id,
        title=title,
        status=status,
        close_time=close_time,
        fee_model=fee_model,
        ticks=TickStructure.uniform(tick),
        outcome_label=outcome_label,
        rules=_str(raw, "description"),
        category=_category(raw, ev),
        open_time=open_time,
        expected_resolution_time=resolution,
        min_size=min_size,
        size_step=DEFAULT_SIZE_STEP,
        market_type=market_type,
        neg_risk=neg_risk,
        neg_risk_augmented=augmented,
        is_other=is_other,
        yes_token=tokens[yes_i],
        no_token=tokens[no_i],
        event_title=event_title,
        url=url,
        extra=extra,
    )


def parse_gamma_event(raw: Any, *, skipped: list[DataError] | None = None) -> list[Market]:
    """All markets nested in one Gamma event.

    With ``skipped`` given, a market that fails to parse is recorded there (its field prefixed with
    the market's conditionId or Gamma id) and the rest still parse; without it the first error raises.
    """
    if not isinstance(raw, Mapping):
        raise DataError("event", f"expected an object, got {type(raw).__name__}")
    markets = raw.get("markets")
    if markets is None:
        return []
    if not isinstance(markets, list):
        raise DataError("event.markets", f"expected an array, got {type(markets).__name__}")
    out: list[Market] = []
    for i, m in enumerate(markets):
        try:
            out.append(parse_gamma_market(m, event=raw))
        except DataError as exc:
            if skipped is None:
                raise
            ident = m.get("conditionId") or m.get("id") if isinstance(m, Mapping) else None
            label = str(ident)[:80] if ident else f"event {str(raw.get('id'))[:40]} market[{i}]"
            skipped.append(DataError(f"{label}.{exc.field}", exc.problem))
    # A complete event listing tells how many outcomes the event has; a neg-risk basket is only
    # priced against that count, so a partially fetched event can never look like an arbitrage.
    # Snapshots built from partial data mark their events with "_orion_partial" (see DEMO.md).
    if not raw.get("_orion_partial"):
        count = str(len(markets))
        out = [replace(m, extra={**m.extra, "event_market_count": count}) for m in out]
    return out


def parse_gamma_events(raw: Any, *, skipped: list[DataError] | None = None) -> list[Market]:
    """A ``/events`` page (bare array) or ``/events/keyset`` page (``{"events": [...]}``)."""
    events = raw.get("events") if isinstance(raw, Mapping) else raw
    if not isinstance(events, list):
        raise DataError("events", f"expected an array, got {type(events).__name__}")
    out: list[Market] = []
    for ev in events:
        out.extend(parse_gamma_event(ev, skipped=skipped))
    return out


# --------------------------------------------------------------------------- books


@dataclass(frozen=True, slots=True)
class TokenBook:
    """One outcome token's CLOB book, normalised best-first, with the venue's metadata."""

    market: str
    asset_id: str
    side: BookSide
    timestamp: datetime | None
    hash: str
    tick_size: Decimal | None
    min_order_size: Decimal | None
    neg_risk: bool | None
    last_trade_price: Decimal | None


def _levels(raw: Mapping[str, Any], key: str, prefix: str) -> list[PriceLevel]:
    field = _field(prefix, key)
    value = raw.get(key)
    if value is None:
        # The CLOB sends an empty side as []: a side missing is no book read, not one with no depth (found by a
        # fault review: `{"asset_id": …}` alone planned as an empty book, refused by INVALID_ORDER "size 0").
        raise DataError(field, "missing")
    if not isinstance(value, list):
        raise DataError(field, f"expected an array, got {type(value).__name__}")
    out: list[PriceLevel] = []
    for i, lv in enumerate(value):
        lf = f"{field}[{i}]"
        if not isinstance(lv, Mapping):
            raise DataError(lf, f"expected an object, got {type(lv).__name__}")
        price = to_price(_req(lv, "price", lf), f"{lf}.price")
        if price <= 0 or price >= ONE:
            raise DataError(f"{lf}.price", f"out of range (0, 1): {price}")
        size = to_decimal(_req(lv, "size", lf), f"{lf}.size")
        out.append(PriceLevel(price, size))
    twice = repeated_price(out)
    if twice is not None:  # summed, it doubled the depth the level shows
        raise DataError(field, f"price {twice} listed at two levels")
    return out


def book_hash(raw: Mapping[str, Any]) -> str:
    """The CLOB's book hash: sha1 of the compact JSON of the book with ``hash`` blanked.

    Key order is market, asset_id, timestamp, hash, bids, asks, min_order_size, tick_size,
    neg_risk, last_trade_price; values exactly as received (strings stay strings).
    """
    body = {
        "market": raw.get("market"),
        "asset_id": raw.get("asset_id"),
        "timestamp": raw.get("timestamp"),
        "hash": "",
        "bids": [{"price": lv.get("price"), "size": lv.get("size")} for lv in raw.get("bids") or []],
        "asks": [{"price": lv.get("price"), "size": lv.get("size")} for lv in raw.get("asks") or []],
        "min_order_size": raw.get("min_order_size"),
        "tick_size": raw.get("tick_size"),
        "neg_risk": raw.get("neg_risk"),
        "last_trade_price": raw.get("last_trade_price"),
    }
    return hashlib.sha1(json.dumps(body, separators=(",", ":")).encode(), usedforsecurity=False).hexdigest()


def parse_book(raw: Any, *, prefix: str = "book", verify_hash: bool = False) -> TokenBook:
    """One ``GET /book`` body (or one element of ``POST /books``)."""
    if not isinstance(raw, Mapping):
        raise DataError(prefix, f"expected an object, got {type(raw).__name__}")
    asset = _token_id(_req(raw, "asset_id", prefix), _field(prefix, "asset_id"))
    market = _str(raw, "market", prefix).strip()
    if market and not _CONDITION_ID.match(market):
        raise DataError(_field(prefix, "market"), f"not a condition id: {market[:80]!r}")
    bids = _levels(raw, "bids", prefix)
    asks = _levels(raw, "asks", prefix)
    side = BookSide.build(bids, asks, prefix)
    if side.crossed:
        raise DataError(prefix, f"crossed: best bid {side.bids[0].price} at or above best ask {side.asks[0].price} "
                                "(the CLOB would have matched them)")
    tick = raw.get("tick_size")
    min_size = raw.get("min_order_size")
    ltp = raw.get("last_trade_price")
    digest = _str(raw, "hash", prefix)
    if verify_hash:
        if not all(isinstance(lv, Mapping) for lv in [*(raw.get("bids") or []), *(raw.get("asks") or [])]):
            raise DataError(_field(prefix, "hash"), "cannot verify: malformed levels")
        if digest != book_hash(raw):
            raise DataError(_field(prefix, "hash"), "does not match the book's content")
    return TokenBook(
        market=market,
        asset_id=asset,
        side=side,
        timestamp=_ms_time(raw.get("timestamp"), _field(prefix, "timestamp")),
        hash=digest,
        tick_size=parse_tick(tick, _field(prefix, "tick_size")) if tick not in (None, "") else None,
        min_order_size=to_decimal(min_size, _field(prefix, "min_order_size")) if min_size not in (None, "") else None,
        neg_risk=_opt_bool(raw, "neg_risk", prefix),
        last_trade_price=to_price(ltp, _field(prefix, "last_trade_price")) if ltp not in (None, "") else None,
    )


def parse_books(raw: Any, *, verify_hash: bool = False) -> list[TokenBook]:
    """A ``POST /books`` body: an array of books."""
    if not isinstance(raw, list):
        raise DataError("books", f"expected an array, got {type(raw).__name__}")
    return [parse_book(b, prefix=f"books[{i}]", verify_hash=verify_hash) for i, b in enumerate(raw)]


def clob_terms(market: Market, yes: TokenBook | None, no: TokenBook | None) -> Market:
    """``market`` under the order terms its CLOB books state, which override Gamma's.

    Gamma's ``orderPriceMinTickSize``/``orderMinSize``/``negRisk`` can lag the CLOB, and the CLOB is
    what holds an order to its tick, its minimum and the exchange it is signed for. So a book's
    ``tick_size`` replaces the market's tick grid, its ``min_order_size`` the minimum, and its
    ``neg_risk`` is kept as :attr:`Market.clob_neg_risk`, which signing uses
    (:attr:`Market.signs_neg_risk`); ``Market.neg_risk`` stays Gamma's, for basket grouping. A field
    no book states leaves Gamma's in place.

    The YES and NO books disagreeing on the tick, the minimum or the neg-risk flag raise
    :class:`DataError`: which one the venue would hold an order to cannot be told, so the caller
    leaves the market unquoted rather than guess. The books must already be known to be this
    market's (:func:`combine_books`).
    """
    books = [b for b in (yes, no) if b is not None]
    ticks = {b.tick_size for b in books if b.tick_size is not None}
    if len(ticks) > 1:
        raise DataError("book.tick_size", "the YES and NO books state different ticks: "
                                          + ", ".join(f"{t:f}" for t in sorted(ticks)))
    flags = {b.neg_risk for b in books if b.neg_risk is not None}
    if len(flags) > 1:
        raise DataError("book.neg_risk", "the YES and NO books disagree on the neg-risk flag")
    minimums = {b.min_order_size for b in books if b.min_order_size is not None}
    for m in minimums:
        if m <= 0:
            raise DataError("book.min_order_size", f"must be positive, got {m}")
    if len(minimums) > 1:
        # The larger would be safe to buy at but not to unwind at: a remainder below it but above the
        # token's own minimum would be called unsellable and left held.
        raise DataError("book.min_order_size", "the YES and NO books state different minimum sizes: "
                                               + ", ".join(f"{m:f}" for m in sorted(minimums)))
    terms: dict[str, Any] = {}
    if ticks:
        terms["ticks"] = TickStructure.uniform(ticks.pop())
    if minimums:
        terms["min_size"] = minimums.pop()
    if flags:
        terms["clob_neg_risk"] = flags.pop()
    return replace(market, **terms) if terms else market


def combine_books(
    market: Market,
    yes: TokenBook | None,
    no: TokenBook | None,
    fetched_at: datetime,
) -> OrderBook:
    """Both sides of ``market`` from its two tokens' books, each checked to belong to it.

    A missing token book leaves that side empty rather than mirroring the other token's book.
    """
    for tb, token, name in ((yes, market.yes_token, "yes"), (no, market.no_token, "no")):
        if tb is None:
            continue
        if tb.asset_id != token:
            raise DataError(f"book.{name}.asset_id", f"book is for token {tb.asset_id[:20]}…, not {name}")
        if tb.market and tb.market.lower() != market.id.lower():
            raise DataError(f"book.{name}.market", f"book is for market {tb.market[:20]}…, not {market.id[:20]}…")
    return OrderBook(
        venue=Venue.POLYMARKET,
        market_id=market.id,
        yes=yes.side if yes is not None else BookSide(),
        no=no.side if no is not None else BookSide(),
        fetched_at=fetched_at,
    )


def mirror_gap(book: OrderBook) -> Decimal | None:
    """How far the two tokens' books are from mirrors: |best YES ask − (1 − best NO bid)|.

    ``None`` when either level is missing. Useful for diagnostics; orion never assumes 0.
    """
    ya, nb = book.yes.best_ask, book.no.best_bid
    if ya is None or nb is None:
        return None
    return abs(ya.price - (ONE - nb.price))


def levels_to_wire(levels: Sequence[PriceLevel], *, ascending: bool) -> list[dict[str, str]]:
    """Levels in the CLOB's wire order (used by the simulator and by tests)."""
    ordered = sorted(levels, key=lambda lv: lv.price, reverse=not ascending)
    return [{"price": f"{lv.price:f}", "size": f"{lv.size:f}"} for lv in ordered if lv.size > ZERO]
