"""Standard streams that fail: a reader gone away, a disk full (stdlib only: the help fast path uses it)."""

from __future__ import annotations

import errno
import os
from typing import IO

# What a write the machine refuses raises (a disk or quota full, a file too large): `orion ... > file`
# on a full disk. Not orion's failure, so not reported as an internal one. (EIO is left out: reads raise
# it too, a prompt on a terminal that hung up.)
WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


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
