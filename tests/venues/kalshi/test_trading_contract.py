"""Every request KalshiTrading sends conforms to the official OpenAPI spec (v3.21), and every
portfolio body the simulator serves validates against the spec's response schemas.

Requests: the path and method exist, every query parameter is declared and has the declared
type, signed operations carry the three headers, and the V2 create body validates against
``CreateOrderV2Request`` (strings for count and price, enums, no undeclared fields).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from sim.kalshi_sim import API_PREFIX, KalshiSim, load_fixture
from sim.server import SimRequest

from orion_cli.core.models import Side, Venue
from orion_cli.core.money import loads_exact
from orion_cli.venues.http import RetryPolicy
from orion_cli.venues.kalshi.client import RateTier
from orion_cli.venues.kalshi.signing import KalshiSigner
from orion_cli.venues.kalshi.trading import KalshiTrading
from orion_cli.venues.trading import Action, OrderRequest, TimeInForce

SPEC_PATH = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "kalshi" / "openapi.yaml"
FREE = RateTier("test", 1e6, 1e6, 1e6, 1e6)
TICKER = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"
KEY_ID = "5b0c3a8e-64c4-4f7e-9d3e-8d7b2f1c0a99"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip("openapi.yaml not found")
    data: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return data


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# The same small OpenAPI → JSON Schema helpers as test_contract.py (test modules do not import
# each other here).


def _nullable(node: Any) -> Any:
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
        target: Any = spec
        for p in node["$ref"].lstrip("#/").split("/"):
            target = target[p]
        node = target
    return node


def _operation(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    assert path.startswith(API_PREFIX), path
    rel = path[len(API_PREFIX):]
    for template in sorted(spec["paths"], key=lambda t: t.count("{")):
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        if re.match(pattern, rel):
            ops = spec["paths"][template]
            assert method.lower() in ops, f"{method} not allowed on {template}"
            return template, ops[method.lower()]
    raise AssertionError(f"no spec path matches {rel}")


def _coerce(schema: dict[str, Any], values: list[str]) -> Any:
    assert len(values) == 1, f"repeated non-array parameter {values}"
    v = values[0]
    if schema.get("type") == "integer":
        assert re.fullmatch(r"-?\d+", v), f"not an integer: {v!r}"
        return int(v)
    if schema.get("type") == "boolean":
        assert v in ("true", "false"), f"not a boolean: {v!r}"
        return v == "true"
    return v


def _schema_validator(spec: dict[str, Any], schema: dict[str, Any], *, closed: bool = False) -> jsonschema.Validator:
    schema = _nullable(schema)
    if closed:  # the spec never says additionalProperties: false; a request must not invent fields
        target = _resolve({"components": _nullable(spec["components"])}, schema)
        schema = {**target, "additionalProperties": False}
    root = {"components": _nullable(spec["components"]), **schema}
    return jsonschema.Draft7Validator(root)


def check_request(spec: dict[str, Any], req: SimRequest) -> str:
    template, op = _operation(spec, req.method, req.path)
    params = {}
    for p in op.get("parameters", []):
        p = _resolve(spec, p)
        params[(p["in"], p["name"])] = p
    for name, values in req.query.items():
        p = params.get(("query", name))
        assert p is not None, f"{template}: undeclared query parameter {name!r}"
        jsonschema.validate(_coerce(p["schema"], values), _nullable(p["schema"]))
    if op.get("security"):
        for h in ("kalshi-access-key", "kalshi-access-timestamp", "kalshi-access-signature"):
            assert h in req.headers, f"{template} requires {h}"
    body_spec = op.get("requestBody")
    if body_spec is not None:
        schema = body_spec["content"]["application/json"]["schema"]
        errors = list(_schema_validator(spec, schema, closed=True).iter_errors(json.loads(req.body)))
        assert not errors, (template, [e.message for e in errors[:3]])
    else:
        assert not req.body, f"{template} takes no body"
    return f"{req.method} {template}"


def _request(side: Side, action: Action, size: str, price: str, tif: TimeInForce) -> OrderRequest:
    return OrderRequest(Venue.KALSHI, TICKER, side, action, Decimal(size), Decimal(price), tif, str(uuid.uuid4()))


def _sim(key: rsa.RSAPrivateKey) -> KalshiSim:
    sim = KalshiSim()
    sim.register_key(KEY_ID, key.public_key())
    sim.set_book(TICKER, [["0.4500", "10.00"], ["0.4700", "10.00"]], [["0.4600", "10.00"], ["0.4800", "10.00"]])
    sim.start()
    return sim


def test_every_trading_request_matches_the_spec(spec: dict[str, Any], key: rsa.RSAPrivateKey) -> None:
    sim = _sim(key)
    try:
        async def main() -> None:
            async with KalshiTrading(KalshiSigner(KEY_ID, key), base_url=sim.server.base_url + API_PREFIX,
                                     tier=FREE, retry=RetryPolicy(2, 0.001, 0.01),
                                     cancel_poll_delays=(0.01,)) as v:
                await v.exchange_status()
                await v.balance()
                for side, action, tif, price in (
                    (Side.YES, Action.BUY, TimeInForce.IOC, "0.60"),
                    (Side.NO, Action.BUY, TimeInForce.FOK, "0.60"),
                    (Side.YES, Action.SELL, TimeInForce.IOC, "0.40"),
                    (Side.NO, Action.SELL, TimeInForce.IOC, "0.40"),
                    (Side.YES, Action.BUY, TimeInForce.FOK, "0.60"),  # 409 insufficient volume
                ):
                    await v.submit(v.prepare(_request(side, action, "1", price, tif)))
                resting = await v.submit(v.prepare(_request(Side.YES, Action.BUY, "1.5", "0.05", TimeInForce.GTC)))
                await v.open_orders()
                await v.find_order(resting.client_order_id)
                await v.find_order("no-such-id")
                await v.get_order(resting.venue_order_id)
                await v.cancel(resting.venue_order_id)
                await v.cancel(resting.venue_order_id)  # 404
                await v.positions()
                await v.settlements([TICKER])
                await v.transfers()
                await v.fills()
                await v.fills(since=datetime.now(UTC) - timedelta(minutes=5), venue_order_id=resting.venue_order_id)
                await v.historical_cutoff()

        asyncio.run(main())
    finally:
        sim.stop()
    seen = {check_request(spec, r) for r in sim.requests}
    # Every sell carries the declared reduce_only flag (checked above against the closed schema); buys
    # leave it out, so a buy's body is what it always was.
    creates = [json.loads(r.body) for r in sim.requests if r.method == "POST"]
    assert [b.get("reduce_only") for b in creates] == [None, None, True, True, None, None]
    assert seen >= {
        "GET /exchange/status", "GET /portfolio/balance", "GET /portfolio/positions",
        "POST /portfolio/events/orders", "DELETE /portfolio/events/orders/{order_id}",
        "GET /portfolio/orders", "GET /portfolio/orders/{order_id}", "GET /portfolio/fills",
        "GET /historical/cutoff", "GET /historical/fills", "GET /historical/orders", "GET /portfolio/settlements",
        "GET /portfolio/deposits", "GET /portfolio/withdrawals",
    }
    assert sim.auth_failures == 0


def test_contract_checker_catches_bad_order_bodies(spec: dict[str, Any]) -> None:
    good = load_fixture_body("orders__create_v2_taker_ioc")
    path = API_PREFIX + "/portfolio/events/orders"
    check_request(spec, SimRequest("POST", path, {}, _signed(), json.dumps(good).encode()))
    for bad in (
        {**good, "count": 1},  # a number, as recorded in orders__numeric_field_types
        {**good, "side": "yes"},  # legacy vocabulary
        {**good, "time_in_force": "gtc"},
        {**good, "type": "limit"},  # removed Feb 2026; not in CreateOrderV2Request
        {**good, "reduce_only": "true"},  # a boolean, not a string
        {k: v for k, v in good.items() if k != "price"},
    ):
        with pytest.raises((AssertionError, jsonschema.ValidationError)):
            check_request(spec, SimRequest("POST", path, {}, _signed(), json.dumps(bad).encode()))
    with pytest.raises(AssertionError):
        check_request(spec, SimRequest("GET", API_PREFIX + "/portfolio/fills", {"client_order_id": ["x"]},
                                       _signed(), b""))
    with pytest.raises(AssertionError):
        check_request(spec, SimRequest("GET", API_PREFIX + "/portfolio/balance", {}, {}, b""))


def load_fixture_body(name: str) -> dict[str, Any]:
    meta = json.loads((SPEC_PATH.parent / f"{name}.meta.json").read_text())
    body: dict[str, Any] = meta["request_body"]
    return body


def _signed() -> dict[str, str]:
    return {"kalshi-access-key": "k", "kalshi-access-timestamp": "1", "kalshi-access-signature": "s"}


def test_recorded_requests_and_responses_match_the_spec(spec: dict[str, Any]) -> None:
    """The checker itself agrees with the venue: recorded bodies and answers validate."""
    for name in ("orders__create_v2_maker", "orders__create_v2_taker_ioc"):
        check_request(spec, SimRequest("POST", API_PREFIX + "/portfolio/events/orders", {}, _signed(),
                                       json.dumps(load_fixture_body(name)).encode()))
    for name, method, path, status in (
        ("orders__create_v2_taker_ioc", "POST", "/portfolio/events/orders", "201"),
        ("orders__cancel_v2", "DELETE", "/portfolio/events/orders/x", "200"),
        ("orders__get_after_create", "GET", "/portfolio/orders/x", "200"),
        ("portfolio__orders_list", "GET", "/portfolio/orders", "200"),
        ("fills__after_taker", "GET", "/portfolio/fills", "200"),
        ("portfolio__positions", "GET", "/portfolio/positions", "200"),
        ("auth__balance_ok", "GET", "/portfolio/balance", "200"),
        ("settlements__page", "GET", "/portfolio/settlements", "200"),
    ):
        _, op = _operation(spec, method, API_PREFIX + path)
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        errors = list(_schema_validator(spec, schema).iter_errors(loads_exact(json.dumps(load_fixture(name)))))
        assert not errors, (name, [e.message for e in errors[:3]])


def test_simulator_portfolio_bodies_match_the_spec(spec: dict[str, Any], key: rsa.RSAPrivateKey) -> None:
    sim = _sim(key)
    signer = KalshiSigner(KEY_ID, key)
    base = sim.server.base_url
    try:
        with httpx.Client(base_url=base) as h:
            def call(method: str, path: str, body: Any = None, params: Any = None) -> httpx.Response:
                full = API_PREFIX + path
                content = json.dumps(body).encode() if body is not None else None
                return h.request(method, full, params=params, content=content,
                                 headers={**signer.headers(method, full), "Content-Type": "application/json"})

            def order(price: str, tif: str, side: str = "bid") -> dict[str, Any]:
                return {"ticker": TICKER, "side": side, "count": "1.00", "price": price, "time_in_force": tif,
                        "self_trade_prevention_type": "taker_at_cross", "client_order_id": str(uuid.uuid4())}

            checks: list[tuple[str, str, httpx.Response, str]] = []
            r = call("POST", "/portfolio/events/orders", order("0.9900", "immediate_or_cancel"))
            checks.append(("POST", "/portfolio/events/orders", r, "201"))
            checks.append(("POST", "/portfolio/events/orders",
                           call("POST", "/portfolio/events/orders", order("0.4000", "fill_or_kill", "ask")), "201"))
            # Reduce-only with nothing held (the two orders above bought then sold 1 YES): capped to 0,
            # answered as an unfilled IOC (modelled: Kalshi's answer to a cap is not recorded).
            capped = call("POST", "/portfolio/events/orders",
                          {**order("0.4000", "immediate_or_cancel", "ask"), "reduce_only": True})
            checks.append(("POST", "/portfolio/events/orders", capped, "201"))
            assert (capped.json()["fill_count"], capped.json()["remaining_count"]) == ("0.00", "0.00")
            capped_oid = capped.json()["order_id"]
            checks.append(("GET", f"/portfolio/orders/{capped_oid}", call("GET", f"/portfolio/orders/{capped_oid}"),
                           "200"))
            assert call("GET", f"/portfolio/orders/{capped_oid}").json()["order"]["status"] == "canceled"
            resting = call("POST", "/portfolio/events/orders", order("0.0500", "good_till_canceled"))
            checks.append(("POST", "/portfolio/events/orders", resting, "201"))
            oid = resting.json()["order_id"]
            checks.append(("GET", f"/portfolio/orders/{oid}", call("GET", f"/portfolio/orders/{oid}"), "200"))
            checks.append(("GET", "/portfolio/orders", call("GET", "/portfolio/orders", params={"limit": 2}), "200"))
            checks.append(("DELETE", f"/portfolio/events/orders/{oid}",
                           call("DELETE", f"/portfolio/events/orders/{oid}"), "200"))
            # Every kind of transfer the simulator lists: applied, pending (no finalized_ts yet), returned.
            sim.transfer(KEY_ID, "deposit", 50_000, fee_cents=150, method="debit")
            sim.transfer(KEY_ID, "deposit", 20_000, status="pending")
            sim.return_transfer(KEY_ID, sim.transfer(KEY_ID, "deposit", 10_000))
            sim.transfer(KEY_ID, "withdrawal", 7_500, method="wire")
            for path in ("/portfolio/balance", "/portfolio/positions", "/portfolio/fills", "/historical/cutoff",
                         "/portfolio/deposits", "/portfolio/withdrawals"):
                checks.append(("GET", path, call("GET", path), "200"))
            sim.set_historical_cutoff(datetime.now(UTC) + timedelta(seconds=5))
            for path in ("/historical/fills", "/historical/orders"):
                checks.append(("GET", path, call("GET", path), "200"))
            for method, path, response, status in checks:
                assert str(response.status_code) == status, (path, response.text[:200])
                _, op = _operation(spec, method, API_PREFIX + path)
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                data = loads_exact(response.content)
                errors = list(_schema_validator(spec, schema).iter_errors(data))
                assert not errors, (path, [e.message for e in errors[:3]])
            hist = call("GET", "/historical/fills").json()
            assert len(hist["fills"]) == 2 and hist["cursor"] == ""
            # Recorded error bodies, verbatim.
            again = call("DELETE", f"/portfolio/events/orders/{oid}")
            assert again.status_code == 404 and again.json() == load_fixture("orders__cancel_already_canceled")
            dup = call("POST", "/portfolio/events/orders", {**order("0.0500", "good_till_canceled"),
                                                            "client_order_id": resting.json()["client_order_id"]})
            assert dup.status_code == 409 and dup.json() == load_fixture("orders__reuse_canceled_client_id")
            for not_bool in ("true", 1):
                flag = call("POST", "/portfolio/events/orders", {**order("0.0500", "good_till_canceled"),
                                                                 "reduce_only": not_bool})
                assert flag.status_code == 400 and flag.json()["code"] == "bad_request", flag.text[:200]
            numeric = call("POST", "/portfolio/events/orders", {**order("0.0500", "good_till_canceled"), "count": 1})
            assert numeric.status_code == 400 and numeric.json() == load_fixture("orders__numeric_field_types")
            off_tick = call("POST", "/portfolio/events/orders", order("0.5150", "good_till_canceled"))
            assert off_tick.status_code == 400 and off_tick.json() == load_fixture("orders__invalid_price_structure")
            cross = call("POST", "/portfolio/events/orders", {**order("0.9900", "good_till_canceled"),
                                                              "post_only": True})
            assert cross.status_code == 400 and cross.json() == load_fixture("orders__post_only_cross")
            big = call("POST", "/portfolio/events/orders", {**order("0.9900", "good_till_canceled"),
                                                            "count": "10099.00"})
            assert big.status_code == 400 and big.json() == load_fixture("orders__insufficient_balance")
            fok = call("POST", "/portfolio/events/orders", {**order("0.9900", "fill_or_kill"), "count": "500.00"})
            assert fok.status_code == 409
            assert fok.json()["error"]["code"] == "fill_or_kill_insufficient_resting_volume"
            # Settled last (the market is over): the settlement the held contracts got, in the spec's shape.
            bought = call("POST", "/portfolio/events/orders", order("0.9900", "immediate_or_cancel"))
            assert bought.status_code == 201, bought.text[:200]
            sim.settle_market(TICKER, "yes")
            settled = call("GET", "/portfolio/settlements", params={"ticker": TICKER, "limit": 10})
            _, op = _operation(spec, "GET", API_PREFIX + "/portfolio/settlements")
            schema = op["responses"]["200"]["content"]["application/json"]["schema"]
            body = loads_exact(settled.content)
            errors = list(_schema_validator(spec, schema).iter_errors(body))
            assert settled.status_code == 200 and not errors, [e.message for e in errors[:3]]
            assert len(body["settlements"]) == 1 and isinstance(body["settlements"][0]["revenue"], int)
            unsigned = h.get(API_PREFIX + "/portfolio/balance")
            assert unsigned.status_code == 401
            assert unsigned.json() == load_fixture("auth__missing_signature_header")
    finally:
        sim.stop()
