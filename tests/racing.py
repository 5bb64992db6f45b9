"""Spawned worker processes that race from one start line (the cross-process limit suites).

Each worker is the test module itself, re-run with ``runpy`` in a *spawn* child under the name
``__orion_worker__`` and a ``WORKER_ARGS`` dict, so nothing but the database (and the simulators)
is shared. A worker imports, opens what it needs, calls :func:`wait_for_start`, races, and writes
its JSON result to ``WORKER_ARGS["out"]``. The parent starts them all, waits until every one is
ready, then opens the start line — otherwise a slow spawn under load would start after the others
finished and the run would prove nothing about concurrency.
"""

from __future__ import annotations

import json
import multiprocessing
import runpy
import sys
import time
from pathlib import Path
from typing import Any

WORKER = "__orion_worker__"


def wait_for_start(args: dict[str, Any], timeout: float = 60.0) -> None:
    """In a worker: report ready, then block until the parent opens the start line."""
    Path(args["out"] + ".ready").touch()
    deadline = time.monotonic() + timeout
    while not Path(args["go"]).exists():
        if time.monotonic() > deadline:
            sys.exit("never told to go")
        time.sleep(0.005)


def race(script: str, common: dict[str, Any], tmp_path: Path, procs: int, timeout: float) -> list[dict[str, Any]]:
    """In the parent: run ``procs`` workers of ``script`` from one start line; their results, in order."""
    ctx = multiprocessing.get_context("spawn")
    go = tmp_path / "go"
    outs = [tmp_path / f"out-{w}.json" for w in range(procs)]
    started = []
    for w in range(procs):
        args = {**common, "go": str(go), "worker": w, "out": str(outs[w])}
        p = ctx.Process(target=runpy.run_path, args=(script,),
                        kwargs={"init_globals": {"WORKER_ARGS": args}, "run_name": WORKER})
        p.start()
        started.append(p)
    try:
        deadline = time.monotonic() + timeout
        while not all(Path(f"{o}.ready").exists() for o in outs) and time.monotonic() < deadline:
            time.sleep(0.02)
        go.touch()
        for p in started:
            p.join(timeout=timeout)
            assert p.exitcode == 0, f"worker exited with {p.exitcode}"
    finally:
        for p in started:
            if p.is_alive():
                p.kill()
    return [json.loads(o.read_text()) for o in outs]
