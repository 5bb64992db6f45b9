"""Prometheus text exposition of a reconcile run, for node_exporter's textfile collector.

node_exporter reads every ``*.prom`` file in its ``--collector.textfile.directory`` on each scrape,
so a half-written file would be scraped as garbage: the text is written to a temporary file in the
*same* directory (a name not ending in ``.prom``), flushed to disk, then renamed over the target —
a rename within one filesystem is atomic, so a scrape sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

__all__ = ["STATUSES", "render_reconcile", "write_atomic"]

STATUSES = ("clean", "drift", "unavailable")


class _VenueResult(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def drifts(self) -> Sequence[object]: ...

    @property
    def venue(self) -> object: ...

    @property
    def trading_refused(self) -> str: ...


def _label(value: str) -> str:
    """A label value escaped as the exposition format requires (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _venue_name(venue: object) -> str:
    return str(getattr(venue, "value", venue))


def _num(value: float | int) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def render_reconcile(
    results: Sequence[_VenueResult],
    *,
    finished_at: datetime,
    duration_seconds: float,
    halted: bool | None,
    mode: str = "",
    exit_code: int | None = None,
) -> str:
    """The metrics text (ends with a newline). Durations and timestamps are measurements, not money.

    A run that ended before comparing the venues has no ``results``: no drift or status figures are
    written (none is known), and ``halted`` None (the ledger could not be read) leaves out ``orion_halted``."""
    lines: list[str] = []

    def family(name: str, kind: str, doc: str) -> None:
        lines.append(f"# HELP {name} {doc}")
        lines.append(f"# TYPE {name} {kind}")

    mode_label = f',mode="{_label(mode)}"' if mode else ""
    family("orion_reconcile_last_run_timestamp_seconds", "gauge", "Unix time the last orion reconcile run finished.")
    lines.append(f"orion_reconcile_last_run_timestamp_seconds {_num(round(finished_at.timestamp(), 3))}")
    family("orion_reconcile_duration_seconds", "gauge", "Wall-clock duration of the last orion reconcile run.")
    lines.append(f"orion_reconcile_duration_seconds {_num(round(duration_seconds, 3))}")
    if results:
        family("orion_reconcile_drifts", "gauge", "Drifts between the ledger and the venue found by the last run.")
    for r in results:
        lines.append(f'orion_reconcile_drifts{{venue="{_label(_venue_name(r.venue))}"{mode_label}}} {len(r.drifts)}')
    if results:
        family("orion_reconcile_status", "gauge",
               "1 for the venue's status in the last run (clean, drift, unavailable).")
    for r in results:
        v = _label(_venue_name(r.venue))
        for status in STATUSES:
            lines.append(f'orion_reconcile_status{{venue="{v}",status="{status}"{mode_label}}} '
                         f"{1 if r.status == status else 0}")
    if results:
        family("orion_live_trading_refused", "gauge",
               "1 when live trades on the venue are refused after the last run (drift found and not fixed).")
    for r in results:
        lines.append(f'orion_live_trading_refused{{venue="{_label(_venue_name(r.venue))}"{mode_label}}} '
                     f"{1 if r.trading_refused else 0}")
    if exit_code is not None:
        family("orion_reconcile_exit_code", "gauge", "Exit code of the last orion reconcile run (0 clean, 7 drift, "
               "6 a venue refused this host, 5 a venue unavailable, 4 credentials missing or rejected or the "
               "vault locked, 3 configuration or ledger, 2 usage, 1 its output not written or an internal "
               "error, 130 stopped).")
        lines.append(f"orion_reconcile_exit_code {int(exit_code)}")
    if halted is not None:
        family("orion_halted", "gauge", "1 when the orion kill switch halts this run's mode's trading.")
        lines.append(f"orion_halted {1 if halted else 0}")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, content: str, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``content`` atomically (temp file in the same directory + rename)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        tmp_path.chmod(mode)  # readable by node_exporter, which usually runs as another user
        tmp_path.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
