"""terminal_safe: outside text shown on a terminal."""

from __future__ import annotations

import pytest

from orion_cli.core.terminal import terminal_safe


@pytest.mark.parametrize(("text", "shown"), [
    ("plain text, ünïcode 💥", "plain text, ünïcode 💥"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("\x00\x07\x08\x0b\x0c\r\x7f", "\\x00\\x07\\x08\\x0b\\x0c\\x0d\\x7f"),
    ("\x9b31m \x85", "\\x9b31m \\x85"),
    ("\u202eevil\u2066\u2069", "\\u202eevil\\u2066\\u2069"),
])
def test_control_characters_are_shown_as_escapes(text: str, shown: str) -> None:
    assert terminal_safe(text) == shown
