"""L1/L2 authentication: published vectors, the official client byte for byte, and key hygiene."""

from __future__ import annotations

import base64
import copy
import pickle
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import ApiCreds, RequestArgs
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.signer import Signer
from py_clob_client_v2.signing.hmac import build_hmac_signature as official_hmac

from orion_cli.core.errors import DataError, SecretsError
from orion_cli.venues.polymarket import signing
from orion_cli.venues.polymarket.signing import (
    ApiCredentials,
    PrivateKey,
    build_hmac_signature,
    clob_auth_digest,
    l1_headers,
    l2_headers,
    sign_clob_auth,
)

# Public Hardhat development keys used by the official suites (reference §3); never real funds.
HARDHAT_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_0_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
HARDHAT_1 = "0x59c6995e998f97a5a0044976f094538f4f0eb6e095e3875038fc2b94efc60e77"
HARDHAT_1_ADDRESS = "0xea413aEcF68483beA57a8Ce8D491953AeEb9Fc7A"


def _throwaway() -> tuple[PrivateKey, str]:
    raw = secrets.token_bytes(32)
    return PrivateKey(raw), "0x" + raw.hex()


# --------------------------------------------------------------------------- published vectors


def test_hmac_vector_py_clob_client() -> None:
    # py-clob-client(-v2) tests/signing/test_hmac.py
    sig = build_hmac_signature(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1000000", "test-sign", "/orders", '{"hash": "0x123"}'
    )
    assert sig == "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="


def test_hmac_vector_parity_fixture() -> None:
    # polymarket_clob 0.2.0 test/fixtures/parity/l2_hmac.json
    body = b'{"order":{"tokenId":"123","side":"BUY"},"orderType":"GTC"}'
    sig = build_hmac_signature("c2VjcmV0LWtleS0zMi1ieXRlcy0xMjM0NTY=", 1712345678, "POST", "/order", body)
    assert sig == "tr2MxjpOOfmEnJnz1ucVeDunn79e-ZgDKm-Vmj4etvQ="


def test_hmac_signs_every_body_byte() -> None:
    secret = base64.urlsafe_b64encode(b"k" * 32).decode()
    a = build_hmac_signature(secret, 1, "POST", "/order", b'{"a":1}')
    assert a != build_hmac_signature(secret, 1, "POST", "/order", b'{"a": 1}')
    assert a != build_hmac_signature(secret, 1, "POST", "/order", None)
    assert build_hmac_signature(secret, 1, "GET", "/x", b"") == build_hmac_signature(secret, 1, "GET", "/x")


def test_hmac_refuses_query_string() -> None:
    secret = base64.urlsafe_b64encode(b"k" * 32).decode()
    with pytest.raises(DataError):
        build_hmac_signature(secret, 1, "GET", "/balance-allowance?asset_type=COLLATERAL")


def test_l1_vector_py_clob_client_amoy() -> None:
    # py-clob-client tests/signing/test_eip712.py: chain 80002, ts 10000000, nonce 23
    key = PrivateKey.from_hex(HARDHAT_0)
    assert key.address == HARDHAT_0_ADDRESS
    assert sign_clob_auth(key, 10000000, 23, 80002) == (
        "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1"
        "682518e0af677d5260366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b"
    )


def test_l1_vector_parity_fixture_polygon() -> None:
    # polymarket_clob 0.2.0 test/fixtures/parity/clob_auth.json
    key = PrivateKey.from_hex(HARDHAT_1)
    assert key.address == HARDHAT_1_ADDRESS
    headers = l1_headers(key, timestamp=1712345678, nonce=7)
    assert headers == {
        "POLY_ADDRESS": HARDHAT_1_ADDRESS,
        "POLY_SIGNATURE": "0xebc8349c3d6f3939334563cbad0205f52599b6444c88862dfab78245f20e8fe9"
        "251788ed5c22dd582fd119906c8318f30e461a87be6a1a97a9bc79d405669b121b",
        "POLY_TIMESTAMP": "1712345678",
        "POLY_NONCE": "7",
    }


def test_l1_digest_depends_on_every_field() -> None:
    base = clob_auth_digest(HARDHAT_0_ADDRESS, 1, 0, 137)
    assert base != clob_auth_digest(HARDHAT_1_ADDRESS, 1, 0, 137)
    assert base != clob_auth_digest(HARDHAT_0_ADDRESS, 2, 0, 137)
    assert base != clob_auth_digest(HARDHAT_0_ADDRESS, 1, 1, 137)
    assert base != clob_auth_digest(HARDHAT_0_ADDRESS, 1, 0, 80002)


# --------------------------------------------------------------------------- official client parity

_SECRETS = st.binary(min_size=1, max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode())
_PATHS = st.sampled_from(["/order", "/orders", "/cancel-all", "/data/orders", "/balance-allowance", "/auth/api-key"])
_METHODS = st.sampled_from(["GET", "POST", "DELETE"])
# Bodies as orion sends them: compact JSON without single quotes (the official client rewrites ' to ").
_BODIES = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_characters="'", blacklist_categories=("Cs",)), max_size=200),
)


@settings(max_examples=150, deadline=None)
@given(secret=_SECRETS, ts=st.integers(0, 2**40), method=_METHODS, path=_PATHS, body=_BODIES)
def test_hmac_matches_official(secret: str, ts: int, method: str, path: str, body: str | None) -> None:
    mine = build_hmac_signature(secret, ts, method, path, None if body is None else body.encode())
    assert mine == official_hmac(secret, ts, method, path, body)


@settings(max_examples=40, deadline=None)
@given(ts=st.integers(1, 2**40), nonce=st.integers(0, 2**64), chain=st.sampled_from([137, 80002]))
def test_l1_headers_match_official(ts: int, nonce: int, chain: int) -> None:
    key, key_hex = _throwaway()
    assert l1_headers(key, timestamp=ts, nonce=nonce, chain_id=chain) == create_level_1_headers(
        Signer(key_hex, chain), nonce=nonce, timestamp=ts
    )


@settings(max_examples=60, deadline=None)
@given(secret=_SECRETS, ts=st.integers(1, 2**40), method=_METHODS, path=_PATHS, body=_BODIES)
def test_l2_headers_match_official(secret: str, ts: int, method: str, path: str, body: str | None) -> None:
    key, key_hex = _throwaway()
    creds = ApiCredentials("1f6c3c3e-0000-4a4a-9b9b-0123456789ab", secret, "pass-phrase")
    mine = l2_headers(key.address, creds, method, path, None if body is None else body.encode(), timestamp=ts)
    official = create_level_2_headers(
        Signer(key_hex, 137),
        ApiCreds(creds.api_key, secret, creds.passphrase),
        RequestArgs(method=method, request_path=path, body=None, serialized_body=body),
        timestamp=ts,
    )
    assert mine == official


# --------------------------------------------------------------------------- credentials


def test_api_credentials_parse_and_redact() -> None:
    creds = ApiCredentials.from_response(
        {"apiKey": "key-123", "secret": "c2VjcmV0LXZhbHVlLXh5eg==", "passphrase": "super-secret-pass"}
    )
    assert creds.api_key == "key-123"
    for text in (repr(creds), str(creds), f"{creds}"):
        assert "c2VjcmV0LXZhbHVlLXh5eg" not in text
        assert "super-secret-pass" not in text
        assert "key-123" in text


@pytest.mark.parametrize(
    "payload",
    [
        {"apiKey": "k", "secret": "s===notbase64", "passphrase": "p"},
        {"apiKey": "k", "secret": "c2VjcmV0", "passphrase": ""},
        {"apiKey": "", "secret": "c2VjcmV0", "passphrase": "p"},
        {"apiKey": "k", "secret": 5, "passphrase": "p"},
        ["not", "a", "dict"],
    ],
)
def test_api_credentials_reject_malformed(payload: object) -> None:
    with pytest.raises((DataError, SecretsError)) as info:
        ApiCredentials.from_response(payload)
    assert "notbase64" not in str(info.value)


# --------------------------------------------------------------------------- key hygiene


def test_private_key_never_printed() -> None:
    raw = secrets.token_bytes(32)
    key = PrivateKey(raw)
    hexes = (raw.hex(), raw.hex().upper(), raw.hex()[:16], "0x" + raw.hex())
    for text in (repr(key), str(key), f"{key!r} {key}", repr([key]), repr({"k": key})):
        for h in hexes:
            assert h not in text
        assert key.address in text
    assert copy.deepcopy(key) is key
    with pytest.raises(TypeError):
        pickle.dumps(key)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def test_signing_failure_does_not_leak_key(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = secrets.token_bytes(32)
    key = PrivateKey(raw)
    leaked = raw.hex()

    def exploding_sign(self: object, digest: bytes) -> None:
        # A library error that quotes the key, the worst case.
        raise ValueError(f"cannot sign with key 0x{leaked}")

    from eth_keys.datatypes import PrivateKey as EcKey

    monkeypatch.setattr(EcKey, "sign_msg_hash", exploding_sign)
    with pytest.raises(SecretsError) as info:
        sign_clob_auth(key, 1, 0)
    for exc in _chain(info.value):
        assert leaked not in str(exc)
        assert leaked not in repr(exc)
        assert leaked not in repr(exc.args)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert leaked not in repr(key)


@pytest.mark.parametrize(
    "text",
    [
        "0x" + "00" * 32,  # zero scalar
        "0x" + "ff" * 32,  # above the curve order
        "0x" + "ab" * 31,  # too short
        "0x" + "zz" * 32,  # not hex
    ],
)
def test_bad_key_errors_do_not_echo_input(text: str) -> None:
    with pytest.raises(SecretsError) as info:
        PrivateKey.from_hex(text)
    body = text.removeprefix("0x")
    for exc in _chain(info.value):
        assert body not in str(exc) and body not in repr(exc)
    assert info.value.__context__ is None


def test_key_derivation_failure_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = secrets.token_bytes(32)

    def exploding_init(self: object, key: bytes, backend: object = None) -> None:
        raise ValueError(f"bad key {key.hex()}")

    from eth_keys.datatypes import PrivateKey as EcKey

    monkeypatch.setattr(EcKey, "__init__", exploding_init)
    with pytest.raises(SecretsError) as info:
        PrivateKey(raw)
    assert raw.hex() not in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_generate_gives_distinct_valid_keys() -> None:
    a, b = PrivateKey.generate(), PrivateKey.generate()
    assert a.address != b.address
    assert signing.to_checksum_address(a.address.lower()) == a.address
