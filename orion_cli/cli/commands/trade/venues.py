"""The trading venues one ``orion trade`` run uses: live clients from the vault, or paper venues on the ledger.

Built on first need and only for the venues the legs trade, so a paper trade never asks the vault for a
key; the balances the plan and the BALANCE check read come from here too, with the paper preview's read
from the ledger without writing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from orion_cli.cli.commands.trade.data import current_time
from orion_cli.cli.commands.trade.sizing import ZERO
from orion_cli.cli.context import AppContext
from orion_cli.core.errors import AuthError, OrionError, StorageError

if TYPE_CHECKING:
    from orion_cli.cli.live_venues import LazyStore
    from orion_cli.core.models import Venue
    from orion_cli.execution.plan import TradePlan
    from orion_cli.venues.base import MarketSource
    from orion_cli.venues.trading import Balance, TradingVenue


MISSING_CREDENTIALS_HINT = "store them with `orion secrets encrypt`"


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
                    out[v] = Bal(v, "paper", start, ZERO, start, current_time(), source="ledger")
                else:  # as PaperVenue.balance(): the paper venue's figure is the ledger's, never stale
                    out[v] = Bal(v, "paper", bal.available, bal.reserved, bal.total, current_time(), source="ledger")
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


def register_markets(venues: Mapping[Venue, TradingVenue], plan: TradePlan) -> None:
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
