"""The ledger's orders as reconcile reads them, and what the venue clients are told of them.

Lookups go by the ids orion persisted before sending, so an order is matched to the venue's answer
without guessing, and one an executor may be sending this moment is recognised as such; a restarted
client is taught what those orders meant (sides, tokens, fees) before its answers are read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, select

from orion_cli.core.models import Side, Venue
from orion_cli.core.reconcile.results import NOT_FINAL, OPEN_STATUSES
from orion_cli.execution.state import ExecStatus, load_result
from orion_cli.store.audit import canonical_json
from orion_cli.store.tables import executions, fills, orders
from orion_cli.venues.trading import Action, Fill, OrderRequest, OrderStatus, TimeInForce, TradingVenue

log = logging.getLogger(__package__)  # the package's: as before it was split


def ledger_coid(prefix: str, venue: Venue, ref: str) -> str:
    """A deterministic client order id for an adopted order (≤ 100 chars, the column's width)."""
    coid = f"{prefix}{venue.value}-{ref}"
    if len(coid) <= 100:
        return coid
    return f"{prefix}{venue.value}-{hashlib.sha256(ref.encode()).hexdigest()[:64]}"


def _request_of(row: Row[Any]) -> OrderRequest | None:
    try:
        tif = TimeInForce(row.time_in_force)
        return OrderRequest(Venue(row.venue), row.market_id, Side(row.side), Action(row.action), Decimal(row.size),
                            Decimal(row.limit_price), tif, row.client_order_id, token_id=row.token_id)
    except ValueError:
        return None


def teach(tv: TradingVenue, rows: Sequence[Row[Any]]) -> None:
    """Tell a live client what our persisted orders meant, as a restarted process must.

    Kalshi reports an ``ask`` identically for "sell YES" and "buy NO" (``remember`` disambiguates);
    Polymarket needs token → (market, side) to name markets as the ledger does (``register_token``).
    """
    remember = getattr(tv, "remember", None)
    register = getattr(tv, "register_token", None)
    for row in rows:
        request = _request_of(row)
        if request is None:
            continue
        if callable(remember):
            remember(request, row.venue_order_id)
        if callable(register) and row.token_id:
            register(row.token_id, row.market_id, request.side)


def teach_fees(conn: Connection, tv: TradingVenue, venue: Venue, rows: Sequence[Row[Any]]) -> None:
    """Tell a client (``remember_fee``) the fee model each of these orders' executions planned its
    ``venue`` legs with.

    Why: Polymarket's trade records do not reliably report the fee charged (a V2 taker fill has been
    seen with ``fee_rate_bps`` 0), so its client charges a fill by the market's model when it knows
    one. Each execution's plan persists its legs' models, and reading them is one local query (no
    venue request): the fills reconcile records for orion's own orders are then charged as the trade
    that sent them charges them. A plan that cannot be read teaches nothing; those fills, and fills in
    markets orion never planned, keep the trade record's rate.
    """
    remember_fee = getattr(tv, "remember_fee", None)
    keys = sorted({row.execution_id for row in rows if row.execution_id})
    if not callable(remember_fee) or not keys:
        return
    from orion_cli.execution.executor import LegSpec

    for key, text in conn.execute(select(executions.c.key, executions.c.plan).where(executions.c.key.in_(keys))):
        try:
            specs = [LegSpec.from_record(rec) for rec in load_result(text).get("specs", [])]
        except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            log.warning("reconcile: the plan of execution %s cannot be read for its fee models (%s)", key, exc)
            continue
        for spec in specs:
            if spec.venue is venue:
                remember_fee(spec.market_id, spec.fee_model)


def order_rows(conn: Connection, mode: str, venue: Venue, *, statuses: Sequence[OrderStatus] = (),
               since: datetime | None = None) -> list[Row[Any]]:
    stmt = select(orders).where(orders.c.mode == mode, orders.c.venue == venue.value)
    if statuses:
        stmt = stmt.where(orders.c.status.in_([s.value for s in statuses]))
    if since is not None:
        from orion_cli.store.audit import iso_utc

        stmt = stmt.where(orders.c.created_at >= iso_utc(since))
    return list(conn.execute(stmt.order_by(orders.c.created_at, orders.c.client_order_id)).all())


def find_row(conn: Connection, mode: str, venue: Venue, *, client_order_id: str = "",
             venue_order_id: str = "") -> Row[Any] | None:
    if client_order_id:
        row = conn.execute(select(orders).where(orders.c.client_order_id == client_order_id)).first()
        if row is not None and row.mode == mode and row.venue == venue.value:
            return row
    if venue_order_id:
        return conn.execute(select(orders).where(
            orders.c.mode == mode, orders.c.venue == venue.value, orders.c.venue_order_id == venue_order_id)
            .order_by(orders.c.created_at)).first()
    return None


def order_being_sent(conn: Connection, mode: str, venue: Venue, f: Fill) -> bool:
    """Whether the ledger holds an order of ours that ``f`` may belong to: same venue, market, side and
    action, not final, and with no venue order id yet (so no fill could be matched to it)."""
    return conn.execute(select(orders.c.client_order_id).where(
        orders.c.mode == mode, orders.c.venue == venue.value, orders.c.market_id == f.market_id,
        orders.c.side == f.side.value, orders.c.action == f.action.value, orders.c.venue_order_id == "",
        orders.c.status.in_([s.value for s in NOT_FINAL])).limit(1)).first() is not None


def external_payload(**fields: Any) -> str:
    return canonical_json({"external": True, "adopted_by": "reconcile", **fields})


def known_fill_ids(conn: Connection, mode: str, venue: Venue, ids: Sequence[str] | None = None) -> set[str]:
    stmt = select(fills.c.fill_id).where(fills.c.mode == mode, fills.c.venue == venue.value)
    if ids is not None:
        if not ids:
            return set()
        stmt = stmt.where(fills.c.fill_id.in_(list(ids)))
    return {r[0] for r in conn.execute(stmt)}


def ended_execution(conn: Connection, row: Row[Any]) -> Row[Any] | None:
    """The execution ``row`` is a leg of, when it has ended (done, unwound, failed): no process
    drives it any more, and nothing resumes it."""
    if not row.execution_id:
        return None
    found = conn.execute(select(executions).where(executions.c.key == row.execution_id)).first()
    return found if found is not None and found.status in ENDED_STATUSES else None


ENDED_STATUSES = frozenset(s.value for s in ExecStatus if s.final)


UNDECIDED_STATUSES = frozenset(s.value for s in OPEN_STATUSES)
