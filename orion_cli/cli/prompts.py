"""Interactive prompts that refuse, rather than hang, when nobody is at a terminal.

A prompt cancelled with Ctrl-C or Ctrl-D raises :class:`KeyboardInterrupt`, which the app turns into
exit 130 ("interrupted", DESIGN's exit codes) before anything is changed. Questionary's own ``ask()``
returns ``None`` instead, which every caller had to tell apart from an answer; two did not, and read
a cancelled live-trading phrase or ``RESUME`` as a wrong answer (exit 6).
"""

from __future__ import annotations

import sys
from typing import Any

from orion_cli.cli.output import stream_is_tty


def interactive() -> bool:
    """A prompt is allowed only when both stdin and stdout are terminals."""
    return stream_is_tty(sys.stdin) and stream_is_tty(sys.stdout)


def _ask(question: Any) -> Any:
    if _in_event_loop():
        # prompt_toolkit runs its own event loop (asyncio.run), which cannot start inside a running one:
        # a vault unlocked while a live venue is built inside a coroutine (the live banner's balances, a
        # watch round) crashed with exit 1 before the prompt. The question is asked from a thread of its
        # own instead; the loop waits for the answer, as it would for any synchronous prompt.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="orion-prompt") as pool:
            return pool.submit(_answer, question).result()
    return _answer(question)


def _in_event_loop() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _answer(question: Any) -> Any:
    try:
        answer = question.unsafe_ask()
    except EOFError:  # Ctrl-D
        raise KeyboardInterrupt from None
    if answer is None:  # questionary's own "cancelled"
        raise KeyboardInterrupt
    return answer


def ask_text(message: str) -> str:
    """A plain text answer (Ctrl-C/Ctrl-D raise KeyboardInterrupt)."""
    import questionary

    return str(_ask(questionary.text(message)))


def ask_secret(message: str) -> str:
    """A hidden answer (Ctrl-C/Ctrl-D raise KeyboardInterrupt)."""
    import questionary

    return str(_ask(questionary.password(message)))


def confirm(message: str, default: bool = False) -> bool:
    """Yes or no (Ctrl-C/Ctrl-D raise KeyboardInterrupt: "interrupted", not "no")."""
    import questionary

    return bool(_ask(questionary.confirm(message, default=default)))
