"""``orion halt --cancel-open`` in paper mode (live, against both simulators: test_trade_live_sim.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from orion_cli.cli.app import app
from orion_cli.core.models import Side, Venue
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database
from orion_cli.store.ledger import Ledger
from orion_cli.venues.paper import request_payload
from orion_cli.venues.trading import Action, Fill, OrderRequest, OrderStatus, PreparedOrder, TimeInForce


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _open_paper_order(db_file: Path, coid: str) -> None:
    """A paper order left open (acknowledged, nothing filled), as a crash mid-order could leave one."""
    request = OrderRequest(Venue.KALSHI, "KXNBA-26-NYK", Side.YES, Action.BUY, D(4), D("0.31"), TimeInForce.GTC, coid)
    db = open_database(f"sqlite:///{db_file}")
    try:
        ledger = Ledger(db, "paper")
        now = datetime.now(UTC)
        ledger.record_intent(PreparedOrder(request, request_payload(request)), now=now)
        ledger.mark_acknowledged(coid, f"paper-{coid}", now=now)
    finally:
        db.dispose()


def test_cancel_open_cancels_an_open_paper_order_after_halting(isolated_home: Path) -> None:
    assert run("init").exit_code == 0
    db_file = isolated_home / "orion.db"
    _open_paper_order(db_file, "left-open-1")

    result = run("halt", "--cancel-open", "--reason", "drill", "--jsonl")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["type"] for r in records] == ["halt", "cancel"]
    cancel = records[1]
    assert (cancel["venue"], cancel["client_order_id"], cancel["orion"], cancel["status"], cancel["size"]) == (
        "kalshi", "left-open-1", True, "cancelled", "4")
    assert "paper: cancelling the paper ledger's resting orders" in result.stderr
    assert "1 resting order(s) cancelled" in result.stderr

    db = open_database(f"sqlite:///{db_file}")
    try:
        order = Ledger(db, "paper").order("left-open-1")
        types = [e.type for e in AuditLog(db).tail(20)]
    finally:
        db.dispose()
    assert order is not None and order.status is OrderStatus.CANCELLED
    assert types.index("halt.engaged") < types.index("halt.cancel_open")  # halted before anything else
    assert types.count("halt.cancel_open") == 2  # one per enabled venue, also when nothing rested there

    status = run("halt", "--status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["halted"] is True


def test_paper_cancel_open_on_a_ledger_that_traded_live_warns_even_with_q(isolated_home: Path) -> None:
    """Found by review: run in paper mode (`trading.mode` unset) on a ledger that trades live with
    `--live --authorize-live`, `halt --cancel-open` cancelled paper orders only and exited 0; the one hint
    was an info line that -q drops, while the venues' resting orders kept filling."""
    from orion_cli.venues.trading import Balance

    assert run("init").exit_code == 0
    quiet = run("-q", "halt", "--cancel-open", "--reason", "drill")
    assert quiet.exit_code == 0 and "--live" not in quiet.stderr  # a paper-only ledger: nothing to say
    assert run("resume", "--yes").exit_code == 0
    db = open_database(f"sqlite:///{isolated_home / 'orion.db'}")
    try:
        now = datetime.now(UTC)
        Ledger(db, "live").record_balance(Balance(Venue.KALSHI, "live", D(100), D(0), D(100), now, "venue"), now=now)
    finally:
        db.dispose()
    quiet = run("-q", "halt", "--cancel-open", "--reason", "drill")
    assert quiet.exit_code == 0, quiet.output
    assert "has traded live: `orion halt --cancel-open --live` cancels the venues' orders" in quiet.stderr


def test_status_with_cancel_open_is_a_usage_error(isolated_home: Path) -> None:
    result = run("halt", "--status", "--cancel-open")
    assert result.exit_code == 2, result.output
    assert not (isolated_home / "orion.db").exists()  # refused before anything was opened


def _halted() -> dict[str, object]:
    status = run("halt", "--status", "--json")
    assert status.exit_code == 0, status.output
    return dict(json.loads(status.stdout))


@pytest.mark.parametrize(("args", "stored", "warned"), [
    (("venue", "outage"), "venue outage", False),
    (("venue outage",), "venue outage", False),
    (("-r", "venue", "outage"), "venue outage", True),  # the reason unquoted after -r
    (("outage", "--reason", "venue"), "venue outage", True),
])
def test_words_after_halt_are_its_reason(isolated_home: Path, args: tuple[str, ...], stored: str,
                                         warned: bool) -> None:
    """Found in a black-box run: `orion halt venue outage` was a usage error, exit 2 with trading still on."""
    assert run("init").exit_code == 0
    result = run("halt", *args)
    assert result.exit_code == 0, result.output
    assert _halted()["halted"] is True and _halted()["reason"] == stored
    assert ("the words beside --reason are the rest of it" in result.stderr) is warned, result.stderr


def test_an_option_written_without_its_dashes_among_the_words_halts_and_says_it_did_nothing(
        isolated_home: Path) -> None:
    """Found in review: `orion halt outage --cancel-open live` halted for "outage live" and cancelled the paper
    ledger's orders, not the venues', without a word."""
    assert run("init").exit_code == 0
    result = run("halt", "outage", "--cancel-open", "live")
    assert result.exit_code == 0, result.output
    assert _halted()["reason"] == "outage live"
    assert "'live' in the reason did nothing; if --live was meant, run it again with the dashes" in result.stderr


@pytest.mark.parametrize("word", ["status", "--status", "resume", "cancel-open", "Live"])
def test_one_word_naming_an_option_or_resume_is_refused_and_said_not_halted(isolated_home: Path, word: str) -> None:
    """`orion halt status` means `--status`, not a halt whose reason is "status" (an unwanted halt may unwind a
    trade under way). ``--status`` itself is the status."""
    assert run("init").exit_code == 0
    result = run("halt", "--", word) if word.startswith("-") else run("halt", word)
    assert result.exit_code == 2, result.output
    assert "error: NOT halted:" in result.stderr and "did you mean" in result.stderr, result.stderr
    assert _halted()["halted"] is False


@pytest.mark.parametrize("args", [("--reson", "venue outage"), ("--cancel-opne",), ("--reason",),
                                  ("--db", "", "--reason", "x"),
                                  # review: an option's value is not the option (`-r --status` is a reason)
                                  ("-r", "--status", "--reson"), ("-r", "-h", "--cancel-opne"), ("-r--status", "-x")])
def test_a_usage_error_of_halt_says_not_halted_first(isolated_home: Path, args: tuple[str, ...]) -> None:
    """Found in a black-box run: a mistyped option was a usage error like any other, where every other failure of
    `orion halt` says NOT halted first; an operator in a hurry could believe trading had stopped."""
    assert run("init").exit_code == 0
    result = run("--json", "halt", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: NOT halted: "), result.stderr
    assert json.loads(result.stderr.splitlines()[-1])["message"].startswith("NOT halted: ")  # the error record
    assert _halted()["halted"] is False


def test_a_usage_error_of_halt_on_a_terminal_says_not_halted_in_clicks_own_panel(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal Click draws the error (its usage line and Typer's panel), not orion's error line."""
    from orion_cli.cli import app as app_module

    assert run("init").exit_code == 0
    monkeypatch.setattr(app_module, "stream_is_tty", lambda stream: True)
    result = run("halt", "--reson", "x")
    assert result.exit_code == 2, result.output
    assert "NOT halted: No such option: --reson" in " ".join(result.stderr.split()), result.stderr
    assert "error: " not in result.stderr  # Click's panel, not the line for logs


def test_a_usage_error_of_halt_status_or_another_command_says_nothing_of_halting(isolated_home: Path) -> None:
    assert run("init").exit_code == 0
    for args in (("halt", "--status", "--bogus"), ("resume", "--bogus"), ("audit", "tail", "--bogus")):
        result = run(*args)
        assert result.exit_code == 2 and "NOT halted" not in result.stderr, (args, result.stderr)


def test_a_user_name_or_command_word_that_is_not_utf8_still_halts_and_is_audited(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: Python reads a byte that is not UTF-8 in the environment or the command line
    (``LOGNAME=j\\xf6rg``, ``orion halt $'bad\\xffbyte'``) as a lone surrogate, no event holding one could be
    hashed, and `orion halt` exited 1 without halting. The byte is recorded as ``\\xf6``."""
    from orion_cli.store import audit

    assert run("init").exit_code == 0
    monkeypatch.setenv("LOGNAME", "j\udcf6rg")  # as os.environ holds the byte 0xf6
    audit._user_and_host.cache_clear()
    audit._default_actor_text.cache_clear()
    try:
        result = run("halt", "bad\udcffbyte", "outage")
        assert result.exit_code == 0, result.output
        assert _halted()["halted"] is True
        tail = run("--jsonl", "audit", "tail", "--type", "halt")
        (engaged,) = [json.loads(line) for line in tail.stdout.splitlines()]
        assert engaged["actor"]["user"] == "j\\xf6rg", engaged
        verified = run("--json", "audit", "verify")
        assert verified.exit_code == 0 and json.loads(verified.stdout)["ok"] is True, verified.output
    finally:
        audit._user_and_host.cache_clear()
        audit._default_actor_text.cache_clear()


def test_status_with_a_reason_is_a_usage_error(isolated_home: Path) -> None:
    """Found in a black-box run: `halt --status --reason x` dropped the reason silently."""
    assert run("init").exit_code == 0
    result = run("halt", "--status", "--reason", "outage")
    assert result.exit_code == 2 and "--reason" in result.output, result.output
    assert json.loads(run("halt", "--status", "--json").stdout)["halted"] is False


@pytest.mark.parametrize(("given", "stored", "said"), [
    ("outage\nFAKE: resumed by admin", "outage FAKE: resumed by admin", "line breaks and control characters"),
    ("disk full\tat 03:00\x1b[2J", "disk full at 03:00 [2J", "line breaks and control characters"),
    ("x" * 501, "x" * 499 + "…", "cut to 500 characters (501 given)"),
])
def test_a_reason_that_is_not_one_short_line_still_halts_stored_as_one(
        given: str, stored: str, said: str, isolated_home: Path) -> None:
    """Found in a black-box run: such a reason was a usage error (exit 2) and nothing was halted, so
    `orion halt --reason "$(tail -2 app.log)"` in a script left trading on. The halt never waits on its
    wording: the reason is stored as one line of at most 500 characters (so it cannot forge a second
    status line, nor fill every refused order's message), and the change is said."""
    assert run("init").exit_code == 0
    result = run("halt", "--reason", given)
    assert result.exit_code == 0 and said in result.stderr, result.output
    status = json.loads(run("halt", "--status", "--json").stdout)
    assert (status["halted"], status["reason"]) == (True, stored)
    assert run("resume", "--yes").exit_code == 0
    result = run("halt", "--reason", "x" * 500)  # exactly the cap: kept as given, nothing said
    assert result.exit_code == 0 and "stored as shown" not in result.stderr, result.output
    assert json.loads(run("halt", "--status", "--json").stdout)["reason"] == "x" * 500


@pytest.mark.parametrize("given", ["   ", " \t\n ", ""])
def test_a_blank_reason_halts_with_the_default_reason(given: str, isolated_home: Path) -> None:
    """Found by black-box testing: `orion halt --reason "   "` stored a blank reason, so every refused
    order and status line read "HALTED:" with nothing after it."""
    assert run("init").exit_code == 0
    result = run("halt", "--reason", given)
    assert result.exit_code == 0 and "HALTED: halted from the command line" in result.stderr, result.output
    assert json.loads(run("halt", "--status", "--json").stdout)["reason"] == "halted from the command line"


def test_a_reason_keeps_its_words_without_the_spaces_around_them(isolated_home: Path) -> None:
    assert run("init").exit_code == 0
    assert run("halt", "--reason", "  venue outage  ").exit_code == 0
    assert json.loads(run("halt", "--status", "--json").stdout)["reason"] == "venue outage"


@pytest.mark.parametrize("command", [("halt", "--reason", "outage"), ("halt", "--status"), ("resume", "--yes"),
                                     ("reconcile", "--demo"), ("audit", "verify"), ("audit", "tail"),
                                     ("balance",), ("positions",), ("report",)])
def test_a_ledger_that_does_not_exist_is_refused_not_created(command: tuple[str, ...], isolated_home: Path,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by black-box testing: `orion --db TYPO halt` created a new, empty ledger (directories too),
    halted it and said HALTED with exit 0, while the real ledger went on trading. Reconcile and audit
    verify (run from cron) likewise reported a new, empty ledger clean. Found in review: the same
    through the default ledger's path (a mistyped ORION_HOME, cron running as another user). Found by
    black-box testing again: balance, positions, report and audit tail created the ledger, showing a
    fresh account, after which the kill switch and reconcile took the typo for a ledger."""
    typo = tmp_path / "typo" / "orion.bd"
    for how in ("--db", "env", "default"):
        if how == "env":
            monkeypatch.setenv("ORION__DATABASE__URL", f"sqlite:///{typo}")
        if how == "default":
            monkeypatch.delenv("ORION__DATABASE__URL")
            monkeypatch.setenv("ORION_HOME", str(tmp_path / "typo"))
        result = run(*(["--db", str(typo)] if how == "--db" else []), *command, "--json")
        assert result.exit_code == 3, result.output
        assert json.loads(result.stderr.strip().splitlines()[-1])["reason"] == "storage_missing"
        assert "HALTED" not in result.stderr and not (tmp_path / "typo").exists()
    # `orion init` creates the ledger; then the command works on it.
    assert run("init").exit_code == 0 and run(*command).exit_code == 0


@pytest.mark.parametrize("where", ["x.db", "nodir/x.db"])
def test_a_url_the_driver_refuses_is_said_before_the_ledger_is_found_missing(
        where: str, isolated_home: Path, tmp_path: Path) -> None:
    """Found black-box: `--db 'sqlite:////…/x.db?mode=ro' halt --status` said `storage_missing` with the
    hint "`orion --db '…?mode=ro' init` creates a new ledger", and that init was refused (exit 3,
    storage_url: the driver does not take 'mode'). The URL is checked first, so no hint names a
    command that cannot work."""
    url = f"sqlite:///{tmp_path / where}?mode=ro"
    for command in (("halt", "--status"), ("init",)):
        result = run("--db", url, *command, "--json")
        assert result.exit_code == 3, result.output
        error = json.loads(result.stderr.strip().splitlines()[-1])
        assert error["reason"] == "storage_url" and "does not take the query argument(s) 'mode'" in error["message"]
        assert " init`" not in result.stderr and "mkdir" not in result.stderr
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "nodir").exists()


@pytest.mark.parametrize("confirm", [(), ("--confirm",)])
def test_a_trade_at_a_ledger_that_does_not_exist_is_refused_not_created(
        confirm: tuple[str, ...], isolated_home: Path, tmp_path: Path) -> None:
    """Found by black-box testing: `orion --db TYPO trade OP` (refused: no such opportunity) created
    TYPO, after which `orion --db TYPO halt` said HALTED while the real ledger went on trading."""
    typo = tmp_path / "typo.db"
    result = run("--db", str(typo), "trade", "abcdefgh", "--demo", *confirm, "--json")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stderr.strip().splitlines()[-1])["reason"] == "storage_missing"
    assert not typo.exists()
    assert run("--db", str(typo), "halt", "--reason", "x").exit_code == 3  # still refused: nothing was created


def test_live_without_cancel_open_still_halts(isolated_home: Path) -> None:
    """Found by black-box testing: `orion halt --live` was a usage error (exit 2) with nothing halted.
    A flag that changes nothing must not keep the kill switch off."""
    assert run("init").exit_code == 0
    result = run("halt", "--live", "--reason", "drill", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["halted"] is True
    assert "--live only chooses where --cancel-open cancels" in result.stderr
    assert json.loads(run("halt", "--status", "--json").stdout)["halted"] is True


def test_the_kill_switch_engages_through_a_broken_config_file(isolated_home: Path) -> None:
    """Found by black-box testing: a typo in config.toml made `orion halt` exit 3 with nothing halted,
    the moment an operator most needs it. Only the database and the sentinel file must be right."""
    assert run("init").exit_code == 0
    config = isolated_home / "config.toml"
    config.write_text('[limits]\norder_notional = "abc"\n', encoding="utf-8")
    assert run("scan", "--demo").exit_code == 3  # everything else still refuses the file
    result = run("halt", "--reason", "drill", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["halted"] is True
    assert "limits.order_notional" in result.stderr and "Fix it before trading" in result.stderr
    assert f"database sqlite:///{isolated_home / 'orion.db'} (from default)" in result.stderr  # which one halted
    status = run("halt", "--status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["reason"] == "drill"
    # --cancel-open reads the venues' settings: it halts, then refuses (exit 3), cancelling nothing.
    result = run("halt", "--cancel-open", "--reason", "again", "--jsonl")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout.splitlines()[0])["halted"] is True
    assert "needs a valid configuration" in result.stderr
    # A file that cannot be parsed may name another database: refused, unless --db names it.
    config.write_text("[limits\n", encoding="utf-8")
    result = run("halt", "--reason", "drill")
    assert result.exit_code == 3 and "orion --db URL halt" in result.stderr
    result = run("--db", f"sqlite:///{isolated_home / 'orion.db'}", "halt", "--status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["halted"] is True and "TOML syntax error" in result.stderr


@pytest.mark.usefixtures("default_recursion_limit")
def test_the_kill_switch_engages_past_a_config_nested_too_deeply_to_parse(isolated_home: Path) -> None:
    """Found by a black-box audit: a config.toml nested deeper than the TOML parser can follow raised a
    RecursionError (exit 1) for every command, `orion --db URL halt` too: nothing was halted."""
    assert run("init").exit_code == 0
    (isolated_home / "config.toml").write_text("[limits]\norder_notional = " + "[" * 600 + "]" * 600 + "\n",
                                               encoding="utf-8")
    result = run("config", "show")
    assert result.exit_code == 3 and "TOML syntax error: arrays or inline tables nested too deeply" in result.stderr
    result = run("halt", "--reason", "drill")  # the file may name another database
    assert result.exit_code == 3 and "orion --db URL halt" in result.stderr
    result = run("--db", f"sqlite:///{isolated_home / 'orion.db'}", "halt", "--reason", "drill", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["halted"] is True and "nested too deeply" in result.stderr


def test_a_misspelt_sentinel_variable_does_not_keep_the_switch_off(isolated_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: `ORION_HALT_SENTINEL_FILE=… orion halt` exited 3 without halting. Engaging
    writes the database only: it halts, then exits 3 naming the variable. --status and resume, which
    read the sentinel file, still refuse."""
    assert run("init").exit_code == 0
    monkeypatch.setenv("ORION_HALT_SENTINEL_FILE", str(isolated_home / "stop"))
    result = run("halt", "--reason", "drill", "--json")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["halted"] is True
    assert "halted in the database" in result.stderr and "rename it ORION__HALT__SENTINEL_FILE" in result.stderr
    assert "does not depend on what is wrong" not in result.stderr
    assert run("halt", "--status").exit_code == 3
    assert run("resume").exit_code == 3
    monkeypatch.delenv("ORION_HALT_SENTINEL_FILE")
    status = run("halt", "--status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["reason"] == "drill"


@pytest.mark.parametrize("header", ["hallt", "Halt"])
def test_a_misspelt_halt_table_is_refused_by_the_status_with_the_database_named(isolated_home: Path,
                                                                                 header: str) -> None:
    """Found by a black-box review: with --db given, `[hallt] sentinel_file = …` (the sentinel file present)
    gave `halt --status` "not halted", exit 0: an unknown table was guarded only with no database named, and
    its keys were never looked at. Its kill-switch keys are, with or without --db."""
    ledger = isolated_home / "named.db"
    assert run("--db", str(ledger), "init").exit_code == 0
    stop = isolated_home / "STOP"
    stop.touch()
    config = isolated_home / "h.toml"
    config.write_text(f'[{header}]\nsentinel_file = "{stop}"\n')
    for db in ((), ("--db", str(ledger))):
        status = run("--config", str(config), *db, "halt", "--status", "--json")
        assert status.exit_code == 3 and status.stdout == "", (db, status.output)
        assert f"unknown configuration key {header}" in status.stderr
    engaged = run("--config", str(config), "--db", str(ledger), "halt", "--reason", "drill", "--json")
    assert engaged.exit_code == 3 and json.loads(engaged.stdout)["halted"] is True, engaged.output
    assert "the [halt] configuration is wrong" in engaged.stderr
    config.write_text('[hallt]\nnote = "an unknown table of nothing the kill switch reads"\n')
    status = run("--config", str(config), "--db", str(ledger), "halt", "--status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["halted"] is True, status.output


def test_halting_while_halted_keeps_the_first_reason_and_says_so(isolated_home: Path) -> None:
    assert run("init").exit_code == 0
    first = run("halt", "--reason", "first")
    assert first.exit_code == 0 and "already halted" not in first.stderr
    result = run("halt", "--reason", "second", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["reason"] == "first"
    assert "already halted since" in result.stderr and "'second'" in result.stderr
    assert run("resume", "--yes").exit_code == 0
    assert run("halt").exit_code == 0
    again = run("halt")  # the same (default) reason twice: still said
    assert "already halted since" in again.stderr


@pytest.mark.parametrize("where", ["under a file", "~nosuchuser_zz/orion.log"])
def test_a_log_file_that_cannot_be_opened_does_not_stop_the_kill_switch(isolated_home: Path,
                                                                        tmp_path: Path, where: str) -> None:
    """Found in review: an unwritable logging.file (or ~user that does not exist: a RuntimeError) was
    an internal error (exit 1) before anything was halted. The halt logs to stderr only and says
    why; every other command names it (exit 3)."""
    from orion_cli.core import logs

    assert run("init").exit_code == 0
    logs.reset_logging()  # configured once per process: as a fresh process would
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env = {"ORION__LOGGING__FILE": str(blocker / "orion.log") if where == "under a file" else where}
    result = CliRunner().invoke(app, ["halt", "--reason", "drill", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["halted"] is True and "logging.file" in result.stderr
    logs.reset_logging()
    other = CliRunner().invoke(app, ["audit", "tail"], env=env, catch_exceptions=False)
    logs.reset_logging()
    assert other.exit_code == 3 and "logging.file" in other.stderr and "internal" not in other.stderr


@pytest.mark.timeout(180)
def test_a_log_file_that_fails_at_write_time_is_one_warning_line_not_a_traceback(isolated_home: Path,
                                                                                  tmp_path: Path) -> None:
    """Found in review: `logging.file = "/dev/full"` opened fine, then `orion scan --demo` printed two
    "--- Logging error ---" blocks (~99 lines of traceback) and `orion halt` one. Each command now says
    once, in one warning line, that the file failed, exits as it would have, and keeps every warning,
    banner and error on stderr. Run as the console script runs, outside pytest's log capture."""
    import subprocess
    import sys

    assert run("init").exit_code == 0
    config = tmp_path / "lc2.toml"
    config.write_text('[logging]\nfile = "/dev/full"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION")}
    env["ORION_HOME"] = str(isolated_home)
    warning = "warning: logging.file /dev/full: No space left on device; logging to stderr only from now on"

    def orion(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orion_cli", "--config", str(config), *args], env=env,
                              capture_output=True, text=True, timeout=120)

    scan = orion("scan", "--demo")
    assert scan.returncode == 0, scan.stderr
    assert "Traceback" not in scan.stderr and "Logging error" not in scan.stderr, scan.stderr
    assert scan.stderr.splitlines()[0] == warning and scan.stderr.count("logging.file") == 1, scan.stderr
    assert "DEMO DATA" in scan.stderr  # the banner the file could not take
    halt = orion("-q", "halt", "--reason", "x")
    assert halt.returncode == 0, halt.stderr
    assert halt.stderr.splitlines() == [warning, "HALTED: x"], halt.stderr
    status = orion("halt", "--status", "--json")
    assert json.loads(status.stdout)["halted"] is True, status.stderr


def test_a_halt_by_a_service_trading_live_through_the_environment_pair_is_audited_as_live(
        isolated_home: Path) -> None:
    assert run("init").exit_code == 0
    pair = {"ORION_PAPER_TRADING": "0", "ORION_LIVE_TRADING_AUTHORIZED": "true"}
    result = CliRunner().invoke(app, ["halt", "--reason", "drill"], env=pair, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["resume", "--yes"], env=pair, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    db = open_database(f"sqlite:///{isolated_home / 'orion.db'}")
    try:
        events = AuditLog(db).tail(10, types=("halt",))
    finally:
        db.dispose()
    assert [(e.type, e.mode) for e in events] == [("halt.engaged", "live"), ("halt.released", "live")]


@pytest.mark.parametrize("vault", ["missing", "readable by others"])
def test_cancel_open_live_without_a_usable_vault_still_halts_and_exits_4_naming_it_once(
        isolated_home: Path, tmp_path: Path, vault: str) -> None:
    """Found in review: a vault readable by others was reported once per venue (and opened again)."""
    assert run("init").exit_code == 0
    path = tmp_path / "vault.json"
    env = {"ORION__TRADING__MODE": "live", "ORION__SECRETS__VAULT_PATH": str(path)}
    if vault != "missing":
        path.write_text("{}")
        path.chmod(0o644)
        env["ORION_MASTER_PASSWORD"] = "a throwaway test password"
    result = CliRunner().invoke(app, ["halt", "--cancel-open", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 4, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["message"].count("kalshi, polymarket:") == 1, error  # the vault is opened once, not per venue
    assert error["message"].count(str(path)) == 1, error  # said once
    status = run("halt", "--status", "--json")
    assert json.loads(status.stdout)["halted"] is True


def test_a_multi_line_sentinel_reason_stays_one_line_on_the_terminal_and_unchanged_in_json(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in a black-box run: a sentinel file's second line began a line of its own in `halt
    --status` (where it read as orion's words), and JSON had its carriage
    return turned into a line feed."""
    sentinel = isolated_home / "HALT"
    sentinel.write_bytes(b"maintenance\nerror: nothing is halted\rreally\n")
    monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(sentinel))
    open_database(str(isolated_home / "orion.db")).dispose()
    table = run("halt", "--status", "--format", "table")
    assert table.exit_code == 0, table.output
    assert "maintenance\\nerror: nothing is halted\\x0dreally" in table.stdout
    assert not any(line.lstrip().startswith("error:") for line in table.stdout.splitlines())
    record = json.loads(run("halt", "--status", "--json").stdout)
    assert record["reason"] == "maintenance\nerror: nothing is halted\rreally"


def test_resume_under_a_database_halt_and_the_sentinel_file_releases_nothing_exit_6(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a black-box audit: with both, `halt --status` said `"sentinel_file": null` and `resume
    --yes` released the database's halt, warned "still halted" and exited 0: a script's `orion resume
    --yes && orion trade …` went on as if trading were released."""
    sentinel = isolated_home / "HALT"
    monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(sentinel))
    open_database(str(isolated_home / "orion.db")).dispose()
    assert run("halt", "-r", "db halt").exit_code == 0
    sentinel.write_text("ops stop\n")
    status = json.loads(run("halt", "--status", "--json").stdout)
    assert (status["halted"], status["kind"], status["sentinel_file"]) == (True, "manual", str(sentinel))
    res = run("resume", "--yes", "--json")
    assert res.exit_code == 6, res.output
    assert f"halted by the sentinel file {sentinel} as well as in the database (manual: db halt)" in res.stderr
    after = json.loads(run("halt", "--status", "--json").stdout)
    assert (after["halted"], after["kind"]) == (True, "manual")  # nothing released
    sentinel.unlink()
    assert run("resume", "--yes").exit_code == 0
    assert json.loads(run("halt", "--status", "--json").stdout)["halted"] is False


def test_a_sentinel_file_created_while_resume_releases_is_exit_6_not_success(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orion_cli.risk.halt import KillSwitch

    sentinel = isolated_home / "HALT"
    monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(sentinel))
    open_database(str(isolated_home / "orion.db")).dispose()
    assert run("halt", "-r", "db halt").exit_code == 0
    release = KillSwitch.release

    def racing(self: KillSwitch, **kw: object) -> object:
        sentinel.write_text("ops stop\n")
        return release(self, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(KillSwitch, "release", racing)
    res = run("resume", "--yes", "--json")
    assert res.exit_code == 6, res.output
    assert json.loads(res.stdout)["kind"] == "sentinel"
    assert "the database's halt was released, but trading is still halted: ops stop" in res.stderr


def test_a_sentinel_under_an_unknown_users_home_still_lets_halt_engage(isolated_home: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: `~nosuchuser/stop` made pathlib raise while the configuration loaded, so every
    command, `orion halt` too, ended in an internal error (exit 1) and the switch could not be engaged."""
    assert run("init").exit_code == 0
    monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", "~nosuchuser-orion/stop")
    result = run("halt", "--reason", "drill", "--json")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["halted"] is True
    assert "user this machine does not have" in result.stderr
    assert run("halt", "--status").exit_code == 3


def test_a_sentinel_path_that_cannot_be_checked_still_lets_halt_engage(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch, unsearchable: Callable[[Path], None]) -> None:
    """Found in review: a sentinel under a directory orion may not search raised PermissionError while
    the configuration loaded, so `orion halt` ended in an internal error without engaging."""
    assert run("init").exit_code == 0
    sentinel = isolated_home / "locked" / "stop"
    monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(sentinel))
    unsearchable(sentinel.parent)
    result = run("halt", "--reason", "drill", "--json")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["halted"] is True
    assert "cannot be checked (Permission denied)" in result.stderr


@pytest.mark.timeout(60)
def test_a_named_pipe_as_the_sentinel_is_a_config_error_halt_still_engages_under(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a black-box audit: with a FIFO there, `halt --status` (and reconcile, and the watch) hung."""
    assert run("init").exit_code == 0
    fifo = isolated_home / "stop"
    os.mkfifo(fifo)
    monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(fifo))
    status = run("halt", "--status", "--json")
    assert status.exit_code == 3 and "not a regular file" in status.stderr, status.output
    engaged = run("halt", "--reason", "drill", "--json")
    assert engaged.exit_code == 3, engaged.output
    assert json.loads(engaged.stdout)["halted"] is True


def _halted_execution(db_file: Path, mode: str, key: str, second: str) -> None:
    """Execution ``key`` of op123456 that the executor halted: 3 Kalshi YES bought on its first leg,
    ``second`` Polymarket NO on its second."""
    from sqlalchemy import insert

    from orion_cli.store.tables import executions

    db = open_database(f"sqlite:///{db_file}")
    try:
        at = "2026-11-22T09:00:00Z"
        with db.write() as conn:
            conn.execute(insert(executions), {"key": key, "opportunity_id": "op123456", "mode": mode,
                                              "status": "halted", "size": D(3), "plan": "{}", "result": "{}",
                                              "created_at": at, "updated_at": at})
        ledger = Ledger(db, mode)
        if mode == "paper":
            ledger.ensure_balance(Venue.KALSHI, D(1000))
            ledger.ensure_balance(Venue.POLYMARKET, D(1000))
        legs = ((Venue.KALSHI, "KXNBA-26-NYK", Side.YES, "3", "l1"), (Venue.POLYMARKET, "0xnyk", Side.NO, second, "l2"))
        for venue, market, side, filled, tag in legs:
            coid = f"{key}-{tag}"
            req = OrderRequest(venue, market, side, Action.BUY, D(3), D("0.30"), TimeInForce.FOK, coid)
            ledger.record_intent(PreparedOrder(req, "{}"), execution_id=key)
            fill = Fill(venue, f"f-{coid}", f"v-{coid}", market, side, Action.BUY, D(filled), D("0.30"), D(0),
                        datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
            ledger.transition(coid, OrderStatus.FILLED if filled == "3" else OrderStatus.CANCELLED,
                              venue_order_id=f"v-{coid}", fills=[fill] if filled != "0" else [])
    finally:
        db.dispose()


def test_resume_warns_of_each_halted_execution_still_holding_a_leg_unhedged(isolated_home: Path) -> None:
    """Found by black-box testing: after a failed unwind left 100 contracts unhedged, `orion resume --yes`
    said only "kill switch released"; nothing named the execution the operator now had to resume.
    Each one with unequal legs, of either ledger, is named with its resume command, even with -q; one
    whose legs are equal is not."""
    assert run("init").exit_code == 0
    db_file = isolated_home / "orion.db"
    _halted_execution(db_file, "paper", "k-paper", "0")
    _halted_execution(db_file, "live", "k-live", "1")
    _halted_execution(db_file, "paper", "k-equal", "3")
    assert run("halt", "-r", "execution k-paper: unwind sold 0 of 3 shares").exit_code == 0
    res = run("resume", "--yes", "-q")
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: live execution k-live was interrupted at halted with a leg unhedged (3 held on kalshi "
        "(KXNBA-26-NYK yes, the first leg), 1 on the other leg); resume it with `orion trade op123456 "
        "--confirm --idempotency-key k-live --live`",
        "warning: paper execution k-paper was interrupted at halted with a leg unhedged (3 held on kalshi "
        "(KXNBA-26-NYK yes, the first leg), 0 on the other leg); resume it with `orion trade op123456 "
        "--confirm --idempotency-key k-paper` (with the --demo or --snapshot FILE it was traded on, if any)",
    ], res.stderr
    assert json.loads(run("halt", "--status", "--json").stdout)["halted"] is False


@pytest.mark.parametrize("data", ["--demo", "--snapshot"])
def test_resume_names_a_paper_executions_resume_with_the_data_it_was_traded_on(
        data: str, isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by black-box testing: with an interrupted --demo execution, `orion resume --yes` named
    `orion trade X --confirm --idempotency-key op-X` "(with the --demo or --snapshot FILE it was traded
    on, if any)", where reconcile's drift and the watch name `... --demo`: resume has no data flags to
    borrow. The trade records its own (a snapshot's path made absolute: the resume may run elsewhere)."""
    import shlex
    import signal
    import subprocess
    import sys

    from orion_cli.venues.snapshot import demo_path

    workdir = tmp_path / "work dir"
    (workdir / "my snaps").mkdir(parents=True)
    (workdir / "my snaps" / "rec.json.gz").write_bytes(demo_path().read_bytes())
    monkeypatch.chdir(workdir)
    flags = ["--demo"] if data == "--demo" else ["--snapshot", "my snaps/rec.json.gz"]
    assert run("init").exit_code == 0
    scanned = run("scan", *flags, "--jsonl")
    assert scanned.exit_code == 0, scanned.output
    op_id = json.loads(scanned.stdout.splitlines()[0])["id"]
    killed = subprocess.run([sys.executable, "-m", "orion_cli", "trade", op_id, *flags, "--confirm", "--size", "7"],
                            env={**os.environ, "ORION_TEST_CRASH_AT": "l1_recorded"}, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert run("halt", "-q").exit_code == 0
    monkeypatch.chdir(tmp_path)  # released from elsewhere: the recorded path still names the file
    res = run("-q", "resume", "--yes")
    assert res.exit_code == 0, res.output
    snapshot = shlex.quote(str(workdir / "my snaps" / "rec.json.gz"))
    recorded = " --demo" if data == "--demo" else f" --snapshot {snapshot}"
    command = f"orion trade {op_id} --confirm --idempotency-key op-{op_id}{recorded}"
    (warning,) = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert warning.endswith(f"0 on the other leg); resume it with `{command}`"), warning
    resumed = run(*shlex.split(command)[1:], "--jsonl")  # the command as named, from here: it hedges
    assert resumed.exit_code == 0 and json.loads(resumed.stdout.splitlines()[-1])["status"] == "done", resumed.output


@pytest.mark.parametrize("sentinel", [False, True])
@pytest.mark.parametrize("damage", ["pages", "halt_row_gone"])
def test_a_damaged_ledger_is_not_said_halted_and_audit_verify_calls_it_broken(
        damage: str, sentinel: bool, isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: on a ledger whose halt_state and audit pages were damaged, `audit verify` and
    `audit tail` were "unexpected internal error" (exit 1), and `orion halt --reason` either that or,
    where SQLite read the damaged page as empty, "halt state row missing: refusing to trade" (exit 6,
    reason HALTED), having recorded nothing. Now halt says NOT halted (exit 3, storage_corrupt) and
    what still halts; verify exits 7, tail 3."""
    import sqlite3

    from store.damage import damage_tables

    assert run("init").exit_code == 0
    assert run("halt", "--reason", "drill").exit_code == 0 and run("resume", "--yes").exit_code == 0
    if damage == "pages":
        damage_tables(isolated_home / "orion.db", "halt_state", "audit_events")
    else:  # what a page read as empty looks like
        conn = sqlite3.connect(isolated_home / "orion.db")
        with conn:
            conn.execute("DELETE FROM halt_state")
        conn.close()
    stop = tmp_path / "stop-orion"
    if sentinel:
        monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(stop))
    result = run("halt", "--reason", "outage", "--json")
    assert result.exit_code == 3, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["reason"] == "storage_corrupt" and error["message"].startswith("NOT halted: ")
    assert "HALTED" not in result.stderr and result.stdout == ""
    assert (f"create the file halt.sentinel_file names: {stop}" if sentinel
            else "no halt.sentinel_file is configured") in result.stderr
    # Found by review: with none configured, the store's own hint went on "Meanwhile the file
    # halt.sentinel_file names halts every orion…"; said once, for this configuration.
    assert "halt.sentinel_file names halts" not in result.stderr and "restore it from a backup" in result.stderr
    assert not stop.exists()  # named, not created: engaging writes the database only
    status = run("halt", "--status", "--json")
    assert status.exit_code == 3 and "storage_corrupt" in status.stderr
    if damage != "pages":
        return
    verify = run("audit", "verify", "--json")
    assert verify.exit_code == 7, verify.output
    record = json.loads(verify.stdout)
    assert record["ok"] is False and record["first_bad_seq"] == 1 and "malformed" in record["problem"]
    tail = run("audit", "tail", "--json")
    assert tail.exit_code == 3 and json.loads(tail.stderr.strip().splitlines()[-1])["reason"] == "storage_corrupt"


def test_a_relative_database_cannot_give_a_cron_job_a_kill_switch_of_its_own(
        isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: with `database.url = "sqlite:///rel.db"` (or --db so), the operator's halt in one
    directory did not stop a job started in another, which made and traded on a ledger of its own.
    From the environment or a file it is refused; --db reads it as the working directory's, absolutely."""
    ops, cron = tmp_path / "ops", tmp_path / "cron"
    ops.mkdir()
    cron.mkdir()
    monkeypatch.chdir(ops)
    assert run("--db", "sqlite:///rel.db", "init").exit_code == 0
    assert run("--db", "rel.db", "halt", "--reason", "stop").exit_code == 0
    shown = json.loads(run("--db", "sqlite:///rel.db", "config", "show", "--json").stdout)
    assert {r["key"]: r["value"] for r in shown}["database.url"] == f"sqlite:///{ops.resolve() / 'rel.db'}"
    monkeypatch.chdir(cron)
    monkeypatch.setenv("ORION__DATABASE__URL", "sqlite:///rel.db")
    scan = run("scan", "--demo", "--json")
    assert scan.exit_code == 3, scan.output
    assert "database.url" in scan.stderr and "relative" in scan.stderr and list(cron.iterdir()) == []
    monkeypatch.setenv("ORION__DATABASE__URL", str(ops / "rel.db"))
    assert json.loads(run("halt", "--status", "--json").stdout)["halted"] is True


@pytest.mark.parametrize(("home", "why"), [("rel-home", "working directory"),
                                           ("~nosuchuser_orion/o", "user this machine does not have")])
def test_a_relative_orion_home_cannot_give_a_cron_job_a_kill_switch_of_its_own(
        isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: str, why: str) -> None:
    """Found in review: ORION_HOME=rel (the default ledger's directory) in one directory and in another
    were two ledgers, so the operator's halt did not stop the job. Every command refuses it (init
    before it writes anything), the halt included, unless the database is named; then the halt engages
    there and says what it ignored (a ~nosuchuser home was an internal error there, and in init)."""
    ops, cron = tmp_path / "ops", tmp_path / "cron"
    ops.mkdir()
    cron.mkdir()
    monkeypatch.setenv("ORION_HOME", home)
    for where in (ops, cron):
        monkeypatch.chdir(where)
        for args in (("scan", "--demo", "--json"), ("halt", "--reason", "stop"), ("init",)):
            result = run(*args)
            assert result.exit_code == 3, result.output
            assert f"ORION_HOME ({home!r})" in result.stderr and why in result.stderr
        assert list(where.iterdir()) == []
    ledger = tmp_path / "ledger.db"
    assert run("--db", str(ledger), "init").exit_code == 3  # not the kill switch: refused
    monkeypatch.delenv("ORION_HOME")
    assert run("--db", str(ledger), "init").exit_code == 0
    monkeypatch.setenv("ORION_HOME", home)
    halted = run("--db", str(ledger), "halt", "--reason", "stop")
    assert halted.exit_code == 0, halted.output
    assert f"ORION_HOME ({home!r})" in halted.stderr
    monkeypatch.delenv("ORION_HOME")
    assert json.loads(run("--db", str(ledger), "halt", "--status", "--json").stdout)["halted"] is True


def test_an_invalid_config_named_by_flag_is_checked_by_the_command_the_warning_names(isolated_home: Path,
                                                                                     tmp_path: Path) -> None:
    """Found black-box: `orion --config bad.toml halt` warned "Fix it before trading (`orion config show`
    checks it)", but that command, as written, checks the user config, not bad.toml: it said all is
    well (exit 0). The warning names the command with the file it read, and that command refuses it."""
    assert run("init").exit_code == 0
    bad = tmp_path / "bad config.toml"
    bad.write_text('[trading]\nmin_edge = "0.5x"\n')
    for args in (("halt", "--status"), ("halt", "-r", "x")):
        result = run("--config", str(bad), *args)
        assert result.exit_code == 0, result.output
        hinted = f"orion --config '{bad}' config show"
        assert f"(`{hinted}` checks it)" in result.stderr, result.stderr
        assert run("--config", str(bad), "config", "show").exit_code == 3
    assert run("resume", "--yes").exit_code == 0


def _trip_daily_breaker_today(db_file: Path, reset_hour_utc: int = 0, mode: str = "paper") -> datetime:
    """The ``mode`` loss breaker's daily trip recorded for the current trading day, the kill switch engaged
    as the trip engages it; returns the trading day's reset (its end)."""
    from sqlalchemy import insert

    from orion_cli.risk.halt import KillSwitch
    from orion_cli.store.ledger import day_key, trading_day
    from orion_cli.store.tables import breaker_state

    now = datetime.now(UTC)
    start = trading_day(now, reset_hour_utc)[1]
    day = day_key(start)  # the trading day's key: the instant it began
    db = open_database(f"sqlite:///{db_file}")
    try:
        with db.write() as conn:
            conn.execute(insert(breaker_state).values(
                mode=mode, peak_equity=None, warned_day=None, tripped_kind="daily_loss",
                tripped_at=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), detail=json.dumps({"daily_tripped_day": day}),
                updated_at=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
        KillSwitch(db, mode=mode).engage(f"{mode} loss breaker tripped: daily loss 9.75 of limit 5.00",
                                         kind="breaker", automatic=True)
    finally:
        db.dispose()
    return start + timedelta(days=1)


def test_halt_status_says_a_daily_trip_refuses_trades_until_its_reset_after_resume(isolated_home: Path) -> None:
    """Found by a black-box reviewer: after a daily-loss trip and `orion resume --yes`, `halt --status`
    said "halted": false and nothing more, while every trade was refused by BREAKER until the reset.
    The status (JSON and table) and resume say until when the daily trip refuses trades."""
    assert run("init").exit_code == 0
    result = run("halt", "--status", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["breaker_refuses_until"] is None, result.output
    assert "daily-loss" not in result.stderr
    until = _trip_daily_breaker_today(isolated_home / "orion.db")
    began = until - timedelta(days=1)
    said = (f"the paper daily-loss breaker tripped in the trading day that began {began:%Y-%m-%d %H:%M} UTC: it "
            f"refuses every paper trade (BREAKER) until its reset at {until:%Y-%m-%d %H:%M} UTC, the kill switch "
            "released or not")
    result = run("resume", "--yes", "--json")
    assert result.exit_code == 0 and "kill switch released" in result.stderr, result.output
    assert said in result.stderr, result.stderr
    # In resume's record too (found in review: "halted": false alone, read by a script as trading on).
    rec = json.loads(result.stdout)
    assert rec["halted"] is False and rec["breaker_refuses_until"] == f"{until:%Y-%m-%dT%H:%M:%S.%f}Z", rec
    result = run("halt", "--status", "--json")
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)
    assert rec["halted"] is False and rec["breaker_refuses_until"] == f"{until:%Y-%m-%dT%H:%M:%S.%f}Z", rec
    assert said in result.stderr
    result = run("halt", "--status", "--format", "table")
    assert result.exit_code == 0 and f"{until:%Y-%m-%dT%H:%M:%S.%f}Z" in result.stdout, result.stdout
    assert "breaker refuses until" in result.stdout


def test_halt_status_and_resume_say_the_live_daily_trip_where_trading_mode_is_paper(isolated_home: Path) -> None:
    """Found reviewing paper against live on one ledger: trading.mode left at paper (live through trade's flags),
    a live daily-loss trip refusing every live trade was said by neither `halt --status` nor `resume` (only
    `halt --status --live`), and they said of a paper trip that it refused "every trade". Each mode's trip in
    force is said, naming the trades it refuses; `breaker_refuses_until` stays the command's mode's."""
    assert run("init").exit_code == 0
    until = _trip_daily_breaker_today(isolated_home / "orion.db", mode="live")
    said = "the live daily-loss breaker tripped in the trading day that began"
    refuses = f"it refuses every live trade (BREAKER) until its reset at {until:%Y-%m-%d %H:%M} UTC"
    result = run("halt", "--status", "--json")
    assert result.exit_code == 0, result.output
    assert said in result.stderr and refuses in result.stderr, result.stderr
    assert json.loads(result.stdout)["breaker_refuses_until"] is None  # the paper one's: none
    result = run("resume", "--yes")
    assert result.exit_code == 0 and "kill switch released" in result.stderr, result.output
    assert said in result.stderr and refuses in result.stderr, result.stderr
    assert "paper daily-loss" not in result.stderr


@pytest.mark.parametrize("sentinel", [False, True])
@pytest.mark.parametrize("ledger", ["postgresql_unreachable", "directory", "not_a_database", "missing", "newer"])
@pytest.mark.parametrize("cancel_open", [False, True])
def test_a_ledger_that_cannot_be_opened_is_said_not_halted_with_the_sentinel_file(
        ledger: str, sentinel: bool, cancel_open: bool, isolated_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by black-box review: only a failure inside the engage said "NOT halted" and named the
    sentinel file; a ledger that could not be opened at all (PostgreSQL unreachable: just when the
    operator needs the file) said "cannot connect…" like any other command (exit 3)."""
    import sqlite3

    url = {"postgresql_unreachable": "postgresql://u@127.0.0.1:1/x", "directory": str(tmp_path / "dir.db"),
           "not_a_database": str(tmp_path / "notdb.db"), "missing": str(tmp_path / "nope.db"),
           "newer": str(tmp_path / "newer.db")}[ledger]
    (tmp_path / "dir.db").mkdir()
    (tmp_path / "notdb.db").write_text("garbage\n")
    open_database(str(tmp_path / "newer.db")).dispose()  # then migrated by a newer orion (its migration fails)
    conn = sqlite3.connect(tmp_path / "newer.db")
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")
        conn.execute("UPDATE orion_meta SET value = '0999' WHERE key = 'compatible_from'")  # not for this orion
    conn.close()
    stop = tmp_path / "stop orion"
    if sentinel:
        monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(stop))
    result = run("--db", url, "halt", "--reason", "outage", *(["--cancel-open"] if cancel_open else []), "--json")
    assert result.exit_code == 3, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["message"].startswith("NOT halted: ") and error["reason"].startswith("storage"), error
    assert "HALTED" not in result.stderr and result.stdout == ""
    if sentinel:  # quoted for the shell: `touch` of it unquoted would make two other files
        assert f"create the file halt.sentinel_file names: '{stop}'" in result.stderr
    else:  # how to configure one, and no word of a file that halts
        assert "no halt.sentinel_file is configured" in result.stderr
        assert "set halt.sentinel_file to an absolute path" in result.stderr
        assert "halt.sentinel_file names" not in result.stderr
    assert not stop.exists()  # named, not created
    assert run("--db", url, "halt", "--status").exit_code == 3  # a status is not a halt: nothing to say NOT of
    assert "NOT halted" not in run("--db", url, "halt", "--status").stderr


def test_a_configuration_naming_no_database_it_can_trust_is_said_not_halted(isolated_home: Path,
                                                                            tmp_path: Path) -> None:
    """Found by review: a wrong [database] key refused the halt without saying nothing was halted, nor
    that `orion --db URL halt` gets past it (an unreadable file's error said that much)."""
    config = tmp_path / "c.toml"
    config.write_text("[database]\nurlx = 1\n")
    result = run("--config", str(config), "halt", "--reason", "outage")
    assert result.exit_code == 3, result.output
    assert "error: NOT halted: unknown configuration key database.urlx" in result.stderr
    assert "hint: did you mean database.url? Or `orion --db URL halt` engages the kill switch" in result.stderr


@pytest.mark.parametrize("variable", ["ORION__FOO__BAR", "ORION__DB__URL", "ORION__DB_URL", "ORION__LEDGER__PATH"])
def test_an_unknown_environment_variable_is_not_halted_and_names_the_db_option(
        isolated_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str) -> None:
    """Found by black-box review: ORION__FOO__BAR=1 refused `orion halt` (exit 3) without saying NOT halted or
    how to halt anyway. It cannot be told from a misspelt database setting (ORION__DB_URL naming another
    ledger: halting the default one instead, exit 0, was the review's catch of a leniency tried meanwhile),
    so it still refuses, now saying NOT halted and naming `orion --db URL halt`, which halts the ledger named."""
    from orion_cli.risk.halt import KillSwitch

    assert run("init").exit_code == 0
    monkeypatch.setenv(variable, str(tmp_path / "other.db"))
    refused = run("halt", "--reason", "t")
    assert refused.exit_code == 3, refused.output
    assert "error: NOT halted: " in refused.stderr and "`orion --db URL halt`" in refused.stderr
    db = open_database(f"sqlite:///{isolated_home / 'orion.db'}")
    try:
        assert not KillSwitch(db).status().halted  # the default ledger was not halted in its place
    finally:
        db.dispose()
    named = run("--db", str(isolated_home / "orion.db"), "halt", "--reason", "t")
    assert named.exit_code == 0 and "HALTED: t" in named.stderr, named.output


@pytest.mark.parametrize("password", ["none", "wrong"])
def test_cancel_open_live_with_a_vault_that_does_not_open_gives_its_unlock_hint_and_says_halted(
        isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    """Found in review: a locked vault or a wrong password during `halt --cancel-open --live` hinted
    "`orion secrets encrypt` the venue's credentials, or disable it", and the message said "nothing was
    changed" though the halt was engaged. It gives the vault's own unlock hint (as `balance` does), says
    the halt is on and only the cancelling failed, and names the retry with --live."""
    from cheap_kdf import accept_cheap_kdf

    from orion_cli.secrets.store import open_store
    from orion_cli.secrets.unlock import resolve_master_password
    from orion_cli.secrets.vault import TEST_KDF

    accept_cheap_kdf(monkeypatch)
    assert run("init").exit_code == 0
    vault, pw = isolated_home / "vault.json", tmp_path / "master"
    pw.write_text("a throwaway master password for this test only")
    pw.chmod(0o600)
    monkeypatch.setenv("ORION_MASTER_PASSWORD_FILE", str(pw))
    store = open_store("vault", vault_path=vault, kdf=TEST_KDF, allow_weak_kdf=True,
                       password=lambda new: resolve_master_password(vault, prompt=None, new=new, keyring_get=None))
    store.set_many({"polymarket_private_key": "0x" + "11" * 32})
    store.close()
    if password == "none":
        monkeypatch.delenv("ORION_MASTER_PASSWORD_FILE")
    else:
        pw.write_text("not the password that opens this vault")
    result = run("halt", "--cancel-open", "--live", "--json")
    assert result.exit_code == 4, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["reason"] == ("locked" if password == "none" else "wrong_password"), error
    assert error["message"].startswith("halted (the kill switch is engaged); only cancelling the resting orders "
                                       "failed"), error
    assert "nothing was changed" not in result.stderr
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint: "))
    assert "secrets encrypt" not in hint
    assert ("ORION_MASTER_PASSWORD_FILE" in hint) and hint.endswith("then run `orion halt --cancel-open --live` "
                                                                    "to cancel them"), hint
    assert json.loads(run("halt", "--status", "--json").stdout)["halted"] is True
