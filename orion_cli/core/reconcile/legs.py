"""How far apart an execution's two legs are: the filled quantity each holds, and what is unhedged.

One measure for the stuck, the ended and the late-fill checks, so they judge an execution's hedge the
same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ZERO
from orion_cli.core.reconcile.context import round_money
from orion_cli.execution.state import load_result
from orion_cli.store.tables import orders, plain
from orion_cli.venues.trading import Action


def orders_of(conn: Connection, keys: list[str]) -> dict[str, list[Any]]:
    """Each execution's order rows, oldest first, as :meth:`Imbalance.of` reads them (and their status)."""
    legs: dict[str, list[Any]] = {key: [] for key in keys}
    for leg in conn.execute(select(orders.c.execution_id, orders.c.client_order_id, orders.c.venue,
                                   orders.c.market_id, orders.c.side, orders.c.action, orders.c.size,
                                   orders.c.filled_size, orders.c.avg_fill_price, orders.c.status)
                            .where(orders.c.execution_id.in_(keys))
                            .order_by(orders.c.created_at, orders.c.client_order_id)):
        legs[leg.execution_id].append(leg)
    return legs


@dataclass(frozen=True, slots=True)
class Imbalance:
    """What an execution's orders filled, as the leg holding the most against the other.

    Legs are told apart as the executor tells them (its tags: ``l1`` the first leg, ``l2`` and its
    retries ``l2a…`` the second, an unwind ``u…`` the leg its intent names), not by venue: both legs
    of a within-venue execution (YES and NO of one market, a two-outcome neg-risk basket) are on one
    venue. An order the executor did not name counts as a leg of its own instrument.

    Balanced is judged as the executor judges it: by what each order was for, so the overfill of a
    buy (a dollar-amount buy at better prices gets more shares than asked) beside an otherwise equal
    pair is held, not unhedged. Once the legs differ, every share filled counts.
    """

    leg: str  # "first" / "second" (or an unnamed order's instrument): the leg holding the most
    venue: Venue  # where that leg is
    market: str
    side: Side
    held: Decimal  # contracts of that leg (buys less sells)
    other: Decimal  # contracts of the other leg
    price: Decimal  # the average fill of its last buy (0: none), to value the difference
    balanced: bool = False  # equal shares up to the orders' sizes (an overfill aside)

    @property
    def unhedged(self) -> Decimal:
        return ZERO if self.balanced else abs(self.held - self.other)

    @property
    def value(self) -> Decimal:
        return round_money(self.unhedged * self.price)

    @property
    def held_text(self) -> str:
        named = f", the {self.leg} leg" if self.leg in _LEG_NAMES else ""
        return (f"{plain(self.held)} held on {self.venue.value} ({self.market} {self.side.value}{named}), "
                f"{plain(self.other)} on the other leg")

    @classmethod
    def of(cls, legs: Sequence[Any], result: str | None = None) -> Imbalance | None:
        """From an execution's order rows (client_order_id, venue, market_id, side, action, size,
        filled_size, avg_fill_price), oldest first, and its stored ``result`` (where the executor
        records which leg each order is for); None when it has none."""
        try:
            intents = load_result(result or "").get("intents")
        except (ValueError, RecursionError):
            intents = None
        held: dict[str, Decimal] = {}
        asked: dict[str, Decimal] = {}  # the buys, each counted up to its size
        price: dict[str, Decimal] = {}
        where: dict[str, Any] = {}
        named = intents if isinstance(intents, dict) else {}
        # An order the executor's tags do not place (an unwind whose intent the result lacks) goes
        # with the leg of its own instrument: an unwind sells what its leg bought.
        instrument = {leg_of(o, named): (o.venue, o.market_id, o.side) for o in reversed(legs)}
        by_instrument = {inst: leg for leg, inst in instrument.items() if leg in _LEG_NAMES}
        sold = False
        for o in legs:
            leg = leg_of(o, named)
            if leg not in _LEG_NAMES:
                leg = by_instrument.get((o.venue, o.market_id, o.side), leg)
            where.setdefault(leg, o)
            filled = Decimal(o.filled_size)
            buy = o.action == Action.BUY.value
            sold = sold or (not buy and filled > 0)
            held[leg] = held.get(leg, ZERO) + (filled if buy else -filled)
            if buy:
                asked[leg] = asked.get(leg, ZERO) + min(filled, Decimal(o.size))
            if o.avg_fill_price is not None and buy:
                price[leg] = Decimal(o.avg_fill_price)
        if not held:
            return None
        first = max(held, key=lambda k: abs(held[k]))
        o = where[first]
        # As the executor's _imbalance: an overfill beside buys equal up to their sizes is held; once
        # anything was sold back (an unwind), every share counts, as that unwind sells them all.
        balanced = not sold and asked.get(first, ZERO) == sum((q for k, q in asked.items() if k != first), ZERO)
        return cls(first, Venue(o.venue), o.market_id, Side(o.side), held[first],
                   sum((q for k, q in held.items() if k != first), ZERO), price.get(first, ZERO), balanced)


_LEG_NAMES = ("first", "second")


def order_tag(client_order_id: str) -> str:
    """The executor's tag ending an order's client order id (``l1``, ``l2a1``, ``u2``…; anything else for an
    order it did not name)."""
    return client_order_id.rsplit("-", 1)[-1]


def leg_of(o: Any, intents: Mapping[str, Any]) -> str:
    """Which leg of its execution the order ``o`` belongs to, as the executor tells it (``_Run.spec_of``):
    by the tag ending its client order id, and for an unwind by the leg its intent records. An order not
    named so (not placed by the executor) is a leg of its own instrument."""
    tag = order_tag(o.client_order_id)
    if tag == "l1":
        return "first"
    if tag.startswith("l2"):
        return "second"
    intent = intents.get(tag)
    leg = intent.get("leg") if isinstance(intent, dict) else None
    return leg if leg in _LEG_NAMES else f"{o.venue} {o.market_id} {o.side}"


def execution_legs(conn: Connection, key: str) -> Sequence[Any]:
    """Execution ``key``'s orders, oldest first, as :meth:`Imbalance.of` reads them (and their status)."""
    return conn.execute(select(orders.c.client_order_id, orders.c.venue, orders.c.market_id, orders.c.side,
                               orders.c.action, orders.c.size, orders.c.filled_size, orders.c.avg_fill_price,
                               orders.c.status)
                        .where(orders.c.execution_id == key)
                        .order_by(orders.c.created_at, orders.c.client_order_id)).all()


def legs_held_text(imbalance: Imbalance | None) -> str:
    """What an execution's legs hold, for its message and drift; an overfill beside an otherwise equal
    pair is named as held, not hedged."""
    if imbalance is None:
        return ""
    held = imbalance.held_text
    if imbalance.balanced and imbalance.held != imbalance.other:
        held += (f" (the {plain(abs(imbalance.held - imbalance.other))} beyond its orders' sizes is an overfill: "
                 "held, not hedged)")
    return held
