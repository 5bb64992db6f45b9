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
    answer.append(False)
    assert prompts.confirm("q") is False
    answer.append(True)
    assert prompts.confirm("q") is True


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
