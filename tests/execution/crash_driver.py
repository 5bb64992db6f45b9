"""Executes (or resumes) one paper trade in its own process, for the SIGKILL crash tests.

Usage: ``python crash_driver.py DB_PATH KEY execute|resume``. With ``ORION_TEST_CRASH_AT=<step>``
in the environment the executor's test hook SIGKILLs this process at that step (see
``orion_cli.execution.executor.CRASH_STEPS``). Prints the execution record as one JSON line.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (for execution.execution_kit)

from execution.execution_kit import (
    K_TICKER,
    P_COND,
    kalshi_book,
    kalshi_market,
    make_plan,
    poly_book,
    poly_market,
    settings,
)

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.models import Market, OrderBook, Venue
from orion_cli.execution.executor import Executor
from orion_cli.risk.checks import PipelineContext
from orion_cli.store.audit import canonical_json
from orion_cli.store.db import open_database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.paper import PaperVenue
from orion_cli.venues.trading import Balance


class FixedSource:
    name = "fixture"

    def __init__(self, market: Market, book: OrderBook) -> None:
        self.market, self.book_ = market, book

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        return self.market, self.book_


async def main(db_path: str, key: str, action: str) -> dict[str, Any]:
    s = settings()
    db = open_database(f"sqlite:///{db_path}")
    now = datetime.now(UTC)
    venues = {
        Venue.KALSHI: PaperVenue(Venue.KALSHI, db, FixedSource(kalshi_market(), kalshi_book(now)), s),
        Venue.POLYMARKET: PaperVenue(Venue.POLYMARKET, db, FixedSource(poly_market(), poly_book(now)), s),
    }
    await venues[Venue.KALSHI].market(K_TICKER)
    await venues[Venue.POLYMARKET].market(P_COND)
    ex = Executor(db, Ledger(db, "paper"), venues, s, mode="paper", alerts=NullAlertSink(), verify_delays=(0.0,))
    try:
        if action == "resume":
            res = await ex.resume(key)
        else:
            balances = {v: Balance(v, "paper", Decimal("1000"), Decimal(0), Decimal("1000"), now) for v in Venue}
            ctx = PipelineContext(settings=s, mode="paper", authorized=True, authorization="paper",
                                  balances=balances, now=now)
            res = await ex.execute(make_plan(key, now=now), ctx)
    finally:
        db.dispose()
    return res.to_record()


if __name__ == "__main__":
    record = asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
    print(canonical_json(record))
