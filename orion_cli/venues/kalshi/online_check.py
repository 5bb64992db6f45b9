"""``orion secrets check --online`` for Kalshi: one signed ``GET /portfolio/balance``.

Importing this module registers the check (``orion_cli.cli.commands.secrets`` imports it). The
check never raises for a rejected or malformed credential and never echoes a credential: a 401
becomes a ``failed`` result naming Kalshi's error code (``authentication_error: NOT_FOUND`` for
an unknown key id, ``INCORRECT_API_KEY_SIGNATURE`` for a key pair that does not match,
``header_timestamp_expired`` for a skewed clock). Only that refusal is ``failed``: no answer is
``unreachable``, and an answer orion cannot read (or a non-auth error) ``unreadable``.

Which exchange is asked (prod or demo) comes from the settings (``kalshi.environment``), read from
the user config file, ``$ORION_CONFIG`` and ``ORION_*`` variables; a demo key is unknown on prod.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from orion_cli.core.errors import AuthError, OrionError, SecretsError, VenueUnavailable
from orion_cli.secrets.store import CheckResult, register_online_check

if TYPE_CHECKING:
    import httpx

    from orion_cli.core.config import Settings
    from orion_cli.secrets.store import SecretStore

__all__ = ["KEY_ID", "PRIVATE_KEY", "VENUE", "check_kalshi", "make_check"]

VENUE = "kalshi"
KEY_ID = "kalshi_api_key_id"
PRIVATE_KEY = "kalshi_private_key"


def _loaded_settings() -> Settings:
    from orion_cli.core.config import load_settings

    return load_settings()


def _configured_base_url(settings: Settings) -> str:
    return settings.kalshi.base_url


def _run(coro_factory: Callable[[], Coroutine[Any, Any, CheckResult]]) -> CheckResult:
    """Run a coroutine from sync code, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    box: list[CheckResult] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(asyncio.run(coro_factory()))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    t = threading.Thread(target=target, name="kalshi-online-check")
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return box[0]


async def _balance_call(
    key_id: str, pem: bytes, base_url: str, transport: httpx.AsyncBaseTransport | None, timeout: float
) -> CheckResult:
    from orion_cli.core.redact import mask_web_url
    from orion_cli.venues.http import RetryPolicy
    from orion_cli.venues.kalshi.signing import KalshiSigner
    from orion_cli.venues.kalshi.trading import KalshiTrading

    signer = KalshiSigner.from_pem(key_id, pem)
    async with KalshiTrading(
        signer, base_url=base_url, transport=transport, timeout=timeout, retry=RetryPolicy(2, 0.2, 1.0)
    ) as venue:
        balance = await venue.balance(with_reserved=False)
    return CheckResult(KEY_ID, "ok", f"kalshi accepted the signed balance request ({mask_web_url(base_url)}); "
                                     f"balance ${balance.available}")


def check_kalshi(
    store: SecretStore,
    settings: Settings | None = None,
    *,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 10.0,
) -> list[CheckResult]:
    """Authenticate once against Kalshi with the stored key id and private key, at ``base_url`` or the URL
    ``settings`` name (the command's; without them, the configuration as loaded from the environment)."""
    key_value = store.get_optional(KEY_ID)
    pem_value = store.get_optional(PRIVATE_KEY)
    if key_value is None or pem_value is None:
        missing = ", ".join(n for n, v in ((KEY_ID, key_value), (PRIVATE_KEY, pem_value)) if v is None)
        for v in (key_value, pem_value):
            if v is not None:
                v.wipe()
        return [CheckResult(KEY_ID, "skipped", f"kalshi online check skipped: {missing} not set")]
    try:
        url = base_url or _configured_base_url(settings or _loaded_settings())
        if settings is not None and base_url is None:  # the command's own, as a live client is built
            timeout = float(settings.kalshi.timeout_seconds)
        with key_value, pem_value:
            key_id = key_value.reveal()
            pem = pem_value.reveal_bytes()
            return [_run(lambda: _balance_call(key_id, pem, url, transport, timeout))]
    except AuthError as exc:
        return [CheckResult(KEY_ID, "failed", exc.message)]
    except SecretsError as exc:  # the PEM does not load; the message never quotes it
        return [CheckResult(PRIVATE_KEY, "invalid", exc.message)]
    except VenueUnavailable as exc:  # unreachable: not a verdict on the credential
        return [CheckResult(KEY_ID, "unreachable", f"kalshi could not be checked: {exc.message}")]
    except OrionError as exc:  # an answer that says nothing about the key (a 404, a body or field orion
        # cannot read): not a verdict either, so not "failed" (exit 4, "rejected credentials")
        return [CheckResult(KEY_ID, "unreadable", f"kalshi could not be checked: {exc.message}")]


def make_check(
    *, base_url: str | None = None, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0
) -> Callable[[SecretStore, Settings | None], list[CheckResult]]:
    """A check bound to a URL/transport (tests)."""

    def run(store: SecretStore, settings: Settings | None = None) -> list[CheckResult]:
        return check_kalshi(store, settings, base_url=base_url, transport=transport, timeout=timeout)

    return run


register_online_check(VENUE, check_kalshi)
