"""The kill switch.

State lives in the database (one row), so every process and every host sharing a PostgreSQL
ledger sees the same switch. An optional sentinel file lets operators' scripts halt without the
CLI: when it exists, orion behaves as halted. :func:`assert_not_halted` is the call every order
path makes *inside* its write transaction, so a halt engaged a millisecond earlier is honoured.

A halt orion engages by itself while paper trading (the paper loss breaker, a paper unwind that failed, a
paper reconcile's --halt-on-drift) halts paper trading only: its ``by`` records ``scope: paper``, and a
reader asking for live trading (:func:`status_of` with ``mode="live"``) finds it released. Why: one ledger
holds both modes, and a paper drill's trip halted live trading, even between a live trade's legs, whose
first leg was then sold back at a real loss (found reviewing paper against live). A halt engaged by a
person (`orion halt`, the sentinel file) or by live trading halts both; one engaged over a paper-only halt
widens it to both.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from orion_cli.core.errors import Halted, Refused, StorageError
from orion_cli.store.audit import AuditLog, default_actor, iso_utc
from orion_cli.store.db import Database, corrupt_error, display_url_of
from orion_cli.store.tables import halt_state


@dataclass(frozen=True, slots=True)
class HaltStatus:
    halted: bool
    reason: str
    kind: str
    since: str | None
    by: dict[str, Any]
    sentinel: str | None = None  # the sentinel file path, whenever that file exists (it halts)
    scope: str | None = None  # "paper": a halt of paper trading only (module doc); None: of both modes
    already_halted: bool = False  # from engage(): it found a halt and kept it (not in the record)
    released: HaltStatus | None = None  # from release(): the halt it released, if any (not in the record)

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "halt",
            "halted": self.halted,
            "reason": self.reason or None,
            "kind": self.kind if self.halted else None,
            "since": self.since,
            "by": self.by or None,
            "sentinel_file": self.sentinel,
            "scope": (self.scope or ALL_SCOPE) if self.halted else None,
        }


_HALT_ROW = select(halt_state).where(halt_state.c.id == 1)
MAX_REASON = 500  # a halt reason is shown on every refused order and status line


def _read(conn: Connection) -> Any:
    row = conn.execute(_HALT_ROW).first()
    if row is None:
        raise missing_halt_row(conn)
    return row


def missing_halt_row(conn: Connection) -> StorageError:
    """The migration inserts the row and no code deletes it: a damaged database (SQLite can read a
    damaged page as empty) or a manual edit. Trading stops either way (exit 3). It was "refusing to
    trade" (exit 6, reason HALTED), also the answer to ``orion halt``, which then recorded nothing."""
    where = display_url_of(conn)
    return corrupt_error(where, "the kill switch's state (the halt_state row) is missing: it is damaged or was "
                                "edited; nothing trades on it")


def _sentinel_status(sentinel_file: str) -> HaltStatus | None:
    if not sentinel_file:
        return None
    path = Path(sentinel_file).expanduser()
    try:
        if not path.exists():
            return None
    except OSError as exc:  # a directory orion may not search: fail closed, it may hold the file
        return HaltStatus(True, f"sentinel file cannot be checked ({exc.strerror or exc})", "sentinel", None, {},
                          str(path))
    try:
        # Opened without blocking and read only if it is a regular file: a named pipe there (opened
        # plainly) hung every command that checks the kill switch until something wrote to it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        try:
            st = os.fstat(fd)
            since = iso_utc(datetime.fromtimestamp(st.st_mtime, UTC))
            if not stat.S_ISREG(st.st_mode):
                return HaltStatus(True, "sentinel path is not a regular file", "sentinel", since, {}, str(path))
            # Bytes, not text: newline translation turned a carriage return into a line feed. No more
            # than a reason can hold (4 bytes a character), whatever file the setting names.
            head = os.read(fd, 4 * MAX_REASON)
        finally:
            os.close(fd)
        reason = head.decode("utf-8", "replace").strip()[:MAX_REASON] or "sentinel file present"
    except OSError:
        reason, since = "sentinel file present", None
    return HaltStatus(True, reason, "sentinel", since, {}, str(path))


def _sentinel_path(sentinel_file: str) -> str | None:
    st = _sentinel_status(sentinel_file)
    return st.sentinel if st else None


def status_in(conn: Connection, sentinel_file: str = "", mode: str | None = None) -> HaltStatus:
    return status_of(_read(conn), sentinel_file, mode)


def read_halt_row(conn: Connection) -> Any:
    """The ``halt_state`` row itself (the pre-trade checks read it once for HALTED and BREAKER)."""
    return _read(conn)


def halt_by(text: Any) -> dict[str, Any]:
    """Who engaged the halt, as stored; one altered into something else marked ``unreadable`` rather than
    raised: the kill switch's state (halted, its reason and kind) must stay readable, and releasable, on
    a ledger whose ``by`` was damaged (it decoded as an internal error, exit 1, for `halt --status`)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        value = None
    return value if isinstance(value, dict) else {"unreadable": True}


PAPER_SCOPE = "paper"
ALL_SCOPE = "all"  # a halt of paper and live trading: a person's, the sentinel file's, or one engaged for live


def scope_of(by: dict[str, Any]) -> str | None:
    """The mode a halt stops, from who engaged it (``by``); None: both. Only ``paper`` is ever stored."""
    return PAPER_SCOPE if by.get("scope") == PAPER_SCOPE else None


def status_of(row: Any, sentinel_file: str = "", mode: str | None = None) -> HaltStatus:
    """The kill switch as the ``halt_state`` row and the sentinel file hold it. ``mode``: as it stands for
    trading in that mode, where a halt of the other mode's trading only (module doc) is released; None:
    every halt, whatever its scope (what `orion halt --status` shows and `orion resume` releases)."""
    sentinel = _sentinel_status(sentinel_file)
    if row.halted:
        by = halt_by(row.by)
        scope = scope_of(by)
        if mode is None or scope is None or scope == mode:
            # The sentinel file named even under a database halt: it still halts once that is released. Beside
            # it, a paper-only halt is no longer all there is: the file halts both modes.
            return HaltStatus(True, row.reason, row.kind, row.since, by, sentinel.sentinel if sentinel else None,
                              scope=None if sentinel else scope)
    return sentinel or HaltStatus(False, "", row.kind, None, {})


def halted_where(st: HaltStatus) -> str:
    """What holds the halt, for messages: the database's kind, the sentinel file, or both."""
    if st.kind == "sentinel":
        return f"sentinel file {st.sentinel}"
    return f"kind {st.kind}" + (f"; also the sentinel file {st.sentinel}" if st.sentinel else "")


# The halt's kind the drawdown breaker engages: only `orion resume --breaker` releases it.
DRAWDOWN_KIND = "drawdown"


def release_command(kind: str | None) -> str:
    """The exact command that releases a database halt of ``kind``, as a script must type it (no
    terminal to confirm on): a drawdown trip needs ``--breaker`` too. Every hint naming the release
    names this: `orion resume` alone was refused for a drawdown trip ("needs --breaker"), and
    `orion resume --breaker` without a terminal ("pass --yes", hint `orion resume --yes`, which the
    breaker then refused again)."""
    return "orion resume --breaker --yes" if kind == DRAWDOWN_KIND else "orion resume --yes"


def needs_breaker() -> Refused:
    """The refusal of `orion resume` without ``--breaker`` of a halt the drawdown breaker engaged."""
    return Refused("the halt was engaged by the drawdown breaker; releasing it needs --breaker: "
                   f"`{release_command(DRAWDOWN_KIND)}`", reason="BREAKER", hint=f"`{release_command(DRAWDOWN_KIND)}`")


def release_hint(st: HaltStatus, what: str = "it") -> str:
    """What releases the halt ``st`` describes, as a clause ("…; <this>"), agreeing with `orion resume`.

    While the sentinel file exists, `resume` releases nothing (exit 6, "remove that file"), so a
    hint naming only `orion resume --yes` under a database halt *and* the file sent the operator to a
    command that refused. The file alone: removing it; both: removing it, then the command (which
    for a drawdown trip needs --breaker); the database alone: the command. The file's path as a shell
    needs it (`rm` of a path with a space, unquoted, removes other files and leaves the halt)."""
    import shlex

    command = f"`{release_command(st.kind)}`"
    if st.kind == "sentinel":
        return f"removing the sentinel file {shlex.quote(st.sentinel or '')} releases {what}"
    if st.sentinel:
        return f"removing the sentinel file {shlex.quote(st.sentinel)}, then {command}, releases {what}"
    return f"{command} releases {what}"


def release_steps(st: HaltStatus | None) -> str:
    """What releases the halt ``st`` describes, as steps to take ("run `orion resume --yes`"), agreeing
    with :func:`release_hint`; ``None``: a halt not yet engaged (a run's --halt-on-drift), by an
    ordinary kind.

    Why: "run `orion resume` first" (resuming an interrupted execution while halted sells its leg
    back) named a command that, without a terminal, refuses (exit 6, "pass --yes"), and after a
    drawdown trip refuses for --breaker too; while the sentinel file exists it releases nothing."""
    import shlex

    command = f"run `{release_command(st.kind if st is not None else None)}`"
    if st is None or not st.sentinel:
        return command
    if st.kind == "sentinel":
        return f"remove the sentinel file {shlex.quote(st.sentinel)}"
    return f"remove the sentinel file {shlex.quote(st.sentinel)}, then {command}"


def unusual_release(st: HaltStatus) -> str | None:
    """:func:`release_hint` where a plain `orion resume` would not release ``st``, else None: a drawdown
    trip needs --breaker, and nothing is released while the sentinel file exists. The hints that name
    a release only then (the trade's HALTED check, the watch's stop) ask this."""
    return release_hint(st) if st.kind == DRAWDOWN_KIND or st.sentinel else None


def halted_detail(st: HaltStatus) -> str:
    """What the HALTED check says of a kill switch ``st`` that holds: where, since when, why, and the release
    when a plain `orion resume` would not do it (said alike by the check and a refusal made before it)."""
    unusual = unusual_release(st)
    release = f"; {unusual}" if unusual else ""
    return (f"{halted_what(st)} is halted ({halted_where(st)}) since {st.since}: {st.reason or 'no reason given'}"
            f"{release}")


def halted_what(st: HaltStatus) -> str:
    """What a halt stops, said: "paper trading" for a halt of paper trading only, else "trading"."""
    return "paper trading" if st.scope == PAPER_SCOPE else "trading"


def assert_not_halted(conn: Connection, sentinel_file: str = "", mode: str | None = None) -> None:
    """Raise :class:`Halted` (exit 6) when the kill switch is engaged for ``mode``'s trading (None: any
    halt). Call inside the order tx."""
    st = status_in(conn, sentinel_file, mode)
    if st.halted:
        where = f" ({halted_where(st)})" if st.sentinel else ""
        raise Halted(
            f"{halted_what(st)} is halted{where}: {st.reason or 'no reason given'}",
            hint=f"`orion halt --status` shows who halted and when; {release_hint(st)}",
        )


class KillSwitch:
    def __init__(self, db: Database, *, sentinel_file: str = "", mode: str = "paper") -> None:
        self.db = db
        self.sentinel_file = sentinel_file
        self.mode = mode

    def status(self, *, trading: bool = False) -> HaltStatus:
        """The kill switch; ``trading``: as it stands for this switch's mode's trading (:func:`status_of`)."""
        with self.db.read() as conn:
            return status_in(conn, self.sentinel_file, self.mode if trading else None)

    def engage(self, reason: str, *, kind: str = "manual", actor: dict[str, Any] | None = None,
               conn: Connection | None = None, automatic: bool = False) -> HaltStatus:
        """Halt. Idempotent: halting while halted keeps the first reason and records the attempt.

        ``automatic``: engaged by orion itself for this switch's mode (a breaker trip, an unwind that
        failed, reconcile's --halt-on-drift): in paper mode a halt of paper trading only (module doc).
        A halt of both engaged over one of paper only widens it, its reason saying both."""
        if conn is None:
            with self.db.write() as c:
                return self.engage(reason, kind=kind, actor=actor, conn=c, automatic=automatic)
        who = actor or default_actor("halt")
        scope = PAPER_SCOPE if automatic and self.mode == PAPER_SCOPE else None
        stored = {**who, "scope": scope} if scope is not None else who  # the row's `by`, not the audit's actor
        row = _read(conn)
        if row.halted:
            if scope is None and scope_of(halt_by(row.by)) is not None:
                # Widened: live trading (or a person) halts too. A drawdown trip's kind stays, for its release.
                wider = f"{reason} (paper trading was halted before: {row.reason})"[:MAX_REASON]
                kept = DRAWDOWN_KIND if row.kind == DRAWDOWN_KIND else kind
                conn.execute(update(halt_state).where(halt_state.c.id == 1).values(
                    reason=wider, kind=kept, by=json.dumps(who, sort_keys=True)))
                AuditLog.append(conn, "halt.engaged", {"reason": reason, "kind": kept, "widened_from_paper": True,
                                                       "existing_reason": row.reason, "scope": ALL_SCOPE},
                                mode=self.mode, actor=who)
                return status_in(conn, self.sentinel_file)
            AuditLog.append(conn, "halt.engaged", {"reason": reason, "kind": kind, "already_halted": True,
                                                   "existing_reason": row.reason,
                                                   "scope": scope_of(halt_by(row.by)) or ALL_SCOPE},
                            mode=self.mode, actor=who)
            return replace(status_in(conn, self.sentinel_file), already_halted=True)
        since = iso_utc(datetime.now(UTC))
        conn.execute(
            update(halt_state).where(halt_state.c.id == 1).values(
                halted=True, reason=reason, kind=kind, since=since, by=json.dumps(stored, sort_keys=True)
            )
        )
        # Its scope always, as `halt --status` and the alert say it: the event's `mode` is the command's, and a
        # person's halt of live trading read as paper in a `select(.mode == "live")` of the log (found in review).
        AuditLog.append(conn, "halt.engaged", {"reason": reason, "kind": kind, "scope": scope or ALL_SCOPE},
                        mode=self.mode, actor=who)
        # With the sentinel file, when it exists: `orion resume` refuses until it is removed.
        return HaltStatus(True, reason, kind, since, stored, _sentinel_path(self.sentinel_file), scope=scope)

    def release(self, *, actor: dict[str, Any] | None = None, breaker: bool = False) -> HaltStatus:
        """Release the halt. A drawdown trip needs ``breaker=True`` (``orion resume --breaker``)."""
        who = actor or default_actor("resume")
        with self.db.write() as conn:
            row = _read(conn)
            if row.halted and row.kind == DRAWDOWN_KIND and not breaker:
                raise needs_breaker()
            was = {"reason": row.reason, "kind": row.kind, "since": row.since, "was_halted": bool(row.halted),
                   "was_scope": (scope_of(halt_by(row.by)) or ALL_SCOPE) if row.halted else None}
            conn.execute(
                update(halt_state).where(halt_state.c.id == 1).values(halted=False, reason="", since=None, by="",
                                                                  kind="manual")
            )
            AuditLog.append(conn, "halt.released", was, mode=self.mode, actor=who)
            st = status_in(conn, self.sentinel_file)
        # What was released, read in the same transaction (an alert names it: `orion resume`).
        released = status_of(row) if row.halted else None
        return replace(st, released=released)
