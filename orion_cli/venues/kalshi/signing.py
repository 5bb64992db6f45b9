"""Kalshi request signing: RSA-PSS(SHA-256, MGF1-SHA-256, salt = 32) over ``ms + METHOD + path``.

The path is the URL path *including* ``/trade-api/v2`` and *excluding* the query string and the
host; the body is never signed. A signature is made per attempt with a fresh millisecond
timestamp, because Kalshi rejects timestamps about 30 s old and signatures must not be reused.
The private key never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from orion_cli.core.errors import SecretsError

__all__ = [
    "HEADER_KEY",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "KalshiSigner",
    "signing_message",
    "verify_signature",
]

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_message(timestamp_ms: int | str, method: str, path: str) -> bytes:
    """The exact bytes Kalshi verifies: the query string is cut off, the method upper-cased."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


def verify_signature(
    public_key: rsa.RSAPublicKey, timestamp_ms: int | str, method: str, path: str, signature_b64: str
) -> bool:
    """What the venue does (used by the simulator and tests)."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        public_key.verify(raw, signing_message(timestamp_ms, method, path), _pss(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


class KalshiSigner:
    """Holds a key id and an RSA private key; produces the three ``KALSHI-ACCESS-*`` headers.

    Use as the ``auth`` callable of :class:`~orion_cli.venues.http.VenueHttp`.
    """

    __slots__ = ("_clock", "_key", "key_id")

    def __init__(
        self,
        key_id: str,
        private_key: rsa.RSAPrivateKey,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise SecretsError("Kalshi private key: expected an RSA private key")
        if not key_id or not key_id.strip():
            raise SecretsError("Kalshi API key id is empty")
        self.key_id = key_id.strip()
        self._key = private_key
        self._clock = clock

    @classmethod
    def from_pem(
        cls,
        key_id: str,
        pem: bytes | str,
        *,
        password: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> KalshiSigner:
        """Load a PEM private key (PKCS#1 or PKCS#8). Errors never echo the key material."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise SecretsError(
                "Kalshi private key could not be loaded (not a PEM RSA private key, or wrong password)",
                hint="export the key Kalshi gave you as PEM; `orion secrets check` validates it",
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SecretsError("Kalshi private key: expected an RSA private key")
        return cls(key_id, key, clock=clock)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def sign(self, timestamp_ms: int | str, method: str, path: str) -> str:
        raw = self._key.sign(signing_message(timestamp_ms, method, path), _pss(), hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")

    def headers(self, method: str, path: str) -> dict[str, str]:
        ts = str(round(self._clock() * 1000))
        return {
            HEADER_KEY: self.key_id,
            HEADER_TIMESTAMP: ts,
            HEADER_SIGNATURE: self.sign(ts, method, path),
        }

    def __call__(self, method: str, path: str, body: bytes) -> dict[str, str]:
        """``VenueHttp`` auth hook; ``body`` is deliberately ignored (Kalshi never signs it)."""
        return self.headers(method, path)

    def __repr__(self) -> str:
        return f"KalshiSigner(key_id={self.key_id!r}, private_key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("KalshiSigner holds a private key and cannot be pickled")
