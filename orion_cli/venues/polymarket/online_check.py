"""``orion secrets check --online`` for Polymarket: prove the wallet key (L1) and the API key (L2) work.

Two independent questions, two results, so the operator knows which credential to fix:

* ``polymarket_private_key`` — L1: sign a ClobAuth message and ``GET /auth/derive-api-key``. The
  venue answers with the API key bound to this wallet; if it differs from the stored
  ``polymarket_api_key`` the stored triple belongs to another wallet (or another nonce).
* ``polymarket_api_key`` — L2: an HMAC-signed ``GET /balance-allowance`` with the stored key,
  secret and passphrase, for the stored signature type.

Only the venue refusing a credential is ``failed`` (exit 4); no answer is ``unreachable`` and an
answer that says nothing about it (a 4xx other than its 400, a body or field orion cannot read)
``unreadable`` (both exit 5). Nothing here raises for a rejected credential and no detail carries a
secret value: details name the venue's answer (status, message) only, and exceptions are caught and
reduced to their class and ``OrionError`` message (which by convention never hold secrets either).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

import httpx

from orion_cli.core.errors import AuthError, OrionError, VenueUnavailable
from orion_cli.secrets.store import CheckResult, SecretStore, register_online_check
from orion_cli.venues.http import VenueHttpError
from orion_cli.venues.polymarket.orders import SignatureType
from orion_cli.venues.polymarket.signing import POLYGON_CHAIN_ID, ApiCredentials, PrivateKey
from orion_cli.venues.polymarket.trading import CLOB_URL, DATA_URL, GEOBLOCK_URL, PolymarketTrading
from orion_cli.venues.trading import Geoblocked

if TYPE_CHECKING:
    from orion_cli.core.config import Settings

__all__ = ["online_check"]

Status = Literal["failed", "unreachable", "unreadable"]

_KEY = "polymarket_private_key"
_API = "polymarket_api_key"
_NAMES = (_KEY, "polymarket_funder_address", "polymarket_signature_type", _API,
          "polymarket_api_secret", "polymarket_api_passphrase")


def _why(exc: BaseException) -> str:
    if isinstance(exc, OrionError):
        return exc.message[:300]
    return type(exc).__name__  # a library's text could quote what it was given


def _no_verdict(exc: OrionError) -> Status:
    """What an error that is not the venue refusing the credential says about it: nothing.

    ``unreachable`` when the venue was not asked (down, or its firewall refused this host:
    :class:`Geoblocked` for a Cloudflare 403 page); ``unreadable`` when it answered with something
    else (a 4xx other than the wallet refusal, a body or field orion cannot read, an unexpected error).
    "failed" would say exit 4, "rejected credentials", for an answer that never judged them.
    """
    return "unreachable" if isinstance(exc, VenueUnavailable | Geoblocked) else "unreadable"


def _unjudged(exc: OrionError) -> str:
    """An answer that is no verdict, said without the HTTP error's "rejected", which would read as one."""
    if isinstance(exc, VenueHttpError):
        said = exc.detail or exc.code
        return f"answered HTTP {exc.status}" + (f" ({said[:200]})" if said else "")
    return _why(exc)


def _wallet_refused(exc: OrionError) -> bool:
    """The venue's own refusal of the wallet: a 401/403 with its error, or the 400 it answers a wallet
    it holds no API key for (``{"error": "Could not derive api key!"}``). Any other 4xx (a 404 or 405
    from a wrong ``polymarket.clob_url`` or a proxy) never judged the wallet: no verdict."""
    return isinstance(exc, AuthError) or (isinstance(exc, VenueHttpError) and exc.status == 400)


def online_check(
    store: SecretStore,
    *,
    clob_url: str = CLOB_URL,
    data_url: str = DATA_URL,
    geoblock_url: str = GEOBLOCK_URL,
    chain_id: int = POLYGON_CHAIN_ID,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 10.0,
) -> list[CheckResult]:
    """Authenticate against the CLOB with the stored Polymarket credentials (sync; runs its own loop)."""
    try:
        values = {name: store.reveal_optional(name) for name in _NAMES}
    except OrionError as exc:
        return [CheckResult(_KEY, "failed", f"could not read the credentials: {_why(exc)}")]
    if values[_KEY] is None:
        return [CheckResult(_KEY, "skipped", "not set; Polymarket online check skipped")]
    try:
        key = PrivateKey.from_hex(values[_KEY] or "")
    except OrionError as exc:
        return [CheckResult(_KEY, "invalid", _why(exc))]
    creds: ApiCredentials | None = None
    creds_problem = ""
    if values[_API] and values["polymarket_api_secret"] and values["polymarket_api_passphrase"]:
        try:
            creds = ApiCredentials(
                values[_API] or "", values["polymarket_api_secret"] or "", values["polymarket_api_passphrase"] or ""
            )
        except OrionError as exc:
            creds_problem = _why(exc)
    sig_text = values["polymarket_signature_type"] or "0"
    try:
        signature_type = SignatureType(int(sig_text))
    except ValueError:
        return [CheckResult("polymarket_signature_type", "invalid", "expected 0, 1, 2 or 3")]
    funder = values["polymarket_funder_address"]
    return asyncio.run(
        _run(key, creds, creds_problem, signature_type, funder, clob_url=clob_url, data_url=data_url,
             geoblock_url=geoblock_url, chain_id=chain_id, transport=transport, timeout=timeout)
    )


async def _run(
    key: PrivateKey,
    creds: ApiCredentials | None,
    creds_problem: str,
    signature_type: SignatureType,
    funder: str | None,
    **http: Any,
) -> list[CheckResult]:
    results: list[CheckResult] = []
    placeholder = creds or ApiCredentials("unset", "AAAA", "unset")
    # The client's notice of the clock (read before the first signed request) goes into the L2 result,
    # the request it bears on, not onto stderr as a raw log line beside the table.
    clock_notes: list[str] = []
    try:
        client = PolymarketTrading(
            placeholder, key, clob_url=http["clob_url"], data_url=http["data_url"], geoblock_url=http["geoblock_url"],
            chain_id=http["chain_id"],
            funder=funder if signature_type is not SignatureType.EOA else None, signature_type=signature_type,
            transport=http["transport"], timeout=http["timeout"], warn=clock_notes.append,
        )
    except OrionError as exc:
        return [CheckResult("polymarket_funder_address", "invalid", _why(exc))]
    async with client:
        # L1: does the venue accept a ClobAuth signature from this wallet?
        try:
            derived = await client.derive_api_key()
        except AuthError as exc:
            results.append(CheckResult(_KEY, "failed", f"venue refused the wallet signature: {_why(exc)}"))
            derived = None
        except OrionError as exc:
            refused = _wallet_refused(exc)
            results.append(CheckResult(_KEY, "failed" if refused else _no_verdict(exc),
                                       f"derive-api-key failed: {_why(exc) if refused else _unjudged(exc)}"))
            derived = None
        if derived is not None:
            if creds is not None and derived.api_key != creds.api_key:
                results.append(CheckResult(
                    _KEY, "failed", "the venue derives a different API key for this wallet than the stored one"))
            else:
                results.append(CheckResult(_KEY, "ok", f"wallet {key.address} authenticated (L1)"))
        # L2: do the stored API key, secret and passphrase sign requests the venue accepts?
        if creds is None:
            detail = creds_problem or "API key, secret or passphrase not set"
            results.append(CheckResult(_API, "invalid" if creds_problem else "skipped", detail))
            return results
        try:
            await client.balance_allowance("COLLATERAL")
        except AuthError as exc:
            hint = ""
            if derived is not None and derived != creds:
                hint = "; the wallet derives different API credentials: re-derive and store them"
            results.append(CheckResult(_API, "failed", f"venue refused the API credentials: {_why(exc)}{hint}"))
        except OrionError as exc:
            results.append(CheckResult(_API, _no_verdict(exc), f"authenticated read failed: {_unjudged(exc)}"))
        else:
            results.append(CheckResult(_API, "ok", "authenticated read (balance-allowance) accepted (L2)"))
    if clock_notes:
        last = results[-1]
        results[-1] = CheckResult(last.name, last.status, "; ".join([last.detail, *clock_notes]))
    return results


def configured_online_check(store: SecretStore, settings: Settings | None = None) -> list[CheckResult]:
    """The check against the CLOB URL of the command's settings (``polymarket.clob_url``; without them, the
    configuration as loaded from the environment)."""
    if settings is None:
        from orion_cli.core.config import load_settings

        settings = load_settings()
    poly = settings.polymarket  # as a live command's client is built (cli/live_venues.py)
    return online_check(store, clob_url=poly.clob_url, data_url=poly.data_url, geoblock_url=poly.geoblock_url,
                        chain_id=poly.chain_id, timeout=float(poly.timeout_seconds))


register_online_check("polymarket", configured_online_check)
