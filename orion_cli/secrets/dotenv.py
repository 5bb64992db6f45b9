"""A small, strict ``.env`` reader for migrating credentials from older bots.

Strict because a silently mis-parsed key is worse than a refusal. Accepted per line::

    # comment
    NAME=value                 (surrounding spaces trimmed; " #..." after a space starts a comment)
    export NAME=value
    NAME='literal value'       (no escapes; may span lines, e.g. a PEM key)
    NAME="value with \\n"       (escapes \\n \\r \\t \\" \\\\; may span lines)

No variable interpolation. Errors name the line number, never the line's content (it may be a key).
"""

from __future__ import annotations

import re

from orion_cli.core.errors import SecretsError

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


def _error(source: str, line: int, problem: str) -> SecretsError:
    return SecretsError(f"{source}, line {line}: {problem}; nothing was imported", reason="bad_dotenv")


def parse_dotenv(text: str, *, source: str = ".env") -> dict[str, str]:
    """Parse ``text``; later assignments of the same name win, as in a shell."""
    out: dict[str, str] = {}
    i, n, line = 0, len(text), 1
    if text.startswith("\ufeff"):
        i = 1
    while i < n:
        eol = text.find("\n", i)
        eol = n if eol == -1 else eol
        raw = text[i:eol].rstrip("\r")
        stripped = raw.strip()
        start_line = line
        if not stripped or stripped.startswith("#"):
            i, line = eol + 1, line + 1
            continue
        body = stripped[len("export "):].lstrip() if stripped.startswith("export ") else stripped
        m = _KEY_RE.match(body)
        if m is None or "=" not in body:
            raise _error(source, start_line, "expected NAME=value")
        key = m.group(0)
        rest = body[m.end():]
        if not rest.lstrip().startswith("="):
            raise _error(source, start_line, "expected NAME=value")
        vstart = raw.index("=") + 1  # a key cannot contain "=", so this is the assignment
        while vstart < len(raw) and raw[vstart] in " \t":
            vstart += 1
        rest = raw[vstart:].rstrip()
        if rest[:1] in ("'", '"'):
            value, end, line = _read_quoted(text, i + vstart + 1, rest[0], source, start_line)
            tail_end = text.find("\n", end)
            tail_end = n if tail_end == -1 else tail_end
            tail = text[end:tail_end].strip()
            if tail and not tail.startswith("#"):
                raise _error(source, line, "unexpected text after the closing quote")
            out[key] = value
            i, line = tail_end + 1, line + 1
            continue
        hash_at = re.search(r"\s#", rest)
        value = (rest[: hash_at.start()] if hash_at else rest).strip()
        out[key] = value
        i, line = eol + 1, line + 1
    return out


def _read_quoted(text: str, pos: int, quote: str, source: str, line: int) -> tuple[str, int, int]:
    """Read from ``pos`` (just after the opening quote) to the closing quote."""
    chars: list[str] = []
    start_line = line
    while pos < len(text):
        ch = text[pos]
        if ch == quote:
            return "".join(chars), pos + 1, line
        if ch == "\n":
            line += 1
        if ch == "\\" and quote == '"':
            nxt = text[pos + 1: pos + 2]
            if nxt in _ESCAPES:
                chars.append(_ESCAPES[nxt])
                pos += 2
                continue
            raise _error(source, line, "unknown escape sequence in a double-quoted value")
        chars.append(ch)
        pos += 1
    raise _error(source, start_line, "unterminated quoted value")
