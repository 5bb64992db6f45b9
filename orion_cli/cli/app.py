"""The root Typer app: global options, the single error boundary and command registration.

Only commands that work are registered. Command modules import their heavy dependencies
(SQLAlchemy, httpx, cryptography) inside the command functions, so ``orion --help`` stays fast.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from orion_cli import __version__
from orion_cli.cli.context import AppContext
from orion_cli.cli.entry import drop_unplain_size_variables
from orion_cli.cli.groups import MISSING_COMMAND, CommandGroup
from orion_cli.cli.output import FORMATS, Output, stream_is_tty
from orion_cli.cli.params import (
    ascii_numbers_only,
    no_empty_paths,
    note_output_problem,
    one_value_each,
    path_as_typed,
)
from orion_cli.cli.streams import discard, help_text_for, takes_every_character, unwritten, write_failed
from orion_cli.core.command_line import command_words, set_actor_command
from orion_cli.core.command_line import takes_next as _takes_next
from orion_cli.core.errors import ExitCode, OrionError

EXIT_CODES_EPILOG = (
    "Exit codes: 0 success · 1 internal error · 2 usage error · 3 configuration error · "
    "4 secrets/auth error · 5 venue unavailable · 6 refused by a safeguard · "
    "7 drift (reconcile disagrees with a venue, or the audit chain is broken) · 130 interrupted."
)

_FORMAT_FLAGS = ("--json", "--jsonl")
_GLOBAL_SHORT_FLAGS = frozenset({"-v", "-q"})
_GLOBAL_FLAGS = frozenset({*_FORMAT_FLAGS, *_GLOBAL_SHORT_FLAGS, "--verbose", "--quiet", "--version"})
_GLOBAL_VALUE_OPTIONS = frozenset({"--format", "--config", "--db"})
_VERBOSE_RUN = re.compile(r"-v{2,}")  # -vv, -vvv: the count option, combined
# The root options hoist_global_options takes from after the command (the static completions offer them there).
HOISTED_OPTIONS = frozenset({*_GLOBAL_FLAGS, *_GLOBAL_VALUE_OPTIONS})


def hoist_global_options(args: list[str], value_options: frozenset[str] = frozenset(),
                         flag_options: frozenset[str] = frozenset()) -> list[str]:
    """Move the global options given after the command to the front.

    Users type both ``orion --json balance`` and ``orion balance --json`` (or ``scan --demo -v``); the
    root callback is the one place that parses them. ``value_options`` names the options that take
    a value: what follows one is its value, as Click reads it, so ``halt -r --json`` keeps
    ``--json`` as the reason and ``--config --`` does not end the options. No command has an option
    of the same name as a global one (``tests/cli/test_foundation_cli.py`` checks), so nothing is
    taken from a command. ``-q`` and ``-v`` combined with a command's short flags (``resume -yq``,
    ``audit tail -qn 5``) are taken out of the cluster (:func:`_split_cluster`, which ``flag_options``,
    the short flags, serves).
    """
    end = options_end(args, value_options)
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < end:
        arg = args[i]
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if name in _GLOBAL_VALUE_OPTIONS and "=" not in arg and i + 1 < end:
            front.extend(args[i : i + 2])
            i += 1
        elif name in _GLOBAL_FLAGS or name in _GLOBAL_VALUE_OPTIONS or _VERBOSE_RUN.fullmatch(arg):
            front.append(arg)
        elif (split := _split_cluster(arg, value_options, flag_options)) is not None:
            global_flags, kept = split
            front.extend(global_flags)
            if kept:
                rest.append(kept)
                if _takes_next(arg, value_options) and i + 1 < end:  # `-qn 5`: 5 is -n's value
                    rest.append(args[i + 1])
                    i += 1
        elif _takes_next(arg, value_options) and i + 1 < end:
            rest.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest + args[end:]


def _split_cluster(arg: str, value_options: frozenset[str],
                   flag_options: frozenset[str]) -> tuple[list[str], str] | None:
    """The global short flags in a cluster of short options (``-yq``) and what is left of it (``-y``).

    Click reads a cluster letter by letter, and a letter that takes a value takes the rest of the token
    as it (``-n1q`` is ``-n 1q``): only the global letters before such a letter are taken out, and only
    when every other letter before it is a known flag. A letter orion does not know ends the search the
    same way, so Click names that letter (``-qx``: ``-x``), not a global letter before it that the
    command alone does not know. ``None`` when there is nothing to take out, or a character that is not
    a letter or digit follows (``-q-yes`` stays whole: split, it would read as ``--yes``).
    """
    if not arg.startswith("-") or arg.startswith("--") or len(arg) < 3:
        return None
    global_flags: list[str] = []
    kept = ""
    letters = arg[1:]
    for pos, letter in enumerate(letters):
        name = f"-{letter}"
        if name in _GLOBAL_SHORT_FLAGS:
            global_flags.append(name)
        elif name in value_options:
            kept += letters[pos:]  # the option and its value (the rest of the token, if any)
            break
        elif name in flag_options:
            kept += letter
        elif not letter.isalnum():
            # `-q-yes` must not become `-q --yes` (nor `-q-` a `--`): the cluster stays whole, refused.
            return None
        else:  # unknown: left with the rest for Click to name (not a global letter before it)
            kept += letters[pos:]
            break
    if not global_flags:
        return None
    return global_flags, f"-{kept}" if kept else ""


def options_end(args: list[str], value_options: frozenset[str] = frozenset()) -> int:
    """Index of the ``--`` that ends the options (Click's rule), or ``len(args)``."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return i
        i += 2 if _takes_next(arg, value_options) else 1
    return len(args)


def options_named(args: list[str], value_options: frozenset[str]) -> frozenset[str]:
    """The options ``args`` name before the options end, never an option's value (``--x=v`` as ``--x``; a
    cluster ``-qh`` as ``-q`` and ``-h``, up to a letter that takes the rest as its value)."""
    named: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if arg.startswith("--"):
            named.add(arg.split("=", 1)[0])
        elif arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                named.add(f"-{letter}")
                if f"-{letter}" in value_options:
                    break
        i += 2 if _takes_next(arg, value_options) else 1
    return frozenset(named)


def value_option_names(command: Any) -> frozenset[str]:
    """Every option name in the command tree that takes a value (none of them is a flag elsewhere)."""
    names: set[str] = set()
    stack = [command]
    while stack:
        cmd = stack.pop()
        for param in getattr(cmd, "params", ()):
            if param.param_type_name == "option" and not (param.is_flag or param.count):
                names.update(param.opts)
                names.update(param.secondary_opts)
        stack.extend(getattr(cmd, "commands", {}).values())
    return frozenset(names)


def short_flag_names(command: Any) -> frozenset[str]:
    """Every short flag (``-y``, ``-f``; counted ones too) in the command tree, and the help option's
    ``-h``: no short name is a flag in one command and takes a value in another (a test checks)."""
    names = {"-h"}
    stack = [command]
    while stack:
        cmd = stack.pop()
        for param in getattr(cmd, "params", ()):
            if param.param_type_name == "option" and (param.is_flag or param.count):
                names.update(n for n in (*param.opts, *param.secondary_opts) if not n.startswith("--"))
        stack.extend(getattr(cmd, "commands", {}).values())
    return frozenset(names)


def _click_exception_types() -> tuple[type[BaseException], ...]:
    """Typer vendors Click; find its exception bases without importing private modules."""
    names = {"ClickException", "Exit", "Abort"}
    found: dict[str, type[BaseException]] = {}
    for cls in (*typer.BadParameter.__mro__, typer.Exit, typer.Abort):
        if cls.__name__ in names and isinstance(cls, type) and issubclass(cls, BaseException):
            found[cls.__name__] = cls
    return tuple(found.values())


def _click_usage_error() -> type[BaseException]:
    """Click's UsageError (a bad option, argument or command: exit 2), found as the types above are."""
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "UsageError")


def reflow_help(text: str | None) -> str | None:
    """Each paragraph of a help text as one line, for the terminal to wrap at its own width.

    Typer keeps a docstring's line breaks inside a paragraph, so help written at 100 columns came out
    ragged on an 80-column terminal (a break mid-sentence on every line). A paragraph starting with
    Click's ``\b`` keeps its lines.
    """
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines())
                       for p in paragraphs)


def _reflow_tree(command: Any, plain: bool) -> None:
    """Every help text of the tree reflowed, and (``plain``) as a stdout that cannot take every character
    will print it (:func:`help_text_for`)."""
    command.help = reflow_help(command.help)
    if plain:
        for holder in (command, *command.params):
            for attr in ("help", "short_help", "epilog"):
                text = getattr(holder, attr, None)
                if isinstance(text, str):
                    setattr(holder, attr, help_text_for(text, sys.stdout))
    for sub in getattr(command, "commands", {}).values():
        _reflow_tree(sub, plain)


class OrionGroup(CommandGroup):
    """Root group: format-option hoisting and the one error boundary of the CLI."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _reflow_tree(self, plain=not takes_every_character(sys.stdout))
        ascii_numbers_only(self)
        no_empty_paths(self)
        one_value_each(self)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Before anything renders: Rich and shutil would read a $COLUMNS of other scripts' digits.
        drop_unplain_size_variables()
        return super().main(*args, **kwargs)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:
            value_options = value_option_names(self)
            args = hoist_global_options(list(args), value_options, short_flag_names(self))
            # Typer re-parses the leftovers when resolving an unknown command: keep the first answer.
            ctx.meta.setdefault(_FORMAT_KEY, _format_requested(args, value_options))
            # What this process's audit events name as the command: its words, never an option's value
            # (`--db URL`'s password was recorded). The tree's own value options, the root's included.
            set_actor_command(ctx.meta.setdefault(_ACTOR_KEY, command_words(args, value_options)))
            ctx.meta.setdefault(_OPTIONS_KEY, options_named(args, value_options))
            try:
                return super().parse_args(ctx, args)
            except _click_exception_types() as exc:
                # A bad global option fails here, before invoke() and before ctx.obj exists.
                _usage_error(ctx, exc)
                raise
            except OSError as exc:  # the root's eager --help or --version printing to a full disk
                if write_failed(exc):
                    _output_failed(ctx, exc)
                raise
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _click_exception_types() as exc:
            # A usage error from a command's parser or a group's lookup (e.g. `orion audit bogus`).
            _usage_error(ctx, exc)
            raise
        except OrionError as exc:
            _report(ctx, int(exc.exit_code), exc.reason, exc.message, exc.hint)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            from orion_cli.cli.stopping import stop_reason

            _report(ctx, int(ExitCode.INTERRUPTED), "interrupted", stop_reason(), None)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except SystemExit as exc:
            # Rich turns a closed pipe under the help it prints into SystemExit(1) (its on_broken_pipe):
            # `orion trade --help | head` is then a success, as `orion --help | head` is.
            if isinstance(exc.__context__, BrokenPipeError) and _printing_help(exc):
                discard(sys.stdout)
                raise typer.Exit(0) from None
            raise
        except BrokenPipeError:
            # Output's own writes drop what a gone reader cannot take and let the command finish; a
            # closed pipe reaching here cut the command short, so its outcome is unknown: not a success.
            discard(sys.stdout)
            _report(ctx, int(ExitCode.ERROR), "output_closed", "the output was closed before the command finished",
                    None)
            raise typer.Exit(int(ExitCode.ERROR)) from None
        except OSError as exc:
            # stdout's own refusal, whatever its errno (an I/O error too): the output's failure, not a bug
            if write_failed(exc) or exc is _output(ctx).stdout_failure:
                _output_failed(ctx, exc)
            _internal_error(ctx, exc)
        except Exception as exc:
            _internal_error(ctx, exc)
        finally:
            app_ctx = ctx.obj
            if isinstance(app_ctx, AppContext):
                app_ctx.close()


_FORMAT_KEY = "orion.requested_format"
_ACTOR_KEY = "orion.actor_command"
_OPTIONS_KEY = "orion.options_named"  # the options the command line names (options_named)


def _format_requested(args: list[str], value_options: frozenset[str]) -> str:
    """The output format the (hoisted) arguments ask for, as the root callback settles it, even if
    they fail to parse: ``--json``/``--jsonl`` win over ``--format``; ``auto`` when none is valid."""
    end = options_end(args, value_options)
    fmt = "auto"
    i = 0
    while i < end:
        arg = args[i]
        value = arg.split("=", 1)[1] if arg.startswith("--format=") else (
            args[i + 1] if arg == "--format" and i + 1 < end else None)
        if arg in _FORMAT_FLAGS:
            return arg[2:]
        if value is not None and value.lower() in FORMATS:
            fmt = value.lower()
        i += 2 if _takes_next(arg, value_options) else 1
    return fmt


def _output(ctx: Any) -> Output:
    """The invocation's output; before the root callback built it (an unknown command, a bad global
    option), one for the format the arguments ask for, so a piped failure is reported as any other."""
    if isinstance(ctx.obj, AppContext):
        return ctx.obj.out
    return Output(ctx.meta.get(_FORMAT_KEY, "auto"))


def _usage_error(ctx: Any, exc: BaseException) -> None:
    """Report a usage error (exit 2: a bad option, argument or command); anything else goes on as it was.

    On a terminal, Click's usage line and Typer's boxed panel are for a person, and stay (they
    follow the JSON record, when stdout carries JSON). Anywhere else stderr is read by a log or a
    program: the error is then reported as every other failure is, one ``error:`` line, a ``hint:``
    line naming the command's help and the JSON record when stdout carries JSON, and ``typer.Exit(2)``
    is raised here so that Typer draws nothing more.
    """
    if not isinstance(exc, _click_usage_error()):
        return
    out = _output(ctx)
    fmt = getattr(exc, "format_message", None)
    message = str(fmt() if callable(fmt) else exc) or MISSING_COMMAND
    failed = getattr(exc, "ctx", None) or _parsing_context(exc)
    halting = _halting(ctx)
    if halting:
        # Every other way `orion halt` fails says so first (a mistyped `--reson` read as any usage error
        # left an operator in a hurry believing trading had stopped).
        message = f"NOT halted: {message}"
    # A group given no command answers with its help on a terminal (Typer printed it to stdout), not with
    # an error line; elsewhere it is an error as any other (groups.CommandGroup).
    if type(exc).__name__ == "NoArgsIsHelpError" or stream_is_tty(out.stderr):
        if out.machine:
            out.error_record(int(ExitCode.USAGE), "usage", message)
        if halting:  # Click draws this one, with the words above
            usage_error: Any = _click_usage_error()
            raise usage_error(message, ctx=failed) from None
        return
    command = failed.command_path if failed is not None else " ".join(
        filter(None, (ctx.command_path, ctx.invoked_subcommand)))
    _report(ctx, int(ExitCode.USAGE), "usage", message, f"see `{command} --help`")
    raise typer.Exit(int(ExitCode.USAGE)) from None


def _halting(ctx: Any) -> bool:
    """Whether the command line asks `orion halt` to engage the kill switch (not `--status`, not `--help`)."""
    named = ctx.meta.get(_OPTIONS_KEY, frozenset())
    return str(ctx.meta.get(_ACTOR_KEY, "")).split(" ")[0] == "halt" and not {"--status", "--help", "-h"} & named


def _parsing_context(exc: BaseException) -> Any | None:
    """The context of the command whose arguments were being parsed when ``exc`` was raised.

    Click's parser raises "Option '-n' requires an argument." with no context, and the root's own is
    not the command at fault (`orion audit tail -n`): the deepest frame that held one is.
    """
    # Click's Context, found as the exception types above are (Typer vendors Click).
    context_type = next(c for c in typer.Context.__mro__ if c.__name__ == "Context" and c is not typer.Context)
    found = None
    tb = exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("ctx")
        if isinstance(candidate, context_type):
            found = candidate
        tb = tb.tb_next
    return found


def _printing_help(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a command's ``--help`` was being printed (Typer's vendored Click
    calls it ``show_help``), found in the traceback as :func:`_parsing_context` finds its context."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "show_help" and "typer" in Path(code.co_filename).parts:
            return True
        tb = tb.tb_next
    return False


def _output_failed(ctx: Any, exc: OSError) -> NoReturn:
    """stdout's write refused by the machine (a full disk under `> file`, an I/O error): its trouble, not a
    bug to debug.

    Stderr's failures never get here (messages are dropped, see ``Output._to_stderr``), nor do those
    of the files orion writes, which each name their file: what is left is the output.
    """
    discard(sys.stdout)  # what its buffer holds would fail again at the interpreter's exit
    _report(ctx, int(ExitCode.ERROR), "output_failed", unwritten(exc), None)
    raise typer.Exit(int(ExitCode.ERROR)) from None


def _internal_error(ctx: Any, exc: BaseException) -> NoReturn:
    """A failure nobody foresaw: named by type and place (exit 1), its traceback only when asked for."""
    message = f"unexpected internal error ({type(exc).__name__}{_origin(exc)})"
    if os.environ.get("ORION_DEBUG") == "1":
        # Plain traceback: frames and source lines, never local variables.
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    _report(ctx, int(ExitCode.ERROR), "internal", message, "set ORION_DEBUG=1 for a traceback")
    raise typer.Exit(int(ExitCode.ERROR)) from None


def _origin(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    path = Path(last.tb_frame.f_code.co_filename)
    parts = path.parts
    if "orion_cli" in parts:
        path = Path(*parts[parts.index("orion_cli") :])
    else:
        path = Path(path.name)
    return f" at {path}:{last.tb_lineno}"


def _report(ctx: Any, code: int, reason: str, message: str, hint: str | None) -> None:
    out = _output(ctx)
    try:
        out.error(message, hint)
        if out.machine:
            out.error_record(code, reason, message)
    except BrokenPipeError:
        pass


app = typer.Typer(
    cls=OrionGroup,
    name="orion",
    help=(
        "Cross-venue arbitrage between Kalshi and Polymarket, with safety rails.\n\n"
        "Paper trading is the default. stdout carries data (a table on a terminal, JSON lines when "
        "piped); messages go to stderr.\n\n"
        "Example:  orion halt --status --json"
    ),
    epilog=EXIT_CODES_EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        from orion_cli.store.revision import HEAD_REVISION

        # The schema revision too: the package version alone is the same from build to build (found in review).
        typer.echo(f"orion {__version__} (ledger schema {HEAD_REVISION})")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        # A string, not a typer Path: an empty value must be told from "." (both would be Path(".")), and a
        # directory is the config file's problem (exit 3, as a missing file and $ORION_CONFIG=DIR are). Its
        # type is a path's all the same, unchecked (path_as_typed), so the shells complete file names after it.
        str | None, typer.Option("--config", metavar="<file>",  # as typer shows the Path options
                                 click_type=path_as_typed("a config file path"),
                                 help="Config file (overrides the user config; also $ORION_CONFIG).")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", click_type=path_as_typed("a database URL or SQLite path"),  # as --config
                                 help="Database URL or SQLite path (overrides database.url; a relative path is "
                                      "the working directory's; its directory must exist).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Output: auto (table on a terminal, JSON lines when piped), table, json, "
                                           "jsonl.", case_sensitive=False)
    ] = "auto",
    json_: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Shorthand for --format jsonl.")] = False,
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, metavar="", show_default=False,
                                         help="More detail on stderr: -v info, -vv debug.")] = 0,
    quiet: Annotated[bool, typer.Option(
        "-q", "--quiet", help="Only data, errors, warnings and banners (live, paper, halted, recorded data).")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Cross-venue arbitrage between Kalshi and Polymarket, with safety rails."""
    fmt = fmt.lower()
    shorthand = "json" if json_ else "jsonl" if jsonl else None
    problem: tuple[str, str] | None = None
    if fmt not in ("auto", "table", "json", "jsonl"):
        problem = (f"{fmt!r} is not one of auto, table, json, jsonl", "--format")
    elif json_ and jsonl:
        problem = ("use either --json or --jsonl", "--json")
    elif shorthand and fmt not in ("auto", shorthand):
        # Either could be meant; printing one of them silently would surprise whoever wrote the other.
        problem = (f"--format {fmt} contradicts --{shorthand}: use one", "--format")
    if problem is not None:
        if ctx.invoked_subcommand != "halt":
            raise typer.BadParameter(problem[0], param_hint=problem[1])
        # The kill switch engages whatever the output options say (review: an alias's --json beside a typed
        # --format table exited 2, NOT halted): judged with halt's own options (params.note_output_problem:
        # `halt --status` engages nothing and is refused), the output the shorthand's, else auto.
        fmt, json_, jsonl = shorthand or "auto", shorthand == "json", shorthand == "jsonl"
        note_output_problem(ctx, problem, fmt)
    # An empty --db (an unset shell variable: --db "$ORION_DB"; the default ledger would be used, silently)
    # or --config (read as ".") is refused while parsing, as every path option's is (params.no_empty_paths).
    if json_:
        fmt = "json"
    elif jsonl:
        fmt = "jsonl"
    config_path = None if config is None else Path(config)
    ctx.obj = AppContext(config_path=config_path, db_url=db, fmt=fmt, verbose=verbose, quiet=quiet)
    _warn_misspelt_variables(ctx)


def _warn_misspelt_variables(ctx: typer.Context) -> None:
    """Warn (stderr, also with -q: a cron log keeps it) of each near miss of a variable orion reads for
    itself (ORION_CONFG, ORION_HOMEE): nothing reads it, so the command would run on other settings or
    another ledger than meant. ``trade``'s gate warns of (and audits) its own pair's near misses. And of
    each ``orion__…`` variable in lower case that names no configuration key (one that names a key is a
    configuration error, when the settings are read)."""
    from orion_cli.core.config import lowercase_variable_notes, own_variable_near_misses

    skip: tuple[str, ...] = ()
    if ctx.invoked_subcommand == "trade":  # the gate module only where it is used anyway
        from orion_cli.core.gate import ENV_AUTHORIZED, ENV_PAPER

        skip = (ENV_PAPER, ENV_AUTHORIZED)
    for note in (*own_variable_near_misses(os.environ, skip=skip), *lowercase_variable_notes(os.environ)):
        ctx.obj.out.warn(note)


def _register() -> None:
    from orion_cli.cli.commands import (
        accounts,
        audit,
        completion,
        config,
        halt,
        init,
        market_data,
        pairs,
        report,
        scan,
        trade,
    )
    from orion_cli.cli.commands import reconcile as reconcile_cmd
    from orion_cli.cli.commands import secrets as secrets_cmd

    app.command("init")(init.init_command)
    app.add_typer(config.app, name="config")
    app.command("scan")(scan.scan_command)
    app.command("trade")(trade.trade_command)
    app.add_typer(pairs.app, name="pairs")
    app.command("markets")(market_data.markets_command)
    app.command("book")(market_data.book_command)
    app.add_typer(market_data.snapshot_app, name="snapshot")
    app.command("balance")(accounts.balance_command)
    app.command("positions")(accounts.positions_command)
    app.command("report")(report.report_command)
    app.command("reconcile")(reconcile_cmd.reconcile_command)
    app.add_typer(secrets_cmd.app, name="secrets")
    app.command("halt")(halt.halt_command)
    app.command("resume")(halt.resume_command)
    app.add_typer(audit.app, name="audit")
    app.command("completion")(completion.completion_command)


_register()


def main() -> None:
    """Console-script entry point."""
    app(prog_name="orion")
