"""The categories of markets ``--fix`` may adopt positions or orders in, read before the run writes.

Why: CATEGORY_EXPOSURE counts each position under the category the ledger recorded for it, and a venue's
positions, fills and resting orders name no category. An adopted position was recorded uncategorised, so
contracts bought by hand counted toward no category's cap: a cap of $500 let $500 more into a category the
account already held $400 of (found reviewing what was left alone). So a market the ledger has never held or
ordered in under a category is looked up (its category is its series' or event's on Kalshi, Gamma's on
Polymarket) before the one write transaction, never under the writers' lock; the adoption records it, and the
ledger's uncategorised rows in that market take it too (:func:`record_categories`, audited).

A market the ledger holds a category for is not looked up. A look-up that fails leaves the adoption
uncategorised, said as a warning naming the markets (a venue's market data may be down while its portfolio
answers, and the drift is still worth adopting); the next ``--fix`` run looks it up again, as it does a market
the venue states no category for.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select, update

from orion_cli.core.categories import CATEGORY_CHARS
from orion_cli.core.errors import OrionError
from orion_cli.core.models import Venue
from orion_cli.core.reconcile.context import RunContext
from orion_cli.store.tables import orders, positions

# At most this many look-ups for one venue in one run (each is a few requests): a first contact with an
# account holding hundreds of markets adopts the rest uncategorised, and later --fix runs look them up.
MAX_LOOKUPS = 50


def known_markets(ctx: RunContext, venue: Venue, markets: Iterable[str]) -> set[str]:
    """Those of ``markets`` the ``ctx.mode`` ledger holds a category for, on a position (open or closed) or an
    order: the others are looked up (one adopted uncategorised, or never traded)."""
    wanted = sorted(set(markets))
    if not wanted:
        return set()
    with ctx.db.read() as c:
        found: set[str] = set()
        for table in (positions, orders):
            found.update(c.execute(select(table.c.market_id).where(
                table.c.mode == ctx.mode, table.c.venue == venue.value, table.c.market_id.in_(wanted),
                table.c.category != "")).scalars().all())
    return found


def record_categories(ctx: RunContext, conn: Connection, venue: Venue) -> None:
    """The categories learned this run onto the ledger's uncategorised positions and orders in those markets
    (adopted before it could read them, or by an orion before this one), audited as ``reconcile.categorised``:
    a category cap counts a position by the category its row holds."""
    named: dict[str, str] = {}
    for (where, market), category in sorted(ctx.categories.items()):
        if where is not venue or not category:
            continue
        for table in (positions, orders):
            done = conn.execute(update(table).where(
                table.c.mode == ctx.mode, table.c.venue == venue.value, table.c.market_id == market,
                table.c.category == "").values(category=category[:CATEGORY_CHARS]))
            if done.rowcount:
                named[market] = category
    if named:
        ctx.audit(conn, "reconcile.categorised", {"venue": venue.value, "categories": named}, venue=venue)


async def learn_categories(ctx: RunContext, venue: Venue, markets: Iterable[str]) -> None:
    """Look up the category of each of ``markets`` the ledger holds no category for, into ``ctx.categories``.

    Only with ``--fix`` and a look-up given: without ``--fix`` nothing is adopted."""
    if not ctx.fix or ctx.category_lookup is None:
        return
    wanted = set(markets)
    unknown = sorted(wanted - known_markets(ctx, venue, wanted))
    failed: list[str] = []
    for market in unknown[:MAX_LOOKUPS]:
        try:
            ctx.categories[(venue, market)] = await ctx.category_lookup(venue, market)
        except OrionError as exc:
            failed.append(f"{market} ({exc})")
    failed.extend(f"{m} (not looked up: over {MAX_LOOKUPS} in one run)" for m in unknown[MAX_LOOKUPS:])
    if failed and ctx.warn is not None:
        shown = "; ".join(failed[:5]) + (f"; and {len(failed) - 5} more" if len(failed) > 5 else "")
        ctx.warn(f"{venue.value}: the category of {len(failed)} market(s) could not be read: {shown}. What --fix "
                 "adopts there is recorded uncategorised (CATEGORY_EXPOSURE counts it under no market's category) "
                 "until a later --fix run reads it")
