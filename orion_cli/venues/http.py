"""The HTTP layer every venue client shares: rate limiting, retries and typed errors.

Why one layer: both venues need the same discipline: spend rate-limit tokens locally *before* the
venue would refuse us, retry reads (never writes) with capped exponential backoff and jitter, sign
each attempt afresh, and turn every failure into an :class:`~orion_cli.core.errors.OrionError`
with the venue's name in it so the CLI can map it to an exit code.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from orion_cli.core.errors import REJECTED_HINT, AuthError, OrionError, VenueError, VenueUnavailable
from orion_cli.core.money import loads_exact
from orion_cli.core.revealed import scrub_revealed

__all__ = [
    "DEFAULT_USER_AGENT",
    "AsyncTokenBucket",
    "AuthCallable",
    "DeniedClassifier",
    "ErrorDescriber",
    "RetryPolicy",
    "VenueHttp",
    "VenueHttpError",
    "VenueSendFailed",
]

DEFAULT_USER_AGENT = "orion-cli/0.1 (+https://github.com/orion-cli)"

AuthCallable = Callable[[str, str, bytes], dict[str, str]]
"""``(METHOD, path-without-query, body) -> headers``; called once per attempt."""

ErrorDescriber = Callable[[int, bytes], tuple[str, str]]
"""``(status, body) -> (code, message)``: a venue's error body made readable."""

DeniedClassifier = Callable[[str, str, httpx.Response], OrionError | None]
"""``(METHOD, path, response) -> error``: for a 401/403, the error to raise when the answer is not
the venue rejecting our credentials (a firewall in front of it refusing this host), else None."""


class AsyncTokenBucket:
    """A token bucket shared by every concurrent request drawing on one venue budget.

    Waiters are served in arrival order (the lock is held while sleeping), so a large request is
    never starved by small ones and the bucket never goes below zero: we would rather wait a few
    milliseconds here than be answered 429 by the venue.
    """

    def __init__(
        self,
        capacity: float,
        refill_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if capacity <= 0 or refill_per_second <= 0:
            raise ValueError("token bucket capacity and refill rate must be positive")
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._stamp = clock()
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.waited_seconds = 0.0  # total time callers spent waiting, for benchmarks

    def _get_lock(self) -> asyncio.Lock:
        # asyncio primitives bind to one loop; a bucket may outlive an ``asyncio.run``.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_second)

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` tokens are available, then take them."""
        if cost <= 0:
            return
        if cost > self.capacity:
            raise ValueError(f"request cost {cost} exceeds bucket capacity {self.capacity}")
        async with self._get_lock():
            while True:
                self._refill()
                # The epsilon absorbs float rounding: without it a deficit of 1e-16 tokens asks
                # for a sleep shorter than the clock's resolution, forever.
                if self._tokens >= cost - 1e-9:
                    self._tokens = max(0.0, self._tokens - cost)
                    return
                wait = (cost - self._tokens) / self.refill_per_second
                self.waited_seconds += wait
                await self._sleep(wait)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries for idempotent reads: ``attempts`` in total, full-jitter exponential backoff."""

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 4.0


class VenueHttpError(VenueError):
    """A venue answered a request with a 4xx we do not retry (bad parameter, not found, ...)."""

    def __init__(self, venue: str, method: str, path: str, status: int, code: str, detail: str) -> None:
        text = f"{venue} rejected {method} {path}: HTTP {status}"
        if code:
            text += f" {code}"
        if detail and detail != code:
            text += f" ({detail})"
        super().__init__(text)
        self.venue = venue
        self.status = status
        self.code = scrub_revealed(code)
        self.detail = scrub_revealed(detail)  # as the message is (OrionError)


class VenueSendFailed(VenueUnavailable):
    """A write could not be completed; ``may_have_reached`` says whether the venue may have acted.

    ``False`` only when the connection was never established (nothing left this host), so the
    caller may safely re-send; ``True`` means the outcome is unknown and must be looked up.
    """

    def __init__(self, venue: str, cause: str, *, may_have_reached: bool) -> None:
        super().__init__(venue, cause)
        self.may_have_reached = may_have_reached


class _Retryable(Exception):
    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def _default_describe(status: int, body: bytes) -> tuple[str, str]:
    text = body[:200].decode("utf-8", "replace").strip()
    return "", " ".join(text.split())


_Query = list[tuple[str, str | int | float | bool | None]]


def _normalise_params(
    params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
) -> _Query:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    out: _Query = []
    for key, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if v is None:
                continue
            if isinstance(v, bool):
                out.append((key, "true" if v else "false"))
            elif isinstance(v, Decimal):
                out.append((key, f"{v:f}"))
            else:
                out.append((key, str(v)))
    return out


def _wire_path(request: httpx.Request) -> str:
    """The path exactly as sent (percent-encoded, without the query): what venues sign."""
    return request.url.raw_path.split(b"?", 1)[0].decode("ascii")


def _cause(exc: httpx.TransportError) -> str:
    name = type(exc).__name__
    text = str(exc).strip()
    return f"{name}: {text}" if text else name


_TLS_LOCK = threading.Lock()
_TLS_CONTEXTS: dict[tuple[str, str], ssl.SSLContext] = {}


def _tls_context() -> ssl.SSLContext:
    """The verifying TLS context httpx would build for ``verify=True``, built once per trust store.

    httpx re-reads the whole CA bundle (``load_verify_locations``, ~40 ms) for every client it creates,
    and a command creates several (Kalshi, Polymarket CLOB, data and geoblock). The context is the same
    each time (same bundle, same ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` choice, which is the cache key), and
    an :class:`ssl.SSLContext` may be shared across connections, clients, event loops and threads. The
    only thing set on it after creation is httpcore's ALPN list on each connect, always ``http/1.1``
    here (no client enables HTTP/2), so sharing it changes nothing on the wire.
    """
    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    with _TLS_LOCK:
        ctx = _TLS_CONTEXTS.get(key)
        if ctx is None:
            ctx = _TLS_CONTEXTS[key] = httpx.create_ssl_context(verify=True, trust_env=True)
        return ctx


_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class ConcurrencyGate:
    """At most ``limit`` requests in flight, across every :class:`VenueHttp` given it: a venue's clients of
    one host share one (``max_concurrency`` says "concurrent requests", not per client object). Its
    semaphore is made afresh for each event loop (a CLI command may run several)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.limit = limit
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:
            self._sem = asyncio.Semaphore(self.limit)
            self._loop = loop
        return self._sem


class VenueHttp:
    """One venue's HTTP client: buckets, bounded concurrency, retried reads, unretried writes."""

    def __init__(
        self,
        venue: str,
        base_url: str,
        *,
        buckets: dict[str, AsyncTokenBucket] | None = None,
        max_concurrency: int = 8,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        auth: AuthCallable | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        describe_error: ErrorDescriber | None = None,
        before_first: Callable[[], Awaitable[None]] | None = None,
        classify_denied: DeniedClassifier | None = None,
        gate: ConcurrencyGate | None = None,
    ) -> None:
        """``gate``: the bound on requests in flight, when it is shared with other clients of the same host
        (by default this client's own, of ``max_concurrency``).

        ``before_first`` is awaited once, before this client's first request (e.g. to align the
        clock that signs them); concurrent first requests wait for it together.

        ``classify_denied`` lets a venue say which 401/403 is not a credential rejection: Polymarket's
        Cloudflare front answers a blocked host 403 with an HTML page, and "rejected our credentials"
        (exit 4) would send the operator after keys the venue never saw. Without it, or when it
        answers None, every 401/403 is :class:`AuthError`."""
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.buckets: dict[str, AsyncTokenBucket] = dict(buckets or {})
        self.max_concurrency = max_concurrency
        self.retry = retry
        self._auth = auth
        self._describe = describe_error or _default_describe
        self._before_first = before_first
        self._classify_denied = classify_denied
        self._first_lock = asyncio.Lock()
        self._client = httpx.AsyncClient(
            base_url=self.base_url + "/",
            timeout=timeout,
            transport=transport,
            # A supplied transport carries its own TLS settings; only the default one needs a context.
            verify=_tls_context() if transport is None else True,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            follow_redirects=False,
        )
        # httpx's timeout bounds each read of the socket, not the request: an answer sent a byte a second
        # took minutes (an order's answer too, the hedge waiting), and one never ending would block for ever
        # (found by a fault review). The whole request, connection to last byte, is bounded by this.
        self._deadline = float(timeout)
        self._gate = gate if gate is not None else ConcurrencyGate(max_concurrency)
        # Counters for benchmarks and diagnostics.
        self.attempts = 0
        self.retries = 0
        self.status_counts: dict[int, int] = {}

    # -- plumbing ---------------------------------------------------------------------------

    def _semaphore(self) -> asyncio.Semaphore:
        return self._gate.semaphore()

    async def _spend(self, bucket: str, cost: float) -> None:
        b = self.buckets.get(bucket)
        if b is not None:
            await b.acquire(cost)

    async def _run_before_first(self) -> None:
        if self._before_first is None:
            return
        async with self._first_lock:  # a concurrent first request waits until the hook has finished
            hook = self._before_first
            if hook is not None:
                try:
                    await hook()
                finally:
                    self._before_first = None

    def _build(
        self,
        method: str,
        path: str,
        params: _Query | None,
        body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Request:
        request = self._client.build_request(
            method.upper(), path.lstrip("/"), params=params or None, content=body, headers=headers
        )
        if self._auth is not None:
            # A fresh signature per attempt: timestamps expire and signatures are never reused.
            request.headers.update(self._auth(method.upper(), _wire_path(request), body or b""))
        return request

    def _count(self, status: int) -> None:
        self.status_counts[status] = self.status_counts.get(status, 0) + 1

    def _denied(self, method: str, path: str, response: httpx.Response) -> OrionError:
        """A 401/403: the venue's own refusal when it classifies one, else our credentials rejected."""
        if self._classify_denied is not None:
            other = self._classify_denied(method, path, response)
            if other is not None:
                return other
        code, detail = self._describe(response.status_code, response.content)
        reason = " ".join(x for x in (code, detail if detail != code else "") if x)
        return AuthError(
            f"{self.venue} rejected our credentials for {method} {path}: HTTP {response.status_code}"
            + (f" {reason}" if reason else ""),
            hint=REJECTED_HINT,
        )

    # -- reads ------------------------------------------------------------------------------

    async def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        *,
        bucket: str = "read",
        cost: float = 1.0,
    ) -> Any:
        """GET ``path`` and return the parsed JSON (numbers with fractions as Decimal).

        Network errors, timeouts, 5xx and 429 are retried per :attr:`retry`; when attempts run
        out the result is :class:`VenueUnavailable`.
        """
        await self._run_before_first()
        query = _normalise_params(params)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, self.retry.attempts)),
            wait=wait_random_exponential(multiplier=self.retry.base_delay, max=self.retry.max_delay),
            retry=retry_if_exception_type(_Retryable),
            reraise=False,
        )
        first = True
        try:
            async for attempt in retrying:
                with attempt:
                    if not first:
                        self.retries += 1
                    first = False
                    return await self._get_once(path, query, bucket, cost)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            cause = last.cause if isinstance(last, _Retryable) else repr(last)
            raise VenueUnavailable(
                self.venue,
                f"GET {path} failed after {self.retry.attempts} attempts: {cause}",
                hint="the venue may be down or rate limiting us; try again later",
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_once(self, path: str, query: _Query, bucket: str, cost: float) -> Any:
        await self._spend(bucket, cost)
        async with self._semaphore():
            request = self._build("GET", path, query, None, None)
            self.attempts += 1
            try:
                response = await self._send(request)
            except httpx.TransportError as exc:
                raise _Retryable(_cause(exc)) from exc
        status = response.status_code
        self._count(status)
        if status == 429 or status >= 500:
            code, detail = self._describe(status, response.content)
            raise _Retryable(f"HTTP {status}" + (f" {code or detail}" if (code or detail) else ""))
        if status in (401, 403):
            raise self._denied("GET", path, response)
        if status >= 400:
            code, detail = self._describe(status, response.content)
            raise VenueHttpError(self.venue, "GET", path, status, code, detail)
        if status >= 300:
            raise VenueError(f"{self.venue} answered GET {path} with an unexpected redirect (HTTP {status})")
        try:
            return loads_exact(response.content)
        except (ValueError, UnicodeDecodeError):
            snippet = " ".join(response.content[:80].decode("utf-8", "replace").split())
            raise VenueError(
                f"{self.venue} returned a non-JSON body for GET {path} (HTTP {status}): {snippet!r}"
            ) from None

    # -- writes -----------------------------------------------------------------------------

    async def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        bucket: str = "write",
        cost: float = 1.0,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request exactly once and return the response, whatever its status.

        Never retried: an order write that timed out may have been executed, so the caller
        decides (by looking the order up) instead of this layer re-sending it. 401/403 raise
        :class:`AuthError` (a rejected signature never acts), or the error ``classify_denied`` gives
        for one that is not about credentials; transport failures raise :class:`VenueSendFailed`
        with ``may_have_reached``.
        """
        await self._run_before_first()
        await self._spend(bucket, cost)
        merged = dict(headers or {})
        if body is not None and not any(k.lower() == "content-type" for k in merged):
            merged["Content-Type"] = "application/json"
        async with self._semaphore():
            request = self._build(method, path, None, body, merged)
            self.attempts += 1
            try:
                response = await self._send(request)
            except httpx.TransportError as exc:
                reached = not isinstance(exc, _NEVER_SENT)
                raise VenueSendFailed(
                    self.venue,
                    f"{method.upper()} {path}: {_cause(exc)}"
                    + ("; the venue may have received it" if reached else "; not sent"),
                    may_have_reached=reached,
                ) from exc
        self._count(response.status_code)
        if response.status_code in (401, 403):
            raise self._denied(method.upper(), path, response)
        return response

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """``request`` sent and its whole answer read within the deadline. Past it: a ``ConnectTimeout`` (never
        sent) when the request's headers had not begun to go out (a stalled connection, TLS handshake or pool
        wait), else a ``ReadTimeout`` (it may have reached the venue). Told by httpcore's trace: found in review,
        every deadline was a ReadTimeout, and an order stuck connecting was an unknown outcome, not "not sent"."""
        started: list[str] = []

        async def trace(event: str, info: dict[str, Any]) -> None:
            # Not a proxy's CONNECT, sent with these extensions before the venue's connection exists.
            method = getattr(info.get("request"), "method", b"")  # httpcore's bytes (httpx's str)
            if event.endswith("send_request_headers.started") and method not in (b"CONNECT", "CONNECT"):
                started.append(event)

        request.extensions = {**request.extensions, "trace": trace}
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for could swallow a cancellation arriving with the answer.
            async with asyncio.timeout(self._deadline):
                return await self._client.send(request)
        except TimeoutError:
            said = f"no whole answer within {self._deadline:g} s"
            if not started:  # the caller says "not sent" (_NEVER_SENT)
                raise httpx.ConnectTimeout(said, request=request) from None
            raise httpx.ReadTimeout(said, request=request) from None

    # -- lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> VenueHttp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
