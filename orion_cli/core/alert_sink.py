"""Where operational alerts go: the interface every service emits to.

Services (breaker, executor, reconcile, balance) call ``sink.emit(kind, message, payload)`` and
never wait for delivery: a webhook sink delivers in the background with retries and audits a failed
delivery; it never blocks or fails a trade. Kinds: ``halt``, ``resume``, ``breaker.warning``,
``breaker.tripped``, ``unwind.failed``, ``reconcile.drift``, ``balance.low``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class AlertSink(Protocol):
    def emit(self, kind: str, message: str, payload: Mapping[str, Any] | None = None) -> None: ...

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for queued deliveries, e.g. before a short-lived command exits.

        ``flush(0)`` never waits: a long-running loop calls it between rounds so that whatever is
        already decided (an alert that cannot be sent at all) is audited now, not at exit.
        """
        ...


class NullAlertSink:
    """Alerts disabled: remembers what would have been sent (useful in tests and dry runs)."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, str, dict[str, Any]]] = []

    def emit(self, kind: str, message: str, payload: Mapping[str, Any] | None = None) -> None:
        self.emitted.append((kind, message, dict(payload or {})))

    def flush(self, timeout: float = 5.0) -> None:
        return None
