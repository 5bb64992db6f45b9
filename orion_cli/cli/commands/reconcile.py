"""``orion reconcile``: the ledger against each venue; cron-safe (no prompts, colour or progress bars off a TTY)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orion_cli.cli.commands.market_data import DemoOpt, SnapshotOpt, announce, open_source, run
from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.output import Column

if TYPE_CHECKING:
    from orion_cli.core.alert_sink import AlertSink
    from orion_cli.core.config import Settings
    from orion_cli.core.models import Venue
    from orion_cli.core.reconcile import VenueReconcile
    from orion_cli.secrets.store import SecretStore
    from orion_cli.venues.trading import TradingVenue

RECONCILE_COLUMNS = [
    Column("venue", "venue"),
    Column("mode", "mode"),
    Column("status", "status"),
    Column("counts.drifts", "drifts", "right"),
    Column("fixed", "fixed", "right"),
    Column("counts.resolved", "resolved", "right"),
    Column("counts.pending", "pending", "right"),
    Column("reason", "reason"),
]

DRIFT_COLUMNS = [
    Column("venue", "venue"),
    Column("kind", "kind"),
    Column("market", "market"),
    Column("side", "side"),
    Column("ledger_qty", "ledger qty", "right"),
    Column("venue_qty", "venue qty", "right"),
    Column("value", "value", "right"),
    Column("fixed", "fixed"),
    Column("detail", "detail"),
]

RESOLVED_COLUMNS = [
    Column("venue", "venue"),
    Column("client_order_id", "client order id"),
    Column("market", "market"),
    Column("from", "from"),
    Column("to", "to"),
    Column("filled_size", "filled", "right"),
    Column("detail", "detail"),
]


def _venues_wanted(settings: Settings, venue: str | None) -> list[Venue]:
    from orion_cli.core.accounts import enabled_venues
    from orion_cli.core.models import Venue

    if venue is None:
        return list(enabled_venues(settings))
    try:
        return [Venue(venue.strip().lower())]
    except ValueError:
        raise typer.BadParameter(f"{venue!r} is not kalshi or polymarket", param_hint="--venue") from None


def _open_store(app: AppContext) -> SecretStore:
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


def _secret(store: SecretStore, name: str) -> str | None:
    value = store.get_optional(name)
    if value is None:
        return None
    with value:
        return value.reveal().strip()


def _live_venues(settings: Settings, store: SecretStore, wanted: list[Venue]) -> dict[Venue, TradingVenue]:
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
            values = {n: _secret(store, n) for n in (*names, "polymarket_funder_address",
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


def _alert_sink(app: AppContext, store_factory: Callable[[], SecretStore | None]) -> AlertSink:
    """The configured webhook sink when alerts are enabled and available; otherwise alerts are dropped."""
    from orion_cli.core.alert_sink import NullAlertSink

    settings = app.settings()
    if not settings.alerts.enabled:
        return NullAlertSink()
    try:
        from orion_cli.core import alerts as alerts_mod

        factory = getattr(alerts_mod, "webhook_sink", None)
    except ImportError:
        factory = None
    if factory is None:
        app.out.warn("alerts are enabled but this build has no webhook sink; drift is audited only")
        return NullAlertSink()
    from orion_cli.core.errors import OrionError

    try:
        store = store_factory()
    except OrionError as exc:
        app.out.warn(f"alerts disabled for this run: {exc.message}")
        return NullAlertSink()

    def getter(name: str) -> str | None:
        return _secret(store, name) if store is not None else None

    try:
        sink: AlertSink = factory(settings, getter, app.db())
    except OrionError as exc:
        app.out.warn(f"alerts disabled for this run: {exc.message}")
        return NullAlertSink()
    return sink


def reconcile_command(
    ctx: typer.Context,
    venue: Annotated[str | None, typer.Option("--venue", help="kalshi or polymarket (default: every enabled "
                                                              "venue).")] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Adopt the venue's truth in the ledger (each change audited "
                                                    "as reconcile.fixed); nothing is ever sent to a venue.")] = False,
    halt_on_drift: Annotated[bool, typer.Option("--halt-on-drift", help="Engage the kill switch when drift is "
                                                                        "found.")] = False,
    metrics_file: Annotated[Path | None, typer.Option("--metrics-file", dir_okay=False, help=(
        "Write Prometheus metrics here (atomically), e.g. for node_exporter's textfile collector."))] = None,
    lookback_hours: Annotated[int, typer.Option("--lookback-hours", min=1, max=24 * 90, help=(
        "Compare venue fills of at least this many hours (further back when an open order is older)."))] = 24,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
) -> None:
    """Compare the ledger with each venue's positions, resting orders and fills; resolve unknown orders.

    Orders whose outcome is unknown (intent, submitted, unknown, open) are looked up by their persisted
    ids first. Each drift is reported with market, ledger and venue quantity and value; --fix adopts
    the venue's truth with audit events. Paper mode reconciles the paper ledger against the paper
    venue (--demo/--snapshot choose its data); live mode reads the venues with the vault's credentials
    (ORION_MASTER_PASSWORD_FILE for cron). Never prompts without a terminal. Overlapping runs: the
    second exits at once with exit 6 (LOCKED).

    Exit codes: 0 clean · 7 drift (wins over 5) · 5 a venue could not be reached · 6 another run holds
    the lock · 4 credentials missing or vault locked.

    Example:  orion reconcile --json   ·   orion reconcile --venue kalshi --fix --metrics-file orion.prom
    """
    from orion_cli.core.errors import DriftFound, VenueUnavailable
    from orion_cli.core.reconcile import reconcile_async
    from orion_cli.core.runlock import RunLock
    from orion_cli.risk.halt import KillSwitch
    from orion_cli.store.ledger import Ledger

    started = time.monotonic()
    app = get_app(ctx)
    settings = app.settings()
    mode = settings.trading.mode
    wanted = _venues_wanted(settings, venue)
    if mode == "live" and (snapshot is not None or demo):
        raise typer.BadParameter("--snapshot/--demo are for paper mode; live mode reads the venues",
                                 param_hint="--demo")
    db = app.db()
    store_box: list[SecretStore] = []

    def store() -> SecretStore:
        if not store_box:
            store_box.append(_open_store(app))
        return store_box[0]

    with RunLock(db, "reconcile"):
        if mode == "live":
            venues = _live_venues(settings, store(), wanted)
            app.out.banner(f"LIVE: reconciling the live ledger with {', '.join(v.value for v in venues)}.")
        else:
            from orion_cli.venues.paper import PaperVenue

            source = open_source(app, snapshot, demo)
            if snapshot is not None or demo:
                announce(app, source)
            venues = {v: PaperVenue(v, db, source, settings) for v in wanted}
            app.out.info("paper: reconciling the paper ledger with the paper venues")
        alerts = _alert_sink(app, store)
        ledger = Ledger(db, mode, reset_hour_utc=settings.breaker.reset_hour_utc)

        async def main() -> list[VenueReconcile]:
            try:
                return await reconcile_async(db, ledger, venues, settings, mode=mode, fix=fix, alerts=alerts,
                                             halt_on_drift=halt_on_drift, lookback=timedelta(hours=lookback_hours))
            finally:
                for tv in venues.values():
                    closer = getattr(tv, "aclose", None)
                    if callable(closer):
                        await closer()

        try:
            results: list[VenueReconcile] = run(main)
        finally:
            alerts.flush(5.0)
            for s in store_box:
                s.close()
        drifted = [r for r in results if r.status == "drift"]
        unavailable = [r for r in results if r.status == "unavailable"]
        exit_code = 7 if drifted else 5 if unavailable else 0
        halted = KillSwitch(db, sentinel_file=settings.halt.sentinel_file, mode=mode).status().halted
        if metrics_file is not None:
            from orion_cli.core.metrics import render_reconcile, write_atomic

            write_atomic(metrics_file, render_reconcile(
                results, finished_at=datetime.now(UTC), duration_seconds=time.monotonic() - started, halted=halted,
                mode=mode, exit_code=exit_code))
    _render(app, results)
    for r in unavailable:
        app.out.warn(f"{r.venue.value} unavailable: {r.reason}")
    if halt_on_drift and drifted:
        app.out.banner("HALTED: drift found with --halt-on-drift; `orion resume` releases the kill switch.")
    if drifted:
        total = sum(len(r.drifts) for r in drifted)
        fixed = sum(r.fixed for r in drifted)
        raise DriftFound(
            f"drift between the {mode} ledger and {', '.join(r.venue.value for r in drifted)}: {total} drift(s)"
            + (f", {fixed} adopted with --fix" if fixed else ""),
            hint=None if fix else "inspect the drifts; `orion reconcile --fix` adopts the venue's truth (audited)",
        )
    if unavailable:
        raise VenueUnavailable(", ".join(r.venue.value for r in unavailable),
                               "; ".join(r.reason for r in unavailable))
    app.out.success("clean: the ledger and the venues agree")


def _render(app: AppContext, results: list[VenueReconcile]) -> None:
    records = [r.to_record() for r in results]
    if app.out.machine:
        app.out.records(records, RECONCILE_COLUMNS)
        return
    app.out.records(records, RECONCILE_COLUMNS, title="reconcile", empty="no venue enabled")
    drifts = [d.to_record() for r in results for d in r.drifts]
    if drifts:
        app.out.records(drifts, DRIFT_COLUMNS, title="drift")
    resolved = [x.to_record() for r in results for x in r.resolved]
    if resolved:
        app.out.records(resolved, RESOLVED_COLUMNS, title="resolved orders")
    for r in results:
        for p in r.pending:
            app.out.info(f"pending ({r.venue.value}): {p}")
