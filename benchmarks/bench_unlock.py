"""Unlock cost of the vault at the production KDF parameters (what each password guess costs).

Usage: .venv/bin/python benchmarks/bench_unlock.py [--runs N]
Prints one JSON object. The floor we want: >= 100 ms per guess for an attacker on this machine,
<= 1.5 s for the user.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from orion_cli.secrets.store import open_store
from orion_cli.secrets.unlock import MasterPassword
from orion_cli.secrets.vault import DEFAULT_KDF, Vault


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    password = "benchmark master password"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault.json"
        store = open_store("vault", vault_path=path, password=lambda new: MasterPassword(password, "bench"))
        store.set_many({"polymarket_private_key": "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"})
        vault = Vault(path)
        unlock_s, open_s = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            key = vault.unlock(password)
            t1 = time.perf_counter()
            vault.load(key)
            t2 = time.perf_counter()
            key.wipe()
            unlock_s.append(t1 - t0)
            open_s.append(t2 - t0)
        wrong_s = []
        for _ in range(max(3, args.runs // 3)):
            t0 = time.perf_counter()
            try:
                vault.unlock("wrong guess")
            except Exception:
                pass
            wrong_s.append(time.perf_counter() - t0)

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    t0 = time.perf_counter()
    PBKDF2HMAC(hashes.SHA256(), 32, b"0" * 16, 600_000).derive(b"x")
    pbkdf2 = time.perf_counter() - t0

    ms = lambda xs: round(statistics.median(xs) * 1000, 1)  # noqa: E731
    print(json.dumps({
        "type": "bench_unlock",
        "kdf": {**DEFAULT_KDF.as_json(), "memory_mib": 128 * DEFAULT_KDF.n * DEFAULT_KDF.r // (1 << 20)},
        "cipher": "AES-256-GCM",
        "runs": args.runs,
        "unlock_ms_median": ms(unlock_s),
        "unlock_ms_min": round(min(unlock_s) * 1000, 1),
        "unlock_ms_max": round(max(unlock_s) * 1000, 1),
        "unlock_and_decrypt_ms_median": ms(open_s),
        "wrong_password_ms_median": ms(wrong_s),
        "attacker_floor_ms": 100,
        "user_ceiling_ms": 1500,
        "within_bounds": 100 <= ms(unlock_s) <= 1500,
        "for_comparison_pbkdf2_sha256_600k_ms": round(pbkdf2 * 1000, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }, indent=2))


if __name__ == "__main__":
    main()
