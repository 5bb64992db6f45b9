"""A real orion process on a pseudo-terminal, answering its prompts in order: what a trader at a terminal does.

stdin and stdout are the terminal (so orion may prompt); the answers are typed, each once its prompt's text
has appeared, and everything the terminal showed is returned with the exit code.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from collections.abc import Mapping, Sequence


def run_on_pty(argv: Sequence[str], answers: Sequence[tuple[str, str | signal.Signals]], env: Mapping[str, str], *,
               timeout: float = 60.0, enter: bool = True, mark: bool = True,
               before: list[str] | None = None) -> tuple[int, str]:
    """Run ``argv`` on a new pty, typing each ``(prompt, answer)``'s answer and Enter (unless ``enter`` is
    false: keys such as Ctrl-C alone) when its prompt shows (an answer that is a signal is sent to the child
    instead: a `kill` while it waits). ``before``, when given, gets what the terminal showed when each prompt
    appeared.

    (exit code, the transcript, each answered prompt replaced by ``<answered>`` unless ``mark`` is false). The
    child is killed, and :class:`TimeoutError` raised, when it has not ended within ``timeout`` seconds."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        try:
            os.execve(argv[0], list(argv), {"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1",
                                            "COLUMNS": "200", "LINES": "50", **env})
        finally:
            os._exit(127)
    transcript = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise TimeoutError(f"no end within {timeout}s; the terminal showed:\n"
                                   f"{transcript.decode('utf-8', 'replace')[-3000:]}")
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                transcript += chunk
                if b"\x1b[6n" in chunk:  # prompt_toolkit asks where the cursor is
                    os.write(fd, b"\x1b[1;1R")
            if pending and pending[0][0].encode() in transcript:
                prompt, answer = pending.pop(0)
                if before is not None:
                    before.append(transcript.decode("utf-8", "replace"))
                if mark:
                    transcript = transcript.replace(prompt.encode(), b"<answered>", 1)
                time.sleep(0.2)
                if isinstance(answer, signal.Signals):
                    os.kill(pid, answer)
                else:
                    os.write(fd, answer.encode() + (b"\r" if enter else b""))
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), transcript.decode("utf-8", "replace")
