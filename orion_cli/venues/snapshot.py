"""Snapshot files: recorded venue responses that replay exactly like the live venues.

Why raw responses: a snapshot stores what Kalshi and Polymarket *sent* (Kalshi market, event,
series and ``orderbook_fp`` objects; Gamma event/market objects and CLOB ``/book`` bodies), not
orion's parsed model. Reading one runs the same venue parsers as live data, so a snapshot is a
faithful replay: a parser fix applies to old recordings too, and a recording made by an older
orion stays readable. The format is documented in ``docs/snapshot-format.md``.

A file that is not a snapshot, is truncated, or has a version this orion does not know raises
:class:`SnapshotError` (exit 2: the file named on the command line is a bad argument).
"""

from __future__ import annotations

import codecs
import gzip
import json
import math
import os
import re
import stat
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from orion_cli.core.errors import DataError, NotFound, UsageError, VenueError, VenueUnavailable
from orion_cli.core.files import FileRefused, GiB, read_regular_file, remove_stale_temps, temp_beside
from orion_cli.core.models import BookSide, Market, MarketStatus, OrderBook, TickStructure, Venue
from orion_cli.core.money import JsonTooDeep, fixed_str, loads_exact
from orion_cli.venues.base import ALL_VENUES, ItemError, MarketData, ProgressFn, guess_venue

__all__ = [
    "FORMAT",
    "VERSION",
    "Capture",
    "KalshiParser",
    "KalshiRaw",
    "PolymarketRaw",
    "SnapshotError",
    "SnapshotSource",
    "check_writable",
    "demo_path",
    "demo_source",
    "dumps_exact",
    "parse_capture",
    "read_capture",
    "write_capture",
]

FORMAT = "orion-market-snapshot"
VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_BYTES = 2 * GiB  # refuse to read or inflate more than 2 GiB: a corrupt or hostile file
_ERROR_MESSAGE_CHARS = 300  # a stored recording error's message is cut to this


class SnapshotError(UsageError):
    """The snapshot file cannot be used: missing, not a snapshot, truncated, unknown version."""

    reason = "bad_snapshot"


# -- the raw capture ----------------------------------------------------------------------------


@dataclass
class KalshiRaw:
    """Kalshi Trade API v2 objects exactly as sent."""

    series: list[dict[str, Any]] = field(default_factory=list)  # GET /series → series[]
    events: list[dict[str, Any]] = field(default_factory=list)  # GET /events → events[] (no nesting)
    markets: list[dict[str, Any]] = field(default_factory=list)  # GET /markets → markets[]
    orderbooks: list[dict[str, Any]] = field(default_factory=list)  # {"ticker", "orderbook_fp"}
    fetched_at: datetime | None = None
    complete: bool = True
    stop_reason: str = ""


@dataclass
class PolymarketRaw:
    """Gamma and CLOB bodies exactly as sent."""

    events: list[dict[str, Any]] = field(default_factory=list)  # Gamma events with nested markets[]
    markets: list[dict[str, Any]] = field(default_factory=list)  # Gamma markets (each with events[0])
    books: list[dict[str, Any]] = field(default_factory=list)  # CLOB /book bodies, one per token
    fetched_at: datetime | None = None
    complete: bool = True
    stop_reason: str = ""


@dataclass
class Capture:
    """What one recording holds: per-venue raw responses plus the facts about the recording."""

    kalshi: KalshiRaw | None = None
    polymarket: PolymarketRaw | None = None
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    environment: dict[str, str] = field(default_factory=dict)
    degraded: dict[str, str] = field(default_factory=dict)
    notes: str = ""
    synthesised: list[str] = field(default_factory=list)
    recorder: str = ""
    # What could not be fetched (a page, an event, a batch of books): stored as "errors", so that a
    # partial recording says so when replayed. Errors of parsing are not stored; reading finds them again.
    errors: list[ItemError] = field(default_factory=list)

    @property
    def venues(self) -> tuple[Venue, ...]:
        out = [v for v in ALL_VENUES if getattr(self, v.value) is not None or v.value in self.degraded]
        return tuple(out) or ALL_VENUES


# -- exact JSON output --------------------------------------------------------------------------


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps_exact(value: Any, *, indent: int | None = None) -> str:
    """JSON text where every Decimal is written as the exact number it holds.

    ``json.dumps`` cannot emit a Decimal as a number without passing it through float, which
    would change recorded prices; this writer keeps them digit for digit.
    """
    parts: list[str] = []
    _emit(value, parts, indent, 0)
    return "".join(parts)


def _emit(value: Any, out: list[str], indent: int | None, level: int) -> None:
    if value is None or isinstance(value, bool | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise DataError("snapshot", f"not a finite number: {value}")
        out.append(fixed_str(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise DataError("snapshot", f"not a finite number: {value}")
        out.append(repr(value))
    elif isinstance(value, datetime):
        out.append(json.dumps(_iso(value)))
    elif isinstance(value, Mapping):
        if not value:
            out.append("{}")
            return
        sep, close = _layout(indent, level)
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            out.append(("," if i else "") + sep)
            out.append(json.dumps(str(k), ensure_ascii=False) + ":" + (" " if indent is not None else ""))
            _emit(v, out, indent, level + 1)
        out.append(close + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        sep, close = _layout(indent, level)
        out.append("[")
        for i, v in enumerate(value):
            out.append(("," if i else "") + sep)
            _emit(v, out, indent, level + 1)
        out.append(close + "]")
    else:
        raise DataError("snapshot", f"cannot store a {type(value).__name__}")


def _layout(indent: int | None, level: int) -> tuple[str, str]:
    if indent is None:
        return "", ""
    return "\n" + " " * (indent * (level + 1)), "\n" + " " * (indent * level)


# -- writing ------------------------------------------------------------------------------------


def capture_document(capture: Capture) -> dict[str, Any]:
    """The JSON document of a capture (see docs/snapshot-format.md)."""
    venues: dict[str, Any] = {}
    if capture.kalshi is not None:
        k = capture.kalshi
        venues["kalshi"] = {
            "fetched_at": _iso(k.fetched_at or capture.recorded_at),
            "complete": k.complete,
            "stop_reason": k.stop_reason,
            "series": k.series,
            "events": k.events,
            "markets": k.markets,
            "orderbooks": k.orderbooks,
        }
    if capture.polymarket is not None:
        p = capture.polymarket
        venues["polymarket"] = {
            "fetched_at": _iso(p.fetched_at or capture.recorded_at),
            "complete": p.complete,
            "stop_reason": p.stop_reason,
            "events": p.events,
            "markets": p.markets,
            "books": p.books,
        }
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "recorded_at": _iso(capture.recorded_at),
        "recorder": capture.recorder,
        "environment": capture.environment,
        "notes": capture.notes,
        "synthesised": capture.synthesised,
        "degraded": capture.degraded,
    }
    if capture.errors:  # an optional key (version 1 readers ignore it): absent when nothing failed
        doc["errors"] = [{"venue": e.venue, "kind": e.kind, "key": e.key, "reason": e.reason,
                          "message": e.message[:_ERROR_MESSAGE_CHARS]} for e in capture.errors]
    doc["venues"] = venues
    return doc


# How every file ``write_capture`` writes begins (``format`` is the document's first key), gzipped or not.
_SNAPSHOT_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"format"\s*:\s*"' + FORMAT.encode() + rb'"')
_HEAD_BYTES = 256
_REPLACE_HINT = "name a new file, or an earlier snapshot to replace it"


def _snapshot_head(raw: bytes) -> bool:
    """``raw`` (the first bytes of a file) is the start of an orion snapshot, plain or gzipped."""
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = zlib.decompressobj(wbits=31).decompress(raw, _HEAD_BYTES)
        except zlib.error:
            return False
    return _SNAPSHOT_HEAD.match(raw) is not None


def _check_replaceable(path: Path) -> None:
    """Refuse an existing ``path`` that orion did not write as a snapshot (the rule of ``--metrics-file``).

    The write is a rename over it, so a mistyped ``--out`` naming the ledger database, config.toml or
    a key would replace that file whole. An earlier snapshot (or an empty file) may be replaced.
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SnapshotError(f"cannot write snapshot: cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise SnapshotError(f"cannot write snapshot: {path} is a directory")
    if stat.S_ISLNK(mode):
        raise SnapshotError(f"refusing to replace {path}: it is a symbolic link (name the file itself)")
    if not stat.S_ISREG(mode):
        raise SnapshotError(f"refusing to replace {path}: it is not a regular file (a device, FIFO or socket)")
    try:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)  # enough gzip data for the first _HEAD_BYTES of the document
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SnapshotError(f"cannot write snapshot: cannot read {path}: {exc.strerror or exc}") from None
    if head and not _snapshot_head(head):
        raise SnapshotError(f"refusing to replace {path}: it is not an orion snapshot file", hint=_REPLACE_HINT)


def check_writable(path: Path) -> Path:
    """The directory ``path`` would be written in, if it exists and this process may create files there.

    An existing ``path`` must be a snapshot (or empty): any other file is refused, never replaced.
    ``snapshot record`` calls it before any venue request, so a bad ``--out`` costs no fetch.
    """
    directory = path.parent if str(path.parent) else Path()
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "does not exist"
        raise SnapshotError(f"cannot write snapshot: directory {directory} {problem}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SnapshotError(f"cannot write snapshot: directory {directory} is not writable")
    _check_replaceable(path)
    return directory


def write_capture(capture: Capture, path: Path, *, indent: int | None = None) -> int:
    """Write atomically (temp file + rename in the same directory); gzip when the name ends in .gz.

    Returns the number of bytes written. A crash mid-write leaves the old file (or none), never
    half a snapshot under the final name. An existing file that is not a snapshot is refused
    (:func:`check_writable`), never replaced.
    """
    text = dumps_exact(capture_document(capture), indent=indent) + "\n"
    data = text.encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    directory = check_writable(path)
    fd, tmp = temp_beside(directory / path.name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    remove_stale_temps(directory / path.name)  # a killed recording's, up to a whole snapshot each
    return len(data)


# -- reading ------------------------------------------------------------------------------------


def _bad(path: Path | str, problem: str) -> SnapshotError:
    return SnapshotError(f"{path}: {problem}", hint="record a new one with `orion snapshot record --out FILE`")


def load_document(path: Path) -> dict[str, Any]:
    """Read, decompress and decode a snapshot file, checking format and version. A device, a named
    pipe or a file above 2 GiB is refused unread (``/dev/zero`` was read until memory ran out)."""
    try:
        raw = read_regular_file(path, _MAX_BYTES)
    except FileNotFoundError:
        raise SnapshotError(f"snapshot file not found: {path}") from None
    except IsADirectoryError:
        raise SnapshotError(f"snapshot path is a directory: {path}") from None
    except FileRefused as exc:
        raise _bad(path, f"{exc}; refusing") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {path}: {exc.strerror or type(exc).__name__}") from None
    return parse_document(raw, str(path))


def parse_document(raw: bytes, label: str = "snapshot") -> dict[str, Any]:
    if raw[:2] == _GZIP_MAGIC:
        try:
            d = zlib.decompressobj(wbits=31)
            data = d.decompress(raw, _MAX_BYTES)
            if d.unconsumed_tail:
                raise _bad(label, "decompressed size above 2 GiB; refusing")
            if not d.eof:
                raise _bad(label, "truncated gzip data (the file is incomplete)")
        except zlib.error as exc:
            raise _bad(label, f"corrupt gzip data ({exc})") from None
    else:
        data = raw
    if not data.strip():
        raise _bad(label, "empty file")
    try:
        doc = loads_exact(data)
    except UnicodeDecodeError:
        raise _bad(label, "not UTF-8 JSON (is this a snapshot file?)") from None
    except JsonTooDeep:  # the parser recurses into each nested array or object; a recording nests a few
        raise _bad(label, "JSON nested too deeply (is this a snapshot file?)") from None
    except ValueError as exc:
        if data.removeprefix(codecs.BOM_UTF8).lstrip()[:1] != b"{":  # an HTML page or a text file
            raise _bad(label, "not a JSON object (is this a snapshot file?)") from None
        problem = "truncated JSON (the file is incomplete)" if _ends_early(exc, data) \
            else f"not valid JSON ({str(exc)[:80]})"
        raise _bad(label, problem) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _bad(label, f"not an orion market snapshot (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _bad(label, "snapshot version missing or not an integer")
    if version not in SUPPORTED_VERSIONS:
        newer = version > max(SUPPORTED_VERSIONS)
        raise SnapshotError(
            f"{label}: snapshot format version {version} is not supported (this orion reads "
            f"{', '.join(map(str, sorted(SUPPORTED_VERSIONS)))})",
            hint="upgrade orion to read it" if newer else "re-record it with this orion",
        )
    if not isinstance(doc.get("venues"), dict):
        raise _bad(label, "'venues' missing or not an object")
    return doc


def _ends_early(exc: ValueError, data: bytes) -> bool:
    """The parser ran out of input (inside a string, or expecting more) rather than hitting bad syntax."""
    message = str(exc)
    if "Unterminated string" in message:
        return True
    pos = getattr(exc, "pos", None)
    end = len(data.rstrip())
    if isinstance(pos, int) and pos >= end:
        return True
    return "Expecting" in message and data.rstrip()[-1:] not in (b"}", b"]")


def _list_of_objects(obj: Mapping[str, Any], key: str, label: str) -> list[dict[str, Any]]:
    value = obj.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise _bad(label, f"{key}: expected a list of objects")
    return value


def _time_field(value: Any, label: str, key: str) -> datetime:
    if not isinstance(value, str):
        raise _bad(label, f"{key}: missing or not a time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(label, f"{key}: not an ISO-8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise _bad(label, f"{key}: time without a timezone")
    return parsed.astimezone(UTC)


def capture_from_document(doc: Mapping[str, Any], label: str = "snapshot") -> Capture:
    recorded_at = _time_field(doc.get("recorded_at"), label, "recorded_at")
    venues = doc["venues"]
    unknown = set(venues) - {v.value for v in ALL_VENUES}
    if unknown:
        raise _bad(label, f"unknown venue(s) {', '.join(sorted(unknown))}")
    cap = Capture(recorded_at=recorded_at)
    for key in ("environment", "degraded"):
        value = doc.get(key)
        if value is None:
            value = {}
        # Not `or {}`: `"degraded": []` (or "", 0) was read as "nothing degraded", silently.
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _bad(label, f"{key}: expected an object of strings")
        setattr(cap, key, dict(value))
    # `snapshot record` names a venue in `degraded` only when it could not record it, so never beside
    # that venue's data: a file that does both contradicts itself (its replay priced the "missing"
    # data under a banner saying it was missing), and one naming no venue orion knows is not its own.
    strange = sorted(set(cap.degraded) - {v.value for v in ALL_VENUES})
    if strange:
        raise _bad(label, f"degraded: unknown venue(s) {', '.join(s[:40] for s in strange)}")
    both = [v for v in cap.degraded if v in venues]
    if both:
        raise _bad(label, f"degraded: {' and '.join(both)} recorded as down, yet venues.{both[0]} holds its data "
                          "(a recording names a venue in one or the other)")
    notes = doc.get("notes") or ""
    synth = doc.get("synthesised") or []
    if not isinstance(notes, str):
        raise _bad(label, "notes: expected a string")
    if isinstance(synth, str):
        synth = [synth]
    if not isinstance(synth, list) or not all(isinstance(s, str) for s in synth):
        raise _bad(label, "synthesised: expected a list of strings")
    cap.notes, cap.synthesised = notes, list(synth)
    cap.recorder = str(doc.get("recorder") or "")
    cap.errors = _stored_errors(doc, label)
    if "kalshi" in venues:
        k = venues["kalshi"]
        if not isinstance(k, dict):
            raise _bad(label, "venues.kalshi: expected an object")
        cap.kalshi = KalshiRaw(
            series=_list_of_objects(k, "series", f"{label}: venues.kalshi"),
            events=_list_of_objects(k, "events", f"{label}: venues.kalshi"),
            markets=_list_of_objects(k, "markets", f"{label}: venues.kalshi"),
            orderbooks=_list_of_objects(k, "orderbooks", f"{label}: venues.kalshi"),
            fetched_at=_time_field(k.get("fetched_at", doc.get("recorded_at")), label, "venues.kalshi.fetched_at"),
            complete=bool(k.get("complete", True)),
            stop_reason=str(k.get("stop_reason") or ""),
        )
    if "polymarket" in venues:
        p = venues["polymarket"]
        if not isinstance(p, dict):
            raise _bad(label, "venues.polymarket: expected an object")
        cap.polymarket = PolymarketRaw(
            events=_list_of_objects(p, "events", f"{label}: venues.polymarket"),
            markets=_list_of_objects(p, "markets", f"{label}: venues.polymarket"),
            books=_list_of_objects(p, "books", f"{label}: venues.polymarket"),
            fetched_at=_time_field(p.get("fetched_at", doc.get("recorded_at")), label,
                                   "venues.polymarket.fetched_at"),
            complete=bool(p.get("complete", True)),
            stop_reason=str(p.get("stop_reason") or ""),
        )
    return cap


def _stored_errors(doc: Mapping[str, Any], label: str) -> list[ItemError]:
    """The recording's errors (key ``errors``; absent in files without any, and in older files)."""
    out: list[ItemError] = []
    for i, e in enumerate(_list_of_objects(doc, "errors", label)):
        venue, kind, key, message = (e.get(k) for k in ("venue", "kind", "key", "message"))
        if not (isinstance(venue, str) and isinstance(kind, str) and isinstance(key, str)
                and isinstance(message, str)) or venue not in {v.value for v in ALL_VENUES}:
            raise _bad(label, f"errors[{i}]: expected venue, kind, key and message strings")
        reason = e.get("reason")
        out.append(ItemError(venue, kind, key, message, reason if isinstance(reason, str) and reason else "bad_data"))
    return out


def read_capture(path: Path) -> Capture:
    return capture_from_document(load_document(path), str(path))


# -- raw → model (shared with the live source) --------------------------------------------------


def parse_kalshi(raw: KalshiRaw, fetched_at: datetime, *, not_read: Sequence[ItemError] = ()) -> tuple[
        list[Market], dict[tuple[Venue, str], OrderBook], list[ItemError]]:
    """Kalshi raw objects → markets and books, with the venue parser, one bad item at a time.

    ``not_read``: the recording's errors (what could not be fetched); see :meth:`KalshiParser.finish`."""
    parser = KalshiParser(fetched_at)
    parser.add_markets(raw.markets)
    parser.add_orderbooks(raw.orderbooks)
    return parser.finish(raw, not_read=not_read)


class KalshiParser:
    """:func:`parse_kalshi` in pieces, for a reader that has the raw objects a page at a time.

    The live source reads each ``/markets`` page and each batch of books as it arrives, while the rate
    limit holds its next requests back, and prices the markets once the series and events are in
    (:meth:`finish`); a snapshot feeds the whole recording at once. Both run this code on the same
    objects in the same order, so a live fetch and a replay of its recording parse alike.
    """

    def __init__(self, fetched_at: datetime) -> None:
        self.fetched_at = fetched_at
        self.markets_fed = 0  # raw market objects fed, duplicates included
        self.books_fed = 0
        self._seen: dict[str, int] = {}  # key → its index in _read
        # Per market listed (first of its key): key, event ticker, its fields read or why they could not be.
        self._read: list[Any] = []  # (key, event ticker, MarketFields or DataError), None once priced
        # Markets listed more than once with copies that disagree (a listing that shifted between two
        # pages can send one twice, changed): why, by key. Which copy is current cannot be told.
        self._conflicts: dict[str, str] = {}
        self._books: dict[str, OrderBook] = {}
        self._bad_books: dict[str, DataError] = {}  # the last bad book of a ticker, first-seen order
        self._unreadable_books: list[ItemError] = []  # items without a ticker
        # Set by finish(): why markets listed were not priced for a listing not read, if any were.
        self.unpriced_because: str | None = None

    def fed(self, raw: KalshiRaw) -> bool:
        """Whether exactly ``raw``'s markets and books were fed (by count: each is fed as it is added)."""
        return self.markets_fed == len(raw.markets) and self.books_fed == len(raw.orderbooks)

    def add_markets(self, objs: Sequence[Mapping[str, Any]]) -> None:
        """Each market object on its own. A ticker listed again collapses into its first copy when the
        copies agree (the listing's quotes and volumes aside); copies that disagree (open, then closed)
        make the market an item error, unpriced, whichever copy came first."""
        from orion_cli.venues.kalshi.parse import fields_differ, read_market

        for obj in objs:
            i = self.markets_fed
            self.markets_fed += 1
            ticker = obj.get("ticker")
            key = ticker if isinstance(ticker, str) and ticker else f"#{i}"
            et = obj.get("event_ticker")
            try:
                fields: Any = read_market(obj)
            except DataError as exc:
                fields = exc
            first = self._seen.get(key)
            if first is None:
                self._seen[key] = len(self._read)
                self._read.append((key, et if isinstance(et, str) else None, fields))
                continue
            if key in self._conflicts:
                continue
            before = self._read[first][2]
            if isinstance(before, DataError) or isinstance(fields, DataError):
                differ = [] if str(before) == str(fields) else ["whether it can be read"]
            else:
                differ = fields_differ(before, fields)
            if differ:
                self._conflicts[key] = (f"listed twice, and the copies differ in {', '.join(differ)}: "
                                        "which one is current cannot be told")

    def add_orderbooks(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Each ``{"ticker", "orderbook_fp"}`` item on its own: one bad item costs its own book only."""
        from orion_cli.venues.kalshi.parse import parse_orderbooks_batch

        for item in items:
            i = self.books_fed
            self.books_fed += 1
            try:
                books, bad = parse_orderbooks_batch({"orderbooks": [item]}, fetched_at=self.fetched_at, start=i)
            except DataError as exc:
                ticker = item.get("ticker") if isinstance(item, Mapping) else None
                key = ticker if isinstance(ticker, str) and ticker else f"#{i}"
                self._unreadable_books.append(ItemError("kalshi", "book", key, str(exc)))
                continue
            for t, book in books.items():
                if t in self._bad_books:
                    # A copy that cannot be read, or two that disagree, already: the book stays refused.
                    continue
                if t in self._books and self._books[t] != book:
                    # Neither is known to be the venue's book now: refused, never the last one read.
                    del self._books[t]
                    self._bad_books[t] = DataError(f"orderbooks[{i}]({t})",
                                                   "book sent twice, and the copies differ")
                    continue
                self._books[t] = book
            for t, e in bad.items():
                self._books.pop(t, None)  # one copy of the book cannot be read: none of it is trusted
                self._bad_books[t] = e

    def finish(self, raw: KalshiRaw, *, not_read: Sequence[ItemError] = ()) -> tuple[
            list[Market], dict[tuple[Venue, str], OrderBook], list[ItemError]]:
        """The markets (priced by ``raw``'s series and events), their books and the item errors.

        ``not_read``: what could not be fetched (the capture's errors). A series or event asked for and
        not read, or the series listing or events walk failing, leaves a market's fee unknown: the
        market is refused, never priced at the default that stands in for a series nobody fetched (the
        x1 a scan then showed overstated every edge of a x2 series), and :attr:`unpriced_because` says
        why the data is incomplete.
        """
        from orion_cli.core.fees import FEE_NOT_MODELLED_HINT, FeeNotModelled
        from orion_cli.venues.kalshi.parse import (
            KalshiEvent,
            KalshiSeries,
            bind_market,
            parse_event,
            parse_series,
            series_ticker_of,
        )

        errors: list[ItemError] = []
        # A series or event that was sent but could not be read (an unknown or unmodelled fee type, a
        # bad multiplier), or asked for and not fetched: its markets' fee is unknown, so they are
        # refused, never priced at the default that stands in for a series nobody fetched.
        unreadable: dict[str, str] = {}
        not_modelled: set[str] = set()  # of those, the fee types orion has no formula for: no retry helps
        series_listing: str | None = None  # why GET /series was not read, when it was not
        events_listing: str | None = None  # why the /events walk was not read to its end
        for fault in not_read:
            if fault.venue != "kalshi":
                continue
            if fault.kind == "series":
                if fault.key == "/series":
                    series_listing = series_listing or fault.message
                else:
                    unreadable.setdefault(f"series {fault.key}", f"not read: {fault.message}")
            elif fault.kind == "events":
                events_listing = events_listing or fault.message
            elif fault.kind == "event":
                unreadable.setdefault(f"event {fault.key}", f"not read: {fault.message}")
        def fee_sources(items: Sequence[Mapping[str, Any]], parse: Callable[[Any, str], Any], kind: str,
                        field: str, listed_as: str) -> dict[str, Any]:
            """The series (or events) read, by ticker; one that cannot be read is an item error, and
            its markets' fee unknown (unreadable)."""
            out: dict[str, Any] = {}
            for i, obj in enumerate(items):
                try:
                    parsed = parse(obj, f"{listed_as}[{i}]")
                    out[getattr(parsed, field)] = parsed
                except DataError as exc:
                    ticker = obj.get(field)
                    errors.append(ItemError("kalshi", kind, str(ticker or f"#{i}"), str(exc)))
                    if isinstance(ticker, str):
                        unreadable[f"{kind} {ticker}"] = str(exc)
                        if isinstance(exc, FeeNotModelled):
                            not_modelled.add(f"{kind} {ticker}")
            return out

        series: dict[str, KalshiSeries] = fee_sources(raw.series, parse_series, "series", "ticker", "series")
        events: dict[str, KalshiEvent] = fee_sources(raw.events, parse_event, "event", "event_ticker", "events")
        markets: list[Market] = []
        # Listed markets not priced for want of their fee: their books are kept all the same, since a held
        # position is marked at its bid (no fee in it) and the watch's breaker would otherwise see it at cost.
        unpriced: set[str] = set()
        unlisted = 0  # of those, refused for a listing (series, events) not read
        read, self._read = self._read, []
        for n, (key, et, fields) in enumerate(read):
            read[n] = None  # spent: the market replaces it
            if key in self._conflicts:
                errors.append(ItemError("kalshi", "market", key, self._conflicts[key]))
                unpriced.add(key)  # its book is kept, as an unpriced market's, for marking a position held
                continue
            event = events.get(et) if et is not None else None
            st = event.series_ticker if event else (series_ticker_of(et) if et is not None else "")
            whose = ([f"event {et}"] if et is not None else []) + ([f"series {st}"] if st else [])
            gone = next((k for k in whose if k in unreadable), None)
            why = unreadable[gone] if gone is not None else ""
            for_listing = False  # refused for a listing that could not be read (the data is incomplete)
            if gone is None and events_listing is not None and et is not None and event is None:
                gone, why = f"event {et}", f"the events listing was not read to its end: {events_listing}"
                for_listing = True
            own_fee = event is not None and event.fee_type_override and event.fee_multiplier_override is not None
            if gone is None and series_listing is not None and st and st not in series and not own_fee:
                # Not the default quadratic x1, which stands for a series nobody asked for: a series x2
                # priced at it overstates every edge.
                gone, why = f"series {st}", f"the series listing was not read: {series_listing}"
                for_listing = True
            elif gone is None and raw.series and st and st not in series and not own_fee:
                # Series were read, but not this one: a recording missing it (found by a black-box review, it
                # was priced at the default x1), not a read that asked for none.
                gone, why = f"series {st}", "not among the series read"
                for_listing = True
            if gone is not None:
                errors.append(ItemError("kalshi", "market", key, f"fee unknown ({gone}: {why})",
                                        hint=FEE_NOT_MODELLED_HINT if gone in not_modelled else ""))
                unpriced.add(key)
                unlisted += for_listing
                continue
            if isinstance(fields, DataError):
                errors.append(ItemError("kalshi", "market", key, str(fields)))
                continue
            try:
                markets.append(bind_market(fields, series=series.get(st), event=event))
            except DataError as exc:
                errors.append(ItemError("kalshi", "market", key, str(exc)))
        self.unpriced_because = None
        if unlisted:
            what = " and ".join(w for w, failed in (("series listing", series_listing),
                                                     ("events listing", events_listing)) if failed)
            self.unpriced_because = (f"the {what} could not be read, so {unlisted} market(s) whose fee it states "
                                     "were not priced (fee unknown)")
        errors.extend(self._unreadable_books)
        errors.extend(ItemError("kalshi", "book", t, str(e)) for t, e in self._bad_books.items())
        off: dict[str, str] = {}  # a book with a price no order can be sent at: refused, as trade refuses the leg
        for m in markets:
            book = self._books.get(m.id)
            bad_tick = off_grid(book, m.ticks) if book is not None else None
            if bad_tick is not None:
                off[m.id] = bad_tick
                errors.append(ItemError("kalshi", "book", m.id, bad_tick))
        good = ({m.id for m in markets} | unpriced) - off.keys()
        books = {(Venue.KALSHI, t): b for t, b in self._books.items() if t in good}
        return markets, books, errors


def off_grid(book: OrderBook, ticks: TickStructure) -> str | None:
    """Why ``book`` shows a price off the market's tick grid (the rule a leg's limit price is held to,
    ``INVALID_ORDER``), or None. A scan priced such a level and offered an opportunity every trade of
    which was refused; so the book is an item error when read, and its market unquoted."""
    # Bids first: a Kalshi book's asks are the other side's bids (1 − p), so the price named is the one sent.
    for what in ("bids", "asks"):
        for name, side in (("YES", book.yes), ("NO", book.no)):
            why = _side_off_grid(BookSide(**{what: getattr(side, what)}), ticks)
            if why is not None:
                return f"{name} {why}"
    return None


def _side_off_grid(side: BookSide, ticks: TickStructure) -> str | None:
    level = side.off_grid(ticks)
    if level is None:
        return None
    what = "bid" if level in side.bids else "ask"
    return f"{what} at {level.price} is off the market's tick grid (tick {ticks.step_at(level.price)})"


def parse_polymarket(raw: PolymarketRaw, fetched_at: datetime) -> tuple[
        list[Market], dict[tuple[Venue, str], OrderBook], list[ItemError]]:
    """Gamma/CLOB raw bodies → markets and books, with the venue parser, one bad item at a time."""
    from orion_cli.venues.polymarket.parse import (
        TokenBook,
        clob_terms,
        combine_books,
        parse_book,
        parse_gamma_event,
        parse_gamma_market,
    )

    errors: list[ItemError] = []
    markets: list[Market] = []
    seen: dict[str, Market] = {}
    conflicts: dict[str, None] = {}  # markets listed twice, the copies differing: unpriced (first-seen order)

    def keep(m: Market) -> None:
        first = seen.get(m.id)
        if first is None:
            seen[m.id] = m
            markets.append(m)
        elif first != m:  # a listing that shifted between pages can send one twice, changed (open, then closed)
            conflicts[m.id] = None

    for i, ev in enumerate(raw.events):
        skipped: list[DataError] = []
        try:
            parsed = parse_gamma_event(ev, skipped=skipped)
        except DataError as exc:
            errors.append(ItemError("polymarket", "event", str(ev.get("id") or f"#{i}"), str(exc)))
            continue
        errors.extend(ItemError("polymarket", "market", e.field.split(".", 1)[0], str(e)) for e in skipped)
        for m in parsed:
            keep(m)
    for i, obj in enumerate(raw.markets):
        try:
            keep(parse_gamma_market(obj))
        except DataError as exc:
            errors.append(ItemError("polymarket", "market", str(obj.get("conditionId") or f"#{i}"), str(exc)))
    if conflicts:
        markets = [m for m in markets if m.id not in conflicts]
        errors.extend(ItemError("polymarket", "market", cid, "listed twice, and the copies differ: which one is "
                                "current cannot be told") for cid in conflicts)
    token_books: dict[str, TokenBook] = {}
    bad_books: dict[str, str] = {}  # token id -> why its book could not be read
    for i, body in enumerate(raw.books):
        try:
            tb = parse_book(body, prefix=f"books[{i}]")
        except DataError as exc:
            errors.append(ItemError("polymarket", "book", str(body.get("asset_id") or f"#{i}")[:80], str(exc)))
            if isinstance(body.get("asset_id"), str):
                bad_books.setdefault(body["asset_id"], str(exc))
                token_books.pop(body["asset_id"], None)  # one copy cannot be read: none of it is trusted
            continue
        if tb.asset_id in bad_books:
            continue  # a copy that cannot be read, or two that disagree, already: the token's book stays refused
        if tb.asset_id in token_books and token_books[tb.asset_id] != tb:
            # Neither is known to be the CLOB's book now: refused, never the last one read nor their sum.
            why = f"books[{i}]: book sent twice for this token, and the copies differ"
            errors.append(ItemError("polymarket", "book", tb.asset_id[:80], why))
            bad_books[tb.asset_id] = why
            del token_books[tb.asset_id]
            continue
        token_books[tb.asset_id] = tb
    books: dict[tuple[Venue, str], OrderBook] = {}
    if token_books:
        for i, m in enumerate(markets):
            yes, no = token_books.get(m.yes_token), token_books.get(m.no_token)
            if yes is None and no is None:
                continue
            try:
                # The CLOB's tick, minimum and neg-risk flag over Gamma's; books that disagree on
                # them leave the market without a book, so unquoted.
                termed = clob_terms(m, yes, no)
            except DataError as exc:
                errors.append(ItemError("polymarket", "book", m.id, str(exc)))
                continue
            # A level no order can be sent at (off the tick the books state): that token's book is refused.
            for name, token_book in (("yes", yes), ("no", no)):
                bad_tick = _side_off_grid(token_book.side, termed.ticks) if token_book is not None else None
                if token_book is not None and bad_tick is not None:
                    errors.append(ItemError("polymarket", "book", token_book.asset_id[:80],
                                            f"{m.id[:20]}… {name}: {bad_tick}"))
                    bad_books[token_book.asset_id] = bad_tick
                    yes, no = (None, no) if name == "yes" else (yes, None)
            if yes is None and no is None:
                continue
            unreadable: dict[str, str] = {}
            for name, tok, side_book in (("yes", m.yes_token, yes), ("no", m.no_token, no)):
                if side_book is None and m.status is MarketStatus.OPEN:
                    errors.append(ItemError("polymarket", "book", m.id,
                                            f"no book recorded for token {tok[:20]}…" if tok not in bad_books else
                                            f"the book of token {tok[:20]}… was refused: {bad_books[tok]}",
                                            "book_missing"))
                    # The side is then empty for want of a book, not of depth: said with the book.
                    unreadable[name] = (f"token {tok[:20]}…: {bad_books[tok]}" if tok in bad_books
                                        else f"no book returned for token {tok[:20]}…")
            try:
                book = combine_books(m, yes, no, fetched_at)
                if unreadable:
                    book = replace(book, unreadable=unreadable)
                markets[i] = clob_terms(m, yes, no)
            except DataError as exc:
                errors.append(ItemError("polymarket", "book", m.id, str(exc)))
                continue
            books[(Venue.POLYMARKET, m.id)] = book
    return markets, books, errors


def parse_capture(
    capture: Capture,
    venues: Sequence[Venue] = ALL_VENUES,
    *,
    source: str = "snapshot",
    with_books: bool = True,
    limit: int | None = None,
    kalshi_parser: KalshiParser | None = None,
) -> MarketData:
    """The :class:`MarketData` of a capture, restricted to ``venues``.

    ``kalshi_parser``: one the capture's Kalshi markets and books were fed to as they were fetched
    (the live source), finished here as :func:`parse_kalshi` would parse them."""
    data = MarketData(markets=[], books={}, source=source, recorded_at=capture.recorded_at, notes=capture.notes,
                      synthesised=list(capture.synthesised), venues=tuple(venues))
    data.errors.extend(e for e in capture.errors if Venue(e.venue) in venues)
    for venue in venues:
        if venue.value in capture.degraded:
            # Recorded before the reason was stored without it, "kalshi unavailable: …" would be
            # prefixed again by the banner and by the VenueUnavailable a replay raises.
            data.degraded[venue] = capture.degraded[venue.value].removeprefix(f"{venue.value} unavailable: ")
        if venue is Venue.KALSHI and capture.kalshi is not None:
            k = capture.kalshi
            parser = kalshi_parser
            if parser is None or not parser.fed(k):
                parser = KalshiParser(k.fetched_at or capture.recorded_at)
                parser.add_markets(k.markets)
                parser.add_orderbooks(k.orderbooks)
            ms, bs, errs = parser.finish(k, not_read=capture.errors)
            why = [k.stop_reason or "listing incomplete"] if not k.complete else []
            if parser.unpriced_because:
                why.append(parser.unpriced_because)
            if why:
                data.incomplete[venue] = "; ".join(why)
        elif venue is Venue.POLYMARKET and capture.polymarket is not None:
            p = capture.polymarket
            ms, bs, errs = parse_polymarket(p, p.fetched_at or capture.recorded_at)
            if not p.complete:
                data.incomplete[venue] = p.stop_reason or "listing incomplete"
        else:
            if venue not in data.degraded:
                data.degraded[venue] = f"not in {source}"
            continue
        listed = {m.id for m in ms}
        if limit is not None:
            ms = ms[:limit]
        kept = {m.id for m in ms}
        data.markets.extend(ms)
        if with_books:
            # A market cut by ``limit`` goes with its book; the book of a market listed but not priced
            # (its fee unknown: see parse_kalshi) stays, for marking a position held there.
            data.books.update({k2: b for k2, b in bs.items() if k2[1] in kept or k2[1] not in listed})
        data.errors.extend(errs)
    return data


# -- the snapshot source ------------------------------------------------------------------------


class SnapshotSource:
    """A :class:`~orion_cli.venues.base.MarketSource` over a snapshot file (read-only)."""

    def __init__(self, path: Path | str, *, label: str | None = None, enabled: Sequence[Venue] | None = None) -> None:
        self.path = Path(path)
        self._label = label
        # The venues the configuration enables (kalshi.enabled / polymarket.enabled): as the live
        # source, a scan reads no other, however much the recording holds. None: every venue.
        self.enabled = tuple(enabled) if enabled is not None else None
        self._capture: Capture | None = None
        self._parsed: dict[tuple[tuple[Venue, ...], bool], MarketData] = {}

    @property
    def name(self) -> str:
        """The label the opportunities scanned from it are stored with: the file's path made absolute, as
        a hint naming it (`--snapshot FILE`) is read in another directory perhaps. As typed, `orion
        trade ID --demo` run from the parent of the scan's directory hinted `--snapshot today.json.gz`,
        which was not found there."""
        if self._label:
            return self._label
        try:
            return f"snapshot {self.path.absolute()}"
        except OSError:  # the working directory gone: as typed
            return f"snapshot {self.path}"

    def capture(self) -> Capture:
        if self._capture is None:
            self._capture = read_capture(self.path)
        return self._capture

    def load(self, venues: Sequence[Venue] = ALL_VENUES, *, with_books: bool = True,
             limit: int | None = None) -> MarketData:
        if limit is not None:
            return parse_capture(self.capture(), venues, source=self.name, with_books=with_books, limit=limit)
        key = (tuple(venues), with_books)
        if key not in self._parsed:
            self._parsed[key] = parse_capture(self.capture(), venues, source=self.name, with_books=with_books)
        return self._parsed[key]

    async def fetch(
        self,
        venues: Sequence[Venue] = ALL_VENUES,
        *,
        with_books: bool = True,
        limit: int | None = None,
        progress: ProgressFn | None = None,
    ) -> MarketData:
        from orion_cli.venues.base import ProgressEvent

        if self.enabled is not None:
            asked, venues = venues, tuple(v for v in venues if v in self.enabled)
            if not venues:
                from orion_cli.core.config import no_venue_enabled

                raise no_venue_enabled(asked)
        data = self.load(venues, with_books=with_books, limit=limit)
        if venues and all(v in data.degraded and not data.for_venue(v) for v in venues):
            # What the live run that recorded it would have said: every venue asked for unavailable
            # (exit 5), not an empty result a cron job reads as "no opportunities today".
            names = " and ".join(v.value for v in venues)
            cause = data.degraded[venues[0]] if len(venues) == 1 else \
                "; ".join(f"{v.value}: {data.degraded[v]}" for v in venues)
            raise VenueUnavailable(names, cause, hint=self._no_data_hint(names))
        if progress is not None:
            for v in venues:
                n = len(data.for_venue(v))
                progress(ProgressEvent(v.value, "markets", n, n))
        return data

    def _no_data_hint(self, names: str) -> str:
        return f"{self.name} holds no {names} data; record another with `orion snapshot record`, or use --demo"

    def find_market(self, ref: str, venue: Venue | None = None, *, data: MarketData | None = None) -> Market:
        """The recorded market ``ref`` names (in ``data``, one :meth:`load` of this file; else all of it).

        Not listed is :class:`NotFound` (exit 2: a mistyped id), but only where the recording holds the
        venue: a venue it holds no data of (recorded as down, or not recorded) could not be asked, and is
        unavailable (exit 5) as the live run and `markets`/`scan` on this file say; a paper position held
        there is then not checked, rather than taken for one whose market is gone. Without ``venue``, the
        venue is told by the reference's shape, as the live source tells it.
        """
        data = data if data is not None else self.load()
        try:
            return data.find_market(ref, venue)
        except NotFound:
            down = venue or guess_venue(ref)
            if down in data.degraded and not data.for_venue(down):
                raise VenueUnavailable(down.value, data.degraded[down], hint=self._no_data_hint(down.value)) from None
            # Recorded but refused (its fee unknown, its fields unreadable): said so, exit 5 as the live venue's
            # market is, not "no market" (exit 2, a mistyped id; found by a black-box review).
            text = ref.strip()
            refused = next((e for e in data.errors if e.kind == "market" and e.key.upper() == text.upper()
                            and (venue is None or e.venue == venue.value)), None)
            if refused is not None:
                raise RecordedMarketRefused(f"{refused.venue} market {refused.key} in {self.name}: {refused.message}",
                                            hint=refused.hint or "the recording holds it so: reading it again "
                                                                 "changes nothing; trade another pair") from None
            raise

    async def book(self, ref: str, *, venue: Venue | None = None,
                   with_fees: bool = True) -> tuple[Market, OrderBook]:
        """The recorded market and book. ``with_fees`` changes nothing: a recording is parsed whole,
        series and events included, and a file cannot fail to answer for a moment as a venue can."""
        data = self.load()
        market = self.find_market(ref, venue, data=data)
        book = data.book_for(market)
        if book is None:
            # A book the parser refused (crossed, a price at two levels, off the tick grid, copies that
            # differ) is in the recording: say why it is not used (review: "holds no order book", even -v).
            keys = {market.id, getattr(market, "yes_token", ""), getattr(market, "no_token", "")} - {""}
            refused = [e for e in data.errors if "book" in e.kind and e.key in keys]
            if refused:
                raise NotFound(f"{self.name}'s order book for {market.venue.value} market {market.id} was refused: "
                               + "; ".join(e.message for e in refused), reason="book_not_found")
            raise NotFound(f"{self.name} holds no order book for {market.venue.value} market {market.id}",
                           reason="book_not_found")
        return market, book


class RecordedMarketRefused(VenueError):
    """A market the recording holds but orion refused (its fee unknown, its fields unreadable): exit 5, as the
    live venue's would be. The recording holds it so; reading it again changes nothing."""


# The demo source's name, by which a command tells it from a snapshot file (its banner, the data flags
# an execution records).
DEMO_LABEL = "demo data set"


def demo_path() -> Path:
    """The packaged demo snapshot (``orion_cli/data/demo_snapshot.json.gz``)."""
    return Path(str(resources.files("orion_cli") / "data" / "demo_snapshot.json.gz"))


def demo_source(*, enabled: Sequence[Venue] | None = None) -> SnapshotSource:
    return SnapshotSource(demo_path(), label=DEMO_LABEL, enabled=enabled)
