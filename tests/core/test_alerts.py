"""Webhook alerts against a real loopback HTTP server: formats, retries, audit, secrecy, never blocking."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from orion_cli.core.alert_sink import NullAlertSink
from orion_cli.core.alerts import (
    KINDS,
    MAX_WAIT,
    LowBalanceWatch,
    Outcome,
    UnavailableAlertSink,
    WebhookAlertSink,
    low_balance_alerts,
    render,
    retry_after,
    undelivered_text,
    webhook_sink,
)
from orion_cli.core.config import Settings, load_settings
from orion_cli.core.errors import SecretsError, StorageError
from orion_cli.core.models import Venue
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import Database, open_database
from orion_cli.store.tables import audit_events
from orion_cli.venues.trading import Balance

CANARY_PATH = "hook/T000/B000/CANARYwebhookSECRET42"
CANARY_TOKEN = "123456789:CANARYtelegramTOKENabcdefghijklmnop"


class Hook:
    """A loopback webhook: records each request; answers with scripted statuses (last one repeats)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.statuses: list[int] = [200]
        self.answer: Callable[[int], tuple[int, dict[str, str]]] | None = None  # n -> status, headers
        self.delay = 0.0
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with hook.lock:
                    hook.requests.append((self.path, body))
                    n = len(hook.requests)
                    status = hook.statuses[min(n, len(hook.statuses)) - 1]
                    headers: dict[str, str] = {}
                    if hook.answer is not None:
                        status, headers = hook.answer(n)
                if hook.delay:
                    time.sleep(hook.delay)
                data = b'{"ok": true}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base}/{CANARY_PATH}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'alerts.db'}")
    yield database
    database.dispose()


def alert_settings(**alerts: Any) -> Settings:
    values = {"enabled": True, "retries": 3, "timeout_seconds": "2"}
    values.update(alerts)
    return load_settings(overrides={f"alerts.{k}": v for k, v in values.items()}, environ={})


def vault(**values: str) -> Any:
    return lambda name: values.get(name)


def events(db: Database, type_: str) -> list[dict[str, Any]]:
    return [e.payload for e in AuditLog(db).tail(1000, types=(type_,))]


def all_audit_text(db: Database) -> str:
    with db.read() as conn:
        rows = conn.execute(select(audit_events)).all()
    return "\n".join(f"{r.type} {r.actor} {r.payload} {r.venue} {r.market}" for r in rows)


# -- formats -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["generic", "slack", "discord"])
def test_each_webhook_format_reaches_the_server(fmt: str, hook: Hook, db: Database) -> None:
    sink = webhook_sink(alert_settings(format=fmt), vault(alert_webhook_url=hook.url), db, mode="live")
    assert isinstance(sink, WebhookAlertSink)
    sink.emit("halt", "trading halted: venue outage", {"reason": "venue outage", "loss": D("12.50")})
    sink.flush(10)
    assert [e.mode for e in AuditLog(db).tail(10) if e.type == "alert.sent"] == ["live"]  # not trading.mode
    assert len(hook.requests) == 1
    path, body = hook.requests[0]
    assert path == "/" + CANARY_PATH
    if fmt == "generic":
        assert body["type"] == "alert"
        assert body["kind"] == "halt"
        assert body["message"] == "trading halted: venue outage"
        assert body["payload"] == {"reason": "venue outage", "loss": "12.50", "mode": "live"}
        assert body["ts"].endswith("Z")
        datetime.fromisoformat(body["ts"].replace("Z", "+00:00"))
        assert body["host"]
    else:
        key = "text" if fmt == "slack" else "content"
        assert set(body) == ({key} if fmt == "slack" else {key, "allowed_mentions"})
        assert "halt" in body[key] and "trading halted: venue outage" in body[key]
        assert '"loss":"12.50"' in body[key]
    sent = events(db, "alert.sent")
    assert sent == [{"kind": "halt", "format": fmt, "attempts": 1, "status": 200, "error": None,
                     "message": "trading halted: venue outage"}]


def test_telegram_posts_to_the_bot_url_with_the_chat_id(hook: Hook, db: Database) -> None:
    sink = webhook_sink(alert_settings(format="telegram", telegram_chat_id="-100123"),
                        vault(telegram_bot_token=CANARY_TOKEN), db, telegram_api=hook.base + "/", mode="paper")
    sink.emit("breaker.tripped", "daily loss limit reached", {"loss": D("101")})
    sink.flush(10)
    [(path, body)] = hook.requests
    assert path == f"/bot{CANARY_TOKEN}/sendMessage"
    assert body["chat_id"] == "-100123"
    assert body["text"].startswith("[orion] breaker.tripped (paper) on ")
    assert "daily loss limit reached" in body["text"]
    assert events(db, "alert.sent")[0]["kind"] == "breaker.tripped"


@pytest.mark.parametrize("mode", ["paper", "live"])
@pytest.mark.parametrize("kind", [*KINDS, "some.new_kind"])
def test_every_alert_kind_names_its_mode_in_every_format(kind: str, mode: str) -> None:
    """Found black-box: `unwind.failed` (and the executor's halt for an unknown order outcome) did not
    say paper or live, so a paper watch's drill read as real naked exposure. The sink names the mode
    of every alert, whatever the emitter put in its payload, a kind added later included."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200)

    for fmt in ("generic", "slack", "discord", "telegram"):
        bodies.clear()
        sink = WebhookAlertSink("http://127.0.0.1:9/hook/x", fmt=fmt, db=None, mode=mode, chat_id="42",
                                transport=httpx.MockTransport(handler))
        sink.emit(kind, "something happened", {"key": "op1-abc"})
        sink.close(10)
        [body] = bodies
        if fmt == "generic":
            assert body["payload"]["mode"] == mode, body
        else:
            text = body["text"] if fmt in ("slack", "telegram") else body["content"]
            assert text.startswith(f"[orion] {kind} ({mode}) on "), text
            assert f'"mode":"{mode}"' in text


def test_an_emitters_own_mode_is_kept() -> None:
    """A balance.low names the venue balance's mode; the sink's never overrides the emitter's."""
    body = render("generic", "balance.low", "low", {"mode": "live"}, ts=datetime.now(UTC), host="h", mode="paper")
    assert body["payload"]["mode"] == "live"


def test_chat_text_cannot_ping_a_channel() -> None:
    """Found black-box: `--reason '<!channel> @everyone'` (or a venue's market title) went out as written,
    and Slack and Discord pinged the whole channel."""
    reason = "<!channel> @everyone <@U123|bob> & <https://evil.example|click>"
    payload = {"reason": reason, "mode": "live"}
    now = datetime.now(UTC)
    slack = render("slack", "halt", f"trading halted: {reason}", payload, ts=now, host="h")["text"]
    assert "<" not in slack and ">" not in slack
    assert "&lt;!channel&gt; @everyone &lt;@U123|bob&gt; &amp; &lt;https://evil.example|click&gt;" in slack
    discord = render("discord", "halt", f"trading halted: {reason}", payload, ts=now, host="h")
    assert discord["allowed_mentions"] == {"parse": []}
    telegram = render("telegram", "halt", f"trading halted: {reason}", payload, ts=now, host="h", chat_id="1")
    assert "parse_mode" not in telegram and reason in telegram["text"]  # plain text: shown as written


def test_escaped_slack_text_is_clipped_between_entities() -> None:
    text = render("slack", "halt", "x" * 3870 + "<" * 20, {}, ts=datetime.now(UTC), host="h")["text"]
    assert len(text) <= 3900 and text.endswith("&lt;…")


def test_chat_text_is_clipped_to_the_service_limit() -> None:
    body = render("discord", "reconcile.drift", "x" * 5000, {}, ts=datetime.now(UTC), host="h")
    assert len(body["content"]) == 2000 and body["content"].endswith("…")


# -- retries and failures ----------------------------------------------------------------------------


def test_retries_after_5xx_then_succeeds(hook: Hook, db: Database) -> None:
    hook.statuses = [503, 500, 200]
    sink = webhook_sink(alert_settings(retries=3), vault(alert_webhook_url=hook.url), db, backoff=0.01, mode="paper")
    sink.emit("unwind.failed", "unwind of KX-A failed", {})
    sink.flush(10)
    assert len(hook.requests) == 3
    assert events(db, "alert.sent") == [{"kind": "unwind.failed", "format": "generic", "attempts": 3,
                                         "status": 200, "error": None, "message": "unwind of KX-A failed"}]
    assert events(db, "alert.failed") == []


def test_every_attempt_failing_is_audited_and_never_raises(hook: Hook, db: Database) -> None:
    hook.statuses = [500]
    sink = webhook_sink(alert_settings(retries=2), vault(alert_webhook_url=hook.url), db, backoff=0.01, mode="paper")
    sink.emit("reconcile.drift", "ledger and kalshi disagree", {"venue": "kalshi"})
    sink.flush(10)
    assert len(hook.requests) == 3  # the first attempt and two retries
    failed = events(db, "alert.failed")
    assert failed == [{"kind": "reconcile.drift", "format": "generic", "attempts": 3, "status": 500,
                       "error": "http_500", "message": "ledger and kalshi disagree"}]
    assert events(db, "alert.sent") == []


@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (1, 2), (3, 4)])
def test_alerts_retries_counts_retries_after_the_first_attempt(
        retries: int, attempts: int, hook: Hook, db: Database) -> None:
    """`alerts.retries` says how many retries follow the first attempt: 0 and 1 were both one try."""
    hook.statuses = [500]
    sink = webhook_sink(alert_settings(retries=retries), vault(alert_webhook_url=hook.url), db, backoff=0.001,
                        mode="paper")
    sink.emit("halt", "halted", {})
    sink.flush(10)
    assert len(hook.requests) == attempts
    assert [e["attempts"] for e in events(db, "alert.failed")] == [attempts]


def test_a_4xx_answer_is_not_retried(hook: Hook, db: Database) -> None:
    hook.statuses = [404]
    sink = webhook_sink(alert_settings(retries=5), vault(alert_webhook_url=hook.url), db, backoff=0.01, mode="paper")
    sink.emit("halt", "halted", {})
    sink.flush(10)
    assert len(hook.requests) == 1
    assert events(db, "alert.failed")[0] | {"message": ""} == {
        "kind": "halt", "format": "generic", "attempts": 1, "status": 404, "error": "http_404", "message": ""}


def test_an_alert_taken_in_without_an_answer_is_said_as_not_confirmed_and_carries_one_id_throughout(
        hook: Hook, db: Database) -> None:
    """Found reviewing alerts: a webhook slower than alerts.timeout_seconds got each halt page three times, while
    the log said `alert.failed` and the command "was not delivered". Delivery stays at least once (a page lost
    is worse than one repeated), but each attempt carries the alert's one id, for a receiver to drop repeats,
    and an alert no attempt of which was answered is said as not confirmed, with the attempts that may have
    arrived; nor is a low balance's mark cleared for it (the same burst again on every look)."""
    hook.delay = 0.6
    said: list[str] = []
    sink = WebhookAlertSink(hook.url, fmt="generic", db=db, mode="live", retries=2, timeout=0.2, backoff=0.01,
                            undelivered=lambda outcome: said.append(undelivered_text(outcome)))
    watch = LowBalanceWatch(alert_settings(low_balance="50"), sink, db, "live")
    low = Balance(Venue.KALSHI, "live", D("10"), D("0"), D("10"), datetime.now(UTC))
    assert watch.check([low]) == [low]
    sink.flush(10)
    assert len(hook.requests) == 3
    ids = {body["id"] for _, body in hook.requests}
    assert len(ids) == 1 and len(next(iter(ids))) == 32
    [failed] = events(db, "alert.failed")
    assert (failed["error"], failed["attempts"], failed["unanswered"]) == ("ReadTimeout", 3, 3)
    assert said == [said[0]] and "not confirmed delivered" in said[0] and "may have arrived" in said[0]
    assert watch.check([low]) == []  # maybe told: not sent again on the next look
    sink.emit("halt", "halted", {})  # another alert: an id of its own
    sink.flush(10)
    assert len({body["id"] for _, body in hook.requests}) == 2


def test_unreachable_webhook_is_audited_by_error_class(db: Database) -> None:
    # A port nobody listens on: bind, note the port, close.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    sink = webhook_sink(alert_settings(retries=2), vault(alert_webhook_url=f"http://127.0.0.1:{port}/x/y/z"), db,
                        backoff=0.01, mode="paper")
    sink.emit("halt", "halted", {})
    sink.flush(10)
    [failed] = events(db, "alert.failed")
    assert failed["attempts"] == 3
    assert failed["status"] is None
    assert failed["error"] == "ConnectError"


def test_emit_returns_at_once_while_the_server_sleeps(hook: Hook, db: Database) -> None:
    hook.delay = 3.0
    sink = WebhookAlertSink(hook.url, fmt="generic", db=db, retries=1, timeout=0.3, backoff=0.01)
    started = time.monotonic()
    for i in range(5):
        sink.emit("breaker.warning", f"warning {i}", {"i": i})
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"emit blocked for {elapsed:.2f}s"
    assert sink.pending >= 4  # still in flight: the caller did not wait for them
    sink.flush(15)
    assert sink.pending == 0
    failed = events(db, "alert.failed")
    assert len(failed) == 5
    assert {f["error"] for f in failed} == {"ReadTimeout"}


def test_flush_is_bounded(hook: Hook, db: Database) -> None:
    hook.delay = 1.0
    sink = WebhookAlertSink(hook.url, fmt="generic", db=db, retries=1, timeout=5, backoff=0.01)
    sink.emit("halt", "halted", {})
    started = time.monotonic()
    sink.flush(0.2)
    assert time.monotonic() - started < 0.9
    assert sink.pending == 1
    sink.flush(10)
    assert sink.pending == 0


class FakeTime:
    """The sink's clock and its pause between attempts: a pause moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(round(seconds, 6))
        self.now += seconds


def _timed_sink(hook: Hook, db: Database, fake: FakeTime, **options: Any) -> WebhookAlertSink:
    values: dict[str, Any] = {"retries": 3, "timeout": 2, "backoff": 0.5}
    values.update(options)
    return WebhookAlertSink(hook.url, fmt="generic", db=db, clock=fake.clock, pause=fake.pause, **values)


def test_a_rate_limits_retry_after_is_waited_out_within_the_wait_at_exit(hook: Hook, db: Database) -> None:
    """Found black-box: a Discord-like 2 s rate limit lost a halt alert; the retries came 0.5 s and 1 s
    later (each refused again) and gave up after 1.5 s, while `orion halt` would have waited 5 s."""
    fake = FakeTime()
    until = fake.now + 2
    sent_at: list[float] = []

    def answer(n: int) -> tuple[int, dict[str, str]]:
        sent_at.append(fake.now)
        return (204, {}) if fake.now >= until else (429, {"Retry-After": "2"})

    hook.answer = answer
    sink = _timed_sink(hook, db, fake)
    sink.emit("halt", "trading halted", {})
    sink.flush(5)
    assert sent_at == [1000.0, 1002.0]  # asked to wait 2 s: one retry, after 2 s
    assert [(e["kind"], e["attempts"], e["status"]) for e in events(db, "alert.sent")] == [("halt", 2, 204)]


def test_a_rate_limit_holds_for_the_alerts_queued_behind(hook: Hook, db: Database) -> None:
    fake = FakeTime()
    until = fake.now + 2
    sent_at: list[tuple[str, float]] = []

    def answer(n: int) -> tuple[int, dict[str, str]]:
        sent_at.append((hook.requests[n - 1][1]["message"], fake.now))
        return (200, {}) if fake.now >= until else (429, {"Retry-After": "2"})

    hook.answer = answer
    sink = _timed_sink(hook, db, fake)
    sink.emit("reconcile.drift", "drift", {})
    sink.emit("halt", "halted", {})
    sink.flush(5)
    assert sent_at == [("drift", 1000.0), ("drift", 1002.0), ("halted", 1002.0)]
    assert len(events(db, "alert.sent")) == 2


def test_a_last_attempts_rate_limit_still_holds_for_the_alerts_queued_behind(hook: Hook, db: Database) -> None:
    """Found in review: with no retry left (``retries = 0``) the 429's Retry-After was dropped, so the
    next queued alert was posted at once, into the limit, and refused too."""
    fake = FakeTime()
    until = fake.now + 2
    sent_at: list[tuple[str, float]] = []

    def answer(n: int) -> tuple[int, dict[str, str]]:
        sent_at.append((hook.requests[n - 1][1]["message"], fake.now))
        return (200, {}) if fake.now >= until else (429, {"Retry-After": "2"})

    hook.answer = answer
    sink = _timed_sink(hook, db, fake, retries=0)
    sink.emit("reconcile.drift", "drift", {})
    sink.emit("halt", "halted", {})
    sink.flush(5)
    assert sent_at == [("drift", 1000.0), ("halted", 1002.0)]
    assert [e["error"] for e in events(db, "alert.failed")] == ["http_429"] and len(events(db, "alert.sent")) == 1


def test_a_rate_limit_longer_than_the_wait_at_exit_gives_up_at_once_and_says_so(hook: Hook, db: Database) -> None:
    fake = FakeTime()
    hook.answer = lambda n: (429, {"Retry-After": "30"})
    sink = _timed_sink(hook, db, fake)
    sink.emit("halt", "halted", {})
    sink.flush(5)
    assert len(hook.requests) == 1 and fake.pauses == []
    [failed] = events(db, "alert.failed")
    assert (failed["attempts"], failed["error"], failed["retry_after_s"]) == (1, "http_429", 30)


def test_a_rate_limit_beyond_max_wait_is_not_waited_for(hook: Hook, db: Database) -> None:
    """A long-running watch (no wait at exit yet) waits out a rate limit up to its ``max_wait``, not an hour."""
    fake = FakeTime()
    hook.answer = lambda n: (429, {"Retry-After": str(int(MAX_WAIT) + 1)}) if n <= 2 else (200, {})
    sink = _timed_sink(hook, db, fake)
    sink.emit("halt", "halted", {})
    deadline = time.monotonic() + 10
    while sink.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(hook.requests) == 1 and [e["error"] for e in events(db, "alert.failed")] == ["http_429"]
    longer = _timed_sink(hook, db, fake, max_wait=MAX_WAIT * 2)
    longer.emit("halt", "halted again", {})
    deadline = time.monotonic() + 10
    while longer.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.pauses == [MAX_WAIT + 1] and [e["attempts"] for e in events(db, "alert.sent")] == [2]


def test_retries_use_the_wait_at_exit_instead_of_giving_up_early(hook: Hook, db: Database) -> None:
    """A 503 for 4 s: the backoff (0.5, 1, 2, 4 s) would next try at 7.5 s, after the command's 5 s
    wait has ended; the retry is brought forward into the wait instead (1 s before its end)."""
    fake = FakeTime()
    start = fake.now
    sent_at: list[float] = []

    def answer(n: int) -> tuple[int, dict[str, str]]:
        sent_at.append(fake.now - start)
        return (200, {}) if fake.now - start >= 4 else (503, {})

    hook.answer = answer
    sink = _timed_sink(hook, db, fake, retries=10)
    sink.emit("halt", "halted", {})
    sink.flush(5)
    assert sent_at == [0, 0.5, 1.5, 3.5, 4.0]
    assert [e["attempts"] for e in events(db, "alert.sent")] == [5]


@pytest.mark.parametrize(("status", "headers", "body", "seconds"), [
    (429, {"Retry-After": "3"}, b"{}", 3.0),
    (503, {"Retry-After": "1.5"}, b"{}", 1.5),
    (429, {"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT"}, b"{}", 30.0),
    (429, {"Retry-After": "Wed, 21 Oct 2026 07:27:00 GMT"}, b"{}", 0.0),  # a date gone by: at once
    (429, {"Retry-After": "soon"}, b"{}", None),
    (429, {}, b'{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}', 2.5),  # Discord
    (429, {}, b'{"ok": false, "error_code": 429, "parameters": {"retry_after": 7}}', 7.0),  # Telegram
    (429, {}, b"not json", None),
    (500, {"Retry-After": "3"}, b"{}", None),  # only 429 and 503 are waited out
])
def test_retry_after_reads_seconds_dates_and_the_chat_services_bodies(
        status: int, headers: dict[str, str], body: bytes, seconds: float | None) -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after(httpx.Response(status, headers=headers, content=body), now) == seconds


def test_an_alert_not_delivered_is_said_through_the_commands_warning_by_flush(
        hook: Hook, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Found black-box: a failed delivery was an audit event and a raw log record (dropped by -q), so a
    cron `orion -q halt` whose alert went nowhere printed nothing of it. Each alert not delivered is
    said, once, through the command's own warning, on the caller's thread (flush), and no log
    warning repeats it; a delivered one says nothing."""
    said: list[Outcome] = []
    hook.statuses = [200, 500]
    sink = webhook_sink(alert_settings(retries=1), vault(alert_webhook_url=hook.url), db, backoff=0.001,
                        mode="live", undelivered=said.append)
    with caplog.at_level(logging.WARNING, logger="orion_cli.core.alerts"):
        sink.emit("reconcile.drift", "drift", {})
        sink.emit("halt", "halted", {})
        sink.flush(10)
        sink.flush(10)  # said once
    assert [(o.kind, o.error, o.attempts) for o in said] == [("halt", "http_500", 2)]
    assert undelivered_text(said[0]) == "alert halt was not delivered (HTTP 500 after 2 attempts); audited as " \
                                        "alert.failed"
    assert not [r for r in caplog.records if "not delivered" in r.getMessage()]


def test_an_alert_undelivered_at_exit_or_rate_limited_is_said_too(hook: Hook, db: Database) -> None:
    said: list[str] = []
    hook.delay = 2.0
    sink = WebhookAlertSink(hook.url, fmt="generic", db=db, retries=0, timeout=5,
                            undelivered=lambda o: said.append(undelivered_text(o)))
    sink.emit("halt", "halted", {})
    sink.flush(0.2)
    assert said == ["alert halt was not delivered (no answer before the wait at exit ended, after 1 attempt); "
                    "audited as alert.failed"]
    sink.flush(10)  # the late answer (200) says nothing more
    assert len(said) == 1
    text = undelivered_text(Outcome("halt", False, 1, 429, "http_429", 30.0))
    assert text == "alert halt was not delivered (HTTP 429 after 1 attempt; the service asked to wait 30s); " \
                   "audited as alert.failed"


def test_alerts_still_undelivered_when_the_wait_ends_are_audited_as_failed(hook: Hook, db: Database) -> None:
    """The worker is a daemon thread: a command exiting after flush() kills it mid-retry, so an alert
    it was still trying must be on the record as failed, not missing from it."""
    hook.delay = 2.0
    sink = WebhookAlertSink(hook.url, fmt="generic", db=db, retries=1, timeout=5, backoff=0.01)
    sink.emit("halt", "halted by the breaker", {})
    sink.flush(0.2)
    [failed] = events(db, "alert.failed")
    assert failed["kind"] == "halt" and failed["error"] == "undelivered_at_exit"
    assert failed["attempts"] == 1  # sent, maybe received: its answer had not come
    assert failed["message"] == "halted by the breaker" and failed["waited_s"] == 0.2
    sink.flush(0.2)  # audited once, however often the wait ends
    assert len(events(db, "alert.failed")) == 1


def _full_sink(db: Database, **options: Any) -> tuple[WebhookAlertSink, threading.Event]:
    """A sink whose one-slot queue is full: "first" held by the worker (blocked in the transport until
    the returned gate is set), "second" queued."""
    gate = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        gate.wait(10)
        return httpx.Response(200)

    sink = WebhookAlertSink("http://127.0.0.1:9/hook/secret-path", fmt="generic", db=db, retries=1,
                            queue_size=1, transport=httpx.MockTransport(handler), **options)
    sink.emit("halt", "first", {})
    deadline = time.monotonic() + 5
    while sink._queue.qsize() and time.monotonic() < deadline:  # wait until the worker holds it
        time.sleep(0.01)
    assert sink._queue.qsize() == 0, "the worker never took the first alert"
    sink.emit("halt", "second", {})
    return sink, gate


def test_an_alert_dropped_from_a_full_queue_is_audited_when_the_wait_ends(db: Database) -> None:
    """Found in the final read: dropped alerts were audited (and their low mark cleared) only by the
    worker after its next delivery, which a command exiting mid-delivery never reaches."""
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    sink, gate = _full_sink(db, mode="live")
    watch = LowBalanceWatch(alert_settings(low_balance="50"), sink, db, "live")
    low = Balance(Venue.KALSHI, "live", D("10"), D("0"), D("10"), now)
    assert watch.check([low]) == [low]  # its alert is dropped
    sink.flush(0.2)
    try:
        assert [(e["kind"], e["error"]) for e in events(db, "alert.failed") if e["error"] == "queue_full"] == \
            [("balance.low", "queue_full")]
        assert watch.check([low]) == [low]  # not taken as told
    finally:
        gate.set()
        sink.flush(10)


def test_a_low_balance_alert_not_delivered_is_alerted_again_on_the_next_look(hook: Hook, db: Database) -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    low = Balance(Venue.KALSHI, "live", D("10"), D("0"), D("10"), now)
    hook.statuses = [500]
    sink = WebhookAlertSink(hook.url, fmt="generic", db=db, mode="live", retries=1, timeout=2, backoff=0.01)
    watch = LowBalanceWatch(alert_settings(low_balance="50"), sink, db, "live")
    assert watch.check([low]) == [low]
    sink.flush(10)
    assert [e["error"] for e in events(db, "alert.failed")] == ["http_500"]
    hook.statuses = [200]
    assert watch.check([low]) == [low]  # not taken as already told
    sink.flush(10)
    assert [e["kind"] for e in events(db, "alert.sent")] == ["balance.low"]
    assert watch.check([low]) == []  # delivered: once is enough


def test_flush_zero_never_waits_nor_warns(hook: Hook, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """`trade --watch` calls flush(0) between rounds: a slow webhook must not hold the loop up or
    fill the log with "still undelivered" warnings."""
    hook.delay = 1.0
    sink = WebhookAlertSink(hook.url, fmt="generic", db=db, retries=1, timeout=5, backoff=0.01)
    sink.emit("halt", "halted", {})
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        sink.flush(0)
    assert time.monotonic() - started < 0.5 and sink.pending == 1
    assert "undelivered" not in caplog.text
    sink.flush(10)
    assert sink.pending == 0


def test_a_full_queue_drops_and_audits_instead_of_blocking(db: Database) -> None:
    sink, gate = _full_sink(db)
    sink.emit("balance.low", "third", {})  # dropped
    sink.emit("balance.low", "fourth", {})  # dropped
    gate.set()
    sink.flush(10)
    sent = events(db, "alert.sent")
    assert [s["message"] for s in sent] == ["first", "second"]
    [dropped] = events(db, "alert.failed")
    assert dropped["kind"] == "balance.low" and dropped["error"] == "queue_full" and dropped["dropped"] == 2


class BrokenDatabase:
    """A ledger whose every write fails (disk full, lock timeout)."""

    def write(self) -> Any:
        raise StorageError("database is busy")


def test_a_broken_audit_or_odd_payload_never_reaches_the_caller(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    sink = WebhookAlertSink(hook.url, fmt="generic", db=BrokenDatabase(), retries=1)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="orion_cli.core.alerts"):
        logging.getLogger("orion_cli.core.alerts").addHandler(caplog.handler)
        try:
            sink.emit("halt", "halted", {"bad": object()})  # an unserialisable value becomes text
            sink.flush(10)
        finally:
            logging.getLogger("orion_cli.core.alerts").removeHandler(caplog.handler)
    [(_, body)] = hook.requests
    assert body["payload"]["bad"].startswith("<object object")
    assert any("could not audit alert.sent (StorageError)" in r.getMessage() for r in caplog.records)


# -- secrecy -----------------------------------------------------------------------------------------


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured_logs() -> Iterator[Capture]:
    """Every log record of orion, httpx and httpcore, whatever propagation other tests left behind."""
    cap = Capture()
    names = ["", "orion_cli", "httpx", "httpcore"]
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).addHandler(cap)
        logging.getLogger(n).setLevel(logging.DEBUG)
    yield cap
    for n in names:
        logging.getLogger(n).removeHandler(cap)
        logging.getLogger(n).setLevel(saved[n])


def test_url_and_token_never_reach_audit_or_logs(hook: Hook, db: Database, captured_logs: Capture) -> None:
    hook.statuses = [500, 200, 500]
    generic = webhook_sink(alert_settings(retries=2), vault(alert_webhook_url=hook.url), db, backoff=0.01, mode="paper")
    telegram = webhook_sink(alert_settings(format="telegram", telegram_chat_id="42", retries=0),
                            vault(telegram_bot_token=CANARY_TOKEN), db, telegram_api=hook.base, mode="paper")
    generic.emit("halt", "halted", {})
    generic.flush(10)
    telegram.emit("halt", "halted again", {})
    telegram.flush(10)
    assert [p for p, _ in hook.requests] == ["/" + CANARY_PATH] * 2 + [f"/bot{CANARY_TOKEN}/sendMessage"]
    assert len(events(db, "alert.sent")) == 1 and len(events(db, "alert.failed")) == 1
    text = all_audit_text(db)
    assert "alert.sent" in text and "alert.failed" in text
    lines = [r.getMessage() for r in captured_logs.records]
    # httpx did log its request lines (so this test can fail) — with the URL redacted.
    assert any(line.startswith("HTTP Request: POST") and "<redacted>" in line for line in lines), lines
    for secret in ("CANARYwebhookSECRET42", "CANARYtelegramTOKEN", CANARY_TOKEN.split(":")[0] + ":"):
        assert secret not in text
        assert not [line for line in lines if secret in line]
    assert "CANARY" not in repr(generic) and "CANARY" not in repr(telegram)


# -- construction ------------------------------------------------------------------------------------


def test_disabled_alerts_are_a_null_sink(db: Database) -> None:
    off = load_settings(environ={})
    sink = webhook_sink(off, vault(alert_webhook_url="https://hooks.example/x"), db, mode="paper")
    assert isinstance(sink, NullAlertSink)


def _locked(name: str) -> str | None:
    raise SecretsError("vault is locked", reason="locked")


@pytest.mark.parametrize(("settings", "getter", "reason"), [
    (alert_settings(), vault(), "secret_missing"),
    (alert_settings(format="telegram"), vault(telegram_bot_token=CANARY_TOKEN), "config"),  # no chat id
    (alert_settings(format="telegram", telegram_chat_id="42"), vault(), "secret_missing"),
    (alert_settings(), _locked, "locked"),
], ids=["no-url", "telegram-no-chat-id", "telegram-no-token", "vault-locked"])
def test_enabled_but_unusable_alerts_warn_once_and_audit_what_they_could_not_send(
        db: Database, settings: Settings, getter: Any, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    # trading.mode says paper (the default) but the command trades live (the flag or environment pair):
    # the audit events are the live ledger's.
    assert settings.trading.mode == "paper"
    with caplog.at_level(logging.WARNING, logger="orion_cli.core.alerts"):
        sink = webhook_sink(settings, getter, db, mode="live")
    assert isinstance(sink, UnavailableAlertSink)
    assert [r.getMessage() for r in caplog.records if "off for this run" in r.getMessage()] != []
    before = len(AuditLog(db).tail(100))
    sink.emit("halt", "trading halted: test", {"x": 1})
    sink.emit("balance.low", "kalshi low", {})
    assert len(AuditLog(db).tail(100)) == before  # emit never writes (it may run inside a transaction)
    sink.flush()
    failed = [e for e in AuditLog(db).tail(100) if e.type == "alert.failed"]
    assert [(e.payload["kind"], e.payload["error"], e.payload["reason"], e.payload["attempts"]) for e in failed] == [
        ("halt", "unavailable", reason, 0), ("balance.low", "unavailable", reason, 0)]
    assert {e.mode for e in failed} == {"live"}
    sink.flush()  # each alert is audited once
    assert len([e for e in AuditLog(db).tail(100) if e.type == "alert.failed"]) == 2
    assert CANARY_TOKEN not in json.dumps([e.payload for e in failed])


def test_an_unusable_sinks_low_balance_alert_is_not_taken_as_told(db: Database) -> None:
    """Found in the final read: the webhook sink clears a venue's low mark when its balance.low alert
    is not delivered, but the sink for unusable alerts did not, so once alerts worked again the fall
    was not alerted until the daily reminder."""
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    sink = webhook_sink(alert_settings(low_balance="50"), vault(), db, mode="live")
    assert isinstance(sink, UnavailableAlertSink)
    watch = LowBalanceWatch(alert_settings(low_balance="50"), sink, db, "live")
    low = Balance(Venue.KALSHI, "live", D("10"), D("0"), D("10"), now)
    assert watch.check([low]) == [low]
    sink.flush(0)  # a watch's round: audited, and within this process it stays told (found in review:
    assert watch.check([low]) == []  # clearing here re-alerted, and re-audited, on every round)
    sink.flush()  # the wait before exit
    assert [e.payload["kind"] for e in AuditLog(db).tail(100) if e.type == "alert.failed"] == ["balance.low"]
    assert watch.check([low]) == [low]  # the next process alerts (and audits) it again, not taken as told


def test_low_balance_watch_alerts_on_the_way_down_only(db: Database) -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    sink = NullAlertSink()
    settings = alert_settings(low_balance="50")

    def bal(venue: Venue, available: str) -> Balance:
        return Balance(venue, "live", D(available), D("0"), D(available), now)

    watch = LowBalanceWatch(settings, sink, db, "live")
    assert watch.check([bal(Venue.KALSHI, "49"), bal(Venue.POLYMARKET, "80")]) == [bal(Venue.KALSHI, "49")]
    assert watch.check([bal(Venue.KALSHI, "10"), None]) == []  # still low: not again
    assert watch.check([bal(Venue.KALSHI, "50")]) == []  # recovered (the threshold itself is not low)
    assert watch.check([bal(Venue.KALSHI, "49.99")]) == [bal(Venue.KALSHI, "49.99")]  # fell again
    assert [(k, p["venue"]) for k, _, p in sink.emitted] == [("balance.low", "kalshi"), ("balance.low", "kalshi")]
    # The next process (a cron run of trade or reconcile) knows what this one saw.
    later = LowBalanceWatch(settings, sink, db, "live")
    assert later.check([bal(Venue.KALSHI, "1"), bal(Venue.POLYMARKET, "49")]) == [bal(Venue.POLYMARKET, "49")]
    assert LowBalanceWatch(settings, sink, db, "paper").check([bal(Venue.KALSHI, "1")]) != []  # its own ledger


def test_low_balance_watch_that_cannot_keep_its_state_alerts_rather_than_fails(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An alert must never stop a trade: a database that cannot be written means an alert too many."""
    path = tmp_path / "gone.db"
    database = open_database(f"sqlite:///{path}")
    database.dispose()
    path.unlink()  # SQLite opens an empty file in its place, without orion's tables: every statement fails
    try:
        sink = NullAlertSink()
        low = Balance(Venue.KALSHI, "live", D("1"), D("0"), D("1"), datetime(2026, 11, 21, tzinfo=UTC))
        with caplog.at_level(logging.WARNING, logger="orion_cli.core.alerts"):
            assert LowBalanceWatch(alert_settings(low_balance="50"), sink, database, "live").check([low]) == [low]
        assert [k for k, _, _ in sink.emitted] == ["balance.low"]
        assert any("alerting each low venue" in r.getMessage() for r in caplog.records), caplog.text
    finally:
        database.dispose()


def test_low_balance_alerts_only_for_known_balances_under_the_threshold() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    sink = NullAlertSink()
    settings = alert_settings(low_balance="50")
    kalshi = Balance(Venue.KALSHI, "paper", D("49.99"), D("0"), D("49.99"), now)
    poly = Balance(Venue.POLYMARKET, "paper", D("50"), D("0"), D("50"), now)
    low = low_balance_alerts({Venue.KALSHI: kalshi, Venue.POLYMARKET: poly}, settings, sink)
    assert low == [kalshi]
    [(kind, message, payload)] = sink.emitted
    assert kind == "balance.low"
    assert "kalshi" in message and "49.99" in message and "50" in message
    assert payload["available"] == D("49.99") and payload["threshold"] == D("50")
    assert low_balance_alerts([None, poly], settings, sink) == []


def test_unusable_alerts_warn_through_the_commands_own_warning_once(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Found black-box: the warning was a log record only, which `-q` drops; a command passes its own
    `warning:` line (kept with -q), which then says it once, and no log record repeats it."""
    said: list[str] = []
    with caplog.at_level(logging.WARNING, logger="orion_cli.core.alerts"):
        sink = webhook_sink(alert_settings(), vault(), db, mode="paper", warn=said.append)
    assert isinstance(sink, UnavailableAlertSink)
    sink.emit("halt", "trading halted: test", {})
    sink.flush()
    assert said == ["alerts are enabled but off for this run: alert_webhook_url is not in the vault"]
    assert not [r for r in caplog.records if "off for this run" in r.getMessage()]


# -- pinned by mutation testing ----------------------------------------------------------------------


def test_a_rate_limit_of_exactly_max_wait_is_waited_out_not_hammered(hook: Hook, db: Database) -> None:
    fake = FakeTime()
    until = fake.now + 2
    sent_at: list[float] = []

    def answer(n: int) -> tuple[int, dict[str, str]]:
        sent_at.append(fake.now)
        return (200, {}) if fake.now >= until else (429, {"Retry-After": "2"})

    hook.answer = answer
    sink = _timed_sink(hook, db, fake, max_wait=2.0)
    sink.emit("halt", "halted", {})
    sink.flush(5)
    assert sent_at == [1000.0, 1002.0]
    assert [e["attempts"] for e in events(db, "alert.sent")] == [2]


def test_the_backoff_is_capped_at_max_backoff(hook: Hook, db: Database) -> None:
    fake = FakeTime()
    hook.statuses = [503]
    sink = _timed_sink(hook, db, fake, retries=3, backoff=0.5, max_backoff=0.6)
    sink.emit("halt", "halted", {})
    deadline = time.monotonic() + 10
    while sink.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.pauses == [0.5, 0.6, 0.6] and len(hook.requests) == 4


def test_a_redirect_is_not_followed_nor_taken_for_delivered(hook: Hook, db: Database) -> None:
    """A 3xx is no delivery (the service did not take the alert), and the body is not sent on to
    wherever the answer points."""
    hook.answer = lambda n: (302, {"Location": "http://127.0.0.1:9/elsewhere"})
    sink = WebhookAlertSink(hook.url, fmt="generic", db=db, retries=2, backoff=0.01)
    sink.emit("halt", "halted", {})
    sink.flush(10)
    assert len(hook.requests) == 1 and events(db, "alert.sent") == []
    assert [(e["status"], e["error"]) for e in events(db, "alert.failed")] == [(302, "http_302")]


def test_a_payload_value_that_cannot_be_shown_never_fails_the_emitter(hook: Hook, db: Database) -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    sink = WebhookAlertSink(hook.url, fmt="slack", db=db, retries=0)
    sink.emit("halt", "halted", {"odd": Unprintable()})  # must return, not raise
    sink.flush(5)


def test_the_audited_message_is_clipped() -> None:
    payload = Outcome("halt", False, 1, 500, "http_500").audit_payload("generic", "x" * 2000)
    assert len(payload["message"]) == 500


def test_the_webhook_path_and_the_bot_token_are_redacted_wherever_httpx_logs_them(
        hook: Hook, db: Database, captured_logs: Capture) -> None:
    """httpx's request line holds the whole URL; a line with only its path, or only the token (another
    httpx or httpcore version, a debug line), is redacted too."""
    webhook_sink(alert_settings(format="telegram", telegram_chat_id="42"), vault(telegram_bot_token=CANARY_TOKEN),
                 db, telegram_api=hook.base, mode="paper")
    WebhookAlertSink(hook.url, fmt="generic", db=db)
    httpx_log = logging.getLogger("httpx")
    httpx_log.info("token %s", CANARY_TOKEN)
    httpx_log.info("path %s", "/" + CANARY_PATH)
    lines = [r.getMessage() for r in captured_logs.records]
    assert "token <redacted>" in lines and "path <redacted>" in lines, lines
