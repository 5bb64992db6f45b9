"""``orion halt`` and ``orion resume``: the kill switch."""

from __future__ import annotations

from typing import Annotated

import typer

from orion_cli.cli.context import get_app
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


def halt_command(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why trading is being halted.")] = "",
    status: Annotated[bool, typer.Option("--status", help="Show the kill switch without changing it.")] = False,
) -> None:
    """Engage the kill switch: every order path refuses until `orion resume`.

    The state lives in the database, so every process and host sharing it is halted at once.

    Example:  orion halt --reason "venue outage"   ·   orion halt --status --json
    """
    from orion_cli.risk.halt import KillSwitch

    app = get_app(ctx)
    settings = app.settings()
    switch = KillSwitch(app.db(), sentinel_file=settings.halt.sentinel_file, mode=settings.trading.mode)
    if status:
        st = switch.status()
        app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch")
        return
    st = switch.engage(reason or "halted from the command line")
    app.out.banner(f"HALTED: {st.reason}")
    app.out.record(st.to_record(), HALT_COLUMNS, title="kill switch")


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
    switch = KillSwitch(app.db(), sentinel_file=settings.halt.sentinel_file, mode=settings.trading.mode)
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
