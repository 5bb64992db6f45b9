"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temp dir, loopback only.

Why not the system cluster on 5432: tests must not depend on (or damage) a server someone else
manages, and CI has none. The cluster trades durability for speed (fsync off) since it is deleted
when the session ends.

As root, initdb refuses to run, so the binaries run as ``postgres`` through ``runuser`` in a temp
dir chowned to that user; otherwise they run directly as the current user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

USER = "orion"
_BINARIES = ("initdb", "pg_ctl", "postgres")


def find_bindir() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres: newest /usr/lib/postgresql/*/bin, else PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if all((bindir / b).is_file() and os.access(bindir / b, os.X_OK) for b in _BINARIES):
            return bindir
    found = [shutil.which(b) for b in _BINARIES]
    if all(found):
        return Path(str(found[0])).parent
    return None


def missing_reason() -> str | None:
    """Why a cluster cannot be started here, or ``None`` when it can."""
    if find_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in /usr/lib/postgresql/*/bin "
            "or on PATH; install e.g. `apt-get install postgresql` to run the PostgreSQL variants"
        )
    if _is_root() and (shutil.which("runuser") is None or not _postgres_user_exists()):
        return "running as root needs `runuser` and a `postgres` user to start PostgreSQL (initdb refuses root)"
    return None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _postgres_user_exists() -> bool:
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    base: Path
    port: int
    _created: list[str] = field(default_factory=list)
    _counter: int = 0

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname=dbname, autocommit=True)

    def create_database(self, prefix: str = "t", *, template: str | None = None) -> str:
        """A fresh database, empty or a copy of ``template`` (a database's name: nobody may be connected
        to it); returns its SQLAlchemy URL."""
        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}"
        with self.connect() as conn:
            # FILE_COPY (PostgreSQL 15+) is several times faster than the default WAL_LOG for tiny databases.
            strategy = " STRATEGY = FILE_COPY" if conn.info.server_version >= 150000 else ""
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{copy}{strategy}')
        self._created.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(Exception), self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if _is_root():
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def start(attempts: int = 3, *, durable: bool = False) -> PgServer:
    """initdb a new cluster in a temp dir and start it on a free loopback port (socket in the same dir).

    ``durable=True`` keeps PostgreSQL's own fsync / synchronous_commit defaults (the benchmarks compare
    against a durable commit); tests use the fast, non-durable settings.
    """
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    bindir = find_bindir()
    assert bindir is not None
    # Directly under the system temp dir: pytest's own tmp dirs are 0700 root, untraversable by postgres.
    base = Path(tempfile.mkdtemp(prefix="orion-pg-"))
    if _is_root():
        shutil.chown(base, "postgres", "postgres")
    server = PgServer(bindir, base, 0)
    try:
        init = server._run(
            "initdb", "-D", str(server.data_dir), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync",
            "--locale=C", check=False, timeout=120,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip()[-500:]}")
        last_error = ""
        for _ in range(attempts):
            server.port = free_port()
            speed = "" if durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            opts = f"-c listen_addresses=127.0.0.1 -p {server.port} -k {base} {speed}-c max_connections=200"
            started = server._run(
                "pg_ctl", "-D", str(server.data_dir), "-o", opts, "-l", str(base / "server.log"), "-w", "-t", "60",
                "start", check=False, timeout=90,
            )
            if started.returncode == 0 and _wait_ready(server):
                return server
            log = base / "server.log"
            last_error = log.read_text(errors="replace")[-800:] if log.exists() else started.stderr
        raise RuntimeError(f"pg_ctl start failed after {attempts} attempts: {last_error.strip()}")
    except BaseException:
        server.stop()
        raise


def _wait_ready(server: PgServer, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with server.connect() as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:
            time.sleep(0.1)
    return False
