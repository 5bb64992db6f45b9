"""Equivalence rules a hand-mutation audit found unpinned: each test fails when its rule is dropped,
loosened or turned round (the mutant named in its docstring), and passes on the rule as written.

Where a title cannot state the fact cleanly (a Polymarket NO subject outside the game, a one-sided
asset context), the features of a real pair are edited (``MarketFeatures`` is a named tuple), so the
rule is exercised through :func:`evaluate` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from orion_cli.core.models import Market
from orion_cli.matching import MatchCandidate, MatchSettings, evaluate_pair, match_markets
from orion_cli.matching.candidates import CandidateIndex
from orion_cli.matching.equivalence import (
    AMBIGUOUS_MATCH,
    DATE_MISMATCH,
    DIRECTION_MISMATCH,
    DRAW_POSSIBLE,
    ENTITY_MISMATCH,
    LOW_SCORE,
    REASON_CODES,
    THRESHOLD_MISMATCH,
    TIME_OF_DAY_MISMATCH,
    _compare_dates,
    evaluate,
)
from orion_cli.matching.normalize import (
    DEADLINE,
    EDITION,
    GE,
    GT,
    LE,
    LT,
    ON,
    RANGE,
    DateSpan,
    MarketFeatures,
    StatedTime,
    Threshold,
    extract_features,
)
from orion_cli.matching.pairs import CuratedPair, settlement_doubts, tradable_pairs
from orion_cli.matching.pipeline import _resolve_ambiguity

from .fixture_markets import kalshi_market, poly_market
from .test_equivalence import CLOSE, k_btc, p_btc

SETTINGS = MatchSettings()


def features(k: Market, p: Market) -> tuple[MarketFeatures, MarketFeatures]:
    return extract_features(k), extract_features(p)


def check(k: Market, p: Market, kf: MarketFeatures, pf: MarketFeatures,
          settings: MatchSettings = SETTINGS, score: float = 95.0) -> MatchCandidate:
    return evaluate(k, p, kf, pf, score, settings)


# -- when: dates ------------------------------------------------------------------------------------


def test_on_a_day_is_not_by_that_day() -> None:
    """E6: "on June 30" against "by June 30" (a single date fact a side, of different kinds) passed
    when the kind check was dropped: an event on June 12 settles the second YES and the first NO."""
    k, p = k_btc("Will the Fed cut rates on June 30, 2026?"), p_btc("Will the Fed cut rates by June 30, 2026?")
    assert DATE_MISMATCH in evaluate_pair(k, p, settings=SETTINGS).reasons
    same = p_btc("Will the Fed cut rates on June 30, 2026?")
    assert DATE_MISMATCH not in evaluate_pair(k, same, settings=SETTINGS).reasons


def _d(kind: str, start: date | None, end: date) -> DateSpan:
    return DateSpan(kind, start, end)


JUN30 = date(2026, 6, 30)
YEAR_2026 = _d(EDITION, date(2026, 1, 1), date(2026, 12, 31))
YEAR_2027 = _d(EDITION, date(2027, 1, 1), date(2027, 12, 31))


@pytest.mark.parametrize(("a", "b", "mismatch"), [
    # E4: two periods ending the same day are different windows when they start apart
    ((_d(RANGE, date(2026, 12, 1), date(2026, 12, 31)),), (_d(RANGE, date(2026, 11, 1), date(2026, 12, 31)),), True),
    ((_d(RANGE, date(2026, 12, 1), date(2026, 12, 31)),), (_d(RANGE, date(2026, 12, 1), date(2026, 12, 31)),), False),
    # E5: several facts a side, no kind in common but the edition: a day is not a deadline
    ((_d(ON, JUN30, JUN30), YEAR_2026), (_d(DEADLINE, None, JUN30), YEAR_2026), True),
    ((_d(ON, JUN30, JUN30), YEAR_2026), (_d(ON, JUN30, JUN30), YEAR_2026), False),
    # E36: several facts a side, the same day but editions of different years
    ((_d(ON, JUN30, JUN30), YEAR_2026), (_d(ON, JUN30, JUN30), YEAR_2027), True),
    ((_d(ON, JUN30, JUN30), YEAR_2026, YEAR_2027), (_d(ON, JUN30, JUN30), YEAR_2027), False),
])
def test_date_facts_that_name_different_windows_mismatch(a: tuple[DateSpan, ...], b: tuple[DateSpan, ...],
                                                         mismatch: bool) -> None:
    assert _compare_dates(a, b, 0)[0] is mismatch
    assert _compare_dates(b, a, 0)[0] is mismatch


# -- when: time of day ------------------------------------------------------------------------------

K_5PM = "Will Bitcoin be above $100,000 at 5pm ET on June 30, 2026?"  # 21:00 UTC (EDT)


@pytest.mark.parametrize(("poly_end", "held"), [
    (datetime(2026, 6, 30, 21, 0, tzinfo=UTC), False),
    (datetime(2026, 6, 30, 20, 56, tzinfo=UTC), False),  # a venue's timestamp a few minutes early
    (datetime(2026, 6, 30, 21, 30, tzinfo=UTC), True),  # E32: half an hour off is another fixing
    (datetime(2026, 6, 30, 20, 0, tzinfo=UTC), True),
])
def test_a_time_stated_on_one_side_must_be_the_others_resolution_within_minutes(poly_end: datetime,
                                                                                held: bool) -> None:
    k = k_btc(K_5PM, close_time=poly_end, expected=poly_end)
    p = p_btc(end=poly_end)
    assert (TIME_OF_DAY_MISMATCH in evaluate_pair(k, p, settings=SETTINGS).reasons) is held


def test_times_stated_on_both_sides_must_be_the_same_set_of_instants() -> None:
    """E33: a side stating 4pm and 5pm ET against one stating 5pm ET only passed when sharing one
    instant was taken for agreement."""
    k, p = k_btc(K_5PM), p_btc("Will Bitcoin be above $100k at 5pm ET on June 30, 2026?")
    kf, pf = features(k, p)
    assert kf.times and pf.times and TIME_OF_DAY_MISMATCH not in check(k, p, kf, pf).reasons
    both = kf._replace(times=(StatedTime(16 * 60, "et", 0), StatedTime(17 * 60, "et", 0)))
    assert TIME_OF_DAY_MISMATCH in check(k, p, both, pf).reasons


# -- how much: strikes and labels ---------------------------------------------------------------------


def test_complement_needs_the_same_unit() -> None:
    """N2: "> $100" and "≤ 100 inches" are no complement, whatever the values."""
    assert Threshold(D(100), "usd", GT).complement_of(Threshold(D(100), "usd", LE))
    assert not Threshold(D(100), "usd", GT).complement_of(Threshold(D(100), "", LE))
    assert not Threshold(D(100), "", LT).complement_of(Threshold(D(100), "usd", GE))


def test_complement_of_whole_count_lines_only() -> None:
    """N1: "≥ 232" is "not ≤ 231" on a count; "≥ 232.5" and "≤ 231.5" leave 232 in neither."""
    assert Threshold(D(232), "", GE).complement_of(Threshold(D(231), "", LE))
    assert not Threshold(D("232.5"), "", GE).complement_of(Threshold(D("231.5"), "", LE))
    assert not Threshold(D("231.5"), "", LE).complement_of(Threshold(D("232.5"), "", GE))


def test_both_labels_yes_over_with_opposite_strikes_is_held_not_inverted() -> None:
    """E31: both YES labels say "Over" while the strikes are each other's complement: one of the two
    readings is wrong, and inverting on the strikes alone bought the same side twice."""
    k, p = k_btc(), p_btc()
    kf, pf = features(k, p)
    kf = kf._replace(yes_direction="over", thresholds=(Threshold(D(230), "", GE),))
    pf = pf._replace(yes_direction="over", no_direction="under", thresholds=(Threshold(D(229), "", LE),))
    c = check(k, p, kf, pf)
    assert DIRECTION_MISMATCH in c.reasons and not c.passed
    agree = check(k, p, kf, pf._replace(thresholds=(Threshold(D(230), "", GE),)))
    assert DIRECTION_MISMATCH not in agree.reasons and agree.inverted is False


# -- who: subjects, teams, context ------------------------------------------------------------------

TEAMS = frozenset({"nba:lal", "nba:bos"})


def _game(k: Market, p: Market, *, no_subject: frozenset[str] = frozenset(),
          leagues: frozenset[str] = frozenset({"nba"})) -> tuple[MarketFeatures, MarketFeatures]:
    kf, pf = features(k, p)
    kf = kf._replace(subject=frozenset({"nba:lal"}), teams=TEAMS, leagues=leagues, parties=None)
    pf = pf._replace(subject=frozenset({"nba:bos"}), no_subject=no_subject, teams=TEAMS, leagues=leagues,
                     parties=None)
    return kf, pf


def test_the_other_teams_market_is_the_inverse_only_when_polymarket_names_no_no_outcome() -> None:
    """E14: "Lakers win" against "Celtics win" of one game is the inverse, unless the Polymarket market
    names its NO outcome and that is not the Lakers (a third outcome: not a complement at all)."""
    k, p = k_btc(), p_btc()
    c = check(k, p, *_game(k, p))
    assert c.inverted is True and ENTITY_MISMATCH not in c.reasons
    c = check(k, p, *_game(k, p, no_subject=frozenset({"nba:nyk"})))
    assert ENTITY_MISMATCH in c.reasons and not c.passed


def test_a_draw_is_possible_where_the_league_is_unknown() -> None:
    """E15: no league read on either side: a tie cannot be ruled out, so the two "wins" markets are not
    known complements (fail closed), as for a league with draws."""
    k, p = k_btc(), p_btc()
    assert DRAW_POSSIBLE not in check(k, p, *_game(k, p)).reasons
    assert DRAW_POSSIBLE in check(k, p, *_game(k, p, leagues=frozenset())).reasons
    assert DRAW_POSSIBLE in check(k, p, *_game(k, p, leagues=frozenset({"soccer"}))).reasons


def test_an_asset_named_on_one_side_only_is_an_entity_mismatch() -> None:
    """E17: an asset (crypto, index, economic series, commodity) stated on one side only is a different
    bet; a competition or organisation stated on one side only is not held on that alone."""
    k, p = k_btc(), p_btc()
    kf, pf = features(k, p)
    kf, pf = kf._replace(context={"crypto": frozenset({"crypto:btc"})}), pf._replace(context={})
    assert ENTITY_MISMATCH in check(k, p, kf, pf).reasons
    assert ENTITY_MISMATCH in check(k, p, pf, kf).reasons
    kf = kf._replace(context={"comp": frozenset({"comp:wimbledon"})})
    assert ENTITY_MISMATCH not in check(k, p, kf, pf).reasons



# -- spreads: the other team's line ----------------------------------------------------------------

_TIPOFF = datetime(2026, 6, 7, 0, 30, tzinfo=UTC)
_SPREAD_EVENT = "KXNBASPREAD-26JUN06OKCSAS"


def _k_spread(code: str, team: str, title: str = "", ticker: str = "") -> Market:
    """A Kalshi spread market as listed (ticker, title and sub-title of KXNBASPREAD-26JUN06OKCSAS-SAS5)."""
    label = f"{team} wins by over 5.5 Points"
    ticker = ticker or f"{_SPREAD_EVENT}-{code}5"
    return kalshi_market(ticker, title or label + "?", label, close_time=_TIPOFF + timedelta(days=13),
                         expected=_TIPOFF + timedelta(hours=3), event_ticker=ticker.rsplit("-", 1)[0])


def _p_spread(question: str, outcomes: list[str], slug: str = "nba-okc-sas-2026-06-06-spread-away-5pt5") -> Market:
    """A Polymarket spread market as listed: YES is the first outcome, the team the question names."""
    return poly_market("0x" + "5a" * 32, question, outcomes, ["1", "2"], end=_TIPOFF, slug=slug, sports_type="spreads")


@pytest.mark.parametrize(
    ("k", "p"),
    [
        # found in review: accepted at 0.99, inverted; Polymarket's NO is "Spurs +5.5", not "Spurs -5.5"
        (lambda: _k_spread("SAS", "San Antonio"), lambda: _p_spread("Spread: Thunder (-5.5)", ["Thunder", "Spurs"])),
        # the same from the titles alone (no ids that name a game)
        (lambda: _k_spread("OKC", "Thunder", "Thunder vs Spurs: Spread", ticker="KXTEST-26JUN06-M0"),
         lambda: _p_spread("Spread: Spurs (-5.5)", ["Spurs", "Thunder"], slug="")),
        # no line read on either side: nothing says the lines are opposite
        (lambda: replace(_k_spread("OKC", "Thunder", "Thunder vs Spurs: Spread", ticker="KXTEST-26JUN06-M0"),
                         outcome_label="Thunder"),
         lambda: _p_spread("Spread: Spurs", ["Spurs", "Thunder"], slug="")),
    ],
    ids=["listed", "titles-only", "no-line"],
)
def test_the_other_teams_spread_at_the_same_line_is_no_inverse(k: Callable[[], Market],
                                                               p: Callable[[], Market]) -> None:
    """A spread market's NO is not "the other team covers the same line": NO on "Thunder -5.5" is "Spurs
    +5.5", so against "San Antonio wins by over 5.5" (Spurs -5.5) both legs lose when either team wins by
    5 or less. Held back, never inverted."""
    c = evaluate_pair(k(), p(), settings=SETTINGS)
    assert not c.passed and THRESHOLD_MISMATCH in c.reasons, (c.inverted, c.confidence, c.reasons)


def test_the_other_teams_spread_at_the_opposite_line_is_the_inverse() -> None:
    """Controls: the same team at the same line is the same bet; "Thunder +5.5" is NO exactly when San Antonio
    wins by over 5.5 (a half-point line cannot push), so that pair is the inverse; a whole line can push."""
    c = evaluate_pair(_k_spread("OKC", "Oklahoma City"), _p_spread("Spread: Thunder (-5.5)", ["Thunder", "Spurs"]),
                      settings=SETTINGS)
    assert (c.passed, c.inverted) == (True, False), c.reasons
    c = evaluate_pair(_k_spread("SAS", "San Antonio"), _p_spread("Spread: Thunder (+5.5)", ["Thunder", "Spurs"]),
                      settings=SETTINGS)
    assert (c.passed, c.inverted) == (True, True), c.reasons
    c = evaluate_pair(_k_spread("SAS", "San Antonio"), _p_spread("Spread: Thunder (+6)", ["Thunder", "Spurs"]),
                      settings=SETTINGS)
    assert THRESHOLD_MISMATCH in c.reasons


def test_both_teams_spread_markets_against_one_line_only_the_same_teams_is_accepted() -> None:
    """With both Kalshi markets listed, the ambiguity pass (by Polymarket market and polarity) saw one
    direct and one inverted candidate and flagged neither: the wrong one must fail on its own."""
    res = match_markets([_k_spread("OKC", "Oklahoma City"), _k_spread("SAS", "San Antonio")],
                        [_p_spread("Spread: Thunder (-5.5)", ["Thunder", "Spurs"])], settings=SETTINGS)
    assert [(c.kalshi_id, c.inverted) for c in res.accepted] == [(f"{_SPREAD_EVENT}-OKC5", False)]

# -- confidence and acceptance ----------------------------------------------------------------------


def test_a_confidence_just_under_the_threshold_is_low_score() -> None:
    """E27: the LOW_SCORE bound loosened by a few points let a candidate under the configured confidence
    pass every check (the scan's own threshold test was then all that kept it from trading)."""
    k, p = k_btc(), p_btc()
    kf, pf = features(k, p)
    c = check(k, p, kf, pf, score=60.0)
    assert c.passed and c.confidence < 1
    just_above = MatchSettings(auto_accept_confidence=round(c.confidence + 0.01, 6))
    assert check(k, p, kf, pf, just_above, score=60.0).reasons == (LOW_SCORE,)
    assert check(k, p, kf, pf, MatchSettings(auto_accept_confidence=c.confidence), score=60.0).passed


def test_a_candidate_at_exactly_the_threshold_is_accepted() -> None:
    """P3: a passing candidate whose confidence equals auto_accept_confidence is accepted (the check is
    "at least"), not left among the held back with no reason."""
    k = kalshi_market("KXRAIN-26JUN30", "Will it rain in Springfield?", "", close_time=CLOSE, expected=CLOSE)
    p = poly_market("0x" + "cd" * 32, "Will it rain in Springfield?", ["Yes", "No"], ["1", "2"], end=CLOSE)
    c = evaluate_pair(k, p, settings=SETTINGS, score=90.0)
    settings = MatchSettings(auto_accept_confidence=c.confidence)
    result = match_markets([k], [p], settings=settings, scorer=lambda a, b: 90.0)
    assert [(a.kalshi_id, a.reasons) for a in result.accepted] == [(k.id, ())]
    assert result.held_back == ()


def test_the_confidence_shown_is_the_one_the_threshold_is_held_against() -> None:
    """The threshold was compared with the unrounded confidence and the candidate shown at 4 places (its
    reason at 3): at some scores a candidate shown at 0.9 was held back as "confidence 0.900 < 0.9", and a
    threshold set to a confidence the user read off `pairs suggest` held that very candidate back."""
    k, p = k_btc(), p_btc()
    kf, pf = features(k, p)
    seen = 0
    for tenths in range(500, 1000):
        c = check(k, p, kf, pf, score=tenths / 10)
        if not c.passed:
            continue
        shown = c.to_record()["confidence"]
        if shown >= 0.9999:
            break  # a threshold above it would be 1: auto-accept off
        assert c.confidence == shown  # what every comparison sees is what the user sees
        at = check(k, p, kf, pf, MatchSettings(auto_accept_confidence=shown), score=tenths / 10)
        assert at.passed, (tenths, shown, at.detail)
        above = MatchSettings(auto_accept_confidence=round(shown + 0.0001, 4))
        held = check(k, p, kf, pf, above, score=tenths / 10)
        assert held.reasons == (LOW_SCORE,)
        said = held.detail["why"][0] if isinstance(held.detail["why"], list) else held.detail["why"]
        assert f"confidence {shown:.4f} < {above.auto_accept_confidence}" in str(said), said
        seen += 1
    assert seen > 100


def _cand(k: str, p: str, inverted: bool, reasons: tuple[str, ...] = ()) -> MatchCandidate:
    return MatchCandidate(k, p, inverted, 0.97, reasons, 95.0)


def test_two_kalshi_markets_passing_against_one_polymarket_market_the_same_way_are_ambiguous() -> None:
    """P1: only the Kalshi side's clashes were held back: two Kalshi markets auto-accepted against the one
    Polymarket book the same way round would each be priced against it."""
    out = _resolve_ambiguity([_cand("K1", "0xP", False), _cand("K2", "0xP", False), _cand("K3", "0xQ", False)])
    assert [c.reasons for c in out] == [(AMBIGUOUS_MATCH,), (AMBIGUOUS_MATCH,), ()]
    assert [c.confidence for c in out] == [0.485, 0.485, 0.97]
    # the two outcomes of one two-outcome market: one Kalshi market each way is no clash
    assert [c.reasons for c in _resolve_ambiguity([_cand("K1", "0xP", False), _cand("K2", "0xP", True)])] == [(), ()]


def test_a_blocking_key_with_exactly_the_cap_of_postings_is_kept() -> None:
    """C3: the cap is "at most posting_cap postings"."""
    base = extract_features(k_btc())
    fs = [base._replace(block_keys=frozenset({"k:x", f"k:{i}"})) for i in range(3)]
    index = CandidateIndex(fs, posting_cap=3)
    assert "k:x" in index.postings and index.dropped_keys == 0
    index = CandidateIndex(fs, posting_cap=2)
    assert "k:x" not in index.postings and index.dropped_keys == 1


# -- curated pairs ----------------------------------------------------------------------------------


def test_every_check_that_says_two_markets_may_settle_apart_is_a_settlement_doubt() -> None:
    """Q2: a curated pair the matcher holds back as a different bet is priced with a warning naming why;
    moving one such reason (DATE_MISMATCH, say) among the timing and score reasons silenced it."""
    quiet = {LOW_SCORE, "CLOSE_TIME_GAP", "RESOLUTION_TIME_GAP", AMBIGUOUS_MATCH, "MARKET_NOT_OPEN"}
    assert set(settlement_doubts(REASON_CODES)) == set(REASON_CODES) - quiet
    assert settlement_doubts(("POLARITY_CONFLICT", "NOT_MATCHED", "CURATED_ELSEWHERE")) == ()


def test_a_curated_pairs_own_candidate_is_not_held_back_as_curated_elsewhere() -> None:
    """Q4: the candidate of a curated Kalshi market against its own curated Polymarket market was marked
    CURATED_ELSEWHERE (curated with itself), and the curated pair showed that reason."""
    cands = [MatchCandidate("K1", "0xP1", False, 0.97, (), 95.0, {"yes_token": "tok-1"})]
    [pair] = tradable_pairs([CuratedPair("K1", "0xP1", False)], cands, 0.9)
    assert (pair.source, pair.reasons) == ("curated", ())
    assert "why" not in pair.detail


