"""Blocking: the scorer only ever sees blocked pairs, never the cross product."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from orion_cli.core.models import Market
from orion_cli.matching import MatchSettings, match_markets
from orion_cli.matching.candidates import default_scorer

from .fixture_markets import kalshi_market, poly_market

NAMES = ["Alice Mora", "Bram Okafor", "Chen Wei", "Dora Lind", "Elif Sahin", "Femi Adeyemi", "Gus Haro",
         "Hana Ito", "Ivo Petrov", "Jada Cole", "Kai Berg", "Lena Roth"]
ASSETS = ["Bitcoin", "Ethereum", "Solana", "XRP", "Dogecoin"]


def universe(n_k: int, n_p: int, seed: int = 7) -> tuple[list[Market], list[Market], set[tuple[str, str]]]:
    rng = random.Random(seed)
    kalshi: list[Market] = []
    poly: list[Market] = []
    truth: set[tuple[str, str]] = set()
    base = datetime(2026, 3, 1, tzinfo=UTC)
    for i in range(n_p):
        asset = ASSETS[i % len(ASSETS)]
        strike = 1000 * (i % 97 + 1)
        day = base + timedelta(days=i // 485)
        when = day.strftime("%B %-d, %Y")
        q = f"Will {asset} be above ${strike:,} on {when}?"
        poly.append(poly_market(f"0x{i:064x}", q, ["Yes", "No"], [str(2 * i), str(2 * i + 1)], end=day))
        if len(kalshi) < n_k and rng.random() < n_k / n_p:
            t = f"{asset} price above ${strike:,} on {day.strftime('%b %-d, %Y')}?"
            kalshi.append(kalshi_market(f"KXT-{i}", t, "", close_time=day))
            truth.add((f"KXT-{i}", f"0x{i:064x}"))
    for j in range(n_k - len(kalshi)):  # people markets with no counterpart
        name = NAMES[j % len(NAMES)]
        kalshi.append(kalshi_market(f"KXP-{j}", f"Will {name} be on the podcast before {2027 + j % 3}?", name,
                                    close_time=base))
    return kalshi, poly, truth


def test_scorer_calls_are_bounded_not_cross_product() -> None:
    kalshi, poly, truth = universe(300, 3000)
    calls = 0

    def counting(a: str, b: str) -> float:
        nonlocal calls
        calls += 1
        return default_scorer(a, b)

    settings = MatchSettings()
    res = match_markets(kalshi, poly, settings=settings, scorer=counting)
    assert calls == res.stats.blocked_candidates
    assert calls <= settings.blocking_top_k * len(kalshi)
    assert calls < len(kalshi) * len(poly) / 20  # orders of magnitude below all-pairs (900,000)
    found = {(c.kalshi_id, c.polymarket_id) for c in res.accepted}
    assert found == truth  # blocking did not lose the true pairs, and nothing else was accepted


def test_posting_cap_drops_uninformative_keys() -> None:
    kalshi, poly, _ = universe(50, 600)
    res = match_markets(kalshi, poly, settings=MatchSettings(posting_cap=50))
    assert res.stats.dropped_keys > 0
    res_all = match_markets(kalshi, poly, settings=MatchSettings(posting_cap=10_000))
    assert res_all.stats.dropped_keys == 0
    assert res_all.stats.blocked_candidates >= res.stats.blocked_candidates
