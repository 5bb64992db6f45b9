"""Execution quality from what the ledger and the audit log recorded (``orion report``).

Every figure is derived from recorded facts of one mode (paper or live) since an optional time
(orders by when they were sent, refusals by their event, executions by when they began or last
changed); nothing is estimated. A figure with no recorded input is ``None`` (null in JSON) and a note says
why, rather than a zero that looks like a measurement.

* **Fill rate** (per venue): fully filled orders / orders sent. "Sent" is every order that left
  the ``intent`` state; partial, cancelled, rejected and still-unanswered orders are counted
  separately. ``contract_fill_rate`` = contracts filled / contracts sent. Both rounded down to 1e-6
  (:func:`_rate`): 19999 filled of 20000 is 0.99995, never 1 (100%). A ``reconcile --fix``
  adjustment (``reconcile-adj-…``: the ledger brought to the venue's positions) was never sent and
  counts nowhere: not in orders or contracts sent or filled, slippage or latency.
* **Slippage against quote** (per venue, dollars per contract, positive = worse for us): each
  filled *buy* order of an execution: what its fills cost minus what the plan's price levels for
  its leg (``executions.plan`` ``specs[].planned_levels``: the fresh book walked just before
  sending) cost for the contracts it filled, cheapest first, after those its leg's earlier orders
  took (:mod:`orion_cli.execution.slippage`), divided by those contracts. Exact Decimal throughout,
  rounded only for display: the plan's ``avg_price`` is rounded up to 6 dp and is not the basis. A
  plan recorded before the levels were kept is measured against its leg's exact average
  (``legs[].cost`` / ``legs[].size``, else ``avg_price``), so a partial fill there is compared with
  the whole leg's average; a note says how many orders were. ``total`` is the sum in dollars;
  ``mean`` is contract-weighted (total / contracts); ``p50``/``p95`` are over orders. Orders that
  belong to no execution plan, and unwinding sells, have no quote to compare with.
* **Latency** (per venue, milliseconds, send → the venue's answer): the executor's own
  ``latency_ms`` for an order in ``executions.result`` when it recorded one; otherwise
  the audit log's ``order.submitted`` timestamp to the order's first answer event
  (``order.acknowledged``/``filled``/``partial``/``cancelled``/``rejected``), when the process that sent
  it wrote that answer and no ``order.unknown`` came between: an answer lost and found later (by a
  look-up, a resume after a crash or a halt, or ``reconcile``) is no measure of the venue, and one such
  order made a 4-second "p99" of a venue that answered in 10 ms (found re-deriving the report).
* **Rejections by check**: ``risk.rejected`` audit events, counted once per event for each check
  that failed in it (a check failing on both legs counts once). With a venue, a check that failed on
  one leg of a cross-venue plan counts for that leg's venue only; a plan-wide one for every venue.
* **Realised vs quoted edge** (per execution, per contract): the plan's legs (two or more) form a
  complete set paying $1 at settlement, so realised profit = hedged contracts × $1 − everything paid for the
  execution's orders (buys + fees − sale proceeds), where contracts bought beyond the hedged sets
  (a Polymarket overfill, a short unwind) are still held and so carried at their cost, their buy fees
  included (the leg's average per contract); realised edge
  = profit / hedged, at the quoted and planned edges' precision (1e-6, rounded down), so the three
  compare alike. An execution with nothing hedged but contracts still held has no realised edge
  until it settles (null, with a note). A fully unwound execution's profit is what the unwind cost:
  the summary's ``realised_profit`` includes it (and ``unwind_cost`` states it), while its
  ``realised_edge`` is over the hedged executions only, to compare with their quoted edge.

Percentiles use the nearest-rank method on exact Decimals (no interpolation, no floats).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select

from orion_cli.core.models import Venue
from orion_cli.core.money import ZERO
from orion_cli.core.opportunity import EDGE_STEP, ratio_down
from orion_cli.execution.plan import CHECK_ORDER, NOT_EVALUATED
from orion_cli.execution.slippage import levels_from_record, planned_cost
from orion_cli.execution.state import ADJUST_PREFIX, EXTERNAL_PREFIX, NEVER_SENT
from orion_cli.store.audit import iso_utc
from orion_cli.store.db import Database
from orion_cli.store.tables import MONEY_QUANTUM, audit_events, executions, fills, opportunities, orders, plain

ONE = Decimal(1)
MS_QUANTUM = Decimal("0.001")
ANSWER_EVENTS = ("order.acknowledged", "order.filled", "order.partial", "order.cancelled", "order.rejected")
SENT_STATUSES = ("submitted", "unknown", "open", "filled", "partial", "cancelled", "rejected")
UNSPECIFIED_CHECK = "UNSPECIFIED"


def _q(value: Decimal, quantum: Decimal = MONEY_QUANTUM) -> Decimal:
    return plain(value.quantize(quantum, rounding=ROUND_HALF_EVEN))


def _rate(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part`` / ``whole`` rounded down to 1e-6 (:func:`ratio_down`), None when ``whole`` is 0: a rate is never
    shown as more than it was (19999 orders filled of 20000, half-even to 4 places, read 1: all of them)."""
    return plain(ratio_down(Decimal(part), Decimal(whole))) if whole else None


def _edge(value: Decimal) -> Decimal:
    """An edge per contract at the precision the quoted and planned edges have (1e-6), so the figures a
    reader compares are alike: rounded down (toward −∞, never overstated), as the plan rounds its own,
    so a realised edge exactly the plan's reads as the plan's (it showed 10 places against their 6)."""
    return plain(value.quantize(EDGE_STEP, rounding=ROUND_FLOOR))


def percentile(values: Sequence[Decimal], pct: int) -> Decimal | None:
    """Nearest-rank percentile: the smallest value with at least ``pct``% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct * len(ordered) / 100))
    return ordered[rank - 1]


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool | float):
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _parse_ts(text: str) -> datetime | None:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past the decoder's depth (a damaged row)
        return None


# -- records -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlippageStats:
    orders: int
    contracts: Decimal
    mean: Decimal | None
    p50: Decimal | None
    p95: Decimal | None
    total: Decimal | None

    def to_record(self) -> dict[str, Any]:
        return {"orders": self.orders, "contracts": self.contracts, "mean": self.mean, "p50": self.p50,
                "p95": self.p95, "total": self.total}


@dataclass(frozen=True, slots=True)
class LatencyStats:
    samples: int
    p50: Decimal | None
    p95: Decimal | None
    p99: Decimal | None
    source: str | None  # executor | audit | mixed; None when nothing was recorded

    def to_record(self) -> dict[str, Any]:
        return {"samples": self.samples, "p50": self.p50, "p95": self.p95, "p99": self.p99, "source": self.source}


@dataclass(frozen=True, slots=True)
class VenueQuality:
    venue: str
    sent: int
    filled: int
    partial: int
    cancelled: int
    rejected: int
    unanswered: int  # submitted / unknown / open: no final answer recorded yet
    contracts_sent: Decimal
    contracts_filled: Decimal
    slippage: SlippageStats
    latency_ms: LatencyStats

    @property
    def fill_rate(self) -> Decimal | None:
        return _rate(self.filled, self.sent)

    @property
    def contract_fill_rate(self) -> Decimal | None:
        return _rate(self.contracts_filled, self.contracts_sent)

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "report_venue",
            "venue": self.venue,
            "orders_sent": self.sent,
            "filled": self.filled,
            "partial": self.partial,
            "cancelled": self.cancelled,
            "rejected": self.rejected,
            "unanswered": self.unanswered,
            "fill_rate": self.fill_rate,
            "contracts_sent": self.contracts_sent,
            "contracts_filled": self.contracts_filled,
            "contract_fill_rate": self.contract_fill_rate,
            "slippage": self.slippage.to_record(),
            "latency_ms": self.latency_ms.to_record(),
        }


@dataclass(frozen=True, slots=True)
class RejectionCount:
    check: str
    count: int
    last_at: str

    def to_record(self) -> dict[str, Any]:
        return {"type": "report_rejection", "check": self.check, "count": self.count, "last_at": self.last_at}


@dataclass(frozen=True, slots=True)
class ExecutionQuality:
    key: str
    opportunity_id: str
    status: str
    created_at: str
    planned_size: Decimal | None
    hedged: Decimal
    quoted_edge: Decimal | None  # what the scan promised, per contract
    planned_edge: Decimal | None  # on the fresh books just before sending
    realised_edge: Decimal | None
    realised_profit: Decimal | None
    paid: Decimal  # buys + fees − sale proceeds
    note: str = ""
    # What became of it: hedged (a realised edge), unwound (nothing hedged, nothing held), unhedged
    # (contracts held with no complete set), unfilled, or not_valued (a plan or fills it cannot value).
    outcome: str = "hedged"

    @property
    def edge_vs_quote(self) -> Decimal | None:
        if self.realised_edge is None or self.quoted_edge is None:
            return None
        return plain(self.realised_edge - self.quoted_edge)

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "report_execution",
            "key": self.key,
            "opportunity_id": self.opportunity_id,
            "status": self.status,
            "created_at": self.created_at,
            "planned_size": self.planned_size,
            "hedged": self.hedged,
            "paid": self.paid,
            "quoted_edge": self.quoted_edge,
            "planned_edge": self.planned_edge,
            "realised_edge": self.realised_edge,
            "edge_vs_quote": self.edge_vs_quote,
            "realised_profit": self.realised_profit,
            "note": self.note or None,
        }


@dataclass
class Report:
    mode: str
    since: str | None
    venue: str | None
    generated_at: datetime
    venues: list[VenueQuality]
    rejections: list[RejectionCount]
    executions: list[ExecutionQuality]
    rejection_events: int
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(v.sent for v in self.venues) and not self.executions and not self.rejection_events

    def summary(self) -> dict[str, Any]:
        sent = sum(v.sent for v in self.venues)
        filled = sum(v.filled for v in self.venues)
        with_edge = [e for e in self.executions if e.realised_edge is not None]
        hedged = sum((e.hedged for e in with_edge), ZERO)
        profit = sum((e.realised_profit or ZERO for e in with_edge), ZERO)
        # Fully unwound executions have a profit (the unwind's cost) but no edge: left out of the
        # edge, which compares with the quote per hedged contract, but never out of the profit.
        unwound = [e for e in self.executions if e.realised_edge is None and e.realised_profit is not None]
        unwind_cost = -sum((e.realised_profit or ZERO for e in unwound), ZERO)
        quoted = [e for e in with_edge if e.quoted_edge is not None]
        quoted_hedged = sum((e.hedged for e in quoted), ZERO)
        return {
            "type": "report_summary",
            "mode": self.mode,
            "since": self.since,
            "venue": self.venue,
            "generated_at": self.generated_at,
            "empty": self.empty,
            "orders_sent": sent,
            "orders_filled": filled,
            "fill_rate": _rate(filled, sent),
            "executions": len(self.executions),
            "executions_with_realised_edge": len(with_edge),
            "hedged_contracts": hedged,
            "realised_profit": plain(profit - unwind_cost) if with_edge or unwound else None,
            "unwind_cost": plain(unwind_cost),
            "realised_edge": _edge(profit / hedged) if hedged else None,
            "quoted_edge": _edge(sum((e.quoted_edge * e.hedged for e in quoted if e.quoted_edge is not None), ZERO)
                                 / quoted_hedged) if quoted_hedged else None,
            "rejection_events": self.rejection_events,
            "notes": list(self.notes),
        }

    def records(self) -> list[dict[str, Any]]:
        """Summary first, then venues, rejections by check, executions (all with ``"type": "report_*"``)."""
        return [self.summary(), *(v.to_record() for v in self.venues), *(r.to_record() for r in self.rejections),
                *(e.to_record() for e in self.executions)]


# -- building ----------------------------------------------------------------------------------------


def _plan_legs(plan: Any) -> list[dict[str, Any]]:
    legs = plan.get("legs") if isinstance(plan, dict) else None
    return [leg for leg in legs if isinstance(leg, dict)] if isinstance(legs, list) else []


def _leg_venues(record: Any) -> list[str]:
    """The venue of each leg of a stored opportunity record, in order (a plan's legs are its legs)."""
    legs = record.get("legs") if isinstance(record, dict) else None
    if not isinstance(legs, list):
        return []
    return [leg["venue"] if isinstance(leg, dict) and isinstance(leg.get("venue"), str) else "" for leg in legs]


def _leg_key(venue: Any, market: Any, side: Any) -> tuple[str, str, str]:
    return str(venue), str(market), str(side)


def _executor_latencies(result: Any) -> dict[str, Decimal]:
    """The executor's ``latency_ms`` by client order id, where it recorded one.

    Read from ``result["legs"][tag]`` (entries carrying ``coid``) and ``result["orders"][i]``
    (entries carrying ``client_order_id``).
    """
    out: dict[str, Decimal] = {}
    if not isinstance(result, dict):
        return out
    entries: list[Any] = []
    legs, listed = result.get("legs"), result.get("orders")
    if isinstance(legs, dict):
        entries += list(legs.values())
    if isinstance(listed, list):
        entries += listed
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        cid, ms = entry.get("coid") or entry.get("client_order_id"), _dec(entry.get("latency_ms"))
        if isinstance(cid, str) and cid and ms is not None and ms >= 0:
            out[cid] = ms
    return out


def failed_checks(payload: Mapping[str, Any]) -> list[str]:
    """The failing check names a ``risk.rejected`` event records, however the executor spelled them.

    Accepted: ``checks`` (check records with ``name``/``passed``), ``failed``/``failed_checks``/
    ``failing`` (names or check records), or one ``check``/``reason``/``name``.
    """
    return list(dict.fromkeys(name for name, _ in _failed_on_legs(payload)))  # once per event, first-seen order


def _failed_on_legs(payload: Mapping[str, Any]) -> list[tuple[str, int | None]]:
    """(check name, the plan leg it failed on, None for a plan-wide check) for every failing check a
    ``risk.rejected`` event records (:func:`failed_checks`), each pair once, first-seen order."""
    found: list[tuple[str, int | None]] = []
    checks = payload.get("checks")
    if isinstance(checks, list):
        found += [(str(c["name"]), _leg_index(c)) for c in checks
                  if isinstance(c, dict) and c.get("name") and c.get("passed") is False and not _skipped(c)]
    for key in ("failed", "failed_checks", "failing"):
        listed = payload.get(key)
        if isinstance(listed, list):
            for c in listed:
                if isinstance(c, str) and c:
                    found.append((c, None))
                elif isinstance(c, dict) and c.get("name") and not _skipped(c):
                    found.append((str(c["name"]), _leg_index(c)))
    if not found:
        for key in ("check", "reason", "name"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                found.append((value, None))
                break
    return list(dict.fromkeys(found))


def _leg_index(check: Mapping[str, Any]) -> int | None:
    leg = check.get("leg")
    return leg if isinstance(leg, int) and not isinstance(leg, bool) and leg >= 0 else None


def _skipped(check: Mapping[str, Any]) -> bool:
    """A check not evaluated (another finding made its inputs invalid): it fails closed, but it is not a
    rejection by that check (a size below a venue's minimum is INVALID_ORDER's, not BALANCE's)."""
    return str(check.get("detail", "")).startswith(NOT_EVALUATED)


def _check_sort_key(name: str) -> tuple[int, str]:
    return (CHECK_ORDER.index(name), "") if name in CHECK_ORDER else (len(CHECK_ORDER), name)


# A batch of a streamed read: small enough that a year's plans and payloads are never all held.
_ROWS_PER_BATCH = 1000
# The columns of an order and of a fill the report reads (not an order's request payload).
_ORDER_COLUMNS = (orders.c.client_order_id, orders.c.execution_id, orders.c.venue, orders.c.market_id, orders.c.side,
                  orders.c.action, orders.c.size, orders.c.filled_size, orders.c.avg_fill_price, orders.c.status,
                  orders.c.reject_reason)
_FILL_COLUMNS = (fills.c.client_order_id, fills.c.venue, fills.c.market_id, fills.c.side, fills.c.action, fills.c.size,
                 fills.c.price, fills.c.fee)
_EXECUTION_COLUMNS = (executions.c.key, executions.c.opportunity_id, executions.c.status, executions.c.created_at)


@dataclass(frozen=True, slots=True)
class _Execution:
    key: str
    opportunity_id: str
    status: str
    created_at: str


@dataclass(frozen=True, slots=True)
class _Refusal:
    ts: str
    venue: str | None


# What the report reads of a plan (see _plan_legs, _planned_cost, _execution_quality).
_PLAN_KEYS = ("size", "quoted_net_edge", "net_edge")
_PLAN_LIST_KEYS = {"legs": ("venue", "market", "side", "cost", "size", "avg_price"),
                   "specs": ("venue", "market", "side", "planned_levels")}


def plan_figures(plan: Any) -> dict[str, Any] | None:
    """An execution's stored plan cut to what the report reads of it; its books, fee models and the
    rest are dropped as it is read (a parsed plan is some kilobytes; a year has tens of thousands)."""
    if not isinstance(plan, dict):
        return None
    kept = {k: plan[k] for k in _PLAN_KEYS if k in plan}
    for name, keys in _PLAN_LIST_KEYS.items():
        entries = plan.get(name)
        if isinstance(entries, list):
            kept[name] = [{k: e[k] for k in keys if k in e} for e in entries if isinstance(e, dict)]
    return kept


class AnswerTimes:
    """Each order's ``order.submitted`` time and its first answer after it, fed the audit log's events
    in sequence one at a time (a year's payloads are not held)."""

    def __init__(self) -> None:
        self._submitted: dict[str, tuple[int, datetime, str]] = {}  # cid → (seq, time, the sender's actor)
        self._answered: dict[str, datetime | None] = {}  # None: no measure (answered late, or elsewhere)

    def add(self, seq: int, type_: str, ts_text: str, payload_text: str | None, actor: str | None = None) -> None:
        payload = _loads(payload_text)
        cid = payload.get("client_order_id") if isinstance(payload, dict) else None
        ts = _parse_ts(ts_text)
        if not isinstance(cid, str) or ts is None:
            return
        if type_ == "order.submitted":
            self._submitted.setdefault(cid, (seq, ts, actor or ""))
        elif cid in self._submitted and cid not in self._answered and seq > self._submitted[cid][0]:
            # The actor names the process (command, user, host, pid): another one answered it after a restart.
            self._answered[cid] = ts if type_ in ANSWER_EVENTS and (actor or "") == self._submitted[cid][2] else None

    def latency_ms(self, cid: str) -> Decimal | None:
        """Send → first answer in milliseconds, exact; None without both."""
        answered = self._answered.get(cid)
        if cid not in self._submitted or answered is None:
            return None
        delta = answered - self._submitted[cid][1]
        return Decimal(delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) / 1000


def build_report(db: Database, *, mode: str, since: datetime | None = None, venue: Venue | None = None,
                 now: datetime | None = None) -> Report:
    """The report for ``mode`` over everything recorded at or after ``since`` (all of it when None)."""
    since_text = iso_utc(since) if since is not None else None
    wanted = [venue.value] if venue is not None else [v.value for v in Venue]
    order_where = [orders.c.mode == mode, orders.c.venue.in_(wanted)]
    exec_where = [executions.c.mode == mode]
    event_where = [audit_events.c.mode == mode,
                   audit_events.c.type.in_(("order.submitted", *ANSWER_EVENTS, "order.unknown", "risk.rejected"))]
    if since_text is not None:
        order_where.append(orders.c.created_at >= since_text)
        # An execution counts where it began or last changed: one halted overnight and unwound in the morning
        # realised its loss in the morning, which a window by its start alone left out of every report
        # starting after it began, while counting the sell-back that realised it (found re-deriving the report).
        exec_where.append(or_(executions.c.created_at >= since_text, executions.c.updated_at >= since_text))
        event_where.append(audit_events.c.ts >= since_text)
    # Sub-selects and joins rather than lists of ids: no bound-parameter limit on a long history.
    window_keys = select(executions.c.key).where(*exec_where)
    # The plans and results, and the audit payloads, are read a batch at a time and kept only as the
    # figures they give: a year's of them held whole, parsed, took half a gigabyte (found at s53's scale).
    streamed = {"yield_per": _ROWS_PER_BATCH}
    plans: dict[str, Any] = {}
    executor_latency: dict[str, Decimal] = {}
    exec_rows: list[_Execution] = []
    answers = AnswerTimes()
    rejected: list[tuple[Any, Any]] = []
    with db.read() as conn:
        order_rows = conn.execute(select(*_ORDER_COLUMNS).where(*order_where)
                                  .order_by(orders.c.created_at, orders.c.client_order_id)).all()
        for row in conn.execute(select(*_EXECUTION_COLUMNS, executions.c.plan, executions.c.result)
                                .where(*exec_where).order_by(executions.c.created_at, executions.c.key)
                                .execution_options(**streamed)):
            exec_rows.append(_Execution(row.key, row.opportunity_id, row.status, row.created_at))
            plans[row.key] = plan_figures(_loads(row.plan))
            executor_latency.update(_executor_latencies(_loads(row.result)))
        # Plans of executions started before the window whose orders fall inside it (for slippage).
        for earlier in conn.execute(select(executions.c.key, executions.c.plan, executions.c.result).where(
                executions.c.key.in_(select(orders.c.execution_id).where(*order_where)),
                executions.c.key.not_in(window_keys)).execution_options(**streamed)):
            plans[earlier.key] = plan_figures(_loads(earlier.plan))
            executor_latency.update(_executor_latencies(_loads(earlier.result)))
        for ev in conn.execute(select(audit_events.c.seq, audit_events.c.ts, audit_events.c.type,
                                      audit_events.c.venue, audit_events.c.payload, audit_events.c.actor)
                               .where(*event_where).order_by(audit_events.c.seq).execution_options(**streamed)):
            if ev.type != "risk.rejected":
                answers.add(ev.seq, ev.type, ev.ts, ev.payload, ev.actor)
            elif venue is None or ev.venue is None or ev.venue == venue.value:
                # The refusals the report counts, each payload read once.
                rejected.append((_Refusal(ev.ts, ev.venue), _loads(ev.payload)))
        # A cross-venue refusal recorded before events named their legs' venues: its opportunity's legs.
        unplaced = sorted({p["opportunity_id"] for ev, p in rejected
                           if venue is not None and ev.venue is None and isinstance(p, dict)
                           and "leg_venues" not in p and isinstance(p.get("opportunity_id"), str)})
        opportunity_venues: dict[str, list[str]] = {}
        for start in range(0, len(unplaced), _IDS_PER_QUERY):  # a long history's ids, in bounded lists
            opportunity_venues.update((row.id, _leg_venues(_loads(row.record))) for row in conn.execute(
                select(opportunities.c.id, opportunities.c.record)
                .where(opportunities.c.id.in_(unplaced[start:start + _IDS_PER_QUERY]))))
        # No mode term where the ids already carry it (an execution's key, an order's id, are one mode's):
        # on a PostgreSQL ledger without statistics (autovacuum off, after pg_upgrade or a restore) the
        # planner took `mode = …` for a rare value and probed a mode-leading index once per outer row, every
        # row each time: the whole window squared (a year's report: 3 minutes, found reviewing scale).
        exec_orders = conn.execute(select(orders.c.client_order_id, orders.c.execution_id)
                                   .where(orders.c.execution_id.in_(window_keys))).all()
        fill_rows = conn.execute(select(*_FILL_COLUMNS)
                                 .join(orders, fills.c.client_order_id == orders.c.client_order_id)
                                 .where(orders.c.execution_id.in_(window_keys))).all()
        # For slippage: what each buy in the window paid (its fills), and every buy of its execution,
        # in the window or not, so a retry is measured against the levels the earlier orders left.
        buy_fills = conn.execute(select(fills.c.client_order_id, fills.c.size, fills.c.price).where(
            fills.c.client_order_id.in_(
                select(orders.c.client_order_id).where(*order_where, orders.c.action == "buy")))).all()
        exec_buys = conn.execute(select(orders.c.client_order_id, orders.c.execution_id, orders.c.venue,
                                        orders.c.market_id, orders.c.side, orders.c.filled_size,
                                        orders.c.created_at).where(
            orders.c.action == "buy",
            orders.c.execution_id.in_(select(orders.c.execution_id).where(*order_where)))).all()

    notes: list[str] = []
    paid = _paid(buy_fills)
    before = _bought_before(exec_buys)
    venues = _venue_quality(wanted, order_rows, plans, paid, before, executor_latency, answers, notes)
    rejections, rejection_events = _rejections(rejected, venue, opportunity_venues, notes)
    # Each execution is given its own orders and fills: scanning the window's for each one was quadratic
    # (a year's `orion report` ran for half an hour, found reviewing an old ledger).
    orders_of: dict[str, list[Any]] = {}
    for o in exec_orders:
        orders_of.setdefault(o.execution_id, []).append(o)
    fills_of: dict[str, list[Any]] = {}
    for f in fill_rows:
        fills_of.setdefault(f.client_order_id, []).append(f)
    execs = []
    for execution in exec_rows:
        plan = plans.get(execution.key)
        if venue is not None and all(leg.get("venue") != venue.value for leg in _plan_legs(plan)):
            continue
        own = orders_of.get(execution.key, [])
        execs.append(_execution_quality(execution, plan, own,
                                        [f for o in own for f in fills_of.get(o.client_order_id, ())]))
    if execs and all(e.realised_edge is None for e in execs):
        notes.append(_no_realised_edge(execs))
    report = Report(mode=mode, since=since_text, venue=venue.value if venue else None,
                    generated_at=now or datetime.now(UTC), venues=venues, rejections=rejections, executions=execs,
                    rejection_events=rejection_events, notes=notes)
    if report.empty:
        window = f" since {since_text}" if since_text else ""
        where = f" on {venue.value}" if venue else ""
        report.notes.insert(0, f"nothing to report: no orders, executions or risk rejections in the {mode} "
                               f"ledger{where}{window}")
    return report


NO_EDGE_OUTCOMES = {  # why an execution has no realised edge, as the summary note counts them
    "unwound": "fully unwound (the cost is in realised_profit and unwind_cost)",
    "unhedged": "holding unhedged contracts, valued once settled",
    "unfilled": "with nothing filled",
    "not_valued": "not valued",
}


def _no_realised_edge(execs: Sequence[ExecutionQuality]) -> str:
    """The note for a report in which no execution has a realised edge, counting why.

    It said "no execution is fully hedged yet" whatever the reason, also when every execution was
    unwound or never filled: none of those will ever be hedged."""
    counts = {outcome: sum(1 for e in execs if e.outcome == outcome) for outcome in NO_EDGE_OUTCOMES}
    why = ", ".join(f"{n} {NO_EDGE_OUTCOMES[outcome]}" for outcome, n in counts.items() if n)
    return f"realised edge: none, as no execution ended hedged: {why}; see each execution's note"


def _paid(fill_rows: Iterable[Any]) -> dict[str, tuple[Decimal, Decimal]]:
    """(contracts, dollars) each order's listed fills add up to, by client order id."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for f in fill_rows:
        size, price = Decimal(f.size), Decimal(f.price)
        n, cost = out.get(f.client_order_id, (ZERO, ZERO))
        out[f.client_order_id] = (n + size, cost + size * price)
    return out


def _bought_before(buy_rows: Iterable[Any]) -> dict[str, Decimal]:
    """Per buy order: the contracts its leg's earlier buys (same execution, venue, market and side)
    filled, in the order they were created (a hedge retry after its ``l2``)."""
    legs: dict[tuple[str, str, str, str], list[Any]] = {}
    for r in buy_rows:
        legs.setdefault((r.execution_id, *_leg_key(r.venue, r.market_id, r.side)), []).append(r)
    out: dict[str, Decimal] = {}
    for rows in legs.values():
        so_far = ZERO
        for r in sorted(rows, key=lambda r: (r.created_at, r.client_order_id)):
            out[r.client_order_id] = so_far
            so_far += Decimal(r.filled_size)
    return out


def _venue_quality(wanted: Sequence[str], order_rows: Sequence[Any], plans: Mapping[str, Any],
                   paid: Mapping[str, tuple[Decimal, Decimal]], before: Mapping[str, Decimal],
                   executor_latency: Mapping[str, Decimal], answers: AnswerTimes,
                   notes: list[str]) -> list[VenueQuality]:
    out: list[VenueQuality] = []
    unquoted = averaged = 0
    for name in wanted:
        # An intent cancelled before it was sent (abandoned, superseded, halted) reached no venue; nor
        # did a reconcile --fix adjustment, a "filled" order the ledger wrote to match the venue; an
        # order placed outside orion (ext-…, adopted by reconcile --fix) is not orion's execution. One that
        # filled was sent, whatever its reason (reconcile's "never reached" stays on an order a late fill is
        # recorded on).
        rows = [r for r in order_rows if r.venue == name and r.status in SENT_STATUSES
                and (not r.reject_reason.startswith(NEVER_SENT) or Decimal(r.filled_size) > 0)
                and not r.client_order_id.startswith((ADJUST_PREFIX, EXTERNAL_PREFIX))]
        count = {s: sum(1 for r in rows if r.status == s) for s in SENT_STATUSES}
        slips: list[tuple[Decimal, Decimal]] = []  # (dollars over plan, contracts), exact
        latencies: list[Decimal] = []
        sources: set[str] = set()
        for r in rows:
            filled = Decimal(r.filled_size)
            if r.action == "buy" and filled > 0 and r.avg_fill_price is not None:
                planned, by_levels = _planned_cost(plans.get(r.execution_id or ""), r.venue, r.market_id, r.side,
                                                   filled, before.get(r.client_order_id, ZERO))
                if planned is None:
                    unquoted += 1
                else:
                    averaged += not by_levels
                    listed, cost = paid.get(r.client_order_id, (ZERO, ZERO))
                    # The ledger's filled size is its fills' sum; its average is rounded to 10 dp, so
                    # it is the fallback only for an order whose fills are not (all) in the ledger.
                    spent = cost if listed == filled else Decimal(r.avg_fill_price) * filled
                    slips.append((spent - planned, filled))
            cid = r.client_order_id
            if cid in executor_latency:
                latencies.append(_q(executor_latency[cid], MS_QUANTUM))
                sources.add("executor")
            elif (ms := answers.latency_ms(cid)) is not None:
                latencies.append(_q(ms, MS_QUANTUM))
                sources.add("audit")
        contracts = sum((c for _, c in slips), ZERO)
        total = sum((s for s, _ in slips), ZERO)
        per_order = [s / c for s, c in slips]
        slippage = SlippageStats(
            orders=len(slips), contracts=contracts, mean=_q(total / contracts) if contracts else None,
            p50=_q_or_none(percentile(per_order, 50)), p95=_q_or_none(percentile(per_order, 95)),
            total=_q(total) if slips else None)
        latency = LatencyStats(
            samples=len(latencies), p50=percentile(latencies, 50), p95=percentile(latencies, 95),
            p99=percentile(latencies, 99),
            source=None if not sources else ("mixed" if len(sources) > 1 else next(iter(sources))))
        if rows and not latencies:
            notes.append(f"latency on {name}: not recorded (no executor latency and no order.submitted → "
                         "answer pair in the audit log)")
        out.append(VenueQuality(
            venue=name, sent=len(rows), filled=count["filled"], partial=count["partial"],
            cancelled=count["cancelled"], rejected=count["rejected"],
            unanswered=count["submitted"] + count["unknown"] + count["open"],
            contracts_sent=sum((Decimal(r.size) for r in rows), ZERO),
            contracts_filled=sum((Decimal(r.filled_size) for r in rows), ZERO),
            slippage=slippage, latency_ms=latency))
    if unquoted:
        notes.append(f"slippage: {unquoted} filled buy order(s) have no planned price (not part of an "
                     "execution plan) and are left out")
    if averaged:
        notes.append(f"slippage: {averaged} order(s) of executions recorded before plans kept their price "
                     "levels are measured against the leg's planned average (a partial fill there is not "
                     "compared with the cheapest levels)")
    return out


def _q_or_none(value: Decimal | None) -> Decimal | None:
    return None if value is None else _q(value)


def _planned_cost(plan: Any, venue: str, market: str, side: str, quantity: Decimal,
                  after: Decimal) -> tuple[Decimal | None, bool]:
    """(what the plan's leg would have cost for ``quantity`` after its first ``after`` contracts, whether
    that is from its recorded levels); (None, False) when the plan has no such leg or no price for it.

    Without levels (a plan recorded by an earlier version) it is the leg's exact average, ``cost`` /
    ``size``, × quantity, or, lacking those, its ``avg_price`` (rounded up to 6 dp) × quantity."""
    key = (venue, market, side)
    specs = plan.get("specs") if isinstance(plan, dict) else None
    for spec in specs if isinstance(specs, list) else []:
        if isinstance(spec, dict) and _leg_key(spec.get("venue"), spec.get("market"), spec.get("side")) == key:
            try:
                levels = levels_from_record(spec.get("planned_levels"))
            except (TypeError, ValueError, ArithmeticError):
                levels = ()
            cost = planned_cost(levels, quantity, after=after)
            if cost is not None:
                return cost, True
    for leg in _plan_legs(plan):
        if _leg_key(leg.get("venue"), leg.get("market"), leg.get("side")) == key:
            cost, size = _dec(leg.get("cost")), _dec(leg.get("size"))
            if cost is not None and size is not None and size > 0:
                return cost * quantity / size, False
            avg = _dec(leg.get("avg_price"))
            return (None if avg is None else avg * quantity), False
    return None, False


# Ids per IN list: far below SQLite's and PostgreSQL's bound-parameter limits.
_IDS_PER_QUERY = 500


def _rejections(rejected: Iterable[tuple[Any, Any]], venue: Venue | None,
                opportunity_venues: Mapping[str, list[str]], notes: list[str]) -> tuple[list[RejectionCount], int]:
    """Rejections by check; with ``venue``, those of its legs and the plan-wide ones. ``rejected``: the
    ``risk.rejected`` events of the window not on another venue alone, each with its parsed payload.

    An event's ``venue`` column names the venue every leg is on (a within-venue plan) and is empty for
    a cross-venue one: there a check that failed on one leg (its ``leg``) is that leg's venue's, read
    from the event's ``leg_venues``, or, for an event recorded before those were kept, from its
    opportunity's legs (``opportunity_venues``; the plan's legs are its legs, in order). A check with
    no leg (a whole plan's) is every venue's; so is a leg check whose venue is not known (noted)."""
    counts: dict[str, int] = {}
    last: dict[str, str] = {}
    events = unplaced = 0
    for ev, payload in rejected:
        found = _failed_on_legs(payload) if isinstance(payload, dict) else []
        names: list[str] = []
        if venue is None or ev.venue is not None:
            names = [name for name, _ in found]
        else:
            listed = payload.get("leg_venues") if isinstance(payload, dict) else None
            if not isinstance(listed, list):
                opportunity_id = payload.get("opportunity_id") if isinstance(payload, dict) else None
                listed = opportunity_venues.get(opportunity_id, []) if isinstance(opportunity_id, str) else []
            guessed = False
            for name, leg in found:
                if leg is None:
                    names.append(name)
                elif leg < len(listed) and isinstance(listed[leg], str) and listed[leg]:
                    if listed[leg] == venue.value:
                        names.append(name)
                else:
                    guessed = True
                    names.append(name)
            unplaced += guessed
            if found and not names:
                continue  # every check it failed on is another venue's leg
        names = list(dict.fromkeys(names))
        events += 1
        for name in names or [UNSPECIFIED_CHECK]:
            counts[name] = counts.get(name, 0) + 1
            last[name] = ev.ts
    if unplaced:
        notes.append(f"rejections: {unplaced} event(s) name a failing leg whose venue is not recorded (before "
                     "events named their legs' venues, and the opportunity is no longer stored); counted on "
                     "every venue")
    lines = [RejectionCount(n, counts[n], last[n]) for n in sorted(counts, key=_check_sort_key)]
    return lines, events


def _execution_quality(row: Any, plan: Any, exec_orders: Sequence[Any], fill_rows: Sequence[Any]) -> ExecutionQuality:
    """``row``'s execution valued from its fills; ``plan`` is its plan as :func:`plan_figures` keeps it."""
    plan_d = plan if isinstance(plan, dict) else {}
    legs = [_leg_key(leg.get("venue"), leg.get("market"), leg.get("side")) for leg in _plan_legs(plan)]
    mine = {o.client_order_id for o in exec_orders if o.execution_id == row.key}
    held: dict[tuple[str, str, str], Decimal] = {}
    # contracts, what they cost with their buy fees: an excess is carried at that, so no part of its fee is
    # charged to the hedged sets (found re-deriving a report by hand: 4 shares' 0.04 of fee were)
    bought: dict[tuple[str, str, str], tuple[Decimal, Decimal]] = {}
    paid = ZERO
    filled_any = False
    for f in fill_rows:
        if f.client_order_id not in mine:
            continue
        filled_any = True
        size, price, fee = Decimal(f.size), Decimal(f.price), Decimal(f.fee)
        key = _leg_key(f.venue, f.market_id, f.side)
        if f.action == "buy":
            held[key] = held.get(key, ZERO) + size
            n, cost = bought.get(key, (ZERO, ZERO))
            bought[key] = (n + size, cost + size * price + fee)
            paid += size * price + fee
        else:
            held[key] = held.get(key, ZERO) - size
            paid += fee - size * price
    hedged = max(min((held.get(k, ZERO) for k in legs), default=ZERO), ZERO)
    excess = {k: held.get(k, ZERO) - (hedged if k in legs else ZERO) for k in sorted({*held, *legs})}
    excess = {k: v for k, v in excess.items() if v != 0}
    described = ", ".join(f"{plain(v)} on {k[0]}:{k[1]}:{k[2]}" for k, v in excess.items())
    carried = sum((_q(v * bought[k][1] / bought[k][0]) for k, v in excess.items() if v > 0 and k in bought), ZERO)
    note = ""
    outcome = "hedged"
    realised: Decimal | None = None
    profit: Decimal | None = None
    if len(set(legs)) < 2:
        note, outcome = "the plan records fewer than two legs, so no complete set to value", "not_valued"
    elif not filled_any:
        note, outcome = "nothing filled", "unfilled"
    elif any(v < 0 for v in excess.values()):
        note, outcome = f"more sold than bought ({described}); not valued", "not_valued"
    elif hedged == 0 and excess:
        note, outcome = f"unhedged {described}; realised edge unknown until settled", "unhedged"
    elif hedged == 0:
        note, outcome = "nothing hedged (fully unwound): the realised profit is the unwind's cost", "unwound"
        profit = plain(-paid)
    else:
        # Contracts beyond the hedged sets are still held: carried at their cost, not realised.
        profit = plain(hedged * ONE - (paid - carried))
        realised = _edge(profit / hedged)
        if excess:
            note = f"unhedged {described} carried at cost {plain(carried)}, left out of the realised figures"
    return ExecutionQuality(
        key=row.key, opportunity_id=row.opportunity_id, status=row.status, created_at=row.created_at,
        planned_size=_dec(plan_d.get("size")), hedged=plain(hedged), quoted_edge=_dec(plan_d.get("quoted_net_edge")),
        planned_edge=_dec(plan_d.get("net_edge")), realised_edge=realised, realised_profit=profit,
        paid=plain(paid), note=note, outcome=outcome)
