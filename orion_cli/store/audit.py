"""The append-only, hash-chained audit log (DESIGN §7).

Events are appended inside the transaction of the change they record (:meth:`Database.write`
serialises writers, so the chain never forks). ``hash = SHA-256(prev_hash ‖ canonical JSON of
{seq, ts, type, mode, actor, venue, market, payload})``. No code path updates or deletes a row;
:func:`verify` recomputes the chain in constant memory and names the first bad ``seq``.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import json
import math
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from json.encoder import encode_basestring as _encode_str  # what json.dumps uses (ensure_ascii=False)
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import Connection, func, select

from orion_cli.core.command_line import actor_command
from orion_cli.core.errors import StorageError
from orion_cli.core.redact import mask_url
from orion_cli.core.revealed import scrub_revealed_in
from orion_cli.store.audit_head import HEAD_KEY, get_head, parse_head, set_head
from orion_cli.store.db import Database
from orion_cli.store.prepared import Prepared, defer, defer_many
from orion_cli.store.tables import audit_events, orion_meta

GENESIS_HASH = "0" * 64
SCHEMA_VERSION = 1


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, UUID):  # as orjson writes one itself: both encoders must accept the same values
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def reference_json(value: Any) -> str:
    """The definition of canonical JSON: sorted keys, no whitespace, Decimal as exact strings, UTF-8 kept.

    The chain's hashes are defined over this encoding (DESIGN §7): a verifier, ours or a shell
    pipeline's, re-encodes each parsed payload with it. :func:`canonical_json` writes the same text faster.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


_FAST_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_DIGITS = frozenset(b"0123456789")
_BEFORE_A_NUMBER = frozenset(b":,[-")
_E = ord("e")
_DIGIT_BYTES = frozenset(bytes([d]) for d in b"0123456789")


def _float_spelled_differently(out: bytes) -> bool:
    """Whether orjson's text may hold a float the reference spells otherwise.

    Only floats below 1e-4 differ: orjson writes ``1e-7`` and ``0.00001`` where the reference
    writes ``1e-07`` and ``1e-05``. So: an ``e-`` between digits, or a number that starts ``0.0000``.
    A string holding such a sequence only costs the slower encoder. (Substring search, not a
    regular expression: that took longer than the encoding. The ``e-`` is found from its ``-``,
    which is rare in this text, where ``e`` is in every other word: a search for ``e-`` itself
    stopped at each ``e``. The digit after it keeps a client order id whose hash ends in a digit and
    ``e`` — ``orion-…7e-l1``, one trade in seven — off the slow path.)
    """
    i = out.find(b"-", 2)
    while i != -1:
        if out[i - 1] == _E and out[i - 2] in _DIGITS and out[i + 1:i + 2] in _DIGIT_BYTES:
            return True
        i = out.find(b"-", i + 1)
    i = out.find(b"0.0000")
    while i != -1:
        if i == 0 or out[i - 1] in _BEFORE_A_NUMBER:
            return True
        i = out.find(b"0.0000", i + 1)
    return False


def canonical_json(value: Any) -> str:
    """:func:`reference_json`'s text, from orjson where the two provably agree, else from the reference.

    Why: encoding is a tenth of the order path's CPU (the plan, the result and three events per
    trade), and orjson takes a fraction of the time. What it cannot encode as the reference does
    (integers beyond 64 bits, keys that are not strings, lone surrogates, unknown types) it refuses,
    and the reference takes over, with its own errors. One deliberate difference: a float NaN or
    infinity is written ``null`` (the reference writes ``NaN``, which is not JSON); either way the
    text re-encodes to itself, which is what the chain needs. ``tests/store/test_audit.py`` holds
    both properties.
    """
    try:
        out = orjson.dumps(value, default=_default, option=_FAST_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one
        return reference_json(_nan_as_null(_without_surrogates(value)))
    if _float_spelled_differently(out):
        return reference_json(_nan_as_null(value))
    return out.decode("utf-8")


def _without_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate in its text (and keys) written as the byte it stands for (``\\xf6``).

    Why: Python reads a byte that is not UTF-8 in the environment or the command line (``LOGNAME=j\\xf6rg``,
    ``orion halt $'bad\\xffbyte'``) as a lone surrogate, which no UTF-8 text can hold: the event's hash
    could not be computed, every append failed (exit 1), and `orion halt` did not halt (found in review)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") \
                if _escapable(value) else value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_without_surrogates(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(_without_surrogates(v) for v in value)
    return value


def _escapable(text: str) -> bool:
    """Whether every lone surrogate in ``text`` stands for a byte (U+DC80–U+DCFF, as Python decodes one)."""
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _nan_as_null(value: Any) -> Any:
    """NaN and infinities as None, as orjson writes them: one spelling whichever encoder runs."""
    if isinstance(value, float):
        return None if value != value or value in (_INF, -_INF) else value
    if isinstance(value, dict):
        return {k: _nan_as_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_as_null(v) for v in value]
    return value


_INF = float("inf")


def iso_utc(ts: datetime) -> str:
    """ISO-8601 UTC with microseconds and ``Z`` — fixed width, so text order is time order."""
    if ts.tzinfo is UTC:
        return _iso_utc_cached(ts)
    # Local and zoned times are not cached: equal-hashing times that differ only in ``fold``
    # (the repeated hour at a DST change) are different instants.
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=64)
def _iso_utc_cached(ts: datetime) -> str:
    """One order path stamps a dozen columns and events with the same instant.

    ``isoformat`` writes the same text as ``strftime`` in two thirds of the time (its offset cut off:
    only UTC comes here), except below the year 1000, which ``strftime`` does not zero-pad on every
    platform: such a year still goes to it.
    """
    if ts.year < 1000:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{ts.isoformat(timespec='microseconds')[:26]}Z"


def default_actor(command: str = "") -> dict[str, Any]:
    """Who acts: the command's words, the user, the host and the process. A byte that is not UTF-8 in any
    of them is written as its escape (:func:`_without_surrogates`): the actor is also stored with a halt and
    printed, and a lone surrogate failed a table on a UTF-8 terminal."""
    user, host = _user_and_host()
    actor: dict[str, Any] = _without_surrogates({"command": _masked(command or actor_command(sys.argv[1:])),
                                                 "user": user, "host": host})
    actor["pid"] = os.getpid()
    return actor


@functools.cache
def _user_and_host() -> tuple[str, str]:
    """Looked up once per process (a passwd lookup per audit event showed up in the order path)."""
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return user, socket.gethostname()


@functools.lru_cache(maxsize=8)
def _masked(command: str) -> str:
    """``command`` with every password a URL in it holds as ``***``: the words are never an option's value
    (``core/command_line``), but an event is kept for good, so a URL given as a word is masked too."""
    if "://" not in command and "=" not in command:
        return command
    return " ".join(mask_url(word) for word in command.split(" "))


@dataclass(frozen=True, slots=True)
class Event:
    """One event as stored: ``actor`` and ``payload`` are parsed from their canonical JSON on access.

    Why lazily: the order path appends three events per trade and reads none of them back; parsing
    them to build the returned events was a visible share of its CPU.
    """

    seq: int
    ts: str
    type: str
    mode: str
    actor_json: str
    venue: str | None
    market: str | None
    payload_json: str
    prev_hash: str
    hash: str
    # The columns whose stored value was not text (a BLOB written by hand), shown as SQLite's x'…' literal.
    altered: tuple[str, ...] = ()

    @property
    def actor(self) -> dict[str, Any]:
        return _readable(self.actor_json)

    @property
    def payload(self) -> dict[str, Any]:
        """What a reader sees: Decimals as exact strings, tuples as lists (a fresh dict each time)."""
        return _readable(self.payload_json)

    @property
    def readable(self) -> bool:
        """False for a row whose stored JSON was altered into something else, or a column into a value that is
        not text (``audit verify`` says where)."""
        return not self.altered and UNREADABLE not in self.actor and UNREADABLE not in self.payload

    def to_record(self) -> dict[str, Any]:
        record = {
            "v": SCHEMA_VERSION,
            "seq": self.seq,
            "ts": self.ts,
            "type": self.type,
            "mode": self.mode,
            "actor": self.actor,
            "venue": self.venue,
            "market": self.market,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }
        if self.altered:
            record[ALTERED] = list(self.altered)
        return record


_EVENT_COLUMNS = ("seq", "ts", "type", "mode", "actor", "venue", "market", "payload", "prev_hash", "hash")
_NULLABLE = frozenset({"venue", "market"})
UNREADABLE = "unreadable"
ALTERED = "altered"  # a record's list of the columns shown as x'…' (only on such a record)


def _as_text(value: Any) -> str:
    """A stored value that is not text, as SQLite writes its literal: bytes as ``x'4142'``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"x'{bytes(value).hex()}'"
    return str(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: valid JSON syntax, but it would be printed back as Infinity
        raise ValueError(f"{text} overflows")
    return value


def _readable(text: str) -> dict[str, Any]:
    """A stored JSON object, or, for text altered into something else, that text marked unreadable: a
    reader of a tampered log sees the row, not a crash.

    Orion never writes NaN or an infinite number; a row carrying one was altered, and re-printing it
    would put ``NaN``/``Infinity`` (not JSON) into the lines a pipeline's ``jq`` reads.
    """
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, TypeError):
        value = None
    return value if isinstance(value, dict) else {UNREADABLE: True, "stored": str(text)[:1000]}


def compute_hash(prev_hash: str, seq: int, ts: str, type_: str, mode: str, actor: str, venue: str | None,
                 market: str | None, payload: str) -> str:
    """The chain link. ``actor`` and ``payload`` are the stored canonical JSON texts."""
    if not (isinstance(actor, str) and isinstance(payload, str)):
        # Stored as bytes (the column altered by hand, a BLOB): json.loads takes those too, and a payload
        # cast to a BLOB verified as intact, where `audit tail` said it was altered (found in review).
        raise TypeError("the actor and the payload are stored as text")
    return _link(prev_hash, seq, ts, type_, mode, json.loads(actor), venue, market, json.loads(payload))


def _link(prev_hash: str, seq: int, ts: str, type_: str, mode: str, actor: Any, venue: str | None,
          market: str | None, payload: Any) -> str:
    """The chain link from the *parsed* stored texts (what a verifier reads back)."""
    body = reference_json({"seq": seq, "ts": ts, "type": type_, "mode": mode, "actor": actor, "venue": venue,
                           "market": market, "payload": payload})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _link_from_texts(prev_hash: str, seq: int, ts: str, type_: str, mode: str, actor_text: str, venue: str | None,
                     market: str | None, payload_text: str) -> str:
    """:func:`compute_hash` without parsing and re-encoding the two stored texts.

    Canonical JSON re-encodes its own output unchanged, so the body is spliced from the texts in
    sorted-key order (actor, market, mode, payload, seq, ts, type, venue). The execution request's
    payload carries every check's verdict; encoding it once instead of twice is a visible share of
    the order path. ``tests/store/test_audit.py`` holds the two functions equal.
    """
    body = "".join((
        '{"actor":', actor_text, ',"market":', _json_text(market), ',"mode":', _json_text(mode),
        ',"payload":', payload_text, ',"seq":', str(int(seq)), ',"ts":', _json_text(ts),
        ',"type":', _json_text(type_), ',"venue":', _json_text(venue), "}",
    ))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _json_text(value: str | None) -> str:
    """``canonical_json`` of a string or None, without a whole ``json.dumps`` per field."""
    return "null" if value is None else _encode_str(value)


def _actor_text(actor: Mapping[str, Any]) -> str:
    """``canonical_json(actor)``; a process appends with the same few actors over and over."""
    try:
        # The value's type and spelling are part of the key: 1, 1.0 and True hash alike, as do
        # Decimal("1.0") and Decimal("1.00") or 0.0 and -0.0, but each encodes differently.
        return _actor_text_cached(tuple(sorted((k, type(v), repr(v), v) for k, v in actor.items())))
    except TypeError:  # an unhashable value (or unsortable keys): encode it every time
        return canonical_json(dict(actor))


@functools.lru_cache(maxsize=8)
def _default_actor_text(pid: int, command: str) -> str:
    """``canonical_json(default_actor())``: constant for a process (and its command; tests vary it)."""
    return canonical_json(default_actor(command))


@functools.lru_cache(maxsize=32)
def _actor_text_cached(items: tuple[tuple[str, type, str, Any], ...]) -> str:
    return canonical_json({k: v for k, _, _, v in items})


_NEWEST = select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
_INSERT_PREPARED = Prepared.insert(audit_events, name="insert_audit_events")
_TAIL_KEY = "orion.audit_tail"


def _chain_tail(conn: Connection) -> tuple[int, str, bool, str]:
    """The (seq, hash) the next event links to, as this transaction sees it, whether the log has its
    head anchor (:func:`_link_after`), and the newest event's ``ts`` ("" for none): no later event is
    stamped earlier (:meth:`AuditLog.append`).

    Remembered per transaction (the innermost one, so a rolled-back savepoint never leaves a stale
    tail): an execution appends several events in one transaction, and the writer lock means no
    other process can append in between.
    """
    txn = conn.get_nested_transaction() or conn.get_transaction()
    cached = conn.info.get(_TAIL_KEY)
    if cached is not None and cached[0] is txn:
        return cached[1], cached[2], cached[3], cached[4]
    row = conn.execute(_TAIL_SELECT).one()
    return (*_link_after(row.audit_tail_seq, row.audit_tail_hash, row.audit_anchor), _ts_text(row.audit_tail_ts))


def _link_after(seq: int | None, digest: str | None, anchor: str | None) -> tuple[int, str, bool]:
    """Where the chain goes on: the (seq, hash) the next event takes its seq from and links to, and
    whether the log has its head anchor, which the appends then move on.

    After the newest row when it is the one the head anchor records. With no anchor at all, or one that
    does not parse (every ledger has one since migration 0011: it was deleted or overwritten, perhaps
    with the newest events), after the newest row, and the anchor stays missing: writing one there
    would anchor what is left, and the next write would hide the deletion for good; ``audit verify``
    keeps reporting it.
    Otherwise the next event links to the anchored hash, never to rows orion did not anchor:

    - the anchor ahead of the newest row or naming another hash (newest events deleted or replaced):
      the chain goes on after the anchor, leaving the hole for ``audit verify`` to keep reporting. Going
      on from the newest row re-used the deleted seq, and the next write hid the deletion for good
      (found by a black-box run);
    - rows past the anchor (appended by something other than orion, which moves the anchor with each
      event): the next event takes the next free seq but links to the anchored event, so the rows in
      between stay off the chain and ``audit verify`` keeps naming the first of them. Linking to the
      newest row adopted them: the next write anchored a forged ``halt.released`` for good (found in
      review). Refusing to append instead would have blocked ``orion halt`` on an audit problem.
    """
    tail = (int(seq), str(digest)) if seq is not None and digest is not None else (0, GENESIS_HASH)
    head = parse_head(anchor) if anchor else None
    if head is None or head[0] < 0 or not head[1]:
        # No anchor, or one blanked or garbled (a tampered seq parses as -1): the same as none. Writing a
        # fresh one over it anchored what was left, and the next write hid a deletion for good (review).
        return (*tail, False)
    if head != tail:
        return max(head[0], tail[0]), head[1], True
    return (*tail, True)


def _ts_text(value: Any) -> str:
    """The newest event's ``ts`` as text; "" when there is none or it is not text (a row altered in place)."""
    return value if isinstance(value, str) else ""


def _remember_tail(conn: Connection, seq: int, digest: str, anchored: bool, ts: str) -> None:
    conn.info[_TAIL_KEY] = (conn.get_nested_transaction() or conn.get_transaction(), seq, digest, anchored, ts)


# The chain tail and the head anchor as columns, for a caller that reads other things in the same
# statement first.
TAIL_COLUMNS = (
    _NEWEST.with_only_columns(audit_events.c.seq).scalar_subquery().label("audit_tail_seq"),
    _NEWEST.with_only_columns(audit_events.c.hash).scalar_subquery().label("audit_tail_hash"),
    select(orion_meta.c.value).where(orion_meta.c.key == HEAD_KEY).scalar_subquery().label("audit_anchor"),
    _NEWEST.with_only_columns(audit_events.c.ts).scalar_subquery().label("audit_tail_ts"),
)
_TAIL_SELECT = select(*TAIL_COLUMNS)


def prime_tail(conn: Connection, seq: int | None, digest: str | None, anchor: str | None, ts: str | None) -> None:
    """Hand :func:`AuditLog.append` the tail that :data:`TAIL_COLUMNS` read in this transaction.

    Only inside a :meth:`Database.write` transaction: its lock keeps every other writer out, so the
    tail cannot move before this transaction's own appends.
    """
    cached = conn.info.get(_TAIL_KEY)
    if cached is not None and cached[0] is (conn.get_nested_transaction() or conn.get_transaction()):
        return  # this transaction has appended since: its own tail is newer than the one read
    _remember_tail(conn, *_link_after(seq, digest, anchor), _ts_text(ts))


# How far ahead of this process's clock the newest event may be for the next one to take its time: lock waits
# and a reconcile's run are seconds; a clock set a year ahead once must not hold every later event there.
TS_CLAMP = timedelta(minutes=5)


def _within_clamp(last_ts: str, stamp: datetime) -> bool:
    """Whether ``last_ts`` (the newest event's, later than ``stamp``) is at most :data:`TS_CLAMP` ahead."""
    try:
        return datetime.fromisoformat(last_ts.replace("Z", "+00:00")) - stamp.astimezone(UTC) <= TS_CLAMP
    except (ValueError, TypeError, AttributeError):  # not a time (a damaged row): not followed
        return False


_BATCH_KEY = "orion.audit_batch"


@contextlib.contextmanager
def batched(conn: Connection) -> Iterator[None]:
    """Hold the events appended inside the block and write them as one insert and one anchor update.

    Why: an execution commits several events (the request, both intents) in one transaction; one
    statement instead of two per event is a large share of the order path. The events get their
    seq and hash as they are appended, exactly as unbatched; only the writing is deferred to the end
    of the block. If the block raises, nothing is written and the remembered chain tail is dropped,
    so a caller that catches the error and appends again re-reads the true tail.
    """
    if _BATCH_KEY in conn.info:  # already inside a batch: the outer block writes
        yield
        return
    rows: list[dict[str, Any]] = []
    conn.info[_BATCH_KEY] = rows
    try:
        yield
    except BaseException:
        conn.info.pop(_TAIL_KEY, None)
        raise
    finally:
        conn.info.pop(_BATCH_KEY, None)
    if rows:
        defer_many(conn, _INSERT_PREPARED, rows)
        tail = conn.info.get(_TAIL_KEY)
        if tail is None or tail[3]:  # a log whose anchor is missing stays without one (_link_after)
            set_head(conn, rows[-1]["seq"], rows[-1]["hash"])


class AuditLog:
    """Append and read audit events."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writing -------------------------------------------------------------------------------

    @staticmethod
    def append(
        conn: Connection,
        type_: str,
        payload: Mapping[str, Any] | None = None,
        *,
        mode: str = "paper",
        actor: Mapping[str, Any] | None = None,
        venue: str | None = None,
        market: str | None = None,
        now: datetime | None = None,
    ) -> Event:
        """Append inside the caller's :meth:`Database.write` transaction.

        Stamped ``now`` (the time), but never earlier than the event before it: time never runs back along
        the log, so `audit tail --since` (by time) and the order of the chain (by seq) agree. Found auditing
        the log: a reconcile's events, stamped with the moment the run began, followed the fills it recorded
        meanwhile at later times, and `--since` between them returned the fills without what explains them.
        A clock stepped back a little (NTP) would do the same. The writers' lock orders the appends, so the
        newest event this transaction sees is the newest there is. An event more than ``TS_CLAMP`` ahead (a
        clock once set wrong, a tampered row) is not followed: every later event would carry its time."""
        last_seq, prev, anchored, last_ts = _chain_tail(conn)
        seq = last_seq + 1
        stamp = now or datetime.now(UTC)
        ts = iso_utc(stamp)
        if last_ts > ts and _within_clamp(last_ts, stamp):
            ts = last_ts
        actor_text = (_actor_text(actor) if actor is not None
                      else _default_actor_text(os.getpid(), actor_command(sys.argv[1:])))
        # Never a secret the process revealed, scrubbed before the canonical text is made (keys too): the hash
        # is over that text, and verify re-encodes what it stores.
        payload_text = canonical_json(scrub_revealed_in(dict(payload or {})))
        digest = _link_from_texts(prev, seq, ts, type_, mode, actor_text, venue, market, payload_text)
        row = {"seq": seq, "ts": ts, "type": type_, "mode": mode, "actor": actor_text, "venue": venue,
               "market": market, "payload": payload_text, "prev_hash": prev, "hash": digest}
        batch = conn.info.get(_BATCH_KEY)
        if batch is not None:
            batch.append(row)
        else:
            defer(conn, _INSERT_PREPARED, row)
            if anchored:
                set_head(conn, seq, digest)
        _remember_tail(conn, seq, digest, anchored, ts)
        return Event(seq, ts, type_, mode, actor_text, venue, market, payload_text, prev, digest)

    def record(self, type_: str, payload: Mapping[str, Any] | None = None, **kwargs: Any) -> Event:
        """Append in a transaction of its own (for events that accompany no other change)."""
        with self.db.write() as conn:
            return self.append(conn, type_, payload, **kwargs)

    # -- reading -------------------------------------------------------------------------------

    @staticmethod
    def _row_to_event(row: Any) -> Event:
        """An event as stored, every column that holds something other than text (a BLOB: ``audit_events``'s
        columns were altered by hand) shown as its ``x'…'`` literal and named in ``altered``.

        Why: such a value reached the JSON writer as bytes and ``audit tail`` exited 1 (not JSON-serialisable)
        exactly when someone was looking into the tampering; the row is shown, marked, and the command warns,
        as for an event whose stored JSON was altered (``audit verify`` exits 7 on it)."""
        values = row._mapping
        altered = tuple(name for name in _EVENT_COLUMNS
                        if not (isinstance(values[name], int) if name == "seq" else
                                (values[name] is None and name in _NULLABLE) or isinstance(values[name], str)))
        if not altered:
            return Event(
                seq=row.seq, ts=row.ts, type=row.type, mode=row.mode, actor_json=row.actor, venue=row.venue,
                market=row.market, payload_json=row.payload, prev_hash=row.prev_hash, hash=row.hash,
            )
        shown: dict[str, Any] = {name: (_as_text(values[name]) if name in altered else values[name])
                                 for name in _EVENT_COLUMNS}
        return Event(
            seq=shown["seq"], ts=shown["ts"], type=shown["type"], mode=shown["mode"], actor_json=shown["actor"],
            venue=shown["venue"], market=shown["market"], payload_json=shown["payload"],
            prev_hash=shown["prev_hash"], hash=shown["hash"], altered=altered,
        )

    def tail(self, n: int = 20, *, types: tuple[str, ...] = (), since: str | None = None) -> list[Event]:
        """The last ``n`` matching events, oldest first. Cost grows with ``n``, not with the log."""
        stmt = select(audit_events)
        if types:
            stmt = stmt.where(_type_filter(types))
        if since:
            stmt = stmt.where(audit_events.c.ts >= since)
        stmt = stmt.order_by(audit_events.c.seq.desc()).limit(n)
        with self.db.read() as conn:
            rows = conn.execute(stmt).all()
        return [self._row_to_event(r) for r in reversed(rows)]

    def since(self, since: str, *, types: tuple[str, ...] = (), batch: int = 1000) -> Iterator[Event]:
        """Every matching event at or after ``since`` (audit ts text), oldest first, read in keyset
        batches of ``batch``: memory stays flat however many there are.

        The walk starts at the lowest seq whose ts is at or after ``since`` (not the first by ts: an event's
        time is taken before its writer waits for the lock, so a later seq can carry an earlier ts) and
        each batch then runs on the primary key: one pass over the window, never one per batch. The
        ``+ 0`` keeps that first lookup on the ts index (over the window only): a plain ``min(seq)`` is
        answered by walking the primary key from seq 1 up to the window, the whole log's history."""
        with self.db.read() as conn:
            first = conn.execute(select(func.min(audit_events.c.seq + 0)).where(audit_events.c.ts >= since)).scalar()
        if first is None:
            return
        last = int(first) - 1
        while True:
            stmt = select(audit_events).where(audit_events.c.seq > last, audit_events.c.ts >= since)
            if types:
                stmt = stmt.where(_type_filter(types))
            stmt = stmt.order_by(audit_events.c.seq).limit(batch)
            with self.db.read() as conn:
                rows = conn.execute(stmt).all()
            for row in rows:
                yield self._row_to_event(row)
            if len(rows) < batch:
                return
            last = rows[-1].seq

    def count_since(self, since: str, *, types: tuple[str, ...] = ()) -> int:
        """How many matching events are at or after ``since``."""
        stmt = select(func.count()).select_from(audit_events).where(audit_events.c.ts >= since)
        if types:
            stmt = stmt.where(_type_filter(types))
        with self.db.read() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def after(self, seq: int, *, types: tuple[str, ...] = (), limit: int = 1000) -> list[Event]:
        """Events with a seq greater than ``seq`` (for ``--follow``)."""
        stmt = select(audit_events).where(audit_events.c.seq > seq)
        if types:
            stmt = stmt.where(_type_filter(types))
        stmt = stmt.order_by(audit_events.c.seq).limit(limit)
        with self.db.read() as conn:
            rows = conn.execute(stmt).all()
        return [self._row_to_event(r) for r in rows]

    def unmatched(self, types: tuple[str, ...]) -> list[str]:
        """The types or families that no event in the log matches (a mistyped ``--type`` shows nothing
        at all, which reads as "nothing happened")."""
        missing = []
        with self.db.read() as conn:
            for t in types:
                if conn.execute(select(audit_events.c.seq).where(_type_filter((t,))).limit(1)).first() is None:
                    missing.append(t)
        return missing

    def types(self) -> list[str]:
        """Every event type in the log, sorted (one pass over the type index)."""
        with self.db.read() as conn:
            return sorted(conn.execute(select(audit_events.c.type).distinct()).scalars())

    def last_seq(self) -> int:
        with self.db.read() as conn:
            row = conn.execute(select(audit_events.c.seq).order_by(audit_events.c.seq.desc()).limit(1)).first()
        return int(row[0]) if row else 0

    def iter_all(self, batch: int = 5000) -> Iterator[Any]:
        """Every row in seq order, fetched in keyset pages so memory stays flat."""
        last = 0
        while True:
            with self.db.read() as conn:
                rows = conn.execute(
                    select(audit_events).where(audit_events.c.seq > last).order_by(audit_events.c.seq).limit(batch)
                ).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].seq

    def verify(self) -> VerifyResult:
        """Recompute the whole chain; report the first broken seq and why.

        The head anchor is read before the walk and again after it. Events and anchor commit
        together, so an event another process appends while the walk runs lies beyond the first
        anchor: it is no sign of tampering (it was once reported as "events were deleted").

        A log SQLite cannot read (damaged pages) is not intact either: reported as broken from the
        first seq not read, not raised as a storage error (an internal error before that), so a
        monitor keyed on ``audit verify``'s exit 7 sees it.
        """
        reached = [1]  # the seq the walk was about to check
        try:
            return self._verify(reached)
        except StorageError as exc:
            if exc.reason != "storage_corrupt":
                raise
            return VerifyResult(
                ok=False, events=reached[0] - 1, first_bad_seq=reached[0],
                problem=f"the log cannot be read from seq {reached[0]} on: {exc.message}; restore the database "
                        "from a backup (orion never repairs or recreates a ledger)",
            )

    def _verify(self, reached: list[int]) -> VerifyResult:
        with self.db.read() as conn:
            missing = _missing_table(conn)
            if missing is not None:
                return missing
            meta_table = _has_table(conn, orion_meta.name)
            head_before = get_head(conn) if meta_table else None
        prev_hash = GENESIS_HASH
        expected_seq = 1
        count = 0
        for row in self.iter_all():
            problem = None
            bad = int(row.seq)
            if row.seq != expected_seq:
                problem = f"expected seq {expected_seq}, found {row.seq} (a row was deleted or inserted)"
                # A gap names the first seq missing, as a deleted newest row is named (README: the
                # first seq that was deleted); an out-of-order seq names itself.
                bad = expected_seq if row.seq > expected_seq else bad
            elif row.prev_hash != prev_hash:
                skipped = self._off_the_chain(row.seq, row.prev_hash)
                if skipped is not None:
                    return skipped
                problem = "prev_hash does not match the previous event (rows reordered, deleted or inserted)"
            else:
                try:
                    digest = compute_hash(prev_hash, row.seq, row.ts, row.type, row.mode, row.actor, row.venue,
                                          row.market, row.payload)
                except (ValueError, TypeError):
                    digest = ""
                if digest != row.hash:
                    problem = "hash mismatch (the event was altered)"
                elif head_before is not None and row.seq == head_before[0] and row.hash != head_before[1]:
                    problem = "the event does not match the head anchor (the anchor or the chain was altered)"
            if problem:
                return VerifyResult(ok=False, events=count, first_bad_seq=bad, problem=problem)
            prev_hash = row.hash
            expected_seq += 1
            count += 1
            reached[0] = expected_seq
        if head_before is None:
            with self.db.read() as conn:
                head = get_head(conn) if meta_table and _has_table(conn, orion_meta.name) else None
            if head is None:
                return _unanchored(count, meta_table)
        else:
            with self.db.read() as conn:
                head = get_head(conn)
        # The log must end exactly at the anchor, or (events appended after the walk read its last
        # batch) at least reach the anchor read before the walk, whose event was checked above.
        appended_meanwhile = head is not None and count < head[0] and (
            head_before is not None and head_before[0] <= count)
        if head is not None and not appended_meanwhile and (head[0] != count or head[1] != prev_hash):
            if head == head_before and 0 <= head[0] < count:
                # The chain goes on past the anchor, whose own event was checked in the walk: the events
                # after it were never appended by orion (which moves the anchor with each). The first of
                # them is the one to name, not the anchored one before it (that was called "deleted").
                first, extra = head[0] + 1, count - head[0]
                inserted = "1 event was" if extra == 1 else f"{extra} events were"
                return VerifyResult(
                    ok=False, events=head[0], first_bad_seq=first,
                    problem=f"seq {first} follows the newest event the head anchor records (seq {head[0]}): "
                            f"{inserted} inserted after it, or the anchor was altered",
                )
            if head[0] < 0:  # parse_head's "not a number": no sequence number to name
                # Named from seq 1: with no anchor to end it, nothing of the log can be vouched for (and
                # what orion appends meanwhile must not make a deletion before it look whole).
                problem = (f"the head anchor cannot be read (it is not a sequence number and a hash): it was altered, "
                           f"so whether the log (ending at seq {count}) lost its newest events cannot be told, and "
                           "none of it is vouched for")
            else:
                problem = (f"the newest event should be seq {head[0]} (head anchor) but the log ends at seq {count}: "
                           "events were deleted or the anchor was altered")
            return VerifyResult(ok=False, events=count, first_bad_seq=min(count + 1, max(head[0], 1)),
                                problem=problem)
        return self._behind_seen(count) or VerifyResult(ok=True, events=count, first_bad_seq=None, problem=None)

    def _behind_seen(self, count: int) -> VerifyResult | None:
        """A whole chain that ends at its anchor, and still not the log this machine saw (store.seen_head):
        the ledger was restored from a backup, its old anchor with it, and no command has recorded that
        yet (``ledger.rolled_back``, by the next that writes). Named from the first seq that was lost."""
        seen = self.db.seen.read() if self.db.seen is not None else None
        if seen is None:
            return None
        from orion_cli.store.seen_head import behind

        with self.db.read() as conn:
            found = behind(conn, seen)
        if found is None:
            return None
        first = seen.seq if found.rewritten else found.head_seq + 1
        return VerifyResult(ok=False, events=count, first_bad_seq=first, problem=found.said())

    def _off_the_chain(self, seq: int, prev_hash: str) -> VerifyResult | None:
        """Rows the event at ``seq`` skips: it links to an earlier event than the one before it.

        So orion's next event after rows inserted past the head anchor links (see :func:`_link_after`),
        and so does the event after a forged one slipped in with the later rows shifted up. The first
        skipped row is the one to name, not the genuine event after it. None when ``prev_hash`` is no
        earlier event's hash. (Only on a broken chain: the lookup is not indexed.)
        """
        with self.db.read() as conn:
            linked = conn.execute(
                select(audit_events.c.seq).where(audit_events.c.hash == prev_hash, audit_events.c.seq < seq - 1)
                .order_by(audit_events.c.seq.desc()).limit(1)).scalar()
        if linked is None:
            return None
        first, last = int(linked) + 1, seq - 1
        rows = f"seq {first} is" if first == last else f"seq {first}-{last} are"
        return VerifyResult(
            ok=False, events=int(linked), first_bad_seq=first,
            problem=f"{rows} not on the chain: seq {seq} links to seq {linked} (inserted after seq {linked}, "
                    "or replaced)",
        )


def _has_table(conn: Connection, name: str) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(conn).has_table(name))


def _unanchored(count: int, meta_table: bool) -> VerifyResult:
    """A log without its head anchor: broken after its newest event, whose successors may have been
    deleted with the anchor. Every ledger has one since migration 0011 (a new one's names the empty
    log), and orion never deletes it; it was taken for a log from before anchors, so deleting the newest
    events and the anchor (or all of them) passed as intact (found by a black-box run)."""
    gone = (f"the head anchor's table ({orion_meta.name}) is missing: it was dropped" if not meta_table else
            f"the head anchor ({orion_meta.name} key '{HEAD_KEY}') is missing: it was deleted")
    return VerifyResult(
        ok=False, events=count, first_bad_seq=count + 1,
        problem=f"{gone}, and with it what shows whether the newest events were deleted too (the log ends at "
                f"seq {count}); restore the database from a backup (orion never repairs or recreates a ledger)",
    )


def _missing_table(conn: Connection) -> VerifyResult | None:
    """The log broken from seq 1 when its table is gone (dropped; the database is still there).

    Every migration creates it and nothing in orion drops it. Reading it was a storage error (exit 3,
    "no such table"), which a monitor keyed on `audit verify`'s exit 7 took for an outage, not for a
    log that is gone."""
    from sqlalchemy import inspect

    inspector = inspect(conn)
    if inspector.has_table(audit_events.name):
        return None
    head = get_head(conn) if inspector.has_table(orion_meta.name) else None  # the anchor's table may be gone too
    anchored = f" (its head anchor records {head[0]} events)" if head is not None and head[0] > 0 else ""
    return VerifyResult(
        ok=False, events=0, first_bad_seq=1,
        problem=f"the audit log's table (audit_events) is missing: it was dropped{anchored}; restore the "
                "database from a backup (orion never repairs or recreates a ledger)",
    )


def _type_filter(types: tuple[str, ...]) -> Any:
    """``halt`` matches ``halt.engaged`` and ``halt.released``; an exact type matches itself."""
    from sqlalchemy import or_

    clauses = []
    for t in types:
        if t.endswith(".*"):
            t = t[:-2]
        if "." in t:
            clauses.append(audit_events.c.type == t)
        else:
            # autoescape: the name is text, not a LIKE pattern (`-t %` matched every event)
            clauses.append(audit_events.c.type.startswith(f"{t}.", autoescape=True))
            clauses.append(audit_events.c.type == t)
    return or_(*clauses)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    events: int
    first_bad_seq: int | None
    problem: str | None

    def to_record(self) -> dict[str, Any]:
        return {"type": "audit_verify", "ok": self.ok, "events": self.events,
                "first_bad_seq": self.first_bad_seq, "problem": self.problem}
