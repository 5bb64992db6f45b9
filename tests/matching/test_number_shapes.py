"""The matcher parses a ladder of titles once (numbers blanked) and reads each title's own numbers back.

These tests pin down that the shortcut is exact: every feature computed through the number shapes and
the per-shape caches equals the feature computed from the text itself, with no shape at all.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orion_cli.core.models import Market
from orion_cli.matching import MatchSettings, candidates, normalize
from orion_cli.matching.equivalence import LOW_SCORE, evaluate
from orion_cli.matching.normalize import dates, extract_features, features, fold, number_shape, periods, thresholds
from orion_cli.matching.normalize import text as text_module

from .fixture_markets import all_markets, kalshi_market, poly_market

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_matching.py"

# Numbers next to years, units, aliases, ranges, dates and ticker-like words; ASCII and not.
TRICKY = [
    "Will Bitcoin be above $61,000 on March 5?",
    "Will the Bitcoin price be above $61,000 on March 5, 2026?",
    "Will the high temp in NYC be 84-85° on Jun 15, 2026?",
    "Will the highest temperature in NYC be above 85°F on June 20?",
    "Will the **high temp in NYC** be >85° on Jun 19, 2026?",
    "Bucks vs. Lakers: O/U 229.5",
    "Bucks vs. Lakers: 1H Moneyline",
    "Spread: Lakers (-3.5)",
    "Spread: Lakers (+0)",
    "Giannis Antetokounmpo: Points Over 30.5",
    "Will LeBron score 30+ points?",
    "Will the S&P 500 close above 5,000 by Dec 31, 2026?",
    "Will the Nasdaq 100 be above 20,100 before 2027?",
    "Will the Philadelphia 76ers win the 2026 NBA Finals?",
    "Round Of 16 match",
    "Fed cut of 25 bps in 2026?",
    "CPI between 2.5% and 3%",
    "Unemployment 4.5% to 5% in the 2025-26 season",
    "Will it happen by 2026-01-09?",
    "Released before June 2019 or after July 20, 2020?",
    "12019 votes and $2,019 raised by Feb 29",
    "Over 1,900 points, 1.5bn dollars, 2k followers",
    "GDP above 3.2 trillion through Dec 2030",
    "Will the Fed hold rates on Sep 17, 2025?",
    "Will 0 or 00 or 000 teams win 0.5 games?",
    "Temperature ≥ 100°F ’til June 5",
    "Will Dončić score 30+ points on May 5?",
    "Will ½ of 10 voters say yes by 2030?",
    "Will x² exceed 4 on April 1?",
    "Will the Warriors win Game 7 of the 2026 NBA Finals in Week 12?",
    "GDP above 2% in Q3 2026 (H1: 1.5%), 3rd quarter, game 1.5, Round 16 and Round of 16",
    "Will Hunter Biden or Donald Trump Jr. get 10 inches of snow at or above 5,000 ft?",
    "Between 20-21°C, 20 °C to 21 °C or 84°F to 85°F for the 84-85° chart",
    "Will Bitcoin be between $95,000 and $100,000, $95k-$100k, $95-100k, $500-1k or from $95,000 to $99,999.99?",
    "Above 20 degrees C, 21 degrees Fahrenheit, 22° Celsius, 23 celsius, 24-25°Celsius or 26 degrees for 27°F?",
    "S&P 500 between 6,000 and 6,100, at 6,000-6,099, 6000 to 6099.99, between 2025 and 2026, 1999-2100 or 2100-2200?",
    "Will the Philadelphia 76ers beat the Lakers by 10+ points, or get 3 more wins than 1 Celtics on Jan 9, 2026?",
    "Gold price between 2000 and 2100, ETH price: 1999-2050, $2000-2050 or 2100 to 2150 dollars in 2026-27?",
    "ETH Price: 2000-2050, 2000 to 2050 USD, levels between 2000 and 2050 USD; egg prices rise between 2025 and 2026?",
]


# Every module of the normalize package: a memo or a use of number_shape in any of them counts.
MODULES = tuple(importlib.import_module(f"{normalize.__name__}.{m.name}")
                for m in pkgutil.iter_modules(normalize.__path__))


def _caches() -> Iterator[Callable[[], None]]:
    for module in MODULES:
        for value in vars(module).values():
            clear = getattr(value, "cache_clear", None)
            if clear is not None:
                yield clear


def _clear() -> None:
    for clear in _caches():
        clear()


@pytest.fixture
def unshaped(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], Any]], Any]]:
    """Run a function with number shapes switched off (every text is its own shape), on fresh caches."""

    def run(fn: Callable[[], Any]) -> Any:
        _clear()
        with monkeypatch.context() as m:
            for module in (normalize, *MODULES):
                if hasattr(module, "number_shape"):
                    m.setattr(module, "number_shape", lambda text: (text, ()))
            result = fn()
        _clear()
        return result

    _clear()
    yield run
    _clear()


def test_number_shape_blanks_numbers_but_years_and_aliases() -> None:
    assert number_shape("Bucks vs. Lakers: O/U 229.5") == ("Bucks vs. Lakers: O/U 000.0", ("229", "5"))
    assert number_shape("above $61,000 on March 5, 2026") == ("above $00,000 on March 0, 2026", ("61", "000", "5"))
    assert number_shape("S&P 500 by June 19") == ("S&P 500 by June 19", ())  # an alias's number; a year-ish day
    assert number_shape("1H Moneyline, 3pt5, 76ers") == ("1H Moneyline, 3pt5, 76ers", ())  # not number tokens
    assert number_shape("85°F on June 5") == ("00°F on June 0", ("85", "5"))
    assert number_shape("Dončić 30+ points") == ("Dončić 30+ points", ())  # folding may change such text
    assert number_shape("no digits") == ("no digits", ())


@pytest.mark.parametrize("text", TRICKY)
def test_strikes_and_dates_read_through_shapes_are_the_texts_own(text: str) -> None:
    low = fold(text)
    digits = text_module.HAS_DIGIT.search(text) is not None
    strikes = thresholds.read_thresholds(thresholds.threshold_matches(low), low) if digits else ()
    assert thresholds._thresholds.__wrapped__(text) == strikes
    plan = dates.read_dates(dates.date_matches(low), low) if digits else ((), False)
    assert dates._date_plan.__wrapped__(text) == plan
    assert normalize.parse_periods(text) == periods.read_periods(periods.period_matches(low), low)


@pytest.mark.parametrize("text", TRICKY)
def test_head_facts_through_shapes_are_the_texts_own(text: str) -> None:
    shape, numbers = number_shape(text)
    for leagues in (frozenset(), frozenset({"nba"})):
        direct = features._head_facts.__wrapped__(text, leagues, False)
        shaped = features._head_facts.__wrapped__(shape, leagues, bool(numbers))
        assert shaped.key_text(numbers) == direct.key_text(())
        assert (shaped.leagues, shaped.ents, shaped.lead, shaped.teams) == (
            direct.leagues,
            direct.ents,
            direct.lead,
            direct.teams,
        )
        if not leagues:
            assert direct.key_text(())[0] == normalize.normalize_text(text)


def _tricky_markets() -> list[Market]:
    close = datetime(2026, 3, 5, 21, tzinfo=UTC)
    out: list[Market] = []
    for i, text in enumerate(TRICKY):
        out.append(kalshi_market(f"KXTEST-{i}", text, "above $61,000" if i % 2 else "Yes", close_time=close))
        out.append(poly_market(f"0x{i:064x}", text, ["Yes", "No"], ["1", "2"], end=close, group_item_title=f"{i}0°"))
        out.append(poly_market(f"0x{i + 100:064x}", text, ["Over", "Under"], ["1", "2"], end=close,
                               slug=f"nba-mil-lal-2026-03-0{i % 9 + 1}-total-{i}pt5", sports_type="totals"))
        out.append(poly_market(f"0x{i + 200:064x}", text, ["Yes", "No"], ["1", "2"], end=close,
                               slug=f"nba-mil-lal-2026-03-0{i % 9 + 1}-points", sports_type="points"))
    return out


def _generated(n_games: int) -> tuple[list[Market], list[Market]]:
    spec = importlib.util.spec_from_file_location("_orion_bench_matching_shapes", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    kalshi, poly, _truth = bench.generate(random.Random(bench.SEED), n_games=n_games)
    return kalshi, poly


def test_features_through_shapes_are_the_texts_own(unshaped: Callable[[Callable[[], Any]], Any]) -> None:
    kalshi, poly = all_markets()
    gk, gp = _generated(60)
    markets = [*_tricky_markets(), *kalshi, *poly, *gk, *gp]
    expected = unshaped(lambda: [extract_features(m) for m in markets])
    assert [extract_features(m) for m in markets] == expected
    assert [extract_features(m) for m in reversed(markets)] == expected[::-1]  # warm caches, other order


def test_batch_scores_equal_the_pairwise_scorer() -> None:
    kalshi, poly = all_markets()
    texts = [extract_features(m).key_text for m in [*kalshi, *poly]]
    for text in texts[:40]:
        assert candidates._default_scores(text, texts) == [candidates.default_scorer(text, t) for t in texts]


def test_detail_keys_keep_their_order() -> None:
    """The reasons' "why" comes first when a check before the time gaps held the pair, else after them."""
    close = datetime(2026, 3, 5, 21, tzinfo=UTC)
    k = kalshi_market("KXBTC-1", "Will the Bitcoin price be above $61,000 on March 5, 2026?", "above $61,000",
                      close_time=close, expected=close)
    p_same = poly_market("0x" + "1" * 64, "Will Bitcoin be above $61,000 on March 5?", ["Yes", "No"], ["1", "2"],
                         end=close)
    p_undated = poly_market("0x" + "2" * 64, "Will Bitcoin be above $61,000?", ["Yes", "No"], ["1", "2"], end=close)
    p_other = poly_market("0x" + "3" * 64, "Will Bitcoin be above $62,000 on March 5?", ["Yes", "No"], ["1", "2"],
                          end=close)
    settings = MatchSettings()
    kf = extract_features(k)
    low = evaluate(k, p_undated, kf, extract_features(p_undated), 1.0, settings)
    assert low.reasons == (LOW_SCORE,)
    assert list(low.detail)[:3] == ["close_gap_hours", "resolution_gap_hours", "why"]
    held = evaluate(k, p_other, kf, extract_features(p_other), 90.0, settings)
    assert held.reasons and next(iter(held.detail)) == "why"
    passed = evaluate(k, p_same, kf, extract_features(p_same), 99.0, settings)
    assert passed.passed and "why" not in passed.detail
