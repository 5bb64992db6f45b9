"""The README's two set-up commands stay true: CI runs the same test command, and the main job works."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in c for c in commands)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    main_job, test_cmd = _setup_commands()
    assert "orion scan --demo" in main_job
    assert "pytest" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd.strip() in ci.splitlines()


def test_the_confirm_exit_list_names_every_reason_an_execution_that_did_not_pair_exits_6_with() -> None:
    """Found by black-box testing: a first leg that failed fill-or-kill exited 6, reason `NOT_FILLED`,
    which the README's list of `trade --confirm` exits did not name (nor `UNWOUND`). The reasons are the
    ones `raise_for_result` gives an execution's own outcome."""
    import inspect

    from orion_cli.cli.commands.trade import say
    from orion_cli.cli.commands.trade.say import raise_for_result

    source = inspect.getsource(raise_for_result)
    given = set(re.findall(r'reason="([A-Z_]+)"', source)) | {
        getattr(say, name) for name in re.findall(r"reason=([A-Z_]+)\b", source)}
    assert given == {"NOT_FILLED", "UNWOUND", "EXECUTION_HALTED"}, given  # a new one belongs in the list below
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    exits = text.split("With `--confirm`: exit 0 done", 1)[1].split("The default size is", 1)[0]
    assert all(f"`{reason}`" in exits for reason in given), exits


# Record types that never reach stdout as records of their own, and why (each must still be in the code).
NOT_STDOUT_RECORDS = {
    "alert": "the generic webhook's body (README's alerts paragraph), never printed",
    "order_intent": "audited as order.intent, without its type",
    "fill": "audited (order.filled and the like), without its type",
    "settlement": "printed only inside a `settled` record, which replaces its type",
    "breaker": "audited (breaker.*), without its type; `pnl` is the record printed",
    "match_stats": "benchmarks only; scan's summary line gives its counts",
    "item_error": "a bad item is named in a warning, not printed as a record",
    "authorization": "printed only under ORION_TRADE_STOP_AFTER_GATE=1, a test hook",
}
_RECORD_TYPE = re.compile(r"""["']type["']\s*:\s*["']([a-z][a-z0-9_]*)["']""")


def _record_types_in_code() -> dict[str, str]:
    """Every record type the code builds as ``{"type": "NAME", ...}``: what ``out.record``, ``out.records``
    and ``out.stream`` (orion_cli/cli/output.py) print. Name -> the first file building it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "orion_cli").rglob("*.py")):
        for name in _RECORD_TYPE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def _schema_table_types() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Output and JSON schemas", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| ")]
    return {name for cell in first_cells for name in re.findall(r"`([a-z_]+)`", cell)}


def test_the_json_schema_table_lists_every_record_type_printed_on_stdout() -> None:
    """Found in review: `exposure`, `watch`, `snapshot`, the `secret*` records and reconcile's `resolved`,
    `settled` and `transfer` were printed but missing from the README's table of record types."""
    found = _record_types_in_code()
    assert {"halt", "exposure", "watch", "secret_stored", "resolved"} <= set(found), found  # the scan works
    stale = sorted(set(NOT_STDOUT_RECORDS) - set(found))
    assert not stale, f"exempted record types no longer in the code: {stale}"
    table = _schema_table_types()
    missing = {name: where for name, where in found.items() if name not in table and name not in NOT_STDOUT_RECORDS}
    assert not missing, f"record types printed on stdout but missing from README's JSON schema table: {missing}"


# Record builders whose fields never reach stdout under their type, and why (each must still be in the code).
NOT_STDOUT_BUILDERS = {
    "TradablePair.to_record": "a scan's internal pair (never printed); `pair` on stdout is `pairs list/add/remove`'s",
}


def _record_fields_in_code() -> dict[str, dict[str, str]]:
    """Every record type's fields as the code builds them: the string keys of each dict literal holding
    ``"type": "NAME"``. Name -> {field: the builder (Class.function or function) that sets it}."""
    import ast

    found: dict[str, dict[str, str]] = {}

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, f"{where}.{child.name}" if isinstance(node, ast.ClassDef) else child.name)
                continue
            if isinstance(child, ast.Dict):
                keys = [k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None
                        for k in child.keys]
                if "type" in keys:
                    value = child.values[keys.index("type")]
                    if isinstance(value, ast.Constant) and isinstance(value.value, str) \
                            and re.fullmatch(r"[a-z][a-z0-9_]*", value.value):
                        for key in keys:
                            if key and key != "type":
                                found.setdefault(value.value, {}).setdefault(key, where)
            visit(child, where)

    for path in sorted((ROOT / "orion_cli").rglob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def _schema_table_rows() -> dict[str, str]:
    """README's JSON schema table: each record type named in a first cell -> the text of its fields."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Output and JSON schemas", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if line.startswith("| "):
            cells = line.split("|")
            for name in re.findall(r"`([a-z_]+)`", cells[1]):
                rows[name] = rows.get(name, "") + "|".join(cells[2:])
    return rows


def test_the_json_schema_table_lists_every_field_of_every_record_printed_on_stdout() -> None:
    """Found by a docs review: the table left out fields the code prints — `init`'s `backup`, `balance`'s
    `reason`, `execution`'s `passed`, `execution_status` and `overfill` (and, found by this test,
    `drift`'s `ref`/`fix`, `opportunity`'s `event_id`, `order`'s `venue_status`/`reject_reason`). Every
    field of a dict literal that builds a printed record is named in its type's row."""
    found = _record_fields_in_code()
    assert {"backup", "database"} <= set(found["init"]) and "overfill" in found["execution"], found  # the scan works
    builders = {b for fields in found.values() for b in fields.values()}
    stale = sorted(set(NOT_STDOUT_BUILDERS) - builders)
    assert not stale, f"exempted record builders no longer in the code: {stale}"
    rows = _schema_table_rows()
    missing = {
        name: sorted(f"{field} ({builder})" for field, builder in fields.items()
                     if f"`{field}`" not in rows[name] and builder not in NOT_STDOUT_BUILDERS)
        for name, fields in found.items() if name in rows
    }
    missing = {name: fields for name, fields in missing.items() if fields}
    assert not missing, f"fields printed on stdout but missing from README's JSON schema table: {missing}"


def _completion_steps() -> dict[str, str]:
    """The README's completion install block, per shell (the lines under its `# bash` / `# zsh` / `# fish`)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Shell completion", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)
    steps: dict[str, list[str]] = {}
    shell = ""
    for line in block.splitlines():
        if line.startswith("# "):
            shell = line[2:].split()[0]
        else:
            steps.setdefault(shell, []).append(line)
    assert set(steps) == {"bash", "zsh", "fish"}, steps
    return {k: "\n".join(v) for k, v in steps.items()}


# Per shell: how a new interactive shell is asked what `orion sec<TAB>` completes to.
_COMPLETES = {
    "bash": ["bash", "-i", "-c", 'COMP_LINE="orion sec"; COMP_POINT=9; COMP_WORDS=(orion sec); COMP_CWORD=1; '
                                 '_orion_complete; echo "${COMPREPLY[@]}"'],
    "zsh": ["zsh", "-i", "-c", "print -r -- ${_comps[orion]}"],  # compinit bound orion to _orion from $fpath
    "fish": ["fish", "-c", "complete -C 'orion sec'"],
}
_EXPECT = {"bash": "secrets", "zsh": "_orion", "fish": "secrets"}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_install_steps_work_pasted_into_a_fresh_account(tmp_path: Path, shell: str) -> None:
    """Found by a docs review: the steps copied into directories a fresh account does not have (`cp`
    failed), bash's never got loaded without the bash-completion package, and zsh's ~/.zfunc was never
    put on $fpath. Each shell's steps run as written, in an empty HOME, then a new shell completes."""
    import shutil
    import subprocess

    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    home.mkdir()
    bin_dir.mkdir()
    # An installed orion (its `orion completion SHELL` prints the script; fish loads completions of commands only).
    (bin_dir / "orion").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m orion_cli "$@"\n')
    (bin_dir / "orion").chmod(0o755)
    env = {"HOME": str(home), "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "TERM": "dumb",
           "LANG": "C.UTF-8", **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    steps = _completion_steps()[shell]
    installed = subprocess.run(["sh", "-e", "-c", steps], cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=60, stdin=subprocess.DEVNULL)
    assert installed.returncode == 0, installed.stderr
    asked = subprocess.run(_COMPLETES[shell], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    assert _EXPECT[shell] in asked.stdout.split(), (asked.stdout, asked.stderr)


def test_the_readme_says_where_polymarkets_api_credentials_come_from() -> None:
    """Found by a docs review: the README listed `polymarket_api_key` / `_secret` / `_passphrase` but
    not where they come from (the CLOB's L1 auth derives them from the wallet key). It says so, with the
    endpoint orion itself calls to check them, and names any orion command that derives them."""
    import inspect

    import typer.main

    from orion_cli.cli.app import app
    from orion_cli.venues.polymarket import trading

    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    para = text.split("Where Polymarket's CLOB API credentials come from:", 1)[1].split("Names: ", 1)[0]
    called = set(re.findall(r'"(/auth/[a-z-]+)"', inspect.getsource(trading)))
    assert called == {"/auth/derive-api-key"}, called
    assert all(f"`GET {path}`" in para for path in called) and "`POST /auth/api-key`" in para
    assert "polymarket_private_key" in para and "orion secrets check --online" in para

    def names(group: object, path: str = "") -> list[str]:
        subs: dict[str, object] = getattr(group, "commands", {})
        return [path] + [n for k, c in subs.items() for n in names(c, f"{path} {k}".strip())]

    deriving = [n for n in names(typer.main.get_command(app)) if "derive" in n or "api-key" in n]
    if deriving:  # a command that derives them must be the one the README sends people to
        assert all(f"orion {n}" in para for n in deriving), deriving
    else:
        assert "orion has no command that creates or stores them" in para
