"""Eight OS processes checking and recording at once never exceed a limit one process respects.

Each worker (a ``multiprocessing`` *spawn* child, so nothing is shared but the database) repeatedly
opens :meth:`Database.write`, runs :func:`evaluate`, and when every check passes records both order
intents and the ``executions`` row in that same transaction. Limits chosen so that three of them
bind during the run: the rate limit (20 orders per minute *and* per hour, so the run's length does
not matter), the per-market exposure ($200: four $46 legs fit, a fifth does not) and DUPLICATE (keys
are drawn from a small shared pool). The executor's end-to-end version against the venue simulator
lives with the executor; this one proves the serialisation of check + intent.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from racing import WORKER, race, wait_for_start
from sqlalchemy import insert, select

PROCS = 8
ATTEMPTS = 12
# Each worker keeps going at least this long: with a fast order path (≈3 ms) twelve attempts could
# finish before the last of eight spawned processes was even scheduled, proving nothing about overlap.
MIN_SECONDS = 1.0
KEY_POOL = 24
OVERRIDES = {
    "rate_limits.orders_per_minute": 20,
    "rate_limits.orders_per_hour": 20,
    "limits.market_exposure": "200",
}
# (kalshi market, polymarket market, size, price, fee per leg): pairs 0 and 1 cost 46.00 per leg.
PAIRS = [("KX-0", "0xp0", "100", "0.45", "1.00"), ("KX-1", "0xp1", "100", "0.45", "1.00"),
         ("KX-2", "0xp2", "10", "0.45", "0.10")]


def _plan(pair: int, key: str, now: datetime) -> Any:
    from orion_cli.core.fees import FeeModel
    from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, PriceLevel, Side, TickStructure, Venue
    from orion_cli.execution.plan import LegPlan, TradePlan

    kx, pm, size, price, fee = PAIRS[pair]
    legs = []
    for venue, mid, side in ((Venue.KALSHI, kx, Side.YES), (Venue.POLYMARKET, pm, Side.NO)):
        m = Market(venue=venue, id=mid, event_id="E", title=mid, status=MarketStatus.OPEN, close_time=None,
                   fee_model=FeeModel.free(), ticks=TickStructure.uniform(D("0.01")), category=f"cat-{pair}",
                   yes_token=f"{mid}-yes", no_token=f"{mid}-no")
        book = OrderBook(venue, mid, BookSide((), (PriceLevel(D(price), D(1000)),)),
                         BookSide((), (PriceLevel(D(price), D(1000)),)), now)
        legs.append(LegPlan(venue=venue, market=m, side=side, size=D(size), limit_price=D(price),
                            expected_avg_price=D(price), expected_cost=D(size) * D(price), expected_fees=D(fee),
                            book=book, token_id=f"{mid}-{side.value}" if venue is Venue.POLYMARKET else ""))
    return TradePlan(key=key, opportunity_id=f"op{pair}", legs=tuple(legs), size=D(size), net_edge=D("0.05"),
                     net_profit=D("1"), quoted_net_edge=D("0.05"), planned_at=now)


def _worker_main(url: str, go: str, worker: int, out: str) -> None:
    """One process: check + record, ATTEMPTS times, all in the same transaction each time."""
    from orion_cli.core.config import load_settings
    from orion_cli.core.models import Venue
    from orion_cli.risk.checks import PipelineContext, evaluate
    from orion_cli.store.audit import canonical_json, iso_utc
    from orion_cli.store.db import open_database
    from orion_cli.store.ledger import Ledger
    from orion_cli.store.tables import executions
    from orion_cli.venues.trading import Action, Balance, OrderRequest, PreparedOrder, TimeInForce

    settings = load_settings(overrides=OVERRIDES)
    db = open_database(url)
    ledger = Ledger(db, "paper")
    wait_for_start({"out": out, "go": go})
    start = time.time()
    refused: Counter[str] = Counter()
    accepted, errors = 0, []
    j = -1
    while (j := j + 1) < ATTEMPTS or time.time() - start < MIN_SECONDS:
        pair = 2 if j % 6 == 5 else (worker + j) % 2
        key = f"k{(worker * 7 + j * 5) % KEY_POOL}"
        now = datetime.now(UTC)
        plan = _plan(pair, key, now)
        bal = {v: Balance(v, "paper", D(1_000_000), D(0), D(1_000_000), now) for v in Venue}
        ctx = PipelineContext(settings=settings, mode="paper", authorized=True, authorization="paper",
                              balances=bal, now=now)
        try:
            with db.write() as conn:
                verdict = evaluate(conn, plan, ctx)
                if not verdict.passed:
                    refused.update({c.name for c in verdict.checks if not c.passed})
                    continue
                for i, leg in enumerate(plan.legs):
                    req = OrderRequest(leg.venue, leg.market.id, leg.side, Action.BUY, leg.size, leg.limit_price,
                                       TimeInForce.FOK, f"{key}-{i}", token_id=leg.token_id)
                    ledger.record_intent(PreparedOrder(req, json.dumps({"coid": f"{key}-{i}"})), execution_id=key,
                                         category=leg.market.category, conn=conn, now=now)
                conn.execute(insert(executions).values(
                    key=key, opportunity_id=plan.opportunity_id, mode="paper", status="intent", size=plan.size,
                    # The plan as the executor stores it: later checks count its legs' fees for these
                    # orders while they are in flight.
                    plan=canonical_json(plan.to_record()), result="{}",
                    created_at=iso_utc(now), updated_at=iso_utc(now)))
                accepted += 1
        except Exception as exc:  # a second use of a key or id would land here
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    Path(out).write_text(json.dumps({"accepted": accepted, "refused": refused, "errors": errors, "start": start,
                                     "end": time.time()}))
    db.dispose()


def test_eight_processes_never_exceed_rate_exposure_or_reuse_a_key(db_url: str, tmp_path: Path) -> None:
    from orion_cli.store.db import open_database
    from orion_cli.store.tables import executions, orders

    open_database(db_url).dispose()  # migrate first: this test is about the order path
    results = race(__file__, {"url": db_url}, tmp_path, PROCS, timeout=120)
    assert [e for r in results for e in r["errors"]] == []

    db = open_database(db_url)
    try:
        with db.read() as conn:
            rows = conn.execute(select(orders.c.market_id, orders.c.size, orders.c.limit_price, orders.c.created_at,
                                       orders.c.execution_id)).all()
            execs = conn.execute(select(executions.c.key, executions.c.plan)).all()
    finally:
        db.dispose()

    # Rate: 20 per minute and per hour; the limit was reached exactly, never passed.
    assert len(rows) == 20, len(rows)
    times = sorted(datetime.fromisoformat(r.created_at.replace("Z", "+00:00")) for r in rows)
    for t in times:
        assert sum(1 for u in times if t - timedelta(seconds=60) < u <= t) <= 20
    # Exposure: per market, the orders' worst cost (with fees) stays within $200.
    notional: Counter[str] = Counter()
    for r in rows:
        notional[r.market_id] += D(r.size) * D(r.limit_price)
    fees = {m: D(f) for kx, pm, _s, _p, f in PAIRS for m in (kx, pm)}
    per_exec = Counter(r.market_id for r in rows)
    for market, amount in notional.items():
        assert amount + per_exec[market] * fees[market] <= 200, (market, amount)
    # Keys: one execution per key, two orders per execution.
    assert len(execs) == len({e.key for e in execs}) == 10
    assert Counter(r.execution_id for r in rows) == dict.fromkeys((e.key for e in execs), 2)
    assert sum(r["accepted"] for r in results) == 10
    # The limits were actually contended (otherwise this proves nothing about serialisation).
    refused: Counter[str] = Counter()
    for r in results:
        refused.update(r["refused"])
    assert refused["RATE_LIMIT"] > 0 and refused["DUPLICATE"] > 0 and refused["MARKET_EXPOSURE"] > 0, refused
    assert max(r["start"] for r in results) < min(r["end"] for r in results), "workers never overlapped"


if __name__ == WORKER:
    _worker_main(**globals()["WORKER_ARGS"])
