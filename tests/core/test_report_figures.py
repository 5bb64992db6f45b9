"""Report figures a hand-mutation audit found unpinned, on rows built by hand (the ledger's columns the
report reads, no more): which percentile each figure is, which orders count as filled or unanswered,
which latency sample an order gives, and the summary's realised edge and rounding.

Each test names the mutant it kills; the ledger-backed tests in test_report.py have five latency
samples and two slippage orders, too few to tell p95 from p99 or p49 from p50.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from types import SimpleNamespace
from typing import Any

from orion_cli.core.report import (
    AnswerTimes,
    ExecutionQuality,
    Report,
    _execution_quality,
    _executor_latencies,
    _venue_quality,
    failed_checks,
    plan_figures,
)
from orion_cli.execution.plan import NOT_EVALUATED
from orion_cli.store.audit import canonical_json

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
PLAN = {"legs": [{"venue": "kalshi", "market": "KX", "side": "yes", "avg_price": "0.5"}]}


def order(cid: str, status: str, *, venue: str = "kalshi", size: str = "1", filled: str = "1",
          avg: str | None = None, execution: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(venue=venue, status=status, reject_reason="", client_order_id=cid, action="buy",
                           size=size, filled_size=filled, avg_fill_price=avg, execution_id=execution,
                           market_id="KX", side="yes")


def event(seq: int, type_: str, cid: str, ms: int) -> SimpleNamespace:
    ts = (T0 + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")
    return SimpleNamespace(seq=seq, ts=ts, type=type_, venue=None, payload=canonical_json({"client_order_id": cid}))


def quality() -> dict[str, Any]:
    # 51 filled buys of one plan on Kalshi, the i-th 0.001 × i over the plan's 0.50 with i ms of executor
    # latency (nearest rank of 51: p50 the 26th, p95 the 49th, p99 the 51st), a partial fill, an open
    # order, a cancelled one; on Polymarket one order acknowledged after 10 ms and filled after 500.
    rows = [order(f"k{i}", "filled", avg=str(D("0.5") + D(i) / 1000), execution="ex") for i in range(1, 52)]
    rows += [order("k-part", "partial", size="2", filled="1"), order("k-open", "open", filled="0"),
             order("k-cxl", "cancelled", filled="0"), order("p1", "filled", venue="polymarket", filled="0")]
    latency = {f"k{i}": D(i) for i in range(1, 52)}
    events = [event(1, "order.submitted", "p1", 0), event(2, "order.acknowledged", "p1", 10),
              event(3, "order.filled", "p1", 500)]
    answers = AnswerTimes()
    for ev in events:
        answers.add(ev.seq, ev.type, ev.ts, ev.payload)
    notes: list[str] = []
    kalshi, poly = _venue_quality(["kalshi", "polymarket"], rows, {"ex": PLAN}, {}, {}, latency, answers, notes)
    return {"kalshi": kalshi, "polymarket": poly}


def test_latency_percentiles_are_p50_p95_p99_by_nearest_rank() -> None:
    """R4: p99 computed as p95 read the same on five samples."""
    lat = quality()["kalshi"].latency_ms
    assert (lat.samples, lat.p50, lat.p95, lat.p99, lat.source) == (51, D("26"), D("49"), D("51"), "executor")


def test_slippage_percentiles_are_over_orders() -> None:
    """R8: p50 computed at the 49th percentile read the same on two orders."""
    s = quality()["kalshi"].slippage
    assert (s.orders, s.contracts) == (51, D("51"))
    assert (s.p50, s.p95) == (D("0.026"), D("0.049"))
    assert s.mean == D("0.026") and s.total == D("1.326")  # 0.001 × (1 + … + 51) = 1.326, over 51 contracts


def test_a_partial_fill_is_not_filled_and_an_open_order_is_unanswered() -> None:
    """R5, R6: a partial fill counted as filled raised the fill rate; an open order dropped from the
    unanswered count."""
    k = quality()["kalshi"]
    assert (k.sent, k.filled, k.partial, k.cancelled, k.unanswered) == (54, 51, 1, 1, 1)
    assert k.fill_rate == D("0.944444")  # 51/54, rounded down


def test_audit_latency_is_to_the_first_answer() -> None:
    """R13: send → the venue's answer is its first answer (the acknowledgement), not the last event."""
    lat = quality()["polymarket"].latency_ms
    assert (lat.samples, lat.p50, lat.source) == (1, D("10"), "audit")


def test_a_negative_executor_latency_is_not_a_sample() -> None:
    """R20: a clock step recorded as −5 ms would pull every percentile down."""
    result = {"orders": [{"client_order_id": "a", "latency_ms": "-5"}, {"client_order_id": "b", "latency_ms": "7"}],
              "legs": {"l1": {"coid": "c", "latency_ms": 0}}}
    assert _executor_latencies(result) == {"b": D("7"), "c": D("0")}


def test_a_check_not_evaluated_is_not_counted_as_a_rejection_by_it() -> None:
    """R27: a check that failed closed because another finding made its inputs invalid counted as a
    rejection by that check (a size under the minimum read as a BALANCE refusal)."""
    payload = {"checks": [{"name": "BALANCE", "passed": False, "detail": f"{NOT_EVALUATED}size invalid"},
                          {"name": "INVALID_ORDER", "passed": False, "detail": "below the minimum"}]}
    assert failed_checks(payload) == ["INVALID_ORDER"]


def _fill(cid: str, market: str, action: str, size: str, price: str) -> SimpleNamespace:
    return SimpleNamespace(client_order_id=cid, venue="kalshi", market_id=market, side="yes", action=action,
                           size=size, price=price, fee="0")


def test_more_sold_than_bought_on_a_leg_is_not_valued() -> None:
    """R22: a leg sold below zero (more sold than the execution bought) was dropped from the excess and
    the execution read as unhedged, valued once settled, instead of a record that cannot be valued."""
    plan = {"legs": [{"venue": "kalshi", "market": m, "side": "yes"} for m in ("A", "B")]}
    row = SimpleNamespace(key="ex", opportunity_id="op", status="done", created_at="t")
    orders = [SimpleNamespace(client_order_id=c, execution_id="ex") for c in ("a", "a2", "b")]
    fills = [_fill("a", "A", "buy", "10", "0.4"), _fill("a2", "A", "sell", "12", "0.4"),
             _fill("b", "B", "buy", "10", "0.5")]
    e = _execution_quality(row, plan_figures(plan), orders, fills)
    assert e.outcome == "not_valued" and e.note.startswith("more sold than bought")
    assert e.realised_edge is None and e.realised_profit is None


def _execution(key: str, hedged: str, *, edge: str | None, profit: str | None, quoted: str | None = None,
               outcome: str = "hedged") -> ExecutionQuality:
    return ExecutionQuality(key, f"op-{key}", "done", "t", D(hedged), D(hedged),
                            None if quoted is None else D(quoted), None, None if edge is None else D(edge),
                            None if profit is None else D(profit), D(0), outcome=outcome)


def test_the_summary_edge_is_over_the_hedged_executions_only_and_rounded_down() -> None:
    """R23: contracts of an execution with no realised edge (a one-leg plan's, say) counted in the
    divisor understated the realised edge. R17: it is rounded down at 1e-6 (2/3 → 0.666666), never up."""
    execs = [_execution("a", "3", edge="0.666666", profit="2", quoted="0.7"),
             _execution("b", "5", edge=None, profit=None, outcome="not_valued")]
    s = Report("paper", None, None, T0, [], [], execs, 0).summary()
    assert (s["hedged_contracts"], s["realised_edge"], s["quoted_edge"]) == (D("3"), D("0.666666"), D("0.7"))
    loss = Report("paper", None, None, T0, [], [], [_execution("c", "3", edge="-0.333334", profit="-1")], 0)
    assert loss.summary()["realised_edge"] == D("-0.333334")  # toward −∞: a loss is never shown smaller


def test_an_excess_is_carried_with_its_share_of_the_buy_fees() -> None:
    """Found re-deriving a report by hand: 4 shares left unhedged were carried at their price alone, so their
    0.04 of the buy's fee was charged to the 6 hedged sets (profit 0.56 where it is 0.576)."""
    plan = {"legs": [{"venue": "kalshi", "market": m, "side": "yes"} for m in ("A", "B")]}
    row = SimpleNamespace(key="ex", opportunity_id="op", status="done", created_at="t")
    orders = [SimpleNamespace(client_order_id=c, execution_id="ex") for c in ("a", "b")]
    fills = [SimpleNamespace(client_order_id="a", venue="kalshi", market_id="A", side="yes", action="buy",
                             size="10", price="0.4", fee="0.04"), _fill("b", "B", "buy", "6", "0.5")]
    e = _execution_quality(row, plan_figures(plan), orders, fills)
    # paid 4 + 0.04 + 3 = 7.04; the 4 A shares beyond the 6 sets carried at 4 × 4.04 / 10 = 1.616
    assert (e.hedged, e.paid, e.realised_profit, e.realised_edge) == (D(6), D("7.04"), D("0.576"), D("0.096"))
    assert e.note.endswith("carried at cost 1.616, left out of the realised figures"), e.note


def test_an_answer_lost_and_found_later_or_by_another_process_is_no_latency_sample() -> None:
    """Found re-deriving the report: an order the venue answered in 10 ms, its answer recorded 4 s later by
    the resume after a SIGKILL (or by reconcile, 7 s later), was a 4,000 ms sample, the venue's p95 and p99
    on a small history. Only the sending process's own answer, with no order.unknown before it, counts."""
    def ev(seq: int, type_: str, cid: str, ms: int, actor: str) -> SimpleNamespace:
        return SimpleNamespace(**{**vars(event(seq, type_, cid, ms)), "actor": actor})

    answers = AnswerTimes()
    for e in (ev(1, "order.submitted", "same", 0, "trade-1"), ev(2, "order.filled", "same", 12, "trade-1"),
              ev(3, "order.submitted", "resumed", 0, "trade-1"), ev(4, "order.filled", "resumed", 4000, "trade-2"),
              ev(5, "order.submitted", "lost", 0, "trade-1"), ev(6, "order.unknown", "lost", 5000, "trade-1"),
              ev(7, "order.filled", "lost", 5200, "trade-1"), ev(8, "order.filled", "resumed", 4100, "trade-1")):
        answers.add(e.seq, e.type, e.ts, e.payload, e.actor)
    assert (answers.latency_ms("same"), answers.latency_ms("resumed"), answers.latency_ms("lost")) == (
        D(12), None, None)
