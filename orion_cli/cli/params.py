"""Parameter checks Click's own types miss."""

from __future__ import annotations

import math

import typer


def finite(value: float | None) -> float | None:
    """A callback for float options: Click's range check compares, and every comparison with NaN is
    false, so ``--watch nan`` would pass it (and rescan in a tight loop)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number")
    return value
