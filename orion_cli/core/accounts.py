"""The service behind ``orion balance`` and ``orion positions``.

It asks every trading venue (the paper ledger, or in live mode each venue's own client, through the
same :class:`~orion_cli.venues.trading.TradingVenue` protocol) for its balance and positions. A venue
that cannot be answered is reported as *unavailable* with the reason, never silently dropped and
never allowed to sink the others. Positions are marked to the current best bid of the held outcome
when a market source is given (what they would fetch if sold now); exposure is grouped by market
and by category; today's P&L is compared with the daily loss limit.

In live mode the venues' own reports are recorded in the live ledger before the day's P&L is valued
(``record``), so the P&L shown is of the figures shown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orion_cli.core.config import Settings, enabled_venues
from orion_cli.core.errors import AuthError, OrionError, StorageError, venue_cause
from orion_cli.core.models import OrderBook, Venue
from orion_cli.core.money import ZERO
from orion_cli.store.db import Database
from orion_cli.store.ledger import DailyPnl, Exposure, ExposureLine, Ledger, MarkKey, exposure_of
from orion_cli.store.tables import plain
from orion_cli.venues.base import MarketSource
from orion_cli.venues.trading import Balance, Position, TradingVenue


def paper_venues(settings: Settings, db: Database, source: MarketSource) -> dict[Venue, TradingVenue]:
    from orion_cli.venues.paper import PaperVenue

    return {v: PaperVenue(v, db, source, settings) for v in enabled_venues(settings)}


@dataclass(frozen=True, slots=True)
class VenueAccount:
    venue: Venue
    mode: str
    balance: Balance | None
    reason: str = ""
    age_seconds: float | None = None
    rejected: bool = False  # the venue refused our credentials: a key to fix, not an outage (exit 4)

    @property
    def available(self) -> bool:
        return self.balance is not None

    def to_record(self) -> dict[str, Any]:
        if self.balance is None:
            return {"type": "balance", "venue": self.venue.value, "mode": self.mode, "available": None,
                    "reserved": None, "total": None, "as_of": None, "status": "unavailable", "reason": self.reason,
                    "age_seconds": None}
        rec = self.balance.to_record()
        rec.update(status="ok", reason="", age_seconds=self.age_seconds)
        return rec


def _reported(p: Position, key: str) -> Decimal | None:
    """A figure the ledger or the venue reported for ``p``; None (null: not reported), never a made-up 0."""
    text = p.extra.get(key)
    return None if text is None else Decimal(text)


@dataclass(frozen=True, slots=True)
class MarkedPosition:
    position: Position
    mark: Decimal | None = None
    title: str = ""

    @property
    def market_value(self) -> Decimal:
        return self.position.exposure if self.mark is None else self.position.size * self.mark

    def to_record(self) -> dict[str, Any]:
        rec = self.position.to_record()
        p = self.position
        rec.update(
            title=self.title or p.title,
            cost=p.exposure,
            fees=_reported(p, "fees"),
            realized_pnl=_reported(p, "realized_pnl"),
            mark=None if self.mark is None else plain(self.mark),
            market_value=plain(self.market_value),
            unrealised=None if self.mark is None else plain(self.market_value - p.exposure),
        )
        return rec


@dataclass
class AccountsReport:
    mode: str
    accounts: list[VenueAccount]
    positions: list[MarkedPosition]
    exposure: Exposure
    pnl: DailyPnl
    as_of: datetime
    mark_errors: list[str] = field(default_factory=list)
    exposure_error: str = ""  # why the exposure limits' figures could not be read (each line's counted is None)

    @property
    def answered(self) -> bool:
        return any(a.available for a in self.accounts)

    @property
    def unavailable(self) -> list[VenueAccount]:
        return [a for a in self.accounts if not a.available]


def marks_from_books(held: Sequence[Position],
                     book_of: Callable[[Venue, str], OrderBook | None]) -> dict[MarkKey, Decimal]:
    """What each held position would fetch if sold now: the best bid of its side; no bid is 0.

    Positions whose market has no book in ``book_of`` are left out (the breaker values them at cost),
    and so are those whose side's book could not be read (``OrderBook.unreadable``: a Polymarket
    token's book the CLOB did not answer): that side is empty for want of a book, not of bids.
    """
    marks: dict[MarkKey, Decimal] = {}
    for p in held:
        book = book_of(p.venue, p.market_id)
        if book is None or p.size == 0 or p.side.value in book.unreadable:
            continue
        best = book.side(p.side).best_bid
        marks[(p.venue, p.market_id, p.side)] = best.price if best is not None else Decimal(0)
    return marks


def _with_ledger_categories(held: list[Position], ledger: Ledger) -> list[Position]:
    """Each position with a category: a venue's own position report names none, so a live position
    takes the one the ledger recorded for the market (the plan's), under which the CATEGORY_EXPOSURE
    check counts it; a market orion never traded stays uncategorised."""
    if all(p.category for p in held):
        return held
    known = ledger.categories({(p.venue, p.market_id) for p in held if not p.category})
    return [p if p.category else dataclasses.replace(p, category=known.get((p.venue, p.market_id), ""))
            for p in held]


async def gather(
    venues: Mapping[Venue, TradingVenue],
    ledger: Ledger,
    settings: Settings,
    *,
    source: MarketSource | None = None,
    now: datetime | None = None,
    record: bool = False,
    warn: Callable[[str], None] | None = None,
) -> AccountsReport:
    """Balances and positions of every venue; marks from ``source`` when given.

    ``record`` (live): the reports are recorded in the ledger, with the settlements since, before the
    day's P&L is valued, so the P&L is of the figures shown. Valued first, a ledger's first report was
    not yet its capital, and the start-of-day equity read 0. ``warn``: the command's warnings, for what
    recording them tells the operator (a report not recorded, a voided market).
    """
    now = now or datetime.now(UTC)
    accounts: list[VenueAccount] = []
    held: list[Position] = []
    reported: dict[Venue, list[Position]] = {}
    mode = ledger.mode
    for venue, tv in venues.items():
        try:
            bal = await tv.balance()
            pos = await tv.positions()
        except StorageError:
            raise  # the ledger's own database (the paper venue's figures are its): exit 3, not the venue down
        except OrionError as exc:
            # The cause: the reason is shown as "kalshi unavailable: <reason>" (a VenueUnavailable's message
            # already begins so).
            accounts.append(VenueAccount(venue, tv.mode, None, reason=venue_cause(exc),
                                         rejected=isinstance(exc, AuthError)))
            continue
        age = max(0.0, (now - bal.as_of).total_seconds())
        accounts.append(VenueAccount(venue, bal.mode, bal, age_seconds=round(age, 3)))
        held.extend(pos)
        reported[venue] = pos
    held = _with_ledger_categories(held, ledger)
    if record:
        from orion_cli.core.settlement import record_reports

        # With the positions read beside each report: a report recorded beside positions that disagree with
        # the ledger's raised the breaker's peak by a hand sale's cash (see record_reports).
        await record_reports(ledger, venues, {a.venue: a.balance for a in accounts}, warn=warn, positions=reported)
    marks: dict[MarkKey, Decimal] = {}
    titles: dict[tuple[Venue, str], str] = {}
    errors: list[str] = []
    if source is not None:
        held_sides = {(p.venue, p.market_id, p.side) for p in held}
        for p in held:
            key = (p.venue, p.market_id)
            if key in titles:
                continue
            try:
                # A mark is a bid: no fee enters it, so a series that does not answer now must not
                # leave the position unmarked (valued at cost in the day's P&L shown).
                market, book = await source.book(p.market_id, venue=p.venue, with_fees=False)
            except OrionError as exc:
                errors.append(f"{p.venue.value} {p.market_id}: {exc}")
                titles[key] = ""
                continue
            titles[key] = market.title
            for side in (p.side, p.side.other):
                unread = book.unread(side)
                if unread:
                    # Empty for want of a book, not of bids: left unmarked (at cost), not worth 0.
                    if (p.venue, p.market_id, side) in held_sides:
                        errors.append(f"{p.venue.value} {p.market_id}: {unread}")
                    continue
                best = book.side(side).best_bid
                if best is not None:
                    marks[(p.venue, p.market_id, side)] = best.price
                else:
                    # No bid: nobody would buy it now, so it is worth nothing if sold now.
                    marks[(p.venue, p.market_id, side)] = Decimal(0)
    marked = [MarkedPosition(p, marks.get((p.venue, p.market_id, p.side)), titles.get((p.venue, p.market_id), ""))
              for p in held]
    pnl = ledger.daily_pnl(daily_loss=settings.breaker.daily_loss, daily_loss_pct=settings.breaker.daily_loss_pct,
                           marks=marks, now=now)
    exposure, exposure_error = with_limit_basis(exposure_of(held), ledger, settings)
    return AccountsReport(mode=mode, accounts=accounts, positions=marked, exposure=exposure, pnl=pnl,
                          as_of=now, mark_errors=errors, exposure_error=exposure_error)


def with_limit_basis(exposure: Exposure, ledger: Ledger, settings: Settings) -> tuple[Exposure, str]:
    """``exposure`` (the positions' cost) with, on each line, what the MARKET_EXPOSURE /
    CATEGORY_EXPOSURE check counts there and its limit, read by the checks' own function from the
    mode's ledger: cost plus the fees paid, and buys in flight with their planned fees. A market or
    category only buys in flight are counted in gets a line of its own (no position, exposure 0).
    When the checks could not read it (they refuse then), no line has the figure and the reason is
    returned."""
    from orion_cli.risk.checks import counted_exposure

    try:
        with ledger.db.read() as conn:
            book = counted_exposure(conn, ledger.mode)
    except ValueError as exc:
        return exposure, f"the exposure limits' figures cannot be read, so a trade is refused: {exc}"
    market_limit, category_limit = settings.limits.market_exposure, settings.limits.category_exposure
    markets = [dataclasses.replace(x, counted=plain(book.by_market.get((x.venue, x.key), ZERO)), limit=market_limit)
               for x in exposure.by_market]
    shown = {(x.venue, x.key) for x in markets}
    markets += [ExposureLine("market", m, ZERO, venue=v, counted=plain(amount), limit=market_limit)
                for (v, m), amount in sorted(book.by_market.items()) if (v, m) not in shown and amount > 0]
    cats = [dataclasses.replace(x, counted=plain(book.by_category.get(x.key, ZERO)), limit=category_limit)
            for x in exposure.by_category]
    named = {x.key for x in cats}
    cats += [ExposureLine("category", k, ZERO, counted=plain(amount), limit=category_limit)
             for k, amount in sorted(book.by_category.items()) if k not in named and amount > 0]
    return dataclasses.replace(exposure, by_market=tuple(markets), by_category=tuple(cats)), ""
