"""Benchmark of the matcher: 10,000 Kalshi × 50,000 Polymarket markets, plus a naive baseline.

Run from the repo root::

    .venv/bin/python benchmarks/bench_matching.py            # full run (prints one JSON object)
    .venv/bin/python benchmarks/bench_matching.py --baseline-n 500   # quicker baseline subset
    .venv/bin/python benchmarks/bench_matching.py --skip-baseline    # the matcher only (well under a minute)

``match_wall_seconds`` / ``match_cpu_seconds`` time one cold ``match_markets`` call (its memo caches start
empty: the benchmark never runs the matcher before it). Compare wall with CPU: on a busy 2-core machine
wall time mostly measures the other processes. ``results_digest`` is :func:`results_digest` of that run;
``results_unchanged`` says whether it still equals ``EXPECTED_RESULTS_DIGEST``, i.e. whether every
candidate, reason and confidence is as it was; that digest is recomputed, with the frozen ones of
``tests/matching/test_match_results_unchanged.py``, only by a change meant to alter the results.

Figures (``--skip-baseline``, 2-core VM, load ≈1, runs taken side by side because the VM's speed drifts
by up to 2× over a day): the matcher as of b6ce930 took 3.5–4.1 s CPU; with number shapes (titles of a
ladder parsed once), shared game objects, batch scoring and memoised time checks it takes 2.2–2.3 s CPU
(≈2.2 s wall), peak RSS ≈280 MiB, the same digest. Of that, feature extraction is about half (60,000
markets, 30,000 distinct titles, 8,700 distinct shapes), scoring 118,631 blocked pairs and looking up
6,036 distinct Kalshi key sets about a fifth, the checks on 53,832 candidates about a fifth.

Generator (deterministic, ``random.Random(20260109)``), built from the title patterns of the real
fixtures in ``../shared/fixtures``:

* **NBA games** (60 % of Kalshi, 72 % of Polymarket): 3,000 games over 250 days, each day a random
  pairing of the 30 teams. Kalshi gets the two per-team markets of each game exactly as in
  ``kalshi_nba_events.json`` ("Milwaukee at Los Angeles L Winner?", ticker
  ``KXNBAGAME-26JAN09MILLAL-MIL``); Polymarket gets 12 markets per game shaped like
  ``polymarket_nba_events.json`` (moneyline "Bucks vs. Lakers" with slug ``nba-mil-lal-2026-01-09``,
  spreads "Spread: Lakers (-3.5)", totals "Bucks vs. Lakers: O/U 229.5", first-half lines and player
  props "Giannis Antetokounmpo: Points Over 30.5" with player names from the fixture).
* **Crypto strikes** (2,000 Kalshi / 8,000 Polymarket): "Will the Bitcoin price be above $X on
  <date>?" (Kalshi's WTI/BTC wording) vs "Will Bitcoin be above $Xk on <Month d>?", 5 assets, many
  strikes and days; a quarter of Kalshi strikes exist on Polymarket.
* **NYC high temperature** (1,000 / 3,000): the Kalshi ``KXHIGHNY`` wording ("Will the **high temp in
  NYC** be >85° on Jun 15, 2026?") vs Polymarket "Will the highest temperature in NYC be above 85°F
  on June 15?".
* **Outright winners** (1,000 / 3,000): "Will the Portugal win the 2026 Men's World Cup?" vs "Will
  Portugal win the 2026 FIFA World Cup?" and NBA/NHL finals, over several editions (years).

The true pairs of the generated universe are known, so its precision/recall is reported too. The
baseline is the naive approach the matcher replaces: ``difflib.SequenceMatcher`` on every pair of a
2,000 × 2,000 subset; its per-comparison cost is extrapolated to the full 10,000 × 50,000.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import hashlib
import json
import os
import random
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from matching.fixture_markets import all_markets, kalshi_market, load, poly_market  # noqa: E402

from orion_cli.core.models import Market  # noqa: E402
from orion_cli.matching import MatchSettings, match_markets  # noqa: E402
from orion_cli.matching.aliases import NBA_TEAMS  # noqa: E402

SEED = 20260109
# results_digest() of the full 10,000 × 50,000 run with the matcher as of commit c46e9b3; until then it
# was that of c86294d (before the speed-up), which the matcher's deliberate fixes since had left behind,
# so every run said results_unchanged false. tests/matching/test_match_results_unchanged.py freezes a
# smaller universe the same way.
EXPECTED_RESULTS_DIGEST = "f87fcf6e3827fa05815110633d3228da25f105c31253aca8e55dc3ef22d2e42e"
MONTH_ABBR = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()

# (code, Kalshi city name, Polymarket nickname) — Kalshi spells the two LA teams "Los Angeles L/C".
_KALSHI_CITY = {"lal": "Los Angeles L", "lac": "Los Angeles C", "gsw": "Golden State", "nyk": "New York",
                "nop": "New Orleans", "okc": "Oklahoma City", "sas": "San Antonio"}
TEAMS = [(code, _KALSHI_CITY.get(code, proper[0]), proper[-1] if code not in ("gsw", "lac", "lal", "nop", "nyk",
          "okc", "sas", "phi", "por") else {"gsw": "Warriors", "lac": "Clippers", "lal": "Lakers", "nop": "Pelicans",
          "nyk": "Knicks", "okc": "Thunder", "sas": "Spurs", "phi": "76ers", "por": "Trail Blazers"}[code])
         for code, _names, proper, _codes in NBA_TEAMS]
ASSETS = [("Bitcoin", 60_000, 1000), ("Ethereum", 2_000, 50), ("Solana", 80, 5), ("XRP", 1, 0.05),
          ("Dogecoin", 0.1, 0.01)]
COUNTRIES = ["Portugal", "France", "Netherlands", "Norway", "Switzerland", "Germany", "Croatia", "Ecuador",
             "Morocco", "Senegal", "Austria", "Mexico", "Argentina", "USA", "Sweden", "Colombia", "Uruguay",
             "England", "Japan", "Brazil", "Canada", "Spain", "Belgium", "Ghana", "Italy"]
FIFTY = "If the game is canceled entirely, with no make-up game, this market will resolve 50-50."
K_RULES = "If the game is cancelled, the market will resolve to a fair price in accordance with the rules."


def _players() -> list[str]:
    names: set[str] = set()
    for ev in load("polymarket_nba_events.json"):
        for m in ev["markets"]:
            q = m["question"]
            if ": Points Over" in q or ": Rebounds Over" in q or ": Assists Over" in q:
                names.add(q.split(":")[0])
    return sorted(names)


def generate(
    rng: random.Random, n_games: int = 3000
) -> tuple[list[Market], list[Market], set[tuple[str, str, bool]]]:
    """The universe described in the module docstring; ``n_games`` scales every category (3000: 10k × 50k)."""
    p_nba = 12 * n_games
    k_crypto, p_crypto = n_games * 2 // 3, n_games * 8 // 3
    k_temp, p_temp = n_games // 3, n_games
    k_out, p_out = n_games // 3, n_games
    n_kalshi = 2 * n_games + k_crypto + k_temp + k_out
    n_poly = p_nba + p_crypto + p_temp + p_out
    kalshi: list[Market] = []
    poly: list[Market] = []
    truth: set[tuple[str, str, bool]] = set()
    players = _players()
    cid = iter(range(10**9))

    def new_cid() -> str:
        return f"0x{next(cid):064x}"

    # --- NBA games --------------------------------------------------------------------------------
    start = date(2025, 10, 21)
    games = 0
    day_i = 0
    while games < n_games:
        day = start + timedelta(days=day_i)
        day_i += 1
        order = TEAMS[:]
        rng.shuffle(order)
        for g in range(12):
            if games >= n_games:
                break
            (ac, acity, anick), (hc, hcity, hnick) = order[2 * g], order[2 * g + 1]
            games += 1
            ev = f"KXNBAGAME-{day:%y}{MONTH_ABBR[day.month - 1]}{day:%d}{ac.upper()}{hc.upper()}"
            exp = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, hours=5)
            tip = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, hours=rng.choice([0, 1, 3]))
            for code, city in ((ac, acity), (hc, hcity)):
                kalshi.append(kalshi_market(f"{ev}-{code.upper()}", f"{acity} at {hcity} Winner?", city, rules=K_RULES,
                                            close_time=exp + timedelta(days=14), expected=exp, event_ticker=ev))
            slug = f"nba-{ac}-{hc}-{day.isoformat()}"
            ml = new_cid()
            poly.append(poly_market(ml, f"{anick} vs. {hnick}", [anick, hnick], ["1", "2"], description=FIFTY,
                                    end=tip, slug=slug, event_slug=slug, sports_type="moneyline"))
            truth.add((f"{ev}-{ac.upper()}", ml, False))
            truth.add((f"{ev}-{hc.upper()}", ml, True))
            total = rng.randint(210, 240)
            for k in range(3):
                line = rng.randint(1, 9)
                poly.append(poly_market(new_cid(), f"Spread: {hnick} (-{line}.5)", [hnick, anick], ["1", "2"],
                                        description=FIFTY, end=tip, slug=f"{slug}-spread-home-{line}pt5",
                                        event_slug=slug, sports_type="spreads"))
                poly.append(poly_market(new_cid(), f"{anick} vs. {hnick}: O/U {total + k}.5", ["Over", "Under"],
                                        ["1", "2"], description=FIFTY, end=tip, slug=f"{slug}-total-{total + k}pt5",
                                        event_slug=slug, sports_type="totals"))
            poly.append(poly_market(new_cid(), f"{anick} vs. {hnick}: 1H Moneyline", [anick, hnick], ["1", "2"],
                                    description=FIFTY, end=tip, slug=f"{slug}-1h-moneyline", event_slug=slug,
                                    sports_type="first_half_moneyline"))
            for _ in range(5):
                who = rng.choice(players)
                stat = rng.choice(["Points", "Rebounds", "Assists"])
                poly.append(poly_market(new_cid(), f"{who}: {stat} Over {rng.randint(2, 30)}.5", ["Yes", "No"],
                                        ["1", "2"], description=FIFTY, end=tip, slug=f"{slug}-{stat.lower()}",
                                        event_slug=slug, sports_type=stat.lower()))

    by_content: dict[tuple[str, date, str], str] = {}  # generated truth is by content, not by draw

    # --- crypto strikes ---------------------------------------------------------------------------
    base = date(2026, 2, 1)
    n_k = 0
    while n_k < k_crypto or len(poly) < p_nba + p_crypto:
        asset, lo, step = rng.choice(ASSETS)
        day = base + timedelta(days=rng.randrange(200))
        strike = round(lo + step * rng.randrange(200), 4)
        close = datetime(day.year, day.month, day.day, 21, tzinfo=UTC)
        money = f"{strike:,.0f}" if strike >= 100 else f"{strike:g}"
        pq = f"Will {asset} be above ${money} on {day:%B} {day.day}?"
        pid = new_cid()
        listed = len(poly) < p_nba + p_crypto
        if listed:
            poly.append(poly_market(pid, pq, ["Yes", "No"], ["1", "2"], end=close))
            by_content.setdefault((asset, day, money), pid)
        if n_k < k_crypto and (not listed or rng.random() < 0.25):
            kt = f"Will the {asset} price be above ${money} on {day:%B} {day.day}, {day.year}?"
            kalshi.append(kalshi_market(f"KXCRYPTO-{n_k}", kt, f"above ${money}", close_time=close, expected=close))
            if (asset, day, money) in by_content:  # the same strike may also have been listed earlier
                truth.add((f"KXCRYPTO-{n_k}", by_content[(asset, day, money)], False))
            n_k += 1

    # --- temperatures -----------------------------------------------------------------------------
    n_k = 0
    while n_k < k_temp or len(poly) < p_nba + p_crypto + p_temp:
        day = date(2026, 5, 1) + timedelta(days=rng.randrange(150))
        t = rng.randint(60, 100)
        close = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, hours=4, minutes=59)
        pid = new_cid()
        listed = len(poly) < p_nba + p_crypto + p_temp
        if listed:
            poly.append(poly_market(pid, f"Will the highest temperature in NYC be above {t}°F on {day:%B} {day.day}?",
                                    ["Yes", "No"], ["1", "2"], end=close))
            by_content.setdefault(("temp", day, str(t)), pid)
        if n_k < k_temp and (not listed or rng.random() < 0.34):
            kt = f"Will the **high temp in NYC** be >{t}° on {day:%b} {day.day}, {day.year}?"
            kalshi.append(kalshi_market(f"KXHIGHNY-{n_k}", kt, f"{t + 1}° or above", close_time=close, expected=close))
            if ("temp", day, str(t)) in by_content:
                truth.add((f"KXHIGHNY-{n_k}", by_content[("temp", day, str(t))], False))
            n_k += 1

    # --- outright winners -------------------------------------------------------------------------
    n_k = 0
    while len(poly) < n_poly or n_k < k_out:
        year = rng.choice([2026, 2030, 2034, 2038, 2042])
        country = rng.choice(COUNTRIES)
        close = datetime(year, 7, 20, tzinfo=UTC)
        pid = new_cid()
        if len(poly) < n_poly:
            poly.append(poly_market(pid, f"Will {country} win the {year} FIFA World Cup?", ["Yes", "No"], ["1", "2"],
                                    group_item_title=country, end=close))
        if n_k < k_out:
            kalshi.append(kalshi_market(f"KXMENWORLDCUP-{n_k}", f"Will the {country} win the {year} Men's World Cup?",
                                        country, close_time=close))
            n_k += 1
    return kalshi[:n_kalshi], poly[:n_poly], truth


def results_digest(res: Any) -> str:
    """SHA-256 over every accepted and held-back candidate (ids, polarity, exact confidence and score,
    reasons, detail) in result order, and the blocking statistics but the time."""
    h = hashlib.sha256()
    for tag, cands in (("A", res.accepted), ("H", res.held_back)):
        for c in cands:
            rec = [tag, c.kalshi_id, c.polymarket_id, c.inverted, repr(c.confidence), list(c.reasons), repr(c.score),
                   c.to_record()["detail"]]
            h.update(json.dumps(rec, sort_keys=True, default=str).encode())
            h.update(b"\n")
    stats = res.stats.to_record()
    stats.pop("seconds")
    h.update(json.dumps(stats, sort_keys=True).encode())
    return h.hexdigest()


def baseline(kalshi: list[Market], poly: list[Market], n: int) -> dict[str, Any]:
    """Naive all-pairs difflib on an n × n subset: the approach blocking replaces."""
    a = [m.title.lower() for m in kalshi[:n]]
    b = [m.title.lower() for m in poly[:n]]
    sm = difflib.SequenceMatcher(autojunk=False)
    t0 = time.perf_counter()
    best = 0.0
    for y in b:
        sm.set_seq2(y)
        for x in a:
            sm.set_seq1(x)
            r = sm.ratio()
            if r > best:
                best = r
    secs = time.perf_counter() - t0
    return {"subset": f"{n}x{n}", "comparisons": n * n, "seconds": round(secs, 3),
            "us_per_comparison": round(secs / (n * n) * 1e6, 3)}


def labelled_quality() -> dict[str, Any]:
    labels = json.loads((ROOT / "tests" / "matching" / "labelled_pairs.json").read_text())["pairs"]
    kalshi, poly = all_markets()
    res = match_markets(kalshi, poly, settings=MatchSettings())
    pos = {(p["kalshi"], p["polymarket"]): p["inverted"] for p in labels if p["equivalent"]}
    acc = {(c.kalshi_id, c.polymarket_id): c.inverted for c in res.accepted}
    tp = sum(1 for k, inv in acc.items() if pos.get(k, "?") == inv)
    return {"labelled_pairs": len(labels), "positives": len(pos), "accepted": len(acc), "true_positives": tp,
            "precision": round(tp / len(acc), 4) if acc else None, "recall": round(tp / len(pos), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-n", type=int, default=2000)
    ap.add_argument("--skip-baseline", action="store_true", help="skip the naive difflib baseline")
    args = ap.parse_args()
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    kalshi, poly, truth = generate(rng)
    gen_s = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gc.collect()
    t1, c1 = time.perf_counter(), time.process_time()
    res = match_markets(kalshi, poly, settings=MatchSettings())
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    acc = {(c.kalshi_id, c.polymarket_id, c.inverted) for c in res.accepted}
    tp = len(acc & truth)
    digest = results_digest(res)
    full_pairs = len(kalshi) * len(poly)
    base: dict[str, Any] | None = None
    naive_full_s: float | None = None
    if not args.skip_baseline:
        base = baseline(kalshi, poly, args.baseline_n)
        naive_full_s = base["us_per_comparison"] * full_pairs / 1e6
    out = {
        "type": "benchmark",
        "name": "matching",
        "kalshi_markets": len(kalshi),
        "polymarket_markets": len(poly),
        "generate_seconds": round(gen_s, 3),
        "match_wall_seconds": round(wall, 3),
        "match_cpu_seconds": round(cpu, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "results_digest": digest,
        "results_unchanged": digest == EXPECTED_RESULTS_DIGEST,
        "peak_rss_mib": round(rss_peak / 1024, 1),
        "rss_before_match_mib": round(rss_before / 1024, 1),
        "stats": res.stats.to_record(),
        "pairs_scored_fraction_of_all_pairs": round(res.stats.blocked_candidates / full_pairs, 6),
        "generated_truth": {"true_pairs": len(truth), "accepted": len(acc), "true_positives": tp,
                            "precision": round(tp / len(acc), 4) if acc else None,
                            "recall": round(tp / len(truth), 4)},
        "baseline_difflib": base,
        "baseline_extrapolated_full_seconds": None if naive_full_s is None else round(naive_full_s, 1),
        "speedup_vs_naive_extrapolated": None if naive_full_s is None else round(naive_full_s / wall, 1),
        "per_pair_speedup": None if base is None else round(base["us_per_comparison"] / (wall * 1e6 / full_pairs), 1),
        "labelled_set": labelled_quality(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
