"""Structured identifiers: Kalshi game tickers and Polymarket sports slugs read into league, teams and date.

Where a venue names its game in a machine-made id, that id is a surer source than the title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from orion_cli.matching.normalize.dates import MONTHS, ON, DateSpan, safe_date
from orion_cli.matching.normalize.entities import alias_table

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
    found = kalshi_game(ticker)
    return None if found is None else found[0].ref(found[1])


def kalshi_game(ticker: str) -> tuple[GameFacts, str] | None:
    """:func:`parse_kalshi_game` as the shared game object and the ticker's kind (its suffix)."""
    m = _KALSHI_GAME.match(ticker.upper())
    if not m or m["series"] not in _KALSHI_LEAGUE:
        return None
    game = _kalshi_game_core(m["series"], m["yy"], m["mon"], m["dd"], m["codes"])
    if game is None:
        return None
    league, teams, day = game
    subject = alias_table()[1].get(league, {}).get((m["outcome"] or "").lower()) if m["kind"] == "GAME" else None
    return _game(league, teams, day, subject), m["kind"].lower()


@lru_cache(maxsize=1 << 14)
def _kalshi_game_core(series: str, yy: str, mon: str, dd: str, codes: str) -> tuple[str, frozenset[str], date] | None:
    """League, teams and day of a Kalshi game event, memoised: every game has one market per team."""
    league = _KALSHI_LEAGUE[series]
    table = alias_table()[1].get(league, {})
    pair = _split_codes(codes, table)
    day = safe_date(2000 + int(yy), MONTHS.get(mon.lower(), 0), int(dd))
    if pair is None or day is None:
        return None
    return league, frozenset(pair), day


def parse_poly_slug(slug: str) -> GameRef | None:
    """``nba-mil-lal-2026-01-09[-spread-home-3pt5]`` → nba, {mil, lal}, 2026-01-09, suffix."""
    found = poly_game(slug)
    return None if found is None else found[0].ref(found[1])


def poly_game(slug: str) -> tuple[GameFacts, str] | None:
    """:func:`parse_poly_slug` as the shared game object and the slug's suffix."""
    m = _POLY_GAME.match(slug.lower())
    if not m:
        return None
    game = _poly_game_core(m["league"], m["a"], m["b"], m["date"])
    return None if game is None else (game, m["rest"] or "")


@dataclass(slots=True, eq=False)
class GameFacts:
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
def _game(league: str, teams: frozenset[str], day: date, subject: str | None) -> GameFacts:
    iso = day.isoformat()
    return GameFacts(league, teams, day, subject, DateSpan(ON, day, day), iso, frozenset([iso]))


@lru_cache(maxsize=1 << 14)
def _poly_game_core(slug_league: str, a_code: str, b_code: str, iso_day: str) -> GameFacts | None:
    """League, teams and day of a Polymarket game slug, memoised: a game event has a dozen market slugs."""
    league = {"cfp": "cfb", "ncaaf": "cfb"}.get(slug_league, slug_league)
    table = alias_table()[1].get(league, {})
    a, b = table.get(a_code), table.get(b_code)
    y, mo, d = (int(x) for x in iso_day.split("-"))
    day = safe_date(y, mo, d)
    if a is None or b is None or day is None:
        return None
    return _game(league, frozenset((a, b)), day, None)
