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

__all__ = ["global_options", "with_global_options", "with_options"]

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
        from orion_cli.core.redact import mask_url

        try:
            url = absolute_database(db_url)
        except (OSError, ValueError):  # a NUL in it: the settings refuse it; the messages saying so must not
            url = db_url
        masked = mask_url(url)
        words += ["--db", shlex.quote(masked if "***" in masked and "***" not in url else url)]
    return " ".join(words)


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
