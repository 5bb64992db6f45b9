"""Every request the Kalshi client and the live fetch ``orion scan`` runs send conforms to the
official OpenAPI spec (v3.21).

And every body the simulator serves validates against the spec's response schemas, so the
simulator cannot drift from the venue while the client tests keep passing.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from sim.kalshi_sim import API_PREFIX, KalshiSim
from sim.server import SimRequest

from orion_cli.core.config import load_settings
from orion_cli.core.models import Venue
from orion_cli.core.money import loads_exact
from orion_cli.venues.http import RetryPolicy
from orion_cli.venues.kalshi.client import KalshiClient, RateTier
from orion_cli.venues.kalshi.signing import KalshiSigner
from orion_cli.venues.live import LiveSource

SPEC_PATH = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "kalshi" / "openapi.yaml"
FREE = RateTier("test", 1e6, 1e6, 1e6, 1e6)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip("openapi.yaml not found")
    data: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return data


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` → JSON Schema; drop keys jsonschema does not know."""
    if isinstance(node, list):
        return [_nullable(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if not k.startswith("x-") and k not in ("example", "format")}
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        target: Any = spec
        for p in parts:
            target = target[p]
        node = target
    return node


def _operation(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The spec operation for a concrete path; literal templates win over ``{param}`` ones."""
    assert path.startswith(API_PREFIX), path
    rel = path[len(API_PREFIX):]
    candidates = sorted(spec["paths"], key=lambda t: t.count("{"))
    for template in candidates:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        m = re.match(pattern, rel)
        if m:
            ops = spec["paths"][template]
            assert method.lower() in ops, f"{method} not allowed on {template}"
            return template, ops[method.lower()], m.groupdict()
    raise AssertionError(f"no spec path matches {rel}")


def _coerce(schema: dict[str, Any], values: list[str]) -> Any:
    kind = schema.get("type")
    if kind == "array":
        return [_coerce(schema.get("items", {}), [v]) for v in values]
    assert len(values) == 1, f"repeated non-array parameter {values}"
    v = values[0]
    if kind == "integer":
        assert re.fullmatch(r"-?\d+", v), f"not an integer: {v!r}"
        return int(v)
    if kind == "boolean":
        assert v in ("true", "false"), f"not a boolean: {v!r}"
        return v == "true"
    return v


def check_request(spec: dict[str, Any], req: SimRequest) -> str:
    template, op, _ = _operation(spec, req.method, req.path)
    params = {}
    for p in op.get("parameters", []):
        p = _resolve(spec, p)
        params[(p["in"], p["name"])] = p
    for name, values in req.query.items():
        p = params.get(("query", name))
        assert p is not None, f"{template}: undeclared query parameter {name!r}"
        schema = _nullable(p["schema"])
        jsonschema.validate(_coerce(p["schema"], values), schema)
    for (where, name), p in params.items():
        if where == "query" and p.get("required"):
            assert name in req.query, f"{template}: required parameter {name!r} missing"
    if op.get("security"):
        for h in ("kalshi-access-key", "kalshi-access-timestamp", "kalshi-access-signature"):
            assert h in req.headers, f"{template} requires {h}"
    return f"{req.method} {template}"


def response_validator(spec: dict[str, Any], op: dict[str, Any]) -> jsonschema.Draft7Validator:
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    root = {"components": _nullable(spec["components"]), **_nullable(schema)}
    return jsonschema.Draft7Validator(root)


def test_every_client_request_matches_the_spec(spec: dict[str, Any]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sim = KalshiSim(KalshiSim.universe(120, seed=3) + KalshiSim.recorded_markets())
    sim.register_key("k", key.public_key())
    sim.require_auth_for_books = True
    url = sim.start()
    try:
        async def main() -> None:
            retry = RetryPolicy(2, 0.001, 0.01)
            # The live fetch `orion scan` runs (full, then limited: single series and events), signed.
            settings = load_settings(overrides={"kalshi.prod_base_url": url, "kalshi.read_tokens_per_second": 100000,
                                                "polymarket.enabled": False})
            source = LiveSource(settings, kalshi_auth=KalshiSigner("k", key), retry=retry)  # type: ignore[arg-type]
            await source.fetch([Venue.KALSHI])
            await source.fetch([Venue.KALSHI], limit=5)
            async with KalshiClient(url, signer=KalshiSigner("k", key), tier=FREE, page_limit=40, retry=retry) as c:
                async for _ in c.iter_market_pages():
                    pass
                await c.exchange_status()
                m = await c.get_market("KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP")
                await c.get_orderbook(m.id)
                await c.get_orderbook(m.id, depth=3)
                await c.get_event(m.event_id)
                await c.get_events(status="open", series_ticker="KXMLBHIT", with_nested_markets=True, limit=5)
                await c.get_series(m.extra["series_ticker"])
                await c.list_markets_raw(status="settled", mve_filter=None, tickers=["A", "B"], limit=10)
                await c.list_markets_raw(event_ticker=m.event_id, series_ticker="KXWTACHALLENGERMATCH")

        asyncio.run(main())
    finally:
        sim.stop()
    seen = {check_request(spec, r) for r in sim.requests}
    assert seen >= {
        "GET /markets", "GET /markets/{ticker}", "GET /markets/{ticker}/orderbook", "GET /markets/orderbooks",
        "GET /events", "GET /events/{event_ticker}", "GET /series", "GET /series/{series_ticker}",
        "GET /exchange/status",
    }
    assert sim.auth_failures == 0


def test_contract_checker_catches_bad_requests(spec: dict[str, Any]) -> None:
    def req(path: str, query: dict[str, list[str]]) -> SimRequest:
        return SimRequest("GET", API_PREFIX + path, query, {}, b"")

    check_request(spec, req("/markets", {"status": ["open"], "limit": ["1000"]}))
    for bad in (
        req("/markets", {"status": ["active"]}),  # response vocabulary is not a filter value
        req("/markets", {"limit": ["1001"]}),
        req("/markets", {"limit": ["ten"]}),
        req("/markets", {"mve_filter": ["exclude", "only"]}),
        req("/markets", {"bogus": ["1"]}),
        req("/markets/orderbooks", {}),
        req("/markets/orderbooks", {"tickers": [f"T{i}" for i in range(101)]}),
        req("/events", {"limit": ["201"]}),
        req("/nowhere", {}),
    ):
        with pytest.raises((AssertionError, jsonschema.ValidationError)):
            check_request(spec, bad)


def test_simulator_bodies_match_the_spec(spec: dict[str, Any]) -> None:
    """The sim's answers validate against the spec's 200 schemas (held to the real API)."""
    import httpx

    sim = KalshiSim(KalshiSim.universe(30, seed=4) + KalshiSim.recorded_markets())
    base = sim.start()
    ticker = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"
    try:
        with httpx.Client(base_url=base) as h:
            for path, params in [
                ("/markets", {"limit": 50, "status": "open"}),
                (f"/markets/{ticker}", {}),
                (f"/markets/{ticker}/orderbook", {}),
                ("/markets/orderbooks", [("tickers", ticker), ("tickers", sim.markets[0]["ticker"])]),
                ("/events", {"with_nested_markets": "true", "limit": 3}),
                ("/events/KXWTACHALLENGERMATCH-26JUN11JIMLEP", {"with_nested_markets": "true"}),
                ("/series", {}),
                ("/series/KXWTACHALLENGERMATCH", {}),
                ("/exchange/status", {}),
            ]:
                r = h.get(base + path, params=params)
                assert r.status_code == 200, (path, r.text[:200])
                _, op, _ = _operation(spec, "GET", API_PREFIX + path)
                errors = list(response_validator(spec, op).iter_errors(loads_exact(r.content)))
                assert not errors, (path, [e.message for e in errors[:3]])
            r = h.get(base + "/markets", params={"limit": 1001})
            assert r.status_code == 400 and set(r.json()) == {"msg"}
    finally:
        sim.stop()
