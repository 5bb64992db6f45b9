"""Standard streams that fail: a reader gone away, a disk full (stdlib only: the help fast path uses it)."""

from __future__ import annotations

import errno
import os
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
