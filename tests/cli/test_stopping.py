"""What a stop signal inside a trade's section says, before and after the orders may be going out."""

from __future__ import annotations

import io
import signal

import pytest

from orion_cli.cli.output import Output
from orion_cli.cli.stopping import StopFlag, terminated_by


def _flag() -> tuple[StopFlag, io.StringIO]:
    err = io.StringIO()
    return StopFlag(Output("jsonl", stdout=io.StringIO(), stderr=err)), err


def test_a_stop_while_the_trade_is_prepared_says_it_stops_before_sending() -> None:
    """Found by black-box testing: Ctrl-C while the books were read said "stopping after the execution
    in flight is recorded…" and then "nothing placed"; nothing was in flight."""
    stop, err = _flag()
    stop.install()
    try:
        with stop.section():
            signal.raise_signal(signal.SIGINT)  # deferred: no KeyboardInterrupt inside a section
            assert stop.stop_before_sending() is True
        assert "stopping before anything is sent" in err.getvalue()
        assert "in flight" not in err.getvalue()
    finally:
        stop.restore()
        terminated_by.clear()


def test_a_stop_once_orders_may_be_going_out_waits_for_the_execution() -> None:
    stop, err = _flag()
    stop.install()
    try:
        with stop.section():
            assert stop.stop_before_sending() is False
            signal.raise_signal(signal.SIGTERM)
            assert stop.requested
        assert "stopping after the execution in flight is recorded" in err.getvalue()
        assert stop.reason == "terminated (SIGTERM)"
        with stop.section():  # a new section (the next trade of a watch) starts before sending again
            signal.raise_signal(signal.SIGINT)
        assert err.getvalue().endswith("stopping before anything is sent…\n")
    finally:
        stop.restore()
        terminated_by.clear()


def test_later_stops_keep_the_first_ones_name() -> None:
    """Found in review: SIGTERM, SIGTERM, SIGHUP, then SIGINT during an execution ended "interrupted" (the last
    one's name); the stop that mattered was the first: "terminated (SIGTERM)"."""
    stop, _ = _flag()
    stop.install()
    try:
        with stop.section():
            assert stop.stop_before_sending() is False
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.raise_signal(sig)
        assert stop.reason == "terminated (SIGTERM)"
    finally:
        stop.restore()
        terminated_by.clear()


def test_a_stop_after_the_outcome_is_decided_is_noted_never_raised() -> None:
    """Once a trade's outcome is decided and recorded, a stop (inside a section or not) only waits:
    the command ends with the outcome's exit code. A stop before it stays a stop."""
    stop, err = _flag()
    stop.install()
    try:
        with stop.section():
            assert stop.stop_before_sending() is False
            stop.decide()
        signal.raise_signal(signal.SIGTERM)  # outside any section: raised KeyboardInterrupt before decide()
        assert stop.requested and stop.stopped_after_decided() and not stop.stopped_before_decided
        assert "the outcome is decided and recorded" in err.getvalue()
    finally:
        stop.restore()
        terminated_by.clear()
    stop, err = _flag()
    stop.install()
    try:
        with stop.section():
            assert stop.stop_before_sending() is False
            signal.raise_signal(signal.SIGINT)  # while the execution runs
            stop.decide()
        signal.raise_signal(signal.SIGINT)
        assert stop.stopped_before_decided and not stop.stopped_after_decided()
    finally:
        stop.restore()
        terminated_by.clear()


def test_only_the_first_decide_counts() -> None:
    """The execution says its outcome is decided as it returns, the command again once it is back: a
    stop between the two came after the outcome, and must not be taken for one before it."""
    stop, _err = _flag()
    stop.install()
    try:
        with stop.section():
            assert stop.stop_before_sending() is False
            stop.decide()
            signal.raise_signal(signal.SIGINT)
            stop.decide()
        assert stop.stopped_after_decided() and not stop.stopped_before_decided
    finally:
        stop.restore()
        terminated_by.clear()


def test_a_second_stop_after_the_outcome_is_decided_keeps_the_first_stop_and_its_words() -> None:
    """Found in review: SIGTERM during the execution, then SIGHUP while the alerts were flushed, said
    "the outcome is decided and recorded: finishing, then exiting with its exit code…" and the trade
    then exited 130 "terminated (SIGHUP)": the first stop still decided the exit, under another name."""
    stop, err = _flag()
    stop.install()
    try:
        with stop.section():
            assert stop.stop_before_sending() is False
            signal.raise_signal(signal.SIGTERM)  # while the execution runs: it ends as a stop
            stop.decide()
        with stop.section("the alerts are delivered or audited"):
            signal.raise_signal(signal.SIGHUP)
        signal.raise_signal(signal.SIGINT)  # outside any section: still only noted, never raised
        assert stop.stopped_before_decided and not stop.stopped_after_decided()
        assert stop.reason == "terminated (SIGTERM)"
        said = err.getvalue()
        assert "exiting with its exit code" not in said, said
        assert "already stopping (terminated (SIGTERM), during the execution)" in said, said
    finally:
        stop.restore()
        terminated_by.clear()


def test_a_second_stop_while_the_outcome_is_held_exits_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: once held until exit, every stop was only noted; a reconcile then reading a ledger on
    a database gone quiet could be ended by SIGKILL alone. The first stop is noted (the command ends with
    its own code); a second exits at once, 130, saying so."""
    from orion_cli.cli import stopping

    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(stopping.os, "_exit", fake_exit)
    stop, err = _flag()
    try:
        stop.hold_until_exit(said="the run has ended (its exit code is decided)")
        signal.raise_signal(signal.SIGTERM)
        assert exits == [] and stop.stopped_after_decided()
        assert "the run has ended (its exit code is decided): finishing" in err.getvalue()
        assert "stop again to exit at once" in err.getvalue()
        with pytest.raises(SystemExit):
            signal.raise_signal(signal.SIGINT)
        assert exits == [130]
    finally:
        stopping.release_held()
        terminated_by.clear()
