"""``orion halt`` and ``orion resume``: the kill switch."""

from __future__ import annotations

from typing import Annotated

import typer

from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.output import Column

HALT_COLUMNS = [
    Column("halted", "halted"),
    Column("reason", "reason"),
    Column("kind", "kind"),
    Column("since", "since"),
    Column("by.user", "user"),
    Column("by.host", "host"),
    Column("by.pid", "pid"),
    Column("sentinel_file", "sentinel file"),
]


CANCEL_COLUMNS = [
    Column("venue", "venue"),
    Column("order_id", "order id"),
    Column("market", "market"),
    Column("side", "side"),
    Column("action", "action"),
    Column("price", "price", justify="right"),
    Column("size", "size", justify="right"),
    Column("filled_size", "filled", justify="right"),
    Column("status", "status"),
    Column("error", "error"),
]


def halt_command(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why trading is being halted.")] = "",
    status: Annotated[bool, typer.Option("--status", help="Show the kill switch without changing it.")] = False,
    cancel_open: Annotated[bool, typer.Option(
        "--cancel-open", help="After halting, cancel every resting order on the enabled venues (orion's and any "
                              "other the same accounts placed).")] = False,
) -> None:
    """Engage the kill switch: every order path refuses until `orion resume`.

    The state lives in the database, so every process and host sharing it is halted at once. The
    halt is engaged first, whatever --cancel-open then meets. --cancel-open reads the live venues
    with the vault's credentials in live mode (the paper ledger's venues otherwise); a venue that
    cannot be reached or an order that cannot be cancelled is reported and exits 5 (still halted).

    Example:  orion halt --reason "venue outage" --cancel-open   ·   orion halt --status --json
    """
    from orion_cli.risk.halt import KillSwitch

    app = get_app(ctx)
    settings = app.settings()
    if status and cancel_open:
        raise typer.BadParameter("--status shows the kill switch; it cancels nothing", param_hint="--cancel-open")
    switch = KillSwitch(app.db(), sentinel_file=settings.halt.sentinel_file, mode=app.mode())
    if status:
        st = switch.status()
        app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch")
        return
    st = switch.engage(reason or "halted from the command line")
    app.out.banner(f"HALTED: {st.reason}")
    app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch")
    if cancel_open:
        _cancel_open(app)


def _cancel_open(app: AppContext) -> None:
    from orion_cli.cli.commands.market_data import run
    from orion_cli.cli.live_venues import LazyStore, live_venues, venues_wanted
    from orion_cli.core.cancel_open import VenueCancels, cancel_open_orders
    from orion_cli.core.errors import OrionError, VenueUnavailable

    settings = app.settings()
    mode = app.mode()
    db = app.db()
    wanted = venues_wanted(settings, None)
    with LazyStore(app) as secrets:
        if mode == "live":
            try:
                venues = live_venues(settings, secrets.get(), wanted)
            except OrionError:
                app.out.warn("halted, but no resting order was cancelled: the venues could not be opened")
                raise
        else:
            from orion_cli.cli.commands.market_data import open_source
            from orion_cli.venues.paper import PaperVenue

            source = open_source(app, None, False)  # not read: cancelling needs no quotes
            venues = {v: PaperVenue(v, db, source, settings) for v in wanted}

        async def main() -> list[VenueCancels]:
            try:
                return await cancel_open_orders(db, venues, mode)
            finally:
                for tv in venues.values():
                    closer = getattr(tv, "aclose", None)
                    if callable(closer):
                        await closer()

        results: list[VenueCancels] = run(main)
    records = [o.to_record() for r in results for o in r.outcomes]
    app.out.records(records, CANCEL_COLUMNS, title=f"resting orders ({mode})", empty="no resting orders")
    done = sum(1 for r in results for o in r.outcomes if o.cancelled)
    if any(o.order.client_order_id for r in results for o in r.outcomes):
        app.out.info("orion's own orders among them get their final state and fills from `orion reconcile`")
    problems = [f"{r.venue.value}: resting orders not listed ({r.unreachable})" for r in results if r.unreachable]
    problems += [f"{o.venue.value} {o.order.venue_order_id}: {o.error}" for r in results for o in r.outcomes
                 if not o.cancelled]
    if problems:
        raise VenueUnavailable(", ".join(sorted({r.venue.value for r in results if not r.complete})),
                               f"halted, but not every resting order was cancelled: {'; '.join(problems)}",
                               hint="run `orion halt --cancel-open` again; cancelling twice is safe")
    if done:
        app.out.success(f"{done} resting order(s) cancelled")


def resume_command(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Release without the typed confirmation.")] = False,
    breaker: Annotated[
        bool, typer.Option("--breaker", help="Also release a halt engaged by the drawdown breaker.")
    ] = False,
) -> None:
    """Release the kill switch (typed confirmation on a terminal, --yes otherwise).

    Example:  orion resume --yes
    """
    from orion_cli.cli.prompts import ask_text, interactive
    from orion_cli.core.errors import Refused
    from orion_cli.risk.halt import KillSwitch

    app = get_app(ctx)
    settings = app.settings()
    switch = KillSwitch(app.db(), sentinel_file=settings.halt.sentinel_file, mode=app.mode())
    current = switch.status()
    if not current.halted:
        app.out.info("not halted; nothing to release")
        app.out.record(current.to_record(), HALT_COLUMNS, title="kill switch")
        return
    if current.sentinel and current.kind == "sentinel":
        raise Refused(f"halted by the sentinel file {current.sentinel}; remove that file to resume",
                      reason="HALTED")
    if not yes:
        if not interactive():
            raise Refused("resume needs confirmation: pass --yes (no terminal to ask on)", reason="NOT_CONFIRMED",
                          hint="orion resume --yes")
        app.out.banner(f"Trading is halted: {current.reason} (since {current.since})")
        answer = ask_text("Type RESUME to release the kill switch:")
        if (answer or "").strip() != "RESUME":
            raise Refused("resume not confirmed; the kill switch stays engaged", reason="NOT_CONFIRMED")
    st = switch.release(breaker=breaker)
    if st.halted:
        app.out.warn(f"still halted: {st.reason}")
    else:
        app.out.success("kill switch released")
    app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch")
