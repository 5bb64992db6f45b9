"""What a new ledger costs: built at HEAD in one transaction (store/fresh.py) against replaying every migration.

Usage: .venv/bin/python benchmarks/bench_new_ledger.py [--runs N]
Prints one JSON object. In one warm process (imports done, one ledger of each kind made first), each run
makes a new SQLite ledger in a temp dir on the working disk both ways, alternated: ``open_database`` on a
new file (what every first command does) and Alembic's upgrade from the empty database (what it did
before). A third figure is the first new ledger of a fresh interpreter, which also pays the imports:
``python -c`` timed from outside, median of a few runs.
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


def first_in_a_process(directory: Path, runs: int) -> float:
    times = []
    for i in range(runs):
        code = f"from orion_cli.store.db import open_database; open_database('sqlite:///{directory}/p{i}.db').dispose()"
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
        cold = first_in_a_process(d, 5)
    print(json.dumps({
        "benchmark": "new_ledger", "backend": "sqlite", "runs": args.runs, "unit": "ms",
        "one_step_median": round(statistics.median(made) * 1000, 1),
        "replayed_migrations_median": round(statistics.median(replayed) * 1000, 1),
        "first_in_a_fresh_interpreter_median_incl_start": round(cold * 1000, 1),
    }))


if __name__ == "__main__":
    main()
