"""A stored value the ledger cannot decode: one error for every table, said as a damaged ledger.

Why: a row altered into something orion never writes (an opportunity's record or an execution's plan
that is not JSON, a status no orion has, text in a money column) came out of whichever decoder met it
first as an internal error (exit 1, ``JSONDecodeError``, ``ValueError`` in ``enum.py``), where every
other damage to a ledger is exit 3, reason ``storage_corrupt``, with the advice to restore it from a
backup. Checked column types (``store/tables.py``) raise :class:`CorruptValue` as a row is read,
naming the table and the column; :class:`~orion_cli.store.db.Database` then names the ledger and the
damaged row's key. Code that decodes a stored value further (a record into an opportunity) raises it
with the key itself.

Kept free of SQLAlchemy: the decoders of ``core`` and ``execution`` import it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orion_cli.core.errors import StorageError

# What still halts while a ledger cannot be used (the store's hints say it to every command).
SENTINEL_ADVICE = "the file halt.sentinel_file names halts every orion configured with it"
CORRUPT_MEANWHILE = f". Meanwhile {SENTINEL_ADVICE}"
CORRUPT_HINT = ("stop every orion process using it and restore it from a backup (`PRAGMA integrity_check` in the "
                "sqlite3 shell shows the damage), then run `orion reconcile --live --fix` before trading live (the "
                "venues hold what the backup does not); orion never repairs or recreates a ledger"
                f"{CORRUPT_MEANWHILE}")
SHOWN_CHARS = 40  # of a damaged short value (a status, a money column's text); never of a JSON document


def shown(value: Any) -> str:
    """A damaged value as a message shows it: its repr, cut short (bytes as b'…')."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def _key_text(key: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={shown(value)}" for name, value in key.items())


class CorruptValue(StorageError):
    """A value of ``table``.``column`` that is not what orion stores there (exit 3, ``storage_corrupt``).

    ``keys``: the primary keys of the damaged rows found (the first few), empty while not yet known;
    ``where``: the ledger's masked URL, once :class:`~orion_cli.store.db.Database` knows it."""

    reason = "storage_corrupt"

    def __init__(self, table: str, column: str, problem: str, *, keys: Sequence[Mapping[str, Any]] = (),
                 more: bool = False, where: str = "") -> None:
        self.table, self.column, self.problem = table, column, problem
        self.keys, self.more, self.where = tuple(keys), more, where
        if not self.keys:
            row = "a row"
        elif len(self.keys) == 1 and not more:
            row = f"the row {_key_text(self.keys[0])}"
        else:
            row = "the rows " + "; ".join(_key_text(k) for k in self.keys) + (" and more" if more else "")
        ledger = f"the database {where}" if where else "the ledger"
        super().__init__(f"{ledger} is damaged: {table}.{column} of {row} {problem}", hint=CORRUPT_HINT)

    def placed(self, where: str, keys: Sequence[Mapping[str, Any]] = (), more: bool = False) -> CorruptValue:
        """This error naming the ledger ``where`` and, when it did not, the damaged rows' ``keys``."""
        return CorruptValue(self.table, self.column, self.problem, keys=self.keys or keys,
                            more=self.more if self.keys else more, where=where)


def json_problem(text: Any, *, loads: Callable[[str], Any] = json.loads, empty_ok: bool = False) -> str | None:
    """Why ``text`` is not a stored JSON object, or None when it is one."""
    return _json_object(text, loads, empty_ok)[1]


def _json_object(text: Any, loads: Callable[[str], Any], empty_ok: bool) -> tuple[dict[str, Any], str | None]:
    if not isinstance(text, str):
        return {}, f"holds {type(text).__name__}, not text" + ("" if text is None else f" ({shown(text)})")
    if not text and empty_ok:
        return {}, None
    try:
        value = loads(text)
    except (ValueError, RecursionError):
        return {}, "is not JSON"
    if not isinstance(value, dict):
        return {}, f"is a JSON {type(value).__name__}, not an object"
    return value, None
