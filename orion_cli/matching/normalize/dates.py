"""When: dates, deadlines and windows, with the year a yearless date most likely means.

"On March 5" and "by March 5" settle differently, so a deadline is kept apart from a day, and a date
whose year the text leaves out is placed in the year nearest the market's close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import cast

from orion_cli.matching.normalize.shapes import number_shape
from orion_cli.matching.normalize.text import HAS_DIGIT, fold
from orion_cli.matching.normalize.thresholds import NUM_RANGE_HINT, price_band, threshold_matches

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


MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
MON = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# Inclusive deadlines first: at the same place "on or before X" must not be read as "on" (no date
# follows it) and then, from "before", as the day before X.
_INCLUSIVE_PREPS = ("on or before", "before or on", "by or before", "on or by", "no later than")
_PREP = (r"(?:\b(?P<prep>" + "|".join(p.replace(" ", r"\s+") for p in _INCLUSIVE_PREPS)
         + r"|by|before|on|in|through|until|till|ending|end of|by the end of|by end of|after)\s+(?:the\s+)?)?")
_DAY_DATE = re.compile(
    _PREP + MON + r"\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*(?P<year>(?:19|20)\d{2}))?"
)
_MONTH_YEAR = re.compile(_PREP + MON + r"\.?,?\s+(?P<year>(?:19|20)\d{2})\b")
_ISO = re.compile(r"(?<!\d)(?P<y>20\d{2})-(?P<m>\d{2})-(?P<d>\d{2})(?!\d)")
_SEASON = re.compile(r"(?<!\d)(?P<y1>20\d{2})\s*[-/]\s*(?P<y2>\d{2}|20\d{2})(?!\d)")
_YEAR = re.compile(_PREP + r"(?<![\d$.,])(?P<year>(?:19|20)\d{2})(?![\d%°,.]\d?|\s*(?:bps|k\b|m\b|bn\b))")
_MONTH_STEM = re.compile("jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec")  # every MON alternative starts so
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


def safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


@lru_cache(maxsize=1 << 14)
def infer_year(month: int, day: int, ref: date | None) -> int | None:
    """A year for "June 30": the one that puts the date nearest to the reference (close) date; memoised."""
    if ref is None:
        return None
    best: tuple[int, int] | None = None
    for y in (ref.year - 1, ref.year, ref.year + 1):
        d = safe_date(y, month, day)
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
        return cast("list[DateSpan]", list(plan))  # no YearlessDay in a plan that needs no ref
    out: list[DateSpan] = []
    for item in plan:
        d = item if isinstance(item, DateSpan) else resolve_day(item, ref)
        if d is not None:
            out.append(d)
    return out


@dataclass(frozen=True, slots=True)
class YearlessDay:
    """A "June 30" whose year comes from the reference date, kept in the plan until that is known."""

    prep: str | None
    month: int
    day: int


@lru_cache(maxsize=1 << 16)
def _date_plan(text: str) -> tuple[tuple[DateSpan | YearlessDay, ...], bool]:
    """The reference-independent part of :func:`parse_dates`, memoised (titles repeat; close dates don't).

    Returns the facts in order, with a :class:`YearlessDay` where the year is still to be inferred,
    and whether there is any.
    """
    if not HAS_DIGIT.search(text):
        return (), False
    return _dates_in(text, fold(number_shape(text)[0]))


def _dates_in(text: str, low_shape: str) -> tuple[tuple[DateSpan | YearlessDay, ...], bool]:
    """The date plan of ``text``, given its folded :func:`number_shape` (the patterns run on that)."""
    matches = date_matches(low_shape)
    return read_dates(matches, fold(text)) if matches else ((), False)


# One date match: its pattern, its preposition and month texts, and the spans of its numbers.
DateMatch = tuple[str, str | None, str | None, tuple[tuple[int, int], ...]]  # an absent number: (-1, -1)


@lru_cache(maxsize=1 << 14)
def date_matches(shape: str) -> tuple[DateMatch, ...]:
    """Where the date facts of a folded :func:`number_shape` are: the regex half of :func:`_date_plan`.

    Each pass blanks what it matched so that later passes do not read it again; the spans are the
    text's own, so its numbers are read at them by :func:`read_dates`. Every pattern but the
    day-of-month one contains a year, so without one they are skipped. A match after "after" is
    blanked but not kept (it states no window).
    """
    out: list[DateMatch] = []
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
    if NUM_RANGE_HINT.search(low) or "$" in low:
        low = _blank(low, _strike_range_spans(shape))
    low = _blank(low, _compared_number_spans(shape))
    for m in _YEAR.finditer(low):
        prep = (m["prep"] or "").strip()
        if prep != "after":
            out.append(("year", prep, None, (m.span("year"),)))
    return tuple(out)


def _strike_range_spans(shape: str) -> list[tuple[int, int]]:
    """The spans of the ranges in ``shape`` that :func:`read_thresholds` reads as strikes whatever their
    numbers ("between 2000 and 2050 points", "$2000-2050", a price band): their year-like numbers are
    bounds, not years. The other ranges of two years ("between 2025 and 2026") are windows, read as dates.
    Decided on words, signs and spans only, so the same for a text and its number shape."""
    spans = [
        span
        for span, (la, _), (_, hb), unit, currency, m1, m2 in threshold_matches(shape)[0]
        if unit is None or unit or currency or m1 or m2 or price_band(shape, la, hb)
    ]
    return sorted(spans)


# Comparison words that also say "during" a year ("over 2026", "under 2026 rules"): a year after them is
# kept as one too (both readings, as before), while the strike reader still takes the number.
_PERIOD_WORDS = frozenset({"over", "under"})


def _compared_number_spans(shape: str) -> list[tuple[int, int]]:
    """The spans of the numbers in ``shape`` after a comparison word ("above 2000", "more than 2026"):
    :func:`read_thresholds` reads each as a strike, so it is not a year too. "ETH above 2000 on June 30"
    read as an edition of the year 2000 as well as the strike."""
    return [(start, end) for start, (_, end), pre, *_ in threshold_matches(shape)[1]
            if pre and pre not in _PERIOD_WORDS]


def read_dates(matches: tuple[DateMatch, ...], low: str) -> tuple[tuple[DateSpan | YearlessDay, ...], bool]:
    """The date facts of ``low`` at the places :func:`date_matches` found, with its own numbers."""
    out: list[DateSpan | YearlessDay] = []
    needs_ref = False
    for pattern, prep, mon, nums in matches:
        n = [int(low[a:b]) if a >= 0 else None for a, b in nums]
        if pattern == "iso":
            y, mo, dd = cast("list[int]", n)
            d = safe_date(y, mo, dd)
            if d is not None:
                out.append(DateSpan(ON, d, d))
        elif pattern == "day":
            month, (day, year) = MONTHS[cast("str", mon)], n
            if year is None:
                out.append(YearlessDay(prep, month, cast("int", day)))
                needs_ref = True
                continue
            d = safe_date(year, month, cast("int", day))
            if d is not None:
                out.append(_span(prep, d, d))
        elif pattern == "month":
            y, mo = cast("int", n[0]), MONTHS[cast("str", mon)]
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
    return safe_date(2000 + int(m["yy"]), MONTHS[m["mon"].lower()], int(m["dd"]))


@lru_cache(maxsize=1 << 14)
def resolve_day(day: YearlessDay, ref: date | None) -> DateSpan | None:
    """A "June 30" in the year nearest ``ref``; memoised (a daily ladder shares a few close dates)."""
    year = infer_year(day.month, day.day, ref)
    d = safe_date(year, day.month, day.day) if year else None
    return _span(day.prep, d, d) if d is not None else None
