"""SIGKILL at every execution step (real processes), then ``Executor.resume``: nothing doubled or lost.

``crash_driver.py`` runs a paper trade in a child process; ``ORION_TEST_CRASH_AT`` makes the
executor's documented test hook SIGKILL that process at the named step. A fresh executor (in
the test process) then resumes the key. Afterwards no client order id was used twice, every
filled order's fills are in the ledger and in the positions, the execution is final, and the
audit chain verifies.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from execution import crash_driver
from sqlalchemy import func, select

from orion_cli.execution.executor import CRASH_STEPS
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database
from orion_cli.store.ledger import Ledger
from orion_cli.store.tables import executions, orders
from orion_cli.venues.trading import OrderStatus

DRIVER = Path(__file__).with_name("crash_driver.py")
KEY = "crash-key-1"
NOT_SENT = {"intents_committed", "l1_marked"}  # the first leg never left: resume must not send it


def drive(db_path: Path, action: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_TEST_CRASH_AT")}
    if crash_at:
        env["ORION_TEST_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, str(DRIVER), str(db_path), KEY, action], env=env, capture_output=True,
                          text=True, timeout=60)


def test_without_the_variable_the_hook_is_inert(tmp_path: Path) -> None:
    done = drive(tmp_path / "ledger.db", "execute")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "done"


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_sigkill_at_each_step_then_resume(tmp_path: Path, step: str) -> None:
    db_path = tmp_path / "ledger.db"
    killed = drive(db_path, "execute", step)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    record = asyncio.run(crash_driver.main(str(db_path), KEY, "resume"))  # a fresh executor, as after a restart
    assert record["status"] == ("failed" if step in NOT_SENT else "done"), record["message"]
    again = asyncio.run(crash_driver.main(str(db_path), KEY, "resume"))
    assert again["status"] == "already_done"

    db = open_database(f"sqlite:///{db_path}")
    try:
        ledger = Ledger(db, "paper")
        with db.read() as c:
            dup = c.execute(select(orders.c.client_order_id, func.count()).group_by(orders.c.client_order_id)
                            .having(func.count() > 1)).all()
            status = c.execute(select(executions.c.status).where(executions.c.key == KEY)).scalar_one()
        assert dup == []
        assert status in ("done", "failed")
        sent = [o for o in ledger.orders(execution_id=KEY) if o.status is not OrderStatus.CANCELLED]
        for o in sent:
            fills = ledger.fills(client_order_id=o.client_order_id)
            assert sum((f.size for f in fills), D(0)) == o.filled_size  # no lost or doubled fill
        held = {(p.venue, p.side): p.size for p in ledger.positions()}
        if status == "done":
            assert sorted(held.values()) == [D("10"), D("10")]
            assert len(sent) == 2 and all(o.status is OrderStatus.FILLED for o in sent)
        else:
            assert held == {} and sent == []
        assert AuditLog(db).verify().ok
    finally:
        db.dispose()


@pytest.mark.parametrize("step", ["l1_recorded", "l2_marked"])
def test_sigkill_between_the_legs_then_reconcile_reports_the_unhedged_leg_and_halts(tmp_path: Path,
                                                                                    step: str) -> None:
    """Reconcile run from cron after a crash between the legs: it must not call the ledger clean.

    It never trades, so it does not finish the execution; it reports the drift (exit 7 at the CLI),
    alerts, halts with --halt-on-drift, and names the command that resumes the execution.
    """
    from datetime import UTC, datetime, timedelta

    from execution.crash_driver import FixedSource, kalshi_book, kalshi_market, poly_book, poly_market, settings

    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.core.models import Venue
    from orion_cli.core.reconcile import reconcile
    from orion_cli.risk.halt import KillSwitch
    from orion_cli.venues.paper import PaperVenue

    db_path = tmp_path / "ledger.db"
    killed = drive(db_path, "execute", step)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    db = open_database(f"sqlite:///{db_path}")
    try:
        s = settings()
        later = datetime.now(UTC) + timedelta(minutes=10)  # past the grace period
        venues = {Venue.KALSHI: PaperVenue(Venue.KALSHI, db, FixedSource(kalshi_market(), kalshi_book(later)), s),
                  Venue.POLYMARKET: PaperVenue(Venue.POLYMARKET, db, FixedSource(poly_market(), poly_book(later)),
                                               s)}
        alerts = NullAlertSink()
        results = reconcile(db, Ledger(db, "paper"), venues, s, mode="paper", fix=True, alerts=alerts, now=later,
                            halt_on_drift=True, source_flags=" --demo")
        stuck = [d for r in results for d in r.drifts if d.kind == "execution"]
        assert len(stuck) == 1 and stuck[0].ref == KEY and not stuck[0].fixed, [r.to_record() for r in results]
        assert stuck[0].ledger_qty == D("10") and stuck[0].venue_qty == D("0")
        # The paper data it was priced from goes with it (found in review: without --demo the printed
        # command read the live books).
        assert f"--idempotency-key {KEY} --demo`" in stuck[0].detail
        assert any(r.status == "drift" for r in results)
        assert KillSwitch(db).status().halted
        assert [k for k, _, _ in alerts.emitted if k in ("reconcile.drift", "halt")] == ["reconcile.drift", "halt"]
        assert AuditLog(db).verify().ok
    finally:
        db.dispose()
    # Resuming with the execution's own key finishes it: halted, it buys nothing more and sells the
    # unhedged leg back. Reconcile then has nothing left to report.
    record = asyncio.run(crash_driver.main(str(db_path), KEY, "resume"))
    assert record["status"] == "unwound", record["message"]
    db = open_database(f"sqlite:///{db_path}")
    try:
        results = reconcile(db, Ledger(db, "paper"), venues, s, mode="paper", fix=False, alerts=NullAlertSink(),
                            now=later + timedelta(minutes=10))
        assert not [d for r in results for d in r.drifts if d.kind == "execution"]
    finally:
        db.dispose()


@pytest.mark.parametrize("step", ["l1_recorded", "l2_marked"])
def test_cron_reconcile_between_crash_and_resume_still_lets_the_resume_hedge(tmp_path: Path, step: str) -> None:
    """Reconcile (cron, no halt) cancels the hedge intent the venue never saw; the resume must still
    send the hedge as a first attempt. Found in review: the cancel's reason did not mark it never sent,
    so with no retries configured the resume sold the filled first leg back instead of hedging it."""
    from datetime import UTC, datetime, timedelta

    from execution.crash_driver import (
        K_TICKER,
        P_COND,
        FixedSource,
        kalshi_book,
        kalshi_market,
        poly_book,
        poly_market,
        settings,
    )

    from orion_cli.core.alert_sink import NullAlertSink
    from orion_cli.core.models import Venue
    from orion_cli.core.reconcile import reconcile
    from orion_cli.execution.executor import Executor
    from orion_cli.venues.paper import PaperVenue

    db_path = tmp_path / "ledger.db"
    killed = drive(db_path, "execute", step)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    db = open_database(f"sqlite:///{db_path}")
    s = settings(**{"trading.second_leg_retries": 0})

    def venues(now: datetime) -> dict[Venue, PaperVenue]:
        return {Venue.KALSHI: PaperVenue(Venue.KALSHI, db, FixedSource(kalshi_market(), kalshi_book(now)), s),
                Venue.POLYMARKET: PaperVenue(Venue.POLYMARKET, db, FixedSource(poly_market(), poly_book(now)), s)}

    async def resume() -> str:
        v = venues(datetime.now(UTC))
        await v[Venue.KALSHI].market(K_TICKER)
        await v[Venue.POLYMARKET].market(P_COND)
        ex = Executor(db, Ledger(db, "paper"), v, s, mode="paper", alerts=NullAlertSink(), verify_delays=(0.0,))
        return (await ex.resume(KEY)).status

    try:
        later = datetime.now(UTC) + timedelta(minutes=10)  # past the grace period
        results = reconcile(db, Ledger(db, "paper"), venues(later), s, mode="paper", fix=False,
                            alerts=NullAlertSink(), now=later)
        assert [r.after for res in results for r in res.resolved] == ["cancelled"]  # the hedge intent
        assert asyncio.run(resume()) == "done"
        held = {(p.venue, p.side): p.size for p in Ledger(db, "paper").positions()}
        assert sorted(held.values()) == [D("10"), D("10")]  # hedged, nothing sold back
        assert AuditLog(db).verify().ok
    finally:
        db.dispose()
