"""Diagnostic logging to stderr (and optionally a file), configured once from settings.

Log records never carry secret values: code that handles secrets logs names only. The file, when
configured, is created 0600 because it may hold market and order details. A file that fails at
write time (a full disk, an I/O error, a read-only remount, a size limit) is reported once, as one
warning line on stderr, and then left alone: stderr keeps every record. A file moved or deleted
under a running command (logrotate without copytruncate) is opened again at its path.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orion_cli.core.command_line import with_global_options
from orion_cli.core.paths import make_private_dirs
from orion_cli.core.revealed import scrub_revealed
from orion_cli.core.terminal import one_line, terminal_safe

_CONFIGURED = False
# The process's own --config/--db, which a command a log record names carries (core/command_line). Set by
# every configure_logging call, even one that finds logging configured (the command's own options).
_command_options = ""
# The file's lines: when in UTC (as every other time orion writes) and which process, so the lines of a cron
# job and of a trader's shell sharing one file sort by time and can be told apart.
_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
# The configured logging.file's handler: what the command says on stderr as a warning or an error is
# written there too (file_record), whatever the log level, so a service's log file has it.
_file_handler: logging.Handler | None = None


class _SafeFormatter(logging.Formatter):
    """A record may quote a venue's text (an error body, a market title): its control characters are
    escaped, so a log line can neither drive the terminal nor forge another line (in the file too).
    The message's own line breaks too; a traceback after it keeps its lines. A command it names
    (`orion reconcile --fix`) carries the process's --config/--db, as a message does."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return with_global_options(super().formatMessage(record), _command_options).replace("\n", "\\n")

    def format(self, record: logging.LogRecord) -> str:
        # No secret the process revealed, whatever quoted it (a venue's error text: core.revealed).
        return terminal_safe(scrub_revealed(super().format(record)))


class _FileFormatter(_SafeFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # The whole seconds as msecs counts them (truncated): fromtimestamp rounds to the microsecond, so at
        # x.9999996 it said the next second beside msecs 999, a line a second ahead of the one after it.
        at = datetime.fromtimestamp(int(record.created), UTC)
        return f"{at:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}Z"


class _OneLineErrorFormatter(_SafeFormatter):
    """For a library's records (SQLAlchemy's pool logs "Exception closing connection" with its
    traceback when a second Ctrl-C lands while a connection closes): the exception as one line, its
    type and words, never a traceback on the operator's terminal."""

    def formatException(self, ei: object) -> str:
        exc = ei[1] if isinstance(ei, tuple) and len(ei) > 1 else None
        if not isinstance(exc, BaseException):
            return ""
        words = str(exc).splitlines()[0][:200] if str(exc) else ""
        return f"({type(exc).__name__}{': ' + words if words else ''})"

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n(", " (", 1)


class _LogFileHandler(logging.FileHandler):
    """logging.file: opened 0600, opened again when moved or deleted, and given up on its first failed write.

    Why: Python's FileHandler printed a "--- Logging error ---" block with a traceback for every record
    a full disk (or /dev/full, EIO, a read-only remount, EFBIG) refused, and orion's own warning and
    error lines (file_record) each added one; it also kept writing to a rotated-away file's inode for
    as long as a `trade --watch` ran, and would have created a new file with the umask's mode."""

    def __init__(self, path: Path) -> None:
        self._inode: tuple[int, int] | None = None
        self._given_up = False
        super().__init__(path, encoding="utf-8", errors="backslashreplace")

    def _open(self) -> Any:
        # O_NONBLOCK while opening: a named pipe no one reads is refused (ENXIO) instead of blocking the
        # open for ever, which hung every command, `orion halt` included, before it did anything. The
        # writes then block as a file's always did.
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
        try:
            os.set_blocking(fd, True)
            info = os.fstat(fd)
            stream = os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)
        except BaseException:
            os.close(fd)
            raise
        self._inode = (info.st_dev, info.st_ino)
        return stream

    def _current_stream(self) -> Any:
        """The stream to write to. As logging.handlers.WatchedFileHandler: the path naming another
        file, or none (logrotate renamed or removed it), the path is opened anew."""
        try:
            info = Path(self.baseFilename).stat()
            if self.stream is not None and (info.st_dev, info.st_ino) == self._inode:
                return self.stream
        except FileNotFoundError:
            pass
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        self.stream = self._open()
        return self.stream

    def emit(self, record: logging.LogRecord) -> None:
        if self._given_up:
            return
        try:
            text = self.format(record) + self.terminator
        except Exception:  # a record that cannot be formatted is a program's error: logging's own report
            self.handleError(record)
            return
        try:
            stream = self._current_stream()
            stream.write(text)
            stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: a stream closed under it
            self._give_up(exc)

    def _give_up(self, exc: BaseException) -> None:
        self._given_up = True
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.close()  # its unwritten buffer is dropped: closing flushes, which fails again
            except (OSError, ValueError):
                pass
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        line = one_line(f"warning: logging.file {self.baseFilename}: {why}; logging to stderr only from now on")
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):  # stderr gone too (`2>&-`, its reader gone)
            pass


def configure_logging(level: str = "warning", file: str = "", *, verbose: int = 0, quiet: bool = False,
                      command_options: str = "") -> None:
    """Idempotent: the first call in a process wins (tests reset via ``reset_logging``), but for
    ``command_options``: the process's own --config/--db, for the commands a record names."""
    global _CONFIGURED, _command_options, _file_handler
    _command_options = command_options
    if _CONFIGURED:
        return
    name = level.upper()
    if verbose >= 2:
        name = "DEBUG"
    elif verbose == 1 and name in ("WARNING", "ERROR"):
        name = "INFO"
    if quiet:
        name = "ERROR"
    file_handler = None
    if file:  # opened first: a file that cannot be opened (OSError) leaves logging as it was
        path = Path(file).expanduser()
        make_private_dirs(path.parent)
        file_handler = _LogFileHandler(path)
        file_handler.setFormatter(_FileFormatter(_FORMAT))
    root = logging.getLogger("orion_cli")
    root.setLevel(getattr(logging, name, logging.WARNING))
    root.propagate = False
    stderr_handler = logging.StreamHandler()
    stderr_handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(stderr_handler)
    if file_handler is not None:
        root.addHandler(file_handler)
    _file_handler = file_handler
    # SQLAlchemy's own records (warnings and errors only) would reach Python's last-resort handler,
    # which prints a traceback; they get orion's stderr format with the exception on one line.
    library = logging.getLogger("sqlalchemy")
    library_handler = logging.StreamHandler()
    library_handler.setLevel(max(logging.WARNING, root.level))
    library_handler.setFormatter(_OneLineErrorFormatter("%(levelname)s %(name)s: %(message)s"))
    library.addHandler(library_handler)
    library.propagate = False
    _CONFIGURED = True


def file_record(level: int, text: str) -> None:
    """``text``, a line the command printed on stderr (a warning, an error), into logging.file too.

    Why: those lines are the operator's own messages, not log records, so neither -q nor the log level
    would otherwise let them reach the file a service reads (a halt whose alert went nowhere, a
    settlement notice, the error a cron run exited with). Written whatever the level."""
    handler = _file_handler
    if handler is None:
        return
    # A failing write is the handler's own to report (_LogFileHandler: once, one line): never raised here.
    handler.handle(logging.LogRecord("orion_cli", level, __file__, 0, text, None, None))


def reset_logging() -> None:
    global _CONFIGURED, _command_options, _file_handler
    _command_options = ""
    _file_handler = None
    for name in ("orion_cli", "sqlalchemy"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    logging.getLogger("sqlalchemy").propagate = True
    _CONFIGURED = False
