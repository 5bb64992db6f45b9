"""Which period or numbered event a market is about: a quarter, a half, "Game 7", a round or a week.

"Q3" and "Q4" of the same game are different bets, so the period is a fact two markets must share.
"""

from __future__ import annotations

import re
from functools import lru_cache

from orion_cli.matching.normalize.shapes import number_shape, numbers_text
from orion_cli.matching.normalize.text import HAS_DIGIT, fold

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
    if not HAS_DIGIT.search(text) and not _PERIOD_WORD.search(text):
        return NO_PERIODS
    matches = period_matches(fold(number_shape(text)[0]))
    return read_periods(matches, numbers_text(text)) if matches else NO_PERIODS


_PERIOD_WORD = re.compile(r"(?i)quarter|half|round|game|week|leg\b|stage|period|inning|match|set\b|episode")
NO_PERIODS: frozenset[str] = frozenset()
# A period match: its kind, and its value, or the span of the number to read it from ("Game 7").
PeriodMatch = tuple[str, int | tuple[int, int]]


@lru_cache(maxsize=1 << 14)
def period_matches(shape: str) -> tuple[PeriodMatch, ...]:
    """Where the periods of a folded :func:`number_shape` are: the regex half of :func:`parse_periods`.

    Exact on shapes: "q3", "1h" and "3rd" are not number tokens (never zeroed), and a zeroed number
    is read only through ``\\d`` at the span it has in the text."""
    out: list[PeriodMatch] = []
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


def read_periods(matches: tuple[PeriodMatch, ...], text: str) -> frozenset[str]:
    """The periods of ``text`` at the places :func:`period_matches` found, with its own numbers."""
    return frozenset(
        [f"{kind}:{v if isinstance(v, int) else int(text[v[0] : v[1]])}" for kind, v in matches]
    )
