"""How much: strikes with their unit and direction ("above $61,000", "O/U 229.5", "between 6,000 and 6,099").

The direction decides which side of a strike settles YES and the unit what it measures (cents or dollars,
Celsius or Fahrenheit), so two strikes compare equal only when number, unit and direction agree (a
half-point line on a count reads as the whole number above it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from orion_cli.matching.normalize.shapes import number_shape
from orion_cli.matching.normalize.text import APOSTROPHES, HAS_DIGIT, fold
from orion_cli.matching.normalize.times import HOUR_AFTER

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
# "10 cm". Counts (points, yards, goals) stay unitless so that half-point lines compare (canonical_threshold).
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
# years (1900–2100, no multiplier or unit) is a window, not a strike (see read_thresholds). Each "\s*" is
# followed by a required word or sign, so a run of spaces is not backtracked into quadratically.
_NUM_RANGE = re.compile(
    r"(?:\b(?P<btw>between)\s+)?(?<![\w.,$:\-])(?P<lo>-?(?:" + _MONEY + r"))" + _RANGE_MULT.format("m1")
    + r"\s*(?P<sep>-|to\b|and\b)\s*(?P<hi>-?(?:" + _MONEY + r"))(?![\d,]|-\d)" + _RANGE_MULT.format("m2") + _UNIT
)
# The cheap test that a text may hold such a range, before the pattern is tried: a high bound may be
# negative too ("-5 to -1 degrees", "-5 - -1": without it those ranges were read as "= -1", and different
# brackets were accepted as one).
NUM_RANGE_HINT = re.compile(r"between|\d\s*(?:-|to\b)\s*-?\d")
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


def price_band(low: str, lo_start: int, hi_end: int) -> bool:
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
        return Decimal(text.replace(",", "").translate(APOSTROPHES))
    except InvalidOperation:
        return None


def canonical_threshold(th: Threshold) -> Threshold:
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
    if not HAS_DIGIT.search(text):
        return ()
    return _strikes_in(text, fold(number_shape(text)[0]))


def _strikes_in(text: str, low_shape: str) -> tuple[Threshold, ...]:
    """The strikes of ``text``, given its folded :func:`number_shape` (the patterns run on that)."""
    matches = threshold_matches(low_shape)
    return read_thresholds(matches, fold(text)) if matches[0] or matches[1] else ()


# A range match: its span, the spans of its low and high numbers, its unit text (``None`` for a dollar
# range, "" for a range of plain numbers without one), currency sign and the multipliers of its low and
# high numbers ("$95k-$100k").
_RangeMatch = tuple[
    tuple[int, int], tuple[int, int], tuple[int, int], str | None, bool, str | None, str | None
]
# A strike match: its start, the span of its number, its pre, post, unit, currency and multiplier texts, and
# whether a minus sign is before it.
_StrikeMatch = tuple[int, tuple[int, int], str | None, str | None, str | None, str | None, str | None, bool]
ThresholdMatches = tuple[tuple[_RangeMatch, ...], tuple[_StrikeMatch, ...]]
NO_STRIKES: ThresholdMatches = ((), ())


@lru_cache(maxsize=1 << 14)
def threshold_matches(shape: str) -> ThresholdMatches:
    """Where the strikes of a folded :func:`number_shape` are: the regex half of :func:`_thresholds`.

    The spans are those of the text itself, and the titles of one ladder share one entry.
    """
    ranges: list[_RangeMatch] = []
    if not _THRESHOLD_HINT.search(shape):  # a kept strike needs a comparison word, a unit or a currency sign
        return (_num_ranges(shape, ranges), ()) if NUM_RANGE_HINT.search(shape) else NO_STRIKES
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
    if NUM_RANGE_HINT.search(shape):
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
    of at most 12, the high one followed by am/pm (:data:`HOUR_AFTER`). Read on the text, not on its
    number shape, whose numbers are all zeros. Not on a zone alone: "1-6 pt" (points), "10-12 ct"
    (carats) are strikes, and read as hours they were compared by nothing ("17-18 UTC" stays a range:
    held back, never accepted)."""
    return (
        lo.isdigit() and hi.isdigit() and int(lo) <= 12 and int(hi) <= 12
        and HOUR_AFTER.match(low, hi_end) is not None
    )


def read_thresholds(matches: ThresholdMatches, low: str) -> tuple[Threshold, ...]:
    """The thresholds of ``low`` at the places :func:`threshold_matches` found, with its own numbers."""
    ranges, strikes = matches
    out: list[Threshold] = []
    taken: list[tuple[int, int]] = []
    for span, (la, lb), (ha, hb), range_unit, currency, lo_mult, hi_mult in ranges:
        bounds = _bounds(low[la:lb], low[ha:hb], lo_mult, hi_mult)
        if bounds is None:
            continue
        lo, hi = bounds
        plain = range_unit == "" and not (lo_mult or hi_mult)
        if plain and _YEARS.fullmatch(low[la:lb]) and _YEARS.fullmatch(low[ha:hb]) and not price_band(low, la, hb):
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
def label_strikes(label: str) -> tuple[Threshold, ...]:
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


def label_restates(label_strike: Threshold, title_strikes: tuple[Threshold, ...]) -> bool:
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
    return canonical_threshold(Threshold(value * scale, unit, direction))


def parse_direction(text: str) -> str | None:
    """The comparison a phrase states ("at least" → ge, "under" → lt), or ``None``."""
    low = fold(text).strip()
    for word in sorted(_DIR_WORDS, key=len, reverse=True):
        if re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", low) if word[0].isalpha() else word in low:
            return _DIR_WORDS[word]
    return None
