"""The categories of markets ``--fix`` may adopt positions or orders in, read before the run writes.

Why: CATEGORY_EXPOSURE counts each position under the category the ledger recorded for it, and a venue's
positions, fills and resting orders name no category. An adopted position was recorded uncategorised, so
contracts bought by hand counted toward no category's cap: a cap of $500 let $500 more into a category the
account already held $400 of (found reviewing what was left alone). So a market the ledger has never held or
ordered in is looked up (its category is its series' or event's on Kalshi, Gamma's on Polymarket) before the
one write transaction, never under the writers' lock, and the adoption records it.

A market the ledger already knows is not looked up: it holds the category orion's own orders recorded
("" for a market the venue gives none). A look-up that fails leaves the adoption uncategorised, said as a
warning naming the markets: a venue's market data may be down while its portfolio answers, and the drift
is still worth adopting.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from orion_cli.core.errors import OrionError
from orion_cli.core.models import Venue
from orion_cli.core.reconcile.context import RunContext
from orion_cli.store.tables import orders, positions

# At most this many look-ups for one venue in one run (each is a few requests): a first contact with an
# account holding hundreds of markets looks up the rest on later runs' adoptions, uncategorised meanwhile.
MAX_LOOKUPS = 50


def known_markets(ctx: RunContext, venue: Venue, markets: Iterable[str]) -> set[str]:
    """Those of ``markets`` the ``ctx.mode`` ledger has a position (open or closed) or an order in."""
    wanted = sorted(set(markets))
    if not wanted:
        return set()
    with ctx.db.read() as c:
        held = c.execute(select(positions.c.market_id).where(
            positions.c.mode == ctx.mode, positions.c.venue == venue.value,
            positions.c.market_id.in_(wanted))).scalars().all()
        ordered = c.execute(select(orders.c.market_id).where(
            orders.c.mode == ctx.mode, orders.c.venue == venue.value,
            orders.c.market_id.in_(wanted))).scalars().all()
    return {*held, *ordered}


async def learn_categories(ctx: RunContext, venue: Venue, markets: Iterable[str]) -> None:
    """Look up the category of each of ``markets`` the ledger does not know yet, into ``ctx.categories``.

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
                 "adopts there is recorded uncategorised: CATEGORY_EXPOSURE counts it under no market's category")
