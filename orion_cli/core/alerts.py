"""Webhook alerts delivered in the background: a trade never waits for, or fails because of, an alert.

:func:`webhook_sink` builds the :class:`~orion_cli.core.alert_sink.AlertSink` the services emit to.
``emit`` only renders the body and puts it on a bounded queue; one daemon thread delivers it with
one attempt and up to ``alerts.retries`` retries (exponential backoff, or the wait a 429/503 asks
for in ``Retry-After``; ``alerts.timeout_seconds`` each; within the command's wait at exit once it
has begun), then audits the
outcome as ``alert.sent`` or ``alert.failed`` (kind, attempts, HTTP status or error class). The
database is touched only by that thread, never from ``emit``, so an alert raised inside a
:meth:`Database.write` transaction cannot deadlock on the write lock. A short-lived command calls
``flush(timeout)`` before exiting; the thread is a daemon, so an unreachable webhook never keeps a
process alive beyond that bound.

The webhook URL and the Telegram bot token come from the vault. They are secrets (a Slack or
Discord webhook URL is a credential in itself), so they never appear in an audit event, a log
record or an error: failures are described by HTTP status or exception class only, and httpx's
own request log line is redacted.

Every alert's payload names its ``mode`` (``paper`` or ``live``; the sink's ledger when the emitter
gave none), and the chat formats' text says it after the kind.

Formats: ``generic`` posts ``{"type": "alert", "id", "kind", "message", "payload", "ts", "host"}`` (``id``:
the alert's own, the same in every attempt to deliver it, so a receiver can drop a repeat);
``slack`` posts ``{"text": ...}`` (``&``, ``<``, ``>`` escaped, so no text can ping a channel or
make a link); ``discord`` posts ``{"content": ..., "allowed_mentions": {"parse": []}}`` (no mention
pings); ``telegram`` posts ``{"chat_id", "text"}`` to ``<api>/bot<token>/sendMessage`` (plain text: no
``parse_mode``).

Delivery is at least once: an attempt the service took in but did not answer (a read timeout, the
connection closed before the answer) may have been delivered, and it is retried all the same, a page
that may be repeated being better than one lost; the chat formats have no id to drop a repeat by. An
alert that ends without an answer to any attempt is audited ``alert.failed`` with ``unanswered`` (the
attempts that may have been delivered) and said as "not confirmed", never as not delivered (found
reviewing alerts: a slow webhook showed three copies of a halt page while the log said it never arrived).

Alerts disabled (``alerts.enabled = false``): a :class:`~orion_cli.core.alert_sink.NullAlertSink`.
Enabled but unusable (no secret; for Telegram no ``alerts.telegram_chat_id``; a vault that cannot be
opened): an :class:`UnavailableAlertSink`, which warns once and audits every alert it could not send
as ``alert.failed``. Either way callers never need to check.

``balance.low`` fires when a venue's available balance *falls* below ``alerts.low_balance``:
:class:`LowBalanceWatch` alerts a venue once and again only after it has recovered, remembering
which venues are low in the database, so a trade loop, a trade or a reconcile run from cron, or
several processes sharing the database do not repeat it on every pass.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from orion_cli.core.alert_sink import AlertSink, NullAlertSink
from orion_cli.core.errors import OrionError
from orion_cli.core.revealed import scrub_revealed, scrub_revealed_in

if TYPE_CHECKING:
    import httpx

    from orion_cli.core.config import Settings
    from orion_cli.core.models import Venue
    from orion_cli.store.db import Database
    from orion_cli.venues.trading import Balance

log = logging.getLogger(__name__)

TELEGRAM_API = "https://api.telegram.org"
FORMATS = ("generic", "slack", "discord", "telegram")
KINDS = ("halt", "resume", "breaker.warning", "breaker.tripped", "unwind.failed", "execution.interrupted",
         "reconcile.drift", "balance.low")
QUEUE_SIZE = 256
DEFAULT_BACKOFF = 0.5  # seconds before the 2nd attempt; doubles per attempt
MAX_BACKOFF = 30.0
# The longest a service's Retry-After is waited for: a longer one gives the alert up at once (audited
# with the wait asked). A short command waits less still: its attempts end with its wait at exit.
MAX_WAIT = 60.0
WATCH_MAX_WAIT = 300.0  # `trade --watch` lives on: it may wait out a longer rate limit
EXIT_RESERVE = 1.0  # a retry is not begun in the last second of the wait at exit (it could not be answered)
# Chat services cap message length; a longer text is refused, not truncated, by the service.
TEXT_LIMITS = {"slack": 3900, "discord": 2000, "telegram": 4096}


# -- rendering ---------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Payload values as JSON: Decimal as exact strings, times as ISO UTC, anything odd as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Slack's control characters as entities (its documented rule: ``&``, ``<``, ``>``), so an
    operator's reason or a venue's market title cannot write ``<!channel>`` or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip_escaped(text: str, limit: int) -> str:
    """:func:`_clip` for escaped text: never cut inside an entity (``&am…`` would show raw)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    amp = head.rfind("&", max(0, len(head) - 4))
    if amp >= 0 and ";" not in head[amp:]:
        head = head[:amp]
    return head + "…"


def alert_text(kind: str, message: str, payload: Mapping[str, Any], host: str) -> str:
    """The human line chat formats show: kind, mode (paper or live), host, message, then the payload as
    compact JSON."""
    mode = payload.get("mode")
    text = f"[orion] {kind} ({mode}) on {host}: {message}" if mode else f"[orion] {kind} on {host}: {message}"
    if payload:
        text += "\n" + json.dumps(_jsonable(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text


def render(fmt: str, kind: str, message: str, payload: Mapping[str, Any] | None, *, ts: datetime, host: str,
           chat_id: str = "", mode: str = "") -> dict[str, Any]:
    """The JSON body posted for ``fmt``. ``mode``: the ledger the sender works on, ``paper`` or ``live``;
    the payload's own ``mode`` wins, and one without gets this one, so every alert says whether it
    is a drill or real money (a paper watch and live trading may share a host and a channel)."""
    data = dict(payload or {})
    if mode and not data.get("mode"):
        data["mode"] = mode
    if fmt == "generic":
        import uuid

        return {"type": "alert", "id": uuid.uuid4().hex, "kind": kind, "message": message,
                "payload": _jsonable(data), "ts": _jsonable(ts), "host": host}
    text = alert_text(kind, message, data, host)
    if fmt == "slack":
        return {"text": _clip_escaped(slack_escape(text), TEXT_LIMITS["slack"])}
    if fmt == "discord":  # no mention in the text pings anyone (@everyone, a user, a role)
        return {"content": _clip(text, TEXT_LIMITS["discord"]), "allowed_mentions": {"parse": []}}
    if fmt == "telegram":
        return {"chat_id": chat_id, "text": _clip(text, TEXT_LIMITS["telegram"]), "disable_web_page_preview": True}
    raise ValueError(f"unknown alert format {fmt!r}")


def telegram_url(token: str, api_base: str = TELEGRAM_API) -> str:
    return f"{api_base.rstrip('/')}/bot{token}/sendMessage"


# -- keeping the secrets out of log records ------------------------------------------------------------


class _RedactSecrets(logging.Filter):
    """httpx logs every request's full URL at INFO; for a webhook that URL is the credential."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            self._secrets.update(v for v in values if len(v) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        if not secrets:
            return True
        try:
            text = record.getMessage()
        except Exception:
            return True
        redacted = text
        for s in secrets:
            redacted = redacted.replace(s, "<redacted>")
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


_REDACTOR = _RedactSecrets()
_REDACTOR_INSTALLED = False
_REDACTOR_LOCK = threading.Lock()


def _protect(url: str, extra: Iterable[str]) -> None:
    """Register the URL (in every spelling httpx may log it) and its secret parts for redaction."""
    global _REDACTOR_INSTALLED
    import httpx

    values = {url, *extra}
    try:
        parsed = httpx.URL(url)
        values.add(str(parsed))
        values.add(parsed.raw_path.decode("ascii", "replace"))
    except Exception as exc:  # an invalid URL fails at delivery time, as an error class
        log.debug("alert webhook URL does not parse (%s)", type(exc).__name__)
    values.discard("/")
    _REDACTOR.add(values)
    with _REDACTOR_LOCK:
        if not _REDACTOR_INSTALLED:
            for name in ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2"):
                logging.getLogger(name).addFilter(_REDACTOR)
            _REDACTOR_INSTALLED = True


# -- the sink ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Alert:
    kind: str
    message: str
    body: dict[str, Any]
    venue: str = ""  # balance.low: whose low mark to clear when the alert is not delivered
    venue_mode: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one delivery ended (what is audited)."""

    kind: str
    delivered: bool
    attempts: int
    status: int | None  # last HTTP status, when an answer came
    error: str | None  # exception class or "http_<status>", never the URL
    retry_after: float | None = None  # the wait the last answer asked for (429/503 Retry-After)
    unanswered: int = 0  # attempts the service took in without answering: any of them may have been delivered

    def audit_payload(self, fmt: str, message: str) -> dict[str, Any]:
        payload = {"kind": self.kind, "format": fmt, "attempts": self.attempts, "status": self.status,
                   "error": self.error, "message": _clip(message, 500)}
        if self.retry_after is not None:
            payload["retry_after_s"] = round(self.retry_after, 3)
        if self.unanswered:
            payload["unanswered"] = self.unanswered
        return payload


def undelivered_text(outcome: Outcome) -> str:
    """The command's warning for an alert that was not delivered (never the URL)."""
    tries = f"after {outcome.attempts} attempt{'' if outcome.attempts == 1 else 's'}"
    if outcome.error == "queue_full":
        why = "dropped: too many alerts queued"
    elif outcome.error == "undelivered_at_exit":
        why = f"no answer before the wait at exit ended, {tries}"
    elif outcome.error == "rate_limited":
        why = "the webhook was still rate limiting alerts when the wait at exit ended"
    elif outcome.retry_after is not None:
        why = f"HTTP {outcome.status} {tries}; the service asked to wait {outcome.retry_after:g}s"
    elif outcome.status is not None:
        why = f"HTTP {outcome.status} {tries}"
    else:
        why = f"{outcome.error} {tries}"
    if outcome.unanswered:
        sent = "it" if outcome.unanswered == 1 else f"each of {outcome.unanswered}"
        return (f"alert {outcome.kind} was not confirmed delivered ({why}; the service took {sent} in without "
                "answering: it may have arrived, more than once); audited as alert.failed")
    return f"alert {outcome.kind} was not delivered ({why}); audited as alert.failed"


# Raised once the request went out, before any answer: the service may have taken the alert in.
_UNANSWERED = ("ReadTimeout", "ReadError", "RemoteProtocolError")


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 425, 429)


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds a 429 or 503 answer asks to wait before the next request, or None when it does not say.

    ``Retry-After`` in seconds or as an HTTP date (RFC 9110); without it, the JSON body's
    ``retry_after`` (Discord, seconds) or ``parameters.retry_after`` (Telegram). A date in the past
    is 0; a value that does not parse is None (the usual backoff applies)."""
    import email.utils
    import math

    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("Retry-After", "").strip()
    seconds: float | None = None
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
    else:
        try:
            data = response.json()
        except Exception:
            return None
        if isinstance(data, dict):
            found = data.get("retry_after")
            if found is None and isinstance(data.get("parameters"), dict):
                found = data["parameters"].get("retry_after")
            if isinstance(found, int | float) and not isinstance(found, bool):
                seconds = float(found)
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class WebhookAlertSink:
    """Posts alerts to one webhook from a background daemon thread (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        fmt: str,
        db: Database | None,
        mode: str = "paper",
        chat_id: str = "",
        retries: int = 3,
        timeout: float = 5.0,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        max_wait: float = MAX_WAIT,
        queue_size: int = QUEUE_SIZE,
        host: str | None = None,
        transport: httpx.BaseTransport | None = None,
        redact: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[float], object] | None = None,
        undelivered: Callable[[Outcome], None] | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown alert format {fmt!r}")
        self._url = url
        self.format = fmt
        self._db = db
        self.mode = mode
        self._chat_id = chat_id
        self.retries = max(0, retries)  # alerts.retries: retries after the first attempt
        self.attempts = 1 + self.retries
        self._timeout = timeout
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_wait = max_wait
        self._clock = clock
        self._wake = threading.Event()  # set by flush (an exit wait began) and close: a pause ends early
        self._pause = pause if pause is not None else self._wake.wait
        self._exit_by: float | None = None  # when the command's wait at exit ends (flush), on ``clock``
        self._not_before: float | None = None  # the service's rate limit (Retry-After), for every alert
        self._tries: dict[int, int] = {}  # attempts made or in flight, per alert being delivered (by id)
        self._undelivered = undelivered  # the command's own warning (kept with -q), said by flush
        self._unsaid: list[Outcome] = []  # alerts not delivered, not yet said through ``undelivered``
        self._said_at_exit: set[int] = set()  # alerts said undelivered at exit (by id): not said twice
        self._host = host or socket.gethostname()
        self._transport = transport
        self._queue: queue.Queue[_Alert | None] = queue.Queue(maxsize=max(1, queue_size))
        self._cond = threading.Condition()
        self._pending = 0
        self._dropped: dict[str, int] = {}
        self._outstanding: list[_Alert] = []  # queued or being delivered, not yet audited as undelivered
        self._dropped_items: list[_Alert] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.outcomes: list[Outcome] = []  # the newest few, for diagnostics
        _protect(url, redact)

    def __repr__(self) -> str:
        return f"WebhookAlertSink(format={self.format!r}, url=<redacted>)"

    # -- the caller's side (never blocks, never raises) ---------------------------------------------

    def emit(self, kind: str, message: str, payload: Mapping[str, Any] | None = None) -> None:
        try:
            message = scrub_revealed(message)  # a venue's words may quote a secret back (core.revealed)
            body = render(self.format, kind, message, scrub_revealed_in(payload), ts=datetime.now(UTC),
                          host=self._host, chat_id=self._chat_id, mode=self.mode)
            item = _Alert(kind, message, body, str((payload or {}).get("venue") or ""),
                          str((payload or {}).get("mode") or ""))
            with self._cond:
                if self._stop.is_set():
                    return
                try:
                    self._queue.put_nowait(item)
                except queue.Full:
                    self._dropped[kind] = self._dropped.get(kind, 0) + 1
                    self._unsaid.append(Outcome(kind, False, 0, None, "queue_full"))
                    log.warning("alert queue full: %s alert dropped", kind)
                    self._dropped_items.append(item)  # the worker clears a dropped low mark (no I/O here)
                    return
                self._pending += 1
                self._outstanding.append(item)
                self._ensure_worker()
        except Exception as exc:  # an alert must never fail the trade that raised it
            log.warning("alert %s not queued (%s)", kind, type(exc).__name__)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` seconds for queued alerts to be delivered (or given up) and audited.

        A zero timeout does not wait (deliveries go on in the background, and audit themselves).
        Alerts still undelivered when the wait ends (a command about to exit: the worker is a daemon
        thread and dies with it) are audited as ``alert.failed`` (``error: "undelivered_at_exit"``)
        now, since no later record may come; a later outcome, if the process lives on, is audited too.
        Either way, each alert found not delivered by then (given up, dropped, or still undelivered)
        is said through ``undelivered`` (the command's warning), here, on the caller's thread.
        """
        try:
            self._flush(timeout)
        finally:
            self._say_undelivered()

    def _say_undelivered(self) -> None:
        with self._cond:
            unsaid, self._unsaid = self._unsaid, []
        if self._undelivered is None:
            return
        for outcome in unsaid:
            try:
                self._undelivered(outcome)
            except Exception as exc:  # saying it must never fail the command
                log.warning("alert %s not delivered; could not say so (%s)", outcome.kind, type(exc).__name__)

    def _flush(self, timeout: float) -> None:
        if timeout <= 0:
            return
        deadline = self._clock() + timeout
        with self._cond:
            self._exit_by = deadline  # the worker's retries and waits end with this wait (see _wait_until)
        self._wake.set()
        try:
            with self._cond:
                while self._pending > 0:
                    left = deadline - self._clock()
                    if left <= 0:
                        log.log(logging.INFO if self._undelivered else logging.WARNING,
                                "%d alert(s) still undelivered after waiting %.1fs", self._pending, timeout)
                        left_over, self._outstanding = self._outstanding, []  # each audited once
                        tries = [self._tries.get(id(item), 0) for item in left_over]
                        self._unsaid.extend(Outcome(item.kind, False, made, None, "undelivered_at_exit")
                                            for item, made in zip(left_over, tries, strict=True))
                        self._said_at_exit.update(id(item) for item in left_over)
                        break
                    self._cond.wait(left)
                else:
                    return
        finally:
            with self._cond:
                self._exit_by = None  # a process that lives on (tests, a caller) retries as usual again
        for item, made in zip(left_over, tries, strict=True):  # outside the lock: auditing writes to the database
            self._audit("alert.failed", {**Outcome(item.kind, False, made, None, "undelivered_at_exit")
                                         .audit_payload(self.format, item.message), "waited_s": timeout})
            self._forget_low(item)
        self._audit_dropped()  # otherwise only the worker does, after its next delivery

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def close(self, timeout: float = 5.0) -> None:
        """Flush, then stop the worker (further emits are ignored)."""
        self.flush(timeout)
        self._stop.set()
        self._wake.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        if self._thread is not None:
            self._thread.join(timeout=0.5)

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="orion-alerts", daemon=True)
            self._thread.start()

    # -- the worker's side ---------------------------------------------------------------------------

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=self._timeout, transport=self._transport, follow_redirects=False) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                try:
                    outcome = self._deliver(client, item)
                    self._record(outcome, item.message)
                    with self._cond:
                        if not outcome.delivered and id(item) not in self._said_at_exit:
                            self._unsaid.append(outcome)
                        self._said_at_exit.discard(id(item))
                    if not outcome.delivered and not outcome.unanswered:  # told, maybe: not again on every look
                        self._forget_low(item)
                    self._audit_dropped()
                except Exception as exc:
                    log.warning("alert worker error (%s)", type(exc).__name__)
                finally:
                    with self._cond:
                        self._tries.pop(id(item), None)
                        self._pending -= 1
                        self._outstanding = [a for a in self._outstanding if a is not item]
                        self._cond.notify_all()

    def _deliver(self, client: httpx.Client, item: _Alert) -> Outcome:
        """Post ``item`` until it is delivered, refused for good, or out of retries or time.

        Between attempts: the wait a 429/503 answer asks for (``Retry-After``; longer than
        ``max_wait`` gives the alert up at once), else exponential backoff. Once the command waits at
        exit (:meth:`flush`), no retry begins later than ``EXIT_RESERVE`` before that wait ends: a
        backoff that would is brought forward, a service's rate limit that would is not (an attempt
        before it would only be refused again)."""
        import httpx

        status: int | None = None
        error: str | None = None
        asked: float | None = None
        attempt = 0
        unanswered = 0
        while True:
            with self._cond:
                not_before = self._not_before
                if not_before is not None and not_before <= self._clock():
                    not_before = self._not_before = None  # the service's wait is over
            if not_before is not None and not self._wait_until(not_before, firm=True):
                return Outcome(item.kind, False, attempt, status, error or "rate_limited", asked, unanswered)
            attempt += 1
            with self._cond:
                self._tries[id(item)] = attempt
            asked = None
            try:
                response = client.post(self._url, json=item.body)
                status = response.status_code
                if 200 <= status < 300:
                    return Outcome(item.kind, True, attempt, status, None)
                error = f"http_{status}"
                if not _retryable(status):
                    break
                asked = retry_after(response)
            except httpx.HTTPError as exc:
                status, error = None, type(exc).__name__
                unanswered += error in _UNANSWERED
            except Exception as exc:  # e.g. an invalid URL: not worth retrying
                status, error = None, type(exc).__name__
                break
            if asked is not None and asked <= self._max_wait:
                with self._cond:  # the service's limit holds for the alerts queued behind this one too,
                    self._not_before = self._clock() + asked  # this one's last attempt's answer included
            if attempt >= self.attempts or (asked is not None and asked > self._max_wait):
                break
            if asked is not None:
                continue
            delay = min(self._max_backoff, self._backoff * (2 ** (attempt - 1)))
            if not self._wait_until(self._clock() + delay, firm=False):
                break
        return Outcome(item.kind, False, attempt, status, error, asked, unanswered)

    def _wait_until(self, when: float, *, firm: bool) -> bool:
        """Pause until ``when`` (on ``clock``); False when the next attempt is not to be made: the sink
        was closed, or the command's wait at exit ends before ``when`` can come (``firm``: a
        service's rate limit, never brought forward) or before any retry could be answered."""
        forward = False  # paused until a retry brought forward into the wait at exit: made once reached
        while True:
            self._wake.clear()
            if self._stop.is_set():
                return False
            with self._cond:
                exit_by = self._exit_by
            target = when
            if exit_by is not None:
                latest = exit_by - min(EXIT_RESERVE, self._timeout)
                if when > latest:
                    if firm or (latest <= self._clock() and not forward):
                        return False
                    target, forward = latest, True
            left = target - self._clock()
            if left <= 0:
                return True
            self._pause(left)  # ends early when an exit wait begins (flush) or the sink closes

    def _record(self, outcome: Outcome, message: str) -> None:
        self.outcomes = [*self.outcomes[-49:], outcome]
        if outcome.delivered:
            log.info("alert %s delivered (attempt %d)", outcome.kind, outcome.attempts)
        else:  # a command says it in its own words (undelivered_text), kept with -q
            log.log(logging.INFO if self._undelivered else logging.WARNING,
                    "alert %s not delivered after %d attempt(s): %s", outcome.kind, outcome.attempts, outcome.error)
        self._audit("alert.sent" if outcome.delivered else "alert.failed", outcome.audit_payload(self.format, message))

    def _forget_low(self, item: _Alert) -> None:
        _forget_low(self._db, item, self.mode)

    def _audit_dropped(self) -> None:
        with self._cond:
            dropped, self._dropped = self._dropped, {}
            items, self._dropped_items = self._dropped_items, []
        for item in items:
            self._forget_low(item)
        for kind, count in dropped.items():
            self._audit("alert.failed", {"kind": kind, "format": self.format, "attempts": 0, "status": None,
                                         "error": "queue_full", "dropped": count})

    def _audit(self, type_: str, payload: dict[str, Any]) -> None:
        _audit(self._db, self.mode, type_, payload)


def _forget_low(db: Database | None, item: _Alert, mode: str) -> None:
    """A ``balance.low`` alert that was not delivered: clear the venue's low mark, so the next look
    alerts the fall again instead of taking it as already told (until the daily reminder)."""
    if item.kind != "balance.low" or not item.venue or db is None:
        return
    from orion_cli.store.low_balance import clear_low

    try:
        clear_low(db, item.venue_mode or mode, item.venue)
    except Exception as exc:
        log.warning("could not clear the low-balance mark of %s (%s)", item.venue, type(exc).__name__)


def _audit(db: Database | None, mode: str, type_: str, payload: dict[str, Any]) -> None:
    """An alert's outcome in its own transaction; a failure to audit is logged, never raised."""
    if db is None:
        return
    from orion_cli.store.audit import AuditLog

    try:
        AuditLog(db).record(type_, payload, mode=mode)
    except Exception as exc:
        log.warning("could not audit %s (%s)", type_, type(exc).__name__)


def _log_warning(text: str) -> None:
    log.warning("%s", text)


class UnavailableAlertSink:
    """Alerts are enabled but cannot be sent (no webhook secret, no chat id, a vault that cannot be read).

    Warns once when built, through ``warn`` (a command passes its own ``warning:`` line, kept with
    ``-q``, so a cron job's log says its alerts went nowhere; without one, a log record), and records
    every alert emitted; ``flush`` audits each as ``alert.failed`` (``error: "unavailable"``, the
    reason code, no attempt made), so the audit log keeps the trace too. Like the webhook sink,
    ``emit`` never touches the database (it may be called inside a write transaction).
    """

    def __init__(self, db: Database | None, *, fmt: str, mode: str, reason: str, why: str,
                 warn: Callable[[str], None] | None = None) -> None:
        self._db = db
        self.format = fmt
        self.mode = mode
        self.reason = reason
        self._pending: list[_Alert] = []
        self._low: list[_Alert] = []  # balance.low alerts of this run, their marks cleared at the exit wait
        self._lock = threading.Lock()
        say = warn if warn is not None else _log_warning
        say(f"alerts are enabled but off for this run: {why}")

    def emit(self, kind: str, message: str, payload: Mapping[str, Any] | None = None) -> None:
        about = payload or {}
        item = _Alert(kind, message, {}, str(about.get("venue") or ""), str(about.get("mode") or ""))
        with self._lock:
            self._pending.append(item)

    def flush(self, timeout: float = 5.0) -> None:
        """Audits each alert as not sent. The wait before exit (``timeout`` > 0) also clears the low
        marks of the run's ``balance.low`` alerts, as the webhook sink does for an undelivered one, so
        the next process alerts the fall again (not at the daily reminder) once alerts work; a watch's
        per-round ``flush(0)`` keeps them, since nothing can be sent before the process ends."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._low.extend(item for item in pending if item.kind == "balance.low")
            low, self._low = (self._low, []) if timeout > 0 else ([], self._low)
        for item in pending:
            payload = Outcome(item.kind, False, 0, None, "unavailable").audit_payload(self.format, item.message)
            _audit(self._db, self.mode, "alert.failed", {**payload, "reason": self.reason})
        for item in low:
            _forget_low(self._db, item, self.mode)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)


# -- construction from settings ----------------------------------------------------------------------


SecretGetter = Callable[[str], str | None]


def webhook_sink(
    settings: Settings,
    secret_getter: SecretGetter,
    db: Database | None,
    *,
    mode: str,
    telegram_api: str = TELEGRAM_API,
    transport: httpx.BaseTransport | None = None,
    backoff: float = DEFAULT_BACKOFF,
    warn: Callable[[str], None] | None = None,
    max_wait: float = MAX_WAIT,
    undelivered: Callable[[Outcome], None] | None = None,
) -> AlertSink:
    """The configured sink; a :class:`NullAlertSink` when alerts are off; an :class:`UnavailableAlertSink`
    when they are on but cannot be sent (secret missing, vault locked, bad configuration).

    ``secret_getter(name)`` returns the vault's value or None (it may raise an ``OrionError`` when
    the vault is locked: alerts are then unavailable for this process, as above). ``mode`` is the
    ledger the command works on, which the audit events of deliveries carry: a command trading live
    through the flag or environment pair is live whatever ``trading.mode`` says. ``telegram_api``
    replaces ``https://api.telegram.org`` (tests point it at a loopback server). ``warn`` says why
    alerts are off for this run (a command's ``warning:`` line, kept with ``-q``; without one, a log
    record). ``max_wait``: the longest rate limit (``Retry-After``) a delivery waits out; `trade
    --watch`, which lives on, passes ``WATCH_MAX_WAIT``. ``undelivered``: how the command says an alert
    was not delivered (its ``warning:`` line, see :func:`undelivered_text`), from ``flush``.
    """
    cfg = settings.alerts
    if not cfg.enabled:
        return NullAlertSink()
    fmt = cfg.format
    redact: list[str] = []
    chat_id = ""
    try:
        if fmt == "telegram":
            token = secret_getter("telegram_bot_token")
            chat_id = cfg.telegram_chat_id.strip()
            if not token:
                return UnavailableAlertSink(db, fmt=fmt, mode=mode, warn=warn, reason="secret_missing",
                                            why="format telegram but telegram_bot_token is not in the vault")
            if not chat_id:
                return UnavailableAlertSink(db, fmt=fmt, mode=mode, warn=warn, reason="config",
                                            why="format telegram but alerts.telegram_chat_id is empty")
            url = telegram_url(token, telegram_api)
            redact.append(token)
        else:
            found = secret_getter("alert_webhook_url")
            if not found:
                return UnavailableAlertSink(db, fmt=fmt, mode=mode, warn=warn, reason="secret_missing",
                                            why="alert_webhook_url is not in the vault")
            url = found
    except OrionError as exc:
        return UnavailableAlertSink(db, fmt=fmt, mode=mode, warn=warn, reason=exc.reason,
                                    why=f"the alert credentials could not be read: {exc.message}"
                                        + (f" ({exc.hint})" if exc.hint else ""))
    return WebhookAlertSink(
        url, fmt=fmt, db=db, mode=mode, chat_id=chat_id, retries=cfg.retries,
        timeout=float(cfg.timeout_seconds), backoff=backoff, max_wait=max_wait, transport=transport, redact=redact,
        undelivered=undelivered,
    )


class LowBalanceWatch:
    """``balance.low`` on the way down only: a venue is alerted once, and again after it recovered.

    "Before" is kept in the database (:mod:`orion_cli.store.low_balance`), per ledger, so it holds
    across processes: a trade or reconcile run from cron alerts on the run that saw the fall, not on
    every run after it, and of several processes sharing the database only one alerts.
    """

    def __init__(self, settings: Settings, sink: AlertSink, db: Database, mode: str) -> None:
        self.settings = settings
        self.sink = sink
        self.db = db
        self.mode = mode

    def check(self, balances: Mapping[Venue, Balance | None] | Iterable[Balance | None]) -> list[Balance]:
        """Alert the venues that fell below the threshold since the last check; return them.

        Never raises for its own state: if the database cannot be written, every low venue is
        alerted (an alert too many rather than none), and the trade goes on.
        """
        from sqlalchemy.exc import SQLAlchemyError

        from orion_cli.store.low_balance import record_low

        threshold = self.settings.alerts.low_balance
        values = [b for b in (balances.values() if isinstance(balances, Mapping) else balances) if b is not None]
        low = [b for b in values if b.available < threshold]
        try:
            fell = record_low(self.db, self.mode, [b.venue for b in low],
                              [b.venue for b in values if b.available >= threshold], datetime.now(UTC))
        except (OrionError, SQLAlchemyError) as exc:
            log.warning("could not read or keep which venues are low (%s); alerting each low venue",
                        getattr(exc, "message", type(exc).__name__))
            fell = {b.venue for b in low}
        return low_balance_alerts([b for b in low if b.venue in fell], self.settings, self.sink)


def low_balance_alerts(
    balances: Mapping[Venue, Balance | None] | Iterable[Balance | None],
    settings: Settings,
    sink: AlertSink,
) -> list[Balance]:
    """Emit ``balance.low`` for each known balance whose available cash is under ``alerts.low_balance``.

    Unknown balances (None) are skipped: the BALANCE check already refuses on them. Returns the low
    balances. Callers that run often use :class:`LowBalanceWatch`, which alerts only on the way down.
    """
    threshold = settings.alerts.low_balance
    values = balances.values() if isinstance(balances, Mapping) else balances
    low: list[Balance] = []
    for bal in values:
        if bal is None or bal.available >= threshold:
            continue
        low.append(bal)
        sink.emit(
            "balance.low",
            f"{bal.venue.value} {bal.mode} available balance {format(bal.available, 'f')} is below "
            f"{format(threshold, 'f')}",
            {"venue": bal.venue.value, "mode": bal.mode, "available": bal.available, "total": bal.total,
             "threshold": threshold, "as_of": bal.as_of},
        )
    return low
