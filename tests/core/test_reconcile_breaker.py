"""Reconcile run from cron hands the ledger's figures to the loss breaker, which trips there."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.config import load_settings
from orion_cli.core.models import Side, Venue
from orion_cli.core.reconcile import reconcile
from orion_cli.risk.halt import KillSwitch
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.paper import PaperVenue
from orion_cli.venues.snapshot import demo_source
from orion_cli.venues.trading import Action, OrderRequest, OrderStatus, TimeInForce


@pytest.mark.parametrize("naked", [False, True])
@pytest.mark.parametrize("limit,trips", [("0.10", True), ("0.20", False)])
def test_reconcile_trips_the_breaker_on_the_losses_it_finds_recorded(tmp_path: Path, limit: str, trips: bool,
                                                                     naked: bool) -> None:
    """Found by a black-box audit: a loss recorded outside a trade (a withdrawal Polymarket lists no
    transfer for, recorded by `reconcile` from cron) made the BREAKER check refuse every trade, but
    nothing tripped: no halt, no `breaker.tripped` alert, and the metrics' `orion_halted` stayed 0,
    although the README says the halt stays until `orion resume`. Only a trade's own update tripped it.
    Here the day's loss is a paper fill's fee, 0.147 (10 YES at 0.30 on the demo's Kalshi market)."""
    db = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        settings = load_settings(overrides={"breaker.daily_loss": limit, "breaker.daily_loss_pct": "100"},
                                 environ={})
        kalshi = PaperVenue(Venue.KALSHI, db, demo_source(), settings)

        async def buy() -> Any:
            await kalshi.market("KXNBA-26-NYK")
            req = OrderRequest(Venue.KALSHI, "KXNBA-26-NYK", Side.YES, Action.BUY, D(10), D("0.30"),
                               TimeInForce.FOK, "breaker-1")
            return await kalshi.submit(kalshi.prepare(req))

        assert asyncio.run(buy()).status is OrderStatus.FILLED
        assert not KillSwitch(db).status().halted  # a fill outside an execution updates no breaker
        if naked:
            # Found in review: an execution that ended with a leg unhedged (here one that failed two days ago
            # with its first leg filled) is drift on every run until closed or settled, and drift kept the
            # breaker from being updated: for all that time, cron never tripped it.
            from core.test_reconcile import _execution
            from core.test_reconcile_ended_legs import INTENTS, _order

            at = datetime.now(UTC) - timedelta(days=2)
            _order(Ledger(db, "paper"), "OLD-l1", market="KXUPONLY-01-BRIA", side=Side.NO, price="0.80", size="1",
                   filled="1", at=at)
            _execution(db, "OLD", "failed", ["OLD-l1"], {"intents": INTENTS}, at=at, mode="paper")
        alerts = NullAlertSink()
        results = reconcile(db, Ledger(db, "paper"), {Venue.KALSHI: kalshi}, settings, mode="paper", fix=False,
                            alerts=alerts)
        assert [d.ref for r in results for d in r.drifts] == (["OLD"] if naked else [])
        halt = KillSwitch(db).status()
        assert halt.halted is trips, halt
        tripped = [e for e in AuditLog(db).tail(100) if e.type == "breaker.tripped"]
        assert len(tripped) == (1 if trips else 0)
        assert ("breaker.tripped" in [k for k, _, _ in alerts.emitted]) is trips, alerts.emitted
        if trips:
            assert halt.kind == "breaker", halt
    finally:
        db.dispose()
