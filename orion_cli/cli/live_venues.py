"""Live trading venues built from the vault: the one way every command builds a live client.

`trade`, `reconcile` and `balance`/`positions` (live mode) use these; credentials are revealed only
while a client is being built, never kept in plain form afterwards, and every client gets the
configured Kalshi rate tier and the Polymarket signature type's own maker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orion_cli.cli.context import AppContext

if TYPE_CHECKING:
    from orion_cli.core.alert_sink import AlertSink
    from orion_cli.core.alerts import Outcome
    from orion_cli.core.config import Settings
    from orion_cli.core.models import Venue
    from orion_cli.secrets.store import SecretStore, SecretValue
    from orion_cli.venues.trading import TradingVenue


async def aclose_venues(venues: Iterable[TradingVenue]) -> None:
    """Close each client that holds connections (live clients do; paper venues have nothing to close)."""
    for tv in venues:
        closer = getattr(tv, "aclose", None)
        if callable(closer):
            await closer()


def venues_wanted(settings: Settings, venue: str | None) -> list[Venue]:
    from orion_cli.core.config import enabled_venues
    from orion_cli.core.models import Venue

    if venue is None:
        return list(enabled_venues(settings))
    try:
        return [Venue(venue.strip().lower())]
    except ValueError:
        raise typer.BadParameter(f"{venue!r} is not kalshi or polymarket", param_hint="--venue") from None


def open_store(app: AppContext, *, ask: bool = True) -> SecretStore:
    """The vault, unlocked by the non-interactive chain (ORION_MASTER_PASSWORD_FILE first); a prompt only on a
    TTY, and only when ``ask`` (the kill switch never stops to ask for a password)."""
    from orion_cli.cli.prompts import ask_secret, interactive
    from orion_cli.secrets.store import open_store
    from orion_cli.secrets.unlock import resolve_master_password
    from orion_cli.secrets.vault import default_vault_path

    settings = app.settings()
    path = Path(settings.secrets.vault_path).expanduser() if settings.secrets.vault_path else default_vault_path()

    def provide(new: bool) -> Any:
        return resolve_master_password(path, prompt=ask_secret if ask and interactive() else None,
                                       warn=app.out.warn, new=new)

    return open_store(settings.secrets.backend, vault_path=path, password=provide)


# What each venue's live client cannot do without (the funder and signature type are optional).
REQUIRED_SECRETS: dict[str, tuple[str, ...]] = {
    "kalshi": ("kalshi_api_key_id", "kalshi_private_key"),
    "polymarket": ("polymarket_private_key", "polymarket_api_key", "polymarket_api_secret",
                   "polymarket_api_passphrase"),
}
OPTIONAL_SECRETS: dict[str, tuple[str, ...]] = {
    "kalshi": (),
    "polymarket": ("polymarket_funder_address", "polymarket_signature_type"),
}
RECONCILE_HINT = "`orion secrets encrypt`, or reconcile the other venue with --venue"


# How long a run that found the vault re-encrypted waits for its password source to give the new password.
REKEY_GRACE_SECONDS = 300


class LazyStore:
    """The secret store of one command: opened (unlocked) on first use only, closed when the command ends.

    Paper runs never touch the vault; a live run derives the vault key once, however many times its
    clients are rebuilt (one set per event loop).
    """

    def __init__(self, app: AppContext, *, ask: bool = True) -> None:
        self.app = app
        self.ask = ask
        self._store: SecretStore | None = None
        self.rekeyed_at: float | None = None  # when the vault was found re-encrypted (:meth:`rekeyed`)

    def get(self) -> SecretStore:
        if self._store is None:
            self._store = open_store(self.app, ask=self.ask)
        return self._store

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def rekeyed(self) -> None:
        """The vault was re-encrypted since this store unlocked it (`orion secrets rotate` in another process):
        closed, to be unlocked again on next use, through the password sources alone (a run that goes on,
        a watch, never stops to prompt). The credentials in it are the same ones: a new master password
        revokes none of them, and a watch that stopped on it lost its next opportunity for nothing (found
        reviewing the vault in use: it stopped hours after the rotation, at its first trade)."""
        self.close()
        self.ask = False
        self.rekeyed_at = time.monotonic()

    def awaiting_new_password(self) -> bool:
        """Within :data:`REKEY_GRACE_SECONDS` of the vault found re-encrypted: a password source that still
        gives the old password is waited for, not a stop. A rotation comes first and the password file the
        service reads is updated after it (the old password unlocks for the rotation): a round in between
        met the old password, and stopped the watch all the same."""
        return self.rekeyed_at is not None and time.monotonic() - self.rekeyed_at < REKEY_GRACE_SECONDS

    def __enter__(self) -> LazyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def live_venues(settings: Settings, store: SecretStore, wanted: list[Venue], *,
                missing_hint: str = RECONCILE_HINT,
                warn: Callable[[str], None] | None = None) -> dict[Venue, TradingVenue]:
    """Live clients built from the vault; a venue without its credentials is refused (exit 4), never skipped.

    Every wanted venue's credentials are read (and found complete) before any client is built, and
    wiped as soon as the clients hold them in their own form (signer, key). ``warn``: the command's
    warning output (``app.out.warn``), for a client's notices to the operator (Polymarket's clock
    skew); without it they go to the log, a raw ``WARNING orion_cli…`` line on stderr.
    """
    from orion_cli.core.errors import SecretsError

    read: dict[Venue, dict[str, SecretValue]] = {}
    try:
        for venue in wanted:
            got: dict[str, SecretValue] = {}
            read[venue] = got
            for name in (*REQUIRED_SECRETS[venue.value], *OPTIONAL_SECRETS[venue.value]):
                value = store.get_optional(name)
                if value is not None:
                    got[name] = value
            missing = [n for n in REQUIRED_SECRETS[venue.value] if n not in got]
            if missing:
                raise SecretsError(f"{venue.value} credentials are not in the vault ({', '.join(missing)})",
                                   hint=missing_hint, reason="secret_missing")
        return {venue: _build(settings, venue, read[venue], warn) for venue in wanted}
    finally:
        for got in read.values():
            for value in got.values():
                value.wipe()


def _build(settings: Settings, venue: Venue, values: dict[str, SecretValue],
           warn: Callable[[str], None] | None) -> TradingVenue:
    from orion_cli.core.errors import DataError, SecretsError
    from orion_cli.core.models import Venue

    if venue is Venue.KALSHI:
        from orion_cli.venues.kalshi.client import RateTier
        from orion_cli.venues.kalshi.signing import KalshiSigner
        from orion_cli.venues.kalshi.trading import KalshiTrading

        k = settings.kalshi
        signer = KalshiSigner.from_pem(values["kalshi_api_key_id"].reveal().strip(),
                                       values["kalshi_private_key"].reveal_bytes())
        tier = RateTier("configured", k.read_tokens_per_second, k.read_tokens_per_second,
                        k.write_tokens_per_second, k.write_tokens_per_second)
        return KalshiTrading(signer, base_url=k.base_url,
                             tier=tier, timeout=float(k.timeout_seconds), max_concurrency=k.max_concurrency)

    from orion_cli.venues.polymarket.orders import SignatureType
    from orion_cli.venues.polymarket.signing import ApiCredentials, PrivateKey
    from orion_cli.venues.polymarket.trading import PolymarketTrading

    def text(name: str) -> str:
        value = values.get(name)
        return "" if value is None else value.reveal().strip()

    p = settings.polymarket
    try:
        signature_type = SignatureType(int(text("polymarket_signature_type") or "0"))
    except ValueError:
        raise SecretsError("polymarket_signature_type: expected 0, 1, 2 or 3", reason="secret_invalid") from None
    # An EOA signs and makes its own orders: a funder address left in the vault must not become the maker.
    funder = (text("polymarket_funder_address") or None) if signature_type is not SignatureType.EOA else None
    try:
        return PolymarketTrading(
            ApiCredentials(text("polymarket_api_key"), text("polymarket_api_secret"),
                           text("polymarket_api_passphrase")),
            PrivateKey.from_hex(text("polymarket_private_key")),
            clob_url=p.clob_url, data_url=p.data_url, geoblock_url=p.geoblock_url, chain_id=p.chain_id,
            funder=funder, signature_type=signature_type, timeout=float(p.timeout_seconds), warn=warn,
            max_concurrency=p.max_concurrency,
        )
    except DataError as exc:
        if exc.field != "funder":
            raise
        # A credential problem (exit 4), not a bad payload (exit 1).
        raise SecretsError(f"polymarket_funder_address: {exc.problem}", reason="secret_invalid",
                           hint="`orion secrets encrypt` the proxy/Safe address, or signature type 0") from None


def alert_sink(app: AppContext, secrets: LazyStore, mode: str, *, watch: bool = False,
               undelivered: Callable[[Outcome], None] | None = None) -> AlertSink:
    """The configured webhook sink for a command on the ``mode`` ledger, reading its URL/token from the
    vault only when alerts are enabled. ``watch``: a long-running loop, which may wait out a longer
    rate limit between attempts than a command about to exit. An alert not delivered is said by
    ``undelivered``, by default the command's ``warning:`` line (kept with -q): the audit event alone
    reached no one, and a log record is dropped by -q.

    A vault that cannot be opened does not stop the command (an alert problem must never block a
    trade or a reconcile): the sink warns why (a ``warning:`` line, kept with -q, once per run), and
    audits each alert it could not send.
    """
    from orion_cli.core.alert_sink import NullAlertSink

    settings = app.settings()
    if not settings.alerts.enabled:
        return NullAlertSink()
    from orion_cli.core.alerts import MAX_WAIT, WATCH_MAX_WAIT, webhook_sink

    return webhook_sink(settings, lambda name: secrets.get().reveal_optional(name), app.db(), mode=mode,
                        warn=app.out.warn, max_wait=WATCH_MAX_WAIT if watch else MAX_WAIT,
                        undelivered=undelivered or warn_undelivered(app))


def warn_undelivered(app: AppContext) -> Callable[[Outcome], None]:
    """An alert not delivered, as the command's ``warning:`` line (kept with -q, on stderr)."""
    from orion_cli.core.alerts import undelivered_text

    return lambda outcome: app.out.warn(undelivered_text(outcome))
