"""Files generated from the code: shell completions, the cached root help, config.toml.example.

``python -m orion_cli.cli.static`` rewrites ``completions/orion.{bash,zsh,fish}``,
``orion_cli/data/root_help.txt`` and ``config.toml.example``; a test fails when any of them is
stale, so they always match the code. The completions are static (no Python start-up per TAB press), which matters in a
trading terminal where ``orion`` costs a few hundred milliseconds to start.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orion_cli.cli.entry import HELP_WIDTH as ENTRY_HELP_WIDTH

ROOT = Path(__file__).resolve().parents[2]
HELP_FILE = Path(__file__).resolve().parents[1] / "data" / "root_help.txt"
HELP_WIDTH = ENTRY_HELP_WIDTH


FILE = "file"  # a value that names a file: completed with file names
VALUE = "value"  # any other value (a number, a ticker, a note): nothing to complete, and never option names


@dataclass
class Node:
    """One command (or group) and what may follow it."""

    path: tuple[str, ...]
    help: str
    options: list[tuple[str, str]] = field(default_factory=list)  # (flag, help)
    # The flags of the options that take a value, and what it is (FILE or VALUE): the word after one is
    # its value, so <TAB> there must not offer the option names or commands offered everywhere else.
    values: dict[str, str] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)  # each positional argument, in order: FILE or VALUE
    variadic: bool = False  # the last argument takes any number of words
    children: list[Node] = field(default_factory=list)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def command_tree() -> Node:
    import typer

    from orion_cli.cli.app import app

    root_cmd = typer.main.get_command(app)
    return _walk(root_cmd, ())


def value_kind(param_type: Any) -> str:
    """FILE for Click's path and file types (a ``Path`` annotation, ``typer.FileText``…), else VALUE.

    Told from the parameter's type, not from a list of option names, so a new path option completes
    file names in every shell without anyone remembering to list it.
    """
    from typer.models import TyperPath

    return FILE if isinstance(param_type, TyperPath) or getattr(param_type, "name", None) == "filename" else VALUE


def _walk(cmd: Any, path: tuple[str, ...]) -> Node:
    node = Node(path, _first_line(getattr(cmd, "help", "")))
    for param in getattr(cmd, "params", []):
        if getattr(param, "hidden", False):
            continue
        kind = value_kind(param.type)
        if param.param_type_name == "argument":
            if param.nargs < 0:
                node.arguments.append(kind)
                node.variadic = True
            else:
                node.arguments += [kind] * param.nargs
            continue
        if param.param_type_name != "option":
            continue
        for flag in [*param.opts, *param.secondary_opts]:
            node.options.append((flag, _first_line(getattr(param, "help", ""))))
        if not (param.is_flag or param.count):
            if param.nargs != 1:  # the scripts skip one word after an option; say so rather than miscount
                raise ValueError(f"{' '.join(path)} {param.opts[0]}: the completions handle options of one value")
            node.values.update(dict.fromkeys(param.opts, kind))
    node.options += [("-h", "Show help and exit."), ("--help", "Show help and exit.")]
    subs: dict[str, Any] = getattr(cmd, "commands", {}) or {}
    for name in sorted(subs):
        node.children.append(_walk(subs[name], (*path, name)))
    return node


def after_command(tree: Node) -> list[tuple[str, str]]:
    """The root's options that orion also takes after a command (``orion report --json``), as
    :func:`orion_cli.cli.app.hoist_global_options` moves them to the front: offered there too, as README
    says they are accepted before or after the command (``orion report --js<TAB>`` offered nothing).
    ``--version`` is taken there as well but not offered: after a command it runs nothing of it."""
    from orion_cli.cli.app import HOISTED_OPTIONS

    return [(flag, h) for flag, h in tree.options if flag in HOISTED_OPTIONS and flag != "--version"]


def _nodes(node: Node) -> list[Node]:
    out = [node]
    for child in node.children:
        out.extend(_nodes(child))
    return out


def _q(text: str) -> str:
    return text.replace("'", "'\\''")


def _key(node: Node) -> str:
    return "/".join(("", *node.path)) if node.path else ""


def _value_patterns(tree: Node, kind: str) -> str:
    """Case patterns matching "<command path> <flag>" for the options taking a ``kind`` value. The root's
    (global) options are accepted after any command (``orion scan --config FILE``), so they match there too."""
    patterns = [f'*" {flag}"' for flag, k in tree.values.items() if k == kind]
    patterns += [f'"{_key(n)} {flag}"' for n in _nodes(tree)[1:] for flag, k in n.values.items() if k == kind]
    return "|".join(patterns)


def _file_argument_test(node: Node) -> str | None:
    """An arithmetic test on ``npos`` (the positional words typed so far) that is true where ``node``
    expects a file argument; None when it takes none."""
    last = len(node.arguments) - 1
    tests = [f"npos {'>=' if node.variadic and i == last else '=='} {i}"
             for i, kind in enumerate(node.arguments) if kind == FILE]
    return " || ".join(tests) or None


def _file_argument_cases(tree: Node, path_var: str, complete_files: str) -> list[str]:
    """The block bash and zsh both run on a word that is not an option: where the command typed so far
    (``path_var``) expects a file argument at this position, ``complete_files`` (the shell's own)."""
    lines = ['    if [[ "$cur" != -* ]]; then', f'        case "${path_var}" in']
    for n in _nodes(tree):
        if test := _file_argument_test(n):
            lines.append(f'            "{_key(n)}") if (({test})); then {complete_files}; fi ;;')
    return [*lines, "        esac", "    fi"]


def _walk_words(tree: Node, path_var: str) -> list[str]:
    """The loop body both bash and zsh run over the words before the cursor: the command path, the
    positional words after it (``npos``), and whether the cursor is on an option's value (``left``,
    ``want``)."""
    lines = [
        "        if ((left > 0)); then left=$((left - 1)); continue; fi",
        '        if [[ "$w" == -* ]]; then',
        f'            case "${path_var} $w" in',
    ]
    for kind in (FILE, VALUE):
        if patterns := _value_patterns(tree, kind):
            lines.append(f"                {patterns}) want={kind}; left=1 ;;")
    lines += [
        "            esac",
        "            continue",
        "        fi",
        f'        case "${path_var}/$w" in',
    ]
    groups = [n for n in _nodes(tree) if n.children]
    known = sorted({"/".join(("", *c.path)) for g in groups for c in g.children})
    for k in known:
        lines.append(f'            "{k}") {path_var}="{k}"; npos=0; continue ;;')
    lines += ["        esac", "        npos=$((npos + 1))"]
    return lines


def render_bash(tree: Node) -> str:
    lines = [
        "# bash completion for orion — generated by `python -m orion_cli.cli.static`; do not edit.",
        "# Install (README, Shell completion): mkdir -p ~/.local/share/bash-completion/completions, copy it",
        "#   there as orion, and source it from ~/.bashrc (the bash-completion package is not needed)",
        "_orion_words() {",
        "    # The words up to the cursor as orion will get them, in words and cword. bash also splits",
        "    # COMP_WORDS at the COMP_WORDBREAKS characters (\":\", \"=\", \"@\"…): `--db sqlite:///x.db` is two",
        "    # words to orion and four in COMP_WORDS, which miscounted every word after it. Words with",
        "    # nothing between them in COMP_LINE are one word again (as-is without a COMP_LINE).",
        '    local i w rest="$COMP_LINE"',
        "    words=()",
        "    for ((i = 0; i <= COMP_CWORD; i++)); do",
        '        w="${COMP_WORDS[i]}"',
        '        if ((i > 0)) && [[ -n "$COMP_LINE" && "$rest" != [[:blank:]]* ]]; then',
        '            words[${#words[@]} - 1]+="$w"',
        "        else",
        '            words+=("$w")',
        "        fi",
        '        rest="${rest#*"$w"}"',
        "    done",
        "    cword=$((${#words[@]} - 1))",
        "}",
        "_orion_files() {",
        "    # File names (and directories to descend into), quoted and slashed by readline as file names.",
        "    # $1 is the whole value; readline replaces only its text after the last word-break character",
        "    # (`sqlite:///x` → `///x`), so each name loses what comes before (as __ltrim_colon_completions).",
        '    local f i c cut=""',
        "    for ((i = 0; i < ${#COMP_WORDBREAKS}; i++)); do",
        '        c="${COMP_WORDBREAKS:i:1}"',
        "        [[ \"$c\" == [[:space:]\\\"\\'] || \"$1\" != *\"$c\"* ]] && continue",
        '        f="${1%"$c"*}$c"',
        "        ((${#f} > ${#cut})) && cut=\"$f\"",
        "    done",
        "    COMPREPLY=()",
        "    compopt -o filenames 2>/dev/null",
        '    while IFS= read -r f; do COMPREPLY+=("${f#"$cut"}"); done < <(compgen -f -- "$1")',
        "}",
        "_orion_no_value() {",
        "    # An option's value that is not a file: nothing to offer, and no fall-back to file names.",
        "    COMPREPLY=()",
        "    compopt +o default 2>/dev/null",
        "}",
        "_orion_complete() {",
        '    local cur path i w npos=0 left=0 want="" words cword',
        "    _orion_words",
        '    cur="${words[cword]}"',
        '    [[ "$cur" == "=" ]] && cur=""  # --option=<TAB> without a COMP_LINE: the word split at the "="',
        '    path=""',
        "    for ((i = 1; i < cword; i++)); do",
        '        w="${words[i]}"',
        '        [[ "$w" == "=" ]] && continue',
        *_walk_words(tree, "path"),
        "    done",
        "    if ((left > 0)); then",
        '        if [[ "$want" == file ]]; then _orion_files "$cur"; else _orion_no_value; fi',
        "        return 0",
        "    fi",
        '    if [[ "$cur" == -*=* ]]; then  # --option=value in one word',
        '        case "$path ${cur%%=*}" in',
        f'            {_value_patterns(tree, FILE)}) _orion_files "${{cur#*=}}" ;;',
        "            *) _orion_no_value ;;",
        "        esac",
        "        return 0",
        "    fi",
        *_file_argument_cases(tree, "path", '_orion_files "$cur"; return 0'),
        '    case "$path" in',
    ]
    globals_after = [o for o, _ in after_command(tree)]
    for n in _nodes(tree):
        words = [c.path[-1] for c in n.children] + [o for o, _ in n.options] + (globals_after if n.path else [])
        lines.append(f'        "{_key(n)}") COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur")) ;;')
    lines += ["    esac", "}", "complete -o default -F _orion_complete orion", ""]
    return "\n".join(lines)


def render_zsh(tree: Node) -> str:
    file_options = _value_patterns(tree, FILE)
    lines = [
        "#compdef orion",
        "# zsh completion for orion — generated by `python -m orion_cli.cli.static`; do not edit.",
        "# Install (README, Shell completion): mkdir -p ~/.zfunc, copy it there as _orion, and in ~/.zshrc put",
        "#   fpath=(~/.zfunc $fpath) before autoload -Uz compinit && compinit",
        "_orion() {",
        "    local -a items",
        "    local path_key='' w want='' cur=\"${words[CURRENT]}\"",
        "    integer npos=0 left=0",
        '    for w in "${(@)words[2,CURRENT-1]}"; do',
        *_walk_words(tree, "path_key"),
        "    done",
        "    if ((left > 0)); then",
        '        [[ "$want" == file ]] && _files',
        "        return",
        "    fi",
        '    if [[ "$cur" == -*=* ]]; then  # --option=value in one word',
        '        case "$path_key ${cur%%=*}" in',
        f"            {file_options}) compset -P '*='; _files ;;",
        "        esac",
        "        return",
        "    fi",
        *_file_argument_cases(tree, "path_key", "_files; return"),
        '    case "$path_key" in',
    ]
    globals_after = after_command(tree)
    for n in _nodes(tree):
        items = [f"'{_q(c.path[-1])}:{_q(c.help).replace(':', ' ')}'" for c in n.children]
        items += [f"'{_q(o)}:{_q(h).replace(':', ' ')}'" for o, h in [*n.options, *(globals_after if n.path else [])]]
        lines.append(f'        "{_key(n)}") items=({" ".join(items)}) ;;')
    lines += ["    esac", "    _describe 'orion' items", "}", 'compdef _orion orion', ""]
    return "\n".join(lines)


def render_fish(tree: Node) -> str:
    """``complete -f`` keeps file names out of the command and option lists; an option's value is
    required (``-r``) and completed with file names (``-F``) or with nothing (``-x``), and a command
    taking a file argument completes file names (``-F``)."""
    lines = [
        "# fish completion for orion — generated by `python -m orion_cli.cli.static`; do not edit.",
        "# Install (README, Shell completion): mkdir -p ~/.config/fish/completions, copy it there as orion.fish",
        "complete -c orion -f",
    ]
    everywhere = {flag for flag, _ in after_command(tree)}  # the root's, offered after any command too
    for n in _nodes(tree):
        if not n.path:
            cond = "__fish_use_subcommand"
        elif len(n.path) == 1:
            cond = f"__fish_seen_subcommand_from {n.path[-1]}"
        else:
            cond = f"__fish_seen_subcommand_from {n.path[0]}; and __fish_seen_subcommand_from {n.path[-1]}"
        for c in n.children:
            lines.append(f"complete -c orion -n '{cond}' -a '{_q(c.path[-1])}' -d '{_q(c.help)}'")
        for flag, h in n.options:
            value = {FILE: " -r -F", VALUE: " -x"}.get(n.values.get(flag, ""), "")
            where = "" if not n.path and flag in everywhere else f" -n '{cond}'"
            if flag.startswith("--"):
                lines.append(f"complete -c orion{where} -l '{flag[2:]}'{value} -d '{_q(h)}'")
            elif flag.startswith("-") and len(flag) == 2:
                lines.append(f"complete -c orion{where} -s '{flag[1:]}'{value} -d '{_q(h)}'")
        if FILE in n.arguments:
            lines.append(f"complete -c orion -n '{cond}' -F")
    return "\n".join(lines) + "\n"


def render_root_help() -> str:
    """The root ``--help`` exactly as the app prints it to a non-terminal at HELP_WIDTH columns."""
    import os

    from typer.testing import CliRunner

    from orion_cli.cli.app import app

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_WIDTH)
    try:
        result = CliRunner().invoke(app, ["--help"], prog_name="orion", env={"COLUMNS": str(HELP_WIDTH),
                                                                               "NO_COLOR": "1", "TERM": "dumb"})
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return result.stdout


def expected_files() -> dict[Path, str]:
    tree = command_tree()
    return {
        ROOT / "completions" / "orion.bash": render_bash(tree),
        ROOT / "completions" / "orion.zsh": render_zsh(tree),
        ROOT / "completions" / "orion.fish": render_fish(tree),
        HELP_FILE: render_root_help(),
        ROOT / "config.toml.example": render_config_example(),
    }


def render_config_example() -> str:
    from orion_cli.core.config import render_example

    return render_example()


def main() -> int:
    if not (ROOT / "pyproject.toml").is_file():
        # An installed orion: ROOT is site-packages, and these files would be written into it, outside
        # what uninstalling removes (found installing the wheel). It prints them itself.
        sys.stderr.write("not a source checkout of orion: nothing written. An installed orion prints these: "
                         "`orion completion bash|zsh|fish`, `orion config example`\n")
        return 2
    for path, text in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
