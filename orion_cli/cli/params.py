"""Parameter checks Click's own types miss (NaN, digits of other scripts, empty paths), and a path type
that checks nothing."""

from __future__ import annotations

import copy
import math
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from typer.models import TyperPath

from orion_cli.core.plain_text import plain_ascii, shown_text

# Click's int and float types (IntRange and FloatRange derive from them), which convert with int()/float();
# told by class name, as Typer vendors Click.
NUMBER_TYPES = {"IntParamType": "an integer", "FloatParamType": "a number"}


def finite(value: float | None) -> float | None:
    """A callback for float options: Click's range check compares, and every comparison with NaN is
    false, so ``--watch nan`` would pass it (and rescan in a tight loop)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number")
    return value


def decimal_value(value: str, name: str) -> Decimal:
    """A plain ASCII decimal, finite, written with no more digits than a configuration key's number may
    have (6 decimal places, 18 before the point). Python's Decimal also takes "1_0", full-width digits,
    NaN and Infinity; an option that means a number of contracts or dollars takes none of them. The
    digits: `scan --min-edge 0.0000001` was taken where trading.min_edge = 0.0000001 is refused."""
    from orion_cli.core.config import decimal_size_problem

    shown = shown_option(value)
    try:
        if not plain_ascii(value):
            raise InvalidOperation
        d = Decimal(value.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{shown} is not a decimal number", param_hint=name) from None
    if not d.is_finite():
        raise typer.BadParameter(f"{shown} must be a finite number", param_hint=name)
    problem = decimal_size_problem(d)
    if problem is not None:
        raise typer.BadParameter(f"{shown}: {problem}", param_hint=name)
    # "1e2" is 100, and said so: kept as 1E+2, the checks' details read "buy 1E+2 at <= 0.80" (review).
    return d.quantize(Decimal(1)) if d.as_tuple().exponent > 0 else d  # type: ignore[operator]


def shown_option(value: str) -> str:
    """A number option's text as its refusal shows it: quoted, and shortened as the configuration
    shows a number (the first 40 characters and the length), not all 5,000 digits pasted."""
    from orion_cli.core.config import shown_number

    return shown_number(repr(value))


def path_as_typed(what: str = "a file path") -> TyperPath:
    """A path type that checks nothing and leaves the value the string typed, for ``--config`` and
    ``--db``: a path type, so the shell completions complete file names after them (``static.py`` tells
    file options by their type), but an empty value stays told from "." (and refused by
    :func:`no_empty_paths`, saying ``what`` the option wants) and a directory, a missing or an unreadable
    file stays the loader's to refuse (exit 3), as with $ORION_CONFIG."""
    kind = TyperPath(readable=False)
    kind.orion_wants = what  # type: ignore[attr-defined]
    return kind


def no_empty_paths(command: Any) -> None:
    """Give every path option and argument of ``command`` and its subcommands a type that refuses an
    empty (or blank) value while parsing: a usage error, exit 2, before anything runs.

    An empty value (``--snapshot "$UNSET"``) is the path "." to pathlib: read as the working directory
    ("snapshot path is a directory: ."), a credential file refused as a directory with exit 4, a file
    written where none was named. Told from the parameter's type, as :func:`ascii_numbers_only` tells
    numbers, so a new path option is covered; a copy of the type is changed."""
    for param in getattr(command, "params", ()):
        if not any(c.__name__ in ("TyperPath", "Path") for c in type(param.type).__mro__):
            continue
        checked = copy.copy(param.type)
        checked.convert = _refusing_empty(param.type)
        param.type = checked
    for sub in (getattr(command, "commands", None) or {}).values():
        no_empty_paths(sub)


def _refusing_empty(kind: Any) -> Any:
    wants = getattr(kind, "orion_wants", "a file path")

    def convert(value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            hint = param.opts[0] if getattr(param, "param_type_name", "") == "option" else str(param.name).upper()
            raise typer.BadParameter(f"{wants}, not empty", ctx=ctx, param_hint=hint)
        return kind.convert(value, param, ctx)

    return convert


def ascii_numbers_only(command: Any) -> None:
    """Give every int and float option and argument of ``command`` and its subcommands a type that
    refuses what :func:`plain_ascii` refuses before Click's int()/float() would take it.

    Told from the parameter's type, not from a list of options, so a new numeric option is covered.
    A copy of the type is changed (Typer shares one INT among parameters without a range)."""
    for param in getattr(command, "params", ()):
        kind = param.type
        what = next((NUMBER_TYPES[c.__name__] for c in type(kind).__mro__ if c.__name__ in NUMBER_TYPES), None)
        if what is None or getattr(param, "count", False):
            continue
        checked = copy.copy(kind)
        checked.convert = _refusing_unplain(kind, what)
        param.type = checked
    for sub in (getattr(command, "commands", None) or {}).values():
        ascii_numbers_only(sub)


def _refusing_unplain(kind: Any, what: str) -> Any:
    def convert(value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and not plain_ascii(value):
            kind.fail(f"{value!r} is not {what}: ASCII digits 0-9 only, no \"_\"", param, ctx)
        return kind.convert(value, param, ctx)

    return convert


def one_venue(values: list[str] | None) -> str | None:
    """The one venue a ``--venue`` option names (None: left out). The option is typed as a list only so
    that a repeat is seen: given twice (``--venue kalshi --venue polymarket``) the parser kept the last
    one and the command silently covered that venue alone (`reconcile` reconciled only Polymarket). A
    usage error instead (exit 2), in every command that takes ``--venue``: leaving it out covers both."""
    if not values:
        return None
    if len(values) > 1:
        raise typer.BadParameter(f"given {len(values)} times ({', '.join(repr(v) for v in values)}); it names one "
                                 "venue, and leaving it out covers every venue", param_hint="--venue")
    return values[0]


def one_value_each(command: Any) -> None:
    """Refuse an option that takes one value given twice with different values (a usage error, exit 2),
    in ``command`` and every subcommand.

    Click keeps the last value of a repeated option, silently: ``orion --db q.db halt --db orion.db``
    halted ``orion.db`` while the first ``--db`` named ``q.db``, and ``--config a.toml --config b.toml``
    ran under b.toml's limits. Which value was meant cannot be told, so neither is taken. The same value
    twice (a wrapper script adding what the user also typed) says one thing and passes. Told from the
    parser's own reading of the command line (an option whose value is stored, not appended: a
    repeatable option such as ``pairs suggest --accept`` takes every value; a flag or a count is not a
    value), so every option, a new one included, is covered in this one place.

    Judged once both the command line's global part and the command's own are read (a repeat is noted
    as it is parsed, :func:`_storing_once`), so that ``halt`` can be told apart: a repeated option must
    not keep the kill switch off (review: ``orion halt -r a -r b`` and an alias's
    ``--format`` beside the user's exited 2, NOT halted). There the last value is taken, as Click does,
    and each repeat is a warning naming the value used."""
    if getattr(command, "_orion_one_value_each", False):
        return
    make_parser = command.make_parser

    def checked_parser(ctx: Any) -> Any:
        parser = make_parser(ctx)
        # Click's parser (vendored by Typer, pinned in pyproject.toml) keeps its options by name; each
        # option object appears once per name it has (-n and --limit).
        seen: dict[int, Any] = {}
        for table in (parser._long_opt, parser._short_opt):
            for option in table.values():
                seen.setdefault(id(option), option)
        for option in seen.values():
            if option.action == "store":
                option.process = _storing_once(option, ctx)
        return parser

    command.make_parser = checked_parser
    command._orion_one_value_each = True
    subcommands = getattr(command, "commands", None)
    if subcommands is None:  # a command that runs: judged before it does
        invoke = command.invoke

        def judged_invoke(ctx: Any) -> Any:
            _judge_repeats(ctx)
            return invoke(ctx)

        command.invoke = judged_invoke
    for sub in (subcommands or {}).values():
        one_value_each(sub)


_REPEATS = "orion.repeated_options"


def _storing_once(option: Any, ctx: Any) -> Any:
    store = option.process

    def process(value: Any, state: Any) -> None:
        if option.dest in state.opts and state.opts[option.dest] != value:
            names = option.obj.opts
            name = next((n for n in names if n.startswith("--")), names[0])
            # ctx.meta is the whole command line's (shared by every context of the tree).
            ctx.meta.setdefault(_REPEATS, []).append((name, state.opts[option.dest], value))
        store(value, state)

    return process


_OUTPUT_PROBLEM = "orion.output_problem"


def note_output_problem(ctx: Any, problem: tuple[str, str], used: str) -> None:
    """Output options that contradict each other (or a --format no one knows) on `orion halt`'s command line:
    judged with halt's own options (:func:`_judge_repeats`), as a repeat is."""
    ctx.meta[_OUTPUT_PROBLEM] = (*problem, used)


def _judge_repeats(ctx: Any) -> None:
    """Each repeat noted while the command line was read: a usage error, or for ``orion halt`` a warning
    (the last value taken); and the output options' problem halt's root noted."""
    repeats = ctx.meta.get(_REPEATS) or []
    output = ctx.meta.get(_OUTPUT_PROBLEM)
    if not repeats and output is None:
        return
    parent = ctx.parent
    # `halt --status` engages nothing: a monitor reading another ledger than it named must be told (exit 2).
    if ctx.info_name == "halt" and parent is not None and parent.parent is None and not ctx.params.get("status"):
        out = getattr(ctx.obj, "out", None)
        notes = [f"{output[1]}: {output[0]}; halt goes on, its output as {output[2]} (output options never keep the "
                 "kill switch off)"] if output is not None else []
        notes += [f"{name} given twice, with different values ({_shown_value(first)} and {_shown_value(last)}); "
                  f"halt takes the last, {_shown_value(last)}: a repeat never keeps the kill switch off"
                  for name, first, last in repeats]
        for note in notes:
            if out is not None:
                out.warn(note)
            else:
                typer.echo(f"warning: {note}", err=True)
        return
    if output is not None:
        raise typer.BadParameter(output[0], ctx=ctx, param_hint=output[1])
    name, first, last = repeats[0]
    raise typer.BadParameter(f"given twice, with different values ({_shown_value(first)} and "
                             f"{_shown_value(last)}); give it once", ctx=ctx, param_hint=name)


def _shown_value(value: Any) -> str:
    """An option's value in the refusal of a repeat: cut when long (:func:`shown_text`), a database URL's
    password masked, and nothing of a value that looks like a key (secrets never appear in output)."""
    from orion_cli.core.redact import NOT_SHOWN, mask_url, mask_web_url, setting_looks_secret

    text = value if isinstance(value, str) else str(value)
    if setting_looks_secret(text):
        return NOT_SHOWN
    return shown_text(mask_web_url(text) if text.lower().startswith(("http://", "https://")) else mask_url(text))
