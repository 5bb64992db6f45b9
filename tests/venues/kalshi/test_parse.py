"""Kalshi JSON → domain model, on every recorded fixture and on fuzzed payloads."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orion_cli.core.errors import DataError
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import MarketStatus, PriceLevel
from orion_cli.core.money import loads_exact
from orion_cli.venues.kalshi.parse import (
    KalshiEvent,
    KalshiSeries,
    base_code,
    describe_error,
    fee_model_for,
    parse_error_body,
    parse_event,
    parse_events_page,
    parse_exchange_status,
    parse_market,
    parse_market_response,
    parse_markets_page,
    parse_orderbook,
    parse_orderbooks_batch,
    parse_series,
    parse_ticks,
)

FIX = Path(__file__).resolve().parents[4] / "shared" / "fixtures"
K = FIX / "kalshi"


def load(path: Path) -> Any:
    return loads_exact(path.read_bytes())


MARKET_LISTS = sorted(
    [p for p in K.glob("markets__*.json") if "markets" in json.loads(p.read_text())]
    + [FIX / "paired" / "kalshi_markets.json"]
)
SINGLE = load(K / "markets__single.json")["market"]
OPEN_MARKETS = load(K / "markets__status_open.json")["markets"]


# -- every recorded fixture -------------------------------------------------------------------


@pytest.mark.parametrize("path", MARKET_LISTS, ids=lambda p: p.name)
def test_every_recorded_market_list_parses(path: Path) -> None:
    page = parse_markets_page(load(path))
    assert page.markets
    for raw in page.markets:
        m = parse_market(raw)
        assert m.id == raw["ticker"] and m.event_id == raw["event_ticker"]
        assert m.close_time is not None and m.close_time.tzinfo is not None
        assert m.ticks.ranges and m.fee_model.kind == "kalshi"
        assert m.title
    meta = K / (path.stem + ".meta.json")
    if meta.exists() and "cursor=" not in json.loads(meta.read_text())["path"] and path.stem.endswith("lastpage"):
        assert page.cursor is None


@pytest.mark.parametrize("name", ["markets__single.json", "markets__unauth_single.json"])
def test_single_market_responses_parse(name: str) -> None:
    m = parse_market(parse_market_response(load(K / name)))
    assert m.id == "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"
    assert m.status is MarketStatus.OPEN
    assert m.outcome_label == "Varvara Lepchenko"
    assert "Lepchenko" in m.rules and m.extra["yes_ask_dollars"] == "0.5200"
    assert json.loads(m.extra["custom_strike"]) == {"tennis_competitor": "367dcce8-d796-4ed5-80ff-ddec69845a41"}


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("markets__status_open.json", MarketStatus.OPEN),
        ("markets__status_closed.json", MarketStatus.CLOSED),  # "determined"
        ("markets__status_settled.json", MarketStatus.SETTLED),  # "finalized"
        ("markets__page1.json", MarketStatus.UNOPENED),  # "initialized"
    ],
)
def test_status_vocabulary(fixture: str, status: MarketStatus) -> None:
    for raw in load(K / fixture)["markets"]:
        assert parse_market(raw).status is status


def test_status_inactive_is_paused_and_unknown_fails() -> None:
    assert parse_market({**SINGLE, "status": "inactive"}).status is MarketStatus.PAUSED
    with pytest.raises(DataError) as info:
        parse_market({**SINGLE, "status": "exploded"})
    assert info.value.field.endswith(".status")


def test_strike_fields_and_rules_reach_the_market() -> None:
    temps = load(K / "markets__high_temp.json")["markets"]
    raw = next(m for m in temps if m["ticker"] == "KXHIGHNY-26JUN15-T85")
    m = parse_market(raw)
    assert m.extra["strike_type"] == "greater" and m.extra["floor_strike"] == "85"
    assert m.outcome_label == "86° or above"
    assert "high temp" in m.title and m.rules.startswith(raw["rules_primary"].strip())
    assert m.extra["series_ticker"] == "KXHIGHNY"


def test_tick_structures() -> None:
    deci = next(m for m in OPEN_MARKETS if m["price_level_structure"] == "deci_cent")
    assert parse_market(deci).ticks.min_step == Decimal("0.001")
    assert parse_market(SINGLE).ticks.step_at(Decimal("0.5")) == Decimal("0.01")
    tapered = parse_ticks({"price_level_structure": "tapered_deci_cent", "price_ranges": None})
    assert tapered.step_at(Decimal("0.05")) == Decimal("0.001")
    assert tapered.step_at(Decimal("0.50")) == Decimal("0.01")
    assert tapered.step_at(Decimal("0.95")) == Decimal("0.001")
    assert tapered.is_valid(Decimal("0.055")) and not tapered.is_valid(Decimal("0.555"))
    ranges = parse_ticks(
        {
            "price_level_structure": "whatever_new",
            "price_ranges": [
                {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
                {"start": "0.0000", "end": "0.9000", "step": "0.0100"},
            ],
        }
    )
    assert [r.start for r in ranges.ranges] == [Decimal("0.0000"), Decimal("0.9000")]
    with pytest.raises(DataError, match="price_ranges"):
        parse_ticks({"price_level_structure": "unknown_structure"})


def test_fee_model_from_series_and_event_override() -> None:
    series = parse_series(
        loads_exact(
            b'{"ticker":"KXWCGAME","title":"World Cup","category":"Sports",'
            b'"fee_type":"quadratic_with_maker_fees","fee_multiplier":0.5}'
        )
    )
    assert series.fee_multiplier == Decimal("0.5")
    fm = fee_model_for(series)
    assert fm.maker_rate == Decimal("0.0175") and fm.multiplier == Decimal("0.5")
    assert "KXWCGAME" in fm.source
    event = KalshiEvent("KXWCGAME-X", "KXWCGAME", "t", "", True, fee_type_override="quadratic",
                        fee_multiplier_override=Decimal(0))
    over = fee_model_for(series, event)
    assert over.maker_rate == 0 and over.multiplier == 0 and "override" in over.source
    m = parse_market({**SINGLE, "event_ticker": "KXWCGAME-X"}, series=series, event=event)
    assert m.fee_model == over
    assert fee_model_for(None).source.startswith("default")
    # Real June 2026 fee-change log: every entry is a valid (type, multiplier) pair.
    for item in load(FIX / "paired" / "kalshi_fee_changes.json")["series_fee_change_arr"]:
        FeeModel.kalshi(item["fee_type"], Decimal(item["fee_multiplier"]))


def test_a_multiplier_override_without_a_type_override_never_lowers_the_fee() -> None:
    series = parse_series(loads_exact(b'{"ticker":"KXS","title":"S","category":"Sports",'
                                      b'"fee_type":"quadratic","fee_multiplier":1}'))
    raised = fee_model_for(series, KalshiEvent("KXS-1", "KXS", "t", "", True, fee_multiplier_override=Decimal(2)))
    assert raised.multiplier == Decimal(2)
    assert raised.fill_fee(Decimal(100), Decimal("0.5")) == Decimal("3.5")  # 0.07 x 2 x 100 x 0.25
    assert "fee_multiplier_override" in raised.source
    lowered = fee_model_for(series, KalshiEvent("KXS-1", "KXS", "t", "", True, fee_multiplier_override=Decimal(0)))
    assert lowered.multiplier == Decimal(1)  # not documented to apply alone: the series' higher fee


def test_series_with_bad_fee_fields_fails_by_name() -> None:
    with pytest.raises(DataError) as info:
        parse_series({"ticker": "X", "fee_type": "quadratic", "fee_multiplier": "NaN"})
    assert info.value.field == "series.fee_multiplier"
    for unknown in ("mystery", "flat", ""):  # flat: the Specific Trading Fees table, rates not in the API
        with pytest.raises(DataError) as info:
            parse_series({"ticker": "X", "fee_type": unknown, "fee_multiplier": 1})
        assert info.value.field == "fee_type", unknown


def test_recorded_events_parse() -> None:
    events, cursor = parse_events_page(load(FIX / "crossvenue" / "kalshi_nba_events.json"))
    assert len(events) == 27 and cursor is None
    assert all(e.series_ticker == "KXNBAGAME" and e.mutually_exclusive for e in events)
    assert events[0].title == "Houston at Sacramento" and events[0].fee_type_override is None
    nested = parse_event({"event_ticker": "E-1", "series_ticker": "E", "markets": [SINGLE]})
    assert len(nested.markets) == 1


# -- order books ------------------------------------------------------------------------------


def test_recorded_orderbook_derives_asks() -> None:
    book = parse_orderbook(load(K / "orderbook__base.json"), "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP")
    assert book.yes.bids == (PriceLevel(Decimal("0.4700"), Decimal("3.00")),)
    assert book.yes.asks == (PriceLevel(Decimal("0.5200"), Decimal("3.00")),)  # 1 − best NO bid
    assert book.no.bids == (PriceLevel(Decimal("0.4800"), Decimal("3.00")),)
    assert book.no.asks == (PriceLevel(Decimal("0.5300"), Decimal("3.00")),)
    # The derived asks agree with the market's own top of book recorded the same minute.
    assert book.yes.asks[0].price == Decimal(SINGLE["yes_ask_dollars"])
    assert book.no.asks[0].price == Decimal(SINGLE["no_ask_dollars"])


def test_recorded_ascending_prod_book_is_sorted_best_first() -> None:
    book = parse_orderbook(load(FIX / "paired" / "kalshi_orderbook_nonempty.json"), "T")
    assert [lv.price for lv in book.yes.bids] == [Decimal("0.24"), Decimal("0.23"), Decimal("0.22")]
    assert book.yes.best_bid == PriceLevel(Decimal("0.2400"), Decimal("100000.00"))
    assert book.yes.best_ask == PriceLevel(Decimal("0.2500"), Decimal("40.00"))  # 1 − 0.75
    assert [lv.price for lv in book.yes.asks] == [Decimal("0.25"), Decimal("0.26"), Decimal("0.27")]
    assert book.no.best_ask == PriceLevel(Decimal("0.7600"), Decimal("100000.00"))


@pytest.mark.parametrize(
    "body",
    [
        {"orderbook_fp": {"yes_dollars": None, "no_dollars": None}},
        {"orderbook_fp": {}},
        {"orderbook_fp": {"yes_dollars": [], "no_dollars": []}},
        {"orderbook_fp": None},
    ],
)
def test_empty_sides(body: dict[str, Any]) -> None:
    book = parse_orderbook(body, "T")
    assert book.yes.bids == book.yes.asks == book.no.bids == book.no.asks == ()


def test_legacy_orderbook_shape_is_refused() -> None:
    with pytest.raises(DataError, match="legacy"):
        parse_orderbook({"orderbook": {"yes": [[47, 3]], "no": None}}, "T")


def test_batch_orderbooks_collect_per_ticker_errors() -> None:
    good = load(K / "orderbook__base.json")["orderbook_fp"]
    data = {"orderbooks": [
        {"orderbook_fp": good, "ticker": "A"},
        {"orderbook_fp": {"yes_dollars": [["0.50", "-1.00"]], "no_dollars": []}, "ticker": "B"},
    ]}
    books, errors = parse_orderbooks_batch(data)
    assert set(books) == {"A"} and set(errors) == {"B"}
    assert "yes_dollars[0].size" in errors["B"].field


# -- exchange status and errors ---------------------------------------------------------------


def test_exchange_status() -> None:
    status = parse_exchange_status(load(K / "exchange__status.json"))
    assert status.can_trade
    with pytest.raises(DataError, match="trading_active"):
        parse_exchange_status({"exchange_active": True, "trading_active": "yes"})


@pytest.mark.parametrize(
    ("fixture", "shape", "code"),
    [
        ("auth__bad_signature.json", "nested", "authentication_error"),
        ("auth__missing_signature_header.json", "nested", "signature_is_missing_from_headers"),
        ("auth__skew_minus30s.json", "nested", "header_timestamp_expired"),
        ("orders__invalid_price_structure.json", "nested", "invalid_price"),
        ("orders__numeric_field_types.json", "flat", "bad_request"),
        ("markets__limit_over_max.json", "bare", ""),
        ("cleanup__leftover_0.json", "nested", "not_found"),
    ],
)
def test_three_error_shapes(fixture: str, shape: str, code: str) -> None:
    raw = (K / fixture).read_bytes()
    err = parse_error_body(raw)
    assert (err.shape, err.code) == (shape, code)
    assert err.message
    c, text = describe_error(400, raw)
    assert c == code and text


def test_error_codes_match_by_prefix_and_odd_bodies() -> None:
    err = parse_error_body(b'{"error":{"code":"user_not_found:_1b2c","message":"user not found"}}')
    assert err.is_code("user_not_found") and err.base_code == "user_not_found"
    assert not err.is_code("user_not")
    assert base_code("insufficient_balance") == "insufficient_balance"
    assert parse_error_body(b'{"error": "too many requests"}').message == "too many requests"
    assert parse_error_body(b"<html>502 Bad Gateway</html>").shape == "text"
    assert parse_error_body(b"").shape == "empty"
    code, text = describe_error(401, (K / "auth__bad_signature.json").read_bytes())
    assert code == "authentication_error" and "INCORRECT_API_KEY_SIGNATURE" in text


# -- fuzzing ----------------------------------------------------------------------------------

BAD_PRICE = st.sampled_from(["NaN", "Infinity", "-0.5000", "1.5000", "abc", "", "1e400", 0.5, [], {}, True])
BAD_SIZE = st.sampled_from(["NaN", "abc", "1e400", "", 2.5, [], {"x": 1}, False, "-Infinity"])
BAD_COUNT = st.one_of(BAD_SIZE, st.just("-1.00"))
BAD_STRIKE = st.sampled_from(["NaN", "abc", "1e400", 85.5, [], {}, True])
BAD_TIME = st.sampled_from(["yesterday", 1781159348, "2026-13-45T00:00:00Z", "2026-06-11T06:10:00", [], {}, True])
BAD_TEXT = st.sampled_from([5, [], {}, True, Decimal("1.5")])

PRICE_FIELDS = ["yes_bid_dollars", "yes_ask_dollars", "no_bid_dollars", "no_ask_dollars", "last_price_dollars"]
COUNT_FIELDS = ["volume_fp", "volume_24h_fp", "open_interest_fp"]
SIZE_FIELDS = ["yes_bid_size_fp", "yes_ask_size_fp"]  # may be negative in real captures
REQUIRED = ["ticker", "event_ticker", "status", "market_type", "close_time"]

MUTATIONS: list[tuple[str, st.SearchStrategy[Any]]] = (
    [(f, BAD_PRICE) for f in PRICE_FIELDS]
    + [(f, BAD_COUNT) for f in COUNT_FIELDS]
    + [(f, BAD_SIZE) for f in SIZE_FIELDS]
    + [(f, BAD_STRIKE) for f in ("floor_strike", "cap_strike")]
    + [(f, BAD_TIME) for f in ("close_time", "open_time", "expected_expiration_time")]
    + [(f, BAD_TEXT) for f in ("ticker", "event_ticker", "status", "market_type", "title", "rules_primary")]
    + [("status", st.sampled_from(["", "exploded", "ACTIVE"]))]
    + [("market_type", st.sampled_from(["", "combo"]))]
    + [("notional_value_dollars", st.sampled_from(["2.0000", "NaN", "0.0100", []]))]
    + [("price_ranges", st.sampled_from([
        [{"start": "0.5", "end": "0.2", "step": "0.01"}],
        [{"start": "0", "end": "1", "step": "0"}],
        [{"start": "NaN", "end": "1", "step": "0.01"}],
        [{"start": "0", "end": "1"}],
        [5],
        "linear_cent",
    ]))]
    + [("custom_strike", st.sampled_from([5, [], True]))]
    + [("fractional_trading_enabled", st.sampled_from(["yes", 1, []]))]
)


@st.composite
def bad_market(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    base = draw(st.sampled_from([*OPEN_MARKETS[:40], SINGLE]))
    key, strategy = draw(st.sampled_from(MUTATIONS))
    value = draw(strategy)
    m = dict(base)
    m[key] = value
    return m, key


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad_market())
def test_fuzzed_market_field_gives_data_error_naming_it(case: tuple[dict[str, Any], str]) -> None:
    market, key = case
    with pytest.raises(DataError) as info:
        parse_market(market)
    assert key in info.value.field, (key, info.value.field, info.value.problem)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([*OPEN_MARKETS[:40], SINGLE]), st.sampled_from(REQUIRED))
def test_missing_required_field_gives_data_error(base: dict[str, Any], key: str) -> None:
    m = dict(base)
    del m[key]
    with pytest.raises(DataError) as info:
        parse_market(m)
    assert key in info.value.field


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(OPEN_MARKETS),
    st.sampled_from([*PRICE_FIELDS, *COUNT_FIELDS, *SIZE_FIELDS, "floor_strike", "open_time"]),
)
def test_missing_optional_field_is_absent_not_zero(base: dict[str, Any], key: str) -> None:
    m = dict(base)
    m.pop(key, None)
    parsed = parse_market(m)
    assert key not in parsed.extra  # absent stays absent: never a silent "0"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.text(max_size=8)
    | st.sampled_from(["NaN", "0.5", "-1", "1e999", "0.4700", "3.00"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_arbitrary_json_never_crashes_the_parsers(value: Any) -> None:
    for fn in (
        lambda v: parse_market(v),
        lambda v: parse_orderbook(v, "T"),
        lambda v: parse_markets_page(v),
        lambda v: parse_exchange_status(v),
        lambda v: parse_series(v),
        lambda v: parse_event(v),
        lambda v: parse_orderbooks_batch(v),
    ):
        try:
            fn(value)
        except DataError:
            pass


LEVEL = st.tuples(st.integers(1, 99), st.integers(0, 100000)).map(
    lambda t: [f"{t[0] / 100:.4f}", f"{t[1] / 100:.2f}"]
)
BAD_LEVEL = st.sampled_from([
    ["NaN", "1.00"], ["0.5000", "-1.00"], ["1.5000", "1.00"], ["0.0000", "1.00"], ["1.0000", "1.00"],
    ["0.5000"], "0.5000", ["0.5000", "Infinity"], [0.5, "1.00"], ["0.5000", "1e400"], ["abc", "1.00"],
    ["0.5000", "1.00", "x"], None,
])


def _side(top_cents: int) -> st.SearchStrategy[list[list[str]]]:
    """One side of a Kalshi book as the venue sends it: each price once, none above ``top_cents``."""
    level = st.tuples(st.integers(1, top_cents), st.integers(0, 100000)).map(
        lambda t: [f"{t[0] / 100:.4f}", f"{t[1] / 100:.2f}"])
    return st.lists(level, max_size=8, unique_by=lambda lv: lv[0])


@settings(max_examples=200, deadline=None)
@given(_side(49), _side(50))  # YES + NO bids below $1: a book the venue holds is never crossed
def test_valid_books_keep_every_contract_and_sort(yes: list[list[str]], no: list[list[str]]) -> None:
    book = parse_orderbook({"orderbook_fp": {"yes_dollars": yes, "no_dollars": no}}, "T")
    for side in (book.yes, book.no):
        assert list(side.bids) == sorted(side.bids, key=lambda lv: lv.price, reverse=True)
        assert list(side.asks) == sorted(side.asks, key=lambda lv: lv.price)
    assert sum(lv.size for lv in book.yes.bids) == sum(Decimal(s) for _, s in yes)
    assert sum(lv.size for lv in book.yes.asks) == sum(Decimal(s) for _, s in no)
    assert {lv.price for lv in book.yes.asks} == {1 - Decimal(p) for p, s in no if Decimal(s) > 0}
    assert {lv.price for lv in book.no.asks} == {1 - Decimal(p) for p, s in yes if Decimal(s) > 0}


@pytest.mark.parametrize(("yes", "no", "problem"), [
    # Summed, a repeated level doubled the depth it shows (review: a hand-edited recording).
    ([["0.4000", "10.00"], ["0.4000", "10.00"]], [], "yes_dollars: price 0.4000 listed at two levels"),
    ([], [["0.3000", "5.00"], ["0.2900", "1.00"], ["0.30", "5.00"]], "no_dollars: price 0.30 listed at two levels"),
    # A YES bid and a NO bid summing to $1 or more would have matched at the venue.
    ([["0.6000", "10.00"]], [["0.4000", "10.00"]], "crossed: best YES bid 0.6000 + best NO bid 0.4000"),
    ([["0.6000", "10.00"], ["0.3000", "1.00"]], [["0.2000", "1.00"], ["0.5000", "1.00"]], "crossed"),
])
def test_a_book_the_venue_cannot_hold_is_refused(yes: list[list[str]], no: list[list[str]], problem: str) -> None:
    with pytest.raises(DataError) as info:
        parse_orderbook({"orderbook_fp": {"yes_dollars": yes, "no_dollars": no}}, "T")
    assert problem in str(info.value)


def test_a_repeated_price_without_size_and_a_book_one_cent_from_crossing_are_fine() -> None:
    book = parse_orderbook({"orderbook_fp": {"yes_dollars": [["0.4000", "0.00"], ["0.4000", "3.00"]],
                                             "no_dollars": [["0.5900", "2.00"]]}}, "T")
    assert book.yes.bids == (PriceLevel(Decimal("0.4"), Decimal(3)),)
    assert book.yes.asks == (PriceLevel(Decimal("0.41"), Decimal(2)),)


@settings(max_examples=200, deadline=None)
@given(st.lists(LEVEL, max_size=5), BAD_LEVEL, st.integers(0, 5), st.sampled_from(["yes_dollars", "no_dollars"]))
def test_bad_book_level_names_the_field(levels: list[Any], bad: Any, pos: int, side: str) -> None:
    levels = copy.deepcopy(levels)
    pos = min(pos, len(levels))
    levels.insert(pos, bad)
    body = {"orderbook_fp": {side: levels}}
    with pytest.raises(DataError) as info:
        parse_orderbook(body, "T")
    assert f"{side}[{pos}]" in info.value.field


def test_series_object_shape() -> None:
    s = parse_series({"ticker": "KXHIGHNY", "fee_type": "quadratic", "fee_multiplier": 1, "category": "Climate"})
    assert s == KalshiSeries("KXHIGHNY", "", "Climate", "quadratic", Decimal(1))


# -- found by the venue-client mutation audit -------------------------------------------------------


def test_a_market_without_fractional_trading_trades_whole_contracts() -> None:
    """``fractional_trading_enabled: false``: counts are whole contracts, so the market's minimum and
    step are 1 (an order of 0.5 would be refused by the venue); absent or true, hundredths."""
    whole = parse_market({**SINGLE, "fractional_trading_enabled": False})
    assert (whole.min_size, whole.size_step) == (Decimal(1), Decimal(1))
    fractional = parse_market({**SINGLE, "fractional_trading_enabled": True})
    assert (fractional.min_size, fractional.size_step) == (Decimal("0.01"), Decimal("0.01"))


def test_a_price_range_whose_step_is_wider_than_the_range_is_refused() -> None:
    """A step wider than its own range (0.90..1.00 by 0.50) is no grid: refused, not priced on."""
    with pytest.raises(DataError, match=r"price_ranges\[0\]\.step"):
        parse_ticks({"price_ranges": [{"start": "0.9000", "end": "1.0000", "step": "0.5000"},
                                      {"start": "0.0000", "end": "0.9000", "step": "0.0100"}]})
