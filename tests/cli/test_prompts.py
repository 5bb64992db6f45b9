"""The prompt layer: a cancelled prompt is an interruption, never an answer."""

from __future__ import annotations

from typing import Any

import pytest

from orion_cli.cli import prompts


class _Question:
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    def unsafe_ask(self) -> Any:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


@pytest.fixture
def answer(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every questionary prompt kind answers with the outcome appended here (the last one)."""
    import questionary

    outcomes: list[Any] = []
    for kind in ("text", "password", "confirm"):
        monkeypatch.setattr(questionary, kind, lambda *a, **k: _Question(outcomes[-1]))
    return outcomes


@pytest.mark.parametrize("outcome", [KeyboardInterrupt(), EOFError(), None],
                         ids=["ctrl-c", "ctrl-d", "questionary-cancelled"])
@pytest.mark.parametrize("ask", [prompts.ask_text, prompts.ask_secret, prompts.confirm])
def test_a_cancelled_prompt_raises_keyboard_interrupt(answer: list[Any], outcome: Any, ask: Any) -> None:
    answer.append(outcome)
    with pytest.raises(KeyboardInterrupt):
        ask("question?")


def test_answers_come_through(answer: list[Any]) -> None:
    answer.append(" RESUME ")
    assert prompts.ask_text("q") == " RESUME "
    assert prompts.ask_secret("q") == " RESUME "
    for word, said in (("y", True), (" YES ", True), ("Yes", True), ("n", False), ("No", False), ("", False)):
        answer.append(word)
        assert prompts.confirm("q") is said, word
    answer.append("")
    assert prompts.confirm("q", default=True) is True  # Enter alone: the default


@pytest.mark.parametrize("typed", ["sorry", "why", "yy", "yes please", "ok", "1", "true", "nope"])
def test_a_confirmation_takes_only_a_yes_or_a_no_word(typed: str) -> None:
    """Found in review: questionary's confirm took any single ``y`` keystroke for yes: "sorry" placed live
    orders. A word that is not y/yes/n/no is refused where it was typed (the question stays)."""
    assert prompts._yes_or_no(typed) == prompts.CONFIRM_HINT
    for word in ("y", "YES", " n ", "no", ""):
        assert prompts._yes_or_no(word) is True


class _RunsItsOwnLoop(_Question):
    """As prompt_toolkit's ``Application.run``: the answer comes from ``asyncio.run`` of the application."""

    def unsafe_ask(self) -> Any:
        import asyncio

        async def application() -> Any:
            return super(_RunsItsOwnLoop, self).unsafe_ask()

        return asyncio.run(application())


@pytest.mark.parametrize("outcome", ["the master password", KeyboardInterrupt()], ids=["answered", "ctrl-c"])
def test_a_prompt_asked_inside_a_running_event_loop_is_answered(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> None:
    """Found by a black-box review: a live trade on a terminal unlocked the vault while the banner's balances
    were read inside ``asyncio.run``; the password prompt's own ``asyncio.run`` then crashed (exit 1)."""
    import asyncio

    import questionary

    monkeypatch.setattr(questionary, "password", lambda *a, **k: _RunsItsOwnLoop(outcome))

    async def building_a_live_venue() -> str:
        return prompts.ask_secret("Master password")

    if isinstance(outcome, BaseException):
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(building_a_live_venue())
    else:
        assert asyncio.run(building_a_live_venue()) == outcome
        assert prompts.ask_secret("Master password") == outcome  # and outside a loop, as before


def test_only_asyncio_runs_own_sigint_handler_is_swapped_while_a_prompt_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found reviewing the thread prompt: the SIGINT handler was replaced whatever it was, a StopFlag's too (its
    deferral inside a critical section skipped). Only asyncio.run's own, which only cancels the blocked main
    task, is swapped while the prompt waits; any other is kept, and it is put back afterwards."""
    import asyncio
    import signal

    import questionary

    seen: list[Any] = []

    during: list[Any] = []

    class Looking(_Question):
        def unsafe_ask(self) -> Any:
            during.append(signal.getsignal(signal.SIGINT))  # while the prompt is shown
            return "answer"

    monkeypatch.setattr(questionary, "password", lambda *a, **k: Looking("answer"))

    def mine(signum: int, frame: Any) -> None:
        raise AssertionError("not called")

    async def asking() -> Any:
        seen.append(signal.getsignal(signal.SIGINT))  # asyncio.run's own
        answered = prompts.ask_secret("Master password")
        seen.append(signal.getsignal(signal.SIGINT))
        signal.signal(signal.SIGINT, mine)
        prompts.ask_secret("Master password")
        seen.append(signal.getsignal(signal.SIGINT))
        return answered

    assert asyncio.run(asking()) == "answer"
    assert prompts._asyncio_runner_handler(seen[0]) and seen[1] is seen[0] and seen[2] is mine
    assert during == [signal.default_int_handler, mine]  # asyncio's swapped for the wait, another kept
