"""``secrets check --online`` for Polymarket against the simulator: L1 (wallet) and L2 (API key) separately."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from eth_account import Account  # noqa: E402
from sim.polymarket_sim import PolymarketSim  # noqa: E402
from sim.server import FaultRule  # noqa: E402

from orion_cli.secrets.store import CheckResult, SecretStore, online_checks  # noqa: E402
from orion_cli.venues.polymarket.online_check import online_check  # noqa: E402


class MemoryStore(SecretStore):
    backend = "memory"

    def __init__(self) -> None:
        super().__init__(None)
        self.values: dict[str, bytes] = {}

    def _read(self, name: str) -> bytes | None:
        return self.values.get(name)

    def _stored(self) -> dict[str, datetime]:
        return {n: datetime.now(UTC) for n in self.values}

    def _write(self, values: dict[str, bytes], *, replace: bool = False) -> None:
        self.values.update(values)

    def _delete(self, name: str) -> bool:
        return self.values.pop(name, None) is not None


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[PolymarketSim]:
    s = PolymarketSim.universe(1, seed=5, markets_per_event=1)
    with s:
        yield s


@pytest.fixture
def sim(shared_sim: PolymarketSim) -> PolymarketSim:
    shared_sim.reset()
    return shared_sim


def stored(sim: PolymarketSim, *, register: bool = True) -> tuple[MemoryStore, dict[str, str]]:
    acct = Account.create()
    store = MemoryStore()
    values = {"polymarket_private_key": acct.key.hex(), "polymarket_signature_type": "0"}
    if register:
        creds = sim.add_account(acct.address)
        values |= {"polymarket_api_key": creds["apiKey"], "polymarket_api_secret": creds["secret"],
                   "polymarket_api_passphrase": creds["passphrase"]}
    store.set_many(values)
    return store, values


def verdicts(results: list[CheckResult]) -> dict[str, str]:
    return {r.name: r.status for r in results}


def assert_no_secrets(results: list[CheckResult], values: dict[str, str]) -> None:
    text = " ".join(r.detail for r in results)
    for name in ("polymarket_private_key", "polymarket_api_secret", "polymarket_api_passphrase"):
        if name in values:
            assert values[name] not in text and values[name].removeprefix("0x") not in text


def test_registered_for_the_cli() -> None:
    from orion_cli.venues.polymarket.online_check import configured_online_check

    assert online_checks()["polymarket"] is configured_online_check


def test_the_registered_check_uses_the_configured_clob_url(sim: PolymarketSim, monkeypatch: pytest.MonkeyPatch) -> None:
    """`orion secrets check --online` must talk to polymarket.clob_url, not a hard-coded host."""
    from orion_cli.venues.polymarket.online_check import configured_online_check

    store, values = stored(sim)
    monkeypatch.setenv("ORION__POLYMARKET__CLOB_URL", sim.clob_url)
    results = configured_online_check(store)
    assert results and all(r.status == "ok" for r in results), results
    assert_no_secrets(results, values)


def test_an_answer_that_quotes_the_request_headers_is_shown_without_the_revealed_secrets(
        sim: PolymarketSim, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: the venue's error text is quoted in the result, so a proxy or endpoint that echoes the
    request headers (POLY_API_KEY, POLY_PASSPHRASE) put the credentials on stderr, in the JSON error and in
    the table. Every secret the process revealed is scrubbed from what it prints (core.revealed)."""
    import io

    from orion_cli.cli.output import Output
    from orion_cli.core import revealed

    revealed.forget_revealed()  # the conftest forgets them again after the test
    store, values = stored(sim)
    echoed = (f"Unauthorized: POLY_API_KEY={values['polymarket_api_key']} "
              f"POLY_PASSPHRASE={values['polymarket_api_passphrase']}")
    sim.server.add_fault(FaultRule("status", status=401, path_prefix="/clob/balance-allowance",
                                   body={"error": echoed}))
    results = online_check(store, clob_url=sim.clob_url)
    # The venue's words are quoted, without what it echoed: the error is scrubbed where it is made, so neither
    # what this command prints nor what it stores (an order's reason, a halt's) holds them.
    detail = " ".join(r.detail for r in results)
    assert "POLY_PASSPHRASE=***" in detail and values["polymarket_api_passphrase"] not in detail, detail
    for fmt in ("json", "table"):
        out, err = io.StringIO(), io.StringIO()
        shown = Output(fmt, stdout=out, stderr=err)
        shown.records([r.as_json() for r in results], [], title="credential check")
        shown.warn(results[-1].detail)
        shown.error_record(4, "auth", results[-1].detail)
        text = out.getvalue() + err.getvalue()
        for name in ("polymarket_api_key", "polymarket_api_passphrase", "polymarket_private_key"):
            assert values[name] not in text and values[name].removeprefix("0x") not in text, (fmt, name, text)
        assert "POLY_PASSPHRASE=***" in text, text


def test_good_credentials_pass_l1_and_l2(sim: PolymarketSim) -> None:
    store, values = stored(sim)
    results = online_check(store, clob_url=sim.clob_url)
    assert verdicts(results) == {"polymarket_private_key": "ok", "polymarket_api_key": "ok"}
    assert all(r.passed for r in results)
    assert_no_secrets(results, values)
    paths = [r.path for r in sim.requests]
    assert "/clob/auth/derive-api-key" in paths and "/clob/balance-allowance" in paths


def test_wrong_api_secret_fails_l2_only(sim: PolymarketSim) -> None:
    store, values = stored(sim)
    store.set("polymarket_api_secret", "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NQ==", replace=True)
    results = online_check(store, clob_url=sim.clob_url)
    # the wallet still authenticates (L1); the stored secret does not sign acceptable requests (L2)
    assert verdicts(results) == {"polymarket_private_key": "ok", "polymarket_api_key": "failed"}
    l2 = next(r for r in results if r.name == "polymarket_api_key")
    assert "refused the API credentials" in l2.detail and "401" in l2.detail and "re-derive" in l2.detail
    assert_no_secrets(results, values | {"polymarket_api_secret": "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NQ=="})


def test_unknown_wallet_fails_l1(sim: PolymarketSim) -> None:
    store, values = stored(sim, register=False)
    results = online_check(store, clob_url=sim.clob_url)
    assert verdicts(results) == {"polymarket_private_key": "failed", "polymarket_api_key": "skipped"}
    assert "Could not derive api key" in results[0].detail
    assert_no_secrets(results, values)


def test_a_host_the_venues_firewall_blocks_learns_nothing_about_the_credentials(sim: PolymarketSim) -> None:
    """A 403 page from Polymarket's Cloudflare front (geoblocked country, datacenter IP) never reached the
    CLOB: "unreachable" (exit 5), not "failed" (exit 4: "a venue rejected credentials")."""
    from sim.server import FaultRule

    page = b"<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>" \
           b"<body><h1 data-translate=\"block_headline\">Sorry, you have been blocked</h1></body></html>"
    for path in ("/clob/auth/derive-api-key", "/clob/balance-allowance"):
        sim.server.add_fault(FaultRule("status", method="GET", path_prefix=path, status=403, body=page))
    store, values = stored(sim)
    results = online_check(store, clob_url=sim.clob_url)
    assert verdicts(results) == {"polymarket_private_key": "unreachable", "polymarket_api_key": "unreachable"}
    for r in results:
        assert "firewall" in r.detail and "never reached" in r.detail, r.detail
        assert "signature" not in r.detail and "API credentials" not in r.detail
    assert_no_secrets(results, values)


@pytest.mark.parametrize(("fault", "expected"), [
    (FaultRule("malformed", path_prefix="/clob/auth/derive-api-key"),
     {"polymarket_private_key": "unreadable", "polymarket_api_key": "ok"}),
    (FaultRule("status", status=200, path_prefix="/clob/auth/derive-api-key", body={"apiKey": 5}),
     {"polymarket_private_key": "unreadable", "polymarket_api_key": "ok"}),
    (FaultRule("status", status=500, path_prefix="/clob/auth/derive-api-key", body=b"oops"),
     {"polymarket_private_key": "unreachable", "polymarket_api_key": "ok"}),
    (FaultRule("status", status=404, path_prefix="/clob/auth/derive-api-key", body={"error": "not found"}),
     {"polymarket_private_key": "unreadable", "polymarket_api_key": "ok"}),
    (FaultRule("status", status=405, path_prefix="/clob/auth/derive-api-key", body=b"method not allowed"),
     {"polymarket_private_key": "unreadable", "polymarket_api_key": "ok"}),
    (FaultRule("malformed", path_prefix="/clob/balance-allowance"),
     {"polymarket_private_key": "ok", "polymarket_api_key": "unreadable"}),
    (FaultRule("status", status=200, path_prefix="/clob/balance-allowance", body=[1]),
     {"polymarket_private_key": "ok", "polymarket_api_key": "unreadable"}),
], ids=["derive-not-json", "derive-junk-field", "derive-500", "derive-404", "derive-405", "balance-not-json",
       "balance-junk"])
def test_an_answer_that_says_nothing_about_the_credentials_is_no_verdict(
        sim: PolymarketSim, fault: FaultRule, expected: dict[str, str]) -> None:
    """Found black-box: a 200 orion cannot read, or a 5xx to derive-api-key ("polymarket rejected … HTTP
    500"), was "failed", which `secrets check --online` reports as rejected credentials (exit 4). Only the
    venue refusing them is a verdict; the rest is unreadable or unreachable (exit 5)."""
    sim.server.add_fault(fault)
    store, values = stored(sim)
    results = online_check(store, clob_url=sim.clob_url)
    assert verdicts(results) == expected, results
    for r in results:
        assert "rejected" not in r.detail and "refused" not in r.detail, r.detail
    assert_no_secrets(results, values)


def test_the_clock_notice_is_in_the_api_key_result_not_a_raw_log_line(
        sim: PolymarketSim, caplog: pytest.LogCaptureFixture) -> None:
    """Found black-box: a host clock off the CLOB's printed a raw "WARNING orion_cli.venues.polymarket.
    trading: …" line beside the table. The notice is about the signed (L2) request: it is in its detail."""
    import logging
    import time

    sim.hmac_max_skew = 10_000  # the venue here accepts the CLOB's time the client signs with
    sim.server.add_fault(FaultRule("status", status=200, path_prefix="/clob/time", body=int(time.time()) + 120))
    store, values = stored(sim)
    with caplog.at_level(logging.WARNING, logger="orion_cli"):
        results = online_check(store, clob_url=sim.clob_url)
    assert verdicts(results) == {"polymarket_private_key": "ok", "polymarket_api_key": "ok"}
    l2 = next(r for r in results if r.name == "polymarket_api_key")
    assert l2.detail.startswith("authenticated read (balance-allowance) accepted (L2); polymarket: this host's "
                                "clock is +1"), l2.detail
    assert caplog.records == []
    assert_no_secrets(results, values)


def test_unset_key_is_skipped(sim: PolymarketSim) -> None:
    results = online_check(MemoryStore(), clob_url=sim.clob_url)
    assert verdicts(results) == {"polymarket_private_key": "skipped"} and results[0].passed
    assert sim.requests == []


def test_unreachable_venue_is_a_failure_not_a_crash() -> None:
    store = MemoryStore()
    store.set_many({"polymarket_private_key": Account.create().key.hex()})
    results = online_check(store, clob_url="http://127.0.0.1:9", timeout=0.5)
    assert verdicts(results)["polymarket_private_key"] == "unreachable"  # exit 5, not a rejected credential
