"""``orion secrets check --online`` for Kalshi, against the simulator (which verifies signatures).

The check never raises for a bad credential and never echoes one: results name Kalshi's recorded
error code instead.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sim.kalshi_sim import API_PREFIX, KalshiSim
from sim.server import FaultRule

from orion_cli.secrets.store import CheckResult, SecretStore, online_checks
from orion_cli.venues.kalshi import online_check
from orion_cli.venues.kalshi.online_check import KEY_ID, PRIVATE_KEY, check_kalshi, make_check

KID = "0f2c9a51-7d3e-4b8a-9c61-2e5d4f3a1b70"


class MemoryStore(SecretStore):
    backend = "memory"

    def __init__(self, values: dict[str, bytes]) -> None:
        super().__init__(None)
        self.values = dict(values)

    def _read(self, name: str) -> bytes | None:
        return self.values.get(name)

    def _stored(self) -> dict[str, datetime]:
        return {n: datetime.now(UTC) for n in self.values}

    def _write(self, values: dict[str, bytes], *, replace: bool = False) -> None:
        self.values.update(values)

    def _delete(self, name: str) -> bool:
        return self.values.pop(name, None) is not None


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sim(key: rsa.RSAPrivateKey) -> Iterator[KalshiSim]:
    s = KalshiSim()
    s.register_key(KID, key.public_key())
    s.starting_cash = Decimal("98.0186")
    s.start()
    yield s
    s.stop()


def _url(sim: KalshiSim) -> str:
    return sim.server.base_url + API_PREFIX


def _assert_no_secret(results: list[CheckResult], pem: bytes) -> None:
    text = " ".join(f"{r.name} {r.status} {r.detail}" for r in results)
    body = b"".join(pem.splitlines()[1:-1]).decode()
    assert body[:40] not in text and "PRIVATE KEY" not in text


def test_importing_registers_the_check() -> None:
    importlib.reload(online_check)
    assert online_checks()["kalshi"] is online_check.check_kalshi


def test_good_credentials_pass_with_one_signed_balance_call(sim: KalshiSim, key: rsa.RSAPrivateKey) -> None:
    store = MemoryStore({KEY_ID: KID.encode(), PRIVATE_KEY: _pem(key)})
    results = check_kalshi(store, base_url=_url(sim))
    assert [(r.name, r.status) for r in results] == [(KEY_ID, "ok")]
    assert "98.0186" in results[0].detail and results[0].passed
    assert [r.path for r in sim.requests] == [API_PREFIX + "/portfolio/balance"]
    assert sim.auth_failures == 0
    _assert_no_secret(results, _pem(key))


def test_a_password_in_the_base_url_is_not_echoed(sim: KalshiSim, key: rsa.RSAPrivateKey) -> None:
    """Found in review: the "ok" detail showed the configured URL whole, a proxy's password included."""
    store = MemoryStore({KEY_ID: KID.encode(), PRIVATE_KEY: _pem(key)})
    url = _url(sim).replace("http://", "http://proxyuser:proxy-S3CRET@")
    results = check_kalshi(store, base_url=url)
    assert results[0].status == "ok", results[0].detail
    assert "proxy-S3CRET" not in results[0].detail and "proxyuser" not in results[0].detail
    assert "http://***@127.0.0.1" in results[0].detail


def test_wrong_key_fails_naming_the_recorded_code(sim: KalshiSim) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    store = MemoryStore({KEY_ID: KID.encode(), PRIVATE_KEY: _pem(other)})
    results = make_check(base_url=_url(sim))(store)
    assert [(r.name, r.status) for r in results] == [(KEY_ID, "failed")]
    assert "authentication_error" in results[0].detail and "INCORRECT_API_KEY_SIGNATURE" in results[0].detail
    assert not results[0].passed and sim.auth_failures == 1
    _assert_no_secret(results, _pem(other))


def test_unknown_key_id_fails_with_not_found(sim: KalshiSim, key: rsa.RSAPrivateKey) -> None:
    store = MemoryStore({KEY_ID: b"00000000-0000-0000-0000-000000000000", PRIVATE_KEY: _pem(key)})
    results = check_kalshi(store, base_url=_url(sim))
    assert results[0].status == "failed" and "NOT_FOUND" in results[0].detail


def test_missing_credentials_are_skipped_not_failed(sim: KalshiSim, key: rsa.RSAPrivateKey) -> None:
    results = check_kalshi(MemoryStore({KEY_ID: KID.encode()}), base_url=_url(sim))
    assert [(r.status, r.passed) for r in results] == [("skipped", True)]
    assert PRIVATE_KEY in results[0].detail and sim.requests == []


def test_a_malformed_pem_is_invalid_and_not_echoed(sim: KalshiSim) -> None:
    junk = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXZhbHVlLW5vdC1hLWtleQ==\n-----END PRIVATE KEY-----\n"
    results = check_kalshi(MemoryStore({KEY_ID: KID.encode(), PRIVATE_KEY: junk}), base_url=_url(sim))
    assert [(r.name, r.status) for r in results] == [(PRIVATE_KEY, "invalid")]
    assert "c2VjcmV0" not in results[0].detail and sim.requests == []


def test_unreachable_venue_is_an_unreachable_check_not_an_exception(key: rsa.RSAPrivateKey) -> None:
    """Not a verdict on the credential: `secrets check --online` exits 5 for it, not 4."""
    store = MemoryStore({KEY_ID: KID.encode(), PRIVATE_KEY: _pem(key)})
    results = check_kalshi(store, base_url="http://127.0.0.1:9/trade-api/v2", timeout=0.5)
    assert results[0].status == "unreachable" and "could not be checked" in results[0].detail
    assert not results[0].passed


@pytest.mark.parametrize("fault", [
    FaultRule("malformed", path_prefix=API_PREFIX + "/portfolio/balance"),
    FaultRule("status", status=200, path_prefix=API_PREFIX + "/portfolio/balance", body={"balance": "abc"}),
    FaultRule("status", status=404, path_prefix=API_PREFIX + "/portfolio/balance",
              body={"error": {"code": "not_found", "message": "not found"}}),
], ids=["not-json", "junk-field", "404"])
def test_an_answer_that_says_nothing_about_the_key_is_unreadable_not_failed(
        sim: KalshiSim, key: rsa.RSAPrivateKey, fault: FaultRule) -> None:
    """Found black-box: a 200 orion cannot read was "failed", which `secrets check --online` reports as
    rejected credentials (exit 4). Only Kalshi's 401/403 judges the key; this is no verdict (exit 5)."""
    sim.server.add_fault(fault)
    store = MemoryStore({KEY_ID: KID.encode(), PRIVATE_KEY: _pem(key)})
    results = check_kalshi(store, base_url=_url(sim))
    assert [(r.name, r.status, r.passed) for r in results] == [(KEY_ID, "unreadable", False)], results
    assert "could not be checked" in results[0].detail and sim.auth_failures == 0
    _assert_no_secret(results, _pem(key))


def test_runs_inside_a_running_event_loop(sim: KalshiSim, key: rsa.RSAPrivateKey) -> None:
    store = MemoryStore({KEY_ID: KID.encode(), PRIVATE_KEY: _pem(key)})

    async def main() -> list[CheckResult]:
        return check_kalshi(store, base_url=_url(sim))

    assert asyncio.run(main())[0].status == "ok"


def test_default_url_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from orion_cli.core.config import load_settings

    assert online_check._configured_base_url(load_settings()) == "https://external-api.kalshi.com/trade-api/v2"
    monkeypatch.setenv("ORION__KALSHI__ENVIRONMENT", "demo")
    assert online_check._configured_base_url(load_settings()) == "https://external-api.demo.kalshi.co/trade-api/v2"
