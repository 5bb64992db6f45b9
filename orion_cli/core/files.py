"""Reading a file the operator names (a config file, the pairs file, a snapshot), within bounds.

``Path.read_bytes`` reads whatever the path is until it ends: ``/dev/zero`` or a huge file grew the
process until it ran out of memory, and a named pipe blocked until something wrote to it.
:func:`read_regular_file` opens without blocking, refuses anything but a regular file, and reads no
more than a cap; :func:`read_file_or_stream` also reads a pipe (a credential passed by process
substitution), to the same kind of cap. Each caller turns :class:`FileRefused` into its own error,
naming the file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MiB = 1024**2
GiB = 1024**3
_CHUNK = 1024 * 1024
NOT_REGULAR = "not a regular file (a device, FIFO or socket)"
NOT_FILE_OR_PIPE = "neither a regular file nor a pipe (a device or socket)"


class FileRefused(Exception):
    """The path is not a regular file, or is larger than the cap; ``str(exc)`` says which (no path)."""


def size_text(n: int) -> str:
    """``n`` bytes as the caps are written: ``16 MiB``, ``2 GiB``."""
    if n >= GiB and n % GiB == 0:
        return f"{n // GiB} GiB"
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    return f"{n} bytes"


def read_regular_file(path: Path | str, limit: int) -> bytes:
    """The whole content of the regular file ``path``, at most ``limit`` bytes.

    Raises :class:`FileRefused` for a device, FIFO or socket (opened without blocking, never read) and
    for a file larger than ``limit`` (by its size, or by what it held when read: it may grow), and
    :class:`IsADirectoryError` for a directory, as ``Path.read_bytes`` does. Other ``OSError`` (not
    found, permission denied) propagate unchanged.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = _not_a_directory(fd, path)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(NOT_REGULAR)
        return _read_at_most(fd, st, limit)
    finally:
        os.close(fd)


def read_file_or_stream(path: Path | str, limit: int) -> bytes:
    """The content of the regular file or pipe ``path`` (``--value-file <(pass show kalshi)``), at most
    ``limit`` bytes.

    For a credential a process substitution is the way to pass it without a file on disk, so a pipe is
    read, as it is written, until its writer closes it; a named pipe nothing has open for writing reads
    as empty at once (opened without blocking), rather than hanging a cron job. A device, a socket or a
    directory is refused as :func:`read_regular_file` refuses it (``/dev/tty`` would wait for typing,
    ``/dev/zero`` is endless), and so is a size above ``limit``.
    """
    fd = open_without_blocking(path)
    try:
        st = _not_a_directory(fd, path)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise FileRefused(NOT_FILE_OR_PIPE)
        return _read_at_most(fd, st, limit)
    finally:
        os.close(fd)


def open_without_blocking(path: Path | str) -> int:
    """Open ``path`` for reading without waiting for a named pipe's writer, then read as usual.

    A pipe a writer holds (a process substitution) is then read blocking, as it is written; one
    nothing holds reads as ended (POSIX: no writer, end of file). Regular files are unaffected."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0))
    try:
        os.set_blocking(fd, True)
    except OSError:
        os.close(fd)
        raise
    return fd


def _not_a_directory(fd: int, path: Path | str) -> os.stat_result:
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    return st


def _read_at_most(fd: int, st: os.stat_result, limit: int) -> bytes:
    if st.st_size > limit:
        raise FileRefused(f"larger than {size_text(limit)} ({st.st_size} bytes)")
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        # The size first (one read for most files), then in chunks: /proc files say 0, a file may grow.
        want = min(limit + 1 - total, max(st.st_size - total + 1, _CHUNK))
        chunk = os.read(fd, want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise FileRefused(f"larger than {size_text(limit)}")
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
