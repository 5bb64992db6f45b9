"""The run locks beside a SQLite ledger (core/runlock.py) when root runs orion on another user's ledger."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from orion_cli.core.runlock import RunLock
from orion_cli.execution.keylock import execution_lock
from orion_cli.store.db import open_database

SERVICE_UID = SERVICE_GID = 65534  # nobody: a user that is not root, present on every Linux

pytestmark = pytest.mark.skipif(os.name == "nt" or os.geteuid() != 0,
                                reason="needs root: root's runs on a service user's ledger")


@pytest.fixture
def service_home() -> Iterator[Path]:
    """A directory of the service user's, reachable by it (the test's tmp_path is root's alone)."""
    home = Path(tempfile.mkdtemp(prefix="orion-service-", dir="/tmp"))
    try:
        home.chmod(0o755)
        os.chown(home, SERVICE_UID, SERVICE_GID)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _as_service_user(ledger: Path) -> str:
    """Take the reconcile lock and an execution key's lock as the service user, in a child process;
    what refused them, or "" when both were taken."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        status = 1
        try:
            os.close(read)
            os.setgid(SERVICE_GID)
            os.setuid(SERVICE_UID)
            db = open_database(f"sqlite:///{ledger}", create=False)
            try:
                with RunLock(db, "reconcile"), execution_lock(db, "op-service"):
                    pass
            finally:
                db.dispose()
            status = 0
        except BaseException as exc:  # reported to the parent, whatever it was
            os.write(write, f"{type(exc).__name__}: {exc} / {getattr(exc, 'hint', '')}".encode())
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        said = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    assert (os.waitstatus_to_exitcode(status) == 0) == (said == ""), said
    return said


def test_roots_runs_on_a_service_users_ledger_leave_it_usable_by_that_user(service_home: Path) -> None:
    """Found in a review of the files on disk: root's one `orion --db /srv/orion.db reconcile` (or
    trade) left ``….reconcile.lock`` and the ``….locks`` directory root's, and the service user's cron
    reconcile and every trade then failed on them (exit 3), told to free space. What root makes beside
    the ledger now belongs to the ledger's owner, and a ledger root makes in the user's directory too."""
    ledger = service_home / "orion.db"
    db = open_database(f"sqlite:///{ledger}")  # root makes the service user's ledger
    try:
        with RunLock(db, "reconcile"), execution_lock(db, "op-root"):
            pass
    finally:
        db.dispose()
    made = [ledger, Path(f"{ledger}.migrate.lock"), Path(f"{ledger}.reconcile.lock"), Path(f"{ledger}.locks"),
            *Path(f"{ledger}.locks").iterdir()]
    assert len(made) == 5 and {p.name: (p.stat().st_uid, p.stat().st_gid) for p in made} == {
        p.name: (SERVICE_UID, SERVICE_GID) for p in made}
    assert _as_service_user(ledger) == ""


def test_a_lock_another_user_left_is_said_with_its_owner(service_home: Path) -> None:
    """A lock directory an older orion, run as root, left root's: the refusal names its owner and the
    fix, not "free space"."""
    ledger = service_home / "orion.db"
    open_database(f"sqlite:///{ledger}").dispose()
    locks = Path(f"{ledger}.locks")
    locks.mkdir(mode=0o700)  # root's, as before owners were matched
    said = _as_service_user(ledger)
    assert f"{locks} belongs to root, not to this user" in said and f"chown --reference={ledger}" in said, said
    assert "free space" not in said
