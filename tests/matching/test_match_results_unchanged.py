"""The matcher's results are frozen: performance work must not move a single candidate.

The digests below were computed with the matcher as it was before its speed-up (commit c86294d), on
two universes: a fixed-seed slice of the benchmark's generated universe (``benchmarks/bench_matching.py``
with 300 games: 1,000 Kalshi × 5,000 Polymarket markets, the same title patterns as the full
10,000 × 50,000 run) and the labelled set of the real fixtures. Each digest covers every accepted and
held-back candidate in order, with its ids, polarity, exact confidence and score, reason codes and
detail record, plus the blocking statistics (``results_digest`` in the benchmark). A change that is
meant to alter results must say so and recompute them; one that is only meant to be faster must not.
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

GENERATED_DIGEST = "d73476e8536dbb953b6b4b795ab4264e9af3371ad67f4332264e8e63fc633950"
GENERATED_COUNTS = (827, 5173)
LABELLED_DIGEST = "f298e712f6f698708affc4f68e3b775fa539061e3c70c32f682cff387ae8af55"
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
