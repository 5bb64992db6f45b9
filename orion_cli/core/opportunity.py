"""A priced arbitrage: the legs to buy, what they cost with fees, and what they lock in.

An :class:`Opportunity` is immutable and self-contained: every number in it can be recomputed from
its legs' fills (price, size, fee per fill), which is what the pre-trade re-check and the tests do.
``to_record`` is the JSON contract of DESIGN §2 (``opportunity`` record); ``from_record`` reads it
back so that ``orion trade OP_ID`` can work from a stored scan.

The id is short (8 base32 characters) and stable for the same legs within one time bucket, so that
a trader who copies it from one ``scan --watch`` refresh still finds it in the next.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from orion_cli.core.errors import DataError
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import decimal_str, to_decimal

OpportunityKind = Literal["cross_venue", "within_venue"]

ID_BUCKET = timedelta(seconds=60)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Fill:
    """One planned fill: one price level consumed (each is a separate fee event on both venues)."""

    price: Decimal
    size: Decimal
    fee: Decimal


@dataclass(frozen=True, slots=True)
class Leg:
    """Buy ``size`` of ``side`` on one market, walking its ask ladder up to ``worst_price``.

    A Polymarket leg's ladder is its best ask alone (``orion_cli.core.pricing``), and so is its
    ``depth_available``. Its ``cost`` is the dollars its buy is signed for (size × that ask rounded up to
    the cent), which the venue spends in full: its one fill is the shares they buy, a little more than
    ``size`` (only ``size`` of them are hedged), and its fee is on those shares.

    ``cost`` excludes fees. ``avg_price`` is the fills' average price per contract bought, rounded up to
    1e-6 (display only; for a Kalshi leg ``cost / size``). ``worst_price`` is the limit price an IOC/FOK
    order needs.
    """

    venue: Venue
    market_id: str
    side: Side
    size: Decimal
    avg_price: Decimal
    worst_price: Decimal
    fees: Decimal
    levels_consumed: int
    depth_available: Decimal
    cost: Decimal
    fills: tuple[Fill, ...] = ()
    token_id: str = ""  # Polymarket outcome token to buy; empty for Kalshi

    @property
    def depth_fraction(self) -> Decimal:
        """Share of the ask depth the leg could take that it takes (1 = sweeps it: the whole ladder, or a
        Polymarket leg's whole best ask)."""
        if self.depth_available <= 0:
            return Decimal(0)
        return ratio_down(self.size, self.depth_available)

    def to_record(self) -> dict[str, Any]:
        return {
            "venue": self.venue.value,
            "market": self.market_id,
            "side": self.side.value,
            "size": _dec(self.size),
            "avg_price": _dec(self.avg_price),
            "worst_price": _dec(self.worst_price),
            "cost": _dec(self.cost),
            "fees": _dec(self.fees),
            "levels_consumed": self.levels_consumed,
            "depth_available": _dec(self.depth_available),
            "depth_fraction": _dec(self.depth_fraction),
            "token_id": self.token_id,
            "fills": [[_dec(f.price), _dec(f.size), _dec(f.fee)] for f in self.fills],
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Leg:
        try:
            venue = Venue(rec["venue"])
            side = Side(rec["side"])
        except (KeyError, ValueError) as exc:
            raise DataError("opportunity.legs", f"bad venue/side: {exc}") from None
        fills = tuple(
            Fill(to_decimal(p, "fills.price"), to_decimal(s, "fills.size"), to_decimal(f, "fills.fee"))
            for p, s, f in rec.get("fills", [])
        )
        return cls(
            venue=venue,
            market_id=str(rec["market"]),
            side=side,
            size=to_decimal(rec["size"], "legs.size"),
            avg_price=to_decimal(rec["avg_price"], "legs.avg_price"),
            worst_price=to_decimal(rec["worst_price"], "legs.worst_price"),
            fees=to_decimal(rec["fees"], "legs.fees"),
            levels_consumed=int(rec.get("levels_consumed", len(fills))),
            depth_available=to_decimal(rec.get("depth_available", "0"), "legs.depth_available"),
            cost=to_decimal(rec.get("cost", "0"), "legs.cost"),
            fills=fills,
            token_id=str(rec.get("token_id", "")),
        )


@dataclass(frozen=True, slots=True)
class Opportunity:
    """Buy every leg in equal shares; exactly one leg pays $1 per share at settlement.

    Per-contract figures (``gross_edge``, ``net_edge``) and ratios are rounded *down* to 1e-6 so a
    displayed edge never overstates the exact one; the dollar totals are exact.
    """

    id: str
    kind: OpportunityKind
    legs: tuple[Leg, ...]
    size: Decimal
    cost: Decimal
    fees: Decimal
    gross_edge: Decimal
    net_edge: Decimal
    gross_profit: Decimal
    net_profit: Decimal
    return_on_capital: Decimal
    annualized_return: Decimal | None
    # The latest of the legs' close times: the capital is tied up until every leg settles, so it is the
    # horizon of ``annualized_return``. (The scan prices no market past its close time: at ``observed_at``
    # every leg's market is still open.)
    close_time: datetime | None
    quote_age_seconds: Decimal
    depth_consumed: Decimal
    observed_at: datetime
    expires_at: datetime
    pair_key: str
    strategy: str = ""  # cross_direct | cross_inverted | yes_no | neg_risk
    title: str = ""
    event_id: str = ""

    @property
    def capital(self) -> Decimal:
        """Cash that leaves the account: cost plus fees."""
        return self.cost + self.fees

    def to_record(self) -> dict[str, Any]:
        """DESIGN §2 ``opportunity`` record: Decimals as strings, UTC times with ``Z``."""
        return {
            "type": "opportunity",
            "v": 1,
            "id": self.id,
            "kind": self.kind,
            "strategy": self.strategy,
            "pair_key": self.pair_key,
            "event_id": self.event_id,
            "title": self.title,
            "legs": [leg.to_record() for leg in self.legs],
            "size": _dec(self.size),
            "cost": _dec(self.cost),
            "fees": _dec(self.fees),
            "gross_edge": _dec(self.gross_edge),
            "net_edge": _dec(self.net_edge),
            "gross_profit": _dec(self.gross_profit),
            "net_profit": _dec(self.net_profit),
            "return_on_capital": _dec(self.return_on_capital),
            "annualized_return": None if self.annualized_return is None else _dec(self.annualized_return),
            "close_time": None if self.close_time is None else iso_z(self.close_time),
            "quote_age_seconds": _dec(self.quote_age_seconds),
            "depth_consumed": _dec(self.depth_consumed),
            "observed_at": iso_z(self.observed_at),
            "expires_at": iso_z(self.expires_at),
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Opportunity:
        """Inverse of :meth:`to_record`; raises :class:`DataError` naming the bad field."""
        if rec.get("type") != "opportunity":
            raise DataError("type", f"expected 'opportunity', got {rec.get('type')!r}")
        kind = rec.get("kind")
        if kind not in ("cross_venue", "within_venue"):
            raise DataError("kind", f"unknown opportunity kind {kind!r}")
        try:
            legs = tuple(Leg.from_record(leg) for leg in rec["legs"])
        except KeyError as exc:
            raise DataError("legs", f"missing {exc}") from None

        def dec(name: str) -> Decimal:
            return to_decimal(rec.get(name), name, allow_negative=True)

        ann = rec.get("annualized_return")
        close = rec.get("close_time")
        return cls(
            id=str(rec["id"]),
            kind=kind,
            legs=legs,
            size=dec("size"),
            cost=dec("cost"),
            fees=dec("fees"),
            gross_edge=dec("gross_edge"),
            net_edge=dec("net_edge"),
            gross_profit=dec("gross_profit"),
            net_profit=dec("net_profit"),
            return_on_capital=dec("return_on_capital"),
            annualized_return=None if ann is None else to_decimal(ann, "annualized_return", allow_negative=True),
            close_time=None if close is None else parse_iso_z(close, "close_time"),
            quote_age_seconds=dec("quote_age_seconds"),
            depth_consumed=dec("depth_consumed"),
            observed_at=parse_iso_z(rec.get("observed_at"), "observed_at"),
            expires_at=parse_iso_z(rec.get("expires_at"), "expires_at"),
            pair_key=str(rec.get("pair_key", "")),
            strategy=str(rec.get("strategy", "")),
            title=str(rec.get("title", "")),
            event_id=str(rec.get("event_id", "")),
        )


def not_a_pair(legs: int) -> str | None:
    """Why an opportunity of ``legs`` legs cannot be executed, or None when it can.

    Scan prices complete neg-risk baskets of any size, but the executor sends two legs, the second
    sized by the first's fill, and unwinds one against the other; a basket of three or more has no
    such order. The checks refuse it (INVALID_ORDER, exit 6, audited) and ``trade --watch`` skips it,
    where it used to end in an internal error at ``--confirm``, before even the kill switch was asked.
    """
    if legs == 2:
        return None
    return (f"orion executes two-leg opportunities only; this one has {legs} legs (a basket): "
            "trade it at the venue by hand")


# An id as `orion scan` prints it is 8 letters and digits (:func:`opportunity_id`); twice that is
# allowed, so an id of another form in a ledger is still found, and nothing longer or of other characters.
OPPORTUNITY_ID_MAX = 16


def opportunity_id_problem(text: str) -> str | None:
    """Why ``text`` (surrounding blanks aside) cannot be an opportunity id, or None; said of it as given,
    cut when long (:func:`orion_cli.core.plain_text.shown_text`)."""
    from orion_cli.core.plain_text import shown_text

    given = text.strip()
    if not given:
        why = "it is empty"
    elif len(given) > OPPORTUNITY_ID_MAX:
        why = (f"it is {len(given)} characters long, and an id is at most {OPPORTUNITY_ID_MAX} (`orion scan` prints "
               "8)")
    elif given.isascii() and given.isalnum():
        return None
    else:
        at = next(i for i, c in enumerate(given) if not (c.isascii() and c.isalnum()))
        why = f"{given[at]!r} at character {at + 1} is not a letter or a digit, which an id is made of"
    return f"{shown_text(text)} is not an opportunity id: {why}"


def opportunity_id(kind: str, legs: tuple[tuple[str, str, str], ...], now: datetime, *, source: str = "") -> str:
    """8 base32 characters of SHA-256 over kind, the (venue, market, side) legs, a minute bucket and, when
    given, the data ``source`` (:func:`orion_cli.core.scan.scan` gives it).

    Leg order does not matter; size and price do not enter, so a re-priced opportunity on the same
    legs keeps its id within the bucket (the stored record is then the latest pricing). The source does:
    a scan of the demo data and one of a snapshot in the same minute gave one id, and the second's stored
    opportunity replaced the first's, whose `trade ID --demo` was then refused as another data's.
    """
    bucket = (now - _EPOCH) // ID_BUCKET
    text = "|".join([kind, *sorted(":".join(leg) for leg in legs), str(bucket), *([source] if source else [])])
    digest = hashlib.sha256(text.encode()).digest()
    return base64.b32encode(digest).decode("ascii")[:8].lower()


def iso_z(dt: datetime) -> str:
    """ISO-8601 in UTC with microseconds and a ``Z`` suffix, as every time orion prints (naive datetimes are
    refused: they are a bug). A close time on the whole second lost its fraction beside an ``observed_at``
    that had one, so a script's one parse format failed on one of them (found in review)."""
    if dt.tzinfo is None:
        raise DataError("time", "naive datetime (timezone-aware UTC required)")
    return dt.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso_z(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise DataError(field, "missing timestamp")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DataError(field, f"not an ISO-8601 time: {value[:40]!r}") from None
    if dt.tzinfo is None:
        raise DataError(field, "timestamp without timezone")
    return dt.astimezone(UTC)


_RATIO_STEP = Decimal("0.000001")
# The precision of an edge per contract (scan's and the plan's, and so `orion report`'s realised edge).
EDGE_STEP = _RATIO_STEP


def ratio_down(num: Decimal, den: Decimal) -> Decimal:
    """num / den rounded toward zero to 1e-6 (never overstate an edge or a return)."""
    return (num / den).quantize(_RATIO_STEP, rounding=ROUND_DOWN)


def _dec(value: Decimal) -> str:
    """Exact, exponent-free, without trailing zeros ("1.560000" → "1.56")."""
    return decimal_str(value.normalize()) if value != 0 else "0"
