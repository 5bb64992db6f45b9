"""The command-group class every orion group is built with (the root and ``audit``, ``config``, …)."""

from __future__ import annotations

import sys
from typing import Any

from typer.core import TyperGroup

from orion_cli.cli.output import stream_is_tty

MISSING_COMMAND = "Missing command."  # Click's own words for a group given no command


class CommandGroup(TyperGroup):
    """A group that answers a missing command with its help only when a person reads stdout.

    With ``no_args_is_help``, Typer prints a group's whole help to stdout (exit 2) when it is given no
    command. Piped or under cron that is kilobytes of boxed text on the data channel, where
    ``orion audit --json | jq`` reads it as broken JSON, and no ``error:`` line. Off a terminal, a
    missing command is therefore the usage error any other one is (``app._usage_error``: an ``error:``
    line, a ``hint:`` naming the group's ``--help``, the JSON record; nothing on stdout).
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing and not stream_is_tty(sys.stdout):
            ctx.fail(MISSING_COMMAND)
        return super().parse_args(ctx, args)
