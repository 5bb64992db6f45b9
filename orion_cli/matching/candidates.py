"""Candidate generation: block on shared rare keys, then score only the blocked pairs.

Comparing every Kalshi market with every Polymarket market is 10⁴ × 5·10⁴ = 5·10⁸ string comparisons;
instead the Polymarket side is put in an inverted index keyed by its features' block keys (entities,
entity@day, strikes, rare words). Keys with more than ``posting_cap`` postings say nothing
("nba", "2026") and are dropped, so a lookup touches a bounded number of postings. For each Kalshi
market the Polymarket markets sharing the most keys (``blocking_top_k``) go to the fuzzy scorer,
and the best-scoring few go on to the equivalence checks.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from orion_cli.matching.normalize import MarketFeatures

Scorer = Callable[[str, str], float]


def default_scorer(a: str, b: str) -> float:
    """Similarity 0–100 on canonical text (entity ids already unify aliases).

    The mean of the word-set ratio (subset-tolerant: extra words on one side cost little) and the
    sorted-words ratio (which does charge for them), so that "Bucks vs Lakers" prefers the moneyline
    over "Bucks vs Lakers: O/U 229.5", of which it is a word subset.
    """
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2.0


@dataclass(frozen=True, slots=True)
class BlockingStats:
    index_keys: int
    dropped_keys: int
    blocked_pairs: int  # pairs handed to the scorer (== scorer calls)
    kept_pairs: int  # pairs that scored at or above the floor and were kept


class CandidateIndex:
    """Inverted index over one venue's market features."""

    def __init__(self, features: Sequence[MarketFeatures], posting_cap: int) -> None:
        postings: defaultdict[str, list[int]] = defaultdict(list)
        for i, f in enumerate(features):
            for key in f.block_keys:
                postings[key].append(i)
        self.total_keys = len(postings)
        self.postings = {k: v for k, v in postings.items() if len(v) <= posting_cap}
        self.dropped_keys = self.total_keys - len(self.postings)
        self.sizes = [len(f.block_keys) for f in features]

    def lookup(self, f: MarketFeatures, top_k: int) -> list[int]:
        """Indices of the ``top_k`` markets with the highest key overlap (Jaccard) with ``f``.

        Jaccard rather than a raw count: the forty markets of one game (props, spreads, totals) all share
        the game's keys, and the bare moneyline, which has nothing else, must not lose the tie.
        """
        counts: Counter[int] = Counter()
        get = self.postings.get
        for key in f.block_keys:
            plist = get(key)
            if plist is not None:
                counts.update(plist)
        if len(counts) <= top_k:
            return sorted(counts)
        n, sizes = len(f.block_keys), self.sizes
        # (Jaccard, -index): the ties go to the lower index. Keys built in one comprehension, not a
        # lambda per market: a common key can put a few thousand markets in the running.
        best = heapq.nlargest(top_k, [(c / (n + sizes[i] - c), -i) for i, c in counts.items()])
        return sorted(-neg for _, neg in best)


def generate_candidates(
    left: Sequence[MarketFeatures],
    right: Sequence[MarketFeatures],
    *,
    posting_cap: int,
    top_k: int,
    min_score: float,
    per_market: int,
    window: float = 100.0,
    scorer: Scorer | None = None,
) -> tuple[list[tuple[int, int, float]], BlockingStats]:
    """(left index, right index, score) for the best blocked pairs; never all pairs."""
    score_fn = scorer or default_scorer
    index = CandidateIndex(right, posting_cap)
    out: list[tuple[int, int, float]] = []
    blocked = 0
    # The lookup depends only on a market's block keys and the scores only on its key text, so markets
    # that agree on both (the two team markets of a Kalshi game) share one result. Scorers are pure.
    seen: dict[tuple[frozenset[str], str], tuple[int, list[tuple[float, int]]]] = {}
    for i, lf in enumerate(left):
        memo_key = (lf.block_keys, lf.key_text)
        memo = seen.get(memo_key)
        if memo is None:
            memo = _best(index.lookup(lf, top_k), lf.key_text, right, score_fn, min_score, per_market, window)
            seen[memo_key] = memo
        n_hits, best = memo
        blocked += n_hits
        out.extend((i, j, s) for s, j in best)
    return out, BlockingStats(index.total_keys, index.dropped_keys, blocked, len(out))


def _best(
    hits: list[int],
    text: str,
    right: Sequence[MarketFeatures],
    score_fn: Scorer,
    min_score: float,
    per_market: int,
    window: float,
) -> tuple[int, list[tuple[float, int]]]:
    """(number of hits scored, the kept (score, index) pairs best first) for one market's hits."""
    if score_fn is default_scorer:
        scores = _default_scores(text, [right[j].key_text for j in hits])
        scored = [(s, j) for s, j in zip(scores, hits, strict=True) if s >= min_score]
    else:
        scored = []
        for j in hits:
            s = score_fn(text, right[j].key_text)
            if s >= min_score:
                scored.append((s, j))
    if not scored:
        return len(hits), []
    scored.sort(key=lambda sj: (-sj[0], sj[1]))
    floor = scored[0][0] - window
    return len(hits), [(s, j) for s, j in scored[:per_market] if s >= floor]


def _default_scores(text: str, choices: list[str]) -> list[float]:
    """:func:`default_scorer` of ``text`` against each choice, in order: rapidfuzz's batch API
    prepares ``text`` once per scorer instead of once per pair (same scores, exactly)."""
    set_ratio = [0.0] * len(choices)
    for _, s, i in process.extract(text, choices, scorer=fuzz.token_set_ratio, limit=None):
        set_ratio[i] = s
    out = [0.0] * len(choices)
    for _, s, i in process.extract(text, choices, scorer=fuzz.token_sort_ratio, limit=None):
        out[i] = (set_ratio[i] + s) / 2.0
    return out
