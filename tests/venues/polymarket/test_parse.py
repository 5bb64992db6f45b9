"""Polymarket parsing against the recorded fixtures, the hand-written fee shapes, and fuzzed payloads."""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orion_cli.core.errors import DataError
from orion_cli.core.models import MarketStatus
from orion_cli.core.money import loads_exact
from orion_cli.venues.polymarket.parse import (
    ASSUMED_FEE_RATE,
    book_hash,
    clob_terms,
    combine_books,
    mirror_gap,
    parse_book,
    parse_books,
    parse_clob_market_info,
    parse_gamma_event,
    parse_gamma_events,
    parse_gamma_market,
    parse_market_outcome,
)

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures"
PM = FIXTURES / "polymarket"

# Real captures only (PROVENANCE.md): the fee_* files are HAND-WRITTEN and tested separately.
REAL_MARKETS = [
    "polymarket/gamma_market.json",
    "polymarket/gamma_market_closed_binary_accepting_false.json",
    "polymarket/gamma_market_closed_binary_accepting_true.json",
    "polymarket/gamma_market_closed_nonbinary_legacy.json",
    "polymarket/gamma_market_closed_zero_zero_legacy.json",
    "polymarket/gamma_market_crypto_twap.json",
    "polymarket/gamma_market_live.json",
    "polymarket/gamma_market_past_end_date_open.json",
    "polymarket/gamma_market_sports_market_map_handicap.json",
    "polymarket/gamma_market_sports_market_money_line.json",
]
REAL_EVENTS = [
    "polymarket/gamma_event.json",
    "polymarket/gamma_event_sports_composite_game_id.json",
    "crossvenue/polymarket_nba_events.json",
]
REAL_BOOKS = ["paired/poly_book.json", "polymarket/clob_book_response_empty_ask.json"]


def load(rel: str) -> Any:
    path = FIXTURES / rel
    if not path.is_file():
        pytest.skip(f"fixture {rel} not found")
    return loads_exact(path.read_bytes())


def tokens(raw: dict[str, Any]) -> list[str]:
    return [str(t) for t in json.loads(raw["clobTokenIds"])]


# --------------------------------------------------------------------------- real Gamma markets


@pytest.mark.parametrize("rel", REAL_MARKETS)
def test_every_recorded_market_parses(rel: str) -> None:
    raw = load(rel)
    m = parse_gamma_market(raw)
    assert m.id == raw["conditionId"]
    assert {m.yes_token, m.no_token} == set(tokens(raw))
    assert m.title == raw["question"]
    assert m.ticks.min_step > 0
    if raw.get("closed"):
        assert m.status in (MarketStatus.CLOSED, MarketStatus.SETTLED)


def test_paired_gamma_markets_parse() -> None:
    rows = load("paired/poly_gamma.json")
    markets = [parse_gamma_market(r) for r in rows]
    assert [m.id for m in markets] == [r["conditionId"] for r in rows]
    for m in markets:
        assert m.status is MarketStatus.OPEN
        assert m.fee_model.kind == "polymarket" and m.fee_model.taker_rate == Decimal("0.05")


def test_live_neg_risk_market_in_detail() -> None:
    raw = load("polymarket/gamma_market_live.json")
    m = parse_gamma_market(raw)
    yes, no = tokens(raw)
    assert (m.yes_token, m.no_token) == (yes, no)
    assert m.status is MarketStatus.OPEN
    assert m.neg_risk and m.neg_risk_augmented and not m.is_other
    assert m.outcome_label == "Gavin Newsom"
    assert m.event_id == "30829" and m.event_title == "Democratic Presidential Nominee 2028"
    assert m.category == "politics"
    assert m.fee_model.kind == "polymarket" and m.fee_model.taker_rate == Decimal("0.04")
    assert m.fee_model.fill_fee(Decimal(100), Decimal("0.5")) == Decimal("1.00")
    assert m.ticks.min_step == Decimal("0.001") and m.min_size == Decimal(5)
    assert m.close_time == datetime(2028, 11, 7, tzinfo=UTC)
    assert m.rules.startswith("This market will resolve")
    assert m.extra["protocol"] == "v1" and m.extra["display_yes_price"] == "0.2325"


def test_sports_moneyline_first_outcome_is_yes() -> None:
    raw = load("polymarket/gamma_market_sports_market_money_line.json")
    m = parse_gamma_market(raw)
    assert m.outcome_label == "FaZe" and m.extra["no_label"] == "illwill"
    assert m.yes_token == tokens(raw)[0]
    assert m.status is MarketStatus.SETTLED  # closed, UMA resolved
    assert m.category == "sports" and m.fee_model.taker_rate == Decimal("0.03")


def test_closed_without_resolution_is_closed_not_settled() -> None:
    m = parse_gamma_market(load("polymarket/gamma_market_closed_binary_accepting_true.json"))
    assert m.status is MarketStatus.CLOSED


def test_legacy_scalar_market() -> None:
    m = parse_gamma_market(load("polymarket/gamma_market_closed_nonbinary_legacy.json"))
    assert m.market_type == "scalar" and m.outcome_label == "Long" and m.status is MarketStatus.CLOSED


def test_fees_enabled_without_schedule_assumes_the_highest_published_rate() -> None:
    raw = load("polymarket/gamma_market.json")  # real: feesEnabled true, feeType crypto_fees, no schedule
    assert raw["feesEnabled"] is True and "feeSchedule" not in raw
    m = parse_gamma_market(raw)
    assert m.fee_model.taker_rate == ASSUMED_FEE_RATE and m.fee_model.exponent == 1
    assert m.extra["fee_assumed"] == "true" and "assumed" in m.fee_model.source


def test_schedule_without_fees_enabled_flag_is_used() -> None:
    m = parse_gamma_market(load("polymarket/gamma_market_crypto_twap.json"))
    assert m.fee_model.taker_rate == Decimal("0.07") and "fee_assumed" not in m.extra


@pytest.mark.parametrize("rel", REAL_EVENTS)
def test_every_recorded_event_parses(rel: str) -> None:
    events = load(rel)
    skipped: list[DataError] = []
    markets = parse_gamma_events(events, skipped=skipped)
    assert skipped == []
    assert len(markets) == sum(len(e["markets"]) for e in events)
    for ev in events:
        for raw in ev["markets"]:
            m = parse_gamma_market(raw, event=ev)
            assert m.event_id == ev["id"]
            assert {m.yes_token, m.no_token} == set(tokens(raw))


def test_search_response_events_parse() -> None:
    body = load("polymarket/search_response.json")
    markets = parse_gamma_events(body)
    assert markets and all(m.id.startswith("0x") for m in markets)


def test_team_and_over_under_outcomes_map_first_to_yes() -> None:
    events = load("crossvenue/polymarket_nba_events.json")
    seen = set()
    for ev in events:
        for raw in ev["markets"]:
            labels = json.loads(raw["outcomes"])
            m = parse_gamma_market(raw, event=ev)
            if labels == ["Yes", "No"]:
                assert m.yes_token == tokens(raw)[0]
            else:
                assert m.outcome_label == labels[0] and m.extra["no_label"] == labels[1]
                assert m.yes_token == tokens(raw)[0]
                seen.add("Over" if labels[0] == "Over" else "team")
    assert seen == {"Over", "team"}


def test_composite_sports_event_v1_and_team_names() -> None:
    ev = load("polymarket/gamma_event_sports_composite_game_id.json")[0]
    markets = parse_gamma_event(ev)
    assert markets[0].outcome_label == "St. Louis Shock"
    assert all(m.extra["protocol"] == "v1" and m.category == "sports" for m in markets)
    assert {m.ticks.min_step for m in markets} == {Decimal("0.01"), Decimal("0.001")}


def test_yes_no_mapped_by_label_not_index() -> None:
    raw = load("polymarket/gamma_market_live.json")
    yes, no = tokens(raw)
    raw["outcomes"] = '["No", "Yes"]'
    raw["clobTokenIds"] = json.dumps([no, yes])
    raw["outcomePrices"] = '["0.7675", "0.2325"]'
    m = parse_gamma_market(raw)
    assert (m.yes_token, m.no_token) == (yes, no)
    assert m.extra["display_yes_price"] == "0.2325"


def test_protocol_v2_uses_position_ids_array() -> None:
    raw = load("polymarket/gamma_market_live.json")
    raw["version"] = "v2"
    raw["positionIds"] = ["111", "222"]  # a real array, not a JSON-encoded string
    m = parse_gamma_market(raw)
    assert (m.yes_token, m.no_token) == ("111", "222") and m.extra["protocol"] == "v2"
    del raw["positionIds"]
    with pytest.raises(DataError) as exc:
        parse_gamma_market(raw)
    assert exc.value.field == "positionIds"
    raw["version"] = "v9"
    with pytest.raises(DataError) as exc:
        parse_gamma_market(raw)
    assert exc.value.field == "version"


# --------------------------------------------------------------------------- status, other, ticks


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, MarketStatus.OPEN),
        ({"enableOrderBook": False}, MarketStatus.PAUSED),
        ({"acceptingOrders": False}, MarketStatus.PAUSED),
        ({"active": False}, MarketStatus.PAUSED),
        ({"archived": True}, MarketStatus.CLOSED),
        ({"closed": True}, MarketStatus.CLOSED),
        ({"closed": True, "umaResolutionStatus": "resolved"}, MarketStatus.SETTLED),
        ({"closed": True, "umaResolutionStatuses": '["proposed", "resolved"]'}, MarketStatus.SETTLED),
    ],
)
def test_status_mapping(changes: dict[str, Any], status: MarketStatus) -> None:
    raw = load("polymarket/gamma_market_live.json")
    raw.update(changes)
    m = parse_gamma_market(raw)
    assert m.status is status
    if status is MarketStatus.PAUSED:
        assert "not_tradable" in m.extra


def test_missing_order_book_flag_fails_closed() -> None:
    raw = load("polymarket/gamma_market_live.json")
    del raw["enableOrderBook"]
    assert parse_gamma_market(raw).status is MarketStatus.PAUSED


@pytest.mark.parametrize(
    ("changes", "other"),
    [
        ({"negRiskOther": True}, True),
        ({"groupItemTitle": "Other"}, True),
        ({"groupItemTitle": "Person C"}, True),
        ({"groupItemTitle": "Candidate 12"}, True),
        ({"groupItemTitle": "Gavin Newsom"}, False),
        ({"groupItemTitle": "Other", "negRisk": False, "events": []}, False),
    ],
)
def test_other_and_placeholder_outcomes(changes: dict[str, Any], other: bool) -> None:
    raw = load("polymarket/gamma_market_live.json")
    raw.update(changes)
    assert parse_gamma_market(raw).is_other is other


@pytest.mark.parametrize("tick", ["0.1", "0.01", "0.001", "0.0001", "0.005", "0.0025"])
def test_all_ticks(tick: str) -> None:
    raw = load("polymarket/gamma_market_live.json")
    raw["orderPriceMinTickSize"] = Decimal(tick)
    ticks = parse_gamma_market(raw).ticks
    t = Decimal(tick)
    assert ticks.min_step == t
    assert ticks.is_valid(Decimal("0.5") + t) and ticks.is_valid(t) and not ticks.is_valid(Decimal(0))
    assert not ticks.is_valid(Decimal("0.5") + t / 2)


@pytest.mark.parametrize("tick", [Decimal(0), Decimal(1), Decimal("0.003"), Decimal("-0.01"), "NaN", "x", True])
def test_bad_ticks_are_named(tick: Any) -> None:
    raw = load("polymarket/gamma_market_live.json")
    raw["orderPriceMinTickSize"] = tick
    with pytest.raises(DataError) as exc:
        parse_gamma_market(raw)
    assert exc.value.field == "orderPriceMinTickSize"


# --------------------------------------------------------------------------- fee shapes (hand-written)


@pytest.mark.parametrize(
    ("name", "kind", "rate", "category"),
    [
        ("free", "free", Decimal(0), ""),
        ("crypto", "polymarket", Decimal("0.07"), "crypto"),
        ("politics", "polymarket", Decimal("0.04"), "politics"),
        ("sports", "polymarket", Decimal("0.05"), "sports"),
        ("zero_rate", "polymarket", Decimal(0), "crypto"),
        ("unclassifiable", "polymarket", Decimal(0), ""),
        ("conflict", "polymarket", Decimal("0.07"), "crypto"),  # explicit category beats tags
        ("priority", "polymarket", Decimal("0.04"), "politics"),  # feeType beats tags
    ],
)
def test_fee_fixtures_give_documented_models(name: str, kind: str, rate: Decimal, category: str) -> None:
    m = parse_gamma_market(load(f"polymarket/gamma_market_fee_{name}.json"))
    assert m.fee_model.kind == kind and m.fee_model.taker_rate == rate and m.fee_model.maker_rate == 0
    assert m.category == category
    expected = Decimal(0) if rate == 0 else (Decimal(10) * rate * Decimal("0.25")).quantize(Decimal("0.00001"))
    assert m.fee_model.fill_fee(Decimal(10), Decimal("0.5")) == expected


def test_maker_fees_when_not_taker_only() -> None:
    raw = load("polymarket/gamma_market_fee_politics.json")
    raw["feeSchedule"]["takerOnly"] = False
    fm = parse_gamma_market(raw).fee_model
    assert fm.maker_rate == Decimal("0.04")
    assert fm.fill_fee(Decimal(100), Decimal("0.5"), taker=False) == Decimal("1.00")


@settings(max_examples=60, deadline=None)
@given(
    price=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.999"), places=3),
    size=st.decimals(min_value=Decimal(1), max_value=Decimal(10000), places=2),
    rate=st.sampled_from([Decimal("0.03"), Decimal("0.04"), Decimal("0.05"), Decimal("0.07"), Decimal("0.25")]),
    exponent=st.integers(1, 3),
)
def test_assumed_fee_is_an_upper_bound(price: Decimal, size: Decimal, rate: Decimal, exponent: int) -> None:
    raw = load("polymarket/gamma_market_fee_politics.json")
    raw["feeSchedule"] = {"rate": rate, "exponent": exponent, "takerOnly": True}
    published = parse_gamma_market(raw).fee_model
    del raw["feeSchedule"]
    assumed = parse_gamma_market(raw).fee_model
    if rate <= ASSUMED_FEE_RATE or exponent > 1:
        assert assumed.fill_fee(size, price) >= published.fill_fee(size, price)


def test_clob_market_info() -> None:
    info = parse_clob_market_info(
        loads_exact(b'{"t":[{"t":"1","o":"Yes"},{"t":"2","o":"No"}],"mts":0.005,"nr":true,"fd":{"r":0.04,"e":1}}'),
        "0x" + "ab" * 32,
    )
    assert info.tokens == ("1", "2") and info.tick == Decimal("0.005") and info.neg_risk is True
    assert info.fee_model is not None and info.fee_model.taker_rate == Decimal("0.04")
    with pytest.raises(DataError) as exc:
        parse_clob_market_info(loads_exact(b'{"fd":{"r":"NaN"}}'), "x")
    assert exc.value.field == "fd.r"


# --------------------------------------------------------------------------- books


@pytest.mark.parametrize("rel", REAL_BOOKS)
def test_recorded_books_parse_and_hash_verifies(rel: str) -> None:
    raw = load(rel)
    book = parse_book(raw, verify_hash=True)
    assert book.hash == raw["hash"] == book_hash(raw)
    assert book.asset_id == raw["asset_id"] and book.market == raw["market"]
    bids, asks = book.side.bids, book.side.asks
    assert all(a.price > b.price for a, b in itertools.pairwise(bids))  # best (highest) first
    assert all(a.price < b.price for a, b in itertools.pairwise(asks))  # best (lowest) first


def test_best_is_last_on_the_wire() -> None:
    raw = load("paired/poly_book.json")
    wire_bids = [Decimal(lv["price"]) for lv in raw["bids"]]
    wire_asks = [Decimal(lv["price"]) for lv in raw["asks"]]
    assert wire_bids == sorted(wire_bids) and wire_asks == sorted(wire_asks, reverse=True)
    book = parse_book(raw)
    assert book.side.best_bid is not None and book.side.best_ask is not None
    assert book.side.best_bid.price == Decimal(raw["bids"][-1]["price"]) == Decimal("0.17")
    assert book.side.best_ask.price == Decimal(raw["asks"][-1]["price"]) == Decimal("0.21")
    assert book.side.best_ask.size == Decimal("15")
    assert book.timestamp == datetime.fromtimestamp(1781178206.890, tz=UTC)
    assert book.tick_size == Decimal("0.01") and book.min_order_size == Decimal(5)
    assert book.last_trade_price == Decimal("0.200") and book.neg_risk is False


def test_empty_side_and_blank_last_trade_price() -> None:
    book = parse_book(load("polymarket/clob_book_response_empty_ask.json"))
    assert book.side.best_ask is None and book.last_trade_price is None
    assert book.side.best_bid is not None and book.side.best_bid.price == Decimal("0.002")


@pytest.mark.parametrize("side", ["bids", "asks"])
def test_a_book_without_a_side_is_refused_not_read_as_empty(side: str) -> None:
    """The CLOB sends an empty side as [] (the recorded book above): a side missing altogether is no book read.
    Found by a fault review: `{"asset_id": …}` alone planned as a book with no depth, INVALID_ORDER "size 0"."""
    raw = load("polymarket/clob_book_response_empty_ask.json")
    del raw[side]
    with pytest.raises(DataError) as exc:
        parse_book(raw)
    assert exc.value.field == f"book.{side}"


def test_tampered_book_fails_hash_check() -> None:
    raw = load("paired/poly_book.json")
    raw["asks"][-1]["size"] = "16"
    parse_book(raw)  # fine without verification
    with pytest.raises(DataError) as exc:
        parse_book(raw, verify_hash=True)
    assert exc.value.field == "book.hash"


def _market_for_book() -> Any:
    raw = load("polymarket/gamma_market_live.json")
    yes = load("paired/poly_book.json")
    raw["conditionId"] = yes["market"]
    raw["clobTokenIds"] = json.dumps([yes["asset_id"], "12345"])
    return parse_gamma_market(raw), yes


def test_combine_books_uses_each_tokens_own_book() -> None:
    market, yes_raw = _market_for_book()
    no_raw = copy.deepcopy(yes_raw)
    no_raw["asset_id"] = "12345"
    no_raw["bids"] = [{"price": "0.7", "size": "10"}, {"price": "0.78", "size": "3"}]
    no_raw["asks"] = [{"price": "0.9", "size": "1"}, {"price": "0.84", "size": "2"}]
    at = datetime(2026, 6, 11, tzinfo=UTC)
    ob = combine_books(market, parse_book(yes_raw), parse_book(no_raw), at)
    assert ob.market_id == market.id and ob.fetched_at == at
    assert ob.yes.best_ask is not None and ob.yes.best_ask.price == Decimal("0.21")
    assert ob.no.best_bid is not None and ob.no.best_bid.price == Decimal("0.78")
    assert ob.no.best_ask is not None and ob.no.best_ask.price == Decimal("0.84")
    assert mirror_gap(ob) == Decimal("0.01")  # 0.21 vs 1 − 0.78: not mirrors, and we do not pretend
    only_yes = combine_books(market, parse_book(yes_raw), None, at)
    assert only_yes.no.bids == () and only_yes.no.asks == ()
    with pytest.raises(DataError) as exc:
        combine_books(market, parse_book(no_raw), None, at)  # NO token's book offered as YES
    assert exc.value.field == "book.yes.asset_id"


def _two_books(**no_changes: Any) -> tuple[Any, Any, Any]:
    """The live neg-risk market (Gamma: tick 0.001, min 5, negRisk true) and its YES/NO books, from the
    recorded ``poly_book.json`` (tick 0.01, min 5, neg_risk false), the NO book altered by ``no_changes``."""
    market, yes_raw = _market_for_book()
    no_raw = copy.deepcopy(yes_raw)
    no_raw["asset_id"] = "12345"
    no_raw.update(no_changes)
    return market, parse_book(yes_raw), parse_book(no_raw)


def test_the_clob_books_order_terms_override_gammas() -> None:
    """Found in review: the tick, minimum and neg-risk flag came from Gamma only, which can lag the CLOB;
    an order priced on Gamma's 0.001 tick, or signed for the neg-risk exchange the book says the market
    is not on, is refused. The books' terms win; Gamma's neg_risk stays for basket grouping."""
    market, yes, no = _two_books(min_order_size="15")
    yes = replace(yes, min_order_size=Decimal(15))
    assert market.ticks.min_step == Decimal("0.001") and market.neg_risk and market.signs_neg_risk
    termed = clob_terms(market, yes, no)
    assert termed.ticks.min_step == Decimal("0.01") and termed.ticks.is_valid(Decimal("0.21"))
    assert not termed.ticks.is_valid(Decimal("0.215"))
    assert termed.min_size == Decimal(15)  # the books' minimum, not Gamma's 5
    assert termed.clob_neg_risk is False and termed.signs_neg_risk is False
    assert termed.neg_risk is True  # Gamma's, for which markets form a basket
    # one book read: its terms
    only_yes = clob_terms(market, yes, None)
    assert only_yes.ticks.min_step == Decimal("0.01") and only_yes.min_size == Decimal(15)
    assert only_yes.signs_neg_risk is False


def test_a_book_that_states_no_terms_leaves_gammas() -> None:
    market, yes_raw = _market_for_book()
    for key in ("tick_size", "min_order_size", "neg_risk"):
        yes_raw.pop(key)
    termed = clob_terms(market, parse_book(yes_raw), None)
    assert termed == market and termed.clob_neg_risk is None and termed.signs_neg_risk is True
    assert clob_terms(market, None, None) == market


def test_a_book_saying_neg_risk_is_signed_for_it_whatever_gamma_says() -> None:
    market, yes, no = _two_books()
    gamma_plain = replace(market, neg_risk=False)
    flagged = [replace(b, neg_risk=True) for b in (yes, no)]
    termed = clob_terms(gamma_plain, *flagged)
    assert termed.signs_neg_risk is True and termed.neg_risk is False


@pytest.mark.parametrize(("change", "field"), [
    ({"tick_size": "0.001"}, "book.tick_size"),
    ({"neg_risk": True}, "book.neg_risk"),
    # The larger minimum would leave an unwind's remainder between the two held as "unsellable".
    ({"min_order_size": "15"}, "book.min_order_size"),
])
def test_yes_and_no_books_that_disagree_on_the_terms_are_refused(change: dict[str, Any], field: str) -> None:
    """Which tick or exchange the venue would hold an order to cannot be told: no guess, no quote."""
    market, yes, no = _two_books(**change)
    with pytest.raises(DataError) as exc:
        clob_terms(market, yes, no)
    assert exc.value.field == field


def test_a_snapshot_market_carries_its_books_terms_or_no_book_when_they_disagree() -> None:
    from orion_cli.core.models import Venue
    from orion_cli.venues.snapshot import PolymarketRaw, parse_polymarket

    gamma = load("polymarket/gamma_market_live.json")
    yes_raw = load("paired/poly_book.json")
    gamma["conditionId"] = yes_raw["market"]
    gamma["clobTokenIds"] = json.dumps([yes_raw["asset_id"], "12345"])
    no_raw = copy.deepcopy(yes_raw)
    no_raw["asset_id"] = "12345"
    at = datetime(2026, 6, 11, tzinfo=UTC)
    (m,), books, errors = parse_polymarket(PolymarketRaw(markets=[gamma], books=[yes_raw, no_raw]), at)
    assert errors == [] and (Venue.POLYMARKET, m.id) in books
    assert m.ticks.min_step == Decimal("0.01") and m.signs_neg_risk is False and m.neg_risk is True
    no_raw["neg_risk"] = True
    (m,), books, errors = parse_polymarket(PolymarketRaw(markets=[gamma], books=[yes_raw, no_raw]), at)
    assert books == {}  # unquoted: a scan finds nothing on it
    assert [(e.key, e.kind) for e in errors] == [(m.id, "book")] and "neg-risk" in errors[0].message


def test_post_books_body() -> None:
    books = parse_books([load("paired/poly_book.json"), load("polymarket/clob_book_response_empty_ask.json")])
    assert len(books) == 2
    with pytest.raises(DataError) as exc:
        parse_books({"not": "a list"})
    assert exc.value.field == "books"


# --------------------------------------------------------------------------- fuzzing

BAD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.just("NaN"),
    st.just("Infinity"),
    st.just("-1"),
    st.just("1e400"),
    st.just("9" * 40),
    st.just(""),
    st.just("garbage"),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=-1),
    st.just(10**40),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

# Fields that must be present and well-formed on an open market; each bad value names its field.
REQUIRED = {
    "conditionId": "conditionId",
    "question": "question",
    "outcomes": "outcomes",
    "clobTokenIds": "clobTokenIds",
    "closed": "closed",
    "orderPriceMinTickSize": "orderPriceMinTickSize",
    "orderMinSize": "orderMinSize",
}


def _base() -> dict[str, Any]:
    return loads_exact((PM / "gamma_market_live.json").read_bytes())  # type: ignore[no-any-return]


def _acceptable(field: str, value: Any) -> bool:
    """Values that are legitimately valid for the field (the fuzzer may draw them)."""
    if field == "question":
        return isinstance(value, str) and bool(value.strip())
    if field == "closed":
        return isinstance(value, bool)
    if field == "orderMinSize":
        return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10**15
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(REQUIRED)), value=BAD_SCALARS, delete=st.booleans())
def test_fuzzed_required_fields_raise_data_error_naming_the_field(field: str, value: Any, delete: bool) -> None:
    raw = _base()
    if delete:
        del raw[field]
    else:
        raw[field] = value
    if not delete and _acceptable(field, value):
        parse_gamma_market(raw)
        return
    with pytest.raises(DataError) as exc:
        parse_gamma_market(raw)
    assert exc.value.field.split("[")[0].split(".")[0] == REQUIRED[field]


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(["rate", "exponent", "takerOnly"]),
    value=st.one_of(
        st.just("NaN"),
        st.just("-0.04"),
        st.just("1e400"),
        st.just(Decimal("-1")),
        st.just(Decimal("9")),
        st.just(Decimal("1.5")),
        st.just("x"),
        st.floats(),
        st.lists(st.integers(), max_size=1),
    ),
)
def test_fuzzed_fee_schedule(key: str, value: Any) -> None:
    raw = _base()
    raw["feeSchedule"][key] = value
    with pytest.raises(DataError) as exc:
        parse_gamma_market(raw)
    assert exc.value.field.startswith("feeSchedule")


JSONISH = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=20),
        st.floats(),
        st.decimals(allow_nan=True, allow_infinity=True),
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_any_field_never_crashes(data: st.DataObject) -> None:
    raw = _base()
    keys = sorted(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from([*keys, "events", "version", "positionIds"]))
        if data.draw(st.booleans()) and key in raw:
            del raw[key]
        else:
            raw[key] = data.draw(JSONISH)
    try:
        m = parse_gamma_market(raw)
    except DataError as exc:
        assert exc.field
        return
    # When it parses, nothing important became a silent zero.
    assert m.ticks.min_step > 0 and m.min_size >= 0 and m.yes_token and m.no_token and m.yes_token != m.no_token


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from(["bids", "asks"]),
    key=st.sampled_from(["price", "size"]),
    value=st.one_of(
        st.just("NaN"),
        st.just("-5"),
        st.just("1e400"),
        st.just("9" * 30),
        st.just(""),
        st.none(),
        st.floats(),
        st.booleans(),
        st.just("0"),
        st.just("1"),
        st.just("1.5"),
        st.just([1]),
    ),
)
def test_fuzzed_book_levels_name_the_level(side: str, key: str, value: Any) -> None:
    raw = loads_exact((FIXTURES / "paired/poly_book.json").read_bytes())
    raw[side][3][key] = value
    if key == "size" and value in ("0", "1", "1.5"):
        book = parse_book(raw)  # valid sizes; an empty level is dropped, not an error
        assert all(lv.size > 0 for lv in (*book.side.bids, *book.side.asks))
        return
    with pytest.raises(DataError) as exc:
        parse_book(raw)
    assert exc.value.field.startswith(f"book.{side}[3]")


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(
        [
            "asset_id",
            "market",
            "timestamp",
            "bids",
            "asks",
            "tick_size",
            "neg_risk",
            "last_trade_price",
            "min_order_size",
        ]
    ),
    value=BAD_SCALARS,
)
def test_fuzzed_book_fields_never_crash(key: str, value: Any) -> None:
    raw = loads_exact((FIXTURES / "paired/poly_book.json").read_bytes())
    raw[key] = value
    try:
        parse_book(raw)
    except DataError as exc:
        assert exc.field.startswith("book")


def test_event_listing_records_its_outcome_count_unless_marked_partial() -> None:
    """A neg-risk basket is priced only against the venue's complete event listing (scan.py)."""
    raw = load("polymarket/gamma_event.json")
    event = raw[0] if isinstance(raw, list) else raw
    markets = parse_gamma_event(event, skipped=[])
    assert markets
    assert {m.extra.get("event_market_count") for m in markets} == {str(len(event["markets"]))}
    partial = dict(event, _orion_partial=True)
    assert all("event_market_count" not in m.extra for m in parse_gamma_event(partial, skipped=[]))


# --------------------------------------------------------------------------- market outcomes (CLOB /markets/{id})


@pytest.mark.parametrize(("accepting", "yes_payout", "result"), [("true", 1, "yes"), ("false", 0, "no")])
def test_a_resolved_clob_market_pays_its_winner_as_gamma_maps_yes(accepting: str, yes_payout: int,
                                                                  result: str) -> None:
    raw = load(f"polymarket/clob_market_closed_binary_accepting_{accepting}.json")
    gamma = parse_gamma_market(load(f"polymarket/gamma_market_closed_binary_accepting_{accepting}.json"))
    assert gamma.id == raw["condition_id"]  # the same market, recorded from both APIs
    out = parse_market_outcome(raw, gamma.id.upper().replace("0X", "0x"))  # ids compare case-blind
    assert (out.closed, out.yes_payout, out.result) == (True, yes_payout, result)
    winner = next(t["token_id"] for t in raw["tokens"] if t["winner"])
    assert winner == (gamma.yes_token if yes_payout == 1 else gamma.no_token)
    assert (out.yes_token, out.no_token) == (gamma.yes_token, gamma.no_token)


def test_an_open_clob_market_has_no_outcome_and_a_display_price_is_never_a_payout() -> None:
    live = load("polymarket/clob_market_response.json")
    out = parse_market_outcome(live, live["condition_id"])
    assert (out.closed, out.yes_payout, out.result) == (False, None, "")
    closed = load("polymarket/clob_market_closed_binary_accepting_true.json")
    cid = closed["condition_id"]

    def variant(*tokens: tuple[Any, bool], **flags: Any) -> Any:
        raw = copy.deepcopy(closed)
        raw.update(flags)
        for tok, (price, winner) in zip(raw["tokens"], tokens, strict=True):
            tok["price"], tok["winner"] = Decimal(str(price)), winner
        return raw

    # Closed, awaiting resolution: last-trade prices and no winner (0.5 each included).
    assert parse_market_outcome(variant((0.97, False), (0.03, False)), cid).yes_payout is None
    assert parse_market_outcome(variant((0.5, False), (0.5, False)), cid).yes_payout is None
    # Flags and prices disagree: not final.
    assert parse_market_outcome(variant((1, False), (0, True)), cid).yes_payout is None
    assert parse_market_outcome(variant((1, True), (1, False)), cid).yes_payout is None
    # Resolved but the market not flagged closed: not final either.
    assert parse_market_outcome(variant((1, True), (0, False), closed=False), cid).yes_payout is None
    fifty = parse_market_outcome(variant((0.5, False), (0.5, False), is_50_50_outcome=True), cid)
    assert (fifty.yes_payout, fifty.result) == (Decimal("0.5"), "50-50")
    # YES by its label, wherever it stands.
    swapped = variant((0, False), (1, True))
    swapped["tokens"][0]["outcome"], swapped["tokens"][1]["outcome"] = "No", "Yes"
    assert parse_market_outcome(swapped, cid).yes_payout == 1


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r.update(condition_id="0x" + "ab" * 32), "condition_id"),
    (lambda r: r.update(tokens=r["tokens"] * 2), "tokens"),
    (lambda r: r.pop("closed"), "closed"),
    (lambda r: r["tokens"][0].update(winner="true"), "tokens[0].winner"),
    (lambda r: r["tokens"][1].pop("price"), "tokens[1].price"),
    (lambda r: r["tokens"][1].update(price=0.5), "tokens[1].price"),  # a float: never a Decimal guess
    (lambda r: r["tokens"][0].pop("token_id"), "tokens[0].token_id"),
    (lambda r: r.update(is_50_50_outcome="no"), "is_50_50_outcome"),
])
def test_a_malformed_clob_market_is_refused_naming_the_field(change: Any, field: str) -> None:
    raw = copy.deepcopy(load("polymarket/clob_market_closed_binary_accepting_true.json"))
    cid = raw["condition_id"]
    change(raw)
    with pytest.raises(DataError) as err:
        parse_market_outcome(raw, cid)
    assert err.value.field == field
    with pytest.raises(DataError):
        parse_market_outcome([raw], cid)


def test_a_book_the_clob_cannot_hold_is_refused() -> None:
    """Review: a price listed at two levels was summed (the depth doubled), and a book whose best bid is at or
    above its best ask (which the CLOB would have matched) was priced as it came."""
    raw = loads_exact((FIXTURES / "paired/poly_book.json").read_bytes())
    parse_book(raw)  # as sent: fine
    twice = copy.deepcopy(raw)
    twice["asks"].append(dict(twice["asks"][-1]))
    with pytest.raises(DataError) as info:
        parse_book(twice)
    assert info.value.field == "book.asks" and "listed at two levels" in info.value.problem
    crossed = copy.deepcopy(raw)
    best_bid = max(Decimal(lv["price"]) for lv in raw["bids"])
    crossed["asks"].append({"price": str(best_bid), "size": "5"})  # at the bid: the CLOB would have matched
    with pytest.raises(DataError) as info:
        parse_book(crossed)
    assert info.value.field == "book" and f"crossed: best bid {best_bid} at or above best ask {best_bid}" in str(
        info.value)
