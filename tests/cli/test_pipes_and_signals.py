"""Real processes: a closed pipe, Ctrl-C on a follower, and typed confirmation on a real terminal."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from closed_pipe import run_into_closed_pipe

from orion_cli.risk.halt import KillSwitch
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes, signals and pseudo-terminals")


def orion_cmd() -> list[str]:
    script = Path(sys.executable).parent / "orion"
    if script.exists():
        return [str(script)]
    found = shutil.which("orion")
    return [found] if found else [sys.executable, "-m", "orion_cli"]


def child_env(home: Path) -> dict[str, str]:
    # No PYTHONUNBUFFERED: the follower must flush each line itself. No COLUMNS: piped output has no width.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORION") and k not in ("PYTHONUNBUFFERED", "COLUMNS", "LINES")}
    env.update({"ORION_HOME": str(home), "NO_COLOR": "1"})
    return env


@pytest.fixture
def ledger(isolated_home: Path) -> Iterator[Path]:
    path = isolated_home / "orion.db"
    db = open_database(str(path))
    db.dispose()
    yield path


def _fill(path: Path, n: int) -> None:
    db = open_database(str(path))
    try:
        with db.write() as conn:
            for i in range(n):
                AuditLog.append(conn, "test.bulk", {"i": i, "pad": "x" * 200})
    finally:
        db.dispose()


def test_audit_tail_into_head_is_quiet(ledger: Path, isolated_home: Path) -> None:
    _fill(ledger, 800)  # ~400 KB of JSON lines: far more than a pipe buffer, so the write really fails
    producer = subprocess.Popen([*orion_cmd(), "audit", "tail", "-n", "1000", "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=child_env(isolated_home))
    head = subprocess.Popen(["head", "-1"], stdin=producer.stdout, stdout=subprocess.PIPE)
    assert producer.stdout is not None and producer.stderr is not None
    producer.stdout.close()  # only head holds the read end now
    out, _ = head.communicate(timeout=60)
    err = producer.stderr.read().decode()
    code = producer.wait(timeout=60)
    first = json.loads(out)
    assert first["seq"] == 1 and first["type"] == "test.bulk"
    assert err == "", err  # no traceback, no "Exception ignored ... BrokenPipeError"
    assert code == 0


def _into_closed_pipe(args: list[str], home: Path, *, stderr_too: bool = False,
                      timeout: float = 60) -> tuple[int, str]:
    return run_into_closed_pipe([*orion_cmd(), *args], child_env(home), stderr_too=stderr_too, timeout=timeout)


def _break_chain(path: Path) -> None:
    db = open_database(str(path))
    try:
        with db.write() as conn:
            for i in range(3):
                AuditLog.append(conn, "test.bulk", {"i": i})
    finally:
        db.dispose()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE audit_events SET payload = ? WHERE seq = 2", ('{"i":99}',))
        conn.commit()


@pytest.mark.parametrize("args", [["audit", "verify"], ["--json", "audit", "verify"], ["--format", "table", "audit",
                                                                                        "verify"]])
def test_a_closed_stdout_does_not_turn_a_failure_into_success(ledger: Path, isolated_home: Path,
                                                              args: list[str]) -> None:
    """Found in a black-box run: `audit verify | true` exited 0 on a broken chain (and `reconcile --jsonl
    | head -1` 0 on a drift): the closed pipe was taken as the end of the command."""
    _break_chain(ledger)
    code, err = _into_closed_pipe(args, isolated_home)
    assert code == 7, err
    assert "audit chain broken at seq 2" in err and "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["scan", "--help"], ["audit", "--help"],
                                  ["audit", "tail", "--help"]])
def test_help_and_version_into_a_closed_pipe_are_quiet(isolated_home: Path, args: list[str]) -> None:
    """Found in review: `orion --help | head -0` printed a BrokenPipeError traceback (exit 120); a
    command's help exited 1 (rich's own broken-pipe exit) where the root's exits 0."""
    code, err = _into_closed_pipe(args, isolated_home)
    assert (code, err) == (0, "")


def test_a_failure_with_both_streams_closed_still_exits_with_its_code(ledger: Path, isolated_home: Path) -> None:
    _break_chain(ledger)  # `orion audit verify 2>&1 | head -0`
    code, _ = _into_closed_pipe(["audit", "verify"], isolated_home, stderr_too=True)
    assert code == 7


@pytest.mark.parametrize("args", [["scan", "--demo", "--watch", "1", "--jsonl"],
                                  ["audit", "tail", "-f", "--interval", "0.1", "--json"]])
def test_a_loop_whose_reader_is_gone_stops_with_exit_0(ledger: Path, isolated_home: Path, args: list[str]) -> None:
    """With writes to a gone reader dropped, a loop that only produces output must notice and stop."""
    _fill(ledger, 1)
    code, err = _into_closed_pipe(args, isolated_home, timeout=30)
    assert code == 0, err
    assert "Traceback" not in err


def test_a_follower_notices_its_reader_gone_with_nothing_new_to_write(ledger: Path, isolated_home: Path) -> None:
    """Found in review: `audit tail -f | head -1` waited for the next event (perhaps for ever) before it
    noticed the reader was gone; it now asks the pipe each interval, as `tail -f` does."""
    _fill(ledger, 1)
    follower = subprocess.Popen([*orion_cmd(), "audit", "tail", "-f", "--interval", "0.1", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(isolated_home))
    try:
        assert follower.stdout is not None and follower.stderr is not None
        assert json.loads(follower.stdout.readline())["seq"] == 1
        follower.stdout.close()  # no event comes after this
        code = follower.wait(timeout=20)
        err = follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.kill()
    assert (code, err) == (0, "")


@pytest.mark.parametrize("args", [["scan", "--demo", "--watch", "300", "--jsonl"],
                                  ["trade", "--watch", "300", "--demo", "--jsonl"]], ids=["scan", "trade"])
def test_a_watch_notices_its_reader_gone_during_its_wait(ledger: Path, isolated_home: Path, args: list[str]) -> None:
    """Found in review: a watch asked whether its reader was gone only when a round ended, so `orion scan --watch
    300 | head -1` waited up to five minutes, and `trade --watch` ran a whole round (every venue's books) for no
    one. The wait asks the pipe too. (trade: trading.min_profit out of reach, so the round trades nothing.)"""
    env = {**child_env(isolated_home), **({"ORION__TRADING__MIN_PROFIT": "100000"} if args[0] == "trade" else {})}
    watcher = subprocess.Popen([*orion_cmd(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        assert watcher.stdout is not None and watcher.stderr is not None
        assert json.loads(watcher.stdout.readline())  # the first round's first line
        time.sleep(1.5)  # the round over, the watch waits
        watcher.stdout.close()
        code = watcher.wait(timeout=20)
        err = watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert code == 0, err
    assert "Traceback" not in err


def test_audit_tail_follow_since_streams_every_event_since_then_then_follows(ledger: Path,
                                                                           isolated_home: Path) -> None:
    """`--since` without -n showed only the newest 20 (black-box review); with -f it shows them all, then the
    new ones, none twice and none lost."""
    _fill(ledger, 25)
    follower = subprocess.Popen([*orion_cmd(), "audit", "tail", "-f", "--since", "1h", "--interval", "0.1", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(isolated_home))
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        # Read with a timeout: cut to the newest 20, the old code would leave this waiting for ever.
        assert [json.loads(lines.get(timeout=30))["seq"] for _ in range(25)] == list(range(1, 26))
        AuditLog(open_database(str(ledger))).record("test.after", {"ok": True})
        rec = json.loads(lines.get(timeout=30))
        assert (rec["seq"], rec["type"]) == (26, "test.after")
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 130 and "warning" not in err, err


def test_audit_tail_follow_exits_130_on_sigterm_saying_so(ledger: Path, isolated_home: Path) -> None:
    """Found by black-box testing: SIGTERM killed `audit tail -f` (exit 143, nothing said), and
    `reconcile` likewise."""
    _fill(ledger, 1)
    follower = subprocess.Popen([*orion_cmd(), "audit", "tail", "-f", "--interval", "0.1", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(isolated_home))
    try:
        assert follower.stdout is not None
        assert json.loads(follower.stdout.readline())["seq"] == 1
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 130, err
    assert "Traceback" not in err and json.loads(err.strip().splitlines()[-1])["message"] == "terminated (SIGTERM)"


def test_audit_tail_follow_sees_other_processes_and_exits_130_on_sigint(ledger: Path, isolated_home: Path) -> None:
    _fill(ledger, 3)
    env = child_env(isolated_home)
    follower = subprocess.Popen([*orion_cmd(), "audit", "tail", "-f", "--interval", "0.1", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    def next_record(timeout: float = 30) -> dict[str, object]:
        return json.loads(lines.get(timeout=timeout))  # type: ignore[no-any-return]

    try:
        assert [next_record()["seq"] for _ in range(3)] == [1, 2, 3]
        # Another process (the CLI itself) writes while we follow.
        halt = subprocess.run([*orion_cmd(), "halt", "--reason", "seen by follower"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert halt.returncode == 0, halt.stderr
        rec = next_record()
        assert rec["type"] == "halt.engaged" and rec["seq"] == 4
        assert rec["payload"] == {"kind": "manual", "reason": "seen by follower", "scope": "all"}
        assert rec["actor"]["pid"] != follower.pid  # type: ignore[index]
        assert next_record()["type"] == "config.loaded"  # the configuration the halt ran under, after it
        # ... and a plain library writer in this process.
        AuditLog(open_database(str(ledger))).record("test.after", {"ok": True})
        assert next_record()["type"] == "test.after"
        follower.send_signal(signal.SIGINT)
        code = follower.wait(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert code == 130
    assert follower.stderr is not None
    err = follower.stderr.read()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


# -- typed confirmation on a real pseudo-terminal ----------------------------------------------


def _run_on_pty(args: list[str], env: dict[str, str], answer: str, prompt: bytes, timeout: float = 60) -> tuple[
        int, str]:
    """Run ``args`` with stdin/stdout/stderr on a pty; type ``answer`` once ``prompt`` appears."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**env, "TERM": "xterm"}
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; terminal so far: {seen[-2000:]!r}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
                if b"\x1b[6n" in chunk:  # prompt_toolkit asks where the cursor is; answer like a terminal
                    os.write(master, b"\x1b[1;1R")
                if not answered and prompt in seen:
                    time.sleep(0.2)
                    os.write(master, answer.encode())
                    answered = True
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert answered, f"never prompted; terminal: {seen[-2000:]!r}"
    return code, seen.decode(errors="replace")


def _halted(path: Path) -> bool:
    db = open_database(str(path))
    try:
        return KillSwitch(db).status().halted
    finally:
        db.dispose()


def _engage(path: Path) -> None:
    db = open_database(str(path))
    try:
        KillSwitch(db).engage("pty test")
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "answer,expected_code,still_halted",
    [("RESUME\r", 0, False), ("resume please\r", 6, True), ("\x03", 130, True), ("\x04", 130, True)],
    ids=["correct-phrase", "wrong-phrase", "ctrl-c", "ctrl-d"],
)
def test_resume_typed_confirmation_on_a_terminal(ledger: Path, isolated_home: Path, answer: str,
                                                 expected_code: int, still_halted: bool) -> None:
    _engage(ledger)
    code, screen = _run_on_pty([*orion_cmd(), "resume"], child_env(isolated_home), answer, b"Type RESUME")
    assert code == expected_code, screen
    assert _halted(ledger) is still_halted
    assert "Traceback" not in screen
    if still_halted:  # a cancelled prompt is an interruption (DESIGN: 130), a wrong phrase a refusal
        assert ("interrupted" if expected_code == 130 else "not confirmed") in screen
    else:
        assert "released" in screen


# -- usage errors when stderr is not a terminal ------------------------------------------------


def _run_piped(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``orion ARGS </dev/null`` with stdout and stderr on pipes (cron, `2>&1 | cat`)."""
    return subprocess.run([*orion_cmd(), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env={**child_env(home), **env}, timeout=60)


@pytest.mark.parametrize("args", [["bogus"], ["--json", "bogus"], ["bogus", "--jsonl"], ["--bogus"]],
                         ids=["piped", "json", "jsonl-after", "bad-global-option"])
def test_an_unknown_top_level_command_writes_its_error_record(isolated_home: Path, args: list[str]) -> None:
    """Found by a black-box audit: `orion bogus </dev/null 2>&1 | cat` wrote no `{"type":"error"}`
    record (`orion audit bogus` did): the root fails before its callback builds the output, and only
    --json was looked for then, not a piped stdout."""
    proc = _run_piped(args, isolated_home)
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith('{"type":"error"')]
    assert proc.returncode == 2, proc.stderr
    assert len(records) == 1, proc.stderr
    assert records[0]["exit_code"] == 2 and records[0]["reason"] == "usage", proc.stderr
    assert "bogus" in records[0]["message"]


@pytest.mark.parametrize("args,command", [
    (["trade", "x", "--size=-1"], "orion trade"),
    (["halt", "--status", "--reason", "outage"], "orion halt"),
    (["scan", "--watch", "often"], "orion scan"),
    (["audit", "bogus"], "orion audit"),
    (["audit", "verify", "--bogus"], "orion audit verify"),
    (["trade", "--size"], "orion trade"),  # Click raises this one without a context
    (["audit", "tail", "-n"], "orion audit tail"),  # ... also in a nested command (it named `orion audit`)
    (["bogus"], "orion"),
    (["--json", "--jsonl", "scan"], "orion"),
])
def test_a_usage_error_off_a_terminal_is_an_error_line_a_hint_and_the_record(
        isolated_home: Path, args: list[str], command: str) -> None:
    """Found by a black-box audit: with stderr on a pipe, a usage error printed the JSON record, then
    Click's "Usage:" and "Try ..." lines and a rich box of Unicode lines. The README's contract: one
    `error:` line, a `hint:` line and the record, and nothing else."""
    proc = _run_piped(args, isolated_home)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 3, proc.stderr
    error, hint, record = lines
    assert error.startswith("error: ") and hint == f"hint: see `{command} --help`", proc.stderr
    assert json.loads(record) == {"type": "error", "exit_code": 2, "reason": "usage",
                                  "message": error.removeprefix("error: ")}
    assert not any(ch in proc.stderr for ch in "╭│╰─"), proc.stderr


def test_a_usage_error_with_a_table_asked_for_has_no_record(isolated_home: Path) -> None:
    """The record goes with JSON output (any failure's rule): `--format table` into a file has none."""
    proc = _run_piped(["--format", "table", "bogus"], isolated_home)
    assert proc.returncode == 2
    assert proc.stderr == "error: No such command 'bogus'.\nhint: see `orion --help`\n"


def test_a_usage_error_on_a_terminal_keeps_the_usage_and_the_panel(isolated_home: Path) -> None:
    """On a terminal the usage line and the boxed panel are for the person reading; the record still
    comes first when stdout is piped (it carries JSON)."""
    code, screen, _ = _on_terminal(["trade", "x", "--size=-1"], isolated_home, piped="stdout")
    assert code == 2, screen
    assert screen.startswith('{"type":"error","exit_code":2,"reason":"usage"'), screen
    assert "Usage: orion trade" in screen and "Try 'orion trade -h' for help." in screen, screen
    assert "╭─ Error" in screen and "'-1' must be a finite number > 0" in screen, screen


@pytest.mark.parametrize("args,command,columns", [
    ([], "orion", None), ([], "orion", "80"), (["--json"], "orion", None),
    (["audit"], "orion audit", None), (["secrets"], "orion secrets", None), (["pairs"], "orion pairs", None),
    (["config"], "orion config", None), (["snapshot"], "orion snapshot", None),
    (["audit", "--json"], "orion audit", None), (["pairs", "--jsonl"], "orion pairs", None),
], ids=["orion-cached-help", "orion-rendered-help", "orion-json", "audit", "secrets", "pairs", "config", "snapshot",
        "audit-json", "pairs-jsonl"])
def test_a_missing_command_off_a_terminal_is_a_usage_error_not_help_on_stdout(
        isolated_home: Path, args: list[str], command: str, columns: str | None) -> None:
    """Found by a black-box audit: a group given no command (`orion audit`, `orion secrets`, … and `orion`
    alone, from the cached help or the app) exited 2 with kilobytes of boxed help on STDOUT and no
    `error:` line, so `orion audit --json | jq` failed with a parse error. Off a terminal a missing command
    is now the usage error any other one is: nothing on stdout; `error:`, `hint:` and the record."""
    proc = _run_piped(args, isolated_home, **({"COLUMNS": columns} if columns else {}))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: Missing command.", f"hint: see `{command} --help`",
        '{"type":"error","exit_code":2,"reason":"usage","message":"Missing command."}'], proc.stderr


def _on_terminal(args: list[str], home: Path, *, columns: int = 120,
                 piped: str | None = None) -> tuple[int, str, str]:
    """``orion ARGS`` with stdout and stderr on a pseudo-terminal, but the one ``piped`` names
    (``"stdout"``/``"stderr"``) on a pipe: exit code, what the terminal showed (colour codes removed,
    rich's bold even with NO_COLOR) and what the pipe got."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen([*orion_cmd(), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if piped == "stdout" else slave,
                            stderr=subprocess.PIPE if piped == "stderr" else slave,
                            env={**child_env(home), "TERM": "xterm"})
    os.close(slave)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(timeout=60)
        pipe = proc.stdout or proc.stderr
        got = pipe.read().decode() if pipe else ""
    finally:
        if proc.poll() is None:
            proc.kill()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
        os.close(master)
    return code, re.sub(r"\x1b\[[0-9;]*m", "", seen.decode(errors="replace")), got


@pytest.mark.parametrize("args,columns", [([], 120), ([], 80), (["audit"], 120)],
                         ids=["orion-cached-help", "orion-rendered-help", "audit"])
def test_a_missing_command_on_a_terminal_still_shows_the_help(isolated_home: Path, args: list[str],
                                                              columns: int) -> None:
    """The other side of the fix above: a person who typed `orion audit` at a terminal wants its help."""
    code, screen, _ = _on_terminal(args, isolated_home, columns=columns)
    assert code == 2, screen
    assert f"Usage: orion {' '.join(args)}".rstrip() in screen and "Commands" in screen, screen
    assert "error:" not in screen, screen


def test_a_missing_command_on_a_terminal_with_json_has_the_record_on_stderr(isolated_home: Path) -> None:
    code, screen, err = _on_terminal(["audit", "--json"], isolated_home, piped="stderr")
    assert code == 2, screen
    assert "Usage: orion audit" in screen, screen
    assert json.loads(err) == {"type": "error", "exit_code": 2, "reason": "usage", "message": "Missing command."}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device every write to fails, ENOSPC)")
@pytest.mark.parametrize("args,columns", [
    (["--help"], "120"), (["scan", "--help"], "120"), (["snapshot", "info", "--demo"], "120"), (["--version"], "120"),
    (["--json", "--version"], "120"), (["--help"], "80"), (["--json", "--help"], "120"),
], ids=["root-help-fast-path", "command-help", "data", "version-fast-path", "version-eager", "root-help-narrow",
        "root-help-eager"])
def test_a_full_disk_under_stdout_is_one_error_line_not_a_traceback(isolated_home: Path, args: list[str],
                                                                    columns: str) -> None:
    """Found in session 25: `orion --help > file` on a full disk printed a Python traceback (the help
    fast path caught only a closed pipe), and the other commands called it an "unexpected internal
    error (OSError at console.py:2124)" with a hint to ask for a traceback. Found in review: the root's
    own --help and --version (past the fast path: another option, a narrow terminal) still printed one.
    A write that fails is the machine's, not orion's: it is said as such, still exit 1 (the output is
    incomplete), with the error record (stdout is a file: JSON lines)."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run([*orion_cmd(), *args], stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE,
                              text=True, env={**child_env(isolated_home), "COLUMNS": columns}, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    message = "could not write the output: No space left on device"
    assert proc.stderr.splitlines() == [
        f"error: {message}",
        json.dumps({"type": "error", "exit_code": 1, "reason": "output_failed", "message": message},
                   separators=(",", ":"))], proc.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device every write to fails, ENOSPC)")
def test_a_full_disk_under_stderr_drops_the_messages_not_the_data(isolated_home: Path) -> None:
    """Found in review: messages are never why a command fails, but a full disk under `2>>log` made the
    first message raise, and the command ended at exit 1 with nothing on stdout."""
    args = [*orion_cmd(), "-v", "scan", "--demo", "--json"]
    env = child_env(isolated_home)
    whole = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=120)
    assert whole.returncode == 0 and whole.stderr, whole.stderr
    with open("/dev/full", "w") as full:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=full, text=True,
                              env=env, timeout=120)
    assert proc.returncode == 0
    # Not the ids: they carry the minute they were seen in, and the two runs may straddle one.
    assert [(op["pair_key"], op["size"], op["net_profit"]) for op in json.loads(proc.stdout)] == \
        [(op["pair_key"], op["size"], op["net_profit"]) for op in json.loads(whole.stdout)] != []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device every write to fails, ENOSPC)")
@pytest.mark.parametrize("args", [["audit", "verify"], ["--json", "audit", "verify"], ["--format", "table", "audit",
                                                                                        "verify"]])
def test_a_full_disk_does_not_turn_a_broken_chain_into_an_output_failure(ledger: Path, isolated_home: Path,
                                                                          args: list[str]) -> None:
    """Found in a black-box run: `reconcile > /dev/full` that found drift exited 1, "could not write the
    output", and never said drift was found; `audit verify` did the same with a broken chain. As into a
    closed pipe, the outcome decided before the output still exits 7 and is named on stderr; an intact
    chain whose record cannot be written is still exit 1."""
    def verify() -> subprocess.CompletedProcess[str]:
        with open("/dev/full", "w") as full:
            return subprocess.run([*orion_cmd(), *args], stdin=subprocess.DEVNULL, stdout=full,
                                  stderr=subprocess.PIPE, text=True, env=child_env(isolated_home), timeout=60)

    intact = verify()
    assert intact.returncode == 1 and "error: could not write the output: No space left on device" in intact.stderr
    _break_chain(ledger)
    broken = verify()
    assert broken.returncode == 7, broken.stderr
    assert broken.stderr.splitlines()[:2] == [
        "warning: could not write the output: No space left on device; the audit chain is broken, exit 7",
        "error: audit chain broken at seq 2: hash mismatch (the event was altered)"], broken.stderr


def _with_closed(streams: str, args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """``orion args`` started with the shell's ``streams`` closed (``"2>&-"``, ``">&-"``, ``"<&-"``), as
    some daemonisers start jobs: Python then sets sys.stderr (sys.stdout, sys.stdin) to None. The others
    are captured (stdin empty)."""
    return subprocess.run(["sh", "-c", f'exec "$@" {streams}', "sh", *orion_cmd(), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=child_env(home), timeout=120)


def _interrupted_execution(ledger: Path) -> None:
    """A ledger holding an execution stopped between its legs (its first leg filled): drift, exit 7."""
    from sqlalchemy import insert

    from orion_cli.core.models import Side, Venue
    from orion_cli.store.ledger import Ledger
    from orion_cli.store.tables import executions
    from orion_cli.venues.trading import (
        Action,
        Fill,
        OrderRequest,
        OrderStatus,
        PreparedOrder,
        TimeInForce,
    )

    db = open_database(str(ledger))
    try:
        at = "2026-11-22T09:00:00Z"
        with db.write() as conn:
            conn.execute(insert(executions), {"key": "k-stuck", "opportunity_id": "op123456", "mode": "paper",
                                              "status": "leg2_sent", "size": 3, "plan": "{}", "result": "{}",
                                              "created_at": at, "updated_at": at})
        paper = Ledger(db, "paper")
        paper.ensure_balance(Venue.KALSHI, Decimal(1000))
        req = OrderRequest(Venue.KALSHI, "KXNBA-26-NYK", Side.YES, Action.BUY, Decimal(3), Decimal("0.30"),
                           TimeInForce.FOK, "c-1")
        paper.record_intent(PreparedOrder(req, "{}"), execution_id="k-stuck")
        fill = Fill(Venue.KALSHI, "f-1", "v-1", "KXNBA-26-NYK", Side.YES, Action.BUY, Decimal(3), Decimal("0.30"),
                    Decimal(0), datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
        paper.transition("c-1", OrderStatus.FILLED, venue_order_id="v-1", fills=[fill])
    finally:
        db.dispose()


def _reconciled(ledger: Path) -> list[str]:
    """The types of the reconcile events audited, in order."""
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        return [row[0] for row in conn.execute("SELECT type FROM audit_events WHERE type LIKE 'reconcile.%' "
                                               "ORDER BY seq")]


@pytest.mark.parametrize("streams", ["2>&-", "<&-", "<&- 2>&-"])
def test_a_closed_stderr_or_stdin_is_no_failure_reconcile_and_halt_run(ledger: Path, isolated_home: Path,
                                                                        streams: str) -> None:
    """Found in a black-box run: with stderr closed (`2>&-`) Python sets sys.stderr to None, and
    `reconcile --demo -q` died writing its DEMO banner (an AttributeError, exit 1) before it ran at all;
    `orion halt` engaged the kill switch, then exited 1. A closed stderr is one whose messages are
    dropped, a closed stdin an empty one: each command runs and exits with its own code."""
    clean = _with_closed(streams, ["reconcile", "--demo", "-q", "--jsonl"], isolated_home)
    assert clean.returncode == 0, clean.stderr
    assert [json.loads(line)["status"] for line in clean.stdout.splitlines()] == ["clean", "clean"]
    assert _reconciled(ledger) == ["reconcile.clean"] * 2
    halt = _with_closed(streams, ["halt", "--reason", "closed stderr", "--json"], isolated_home)
    assert halt.returncode == 0, halt.stderr
    assert json.loads(halt.stdout)["halted"] is True
    assert KillSwitch(open_database(str(ledger))).status().halted
    if "2>&-" in streams:
        assert clean.stderr == halt.stderr == ""  # the shell's own capture is not the process's stderr


def test_a_closed_stdout_is_output_that_cannot_be_written_and_drift_still_exits_7(ledger: Path,
                                                                                  isolated_home: Path) -> None:
    """Found in a black-box run: with stdout closed (`>&-`) a reconcile that found drift audited it, then
    exited 1, "unexpected internal error (AttributeError at orion_cli/cli/output.py:133)", where `>
    /dev/full` exits 7. A closed stdout is an output that cannot be written, as a full disk is: exit 1
    "could not write the output", except that a drift found still exits 7 and is named on stderr."""
    clean = _with_closed(">&-", ["reconcile", "--demo", "-q"], isolated_home)
    lost = "could not write the output: Bad file descriptor"
    assert clean.returncode == 1, clean.stderr
    assert clean.stderr.splitlines()[-2:] == [f"error: {lost}", json.dumps(
        {"type": "error", "exit_code": 1, "reason": "output_failed", "message": lost}, separators=(",", ":"))]
    assert _reconciled(ledger) == ["reconcile.clean"] * 2  # it ran: only its output was lost
    _interrupted_execution(ledger)
    drift = _with_closed(">&-", ["reconcile", "--demo", "-q"], isolated_home)
    assert drift.returncode == 7, drift.stderr
    assert f"warning: {lost}; drift was found, exit 7" in drift.stderr
    assert json.loads(drift.stderr.splitlines()[-1])["reason"] == "drift"
    assert "Traceback" not in drift.stderr and "Exception ignored" not in drift.stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["scan", "--help"], ["halt", "--status"]])
def test_a_closed_stdout_under_help_and_a_closed_stderr_under_help_are_no_internal_error(
        ledger: Path, isolated_home: Path, args: list[str]) -> None:
    """The help fast path, the app's help and its error boundary wrote to a None stdout or stderr too."""
    out_closed = _with_closed(">&-", args, isolated_home)
    assert out_closed.returncode == 1, out_closed.stderr
    assert out_closed.stderr.splitlines()[0] == "error: could not write the output: Bad file descriptor"
    err_closed = _with_closed("2>&-", args, isolated_home)
    assert err_closed.returncode == 0 and err_closed.stdout and err_closed.stderr == ""


# The machine refusing new lock files (a full disk, inodes or quota used up), then orion's entry point.
_NO_NEW_LOCKS = """
import errno, os, sys
real_open = os.open
def no_new_locks(path, flags, *args, **kwargs):
    if os.fspath(path).endswith(".lock") and flags & os.O_CREAT and not os.path.exists(path):
        raise OSError(errno.ENOSPC, "No space left on device", os.fspath(path))
    return real_open(path, flags, *args, **kwargs)
os.open = no_new_locks
from orion_cli.cli.entry import main
sys.argv = ["orion", *sys.argv[1:]]
main()
"""


def test_a_lock_file_the_disk_refuses_is_named_not_taken_for_the_output(isolated_home: Path) -> None:
    """Found in review: reconcile's run lock (and every execution's key lock) failing to be created on a
    full disk ended "could not write the output" (reason output_failed), though stdout was fine."""
    init = subprocess.run([*orion_cmd(), "init"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=child_env(isolated_home), timeout=120)
    assert init.returncode == 0, init.stderr
    proc = subprocess.run([sys.executable, "-c", _NO_NEW_LOCKS, "reconcile", "--demo", "--json"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=child_env(isolated_home), timeout=120)
    assert proc.returncode == 3, proc.stderr
    record = json.loads(proc.stderr.strip().splitlines()[-1])
    assert record["reason"] == "lock_unwritable", proc.stderr
    assert record["message"].startswith("cannot create the lock ") and "No space left on device" in record["message"]
    assert "could not write the output" not in proc.stderr


def _demo_opportunity(home: Path) -> str:
    proc = subprocess.run([*orion_cmd(), "scan", "--demo", "--json"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=child_env(home), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return str(json.loads(proc.stdout)[0]["id"])


def _into_full(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    with open("/dev/full", "w") as full:
        return subprocess.run([*orion_cmd(), *args], stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE,
                              text=True, env={**child_env(home), **env}, timeout=180)


def _events(home: Path) -> list[dict[str, Any]]:
    proc = subprocess.run([*orion_cmd(), "audit", "tail", "-n", "100", "--json"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=child_env(home), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device every write to fails, ENOSPC)")
def test_a_full_disk_under_a_confirmed_trade_still_says_its_outcome(isolated_home: Path) -> None:
    """Found in a review of the streams: `trade --confirm > /dev/full` whose fills tripped the loss breaker
    exited 1 with only "could not write the output": the HALTED line (promised even with -q) was lost,
    and nothing said the trade was done; a refused trade exited 1, not 6. The outcome is now said first."""
    op = _demo_opportunity(isolated_home)
    refused = _into_full(["trade", op, "--demo", "--confirm", "--size", "150", "--idempotency-key", "big", "--json"],
                         isolated_home)
    assert refused.returncode == 6, refused.stderr  # refused by a check, as to a writable stdout
    assert "warning: could not write the output: No space left on device; the trade was refused" in refused.stderr
    assert "error: refused by ORDER_" in refused.stderr, refused.stderr
    done = _into_full(["trade", op, "--demo", "--confirm", "--json"], isolated_home, ORION__BREAKER__DAILY_LOSS="1")
    assert done.returncode == 1, done.stderr
    assert "HALTED: the loss breaker tripped (daily_loss)" in done.stderr, done.stderr
    assert (f"warning: could not write the output: No space left on device; execution op-{op} ended done; "
            "the same command again reports it and sends nothing") in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert [e["payload"]["key"] for e in _events(isolated_home)
            if e["type"] == "execution.transition" and e["payload"]["to"] == "done"] == [f"op-{op}"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device every write to fails, ENOSPC)")
def test_a_full_disk_under_resume_still_says_the_switch_is_released_and_alerts(ledger: Path,
                                                                                isolated_home: Path) -> None:
    """Found in a review of the streams: `orion resume --yes > /dev/full` released the kill switch, then
    exited 1 with only "could not write the output": a script read "still halted", and the resume alert
    was never tried (no alert.failed audited, where a writable stdout audits one)."""
    _engage(ledger)
    proc = _into_full(["resume", "--yes"], isolated_home, ORION__ALERTS__ENABLED="true")
    assert proc.returncode == 1, proc.stderr
    assert not _halted(ledger)
    assert "warning: could not write the output: No space left on device; the kill switch was released" in \
        proc.stderr, proc.stderr
    assert "kill switch released" in proc.stderr.splitlines()[1], proc.stderr
    assert [e["payload"]["kind"] for e in _events(isolated_home) if e["type"] == "alert.failed"] == ["resume"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device every write to fails, ENOSPC)")
def test_a_full_disk_under_a_watch_says_what_it_traded(isolated_home: Path) -> None:
    """Found in a review of the streams: a watch whose stdout filled up ended exit 1, "could not write the
    output", without the trades it had made: the `stopped` record could not be written either."""
    proc = _into_full(["trade", "--watch", "1", "--demo", "--max-trades", "1", "--jsonl"], isolated_home)
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"^warning: watch stopped: could not write the output: No space left on device; "
                     r"\d+ trade\(s\) in \d+ round\(s\)$", proc.stderr, re.M), proc.stderr


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_stdout_that_cannot_encode_every_character_gets_escapes_not_an_internal_error(
        isolated_home: Path, encoding: str) -> None:
    """Found in a review of the streams: with PYTHONIOENCODING=ascii (or a Latin-1 locale with UTF-8 mode
    off) the demo's table (its "≤") and any accented title were an internal error (exit 1), and `audit
    tail --json | jq` got one line. What the stream cannot take is now written as its JSON escape: the
    JSON parses to the same text, the table shows the escape."""
    def scan(fmt: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*orion_cmd(), "scan", "--demo", "--format", fmt], stdin=subprocess.DEVNULL,
                              capture_output=True, env={**child_env(isolated_home), **env}, timeout=120, text=False)

    plain = scan("json")
    escaped = scan("json", PYTHONIOENCODING=encoding)
    assert escaped.returncode == 0, escaped.stderr
    varying = ("id", "quote_age_seconds", "observed_at", "expires_at")  # the clock: two runs may differ
    strip = [{k: v for k, v in op.items() if k not in varying} for op in json.loads(plain.stdout)]
    assert [{k: v for k, v in op.items() if k not in varying}
            for op in json.loads(escaped.stdout.decode(encoding))] == strip != []
    table = scan("table", PYTHONIOENCODING=encoding)
    assert table.returncode == 0, table.stderr
    assert b"\\u2264" in table.stdout and b"internal error" not in table.stderr


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_json_on_a_stdout_that_is_not_utf8_is_ascii_and_reads_back_exactly(ledger: Path, isolated_home: Path,
                                                                          encoding: str) -> None:
    """Found reviewing the escapes: under a Latin-1 stdout the characters Latin-1 can encode ("é") went out
    as Latin-1 bytes in the JSON, which jq (UTF-8, as RFC 8259 asks) read as garbage. JSON on a stdout
    that is not UTF-8 is all ASCII now, every other character escaped."""
    reason = "Café ≤ 5 — 😀 Zürich"
    env = child_env(isolated_home)
    engaged = subprocess.run([*orion_cmd(), "halt", "--reason", reason], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, env=env, timeout=60)
    assert engaged.returncode == 0, engaged.stderr
    proc = subprocess.run([*orion_cmd(), "audit", "tail", "--jsonl", "--type", "halt.engaged"],
                          stdin=subprocess.DEVNULL, capture_output=True, env={**env, "PYTHONIOENCODING": encoding},
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode("ascii")
    assert [json.loads(line)["payload"]["reason"] for line in text.splitlines()] == [reason]
    # The error record on stderr too (found reviewing the fix: it still carried Latin-1's "é").
    failed = subprocess.run([*orion_cmd(), "--jsonl", "trade", "café", "--demo"], stdin=subprocess.DEVNULL,
                            capture_output=True, env={**env, "PYTHONIOENCODING": encoding}, timeout=60)
    assert failed.returncode == 2, failed.stderr
    record = json.loads(failed.stderr.splitlines()[-1].decode("ascii"))
    assert record["type"] == "error" and "café" in record["message"], record


def test_a_table_on_a_stdout_that_cannot_take_its_characters_keeps_its_columns(isolated_home: Path) -> None:
    """Found reviewing the escapes: rich sized the demo's table on "≤" and then wrote its six-character
    escape, so each row's column rules stood to the right of the header's. The cells are escaped first;
    the cached root help (drawn in box characters) is not used on such a stdout, rich drawing ASCII."""
    env = {**child_env(isolated_home), "PYTHONIOENCODING": "ascii"}
    table = subprocess.run([*orion_cmd(), "scan", "--demo", "--format", "table"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=env, timeout=120)
    assert table.returncode == 0, table.stderr
    ruled = [line for line in table.stdout.splitlines() if line.startswith(("|", "+"))]
    assert "\\u2264" in table.stdout and len(ruled) >= 4 and len({len(line) for line in ruled}) == 1, table.stdout
    helped = subprocess.run([*orion_cmd(), "--help"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            env={**env, "COLUMNS": "120"}, timeout=60)
    assert helped.returncode == 0 and "Usage: orion" in helped.stdout and "\\u25" not in helped.stdout, helped.stdout


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_help_on_a_stdout_that_cannot_take_its_characters_keeps_its_box(isolated_home: Path, encoding: str) -> None:
    """Found in a review of the streams (left alone until s53): rich laid out a command's help on "—", "−"
    and "↔" and then wrote each as its six-character escape, so every line holding one stood out past the
    help's box. The help texts are made printable first: what the stream cannot take as its ASCII
    lookalike ("—" as "--"), what it can kept ("·" on Latin-1)."""
    env = {**child_env(isolated_home), "PYTHONIOENCODING": encoding, "COLUMNS": "100"}
    for words, lookalike in ((["trade"], "executed -- paper"), (["book"], "at 1 - p"),
                             (["report"], "send -> the venue"), (["pairs"], "<->")):
        proc = subprocess.run([*orion_cmd(), *words, "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                              env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        text = proc.stdout.decode(encoding)
        widths = {len(line) for line in text.splitlines() if line}
        assert widths == {100}, (words, sorted(widths), text)
        assert lookalike in " ".join(text.split()) and "\\u" not in text, (words, text)
    latin = subprocess.run([*orion_cmd(), "scan", "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                           env=env, timeout=60)
    assert ("   \u00b7   " if encoding == "latin-1" else "   ;   ") in latin.stdout.decode(encoding), latin.stdout


def test_a_watch_whose_terminal_hangs_up_exits_as_the_hang_up_not_as_an_output_failure(
        ledger: Path, isolated_home: Path, tmp_path: Path) -> None:
    """Found in review: an ssh session closed under `trade --watch` (its pty hung up: SIGHUP, then every write EIO)
    ended exit 1, "could not write the output: Input/output error"; the stop was the hang-up: exit 130, said so.
    The bookkeeping finishes as before (each leg takes 1.5 s, so the hang-up lands during the execution)."""
    import pty

    env = {**child_env(isolated_home), "ORION__PAPER__LATENCY_MS": "1500", "TERM": "dumb"}
    err_file = tmp_path / "stderr"
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stderr to a file, to read what it said after the terminal went
        try:
            os.dup2(os.open(err_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
            os.execve(orion_cmd()[0], [*orion_cmd(), "trade", "--watch", "5", "--demo"], env)
        finally:
            os._exit(127)
    try:
        until = time.monotonic() + 2.6
        while time.monotonic() < until:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    os.read(fd, 65536)
                except OSError:
                    break
    finally:
        os.close(fd)  # the hang-up
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the watch did not stop after its terminal hung up")
    said = err_file.read_text()
    assert os.waitstatus_to_exitcode(done[1]) == 130, said
    assert "error: terminated (SIGHUP)" in said, said
    with sqlite3.connect(ledger) as conn:
        assert [s for (s,) in conn.execute("SELECT status FROM executions")] in ([], ["done"]), said
