"""Wall time of a whole ``orion scan --demo --jsonl``, as a user (or cron) pays it.

Usage: .venv/bin/python benchmarks/bench_scan.py [--runs N]
Prints one JSON object. Each run is a fresh process of the installed ``orion`` script in a throwaway
ORION_HOME (after one warm-up run that creates and migrates the ledger, so the runs measure a scan,
not ``orion init``). ``python -c pass`` is timed the same way in the same run, so the figure can be
read against the interpreter's own start-up on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def orion_script() -> Path:
    for candidate in (ROOT / ".venv" / "bin" / "orion", Path(sys.executable).parent / "orion"):
        if candidate.exists():
            return candidate
    raise SystemExit("orion is not installed in .venv (pip install -e .)")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    return time.perf_counter() - t0, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command (median reported)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be ≥ 1")
    orion = orion_script()
    python = orion.parent / "python"
    with tempfile.TemporaryDirectory(prefix="orion-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORION")}
        env.update({"ORION_HOME": home, "NO_COLOR": "1"})
        scan_cmd = [str(orion), "scan", "--demo", "--jsonl"]
        _, warm = timed(scan_cmd, env)
        if warm.returncode != 0:
            raise SystemExit(f"warm-up scan failed (exit {warm.returncode}): {warm.stderr.decode()[-400:]}")
        scan_s: list[float] = []
        opportunities = 0
        for _ in range(args.runs):
            seconds, proc = timed(scan_cmd, env)
            if proc.returncode != 0:
                raise SystemExit(f"scan failed (exit {proc.returncode}): {proc.stderr.decode()[-400:]}")
            scan_s.append(seconds)
            opportunities = len(proc.stdout.splitlines())
        pass_s = [timed([str(python), "-c", "pass"], env)[0] for _ in range(args.runs)]

    def ms(xs: list[float]) -> float:
        return round(statistics.median(xs) * 1000, 1)

    print(json.dumps({
        "benchmark": "scan_demo_jsonl_end_to_end",
        "command": "orion scan --demo --jsonl",
        "runs": args.runs,
        "scan_median_ms": ms(scan_s),
        "scan_min_ms": round(min(scan_s) * 1000, 1),
        "scan_max_ms": round(max(scan_s) * 1000, 1),
        "python_pass_median_ms": ms(pass_s),
        "scan_minus_python_ms": round(ms(scan_s) - ms(pass_s), 1),
        "opportunities": opportunities,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
