"""The loss circuit breaker: daily loss ($ and % of start-of-day equity) and drawdown from peak.

Figures come from the ledger (:meth:`Ledger.daily_pnl`: cash plus positions at their marks, or at
cost when no mark is known), so the breaker, ``orion balance`` and the executor all read one truth.
Peak equity is persisted in ``breaker_state`` so that every process sharing the database, and the
next run, measure drawdown from the same peak.

The peak is recorded on one basis only: cash plus positions at cost, or at what a settled pair
partner says they pay (:meth:`Ledger.daily_pnl` without marks, the basis of the start-of-day
snapshot too), never at marks. Why: marks are one process's view (``trade --watch`` values held
legs at its round's bids), which a single ``trade``, ``reconcile`` or the next run cannot reproduce;
a peak set at a bid above cost was read by every check at cost as a drawdown with nothing lost (a
false trip that only ``orion resume --breaker`` clears). The drawdown is still measured on the
figures the caller has: at marks, a bid below cost counts as drawdown from that peak (conservative,
as the daily loss counts it), a bid above cost is no gain in the peak until it is realised.

A limit is *reached* when the loss equals it (``loss >= limit`` trips). A warning (audit event and
alert) is raised at ``breaker.warn_at_pct`` of a limit, once per trading day per kind. A trip
engages the kill switch: kind ``breaker`` for the daily loss, ``drawdown`` for the drawdown (whose
release needs ``orion resume --breaker``). The daily part resets at ``breaker.reset_hour_utc``: a
new trading day measures from its own start-of-day equity. A daily trip's halt is *not* released
automatically at the reset (fail closed: a person resumes); the BREAKER check, though, passes again
on the new day. The day is the ledger's recorded one (:class:`TradingDay`, keyed by its start): a
trip or warning records it first, so a changed reset hour cannot end it early, nor make a past day
current again; the change takes effect when the recorded day ends (:func:`reset_change_warning`).
After a drawdown halt has been released with ``--breaker`` the peak is rebased to
the equity at that moment (on the peak's basis), otherwise the very next check would trip again on
the old peak; a watch whose held leg's bid alone is the limit below its cost trips again.

The peak is recorded wherever equity is valued inside a write transaction anyway, not only by
``update``: by ``check`` inside the pre-trade checks' transaction, and by :func:`record_peak` where
venue reports are recorded (``orion balance``, a live ``trade``, ``reconcile``). Why: equity raised
by a write that runs no ``update`` (a settlement, a report, an adopted position) was seen by the next
check and then forgotten, so a loss after it was measured from the older, lower peak and the drawdown
limit could be passed without a trip. Each writes only when the peak rises (or a released drawdown
trip is rebased): the order path runs no extra statement otherwise. ``check`` in a read-only
transaction (a preview) writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from orion_cli.core.alert_sink import AlertSink, NullAlertSink
from orion_cli.core.config import Settings
from orion_cli.core.models import Side, Venue
from orion_cli.core.money import ZERO
from orion_cli.execution.plan import CheckResult
from orion_cli.risk.halt import DRAWDOWN_KIND, KillSwitch, halt_by, missing_halt_row, release_command, scope_of
from orion_cli.store.audit import AuditLog, default_actor, iso_utc
from orion_cli.store.db import Database
from orion_cli.store.ledger import DailyPnl, DayFigures, Ledger, TradingDay, day_text, q, trading_day, used_percent
from orion_cli.store.tables import breaker_state, halt_state, plain
from orion_cli.venues.trading import Position

DAILY = "daily_loss"
DRAWDOWN = "drawdown"
HALT_KIND = {DAILY: "breaker", DRAWDOWN: DRAWDOWN_KIND}

Marks = Mapping[tuple[Venue, str, Side], Decimal]


def next_reset(now: datetime, reset_hour_utc: int) -> datetime:
    """The next ``reset_hour_utc`` after ``now`` (up to 24 h away): the end of a day of that hour alone.
    The breaker's day is the ledger's (:meth:`Ledger.current_day`), which a changed hour ends later."""
    return trading_day(now, reset_hour_utc)[1] + timedelta(days=1)


def reset_text(at: datetime) -> str:
    """A reset as a full UTC date-time ("2026-11-25 00:00 UTC"): "00:00 UTC" alone may be 24 h away."""
    return day_text(at)


def daily_trip_day(db: Database, mode: str, reset_hour_utc: int, now: datetime | None = None) -> TradingDay | None:
    """The trading day whose daily-loss trip of ``mode`` refuses trades now (until its end), or None when
    none is in force. Read from the breaker's state and the recorded day (no figures)."""
    now = now or datetime.now(UTC)
    with db.read() as conn:
        state = _load(conn, mode)
        if "daily_tripped_day" not in state.extra:
            return None
        day = Ledger(db, mode, reset_hour_utc=reset_hour_utc).current_day(now, conn=conn)
    return day if state.extra.get("daily_tripped_day") == day.key else None


def daily_trip_until(db: Database, mode: str, reset_hour_utc: int, now: datetime | None = None) -> datetime | None:
    """When the daily-loss trip of ``mode``'s trading day now stops refusing trades (its reset: the day's
    end), or None when none is in force. `orion halt --status` and `orion resume` say it, since releasing
    the kill switch does not lift it."""
    day = daily_trip_day(db, mode, reset_hour_utc, now)
    return None if day is None else day.end


def reset_change_warning(day: TradingDay) -> str | None:
    """Said (a ``warning:`` line, kept with -q) while ``breaker.reset_hour_utc`` is not the hour the
    current, recorded trading day ends at: when the change takes effect. None otherwise."""
    if not day.recorded or not day.hour_change_pending:
        return None
    return (f"breaker.reset_hour_utc is {day.reset_hour_utc}, but {day.began()} was recorded under another "
            f"reset hour: it ends at {day_text(day.end)}, and the new hour takes effect then (the next trading "
            f"day runs from {day_text(day.end)} to {day_text(day.next_end)})")


def _fmt(value: Decimal) -> str:
    """Money/percent for a detail line: at least two places, never rounded away."""
    v = plain(value)
    return f"{v:.2f}" if v == v.quantize(Decimal("0.01")) else f"{v:f}"


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """The breaker's figures at one moment and what ``update`` did about them."""

    mode: str
    day: str  # the date the trading day began on (UTC); ``trading_day`` says when it began and ends
    as_of: datetime
    equity: Decimal
    start_equity: Decimal
    peak_equity: Decimal
    daily_pnl: Decimal
    daily_loss: Decimal  # max(0, −daily_pnl)
    daily_limit: Decimal
    daily_limit_source: str  # breaker.daily_loss | breaker.daily_loss_pct
    drawdown: Decimal  # peak − equity (≥ 0)
    drawdown_pct: Decimal
    drawdown_limit_pct: Decimal
    warn_at_pct: Decimal
    marked: bool
    tripped: str | None = None  # the trip in force: daily_loss | drawdown | None
    tripped_at: str | None = None
    warnings: tuple[str, ...] = ()  # warnings raised by this update
    trips: tuple[str, ...] = ()  # trips made by this update
    problems: tuple[str, ...] = field(default_factory=tuple)  # why the BREAKER check fails now
    trading_day: TradingDay | None = None

    @property
    def reset_change(self) -> str | None:
        """:func:`reset_change_warning` of the day measured."""
        return None if self.trading_day is None else reset_change_warning(self.trading_day)

    @property
    def daily_used_pct(self) -> Decimal:
        if self.daily_limit <= 0:
            return ZERO
        return used_percent(self.daily_loss / self.daily_limit)

    @property
    def drawdown_used_pct(self) -> Decimal:
        return used_percent(self.drawdown_pct / self.drawdown_limit_pct)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self, kind: str, *, warning: bool) -> str:
        """A warning or trip of ``kind`` in words: the audit event's and alert's message, and the line
        a command says it with (:attr:`warning_messages`)."""
        what = "warning" if warning else "tripped"
        if kind == DAILY:
            return (f"{self.mode} loss breaker {what}: daily loss {_fmt(self.daily_loss)} of limit "
                    f"{_fmt(self.daily_limit)} ({self.daily_used_pct}% used, {self.daily_limit_source})")
        return (f"{self.mode} drawdown breaker {what}: equity {_fmt(self.equity)} is {_fmt(self.drawdown_pct)}% "
                f"below peak {_fmt(self.peak_equity)} (limit {_fmt(self.drawdown_limit_pct)}%)")

    @property
    def warning_messages(self) -> tuple[tuple[str, str], ...]:
        """The warnings this update raised: (kind, the words audited and alerted)."""
        return tuple((kind, self.describe(kind, warning=True)) for kind in self.warnings)

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "breaker",
            "mode": self.mode,
            "day": self.day,
            "since": None if self.trading_day is None else self.trading_day.start,
            "until": None if self.trading_day is None else self.trading_day.end,
            "as_of": self.as_of,
            "equity": self.equity,
            "start_equity": self.start_equity,
            "peak_equity": self.peak_equity,
            "daily_pnl": self.daily_pnl,
            "daily_loss": self.daily_loss,
            "daily_loss_limit": self.daily_limit,
            "limit_source": self.daily_limit_source,
            "daily_used_pct": self.daily_used_pct,
            "drawdown": self.drawdown,
            "drawdown_pct": self.drawdown_pct,
            "drawdown_limit_pct": self.drawdown_limit_pct,
            "drawdown_used_pct": self.drawdown_used_pct,
            "warn_at_pct": self.warn_at_pct,
            "marked": self.marked,
            "tripped": self.tripped,
            "tripped_at": self.tripped_at,
            "warnings": list(self.warnings),
            "trips": list(self.trips),
            "problems": list(self.problems),
        }


@dataclass
class _State:
    """One ``breaker_state`` row; ``extra`` is its JSON ``detail`` (per-kind warning/trip days)."""

    exists: bool
    peak: Decimal | None
    tripped_kind: str | None
    tripped_at: str | None
    extra: dict[str, Any]
    mode: str | None = None  # the row's mode (None: no row)

    @property
    def warned(self) -> dict[str, str]:
        w = self.extra.setdefault("warned", {})
        assert isinstance(w, dict)
        return w


_STATE = select(breaker_state).where(breaker_state.c.mode == bindparam("mode"))
_HALT = select(halt_state.c.halted, halt_state.c.kind, halt_state.c.by).where(halt_state.c.id == 1)


# The kill switch and this mode's breaker state in one round trip (the pre-trade checks need both and
# add their other single-value reads to it).
HALT_AND_STATE = (select(halt_state, breaker_state)
                  .select_from(halt_state.outerjoin(breaker_state, breaker_state.c.mode == bindparam("mode")))
                  .where(halt_state.c.id == 1))


def _load(conn: Connection, mode: str) -> _State:
    return state_of(conn.execute(_STATE, {"mode": mode}).first())


def state_of(row: Any) -> _State:
    """A ``breaker_state`` row (or the breaker half of :data:`HALT_AND_STATE`; no row: never written)."""
    if row is None or row.mode is None:
        return _State(False, None, None, None, {})
    try:
        extra = json.loads(row.detail) if row.detail else {}
    except ValueError:
        extra = {}
    if not isinstance(extra, dict):
        extra = {}
    peak = None if row.peak_equity is None else Decimal(row.peak_equity)
    return _State(True, peak, row.tripped_kind, row.tripped_at, extra, row.mode)


def _halt_row(conn: Connection) -> Any:
    return conn.execute(_HALT).first()


def _drawdown_released(state: _State, halt: Any) -> bool:
    """A drawdown trip whose halt is no longer engaged was released with ``--breaker``.

    The trip forces the halt's kind to ``drawdown``, and :meth:`KillSwitch.release` refuses that
    kind without ``breaker=True``; so a drawdown trip with no drawdown halt was deliberately released.
    A halt of paper trading only (:mod:`orion_cli.risk.halt`) holds no live trip: a paper drawdown halt
    engaged after a live one was released must not keep the live peak from its rebase.
    """
    if state.tripped_kind != DRAWDOWN:
        return False
    if halt is None or not (halt.halted and halt.kind == DRAWDOWN):
        return True
    return scope_of(halt_by(halt.by)) not in (None, state.mode)


def _peak(state: _State, halt: Any, basis: Decimal, start_equity: Decimal) -> Decimal:
    """The peak as of ``basis`` (equity on the peak's basis, see the module doc): the persisted one
    raised to it; the equity itself once a drawdown trip was released; never recorded, the day's
    start if higher (a loss already taken today is measured)."""
    if state.peak is None:
        return max(basis, start_equity)
    if _drawdown_released(state, halt):
        return basis
    return max(state.peak, basis)


def _rebase(conn: Connection, mode: str, state: _State, basis: Decimal, now: datetime,
            actor: Mapping[str, Any]) -> None:
    """A released drawdown trip: the peak restarts at ``basis`` (audited as ``breaker.reset``); ``state``
    is changed, the caller writes it (its ``detail`` too).

    The drawdown's once-a-day warning is cleared with it: measured from a new peak, the drawdown
    approaching the limit again is news. Kept, the warned day outlived the reset and the drawdown
    reached 80% of its limit again the same day with no warning before the trip."""
    AuditLog.append(conn, "breaker.reset", {"kind": DRAWDOWN, "old_peak": state.peak, "new_peak": basis,
                                            "tripped_at": state.tripped_at}, mode=mode, actor=actor, now=now)
    state.peak, state.tripped_kind, state.tripped_at = basis, None, None
    state.warned.pop(DRAWDOWN, None)


def _stored_values(state: _State, *, peak: Decimal | None = None) -> dict[str, Any]:
    """The breaker row's columns as ``state`` holds them (``peak``: the peak to store instead)."""
    return {
        "peak_equity": state.peak if peak is None else peak,
        "warned_day": _warned_day(state),
        "tripped_kind": state.tripped_kind,
        "tripped_at": state.tripped_at,
        "detail": json.dumps(state.extra, sort_keys=True),
    }


def _warned_day(state: _State) -> str | None:
    return max(state.warned.values()) if state.warned else None


def _record_peak(conn: Connection, mode: str, state: _State, halt: Any, basis: Decimal, start_equity: Decimal,
                 now: datetime, actor: Mapping[str, Any]) -> Decimal:
    """Persist the peak as of ``basis`` in the caller's write transaction; returns it. ``state`` and
    ``halt`` are what the caller read in that transaction. Writes nothing when the stored peak stands."""
    values: dict[str, Any] = {"updated_at": iso_utc(now)}
    if _drawdown_released(state, halt):
        _rebase(conn, mode, state, basis, now, actor)
        values.update(tripped_kind=None, tripped_at=None, warned_day=_warned_day(state),
                      detail=json.dumps(state.extra, sort_keys=True))
    peak = _peak(state, halt, basis, start_equity)
    if state.exists and state.peak == q(peak) and len(values) == 1:
        return peak
    values["peak_equity"] = q(peak)
    if state.exists:
        conn.execute(update(breaker_state).where(breaker_state.c.mode == mode).values(**values))
    else:
        conn.execute(insert(breaker_state).values(mode=mode, detail=json.dumps(state.extra, sort_keys=True),
                                                  **values))
        state.exists = True
    state.peak = q(peak)
    return peak


def record_peak(conn: Connection, ledger: Ledger, *, now: datetime,
                actor: Mapping[str, Any] | None = None) -> Decimal:
    """Raise the breaker's persisted peak to the ledger's equity now, in the caller's write transaction,
    after it recorded what may have raised it (a venue report, a settlement, an adopted position); the
    peak. A released drawdown trip is rebased here too. See the module doc for why."""
    row = conn.execute(HALT_AND_STATE, {"mode": ledger.mode}).first()
    if row is None:  # no kill-switch row: a damaged ledger, said as such (not a breaker "never written")
        raise missing_halt_row(conn)
    pnl = ledger.daily_pnl(daily_loss=ZERO, daily_loss_pct=ZERO, now=now, conn=conn)
    return _record_peak(conn, ledger.mode, state_of(row), row, pnl.equity, pnl.start_equity, now,
                        actor or ledger.actor or default_actor())


def refused_at_a_limit(check: CheckResult) -> bool:
    """Whether a failed BREAKER check found a limit reached (or a trip in force): figures that
    :meth:`Breaker.update` trips on. Not when it failed closed (the figures could not be computed,
    the check was not evaluated, the breaker was another mode's)."""
    return check.name == "BREAKER" and not check.passed and check.at_limit


class Breaker:
    """The loss breaker of one mode. ``update`` after fills/marks change; ``check`` before orders."""

    def __init__(self, db: Database, settings: Settings, *, mode: str, ledger: Ledger, alerts: AlertSink) -> None:
        self.db = db
        self.settings = settings
        self.mode = mode
        self.ledger = ledger
        self.alerts = alerts
        self._marks: dict[tuple[Venue, str, Side], Decimal] = {}

    @classmethod
    def for_connection(cls, conn: Connection, settings: Settings, *, mode: str) -> Breaker:
        """A read-only breaker for a caller that has only a connection (the pipeline's fallback)."""
        engine = conn.engine
        db = Database(engine, engine.url.render_as_string(hide_password=False))
        ledger = Ledger(db, mode, reset_hour_utc=settings.breaker.reset_hour_utc)
        return cls(db, settings, mode=mode, ledger=ledger, alerts=NullAlertSink())

    # -- figures -----------------------------------------------------------------------------------

    def _pnl(self, now: datetime, conn: Connection | None = None,
             held_positions: Sequence[Position] | None = None, day_figures: DayFigures | None = None) -> DailyPnl:
        b = self.settings.breaker
        return self.ledger.daily_pnl(daily_loss=b.daily_loss, daily_loss_pct=b.daily_loss_pct, marks=self._marks,
                                     now=now, conn=conn, held_positions=held_positions, day_figures=day_figures)

    def _basis(self, pnl: DailyPnl, now: datetime, conn: Connection | None = None,
               held_positions: Sequence[Position] | None = None, day_figures: DayFigures | None = None) -> Decimal:
        """Equity on the peak's basis (see the module doc): ``pnl``'s own without marks, else valued again
        without them (on the same connection; only a marked update or status pays for the second read)."""
        if not self._marks:
            return pnl.equity
        return self.ledger.daily_pnl(daily_loss=ZERO, daily_loss_pct=ZERO, now=now, conn=conn,
                                     held_positions=held_positions, day_figures=day_figures).equity

    def _status(self, pnl: DailyPnl, basis: Decimal, state: _State, halt: Any, now: datetime, *,
                peak: Decimal | None = None, warnings: tuple[str, ...] = (),
                trips: tuple[str, ...] = ()) -> BreakerStatus:
        """``basis``: equity on the peak's basis (:meth:`_basis`); the drawdown is ``pnl.equity``'s."""
        b = self.settings.breaker
        if peak is None:
            peak = _peak(state, halt, basis, pnl.start_equity)
        loss = max(ZERO, -pnl.pnl)
        dd = max(ZERO, peak - pnl.equity)
        dd_pct = q(dd * 100 / peak) if peak > 0 else ZERO
        problems: list[str] = []
        if pnl.limit > 0 and loss >= pnl.limit:
            problems.append(f"daily loss {_fmt(loss)} >= limit {_fmt(pnl.limit)} ({pnl.limit_source})")
        if peak > 0 and dd_pct >= b.drawdown_pct:
            problems.append(f"drawdown {_fmt(dd_pct)}% from peak {_fmt(peak)} >= breaker.drawdown_pct "
                            f"{_fmt(b.drawdown_pct)}%")
        tripped, tripped_at = state.tripped_kind, state.tripped_at
        if state.extra.get("daily_tripped_day") == pnl.key:
            # Said beside a loss still over the limit too: the figures alone do not tell that the
            # refusal lasts until the reset, however they move after a resume.
            problems.append(f"daily loss breaker tripped in {pnl.trading_day.began()}; it resets at "
                            f"{reset_text(pnl.until)}")
        if tripped == DRAWDOWN:
            if _drawdown_released(state, halt):
                tripped, tripped_at = None, None
            elif not any(p.startswith("drawdown") for p in problems):
                problems.append(f"drawdown breaker tripped at {state.tripped_at}; release needs "
                                f"`{release_command(DRAWDOWN_KIND)}`")
        elif tripped == DAILY and state.extra.get("daily_tripped_day") != pnl.key:
            tripped, tripped_at = None, None
        return BreakerStatus(
            mode=self.mode, day=pnl.day, as_of=now, equity=pnl.equity, start_equity=pnl.start_equity,
            peak_equity=plain(peak), daily_pnl=pnl.pnl, daily_loss=plain(loss), daily_limit=pnl.limit,
            daily_limit_source=pnl.limit_source, drawdown=plain(dd), drawdown_pct=plain(dd_pct),
            drawdown_limit_pct=b.drawdown_pct, warn_at_pct=b.warn_at_pct, marked=pnl.marked, tripped=tripped,
            tripped_at=tripped_at, warnings=warnings, trips=trips, problems=tuple(problems),
            trading_day=pnl.trading_day,
        )

    def status(self, now: datetime | None = None) -> BreakerStatus:
        """The figures right now, without writing anything."""
        now = now or datetime.now(UTC)
        with self.db.read() as conn:
            state = _load(conn, self.mode)
            halt = _halt_row(conn)
            pnl = self._pnl(now, conn)
            basis = self._basis(pnl, now, conn)
        return self._status(pnl, basis, state, halt, now)

    # -- the pipeline check ------------------------------------------------------------------------

    def check(self, conn: Connection, now: datetime, *, halt_and_state: Any = None,
              held_positions: Sequence[Position] | None = None,
              day_figures: DayFigures | None = None) -> CheckResult:
        """BREAKER: fails when a breaker limit is reached right now, or a trip is still in force.

        ``halt_and_state`` (a :data:`HALT_AND_STATE` row for this mode), ``held_positions`` and
        ``day_figures`` are what the pipeline already read on ``conn``. In a write transaction (the
        checks' own, before the intents) a peak higher than the stored one is persisted there.
        """
        try:
            if halt_and_state is not None:
                state, halt = state_of(halt_and_state), halt_and_state
            else:
                state, halt = _load(conn, self.mode), _halt_row(conn)
            # On the checks' own connection: one consistent view, and no second connection per trade.
            pnl = self._pnl(now, conn, held_positions, day_figures)
            basis = self._basis(pnl, now, conn, held_positions, day_figures)
            peak = None
            if Database.in_write(conn):
                peak = _record_peak(conn, self.mode, state, halt, basis, pnl.start_equity, now,
                                    self.ledger.actor or default_actor())
            st = self._status(pnl, basis, state, halt, now, peak=peak)
        except Exception as exc:  # fail closed: a breaker that cannot be computed refuses
            return CheckResult("BREAKER", False, f"cannot compute the breaker: {type(exc).__name__}: {exc}"[:500])
        if st.problems:
            return CheckResult("BREAKER", False, "; ".join(st.problems), at_limit=True)
        marked = "" if st.marked else " (positions at cost: no marks)"
        return CheckResult(
            "BREAKER", True,
            f"daily loss {_fmt(st.daily_loss)} < limit {_fmt(st.daily_limit)}; drawdown {_fmt(st.drawdown_pct)}% "
            f"< {_fmt(st.drawdown_limit_pct)}% (peak {_fmt(st.peak_equity)}){marked}",
        )

    # -- update: persist the peak, warn, trip ------------------------------------------------------

    def update(self, marks: Marks | None = None, now: datetime | None = None) -> BreakerStatus:
        """Recompute from the ledger; persist the peak; warn at ``warn_at_pct``; trip at a limit."""
        now = now or datetime.now(UTC)
        if marks is not None:
            self._marks = dict(marks)
        b = self.settings.breaker
        actor = self.ledger.actor or default_actor()
        alerts: list[tuple[str, str, dict[str, Any]]] = []
        with self.db.write() as conn:
            state = _load(conn, self.mode)
            stored = _stored_values(state) if state.exists else None
            halt = _halt_row(conn)
            # Read inside the write lock: no other process can commit a fill between this and our writes.
            pnl = self._pnl(now, conn)
            basis = self._basis(pnl, now, conn)
            day = pnl.key
            if _drawdown_released(state, halt):
                _rebase(conn, self.mode, state, basis, now, actor)
            elif state.tripped_kind == DAILY and state.extra.get("daily_tripped_day") != day:
                state.tripped_kind, state.tripped_at = None, None
            peak = _peak(state, halt, basis, pnl.start_equity)
            st = self._status(pnl, basis, state, halt, now, peak=peak)
            warn_share = b.warn_at_pct / 100
            warnings: list[str] = []
            trips: list[str] = []
            figures = {k: v for k, v in st.to_record().items() if k not in ("type", "warnings", "trips", "problems")}

            daily_hit = st.daily_limit > 0 and st.daily_loss >= st.daily_limit
            dd_hit = st.peak_equity > 0 and st.drawdown_pct >= b.drawdown_pct
            # A kind whose trip is in force warns of nothing: the day's daily trip (refusing until the
            # reset, whatever the figures do after `orion resume`), a drawdown trip not yet released
            # with --breaker (a released one was rebased above). A warning "84% used" after the trip
            # told the operator the limit was still ahead.
            daily_in_force = state.extra.get("daily_tripped_day") == day
            drawdown_in_force = state.tripped_kind == DRAWDOWN
            if daily_hit and not daily_in_force:
                trips.append(DAILY)
            elif not daily_hit and not daily_in_force and st.daily_limit > 0 and st.daily_loss > 0 \
                    and st.daily_loss >= st.daily_limit * warn_share and state.warned.get(DAILY) != day:
                warnings.append(DAILY)
            if dd_hit and not drawdown_in_force:
                trips.append(DRAWDOWN)
            elif not dd_hit and not drawdown_in_force and st.drawdown_pct > 0 \
                    and st.drawdown_pct >= b.drawdown_pct * warn_share and state.warned.get(DRAWDOWN) != day:
                warnings.append(DRAWDOWN)

            if warnings or trips:
                # The day is recorded before anything is kept by its key: its bounds then stand until it
                # ends, whatever reset hour another process or a config edit sets meanwhile.
                self.ledger.ensure_day(conn, now)
            for kind in warnings:
                state.warned[kind] = day
                message = self._describe(kind, st, warning=True)
                AuditLog.append(conn, "breaker.warning", {"kind": kind, "message": message, **figures},
                                mode=self.mode, actor=actor, now=now)
                alerts.append(("breaker.warning", message, {"kind": kind, **figures}))
            for kind in trips:
                message = self._describe(kind, st, warning=False)
                if kind == DAILY:
                    state.extra["daily_tripped_day"] = day
                if kind == DAILY and state.tripped_kind == DRAWDOWN:
                    pass  # a drawdown trip in force outranks the daily one
                else:
                    state.tripped_kind, state.tripped_at = kind, iso_utc(now)
                # The figures were taken before this trip: their trip in force was the one before it (none,
                # for a first trip: the event said "tripped": null). The event names the one in force now.
                payload = {"kind": kind, "halt_kind": HALT_KIND[kind], "message": message,
                           **figures, "tripped": state.tripped_kind, "tripped_at": state.tripped_at}
                # The cause before its effect in the audit log: the trip, then the halt it engages.
                AuditLog.append(conn, "breaker.tripped", payload, mode=self.mode, actor=actor, now=now)
                self._trip(conn, kind, message, actor)
                alerts.append(("breaker.tripped", message, {k: v for k, v in payload.items() if k != "message"}))

            new = _stored_values(state, peak=q(peak))
            values = {**new, "updated_at": iso_utc(now)}
            # Unchanged, no write: a quiet `trade --watch 1` rewrote its updated_at alone every round, some
            # 16 KB a second of the database's journal (found in a soak).
            if not state.exists:
                conn.execute(insert(breaker_state).values(mode=self.mode, **values))
            elif new != stored:
                conn.execute(update(breaker_state).where(breaker_state.c.mode == self.mode).values(**values))
            halt = _halt_row(conn)
            result = self._status(pnl, basis, state, halt, now, peak=peak, warnings=tuple(warnings),
                                  trips=tuple(trips))
        # Alerts after the commit: never announce a change that was rolled back.
        for kind, message, payload in alerts:
            self.alerts.emit(kind, message, payload)
        return result

    def _describe(self, kind: str, st: BreakerStatus, *, warning: bool) -> str:
        return st.describe(kind, warning=warning)

    def _trip(self, conn: Connection, kind: str, message: str, actor: dict[str, Any]) -> None:
        switch = KillSwitch(self.db, sentinel_file=self.settings.halt.sentinel_file, mode=self.mode)
        halt = switch.engage(message, kind=HALT_KIND[kind], actor=actor, conn=conn, automatic=True)
        if kind == DRAWDOWN and halt.kind != DRAWDOWN:
            # Already halted for another reason: the drawdown must still need `resume --breaker`.
            conn.execute(update(halt_state).where(halt_state.c.id == 1).values(kind=DRAWDOWN))
