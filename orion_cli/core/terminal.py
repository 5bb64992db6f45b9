"""Text from outside orion (a halt reason, a market title, a venue's error body) made safe to show on
a terminal."""

from __future__ import annotations

import re

__all__ = ["C1_AND_BIDI", "one_line", "terminal_safe"]

# The C1 controls (0x9b is a terminal's one-byte escape) and the bidirectional overrides and isolates:
# escaped here and, by cli/output, inside JSON text (which escapes only the C0 controls itself).
C1_AND_BIDI = (*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))

# Terminal control characters in text orion did not write (a halt reason, a market title, a venue's
# error): an escape sequence would recolour, retitle or rewrite the operator's terminal, and a
# carriage return or a bidirectional override would make a line say what it does not. Shown as
# escapes on human output; JSON escapes C0 controls itself and carries the text unchanged.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f" + "".join(map(chr, C1_AND_BIDI)) + "]")


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with its terminal control characters shown as escapes (newlines and tabs kept)."""
    return _CONTROL.sub(_escape_control, text)


def one_line(text: str) -> str:
    """``text`` made safe and kept on one line: a line break is shown as ``\\n`` too.

    For what must read as one line whatever it quotes (a table cell, a warning, an error and its
    hint, a banner): a sentinel file's or a venue's multi-line text would otherwise put words at the
    start of a line of their own, where they read as orion's.
    """
    return terminal_safe(text).replace("\n", "\\n")
