"""The console script's own window: before the app (and its error boundary) is imported."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# As the console script runs it (the entry module imported, then main()), with an import hook that
# holds the import of the app at its first `import typer` until the signal has arrived there.
CHILD = """
import sys, time
class HoldTyper:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            sys.stdout.write("ready")
            sys.stdout.flush()
            time.sleep(30)
        return None
from orion_cli.cli.entry import main
sys.meta_path.insert(0, HoldTyper())
sys.argv = ["orion", "scan", "--demo"]
main()
"""


@pytest.mark.parametrize(("signum", "said"), [(signal.SIGINT, b"error: interrupted"),
                                              (signal.SIGTERM, b"error: terminated (SIGTERM)")])
def test_a_stop_signal_while_the_app_is_imported_exits_130_without_a_traceback(
        isolated_home: Path, signum: signal.Signals, said: bytes) -> None:
    """Found by black-box testing: Ctrl-C in the first ~100 ms printed a KeyboardInterrupt traceback
    (the app's error boundary did not exist yet), and SIGTERM then (or after a trade's own handler
    was restored, the trade done and recorded) killed the process (exit 143, nothing said). The
    signal arrives while the app is imported."""
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.read(5) == b"ready"
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err.decode()
    assert b"Traceback" not in err and said in err


def test_a_sighup_the_caller_ignores_stays_ignored(isolated_home: Path) -> None:
    """As under nohup: the command outlives the terminal."""
    child = subprocess.Popen([sys.executable, "-c", CHILD.replace("time.sleep(30)", "time.sleep(1)")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    assert child.stdout is not None
    assert child.stdout.read(5) == b"ready"
    child.send_signal(signal.SIGHUP)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err.decode()
    assert b"opportunit" in out or b"opportunit" in err  # the scan ran to the end



CORE_CHILD = """
import resource, sys
from orion_cli.cli.entry import main
sys.argv = ["orion", *sys.argv[1:]]
try:
    main()
finally:
    sys.stderr.write("limit=%d,%d" % resource.getrlimit(resource.RLIMIT_CORE))
"""


def _allow_core_dumps() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


@pytest.mark.parametrize("args", [["--version"], ["config", "show", "--json"]])
def test_orion_makes_no_core_dump_that_could_hold_a_secret(isolated_home: Path, args: list[str]) -> None:
    """Found in review: a crash (or `kill -QUIT`) with core dumps allowed wrote orion's memory to disk: the
    master password, a decrypted vault, a wallet key. The soft limit is 0 from the first line of main."""
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    if hard == 0:
        pytest.skip("this machine's hard core-size limit is already 0: nothing to show")
    child = subprocess.run([sys.executable, "-c", CORE_CHILD, *args], capture_output=True,
                           preexec_fn=_allow_core_dumps, timeout=60)
    assert child.returncode == 0, child.stderr.decode()
    assert child.stderr.decode().endswith(f"limit=0,{hard}")


@pytest.mark.parametrize("args", [["--help"], ["config", "--help"], ["config", "show", "--format", "table"]])
def test_a_terminal_size_that_is_not_plain_ascii_digits_is_ignored(isolated_home: Path, args: list[str]) -> None:
    """Rich and shutil read $COLUMNS and $LINES with isdigit() and int(): "٣٠" and "３０" were taken as
    30 columns, "1_00" as 100, and "²" (a digit to isdigit(), not to int()) was an internal error on
    every help screen and table. A size that is not plain ASCII digits is ignored, as "abc" is."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update({"ORION_HOME": str(isolated_home), "NO_COLOR": "1"})

    def run(**size: str) -> tuple[int, str, str]:
        done = subprocess.run([sys.executable, "-m", "orion_cli", *args], capture_output=True, text=True,
                              env={**env, **size}, timeout=60)
        return done.returncode, done.stdout, done.stderr

    unset = run()
    assert unset[0] == 0, unset[2]
    for size in ("²", "٣٠", "３０", "1_00", " 80"):
        assert run(COLUMNS=size, LINES=size) == unset, size
