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
