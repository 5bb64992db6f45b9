"""Logging honours settings and -v/-q, and the log file is private."""

from __future__ import annotations

import logging
import os
import stat
import sys
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


WARNING_TAIL = "; logging to stderr only from now on"


def _file_handler() -> logging.Handler:
    from orion_cli.core import logs

    assert logs._file_handler is not None
    return logs._file_handler


def test_a_log_file_that_fails_at_write_time_is_said_once_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Found in review: logging.file = "/dev/full" opened fine, then every record (and every warning,
    banner and error orion wrote there, file_record) printed a "--- Logging error ---" block with a
    traceback on stderr. The first failure is one warning line naming the file and the OS error;
    the file is left alone after it, and stderr keeps every record."""
    from orion_cli.core.logs import file_record

    configure_logging("info", "/dev/full")
    log = logging.getLogger("orion_cli.test")
    log.warning("first %s", "record")
    file_record(logging.ERROR, "error: the command's own line")
    log.warning("second record")
    file_record(logging.WARNING, "warning: another")
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Logging error" not in err, err
    assert err.splitlines() == [
        "WARNING orion_cli.test: first record",  # the stderr handler's copy comes first
        "warning: logging.file /dev/full: No space left on device" + WARNING_TAIL,
        "WARNING orion_cli.test: second record",
    ], err
    _file_handler().flush()  # as logging.shutdown does at exit: nothing left to fail
    _file_handler().close()
    assert capsys.readouterr().err == ""


def test_a_command_line_written_first_to_a_failing_file_is_said_once_too(capsys: pytest.CaptureFixture[str]) -> None:
    from orion_cli.core.logs import file_record

    configure_logging("warning", "/dev/full")
    file_record(logging.WARNING, "warning: a banner")
    file_record(logging.WARNING, "warning: a second")
    assert capsys.readouterr().err == "warning: logging.file /dev/full: No space left on device" + WARNING_TAIL + "\n"


class _FailingStream:
    """A log file's stream whose disk went away under it: every write and flush is EIO."""

    def __init__(self) -> None:
        self.closed = False

    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")

    def flush(self) -> None:
        raise OSError(5, "Input/output error")

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("failure", ["closed descriptor", "I/O error"])
def test_a_log_file_whose_writes_fail_is_given_up_once(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    log_file = tmp_path / "orion.log"
    configure_logging("info", str(log_file))
    handler = _file_handler()
    assert isinstance(handler, logging.FileHandler) and handler.stream is not None
    if failure == "closed descriptor":
        os.close(handler.stream.fileno())
        why = "Bad file descriptor"
    else:
        fake = _FailingStream()
        monkeypatch.setattr(handler, "stream", fake)
        why = "Input/output error"
    log = logging.getLogger("orion_cli.test")
    for n in range(3):
        log.error("record %d", n)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Logging error" not in err, err
    assert err.splitlines() == ["ERROR orion_cli.test: record 0",
                                f"warning: logging.file {log_file}: {why}" + WARNING_TAIL,
                                "ERROR orion_cli.test: record 1", "ERROR orion_cli.test: record 2"], err
    if failure == "I/O error":
        assert fake.closed
    reset_logging()  # closing the given-up handler raises nothing either
    assert capsys.readouterr().err == ""


def test_a_rotated_or_deleted_log_file_is_opened_again_at_its_path(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Found in review: a `trade --watch` kept writing to the file logrotate had renamed (or someone
    deleted) for as long as it ran. As logging.handlers.WatchedFileHandler, the path is opened again,
    0600 as the first one, when it names another file or none."""
    log_file = tmp_path / "orion.log"
    configure_logging("info", str(log_file))
    log = logging.getLogger("orion_cli.test")
    log.info("one")
    log_file.rename(tmp_path / "orion.log.1")  # logrotate's default (create) mode
    log.info("two")
    assert "one" in (tmp_path / "orion.log.1").read_text() and "two" not in (tmp_path / "orion.log.1").read_text()
    assert "two" in log_file.read_text() and "one" not in log_file.read_text()
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    log_file.unlink()
    log.info("three")
    assert "three" in log_file.read_text() and stat.S_IMODE(log_file.stat().st_mode) == 0o600
    log_file.write_text("")  # copytruncate, or a new file in its place: appended to, never a hole
    log.info("four")
    assert log_file.read_text().endswith("four\n") and log_file.read_text().count("\n") == 1
    assert "warning" not in capsys.readouterr().err


def test_a_rotated_log_file_whose_directory_is_gone_is_given_up(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    logs_dir = tmp_path / "logs"
    configure_logging("info", str(logs_dir / "orion.log"))
    (logs_dir / "orion.log").unlink()
    logs_dir.rmdir()
    logging.getLogger("orion_cli.test").warning("after")
    logging.getLogger("orion_cli.test").warning("again")
    assert capsys.readouterr().err.splitlines() == [
        "WARNING orion_cli.test: after",
        f"warning: logging.file {logs_dir / 'orion.log'}: No such file or directory" + WARNING_TAIL,
        "WARNING orion_cli.test: again"]


@pytest.mark.parametrize("target", ["/dev/full", "size limit"])
def test_a_failing_log_file_in_a_fresh_process_prints_no_traceback(tmp_path: Path, target: str) -> None:
    """Outside pytest's capture, as a command runs: /dev/full (ENOSPC), and a file above the process's
    size limit (EFBIG: Python ignores SIGXFSZ, so the write fails instead of killing the process)."""
    import subprocess
    import sys

    path = "/dev/full" if target == "/dev/full" else str(tmp_path / "orion.log")
    script = (
        "import logging, resource, sys\n"
        "from orion_cli.core.logs import configure_logging, file_record\n"
        f"configure_logging('info', {path!r})\n"
        f"if {target != '/dev/full'}:\n"
        "    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))\n"
        "log = logging.getLogger('orion_cli.x')\n"
        "for n in range(4):\n"
        "    log.warning('record %d %s', n, 'x' * 40)\n"
        "    file_record(logging.WARNING, 'warning: own line')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    why = "No space left on device" if target == "/dev/full" else "File too large"
    records = [f"WARNING orion_cli.x: record {n} {'x' * 40}" for n in range(4)]
    assert done.stderr.splitlines() == [records[0], f"warning: logging.file {path}: {why}" + WARNING_TAIL,
                                        *records[1:]], done.stderr


def test_a_log_files_lines_are_stamped_in_utc_with_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found black-box (cron review): lines were stamped in the machine's local time without a zone and
    named no process, so a cron job's lines (UTC) and a trader's shell's (TZ set) sharing one file were
    out of order, and a reconcile's error could not be told from a watch's."""
    import re
    import time
    from datetime import UTC, datetime, timedelta

    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a local stamp is a day off
    time.tzset()
    try:
        log_file = tmp_path / "orion.log"
        configure_logging("info", str(log_file))
        before = datetime.now(UTC)
        logging.getLogger("orion_cli.test").warning("stamped")
        for handler in logging.getLogger("orion_cli").handlers:
            handler.flush()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    [line] = log_file.read_text().splitlines()
    match = re.fullmatch(r"(\S+) \[(\d+)\] WARNING orion_cli\.test: stamped", line)
    assert match, line
    assert int(match[2]) == os.getpid()
    stamp = datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(stamp - before) < timedelta(seconds=5), (line, before)


def test_a_stamp_a_hair_before_the_second_is_not_a_second_ahead() -> None:
    """Review: the seconds were rounded to the microsecond and the milliseconds truncated, so a record at
    x.9999996 s was stamped (x+1).999, after the record made at (x+1).0004."""
    from orion_cli.core.logs import _FORMAT, _FileFormatter

    formatter = _FileFormatter(_FORMAT)
    stamps = []
    for created in (1780000000.9999996, 1780000001.0004):
        record = logging.LogRecord("orion_cli.test", logging.WARNING, __file__, 1, "x", None, None)
        record.created, record.msecs = created, int((created % 1) * 1000)
        stamps.append(formatter.format(record).split(" ")[0])
    assert stamps == ["2026-05-28T20:26:40.999Z", "2026-05-28T20:26:41.000Z"]


def test_logging_level_debug_shows_what_v_shows_and_the_log_file_keeps_it(tmp_path: Path) -> None:
    """Found reviewing the configuration key by key: `logging.level = "debug"` (a cron job's way, which has no
    -v) changed nothing visible: orion says its details itself, which only -v showed. It shows them as -v does,
    and logging.file gets them, as -v's."""
    import subprocess

    log = tmp_path / "orion.log"
    env = {**os.environ, "ORION_HOME": str(tmp_path / "home"), "ORION__LOGGING__FILE": str(log)}

    def stderr(*extra: str, level: str = "warning") -> str:
        done = subprocess.run([sys.executable, "-m", "orion_cli", *extra, "scan", "--demo", "--json"],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
                              env={**env, "ORION__LOGGING__LEVEL": level})
        assert done.returncode == 0, done.stderr
        return done.stderr

    detail = "  synthesised: Kalshi fee schedules assumed standard."
    assert detail not in stderr()
    assert detail not in log.read_text(encoding="utf-8")
    assert detail in stderr(level="debug")
    assert f"DEBUG orion_cli: {detail}" in log.read_text(encoding="utf-8")
    assert detail in stderr("-v")
