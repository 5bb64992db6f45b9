"""Stopping a long-running command on a signal: at once, or after the work that must not be cut."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orion_cli.core.alert_sink import AlertSink

# The stop signal that ended the command, if not Ctrl-C: every message about the stop names it.
terminated_by: list[str] = []


def _note(signum: int) -> None:
    _stops_seen[0] += 1
    name = signal.Signals(signum).name
    terminated_by[:] = [] if name == "SIGINT" else [name]


# -- test hook -------------------------------------------------------------------------------------
# Signal tests (tests/cli/test_signal_after_outcome.py) stop a real process at a named point: with
# ORION_TEST_PAUSE_AT=<point>, the process says "orion-test: paused at <point>" on stderr there and
# waits (at most PAUSE_SECONDS) for a stop signal to be handled. Read once, at import; inert unless set.
_PAUSE_AT: str | None = os.environ.get("ORION_TEST_PAUSE_AT") or None
PAUSE_SECONDS = 5.0
PAUSE_POINTS = ("trade_end", "reconcile_started", "reconcile_decided", "exit", "teardown")
_stops_seen = [0]  # stop signals handled by orion's handlers, for the pause to end on


def pause_point(point: str, seconds: float = PAUSE_SECONDS) -> None:
    """The test hook's pause at ``point`` (see above), at most ``seconds``; nothing unless ORION_TEST_PAUSE_AT
    names it."""
    if _PAUSE_AT is None or _PAUSE_AT != point:
        return
    seen = _stops_seen[0]
    os.write(2, f"orion-test: paused at {point}\n".encode())
    deadline = time.monotonic() + seconds
    while _stops_seen[0] == seen and time.monotonic() < deadline:
        time.sleep(0.005)


class _TeardownProbe:
    """The "teardown" pause: in the interpreter's own teardown, after it has given every signal with a
    Python handler back to the system's default (a stop there killed orion: exit 143 or 129)."""

    def __del__(self, write: object = os.write, sleep: object = time.sleep) -> None:
        write(2, b"orion-test: paused at teardown\n")  # type: ignore[operator]
        sleep(1.0)  # type: ignore[operator]  # no handler can run here to end it early


_teardown_probe = _TeardownProbe() if _PAUSE_AT == "teardown" else None


def stop_reason() -> str:
    """"interrupted" (Ctrl-C), or "terminated (SIGTERM)" and the like."""
    return f"terminated ({terminated_by[0]})" if terminated_by else "interrupted"


def _terminate(signum: int, frame: FrameType | None) -> None:
    _note(signum)
    raise KeyboardInterrupt


def stop_like_ctrl_c() -> None:
    """SIGTERM and SIGHUP end any command as Ctrl-C does: its transactions roll back, its locks and
    files are released, it says so and exits 130. Left to the default they killed it at once (exit
    143 or 129, nothing said), even during a write or after a trade was done and recorded.

    Only a signal still at its default is taken: one the caller ignores (``nohup``) stays ignored.
    """
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _terminate)


class StopFlag:
    """Ctrl-C outside an execution stops at once; inside one it is deferred until the execution is recorded.

    SIGTERM (how systemd, Docker and `kill` stop a service) and SIGHUP (the terminal went away) are
    treated the same way: without them a stopped service died between its two legs.
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, out: Any, *, during: str = "the execution") -> None:
        self.out = out
        self.during = during  # what a stop that came before the outcome was decided came during
        self.requested = False
        self.critical = False
        self.sending = False  # inside a section, past stop_before_sending: orders may be going out
        self.doing = ""  # a section that is not an execution: what it finishes before stopping
        # The outcome is decided and recorded (decide()): a stop from then on is noted, never raised,
        # and the command ends with the outcome's own exit code; stopped_before_decided: one came earlier.
        self.decided = False
        self.stopped_before_decided = False
        self.held = False  # hold_until_exit(): the handlers are kept until the process exits
        self.held_as = "the outcome is decided and recorded"  # what a stop while held is told
        self._stops_while_held = 0
        self._previous: dict[int, Any] = {}

    @property
    def reason(self) -> str:
        return stop_reason()

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.held:
            self._stops_while_held += 1
            if self._stops_while_held > 1:
                _stop_now(signum)
        if self.decided and self.stopped_before_decided:
            # The stop that came during the execution still ends it (130, or the execution's own
            # non-zero code) and keeps its name; this one only waits. It said "exiting with its exit
            # code" and named itself, and the trade then exited 130 for the earlier stop.
            _stops_seen[0] += 1
            with contextlib.suppress(Exception):
                self.out.info(f"already stopping ({stop_reason()}, during {self.during}): finishing what is left…")
            return
        if self.requested:  # a stop after the first (named as it came: "interrupted" after SIGTERM read wrong)
            _stops_seen[0] += 1
        else:
            _note(signum)
        self.requested = True
        if self.decided:
            with contextlib.suppress(Exception):
                self.out.info(f"{self.held_as}: finishing, then exiting with its exit code (stop again to "
                              "exit at once)…" if self.held else
                              f"{self.held_as}: finishing, then exiting with its exit code…")
            return
        if self.critical:
            # Before stop_before_sending the section is still reading books and checks: it stops
            # there, and "after the execution in flight" would be followed by "nothing placed".
            said = (f"stopping after {self.doing}…" if self.doing
                    else "stopping after the execution in flight is recorded…" if self.sending
                    else "stopping before anything is sent…")
            with contextlib.suppress(Exception):
                self.out.info(said)
            return
        raise KeyboardInterrupt

    def is_requested(self) -> bool:
        return self.requested

    def stop_before_sending(self) -> bool:
        """Asked just before the executor starts: True stops there with nothing sent. From here on a
        stop waits for the execution to be recorded. Marked before asking, so no stop is missed; one
        landing between the two is seen here, after having said "after the execution in flight"."""
        self.sending = True
        return self.is_requested()

    def decide(self) -> None:
        """The outcome is decided and recorded (a trade's execution returned: its orders and result are
        committed). Called inside a section, so no stop can land in between. From here on a stop is
        only noted: what is left (the wait for alerts, saying the result) is finished, and the command
        ends with the outcome's exit code, not 130: a script read a trade that had completed as
        interrupted. A stop that came before stays one (``stopped_before_decided``). The first call
        counts: the execution says it as it returns, the command again once it is back."""
        if self.decided:
            return
        self.stopped_before_decided = self.requested
        self.decided = True

    def stopped_after_decided(self) -> bool:
        return self.decided and self.requested and not self.stopped_before_decided

    def hold_until_exit(self, said: str | None = None) -> None:
        """The command's outcome (its exit code) is decided: from here until the process exits a stop
        is only noted (:meth:`decide`), never raised, and the handlers are never given back.

        Given back after the wait for alerts, they let a stop cut the output, the metrics file and
        the error boundary's message short: a `trade` done and printed exited 130, a `reconcile` that
        found drift (exit 7) exited 130 with no metrics written. Given back at all, the interpreter's
        teardown (which resets a Python-handled signal to the system's default) let the stop kill the
        process, no message, exit 143 (SIGHUP 129). The console script's last act is
        :func:`ignore_stops_at_exit`. Installed here if it was not.

        A second stop while held exits at once (130, :func:`_stop_now`): what is left may hang (a ledger
        read on a database gone quiet), and the operator must not need SIGKILL. ``said``: what a stop is
        told is decided (the default: the outcome, recorded; a run that failed says so)."""
        if said is not None:
            self.held_as = said
        if not self.decided:
            self.decide()
        if not self._previous:
            self.install()
        self.held = True
        if self not in _held:
            _held.append(self)

    def install(self) -> None:
        for signum in self.SIGNALS:
            # A signal the caller chose to ignore stays ignored: under `nohup` (SIGHUP) or as a
            # background job of a script (SIGINT) the command is meant to outlive it.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                self._previous[signum] = signal.signal(signum, self._handler)

    def restore(self) -> None:
        if self.held:  # kept until the process exits (hold_until_exit)
            return
        for signum, previous in self._previous.items():
            if previous is not None:
                signal.signal(signum, previous)
        self._previous.clear()

    @contextlib.contextmanager
    def section(self, doing: str = "") -> Iterator[None]:
        self.critical = True
        self.sending = False
        self.doing = doing
        try:
            yield
        finally:
            self.critical = self.sending = False
            self.doing = ""


_held: list[StopFlag] = []  # the stops held until the process exits (StopFlag.hold_until_exit)


def _stop_now(signum: int) -> None:
    """A second stop while a decided outcome is held: the operator insists, so the process exits at once
    (130, as any stop; the outcome was recorded before the hold), saying so with what a handler may call."""
    name = signal.Signals(signum).name
    with contextlib.suppress(OSError):
        os.write(2, f"error: stopped again ({name}) while finishing: exiting at once (130)\n".encode())
    os._exit(130)


def ignore_stops_at_exit() -> None:
    """The console script's last act, after the command has ended: a command whose outcome is decided
    and held (:meth:`StopFlag.hold_until_exit`) ignores SIGINT, SIGTERM and SIGHUP from here on. The
    interpreter's teardown resets a signal with a Python handler to the system's default, under
    which a stop killed the process with 143 (129) after it had printed its outcome; an ignored one it
    leaves ignored. The exit code is the command's."""
    if not _held:
        return
    for signum in StopFlag.SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, signal.SIG_IGN)


def release_held() -> None:
    """Give back the handlers of every held stop (for a command run inside a longer-lived process, as the
    tests run it; the console script never does)."""
    while _held:
        stop = _held.pop()
        stop.held = False
        stop.restore()


def flush_alerts(stop: StopFlag, alerts: AlertSink) -> None:
    """The wait for alerts at exit (at most 5 s), a stop in it deferred until it ends; the signals stay
    ``stop``'s (see :func:`flush_alerts_then_restore`)."""
    with stop.section("the alerts are delivered or audited"):
        alerts.flush(5.0)


def flush_alerts_then_restore(stop: StopFlag, alerts: AlertSink) -> None:
    """The wait for alerts at exit (at most 5 s), a stop still deferred, then the signals given back
    (``stop`` installed). `halt` and `resume` end with it; `trade`, `trade --watch` and `reconcile`, whose
    exit code is decided by then, wait with :func:`flush_alerts` and keep their stop
    (:meth:`StopFlag.hold_until_exit`).

    A stop during the wait raised out of it: the undelivered alerts (a drift's, a breaker trip's) were
    never audited, and what the command still had to say (the breaker's "HALTED" line, the execution's
    own exit code, the watch's last record, the drift found) was lost. The caller reports, then ends as
    the stop does when ``stop.requested`` is set."""
    try:
        flush_alerts(stop, alerts)
    finally:
        stop.restore()


@contextlib.contextmanager
def finish_first(out: Any, doing: str) -> Iterator[StopFlag]:
    """Hold a stop (Ctrl-C, SIGTERM, SIGHUP) until a change and its audit record are both written.

    Stopped between the two, a command changed the vault with no ``secrets.changed`` event and said
    only "terminated"; after `secrets rotate`, the OS keyring kept the old password too. The caller
    reports what was done, then ends as a stop does when ``requested`` is set (see :func:`end_if_stopped`).
    Nothing in the section may prompt: a held Ctrl-C could not end a question.
    """
    stop = StopFlag(out)
    stop.install()
    try:
        with stop.section(doing):
            yield stop
    finally:
        stop.restore()


def end_if_stopped(stop: StopFlag, done: str) -> None:
    """A stop held over a change (:func:`finish_first`, or a ``section`` of ``stop``) ends the command
    now (exit 130), saying what was finished."""
    if stop.requested:
        with contextlib.suppress(Exception):
            stop.out.info(f"{stop.reason}: {done} first")
        raise KeyboardInterrupt
