"""Order amounts, EIP-712 signing and the POST /order body, against vectors and the official client."""

from __future__ import annotations

import json
import math
import secrets
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG as OFFICIAL_ROUNDING
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2, order_to_json_v2
from py_clob_client_v2.order_utils.model.side import Side as OfficialSide
from py_clob_client_v2.order_utils.model.signature_type_v2 import SignatureTypeV2
from py_clob_client_v2.signer import Signer

from orion_cli.core.errors import ConfigError, DataError
from orion_cli.venues.polymarket.orders import (
    BYTES32_ZERO,
    MAX_SALT,
    ROUNDING_CONFIG,
    Exchange,
    OrderAmounts,
    OrderSide,
    OrderType,
    SignatureType,
    SignedOrder,
    build_signed_order,
    exchange_for,
    generate_salt,
    limit_amounts,
    marketable_amounts,
    order_digest,
    order_struct_hash,
    sign_order_digest,
)
from orion_cli.venues.polymarket.signing import ApiCredentials, PrivateKey, build_hmac_signature, l2_headers

HARDHAT_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_1 = "0x59c6995e998f97a5a0044976f094538f4f0eb6e095e3875038fc2b94efc60e77"
D = Decimal
UNIT = 10**6

# Throwaway keys for everything that is not a published vector.
_RAW_KEYS = [secrets.token_bytes(32) for _ in range(3)]
KEYS = [(PrivateKey(raw), "0x" + raw.hex()) for raw in _RAW_KEYS]
OWNER = "1f6c3c3e-0000-4a4a-9b9b-0123456789ab"


# --------------------------------------------------------------------------- published vectors


@pytest.mark.parametrize(
    ("price", "size", "side", "tick", "maker", "taker"),
    [
        ("0.24", "15", "BUY", "0.01", 3600000, 15000000),
        ("0.56", "21.04", "BUY", "0.01", 11782400, 21040000),
        ("0.58", "18233.33", "BUY", "0.01", 10575331400, 18233330000),
        ("0.39", "2435.89", "SELL", "0.01", 2435890000, 949997100),
        ("0.5", "21.04", "BUY", "0.1", 10520000, 21040000),
    ],
)
def test_limit_amount_vectors(price: str, size: str, side: str, tick: str, maker: int, taker: int) -> None:
    # py-clob-client tests/order_builder/test_builder.py (reference §2.4 "Vectors")
    assert limit_amounts(OrderSide(side), D(price), D(size), D(tick)) == OrderAmounts(OrderSide(side), maker, taker)


def _common_vector(key: PrivateKey) -> dict[str, object]:
    return {
        "salt": 479249096354,
        "maker": key.address,
        "signer": key.address,
        "token_id": "1234",
        "maker_amount": 100000000,
        "taker_amount": 50000000,
        "side": OrderSide.BUY,
        "signature_type": SignatureType.EOA,
        "timestamp_ms": 1710000000000,
        "metadata": BYTES32_ZERO,
        "builder": BYTES32_ZERO,
    }


@pytest.mark.parametrize(
    ("neg_risk", "protocol_v2", "digest", "signature"),
    [
        (
            False,
            False,
            "0x10124949f84e9f7438c88d02bfd546ceb27ed6eb1fdb0175137af535b6e2513d",
            "0x42c7b4857d51e344045fcfde17b37cf1290d784471ffe618c22aa56ea5ddcf00"
            "09015b87ffb299813f5597e86d4ad56f40d634558d915edb719e6fc71dbc0d891c",
        ),
        (
            True,
            False,
            None,
            "0x79d82a92bd020329c6b9afad40b742c8cfaebdd992219b57e4282b6cfd53a66f"
            "2c97471d3297fa001f3eac2ead5f709c6e266893f19cef37633511420542a63b1b",
        ),
        (
            False,
            True,
            None,
            "0x22a4e68028c7984ff9b19217dee3a8491614e97a84ca42d53fe73e7a50745fd6"
            "6706b966fa16ce911a3217958a5471343c47f2fd56ea9392522a4c1c156eac701c",
        ),
    ],
)
def test_extra_vectors_v2_negrisk_v3(neg_risk: bool, protocol_v2: bool, digest: str | None, signature: str) -> None:
    # reference §3 "Extra vectors generated" with py_clob_client_v2 1.2.1
    key = PrivateKey.from_hex(HARDHAT_0)
    exchange = exchange_for(neg_risk=neg_risk, protocol_v2=protocol_v2)
    struct_hash = order_struct_hash(**_common_vector(key))  # type: ignore[arg-type]
    if digest is not None:
        assert "0x" + order_digest(struct_hash, exchange).hex() == digest
    got = sign_order_digest(key, struct_hash=struct_hash, exchange=exchange, signature_type=SignatureType.EOA)
    assert got == signature


def test_exchange_routing() -> None:
    assert exchange_for(neg_risk=False) == Exchange("0xE111180000d2663C0091e4f400237545B87B996B", "2", 137)
    assert exchange_for(neg_risk=True) == Exchange("0xe2222d279d744050d28e00520010520000310F59", "2", 137)
    for neg_risk in (False, True):
        assert exchange_for(neg_risk=neg_risk, protocol_v2=True) == Exchange(
            "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa", "3", 137
        )
    with pytest.raises(ConfigError):
        exchange_for(neg_risk=False, chain_id=1)


def test_parity_fixture_gnosis_safe_buy() -> None:
    # polymarket_clob 0.2.0 test/fixtures/parity/orders.json "polygon_standard_gnosis_safe_buy"
    key = PrivateKey.from_hex(HARDHAT_1)
    struct_hash = order_struct_hash(
        salt=170000000000000000000000000000000000000001,
        maker="0x1111111111111111111111111111111111111111",
        signer=key.address,
        token_id="1234567890123456789012345678901234567890123456789012345678901234",
        maker_amount=5500000,
        taker_amount=10000000,
        side=OrderSide.BUY,
        signature_type=SignatureType.POLY_GNOSIS_SAFE,
        timestamp_ms=1712345678123,
    )
    exchange = exchange_for(neg_risk=False)
    assert "0x" + order_digest(struct_hash, exchange).hex() == (
        "0x6d0cfc0e35cff466c71a0facf439d1977ff6378965bf8fb642423f0d90794fb2"
    )
    assert sign_order_digest(
        key, struct_hash=struct_hash, exchange=exchange, signature_type=SignatureType.POLY_GNOSIS_SAFE
    ) == (
        "0x66f28408f5c7a2d3d2268cb6e71c88e3dc30527e4502361552fb8fb4b2872f7f"
        "37d436d81afa2a597e3641c98189a6147fd4cbe0507bea7f35d865ab793ca9941c"
    )


def test_poly_1271_vector_official_suite() -> None:
    # py-clob-client-v2 tests/order_utils/test_exchange_order_builder_v2.py (Amoy, deposit wallet)
    key = PrivateKey.from_hex(HARDHAT_0)
    wallet = "0x1111111111111111111111111111111111111111"
    fields = {**_common_vector(key), "maker": wallet, "signer": wallet, "signature_type": SignatureType.POLY_1271}
    struct_hash = order_struct_hash(**fields)  # type: ignore[arg-type]
    exchange = exchange_for(neg_risk=False, chain_id=80002)
    assert "0x" + order_digest(struct_hash, exchange).hex() == (
        "0x2afca94626db91b2d556c351584a4cd93e13da32e377dc48c7983e43afa5ab47"
    )
    expected = (
        "0xa3a093c83b6c20c83355c16ce94c92e6e9fcbdeb840618cc74f6c57a42ad145b"
        "2b98db73d2c73cbf1f2b6af288566ae81960ddbc3a13921027358a8bff3be6ff1c"
        "a440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148"
        "d23d42d3ad94e65d78258cecaf8dcbaddac0f73dc085040f2c12bb595dd83804"
        "4f726465722875696e743235362073616c742c61646472657373206d616b65722c"
        "61646472657373207369676e65722c75696e7432353620746f6b656e49642c75"
        "696e74323536206d616b6572416d6f756e742c75696e743235362074616b6572"
        "416d6f756e742c75696e743820736964652c75696e7438207369676e61747572"
        "65547970652c75696e743235362074696d657374616d702c6279746573333220"
        "6d657461646174612c62797465733332206275696c6465722900ba"
    )
    got = sign_order_digest(
        key, struct_hash=struct_hash, exchange=exchange, signature_type=SignatureType.POLY_1271, wallet=wallet
    )
    assert got == expected


# --------------------------------------------------------------------------- strategies

TICKS = sorted(ROUNDING_CONFIG)


@st.composite
def priced(draw: st.DrawFn) -> tuple[Decimal, Decimal]:
    tick = draw(st.sampled_from(TICKS))
    steps = int((1 - tick) / tick)
    price = tick * draw(st.integers(1, steps))
    return tick, price


SIZES = st.integers(1, 10**8).map(lambda cents: Decimal(cents) / 100)
TOKEN_IDS = st.integers(0, 2**256 - 1).map(str)


def _random_address() -> str:
    from eth_utils.address import to_checksum_address

    return str(to_checksum_address("0x" + secrets.token_hex(20)))


def _official_body(order: object, order_type: str, post_only: bool, defer_exec: bool) -> bytes:
    payload = order_to_json_v2(order, OWNER, order_type, post_only, defer_exec)  # type: ignore[arg-type]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _official_hash(order: object, exchange: Exchange, signer: Signer) -> str:
    builder = ExchangeOrderBuilderV2(
        exchange.address, exchange.chain_id, signer, domain_version=exchange.domain_version
    )
    return str(builder.build_order_hash(builder.build_order_typed_data(order)))


def _float_exact(value: Decimal, places: int) -> bool:
    """The 1.2.1 client's float ``round_down`` leaves ``value`` alone (0.29 → 0.28 is its bug)."""
    return math.floor(float(value) * 10**places) / 10**places == float(value)


# --------------------------------------------------------------------------- official parity


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tick_price=priced(),
    size=SIZES,
    side=st.sampled_from(list(OrderSide)),
    neg_risk=st.booleans(),
    protocol_v2=st.booleans(),
    sig_type=st.sampled_from(list(SignatureType)),
    gtd=st.booleans(),
    token_id=TOKEN_IDS,
    key_index=st.integers(0, len(KEYS) - 1),
)
def test_limit_orders_match_official_builder(
    tick_price: tuple[Decimal, Decimal],
    size: Decimal,
    side: OrderSide,
    neg_risk: bool,
    protocol_v2: bool,
    sig_type: SignatureType,
    gtd: bool,
    token_id: str,
    key_index: int,
) -> None:
    """End to end through the official ``OrderBuilder.build_order``: routing, amounts, hash, signature, body."""
    tick, price = tick_price
    assume(_float_exact(size, 2))
    # The official client multiplies in floats: 999999.94 × 0.585 is 584999.96489999… there, and its
    # round-down gives 584999.964899 where the exact amount is 584999.9649 (CI drew this case). The
    # float product itself must be the exact one too: 998792.32 × 0.5025 is 501893.14079999994 in
    # floats, though 501893.1408 is a float (a local run drew this case).
    assume(_float_exact(size * price, 6) and float(size) * float(price) == float(size * price))
    key, key_hex = KEYS[key_index]
    funder = None if sig_type is SignatureType.EOA else _random_address()
    expiration = 1_900_000_000 if gtd else 0
    signer = Signer(key_hex, 137)
    official_builder = OrderBuilder(signer, signature_type=SignatureTypeV2(int(sig_type)), funder=funder)
    asset = {"position_id": token_id} if protocol_v2 else {"token_id": token_id}
    official = official_builder.build_order(
        OrderArgsV2(price=float(price), size=float(size), side=side.value, expiration=expiration, **asset),
        CreateOrderOptions(tick_size=str(tick), neg_risk=neg_risk),  # type: ignore[arg-type]
        version=2,
    )
    order_type = OrderType.GTD if gtd else OrderType.GTC
    mine = build_signed_order(
        key,
        token_id=token_id,
        side=side,
        price=price,
        size=size,
        tick_size=tick,
        order_type=order_type,
        owner=OWNER,
        neg_risk=neg_risk,
        protocol_v2=protocol_v2,
        signature_type=sig_type,
        funder=funder,
        expiration=expiration,
        salt=int(official.salt),
        timestamp_ms=int(official.timestamp),
    )
    assert (mine.maker_amount, mine.taker_amount) == (int(official.makerAmount), int(official.takerAmount))
    assert (mine.maker, mine.signer) == (official.maker, official.signer)
    assert mine.signature == official.signature
    assert mine.order_hash == _official_hash(official, mine.exchange, signer)
    assert mine.body == _official_body(official, order_type.value, False, False)
    assert mine.exchange.domain_version == ("3" if protocol_v2 else "2")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tick_price=priced(),
    size=SIZES,
    side=st.sampled_from(list(OrderSide)),
    order_type=st.sampled_from(list(OrderType)),
    neg_risk=st.booleans(),
    protocol_v2=st.booleans(),
    sig_type=st.sampled_from(list(SignatureType)),
    flags=st.tuples(st.booleans(), st.booleans()),
    token_id=TOKEN_IDS,
    salt=st.integers(0, MAX_SALT - 1),
    timestamp_ms=st.integers(1, 2**48),
    metadata=st.binary(min_size=32, max_size=32),
)
def test_every_order_type_signs_like_official(
    tick_price: tuple[Decimal, Decimal],
    size: Decimal,
    side: OrderSide,
    order_type: OrderType,
    neg_risk: bool,
    protocol_v2: bool,
    sig_type: SignatureType,
    flags: tuple[bool, bool],
    token_id: str,
    salt: int,
    timestamp_ms: int,
    metadata: bytes,
) -> None:
    """FOK/FAK/GTC/GTD with my amounts, signed by the official ``ExchangeOrderBuilderV2``: same bytes."""
    tick, price = tick_price
    post_only = flags[0] and not order_type.is_marketable
    defer_exec = flags[1]
    key, key_hex = KEYS[0]
    funder = None if sig_type is SignatureType.EOA else _random_address()
    expiration = 1_900_000_000 if order_type is OrderType.GTD else 0
    try:
        mine = build_signed_order(
            key,
            token_id=token_id,
            side=side,
            price=price,
            size=size,
            tick_size=tick,
            order_type=order_type,
            owner=OWNER,
            neg_risk=neg_risk,
            protocol_v2=protocol_v2,
            signature_type=sig_type,
            funder=funder,
            expiration=expiration,
            post_only=post_only,
            defer_exec=defer_exec,
            metadata="0x" + metadata.hex(),
            salt=salt,
            timestamp_ms=timestamp_ms,
        )
    except DataError as exc:
        # Only tiny marketable orders may be refused (implied price would cross a tick).
        assert order_type.is_marketable and exc.field == "size"
        assert size < 1
        return
    signer = Signer(key_hex, 137)
    official_builder = ExchangeOrderBuilderV2(
        mine.exchange.address,
        137,
        signer,
        generate_salt=lambda: str(salt),
        domain_version=mine.exchange.domain_version,
    )
    official = official_builder.build_signed_order(
        OrderDataV2(
            maker=funder or key.address,
            tokenId=token_id,
            makerAmount=str(mine.maker_amount),
            takerAmount=str(mine.taker_amount),
            side=OfficialSide.BUY if side is OrderSide.BUY else OfficialSide.SELL,
            signer=funder if sig_type is SignatureType.POLY_1271 else key.address,
            signatureType=SignatureTypeV2(int(sig_type)),
            timestamp=str(timestamp_ms),
            metadata="0x" + metadata.hex(),
            builder=BYTES32_ZERO,
            expiration=str(expiration),
        )
    )
    assert mine.signature == official.signature
    assert mine.order_hash == _official_hash(official, mine.exchange, signer)
    assert mine.body == _official_body(official, order_type.value, post_only, defer_exec)


@settings(max_examples=300, deadline=None)
@given(
    price_cents=st.integers(1, 99),
    size=SIZES,
    side=st.sampled_from(list(OrderSide)),
)
def test_marketable_amounts_match_official_market_builder_on_cent_ticks(
    price_cents: int, size: Decimal, side: OrderSide
) -> None:
    """On 0.01 ticks the official market builder stays within the server's limits: agree with it.

    Official BUY takes a dollar amount: feed it ours. (On finer ticks it signs 5-6 decimal shares,
    which the server rejects — py-clob-client-v2 #99 — so there we only check the limits below.)
    """
    tick, price = D("0.01"), D(price_cents) / 100
    mine = marketable_amounts(side, price, size, tick)
    amount = mine.usd if side is OrderSide.BUY else size
    assume(_float_exact(amount, 2) and _float_exact(price, 2))  # its float round_down: 0.57 → 0.56
    _, maker, taker = OrderBuilder(None).get_market_order_amounts(  # type: ignore[arg-type]
        side.value, float(amount), float(price), OFFICIAL_ROUNDING["0.01"]
    )
    if side is OrderSide.BUY:
        # The official float path rounds *up* when digits 5-8 of the quotient are all 9s; exact maths floors.
        exact = mine.usd / price
        assume(exact % D("0.0001") < D("0.00009999"))
    assert (mine.maker, mine.taker) == (maker, taker)


# --------------------------------------------------------------------------- rounding properties


def _decimals_ok(base_units: int, places: int) -> bool:
    return base_units % 10 ** (6 - places) == 0


@settings(max_examples=500, deadline=None)
@given(tick_price=priced(), size=SIZES, side=st.sampled_from(list(OrderSide)))
def test_limit_amount_properties(tick_price: tuple[Decimal, Decimal], size: Decimal, side: OrderSide) -> None:
    tick, price = tick_price
    config = ROUNDING_CONFIG[tick]
    amounts = limit_amounts(side, price, size, tick)
    assert isinstance(amounts.maker, int) and isinstance(amounts.taker, int)
    shares, usd = (amounts.taker, amounts.maker) if side is OrderSide.BUY else (amounts.maker, amounts.taker)
    assert shares == size * UNIT
    assert usd * 10**6 == shares * price * 10**6  # the server derives exactly the limit price
    assert amounts.implied_price == price
    assert _decimals_ok(shares, config.size)
    assert _decimals_ok(usd, config.amount)


@settings(max_examples=500, deadline=None)
@given(tick_price=priced(), size=SIZES.filter(lambda s: s >= 1), side=st.sampled_from(list(OrderSide)))
def test_marketable_amount_properties(tick_price: tuple[Decimal, Decimal], size: Decimal, side: OrderSide) -> None:
    tick, price = tick_price
    amounts = marketable_amounts(side, price, size, tick)
    assert amounts.maker > 0 and amounts.taker > 0
    # The server's flat FOK/FAK limits: pUSD ≤ 2 decimals on BUY maker, shares ≤ 4 decimals; SELL mirrors.
    if side is OrderSide.BUY:
        assert _decimals_ok(amounts.maker, 2)
        assert _decimals_ok(amounts.taker, 4)
        assert amounts.taker >= size * UNIT  # at least the shares asked for
        assert amounts.maker < (size * price + D("0.01")) * UNIT  # never a cent more than needed
        assert price <= amounts.implied_price < price + tick  # lifts asks at p, never the next tick
    else:
        assert amounts.maker == size * UNIT  # exactly the shares asked for
        assert _decimals_ok(amounts.maker, 2)
        assert _decimals_ok(amounts.taker, 4)
        assert price - tick < amounts.implied_price <= price


def test_marketable_buy_example() -> None:
    # 15.37 @ 0.53 = 8.1461: as a limit (maker 8.1461) the server rejects it for FOK.
    amounts = marketable_amounts(OrderSide.BUY, D("0.53"), D("15.37"), D("0.01"))
    assert (amounts.maker, amounts.taker) == (8_150_000, 15_377_300)
    assert limit_amounts(OrderSide.BUY, D("0.53"), D("15.37"), D("0.01")).maker == 8_146_100
    # Fine tick: official market SELL would sign 5 decimals of pUSD.
    sell = marketable_amounts(OrderSide.SELL, D("0.985"), D("9.99"), D("0.001"))
    assert (sell.maker, sell.taker) == (9_990_000, 9_840_100)


def test_marketable_refuses_sub_share_orders_that_would_cross_a_tick() -> None:
    with pytest.raises(DataError):
        marketable_amounts(OrderSide.BUY, D("0.9999"), D("0.01"), D("0.0001"))


def test_salt_below_2_53() -> None:
    salts = [generate_salt() for _ in range(5000)]
    assert all(0 < s < MAX_SALT for s in salts)
    assert len(set(salts)) == len(salts)
    assert max(salts) > 2**50  # drawn from the whole range, not a timestamp-sized one
    key = KEYS[0][0]
    order = _order(key)
    assert 0 < order.salt < MAX_SALT
    assert json.loads(order.body)["order"]["salt"] == order.salt
    with pytest.raises(DataError):
        _order(key, salt=MAX_SALT)


# --------------------------------------------------------------------------- SignedOrder


def _order(key: PrivateKey, **overrides: object) -> SignedOrder:
    args: dict[str, object] = {
        "token_id": "71321045679252212594626385532706912750332728571942532289631379312455583992563",
        "side": OrderSide.BUY,
        "price": D("0.53"),
        "size": D("15.37"),
        "tick_size": D("0.01"),
        "order_type": OrderType.FOK,
        "owner": OWNER,
        "neg_risk": False,
    }
    args.update(overrides)
    return build_signed_order(key, **args)  # type: ignore[arg-type]


def test_signed_order_round_trip() -> None:
    key = KEYS[1][0]
    for sig_type, funder in [
        (SignatureType.EOA, None),
        (SignatureType.POLY_GNOSIS_SAFE, _random_address()),
        (SignatureType.POLY_1271, _random_address()),
    ]:
        order = _order(key, signature_type=sig_type, funder=funder, neg_risk=True, defer_exec=True)
        restored = SignedOrder.from_json(order.to_json())
        assert restored == order
        assert restored.body == order.body
        assert SignedOrder.from_json(restored.to_json().encode()) == order


def test_body_is_exactly_what_is_signed() -> None:
    key = KEYS[0][0]
    order = _order(key, order_type=OrderType.GTC, post_only=True)
    payload = json.loads(order.body)
    assert list(payload) == ["order", "owner", "orderType", "deferExec", "postOnly"]
    assert list(payload["order"]) == [
        "salt", "maker", "signer", "tokenId", "makerAmount", "takerAmount", "side",
        "expiration", "signatureType", "timestamp", "metadata", "builder", "signature",
    ]  # fmt: skip
    assert b" " not in order.body
    assert payload["postOnly"] is True and payload["orderType"] == "GTC"
    creds = ApiCredentials(OWNER, "c2VjcmV0LWtleS0zMi1ieXRlcy0xMjM0NTY=", "pp")
    headers = l2_headers(order.signer, creds, "POST", "/order", order.body, timestamp=1712345678)
    assert headers["POLY_SIGNATURE"] == build_hmac_signature(creds.secret, 1712345678, "POST", "/order", order.body)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(body=d["body"].replace('"orderType":"FOK"', '"orderType":"FAK"')),
        lambda d: d.update(maker_amount=str(int(d["maker_amount"]) + 1)),
        lambda d: d.update(salt=str(int(d["salt"]) ^ 1)),
        lambda d: d.update(signature=d["signature"][:-4] + ("1b1c" if d["signature"][-4:] != "1b1c" else "1c1b")),
        lambda d: d.update(order_hash="0x" + "00" * 32),
        lambda d: d.update(domain_version="3"),
        lambda d: d.update(format=2),
        lambda d: d.pop("owner"),
    ],
)
def test_signed_order_from_json_refuses_tampering(mutate: object) -> None:
    order = _order(KEYS[2][0])
    record = json.loads(order.to_json())
    mutate(record)  # type: ignore[operator]
    with pytest.raises(DataError):
        SignedOrder.from_json(json.dumps(record))


def test_signature_byte_flip_detected() -> None:
    order = _order(KEYS[2][0])
    record = json.loads(order.to_json())
    sig = record["signature"]
    flipped = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]
    record["signature"] = flipped
    record["body"] = record["body"].replace(sig, flipped)
    with pytest.raises(DataError, match="signature"):
        SignedOrder.from_json(json.dumps(record))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price": D("0.535")}, "price"),
        ({"price": D("0.995"), "tick_size": D("0.01")}, "price"),
        ({"price": D("0.0025"), "tick_size": D("0.005")}, "price"),
        ({"size": D("1.001")}, "size"),
        ({"size": D("0")}, "size"),
        ({"tick_size": D("0.02")}, "tick_size"),
        ({"order_type": OrderType.GTD}, "expiration"),
        ({"expiration": 1_900_000_000}, "expiration"),
        ({"post_only": True}, "post_only"),
        ({"funder": "0x1111111111111111111111111111111111111111"}, "funder"),
        ({"signature_type": SignatureType.POLY_PROXY}, "funder"),
        ({"token_id": "0x12"}, "token_id"),
        ({"token_id": "0123"}, "token_id"),
        ({"owner": 'bad"owner'}, "owner"),
        ({"metadata": "0x12"}, "metadata"),
    ],
)
def test_build_refuses_bad_input(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(DataError) as info:
        _order(KEYS[0][0], **overrides)
    assert info.value.field == field


def test_float_inputs_refused() -> None:
    with pytest.raises(DataError):
        _order(KEYS[0][0], price=0.53)
    with pytest.raises(DataError):
        _order(KEYS[0][0], size=15.0)


def test_maker_and_signer_per_signature_type() -> None:
    key = KEYS[0][0]
    wallet = _random_address()
    eoa = _order(key)
    assert eoa.maker == eoa.signer == key.address
    for sig_type in (SignatureType.POLY_PROXY, SignatureType.POLY_GNOSIS_SAFE):
        order = _order(key, signature_type=sig_type, funder=wallet.lower())
        assert (order.maker, order.signer) == (wallet, key.address)
        assert json.loads(order.body)["order"]["signatureType"] == int(sig_type)
    deposit = _order(key, signature_type=SignatureType.POLY_1271, funder=wallet)
    assert deposit.maker == deposit.signer == wallet
    assert len(deposit.signature) == 2 + 2 * (65 + 32 + 32 + 186 + 2)


# --------------------------------------------------------------------------- found by the mutation audit


def test_an_immediate_sell_too_small_to_keep_its_price_within_a_tick_is_refused() -> None:
    """0.01 shares at 0.5001 (tick 0.0001): the pUSD floored to 4 decimals is 0.0050, an implied price
    of 0.5000, a whole tick below the limit. Signed, it could hit bids below the price orion priced at;
    refused instead. The same sale at 0.5000 keeps its price exactly and is built."""
    with pytest.raises(DataError, match="too small for an immediate SELL"):
        marketable_amounts(OrderSide.SELL, D("0.5001"), D("0.01"), D("0.0001"))
    ok = marketable_amounts(OrderSide.SELL, D("0.5000"), D("0.01"), D("0.0001"))
    assert (ok.maker, ok.taker) == (10_000, 5_000) and ok.implied_price == D("0.5")
