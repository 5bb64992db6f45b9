"""The --config/--db a command orion names carries (core/command_line), and where the CLI applies it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from orion_cli.cli.output import Output
from orion_cli.core.command_line import (
    actor_command,
    command_words,
    global_options,
    set_actor_command,
    with_global_options,
    with_options,
)
from orion_cli.core.logs import configure_logging, reset_logging

OPTS = "--db /srv/other.db"


def test_each_backticked_command_gets_the_options_right_after_orion() -> None:
    text = "`orion halt --status` says more, `orion resume --yes` releases the kill switch"
    assert with_global_options(text, OPTS) == (
        "`orion --db /srv/other.db halt --status` says more, `orion --db /srv/other.db resume --yes` releases "
        "the kill switch")
    assert with_global_options("see `orion`", OPTS) == "see `orion --db /srv/other.db`"


@pytest.mark.parametrize("text", [
    "`orion --db URL halt` engages the kill switch on URL without the file",  # a placeholder, as written
    "`orion --config /etc/orion/prod.toml config show` checks it",  # a file chosen for it
    "`orion --db=/x.db halt --status`",
    "see `orion trade --help`",  # reads neither the configuration nor a ledger
    "see `orion audit tail -h`",
    "orion's own orders, and orion resume --yes unquoted",  # not a command in backticks
    "`orionx resume`",
    "",
])
def test_what_names_its_own_ledger_or_configuration_or_no_command_is_left_as_written(text: str) -> None:
    assert with_global_options(text, OPTS) == text


def test_it_is_idempotent_and_nothing_without_options() -> None:
    once = with_global_options("run `orion resume` first, then `orion trade op1 --confirm --demo`", OPTS)
    assert with_global_options(once, OPTS) == once
    assert with_global_options("`orion resume --yes`", "") == "`orion resume --yes`"
    assert with_options("orion trade op1 --confirm", OPTS) == "orion --db /srv/other.db trade op1 --confirm"
    assert with_options("orion --db URL halt", OPTS) == "orion --db URL halt"


def test_the_options_are_absolute_quoted_and_a_password_masked(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert global_options(None, None) == ""
    assert global_options(Path("prod config.toml"), "led.db") == (
        f"--config '{tmp_path / 'prod config.toml'}' --db {tmp_path / 'led.db'}")
    assert global_options(None, "sqlite:///rel.db") == f"--db sqlite:///{tmp_path / 'rel.db'}"
    shown = global_options(None, "postgresql://orion:s3cret@db.example/orion")
    assert "s3cret" not in shown and shown == "--db 'postgresql://orion:***@db.example/orion'"
    assert global_options(None, "postgresql://db.example/orion") == "--db postgresql://db.example/orion"
    # Never a failure of its own: every message of the command (its error too) is said through it.
    assert global_options(None, "a\x00b") == "--db 'a\x00b'"


def _output(fmt: str = "jsonl") -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output(fmt, stdout=out, stderr=err, command_options=OPTS), out, err


def test_output_gives_every_message_and_record_the_options() -> None:
    """Messages (error and hint, warning, banner, info), the JSON error record and a record's text fields
    say the same commands, each with the options."""
    output, out, err = _output()
    output.error("resume needs confirmation", "`orion resume --yes`")
    output.warn("trading is halted; `orion resume --yes` releases the kill switch")
    output.banner("HALTED: drift found; `orion resume --yes` releases the kill switch.")
    output.info("`orion reconcile` lists them")
    output.error_record(6, "EXECUTION_INTERRUPTED", "not executed: resume it first with `orion trade op1 --confirm`")
    output.record({"type": "drift", "detail": "resume it with `orion trade op1 --confirm`", "qty": 3,
                   "nested": [{"message": "`orion resume` first"}]})
    flagged = "orion --db /srv/other.db"
    lines = err.getvalue().splitlines()
    assert lines[:5] == ["error: resume needs confirmation", f"hint: `{flagged} resume --yes`",
                         f"warning: trading is halted; `{flagged} resume --yes` releases the kill switch",
                         f"HALTED: drift found; `{flagged} resume --yes` releases the kill switch.",
                         f"`{flagged} reconcile` lists them"]
    assert json.loads(lines[5])["message"] == f"not executed: resume it first with `{flagged} trade op1 --confirm`"
    assert json.loads(out.getvalue()) == {"type": "drift", "detail": f"resume it with `{flagged} trade op1 --confirm`",
                                          "qty": 3, "nested": [{"message": f"`{flagged} resume` first"}]}


def test_data_shown_as_recorded_keeps_its_text_and_the_messages_about_it_still_change() -> None:
    output, out, err = _output()
    output.commands_in_data = False  # `audit tail`: events as they were recorded
    event = {"type": "audit", "payload": {"message": "run `orion resume` first"}}
    output.stream(event, [])
    output.warn("`orion audit verify` names the first bad event")
    assert json.loads(out.getvalue()) == event
    assert err.getvalue() == "warning: `orion --db /srv/other.db audit verify` names the first bad event\n"


@pytest.fixture
def _fresh_logging() -> Iterator[None]:
    reset_logging()
    yield
    reset_logging()


@pytest.mark.usefixtures("_fresh_logging")
def test_a_log_record_naming_a_command_carries_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    """settlement's warning "`orion reconcile --fix` adopts them" reaches stderr through logging."""
    configure_logging("warning", command_options=OPTS)
    logging.getLogger("orion_cli.test").warning("%s: `orion reconcile --fix` adopts them", "kalshi")
    assert "kalshi: `orion --db /srv/other.db reconcile --fix` adopts them" in capsys.readouterr().err
    # A later command's own options (none here) are its own, though logging stays configured.
    configure_logging("warning")
    logging.getLogger("orion_cli.test").warning("`orion reconcile` lists them")
    assert "`orion reconcile` lists them" in capsys.readouterr().err


# -- the command an audit event's actor names --------------------------------------------------


_VALUES = frozenset({"--db", "--config", "--format", "-n", "--size", "--idempotency-key", "-r", "--reason"})


@pytest.mark.parametrize(("args", "words"), [
    (["--db", "postgresql://orion:PW@h/db", "init"], "init"),
    (["--db=postgresql://orion:PW@h/db", "init"], "init"),
    (["--config", "/etc/orion.toml", "--db", "x.db", "audit", "tail", "-n", "5"], "audit tail"),
    (["trade", "--size", "5", "OP1", "--db", "postgresql://orion:PW@h/db"], "trade OP1"),
    (["trade", "--idempotency-key", "K", "--db=x.db", "OP1", "--confirm"], "trade OP1"),
    (["audit", "-qn", "5", "tail"], "audit tail"),  # -n, the cluster's last letter, takes the next word
    (["halt", "-qrwhy"], "halt"),  # -r takes the rest of the cluster
    (["--db", "x.db", "--", "trade", "OP1"], "trade OP1"),
    (["--db", "x.db"], "orion"),
])
def test_command_words_skip_every_option_and_its_value_wherever_it_stands(args: list[str], words: str) -> None:
    assert command_words(args, _VALUES) == words


def test_the_actor_command_is_what_the_cli_named_else_argv_up_to_its_first_option() -> None:
    try:
        set_actor_command(None)
        assert actor_command(["--db", "postgresql://orion:PW@h/db", "init"]) == "orion"
        assert actor_command(["halt", "--db", "x.db"]) == "halt"
        assert actor_command(["trade", "OP1", "--confirm"]) == "trade OP1"
        set_actor_command("init")
        assert actor_command(["--db", "postgresql://orion:PW@h/db", "init"]) == "init"
    finally:
        set_actor_command(None)
