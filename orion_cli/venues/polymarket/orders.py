"""Polymarket CLOB V2 orders: amounts, the EIP-712 struct, signatures and the exact ``POST /order`` body.

Why one module owns all of it: a signed order is only as good as its weakest byte. Amounts,
routing (which exchange, which domain version), the signature and the JSON body are built
together here, once, and the result (:class:`SignedOrder`) is persisted *before* it is sent so a
crash between "signed" and "acknowledged" can re-send the very same bytes (same salt, same
signature, same order hash) instead of a second order.

Order struct and routing (reference §0, §2.4, §2.5; py_clob_client_v2 1.2.1
``order_utils/exchange_order_builder_v2.py``, ``order_builder/builder.py``, ``config.py``):

* 11 fields ``Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,
  uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)``;
  ``expiration`` is sent but not signed; nothing fee-related is signed.
* Domain ``{name: "Polymarket CTF Exchange", version, chainId, verifyingContract}``: version "2" on
  CTF Exchange V2 or Neg Risk CTF Exchange V2 (by ``neg_risk``) for CTF markets (Gamma
  ``version`` "v1"); version "3" on ExchangeV3 for Protocol-V2 markets (Gamma ``version`` "v2",
  asset = a ``positionIds`` entry), whatever ``neg_risk`` says — as the official client does.
* Signature types: 0 EOA (maker = signer = key address), 1 POLY_PROXY and 2 POLY_GNOSIS_SAFE
  (maker = the proxy/Safe ``funder``, signer = key address), 3 POLY_1271 deposit wallet (maker =
  signer = the wallet; the EOA's signature over an ERC-7739 ``TypedDataSign`` envelope, followed by
  the app domain separator, the contents hash, the type string and its uint16 length). Type 3 is
  byte-identical to the official client but the venue-side account flow around it (API keys bound
  to the wallet) has open upstream issues; put a tiny canary order through it first.
* Salt: ``secrets.randbelow(2**53)``; the server parses the JSON number and rounds bigger salts,
  which breaks the signature ("Invalid order payload").

Amounts — what the server accepts (reference §2.4 "Server precision errors"):

* Both amounts are integers in 6-decimal base units. BUY: maker = pUSD paid, taker = shares;
  SELL: maker = shares, taker = pUSD.
* **GTC/GTD (resting limit orders)** — the official ``get_order_amounts``: shares to 2 decimals,
  the pUSD side is ``shares × price`` exactly, which always fits the tick's amount precision
  (``ROUNDING_CONFIG``: 0.1→3, 0.01→4, 0.005→5, 0.0025→6, 0.001→5, 0.0001→6 decimals) because
  price decimals + 2 = amount decimals. The server derives the price as pUSD/shares and checks it
  is on the tick grid ("breaks minimum tick size rule", py-clob-client PR #18), so it must be
  exact — which Decimal makes it. Rejections: "the buy orders maker amount supports a max
  accuracy of 4 decimals, taker amount a max of 2" (tick 0.01; "5 decimals" on 0.001, clob-client #124).
* **FOK/FAK are "market" orders to the server** (docs.polymarket.com/trading/orders/overview:
  "BUY: specify the dollar amount you want to spend, SELL: the number of shares") and it applies a
  flat precision whatever the tick: pUSD ≤ 2 decimals, shares ≤ 4 decimals ("invalid amounts, the
  market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4
  decimals"; py-clob-client-v2 #99, rs-clob-client #114/#164, clob-client #266). Sending the
  limit-order amounts as FOK is rejected as soon as ``shares × price`` has 3+ decimals
  (py-clob-client #121: 1.74 @ 0.58 → maker 1.0092 rejected as FOK, accepted as GTC), and the
  official market builder itself signs 5-6 decimal shares on fine ticks (py-clob-client-v2 #99).
  The exchange derives the BUY price as maker/taker and only crosses an ask at or below it; the
  implied price of a market order need not sit on the grid, but if it falls a hair *below* the ask
  the order is killed unfilled (py-sdk #291, fixed by PR #292: round the share count *down*).
  Orion's construction for FOK/FAK, in :func:`marketable_amounts`:

  - BUY N shares at worst price p: pUSD = ``ceil_cents(N × p)``, shares = ``floor_4dp(pUSD / p)``.
    Then shares ≥ N, and p ≤ pUSD/shares < p + tick, so it lifts asks at p and never reaches the
    next tick. The venue spends the whole pUSD amount, so the fill is *at least* N shares (N plus
    under one cent's worth at p, more with price improvement) for at most N × p + $0.01. FOK needs
    book depth for the pUSD amount, i.e. for :attr:`OrderAmounts.taker` shares at ≤ p.
    There is no way to buy *exactly* N shares immediately-or-cancel: a FOK/FAK BUY is
    dollar-denominated on the venue (clob-client #134). Marketable BUYs under $1 are refused ("invalid
    amount for a marketable BUY order ($0.5), min size: $1"); that and ``min_order_size`` are for the
    caller to check (the pre-trade ``INVALID_ORDER`` check does, in ``orion_cli.risk.checks``).
  - SELL N shares at worst price p: shares = N (2 decimals), pUSD = ``floor_4dp(N × p)``; the implied
    price is in (p − tick, p], so it hits bids at p and better and never a tick below. Exactly N
    shares are sold, for at least that pUSD.

  These differ from the official ``get_market_order_amounts`` only where it breaks the server's
  limits (fine ticks) or float rounding bites; the tests check equality everywhere else.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from enum import IntEnum, StrEnum
from typing import Any, Final

from orion_cli.core.errors import ConfigError, DataError
from orion_cli.venues.polymarket.signing import (
    AMOY_CHAIN_ID,
    POLYGON_CHAIN_ID,
    PrivateKey,
    eip712_digest,
    enc_address,
    enc_bytes32,
    enc_uint,
    keccak256,
    to_checksum_address,
)

__all__ = [
    "BYTES32_ZERO",
    "MAX_SALT",
    "ROUNDING_CONFIG",
    "Exchange",
    "OrderAmounts",
    "OrderSide",
    "OrderType",
    "RoundConfig",
    "SignatureType",
    "SignedOrder",
    "build_signed_order",
    "exchange_for",
    "generate_salt",
    "limit_amounts",
    "marketable_amounts",
    "order_amounts",
    "order_digest",
    "order_struct_hash",
    "sign_order_digest",
]

BYTES32_ZERO: Final = "0x" + "0" * 64
MAX_SALT: Final = 2**53  # exclusive: the server reads salt as a JSON number (float64)
_UNIT = Decimal(1_000_000)
_CENT = Decimal("0.01")
_SHARE_STEP = Decimal("0.01")
_MARKET_SHARES_STEP = Decimal("0.0001")
_MARKET_USD_STEP = Decimal("0.01")
_MARKET_SELL_USD_STEP = Decimal("0.0001")
_OWNER = re.compile(r"[A-Za-z0-9_\-]{1,128}")
_UINT = re.compile(r"[0-9]{1,78}")
_RECORD_FORMAT: Final = 1  # SignedOrder.to_json layout version

EXCHANGE_DOMAIN_NAME: Final = "Polymarket CTF Exchange"
ORDER_TYPE_STRING: Final = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_DOMAIN_TYPE_STRING: Final = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_ORDER_TYPEHASH: Final = keccak256(ORDER_TYPE_STRING.encode())
_DOMAIN_TYPEHASH: Final = keccak256(_DOMAIN_TYPE_STRING.encode())
# ERC-7739 nested typed data for POLY_1271 deposit wallets (py_clob_client_v2 1.2.1).
_TYPED_DATA_SIGN_TYPEHASH: Final = keccak256(
    (
        "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
        "address verifyingContract,bytes32 salt)" + ORDER_TYPE_STRING
    ).encode()
)
_DEPOSIT_WALLET_NAME_HASH: Final = keccak256(b"DepositWallet")
_DEPOSIT_WALLET_VERSION_HASH: Final = keccak256(b"1")


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def code(self) -> int:
        """The signed ``uint8 side``."""
        return 0 if self is OrderSide.BUY else 1


class OrderType(StrEnum):
    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"

    @property
    def is_marketable(self) -> bool:
        """FOK/FAK: the server treats them as market orders (flat 2/4-decimal amount limits)."""
        return self in (OrderType.FOK, OrderType.FAK)


class SignatureType(IntEnum):
    EOA = 0
    POLY_PROXY = 1
    POLY_GNOSIS_SAFE = 2
    POLY_1271 = 3


@dataclass(frozen=True, slots=True)
class RoundConfig:
    """Decimal places allowed for price, share size and the computed pUSD amount of a limit order."""

    price: int
    size: int
    amount: int


ROUNDING_CONFIG: Final[dict[Decimal, RoundConfig]] = {
    Decimal("0.1"): RoundConfig(price=1, size=2, amount=3),
    Decimal("0.01"): RoundConfig(price=2, size=2, amount=4),
    Decimal("0.005"): RoundConfig(price=3, size=2, amount=5),
    Decimal("0.0025"): RoundConfig(price=4, size=2, amount=6),
    Decimal("0.001"): RoundConfig(price=3, size=2, amount=5),
    Decimal("0.0001"): RoundConfig(price=4, size=2, amount=6),
}


# --------------------------------------------------------------------------- exchanges


@dataclass(frozen=True, slots=True)
class Exchange:
    """The EIP-712 domain an order is signed for."""

    address: str
    domain_version: str
    chain_id: int

    def domain_separator(self) -> bytes:
        return keccak256(
            _DOMAIN_TYPEHASH
            + keccak256(EXCHANGE_DOMAIN_NAME.encode())
            + keccak256(self.domain_version.encode())
            + enc_uint(self.chain_id)
            + enc_address(self.address)
        )


_EXCHANGES: Final[dict[int, dict[str, str]]] = {
    POLYGON_CHAIN_ID: {
        "v2": "0xE111180000d2663C0091e4f400237545B87B996B",
        "v2_neg_risk": "0xe2222d279d744050d28e00520010520000310F59",
        "v3": "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa",
    },
    AMOY_CHAIN_ID: {
        "v2": "0xE111180000d2663C0091e4f400237545B87B996B",
        "v2_neg_risk": "0xe2222d279d744050d28e00520010520000310F59",
        "v3": "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D",
    },
}


def exchange_for(*, neg_risk: bool, protocol_v2: bool = False, chain_id: int = POLYGON_CHAIN_ID) -> Exchange:
    """Where an order must be signed: ExchangeV3 (domain "3") for Protocol-V2 markets, else V2."""
    table = _EXCHANGES.get(chain_id)
    if table is None:
        raise ConfigError(f"Polymarket: unsupported chain id {chain_id}")
    if protocol_v2:
        return Exchange(table["v3"], "3", chain_id)
    return Exchange(table["v2_neg_risk" if neg_risk else "v2"], "2", chain_id)


# --------------------------------------------------------------------------- amounts


@dataclass(frozen=True, slots=True)
class OrderAmounts:
    """Signed amounts in 6-decimal base units (maker gives, taker receives)."""

    side: OrderSide
    maker: int
    taker: int

    @property
    def shares(self) -> Decimal:
        """Shares bought (at least) or sold (exactly)."""
        return Decimal(self.taker if self.side is OrderSide.BUY else self.maker) / _UNIT

    @property
    def usd(self) -> Decimal:
        """pUSD paid (exactly, for BUY) or received (at least, for SELL)."""
        return Decimal(self.maker if self.side is OrderSide.BUY else self.taker) / _UNIT

    @property
    def implied_price(self) -> Decimal:
        """pUSD per share as the exchange derives it from the two amounts."""
        with localcontext() as ctx:
            ctx.prec = 50
            return self.usd / self.shares


def _round_config(tick_size: Decimal) -> RoundConfig:
    if not isinstance(tick_size, Decimal):
        raise DataError("tick_size", f"expected Decimal, got {type(tick_size).__name__}")
    config = ROUNDING_CONFIG.get(tick_size)
    if config is None:
        raise DataError("tick_size", f"unsupported tick size {tick_size}")
    return config


def _check_price(price: Decimal, tick_size: Decimal) -> None:
    if not isinstance(price, Decimal) or not price.is_finite():
        raise DataError("price", "expected a finite Decimal")
    if not (tick_size <= price <= 1 - tick_size):
        raise DataError("price", f"{price} outside [{tick_size}, {1 - tick_size}]")
    if price % tick_size != 0:
        raise DataError("price", f"{price} is not a multiple of the tick size {tick_size}")


def _check_size(size: Decimal) -> None:
    if not isinstance(size, Decimal) or not size.is_finite():
        raise DataError("size", "expected a finite Decimal")
    if size <= 0:
        raise DataError("size", f"must be positive, got {size}")
    if size % _SHARE_STEP != 0:
        raise DataError("size", f"{size} has more than 2 decimals (shares trade in 0.01)")
    if size > Decimal("1e12"):
        raise DataError("size", "out of range")


def _units(value: Decimal) -> int:
    scaled = value * _UNIT
    if scaled != scaled.to_integral_value():
        raise AssertionError("amount finer than 6 decimals")  # unreachable by construction
    return int(scaled)


def _quantize(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return (value / step).to_integral_value(rounding=rounding) * step


def limit_amounts(side: OrderSide, price: Decimal, size: Decimal, tick_size: Decimal) -> OrderAmounts:
    """GTC/GTD amounts: exactly ``size`` shares at exactly ``price`` (official ``get_order_amounts``)."""
    config = _round_config(tick_size)
    _check_price(price, tick_size)
    _check_size(size)
    with localcontext() as ctx:
        ctx.prec = 60
        usd = size * price
    if usd != usd.quantize(Decimal(1).scaleb(-config.amount)):
        raise AssertionError("limit amount exceeds tick precision")  # price dp + 2 == amount dp
    if side is OrderSide.BUY:
        return OrderAmounts(side, _units(usd), _units(size))
    return OrderAmounts(side, _units(size), _units(usd))


def marketable_amounts(side: OrderSide, price: Decimal, size: Decimal, tick_size: Decimal) -> OrderAmounts:
    """FOK/FAK amounts for "buy/sell ``size`` shares at worst ``price``" (see the module docstring)."""
    _round_config(tick_size)
    _check_price(price, tick_size)
    _check_size(size)
    with localcontext() as ctx:
        ctx.prec = 60
        if side is OrderSide.BUY:
            usd = _quantize(size * price, _MARKET_USD_STEP, ROUND_CEILING)
            shares = _quantize(usd / price, _MARKET_SHARES_STEP, ROUND_FLOOR)
            implied = usd / shares
            if not (price <= implied < price + tick_size):
                raise DataError("size", f"{size} shares is too small for an immediate BUY at {price}")
            return OrderAmounts(side, _units(usd), _units(shares))
        usd = _quantize(size * price, _MARKET_SELL_USD_STEP, ROUND_FLOOR)
        if usd <= 0 or not (price - tick_size < usd / size <= price):
            raise DataError("size", f"{size} shares is too small for an immediate SELL at {price}")
        return OrderAmounts(side, _units(size), _units(usd))


def order_amounts(
    side: OrderSide, price: Decimal, size: Decimal, tick_size: Decimal, order_type: OrderType
) -> OrderAmounts:
    """The amounts the server accepts for this order type."""
    if order_type.is_marketable:
        return marketable_amounts(side, price, size, tick_size)
    return limit_amounts(side, price, size, tick_size)


# --------------------------------------------------------------------------- hashing and signing


def generate_salt() -> int:
    """A random salt in [1, 2^53): unpredictable, and exact as a JSON number."""
    return secrets.randbelow(MAX_SALT - 1) + 1


def _uint_text(value: str, field_name: str) -> int:
    if not isinstance(value, str) or not _UINT.fullmatch(value):
        raise DataError(field_name, "expected a decimal uint256 string")
    number = int(value)
    if number >= 1 << 256 or str(number) != value:
        raise DataError(field_name, "not a canonical uint256")
    return number


def order_struct_hash(
    *,
    salt: int,
    maker: str,
    signer: str,
    token_id: str,
    maker_amount: int,
    taker_amount: int,
    side: OrderSide,
    signature_type: SignatureType,
    timestamp_ms: int,
    metadata: str = BYTES32_ZERO,
    builder: str = BYTES32_ZERO,
) -> bytes:
    """``hashStruct(Order)`` for the 11-field V2/V3 order."""
    return keccak256(
        _ORDER_TYPEHASH
        + enc_uint(salt)
        + enc_address(maker)
        + enc_address(signer)
        + enc_uint(_uint_text(token_id, "token_id"))
        + enc_uint(maker_amount)
        + enc_uint(taker_amount)
        + enc_uint(side.code)
        + enc_uint(int(signature_type))
        + enc_uint(timestamp_ms)
        + enc_bytes32(metadata)
        + enc_bytes32(builder)
    )


def order_digest(struct_hash: bytes, exchange: Exchange) -> bytes:
    """The EIP-712 order hash (the value the exchange's ``hashOrder`` returns)."""
    return eip712_digest(exchange.domain_separator(), struct_hash)


def sign_order_digest(
    key: PrivateKey,
    *,
    struct_hash: bytes,
    exchange: Exchange,
    signature_type: SignatureType,
    wallet: str | None = None,
) -> str:
    """The ``signature`` field: plain ECDSA for types 0-2, the ERC-7739 envelope for type 3."""
    domain_separator = exchange.domain_separator()
    if signature_type is not SignatureType.POLY_1271:
        return key.sign_digest_hex(eip712_digest(domain_separator, struct_hash))
    if wallet is None:
        raise DataError("funder", "POLY_1271 orders need the deposit wallet address")
    envelope = keccak256(
        _TYPED_DATA_SIGN_TYPEHASH
        + struct_hash
        + _DEPOSIT_WALLET_NAME_HASH
        + _DEPOSIT_WALLET_VERSION_HASH
        + enc_uint(exchange.chain_id)
        + enc_address(wallet)
        + bytes(32)
    )
    inner = key.sign_digest(eip712_digest(domain_separator, envelope))
    type_string = ORDER_TYPE_STRING.encode()
    return "0x" + (inner + domain_separator + struct_hash + type_string + len(type_string).to_bytes(2, "big")).hex()


# --------------------------------------------------------------------------- the signed order


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """Everything needed to send — or re-send byte for byte — one signed order.

    ``body`` is the exact ``POST /order`` payload; send it as is and HMAC-sign the same bytes
    (``signing.l2_headers(signer, creds, "POST", "/order", order.body)``). ``order_hash`` is the
    EIP-712 digest of the order (what the exchange contract calls the order hash).
    """

    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: OrderSide
    signature_type: SignatureType
    timestamp_ms: int
    metadata: str
    builder: str
    expiration: int
    signature: str
    order_type: OrderType
    owner: str
    post_only: bool
    defer_exec: bool
    exchange: Exchange
    order_hash: str
    body: bytes

    @property
    def amounts(self) -> OrderAmounts:
        return OrderAmounts(self.side, self.maker_amount, self.taker_amount)

    def payload(self) -> dict[str, Any]:
        """The ``order_to_json_v2`` dict, in the official key order."""
        return _payload(
            salt=self.salt,
            maker=self.maker,
            signer=self.signer,
            token_id=self.token_id,
            maker_amount=self.maker_amount,
            taker_amount=self.taker_amount,
            side=self.side,
            expiration=self.expiration,
            signature_type=self.signature_type,
            timestamp_ms=self.timestamp_ms,
            metadata=self.metadata,
            builder=self.builder,
            signature=self.signature,
            owner=self.owner,
            order_type=self.order_type,
            defer_exec=self.defer_exec,
            post_only=self.post_only,
        )

    def to_json(self) -> str:
        """A self-checking record for the database (no secrets: the owner is the public API key)."""
        return json.dumps(
            {
                "format": _RECORD_FORMAT,
                "salt": str(self.salt),
                "maker": self.maker,
                "signer": self.signer,
                "token_id": self.token_id,
                "maker_amount": str(self.maker_amount),
                "taker_amount": str(self.taker_amount),
                "side": self.side.value,
                "signature_type": int(self.signature_type),
                "timestamp_ms": str(self.timestamp_ms),
                "metadata": self.metadata,
                "builder": self.builder,
                "expiration": str(self.expiration),
                "signature": self.signature,
                "order_type": self.order_type.value,
                "owner": self.owner,
                "post_only": self.post_only,
                "defer_exec": self.defer_exec,
                "exchange": self.exchange.address,
                "domain_version": self.exchange.domain_version,
                "chain_id": self.exchange.chain_id,
                "order_hash": self.order_hash,
                "body": self.body.decode("utf-8"),
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SignedOrder:
        """Load a stored order, refusing it unless body, hash and signature still agree."""
        try:
            raw = json.loads(text)
        except (ValueError, TypeError):
            raise DataError("signed_order", "not valid JSON") from None
        if not isinstance(raw, dict):
            raise DataError("signed_order", "expected a JSON object")
        if raw.get("format") != _RECORD_FORMAT:
            raise DataError("signed_order.format", f"unsupported format {raw.get('format')!r}")

        def text_of(name: str) -> str:
            value = raw.get(name)
            if not isinstance(value, str):
                raise DataError(f"signed_order.{name}", "missing or not a string")
            return value

        def int_of(name: str) -> int:
            return _uint_text(text_of(name), f"signed_order.{name}")

        def bool_of(name: str) -> bool:
            value = raw.get(name)
            if not isinstance(value, bool):
                raise DataError(f"signed_order.{name}", "missing or not a boolean")
            return value

        raw_signature_type = raw.get("signature_type")
        if not isinstance(raw_signature_type, int) or isinstance(raw_signature_type, bool):
            raise DataError("signed_order.signature_type", "missing or not an integer")
        try:
            side = OrderSide(text_of("side"))
            order_type = OrderType(text_of("order_type"))
            signature_type = SignatureType(raw_signature_type)
        except ValueError:
            raise DataError("signed_order", "bad side, order_type or signature_type") from None
        chain_id = raw.get("chain_id")
        if not isinstance(chain_id, int) or isinstance(chain_id, bool):
            raise DataError("signed_order.chain_id", "missing or not an integer")
        order = cls(
            salt=int_of("salt"),
            maker=to_checksum_address(text_of("maker"), "signed_order.maker"),
            signer=to_checksum_address(text_of("signer"), "signed_order.signer"),
            token_id=text_of("token_id"),
            maker_amount=int_of("maker_amount"),
            taker_amount=int_of("taker_amount"),
            side=side,
            signature_type=signature_type,
            timestamp_ms=int_of("timestamp_ms"),
            metadata=text_of("metadata"),
            builder=text_of("builder"),
            expiration=int_of("expiration"),
            signature=text_of("signature"),
            order_type=order_type,
            owner=text_of("owner"),
            post_only=bool_of("post_only"),
            defer_exec=bool_of("defer_exec"),
            exchange=Exchange(
                to_checksum_address(text_of("exchange"), "signed_order.exchange"),
                text_of("domain_version"),
                chain_id,
            ),
            order_hash=text_of("order_hash"),
            body=text_of("body").encode("utf-8"),
        )
        order.verify()
        return order

    def verify(self) -> None:
        """Recompute hash, body and signer recovery; raise :class:`DataError` on any mismatch."""
        struct_hash = order_struct_hash(
            salt=self.salt,
            maker=self.maker,
            signer=self.signer,
            token_id=self.token_id,
            maker_amount=self.maker_amount,
            taker_amount=self.taker_amount,
            side=self.side,
            signature_type=self.signature_type,
            timestamp_ms=self.timestamp_ms,
            metadata=self.metadata,
            builder=self.builder,
        )
        digest = order_digest(struct_hash, self.exchange)
        if "0x" + digest.hex() != self.order_hash:
            raise DataError("signed_order.order_hash", "does not match the order fields")
        if _serialise(self.payload()) != self.body:
            raise DataError("signed_order.body", "does not match the order fields")
        if self.salt >= MAX_SALT:
            raise DataError("signed_order.salt", "not below 2^53")
        if self.signature_type is not SignatureType.POLY_1271:
            if _recover(digest, self.signature) != self.signer:
                raise DataError("signed_order.signature", "does not recover to the signer")


def _recover(digest: bytes, signature: str) -> str | None:
    if not re.fullmatch(r"0x[0-9a-f]{130}", signature):
        return None
    raw = bytes.fromhex(signature[2:])
    if raw[64] not in (27, 28):
        return None
    try:
        from eth_keys.datatypes import Signature

        sig = Signature(vrs=(raw[64] - 27, int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")))
        return str(sig.recover_public_key_from_msg_hash(digest).to_checksum_address())
    except Exception:  # a corrupt signature simply "does not recover"
        return None


def _payload(
    *,
    salt: int,
    maker: str,
    signer: str,
    token_id: str,
    maker_amount: int,
    taker_amount: int,
    side: OrderSide,
    expiration: int,
    signature_type: SignatureType,
    timestamp_ms: int,
    metadata: str,
    builder: str,
    signature: str,
    owner: str,
    order_type: OrderType,
    defer_exec: bool,
    post_only: bool,
) -> dict[str, Any]:
    return {
        "order": {
            "salt": salt,
            "maker": maker,
            "signer": signer,
            "tokenId": token_id,
            "makerAmount": str(maker_amount),
            "takerAmount": str(taker_amount),
            "side": side.value,
            "expiration": str(expiration),
            "signatureType": int(signature_type),
            "timestamp": str(timestamp_ms),
            "metadata": metadata,
            "builder": builder,
            "signature": signature,
        },
        "owner": owner,
        "orderType": order_type.value,
        "deferExec": defer_exec,
        "postOnly": post_only,
    }


def _serialise(payload: dict[str, Any]) -> bytes:
    # Compact and in insertion order, as py_clob_client_v2 ``post_order`` sends it.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _bytes32_arg(value: str, field_name: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", value):
        raise DataError(field_name, "expected 0x + 64 hex digits")
    return value.lower()


def build_signed_order(
    key: PrivateKey,
    *,
    token_id: str,
    side: OrderSide,
    price: Decimal,
    size: Decimal,
    tick_size: Decimal,
    order_type: OrderType,
    owner: str,
    neg_risk: bool,
    protocol_v2: bool = False,
    signature_type: SignatureType = SignatureType.EOA,
    funder: str | None = None,
    expiration: int = 0,
    post_only: bool = False,
    defer_exec: bool = False,
    metadata: str = BYTES32_ZERO,
    builder: str = BYTES32_ZERO,
    salt: int | None = None,
    timestamp_ms: int | None = None,
    chain_id: int = POLYGON_CHAIN_ID,
) -> SignedOrder:
    """Build, sign and serialise one order for ``token_id`` (a position id on Protocol-V2 markets).

    ``size`` shares at limit ``price``: GTC/GTD rest at exactly that price; FOK/FAK use
    :func:`marketable_amounts` ("at least ``size`` shares for at most ``price`` each" for BUY,
    "exactly ``size`` shares for at least ``price`` each" for SELL). ``owner`` is the API key.
    """
    side = OrderSide(side)
    order_type = OrderType(order_type)
    signature_type = SignatureType(signature_type)
    _uint_text(token_id, "token_id")
    if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
        raise DataError("owner", "expected the API key (letters, digits, '-' or '_')")
    if order_type is OrderType.GTD:
        if not isinstance(expiration, int) or expiration <= 0:
            raise DataError("expiration", "GTD needs a positive unix-seconds expiration (now + 60 s + lifetime)")
    elif expiration != 0:
        raise DataError("expiration", f"only GTD orders expire; {order_type} must use 0")
    if post_only and order_type.is_marketable:
        raise DataError("post_only", f"not allowed with {order_type}")

    if signature_type is SignatureType.EOA:
        if funder is not None and to_checksum_address(funder, "funder") != key.address:
            raise DataError("funder", "an EOA order's maker is the signing key's own address")
        maker = signer = key.address
    else:
        if funder is None:
            raise DataError("funder", f"signature type {signature_type.name} needs the funder wallet address")
        maker = to_checksum_address(funder, "funder")
        signer = maker if signature_type is SignatureType.POLY_1271 else key.address

    salt = generate_salt() if salt is None else salt
    if not isinstance(salt, int) or not 0 <= salt < MAX_SALT:
        raise DataError("salt", "must be an integer in [0, 2^53)")
    timestamp_ms = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
    if not isinstance(timestamp_ms, int) or timestamp_ms <= 0:
        raise DataError("timestamp_ms", "must be a positive integer")
    metadata = _bytes32_arg(metadata, "metadata")
    builder = _bytes32_arg(builder, "builder")

    amounts = order_amounts(side, price, size, tick_size, order_type)
    exchange = exchange_for(neg_risk=neg_risk, protocol_v2=protocol_v2, chain_id=chain_id)
    struct_hash = order_struct_hash(
        salt=salt,
        maker=maker,
        signer=signer,
        token_id=token_id,
        maker_amount=amounts.maker,
        taker_amount=amounts.taker,
        side=side,
        signature_type=signature_type,
        timestamp_ms=timestamp_ms,
        metadata=metadata,
        builder=builder,
    )
    signature = sign_order_digest(
        key, struct_hash=struct_hash, exchange=exchange, signature_type=signature_type, wallet=maker
    )
    body = _serialise(
        _payload(
            salt=salt,
            maker=maker,
            signer=signer,
            token_id=token_id,
            maker_amount=amounts.maker,
            taker_amount=amounts.taker,
            side=side,
            expiration=expiration,
            signature_type=signature_type,
            timestamp_ms=timestamp_ms,
            metadata=metadata,
            builder=builder,
            signature=signature,
            owner=owner,
            order_type=order_type,
            defer_exec=defer_exec,
            post_only=post_only,
        )
    )
    return SignedOrder(
        salt=salt,
        maker=maker,
        signer=signer,
        token_id=token_id,
        maker_amount=amounts.maker,
        taker_amount=amounts.taker,
        side=side,
        signature_type=signature_type,
        timestamp_ms=timestamp_ms,
        metadata=metadata,
        builder=builder,
        expiration=expiration,
        signature=signature,
        order_type=order_type,
        owner=owner,
        post_only=post_only,
        defer_exec=defer_exec,
        exchange=exchange,
        order_hash="0x" + order_digest(struct_hash, exchange).hex(),
        body=body,
    )
