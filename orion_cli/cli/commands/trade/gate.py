"""The live-trading gate as ``orion trade`` runs it: the banner, the typed phrase or the flag pair, the audit.

The gate itself (what authorizes live trading) is :mod:`orion_cli.core.gate`; this module shows the
trader what is at stake (venues, limits, balances) before asking, and records how live was authorized.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, NamedTuple

from orion_cli.cli.commands.trade.data import RECORDED_IS_PAPER
from orion_cli.cli.commands.trade.records import audit_trade_refusal
from orion_cli.cli.commands.trade.venues import VenueSet
from orion_cli.cli.context import AppContext
from orion_cli.cli.output import stream_is_tty
from orion_cli.core.errors import OrionError
from orion_cli.core.plain_text import plural

if TYPE_CHECKING:
    from orion_cli.core.gate import Authorization
    from orion_cli.core.models import Venue
    from orion_cli.core.opportunity import Opportunity
    from orion_cli.venues.trading import Balance


STOP_AFTER_GATE_ENV = "ORION_TRADE_STOP_AFTER_GATE"


def _banner(app: AppContext, venues: VenueSet, op: Opportunity | None) -> None:
    """What the operator must see before authorizing real money: venues, limits, balances."""

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
    reads ``--demo``/``--snapshot`` data, paper only (:func:`refuse_live_on_recorded` refused every live
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
            audit_trade_refusal(app, decision.reason, decision.message, key=key, op=op,
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


def stop_after_gate(app: AppContext, auth: Authorization) -> bool:
    if os.environ.get(STOP_AFTER_GATE_ENV) != "1":
        return False
    app.out.record(auth.to_record())
    app.out.info(f"{STOP_AFTER_GATE_ENV}=1: stopped after the gate; no book read, nothing placed")
    return True


def require_ledger_for_live(app: AppContext, pre_mode: str) -> None:
    """Live orders (--live, or the environment pair) must meet the real ledger's kill switch, breaker,
    limits and positions: a mistyped --db, ORION__DATABASE__URL or ORION_HOME must not start trading
    on a new, empty ledger (exit 3). Asked before anything else opens the ledger."""
    if pre_mode == "live":
        app.db(existing=True)


def gate_notes(app: AppContext, live: bool, authorize_live: bool) -> tuple[str, ...]:
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


def mode_before_gate(live: bool, authorize_live: bool) -> _PreGate:
    from orion_cli.cli.prompts import interactive
    from orion_cli.core import gate

    d = gate.decide(live=live, authorize_live=authorize_live, environ=os.environ, tty=False)
    if isinstance(d, gate.Authorization):
        return _PreGate(d.mode, True, d.how, False)
    if d.missing == gate.FLAG_AUTHORIZE and interactive():  # --live alone, on a terminal: asked, not refused
        return _PreGate("live", False, f"--confirm asks for the phrase {gate.PHRASE!r} on this terminal", False)
    return _PreGate("live" if live else "paper", False, d.message, True)
