"""Orion CLI runs forked from one interpreter that has already imported orion, for suites that start many.

Why: the live end-to-end tests start about 140 ``orion`` processes, and each spent about 0.6 s of its
0.9 s importing orion and its libraries (SQLAlchemy, the Ethereum signing stack, httpx) before doing
anything: measured with an ``atexit`` timer in the run and ``python -X importtime``.

How: :func:`run` sends each run to a server (this file run as a program, one per test process, started
on first use). The server imported orion once, at the suite's cheap vault KDF (tests/cheap_kdf.py), and
forks one child per run. The child takes the run's standard input, output and error (passed over a Unix
socket), its arguments, environment and working directory, and then runs orion's entry point as
``python -m orion_cli`` does. It leaves the server's loop first, so it ends as any program ends: the
interpreter's own exit (atexit handlers, joins of threads, flushes), with orion's exit status, or the
signal that killed it. Each run is still its own process: its own exit code, standard streams, signals,
file descriptors and memory; nothing a run does reaches the next.

What a fork cannot give: a variable read when a module is imported has the server's value, not the run's.
So a run goes to a fresh interpreter (:data:`cheap_kdf.ORION_ARGV`, exactly as before) unless its
environment differs from the server's only in variables read at run time (:data:`RUN_TIME_VARIABLES`,
checked against orion's own import-time reads by tests/test_forked_orion.py). The test hooks
ORION_TEST_CRASH_AT and ORION_TEST_PAUSE_AT are read at import: those runs start afresh.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent

# Read by orion (and its libraries) only while it runs, never at import: a run may set them to its own values.
RUN_TIME_VARIABLES = frozenset({
    "ORION_HOME", "ORION_MASTER_PASSWORD_FILE", "NO_COLOR", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
    "PYTEST_CURRENT_TEST",
})
RUN_TIME_PREFIXES = ("ORION__",)  # the configuration layer (core/config.py), read by load_settings

# What the runs import, so that the children need not: the CLI, the ledger, both venues' trading clients
# with the signing stacks, execution, reconcile, scan and matching. What a run needs besides is imported
# by the run, as before.
PRELOAD = (
    "orion_cli.cli.entry", "orion_cli.cli.app", "orion_cli.cli.prompts", "orion_cli.store.ledger",
    "orion_cli.store.opportunities", "orion_cli.store.config_loaded", "orion_cli.store.low_balance",
    "orion_cli.execution.executor", "orion_cli.core.reconcile", "orion_cli.core.settlement", "orion_cli.core.scan",
    "orion_cli.core.alerts", "orion_cli.core.gate", "orion_cli.core.runlock", "orion_cli.venues.live",
    "orion_cli.venues.snapshot", "orion_cli.venues.kalshi.trading", "orion_cli.venues.polymarket.trading",
    "orion_cli.venues.polymarket.client", "orion_cli.risk.checks", "orion_cli.risk.breaker",
    "orion_cli.matching.pipeline",
    # the libraries they import when they first use them: the ledger's drivers, HTTP, the vault's cipher
    "sqlalchemy.dialects.sqlite.pysqlite", "sqlalchemy.dialects.postgresql.psycopg", "psycopg", "filelock",
    "httpcore", "h11", "h2.connection", "anyio._backends._asyncio", "certifi", "eth_keys.datatypes",
    "cryptography.hazmat.primitives.kdf.scrypt", "cryptography.hazmat.primitives.ciphers.aead", "_strptime",
)
_MESSAGE = 1 << 20


def forkable(env: Mapping[str, str], base: Mapping[str, str]) -> bool:
    """Whether a run with ``env`` may be forked from a server started with ``base``: they differ only in
    variables read at run time."""
    for name in env.keys() | base.keys():
        if env.get(name) != base.get(name) and name not in RUN_TIME_VARIABLES \
                and not name.startswith(RUN_TIME_PREFIXES):
            return False
    return True


class _Server:
    """The client side: the server process and the socket runs are sent over."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self.lock = threading.Lock()
        self.log = tempfile.TemporaryFile()  # what the server itself says (nothing, unless it fails)
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(theirs.fileno())],
                                     env=self.env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     pass_fds=(theirs.fileno(),), cwd=TESTS)
        theirs.close()
        ready = self._recv(ours, 120)
        if ready.get("ready") is not True:
            raise RuntimeError(f"the orion fork server did not start: {ready} {self._said()}")

    def _said(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-2000:]

    def _recv(self, sock: socket.socket, timeout: float) -> dict[str, Any]:
        sock.settimeout(timeout)
        try:
            data = sock.recv(_MESSAGE)
        except TimeoutError:
            return {"timeout": True}
        return json.loads(data) if data else {"closed": True}

    def run(self, args: Sequence[str], env: Mapping[str, str], cwd: str | None,
            timeout: float) -> subprocess.CompletedProcess[str]:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            request = json.dumps({"args": list(args), "env": dict(env), "cwd": cwd or os.getcwd()}).encode()
            with self.lock:
                socket.send_fds(self.sock, [request], [null, out_w, err_w, theirs.fileno()])
        finally:
            for fd in (null, out_w, err_w):
                os.close(fd)
            theirs.close()
        deadline = time.monotonic() + timeout
        try:
            started = self._recv(mine, timeout)
            pid = started.get("pid")
            if not isinstance(pid, int):
                raise RuntimeError(f"the orion fork server did not start the run: {started} {self._said()}")
            out, err = _read_both(out_r, err_r, deadline)
            ended = self._recv(mine, max(0.0, deadline - time.monotonic())) if out is not None else {"timeout": True}
            if "status" not in ended:
                os.kill(pid, signal.SIGKILL)
                self._recv(mine, 10)
                raise subprocess.TimeoutExpired([*args], timeout)
            return subprocess.CompletedProcess([*args], ended["status"], out, err)
        finally:
            mine.close()
            for fd in (out_r, err_r):
                os.close(fd)

    def stop(self) -> None:
        self.sock.close()  # the server reads the end of its socket and exits
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _read_both(out_fd: int, err_fd: int, deadline: float) -> tuple[str | None, str]:
    """Both streams to their end (None for the output if the deadline came first)."""
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    with selectors.DefaultSelector() as sel:
        for fd in (out_fd, err_fd):
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return None, ""
            for key, _events in sel.select(left):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    sel.unregister(key.fd)
    return (b"".join(chunks[out_fd]).decode("utf-8", "replace"),
            b"".join(chunks[err_fd]).decode("utf-8", "replace"))


_servers: dict[int, _Server] = {}


def run(args: Sequence[str], *, env: Mapping[str, str], timeout: float,
        cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """``orion ARGS`` as ``subprocess.run([*ORION_ARGV, *args], env=env, stdin=DEVNULL, capture_output=True,
    text=True, timeout=timeout)`` would run it: forked from the server where :func:`forkable`, else so."""
    from cheap_kdf import ORION_ARGV

    server = _servers.get(os.getpid())
    if server is None:
        server = _servers[os.getpid()] = _Server(env)
        atexit.register(stop)
    if forkable(env, server.env):
        return server.run(args, env, cwd, timeout)
    return subprocess.run([*ORION_ARGV, *args], env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)


def stop() -> None:
    """End this process's server (the suite's session teardown)."""
    server = _servers.pop(os.getpid(), None)
    if server is not None:
        server.stop()


# ------------------------------------------------------------------------------------------ the server


def _serve(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """Fork a child per request until the client closes its socket. Returns in a child only: its request."""
    import importlib

    from cheap_kdf import lower_kdf_floor

    lower_kdf_floor()
    sys.path.remove(str(TESTS))  # a run's imports see the path `python -m orion_cli` gives them
    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1:  # a fork copies only the forking thread: refuse rather than risk it
        sock.send(json.dumps({"ready": False, "threads": threading.active_count()}).encode())
        return None
    sock.send(json.dumps({"ready": True}).encode())
    running: dict[int, socket.socket] = {}
    while True:
        ready, _, _ = select.select([sock], [], [], 0.002 if running else None)
        if ready:
            data, fds, _flags, _addr = socket.recv_fds(sock, _MESSAGE, 4)
            if not data:
                return None
            request = json.loads(data)
            reply = socket.socket(fileno=fds[3])
            pid = os.fork()
            if pid == 0:
                sock.close()
                for other in running.values():
                    other.close()
                reply.close()
                return request, fds[:3]
            for fd in fds[:3]:
                os.close(fd)
            running[pid] = reply
            reply.send(json.dumps({"pid": pid}).encode())
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            reply = running.pop(pid)
            try:
                reply.send(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode())
            except OSError:  # the client gave up on it (a timeout)
                pass
            reply.close()


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: take the run's streams, arguments, environment and directory, then run orion."""
    import runpy

    for fd, target in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [sys.argv[0], *request["args"]]
    runpy.run_module("orion_cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    sys.path.pop(0)  # this file's directory, which `python -m orion_cli` would not have put there
    sys.path.append(str(TESTS))  # for cheap_kdf alone: removed once it is imported
    job = _serve(socket.socket(fileno=int(sys.argv[1])))
    if job is not None:
        _become(*job)
