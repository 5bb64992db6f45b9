"""Typed, validated configuration with provenance.

Precedence, first match wins: command-line flag > environment (``ORION__SECTION__KEY``) >
``--config FILE`` / ``$ORION_CONFIG`` > the user config file > built-in defaults. Every key is
declared once below, with its default, unit, allowed range and a one-line doc; the example config
file, ``orion config show`` and validation errors are all generated from these declarations, so they
cannot drift apart. Secrets never live here: the config names them, the vault holds them.
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import os
import re
import stat
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from orion_cli.core.errors import ConfigError
from orion_cli.core.files import FileRefused, MiB, read_regular_file
from orion_cli.core.paths import blank_variable_problem, home_problem, user_config_file
from orion_cli.core.plain_text import plain_ascii
from orion_cli.core.redact import (
    LOOPBACK_HOSTS,
    NOT_SHOWN,
    SHOWN_PATH_CHARS,
    SHOWN_SETTING_CHARS,
    SHOWN_WINDOW_CHARS,
    mask_url,
    mask_web_url,
    setting_looks_secret,
    shown_setting,
    web_url_ok,
    web_url_private,
)

if TYPE_CHECKING:
    from orion_cli.core.models import Venue

ENV_PREFIX = "ORION__"
MAX_CONFIG_BYTES = 16 * MiB  # a config file is a few kilobytes: anything near this is not one
# Bounds on how a number is written, whatever its key's range: no price, fee, amount or limit needs more
# places (a venue's tick is 0.01 or 0.001), and a value with dozens of digits is a slip of the keyboard
# that Decimal arithmetic (28 significant digits) would round silently. An integer of thousands of
# digits also made int() itself fail (Python's 4300-digit limit), an internal error.
MAX_DECIMAL_PLACES = 6
MAX_INTEGER_DIGITS = 18

T = TypeVar("T")

_INTEGER = re.compile(r"-?[0-9]+")


def opt(
    default: Any,
    doc: str,
    *,
    unit: str = "",
    min: Any = None,
    max: Any = None,
    choices: tuple[Any, ...] = (),
) -> Any:
    """Declare one configuration key."""
    meta = {"doc": doc, "unit": unit, "min": min, "max": max, "choices": choices}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


D = Decimal


@dataclass(frozen=True)
class TradingConfig:
    """How orion trades. `orion trade` goes live only through the live gate, whatever mode says."""

    mode: str = opt("paper", "paper or live: the ledger balance, reconcile, report and halt use; "
                             "trade goes live only through the live gate", choices=("paper", "live"))
    min_edge: Decimal = opt(D("0.01"), "minimum net edge per contract after fees", unit="USD", min=D(0), max=D(1))
    min_profit: Decimal = opt(D("0.10"), "minimum net profit per opportunity (and of each trade --watch executes, "
                                         "at its size)", unit="USD", min=D(0), max=D(100000))
    quote_max_age_seconds: Decimal = opt(D("5"), "books older than this are re-read before trading (STALE_QUOTE)",
                                         unit="s", min=D("0.1"), max=D(3600))
    opportunity_ttl_seconds: int = opt(60, "how long a scanned opportunity's quotes count as current; trading it later "
                                       "re-reads the books first (its id stays loadable for 7 days)", unit="s",
                                       min=1, max=86400)
    time_in_force: str = opt("fill_or_kill", "order type for both legs",
                             choices=("fill_or_kill", "immediate_or_cancel"))
    second_leg_retries: int = opt(2, "retries of a short second leg within the remaining edge", min=0, max=10)
    max_unwind_loss: Decimal = opt(D("5.00"), "largest loss accepted over all the sells unwinding one execution",
                                   unit="USD", min=D(0), max=D(100000))
    trading_windows: list[str] = opt([], 'UTC windows when orders may be sent, e.g. ["13:30-20:00"] '
                                         '(may wrap midnight; the whole day is "00:00-24:00"); empty = always')
    max_results: int = opt(50, "opportunities shown by scan", min=1, max=10000)


@dataclass(frozen=True)
class LimitsConfig:
    """Pre-trade limits on a trade's orders (DESIGN §4); a hedge retry keeps to order_notional and price_band_high."""

    order_notional: Decimal = opt(D("100"), "largest cost of one order (ORDER_NOTIONAL)", unit="USD",
                                  min=D("0.01"), max=D(1000000))
    order_contracts: Decimal = opt(D("100"), "largest size of one order (ORDER_CONTRACTS)", unit="contracts",
                                   min=D("0.01"), max=D(1000000))
    market_exposure: Decimal = opt(D("200"), "largest exposure, cost + fees, in one market (MARKET_EXPOSURE)",
                                   unit="USD", min=D("0.01"), max=D(10000000))
    category_exposure: Decimal = opt(D("500"), "largest exposure, cost + fees, in one category (CATEGORY_EXPOSURE)",
                                     unit="USD", min=D("0.01"), max=D(10000000))
    total_exposure: Decimal = opt(D("1000"), "largest exposure, cost + fees, across all markets (TOTAL_EXPOSURE)",
                                  unit="USD", min=D("0.01"), max=D(100000000))
    open_positions: int = opt(20, "most markets with an open position at once (OPEN_POSITIONS)", min=1, max=10000)
    price_band_low: Decimal = opt(D("0.05"), "lowest price orion will pay (PRICE_BAND); below price_band_high",
                                  unit="USD", min=D("0.001"), max=D("0.999"))
    price_band_high: Decimal = opt(D("0.95"), "highest price orion will pay (PRICE_BAND); above price_band_low",
                                   unit="USD", min=D("0.001"), max=D("0.999"))
    balance_buffer_pct: Decimal = opt(D("10"), "cash kept free beyond cost + fees (BALANCE)", unit="%",
                                      min=D(0), max=D(100))
    balance_max_age_seconds: int = opt(300, "an older balance is refreshed before trading; unknown refuses",
                                       unit="s", min=1, max=86400)


@dataclass(frozen=True)
class RateLimitsConfig:
    """Order rate limits, counted across every process sharing the database (RATE_LIMIT)."""

    orders_per_minute: int = opt(20, "orders sent in any 60 s; at most orders_per_hour", min=1, max=10000)
    orders_per_hour: int = opt(100, "orders sent in any 3600 s; at least orders_per_minute", min=1,
                                 max=100000)


@dataclass(frozen=True)
class BreakerConfig:
    """The loss circuit breaker; a trip engages the halt."""

    daily_loss: Decimal = opt(D("50"), "realised + marked loss since the daily reset that trips the breaker",
                              unit="USD", min=D("0.01"), max=D(10000000))
    daily_loss_pct: Decimal = opt(D("5"), "the same as a share of start-of-day equity", unit="%",
                                  min=D("0.1"), max=D(100))
    drawdown_pct: Decimal = opt(D("10"), "fall from peak equity that trips (needs `orion resume --breaker`)",
                                unit="%", min=D("0.1"), max=D(100))
    warn_at_pct: Decimal = opt(D("80"), "share of any breaker limit that raises a warning and an alert",
                               unit="%", min=D(1), max=D(100))
    reset_hour_utc: int = opt(0, "hour (UTC) at which the daily part resets; a change takes effect when the "
                                 "trading day in progress ends", min=0, max=23)


@dataclass(frozen=True)
class MatchingConfig:
    """Cross-venue matching (DESIGN §6)."""

    auto_accept_confidence: Decimal = opt(D("0.97"), "candidates at or above this confidence are tradable "
                                          "without curation; 1 = curated pairs only", min=D("0.5"), max=D(1))
    close_time_tolerance_hours: Decimal = opt(D("48"), "largest gap between the venues' close times (a Kalshi "
                                              "market that can close early may close later: its close is a "
                                              "backstop)", unit="h", min=D(0), max=D(8760))
    resolution_time_tolerance_hours: Decimal = opt(D("36"), "largest gap between the venues' expected "
                                                   "resolution times", unit="h", min=D(0), max=D(8760))
    pairs_file: str = opt("", "curated pairs file, by its absolute path (~ allowed); empty = pairs.toml in the "
                              "config dir")


@dataclass(frozen=True)
class KalshiConfig:
    """Kalshi Trade API v2."""

    enabled: bool = opt(True, "fetch and trade Kalshi")
    environment: str = opt("prod", "which Kalshi exchange", choices=("prod", "demo"))
    prod_base_url: str = opt("https://external-api.kalshi.com/trade-api/v2", "production REST base URL")
    demo_base_url: str = opt("https://external-api.demo.kalshi.co/trade-api/v2", "demo REST base URL")
    read_tokens_per_second: int = opt(200, "read bucket refill (Basic tier: 200)", unit="tokens/s",
                                      min=1, max=100000)
    write_tokens_per_second: int = opt(100, "write bucket refill (Basic tier: 100)", unit="tokens/s",
                                       min=1, max=100000)
    max_concurrency: int = opt(8, "concurrent requests", min=1, max=64)
    timeout_seconds: Decimal = opt(D("10"), "per-request timeout (connection to the answer's last byte)", unit="s",
                                   min=D("0.5"), max=D(120))

    @property
    def base_url(self) -> str:
        """The REST base URL of the configured exchange (``environment``)."""
        return self.demo_base_url if self.environment == "demo" else self.prod_base_url


@dataclass(frozen=True)
class PolymarketConfig:
    """Polymarket Gamma, CLOB (V2) and Data APIs."""

    enabled: bool = opt(True, "fetch and trade Polymarket")
    gamma_url: str = opt("https://gamma-api.polymarket.com", "Gamma (market discovery) base URL")
    clob_url: str = opt("https://clob.polymarket.com", "CLOB (books, orders) base URL")
    data_url: str = opt("https://data-api.polymarket.com", "Data API (positions) base URL")
    geoblock_url: str = opt("https://polymarket.com/api/geoblock", "geoblock check, queried before live trading")
    # The chains Polymarket's exchange contracts are on (orders.py's table of them: a test keeps the two alike).
    # Any other id passed the configuration and failed only when a live order was signed, after the LIVE banner.
    chain_id: int = opt(137, "Polygon chain id (80002: the Amoy testnet)", choices=(137, 80002))
    max_concurrency: int = opt(8, "concurrent requests to each of its hosts (Gamma, CLOB, Data API)", min=1,
                               max=64)
    timeout_seconds: Decimal = opt(D("10"), "per-request timeout (connection to the answer's last byte)", unit="s",
                                   min=D("0.5"), max=D(120))


@dataclass(frozen=True)
class PaperConfig:
    """The paper venue: simulated fills on real books, state in the database."""

    kalshi_balance: Decimal = opt(D("1000"), "starting paper balance on Kalshi, when the paper account is first "
                                             "opened", unit="USD", min=D(0), max=D(100000000))
    polymarket_balance: Decimal = opt(D("1000"), "starting paper balance on Polymarket, when the paper account is "
                                                 "first opened", unit="USD", min=D(0), max=D(100000000))
    latency_ms: int = opt(0, "simulated order latency", unit="ms", min=0, max=60000)
    slippage_ticks: int = opt(0, "simulated adverse slippage per fill", unit="ticks", min=0, max=100)


@dataclass(frozen=True)
class AlertsConfig:
    """Webhook alerts. The webhook URL (and Telegram token) live in the vault, not here."""

    enabled: bool = opt(False, "send alerts (needs the alert_webhook_url secret)")
    format: str = opt("generic", "payload format", choices=("generic", "slack", "discord", "telegram"))
    telegram_chat_id: str = opt("", "chat id for the telegram format")
    low_balance: Decimal = opt(D("50"), "alert when a venue's available balance falls below this", unit="USD",
                               min=D(0), max=D(100000000))
    timeout_seconds: Decimal = opt(D("5"), "per-delivery timeout", unit="s", min=D("0.5"), max=D(60))
    retries: int = opt(3, "retries after a delivery's first attempt fails, before the failure is audited "
                                "(0 = one attempt)", min=0, max=20)


@dataclass(frozen=True)
class SecretsConfig:
    """Where credentials live."""

    backend: str = opt("vault", "vault = encrypted file; keyring = the OS keyring", choices=("vault", "keyring"))
    vault_path: str = opt("", "vault file, by its absolute path (~ allowed); empty = vault.json in the data dir")


@dataclass(frozen=True)
class DatabaseConfig:
    """The ledger. SQLite (WAL) by default; PostgreSQL to share one ledger between hosts."""

    url: str = opt("", "SQLAlchemy URL or SQLite file; empty = SQLite orion.db in the data dir; e.g. "
                       "postgresql+psycopg://u@h/db; a SQLite file by its absolute path (~ allowed), in a "
                       "directory that exists (never created), as every process must use the same ledger, and "
                       "so the same kill switch")
    busy_timeout_ms: int = opt(10000, "how long a writer waits for the lock", unit="ms", min=100, max=600000)


@dataclass(frozen=True)
class HaltConfig:
    """The kill switch. State lives in the database; the sentinel file is an extra way in."""

    sentinel_file: str = opt("", "when this file exists, orion behaves as halted (for operators' scripts); an "
                                 "absolute path (~ allowed), as every process must look in the same place")


@dataclass(frozen=True)
class LoggingConfig:
    """Diagnostic logging (never contains secret values)."""

    level: str = opt("warning", "log level on stderr (debug: also the details -v shows)",
                     choices=("debug", "info", "warning", "error"))
    file: str = opt("", "also log to this file, by its absolute path (~ allowed), with the warnings and "
                        "errors printed; empty = no file")


SECTIONS: dict[str, type[Any]] = {
    "trading": TradingConfig,
    "limits": LimitsConfig,
    "rate_limits": RateLimitsConfig,
    "breaker": BreakerConfig,
    "matching": MatchingConfig,
    "kalshi": KalshiConfig,
    "polymarket": PolymarketConfig,
    "paper": PaperConfig,
    "alerts": AlertsConfig,
    "secrets": SecretsConfig,
    "database": DatabaseConfig,
    "halt": HaltConfig,
    "logging": LoggingConfig,
}


@dataclass(frozen=True)
class Settings:
    """The effective configuration, validated once; ``sources`` says where each value came from."""

    trading: TradingConfig
    limits: LimitsConfig
    rate_limits: RateLimitsConfig
    breaker: BreakerConfig
    matching: MatchingConfig
    kalshi: KalshiConfig
    polymarket: PolymarketConfig
    paper: PaperConfig
    alerts: AlertsConfig
    secrets: SecretsConfig
    database: DatabaseConfig
    halt: HaltConfig
    logging: LoggingConfig
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    config_files: tuple[str, ...] = ()
    # Only from ``load_settings(lenient=True)``: what was wrong, each such key left at its default.
    problems: tuple[str, ...] = field(default=(), compare=False)
    # Only from ``load_settings(lenient=True, engaging=True)``: those of ``problems`` that concern the
    # [halt] keys (each with its hint), which engaging does not need (the halt is written to the
    # database) but the caller must still report as an error once it has engaged.
    halt_problems: tuple[str, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}


def no_venue_enabled(asked: Iterable[Venue], *, otherwise: str = "") -> ConfigError:
    """Every venue asked for is turned off (kalshi.enabled / polymarket.enabled): a setting to change,
    not an outage to wait out, so exit 3, not 5, which a cron job or a watch would retry for ever.
    One error for every command, so each names the keys to set; ``otherwise`` adds a command's own way
    round it (`reconcile --venue` reads a disabled venue named)."""
    names = ", ".join(v.value for v in asked) or "no venue"
    hint = ("enable it: kalshi.enabled = true in the config file (or ORION__KALSHI__ENABLED=true), "
            "polymarket.enabled likewise")
    return ConfigError(f"{names}: disabled in the configuration (kalshi.enabled / polymarket.enabled); nothing "
                       "to read", hint=f"{hint}; {otherwise}" if otherwise else hint, reason="no_venue")


def enabled_venues(settings: Settings) -> tuple[Venue, ...]:
    """The venues ``kalshi.enabled`` / ``polymarket.enabled`` turn on: the only ones orion reads or trades.

    Here, beside the settings, so that a command reading market data alone need not import the
    ledger (and SQLAlchemy) to ask."""
    from orion_cli.core.models import Venue

    out = []
    if settings.kalshi.enabled:
        out.append(Venue.KALSHI)
    if settings.polymarket.enabled:
        out.append(Venue.POLYMARKET)
    return tuple(out)


@dataclass(frozen=True)
class KeySpec:
    section: str
    key: str
    type: Any
    default: Any
    doc: str
    unit: str
    min: Any
    max: Any
    choices: tuple[Any, ...]

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def is_url(self) -> bool:
        """A venue endpoint (``*_url``): checked when read, so a typo is a configuration error (exit 3)
        rather than every request failing as if the venue were down (exit 5)."""
        return self.type is str and self.key.endswith("_url")

    @property
    def is_absolute_path(self) -> bool:
        """A file every orion process must find in the same place, wherever it was started (cron's
        directory, a service's ``/``): a relative path would be read from each one's own directory."""
        return self.dotted in ABSOLUTE_PATH_KEYS

    def allowed(self) -> str:
        if self.is_absolute_path:
            return "the absolute path of a file (~ allowed), or empty"
        if self.dotted == "database.url":
            return ("a postgresql:// URL, a SQLite file's absolute path (~ allowed) or sqlite:////absolute/path "
                    "URL, or empty")
        if self.is_url:
            return f"an https:// URL with a host (http:// only to a loopback host: {LOOPBACK_HOSTS})"
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.min is not None and self.max is not None:
            return f"{self.min}..{self.max}" + (f" {self.unit}" if self.unit else "")
        return _type_name(self.type)


def _type_name(tp: Any) -> str:
    return {Decimal: "a decimal number", int: "an integer", bool: "true or false", str: "a string"}.get(
        tp, "a list of strings"
    )


def key_specs() -> list[KeySpec]:
    """Every configuration key, in declaration order."""
    specs: list[KeySpec] = []
    for section, cls in SECTIONS.items():
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
            m = f.metadata
            specs.append(
                KeySpec(section, f.name, hints[f.name], default, m["doc"], m["unit"], m["min"], m["max"],
                        m["choices"])
            )
    return specs


_SPECS: dict[str, KeySpec] = {}


def _spec_map() -> dict[str, KeySpec]:
    if not _SPECS:
        _SPECS.update({s.dotted: s for s in key_specs()})
    return _SPECS


def key_spec(dotted: str) -> KeySpec:
    """The key ``section.key``: a command-line option that stands in for a key takes the key's range."""
    return _spec_map()[dotted]


def _coerce(spec: KeySpec, raw: Any, source: str) -> Any:
    """Turn a raw value (TOML-typed, or a string from env/flags) into the key's type, or explain."""

    def bad(problem: str, hint: str = "") -> ConfigError:
        # As written: a TOML number (read as Decimal) bare, a boolean in TOML's spelling, text quoted.
        # A URL masked: a venue's may carry a key, the database's a password.
        # Text through shown_setting: one that looks like a key not at all, the rest clipped (a webhook URL
        # pasted into alerts.format was quoted whole in every warning).
        if isinstance(raw, str):
            shown = shown_setting(raw, mask=mask_web_url if spec.is_url else
                                  mask_url if spec.dotted == "database.url" else None,
                                  whole_up_to=SHOWN_PATH_CHARS if spec.is_absolute_path else SHOWN_SETTING_CHARS)
        elif isinstance(raw, Decimal | int) and not isinstance(raw, bool):  # thousands of digits: one line still
            shown = shown_number(str(raw))
        else:
            shown = str(raw).lower() if isinstance(raw, bool) else shown_setting(repr(raw))
        return ConfigError(
            f"{spec.dotted} = {shown} from {source}: {problem}; allowed: {spec.allowed()}",
            hint=hint or f"fix or remove {spec.dotted} in {source}",
            reason="config_invalid",
        )

    tp = spec.type
    value: Any
    if tp is bool:
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            value = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            raise bad("not a boolean")
    elif tp is int:
        if isinstance(raw, bool):
            raise bad("not an integer")
        if isinstance(raw, int):
            digits = len(str(abs(raw)))
        elif isinstance(raw, str) and plain_ascii(raw) and _INTEGER.fullmatch(raw.strip()):
            # ASCII digits only: isdigit() also took "٣" and "３" (read as 3) and "²" (which int() refuses).
            digits = len(raw.strip().lstrip("-"))  # as written, leading zeros too; counted before int() reads it
        else:
            raise bad("not an integer (ASCII digits 0-9 only)" if isinstance(raw, str) else "not an integer")
        if digits > MAX_INTEGER_DIGITS:
            raise bad(f"{digits} digits, more than the {MAX_INTEGER_DIGITS} an integer may have")
        value = raw if isinstance(raw, int) else int(raw.strip())
    elif tp is Decimal:
        if isinstance(raw, bool):
            raise bad("not a number")
        if isinstance(raw, str) and not plain_ascii(raw):  # Decimal() reads "٣", "３" and "1_0" too
            raise bad('not a finite number (ASCII digits 0-9 only, no "_")')
        try:
            value = Decimal(str(raw).strip()) if isinstance(raw, str | int | Decimal) else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            raise bad("not a finite number")
        _check_decimal_size(value, bad)
    elif tp is str:
        if not isinstance(raw, str):
            raise bad("not a string")
        value = raw
    else:  # list[str]
        if isinstance(raw, str) and raw.strip().startswith("["):
            # The TOML array as the config file writes it (ORION__TRADING__TRADING_WINDOWS='["13:30-20:00"]'):
            # split at its commas, its brackets and quotes made every entry a bad window.
            raw_list: Any = _toml_array(raw)
            if raw_list is None:
                raise bad("not a TOML array of strings", hint=f'write {spec.dotted} as ["a", "b"] or as a, b')
        elif isinstance(raw, str):
            raw_list = [p.strip() for p in raw.split(",") if p.strip()]
        else:
            raw_list = raw
        if not isinstance(raw_list, list) or not all(isinstance(x, str) for x in raw_list):
            raise bad("not a list of strings")
        value = list(raw_list)
    if any(NUL in text for text in ([value] if isinstance(value, str) else value if isinstance(value, list) else [])):
        # A file's path (the ledger, the pairs file, the sentinel) cannot hold one: opening it failed
        # later as an internal error, and a sentinel never found could never halt.
        raise bad(NUL_PROBLEM)
    if spec.is_url and not web_url_ok(value):
        raise bad("not a URL orion can send requests to")
    if spec.is_url and not web_url_private(value):
        # Venue requests carry the API key and signatures in their headers: never in clear text.
        raise bad("plain http:// to a host that is not loopback would send requests unencrypted")
    if spec.is_absolute_path and value:
        _check_absolute_file(spec, value, bad)
    if spec.dotted == "database.url" and value:
        _check_absolute_database(value, bad)
    if spec.choices and value not in spec.choices:
        raise bad("not an allowed value")
    if spec.min is not None and value < spec.min:
        raise bad("below the minimum")
    if spec.max is not None and value > spec.max:
        raise bad("above the maximum")
    return value


# How much of a number too long to be right an error shows.
_SHOWN_NUMBER = 40


def shown_number(shown: str) -> str:
    """A number as an error shows it: its first :data:`_SHOWN_NUMBER` characters and its length when
    longer (a configuration key's, and a command-line option's: :func:`orion_cli.cli.params.decimal_value`)."""
    return f"{shown[:_SHOWN_NUMBER]}… ({len(shown)} characters)" if len(shown) > _SHOWN_NUMBER else shown


# No file name can hold it (the system's calls take C strings), nor can a URL or any other setting.
NUL = "\x00"
NUL_PROBLEM = "contains a NUL character (\\x00), which no file name or other setting can hold"


def decimal_size_problem(value: Decimal) -> str | None:
    """Why the finite ``value`` is written with too many digits, or None: more than
    :data:`MAX_DECIMAL_PLACES` places, as written (``5.0000000`` too), or more than
    :data:`MAX_INTEGER_DIGITS` digits before the point (``1e30``). Checked before a key's (or a
    command-line option's, :func:`orion_cli.cli.params.decimal_value`) range, as ``0.0100000001``
    lies within it."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent < -MAX_DECIMAL_PLACES:
        return f"{-exponent} decimal places, more than the {MAX_DECIMAL_PLACES} a number may have"
    whole = len(digits) + exponent  # digits before the point (Decimal drops leading zeros)
    if whole > MAX_INTEGER_DIGITS:
        return f"{whole} digits before the decimal point, more than the {MAX_INTEGER_DIGITS} a number may have"
    return None


def _check_decimal_size(value: Decimal, bad: Callable[[str], ConfigError]) -> None:
    problem = decimal_size_problem(value)
    if problem is not None:
        raise bad(problem)


def _toml_array(text: str) -> list[Any] | None:
    """``text`` read as one TOML array (of anything: the caller checks its entries), or None."""
    try:
        doc = tomllib.loads(f"value = {text}")
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return None
    value = doc.get("value")
    return value if list(doc) == ["value"] and isinstance(value, list) else None  # nothing after it


def _check_absolute_file(spec: KeySpec, value: str, bad: Callable[..., ConfigError]) -> None:
    """A file every process must find in one place: absolute; the sentinel also not a directory (which
    would exist, and so halt, for ever)."""
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # `~nosuchuser/stop`: pathlib cannot expand it
        raise bad("names the home directory of a user this machine does not have") from None
    if not path.is_absolute():
        # The value's own file name in the example only when shown_setting would quote it whole.
        short = (path.name and shown_setting(value, whole_up_to=SHOWN_PATH_CHARS) == repr(value)
                 and not setting_looks_secret(path.name))
        name = path.name if short else "file"
        raise bad("a relative path is looked for in each process's own working directory, so a cron job or a "
                  "service started elsewhere would not find the same file",
                  hint=f'give {spec.dotted} as an absolute path, e.g. "/srv/orion/{name}" or "~/{name}" '
                       "(~ is your home directory)")
    if spec.dotted != "halt.sentinel_file":  # the others are checked by what opens them, in their own words
        return
    try:
        is_dir = path.is_dir()
        odd = not is_dir and path.exists() and not path.is_file()
    except OSError as exc:  # a directory orion may not search (the halt then counts as engaged: risk.halt)
        raise bad(f"cannot be checked ({exc.strerror or exc})") from None
    if is_dir:
        raise bad("names a directory, which would halt trading for as long as it exists")
    if odd:  # the halt counts as engaged while it exists (risk.halt), without reading it
        raise bad("names a named pipe, socket or device, not a regular file")


# A SQLite URL; a URL of another scheme (or a typo of one) and a libpq "key=value" string, which
# store.db refuses with its own words; anything else is a SQLite file's path.
_SQLITE_URL = re.compile(r"sqlite(?:\+[A-Za-z0-9_]+)?://", re.IGNORECASE)
# A URL missing its "//" ("postgresql:/u@h/db") and a libpq conninfo ("host=… dbname=…"): neither is a
# file's path. store.db refuses both, each in its own words.
SCHEME_TYPO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
LIBPQ_CONNINFO = re.compile(r"\s*[A-Za-z_]+\s*=")


def _anything_at(path: Path) -> bool:
    """Whether anything may be at ``path``: False only when the system says nothing is there.

    Why not ``os.path.lexists``: it says False too when a directory on the way cannot be searched, and a
    user config in a directory orion may not enter was skipped for the defaults, every limit and the
    sentinel file in it unseen. Such a path is read, and so refused saying why."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def sqlite_file(url: str) -> tuple[str, str, str] | None:
    """A database URL or path that names a SQLite file, split as (before the path, the path, after it);
    None for anything else (empty, PostgreSQL, in-memory SQLite, text ``store.db`` refuses)."""
    m = _SQLITE_URL.match(url)
    if m:
        rest = url[m.end():]
        if not rest.startswith("/"):  # "sqlite://": in memory
            return None
        path, mark, query = rest[1:].partition("?")
        if not path or path == ":memory:":
            return None
        return url[:m.end() + 1], path, mark + query
    if not url or "://" in url or SCHEME_TYPO.match(url) or LIBPQ_CONNINFO.match(url):
        return None
    return "", url, ""


def absolute_database(url: str) -> str:
    """``--db`` as the user typing it means it: a relative SQLite file is in the working directory.
    Made absolute before it reaches the settings, which refuse a relative one (see below), so every
    process started with the printed URL finds the same ledger."""
    parts = sqlite_file(url)
    if parts is None:
        return url
    before, path, after = parts
    try:
        full = Path(path).expanduser()
    except RuntimeError:  # ~nosuchuser: left for the settings to refuse, naming it
        return url
    if full.is_absolute() and not path.startswith("~"):
        return url
    try:
        resolved = full.resolve()
    except RuntimeError:  # a symbolic link loop: made absolute as written, for the store to refuse (exit 3)
        resolved = Path.cwd() / full
    except OSError:  # the working directory removed: an internal error (exit 1) before (found in review)
        raise ConfigError(f"--db {path!r} is a relative path, and the working directory it would be found in no "
                          "longer exists", hint="give its absolute path, or run from an existing directory",
                          reason="config_invalid") from None
    # Path() drops a trailing slash, which names a directory: kept, for the store to refuse (exit 3) rather
    # than make a ledger file named after the directory (found in review: `--db dd/newdir/`).
    slash = "/" if path.endswith(("/", os.sep)) else ""
    return f"{before}{resolved}{slash}{after}"


def _check_absolute_database(value: str, bad: Callable[[str], ConfigError]) -> None:
    """A relative SQLite file is found in each process's own working directory: a cron job or a
    service started elsewhere would keep a ledger of its own, so an operator's `orion halt` would not
    stop it, and limits and the drawdown breaker would be split. (``--db`` is made absolute first.)"""
    parts = sqlite_file(value)
    if parts is None:
        return
    try:
        absolute = Path(parts[1]).expanduser().is_absolute()
    except RuntimeError:
        raise bad("names the home directory of a user this machine does not have") from None
    if not absolute:
        raise bad("a relative SQLite path is looked for in each process's own working directory, so a cron job "
                  "or a service started elsewhere would keep a ledger, and a kill switch, of its own; give its "
                  "absolute path")


def _unknown_key(dotted: str, source: str) -> ConfigError:
    return ConfigError(f"unknown configuration key {dotted} in {source}", hint=_suggestion(dotted),
                       reason="config_unknown_key")


def _suggestion(dotted: str) -> str:
    """The key(s) ``dotted`` may have meant. A key under the wrong table (or none) by its own name,
    unless its table has keys of which it is a word: the whole dotted name matched the table's other
    keys instead (``[polymarket] pairs_file`` → polymarket.chain_id, ``[trading] daily_loss`` →
    trading.max_unwind_loss). A name more than one table holds gives each (``max_concurrency``). A
    misspelt name: the nearest in its own table, else the nearest anywhere."""
    keys = list(_spec_map())
    section, _, leaf = dotted.rpartition(".")
    here = [key for key in keys if key.startswith(f"{section}.")]
    # This table's keys holding the name as a whole word come before another table's key of that very
    # name: `[halt] file` meant halt.sentinel_file (logging.file would log to the sentinel's path, and
    # nothing would halt), `[polymarket] url` one of its URLs (not database.url).
    close = [key for key in here if f"_{leaf}_" in f"_{key.partition('.')[2]}_"]
    close = close or [key for key in keys if key.partition(".")[2] == leaf]
    if not close:  # misspelt too: the nearest name in this table (kalshi.timeout_secs, [alerts] chat_id), else any
        near = difflib.get_close_matches(leaf, [key.partition(".")[2] for key in here], n=1)
        close = [f"{section}.{near[0]}"] if near else []
    if not close:
        near = difflib.get_close_matches(leaf, list(dict.fromkeys(key.partition(".")[2] for key in keys)), n=1)
        close = [key for key in keys if near and key.partition(".")[2] == near[0]]
    if not close:
        close = difflib.get_close_matches(dotted, keys, n=1)
    return f"did you mean {' or '.join(close)}?" if close else "`orion config example` lists every key"


def _refuse_written_by_others(st: os.stat_result, path: Path, source: str, *, user: bool) -> None:
    """Refuse a config file another local user may have written: one every user may write, or (the user
    config, whose path is not the operator's choice) one another user owns.

    Its limits are what stand between a trade and the account: found in review, another user replaced the
    config.toml of an ``ORION_HOME`` left world-writable (its ``daily_loss`` raised to 10,000,000) and
    orion used it without a word. A file named by ``--config`` may be another user's (a team's shared
    config, kept by an administrator); root's is anyone's."""
    if os.name == "nt":
        return
    if st.st_mode & stat.S_IWOTH:
        raise ConfigError(f"{source}: every local user may write it (mode {stat.S_IMODE(st.st_mode):04o}); "
                          "refusing to take limits from it", hint=f"chmod o-w {path}", reason="config_unsafe")
    if user and st.st_uid not in (os.geteuid(), 0):
        import pwd

        try:
            owner = pwd.getpwuid(st.st_uid).pw_name
        except KeyError:
            owner = str(st.st_uid)
        raise ConfigError(f"{source}: it belongs to {owner}, not to this user; refusing to take limits from it",
                          hint=f"run orion as {owner}, whose config it is (or `orion --db URL halt` to halt), or, "
                               f"if it is to be yours, check what it says and take it (chown $(id -un) {path})",
                          reason="config_unsafe")


def read_toml(path: Path, source: str, *, user: bool = False) -> dict[str, Any]:
    """Parse a TOML config file; syntax errors name line and column. A device, a named pipe or a file
    above :data:`MAX_CONFIG_BYTES` is refused unread, nesting too deep for the parser is a syntax error,
    and an integer too long for the parser to read is refused naming its key: each is a
    :class:`ConfigError`, which the kill switch's lenient loading can skip. ``user``: the user config
    file, whose path is not the operator's choice."""
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES,
                                check=lambda st: _refuse_written_by_others(st, path, source, user=user))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", reason="config_missing") from None
    except IsADirectoryError:
        # The user config's path is fixed: naming "a file in it" (config.toml/config.toml) would never be read.
        # Quoted for the shell: macOS's user config dir is ~/Library/Application Support/orion.
        import shlex

        hint = (f"orion reads its user config from exactly this path: move the directory away (mv "
                f"{shlex.quote(str(path))} {shlex.quote(f'{path}.d')}) or remove it, and write the settings to a "
                "file of this name if you want one"
                if user else f"name the TOML file itself, e.g. {path / 'config.toml'}")
        raise ConfigError(f"{source}: is a directory, not a config file", hint=hint) from None
    except FileRefused as exc:
        raise ConfigError(f"{source}: {exc}, not a config file", hint="name the TOML file itself") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc.__class__.__name__}") from None
    raw = raw.removeprefix(codecs.BOM_UTF8)  # Windows editors write one; tomllib refuses it
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"{source}: not UTF-8 text (at line {line}, column {column})",
                          reason="config_syntax") from None
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except RecursionError:  # tomllib recurses into each nested array or inline table
        raise ConfigError(f"{source}: TOML syntax error: arrays or inline tables nested too deeply",
                          reason="config_syntax") from None
    except tomllib.TOMLDecodeError as exc:
        raise _toml_syntax_error(exc, text, source) from None
    except ValueError:  # int() refuses an integer of thousands of digits (Python's int_max_str_digits)
        raise _long_integer(text, source) from None


def _toml_syntax_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> ConfigError:
    # tomllib's message ends with "(at line L, column C)", except at the very end of the text.
    message = str(exc)
    if message.endswith("(at end of document)"):
        last = text.split("\n")[-1]
        message = message[: -len("(at end of document)")] + (
            f"(at end of document: line {text.count(chr(10)) + 1}, column {len(last) + 1})")
    return ConfigError(f"{source}: TOML syntax error: {message}", reason="config_syntax")


_TABLE_HEADER = re.compile(r"\s*\[\s*([A-Za-z0-9_-]+)\s*\]")
# The number must be the value itself: a long one in a comment after a short value named the wrong key.
_LONG_ASSIGNMENT = re.compile(rf"\s*([A-Za-z0-9_.-]+)\s*=\s*[+-]?([0-9](?:_?[0-9]){{{MAX_INTEGER_DIGITS},}})")


def _long_integer(text: str, source: str) -> ConfigError:
    """An integer of thousands of digits, which the parser's int() refuses (ValueError, not a syntax
    error: it was an internal error, exit 1): named by its key, as far as the text says (the first
    such number assigned, under the table above it), with the bound a number is held to."""
    table = ""
    for number, line in enumerate(text.split("\n"), start=1):
        header = _TABLE_HEADER.match(line)
        if header:
            table = header.group(1)
        assigned = _LONG_ASSIGNMENT.match(line)
        if assigned:
            key = f"{table}.{assigned.group(1)}" if table else assigned.group(1)
            digits = sum(c.isdigit() for c in assigned.group(2))
            return ConfigError(f"{key} = (a number of {digits} digits) from {source} (at line {number}): more "
                               f"than the {MAX_INTEGER_DIGITS} digits a number may have", reason="config_invalid",
                               hint=f"fix or remove {key} in {source}")
    return ConfigError(f"{source}: a number of thousands of digits, more than the {MAX_INTEGER_DIGITS} digits a "
                       "number may have", reason="config_invalid")


# Files every process must find in one place, whatever its working directory. The kill switch's sentinel:
# a relative path made the halt depend on it (an operator's file next to the config halted nothing that
# cron started). The pairs file, the vault and the log file likewise: a cron job started elsewhere
# traded without the curated pairs, found no credentials, or logged where no one looked.
ABSOLUTE_PATH_KEYS = frozenset({"halt.sentinel_file", "matching.pairs_file", "secrets.vault_path", "logging.file"})

# What the kill switch needs to be right about: which database to halt, and the sentinel file.
KILL_SWITCH_SECTIONS = ("database", "halt")


class _Problems:
    """Strict loading raises the first problem; lenient loading (the kill switch's) notes each one
    and leaves its key at the default, unless it may concern the kill switch's own keys: in their
    sections, under a section name orion does not know (a misspelt [database]), or a key of theirs
    under another section (its header line deleted). With the database named on the command line or
    in the environment, only the [halt] keys are guarded so. ``engaging`` (``orion halt`` itself)
    does not guard the [halt] keys: engaging writes the halt to the database and never reads the
    sentinel file, so a misspelt sentinel setting must not keep the switch off; such problems are
    also listed in ``halt_found``, for the caller to report once the switch is on."""

    def __init__(self, lenient: bool, *, database_named: bool, engaging: bool = False) -> None:
        self.lenient = lenient
        self.guarded: tuple[str, ...] = ("halt",) if database_named else KILL_SWITCH_SECTIONS
        if engaging:
            self.guarded = tuple(section for section in self.guarded if section != "halt")
        self.keys = frozenset(f.name for section in self.guarded for f in dataclasses.fields(SECTIONS[section]))
        self.halt_keys = frozenset(f.name for f in dataclasses.fields(SECTIONS["halt"]))
        self.unknown_sections = not database_named
        self.found: list[str] = []
        self.halt_found: list[str] = []

    def __call__(self, exc: ConfigError, *dotted: str) -> None:
        """``dotted``: the key(s) the problem may concern (a misspelt variable can spell two)."""
        for one in dotted:
            section, _, key = one.partition(".")
            # database.url's value is the named one when one is named: a wrong one must not halt the default.
            if (not self.lenient or section in self.guarded or (key or section) in self.keys  # a top-level key too
                    or (section not in SECTIONS and self.unknown_sections) or one == "database.url"):
                raise exc
        if any(section == "halt" or (key or section) in self.halt_keys
               for section, _, key in (one.partition(".") for one in dotted)):
            # The same text in both lists (the caller tells them apart), with the hint it must repeat.
            text = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            self.halt_found.append(text)
            self.found.append(text)
        else:
            self.found.append(exc.message)


def _flatten(doc: Mapping[str, Any], source: str, problem: _Problems) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, body in doc.items():
        if section not in SECTIONS:
            # Its keys too: a misspelt [hallt] or [Halt] holding sentinel_file concerns the kill switch, also
            # with the database named (when an unknown section alone no longer does).
            keys = [f"{section}.{key}" for key in body] if isinstance(body, dict) else []
            problem(_unknown_key(section, source), section, *keys)
            continue
        if not isinstance(body, dict):
            problem(ConfigError(f"{section} in {source} must be a [table]", reason="config_invalid"), section)
            continue
        for key, value in body.items():
            dotted = f"{section}.{key}"
            if dotted not in _spec_map():
                problem(_unknown_key(dotted, source), dotted)
                continue
            flat[dotted] = value
    return flat


def _misnamed(problem: _Problems, meant: tuple[tuple[str, str], ...], message: str) -> None:
    """A variable spelling a key wrongly: the error, with the right name(s) (key, variable) to rename it."""
    right = " or ".join(f"{variable} ({key})" if len(meant) > 1 else variable for key, variable in meant)
    problem(ConfigError(message, hint=f"rename it {right}", reason="config_unknown_key"), *(key for key, _ in meant))


def _env_layer(environ: Mapping[str, str], problem: _Problems) -> dict[str, tuple[Any, str]]:
    layer: dict[str, tuple[Any, str]] = {}
    clashed: set[str] = set()  # keys two variables set differently: neither value taken, nor a third's
    for name, value in environ.items():
        if not name.startswith("ORION_"):
            meant = _lowercase_variable(name)
            if meant:
                _misnamed(problem, meant, f"{name} is not read: variable names are case-sensitive, and orion's "
                                          f"configuration variables are upper case ({ENV_PREFIX}SECTION__KEY)")
            continue
        if name in OWN_VARIABLES:
            continue
        prefixed = name.startswith(ENV_PREFIX)
        parts = name[len(ENV_PREFIX):].lower().split("__") if prefixed else []
        dotted = ".".join(parts)
        if len(parts) == 2 and dotted in _spec_map():
            if not value.strip():
                # What an unset shell variable gives (`ORION__DATABASE__URL=$LEDGER`, $LEDGER unset): taken as
                # a value, it replaced the file's ledger, sentinel file or trading windows with none.
                problem(ConfigError(f"{name} is set but empty: it would replace {dotted} with nothing, and orion "
                                    "will not guess what an empty one meant (an unset shell variable?)",
                                    hint=f"unset it (`unset {name}`) to keep the config file's value or the "
                                         "default, or set it to a value", reason="config_invalid"), dotted)
                clashed.add(dotted)  # lenient: not taken, nor another spelling's value
                layer.pop(dotted, None)
                continue
            # Names are case-sensitive but the section and key are not: ORION__LIMITS__ORDER_NOTIONAL and
            # ORION__limits__order_notional set one key, and the one later in the environment won, silently.
            earlier = layer.get(dotted)
            if dotted in clashed:
                continue
            if earlier is None:
                layer[dotted] = (value, f"environment {name}")
            elif earlier[0] != value:  # the same value twice says one thing: the first one named is its source
                problem(ConfigError(f"{dotted} is set twice, with different values, by {earlier[1]} and "
                                    f"environment {name}", hint="unset one of them",
                                    reason="config_invalid"), dotted)
                layer.pop(dotted)  # lenient: neither is taken, the key keeps its default (or a file's value)
                clashed.add(dotted)
            continue
        meant = _misspelt_variable(name)
        if meant:
            _misnamed(problem, meant, f"{name} is not read: configuration variables are {ENV_PREFIX}SECTION__KEY, "
                                      "with two underscores after ORION and two between section and key")
            continue
        if not prefixed:
            continue  # another tool's ORION_… variable
        if len(parts) != 2:
            problem(ConfigError(f"{name}: expected ORION__SECTION__KEY", reason="config_unknown_key"), dotted)
            continue
        problem(_unknown_key(dotted, f"environment {name}"), dotted)
    return layer


def _lowercase_variable(name: str) -> tuple[tuple[str, str], ...]:
    """Each key ``name`` spells but for its case (``orion__limits__order_notional``, or with one
    underscore where two belong), with its right, upper-case name. Nothing reads such a variable (names
    are case-sensitive), so the limit the operator thinks is set would stay at its old value. Only a
    name whose ``ORION`` is not in upper case: ``ORION__limits__order_notional`` is read as it is."""
    upper = name.upper()
    if name.startswith("ORION_") or not upper.startswith("ORION_") or upper in OWN_VARIABLES:
        return ()  # one of orion's own variables in lower case is a near miss, warned of (own_variable_near_misses)
    dotted = upper[len(ENV_PREFIX):].lower().replace("__", ".") if upper.startswith(ENV_PREFIX) else ""
    if dotted in _spec_map():
        return ((dotted, upper),)
    return _misspelt_variable(upper)


def lowercase_variable_notes(environ: Mapping[str, str]) -> tuple[str, ...]:
    """A note for each ``orion__…`` variable (its ``ORION`` not in upper case) that names no key: nothing
    reads it. A warning, as for an unknown variable of another tool; one that names a key is an error
    (:func:`_lowercase_variable`), as the operator means a setting that would not apply."""
    return tuple(f"ignored {name} (orion reads only upper-case {ENV_PREFIX}SECTION__KEY variables, and this one "
                 "names no configuration key)"
                 for name in sorted(environ)
                 if not name.startswith("ORION_") and name.upper().startswith(ENV_PREFIX)
                 and not _lowercase_variable(name))


# Variables orion reads for itself, not configuration keys: the live gate's pair, the vault's
# password, the paths, the debug switch, an alert credential's legacy name and test hooks. Never taken
# for a misspelt key, whatever key is added later (``paper.trading`` would make ORION_PAPER_TRADING
# look like one).
OWN_VARIABLES = frozenset({
    "ORION_HOME", "ORION_CONFIG", "ORION_DEBUG", "ORION_PAPER_TRADING", "ORION_LIVE_TRADING_AUTHORIZED",
    "ORION_MASTER_PASSWORD", "ORION_MASTER_PASSWORD_FILE", "ORION_ALERT_WEBHOOK_URL",
    "ORION_TRADE_STOP_AFTER_GATE", "ORION_TEST_CRASH_AT", "ORION_TEST_PAUSE_AT",
})

def own_variable_near_misses(environ: Mapping[str, str], *, skip: Collection[str] = ()) -> tuple[str, ...]:
    """A note for each variable that is a near miss of one of :data:`OWN_VARIABLES`: nothing reads it, so
    ``ORION_CONFG=strict.toml`` traded past the strict limits and ``ORION_HOMEE=…`` halted the default
    ledger, silently. A warning, never an error: it may be another tool's variable.

    Found as :func:`orion_cli.core.gate.near_misses` finds the gate's (a name beginning ORION, not an
    ``ORION__`` configuration variable, difflib similarity ≥ 0.8), with the similarity taken on what
    follows ``ORION``: every such name shares that prefix, which made any short name one letter or two
    from ``ORION_HOME`` look close (``ORION_HOST``, ``ORION_MODE``). ``skip``: intended variables whose
    near misses are said elsewhere (``trade``'s gate says its pair's).
    """
    own = {_after_orion(v): v for v in OWN_VARIABLES}
    notes: list[str] = []
    for name in sorted(environ):
        upper = name.upper()
        if name in OWN_VARIABLES or not upper.startswith("ORION") or upper.startswith("ORION__"):
            continue
        meant = _file_variable_meant(upper)
        if meant is None:
            close = difflib.get_close_matches(_after_orion(upper), list(own), n=1, cutoff=0.8)
            meant = own[close[0]] if close else None
        if meant is not None and meant not in skip:
            notes.append(f"ignored {name} (orion reads no such variable; did you mean {meant}?)")
    return tuple(notes)


def _file_variable_meant(upper: str) -> str | None:
    """A name for a file (``…_PATH``, ``…_FILE``) meant one of orion's: a ``…_FILE`` variable first, else
    the bare one (``ORION_CONFIG_FILE`` → ``ORION_CONFIG``). By similarity alone ``ORION_MASTER_PASSWORD_PATH``
    read as ``ORION_MASTER_PASSWORD``, which takes its value as the password itself."""
    for suffix in ("_PATH", "_FILE", "_FILENAME"):
        if upper.endswith(suffix):
            base = upper[: -len(suffix)]
            for candidate in (base + "_FILE", base):
                if candidate in OWN_VARIABLES and candidate != upper:
                    return candidate
    return None


def _after_orion(name: str) -> str:
    return name[len("ORION"):].lstrip("_")


# Where ORION__SECTION__KEY has two underscores, a misspelt variable has one: after ORION, between
# section and key, or both.
_MISSPELT_SEPARATORS = (("_", "__"), ("__", "_"), ("_", "_"))


def _misspelt_variable(name: str) -> tuple[tuple[str, str], ...]:
    """Each key ``name`` spells with a single underscore where ``ORION__SECTION__KEY`` has two, with the
    right name for it (the operator's case kept): ``ORION_LIMITS_ORDER_NOTIONAL`` →
    ``(("limits.order_notional", "ORION__LIMITS__ORDER_NOTIONAL"),)``.

    Such a name is read by nothing: left silent, a limit the operator lowered (or the kill switch's
    sentinel file) would stay at its old value. Only a name that spells a real key is caught, so other
    tools' ``ORION_…`` variables are left alone. Two keys can in principle spell one name (``a_b.c``
    and ``a.b_c`` both give ``ORION_A_B_C``); then both are returned and the operator must choose.
    """
    found: list[tuple[str, str]] = []
    for dotted in _spec_map():
        section, key = dotted.split(".")
        for after_orion, between in _MISSPELT_SEPARATORS:
            head = "ORION" + after_orion
            rest = name[len(head):]
            cut = len(section) + len(between)
            if (name.startswith(head) and len(rest) == cut + len(key) and rest[:len(section)].lower() == section
                    and rest[len(section):cut] == between and rest[cut:].lower() == key):
                found.append((dotted, f"{ENV_PREFIX}{rest[:len(section)]}__{rest[cut:]}"))
    return tuple(found)


def load_settings(
    *,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    lenient: bool = False,
    engaging: bool = False,
) -> Settings:
    """Merge every layer, validate each value once, and freeze the result.

    ``overrides`` are command-line flags as ``{"section.key": value}``; ``config_file`` is ``--config``
    (falling back to ``$ORION_CONFIG``).

    ``lenient`` is for the kill switch, which must engage even when a bad edit broke the file: a
    wrong key that cannot concern [database] or [halt] (see ``_Problems``) is left at its default and
    listed in ``problems``. A file that cannot be read or parsed at all is skipped only when the
    database is named (non-empty) on the command line or in the environment; otherwise nothing says
    which database to halt, and its error is raised. ``engaging`` (with ``lenient``) is for engaging
    the switch: a wrong [halt] key is noted too, in ``problems`` and ``halt_problems`` (see ``_Problems``).
    """
    env = os.environ if environ is None else environ
    # Named on the command line or in the environment: the files cannot point the kill switch elsewhere.
    # The section and key after ORION__ are read whatever their case (_env_layer), so is this one.
    named_in_env = any(name.startswith(ENV_PREFIX) and name[len(ENV_PREFIX):].lower() == "database__url"
                       and str(value).strip() for name, value in env.items())
    database_named = bool(str((overrides or {}).get("database.url") or "").strip()) or named_in_env
    problem = _Problems(lenient, database_named=database_named, engaging=engaging)
    values: dict[str, tuple[Any, str]] = {}
    files: list[str] = []
    unread: list[ConfigError] = []

    def layer(path: Path, source: str, label: str) -> None:
        files.append(str(path))
        try:
            doc = read_toml(path, source, user=path == user_file)
        except ConfigError as exc:
            if not lenient:
                raise
            unread.append(exc)
            return
        for k, v in _flatten(doc, source, problem).items():
            values[k] = (v, label)

    home = home_problem(env.get("ORION_HOME"))
    user_file: Path | None = None
    if home is not None:  # the default ledger (and so the kill switch) is in it, unless one is named
        problem(home, "database")  # noted only for the kill switch with its database named: the file unread
    else:
        user_file = user_config_file()
        # Anything at the path but nothing at all is read (and so refused if it is a directory, a device, a
        # FIFO or a dangling link): skipping it ran every command on the defaults, the limits in it unseen.
        if _anything_at(user_file):
            layer(user_file, str(user_file), f"user config {user_file}")

    explicit = config_file
    explicit_source = "--config"
    blank_config = blank_variable_problem("ORION_CONFIG", env.get("ORION_CONFIG")) if explicit is None else None
    if blank_config is not None:  # the file it was to name is not read, as an unreadable one is not
        if not lenient:
            raise blank_config
        unread.append(blank_config)
    elif explicit is None and env.get("ORION_CONFIG") is not None:
        explicit = Path(env["ORION_CONFIG"]).expanduser()
        explicit_source = "$ORION_CONFIG"
    if explicit is not None:
        src = f"{explicit_source} {explicit}"
        layer(explicit, src, src)

    values.update(_env_layer(env, problem))

    for dotted, v in (overrides or {}).items():
        if v is not None:
            if dotted not in _spec_map():
                raise _unknown_key(dotted, "command line")
            values[dotted] = (v, "command line")

    if unread:
        if not database_named:  # the unreadable file may name the database (or override another's)
            # the command to follow literally: a status query is pointed at a status query, never told how to halt
            unread[0].hint = ("`orion --db URL halt` engages the kill switch on URL without the file" if engaging
                              else "`orion --db URL halt --status` shows the kill switch on URL without the file")
            raise unread[0]
        problem.found.extend(f"{exc.message} (the file was skipped: halt.sentinel_file and every other key "
                             "it sets are not applied)" for exc in unread)

    sections: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for section, cls in SECTIONS.items():
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            dotted = f"{section}.{f.name}"
            sources[dotted] = "default"
            if dotted in values:
                raw, source = values[dotted]
                try:
                    kwargs[f.name] = _coerce(_spec_map()[dotted], raw, source)
                except ConfigError as exc:
                    problem(exc, dotted)
                    continue
                sources[dotted] = source
        sections[section] = cls(**kwargs)
    settings = Settings(**sections, sources=sources, config_files=tuple(files))
    try:
        _cross_checks(settings)
    except ConfigError as exc:
        problem(exc, "limits")  # the cross checks are about limits, rates and trading windows
    if not problem.found:
        return settings
    return dataclasses.replace(settings, problems=tuple(problem.found), halt_problems=tuple(problem.halt_found))


def _cross_checks(s: Settings) -> None:
    if s.limits.price_band_low >= s.limits.price_band_high:
        raise ConfigError(
            f"limits.price_band_low ({s.limits.price_band_low}, from {s.sources['limits.price_band_low']}) must be "
            f"below limits.price_band_high ({s.limits.price_band_high}, from {s.sources['limits.price_band_high']})",
            reason="config_invalid",
        )
    if s.rate_limits.orders_per_minute > s.rate_limits.orders_per_hour:
        raise ConfigError(
            f"rate_limits.orders_per_minute ({s.rate_limits.orders_per_minute}, from "
            f"{s.sources['rate_limits.orders_per_minute']}) must not exceed rate_limits.orders_per_hour "
            f"({s.rate_limits.orders_per_hour}, from {s.sources['rate_limits.orders_per_hour']})",
            reason="config_invalid",
        )
    for window in s.trading.trading_windows:
        parse_window(window, s.sources["trading.trading_windows"])


_WINDOW = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*")


def parse_window(text: str, source: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` (UTC) → minutes since midnight; a window may wrap past midnight. ASCII digits
    only (:func:`plain_ascii`, as every number and time a person gives orion): int() read "１３:30" as
    13:30."""
    try:
        if not plain_ascii(text):
            raise ValueError
        match = _WINDOW.fullmatch(text)  # split and int() alone took "+13:30", "13 :+30" and "13:5"
        if match is None:
            raise ValueError
        sh, sm, eh, em = (int(x) for x in match.groups())
        if not (0 <= sh < 24 and 0 <= eh <= 24 and 0 <= sm < 60 and 0 <= em < 60) or (eh == 24 and em > 0):
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"trading.trading_windows entry {shown_setting(text, whole_up_to=SHOWN_WINDOW_CHARS)} from {source} "
            "is not HH:MM-HH:MM (UTC" + (")" if plain_ascii(text) else ", in ASCII digits)"),
            reason="config_invalid",
        ) from None
    start_min, end_min = sh * 60 + sm, eh * 60 + em
    if start_min == end_min:  # a typo, not a choice: read as "always" it would lift the window altogether
        raise ConfigError(
            f"trading.trading_windows entry {shown_setting(text, whole_up_to=SHOWN_WINDOW_CHARS)} from {source} "
            "starts where it ends",
            hint="the whole day is 00:00-24:00; an empty list means always open",
            reason="config_invalid",
        )
    return start_min, end_min


def redacted_view(settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings for display. No key is meant to hold a secret, but a URL can carry one (a proxy's
    ``user:password@``, an ``?api_key=``): every URL is shown masked; and a value that looks like a key
    or token (a wallet key set as ``alerts.telegram_chat_id``) is not shown."""
    out = settings.as_dict()
    for section, values in out.items():
        for key, value in values.items():
            if isinstance(value, str) and setting_looks_secret(value):  # a key or token put in the wrong key
                values[key] = NOT_SHOWN
            elif section != "database" and isinstance(value, str) and "://" in value:
                values[key] = mask_web_url(value)
    db = out["database"]
    if db.get("url"):
        db["url"] = mask_url(str(db["url"]))
    return out


def render_example() -> str:
    """The commented ``config.toml.example``: every key, its default, unit and allowed range."""
    lines = [
        "# orion configuration — every key, with its default, unit and allowed range.",
        "#",
        "# Precedence (first wins): command-line flag > environment ORION__SECTION__KEY",
        "# (e.g. ORION__LIMITS__ORDER_NOTIONAL=50) > --config FILE / $ORION_CONFIG > this user file",
        "# > built-in defaults. Unknown keys are errors. Secrets never go here: `orion secrets`.",
        "# Uncomment a line to change it. Money is in US dollars, written as decimal strings.",
        f"# A number has at most {MAX_DECIMAL_PLACES} decimal places and {MAX_INTEGER_DIGITS} digits before the point; "
        "a file's path is absolute (~ allowed).",
    ]
    for section, cls in SECTIONS.items():
        lines.append("")
        lines.append(f"[{section}]")
        doc = (cls.__doc__ or "").strip()
        if doc:
            lines.append(f"# {doc}")
        for spec in (s for s in key_specs() if s.section == section):
            detail = spec.doc
            extra = []
            if spec.unit:
                extra.append(f"unit: {spec.unit}")
            if spec.choices or spec.is_url or (spec.min is not None and spec.max is not None):
                extra.append(f"allowed: {spec.allowed()}")
            if extra:
                detail += f" ({'; '.join(extra)})"
            lines.append(f"# {detail}")
            lines.append(f"# {spec.key} = {toml_value(spec.default)}")
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f'"{value}"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def iter_flat(settings: Settings) -> Iterable[tuple[str, Any, str]]:
    """(dotted key, value, source) for every key, redacted; the ledger, vault and pairs file as the
    commands find them (:func:`effective_location`)."""
    view = redacted_view(settings)
    for spec in key_specs():
        value, source = view[spec.section][spec.key], settings.sources.get(spec.dotted, "default")
        if spec.dotted in LOCATION_KEYS:
            value, source = effective_location(spec.dotted, value, source)
        yield spec.dotted, value, source


# The keys that name where the ledger, the vault and the pairs file are, empty for a default place.
LOCATION_KEYS = ("database.url", "secrets.vault_path", "matching.pairs_file")


def effective_location(dotted: str, value: Any, source: str) -> tuple[Any, str]:
    """The (value, source) shown for a :data:`LOCATION_KEYS` key: the file or URL every command uses.

    Why: left empty, each was shown as ``""`` from ``default`` while the ledger was the ORION_HOME's
    ``orion.db`` (found by a black-box review): an operator could not confirm that cron and a trader
    share one ledger, and so one kill switch. An empty key is shown resolved, its source saying where
    the default came from (``default (ORION_HOME)``, or the user data or config dir); a path given
    with ``~`` is shown expanded (cron running as another user finds another home). A URL's password
    stays masked; anything else is shown as configured.
    """
    from orion_cli.core import paths

    text = str(value)
    if dotted == "database.url":
        if not text:
            home = "ORION_HOME" if paths.home_override() is not None else "user data dir"
            return paths.default_database_url(), f"default ({home})"
        parts = sqlite_file(text)
        return (mask_url(absolute_database(text)) if parts is not None and parts[1].startswith("~") else value,
                source)
    if not text:
        home = "ORION_HOME" if paths.home_override() is not None else (
            "user data dir" if dotted == "secrets.vault_path" else "user config dir")
        where = paths.default_vault_path() if dotted == "secrets.vault_path" else paths.default_pairs_file()
        return str(where), f"default ({home})"
    if text.startswith("~"):
        try:
            return str(Path(text).expanduser()), source
        except RuntimeError:  # ~nosuchuser: refused by the settings already; shown as given
            return value, source
    return value, source
