"""Kalshi RSA-PSS signing with a throwaway key generated at test time."""

from __future__ import annotations

import base64
import pickle
import re

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from orion_cli.core.errors import SecretsError
from orion_cli.venues.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    signing_message,
    verify_signature,
)

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_message_format() -> None:
    assert signing_message(1703123456789, "get", "/trade-api/v2/portfolio/balance") == (
        b"1703123456789GET/trade-api/v2/portfolio/balance"
    )


def test_query_string_is_not_signed() -> None:
    assert signing_message("1", "GET", "/trade-api/v2/portfolio/orders?limit=5&status=resting") == (
        b"1GET/trade-api/v2/portfolio/orders"
    )


def test_headers_sign_and_verify(private_key: rsa.RSAPrivateKey) -> None:
    signer = KalshiSigner(KEY_ID, private_key, clock=lambda: 1703123456.789)
    headers = signer("GET", "/trade-api/v2/portfolio/orders", b'{"ignored": true}')
    assert headers[HEADER_KEY] == KEY_ID
    assert headers[HEADER_TIMESTAMP] == "1703123456789"  # milliseconds
    sig = headers[HEADER_SIGNATURE]
    assert re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", sig)  # standard base64, not URL-safe
    raw = base64.b64decode(sig)
    assert len(raw) == 256
    public = private_key.public_key()
    # RSA-PSS, SHA-256, MGF1-SHA-256 and a salt of exactly the digest length (32 bytes).
    public.verify(
        raw,
        b"1703123456789GET/trade-api/v2/portfolio/orders",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    assert verify_signature(public, "1703123456789", "GET", "/trade-api/v2/portfolio/orders", sig)
    # The query string never changes the signature's message.
    assert verify_signature(public, "1703123456789", "GET", "/trade-api/v2/portfolio/orders?limit=5", sig)


def test_signature_binds_timestamp_method_and_path(private_key: rsa.RSAPrivateKey) -> None:
    signer = KalshiSigner(KEY_ID, private_key, clock=lambda: 1000.0)
    sig = signer.sign("1000000", "GET", "/trade-api/v2/markets")
    public = private_key.public_key()
    assert verify_signature(public, "1000000", "GET", "/trade-api/v2/markets", sig)
    assert not verify_signature(public, "1000001", "GET", "/trade-api/v2/markets", sig)
    assert not verify_signature(public, "1000000", "POST", "/trade-api/v2/markets", sig)
    assert not verify_signature(public, "1000000", "GET", "/markets", sig)  # prefix is signed
    assert not verify_signature(public, "1000000", "GET", "/trade-api/v2/markets", "not base64!")


def test_not_pkcs1v15(private_key: rsa.RSAPrivateKey) -> None:
    sig = base64.b64decode(KalshiSigner(KEY_ID, private_key).sign("1", "GET", "/trade-api/v2/x"))
    with pytest.raises(InvalidSignature):
        private_key.public_key().verify(sig, b"1GET/trade-api/v2/x", padding.PKCS1v15(), hashes.SHA256())


def test_fresh_timestamp_and_signature_per_call(private_key: rsa.RSAPrivateKey) -> None:
    ticks = iter([1.000, 1.001])
    signer = KalshiSigner(KEY_ID, private_key, clock=lambda: next(ticks))
    a = signer("GET", "/trade-api/v2/markets", b"")
    b = signer("GET", "/trade-api/v2/markets", b"")
    assert a[HEADER_TIMESTAMP] == "1000" and b[HEADER_TIMESTAMP] == "1001"
    assert a[HEADER_SIGNATURE] != b[HEADER_SIGNATURE]


def test_private_key_never_leaks(private_key: rsa.RSAPrivateKey) -> None:
    signer = KalshiSigner(KEY_ID, private_key)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    text = repr(signer) + str(signer)
    assert "redacted" in text and KEY_ID in text
    assert "PRIVATE" not in text and str(private_key.private_numbers().d)[:20] not in text
    assert "RSAPrivateKey" not in text and "object at" not in text
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    body = pem.splitlines()[1]
    with pytest.raises(SecretsError) as info:
        KalshiSigner.from_pem(KEY_ID, pem.replace(body, body[::-1]))
    assert body not in str(info.value) and body[::-1] not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_from_pem_round_trip(private_key: rsa.RSAPrivateKey) -> None:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    signer = KalshiSigner.from_pem(KEY_ID, pem)
    sig = signer.sign("5", "DELETE", "/trade-api/v2/portfolio/events/orders/abc")
    assert verify_signature(private_key.public_key(), "5", "DELETE", "/trade-api/v2/portfolio/events/orders/abc", sig)


def test_rejects_non_rsa_and_empty_key_id(private_key: rsa.RSAPrivateKey) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SecretsError, match="RSA"):
        KalshiSigner.from_pem(KEY_ID, ec_pem)
    with pytest.raises(SecretsError, match="empty"):
        KalshiSigner("  ", private_key)
