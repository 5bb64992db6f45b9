"""Running a command whose stdout's reader is already gone: every write to it fails (EPIPE)."""

from __future__ import annotations

import os
import subprocess


def run_into_closed_pipe(argv: list[str], env: dict[str, str], *, stderr_too: bool = False,
                         timeout: float = 60) -> tuple[int, str]:
    """(exit code, stderr) of ``argv`` with stdout (and with ``stderr_too`` stderr) on a pipe whose
    read end is closed before it starts."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=write_end,
                              stderr=write_end if stderr_too else subprocess.PIPE, env=env, text=True,
                              timeout=timeout)
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr or ""
