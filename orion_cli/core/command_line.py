"""The ``--config`` and ``--db`` a command orion names for the operator to run must carry.

Messages, hints and warnings name commands in backticks (`orion resume --yes`, `orion reconcile`). A
process given ``--db FILE`` or ``--config FILE`` works on that ledger and configuration, and nothing
carries those options to the next command: `orion resume --yes`, run as printed after
``orion --db other.db resume`` refused, released the *default* ledger's halt and left ``other.db``
halted. So every command a message names carries the process's own ``--config`` and ``--db``
(:func:`with_global_options`), inserted at the one place where the CLI turns text into output
(``cli/output.Output`` for messages and data, the log formatter for log lines), never where the text
is made: the core never knows the command line, and an audit event or an alert keeps the text as it
was recorded (the ledger it is in is the one it is about).

The rule is one, for every command named (those that do not open the ledger too: the configuration
names the vault, the pairs file and the venues, and one rule is easier to trust than a list), with
two exceptions: a command that names ``--db`` or ``--config`` itself (a placeholder such as
`orion --db URL halt`, or a file chosen for it) is left as written, and so is one asking for
``--help``, which reads neither.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

__all__ = ["actor_command", "command_words", "global_options", "set_actor_command", "takes_next",
           "with_global_options", "with_options"]

# A command in backticks: `orion`, then a space or the closing backtick. Never across a backtick.
_COMMAND = re.compile(r"`orion(?=[ `])([^`]*)`")
_SELECTING = ("--db", "--config")
_HELP = ("--help", "-h")


def global_options(config_path: str | Path | None, db_url: str | None) -> str:
    """``--config FILE --db URL`` (each only when given), as a shell reads them, for the commands this
    process names; "" when neither was given.

    Both are made absolute, as the process itself reads them (``absolute_database``), so the command
    finds the same files when it is run from another directory (a cron job's log read in a shell). A
    database URL holding a password is shown masked (secrets never appear in output): the operator
    fills it in; the host and database it names still say which ledger it is.
    """
    words: list[str] = []
    if config_path is not None:
        try:
            config = str(Path(config_path).absolute())
        except OSError:  # the working directory gone: as typed
            config = str(config_path)
        words += ["--config", shlex.quote(config)]
    if db_url:
        from orion_cli.core.config import absolute_database
        from orion_cli.core.errors import ConfigError
        from orion_cli.core.redact import mask_url

        # A NUL in it, or the working directory gone: the settings refuse it; the messages saying so must not.
        try:
            url = absolute_database(db_url)
        except (OSError, ValueError, ConfigError):
            url = db_url
        masked = mask_url(url)
        words += ["--db", shlex.quote(masked if "***" in masked and "***" not in url else url)]
    return " ".join(words)


def live_flag(mode: str) -> str:
    """What an `orion reconcile` (or `positions`) a message names for the ``mode`` ledger must carry: ``--live``
    for the live one. Without it, on a ledger trading live through trade's flags (trading.mode at paper), the
    command named acted on the paper ledger: "clean", exit 0 (found following the README's first day with real
    money)."""
    return " --live" if mode == "live" else ""


def with_options(command: str, options: str) -> str:
    """``command`` (``orion …``, without backticks) with ``options`` right after ``orion``, where the
    root command reads them, unless it names ``--db``/``--config`` or ``--help`` already."""
    if not options or not command.startswith("orion"):
        return command
    rest = command[len("orion"):]
    if rest and not rest.startswith(" "):
        return command
    words = rest.split()
    if any(w in _HELP or w.split("=", 1)[0] in _SELECTING for w in words):
        return command
    return f"orion {options}{rest}"


def with_global_options(text: str, options: str) -> str:
    """``text`` with each backticked `orion …` command carrying ``options`` (:func:`with_options`).
    Idempotent: a command given them names ``--db``/``--config`` and is left alone the next time."""
    if not options or "`orion" not in text:
        return text
    return _COMMAND.sub(lambda m: f"`{with_options(m.group()[1:-1], options)}`", text)


# -- the command an audit event's actor names ------------------------------------------------------
#
# ``actor.command`` in every audit event is the command's words (``init``, ``audit tail``, ``trade OP_ID``),
# never an option's value: ``orion --db postgresql://orion:PASSWORD@host/db init`` recorded the URL, its
# password with it, in the append-only log, where it stays (found by a black-box run). The CLI, which
# knows every option that takes a value (its command tree: one source, nothing listed by hand here),
# hands the words over once it has parsed the command line (:func:`set_actor_command`); the store reads
# them (:func:`actor_command`). The core never imports the CLI.

_ACTOR_WORDS = 2  # `audit tail`, `trade OP_ID`, `pairs add`: as many words as name the command
_actor_command: str | None = None


def takes_next(arg: str, value_options: frozenset[str]) -> bool:
    """Whether Click reads the token after ``arg`` as ``arg``'s value (``value_options``: the names of
    the options that take one)."""
    if arg in value_options:
        return True
    if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
        # Combined short flags (-qn): a value-taking letter takes the rest of the token, or the
        # next token when it is the last letter.
        for pos, letter in enumerate(arg[1:], start=1):
            if f"-{letter}" in value_options:
                return pos == len(arg) - 1
    return False


def command_words(args: list[str] | tuple[str, ...], value_options: frozenset[str]) -> str:
    """The first words of ``args`` (the command line without the program) that are neither an option
    nor an option's value, wherever the options stand (global ones are taken after the command too);
    ``"orion"`` when there are none. ``value_options`` must name every option that takes a value: an
    option not named is taken for a flag."""
    words: list[str] = []
    i = 0
    while i < len(args) and len(words) < _ACTOR_WORDS:
        arg = args[i]
        if arg == "--":  # the options end: what follows is positional
            words.extend(args[i + 1:i + 1 + _ACTOR_WORDS - len(words)])
            break
        if arg.startswith("-") and arg != "-":
            i += 2 if takes_next(arg, value_options) else 1
            continue
        words.append(arg)
        i += 1
    return " ".join(words) or "orion"


def set_actor_command(command: str | None) -> None:
    """Name the command this process runs (:func:`command_words`), for its audit events; None forgets it."""
    global _actor_command
    _actor_command = command


def actor_command(argv: list[str] | tuple[str, ...]) -> str:
    """The command words the CLI named, or, in a process the CLI did not start, the leading words of
    ``argv`` (without the program) up to its first option: nothing after an option, which may take
    a value, is taken for a word."""
    if _actor_command is not None:
        return _actor_command
    words: list[str] = []
    for arg in argv[:_ACTOR_WORDS]:
        if arg.startswith("-"):
            break
        words.append(arg)
    return " ".join(words) or "orion"
