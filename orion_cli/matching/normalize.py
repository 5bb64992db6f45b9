"""Turn a market's free text into comparable facts: entities, thresholds, dates, outcome subject.

Titles that read alike are not the same bet. What decides settlement is *who* (entities, and which of
them is the YES outcome), *how much* (threshold, unit, direction) and *when* (date or window), so those
are extracted as structured features, with *which* period or numbered event ("Q3", "H1", "Game 7") and
*which* person ("Donald Trump Jr." is not "Trump"); the fuzzy text score only ranks candidates.

Everything here is pure and deterministic. :func:`extract_features` is the one entry point for a
:class:`~orion_cli.core.models.Market`; the smaller helpers are public because the equivalence checks
and the tests use them directly.

Speed: a scan extracts features for tens of thousands of markets whose titles come in ladders that
differ only in a number ("O/U 229.5", "above $61,000 on March 5"). Parsing is memoised per
:func:`number_shape` (numbers blanked) and the numbers are read back per title, which gives exactly the
features of parsing each title on its own (``tests/matching/test_number_shapes.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple, cast

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
# Number shapes: a ladder of titles parsed once
# ---------------------------------------------------------------------------------------------------

# A word token of ASCII digits only: "229" and "5" in "O/U 229.5", not "76ers" nor "1h".
_NUMBER_TOKEN = re.compile(r"(?<![^\W_])[0-9]+(?![^\W_])")
# Outside ASCII, a text is shaped only if each other character is one that folding keeps as it is and
# out of tokens (°), or first turns into ASCII punctuation (the apostrophes and dashes).
_SHAPE_UNSAFE = re.compile("[^\\x00-\\x7f°" + re.escape("".join(chr(c) for c in _APOSTROPHES)) + "]")
_ASCII_DIGIT = re.compile(r"[0-9]")
_ZEROS = frozenset("0")


def number_shape(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` with its numbers written as zeros, and the numbers so replaced, in order.

    Titles come in ladders that differ only in their numbers ("above $61,000 on March 5", "above
    $62,500 on March 6", "O/U 229.5"), so what does not depend on the numbers' values (aliases and
    leagues, line family, predicate, and *where* the strikes and dates are) is worked out once per
    shape, and the numbers are read back from the text, or put back into the key text. A number is a
    token of ASCII digits, and it is kept as it is when it holds "19" or "20" (it may be a year) or
    is part of an alias ("s p 500"). That is exact because

    * a zeroed number is still a token of digits of the same length, and the threshold and date
      patterns read a digit only through ``\\d`` or in a literal "19"/"20", which neither the zeros
      nor the number they replace hold: every match has the same span and groups;
    * no alias, league hint, stop word, line-family, predicate or stance pattern reads a number token ("1h"
      and "1st" are other tokens), and none is a run of zeros;
    * folding leaves ASCII digits and token boundaries alone, so the folded shape is the shape of the
      folded text. Text with other non-ASCII characters is returned as it is (no numbers replaced):
      folding may decompose those into letters or digits.
    """
    if not _ASCII_DIGIT.search(text):
        return text, ()
    keep = _kept_numbers()
    if keep is None or (not text.isascii() and _SHAPE_UNSAFE.search(text)):
        return text, ()
    numbers: list[str] = []

    def zero(m: re.Match[str]) -> str:
        number = m[0]
        if "19" in number or "20" in number or number in keep:
            return number
        numbers.append(number)
        return "0" * len(number)

    shape = _NUMBER_TOKEN.sub(zero, text)
    return shape, tuple(numbers)


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


@lru_cache(maxsize=1)
def _kept_numbers() -> frozenset[str] | None:
    """Number tokens that are part of an alias or a league hint ("s p 500", "nasdaq 100"), which
    :func:`number_shape` keeps; ``None`` if a run of zeros were one (then no number can be replaced)."""
    table = _alias_table()[0]
    words = {w for key in table for w in key} | {w for hint in aliases.LEAGUE_HINTS for w in tokens(hint)}
    numbers = frozenset(w for w in words if w.isdigit())
    return None if any(set(w) <= _ZEROS for w in numbers) else numbers


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
    src = text if text.isascii() else text.translate(_APOSTROPHES)
    raw = _TOKEN.findall(src)
    if text.isascii():
        folded = _TOKEN.findall(text.casefold()) if not text.islower() else raw  # ASCII: the same tokens
    else:
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
                mention = Mention(hit.ids, i, i + size)
                if hit.ids[0].startswith("person:"):
                    mention = _name_variant(mention, src, raw, folded, out[-1].end if out else 0)
                out.append(mention)
                i = mention.end
                break
        else:
            i += 1
    return folded, out


# "Donald Trump Jr.", "Hunter Biden": a person alias extended by a generational suffix, or a bare
# surname alias after another first name, names someone else. Words that may stand before a surname
# without being a first name (sentence starts, titles, months) are listed; anything else capitalised is
# read as a first name, which at worst holds a pair back for curation (fail closed).
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_NOT_FIRST_NAMES = STOPWORDS | frozenset(
    "can could would should shall may might must has have had how why where whom whose whether not per says "
    "said ex former then also even only just both either neither while since until against about during new "
    "president vice senator sen governor gov rep representative congressman congresswoman speaker secretary "
    "mr mrs ms miss dr sir dame lord lady judge justice general gen prime minister chancellor king queen "
    "prince princess pope ceo chair chairman chairwoman candidate nominee elect mayor attorney ambassador "
    "commissioner director leader chief first team administration monday tuesday wednesday thursday friday "
    "saturday sunday january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def _name_variant(m: Mention, src: str, raw: list[str], folded: list[str], prev_end: int) -> Mention:
    """``m`` (a person alias) as another person when a suffix or another first name extends it."""
    start, end = m.start, m.end
    mods: list[str] = []
    if end - start == 1 and start > prev_end:
        j = start - 1
        if len(raw[j]) == 1 and j > prev_end and raw[j].isupper():
            j -= 1  # a middle initial: "Hunter R. Biden"
        word = raw[j]
        if (
            word[:1].isupper()
            and not (word.isupper() and len(word) > 1)  # an acronym ("CEO", "GOP")
            and word.isalpha()
            and folded[j] not in _NOT_FIRST_NAMES
            and not _same_person(folded[j], folded[start], m.ids)  # "Joe R. Biden"
            and _only_space_between(src, j, start)
        ):
            mods.append(folded[j])
            start = j
    if end < len(folded) and folded[end] in _NAME_SUFFIXES and (folded[end] in ("jr", "sr") or raw[end].isupper()):
        mods.append(folded[end])
        end += 1
    if not mods:
        return m
    suffix = "_" + "_".join(mods)
    return Mention(tuple(e + suffix for e in m.ids), start, end)


def _same_person(first_name: str, surname: str, ids: tuple[str, ...]) -> bool:
    hit = _alias_table()[0].get((first_name, surname))
    return hit is not None and bool(set(hit.ids) & set(ids))


def _only_space_between(src: str, j: int, k: int) -> bool:
    """Whether tokens ``j`` to ``k`` of ``src`` are separated by spaces (after an initial's dot) only:
    "Harris-Trump" is two people, "Hunter R. Biden" one."""
    spans = [t.span() for t in _TOKEN.finditer(src)]
    return all(_NAME_GAP.fullmatch(src, spans[t][1], spans[t + 1][0]) for t in range(j, k))


_NAME_GAP = re.compile(r"\.?\s+")


_LEAGUE_RX = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(aliases.LEAGUE_HINTS, key=len, reverse=True)) + r")\b"
)


def league_hints(text: str) -> set[str]:
    """Leagues named in ``text`` ("NBA", "Pro Basketball", "FIFA" …)."""
    return _league_hints_of(tokens(text))


def _league_hints_of(folded_tokens: list[str]) -> set[str]:
    # A hint matches whole tokens, so its first word is one of the tokens: without any, no regex pass.
    if _LEAGUE_FIRST_WORDS.isdisjoint(folded_tokens):
        return set()
    return {aliases.LEAGUE_HINTS[w] for w in _LEAGUE_RX.findall(" ".join(folded_tokens))}


_LEAGUE_FIRST_WORDS = frozenset(w.split()[0] for w in aliases.LEAGUE_HINTS)


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
    "at or above": GE, "at or over": GE, "at or higher than": GE, "greater than or equal to": GE,
    "more than or equal to": GE, "equal to or greater than": GE, "equal to or more than": GE,
    "equal to or higher than": GE, "no fewer than": GE, "not less than": GE, "not fewer than": GE,
    "and above": GE, "and up": GE, "and over": GE, "and higher": GE, "and more": GE, "and greater": GE,
    "below": LT, "under": LT, "less than": LT, "lower than": LT, "fewer than": LT, "<": LT,
    "at most": LE, "no more than": LE, "≤": LE, "<=": LE, "or less": LE, "or lower": LE, "or below": LE,
    "or fewer": LE, "or under": LE,
    "at or below": LE, "at or under": LE, "at or lower than": LE, "less than or equal to": LE,
    "fewer than or equal to": LE, "equal to or less than": LE, "equal to or fewer than": LE,
    "equal to or lower than": LE, "not more than": LE, "no higher than": LE, "not higher than": LE,
    "and below": LE, "and under": LE, "and lower": LE, "and less": LE, "and fewer": LE,
    "exactly": EQ, "=": EQ,
}
# Inclusive forms first: "at or above" must not read as its last word, "above" (strict).
_PRE = (
    r"(?P<pre>at or (?:above|over|under|below|(?:higher|lower) than)|"
    r"(?:greater|more|less|fewer) than or equal to|equal to or (?:greater|more|higher|less|fewer|lower) than|"
    r"not? (?:less|fewer|more|higher) than|"
    r"o/u|over/under|more than|greater than|higher than|at least|no less than|less than|"
    r"lower than|fewer than|at most|no more than|exceeds?|above|over|below|under|exactly|>=|<=|[≥≤<>=])?"
)
_MONEY = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"  # a number as titles write it, thousands comma'd or not
# A minus sign: "-1%", "-$0.50", "minus 5°F" ("−" and "–" fold to "-"); without it "below -1%" was read as
# "= 1%" and "-1% or lower" as "1% or lower". A hyphen after a word, a number or a point ("COVID-19", "H-1B",
# "2-3%") or before a space ("2 - 3") joins, and is no sign.
_MINUS = r"(?:(?<![\w.,])-(?=\$?\d)|\bminus\s+(?=\$?\d))"
# The sign with its own spaces, or none: "\s*" both before and after an optional "$" backtracked
# cubically on a run of spaces (2,000 cost half a minute of one title).
_NUM = r"(?P<neg>" + _MINUS + r")?(?:(?P<cur>\$)\s*)?(?P<num>" + _MONEY + ")"
_RANGE_MULT = r"(?:\s*(?P<{}>k|m|mn|bn|b|t|thousand|million|billion|trillion)\b)?"  # named per use
_MULT = _RANGE_MULT.format("mult")
# Units of measure (length, speed, mass, volume, duration) besides the legacy ones: "10 inches" is not
# "10 cm". Counts (points, yards, goals) stay unitless so that half-point lines compare (_canonical).
_MEASURE_UNITS = (
    r"inch(?:es)?\b|in\.(?![\w.])|cm\b|centimet(?:er|re)s?\b|mm\b|millimet(?:er|re)s?\b|"
    r"km\s*/\s*h\b|kph\b|kmh\b|km\b|kilomet(?:er|re)s?\b|met(?:er|re)s?\b|feet\b|foot\b|ft\b|"
    r"mph\b|miles per hour\b|miles?\b|mi\b|kg\b|kilograms?\b|grams?\b|lbs?\b|pounds?\b|tonnes?\b|tons?\b|"
    r"gallons?\b|lit(?:er|re)s?\b|barrels?\b|hours?\b|hrs?\b|minutes?\b|mins?\b|seconds?\b|secs?\b|"
    r"days?\b|weeks?\b|months?\b|years?\b"
)
# A temperature in signs or words: "°C", "° Celsius", "degrees C", "degrees Fahrenheit", "20 celsius". The
# scale is read wherever it is written (a °C threshold compared as °F is another bet); a bare "°" or
# "degrees" is Fahrenheit, as Kalshi's US weather markets write it. "\s+" is followed by a required word.
_DEGREES = (
    r"°\s*(?:f|fahrenheit|c|celsius|centigrade)\b|°|degrees?\s+(?:f|fahrenheit|c|celsius|centigrade)\b|degrees?\b|"
    r"fahrenheit\b|celsius\b|centigrade\b"
)
_UNIT = (
    r"(?:\s*(?P<unit>%|percent\b|percentage points?\b|bps\b|basis points?\b|" + _DEGREES + r"|"
    r"points?\b|pts\b|" + _MEASURE_UNITS + r"))?"
)
_POST = (
    r"(?:\s*(?P<post>\+|or more|or higher|or above|or greater|or over|or less|or lower|or below|or fewer|"
    r"or under|and (?:above|up|over|higher|more|greater|below|under|lower|less|fewer)\b))?"
)
_THRESHOLD = re.compile(r"(?<![\w.])" + _PRE + r"\s*" + _NUM + _MULT + _UNIT + _POST)
# Literal text of every alternative of _PRE, _UNIT and _POST, and the currency sign: one of them is in
# any match _THRESHOLD's caller keeps (a bare number is not a strike), so without any there is none.
_THRESHOLD_HINTS = (
    "$", "%", "°", "=", "<", ">", "≥", "≤", "+", "o/u", "over", "under", "more than", "greater than", "higher than",
    "at least", "no less than", "less than", "lower than", "fewer than", "at most", "no more than", "exceed",
    "above", "below", "exactly", "percent", "bps", "basis point", "degree", "fahrenheit", "celsius", "centigrade",
    "point", "pts", "or more", "or higher",
    "or greater", "or less", "or lower", "or fewer", "and up", "and higher", "and more", "and greater",
    "and lower", "and less", "and fewer", "inch", "in.", "cm", "centimet", "mm", "millimet", "km", "kph", "kmh",
    "kilomet", "met", "feet", "foot", "ft", "mph", "mile", "mi", "kg", "kilogram", "gram", "lb", "pound", "ton",
    "gallon", "lit", "barrel", "hour", "hr", "minute", "min", "second", "sec", "day", "week", "month", "year",
)
_THRESHOLD_HINT = re.compile("|".join(re.escape(w) for w in _THRESHOLD_HINTS))
# The unit is read as _UNIT reads it: "°C" is Celsius, a bare "°" Fahrenheit, and a word after "°"
# ("84-85° for …") is no unit letter.
# Each bound may be negative ("between -2% and -1%", "-5° to 0°"), by a minus sign as _MINUS reads it.
_RANGE = re.compile(
    r"(?:between\s+)?(?P<cur>\$)?(?P<lo>(?:(?<![\w.,])-)?\d+(?:\.\d+)?)\s*(?P<u1>°(?:\s*[fc]\b)?|%)?\s*"
    r"(?:-|to|and)\s*\$?(?P<hi>-?\d+(?:\.\d+)?)\s*(?P<unit>°(?:\s*(?:[fc]|fahrenheit|celsius|centigrade)\b)?|%)"
)
# A dollar range is one strike with two bounds ("$95,000-$100,000", "between $95k and $100k", Kalshi's
# "$95,000 to $99,999.99"), not two "equals" strikes of which only the first would be compared. It needs a
# "$" before its low number, or "between" and a "$" before its high one; "and" only after "between", and
# "from $a to $b" is a move, not a range (both are read as strikes instead).
_USD_RANGE = re.compile(
    r"(?:\b(?P<btw>between)\s+)?(?:(?P<c1>\$)\s*)?(?<![\w.,])(?P<lo>" + _MONEY + r")" + _RANGE_MULT.format("m1")
    + r"\s*(?P<sep>-|to\b|and\b)\s*(?:(?P<c2>\$)\s*)?(?P<hi>" + _MONEY + r")(?![\d,])" + _RANGE_MULT.format("m2")
)
# A range of plain numbers, with no "$" ("between 6,000 and 6,100", "6,000-6,099", "6,000 to 6,099.99",
# "between 20 and 25 inches"): an index level, a count or a measure, one strike with two bounds like a
# dollar range, and with the unit of measure its high number carries. Without "between" only "-" and "to"
# join the bounds; a number glued to a letter, a dash, a colon or "$" ("H-1B", "2026-12-31", "5:00", "$95")
# starts none (a minus sign after a space is the bound's own: "between -10 and -5 degrees"), and a pair of
# years (1900–2100, no multiplier or unit) is a window, not a strike (see _read_thresholds). Each "\s*" is
# followed by a required word or sign, so a run of spaces is not backtracked into quadratically.
_NUM_RANGE = re.compile(
    r"(?:\b(?P<btw>between)\s+)?(?<![\w.,$:\-])(?P<lo>-?(?:" + _MONEY + r"))" + _RANGE_MULT.format("m1")
    + r"\s*(?P<sep>-|to\b|and\b)\s*(?P<hi>-?(?:" + _MONEY + r"))(?![\d,]|-\d)" + _RANGE_MULT.format("m2") + _UNIT
)
# The cheap test that a text may hold such a range, before the pattern is tried: a high bound may be
# negative too ("-5 to -1 degrees", "-5 - -1": without it those ranges were read as "= -1", and different
# brackets were accepted as one).
_NUM_RANGE_HINT = re.compile(r"between|\d\s*(?:-|to\b)\s*-?\d")
_YEARS = re.compile(r"19\d\d|20\d\d|2100")
# What makes a range of two year-like numbers a price band, not a window of years: a price noun just
# before it ("the price of gold be between 2000 and 2050", "ETH price at 2000-2050"), with nothing but a
# listed verb, "at" or "in the range of" between, or a currency after its high number ("2000 to 2050
# dollars", "per ounce"). A verb alone ("close", "settle", "trade") is not enough: a deal or a lawsuit
# closes or settles between 2025 and 2026. "The price / value of X" names X in one word, or in two before
# a listed verb, "at" or ":", and no other word may follow X: "the price of eggs *rise* between 2025 and
# 2026" and "the value of the dollar *fall* between ..." are windows of years (read as prices, their years
# were dropped).
# "Level(s)" is a price noun only just before the range in a text that names a currency ("ETH at levels
# between 2000 and 2050 USD"): "stay at current levels between 2025 and 2026" is a window. Read on a
# folded number shape (the date reader) and on the title as written (the strike reader), so in any case:
# "ETH Price" and "USD" made a strike for the one and not the other, so that the range was neither a
# strike nor two years. Words and signs only.
_PRICE_VERB = r"\s+(?:be|is|are|stay|stays|remain|remains|close|closes|end|ends|settle|settles|trade|trades)"
_PRICE_OF_LINK = r"(?:" + _PRICE_VERB + r"(?:\s+(?:at|in|within))?|\s+(?:at|in|within)|\s*:)"
_PRICE_BEFORE = re.compile(
    r"\b(?:prices?|values?|quotes?)(?:(?:" + _PRICE_VERB + r")?(?:\s+(?:at|in|within))?"
    r"|\s+of\s+(?:the\s+|one\s+|an?\s+)?[a-z&.']+(?:" + _PRICE_OF_LINK + r")?"  # "of gold (be) between"
    r"|\s+of\s+(?:the\s+|one\s+|an?\s+)?[a-z&.']+\s+[a-z&.']+" + _PRICE_OF_LINK  # "of crude oil be between"
    + r")(?:\s+the\s+range(?:\s+of)?)?\s*:?\s+(?:between\s+)?$",
    re.IGNORECASE,
)
_LEVEL_BEFORE = re.compile(r"\blevels?\s*:?\s+(?:between\s+)?$", re.IGNORECASE)
_CURRENCY = re.compile(r"[$€£]|\b(?:usd[ct]?|dollars?|euros?)\b", re.IGNORECASE)
_PRICE_AFTER = re.compile(
    r"\s*(?:dollars?|usd[ct]?|us dollars|per (?:ounce|oz|barrel|share|coin|token|bushel|gallon|mmbtu)|"
    r"an? (?:ounce|barrel|share))\b",
    re.IGNORECASE,
)
_PRICE_WINDOW = 60  # characters before a range searched for its price noun


def _price_band(low: str, lo_start: int, hi_end: int) -> bool:
    """Whether the range of plain numbers from ``lo_start`` to ``hi_end`` of ``low`` is a price band by
    its words (:data:`_PRICE_BEFORE`, :data:`_PRICE_AFTER`): then two year-like bounds are no years."""
    start = max(0, lo_start - _PRICE_WINDOW)
    return (
        _PRICE_BEFORE.search(low, start, lo_start) is not None
        or _PRICE_AFTER.match(low, hi_end) is not None
        or (_LEVEL_BEFORE.search(low, start, lo_start) is not None and _CURRENCY.search(low) is not None)
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
    u = "".join(raw.split())
    if u in ("%", "percent") or u.startswith("percentage"):
        return "pct", Decimal(1)
    if u in ("bps",) or u.startswith("basis"):
        return "pct", Decimal("0.01")
    if u.startswith(("°", "degree")) or u in ("fahrenheit", "celsius", "centigrade"):  # _DEGREES
        return ("degc" if u.endswith(("c", "celsius", "centigrade")) else "degf"), Decimal(1)
    return _MEASURES.get(u, ""), Decimal(1)  # "points", "pts": "", a count, like a bare O/U line


# A unit of measure's canonical code, by the text of the unit without spaces ("inches" → "in", "km/h" →
# "kmh"). Units are not converted: "10 inches" vs "25.4 cm" is held back for curation, not guessed.
_MEASURES: dict[str, str] = {
    form: code
    for code, forms in (
        ("in", "inch inches in."), ("cm", "cm centimeter centimeters centimetre centimetres"),
        ("mm", "mm millimeter millimeters millimetre millimetres"), ("kmh", "km/h kmh kph"),
        ("km", "km kilometer kilometers kilometre kilometres"), ("m", "meter meters metre metres"),
        ("ft", "ft feet foot"), ("mph", "mph milesperhour"), ("mi", "mi mile miles"),
        ("kg", "kg kilogram kilograms"), ("g", "gram grams"), ("lb", "lb lbs pound pounds"), ("ton", "ton tons"),
        ("tonne", "tonne tonnes"), ("gal", "gallon gallons"), ("l", "liter liters litre litres"),
        ("bbl", "barrel barrels"), ("h", "hour hours hr hrs"), ("min", "minute minutes min mins"),
        ("s", "second seconds sec secs"), ("day", "day days"), ("week", "week weeks"),
        ("month", "month months"), ("year", "year years"),
    )
    for form in forms.split()
}
MEASURE_UNITS = frozenset(_MEASURES.values())


def _decimal(text: str) -> Decimal | None:
    """A number as written. It is read from the text, not its folded shape, so a range's bound may carry
    its minus sign as "−" or "–", which the patterns read folded to "-" (see _RANGE)."""
    try:
        return Decimal(text.replace(",", "").translate(_APOSTROPHES))
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
    return list(_thresholds(text))


@lru_cache(maxsize=1 << 16)
def _thresholds(text: str) -> tuple[Threshold, ...]:
    """:func:`parse_thresholds`, memoised: market titles repeat across events (one template per line)."""
    if not _HAS_DIGIT.search(text):
        return ()
    return _strikes_in(text, fold(number_shape(text)[0]))


def _strikes_in(text: str, low_shape: str) -> tuple[Threshold, ...]:
    """The strikes of ``text``, given its folded :func:`number_shape` (the patterns run on that)."""
    matches = _threshold_matches(low_shape)
    return _read_thresholds(matches, fold(text)) if matches[0] or matches[1] else ()


# A range match: its span, the spans of its low and high numbers, its unit text (``None`` for a dollar
# range, "" for a range of plain numbers without one), currency sign and the multipliers of its low and
# high numbers ("$95k-$100k").
_RangeMatch = tuple[
    tuple[int, int], tuple[int, int], tuple[int, int], str | None, bool, str | None, str | None
]
# A strike match: its start, the span of its number, its pre, post, unit, currency and multiplier texts, and
# whether a minus sign is before it.
_StrikeMatch = tuple[int, tuple[int, int], str | None, str | None, str | None, str | None, str | None, bool]
_ThresholdMatches = tuple[tuple[_RangeMatch, ...], tuple[_StrikeMatch, ...]]
_NO_STRIKES: _ThresholdMatches = ((), ())


@lru_cache(maxsize=1 << 14)
def _threshold_matches(shape: str) -> _ThresholdMatches:
    """Where the strikes of a folded :func:`number_shape` are: the regex half of :func:`_thresholds`.

    The spans are those of the text itself, and the titles of one ladder share one entry.
    """
    ranges: list[_RangeMatch] = []
    if not _THRESHOLD_HINT.search(shape):  # a kept strike needs a comparison word, a unit or a currency sign
        return (_num_ranges(shape, ranges), ()) if _NUM_RANGE_HINT.search(shape) else _NO_STRIKES
    if "°" in shape or "%" in shape:  # a range always ends in ° or %
        for m in _RANGE.finditer(shape):
            ranges.append((m.span(), m.span("lo"), m.span("hi"), m["unit"], bool(m["cur"]), None, None))
    if "$" in shape:
        for m in _USD_RANGE.finditer(shape):
            if not (m["c1"] or (m["btw"] and m["c2"])) or (m["sep"] == "and" and not m["btw"]):
                continue
            if _word_before(shape, m.start()) == "from" or any(a < m.end() and m.start() < b for (a, b), *_ in ranges):
                continue
            ranges.append((m.span(), m.span("lo"), m.span("hi"), None, True, m["m1"], m["m2"]))
    if _NUM_RANGE_HINT.search(shape):
        _num_ranges(shape, ranges)
    strikes: list[_StrikeMatch] = []
    for m in _THRESHOLD.finditer(shape):
        pre, post, unit_raw, cur, mult = m.group("pre", "post", "unit", "cur", "mult")
        if pre or post or unit_raw or cur:  # a bare number is not a strike
            strikes.append((m.start(), m.span("num"), pre, post, unit_raw, cur, mult, m["neg"] is not None))
    return tuple(ranges), tuple(strikes)


def _num_ranges(shape: str, ranges: list[_RangeMatch]) -> tuple[_RangeMatch, ...]:
    """Add to ``ranges`` the ranges of plain numbers in ``shape`` (:data:`_NUM_RANGE`) that no range found
    before overlaps; their unit text is the high number's unit, "" when none (a dollar range's is ``None``)."""
    before = ranges[:]  # the ranges of this loop do not overlap each other (finditer)
    for m in _NUM_RANGE.finditer(shape):
        if m["sep"] == "and" and not m["btw"]:
            continue
        if _word_before(shape, m.start()) == "from" or any(a < m.end() and m.start() < b for (a, b), *_ in before):
            continue
        ranges.append((m.span(), m.span("lo"), m.span("hi"), m["unit"] or "", False, m["m1"], m["m2"]))
    return tuple(ranges)


def _word_before(text: str, i: int) -> str:
    """The word that ends just before ``text[i]``, spaces between allowed ("" when none): "from" before a
    range makes it a move. Read backwards from ``i``, not by searching the text from its start once per
    match: a title of many ranges would take quadratic time."""
    while i and text[i - 1].isspace():
        i -= 1
    end = i
    while i and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return text[i:end]


def _hour_window(low: str, lo: str, hi: str, hi_end: int) -> bool:
    """Whether a range of plain numbers is a window of hours ("5-6PM ET"), not a strike: whole numbers
    of at most 12, the high one followed by am/pm (:data:`_HOUR_AFTER`). Read on the text, not on its
    number shape, whose numbers are all zeros. Not on a zone alone: "1-6 pt" (points), "10-12 ct"
    (carats) are strikes, and read as hours they were compared by nothing ("17-18 UTC" stays a range:
    held back, never accepted)."""
    return (
        lo.isdigit() and hi.isdigit() and int(lo) <= 12 and int(hi) <= 12
        and _HOUR_AFTER.match(low, hi_end) is not None
    )


def _read_thresholds(matches: _ThresholdMatches, low: str) -> tuple[Threshold, ...]:
    """The thresholds of ``low`` at the places :func:`_threshold_matches` found, with its own numbers."""
    ranges, strikes = matches
    out: list[Threshold] = []
    taken: list[tuple[int, int]] = []
    for span, (la, lb), (ha, hb), range_unit, currency, lo_mult, hi_mult in ranges:
        bounds = _bounds(low[la:lb], low[ha:hb], lo_mult, hi_mult)
        if bounds is None:
            continue
        lo, hi = bounds
        plain = range_unit == "" and not (lo_mult or hi_mult)
        if plain and _YEARS.fullmatch(low[la:lb]) and _YEARS.fullmatch(low[ha:hb]) and not _price_band(low, la, hb):
            continue  # "between 2025 and 2026": a window of years (a date), not a strike
        if not currency and _hour_window(low, low[la:lb], low[ha:hb], hb):
            continue  # "5-6PM ET": a window of hours (parse_times reads the time), not a strike
        unit, scale = _unit_of(range_unit, currency)
        out.append(Threshold(lo * scale, unit, BETWEEN, hi * scale))
        taken.append(span)
    for start, (na, nb), pre, post, unit_raw, cur, mult, negative in strikes:
        if taken and any(a <= start < b for a, b in taken):
            continue
        th = _strike(pre, post, unit_raw, cur, low[na:nb], mult, negative)
        if th is not None:
            out.append(th)
    return tuple(out)


def _bounds(lo_text: str, hi_text: str, lo_mult: str | None, hi_mult: str | None) -> tuple[Decimal, Decimal] | None:
    """A range's (low, high) with their multipliers, or ``None`` when it is no range (high not above low)."""
    lo, hi = _decimal(lo_text), _decimal(hi_text)
    if lo is None or hi is None:
        return None
    if hi_mult:
        if not lo_mult and lo < hi:
            lo_mult = hi_mult  # "$95-100k" is $95k to $100k; "$500-1k" is $500 to $1,000
        hi *= _MULTIPLIERS[hi_mult]
    if lo_mult:
        lo *= _MULTIPLIERS[lo_mult]
    return (lo, hi) if hi > lo else None


# An outcome label that is only a number or a range of numbers ("2", "3-4", "100k"): in a ladder of
# outcomes the label is the outcome's value, a strike though it carries no unit or comparison word.
_BARE_LABEL = re.compile(
    r"(?P<lo>" + _MONEY + r")" + _RANGE_MULT.format("m1")
    + r"(?:\s*(?:-|to)\s*(?P<hi>" + _MONEY + r")" + _RANGE_MULT.format("m2") + r")?"
)


@lru_cache(maxsize=1 << 14)
def _label_strikes(label: str) -> tuple[Threshold, ...]:
    """The strikes of a YES outcome label (Kalshi's ``yes_sub_title``, Polymarket's ``groupItemTitle``):
    those its text states, or the label itself when it is a bare number or range of numbers."""
    found = _thresholds(label)
    if found:
        return found
    m = _BARE_LABEL.fullmatch(fold(label).strip())
    if m is None:
        return ()
    if m["hi"] is None:
        value = _decimal(m["lo"])
        if value is None:
            return ()
        return (Threshold(value * _MULTIPLIERS[m["m1"]] if m["m1"] else value, "", EQ),)
    bounds = _bounds(m["lo"], m["hi"], m["m1"], m["m2"])
    return (Threshold(bounds[0], "", BETWEEN, bounds[1]),) if bounds is not None else ()


def _restates(label_strike: Threshold, title_strikes: tuple[Threshold, ...]) -> bool:
    """Whether a label's strike says again what a title strike says ("above $100,000" titled, "$100,000"
    or "100k" as its label): the same number, and no unit or direction of its own that differs; or, for
    a whole-number reading, the next whole number (Kalshi's ">85°" titled with "86° or above")."""
    return any(
        label_strike == t
        or (
            label_strike.value == t.value
            and label_strike.upper == t.upper
            and label_strike.unit in (t.unit, "")
            and label_strike.direction in (t.direction, EQ)
        )
        or _next_whole(label_strike, t)
        for t in title_strikes
    )


# Units whose readings are whole numbers: counts, and temperatures as the weather services report them.
_WHOLE_UNITS = frozenset({"", "degf", "degc"})
_NEXT_WHOLE = {(GT, GE): 1, (GE, GT): -1, (LT, LE): -1, (LE, LT): 1}


def _next_whole(a: Threshold, b: Threshold) -> bool:
    """"> 85" and "≥ 86" of whole readings, stated by one market's title and label: the same strike.
    Only within one market, whose venue states both; across venues they stay different strikes."""
    step = _NEXT_WHOLE.get((b.direction, a.direction))
    return (
        step is not None
        and a.unit == b.unit
        and a.unit in _WHOLE_UNITS
        and a.value % 1 == 0
        and b.value % 1 == 0
        and a.value == b.value + step
    )


@lru_cache(maxsize=1 << 14)
def _strike(
    pre: str | None, post: str | None, unit_raw: str | None, cur: str | None, num: str, mult: str | None,
    negative: bool = False,
) -> Threshold | None:
    """One matched strike, from the groups of its match; memoised ("over 30.5" recurs in many titles).

    A number from 1900 to 2100 is a strike too: the caller keeps only a number with a comparison word, a
    unit or a currency sign, and a year has none ("before 2027" and "by 2027" are no strikes). Found in a
    mutation audit: such numbers were dropped as years, so "more than 2,000 cases" had no strike and was
    auto-accepted against "more than 2,050 cases" and against "less than 2,000 cases"."""
    value = _decimal(num)
    if value is None:
        return None
    unit, scale = _unit_of(unit_raw, bool(cur))
    if mult:
        value *= _MULTIPLIERS[mult]
    if negative:
        value = -value
    direction = _DIR_WORDS.get(post or "", "") or _DIR_WORDS.get(pre or "", "") or EQ
    return _canonical(Threshold(value * scale, unit, direction))


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
# Inclusive deadlines first: at the same place "on or before X" must not be read as "on" (no date
# follows it) and then, from "before", as the day before X.
_INCLUSIVE_PREPS = ("on or before", "before or on", "by or before", "on or by", "no later than")
_PREP = (r"(?:\b(?P<prep>" + "|".join(p.replace(" ", r"\s+") for p in _INCLUSIVE_PREPS)
         + r"|by|before|on|in|through|until|till|ending|end of|by the end of|by end of|after)\s+(?:the\s+)?)?")
_DAY_DATE = re.compile(
    _PREP + _MON + r"\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*(?P<year>(?:19|20)\d{2}))?"
)
_MONTH_YEAR = re.compile(_PREP + _MON + r"\.?,?\s+(?P<year>(?:19|20)\d{2})\b")
_ISO = re.compile(r"(?<!\d)(?P<y>20\d{2})-(?P<m>\d{2})-(?P<d>\d{2})(?!\d)")
_SEASON = re.compile(r"(?<!\d)(?P<y1>20\d{2})\s*[-/]\s*(?P<y2>\d{2}|20\d{2})(?!\d)")
_YEAR = re.compile(_PREP + r"(?<![\d$.,])(?P<year>(?:19|20)\d{2})(?![\d%°,.]\d?|\s*(?:bps|k\b|m\b|bn\b))")
_MONTH_STEM = re.compile("jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec")  # every _MON alternative starts so
_YEARISH = re.compile(r"(?:19|20)\d{2}")  # in every date pattern but _DAY_DATE
_TICKER_DATE = re.compile(r"-(?P<yy>\d{2})(?P<mon>JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(?P<dd>\d{2})")


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each (non-overlapping, ordered) span replaced by as many spaces: ``rx.sub`` of a pass."""
    if not spans:
        return text
    parts: list[str] = []
    i = 0
    for a, b in spans:
        parts.append(text[i:a])
        parts.append(" " * (b - a))
        i = b
    parts.append(text[i:])
    return "".join(parts)


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


@lru_cache(maxsize=1 << 14)
def _infer_year(month: int, day: int, ref: date | None) -> int | None:
    """A year for "June 30": the one that puts the date nearest to the reference (close) date; memoised."""
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
    p = " ".join((prep or "").split())
    if p == "before":
        return DateSpan(DEADLINE, None, start - timedelta(days=1))
    if p in ("by", "through", "until", "till", "end of", "by the end of", "by end of", *_INCLUSIVE_PREPS):
        return DateSpan(DEADLINE, None, end)
    if start == end:
        return DateSpan(ON, start, end)
    return DateSpan(RANGE, start, end)


def parse_dates(text: str, ref: date | None = None) -> list[DateSpan]:
    """Date facts in ``text``; a missing year is inferred from ``ref`` (typically the close date)."""
    plan, needs_ref = _date_plan(text)
    if not needs_ref:
        return cast("list[DateSpan]", list(plan))  # no _YearlessDay in a plan that needs no ref
    out: list[DateSpan] = []
    for item in plan:
        d = item if isinstance(item, DateSpan) else _resolve_day(item, ref)
        if d is not None:
            out.append(d)
    return out


@dataclass(frozen=True, slots=True)
class _YearlessDay:
    """A "June 30" whose year comes from the reference date, kept in the plan until that is known."""

    prep: str | None
    month: int
    day: int


@lru_cache(maxsize=1 << 16)
def _date_plan(text: str) -> tuple[tuple[DateSpan | _YearlessDay, ...], bool]:
    """The reference-independent part of :func:`parse_dates`, memoised (titles repeat; close dates don't).

    Returns the facts in order, with a :class:`_YearlessDay` where the year is still to be inferred,
    and whether there is any.
    """
    if not _HAS_DIGIT.search(text):
        return (), False
    return _dates_in(text, fold(number_shape(text)[0]))


def _dates_in(text: str, low_shape: str) -> tuple[tuple[DateSpan | _YearlessDay, ...], bool]:
    """The date plan of ``text``, given its folded :func:`number_shape` (the patterns run on that)."""
    matches = _date_matches(low_shape)
    return _read_dates(matches, fold(text)) if matches else ((), False)


# One date match: its pattern, its preposition and month texts, and the spans of its numbers.
_DateMatch = tuple[str, str | None, str | None, tuple[tuple[int, int], ...]]  # an absent number: (-1, -1)


@lru_cache(maxsize=1 << 14)
def _date_matches(shape: str) -> tuple[_DateMatch, ...]:
    """Where the date facts of a folded :func:`number_shape` are: the regex half of :func:`_date_plan`.

    Each pass blanks what it matched so that later passes do not read it again; the spans are the
    text's own, so its numbers are read at them by :func:`_read_dates`. Every pattern but the
    day-of-month one contains a year, so without one they are skipped. A match after "after" is
    blanked but not kept (it states no window).
    """
    out: list[_DateMatch] = []
    has_year = _YEARISH.search(shape) is not None
    low = shape
    if has_year:
        spans: list[tuple[int, int]] = []
        for m in _ISO.finditer(low):
            spans.append(m.span())
            out.append(("iso", None, None, (m.span("y"), m.span("m"), m.span("d"))))
        low = _blank(low, spans)
    spans = []
    for m in _DAY_DATE.finditer(low) if _MONTH_STEM.search(low) else ():
        spans.append(m.span())
        if m["prep"] != "after":
            out.append(("day", m["prep"], m["mon"], (m.span("day"), m.span("year"))))
    if not has_year:
        return tuple(out)
    low = _blank(low, spans)
    spans = []
    for m in _MONTH_YEAR.finditer(low):
        spans.append(m.span())
        if m["prep"] != "after":
            out.append(("month", m["prep"], m["mon"], (m.span("year"),)))
    low = _blank(low, spans)
    spans = []
    for m in _SEASON.finditer(low):
        spans.append(m.span())
        out.append(("season", None, None, (m.span("y1"), m.span("y2"))))
    low = _blank(low, spans)
    if _NUM_RANGE_HINT.search(low) or "$" in low:
        low = _blank(low, _strike_range_spans(shape))
    low = _blank(low, _compared_number_spans(shape))
    for m in _YEAR.finditer(low):
        prep = (m["prep"] or "").strip()
        if prep != "after":
            out.append(("year", prep, None, (m.span("year"),)))
    return tuple(out)


def _strike_range_spans(shape: str) -> list[tuple[int, int]]:
    """The spans of the ranges in ``shape`` that :func:`_read_thresholds` reads as strikes whatever their
    numbers ("between 2000 and 2050 points", "$2000-2050", a price band): their year-like numbers are
    bounds, not years. The other ranges of two years ("between 2025 and 2026") are windows, read as dates.
    Decided on words, signs and spans only, so the same for a text and its number shape."""
    spans = [
        span
        for span, (la, _), (_, hb), unit, currency, m1, m2 in _threshold_matches(shape)[0]
        if unit is None or unit or currency or m1 or m2 or _price_band(shape, la, hb)
    ]
    return sorted(spans)


# Comparison words that also say "during" a year ("over 2026", "under 2026 rules"): a year after them is
# kept as one too (both readings, as before), while the strike reader still takes the number.
_PERIOD_WORDS = frozenset({"over", "under"})


def _compared_number_spans(shape: str) -> list[tuple[int, int]]:
    """The spans of the numbers in ``shape`` after a comparison word ("above 2000", "more than 2026"):
    :func:`_read_thresholds` reads each as a strike, so it is not a year too. "ETH above 2000 on June 30"
    read as an edition of the year 2000 as well as the strike."""
    return [(start, end) for start, (_, end), pre, *_ in _threshold_matches(shape)[1]
            if pre and pre not in _PERIOD_WORDS]


def _read_dates(matches: tuple[_DateMatch, ...], low: str) -> tuple[tuple[DateSpan | _YearlessDay, ...], bool]:
    """The date facts of ``low`` at the places :func:`_date_matches` found, with its own numbers."""
    out: list[DateSpan | _YearlessDay] = []
    needs_ref = False
    for pattern, prep, mon, nums in matches:
        n = [int(low[a:b]) if a >= 0 else None for a, b in nums]
        if pattern == "iso":
            y, mo, dd = cast("list[int]", n)
            d = _safe_date(y, mo, dd)
            if d is not None:
                out.append(DateSpan(ON, d, d))
        elif pattern == "day":
            month, (day, year) = _MONTHS[cast("str", mon)], n
            if year is None:
                out.append(_YearlessDay(prep, month, cast("int", day)))
                needs_ref = True
                continue
            d = _safe_date(year, month, cast("int", day))
            if d is not None:
                out.append(_span(prep, d, d))
        elif pattern == "month":
            y, mo = cast("int", n[0]), _MONTHS[cast("str", mon)]
            out.append(_span(prep, date(y, mo, 1), _month_end(y, mo)))
        elif pattern == "season":
            y1, y2 = cast("int", n[0]), cast("int", n[1]) % 100
            if (y1 + 1) % 100 == y2:
                out.append(DateSpan(EDITION, date(y1 + 1, 1, 1), date(y1 + 1, 12, 31)))
        else:
            out.append(_year_fact(prep or "", cast("int", n[0])))
    return tuple(out), needs_ref


def _year_fact(prep: str, y: int) -> DateSpan:
    """A bare year: "before 2027" ends 2026, "by end of 2026" ends 2026, "in 2026" is the year, else an edition."""
    if prep in ("before", "by"):
        return DateSpan(DEADLINE, None, date(y - 1, 12, 31))
    if prep in ("end of", "by the end of", "by end of", "through", "until", "till"):
        return DateSpan(DEADLINE, None, date(y, 12, 31))
    if prep == "in":
        return DateSpan(RANGE, date(y, 1, 1), date(y, 12, 31))
    return DateSpan(EDITION, date(y, 1, 1), date(y, 12, 31))


def ticker_date(ticker: str) -> date | None:
    """The date in a Kalshi ticker ("KXNBAGAME-26JAN09MILLAL-MIL" → 2026-01-09)."""
    m = _TICKER_DATE.search(ticker)
    if not m:
        return None
    return _safe_date(2000 + int(m["yy"]), _MONTHS[m["mon"].lower()], int(m["dd"]))


# ---------------------------------------------------------------------------------------------------
# Times of day: "at 5pm ET", "12:00 PM EST", "noon ET", "17:00 UTC"
# ---------------------------------------------------------------------------------------------------


class StatedTime(NamedTuple):
    """A time of day a text states: minutes after midnight, its zone and the seconds after that minute
    ("4:59:59 PM" is not "4:59 PM"). The zone is "et", "ct", "mt", "pt" or "utc" (converted; "EST" and
    "EDT" are read as New York time, as titles use them, and "Eastern", "Pacific Time" … as theirs), an
    offset from UTC ("utc+01:00", converted), another zone's abbreviation or IANA name as written ("cet",
    "bst", "jst", "pacific/auckland": not converted, so equal only to the same words), or "" when none is
    named."""

    minute: int
    zone: str
    second: int = 0

    def __str__(self) -> str:
        seconds = f":{self.second:02d}" if self.second else ""
        return f"{self.minute // 60:02d}:{self.minute % 60:02d}{seconds} {self.zone.upper() or '(no zone)'}"


# Zones orion does not convert (European, Asian, Australian, … abbreviations, but none that is an English
# word: "west", "eat", "cat", "art", "wet"). Named, they keep a time from reading as zoneless or as
# another zone's: "5pm CET" was "5pm" and so equal to "5pm BST".
_OTHER_ZONES = (
    "cet", "cest", "bst", "ist", "eet", "eest", "msk", "jst", "kst", "hkt", "sgt", "awst", "acst", "acdt", "aest",
    "aedt", "nzst", "nzdt", "akst", "akdt", "hst", "ast", "adt", "brt", "sast", "pkt", "ict", "wib",
)
_ZONE = r"[ecmp][sd]?t|utc|gmt|" + "|".join(_OTHER_ZONES)
# A US zone in words after a time ("5pm Eastern", "noon Pacific Time", "5pm Mountain Standard Time"), read as
# its abbreviation: unread, "5pm Eastern" and "5pm Pacific" were the same zoneless words. Not before a
# word that makes it another zone or no zone ("Central European Time", "Eastern Conference", the city of
# "Mountain View"), nor before "/": "Pacific/Auckland" is an IANA zone, New Zealand's; a four-digit
# time is still read only before an abbreviation ("2026 Eastern Conference" is no 20:26 ET).
_ZONE_WORD = (
    r"(?:eastern|central|mountain|pacific)"
    r"(?![ \t]+(?:europ|afric|asia|austral|brazil|indones|greenland|americ|arab|conference|division|league|"
    r"district|region|park|bank|view)|[ \t]*/)(?:[ \t]+(?:standard[ \t]+|daylight[ \t]+)?time)?"
)
# An IANA zone name after a time ("5pm Pacific/Auckland", "noon America/New_York"): kept as written, like
# another zone's abbreviation (not converted, so equal only to the same name), never the US zone its
# first word may name.
_IANA = (
    r"(?:africa|america|antarctica|arctic|asia|atlantic|australia|brazil|canada|chile|europe|indian|mexico|"
    r"pacific|us|etc)/[a-z_]+(?:/[a-z_]+)?(?:[+-]\d{1,2})?"
)
# "5pm", "5:30 p.m.", "5:00:00 PM"; "17:00", "17:00:00"; "1700 ET" (four digits only before a zone,
# and not after a comma: "Dec 31, 2026 ET" is a year); "noon", "midnight".
_TIME = re.compile(
    r"(?<![\w:.$])(?:(?P<h>\d{1,2})(?::(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?)?\s*(?P<ap>[ap])\.?\s?m\b\.?"
    r"|(?P<h24>[01]?\d|2[0-3]):(?P<m24>[0-5]\d)(?::(?P<s24>[0-5]\d))?(?![\d:])"
    r"|(?<!,)(?<!, )(?P<hhmm>(?:[01]\d|2[0-3])[0-5]\d)(?=\s*(?:" + _ZONE + r")\b)"
    r"|\b(?P<word>noon|midnight)\b)"
    r"(?:\s*(?:(?P<tz>" + _ZONE + r")(?:\s?(?P<sign>[+-])(?P<oh>\d{1,2})(?::?(?P<om>[0-5]\d))?)?"  # UTC+1
    r"|(?P<iana>" + _IANA + r")|(?P<tzword>" + _ZONE_WORD + r"))\b)?"
)
# After the high hour of a window; read on a title that may not be folded (_numbers_text), so in any case.
_HOUR_AFTER = re.compile(r"\s*[ap]\.?\s?m\b", re.IGNORECASE)
_TIME_HINT = re.compile(r"\d\s*[ap]\.?\s?m\b|\d:[0-5]\d|\d{4}\s*(?:" + _ZONE + r")\b|noon|midnight")
_TIME_ZONES = {"e": "et", "c": "ct", "m": "mt", "p": "pt", "u": "utc", "g": "utc"}
_STANDARD_HOURS = {"et": -5, "ct": -6, "mt": -7, "pt": -8, "utc": 0}


@lru_cache(maxsize=1 << 14)
def parse_times(text: str) -> tuple[StatedTime, ...]:
    """The times of day ``text`` states, in order. "Bitcoin above $100k at 5pm ET" and "... at noon ET"
    are different bets on the same day, and their close times may lie within every tolerance, so only
    the words can tell them apart. Read from the text itself (its times are not number shapes)."""
    low = fold(text)
    if not _TIME_HINT.search(low):
        return ()
    out: list[StatedTime] = []
    for m in _TIME.finditer(low):
        if m["word"]:
            minute = 720 if m["word"] == "noon" else 0
        elif m["ap"]:
            hour = int(m["h"])
            if not 1 <= hour <= 12:
                continue
            minute = (hour % 12 + (12 if m["ap"] == "p" else 0)) * 60 + int(m["m"] or 0)
        elif m["hhmm"]:
            minute = int(m["hhmm"][:2]) * 60 + int(m["hhmm"][2:])
        else:
            minute = int(m["h24"]) * 60 + int(m["m24"])
        second = int(m["s"] or m["s24"] or 0)
        out.append(StatedTime(minute, _zone(m), second))
    return tuple(dict.fromkeys(out))


def _zone(m: re.Match[str]) -> str:
    """The :class:`StatedTime` zone of a :data:`_TIME` match: "UTC+1" and "GMT+01:00" are "utc+01:00" (an
    offset after another zone, "CET+1", is kept as written: not converted)."""
    tz = m["tz"]
    if not tz:
        if m["iana"]:
            return cast("str", m["iana"])
        word = m["tzword"]
        return _TIME_ZONES[word[0]] if word else ""
    if m["sign"]:
        offset = f"{m['sign']}{int(m['oh']):02d}:{m['om'] or '00'}"
        return f"utc{offset}" if tz in ("utc", "gmt") else f"{tz}{offset}"
    return tz if tz in _OTHER_ZONES else _TIME_ZONES[tz[0]]


def utc_offset(zone: str, day: date, minute: int | None = None) -> timedelta | None:
    """The UTC offset of a :class:`StatedTime` zone at ``minute`` past local midnight on ``day`` (US
    daylight saving time: from 02:00 local on the second Sunday of March to 02:00 local on the first
    Sunday of November; an offset "utc+01:00" as stated), or ``None`` for an unnamed zone or one orion
    does not convert. Without ``minute``, the offset of most of ``day`` (daylight time on the day it
    begins, standard time on the day it ends).

    At the changes, as ``zoneinfo`` reads a wall-clock time (``fold=0``): on the March day a time
    before 03:00 is still standard time (02:00-02:59 does not exist on the clock: read as standard
    time, as the clock stood), and on the November day a time before 02:00 is still daylight time
    (01:00-01:59 happens twice: the first). Found in review: the day alone decided, so "12:30am ET
    on March 8" was read an hour early and two markets an hour apart paired as the same time.
    Computed here rather than with ``zoneinfo``, which needs a time-zone database the host may not
    have."""
    hours = _STANDARD_HOURS.get(zone)
    if hours is None:
        if len(zone) == 9 and zone.startswith(("utc+", "utc-")):  # "utc+05:30"
            offset = timedelta(hours=int(zone[4:6]), minutes=int(zone[7:9]))
            if offset > timedelta(hours=14):
                return None  # no zone is that far from UTC: not an offset
            return -offset if zone[3] == "-" else offset
        return None
    if zone != "utc":
        march, november = date(day.year, 3, 8), date(day.year, 11, 1)
        dst_start = march + timedelta(days=(6 - march.weekday()) % 7)  # second Sunday of March
        dst_end = november + timedelta(days=(6 - november.weekday()) % 7)  # first Sunday of November
        if minute is None:
            hours += dst_start <= day < dst_end
        else:
            hours += dst_start < day < dst_end or (day == dst_start and minute >= 180) \
                or (day == dst_end and minute < 120)
    return timedelta(hours=hours)


# ---------------------------------------------------------------------------------------------------
# Periods and ordinals: which quarter, half, game, round, week, leg…
# ---------------------------------------------------------------------------------------------------

_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}
_PERIOD_KINDS = {"quarter": "q", "half": "h", "matchday": "matchday", "gameweek": "week"}
_ORD = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth"
_PERIOD = re.compile(
    r"\b(?:q(?P<q>[1-4])|h(?P<h>[12])|(?P<h2>[12])h"  # Q3, H1, 1H
    r"|(?P<ord>" + _ORD + r"|\d{1,2}(?:st|nd|rd|th))[\s-]+"  # "third quarter", "2nd half", "first-round"
    r"(?P<kw1>quarter|half|round|game|week|leg|stage|period|inning|match|set|episode)"
    r"|(?P<kw2>game|round|week|match|leg|stage|period|inning|episode|matchday|gameweek|quarter|half)"
    r"\s*(?:#|no\.)?\s*(?P<num>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten)"  # "Game 7", "Week 12"
    r")\b(?![.,]\d)"
)


def parse_periods(text: str) -> frozenset[str]:
    """Which period or numbered event ``text`` is about: "q:3" (Q3, third quarter), "h:1" (H1, first
    half, 1H), "game:7", "round:3", "week:12", "leg:2" …; markets that differ in one settle differently."""
    if not _HAS_DIGIT.search(text) and not _PERIOD_WORD.search(text):
        return _NO_PERIODS
    matches = _period_matches(fold(number_shape(text)[0]))
    return _read_periods(matches, _numbers_text(text)) if matches else _NO_PERIODS


_PERIOD_WORD = re.compile(r"(?i)quarter|half|round|game|week|leg\b|stage|period|inning|match|set\b|episode")
_NO_PERIODS: frozenset[str] = frozenset()
# A period match: its kind, and its value, or the span of the number to read it from ("Game 7").
_PeriodMatch = tuple[str, int | tuple[int, int]]


@lru_cache(maxsize=1 << 14)
def _period_matches(shape: str) -> tuple[_PeriodMatch, ...]:
    """Where the periods of a folded :func:`number_shape` are: the regex half of :func:`parse_periods`.

    Exact on shapes: "q3", "1h" and "3rd" are not number tokens (never zeroed), and a zeroed number
    is read only through ``\\d`` at the span it has in the text."""
    out: list[_PeriodMatch] = []
    for m in _PERIOD.finditer(shape):
        q, h, h2, ordinal, kw1, kw2, num = m.group("q", "h", "h2", "ord", "kw1", "kw2", "num")
        if q:
            out.append(("q", int(q)))
        elif h or h2:
            out.append(("h", int(h or h2)))
        elif kw1:
            value = _ORDINAL_WORDS.get(ordinal) or int(ordinal.rstrip("stndrh"))
            out.append((_PERIOD_KINDS.get(kw1, kw1), value))
        else:
            kind = _PERIOD_KINDS.get(kw2, kw2)
            word = _ORDINAL_WORDS.get(num)
            out.append((kind, word if word is not None else m.span("num")))
    return tuple(out)


def _read_periods(matches: tuple[_PeriodMatch, ...], text: str) -> frozenset[str]:
    """The periods of ``text`` at the places :func:`_period_matches` found, with its own numbers."""
    return frozenset(
        [f"{kind}:{v if isinstance(v, int) else int(text[v[0] : v[1]])}" for kind, v in matches]
    )


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
    found = _kalshi_game(ticker)
    return None if found is None else found[0].ref(found[1])


def _kalshi_game(ticker: str) -> tuple[_Game, str] | None:
    """:func:`parse_kalshi_game` as the shared game object and the ticker's kind (its suffix)."""
    m = _KALSHI_GAME.match(ticker.upper())
    if not m or m["series"] not in _KALSHI_LEAGUE:
        return None
    game = _kalshi_game_core(m["series"], m["yy"], m["mon"], m["dd"], m["codes"])
    if game is None:
        return None
    league, teams, day = game
    subject = _alias_table()[1].get(league, {}).get((m["outcome"] or "").lower()) if m["kind"] == "GAME" else None
    return _game(league, teams, day, subject), m["kind"].lower()


@lru_cache(maxsize=1 << 14)
def _kalshi_game_core(series: str, yy: str, mon: str, dd: str, codes: str) -> tuple[str, frozenset[str], date] | None:
    """League, teams and day of a Kalshi game event, memoised: every game has one market per team."""
    league = _KALSHI_LEAGUE[series]
    table = _alias_table()[1].get(league, {})
    pair = _split_codes(codes, table)
    day = _safe_date(2000 + int(yy), _MONTHS.get(mon.lower(), 0), int(dd))
    if pair is None or day is None:
        return None
    return league, frozenset(pair), day


def parse_poly_slug(slug: str) -> GameRef | None:
    """``nba-mil-lal-2026-01-09[-spread-home-3pt5]`` → nba, {mil, lal}, 2026-01-09, suffix."""
    found = _poly_game(slug)
    return None if found is None else found[0].ref(found[1])


def _poly_game(slug: str) -> tuple[_Game, str] | None:
    """:func:`parse_poly_slug` as the shared game object and the slug's suffix."""
    m = _POLY_GAME.match(slug.lower())
    if not m:
        return None
    game = _poly_game_core(m["league"], m["a"], m["b"], m["date"])
    return None if game is None else (game, m["rest"] or "")


@dataclass(slots=True, eq=False)
class _Game:
    """A game as the matcher keeps it: one object per game and YES team, shared by the markets that
    name it (a dozen per game), with its day as a date fact and a day key; read-only."""

    league: str
    teams: frozenset[str]
    day: date
    subject: str | None
    span: DateSpan
    iso: str
    keys: frozenset[str]  # {iso}

    def ref(self, suffix: str) -> GameRef:
        return GameRef(self.league, self.teams, self.day, self.subject, suffix)


@lru_cache(maxsize=1 << 14)
def _game(league: str, teams: frozenset[str], day: date, subject: str | None) -> _Game:
    iso = day.isoformat()
    return _Game(league, teams, day, subject, DateSpan(ON, day, day), iso, frozenset([iso]))


@lru_cache(maxsize=1 << 14)
def _poly_game_core(slug_league: str, a_code: str, b_code: str, iso_day: str) -> _Game | None:
    """League, teams and day of a Polymarket game slug, memoised: a game event has a dozen market slugs."""
    league = {"cfp": "cfb", "ncaaf": "cfb"}.get(slug_league, slug_league)
    table = _alias_table()[1].get(league, {})
    a, b = table.get(a_code), table.get(b_code)
    y, mo, d = (int(x) for x in iso_day.split("-"))
    day = _safe_date(y, mo, d)
    if a is None or b is None or day is None:
        return None
    return _game(league, frozenset((a, b)), day, None)


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
_HALF_RX = re.compile(r"\b1h\b|first half|1st half")
_SPREAD_RX = re.compile(r"\bspread\b|wins? by (?:over|more than)|\(\s*[-+]\d")
_TOTAL_RX = re.compile(r"o/u|over/under|total points|points scored|\btotal\b")
_WINNER_RX = re.compile(r"\bmoneyline\b|\bwinner\?$|\bwinner\b")
_KALSHI_SERIES_LEAGUE = (("KXNBA", "nba"), ("KXNFL", "nfl"), ("KXNCAAF", "cfb"))
_SPORTS_TYPES = {
    "moneyline": "winner", "spreads": "spread", "totals": "total", "first_half_moneyline": "1h_winner",
    "first_half_spreads": "1h_spread", "first_half_totals": "1h_total", "points": "prop", "rebounds": "prop",
    "assists": "prop", "threes": "prop",
}
# (name, a literal of every alternative: a cheap necessary condition, the pattern)
_PREDICATES = (
    ("nominate", ("nomin",), re.compile(r"\bnominee\b|\bnomination\b|\bnominated\b")),
    (
        "advance",
        ("advance", "reach", "qualif", "make the "),
        re.compile(r"\badvances?\b|\breach(?:es)?\b|\bqualif(?:y|ies)\b|\bmake the (?:playoffs|finals)\b"),
    ),
    ("appear", ("appear", "be on", "feature", "guest"), re.compile(r"\bappear|\bbe on\b|\bfeatured?\b|\bguest")),
    ("inaugurate", ("inaugurated",), re.compile(r"\binaugurated\b")),
    ("win", ("win", "champion", "beat", "defeat"), re.compile(r"\bwins?\b|\bwinner\b|\bchampion\b|\bbeat\b|\bdefeat")),
)
# What a proposition says happens, by sense: (tag, its group, the pattern). Synonyms share a tag ("beat",
# "defeat", "win"; "hike", "raise"); the tags of one group are opposites ("win" vs "lose", "cut" vs
# "hike" vs "hold"). Two markets that state one group with different tags are opposite bets, and so is
# a market that negates its proposition against one that does not (_NEGATION): see
# equivalence._opposite_propositions. Not a grammar, a lexicon: what it misses, the text score and the
# other checks still see; what it sees it holds back for curation, never inverts.
_STANCES = (
    ("win", "outcome", re.compile(r"\bwins?\b|\bwinner\b|\bchampions?\b|\bbeats?\b|\bdefeats?\b")),
    ("lose", "outcome", re.compile(  # the passive with no agent: "X is defeated" is to lose
        r"\blos(?:e|es|ing)\b|\bloser\b|\blost\b|\b(?:be|been|being|is|are|gets?|got) (?:defeated|beaten)\b(?! by\b)")),
    # The passive with its agent, "X is beaten by Y", is not "lose": "Sinner loses to Alcaraz" against
    # "Alcaraz is beaten by Sinner" would read "lose" both sides while the two YES outcomes are opposite.
    # A tag of its own, equal only to itself: against "win", "lose" or no outcome the pair is held back.
    ("lose_by", "outcome", re.compile(r"\b(?:defeated|beaten) by\b")),
    ("qualify", "qualify", re.compile(
        r"\bmakes? the (?:\w+ ){0,2}?(?:playoffs|play-offs|postseason|finals|cut)\b|\bqualif(?:y|ies)\b|"
        r"\badvances?\b|\bclinch")),
    ("miss", "qualify", re.compile(
        r"\bmiss(?:es)?\b(?! (?:universe|world|america|usa|teen)\b)|\beliminated\b|\bknocked out\b")),
    ("rise", "change", re.compile(r"\bhikes?\b|\braises?\b|\bincreases?\b|\brises?\b|\bgo(?:es)? up\b")),
    ("fall", "change", re.compile(
        r"\bcuts?\b|\breduces?\b|\bdecreases?\b|\bfalls?\b|\bgo(?:es)? down\b|\blowers? (?:interest |the )?rates?\b")),
    ("hold", "change", re.compile(r"\bholds?\b|\bpauses?\b|\bunchanged\b|\bno change\b|\bmaintains?\b")),
    ("stay", "office", re.compile(r"\bremains?\b|\bstays?\b")),
    ("leave", "office", re.compile(
        r"\bleaves?\b|\bresigns?\b|\bsteps? down\b|\bfired\b|\bousted\b|\bremoved\b|\bout as\b")),
    ("pass", "passage", re.compile(r"\bpass(?:es)?\b|\bapprove[sd]?\b|\bsign(?:s|ed)? into law\b")),
    ("fail", "passage", re.compile(r"\bfail(?:s|ed)?\b|\breject(?:s|ed)?\b|\bveto(?:es|ed)?\b")),
    ("convict", "verdict", re.compile(r"\bconvict(?:s|ed|ion)?\b|\bfound guilty\b|\bguilty verdict\b")),
    ("acquit", "verdict", re.compile(r"\bacquit(?:s|ted|tal)?\b")),
)
STANCE_GROUPS: Mapping[str, str] = MappingProxyType({tag: group for tag, group, _ in _STANCES})
NEGATED = "not"  # the stance tag of a negated proposition
# "not" but in comparisons ("not less than") and "whether or not"; contractions ("won't"); "fail to".
_NEGATION = re.compile(
    r"(?<!\bor )\bnot\b(?! (?:less|fewer|more|higher|lower) than)|n't\b|\bnever\b|\bfail(?:s|ed)? to\b|"
    r"\bno longer\b|"
    # "anyone but Trump", "someone other than Trump": the proposition of everyone else
    r"\b(?:any|some)(?:one|body) (?:but|except|besides)\b|\bother than\b|"
    # "no" as a determiner ("Will there be no Fed rate cut?"), a stop word the key texts lose; not in
    # "no change", "no later/more/less than", "No. 1" or a Yes/No pair.
    r"(?<!\byes or )(?<!\byes/)\bno\b(?![./-]| (?:change|later|more|less|fewer|earlier|sooner)\b)"
)


@lru_cache(maxsize=1 << 14)
def stance(low: str) -> frozenset[str]:
    """The stance tags of a folded text (or its :func:`number_shape`): :data:`STANCE_GROUPS` keys, and
    :data:`NEGATED` when it negates its proposition ("Will Trump not win …?", "… won't …")."""
    found = {tag for tag, _, rx in _STANCES if rx.search(low)}
    if _NEGATION.search(low):
        found.add(NEGATED)
    return frozenset(found)


# ---------------------------------------------------------------------------------------------------
# Two-party propositions: which of two named parties the YES outcome favours
# ---------------------------------------------------------------------------------------------------


class Parties(NamedTuple):
    """The two parties of a two-party proposition: ``yes`` is the one the YES outcome favours (the
    winner, the one ahead, the one with more votes), ``other`` the one it is set against.

    "Will Sinner beat Alcaraz?" and "Will Alcaraz beat Sinner?" share every word and every feature the
    other checks read, yet YES on one is NO on the other: only the order of the two names tells them
    apart. Each party is a set of keys, its entity ids and "w:" + its last word, so that "Jannik
    Sinner" and "Sinner" (``w:sinner``), "Bitcoin" and "BTC" (``crypto:btc``) name the same party."""

    yes: frozenset[str]
    other: frozenset[str]
    text: str  # "sinner over alcaraz", for a hold-back reason
    # A contest (a win, a ranking, a comparison, "X vs Y"), whose YES is about the favoured party; not the
    # passive of any other verb ("the bill is passed by Congress", "Musk is sued by the SEC"), whose YES
    # subject may be either party, so that only another reading can be compared with it.
    contest: bool = True


# Relations between two parties, as folded words: +1 when YES favours the party named first ("X beats
# Y", "X leads Y"), -1 when it favours the one named second ("X loses to Y", "X is beaten by Y").
# Comparatives ("more votes than", "fewer than"), "win (the final) against" and passives of any verb ("X is
# praised by Y") are read apart. A relation not listed leaves a market naming both parties unread, and
# such a market is compared on the order it names them in (equivalence), never on its YES subject.
_FORWARD_RELATIONS = (
    "beat", "beats", "defeat", "defeats", "eliminate", "eliminates", "win against", "wins against",
    "win over", "wins over", "win vs", "wins vs", "win versus", "wins versus", "prevail over", "prevails over",
    "triumph over", "triumphs over", "ahead of", "in front of", "finish above", "finishes above", "rank above",
    "ranks above", "ranked above", "outperform", "outperforms", "outpace", "outpaces", "outscore", "outscores",
    "outpoll", "outpolls", "outrank", "outranks", "outsell", "outsells", "outlast", "outlasts", "outvote",
    "outvotes", "outplay", "outplays", "lead", "leads", "top", "tops", "overtake", "overtakes", "surpass",
    "surpasses", "upset", "upsets", "knock out", "knocks out", "winner over", "the winner over", "trailed by",
)
_REVERSE_RELATIONS = (
    "lose to", "loses to", "lost to", "fall to", "falls to", "beaten by", "defeated by", "eliminated by",
    "behind", "finish below", "finishes below", "rank below", "ranks below", "ranked below", "trail", "trails",
    "underperform", "underperforms", "led by", "topped by", "overtaken by", "surpassed by", "upset by",
    "outplayed by", "knocked out by", "outpolled by", "outperformed by",
)
_RELATIONS: Mapping[tuple[str, ...], int] = MappingProxyType(
    {tuple(p.split()): 1 for p in _FORWARD_RELATIONS} | {tuple(p.split()): -1 for p in _REVERSE_RELATIONS}
)
_RELATION_FIRST = frozenset(k[0] for k in _RELATIONS)
_WIN_AGAINST_FIRST = frozenset({"win", "wins", "won"})
_CLAUSE_WORDS = frozenset("will would if and or but than while whether who which that".split())
_MORE = frozenset("more higher greater bigger larger better".split())
_LESS = frozenset("fewer less lower smaller worse".split())
_PASSIVE_AUX = frozenset("be is are was were been being get gets got gotten".split())
# Words between a party and its relation ("Trump *gets* more votes than", "Sinner *to* beat"), skipped
# before the party is read, and words that end a party (with the stop words, months and weekdays).
_PARTY_SKIP = frozenset(
    "to be is are was were been being get gets got have has had win wins score scores receive receives earn "
    "earns finish finishes end ends close closes trade trades stay stays remain remains rank ranks ranked poll "
    "polls raise raises sell sells gain gains grow grows rise rises do does did still also even worth valued "
    "rated priced".split()
)
_PARTY_STOP = (
    STOPWORDS | _PARTY_SKIP | _MORE | _LESS | frozenset(_MONTHS)
    | frozenset("can could would should shall may might must who whom whose whether not never monday tuesday "
                "wednesday thursday friday saturday sunday".split())
)
_ARTICLES = frozenset({"the", "a", "an"})
_PARTY_MAX = 6  # words in a party: a longer run is no name ("the price of one bitcoin in US dollars")
_NUMBERISH = re.compile(r"\d[\d.,]*(?:k|m|mn|bn|b|t|st|nd|rd|th|s)?")
_PARTY_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]")
# A literal of every relation (_RELATIONS, comparatives, passives), and of "X vs Y" and "will X win": a head
# with neither a relation nor "vs" with a YES party (its label, or "win") is not tokenised.
_RELATION_HINT = re.compile(
    r"\b(?:beat|defeat|eliminat|wins? (?:against|over|vs|versus)\b|prevail|triumph|ahead|front|finish|rank|behind|"
    r"out[a-z]|los[et]|falls? to|trail|than\b|underperform|lead|led\b|tops?\b|topped\b|overtak|surpass|upset|"
    r"knock|winner over\b|w[io]ns?\b[^?:;]{1,60}\b(?:against|over)\b)|(?:ed|en) by\b"
)
_VS_HINT = re.compile(r"\b(?:vs\b|versus\b|v\.)")
_WIN_HINT = re.compile(r"\bwins?\b")
_NOT_A_PARTY_LABEL = frozenset({"yes", "no", "over", "under", "up", "down"})


def _name_word(word: str) -> bool:
    """Whether a folded token can be part of a party's name: a word, not a stop word nor a number."""
    return word not in _PARTY_STOP and any(c.isalpha() for c in word) and not _NUMBERISH.fullmatch(word)


def _party_before(low: list[str], i: int, skip: bool) -> tuple[int, int] | None:
    """The span of the party named just before token ``i`` (after the verbs and articles between, when
    ``skip``: "Nvidia *be worth* more than", "Nvidia *have a* higher market cap than"; "Nvidia's market
    cap", whose party :func:`_party_keys` reads as Nvidia)."""
    j = i
    while skip and j > 0 and (low[j - 1] in _PARTY_SKIP or low[j - 1] in _ARTICLES):
        j -= 1
    end = j
    while j > 0 and end - j <= _PARTY_MAX and (
        _name_word(low[j - 1]) or (low[j - 1] == "market" and j > 1 and low[j - 2].endswith("'s"))
    ):
        j -= 1
    return (j, end) if 0 < end - j <= _PARTY_MAX else None


def _party_after(low: list[str], k: int) -> tuple[int, int] | None:
    """The span of the party named just after token ``k`` (an article before it skipped)."""
    n = len(low)
    while k < n and low[k] in _ARTICLES:
        k += 1
    start = k
    while k < n and k - start <= _PARTY_MAX and _name_word(low[k]):
        k += 1
    return (start, k) if 0 < k - start <= _PARTY_MAX else None


@lru_cache(maxsize=1 << 12)
def _party_keys(raw: tuple[str, ...], leagues: frozenset[str]) -> frozenset[str]:
    """The keys of a party's words (as written, for the capitals aliases need): its entity ids and
    "w:" + its last word, without a possessive or a generational suffix ("Trump's", "Jr."). A possessive
    names the party ("Nvidia's market cap" is Nvidia: read as "cap", it matched Apple's "market cap" too)."""
    owner = next((k for k, w in enumerate(raw[:-1]) if w.endswith("'s")), -1)
    if owner >= 0:
        raw = raw[: owner + 1]
    keys = set(canonical_entities(" ".join(raw), set(leagues)))
    words = [fold(w).removesuffix("'s").replace("'", "") for w in raw]
    words = [w for w in words if w not in _NAME_SUFFIXES] or words
    if len(words[-1]) >= 2:
        keys.add("w:" + words[-1])
    return frozenset(keys)


@lru_cache(maxsize=1 << 12)
def _label_party(label: str, leagues: frozenset[str]) -> tuple[frozenset[str], str] | None:
    """The keys and words of an outcome label that names a party ("Sinner", "Lakers"), else ``None``;
    memoised (a few labels, "Over", "Yes" or a team, recur across every ladder)."""
    raw = _PARTY_TOKEN.findall(label.translate(_APOSTROPHES))
    low = [fold(w) for w in raw]
    if not low or len(low) > _PARTY_MAX or not all(map(_name_word, low)) or " ".join(low) in _NOT_A_PARTY_LABEL:
        return None
    return _party_keys(tuple(raw), leagues), " ".join(low)


@lru_cache(maxsize=1 << 14)
def parties(head: str, yes_label: str, no_label: str, leagues: frozenset[str] = frozenset()) -> Parties | None:
    """Which of two named parties a market's YES outcome favours, or ``None`` when it names no such pair
    or reads both ways. The texts may be number shapes (:func:`number_shape`; a party is no number), so
    that it is read once per ladder.

    Read, in this order, from: outcome labels naming both parties (a Polymarket "Sinner" / "Alcaraz"
    market: YES is its first outcome); else a relation in the text ("X beats / defeats / wins against /
    finishes ahead of / outperforms / gets more votes than Y"; "X loses to / is beaten by / trails Y"
    the other way round), each one it states agreeing; else "X vs Y" with the party YES is about, from
    the YES label or "will X win" ("Will Juan Estevez win the Cigarran vs Estevez match?").
    """
    yes = _label_party(yes_label, leagues) if yes_label else None
    if yes is not None and no_label:
        no = _label_party(no_label, leagues)
        if no is not None and not yes[0] & no[0]:
            return Parties(yes[0], no[0], f"{yes[1]} over {no[1]}")
    low_head = fold(head)
    if not _RELATION_HINT.search(low_head) and not (
        _VS_HINT.search(low_head) and (yes is not None or _WIN_HINT.search(low_head))
    ):
        return None
    raw = _PARTY_TOKEN.findall(head.translate(_APOSTROPHES))
    low = [fold(w) for w in raw]
    found: Parties | None = None
    vs_at = subject_at = -1
    n = len(low)
    i = 0
    while i < n:
        word = low[i]
        start, end, sign, contest = i, 0, 0, True
        if word in _RELATION_FIRST:
            for size in (3, 2, 1):
                rel = _RELATIONS.get(tuple(low[i : i + size]))
                if rel is not None:
                    end, sign = i + size, rel
                    break
        if not sign and word in _PASSIVE_AUX and i + 2 < n and low[i + 2] == "by" and low[i + 1].endswith(("ed", "en")):
            # "X is beaten by Y", and any verb's passive ("X is praised by Y"), names the favoured party
            # second; a listed one says which ("X is trailed by Y": X)
            rel = _RELATIONS.get((low[i + 1], "by"))
            end, sign, contest = i + 3, rel or -1, rel is not None
        if not sign and word in _WIN_AGAINST_FIRST:
            # "X wins the 2027 Wimbledon final against Y": a few words of the contest between
            against = next((k for k in range(i + 2, min(i + 8, n)) if low[k] in ("against", "over")), -1)
            if against > 0 and all(w.isalnum() and w not in _CLAUSE_WORDS for w in low[i + 1 : against]):
                end, sign = against + 1, 1
        if not sign and (word in _MORE or word in _LESS):
            than = next((k for k in range(i + 1, min(i + 5, n)) if low[k] == "than"), -1)
            if than > 0 and all(_name_word(w) or w in STOPWORDS for w in low[i + 1 : than]):
                end, sign = than + 1, 1 if word in _MORE else -1
        if sign:
            a, b = _party_before(low, start, True), _party_after(low, end)
            if a is not None and b is not None:
                reading = _reading(raw, low, a, b, sign, leagues, contest)
                if reading is None:
                    return None
                if found is None:
                    found = reading
                elif not (found.yes & reading.yes and found.other & reading.other):
                    return None  # two relations that read the other way round: no reading
            i = max(end, i + 1)
            continue
        if vs_at < 0 and (word in ("vs", "versus") or (word == "v" and i + 1 < n and low[i + 1] == ".")):
            vs_at = i
        elif subject_at < 0 and word in ("win", "wins") and (i + 1 == n or low[i + 1] not in ("against", "over")):
            subject_at = i
        i += 1
    if found is not None or vs_at < 0:
        return found
    left = _party_before(low, vs_at, False)
    right = _party_after(low, vs_at + 2 if vs_at + 1 < n and low[vs_at + 1] == "." else vs_at + 1)
    if left is None or right is None:
        return None
    subjects = [yes[0]] if yes is not None else []
    if subject_at >= 0 and (span := _party_before(low, subject_at, True)) is not None:
        subjects.append(_party_keys(tuple(raw[span[0] : span[1]]), leagues))
    if not subjects:
        return None
    lk, rk = _party_keys(tuple(raw[left[0] : left[1]]), leagues), _party_keys(tuple(raw[right[0] : right[1]]), leagues)
    if lk & rk:
        return None
    on_left = all(s & lk and not s & rk for s in subjects)
    on_right = all(s & rk and not s & lk for s in subjects)
    if on_left == on_right:
        return None  # the subject is neither (or both) of the two, or two subjects disagree
    return _reading(raw, low, left, right, 1 if on_left else -1, leagues)


@lru_cache(maxsize=1 << 14)
def win_subject(head: str, leagues: frozenset[str] = frozenset()) -> frozenset[str]:
    """The party keys (:class:`Parties`) of the one a text asks "will X win" or "X to win" about, or empty.

    A market naming two parties with no relation orion reads ("Celtics at Lakers: will the Lakers win?",
    "Alcaraz or Sinner: will Sinner win the final?") says plainly who its YES is about; the order of the
    names does not ("at" puts the away team first). Compared only with another market's reading of the
    same two (equivalence), so "Will Trump or Vance win?" is no contest of its own. "Win against / over /
    vs" is a relation (:func:`parties`), not this.
    """
    if not _WIN_HINT.search(fold(head)):
        return frozenset()
    raw = _PARTY_TOKEN.findall(head.translate(_APOSTROPHES))
    low = [fold(w) for w in raw]
    for i, word in enumerate(low):
        if word in ("win", "wins") and (i + 1 == len(low) or low[i + 1] not in _WIN_RELATION_NEXT):
            span = _party_before(low, i, True)
            return _party_keys(tuple(raw[span[0] : span[1]]), leagues) if span is not None else frozenset()
    return frozenset()


_WIN_RELATION_NEXT = frozenset({"against", "over", "vs", "versus", "v"})


def _reading(
    raw: list[str],
    low: list[str],
    a: tuple[int, int],
    b: tuple[int, int],
    sign: int,
    leagues: frozenset[str],
    contest: bool = True,
) -> Parties | None:
    """The :class:`Parties` of a party span ``a`` set against a span ``b`` (``sign`` -1: ``b`` is favoured),
    or ``None`` when the two cannot be told apart (a shared key)."""
    ka, kb = _party_keys(tuple(raw[a[0] : a[1]]), leagues), _party_keys(tuple(raw[b[0] : b[1]]), leagues)
    if ka & kb:
        return None
    ta, tb = " ".join(low[a[0] : a[1]]), " ".join(low[b[0] : b[1]])
    return Parties(ka, kb, f"{ta} over {tb}", contest) if sign > 0 else Parties(kb, ka, f"{tb} over {ta}", contest)


class MarketFeatures(NamedTuple):
    """What a market is about, in comparable form. Produced once per market and cached by the caller.

    A named tuple (immutable, like the frozen dataclass it was) because one is built per market, tens
    of thousands per scan, and a tuple is several times cheaper to build.
    """

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
    context: Mapping[str, frozenset[str]] = MappingProxyType({})  # entity kind → ids ("comp", "org" …)
    periods: frozenset[str] = frozenset()  # quarter, half, game/round/week number … (parse_periods)
    times: tuple[StatedTime, ...] = ()  # times of day the head states ("at 5pm ET"; parse_times)
    yes_direction: str = ""  # "over", "under", "up" or "down" when the YES label is one (label_direction)
    stance: frozenset[str] = frozenset()  # what the title and YES label say happens, or "not" (stance)
    no_direction: str = ""  # ... and the NO label, when both outcomes are named
    parties: Parties | None = None  # which of two named parties YES favours ("X beats Y"; parties)
    # ``subject`` is no label's nor game id's but the title's first known name ("Will Harris lead Trump?":
    # Trump, the only name orion knows there), which need not be the one YES is about
    subject_guessed: bool = False
    winner: frozenset[str] = frozenset()  # the party keys of "will X win" / "X to win" (win_subject)


@lru_cache(maxsize=1 << 14)
def _is_other(label: str) -> bool:
    return bool(label) and bool(_OTHER_LABEL.match(" ".join(tokens(label))))


_DIRECTION_LABELS = frozenset({"over", "under", "up", "down"})


@lru_cache(maxsize=1 << 12)
def label_direction(label: str) -> str:
    """The direction an outcome label names ("Over", "Under", "Up", "Down" → "over" …), or "".

    Such a label names no subject, yet decides which outcome YES is: a Polymarket market with outcomes
    ["Under", "Over"] has YES = Under (its first outcome), the other way round from a Kalshi "Over"."""
    word = " ".join(tokens(label))
    return word if word in _DIRECTION_LABELS else ""


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


def _id_family(sports_type: str, game_suffix: str | None, kalshi: bool) -> str | None:
    """The line family a market's ids decide (Polymarket's sports type, a game slug's suffix, a Kalshi
    game ticker), or ``None`` when only its title can (:func:`_family_of`)."""
    if kalshi and game_suffix == "game":
        return "winner"
    family = _SPORTS_TYPES.get(sports_type)
    if family:
        return family
    if game_suffix:
        if game_suffix in ("spread", "total"):
            return game_suffix
        for key, fam in _FAMILY_SUFFIX:
            if game_suffix.startswith(key):
                return fam
    return None


@lru_cache(maxsize=1 << 14)
def _family_of(low: str, has_game: bool) -> str:
    """The line family a folded title (or its :func:`number_shape`) states, when its ids have not."""
    half = "1h_" if _HALF_RX.search(low) else ""
    if _SPREAD_RX.search(low):
        return half + "spread"
    if _TOTAL_RX.search(low):
        return half + "total"
    if _PROP.search(low):
        return "prop"
    if has_game or _WINNER_RX.search(low):
        return half + "winner" if (has_game or half or "moneyline" in low) else ""
    return ""


@lru_cache(maxsize=1 << 14)
def _predicate(low: str) -> str:
    """The verb of the proposition in a folded title (or its :func:`number_shape`)."""
    for name, stems, rx in _PREDICATES:
        if any(w in low for w in stems) and rx.search(low):
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


_LEAGUE_IDS = frozenset({"nba", "nfl", "cfb"})
_SUBJECTLESS_KINDS = ("comp:", "org:nws", "place:")


@dataclass(frozen=True, slots=True, eq=False)
class _HeadFacts:
    """What a market's head text (event title + title) says, given the leagues known from its ids: one
    per :func:`number_shape` of the head, so the heads of a ladder share it.

    Compared by identity: it comes out of a cache and is itself a cache key (:func:`_static_facts`).
    """

    leagues: frozenset[str]
    ents: frozenset[str]  # resolved entities of the text
    lead: str | None  # the first of them that can be a YES subject
    teams: frozenset[str]
    key_format: str  # the key text, with "{}" for each replaced number (str.format puts them back)
    words: frozenset[str]  # the key-text words that are block keys, but the replaced numbers

    def key_text(self, numbers: tuple[str, ...]) -> tuple[str, frozenset[str]]:
        """The key text and block-key words of the head these ``numbers`` were replaced in."""
        if not numbers:
            return self.key_format, self.words
        long = [n for n in numbers if len(n) > 2]
        return self.key_format.format(*numbers), self.words.union(long) if long else self.words


@lru_cache(maxsize=1 << 16)
def _head_facts(head_shape: str, id_leagues: frozenset[str], replaced: bool) -> _HeadFacts:
    """Memoised: titles follow a few templates per venue and event titles repeat across their markets.

    ``replaced`` says whether :func:`number_shape` replaced numbers in the head. A replaced number is a
    key-text word of its own (never a stop word nor part of an alias), so then the words of zeros in
    the shape's key text are the numbers, in order (it replaces every number of zeros).
    """
    folded, mentions = find_mentions(head_shape)
    # For ASCII text find_mentions' folded tokens are exactly tokens(head); otherwise fold the whole text.
    leagues = (_league_hints_of(folded) if head_shape.isascii() else league_hints(head_shape)) | id_leagues
    ents: list[str] = []
    parts: list[str] = []  # the key text, as _key_text builds it
    i = 0
    for m in mentions:
        e = resolve(m.ids, leagues)
        if e is not None and e not in ents:
            ents.append(e)
        parts.extend(w for w in folded[i : m.start] if w not in STOPWORDS)
        parts.append(e.replace(":", "_") if e else " ".join(folded[m.start : m.end]))
        i = m.end
    parts.extend(w for w in folded[i:] if w not in STOPWORDS)
    words = " ".join(parts).split()  # the words of the key text (an unresolved alias may be several)
    if replaced:  # a word of zeros is a replaced number: a "{}" to put it back (no word holds braces)
        words = ["{}" if not w.strip("0") else w for w in words]
    lead = next((e for e in ents if not e.startswith(_SUBJECTLESS_KINDS)), None)
    return _HeadFacts(
        leagues=frozenset(leagues),
        ents=frozenset(ents),
        lead=lead,
        teams=frozenset(e for e in ents if e.split(":", 1)[0] in _LEAGUE_IDS),
        key_format=" ".join(words),
        words=frozenset(w for w in words if len(w) > 2 and w != "{}" and w not in STOPWORDS),
    )


@lru_cache(maxsize=1 << 12)
def _rules_facts(rules: str) -> tuple[tuple[int, int, int | None] | None, bool]:
    """(month, day, year) of a "scheduled for" date in a rules text, and its 50-50 clause; memoised."""
    rules_low = rules.casefold()  # long text: no accent folding needed
    if not rules_low:
        return None, False
    sched: tuple[int, int, int | None] | None = None
    sm = _SCHEDULED.search(rules_low)
    if sm:
        sched = (_MONTHS[sm["mon"]], int(sm["day"]), int(sm["year"]) if sm["year"] else None)
    return sched, bool(_FIFTY.search(rules_low))


def extract_features(market: Market) -> MarketFeatures:
    """Structured features of one market (title, outcome labels, ids, rules).

    What the texts say is memoised by the texts (:func:`_text_facts`) and parsed once per ladder of
    texts that differ only in their numbers (:func:`_shape_facts`); a game's facts are shared by its
    markets (:func:`_game`). Per market there remain look-ups, its dates and its block keys.
    """
    extra = market.extra
    kalshi = market.venue is Venue.KALSHI
    found = _kalshi_game(market.id) if kalshi else _poly_game_of(extra)
    game, suffix = found if found is not None else (None, None)
    title = market.title
    head = title if not market.event_title or market.event_title in title else f"{market.event_title} {title}"
    tf = _text_facts(
        head,
        title,
        _id_leagues(game.league if game is not None else None, market.id[:7] if kalshi else ""),
        market.outcome_label,
        extra.get("no_label", ""),
        _id_family(extra.get("sportsMarketType", ""), suffix, kalshi),
        game is not None,
        market.is_other,
    )
    when = market.expected_resolution_time or market.close_time
    ref = when.date() if when is not None else None  # the reference day of a yearless date
    # A plan that needs no ref holds no _YearlessDay.
    dates, day_keys = _resolve_dates(tf, ref) if tf.needs_ref else (list(cast("_Dates", tf.dates)), tf.day_keys)
    if game is None:
        st = tf.shape.static
    else:  # who a game's markets are about comes from its id
        st = _game_static(tf.shape, game.subject, game.teams)
        dates.append(game.span)
        day_keys = (day_keys | game.keys) if day_keys else game.keys
    fifty = False
    if market.rules:
        sched, fifty = _rules_facts(market.rules)
        if sched is not None:
            mo, dd, yr = sched
            yr = yr if yr else _infer_year(mo, dd, ref)
            d = _safe_date(yr, mo, dd) if yr else None
            if d is not None:
                dates.append(DateSpan(ON, d, d))
                day_keys = day_keys.union([d.isoformat()])
    day_entity_keys = _entity_day_keys(st.entities, day_keys) if day_keys and st.entities else _NO_KEYS
    if game is None:
        block_keys = tf.base_keys | day_entity_keys if day_entity_keys else tf.base_keys
    else:
        block_keys = st.entity_keys.union(tf.text_keys, day_entity_keys)
    return MarketFeatures(
        key_text=tf.key_text,
        block_keys=block_keys,
        entities=st.entities,
        subject=st.subject,
        no_subject=st.no_subject,
        teams=st.teams,
        leagues=tf.shape.head.leagues,
        family=st.family,
        predicate=st.predicate,
        thresholds=tf.thresholds,
        dates=tuple(dates) if len(dates) < 2 else tuple(dict.fromkeys(dates)),
        fifty_fifty=fifty,
        other=st.other,
        context=st.context,
        periods=tf.periods,
        times=parse_times(head),
        yes_direction=label_direction(market.outcome_label),
        stance=st.stance,
        no_direction=label_direction(extra.get("no_label", "")),
        parties=tf.shape.parties,
        subject_guessed=st.subject_guessed,
        winner=tf.shape.winner,
    )


def _poly_game_of(extra: Mapping[str, str]) -> tuple[_Game, str] | None:
    """The game a Polymarket market's slug names (its event's slug, when its own names none)."""
    slug = extra.get("slug", "") or extra.get("event_slug", "")
    if not slug:
        return None
    found = _poly_game(slug)
    if found is None and extra.get("event_slug"):
        found = _poly_game(extra["event_slug"])
    return found


@lru_cache(maxsize=1 << 16)
def _game_static(sf: _ShapeFacts, subject: str | None, teams: frozenset[str]) -> _StaticFacts:
    """The static facts of a game's market: its texts' shape, with the game's YES team and teams."""
    return _static_facts(
        sf.head, sf.low_title_shape, sf.yes_shape, sf.no_shape, sf.id_family, True, subject, teams, sf.is_other
    )


@lru_cache(maxsize=1 << 16)
def _entity_day_keys(entities: frozenset[str], days: frozenset[str]) -> frozenset[str]:
    """The entity@day block keys; memoised, since a game's markets share both."""
    return frozenset([f"e:{e}@{d}" for e in entities for d in days])


@lru_cache(maxsize=1 << 8)
def _id_leagues(game_league: str | None, ticker_start: str) -> frozenset[str]:
    """Leagues a market's ids state: its game's, and a Kalshi series prefix's (``ticker_start`` is the
    ticker's first seven characters, enough for every prefix; "" for Polymarket)."""
    leagues = {game_league} if game_league else set()
    leagues.update(lg for key, lg in _KALSHI_SERIES_LEAGUE if ticker_start.startswith(key))
    return frozenset(leagues)


def _resolve_dates(tf: _TextFacts, ref: date | None) -> tuple[list[DateSpan], frozenset[str]]:
    """A head's date facts with the missing years taken from ``ref``, and their day keys."""
    dates: list[DateSpan] = []
    for item in tf.dates:
        if isinstance(item, DateSpan):
            dates.append(item)
        else:
            d = _resolve_day(item, ref)
            if d is not None:
                dates.append(d)
    return dates, frozenset([d.end.isoformat() for d in dates if d.kind == ON])


@lru_cache(maxsize=1 << 14)
def _resolve_day(day: _YearlessDay, ref: date | None) -> DateSpan | None:
    """A "June 30" in the year nearest ``ref``; memoised (a daily ladder shares a few close dates)."""
    year = _infer_year(day.month, day.day, ref)
    d = _safe_date(year, day.month, day.day) if year else None
    return _span(day.prep, d, d) if d is not None else None


_Dates = tuple[DateSpan, ...]
_SPREADS = ("spread", "1h_spread")
_NO_KEYS: frozenset[str] = frozenset()


@dataclass(slots=True, eq=False)
class _ShapeFacts:
    """What the texts of one ladder share (see :func:`_shape_facts`); read-only.

    Compared by identity, and not frozen: one is built per distinct shape, and it is a cache key.
    """

    head: _HeadFacts
    low_title_shape: str  # the folded title's number shape
    yes_shape: str  # the outcome labels' number shapes
    no_shape: str
    id_family: str | None
    is_other: bool
    static: _StaticFacts  # the static facts of a market without a game id
    line: tuple[int, int, int] | None  # a spread's "(-3.5)": the sign and the span of its number
    strikes: _ThresholdMatches  # where the title's strikes are
    periods: tuple[_PeriodMatch, ...]  # where the head's periods are
    label_periods: tuple[_PeriodMatch, ...]  # ... and the YES label's
    dates: tuple[_DateMatch, ...]  # where the head's date facts are
    title_dates: tuple[_DateMatch, ...] | None  # ... and the title's own, when the head is not the title
    parties: Parties | None  # which of two named parties YES favours (parties)
    winner: frozenset[str]  # the party "will X win" names (win_subject)


@lru_cache(maxsize=1 << 16)
def _shape_facts(
    head_shape: str,
    replaced: bool,
    title_shape: str,
    id_leagues: frozenset[str],
    yes_shape: str,
    no_shape: str,
    id_family: str | None,
    has_game: bool,
    is_other: bool,
) -> _ShapeFacts:
    """Everything that does not depend on the values of the numbers in a market's texts, memoised:
    the ladder "Bucks vs. Lakers: O/U 229.5", "…: O/U 231.5" is parsed once (see :func:`number_shape`;
    ``replaced`` says whether it replaced any number in the head). The outcome labels come as shapes
    too ("above $61,000"): what is read of them here (entities, names, "Other") reads no number."""
    hf = _head_facts(head_shape, id_leagues, replaced)
    low_title_shape = fold(title_shape)
    st = _static_facts(hf, low_title_shape, yes_shape, no_shape, id_family, has_game, None, None, is_other)
    line = None
    if st.family in _SPREADS and (m := _SPREAD_LINE.search(title_shape)) is not None:
        line = (-1 if m["sign"] == "+" else 1, *m.span("num"))
    return _ShapeFacts(
        head=hf,
        low_title_shape=low_title_shape,
        yes_shape=yes_shape,
        no_shape=no_shape,
        id_family=id_family,
        is_other=is_other,
        static=st,
        line=line,
        strikes=_threshold_matches(low_title_shape) if _HAS_DIGIT.search(title_shape) else _NO_STRIKES,
        dates=_date_matches(fold(head_shape)) if _HAS_DIGIT.search(head_shape) else (),
        title_dates=(None if title_shape == head_shape
                     else _date_matches(low_title_shape) if _HAS_DIGIT.search(title_shape) else ()),
        periods=_period_matches(fold(head_shape)),
        label_periods=_period_matches(fold(yes_shape)) if yes_shape else (),
        parties=parties(head_shape, yes_shape, no_shape, hf.leagues),
        winner=win_subject(head_shape, hf.leagues),
    )


@dataclass(slots=True, eq=False)
class _TextFacts:
    """Everything a market's texts say before its game id and reference date are known; read-only."""

    shape: _ShapeFacts
    key_text: str
    thresholds: tuple[Threshold, ...]
    text_keys: frozenset[str]  # the strike and word block keys
    base_keys: frozenset[str]  # ... and the entity keys, for a market without a game id
    dates: tuple[DateSpan | _YearlessDay, ...]  # the head's date plan (parse_dates before ref)
    needs_ref: bool  # some date in it lacks a year
    day_keys: frozenset[str]  # the days of its "on" dates, when it needs no ref
    periods: frozenset[str]  # the periods its head and YES label name (parse_periods)


@lru_cache(maxsize=1 << 16)
def _text_facts(
    head: str,
    title: str,
    id_leagues: frozenset[str],
    yes_label: str,
    no_label: str,
    id_family: str | None,
    has_game: bool,
    is_other: bool,
) -> _TextFacts:
    """What a market's texts say, memoised: the shared part comes from :func:`_shape_facts`, and only
    the numbers are read here: put back into the key text, and read at the strikes and dates."""
    head_shape, numbers = number_shape(head)
    title_shape = head_shape if title == head else number_shape(title)[0]
    sf = _shape_facts(
        head_shape,
        bool(numbers),
        title_shape,
        id_leagues,
        number_shape(yes_label)[0],
        number_shape(no_label)[0],
        id_family,
        has_game,
        is_other,
    )
    key_text, text_keys = sf.head.key_text(numbers)
    thresholds = _read_strikes(sf, title, yes_label)
    if thresholds:
        text_keys = text_keys.union([f"n:{th.value.normalize()}{th.unit}" for th in thresholds])
    # The market's own dates govern: an event title's ("…before 2027?") is context only for a title
    # that states none, since "by December 30, 2026" under it is not also "by December 31, 2026".
    if sf.title_dates:
        plan, needs_ref = _read_dates(sf.title_dates, _numbers_text(title))
    else:
        plan, needs_ref = _read_dates(sf.dates, _numbers_text(head)) if sf.dates else ((), False)
    days = () if needs_ref else cast("_Dates", plan)
    periods = _read_periods(sf.periods, _numbers_text(head)) if sf.periods else _NO_PERIODS
    if sf.label_periods:
        periods = periods | _read_periods(sf.label_periods, _numbers_text(yes_label))
    return _TextFacts(
        shape=sf,
        key_text=key_text,
        thresholds=thresholds,
        text_keys=text_keys,
        base_keys=_NO_KEYS if has_game else text_keys | sf.static.entity_keys,  # a game's entities: per market
        dates=plan,
        needs_ref=needs_ref,
        day_keys=frozenset([d.end.isoformat() for d in days if d.kind == ON]) if days else _NO_KEYS,
        periods=periods,
    )


def _numbers_text(text: str) -> str:
    """A text to read the numbers of its folded shape's matches from: folding a text that
    :func:`number_shape` would shape (ASCII, or but for ° and apostrophes) changes neither the
    positions nor the digits, so the text itself will do."""
    return text if text.isascii() or not _SHAPE_UNSAFE.search(text) else fold(text)


def _read_strikes(sf: _ShapeFacts, title: str, yes_label: str) -> tuple[Threshold, ...]:
    """The strikes of a market: a spread's line or the title's, and the YES label's that do not restate
    them. A ladder's markets often share one title and differ in the label only ("How many Fed cuts in
    2026?" with "2" and "3"; Kalshi's range markets, whose ``title`` is deprecated for ``yes_sub_title``),
    so a label's strike is compared as the title's are."""
    if sf.line is not None:
        sign, a, b = sf.line
        found: tuple[Threshold, ...] = (_spread_threshold(title[a:b], sign),)
    else:
        ranges, strikes = sf.strikes
        found = _read_thresholds(sf.strikes, _numbers_text(title)) if ranges or strikes else ()
    label = _label_strikes(yes_label) if _HAS_DIGIT.search(yes_label) else ()
    if not label:
        return found
    if not found:
        return label
    more = tuple(th for th in label if not _restates(th, found))
    return found + more if more else found


@lru_cache(maxsize=1 << 12)
def _spread_threshold(number: str, sign: int) -> Threshold:
    """"Spread: Lakers (-3.5)": YES = Lakers win by more than 3.5."""
    return _canonical(Threshold(Decimal(number) * sign, "", GT))


class _StaticFacts(NamedTuple):
    """The features that depend on neither a market's numbers nor its dates (see :func:`_static_facts`)."""

    subject: frozenset[str]
    no_subject: frozenset[str]
    teams: frozenset[str]
    entities: frozenset[str]
    family: str
    predicate: str
    entity_keys: frozenset[str]  # the "e:" block keys
    context: Mapping[str, frozenset[str]]  # shared by the markets with these facts: read-only
    other: bool
    stance: frozenset[str] = frozenset()
    subject_guessed: bool = False  # the subject is the title's first known name (MarketFeatures)


@lru_cache(maxsize=1 << 16)
def _static_facts(
    hf: _HeadFacts,
    low_title_shape: str,
    yes_shape: str,
    no_shape: str,
    id_family: str | None,
    has_game: bool,
    game_subject: str | None,
    game_teams: frozenset[str] | None,
    is_other: bool,
) -> _StaticFacts:
    """Who and what kind of line: memoised by template, since the markets of a ladder share them.

    ``low_title_shape`` is the folded title's :func:`number_shape`, and the labels come as their number
    shapes: nothing here reads the numbers themselves (the strike is :func:`_read_strikes`).
    """
    subject = _label_subject_cached(yes_shape, hf.leagues)
    no_subject = _label_subject_cached(no_shape, hf.leagues)
    if game_subject is not None:
        subject = frozenset({game_subject})
    guessed = not subject and not no_shape and hf.lead is not None and low_title_shape.lstrip().startswith("will")
    if guessed:
        subject = frozenset({cast("str", hf.lead)})

    teams = hf.teams if game_teams is None else game_teams
    family = _family_of(low_title_shape, has_game) if id_family is None else id_family
    predicate = _predicate(low_title_shape)
    if not family and len(teams) == 2 and predicate == "win":
        family = "winner"  # "Will the Bucks beat the Lakers?"

    entities = hf.ents | subject | no_subject | teams
    context: dict[str, set[str]] = {}
    for e in entities:
        kind = e.split(":", 1)[0]
        if kind in CONTEXT_KINDS:
            context.setdefault(kind, set()).add(e)
    return _StaticFacts(
        subject=subject,
        no_subject=no_subject,
        teams=teams,
        entities=entities,
        family=family,
        predicate=predicate,
        entity_keys=frozenset("e:" + e for e in entities),
        context={k: frozenset(v) for k, v in context.items()},
        other=is_other or _is_other(yes_shape),
        stance=stance(low_title_shape) | stance(fold(yes_shape)) if yes_shape else stance(low_title_shape),
        subject_guessed=guessed,
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
