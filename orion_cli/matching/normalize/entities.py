"""Aliases to entity ids: who a text is about ("Fed", "FOMC" and "Federal Reserve" are one entity).

Names are matched as whole mentions, and a person's fuller name is another person ("Donald Trump Jr."
is not "Trump"), so two markets about different people never share an entity by a shared word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from orion_cli.matching import aliases
from orion_cli.matching.normalize.text import APOSTROPHES, STOPWORDS, WORD_TOKEN, fold, tokens

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
def alias_table() -> tuple[dict[tuple[str, ...], _Alias], dict[str, dict[str, str]], dict[str, int]]:
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
    table, _, first = alias_table()
    src = text if text.isascii() else text.translate(APOSTROPHES)
    raw = WORD_TOKEN.findall(src)
    if text.isascii():
        folded = WORD_TOKEN.findall(text.casefold()) if not text.islower() else raw  # ASCII: the same tokens
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
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
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
    if end < len(folded) and folded[end] in NAME_SUFFIXES and (folded[end] in ("jr", "sr") or raw[end].isupper()):
        mods.append(folded[end])
        end += 1
    if not mods:
        return m
    suffix = "_" + "_".join(mods)
    return Mention(tuple(e + suffix for e in m.ids), start, end)


def _same_person(first_name: str, surname: str, ids: tuple[str, ...]) -> bool:
    hit = alias_table()[0].get((first_name, surname))
    return hit is not None and bool(set(hit.ids) & set(ids))


def _only_space_between(src: str, j: int, k: int) -> bool:
    """Whether tokens ``j`` to ``k`` of ``src`` are separated by spaces (after an initial's dot) only:
    "Harris-Trump" is two people, "Hunter R. Biden" one."""
    spans = [t.span() for t in WORD_TOKEN.finditer(src)]
    return all(_NAME_GAP.fullmatch(src, spans[t][1], spans[t + 1][0]) for t in range(j, k))


_NAME_GAP = re.compile(r"\.?\s+")


_LEAGUE_RX = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(aliases.LEAGUE_HINTS, key=len, reverse=True)) + r")\b"
)


def league_hints(text: str) -> set[str]:
    """Leagues named in ``text`` ("NBA", "Pro Basketball", "FIFA" …)."""
    return league_hints_of(tokens(text))


def league_hints_of(folded_tokens: list[str]) -> set[str]:
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
