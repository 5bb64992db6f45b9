"""What a ledger's age costs: the commands that value it, on ledgers of growing history.

Run:  .venv/bin/python benchmarks/bench_ledger_age.py [--sizes 500 2000] [--held 8]

Prints one JSON object. For each size N it builds a SQLite ledger (WAL, ``synchronous=FULL``, in a temp
dir on the working disk) through orion's own ledger: N paired executions (a Kalshi YES bought, a
Polymarket NO bought, each filled), the markets of all but ``--held`` of them settled (a closed history),
the last ``--held`` still held. Then, timed (the median of 3) and counted:

* ``breaker_figures``: :meth:`Ledger.daily_pnl` as the loss breaker, ``positions`` and ``balance`` value
  the ledger (the held legs' settled partners included): every trade's BREAKER check runs it, under the
  writers' lock;
* ``positions``: the positions held (``orion positions`` on the paper venues);
* ``checks``: every pre-trade check of a new pair, in a write transaction, with the process's breaker (as
  ``orion trade --confirm`` runs them under the writers' lock);
* ``reconcile``: ``orion reconcile`` of both paper venues (no market listed, so nothing settles anew);
* ``report``: :func:`build_report` over the whole history (``orion report`` without ``--since``), each
  execution a row as the executor writes it (its plan's two legs and their specs; its result empty), and
  ``report_peak_mb``, the most memory it held at once (tracemalloc, in a separate untimed run).

``growth`` divides each figure at the largest size by the one at the smallest, beside ``history_ratio``
(the sizes' ratio): a figure growing much faster than history is a query or loop gone quadratic, as the
breaker figures were (one join SQLite planned as every settlement times every order: 45 s at 3,700
executions) and the report (each execution scanning the window's orders and fills). What a trade's
checks, the breaker and reconcile read should not grow at all: the positions held, not the closed
history (before ix_positions_held they read every position ever held, 57 ms per trade at 2,000
executions, 0.3 s per reconcile).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.config import load_settings
from orion_cli.core.errors import NotFound
from orion_cli.core.fees import FeeModel
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, Side, TickStructure, Venue
from orion_cli.core.reconcile import reconcile
from orion_cli.core.report import build_report
from orion_cli.execution.executor import LegSpec
from orion_cli.execution.plan import LegPlan, TradePlan
from orion_cli.risk.breaker import Breaker
from orion_cli.risk.checks import PipelineContext, evaluate
from orion_cli.store.audit import canonical_json, iso_utc
from orion_cli.store.db import Database, open_database
from orion_cli.store.ledger import Ledger, positions_in
from orion_cli.store.tables import executions
from orion_cli.venues.paper import PaperVenue
from orion_cli.venues.trading import Action, Balance, Fill, OrderRequest, PreparedOrder, Settlement, TimeInForce

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _leg(led: Ledger, key: str, venue: Venue, market: str, side: Side, price: str, at: datetime) -> None:
    coid = f"{key}-{venue.value[0]}"
    req = OrderRequest(venue, market, side, Action.BUY, D(10), D(price), TimeInForce.IOC, coid)
    led.record_intent(PreparedOrder(req, f'{{"id":"{coid}"}}'), execution_id=key, now=at)
    led.record_fills(coid, [Fill(venue, f"f-{coid}", f"v-{coid}", market, side, Action.BUY, D(10), D(price), D(0),
                                 at)], now=at)


def _execution(db: Database, key: str, kalshi: str, poly: str, at: datetime) -> None:
    """The execution row the executor writes, its plan as the executor records it (the plan, each leg's
    spec: fee model, ticks, planned levels), as `orion report` reads it."""
    trade = _pair(key, kalshi, poly, at)
    plan = {**trade.to_record(), "specs": [LegSpec.from_plan(i, leg).to_record() for i, leg in enumerate(trade.legs)],
            "first": 0, "second": 1}
    with db.write() as conn:
        conn.execute(insert(executions).values(
            key=key, opportunity_id=key[-8:], mode="paper", status="done", size=D(10), plan=canonical_json(plan),
            result="{}", created_at=iso_utc(at), updated_at=iso_utc(at)))


def _plan(now: datetime) -> TradePlan:
    """A new pair to trade (markets the ledger never held), as the checks see one."""
    return _pair("age-check", "KXAGE-NEW", "0xnew", now)


def _pair(key: str, kalshi: str, poly: str, now: datetime) -> TradePlan:
    """A plan buying Kalshi YES on ``kalshi`` and Polymarket NO on ``poly``."""
    legs = []
    for venue, market, side in ((Venue.KALSHI, kalshi, Side.YES), (Venue.POLYMARKET, poly, Side.NO)):
        m = Market(venue=venue, id=market, event_id="E", title=market, status=MarketStatus.OPEN, close_time=None,
                   fee_model=FeeModel.free(), ticks=TickStructure.uniform(D("0.01")), category="bench",
                   yes_token=f"{market}-yes", no_token=f"{market}-no")
        level = BookSide((), (PriceLevel(D("0.45"), D(1000)),))
        legs.append(LegPlan(venue=venue, market=m, side=side, size=D(10), limit_price=D("0.45"),
                            expected_avg_price=D("0.45"), expected_cost=D("4.50"), expected_fees=D(0),
                            book=OrderBook(venue, market, level, level, now), levels=(PriceLevel(D("0.45"), D(10)),),
                            token_id=f"{market}-{side.value}" if venue is Venue.POLYMARKET else ""))
    return TradePlan(key=key, opportunity_id=key[-8:], legs=tuple(legs), size=D(10), net_edge=D("0.10"),
                     net_profit=D("1.00"), quoted_net_edge=D("0.10"), planned_at=now)


def build(db: Database, n: int, held: int) -> None:
    """``n`` executions over the year before now, the last ``held`` of them still held."""
    led = Ledger(db, "paper")
    for venue in Venue:
        led.ensure_balance(venue, D(10_000_000), now=START - timedelta(days=1))
    step = (datetime.now(UTC) - timedelta(days=1) - START) / n
    for i in range(n):
        at = START + step * i
        key = f"exec-{i:06d}"
        kalshi, poly = f"KXAGE-{i:06d}", f"0x{i:064x}"
        _execution(db, key, kalshi, poly, at)
        _leg(led, key, Venue.KALSHI, kalshi, Side.YES, "0.40", at)
        _leg(led, key, Venue.POLYMARKET, poly, Side.NO, "0.55", at)
        if i < n - held:
            settled = at + step / 2
            for venue, market in ((Venue.KALSHI, kalshi), (Venue.POLYMARKET, poly)):
                led.record_settlement(Settlement(venue, market, D(1), settled), now=settled)
        if (i + 1) % 500 == 0:
            log(f"  {i + 1}/{n} executions")


def timed(fn: Callable[[], Any], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(db: Database) -> dict[str, float]:
    led = Ledger(db, "paper")
    now = datetime.now(UTC)

    def breaker_figures() -> None:
        with db.read() as conn:
            led.daily_pnl(daily_loss=D(50), daily_loss_pct=D(5), now=now, conn=conn)

    def positions() -> None:
        with db.read() as conn:
            positions_in(conn, "paper")

    settings = load_settings()
    breaker = Breaker(db, settings, mode="paper", ledger=led, alerts=NullAlertSink())
    balances = {v: Balance(v, "paper", D(10_000_000), D(0), D(10_000_000), now) for v in Venue}
    trade = _plan(now)

    class _Unlisted:
        """The paper venues' market data: no market is listed, so none settles (the ledger's own
        settlements stand) and reconcile compares the ledger's figures alone."""

        async def book(self, ref: str, **_kw: Any) -> Any:
            raise NotFound(f"{ref} is not listed")

    venues = {v: PaperVenue(v, db, _Unlisted(), settings) for v in Venue}  # type: ignore[arg-type]

    def reconciled() -> None:
        reconcile(db, led, venues, settings, mode="paper", fix=False, alerts=NullAlertSink())

    def checks() -> None:
        # As `orion trade --confirm` runs them: every check, under the writers' lock, with the process's breaker.
        ctx = PipelineContext(settings=settings, mode="paper", authorized=True, authorization="paper",
                              balances=balances, now=now, breaker=breaker)
        with db.write() as conn:
            evaluate(conn, trade, ctx)

    return {
        "breaker_figures_s": round(timed(breaker_figures), 4),
        "positions_s": round(timed(positions), 4),
        "checks_s": round(timed(checks), 4),
        "reconcile_s": round(timed(reconciled), 4),
        "report_s": round(timed(lambda: build_report(db, mode="paper"), runs=1), 4),
        "report_peak_mb": round(peak_mb(lambda: build_report(db, mode="paper")), 1),
    }


def peak_mb(fn: Callable[[], Any]) -> float:
    """The most memory Python held at once while ``fn`` ran, beyond what it held before (tracemalloc:
    untimed, it slows what it traces several times over)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--held", type=int, default=8)
    args = ap.parse_args()
    sizes = sorted(args.sizes)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        for n in sizes:
            log(f"building a ledger of {n} executions ({args.held} held)")
            db = open_database(f"sqlite:///{tmp}/age-{n}.db")
            try:
                t0 = time.perf_counter()
                build(db, n, args.held)
                built = time.perf_counter() - t0
                results[str(n)] = {"executions": n, "held": args.held, "build_s": round(built, 1), **measure(db)}
            finally:
                db.dispose()
            log(f"  {results[str(n)]}")
    small, large = results[str(sizes[0])], results[str(sizes[-1])]
    growth = {k: round(large[k] / small[k], 1) if small[k] else None
              for k in ("breaker_figures_s", "positions_s", "checks_s", "reconcile_s", "report_s", "report_peak_mb")}
    print(json.dumps({"benchmark": "ledger_age", "sizes": results, "history_ratio": round(sizes[-1] / sizes[0], 1),
                      "growth": growth}, indent=1))


if __name__ == "__main__":
    main()
