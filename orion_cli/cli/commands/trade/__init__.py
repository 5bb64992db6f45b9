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
key: its execution's), else exit 2 before any request (:func:`refuse_other_data`).

Test hook: ``ORION_TRADE_STOP_AFTER_GATE=1`` stops right after the live gate and its
``live.authorized`` audit event, before any book is read or any venue contacted (rehearse the gate).
"""

from __future__ import annotations

from typing import Annotated

import typer

from orion_cli.cli.commands.market_data import DemoOpt, SnapshotOpt, source_flags
from orion_cli.cli.commands.trade.once import trade_once
from orion_cli.cli.commands.trade.sizing import parse_size_option
from orion_cli.cli.commands.trade.watch import run_watch
from orion_cli.cli.context import get_app
from orion_cli.cli.params import finite
from orion_cli.core.errors import NotFound

MAX_KEY = 64  # the executions table's key column


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
                                                     "opportunities within the limits, each only if it earns "
                                                     "trading.min_profit at the size it trades (live without "
                                                     "credentials it can use: stops at once, exit 4).")] = None,
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
            run_watch(app, secrets, watch, max_trades, live, authorize_live, snapshot, demo)
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
            trade_once(app, secrets, op_id, parse_size_option(size), confirm, live, authorize_live,
                       idempotency_key.strip() if idempotency_key else None, snapshot, demo)
        except NotFound as exc:
            # A leg's market gone from the data: the listing to look in is of the same data, as `book` says it
            # (found by a black-box review: without the flags, the hint listed the live venues).
            if exc.reason == "market_not_found":
                exc.hint = f"list markets with `orion markets{source_flags(snapshot, demo)} --search TEXT`"
            raise
