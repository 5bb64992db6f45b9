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
        return _answer_in_thread(question)
    return _answer(question)


def _answer_in_thread(question: Any) -> Any:
    """:func:`_answer` from a daemon thread, this one waiting interruptibly.

    A stop arriving while it waits (SIGTERM, SIGHUP or SIGINT, raised here as KeyboardInterrupt) ends the
    prompt's application, so its terminal is put back, and is raised at once: waiting on the prompt thread
    (a thread pool's exit did) hung the process until someone pressed Enter (found in review)."""
    import threading

    outcome: dict[str, Any] = {}

    def ask() -> None:
        try:
            outcome["answer"] = _answer(question)
        except BaseException as exc:  # handed to the waiting thread, which raises it
            outcome["error"] = exc

    worker = threading.Thread(target=ask, name="orion-prompt", daemon=True)
    # asyncio.run's own SIGINT handler only cancels the loop's main task, which this wait blocks: a SIGINT did
    # nothing until a second one. While the prompt is shown, SIGINT interrupts the wait, as Ctrl-C would.
    previous = None
    if threading.current_thread() is threading.main_thread():
        import signal

        if _asyncio_runner_handler(signal.getsignal(signal.SIGINT)):  # not another's (a StopFlag's): kept
            previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except BaseException:
        # Asked again until it has ended (2 s at most): a stop before its application has a loop (it is still
        # starting) would otherwise leave it running, the terminal raw (found in review).
        for _ in range(20):
            _end_prompt(question)
            worker.join(0.1)
            if not worker.is_alive():
                break
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["answer"]


def _asyncio_runner_handler(handler: Any) -> bool:
    """Whether ``handler`` is asyncio.run's own SIGINT handler (a partial of ``Runner._on_sigint``)."""
    import functools

    return isinstance(handler, functools.partial) and getattr(handler.func, "__name__", "") == "_on_sigint"


def _end_prompt(question: Any) -> None:
    """Ask the running prompt_toolkit application of ``question`` to exit (from another thread)."""
    application = getattr(question, "application", None)
    loop = getattr(application, "loop", None)
    if application is None or loop is None:
        return

    def end() -> None:
        if application.is_running and application.future is not None and not application.future.done():
            application.exit(exception=KeyboardInterrupt())

    try:
        loop.call_soon_threadsafe(end)
    except RuntimeError:  # its loop already closed: the prompt has ended
        pass


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


YES_WORDS = frozenset({"y", "yes"})
NO_WORDS = frozenset({"n", "no"})
CONFIRM_HINT = "answer y (yes) or n (no), then Enter"


def confirm(message: str, default: bool = False) -> bool:
    """Yes or no, as a word and Enter (Ctrl-C/Ctrl-D raise KeyboardInterrupt: "interrupted", not "no").

    Why not ``questionary.confirm``: it takes the answer from a single key, and any ``y`` is yes. Found in
    review: "sorry" typed at "Place these orders? (y/N)" placed the orders (its last letter), and so did
    keys typed while the plan was still printing, live ones included. Keys typed before the question shows
    are discarded; only ``y``/``yes`` (any case) is yes, ``n``/``no`` no, Enter alone ``default``, and any
    other answer is refused in place (the question stays until it gets one of those)."""
    import questionary

    _discard_typeahead()
    answer = str(_ask(questionary.text(f"{message} {'(Y/n)' if default else '(y/N)'}",
                                       validate=_yes_or_no))).strip().lower()
    return default if not answer else answer in YES_WORDS


def _yes_or_no(text: str) -> bool | str:
    word = text.strip().lower()
    return not word or word in YES_WORDS or word in NO_WORDS or CONFIRM_HINT


def _discard_typeahead() -> None:
    """Drop what was typed at the terminal before the question (nothing when stdin is not one)."""
    try:
        import termios

        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except Exception:  # not a terminal, no termios (Windows), a closed stdin: nothing was typed ahead there
        return
