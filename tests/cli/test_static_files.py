"""Generated files (completions, cached root help, config.toml.example) must match the code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from orion_cli.cli import static


@pytest.mark.parametrize("name", ["orion.bash", "orion.zsh", "orion.fish", "root_help.txt", "config.toml.example"])
def test_generated_file_is_fresh(name: str) -> None:
    expected = {path.name: (path, text) for path, text in static.expected_files().items()}
    path, text = expected[name]
    assert path.exists(), f"{path} missing: run `python -m orion_cli.cli.static`"
    assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `python -m orion_cli.cli.static`"


def test_completions_name_every_command() -> None:
    tree = static.command_tree()
    bash = static.render_bash(tree)
    for child in tree.children:
        assert child.path[-1] in bash
        for grandchild in child.children:
            assert f'"/{child.path[-1]}/{grandchild.path[-1]}"' in bash


def test_bash_completion_script_is_valid_bash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "c.bash"
    script.write_text(static.render_bash(static.command_tree()))
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bash_completion_completes_subcommands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "c.bash"
    script.write_text(static.render_bash(static.command_tree()))
    probe = (
        f"source {script}; COMP_WORDS=(orion audit ''); COMP_CWORD=2; _orion_complete; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    words = set(result.stdout.split())
    assert {"tail", "verify"} <= words


def test_fast_help_path_matches_app_help() -> None:
    """`orion --help` is served from the cached file without importing typer."""
    code = (
        "import sys, runpy; sys.argv=['orion','--help'];"
        "from orion_cli.cli import entry\n"
        "try:\n entry.main()\nexcept SystemExit as e:\n assert e.code == 0\n"
        "assert 'typer' not in sys.modules, 'fast path imported typer'"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # piped: no width, the cache
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == static.HELP_FILE.read_text(encoding="utf-8")


def test_root_help_on_a_narrow_terminal_is_rendered_at_its_width() -> None:
    """Found in review: the cached root help (100 columns) was printed on an 80-column terminal too,
    so every box line and paragraph broke in the terminal."""
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run([sys.executable, "-m", "orion_cli", "--help"], capture_output=True, text=True, env=env)
    fast = subprocess.run([sys.executable, "-c", "from orion_cli.cli.entry import main; import sys; "
                           "sys.argv = ['orion', '--help']; main()"], capture_output=True, text=True, env=env)
    for out in (result, fast):
        assert out.returncode == 0, out.stderr
        assert max(len(line) for line in out.stdout.splitlines()) <= 80
        assert "Cross-venue arbitrage" in out.stdout and "Exit codes" in out.stdout


def test_help_paragraphs_are_left_for_the_terminal_to_wrap() -> None:
    """Found in review: Typer keeps a docstring's line breaks inside a paragraph, so `orion trade --help`
    on an 80-column terminal broke mid-sentence on every line ("... fees, net" / "edge) and ...")."""
    import inspect

    import typer

    from orion_cli.cli.app import app

    def walk(cmd: object, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        text = inspect.cleandoc(getattr(cmd, "help", None) or "")
        ragged = [path] if any("\n" in p for p in text.split("\n\n") if not p.startswith("\b")) else []
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            ragged += walk(sub, (*path, name))
        return ragged

    assert walk(typer.main.get_command(app), ("orion",)) == []


def test_every_command_and_group_help_has_an_example() -> None:
    """The README promises it; found in review that four command groups had none."""
    import typer

    from orion_cli.cli.app import app

    def walk(cmd: object, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        missing = [] if "Example" in (getattr(cmd, "help", None) or "") else [path]
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            missing += walk(sub, (*path, name))
        return missing

    assert walk(typer.main.get_command(app), ("orion",)) == []


def test_every_command_is_summed_up_on_one_line_in_its_groups_list() -> None:
    """Found in review: the rich help keeps a docstring's line break in a group's command list, so
    `orion --help` printed scan's summary broken mid-sentence ("... and exact" / "fees, ...")."""
    import inspect

    import typer

    from orion_cli.cli.app import app

    def walk(cmd: object, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        broken = []
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            summary = inspect.cleandoc(sub.short_help or sub.help or "").split("\n\n")[0]
            broken += ([(*path, name)] if "\n" in summary else []) + walk(sub, (*path, name))
        return broken

    assert walk(typer.main.get_command(app), ("orion",)) == []


def test_no_help_text_holds_what_rich_takes_for_markup() -> None:
    """Found by black-box testing: `orion halt --help` read "as long as  and  are valid"; the help is
    rendered as rich markup, which swallowed "[database]" and "[halt]" as style tags."""
    import re

    import typer

    from orion_cli.cli.app import app

    tag = re.compile(r"(?<!\\)\[/?[a-z#@][^\]\[]*\]")

    def walk(cmd: object, path: tuple[str, ...]) -> list[tuple[str, str]]:
        params = getattr(cmd, "params", [])
        texts = [getattr(cmd, "help", None) or "", *(getattr(p, "help", None) or "" for p in params)]
        found = [(" ".join(path), m) for text in texts for m in tag.findall(text)]
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            found += walk(sub, (*path, name))
        return found

    assert walk(typer.main.get_command(app), ("orion",)) == []


def test_verbose_is_shown_as_the_repeatable_flag_it_is() -> None:
    """Found in review: `-v` (a count) was listed as taking a value, `--verbose <int> [default: 0]`."""
    [line] = [ln for ln in static.HELP_FILE.read_text(encoding="utf-8").splitlines() if "--verbose" in ln]
    assert "<int>" not in line and "default" not in line and "-vv" in line


def test_completions_offer_the_short_help_option() -> None:
    """-h is a help option everywhere (context_settings); found in review missing from completions."""
    tree = static.command_tree()
    for node in (tree, *tree.children):
        assert ("-h", "Show help and exit.") in node.options, node.path
