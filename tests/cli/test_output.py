"""Output writes whole lines even when Ctrl-C arrives mid-write."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orion_cli.cli.app import app
from orion_cli.cli.output import Column, Output, to_json


class InterruptedMidWrite(io.StringIO):
    """A stdout whose write is hit by SIGINT halfway through, like a write blocked on a full pipe."""

    signum = signal.SIGINT

    def write(self, text: str) -> int:
        half = len(text) // 2
        super().write(text[:half])
        os.kill(os.getpid(), self.signum)
        time.sleep(0.02)  # time for any thread to take the signal and the interpreter to act on it, here
        return super().write(text[half:]) + half


def test_ctrl_c_during_a_streamed_line_lands_after_the_whole_line() -> None:
    sink = InterruptedMidWrite()
    out = Output("jsonl", stdout=sink, stderr=io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        out.stream({"type": "audit_event", "seq": 47, "payload": {"detail": "trading is halted " * 20}}, [])
    assert sink.getvalue().endswith("}\n")
    assert sink.getvalue().count("\n") == 1


def test_ctrl_c_mid_line_is_deferred_even_with_other_threads_running() -> None:
    """A signal mask is per thread: with another thread alive the kernel may hand it SIGINT."""
    import threading

    stop = threading.Event()
    others = [threading.Thread(target=stop.wait) for _ in range(4)]
    for t in others:
        t.start()
    try:
        for _ in range(5):
            sink = InterruptedMidWrite()
            out = Output("jsonl", stdout=sink, stderr=io.StringIO())
            with pytest.raises(KeyboardInterrupt):
                out.stream({"type": "x", "detail": "y" * 500}, [])
            assert sink.getvalue().endswith("}\n")
    finally:
        stop.set()
        for t in others:
            t.join()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_watch_loops_sigterm_or_sighup_mid_line_lands_after_the_whole_line(signum: signal.Signals) -> None:
    """Found in review: the watch loops stop on SIGTERM and SIGHUP as on Ctrl-C (cli/stopping.py), but
    only Ctrl-C waited for the line being written."""
    from orion_cli.cli.stopping import StopFlag, terminated_by

    class Hit(InterruptedMidWrite):
        pass

    Hit.signum = signum
    stop = StopFlag(Output("jsonl", stdout=io.StringIO(), stderr=io.StringIO()))
    stop.install()
    try:
        sink = Hit()
        with pytest.raises(KeyboardInterrupt):
            Output("jsonl", stdout=sink, stderr=io.StringIO()).stream({"type": "x", "detail": "y" * 500}, [])
        assert sink.getvalue().endswith("}\n") and sink.getvalue().count("\n") == 1
        assert stop.reason == f"terminated ({signum.name})"
    finally:
        stop.restore()
        terminated_by.clear()  # one process, one command: not the next test's


def test_a_custom_sigint_handler_still_runs_after_the_line() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        sink = InterruptedMidWrite()
        Output("jsonl", stdout=sink, stderr=io.StringIO()).stream({"type": "x"}, [])
        assert seen == [signal.SIGINT] and sink.getvalue() == '{"type":"x"}\n'
    finally:
        signal.signal(signal.SIGINT, previous)


def test_lines_from_a_worker_thread_are_written_without_touching_the_signal_mask() -> None:
    import threading

    sink = io.StringIO()
    out = Output("jsonl", stdout=sink, stderr=io.StringIO())
    t = threading.Thread(target=out.stream, args=({"type": "x", "n": 1}, []))
    t.start()
    t.join()
    assert sink.getvalue() == '{"type":"x","n":1}\n'


_CHILD = r"""
import sys
from orion_cli.cli.output import Output
out = Output("jsonl")
try:
    out.stream({"type": "big", "text": "é" * 6000}, [])  # 12 KB: three times the pipe below
finally:
    sys.stderr.write("wrote\n")
"""


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_SETPIPE_SZ"), reason="needs Linux pipe resizing")
def test_a_line_cut_short_by_a_signal_is_still_written_whole_when_unbuffered() -> None:
    """`PYTHONUNBUFFERED=1`: the text layer writes straight to the pipe and ignores a short write.

    A write blocked on a full pipe and interrupted by Ctrl-C returns short; Python's text layer
    drops the rest, so `audit tail -f` stopped with Ctrl-C left the reader half a JSON line (found
    once in CI, reproduced at the first try with lines over 4 KiB). The pipe is shrunk to one page so
    the child is surely blocked mid-line when the signal arrives.
    """
    import fcntl
    import json
    import select
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=write_end, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    os.close(write_end)
    try:
        assert select.select([read_end], [], [], 30)[0], "the child never wrote"
        time.sleep(0.3)  # the first page is in the pipe; the child is blocked writing the rest
        child.send_signal(signal.SIGINT)
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
    finally:
        os.close(read_end)
        child.wait(timeout=30)
    assert data.endswith(b"\n"), f"cut short after {len(data)} bytes"
    assert json.loads(data)["text"] == "é" * 6000
    assert child.returncode != 0  # the interrupt was delivered, after the line


def test_a_value_with_unicode_line_breaks_stays_on_one_line() -> None:
    """U+0085, U+2028 and U+2029 are legal in JSON strings but break lines for str.splitlines() and
    JavaScript readers; found by the argument fuzzer (`pairs add - $'0\\x850' --jsonl`)."""
    import json

    text = "0\x850\u2028x\u2029y"
    for fmt in ("jsonl", "json"):
        buf = io.StringIO()
        Output(fmt, stdout=buf).record({"type": "t", "v": text})
        out = buf.getvalue()
        if fmt == "jsonl":
            assert len(out.splitlines()) == 1
        assert not {"\x85", "\u2028", "\u2029"} & set(out)
        assert json.loads(out)["v"] == text


class NarrowTerminal(io.StringIO):
    """A terminal 80 columns wide (Rich reads the width from COLUMNS)."""

    def isatty(self) -> bool:
        return True


def test_a_table_wider_than_the_terminal_never_shortens_a_number_or_an_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by black-box testing: at 80 columns Rich cut amounts to "921…" and market ids to
    "0x18682f5…", which read as other values. Numbers stay whole; text folds; nothing is cropped."""
    from orion_cli.cli.output import Column

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    market = "0x18682f5c3ac9f66132244ac057a2817a1b908702d424680f35de26cad232087d"
    columns = [Column("market", "market"), Column("title", "title"),
               *(Column(f"n{i}", f"amount {i}", justify="right") for i in range(8))]
    record = {"market": market, "title": "Will the thing happen before the other thing?",
              **{f"n{i}": f"1234567.{i}89" for i in range(8)}}
    screen = NarrowTerminal()
    Output("table", stdout=screen, stderr=io.StringIO()).records([record], columns, title="wide")
    text = screen.getvalue()
    assert "…" not in text
    for i in range(8):
        assert f"1234567.{i}89" in text and f"amount {i}" in text
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))
    assert market in cells  # folded over lines, every character kept


def test_a_table_wider_than_a_pipe_s_240_columns_is_not_cropped() -> None:
    from orion_cli.cli.output import Column

    columns = [Column(f"n{i}", f"amount {i}", justify="right") for i in range(20)]
    sink = io.StringIO()  # not a terminal: the table is asked for with --format table
    Output("table", stdout=sink, stderr=io.StringIO()).records([{f"n{i}": f"9876543.{i:02d}1" for i in range(20)}],
                                                              columns)
    text = sink.getvalue()
    assert all(f"9876543.{i:02d}1" in text for i in range(20)) and "…" not in text


HOSTILE = "drill\x1b]0;pwned\x07\x1b[2J\rfake line\x9b31m\u202egnp.exe"
CONTROLS = {"\x1b", "\x07", "\r", "\x9b", "\u202e"}


@pytest.mark.parametrize("fmt", ["table", "jsonl", "json"])
def test_terminal_control_characters_never_reach_the_terminal(fmt: str) -> None:
    """Found in a black-box run: a halt reason's escape codes reached the terminal through `halt
    --status` and the HALTED banner (retitling it, clearing it, rewriting a line)."""
    import json

    out, err = io.StringIO(), io.StringIO()
    o = Output(fmt, stdout=out, stderr=err)
    o.record({"type": "halt", "reason": HOSTILE})
    o.records([{"type": "halt", "reason": HOSTILE}], [Column("reason", "reason")])
    o.stream({"type": "halt", "reason": HOSTILE}, [Column("reason", "reason")])
    o.banner(f"HALTED: {HOSTILE}")
    o.warn(HOSTILE)
    o.error(HOSTILE, hint=HOSTILE)
    for text in (out.getvalue(), err.getvalue()):
        assert not CONTROLS & set(text), repr(text)
    assert "\\x1b]0;pwned\\x07" in err.getvalue()  # shown, as escapes: the operator still sees what was there
    if fmt != "table":  # JSON carries the text unchanged
        first, _ = json.JSONDecoder().raw_decode(out.getvalue())
        assert first["reason"] == HOSTILE


def test_newlines_and_tabs_in_messages_are_kept() -> None:
    err = io.StringIO()
    Output("table", stderr=err).info("one\ttab\ntwo")
    assert err.getvalue() == "one\ttab\ntwo\n"


def test_a_warning_an_error_its_hint_a_banner_and_a_cell_are_one_line_whatever_they_quote() -> None:
    """Found in a black-box run: a venue's or a sentinel file's multi-line text split an error, and
    its second line ("error: …", "hint: …") read as orion's own."""
    out, err = io.StringIO(), io.StringIO()
    o = Output("table", stdout=out, stderr=err)
    quoted = "busy\nhint: run `orion resume --force`"
    o.warn(quoted)
    o.error(f"trading is halted: {quoted}", hint=quoted)
    o.banner(f"HALTED: {quoted}")
    o.records([{"type": "x", "reason": quoted}], [Column("reason", "reason")])
    lines = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["warning", "error", "hint", "HALTED"], lines
    assert all("busy\\nhint: run" in line for line in lines)
    assert "busy\\nhint: run" in out.getvalue() and "\nhint" not in out.getvalue()


class ReaderGone(io.StringIO):
    """A stream whose reader went away after ``keep`` writes, as `| head -1` leaves a pipe."""

    def __init__(self, keep: int = 0) -> None:
        super().__init__()
        self.keep = keep
        self.attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        if self.attempts > self.keep:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


@pytest.mark.parametrize("fmt", ["table", "jsonl", "json"])
def test_a_closed_stdout_is_noted_and_later_data_dropped_while_messages_still_go_out(fmt: str) -> None:
    """Found in a black-box run: a closed stdout raised out of the command and it exited 0, so
    `reconcile --jsonl | head -1` hid a drift (exit 7) and `audit verify | true` a broken chain."""
    out, err = ReaderGone(), io.StringIO()
    o = Output(fmt, stdout=out, stderr=err)
    o.record({"type": "halt", "halted": True})
    assert o.stdout_closed()
    tries = out.attempts
    o.records([{"type": "halt", "reason": "x"}], [Column("reason", "reason")])
    o.stream({"type": "halt", "reason": "x"}, [Column("reason", "reason")])
    assert out.attempts == tries  # nothing more is tried
    o.error("the chain is broken")
    assert err.getvalue() == "error: the chain is broken\n"


def test_a_closed_stdout_keeps_what_its_reader_took() -> None:
    out = ReaderGone(keep=1)
    o = Output("jsonl", stdout=out, stderr=io.StringIO())
    o.stream({"type": "a"}, [])
    assert not o.stdout_closed()
    o.stream({"type": "b"}, [])
    assert o.stdout_closed() and out.getvalue() == '{"type":"a"}\n'


class Refusing(io.StringIO):
    """A stdout the machine refuses every write to (a full disk under `> file`, an I/O error)."""

    def __init__(self, errnum: int) -> None:
        super().__init__()
        self.errnum = errnum
        self.attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        raise OSError(self.errnum, os.strerror(self.errnum))


@pytest.mark.parametrize("fmt", ["table", "jsonl", "json"])
@pytest.mark.parametrize("errnum", [errno.ENOSPC, errno.EIO])
def test_a_stdout_that_refuses_a_write_fails_the_command_unless_its_outcome_comes_first(fmt: str,
                                                                                      errnum: int) -> None:
    """Found in a black-box run: `reconcile > /dev/full` that found drift exited 1 ("could not write the
    output") and never said drift was found (a closed pipe lets it exit 7). The refusal is still raised
    (the command ends, exit 1), but one whose outcome is decided first gets it back and goes on."""
    out, err = Refusing(errnum), io.StringIO()
    o = Output(fmt, stdout=out, stderr=err)
    with pytest.raises(OSError) as raised:
        o.record({"type": "halt", "halted": True})
    assert raised.value.errno == errnum and o.stdout_failure is raised.value
    o = Output(fmt, stdout=out, stderr=err)
    failure = o.outcome_first(lambda: o.records([{"type": "halt", "reason": "x"}], [Column("reason", "reason")]))
    assert failure is not None and failure is o.stdout_failure and failure.errno == errnum
    tries = out.attempts
    o.stream({"type": "halt", "reason": "x"}, [Column("reason", "reason")])
    assert out.attempts == tries and o.stdout_closed()  # later data is dropped, as after a closed pipe
    o.error("drift found")
    assert err.getvalue() == "error: drift found\n"  # and the outcome is still said
    with pytest.raises(FileNotFoundError):  # a failure that is not stdout's is not taken for it
        o.outcome_first(lambda: open("/nonexistent/orion-test"))


def test_a_closed_stderr_drops_messages_without_failing_the_command() -> None:
    """`orion … 2>&1 | head -1`: both streams are the one closed pipe."""
    out, err = io.StringIO(), ReaderGone()
    o = Output("jsonl", stdout=out, stderr=err)
    o.warn("first")
    o.error("second", hint="third")
    o.error_record(7, "drift", "fourth")
    assert o.stderr_closed() and err.attempts == 1 and not o.stdout_closed()
    o.stream({"type": "a"}, [])
    assert out.getvalue() == '{"type":"a"}\n'


@pytest.mark.parametrize("reason", ["oops [/closed] tag", "[bold red]boom[/] [link=https://evil.example]click[/link]",
                                    "[x] [primary]"])
def test_table_cells_are_text_never_rich_markup(reason: str) -> None:
    """Found in review: a halt reason with "[/closed]" made every table of it an internal error
    (rich parsed it as markup), and "[link=…]" hid a hyperlink in `halt --status`."""
    out = io.StringIO()
    o = Output("table", stdout=out, stderr=io.StringIO())
    o.record({"type": "halt", "reason": reason})
    o.records([{"type": "halt", "reason": reason}], [Column("reason", "reason")])
    assert out.getvalue().count(reason) == 2, out.getvalue()


def test_a_long_coloured_message_is_left_to_the_terminal_to_fold() -> None:
    """Found in review: on a colour terminal rich broke a long error at a word with a real newline,
    so a quoted reason's "error: …" began a line of its own."""
    err = io.StringIO()
    o = Output("table", stderr=err)
    o.color = True  # as on a terminal: the message goes through rich
    o.error("trading is halted: " + "please stand by " * 8 + "error: the ledger is corrupt")
    assert len(err.getvalue().splitlines()) == 1, err.getvalue()


# -- the output contract (a mutation audit found each of these unpinned) ---------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stdout", "fmt", "chosen"), [
    (io.StringIO, "auto", "jsonl"),  # piped: one JSON object per line, what a pipeline reads
    (Terminal, "auto", "table"),
    (io.StringIO, "table", "table"), (Terminal, "json", "json"), (Terminal, "jsonl", "jsonl"),
])
def test_auto_is_json_lines_when_piped_and_a_table_on_a_terminal(stdout: type[io.StringIO], fmt: str,
                                                                 chosen: str) -> None:
    out = Output(fmt, stdout=stdout(), stderr=io.StringIO())
    assert out.format == chosen and out.machine is (chosen != "table")


def test_piped_auto_writes_one_compact_object_per_line() -> None:
    stdout = io.StringIO()
    Output("auto", stdout=stdout, stderr=io.StringIO()).records(
        [{"type": "t", "n": 1}, {"type": "t", "n": 2}], [Column("n", "N")])
    assert stdout.getvalue() == '{"type":"t","n":1}\n{"type":"t","n":2}\n'


def test_json_writes_one_document_a_list_as_one_array() -> None:
    stdout = io.StringIO()
    Output("json", stdout=stdout, stderr=io.StringIO()).records([{"type": "t", "n": 1}], [Column("n", "N")])
    assert json.loads(stdout.getvalue()) == [{"type": "t", "n": 1}]
    stdout = io.StringIO()
    Output("json", stdout=stdout, stderr=io.StringIO()).records([], [Column("n", "N")])
    assert json.loads(stdout.getvalue()) == []  # nothing to show is still a document


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("-0"), "0"), (Decimal("-0.00"), "0.00"), (Decimal("0E-2"), "0.00"), (Decimal("-1.50"), "-1.50"),
    (Decimal("1E+2"), "100"), (Decimal("0.10"), "0.10"),
])
def test_money_is_a_plain_decimal_string_and_never_a_negative_zero(value: Decimal, text: str) -> None:
    """A pipeline that reads a leading "-" as a loss must not see one on a zero."""
    assert json.loads(to_json({"v": value})) == {"v": text}
    assert Column("v", "V").cell({"v": value}) == text


def test_times_are_iso_utc_with_z_and_tuples_and_sets_are_arrays() -> None:
    paris = timezone(timedelta(hours=2))
    assert json.loads(to_json({"t": datetime(2026, 5, 1, 14, 30, tzinfo=paris)})) == {
        "t": "2026-05-01T12:30:00.000000Z"}
    assert json.loads(to_json({"a": (1, 2), "s": frozenset({"x"})})) == {"a": [1, 2], "s": ["x"]}


def test_a_boolean_cell_says_yes_or_no() -> None:
    assert [Column("b", "B").cell({"b": flag}) for flag in (True, False)] == ["yes", "no"]


@pytest.mark.parametrize(("no_color", "colour"), [(None, True), ("1", False), ("", True)])
def test_colour_only_on_a_terminal_and_never_with_no_color(no_color: str | None, colour: bool,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR (no-color.org): present and not empty turns colour off."""
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert Output("table", stdout=Terminal(), stderr=Terminal()).color is colour
    assert Output("table", stdout=Terminal(), stderr=io.StringIO()).color is False


def test_the_error_record_has_its_documented_shape() -> None:
    stderr = io.StringIO()
    Output("jsonl", stdout=io.StringIO(), stderr=stderr).error_record(3, "config_invalid", "limits.x: bad")
    assert json.loads(stderr.getvalue()) == {"type": "error", "exit_code": 3, "reason": "config_invalid",
                                             "message": "limits.x: bad"}


@pytest.mark.parametrize("args", [["--format", "JSON", "nosuchcommand"],
                                  ["--json", "--format", "table", "nosuchcommand"],
                                  ["--format=Jsonl", "nosuchcommand"]])
def test_a_failure_before_the_command_runs_is_reported_in_the_format_asked_for(args: list[str],
                                                                                isolated_home: Path) -> None:
    """An unknown command fails before the root settles the format: the arguments are read for it as the
    root reads them (--format in any case; --json/--jsonl win over --format), so a pipeline still gets
    its JSON error record."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["type"] == "error" and record["exit_code"] == 2 and record["reason"] == "usage"


def test_a_table_asked_for_in_any_case_before_an_unknown_command_writes_no_json(isolated_home: Path) -> None:
    """`--format TABLE` is the table the root would settle on, not auto (JSON lines when piped)."""
    result = CliRunner().invoke(app, ["--format", "TABLE", "nosuchcommand"])
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    assert '"type":"error"' not in result.stderr


def test_a_lone_surrogate_is_written_as_its_escape_and_any_other_unencodable_character_still_fails() -> None:
    """Found in review: a byte of the environment that is not UTF-8, read back into a record, failed the whole
    command on a strict UTF-8 stdout. It is written as its JSON escape; what the stream's encoding cannot take
    otherwise fails as before (an escape there would not be JSON)."""
    import io

    from orion_cli.cli.output import _write_whole

    raw = io.BytesIO()
    utf8 = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    _write_whole(utf8, '{"user":"j\udcf6rg"}\n')
    assert raw.getvalue() == b'{"user":"j\\udcf6rg"}\n'
    assert json.loads(raw.getvalue()) == {"user": "j\udcf6rg"}
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    with pytest.raises(UnicodeEncodeError):
        _write_whole(ascii_out, '{"name":"\u00e9"}\n')


class HungUp(io.StringIO):
    """A stderr on a terminal that hung up (an ssh session dropped): every write is EIO."""

    attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        raise OSError(errno.EIO, "Input/output error")


def test_a_stderr_on_a_terminal_that_hung_up_drops_messages_without_failing_the_command() -> None:
    """Found in a review of the streams: a trade on a terminal whose session dropped recorded its
    execution, then its next message raised EIO out of the error boundary: a traceback to the dead
    terminal and exit 1 in place of the execution's own code."""
    out, err = io.StringIO(), HungUp()
    o = Output("jsonl", stdout=out, stderr=err)
    o.warn("first")
    o.error("second", hint="third")
    assert o.stderr_closed() and err.attempts == 1
    o.stream({"type": "a"}, [])
    assert out.getvalue() == '{"type":"a"}\n'


def test_a_help_text_keeps_what_the_stream_takes_and_spells_the_rest_in_ascii() -> None:
    """The help's typography on a stdout that cannot take it: a lookalike where one reads the same, the JSON
    escape where none does (as a table's cells), each one character wide as rich lays it out."""
    from orion_cli.cli.streams import help_text_for

    latin = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    text = "a \u2014 b \u00b7 1 \u2212 p \u2192 \u2264 Z\u00fcrich \U0001f600"
    assert help_text_for(text, latin) == "a -- b \u00b7 1 - p -> <= Z\u00fcrich \\ud83d\\ude00"
    assert help_text_for(text, ascii_out) == "a -- b ; 1 - p -> <= Z\\u00fcrich \\ud83d\\ude00"
    assert help_text_for(text, io.TextIOWrapper(io.BytesIO(), encoding="utf-8")) == text


def test_only_a_pipe_or_socket_has_a_reader_that_went_away() -> None:
    """Found reviewing the session's diff: a terminal that hung up polls POLLERR too, before its SIGHUP arrives
    (the shell forwards it), and a watch's wait took the dead terminal for a reader gone: exit 0, "the output
    was closed", instead of 130 for the hang-up. A pipe whose reader closed is one; a hung-up pty is not."""
    import os
    import pty

    from orion_cli.cli.output import _reader_closed

    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as pipe:
        assert _reader_closed(pipe)
    master, slave = pty.openpty()
    os.close(master)  # the terminal hangs up
    with os.fdopen(slave, "w") as tty:
        assert not _reader_closed(tty)


def test_every_time_in_json_carries_microseconds_so_one_parse_format_reads_them_all() -> None:
    """Found in review: Kalshi's balance `as_of` (a whole second) printed as `...T19:09:34Z` while every other
    time had microseconds: `jq fromdateiso8601` failed on one, `strptime("%...%S.%fZ")` on the other."""
    from datetime import UTC, datetime, timedelta, timezone

    from orion_cli.cli.output import json_default

    assert json_default(datetime(2026, 11, 25, 19, 9, 34, tzinfo=UTC)) == "2026-11-25T19:09:34.000000Z"
    assert json_default(datetime(2026, 11, 25, 14, 9, 34, 5, tzinfo=timezone(timedelta(hours=-5)))) == \
        "2026-11-25T19:09:34.000005Z"
