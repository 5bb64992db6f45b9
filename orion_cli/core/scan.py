"""The scan service: markets and books in, priced opportunities out.

One pass: match the venues' markets (settlement equivalence, polarity), keep only tradable pairs
(curated, or auto-accepted at the configured confidence), price every tradable pair in both
directions against real depth and exact fees, add within-venue arbitrage, then filter and rank by
net profit. Matching and pricing live in their own modules; this module only orchestrates and never
prints or touches the database (the caller stores the result).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from orion_cli.core.categories import category_filter, no_category_note
from orion_cli.core.config import Settings
from orion_cli.core.errors import OrionError
from orion_cli.core.models import Market, OrderBook, Venue
from orion_cli.core.opportunity import Opportunity, opportunity_id
from orion_cli.core.pricing import price_neg_risk_event, price_pair, price_within_venue
from orion_cli.matching.equivalence import MARKET_NOT_OPEN, MatchCandidate, MatchSettings
from orion_cli.matching.pairs import (
    NOT_MATCHED,
    POLARITY_CONFLICT,
    CuratedPair,
    TradablePair,
    curated_twice,
    hold_back_for_curated,
    settlement_doubts,
    tradable_pairs,
)
from orion_cli.matching.pipeline import MatchStats, evaluate_pair, match_markets
from orion_cli.venues.base import ItemError, MarketData


@dataclass(frozen=True, slots=True)
class ScanOptions:
    min_edge: Decimal
    min_profit: Decimal
    max_results: int
    venues: tuple[Venue, ...] = (Venue.KALSHI, Venue.POLYMARKET)
    category: str | None = None
    within_venue: bool = True
    now: datetime | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ScanOptions:
        base: dict[str, Any] = {
            "min_edge": settings.trading.min_edge,
            "min_profit": settings.trading.min_profit,
            "max_results": settings.trading.max_results,
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


@dataclass(frozen=True, slots=True)
class ScanResult:
    opportunities: list[Opportunity]
    tradable: list[TradablePair]
    held_back: list[MatchCandidate]
    match_stats: MatchStats | None
    degraded: dict[Venue, str]
    errors: list[ItemError]
    source: str
    priced_pairs: int
    unprofitable: int = 0
    notes: list[str] = field(default_factory=list)
    # For each held-back candidate with both books: its best net edge *if it were curated* (None = no
    # size makes money after fees). Informational only — a held-back candidate is never traded.
    if_curated: dict[tuple[str, str], Decimal | None] = field(default_factory=dict)
    # Curated pairs a market of which the data does not list at all (a mistyped id, a settled market,
    # a snapshot of other markets): not priced, and not among ``tradable``.
    curated_missing: list[TradablePair] = field(default_factory=list)
    # Curated pairs (in the scanned category) a market of which is not open at the scan's time — past its
    # close time, or no longer open — by the rule a trade's INVALID_ORDER applies: not priced, not
    # among ``tradable``, reasons ending in MARKET_NOT_OPEN.
    curated_closed: list[TradablePair] = field(default_factory=list)


def match_settings(settings: Settings) -> MatchSettings:
    return MatchSettings(
        auto_accept_confidence=float(settings.matching.auto_accept_confidence),
        close_time_tolerance=timedelta(hours=float(settings.matching.close_time_tolerance_hours)),
        resolution_time_tolerance=timedelta(hours=float(settings.matching.resolution_time_tolerance_hours)),
    )


def _index(markets: Sequence[Market]) -> dict[str, Market]:
    """Polymarket markets are found by condition id or by YES/NO token id."""
    out: dict[str, Market] = {}
    for m in markets:
        out[m.id] = m
        if m.yes_token:
            out.setdefault(m.yes_token, m)
        if m.no_token:
            out.setdefault(m.no_token, m)
    return out


def polymarket_market_of(markets: Sequence[Market]) -> dict[str, str]:
    """Each id a curated pair may name a Polymarket market by (its condition id or YES token id) → the
    market's condition id, for :func:`hold_back_for_curated`. A NO token names no way round (such a pair
    is not priced), so it claims none."""
    return {ref: m.id for ref, m in _index(markets).items() if ref != m.no_token}


def scan(data: MarketData, curated: Sequence[CuratedPair], settings: Settings, options: ScanOptions) -> ScanResult:
    """Match, price and rank. Pure: same data in, same opportunities out (given ``options.now``)."""
    now = options.now or datetime.now(UTC)
    # Whether a market is open, and its time to close, at the data's own time: a recording's, replayed.
    market_now = data.market_clock(now)
    ttl = settings.trading.opportunity_ttl_seconds
    # Resolved once over both venues' names: a part of one venue's name selects its category on both.
    in_category = category_filter(options.category, {m.category for m in data.markets})
    kalshi = [m for m in data.markets if m.venue is Venue.KALSHI and in_category(m.category)]
    poly = [m for m in data.markets if m.venue is Venue.POLYMARKET and in_category(m.category)]
    both = Venue.KALSHI in options.venues and Venue.POLYMARKET in options.venues

    opportunities: list[Opportunity] = []
    notes: list[str] = []
    if not kalshi and not poly and options.category:
        # Else "0 opportunities" reads as "no arbitrage" where the filter (a typo) left nothing to match.
        missed = no_category_note(options.category, (m.category for m in data.markets), data.source,
                                  "nothing was matched or priced")
        if missed:
            notes.append(missed)
    tradable: list[TradablePair] = []
    held_back: list[MatchCandidate] = []
    stats: MatchStats | None = None
    missing: list[TradablePair] = []
    closed: list[TradablePair] = []
    priced = 0
    if both and kalshi and poly:
        matching = match_settings(settings)
        result = match_markets(kalshi, poly, settings=matching)
        stats = result.stats
        # Looked up among every market the data lists, not only the scanned category's: a curated pair
        # outside --category is filtered, not missing.
        listed_k = {m.id for m in data.markets if m.venue is Venue.KALSHI}
        listed_p = _index([m for m in data.markets if m.venue is Venue.POLYMARKET])
        market_of = polymarket_market_of([m for m in data.markets if m.venue is Venue.POLYMARKET])
        # Curated wins: a candidate for a market a curated pair already pairs the same way round is held
        # back (CURATED_ELSEWHERE), shown with the other held-back candidates, never priced.
        candidates = hold_back_for_curated(curated, result.candidates, market_of)
        k_index = {m.id: m for m in kalshi}
        p_index = _index(poly)
        # A market no order can go to at ``market_now`` (past its close time, or no longer open: the rule
        # a trade's INVALID_ORDER applies) is never priced: its candidates are held back, never
        # auto-accepted, and `orion trade` would only refuse them, every round of a watch.
        candidates = hold_back_not_open(candidates, k_index, p_index, market_now)
        tradable = tradable_pairs(curated, candidates, float(settings.matching.auto_accept_confidence), market_of)
        missing = [t for t in tradable
                   if t.source == "curated" and (t.kalshi_id not in listed_k or t.polymarket_id not in listed_p)]
        if missing:
            gone = {id(t) for t in missing}
            tradable = [t for t in tradable if id(t) not in gone]
            notes.append(_missing_note(missing, listed_k, listed_p, data.source))
        # A curated pair outside --category is filtered, not missing: not priced, not counted, not named.
        tradable = [t for t in tradable if t.source != "curated"
                    or (t.kalshi_id in k_index and t.polymarket_id in p_index)]
        tradable = [_checked(t, k_index, p_index, matching) for t in tradable]
        for t in tradable:
            if t.source == "curated":
                shut = [f"{m.venue.value} {problem.removeprefix(f'market {m.id} ')}"
                        for m in (k_index[t.kalshi_id], p_index[t.polymarket_id])
                        if (problem := m.not_open_at(market_now)) is not None]
                if shut:
                    reasons = t.reasons if MARKET_NOT_OPEN in t.reasons else (*t.reasons, MARKET_NOT_OPEN)
                    closed.append(replace(t, reasons=reasons, detail={**t.detail, "not_open": shut}))
        if closed:
            shut_k = {t.kalshi_id for t in closed}
            tradable = [t for t in tradable if t.source != "curated" or t.kalshi_id not in shut_k]
            notes.append(_closed_note(closed, data.source))
        # Two curated pairs on one Polymarket market the same way round (one by condition id, one by YES
        # token: the file cannot tell): which Kalshi market settles like it is the operator's to say, and
        # pricing both would buy against the one book twice. Neither is priced. (One already missing from
        # the data, or closed, is not priced anyway, and named above.)
        gone_k = {t.kalshi_id for t in (*missing, *closed)}
        for group in curated_twice([p for p in curated if p.kalshi not in gone_k], market_of):
            twice = {p.kalshi for p in group}
            tradable = [t for t in tradable if t.source != "curated" or t.kalshi_id not in twice]
            notes.append(_twice_note(group, market_of))
        tradable_keys = {(t.kalshi_id, t.polymarket_id) for t in tradable}
        accepted = {(c.kalshi_id, c.polymarket_id) for c in result.accepted}
        held_back = sorted((c for c in candidates if (c.kalshi_id, c.polymarket_id) not in tradable_keys
                            and ((c.kalshi_id, c.polymarket_id) not in accepted or c.reasons)),
                           key=lambda c: (-c.confidence, c.kalshi_id, c.polymarket_id))
        for pair in tradable:
            km = k_index.get(pair.kalshi_id)
            pm = p_index.get(pair.polymarket_id)
            if km is None or pm is None:
                continue
            kb, pb = data.book_for(km), data.book_for(pm)
            if kb is None or pb is None:
                continue
            if pm.no_token and pair.polymarket_id == pm.no_token:
                # Not priced at all: read as "Kalshi YES settles like this NO token" it is an inverted
                # pair, read as "this market" (an id copied from the wrong column) a direct one, and
                # pricing it the wrong way round buys one outcome twice as a "hedge". The pairs file
                # names the condition id or the YES token; --inverted says the polarity.
                notes.append(f"curated pair {pair.kalshi_id} names Polymarket's NO token {pair.polymarket_id[:12]}…: "
                             f"not priced; curate the condition id {pm.id} instead (with --inverted if Kalshi YES "
                             "settles like Polymarket NO)")
                continue
            if POLARITY_CONFLICT in pair.reasons:
                # Priced as curated (the operator decides), but said every scan: with the polarity
                # wrong, the "hedge" buys one outcome twice and loses both legs on the other.
                yours, its = ("inverted", "direct") if pair.inverted else ("direct", "inverted")
                notes.append(f"curated pair {pair.kalshi_id} ~ {pair.polymarket_id[:12]}… is {yours}, but the "
                             f"matcher reads it as {its}: if the curated polarity is wrong, its opportunities buy "
                             "one outcome twice; check both markets' rules (`orion pairs remove`, then `add`, "
                             "to change it)")
            doubts = settlement_doubts(pair.reasons) if pair.source == "curated" else ()
            if doubts:
                # Priced as curated (the operator decides), but said every scan: a pair the matcher
                # holds back as a different bet (a sibling market's ticker, another deadline) is no
                # hedge, and nothing else would say so.
                whys = [w for w in pair.detail.get("why", ())
                        if isinstance(w, str) and w.startswith(tuple(f"{d}:" for d in doubts))]
                holds = ("the matcher never paired the two, and checked as a pair holds it back"
                         if NOT_MATCHED in pair.reasons else "the matcher holds it back")
                notes.append(f"curated pair {pair.kalshi_id} ~ {pair.polymarket_id[:12]}… is priced as curated, "
                             f"but {holds} ({'; '.join(whys) or ', '.join(doubts)})"
                             ": if the two markets do not settle alike, its opportunities are no hedge and can "
                             f"lose both legs; check both markets' rules (`orion pairs remove {pair.kalshi_id}` "
                             "if the pair is a slip)")
            priced += 1
            opportunities.extend(
                price_pair(km, kb, pm, pb, inverted=pair.inverted, now=now, min_edge=options.min_edge,
                           quote_ttl_seconds=ttl, market_now=market_now)
            )
        if_curated = _price_held_back(data, held_back, k_index, p_index, now, ttl, market_now)
    else:
        if_curated = {}
    if options.within_venue:
        opportunities.extend(_within_venue(data, [*kalshi, *poly], options, now, ttl, market_now))

    # Named for the data they were priced on too (opportunity_id): another source's scan keeps its own ids.
    opportunities = [replace(o, id=opportunity_id(o.kind, tuple((leg.venue.value, leg.market_id, leg.side.value)
                                                                 for leg in o.legs), now, source=data.source))
                     for o in opportunities]
    qualifying = [o for o in opportunities if o.net_profit > 0 and o.net_profit >= options.min_profit
                  and o.net_edge >= options.min_edge]
    qualifying.sort(key=lambda o: (-o.net_profit, o.id))
    return ScanResult(
        opportunities=qualifying[: options.max_results],
        tradable=tradable,
        held_back=held_back,
        match_stats=stats,
        degraded=dict(data.degraded),
        errors=list(data.errors),
        source=data.source,
        priced_pairs=priced,
        unprofitable=len(opportunities) - len(qualifying),
        notes=notes,
        if_curated=if_curated,
        curated_missing=missing,
        curated_closed=closed,
    )


def _checked(pair: TradablePair, k_index: dict[str, Market], p_index: dict[str, Market],
             matching: MatchSettings) -> TradablePair:
    """A curated pair the matcher never paired (``NOT_MATCHED``: blocking never put the two markets side
    by side) with the verdict of every check on the two markets, so its warning names what differs as
    for any other curated pair; any other pair as it is. A pair naming a NO token is not priced at all.

    Its polarity is not judged: two markets the matcher would not pair on their texts are "direct" by
    default, not by reading (no subject, strike or label to read it from), and saying "the matcher reads
    it as direct" of them would be the misleading hint ``POLARITY_CONFLICT`` must never be."""
    if pair.source != "curated" or NOT_MATCHED not in pair.reasons:
        return pair
    km, pm = k_index.get(pair.kalshi_id), p_index.get(pair.polymarket_id)
    if km is None or pm is None or (pm.no_token and pair.polymarket_id == pm.no_token):
        return pair
    c = evaluate_pair(km, pm, settings=matching)
    return replace(pair, confidence=c.confidence, reasons=(NOT_MATCHED, *c.reasons), detail=c.detail)


def hold_back_not_open(candidates: Sequence[MatchCandidate], k_index: dict[str, Market], p_index: dict[str, Market],
                       now: datetime) -> list[MatchCandidate]:
    """``candidates``, each one a market of which is not open at ``now`` (:meth:`Market.not_open_at`: past
    its close time, or no longer open) held back as ``MARKET_NOT_OPEN``, the leg's INVALID_ORDER text
    among its ``why``. ``k_index``/``p_index``: the markets by id (Polymarket's by condition id)."""
    out: list[MatchCandidate] = []
    for c in candidates:
        km, pm = k_index.get(c.kalshi_id), p_index.get(c.polymarket_id)
        shut = [problem for m in (km, pm) if m is not None and (problem := m.not_open_at(now)) is not None]
        if shut:
            reasons = c.reasons if MARKET_NOT_OPEN in c.reasons else (*c.reasons, MARKET_NOT_OPEN)
            why = [*c.detail.get("why", ()), *(f"{MARKET_NOT_OPEN}: {s}" for s in shut)]
            c = replace(c, reasons=reasons, detail={**c.detail, "why": why})
        out.append(c)
    return out


def _closed_note(closed: Sequence[TradablePair], source: str) -> str:
    """One warning line naming the curated pairs a market of which no order can go to (without the scan's
    time: a watch says it once, not every round)."""
    named = []
    for t in closed[:_MISSING_SHOWN]:
        poly = t.polymarket_id if len(t.polymarket_id) <= 14 else t.polymarket_id[:12] + "…"
        named.append(f"{t.kalshi_id} ~ {poly} ({'; '.join(str(s) for s in t.detail.get('not_open', ()))})")
    more = f", and {len(closed) - _MISSING_SHOWN} more" if len(closed) > _MISSING_SHOWN else ""
    return (f"{len(closed)} curated pair(s) in {source} past a market's close time or not open (not priced, not "
            f"counted as tradable; `orion trade` refuses them): {', '.join(named)}{more}; "
            "`orion pairs remove KALSHI` once it has settled")


_MISSING_SHOWN = 10


def _missing_note(missing: Sequence[TradablePair], listed_k: set[str], listed_p: dict[str, Market],
                  source: str) -> str:
    """One warning line naming the curated pairs the data has no market for, and which side is missing."""
    named = []
    for t in missing[:_MISSING_SHOWN]:
        k, p = t.kalshi_id in listed_k, t.polymarket_id in listed_p
        side = "no Kalshi market" if p else "no Polymarket market" if k else "neither market"
        poly = t.polymarket_id if len(t.polymarket_id) <= 14 else t.polymarket_id[:12] + "…"
        named.append(f"{t.kalshi_id} ~ {poly} ({side})")
    more = f", and {len(missing) - _MISSING_SHOWN} more" if len(missing) > _MISSING_SHOWN else ""
    return (f"{len(missing)} curated pair(s) not found in {source} (not priced, not counted as tradable): "
            f"{', '.join(named)}{more}; a settled market or a mistyped id? (`orion pairs list`, `orion markets`)")


def _twice_note(group: Sequence[CuratedPair], market_of: dict[str, str]) -> str:
    market = market_of.get(group[0].polymarket, group[0].polymarket)
    how = "inverted" if group[0].inverted else "direct"
    named = [f"{p.kalshi} (by {'condition id' if p.polymarket == market else 'YES token ' + p.polymarket[:12] + '…'})"
             for p in group]
    return (f"curated pairs {', '.join(named[:-1])} and {named[-1]} pair the same Polymarket market {market} "
            f"{how}: a Polymarket market pairs with one Kalshi market each way, so none of them is priced; keep "
            "one (`orion pairs remove KALSHI`)")


_TIMING_OR_SCORE = frozenset({"CLOSE_TIME_GAP", "RESOLUTION_TIME_GAP", "LOW_SCORE"})


def _price_held_back(data: MarketData, held_back: Sequence[MatchCandidate], k_index: dict[str, Market],
                     p_index: dict[str, Market], now: datetime, ttl: int,
                     market_now: datetime) -> dict[tuple[str, str], Decimal | None]:
    """Best net edge per contract a held-back candidate would have if an operator curated it.

    Only for candidates held back on timing or score alone (same entity, proposition, strike and
    window): pricing a pair that is a *different bet* would show the spread between two unrelated
    outcomes as an "edge" and invite a fatal curation.
    """
    out: dict[tuple[str, str], Decimal | None] = {}
    for c in held_back:
        if not c.reasons or not set(c.reasons) <= _TIMING_OR_SCORE:
            continue
        km, pm = k_index.get(c.kalshi_id), p_index.get(c.polymarket_id)
        if km is None or pm is None:
            continue
        kb, pb = data.book_for(km), data.book_for(pm)
        if kb is None or pb is None:
            continue
        try:
            ops = price_pair(km, kb, pm, pb, inverted=c.inverted, now=now, quote_ttl_seconds=ttl,
                             market_now=market_now)
        except OrionError:
            continue
        out[(c.kalshi_id, c.polymarket_id)] = max((o.net_edge for o in ops), default=None)
    return out


def _within_venue(data: MarketData, markets: Sequence[Market], options: ScanOptions, now: datetime,
                  ttl: int, market_now: datetime) -> list[Opportunity]:
    out: list[Opportunity] = []
    events: dict[tuple[Venue, str], list[Market]] = defaultdict(list)
    for m in markets:
        if m.venue not in options.venues:
            continue
        # Past its close time (or not open): a trade would refuse it (INVALID_ORDER). Its event's basket,
        # short of this outcome, is incomplete and not priced either.
        if m.not_open_at(market_now) is not None:
            continue
        book = data.book_for(m)
        if book is not None:
            out.extend(price_within_venue(m, book, now=now, min_edge=options.min_edge, quote_ttl_seconds=ttl,
                                          market_now=market_now))
        if m.neg_risk and m.event_id:
            events[(m.venue, m.event_id)].append(m)
    # Completeness must come from the venue's own event listing (the parser records how many outcome
    # markets the event has). Counting the markets we happened to fetch would turn a partial basket
    # into a fake arbitrage, so an event without that figure is never priced as a basket.
    listed: dict[tuple[Venue, str], int] = {}
    for key, members in events.items():
        counts = {m.extra.get("event_market_count", "") for m in members}
        if len(counts) == 1 and (only := counts.pop()).isdigit():
            listed[key] = int(only)
    for key, members in events.items():
        if key not in listed:
            continue
        books: dict[str, OrderBook] = {}
        for m in members:
            b = data.book_for(m)
            if b is not None:
                books[m.id] = b
        out.extend(
            price_neg_risk_event(members, books, event_market_count=listed[key], now=now, min_edge=options.min_edge,
                                 quote_ttl_seconds=ttl, market_now=market_now)
        )
    return out
