"""tests/forked_orion.py: a forked run is a run of its own, and a run it cannot fork starts afresh."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import forked_orion
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "orion_cli"


_ENVIRON = ("environ", "environb", "getenv", "getenvb")


def _import_time_reads(tree: ast.Module) -> set[str]:
    """The environment variables a module reads while it is imported: ``os.environ[...]``,
    ``os.environ.get(...)``, ``"X" (not) in os.environ`` and ``(os.)getenv(...)``, outside function bodies
    (but in their decorators and defaults, which run at import). Any other use of the environment at import
    (a key that is not a literal, ``dict(os.environ)``, an alias) is ``"?"`` plus its line: it cannot be
    read here, so it must not pass. A module-level call of a function that reads it is beyond this reader."""
    found: set[str] = set()
    understood: set[int] = set()  # the environ / getenv nodes of the reads above

    def is_environ(node: ast.expr) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr in _ENVIRON[:2]) or (
            isinstance(node, ast.Name) and node.id in _ENVIRON[:2])

    def key(node: ast.expr, at: ast.expr) -> None:
        understood.add(id(at))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
        else:
            found.add(f"? line {node.lineno}")

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            at_import: list[ast.AST] = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            if not isinstance(node, ast.Lambda):
                at_import += node.decorator_list
            for part in at_import:
                visit(part)
            return  # the body runs when called, not when imported
        if isinstance(node, ast.Subscript) and is_environ(node.value):
            key(node.slice, node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and is_environ(node.func.value) and node.args:
            key(node.args[0], node.func.value)
        elif isinstance(node, ast.Call) and node.args and (
                (isinstance(node.func, ast.Attribute) and node.func.attr in _ENVIRON[2:])
                or (isinstance(node.func, ast.Name) and node.func.id in _ENVIRON[2:])):
            key(node.args[0], node.func)
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn) \
                and is_environ(node.comparators[0]):
            key(node.left, node.comparators[0])
        elif isinstance(node, ast.Attribute | ast.Name) and id(node) not in understood and (
                (node.attr if isinstance(node, ast.Attribute) else node.id) in _ENVIRON):
            found.add(f"? line {node.lineno}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_orions_only_reads_of_the_environment_at_import_are_its_test_hooks_which_a_fork_does_not_take() -> None:
    """A variable read at import has the server's value in a forked run: any such variable must not be one
    a run may change (RUN_TIME_VARIABLES), or the run would silently see the server's."""
    reads: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in _import_time_reads(ast.parse(path.read_text(encoding="utf-8"))):
            reads.setdefault(name, set()).add(str(path.relative_to(PACKAGE)))
    assert reads == {"ORION_TEST_PAUSE_AT": {"cli/stopping.py"}, "ORION_TEST_CRASH_AT": {"execution/executor.py"}}
    for name in reads:
        assert not forked_orion.forkable({name: "x"}, {})


def test_the_reader_of_import_time_reads_finds_each_form_and_skips_function_bodies() -> None:
    """The check above is only as good as this reader."""
    source = '''
import os
from os import environ, getenv
A = os.environ["SUBSCRIPT"]
B = os.environ.get("GET")
C = os.getenv("GETENV")
D = "CONTAINS" in os.environ
E = "NOT_CONTAINS" not in environ
F = getenv("BARE_GETENV")
class K:
    G = os.environ.get("CLASS_BODY")
def f(default=os.environ.get("DEFAULT")):
    return os.environ.get("IN_A_FUNCTION")
@decorate(os.getenv("DECORATOR"))
def g():
    return getenv("IN_ANOTHER_FUNCTION")
H = lambda: os.getenv("IN_A_LAMBDA")
I = os.environ.get(NAME)
J = dict(os.environ)
'''
    assert _import_time_reads(ast.parse(source)) == {
        "SUBSCRIPT", "GET", "GETENV", "CONTAINS", "NOT_CONTAINS", "BARE_GETENV", "CLASS_BODY", "DEFAULT", "DECORATOR",
        "? line 18", "? line 19"}


def test_a_run_is_forked_only_when_its_environment_differs_from_the_servers_in_run_time_variables() -> None:
    base = {"PATH": "/usr/bin", "ORION_HOME": "/a", "PYTHONPATH": "/src"}
    assert forked_orion.forkable({**base, "ORION_HOME": "/b", "ORION__TRADING__MODE": "live", "NO_COLOR": "1"}, base)
    assert not forked_orion.forkable({**base, "ORION_TEST_CRASH_AT": "after_first_send"}, base)
    assert not forked_orion.forkable({**base, "PYTHONPATH": "/elsewhere"}, base)  # read by the interpreter's start
    assert not forked_orion.forkable({k: v for k, v in base.items() if k != "PATH"}, base)


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "ORION_HOME": str(home)}


def test_each_forked_run_has_its_own_arguments_environment_directory_streams_and_exit_code(tmp_path: Path) -> None:
    one, two, here = tmp_path / "one", tmp_path / "two", tmp_path / "here"
    for d in (one, two, here):
        d.mkdir()
    made = forked_orion.run(["init"], env=_env(two), timeout=60)  # the ledger in ORION_HOME: two's
    assert made.returncode == 0, made.stderr
    if sys.platform.startswith("linux"):  # where the server runs: these runs are forked ones
        server = forked_orion._servers.get(os.getpid())
        assert server is not None and forked_orion.forkable(_env(one), server.env)
    assert (two / "orion.db").exists() and not (one / "orion.db").exists()
    missing = forked_orion.run(["halt", "--status"], env=_env(one), timeout=60)
    assert missing.returncode == 3 and missing.stdout == ""
    assert f"{one}/orion.db" in missing.stderr
    status = forked_orion.run(["--json", "halt", "--status"], env=_env(two), timeout=60)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["halted"] is False
    # A relative --db is the run's own working directory's.
    relative = forked_orion.run(["--db", "here.db", "init"], env=_env(one), timeout=60, cwd=str(here))
    assert relative.returncode == 0, relative.stderr
    assert (here / "here.db").exists() and not Path("here.db").exists()
    usage = forked_orion.run(["no-such-command"], env=_env(one), timeout=60)
    assert usage.returncode == 2
    assert usage.stdout == "" and "no-such-command" in usage.stderr


def test_a_forked_run_past_its_time_is_killed_and_reported_as_subprocess_run_reports_it(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        forked_orion.run(["trade", "--watch", "1", "--demo", "--jsonl"], env=_env(tmp_path), timeout=3)
    assert time.monotonic() - started < 20
    after = forked_orion.run(["--version"], env=_env(tmp_path), timeout=60)
    assert after.returncode == 0 and after.stdout.startswith("orion "), after.stderr  # the server still serves
