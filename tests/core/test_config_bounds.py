"""The allowed range of every configuration key, pinned by what is accepted and refused.

A mutation audit found that the bounds of the limits were pinned only by the generated
``config.toml.example`` (regenerated with any change): a cap's minimum lowered to 0, a percentage's
maximum raised past 100 or the band's edge moved to 0 or 1 passed every behavioural test. These tests
say, key by key, what no configuration may set, independently of the declarations they check.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orion_cli.core.config import ConfigError, KeySpec, decimal_size_problem, key_specs, load_settings
from orion_cli.core.errors import ExitCode


def _variable(dotted: str) -> str:
    section, key = dotted.split(".")
    return f"ORION__{section.upper()}__{key.upper()}"


def _refused(dotted: str, value: str, **more: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={_variable(dotted): value, **more})
    assert info.value.exit_code == ExitCode.CONFIG and info.value.reason == "config_invalid"
    assert dotted in info.value.message
    return info.value


def _value(dotted: str, value: str, **more: str) -> object:
    section, key = dotted.split(".")
    return getattr(getattr(load_settings(environ={_variable(dotted): value, **more}), section), key)


# Caps whose zero (or a negative) would mean "no orders at all" in one reading and "no limit" in another:
# every one must be positive. A percentage here is a trip level: 0 would trip at once or never.
CAPS = (
    "limits.order_notional", "limits.order_contracts", "limits.market_exposure", "limits.category_exposure",
    "limits.total_exposure", "limits.open_positions", "limits.balance_max_age_seconds",
    "rate_limits.orders_per_minute", "rate_limits.orders_per_hour",
    "breaker.daily_loss", "breaker.daily_loss_pct", "breaker.drawdown_pct", "breaker.warn_at_pct",
    "trading.quote_max_age_seconds", "trading.opportunity_ttl_seconds",
)


@pytest.mark.parametrize("dotted", CAPS)
@pytest.mark.parametrize("value", ["0", "-1"])
def test_no_cap_may_be_zero_or_negative(dotted: str, value: str) -> None:
    assert "below the minimum" in _refused(dotted, value).message


# Amounts where 0 is a choice (no buffer, no unwind loss accepted), but a negative one is not.
NON_NEGATIVE = ("limits.balance_buffer_pct", "trading.max_unwind_loss", "trading.min_edge", "trading.min_profit",
                "trading.second_leg_retries", "breaker.reset_hour_utc", "alerts.low_balance")


@pytest.mark.parametrize("dotted", NON_NEGATIVE)
def test_an_amount_that_may_be_zero_is_never_negative(dotted: str) -> None:
    assert _value(dotted, "0") == 0
    assert "below the minimum" in _refused(dotted, "-1").message


PERCENTAGES = ("limits.balance_buffer_pct", "breaker.daily_loss_pct", "breaker.drawdown_pct", "breaker.warn_at_pct")


def test_every_percentage_key_is_listed() -> None:
    """So that a new percentage key is held to 100 % below as well."""
    assert {s.dotted for s in key_specs() if s.unit == "%"} == set(PERCENTAGES)


@pytest.mark.parametrize("dotted", PERCENTAGES)
def test_no_percentage_is_above_100(dotted: str) -> None:
    assert _value(dotted, "100") == Decimal("100")
    for value in ("100.01", "100.000001", "101", "1000"):
        assert "above the maximum" in _refused(dotted, value).message


@pytest.mark.parametrize("dotted", ["limits.price_band_low", "limits.price_band_high"])
@pytest.mark.parametrize("value", ["0", "1", "-0.5", "1.5"])
def test_the_price_band_lies_strictly_between_0_and_1(dotted: str, value: str) -> None:
    """A band edge at 0 or 1 lets orion pay for a contract that is already settled (or worthless)."""
    _refused(dotted, value)


def test_the_price_band_takes_its_widest_ticks() -> None:
    assert _value("limits.price_band_low", "0.001") == Decimal("0.001")
    assert _value("limits.price_band_high", "0.999") == Decimal("0.999")


def test_a_price_band_of_no_width_is_refused() -> None:
    """low == high leaves no price to pay; it is a typo, refused as low > high is."""
    with pytest.raises(ConfigError, match=r"price_band_low .* must be below"):
        load_settings(environ={"ORION__LIMITS__PRICE_BAND_LOW": "0.5", "ORION__LIMITS__PRICE_BAND_HIGH": "0.5"})


def test_the_reset_hour_is_an_hour_of_the_day() -> None:
    assert _value("breaker.reset_hour_utc", "23") == 23
    _refused("breaker.reset_hour_utc", "24")
    _refused("breaker.reset_hour_utc", "-1")


# A partner key moved so that a bound of this key passes the cross checks (band low < high, per minute <= per hour).
_PARTNERS = {
    ("rate_limits.orders_per_minute", "max"): {"ORION__RATE_LIMITS__ORDERS_PER_HOUR": "100000"},
    ("rate_limits.orders_per_hour", "min"): {"ORION__RATE_LIMITS__ORDERS_PER_MINUTE": "1"},
}
_RANGED = [s for s in key_specs() if s.min is not None and s.max is not None]


def _step(spec: KeySpec) -> Decimal | int:
    return 1 if spec.type is int else Decimal("0.000001")  # the finest a number may be written


@pytest.mark.parametrize("spec", _RANGED, ids=[s.dotted for s in _RANGED])
def test_each_key_takes_both_ends_of_its_range_and_nothing_beyond(spec: KeySpec) -> None:
    """The comparison at each end: the bound itself is allowed (the example file says "min..max"), one
    step beyond it is not."""
    for end, bound, beyond in (("min", spec.min, spec.min - _step(spec)), ("max", spec.max, spec.max + _step(spec))):
        more = _PARTNERS.get((spec.dotted, end), {})
        # The band's edges share one range and low must lie below high: low's top and high's bottom are never valid.
        if (spec.dotted, end) not in (("limits.price_band_low", "max"), ("limits.price_band_high", "min")):
            assert _value(spec.dotted, str(bound), **more) == bound, (spec.dotted, end)
        message = _refused(spec.dotted, str(beyond), **more).message
        assert ("below the minimum" if end == "min" else "above the maximum") in message, message


def test_the_example_file_bounds_are_pinned_independently() -> None:
    """The key ranges the tests above rely on exist: a key dropped from the range list is not silently
    left untested."""
    ranged = {s.dotted for s in _RANGED}
    assert set(CAPS) | set(PERCENTAGES) | {"limits.price_band_low", "limits.price_band_high"} <= ranged


# -- how a number may be written ----------------------------------------------------------------


def test_a_number_may_have_18_digits_before_the_point_and_6_places() -> None:
    assert decimal_size_problem(Decimal("9" * 18)) is None
    assert decimal_size_problem(Decimal("0.000001")) is None
    assert "19 digits before the decimal point" in str(decimal_size_problem(Decimal("9" * 19)))
    assert "7 decimal places" in str(decimal_size_problem(Decimal("0.0000001")))


def test_an_integer_of_18_digits_is_judged_by_its_range_and_one_of_19_by_its_length() -> None:
    assert "above the maximum" in _refused("paper.latency_ms", "9" * 18).message
    assert "19 digits, more than the 18" in _refused("paper.latency_ms", "9" * 19).message


# -- booleans and choices -----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "meant"), [
    ("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("On", True),
    ("0", False), ("false", False), ("False", False), (" no ", False), ("OFF", False),
])
def test_each_spelling_of_a_boolean_reads_as_it_says(value: str, meant: bool) -> None:
    assert _value("kalshi.enabled", value) is meant


@pytest.mark.parametrize("value", ["2", "enabled", "y", "n", "nope"])
def test_anything_else_is_not_a_boolean(value: str) -> None:
    assert "not a boolean" in _refused("kalshi.enabled", value).message


def test_an_empty_boolean_variable_is_set_but_empty() -> None:
    assert "KALSHI__ENABLED is set but empty" in _refused("kalshi.enabled", "").message


@pytest.mark.parametrize("value", ["LIVE", "Live", "Paper", " paper", "live "])
def test_a_choice_is_taken_only_as_spelt(value: str) -> None:
    """trading.mode is compared as written ("live"): "LIVE" taken would run a mode no check recognises."""
    assert "not an allowed value" in _refused("trading.mode", value).message


def test_every_rule_between_two_keys_is_stated_beside_the_key_it_refuses() -> None:
    """Found by a docs review: config.toml.example said `orders_per_minute` allows 1..10000 and
    `price_band_low` 0.001..0.999, but 200 per minute (beside the default 100 an hour) or a low of 0.96
    (beside the default high of 0.95) is exit 3. Every key is set alone to each end of its stated range;
    where the refusal names another key, the key's own comment (its line in the example) names it too."""
    specs = [s for s in key_specs() if s.min is not None and s.max is not None]
    dotted_keys = {s.dotted for s in key_specs()}
    cross: list[tuple[str, str]] = []
    for spec in specs:
        for end in (spec.min, spec.max):
            try:
                load_settings(environ={_variable(spec.dotted): str(end)})
            except ConfigError as exc:
                others = [k for k in dotted_keys if k != spec.dotted and k in exc.message]
                assert others, exc.message  # a stated end refused by the key's own range: a wrong range
                cross += [(spec.dotted, other) for other in others]
    assert cross, "no rule between two keys was met: the test no longer tests anything"
    for dotted, other in cross:
        doc = next(s.doc for s in key_specs() if s.dotted == dotted)
        assert other.split(".")[1] in doc, (dotted, other, doc)


@pytest.mark.parametrize("value", ["5", "1", "80001", "0x89"])
def test_a_polymarket_chain_without_its_exchange_contracts_is_refused_when_the_configuration_is_read(
        value: str) -> None:
    """Found reviewing the configuration key by key: polymarket.chain_id allowed 1..1000000000, but orion knows
    Polymarket's exchange contracts on two chains only. chain_id = 5 passed `config show` and failed a live
    trade after its LIVE banner, with an error naming no key ("unsupported chain id 5", exit 3)."""
    refused = _refused("polymarket.chain_id", value)
    assert "one of 137, 80002" in refused.message + (refused.hint or ""), refused


def test_the_chains_the_configuration_allows_are_those_orion_has_exchange_contracts_for() -> None:
    from orion_cli.venues.polymarket.orders import _EXCHANGES, exchange_for

    (spec,) = [s for s in key_specs() if s.dotted == "polymarket.chain_id"]
    assert set(spec.choices) == set(_EXCHANGES)
    for chain in spec.choices:
        assert _value("polymarket.chain_id", str(chain)) == chain
        assert exchange_for(neg_risk=False, chain_id=chain).chain_id == chain
