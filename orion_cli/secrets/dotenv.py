"""A small, strict ``.env`` reader for migrating credentials from older bots.

Strict because a silently mis-parsed key is worse than a refusal. Accepted per line::

    # comment
    NAME=value                 (surrounding spaces trimmed; " #..." after a space starts a comment)
    export NAME=value
    NAME='literal value'       (no escapes; may span lines, e.g. a PEM key)
    NAME="value with \\n"       (escapes \\n \\r \\t \\" \\\\; may span lines)

No variable interpolation. Errors name the line number, never the line's content (it may be a key).

:func:`scan_dotenv` also reports the values the file holds that its parse does not keep (an
assignment a later one replaces, a commented-out ``# NAME=value``): shredding the file destroys them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from orion_cli.core.errors import SecretsError

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


# A commented-out assignment: "#", then optionally "export", then NAME=... ("# see https://x?a=b" and
# "# e.g. FOO=1" are prose: no name directly after the "#").
_COMMENTED_RE = re.compile(r"#+\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=(.*)")
# Key material in a comment that is no assignment: a commented-out PEM private key block (its base64 lines
# hold "+" and "/", which no name does) or a bare 64-hex-digit wallet key. A black-box review found such a
# file shredded by `secrets encrypt --shred-source`, the commented key lost with it.
_KEY_IN_COMMENT_RE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
                                r"|(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z])")


def _bare_hex(value: str) -> str:
    """``value`` as a hex key compares: without quotes, blanks or an ``0x``/``0X`` prefix, in lower case."""
    bare = value.strip().strip("'\"").strip()
    return (bare[2:] if bare[:2] in ("0x", "0X") else bare).lower()


def _drops_key_material(comment: str, kept: set[str]) -> bool:
    """Whether ``comment`` holds key material the import does not keep: a PEM private key block (never imported
    from a comment), or 64 hex digits that are not a value imported."""
    for found in _KEY_IN_COMMENT_RE.finditer(comment):
        if found.group(0).startswith("-----") or _bare_hex(found.group(0)) not in kept:
            return True
    return False


def _comment_after(text: str) -> str:
    """The comment after a value (`` # …``), where an old key is kept too (``PK=0x<new>  # old 0x<old>``)."""
    at = re.search(r"\s#", text)
    return text[at.start():] if at else ""


def name_may_be_key_material(name: str, value: str = "") -> bool:
    """Whether a name the NAME=value pattern found is more likely part of a key than a variable's name.

    Why: a line of base64 ending in "==" reads as an assignment (``Zm9vYmFy…MQ==`` is the name
    ``Zm9vYmFy…MQ`` given "="), and so does the last line of a commented-out PEM block; an error that
    named it printed secret material. A variable's name is in one case (``RPC_URL``, ``rpc_url``) and
    short, and its value is not padding alone (a base32 seed is in one case: ``JBSWY3DP…====``);
    anything else is described by its line alone."""
    padding = bool(value.strip()) and not value.strip().strip("=")
    return padding or len(name) > 64 or (name != name.upper() and name != name.lower())


def describe_name(name: str, line: int, value: str = "") -> str:
    """``name`` for a message, or, where it may be key material, the line it is on."""
    if name_may_be_key_material(name, value):
        return f"a value on line {line} (its name not shown: it may be part of a key)"
    return name


class Unkept(NamedTuple):
    """A value in the file that the parse does not keep (line numbers, never the value)."""

    name: str
    line: int
    replaced_on: int | None  # the line of the assignment that wins; None: commented out
    emptied: bool = False  # the assignment that wins is empty
    hidden: bool = False  # its name may be part of a key (name_may_be_key_material): said by its line

    def describe(self) -> str:
        if self.hidden or name_may_be_key_material(self.name):
            what = f"a value on line {self.line} (its name not shown: it may be part of a key)"
        else:
            what = f"{self.name} on line {self.line}"
        if self.replaced_on is None:
            return f"{what} (commented out)"
        how = "emptied" if self.emptied else "replaced"
        return f"{what} ({how} on line {self.replaced_on})"


@dataclass
class DotenvScan:
    values: dict[str, str] = field(default_factory=dict, repr=False)
    unkept: list[Unkept] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # each name's winning assignment's line


def _error(source: str, line: int, problem: str) -> SecretsError:
    return SecretsError(f"{source}, line {line}: {problem}; nothing was imported", reason="bad_dotenv")


def parse_dotenv(text: str, *, source: str = ".env") -> dict[str, str]:
    """Parse ``text``; later assignments of the same name win, as in a shell."""
    return scan_dotenv(text, source=source).values


def _commented_value(rest: str) -> str:
    """The value of a commented-out assignment, roughly as the parser would read it (quotes dropped,
    a `` #`` comment cut); only whether it is empty, or the value kept, matters."""
    rest = rest.strip()
    if rest[:1] in ("'", '"'):
        close = rest.find(rest[0], 1)
        return rest[1:close] if close != -1 else rest[1:]  # unclosed: a commented-out multi-line value
    hash_at = re.search(r"\s#", rest)
    return (rest[: hash_at.start()] if hash_at else rest).strip()


def scan_dotenv(text: str, *, source: str = ".env") -> DotenvScan:
    """Parse ``text`` (as :func:`parse_dotenv`), and list the non-empty values it does not keep: an
    assignment replaced by a later one of the same name with another value (or an empty one), and a
    commented-out assignment (``# NAME=value``, ``#export NAME=value``) holding another value than the
    name's. Each is the file's only copy of that value (an old wallet key, say)."""
    out: dict[str, str] = {}
    assigned: list[tuple[str, int, str]] = []
    commented: list[tuple[str, int, str]] = []
    keys_in_comments: list[tuple[int, str]] = []  # (line, the comment) of comments holding key material
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
            m = _COMMENTED_RE.fullmatch(stripped)
            if m is not None:
                commented.append((m.group(1), start_line, _commented_value(m.group(2))))
            # The comment itself, or, after a commented-out assignment, the comment after its value.
            comment = stripped if m is None else _comment_after(m.group(2))
            if _KEY_IN_COMMENT_RE.search(comment):
                keys_in_comments.append((start_line, comment))
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
            if _KEY_IN_COMMENT_RE.search(tail):
                keys_in_comments.append((line, tail))
            out[key] = value
            assigned.append((key, start_line, value))
            i, line = tail_end + 1, line + 1
            continue
        hash_at = re.search(r"\s#", rest)
        value = (rest[: hash_at.start()] if hash_at else rest).strip()
        if hash_at and _KEY_IN_COMMENT_RE.search(rest[hash_at.start():]):
            keys_in_comments.append((start_line, rest[hash_at.start():]))
        out[key] = value
        assigned.append((key, start_line, value))
        i, line = eol + 1, line + 1
    last = {key: at for key, at, _ in assigned}
    unkept = [Unkept(key, at, last[key], emptied=not out[key].strip(), hidden=name_may_be_key_material(key, value))
              for key, at, value in assigned
              if at != last[key] and value.strip() and value != out[key]]
    unkept += [Unkept(key, at, None, hidden=name_may_be_key_material(key, value))
               for key, at, value in commented if value.strip() and value != out.get(key)]
    # A comment's key material the import keeps (a copy of a value it imports), or on a line already listed (a
    # commented-out assignment holding another value), loses nothing more (found in review).
    kept = {_bare_hex(v) for v in out.values()}
    listed = {u.line for u in unkept}
    unkept += [Unkept("", at, None, hidden=True) for at, comment in keys_in_comments
               if at not in listed and _drops_key_material(comment, kept)]
    unkept.sort(key=lambda u: u.line)
    return DotenvScan(out, unkept, last)


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
