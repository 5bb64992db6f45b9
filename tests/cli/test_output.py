"""Output writes whole lines even when Ctrl-C arrives mid-write."""

from __future__ import annotations

import io
import os
import signal

import pytest

from orion_cli.cli.output import Output


class InterruptedMidWrite(io.StringIO):
    """A stdout whose write is hit by SIGINT halfway through, like a write blocked on a full pipe."""

    def write(self, text: str) -> int:
        half = len(text) // 2
        super().write(text[:half])
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # give the interpreter its chance to raise KeyboardInterrupt here
            pass
        return super().write(text[half:]) + half


def test_ctrl_c_during_a_streamed_line_lands_after_the_whole_line() -> None:
    sink = InterruptedMidWrite()
    out = Output("jsonl", stdout=sink, stderr=io.StringIO())
    with pytest.raises(KeyboardInterrupt):
        out.stream({"type": "audit_event", "seq": 47, "payload": {"detail": "trading is halted " * 20}}, [])
    assert sink.getvalue().endswith("}\n")
    assert sink.getvalue().count("\n") == 1


def test_lines_from_a_worker_thread_are_written_without_touching_the_signal_mask() -> None:
    import threading

    sink = io.StringIO()
    out = Output("jsonl", stdout=sink, stderr=io.StringIO())
    t = threading.Thread(target=out.stream, args=({"type": "x", "n": 1}, []))
    t.start()
    t.join()
    assert sink.getvalue() == '{"type":"x","n":1}\n'
