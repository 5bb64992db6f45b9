"""CliRunner tests for the foundation commands and every exit code they can produce.

init, config show, halt, resume, audit tail, audit verify; global options; the one error boundary.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orion_cli import __version__
from orion_cli.cli.app import app, hoist_global_options
from orion_cli.cli.commands.audit import SINCE_HINT
from orion_cli.core.config import render_example
from orion_cli.store.revision import HEAD_REVISION


def run(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def error_record(result: Result) -> dict[str, Any]:
    records = [r for r in jsonl_lenient(result.stderr) if r.get("type") == "error"]
    assert len(records) == 1, result.stderr
    return records[0]


def jsonl_lenient(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


@pytest.fixture
def ledger(isolated_home: Path) -> Path:
    """An initialised home: config file written and database migrated."""
    result = run("init")
    assert result.exit_code == 0, result.output
    return isolated_home / "orion.db"


# -- global options ----------------------------------------------------------------------------


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"orion {__version__} (ledger schema {HEAD_REVISION})"


def test_help_documents_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split())
    for code in ("130 interrupted", "3 configuration error", "6 refused", "2 usage error"):
        assert code in flat


def test_the_app_ignores_a_terminal_size_that_is_not_plain_ascii_digits(isolated_home: Path) -> None:
    """As the console script does (test_entry), for the app run on its own (Click's main): Rich read
    "²" with isdigit() and failed in int() (an internal error, exit 1), and "٣٠" as 30 columns."""
    unset = run("config", "--help", env={"COLUMNS": None, "LINES": None})
    assert unset.exit_code == 0
    for size in ("²", "٣٠", "1_00"):
        result = run("config", "--help", env={"COLUMNS": size, "LINES": size})
        assert (result.exit_code, result.stdout) == (0, unset.stdout), size


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["halt", "--bogus"],
        ["--format", "xml", "halt", "--status"],
        ["--json", "--jsonl", "halt", "--status"],
        ["--format", "table", "halt", "--status", "--json"],  # found by black-box testing: --json won silently
        ["--jsonl", "halt", "--status", "--format=json"],
        ["audit", "tail", "-n", "-1"],
        ["audit", "tail", "-n", "many"],
        ["audit", "nope"],
        ["nosuchcommand"],
        ["config", "show", "--bogus"],
    ],
)
def test_bad_flags_exit_2(args: list[str], isolated_home: Path) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert not (isolated_home / "orion.db").exists()  # nothing ran


@pytest.mark.parametrize("args", [["--format", "json", "halt", "--status", "--json"],
                                  ["--format", "auto", "--jsonl", "halt", "--status"]])
def test_a_format_that_agrees_with_its_shorthand_is_not_a_contradiction(args: list[str], isolated_home: Path) -> None:
    assert run("init").exit_code == 0
    result = run(*args)
    assert result.exit_code == 0, result.output
    text = result.stdout if "json" in args else result.stdout.splitlines()[0]
    assert json.loads(text)["halted"] is False


@pytest.mark.parametrize("args", [["--json", "halt", "--bogus"], ["audit", "tail", "-n", "-1", "--json"]],
                         ids=["unknown-option", "out-of-range-value"])
def test_parser_usage_errors_with_json_write_an_error_object(args: list[str]) -> None:
    """DESIGN §2: with --json, *a failure* also writes one JSON error object to stderr."""
    result = run(*args)
    assert result.exit_code == 2
    rec = error_record(result)
    assert rec["exit_code"] == 2 and rec["reason"] and rec["message"]


@pytest.mark.parametrize("value", ["last tuesday", "bogus", "99999999999d", "２h"])
def test_bad_since_is_a_usage_error_with_a_hint_saying_what_it_takes(ledger: Path, value: str) -> None:
    """Found black-box: `audit tail --since bogus` printed an error line without the `hint:` line every
    parser usage error carries; the hint says what --since takes."""
    result = run("audit", "tail", "--since", value)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: --since {value!r}: "), result.stderr
    assert lines[1] == f"hint: {SINCE_HINT}", result.stderr


@pytest.mark.parametrize("command", [("audit", "tail"), ("report",)])
def test_since_reads_a_lower_case_z_and_t_as_rfc_3339_does(ledger: Path, command: tuple[str, ...]) -> None:
    """Found by a black-box review: `--since 2026-11-25T02:51:40z` was a usage error in `report` and `audit
    tail`; RFC 3339 allows a lower-case z (UTC) and t. Each spelling names one instant."""
    from orion_cli.cli.commands.audit import parse_since

    assert {parse_since(v) for v in ("2026-11-25T02:51:40Z", "2026-11-25T02:51:40z", "2026-11-25t02:51:40z",
                                     "2026-11-25T02:51:40+00:00", "2026-11-25T03:51:40+01:00")} == {
        "2026-11-25T02:51:40.000000Z"}
    lower = run(*command, "--since", "2000-01-01t00:00:00z", "--json")
    upper = run(*command, "--since", "2000-01-01T00:00:00Z", "--json")
    assert lower.exit_code == upper.exit_code == 0, lower.output
    assert len(lower.stdout) == len(upper.stdout) and lower.stdout.count("\n") == upper.stdout.count("\n")


def test_format_flags_before_and_after_the_command_agree(ledger: Path) -> None:
    before = run("--json", "halt", "--status")
    after = run("halt", "--status", "--json")
    fmt_after = run("halt", "--status", "--format", "json")
    fmt_eq = run("halt", "--status", "--format=json")
    assert before.exit_code == after.exit_code == fmt_after.exit_code == fmt_eq.exit_code == 0
    assert json.loads(before.stdout) == json.loads(after.stdout) == json.loads(fmt_after.stdout)
    assert json.loads(fmt_eq.stdout)["halted"] is False
    jl = run("halt", "--status", "--jsonl")
    assert jl.stdout.count("\n") == 1 and json.loads(jl.stdout)["type"] == "halt"


def test_hoisting_stops_at_double_dash() -> None:
    assert hoist_global_options(["halt", "--json", "--", "--jsonl"]) == ["--json", "halt", "--", "--jsonl"]
    assert hoist_global_options(["x", "--format", "table"]) == ["--format", "table", "x"]


def test_double_dash_as_an_option_value_does_not_end_options() -> None:
    values = frozenset({"--config", "-n"})
    assert hoist_global_options(["--config", "--", "halt", "--json"], values) == ["--config", "--", "--json", "halt"]
    # -qn: -q is global (taken out of the cluster), n takes the "--" that follows as its value
    assert hoist_global_options(["x", "-qn", "--", "--json"], values) == ["-q", "--json", "x", "-n", "--"]
    # -nq: n takes "q" as its value, so the "--" that follows does end the options
    assert hoist_global_options(["x", "-nq", "--", "--json"], values) == ["x", "-nq", "--", "--json"]


def test_every_global_option_is_accepted_after_the_command(ledger: Path, tmp_path: Path) -> None:
    """README: global options are accepted before or after the command (`scan --demo -v` was exit 2)."""
    assert hoist_global_options(["halt", "--status", "-vv", "-q", "--db", "x", "--config=c"]) == [
        "-vv", "-q", "--db", "x", "--config=c", "halt", "--status"]
    other = tmp_path / "other.db"
    assert run("init", "--db", str(other), "-q").exit_code == 0  # the kill switch wants a ledger that exists
    assert run("halt", "--reason", "after", "--db", str(other), "-q").exit_code == 0
    status = run("halt", "--status", "--json", "--db", str(other), "-v")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["reason"] == "after"
    version = run("halt", "--version")
    assert version.exit_code == 0 and version.stdout.startswith("orion ")


def test_global_short_flags_are_taken_out_of_a_cluster() -> None:
    """Found by a black-box audit: `resume -yq` and `audit tail -qn 1` failed "No such option: -q" (exit 2;
    in cron `resume -yq` left the kill switch engaged) while `resume -y -q` worked. A letter that takes
    a value takes the rest of the cluster, as Click reads it: the global letters after it are its value."""
    values, flags = frozenset({"-n", "-r"}), frozenset({"-y", "-f", "-h"})

    def hoist(*args: str) -> list[str]:
        return hoist_global_options(list(args), values, flags)

    assert hoist("resume", "-yq") == ["-q", "resume", "-y"]
    assert hoist("resume", "-qy") == ["-q", "resume", "-y"]
    assert hoist("audit", "tail", "-qn", "1") == ["-q", "audit", "tail", "-n", "1"]
    assert hoist("audit", "tail", "-qn1") == ["-q", "audit", "tail", "-n1"]
    assert hoist("audit", "tail", "-fvqn", "1", "x") == ["-v", "-q", "audit", "tail", "-fn", "1", "x"]
    assert hoist("audit", "tail", "-n1q") == ["audit", "tail", "-n1q"]  # -n's value is "1q"
    assert hoist("audit", "tail", "-fn", "-q") == ["audit", "tail", "-fn", "-q"]  # -q is -n's value
    assert hoist("scan", "-vvq") == ["-v", "-v", "-q", "scan"]  # counted: -vv
    assert hoist("scan", "-qv") == ["-q", "-v", "scan"]
    assert hoist("resume", "-yxq") == ["resume", "-yxq"]  # an unknown letter: Click names it
    # ... and not a global letter before it: `resume -qx` said "No such option: -q", a documented option.
    assert hoist("resume", "-qx") == ["-q", "resume", "-x"]
    assert hoist("resume", "-qyx") == ["-q", "resume", "-yx"]
    # Found in review: a dash after a global letter made the rest a long option (`-q-yes` released the
    # kill switch as `resume -q --yes`; `trade OP -q-confirm` executed) or `--`. Left whole: refused.
    for cluster in ("-q-yes", "-q-", "-yq-confirm", "-q=x"):
        assert hoist("resume", cluster) == ["resume", cluster]
    assert hoist("halt", "-r", "-yq") == ["halt", "-r", "-yq"]  # the reason
    assert hoist("resume", "--", "-yq") == ["resume", "--", "-yq"]


def test_no_short_option_is_a_flag_in_one_command_and_takes_a_value_in_another() -> None:
    """Splitting a cluster (above) reads every command's short options from one set of each kind."""
    import typer

    from orion_cli.cli.app import short_flag_names, value_option_names

    root = typer.main.get_command(app)
    assert short_flag_names(root) & value_option_names(root) == set()
    assert {"-y", "-f", "-q", "-v"} <= short_flag_names(root) and {"-n", "-r"} <= value_option_names(root)


def test_clustered_global_short_flags_work_after_the_command(ledger: Path) -> None:
    assert run("halt", "--reason", "drill").exit_code == 0
    resumed = run("resume", "-yq", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["halted"] is False and resumed.stderr == ""
    tail = run("audit", "tail", "-qn", "1", "--jsonl")
    assert tail.exit_code == 0, tail.output
    assert [e["type"] for e in jsonl(tail.stdout)] == ["halt.released"]
    verbose = run("audit", "tail", "-vvn1", "--jsonl")
    assert verbose.exit_code == 0 and len(jsonl(verbose.stdout)) == 1, verbose.output
    valued = run("audit", "tail", "-n1q")  # -n's value is "1q"
    assert valued.exit_code == 2 and "1q" in valued.stderr, valued.output
    unknown = run("resume", "-qZ")
    assert unknown.exit_code == 2 and "No such option: -Z" in unknown.stderr, unknown.output
    assert run("halt", "--reason", "again").exit_code == 0
    dashed = run("resume", "-q-yes")
    assert dashed.exit_code == 2 and "--yes" not in dashed.stderr, dashed.output
    assert json.loads(run("halt", "--status", "--json").stdout)["halted"] is True


def test_no_command_option_shares_a_name_with_a_global_option() -> None:
    """Hoisting global options from after the command relies on it."""
    import typer

    root = typer.main.get_command(app)
    globals_ = {n for p in root.params for n in (*p.opts, *p.secondary_opts)} - {"--help", "-h"}
    clashes = []
    stack = [((name,), cmd) for name, cmd in getattr(root, "commands", {}).items()]
    while stack:
        path, cmd = stack.pop()
        clashes += [(" ".join(path), n) for p in cmd.params for n in (*p.opts, *p.secondary_opts) if n in globals_]
        stack += [((*path, name), sub) for name, sub in getattr(cmd, "commands", {}).items()]
    assert clashes == []


def test_every_command_group_is_a_command_group() -> None:
    """A group built with Typer's own class would again print its help to stdout when piped without a
    command (tests/cli/test_pipes_and_signals.py has the black-box tests)."""
    import typer

    from orion_cli.cli.groups import CommandGroup

    stack = [("orion", typer.main.get_command(app))]
    groups = []
    while stack:
        path, cmd = stack.pop()
        subs = getattr(cmd, "commands", None)
        if subs is not None:
            groups.append((path, cmd))
            stack += [(f"{path} {name}", sub) for name, sub in subs.items()]
    assert len(groups) >= 6
    assert [path for path, cmd in groups if not isinstance(cmd, CommandGroup)] == []


def test_an_option_value_that_looks_like_a_format_flag_stays_a_value(ledger: Path) -> None:
    values = frozenset({"-r", "--reason", "--format"})
    assert hoist_global_options(["halt", "-r", "--json", "--status"], values) == ["halt", "-r", "--json", "--status"]
    assert hoist_global_options(["halt", "--reason=x", "--json"], values) == ["--json", "halt", "--reason=x"]
    # Click reads `-r --json --status` as reason "--json" plus --status: never a halt (a status query
    # given a reason is a usage error)
    result = run("halt", "-r", "--json", "--status")
    assert result.exit_code == 2 and "--reason" in result.output, result.output
    assert not json.loads(run("--json", "halt", "--status").stdout)["halted"]


def test_version_after_a_consumed_double_dash_still_exits_cleanly(isolated_home: Path) -> None:
    result = run("--config", "--", "--version")
    assert result.exit_code == 0 and result.stdout.startswith("orion ")
    refused = run("--config", "--", "halt", "--status", "--json")
    assert refused.exit_code == 3
    assert json.loads(refused.stderr.strip().splitlines()[-1])["reason"] == "config_missing"


def test_table_format_on_a_pipe(ledger: Path) -> None:
    result = run("--format", "table", "halt", "--status")
    assert result.exit_code == 0
    assert "halted" in result.stdout and "{" not in result.stdout


def test_db_with_a_question_mark_in_the_path_is_that_file_and_nothing_raw_is_printed(isolated_home: Path,
                                                                                   tmp_path: Path) -> None:
    """Found black-box: `--db '/tmp/x?y.db'` was parsed as a URL query (a ledger in /tmp/x) and a raw
    SAWarning reached the terminal. A path given to --db is the file it names; the command prints
    only its own lines."""
    import os
    import subprocess
    import sys

    other = tmp_path / "x?mode=ro.db"
    proc = subprocess.run([sys.executable, "-m", "orion_cli", "--db", str(other), "init"], env=dict(os.environ),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "sqlalchemy" not in proc.stderr.lower(), proc.stderr
    assert other.is_file() and not (tmp_path / "x").exists()
    status = run("--db", str(other), "--json", "halt", "--status")
    assert status.exit_code == 0 and json.loads(status.stdout)["halted"] is False, status.output


def test_db_option_selects_the_ledger(isolated_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    assert run("--db", str(other), "init").exit_code == 0
    assert other.exists() and not (isolated_home / "orion.db").exists()
    result = run("--db", str(other), "halt", "--reason", "elsewhere")
    assert result.exit_code == 0, result.output
    status = run("--db", str(other), "--json", "halt", "--status")
    assert json.loads(status.stdout)["reason"] == "elsewhere"


def test_quiet_silences_talk_but_not_data(ledger: Path) -> None:
    result = run("-q", "--jsonl", "resume", "--yes")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert json.loads(result.stdout)["halted"] is False
    # ... but not the banners its help names (found by black-box testing: the help said "only data and
    # errors" while the demo data banner still showed)
    scanned = run("-q", "--jsonl", "scan", "--demo")
    assert scanned.exit_code == 0 and "DEMO" in scanned.stderr
    assert "banners" in run("--help").stdout


# -- init --------------------------------------------------------------------------------------


def test_init_writes_config_and_database_and_refuses_to_overwrite(isolated_home: Path) -> None:
    result = run("--json", "init")
    assert result.exit_code == 0, result.output
    cfg = isolated_home / "config.toml"
    assert cfg.read_text() == render_example()
    assert (isolated_home / "orion.db").is_file()
    rec = json.loads(result.stdout)
    assert rec["type"] == "init" and rec["config_written"] is True

    cfg.write_text('[limits]\norder_notional = "42"\n')
    again = run("--json", "init")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["config_written"] is False
    assert "--force" in again.stderr
    assert cfg.read_text() == '[limits]\norder_notional = "42"\n'

    forced = run("--json", "init", "--force")
    assert forced.exit_code == 0
    assert cfg.read_text() == render_example()
    events = jsonl(run("--jsonl", "audit", "tail", "--type", "config").stdout)
    assert [e["payload"]["config_written"] for e in events] == [True, False, True]


def test_init_and_config_show_name_a_ledger_under_a_non_ascii_home_the_same_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    """Found in a black-box run: `init` printed the ledger's URL with the path's letters percent-encoded
    (sqlite:////…/%C3%BCn%C3%AF/orion.db), `config show` as written."""
    home = tmp_path / "a b" / "ünï"
    home.mkdir(parents=True)
    monkeypatch.setenv("ORION_HOME", str(home))
    init = run("--json", "init")
    assert init.exit_code == 0, init.output
    shown = {r["key"]: r["value"] for r in json.loads(run("--json", "config", "show").stdout)}
    assert json.loads(init.stdout)["database"] == shown["database.url"] == f"sqlite:///{home / 'orion.db'}"


def test_init_force_keeps_the_operators_config_beside_the_new_one(isolated_home: Path) -> None:
    """Found by a black-box run: `init --force` overwrote a hand-edited config with nothing kept."""
    cfg = isolated_home / "config.toml"
    assert run("init").exit_code == 0
    assert run("--json", "init", "--force").exit_code == 0  # the example over the example: nothing to keep
    assert sorted(p.name for p in isolated_home.glob("config.toml.*.bak")) == []
    edits = ['[limits]\norder_notional = "42"\n', '[limits]\norder_notional = "43"\n']
    backups = []
    for text in edits:
        cfg.write_text(text)
        forced = run("--json", "init", "--force")
        assert forced.exit_code == 0, forced.output
        backups.append(Path(json.loads(forced.stdout)["backup"]))
        assert "kept the previous config as" in forced.stderr
        assert cfg.read_text() == render_example()
    assert [b.read_text() for b in backups] == edits  # a second --force does not overwrite the first copy
    assert all(b.parent == isolated_home and b.name.startswith("config.toml.") for b in backups)
    assert (backups[0].stat().st_mode & 0o777) == 0o600
    events = jsonl(run("--jsonl", "audit", "tail", "--type", "config").stdout)
    assert [e["payload"]["backup"] for e in events] == [None, None, str(backups[0]), str(backups[1])]


def test_init_force_says_when_the_replaced_config_named_another_ledger(isolated_home: Path, tmp_path: Path) -> None:
    """Found by a black-box review: `init --force` over a config naming /srv/ledger.db (halted) moved every later
    command to the default ledger, not halted, without a word. It warns, even with -q, naming both."""
    other = tmp_path / "srv.db"
    assert run("--db", str(other), "init").exit_code == 0
    assert run("--db", str(other), "halt", "--reason", "incident").exit_code == 0
    cfg = isolated_home / "config.toml"
    cfg.write_text(f'[database]\nurl = "{other}"\n')
    forced = run("-q", "--json", "init", "--force")
    assert forced.exit_code == 0, forced.output
    backup = json.loads(forced.stdout)["backup"]
    assert f"the replaced config named the ledger sqlite:///{other}" in forced.stderr, forced.stderr
    assert f"copy its [database] section from {backup}" in forced.stderr
    cfg.write_text('[limits]\norder_notional = "42"\n')  # no ledger named: nothing to say
    again = run("--json", "init", "--force")
    assert again.exit_code == 0 and "replaced config named the ledger" not in again.stderr, again.stderr


def test_init_on_a_foreign_database_exits_3_and_leaves_it(isolated_home: Path) -> None:
    db = isolated_home / "orion.db"
    db.write_text("not a database\n")
    result = run("--json", "init")
    assert result.exit_code == 3
    assert error_record(result)["reason"] == "storage_foreign"
    assert db.read_text() == "not a database\n"


def test_init_refuses_when_the_config_path_is_a_directory(isolated_home: Path) -> None:
    """A configuration error (exit 3), as `config show` says of the same path (found by a black-box review:
    init said exit 6, "refused", the code of a safeguard)."""
    (isolated_home / "config.toml").mkdir()
    for args in (("init",), ("init", "--force")):
        result = run("--json", *args)
        assert result.exit_code == 3, result.output
        assert error_record(result)["reason"] == "config" and "is a directory" in result.stderr
        assert "mv " in result.stderr
        assert (isolated_home / "config.toml").is_dir()


def test_init_force_that_cannot_write_the_config_leaves_no_backup(isolated_home: Path) -> None:
    """Found by a crash review: on a full disk `init --force` failed (exit 3), the config as it was, but left
    `config.toml.<time>.bak` beside it, the backup of a change that was not made."""
    from unittest import mock

    from orion_cli.core import files

    cfg = isolated_home / "config.toml"
    assert run("init").exit_code == 0
    cfg.write_text('[limits]\norder_notional = "42"\n')
    real = files.replace_file

    def full_disk(path: Path, data: bytes, **kwargs: Any) -> Path:
        if path.name == "config.toml":
            raise OSError(28, "No space left on device")
        return real(path, data, **kwargs)

    with mock.patch.object(files, "replace_file", full_disk):
        result = run("--json", "init", "--force")
    assert result.exit_code == 3 and "No space left" in result.stderr, result.output
    assert cfg.read_text() == '[limits]\norder_notional = "42"\n'
    assert sorted(p.name for p in isolated_home.glob("config.toml.*")) == []

    # Interrupted once the new config is in place (found reviewing the fix): the backup, the operator's only
    # copy of the edits now, is kept.
    def interrupted_after_the_rename(path: Path, data: bytes, **kwargs: Any) -> Path:
        written = real(path, data, **kwargs)
        if path.name == "config.toml":
            raise KeyboardInterrupt
        return written

    with mock.patch.object(files, "replace_file", interrupted_after_the_rename):
        result = run("--json", "init", "--force")
    assert result.exit_code == 130, result.output
    [kept] = isolated_home.glob("config.toml.*.bak")
    assert kept.read_text() == '[limits]\norder_notional = "42"\n'


def test_init_writes_through_a_linked_config_and_refuses_a_link_to_nothing(isolated_home: Path,
                                                                             tmp_path: Path) -> None:
    """Found in review: with config.toml a link to a shared config, `init --force` replaced the link with
    a config of its own (the shared one unchanged); with a link to nothing, `init` wrote a new config in
    its place, which every other command refuses (exit 3, "never skipped")."""
    shared = tmp_path / "shared" / "config.toml"
    shared.parent.mkdir()
    cfg = isolated_home / "config.toml"
    cfg.symlink_to(shared)
    result = run("--json", "init")
    assert result.exit_code == 3 and error_record(result)["reason"] == "config_missing", result.output
    assert f"{cfg}: it is a symbolic link to {shared}, which does not exist" in result.stderr
    assert cfg.is_symlink() and not shared.exists() and not (isolated_home / "orion.db").exists()
    shared.write_text('[limits]\norder_notional = "42"\n')
    shared.chmod(0o640)
    forced = run("--json", "init", "--force")
    assert forced.exit_code == 0, forced.output
    assert cfg.is_symlink() and shared.read_text() == render_example()
    assert (shared.stat().st_mode & 0o777) == 0o640
    assert Path(json.loads(forced.stdout)["backup"]).read_text() == '[limits]\norder_notional = "42"\n'


# -- config show -------------------------------------------------------------------------------


def test_config_show_sources(isolated_home: Path, tmp_path: Path) -> None:
    (isolated_home / "config.toml").write_text('[limits]\norder_contracts = "9"\n')
    flag_file = tmp_path / "f.toml"
    flag_file.write_text('[trading]\nmin_edge = "0.02"\n')
    result = run("--config", str(flag_file), "--jsonl", "config", "show", "--sources",
                 env={"ORION__LIMITS__ORDER_NOTIONAL": "55"})
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in jsonl(result.stdout)}
    assert rows["limits.order_notional"]["value"] == "55"
    assert rows["limits.order_notional"]["source"] == "environment ORION__LIMITS__ORDER_NOTIONAL"
    assert rows["limits.order_contracts"]["source"].startswith("user config")
    assert rows["trading.min_edge"] == {"type": "config", "key": "trading.min_edge", "value": "0.02",
                                        "source": f"--config {flag_file}"}
    assert rows["trading.mode"]["source"] == "default"


def test_config_show_without_sources_and_db_flag_wins(tmp_path: Path) -> None:
    result = run("--db", "postgresql://u:pw@h/db", "--jsonl", "config", "show")
    rows = {r["key"]: r for r in jsonl(result.stdout)}
    assert "source" not in rows["trading.mode"]
    assert rows["database.url"]["value"] == "postgresql://u:***@h/db"
    assert "pw" not in result.stdout


def test_config_show_masks_credentials_in_venue_urls(isolated_home: Path) -> None:
    """Found by a black-box run: a proxy password or an api_key in a venue URL was shown whole."""
    env = {"ORION__POLYMARKET__CLOB_URL": "https://u:S3CRET-PW@proxy.example/clob?api_key=S3CRET-KEY",
           "ORION__KALSHI__PROD_BASE_URL": "https://TOKEN-S3CRET@gw.example/trade-api/v2"}
    for fmt in ("--jsonl", "--format=table"):
        result = run(fmt, "config", "show", "--sources", env=env)
        assert result.exit_code == 0, result.output
        assert "S3CRET" not in result.stdout + result.stderr
    rows = {r["key"]: r for r in jsonl(run("--jsonl", "config", "show", env=env).stdout)}
    assert rows["polymarket.clob_url"]["value"] == "https://***@proxy.example/clob?api_key=***"
    assert rows["kalshi.prod_base_url"]["value"] == "https://***@gw.example/trade-api/v2"
    assert rows["polymarket.gamma_url"]["value"] == "https://gamma-api.polymarket.com"


LOCATIONS = ("database.url", "secrets.vault_path", "matching.pairs_file")


def test_config_show_names_the_ledger_vault_and_pairs_file_in_use(isolated_home: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a black-box contract review: left empty, the three were shown as "" from "default" while the
    ledger was ORION_HOME's orion.db: an operator could not confirm cron and a trader share one ledger."""
    init = json.loads(run("--json", "init").stdout)
    result = run("--jsonl", "config", "show", "--sources")
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in jsonl(result.stdout)}
    assert {k: (rows[k]["value"], rows[k]["source"]) for k in LOCATIONS} == {
        "database.url": (init["database"], "default (ORION_HOME)"),
        "secrets.vault_path": (str(isolated_home / "vault.json"), "default (ORION_HOME)"),
        "matching.pairs_file": (str(isolated_home / "pairs.toml"), "default (ORION_HOME)"),
    }
    assert init["database"] == f"sqlite:///{isolated_home / 'orion.db'}"
    assert set(rows["database.url"]) == {"type", "key", "value", "source"}  # the record's shape is unchanged
    # without ORION_HOME: the platform's user dirs, named as such
    monkeypatch.delenv("ORION_HOME")
    rows = {r["key"]: r for r in jsonl(run("--jsonl", "config", "show", "--sources").stdout)}
    assert rows["database.url"]["value"] == f"sqlite:///{tmp_path / 'xdg_data_home' / 'orion' / 'orion.db'}"
    assert rows["database.url"]["source"] == rows["secrets.vault_path"]["source"] == "default (user data dir)"
    assert rows["matching.pairs_file"] == {"type": "config", "key": "matching.pairs_file",
                                           "value": str(tmp_path / "xdg_config_home" / "orion" / "pairs.toml"),
                                           "source": "default (user config dir)"}
    # given with ~: shown as the files this user's processes use; given otherwise: as given, masked
    monkeypatch.setenv("HOME", str(tmp_path))
    env = {"ORION__SECRETS__VAULT_PATH": "~/v.json", "ORION__DATABASE__URL": "sqlite:///~/x.db"}
    rows = {r["key"]: r for r in jsonl(run("--jsonl", "config", "show", "--sources", env=env).stdout)}
    assert rows["secrets.vault_path"]["value"] == str(tmp_path / "v.json")
    assert rows["database.url"] == {"type": "config", "key": "database.url", "value": f"sqlite:///{tmp_path}/x.db",
                                    "source": "environment ORION__DATABASE__URL"}
    shown = run("--db", "postgresql://u:S3CRET@h/db", "--jsonl", "config", "show", "--sources")
    assert "S3CRET" not in shown.stdout + shown.stderr
    assert {r["key"]: r for r in jsonl(shown.stdout)}["database.url"]["value"] == "postgresql://u:***@h/db"


def test_init_writes_no_resolved_location_into_the_config_file(isolated_home: Path) -> None:
    assert run("init").exit_code == 0
    assert (isolated_home / "config.toml").read_text() == render_example()


def test_config_show_table(isolated_home: Path) -> None:
    result = run("--format", "table", "config", "show", "--sources")
    assert result.exit_code == 0
    assert "limits.order_notional" in result.stdout and "default" in result.stdout


def test_unknown_key_exits_3_naming_key_source_and_suggestion(isolated_home: Path) -> None:
    cfg = isolated_home / "config.toml"
    cfg.write_text('[limits]\norder_notionl = "5"\n')
    result = run("--json", "config", "show")
    assert result.exit_code == 3
    assert "limits.order_notionl" in result.stderr and str(cfg) in result.stderr
    assert "did you mean limits.order_notional?" in result.stderr
    rec = error_record(result)
    assert rec["exit_code"] == 3 and rec["reason"] == "config_unknown_key"
    assert result.stdout == ""


def test_a_config_variable_spelt_with_single_underscores_exits_3_naming_the_right_one(isolated_home: Path) -> None:
    # A trader lowering a limit this way used to get the default limit and no word about it.
    result = run("--json", "config", "show", env={"ORION_LIMITS_ORDER_NOTIONAL": "5"})
    assert result.exit_code == 3 and result.stdout == ""
    rec = error_record(result)
    assert rec["reason"] == "config_unknown_key" and "ORION_LIMITS_ORDER_NOTIONAL is not read" in rec["message"]
    assert "rename it ORION__LIMITS__ORDER_NOTIONAL" in result.stderr


def test_orions_other_single_underscore_variables_are_not_config_errors(isolated_home: Path) -> None:
    cfg = isolated_home / "extra.toml"
    cfg.write_text("")
    result = run("--json", "config", "show", env={
        "ORION_CONFIG": str(cfg), "ORION_DEBUG": "1", "ORION_PAPER_TRADING": "0",
        "ORION_LIVE_TRADING_AUTHORIZED": "true", "ORION_MASTER_PASSWORD_FILE": "/nonexistent",
        "ORION_ALERT_WEBHOOK_URL": "https://hooks.invalid/x", "ORION_TRADE_STOP_AFTER_GATE": "1"})
    assert result.exit_code == 0, result.stderr


def test_out_of_range_env_exits_3_with_range(isolated_home: Path) -> None:
    result = run("audit", "tail", env={"ORION__LIMITS__ORDER_NOTIONAL": "0"})  # (the kill switch only warns)
    assert result.exit_code == 3
    assert "limits.order_notional" in result.stderr
    assert "environment ORION__LIMITS__ORDER_NOTIONAL" in result.stderr
    assert "0.01..1000000" in result.stderr


def test_toml_syntax_error_exits_3_with_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[limits\n")
    result = run("--config", str(bad), "config", "show")
    assert result.exit_code == 3
    assert "line 1" in result.stderr and "column" in result.stderr


def test_a_config_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Found by a black-box run: a config saved by a Windows editor (UTF-8 with a BOM) failed with exit 3."""
    f = tmp_path / "c.toml"
    f.write_bytes(b"\xef\xbb\xbf[limits]\norder_notional = \"77\"\n")
    result = run("--config", str(f), "--jsonl", "config", "show")
    assert result.exit_code == 0, result.output
    assert {r["key"]: r["value"] for r in jsonl(result.stdout)}["limits.order_notional"] == "77"
    f.write_bytes(b"\xef\xbb\xbf# \xff\n")  # an error's column counts from the text, not the mark
    result = run("--config", str(f), "config", "show")
    assert result.exit_code == 3 and "line 1, column 3" in result.stderr


def test_missing_config_file_exits_3(tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "missing.toml"), "config", "show")
    assert result.exit_code == 3
    assert "not found" in result.stderr


@pytest.mark.parametrize("value", ["", "  "])
@pytest.mark.parametrize("after", [False, True], ids=["before-command", "after-command"])
def test_an_empty_config_option_is_a_usage_error(value: str, after: bool) -> None:
    """Found by a black-box audit: `--config ''` exited 3 with "cannot read config file ." (an empty
    path is "."), while `--config DIR` exited 2. An empty value is a bad argument, as `--db ''` is."""
    args = ["--json", "config", "show", "--config", value] if after else ["--config", value, "--json", "config", "show"]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert error_record(result) == {"type": "error", "exit_code": 2, "reason": "usage",
                                    "message": "Invalid value for --config: a config file path, not empty"}


def test_a_directory_as_the_config_file_is_a_configuration_error(tmp_path: Path) -> None:
    """Found by a black-box audit: `--config DIR` exited 2 (typer's check) while `$ORION_CONFIG=DIR` and a
    missing `--config` file exit 3. A path that names no readable config file is a configuration error."""
    for args, env, source in (
        (["--config", str(tmp_path)], None, f"--config {tmp_path}"),
        ([], {"ORION_CONFIG": str(tmp_path)}, f"$ORION_CONFIG {tmp_path}"),
    ):
        result = run(*args, "--json", "config", "show", env=env)
        assert result.exit_code == 3, result.output
        record = error_record(result)
        assert (record["exit_code"], record["reason"]) == (3, "config")
        assert record["message"] == f"{source}: is a directory, not a config file"
        assert f"hint: name the TOML file itself, e.g. {tmp_path / 'config.toml'}" in result.stderr


def test_orion_config_env_is_used(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[limits]\norder_notional = "77"\n')
    result = run("--jsonl", "config", "show", "--sources", env={"ORION_CONFIG": str(f)})
    rows = {r["key"]: r for r in jsonl(result.stdout)}
    assert rows["limits.order_notional"]["value"] == "77"
    assert rows["limits.order_notional"]["source"] == f"$ORION_CONFIG {f}"


# -- halt / resume -----------------------------------------------------------------------------


def test_halt_status_resume_cycle(ledger: Path) -> None:
    engaged = run("--json", "halt", "--reason", "venue outage")
    assert engaged.exit_code == 0, engaged.output
    rec = json.loads(engaged.stdout)
    assert rec["halted"] is True and rec["reason"] == "venue outage"
    assert {"user", "host", "pid"} <= set(rec["by"])
    assert "HALTED" in engaged.stderr

    status = run("halt", "--status", "--json")
    assert json.loads(status.stdout)["halted"] is True

    refused = run("resume", "--json")
    assert refused.exit_code == 6
    assert "--yes" in refused.stderr
    assert error_record(refused)["reason"] == "NOT_CONFIRMED"
    assert json.loads(run("--json", "halt", "--status").stdout)["halted"] is True

    released = run("resume", "--yes", "--json")
    assert released.exit_code == 0
    assert json.loads(released.stdout)["halted"] is False
    types = [e["type"] for e in jsonl(run("--jsonl", "audit", "tail", "--type", "halt").stdout)]
    assert types == ["halt.engaged", "halt.released"]


def test_halt_default_reason_and_table(ledger: Path) -> None:
    result = run("--format", "table", "halt")
    assert result.exit_code == 0
    assert "halted from the command line" in result.stdout


def test_resume_when_not_halted_is_ok(ledger: Path) -> None:
    result = run("resume")
    assert result.exit_code == 0
    assert "nothing to release" in result.stderr


def test_resume_refused_while_sentinel_file_exists(ledger: Path, tmp_path: Path) -> None:
    sentinel = tmp_path / "HALT"
    sentinel.write_text("ops script")
    env = {"ORION__HALT__SENTINEL_FILE": str(sentinel)}
    status = run("--json", "halt", "--status", env=env)
    assert json.loads(status.stdout)["halted"] is True
    assert json.loads(status.stdout)["sentinel_file"] == str(sentinel)
    result = run("resume", "--yes", env=env)
    assert result.exit_code == 6
    assert str(sentinel) in result.stderr
    sentinel.unlink()
    assert json.loads(run("--json", "halt", "--status", env=env).stdout)["halted"] is False


def test_resume_of_a_drawdown_halt_needs_breaker(ledger: Path) -> None:
    from orion_cli.risk.halt import KillSwitch
    from orion_cli.store.db import open_database

    db = open_database(str(ledger))
    KillSwitch(db).engage("drawdown", kind="drawdown")
    db.dispose()
    result = run("--json", "resume", "--yes")
    assert result.exit_code == 6
    assert error_record(result)["reason"] == "BREAKER"
    ok = run("--json", "resume", "--yes", "--breaker")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["halted"] is False


# -- audit -------------------------------------------------------------------------------------


def test_audit_tail_json_lines_and_filters(ledger: Path) -> None:
    for i in range(3):
        assert run("halt", "--reason", f"r{i}").exit_code == 0
        assert run("resume", "--yes").exit_code == 0
    events = jsonl(run("audit", "tail", "--json").stdout)  # --json: one object per line, like --jsonl
    assert [e["seq"] for e in events] == list(range(1, 9))  # init's, the first halt's config.loaded, 3 × 2
    assert events[2]["type"] == "config.loaded"
    for e in events:
        assert {"v", "seq", "ts", "type", "mode", "actor", "payload", "prev_hash", "hash"} <= set(e)
        assert e["v"] == 1 and e["ts"].endswith("Z")
    last2 = jsonl(run("audit", "tail", "-n", "2", "--jsonl").stdout)
    assert [e["seq"] for e in last2] == [7, 8]
    released = jsonl(run("audit", "tail", "--type", "halt.released", "--jsonl").stdout)
    assert len(released) == 3 and {e["type"] for e in released} == {"halt.released"}
    assert jsonl(run("audit", "tail", "--since", "1h", "--jsonl").stdout) == events
    assert jsonl(run("audit", "tail", "--since", "2999-01-01", "--jsonl").stdout) == []
    assert run("audit", "tail", "-n", "0", "--jsonl").stdout == ""


def _bulk_events(ledger: Path, n: int, type_: str = "test.bulk") -> None:
    from orion_cli.store.audit import AuditLog
    from orion_cli.store.db import open_database

    db = open_database(str(ledger))
    try:
        with db.write() as conn:
            for i in range(n):
                AuditLog.append(conn, type_, {"i": i})
    finally:
        db.dispose()


def test_audit_tail_since_without_n_shows_every_event_since_then(ledger: Path) -> None:
    """Found by a black-box contract review: `audit tail --since 1d --json` printed the newest 20 of 81
    events, exit 0, nothing said: a cron `--since 1h --json | jq` lost the rest unnoticed."""
    _bulk_events(ledger, 30)
    every = run("audit", "tail", "-n", "1000", "--jsonl")
    assert len(jsonl(every.stdout)) == 31  # init's event and the 30
    for fmt in ("--json", "--jsonl"):
        since = run("audit", "tail", "--since", "1h", fmt)
        assert since.exit_code == 0 and since.stderr == "", since.output
        assert jsonl(since.stdout) == jsonl(every.stdout)
    table = run("--format", "table", "audit", "tail", "--since", "1h")  # streamed as lines, as -f prints them
    assert table.exit_code == 0 and len(table.stdout.splitlines()) == 31
    typed = run("audit", "tail", "--since", "1h", "--type", "test", "--jsonl")
    assert [e["payload"]["i"] for e in jsonl(typed.stdout)] == list(range(30)) and typed.stderr == ""
    none = run("audit", "tail", "--since", "2999-01-01", "--jsonl")
    assert none.stdout == "" and none.stderr == "no audit events since 2999-01-01\n", none.stderr  # review: a blank
    # With -n as well (the newest N of them), as found by a later review: it said nothing when piped.
    none = run("audit", "tail", "--since", "2999-01-01", "-n", "3", "--jsonl")
    assert none.stdout == "" and none.stderr == "no audit events since 2999-01-01\n", none.stderr
    none = run("audit", "tail", "--type", "test", "-n", "3", "--json")  # events to show: no note
    assert len(jsonl(none.stdout)) == 3 and none.stderr == "", none.stderr
    assert len(jsonl(run("audit", "tail", "--jsonl").stdout)) == 20  # no --since: the newest 20, as ever


def test_audit_tail_says_when_n_leaves_out_events_since_then(ledger: Path) -> None:
    _bulk_events(ledger, 30)
    for quiet in ((), ("-q",)):  # a warning: kept under -q
        cut = run(*quiet, "audit", "tail", "--since", "1h", "-n", "20", "--jsonl")
        assert cut.exit_code == 0 and [e["seq"] for e in jsonl(cut.stdout)] == list(range(12, 32))
        warning = [line for line in cut.stderr.splitlines() if line.startswith("warning:")]
        assert warning == ["warning: -n 20 shows the newest 20 of the 31 events since 1h; omit -n to get them all: "
                           "`orion audit tail --since 1h`"], cut.stderr
    typed = run("audit", "tail", "--since", "1h", "-n", "5", "--type", "test.bulk", "--jsonl")
    assert len(jsonl(typed.stdout)) == 5
    assert "the newest 5 of the 30 events since 1h" in typed.stderr
    assert "`orion audit tail --since 1h --type test.bulk`" in typed.stderr
    none = run("audit", "tail", "--since", "1h", "-n", "0", "--jsonl")
    assert none.stdout == "" and "-n 0 shows none of the 31 events since 1h" in none.stderr
    for enough in ("31", "1000"):
        whole = run("audit", "tail", "--since", "1h", "-n", enough, "--jsonl")
        assert len(jsonl(whole.stdout)) == 31 and whole.stderr == ""
    assert run("audit", "tail", "-n", "5", "--jsonl").stderr == ""  # no --since: the tail asked for, nothing cut


def test_audit_tail_says_when_a_type_matches_nothing_in_the_log(ledger: Path) -> None:
    """Found in a black-box run: `--type halt.engage` (or `hlat`) printed nothing and exited 0, which
    reads as "no halt ever happened"."""
    assert run("halt", "--reason", "r").exit_code == 0
    result = run("audit", "tail", "--type", "halt.engage", "--type", "halt", "--type", "hlat", "--jsonl")
    assert result.exit_code == 0
    assert [e["type"] for e in jsonl(result.stdout)] == ["halt.engaged"]  # what matched is still shown
    warning = next(line for line in result.stderr.splitlines() if line.startswith("warning:"))
    assert "'halt.engage', 'hlat'" in warning and "its types: " in warning and "halt.engaged" in warning
    assert "family 'halt.engage', 'hlat' (" in warning  # 'halt' matched: not listed (only as a suggestion)
    assert "'halt.engage': did you mean 'halt.engaged'?; 'hlat': did you mean 'halt'?" in warning, warning
    assert "warning:" not in run("audit", "tail", "--type", "halt.engaged", "--type", "halt").stderr


def test_audit_tail_suggests_the_stored_spelling_of_a_type(ledger: Path) -> None:
    """Found by a contract reviewer: `--type config.initialised` (as `balance.initialised` is spelt)
    found nothing, the warning listing every type but not which was meant. The stored types are not
    renamed (existing logs keep theirs); the warning names the close one."""
    assert run("halt", "--reason", "r").exit_code == 0
    result = run("audit", "tail", "--type", "config.initialised", "--type", "hatl", "--type", "zzz", "--jsonl")
    assert result.exit_code == 0 and result.stdout == ""
    warning = next(line for line in result.stderr.splitlines() if line.startswith("warning:"))
    assert "'config.initialised': did you mean 'config.initialized'?" in warning, warning
    assert "'hatl': did you mean 'halt'?" in warning and "'zzz': did you" not in warning, warning
    assert run("audit", "tail", "--type", "config.initialized", "--jsonl").stdout.count("config.initialized") == 1


def test_audit_tail_type_is_matched_whatever_its_case(ledger: Path) -> None:
    """Found by a black-box audit: `--type ORDER.FILLED` matched nothing (types are written lower case)."""
    assert run("halt", "--reason", "r").exit_code == 0
    result = run("audit", "tail", "--type", "HALT.Engaged", "--type", " Halt ", "--jsonl")
    assert result.exit_code == 0 and "warning:" not in result.stderr
    assert [e["type"] for e in jsonl(result.stdout)] == ["halt.engaged"]


def test_audit_tail_table_and_empty(isolated_home: Path) -> None:
    from orion_cli.store.db import open_database

    open_database(f"sqlite:///{isolated_home / 'orion.db'}").dispose()
    empty = run("--format", "table", "audit", "tail")
    assert empty.exit_code == 0
    assert "no audit events" in empty.stderr
    run("halt", "--reason", "x")
    table = run("--format", "table", "audit", "tail")
    assert "halt.engaged" in table.stdout and "seq" in table.stdout


def test_audit_verify_intact(ledger: Path) -> None:
    run("halt")
    result = run("--json", "audit", "verify")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"type": "audit_verify", "ok": True, "events": 3, "first_bad_seq": None,
                                         "problem": None}  # init's, halt's and its config.loaded


def _alter_payload(ledger: Path, seq: int, text: str) -> None:
    """Tamper with the stored audit log behind orion's back."""
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        conn.execute("UPDATE audit_events SET payload = ? WHERE seq = ?", (text, seq))
        conn.commit()


def test_audit_verify_on_a_tampered_chain_exits_7_naming_the_seq(ledger: Path) -> None:
    for i in range(3):
        run("halt", "--reason", f"r{i}")
    _alter_payload(ledger, 3, '{"reason":"nothing to see"}')
    result = run("--json", "audit", "verify")
    assert result.exit_code == 7
    assert json.loads(result.stdout)["first_bad_seq"] == 3
    assert "seq 3" in result.stderr
    rec = error_record(result)
    assert rec["exit_code"] == 7 and rec["reason"] == "audit_chain_broken" and "seq 3" in rec["message"]


def test_audit_tail_shows_a_row_altered_into_unreadable_json_and_warns(ledger: Path) -> None:
    """Found by black-box testing: one row altered into text that is not JSON made `audit tail` an
    internal error (exit 1), so the log could not be read at all."""
    for i in range(2):
        run("halt", "--reason", f"r{i}")
    _alter_payload(ledger, 2, "{not json")
    result = run("--json", "audit", "tail")
    assert result.exit_code == 0, result.output
    rows = {r["seq"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows[2]["payload"] == {"unreadable": True, "stored": "{not json"}
    assert rows[4]["payload"]["reason"] == "r1"  # the rest of the log is still shown (3: config.loaded)
    assert "audit event(s) 2 are not readable" in result.stderr and "orion audit verify" in result.stderr
    assert run("audit", "verify").exit_code == 7


def test_audit_tail_names_a_few_altered_events_then_how_many_more(ledger: Path) -> None:
    """Found in review: with many rows altered, the warning named the first ten and no count, which
    reads as "these ten" when there were more."""
    for i in range(7):
        run("halt", "--reason", f"r{i}")  # an event each (halting while halted is audited too)
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        conn.execute("UPDATE audit_events SET payload = '{not json'")
        conn.commit()
        total = conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]
    assert total >= 7
    result = run("--json", "audit", "tail", "-n", "100")
    assert result.exit_code == 0, result.output
    assert f"audit event(s) 1, 2, 3, 4, 5 and {total - 5} more are not readable (JSON" in result.stderr
    few = run("--json", "audit", "tail", "-n", "2")  # only what is shown is counted
    assert f"audit event(s) {total - 1}, {total} are not readable (JSON" in few.stderr


@pytest.mark.parametrize("stored", ['{"reason":NaN}', '{"reason":1e999}', '{"reason":-Infinity}'])
def test_audit_tail_never_prints_a_tampered_non_finite_number(ledger: Path, stored: str) -> None:
    """Found by black-box testing: a row altered to hold NaN or 1e999 came back out of `audit tail --json`
    as NaN/Infinity, which is not JSON, so the reading pipeline (jq) failed on the whole stream."""
    for i in range(2):
        run("halt", "--reason", f"r{i}")
    _alter_payload(ledger, 2, stored)
    result = run("--json", "audit", "tail")
    assert result.exit_code == 0, result.output

    def strict(name: str) -> None:
        raise AssertionError(f"{name} printed")

    rows = {r["seq"]: r for r in (json.loads(line, parse_constant=strict) for line in result.stdout.splitlines())}
    assert rows[2]["payload"] == {"unreadable": True, "stored": stored}
    assert "audit event(s) 2 are not readable" in result.stderr


def test_audit_verify_table_on_tamper(ledger: Path) -> None:
    run("halt")
    conn = sqlite3.connect(ledger)
    conn.execute("DELETE FROM audit_events WHERE seq = 1")
    conn.commit()
    conn.close()
    result = run("--format", "table", "audit", "verify")
    assert result.exit_code == 7
    assert "error: audit chain broken at seq 1: expected seq 1, found 2" in result.stderr


def _actors(ledger: Path) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        return [json.loads(r[0]) for r in conn.execute("SELECT actor FROM audit_events ORDER BY seq")]


@pytest.mark.parametrize("form", [
    ("--db", "{db}", "halt", "-r", "x"),
    ("--db={db}", "halt", "--reason", "x"),
    ("halt", "--db", "{db}", "-r", "x"),
    ("--config", "{cfg}", "--db", "{db}", "halt"),
    ("--format", "json", "halt", "--db={db}", "-qr", "x"),
    ("-q", "--db", "{db}", "--", "halt"),
], ids=["db-space", "db-equals", "db-after", "config-and-db", "format-and-cluster", "double-dash"])
def test_the_audit_actor_names_the_command_words_never_a_global_option_value(
        isolated_home: Path, form: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in a black-box run: `orion --db URL init` recorded the URL (a PostgreSQL one with its
    password) as the actor's command of every event, in the append-only log for good."""
    db = isolated_home / "other.db"
    cfg = isolated_home / "config.toml"
    monkeypatch.setattr(sys, "argv", ["orion", "--db", str(db), "init"])  # as the process's own
    assert run(*sys.argv[1:]).exit_code == 0
    monkeypatch.setattr(sys, "argv", ["orion", *(a.format(db=db, cfg=cfg) for a in form)])
    result = run(*sys.argv[1:])
    assert result.exit_code == 0, result.output
    actors = _actors(db)
    assert [a["command"] for a in actors] == ["init", "halt", "halt"]  # halt.engaged, config.loaded
    assert all(str(db) not in json.dumps(a) for a in actors)


@pytest.mark.postgres
def test_a_database_password_given_with_db_never_reaches_the_audit_log(
        isolated_home: Path, pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """README's own form, `orion --db postgresql://user:PASSWORD@host/db init`, recorded the URL and its
    password as the actor's command of every event (append-only, hash-chained: there for good)."""
    from sqlalchemy import create_engine, text

    password = "".join(["pw-", uuid.uuid4().hex])  # the throwaway server trusts loopback: any password works
    url = pg_server.create_database()
    with_password = url.replace("://orion@", f"://orion:{password}@", 1)
    assert with_password != url
    try:
        for args in (["--db", with_password, "init"], ["--db=" + with_password, "halt", "-r", "x"],
                     ["resume", "--yes", "--db", with_password]):
            monkeypatch.setattr(sys, "argv", ["orion", *args])
            result = run(*args)
            assert result.exit_code == 0, result.output
            assert password not in result.output
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT actor, payload FROM audit_events ORDER BY seq")).all()
        finally:
            engine.dispose()
        leaking = [seq for seq, (actor, payload) in enumerate(rows, 1) if password in f"{actor}{payload}"]
        assert rows and not leaking, f"the password is in the events at seq {leaking}"
        assert [json.loads(actor)["command"] for actor, _ in rows][:1] == ["init"]
        assert {json.loads(actor)["command"] for actor, _ in rows} <= {"init", "halt", "resume"}
    finally:
        pg_server.drop_database(url)


@pytest.mark.parametrize(("deleted", "first_bad", "events"), [("seq >= 4", 4, 3), ("1 = 1", 1, 0)])
def test_audit_verify_of_newest_events_deleted_with_the_anchor_exits_7(
        ledger: Path, deleted: str, first_bad: int, events: int) -> None:
    """Found by a black-box run: deleting the newest events (or every one) and the anchor row exited 0,
    "intact (3 events)"; a log without its anchor was taken for one from before anchors."""
    for _ in range(4):
        assert run("halt", "-r", "x").exit_code == 0
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        conn.execute(f"DELETE FROM audit_events WHERE {deleted}")
        conn.execute("DELETE FROM orion_meta WHERE key = 'audit_head'")
        conn.commit()
    result = run("--json", "audit", "verify")
    assert result.exit_code == 7, result.output
    assert json.loads(result.stdout)["first_bad_seq"] == first_bad and json.loads(result.stdout)["events"] == events
    rec = error_record(result)
    assert rec["reason"] == "audit_chain_broken" and "head anchor" in rec["message"] and "missing" in rec["message"]
    assert run("halt", "-r", "again").exit_code == 0  # orion still records (a halt must go through) ...
    assert run("audit", "verify").exit_code == 7  # ... and the deletion stays found


def test_a_new_ledger_verifies_intact(ledger: Path) -> None:
    result = run("--json", "audit", "verify")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True


def test_audit_verify_of_a_dropped_anchor_table_exits_7_and_other_commands_call_the_ledger_damaged(
        ledger: Path) -> None:
    """Found by a black-box run: with orion_meta dropped, `audit verify` exited 3 ("holds tables that are
    not orion's") where a dropped audit_events exits 7, so a monitor keyed on 7 missed it."""
    run("halt")
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        conn.execute("DROP TABLE orion_meta")
        conn.commit()
    result = run("--json", "audit", "verify")
    assert result.exit_code == 7, result.output
    assert json.loads(result.stdout)["first_bad_seq"] == 4  # init's, halt's and its config.loaded are there
    rec = error_record(result)
    assert rec["reason"] == "audit_chain_broken" and "orion_meta" in rec["message"]
    for command in (("halt", "-r", "x"), ("balance",), ("audit", "tail")):
        other = run("--json", *command)
        assert other.exit_code == 3, other.output
        rec = error_record(other)
        assert rec["reason"] == "storage_corrupt" and "orion_meta table is missing" in rec["message"]


def test_audit_verify_of_a_dropped_log_exits_7_from_seq_1(ledger: Path) -> None:
    """Found in review: a dropped audit_events table was a storage error (exit 3), not a broken chain."""
    run("halt")
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        conn.execute("DROP TABLE audit_events")
        conn.commit()
    result = run("--json", "audit", "verify")
    assert result.exit_code == 7, result.output
    assert json.loads(result.stdout)["first_bad_seq"] == 1
    rec = error_record(result)
    assert rec["reason"] == "audit_chain_broken" and "seq 1" in rec["message"] and "audit_events" in rec["message"]


# -- the error boundary ------------------------------------------------------------------------


def _explode_with_a_local(monkeypatch: pytest.MonkeyPatch, exc_type: type[BaseException] = RuntimeError) -> str:
    # Built at run time so that no source line shown in a traceback contains it.
    canary = "".join(["can", "ary-", uuid.uuid4().hex])

    def status(self: object) -> object:
        secret_local = canary  # noqa: F841 - a local variable a careless traceback would print
        raise exc_type("status failed")

    monkeypatch.setattr("orion_cli.risk.halt.KillSwitch.status", status)
    return canary


def test_unexpected_error_is_one_line_exit_1_without_locals(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = _explode_with_a_local(monkeypatch)
    result = run("--format", "table", "halt", "--status")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: unexpected internal error (RuntimeError")
    assert lines[1:] == ["hint: set ORION_DEBUG=1 for a traceback"]
    assert "Traceback" not in result.output
    assert canary not in result.output


def test_unexpected_error_with_json_writes_an_error_object(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = _explode_with_a_local(monkeypatch)
    result = run("--json", "halt", "--status")
    assert result.exit_code == 1
    rec = error_record(result)
    assert rec["exit_code"] == 1 and rec["reason"] == "internal" and rec["message"].startswith("unexpected")
    assert result.stdout == ""
    assert canary not in result.output


def test_debug_traceback_never_shows_locals(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = _explode_with_a_local(monkeypatch)
    result = run("halt", "--status", env={"ORION_DEBUG": "1"})
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "status failed" in result.stderr
    assert canary not in result.output


def test_keyboard_interrupt_exits_130(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _explode_with_a_local(monkeypatch, KeyboardInterrupt)
    result = run("--json", "halt", "--status")
    assert result.exit_code == 130
    assert error_record(result)["exit_code"] == 130
    assert "Traceback" not in result.output


@pytest.mark.parametrize("form", ["path", "url", "variable", "relative path", "relative url", "home path"])
def test_a_sqlite_ledger_ending_in_a_slash_is_refused_not_made_a_file_of(isolated_home: Path, tmp_path: Path,
                                                                         form: str, monkeypatch: pytest.MonkeyPatch
                                                                         ) -> None:
    """Found by a black-box review: `orion --db /srv/orion/newdir/ init` (and the variable) made a ledger FILE
    named newdir, exit 0, where a directory was meant (Path() drops the trailing slash); and, found reviewing
    that fix, a relative or ~ `--db` still did (made absolute first, the slash dropped there)."""
    where = f"{tmp_path / 'newdir'}/"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    args, env = {"path": ((("--db", where)), {}), "url": (("--db", f"sqlite:///{where}"), {}),
                 "variable": ((), {"ORION__DATABASE__URL": where}), "relative path": (("--db", "newdir/"), {}),
                 "relative url": (("--db", "sqlite:///newdir/"), {}), "home path": (("--db", "~/newdir/"), {})}[form]
    for command in (("init",), ("halt", "--reason", "drill")):
        result = CliRunner().invoke(app, [*args, "--json", *command], env=env)
        assert result.exit_code == 3, result.output
        assert error_record(result)["reason"] == "storage_url" and "names a directory" in result.stderr
        assert "newdir/orion.db" in result.stderr
    assert not (tmp_path / "newdir").exists()


def test_a_database_password_in_the_url_query_is_never_printed() -> None:
    """Found by black-box testing: ``?password=`` was printed by the exit-3 error and `config show`."""
    url = "postgresql://orion@127.0.0.1:1/orion?password=S3CRETQ&connect_timeout=1"
    failed = run("--db", url, "halt", "--status", "--json")
    assert failed.exit_code == 3, failed.output
    shown = run("--db", url, "config", "show", "--json")
    assert shown.exit_code == 0, shown.output
    for result in (failed, shown):
        assert "S3CRETQ" not in result.stdout + result.stderr
    assert "password=***" in failed.stderr and "password=***" in shown.stdout


def test_since_before_year_1000_means_everything_and_an_empty_filter_is_a_usage_error(ledger: Path) -> None:
    """Found by black-box testing: `--since 0500-01-01` was an internal error in `report` and matched
    nothing in `audit tail` (a three-digit year sorts after every event); `--since ""` and `--type ""`
    were taken silently (no filter; a filter matching nothing)."""
    assert run("halt", "--reason", "drill").exit_code == 0
    tail = run("--json", "audit", "tail", "--since", "0500-01-01")
    events = [json.loads(line) for line in tail.stdout.splitlines()]
    assert tail.exit_code == 0 and any(e["type"] == "halt.engaged" for e in events), tail.output
    report = run("--json", "report", "--since", "0500-01-01")
    assert report.exit_code == 0, report.output
    for args in (("audit", "tail", "--since", ""), ("report", "--since", ""), ("audit", "tail", "--type", " ")):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)


def test_an_empty_db_option_is_a_usage_error_not_the_default_ledger(ledger: Path) -> None:
    """Found by black-box testing: `--db "$UNSET"` halted (and traded on) the default ledger silently."""
    result = run("--db", "", "halt", "--reason", "wrong ledger?")
    assert result.exit_code == 2 and "--db" in result.output, result.output
    assert json.loads(run("--json", "halt", "--status").stdout)["halted"] is False


def test_a_misspelt_orion_variable_is_warned_even_with_q_and_changes_nothing(ledger: Path, tmp_path: Path) -> None:
    """Found by a black-box audit: `ORION_HOMEE=/srv/other orion halt` halted the default ledger and
    `ORION_CONFG=strict.toml orion trade …` traded past the strict limits, with not a word. Every command
    now warns of such a near miss on stderr, one line naming it and the variable meant, with -q too (cron
    keeps stderr in its log); the command still runs as before (another tool's variable is no error)."""
    import os
    import subprocess
    import sys

    other = tmp_path / "other"
    env = {**os.environ, "ORION_HOMEE": str(other), "ORION_CONFG": str(tmp_path / "strict.toml")}
    proc = subprocess.run([sys.executable, "-m", "orion_cli", "-q", "halt", "--reason", "stop other desk", "--json"],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: ignored ORION_CONFG (orion reads no such variable; did you mean ORION_CONFIG?)",
        "warning: ignored ORION_HOMEE (orion reads no such variable; did you mean ORION_HOME?)",
    ], proc.stderr
    assert json.loads(proc.stdout)["halted"] is True and not other.exists()  # the ledger ORION_HOME names
    result = run("halt", "--status", "--json", env={"ORION_HOST": "db1", "ORION_REGION": "eu"})
    assert result.exit_code == 0 and "warning" not in result.stderr, result.stderr  # not near misses


@pytest.mark.usefixtures("isolated_home")
def test_a_lower_case_configuration_variable_is_refused_or_warned_of() -> None:
    """Found in review: `orion__limits__order_notional=5` was read by nothing, silently: the operator
    thought the limit set. One naming a key exits 3 with its upper-case name; one naming none is warned
    of (it may be another tool's), the command going on."""
    result = run("config", "show", "--json", env={"orion__limits__order_notional": "5"})
    assert result.exit_code == 3, result.output
    assert "hint: rename it ORION__LIMITS__ORDER_NOTIONAL" in result.stderr
    result = run("config", "show", "--json", env={"orion__limits__nothing": "5"})
    assert result.exit_code == 0, result.output
    assert ("warning: ignored orion__limits__nothing (orion reads only upper-case ORION__SECTION__KEY variables, "
            "and this one names no configuration key)") in result.stderr


@pytest.mark.usefixtures("isolated_home")
def test_a_venue_url_in_clear_text_to_another_host_is_refused_before_anything_runs() -> None:
    """Found by a black-box audit: `ORION__KALSHI__PROD_BASE_URL=http://…` to any host was used, and the
    API key and signatures travel in the requests' headers. Exit 3 naming the key and its source."""
    env = {"ORION__KALSHI__PROD_BASE_URL": "http://api.elections.kalshi.com/trade-api/v2"}
    for args in (["config", "show", "--json"], ["pairs", "list", "--json"]):
        result = run(*args, env=env)
        assert result.exit_code == 3, result.output
        rec = error_record(result)
        assert rec["reason"] == "config_invalid" and rec["message"].startswith(
            "kalshi.prod_base_url = 'http://api.elections.kalshi.com/trade-api/v2' from environment "
            "ORION__KALSHI__PROD_BASE_URL: plain http:// to a host that is not loopback"), rec
    env = {"ORION__KALSHI__PROD_BASE_URL": "http://127.0.0.1:9/trade-api/v2"}  # the simulators' loopback
    assert run("config", "show", "--json", env=env).exit_code == 0


@pytest.mark.parametrize(("body", "args"), [
    ('[matching]\npairs_file = "/tmp/a\\u0000b"\n', ["pairs", "list", "--json"]),
    ('[database]\nurl = "/tmp/a\\u0000b.db"\n', ["halt", "--status", "--json"]),
    ('[database]\nurl = "/tmp/a\\u0000b.db"\n', ["halt", "--reason", "x", "--json"]),
    ('[halt]\nsentinel_file = "/tmp/a\\u0000b"\n', ["halt", "--status", "--json"]),
], ids=["pairs-file", "database-status", "database-halt", "sentinel"])
def test_a_path_setting_holding_a_nul_character_is_exit_3_not_an_internal_error(
        isolated_home: Path, body: str, args: list[str]) -> None:
    """Found in a black-box run: each was "unexpected internal error (ValueError …)", exit 1, or (the
    sentinel) accepted though it could never halt."""
    (isolated_home / "config.toml").write_text(body, encoding="utf-8")
    result = run(*args)
    assert result.exit_code == 3, result.output
    rec = error_record(result)
    assert rec["reason"] == "config_invalid" and "contains a NUL character" in rec["message"], rec


@pytest.mark.parametrize("command", [("report",), ("balance",), ("positions",), ("halt", "--status"),
                                     ("reconcile", "--venue", "kalshi", "--demo")])
@pytest.mark.parametrize(("env", "said"), [
    ({"ORION_PAPER_TRADING": "0"}, "ORION_PAPER_TRADING=0 is set but ORION_LIVE_TRADING_AUTHORIZED=true is missing"),
    ({"ORION_LIVE_TRADING_AUTHORIZED": "true"},
     "ORION_LIVE_TRADING_AUTHORIZED=true is set but ORION_PAPER_TRADING=0 is missing"),
    ({"ORION_LIVE_TRADING_AUTHORIZED": "yes"}, "ignored ORION_LIVE_TRADING_AUTHORIZED='yes'"),
])
def test_every_command_that_picks_its_ledger_by_the_environment_pair_warns_of_a_half_set_or_odd_pair(
        ledger: Path, command: tuple[str, ...], env: dict[str, str], said: str) -> None:
    """Only `trade` warned of half of the live environment pair or an odd value: a cron `reconcile` or
    `report` with ORION_PAPER_TRADING=0 alone worked on the paper ledger in silence, and its operator
    learnt of the missing half only when a trade was refused. Once, even with -q; the ledger unchanged."""
    result = run("-q", "--json", *command, env=env)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert [w for w in warnings if said in w] == [warnings[0]] and len(warnings) == 1, result.stderr
    if "is missing" in said:
        assert "works on the paper ledger" in warnings[0]
    assert said not in result.stdout


def test_the_environment_pair_is_warned_of_once_however_often_a_command_asks_its_mode(
        ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pairs suggest --accept` asks the mode for every pair it audits: one warning, not one per pair."""
    import io

    from orion_cli.cli.context import AppContext
    from orion_cli.cli.output import Output

    monkeypatch.setenv("ORION_PAPER_TRADING", "0")
    err = io.StringIO()
    ctx = AppContext(_out=Output("jsonl", stdout=io.StringIO(), stderr=err))
    assert [ctx.mode(), ctx.mode(), ctx.mode()] == ["paper"] * 3
    assert err.getvalue().count("warning:") == 1 and "ORION_LIVE_TRADING_AUTHORIZED=true is missing" in err.getvalue()


@pytest.mark.parametrize("how", ["--db", "environment", "config"])
def test_a_named_ledger_in_a_missing_directory_is_refused_not_created(
        how: str, isolated_home: Path, tmp_path: Path) -> None:
    """`--db /srv/orino/x.db` (a typo) made the directories and a fresh, empty ledger: a process with
    a kill switch of its own, unseen by the others. Exit 3, naming the directory; nothing created."""
    missing = tmp_path / "nonexistent" / "dir"
    ledger = missing / "x.db"
    env: dict[str, str | None] = {}
    pre: tuple[str, ...] = ()
    if how == "--db":
        pre = ("--db", str(ledger))
    elif how == "environment":
        env = {"ORION__DATABASE__URL": f"sqlite:///{ledger}"}
    else:
        (isolated_home / "config.toml").write_text(f'[database]\nurl = "{ledger}"\n')
    for args in (("scan", "--demo"), ("init",), ("halt", "--reason", "drill")):
        result = run(*pre, "--json", *args, env=env)
        assert result.exit_code == 3, (args, result.output)
        error = error_record(result)
        assert error["reason"] == "storage_missing" and f"its directory {missing} does not exist" in error["message"]
        assert f"mkdir -p {missing}" in result.stderr
        assert not (tmp_path / "nonexistent").exists(), args
    missing.mkdir(parents=True)  # created as the hint says, the same ledger is made and used
    assert run(*pre, "scan", "--demo", env=env).exit_code == 0
    assert ledger.stat().st_size > 0


def test_the_default_data_dir_is_still_created_on_first_use(tmp_path: Path, isolated_home: Path) -> None:
    home = tmp_path / "fresh" / "orion-home"
    result = run("scan", "--demo", env={"ORION_HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert (home / "orion.db").stat().st_size > 0


@pytest.mark.parametrize("form", ["relative", "absolute", "url"])
def test_a_ledger_under_a_symlink_loop_is_a_storage_error_not_an_internal_one(
        form: str, isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--db loop/x.db` under a symbolic link loop raised RuntimeError from Path.resolve() (making the
    path absolute, then opening it): exit 1, "unexpected internal error". Now exit 3, saying why."""
    (tmp_path / "loop").symlink_to("loop")
    monkeypatch.chdir(tmp_path)
    db = {"relative": "loop/x.db", "absolute": str(tmp_path / "loop" / "x.db"),
          "url": f"sqlite:///{tmp_path / 'loop' / 'x.db'}"}[form]
    result = run("--db", db, "--json", "scan", "--demo")
    assert result.exit_code == 3, result.output
    assert "symbolic link" in error_record(result)["message"]


def test_an_unreadable_config_hints_a_status_query_at_the_status_not_at_engaging(ledger: Path,
                                                                                 tmp_path: Path) -> None:
    """Found black-box: `orion --config missing.toml halt --status` hinted "`orion --db URL halt` engages the
    kill switch on URL without the file", so an operator only asking for the status who followed the hint
    literally halted trading. The status query's hint is the status query; `halt`'s still the halt."""
    missing = str(tmp_path / "missing.toml")
    status = run("--config", missing, "halt", "--status", "--json")
    assert status.exit_code == 3, status.output
    hint = [line for line in status.stderr.splitlines() if line.startswith("hint:")]
    assert hint == ["hint: `orion --db URL halt --status` shows the kill switch on URL without the file"], status.stderr
    followed = run("--config", missing, "--db", str(ledger), "halt", "--status", "--json")
    assert followed.exit_code == 0, followed.output
    assert json.loads(followed.stdout)["halted"] is False
    assert not json.loads(run("--json", "halt", "--status").stdout)["halted"]
    engage = run("--config", missing, "halt", "--json")
    assert engage.exit_code == 3, engage.output
    assert "hint: `orion --db URL halt` engages the kill switch on URL without the file" in engage.stderr
    assert not json.loads(run("--json", "halt", "--status").stdout)["halted"]
