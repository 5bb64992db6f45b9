"""A loopback HTTP simulator framework for venue tests: real sockets, one server thread.

Venue simulators (``kalshi_sim``, ``polymarket_sim``) register route handlers on a
:class:`SimServer`; tests then point the real venue clients at ``server.start()`` and inject
faults (status codes, latency, timeouts, dropped connections, malformed or renamed payloads,
rate limiting) with :class:`FaultRule`. Nothing here is mocked below the socket, so retries,
timeouts, keep-alive and signing are exercised exactly as in production.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

__all__ = ["FaultKind", "FaultRule", "Handler", "SimRequest", "SimResponse", "SimServer"]

FaultKind = Literal[
    "status",
    "latency",
    "timeout",
    "drop",
    "drop_after",
    "malformed",
    "rename_field",
    "remove_field",
    "rate_limit",
    "garbage_cursor",
    "trickle",
]


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case keys
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class SimResponse:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent verbatim
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[SimRequest, "re.Match[str]"], SimResponse]


@dataclass
class FaultRule:
    """One injected misbehaviour.

    kinds:
      ``status``        answer ``status`` with ``body`` (default ``{"error": "injected"}``); handler not run
      ``latency``       sleep ``seconds`` then behave normally
      ``timeout``       sleep ``seconds`` (longer than the client's timeout), then close with no answer
      ``drop``          close the connection without running the handler or answering
      ``drop_after``    run the handler (the venue accepted the request), then close with no answer
      ``malformed``     run the handler, then answer 200 with a truncated, non-JSON body (or ``body``, bytes)
      ``rename_field``  rename every key ``field`` to ``new_name`` in the handler's JSON answer
      ``remove_field``  delete every key ``field`` from the handler's JSON answer
      ``rate_limit``    answer 429 with the server's :attr:`SimServer.rate_limit_body`
      ``garbage_cursor`` replace a non-empty top-level ``cursor`` in the answer with garbage
      ``trickle``       run the handler, then send its answer's body one byte every ``seconds``
    ``times`` = how many matching requests it applies to (``None`` = forever);
    ``probability`` draws from the server's seeded RNG.
    """

    kind: FaultKind
    method: str | None = None
    path_prefix: str = ""
    times: int | None = None
    probability: float = 1.0
    status: int = 500
    seconds: float = 0.0
    field: str = ""
    new_name: str = ""
    body: Any = None
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if not path.startswith(self.path_prefix):
            return False
        return self.times is None or self.fired < self.times


# An answer's header the handler below reads and never sends: send the body a byte every N seconds.
_TRICKLE = "X-Sim-Trickle-Seconds"


class _Drop(Exception):
    """Close the connection without an answer."""


def _rename(obj: Any, old: str, new: str) -> Any:
    if isinstance(obj, dict):
        return {(new if k == old else k): _rename(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rename(v, old, new) for v in obj]
    return obj


def _remove(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return {k: _remove(v, name) for k, v in obj.items() if k != name}
    if isinstance(obj, list):
        return [_remove(v, name) for v in obj]
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return float(obj) if obj != obj.to_integral_value() else int(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def encode_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return json.dumps(body, separators=(",", ":"), default=_json_default).encode()


class _ServerBucket:
    """The venue's own token bucket (thread-safe): what decides a 429."""

    def __init__(self, capacity: float, refill: float) -> None:
        self.capacity = capacity
        self.refill = refill
        self.tokens = capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, cost: float) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
            self.stamp = now
            if self.tokens >= cost:
                self.tokens -= cost
                return True
            return False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    sim: SimServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is a normal event in fault tests, not noise.
        return


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the status line + headers and the body go out as two writes; with Nagle on, the
    # body waits for the client's delayed ACK of the headers (~40 ms per answer on Linux loopback).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        return

    def _serve(self) -> None:
        sim = self.server.sim
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = SimRequest(
            method=self.command.upper(),
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            status, payload, headers = sim.dispatch(request)
        except _Drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(status)
        headers.setdefault("Content-Type", "application/json")
        trickle = float(headers.pop(_TRICKLE, "0"))
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and trickle:
            try:
                for i in range(len(payload)):
                    self.wfile.write(payload[i:i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)
            except OSError:  # the client gave up on it
                self.close_connection = True
        elif payload:
            self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_PATCH = _serve


class SimServer:
    """A loopback HTTP server with regex routes, fault injection and a venue-side rate limit."""

    def __init__(self, name: str, *, seed: int = 0) -> None:
        self.name = name
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults: list[FaultRule] = []
        self.requests: list[SimRequest] = []
        self.latency: float = 0.0
        self.rate_limit: tuple[float, float] | None = None
        self.rate_limit_cost: float = 1.0
        self.rate_limit_body: Any = {"error": "too many requests"}
        self.rate_limited = 0  # 429s answered because of ``rate_limit`` (not injected faults)
        self.in_flight = 0  # requests being answered now
        self.max_in_flight = 0  # the most answered at once (clear_requests resets it)
        self.rng = random.Random(seed)
        self._lock = threading.Lock()
        self._bucket: _ServerBucket | None = None
        self._bucket_key: tuple[float, float] | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.base_url = ""

    # -- configuration ----------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` and a regex ``fullmatch``-ed against the path."""
        self.routes.append((method.upper(), re.compile(pattern), handler))

    def add_fault(self, rule: FaultRule) -> None:
        with self._lock:
            self.faults.append(rule)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    # -- request handling (server threads) --------------------------------------------------

    def _take_faults(self, method: str, path: str) -> list[FaultRule]:
        fired: list[FaultRule] = []
        with self._lock:
            for rule in self.faults:
                if rule.matches(method, path) and (rule.probability >= 1.0 or self.rng.random() < rule.probability):
                    rule.fired += 1
                    fired.append(rule)
        return fired

    def _rate_ok(self) -> bool:
        limit = self.rate_limit
        if limit is None:
            return True
        with self._lock:
            if self._bucket is None or self._bucket_key != limit:
                self._bucket = _ServerBucket(*limit)
                self._bucket_key = limit
            bucket = self._bucket
        return bucket.take(self.rate_limit_cost)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _run_handler(self, request: SimRequest) -> SimResponse:
        for method, pattern, handler in self.routes:
            if method != request.method:
                continue
            m = pattern.fullmatch(request.path)
            if m is not None:
                try:
                    return handler(request, m)
                except Exception as exc:  # a bug in a simulator must be visible, not a hang
                    return SimResponse(500, {"error": f"simulator handler crashed: {exc!r}"})
        return SimResponse(404, {"error": {"code": "not_found", "message": "not found"}})

    def dispatch(self, request: SimRequest) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._dispatch(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _dispatch(self, request: SimRequest) -> tuple[int, bytes, dict[str, str]]:
        self._wait(self.latency)
        faults = self._take_faults(request.method, request.path)
        for rule in faults:
            if rule.kind == "latency":
                self._wait(rule.seconds)
        for rule in faults:
            if rule.kind == "timeout":
                self._wait(rule.seconds)
                raise _Drop
            if rule.kind == "drop":
                raise _Drop
            if rule.kind == "status":
                body = rule.body if rule.body is not None else {"error": "injected"}
                return rule.status, encode_body(body), {}
            if rule.kind == "rate_limit":
                return 429, encode_body(self.rate_limit_body), {}
        if not self._rate_ok():
            with self._lock:
                self.rate_limited += 1
            return 429, encode_body(self.rate_limit_body), {}
        response = self._run_handler(request)
        body = response.body
        for rule in faults:
            if rule.kind == "drop_after":
                raise _Drop
            if rule.kind == "trickle":
                return response.status, encode_body(body), {**dict(response.headers), _TRICKLE: str(rule.seconds)}
            if rule.kind == "malformed":  # ``body`` bytes, when given, are the unreadable answer sent instead
                unreadable = rule.body if isinstance(rule.body, bytes) else b'{"truncated": [1, 2, '
                return 200, unreadable, dict(response.headers)
            if isinstance(body, dict | list):
                if rule.kind == "rename_field":
                    body = _rename(body, rule.field, rule.new_name)
                elif rule.kind == "remove_field":
                    body = _remove(body, rule.field)
                elif rule.kind == "garbage_cursor" and isinstance(body, dict) and body.get("cursor"):
                    body = {**body, "cursor": "garbage-" + str(self.rng.randrange(1 << 30))}
        return response.status, encode_body(body), dict(response.headers)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> str:
        """Listen on 127.0.0.1 (a free port) and return ``http://127.0.0.1:PORT``."""
        if self._httpd is not None:
            return self.base_url
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _RequestHandler)
        httpd.sim = self
        self._httpd = httpd
        port = httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=f"sim-{self.name}", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
