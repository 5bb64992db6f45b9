"""The matcher's results are frozen: performance work must not move a single candidate.

The digests below were computed with the matcher as it was before its speed-up (commit c86294d), on
two universes: a fixed-seed slice of the benchmark's generated universe (``benchmarks/bench_matching.py``
with 300 games: 1,000 Kalshi × 5,000 Polymarket markets, the same title patterns as the full
10,000 × 50,000 run) and the labelled set of the real fixtures. Each digest covers every accepted and
held-back candidate in order, with its ids, polarity, exact confidence and score, reason codes and
detail record, plus the blocking statistics (``results_digest`` in the benchmark). A change that is
meant to alter results must say so and recompute them; one that is only meant to be faster must not.

Recomputed once, for name extensions (a surname alias after another first name is another person):
"Norman Powell" (an NBA player in the fixtures' props) had read as ``person:powell`` (Jerome Powell)
and now reads as ``person:powell_norman``. No candidate changed (same pairs, reasons, confidences and
details); only the blocking statistic ``index_keys`` lost one key (2,248 → 2,247 generated, 735 → 734
labelled), since the stray "norman" word key and the Powell keys became one entity's keys.

Recomputed again when a confidence came to be kept at the 4 places it is shown (and the threshold held
against that value): every candidate is the same pair, accepted or held back as before, with the same
reasons, score and detail; each confidence moved by at most 0.0001 (the old one at 6 places against the
new at 4, halved ones rounded twice), and held-back candidates of equal new confidence may swap places.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import pytest

from orion_cli.matching import MatchSettings, match_markets

from .fixture_markets import all_markets

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_matching.py"

GENERATED_DIGEST = "f116671339eb446554516eb93bd340b9dc4b73374ac986a4631bb56b209d008d"
GENERATED_COUNTS = (827, 5173)
LABELLED_DIGEST = "cc8e83453df195fd0c92841b514284160d78f3a96d6a6f821438d25657c5897b"
LABELLED_COUNTS = (60, 485)


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_orion_bench_matching", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The benchmark script: its universe generator and results_digest()."""
    return _load_bench()


def test_generated_universe_results_unchanged(bench: ModuleType) -> None:
    kalshi, poly, _truth = bench.generate(random.Random(bench.SEED), n_games=300)
    assert (len(kalshi), len(poly)) == (1000, 5000)
    for _ in range(2):  # the second run sees whatever the first left in any cache
        res = match_markets(kalshi, poly, settings=MatchSettings())
        assert (len(res.accepted), len(res.held_back)) == GENERATED_COUNTS
        assert bench.results_digest(res) == GENERATED_DIGEST


def test_labelled_set_results_unchanged(bench: ModuleType) -> None:
    kalshi, poly = all_markets()
    for _ in range(2):
        res = match_markets(kalshi, poly, settings=MatchSettings())
        assert (len(res.accepted), len(res.held_back)) == LABELLED_COUNTS
        assert bench.results_digest(res) == LABELLED_DIGEST
