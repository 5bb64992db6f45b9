"""Record a live venue's balance report together with the settlements it may already hold.

Why: a venue's cash holds a settled market's payout (Kalshi from ``settled_time``; Polymarket's
balance counts a resolved, unredeemed payout in ``total``). Recorded alone, such a report would sit
beside the ledger's position still held at cost: equity counted twice, an inflated breaker peak
and, once reconcile settled the market, a false loss. So every place that records a live report
(``orion trade``, ``orion balance``; reconcile has its own transaction) first asks the venue, after
reading the report, which held markets have settled, and records both in one transaction, each
settlement's cash judged against that report. The venue's deposits and withdrawals are read and
recorded the same way, for the same reason: that report holds them, and they are capital, not profit.

Neither compares the venue's positions with the ledger's (a trade cannot wait for that read, nor
does ``orion balance`` judge them); ``orion reconcile`` does. A venue where it found positions or
fills that disagree with the ledger and did not fix them (a sale made by hand: the report holds
its cash while the ledger still holds the contracts at cost) is remembered as *held*
(:func:`hold_report`), and its reports are not recorded here either until a reconcile of it finds
none or ``--fix`` adopts them (:func:`release_report`): recorded, the sale's cash would count
beside the contracts it sold (a peak never had; a day's loss read as a gain by the BREAKER check).
A disagreement that arises after the last reconcile is not known here: the next reconcile finds it.
One exception: a live venue's first report, when the ledger has none yet, is read with the account's
positions, and where it holds any (none can be orion's yet) the venue is held the same way, so that the
limits never count without them (see :func:`record_reports`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select, update

from orion_cli.core.aio import all_of, all_or_none
from orion_cli.core.errors import OrionError
from orion_cli.core.models import Venue
from orion_cli.core.money import MICRO
from orion_cli.store.audit import iso_utc
from orion_cli.store.ledger import Ledger, SettledMarket
from orion_cli.store.tables import orion_meta
from orion_cli.venues.trading import Balance, Position, Settlement, SettlementsIncomplete, TradingVenue, Transfer

log = logging.getLogger(__name__)

def _log_warning(text: str) -> None:
    log.warning("%s", text)


HELD_PREFIX = "report_held:"  # orion_meta key report_held:<mode>:<venue>; value JSON {"since", "why"}
# In a held report's value: what was found when the ledger was found rolled back (core.rollback). Kept
# when reconcile holds the venue again for its drift; gone with the hold, when a reconcile releases it.
ROLLED_BACK = "rolled_back"


def held_key(mode: str, venue: Venue) -> str:
    """The ``orion_meta`` key that holds ``venue``'s reports in ``mode`` (the pre-trade checks read it in their
    one state statement)."""
    return f"{HELD_PREFIX}{mode}:{venue.value}"


def held_since(value: str) -> str:
    """A held report's stored value as one line: since when and why."""
    try:
        held = json.loads(value)
        said = f"since {held['since']}: {held['why']}"
        back = held.get(ROLLED_BACK)
        return said if not back or back in held["why"] else f"{said}; {back}"
    except (ValueError, TypeError, KeyError, AttributeError):
        return "by reconcile"  # not a value this module wrote: held all the same


def rolled_back_venues(conn: Connection, mode: str, venues: Iterable[Venue]) -> dict[Venue, str]:
    """The ``venues`` held since the ledger was found rolled back (:mod:`orion_cli.core.rollback`), not yet
    reconciled since, each with what was found. Nothing orion remembers of them can be trusted: neither
    a new trade there nor the resume of an execution is sent until a reconcile of the venue. A hold whose
    record cannot be read counts, as :func:`held_since` counts it held: whether it was a rollback's cannot
    be told."""
    found: dict[Venue, str] = {}
    for venue, value in _held_values(conn, mode, venues).items():
        try:
            back = json.loads(value).get(ROLLED_BACK)
        except (ValueError, TypeError, AttributeError):
            back = "its hold's record cannot be read, so whether the ledger was found rolled back cannot be told"
        if back:
            found[venue] = str(back)
    return found


def resolved(position: Position) -> bool:
    """A position the venue lists as resolved, its payout in the account's total (Polymarket's
    ``redeemable``): a payout waiting to be redeemed, not contracts at risk."""
    return position.extra.get("redeemable") == "true"


def hold_report(conn: Connection, mode: str, venue: Venue, why: str, *, now: datetime,
                rolled_back: str = "") -> None:
    """Remember, in the caller's write transaction, that ``venue``'s reports are not to be recorded
    (see the module doc): ``why``; ``since`` stays the first run's, and so does ``rolled_back`` (the
    ledger found rolled back: :func:`rolled_back_venues`)."""
    key = held_key(mode, venue)
    old = conn.execute(select(orion_meta.c.value).where(orion_meta.c.key == key)).scalar()
    since = iso_utc(now)
    if old is not None:
        try:
            earlier = json.loads(old)
            since = str(earlier["since"])
            rolled_back = rolled_back or str(earlier.get(ROLLED_BACK) or "")
        except (ValueError, TypeError, KeyError, AttributeError):
            pass
    value = json.dumps({"since": since, "why": why, **({ROLLED_BACK: rolled_back} if rolled_back else {})},
                       sort_keys=True)
    if old is None:
        conn.execute(insert(orion_meta).values(key=key, value=value))
    elif old != value:
        conn.execute(update(orion_meta).where(orion_meta.c.key == key).values(value=value))


def release_report(conn: Connection, mode: str, venue: Venue) -> None:
    """Forget that ``venue``'s reports are held: a reconcile found its positions and fills agreeing."""
    conn.execute(delete(orion_meta).where(orion_meta.c.key == held_key(mode, venue)))


def held_reports(conn: Connection, mode: str, venues: Iterable[Venue]) -> dict[Venue, str]:
    """The ``venues`` whose reports are held, each with since when and why (as one line)."""
    return {venue: held_since(value) for venue, value in _held_values(conn, mode, venues).items()}


def _held_values(conn: Connection, mode: str, venues: Iterable[Venue]) -> dict[Venue, str]:
    """The stored values of the ``venues`` whose reports are held."""
    keys = {held_key(mode, v): v for v in venues}
    if not keys:
        return {}
    rows = conn.execute(select(orion_meta.c.key, orion_meta.c.value).where(orion_meta.c.key.in_(keys)))
    return {keys[key]: value for key, value in rows}


def _live(ledger: Ledger) -> str:
    """The flag an `orion reconcile` named for ``ledger`` carries (:func:`live_flag`)."""
    from orion_cli.core.command_line import live_flag

    return live_flag(ledger.mode)


async def record_reports(ledger: Ledger, venues: Mapping[Venue, TradingVenue],
                         reports: Mapping[Venue, Balance | None], *,
                         now: datetime | None = None,
                         warn: Callable[[str], None] | None = None,
                         positions: Mapping[Venue, Sequence[Position]] | None = None) -> list[SettledMarket]:
    """Record each venue's report (read before this call) with the settlements of the markets the
    ledger holds there. A venue whose settlements cannot be read keeps its last recorded figure
    (moved by the fills since): recording the report without them could count a payout twice.

    Where only some held markets could not be checked (:class:`SettlementsIncomplete`: one record
    orion cannot read, one market's lookup failing), the others' settlements are still recorded,
    against the stored figure, and the unchecked markets are named in the warning: one market must
    not keep every other from settling (the breaker's equity, peak and daily P&L would be wrong).

    ``warn``: how the operator is told (a report not recorded, a market not checked, a voided market):
    the command's own ``warning:`` lines, kept with -q; without one, a log record.

    ``positions``: each venue's positions, read with its report (``orion balance``). Where they disagree
    with the ledger's (the markets settling aside), the report is not recorded, its settlements are, as
    for an unchecked market: recorded beside contracts sold by hand, the report's cash holding the sale
    raised the breaker's peak by equity the account never had (found reviewing first contact with
    non-empty accounts). A live trade reads none (it cannot wait for them): the next reconcile judges."""
    now = now or datetime.now(UTC)
    say = warn if warn is not None else _log_warning

    async def read(asked: tuple[Venue, Balance]) -> tuple[Balance | None, list[Settlement], list[Transfer]] | None:
        venue, report = asked
        tv = venues[venue]
        held = sorted({p.market_id for p in ledger.positions(venue)})
        # Its first report, with no position of orion's there (a ledger holding some is reconcile's to compare).
        first = ledger.mode == "live" and not held and ledger.balance(venue) is None

        async def settled() -> tuple[list[Settlement], SettlementsIncomplete | None]:
            try:
                return (await tv.settlements(held) if held else []), None
            except SettlementsIncomplete as exc:  # the others are kept
                return exc.found, exc

        async def held_already() -> int:
            """At the first report, the positions the account holds (none of them orion's yet). A resolved
            one (Polymarket lists its tokens until they are redeemed) is not a position: the report's
            ``total`` holds its payout, and a lost bet's tokens are worth nothing (found in review: adopted
            at their old cost, they settled as a loss that tripped the daily breaker)."""
            if not first:
                return 0
            given = positions.get(venue) if positions is not None else None
            return sum(1 for p in (given if given is not None else await tv.positions())
                       if abs(p.size) > MICRO and not resolved(p))

        try:
            (found, incomplete), moved, outside = await all_of(settled(), tv.transfers(), held_already())
        except OrionError as exc:
            say(f"{venue.value}: settlements or transfers not readable ({exc}); its balance report is not "
                "recorded this time")
            return None
        if outside:
            first_contact[venue] = outside
        read_with = positions.get(venue) if positions is not None and not first else None
        if read_with is not None and ledger.mode == "live":
            from orion_cli.core.reconcile.holdings import markets_disagreeing

            apart = markets_disagreeing(ledger, venue, read_with, settling={s.market_id for s in found})
            if apart:
                say(f"{venue.value}: its positions disagree with the ledger's in {len(apart)} market(s) "
                    f"({', '.join(apart[:3])}{', …' if len(apart) > 3 else ''}): its balance report is not "
                    "recorded this time (beside contracts sold by hand it would be equity the account never "
                    f"had); `orion reconcile{_live(ledger)} --venue {venue.value}` compares them")
                return None, found, []
        if incomplete is not None:
            names = "; ".join(f"{m} ({why})" for m, why in sorted(incomplete.unchecked.items())[:5])
            more = len(incomplete.unchecked) - 5
            todo = ("no answer; checked again on every run" if incomplete.unreachable else
                    f"check them at the venue; they are checked again on every run, and `orion reconcile"
                    f"{_live(ledger)}` lists them as settlement drift")
            say(f"{venue.value}: held market(s) not checked for a settlement: {names}"
                f"{f' and {more} more' if more > 0 else ''}. The other markets' settlements are recorded; its "
                f"balance report is not, while one of those may have paid into it: {todo}")
            return None, found, []
        return report, found, moved or []

    # A live venue's first report, where the account already holds positions (bought by hand, by another
    # bot): how many. Recorded, that report would stand beside a ledger holding none of them, and every
    # limit would count without them (found reviewing first contact with non-empty accounts): the
    # venue's reports are held instead, as reconcile holds them for drift, until `reconcile --fix`
    # adopts them (or a reconcile finds them gone); a live trade refuses every leg there meanwhile.
    first_contact: dict[Venue, int] = {}
    # The venues at once: a live trade waits on this before its checks.
    asked = [(v, report) for v, report in reports.items() if report is not None and v in venues]
    found = [x for x in await all_or_none(read(a) for a in asked) if x is not None]
    settled: list[SettledMarket] = []
    if not found:
        return settled
    from orion_cli.risk.breaker import record_peak

    notices: list[str] = []  # said once the transaction has committed: what it recorded, not what it meant to
    with ledger.db.write() as conn:
        holding: set[Venue] = set()
        for venue, count in first_contact.items():
            if ledger.balance(venue, conn=conn) is None:  # still its first report (none recorded meanwhile)
                hold_report(conn, ledger.mode, venue, f"{count} position(s) the account held before orion first "
                            "recorded its report, not adopted", now=now)
                holding.add(venue)
        held = held_reports(conn, ledger.mode, {report.venue for report, _, _ in found if report is not None})
        for report, settlements, moved in found:
            if report is not None and report.venue in holding:
                notices.append(f"{report.venue.value}: the account holds {first_contact[report.venue]} position(s) "
                               "orion did not trade; its first balance report is not recorded, and live trades "
                               f"there are refused, until `orion reconcile{_live(ledger)} --venue "
                               f"{report.venue.value} --fix` "
                               "adopts them (the limits count them from then on)")
                report = None
            elif report is not None and report.venue in held:
                notices.append(f"{report.venue.value}: its balance report is not recorded: `orion reconcile` "
                               "found positions or fills that disagree with the ledger and did not fix them "
                               f"({held[report.venue]}). `orion reconcile{_live(ledger)} --fix` adopts them")
                report = None  # its settlements are judged by the stored figure, as for an unchecked market
            if report is not None:
                ledger.record_transfers(moved, report, conn=conn, now=now)
                ledger.record_balance(report, conn=conn, now=now)
            for s in settlements:
                done = ledger.record_settlement(s, conn=conn, now=now, report=report)
                if done is not None:
                    settled.append(done)
                    if s.voided:
                        notices.append(f"{s.venue.value} {s.market_id}: the venue voided the market; its positions "
                                       f"were closed at what it refunded ({done.payout}), realised P&L "
                                       f"{done.realized_pnl}")
        # A payout or a higher report raises equity with no breaker update after it: its peak is
        # recorded now, or a loss recorded before the next trade's check is measured from the old one.
        record_peak(conn, ledger, now=now)
    for text in notices:
        say(text)
    return settled
