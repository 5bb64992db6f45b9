"""A stop signal once a command's outcome is decided: real processes, stopped at named points.

Found in review: `trade --demo --confirm`, SIGTERM just after the execution record (done) was printed,
exited 130; 20–90 ms later it was killed with no message, exit 143 (SIGHUP 129). `reconcile` that
found drift (exit 7) exited 130 with no metrics file, or 143. The handlers were given back after the
wait for alerts, before the output and the metrics were written, and the interpreter's teardown resets
a Python-handled signal to the system's default. Each test pauses the process at one point
(``ORION_TEST_PAUSE_AT``, :func:`orion_cli.cli.stopping.pause_point`), sends the signal when the
process says it is there, and checks the exit code and what was written: no timing is guessed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orion_cli.cli.app import app as orion_app

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _invoke(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(orion_app, list(args))
    return res.exit_code, res.stdout, res.stderr


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _op_id() -> str:
    code, out, err = _invoke("scan", "--demo", "--jsonl")
    assert code == 0, err
    return str(_records(out)[0]["id"])


def _stopped_at(point: str, sig: signal.Signals, *args: str, env: dict[str, str] | None = None
                ) -> tuple[int, str, str]:
    """Run ``orion ARGS`` paused at ``point``; send ``sig`` when it says it is there. (exit code, out, err);
    the exit code as a shell reports it (128 + the signal for a process the signal killed)."""
    proc = subprocess.Popen([sys.executable, "-m", "orion_cli", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {}), "ORION_TEST_PAUSE_AT": point})
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith(f"orion-test: paused at {point}"):
                proc.send_signal(sig)
                break
        else:
            raise AssertionError(f"never paused at {point}: {''.join(seen)[-2000:]}")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    code = proc.returncode
    return (128 - code if code < 0 else code), out, "".join(seen) + err


def _killed_between_legs(op_id: str) -> None:
    """An execution SIGKILLed once its first leg filled: reconcile finds it (drift, exit 7)."""
    killed = subprocess.run([sys.executable, "-m", "orion_cli", "trade", op_id, "--demo", "--confirm", "--size", "7"],
                            env={**os.environ, "ORION_TEST_CRASH_AT": "l1_recorded"}, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]


@pytest.mark.parametrize(("point", "sig"), [("trade_end", signal.SIGTERM), ("exit", signal.SIGHUP),
                                            ("exit", signal.SIGINT), ("teardown", signal.SIGTERM),
                                            ("teardown", signal.SIGHUP)])
def test_a_stop_after_a_done_trade_was_printed_leaves_its_exit_code_0(point: str, sig: signal.Signals) -> None:
    op_id = _op_id()
    code, out, err = _stopped_at(point, sig, "trade", op_id, "--demo", "--confirm", "--size", "7", "--jsonl")
    assert code == 0, err[-3000:]
    (execution,) = [r for r in _records(out) if r["type"] == "execution"]
    assert execution["status"] == "done"
    assert "Traceback" not in err and "error:" not in err, err[-3000:]


@pytest.mark.parametrize(("point", "sig"), [("reconcile_decided", signal.SIGTERM), ("exit", signal.SIGTERM),
                                            ("teardown", signal.SIGHUP)])
def test_a_stop_after_reconcile_decided_on_drift_exits_7_with_its_output_and_metrics(
        tmp_path: Path, point: str, sig: signal.Signals) -> None:
    _killed_between_legs(_op_id())
    prom = tmp_path / "orion.prom"
    code, out, err = _stopped_at(point, sig, "reconcile", "--demo", "--jsonl", "--metrics-file", str(prom))
    assert code == 7, err[-3000:]
    assert [r["status"] for r in _records(out)] == ["drift", "clean"]
    assert "orion_reconcile_exit_code 7\n" in prom.read_text()
    assert "Traceback" not in err, err[-3000:]
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        line for line in err.splitlines() if line.startswith("error: drift between")], err[-3000:]


def test_a_stop_during_a_reconcile_run_is_written_to_the_metrics_file_as_130(tmp_path: Path) -> None:
    """Found in review: a run stopped before its comparison left the previous run's metrics file, which
    said exit_code 0 with the old timestamp."""
    prom = tmp_path / "orion.prom"
    assert _invoke("init")[0] == 0
    code, _, err = _invoke("reconcile", "--demo", "--jsonl", "--metrics-file", str(prom))
    assert code == 0 and "orion_reconcile_exit_code 0\n" in prom.read_text(), err
    before = prom.read_text()
    code, _out, err = _stopped_at("reconcile_started", signal.SIGTERM, "reconcile", "--demo", "--jsonl",
                                 "--metrics-file", str(prom))
    assert code == 130, err[-3000:]
    assert "error: terminated (SIGTERM)" in err
    text = prom.read_text()
    assert text != before and "orion_reconcile_exit_code 130\n" in text
    assert "orion_halted 0\n" in text  # the ledger could be read
    assert "orion_reconcile_drifts" not in text and "orion_reconcile_status" not in text  # nothing compared


@pytest.mark.parametrize(("point", "sig"), [("exit", signal.SIGTERM), ("exit", signal.SIGINT),
                                            ("teardown", signal.SIGHUP)])
def test_a_stop_after_a_watch_printed_its_stopped_record_leaves_that_exit_code(point: str, sig: signal.Signals) -> None:
    """Found in a black-box run: `trade --watch` gave its signal handlers back after the wait for alerts, so a
    stop just after its ``stopped`` record (exit_code 0 at --max-trades) ended it 130, or killed it in the
    interpreter's teardown (143, 129): a supervisor read another exit code than the record's."""
    code, out, err = _stopped_at(point, sig, "trade", "--watch", "1", "--demo", "--max-trades", "1", "--jsonl")
    stopped = _records(out)[-1]
    assert stopped["event"] == "stopped" and stopped["exit_code"] == 0, stopped
    assert code == 0, err[-3000:]
    assert "Traceback" not in err and "error:" not in err, err[-3000:]
