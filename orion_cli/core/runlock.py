"""One run at a time: the overlap lock for scheduled commands (``orion reconcile`` under cron/systemd).

Two reconciles at once would look up the same unknown orders and adopt the same drifts twice, and
a slow run overlapping the next cron tick is ordinary, so the second run must notice, say who holds
the lock, and exit at once (exit 6, reason ``LOCKED``) rather than queue behind it:

* **SQLite** — a non-blocking ``flock`` (``filelock``) on ``<database>.<name>.lock`` next to the
  database file (the default database lives in the data dir). The kernel drops the lock when the
  holder dies, so a crashed run never leaves a stale lock behind. Who holds it is written to a
  sibling ``….lock.json`` (pid, host, user, command, since) for the refusal message.
* **PostgreSQL** — a *session* advisory lock (``pg_try_advisory_lock``) on a connection held for the
  whole run, so runs on *different hosts* sharing the ledger also never overlap; the server drops
  it when the session ends (crash, network loss). The holder is named through
  ``pg_stat_activity.application_name``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from orion_cli.core.errors import Refused, StorageError
from orion_cli.core.paths import make_private_dirs, owned_like
from orion_cli.store.audit import default_actor, iso_utc
from orion_cli.store.db import PG_WRITE_LOCK, Database, pg_lock_key, pg_scope

__all__ = ["RunLock", "RunLocked", "advisory_key"]


class RunLocked(Refused):
    """Another run of the same command holds the lock (exit 6)."""

    reason = "LOCKED"


def advisory_key(name: str, scope: str = "") -> int:
    """A stable 63-bit PostgreSQL advisory key per lock name, distinct from the write lock's, and per
    ledger schema (``scope``, "" for ``public``: :func:`~orion_cli.store.db.pg_lock_key`)."""
    key = (PG_WRITE_LOCK << 24) | (zlib.crc32(name.encode("utf-8")) & 0xFFFFFF)
    return pg_lock_key(f"run:{name}", scope, key if key != PG_WRITE_LOCK else key + 1)


def _lock_ids(key: int) -> dict[str, int]:
    """A 64-bit advisory key as ``pg_locks`` shows it: ``classid`` its high half, ``objid`` its low one."""
    return {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF}


def _describe(holder: Mapping[str, Any] | None) -> str:
    if not holder:
        return "another process (holder unknown)"
    parts = [f"pid {holder.get('pid', '?')}"]
    if holder.get("host"):
        parts.append(f"on {holder['host']}")
    if holder.get("user"):
        parts.append(f"user {holder['user']}")
    if holder.get("since"):
        parts.append(f"since {holder['since']}")
    return ", ".join(str(p) for p in parts)


def _lock_hint(lock: Path, ledger: Path) -> str:
    """What to do about a lock file that cannot be made or opened: another user's (root's, left by a run
    before owners were matched) is named with its owner; otherwise space or the directory's permission."""
    if os.name == "nt":  # no owners to name (nor pwd to name them with)
        return "free space, or make the directory writable"
    import pwd

    for path in (lock, lock.parent):
        try:
            uid = path.stat().st_uid
        except OSError:
            continue
        if uid != os.geteuid():
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            return (f"{path} belongs to {name}, not to this user: run orion as the ledger's owner, or give it "
                    f"the ledger's owner (chown --reference={ledger} {path})")
        break
    return "free space, or make the directory writable"


class RunLock:
    """``with RunLock(db, "reconcile"):`` — raises :class:`RunLocked` at once when already held."""

    def __init__(self, db: Database, name: str, *, actor: Mapping[str, Any] | None = None,
                 label: str | None = None) -> None:
        self.db = db
        self.name = name
        # What the lock's messages call the run holding it ("another orion LABEL is running"): the
        # command, where ``name`` is an internal one (an execution key's ``locks/exec-<digest>``).
        self.label = label or name
        self.holder: dict[str, Any] = {**(dict(actor) if actor else default_actor(name)),
                                       "since": iso_utc(datetime.now(UTC))}
        self._file_lock: Any = None
        self._conn: Connection | None = None
        self.path: Path | None = None
        self._ledger: Path | None = None
        if db.is_sqlite:
            # The file itself, not the path as typed: a trader's /data/ledger.db and cron's link to it are
            # one ledger, and two lock files would let both drive one execution (found in review).
            db_file = os.path.realpath(make_url(db.url).database or "")
            self.path = Path(f"{db_file}.{name}.lock")
            self._ledger = Path(db_file)

    @property
    def holder_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + ".json")

    # -- acquire / release ------------------------------------------------------------------

    def acquire(self, *, patience: float = 0.0) -> None:
        """Take the lock, or raise :class:`RunLocked`. ``patience``: seconds to keep trying, for a
        lock that others probe (an execution key: reconcile and trade take it for a moment to learn
        whether anyone drives that execution); a probe must not pass for a run in progress."""
        deadline = time.monotonic() + patience
        while True:
            try:
                if self.db.is_sqlite:
                    self._acquire_file()
                else:
                    self._acquire_advisory()
                return
            except RunLocked:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)

    def held(self) -> bool:
        """Whether this run still holds the lock. A PostgreSQL session lock ends with its session, which the
        server can end under a live run (``idle_session_timeout``, ``pg_terminate_backend``, a restart)
        without the run hearing of it; asked before anything the lock guards is done again."""
        if self._file_lock is not None:
            return bool(self._file_lock.is_locked)
        conn = self._conn
        if conn is None:
            return False
        key = advisory_key(self.name, pg_scope(conn.info))
        try:
            got = conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
                "AND classid = :hi AND objid = :lo AND objsubid = 1"),
                _lock_ids(key)).scalar()
            conn.commit()
        except DatabaseError:
            return False
        return bool(got)

    def release(self) -> None:
        if self._file_lock is not None:
            holder = self.holder_path
            if holder is not None:
                with contextlib.suppress(OSError):
                    holder.unlink()
            self._file_lock.release()
            self._file_lock = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                with contextlib.suppress(Exception):  # closing the session releases the lock anyway
                    key = advisory_key(self.name, pg_scope(conn.info))
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            finally:
                conn.close()

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    # -- SQLite: a file lock next to the database -------------------------------------------

    def _acquire_file(self) -> None:
        from filelock import FileLock, Timeout

        assert self.path is not None and self._ledger is not None
        lock = FileLock(str(self.path), timeout=0)
        try:
            make_private_dirs(self.path.parent, owner_like=self._ledger)
            lock.acquire(blocking=False)
        except Timeout:  # an OSError too: first
            raise RunLocked(
                f"another orion {self.label} is running ({_describe(self._read_holder())}); this run did nothing",
                hint=f"runs never overlap; the lock ({self.path}) is released when that run ends or dies",
            ) from None
        except OSError as exc:  # a full disk or quota, a directory not writable: named, nothing done
            raise StorageError(f"cannot create the lock {self.path}: {exc.strerror or exc}; this run did nothing",
                               hint=_lock_hint(self.path, self._ledger), reason="lock_unwritable") from None
        owned_like(self.path, self._ledger)
        self._file_lock = lock
        self._write_holder()

    def _read_holder(self) -> dict[str, Any] | None:
        path = self.holder_path
        if path is None:
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write_holder(self) -> None:
        path = self.holder_path
        if path is None:
            return
        with contextlib.suppress(OSError):
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(self.holder, fh, sort_keys=True)
                if self._ledger is not None:  # for its user's refusals to name root's run
                    owned_like(Path(tmp), self._ledger)
                Path(tmp).replace(path)
            except OSError:
                with contextlib.suppress(OSError):
                    Path(tmp).unlink()
                raise

    # -- PostgreSQL: a session advisory lock ------------------------------------------------

    def _label(self) -> str:
        h = self.holder
        return f"orion {self.label} pid {h.get('pid')} on {h.get('host')} user {h.get('user')}"[:63]

    def _acquire_advisory(self) -> None:
        try:
            conn = self.db.engine.connect()
        except DatabaseError as exc:  # the server gone: a storage error (exit 3), not an internal one
            raise self.db.failure(exc) from None
        key = advisory_key(self.name, pg_scope(conn.info))
        try:
            conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": self._label()})
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            if not got:
                who = conn.execute(text(
                    "SELECT a.application_name, a.client_addr::text, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1 LIMIT 1"),
                    _lock_ids(key)).first()
                conn.commit()
                if who is not None:
                    since = who[2].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if who[2] else "?"
                    where = f" from {who[1]}" if who[1] else ""
                    desc = f"{who[0] or 'a session'}{where}, since {since}"
                else:
                    desc = "another session (holder unknown)"
                raise RunLocked(
                    f"another orion {self.label} is running ({desc}); this run did nothing",
                    hint="runs never overlap, also across hosts sharing the PostgreSQL ledger; the lock is "
                         "released when that run's database session ends",
                )
        except DatabaseError as exc:
            conn.close()
            raise self.db.failure(exc) from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn
