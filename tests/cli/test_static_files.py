"""Generated files (completions, cached root help, config.toml.example) must match the code."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

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


FILES = ["orion.toml", "snap.json.gz"]


def _complete_in_bash(tmp_path: Path, cases: list[list[str]]) -> list[tuple[list[str], str]]:
    """Run the generated bash script's completion function in bash for each command line (the last word
    is the one being completed), in a directory holding FILES: each case's COMPREPLY, sorted, and the
    arguments it passed to ``compopt`` (stubbed: it only works inside a real completion)."""
    return _run_bash_completion(tmp_path, [(words, None) for words in cases], FILES)


def _run_bash_completion(tmp_path: Path, probes: list[tuple[list[str], str | None]],
                         files: list[str]) -> list[tuple[list[str], str]]:
    """The probe both helpers run: per (COMP_WORDS, COMP_LINE or None), the sorted COMPREPLY and the
    ``compopt`` arguments, in a directory holding ``files``."""
    script = tmp_path / "c.bash"
    script.write_text(static.render_bash(static.command_tree()))
    work = tmp_path / "cwd"
    work.mkdir()
    for name in files:
        (work / name).touch()
    probe = [f"source {shlex.quote(str(script))}", 'compopt() { opts+="$* "; }']
    for words, line in probes:
        typed = "" if line is None else f"COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}; "
        probe.append(f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}; "
                     f"{typed}"
                     'COMPREPLY=(); opts=""; _orion_complete; printf "%s\\t" "${COMPREPLY[@]}"; echo "|$opts"')
    result = subprocess.run(["bash", "-c", "\n".join(probe)], capture_output=True, text=True, cwd=work)
    assert result.returncode == 0, result.stderr
    out = []
    for row in result.stdout.splitlines():
        words_offered, opts = row.rsplit("|", 1)
        out.append((sorted(w for w in words_offered.split("\t") if w), opts.strip()))
    assert len(out) == len(probes)
    return out


def _value_options(kind: str) -> list[list[str]]:
    """``orion <command path> <flag>`` for every option taking a ``kind`` value."""
    return [["orion", *n.path, flag] for n in static._nodes(static.command_tree()) for flag, k in n.values.items()
            if k == kind]


def test_file_options_and_arguments_are_told_from_their_types() -> None:
    tree = static.command_tree()
    files = {(n.path, flag) for n in static._nodes(tree) for flag, k in n.values.items() if k == static.FILE}
    assert {((), "--config"), ((), "--db"), (("scan",), "--snapshot"), (("reconcile",), "--metrics-file"),
            (("snapshot", "record"), "--out"), (("snapshot", "record"), "-o"),
            (("secrets", "encrypt"), "--from-file"), (("secrets", "rotate"), "--new-password-file")} <= files
    values = {(n.path, flag) for n in static._nodes(tree) for flag, k in n.values.items() if k == static.VALUE}
    assert {((), "--format"), (("scan",), "--venue"), (("trade",), "--size"), (("audit", "tail"), "-n")} <= values
    assert not {flag for _, flag in values | files} & {"--json", "--demo", "-v", "--verbose", "--help"}
    [info] = [n for n in static._nodes(tree) if n.path == ("snapshot", "info")]
    assert info.arguments == [static.FILE]
    [add] = [n for n in static._nodes(tree) if n.path == ("pairs", "add")]
    assert add.arguments == [static.VALUE, static.VALUE]


def test_bash_completes_file_names_after_a_file_option_and_for_a_file_argument(tmp_path: Path) -> None:
    """Found by black-box testing: after --snapshot, --config, --metrics-file or --out, and for
    `snapshot info FILE`, <TAB> listed orion's options or commands instead of files (the script always
    filled COMPREPLY, so bash's own file completion never ran)."""
    cases = [
        *([*words, ""] for words in _value_options(static.FILE)),
        ["orion", "scan", "--config", ""],  # a global option after the command, where orion also takes it
        ["orion", "reconcile", "--fix", "--metrics-file", ""],
        ["orion", "snapshot", "info", ""],
        ["orion", "snapshot", "info", "--demo", ""],
        ["orion", "scan", "--snapshot", "=", ""],  # --snapshot=<TAB>: bash splits the word at the "="
        ["orion", "scan", "--snapshot", "="],
    ]
    *done, (prefixed, _) = _complete_in_bash(tmp_path, [*cases, ["orion", "--config", "sn"]])
    for words, (offered, opts) in zip(cases, done, strict=True):
        assert offered == FILES and "-o filenames" in opts, words
    assert prefixed == ["snap.json.gz"]


def test_bash_offers_nothing_for_an_option_value_that_is_not_a_file(tmp_path: Path) -> None:
    """--venue, --size, --format…: not the option names either (found with the file options), and no
    fall-back to file names."""
    cases = [[*words, ""] for words in _value_options(static.VALUE)]
    assert len(cases) > 20
    for words, (offered, opts) in zip(cases, _complete_in_bash(tmp_path, cases), strict=True):
        assert offered == [] and "+o default" in opts, words


def test_bash_options_and_commands_after_an_option_value(tmp_path: Path) -> None:
    """The word after an option taking a value is that value, not a command or an argument."""
    cases = [
        ["orion", "--config", "audit", ""],  # "audit" is the config file here, not the command
        ["orion", "scan", "--snapshot", "snap.json.gz", ""],
        ["orion", "snapshot", "info", "snap.json.gz", ""],  # its one argument given: options
        ["orion", "snapshot", "info", "-"],
        ["orion", "pairs", "add", ""],  # not a file: the options, as before
    ]
    offered = [words for words, _ in _complete_in_bash(tmp_path, cases)]
    assert {"audit", "scan", "--config"} <= set(offered[0])
    assert {"--venue", "--watch"} <= set(offered[1]) and "audit" not in offered[1]
    globals_after = [flag for flag, _ in static.after_command(static.command_tree())]
    assert offered[2] == offered[3] == sorted(["--demo", "-h", "--help", *globals_after])
    assert {"--inverted", "--note"} <= set(offered[4]) and not set(offered[4]) & set(FILES)


def _comp_words(line: str) -> list[str]:
    """COMP_WORDS as bash 5.2 splits ``line`` (unquoted words, the cursor at its end): at blanks, and a
    run of the word-break characters ``=``, ``:`` and ``@`` is a word of its own between its neighbours
    (``--db=sqlite:///x`` → ``--db``, ``=``, ``sqlite``, ``:``, ``///x``), as an interactive bash shows."""
    words = [part for chunk in line.split() for part in re.findall(r"[=:@]+|[^=:@]+", chunk)]
    return [*words, ""] if line.endswith(" ") else words


def _complete_lines_in_bash(tmp_path: Path, lines: list[str], files: list[str]) -> list[tuple[list[str], str]]:
    """As _complete_in_bash, for command lines completed as bash does: COMP_WORDS split at the word-break
    characters, with COMP_LINE and COMP_POINT, in a directory holding ``files``."""
    return _run_bash_completion(tmp_path, [(_comp_words(line), line) for line in lines], files)


def test_bash_counts_a_value_bash_split_at_a_colon_as_one_word(tmp_path: Path) -> None:
    """Found by black-box testing: COMP_WORDBREAKS holds ":" (and "=", "@"), so bash splits
    `--db sqlite:///x.db` into `--db sqlite : ///x.db` and the script counted `:` and `///x.db` as
    arguments: `orion snapshot info --db sqlite:///x.db <TAB>` offered options, not the FILE, and a file
    name holding a colon was never completed."""
    files = ["orion.toml", "snap.json.gz", "snap-10:00.json"]
    lines = [
        "orion snapshot info --db sqlite:///x.db ",
        "orion snapshot info --db=sqlite:///x.db ",
        "orion --db postgresql://orion@localhost/orion?sslmode=require snapshot info ",
        "orion --db sqlite:///x.db snapshot info snap.json.gz ",  # its one argument given: options
        "orion reconcile --db sqlite:///x ",
        "orion --db sqlite:///x.db --format ",
        "orion --config snap-10:",  # readline replaces what follows the ":": the rest of the name
        "orion --config snap-10:0",
        "orion scan --snapshot=snap-10:0",
        "orion scan --snapshot=",
        "orion scan --venue=",
    ]
    out = _complete_lines_in_bash(tmp_path, lines, files)
    for line, (offered, opts) in zip(lines[:3], out, strict=False):
        assert offered == sorted(files) and "-o filenames" in opts, line
    globals_after = [flag for flag, _ in static.after_command(static.command_tree())]
    assert out[3][0] == sorted(["--demo", "-h", "--help", *globals_after])
    assert {"--fix", "--venue", "--halt-on-drift"} <= set(out[4][0]) and not set(out[4][0]) & set(files)
    assert out[5] == ([], "+o default")
    for line, (offered, opts) in zip(lines[6:9], out[6:9], strict=True):
        assert offered == ["00.json"] and "-o filenames" in opts, line
    assert out[9][0] == sorted(files)
    assert out[10] == ([], "+o default")


def test_fish_requires_option_values_and_completes_files_only_for_file_ones() -> None:
    fish = static.render_fish(static.command_tree()).splitlines()
    assert fish[2] == "complete -c orion -f"  # no file names among commands and options
    scan = "complete -c orion -n '__fish_seen_subcommand_from scan'"
    record = "complete -c orion -n '__fish_seen_subcommand_from snapshot; and __fish_seen_subcommand_from record'"
    assert any(line.startswith(f"{scan} -l 'snapshot' -r -F -d ") for line in fish)
    assert any(line.startswith(f"{scan} -l 'venue' -x -d ") for line in fish)
    assert any(line.startswith(f"{scan} -l 'demo' -d ") for line in fish)
    # A global option, taken after the command as well: offered everywhere (no condition).
    assert any(line.startswith("complete -c orion -l 'config' -r -F -d ") for line in fish)
    assert any(line.startswith(f"{record} -s 'o' -r -F -d ") for line in fish)
    info = "'__fish_seen_subcommand_from snapshot; and __fish_seen_subcommand_from info'"
    assert f"complete -c orion -n {info} -F" in fish
    file_lines = [line for line in fish if " -F" in line]
    assert len(file_lines) == len(_value_options(static.FILE)) + 1  # each file option, and snapshot info's FILE


def test_zsh_completes_files_for_file_options_and_arguments() -> None:
    zsh = static.render_zsh(static.command_tree()).splitlines()
    [file_case] = [line for line in zsh if line.endswith(") want=file; left=1 ;;")]
    [value_case] = [line for line in zsh if line.endswith(") want=value; left=1 ;;")]
    assert '"/scan --snapshot"' in file_case and '*" --config"' in file_case and '"/snapshot/record -o"' in file_case
    assert '"/scan --venue"' in value_case and '"/scan --snapshot"' not in value_case
    assert '        [[ "$want" == file ]] && _files' in zsh
    assert '            "/snapshot/info") if ((npos == 0)); then _files; return; fi ;;' in zsh
    [equals_case] = [line for line in zsh if line.endswith(") compset -P '*='; _files ;;")]
    assert equals_case.strip().startswith(file_case.strip().split(")")[0])
    if shutil.which("zsh"):
        script = "\n".join(zsh)
        result = subprocess.run(["zsh", "-n"], input=script, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_global_options_are_offered_after_a_command_as_orion_takes_them(tmp_path: Path) -> None:
    """Black-box review: `orion report --js<TAB>` offered nothing, though orion takes the global options
    after the command (README; hoist_global_options). Offered after every command in each shell now, as
    exactly the root options orion hoists (--version, which runs nothing of the command, not offered)."""
    from orion_cli.cli.app import HOISTED_OPTIONS

    tree = static.command_tree()
    after = {flag for flag, _ in static.after_command(tree)}
    assert after == {flag for flag, _ in tree.options} & HOISTED_OPTIONS - {"--version"}
    assert {"--json", "--jsonl", "--format", "--config", "--db", "-q", "-v"} <= after
    report, tail, group, root, no_version = _complete_in_bash(tmp_path, [
        ["orion", "report", "--js"], ["orion", "audit", "tail", "--co"], ["orion", "secrets", "--qu"],
        ["orion", "--ver"], ["orion", "report", "--ver"]])
    assert report[0] == ["--json", "--jsonl"] and tail[0] == ["--config"] and group[0] == ["--quiet"]
    assert root[0] == ["--verbose", "--version"] and no_version[0] == ["--verbose"]
    zsh = static.render_zsh(tree)
    [report_items] = [line for line in zsh.splitlines() if line.startswith('        "/report") items=(')]
    assert "'--json:" in report_items and "'--config:" in report_items and "'--version:" not in report_items
    fish = static.render_fish(tree).splitlines()
    assert "complete -c orion -l 'json' -d 'Shorthand for --format json.'" in fish
    assert any(line.startswith("complete -c orion -n '__fish_use_subcommand' -l 'version'") for line in fish)


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


# -- what an installed orion prints instead --------------------------------------------------------


@pytest.mark.parametrize(("argv", "name"), [(["completion", "bash"], "orion.bash"),
                                            (["completion", "zsh", "--format", "table"], "orion.zsh"),
                                            (["completion", "fish"], "orion.fish"),
                                            (["config", "example"], "config.toml.example")])
def test_an_installed_orion_prints_the_generated_files_itself(argv: list[str], name: str, tmp_path: Path) -> None:
    """Found installing the wheel: `completions/` and config.toml.example are not in it, the README's steps
    copied them from the repository's root, and the error hint for an unknown key named a file an installed
    orion does not have. It prints them, byte for byte what the repository holds, into a file or a pipe too
    (where the default format is JSON lines); `config example` even beside a configuration file orion refuses
    (what one reads it to fix)."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[trading]\nmin_proft = "1"\n')
    env = {**os.environ, "ORION_CONFIG": str(bad)}
    done = subprocess.run([sys.executable, "-m", "orion_cli", *argv], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr
    expected = {path.name: text for path, text in static.expected_files().items()}
    assert done.stdout == expected[name]


def test_an_unknown_key_names_the_command_that_lists_every_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[trading]\nxyzzy_plugh = "1"\n')
    done = subprocess.run([sys.executable, "-m", "orion_cli", "--config", str(bad), "config", "show"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 3, done.stderr
    assert f"hint: `orion --config {bad} config example` lists every key" in done.stderr, done.stderr


def test_the_generator_writes_nothing_outside_a_source_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Found installing the wheel: run there, `python -m orion_cli.cli.static` wrote completions/ and
    config.toml.example into site-packages (outside what uninstalling removes) and overwrote the installed
    root help. Without the checkout's pyproject.toml it writes nothing and names the commands to use."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(static, "ROOT", site)
    monkeypatch.setattr(static, "HELP_FILE", site / "orion_cli" / "data" / "root_help.txt")
    assert static.main() == 2
    assert list(site.iterdir()) == []
    assert "`orion completion bash|zsh|fish`, `orion config example`" in capsys.readouterr().err


@pytest.mark.parametrize("how", [["--json"], ["--jsonl"], ["--format", "JSON"]])
def test_the_generated_files_asked_for_as_json_are_one_record_holding_the_text(how: list[str]) -> None:
    expected = {path.name: text for path, text in static.expected_files().items()}
    for argv, name, key, want in ((["completion", "bash"], "orion.bash", "script", {"shell": "bash"}),
                                  (["config", "example"], "config.toml.example", "text", {})):
        done = subprocess.run([sys.executable, "-m", "orion_cli", *how, *argv], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == 0, done.stderr
        (record,) = [json.loads(line) for line in done.stdout.splitlines()] if how == ["--jsonl"] \
            else [json.loads(done.stdout)]
        assert record[key] == expected[name] and want.items() <= record.items(), record
