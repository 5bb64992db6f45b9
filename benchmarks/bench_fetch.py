"""Full-universe Kalshi fetch, as ``orion scan`` runs it live, against the loopback simulator: speed
vs the theoretical floor, memory.

Usage: .venv/bin/python benchmarks/bench_fetch.py [--markets 5000] [--rate 200] [--capacity 200]
       [--latency 0.02] [--concurrency 8] [--memory-markets 50000]

What is timed is the production path: :meth:`LiveSource.fetch` for Kalshi (``LiveSource._capture_kalshi``,
the raw capture: market pages, batch books started as each page arrives, ``/series`` and the ``/events``
walk beside them, each page and batch parsed as it arrives by ``snapshot.KalshiParser``; then
``snapshot.parse_capture`` finishing it, one bad item at a time), configured as a user would
(``kalshi.read_tokens_per_second = --rate``, ``kalshi.max_concurrency = --concurrency``, the default
retry policy, unsigned as ``orion scan`` reads). The simulator runs in a separate process (so its CPU
and memory are not the client's) and enforces the venue's token bucket (``--rate`` tokens/s,
``--capacity`` tokens, 10 tokens per request) with a 429 like Kalshi's. Prints one JSON object:
- ``wall_s``: time for ``LiveSource.fetch([kalshi])``: ``capture_s`` fetching (markets and books are
  parsed as they arrive, while the rate limit holds the next requests back), then ``parse_s`` finishing
  the parse after the last answer (pricing the markets by their series and events, in ``parse_capture``)
- ``requests``: what the fetch sent (client attempts, retries included), by path in ``requests_by_path``
- ``floor_s`` = max(requests × cost ÷ rate, requests × latency ÷ concurrency)
- ``ratio`` = wall ÷ floor (target ≤ 1.25) and ``http_429`` (target 0)
- ``floor_burst_s``/``ratio_burst``: the same with the venue bucket's initial ``--capacity`` tokens
  spent at once, (requests × cost − capacity) ÷ rate: a floor no client can beat (``floor_s`` can be)
- ``peak_mib`` / ``retained_mib``: tracemalloc peak while fetching and holding ``--memory-markets``
  markets with their books (no rate limit, no latency), and what the result alone retains.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import orion_cli.venues.live as live  # noqa: E402
from orion_cli.core.config import load_settings  # noqa: E402
from orion_cli.core.models import Venue  # noqa: E402
from orion_cli.venues.base import MarketData  # noqa: E402
from orion_cli.venues.kalshi.client import KalshiClient  # noqa: E402
from orion_cli.venues.live import LiveSource  # noqa: E402

COST = 10.0
API_PREFIX = "/trade-api/v2"


def _serve(conn: Any, markets: int, rate: float | None, capacity: float, latency: float) -> None:
    from sim.kalshi_sim import KalshiSim

    sim = KalshiSim(KalshiSim.universe(markets, seed=7))
    sim.server.latency = latency
    if rate:
        sim.server.rate_limit = (capacity, rate)
    sim.start()
    conn.send(sim.server.base_url + API_PREFIX)
    conn.recv()  # wait for "stop"
    paths = Counter(r.path.removeprefix(API_PREFIX) for r in sim.requests)
    conn.send({"rate_limited": sim.server.rate_limited, "requests": len(sim.requests), "paths": dict(paths)})
    sim.stop()


class SimProcess:
    def __init__(self, markets: int, rate: float | None, capacity: float, latency: float) -> None:
        self.parent, child = mp.Pipe()
        self.proc = mp.Process(target=_serve, args=(child, markets, rate, capacity, latency), daemon=True)
        self.proc.start()
        self.url: str = self.parent.recv()

    def stop(self) -> dict[str, Any]:
        self.parent.send("stop")
        stats: dict[str, Any] = self.parent.recv()
        self.proc.join(10)
        return stats


class CountingSource(LiveSource):
    """The production source, keeping the Kalshi client it makes so its request counters can be read."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.clients: list[KalshiClient] = []

    def kalshi_client(self) -> KalshiClient:
        client = super().kalshi_client()
        self.clients.append(client)
        return client


def _source(url: str, rate: int, concurrency: int) -> CountingSource:
    settings = load_settings(overrides={
        "kalshi.environment": "prod",
        "kalshi.prod_base_url": url,
        "kalshi.read_tokens_per_second": rate,
        "kalshi.max_concurrency": concurrency,
    })
    return CountingSource(settings)


def _fetch(source: CountingSource) -> tuple[MarketData, float]:
    """``source.fetch([kalshi])`` as ``orion scan`` calls it, and the seconds spent parsing the capture."""
    parsing = [0.0]
    parse_capture = live.parse_capture

    def timed(*args: Any, **kw: Any) -> MarketData:
        start = time.perf_counter()
        try:
            return parse_capture(*args, **kw)
        finally:
            parsing[0] += time.perf_counter() - start

    live.parse_capture = timed  # type: ignore[assignment]
    try:
        data = asyncio.run(source.fetch([Venue.KALSHI]))
    finally:
        live.parse_capture = parse_capture  # type: ignore[assignment]
    return data, parsing[0]


def speed(args: argparse.Namespace) -> dict[str, Any]:
    sim = SimProcess(args.markets, args.rate, args.capacity, args.latency)
    try:
        source = _source(sim.url, int(args.rate), args.concurrency)
        start = time.perf_counter()
        data, parse_s = _fetch(source)
        wall = time.perf_counter() - start
    finally:
        stats = sim.stop()
    (client,) = source.clients
    requests = client.http.attempts
    floor = max(requests * COST / args.rate, requests * args.latency / args.concurrency)
    floor_burst = max((requests * COST - args.capacity) / args.rate, requests * args.latency / args.concurrency)
    return {
        "markets": len(data.markets),
        "books": len(data.books),
        "item_errors": len(data.errors),
        "incomplete": bool(data.incomplete),
        "requests": requests,
        "requests_by_path": stats["paths"],
        "sim_requests": stats["requests"],
        "rate_tokens_per_s": args.rate,
        "bucket_capacity": args.capacity,
        "cost_per_request": COST,
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "wall_s": round(wall, 3),
        "capture_s": round(wall - parse_s, 3),
        "parse_s": round(parse_s, 3),
        "floor_s": round(floor, 3),
        "ratio": round(wall / floor, 3) if floor else None,
        "floor_burst_s": round(floor_burst, 3),
        "ratio_burst": round(wall / floor_burst, 3) if floor_burst > 0 else None,
        "ratio_target": 1.25,
        "http_429": client.http.status_counts.get(429, 0),
        "sim_rate_limited": stats["rate_limited"],
        "retries": client.http.retries,
    }


def memory(args: argparse.Namespace) -> dict[str, Any]:
    sim = SimProcess(args.memory_markets, None, 0, 0.0)
    try:
        source = _source(sim.url, 100000, args.concurrency)  # the config's maximum: no limit in practice
        tracemalloc.start()
        start = time.perf_counter()
        data, _ = _fetch(source)
        wall = time.perf_counter() - start
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        sim.stop()
    return {
        "memory_markets": len(data.markets),
        "memory_books": len(data.books),
        "memory_fetch_wall_s": round(wall, 2),
        "peak_mib": round(peak / 2**20, 1),
        "retained_mib": round(current / 2**20, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markets", type=int, default=5000)
    # Defaults: orion's configured tier (Basic, kalshi.read_tokens_per_second = 200), which also sizes
    # orion's own bucket (capacity = rate); --capacity is the venue's (the simulator's) bucket.
    ap.add_argument("--rate", type=int, default=200, help="venue read budget, tokens/s (10 per request)")
    ap.add_argument("--capacity", type=float, default=200.0, help="venue read bucket capacity, tokens")
    ap.add_argument("--latency", type=float, default=0.02, help="added server latency per request, s")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--memory-markets", type=int, default=50000, help="0 skips the memory run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="orion-bench-") as home:
        os.environ["ORION_HOME"] = home  # the defaults, not the user's config
        result = {"benchmark": "kalshi_live_fetch", **speed(args)}
        if args.memory_markets:
            result.update(memory(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
