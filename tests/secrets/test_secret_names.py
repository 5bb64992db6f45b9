"""Credential validators: good values normalised, bad ones refused without quoting the value."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from secrets_testkit import WALLET_ADDRESS, WALLET_KEY, rsa_pem

from orion_cli.core.errors import ExitCode, SecretsError, UsageError
from orion_cli.secrets.names import CATALOGUE, check_name, normalise


def refused(name: str, value: str | bytes) -> SecretsError:
    raw = value.encode() if isinstance(value, str) else value
    with pytest.raises(SecretsError) as err:
        normalise(name, raw)
    exc = err.value
    assert exc.exit_code == ExitCode.AUTH
    text = f"{exc.message} {exc.hint or ''}"
    secret_part = raw.decode("utf-8", "replace").strip()
    if len(secret_part) >= 6:
        assert secret_part not in text and secret_part[:12] not in text
    return exc


def test_rsa_key_accepted_and_normalised(kalshi_pem: str) -> None:
    assert normalise("kalshi_private_key", kalshi_pem.encode()) == (kalshi_pem.strip() + "\n").encode()
    one_line = kalshi_pem.strip().replace("\n", "\\n")  # the Vercel/.env single-line form
    assert normalise("kalshi_private_key", one_line.encode()) == (kalshi_pem.strip() + "\n").encode()
    traditional = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert b"BEGIN RSA PRIVATE KEY" in normalise("kalshi_private_key", traditional)


def test_rsa_key_refusals() -> None:
    assert "1024-bit" in refused("kalshi_private_key", rsa_pem(1024)).message
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert "not an RSA key" in refused("kalshi_private_key", ec_pem).message
    enc = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass-phrase"),
    )
    assert "password-protected" in refused("kalshi_private_key", enc).message
    refused("kalshi_private_key", "-----BEGIN PRIVATE KEY-----\nAAAAgarbage\n-----END PRIVATE KEY-----\n")
    refused("kalshi_private_key", "8ccdb333-2be7-4fb0-a051-d86e415bfca4")
    refused("kalshi_private_key", b"\xff\xfe")


def test_wallet_key() -> None:
    assert normalise("polymarket_private_key", WALLET_KEY.encode()) == f"0x{WALLET_KEY}".encode()
    assert normalise("polymarket_private_key", f"0x{WALLET_KEY.upper()}\n".encode()) == f"0x{WALLET_KEY}".encode()
    refused("polymarket_private_key", WALLET_KEY[:-2])  # 31 bytes
    refused("polymarket_private_key", WALLET_KEY + "00")  # 33 bytes
    refused("polymarket_private_key", WALLET_KEY[:-1] + "g")
    refused("polymarket_private_key", "0" * 64)  # zero is not a key
    refused("polymarket_private_key", "f" * 64)  # above the curve order
    refused("polymarket_private_key", WALLET_ADDRESS)


def test_addresses() -> None:
    assert normalise("polymarket_funder_address", WALLET_ADDRESS.lower().encode()) == WALLET_ADDRESS.encode()
    assert normalise("polymarket_funder_address", WALLET_ADDRESS.encode()) == WALLET_ADDRESS.encode()
    bad_checksum = WALLET_ADDRESS.replace("Fd6e", "fD6e")
    assert "checksum" in refused("polymarket_funder_address", bad_checksum).message
    refused("polymarket_funder_address", WALLET_ADDRESS[:-1])
    refused("polymarket_funder_address", WALLET_ADDRESS[2:])
    refused("polymarket_funder_address", "0x" + "0" * 40)


@pytest.mark.parametrize("good", ["0", "1", "2", "3", " 2\n"])
def test_signature_type_good(good: str) -> None:
    assert normalise("polymarket_signature_type", good.encode()) == good.strip().encode()


@pytest.mark.parametrize("bad", ["4", "-1", "EOA", "", "1.0"])
def test_signature_type_bad(bad: str) -> None:
    with pytest.raises(SecretsError):
        normalise("polymarket_signature_type", bad.encode())


def test_webhook_and_tokens() -> None:
    assert normalise("alert_webhook_url", b"https://hooks.example.com/T000/B000/xyz")
    refused("alert_webhook_url", "http://hooks.example.com/T000/B000/xyz")
    refused("alert_webhook_url", "https:///nohost")
    refused("alert_webhook_url", "https://hooks.example.com/a b")
    assert normalise("kalshi_api_key_id", b"8CCDB333-2BE7-4FB0-A051-D86E415BFCA4") == \
        b"8ccdb333-2be7-4fb0-a051-d86e415bfca4"
    refused("kalshi_api_key_id", "not-a-uuid-at-all")
    assert normalise("polymarket_api_secret", b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    refused("polymarket_api_secret", "not base64 !!")
    refused("polymarket_api_passphrase", "two words")
    assert normalise("telegram_bot_token", b"123456789:AAE1234567890abcdefghijklmnopqrstuv")
    refused("telegram_bot_token", "123:short")


def test_unknown_names_stored_as_given_but_names_are_checked() -> None:
    assert normalise("custom_thing", b"\x00anything") == b"\x00anything"
    for bad in ("Upper", "has space", "", "1leading", "a" * 80, "dash-name"):
        with pytest.raises(UsageError):
            check_name(bad)


def test_catalogue_aliases_are_unique() -> None:
    seen: dict[str, str] = {}
    for spec in CATALOGUE.values():
        for var in (*spec.env, *spec.env_path):
            assert var not in seen, f"{var} used by {seen.get(var)} and {spec.name}"
            seen[var] = spec.name
    assert {"KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "POLYMARKET_PRIVATE_KEY", "CLOB_API_KEY",
            "CLOB_SECRET", "CLOB_PASS_PHRASE", "PK", "FUNDER"} <= set(seen)


def test_validators_refuse_values_just_outside_their_shape() -> None:
    """Each bound a validator holds, on both sides (found by mutation testing: each could be moved)."""
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1's n
    refused("polymarket_private_key", f"{order:064x}")  # the group order itself is no key
    assert normalise("polymarket_private_key", f"{order - 1:064x}".encode()) == f"0x{order - 1:064x}".encode()
    # Control and invisible characters are refused in a token, not only whitespace: pasted from a
    # chat or a PDF, a key with a zero-width space would be stored and then refused by the venue.
    refused("polymarket_api_passphrase", "pass\x07phrase-value")
    refused("polymarket_api_key", "api\u200bkey-value")
    telegram = "123456789:" + "A" * 30
    assert normalise("telegram_bot_token", telegram.encode()) == telegram.encode()
    refused("telegram_bot_token", telegram[:-1])
    sixteen, fifteen = "QUFBQUFBQUFBQUFBQUFBQQ==", "QUFBQUFBQUFBQUFBQUFB"  # base64 of 16 and 15 bytes
    assert normalise("polymarket_api_secret", sixteen.encode()) == sixteen.encode()
    refused("polymarket_api_secret", fifteen)
