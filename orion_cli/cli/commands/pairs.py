"""``orion pairs``: the curated cross-venue pair file, and auto-suggested candidates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orion_cli.cli.commands.market_data import DemoOpt, SnapshotOpt, announce, open_source, progress_bar, run
from orion_cli.cli.commands.scan import CANDIDATE_COLUMNS, pairs_configured, pairs_path
from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.groups import CommandGroup
from orion_cli.cli.output import Column
from orion_cli.cli.params import finite

app = typer.Typer(help="The curated Kalshi ↔ Polymarket pairs file (only curated or auto-accepted pairs "
                       "are tradable).\n\nExample:  orion pairs suggest --demo --limit 10", no_args_is_help=True,
                  cls=CommandGroup)

PAIR_COLUMNS = [
    Column("kalshi", "kalshi"),
    Column("polymarket", "polymarket"),
    Column("inverted", "inverted"),
    Column("note", "note"),
    Column("added_at", "added"),
]


if TYPE_CHECKING:
    from orion_cli.matching.pairs import AroundWrite, CuratedPair


def _audited(app_ctx: AppContext, kind: str) -> AroundWrite:
    """The pairs file is changed inside the transaction that audits the change, committed after it: the
    file is what the scan trades, so no change to it may go unaudited (a process killed between the
    write and a transaction of the event's own left a pair tradable that the audit log never named)."""
    from orion_cli.store.audit import AuditLog

    @contextmanager
    def around(pair: CuratedPair) -> Iterator[None]:
        with app_ctx.db().write() as conn:  # the ledger opened (or created) only for a change going ahead
            AuditLog.append(conn, kind, pair.to_record(), mode=app_ctx.mode())
            yield

    return around


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List the curated pairs.

    Example:  orion pairs list --json
    """
    from orion_cli.matching.pairs import list_pairs

    app_ctx = get_app(ctx)
    path = pairs_path(app_ctx)
    records = [p.to_record() for p in list_pairs(path, configured=pairs_configured(app_ctx))]
    app_ctx.out.records(records, PAIR_COLUMNS, title=f"curated pairs ({path})", empty=f"no curated pairs in {path}")


def _token_look_up(app_ctx: AppContext, snapshot: Path | None, demo: bool, kalshi: str,
                   inverted: bool = False) -> Callable[[str], str]:
    """The condition id of the market whose YES token a pair names: read from the recording (--snapshot,
    --demo) or asked of Polymarket. A NO token, or a token no market has, is refused (a NO token with the
    command to give instead, for ``kalshi``, the ticker typed).

    The command given instead keeps what was typed: "Kalshi YES settles like the NO token's outcome"
    (no --inverted) is the market inverted, and "... like the other outcome" (``inverted``) is the
    market direct. Review: the hint always added --inverted, so `add K NO_TOKEN --inverted`, run as
    hinted, curated the opposite polarity, whose opportunities buy one outcome twice."""

    def look_up(token: str) -> str:
        from orion_cli.core.errors import NotFound, OrionError, UsageError
        from orion_cli.core.models import Venue
        from orion_cli.venues.snapshot import SnapshotSource

        source = open_source(app_ctx, snapshot, demo)
        where = f"in the {source.name}" if isinstance(source, SnapshotSource) else "on Polymarket"
        try:
            if isinstance(source, SnapshotSource):
                announce(app_ctx, source)
                market = source.find_market(token, Venue.POLYMARKET,
                                            data=source.load([Venue.POLYMARKET], with_books=False))
            else:
                market, _ = run(lambda: source.book(token, venue=Venue.POLYMARKET, with_fees=False))
        except NotFound:
            raise NotFound(f"no Polymarket market has the token {token} ({where})", reason="market_not_found",
                           hint="check the id (`orion markets`), or name the market by its condition id (0x…)"
                           ) from None
        except OrionError as exc:  # the venue down, its answer unreadable: the pair is not added
            exc.message = f"cannot look up the market of Polymarket token {token} {where}: {exc.message}"
            exc.hint = (f"{exc.hint}; or " if exc.hint else "") + (
                "name the market by its condition id (0x…), or look the token up in a recording (--snapshot "
                "FILE): its market must be known to hold one Kalshi market on it each way")
            raise
        if token == market.no_token:
            reading = ("--inverted with that NO token (Kalshi YES settling like its other outcome, Polymarket "
                       "YES) is the pair direct" if inverted
                       else "Kalshi YES settling like that NO token is the pair inverted")
            raise UsageError(
                f"{token} is the NO token of Polymarket market {market.id}: a pair names the market, by its "
                "condition id or YES token, and --inverted says Kalshi YES settles like Polymarket NO",
                hint=f"{reading}: `orion pairs add {kalshi} {market.id}"
                     f"{'' if inverted else ' --inverted'}` (if that is what settles alike)")
        if token != market.yes_token:
            raise UsageError(f"Polymarket market {market.id} lists {token} as neither its YES nor its NO token")
        return market.id

    return look_up


@app.command("add")
def add_command(
    ctx: typer.Context,
    kalshi: Annotated[str, typer.Argument(help="Kalshi market ticker.")],
    polymarket: Annotated[str, typer.Argument(help="Polymarket condition id (0x…), or YES token id: looked up and "
                                                   "stored as its market's condition id (a NO token is refused: "
                                                   "use --inverted for the polarity).")],
    inverted: Annotated[bool, typer.Option("--inverted", help="Kalshi YES settles like Polymarket NO.")] = False,
    note: Annotated[str, typer.Option("--note", help="Why these settle the same way.")] = "",
    snapshot: Annotated[Path | None, typer.Option("--snapshot", dir_okay=False,
                                                  help="Look a YES token id up in this recorded snapshot file "
                                                       "instead of on Polymarket.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Look a YES token id up in the packaged demo data set "
                                                      "(offline).")] = False,
) -> None:
    """Curate a pair: these two markets settle the same way (or inverted, with --inverted).

    A Kalshi market is paired once; a Polymarket market once each way (direct, and --inverted for the
    other outcome of a two-outcome event, such as the other team of a game), whichever id names it: a
    YES token id is looked up (on Polymarket, or with --snapshot/--demo in recorded data) and the pair
    stored with its market's condition id. To change a pair, remove it first (orion pairs remove KALSHI).

    Example:  orion pairs add KXUPONLY-01-BRIA 0x18682f5c3ac9f66132244ac057a2817a1b908702d424680f35de26cad232087d
    --note "same podcast, same deadline"
    """
    from orion_cli.core.errors import UsageError
    from orion_cli.matching.pairs import AlreadyCurated, CuratedPair, add_pair, canonical_polymarket

    app_ctx = get_app(ctx)
    if not kalshi.strip() or not polymarket.strip():
        raise UsageError("both KALSHI and POLYMARKET must be non-empty")
    if snapshot is not None and demo:
        raise typer.BadParameter("use either --snapshot or --demo", param_hint="--demo")
    # Open the ledger first: a failing database must not leave a pair added without its audit event.
    # A missing one is created only once the pair is going in (before_write): a refused pair (a
    # mistyped id) must not leave a new ledger at a mistyped --db or ORION_HOME.
    app_ctx.db_if_exists()
    typed = polymarket.strip()
    try:
        pair = add_pair(pairs_path(app_ctx), CuratedPair(kalshi.strip(), typed, inverted, note),
                        look_up=_token_look_up(app_ctx, snapshot, demo, kalshi.strip(), inverted),
                        around_write=_audited(app_ctx, "pairs.added"), configured=pairs_configured(app_ctx))
    except AlreadyCurated as same:  # a provisioning script run twice: nothing to do, nothing wrong
        app_ctx.out.info(f"{same.message}; nothing changed")
        app_ctx.out.record(same.pair.to_record(), PAIR_COLUMNS)
        return
    by_token = "" if pair.polymarket == canonical_polymarket(typed) else f" (the market of YES token {typed})"
    app_ctx.out.success(f"curated {pair.kalshi} ↔ {pair.polymarket}{by_token}{' (inverted)' if inverted else ''}")
    app_ctx.out.record(pair.to_record(), PAIR_COLUMNS)


@app.command("remove")
def remove_command(
    ctx: typer.Context,
    kalshi: Annotated[str, typer.Argument(help="Kalshi market ticker of the pair to remove.")],
    polymarket: Annotated[str | None, typer.Argument(help="Only the pair with this Polymarket id, as `orion pairs "
                                                         "list` shows it (a pair added by YES token id is stored "
                                                         "with its market's condition id).")] = None,
) -> None:
    """Remove a curated pair.

    Example:  orion pairs remove KXUPONLY-01-BRIA
    """
    from orion_cli.core.errors import UsageError
    from orion_cli.matching.pairs import remove_pair

    app_ctx = get_app(ctx)
    if not kalshi.strip() or (polymarket is not None and not polymarket.strip()):
        # As `pairs add` says it (an unset shell variable), not "no curated pair  in …" (a black-box review).
        raise UsageError("KALSHI (and POLYMARKET, when given) must be non-empty",
                         hint="`orion pairs list` shows the curated pairs")
    app_ctx.db_if_exists()  # before the write, as in `pairs add` (a missing ledger: created by the write only)
    pair = remove_pair(pairs_path(app_ctx), kalshi.strip(), polymarket.strip() if polymarket else None,
                       around_write=_audited(app_ctx, "pairs.removed"), configured=pairs_configured(app_ctx))
    app_ctx.out.success(f"removed {pair.kalshi} ↔ {pair.polymarket}")
    app_ctx.out.record(pair.to_record(), PAIR_COLUMNS)


# Scan's candidate columns but "net edge if curated": suggest reads no books, so it prices nothing
# (`orion scan --include-candidates` shows that figure).
SUGGEST_COLUMNS = [*(c for c in CANDIDATE_COLUMNS if c.key != "if_curated_text"), Column("auto_accepted", "auto")]


@app.command("suggest")
def suggest_command(
    ctx: typer.Context,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
    min_confidence: Annotated[float, typer.Option("--min-confidence", min=0, max=1, callback=finite,
                                                  help="Only candidates at or above this confidence.")] = 0.5,
    accept: Annotated[list[str] | None, typer.Option("--accept", help="Write the candidate for this Kalshi "
                                                                      "ticker to the pairs file; repeatable.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N candidates.")] = 50,
) -> None:
    """Suggest pairs: matched candidates with their confidence and, when held back, the reasons.

    Example:  orion pairs suggest --demo   ·   orion pairs suggest --demo --accept KXUPONLY-01-BRIA
    """
    from datetime import UTC, datetime

    from orion_cli.core.errors import NotFound, Refused
    from orion_cli.core.scan import hold_back_not_open, match_settings, polymarket_market_of
    from orion_cli.matching.equivalence import MARKET_NOT_OPEN
    from orion_cli.matching.pairs import (
        CURATED_ELSEWHERE,
        AlreadyCurated,
        CuratedPair,
        add_pair,
        canonical_kalshi,
        curated_holder,
        hold_back_for_curated,
        load_pairs,
    )
    from orion_cli.matching.pipeline import match_markets

    app_ctx = get_app(ctx)
    settings = app_ctx.settings()
    # A bad pairs file (or one matching.pairs_file names that is not there) is exit 3 before the venues are asked.
    curated = load_pairs(pairs_path(app_ctx), configured=pairs_configured(app_ctx))
    source = open_source(app_ctx, snapshot, demo)
    with progress_bar(app_ctx) as progress:
        data = run(lambda: source.fetch(with_books=False, progress=progress))
    announce(app_ctx, source, data)
    from orion_cli.core.models import Venue

    result = match_markets(data.for_venue(Venue.KALSHI), data.for_venue(Venue.POLYMARKET),
                           settings=match_settings(settings))
    # Held back as the scan holds them: a candidate for a Polymarket market a curated pair already pairs
    # the same way round is CURATED_ELSEWHERE, not "auto" (the scan never trades it, --accept refuses it).
    market_of = polymarket_market_of(data.for_venue(Venue.POLYMARKET))
    candidates = hold_back_for_curated(curated, result.candidates, market_of)
    # And as MARKET_NOT_OPEN, a candidate with a market past its close time at the data's own time, a
    # recording's replayed (`orion trade` refuses it).
    candidates = hold_back_not_open(candidates, {m.id: m for m in data.for_venue(Venue.KALSHI)},
                                    {m.id: m for m in data.for_venue(Venue.POLYMARKET)},
                                    data.market_clock(datetime.now(UTC)))
    chosen = [c for c in candidates if c.confidence >= min_confidence][:limit]
    records = []
    for c in chosen:
        rec = c.to_record()
        rec["reasons_text"] = ", ".join(rec["reasons"]) or "passes every check"
        rec["auto_accepted"] = c.passed and c.confidence >= float(settings.matching.auto_accept_confidence)
        if app_ctx.out.machine:
            rec.pop("reasons_text")
        records.append(rec)
    app_ctx.out.records(records, SUGGEST_COLUMNS,
                        title="suggested pairs", empty="no candidates")
    if accept:  # the ledger before any write to the pairs file (a missing one: created by a write only)
        app_ctx.db_if_exists()
    for typed in accept or []:
        ticker = canonical_kalshi(typed)  # as `pairs add` takes it: kxfoo names KXFOO
        mine = [c for c in candidates if c.kalshi_id == ticker]
        # Prefer a candidate that passes every check; otherwise report why the best one is held back.
        match = next((c for c in mine if c.passed), mine[0] if mine else None)
        if match is None:
            raise NotFound(f"no candidate for Kalshi market {ticker!r}")
        if CURATED_ELSEWHERE in match.reasons:  # not "curate it with `pairs add`": that refuses it too
            holder = curated_holder(curated, candidates, market_of)(match)
            how = "inverted" if match.inverted else "direct (not inverted)"
            raise Refused(f"candidate {ticker} ↔ {match.polymarket_id} is held back ({CURATED_ELSEWHERE}): that "
                          f"Polymarket market is curated {how} with Kalshi market {holder or '(another)'}, and "
                          "pairs with one Kalshi market each way", reason="HELD_BACK",
                          hint=f"if {ticker} replaces it, remove that pair first: "
                               f"`orion pairs remove {holder or 'KALSHI'}`")
        if MARKET_NOT_OPEN in match.reasons:  # not "curate it with `pairs add`": the scan would not price it
            raise Refused(f"candidate {ticker} ↔ {match.polymarket_id} is held back ({MARKET_NOT_OPEN}): "
                          + "; ".join(w.removeprefix(f"{MARKET_NOT_OPEN}: ") for w in match.detail.get("why", ())
                                      if w.startswith(f"{MARKET_NOT_OPEN}: "))
                          + ", and no order can go to it", reason="HELD_BACK")
        if match.reasons:
            raise Refused(f"candidate {ticker} ↔ {match.polymarket_id} is held back ({', '.join(match.reasons)}); "
                          "curate it explicitly with `orion pairs add` if you have checked both rulebooks",
                          reason="HELD_BACK")
        try:
            pair = add_pair(pairs_path(app_ctx), CuratedPair(
                match.kalshi_id, match.polymarket_id, match.inverted,
                f"accepted from suggest (confidence {match.confidence:.2f})"),
                around_write=_audited(app_ctx, "pairs.added"), configured=pairs_configured(app_ctx))
        except AlreadyCurated as same:
            app_ctx.out.info(f"{same.message}; nothing changed")
            continue
        app_ctx.out.success(f"curated {pair.kalshi} ↔ {pair.polymarket}")
