"""Live trading venues built from the vault, shared by the commands that read the venues for real.

`reconcile` and `balance`/`positions` (live mode) use these; credentials are revealed only while a
client is being built, never kept in plain form afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orion_cli.cli.context import AppContext

if TYPE_CHECKING:
    from orion_cli.core.config import Settings
    from orion_cli.core.models import Venue
    from orion_cli.secrets.store import SecretStore
    from orion_cli.venues.trading import TradingVenue


def venues_wanted(settings: Settings, venue: str | None) -> list[Venue]:
    from orion_cli.core.accounts import enabled_venues
    from orion_cli.core.models import Venue

    if venue is None:
        return list(enabled_venues(settings))
    try:
        return [Venue(venue.strip().lower())]
    except ValueError:
        raise typer.BadParameter(f"{venue!r} is not kalshi or polymarket", param_hint="--venue") from None


def open_store(app: AppContext) -> SecretStore:
    """The vault, unlocked by the non-interactive chain (ORION_MASTER_PASSWORD_FILE first); a prompt only on a TTY."""
    from orion_cli.cli.prompts import ask_secret, interactive
    from orion_cli.secrets.store import open_store
    from orion_cli.secrets.unlock import resolve_master_password
    from orion_cli.secrets.vault import default_vault_path

    settings = app.settings()
    path = Path(settings.secrets.vault_path).expanduser() if settings.secrets.vault_path else default_vault_path()

    def prompt(message: str) -> str:
        answer = ask_secret(message)
        if answer is None:
            raise KeyboardInterrupt
        return answer

    def provide(new: bool) -> Any:
        return resolve_master_password(path, prompt=prompt if interactive() else None, warn=app.out.warn, new=new)

    return open_store(settings.secrets.backend, vault_path=path, password=provide)


def reveal_secret(store: SecretStore, name: str) -> str | None:
    value = store.get_optional(name)
    if value is None:
        return None
    with value:
        return value.reveal().strip()


def live_venues(settings: Settings, store: SecretStore, wanted: list[Venue]) -> dict[Venue, TradingVenue]:
    """Live clients built from the vault; a venue without its credentials is refused (exit 4), never skipped."""
    from orion_cli.core.errors import SecretsError
    from orion_cli.core.models import Venue

    out: dict[Venue, TradingVenue] = {}
    for venue in wanted:
        if venue is Venue.KALSHI:
            from orion_cli.venues.kalshi.client import RateTier
            from orion_cli.venues.kalshi.signing import KalshiSigner
            from orion_cli.venues.kalshi.trading import KalshiTrading

            k = settings.kalshi
            key_id = store.get_optional("kalshi_api_key_id")
            pem = store.get_optional("kalshi_private_key")
            if key_id is None or pem is None:
                for v in (key_id, pem):
                    if v is not None:
                        v.wipe()
                raise SecretsError("kalshi credentials are not in the vault (kalshi_api_key_id, kalshi_private_key)",
                                   hint="`orion secrets encrypt`, or reconcile the other venue with --venue")
            with key_id, pem:
                signer = KalshiSigner.from_pem(key_id.reveal(), pem.reveal_bytes())
            tier = RateTier("configured", k.read_tokens_per_second, k.read_tokens_per_second,
                            k.write_tokens_per_second, k.write_tokens_per_second)
            out[venue] = KalshiTrading(signer, base_url=k.demo_base_url if k.environment == "demo" else
                                       k.prod_base_url, tier=tier, timeout=float(k.timeout_seconds),
                                       max_concurrency=k.max_concurrency)
        else:
            from orion_cli.venues.polymarket.orders import SignatureType
            from orion_cli.venues.polymarket.signing import ApiCredentials, PrivateKey
            from orion_cli.venues.polymarket.trading import PolymarketTrading

            p = settings.polymarket
            names = ("polymarket_private_key", "polymarket_api_key", "polymarket_api_secret",
                     "polymarket_api_passphrase")
            values = {n: reveal_secret(store, n) for n in (*names, "polymarket_funder_address",
                                                     "polymarket_signature_type")}
            missing = [n for n in names if not values[n]]
            if missing:
                raise SecretsError(f"polymarket credentials are not in the vault ({', '.join(missing)})",
                                   hint="`orion secrets encrypt`, or reconcile the other venue with --venue")
            try:
                signature_type = SignatureType(int(values["polymarket_signature_type"] or "0"))
            except ValueError:
                raise SecretsError("polymarket_signature_type: expected 0, 1, 2 or 3") from None
            out[venue] = PolymarketTrading(
                ApiCredentials(values["polymarket_api_key"] or "", values["polymarket_api_secret"] or "",
                               values["polymarket_api_passphrase"] or ""),
                PrivateKey.from_hex(values["polymarket_private_key"] or ""),
                clob_url=p.clob_url, data_url=p.data_url, geoblock_url=p.geoblock_url, chain_id=p.chain_id,
                funder=values["polymarket_funder_address"] if signature_type is not SignatureType.EOA else None,
                signature_type=signature_type, timeout=float(p.timeout_seconds),
            )
    return out
