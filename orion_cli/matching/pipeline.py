"""The matcher's one entry point: two venues' markets in, accepted pairs and held-back candidates out.

Stages: features (:mod:`normalize`) → blocking and fuzzy scoring (:mod:`candidates`) → settlement
checks and polarity (:mod:`equivalence`) → a final ambiguity pass (one Kalshi market must not be
auto-accepted against two Polymarket markets, nor the same polarity twice against one).
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from orion_cli.core.models import Market
from orion_cli.matching.candidates import Scorer, default_scorer, generate_candidates
from orion_cli.matching.equivalence import (
    AMBIGUOUS_MATCH,
    CONFIDENCE_PLACES,
    REASON_CODES,
    MatchCandidate,
    MatchSettings,
    evaluate,
)
from orion_cli.matching.normalize import MarketFeatures, extract_features


@dataclass(frozen=True, slots=True)
class MatchStats:
    kalshi_markets: int
    polymarket_markets: int
    blocked_candidates: int  # pairs the scorer saw (never kalshi × polymarket)
    checked_candidates: int  # pairs that went through the equivalence checks
    accepted: int
    held_back: int
    index_keys: int
    dropped_keys: int
    seconds: float

    def to_record(self) -> dict[str, Any]:
        return {"type": "match_stats", **{k: getattr(self, k) for k in self.__slots__}}


@dataclass(frozen=True, slots=True)
class MatchResult:
    accepted: tuple[MatchCandidate, ...]
    held_back: tuple[MatchCandidate, ...]
    stats: MatchStats

    @property
    def candidates(self) -> tuple[MatchCandidate, ...]:
        return self.accepted + self.held_back


def _resolve_ambiguity(cands: list[MatchCandidate]) -> list[MatchCandidate]:
    """Hold back every passing candidate of a market that passes against more than one counterpart."""
    by_k: dict[str, list[int]] = defaultdict(list)
    by_p: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        if c.passed:
            by_k[c.kalshi_id].append(i)
            by_p[(c.polymarket_id, c.inverted)].append(i)
    clash = {i for group in (*by_k.values(), *by_p.values()) if len(group) > 1 for i in group}
    out = list(cands)
    for i in clash:
        c = out[i]
        reasons = tuple(r for r in REASON_CODES if r in (*c.reasons, AMBIGUOUS_MATCH))
        out[i] = replace(c, reasons=reasons, confidence=round(c.confidence * 0.5, CONFIDENCE_PLACES))
    return out


def match_markets(
    kalshi: Sequence[Market],
    poly: Sequence[Market],
    *,
    settings: MatchSettings,
    scorer: Scorer | None = None,
) -> MatchResult:
    """Match Kalshi markets to Polymarket markets; see the module docstring for the stages."""
    started = time.perf_counter()
    # Tens of thousands of small immutable objects and no reference cycles: the cyclic collector
    # would only rescan them over and over, so it is paused for the duration (and restored).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _match(kalshi, poly, settings, scorer, started)
    finally:
        if gc_was_enabled:
            gc.enable()


def _match(
    kalshi: Sequence[Market], poly: Sequence[Market], settings: MatchSettings, scorer: Scorer | None, started: float
) -> MatchResult:
    kf: list[MarketFeatures] = [extract_features(m) for m in kalshi]
    pf: list[MarketFeatures] = [extract_features(m) for m in poly]
    pairs, bstats = generate_candidates(
        kf,
        pf,
        posting_cap=settings.posting_cap,
        top_k=settings.blocking_top_k,
        min_score=settings.min_candidate_score,
        per_market=settings.max_candidates_per_market,
        window=settings.score_window,
        scorer=scorer,
    )
    cands = [evaluate(kalshi[i], poly[j], kf[i], pf[j], s, settings) for i, j, s in pairs]
    cands = _resolve_ambiguity(cands)
    accepted = tuple(
        sorted((c for c in cands if c.passed and c.confidence >= settings.auto_accept_confidence),
               key=lambda c: (-c.confidence, c.kalshi_id, c.polymarket_id))
    )
    acc_ids = {(c.kalshi_id, c.polymarket_id) for c in accepted}
    held = tuple(
        sorted((c for c in cands if (c.kalshi_id, c.polymarket_id) not in acc_ids),
               key=lambda c: (-c.confidence, c.kalshi_id, c.polymarket_id))
    )
    stats = MatchStats(
        kalshi_markets=len(kalshi),
        polymarket_markets=len(poly),
        blocked_candidates=bstats.blocked_pairs,
        checked_candidates=len(cands),
        accepted=len(accepted),
        held_back=len(held),
        index_keys=bstats.index_keys,
        dropped_keys=bstats.dropped_keys,
        seconds=round(time.perf_counter() - started, 4),
    )
    return MatchResult(accepted, held, stats)


def evaluate_pair(
    kalshi: Market, poly: Market, *, settings: MatchSettings, score: float | None = None
) -> MatchCandidate:
    """Check one given pair (a curated one, say) without blocking; the text score is computed if absent."""
    kf, pf = extract_features(kalshi), extract_features(poly)
    s = default_scorer(kf.key_text, pf.key_text) if score is None else score
    return evaluate(kalshi, poly, kf, pf, s, settings)
