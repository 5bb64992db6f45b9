"""Opening the ledger: engines, serialised write transactions and automatic migrations.

Every state change in orion happens inside :meth:`Database.write`, a transaction that serialises
all orion processes sharing the database — ``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped
advisory lock on PostgreSQL. Checks and the writes they guard run in the same transaction, so eight
processes at once cannot exceed a limit that one process respects, and the audit chain never forks.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import shlex
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, String, create_engine, event, literal_column, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError

from orion_cli.core.config import LIBPQ_CONNINFO, SCHEME_TYPO, sqlite_file
from orion_cli.core.errors import StorageError
from orion_cli.core.paths import default_database_url, make_private_dirs, owned_like, sqlite_url
from orion_cli.core.redact import mask_url, scrub_url_secrets
from orion_cli.store.revision import HEAD_REVISION as HEAD_REVISION
from orion_cli.store.seen_head import HEAD_SET, SeenHead
from orion_cli.store.stored import CORRUPT_HINT, CORRUPT_MEANWHILE, SENTINEL_ADVICE, CorruptValue

SQLITE_MAGIC = b"SQLite format 3\x00"
# Arbitrary constant shared by every orion process: the PostgreSQL advisory lock key for writes (of a
# ledger in the schema ``public``; see :func:`pg_lock_key`).
PG_WRITE_LOCK = 0x4F52494F4E  # "ORION"
PG_MIGRATE_LOCK = PG_WRITE_LOCK + 1
# Set on a connection between the start of a PostgreSQL write transaction and its first statement.
PG_LOCK_PENDING = "orion.pg_write_lock_pending"
# A PostgreSQL connection's lock scope (kept with the pooled connection): the schema its ledger's tables
# are in, "" for ``public``.
PG_LOCK_SCOPE = "orion.pg_lock_scope"


def pg_lock_key(name: str, scope: str, unscoped: int) -> int:
    """The advisory lock key of lock ``name`` for a ledger in schema ``scope``.

    Why: advisory locks are per database, not per schema, so ledgers in two schemas of one database
    (``?options=-csearch_path%3D…``) shared every lock: one's writers waited on the other's, and its
    reconcile and execution keys were LOCKED by the other's runs. A ledger in ``public`` (``scope`` "")
    keeps ``unscoped``, the key every orion before used, so an older orion on the same ledger still
    serialises with this one; any other schema's key is a 63-bit hash of the schema and the name."""
    if not scope:
        return unscoped
    import hashlib

    digest = hashlib.sha256(f"orion\0{scope}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def display_url_of(conn: Connection) -> str:
    """The URL of the ledger ``conn`` is on, as messages show it (:attr:`Database.display_url`)."""
    return mask_url(conn.engine.url.render_as_string(hide_password=True))


def pg_scope(info: Any) -> str:
    """The lock scope of a connection (its ``info``), as :func:`_install_pg_write_lock` recorded it."""
    return str(info.get(PG_LOCK_SCOPE, ""))


def pg_write_lock_sql(info: Any) -> str:
    """The statement that takes the writers' lock of the ledger a connection (its ``info``) uses."""
    return f"SELECT pg_advisory_xact_lock({pg_lock_key('write', pg_scope(info), PG_WRITE_LOCK)})"


class Database:
    """One ledger. Create with :func:`open_database`; cheap to keep for a process's lifetime."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()
        # The breaker.reset_hour_utc the opener runs with: migration 0013 reads the trading days an older
        # ledger recorded as dates under it (None: the migration loads the settings itself).
        self.reset_hour_utc: int | None = None
        # A SQLite ledger's file as opened: its path and (device, inode) (see :meth:`_same_file`).
        self._pinned: tuple[Path, tuple[int, int]] | None = None
        # Where this machine keeps the newest audit event it saw committed here (store.seen_head); None:
        # not kept (a test's or a benchmark's ledger, unless given one).
        self.seen: SeenHead | None = None

    def pin_file(self, path: Path) -> None:
        """Remember which file ``path`` names now: every later transaction refuses another (:meth:`_same_file`)."""
        try:
            path = path.absolute()  # as SQLite opened it: a later chdir (or a removed working directory) moves nothing
            st = path.stat()
        except OSError:  # not there to pin (the opener fails on it anyway)
            return
        self._pinned = (path, (st.st_dev, st.st_ino))

    def _same_file(self) -> None:
        """Refuse to go on when the ledger's path no longer names the file this process opened.

        Why: a long-running process (a live ``trade --watch``) keeps its SQLite connections on the file
        it opened. Found in review: the file deleted (a cleanup job, a mistaken ``rm``), then a new ledger
        made at the path (``orion init``) and ``orion halt`` run on it: the watch read its kill switch in
        the deleted file, traded live again after the halt, and everything it recorded went with the file
        when it stopped. One ``stat`` of the path per transaction: a process never reads or writes a ledger
        the path no longer names (a write cannot record an order's intent there, so the order is not sent).
        """
        pinned = self._pinned
        if pinned is None:
            return
        path, identity = pinned
        try:
            st = path.stat()
            found: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            found = None
        if found == identity:
            return
        what = "removed" if found is None else "replaced by another file"
        lost = "is in the removed file" if found is None else "is in the file that was there, not in this one"
        raise StorageError(
            f"the ledger file {path} was {what} while this process had it open: nothing more is read or "
            f"written (what this process recorded {lost})",
            hint="restore the ledger file or point --db at the ledger to use; `orion reconcile --fix` there "
                 "adopts what the venues hold that it does not",
            reason="storage_replaced")

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    @property
    def sqlite_dir(self) -> Path | None:
        """The directory of a SQLite ledger file (where its journal and -wal/-shm files go)."""
        name = make_url(self.url).database if self.is_sqlite else None
        if not name or name == ":memory:":
            return None
        try:
            return Path(name).expanduser().resolve().parent
        except RuntimeError:  # a symbolic link loop: the directory as named (only messages use it)
            return (Path.cwd() / Path(name).expanduser()).parent

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A serialised read-write transaction; commits on success, rolls back on any exception."""
        info: dict[Any, Any] = {}
        try:
            with self.engine.connect() as conn:  # a new connection can fail too (a disk filled since)
                info = conn.info
                info.pop(FIRST_REFUSAL, None)
                conn.info["immediate"] = True
                if not self.is_sqlite:
                    # Taken with the transaction's first statement (see _install_pg_write_lock), so the
                    # lock costs no round trip of its own; a transaction that runs nothing needs none.
                    conn.info[PG_LOCK_PENDING] = True
                conn.info.pop(HEAD_SET, None)
                try:
                    with conn.begin():
                        self._same_file()  # once the write lock is held: no file can come in between
                        yield conn
                    anchored = conn.info.pop(HEAD_SET, None)
                    if anchored is not None and self.seen is not None:  # committed: this machine saw it
                        self.seen.advance(*anchored)
                finally:
                    conn.info.pop("immediate", None)
                    conn.info.pop(PG_LOCK_PENDING, None)
                    conn.info.pop(HEAD_SET, None)
        except DatabaseError as exc:
            raise self._failure(info, exc) from None
        except CorruptValue as exc:
            raise self.placed(exc) from None

    def placed(self, exc: CorruptValue) -> CorruptValue:
        """``exc`` naming this ledger and, when it came from a column's type (which knows no row), the
        damaged rows' keys: looked for afresh, outside the transaction it ended. A search that fails
        leaves them unnamed; it never hides the damage behind an error of its own."""
        if exc.where:
            return exc
        keys: list[dict[str, Any]] = []
        more = False
        if not exc.keys:
            with contextlib.suppress(Exception):
                keys, more = self._damaged_rows(exc.table, exc.column)
        return exc.placed(self.display_url, keys, more)

    def _damaged_rows(self, table_name: str, column_name: str, shown: int = 3) -> tuple[list[dict[str, Any]], bool]:
        from orion_cli.store.tables import Checked, metadata

        table = metadata.tables[table_name]
        column = table.c[column_name]
        kind = column.type
        if not isinstance(kind, Checked):
            return [], False
        names = [c.name for c in table.primary_key.columns]
        quote = self.engine.dialect.identifier_preparer.quote
        # The stored values as the driver gives them, past the column's own type (which would refuse them).
        # Every name is orion's own (its metadata), quoted: nothing of the input reaches the text.
        sql = f"SELECT {', '.join(map(quote, names))}, {quote(column.name)} FROM {quote(table.name)}"  # noqa: S608
        found: list[dict[str, Any]] = []
        with self.engine.connect() as conn, conn.begin():
            for row in conn.exec_driver_sql(sql):
                if kind.problem(row[-1], self.engine.dialect.name) is not None:
                    if len(found) == shown:
                        return found, True
                    found.append(dict(zip(names, row[:-1], strict=True)))
        return found, False

    def failure(self, exc: DatabaseError) -> Exception:
        """``exc``, met on a connection of this database's outside :meth:`read` and :meth:`write` (a run
        lock's own session), raised as they would raise it."""
        return self._failure({}, exc)

    def _failure(self, info: dict[Any, Any], exc: DatabaseError, *, writing: bool = True) -> Exception:
        """What a transaction's ``exc`` is raised as: the database failing as a :class:`StorageError`
        (exit 3); a statement's own error (an IntegrityError and the like) as itself, the caller's."""
        exc = _aborted_by(info, exc)
        if not is_storage_failure(exc):
            return exc
        return _storage_error(exc, self.display_url, self.sqlite_dir, self.url, writing=writing)

    @staticmethod
    def in_write(conn: Connection) -> bool:
        """Whether ``conn`` is inside :meth:`write`: its statements run under the lock that keeps other
        writers out (on PostgreSQL taken with the first of them)."""
        return bool(conn.info.get("immediate"))

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot transaction (never blocks writers on SQLite WAL)."""
        info: dict[Any, Any] = {}
        try:
            with self.engine.connect() as conn, conn.begin():
                info = conn.info
                info.pop(FIRST_REFUSAL, None)
                self._same_file()
                yield conn
        except DatabaseError as exc:
            raise self._failure(info, exc, writing=False) from None
        except CorruptValue as exc:
            raise self.placed(exc) from None

    def dispose(self) -> None:
        self.engine.dispose()


# Below this much free space a SQLite I/O error is taken for a full disk: SQLite reports a -shm file it
# cannot grow (WAL mode's first need, even to read) as "disk I/O error", not as SQLITE_FULL.
_NEARLY_FULL = 256 * 1024


def _disk_full(where: str, detail: str, directory: Path | None = None, *, writing: bool = True) -> StorageError | None:
    """SQLite's SQLITE_FULL ("database or disk is full"), PostgreSQL's "No space left on device", or
    an I/O error where the ledger's disk has no room left: said as a full disk, which freeing space
    cures, never as corruption (which might lead a trader to restore or delete a healthy ledger)."""
    said = "disk is full" in detail or "no space left" in detail.lower()
    if not said and directory is not None and "I/O error" in detail:
        try:
            said = shutil.disk_usage(directory).free < _NEARLY_FULL
        except OSError:
            said = False
    if not said:
        return None
    # A read needs room too (SQLite grows its -shm file even to read), as does opening the file: neither
    # wrote anything, so there was no transaction to roll back (said so to a reader of `audit verify`).
    kept = "the transaction was rolled back, so the ledger is as it was" if writing else \
        "nothing was written, so the ledger is as it was"
    return StorageError(f"the disk holding the database {where} is full: {detail}",
                        hint=f"free space on that disk and run the command again; {kept}", reason="storage_full")


# SQLite's primary result codes for a damaged file: SQLITE_CORRUPT ("database disk image is malformed")
# and SQLITE_NOTADB ("file is not a database"). pysqlite raises both as a plain DatabaseError, not an
# OperationalError.
_SQLITE_CORRUPT_CODES = frozenset({11, 26})


def is_corrupt(exc: SQLAlchemyError) -> bool:
    """Whether ``exc`` is SQLite saying the ledger file is damaged (pages that cannot be read as a
    database), as opposed to busy, full, unwritable or a constraint."""
    # By the result code (Python 3.11+), not the text: "malformed" is also SQLite's word for bad JSON,
    # and PostgreSQL's for a bad array literal.
    code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _SQLITE_CORRUPT_CODES


def table_missing(exc: SQLAlchemyError) -> bool:
    """Whether ``exc`` is PostgreSQL's "relation does not exist" (SQLSTATE 42P01): a table of a ledger at
    the current schema dropped. SQLite says "no such table" as an OperationalError, a storage error
    already; PostgreSQL's came out as an internal error (exit 1)."""
    return getattr(getattr(exc, "orig", exc), "sqlstate", None) == "42P01"


# PostgreSQL's SQLSTATEs for a ledger this connection may not write: insufficient_privilege (a role
# without INSERT/UPDATE/DELETE on orion's tables; psycopg raises it as a ProgrammingError) and
# read_only_sql_transaction (a read-only database or a hot standby, default_transaction_read_only;
# an InternalError). Neither is an OperationalError, so both surfaced as internal errors (exit 1).
PG_DENIED = "42501"
PG_READ_ONLY = "25006"
# SQLite's SQLITE_READONLY (primary result code 8): "attempt to write a readonly database".
_SQLITE_READONLY = 8


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(getattr(exc, "orig", exc), "sqlstate", None)
    return state if isinstance(state, str) else None


def not_writable(exc: BaseException) -> bool:
    """Whether ``exc`` is the database refusing this connection a write (or a read) of the ledger: a
    PostgreSQL role lacking a privilege, a read-only PostgreSQL database or standby, a read-only SQLite
    file. The ledger is fine; this process may not change it."""
    if _sqlstate(exc) in (PG_DENIED, PG_READ_ONLY):
        return True
    code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == _SQLITE_READONLY


# PostgreSQL's lock_not_available: a lock not granted within lock_timeout.
PG_LOCK_NOT_AVAILABLE = "55P03"
# PostgreSQL's in_failed_sql_transaction: a statement after one that failed in the same transaction.
PG_IN_FAILED = "25P02"
# Where a connection keeps the first refusal (:func:`not_writable`) its transaction met: a check that
# fails closed on any exception (the breaker recording its peak) swallowed it, and the transaction then
# failed on its next statement with "current transaction is aborted" (an internal error, exit 1).
FIRST_REFUSAL = "orion.first_refusal"


def remember_refusal(info: dict[Any, Any], exc: BaseException) -> None:
    """Keep ``exc`` in a connection's ``info`` when it is the database refusing a write and the first."""
    if isinstance(exc, SQLAlchemyError) and FIRST_REFUSAL not in info and not_writable(exc):
        info[FIRST_REFUSAL] = exc


def _aborted_by(info: dict[Any, Any], exc: DatabaseError) -> DatabaseError:
    """The refusal that aborted the transaction ``exc`` failed in, where ``exc`` says only that it was
    aborted (and one was swallowed); otherwise ``exc``."""
    first = info.pop(FIRST_REFUSAL, None)
    if _sqlstate(exc) == PG_IN_FAILED and isinstance(first, DatabaseError):
        return first
    return exc


def is_storage_failure(exc: SQLAlchemyError) -> bool:
    """Whether ``exc`` is the ledger's database failing (exit 3), not a statement's own error (an
    IntegrityError and the like, the caller's to handle)."""
    return isinstance(exc, OperationalError) or is_corrupt(exc) or table_missing(exc) or not_writable(exc)


def _not_writable_error(exc: SQLAlchemyError, display_url: str, detail: str) -> StorageError:
    if _sqlstate(exc) == PG_DENIED:
        return StorageError(
            f"the database {display_url} refused this role: {detail}",
            hint="orion's role needs SELECT, INSERT, UPDATE and DELETE on orion's tables "
                 "(CREATE on the schema, and owning them, to make or migrate them); GRANT them, or use their owner. "
                 f"Its transaction was rolled back{_CORRUPT_MEANWHILE}",
            reason="storage_denied",
        )
    pg = _sqlstate(exc) is not None
    return StorageError(
        f"the database {display_url} is read-only: {detail}",
        hint=("a read-only database or a standby (default_transaction_read_only, a failover?): point --db / "
              "database.url at the primary" if pg else
              "check the permissions of the file and its directory (a read-only mount?)")
        + f"; its transaction was rolled back{_CORRUPT_MEANWHILE}",
        reason="storage_readonly",
    )


# What still halts while a ledger cannot be used, as the store's hints say it to any command; `orion
# halt` says it for its own configuration instead (whether a sentinel file is configured, and where):
# :func:`without_sentinel_advice`.
_SENTINEL_ADVICE = SENTINEL_ADVICE
_CORRUPT_MEANWHILE = CORRUPT_MEANWHILE
_NEWER_MEANWHILE = f"; meanwhile {_SENTINEL_ADVICE}, database or not"


def without_sentinel_advice(hint: str) -> str:
    """A store's hint without its general word on the sentinel file."""
    return hint.replace(_CORRUPT_MEANWHILE, "").replace(_NEWER_MEANWHILE, "")


def corrupt_error(display_url: str, detail: str) -> StorageError:
    """A damaged ledger, said as such: what to do about it, and that orion will not paper over it."""
    return StorageError(
        f"the database {display_url} is damaged: {detail}",
        hint=CORRUPT_HINT,
        reason="storage_corrupt",
    )


def _detail(exc: BaseException, url: str) -> str:
    """The first line of a driver's error, any secret of ``url`` in it masked (:func:`scrub_url_secrets`)."""
    lines = str(getattr(exc, "orig", exc)).splitlines()
    return scrub_url_secrets(lines[0] if lines else type(exc).__name__, url)[:200]


def _storage_error(exc: SQLAlchemyError, display_url: str, directory: Path | None = None,
                   url: str = "", *, writing: bool = True) -> StorageError:
    detail = _detail(exc, url)
    full = _disk_full(display_url, detail, directory, writing=writing)
    if full is not None:
        return full
    if is_corrupt(exc):
        return corrupt_error(display_url, detail)
    if not_writable(exc):
        return _not_writable_error(exc, display_url, detail)
    if table_missing(exc) or detail.startswith("no such table"):
        if "orion_meta" in detail:
            return unmarked_error(display_url)
        return corrupt_error(display_url, f"a table of the ledger is missing ({detail})")
    if "locked" in detail or "busy" in detail or "lock timeout" in detail:
        return StorageError(
            f"database is busy: {detail} ({display_url})",
            hint="another orion process holds the write lock; raise database.busy_timeout_ms or retry",
            reason="storage_busy",
        )
    return StorageError(f"database error: {detail} ({display_url})", reason="storage")


def _unopenable(where: str, detail: str, directory: Path | None = None, *, writing: bool = True) -> StorageError:
    """SQLite would not open the ledger: a permission problem (a read-only mount, a directory where
    the -wal/-shm files cannot be made) said as such, not as corruption, which might lead a trader
    to restore or delete a healthy ledger. A full disk likewise (``writing``: as :func:`_disk_full`)."""
    full = _disk_full(where, detail, directory, writing=writing)
    if full is not None:
        return full
    if "locked" in detail or "busy" in detail:  # another process at it (a first open converting to WAL)
        return StorageError(f"database is busy: {detail} ({where})",
                            hint="another orion process holds the database; retry", reason="storage_busy")
    if any(word in detail for word in ("readonly", "read-only", "unable to open", "permission")):
        return StorageError(f"cannot open database {where} for writing: {detail}",
                            hint="check the permissions of the file and its directory (a read-only mount?); "
                                 "it has not been modified",
                            reason="storage_readonly")
    return StorageError(f"cannot open database {where}: {detail}",
                        hint="the file may be corrupt or not a database; it has not been modified",
                        reason="storage_corrupt")


def _drop_others_access(path: Path) -> None:
    """An existing ledger of this user's that its group or others may read (restored with ``cp``, made by
    hand) is made private, as a new one is, with its ``-wal`` and ``-shm``: they hold every position and fill.
    Only its group's and others' bits go (an archive, ``chmod a-w``, stays unwritable); another user's file,
    or one that cannot be changed, is left as it is."""
    if os.name == "nt":
        return
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            st = file.stat()
            if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
                file.chmod(stat.S_IMODE(st.st_mode) & 0o700)
        except OSError:  # not there (no WAL yet), a read-only mount: as it was
            continue


def _create_private_file(path: Path) -> None:
    """A new ledger's file made empty and 0600 before SQLite opens it (an empty file is a new database).

    SQLite gives the ``-wal`` and ``-shm`` it creates the database file's mode. A file it made itself was
    0644 under the usual umask until the upgrade's closing chmod, by when the creating process had its
    WAL, kept for its whole life: in a directory others may enter (``ORION_HOME``, ``--db``), any local
    user could rebuild the positions and fills from it (found in review). Where the file cannot be made
    here, SQLite fails to make it too and says why as it always did.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:  # there already (or a link), or not creatable: left to the open that follows
        return
    os.close(fd)
    owned_like(path, path.parent)  # root making a ledger in a service user's directory makes it theirs


def _check_sqlite_file(path: Path, unmarked_ok: bool = False, probe_uri: str | None = None) -> set[str]:
    """Refuse a file that is not orion's SQLite database *before* any connection can change it; the
    names of its tables (none for a missing or empty file). An orion ledger whose ``orion_meta`` was
    dropped is refused as damaged (:func:`unmarked_error`), unless ``unmarked_ok`` (``audit verify``,
    which reports it as a broken log).

    The probe opens the file read-only (no WAL switch, no journal), so a foreign or corrupt file is
    left byte-for-byte as it was; ``probe_uri``: as a reader opens it (:func:`read_only_uri`).
    """
    if not path.exists() or path.stat().st_size == 0:
        return set()
    try:
        with path.open("rb") as fh:
            magic = fh.read(16)
    except OSError as exc:
        raise StorageError(f"cannot read database file {path}: {exc.strerror}") from None
    if magic != SQLITE_MAGIC:
        raise StorageError(
            f"{path} is not a SQLite database; refusing to touch it",
            hint="point --db / database.url at an orion database or a new path",
            reason="storage_foreign",
        )
    import sqlite3

    try:
        probe = sqlite3.connect(probe_uri or f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            # Views too: a database holding only a view is not empty, and not orion's.
            names = {r[0] for r in probe.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        raise _unopenable(str(path), str(exc)[:200], path.resolve().parent, writing=False) from None
    if names and "orion_meta" not in names:
        if unmarked_ledger(names):
            if unmarked_ok:
                return names
            raise unmarked_error(str(path))
        raise StorageError(
            f"{path} holds tables or views that are not orion's; refusing to touch it",
            hint="point --db / database.url at an orion database or a new path",
            reason="storage_foreign",
        )
    return names


# SQLite's primary result code SQLITE_CANTOPEN (14; SQLITE_READONLY is 8): with SQLITE_READONLY_DIRECTORY
# (8 | 6 << 8) what a read-only connection to a WAL database says when it can neither open nor create
# the -shm file beside it (a read-only directory or mount).
_SQLITE_CANTOPEN = 14


def _wal_bytes(path: Path) -> int:
    """The size of the write-ahead log beside the SQLite file ``path`` (0: none, or empty); a log that
    cannot be looked at counts as holding something (-1)."""
    try:
        return Path(f"{path}-wal").stat().st_size
    except FileNotFoundError:
        return 0
    except OSError:
        return -1


def _archived(path: Path) -> bool:
    """Whether nobody writes the SQLite file ``path``: no write permission for anyone (``chmod 444``), or
    on a read-only file system. Such a file is read as immutable (no locks, no -shm file), which would
    be unsafe only for a file something else changes meanwhile."""
    try:
        if path.stat().st_mode & 0o222 == 0:
            return True
        import os

        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _unread_wal(path: Path, size: int) -> StorageError:
    held = f"holds {size} bytes" if size > 0 else "cannot be looked at, and may hold changes"
    return StorageError(
        f"the ledger {path} is read-only here and its write-ahead log {path}-wal {held} not yet checkpointed "
        "into it, which SQLite cannot read without a -shm file it can open or create beside them; nothing was "
        "read (the file alone would miss those changes)",
        hint="copy the file and its -wal together into a writable directory and run the command on the copy "
             "(`orion --db COPY audit verify`); to archive the ledger in one file, checkpoint a writable copy "
             "first (sqlite3 COPY 'PRAGMA wal_checkpoint(TRUNCATE)')",
        reason="storage_readonly",
    )


def read_only_uri(path: Path) -> str:
    """The SQLite URI a command that only reads opens the ledger file ``path`` with (``mode=ro``).

    Why: a reader opened the ledger as a writer does, so an archived ledger (``chmod 444``, a read-only
    directory or mount) could not be verified (exit 3, "cannot open database … for writing"), and in a
    writable directory the read made -wal and -shm files beside it. A WAL database read read-only needs
    its -shm file, made or opened beside it. A file nobody writes (:func:`_archived`: no write permission,
    or a read-only mount) is read as ``immutable=1``, which touches nothing beside it; never over a
    write-ahead log that holds something (immutable ignores the log, and so would miss what it holds).
    A file that may be written, where this process cannot make the -shm file (a monitoring user who
    may read the trader's directory but not write it), is refused, never read as immutable (review: a
    writer's commits tore its pages). Each refusal is exit 3, ``storage_readonly``, saying how to read it.
    """
    import sqlite3

    resolved = path.resolve()
    base = f"{resolved.as_uri()}?mode=ro"
    immutable = f"{base}&immutable=1"
    if not resolved.exists():
        return base
    import os

    if not os.access(resolved, os.R_OK):  # unreadable: the caller's probe says so (not the -shm file's fault)
        return base
    wal = _wal_bytes(resolved)
    if wal == 0 and _archived(resolved):
        return immutable
    try:
        probe = sqlite3.connect(base, uri=True, timeout=10)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if not isinstance(code, int) or code & 0xFF not in (_SQLITE_READONLY, _SQLITE_CANTOPEN):
            return base  # not a file it could not open read-only: the caller's probe says what it is
        if wal != 0:
            raise _unread_wal(resolved, wal) from None
        # Not immutable: the file may be written (it has write permission), only not by this process, which
        # cannot make the -shm file beside it. Read as unchanging while a writer commits, pages tear: a
        # verify said "chain broken, restore from a backup" of a healthy ledger, and `tail -f` saw nothing.
        raise _unshared_reader(resolved) from None
    return base


def _unshared_reader(path: Path) -> StorageError:
    return StorageError(
        f"the ledger {path} cannot be read read-only here: SQLite reads it beside a {path.name}-shm file, which "
        "this process may not open or make in that directory; and the file may be written (it has write "
        "permission), so it is not read as a file nobody changes; nothing was read",
        hint="run the command as a user who may write the ledger's directory, or on a copy; a ledger nobody "
             "writes any more (an archive) is read as it stands once no one may write it (chmod a-w FILE)",
        reason="storage_readonly",
    )


# Tables only orion's migrations make: with orion's schema revision table, a database holding one of
# them is an orion ledger, its marker table (orion_meta) gone or not.
_ORION_OWN_TABLES = frozenset({"audit_events", "halt_state"})


def unmarked_ledger(names: set[str]) -> bool:
    """Whether a database with these tables is an orion ledger whose ``orion_meta`` table was dropped.

    Why: it was refused as "tables that are not orion's" (exit 3, ``storage_foreign``), which misled, and
    ``audit verify`` exited 3 where a dropped ``audit_events`` exits 7: a monitor keyed on 7 missed it.
    ``orion_meta`` holds the audit log's head anchor, so the log is broken (found by a black-box run)."""
    return "orion_meta" not in names and "alembic_version" in names and bool(names & _ORION_OWN_TABLES)


def unmarked_error(where: str) -> StorageError:
    return StorageError(
        f"{where} is an orion ledger whose orion_meta table is missing: it was dropped, with the ledger's "
        "marker and the audit log's head anchor; refusing to use it",
        hint="stop every orion process using it and restore it from a backup (`orion audit verify` reports the "
             f"audit log); orion never repairs or recreates a ledger{_CORRUPT_MEANWHILE}",
        reason="storage_corrupt",
    )


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int, *, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE is ours to issue.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if read_only:
                # A reader's file (read_only_uri) is never switched or written: any write is refused as
                # SQLITE_READONLY (exit 3, storage_readonly), whatever this process may do to the file.
                cur.execute("PRAGMA query_only = ON")
            else:
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
            if not read_only:
                # FULL: a committed order intent survives power loss, not only a process crash.
                cur.execute("PRAGMA synchronous = FULL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")


def _install_pg_write_lock(engine: Engine) -> None:
    """Before the first statement of a :meth:`Database.write` transaction, take the writers' lock.

    On the same cursor, just ahead of that statement: every read of the transaction comes after
    the lock, so it sees everything the previous writer committed. (A prepared batch sends the
    lock at the head of its own text instead: ``store/prepared.py``.)
    """

    @event.listens_for(engine, "connect")
    def _scope(dbapi_conn: Any, record: Any) -> None:
        # The schema the ledger's tables are found (and made) in: the URL's options or the role's
        # search_path choose it, once per connection. NULL (no schema of the path exists) is public's.
        try:
            row = dbapi_conn.execute("SELECT current_schema()").fetchone()
        finally:
            dbapi_conn.rollback()
        schema = row[0] if row else None
        record.info[PG_LOCK_SCOPE] = "" if schema in (None, "public") else str(schema)

    @event.listens_for(engine, "before_cursor_execute")
    def _take_lock(conn: Connection, _cursor: Any, _statement: str, _parameters: Any, _context: Any,
                   _executemany: bool) -> None:
        if conn.info.pop(PG_LOCK_PENDING, False):
            try:
                # A plain cursor of its own: the statement's cursor may be a server-side one, which
                # would only DECLARE the lock query, never run it.
                driver: Any = conn.connection.driver_connection
                driver.execute(pg_write_lock_sql(conn.info))
            except BaseException:
                conn.info[PG_LOCK_PENDING] = True
                raise


# The opening of a libpq conninfo string ("host=db dbname=orion ..."): a keyword, then "=". Any keyword:
# libpq has dozens (target_session_attrs, sslrootcert, ...); a file so named can be written ./NAME.


def resolve_url(url: str | None) -> str:
    """An explicit URL, or the default SQLite file in the data dir; bare paths are accepted too."""
    if not url:
        return default_database_url()
    named = sqlite_file(url) if "://" in url else ("", url, "")
    if named is not None and named[1].endswith(("/", os.sep)):
        # Path() drops the slash: `--db /srv/orion/` made a ledger file named "orion" where a directory was meant.
        raise StorageError(f"the SQLite ledger {named[1]} ends in '/': it names a directory, not a ledger file",
                           hint=f"name the file in it, e.g. {named[1]}orion.db", reason="storage_url")
    if "://" not in url:
        if SCHEME_TYPO.match(url):  # "postgresql:/u@h/db": a URL with a slash missing, not a file
            raise StorageError("the database URL's scheme is not followed by '//'; give a URL or a file path",
                               hint="postgresql://USER@HOST:PORT/DBNAME, or a path (./NAME for one with ':')",
                               reason="storage_url")
        if LIBPQ_CONNINFO.match(url):
            # Taken for a file name, it would have opened a new, empty SQLite ledger in the working
            # directory: trades and the kill switch in a database nobody else reads.
            raise StorageError("a libpq key=value connection string is not accepted here; give a URL",
                               hint="for PostgreSQL: --db postgresql://USER@HOST:PORT/DBNAME (a file path: ./NAME)",
                               reason="storage_url")
        return sqlite_url(_resolved(Path(url).expanduser()))  # a path is a path: '?' and '%' taken literally
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the driver we ship; plain URLs would ask SQLAlchemy for psycopg2.
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    sqlite = sqlite_file(url)
    if sqlite is not None and sqlite[1].startswith("~"):
        # As for a bare path (and as the settings read it): SQLite itself would make a "~" directory
        # in the working directory, a ledger of that process's own.
        return f"{sqlite[0]}{Path(sqlite[1]).expanduser()}{sqlite[2]}"
    return url


def _resolved(path: Path) -> Path:
    """``path`` resolved; a symbolic link loop in it (Path.resolve raises RuntimeError on Python 3.11:
    exit 1, an internal error) is a ledger that cannot be opened there, exit 3."""
    try:
        return path.resolve()
    except RuntimeError:
        raise StorageError(f"cannot open a ledger at {path}: a symbolic link in its path loops",
                           hint="correct the path, or the symbolic link", reason="storage_missing") from None


def open_database(url: str | None = None, *, busy_timeout_ms: int = 10000, migrate: bool = True,
                  create: bool = True, unmarked_ok: bool = False, read_only: bool = False,
                  reset_hour_utc: int | None = None) -> Database:
    """Open (creating and migrating if needed) the ledger at ``url``.

    ``create=False`` refuses a ledger that does not exist yet (a missing or empty SQLite file, a
    PostgreSQL database without orion's tables): for the kill switch, a mistyped URL must not halt a
    new, empty ledger that nothing trades against and report success. ``unmarked_ok`` opens a ledger
    at the current schema whose ``orion_meta`` was dropped (:func:`unmarked_ledger`), for ``audit
    verify`` to report; it is otherwise refused.

    ``read_only`` (a command that only reads, with ``create=False``): a SQLite file is opened read-only
    (:func:`read_only_uri`), so an archived ledger (a read-only file, directory or mount) can be read
    and nothing is written to or beside it. One at an older schema is migrated only where this process
    may write the file and its directory and it is not archived; otherwise it is refused
    (:class:`UnmigratedLedger`). Not a PostgreSQL matter: a ledger at the current schema is only read
    there, which a SELECT-only role may do.

    ``reset_hour_utc``: the ``breaker.reset_hour_utc`` this process runs with, which migration 0013
    reads an older ledger's trading days under (they were recorded as dates); without it the migration
    loads the settings itself.
    """
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except Exception:
        raise StorageError(f"invalid database URL: {mask_url(resolved)[:80]!r}", reason="storage_url") from None
    backend = _supported_backend(parsed.drivername, mask_url(resolved))
    if backend == "sqlite":
        db_path = parsed.database
        if not db_path or db_path == ":memory:":
            raise StorageError("in-memory SQLite cannot be shared between processes; use a file path")
        path = Path(db_path)
        _refuse_uri_mode(parsed, mask_url(resolved))
        # The URL itself first (query arguments the driver does not take; making the engine opens
        # nothing): a ledger found missing would otherwise be told to `orion init` with a URL that
        # init refuses too, the user sent round twice.
        engine = _sqlite_engine(resolved, busy_timeout_ms)
        read_only = read_only and not create
        try:
            # Asked before any connection: one would switch even an empty SQLite file to WAL.
            if url:  # named (--db, ORION__DATABASE__URL, database.url): its directory is never created
                _check_named_directory(path.parent, mask_url(resolved))
            probe_uri = _probe_uri(path) if read_only else None
            if not _check_sqlite_file(path, unmarked_ok, probe_uri) and not create:
                raise _missing(mask_url(resolved))
            if probe_uri is not None:
                engine.dispose()
                engine = _sqlite_engine(resolved, busy_timeout_ms, probe_uri)
            else:
                try:
                    make_private_dirs(path.parent)  # the data dir, made on first use
                except OSError as exc:
                    raise StorageError(f"cannot create {path.parent}: {exc.strerror}") from None
                if create:
                    _create_private_file(path)
                _drop_others_access(path)
        except BaseException:
            engine.dispose()
            raise
        _install_sqlite_pragmas(engine, busy_timeout_ms, read_only=read_only)
    elif backend == "postgresql":
        _check_pg_userinfo(resolved, parsed)
        engine = create_engine(
            resolved,
            pool_pre_ping=True,
            # READ COMMITTED whatever the database's or role's default says: every write transaction takes its
            # advisory lock with its first statement, and under REPEATABLE READ (or SERIALIZABLE) that first
            # statement also fixed the snapshot, before the wait. A writer let in after another then read the
            # audit chain (and every check) as it was before that one committed: the same seq again, refused by
            # the primary key, exit 1 (found in review, `ALTER DATABASE … SET default_transaction_isolation`).
            isolation_level="READ COMMITTED",
            # prepare_threshold=None: psycopg's own automatic statement preparing stays off. Its
            # rollback() answers a rollback with DEALLOCATE ALL once it has prepared anything, which
            # also drops the statements the order path prepares itself (store/prepared.py).
            connect_args={**pg_connect_args(dict(parsed.query), busy_timeout_ms), "prepare_threshold": None},
        )
        _install_pg_write_lock(engine)
        event.listen(engine, "handle_error", _remember_refusal)
    db = Database(engine, resolved)
    db.reset_hour_utc = reset_hour_utc
    if backend == "sqlite":
        db.pin_file(path)
    if migrate:
        try:
            _ensure_schema_patiently(db, create=create, busy_timeout_ms=busy_timeout_ms,
                                     may_migrate=not (read_only and backend == "sqlite"))
        except UnmigratedLedger:
            engine.dispose()
            if not _may_write(Path(make_url(resolved).database or "")):
                raise
            # A reader of a ledger it may write, as every command did: migrated to this orion's schema.
            return open_database(url, busy_timeout_ms=busy_timeout_ms, migrate=migrate, create=create,
                                 unmarked_ok=unmarked_ok, reset_hour_utc=reset_hour_utc)
        except BaseException:
            # The caller never gets the engine: a connection it pooled (PostgreSQL: connected, then refused
            # a privilege) must be closed here, not left to the garbage collector (a ResourceWarning).
            engine.dispose()
            raise
    return db


def _probe_uri(path: Path) -> str | None:
    """:func:`read_only_uri` of an existing file; None for a missing one (refused as missing after)."""
    try:
        return read_only_uri(path) if path.exists() else None
    except RuntimeError:  # a symbolic link loop: left to the checks that say so
        return None


def _may_write(path: Path) -> bool:
    """Whether this process may migrate the SQLite file ``path``: the file and its directory writable to
    it, and the file not archived (:func:`_archived`; root may write a ``chmod 444`` file)."""
    import os

    try:
        return not _archived(path) and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    except OSError:
        return False


PG_CONNECT_TIMEOUT_S = 10  # unless the URL says otherwise (?connect_timeout=N)


def pg_connect_args(query: dict[str, Any], busy_timeout_ms: int) -> dict[str, Any]:
    """The connection arguments orion adds to a PostgreSQL URL's own, merged with them, never over them.

    Why: they replaced the URL's. ``?options=-csearch_path%3Dapp_a`` was dropped (the ledger's tables went
    to ``public``, and two ledgers meant for two schemas were one), and ``?connect_timeout=2`` waited 10 s.
    Now the URL's ``connect_timeout`` is kept (10 s without one), and its ``options`` are kept with
    orion's ``-c lock_timeout=`` (database.busy_timeout_ms) after them; an ``options`` that sets
    ``lock_timeout`` itself keeps its own, as the more specific setting.
    """
    args: dict[str, Any] = {}
    if "connect_timeout" not in query:
        args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    given = query.get("options")
    if isinstance(given, (tuple, list)):  # ?options=…&options=…: psycopg would take one; orion takes all
        given = " ".join(given)
    given = (given or "").strip()
    if not re.search(r"\block_timeout\s*=", given):
        given = f"{given} -c lock_timeout={int(busy_timeout_ms)}".strip()
    args["options"] = given
    return args


def _check_pg_userinfo(url: str, parsed: Any) -> None:
    """Refuse (exit 3, ``storage_url``) a PostgreSQL URL whose password holds an unescaped "@", before any
    connection.

    Why: the driver ends the password at the first "@", so the rest of it became part of the host (or of
    the database name) and went to the resolver and into the driver's error, printed on stderr, in the
    JSON error record and in the log file (``failed to resolve host '2024Secret@127.0.0.1'``), while
    orion's own masking hid everything up to the last "@". The rule: more than one "@" before the URL's
    query, or an "@" in the host or database name the driver would use. A database name holding "@" is
    written ``%40`` too."""
    before_query = url.partition("://")[2].partition("?")[0]
    if before_query.count("@") <= 1 and "@" not in (parsed.host or "") and "@" not in (parsed.database or ""):
        return
    raise StorageError(
        f"the database URL {mask_url(url)} holds more than one '@' before its host: the driver would end "
        "the password at the first one and take the rest of it for the host; nothing was opened",
        hint="percent-encode each '@' in the password as %40 (and each '%' as %25) in the URL from --db, "
             "ORION__DATABASE__URL or database.url",
        reason="storage_url",
    )


# The drivers orion ships, by backend (``postgresql://`` is made ``postgresql+psycopg://`` by resolve_url).
SUPPORTED_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("psycopg",)}
SUPPORTED_URL_FORMS = ("postgresql://USER:PASSWORD@HOST:PORT/DBNAME (psycopg 3; also written postgresql+psycopg://)",
                       "sqlite:////ABSOLUTE/PATH.db", "a SQLite file's path")


def _supported_backend(drivername: str, display_url: str) -> str:
    """``sqlite`` or ``postgresql``, or exit 3 for a backend or driver orion does not ship.

    Asked before any engine is made: SQLAlchemy imports a URL's driver only then, and one not installed
    (``postgresql+psycopg2://``, ``sqlite+aiosqlite://``) surfaced as an internal error (exit 1), or an
    async driver as a confusing one later. The URL is shown masked (it may hold a password)."""
    backend, _, driver = drivername.partition("+")
    if backend not in SUPPORTED_DRIVERS:
        problem = f"the database backend {backend!r} is not supported"
    elif driver not in SUPPORTED_DRIVERS[backend]:
        problem = f"the {backend} driver {driver!r} is not one orion ships or supports"
    else:
        return backend
    raise StorageError(
        f"database.url {display_url}: {problem}; orion supports " + "; ".join(SUPPORTED_URL_FORMS),
        hint="set database.url (or --db, ORION__DATABASE__URL) to one of those forms; nothing was opened",
        reason="storage_url",
    )


def _refuse_uri_mode(parsed: Any, display_url: str) -> None:
    """Refuse (exit 3, ``storage_url``) a SQLite URL with ``?uri=…``, before anything is opened.

    Why: the driver takes ``uri=true`` and then hands SQLite the path with the URL's other arguments as
    its file name, so ``sqlite:///…/q.db?mode=memory&uri=true`` made a file literally named
    ``q.db?mode=memory``, a ledger no other process opens, left 0644 (orion made private the ``q.db`` the
    URL names, which it never wrote), where ``?mode=ro`` alone is refused (:func:`_sqlite_engine`)."""
    if "uri" not in parsed.query:
        return
    raise StorageError(
        f"{display_url}: the SQLite driver's query argument 'uri' is not taken (it would open a file named by the "
        "path and the URL's other arguments, not the one the URL names); nothing was opened",
        hint="give --db the ledger's path (a file whose name has '?' or '%': its path, or %3F and %25 in a URL); "
             "orion opens SQLite ledgers itself (read-only for the commands that only read) and sets the busy "
             "timeout (database.busy_timeout_ms)",
        reason="storage_url",
    )


def _sqlite_engine(url: str, busy_timeout_ms: int, read_only_uri: str | None = None) -> Engine:
    """The engine of a SQLite URL; query arguments the driver does not take are refused (exit 3).

    SQLAlchemy ignores them with a warning printed raw on stderr (``SAWarning: Query string
    argument(s) 'mode' are not accepted …``), and the ledger then opens as if they were not there: a
    ``?mode=ro`` would be written to. Most often the ``?`` was meant as part of a file name, which a
    path given as a path is (see :func:`~orion_cli.core.paths.sqlite_url`).

    ``read_only_uri``: connections open that SQLite URI (:func:`read_only_uri`) instead; the engine keeps
    ``url`` for everything else.
    """
    import sqlite3
    import warnings

    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", SAWarning)
        try:
            if read_only_uri is None:
                return create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})
            uri = read_only_uri
            # check_same_thread: as SQLAlchemy sets it for a file's pooled connections (a creator gets none).
            return create_engine(url, creator=lambda: sqlite3.connect(
                uri, uri=True, timeout=busy_timeout_ms / 1000, check_same_thread=False))
        except SAWarning as exc:
            named = re.search(r"argument\(s\) (.+?) are not accepted", str(exc))
            raise StorageError(
                f"{mask_url(url)}: the SQLite driver does not take the query argument(s) "
                f"{named.group(1) if named else 'of this URL'}; nothing was opened",
                hint="a file whose name has '?' or '%': give --db its path (or write them %3F and %25 in a URL); "
                     "orion sets the busy timeout itself (database.busy_timeout_ms)",
                reason="storage_url",
            ) from None


def _ensure_schema_patiently(db: Database, *, create: bool, busy_timeout_ms: int, may_migrate: bool = True) -> None:
    """``ensure_schema``, tried again while SQLite answers "database is locked", up to the busy timeout.

    Processes starting together on a new SQLite file race to switch it to WAL; that switch needs the
    file to itself, and the loser is told "locked" at once, whatever the busy timeout (seen in CI:
    four openers, one refused). Waiting a moment and opening again is what an operator would do.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.02
    while True:
        try:
            ensure_schema(db, create=create, may_migrate=may_migrate)
            return
        except StorageError as exc:
            if not db.is_sqlite or exc.reason != "storage_busy" or isinstance(exc, UpgradingElsewhere) \
                    or time.monotonic() + pause > deadline:
                raise
        db.engine.dispose()  # a connection whose WAL switch failed is not reused
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


class MissingLedgerDirectory(StorageError):
    """``storage_missing`` that creating the ledger would not cure: its named directory is missing.

    A command that opens the ledger only if it exists (``AppContext.db_if_exists``) must still refuse
    this one at once: the ledger its change would create can never be made there."""

    reason = "storage_missing"


def _check_named_directory(directory: Path, display_url: str) -> None:
    """Refuse (exit 3, reason ``storage_missing``) a SQLite ledger named explicitly in a directory that
    does not exist, rather than create the directory and a new, empty ledger in it.

    Why: every process must use the same ledger, and so the same kill switch. A typo in --db,
    ORION__DATABASE__URL or database.url (`/srv/orino/ledger.db`) made its directories and gave that
    process a ledger of its own, whose kill switch no other process sees. Only the default data dir
    (ORION_HOME, or the platform's) is created on first use. A directory that cannot be looked at
    (permissions) is left to the open, which says so."""
    loop = False
    try:
        is_dir = stat.S_ISDIR(directory.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        is_dir = None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            return
        # A symbolic link loop: no directory there (the open then failed as an internal error).
        is_dir, loop = False, True
    if is_dir:
        return
    what = ("is a symbolic link loop" if loop else "is not a directory") if is_dir is False else "does not exist"
    raise MissingLedgerDirectory(f"no orion ledger at {display_url}: its directory {directory} {what}, and a ledger "
                       "named by --db, ORION__DATABASE__URL or database.url is never created in one",
                       hint=(f"create the directory first (mkdir -p {shlex.quote(str(directory))}) if the path is "
                             "right, or " if is_dir is None else "")
                       + "correct the path: every process must use the same ledger, and so the same kill switch",
                       reason="storage_missing")


def _missing(display_url: str) -> StorageError:
    return StorageError(f"no orion ledger at {display_url}: nothing trades against it",
                        hint="check --db, ORION__DATABASE__URL, database.url or ORION_HOME "
                             "(`orion init` creates a new ledger)",
                        reason="storage_missing")


class UnmigratedLedger(StorageError):
    """A ledger opened read-only (a reader of a read-only SQLite file) whose schema is older than this
    orion's: a read-only open never migrates it, and this orion reads only its own schema."""

    reason = "storage_readonly"


def _unmigrated(display_url: str, rev: str | None) -> UnmigratedLedger:
    at = f"schema revision {rev!r}" if rev else "a schema without a revision"
    return UnmigratedLedger(
        f"{display_url} is at {at}, older than this orion's ({HEAD_REVISION}), and is read-only here: it is "
        "not migrated (nothing was changed), and this orion reads only a ledger at its own schema",
        hint="copy the file into a writable directory and run the command on the copy (`orion --db COPY audit "
             "verify`), which migrates the copy and leaves the archive as it is; or read it with the orion that "
             "wrote it",
        reason="storage_readonly",
    )


@functools.cache
def _known_revisions() -> frozenset[str]:
    """The schema revisions this build's migrations name (``NNNN_*.py``; a test holds them to Alembic's)."""
    versions = Path(__file__).parent / "migrations" / "versions"
    return frozenset(p.name[:4] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))


def usable_revision(rev: str | None, compatible_from: str | None) -> bool:
    """Whether this orion may use, as it is, a ledger at schema revision ``rev`` whose ``compatible_from``
    (:data:`COMPATIBLE_FROM_KEY`) is the one given: its own revision, or a newer one that a revision it
    knows can still use (a newer orion's migration that only added, as an index)."""
    return rev == HEAD_REVISION or (rev is not None and rev not in _known_revisions()
                                    and compatible_from in _known_revisions())


def _newer(display_url: str, rev: str) -> StorageError:
    # Alembic's own answer ("Can't locate revision") surfaced as an internal error, and stopped even
    # `orion halt`: a ledger migrated by a newer orion (the package rolled back) is named for what it is.
    return StorageError(
        f"{display_url} is at schema revision {rev[:32]!r}, which this orion does not know (it knows up to "
        f"{HEAD_REVISION}): a newer orion wrote it; nothing was changed",
        hint="run the orion that wrote it (upgrade this one), or point --db / database.url at another ledger"
             f"{_NEWER_MEANWHILE}",
        reason="storage_newer",
    )


def upgraded_since_opened(display_url: str, rev: str | None) -> StorageError:
    """A ledger a newer orion upgraded while this process ran (it checked the revision when it opened it).
    Found in review: an older `trade --watch` traded on, sent a leg, and failed to record its fill in a
    table the upgrade had changed, leaving the pair one-legged; the order path now asks first. (A revision
    this orion knows, older than its own, is a copy put back under it, said as that.)"""
    if rev in _known_revisions():
        return StorageError(
            f"{display_url} is now at schema revision {rev!r}, older than this orion's ({HEAD_REVISION}) that it "
            "was opened at: a copy of the ledger was put back while this orion ran; nothing was sent",
            hint="stop this orion and start it again: it upgrades the ledger as it opens it",
            reason="storage_newer")
    return StorageError(
        f"{display_url} was upgraded to schema revision {str(rev)[:32]!r} by another orion since this one opened "
        f"it (at {HEAD_REVISION}); nothing was sent",
        hint="stop this orion and run the command again with the orion that upgraded the ledger (stop every "
             f"orion sharing a ledger before upgrading one of them){_NEWER_MEANWHILE}",
        reason="storage_newer",
    )


# Where a ledger says the oldest schema revision whose orion may still use it (``orion_meta``): a
# migration that only adds (an index an older orion never asks for) leaves it; one an older orion would
# misread or fail to write (a column it would leave empty) sets it to its own revision. So an orion whose
# ledger another upgraded (a rolling upgrade of hosts sharing PostgreSQL) keeps its kill switch and its
# trading where the change allows, and is refused where it does not. COMPATIBLE_FROM: what a ledger at
# HEAD_REVISION says (0014 added an index only; 0013 changed what a trading day's rows hold).
COMPATIBLE_FROM_KEY = "compatible_from"
COMPATIBLE_FROM = "0013"

# The ledger's schema revision and its compatible_from, as columns beside others (the order path's
# single-value reads: a running process learns of an upgrade under it).
SCHEMA_REVISION = (select(literal_column("version_num", String)).select_from(text("alembic_version"))
                   .scalar_subquery().label("schema_revision"))
SCHEMA_COMPATIBLE_FROM = (select(literal_column("value", String)).select_from(text("orion_meta"))
                          .where(text(f"key = '{COMPATIBLE_FROM_KEY}'"))  # a constant: no value bound
                          .scalar_subquery().label("compatible_from"))


def _compatible_from(conn: Connection) -> str | None:
    try:
        row = conn.execute(select(SCHEMA_COMPATIBLE_FROM)).first()
    except (OperationalError, DatabaseError):
        return None
    return None if row is None or row[0] is None else str(row[0])


def current_revision(conn: Connection) -> str | None:
    try:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except (OperationalError, DatabaseError):
        return None
    return str(row[0]) if row else None


def _table_names(conn: Connection) -> set[str]:
    """The names of the relations of the database's default schema that a table could clash with: tables
    and views on SQLite; on PostgreSQL every relation but indexes (tables, views, materialized views,
    foreign tables, sequences, composite types).

    Why not tables alone: a database holding only a view named like one of orion's tables was found empty,
    and the new ledger's ``CREATE TABLE`` then failed on the name, refused as "may be corrupt"
    (``storage_corrupt``) where the database is foreign; one of another name had orion's tables made
    beside it. orion makes none of these but tables.
    """
    if conn.dialect.name == "postgresql":
        return set(conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind NOT IN ('i', 'I')")).scalars())
    from sqlalchemy import inspect

    inspector = inspect(conn)
    return set(inspector.get_table_names()) | set(inspector.get_view_names())


def ensure_schema(db: Database, *, create: bool = True, may_migrate: bool = True) -> None:
    """Bring the schema to HEAD, once, safely when several processes start together (``create``: also
    into a database that holds no orion ledger yet). Without ``may_migrate`` (a ledger opened read-only)
    a ledger not at HEAD is refused (:class:`UnmigratedLedger`), after the same checks, never migrated."""
    try:
        with db.engine.connect() as conn:
            with conn.begin():
                rev = current_revision(conn)
            if rev == HEAD_REVISION:
                return
            if rev is not None and rev not in _known_revisions():
                with conn.begin():
                    compatible_from = _compatible_from(conn)
                if usable_revision(rev, compatible_from):
                    return  # a newer orion's upgrade this one can use as it is (it is left at its revision)
                raise _newer(db.display_url, rev)
            with conn.begin():
                tables = _table_names(conn)
            if unmarked_ledger(tables):  # not migrated: its migrations need orion_meta
                raise unmarked_error(db.display_url)
            if tables and "orion_meta" not in tables:
                raise StorageError(
                    f"{db.display_url} holds tables or views that are not orion's; refusing to touch it",
                    hint="point --db / database.url at an orion database or a new path",
                    reason="storage_foreign",
                )
            if not create and not tables:
                raise _missing(db.display_url)
            if not may_migrate:
                raise _unmigrated(db.display_url, rev)
        _migrate(db)
    except StorageError:
        raise
    except (OperationalError, DatabaseError) as raised:
        exc = _first_failure(raised)
        detail = _detail(exc, db.url)
        # Connected, but this role may not create or migrate it (pg_open_error names the privilege), or
        # the database is read-only (a standby).
        if not db.is_sqlite and (_sqlstate(exc) == PG_DENIED or not not_writable(exc)):
            raise pg_open_error(exc, db.display_url, detail, make_url(db.url)) from None
        if not_writable(exc):
            raise _not_writable_error(exc, db.display_url, detail) from None
        raise _unopenable(db.display_url, detail, db.sqlite_dir, writing=may_migrate) from None


def _first_failure(exc: DatabaseError) -> DatabaseError:
    """The first database error of those ``exc`` was raised while handling: the cause. Found in review:
    a full disk during an upgrade's table rebuild rolled it back, Alembic's clean-up then failed to drop
    the table the rollback had removed, and that "no such table" was said as a corrupt ledger."""
    first, seen = exc, {id(exc)}
    earlier = exc.__context__
    while earlier is not None and id(earlier) not in seen:
        seen.add(id(earlier))
        if isinstance(earlier, DatabaseError):
            first = earlier
        earlier = earlier.__context__
    return first


def _remember_refusal(context: Any) -> None:
    """The engine's ``handle_error`` hook: see :data:`FIRST_REFUSAL`."""
    if context.connection is not None and context.sqlalchemy_exception is not None:
        remember_refusal(context.connection.info, context.sqlalchemy_exception)


_URL_SOURCES = "the URL from --db, ORION__DATABASE__URL or database.url"
_AUTH_SAID = ("password authentication failed", "no password supplied", "authentication failed",
              "no pg_hba.conf entry", "role \"", "fe_sendauth")
# libpq's words for SSL failures (a bare "ssl" would match a host named ssl-db.internal).
_SSL_SAID = ("support ssl", "ssl was required", "ssl connection", "ssl error", "ssl syscall", "ssl negotiation",
             "sslmode", "certificate", "root cert")


def pg_open_error(exc: BaseException, display_url: str, detail: str, url: Any) -> StorageError:
    """Why a PostgreSQL ledger could not be opened, with the hint and reason for that cause.

    Why: every failure said "is the PostgreSQL server running and reachable?" (reason
    ``storage_unreachable``), also a wrong password, a missing database, ``sslmode=require`` against a
    server without SSL and "permission denied for schema public" after connecting. The cause is read
    from the SQLSTATE where the server sent one, else from libpq's message; no hint quotes the URL (its
    password would be masked, so it could not be pasted), and ``detail`` has the URL's secrets masked."""
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None) or ""
    said = detail.lower()
    user, database = url.username or "the URL's user", url.database or "the URL's database"
    if state == "42501" or "permission denied" in said:
        what = "orion's tables" if "schema" in said else "the ledger"
        return StorageError(
            f"the database user may not use {what} in {display_url}: {detail}",
            hint=f"connected as {user}, which lacks a privilege: to create the ledger (`orion init`, or the first "
                 f"command on a new database) it needs CREATE on the schema (GRANT CREATE ON SCHEMA public TO "
                 f"{user}, or a schema it owns), then USAGE on the schema and SELECT, INSERT, UPDATE, DELETE on "
                 f"orion's tables; or use the user that created them ({_URL_SOURCES})",
            reason="storage_denied")
    if state == "3D000" or re.search(r'\bdatabase ".*" does not exist', said):
        return StorageError(
            f"cannot open {display_url}: {detail}",
            hint=f"the PostgreSQL server has no database {database}: create it (createdb -O {user} {database}) "
                 f"or correct the database name in {_URL_SOURCES}; orion creates its tables, not the database",
            reason="storage_no_database")
    if state == "3F000" or "no schema has been selected" in said:
        return StorageError(
            f"no schema to create the ledger in at {display_url}: {detail}",
            hint=f"none of the schemas of the search_path exists: create the schema (CREATE SCHEMA NAME "
                 f"AUTHORIZATION {user}) or correct options=-csearch_path in {_URL_SOURCES}",
            reason="storage_no_schema")
    if state.startswith("28") or any(s in said for s in _AUTH_SAID):
        return StorageError(
            f"the PostgreSQL server refused the login to {display_url}: {detail}",
            hint=f"check the user and password in {_URL_SOURCES} (a password holding '@' or '%' is written with %40 "
                 "and %25), and the server's pg_hba.conf for this host and user",
            reason="storage_auth")
    if any(s in said for s in _SSL_SAID):
        return StorageError(
            f"cannot connect to database {display_url} over SSL: {detail}",
            hint=f"the URL's sslmode asks for SSL the server does not give (or a certificate it cannot verify): "
                 f"enable SSL on the server, or set sslmode (and sslrootcert) in {_URL_SOURCES} to what it offers",
            reason="storage_ssl")
    if state and not state.startswith("08"):  # the server answered: connected, but a statement failed
        return StorageError(f"database error opening {display_url}: {detail}", reason="storage")
    return StorageError(
        f"cannot connect to database {display_url}: {detail}",
        hint=f"is the PostgreSQL server running and reachable? check the host and port in {_URL_SOURCES}",
        reason="storage_unreachable")


def alembic_upgrade(conn: Connection, reset_hour_utc: int | None, revision: str = "head") -> None:
    """Alembic's upgrade of the database on ``conn`` to ``revision``, one migration at a time: how a ledger at
    an older revision is migrated (a new one is made in one step: store/fresh.py). The tests and
    benchmarks/bench_new_ledger.py replay it from an empty database to compare the two."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    # A transaction open on ``conn`` is the caller's, and holds every step (Alembic begins none of its own).
    cfg.attributes["connection"] = conn
    cfg.attributes["reset_hour_utc"] = reset_hour_utc
    command.upgrade(cfg, revision)


# How long a process waits for another's creation or upgrade of the ledger before it gives up (exit 3).
MIGRATE_PATIENCE_S = 60


class UpgradingElsewhere(StorageError):
    """``storage_busy`` after waiting for another process's upgrade: not waited for again (a SQLite opener
    retries a busy answer up to database.busy_timeout_ms, which made the 60 s up to 11 minutes)."""


def _upgrading_elsewhere(where: str) -> StorageError:
    """Waited :data:`MIGRATE_PATIENCE_S` for another process making or upgrading the ledger. Found in review:
    said as an invalid ``database.url`` (a file lock's timeout) or as a bare lock timeout."""
    return UpgradingElsewhere(
        f"another orion process has been creating or upgrading the database {where} for over "
        f"{MIGRATE_PATIENCE_S} s",
        hint="an upgrade of a large ledger can take minutes: wait for it to finish, then run the command again",
        reason="storage_busy")


def _migrate(db: Database) -> None:
    if not db.is_sqlite:
        _migrate_locked(db)
        return
    from filelock import FileLock, Timeout

    # The file itself, as the run locks name it: two paths to one ledger (a symbolic link) are one lock.
    ledger = os.path.realpath(make_url(db.url).database or "")
    lock = FileLock(ledger + ".migrate.lock", timeout=MIGRATE_PATIENCE_S)
    try:
        lock.acquire()
    except Timeout:
        raise _upgrading_elsewhere(db.display_url) from None
    owned_like(Path(lock.lock_file), Path(ledger))
    try:
        _migrate_locked(db)
    finally:
        lock.release()


def _migrate_locked(db: Database) -> None:
    """:func:`_migrate` once a SQLite ledger's file lock is held (PostgreSQL's advisory lock is taken here)."""
    with db.engine.connect() as conn:
        migrate_key = 0 if db.is_sqlite else pg_lock_key("migrate", pg_scope(conn.info), PG_MIGRATE_LOCK)
        if not db.is_sqlite:
            # As long as a SQLite opener waits (not database.busy_timeout_ms, meant for a write): the
            # session's lock outlives this transaction's setting.
            conn.execute(text(f"SET LOCAL lock_timeout = '{MIGRATE_PATIENCE_S}s'"))
            try:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": migrate_key})
            except OperationalError as exc:
                if _sqlstate(exc) == PG_LOCK_NOT_AVAILABLE:
                    conn.rollback()
                    raise _upgrading_elsewhere(db.display_url) from None
                raise
            conn.commit()
        try:
            # Looked at again under the lock: another process may have made or migrated it meanwhile.
            tables = _table_names(conn)
            rev = current_revision(conn) if "alembic_version" in tables else None
            if not tables:
                # A new ledger: built at HEAD in this one transaction, not by replaying every migration
                # (store/fresh.py).
                from orion_cli.store.fresh import create_at_head

                create_at_head(conn, HEAD_REVISION)
            elif rev is not None and (rev == HEAD_REVISION or rev not in _known_revisions()):
                # Done meanwhile (nothing to load Alembic for), or by a newer orion: used as it is where it may
                # be, else refused as any newer ledger is (Alembic would not know the revision).
                if not usable_revision(rev, _compatible_from(conn)):
                    raise _newer(db.display_url, rev)
            else:
                conn.commit()  # the check above took a transaction of its own
                # Every step in one transaction the caller holds, so an upgrade that fails (a full disk, a
                # kill) leaves the ledger at the revision it had: Alembic commits each step on SQLite
                # (its DDL counted as not transactional), which left a ledger part-migrated, that an
                # older orion then refused. On SQLite the writers' lock is taken at once (IMMEDIATE).
                conn.info["immediate"] = db.is_sqlite
                try:
                    conn.begin()
                    alembic_upgrade(conn, db.reset_hour_utc)
                finally:
                    conn.info.pop("immediate", None)
            conn.commit()
        except BaseException:
            conn.rollback()  # not committed with the unlock below: nothing of a failed build is kept
            raise
        finally:
            if not db.is_sqlite:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": migrate_key})
                conn.commit()
    if db.is_sqlite:
        db_file = make_url(db.url).database or ""
        with contextlib.suppress(OSError):
            Path(db_file).chmod(0o600)
