"""The live gate through a real pseudo-terminal: the typed phrase, a wrong phrase, and no terminal at all.

The child is the real `orion` process on a pty (stdin and stdout are terminals, so the gate may prompt).
`ORION_TRADE_STOP_AFTER_GATE=1` (documented in `orion_cli.cli.commands.trade`) stops it right after the
gate and its `live.authorized` audit event, before any book is read or any venue contacted: these
tests prove the gate, never a live order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orion_cli.cli.app import app as orion_app
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database

ROOT = Path(__file__).resolve().parents[2]
ORION = ROOT / ".venv" / "bin" / "orion"
PROMPT_TAIL = "to trade with real money:"

# The installed script when the README's venv is there, else the same entry point through this interpreter.
ORION_ARGV = [str(ORION)] if ORION.exists() else [sys.executable, "-m", "orion_cli"]


@pytest.fixture
def op_id() -> str:
    result = CliRunner().invoke(orion_app, ["scan", "--demo", "--jsonl"])
    assert result.exit_code == 0, result.stderr
    return str(json.loads(result.stdout.splitlines()[0])["id"])


@pytest.fixture
def live_op_id(op_id: str) -> str:
    """The scanned opportunity as if scanned from the live venues: a live trade must be of live-priced
    data (one scanned from --demo is refused, exit 2). Nothing reads a book: the gate stops the child."""
    from orion_cli.store import opportunities as store

    db = open_database(None)
    try:
        op, _ = store.load(db, op_id)
        with db.write() as conn:
            store.save(conn, [op], source="live venues (kalshi prod)")
    finally:
        db.dispose()
    return op_id


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1", "COLUMNS": "200", "LINES": "50",
                "ORION_TRADE_STOP_AFTER_GATE": "1", **extra})
    return env


def run_on_pty(argv: list[str], answer: str | None, *, timeout: float = 30.0,
               enter: bool = True, prompt: str = PROMPT_TAIL, **env: str) -> tuple[int, str, str]:
    """Run ``argv`` on a new pty; type ``answer`` (and Enter, unless ``enter`` is false) when ``prompt``
    (the phrase prompt's tail by default) appears. (exit code, before, all)."""
    import pty_session

    before: list[str] = []
    try:
        code, output = pty_session.run_on_pty(argv, [(prompt, answer or "")], child_env(**env), timeout=timeout,
                                              enter=enter, mark=False, before=before)
    except TimeoutError as exc:
        pytest.fail(f"the child did not finish: {exc}")
    return code, (before[0] if before else ""), output


def audit_events(type_: str) -> list[Any]:
    db = open_database(None)
    try:
        return AuditLog(db).tail(100, types=(type_,))
    finally:
        db.dispose()


def test_correct_phrase_authorizes_live_and_audits_how(live_op_id: str, tmp_path: Path) -> None:
    argv = [*ORION_ARGV, "trade", live_op_id, "--live", "--confirm"]
    code, before, output = run_on_pty(argv, "CONFIRM LIVE TRADING")
    assert before, f"no phrase prompt appeared:\n{output}"
    # The banner comes first: venues, limits and balances.
    assert "LIVE TRADING" in before and "kalshi" in before and "polymarket" in before
    assert "limits:" in before and "balance" in before
    assert code == 0, output
    assert "authorized (typed)" in output
    events = audit_events("live.authorized")
    assert len(events) == 1
    assert events[0].mode == "live" and events[0].payload["how"] == "typed"
    assert events[0].payload["opportunity_id"] == live_op_id
    assert audit_chain_ok()


def audit_chain_ok() -> bool:
    db = open_database(None)
    try:
        return AuditLog(db).verify().ok
    finally:
        db.dispose()


@pytest.mark.parametrize("answer", ["confirm live trading", "CONFIRM LIVE", ""])
def test_wrong_phrase_is_refused_with_exit_6(live_op_id: str, tmp_path: Path, answer: str) -> None:
    argv = [*ORION_ARGV, "trade", live_op_id, "--live", "--confirm"]
    code, before, output = run_on_pty(argv, answer)
    assert before, f"no phrase prompt appeared:\n{output}"
    assert code == 6, output
    assert "CONFIRM LIVE TRADING" in output.split(PROMPT_TAIL, 1)[1]
    assert audit_events("live.authorized") == []


@pytest.mark.parametrize("keys", ["\x03", "\x04"], ids=["ctrl-c", "ctrl-d"])
def test_cancelling_the_phrase_prompt_is_an_interruption_exit_130(live_op_id: str, keys: str) -> None:
    """Ctrl-C or Ctrl-D at the phrase is "interrupted" (DESIGN: 130), not a wrong phrase; nothing authorized."""
    argv = [*ORION_ARGV, "trade", live_op_id, "--live", "--confirm"]
    code, before, output = run_on_pty(argv, keys, enter=False)
    assert before, f"no phrase prompt appeared:\n{output}"
    assert code == 130, output
    assert "interrupted" in output.split(PROMPT_TAIL, 1)[1]
    assert "Traceback" not in output
    assert audit_events("live.authorized") == []


def test_no_terminal_refuses_at_once_naming_the_other_half(live_op_id: str, tmp_path: Path) -> None:
    argv = [*ORION_ARGV, "trade", live_op_id, "--live", "--confirm"]
    started = time.monotonic()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                          env=child_env())
    assert proc.returncode == 6, proc.stderr
    assert "--authorize-live" in proc.stderr
    assert PROMPT_TAIL not in proc.stdout + proc.stderr
    assert time.monotonic() - started < 30
    assert audit_events("live.authorized") == []


def test_the_phrase_is_not_asked_when_stderr_would_hide_the_banner(live_op_id: str, tmp_path: Path) -> None:
    """Found by a black-box review: `trade --live --confirm 2>log` on a terminal showed only the phrase prompt,
    the banner (venues, limits, balances) gone to the file, and the phrase typed there authorized real money
    unseen. Refused instead, as without a terminal (exit 6, naming --authorize-live and why)."""
    log = tmp_path / "stderr.log"
    argv = ["/bin/sh", "-c", 'exec "$@" 2>"$ORION_TEST_STDERR"', "sh", *ORION_ARGV, "trade", live_op_id, "--live",
            "--confirm"]
    code, before, output = run_on_pty(argv, "CONFIRM LIVE TRADING", timeout=60, ORION_TEST_STDERR=str(log))
    assert before == "" and PROMPT_TAIL not in output, output
    assert code == 6, output + log.read_text()
    said = log.read_text()
    assert "--authorize-live" in said and "stderr is not a terminal" in said, said
    assert audit_events("live.authorized") == []


def test_flag_pair_on_a_terminal_never_prompts_and_audits_flag(live_op_id: str, tmp_path: Path) -> None:
    argv = [*ORION_ARGV, "trade", live_op_id, "--live", "--authorize-live", "--confirm"]
    code, before, output = run_on_pty(argv, None)
    assert before == "" and code == 0, output
    assert "LIVE TRADING" in output and "limits:" in output
    events = audit_events("live.authorized")
    assert [e.payload["how"] for e in events] == ["flag"]


def test_a_preview_on_a_terminal_asks_before_placing_and_no_places_nothing(op_id: str) -> None:
    code, before, output = run_on_pty([*ORION_ARGV, "trade", op_id, "--demo"], "n",
                                      prompt="Place these orders?")
    assert before, f"no confirmation prompt appeared:\n{output}"
    assert code == 0, output
    assert "nothing placed" in output and audit_events("order.intent") == []


@pytest.mark.parametrize("typed", ["sorry", "why", "y" * 2], ids=["sorry", "why", "yy"])
def test_a_word_with_a_y_in_it_places_nothing_and_the_question_stays(op_id: str, typed: str) -> None:
    """Found in review: "Place these orders? (y/N)" took any single ``y`` keystroke for yes: "sorry" typed there
    placed the orders (its last letter), live ones too. Only y/yes is yes; another word is refused in place
    and the question stays, here answered n: nothing placed."""
    import pty_session

    # The refused word stays in the field to be edited: Ctrl-U clears it before the n.
    answers = [("Place these orders? (y/N)", typed), ("answer y (yes) or n (no)", "\x15n")]
    code, output = pty_session.run_on_pty([*ORION_ARGV, "trade", op_id, "--demo"], answers,
                                          child_env(ORION_TRADE_STOP_AFTER_GATE="0"), timeout=30)
    assert code == 0, output
    assert "nothing placed" in output and audit_events("order.intent") == [], output


def test_keys_typed_before_the_question_are_not_its_answer(op_id: str) -> None:
    """Found in review: "y" and Enter typed while the plan was still being read answered the question once it
    showed, and the orders were placed. What was typed before the question is discarded: the question is
    answered by what is typed at it (here n: nothing placed)."""
    import pty_session

    answers = [("", "y"), ("Place these orders? (y/N)", "n")]  # the first typed at once, long before the question
    code, output = pty_session.run_on_pty([*ORION_ARGV, "trade", op_id, "--demo"], answers,
                                          child_env(ORION_TRADE_STOP_AFTER_GATE="0"), timeout=30)
    assert code == 0, output
    assert "nothing placed" in output and audit_events("order.intent") == [], output


def test_trade_help_says_a_preview_on_a_terminal_can_place_and_yes_does(op_id: str) -> None:
    """Found by a docs review: `trade --help` said "Without --confirm nothing is placed", yet on a terminal
    the preview asks "Place these orders?" and a yes executes the plan. The help now says both, and a
    yes here (paper, demo data) does place both legs."""
    helped = CliRunner().invoke(orion_app, ["trade", "--help"], env={"COLUMNS": "400"})
    assert helped.exit_code == 0, helped.output
    text = " ".join(helped.stdout.replace("│", " ").split())
    assert "Without --confirm nothing is placed" not in text and "place nothing)" not in text
    assert 'With no terminal (or with --json/--jsonl) that is all: nothing is placed, exit 0.' in text
    assert ('On a terminal, when no check refuses the plan, it then asks "Place these orders?": yes executes it as '
            '--confirm would (the same live gate), no (the default) places nothing.') in text
    assert 'then, on a terminal, ask "Place these orders?"' in text  # --confirm's own help

    code, before, output = run_on_pty([*ORION_ARGV, "trade", op_id, "--demo"], "y",
                                      prompt="Place these orders?", ORION_TRADE_STOP_AFTER_GATE="0")
    assert before, f"no confirmation prompt appeared:\n{output}"
    assert code == 0, output
    assert len(audit_events("order.intent")) == 2, output  # both legs sent (to the paper venue)


def test_placing_from_a_preview_says_the_gates_notes_once(op_id: str) -> None:
    """Found in review: the preview warned a note, and the gate warned it again once "y" was typed."""
    code, before, output = run_on_pty([*ORION_ARGV, "trade", op_id, "--demo"], "y",
                                      prompt="Place these orders?", ORION_PAPER_TRADING="false")
    assert before, f"no confirmation prompt appeared:\n{output}"
    assert code == 0, output
    assert "PAPER" in output  # past the gate (ORION_TRADE_STOP_AFTER_GATE stops it there)
    assert output.count("warning: ignored ORION_PAPER_TRADING='false'") == 1, output


def test_a_preview_of_an_interrupted_key_offers_to_resume_it(op_id: str) -> None:
    """Found in review: the preview of an interrupted key planned afresh and, DUPLICATE failing,
    offered nothing; it shows the execution and offers to resume it by its stored plan."""
    from cli.test_trade_cli import killed_between_the_legs

    done = CliRunner().invoke(orion_app, ["trade", op_id, "--demo", "--confirm", "--size", "7"])
    assert done.exit_code == 0, done.output
    killed_between_the_legs()
    code, before, output = run_on_pty([*ORION_ARGV, "trade", op_id, "--demo"], "y",
                                      prompt="Resume it?", ORION_TRADE_STOP_AFTER_GATE="0")
    assert before, f"no resume prompt appeared:\n{output}"
    assert code == 0 and "resuming it" in output, output
    assert len(audit_events("order.intent")) == 2  # nothing sent twice


def test_a_preview_of_an_interrupted_key_while_halted_asks_whether_to_sell_the_leg_back(op_id: str) -> None:
    """Found by black-box testing: halted, the preview of an interrupted key still asked "Resume it?", and
    yes sold the filled first leg back at a loss (a halt sends no further buy) where `orion resume` first
    would have hedged it. The question says so; no sends nothing."""
    from cli.test_trade_cli import _killed_after_the_first_leg

    from orion_cli.execution.state import HALT_SELLS_BACK

    _killed_after_the_first_leg(op_id)
    assert CliRunner().invoke(orion_app, ["halt", "-r", "drift"]).exit_code == 0
    code, before, output = run_on_pty([*ORION_ARGV, "trade", op_id, "--demo"], "n",
                                      prompt="Halted: resume it anyway, selling the filled leg back?",
                                      ORION_TRADE_STOP_AFTER_GATE="0")
    assert before, f"no question appeared:\n{output}"
    assert code == 0 and "Resume it?" not in output, output
    said = f"{HALT_SELLS_BACK}; run `orion resume --yes` first. Nothing was planned or placed"
    assert said in before, before  # said in full just above it
    assert "nothing sent" in output and len(audit_events("order.intent")) == 2  # the killed execution's


def test_a_preview_a_check_refuses_does_not_offer_to_place(op_id: str) -> None:
    """Found by black-box testing: right after "would be refused by ORDER_CONTRACTS" the preview asked
    "Place these orders?"; answering yes then failed with exit 6."""
    code, before, output = run_on_pty([*ORION_ARGV, "trade", op_id, "--demo", "--size", "101"], "y",
                                      prompt="Place these orders?")
    assert code == 0, output
    assert not before and "Place these orders?" not in output
    assert "would be refused by ORDER_CONTRACTS" in output and audit_events("order.intent") == []


@pytest.mark.parametrize(("flags", "env"), [((), {"ORION_PAPER_TRADING": "0"}),
                                           ((), {"ORION_LIVE_TRADING_AUTHORIZED": "true"}),
                                           (("--authorize-live",), {})])
def test_a_preview_the_live_gate_would_refuse_does_not_offer_to_place(
        op_id: str, flags: tuple[str, ...], env: dict[str, str]) -> None:
    """Found by black-box testing: with half of an authorization the preview said "would be refused by
    NOT_AUTHORIZED", then asked "Place these orders?"; yes then failed at the gate with exit 6.
    `--authorize-live` beside --demo (paper only) is a usage error now, before any plan."""
    code, before, output = run_on_pty([*ORION_ARGV, "trade", op_id, "--demo", *flags], "y",
                                      prompt="Place these orders?", **env)
    assert code == (2 if flags else 0), output
    assert not before and "Place these orders?" not in output
    # (a usage panel on a terminal styles the flags in its words: matched by a plain part)
    assert ("paper only" if flags else "would be refused by NOT_AUTHORIZED") in output
    assert audit_events("order.intent") == []


def test_a_preview_that_confirming_would_refuse_does_not_offer_to_place(op_id: str) -> None:
    """Found in review: beside an interrupted execution of the same opportunity the preview still
    ended "every check passes"; it ends saying why --confirm would be refused, and does not ask."""
    from decimal import Decimal

    from sqlalchemy import insert

    from orion_cli.store.tables import executions

    at = "2026-11-22T09:00:00Z"
    db = open_database(None)
    try:
        with db.write() as conn:
            conn.execute(insert(executions), {"key": "op-before", "opportunity_id": op_id, "mode": "paper",
                                              "status": "leg1_sent", "size": Decimal(5), "plan": "{}",
                                              "result": "{}", "created_at": at, "updated_at": at})
    finally:
        db.dispose()
    code, before, output = run_on_pty([*ORION_ARGV, "trade", op_id, "--demo", "--idempotency-key", "k-2"], "y",
                                      prompt="Place these orders?")
    assert code == 0, output
    assert not before and "Place these orders?" not in output
    assert "--confirm would be refused" in output and "every check passes" not in output
    assert audit_events("order.intent") == []


def test_resume_on_a_terminal_refuses_a_drawdown_halt_without_breaker_before_asking(op_id: str) -> None:
    """Found by a black-box review: `orion resume` on a terminal asked for RESUME under a drawdown-breaker halt,
    and only once it was typed said that releasing it needs --breaker. Said before asking now; with
    --breaker it asks, and the typed RESUME releases it."""
    from orion_cli.risk.halt import KillSwitch

    db = open_database(None)
    try:
        KillSwitch(db).engage("drawdown 12.00% >= 10.00%", kind="drawdown")
    finally:
        db.dispose()
    prompt = "Type RESUME to release the kill switch:"
    code, before, output = run_on_pty([*ORION_ARGV, "resume"], "RESUME", prompt=prompt)
    assert before == "" and prompt not in output, output
    assert code == 6 and "needs --breaker" in output and "orion resume --breaker --yes" in output, output
    code, before, output = run_on_pty([*ORION_ARGV, "resume", "--breaker"], "RESUME", prompt=prompt)
    assert before and code == 0, output
    assert [e.payload.get("kind") for e in audit_events("halt.released")] == ["drawdown"]
