"""Which data a trade reads its books from, and refusing to mix them.

A recorded world (``--demo``, ``--snapshot``) is paper only, and its books are replayed as the
current books. An opportunity scanned from one kind of data is traded on that kind only: a demo
opportunity's ids mean nothing to a live venue, and a live one's edge means nothing on a recording.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orion_cli.cli.commands.market_data import source_flags
from orion_cli.core.aio import all_or_none
from orion_cli.core.errors import VenueError

if TYPE_CHECKING:
    from orion_cli.core.models import Market, OrderBook, Venue
    from orion_cli.core.opportunity import Opportunity
    from orion_cli.venues.base import MarketData, MarketSource


def current_time() -> datetime:
    return datetime.now(UTC)


def data_flags(source: MarketSource) -> str:
    """The data flags (``" --demo"``, ``" --snapshot FILE"``, ``""`` for the live books) of a trade reading
    ``source``, the snapshot's path made absolute: recorded with each execution, so that the command
    resuming it, named later from anywhere (`orion resume` has no data flags to borrow), reads the
    same books."""
    from orion_cli.venues.snapshot import DEMO_LABEL, SnapshotSource

    inner = source.inner if isinstance(source, ReplaySource) else source
    if not isinstance(inner, SnapshotSource):
        return ""
    return source_flags(None, True) if inner.name == DEMO_LABEL else source_flags(inner.path.absolute(), False)


class ReplaySource:
    """A recorded source whose books are served as the current books of that (recorded) world.

    Paper trading on ``--demo``/``--snapshot`` fills against these very books, so their age is the
    recording's, not the market's; without re-stamping every check on quote age would refuse.
    """

    def __init__(self, inner: MarketSource) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def recorded_at(self) -> datetime | None:
        """When the recording was made: its markets are judged open or closed then (MarketData.market_clock),
        by the checks as by the scan that offered them."""
        capture = getattr(self.inner, "capture", None)
        return capture().recorded_at if callable(capture) else None

    async def fetch(self, venues: Sequence[Venue] | None = None, *, with_books: bool = True,
                    limit: int | None = None, progress: Any = None) -> MarketData:
        from orion_cli.venues.base import ALL_VENUES

        data = await self.inner.fetch(venues or ALL_VENUES, with_books=with_books, limit=limit, progress=progress)
        now = current_time()
        data.books = {k: dataclasses.replace(b, fetched_at=now) for k, b in data.books.items()}
        return data

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        market, book = await self.inner.book(ref, venue=venue, with_fees=with_fees)
        return market, dataclasses.replace(book, fetched_at=current_time())


def is_recorded(snapshot: Path | None, demo: bool) -> bool:
    return snapshot is not None or demo


RECORDED_IS_PAPER = "--demo and --snapshot are paper only"


def refuse_live_on_recorded(pre_mode: str, authorize_live: bool, snapshot: Path | None, demo: bool) -> None:
    """Recorded data (``--demo``, ``--snapshot``) is paper only: a live flag beside it contradicts it (exit
    2, before anything is read, written or audited). ``--authorize-live`` too: the gate would refuse it as
    half the flag pair (exit 6, "pass --live"), and adding --live is refused here. Half of the environment
    pair is the gate's refusal (exit 6) as anywhere, audited in the paper ledger (:func:`run_gate`)."""
    if not is_recorded(snapshot, demo):
        return
    if pre_mode == "live":
        raise typer.BadParameter(f"live trading reads the live venues; {RECORDED_IS_PAPER}",
                                 param_hint="--demo/--snapshot")
    if authorize_live:
        raise typer.BadParameter(f"--authorize-live authorizes live trading, which reads the live venues; "
                                 f"{RECORDED_IS_PAPER}", param_hint="--authorize-live")


def _data_of_flags(flags: str) -> tuple[str, str]:
    """The kind (``live``, ``demo``, ``snapshot``) of the data ``flags`` (:func:`source_flags`) read, and its words."""
    if not flags:
        return "live", "the live venues' books"
    if flags == " --demo":
        return "demo", "the demo data set"
    return "snapshot", f"the snapshot{flags.removeprefix(' --snapshot')}"


def scanned_flags(scanned_from: str) -> str:
    """The data flags reading the data an opportunity was scanned from, by the source name stored with it
    (the demo set's label, ``snapshot PATH``, else the live venues)."""
    from orion_cli.venues.snapshot import DEMO_LABEL

    if scanned_from == DEMO_LABEL:
        return source_flags(None, True)
    if scanned_from.startswith("snapshot "):
        return source_flags(Path(scanned_from.removeprefix("snapshot ")), False)
    return ""


def refuse_other_data(op: Opportunity, scanned_from: str, prior: Mapping[str, Any] | None,
                      snapshot: Path | None, demo: bool, mode: str = "paper", *, asked_live: bool = False) -> None:
    """A trade of ``op`` on other data than it was priced on (exit 2, before any request or write).

    Found by a contract reviewer: an id from `orion scan --demo` traded without --demo went to the live
    venues (4 retries, then exit 5, "the venue may be down"); the reverse planned a live opportunity on
    the demo books. The opportunity records the source it was scanned from; a used key, the data flags
    its execution was traded on, which its resume must read again. Only the kind of data is compared:
    a snapshot's path is the one typed then, relative to another working directory perhaps. A key an
    execution of another opportunity holds says nothing of this one's data (review: its data sent the
    operator to flags this opportunity was never priced on); DUPLICATE refuses that key later.

    In live ``mode`` recorded data is no fix: "add --demo" to a live trade was refused as "--demo and
    --snapshot are paper only" (review: the hint and the refusal sent the operator in a loop). The hint
    says the opportunity came from recorded data and that live trading needs one scanned from the live
    venues. So does ``asked_live`` (a live flag given, --authorize-live alone too, whose gate refuses later):
    "add --demo" beside it is refused as paper only (review: a hint leading to another usage error)."""
    from orion_cli.execution.state import recorded_source_flags

    if prior is not None and prior["opportunity_id"] != op.id:
        prior = None
    recorded = recorded_source_flags(prior["plan"]) if prior is not None else None
    expected = scanned_flags(scanned_from) if recorded is None else recorded
    given = source_flags(snapshot, demo)
    (want, want_words), (have, have_words) = _data_of_flags(expected), _data_of_flags(given)
    if want == have:
        return
    what = (f"opportunity {op.id} was scanned from {want_words}" if prior is None or recorded is None
            else f"execution {prior['key']} of {op.id} was traded on {want_words}")
    flag = given.split()[0] if given else ""
    fix = (f"add{expected}" if have == "live" else f"leave out {flag}" if want == "live"
           else f"use{expected} instead of {flag}")
    if (mode == "live" or asked_live) and want != "live":  # recorded data is paper only: its flag is refused
        fix = (f"that is recorded data, which is paper only; live trading needs an opportunity scanned from the "
               f"live venues: run `orion scan` (without {expected.split()[0]}) and trade an id from its output")
    from orion_cli.core.errors import UsageError

    raise UsageError(f"{what}, and this trade would read {have_words}, where it was never priced; nothing "
                     "was read or sent", hint=f"it was {'scanned from' if recorded is None else 'traded on'} "
                     f"{want_words}: {fix}", reason="other_data")


async def fresh_books(source: MarketSource, op: Opportunity) -> dict[tuple[Venue, str], tuple[Market, OrderBook]]:
    """Re-read every leg's market and book (concurrently) just before planning.

    A leg whose side's book could not be read (a Polymarket token's book the CLOB did not answer, or
    answered unreadable, while the other token's read) is the venue's fault, exit 5, as a book that
    cannot be read at all: its empty side would otherwise plan as a book with no depth."""
    keys = list(dict.fromkeys((leg.venue, leg.market_id) for leg in op.legs))
    results = await all_or_none(source.book(m, venue=v) for v, m in keys)
    fresh = dict(zip(keys, results, strict=True))
    for leg in op.legs:
        unread = fresh[(leg.venue, leg.market_id)][1].unread(leg.side)
        if unread:
            raise VenueError(f"{leg.venue.value} book {leg.market_id}: {unread}",
                             hint="its depth is unknown, not zero: nothing was sent; try again later")
    return fresh
