"""``orion markets``, ``orion book`` and ``orion snapshot``: browse what the venues list, as orion reads it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.groups import CommandGroup
from orion_cli.cli.output import Column, rich_console, stream_is_tty
from orion_cli.cli.params import one_venue
from orion_cli.core.categories import CATEGORY_HELP, category_filter, no_category_note

if TYPE_CHECKING:
    from orion_cli.core.models import BookSide, Market, OrderBook
    from orion_cli.venues.base import MarketData, MarketSource, ProgressFn

MARKET_COLUMNS = [
    Column("venue", "venue"),
    Column("id", "market"),
    Column("title", "title"),
    Column("close_time", "closes"),
    Column("status", "status"),
    Column("category", "category"),
    Column("yes_bid", "yes bid", "right"),
    Column("yes_ask", "yes ask", "right"),
    Column("no_ask", "no ask", "right"),
]

LEVEL_COLUMNS = [
    Column("side", "side"),
    Column("level", "#", "right"),
    Column("bid_size", "bid size", "right"),
    Column("bid", "bid", "right"),
    Column("ask", "ask", "right"),
    Column("ask_size", "ask size", "right"),
]

SNAPSHOT_COLUMNS = [
    Column("path", "file"),
    Column("version", "version"),
    Column("recorded_at", "recorded"),
    Column("markets", "markets"),
    Column("books", "books"),
    Column("degraded", "degraded"),
    Column("synthesised", "synthesised"),
    Column("bytes", "bytes"),
]

VenueOpt = Annotated[list[str] | None, typer.Option("--venue", help="kalshi or polymarket (default: both).")]
SnapshotOpt = Annotated[
    Path | None, typer.Option("--snapshot", help="Read a recorded snapshot file instead of the live venues.",
                              dir_okay=False)
]
DemoOpt = Annotated[bool, typer.Option("--demo", help="Read the packaged demo data set (recorded, offline).")]


# -- shared plumbing (also for `scan`) ------------------------------------------------------------


def open_source(app: AppContext, snapshot: Path | None, demo: bool) -> MarketSource:
    """The market source a command reads: ``--demo``, ``--snapshot FILE`` or the live venues."""
    if snapshot is not None and demo:
        raise typer.BadParameter("use either --snapshot or --demo", param_hint="--demo")
    if demo or snapshot is not None:
        from orion_cli.core.config import enabled_venues
        from orion_cli.venues.snapshot import SnapshotSource, demo_source

        enabled = enabled_venues(app.settings())
        return demo_source(enabled=enabled) if snapshot is None else SnapshotSource(snapshot, enabled=enabled)
    from orion_cli.venues.live import LiveSource

    return LiveSource(app.settings())


def announce(app: AppContext, source: MarketSource, data: MarketData | None = None) -> None:
    """Banners that must be seen: demo/recorded data and degraded venues (stderr, even with -q)."""
    from orion_cli.venues.snapshot import DEMO_LABEL, SnapshotSource

    out = app.out
    if isinstance(source, SnapshotSource):
        cap = source.capture()
        when = cap.recorded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        kind = "DEMO DATA" if source.name == DEMO_LABEL else "SNAPSHOT"
        out.banner(f"{kind}: recorded {when}; not live prices.")
        if cap.synthesised:
            heads = [s.split(". ", 1)[0].rstrip(".") for s in cap.synthesised]
            import shlex

            which = "--demo" if kind == "DEMO DATA" else shlex.quote(str(source.path))
            out.banner("synthesised: " + "; ".join(heads) + f" (details: `orion snapshot info {which}`, or -v)")
            for s in cap.synthesised:
                out.debug(f"  synthesised: {s}")
    if data is not None:
        for venue, reason in data.degraded.items():
            out.banner(f"DEGRADED: {venue.value} data missing ({reason}); results cover the other venue only.")
        for venue, reason in data.incomplete.items():
            out.warn(f"{venue.value} listing incomplete: {reason}")
        if data.errors:
            out.warn(f"{len(data.errors)} item(s) could not be read; -v lists them")
            for e in data.errors[:50]:
                out.debug(f"  {e.venue} {e.kind} {e.key}: {e.message}")


@contextmanager
def progress_bar(app: AppContext) -> Iterator[ProgressFn | None]:
    """A rich progress bar on stderr while fetching, only when stderr is a terminal."""
    if app.quiet or not stream_is_tty(app.out.stderr):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from orion_cli.venues.base import ProgressEvent

    console = rich_console(app.out.stderr, no_color=not app.out.color)
    tasks: dict[tuple[str, str], Any] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as bar:

        def report(ev: ProgressEvent) -> None:
            key = (ev.venue, ev.stage)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{ev.venue} {ev.stage}", total=ev.total)
            bar.update(tasks[key], completed=ev.done, total=ev.total)

        yield report


def run(coro_fn: Callable[[], Any]) -> Any:
    import asyncio

    return asyncio.run(coro_fn())


def _money(value: Any) -> str | None:
    return None if value is None else format(value, "f")


def market_record(market: Market, book: OrderBook | None = None) -> dict[str, Any]:
    """The ``market`` JSON record (DESIGN §2): minimum fields first, then what helps a reader."""
    rec: dict[str, Any] = {
        "type": "market",
        "venue": market.venue.value,
        "id": market.id,
        "event_id": market.event_id,
        "title": market.title,
        "close_time": market.close_time,
        "status": market.status.value,
        "event_title": market.event_title,
        "outcome": market.outcome_label,
        "category": market.category,
        "fee": market.fee_model.source,
        "tick": _money(market.ticks.min_step),
        "min_size": _money(market.min_size),
    }
    if market.yes_token:
        rec["yes_token"] = market.yes_token
        rec["no_token"] = market.no_token
    slug = market.extra.get("slug")
    if slug:
        rec["slug"] = slug
    if market.url:
        rec["url"] = market.url
    if book is not None:
        for side_name, side in (("yes", book.yes), ("no", book.no)):
            rec[f"{side_name}_bid"] = _money(side.best_bid.price) if side.best_bid else None
            rec[f"{side_name}_ask"] = _money(side.best_ask.price) if side.best_ask else None
    return rec


def _levels(side: BookSide, depth: int | None, unavailable: str | None = None) -> dict[str, Any]:
    bids = side.bids[:depth] if depth else side.bids
    asks = side.asks[:depth] if depth else side.asks
    return {"bids": [[_money(lv.price) or "", _money(lv.size) or ""] for lv in bids],
            "asks": [[_money(lv.price) or "", _money(lv.size) or ""] for lv in asks],
            # Why this side's book could not be read (its empty lists then say nothing of its depth).
            "unavailable": unavailable}


def book_record(market: Market, book: OrderBook, depth: int | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """The ``book`` JSON record (DESIGN §2): both sides best first, with the fee model orion applies."""
    return {
        "type": "book",
        "venue": book.venue.value,
        "market": book.market_id,
        "title": market.title,
        "yes": _levels(book.yes, depth, book.unreadable.get("yes")),
        "no": _levels(book.no, depth, book.unreadable.get("no")),
        "fetched_at": book.fetched_at,
        "age_seconds": round(book.age_seconds(now), 3),
        "fee": market.fee_model.source,
        "tick": _money(market.ticks.min_step),
    }


def _book_rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for side in ("yes", "no"):
        bids, asks = rec[side]["bids"], rec[side]["asks"]
        if rec[side].get("unavailable"):
            rows.append({"side": side.upper(), "level": "", "bid": "unreadable", "bid_size": "",
                         "ask": "unreadable", "ask_size": ""})
            continue
        for i in range(max(len(bids), len(asks), 1)):
            b = bids[i] if i < len(bids) else ["", ""]
            a = asks[i] if i < len(asks) else ["", ""]
            rows.append({"side": side.upper() if i == 0 else "", "level": str(i + 1) if (bids or asks) else "",
                         "bid": b[0], "bid_size": b[1], "ask": a[0], "ask_size": a[1]})
    return rows


def source_flags(snapshot: Path | None, demo: bool) -> str:
    """The data flags a command printed for the operator to run must carry (else it reads live books)."""
    import shlex

    return " --demo" if demo else f" --snapshot {shlex.quote(str(snapshot))}" if snapshot is not None else ""


def _matches(m: Market, search: str | None, in_category: Callable[[str], bool]) -> bool:
    if not in_category(m.category):
        return False  # scan --category's rule: one name across venues, or a part of either venue's name
    if search:
        needle = search.strip().lower()
        hay = " ".join((m.id, m.title, m.event_title, m.outcome_label, m.event_id,
                        m.extra.get("slug", ""), m.extra.get("event_slug", ""))).lower()
        return all(word in hay for word in needle.split())
    return True


# -- commands -----------------------------------------------------------------------------------


def markets_command(
    ctx: typer.Context,
    venue: VenueOpt = None,
    search: Annotated[str | None, typer.Option("--search", "-s", help="Words that must all appear in the title, "
                                                                       "event, id or slug.")] = None,
    category: Annotated[str | None, typer.Option("--category", "-c", help=CATEGORY_HELP)] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Show at most N markets.")] = None,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
) -> None:
    """List the markets the venues offer, as orion reads them (a table on a terminal, JSON otherwise).

    Both venues are fetched concurrently; a venue that is down is named in a banner and the other
    venue's markets are still listed.

    Example:  orion markets --demo --search "world cup"   ·   orion markets --venue kalshi --json
    """
    from orion_cli.venues.base import parse_venues

    app = get_app(ctx)
    venues = parse_venues(one_venue(venue))
    source = open_source(app, snapshot, demo)
    live = snapshot is None and not demo
    with progress_bar(app) as progress:
        data = run(lambda: source.fetch(venues, with_books=not live, progress=progress))
    announce(app, source, data)
    in_category = category_filter(category, {m.category for m in data.markets})
    # Scan's warning: else "no markets match" hides that the filter (a typo) selects no category at all.
    missed = no_category_note(category or "", (m.category for m in data.markets), data.source,
                              "nothing to list")
    if missed:
        app.out.warn(missed)
    chosen = [m for m in data.markets if _matches(m, search, in_category)]
    chosen.sort(key=lambda m: (m.venue.value, m.event_title or m.event_id, m.title, m.id))
    if limit is not None:
        chosen = chosen[:limit]
    records = [market_record(m, data.book_for(m)) for m in chosen]
    app.out.records(records, MARKET_COLUMNS, title=f"markets ({len(records)})", empty="no markets match")


def book_command(
    ctx: typer.Context,
    market: Annotated[str, typer.Argument(help="Kalshi ticker, Polymarket condition id, YES/NO token id or slug.")],
    venue: VenueOpt = None,
    depth: Annotated[int | None, typer.Option("--depth", "-d", min=1, help="Levels per side to show.")] = None,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
) -> None:
    """Show one market's order book the way orion reads it: YES and NO, bids and asks, best first.

    Kalshi sends bids only; its asks are the other side's bids at 1 − p. Polymarket books are the
    two outcome tokens' own books, never mirrored; a token's book the CLOB does not answer (or sends
    unreadable) is marked unreadable, not shown as an empty book, and the command exits 5.

    Example:  orion book KXMENWORLDCUP-26-PT --demo   ·   orion book will-portugal-win-the-2026-fifa-world-cup-912
    """
    from orion_cli.venues.base import market_ref_problem, parse_venues

    app = get_app(ctx)
    chosen = parse_venues(one_venue(venue))
    problem = market_ref_problem(market)
    if problem is not None:  # before any request or file is read: a typing mistake, not a venue down
        from orion_cli.core.errors import UsageError

        raise UsageError(problem, hint=f"copy one from `orion markets{source_flags(snapshot, demo)} --search TEXT`")
    source = open_source(app, snapshot, demo)
    announce(app, source)
    from orion_cli.core.errors import NotFound

    try:
        m, book = run(lambda: source.book(market, venue=chosen[0] if len(chosen) == 1 else None))
    except NotFound as exc:
        # The listing to look in is of the same data: without the flags it would list the live venues.
        if exc.reason == "market_not_found":
            exc.hint = f"list markets with `orion markets{source_flags(snapshot, demo)} --search TEXT`"
        raise
    rec = book_record(m, book, depth)
    if app.out.machine:
        app.out.record(rec)
    else:
        app.out.info(f"{m.venue.value} {m.id}: {m.title}  (fee {m.fee_model.source}; "
                     f"fetched {rec['fetched_at']:%Y-%m-%d %H:%M:%S}Z, {rec['age_seconds']:.0f}s ago)")
        app.out.records(_book_rows(rec), LEVEL_COLUMNS, title=f"book {m.id}", empty="empty book")
    if book.unreadable:
        # Half a book read is not a book: the side shown empty has unknown depth, not none. The side
        # read is shown (and marked in the record), and the command fails as an unreadable book does.
        from orion_cli.core.errors import VenueError

        raise VenueError(
            f"{m.venue.value} book {m.id}: "
            + "; ".join(filter(None, (book.unread(side) for side in sorted(book.unreadable, reverse=True)))),
            hint="that side is shown empty because nothing was read, not because it has no depth; try again later",
        )


snapshot_app = typer.Typer(
    name="snapshot",
    help="Record market data from the live venues into a file that --snapshot replays offline.\n\n"
         "Example:  orion snapshot record --out markets.json.gz",
    no_args_is_help=True,
    cls=CommandGroup,
)


@snapshot_app.command("record")
def snapshot_record_command(
    ctx: typer.Context,
    out_path: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help=(
        "File to write (.json, or .json.gz to gzip); an existing file is replaced only if it is a snapshot."))],
    venue: VenueOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="At most N markets per venue.")] = None,
    no_books: Annotated[bool, typer.Option("--no-books", help="Record listings only, without order books.")] = False,
    notes: Annotated[str, typer.Option("--notes", help="Free text stored in the file.")] = "",
) -> None:
    """Record markets and order books from the live venues into a versioned snapshot file.

    The file stores the venues' raw responses; `--snapshot FILE` replays them through the same
    parsers as live data. A venue that is down is recorded as degraded; the file is written
    atomically.

    Example:  orion snapshot record --out today.json.gz --venue kalshi --limit 200
    """
    from orion_cli.venues.base import parse_venues
    from orion_cli.venues.live import RECORD_OFFLINE_HINT, LiveSource
    from orion_cli.venues.snapshot import check_writable, parse_capture, write_capture

    app = get_app(ctx)
    venues = parse_venues(one_venue(venue))
    check_writable(out_path)  # before any request: a missing or read-only directory costs no fetch
    source = LiveSource(app.settings())
    with progress_bar(app) as progress:
        capture = run(lambda: source.capture(venues, with_books=not no_books, limit=limit, progress=progress,
                                             offline_hint=RECORD_OFFLINE_HINT))
    capture.notes = notes
    try:
        size = write_capture(capture, out_path)
    except OSError as exc:  # e.g. a file name too long: check_writable only checks the directory
        from orion_cli.venues.snapshot import SnapshotError

        raise SnapshotError(f"cannot write snapshot {out_path}: {exc.strerror or exc}") from None
    data = parse_capture(capture, capture.venues, source=str(out_path))
    announce(app, source, data)
    app.out.success(f"snapshot written to {out_path}")
    app.out.record(_snapshot_summary(out_path, capture, data, size), SNAPSHOT_COLUMNS, title="snapshot")


@snapshot_app.command("info")
def snapshot_info_command(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="Snapshot file (or --demo).", dir_okay=False)] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Describe the packaged demo data set.")] = False,
) -> None:
    """Describe a snapshot file: version, recording time, what it holds and what was synthesised.

    Example:  orion snapshot info today.json.gz --json   ·   orion snapshot info --demo
    """
    from orion_cli.core.redact import mask_web_url
    from orion_cli.venues.snapshot import SnapshotSource, demo_source

    if path is not None and demo:
        raise typer.BadParameter("name a snapshot file or --demo, not both", param_hint="--demo")
    if path is None and not demo:
        raise typer.BadParameter("name a snapshot file, or --demo for the packaged demo data set",
                                 param_hint="PATH")
    app = get_app(ctx)
    source = SnapshotSource(path) if path is not None else demo_source()
    path = source.path
    cap = source.capture()
    data = source.load()
    rec = _snapshot_summary(path, cap, data, path.stat().st_size)
    rec["notes"] = cap.notes
    # A file recorded before URLs were masked on the way in may still hold a proxy's password.
    rec["environment"] = {k: mask_web_url(v) if isinstance(v, str) and "://" in v else v
                          for k, v in cap.environment.items()}
    app.out.record(rec, [*SNAPSHOT_COLUMNS, Column("notes", "notes")], title="snapshot")


def _snapshot_summary(path: Path, capture: Any, data: MarketData, size: int) -> dict[str, Any]:
    from orion_cli.venues.snapshot import FORMAT, VERSION

    per_venue = {v.value: len(data.for_venue(v)) for v in data.venues}
    books = {v.value: sum(1 for (bv, _) in data.books if bv is v) for v in data.venues}
    return {
        "type": "snapshot",
        "path": str(path),
        "format": FORMAT,
        "version": VERSION,
        "recorded_at": capture.recorded_at,
        "markets": per_venue,
        "books": books,
        "degraded": {v.value: r for v, r in data.degraded.items()},
        "errors": len(data.errors),
        "synthesised": list(capture.synthesised),
        "bytes": size,
    }


