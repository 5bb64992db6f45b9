"""One output sink: stdout is data, stderr is talk.

``auto`` renders a table on a terminal and JSON lines when piped. ``--json`` writes one JSON
document (an object, or an array for lists); ``--jsonl`` one object per line, flushed per line.
Money is a decimal string, times are ISO-8601 UTC with ``Z``, every record has ``"type"``.
Colour and decoration only on a terminal, and never when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import re
import select
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import IO, Any

from orion_cli.cli.stopping import StopFlag
from orion_cli.cli.streams import ascii_json, discard, encodable, takes_every_character, write_failed
from orion_cli.core.command_line import with_global_options
from orion_cli.core.logs import file_record
from orion_cli.core.money import fixed_str
from orion_cli.core.revealed import scrub_revealed, scrub_revealed_in
from orion_cli.core.terminal import C1_AND_BIDI, one_line, terminal_safe

FORMATS = ("auto", "table", "json", "jsonl")


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fixed_str(value)
    if isinstance(value, datetime):
        # Always with microseconds, as every stored time (store.audit.iso_utc, not imported here: it costs the
        # SQLAlchemy import): a time on the whole second (Kalshi's balance `as_of`) printed without them, so a
        # script's one parse format failed on one or the other (found in review).
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


# Valid inside a JSON string, but a line break to Python's str.splitlines(), JavaScript and many
# JSON-lines readers: escaped, so one record is always one line whatever text a value carries. The
# C1 controls (0x9b is a terminal's one-byte escape) and the bidirectional overrides are escaped
# too, for a reader who pages the JSON on a terminal. Raw, they can only be inside a JSON string.
_LINE_BREAKS = str.maketrans({chr(c): f"\\u{c:04x}" for c in (*C1_AND_BIDI, 0x2028, 0x2029)})


def to_json(value: Any, *, indent: int | None = None) -> str:
    """JSON text of ``value`` (UTF-8 kept, money as strings), never containing a line-break character."""
    text = json.dumps(value, default=json_default, ensure_ascii=False, indent=indent,
                      separators=(",", ":") if indent is None else None)
    return text.translate(_LINE_BREAKS)


def to_json_line(record: Any) -> str:
    return to_json(record)


# Text columns of a table wrap on a narrow terminal, but not narrower than this (an id stays whole).
TEXT_MIN_WIDTH = 10


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    justify: str = "left"  # "right" for numbers

    def cell(self, record: dict[str, Any]) -> str:
        value: Any = record
        for part in self.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, Decimal | datetime | Enum):
            return str(json_default(value))
        if isinstance(value, dict | list):
            return terminal_safe(to_json_line(value))
        return one_line(str(value))


def stream_is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _interrupt_between_lines:
    """Defer a stop (Ctrl-C, or SIGTERM/SIGHUP where a watch loop handles them) while one line is
    written; a pending one is delivered right after it.

    Only signals with a Python handler are deferred: one left to the system's default ends the
    process as the operator asked, and one ignored stays ignored. A Python-level handler, not a
    signal mask: a mask is per thread, and in a process with other threads (alert delivery, HTTP
    clients) the kernel hands the signal to one of them, which would still interrupt the main
    thread mid-write.
    """

    def __enter__(self) -> None:
        self._pending: list[int] = []
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in StopFlag.SIGNALS:
            if callable(signal.getsignal(signum)):
                self._previous[signum] = signal.signal(signum, lambda n, frame: self._pending.append(n))

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        if self._pending:
            signum = self._pending[0]
            self._previous[signum](signum, None)  # default_int_handler raises KeyboardInterrupt here


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _write_whole(stream: IO[str], text: str) -> None:
    """Write all of ``text`` and flush, whatever the stream's buffering.

    With ``PYTHONUNBUFFERED`` (or ``-u``) the text layer writes straight to the raw file, and a
    write to a pipe that a signal interrupts returns short: the text layer drops the rest (it never
    looks at the count). So the bytes go to the binary layer here, until every one is written.
    """
    binary = getattr(stream, "buffer", None)
    if binary is None:  # a plain text stream (tests, StringIO): it takes the whole string
        stream.write(text)
        stream.flush()
        return
    stream.flush()  # whatever the text layer still holds goes first
    encoding, errors = getattr(stream, "encoding", None) or "utf-8", getattr(stream, "errors", None) or "strict"
    try:
        data = text.encode(encoding, errors)
    except UnicodeEncodeError:
        # A lone surrogate (a byte of the environment or a path that is not UTF-8, read into a record) is
        # written as its escape, \udcf6, which is a JSON escape too; any other character the stream cannot
        # take still fails as it did (found in review).
        data = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode(encoding, errors)
    view = memoryview(data)
    while view:
        written = binary.write(view)
        if written is None:  # non-blocking and full: nothing taken; wait a moment and go on
            time.sleep(0.001)
            continue
        view = view[written:]
    binary.flush()


def rich_console(file: IO[str], **options: Any) -> Any:
    """A rich Console on ``file`` that lets a closed pipe be raised as :class:`BrokenPipeError`.

    Rich's own answer to one is to point *stdout* (whichever stream it was writing) at /dev/null and
    raise ``SystemExit(1)``, which would skip the command's remaining work and its own exit code.
    """
    return _console_class()(file=file, **options)


@functools.cache
def _console_class() -> Any:
    from rich.console import Console  # imported on first use: rich costs start-up time

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    return _Console


def _reader_closed(stream: IO[str]) -> bool:
    """Whether ``stream`` is a pipe (or socket) whose reading end is closed (POLLERR on the write end).

    Only a pipe or a socket: a terminal that hung up polls POLLERR too, before its SIGHUP reaches the process
    (the shell forwards it). Taken for a reader gone, a watch whose ssh session closed during its wait ended
    exit 0, "the output was closed", not 130 for the hang-up (found reviewing the session's diff)."""
    poll = getattr(select, "poll", None)
    if poll is None:
        return False
    try:
        fd = stream.fileno()
        if not stat.S_ISFIFO(mode := os.fstat(fd).st_mode) and not stat.S_ISSOCK(mode):
            return False
        poller = poll()
        poller.register(fd, 0)  # errors and hang-ups are reported whatever is asked for
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # not a file (tests' StringIO), or closed
        return False


class Output:
    """Renders records and messages. Built once per invocation from the global options."""

    def __init__(
        self,
        fmt: str = "auto",
        *,
        quiet: bool = False,
        verbose: int = 0,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        command_options: str = "",
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.requested = fmt
        self.format = ("table" if stream_is_tty(self.stdout) else "jsonl") if fmt == "auto" else fmt
        self.quiet = quiet
        self.verbose = verbose
        self.color = stream_is_tty(self.stderr) and not os.environ.get("NO_COLOR")
        self.interactive = stream_is_tty(sys.stdin) and stream_is_tty(self.stdout)
        # A reader that went away (`| head -1`) ends the data, not the command: the command finishes
        # what it started and its own outcome sets the exit code (a drift found by `reconcile | head`
        # still exits 7). Loops that only produce output (follow, watch) check this and stop.
        self._stdout_closed = False
        self._stderr_closed = False
        # stdout refusing a write (a full disk under `> file`, an I/O error): raised, and the command
        # ends "could not write the output" (exit 1), unless it catches it with ``outcome_first``.
        self.stdout_failure: OSError | None = None
        # A stdout whose encoding is not UTF-8 gets its JSON in ASCII (escapes), which every reader decodes alike.
        self._ascii_json = not takes_every_character(self.stdout)
        # The process's own --config/--db, carried by every `orion …` command a message or a record names
        # (core/command_line): run as printed, it acts on this ledger and configuration, not the default's.
        self.command_options = command_options
        # False for data shown as it was recorded (the audit log): only the messages about it are changed.
        self.commands_in_data = True

    def commands(self, text: str) -> str:
        """``text`` with each backticked `orion …` command carrying this process's --config/--db."""
        return with_global_options(text, self.command_options)

    def _data(self, value: Any) -> Any:
        """A record's text values as :meth:`commands` says them (a drift's detail, an execution's
        message): a JSON field says what the stderr line does. No secret the process revealed is
        repeated in one (core.revealed.scrub_revealed_in)."""
        value = scrub_revealed_in(value)
        if not self.command_options or not self.commands_in_data:
            return value
        return self._commands_in(value)

    def _commands_in(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.commands(value)
        if isinstance(value, dict):
            return {k: self._commands_in(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._commands_in(v) for v in value]
        if type(value) is tuple:
            return tuple(self._commands_in(v) for v in value)
        return value

    def stdout_closed(self) -> bool:
        """Whether stdout's reader went away (a method: a loop's check after a write is never narrowed away).

        Asked of the pipe too, so a follower with nothing new to write still notices (`audit tail -f |
        head -1` waited for the next event, perhaps for ever): the write end of a pipe whose reader
        closed it polls as an error, as `tail -f` checks.
        """
        if not self._stdout_closed and _reader_closed(self.stdout):
            self._stdout_closed = True
            discard(self.stdout)
        return self._stdout_closed

    def stderr_closed(self) -> bool:
        return self._stderr_closed

    @property
    def machine(self) -> bool:
        """True when stdout carries JSON."""
        return self.format in ("json", "jsonl")

    # -- data ----------------------------------------------------------------------------------

    def record(self, record: dict[str, Any], columns: Sequence[Column] | None = None, *, title: str = "") -> None:
        """One result object (e.g. halt status)."""
        record = self._data(record)
        if self.format == "json":
            self._write(to_json(record, indent=2))
        elif self.format == "jsonl":
            self._write(to_json_line(record))
        else:
            cols = columns or [Column(k, k) for k in record if k != "type"]
            self._kv_table(record, cols, title)

    def records(self, records: Sequence[dict[str, Any]], columns: Sequence[Column], *, title: str = "",
                empty: str = "nothing to show") -> None:
        """A list of results: a table, one JSON array, or JSON lines."""
        records = [self._data(r) for r in records]
        if self.format == "json":
            self._write(to_json(list(records), indent=2))
        elif self.format == "jsonl":
            for rec in records:
                self._write(to_json_line(rec))
        elif not records:
            self.info(empty)
        else:
            self._table(records, columns, title)

    def stream(self, record: dict[str, Any], columns: Sequence[Column]) -> None:
        """One record of an open-ended stream (follow/watch): always a line, flushed."""
        record = self._data(record)
        if self.machine:
            self._write(to_json_line(record))
        else:
            self._write("  ".join(c.cell(record) for c in columns))

    def document(self, text: str, record: dict[str, Any]) -> None:
        """A file's text (a completion script, the example configuration) to stdout as it is, meant for `>`
        or a shell's `source`: on a pipe or into a file too, where the default format is JSON lines. Asked for
        JSON by name (--json, --jsonl, --format json), ``record`` with the text in it, as every command's
        machine output is JSON."""
        if self.requested in ("json", "jsonl"):
            self.record(record)
        else:
            self._emit(text if text.endswith("\n") else text + "\n")

    def _write(self, line: str) -> None:
        if self._ascii_json and self.machine:
            line = ascii_json(line)
        self._emit(line + "\n")

    def _emit(self, text: str) -> None:
        if self._stdout_closed:
            return
        # Ctrl-C must land between lines, never inside one: an interrupted write to a full pipe leaves
        # half a JSON line for the reader (seen when `audit tail -f` was stopped while its reader lagged).
        try:
            with _interrupt_between_lines():
                _write_whole(self.stdout, text)
        except BrokenPipeError:
            self._stdout_closed = True
            discard(self.stdout)
        except OSError as exc:
            self.stdout_failure = exc
            raise

    def _print(self, console: Any, renderable: Any) -> None:
        """A rich renderable to stdout, once, unless its reader went away."""
        if self._stdout_closed:
            return
        try:
            console.print(renderable)
            self.stdout.flush()
        except BrokenPipeError:
            self._stdout_closed = True
            discard(self.stdout)
        except OSError as exc:
            self.stdout_failure = exc
            raise

    def outcome_first(self, write: Callable[[], None]) -> OSError | None:
        """Run ``write`` (the command's data) and return stdout's refusal of it instead of raising it.

        For a command whose outcome is decided before it writes (reconcile's drift, `audit verify`'s
        broken chain): a full disk under `> file` must not hide that outcome behind "could not write
        the output" (exit 1), as a reader gone away does not. The command then says which wins. Later
        data is dropped, as after a closed pipe; any other failure is raised.
        """
        try:
            write()
        except OSError as exc:
            if exc is not self.stdout_failure:
                raise
            self._stdout_closed = True
            discard(self.stdout)
            return exc
        return None

    def _table(self, records: Iterable[dict[str, Any]], columns: Sequence[Column], title: str) -> None:
        from rich.table import Table

        table = Table(title=encodable(title, self.stdout) or None, show_lines=False,
                      header_style="bold" if self.color else None)
        rows = [[encodable(c.cell(rec), self.stdout) for c in columns] for rec in records]
        need = 1  # the narrowest the table can be: each column's own minimum plus its borders
        for i, c in enumerate(columns):
            # On a narrow terminal a number is never shortened ("921…" reads as another amount) and
            # text folds within a readable width (an id is folded, never cut); a table that cannot
            # fit even so is printed at that width (the terminal wraps its lines), never cropped.
            widest = max((len(row[i]) for row in rows), default=0)
            number = c.justify == "right"
            least = max(widest, len(c.header)) if number else min(widest, TEXT_MIN_WIDTH)
            table.add_column(encodable(c.header, self.stdout), justify=c.justify, no_wrap=number,  # type: ignore[arg-type]
                             overflow="ellipsis" if number else "fold", min_width=least)
            need += least + 3
        from rich.text import Text

        for row in rows:  # Text, not str: rich would read "[/x]" in a halt reason as markup (and fail on it)
            table.add_row(*(Text(cell) for cell in row))
        console = self._console()
        if need > console.width:
            console = self._console(width=need)
        self._print(console, table)

    def _console(self, width: int | None = None) -> Any:
        if stream_is_tty(self.stdout):
            return rich_console(self.stdout, no_color=not self.color, width=width)
        # A table asked for on a pipe or file: wide, plain, never truncated to 80 columns.
        return rich_console(self.stdout, no_color=True, force_terminal=False, width=max(240, width or 0))

    def _kv_table(self, record: dict[str, Any], columns: Sequence[Column], title: str) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=encodable(title, self.stdout) or None, show_header=False, box=None)
        table.add_column("key", style="bold" if self.color else None)
        table.add_column("value")
        for c in columns:
            table.add_row(Text(encodable(c.header, self.stdout)), Text(encodable(c.cell(record), self.stdout)))
        self._print(self._console(), table)

    # -- talk ----------------------------------------------------------------------------------

    def _say(self, text: str, style: str = "", *, single: bool = False, file_level: int = 0) -> None:
        """``file_level``: a warning, banner or error, which logging.file gets too (core.logs.file_record)."""
        text = scrub_revealed(self.commands(text))
        text = one_line(text) if single else terminal_safe(text)
        if file_level:
            file_record(file_level, text)
        if self.color and style:
            # soft_wrap: the terminal folds a long line; rich would break it at a word with a real
            # newline, and quoted text could then begin a line of its own ("error: …").
            self._to_stderr(lambda: rich_console(self.stderr, highlight=False).print(
                text, style=style, markup=False, soft_wrap=True))
        else:
            self._to_stderr(lambda: self.stderr.write(text + "\n"))

    def _to_stderr(self, write: Any) -> None:
        """Messages are never why a command fails: with stderr's reader gone (`2>&1 | head`) or its disk
        full (`2>>log`) they are dropped, and the data on stdout still goes out whole."""
        if self._stderr_closed:
            return
        try:
            write()
            self.stderr.flush()
        except OSError as exc:
            # EIO too: a terminal that hung up (an ssh session dropped). It went on to the interpreter as a
            # traceback and exit 1, where the command's own outcome (an execution recorded) was the code.
            if not (isinstance(exc, BrokenPipeError) or write_failed(exc) or exc.errno == errno.EIO):
                raise
            self._stderr_closed = True
            discard(self.stderr)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._say(text)

    def debug(self, text: str) -> None:
        """Details asked for with -v, or with logging.level = "debug"; logging.file gets them too."""
        if self.verbose and not self.quiet:
            self._say(text, "dim", file_level=logging.DEBUG)

    def success(self, text: str) -> None:
        if not self.quiet:
            self._say(text, "green")

    # A warning, a banner, an error and its hint are one line each, whatever outside text they quote.

    def warn(self, text: str) -> None:
        self._say(f"warning: {text}", "yellow", single=True, file_level=logging.WARNING)

    def banner(self, text: str) -> None:
        """A notice that must be seen even with -q (demo data, live mode, degraded venue)."""
        self._say(text, "bold yellow", single=True, file_level=logging.WARNING)

    def error(self, text: str, hint: str | None = None) -> None:
        self._say(f"error: {text}", "bold red", single=True, file_level=logging.ERROR)
        if hint:
            self._say(f"hint: {hint}", "cyan", single=True, file_level=logging.ERROR)

    def error_record(self, exit_code: int, reason: str, message: str) -> None:
        """With --json/--jsonl, failures also get one machine-readable line on stderr."""
        line = to_json_line({"type": "error", "exit_code": exit_code, "reason": reason,
                             "message": scrub_revealed(self.commands(message))})
        if not takes_every_character(self.stderr):  # as stdout's JSON: ASCII, which every reader decodes alike
            line = ascii_json(line)
        self._to_stderr(lambda: self.stderr.write(line + "\n"))
