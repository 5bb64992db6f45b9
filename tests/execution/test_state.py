"""The execution status machine's helpers: what a printed resume command must say while halted."""

from __future__ import annotations

import json

import pytest

from orion_cli.execution.state import HALT_SELLS_BACK, halt_sells_back, resume_advice

DUST = {"leg": "first", "venue": "kalshi", "market": "KX", "side": "yes", "shares": "0.4"}


@pytest.mark.parametrize(("status", "result", "sells_back"), [
    ("leg1_sent", "{}", True),  # a first leg that filled is then sold back, not hedged
    ("leg1_done", "{}", True),
    ("leg2_sent", {"intents": {"l1": {}, "l2": {}}}, True),
    ("halted", "{}", True),  # halted for an outcome unknown: the resume would hedge once released
    ("halted", "not json", True),  # unreadable: warned, the safe side
    ("intents", "{}", False),  # nothing sent: the resume ends it, halted or not
    ("hedged", "{}", False),
    ("unwinding", "{}", False),  # its unwind had begun: it buys nothing either way
    ("leg2_sent", json.dumps({"intents": {"l1": {}, "l2": {}, "u1": {"leg": "first"}}}), False),
    ("halted", json.dumps({"dust": DUST}), False),  # the halt said to close the dust by hand
    ("leg2_sent", json.dumps({"dust": DUST}), True),  # dust recorded but not halted for: still hedges
    ("halted", json.dumps({"dust_accepted": DUST}), False),
    ("done", "{}", False),
])
def test_a_halt_turns_a_resume_into_selling_back_only_where_it_would_have_hedged(
        status: str, result: str | dict[str, object], sells_back: bool) -> None:
    """As the executor decides: a halt stops the hedge's buys (the filled first leg is sold back instead),
    and changes nothing for a resume that buys nothing anyway."""
    assert halt_sells_back(status, result) is sells_back


def test_the_advice_names_the_command_and_while_halted_says_what_it_would_do() -> None:
    command = "orion trade op1 --confirm --idempotency-key op-op1 --demo"
    assert resume_advice(command, sells_back=False) == f"resume it with `{command}`"
    assert resume_advice(command, sells_back=False, first=True) == f"resume it first with `{command}`"
    # The release as a script must type it: `orion resume` alone refuses without a terminal (exit 6).
    assert resume_advice(command, sells_back=True, first=True) == (
        f"{HALT_SELLS_BACK}; run `orion resume --yes` first, then resume it with `{command}` to hedge it")
    # Not "--confirm would …": beside a trader's own --confirm (a new trade it refuses) that named the wrong one.
    assert HALT_SELLS_BACK == "halted: resuming it now sells the filled leg back (up to trading.max_unwind_loss)"


@pytest.mark.parametrize(("kind", "sentinel", "release"), [
    ("manual", None, "run `orion resume --yes`"),
    ("drawdown", None, "run `orion resume --breaker --yes`"),
    ("drawdown", "/srv/stop orion",
     "remove the sentinel file '/srv/stop orion', then run `orion resume --breaker --yes`"),
    ("sentinel", "/srv/stop", "remove the sentinel file /srv/stop"),
])
def test_while_halted_the_advice_names_the_exact_release(kind: str, sentinel: str | None, release: str) -> None:
    """Found by black-box review: "run `orion resume` first" refused without a terminal (pass --yes),
    after a drawdown trip for --breaker too, and while the sentinel file exists releases nothing."""
    from orion_cli.risk.halt import HaltStatus

    halt = HaltStatus(halted=True, reason="r", kind=kind, since="2026-11-22T09:00:00Z", by={}, sentinel=sentinel)
    assert resume_advice("orion trade op1 --confirm", sells_back=True, halt=halt) == (
        f"{HALT_SELLS_BACK}; {release} first, then resume it with `orion trade op1 --confirm` to hedge it")


@pytest.mark.parametrize(("plan", "named"), [
    (json.dumps({"source_flags": " --demo"}), " --demo"),  # recorded: wins over the naming command's data
    (json.dumps({"source_flags": " --snapshot '/data/my snaps/a.json.gz'"}), " --snapshot '/data/my snaps/a.json.gz'"),
    (json.dumps({"source_flags": ""}), ""),  # traded on the live books
    ("{}", " --snapshot b.json"),  # recorded before orion kept them: the naming command's
    ("not json", " --snapshot b.json"),
    # never pasted into a shell as given: only --snapshot and one quoted path, as the trade writes it
    (json.dumps({"source_flags": " --snapshot a.json; rm -rf ~"}), " --snapshot b.json"),
    (json.dumps({"source_flags": " --live"}), " --snapshot b.json"),
    # found in review: not as the trade writes it (an absolute path, one line), so not orion's
    (json.dumps({"source_flags": " --snapshot --live"}), " --snapshot b.json"),
    (json.dumps({"source_flags": " --snapshot a.json"}), " --snapshot b.json"),
    (json.dumps({"source_flags": " --snapshot '/a\nwarning: forged.json'"}), " --snapshot b.json"),
])
def test_the_resume_command_carries_the_data_flags_its_execution_recorded(plan: str, named: str) -> None:
    """Found by black-box testing: `orion resume`, which has no data flags of its own, named a paper
    execution's resume without the --demo it was traded on."""
    from orion_cli.execution.state import resume_command

    assert resume_command("op1", "op-op1", mode="paper", source_flags=" --snapshot b.json", plan=plan) == \
        f"orion trade op1 --confirm --idempotency-key op-op1{named}"
