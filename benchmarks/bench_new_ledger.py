"""What a new ledger costs: built at HEAD in one transaction (store/fresh.py) against replaying every migration.

Usage: .venv/bin/python benchmarks/bench_new_ledger.py [--runs N]
Prints one JSON object. In one warm process (imports done, one ledger of each kind made first), each run
makes a new SQLite ledger in a temp dir on the working disk both ways, alternated: ``open_database`` on a
new file (what every first command does) and Alembic's upgrade from the empty database (what it did
before). Then the same two in a fresh interpreter each, which also pay their imports (Alembic's for the
replay): ``python -c`` timed from outside, the median of 5 runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orion_cli.store.db import open_database

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from store.replayed import replay_migrations  # tests/store/replayed.py, on the path just above


def first_in_a_process(directory: Path, runs: int, *, replayed: bool) -> float:
    """The median wall time of ``python -c`` making one new ledger, one way or the other."""
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    times = []
    for i in range(runs):
        url = f"sqlite:///{directory}/{'q' if replayed else 'p'}{i}.db"
        code = (f"import sys; sys.path.insert(0, {tests!r}); from store.replayed import replay_migrations; "
                f"replay_migrations({url!r})" if replayed else
                f"from orion_cli.store.db import open_database; open_database({url!r}).dispose()")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    made: list[float] = []
    replayed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="orion-bench-", dir=Path.cwd()) as tmp:
        d = Path(tmp)
        open_database(f"sqlite:///{d}/warm.db").dispose()
        replay_migrations(f"sqlite:///{d}/warm-replayed.db")
        for i in range(args.runs):
            t0 = time.perf_counter()
            open_database(f"sqlite:///{d}/m{i}.db").dispose()
            made.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            replay_migrations(f"sqlite:///{d}/r{i}.db")
            replayed.append(time.perf_counter() - t0)
        cold = first_in_a_process(d, 5, replayed=False)
        cold_replayed = first_in_a_process(d, 5, replayed=True)
    print(json.dumps({
        "benchmark": "new_ledger", "backend": "sqlite", "runs": args.runs, "unit": "ms",
        "one_step_median": round(statistics.median(made) * 1000, 1),
        "replayed_migrations_median": round(statistics.median(replayed) * 1000, 1),
        "fresh_interpreter_one_step_median": round(cold * 1000, 1),
        "fresh_interpreter_replayed_median": round(cold_replayed * 1000, 1),
    }))


if __name__ == "__main__":
    main()
