"""The catalogue of credentials orion knows, their legacy environment names, and their validators.

Validators run before anything is written, so a malformed credential never reaches the vault. They
raise :class:`SecretsError` naming the credential and the problem, never quoting the value: even a
"bad" value may be a real key pasted into the wrong field.

The environment aliases are the variable names used by the official examples and by popular older
Kalshi / Polymarket bots (``py-clob-client`` examples use ``PK``, ``CLOB_API_KEY``, ``CLOB_SECRET``,
``CLOB_PASS_PHRASE``, ``FUNDER``, ``SIGNATURE_TYPE``; Kalshi bots use ``KALSHI_API_KEY_ID`` /
``KALSHI_KEY_ID`` and ``KALSHI_PRIVATE_KEY_PATH`` / ``KALSHI_PRIVATE_KEY``), so ``orion secrets
encrypt --from-env`` / ``--from-file .env`` can migrate an existing ``.env``. Earlier aliases win.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from orion_cli.core.errors import SecretsError, UsageError

Validator = Callable[[str, bytes], bytes]
"""(name, raw value) -> normalised value, or raise SecretsError naming ``name`` (never the value)."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class SecretSpec:
    name: str
    venue: str  # "kalshi", "polymarket", "alerts"
    description: str
    validate: Validator
    env: tuple[str, ...] = ()  # variables holding the value itself
    env_path: tuple[str, ...] = ()  # variables holding a path to a file with the value
    sensitive: bool = True  # False for public identifiers (addresses); still stored encrypted
    multiline: bool = False  # PEM keys: the TTY prompt asks for a file path instead
    tags: tuple[str, ...] = field(default_factory=tuple)


def _bad(name: str, problem: str, hint: str | None = None) -> SecretsError:
    return SecretsError(f"{name}: {problem}; nothing was written", hint=hint, reason="invalid_secret")


def _text(name: str, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(name, "is not UTF-8 text") from None
    return text.strip()


def _single_token(name: str, raw: bytes, *, max_len: int = 512) -> str:
    text = _text(name, raw)
    if not text:
        raise _bad(name, "is empty")
    if len(text) > max_len:
        raise _bad(name, f"is too long ({len(text)} characters)")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise _bad(name, "contains whitespace or control characters")
    return text


# -- validators ---------------------------------------------------------------------------------

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def validate_kalshi_key_id(name: str, raw: bytes) -> bytes:
    """Kalshi key ids are UUIDs (KALSHI-ACCESS-KEY header)."""
    text = _single_token(name, raw)
    if not _UUID_RE.match(text):
        raise _bad(name, "is not a Kalshi key id (expected a UUID like 8-4-4-4-12 hex digits)")
    return text.lower().encode()


MIN_RSA_BITS = 2048


def validate_rsa_private_key(name: str, raw: bytes) -> bytes:
    """An unencrypted PEM RSA private key of at least 2048 bits, stored as PEM text."""
    text = _text(name, raw)
    if "\n" not in text and "\\n" in text:
        # One-line .env style ("-----BEGIN ...-----\nMIIE...\n-----END ...-----").
        text = text.replace("\\r", "").replace("\\n", "\n")
    if "-----BEGIN" not in text:
        raise _bad(name, "is not a PEM private key (no -----BEGIN line)",
                   hint="pass the contents of the .pem file Kalshi gave you, not its path or key id")
    if "ENCRYPTED" in text:
        raise _bad(name, "is a password-protected PEM key",
                   hint="export it without a passphrase (the vault encrypts it): "
                        "openssl rsa -in key.pem -out plain.pem")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(text.encode("ascii", "strict"), password=None)
    except Exception:  # ValueError, TypeError, UnsupportedAlgorithm, UnicodeEncodeError, ...
        # The library's message is not echoed: we never risk quoting key bytes.
        raise _bad(name, "could not be loaded as a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _bad(name, "is not an RSA key (Kalshi signs with RSA-PSS)")
    if key.key_size < MIN_RSA_BITS:
        raise _bad(name, f"is a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits are required")
    return (text.strip() + "\n").encode("ascii")


_HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def validate_wallet_key(name: str, raw: bytes) -> bytes:
    """32 bytes of hex (optional 0x), a valid secp256k1 scalar; stored as 0x + lowercase hex."""
    text = _single_token(name, raw)
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if not _HEX64_RE.match(body):
        raise _bad(name, "is not a wallet private key (expected 64 hex digits, optionally with 0x)",
                   hint="this is the 32-byte key exported from the wallet, not an address or a seed phrase")
    scalar = int(body, 16)
    if not 0 < scalar < _SECP256K1_N:
        raise _bad(name, "is outside the secp256k1 key range")
    return ("0x" + body.lower()).encode()


_ADDR_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def validate_address(name: str, raw: bytes) -> bytes:
    """0x + 40 hex; a mixed-case address must carry a valid EIP-55 checksum. Stored checksummed."""
    text = _single_token(name, raw)
    if not _ADDR_RE.match(text):
        raise _bad(name, "is not an Ethereum address (expected 0x followed by 40 hex digits)")
    from eth_utils.address import to_checksum_address

    checksummed = str(to_checksum_address(text.lower()))
    body = text[2:]
    if body != body.lower() and body != body.upper() and text != checksummed:
        raise _bad(name, "has an invalid EIP-55 checksum (a typo?)")
    if int(body, 16) == 0:
        raise _bad(name, "is the zero address")
    return checksummed.encode()


def validate_signature_type(name: str, raw: bytes) -> bytes:
    """Polymarket signature type: 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271."""
    text = _single_token(name, raw)
    if text not in ("0", "1", "2", "3"):
        raise _bad(name, "must be 0 (EOA), 1 (POLY_PROXY), 2 (POLY_GNOSIS_SAFE) or 3 (POLY_1271)")
    return text.encode()


def validate_token(name: str, raw: bytes) -> bytes:
    """An opaque credential: non-empty, one line, printable, no spaces."""
    return _single_token(name, raw).encode()


def validate_clob_secret(name: str, raw: bytes) -> bytes:
    """The CLOB API secret is URL-safe base64 (it is decoded to the HMAC key)."""
    text = _single_token(name, raw)
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _bad(name, "is not URL-safe base64 (the CLOB API secret is)") from None
    if not re.fullmatch(r"[A-Za-z0-9_\-]+=*", text) or len(decoded) < 16:
        raise _bad(name, "is not URL-safe base64 (the CLOB API secret is)")
    return text.encode()


def validate_https_url(name: str, raw: bytes) -> bytes:
    text = _single_token(name, raw, max_len=2048)
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise _bad(name, "is not a valid URL") from None
    if parts.scheme != "https":
        raise _bad(name, "must be an https:// URL")
    if not parts.hostname or not port_ok:
        raise _bad(name, "is not a valid URL (no host)")
    return text.encode()


_TELEGRAM_RE = re.compile(r"^[0-9]{5,16}:[A-Za-z0-9_-]{30,64}$")


def validate_telegram_token(name: str, raw: bytes) -> bytes:
    text = _single_token(name, raw)
    if not _TELEGRAM_RE.match(text):
        raise _bad(name, "is not a Telegram bot token (expected <digits>:<35 characters>)")
    return text.encode()


# -- the catalogue ------------------------------------------------------------------------------

CATALOGUE: dict[str, SecretSpec] = {
    s.name: s
    for s in (
        SecretSpec(
            "kalshi_api_key_id", "kalshi", "Kalshi API key id (UUID)", validate_kalshi_key_id,
            env=("KALSHI_API_KEY_ID", "KALSHI_KEY_ID", "KALSHI_ACCESS_KEY", "KALSHI_API_KEY"),
            sensitive=False,
        ),
        SecretSpec(
            "kalshi_private_key", "kalshi", "Kalshi RSA private key (PEM, >= 2048 bits)",
            validate_rsa_private_key,
            env=("KALSHI_PRIVATE_KEY", "KALSHI_PRIVATE_KEY_PEM", "KALSHI_PRIV_KEY"),
            env_path=("KALSHI_PRIVATE_KEY_PATH", "KALSHI_PRIVATE_KEY_FILE", "KALSHI_KEY_PATH",
                      "KALSHI_PRIV_KEY_PATH"),
            multiline=True,
        ),
        SecretSpec(
            "polymarket_private_key", "polymarket", "Polymarket wallet private key (32-byte hex)",
            validate_wallet_key,
            env=("POLYMARKET_PRIVATE_KEY", "POLY_PRIVATE_KEY", "POLYMARKET_PK", "POLYGON_WALLET_PRIVATE_KEY",
                 "POLYGON_PRIVATE_KEY", "PK"),
        ),
        SecretSpec(
            "polymarket_funder_address", "polymarket", "Polymarket funder (proxy/Safe/deposit wallet) address",
            validate_address,
            env=("POLYMARKET_FUNDER_ADDRESS", "POLYMARKET_FUNDER", "POLY_FUNDER", "POLYMARKET_PROXY_ADDRESS",
                 "PROXY_FUNDER", "FUNDER"),
            sensitive=False,
        ),
        SecretSpec(
            "polymarket_signature_type", "polymarket", "Polymarket signature type (0-3)",
            validate_signature_type,
            env=("POLYMARKET_SIGNATURE_TYPE", "POLY_SIGNATURE_TYPE", "SIGNATURE_TYPE"),
            sensitive=False,
        ),
        SecretSpec(
            "polymarket_api_key", "polymarket", "Polymarket CLOB API key", validate_token,
            env=("POLYMARKET_API_KEY", "POLY_API_KEY", "CLOB_API_KEY"),
        ),
        SecretSpec(
            "polymarket_api_secret", "polymarket", "Polymarket CLOB API secret (base64)", validate_clob_secret,
            env=("POLYMARKET_API_SECRET", "POLY_API_SECRET", "POLYMARKET_SECRET", "CLOB_SECRET",
                 "CLOB_API_SECRET"),
        ),
        SecretSpec(
            "polymarket_api_passphrase", "polymarket", "Polymarket CLOB API passphrase", validate_token,
            env=("POLYMARKET_API_PASSPHRASE", "POLY_API_PASSPHRASE", "POLYMARKET_PASSPHRASE",
                 "CLOB_PASS_PHRASE", "CLOB_PASSPHRASE", "CLOB_API_PASSPHRASE"),
        ),
        SecretSpec(
            "alert_webhook_url", "alerts", "Alert webhook URL (https)", validate_https_url,
            env=("ORION_ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_URL", "SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK_URL"),
        ),
        SecretSpec(
            "telegram_bot_token", "alerts", "Telegram bot token (alerts.format = telegram)",
            validate_telegram_token,
            env=("TELEGRAM_BOT_TOKEN", "TELEGRAM_TOKEN"),
        ),
    )
}


def check_name(name: str) -> str:
    """Names are lowercase identifiers; anything else is a usage error (exit 2)."""
    if not _NAME_RE.match(name):
        raise UsageError(
            f"invalid secret name {name!r:.80}",
            hint="names are lowercase letters, digits and underscores, e.g. kalshi_private_key",
            reason="invalid_name",
        )
    return name


def unknown_credential(name: str) -> UsageError:
    """A name outside the catalogue where a credential orion knows is wanted (exit 2), with the names it
    knows: `secrets encrypt --name` and `secrets remove` say it alike."""
    return UsageError(f"unknown credential {name!r}: not a credential orion knows",
                      hint="names: " + ", ".join(CATALOGUE))


def spec_for(name: str) -> SecretSpec | None:
    return CATALOGUE.get(name)


def normalise(name: str, raw: bytes) -> bytes:
    """Validate and normalise one value. Names outside the catalogue are stored as given."""
    check_name(name)
    spec = CATALOGUE.get(name)
    if spec is None:
        return raw
    return spec.validate(name, raw)


def same_value(name: str, a: bytes, b: bytes) -> bool:
    """Whether two values given for credential ``name`` are the same credential once normalised
    (``0x``-prefixed or not, a UUID's case); compared as stripped text when either is malformed."""
    try:
        a, b = normalise(name, a), normalise(name, b)
    except SecretsError:
        a, b = a.strip(), b.strip()
    return hmac.compare_digest(a, b)
