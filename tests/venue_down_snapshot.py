"""A recorded snapshot in which one venue was down: the demo data of the other venue only, and the
venue named in ``degraded`` with the reason the recording run gave (as `orion snapshot record` writes
it when a venue does not answer)."""

from __future__ import annotations

from pathlib import Path

from orion_cli.core.models import Venue
from orion_cli.venues.snapshot import Capture, demo_path, read_capture, write_capture

DOWN_REASON = "GET /markets failed after 4 attempts: 503"


def write_venue_down_snapshot(path: Path, down: Venue = Venue.KALSHI, reason: str = DOWN_REASON) -> Path:
    demo = read_capture(demo_path())
    write_capture(Capture(kalshi=None if down is Venue.KALSHI else demo.kalshi,
                          polymarket=None if down is Venue.POLYMARKET else demo.polymarket,
                          recorded_at=demo.recorded_at, degraded={down.value: reason}), path)
    return path
