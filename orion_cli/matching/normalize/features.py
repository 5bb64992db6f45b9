"""A market's comparable facts (:class:`MarketFeatures`), built from its title, labels, rules and ids.

The one entry point (:func:`extract_features`) the matcher calls once per market; it puts the readers
of the other modules together and memoises per number shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple, cast

from orion_cli.core.models import Market, Venue
from orion_cli.matching.normalize.dates import (
    MONTHS,
    ON,
    DateMatch,
    DateSpan,
    YearlessDay,
    date_matches,
    infer_year,
    read_dates,
    resolve_day,
    safe_date,
)
from orion_cli.matching.normalize.entities import (
    Mention,
    canonical_entities,
    find_mentions,
    league_hints,
    league_hints_of,
    resolve,
)
from orion_cli.matching.normalize.games import GameFacts, kalshi_game, poly_game
from orion_cli.matching.normalize.parties import Parties, parties, win_subject
from orion_cli.matching.normalize.periods import NO_PERIODS, PeriodMatch, period_matches, read_periods
from orion_cli.matching.normalize.propositions import (
    CONTEXT_KINDS,
    FAMILY_SUFFIX,
    FIFTY_FIFTY,
    HALF_RX,
    KALSHI_SERIES_LEAGUE,
    OTHER_LABEL,
    PREDICATES,
    PROP,
    SCHEDULED,
    SPORTS_TYPES,
    SPREAD_LINE,
    SPREAD_RX,
    TOTAL_RX,
    WINNER_RX,
    stance,
)
from orion_cli.matching.normalize.shapes import number_shape, numbers_text
from orion_cli.matching.normalize.text import HAS_DIGIT, STOPWORDS, fold, tokens
from orion_cli.matching.normalize.thresholds import (
    GT,
    NO_STRIKES,
    Threshold,
    ThresholdMatches,
    canonical_threshold,
    label_restates,
    label_strikes,
    parse_thresholds,
    read_thresholds,
    threshold_matches,
)
from orion_cli.matching.normalize.times import StatedTime, parse_times


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
    return bool(label) and bool(OTHER_LABEL.match(" ".join(tokens(label))))


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
    family = SPORTS_TYPES.get(sports_type)
    if family:
        return family
    if game_suffix:
        if game_suffix in ("spread", "total"):
            return game_suffix
        for key, fam in FAMILY_SUFFIX:
            if game_suffix.startswith(key):
                return fam
    return None


@lru_cache(maxsize=1 << 14)
def _family_of(low: str, has_game: bool) -> str:
    """The line family a folded title (or its :func:`number_shape`) states, when its ids have not."""
    half = "1h_" if HALF_RX.search(low) else ""
    if SPREAD_RX.search(low):
        return half + "spread"
    if TOTAL_RX.search(low):
        return half + "total"
    if PROP.search(low):
        return "prop"
    if has_game or WINNER_RX.search(low):
        return half + "winner" if (has_game or half or "moneyline" in low) else ""
    return ""


@lru_cache(maxsize=1 << 14)
def _predicate(low: str) -> str:
    """The verb of the proposition in a folded title (or its :func:`number_shape`)."""
    for name, stems, rx in PREDICATES:
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
    leagues = (league_hints_of(folded) if head_shape.isascii() else league_hints(head_shape)) | id_leagues
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
    sm = SCHEDULED.search(rules_low)
    if sm:
        sched = (MONTHS[sm["mon"]], int(sm["day"]), int(sm["year"]) if sm["year"] else None)
    return sched, bool(FIFTY_FIFTY.search(rules_low))


def extract_features(market: Market) -> MarketFeatures:
    """Structured features of one market (title, outcome labels, ids, rules).

    What the texts say is memoised by the texts (:func:`_text_facts`) and parsed once per ladder of
    texts that differ only in their numbers (:func:`_shape_facts`); a game's facts are shared by its
    markets (:func:`_game`). Per market there remain look-ups, its dates and its block keys.
    """
    extra = market.extra
    kalshi = market.venue is Venue.KALSHI
    found = kalshi_game(market.id) if kalshi else _poly_game_of(extra)
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
    # A plan that needs no ref holds no YearlessDay.
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
            yr = yr if yr else infer_year(mo, dd, ref)
            d = safe_date(yr, mo, dd) if yr else None
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


def _poly_game_of(extra: Mapping[str, str]) -> tuple[GameFacts, str] | None:
    """The game a Polymarket market's slug names (its event's slug, when its own names none)."""
    slug = extra.get("slug", "") or extra.get("event_slug", "")
    if not slug:
        return None
    found = poly_game(slug)
    if found is None and extra.get("event_slug"):
        found = poly_game(extra["event_slug"])
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
    leagues.update(lg for key, lg in KALSHI_SERIES_LEAGUE if ticker_start.startswith(key))
    return frozenset(leagues)


def _resolve_dates(tf: _TextFacts, ref: date | None) -> tuple[list[DateSpan], frozenset[str]]:
    """A head's date facts with the missing years taken from ``ref``, and their day keys."""
    dates: list[DateSpan] = []
    for item in tf.dates:
        if isinstance(item, DateSpan):
            dates.append(item)
        else:
            d = resolve_day(item, ref)
            if d is not None:
                dates.append(d)
    return dates, frozenset([d.end.isoformat() for d in dates if d.kind == ON])


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
    strikes: ThresholdMatches  # where the title's strikes are
    periods: tuple[PeriodMatch, ...]  # where the head's periods are
    label_periods: tuple[PeriodMatch, ...]  # ... and the YES label's
    dates: tuple[DateMatch, ...]  # where the head's date facts are
    title_dates: tuple[DateMatch, ...] | None  # ... and the title's own, when the head is not the title
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
    if st.family in _SPREADS and (m := SPREAD_LINE.search(title_shape)) is not None:
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
        strikes=threshold_matches(low_title_shape) if HAS_DIGIT.search(title_shape) else NO_STRIKES,
        dates=date_matches(fold(head_shape)) if HAS_DIGIT.search(head_shape) else (),
        title_dates=(None if title_shape == head_shape
                     else date_matches(low_title_shape) if HAS_DIGIT.search(title_shape) else ()),
        periods=period_matches(fold(head_shape)),
        label_periods=period_matches(fold(yes_shape)) if yes_shape else (),
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
    dates: tuple[DateSpan | YearlessDay, ...]  # the head's date plan (parse_dates before ref)
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
        plan, needs_ref = read_dates(sf.title_dates, numbers_text(title))
    else:
        plan, needs_ref = read_dates(sf.dates, numbers_text(head)) if sf.dates else ((), False)
    days = () if needs_ref else cast("_Dates", plan)
    periods = read_periods(sf.periods, numbers_text(head)) if sf.periods else NO_PERIODS
    if sf.label_periods:
        periods = periods | read_periods(sf.label_periods, numbers_text(yes_label))
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
        found = read_thresholds(sf.strikes, numbers_text(title)) if ranges or strikes else ()
    label = label_strikes(yes_label) if HAS_DIGIT.search(yes_label) else ()
    if not label:
        return found
    if not found:
        return label
    more = tuple(th for th in label if not label_restates(th, found))
    return found + more if more else found


@lru_cache(maxsize=1 << 12)
def _spread_threshold(number: str, sign: int) -> Threshold:
    """"Spread: Lakers (-3.5)": YES = Lakers win by more than 3.5."""
    return canonical_threshold(Threshold(Decimal(number) * sign, "", GT))


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
