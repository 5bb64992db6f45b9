"""``orion completion SHELL``: the shell completion script, printed by the installed orion itself.

Why a command: the scripts in the repository's ``completions/`` are not in the wheel, and an installed
orion has no source tree to copy them from (``python -m orion_cli.cli.static`` run there wrote into
site-packages). The text printed is the one those files hold, rendered from the same command tree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from orion_cli.cli.context import get_app


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion_command(
    ctx: typer.Context,
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.", show_default=False)],
) -> None:
    """Print the completion script for SHELL, to install where the shell looks for it.

    The script is static: no Python start-up per TAB press. It completes commands, options and file names;
    regenerate it after upgrading orion.

    Example:  orion completion bash > ~/.local/share/bash-completion/completions/orion
    """
    from orion_cli.cli.static import command_tree, render_bash, render_fish, render_zsh

    render = {Shell.bash: render_bash, Shell.zsh: render_zsh, Shell.fish: render_fish}[shell]
    script = render(command_tree())
    get_app(ctx).out.document(script, {"type": "completion", "shell": shell.value, "script": script})
