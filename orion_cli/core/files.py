"""Reading a file the operator names (a config file, the pairs file, a snapshot), within bounds.

``Path.read_bytes`` reads whatever the path is until it ends: ``/dev/zero`` or a huge file grew the
process until it ran out of memory, and a named pipe blocked until something wrote to it.
:func:`read_regular_file` opens without blocking, refuses anything but a regular file, and reads no
more than a cap; :func:`read_file_or_stream` also reads a pipe (a credential passed by process
substitution), to the same kind of cap. Each caller turns :class:`FileRefused` into its own error,
naming the file.

:func:`replace_file` is the other way: the atomic write of a file the operator keeps (the vault, the
pairs file, config.toml), through a symbolic link to the file it names, never over the link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MiB = 1024**2
GiB = 1024**3
_CHUNK = 1024 * 1024
NOT_REGULAR = "not a regular file (a device, FIFO or socket)"
NOT_FILE_OR_PIPE = "neither a regular file nor a pipe (a device or socket)"
# A write's temp file lives for one fsync; one this old beside its target was left by a write killed
# before its rename (and no other process is still writing it).
STALE_TEMP_SECONDS = 600.0


class FileRefused(Exception):
    """The path is not a regular file, or is larger than the cap; ``str(exc)`` says which (no path)."""


def size_text(n: int) -> str:
    """``n`` bytes as the caps are written: ``16 MiB``, ``2 GiB``."""
    if n >= GiB and n % GiB == 0:
        return f"{n // GiB} GiB"
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    return f"{n} bytes"


def read_regular_file(path: Path | str, limit: int, *, check: Callable[[os.stat_result], None] | None = None) -> bytes:
    """The whole content of the regular file ``path``, at most ``limit`` bytes.

    Raises :class:`FileRefused` for a device, FIFO or socket (opened without blocking, never read) and
    for a file larger than ``limit`` (by its size, or by what it held when read: it may grow), and
    :class:`IsADirectoryError` for a directory, as ``Path.read_bytes`` does. Other ``OSError`` (not
    found, permission denied) propagate unchanged. ``check`` is given the opened file's status before it
    is read (its owner and mode are the file's read, not whatever is at the path a moment later) and may
    raise to refuse it.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = _not_a_directory(fd, path)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(NOT_REGULAR)
        if check is not None:
            check(st)
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


class DanglingLink(FileRefused):
    """``path`` is a symbolic link to nothing (a target gone, an unmounted share, a loop): a write there
    must not put a new file in the link's place, nor create the target; ``str(exc)`` says where it points."""

    def __init__(self, path: Path | str, target: str) -> None:
        super().__init__(f"it is a symbolic link to {target}, which does not exist")
        self.path = Path(path)
        self.target = target


def link_target(path: Path) -> Path:
    """The file a write to ``path`` replaces: ``path`` itself, or, when it is a symbolic link, the file the
    link (or a chain of them) finally names, so that every process using either name keeps seeing one file.

    Raises :class:`DanglingLink` for a link that names nothing (or a loop); other ``OSError`` propagate.
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    try:
        path.stat()
    except FileNotFoundError:
        raise DanglingLink(path, str(target)) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DanglingLink(path, f"{path.readlink()} (a loop of links)") from None
        raise
    return target


def temp_beside(target: Path) -> tuple[int, Path]:
    """A new 0600 temp file beside ``target`` (fd, path), named as :func:`remove_stale_temps` finds it."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    return fd, Path(name)


def remove_stale_temps(target: Path, *, older_than: float = STALE_TEMP_SECONDS) -> None:
    """Remove the temp files beside ``target`` that writes of it killed before their rename left.

    Why: a write killed by SIGKILL or a power cut cannot remove its own temp file, and no later write did.
    A vault's held every secret, still readable with the password a rotate had retired and with a key a
    remove had taken out. ``older_than``: a younger one may be another process's write in progress (0 for
    a caller holding a lock every writer of ``target`` takes). A file that cannot be removed is left."""
    named = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.tmp")
    now = time.time()
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        if named.fullmatch(entry.name):
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than:
                    Path(entry.path).unlink()


def replace_file(path: Path, data: bytes, *, mode: int | None = None,
                 stale_after: float = STALE_TEMP_SECONDS) -> Path:
    """Replace the content of the file at ``path`` atomically: a temp file beside it, fsync, rename over it,
    fsync the directory; the old content survives any crash. Returns the file written.

    A symbolic link at ``path`` is written *through* (:func:`link_target`): the file it names is replaced
    and the link stays a link, so an orion using the link and one using the file's own path (a shared
    vault or pairs file) never part ways; a link to nothing is refused (:class:`DanglingLink`), never
    replaced by a new file, nor its target created. An existing target that is not a regular file (a
    device, FIFO or socket, a directory) is refused (:class:`FileRefused`; ``IsADirectoryError``).

    The new file gets ``mode`` if given, else the replaced file's mode (0600 for a new one), and, where this
    process may set them, the replaced file's owner and group: root rewriting a service user's file must
    not leave it unreadable to that user. The parent directory must exist. Once it is written, the temp files
    of writes of it killed before their rename, ``stale_after`` seconds old, are removed (:func:`remove_stale_temps`).
    """
    target = link_target(path)
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise FileRefused(NOT_REGULAR)
    directory = target.parent
    fd, tmp = temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            if st is not None and os.name != "nt":
                with contextlib.suppress(OSError):  # only root, or the owner giving the group, may
                    os.fchown(fh.fileno(), st.st_uid, st.st_gid)
            if os.name != "nt":
                os.fchmod(fh.fileno(), mode if mode is not None else stat.S_IMODE(st.st_mode) if st else 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if os.name != "nt":
        with contextlib.suppress(OSError):  # directory fsync is not supported everywhere
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    remove_stale_temps(target, older_than=stale_after)
    return target
