"""What this machine last saw committed to a ledger's audit log, kept outside the ledger.

The head anchor (:mod:`orion_cli.store.audit_head`) lives in the ledger, so a ledger restored from a
backup (a SQLite file copied back, a VM snapshot of its disk, a PostgreSQL dump restored) brings its
old anchor with it: ``audit verify`` called the shortened log intact, and every check judged a ledger
that had forgotten the orders and fills orion made since, which the venues still hold (found reviewing
a ledger behind its venues: a key re-run placed its pair again, a market limit was passed by the
forgotten positions, a resume sent an unwind the venue had already filled).

So each write transaction that appends to the log also leaves its (seq, hash) here, after it commits,
in a small file of the user's state directory (not beside the ledger, where a restore of the
directory would roll it back too), one file per ledger and location. A ledger whose log no longer
reaches that seq, or holds another event there, was rolled back (:func:`behind`). Best effort: a
state directory orion cannot write costs this protection, never a trade.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = logging.getLogger(__name__)

# On a connection, the (seq, hash) its write transaction anchored (store.audit_head.set_head): the
# Database records it here once the transaction has committed.
HEAD_SET = "orion.audit_head_set"

_MAX_BYTES = 4096  # a marker is a few hundred bytes; a larger file is not one


@dataclass(frozen=True, slots=True)
class Seen:
    """The newest audit event this machine saw committed: its seq and hash, and when."""

    seq: int
    digest: str
    at: str


@dataclass(frozen=True, slots=True)
class Behind:
    """A ledger whose log does not reach what this machine saw (:func:`behind`)."""

    seen: Seen
    head_seq: int  # where the ledger's log ends now
    rewritten: bool  # it reaches the seq seen, with another event there (rolled back, then written on)

    def said(self) -> str:
        now = (f"holds another event at seq {self.seen.seq} (it ends at seq {self.head_seq})" if self.rewritten
               else f"ends at seq {self.head_seq}")
        return (f"this machine saw the ledger's audit log reach seq {self.seen.seq} at {self.seen.at}; it now "
                f"{now}: the ledger was restored from a backup, or rolled back with its disk, and what orion "
                "recorded since is gone from it (its orders and fills are still at the venues)")

    def to_record(self) -> dict[str, object]:
        return {"seen_seq": self.seen.seq, "seen_hash": self.seen.digest, "seen_at": self.seen.at,
                "head_seq": self.head_seq, "rewritten": self.rewritten}


class SeenHead:
    """The marker file of one ledger at one location (its id and its URL: a copy of the ledger opened
    elsewhere, for a report, keeps its own and never looks like a rollback of the original)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, directory: Path, ledger_id: str, location: str) -> SeenHead:
        name = hashlib.sha256(f"{ledger_id}\0{location}".encode()).hexdigest()[:32]
        return cls(directory / f"{name}.json")

    def read(self) -> Seen | None:
        """The marker, or None: none yet, or unreadable (a torn write is no evidence of anything)."""
        try:
            with self.path.open("rb") as f:
                return _parse(f.read(_MAX_BYTES + 1))
        except OSError:
            return None

    def advance(self, seq: int, digest: str, *, reset: bool = False) -> None:
        """Record (seq, digest) as seen, unless a newer seq is already recorded (another process's commit
        came after this one's and wrote first); ``reset``: record it even so (a rollback now recorded in
        the log, which goes on from here). Never raises."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.debug("seen head not recorded at %s: %s", self.path, exc.strerror)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # readers of a torn write see garbage, treated as no marker
            old = _parse(os.pread(fd, _MAX_BYTES + 1, 0))
            if old is not None and old.seq >= seq and not reset:
                return
            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # with microseconds, as every recorded time
            body = json.dumps({"seq": seq, "hash": digest, "at": at}, sort_keys=True).encode()
            os.pwrite(fd, body, 0)
            os.ftruncate(fd, len(body))
        except OSError as exc:
            log.debug("seen head not recorded at %s: %s", self.path, exc.strerror)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)


def _parse(raw: bytes) -> Seen | None:
    if len(raw) > _MAX_BYTES:
        return None
    try:
        value = json.loads(raw)
        seq, digest, at = value["seq"], value["hash"], value["at"]
    except (ValueError, TypeError, KeyError):
        return None
    if type(seq) is not int or seq < 0 or not isinstance(digest, str) or not isinstance(at, str):
        return None
    return Seen(seq, digest, at)


def behind(conn: Connection, seen: Seen) -> Behind | None:
    """How the ledger on ``conn`` is behind ``seen``, or None when its log reaches it, with the same
    event at its seq. A log whose anchor is missing or unreadable is ``audit verify``'s to report."""
    from sqlalchemy import select

    from orion_cli.store.audit_head import get_head
    from orion_cli.store.tables import audit_events

    head = get_head(conn)
    if head is None or head[0] < 0:
        return None
    if head[0] < seen.seq:
        return Behind(seen, head[0], rewritten=False)
    if seen.seq == 0:
        return None
    there = conn.execute(select(audit_events.c.hash).where(audit_events.c.seq == seen.seq)).scalar()
    if there is None or there == seen.digest:
        return None  # the event is gone from the middle of the chain: a broken log, verify's finding
    return Behind(seen, head[0], rewritten=True)
