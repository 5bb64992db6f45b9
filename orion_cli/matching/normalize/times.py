"""Times of day and their zones ("at 5pm ET", "noon Pacific Time"), as stated.

The contiguous US zones (ET, CT, MT, PT), UTC and GMT are converted to UTC offsets; other zones (Hawaii's
and Alaska's among them) and IANA names are kept as written rather than guessed, so a time is compared in
a zone only when orion knows that zone.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple, cast

from orion_cli.matching.normalize.text import fold


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
# After the high hour of a window; read on a title that may not be folded (numbers_text), so in any case.
HOUR_AFTER = re.compile(r"\s*[ap]\.?\s?m\b", re.IGNORECASE)
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
