"""Parameter checks Click's own types miss, and a path type that checks nothing."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

import typer
from typer.models import TyperPath


def finite(value: float | None) -> float | None:
    """A callback for float options: Click's range check compares, and every comparison with NaN is
    false, so ``--watch nan`` would pass it (and rescan in a tight loop)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number")
    return value


def decimal_value(value: str, name: str) -> Decimal:
    """A plain ASCII decimal, finite. Python's Decimal also takes "1_0", full-width digits, NaN and
    Infinity; an option that means a number of contracts or dollars takes none of them."""
    try:
        if not value.strip().isascii() or "_" in value:
            raise InvalidOperation
        d = Decimal(value.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not a decimal number", param_hint=name) from None
    if not d.is_finite():
        raise typer.BadParameter(f"{value!r} must be a finite number", param_hint=name)
    return d


def path_as_typed() -> TyperPath:
    """A path type that checks nothing and leaves the value the string typed, for ``--config`` and
    ``--db``: a path type, so the shell completions complete file names after them (``static.py`` tells
    file options by their type), but an empty value stays told from "." and a directory, a missing or an
    unreadable file stays the loader's to refuse (exit 3), as with $ORION_CONFIG."""
    return TyperPath(readable=False)
