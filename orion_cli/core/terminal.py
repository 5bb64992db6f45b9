"""Text from outside orion (a halt reason, a market title, a venue's error body) made safe to show on
a terminal."""

from __future__ import annotations

import re

__all__ = ["terminal_safe"]

# Terminal control characters in text orion did not write (a halt reason, a market title, a venue's
# error): an escape sequence would recolour, retitle or rewrite the operator's terminal, and a
# carriage return or a bidirectional override would make a line say what it does not. Shown as
# escapes on human output; JSON escapes C0 controls itself and carries the text unchanged.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with its terminal control characters shown as escapes (newlines and tabs kept)."""
    return _CONTROL.sub(_escape_control, text)
