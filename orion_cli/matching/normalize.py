"""Turn a market's free text into comparable facts: entities, thresholds, dates, outcome subject.

Titles that read alike are not the same bet. What decides settlement is *who* (entities, and which of
them is the YES outcome), *how much* (threshold, unit, direction) and *when* (date or window), so those
are extracted as structured features; the fuzzy text score only ranks candidates.

Everything here is pure and deterministic. :func:`extract_features` is the one entry point for a
:class:`~orion_cli.core.models.Market`; the smaller helpers are public because the equivalence checks
and the tests use them directly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from orion_cli.core.models import Market, Venue
from orion_cli.matching import aliases

# ---------------------------------------------------------------------------------------------------
# Text folding and tokens
# ---------------------------------------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "–": "-", "—": "-", "−": "-"})
_TOKEN = re.compile(r"[^\W_]+")
_HAS_DIGIT = re.compile(r"\d")
STOPWORDS = frozenset(
    "a an the of in on at by to for and or will be is are was were been do does did what who which when "
    "this that these those with from as it its into than then there their market resolve resolves yes no "
    "if any per vs v win wins winner won before after".split()
)


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Case-, accent- and apostrophe-insensitive form ("Dončić’s" → "doncic's")."""
    if text.isascii():
        return text.casefold()
    text = text.translate(_APOSTROPHES)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.casefold()


def tokens(text: str) -> list[str]:
    """Folded word tokens; apostrophes split words ("men's" → "men", "s") as punctuation does."""
    return _TOKEN.findall(fold(text))


# ---------------------------------------------------------------------------------------------------
# Aliases → entity ids
# ---------------------------------------------------------------------------------------------------

_CAPS_ANY = 0  # alias may appear in any case
_CAPS_INITIAL = 1  # needs an initial capital ("Heat", "Fed")
_CAPS_ALL = 2  # needs all capitals ("LAL", "BTC")


@dataclass(frozen=True, slots=True)
class _Alias:
    ids: tuple[str, ...]
    caps: int


def _add(table: dict[tuple[str, ...], _Alias], phrase: str, entity: str, caps: int) -> None:
    key = tuple(tokens(phrase))
    if not key:
        return
    old = table.get(key)
    if old is None:
        table[key] = _Alias((entity,), caps)
    elif entity not in old.ids:
        table[key] = _Alias((*old.ids, entity), max(old.caps, caps))


@lru_cache(maxsize=1)
def _alias_table() -> tuple[dict[tuple[str, ...], _Alias], dict[str, dict[str, str]], dict[str, int]]:
    table: dict[tuple[str, ...], _Alias] = {}
    codes: dict[str, dict[str, str]] = {}
    leagues = (("nba", aliases.NBA_TEAMS), ("nfl", aliases.NFL_TEAMS), ("cfb", aliases.CFB_TEAMS))
    for league, teams in leagues:
        league_codes = codes.setdefault(league, {})
        for code, names, proper, extra_codes in teams:
            entity = f"{league}:{code}"
            for n in names:
                _add(table, n, entity, _CAPS_ANY)
            for p in proper:
                _add(table, p, entity, _CAPS_INITIAL)
            for c in (code, *extra_codes):
                league_codes[c] = entity
                _add(table, c, entity, _CAPS_ALL)
    for entity, names in aliases.ENTITIES.items():
        for n in names:
            key = tuple(tokens(n))
            caps = _CAPS_INITIAL if n in aliases.PROPER else _CAPS_ALL if len(key) == 1 and len(n) <= 3 else 0
            _add(table, n, entity, caps)
    for code, names in aliases.COUNTRIES.items():
        for n in names:
            key = tuple(tokens(n))
            short = len(key) == 1 and len(key[0]) <= 3
            caps = _CAPS_ALL if short else _CAPS_INITIAL if n in aliases.PROPER_COUNTRIES else _CAPS_ANY
            _add(table, n, f"country:{code}", caps)
    first: dict[str, int] = {}  # first token → longest alias starting with it
    for k in table:
        first[k[0]] = max(first.get(k[0], 0), len(k))
    return table, codes, first


def _caps_ok(original: list[str], caps: int) -> bool:
    if caps == _CAPS_ANY:
        return True
    if caps == _CAPS_ALL:
        return all(w.isupper() for w in original)
    return all(w[:1].isupper() for w in original)


@dataclass(frozen=True, slots=True)
class Mention:
    """One alias hit: the candidate entity ids and the token span it covered."""

    ids: tuple[str, ...]
    start: int
    end: int


def find_mentions(text: str) -> tuple[list[str], list[Mention]]:
    """Longest-first alias matches over ``text``'s tokens; returns (folded tokens, mentions)."""
    table, _, first = _alias_table()
    if text.isascii():
        raw = _TOKEN.findall(text)
        folded = [w.casefold() for w in raw]
    else:
        raw = _TOKEN.findall(text.translate(_APOSTROPHES))
        folded = [fold(w) for w in raw]
    out: list[Mention] = []
    i, n = 0, len(folded)
    while i < n:
        longest = first.get(folded[i], 0)
        if not longest:
            i += 1
            continue
        for size in range(min(longest, n - i), 0, -1):
            hit = table.get(tuple(folded[i : i + size]))
            if hit is not None and _caps_ok(raw[i : i + size], hit.caps):
                out.append(Mention(hit.ids, i, i + size))
                i += size
                break
        else:
            i += 1
    return folded, out


_LEAGUE_RX = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(aliases.LEAGUE_HINTS, key=len, reverse=True)) + r")\b"
)


def league_hints(text: str) -> set[str]:
    """Leagues named in ``text`` ("NBA", "Pro Basketball", "FIFA" …)."""
    return {aliases.LEAGUE_HINTS[w] for w in _LEAGUE_RX.findall(" ".join(tokens(text)))}


def resolve(mention_ids: tuple[str, ...], leagues: set[str]) -> str | None:
    """Pick the one entity a mention means given the market's leagues; ``None`` if still ambiguous."""
    if len(mention_ids) == 1:
        return mention_ids[0]
    if leagues:
        scoped = [e for e in mention_ids if e.split(":", 1)[0] in leagues]
        if len(scoped) == 1:
            return scoped[0]
    return None


def canonical_entities(text: str, leagues: set[str] | None = None) -> list[str]:
    """Resolved entity ids mentioned in ``text``, in order of appearance (ambiguous ones dropped)."""
    hints = league_hints(text) | (leagues or set())
    _, mentions = find_mentions(text)
    out: list[str] = []
    for m in mentions:
        e = resolve(m.ids, hints)
        if e is not None and e not in out:
            out.append(e)
    return out


# ---------------------------------------------------------------------------------------------------
# Numbers with units, and comparison direction
# ---------------------------------------------------------------------------------------------------

GT, GE, LT, LE, EQ, BETWEEN = "gt", "ge", "lt", "le", "eq", "between"
_COMPLEMENT = {GT: LE, GE: LT, LT: GE, LE: GT}


@dataclass(frozen=True, slots=True)
class Threshold:
    """A strike: ``value`` (and ``upper`` for a range) in ``unit`` with a comparison direction."""

    value: Decimal
    unit: str  # "usd", "pct", "degf", "degc", or "" for a count (points, hits, an O/U line)
    direction: str  # gt, ge, lt, le, eq, between
    upper: Decimal | None = None

    def complement_of(self, other: Threshold) -> bool:
        """True when YES here is exactly NO there (≥ x vs < x)."""
        if self.unit != other.unit:
            return False
        if self.value == other.value and _COMPLEMENT.get(self.direction) == other.direction:
            return True
        # canonical half-point lines on counts: "≥ 232" is the complement of "≤ 231"
        if self.unit == "" and {self.direction, other.direction} == {GE, LE}:
            ge, le = (self, other) if self.direction == GE else (other, self)
            return ge.value == le.value + 1 and ge.value % 1 == 0
        return False


_DIR_WORDS: dict[str, str] = {
    "above": GT, "over": GT, "more than": GT, "greater than": GT, "higher than": GT, "exceed": GT,
    "exceeds": GT, "o/u": GT, "over/under": GT, ">": GT,
    "at least": GE, "no less than": GE, "≥": GE, ">=": GE, "or more": GE, "or higher": GE, "or above": GE,
    "or greater": GE, "+": GE, "or over": GE,
    "below": LT, "under": LT, "less than": LT, "lower than": LT, "fewer than": LT, "<": LT,
    "at most": LE, "no more than": LE, "≤": LE, "<=": LE, "or less": LE, "or lower": LE, "or below": LE,
    "or fewer": LE, "or under": LE,
    "exactly": EQ, "=": EQ,
}
_PRE = (
    r"(?P<pre>o/u|over/under|more than|greater than|higher than|at least|no less than|less than|"
    r"lower than|fewer than|at most|no more than|exceeds?|above|over|below|under|exactly|>=|<=|[≥≤<>=])?"
)
_NUM = r"(?P<cur>\$)?\s*(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_MULT = r"(?:\s*(?P<mult>k|m|mn|bn|b|t|thousand|million|billion|trillion)\b)?"
_UNIT = (
    r"(?:\s*(?P<unit>%|percent\b|percentage points?\b|bps\b|basis points?\b|°\s*f\b|°\s*c\b|°|degrees?\b|"
    r"points?\b|pts\b))?"
)
_POST = (
    r"(?:\s*(?P<post>\+|or more|or higher|or above|or greater|or over|or less|or lower|or below|or fewer|"
    r"or under))?"
)
_THRESHOLD = re.compile(r"(?<![\w.])" + _PRE + r"\s*" + _NUM + _MULT + _UNIT + _POST)
_RANGE = re.compile(
    r"(?:between\s+)?(?P<cur>\$)?(?P<lo>\d+(?:\.\d+)?)\s*(?P<u1>°|%)?\s*(?:-|to|and)\s*\$?(?P<hi>\d+(?:\.\d+)?)\s*"
    r"(?P<unit>°\s*f?|%)"
)
_MULTIPLIERS = {
    "k": Decimal(1000), "thousand": Decimal(1000), "m": Decimal(10**6), "mn": Decimal(10**6),
    "million": Decimal(10**6), "b": Decimal(10**9), "bn": Decimal(10**9), "billion": Decimal(10**9),
    "t": Decimal(10**12), "trillion": Decimal(10**12),
}
_HALF = Decimal("0.5")


def _unit_of(raw: str | None, currency: bool) -> tuple[str, Decimal]:
    if currency:
        return "usd", Decimal(1)
    if not raw:
        return "", Decimal(1)
    u = raw.replace(" ", "")
    if u in ("%", "percent") or u.startswith("percentage"):
        return "pct", Decimal(1)
    if u in ("bps",) or u.startswith("basis"):
        return "pct", Decimal("0.01")
    if u in ("°f", "°", "degree", "degrees"):
        return "degf", Decimal(1)
    if u == "°c":
        return "degc", Decimal(1)
    return "", Decimal(1)  # "points", "pts": a count, like a bare O/U line


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _canonical(th: Threshold) -> Threshold:
    """Half-point lines on counts: "over 229.5" is "229.5+" is "≥ 230", so they compare equal."""
    if th.unit == "" and th.value > 0 and th.value % 1 == _HALF:
        if th.direction == GT:
            return Threshold((th.value + _HALF).normalize(), th.unit, GE)
        if th.direction == LT:
            return Threshold((th.value - _HALF).normalize(), th.unit, LE)
    return th


def parse_thresholds(text: str) -> list[Threshold]:
    """Strikes in ``text``: numbers that carry a unit, a currency or a comparison word.

    Bare numbers (years, counts in names such as "76ers", "Round of 16") are not strikes.
    """
    if not _HAS_DIGIT.search(text):
        return []
    low = fold(text)
    out: list[Threshold] = []
    taken: list[tuple[int, int]] = []
    for m in _RANGE.finditer(low):
        lo, hi = _decimal(m["lo"]), _decimal(m["hi"])
        if lo is None or hi is None or hi <= lo:
            continue
        unit, scale = _unit_of(m["unit"], bool(m["cur"]))
        out.append(Threshold(lo * scale, unit, BETWEEN, hi * scale))
        taken.append(m.span())
    for m in _THRESHOLD.finditer(low):
        if any(a <= m.start() < b for a, b in taken):
            continue
        pre, post, unit_raw, cur = m["pre"], m["post"], m["unit"], m["cur"]
        if not (pre or post or unit_raw or cur):
            continue
        value = _decimal(m["num"])
        if value is None:
            continue
        if not (cur or unit_raw or m["mult"]) and 1900 <= value <= 2100 and value % 1 == 0 and not post:
            continue  # a year after "before"/"by" is a date, not a strike
        unit, scale = _unit_of(unit_raw, bool(cur))
        if m["mult"]:
            value *= _MULTIPLIERS[m["mult"]]
        direction = _DIR_WORDS.get(post or "", "") or _DIR_WORDS.get(pre or "", "") or EQ
        out.append(_canonical(Threshold(value * scale, unit, direction)))
    return out


def parse_direction(text: str) -> str | None:
    """The comparison a phrase states ("at least" → ge, "under" → lt), or ``None``."""
    low = fold(text).strip()
    for word in sorted(_DIR_WORDS, key=len, reverse=True):
        if re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", low) if word[0].isalpha() else word in low:
            return _DIR_WORDS[word]
    return None


# ---------------------------------------------------------------------------------------------------
# Dates and windows
# ---------------------------------------------------------------------------------------------------

ON, DEADLINE, RANGE, EDITION = "on", "deadline", "range", "edition"


@dataclass(frozen=True, slots=True)
class DateSpan:
    """A date fact: a day (``on``), a latest day (``deadline``), a period (``range``) or an edition year.

    ``start``/``end`` are inclusive calendar days; for ``deadline`` only ``end`` matters and for
    ``edition`` both are Jan 1 / Dec 31 of the year ("the 2026 World Cup", "2025-26 season" → 2026).
    """

    kind: str
    start: date | None
    end: date


_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
_MON = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_PREP = r"(?:\b(?P<prep>by|before|on|in|through|until|till|ending|end of|by the end of|by end of|after)\s+(?:the\s+)?)?"
_DAY_DATE = re.compile(
    _PREP + _MON + r"\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*(?P<year>(?:19|20)\d{2}))?"
)
_MONTH_YEAR = re.compile(_PREP + _MON + r"\.?,?\s+(?P<year>(?:19|20)\d{2})\b")
_ISO = re.compile(r"(?<!\d)(?P<y>20\d{2})-(?P<m>\d{2})-(?P<d>\d{2})(?!\d)")
_SEASON = re.compile(r"(?<!\d)(?P<y1>20\d{2})\s*[-/]\s*(?P<y2>\d{2}|20\d{2})(?!\d)")
_YEAR = re.compile(_PREP + r"(?<![\d$.,])(?P<year>(?:19|20)\d{2})(?![\d%°,.]\d?|\s*(?:bps|k\b|m\b|bn\b))")
_TICKER_DATE = re.compile(r"-(?P<yy>\d{2})(?P<mon>JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(?P<dd>\d{2})")


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _infer_year(month: int, day: int, ref: date | None) -> int | None:
    """A year for "June 30": the one that puts the date nearest to the reference (close) date."""
    if ref is None:
        return None
    best: tuple[int, int] | None = None
    for y in (ref.year - 1, ref.year, ref.year + 1):
        d = _safe_date(y, month, day)
        if d is not None:
            gap = abs((d - ref).days)
            if best is None or gap < best[0]:
                best = (gap, y)
    return best[1] if best else None


def _month_end(y: int, m: int) -> date:
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _span(prep: str | None, start: date, end: date) -> DateSpan:
    """Apply the preposition: "before X" ends the day before X starts; "by X"/"in X" keep X."""
    p = (prep or "").strip()
    if p == "before":
        return DateSpan(DEADLINE, None, start - timedelta(days=1))
    if p in ("by", "through", "until", "till", "end of", "by the end of", "by end of"):
        return DateSpan(DEADLINE, None, end)
    if start == end:
        return DateSpan(ON, start, end)
    return DateSpan(RANGE, start, end)


def parse_dates(text: str, ref: date | None = None) -> list[DateSpan]:
    """Date facts in ``text``; a missing year is inferred from ``ref`` (typically the close date)."""
    out: list[DateSpan] = []
    if not _HAS_DIGIT.search(text):
        return out
    low = fold(text)

    def blank(m: re.Match[str]) -> str:
        return " " * (m.end() - m.start())

    for m in _ISO.finditer(low):
        d = _safe_date(int(m["y"]), int(m["m"]), int(m["d"]))
        if d is not None:
            out.append(DateSpan(ON, d, d))
    low = _ISO.sub(blank, low)
    for m in _DAY_DATE.finditer(low):
        month, day = _MONTHS[m["mon"]], int(m["day"])
        year = int(m["year"]) if m["year"] else _infer_year(month, day, ref)
        d = _safe_date(year, month, day) if year else None
        if d is None or m["prep"] == "after":
            continue
        out.append(_span(m["prep"], d, d))
    low = _DAY_DATE.sub(blank, low)
    for m in _MONTH_YEAR.finditer(low):
        y, mo = int(m["year"]), _MONTHS[m["mon"]]
        if m["prep"] != "after":
            out.append(_span(m["prep"], date(y, mo, 1), _month_end(y, mo)))
    low = _MONTH_YEAR.sub(blank, low)
    for m in _SEASON.finditer(low):
        y1, y2 = int(m["y1"]), int(m["y2"]) % 100
        if (y1 + 1) % 100 == y2:
            out.append(DateSpan(EDITION, date(y1 + 1, 1, 1), date(y1 + 1, 12, 31)))
    low = _SEASON.sub(blank, low)
    for m in _YEAR.finditer(low):
        y, prep = int(m["year"]), (m["prep"] or "").strip()
        if prep == "after":
            continue
        if prep in ("before", "by"):
            out.append(DateSpan(DEADLINE, None, date(y - 1, 12, 31)))
        elif prep in ("end of", "by the end of", "by end of", "through", "until", "till"):
            out.append(DateSpan(DEADLINE, None, date(y, 12, 31)))
        elif prep == "in":
            out.append(DateSpan(RANGE, date(y, 1, 1), date(y, 12, 31)))
        else:
            out.append(DateSpan(EDITION, date(y, 1, 1), date(y, 12, 31)))
    return out


def ticker_date(ticker: str) -> date | None:
    """The date in a Kalshi ticker ("KXNBAGAME-26JAN09MILLAL-MIL" → 2026-01-09)."""
    m = _TICKER_DATE.search(ticker)
    if not m:
        return None
    return _safe_date(2000 + int(m["yy"]), _MONTHS[m["mon"].lower()], int(m["dd"]))


# ---------------------------------------------------------------------------------------------------
# Structured identifiers: Kalshi game tickers and Polymarket sports slugs
# ---------------------------------------------------------------------------------------------------

_KALSHI_GAME = re.compile(
    r"^KX(?P<series>[A-Z]+?)(?P<kind>GAME|SPREAD|TOTAL)-(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})(?:\d{4})?"
    r"(?P<codes>[A-Z]+)(?:-(?P<outcome>[A-Z0-9]+))?$"
)
_KALSHI_LEAGUE = {"NBA": "nba", "NFL": "nfl", "NCAAF": "cfb", "CFB": "cfb"}
_POLY_GAME = re.compile(
    r"^(?P<league>nba|nfl|cfb|cfp|ncaaf)-(?P<a>[a-z]+)-(?P<b>[a-z]+)-(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<rest>.+))?$"
)


@dataclass(frozen=True, slots=True)
class GameRef:
    """A two-team game named by a structured id: league, both teams, local date, YES team if any."""

    league: str
    teams: frozenset[str]
    day: date
    subject: str | None
    suffix: str = ""


def _split_codes(codes: str, table: dict[str, str]) -> tuple[str, str] | None:
    hits = []
    for i in range(2, len(codes) - 1):
        a, b = codes[:i].lower(), codes[i:].lower()
        if a in table and b in table:
            hits.append((table[a], table[b]))
    return hits[0] if len(hits) == 1 else None


def parse_kalshi_game(ticker: str) -> GameRef | None:
    """``KXNBAGAME-26JAN09MILLAL-MIL`` → nba, {mil, lal}, 2026-01-09, subject nba:mil."""
    m = _KALSHI_GAME.match(ticker.upper())
    if not m or m["series"] not in _KALSHI_LEAGUE:
        return None
    league = _KALSHI_LEAGUE[m["series"]]
    table = _alias_table()[1].get(league, {})
    pair = _split_codes(m["codes"], table)
    day = _safe_date(2000 + int(m["yy"]), _MONTHS.get(m["mon"].lower(), 0), int(m["dd"]))
    if pair is None or day is None:
        return None
    subject = table.get((m["outcome"] or "").lower()) if m["kind"] == "GAME" else None
    return GameRef(league, frozenset(pair), day, subject, m["kind"].lower())


def parse_poly_slug(slug: str) -> GameRef | None:
    """``nba-mil-lal-2026-01-09[-spread-home-3pt5]`` → nba, {mil, lal}, 2026-01-09, suffix."""
    m = _POLY_GAME.match(slug.lower())
    if not m:
        return None
    league = {"cfp": "cfb", "ncaaf": "cfb"}.get(m["league"], m["league"])
    table = _alias_table()[1].get(league, {})
    a, b = table.get(m["a"]), table.get(m["b"])
    y, mo, d = (int(x) for x in m["date"].split("-"))
    day = _safe_date(y, mo, d)
    if a is None or b is None or day is None:
        return None
    return GameRef(league, frozenset((a, b)), day, None, m["rest"] or "")


# ---------------------------------------------------------------------------------------------------
# Market features
# ---------------------------------------------------------------------------------------------------

# Entity kinds that name *what* is at stake (competition, organisation, asset): they must agree.
CONTEXT_KINDS = frozenset({"comp", "org", "crypto", "idx", "econ", "cmd", "place"})
_FIFTY = re.compile(
    r"50\s*[-/]\s*50|fifty[- ]fifty|fair (?:market )?(?:price|value)|resolve[sd]? (?:to |at )?\$?0?\.50?\b|"
    r"split (?:evenly|equally)",
)
_OTHER_LABEL = re.compile(
    r"^(?:others?|other \w+|any other.*|someone else|none of the above|field|the field|"
    r"(?:person|player|candidate|team|option|company|country|party) (?:[a-z]{1,2}|\d{1,3}))$"
)
_SPREAD_LINE = re.compile(r"\(\s*(?P<sign>[-+])\s*(?P<num>\d+(?:\.\d+)?)\s*\)")
_SCHEDULED = re.compile(
    r"scheduled (?:for|on) (?:[a-z]+day,? )?" + _MON + r"\.? (?P<day>\d{1,2})(?:,? (?P<year>20\d{2}))?"
)
_FAMILY_SUFFIX = (
    ("1h-spread", "1h_spread"), ("1h-total", "1h_total"), ("1h-moneyline", "1h_winner"), ("spread", "spread"),
    ("total", "total"), ("points", "prop"), ("rebounds", "prop"), ("assists", "prop"), ("moneyline", "winner"),
)
_STATS = r"(?:points|rebounds|assists|hits|home runs|strikeouts|total bases)"
_PROP = re.compile(r":\s*" + _STATS + r"|\d\+\s*" + _STATS)
_KALSHI_SERIES_LEAGUE = (("KXNBA", "nba"), ("KXNFL", "nfl"), ("KXNCAAF", "cfb"))
_SPORTS_TYPES = {
    "moneyline": "winner", "spreads": "spread", "totals": "total", "first_half_moneyline": "1h_winner",
    "first_half_spreads": "1h_spread", "first_half_totals": "1h_total", "points": "prop", "rebounds": "prop",
    "assists": "prop", "threes": "prop",
}
_PREDICATES = (
    ("nominate", re.compile(r"\bnominee\b|\bnomination\b|\bnominated\b")),
    ("advance", re.compile(r"\badvances?\b|\breach(?:es)?\b|\bqualif(?:y|ies)\b|\bmake the (?:playoffs|finals)\b")),
    ("appear", re.compile(r"\bappear|\bbe on\b|\bfeatured?\b|\bguest")),
    ("inaugurate", re.compile(r"\binaugurated\b")),
    ("win", re.compile(r"\bwins?\b|\bwinner\b|\bchampion\b|\bbeat\b|\bdefeat")),
)


@dataclass(frozen=True, slots=True)
class MarketFeatures:
    """What a market is about, in comparable form. Produced once per market and cached by the caller."""

    key_text: str  # title with entity aliases replaced by ids; what the fuzzy scorer sees
    block_keys: frozenset[str]  # rare tokens, entities, entity@date: the inverted-index keys
    entities: frozenset[str]
    subject: frozenset[str]  # who the YES outcome is about
    no_subject: frozenset[str]  # who the NO outcome is about, when both outcomes are named
    teams: frozenset[str]  # the two sides of a game
    leagues: frozenset[str]
    family: str  # winner, spread, total, prop, 1h_* … or "" when not a sports line
    predicate: str  # win, advance, nominate, appear, inaugurate or ""
    thresholds: tuple[Threshold, ...]
    dates: tuple[DateSpan, ...]
    fifty_fifty: bool
    other: bool
    context: Mapping[str, frozenset[str]] = field(default_factory=dict)  # entity kind → ids ("comp", "org" …)


def _is_other(label: str) -> bool:
    return bool(label) and bool(_OTHER_LABEL.match(" ".join(tokens(label))))


def _label_subject(label: str, leagues: set[str]) -> frozenset[str]:
    return _label_subject_cached(label, frozenset(leagues))


@lru_cache(maxsize=1 << 14)
def _label_subject_cached(label: str, leagues: frozenset[str]) -> frozenset[str]:
    """Entities of an outcome label; an unknown proper name becomes ``name:<folded words>``."""
    if not label or fold(label).strip() in ("yes", "no", "over", "under", "up", "down"):
        return frozenset()
    ents = canonical_entities(label, set(leagues))
    if ents:
        return frozenset(ents)
    words = tokens(label)
    if 0 < len(words) <= 6 and not any(w.isdigit() for w in words) and not parse_thresholds(label):
        return frozenset({"name:" + " ".join(words)})
    return frozenset()


def _family(text: str, game: GameRef | None, sports_type: str) -> str:
    if sports_type in _SPORTS_TYPES:
        return _SPORTS_TYPES[sports_type]
    if game is not None and game.suffix:
        if game.suffix == "spread":
            return "spread"
        if game.suffix == "total":
            return "total"
        for key, fam in _FAMILY_SUFFIX:
            if game.suffix.startswith(key):
                return fam
    low = fold(text)
    half = "1h_" if re.search(r"\b1h\b|first half|1st half", low) else ""
    if re.search(r"\bspread\b|wins? by (?:over|more than)|\(\s*[-+]\d", low):
        return half + "spread"
    if re.search(r"o/u|over/under|total points|points scored|\btotal\b", low):
        return half + "total"
    if _PROP.search(low):
        return "prop"
    if game is not None or re.search(r"\bmoneyline\b|\bwinner\?$|\bwinner\b", low):
        return half + "winner" if (game is not None or half or "moneyline" in low) else ""
    return ""


def _predicate(text: str) -> str:
    low = fold(text)
    for name, rx in _PREDICATES:
        if rx.search(low):
            return name
    return ""


def _key_text(folded: list[str], mentions: list[Mention], leagues: set[str]) -> str:
    parts: list[str] = []
    i = 0
    for m in mentions:
        parts.extend(w for w in folded[i : m.start] if w not in STOPWORDS)
        e = resolve(m.ids, leagues)
        parts.append(e.replace(":", "_") if e else " ".join(folded[m.start : m.end]))
        i = m.end
    parts.extend(w for w in folded[i:] if w not in STOPWORDS)
    return " ".join(parts)


def _ref_date(market: Market) -> date | None:
    t: datetime | None = market.expected_resolution_time or market.close_time
    return t.date() if t is not None else None


def extract_features(market: Market) -> MarketFeatures:
    """Structured features of one market (title, outcome labels, ids, rules)."""
    extra = market.extra
    slug = extra.get("slug", "") or extra.get("event_slug", "")
    game: GameRef | None = None
    if market.venue is Venue.KALSHI:
        game = parse_kalshi_game(market.id)
    elif slug:
        game = parse_poly_slug(slug)
        if game is None and extra.get("event_slug"):
            game = parse_poly_slug(extra["event_slug"])
    title = market.title
    head = title if not market.event_title or market.event_title in title else f"{market.event_title} {title}"
    leagues = league_hints(head) | ({game.league} if game else set())
    if market.venue is Venue.KALSHI:
        leagues |= {lg for key, lg in _KALSHI_SERIES_LEAGUE if market.id.startswith(key)}
    folded, mentions = find_mentions(head)
    ents: list[str] = []
    for m in mentions:
        e = resolve(m.ids, leagues)
        if e is not None and e not in ents:
            ents.append(e)

    yes_label = market.outcome_label
    no_label = extra.get("no_label", "")
    subject = _label_subject(yes_label, leagues)
    no_subject = _label_subject(no_label, leagues)
    if game is not None and game.subject is not None:
        subject = frozenset({game.subject})
    if not subject and not no_label:
        lead = [e for e in ents if not e.startswith(("comp:", "org:nws", "place:"))]
        if lead and fold(title).lstrip().startswith("will"):
            subject = frozenset({lead[0]})

    league_ids = {"nba", "nfl", "cfb"}
    teams = frozenset(e for e in ents if e.split(":", 1)[0] in league_ids)
    if game is not None:
        teams = game.teams
    ref = _ref_date(market)
    dates = parse_dates(head, ref)
    if game is not None:
        dates.append(DateSpan(ON, game.day, game.day))
    rules_low = market.rules.casefold() if market.rules else ""  # long text: no accent folding needed
    if rules_low:
        sm = _SCHEDULED.search(rules_low)
        if sm:
            mo, dd = _MONTHS[sm["mon"]], int(sm["day"])
            yr = int(sm["year"]) if sm["year"] else _infer_year(mo, dd, ref)
            d = _safe_date(yr, mo, dd) if yr else None
            if d is not None:
                dates.append(DateSpan(ON, d, d))
    sports_type = extra.get("sportsMarketType", "")
    family = _family(title, game, sports_type)
    if market.venue is Venue.KALSHI and game is not None and game.suffix == "game":
        family = "winner"
    predicate = _predicate(title)
    if not family and len(teams) == 2 and predicate == "win":
        family = "winner"  # "Will the Bucks beat the Lakers?"
    thresholds = tuple(parse_thresholds(title))
    if family in ("spread", "1h_spread"):
        line = _SPREAD_LINE.search(title)
        if line:  # "Spread: Lakers (-3.5)": YES = Lakers win by more than 3.5
            sign = -1 if line["sign"] == "+" else 1
            thresholds = (_canonical(Threshold(Decimal(line["num"]) * sign, "", GT)),)
        elif not thresholds:
            thresholds = tuple(parse_thresholds(yes_label))
    if family == "prop" and not thresholds:
        thresholds = tuple(parse_thresholds(yes_label))

    entities = frozenset(ents) | subject | no_subject | teams
    key_text = _key_text(folded, mentions, leagues)
    keys: set[str] = {"e:" + e for e in entities}
    day_keys = {d.end.isoformat() for d in dates if d.kind == ON}
    for e in entities:
        for dk in day_keys:
            keys.add(f"e:{e}@{dk}")
    for th in thresholds:
        keys.add(f"n:{th.value.normalize()}{th.unit}")
    keys.update(w for w in key_text.split() if len(w) > 2 and w not in STOPWORDS)
    context: dict[str, set[str]] = {}
    for e in entities:
        kind = e.split(":", 1)[0]
        if kind in CONTEXT_KINDS:
            context.setdefault(kind, set()).add(e)
    return MarketFeatures(
        context={k: frozenset(v) for k, v in context.items()},
        key_text=key_text,
        block_keys=frozenset(keys),
        entities=entities,
        subject=subject,
        no_subject=no_subject,
        teams=teams,
        leagues=frozenset(leagues),
        family=family,
        predicate=predicate,
        thresholds=thresholds,
        dates=tuple(dict.fromkeys(dates)),
        fifty_fifty=bool(_FIFTY.search(rules_low)) if rules_low else False,
        other=market.is_other or _is_other(yes_label),
    )


def normalize_text(text: str) -> str:
    """Folded, punctuation-free, single-spaced text with aliases replaced by canonical entity ids."""
    folded, mentions = find_mentions(text)
    return _key_text(folded, mentions, league_hints(text))


def entity_set(texts: Iterable[str]) -> frozenset[str]:
    """All resolved entities in several texts (convenience for tests and the pairs UI)."""
    out: set[str] = set()
    for t in texts:
        out.update(canonical_entities(t))
    return frozenset(out)
