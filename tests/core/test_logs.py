"""Logging honours settings and -v/-q, and the log file is private."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orion_cli.core.logs import configure_logging, reset_logging


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    reset_logging()
    yield
    reset_logging()


def test_file_is_created_private_and_receives_records(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "orion.log"
    configure_logging("info", str(log_file))
    logging.getLogger("orion_cli.test").info("hello %s", "world")
    for handler in logging.getLogger("orion_cli").handlers:
        handler.flush()
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert "hello world" in log_file.read_text()


@pytest.mark.timeout(30)
def test_a_named_pipe_no_one_reads_is_refused_not_a_hang(tmp_path: Path) -> None:
    """Found by black-box testing: logging.file naming a FIFO with no reader blocked the open, so every
    command (`orion halt` too) hung before doing anything; it is now an OSError, which the CLI turns
    into exit 3 naming logging.file (and `halt`, lenient, into logging to stderr only)."""
    import os

    fifo = tmp_path / "orion.log"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(OSError):
        configure_logging("info", str(fifo))
    assert not any(isinstance(h, logging.FileHandler) for h in logging.getLogger("orion_cli").handlers)


@pytest.mark.parametrize(
    ("level", "verbose", "quiet", "expected"),
    [
        ("warning", 0, False, logging.WARNING),
        ("warning", 1, False, logging.INFO),
        ("warning", 2, False, logging.DEBUG),
        ("debug", 0, True, logging.ERROR),
        ("error", 0, False, logging.ERROR),
    ],
)
def test_level_resolution(level: str, verbose: int, quiet: bool, expected: int) -> None:
    configure_logging(level, verbose=verbose, quiet=quiet)
    assert logging.getLogger("orion_cli").level == expected


def test_configuration_is_idempotent() -> None:
    configure_logging("info")
    configure_logging("debug")
    assert logging.getLogger("orion_cli").level == logging.INFO
    ours = [h for h in logging.getLogger("orion_cli").handlers if type(h) is logging.StreamHandler]
    assert len(ours) == 1


def test_a_logged_venue_text_cannot_drive_the_terminal_or_forge_a_line(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    log_file = tmp_path / "orion.log"
    configure_logging("info", str(log_file))
    logging.getLogger("orion_cli.test").warning("venue said %s", "bad\x1b[2J\rINFO orion_cli: forged\u202e")
    logging.getLogger("orion_cli.test").warning("venue said %s", "bad\nINFO orion_cli: forged")
    for handler in logging.getLogger("orion_cli").handlers:
        handler.flush()
    for text in (capsys.readouterr().err, log_file.read_text()):
        assert "venue said bad\\x1b[2J\\x0dINFO orion_cli: forged\\u202e" in text, repr(text)
        assert "venue said bad\\nINFO orion_cli: forged" in text and "\nINFO orion_cli: forged" not in text, repr(text)


def test_a_library_error_with_a_traceback_is_one_line_on_stderr() -> None:
    """Found in review: a second Ctrl-C while SQLAlchemy's pool closed a connection (the end of a
    `trade --watch`) printed its "Exception closing connection" record through Python's last-resort
    handler, traceback and all. SQLAlchemy's records get orion's stderr format, the exception on one
    line. Run in a fresh interpreter: pytest's own log capture would hide the last-resort handler."""
    import subprocess
    import sys

    script = (
        "import logging\n"
        "from orion_cli.core.logs import configure_logging\n"
        "configure_logging()\n"
        "log = logging.getLogger('sqlalchemy.pool.impl.QueuePool')\n"
        "try:\n"
        "    raise KeyboardInterrupt\n"
        "except KeyboardInterrupt:\n"
        "    log.error('Exception closing connection %r', 'conn', exc_info=True)\n"
        "try:\n"
        "    raise OSError('disk gone\\nsecond line')\n"
        "except OSError:\n"
        "    log.error('Exception during reset', exc_info=True)\n"
        "log.info('quiet')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert lines == [
        "ERROR sqlalchemy.pool.impl.QueuePool: Exception closing connection 'conn' (KeyboardInterrupt)",
        "ERROR sqlalchemy.pool.impl.QueuePool: Exception during reset (OSError: disk gone)",
    ], lines
