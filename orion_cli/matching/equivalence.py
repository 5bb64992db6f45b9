"""Settlement-equivalence checks on one Kalshi × Polymarket candidate, and its YES/NO polarity.

A candidate is held back by every check it fails, each a named reason code, so the operator sees
*why* ("THRESHOLD_MISMATCH: 4% vs 4.5%") rather than a bare low score. Polarity is decided from the
outcome subjects: Kalshi game markets are one market per team, while a Polymarket moneyline is one
market whose YES token is its *first* outcome, so the Kalshi market of the second team is the inverse
of the Polymarket market (Kalshi YES = Polymarket NO).

Checks fail closed: when a fact needed to prove equivalence is missing on one side (no subject, no
date) the check does not invent agreement; the candidate merely earns less confidence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

from orion_cli.core.models import Market, MarketStatus
from orion_cli.matching import aliases
from orion_cli.matching.normalize import (
    DEADLINE,
    EDITION,
    GE,
    GT,
    LE,
    LT,
    MEASURE_UNITS,
    NEGATED,
    ON,
    RANGE,
    STANCE_GROUPS,
    DateSpan,
    MarketFeatures,
    Parties,
    StatedTime,
    Threshold,
    utc_offset,
)

# Reason codes, in the order they are reported.
MARKET_NOT_OPEN = "MARKET_NOT_OPEN"
SCALAR_VS_BINARY = "SCALAR_VS_BINARY"
ENTITY_MISMATCH = "ENTITY_MISMATCH"
PROPOSITION_MISMATCH = "PROPOSITION_MISMATCH"
OPPOSITE_PROPOSITION = "OPPOSITE_PROPOSITION"
SUBJECT_SWAPPED = "SUBJECT_SWAPPED"
MARKET_KIND_MISMATCH = "MARKET_KIND_MISMATCH"
THRESHOLD_MISMATCH = "THRESHOLD_MISMATCH"
DIRECTION_MISMATCH = "DIRECTION_MISMATCH"
DATE_MISMATCH = "DATE_MISMATCH"
TIME_OF_DAY_MISMATCH = "TIME_OF_DAY_MISMATCH"
PERIOD_MISMATCH = "PERIOD_MISMATCH"
CLOSE_TIME_GAP = "CLOSE_TIME_GAP"
RESOLUTION_TIME_GAP = "RESOLUTION_TIME_GAP"
OTHER_OUTCOME_ONE_SIDE = "OTHER_OUTCOME_ONE_SIDE"
OTHER_OUTCOME_BOTH_SIDES = "OTHER_OUTCOME_BOTH_SIDES"
FIFTY_FIFTY_ONE_SIDE = "FIFTY_FIFTY_ONE_SIDE"
NEG_RISK_AUGMENTED = "NEG_RISK_AUGMENTED"
DRAW_POSSIBLE = "DRAW_POSSIBLE"
AMBIGUOUS_MATCH = "AMBIGUOUS_MATCH"
LOW_SCORE = "LOW_SCORE"

REASON_CODES: tuple[str, ...] = (
    MARKET_NOT_OPEN, SCALAR_VS_BINARY, ENTITY_MISMATCH, PROPOSITION_MISMATCH, OPPOSITE_PROPOSITION,
    SUBJECT_SWAPPED, MARKET_KIND_MISMATCH,
    THRESHOLD_MISMATCH, DIRECTION_MISMATCH, DATE_MISMATCH, TIME_OF_DAY_MISMATCH, PERIOD_MISMATCH, CLOSE_TIME_GAP,
    RESOLUTION_TIME_GAP, OTHER_OUTCOME_ONE_SIDE, OTHER_OUTCOME_BOTH_SIDES, FIFTY_FIFTY_ONE_SIDE, NEG_RISK_AUGMENTED,
    DRAW_POSSIBLE, AMBIGUOUS_MATCH, LOW_SCORE,
)


# The places a confidence is kept, shown and compared at: one value for the user and the threshold.
CONFIDENCE_PLACES = 4


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Tunable policy of the matcher (from the ``[matching]`` config section)."""

    auto_accept_confidence: float = 0.9
    close_time_tolerance: timedelta = timedelta(days=15)
    resolution_time_tolerance: timedelta = timedelta(hours=36)
    # Days two stated deadlines may differ by. 0: "by Dec 30" and "by Dec 31" are different bets (an
    # event on Dec 31 settles them apart), and "before Dec 31" is "by Dec 30". Time-zone slop is absorbed
    # by the close and resolution time tolerances, which compare instants, not by the calendar days.
    deadline_tolerance_days: int = 0
    min_candidate_score: float = 35.0  # rapidfuzz 0–100; below this a blocked pair is dropped silently
    max_candidates_per_market: int = 6  # best-scoring candidates per Kalshi market that get checked
    score_window: float = 25.0  # …and only those within this many points of that market's best score
    blocking_top_k: int = 40  # most key-sharing Polymarket markets per Kalshi market sent to the scorer
    posting_cap: int = 400  # index keys with more postings than this are too common to block on
    require_open: bool = True


@dataclass(frozen=True, slots=True)
class MatchCandidate:
    """One Kalshi market paired with one Polymarket market, with the verdict of every check."""

    kalshi_id: str
    polymarket_id: str
    inverted: bool
    confidence: float
    reasons: tuple[str, ...]
    score: float
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def passed(self) -> bool:
        return not self.reasons

    def to_record(self) -> dict[str, Any]:
        """JSON-friendly record (``type`` "candidate", snake_case keys)."""
        return {
            "type": "candidate",
            "kalshi_id": self.kalshi_id,
            "polymarket_id": self.polymarket_id,
            "inverted": self.inverted,
            "confidence": round(self.confidence, CONFIDENCE_PLACES),
            "score": round(self.score, 2),
            "reasons": list(self.reasons),
            "detail": {k: _jsonable(v) for k, v in self.detail.items()},
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, (list, tuple, set, frozenset)):
        items = [_jsonable(x) for x in v]
        return sorted(items, key=str) if isinstance(v, (set, frozenset)) else items
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _th_str(th: Threshold) -> str:
    if th.upper is not None:
        return f"{th.value}-{th.upper}{th.unit}"
    return f"{th.direction} {th.value}{th.unit}"


def _compare_dates(a: tuple[DateSpan, ...], b: tuple[DateSpan, ...], tol_days: int) -> tuple[bool, bool, str]:
    """(mismatch, positive evidence, detail) comparing the date facts both sides state."""
    if not a or not b:
        return False, False, ""
    if len(a) == 1 and len(b) == 1:
        return _compare_one_date(a[0], b[0], tol_days)
    ga: dict[str, set[DateSpan]] = {}
    gb: dict[str, set[DateSpan]] = {}
    for d in a:
        ga.setdefault(d.kind, set()).add(d)
    for d in b:
        gb.setdefault(d.kind, set()).add(d)
    agree = False
    for kind in (ON, DEADLINE, RANGE, EDITION):
        xa, xb = ga.get(kind), gb.get(kind)
        if not xa or not xb:
            continue
        if kind == DEADLINE:
            # Every deadline a side states must be one the other states: comparing the latest only
            # passed "by Dec 30" and "by Dec 31" on one side against "by Dec 31" on the other.
            ea, eb = sorted({d.end for d in xa}), sorted({d.end for d in xb})
            if not (all(any(abs((x - y).days) <= tol_days for y in eb) for x in ea)
                    and all(any(abs((x - y).days) <= tol_days for x in ea) for y in eb)):
                return True, False, f"deadline {', '.join(map(str, ea))} vs {', '.join(map(str, eb))}"
        elif kind == EDITION:
            if not ({d.end.year for d in xa} & {d.end.year for d in xb}):
                return True, False, f"year {sorted(d.end.year for d in xa)} vs {sorted(d.end.year for d in xb)}"
        elif {(d.start, d.end) for d in xa} != {(d.start, d.end) for d in xb}:
            da = sorted(str(d.end) for d in xa)
            db = sorted(str(d.end) for d in xb)
            return True, False, f"{kind} {da} vs {db}"
        agree = True
    # "by June 30" on one side against a single day or a period on the other is a different window.
    da_kinds = ga.keys() - {EDITION}
    db_kinds = gb.keys() - {EDITION}
    if da_kinds and db_kinds and not (da_kinds & db_kinds):
        return True, False, f"{sorted(da_kinds)} vs {sorted(db_kinds)}"
    return False, agree, ""


def _compare_one_date(x: DateSpan, y: DateSpan, tol_days: int) -> tuple[bool, bool, str]:
    """:func:`_compare_dates` when each side states one date fact (the usual case), without the grouping."""
    kind = x.kind
    if kind != y.kind:
        if kind != EDITION and y.kind != EDITION:
            return True, False, f"{[kind]} vs {[y.kind]}"
        return False, False, ""
    if kind == DEADLINE:
        if abs((x.end - y.end).days) > tol_days:
            return True, False, f"deadline {x.end} vs {y.end}"
    elif kind == EDITION:
        if x.end.year != y.end.year:
            return True, False, f"year {[x.end.year]} vs {[y.end.year]}"
    elif x.start != y.start or x.end != y.end:
        return True, False, f"{kind} {[str(x.end)]} vs {[str(y.end)]}"
    return False, True, ""


def _check_strikes(
    a: tuple[Threshold, ...], b: tuple[Threshold, ...], hold: Callable[[str, str], None], evidence: list[float]
) -> None:
    """Several strikes on a side (a title's two, or a range and a strike): every one must be on the
    other side too, exactly, since comparing the first only passed "$95,000" and "$100,000" against
    "$95,000" and "$105,000". No polarity is read from several strikes: a pair that differs is held back."""
    sa, sb = set(a), set(b)
    if sa == sb:
        evidence.append(0.4)
        return
    why = f"{', '.join(sorted(map(_th_str, sa)))} vs {', '.join(sorted(map(_th_str, sb)))}"
    if {(t.value, t.upper, t.unit) for t in sa} == {(t.value, t.upper, t.unit) for t in sb}:
        hold(DIRECTION_MISMATCH, why)
    else:
        hold(THRESHOLD_MISMATCH, why)


# The line families whose YES is one team's winning margin beating a line ("Spread: Thunder (-5.5)").
_SPREAD_FAMILIES = frozenset({"spread", "1h_spread"})
_HALF = Decimal("0.5")


def _spread_edge(th: Threshold) -> Decimal | None:
    """The margin a spread line's YES team must win by more than ("wins by over 5.5" → 5.5, "Thunder
    (+5.5)" → -5.5), or ``None`` for a whole line (a push settles neither way) or a strike that is no line."""
    if th.unit or th.upper is not None or th.direction not in (GT, GE):
        return None
    edge = th.value if th.direction == GT else th.value - _HALF  # "over 5.5" is kept as "≥ 6"
    return edge if edge % 1 else None


def _check_other_teams_line(
    a: tuple[Threshold, ...], b: tuple[Threshold, ...], hold: Callable[[str, str], None], evidence: list[float]
) -> None:
    """The lines of two spread markets whose YES teams differ (the subjects inverted the pair).

    NO on "Thunder -5.5" is "Spurs +5.5" (the Spurs win, or lose by 5 or less), not "San Antonio wins by
    over 5.5": against that, both legs lose when either team wins by 5 or less. Only a half-point line of
    the same size the other way round is the complement ("Thunder +5.5" against "San Antonio wins by over
    5.5"); any other pair of lines is held back, never inverted."""
    if len(set(a)) == 1 and len(set(b)) == 1:
        ea, eb = _spread_edge(a[0]), _spread_edge(b[0])
        if ea is not None and eb is not None and ea == -eb:
            evidence.append(0.4)
            return
    ka, kb = (", ".join(sorted(map(_th_str, set(t)))) for t in (a, b))
    hold(THRESHOLD_MISMATCH, f"kalshi {ka} vs polymarket {kb}, the other team's line: its NO is not kalshi's YES")


# How far a time of day stated on one side may lie from the other side's resolution (or close) time,
# which states none: a venue's timestamp may be a little early ("16:59:59"), never hours off.
_TIME_SLOP = timedelta(minutes=5)


def _compare_times(kalshi: Market, poly: Market, kf: MarketFeatures, pf: MarketFeatures) -> str:
    """Why the stated times of day differ, or "" when they agree.

    Both sides state times: they must be the same instants ("5pm ET" is "22:00 UTC" in December), or,
    where a zone is not named, the same words. One side only: its instant must be the other side's
    expected resolution (or close) time within a few minutes; a time that cannot be placed on a day
    in a known zone, or another side with no time at all, is doubt, and doubt holds the pair back.
    """
    k_at, p_at = _instants(kalshi, kf), _instants(poly, pf)
    if kf.times and pf.times:
        if k_at is not None and p_at is not None:
            same = k_at == p_at
        else:
            same = set(kf.times) == set(pf.times)
        return "" if same else f"kalshi {_times_str(kf.times)} vs polymarket {_times_str(pf.times)}"
    side, other, times, at = ("kalshi", poly, kf.times, k_at) if kf.times else ("polymarket", kalshi, pf.times, p_at)
    ref = other.expected_resolution_time or other.close_time
    if at is None or ref is None:
        return f"only {side} states a time ({_times_str(times)}), and it cannot be compared"
    if any(abs(t - ref) <= _TIME_SLOP for t in at):
        return ""
    other_side = "polymarket" if side == "kalshi" else "kalshi"
    return f"{side} states {_times_str(times)}, {other_side} resolves at {_jsonable(ref)}"


def _instants(market: Market, f: MarketFeatures) -> frozenset[datetime] | None:
    """The stated times of day as instants, on the one day the market states (else the local day of
    its resolution time), or ``None`` when one cannot be placed (no zone named, no day, several days)."""
    days = {d.end for d in f.dates if d.kind in (ON, DEADLINE)}
    when = market.expected_resolution_time or market.close_time
    if len(days) > 1 or (not days and when is None):
        return None
    out: set[datetime] = set()
    for t in f.times:
        if days:
            day = next(iter(days))
        else:  # the local day of the resolution time (at a DST change, off by an hour: never a day)
            at = cast("datetime", when)
            near = utc_offset(t.zone, at.date())
            if near is None:
                return None
            try:
                day = (at + near).date()
            except OverflowError:  # a close at the calendar's edge (year 9999 or 1): no day to place it on
                return None
        offset = utc_offset(t.zone, day, t.minute)  # at the time stated: a DST change is at 02:00
        if offset is None:
            return None
        try:
            out.add(datetime.combine(day, time(t.minute // 60, t.minute % 60, t.second), UTC) - offset)
        except OverflowError:
            return None
    return frozenset(out)


def _times_str(times: tuple[StatedTime, ...]) -> str:
    return ", ".join(str(t) for t in times)


# The marked forms of a stance group: a market may state "lose", "be beaten by", "miss", "leave", "fail"
# or "acquit" only against a market that states the same (a title that names no outcome is no evidence).
_MARKED_STANCES = frozenset({"lose", "lose_by", "miss", "leave", "fail", "acquit"})


@lru_cache(maxsize=1024)  # two stance sets: few distinct pairs, met per candidate
def _opposite_propositions(k: frozenset[str], p: frozenset[str]) -> str:
    """Why two markets' propositions are opposite (or may be), or "" when nothing says so.

    "Trump wins" vs "Trump loses" or "Trump does not win", "the Fed cuts" vs "hikes", "the Lakers
    make the playoffs" vs "miss them": one negates the other, or both state one sense differently.
    Such a pair is at best the complement, which only the rules can confirm (an election that is not
    held makes "wins" and "loses" both NO), so it is held back, never inverted.
    """
    if (NEGATED in k) != (NEGATED in p):
        return f"only {'kalshi' if NEGATED in k else 'polymarket'} negates the proposition"
    for group in sorted({STANCE_GROUPS[t] for t in k ^ p if t != NEGATED}):
        ka = sorted(t for t in k if STANCE_GROUPS.get(t) == group)
        pa = sorted(t for t in p if STANCE_GROUPS.get(t) == group)
        if ka and pa:
            return f"{'/'.join(ka)} vs {'/'.join(pa)}"
        if _MARKED_STANCES.intersection(ka or pa):
            return f"only {'kalshi' if ka else 'polymarket'} says {'/'.join(ka or pa)}"
    return ""


def _swapped_parties(kf: MarketFeatures, pf: MarketFeatures, inverted: bool) -> str:
    """Why the two markets set two parties against each other the other way round, or may, or "".

    "Will Sinner beat Alcaraz?" and "Will Alcaraz beat Sinner?" share every word, so every other check
    passes them as the same bet (1.0), while YES on one is NO on the other: an "arbitrage" on them is a
    naked bet. The subjects decide polarity where they can (a team's market against a moneyline whose
    YES is the other team is ``inverted``, and that stands); here the parties must agree with them:

    * both markets read which party YES favours (:class:`~orion_cli.matching.normalize.Parties`): the
      same party, unless the subjects inverted the pair; the other one, only if they did;
    * one market only reads it, as a contest: the other's YES subject (its label's or its game's) must
      be that party; without one, where the other names both, the party its "will X win" names must be
      that party ("Celtics at Lakers: will the Lakers win?": "at" puts the away team first, so the
      order says nothing), and with no "will X win" it must name them in that order ("Will Alcaraz edge
      Sinner?", a verb not read, against "Sinner beats Alcaraz" is held back: a direction that cannot
      be read is doubt, and doubt holds). A subject guessed from the title (its first known name)
      counts only where the title does not name both: "Will Harris edge Trump?" has the YES subject
      Trump, the only name orion knows there, though Trump is the one Harris would have to edge.

    Held back, never inverted here: which party wins is the rules' question (a retirement, a walkover,
    a tie in a ranking), and a pair the subjects have not already inverted is curated by hand.
    """
    kp, pp = kf.parties, pf.parties
    if kp is not None and pp is not None:
        same = bool(kp.yes & pp.yes) and bool(kp.other & pp.other)
        swapped = bool(kp.yes & pp.other) and bool(kp.other & pp.yes)
        if same and swapped:
            return f"cannot tell the parties apart: kalshi YES {kp.text}, polymarket YES {pp.text}"
        if swapped and not inverted:
            return f"kalshi YES {kp.text}, polymarket YES {pp.text}"
        if same and inverted:
            return f"both YES {kp.text}, but their subjects invert the pair"
        return ""
    reading = cast("Parties", kp if kp is not None else pp)
    if not reading.contest:
        return ""  # "Musk is sued by the SEC": its YES subject may be either party
    side, other_side, f = ("kalshi", "polymarket", pf) if kp is not None else ("polymarket", "kalshi", kf)
    at_yes = at_other = None
    if not f.subject or f.subject_guessed:  # a label's or a game's subject decides without the words
        at_yes, at_other = _first_word(f.key_text, reading.yes), _first_word(f.key_text, reading.other)
    names_both = at_yes is not None and at_other is not None
    if f.subject and not (f.subject_guessed and names_both):
        keys = _party_keys_of(f.subject)
        on_yes, on_other = bool(keys & reading.yes), bool(keys & reading.other)
        if on_other and not on_yes and not inverted:
            return f"{side} YES {reading.text}, {other_side} YES is {'/'.join(sorted(f.subject))}"
        if on_yes and not on_other and inverted:
            return f"{side} YES {reading.text}, {other_side} YES is {'/'.join(sorted(f.subject))}, yet inverted"
        return ""
    if not names_both:
        return ""
    won = f.winner
    on_yes, on_other = bool(won & reading.yes), bool(won & reading.other)
    if on_yes != on_other:  # "Celtics at Lakers: will the Lakers win?": the order of the names says nothing
        if on_other != inverted:
            return f"{side} YES {reading.text}, {other_side} asks whether {_party_name(won)} wins"
        return ""
    if cast("int", at_other) < cast("int", at_yes):
        return f"{side} YES {reading.text}; {other_side} names them the other way round, with no direction read"
    return ""


def _party_name(keys: frozenset[str]) -> str:
    """A party's keys as a name for a hold-back reason: its word ("w:lakers" → "lakers"), else its ids."""
    words = sorted(k[2:] for k in keys if k.startswith("w:"))
    return words[0] if words else "/".join(sorted(keys))


@lru_cache(maxsize=1 << 12)
def _party_keys_of(subject: frozenset[str]) -> frozenset[str]:
    """A YES subject's entities as party keys: an unknown name's last word ("name:juan estevez" → "w:estevez")."""
    return frozenset(e if not e.startswith("name:") else "w:" + e.rsplit(" ", 1)[-1].removeprefix("name:")
                     for e in subject)


@lru_cache(maxsize=1 << 12)
def _first_word(key_text: str, keys: frozenset[str]) -> int | None:
    """Where a key text first names a party: a word of it, or an entity (written "nba_lal" there);
    memoised, as the markets of a ladder or a game share their key texts and parties."""
    names = {k[2:] if k.startswith("w:") else k.replace(":", "_") for k in keys}
    return next((i for i, w in enumerate(key_text.split()) if w in names), None)


_LABEL_STRIKES = {"over": (GT, GE), "under": (LT, LE)}


def _direction_labels(kf: MarketFeatures, pf: MarketFeatures) -> tuple[bool, str]:
    """(invert, why held) when an outcome label names a direction ("Over"/"Under", "Up"/"Down").

    Such a label, not the title, says which outcome YES is: Polymarket's YES is its first outcome, so
    ["Under", "Over"] has YES = Under while the title reads "O/U 229.5". Both sides name one: the same
    is direct; opposite ones are inverted only when one market names the other's YES as its own NO (a
    two-outcome market: certain), and held back otherwise. One side only: its label must agree with its
    own strikes (over ≥/>, under ≤/<), which are then compared as strikes; anything else is held back.
    """
    kd, pd = kf.yes_direction, pf.yes_direction
    # The strikes' complement ("≥ 230" vs "≤ 229", one strike a side) inverts the pair in the strike
    # check; labels that say the same must not invert it a second time.
    ks, ps = set(kf.thresholds), set(pf.thresholds)
    strikes_flip = len(ks) == 1 and len(ps) == 1 and kf.thresholds[0].complement_of(pf.thresholds[0])
    if kd and pd:
        if kd == pd:
            return False, f"both YES '{kd}', but opposite strikes" if strikes_flip else ""
        if pf.no_direction == kd or kf.no_direction == pd:
            return not strikes_flip, ""
        return False, f"kalshi YES '{kd}' vs polymarket YES '{pd}'"
    side, other, d, f = ("kalshi", "polymarket", kd, kf) if kd else ("polymarket", "kalshi", pd, pf)
    if f.thresholds and all(t.direction in _LABEL_STRIKES.get(d, ()) for t in f.thresholds):
        return False, ""
    return False, f"{side} YES is '{d}', {other} names no direction"


def _units_conflict(a: str, b: str) -> bool:
    """Two different strike units: both stated, or a unit of measure on one side only ("10 inches" vs
    "10" is not known to be the same bet; "$100k" vs "100k" keeps its old, lenient reading)."""
    return bool(a and b) or a in MEASURE_UNITS or b in MEASURE_UNITS


def _gap(a: datetime | None, b: datetime | None) -> timedelta | None:
    if a is None or b is None:
        return None
    return abs(a - b)


@lru_cache(maxsize=1 << 14)
def _time_checks(
    k_close: datetime | None,
    p_close: datetime | None,
    k_resolution: datetime | None,
    p_resolution: datetime | None,
    backstop_ok: bool,
    close_tolerance: timedelta,
    resolution_tolerance: timedelta,
) -> tuple[str | None, str | None, float | None, float | None]:
    """(close-time why, resolution-time why, both gaps in hours) for one pair of close and resolution
    times; memoised, since a game's markets on both venues share them (a few dozen pairs per game)."""
    close_gap = _gap(k_close, p_close)
    # A Kalshi market that can close early closes when its outcome is known; its close_time is only a
    # backstop (real captures: close_time == latest_expiration_time, often weeks after the event). Such
    # a market stays open at least as long as the Polymarket one when Polymarket closes first, and the
    # expected resolution times below are what must agree.
    backstop = backstop_ok and k_close is not None and p_close is not None and p_close <= k_close
    close_why = None
    if close_gap is not None and close_gap > close_tolerance and not backstop:
        close_why = f"{close_gap.days} days apart"
    res_gap = _gap(k_resolution, p_resolution)
    res_why = None
    if res_gap is not None and res_gap > resolution_tolerance:
        res_why = f"{res_gap.total_seconds() / 3600:.0f} h apart"
    return (
        close_why,
        res_why,
        None if close_gap is None else round(close_gap.total_seconds() / 3600, 1),
        None if res_gap is None else round(res_gap.total_seconds() / 3600, 1),
    )


def evaluate(
    kalshi: Market,
    poly: Market,
    kf: MarketFeatures,
    pf: MarketFeatures,
    score: float,
    settings: MatchSettings,
) -> MatchCandidate:
    """Run every check on one candidate; decide polarity and confidence."""
    reasons: list[str] = []
    whys: list[str] = []  # detail["why"], in check order
    evidence: list[float] = []  # weights of independent agreeing facts

    def hold(code: str, why: str) -> None:
        if code not in reasons:
            reasons.append(code)
        whys.append(f"{code}: {why}")

    if settings.require_open and (kalshi.status is not MarketStatus.OPEN or poly.status is not MarketStatus.OPEN):
        hold(MARKET_NOT_OPEN, f"kalshi {kalshi.status.value}, polymarket {poly.status.value}")
    if kalshi.market_type != poly.market_type or "scalar" in (kalshi.market_type, poly.market_type):
        hold(SCALAR_VS_BINARY, f"{kalshi.market_type} vs {poly.market_type}")

    # --- who: subject, participants, context; and polarity ---------------------------------------
    inverted = False
    k_subject, p_subject, k_teams, p_teams = kf.subject, pf.subject, kf.teams, pf.teams
    if k_subject and p_subject:
        if k_subject & p_subject:
            evidence.append(0.6)
        elif pf.no_subject and k_subject & pf.no_subject:
            inverted = True
            evidence.append(0.6)
        elif kf.no_subject and p_subject & kf.no_subject:
            inverted = True
            evidence.append(0.6)
        elif (
            len(k_teams) == 2
            and k_teams == p_teams
            and k_subject <= k_teams
            and p_subject <= p_teams
            and not pf.no_subject
        ):
            inverted = True  # "Team A wins" vs "Team B wins" of the same two-team game
            evidence.append(0.5)
            if (kf.leagues | pf.leagues) & aliases.DRAW_LEAGUES or not (kf.leagues | pf.leagues):
                hold(DRAW_POSSIBLE, "a draw/tie makes both 'wins' markets NO; not complements")
        else:
            hold(ENTITY_MISMATCH, f"subject {sorted(k_subject)} vs {sorted(p_subject | pf.no_subject)}")
    if len(k_teams) >= 2 and len(p_teams) >= 2:
        if k_teams != p_teams:
            hold(ENTITY_MISMATCH, f"teams {sorted(k_teams)} vs {sorted(p_teams)}")
        else:
            evidence.append(0.3)
    if kf.context or pf.context:
        _check_context(kf.context, pf.context, hold, evidence)
    k_family, p_family = kf.family, pf.family
    # ``inverted`` is the subjects' alone here: one team's spread against the other's (_check_other_teams_line)
    other_teams_line = inverted and not _SPREAD_FAMILIES.isdisjoint((k_family, p_family))
    if kf.predicate and pf.predicate and kf.predicate != pf.predicate:
        hold(PROPOSITION_MISMATCH, f"{kf.predicate} vs {pf.predicate}")
    if kf.stance != pf.stance:
        opposite_why = _opposite_propositions(kf.stance, pf.stance)
        if opposite_why:
            hold(OPPOSITE_PROPOSITION, opposite_why)
    if kf.parties is not None or pf.parties is not None:
        # after the subjects, before anything else flips the polarity: ``inverted`` is theirs alone
        swapped_why = _swapped_parties(kf, pf, inverted)
        if swapped_why:
            hold(SUBJECT_SWAPPED, swapped_why)
    if k_family != p_family and (k_family or p_family) and (k_teams or p_teams):
        hold(MARKET_KIND_MISMATCH, f"{k_family or 'none'} vs {p_family or 'none'}")

    if kf.yes_direction or pf.yes_direction:
        flip, direction_why = _direction_labels(kf, pf)
        if direction_why:
            hold(DIRECTION_MISMATCH, direction_why)
        elif flip:
            inverted = not inverted

    # --- how much: thresholds and direction --------------------------------------------------------
    if kf.thresholds or pf.thresholds:
        if not kf.thresholds or not pf.thresholds:
            side = "kalshi" if kf.thresholds else "polymarket"
            hold(THRESHOLD_MISMATCH, f"strike only on {side}")
        elif other_teams_line:
            _check_other_teams_line(kf.thresholds, pf.thresholds, hold, evidence)
        elif len(set(kf.thresholds)) > 1 or len(set(pf.thresholds)) > 1:
            _check_strikes(kf.thresholds, pf.thresholds, hold, evidence)
        else:
            ta, tb = kf.thresholds[0], pf.thresholds[0]
            if ta.unit != tb.unit and _units_conflict(ta.unit, tb.unit):
                hold(THRESHOLD_MISMATCH, f"unit {ta.unit or 'none'} vs {tb.unit or 'none'}")
            elif ta.complement_of(tb):
                inverted = not inverted
                evidence.append(0.4)
            elif ta.value != tb.value or ta.upper != tb.upper:
                hold(THRESHOLD_MISMATCH, f"{_th_str(ta)} vs {_th_str(tb)}")
            elif ta.direction == tb.direction:
                evidence.append(0.4)
            else:
                hold(DIRECTION_MISMATCH, f"{_th_str(ta)} vs {_th_str(tb)}")
    elif other_teams_line:
        hold(THRESHOLD_MISMATCH, "the other team's spread, with no line read on either side")

    # --- when: stated dates/windows, then close and resolution times --------------------------------
    mismatch, agree, why = _compare_dates(kf.dates, pf.dates, settings.deadline_tolerance_days)
    if mismatch:
        hold(DATE_MISMATCH, why)
    elif agree:
        evidence.append(0.5)
    if kf.times or pf.times:
        time_why = _compare_times(kalshi, poly, kf, pf)
        if time_why:
            hold(TIME_OF_DAY_MISMATCH, time_why)
    if kf.periods != pf.periods:
        # "Q3" vs "Q4", "Game 7" vs "Game 6", or a period named on one side only ("Q3 2026" vs "2026").
        # A first half on one side of a game line is already MARKET_KIND_MISMATCH (1h_winner vs winner).
        if not (kf.periods ^ pf.periods <= _FIRST_HALF and MARKET_KIND_MISMATCH in reasons):
            hold(PERIOD_MISMATCH, f"{sorted(kf.periods) or 'none'} vs {sorted(pf.periods) or 'none'}")
    close_why, res_why, close_hours, res_hours = _time_checks(
        kalshi.close_time,
        poly.close_time,
        kalshi.expected_resolution_time or kalshi.close_time,
        poly.expected_resolution_time or poly.close_time,
        kalshi.extra.get("can_close_early") == "true",
        settings.close_time_tolerance,
        settings.resolution_time_tolerance,
    )
    if close_why is not None:
        hold(CLOSE_TIME_GAP, close_why)
    if res_why is not None:
        hold(RESOLUTION_TIME_GAP, res_why)
    why_first = bool(whys)  # detail["why"] comes before the gaps when a check above held the pair

    # --- outcome structure: Other, 50-50, augmented neg-risk ----------------------------------------
    if kf.other and pf.other:
        hold(OTHER_OUTCOME_BOTH_SIDES, "'Other' buckets hold different outcome sets per venue")
    elif kf.other or pf.other:
        hold(OTHER_OUTCOME_ONE_SIDE, "an 'Other'/placeholder outcome on " + ("kalshi" if kf.other else "polymarket"))
    if kf.fifty_fifty != pf.fifty_fifty:
        hold(FIFTY_FIFTY_ONE_SIDE, "only " + ("kalshi" if kf.fifty_fifty else "polymarket") + " can settle 50-50")
    if kalshi.neg_risk_augmented or poly.neg_risk_augmented:
        hold(NEG_RISK_AUGMENTED, "augmented neg-risk event: placeholders may become outcomes")

    base = max(0.0, min(1.0, score / 100.0))
    miss = 1.0 - base
    for w in evidence:
        miss *= 1.0 - w
    # At the places it is shown (CONFIDENCE_PLACES), before any comparison: the threshold was held against the
    # unrounded value, so a candidate shown at 0.9 could be held back as "confidence 0.900 < 0.9", and a threshold
    # set to a confidence read off `pairs suggest` could hold that very candidate back.
    confidence = round(1.0 - miss, CONFIDENCE_PLACES)
    if reasons:
        confidence = round(confidence * 0.5 ** len(reasons), CONFIDENCE_PLACES)
    elif settings.auto_accept_confidence >= 1:  # the off switch: a perfect score is 1.0, not above it
        hold(LOW_SCORE, "auto-accept is off (matching.auto_accept_confidence = 1): curated pairs only")
    elif confidence < settings.auto_accept_confidence:
        hold(LOW_SCORE, f"confidence {confidence:.{CONFIDENCE_PLACES}f} < {settings.auto_accept_confidence}")
    detail: dict[str, Any] = {"why": whys} if why_first else {}
    detail["close_gap_hours"] = close_hours
    detail["resolution_gap_hours"] = res_hours
    if whys and not why_first:
        detail["why"] = whys
    detail["kalshi_title"] = kalshi.title
    detail["polymarket_title"] = poly.title
    detail["kalshi_subject"] = sorted(k_subject)
    detail["polymarket_subject"] = sorted(p_subject)
    detail["yes_token"] = poly.yes_token
    detail["no_token"] = poly.no_token
    return MatchCandidate(
        kalshi.id,
        poly.id,
        inverted,
        confidence,
        tuple(reasons) if len(reasons) < 2 else tuple(r for r in REASON_CODES if r in reasons),
        score,
        detail,
    )


_EMPTY: frozenset[str] = frozenset()
_FIRST_HALF = frozenset({"h:1"})


def _check_context(
    ka: Mapping[str, frozenset[str]],
    pa: Mapping[str, frozenset[str]],
    hold: Callable[[str, str], None],
    evidence: list[float],
) -> None:
    """What is at stake (competition, organisation, asset) must agree on both sides."""
    for kind in sorted(ka.keys() | pa.keys()):
        ca, cb = ka.get(kind, _EMPTY), pa.get(kind, _EMPTY)
        if ca and cb:
            if ca != cb:
                hold(ENTITY_MISMATCH, f"{kind} {sorted(ca)} vs {sorted(cb)}")
            else:
                evidence.append(0.3)
        elif (ca or cb) and kind in ("crypto", "idx", "econ", "cmd"):
            hold(ENTITY_MISMATCH, f"{kind} {sorted(ca)} vs {sorted(cb)}")
