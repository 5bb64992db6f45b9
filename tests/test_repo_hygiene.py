"""What is committed: no database files or lock files left behind by a manual run.

A stray ``orion --db x ...`` once committed an empty ledger (``x``) and its migration lock at the
repository root; nothing else would have noticed. A helper's shell log (``lc.err``) was committed there
too, later.
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


def test_without_orion_home_the_user_dirs_are_the_tests_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Found at the end of session 39: a test that unsets ORION_HOME (to see what the default dirs do) wrote
    config.toml into the real ~/.config/orion of whoever ran the suite. The user dirs are the test's own."""
    from orion_cli.core import paths

    monkeypatch.delenv("ORION_HOME")
    assert paths.config_dir().is_relative_to(tmp_path) and paths.data_dir().is_relative_to(tmp_path)


# The repository root holds these files only: anything else there is a leftover of a manual run.
ROOT_FILES = {".gitignore", "CHANGELOG.md", "LICENSE", "MANIFEST.in", "README.md", "config.toml.example",
              "pyproject.toml"}


def test_nothing_stray_is_committed_at_the_repository_root() -> None:
    stray = sorted(p.name for p in _tracked() if p.parent == ROOT and p.name not in ROOT_FILES)
    assert not stray, f"committed at the repository root: {stray} (a leftover? else add it to ROOT_FILES)"
