"""The ``orion`` console script: answers ``orion --help``, ``--version`` and ``orion`` alone on a terminal
without importing Typer, then hands everything else to the real app.

The cached root help is generated from the live app (``python -m orion_cli.cli.static``) and a test
fails when it is stale, so the fast path always prints what the app itself would.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_HELP = Path(__file__).resolve().parents[1] / "data" / "root_help.txt"
HELP_WIDTH = 100  # the width the cached root help is rendered at (cli/static.py)


SIZE_VARIABLES = ("COLUMNS", "LINES")


def drop_unplain_size_variables() -> None:
    """Unset $COLUMNS and $LINES unless they are plain ASCII digits, so no reader takes them.

    Rich (every table and help screen) reads them with isdigit() and int(), shutil with int(): "٣٠"
    and "３０" were read as 30 and "1_00" as 100, and "²" (a digit to isdigit(), not to int()) was an
    internal error (exit 1) on any help or table. Numbers orion reads are ASCII digits only (as its
    options' are), and a width that is not one is ignored, as "abc" always was: the terminal's own
    width is used."""
    for name in SIZE_VARIABLES:
        value = os.environ.get(name)
        if value is not None and not (value.isascii() and value.isdigit()):
            del os.environ[name]


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` reads it ($COLUMNS, then the terminal), the
    cache's width without one; ``os`` only, as importing shutil would cost this path a tenth."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or HELP_WIDTH  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return HELP_WIDTH


def _utf(stream: object) -> bool:
    """Whether ``stream``'s encoding is UTF-8 (the usual case, checked without importing codecs' lookup)."""
    encoding = str(getattr(stream, "encoding", None) or "").lower().replace("_", "-")
    return encoding in ("utf-8", "utf8")


def _print_text(text: str) -> None:
    """Help or the version to stdout; a reader that took none of it (`| head -0`) is no failure of ours."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        from orion_cli.cli.streams import discard

        discard(sys.stdout)  # the interpreter's last flush then has nowhere to fail
    except OSError as exc:  # a full disk under `orion --help > file`: said as the app says it
        from orion_cli.cli.streams import discard, unwritten, write_failed

        if not write_failed(exc):
            raise
        discard(sys.stdout)
        message = unwritten(exc)
        # stdout is a file, so its format is JSON lines: the record follows, as the app writes it.
        import json

        record = json.dumps({"type": "error", "exit_code": 1, "reason": "output_failed", "message": message},
                            separators=(",", ":"))
        try:
            sys.stderr.write(f"error: {message}\n{record}\n")
            sys.stderr.flush()
        except OSError:  # stderr on the same full disk: nobody to tell
            pass
        raise SystemExit(1) from None


def _stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # no stdout, or a closed one
        return False


def no_core_dumps() -> None:
    """A core dump of orion would hold what it held: the master password, a decrypted vault, a wallet key
    (and the environment, where some keep them). Off for this process and what it starts, before anything
    is read; only the soft limit, so a developer can still raise it (``ulimit -c`` cannot lower a hard
    limit again without privilege, and orion needs none)."""
    try:
        import resource
    except ImportError:  # not a Unix
        return
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    except (ValueError, OSError):  # a sandbox that refuses it: nothing more orion can do
        pass


def main() -> None:
    no_core_dumps()
    if sys.stdin is None or sys.stdout is None or sys.stderr is None:  # first: None to every writer, the help too
        from orion_cli.cli.streams import fill_closed_streams

        fill_closed_streams()
    if not (_utf(sys.stdout) and _utf(sys.stderr)):  # a stream that cannot take every character orion may write
        from orion_cli.cli.streams import escape_unencodable_output

        escape_unencodable_output()
    argv = sys.argv[1:]
    drop_unplain_size_variables()
    # The cache only where it fits: on a narrower terminal its 100-column boxes would break on every
    # line, so the app renders the help at the terminal's width (piped output has no width: the cache).
    # `orion` alone shows the help only to a person: off a terminal it is a usage error like any other
    # (error: and hint: on stderr, nothing on stdout), which the app reports (groups.CommandGroup).
    # And only to a stream that takes its box characters: elsewhere rich draws the boxes in ASCII.
    if (argv in (["--help"], ["-h"]) or (not argv and _stdout_is_tty())) and _columns() >= HELP_WIDTH \
            and _utf(sys.stdout):
        try:
            text = _HELP.read_text(encoding="utf-8")
        except OSError:
            text = ""
        if text:
            _print_text(text)
            # `orion` with no command is a usage error (like the app); asking for help is not.
            raise SystemExit(2 if not argv else 0)
    if argv == ["--version"]:
        from orion_cli import __version__
        from orion_cli.store.revision import HEAD_REVISION

        _print_text(f"orion {__version__} (ledger schema {HEAD_REVISION})\n")
        raise SystemExit(0)
    from orion_cli.cli.stopping import ignore_stops_at_exit, pause_point, stop_like_ctrl_c, stop_reason

    stop_like_ctrl_c()
    try:
        # Importing the app takes a moment: Ctrl-C then must end as an interruption, not with a
        # traceback (once the app runs, its error boundary and Click's handle it).
        from orion_cli.cli.app import main as app_main

        app_main()
    except KeyboardInterrupt:
        sys.stderr.write(f"error: {stop_reason()}\n")
        raise SystemExit(130) from None
    finally:
        # A command whose outcome was decided (`trade --confirm`, `reconcile`) exits with its code:
        # a stop from here on, and in the interpreter's teardown, is ignored.
        ignore_stops_at_exit()
        pause_point("exit", seconds=2.0)  # the stops are ignored here: none ends the pause early
