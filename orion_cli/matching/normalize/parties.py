"""Two-party propositions: which of two named parties the YES outcome favours.

"X beats Y" and "Y loses to X" are the same bet, "X beats Y" and "Y beats X" are opposite ones, so the
favoured party is read from the relation between the names, not from which name comes first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from orion_cli.matching.normalize.dates import MONTHS
from orion_cli.matching.normalize.entities import NAME_SUFFIXES, canonical_entities
from orion_cli.matching.normalize.text import APOSTROPHES, STOPWORDS, fold


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
    STOPWORDS | _PARTY_SKIP | _MORE | _LESS | frozenset(MONTHS)
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
    words = [w for w in words if w not in NAME_SUFFIXES] or words
    if len(words[-1]) >= 2:
        keys.add("w:" + words[-1])
    return frozenset(keys)


@lru_cache(maxsize=1 << 12)
def _label_party(label: str, leagues: frozenset[str]) -> tuple[frozenset[str], str] | None:
    """The keys and words of an outcome label that names a party ("Sinner", "Lakers"), else ``None``;
    memoised (a few labels, "Over", "Yes" or a team, recur across every ladder)."""
    raw = _PARTY_TOKEN.findall(label.translate(APOSTROPHES))
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
    raw = _PARTY_TOKEN.findall(head.translate(APOSTROPHES))
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
    raw = _PARTY_TOKEN.findall(head.translate(APOSTROPHES))
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
