"""Interactive prompts that refuse, rather than hang, when nobody is at a terminal."""

from __future__ import annotations

import sys

from orion_cli.cli.output import stream_is_tty


def interactive() -> bool:
    """A prompt is allowed only when both stdin and stdout are terminals."""
    return stream_is_tty(sys.stdin) and stream_is_tty(sys.stdout)


def ask_text(message: str) -> str | None:
    """A plain text answer; ``None`` when cancelled (Ctrl-C/Ctrl-D)."""
    import questionary

    answer = questionary.text(message).ask()
    return None if answer is None else str(answer)


def ask_secret(message: str) -> str | None:
    """A hidden answer; ``None`` when cancelled."""
    import questionary

    answer = questionary.password(message).ask()
    return None if answer is None else str(answer)


def confirm(message: str, default: bool = False) -> bool:
    import questionary

    answer = questionary.confirm(message, default=default).ask()
    return bool(answer)
