"""``orion trade``: show a stored opportunity's plan and every check's verdict, or execute it.

Shape (one command, two uses):

* ``orion trade OP_ID [--size N] [--idempotency-key K] [--demo | --snapshot F]`` — re-reads both
  books, builds the plan and runs every pre-trade check inside a transaction that is rolled back:
  nothing is placed, nothing is written, exit 0. On a terminal, when no check refuses the plan, it
  then offers "Place these orders?". A used key is not planned afresh: the preview shows its
  execution and what --confirm will do (report it, resume it by its stored plan, or refuse it: at the
  live gate, which --confirm asks first, or as another opportunity's or process's; while
  halted, unwind it: a halt sends no further buy, so the filled leg is sold back), and on a terminal
  offers "Resume it?" for an unfinished one.
* ``orion trade OP_ID --confirm [--live --authorize-live]`` — executes both legs (paper unless the
  live gate of :mod:`orion_cli.core.gate` authorizes live trading). Exit 0 done, 6 refused by a
  safeguard (the failing check is named), 5 a venue unreachable, 4 a venue refused orion's
  credentials for an order (after the unwind it called for), or for a read before the first order
  (a balance, Kalshi's exchange status; nothing sent). A re-run of a used idempotency key sends
  nothing and exits as its execution ended: 0 only for one that ended done.
  Ctrl-C, SIGTERM or SIGHUP before anything is sent stops with nothing placed (exit 130); once the
  executor has started, it waits until the execution is finished and recorded (then exit 130, or
  the execution's own non-zero code); once the outcome is decided and recorded (the wait for alerts
  at exit), a stop changes no exit code: the execution's own (0 for done).
* ``orion trade --watch SECONDS [--max-trades N]`` — the auto-execute loop: scan, trade the best
  opportunities within the limits, repeat. Off unless asked; stops on a halt, a breaker trip or a
  geoblock (exit 6, with the reason and hint a single trade's refusal has), after an order a venue
  refused for orion's credentials or such a refusal of a read before one (exit 4, as a single trade
  ends; an outage there skips the round) and on Ctrl-C, SIGTERM or SIGHUP
  (exit 130) after finishing the execution in flight. A refused opportunity is refused (and
  audited) once, then skipped while the check that refused it would refuse it again.

The default idempotency key is ``op-<OP_ID>``: one stored opportunity is executed at most once unless
another ``--idempotency-key`` is given. A recorded source (``--demo``/``--snapshot``) is paper only
(a live flag beside it is exit 2); its books are replayed as the current books (re-stamped now), since
they *are* that world's market. An opportunity is traded on the kind of data it was scanned from (a used
key: its execution's), else exit 2 before any request (:func:`_refuse_other_data`).

Test hook: ``ORION_TRADE_STOP_AFTER_GATE=1`` stops right after the live gate and its
``live.authorized`` audit event, before any book is read or any venue contacted (rehearse the gate).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from orion_cli.cli.commands.market_data import DemoOpt, SnapshotOpt, announce, open_source, source_flags
from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.output import Column, stream_is_tty
from orion_cli.cli.params import decimal_value, finite, shown_option
from orion_cli.cli.stopping import StopFlag, flush_alerts, pause_point
from orion_cli.core.aio import all_or_none
from orion_cli.core.errors import (
    REJECTED_HINT,
    AuthError,
    ConfigError,
    ExitCode,
    Halted,
    NotFound,
    OrionError,
    Refused,
    SecretsError,
    StorageError,
    VenueError,
)
from orion_cli.core.plain_text import plural

if TYPE_CHECKING:
    from orion_cli.cli.live_venues import LazyStore
    from orion_cli.core.alert_sink import AlertSink
    from orion_cli.core.alerts import LowBalanceWatch, Outcome
    from orion_cli.core.config import Settings
    from orion_cli.core.gate import Authorization
    from orion_cli.core.models import Market, OrderBook, Venue
    from orion_cli.core.opportunity import Leg, Opportunity
    from orion_cli.execution.executor import ExecutionResult
    from orion_cli.execution.plan import CheckResult, TradePlan, Verdict
    from orion_cli.execution.state import ExecStatus
    from orion_cli.risk.breaker import Breaker
    from orion_cli.risk.checks import PipelineContext
    from orion_cli.risk.halt import HaltStatus, KillSwitch
    from orion_cli.store.ledger import TradingDay
    from orion_cli.venues.base import MarketData, MarketSource
    from orion_cli.venues.trading import Balance, TradingVenue

STOP_AFTER_GATE_ENV = "ORION_TRADE_STOP_AFTER_GATE"
MISSING_CREDENTIALS_HINT = "store them with `orion secrets encrypt`"
WATCH_MISSING_CREDENTIALS_HINT = ("store them with `orion secrets encrypt`, or disable the venue "
                                  "(kalshi.enabled / polymarket.enabled = false)")
MAX_KEY = 64  # the executions table's key column

LEG_COLUMNS = [
    Column("venue", "venue"),
    Column("market", "market"),
    Column("side", "side"),
    Column("size", "size", "right"),
    Column("limit_price", "limit", "right"),
    Column("avg_price", "avg price", "right"),
    Column("cost", "cost", "right"),
    Column("fees", "fees", "right"),
]
PLAN_COLUMNS = [
    Column("opportunity_id", "opportunity"),
    Column("key", "idempotency key"),
    Column("mode", "mode"),
    Column("size", "size (each leg)", "right"),
    Column("cost", "cost", "right"),
    Column("fees", "fees", "right"),
    Column("net_edge", "net edge/ct", "right"),
    Column("quoted_net_edge", "quoted edge/ct", "right"),
    Column("net_profit", "net profit", "right"),
]
CHECK_COLUMNS = [
    Column("verdict", "verdict"),
    Column("name", "check"),
    Column("leg", "leg", "right"),
    Column("detail", "detail"),
]
EXECUTION_COLUMNS = [
    Column("key", "key"),
    Column("status", "status"),
    Column("message", "message"),
]
ORDER_COLUMNS = [
    Column("venue", "venue"),
    Column("market", "market"),
    Column("side", "side"),
    Column("status", "status"),
    Column("size", "size", "right"),
    Column("filled_size", "filled", "right"),
    Column("avg_fill_price", "avg fill", "right"),
    Column("fees", "fees", "right"),
]
WATCH_COLUMNS = [
    Column("ts", "time"),
    Column("event", "event"),
    Column("text", "detail"),
]

ZERO = Decimal(0)


# -- small helpers ---------------------------------------------------------------------------------


MAX_SIZE_OPTION = Decimal(10) ** 9


def _size_option(value: str | None) -> Decimal | None:
    if value is None:
        return None
    d = decimal_value(value, "--size")
    if d <= 0:
        raise typer.BadParameter(f"{shown_option(value)} must be a finite number > 0", param_hint="--size")
    if d > MAX_SIZE_OPTION:  # beyond any book; and 1e400 is beyond what a Decimal rounds (an internal error)
        raise typer.BadParameter(f"{shown_option(value)} is more than {MAX_SIZE_OPTION:,} contracts",
                                 param_hint="--size")
    return d


def default_key(opportunity_id: str) -> str:
    """One execution per stored opportunity unless the operator names another key."""
    return f"op-{opportunity_id.strip().lower()}"


@dataclasses.dataclass(frozen=True, slots=True)
class LimitedSize:
    """A new trade's default size: the scanned size, or, when an order limit cuts it, the most that
    limit allows on the legs' size step (:func:`size_within_limits`)."""

    scanned: Decimal
    size: Decimal | None  # None: the limits allow less than the smallest size the legs trade
    binding: str | None = None  # the limit cutting the scanned size, "order_contracts" or "order_notional"
    limit: Decimal = ZERO  # that limit's value
    allowed: Decimal = ZERO  # the most it allows, floored to the legs' size step
    smallest: Decimal = ZERO  # the smallest size the legs trade (one size step, or a market's minimum)
    step: Decimal = ZERO  # the legs' size step

    @property
    def reason(self) -> str:
        """The check that refuses a trade none of whose sizes fits: the binding limit's."""
        return (self.binding or "order_notional").upper()

    def cut_note(self) -> str:
        """Said when the limit cuts the scanned size."""
        from orion_cli.store.tables import plain

        return (f"size {plain(self.allowed)} (scanned {plain(self.scanned)}, capped by {self._limit()}; "
                "--size to choose)")

    def unfit_note(self, op_id: str) -> str:
        """Why no size of ``op_id`` fits the limits."""
        from orion_cli.store.tables import plain

        if self.allowed <= 0:
            return (f"{self._limit()} allows less than one size step ({plain(self.step)}) of {op_id} at the "
                    "scanned prices")
        return (f"{self._limit()} allows {plain(self.allowed)} {plural(self.allowed, 'contract')} of {op_id} at the "
                f"scanned prices, below the smallest size its legs trade ({plain(self.smallest)})")

    def _limit(self) -> str:
        from orion_cli.store.tables import plain

        value = f"${plain(self.limit)}" if self.binding == "order_notional" else f"{plain(self.limit)}"
        return f"limits.{self.binding} {value}"


def scanned_size_fits(op: Opportunity, settings: Settings) -> bool:
    """Whether the scanned size fits ORDER_CONTRACTS and ORDER_NOTIONAL: each leg's cash out at its limit
    (worst) price with its scanned fees, by the check's own figure (:func:`order_cash_out`: rounded up to
    the cent)."""
    from orion_cli.core.models import order_cash_out

    limits = settings.limits
    return op.size <= limits.order_contracts and all(
        order_cash_out(leg.venue, op.size, leg.worst_price, leg.fees) <= limits.order_notional for leg in op.legs)


def scanned_cash_out(leg: Leg, market: Market, size: Decimal) -> Decimal:
    """The cash out ORDER_NOTIONAL counts for a buy of ``size`` of ``leg`` at the scanned prices: the
    plan's own figures for it (:func:`costed_buy`: the limit and fees of the cheapest levels ``size``
    takes of those the scan walked, each its own fill) through :func:`order_cash_out`, as the check.

    Not the scanned size's fee per contract: the cheapest levels can cost more in fees per contract
    (Kalshi's fee is highest at 0.5), and a size so cut was then refused by ORDER_NOTIONAL. A stored
    opportunity without its fills (an earlier build's) is walked at its worst price.
    """
    from orion_cli.core.models import PriceLevel, order_cash_out
    from orion_cli.execution.executor import costed_buy

    asks = [PriceLevel(f.price, f.size) for f in leg.fills]
    walked = sum((f.size for f in leg.fills), ZERO)
    if walked < size:
        asks.append(PriceLevel(leg.worst_price, size - walked))
    limit, _, fees, _ = costed_buy(market, asks, size)
    return order_cash_out(leg.venue, size, limit, fees)


def order_limit_cap(op: Opportunity, settings: Settings, markets: Sequence[Market],
                    grid: Decimal) -> tuple[Decimal, str | None]:
    """The most of ``op`` on ``grid`` (the legs' size step) that ORDER_CONTRACTS and ORDER_NOTIONAL allow
    on every leg at the scanned prices, and which of them binds (None: neither cuts the scanned size).

    ORDER_NOTIONAL is judged by :func:`scanned_cash_out`, the check's figure, which grows with the size:
    the largest size that fits is found by bisection on the grid, so one step more does not fit.
    ``markets``: the legs' markets (their fee models).
    """
    from orion_cli.core.errors import DataError
    from orion_cli.core.money import floor_to

    limits = settings.limits
    by_key = {(m.venue, m.id): m for m in markets}
    try:
        legs = [(leg, by_key[(leg.venue, leg.market_id)]) for leg in op.legs]
    except KeyError as exc:
        raise DataError("markets", f"no market for leg {exc.args[0]}") from None

    def fits(n: int) -> bool:
        return all(scanned_cash_out(leg, m, n * grid) <= limits.order_notional for leg, m in legs)

    most = floor_to(min(limits.order_contracts, op.size), grid)
    hi = int(most / grid)
    if fits(hi):
        return most, "order_contracts" if limits.order_contracts < op.size else None
    lo = 0  # fits (a size of 0 takes nothing); hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo * grid, "order_notional"


def size_within_limits(op: Opportunity, settings: Settings,
                       markets: Callable[[], Sequence[Market]]) -> LimitedSize:
    """The default size of a new trade of ``op``: the scanned size when it fits limits.order_contracts
    and limits.order_notional, else the most the binding limit allows on the legs' size step (the grid
    the scan and the plan size on: the lcm of the markets' size steps) at the scanned prices, by the
    checks' own figures (:func:`order_limit_cap`), or no size when that is below the smallest size the
    legs trade (one step, or a market's minimum order).

    ``markets``: the legs' markets, asked for only when a limit binds (their size steps and fee models
    are not stored with the opportunity).
    """
    from orion_cli.core.money import ceil_to
    from orion_cli.core.pricing import size_grid

    if scanned_size_fits(op, settings):
        return LimitedSize(op.size, op.size)
    legs = markets()
    grid = size_grid([m.size_step for m in legs])
    allowed, binding = order_limit_cap(op, settings, legs, grid)
    if binding is None:
        return LimitedSize(op.size, op.size)
    smallest = max(grid, ceil_to(max(m.min_size for m in legs), grid))
    limit = settings.limits.order_notional if binding == "order_notional" else settings.limits.order_contracts
    return LimitedSize(op.size, allowed if allowed >= smallest else None, binding, limit, allowed, smallest, grid)


def short_of_venue_minimum(op: Opportunity, size: Decimal) -> str | None:
    """Why ``size`` of ``op`` would spend less than a venue takes for an immediate buy, or None.

    The limits can cap a trade below Polymarket's $1 minimum (5 x 0.15 under a $5 order notional);
    INVALID_ORDER would refuse it, and ``--watch`` would try it again every round. The price is the
    scanned ladder walked to ``size``: the limit a plan on the same books would carry.
    """
    from orion_cli.core.models import POLYMARKET_MIN_MARKETABLE_BUY, Venue, polymarket_buy_short_of_minimum

    for leg in op.legs:
        if leg.venue is not Venue.POLYMARKET:
            continue
        walked, price = ZERO, leg.worst_price
        for fill in leg.fills:
            walked += fill.size
            if walked >= size:
                price = fill.price
                break
        spend = polymarket_buy_short_of_minimum(size, price)
        if spend is not None:
            return (f"{size} {plural(size, 'contract')} (what the order limits allow) at <= {price} spend {spend} on "
                    f"Polymarket, below its {POLYMARKET_MIN_MARKETABLE_BUY} dollar minimum for an immediate buy")
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def data_flags(source: MarketSource) -> str:
    """The data flags (``" --demo"``, ``" --snapshot FILE"``, ``""`` for the live books) of a trade reading
    ``source``, the snapshot's path made absolute: recorded with each execution, so that the command
    resuming it, named later from anywhere (`orion resume` has no data flags to borrow), reads the
    same books."""
    from orion_cli.venues.snapshot import DEMO_LABEL, SnapshotSource

    inner = source.inner if isinstance(source, ReplaySource) else source
    if not isinstance(inner, SnapshotSource):
        return ""
    return source_flags(None, True) if inner.name == DEMO_LABEL else source_flags(inner.path.absolute(), False)


class ReplaySource:
    """A recorded source whose books are served as the current books of that (recorded) world.

    Paper trading on ``--demo``/``--snapshot`` fills against these very books, so their age is the
    recording's, not the market's; without re-stamping every check on quote age would refuse.
    """

    def __init__(self, inner: MarketSource) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def recorded_at(self) -> datetime | None:
        """When the recording was made: its markets are judged open or closed then (MarketData.market_clock),
        by the checks as by the scan that offered them."""
        capture = getattr(self.inner, "capture", None)
        return capture().recorded_at if callable(capture) else None

    async def fetch(self, venues: Sequence[Venue] | None = None, *, with_books: bool = True,
                    limit: int | None = None, progress: Any = None) -> MarketData:
        from orion_cli.venues.base import ALL_VENUES

        data = await self.inner.fetch(venues or ALL_VENUES, with_books=with_books, limit=limit, progress=progress)
        now = _now()
        data.books = {k: dataclasses.replace(b, fetched_at=now) for k, b in data.books.items()}
        return data

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        market, book = await self.inner.book(ref, venue=venue, with_fees=with_fees)
        return market, dataclasses.replace(book, fetched_at=_now())


def _recorded(snapshot: Path | None, demo: bool) -> bool:
    return snapshot is not None or demo


RECORDED_IS_PAPER = "--demo and --snapshot are paper only"


def _refuse_live_on_recorded(pre_mode: str, authorize_live: bool, snapshot: Path | None, demo: bool) -> None:
    """Recorded data (``--demo``, ``--snapshot``) is paper only: a live flag beside it contradicts it (exit
    2, before anything is read, written or audited). ``--authorize-live`` too: the gate would refuse it as
    half the flag pair (exit 6, "pass --live"), and adding --live is refused here. Half of the environment
    pair is the gate's refusal (exit 6) as anywhere, audited in the paper ledger (:func:`run_gate`)."""
    if not _recorded(snapshot, demo):
        return
    if pre_mode == "live":
        raise typer.BadParameter(f"live trading reads the live venues; {RECORDED_IS_PAPER}",
                                 param_hint="--demo/--snapshot")
    if authorize_live:
        raise typer.BadParameter(f"--authorize-live authorizes live trading, which reads the live venues; "
                                 f"{RECORDED_IS_PAPER}", param_hint="--authorize-live")


def _data_of_flags(flags: str) -> tuple[str, str]:
    """The kind (``live``, ``demo``, ``snapshot``) of the data ``flags`` (:func:`source_flags`) read, and its words."""
    if not flags:
        return "live", "the live venues' books"
    if flags == " --demo":
        return "demo", "the demo data set"
    return "snapshot", f"the snapshot{flags.removeprefix(' --snapshot')}"


def scanned_flags(scanned_from: str) -> str:
    """The data flags reading the data an opportunity was scanned from, by the source name stored with it
    (the demo set's label, ``snapshot PATH``, else the live venues)."""
    from orion_cli.venues.snapshot import DEMO_LABEL

    if scanned_from == DEMO_LABEL:
        return source_flags(None, True)
    if scanned_from.startswith("snapshot "):
        return source_flags(Path(scanned_from.removeprefix("snapshot ")), False)
    return ""


def _refuse_other_data(op: Opportunity, scanned_from: str, prior: Mapping[str, Any] | None,
                       snapshot: Path | None, demo: bool, mode: str = "paper", *, asked_live: bool = False) -> None:
    """A trade of ``op`` on other data than it was priced on (exit 2, before any request or write).

    Found by a contract reviewer: an id from `orion scan --demo` traded without --demo went to the live
    venues (4 retries, then exit 5, "the venue may be down"); the reverse planned a live opportunity on
    the demo books. The opportunity records the source it was scanned from; a used key, the data flags
    its execution was traded on, which its resume must read again. Only the kind of data is compared:
    a snapshot's path is the one typed then, relative to another working directory perhaps. A key an
    execution of another opportunity holds says nothing of this one's data (review: its data sent the
    operator to flags this opportunity was never priced on); DUPLICATE refuses that key later.

    In live ``mode`` recorded data is no fix: "add --demo" to a live trade was refused as "--demo and
    --snapshot are paper only" (review: the hint and the refusal sent the operator in a loop). The hint
    says the opportunity came from recorded data and that live trading needs one scanned from the live
    venues. So does ``asked_live`` (a live flag given, --authorize-live alone too, whose gate refuses later):
    "add --demo" beside it is refused as paper only (review: a hint leading to another usage error)."""
    from orion_cli.execution.state import recorded_source_flags

    if prior is not None and prior["opportunity_id"] != op.id:
        prior = None
    recorded = recorded_source_flags(prior["plan"]) if prior is not None else None
    expected = scanned_flags(scanned_from) if recorded is None else recorded
    given = source_flags(snapshot, demo)
    (want, want_words), (have, have_words) = _data_of_flags(expected), _data_of_flags(given)
    if want == have:
        return
    what = (f"opportunity {op.id} was scanned from {want_words}" if prior is None or recorded is None
            else f"execution {prior['key']} of {op.id} was traded on {want_words}")
    flag = given.split()[0] if given else ""
    fix = (f"add{expected}" if have == "live" else f"leave out {flag}" if want == "live"
           else f"use{expected} instead of {flag}")
    if (mode == "live" or asked_live) and want != "live":  # recorded data is paper only: its flag is refused
        fix = (f"that is recorded data, which is paper only; live trading needs an opportunity scanned from the "
               f"live venues: run `orion scan` (without {expected.split()[0]}) and trade an id from its output")
    from orion_cli.core.errors import UsageError

    raise UsageError(f"{what}, and this trade would read {have_words}, where it was never priced; nothing "
                     "was read or sent", hint=f"it was {'scanned from' if recorded is None else 'traded on'} "
                                               f"{want_words}: {fix}", reason="other_data")


# -- venues ------------------------------------------------------------------------------------------


class VenueSet:
    """The trading venues of one run, paper or live; live clients are closed when the run ends.

    Live clients are built by :func:`orion_cli.cli.live_venues.live_venues` from the command's one
    secret store (``secrets``), afresh for each event loop: nothing revealed is kept in between.
    """

    def __init__(self, app: AppContext, mode: str, source: MarketSource, venues: Sequence[Venue],
                 secrets: LazyStore | None) -> None:
        self.app = app
        self.mode = mode
        self.source = source
        self.wanted = tuple(dict.fromkeys(venues))
        self.secrets = secrets
        self.venues: dict[Venue, TradingVenue] = {}
        # The venues whose balance read refused orion's credentials, with that refusal: a trade raises it
        # before anything is sent (exit 4, it stops a watch), where the BALANCE check would blame the balance.
        self.rejected: dict[Venue, AuthError] = {}

    def build(self) -> dict[Venue, TradingVenue]:
        if not self.venues:
            if self.mode == "paper":
                from orion_cli.venues.paper import PaperVenue

                self.venues = {v: PaperVenue(v, self.app.db(), self.source, self.app.settings()) for v in self.wanted}
            else:
                from orion_cli.cli.live_venues import live_venues

                assert self.secrets is not None
                self.venues = live_venues(self.app.settings(), self.secrets.get(), list(self.wanted),
                                          missing_hint=MISSING_CREDENTIALS_HINT, warn=self.app.out.warn)
        return self.venues

    async def aclose(self) -> None:
        for tv in self.venues.values():
            closer = getattr(tv, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
        self.venues = {}

    async def balances(self, *, write: bool) -> dict[Venue, Balance | None]:
        """Per venue; ``None`` when unknown (the BALANCE check then refuses). Paper previews write nothing,
        and read the figure ``--confirm`` would use: the paper ledger's, current as of now."""
        from orion_cli.core.errors import OrionError, StorageError
        from orion_cli.venues.trading import Balance as Bal

        out: dict[Venue, Balance | None] = {}
        if self.mode == "paper" and not write:
            from orion_cli.store.ledger import Ledger

            ledger = Ledger(self.app.db(), "paper")
            p = self.app.settings().paper
            for v in self.wanted:
                bal = ledger.balance(v)
                if bal is None:
                    start = p.kalshi_balance if v.value == "kalshi" else p.polymarket_balance
                    out[v] = Bal(v, "paper", start, ZERO, start, _now(), source="ledger")
                else:  # as PaperVenue.balance(): the paper venue's figure is the ledger's, never stale
                    out[v] = Bal(v, "paper", bal.available, bal.reserved, bal.total, _now(), source="ledger")
            return out
        for v, tv in self.build().items():
            try:
                out[v] = await tv.balance()
            except StorageError:
                # The ledger's own database (the paper venue's book is its ledger), not a venue: exit 3 at
                # once. Taken for a balance unknown, a ledger held by another writer was waited on again for
                # the second venue, the configuration and the checks: four times busy_timeout_ms (review).
                raise
            except OrionError as exc:
                self.app.out.warn(f"{v.value} balance unknown: {exc.message}")
                out[v] = None
                if isinstance(exc, AuthError):
                    self.rejected[v] = exc
        return out


# -- the plan ------------------------------------------------------------------------------------------


async def fresh_books(source: MarketSource, op: Opportunity) -> dict[tuple[Venue, str], tuple[Market, OrderBook]]:
    """Re-read every leg's market and book (concurrently) just before planning.

    A leg whose side's book could not be read (a Polymarket token's book the CLOB did not answer, or
    answered unreadable, while the other token's read) is the venue's fault, exit 5, as a book that
    cannot be read at all: its empty side would otherwise plan as a book with no depth."""
    keys = list(dict.fromkeys((leg.venue, leg.market_id) for leg in op.legs))
    results = await all_or_none(source.book(m, venue=v) for v, m in keys)
    fresh = dict(zip(keys, results, strict=True))
    for leg in op.legs:
        unread = fresh[(leg.venue, leg.market_id)][1].unread(leg.side)
        if unread:
            raise VenueError(f"{leg.venue.value} book {leg.market_id}: {unread}",
                             hint="its depth is unknown, not zero: nothing was sent; try again later")
    return fresh


def _register_markets(venues: Mapping[Venue, TradingVenue], plan: TradePlan) -> None:
    """Venues validate orders against the market they trade (ticks, tokens); the paper venue also fills
    at its fee when the market's fee cannot be read again at that moment. The live Polymarket client is
    told each leg's fee model (``remember_fee``) before anything is sent: its trade records do not
    reliably report the fee charged, so its fills are charged by the market's model."""
    for leg in plan.legs:
        tv = venues.get(leg.venue)
        markets = getattr(tv, "markets", None)
        if isinstance(markets, dict):
            markets[leg.market.id] = leg.market
        register = getattr(tv, "register_token", None)
        if register is not None and leg.token_id:
            register(leg.token_id, leg.market.id, leg.side)
        remember_fee = getattr(tv, "remember_fee", None)
        if remember_fee is not None:
            remember_fee(leg.market.id, leg.market.fee_model)


def _pipeline_context(settings: Settings, mode: str, authorized: bool, authorization: str,
                      balances: Mapping[Venue, Balance | None], breaker: Breaker | None = None, *,
                      preview: bool = False, source: MarketSource | None = None) -> PipelineContext:
    from orion_cli.risk.checks import PipelineContext as Ctx

    recorded_at = source.recorded_at if isinstance(source, ReplaySource) else None
    return Ctx(settings=settings, mode=mode, authorized=authorized, authorization=authorization,
               balances=dict(balances), now=_now(), breaker=breaker, preview=preview, clock=_now,
               recorded_at=recorded_at)


class _Rollback(Exception):
    """Raised inside the preview transaction so that nothing the checks touched is committed."""


def preview_verdict(app: AppContext, plan: TradePlan, ctx: PipelineContext) -> Verdict:
    """Every check's verdict, evaluated in a write transaction that is always rolled back."""
    from orion_cli.risk.checks import evaluate

    box: list[Verdict] = []
    try:
        with app.db().write() as conn:
            if ctx.mode == "paper":
                _open_paper_accounts(app, plan, ctx, conn)
            box.append(evaluate(conn, plan, ctx))
            raise _Rollback
    except _Rollback:
        pass
    return box[0]


def _open_paper_accounts(app: AppContext, plan: TradePlan, ctx: PipelineContext, conn: Any) -> None:
    """A paper account a leg trades on that the ledger holds no balance of yet gets its starting cash
    in the preview's transaction (rolled back with it), as ``--confirm`` opens it before its checks:
    so BREAKER judges the equity and peak ``--confirm`` will (on a fresh ledger it said "peak 0.00"
    where ``--confirm`` judged 2000.00)."""
    from orion_cli.store.ledger import Ledger

    # The breaker's trading day, as PaperVenue's ledger books it: counted from midnight UTC, the new
    # account's cash went to another day than the one BREAKER reads, a gain hiding the day's loss.
    ledger = Ledger(app.db(), "paper", reset_hour_utc=ctx.settings.breaker.reset_hour_utc)
    p = ctx.settings.paper
    for venue in dict.fromkeys(leg.venue for leg in plan.legs):
        start = p.kalshi_balance if venue.value == "kalshi" else p.polymarket_balance
        ledger.ensure_balance(venue, start, conn=conn, now=ctx.now)


def _plan_record(plan: TradePlan, mode: str, *, confirm_refused: str | None = None) -> dict[str, Any]:
    rec = plan.to_record()
    rec["mode"] = mode
    rec["confirm_refused"] = confirm_refused
    return rec


def _render_plan(app: AppContext, plan: TradePlan, mode: str, verdict: Verdict | None, *,
                 blocking: str | None = None) -> None:
    """``blocking``: why --confirm would be refused though the checks pass (an unfinished execution
    of the same markets), said last, where the verdict is read."""
    out = app.out
    # In the record too: a script reading only stdout must learn that every check passing is not enough.
    rec = _plan_record(plan, mode, confirm_refused=blocking)
    checks = [c.to_record() for c in verdict.checks] if verdict is not None else []
    if out.machine:
        if out.format == "json":
            out.records([rec, *checks], PLAN_COLUMNS)
        else:
            out.stream(rec, PLAN_COLUMNS)
            for c in checks:
                out.stream(c, CHECK_COLUMNS)
        if blocking is not None:
            out.warn(f"--confirm would be refused: {blocking}; nothing was placed")
        return
    out.record(rec, PLAN_COLUMNS, title=f"plan ({mode})")
    out.records(rec["legs"], LEG_COLUMNS, title="legs (buy, equal shares)")
    if verdict is not None:
        rows = [{**c, "verdict": "pass" if c["passed"] else "FAIL", "leg": "" if c["leg"] is None else c["leg"]}
                for c in checks]
        out.records(rows, CHECK_COLUMNS, title="pre-trade checks")
        failed = verdict.first_failure
        if failed is not None:
            out.info(f"would be refused by {failed.name}: {failed.detail}; nothing was placed")
        elif blocking is None:
            out.info("every check passes; nothing was placed (add --confirm to execute)")
    if blocking is not None:
        out.warn(f"--confirm would be refused: {blocking}; nothing was placed")


def _render_execution(app: AppContext, result: ExecutionResult, plan: dict[str, Any] | None = None, *,
                      size_ignored: dict[str, str] | None = None) -> None:
    """``plan``: the plan record, which ``--json`` carries inside the execution's one document.
    ``size_ignored``: the --size a re-run of a used key did not use, and the key's recorded size."""
    out = app.out
    rec = result.to_record()
    if plan is not None:
        rec["plan"] = plan
    if size_ignored is not None:
        rec["size_ignored"] = size_ignored
    if out.machine:
        out.record(rec)
        return
    out.record(rec, EXECUTION_COLUMNS, title="execution")
    orders = [o.to_record() for o in result.orders]
    if orders:
        out.records(orders, ORDER_COLUMNS, title="orders")


def breaker_tripped_hint(trips: Sequence[str], reset_at: datetime | None) -> str:
    """The release of a halt the loss breaker engaged, as the exact command: a drawdown trip needs
    --breaker (and, from a script, --yes). Said when a trade trips the breaker, and as the hint of a
    watch that a trip stops. It said "`orion resume` … (`--breaker` after a drawdown trip)", and
    `orion resume` alone was refused for one. A daily-loss trip also refuses every trade (BREAKER) until
    the trading day's reset, the kill switch released or not: said with the reset's date and time
    (``reset_at``: the end of the trading day it tripped in, :func:`daily_reset_at`), as "00:00 UTC"
    alone may be 24 hours away, and a changed reset hour does not move it."""
    from orion_cli.risk.breaker import DAILY, DRAWDOWN, HALT_KIND, reset_text
    from orion_cli.risk.halt import release_command

    kind = HALT_KIND[DRAWDOWN] if DRAWDOWN in trips else None  # trips are the breaker's names, not halt kinds
    hint = f"`orion halt --status` says more, `{release_command(kind)}` releases the kill switch"
    if DAILY in trips:
        when = f"its reset at {reset_text(reset_at)}" if reset_at is not None else "the end of its trading day"
        hint += f"; trades stay refused by the daily-loss breaker until {when}, even once the kill switch is released"
    return hint


def daily_reset_at(app: AppContext, mode: str) -> datetime | None:
    """When ``mode``'s daily-loss trip in force stops refusing trades (the end of the trading day it
    tripped in, as recorded); None when none is, or the state cannot be read (the hint says it without
    the time: the trip is said either way)."""
    from orion_cli.risk.breaker import daily_trip_until

    try:
        return daily_trip_until(app.db(), mode, app.settings().breaker.reset_hour_utc)
    except Exception:  # the trip is said regardless; only its time is left out
        return None


def say_breaker_tripped(app: AppContext, result: ExecutionResult, mode: str) -> None:
    """Say, even with -q, that this trade tripped the loss breaker: its own status (done, or refused by
    BREAKER) and exit code do not tell that every later trade is halted until someone resumes."""
    if not result.breaker_tripped:
        return
    from orion_cli.risk.breaker import DAILY

    reset_at = daily_reset_at(app, mode) if DAILY in result.breaker_tripped else None
    app.out.banner(f"HALTED: the loss breaker tripped ({', '.join(result.breaker_tripped)}); "
                   f"{breaker_tripped_hint(result.breaker_tripped, reset_at)}.")


def say_reset_change(app: AppContext, mode: str, said: set[str] | None = None, day: TradingDay | None = None) -> None:
    """Warn (kept with -q) while ``breaker.reset_hour_utc`` differs from the hour the recorded trading day
    ends at: the change takes effect at that end (:func:`reset_change_warning`). ``day``: the day the
    caller measured (else read now); ``said``: the day keys warned of already (a watch's memory). A
    ledger that cannot be read says nothing here: the command's own reads report it."""
    from orion_cli.risk.breaker import reset_change_warning
    from orion_cli.store.ledger import Ledger

    if day is None:
        try:
            day = Ledger(app.db(), mode, reset_hour_utc=app.settings().breaker.reset_hour_utc).current_day()
        except Exception:
            return
    message = reset_change_warning(day)
    if message is None or (said is not None and day.key in said):
        return
    if said is not None:
        said.add(day.key)
    app.out.warn(message)


def say_breaker_warnings(app: AppContext, warnings: Sequence[tuple[str, str]], *, watch: bool = False) -> None:
    """Say, even with -q, each loss-breaker warning (``breaker.warn_at_pct`` of a limit) an update raised:
    (kind, message) as audited. Alerts are off by default, so the audit event alone reached no one at
    a terminal. In a machine-readable watch also a ``breaker_warning`` event on stdout, with ``kind``
    and ``message``."""
    for kind, message in warnings:
        app.out.warn(f"{message}; at the limit it trips and halts trading")
        if watch and app.out.machine:
            _event(app, "breaker_warning", message, kind=kind, message=message)


def say_undelivered(app: AppContext, outcome: Outcome) -> None:
    """A watch's alert that was not delivered: the ``warning:`` line (kept with -q) and, in a
    machine-readable watch, an ``alert_failed`` event on stdout with ``kind`` (the alert's), ``error``,
    ``attempts`` and ``status``, as for a breaker warning."""
    from orion_cli.core.alerts import undelivered_text

    text = undelivered_text(outcome)
    app.out.warn(text)
    if app.out.machine:
        _event(app, "alert_failed", text, kind=outcome.kind, error=outcome.error, attempts=outcome.attempts,
               status=outcome.status, message=text)


HALT_HINT = "`orion halt --status` shows why"


def _halt_hint(halt: HaltStatus) -> str:
    """HALT_HINT and the exact release (:func:`~orion_cli.risk.halt.release_hint`): `orion resume --yes`,
    `--breaker` too for a drawdown trip, the sentinel file removed first. Review: a trade refused by a
    manual halt named no release at all (only a drawdown trip or the file did), where a breaker trip's
    refusal names its command."""
    from orion_cli.risk.halt import release_hint

    return f"{HALT_HINT}; {release_hint(halt)}"


def halted_refusal_hint(app: AppContext, mode: str) -> str:
    """The hint of a trade the HALTED check refused: :func:`_halt_hint` of the kill switch as it stands
    now; when it cannot be read (or was released meanwhile), HALT_HINT and the ordinary release."""
    from orion_cli.risk.halt import KillSwitch, release_command

    try:
        halt = KillSwitch(app.db(), sentinel_file=app.settings().halt.sentinel_file, mode=mode).status()
    except Exception:  # the refusal is said regardless; only the release is the ordinary one
        halt = None
    if halt is None or not halt.halted:
        return f"{HALT_HINT}; `{release_command(None)}` releases it"
    return _halt_hint(halt)


def halted_execution_hint(source_flags: str = "") -> str:
    """An execution that halted left an outcome unknown or an unwind unfinished: what reached the venues
    is reconcile's to tell (a single trade and the watch say the same). With the trade's --demo or
    --snapshot, as a bare `orion reconcile` after a trade on recorded data reads the live venues."""
    return f"{HALT_HINT}; `orion reconcile{source_flags}` checks what reached the venues"


# A venue refused orion's credentials for an order: the key, its environment or the clock to fix, as
# every other command's credentials rejection says (REJECTED_HINT), and the check that proves the fix.
CREDENTIALS_REFUSED_HINT = f"{REJECTED_HINT}; `orion secrets check --online` tries them against each venue"


# An order refused for this host's location, where the venue's geoblock answer let the trade start.
GEOBLOCKED_ORDER_HINT = "trade from a location and network the venue permits (datacenter addresses are often blocked)"


def credentials_refusal(result: ExecutionResult) -> AuthError | None:
    """The error (exit 4, reason ``auth``) an execution ends with when a venue refused orion's
    credentials for one of its orders and it then ended without a halt: failed (a first leg, nothing
    placed) or unwound (a hedge, the first leg sold back). A halt stays a halt (exit 6): what it left
    naked comes first. None otherwise."""
    from orion_cli.execution.executor import CREDENTIALS_REFUSED  # loaded already: the execution ran

    if result.outcome not in ("failed", "unwound") or not result.detail.get(CREDENTIALS_REFUSED):
        return None
    what = "execution failed" if result.outcome == "failed" else "the first leg was unwound"
    return AuthError(f"{what}: {result.message}", hint=CREDENTIALS_REFUSED_HINT)


def geoblock_refusal(result: ExecutionResult) -> Refused | None:
    """The refusal (exit 6, reason ``GEOBLOCKED``) an execution ends with when a venue refused one of
    its orders for this host's location (a firewall that lets the geoblock check pass) and it then
    ended without a halt: failed (a first leg, nothing placed) or unwound (a hedge, the first leg sold
    back). A single trade and the watch end on it alike. None otherwise."""
    from orion_cli.execution.executor import GEOBLOCKED  # loaded already: the execution ran

    blocked = result.detail.get(GEOBLOCKED)
    if result.outcome not in ("failed", "unwound") or not blocked:
        return None
    what = "execution failed" if result.outcome == "failed" else "the first leg was unwound"
    return Refused(f"{what}: {blocked[0]['venue']} refused an order from this host: {blocked[0]['reason']}",
                   reason="GEOBLOCKED", hint=GEOBLOCKED_ORDER_HINT)


def version_refusal(result: ExecutionResult) -> VenueError | None:
    """The venue error (exit 5, reason ``ORDER_VERSION_MISMATCH``) an execution ends with when a venue
    refused one of its orders for the order format orion signs (Polymarket's CLOB reporting an order
    version other than 2) and it then ended without a halt. None otherwise."""
    from orion_cli.execution.executor import VERSION_REFUSED  # loaded already: the execution ran

    refused = result.detail.get(VERSION_REFUSED)
    if result.outcome not in ("failed", "unwound") or not refused:
        return None
    what = "execution failed" if result.outcome == "failed" else "the first leg was unwound"
    return VenueError(f"{what}: {refused[0]['reason']}", reason="ORDER_VERSION_MISMATCH",
                      hint="orion signs Polymarket CLOB V2 orders only; check the venue's announcements")


def id_taken_refusal(result: ExecutionResult) -> Refused | None:
    """The refusal (exit 6, reason ``CLIENT_ORDER_ID_TAKEN``) of an execution that failed because the venue
    holds another order under its first leg's client order id (an id used before on the account: another
    ledger, or this one restored from a backup, under the same key). Nothing was placed. None otherwise."""
    from orion_cli.execution.executor import ID_TAKEN  # loaded already: the execution ran

    taken = [r for r in result.detail.get(ID_TAKEN, []) if r.get("tag") == "l1"]
    if result.outcome != "failed" or not taken:
        return None
    return Refused(f"execution failed: {result.message}", reason="CLIENT_ORDER_ID_TAKEN",
                   hint="that order is not this execution's and nothing of it was booked; another "
                        "--idempotency-key sends new ids")


def raise_for_result(result: ExecutionResult, source_flags: str = "",
                     halted_hint: Callable[[], str] | None = None) -> None:
    """Exit codes: done 0; refused, halted, unwound 6; a venue unreachable 5; a venue that refused
    orion's credentials for an order 4 (:func:`credentials_refusal`). A re-run of a used key (nothing
    sent) exits as the execution it reports ended (:attr:`ExecutionResult.outcome`): 0 only for one
    that ended done. ``source_flags``: the trade's --demo/--snapshot, carried by the hints that name
    `orion reconcile`. ``halted_hint``: the hint of a refusal by HALTED (:func:`halted_refusal_hint`)."""
    from orion_cli.venues.trading import OrderStatus

    status = result.outcome
    if status == "done":
        return
    refusal = credentials_refusal(result) or geoblock_refusal(result) or version_refusal(result) or \
        id_taken_refusal(result)
    if refusal is not None:
        raise refusal
    if status == "refused":
        failed = result.verdict.first_failure
        name = failed.name if failed is not None else "REFUSED"
        detail = failed.detail if failed is not None else result.message
        hint = (halted_hint() if halted_hint is not None else HALT_HINT) if name == "HALTED" else None
        raise Refused(f"refused by {name}: {detail}", reason=name, hint=hint)
    if status == "halted":
        raise Halted(f"halted: {result.message}", hint=halted_execution_hint(source_flags))
    if status == "unwound":
        raise Refused(f"the first leg was unwound: {result.message}", reason="UNWOUND",
                      hint="`orion positions` shows what is held")
    unknown = any(o.status is OrderStatus.UNKNOWN for o in result.orders)
    text = result.message.lower()
    if unknown or "unavailable" in text or "unreachable" in text:
        raise VenueError(f"execution failed: {result.message}", reason="venue_unavailable",
                         hint=f"`orion reconcile{source_flags}` resolves orders whose outcome is unknown")
    raise Refused(f"execution failed: {result.message}", reason="NOT_FILLED")


def executions_of(app: AppContext, opportunity_id: str) -> list[Mapping[str, Any]]:
    """Every execution of one opportunity, under any key (the default one or ``--idempotency-key``)."""
    from sqlalchemy import select

    from orion_cli.store.tables import executions

    with app.db().read() as conn:
        rows = conn.execute(select(executions.c.key, executions.c.mode, executions.c.status)
                            .where(executions.c.opportunity_id == opportunity_id)
                            .order_by(executions.c.created_at)).all()
    return [dict(row._mapping) for row in rows]


def unfinished_executions(app: AppContext, mode: str) -> list[dict[str, Any]]:
    """The executions of ``mode`` not finished, oldest first, each with ``running``: whether a process
    drives it now. One that none drives was interrupted by a crash or a kill, perhaps with a leg
    unhedged (:func:`orion_cli.execution.keylock.unfinished_executions`)."""
    from orion_cli.execution.keylock import unfinished_executions as unfinished

    return unfinished(app.db(), mode)


def interrupted_executions(app: AppContext, mode: str) -> list[dict[str, Any]]:
    """The unfinished executions of ``mode`` no process drives now. Found by key lock, not by
    opportunity id: a restarted scan gives the same legs a new id."""
    return [e for e in unfinished_executions(app, mode) if not e["running"]]


def _markets_of(execution: Mapping[str, Any]) -> set[tuple[str, str]] | None:
    """The (venue, market) pairs of an execution's stored plan; None when the plan cannot say (its
    markets are then unknown, and taken to be any)."""
    from orion_cli.execution.state import load_result

    try:
        legs = load_result(execution["plan"]).get("legs")
        return {(str(leg["venue"]), str(leg["market"])) for leg in legs} if isinstance(legs, list) else None
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def existing_execution(app: AppContext, key: str) -> Mapping[str, Any] | None:
    from sqlalchemy import select

    from orion_cli.store.tables import executions

    with app.db().read() as conn:
        row = conn.execute(select(executions.c.key, executions.c.opportunity_id, executions.c.mode,
                                  executions.c.status, executions.c.plan, executions.c.result)
                           .where(executions.c.key == key)).first()
    return None if row is None else dict(row._mapping)


def ignored_size(app: AppContext, prior: Mapping[str, Any], size: Decimal | None) -> dict[str, str] | None:
    """A --size that a re-run of a used key does not use, with the key's recorded size, said as a warning
    (the ``size_ignored`` field of the record): the key's execution is reported, or resumed, by its stored
    plan, and a run that asked for another size must not read the report as a trade of the size it asked."""
    from orion_cli.execution.state import ExecStatus, load_result
    from orion_cli.store.tables import plain

    if size is None:
        return None
    try:
        recorded = Decimal(str(load_result(prior["plan"]).get("size")))
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        recorded = None
    if recorded is not None and recorded.is_finite() and recorded == size:
        return None
    shown = "unknown" if recorded is None or not recorded.is_finite() else str(plain(recorded))
    final = ExecStatus(prior["status"]).final
    app.out.warn(f"--size {plain(size)} ignored: idempotency key {prior['key']} was used for size {shown} "
                 f"({prior['status']}); {'it is reported as it ended' if final else 'it is resumed by its stored plan'}"
                 f", not re-sized; another --idempotency-key plans --size {plain(size)} afresh")
    return {"requested": str(plain(size)), "recorded": shown}


def trading_halted(app: AppContext) -> bool:
    """Whether the kill switch (the database's, or the sentinel file) holds now: a resume then sends no
    further buy, which every message naming a resume command must say (:func:`resume_sells_back`)."""
    return halt_now(app).halted


def halt_now(app: AppContext) -> HaltStatus:
    """The kill switch now (see :func:`trading_halted`), for the exact command that releases it."""
    from orion_cli.risk.halt import KillSwitch

    return KillSwitch(app.db(), sentinel_file=app.settings().halt.sentinel_file).status()


# -- the gate ----------------------------------------------------------------------------------------------


def _banner(app: AppContext, venues: VenueSet, op: Opportunity | None) -> None:
    """What the operator must see before authorizing real money: venues, limits, balances."""
    from orion_cli.core.errors import OrionError

    out = app.out
    s = app.settings()
    out.banner("LIVE TRADING — real money on " + ", ".join(v.value for v in venues.wanted))
    if op is not None:
        legs = "; ".join(f"{leg.venue.value} {leg.market_id} {leg.side.value.upper()} ≤{leg.worst_price}"
                         for leg in op.legs)
        out.banner(f"  opportunity {op.id}: buy {legs}")
    lim = s.limits
    out.banner(f"  limits: order ${lim.order_notional} / {lim.order_contracts} "
               f"{plural(lim.order_contracts, 'contract')}, market ${lim.market_exposure}"
               f", category ${lim.category_exposure}, total ${lim.total_exposure}; daily loss ${s.breaker.daily_loss}"
               f" ({s.breaker.daily_loss_pct}%), drawdown {s.breaker.drawdown_pct}%; "
               f"{s.rate_limits.orders_per_minute}/min, {s.rate_limits.orders_per_hour}/h")
    try:
        balances = asyncio.run(_banner_balances(venues))
    except OrionError as exc:
        out.banner(f"  balances: unavailable ({exc.message})")
        return
    for v, bal in balances.items():
        text = "unknown" if bal is None else f"available ${bal.available}, total ${bal.total}"
        out.banner(f"  {v.value} balance: {text}")


async def _banner_balances(venues: VenueSet) -> dict[Venue, Balance | None]:
    try:
        return await venues.balances(write=False)
    finally:
        await venues.aclose()


def run_gate(app: AppContext, *, live: bool, authorize_live: bool, venues: VenueSet | None,
             op: Opportunity | None, notes_said: bool = False, key: str | None = None,
             recorded: bool = False) -> Authorization:
    """Apply the gate (prompting on a terminal only for ``--live`` alone); audit ``live.authorized``.

    ``notes_said``: the preview before it already warned the gate's notes (the operator accepted
    "Place these orders?"), so they are not warned twice. ``key`` (a trade of ``op``): a refusal is
    audited ``risk.rejected`` NOT_AUTHORIZED in the live ledger, as every other refused trade is (DESIGN
    §4), so a half-configured service's failed attempts show in `orion report`. ``recorded``: the trade
    reads ``--demo``/``--snapshot`` data, paper only (:func:`_refuse_live_on_recorded` refused every live
    flag): a refusal there (half the environment pair) is a paper trade's, audited in the paper ledger, and
    its hint says to unset the half, since completing the pair would be refused next."""
    from orion_cli.cli.prompts import ask_text, interactive
    from orion_cli.core import gate

    def ask(prompt: str) -> str | None:
        if venues is not None:
            _banner(app, venues, op)
        return ask_text(prompt)

    tty = interactive()
    # The banner (venues, limits, balances) goes to stderr: a phrase typed with stderr redirected away from
    # the terminal would authorize real money unseen (found by a black-box review).
    hidden = tty and venues is not None and not stream_is_tty(sys.stderr)
    decision = gate.decide(live=live, authorize_live=authorize_live, environ=os.environ, tty=tty, ask=ask,
                           config_mode=app.settings().trading.mode,
                           no_prompt=("stderr is not a terminal, so the live banner (venues, limits, balances) "
                                      "would not be seen before the phrase") if hidden else "")
    for note in () if notes_said else decision.notes:
        app.out.warn(note)
    if isinstance(decision, gate.Refused):
        if op is not None and key is not None:
            _audit_refusal(app, decision.reason, decision.message, key=key, op=op,
                           mode="paper" if recorded else "live")
        error = decision.error()
        if recorded:  # only half the environment pair gets here: every live flag is exit 2 before
            half = gate.ENV_PAPER if decision.missing.startswith(gate.ENV_AUTHORIZED) else gate.ENV_AUTHORIZED
            error.hint = f"{RECORDED_IS_PAPER}: unset {half}, half of the live environment pair, to trade on them"
        raise error
    if decision.live:
        if decision.how != "typed" and venues is not None:
            _banner(app, venues, op)
        from orion_cli.store.audit import AuditLog

        AuditLog(app.db()).record("live.authorized", {
            "how": decision.how,
            "venues": [v.value for v in venues.wanted] if venues is not None else [],
            "opportunity_id": op.id if op is not None else None,
            "notes": list(decision.notes),
        }, mode="live")
        app.out.banner(f"LIVE trading authorized ({decision.how})")
    else:
        app.out.banner("PAPER: simulated fills on real books; no real money moves.")
    return decision


def _stop_after_gate(app: AppContext, auth: Authorization) -> bool:
    if os.environ.get(STOP_AFTER_GATE_ENV) != "1":
        return False
    app.out.record(auth.to_record())
    app.out.info(f"{STOP_AFTER_GATE_ENV}=1: stopped after the gate; no book read, nothing placed")
    return True


def _require_ledger_for_live(app: AppContext, pre_mode: str) -> None:
    """Live orders (--live, or the environment pair) must meet the real ledger's kill switch, breaker,
    limits and positions: a mistyped --db, ORION__DATABASE__URL or ORION_HOME must not start trading
    on a new, empty ledger (exit 3). Asked before anything else opens the ledger."""
    if pre_mode == "live":
        app.db(existing=True)


def _gate_notes(app: AppContext, live: bool, authorize_live: bool) -> tuple[str, ...]:
    """What the gate would note (ignored variables and values, ``trading.mode``), without deciding."""
    from orion_cli.core import gate

    return gate.decide(live=live, authorize_live=authorize_live, environ=os.environ, tty=False,
                       config_mode=app.settings().trading.mode).notes


class _PreGate(NamedTuple):
    """The gate's answer known without prompting: for previews and the recorded-source check."""

    mode: str
    authorized: bool
    how: str  # how it is authorized, or why not
    refused: bool  # --confirm would be refused at the gate whatever is typed: a preview must not offer it


def _pre_mode(live: bool, authorize_live: bool) -> _PreGate:
    from orion_cli.cli.prompts import interactive
    from orion_cli.core import gate

    d = gate.decide(live=live, authorize_live=authorize_live, environ=os.environ, tty=False)
    if isinstance(d, gate.Authorization):
        return _PreGate(d.mode, True, d.how, False)
    if d.missing == gate.FLAG_AUTHORIZE and interactive():  # --live alone, on a terminal: asked, not refused
        return _PreGate("live", False, f"--confirm asks for the phrase {gate.PHRASE!r} on this terminal", False)
    return _PreGate("live" if live else "paper", False, d.message, True)


# -- one trade --------------------------------------------------------------------------------------------


async def _plan_and_balances(app: AppContext, venues: VenueSet, source: MarketSource, op: Opportunity,
                             size: Decimal | None, key: str, *, write: bool, quiet: bool = False,
                             size_given: bool = False) -> tuple[TradePlan, dict[Venue, Balance | None]]:
    """Fresh books, the plan on them and the venues' balances. ``quiet``: without saying a size cut
    (the watch's recheck of a remembered refusal, said once, not every round). ``size_given``: ``size``
    is the operator's --size, refused (exit 2) when it is below one step of the legs' size grid.
    ``size`` None: the default size (:func:`size_within_limits`) on the fresh markets' size steps; when
    not even the legs' smallest size fits the limits, the scanned size, which the checks then refuse."""
    from orion_cli.execution.executor import build_plan
    from orion_cli.store.tables import plain

    fresh = await fresh_books(source, op)
    if size is None:
        limited = size_within_limits(op, app.settings(), lambda: [m for m, _ in fresh.values()])
        size = op.size if limited.size is None else limited.size
        if limited.size is None:
            app.out.info(f"{limited.unfit_note(op.id)}; planning the scanned size {plain(size)} for the checks")
        elif limited.binding is not None and not quiet:
            app.out.info(limited.cut_note())
    if size is not None and size_given:
        _refuse_size_below_step(size, [market for market, _ in fresh.values()])
    plan = build_plan(op, fresh, size=size, key=key, settings=app.settings(), now=_now())
    if size is not None and plan.size < size and not quiet:  # said, not left to be noticed in the plan
        from orion_cli.core.money import floor_to
        from orion_cli.core.pricing import size_grid

        grid = size_grid([leg.market.size_step for leg in plan.legs])
        why = (f"the legs trade in steps of {plain(grid)}" if floor_to(size, grid) == plan.size
               else f"the thinnest leg's fresh asks allow {plain(plan.size)}")
        app.out.info(f"size {plain(size)} wanted; {why}: planning {plain(plan.size)}")
    balances = await venues.balances(write=write)
    return plan, balances


def _refuse_size_below_step(size: Decimal, markets: Sequence[Market]) -> None:
    """A --size below one step of the legs' common size grid (0.001 where both venues count in
    hundredths, 0.5 on a whole-contract Kalshi market) rounds to 0 contracts: a mistyped size, refused
    as a usage error (exit 2) naming the smallest size, before anything is written or sent. Planned, it
    went on to a plan of 0 contracts that INVALID_ORDER then refused (exit 6), as if a check had."""
    from orion_cli.core.models import POLYMARKET_MIN_MARKETABLE_BUY, Venue
    from orion_cli.core.money import ceil_to, floor_to
    from orion_cli.core.pricing import size_grid
    from orion_cli.store.tables import plain

    grid = size_grid([m.size_step for m in markets])
    if floor_to(size, grid) <= 0:
        # The smallest size is also each market's minimum order (Polymarket's orderMinSize), on the grid.
        smallest = max(grid, ceil_to(max(m.min_size for m in markets), grid))
        # Not "the smallest size they trade" where a Polymarket leg is: a buy there must also spend $1,
        # and 5 at 0.15 was then refused by INVALID_ORDER (exit 6) as the size the message named.
        dollars = next((f"; a Polymarket buy must also spend at least ${plain(POLYMARKET_MIN_MARKETABLE_BUY)}"
                        for m in markets if m.venue is Venue.POLYMARKET), "")
        raise typer.BadParameter(f"{plain(size)} {plural(size, 'contract')} is below one size step of these legs "
                                 f"({plain(grid)}) and would round to 0; the smallest size they trade is "
                                 f"{plain(smallest)}{dollars}", param_hint="--size")


async def _require_exchange_trading(built: Mapping[Venue, TradingVenue], key: str | None = None) -> None:
    """An exchange in maintenance rejects a Kalshi order: found out before anything is sent.

    For a fresh trade that is before the first leg, not after the other leg has filled and must be
    unwound. For a resumed one (``key``) it keeps a temporary pause from turning the hedge into an
    unwind at a loss: the execution stays where it stopped, to be resumed once the exchange trades.
    """
    from orion_cli.core.errors import VenueUnavailable
    from orion_cli.core.models import Venue

    require_trading = getattr(built.get(Venue.KALSHI), "require_trading", None)
    if require_trading is None:
        return
    try:
        await require_trading()
    except VenueUnavailable as exc:
        if key is not None:
            exc.hint = (f"nothing was sent; execution {key} stays where it stopped: run the same command again "
                        "once the exchange trades")
        raise


def _first_refusal(failures: Sequence[BaseException]) -> BaseException | None:
    """Which of the failures of a live trade's reads before its first order ends it: a stop or
    cancellation first, then a geoblock (exit 6), then a credentials refusal (exit 4), then the rest
    (an exchange not trading, exit 5), each kind in the order given. Both refusals stop a watch, where
    an outage is waited out: an outage beside one must not hide it."""
    from orion_cli.venues.trading import Geoblocked

    def rank(exc: BaseException) -> int:
        if not isinstance(exc, Exception):
            return 0
        return 1 if isinstance(exc, Geoblocked) else 2 if isinstance(exc, AuthError) else 3

    return min(failures, key=rank, default=None)


class StoppedBeforeSending(Exception):
    """A stop (Ctrl-C, SIGTERM, SIGHUP) came while the trade was still being prepared: nothing is sent."""


async def _execute(app: AppContext, venues: VenueSet, source: MarketSource, op: Opportunity, size: Decimal | None,
                   key: str, auth: Authorization, alerts: AlertSink, *, resume: bool = False,
                   resume_to: frozenset[Venue] = frozenset(),
                   low_balance: LowBalanceWatch | None = None, size_given: bool = False,
                   stopped: Callable[[], bool],
                   decided: Callable[[], None] = lambda: None) -> tuple[TradePlan | None, ExecutionResult]:
    """Plan and execute ``op``, or with ``resume`` finish or report execution ``key`` (``resume_to``: the
    venues the resume may send to next). ``stopped``: asked just before the executor starts; a stop
    requested while books were read and checks prepared raises :class:`StoppedBeforeSending`.
    ``decided``: called as the executor returns (its outcome committed), before the balances read
    after the fills: a stop during that read is one after the outcome, not an interrupted trade."""
    from orion_cli.execution.executor import Executor
    from orion_cli.risk.breaker import Breaker
    from orion_cli.store.ledger import Ledger

    settings = app.settings()
    mode = auth.mode
    db = app.db()
    ledger = Ledger(db, mode, reset_hour_utc=settings.breaker.reset_hour_utc)
    executor: Executor | None = None
    try:
        built = venues.build()
        breaker = Breaker(db, settings, mode=mode, ledger=ledger, alerts=alerts)

        async def read_book(venue: Venue, market_id: str) -> tuple[Market, OrderBook]:
            # The executor reads a book only to see whether a hedge retry can still fill at its limit,
            # a limit priced with the plan's fees: a Kalshi series or event that fails to answer now
            # must not make it give up and sell the filled first leg back (with_fees=False).
            return await source.book(market_id, venue=venue, with_fees=False)

        executor = Executor(db, ledger, built, settings, mode=mode, alerts=alerts, breaker=breaker,
                            books=read_book, source_flags=data_flags(source))
        if resume:
            # Only when Kalshi gets the next order: a paused Kalshi must not hold up a Polymarket
            # hedge. Geoblock is not asked: Polymarket's submit asks it before every order, and a
            # blocked host must still be able to hedge or unwind on Kalshi.
            from orion_cli.core.models import Venue as V

            if mode == "live" and V.KALSHI in resume_to:
                await _require_exchange_trading(built, key)
            if stopped():
                raise StoppedBeforeSending
            resumed = await executor.resume(key)
            decided()
            return None, resumed
        plan, balances = await _plan_and_balances(app, venues, source, op, size, key, write=True,
                                                  size_given=size_given)
        if low_balance is not None:
            low_balance.check(balances)  # alerted on the way down, before the BALANCE check may refuse
        _register_markets(built, plan)
        if mode == "live":
            from orion_cli.core.models import Venue as V
            from orion_cli.core.settlement import record_reports

            # The venues' reports anchor the live cash that this trade's fills then move, so the
            # breaker values equity from current cash rather than the last `balance`/`reconcile` run;
            # with them, the held markets the venues have settled since (whose payout they hold). The
            # venue gates refuse before anything is sent: Geoblocked (exit 6), an exchange not trading.
            # All at once: every read between the fresh books and the first order ages the quotes.
            # Each is waited for, so which refusal is shown never depends on which answer came first:
            # a geoblock (exit 6, it stops a watch), then a venue refusing orion's credentials, for the
            # exchange's status or a balance (exit 4, it stops a watch too: a key to fix), before an
            # exchange not trading (exit 5, waited out).
            check_geoblock = getattr(built.get(V.POLYMARKET), "check_geoblock", None)
            outcomes = await asyncio.gather(
                *([check_geoblock()] if check_geoblock is not None else []), _require_exchange_trading(built),
                record_reports(ledger, built, balances, warn=app.out.warn), return_exceptions=True)
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            first = _first_refusal([*failures, *venues.rejected.values()])
            if first is not None:
                raise first
        ctx = _pipeline_context(settings, mode, True, auth.how, balances, breaker, source=source)
        if stopped():
            raise StoppedBeforeSending
        # The configuration this execution's checks judge under, when the ledger's newest config.loaded
        # is another's (a read when it is not): after every usage error, before execution.requested, and
        # for each execution of a watch, which another process's record may have come between.
        app.record_config(db, mode, each_time=True)
        result = await executor.execute(plan, ctx)
        decided()
        if low_balance is not None and any(o.filled_size > 0 for o in result.orders):
            await _low_after_fills(low_balance, built, {o.venue for o in result.orders if o.filled_size > 0})
        return plan, result
    except StorageError as exc:
        if executor is not None and executor.interrupted is not None:
            _left_unfinished(app, exc, executor.interrupted, op.id, mode, data_flags(source))
        raise
    finally:
        await venues.aclose()


LOW_AFTER_FILLS_TIMEOUT = 10.0  # seconds: the balances read after an execution, for balance.low only


async def _low_after_fills(low_balance: LowBalanceWatch, built: dict[Venue, TradingVenue],
                           venues: set[Venue]) -> None:
    """``balance.low`` for a venue this execution's own fills took below ``alerts.low_balance``: checked
    before it only, such a fall waited for the next trade. The execution is decided and recorded: a
    balance that cannot be read now is skipped (the next look sees it), never an error of the trade."""
    from orion_cli.core.errors import OrionError

    async def read(tv: TradingVenue) -> Balance | None:
        try:
            return await asyncio.wait_for(tv.balance(), LOW_AFTER_FILLS_TIMEOUT)
        except (OrionError, TimeoutError) as exc:
            logging.getLogger(__name__).info("balance after the fills not read (%s)", type(exc).__name__)
            return None

    try:
        balances = await asyncio.gather(*(read(built[v]) for v in sorted(venues, key=lambda v: v.value)
                                          if v in built))
        low_balance.check(balances)
    except Exception as exc:  # an alert problem never fails a trade whose outcome is decided
        logging.getLogger(__name__).warning("low-balance check after the fills failed (%s)", type(exc).__name__)


def _trade_once(app: AppContext, secrets: LazyStore, op_id: str, size: Decimal | None, confirm: bool, live: bool,
                authorize_live: bool, key: str | None, snapshot: Path | None, demo: bool) -> None:
    from orion_cli.cli.commands.market_data import run
    from orion_cli.cli.prompts import confirm as ask_confirm
    from orion_cli.cli.prompts import interactive
    from orion_cli.store import opportunities as store
    from orion_cli.store.tables import plain

    settings = app.settings()
    out = app.out
    size_given = size is not None  # the operator's --size: one below the legs' size step is a usage error
    pre_mode, pre_authorized, pre_how, gate_refuses = _pre_mode(live, authorize_live)
    _refuse_live_on_recorded(pre_mode, authorize_live, snapshot, demo)
    # An opportunity id names a row of a ledger that exists: a missing one is a mistyped --db or
    # ORION_HOME (exit 3), never created here (a `halt` there would then "succeed" and stop nothing).
    try:
        op, scanned_from = store.load(app.db(existing=True), op_id)
    except NotFound as exc:  # the scan to run is of the same data: without the flags it reads the live venues
        exc.hint = f"run `orion scan{source_flags(snapshot, demo)}` and use an id from its output"
        raise
    key = key or default_key(op.id)
    # A used key is reported or resumed from its stored plan: neither today's books nor today's
    # limits size or judge it then.
    prior = existing_execution(app, key)
    _refuse_other_data(op, scanned_from, prior, snapshot, demo, pre_mode,  # a usage error: nothing written
                       asked_live=live or authorize_live)
    resuming = prior is not None
    if not confirm:  # --confirm says them at the gate; a preview must not stay silent on them
        for note in _gate_notes(app, live, authorize_live):
            out.warn(note)
    # A resume may still have to finish (or unwind) on a venue disabled since: neither refuses it.
    disabled = None if resuming else _refuse_disabled_venues(app, op, settings, key=key, mode=pre_mode,
                                                             confirm=confirm, recorded=_recorded(snapshot, demo))
    beside = None if resuming else _unfinished_beside(app, op, key, pre_mode, source_flags(snapshot, demo),
                                                      confirm=confirm)
    blocking = disabled or beside  # --confirm's first refusal, which the preview ends with
    if confirm and not resuming:  # a resume may still finish (or sell back) what a halted execution holds
        _refuse_while_halted(app, op, key, pre_mode)
    if store.is_expired(op) and not resuming:  # said once the books will be read (not before a refusal)
        out.info(f"opportunity {op.id} expired at {op.expires_at:%Y-%m-%d %H:%M:%S}Z; re-reading the books "
                 "(STALE_QUOTE / EDGE_GONE decide)")
    source = open_source(app, snapshot, demo)
    if _recorded(snapshot, demo):
        announce(app, source)
        source = ReplaySource(source)
    leg_venues = [leg.venue for leg in op.legs]
    unfit = False  # nothing fits the limits: the preview shows the scanned size, never offers it
    if size is None and not resuming and _recorded(snapshot, demo):
        # Sized here, where the legs' markets (their size steps, asked for only when a limit cuts the
        # scanned size) cost no request: so that --confirm is refused before the gate when nothing fits.
        # On the live books no request precedes the gate: the plan sizes it on the fresh markets
        # (_plan_and_balances), and the checks refuse what does not fit.
        limited = size_within_limits(op, settings,
                                     lambda: [m for m, _ in run(lambda: fresh_books(source, op)).values()])
        if limited.size is None:
            why = limited.unfit_note(op.id)
            if confirm:
                _audit_refusal(app, limited.reason, why, key=key, op=op, mode=pre_mode)
                raise Refused(why, reason=limited.reason)
            # The preview plans the scanned size all the same, as for any plan a check refuses: the
            # checks on the fresh books say which limit refuses and by how much (the size it allows could
            # be below a market's minimum, and INVALID_ORDER would hide the limit), exit 0. Never sent:
            # --confirm is refused above, and the preview does not offer to place it.
            size, unfit = op.size, True
            out.info(f"{why}; planning the scanned size {plain(size)} to show the checks")
        else:
            size = limited.size
            if limited.binding is not None:
                out.info(limited.cut_note())

    if not confirm and prior is not None:
        if not _preview_used_key(app, prior, op, pre_mode, gate_refusal=pre_how if gate_refuses else None,
                                 size=size):
            return
    elif not confirm:
        venues = VenueSet(app, pre_mode, source, leg_venues, secrets)

        async def preview() -> tuple[TradePlan, dict[Venue, Balance | None]]:
            try:
                return await _plan_and_balances(app, venues, source, op, size, key, write=False,
                                                size_given=size_given)
            finally:
                await venues.aclose()

        plan, balances = run(preview)
        ctx = _pipeline_context(settings, pre_mode, pre_authorized, pre_how, balances, preview=True, source=source)
        verdict = preview_verdict(app, plan, ctx)
        _render_plan(app, plan, pre_mode, verdict, blocking=blocking)
        say_reset_change(app, pre_mode)
        # Offered only for a plan --confirm would place: NOT_AUTHORIZED is what the gate, next, decides,
        # unless it refuses whatever is typed (half a pair, which the verdict has just said).
        refused = any(not c.passed and c.name != "NOT_AUTHORIZED" for c in verdict.checks)
        if blocking or refused or unfit or gate_refuses or not (interactive() and not out.machine):
            return
        if not ask_confirm("Place these orders?", default=False):
            out.info("nothing placed")
            return

    venues = VenueSet(app, pre_mode, source, leg_venues, secrets)
    auth = run_gate(app, live=live, authorize_live=authorize_live, venues=venues if pre_mode == "live" or live
                    else None, op=op, notes_said=not confirm, key=key, recorded=_recorded(snapshot, demo))
    if _stop_after_gate(app, auth):
        return
    venues = VenueSet(app, auth.mode, source, leg_venues, secrets)
    from orion_cli.cli.live_venues import alert_sink
    from orion_cli.core.alerts import LowBalanceWatch

    alerts = alert_sink(app, secrets, auth.mode)
    low_balance = LowBalanceWatch(app.settings(), alerts, app.db(), auth.mode)
    # Ctrl-C, SIGTERM or SIGHUP from here on waits until the execution is recorded: stopping between
    # the legs would leave the first one unhedged until someone resumes the key. Once its outcome is
    # decided and recorded (stop.decide(), as the executor returns), a stop only waits for the rest
    # (the alerts, saying the result) and the trade exits with the outcome's code, not 130.
    stop = StopFlag(out)
    stop.install()
    try:
        try:
            with stop.section():
                result = _run_execution(app, venues, source, op, size, key, auth, alerts, low_balance,
                                        stop.stop_before_sending, size_given=size_given, decided=stop.decide)
        except StoppedBeforeSending:
            out.info(f"{stop.reason} before anything was sent: nothing placed")
            raise KeyboardInterrupt from None
        finally:
            flush_alerts(stop, alerts)
        say_breaker_warnings(app, result.breaker_warnings)
        say_breaker_tripped(app, result, auth.mode)
        say_reset_change(app, auth.mode)
        if stop.stopped_after_decided():
            out.info(f"{stop.reason} after the execution was decided and recorded: it ends with its own exit code")
        raise_for_result(result, source_flags(snapshot, demo), lambda: halted_refusal_hint(app, auth.mode))
        if stop.requested and not stop.stopped_after_decided():
            out.info(f"{stop.reason}: the execution was finished and recorded first")
            raise KeyboardInterrupt
    finally:
        if stop.decided:  # the exit code is the execution's: a later stop, until the process exits, waits
            stop.hold_until_exit()
        else:
            stop.restore()
        pause_point("trade_end")


USED_KEY_COLUMNS = [Column("key", "key"), Column("opportunity_id", "opportunity"), Column("mode", "mode"),
                    Column("execution_status", "status"), Column("size", "size", "right"),
                    Column("next", "--confirm"), Column("detail", "detail")]


def _preview_used_key(app: AppContext, prior: Mapping[str, Any], op: Opportunity, mode: str, *,
                      gate_refusal: str | None = None, size: Decimal | None = None) -> bool:
    """The preview of a used key: not a fresh plan (today's books and limits do not decide it) but
    what --confirm will do with it (``next``): ``report`` it, ``resume`` it by its stored plan,
    ``unwind`` it (a resume while trading is halted: no further buy is sent, so the filled first leg
    is sold back where a resume after `orion resume` would hedge it), or ``refuse`` (the live gate
    refuses whatever is typed: ``gate_refusal``, its message, is asked first, as --confirm asks the
    gate before it looks at the key; the key is another opportunity's or mode's; another process
    drives it). On a terminal it offers to resume an unfinished one; True when the operator accepts."""
    from orion_cli.cli.prompts import confirm as ask_confirm
    from orion_cli.cli.prompts import interactive
    from orion_cli.core.reconcile import resume_sells_back
    from orion_cli.execution.keylock import driven
    from orion_cli.execution.state import ExecStatus, load_result, sells_back_advice

    out = app.out
    asked = size  # the operator's --size, which the key's stored plan overrides
    status = ExecStatus(prior["status"])
    try:
        size = load_result(prior["plan"]).get("size")
    except (ValueError, TypeError, RecursionError):
        size = None
    if gate_refusal is not None:  # said "report" or "resume", and --confirm then exited 6 at the gate
        after, detail = "refuse", f"refuses it at the live gate (NOT_AUTHORIZED): {gate_refusal}"
    elif prior["opportunity_id"] != op.id or prior["mode"] != mode:
        after, detail = "refuse", "refuses it: the key is another opportunity's or mode's (DUPLICATE)"
    elif status.final:
        after, detail = "report", "reports it; nothing is sent"
    elif driven(app.db(), prior["key"]):
        after, detail = "refuse", "refuses it: another process is driving it (DUPLICATE: in progress)"
    elif (halt := halt_now(app)).halted and resume_sells_back(app.db(), prior["key"], status, prior.get("result")):
        after, detail = "unwind", sells_back_advice(halt)
    else:
        after, detail = "resume", "resumes it by its stored plan: orders already sent are looked up, never sent twice"
    rec = {"type": "used_key", "key": prior["key"], "opportunity_id": prior["opportunity_id"], "mode": prior["mode"],
           "execution_status": status.value, "size": size, "next": after, "detail": detail}
    ignored = ignored_size(app, prior, asked) if after != "refuse" else None
    if ignored is not None:
        rec["size_ignored"] = ignored
    if out.format == "json":  # one array, as a fresh plan's preview is: a script's `.[]` reads both alike
        out.records([rec], USED_KEY_COLUMNS)
    else:
        out.record(rec, USED_KEY_COLUMNS, title="execution under this key")
    afresh = " (another --idempotency-key plans afresh)" if status.final and gate_refusal is None else ""
    used = f"idempotency key {prior['key']} is used by a {prior['mode']} execution of {prior['opportunity_id']} " \
           f"({status.value})"
    if after == "unwind":  # a warning: following the command as before would cost the unwind's loss
        out.warn(f"{used}; {detail}. Nothing was planned or placed")
    else:
        out.info(f"{used}; --confirm {detail}. Nothing was planned or placed{afresh}")
    if after not in ("resume", "unwind") or not (interactive() and not out.machine):
        return False
    # While halted the warning above says why in full; the question (one terminal line) says what yes does.
    question = "Resume it?" if after == "resume" else "Halted: resume it anyway, selling the filled leg back?"
    if ask_confirm(question, default=False):
        return True
    out.info("nothing sent")
    return False


def _refuse_disabled_venues(app: AppContext, op: Opportunity, settings: Settings, *, key: str, mode: str,
                            confirm: bool, recorded: bool) -> str | None:
    """A new execution trades only venues the configuration enables (kalshi.enabled /
    polymarket.enabled): an opportunity scanned before one was disabled, or read from a recording
    that holds it, must not open a position there (that venue's balance, positions and reconcile
    are skipped). With ``confirm`` the refusal is audited (:func:`_audit_refusal`) and raised; a
    preview's is returned (None: every venue enabled), to be shown with the plan and its checks and
    exit 0, as every other refusal's preview is (and audited by none). Only on ``recorded`` data: on
    the live books the plan would read the disabled venue's market and book, and a venue is often
    disabled because it is down or blocked, so that preview is refused as --confirm is, before any
    request (an outage's exit 5 would hide the reason)."""
    from orion_cli.core.config import enabled_venues

    enabled = enabled_venues(settings)
    off = sorted({leg.venue.value for leg in op.legs if leg.venue not in enabled})
    if off:
        why = (f"{op.id} trades on {' and '.join(off)}, disabled in the configuration "
               f"({', '.join(f'{v}.enabled = false' for v in off)})")
        if not confirm and recorded:
            return f"{why} (VENUE_DISABLED)"
        if confirm:
            _audit_refusal(app, "VENUE_DISABLED", why, key=key, op=op, mode=mode)
        raise Refused(f"{why}; nothing sent", reason="VENUE_DISABLED",
                      hint="enable the venue, or trade an opportunity of the enabled ones")
    return None


def _audit_refusal(app: AppContext, name: str, detail: str, *, key: str, op: Opportunity, mode: str) -> None:
    """A `--confirm` refused by a check decided before the executor's checks (an execution in the
    way, a key another opportunity's, no size within the order limits, a disabled venue) is
    audited ``risk.rejected`` as theirs are: DESIGN §4 wants every refusal's reason code in the audit
    log, and ``orion report`` counts them from there. The pipeline never runs after it (the refusal is
    raised), so it is audited once. A preview audits nothing: its checks run in a rolled-back
    transaction."""
    from orion_cli.execution.executor import audit_refusal
    from orion_cli.execution.plan import CheckResult, sole_venue

    app.record_config(app.db(), mode, each_time=True)  # the limits that refused it (config.loaded)
    audit_refusal(app.db(), CheckResult(name, False, detail), key=key, opportunity_id=op.id, mode=mode,
                  venue=sole_venue(leg.venue for leg in op.legs))


def _refuse_while_halted(app: AppContext, op: Opportunity, key: str, mode: str) -> None:
    """A new `--confirm` while the kill switch holds is refused by HALTED (exit 6, audited as the check's
    refusal is) before anything is read: found by a black-box review, a live one printed the banner, read
    both venues' balances with the vault's credentials and audited `live.authorized` first, and with the
    venues down exited 5 where cron reads 6 for "halted". DESIGN §4 puts HALTED first; only the refusals
    decided from the ledger alone come before it (an interrupted execution in the way names how to finish it).
    No `execution` record is printed: as for those, the error record says it."""
    from orion_cli.risk.halt import halted_detail

    st = halt_now(app)
    if st.halted:
        detail = halted_detail(st)
        _audit_refusal(app, "HALTED", detail, key=key, op=op, mode=mode)
        raise Refused(f"refused by HALTED: {detail}", reason="HALTED", hint=halted_refusal_hint(app, mode))


def _unfinished_beside(app: AppContext, op: Opportunity, key: str, mode: str, flags: str, *,
                       confirm: bool) -> str | None:
    """Why ``--confirm`` must not start a new execution of ``op`` under ``key`` (None if it may).

    An unfinished execution of ``mode`` under another key that trades any of the same markets (or
    the same opportunity) stands in the way: one interrupted may hold an unhedged leg, and one
    running is still sending; a second position beside it would add to it instead of finishing it.
    Matched by market, not only by id: a scan after a restart gives the same legs a new id.
    Unrelated interrupted executions are named in a warning. Not asked for a used key: resuming one
    is never held back (it is how an interrupted execution is finished). With ``confirm`` the first
    obstacle is raised."""
    from orion_cli.core.reconcile import resume_sells_back
    from orion_cli.execution.state import ExecStatus, resume_advice, resume_command

    mine = {(leg.venue.value, leg.market_id) for leg in op.legs}
    blocking: str | None = None
    halt: HaltStatus | None = None  # asked once, when an execution's resume would sell back while halted
    for e in unfinished_executions(app, mode):
        if e["key"] == key:
            continue
        markets = _markets_of(e)  # unknown: it may hold a leg in these markets, so it stands in the way
        same = e["opportunity_id"] == op.id or markets is None or bool(markets & mine)
        if e["running"]:
            if same and blocking is None:
                blocking = (f"execution {e['key']} of {e['opportunity_id']} trades the same markets and is "
                            "running in another process; wait for it to finish")
            continue
        resume = resume_command(e["opportunity_id"], e["key"], mode=e["mode"], source_flags=flags, plan=e["plan"])
        if halt is None:
            halt = halt_now(app)
        sells_back = halt.halted and resume_sells_back(app.db(), e["key"], e["status"], e.get("result"))
        what = interrupted_at(e["key"], e["opportunity_id"], ExecStatus(e["status"]))
        if same and blocking is None:
            blocking = f"{what}; {resume_advice(resume, sells_back=sells_back, first=True, halt=halt)}"
        elif not same:
            app.out.warn(f"{what}; {resume_advice(resume, sells_back=sells_back, halt=halt)}")
    if blocking is not None and confirm:
        _audit_refusal(app, "EXECUTION_INTERRUPTED", blocking, key=key, op=op, mode=mode)
        raise Refused(f"not executed: {blocking}", reason="EXECUTION_INTERRUPTED",
                      hint="a new key would trade these markets again beside it")
    return blocking


def _driven_now(app: AppContext, key: str) -> bool:
    """Whether another process holds execution ``key``'s lock: it is running, not interrupted.

    Why: a second `trade --idempotency-key K` beside a run still executing K said "was used before and
    stopped at leg1_sent; resuming it", of an execution that had stopped nowhere."""
    from orion_cli.execution.keylock import driven

    return driven(app.db(), key)


def interrupted_at(key: str, opportunity_id: str, status: ExecStatus) -> str:
    """"execution KEY of OP was interrupted at STATUS (what may be at the venues)": as a trade it stands in
    the way of says it, and as the trade a storage error stopped says it (:func:`_left_unfinished`)."""
    from orion_cli.execution.state import ExecStatus

    sent = {ExecStatus.INTENTS: "nothing sent yet", ExecStatus.HEDGED: "hedged, not yet read back"}.get(
        status, "a leg may be unhedged")
    return f"execution {key} of {opportunity_id} was interrupted at {status.value} ({sent})"


def _left_unfinished(app: AppContext, exc: OrionError, left: tuple[str, ExecStatus], opportunity_id: str,
                     mode: str, flags: str) -> None:
    """Give ``exc`` (a storage error that stopped an execution after its intents were committed) the hint
    the next trade would give: which execution it left, where, and the command resuming it.

    Why: a database lost mid-trade said only "database error … shutting down" (exit 3), while the ledger
    held the execution at leg1_sent and, live, a leg may be unhedged; only the next trade said so. The
    status is the last this process reached (its own record of it, the database being what failed):
    one whose end could not be recorded is said so."""
    from orion_cli.core.reconcile import resume_sells_back
    from orion_cli.execution.state import resume_advice, resume_command

    key, status = left
    resume = resume_command(opportunity_id, key, mode=mode, source_flags=flags)
    halt: HaltStatus | None = None
    sells_back = False
    try:  # best effort: the database has just failed
        halt = halt_now(app)
        sells_back = halt.halted and resume_sells_back(app.db(), key, status.value, None)
    except Exception:  # the advice without the halt's word, rather than no advice
        halt, sells_back = None, False
    if status.final:  # its end was not recorded: the ledger holds it at the status before
        what = f"execution {key} of {opportunity_id} may not have recorded that it ended {status.value}"
    else:
        what = interrupted_at(key, opportunity_id, status)
    said = f"{what}; {resume_advice(resume, sells_back=sells_back, halt=halt)}"
    exc.hint = f"{said}; {exc.hint}" if exc.hint else said


def _run_execution(app: AppContext, venues: VenueSet, source: MarketSource, op: Opportunity, size: Decimal | None,
                   key: str, auth: Authorization, alerts: AlertSink, low_balance: LowBalanceWatch,
                   stopped: Callable[[], bool], *, size_given: bool = False,
                   decided: Callable[[], None] = lambda: None) -> ExecutionResult:
    """Execute (or resume, or report) the trade under ``key`` and render it. ``decided``: called as
    the executor returns, its outcome committed, before anything is rendered."""
    from orion_cli.cli.commands.market_data import run

    out = app.out
    result: ExecutionResult
    ignored: dict[str, str] | None = None  # a --size the key's stored execution overrides
    prior = existing_execution(app, key)
    if prior is not None:
        if prior["opportunity_id"] != op.id or prior["mode"] != auth.mode:
            used = (f"idempotency key {key} is already used by a {prior['mode']} execution of "
                    f"opportunity {prior['opportunity_id']}")
            _audit_refusal(app, "DUPLICATE", used, key=key, op=op, mode=auth.mode)
            raise Refused(used, reason="DUPLICATE", hint="choose another --idempotency-key")
        from orion_cli.execution.executor import venues_resume_may_send_to
        from orion_cli.execution.state import ExecStatus

        status = ExecStatus(prior["status"])
        ignored = ignored_size(app, prior, size if size_given else None)
        if status.final:
            out.info(f"idempotency key {key} was used before ({prior['status']}); reporting it, nothing re-sent")
        elif _driven_now(app, key):  # not interrupted: another process is executing it now
            out.info(f"idempotency key {key} is being executed by another orion process (at {prior['status']}); "
                     "waiting a moment for it to end, to report it (refused, exit 6, while it still runs)")
        else:  # interrupted: finish it by its persisted ids (a sent order is looked up, never sent twice)
            from orion_cli.core.reconcile import resume_sells_back

            out.info(f"idempotency key {key} was used before and stopped at {prior['status']}; resuming it: "
                     "orders already sent are looked up, never sent twice")
            if (halt := halt_now(app)).halted and resume_sells_back(app.db(), key, status, prior.get("result")):
                from orion_cli.risk.halt import release_steps

                out.warn("trading is halted: no further buy is sent, so a filled first leg is sold back (up to "
                         f"trading.max_unwind_loss), not hedged; releasing the halt first ({release_steps(halt)}) "
                         "would have let it hedge")
        resume_to = venues_resume_may_send_to(status, prior["plan"], key, app.db().display_url)
        _, result = run(lambda: _execute(app, venues, source, op, size, key, auth, alerts, resume=True,
                                         resume_to=resume_to, stopped=stopped, decided=decided))
        decided()
    else:
        plan, result = run(lambda: _execute(app, venues, source, op, size, key, auth, alerts,
                                            low_balance=low_balance, size_given=size_given, stopped=stopped,
                                            decided=decided))
        decided()
        if plan is not None and out.format == "json":  # one document: the plan inside the execution
            _render_execution(app, result, _plan_record(plan, auth.mode))
            return result
        if plan is not None:
            _render_plan(app, plan, auth.mode, result.verdict if result.status == "refused" else None)
    _render_execution(app, result, size_ignored=ignored)
    return result


# -- watch ----------------------------------------------------------------------------------------------------

# The watch's reader went away (`| head`, a log shipper that died): trading on unseen is not what was
# asked, so the loop stops between executions, never inside one.
OUTPUT_CLOSED = "the output was closed"
# A watch stopped by the BREAKER check's refusal (no halt needed): a single trade's words, exit 6, reason BREAKER.
REFUSED_BY_BREAKER = "refused by BREAKER: "
# Secrets errors a live watch waits out (the rounds try again): the vault held by another orion process's
# write. Any other (no vault, a key missing or malformed, a vault it cannot unlock) stops it, exit 4.
TRANSIENT_SECRETS_REASONS = frozenset({"vault_busy"})


@dataclasses.dataclass(frozen=True)
class WatchStop:
    """Why ``trade --watch`` stops and how it then ends, decided where the cause is known.

    ``text`` is the ``stopped`` event's ``reason`` (and, after "watch stopped: ", the error's
    message); ``exit_code`` the process's; ``reason_code`` the error record's reason (also the
    ``stopped`` event's: a reader of stdout alone learns it), None for a stop that is no failure;
    ``hint`` the error's. The end of the watch raises from these fields: telling causes apart by their
    text let a new cause (a geoblock) end as whatever its words happened not to start with.
    """

    text: str
    exit_code: int
    reason_code: str | None = None
    hint: str | None = None
    raised: Exception | None = None  # failed(): the error the watch ends with, as it was raised

    @classmethod
    def failed(cls, error: Exception) -> WatchStop:
        """An error outside a trade ended the watch (a ledger busy past its timeout, or that cannot be
        written, where a round records its scan or the breaker's figures; or a bug: exit 1, ``internal``):
        it ends with that error's exit code and reason, after its ``stopped`` record. Found in a black-box
        run: it ended exit 3 with no ``stopped`` record, the stream's last line a ``skipped`` event."""
        if isinstance(error, OrionError):
            return cls(error.message, int(error.exit_code), error.reason, error.hint, error)
        return cls(f"unexpected internal error ({type(error).__name__})", int(ExitCode.ERROR), "internal",
                   None, error)

    @classmethod
    def finished(cls, text: str) -> WatchStop:
        """A stop that is no failure: the limit of trades reached, or the reader gone (exit 0)."""
        return cls(text, 0)

    @classmethod
    def refused(cls, text: str, reason_code: str, hint: str | None = None) -> WatchStop:
        """A safeguard stops the watch (exit 6), with the reason code a single trade gives for it."""
        return cls(text, int(ExitCode.REFUSED), reason_code, hint)

    @classmethod
    def credentials_refused(cls, error: SecretsError) -> WatchStop:
        """A venue refused orion's credentials, for an order or a read before one (exit 4, reason
        ``auth``), or orion has none it can use (no vault, a venue's keys not in it, a vault it cannot
        unlock: exit 4, the secrets error's reason; a vault path that is a link to nothing: exit 3,
        ``vault_link_dangling``): every later trade there would fail the same way,
        so the watch ends as that single trade would."""
        return cls(error.message, int(error.exit_code), error.reason, error.hint)

    @classmethod
    def venue_refused(cls, error: VenueError) -> WatchStop:
        """A venue takes no order in the format orion signs (exit 5, reason ``ORDER_VERSION_MISMATCH``):
        every later trade there would be refused the same way, after a first leg at the other venue
        may have filled and been unwound at a loss, so the watch ends as that single trade would."""
        return cls(error.message, int(error.exit_code), error.reason, error.hint)

    @classmethod
    def interrupted(cls, text: str) -> WatchStop:
        """Ctrl-C, SIGTERM or SIGHUP (exit 130); ``text`` names the signal. The reason is the error
        boundary's for an interrupted command."""
        return cls(text, int(ExitCode.INTERRUPTED), "interrupted")

    def error(self) -> OrionError:
        """The error the watch ends with when a safeguard stopped it (:class:`Halted` for a halt), a
        venue refused orion's credentials (:class:`AuthError`), or took no order in the format orion
        signs (:class:`VenueError`)."""
        if self.exit_code == int(ExitCode.AUTH):
            kind_4 = AuthError if self.reason_code == AuthError.reason else SecretsError
            return kind_4(f"watch stopped: {self.text}", reason=self.reason_code, hint=self.hint)
        if self.exit_code == int(ExitCode.VENUE_UNAVAILABLE):
            return VenueError(f"watch stopped: {self.text}", reason=self.reason_code, hint=self.hint)
        if self.exit_code == int(ExitCode.CONFIG):  # the vault path a link to nothing (vault_link_dangling)
            return ConfigError(f"watch stopped: {self.text}", reason=self.reason_code, hint=self.hint)
        kind = Halted if self.reason_code == Halted.reason else Refused
        return kind(f"watch stopped: {self.text}", reason=self.reason_code, hint=self.hint)


def _event(app: AppContext, event: str, text: str = "", **fields: Any) -> None:
    rec: dict[str, Any] = {"type": "watch", "v": 1, "event": event, "ts": _now(), **fields}
    if app.out.machine:
        app.out.stream(rec, WATCH_COLUMNS)
    else:
        app.out.stream({**rec, "text": text}, WATCH_COLUMNS)


def _watch(app: AppContext, secrets: LazyStore, seconds: float, max_trades: int | None, live: bool,
           authorize_live: bool, snapshot: Path | None, demo: bool) -> None:
    from orion_cli.cli.commands.market_data import run
    from orion_cli.cli.commands.scan import pairs_configured, pairs_path, warn_new
    from orion_cli.core.errors import OrionError
    from orion_cli.core.scan import ScanOptions, scan
    from orion_cli.matching.pairs import load_pairs
    from orion_cli.risk.halt import KillSwitch
    from orion_cli.store import opportunities as store

    settings = app.settings()
    from orion_cli.core.config import enabled_venues, no_venue_enabled

    if not enabled_venues(settings):  # each round would fail the same way, for ever
        raise no_venue_enabled(ScanOptions.from_settings(settings).venues)
    pre_mode = _pre_mode(live, authorize_live).mode
    _refuse_live_on_recorded(pre_mode, authorize_live, snapshot, demo)
    _require_ledger_for_live(app, pre_mode)
    source = open_source(app, snapshot, demo)
    if _recorded(snapshot, demo):
        announce(app, source)
        source = ReplaySource(source)
    banner_venues = VenueSet(app, "live", source, enabled_venues(settings), secrets) if pre_mode == "live" else None
    auth = run_gate(app, live=live, authorize_live=authorize_live, venues=banner_venues, op=None,
                    recorded=_recorded(snapshot, demo))
    if _stop_after_gate(app, auth):
        return
    app.record_config(app.db(), auth.mode)  # the configuration the watch trades under (config.loaded)
    if auth.mode == "live":
        # Credentials orion cannot use are no outage to wait out: every round's trade would fail on
        # them (an `error` event a round, for ever). Found now, before the first round, the watch ends
        # as a single trade does (exit 4), whether or not an opportunity would have shown.
        unusable = _unusable_credentials(app, secrets, source, enabled_venues(settings))
        if unusable is not None:
            _end_watch(app, unusable, trades=0, rounds=0)  # raises its error, exit 4
            return
    options = ScanOptions.from_settings(settings)
    curated = load_pairs(pairs_path(app), configured=pairs_configured(app))
    from orion_cli.cli.live_venues import alert_sink
    from orion_cli.core.alerts import LowBalanceWatch

    alerts = alert_sink(app, secrets, auth.mode, watch=True, undelivered=lambda o: say_undelivered(app, o))
    low_balance = LowBalanceWatch(settings, alerts, app.db(), auth.mode)
    switch = KillSwitch(app.db(), sentinel_file=settings.halt.sentinel_file, mode=auth.mode)
    stop = StopFlag(app.out, during="the watch")
    stop.install()
    trades = 0
    rounds = 0
    said: set[str] = set()
    unmarked_said: set[tuple[Venue, str]] = set()  # held positions the rounds could not mark, warned of once
    days_said: set[str] = set()  # trading days whose pending change of reset hour was warned of
    refused: dict[LegsKey, WatchRefusal] = {}  # by markets and sides: a refusal audited once (_trade_round)
    ended = WatchStop.interrupted(stop.reason)
    app.out.info(f"watching every {seconds:g}s ({auth.mode}); Ctrl-C stops after the execution in flight")
    try:
        while True:
            rounds += 1
            started = time.monotonic()
            halted = _halt_stop(switch)
            if halted is not None:
                ended = halted
                break
            try:
                data = run(lambda: source.fetch(options.venues, with_books=True))
            except OrionError as exc:
                _event(app, "scan_failed", exc.message, round=rounds, reason=exc.reason, message=exc.message)
                data = None
            ops: list[Opportunity] = []
            breaker_stop = None if data is None else _breaker_stop_at_marks(app, auth.mode, data, alerts,
                                                                            unmarked_said, days_said)
            if breaker_stop is not None:
                ended = breaker_stop
                break
            if data is not None:
                result = scan(data, curated, settings, options)
                with app.db().write() as conn:
                    store.save(conn, result.opportunities, source=source.name)
                ops = list(result.opportunities)
                warn_new(app.out, result.notes, said)  # a pair never priced: said once, the first round it shows
                _event(app, "scan", f"round {rounds}: {len(ops)} opportunit{'y' if len(ops) == 1 else 'ies'}",
                       round=rounds, opportunities=len(ops), ids=[o.id for o in ops])
            trades, round_stop = _trade_round(
                app, secrets, ops, auth, source, alerts, low_balance, stop, trades, max_trades,
                source_flags=source_flags(snapshot, demo), refused=refused,
                markets=None if data is None else {(m.venue, m.id): m for m in data.markets})
            if round_stop is not None:
                ended = round_stop  # before the flush: a Ctrl-C during it must not replace a halt or refusal
            alerts.flush(0)  # audits, without waiting, the round's alerts that cannot be sent at all
            if round_stop is not None:
                break
            if app.out.stdout_closed():
                ended = WatchStop.finished(OUTPUT_CLOSED)
                break
            if stop.is_requested():
                ended = WatchStop.interrupted(stop.reason)
                break
            halted = _sleep(max(0.0, seconds - (time.monotonic() - started)), stop, switch)
            if halted is not None:  # engaged during the wait: the watch stops now, as at a round's start
                ended = halted
                break
            if stop.is_requested():
                ended = WatchStop.interrupted(stop.reason)
                break
    except KeyboardInterrupt:
        if ended.exit_code in (0, int(ExitCode.INTERRUPTED)):  # a safeguard's stop already decided is kept
            ended = WatchStop.interrupted(stop.reason)
    except Exception as exc:  # the error boundary reports it (exit 1 for a bug) once the record is out
        # Not the output's own failure (stdout refused: no record can follow), nor a command-line exit.
        if isinstance(exc, (OSError, typer.Exit, typer.Abort)) or any(
                c.__name__ == "ClickException" for c in type(exc).__mro__):
            raise
        ended = WatchStop.failed(exc)
    finally:
        try:
            flush_alerts(stop, alerts)
        finally:
            # The watch's outcome (its last record and exit code) is decided: a stop from here until the
            # process exits is only noted, as after a single trade. Given back, a stop just after the
            # `stopped` record ended the process 130, or killed it (143, 129) in the interpreter's teardown,
            # where the record said 6 or 0 (found in a black-box run).
            stop.hold_until_exit(said="the watch has stopped (its exit code is decided)")
    _end_watch(app, ended, trades=trades, rounds=rounds)


def _unusable_credentials(app: AppContext, secrets: LazyStore, source: MarketSource,
                          venues: Sequence[Venue]) -> WatchStop | None:
    """Why a live watch cannot trade on ``venues`` with the credentials it has, or None when it can.

    The clients are built as a trade builds them (every credential read, found complete and in its
    form) and closed unused; nothing is sent. A vault another orion process is writing is waited
    out by the rounds, as an outage is."""
    wanted = VenueSet(app, "live", source, venues, secrets)
    try:
        wanted.build()
    except SecretsError as exc:
        if exc.reason in TRANSIENT_SECRETS_REASONS:
            return None
        stop = WatchStop.credentials_refused(exc)
        if exc.reason == "secret_missing":  # the watch trades on every enabled venue, not only one trade's
            stop = dataclasses.replace(stop, hint=WATCH_MISSING_CREDENTIALS_HINT)
        return stop
    finally:
        asyncio.run(wanted.aclose())
    return None


def _end_watch(app: AppContext, ended: WatchStop, *, trades: int, rounds: int) -> None:
    """The ``stopped`` event, then the watch's end: its error (exit 4, 6 or 130) or its exit code."""
    reason = ended.text
    _event(app, "stopped", f"{reason}; {trades} trade(s) in {rounds} round(s)", reason=reason, trades=trades,
           rounds=rounds, exit_code=ended.exit_code, reason_code=ended.reason_code)
    if app.out.stdout_closed():  # the event above had no reader; a watch that stops trading is said even with -q
        app.out.warn(f"watch stopped: {reason}; {trades} trade(s) in {rounds} round(s)")
    if ended.raised is not None:
        raise ended.raised
    if ended.exit_code in (int(ExitCode.REFUSED), int(ExitCode.AUTH), int(ExitCode.VENUE_UNAVAILABLE),
                           int(ExitCode.CONFIG)):
        raise ended.error()
    if ended.exit_code == int(ExitCode.INTERRUPTED):
        # Ended as a stopped `trade` or `scan --watch` ends: "error: interrupted" (or the signal named)
        # and, when machine-readable, the error record; a bare exit 130 left stderr without a reason.
        raise KeyboardInterrupt
    if ended.exit_code:
        raise typer.Exit(ended.exit_code)


# How often the wait between a watch's rounds reads the kill switch (the database's and the sentinel file).
HALT_POLL_SECONDS = 2.0


def _halt_stop(switch: KillSwitch) -> WatchStop | None:
    """The watch's stop when the kill switch holds, else None."""
    halt = switch.status()
    return WatchStop.refused(f"halted: {halt.reason}", "HALTED", _halt_hint(halt)) if halt.halted else None


def _sleep(seconds: float, stop: StopFlag, switch: KillSwitch | None = None, *,
           every: float = HALT_POLL_SECONDS) -> WatchStop | None:
    """Wait ``seconds`` or until a stop is asked for; the halt's stop when ``switch`` is found engaged
    meanwhile (read every ``every`` seconds). Found black-box: `orion halt` from another terminal was
    acted on only at the next round, minutes later with a long interval, while `halt` said trading was
    stopped. A read that fails is left to the next round's own check, which says why."""
    from orion_cli.core.errors import OrionError

    end = time.monotonic() + seconds
    poll = time.monotonic() + every
    while not stop.is_requested():
        now = time.monotonic()
        left = end - now
        if left <= 0:
            return None
        if switch is not None and now >= poll:
            try:
                halted = _halt_stop(switch)
            except OrionError:
                halted = None
            if halted is not None:
                return halted
            poll = time.monotonic() + every
        time.sleep(min(left, 0.1))
    return None


def _breaker_stop_at_marks(app: AppContext, mode: str, data: Any, alerts: AlertSink,
                           unmarked_said: set[tuple[Venue, str]] | None = None,
                           days_said: set[str] | None = None) -> WatchStop | None:
    """Value held positions at the round's books (best bid of the held side) and update the breaker;
    why the watch stops, or None while the breaker lets it trade. A warning the update raises is said
    (:func:`say_breaker_warnings`); so is a held position the round could not mark, valued at cost
    (:func:`_warn_unmarked`), once per market in ``unmarked_said`` (the watch's memory); and a reset hour
    changed while the recorded trading day runs (:func:`say_reset_change`), once per day in ``days_said``.

    The breaker otherwise sees positions at cost, so a market that collapses, or a leg left
    unhedged, would never reach the daily-loss or drawdown limit. A trip made now engages the kill
    switch. A trip already in force needs no halt to refuse every trade: after `orion resume` the
    daily one still does until its reset hour, and the stop says so in the words of a single trade's
    BREAKER refusal, not as a halt that is released.
    """
    from orion_cli.core.accounts import marks_from_books
    from orion_cli.risk.breaker import Breaker
    from orion_cli.store.ledger import Ledger

    settings = app.settings()
    db = app.db()
    ledger = Ledger(db, mode, reset_hour_utc=settings.breaker.reset_hour_utc)
    held = ledger.positions()
    marks = marks_from_books(held, lambda venue, market: data.books.get((venue, market)))
    _warn_unmarked(app, held, marks, data, set() if unmarked_said is None else unmarked_said)
    status = Breaker(db, settings, mode=mode, ledger=ledger, alerts=alerts).update(marks)
    say_breaker_warnings(app, status.warning_messages, watch=True)
    say_reset_change(app, mode, set() if days_said is None else days_said, status.trading_day)
    if status.trips:  # named, with the release, as a trade that trips it says (say_breaker_tripped)
        reset_at = None if status.trading_day is None else status.trading_day.end
        return WatchStop.refused(f"the loss breaker tripped on marked positions ({', '.join(status.trips)})",
                                 "HALTED", breaker_tripped_hint(status.trips, reset_at))
    if status.problems:  # what the BREAKER check of every trade would refuse with
        return WatchStop.refused(f"{REFUSED_BY_BREAKER}{'; '.join(status.problems)}", "BREAKER")
    return None


def _warn_unmarked(app: AppContext, held: Sequence[Any], marks: Mapping[Any, Decimal], data: Any,
                   said: set[tuple[Venue, str]]) -> None:
    """Warn (kept with -q) of each held position the round's books could not mark, which the breaker
    therefore values at cost: its market missing from the round (an item error, a venue down) or its
    side's book unread (a crossed book refused). Once per market per watch (``said``), not every round.
    Found in review: `balance` said "could not mark …" for such a position and the watch said nothing,
    while a loss there was hidden from its breaker."""
    for p in held:
        key = (p.venue, p.market_id)
        if p.size == 0 or (p.venue, p.market_id, p.side) in marks or key in said:
            continue
        said.add(key)
        book = data.books.get(key)
        if book is not None:
            why = book.unread(p.side) or "its side could not be read"
        else:
            why = next((e.message for e in data.errors if e.venue == p.venue.value and e.key == p.market_id),
                       data.degraded.get(p.venue) or "no book for it this round")
        app.out.warn(f"could not mark the held {p.venue.value} {p.market_id} {p.side.value}: {why}; "
                     "the loss breaker values it at cost")


def _bind_execute(app: AppContext, venues: VenueSet, source: MarketSource, op: Opportunity, size: Decimal,
                  key: str, auth: Authorization, alerts: AlertSink, low_balance: LowBalanceWatch,
                  stopped: Callable[[], bool]) -> Any:
    def factory() -> Any:
        return _execute(app, venues, source, op, size, key, auth, alerts, low_balance=low_balance, stopped=stopped)

    return factory


# The legs an opportunity trades, as (venue, market, side): the same ones come back every round, and
# under a new id after a rescan in a new minute bucket.
LegsKey = tuple[tuple[str, str, str], ...]


def legs_key(op: Opportunity) -> LegsKey:
    """What the watch remembers a refusal by (:class:`WatchRefusal`): not the id, which a rescan renews."""
    return tuple(sorted((leg.venue.value, leg.market_id, leg.side.value) for leg in op.legs))


# How long the watch judges a remembered refusal as a preview does before it lets the trade itself meet
# the checks again. The preview records nothing: live, a held market the venue settled since stays
# counted in the exposure until a trade (or `orion balance`, or reconcile) records the settlement, so a
# skip judged by previews alone could last for ever. One refusal audited per legs per period, not one a round.
REFUSAL_RECHECK_SECONDS = 600.0


@dataclasses.dataclass
class WatchRefusal:
    """A check that refused the watch's trade of some legs (``check``), whether the watch has said (a
    ``skipped`` event) that it skips them while that check would refuse them again, and when (monotonic)
    the trade itself was refused."""

    check: str
    said: bool = False
    at: float = dataclasses.field(default_factory=time.monotonic)


def _still_refused(app: AppContext, secrets: LazyStore, op: Opportunity, size: Decimal, key: str,
                   auth: Authorization, source: MarketSource, check: str) -> CheckResult | None:
    """Whether ``check`` would refuse ``op`` again: its failing result, or None when it would pass or
    this cannot tell (a read failed or refused: the trade itself then meets it and ends as it does).

    The preview's way: the books re-read and the balances read without recording them (as
    ``--confirm`` would read them), then every check in a write transaction rolled back -- the
    writers' lock is held for the checks only, as a preview holds it, and nothing is audited. It
    decides only whether the watch skips: a trade it lets through runs the whole pipeline in its own
    transaction, as ever."""
    from orion_cli.cli.commands.market_data import run
    from orion_cli.core.errors import OrionError

    venues = VenueSet(app, auth.mode, source, [leg.venue for leg in op.legs], secrets)

    async def plan_it() -> tuple[TradePlan, dict[Venue, Balance | None]]:
        try:  # quiet: a skip is said once, not every round
            return await _plan_and_balances(app, venues, source, op, size, key, write=False, quiet=True)
        finally:
            await venues.aclose()

    try:
        plan, balances = run(plan_it)
    except OrionError:
        return None
    if venues.rejected:  # a venue refused orion's credentials for a balance: the trade stops the watch on it
        return None
    ctx = _pipeline_context(app.settings(), auth.mode, True, auth.how, balances, preview=True, source=source)
    verdict = preview_verdict(app, plan, ctx)
    return next((c for c in verdict.checks if c.name == check and not c.passed), None)


def _leg_markets(op: Opportunity, markets: Mapping[tuple[Venue, str], Market] | None,
                 source: MarketSource) -> Callable[[], list[Market]]:
    """The legs' markets for :func:`size_within_limits`: the round's scan data's, or read again."""
    def read() -> list[Market]:
        from orion_cli.cli.commands.market_data import run

        known = markets or {}
        if all((leg.venue, leg.market_id) in known for leg in op.legs):
            return [known[(leg.venue, leg.market_id)] for leg in op.legs]
        return [m for m, _ in run(lambda: fresh_books(source, op)).values()]

    return read


def _trade_round(app: AppContext, secrets: LazyStore, ops: Sequence[Opportunity], auth: Authorization,
                 source: MarketSource, alerts: AlertSink, low_balance: LowBalanceWatch, stop: StopFlag, trades: int,
                 max_trades: int | None, *, source_flags: str = "",
                 refused: dict[LegsKey, WatchRefusal] | None = None,
                 markets: Mapping[tuple[Venue, str], Market] | None = None) -> tuple[int, WatchStop | None]:
    """Trade the round's opportunities best first; returns (trades, why the watch stops or None).

    None also when a stop was requested (Ctrl-C, SIGTERM, SIGHUP): the loop asks the flag itself.

    An execution of this mode left interrupted (a leg may be unhedged) stops the loop before anything
    is traded, naming the command that resumes it; an opportunity already executed under any key is
    not traded again.

    ``refused`` (the watch's, kept across rounds): the legs a check refused, audited then as every
    refusal is. While that check would refuse them again (:func:`_still_refused`) they are skipped,
    said once, not traded (and audited ``risk.rejected``) again every round: at --watch 1 one
    unchanging limit wrote 86,000 refusals a day. Once it would pass, they are traded again."""
    from orion_cli.cli.commands.market_data import run
    from orion_cli.core.command_line import with_options
    from orion_cli.core.errors import OrionError
    from orion_cli.core.opportunity import not_a_pair
    from orion_cli.core.reconcile import resume_sells_back
    from orion_cli.execution.state import resume_advice, resume_command

    settings = app.settings()
    stuck = interrupted_executions(app, auth.mode)
    if stuck:
        # Skipping it every round would hide it, and trading its legs again (under a new opportunity
        # id after a restart, or another key) would add to it; its key resumes it, never sending twice.
        p = stuck[0]
        resume = resume_command(p["opportunity_id"], p["key"], mode=p["mode"], source_flags=source_flags,
                                plan=p["plan"])
        # A halt engaged since the round's own check (a cron `reconcile --halt-on-drift` during the scan)
        # turns that command into selling the leg back: said, as everywhere the command is named.
        halt = halt_now(app)
        advice = resume_advice(resume, sells_back=halt.halted and resume_sells_back(app.db(), p["key"], p["status"],
                                                                                    p.get("result")), halt=halt)
        _event(app, "interrupted_execution", f"{p['opportunity_id']}: execution {p['key']} stopped at "
               f"{p['status']}; {advice}", opportunity_id=p["opportunity_id"], key=p["key"],
               status=p["status"], resume=with_options(resume, app.out.command_options))
        return trades, WatchStop.refused(
            f"execution {p['key']} was interrupted at {p['status']}: {advice}",
            "EXECUTION_INTERRUPTED",
            "resume it, then start the watch again; `orion reconcile` lists each one holding a leg unhedged")
    for op in ops:
        if max_trades is not None and trades >= max_trades:
            return trades, WatchStop.finished(f"max trades ({max_trades}) reached")
        if stop.is_requested():
            return trades, None
        if app.out.stdout_closed():
            return trades, WatchStop.finished(OUTPUT_CLOSED)
        key = default_key(op.id)
        prior = executions_of(app, op.id)
        if prior:  # finished, or being driven by another process now
            _event(app, "skipped", f"{op.id}: already executed", opportunity_id=op.id, key=prior[0]["key"],
                   reason="already_executed")
            continue
        basket = not_a_pair(len(op.legs))
        if basket is not None:  # every round again would refuse it again
            _event(app, "skipped", f"{op.id}: {basket}", opportunity_id=op.id, key=key, reason="INVALID_ORDER",
                   detail=basket)
            continue
        try:  # as a single trade sizes it: the scanned size, or the most the binding limit allows
            limited = size_within_limits(op, settings, _leg_markets(op, markets, source))
        except OrionError as exc:  # the legs' markets could not be read again (none of the round's data)
            _event(app, "error", f"{op.id}: {exc.message}", opportunity_id=op.id, key=key, reason=exc.reason,
                   message=exc.message)
            continue
        if limited.size is None:
            why = limited.unfit_note(op.id)
            _event(app, "skipped", f"{op.id}: {why}", opportunity_id=op.id, key=key, reason=limited.reason,
                   detail=why)
            continue
        size = limited.size
        short = short_of_venue_minimum(op, size)
        if short is not None:
            _event(app, "skipped", f"{op.id}: {short}", opportunity_id=op.id, key=key, reason="INVALID_ORDER",
                   detail=short)
            continue
        legs = legs_key(op) if refused is not None else ()
        if (refused is not None and (known := refused.get(legs)) is not None
                and time.monotonic() - known.at < REFUSAL_RECHECK_SECONDS):
            still = _still_refused(app, secrets, op, size, key, auth, source, known.check)
            if still is not None:
                if not known.said:
                    _event(app, "skipped", f"{op.id}: still refused by {known.check}: {still.detail}; skipped "
                           "until it would pass", opportunity_id=op.id, key=key, reason=known.check,
                           detail=still.detail)
                    known.said = True
                continue
        if refused is not None:
            refused.pop(legs, None)
        venues = VenueSet(app, auth.mode, source, [leg.venue for leg in op.legs], secrets)
        try:
            with stop.section():
                _, result = run(_bind_execute(app, venues, source, op, size, key, auth, alerts, low_balance,
                                              stop.stop_before_sending))
        except StoppedBeforeSending:
            return trades, None  # nothing of this trade was sent; the loop stops on the request
        except OrionError as exc:
            _event(app, "error", f"{op.id}: {exc.message}", opportunity_id=op.id, key=key, reason=exc.reason,
                   message=exc.message)
            if exc.exit_code == ExitCode.REFUSED and exc.reason in ("HALTED", "GEOBLOCKED"):
                # Every later trade would be refused the same way. Ended as `trade --confirm` ends on
                # it (reason, hint): a geoblock is no halt, and `orion halt --status` would say none.
                return trades, WatchStop.refused(exc.message, exc.reason, exc.hint)
            if isinstance(exc, SecretsError) and exc.reason not in TRANSIENT_SECRETS_REASONS:
                # A venue refused orion's credentials before any order (its balance, the exchange's
                # status), or orion has none it can use (a key removed from the vault since the watch
                # began): every later round would meet the same failure. Ended as that single trade
                # ends (exit 4) and as a refusal of an order ends the watch; an outage (exit 5) is not.
                return trades, WatchStop.credentials_refused(exc)
            continue
        failed = result.verdict.first_failure if result.status == "refused" else None
        if refused is not None and failed is not None:
            refused[legs] = WatchRefusal(failed.name)
        # The watch stream's shape: every line has `v`, `event` and `ts`, an execution as the `watch` events do.
        rec = {**result.to_record(), "v": 1, "event": "execution", "ts": _now(), "opportunity_id": op.id}
        if app.out.machine:
            app.out.stream(rec, WATCH_COLUMNS)
        else:
            _event(app, "execution", f"{op.id} {key}: {result.status} — {result.message}", key=key,
                   status=result.status)
        say_breaker_warnings(app, result.breaker_warnings, watch=True)
        say_breaker_tripped(app, result, auth.mode)
        # Every execution that sent an order counts (an unwound one risked money too), not only "done".
        if result.status != "already_done" and result.sent_orders:
            trades += 1
        if result.breaker_tripped:  # a halt, whatever else this round would have ended on
            return trades, WatchStop.refused(f"the loss breaker tripped ({', '.join(result.breaker_tripped)})",
                                             "HALTED", breaker_tripped_hint(result.breaker_tripped,
                                                                            daily_reset_at(app, auth.mode)))
        refusal = credentials_refusal(result)
        if refusal is not None:  # every later order there would be refused alike: even the --max-trades'th
            return trades, WatchStop.credentials_refused(refusal)
        if result.status == "halted":  # raise_for_result's message and hint; a halt, even on the last trade
            return trades, WatchStop.refused(f"halted: {result.message}", "HALTED",
                                             halted_execution_hint(source_flags))
        blocked = geoblock_refusal(result)
        if blocked is not None:  # an order refused for this host's location (a firewall that blocks orders only)
            return trades, WatchStop.refused(blocked.message, blocked.reason, blocked.hint)
        unsigned = version_refusal(result)
        if unsigned is not None:  # an order refused for the format orion signs: so would every later one be
            return trades, WatchStop.venue_refused(unsigned)
        if result.status != "already_done" and result.sent_orders and max_trades is not None \
                and trades >= max_trades:
            return trades, WatchStop.finished(f"max trades ({max_trades}) reached")
        if failed is not None and failed.name in ("BREAKER", "HALTED"):  # in a single trade's words
            return trades, WatchStop.refused(f"refused by {failed.name}: {failed.detail}", failed.name,
                                             halted_refusal_hint(app, auth.mode) if failed.name == "HALTED"
                                             else None)
    return trades, None


# -- the command ------------------------------------------------------------------------------------------------


def trade_command(
    ctx: typer.Context,
    op_id: Annotated[str | None, typer.Argument(metavar="[OP_ID]", help="Opportunity id from `orion scan`, "
                                                                          "traded on the data it was scanned "
                                                                          "from (--demo / --snapshot F as the "
                                                                          "scan's; omit with --watch).")] = None,
    size: Annotated[str | None, typer.Option("--size", help="Contracts per leg (default: the scanned size, "
                                                            "capped by the order limits); below one size step "
                                                            "of the legs: exit 2.")] = None,
    confirm: Annotated[bool, typer.Option("--confirm", help="Execute without asking (without it: show the "
                                                            "plan and every check, then, on a terminal, ask "
                                                            "\"Place these orders?\").")] = False,
    live: Annotated[bool, typer.Option("--live", help="Trade real money; needs --authorize-live, or the typed "
                                                      "phrase on a terminal.")] = False,
    authorize_live: Annotated[bool, typer.Option("--authorize-live", help="The second half of the live "
                                                                         "authorization (with --live; never "
                                                                         "with --demo/--snapshot: exit 2).")] = False,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key", help="Execution key (default "
                                                        "op-OP_ID; up to 64 printable characters): a re-run with "
                                                        "the same key in this ledger reports, never re-sends.")] = None,
    snapshot: SnapshotOpt = None,
    demo: DemoOpt = False,
    watch: Annotated[float | None, typer.Option("--watch", min=1, max=86400, metavar="SECONDS", callback=finite,
                                                help="Auto-execute loop: scan every SECONDS and trade the best "
                                                     "opportunities within the limits (live without credentials "
                                                     "it can use: stops at once, exit 4).")] = None,
    max_trades: Annotated[int | None, typer.Option("--max-trades", min=1, help="With --watch: stop after N "
                                                                               "executions that sent orders "
                                                                               "(done, unwound or failed).")] = None,
) -> None:
    """Show the plan and every pre-trade check for a scanned opportunity, or execute both legs.

    Without --confirm both books are re-read and the plan (legs, sizes, prices, fees, net edge) and every
    check's verdict are printed, nothing written. With no terminal (or with --json/--jsonl) that is all:
    nothing is placed, exit 0. On a terminal, when no check refuses the plan, it then asks "Place these
    orders?": yes executes it as --confirm would (the same live gate), no (the default) places nothing.
    For a key already used it shows that execution and, on a terminal, asks "Resume it?" for an
    unfinished one.

    With --confirm both legs are executed — paper
    unless live trading is authorized by both halves: --live --authorize-live, --live plus the typed
    phrase CONFIRM LIVE TRADING on a terminal, or ORION_PAPER_TRADING=0 with
    ORION_LIVE_TRADING_AUTHORIZED=true. One half alone is refused (exit 6). Ctrl-C or SIGTERM before
    anything is sent places nothing (exit 130); once orders are going out, the execution is finished
    and recorded first.

    Example:  orion trade 3kq7zx2a --demo   ·   orion trade 3kq7zx2a --confirm --size 10   ·
    orion trade --watch 30 --jsonl
    """
    from orion_cli.cli.live_venues import LazyStore

    app = get_app(ctx)
    if watch is not None:
        if op_id is not None:
            raise typer.BadParameter("--watch picks opportunities itself; omit OP_ID", param_hint="--watch")
        if idempotency_key is not None or size is not None:
            raise typer.BadParameter("--size and --idempotency-key apply to one opportunity, not --watch",
                                     param_hint="--watch")
        with LazyStore(app) as secrets:  # opened on first need (live clients, alerts), closed however this ends
            _watch(app, secrets, watch, max_trades, live, authorize_live, snapshot, demo)
        return
    if max_trades is not None:
        raise typer.BadParameter("--max-trades needs --watch", param_hint="--max-trades")
    if op_id is None:
        raise typer.BadParameter("give an opportunity id (from `orion scan`) or --watch SECONDS",
                                 param_hint="OP_ID")
    from orion_cli.core.opportunity import opportunity_id_problem

    problem = opportunity_id_problem(op_id)
    if problem is not None:  # before the ledger is opened: a typing mistake, said with the id cut
        from orion_cli.core.errors import UsageError

        raise UsageError(problem, hint=f"run `orion scan{source_flags(snapshot, demo)}` and use an id from its output")
    if idempotency_key is not None and not idempotency_key.strip():
        raise typer.BadParameter("must not be empty", param_hint="--idempotency-key")
    if idempotency_key is not None and (len(idempotency_key.strip()) > MAX_KEY or not idempotency_key.isprintable()):
        # The ledger's key column holds 64 (PostgreSQL refuses more); a line break would forge lines.
        raise typer.BadParameter(f"one line of at most {MAX_KEY} printable characters", param_hint="--idempotency-key")
    with LazyStore(app) as secrets:
        try:
            _trade_once(app, secrets, op_id, _size_option(size), confirm, live, authorize_live,
                        idempotency_key.strip() if idempotency_key else None, snapshot, demo)
        except NotFound as exc:
            # A leg's market gone from the data: the listing to look in is of the same data, as `book` says it
            # (found by a black-box review: without the flags, the hint listed the live venues).
            if exc.reason == "market_not_found":
                exc.hint = f"list markets with `orion markets{source_flags(snapshot, demo)} --search TEXT`"
            raise

