"""Polymarket CLOB authentication: the L1 wallet signature, L2 HMAC headers and the key holder.

Why this module is pure: the HTTP client signs every attempt afresh, so all it needs is a
function from (credentials, method, path, exact body bytes, timestamp) to headers. Keeping that
free of I/O makes every byte checkable against the published vectors and the official
``py_clob_client_v2`` (``signing/hmac.py``, ``signing/eip712.py``, ``headers/headers.py``).

Facts encoded here (reference notes §2.2, §2.3):

* **L1** (``POST /auth/api-key``, ``GET /auth/derive-api-key``): EIP-712 over domain
  ``{name: "ClobAuthDomain", version: "1", chainId}`` (no verifyingContract) and
  ``ClobAuth(address address,string timestamp,uint256 nonce,string message)`` where the timestamp
  is the *decimal string* of unix seconds and the message is the fixed attestation text. Headers
  ``POLY_ADDRESS``, ``POLY_SIGNATURE``, ``POLY_TIMESTAMP``, ``POLY_NONCE``.
* **L2** (every private call): ``urlsafe_b64(HMAC_SHA256(urlsafe_b64decode(secret),
  str(ts) + METHOD + path + body))`` with the ``=`` padding kept and the body left out when empty.
  The path excludes the query string. We sign the exact body bytes that are sent; the official
  client signs ``str(body).replace("'", '"')`` of the same compact JSON, which is identical
  whenever the body has no ``'`` (true of every body orion sends: hex, digits, enum words, UUID).

Secrets: :class:`PrivateKey` and :class:`ApiCredentials` redact themselves in ``repr``/``str``,
refuse pickling, and every failure while parsing or signing is re-raised *outside* the ``except``
block, so the new exception has neither the library's message nor a ``__context__`` that could
carry key material into a log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

from orion_cli.core.errors import DataError, SecretsError

__all__ = [
    "CLOB_AUTH_MESSAGE",
    "POLYGON_CHAIN_ID",
    "ApiCredentials",
    "PrivateKey",
    "build_hmac_signature",
    "clob_auth_digest",
    "eip712_digest",
    "keccak256",
    "l1_headers",
    "l2_headers",
    "sign_clob_auth",
    "to_checksum_address",
]

POLYGON_CHAIN_ID = 137
AMOY_CHAIN_ID = 80002

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
_CLOB_AUTH_DOMAIN_NAME = "ClobAuthDomain"
_CLOB_AUTH_DOMAIN_VERSION = "1"

_HEX_KEY = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


# --------------------------------------------------------------------------- EIP-712 primitives


def keccak256(data: bytes) -> bytes:
    """Ethereum's Keccak-256 (not NIST SHA3-256)."""
    from eth_utils.crypto import keccak

    return bytes(keccak(primitive=data))


def enc_uint(value: int) -> bytes:
    """ABI-encode a uint256 word; refuses negatives and overflow rather than wrapping."""
    if value < 0 or value >= 1 << 256:
        raise DataError("uint256", "out of range")
    return value.to_bytes(32, "big")


def enc_address(address: str) -> bytes:
    """ABI-encode an address word (left-padded 20 bytes)."""
    if not _HEX_ADDRESS.fullmatch(address):
        raise DataError("address", f"not a 0x-prefixed 20-byte hex address: {address[:44]!r}")
    return bytes(12) + bytes.fromhex(address[2:])


def enc_bytes32(value: str) -> bytes:
    """A 0x-prefixed 32-byte hex string as one word."""
    if not re.fullmatch(r"0x[0-9a-fA-F]{64}", value):
        raise DataError("bytes32", f"not a 0x-prefixed 32-byte hex value: {value[:70]!r}")
    return bytes.fromhex(value[2:])


def eip712_digest(domain_separator: bytes, struct_hash: bytes) -> bytes:
    """``keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))`` — the value that is signed."""
    return keccak256(b"\x19\x01" + domain_separator + struct_hash)


def to_checksum_address(address: str, field_name: str = "address") -> str:
    """EIP-55 checksum form; rejects anything that is not 20 bytes of hex."""
    if not isinstance(address, str) or not _HEX_ADDRESS.fullmatch(address):
        raise DataError(field_name, "not a 0x-prefixed 20-byte hex address")
    from eth_utils.address import to_checksum_address as _checksum

    return str(_checksum(address))


# --------------------------------------------------------------------------- the private key


def _raise_key_error(what: str) -> NoReturn:
    # Called outside any ``except`` block: the new exception carries no __context__.
    raise SecretsError(f"Polymarket private key: {what}", reason="bad_private_key")


class PrivateKey:
    """A secp256k1 signing key that never shows itself.

    ``repr``/``str`` print only the address; pickling is refused so the key cannot leak into a
    cache or a multiprocessing queue by accident. Signing failures raise :class:`SecretsError`
    with a fixed message and no chained exception.
    """

    __slots__ = ("_address", "_secret")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != 32:
            _raise_key_error("must be 32 bytes")
        if not 0 < int.from_bytes(secret, "big") < _SECP256K1_N:
            _raise_key_error("not a valid secp256k1 scalar")
        address: str | None = None
        try:
            from eth_keys.datatypes import PrivateKey as EcKey

            address = str(EcKey(secret).public_key.to_checksum_address())
        except Exception:  # the library's message may quote the key
            address = None
        if address is None:
            _raise_key_error("could not derive the address")
        self._secret = secret
        self._address = address

    @classmethod
    def from_hex(cls, text: str) -> PrivateKey:
        """Parse ``0x``-prefixed or bare 64-hex-digit text (surrounding whitespace ignored)."""
        if not isinstance(text, str):
            _raise_key_error("expected a hex string")
        stripped = text.strip()
        if not _HEX_KEY.fullmatch(stripped):
            _raise_key_error("expected 64 hex digits, optionally 0x-prefixed")
        return cls(bytes.fromhex(stripped.removeprefix("0x")))

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh random key (tests and throwaway wallets)."""
        while True:
            candidate = secrets.token_bytes(32)
            if 0 < int.from_bytes(candidate, "big") < _SECP256K1_N:
                return cls(candidate)

    @property
    def address(self) -> str:
        """The EOA address (EIP-55 checksummed): ``POLY_ADDRESS`` and the order ``signer``."""
        return self._address

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest; 65 bytes ``r ‖ s ‖ v`` with ``v`` in {27, 28} (RFC 6979, deterministic)."""
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise DataError("digest", "must be 32 bytes")
        signature: bytes | None = None
        try:
            from eth_keys.datatypes import PrivateKey as EcKey

            sig = EcKey(self._secret).sign_msg_hash(digest)
            signature = sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.v + 27])
        except Exception:  # never let the library's text or traceback escape
            signature = None
        if signature is None:
            _raise_key_error("signing failed")
        return signature

    def sign_digest_hex(self, digest: bytes) -> str:
        """:meth:`sign_digest` as the ``0x``-prefixed lowercase hex the CLOB expects."""
        return "0x" + self.sign_digest(digest).hex()

    def __repr__(self) -> str:
        return f"PrivateKey(<redacted>, address={self._address})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("PrivateKey cannot be pickled")

    def __copy__(self) -> PrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> PrivateKey:
        return self


# --------------------------------------------------------------------------- L2: API credentials + HMAC


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """The L2 API key triple returned by ``/auth/api-key``; secret and passphrase never print."""

    api_key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("api_key", "secret", "passphrase"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or value != value.strip():
                raise SecretsError(f"Polymarket API credential {name}: missing or malformed")
        if _decode_secret(self.secret) is None:
            raise SecretsError("Polymarket API credential secret: not url-safe base64")

    @classmethod
    def from_response(cls, payload: Any) -> ApiCredentials:
        """Parse the ``{"apiKey","secret","passphrase"}`` answer of create/derive."""
        if not isinstance(payload, dict):
            raise DataError("api_credentials", "expected a JSON object")
        values = []
        for key in ("apiKey", "secret", "passphrase"):
            value = payload.get(key)
            if not isinstance(value, str) or not value:
                raise DataError(f"api_credentials.{key}", "missing or not a string")
            values.append(value)
        return cls(values[0], values[1], values[2])

    def __repr__(self) -> str:
        return f"ApiCredentials(api_key={self.api_key!r}, secret=<redacted>, passphrase=<redacted>)"

    __str__ = __repr__


def _decode_secret(secret: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(secret.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def build_hmac_signature(
    secret: str, timestamp: int | str, method: str, request_path: str, body: bytes | str | None = None
) -> str:
    """The ``POLY_SIGNATURE`` of an L2 request over exactly ``body`` (bytes as sent)."""
    key = _decode_secret(secret)
    if key is None:
        raise SecretsError("Polymarket API credential secret: not url-safe base64")
    if "?" in request_path:
        raise DataError("request_path", "must not include the query string")
    message = f"{timestamp}{method}{request_path}".encode()
    if body:
        message += body.encode() if isinstance(body, str) else body
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def l2_headers(
    address: str,
    creds: ApiCredentials,
    method: str,
    request_path: str,
    body: bytes | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Headers for one private request. ``address`` is the EOA that owns the API key."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "POLY_ADDRESS": to_checksum_address(address),
        "POLY_SIGNATURE": build_hmac_signature(creds.secret, ts, method, request_path, body),
        "POLY_TIMESTAMP": str(ts),
        "POLY_API_KEY": creds.api_key,
        "POLY_PASSPHRASE": creds.passphrase,
    }


# --------------------------------------------------------------------------- L1: ClobAuth


_CLOB_AUTH_DOMAIN_TYPEHASH = b"EIP712Domain(string name,string version,uint256 chainId)"
_CLOB_AUTH_TYPEHASH = b"ClobAuth(address address,string timestamp,uint256 nonce,string message)"


def clob_auth_digest(address: str, timestamp: int | str, nonce: int, chain_id: int = POLYGON_CHAIN_ID) -> bytes:
    """The EIP-712 digest the wallet signs to create or derive API keys."""
    domain = keccak256(
        keccak256(_CLOB_AUTH_DOMAIN_TYPEHASH)
        + keccak256(_CLOB_AUTH_DOMAIN_NAME.encode())
        + keccak256(_CLOB_AUTH_DOMAIN_VERSION.encode())
        + enc_uint(chain_id)
    )
    struct = keccak256(
        keccak256(_CLOB_AUTH_TYPEHASH)
        + enc_address(address)
        + keccak256(str(timestamp).encode())
        + enc_uint(nonce)
        + keccak256(CLOB_AUTH_MESSAGE.encode())
    )
    return eip712_digest(domain, struct)


def sign_clob_auth(key: PrivateKey, timestamp: int, nonce: int = 0, chain_id: int = POLYGON_CHAIN_ID) -> str:
    """``POLY_SIGNATURE`` for L1: the ClobAuth signature as 0x-hex."""
    return key.sign_digest_hex(clob_auth_digest(key.address, timestamp, nonce, chain_id))


def l1_headers(
    key: PrivateKey, timestamp: int | None = None, nonce: int = 0, chain_id: int = POLYGON_CHAIN_ID
) -> dict[str, str]:
    """Headers for ``POST /auth/api-key`` and ``GET /auth/derive-api-key``."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "POLY_ADDRESS": key.address,
        "POLY_SIGNATURE": sign_clob_auth(key, ts, nonce, chain_id),
        "POLY_TIMESTAMP": str(ts),
        "POLY_NONCE": str(nonce),
    }
