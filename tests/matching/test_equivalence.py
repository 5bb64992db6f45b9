"""Every hold-back reason code: triggered by a minimal realistic pair, absent from its fixed twin."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orion_cli.core.models import Market, MarketStatus
from orion_cli.matching import MatchCandidate, MatchSettings, evaluate_pair, match_markets
from orion_cli.matching.equivalence import REASON_CODES, evaluate
from orion_cli.matching.normalize import extract_features

from .fixture_markets import (
    all_markets,
    kalshi_game_markets,
    kalshi_market,
    load,
    poly_market,
    poly_nba_markets,
)

SETTINGS = MatchSettings()
CLOSE = datetime(2026, 6, 30, 23, 59, tzinfo=UTC)
RULES_K = "If Bitcoin is above $100,000 on June 30, 2026 per the CF Benchmarks index, the market resolves to Yes."
RULES_P = "This market will resolve to Yes if Bitcoin is above $100,000 on June 30, 2026. Otherwise No."


def k_btc(title: str = "Will Bitcoin be above $100,000 on June 30, 2026?", **kw: Any) -> Market:
    args: dict[str, Any] = {"rules": RULES_K, "close_time": CLOSE, "expected": CLOSE}
    args.update(kw)
    return kalshi_market("KXBTCD-26JUN30-T100000", title, "", **args)


def p_btc(title: str = "Will Bitcoin be above $100k on June 30, 2026?", **kw: Any) -> Market:
    args: dict[str, Any] = {"description": RULES_P, "end": CLOSE}
    args.update(kw)
    return poly_market("0x" + "ab" * 32, title, ["Yes", "No"], ["1", "2"], **args)


def reasons(k: Market, p: Market) -> tuple[str, ...]:
    return evaluate_pair(k, p, settings=SETTINGS).reasons


def test_base_pair_passes_with_high_confidence() -> None:
    c = evaluate_pair(k_btc(), p_btc(), settings=SETTINGS)
    assert c.reasons == ()
    assert c.confidence >= SETTINGS.auto_accept_confidence
    assert c.inverted is False


# (code, broken pair, fixed twin)
Case = tuple[str, Callable[[], tuple[Market, Market]], Callable[[], tuple[Market, Market]]]
CASES: list[Case] = [
    ("ENTITY_MISMATCH",
     lambda: (k_btc(), p_btc("Will Ethereum be above $100k on June 30, 2026?")),
     lambda: (k_btc(), p_btc("Will BTC be above $100k on June 30, 2026?"))),
    ("THRESHOLD_MISMATCH",
     lambda: (k_btc("Will CPI inflation be above 4% in 2026?"), p_btc("Will CPI inflation be above 4.5% in 2026?")),
     lambda: (k_btc("Will CPI inflation be above 4% in 2026?"), p_btc("Will CPI inflation be above 4.0% in 2026?"))),
    ("DIRECTION_MISMATCH",
     lambda: (k_btc("Will Bitcoin be ≥ $100,000 on June 30, 2026?"), p_btc()),
     lambda: (k_btc("Will Bitcoin be > $100,000 on June 30, 2026?"), p_btc())),
    ("DATE_MISMATCH",
     lambda: (k_btc("Will the Fed cut rates by June 30, 2026?"), p_btc("Will the Fed cut rates by December 31, 2026?")),
     lambda: (k_btc("Will the Fed cut rates by June 30, 2026?"), p_btc("Fed rate cut by June 30, 2026?"))),
    ("OPPOSITE_PROPOSITION",
     lambda: (k_btc("Will the Fed cut interest rates by June 30, 2026?"),
              p_btc("Will the Fed hike interest rates by June 30, 2026?")),
     lambda: (k_btc("Will the Fed cut interest rates by June 30, 2026?"),
              p_btc("Will the Fed lower interest rates by June 30, 2026?"))),
    ("SUBJECT_SWAPPED",
     lambda: (k_btc("Will Sinner beat Alcaraz in the 2026 Wimbledon final?"),
              p_btc("Will Alcaraz beat Sinner in the 2026 Wimbledon final?")),
     lambda: (k_btc("Will Sinner beat Alcaraz in the 2026 Wimbledon final?"),
              p_btc("Will Sinner defeat Alcaraz in the 2026 Wimbledon final?"))),
    ("TIME_OF_DAY_MISMATCH",
     lambda: (k_btc("Will Bitcoin be above $100,000 on June 30, 2026 at 5pm ET?"),
              p_btc("Will Bitcoin be above $100k on June 30, 2026 at noon ET?")),
     lambda: (k_btc("Will Bitcoin be above $100,000 on June 30, 2026 at 5pm ET?"),
              p_btc("Will Bitcoin be above $100k on June 30, 2026 at 5:00 PM EDT?"))),
    ("PERIOD_MISMATCH",
     lambda: (k_btc("Will GDP growth exceed 2% in Q3 2026?"), p_btc("Will GDP growth exceed 2% in Q4 2026?")),
     lambda: (k_btc("Will GDP growth exceed 2% in Q3 2026?"), p_btc("GDP growth above 2% in Q3 2026?"))),
    ("CLOSE_TIME_GAP",
     lambda: (k_btc(close_time=CLOSE + timedelta(days=30)), p_btc()),
     lambda: (k_btc(close_time=CLOSE + timedelta(days=3)), p_btc())),
    ("RESOLUTION_TIME_GAP",
     lambda: (k_btc(expected=CLOSE + timedelta(days=3)), p_btc()),
     lambda: (k_btc(expected=CLOSE + timedelta(hours=6)), p_btc())),
    ("OTHER_OUTCOME_ONE_SIDE",
     lambda: (k_btc(), replace(p_btc(), is_other=True)),
     lambda: (k_btc(), p_btc())),
    ("OTHER_OUTCOME_BOTH_SIDES",
     lambda: (replace(k_btc(), is_other=True), replace(p_btc(), is_other=True)),
     lambda: (k_btc(), p_btc())),
    ("FIFTY_FIFTY_ONE_SIDE",
     lambda: (k_btc(), p_btc(description=RULES_P + " If the index is unavailable, this market will resolve 50-50.")),
     lambda: (k_btc(rules=RULES_K + " If the index is unavailable, the market resolves to a fair price."),
              p_btc(description=RULES_P + " If the index is unavailable, this market will resolve 50-50."))),
    ("NEG_RISK_AUGMENTED",
     lambda: (k_btc(), p_btc(neg_risk=True, augmented=True)),
     lambda: (k_btc(), p_btc(neg_risk=True))),
    ("SCALAR_VS_BINARY",
     lambda: (k_btc(market_type="scalar"), p_btc()),
     lambda: (k_btc(), p_btc())),
    ("MARKET_NOT_OPEN",
     lambda: (k_btc(status=MarketStatus.CLOSED), p_btc()),
     lambda: (k_btc(), p_btc())),
    ("PROPOSITION_MISMATCH",
     lambda: (kalshi_market("KXNBA-26-OKC", "Will the Oklahoma City win the 2026 Pro Basketball Finals?",
                            "Oklahoma City", close_time=CLOSE),
              poly_market("0x" + "cd" * 32, "Will Oklahoma City Thunder advance to the 2026 NBA Finals?",
                          ["Yes", "No"], ["3", "4"], group_item_title="Oklahoma City Thunder", end=CLOSE)),
     lambda: (kalshi_market("KXNBA-26-OKC", "Will the Oklahoma City win the 2026 Pro Basketball Finals?",
                            "Oklahoma City", close_time=CLOSE),
              poly_market("0x" + "cd" * 32, "Will the Oklahoma City Thunder win the 2026 NBA Finals?",
                          ["Yes", "No"], ["3", "4"], group_item_title="Oklahoma City Thunder", end=CLOSE))),
]


@pytest.mark.parametrize(("code", "broken", "fixed"), CASES, ids=[c[0] for c in CASES])
def test_reason_code_triggered_and_fixed(
    code: str, broken: Callable[[], tuple[Market, Market]], fixed: Callable[[], tuple[Market, Market]]
) -> None:
    assert code in reasons(*broken())
    assert code not in reasons(*fixed())
    assert reasons(*fixed()) == () or code == "OTHER_OUTCOME_BOTH_SIDES"


def _game(sub: str = "MIL at LAL (Jan 9)") -> list[Market]:
    return kalshi_game_markets("KXNBAGAME-26JAN09MILLAL", "Milwaukee at Los Angeles L", sub)


def _poly_game(question: str, outcomes: list[str], slug: str, sports_type: str, description: str) -> Market:
    end = datetime(2026, 1, 10, 3, 30, tzinfo=UTC)
    return poly_market("0x" + "ef" * 32, question, outcomes, ["5", "6"], description=description, end=end,
                       slug=slug, event_slug="nba-mil-lal-2026-01-09", sports_type=sports_type)


FIFTY = "If the game is canceled entirely, with no make-up game, this market will resolve 50-50."


def test_market_kind_mismatch_moneyline_vs_first_half() -> None:
    mil, _ = _game()
    first_half = _poly_game("Bucks vs. Lakers: 1H Moneyline", ["Bucks", "Lakers"],
                            "nba-mil-lal-2026-01-09-1h-moneyline", "first_half_moneyline", FIFTY)
    full = _poly_game("Bucks vs. Lakers", ["Bucks", "Lakers"], "nba-mil-lal-2026-01-09", "moneyline", FIFTY)
    assert "MARKET_KIND_MISMATCH" in reasons(mil, first_half)
    assert reasons(mil, full) == ()


def test_draw_possible_only_where_games_can_tie() -> None:
    nfl = kalshi_game_markets("KXNFLGAME-26JAN10GBCHI", "Green Bay at Chicago", "GB at CHI (Jan 10)", "football")
    gb = next(m for m in nfl if m.id.endswith("-GB"))
    bears = poly_market("0x" + "12" * 32, "Will the Bears beat the Packers on January 10?", ["Yes", "No"], ["7", "8"],
                        description=FIFTY.replace("game is", "game is tied or"), end=datetime(2026, 1, 11, tzinfo=UTC))
    c = evaluate_pair(gb, bears, settings=SETTINGS)
    assert c.inverted and "DRAW_POSSIBLE" in c.reasons
    mil, _ = _game()
    lakers = poly_market("0x" + "34" * 32, "Will the Lakers beat the Bucks on January 9?", ["Yes", "No"], ["9", "10"],
                         description=FIFTY, end=datetime(2026, 1, 10, 3, 30, tzinfo=UTC))
    c2 = evaluate_pair(mil, lakers, settings=SETTINGS)
    assert c2.inverted and "DRAW_POSSIBLE" not in c2.reasons and c2.reasons == ()


def test_low_score() -> None:
    k = kalshi_market("KXWEIRD-1", "Will it happen?", "", close_time=CLOSE)
    p = poly_market("0x" + "56" * 32, "Something else entirely", ["Yes", "No"], ["1", "2"], end=CLOSE)
    c = evaluate(k, p, extract_features(k), extract_features(p), 20.0, SETTINGS)
    assert c.reasons == ("LOW_SCORE",)
    c_hi = evaluate(k_btc(), p_btc(), extract_features(k_btc()), extract_features(p_btc()), 90.0, SETTINGS)
    assert "LOW_SCORE" not in c_hi.reasons


def test_an_auto_accept_confidence_of_1_trades_curated_pairs_only() -> None:
    """Found in review: the documented off switch did not hold: a title score of 100 gives a
    confidence of exactly 1.0, so at 1 such a candidate was still accepted without curation."""
    k, p = k_btc(), p_btc()
    perfect = evaluate(k, p, extract_features(k), extract_features(p), 100.0, SETTINGS)
    assert perfect.reasons == () and perfect.confidence == 1.0  # accepted at any threshold below 1
    off = replace(SETTINGS, auto_accept_confidence=1.0)
    held = evaluate(k, p, extract_features(k), extract_features(p), 100.0, off)
    assert held.reasons == ("LOW_SCORE",) and "curated pairs only" in held.detail["why"][0]
    assert not match_markets([k], [p], settings=off).accepted


def test_ambiguous_match_when_two_markets_both_pass() -> None:
    twin = replace(p_btc(), id="0x" + "99" * 32)
    res = match_markets([k_btc()], [p_btc(), twin], settings=SETTINGS)
    assert not res.accepted
    assert all("AMBIGUOUS_MATCH" in c.reasons for c in res.held_back) and len(res.held_back) == 2
    res1 = match_markets([k_btc()], [p_btc()], settings=SETTINGS)
    assert len(res1.accepted) == 1 and res1.accepted[0].reasons == ()


def test_every_reason_code_is_covered_here() -> None:
    covered = {c[0] for c in CASES} | {"MARKET_KIND_MISMATCH", "DRAW_POSSIBLE", "LOW_SCORE", "AMBIGUOUS_MATCH"}
    assert covered == set(REASON_CODES)


# --- polarity -----------------------------------------------------------------------------------


def test_polarity_synthetic_team_a_vs_team_b() -> None:
    mil, lal = _game()
    bucks_win = poly_market("0x" + "77" * 32, "Will the Bucks beat the Lakers on January 9?", ["Yes", "No"], ["1", "2"],
                            description=FIFTY, end=datetime(2026, 1, 10, 3, 30, tzinfo=UTC))
    assert evaluate_pair(mil, bucks_win, settings=SETTINGS).inverted is False
    assert evaluate_pair(lal, bucks_win, settings=SETTINGS).inverted is True
    assert evaluate_pair(lal, bucks_win, settings=SETTINGS).reasons == ()


def test_polarity_on_real_nba_moneylines() -> None:
    """Kalshi per-team markets vs the real Polymarket moneylines, polarity checked against the
    third-party token map of nba_pairs_config.json (token of team X == YES token ⇔ direct)."""
    config = [m for m in load("nba_pairs_config.json")["markets"] if m["sport"] == "NBA"]
    poly = {m.id: m for m in poly_nba_markets()}
    kalshi = {m.id: m for m in all_markets()[0]}
    checked = 0
    for cfg in config:
        pm = poly[cfg["poly_condition_id"]]
        for side in ("main", "opponent"):
            km = kalshi[cfg["kalshi"]["markets"][side]]
            code = km.id.rsplit("-", 1)[1]
            c = evaluate_pair(km, pm, settings=SETTINGS)
            assert c.reasons == (), (km.id, c.detail.get("why"))
            assert c.inverted is (cfg["poly_token_ids"][code] != pm.yes_token), km.id
            checked += 1
    assert checked == 30


def test_record_is_json_friendly() -> None:
    rec = evaluate_pair(k_btc(), p_btc(), settings=SETTINGS).to_record()
    assert rec["type"] == "candidate"
    assert set(rec) >= {"kalshi_id", "polymarket_id", "inverted", "confidence", "reasons"}
    json.dumps(rec)


def test_early_closing_kalshi_market_close_time_is_a_backstop() -> None:
    """Kalshi markets that can close early carry close_time = latest expiration (weeks later in real
    captures); that is no CLOSE_TIME_GAP when Polymarket closes first and the expected times agree."""
    late = k_btc(close_time=CLOSE + timedelta(days=30), expected=CLOSE)
    early_closing = replace(late, extra={**late.extra, "can_close_early": "true"})
    assert "CLOSE_TIME_GAP" in reasons(late, p_btc())
    assert "CLOSE_TIME_GAP" not in reasons(early_closing, p_btc())
    assert reasons(early_closing, p_btc()) == ()
    # The backstop only stretches one way: a Kalshi market closing long *before* Polymarket still differs.
    early = replace(k_btc(close_time=CLOSE - timedelta(days=30), expected=CLOSE),
                    extra={"can_close_early": "true"})
    assert "CLOSE_TIME_GAP" in reasons(early, p_btc())


# --------------------------------------------------------------------------------------------------
# Pairs that settle differently (or the other way round) but were auto-accepted as direct at the
# shipped auto_accept_confidence (0.97): `orion scan` priced each as a hedge that is not one (in some
# outcome both legs lose). Each has controls that must still pass, so the fix is not "hold all back".

_SHIPPED = MatchSettings(auto_accept_confidence=0.97, close_time_tolerance=timedelta(hours=48),
                         resolution_time_tolerance=timedelta(hours=36))
_DEC31 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)


def _yes_no_pair(k_title: str, p_title: str, *, k_label: str = "", p_label: str = "",
                 k_close: datetime = _DEC31, p_close: datetime = _DEC31) -> tuple[Market, Market]:
    k = kalshi_market("KXREV-26DEC31-T1", k_title, k_label, close_time=k_close)
    p = poly_market("0x" + "cd" * 32, p_title, ["Yes", "No"], ["11", "22"], end=p_close, group_item_title=p_label)
    return k, p


def _auto_accepted_direct(k: Market, p: Market) -> bool:
    c = evaluate_pair(k, p, settings=_SHIPPED)
    return c.passed and not c.inverted


def _accepted(k: Market, p: Market) -> MatchCandidate:
    c = evaluate_pair(k, p, settings=_SHIPPED)
    assert c.reasons == (), c.detail.get("why")
    return c


@pytest.mark.parametrize(("k_title", "p_title"), [
    ("Will Elon Musk tweet about Dogecoin by Dec 30, 2026?",
     "Will Elon Musk tweet about Dogecoin by December 31, 2026?"),
    ("Will Elon Musk tweet about Dogecoin before Dec 31, 2026?",
     "Will Elon Musk tweet about Dogecoin by December 31, 2026?"),
])
def test_deadlines_one_day_apart_are_held_back(k_title: str, p_title: str) -> None:
    """A tweet on Dec 31 makes "by Dec 30" NO and "by Dec 31" YES: K-NO + P-YES then loses both legs.
    A stated calendar deadline is exact; time-zone slop is the close and resolution times' business."""
    assert "DATE_MISMATCH" in evaluate_pair(*_yes_no_pair(k_title, p_title), settings=_SHIPPED).reasons
    assert "DATE_MISMATCH" in evaluate_pair(*_yes_no_pair(p_title, k_title), settings=_SHIPPED).reasons


@pytest.mark.parametrize(("k_title", "p_title"), [
    ("Will Elon Musk tweet about Dogecoin by Dec 31, 2026?",
     "Will Elon Musk tweet about Dogecoin by December 31, 2026?"),
    ("Will Elon Musk tweet about Dogecoin before Jan 1, 2027?",
     "Will Elon Musk tweet about Dogecoin by December 31, 2026?"),
    ("Will Elon Musk tweet about Dogecoin before 2027?",
     "Will Elon Musk tweet about Dogecoin by December 31, 2026?"),
    ("Will Elon Musk tweet about Dogecoin before Jan 2027?",
     "Will Elon Musk tweet about Dogecoin by December 31?"),
])
def test_the_same_deadline_worded_differently_still_passes(k_title: str, p_title: str) -> None:
    assert not _accepted(*_yes_no_pair(k_title, p_title)).inverted


# The demo's UpOnly pair: each venue's event title states the event's deadline too ("…before 2027").
_UPONLY_K_EVENT = "UpOnly Podcast guests before 2027"
_UPONLY_P_EVENT = "Which guests will appear on the UpOnly podcast before 2027?"
_UPONLY_K = "Will Brian Armstrong be on UpOnly Podcast before Jan 2027?"
_UPONLY_P = "Will Brian Armstrong appear on the UpOnly podcast by December 31?"


def _uponly_pair(k_title: str, p_title: str, *, p_close: datetime = datetime(2027, 1, 1, 5, tzinfo=UTC),
                 k_event: str = _UPONLY_K_EVENT, p_event: str = _UPONLY_P_EVENT) -> tuple[Market, Market]:
    k = replace(kalshi_market("KXUPONLY-01-BRIA", k_title, "Brian Armstrong",
                              close_time=datetime(2027, 1, 1, 15, tzinfo=UTC)), event_title=k_event)
    p = poly_market("0x" + "cd" * 32, p_title, ["Yes", "No"], ["11", "22"], end=p_close, event_title=p_event)
    return k, p


@pytest.mark.parametrize(("k_title", "p_title", "p_close"), [
    # the market's own "by December 30, 2026" under an event "before 2027" (= by Dec 31, 2026)
    (_UPONLY_K, "Will Brian Armstrong appear on the UpOnly podcast by December 30, 2026?",
     datetime(2026, 12, 31, 5, tzinfo=UTC)),
    # "before Dec 31" is "by Dec 30", whatever the event's "before 2027" says
    ("Will Brian Armstrong be on UpOnly Podcast before Dec 31, 2026?",
     "Will Brian Armstrong appear on the UpOnly podcast by December 31, 2026?", datetime(2027, 1, 1, 5, tzinfo=UTC)),
    # a year apart
    ("Will Brian Armstrong be on UpOnly Podcast by December 31, 2026?",
     "Will Brian Armstrong appear on the UpOnly podcast by December 31, 2025?", datetime(2027, 1, 1, 5, tzinfo=UTC)),
])
def test_an_event_title_s_deadline_does_not_mask_the_market_s_own(k_title: str, p_title: str,
                                                                  p_close: datetime) -> None:
    """Found by a black-box review: the event title was read with the market's, so the event's "before
    2027" was a second deadline on the side whose own differed, and only the latest of each side's was
    compared: the pair passed at 0.97 and was traded, though an appearance on Dec 31 loses both legs.
    A market's own deadline governs; the event's is context for a market that states none."""
    for k, p in (_uponly_pair(k_title, p_title, p_close=p_close),
                 _uponly_pair(p_title, k_title, p_close=p_close)):  # whichever side states which
        c = evaluate_pair(k, p, settings=_SHIPPED)
        assert "DATE_MISMATCH" in c.reasons, c.detail
    # The same pair without the event titles was already held back.
    k, p = _uponly_pair(k_title, p_title, p_close=p_close, k_event="", p_event="")
    assert "DATE_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons


def test_an_event_title_s_deadline_still_dates_a_market_that_states_none() -> None:
    """The demo's true pair still passes, and a market whose own title states no date takes its event's:
    "…appear on the UpOnly podcast?" under "…before 2027?" is the Kalshi "before Jan 2027", and under
    "…before 2026?" it is not."""
    c = evaluate_pair(*_uponly_pair(_UPONLY_K, _UPONLY_P), settings=SETTINGS)
    assert c.reasons == () and not c.inverted, c.detail
    undated = "Will Brian Armstrong appear on the UpOnly podcast?"
    k, p = _uponly_pair(_UPONLY_K, undated)
    assert evaluate_pair(k, p, settings=SETTINGS).reasons == ()
    k, p = _uponly_pair(_UPONLY_K, undated, p_event="Which guests will appear on the UpOnly podcast before 2026?")
    assert evaluate_pair(k, p, settings=SETTINGS).reasons == ("DATE_MISMATCH",)


def test_markets_whose_own_deadlines_agree_pass_whatever_their_event_titles_say() -> None:
    """Both "by December 30, 2026", one under an event "…before 2027?": the event's deadline is not the
    market's, so it neither passes a pair whose own deadlines differ nor holds back one whose agree."""
    k, p = _uponly_pair("Will Brian Armstrong be on UpOnly Podcast by Dec 30, 2026?",
                        "Will Brian Armstrong appear on the UpOnly podcast by December 30, 2026?",
                        k_event="UpOnly Podcast guests", p_close=datetime(2026, 12, 31, 5, tzinfo=UTC))
    c = evaluate_pair(k, p, settings=SETTINGS)
    assert c.reasons == (), c.detail


def test_a_market_stating_two_deadlines_is_held_back_unless_the_other_states_both() -> None:
    """Every deadline a side states must be one the other states: the latest alone passed a market
    "by December 30, 2026 (before 2027)" against "before Jan 2027"."""
    two = "Will Brian Armstrong appear on the UpOnly podcast by December 30, 2026 (before 2027)?"
    k, p = _uponly_pair(_UPONLY_K, two, p_event="")
    c = evaluate_pair(k, p, settings=_SHIPPED)
    assert "DATE_MISMATCH" in c.reasons, c.detail
    assert "deadline 2026-12-31 vs 2026-12-30, 2026-12-31" in " ".join(c.detail["why"])
    k, p = _uponly_pair("Will Brian Armstrong be on UpOnly Podcast by Dec 30, 2026 (before 2027)?", two,
                        p_event="")
    assert "DATE_MISMATCH" not in evaluate_pair(k, p, settings=_SHIPPED).reasons


_BTC_5PM = "Will Bitcoin be above $100,000 on Dec 31, 2026 at 5pm ET?"
_FIVE_PM_ET, _NOON_ET = datetime(2026, 12, 31, 22, 0, tzinfo=UTC), datetime(2026, 12, 31, 17, 0, tzinfo=UTC)


def test_a_different_time_of_day_is_a_different_bet() -> None:
    """Bitcoin's price at 5pm ET and at noon ET on one day are two bets; the close times (22:00Z and
    17:00Z) are within every tolerance, so only the stated times can tell them apart."""
    k, p = _yes_no_pair(_BTC_5PM, "Will Bitcoin be above $100,000 on December 31, 2026 at 12pm ET?",
                        k_close=_FIVE_PM_ET, p_close=_NOON_ET)
    c = evaluate_pair(k, p, settings=_SHIPPED)
    assert c.reasons == ("TIME_OF_DAY_MISMATCH",), c.detail.get("why")
    assert "17:00 ET" in c.detail["why"][0] and "12:00 ET" in c.detail["why"][0]


@pytest.mark.parametrize("p_title", [
    "Will Bitcoin be above $100,000 on December 31, 2026 at 5pm ET?",
    "Will Bitcoin be above $100,000 on December 31, 2026 at 5:00 PM EST?",
    "Will Bitcoin be above $100,000 on December 31, 2026 at 22:00 UTC?",
])
def test_the_same_time_of_day_worded_differently_still_passes(p_title: str) -> None:
    assert not _accepted(*_yes_no_pair(_BTC_5PM, p_title, k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)).inverted


@pytest.mark.parametrize("k_title", [
    "Will Bitcoin be above $100,000 on Dec 31, 2026 at 12:00:00 PM ET?",
    "Will Bitcoin be above $100,000 on Dec 31, 2026 at 1200 ET?",
    "Will Bitcoin be above $100,000 on Dec 31, 2026 at 4:59:59 PM ET?",
    "Will Bitcoin be above $100,000 on Dec 31, 2026 at 16:59:59 ET?",
])
def test_times_with_seconds_or_four_digits_are_read(k_title: str) -> None:
    """Found in review: "12:00:00 PM ET" and "1200 ET" were no time at all, so against "5pm ET" only
    Polymarket stated one, which was its own close: auto-accepted, a noon bet against a 5pm one. A
    second off is another instant too ("4:59:59 PM" is not "5pm")."""
    k, p = _yes_no_pair(k_title, _BTC_5PM, k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)
    assert "TIME_OF_DAY_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons
    k, p = _yes_no_pair(_BTC_5PM, k_title, k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)
    assert "TIME_OF_DAY_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons


@pytest.mark.parametrize("p_title", [
    "Will Bitcoin be above $100,000 on December 31, 2026 at 5:00:00 PM ET?",
    "Will Bitcoin be above $100,000 on December 31, 2026 at 1700 ET?",
    "Will Bitcoin be above $100,000 on December 31, 2026 at 2200 UTC?",
])
def test_the_same_time_with_seconds_or_four_digits_still_passes(p_title: str) -> None:
    assert not _accepted(*_yes_no_pair(_BTC_5PM, p_title, k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)).inverted


_BTC_AT = "Will Bitcoin be above $100,000 on Dec 31, 2026 at {}?"


@pytest.mark.parametrize(("k_time", "p_time"), [
    ("5pm CET", "5pm BST"),
    ("5pm CET", "5pm"),
    ("5pm CET", "5pm CEST"),
    ("17:00 UTC+1", "17:00 UTC"),
    ("5pm JST", "5pm ET"),
])
def test_a_time_in_a_zone_orion_cannot_convert_is_not_another_zones(k_time: str, p_time: str) -> None:
    """Found in review: "CET", "BST" and other zones were not read, so "5pm CET" was a zoneless "5pm",
    equal in words to "5pm BST" or "5pm", and "UTC+1" was read as "UTC": all auto-accepted, an hour or
    more apart. Such a zone is now kept as written: equal only to the same words, never converted."""
    for a, b in ((k_time, p_time), (p_time, k_time)):
        k, p = _yes_no_pair(_BTC_AT.format(a), _BTC_AT.format(b), k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)
        assert "TIME_OF_DAY_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons


@pytest.mark.parametrize(("k_time", "p_time"), [
    ("5pm Eastern", "5pm Pacific"),
    ("5pm Eastern Time", "5pm CT"),
    ("5pm Eastern", "5pm"),
    ("5pm Central European Time", "5pm Central"),
    # found in review: "Pacific/Auckland" (New Zealand) was read as PT and passed against "5pm PT" (0.992)
    ("5pm Pacific/Auckland", "5pm PT"),
    ("5pm Pacific/Auckland", "5pm Pacific"),
    ("5pm Pacific/Auckland", "5pm Pacific/Honolulu"),  # two IANA zones: equal only by name
    ("5pm America/Chicago", "5pm Central"),  # not converted: held, the safe side
])
def test_a_us_zone_in_words_is_that_zone(k_time: str, p_time: str) -> None:
    """Found in review: a zone in words was no zone, so "5pm Eastern" and "5pm Pacific" were the same
    zoneless words and auto-accepted (0.991), three hours apart."""
    for a, b in ((k_time, p_time), (p_time, k_time)):
        k, p = _yes_no_pair(_BTC_AT.format(a), _BTC_AT.format(b), k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)
        assert "TIME_OF_DAY_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons


def test_a_time_in_a_zone_orion_cannot_convert_on_one_side_only_is_held_back() -> None:
    k, p = _yes_no_pair(_BTC_AT.format("11pm CET"), "Will Bitcoin be above $100,000 on December 31, 2026?",
                        k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)
    assert "TIME_OF_DAY_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons


@pytest.mark.parametrize(("k_time", "p_time"), [
    ("5pm CET", "5pm CET"),  # the same words: the same instant, whatever CET's offset
    ("23:00 UTC+1", "22:00 UTC"),  # an offset is converted
    ("5pm ET", "2200 GMT+0"),
    ("5pm Eastern", "5pm ET"),
    ("5pm Eastern Time", "22:00 UTC"),
    ("2pm Pacific", "5:00 PM EST"),
])
def test_the_same_time_in_another_zone_still_passes(k_time: str, p_time: str) -> None:
    assert not _accepted(*_yes_no_pair(_BTC_AT.format(k_time), _BTC_AT.format(p_time),
                                       k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)).inverted


def test_the_same_time_of_day_is_the_same_instant_across_daylight_saving() -> None:
    july = datetime(2026, 7, 1, 21, 0, tzinfo=UTC)  # 5pm EDT
    k, p = _yes_no_pair("Will Bitcoin be above $100,000 on Jul 1, 2026 at 5pm ET?",
                        "Will Bitcoin be above $100,000 on July 1, 2026 at 21:00 UTC?", k_close=july, p_close=july)
    assert _accepted(k, p).reasons == ()
    k, p = _yes_no_pair(_BTC_5PM, "Will Bitcoin be above $100,000 on December 31, 2026 at 21:00 UTC?",
                        k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)
    assert "TIME_OF_DAY_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons


@pytest.mark.parametrize(("stated", "utc", "same"), [
    ("12:30am ET", "05:30 UTC", True),  # still EST: the change is at 02:00
    ("12:30am ET", "04:30 UTC", False),  # read as EDT for the whole day, this was paired as the same time
    ("3:30am ET", "07:30 UTC", True),
])
def test_a_time_before_two_on_the_day_daylight_saving_begins_is_still_standard_time(stated: str, utc: str,
                                                                                    same: bool) -> None:
    close = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    k, p = _yes_no_pair(f"Will Bitcoin be above $100,000 on March 8, 2026 at {stated}?",
                        f"Will Bitcoin be above $100,000 on March 8, 2026 at {utc}?", k_close=close, p_close=close)
    reasons = evaluate_pair(k, p, settings=_SHIPPED).reasons
    assert ("TIME_OF_DAY_MISMATCH" not in reasons) is same, reasons


def test_a_time_of_day_stated_on_one_side_must_be_the_other_sides_resolution_time() -> None:
    """Kalshi says 5pm ET; Polymarket states no time and resolves at noon ET (its close, 17:00Z): the
    same trap, which the close-time tolerance cannot see. At 22:00Z it is the same instant."""
    p_title = "Will Bitcoin be above $100,000 on December 31, 2026?"
    noon = evaluate_pair(*_yes_no_pair(_BTC_5PM, p_title, k_close=_FIVE_PM_ET, p_close=_NOON_ET), settings=_SHIPPED)
    assert noon.reasons == ("TIME_OF_DAY_MISMATCH",), noon.detail.get("why")
    flipped = evaluate_pair(*_yes_no_pair(p_title, _BTC_5PM, k_close=_NOON_ET, p_close=_FIVE_PM_ET), settings=_SHIPPED)
    assert flipped.reasons == ("TIME_OF_DAY_MISMATCH",)
    assert _accepted(*_yes_no_pair(_BTC_5PM, p_title, k_close=_FIVE_PM_ET,
                                   p_close=_FIVE_PM_ET - timedelta(seconds=1))).reasons == ()
    # a time with no zone cannot be placed: held back, not guessed
    no_zone = _yes_no_pair("Will Bitcoin be above $100,000 on Dec 31, 2026 at 5pm?", p_title,
                           k_close=_FIVE_PM_ET, p_close=_FIVE_PM_ET)
    assert "TIME_OF_DAY_MISMATCH" in evaluate_pair(*no_zone, settings=_SHIPPED).reasons


_OU = "Lakers vs. Celtics: O/U 229.5"


def _labelled_pair(title: str, k_label: str, p_outcomes: list[str]) -> tuple[Market, Market]:
    k = kalshi_market("KXREV-26DEC31-T1", title, k_label, close_time=_DEC31)
    p = poly_market("0x" + "cd" * 32, title, p_outcomes, ["11", "22"], end=_DEC31)
    return k, p


@pytest.mark.parametrize(("title", "k_label", "p_outcomes"), [
    (_OU, "Over", ["Under", "Over"]),
    (_OU, "Under", ["Over", "Under"]),
    ("Bitcoin Up or Down on December 31, 2026?", "Up", ["Down", "Up"]),
])
def test_direction_labels_decide_polarity(title: str, k_label: str, p_outcomes: list[str]) -> None:
    """Kalshi YES = "Over", Polymarket YES token = "Under" (its first outcome): Kalshi YES settles like
    Polymarket NO. The Polymarket market names Kalshi's YES as its other outcome, so that is certain."""
    k, p = _labelled_pair(title, k_label, p_outcomes)
    assert not _auto_accepted_direct(k, p)
    assert _accepted(k, p).inverted


@pytest.mark.parametrize(("title", "k_label", "p_outcomes"), [
    (_OU, "Over", ["Over", "Under"]),
    (_OU, "Under", ["Under", "Over"]),
    ("Bitcoin Up or Down on December 31, 2026?", "Up", ["Up", "Down"]),
    ("Bitcoin Up or Down on December 31, 2026?", "Down", ["Down", "Up"]),
])
def test_the_same_direction_label_is_still_direct(title: str, k_label: str, p_outcomes: list[str]) -> None:
    assert not _accepted(*_labelled_pair(title, k_label, p_outcomes)).inverted


def test_a_direction_label_that_its_market_does_not_pin_down_is_held_back() -> None:
    # Opposite labels, but neither market names the other's YES as its other outcome.
    k, p = _labelled_pair(_OU, "Over", ["Under", "Push"])
    assert "DIRECTION_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons
    # YES = Under on one side, a yes/no "over" question on the other: the title's "O/U" reads as over.
    k, p = _labelled_pair(_OU, "Under", ["Yes", "No"])
    assert "DIRECTION_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons
    # Up/Down on one side only: no strike to check it against.
    k = kalshi_market("KXREV-26DEC31-T1", "Bitcoin Up or Down on December 31, 2026?", "Up", close_time=_DEC31)
    p = poly_market("0x" + "cd" * 32, "Will Bitcoin go up on December 31, 2026?", ["Yes", "No"], ["11", "22"],
                    end=_DEC31)
    assert "DIRECTION_MISMATCH" in evaluate_pair(k, p, settings=_SHIPPED).reasons


def test_a_direction_label_that_agrees_with_its_own_strike_is_compared_as_the_strike() -> None:
    """Polymarket's totals (["Over", "Under"], "O/U 229.5") against Kalshi's "over"/"under" questions:
    the label says what the strike says, and the strikes decide (under 229.5 is the NO of over 229.5).
    Worded apart, these score under the shipped 0.97, so the matcher's default (0.9) accepts them."""
    p = poly_market("0x" + "cd" * 32, _OU, ["Over", "Under"], ["11", "22"], end=_DEC31)
    over = kalshi_market("KXREV-26DEC31-T1", "Lakers vs. Celtics: Total Points over 229.5?", "", close_time=_DEC31)
    under = kalshi_market("KXREV-26DEC31-T2", "Lakers vs. Celtics: Total Points under 229.5?", "", close_time=_DEC31)
    under_labelled = replace(under, outcome_label="Under")  # label and strike agree: inverted once, not twice
    verdicts = [evaluate_pair(k, p, settings=SETTINGS) for k in (over, under, under_labelled)]
    assert [(c.reasons, c.inverted) for c in verdicts] == [((), False), ((), True), ((), True)]



@pytest.mark.parametrize(("k_title", "p_title"), [
    ("Will Trump win the 2028 presidential election?", "Will Trump lose the 2028 presidential election?"),
    ("Will Trump win the 2028 presidential election?", "Will Trump not win the 2028 presidential election?"),
    ("Will Trump win the 2028 presidential election?", "Trump won't win the 2028 presidential election?"),
    ("Will the Fed cut rates in December 2026?", "Will the Fed hike rates in December 2026?"),
    ("Will the Fed cut rates in December 2026?", "Will the Fed hold rates in December 2026?"),
    ("Will the Lakers make the 2027 playoffs?", "Will the Lakers miss the 2027 playoffs?"),
    ("Will the Lakers be in the 2027 playoffs?", "Will the Lakers miss the 2027 playoffs?"),
    ("Will the Lakers win the 2027 NBA Finals?", "Will the Lakers lose the 2027 NBA Finals?"),
    ("Will Powell remain Fed chair through 2026?", "Will Powell leave the Fed by December 31, 2026?"),
    ("Will the Senate pass the budget bill by Dec 31, 2026?", "Will the budget bill fail by December 31, 2026?"),
    # found in review: outside the word list, each was auto-accepted (0.951–0.990)
    ("Will Trump win the 2028 presidential election?", "Will Trump be defeated in the 2028 presidential election?"),
    ("Will Trump win the 2028 presidential election?", "Will anyone but Trump win the 2028 presidential election?"),
    ("Will Trump win the 2028 presidential election?",
     "Will someone other than Trump win the 2028 presidential election?"),
    ("Will Trump be convicted by Dec 31, 2026?", "Will Trump be acquitted by Dec 31, 2026?"),
    ("Will Trump be found guilty by Dec 31, 2026?", "Will Trump be acquitted by Dec 31, 2026?"),
    # found in review: "beaten by" read as "lose" made both sides "lose" with opposite losers (0.9748)
    ("Will Sinner lose to Alcaraz in the 2027 Wimbledon men's singles final?",
     "Will Alcaraz be beaten by Sinner in the 2027 Wimbledon men's singles final?"),
    ("Will Sinner lose to Alcaraz in the 2027 Wimbledon final?",
     "Will Alcaraz be beaten by Sinner in the 2027 Wimbledon final?"),
])
def test_opposite_propositions_are_not_auto_accepted_as_the_same_bet(k_title: str, p_title: str) -> None:
    """Each was auto-accepted as direct (0.978–0.996): K-YES + P-NO pays nothing in one outcome. Held
    back, not inverted: "wins" and "loses" are both NO if the election is not held, and only the rules
    can say whether two such markets are complements (`orion pairs add --inverted` if they are)."""
    for k, p in (_yes_no_pair(k_title, p_title), _yes_no_pair(p_title, k_title)):
        assert not _auto_accepted_direct(k, p)
        assert "OPPOSITE_PROPOSITION" in evaluate_pair(k, p, settings=_SHIPPED).reasons


@pytest.mark.parametrize(("k_title", "p_title"), [
    ("Will the Lakers beat the Celtics on Dec 31, 2026?", "Will the Lakers defeat the Celtics on Dec 31, 2026?"),
    ("Will Trump win the 2028 presidential election?", "Will Donald Trump win the 2028 presidential election?"),
    ("Will Trump not win the 2028 presidential election?", "Will Trump not win the 2028 presidential election?"),
    ("Will the Fed cut interest rates in December 2026?", "Will the Fed cut interest rates in December 2026?"),
    ("Will the Fed cut interest rates in December 2026?", "Will the Fed lower interest rates in December 2026?"),
    ("Will the Fed hike interest rates in December 2026?", "Will the Fed raise interest rates in December 2026?"),
    ("Will the Lakers make the 2027 NBA playoffs?", "Will the Lakers qualify for the 2027 NBA playoffs?"),
    ("Will the Lakers miss the 2027 playoffs?", "Will the Lakers miss the 2027 playoffs?"),
    ("Will Powell remain Fed chair through 2026?", "Will Powell stay Fed chair through 2026?"),
    ("Will Powell resign as Fed chair by Dec 31, 2026?", "Will Powell step down as Fed chair by December 31, 2026?"),
    ("Will unemployment be not less than 5% in December 2026?", "Will unemployment be at least 5% in December 2026?"),
    ("Will Trump lose the 2028 presidential election?", "Will Trump be defeated in the 2028 presidential election?"),
    ("Will Trump be convicted by Dec 31, 2026?", "Will Trump be convicted by December 31, 2026?"),
    ("Will Trump be acquitted by Dec 31, 2026?", "Will Trump be acquitted by December 31, 2026?"),
    ("Will Alcaraz be beaten by Sinner in the 2027 Wimbledon final?",
     "Alcaraz beaten by Sinner in the 2027 Wimbledon final?"),
])
def test_the_same_proposition_worded_differently_still_passes(k_title: str, p_title: str) -> None:
    assert not _accepted(*_yes_no_pair(k_title, p_title)).inverted
    assert not _accepted(*_yes_no_pair(p_title, k_title)).inverted


# --- two-party propositions: which party YES favours -----------------------------------------------

_WIMBLEDON = "in the 2027 Wimbledon final?"


@pytest.mark.parametrize(("k_title", "p_title"), [
    # found in review: each was auto-accepted as direct (0.97–1.0), though YES on one is NO on the other
    ("Will Sinner beat Alcaraz in the final?", "Will Alcaraz beat Sinner in the final?"),
    (f"Will Sinner defeat Alcaraz {_WIMBLEDON}", f"Will Alcaraz defeat Sinner {_WIMBLEDON}"),
    ("Sinner vs Alcaraz: will Sinner win the 2027 Wimbledon final?",
     "Sinner vs Alcaraz: will Alcaraz win the 2027 Wimbledon final?"),
    (f"Will Sinner beat Alcaraz {_WIMBLEDON}", "Sinner vs Alcaraz: will Alcaraz win the 2027 Wimbledon final?"),
    ("Will Arsenal win against Chelsea on Dec 31, 2026?", "Will Chelsea win against Arsenal on Dec 31, 2026?"),
    ("Will Trump get more votes than Harris in Pennsylvania in 2028?",
     "Will Harris get more votes than Trump in Pennsylvania in 2028?"),
    ("Will Trump get more votes than Harris in Pennsylvania in 2028?",
     "Will Trump get fewer votes than Harris in Pennsylvania in 2028?"),
    ("Will Sinner finish ahead of Alcaraz in the 2027 ATP rankings?",
     "Will Alcaraz finish ahead of Sinner in the 2027 ATP rankings?"),
    # a verb orion does not read, naming the parties the other way round, is doubt: held, not passed
    (f"Will Sinner beat Alcaraz {_WIMBLEDON}", f"Will Alcaraz edge Sinner {_WIMBLEDON}"),
    (f"Will Sinner beat Alcaraz {_WIMBLEDON}", f"Will Sinner be edged by Alcaraz {_WIMBLEDON}"),
    # already held for other reasons (the passive's stance, two subjects), now also for the swap
    (f"Will Alcaraz be beaten by Sinner {_WIMBLEDON}", f"Will Alcaraz beat Sinner {_WIMBLEDON}"),
    ("Will BTC outperform ETH in 2026?", "Will ETH outperform BTC in 2026?"),
    ("Will Trump's approval rating be higher than Biden's on Dec 31, 2026?",
     "Will Biden's approval rating be higher than Trump's on Dec 31, 2026?"),
])
def test_swapped_subjects_are_not_auto_accepted_as_the_same_bet(k_title: str, p_title: str) -> None:
    """Same words, the two parties the other way round: K-YES + P-NO is then a bet on one party twice.
    Held back, not inverted: only the rules say whether a retirement, a walkover or a tie settles the
    two as complements (`orion pairs add --inverted` if they do)."""
    for k, p in (_yes_no_pair(k_title, p_title), _yes_no_pair(p_title, k_title)):
        c = evaluate_pair(k, p, settings=_SHIPPED)
        assert not _auto_accepted_direct(k, p)
        assert "SUBJECT_SWAPPED" in c.reasons, (c.reasons, c.detail.get("why"))


@pytest.mark.parametrize(("k_title", "p_title"), [
    (f"Will Sinner beat Alcaraz {_WIMBLEDON}", f"Will Jannik Sinner beat Carlos Alcaraz {_WIMBLEDON}"),
    (f"Will Sinner beat Alcaraz {_WIMBLEDON}", f"Will Sinner edge Alcaraz {_WIMBLEDON}"),
    ("Sinner vs. Alcaraz: will Sinner win the 2027 Wimbledon final?",
     "Sinner vs Alcaraz: will Sinner win the 2027 Wimbledon final?"),
    ("Will Arsenal win against Chelsea on Dec 31, 2026?", "Will Arsenal win against Chelsea on Dec 31, 2026?"),
    ("Will Trump get more votes than Harris in Pennsylvania in 2028?",
     "Will Trump get more votes than Kamala Harris in Pennsylvania in 2028?"),
    ("Will Trump get more votes than Harris in Pennsylvania in 2028?",
     "Will Harris get fewer votes than Trump in Pennsylvania in 2028?"),
    ("Will Sinner finish ahead of Alcaraz in the 2027 ATP rankings?",
     "Will Sinner finish ahead of Alcaraz in the 2027 ATP rankings?"),
    ("Will BTC outperform ETH in 2026?", "Will Bitcoin outperform Ethereum in 2026?"),
    (f"Will Alcaraz be beaten by Sinner {_WIMBLEDON}", f"Alcaraz beaten by Sinner {_WIMBLEDON}"),
    # the passive of another verb names a party second without favouring it: no order is read into it
    ("Will the bill be passed by Congress by Dec 31, 2026?", "Will the bill pass Congress by Dec 31, 2026?"),
    ("Will Musk be sued by the SEC by Dec 31, 2026?", "Will Musk face an SEC lawsuit by Dec 31, 2026?"),
])
def test_the_same_parties_the_same_way_round_still_pass(k_title: str, p_title: str) -> None:
    assert not _accepted(*_yes_no_pair(k_title, p_title)).inverted
    assert not _accepted(*_yes_no_pair(p_title, k_title)).inverted


def test_a_head_to_head_markets_yes_is_its_first_outcome() -> None:
    """Found in review: a Kalshi "Will Alcaraz beat Sinner?" passed as direct (0.979) against a
    Polymarket head-to-head whichever player its YES (first) outcome was."""
    k = kalshi_market("KXREV-26DEC31-T1", f"Will Alcaraz beat Sinner {_WIMBLEDON}", "", close_time=_DEC31)

    def h2h(outcomes: list[str]) -> Market:
        return poly_market("0x" + "cd" * 32, "Sinner vs. Alcaraz: 2027 Wimbledon final", outcomes, ["11", "22"],
                           end=_DEC31)

    held = evaluate_pair(k, h2h(["Sinner", "Alcaraz"]), settings=_SHIPPED)
    assert "SUBJECT_SWAPPED" in held.reasons and not held.passed
    assert "kalshi YES alcaraz over sinner, polymarket YES sinner over alcaraz" in held.detail["why"][0]
    assert not _accepted(k, h2h(["Alcaraz", "Sinner"])).inverted


def test_kalshis_player_market_against_a_swapped_proposition_is_held() -> None:
    """Kalshi's tennis wording (real ATP markets): the YES player is the one "will X win" names."""
    k = kalshi_market("KXATPMATCH-27JUL12SINALC-ALC", "Will Carlos Alcaraz win the Sinner vs Alcaraz: Final match?",
                      "Carlos Alcaraz", close_time=_DEC31)
    sinner_wins = poly_market("0x" + "cd" * 32, "Will Sinner beat Alcaraz in the Wimbledon final?", ["Yes", "No"],
                              ["11", "22"], end=_DEC31)
    assert "SUBJECT_SWAPPED" in evaluate_pair(k, sinner_wins, settings=_SHIPPED).reasons
    alcaraz_wins = replace(sinner_wins, title="Will Alcaraz beat Sinner in the Wimbledon final?")
    assert "SUBJECT_SWAPPED" not in evaluate_pair(k, alcaraz_wins, settings=_SHIPPED).reasons


def test_swapped_teams_stay_inverted_by_their_subjects() -> None:
    """Where the YES subjects already invert the pair (two teams of one game, no draw), the swap agrees
    with them and the pair stands, inverted; a passive that names the same winner does not."""
    lakers = "Will the Lakers beat the Celtics in the NBA on Dec 31, 2026?"
    c = evaluate_pair(*_yes_no_pair(lakers, "Will the Celtics beat the Lakers in the NBA on Dec 31, 2026?"),
                      settings=_SHIPPED)
    assert c.reasons == () and c.inverted
    topped_by = "Will the Celtics be topped by the Lakers in the NBA on Dec 31, 2026?"
    topped = evaluate_pair(*_yes_no_pair(lakers, topped_by), settings=_SHIPPED)
    assert "SUBJECT_SWAPPED" in topped.reasons
    assert any("subjects invert the pair" in why for why in topped.detail["why"])


_PA_POLLS = "in the Pennsylvania polls on Dec 31, 2026?"


@pytest.mark.parametrize(("k_title", "p_title"), [
    # found in review: auto-accepted at 0.985: only "trail" was read, and the other market's YES subject,
    # guessed from its title, was Trump (the only name orion knows there), though Trump is its object
    (f"Will Harris trail Trump {_PA_POLLS}", f"Will Harris lead Trump {_PA_POLLS}"),
    # ... and at 1.0, neither relation read
    (f"Will Trump lead Harris {_PA_POLLS}", f"Will Harris lead Trump {_PA_POLLS}"),
    (f"Will Sinner overtake Alcaraz {_WIMBLEDON}", f"Will Alcaraz overtake Sinner {_WIMBLEDON}"),
    (f"Will Sinner surpass Alcaraz {_WIMBLEDON}", f"Will Alcaraz surpass Sinner {_WIMBLEDON}"),
    (f"Will Sinner top Alcaraz {_WIMBLEDON}", f"Will Alcaraz top Sinner {_WIMBLEDON}"),
    (f"Will Sinner outplay Alcaraz {_WIMBLEDON}", f"Will Alcaraz outplay Sinner {_WIMBLEDON}"),
    (f"Will Sinner upset Alcaraz {_WIMBLEDON}", f"Will Alcaraz upset Sinner {_WIMBLEDON}"),
    (f"Will Sinner knock out Alcaraz {_WIMBLEDON}", f"Will Alcaraz knock out Sinner {_WIMBLEDON}"),
    ("Will Sinner win the 2027 Wimbledon final against Alcaraz?",
     "Will Alcaraz win the 2027 Wimbledon final against Sinner?"),
    (f"Will Sinner be the winner over Alcaraz {_WIMBLEDON}", f"Will Alcaraz be the winner over Sinner {_WIMBLEDON}"),
    (f"Will Sinner be ahead of Alcaraz {_WIMBLEDON}", f"Will Alcaraz be ahead of Sinner {_WIMBLEDON}"),
    (f"Will Harris be led by Trump {_PA_POLLS}", f"Will Harris lead Trump {_PA_POLLS}"),
    # "more ... than" read "be worth" as the party (w:worth against Apple on one side, Nvidia on the other)
    ("Will Apple be worth more than Nvidia on Dec 31, 2026?", "Will Nvidia be worth more than Apple on Dec 31, 2026?"),
    ("Will Apple be valued higher than Nvidia on Dec 31, 2026?",
     "Will Nvidia be valued higher than Apple on Dec 31, 2026?"),
    ("Will Apple have a higher market cap than Nvidia on Dec 31, 2026?",
     "Will Nvidia have a higher market cap than Apple on Dec 31, 2026?"),
    ("Will Apple's market cap be larger than Nvidia's on Dec 31, 2026?",
     "Will Nvidia's market cap be larger than Apple's on Dec 31, 2026?"),
    # a verb orion does not read: the guessed YES subject (Trump) is not used where both are named
    (f"Will Harris edge Trump {_PA_POLLS}", f"Will Harris trail Trump {_PA_POLLS}"),
])
def test_opposite_bets_in_relations_read_since_review_are_held(k_title: str, p_title: str) -> None:
    for k, p in (_yes_no_pair(k_title, p_title), _yes_no_pair(p_title, k_title)):
        c = evaluate_pair(k, p, settings=_SHIPPED)
        assert not c.passed
        assert "SUBJECT_SWAPPED" in c.reasons, (c.reasons, c.detail.get("why"))


@pytest.mark.parametrize(("k_title", "p_title"), [
    (f"Will Harris trail Trump {_PA_POLLS}", f"Will Trump lead Harris {_PA_POLLS}"),
    (f"Will Harris be trailed by Trump {_PA_POLLS}", f"Will Harris lead Trump {_PA_POLLS}"),
    (f"Will Harris be behind Trump {_PA_POLLS}", f"Will Trump lead Harris {_PA_POLLS}"),
    # the guessed subject is still compared where the other market names one party only
    (f"Will Trump lead Harris {_PA_POLLS}", f"Will Trump lead {_PA_POLLS}"),
    ("Will the Lakers beat the Celtics on Dec 31, 2026?", "Will the Lakers win the Celtics game on Dec 31, 2026?"),
])
def test_the_same_party_favoured_in_those_relations_still_passes(k_title: str, p_title: str) -> None:
    assert not _accepted(*_yes_no_pair(k_title, p_title)).inverted
    assert not _accepted(*_yes_no_pair(p_title, k_title)).inverted


@pytest.mark.parametrize(("k_title", "p_title"), [
    ("Will Nvidia be worth more than Apple on Dec 31, 2026?", "Will Apple be worth less than Nvidia on Dec 31, 2026?"),
    ("Will Sinner win the 2027 Wimbledon final against Alcaraz?", f"Will Sinner beat Alcaraz {_WIMBLEDON}"),
    ("Will Trump win Pennsylvania over Harris in 2028?",
     "Will Trump get more votes than Harris in Pennsylvania in 2028?"),
])
def test_the_same_party_favoured_in_other_words_is_not_a_swap(k_title: str, p_title: str) -> None:
    """Worded apart enough to stay below the auto-accept score, but never for a swap."""
    for k, p in (_yes_no_pair(k_title, p_title), _yes_no_pair(p_title, k_title)):
        assert "SUBJECT_SWAPPED" not in evaluate_pair(k, p, settings=_SHIPPED).reasons


_LAKERS_WIN = "will the Lakers win on Dec 31, 2026?"


@pytest.mark.parametrize(("k_title", "p_title"), [
    # found in review: held back as SUBJECT_SWAPPED (passed at 0.977-1.0 before it): the side without a
    # reading names the two the other way round, yet says plainly whom its YES is about
    (f"Celtics vs Lakers: {_LAKERS_WIN}", f"Celtics at Lakers: {_LAKERS_WIN}"),
    ("Will the Lakers win vs the Celtics on Dec 31, 2026?", f"Celtics at Lakers: {_LAKERS_WIN}"),
    ("Sinner vs Alcaraz: will Sinner win the 2027 Wimbledon final?",
     "Alcaraz or Sinner: will Sinner win the 2027 Wimbledon final?"),
    ("Sinner vs Alcaraz: will Sinner win the 2027 Wimbledon final?",
     "Alcaraz - Sinner: will Sinner win the 2027 Wimbledon final?"),
    ("Will the Lakers beat the Celtics at home on Dec 31, 2026?",
     "Celtics at Lakers: will the Lakers win at home on Dec 31, 2026?"),
])
def test_will_x_win_decides_where_the_names_come_the_other_way_round(k_title: str, p_title: str) -> None:
    """"X at Y" puts the away team first: the order of the names says nothing about YES, "will Y win" does."""
    assert not _accepted(*_yes_no_pair(k_title, p_title)).inverted
    assert not _accepted(*_yes_no_pair(p_title, k_title)).inverted


@pytest.mark.parametrize(("k_title", "p_title"), [
    ("Will the Lakers beat the Celtics on Dec 31, 2026?", "Lakers at Celtics: will the Celtics win on Dec 31, 2026?"),
    ("Will the Lakers beat the Celtics on Dec 31, 2026?", "Celtics at Lakers: will the Celtics win on Dec 31, 2026?"),
    ("Sinner vs Alcaraz: will Sinner win the 2027 Wimbledon final?",
     "Sinner or Alcaraz: will Alcaraz win the 2027 Wimbledon final?"),
])
def test_will_x_win_on_the_other_party_is_held(k_title: str, p_title: str) -> None:
    for k, p in (_yes_no_pair(k_title, p_title), _yes_no_pair(p_title, k_title)):
        c = evaluate_pair(k, p, settings=_SHIPPED)
        assert "SUBJECT_SWAPPED" in c.reasons and not c.passed, (c.reasons, c.detail.get("why"))
