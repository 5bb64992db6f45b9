"""Kalshi wire JSON → orion's domain model, validated at the boundary.

Everything Kalshi sends is checked here and nowhere else: a missing, mistyped, NaN, negative or
absurd value raises :class:`DataError` naming the field (``markets[3].close_time``), never a silent
zero. Input is expected to come from :func:`orion_cli.core.money.loads_exact`, so JSON numbers
with fractions are already ``Decimal``.

Wire facts encoded here (see ``../shared/reference/kalshi.md``): market ``status`` answers use a
different vocabulary from the ``status`` filter; ``orderbook_fp`` carries *bids only* for YES and NO
(NO in NO-leg prices), usually worst→best, with empty sides as ``null``, missing or ``[]``; asks are
derived as ``1 − p`` from the other side's bids; error bodies come in three shapes and their codes
may carry a dynamic ``:suffix``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orion_cli.core.errors import DataError, VenueError
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import (
    BookSide,
    Market,
    MarketStatus,
    OrderBook,
    PriceLevel,
    TickRange,
    TickStructure,
    Venue,
    repeated_price,
)
from orion_cli.core.money import ONE, ZERO, decimal_str, loads_exact, to_decimal, to_price

__all__ = [
    "MARKET_STATUS_MAP",
    "PRICE_LEVEL_STRUCTURES",
    "ExchangeStatus",
    "KalshiErrorBody",
    "KalshiEvent",
    "KalshiSeries",
    "MarketFields",
    "MarketsPage",
    "base_code",
    "bind_market",
    "describe_error",
    "fee_model_for",
    "fields_differ",
    "parse_error_body",
    "parse_event",
    "parse_events_page",
    "parse_exchange_status",
    "parse_market",
    "parse_market_response",
    "parse_markets_page",
    "parse_orderbook",
    "parse_orderbooks_batch",
    "parse_series",
    "parse_ticks",
    "read_market",
    "series_ticker_of",
]

# Response vocabulary (spec ``Market.status``) → orion. The filter vocabulary (open, paused, ...)
# is accepted too, defensively: it is what a careless proxy or an old snapshot would carry.
MARKET_STATUS_MAP: dict[str, MarketStatus] = {
    "initialized": MarketStatus.UNOPENED,
    "unopened": MarketStatus.UNOPENED,
    "inactive": MarketStatus.PAUSED,
    "paused": MarketStatus.PAUSED,
    "active": MarketStatus.OPEN,
    "open": MarketStatus.OPEN,
    "closed": MarketStatus.CLOSED,
    # Outcome known or contested but not yet paid: no longer tradable, not yet settled.
    "determined": MarketStatus.CLOSED,
    "disputed": MarketStatus.CLOSED,
    "amended": MarketStatus.CLOSED,
    "finalized": MarketStatus.SETTLED,
    "settled": MarketStatus.SETTLED,
}

_CENT = Decimal("0.01")
_DECI_CENT = Decimal("0.001")
_TENTH = Decimal("0.1")
_NINE_TENTHS = Decimal("0.9")

# Used only when a market carries a known ``price_level_structure`` but no ``price_ranges``.
PRICE_LEVEL_STRUCTURES: dict[str, tuple[TickRange, ...]] = {
    "linear_cent": (TickRange(ZERO, ONE, _CENT),),
    "deci_cent": (TickRange(ZERO, ONE, _DECI_CENT),),
    "tapered_deci_cent": (
        TickRange(ZERO, _TENTH, _DECI_CENT),
        TickRange(_TENTH, _NINE_TENTHS, _CENT),
        TickRange(_NINE_TENTHS, ONE, _DECI_CENT),
    ),
}


# -- small typed accessors --------------------------------------------------------------------


def _obj(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DataError(name, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, name: str, *, allow_none: bool = False) -> list[Any]:
    if value is None and allow_none:
        return []
    if not isinstance(value, list):
        raise DataError(name, f"expected a list, got {type(value).__name__}")
    return value


def _str(obj: Mapping[str, Any], key: str, name: str, *, required: bool = True, nonempty: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise DataError(name, "missing")
        return ""
    if not isinstance(value, str):
        raise DataError(name, f"expected a string, got {type(value).__name__}")
    if nonempty and not value.strip():
        raise DataError(name, "empty string")
    return value


def _bool(obj: Mapping[str, Any], key: str, name: str, *, default: bool | None = None) -> bool:
    value = obj.get(key)
    if value is None:
        if default is None:
            raise DataError(name, "missing")
        return default
    if not isinstance(value, bool):
        raise DataError(name, f"expected true/false, got {type(value).__name__}")
    return value


def _time(obj: Mapping[str, Any], key: str, name: str, *, required: bool) -> datetime | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise DataError(name, "missing")
        return None
    if not isinstance(value, str):
        raise DataError(name, f"expected an ISO-8601 time string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DataError(name, f"not an ISO-8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise DataError(name, f"time without a timezone: {value[:40]!r}")
    return parsed.astimezone(UTC)


def _opt_decimal(obj: Mapping[str, Any], key: str, name: str, *, negative: bool = False) -> Decimal | None:
    value = obj.get(key)
    if value is None:
        return None
    return to_decimal(value, name, allow_negative=negative)


def _opt_price(obj: Mapping[str, Any], key: str, name: str) -> Decimal | None:
    value = obj.get(key)
    if value is None:
        return None
    return to_price(value, name)


# -- errors -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KalshiErrorBody:
    """One of Kalshi's error bodies, normalised. ``shape`` is nested, flat, bare, text or empty."""

    code: str
    message: str
    details: str
    shape: str

    @property
    def base_code(self) -> str:
        return base_code(self.code)

    def is_code(self, code: str) -> bool:
        """True when the code equals ``code`` or is ``code`` plus a dynamic ``:suffix``."""
        return base_code(self.code) == code


def base_code(code: str) -> str:
    """``user_not_found:_<uuid>`` → ``user_not_found``: Kalshi appends dynamic suffixes."""
    return code.split(":", 1)[0].strip()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)[:200]


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> KalshiErrorBody:
    """Parse any of the three recorded error shapes (and the 429's ``{"error": "..."}``).

    Never raises: an error body we cannot read is still an error, reported as text.
    """
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = loads_exact(body) if body else None
        except (ValueError, UnicodeDecodeError):
            raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            return KalshiErrorBody("", " ".join(raw[:200].split()), "", "text")
    if not isinstance(data, Mapping):
        return KalshiErrorBody("", _text(data), "", "empty" if data is None else "text")
    err = data.get("error")
    if isinstance(err, Mapping):
        return KalshiErrorBody(
            _text(err.get("code")), _text(err.get("message")), _text(err.get("details")), "nested"
        )
    if isinstance(err, str):  # 429: {"error": "too many requests"}
        return KalshiErrorBody("", err, "", "nested")
    if "code" in data or "message" in data:
        return KalshiErrorBody(
            _text(data.get("code")), _text(data.get("message")), _text(data.get("details")), "flat"
        )
    if "msg" in data:
        return KalshiErrorBody("", _text(data.get("msg")), "", "bare")
    return KalshiErrorBody("", _text(data), "", "text")


def describe_error(status: int, body: bytes) -> tuple[str, str]:
    """``VenueHttp`` hook: ``(code, human message)`` for an error answer."""
    err = parse_error_body(body)
    parts = [p for p in (err.message, err.details) if p and p != err.code]
    return err.code, ": ".join(dict.fromkeys(parts))


# -- exchange, series, events -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool
    estimated_resume_time: datetime | None = None

    @property
    def can_trade(self) -> bool:
        return self.exchange_active and self.trading_active


def parse_exchange_status(data: Any) -> ExchangeStatus:
    obj = _obj(data, "exchange_status")
    return ExchangeStatus(
        exchange_active=_bool(obj, "exchange_active", "exchange_active"),
        trading_active=_bool(obj, "trading_active", "trading_active"),
        estimated_resume_time=_time(
            obj, "exchange_estimated_resume_time", "exchange_estimated_resume_time", required=False
        ),
    )


def exchange_status_answer(data: Any) -> ExchangeStatus:
    """``GET /exchange/status`` as the venue answered it (the market data and the trading clients both ask):
    an answer that cannot be read is the venue's fault, exit 5 naming it, not an internal error."""
    try:
        return parse_exchange_status(data)
    except DataError as exc:
        raise VenueError(f"kalshi GET /exchange/status: {exc}") from None


@dataclass(frozen=True, slots=True)
class KalshiSeries:
    ticker: str
    title: str
    category: str
    fee_type: str
    fee_multiplier: Decimal


def parse_series(data: Any, name: str = "series") -> KalshiSeries:
    obj = _obj(data, name)
    ticker = _str(obj, "ticker", f"{name}.ticker", nonempty=True)
    fee_type = _str(obj, "fee_type", f"{name}.fee_type")
    multiplier = to_decimal(obj.get("fee_multiplier"), f"{name}.fee_multiplier")
    # Validate the pair now, so a bad series fails here with its name, not at pricing time.
    FeeModel.kalshi(fee_type, multiplier)
    return KalshiSeries(
        ticker=ticker,
        title=_str(obj, "title", f"{name}.title", required=False),
        category=_str(obj, "category", f"{name}.category", required=False),
        fee_type=fee_type,
        fee_multiplier=multiplier,
    )


@dataclass(frozen=True, slots=True)
class KalshiEvent:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    mutually_exclusive: bool
    category: str = ""
    fee_type_override: str | None = None
    fee_multiplier_override: Decimal | None = None
    markets: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)


def parse_event(data: Any, name: str = "event") -> KalshiEvent:
    obj = _obj(data, name)
    fee_type = obj.get("fee_type_override")
    if fee_type is not None and not isinstance(fee_type, str):
        raise DataError(f"{name}.fee_type_override", f"expected a string, got {type(fee_type).__name__}")
    multiplier = _opt_decimal(obj, "fee_multiplier_override", f"{name}.fee_multiplier_override")
    if fee_type:
        FeeModel.kalshi(fee_type, multiplier if multiplier is not None else ONE)
    markets = _list(obj.get("markets"), f"{name}.markets", allow_none=True)
    for i, m in enumerate(markets):
        _obj(m, f"{name}.markets[{i}]")
    return KalshiEvent(
        event_ticker=_str(obj, "event_ticker", f"{name}.event_ticker", nonempty=True),
        series_ticker=_str(obj, "series_ticker", f"{name}.series_ticker", nonempty=True),
        title=_str(obj, "title", f"{name}.title", required=False),
        sub_title=_str(obj, "sub_title", f"{name}.sub_title", required=False),
        mutually_exclusive=_bool(obj, "mutually_exclusive", f"{name}.mutually_exclusive", default=False),
        category=_str(obj, "category", f"{name}.category", required=False),
        fee_type_override=fee_type or None,
        fee_multiplier_override=multiplier,
        markets=tuple(markets),
    )


def parse_events_page(data: Any) -> tuple[list[KalshiEvent], str | None]:
    obj = _obj(data, "response")
    items = _list(obj.get("events"), "events", allow_none=True)
    events = [parse_event(e, f"events[{i}]") for i, e in enumerate(items)]
    return events, _cursor(obj)


def series_ticker_of(event_ticker: str) -> str:
    """Kalshi event tickers start with their series ticker: ``KXNBAGAME-26JAN11HOUSAC``."""
    return event_ticker.split("-", 1)[0]


def fee_model_for(series: KalshiSeries | None, event: KalshiEvent | None = None) -> FeeModel:
    """The fee model of a market: the event's override if any, else its series', else default.

    The default (quadratic × 1, Kalshi's standard schedule) is labelled as such so that
    ``orion book`` and the audit log show it was assumed, not read. It stands for a series nobody
    asked for: a read that does not price (``book(with_fees=False)``: the hedge retry, settlement)
    or a recording that holds no series. One that was asked for and not read (the series listing,
    or the series itself), or sent but unreadable, refuses its markets (``snapshot.KalshiParser``).
    """
    if event is not None and event.fee_type_override:
        multiplier = event.fee_multiplier_override
        if multiplier is None:
            multiplier = series.fee_multiplier if series is not None else ONE
        return FeeModel.kalshi(
            event.fee_type_override,
            multiplier,
            source=f"event {event.event_ticker} fee_type_override={event.fee_type_override} x{multiplier}",
        )
    if event is not None and event.fee_multiplier_override is not None:
        # A multiplier override without its type (the spec pairs them; each field is nullable on its
        # own): the series' type with whichever multiplier charges more, since which one the venue
        # applies is not documented, and understating a fee overstates the edge.
        lone = event.fee_multiplier_override
        fee_type = series.fee_type if series is not None else "quadratic"
        base = series.fee_multiplier if series is not None else ONE
        charged = max(lone, base)
        return FeeModel.kalshi(
            fee_type,
            charged,
            source=f"event {event.event_ticker} fee_multiplier_override=x{lone} without a type override; "
            f"{fee_type} x{charged} (the larger of it and the series' x{base})",
        )
    if series is not None:
        return FeeModel.kalshi(
            series.fee_type,
            series.fee_multiplier,
            source=f"series {series.ticker} fee_type={series.fee_type} x{series.fee_multiplier}",
        )
    return FeeModel.kalshi("quadratic", ONE, source="default quadratic x1 (series fee unknown)")


# -- markets ----------------------------------------------------------------------------------


def parse_ticks(obj: Mapping[str, Any], name: str = "market") -> TickStructure:
    """``price_ranges`` when present (authoritative), else the named ``price_level_structure``."""
    structure = _str(obj, "price_level_structure", f"{name}.price_level_structure", required=False)
    raw_ranges = obj.get("price_ranges")
    if raw_ranges is None or raw_ranges == []:
        known = PRICE_LEVEL_STRUCTURES.get(structure)
        if known is None:
            raise DataError(
                f"{name}.price_ranges",
                "missing, and price_level_structure "
                + (f"{structure!r} is unknown" if structure else "is missing too"),
            )
        return TickStructure(known)
    ranges: list[TickRange] = []
    for i, r in enumerate(_list(raw_ranges, f"{name}.price_ranges")):
        rname = f"{name}.price_ranges[{i}]"
        ro = _obj(r, rname)
        start = to_price(ro.get("start"), f"{rname}.start")
        end = to_price(ro.get("end"), f"{rname}.end")
        step = to_price(ro.get("step"), f"{rname}.step")
        if step <= 0:
            raise DataError(f"{rname}.step", f"must be positive, got {step}")
        if end <= start:
            raise DataError(f"{rname}.end", f"end {end} not above start {start}")
        if step > end - start:
            raise DataError(f"{rname}.step", f"step {step} larger than the range {start}..{end}")
        ranges.append(TickRange(start, end, step))
    ranges.sort(key=lambda r: r.start)
    return TickStructure(tuple(ranges))


_QUOTE_FIELDS = (
    "yes_bid_dollars",
    "yes_ask_dollars",
    "no_bid_dollars",
    "no_ask_dollars",
    "last_price_dollars",
)
_COUNT_FIELDS = ("volume_fp", "volume_24h_fp", "open_interest_fp")
# Market-level top-of-book sizes are a snapshot, not the book: recorded demo captures of
# ``determined`` markets carry negative values here (markets__high_temp.json, -24.83). They are
# kept for display only; sizes that orion trades on come from the order book, which rejects them.
_SNAPSHOT_SIZE_FIELDS = ("yes_bid_size_fp", "yes_ask_size_fp")


def parse_market(
    data: Any,
    *,
    fee_model: FeeModel | None = None,
    event: KalshiEvent | None = None,
    series: KalshiSeries | None = None,
    name: str = "market",
) -> Market:
    """One ``Market`` object. ``fee_model`` wins; else it is resolved from ``event``/``series``."""
    return bind_market(read_market(data, name=name), fee_model=fee_model, event=event, series=series)


@dataclass(slots=True)
class MarketFields:
    """A market object read and checked, all but what its event and series add (:func:`bind_market`).

    The two halves of :func:`parse_market`, so that a listing can be read page by page as it arrives
    while the series and events that price it are still being fetched (``snapshot.KalshiParser``).
    """

    ticker: str
    event_ticker: str
    title: str
    status: MarketStatus
    close_time: datetime | None
    ticks: TickStructure
    outcome_label: str
    rules: str
    open_time: datetime | None
    expected_resolution_time: datetime | None
    step: Decimal
    market_type: str
    extra: dict[str, str]


def read_market(data: Any, *, name: str = "market") -> MarketFields:
    """Every field of one ``Market`` object checked, raising :class:`DataError` naming the first bad one."""
    obj = _obj(data, name)
    ticker = _str(obj, "ticker", f"{name}.ticker", nonempty=True)
    name = f"{name}({ticker})" if name == "market" else name
    event_ticker = _str(obj, "event_ticker", f"{name}.event_ticker", nonempty=True)

    raw_status = _str(obj, "status", f"{name}.status", nonempty=True)
    status = MARKET_STATUS_MAP.get(raw_status)
    if status is None:
        raise DataError(f"{name}.status", f"unknown Kalshi market status {raw_status[:40]!r}")

    market_type = _str(obj, "market_type", f"{name}.market_type", nonempty=True)
    if market_type not in ("binary", "scalar"):
        raise DataError(f"{name}.market_type", f"unknown market type {market_type[:40]!r}")

    notional = _opt_decimal(obj, "notional_value_dollars", f"{name}.notional_value_dollars")
    if notional is not None and notional != ONE:
        # Every payout computation assumes a $1 contract; anything else must not be priced.
        raise DataError(f"{name}.notional_value_dollars", f"expected 1.0000, got {notional}")

    ticks = parse_ticks(obj, name)
    close_time = _time(obj, "close_time", f"{name}.close_time", required=True)
    open_time = _time(obj, "open_time", f"{name}.open_time", required=False)
    expected = _time(obj, "expected_expiration_time", f"{name}.expected_expiration_time", required=False)
    latest = _time(obj, "latest_expiration_time", f"{name}.latest_expiration_time", required=False)

    fractional = _bool(obj, "fractional_trading_enabled", f"{name}.fractional_trading_enabled", default=True)
    step = _CENT if fractional else ONE

    extra: dict[str, str] = {}
    for key in _QUOTE_FIELDS:
        price = _opt_price(obj, key, f"{name}.{key}")
        if price is not None:
            extra[key] = decimal_str(price)
    for key in _COUNT_FIELDS:
        count = _opt_decimal(obj, key, f"{name}.{key}")
        if count is not None:
            extra[key] = decimal_str(count)
    for key in _SNAPSHOT_SIZE_FIELDS:
        snap = _opt_decimal(obj, key, f"{name}.{key}", negative=True)
        if snap is not None:
            extra[key] = decimal_str(snap)
    for key in ("floor_strike", "cap_strike"):
        strike = _opt_decimal(obj, key, f"{name}.{key}", negative=True)
        if strike is not None:
            extra[key] = decimal_str(strike)
    settlement = _opt_price(obj, "settlement_value_dollars", f"{name}.settlement_value_dollars")
    if settlement is not None:
        extra["settlement_value_dollars"] = decimal_str(settlement)
    for key in (
        "strike_type",
        "yes_sub_title",
        "no_sub_title",
        "result",
        "early_close_condition",
        "price_level_structure",
        "mve_collection_ticker",
        "expiration_value",
    ):
        text = _str(obj, key, f"{name}.{key}", required=False)
        if text:
            extra[key] = text
    for key in ("custom_strike", "functional_strike"):
        value = obj.get(key)
        if value is not None and value != "":
            if not isinstance(value, Mapping | str):
                raise DataError(f"{name}.{key}", f"expected an object, got {type(value).__name__}")
            extra[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    can_close_early = obj.get("can_close_early")
    if can_close_early is not None:
        extra["can_close_early"] = "true" if _bool(obj, "can_close_early", f"{name}.can_close_early") else "false"
    if latest is not None:
        extra["latest_expiration_time"] = latest.isoformat()

    yes_sub = extra.get("yes_sub_title", "")
    title = _str(obj, "title", f"{name}.title", required=False) or yes_sub or ticker
    primary = _str(obj, "rules_primary", f"{name}.rules_primary", required=False)
    secondary = _str(obj, "rules_secondary", f"{name}.rules_secondary", required=False)
    rules = "\n\n".join(x for x in (primary.strip(), secondary.strip()) if x)
    return MarketFields(ticker, event_ticker, title, status, close_time, ticks, yes_sub, rules, open_time,
                        expected, step, market_type, extra)


# What a listing's copy of a market says that moves with every trade; orion prices by the book, not by these.
_MOVING_FIELDS = frozenset((*_QUOTE_FIELDS, *_COUNT_FIELDS, *_SNAPSHOT_SIZE_FIELDS))


def fields_differ(a: MarketFields, b: MarketFields) -> list[str]:
    """The fields two copies of one market disagree on (status, close time, tick, rules, result, …), but
    the listing's quotes and volumes, which move between two pages of one listing as the market trades."""
    out = [f.name for f in dataclasses.fields(MarketFields)
           if f.name != "extra" and getattr(a, f.name) != getattr(b, f.name)]
    out += sorted(k for k in (a.extra.keys() | b.extra.keys()) - _MOVING_FIELDS if a.extra.get(k) != b.extra.get(k))
    return out


def bind_market(
    fields: MarketFields,
    *,
    fee_model: FeeModel | None = None,
    event: KalshiEvent | None = None,
    series: KalshiSeries | None = None,
) -> Market:
    """The :class:`Market` of ``fields`` (from :func:`read_market`) with what its event and series add:
    the fee (``fee_model`` wins; else resolved from ``event``/``series``), the series ticker, the
    category and the event's title. ``fields`` is spent: its ``extra`` becomes the market's."""
    extra = fields.extra
    extra["series_ticker"] = event.series_ticker if event is not None else series_ticker_of(fields.event_ticker)
    if fee_model is None:
        fee_model = fee_model_for(series, event)
    return Market(
        venue=Venue.KALSHI,
        id=fields.ticker,
        event_id=fields.event_ticker,
        title=fields.title,
        status=fields.status,
        close_time=fields.close_time,
        fee_model=fee_model,
        ticks=fields.ticks,
        outcome_label=fields.outcome_label,
        rules=fields.rules,
        category=series.category if series is not None and series.category else (event.category if event else ""),
        open_time=fields.open_time,
        expected_resolution_time=fields.expected_resolution_time,
        min_size=fields.step,
        size_step=fields.step,
        market_type=fields.market_type,
        event_title=event.title if event is not None else "",
        extra=extra,
    )


def parse_market_response(data: Any) -> Mapping[str, Any]:
    """``GET /markets/{ticker}`` → the raw market object (``{"market": {...}}``)."""
    obj = _obj(data, "response")
    return _obj(obj.get("market"), "market")


def _cursor(obj: Mapping[str, Any]) -> str | None:
    """The next-page cursor; ``None`` when this is the last page (Kalshi sends ``""``)."""
    value = obj.get("cursor")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataError("cursor", f"expected a string, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class MarketsPage:
    markets: list[Mapping[str, Any]]
    cursor: str | None


def parse_markets_page(data: Any) -> MarketsPage:
    """A ``/markets`` page: raw market objects (parsed one by one later) and the next cursor."""
    obj = _obj(data, "response")
    if "markets" not in obj:
        raise DataError("markets", "missing")
    items = _list(obj.get("markets"), "markets", allow_none=True)
    for i, m in enumerate(items):
        _obj(m, f"markets[{i}]")
    return MarketsPage(items, _cursor(obj))


# -- order books ------------------------------------------------------------------------------


def _levels(value: Any, name: str) -> list[PriceLevel]:
    """``[[price_dollars, count_fp], ...]``; ``null``/missing/``[]`` are all an empty side."""
    out: list[PriceLevel] = []
    for i, lv in enumerate(_list(value, name, allow_none=True)):
        lname = f"{name}[{i}]"
        if not isinstance(lv, list) or len(lv) != 2:
            raise DataError(lname, "expected [price, size]")
        price = to_price(lv[0], f"{lname}.price")
        if not (ZERO < price < ONE):
            raise DataError(f"{lname}.price", f"out of range (0, 1): {price}")
        size = to_decimal(lv[1], f"{lname}.size")
        out.append(PriceLevel(price, size))
    twice = repeated_price(out)
    if twice is not None:  # summed, it doubled the depth the level shows
        raise DataError(name, f"price {twice} listed at two levels")
    return out


def parse_orderbook(
    data: Any, ticker: str, *, fetched_at: datetime | None = None, name: str = "orderbook_fp"
) -> OrderBook:
    """``{"orderbook_fp": {...}}`` (or the inner object) → an :class:`OrderBook`.

    YES asks are the NO bids at ``1 − p`` and vice versa; both sides end up best first.
    """
    obj = _obj(data, "response")
    inner: Any = obj.get("orderbook_fp")
    if "orderbook_fp" in obj and inner is None:
        inner = {}  # a wholly empty book has been sent as null, like its sides
    if inner is None:
        if "yes_dollars" in obj or "no_dollars" in obj:
            inner = obj
        elif "orderbook" in obj:
            raise DataError("orderbook_fp", "missing (legacy cent 'orderbook' shape received)")
        else:
            raise DataError(name, "missing")
    book = _obj(inner, name)
    yes_bids = _levels(book.get("yes_dollars"), f"{name}.yes_dollars")
    no_bids = _levels(book.get("no_dollars"), f"{name}.no_dollars")
    yes_asks = [PriceLevel(ONE - lv.price, lv.size) for lv in no_bids]
    no_asks = [PriceLevel(ONE - lv.price, lv.size) for lv in yes_bids]
    yes = BookSide.build(yes_bids, yes_asks, f"{ticker}.yes")
    if yes.crossed:  # the NO side mirrors it: a YES bid and a NO bid summing to $1 or more would have matched
        best_yes, best_no = (max(lv.price for lv in side if lv.size > 0) for side in (yes_bids, no_bids))
        raise DataError(name, f"crossed: best YES bid {best_yes} + best NO bid {best_no} is $1 or more "
                              "(Kalshi would have matched them)")
    return OrderBook(
        venue=Venue.KALSHI,
        market_id=ticker,
        yes=yes,
        no=BookSide.build(no_bids, no_asks, f"{ticker}.no"),
        fetched_at=fetched_at or datetime.now(UTC),
    )


def parse_orderbooks_batch(
    data: Any, *, fetched_at: datetime | None = None, start: int = 0
) -> tuple[dict[str, OrderBook], dict[str, DataError]]:
    """``{"orderbooks": [{"ticker", "orderbook_fp"}]}`` → books, plus per-ticker errors.

    One corrupt book does not cost us the other 99. ``start``: the first item's index in the errors'
    names, for a batch that continues a longer list.
    """
    obj = _obj(data, "response")
    items = _list(obj.get("orderbooks"), "orderbooks")
    when = fetched_at or datetime.now(UTC)
    books: dict[str, OrderBook] = {}
    errors: dict[str, DataError] = {}
    for i, item in enumerate(items, start):
        it = _obj(item, f"orderbooks[{i}]")
        ticker = _str(it, "ticker", f"orderbooks[{i}].ticker", nonempty=True)
        try:
            books[ticker] = parse_orderbook(
                it, ticker, fetched_at=when, name=f"orderbooks[{i}]({ticker}).orderbook_fp"
            )
        except DataError as exc:
            errors[ticker] = exc
    return books, errors


def iter_levels_wire(levels: Iterable[PriceLevel]) -> list[list[str]]:
    """Inverse of the wire level format (for snapshots and the simulator)."""
    return [[f"{lv.price:.4f}", f"{lv.size:.2f}"] for lv in levels]
