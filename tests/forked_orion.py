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
checked against the import-time reads orion's source shows by tests/test_forked_orion.py). The server is
started without the test hooks (``ORION_TEST_*``, read at import): a run that sets one starts afresh.

Also unlike a fresh interpreter, and acceptable for what these tests assert: the runs share the server's
hash seed, umask and resource limits, and find its preloaded modules (PRELOAD) already imported; and the
server refuses to serve if importing them printed anything, which a fresh run would have printed itself.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import locale
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


class ServerDied(RuntimeError):
    """The server ended (or answered nonsense): a bug here, reported with what it said, never a fallback."""


class _Server:
    """The client side: the server process and the socket runs are sent over."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = {k: v for k, v in env.items() if not k.startswith("ORION_TEST_")}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self.lock = threading.Lock()
        self.log = tempfile.TemporaryFile()  # what the server itself says (nothing, unless it fails)
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(theirs.fileno())],
                                     env=self.env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     pass_fds=(theirs.fileno(),), cwd=tempfile.gettempdir())
        theirs.close()
        ready = _recv(ours, 120)
        if ready.get("ready") is not True:
            said = self.said()
            self.stop()
            raise ServerDied(f"the orion fork server did not start: {ready} {said}")

    def said(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-2000:]

    def run(self, args: Sequence[str], env: Mapping[str, str], cwd: str | None,
            timeout: float) -> subprocess.CompletedProcess[str]:
        deadline = time.monotonic() + timeout
        request = json.dumps({"args": list(args), "env": dict(env), "cwd": cwd or os.getcwd()}).encode()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            try:
                with self.lock:
                    socket.send_fds(self.sock, [request], [null, out_w, err_w, theirs.fileno()])
            except OSError as exc:
                raise ServerDied(f"the orion fork server is gone ({exc}): {self.said()}") from None
            finally:  # the child's copies only: a stream ends when the child (and nobody else) closes it
                for fd in (null, out_w, err_w):
                    os.close(fd)
                theirs.close()
            started, pidfds = _recv_fds(mine, timeout)
            pid = started.get("pid")
            if not isinstance(pid, int) or len(pidfds) != 1:
                for fd in pidfds:
                    os.close(fd)
                raise ServerDied(f"the orion fork server did not start the run: {started} {self.said()}")
            try:
                out, err, finished = _read_both(out_r, err_r, deadline)
                ended = _recv(mine, deadline - time.monotonic()) if finished else {"timeout": True}
                if "status" in ended:
                    return subprocess.CompletedProcess([*args], ended["status"], _text(out), _text(err))
                if "timeout" not in ended:
                    raise ServerDied(f"the orion fork server ended during a run: {ended} {self.said()}")
                # Through the child's pidfd, taken by the server before the child could end: never another
                # process that reused the number.
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfds[0], signal.SIGKILL)
                if "status" not in _recv(mine, 10):
                    raise ServerDied(f"the orion fork server ended during a run: {self.said()}")
                raise subprocess.TimeoutExpired([*args], timeout, output=out, stderr=err)
            finally:
                os.close(pidfds[0])
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


def _recv_fds(sock: socket.socket, timeout: float) -> tuple[dict[str, Any], list[int]]:
    sock.settimeout(max(timeout, 0.001))  # 0 would make the socket non-blocking
    try:
        data, fds, _flags, _addr = socket.recv_fds(sock, _MESSAGE, 1)
    except TimeoutError:
        return {"timeout": True}, []
    except OSError as exc:
        return {"closed": str(exc)}, []
    return (json.loads(data) if data else {"closed": True}), fds


def _recv(sock: socket.socket, timeout: float) -> dict[str, Any]:
    message, fds = _recv_fds(sock, timeout)
    for fd in fds:
        os.close(fd)
    return message


def _text(data: bytes) -> str:
    """As ``subprocess.run(text=True)`` decodes a stream: the locale's encoding, strictly, universal newlines."""
    return data.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")


def _read_both(out_fd: int, err_fd: int, deadline: float) -> tuple[bytes, bytes, bool]:
    """Both streams to their end, or what came of them by the deadline (then ``False``)."""
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    finished = True
    with selectors.DefaultSelector() as sel:
        for fd in (out_fd, err_fd):
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                finished = False
                break
            for key, _events in sel.select(left):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    sel.unregister(key.fd)
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd]), finished


_servers: dict[int, _Server] = {}
_starting = threading.Lock()


def run(args: Sequence[str], *, env: Mapping[str, str], timeout: float,
        cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """``orion ARGS`` as ``subprocess.run([*ORION_ARGV, *args], env=env, stdin=DEVNULL, capture_output=True,
    text=True, timeout=timeout)`` would run it: forked from the server where :func:`forkable`, else so."""
    from cheap_kdf import ORION_ARGV

    # The server is Linux's: a Unix socket of SOCK_SEQPACKET, which macOS does not have. Elsewhere every run
    # starts afresh.
    server = None
    if sys.platform.startswith("linux"):
        with _starting:
            server = _servers.get(os.getpid())
            if server is None:
                server = _servers[os.getpid()] = _Server(env)
                atexit.register(stop)
    if server is not None and forkable(env, server.env):
        try:
            return server.run(args, env, cwd, timeout)
        except ServerDied:
            with _starting:  # the next run starts another; this one fails, loudly
                if _servers.get(os.getpid()) is server:
                    del _servers[os.getpid()]
            server.stop()
            raise
    return subprocess.run([*ORION_ARGV, *args], env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)


def stop() -> None:
    """End this process's server (at the test process's exit)."""
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
    sys.stdout.flush()
    sys.stderr.flush()
    said = os.fstat(2).st_size  # the client's log file, which is both streams
    if threading.active_count() != 1 or said:  # a fork copies only the forking thread; a fresh run would say it
        sock.send(json.dumps({"ready": False, "threads": threading.active_count(), "printed": said}).encode())
        return None
    sock.send(json.dumps({"ready": True}).encode())
    running: dict[int, socket.socket] = {}
    while True:
        ready, _, _ = select.select([sock], [], [], 0.002 if running else None)
        if ready:
            data, fds, _flags, _addr = socket.recv_fds(sock, _MESSAGE, 4)
            if not data or len(fds) != 4:
                return None  # the client is gone (or confused): nothing more to serve
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
            pidfd = os.pidfd_open(pid)  # before it is reaped: the client's handle to kill it by, and no other
            try:
                socket.send_fds(reply, [json.dumps({"pid": pid}).encode()], [pidfd])
            except OSError:  # the client is gone: the child runs on, and is reaped below
                pass
            finally:
                os.close(pidfd)
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
