"""What is committed: no database files or lock files left behind by a manual run.

A stray ``orion --db x ...`` once committed an empty ledger (``x``) and its migration lock at the
repository root; nothing else would have noticed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SQLITE_MAGIC = b"SQLite format 3\x00"


def _tracked() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (or git missing): nothing to inspect")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / p for p in out.decode().split("\0") if p]


def test_no_database_or_lock_file_is_committed() -> None:
    stray = []
    for path in _tracked():
        if path.suffix in (".db", ".sqlite", ".sqlite3") or path.name.endswith((".db-wal", ".db-shm", ".migrate.lock")):
            stray.append(path)
        elif path.is_file():
            with path.open("rb") as fh:
                if fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC:
                    stray.append(path)
    assert not stray, f"committed database/lock files: {[str(p.relative_to(ROOT)) for p in stray]}"
