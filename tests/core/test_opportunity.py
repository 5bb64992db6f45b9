"""The opportunity record: DESIGN §2 minimum fields, exact strings, stable short ids, round trip."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion_cli.core.errors import DataError
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, Side, TickStructure, Venue
from orion_cli.core.opportunity import Fill, Leg, Opportunity, iso_z, opportunity_id, parse_iso_z
from orion_cli.core.pricing import price_pair

D = Decimal
NOW = datetime(2026, 6, 11, 12, 0, 30, tzinfo=UTC)

MIN_FIELDS = {"id", "kind", "legs", "size", "cost", "fees", "net_edge", "net_profit", "expires_at"}
MIN_LEG_FIELDS = {"venue", "market", "side", "size", "avg_price", "worst_price", "fees"}


def _market(venue: Venue, mid: str, fee: FeeModel, close: datetime | None) -> Market:
    return Market(
        venue=venue,
        id=mid,
        event_id="E",
        title="Will it rain?",
        status=MarketStatus.OPEN,
        close_time=close,
        fee_model=fee,
        ticks=TickStructure.uniform(D("0.01")),
        yes_token="tok-yes" if venue is Venue.POLYMARKET else "",
        no_token="tok-no" if venue is Venue.POLYMARKET else "",
    )


def _priced(now: datetime = NOW, close: datetime | None = NOW + timedelta(days=10)) -> Opportunity:
    # Kalshi YES 0.40×4, 0.41×6 + Polymarket NO 0.50×10 (rate 0.04)
    km = _market(Venue.KALSHI, "KXRAIN-26JUN11", FeeModel.kalshi(), close)
    pm = _market(Venue.POLYMARKET, "0xrain", FeeModel.polymarket(D("0.04")), close)
    lv = (PriceLevel(D("0.40"), D(4)), PriceLevel(D("0.41"), D(6)))
    kb = OrderBook(Venue.KALSHI, km.id, BookSide(asks=lv), BookSide(), now - timedelta(seconds=4))
    pb = OrderBook(
        Venue.POLYMARKET, pm.id, BookSide(), BookSide(asks=(PriceLevel(D("0.50"), D(10)),)), now - timedelta(seconds=1)
    )
    (o,) = price_pair(km, kb, pm, pb, inverted=False, now=now)
    return o


def test_record_has_design_minimum_fields_and_exact_strings() -> None:
    o = _priced()
    rec = o.to_record()
    assert rec["type"] == "opportunity" and rec["v"] == 1
    assert MIN_FIELDS <= rec.keys()
    assert rec["kind"] == "cross_venue"
    for leg in rec["legs"]:
        assert MIN_LEG_FIELDS <= leg.keys()
        assert leg["side"] in ("yes", "no") and leg["venue"] in ("kalshi", "polymarket")
    # Kalshi 4@0.40: 0.07×4×0.24 = 0.0672; 6@0.41: 0.07×6×0.41×0.59 = 0.101598 → 0.1016
    # Polymarket 10@0.50: 10×0.04×0.25 = 0.1 → 0.10000
    # cost 1.60 + 2.46 + 5.00 = 9.06; fees 0.2688; net = 10 − 9.06 − 0.2688 = 0.6712
    assert rec["size"] == "10"
    assert rec["cost"] == "9.06"
    assert rec["fees"] == "0.2688"
    assert rec["net_profit"] == "0.6712"
    assert rec["net_edge"] == "0.06712"
    assert rec["gross_edge"] == "0.094"
    assert rec["legs"][0]["fills"] == [["0.4", "4", "0.0672"], ["0.41", "6", "0.1016"]]
    assert rec["legs"][0]["avg_price"] == "0.406" and rec["legs"][0]["worst_price"] == "0.41"
    assert rec["legs"][1]["token_id"] == "tok-no"
    assert rec["expires_at"] == "2026-06-11T12:00:56.000000Z"  # oldest book (12:00:26) + 30 s
    assert rec["observed_at"] == "2026-06-11T12:00:30.000000Z"
    assert rec["close_time"] == "2026-06-21T12:00:30.000000Z"
    assert rec["quote_age_seconds"] == "4"
    assert rec["depth_consumed"] == "1"
    # nothing but JSON-native types; money never a float
    text = json.dumps(rec)
    assert "e-" not in text.lower().replace("type", "")
    for key in ("size", "cost", "fees", "net_edge", "net_profit", "return_on_capital", "annualized_return"):
        assert isinstance(rec[key], str)
    assert all(re.fullmatch(r"[a-z_]+", k) for k in rec)


def test_record_round_trip() -> None:
    o = _priced()
    back = Opportunity.from_record(json.loads(json.dumps(o.to_record())))
    assert back == o
    no_close = _priced(close=None)
    rec = no_close.to_record()
    assert rec["annualized_return"] is None and rec["close_time"] is None
    assert Opportunity.from_record(rec) == no_close


def test_from_record_rejects_bad_input() -> None:
    rec = _priced().to_record()
    with pytest.raises(DataError):
        Opportunity.from_record({**rec, "type": "market"})
    with pytest.raises(DataError):
        Opportunity.from_record({**rec, "kind": "triangular"})
    with pytest.raises(DataError):
        Opportunity.from_record({**rec, "net_profit": 0.5})  # a float is never money
    with pytest.raises(DataError):
        Opportunity.from_record({**rec, "expires_at": "2026-06-11T12:00:56"})  # no timezone
    with pytest.raises(DataError):
        Opportunity.from_record({**rec, "legs": [{**rec["legs"][0], "side": "maybe"}]})


def test_id_is_short_stable_and_bucketed() -> None:
    o = _priced()
    assert re.fullmatch(r"[a-z2-7]{8}", o.id)
    # same legs, same minute → same id, even if the quote moved
    assert _priced(now=NOW + timedelta(seconds=20)).id == o.id
    # next minute → a new id
    assert _priced(now=NOW + timedelta(seconds=40)).id != o.id
    legs = (("kalshi", "KXRAIN-26JUN11", "yes"), ("polymarket", "0xrain", "no"))
    assert opportunity_id("cross_venue", legs, NOW) == o.id
    assert opportunity_id("cross_venue", legs[::-1], NOW) == o.id  # leg order does not matter
    other_side = (("kalshi", "KXRAIN-26JUN11", "no"), ("polymarket", "0xrain", "yes"))
    assert opportunity_id("cross_venue", other_side, NOW) != o.id
    assert opportunity_id("within_venue", legs, NOW) != o.id
    # The data it was priced on: each source its own id, the same source the same one.
    by_source = {src: opportunity_id("cross_venue", legs, NOW, source=src)
                 for src in ("demo data set", "snapshot /srv/a.json.gz", "live venues (kalshi prod)")}
    assert len(set(by_source.values())) == 3 and o.id not in by_source.values()
    assert opportunity_id("cross_venue", legs[::-1], NOW, source="demo data set") == by_source["demo data set"]


def test_times_are_utc_with_z() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert iso_z(datetime(2026, 1, 2, 5, 0, tzinfo=plus2)) == "2026-01-02T03:00:00.000000Z"
    assert parse_iso_z("2026-01-02T03:00:00Z", "t") == datetime(2026, 1, 2, 3, tzinfo=UTC)
    with pytest.raises(DataError):
        iso_z(datetime(2026, 1, 2))  # naive
    with pytest.raises(DataError):
        parse_iso_z("yesterday", "t")


def test_leg_depth_fraction() -> None:
    leg = Leg(Venue.KALSHI, "K", Side.YES, D(3), D("0.5"), D("0.5"), D(0), 1, D(9), D("1.5"))
    assert leg.depth_fraction == D("0.333333")  # rounded down
    empty = Leg(Venue.KALSHI, "K", Side.YES, D(3), D("0.5"), D("0.5"), D(0), 1, D(0), D("1.5"))
    assert empty.depth_fraction == 0


_money = st.decimals(min_value=D(0), max_value=D(10_000), places=6, allow_nan=False, allow_infinity=False)
_signed = st.decimals(min_value=D(-10_000), max_value=D(10_000), places=6, allow_nan=False, allow_infinity=False)
_times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))


@st.composite
def _opportunities(draw: Any) -> Opportunity:
    legs = tuple(
        Leg(
            venue=draw(st.sampled_from(list(Venue))),
            market_id=draw(st.text("ABCDEFGH0123456789-x", min_size=1, max_size=20)),
            side=draw(st.sampled_from(list(Side))),
            size=draw(_money),
            avg_price=draw(_money),
            worst_price=draw(_money),
            fees=draw(_money),
            levels_consumed=draw(st.integers(0, 50)),
            depth_available=draw(_money),
            cost=draw(_money),
            fills=tuple(draw(st.lists(st.builds(Fill, _money, _money, _money), max_size=3))),
            token_id=draw(st.text("0123456789", max_size=12)),
        )
        for _ in range(draw(st.integers(1, 4)))
    )
    return Opportunity(
        id=draw(st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=8, max_size=8)),
        kind=draw(st.sampled_from(["cross_venue", "within_venue"])),
        legs=legs,
        size=draw(_money),
        cost=draw(_money),
        fees=draw(_money),
        gross_edge=draw(_signed),
        net_edge=draw(_signed),
        gross_profit=draw(_signed),
        net_profit=draw(_signed),
        return_on_capital=draw(_signed),
        annualized_return=draw(st.one_of(st.none(), _signed)),
        close_time=draw(st.one_of(st.none(), _times)),
        quote_age_seconds=draw(_money),
        depth_consumed=draw(_money),
        observed_at=draw(_times),
        expires_at=draw(_times),
        pair_key=draw(st.text(max_size=30)),
        strategy=draw(st.sampled_from(["", "cross_direct", "neg_risk"])),
        title=draw(st.text(max_size=30)),
        event_id=draw(st.text(max_size=10)),
    )


@settings(max_examples=100, deadline=None)
@given(_opportunities())
def test_record_round_trip_property(o: Opportunity) -> None:
    rec = json.loads(json.dumps(o.to_record()))
    assert MIN_FIELDS <= rec.keys()
    back = Opportunity.from_record(rec)
    assert back == o  # Decimal equality is by value: "1.50" == "1.5"
    for key in ("size", "cost", "net_profit"):
        assert "E" not in rec[key] and "e" not in rec[key]


# found by a mutation audit: conditions no test pinned


def test_capital_is_cost_plus_fees() -> None:
    """Mutant `cost + fees` → `cost` in Opportunity.capital survived: the cash that leaves the account."""
    km = _market(Venue.KALSHI, "KX-1", FeeModel.kalshi(), None)
    pm = _market(Venue.POLYMARKET, "0xp", FeeModel.free(), None)
    kb = OrderBook(Venue.KALSHI, km.id, BookSide(asks=(PriceLevel(Decimal("0.40"), Decimal(10)),)), BookSide(),
                   datetime(2026, 6, 11, tzinfo=UTC))
    pb = OrderBook(Venue.POLYMARKET, pm.id, BookSide(), BookSide(asks=(PriceLevel(Decimal("0.50"), Decimal(10)),)),
                   datetime(2026, 6, 11, tzinfo=UTC))
    (o,) = price_pair(km, kb, pm, pb, inverted=False, now=datetime(2026, 6, 11, tzinfo=UTC))
    assert o.fees > 0
    assert o.capital == o.cost + o.fees


def test_only_a_two_leg_opportunity_is_a_pair() -> None:
    """Mutant `legs == 2` → `legs >= 2` in not_a_pair survived: a basket would reach the two-leg executor."""
    from orion_cli.core.opportunity import not_a_pair

    assert not_a_pair(2) is None
    assert not_a_pair(3) is not None and "3 legs" in (not_a_pair(3) or "")
    assert not_a_pair(1) is not None


def test_opportunity_id_bounds_and_ascii_only() -> None:
    """Mutants of opportunity_id_problem survived: 16 characters is the most allowed, and a non-ASCII letter
    (a full-width ａ) is not a letter an id is made of."""
    from orion_cli.core.opportunity import OPPORTUNITY_ID_MAX, opportunity_id_problem

    assert opportunity_id_problem("a" * OPPORTUNITY_ID_MAX) is None
    assert "17 characters" in (opportunity_id_problem("a" * (OPPORTUNITY_ID_MAX + 1)) or "")
    why = opportunity_id_problem("ab\uff43d")
    assert why is not None and "at character 3" in why
