"""Per-venue trading fee models, exact to the venue's rounding.

Kalshi: ``ceil_to_$0.0001(multiplier × rate × C × P × (1−P))`` per fill; taker rate 0.07, maker
rate 0.0175 only on series whose fee type charges makers. Polymarket: ``C × rate ×
(P × (1−P))^exponent`` per fill, taker only, amounts floored to 5 decimals as the on-chain fills
show. Fees are computed per fill because Kalshi rounds each fill up: walking several price levels
costs more than one big fill at the average price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from orion_cli.core.errors import DataError
from orion_cli.core.money import BASIS, ONE, ZERO, ceil_to, floor_to

KALSHI_TAKER_RATE = Decimal("0.07")
KALSHI_MAKER_RATE = Decimal("0.0175")
POLY_FEE_STEP = Decimal("0.00001")

FeeKind = Literal["kalshi", "polymarket", "free"]

# Said with a market refused for its fee type: the refusal's exit 5 reads as an outage to wait out, but
# the venue will send the same type on every try.
FEE_NOT_MODELLED_HINT = ("orion has no formula for this fee type, so it cannot price the market and retrying "
                         "will not help: trade another pair, or upgrade orion if a newer release models it")


class FeeNotModelled(DataError):
    """A Kalshi fee type orion has no formula for (``flat``, an unknown or empty one): the venue's data,
    read as sent, which no retry changes; told apart from junk so the refusal can say so."""


@dataclass(frozen=True, slots=True)
class FeeModel:
    """How one market charges fees. Build with :meth:`kalshi`, :meth:`polymarket` or :meth:`free`."""

    kind: FeeKind
    taker_rate: Decimal
    maker_rate: Decimal = ZERO
    multiplier: Decimal = ONE
    exponent: int = 1
    source: str = ""  # e.g. "series KXNBA fee_type=quadratic", for `orion book` and audit

    @classmethod
    def kalshi(cls, fee_type: str = "quadratic", multiplier: Decimal = ONE, source: str = "") -> FeeModel:
        """Kalshi's quadratic series fee types: quadratic, quadratic_with_maker_fees, _combo_.

        Any other type fails (fail closed): ``flat`` is the fee schedule's "Specific Trading Fees"
        table, whose rates the API does not carry, and an empty or unknown type says nothing.
        """
        if multiplier < 0:
            raise DataError("fee_multiplier", f"negative value {multiplier}")
        maker = ZERO
        if fee_type == "quadratic_with_maker_fees":
            maker = KALSHI_MAKER_RATE
        elif fee_type == "quadratic_with_combo_maker_fees":
            maker = KALSHI_TAKER_RATE / 2
        elif fee_type == "flat":
            raise FeeNotModelled("fee_type", "'flat' (the Specific Trading Fees table) is not modelled: fee unknown")
        elif fee_type != "quadratic":
            raise FeeNotModelled("fee_type", f"unknown Kalshi fee type {fee_type!r}")
        label = source or f"fee_type={fee_type}"
        return cls("kalshi", KALSHI_TAKER_RATE, maker, multiplier, 1, label)

    @classmethod
    def polymarket(cls, rate: Decimal, exponent: int = 1, source: str = "") -> FeeModel:
        """Polymarket's per-market ``feeSchedule`` (taker only)."""
        if rate < 0 or rate > ONE:
            raise DataError("feeSchedule.rate", f"out of range: {rate}")
        if exponent < 0 or exponent > 8:
            raise DataError("feeSchedule.exponent", f"out of range: {exponent}")
        return cls("polymarket", rate, ZERO, ONE, exponent, source or f"rate={rate} exponent={exponent}")

    @classmethod
    def free(cls, source: str = "fee-free") -> FeeModel:
        return cls("free", ZERO, ZERO, ONE, 1, source)

    def fill_fee(self, contracts: Decimal, price: Decimal, *, taker: bool = True) -> Decimal:
        """The fee in dollars for one fill of ``contracts`` at ``price`` (0 < price < 1)."""
        if contracts <= 0:
            return ZERO
        rate = self.taker_rate if taker else self.maker_rate
        if rate == 0 or self.kind == "free":
            return ZERO
        variance = price * (ONE - price)
        if self.kind == "kalshi":
            return ceil_to(self.multiplier * rate * contracts * variance, BASIS)
        return floor_to(contracts * rate * variance**self.exponent, POLY_FEE_STEP)
