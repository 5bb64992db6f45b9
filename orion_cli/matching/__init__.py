"""Cross-venue market matching: normalisation, blocking, settlement-equivalence checks, curated pairs.

Public entry points: :func:`match_markets` (pipeline), :func:`evaluate_pair` (one given pair),
:class:`MatchSettings`, :class:`MatchCandidate`, :class:`MatchResult`, and the pairs-file functions
in :mod:`orion_cli.matching.pairs`.
"""

from __future__ import annotations

from orion_cli.matching.equivalence import REASON_CODES, MatchCandidate, MatchSettings
from orion_cli.matching.pairs import (
    CuratedPair,
    TradablePair,
    add_pair,
    list_pairs,
    load_pairs,
    remove_pair,
    save_pairs,
    tradable_pairs,
)
from orion_cli.matching.pipeline import MatchResult, MatchStats, evaluate_pair, match_markets

__all__ = [
    "REASON_CODES",
    "CuratedPair",
    "MatchCandidate",
    "MatchResult",
    "MatchSettings",
    "MatchStats",
    "TradablePair",
    "add_pair",
    "evaluate_pair",
    "list_pairs",
    "load_pairs",
    "match_markets",
    "remove_pair",
    "save_pairs",
    "tradable_pairs",
]
