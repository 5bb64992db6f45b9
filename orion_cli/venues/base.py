"""The venue-neutral market-data source: what ``markets``, ``book``, ``snapshot`` and ``scan`` read.

Why a protocol: the same commands run on live venues, on a recorded snapshot and on the packaged
demo set, and the scanner must not know which. A source returns one :class:`MarketData` for any
set of venues; a venue that cannot be reached does not sink the others, it is named in
``degraded`` so that every consumer can say so instead of silently showing half the world.

The core never prints: progress is reported through a callback the CLI supplies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from orion_cli.core.errors import NotFound, UsageError
from orion_cli.core.models import Market, OrderBook, Venue

__all__ = [
    "ALL_VENUES",
    "ItemError",
    "MarketData",
    "MarketSource",
    "ProgressEvent",
    "ProgressFn",
    "guess_venue",
    "parse_venues",
]

ALL_VENUES: tuple[Venue, ...] = (Venue.KALSHI, Venue.POLYMARKET)


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """``done`` items of ``stage`` read on ``venue``; ``total`` when known in advance."""

    venue: str
    stage: str  # "markets", "events", "books", ...
    done: int
    total: int | None = None


ProgressFn = Callable[[ProgressEvent], None]


@dataclass(frozen=True, slots=True)
class ItemError:
    """One item (market, book, page, series list) that could not be read; the rest still is."""

    venue: str
    kind: str
    key: str
    message: str
    reason: str = "bad_data"
    # What to do about it, for a command that ends on this item (`book`, `trade`); not in the record.
    hint: str = field(default="", compare=False)

    def to_record(self) -> dict[str, Any]:
        return {"type": "item_error", "venue": self.venue, "kind": self.kind, "key": self.key,
                "reason": self.reason, "message": self.message}


_CONDITION_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
_TOKEN_ID = re.compile(r"^[0-9]{6,80}$")


# What a market reference (`orion book REF`) is made of: a Kalshi ticker (letters, digits, "-", "." and
# "_", at most 128), a condition id (0x and 64 hex digits), a token id (up to 80 digits) or a slug
# (lower-case letters, digits and "-"). Longer than any of them, it is no reference.
MARKET_REF_MAX = 200
_MARKET_REF = re.compile(r"[A-Za-z0-9._-]+")


def market_ref_problem(ref: str) -> str | None:
    """Why ``ref`` (surrounding blanks aside, as every reader strips them) cannot name a market, or None.

    Checked before any request: an empty reference, one with a space or a control character in it went
    to the venue as a search (offline: exit 5, "the venue may be down" for a typing mistake). Said of
    the reference as given (:func:`orion_cli.core.plain_text.shown_text`), with what is wrong."""
    from orion_cli.core.plain_text import shown_text

    text = ref.strip()
    if not text:
        why = "it is empty"
    elif len(text) > MARKET_REF_MAX:
        why = f"it is {len(text)} characters long, and no ticker, id or slug is over {MARKET_REF_MAX}"
    elif _MARKET_REF.fullmatch(text):
        return None
    else:
        at = next(i for i, c in enumerate(text) if not _MARKET_REF.fullmatch(c))
        why = (f"{text[at]!r} at character {at + 1} is none of the letters, digits, '-', '.' and '_' a ticker, "
               "condition id, token id or slug is made of")
    return f"{shown_text(ref)} is not a market ticker, id or slug: {why}"


def guess_venue(ref: str) -> Venue:
    """Which venue a market reference belongs to, from its shape alone.

    Polymarket condition ids are ``0x`` + 64 hex digits, token ids long decimal numbers and slugs
    lower-case; Kalshi tickers are upper-case (``KXNBAGAME-26JAN11HOUSAC-HOU``).
    """
    text = ref.strip()
    if _CONDITION_ID.match(text) or _TOKEN_ID.match(text):
        return Venue.POLYMARKET
    if any(c.isalpha() for c in text) and text == text.upper():
        return Venue.KALSHI
    return Venue.POLYMARKET


def parse_venues(value: str | None) -> tuple[Venue, ...]:
    """``None``/``all`` → both venues; otherwise exactly one, by name."""
    if value is None or value.strip().lower() in ("", "all", "both"):
        return ALL_VENUES
    try:
        return (Venue(value.strip().lower()),)
    except ValueError:
        raise UsageError(f"unknown venue {value!r}; use kalshi or polymarket", reason="usage",
                         hint="--venue takes kalshi, polymarket or all (the default: both)") from None


@dataclass
class MarketData:
    """Markets and books of one or more venues, as one source saw them at one time.

    ``books`` is keyed by ``(venue, market id)``. ``degraded`` names each venue whose data is
    missing (unreachable) with the reason; ``incomplete`` the venues whose listing stopped early.
    ``synthesised`` is empty for live data and for honest recordings; the demo set lists there
    exactly what was reconstructed rather than recorded.
    """

    markets: list[Market]
    books: dict[tuple[Venue, str], OrderBook]
    errors: list[ItemError] = field(default_factory=list)
    degraded: dict[Venue, str] = field(default_factory=dict)
    incomplete: dict[Venue, str] = field(default_factory=dict)
    source: str = "live"
    recorded_at: datetime | None = None
    notes: str = ""
    synthesised: list[str] = field(default_factory=list)
    venues: tuple[Venue, ...] = ALL_VENUES

    def market_clock(self, now: datetime) -> datetime:
        """The instant this data's markets are judged open or closed at (and their time to close counted
        from): a recording's ``recorded_at``, live data's ``now``.

        A recording (``--demo``, ``--snapshot``) is replayed as the world it recorded: its books are that
        moment's, so whether its markets were still open is too. By today's clock, the demo would offer
        nothing once its markets' close times passed (the UpOnly pair from 2027-01-01), and a snapshot
        recorded before a close would price what its own paper trade then refused.
        """
        return self.recorded_at if self.recorded_at is not None else now

    @property
    def is_degraded(self) -> bool:
        return bool(self.degraded)

    def book_for(self, market: Market) -> OrderBook | None:
        return self.books.get((market.venue, market.id))

    def for_venue(self, venue: Venue) -> list[Market]:
        return [m for m in self.markets if m.venue is venue]

    def find_market(self, ref: str, venue: Venue | None = None) -> Market:
        """A market by Kalshi ticker, Polymarket condition id, outcome token id or slug."""
        text = ref.strip()
        low = text.lower()
        for m in self.markets:
            if venue is not None and m.venue is not venue:
                continue
            if m.venue is Venue.KALSHI:
                if m.id.upper() == text.upper():
                    return m
            elif low in (m.id.lower(), m.yes_token, m.no_token, m.extra.get("slug", "").lower()):
                return m
        where = f" on {venue.value}" if venue else ""
        raise NotFound(f"no market {text!r}{where} in {self.source}",
                       hint="list markets with `orion markets --search TEXT`", reason="market_not_found")

    def merged(self, others: Iterable[MarketData]) -> MarketData:
        """This data plus other venues' data (used to join per-venue fetches)."""
        out = MarketData(list(self.markets), dict(self.books), list(self.errors), dict(self.degraded),
                         dict(self.incomplete), self.source, self.recorded_at, self.notes,
                         list(self.synthesised), self.venues)
        for o in others:
            out.markets.extend(o.markets)
            out.books.update(o.books)
            out.errors.extend(o.errors)
            out.degraded.update(o.degraded)
            out.incomplete.update(o.incomplete)
        return out


@runtime_checkable
class MarketSource(Protocol):
    """Live venues, a snapshot file or the demo set: one way to read markets and books."""

    @property
    def name(self) -> str: ...

    async def fetch(
        self,
        venues: Sequence[Venue] = ALL_VENUES,
        *,
        with_books: bool = True,
        limit: int | None = None,
        progress: ProgressFn | None = None,
    ) -> MarketData:
        """Markets (and their books) of ``venues``; ``limit`` caps markets per venue.

        One venue failing marks it degraded; all requested venues failing raises.
        """
        ...

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        """One market (by ticker, condition id, token id or slug) and its current book.

        ``with_fees=False`` is for a reader that needs the book and the market's state but not its
        fee: the executor deciding whether a hedge retry can still fill at its (already priced)
        limit, a paper position looking for its market's result. A fee that lives in other objects
        (a Kalshi series and event) is then not read, so failing to read it cannot fail this read,
        and the market's ``fee_model`` is the labelled default stand-in: never price with it.
        Pricing (``trade``, ``book``) keeps the default and fails when the fee cannot be read.
        """
        ...
