"""The README's two set-up commands stay true: CI runs the same test command, and the main job works."""

from __future__ import annotations

import re
from pathlib import Path

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

    from orion_cli.cli.commands.trade import raise_for_result

    given = set(re.findall(r'reason="([A-Z_]+)"', inspect.getsource(raise_for_result)))
    assert given == {"NOT_FILLED", "UNWOUND"}, given  # a new one belongs in the list below
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    exits = text.split("With `--confirm`: exit 0 done", 1)[1].split("The default size is", 1)[0]
    assert all(f"`{reason}`" in exits for reason in given), exits
