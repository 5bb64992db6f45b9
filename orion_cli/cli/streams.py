"""Standard streams that fail: a reader gone away, a disk full (stdlib only: the help fast path uses it)."""

from __future__ import annotations

import codecs
import errno
import os
import re
import sys
from typing import IO

# What a write the machine refuses raises (a disk or quota full, a file too large): `orion ... > file`
# on a full disk. Not orion's failure, so not reported as an internal one. (EIO is left out: reads raise
# it too, a prompt on a terminal that hung up.) EBADF is a stream not open for writing: `>&-` (see
# ``fill_closed_streams``) or `1<file`.
WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EBADF})


def write_failed(exc: BaseException) -> bool:
    """``exc`` is a stream's write the machine refused (see ``WRITE_FAILURES``): it names no file, where
    creating or opening one (a lock, a temp file) does, and is that file's failure, not the output's."""
    return isinstance(exc, OSError) and exc.errno in WRITE_FAILURES and exc.filename is None


def unwritten(exc: OSError) -> str:
    """What is said of stdout refusing the command's output (one wording, wherever it is said)."""
    return f"could not write the output: {exc.strerror or exc}"


def discard(stream: IO[str]) -> None:
    """Point ``stream``'s file at /dev/null after its reader went away (EPIPE).

    What its buffer still holds would otherwise fail again at every flush, and at the interpreter's
    last one as "Exception ignored ... BrokenPipeError" on stderr.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (tests' StringIO): nothing to flush later
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)


# (name in sys, fd, how /dev/null is opened for it, the stream's mode): stdin reads as empty, stdout refuses every write
# (opened for reading only: EBADF, an unwritable output), stderr takes and drops every message.
_STANDARD_STREAMS = (("stdin", 0, os.O_RDONLY, "r"), ("stdout", 1, os.O_RDONLY, "w"), ("stderr", 2, os.O_WRONLY, "w"))


def fill_closed_streams() -> None:
    """Stand in for a standard stream that was closed when orion started (`>&-`, `2>&-`, `<&-`; some
    daemonisers start jobs so), before anything writes or opens a file.

    Python then sets ``sys.stdout`` (``sys.stderr``, ``sys.stdin``) to None, and every writer of it
    failed as an internal error (exit 1), some before the command ran (the demo banner). Each is made
    what an unusable stream already is to orion: no input (end of file), stdout an output that cannot
    be written (exit 1 "could not write the output", but a drift found still exits 7), stderr one whose
    messages are dropped. The file taken is /dev/null, at the closed descriptor itself, so that neither
    the database nor a lock file opened later takes fd 1 or 2, where a stray write would land in it.
    """
    for name, fd, flags, mode in _STANDARD_STREAMS:
        if getattr(sys, name) is not None:
            continue
        try:
            opened = os.open(os.devnull, flags)
        except OSError:  # no /dev/null: left as it was
            continue
        if opened != fd:  # a lower one was free too: moved to its own, unless that is someone else's now
            try:
                os.fstat(fd)
            except OSError:
                os.dup2(opened, fd)
                os.close(opened)
                opened = fd
        stream = open(opened, mode, encoding="utf-8", errors="backslashreplace" if name == "stderr" else "strict",
                      closefd=opened not in (0, 1, 2))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


ESCAPE_ERRORS = "orion-json-escape"


def _json_escape(exc: UnicodeError) -> tuple[str, int]:
    """Each character the stream's encoding cannot take, as its JSON escape (``\\u2264``; outside the
    Basic Multilingual Plane, its surrogate pair): valid inside a JSON string, and still readable in a table."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start:exc.end]:
        code = ord(ch)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), exc.end


codecs.register_error(ESCAPE_ERRORS, _json_escape)


def takes_every_character(stream: object) -> bool:
    """Whether ``stream``'s encoding is one of Unicode's (UTF-8 above all): it can write any text."""
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return True  # a plain text stream (tests' StringIO): it takes any text
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def encodable(text: str, stream: object) -> str:
    """``text`` as ``stream`` will write it: what its encoding cannot take already as its JSON escape, so
    a table sizes its columns on what is printed."""
    if text.isascii() or takes_every_character(stream):
        return text
    encoding = str(getattr(stream, "encoding", ""))
    return text.encode(encoding, ESCAPE_ERRORS).decode(encoding)


# The typography of orion's own help texts, as plain ASCII for a stdout that cannot take it. "·" separates
# the commands of an Example line, as ";" would at a shell prompt.
_ASCII_LOOKALIKES = str.maketrans({"\u2014": "--", "\u2013": "-", "\u2212": "-", "\u2192": "->", "\u2190": "<-",
                                   "\u2194": "<->", "\u2264": "<=", "\u2265": ">=", "\u2026": "...", "\u00b7": ";",
                                   "\u00d7": "x"})


def help_text_for(text: str, stream: object) -> str:
    """One of orion's help texts as ``stream`` can print it, before rich lays it out.

    Rich sized its lines on "—" and "→" and then wrote their escapes, so on an ASCII or Latin-1 stdout
    each line holding one stood out past the help's box. What the stream cannot encode becomes its ASCII
    lookalike ("—" as "--"), anything else its JSON escape (:func:`encodable`); what it can is kept.
    """
    if text.isascii() or takes_every_character(stream):
        return text
    encoding = str(getattr(stream, "encoding", ""))
    kept = "".join(ch if ch.isascii() or _encodes(ch, encoding) else ch.translate(_ASCII_LOOKALIKES) for ch in text)
    return encodable(kept, stream)


def _encodes(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


_NON_ASCII = re.compile("[^\x00-\x7f]")


def ascii_json(text: str) -> str:
    """JSON text with every character outside ASCII as its escape: what ``ensure_ascii`` writes. For a
    stdout that is not UTF-8 (RFC 8259 asks for UTF-8 between systems: jq read Latin-1's "é" as garbage)."""
    return _NON_ASCII.sub(lambda m: _json_escape(UnicodeEncodeError("ascii", m.group(), 0, 1, ""))[0], text)


def escape_unencodable_output() -> None:
    """Let stdout and stderr take any text when their encoding cannot (``PYTHONIOENCODING=ascii``, a
    Latin-1 locale with UTF-8 mode off): what they cannot encode is written as JSON escapes.

    Found in a review: a market title with an accent, or the ``≤`` of the demo's table, was an
    "unexpected internal error" (exit 1), and ``audit tail --json | jq`` got one line and then nothing.
    UTF-8 streams (the usual case, and Python's own default under the C locale) are left as they are;
    JSON on such a stdout is all ASCII (:func:`ascii_json`), tables escape their cells first (:func:`encodable`)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not takes_every_character(stream):
            reconfigure(errors=ESCAPE_ERRORS)
