"""Identify each trading day by the instant it starts, and record where it ends.

Why: the loss breaker's trading day was keyed by a date, the date its window starts on under
``breaker.reset_hour_utc``. A changed hour (a config edit, two processes sharing the ledger with
different settings) moved the window under the same label: a daily trip in force was lifted hours
early with the day's loss forgotten, or a past day's trip came back and refused every trade. From
this revision on, ``equity_snapshots.day`` is the day's start ("2026-11-23T13:00Z") and
``equity_snapshots.ends_at`` its end, which stands whatever the hour says later; the breaker's
trip and warning days (``breaker_state.warned_day``, ``detail``) are such keys too.

Existing labels are read under the reset hour this orion runs with (as the code read them until
now): the opener passes it (``Database.reset_hour_utc``), else the settings are loaded here. A
recorded day ends 24 h after it starts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

# As orion_cli.store.ledger writes them (a migration keeps its own copy: the code may move on).
KEY_FORMAT = "%Y-%m-%dT%H:%MZ"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_snapshots = sa.table("equity_snapshots", sa.column("mode", sa.String), sa.column("day", sa.String),
                      sa.column("ends_at", sa.String))
_breaker = sa.table("breaker_state", sa.column("mode", sa.String), sa.column("warned_day", sa.String),
                    sa.column("detail", sa.Text))


def _reset_hour() -> int:
    config = op.get_context().config
    hour = None if config is None else config.attributes.get("reset_hour_utc")
    if hour is None:
        try:
            from orion_cli.core.config import load_settings

            hour = load_settings().breaker.reset_hour_utc
        except Exception as exc:  # a configuration that cannot be read: the default hour, said
            log.warning("migration 0013: the settings could not be read (%s); trading days recorded as dates "
                        "are read as starting at 00:00 UTC", type(exc).__name__)
            hour = 0
    return int(hour)


def _start(label: Any, hour: int) -> datetime | None:
    if not isinstance(label, str) or not _DATE.fullmatch(label):
        return None
    try:
        return datetime.strptime(label, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
    except ValueError:
        return None


def _key(label: Any, hour: int) -> Any:
    """A date label as the key of the day it started (others, already keys or unreadable, as they are)."""
    start = _start(label, hour)
    return label if start is None else start.strftime(KEY_FORMAT)


def _relabelled(detail: Any, label: Callable[[Any], Any]) -> tuple[Any, dict[str, Any] | None]:
    """The breaker state's ``detail`` with its trip and warning days passed through ``label``, and the
    object it holds; one that is not a JSON object is left as it is (None)."""
    try:
        extra = json.loads(detail) if detail else {}
    except ValueError:
        return detail, None
    if not isinstance(extra, dict):
        return detail, None
    if "daily_tripped_day" in extra:
        extra["daily_tripped_day"] = label(extra["daily_tripped_day"])
    if isinstance(extra.get("warned"), dict):
        extra["warned"] = {k: label(v) for k, v in extra["warned"].items()}
    return json.dumps(extra, sort_keys=True), extra


def upgrade() -> None:
    with op.batch_alter_table("equity_snapshots") as batch:
        batch.alter_column("day", existing_type=sa.String(10), type_=sa.String(20), existing_nullable=False)
        batch.add_column(sa.Column("ends_at", sa.String(20), nullable=True))
    with op.batch_alter_table("breaker_state") as batch:
        batch.alter_column("warned_day", existing_type=sa.String(10), type_=sa.String(20), existing_nullable=True)
    conn = op.get_bind()
    rows = conn.execute(sa.select(_snapshots.c.mode, _snapshots.c.day)).all()
    states = conn.execute(sa.select(_breaker.c.mode, _breaker.c.warned_day, _breaker.c.detail)).all()
    hour = _reset_hour() if rows or states else 0
    for mode, day in rows:
        start = _start(day, hour)
        if start is None:  # not a date (a hand-made row): the day it names cannot be told; it ends at once
            conn.execute(sa.update(_snapshots).where(_snapshots.c.mode == mode, _snapshots.c.day == day)
                         .values(ends_at=day))
            continue
        conn.execute(sa.update(_snapshots).where(_snapshots.c.mode == mode, _snapshots.c.day == day).values(
            day=start.strftime(KEY_FORMAT), ends_at=(start + timedelta(days=1)).strftime(KEY_FORMAT)))
    for mode, warned_day, detail in states:
        detail, extra = _relabelled(detail, lambda label: _key(label, hour))
        conn.execute(sa.update(_breaker).where(_breaker.c.mode == mode).values(
            warned_day=_key(warned_day, hour), detail=detail))
        if extra is not None:
            _record_tripped_day(conn, mode, extra.get("daily_tripped_day"))
    with op.batch_alter_table("equity_snapshots") as batch:
        batch.alter_column("ends_at", existing_type=sa.String(20), nullable=False)


def _record_tripped_day(conn: sa.Connection, mode: str, key: Any) -> None:
    """Record the day a daily trip in force was keyed to, when no row holds it: before this revision a trip
    at marks (no fill or balance change that day) recorded none, and a trip whose day is not recorded is
    in force only while the hour in use computes the same key, so a changed hour lifted it at once. Its
    start equity is this moment's cash and positions at cost, as the first change of the day would have
    taken it (the day's figures are shown only; the trip stands by the day's bounds)."""
    if not isinstance(key, str):
        return
    try:
        start = datetime.strptime(key, KEY_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return
    end = start + timedelta(days=1)
    now = datetime.now(UTC)
    if not start <= now < end:  # a past day's trip is not in force under any hour; a future one cannot be
        return
    if conn.execute(sa.select(_snapshots.c.day).where(_snapshots.c.mode == mode, _snapshots.c.day == key)).first():
        return
    # Summed in the database, in its own storage (SQLite's integer units, PostgreSQL's NUMERIC): exact.
    conn.execute(sa.text(
        "INSERT INTO equity_snapshots (mode, day, ends_at, start_equity, recorded_at) SELECT CAST(:mode AS VARCHAR), "
        "CAST(:day AS VARCHAR), CAST(:ends AS VARCHAR), "
        "(SELECT COALESCE(SUM(total), 0) FROM balances WHERE mode = :cash_mode) + "
        "(SELECT COALESCE(SUM(cost), 0) FROM positions WHERE mode = :held_mode AND size <> 0), CAST(:at AS VARCHAR)"),
        {"mode": mode, "cash_mode": mode, "held_mode": mode, "day": key, "ends": end.strftime(KEY_FORMAT),
         "at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})


def _date(label: Any) -> Any:
    return label[:10] if isinstance(label, str) and len(label) > 10 else label


def downgrade() -> None:
    # Back to dates (the date each day began on). Two days that began on one date (a short day after a
    # change of hour, then the new hour's day) keep the later one's start equity.
    conn = op.get_bind()
    rows = conn.execute(sa.select(_snapshots.c.mode, _snapshots.c.day).order_by(_snapshots.c.mode,
                                                                               _snapshots.c.day)).all()
    kept: dict[tuple[str, str], str] = {}
    for mode, day in rows:
        kept[(mode, _date(day))] = day
    for mode, day in rows:
        if kept[(mode, _date(day))] != day:
            conn.execute(sa.delete(_snapshots).where(_snapshots.c.mode == mode, _snapshots.c.day == day))
    for mode, day in rows:
        if kept[(mode, _date(day))] == day and _date(day) != day:
            conn.execute(sa.update(_snapshots).where(_snapshots.c.mode == mode, _snapshots.c.day == day)
                         .values(day=_date(day)))
    for mode, warned_day, detail in conn.execute(sa.select(_breaker.c.mode, _breaker.c.warned_day,
                                                           _breaker.c.detail)).all():
        detail, _ = _relabelled(detail, _date)
        conn.execute(sa.update(_breaker).where(_breaker.c.mode == mode).values(warned_day=_date(warned_day),
                                                                               detail=detail))
    with op.batch_alter_table("equity_snapshots") as batch:
        batch.drop_column("ends_at")
        batch.alter_column("day", existing_type=sa.String(20), type_=sa.String(10), existing_nullable=False)
    with op.batch_alter_table("breaker_state") as batch:
        batch.alter_column("warned_day", existing_type=sa.String(20), type_=sa.String(10), existing_nullable=True)
