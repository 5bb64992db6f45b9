"""The shared venue HTTP layer over real loopback sockets: buckets, retries, typed errors."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import certifi
import httpx
import pytest
from sim.server import FaultRule, SimRequest, SimResponse, SimServer

from orion_cli.core.errors import AuthError, ExitCode, OrionError, Refused, VenueError, VenueUnavailable
from orion_cli.venues.http import AsyncTokenBucket, RetryPolicy, VenueHttp, VenueHttpError, VenueSendFailed

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


@pytest.fixture
def sim() -> Iterator[SimServer]:
    server = SimServer("test")
    server.route("GET", r"/api/ok", lambda r, m: SimResponse(200, {"price": "0.5200", "n": 1.25}))
    server.route("GET", r"/api/unauth", lambda r, m: SimResponse(401, {"error": {"code": "authentication_error"}}))
    server.route("GET", r"/api/missing", lambda r, m: SimResponse(404, {"error": {"code": "not_found"}}))
    server.route("GET", r"/api/text", lambda r, m: SimResponse(200, b"<html>maintenance</html>"))
    server.route("POST", r"/api/order", lambda r, m: SimResponse(201, {"order_id": "x"}))
    with server:
        yield server


def client(sim: SimServer, **kw: object) -> VenueHttp:
    args: dict[str, object] = {"retry": FAST, "timeout": 5.0}
    args.update(kw)
    return VenueHttp("testvenue", sim.base_url + "/api", **args)  # type: ignore[arg-type]


# -- token bucket -------------------------------------------------------------------------------


def test_bucket_never_exceeds_rate_with_concurrent_acquirers() -> None:
    capacity, rate = 5.0, 100.0
    grants: list[float] = []

    async def main() -> None:
        bucket = AsyncTokenBucket(capacity, rate)

        async def one() -> None:
            await bucket.acquire(1)
            grants.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(40)))

    asyncio.run(main())
    assert len(grants) == 40
    grants.sort()
    # In any window [t_i, t_j] no more than capacity + rate × (t_j − t_i) grants (+1 for timer slack).
    for i in range(len(grants)):
        for j in range(i, len(grants)):
            allowed = capacity + rate * (grants[j] - grants[i]) + 1
            assert j - i + 1 <= allowed, (i, j, grants[j] - grants[i])
    # And it really waited: 35 tokens beyond the burst need ≥ 0.35 s at 100/s.
    assert grants[-1] - grants[0] >= 0.3


def test_bucket_with_fake_clock_is_exact() -> None:
    now = [0.0]

    async def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    async def main() -> None:
        bucket = AsyncTokenBucket(10, 10, clock=lambda: now[0], sleep=fake_sleep)
        await asyncio.gather(*(bucket.acquire(1) for _ in range(30)))

    asyncio.run(main())
    assert now[0] == pytest.approx(2.0)  # 10 from the burst, 20 more at 10/s


def test_bucket_weighted_costs_and_limits() -> None:
    now = [0.0]

    async def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    async def main() -> None:
        bucket = AsyncTokenBucket(200, 200, clock=lambda: now[0], sleep=fake_sleep)
        for _ in range(30):  # Kalshi: 10 tokens per request, 200 tokens/s → 20 requests/s
            await bucket.acquire(10)
        with pytest.raises(ValueError, match="exceeds bucket capacity"):
            await bucket.acquire(201)

    asyncio.run(main())
    assert now[0] == pytest.approx(0.5)


def test_bucket_survives_several_event_loops() -> None:
    bucket = AsyncTokenBucket(2, 1000)
    asyncio.run(bucket.acquire(1))
    asyncio.run(bucket.acquire(1))


# -- reads: retries and typed errors ------------------------------------------------------------


def test_get_json_parses_decimals(sim: SimServer) -> None:
    async def main() -> object:
        async with client(sim) as h:
            return await h.get_json("/ok", {"flag": True, "many": ["a", "b"], "none": None})

    body = asyncio.run(main())
    assert body == {"price": "0.5200", "n": __import__("decimal").Decimal("1.25")}
    q = sim.requests[-1].query
    assert q == {"flag": ["true"], "many": ["a", "b"]}


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule("status", status=503, times=2),
        FaultRule("status", status=500, times=3),
        FaultRule("rate_limit", times=2),
        FaultRule("drop", times=2),
    ],
    ids=["503", "500", "429", "drop"],
)
def test_transient_failures_are_retried(sim: SimServer, rule: FaultRule) -> None:
    sim.add_fault(rule)

    async def main() -> tuple[object, int]:
        async with client(sim) as h:
            return await h.get_json("/ok"), h.retries

    body, retries = asyncio.run(main())
    assert body is not None
    assert retries == rule.times
    assert len(sim.requests) == (rule.times or 0) + 1


@pytest.mark.parametrize(
    ("rule", "cause"),
    [
        (FaultRule("status", status=503), "HTTP 503"),
        (FaultRule("rate_limit"), "HTTP 429"),
        (FaultRule("drop"), "RemoteProtocolError"),
        (FaultRule("timeout", seconds=2.0), "Timeout"),
    ],
    ids=["503", "429", "drop", "timeout"],
)
def test_exhausted_retries_raise_venue_unavailable(sim: SimServer, rule: FaultRule, cause: str) -> None:
    sim.add_fault(rule)
    policy = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.005)

    async def main() -> None:
        async with client(sim, retry=policy, timeout=0.2) as h:
            await h.get_json("/ok")

    with pytest.raises(VenueUnavailable) as info:
        asyncio.run(main())
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
    assert info.value.venue == "testvenue"
    assert "testvenue" in str(info.value) and cause in str(info.value)
    assert len(sim.requests) == 3


def test_backoff_is_capped(sim: SimServer) -> None:
    sim.add_fault(FaultRule("status", status=502))
    policy = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.08)

    async def main() -> None:
        async with client(sim, retry=policy) as h:
            await h.get_json("/ok")

    start = time.monotonic()
    with pytest.raises(VenueUnavailable):
        asyncio.run(main())
    assert time.monotonic() - start < 3 * 0.08 + 1.0


def test_auth_error_is_not_retried(sim: SimServer) -> None:
    async def main() -> None:
        async with client(sim) as h:
            await h.get_json("/unauth")

    with pytest.raises(AuthError) as info:
        asyncio.run(main())
    assert info.value.exit_code == ExitCode.AUTH
    assert len(sim.requests) == 1


def test_client_error_is_typed_and_not_retried(sim: SimServer) -> None:
    async def main() -> None:
        async with client(sim) as h:
            await h.get_json("/missing")

    with pytest.raises(VenueHttpError) as info:
        asyncio.run(main())
    assert info.value.status == 404
    assert len(sim.requests) == 1


@pytest.mark.parametrize("path", ["/text", "/ok"])
def test_non_json_body_is_venue_error(sim: SimServer, path: str) -> None:
    if path == "/ok":
        sim.add_fault(FaultRule("malformed"))

    async def main() -> None:
        async with client(sim) as h:
            await h.get_json(path)

    with pytest.raises(VenueError, match="non-JSON") as info:
        asyncio.run(main())
    assert not isinstance(info.value, VenueUnavailable)


def test_auth_is_called_per_attempt_with_fresh_headers(sim: SimServer) -> None:
    sim.add_fault(FaultRule("status", status=503, times=2))
    calls: list[tuple[str, str, bytes]] = []

    def auth(method: str, path: str, body: bytes) -> dict[str, str]:
        calls.append((method, path, body))
        return {"X-Sig": f"sig-{len(calls)}"}

    async def main() -> None:
        async with client(sim, auth=auth) as h:
            await h.get_json("/ok", {"q": "1"})

    asyncio.run(main())
    assert calls == [("GET", "/api/ok", b"")] * 3  # the path is signed without its query
    assert [r.headers["x-sig"] for r in sim.requests] == ["sig-1", "sig-2", "sig-3"]


def test_concurrency_is_bounded(sim: SimServer) -> None:
    sim.latency = 0.05
    active = [0, 0]
    lock = __import__("threading").Lock()

    def slow(r: SimRequest, m: object) -> SimResponse:
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        time.sleep(0.03)
        with lock:
            active[0] -= 1
        return SimResponse(200, {})

    sim.route("GET", r"/api/slow", slow)

    async def main() -> None:
        async with client(sim, max_concurrency=3) as h:
            await asyncio.gather(*(h.get_json("/slow") for _ in range(12)))

    asyncio.run(main())
    assert active[1] <= 3


# -- writes: never retried ----------------------------------------------------------------------


def test_send_is_never_retried(sim: SimServer) -> None:
    sim.add_fault(FaultRule("status", status=503, times=1))

    async def main() -> int:
        async with client(sim) as h:
            return (await h.send("POST", "/order", b"{}")).status_code

    assert asyncio.run(main()) == 503
    assert len(sim.requests) == 1


def test_send_dropped_after_acceptance_says_it_may_have_reached(sim: SimServer) -> None:
    handled: list[bytes] = []

    def order(r: SimRequest, m: object) -> SimResponse:
        handled.append(r.body)
        return SimResponse(201, {"order_id": "x"})

    sim.route("POST", r"/api/order2", order)
    sim.add_fault(FaultRule("drop_after", path_prefix="/api/order2"))

    async def main() -> None:
        async with client(sim) as h:
            await h.send("POST", "/order2", b'{"client_order_id":"a"}')

    with pytest.raises(VenueSendFailed) as info:
        asyncio.run(main())
    assert info.value.may_have_reached is True
    assert isinstance(info.value, VenueUnavailable)
    assert handled == [b'{"client_order_id":"a"}']  # the venue did act on it
    assert len(sim.requests) == 1


def test_send_connection_refused_was_not_sent() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there

    async def main() -> None:
        async with VenueHttp("testvenue", f"http://127.0.0.1:{port}/api", retry=FAST) as h:
            await h.send("POST", "/order", b"{}")

    with pytest.raises(VenueSendFailed) as info:
        asyncio.run(main())
    assert info.value.may_have_reached is False


def test_send_401_raises_auth_error(sim: SimServer) -> None:
    sim.route("POST", r"/api/denied", lambda r, m: SimResponse(401, {"error": {"code": "authentication_error"}}))

    async def main() -> None:
        async with client(sim) as h:
            await h.send("POST", "/denied", b"{}")

    with pytest.raises(AuthError):
        asyncio.run(main())


def test_a_venue_may_say_which_401_or_403_is_not_a_credential_rejection(sim: SimServer) -> None:
    """``classify_denied`` answers for a venue whose 403 can come from a firewall in front of it; the
    answers it leaves alone (None) stay :class:`AuthError`, for reads and writes alike."""
    sim.route("GET", r"/api/blocked", lambda r, m: SimResponse(403, b"<html>blocked</html>"))
    sim.route("POST", r"/api/blocked", lambda r, m: SimResponse(403, b"<html>blocked</html>"))
    sim.route("POST", r"/api/denied", lambda r, m: SimResponse(401, {"error": {"code": "authentication_error"}}))
    seen: list[tuple[str, str, int]] = []

    def classify(method: str, path: str, response: httpx.Response) -> OrionError | None:
        seen.append((method, path, response.status_code))
        return Refused(f"firewall: {method} {path}") if response.content.startswith(b"<html>") else None

    async def main() -> None:
        async with client(sim, classify_denied=classify) as h:
            with pytest.raises(Refused, match="firewall: GET /blocked"):
                await h.get_json("/blocked")
            with pytest.raises(Refused, match="firewall: POST /blocked"):
                await h.send("POST", "/blocked", b"{}")
            with pytest.raises(AuthError):
                await h.send("POST", "/denied", b"{}")
            with pytest.raises(AuthError):
                await h.get_json("/unauth")

    asyncio.run(main())
    assert seen == [("GET", "/blocked", 403), ("POST", "/blocked", 403), ("POST", "/denied", 401),
                    ("GET", "/unauth", 401)]
    assert len(sim.requests) == 4  # none retried


def test_buckets_are_spent_per_attempt(sim: SimServer) -> None:
    sim.add_fault(FaultRule("status", status=503, times=1))
    bucket = AsyncTokenBucket(100, 1)

    async def main() -> None:
        async with client(sim, buckets={"read": bucket}) as h:
            await h.get_json("/ok", cost=10)

    asyncio.run(main())
    assert bucket.available == pytest.approx(80, abs=1)


# -- cost per client and per answer --------------------------------------------------------------


def test_every_client_shares_one_verifying_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA bundle is read once per trust store, not once per client; verification stays on."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    a = VenueHttp("a", "https://venue-a.invalid")
    b = VenueHttp("b", "https://venue-b.invalid")
    try:
        ctx = a._client._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert ctx is b._client._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname
        assert ctx.cert_store_stats()["x509_ca"] > 0
        # Another trust store (SSL_CERT_FILE, as httpx honours it) gets its own context.
        monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
        c = VenueHttp("c", "https://venue-c.invalid")
        other = c._client._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert other is not ctx and other.verify_mode is ssl.CERT_REQUIRED and other.check_hostname
        asyncio.run(c.aclose())
    finally:
        asyncio.run(a.aclose())
        asyncio.run(b.aclose())


def test_simulator_answers_are_not_held_back_by_nagle(sim: SimServer) -> None:
    """Headers and body leave the simulator as two writes: with Nagle on, every answer on a kept-alive
    connection waits for the client's delayed ACK (≥ 40 ms on Linux). The fastest of a series of reads
    must be well below that (the minimum is robust to a loaded machine)."""

    async def main() -> list[float]:
        took: list[float] = []
        async with client(sim) as h:
            await h.get_json("/ok")  # connect once
            for _ in range(15):
                t0 = time.perf_counter()
                await h.get_json("/ok")
                took.append(time.perf_counter() - t0)
        return took

    assert min(asyncio.run(main())) < 0.03


# -- found by the venue-client mutation audit ---------------------------------------------------------


def _recording(handler: Any) -> tuple[VenueHttp, list[tuple[str, str]], list[httpx.Request]]:
    signed: list[tuple[str, str]] = []
    sent: list[httpx.Request] = []

    def auth(method: str, path: str, body: bytes) -> dict[str, str]:
        signed.append((method, path))
        return {"X-Sig": "s"}

    def respond(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    http = VenueHttp("testvenue", "https://venue.invalid/api", retry=FAST, auth=auth,
                     transport=httpx.MockTransport(respond))
    return http, signed, sent


def test_the_path_signed_is_the_percent_encoded_one_sent_without_its_query() -> None:
    """A venue verifies the signature over the path as it arrives, percent-encoding and all; signing the
    decoded form (``A B`` for ``A%20B``) fails exactly for the ids that need escaping."""
    http, signed, sent = _recording(lambda r: httpx.Response(200, json={}))

    async def main() -> None:
        await http.get_json("/markets/A B:C", {"limit": 5})
        await http.aclose()

    asyncio.run(main())
    assert signed == [("GET", sent[0].url.raw_path.split(b"?")[0].decode())]
    assert "%20" in signed[0][1] and "?" not in signed[0][1] and sent[0].url.query == b"limit=5"


def test_decimal_parameters_are_sent_in_plain_notation() -> None:
    """``Decimal("1E+2")`` is sent as ``100``, never ``1E+2`` (which a venue reads as garbage or as 1)."""
    http, _, sent = _recording(lambda r: httpx.Response(200, json={}))

    async def main() -> None:
        await http.get_json("/x", {"a": Decimal("1E+2"), "b": Decimal("0.0000001")})
        await http.aclose()

    asyncio.run(main())
    assert sent[0].url.params["a"] == "100" and sent[0].url.params["b"] == "0.0000001"


def test_an_http_300_is_an_unexpected_redirect_not_data() -> None:
    http, _, _ = _recording(lambda r: httpx.Response(300, json={"price": "0.5"}))

    async def main() -> None:
        try:
            await http.get_json("/x")
        finally:
            await http.aclose()

    with pytest.raises(VenueError, match="unexpected redirect"):
        asyncio.run(main())


class _Stalled(httpx.AsyncBaseTransport):
    """A transport that never answers; with ``sent``, it first says (httpcore's trace) the headers went out;
    with ``proxy``, that a proxy's CONNECT went out (which httpcore traces with the request's extensions)."""

    def __init__(self, sent: bool, proxy: bool = False) -> None:
        self.sent, self.proxy = sent, proxy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace = request.extensions.get("trace")
        if trace is not None and self.proxy:
            connect = httpx.Request("CONNECT", request.url)
            await trace("http11.send_request_headers.started", {"request": connect})
        if self.sent and trace is not None:
            await trace("http11.send_request_headers.started", {"request": request})
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


@pytest.mark.parametrize(("sent", "proxy"), [(False, False), (True, False), (False, True)],
                         ids=["stuck-connecting", "stuck-answering", "stuck-behind-a-proxy"])
def test_a_request_past_its_deadline_says_whether_it_may_have_reached_the_venue(sent: bool, proxy: bool) -> None:
    """Found reviewing the whole-request deadline: every deadline was a ReadTimeout, so an order whose connection
    never opened (a stalled TCP or TLS handshake) was "the venue may have received it" (an unknown outcome,
    looked up against a venue that cannot answer) where it is "not sent". The trace tells them apart."""
    async def main() -> None:
        http = VenueHttp("kalshi", "http://127.0.0.1:9", timeout=0.5, transport=_Stalled(sent, proxy),
                         retry=RetryPolicy(attempts=1, base_delay=0.0, max_delay=0.0))
        try:
            with pytest.raises(VenueSendFailed) as caught:
                await http.send("POST", "/portfolio/events/orders", b"{}")
        finally:
            await http.aclose()
        assert caught.value.may_have_reached is sent
        said = str(caught.value)
        assert "no whole answer within 0.5 s" in said and said.count("not sent") == (0 if sent else 1), said

    asyncio.run(main())
