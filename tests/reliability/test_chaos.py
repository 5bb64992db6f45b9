"""Chaos: ≥ 500 randomised executions under injected faults, then ``reconcile`` must find nothing.

Why this exists: the executor's unit tests prove each fault path once, with exact timing. This suite
throws a seeded mix of them at ``Executor.execute`` many times over, on both paths orion trades:

* **simulated-live** — ``KalshiTrading`` + ``PolymarketTrading`` over loopback against the venue
  simulators (signatures verified, books consumed): 5xx, timeouts, ``drop_after`` (the venue accepted
  the order, the answer was lost), 429 bursts, failing look-ups, thin books (short second legs,
  IOC partial first legs) and empty bids (an unwind that cannot fill);
* **paper** — ``PaperVenue`` on both venues, wrapped so that an answer can be lost after the paper
  venue settled (``drop_after``) or a look-up can fail, with thin books and empty bids.

The executions are split into shards of about :data:`SHARD_SIZE` (four tests at the default 500), each
with its own seed, ledger and simulators, so ``pytest -n`` spreads them over the workers; every invariant
is checked on every execution of every shard. After every batch ``reconcile(fix=False)`` runs and must
be clean. The invariants:

1. zero duplicate orders at the simulators (orders created per client order id / order hash);
2. zero exposure unaccounted for: after reconcile resolves unknown outcomes, every venue is
   ``clean`` (ledger positions == venue positions) and no ledger order is left non-terminal, but for
   the ``execution`` drift that names each halted execution whose legs then hold unequal shares (one
   per execution and run, until it is resumed: these are never);
3. every execution that ended with an unhedged remainder is ``halted``, with an ``unwind.failed``
   or ``halt`` alert and a ``halt.engaged`` audit event (the halt is released so the run goes on).

The figures are printed per shard, and summed when several shards ran in one process (run with ``-s``
and ``-p no:xdist`` to see them).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from eth_account import Account
from execution.execution_kit import (
    K_TICKER,
    P_COND,
    all_pass,
    kalshi_book,
    kalshi_market,
    make_plan,
    poly_book,
    poly_market,
)
from execution.test_executor_sim import CREATE, FAST, FREE, KEY_ID, TICKER, Setup
from sim.kalshi_sim import API_PREFIX, KalshiSim
from sim.polymarket_sim import PolymarketSim
from sim.server import FaultRule
from sqlalchemy import func, select

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.config import Settings, load_settings
from orion_cli.core.errors import VenueUnavailable
from orion_cli.core.models import Market, OrderBook, Venue
from orion_cli.core.reconcile import VenueReconcile, reconcile
from orion_cli.execution.executor import ExecutionResult, Executor
from orion_cli.execution.plan import TradePlan
from orion_cli.risk.halt import KillSwitch
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database, open_database
from orion_cli.store.ledger import Ledger
from orion_cli.store.tables import audit_events
from orion_cli.venues.kalshi.signing import KalshiSigner
from orion_cli.venues.kalshi.trading import KalshiTrading
from orion_cli.venues.paper import PaperVenue
from orion_cli.venues.polymarket.signing import ApiCredentials, PrivateKey
from orion_cli.venues.polymarket.trading import PolymarketTrading
from orion_cli.venues.trading import Action, OrderOutcomeUnknown, OrderState, OrderStatus, PreparedOrder

SEED = 20260611
# The issue asks for at least 500 randomised executions; that is the default (about 50 s of one core in
# all). ORION_CHAOS_EXECUTIONS changes it (a test-only knob, read nowhere else).
DEFAULT_EXECUTIONS = 500
_TOTAL = int(os.environ.get("ORION_CHAOS_EXECUTIONS", str(DEFAULT_EXECUTIONS)))
LIVE_RUNS = max(1, _TOTAL // 6)  # one in six is simulated-live, the rest paper
SHARD_SIZE = 125  # executions per test, so xdist can spread the run over its workers
SHARDS = max(1, -(-_TOTAL // SHARD_SIZE))
BATCH = 60  # reconcile after every BATCH executions of a shard, and at its end
VERIFY = (0.0, 0.01)
PAPER_OVERRIDES = {"paper.kalshi_balance": "1000000", "paper.polymarket_balance": "1000000"}


def make_settings(tif: str) -> Settings:
    return load_settings(overrides={"trading.time_in_force": tif, **PAPER_OVERRIDES}, environ={})


def shard_runs(shard: int) -> tuple[int, int]:
    """(live, paper) executions of one shard: the totals spread as evenly as they go."""
    size = _TOTAL // SHARDS + (shard < _TOTAL % SHARDS)
    live = min(size, LIVE_RUNS // SHARDS + (shard < LIVE_RUNS % SHARDS))
    return live, size - live


# -- figures ------------------------------------------------------------------------------------


class Figures:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.orders_sent = 0
        self.duplicates = 0
        self.drifts = 0
        self.halts = 0
        self.dust = 0
        self.seconds: Counter[str] = Counter()
        self.reconciles = 0
        self.resolved_by_reconcile = 0
        self.halted: dict[str, list[str]] = {"live": [], "paper": []}  # the halted executions' keys, by ledger

    def record(self, path: str, res: ExecutionResult) -> None:
        self.outcomes[f"{path}:{res.status}"] += 1


def unhedged(ledger: Ledger, key: str) -> D:
    """|net Kalshi − net Polymarket| held by one execution, from the ledger's fills."""
    net: dict[Venue, D] = {Venue.KALSHI: D(0), Venue.POLYMARKET: D(0)}
    for o in ledger.orders(execution_id=key):
        net[o.venue] += o.filled_size if o.action is Action.BUY else -o.filled_size
    return abs(net[Venue.KALSHI] - net[Venue.POLYMARKET])


def audit_count(db: Database, kind: str) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)
                                .where(audit_events.c.type == kind)).scalar_one())


def check_outcome(db: Database, ledger: Ledger, res: ExecutionResult, alerts: NullAlertSink, halts_before: int,
                  alerts_before: int, fig: Figures) -> None:
    """Invariant 3, per execution; releases the halt so the next execution can run."""
    if res.status == "halted":
        fig.halts += 1
        fig.halted[ledger.mode].append(res.key)
        if res.detail.get("dust"):
            fig.dust += 1  # a remainder too small to sell back: halted like any other
        kinds = [k for k, _, _ in alerts.emitted[alerts_before:]]
        assert kinds and set(kinds) <= {"unwind.failed", "halt"}, (res.key, kinds)
        assert audit_count(db, "halt.engaged") > halts_before, res.key
        ks = KillSwitch(db, mode=ledger.mode)
        assert ks.status().halted, res.key
        ks.release(actor={"who": "chaos"})
        return
    assert res.status in {"done", "unwound", "failed"}, (res.key, res.status, res.message)
    assert len(alerts.emitted) == alerts_before, (res.key, alerts.emitted[alerts_before:])
    # Not halted: nothing may be left unhedged — not even a remainder too small to sell back.
    assert "dust" not in res.detail, (res.key, res.detail.get("dust"))
    assert unhedged(ledger, res.key) == 0, (res.key, res.status, unhedged(ledger, res.key), res.message)


def check_reconcile(results: list[VenueReconcile], ledger: Ledger, fig: Figures) -> None:
    """Invariant 2: after reconcile resolved unknown outcomes, nothing disagrees and nothing is open;
    each halted execution left unhedged (by the ledger as reconcile left it) is named, once."""
    fig.reconciles += 1
    named: list[str] = []
    for r in results:
        fig.drifts += len(r.drifts)
        fig.resolved_by_reconcile += len(r.resolved)
        other = [d.to_record() for d in r.drifts if d.kind != "execution"]
        assert r.status == ("drift" if r.drifts else "clean") and not r.reason and not other, (
            r.venue, r.status, r.reason, other)
        named += [d.ref for d in r.drifts]
    left = [key for key in fig.halted[ledger.mode] if unhedged(ledger, key) > 0]
    assert sorted(named) == sorted(left), (named, left)
    pending = ledger.orders(statuses=(OrderStatus.INTENT, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN,
                                      OrderStatus.OPEN))
    assert pending == [], [(o.client_order_id, o.status) for o in pending]


# -- simulated live -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sims(rsa_key: rsa.RSAPrivateKey) -> Iterator[tuple[KalshiSim, PolymarketSim]]:
    """Fresh simulators per shard: its duplicate count and reconcile see only the orders it sent."""
    k = KalshiSim()
    k.register_key(KEY_ID, rsa_key.public_key())
    p = PolymarketSim.universe(2, seed=11, markets_per_event=1)
    with k, p:
        yield k, p


class LiveRig(Setup):
    """The executor-sim setup with deep pockets, and a way to reshape both books before each run."""

    def __init__(self, ksim: KalshiSim, psim: PolymarketSim, rsa_key: rsa.RSAPrivateKey) -> None:
        super().__init__(ksim, psim, rsa_key)
        ksim.account(KEY_ID).cash = D("1000000")
        acct = Account.create()
        self.pkey = PrivateKey.from_hex(acct.key.hex())
        self.creds = ApiCredentials.from_response(psim.add_account(self.pkey.address, balance=D("1000000")))

    def shape(self, *, k_yes_asks: str, p_no_asks: str, p_no_bids: bool) -> None:
        # Kalshi YES asks are the complement of NO bids: NO bids 0.60 × n ⇒ YES asks 0.40 × n.
        self.ksim.set_book(TICKER, [["0.3800", "50.00"]], [["0.6000", k_yes_asks]] if k_yes_asks != "0" else [])
        book = self.psim.books[self.no]
        book["asks"] = [{"price": "0.52", "size": "100"}] + (
            [{"price": "0.50", "size": p_no_asks}] if p_no_asks != "0" else [])
        book["bids"] = [{"price": "0.47", "size": "100"}] if p_no_bids else []

    def live_venues(self) -> dict[Venue, Any]:
        k = KalshiTrading(KalshiSigner(KEY_ID, self.rsa_key), base_url=self.ksim.server.base_url + API_PREFIX,
                          tier=FREE, retry=FAST, cancel_poll_delays=(0.01,), timeout=0.2)
        p = PolymarketTrading(self.creds, self.pkey, clob_url=self.psim.clob_url, data_url=self.psim.data_url,
                              geoblock_url=self.psim.geoblock_url, retry=FAST, timeout=0.2)
        return {Venue.KALSHI: k, Venue.POLYMARKET: p}


K_ORDERS = API_PREFIX + "/portfolio/orders"
LIVE_FAULTS = ["none", "k5xx", "p5xx", "ktimeout", "ptimeout", "kdrop_after", "pdrop_after", "k429", "p429",
               "klookup5xx", "plookup5xx", "kthin", "pthin", "unwind_fails"]


def inject_live(rig: LiveRig, rng: random.Random, fig: Figures) -> str:
    """Reset both books, then pick one to three faults; returns the time in force to use."""
    k, p = rig.ksim.server, rig.psim.server
    k.clear_faults()
    p.clear_faults()
    shape = {"k_yes_asks": "50.00", "p_no_asks": "30", "p_no_bids": True}
    tif = "fill_or_kill"
    for kind in rng.sample(LIVE_FAULTS, rng.randint(1, 3)):
        fig.faults[kind] += 1
        times = rng.randint(1, 2)
        if kind == "k5xx":
            k.add_fault(FaultRule("status", status=rng.choice([500, 502, 503]), times=times, method="POST",
                                  path_prefix=CREATE))
        elif kind == "p5xx":
            p.add_fault(FaultRule("status", status=rng.choice([500, 502, 503]), times=times, method="POST",
                                  path_prefix="/clob/order"))
        elif kind == "ktimeout":
            k.add_fault(FaultRule("timeout", seconds=0.25, times=1, method="POST", path_prefix=CREATE))
        elif kind == "ptimeout":
            p.add_fault(FaultRule("timeout", seconds=0.25, times=1, method="POST", path_prefix="/clob/order"))
        elif kind == "kdrop_after":
            k.add_fault(FaultRule("drop_after", times=1, method="POST", path_prefix=CREATE))
        elif kind == "pdrop_after":
            p.add_fault(FaultRule("drop_after", times=1, method="POST", path_prefix="/clob/order"))
        elif kind == "k429":
            k.add_fault(FaultRule("rate_limit", times=rng.randint(1, 3), path_prefix=API_PREFIX + "/portfolio"))
        elif kind == "p429":
            p.add_fault(FaultRule("rate_limit", times=rng.randint(1, 3), path_prefix="/clob"))
        elif kind == "klookup5xx":
            k.add_fault(FaultRule("status", status=503, times=times, method="GET", path_prefix=K_ORDERS))
        elif kind == "plookup5xx":
            p.add_fault(FaultRule("status", status=503, times=times, method="GET", path_prefix="/clob/data"))
        elif kind == "kthin":
            shape["k_yes_asks"] = rng.choice(["0", "3.00", "7.00"])
        elif kind == "pthin":
            shape["p_no_asks"] = rng.choice(["0", "4", "8.5"])
            tif = rng.choice(["fill_or_kill", "immediate_or_cancel"])
        elif kind == "unwind_fails":
            shape["k_yes_asks"] = rng.choice(["0", "2.00"])
            shape["p_no_bids"] = False
    rig.shape(**shape)  # type: ignore[arg-type]
    return tif


def live_duplicates(rig: LiveRig, ledger: Ledger) -> int:
    """Orders the simulators created beyond one per client order id / per ledger order hash."""
    created: Counter[str] = Counter()
    acct = rig.ksim.account(KEY_ID)
    for oid in acct.created:
        created[str((acct.order(oid) or {}).get("client_order_id", ""))] += 1
    dupes = sum(n - 1 for n in created.values() if n > 1)
    known = {o.venue_order_id for o in ledger.orders(venue=Venue.POLYMARKET) if o.venue_order_id}
    strays = [h for h in rig.psim.orders if h not in known]
    return dupes + len(strays) + sum(1 for cid in created if not cid)


async def run_live(db: Database, rig: LiveRig, plan: TradePlan, tif: str, alerts: NullAlertSink) -> ExecutionResult:
    venues = rig.live_venues()
    try:
        ex = Executor(db, Ledger(db, "live"), venues, make_settings(tif), mode="live", alerts=alerts,
                      evaluate=all_pass, verify_delays=VERIFY)
        return await ex.execute(plan, None)  # type: ignore[arg-type]
    finally:
        await asyncio.gather(*(v.aclose() for v in venues.values()))


def reconcile_live(db: Database, rig: LiveRig, ledger: Ledger) -> list[VenueReconcile]:
    async def main() -> list[VenueReconcile]:
        from orion_cli.core.reconcile import reconcile_async

        venues = rig.live_venues()
        try:
            return await reconcile_async(db, ledger, venues, make_settings("fill_or_kill"), mode="live", fix=False,
                                         alerts=NullAlertSink(), grace=timedelta(0))
        finally:
            await asyncio.gather(*(v.aclose() for v in venues.values()))

    rig.ksim.server.clear_faults()
    rig.psim.server.clear_faults()
    return asyncio.run(main())


# -- paper ----------------------------------------------------------------------------------------


class Books:
    """A MarketSource whose books the test reshapes before each execution (submit re-reads them)."""

    def __init__(self) -> None:
        self.markets: dict[str, Market] = {K_TICKER: kalshi_market(), P_COND: poly_market()}
        self.books: dict[str, OrderBook] = {}
        self.shape("50", "30", True)

    @property
    def name(self) -> str:
        return "chaos"

    def shape(self, k_yes_asks: str, p_no_asks: str, p_no_bids: bool) -> None:
        now = datetime.now(UTC)
        k_asks = ((("0.40", k_yes_asks),) if k_yes_asks != "0" else ()) + (("0.45", "100"),)
        p_asks = ((("0.50", p_no_asks),) if p_no_asks != "0" else ()) + (("0.55", "100"),)
        self.books[K_TICKER] = kalshi_book(now, yes_asks=k_asks)
        pb = poly_book(now, no_asks=p_asks)
        self.books[P_COND] = pb if p_no_bids else replace(pb, no=replace(pb.no, bids=()))

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        return self.markets[ref], replace(self.books[ref], fetched_at=datetime.now(UTC))


class FaultyPaper(PaperVenue):
    """A paper venue whose answers can be lost after it settled, and whose look-ups can fail."""

    drop_after: set[str]
    lookup_failures: int

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.drop_after = set()
        self.lookup_failures = 0
        self.sent: Counter[str] = Counter()

    async def submit(self, prepared: PreparedOrder) -> OrderState:
        coid = prepared.request.client_order_id
        self.sent[coid] += 1
        state = await super().submit(prepared)
        tag = coid.rsplit("-", 1)[1]
        if tag in self.drop_after:
            self.drop_after.discard(tag)
            raise OrderOutcomeUnknown(self.venue, coid, "chaos: answer lost after the paper venue settled")
        return state

    async def find_order(self, client_order_id: str, venue_order_id: str = "") -> OrderState | None:
        if self.lookup_failures > 0:
            self.lookup_failures -= 1
            raise VenueUnavailable(self.venue.value, "chaos: look-up failed")
        return await super().find_order(client_order_id, venue_order_id)


PAPER_FAULTS = ["none", "drop_after_l1", "drop_after_l2", "drop_after_retry", "drop_after_unwind", "lookup_fail",
                "kthin", "pthin", "unwind_fails"]


def inject_paper(venues: Mapping[Venue, FaultyPaper], books: Books, rng: random.Random, fig: Figures) -> str:
    shape: dict[str, Any] = {"k_yes_asks": "50", "p_no_asks": "30", "p_no_bids": True}
    tif = "fill_or_kill"
    for v in venues.values():
        v.drop_after.clear()
        v.lookup_failures = 0
    for kind in rng.sample(PAPER_FAULTS, rng.randint(1, 3)):
        fig.faults[f"paper:{kind}"] += 1
        target = venues[rng.choice([Venue.KALSHI, Venue.POLYMARKET])]
        if kind == "drop_after_l1":
            target.drop_after.add("l1")
        elif kind == "drop_after_l2":
            target.drop_after.add("l2")
        elif kind == "drop_after_retry":
            target.drop_after.add("l2a1")
        elif kind == "drop_after_unwind":
            target.drop_after.add("u1")
        elif kind == "lookup_fail":
            target.lookup_failures = rng.randint(1, 2)
        elif kind == "kthin":
            shape["k_yes_asks"] = rng.choice(["0", "3", "7"])
        elif kind == "pthin":
            shape["p_no_asks"] = rng.choice(["0", "4", "8.5"])
            tif = rng.choice(["fill_or_kill", "immediate_or_cancel"])
        elif kind == "unwind_fails":
            shape["k_yes_asks"] = rng.choice(["0", "2"])
            shape["p_no_bids"] = False
    books.shape(**shape)
    return tif


# -- the run --------------------------------------------------------------------------------------


def figures_record(fig: Figures, shard: int, executions: int, started: float, rig: LiveRig,
                   paper: Mapping[Venue, FaultyPaper]) -> dict[str, Any]:
    acct = rig.ksim.account(KEY_ID)
    paper_submits = sum(sum(v.sent.values()) for v in paper.values())
    fig.orders_sent = len(acct.created) + rig.psim.order_posts_accepted + paper_submits
    return {
        "suite": "chaos", "seed": SEED, "shard": shard, "shards": SHARDS, "executions": executions,
        "by_outcome": dict(sorted(fig.outcomes.items())), "faults_injected": dict(sorted(fig.faults.items())),
        "orders_sent": fig.orders_sent, "kalshi_orders_created": len(acct.created),
        "polymarket_orders_accepted": rig.psim.order_posts_accepted, "paper_submits": paper_submits,
        "duplicates": fig.duplicates, "drifts": fig.drifts, "halts": fig.halts, "dust_remainders": fig.dust,
        "seconds_by_path": {k: round(v, 1) for k, v in fig.seconds.items()},
        "reconciles": fig.reconciles, "resolved_by_reconcile": fig.resolved_by_reconcile,
        "seconds": round(time.monotonic() - started, 1)}


def summed(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The shards' figures added up (counts and seconds; ``seconds`` is the sum of the shards' times)."""
    out: dict[str, Any] = {"suite": "chaos", "seed": SEED, "shards": sorted(r["shard"] for r in records)}
    for r in records:
        for k, v in r.items():
            if k in ("suite", "seed", "shard", "shards"):
                continue
            if isinstance(v, dict):
                acc = out.setdefault(k, Counter())
                acc.update(v)
            else:
                out[k] = round(out.get(k, 0) + v, 1)
    return {k: dict(sorted(v.items())) if isinstance(v, Counter) else v for k, v in out.items()}


@pytest.fixture(scope="module")
def shard_figures() -> Iterator[list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    yield records
    if len(records) > 1:
        print(json.dumps({"total": summed(records)}, indent=1))


def test_the_default_run_is_at_least_500_executions() -> None:
    """The issue's floor, and every execution of the total belongs to exactly one shard."""
    assert DEFAULT_EXECUTIONS >= 500
    runs = [shard_runs(i) for i in range(SHARDS)]
    assert sum(live + paper for live, paper in runs) == _TOTAL
    assert sum(live for live, _ in runs) == min(_TOTAL, LIVE_RUNS)
    assert all(live >= 1 and paper >= 1 for live, paper in runs) or _TOTAL < 2 * SHARDS


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda i: f"shard{i}of{SHARDS}")
def test_chaos_executions_never_duplicate_never_leave_unaccounted_exposure(
        shard: int, tmp_path: Path, sims: tuple[KalshiSim, PolymarketSim], rsa_key: rsa.RSAPrivateKey,
        shard_figures: list[dict[str, Any]]) -> None:
    started = time.monotonic()
    live_runs, paper_runs = shard_runs(shard)
    rng = random.Random(f"{SEED}/{shard}")
    fig = Figures()
    # The ledger lives on tmpfs when there is one: this suite is about duplicates and unaccounted exposure,
    # not disk durability (covered by the crash suite), and fsync on every commit would triple its time.
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="orion-chaos-", dir=shm)) if shm.is_dir() else tmp_path
    db = open_database(f"sqlite:///{base / 'chaos.db'}")
    alerts = NullAlertSink()
    rig = LiveRig(*sims, rsa_key)
    live_ledger, paper_ledger = Ledger(db, "live"), Ledger(db, "paper")
    books = Books()
    paper = {v: FaultyPaper(v, db, books, make_settings("fill_or_kill")) for v in (Venue.KALSHI, Venue.POLYMARKET)}

    async def prime() -> None:
        for v, ref in ((Venue.KALSHI, K_TICKER), (Venue.POLYMARKET, P_COND)):
            await paper[v].market(ref)

    asyncio.run(prime())
    schedule = ["live"] * live_runs + ["paper"] * paper_runs
    rng.shuffle(schedule)
    try:
        for i, path in enumerate(schedule):
            key = f"chaos-{shard}-{path}-{i:04d}"
            t0 = time.monotonic()
            halts_before, alerts_before = audit_count(db, "halt.engaged"), len(alerts.emitted)
            if path == "live":
                tif = inject_live(rig, rng, fig)
                res = asyncio.run(run_live(db, rig, rig.plan(key), tif, alerts))
                ledger = live_ledger
            else:
                tif = inject_paper(paper, books, rng, fig)
                now = datetime.now(UTC)
                plan = make_plan(key, now=now, kbook=kalshi_book(now), pbook=poly_book(now))
                ex = Executor(db, paper_ledger, paper, make_settings(tif), mode="paper", alerts=alerts,
                              evaluate=all_pass, verify_delays=VERIFY)
                res = asyncio.run(ex.execute(plan, None))  # type: ignore[arg-type]
                ledger = paper_ledger
            fig.record(path, res)
            t1 = time.monotonic()
            fig.seconds[path] += t1 - t0
            check_outcome(db, ledger, res, alerts, halts_before, alerts_before, fig)
            if (i + 1) % BATCH == 0 or i + 1 == len(schedule):
                check_reconcile(reconcile_live(db, rig, live_ledger), live_ledger, fig)
                s = make_settings("fill_or_kill")
                check_reconcile(reconcile(db, paper_ledger, paper, s, mode="paper", fix=False,
                                          alerts=NullAlertSink(), grace=timedelta(0)), paper_ledger, fig)
                dupes = live_duplicates(rig, live_ledger)
                dupes += sum(n - 1 for v in paper.values() for n in Counter(
                    o.client_order_id for o in paper_ledger.orders(venue=v.venue)).values())
                fig.duplicates += dupes
                assert dupes == 0, f"duplicate orders at the venues after execution {i}"
                assert not KillSwitch(db, mode="live").status().halted
            fig.seconds["checks"] += time.monotonic() - t1
        verified = AuditLog(db).verify()
        assert verified.ok, verified
    finally:
        record = figures_record(fig, shard, len(schedule), started, rig, paper)
        shard_figures.append(record)
        print(json.dumps(record, indent=1))
        db.dispose()
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)
    assert sum(fig.outcomes.values()) == live_runs + paper_runs
    assert fig.halts > 0 and fig.outcomes["live:done"] > 0 and fig.outcomes["paper:done"] > 0
