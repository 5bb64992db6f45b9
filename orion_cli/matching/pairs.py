"""The curated pairs file: the operator's own list of Kalshi ↔ Polymarket pairs, with polarity.

TOML in the config directory (the caller passes the path)::

    [[pair]]
    kalshi = "KXNBAGAME-26JAN09MILLAL-LAL"
    polymarket = "0xf05b…"            # condition id, or the YES token id
    inverted = true                   # Kalshi YES = Polymarket NO
    note = "Lakers vs Bucks moneyline (first outcome Bucks)"
    added_at = 2026-01-09T15:57:40Z

Curated pairs are tradable whatever the matcher thinks (the operator has read both rulebooks), but
they are still run through the equivalence checks so that a failing check is *shown* next to them.
Writes are atomic (temp file in the same directory, fsync, rename) so a crash never leaves half a
file; a symbolic link at the path (a pairs file shared by several ORION_HOMEs) is written through, the file
it names replaced and its lock taken beside it, and a link to nothing is a configuration error, as is a
``matching.pairs_file`` that names no file (``configured``): only the default path may be absent ("no
curated pairs yet"). ``add`` appends its entry to the file's text and ``remove`` cuts only its entry's lines (with
the comment lines directly above it), so the operator's other comments and layout survive; the edit
is re-parsed and must give exactly the intended pairs, else the file is rewritten whole.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import re
import stat
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from orion_cli.core.errors import ConfigError, NotFound, OrionError, UsageError
from orion_cli.core.files import DanglingLink, FileRefused, MiB, link_target, read_regular_file, replace_file
from orion_cli.core.paths import make_private_dirs
from orion_cli.core.plain_text import shown_text
from orion_cli.matching import equivalence as eq
from orion_cli.matching.equivalence import MatchCandidate

# What a change is made inside, given the pair it adds or removes (see :func:`add_pair`).
AroundWrite = Callable[["CuratedPair"], contextlib.AbstractContextManager[object]]
MAX_PAIRS_BYTES = 16 * MiB  # some 80,000 pairs: far beyond any curated list
_KEYS = frozenset({"kalshi", "polymarket", "inverted", "note", "added_at"})
_LINE_COL = re.compile(r"at line (\d+), column (\d+)")
POLARITY_CONFLICT = "POLARITY_CONFLICT"
NOT_MATCHED = "NOT_MATCHED"
# A passing candidate held back because a curated pair already pairs its Polymarket market, the same
# way round, with another Kalshi market: curated wins (see :func:`hold_back_for_curated`).
CURATED_ELSEWHERE = "CURATED_ELSEWHERE"
# Reasons a candidate's polarity is no reading: the subjects, propositions, strikes or directions that
# decide it disagree, so its ``inverted`` is only the default (GCR's Kalshi market against Armstrong's
# Polymarket market is "direct" in no sense a curated polarity could be checked against).
_POLARITY_UNREAD = frozenset({
    eq.SCALAR_VS_BINARY, eq.ENTITY_MISMATCH, eq.PROPOSITION_MISMATCH, eq.OPPOSITE_PROPOSITION,
    eq.SUBJECT_SWAPPED, eq.MARKET_KIND_MISMATCH, eq.THRESHOLD_MISMATCH, eq.DIRECTION_MISMATCH,
})
# Reasons that do not say two markets may settle apart: a score, a timing gap, a tie between passing
# candidates, or what the scan says otherwise (a market not open, a polarity, a pair never matched).
_NO_SETTLEMENT_DOUBT = frozenset({
    eq.LOW_SCORE, eq.CLOSE_TIME_GAP, eq.RESOLUTION_TIME_GAP, eq.AMBIGUOUS_MATCH, eq.MARKET_NOT_OPEN,
    POLARITY_CONFLICT, NOT_MATCHED, CURATED_ELSEWHERE,
})


def polarity_conflict(found: MatchCandidate, inverted: bool) -> bool:
    """Whether the matcher read ``found`` the other way round from a curated ``inverted``: never where
    it read no polarity at all (:data:`_POLARITY_UNREAD`)."""
    return found.inverted != inverted and not _POLARITY_UNREAD.intersection(found.reasons)


def settlement_doubts(reasons: Sequence[str]) -> tuple[str, ...]:
    """The reasons among ``reasons`` that say a pair's two markets may not settle alike (a curated pair
    is priced all the same, with a warning naming them)."""
    return tuple(r for r in reasons if r not in _NO_SETTLEMENT_DOUBT)


@dataclass(frozen=True, slots=True)
class CuratedPair:
    kalshi: str
    polymarket: str  # condition id (0x…) or YES token id
    inverted: bool = False
    note: str = ""
    added_at: datetime | None = None

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kalshi": self.kalshi, "polymarket": self.polymarket, "inverted": self.inverted}
        if self.note:
            out["note"] = self.note
        if self.added_at is not None:
            out["added_at"] = self.added_at.astimezone(UTC).replace(microsecond=0)
        return out

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "pair",
            "kalshi": self.kalshi,
            "polymarket": self.polymarket,
            "inverted": self.inverted,
            "note": self.note,
            "added_at": None if self.added_at is None else
            self.added_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }


@dataclass(frozen=True, slots=True)
class TradablePair:
    """A pair the scanner may price: curated (always) or auto-accepted (confidence ≥ threshold)."""

    kalshi_id: str
    polymarket_id: str
    inverted: bool
    source: str  # "curated" or "auto"
    confidence: float | None
    reasons: tuple[str, ...] = ()
    note: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "pair",
            "kalshi_id": self.kalshi_id,
            "polymarket_id": self.polymarket_id,
            "inverted": self.inverted,
            "source": self.source,
            "confidence": self.confidence,
            "reasons": list(self.reasons),
            "note": self.note,
        }


_KALSHI_TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_POLYMARKET_ID = re.compile(r"0x[0-9a-fA-F]{64}|[0-9]{1,80}")  # condition id, or YES token id


def id_problem(kalshi: str, polymarket: str) -> str | None:
    """Why a pair's ids cannot name venue markets (None when they can): a pasted "…" or a title would
    otherwise be stored, match nothing, and be found only when the trade it was for is missed.

    Said of the whole id as given (an id cut short in the message hid the very character that was
    wrong), with what is wrong with it: a character and where, or a length."""
    problem = _kalshi_problem(kalshi)
    if problem:
        return f"kalshi {shown_text(kalshi)} is not a Kalshi market ticker: {problem}"
    problem = _polymarket_problem(polymarket)
    if problem:
        return f"polymarket {shown_text(polymarket)} {problem}"
    return None


_TICKER_CHARACTERS = "letters, digits, '-', '.' and '_'"


_CONDITION_ID_LIKE = re.compile(r"0[xX][0-9a-fA-F]+")


def _kalshi_problem(ticker: str) -> str | None:
    # A Polymarket id has a ticker's characters too: stored, it pairs nothing, and its Polymarket market,
    # curated with it, is CURATED_ELSEWHERE for its real Kalshi market (the pair the user meant).
    swapped = "; the Kalshi ticker comes first: `orion pairs add KALSHI POLYMARKET`"
    if _CONDITION_ID_LIKE.fullmatch(ticker):
        what = ("a Polymarket condition id (0x and 64 hex digits)" if len(ticker) == 66
                else "0x and hex digits, as a Polymarket condition id is")
        return f"it is {what}{swapped}"
    if ticker.isascii() and ticker.isdigit():
        return f"it is decimal digits only, as a Polymarket token id is{swapped}"
    if _KALSHI_TICKER.fullmatch(ticker):
        return None
    if not ticker:
        return "it is empty"
    if len(ticker) > 128:
        return f"it is {len(ticker)} characters long, and a ticker at most 128"
    first = ticker[0]
    if not (first.isascii() and first.isalnum()):
        return f"it starts with {_shown_char(first)}, and a ticker with a letter or a digit"
    at = next(i for i, c in enumerate(ticker) if not re.fullmatch(r"[A-Za-z0-9._-]", c))
    return (f"{_shown_char(ticker[at])} at character {at + 1} is not one of the {_TICKER_CHARACTERS} a ticker is "
            "made of")


def _shown_char(c: str) -> str:
    """A character for a message about it: a non-ASCII one also by its code point and name, since one may
    look just like an allowed character (a non-breaking hyphen like '-', a Cyrillic K or the Kelvin sign like
    'K'), and a message showing it alone would seem to refuse the character it resembles."""
    if c.isascii():
        return repr(c)
    name = unicodedata.name(c, "")
    return f"{c!r} (U+{ord(c):04X}{' ' + name if name else ''}, not ASCII)"


def _polymarket_problem(market_id: str) -> str | None:
    if _POLYMARKET_ID.fullmatch(canonical_polymarket(market_id)):
        return None
    if market_id[:2].lower() == "0x":
        digits = market_id[2:]
        bad = next((i for i, c in enumerate(digits) if c not in "0123456789abcdefABCDEF"), None)
        if bad is not None:
            return (f"is not a condition id: {_shown_char(digits[bad])} at character {bad + 3} is not a hex digit "
                    "(a condition id is 0x and 64 hex digits)")
        return (f"is not a condition id: it has {len(digits)} hex digits after 0x, and a condition id 64 "
                f"({'some lost' if len(digits) < 64 else 'some added'} in copying?)")
    if market_id.isascii() and market_id.isdigit():
        return f"is not a YES token id: it has {len(market_id)} digits, and a token id at most 80"
    if market_id[:1].isascii() and market_id[:1].isdigit():
        bad = next(i for i, c in enumerate(market_id) if not (c.isascii() and c.isdigit()))
        return (f"is not a YES token id: {_shown_char(market_id[bad])} at character {bad + 1} is not a decimal digit "
                "(a token id is decimal digits only)")
    return (f"is neither a condition id (0x and 64 hex digits) nor a YES token id (decimal digits only): it "
            f"starts with {_shown_char(market_id[0])}" if market_id else "is empty")


# Ids as the venues write them. Kalshi tickers are upper case and a condition id's hex has no case, so
# ``kxfoo`` or ``0xABC…`` names the same market; kept as typed, the pair never matched one.
def canonical_kalshi(ticker: str) -> str:
    return ticker.strip().upper()


def canonical_polymarket(market_id: str) -> str:
    market_id = market_id.strip()
    return market_id.lower() if market_id[:2].lower() == "0x" else market_id


def _entry_lines(text: str) -> list[int]:
    """1-based line numbers of each ``[[pair]]`` header, for error messages."""
    return [i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith("[[pair]]")]


def _where(path: Path, index: int, lines: list[int]) -> str:
    at = f" (line {lines[index]})" if index < len(lines) else ""
    return f"{path}: pair #{index + 1}{at}"


def _parse_entry(raw: Any, where: str) -> CuratedPair:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    for key in ("kalshi", "polymarket"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: '{key}' must be a non-empty string")
    inverted = raw.get("inverted", False)
    if not isinstance(inverted, bool):
        raise ConfigError(f"{where}: 'inverted' must be true or false, got {inverted!r}")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise ConfigError(f"{where}: 'note' must be a string")
    added = raw.get("added_at")
    if added is not None:
        if not isinstance(added, datetime):
            raise ConfigError(f"{where}: 'added_at' must be a TOML date-time like 2026-01-09T15:57:40Z")
        added = added.replace(tzinfo=UTC) if added.tzinfo is None else added.astimezone(UTC)
    return CuratedPair(canonical_kalshi(raw["kalshi"]), canonical_polymarket(raw["polymarket"]), inverted, note, added)


def parse_pairs(text: str, path: Path) -> list[CuratedPair]:
    """Parse the file's text; every problem is a :class:`ConfigError` naming the file and line."""
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # tomllib recurses into each nested array or inline table
        raise ConfigError(f"{path}: invalid TOML: arrays or inline tables nested too deeply",
                          hint="fix or remove the pairs file") from None
    except tomllib.TOMLDecodeError as exc:
        m = _LINE_COL.search(str(exc))
        where = f"line {m[1]}, column {m[2]}" if m else "unknown position"
        raise ConfigError(f"{path}: invalid TOML at {where}: {exc}", hint="fix or remove the pairs file") from None
    extra = sorted(set(doc) - {"pair"})
    if extra:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(extra)}; expected [[pair]] tables")
    entries = doc.get("pair", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'pair' must be an array of tables ([[pair]])")
    lines = _entry_lines(text)
    out: list[CuratedPair] = []
    seen: dict[str, int] = {}
    seen_way: dict[tuple[str, bool], int] = {}
    for i, raw in enumerate(entries):
        pair = _parse_entry(raw, _where(path, i, lines))
        if pair.kalshi in seen:
            raise ConfigError(
                f"{_where(path, i, lines)}: duplicate of {_where(path, seen[pair.kalshi], lines).split(': ', 1)[1]} "
                f"(Kalshi market {pair.kalshi} is paired twice)",
                hint="edit the file to keep one of the two entries (tickers are compared in upper case)",
            )
        way = (pair.polymarket, pair.inverted)
        if way in seen_way:  # what `add` refuses: the scan would price both against the one book
            first = out[seen_way[way]]
            how = "inverted" if pair.inverted else "direct (not inverted)"
            raise ConfigError(
                f"{_where(path, i, lines)}: Polymarket market {pair.polymarket} is paired {how} here with Kalshi "
                f"market {pair.kalshi} and in {_where(path, seen_way[way], lines).split(': ', 1)[1]} with "
                f"{first.kalshi}: a Polymarket market pairs with one Kalshi market each way",
                hint="edit the file to keep one of the two entries (the other outcome of a two-outcome market "
                     "is paired with inverted = true; ids are compared in lower case)",
            )
        seen[pair.kalshi] = i
        seen_way[way] = i
        out.append(pair)
    return out


def _refused(path: Path, problem: str) -> ConfigError:
    return ConfigError(f"{path}: cannot read pairs file: {problem}",
                       hint="matching.pairs_file must name a TOML file (empty: pairs.toml in the config directory)")


_CONFIGURED_HINT = ("fix matching.pairs_file (or ORION__MATCHING__PAIRS_FILE), or empty it for pairs.toml in the "
                    "config directory; `orion pairs add` creates the file it names, in a directory that exists")


def _missing(path: Path, configured: bool) -> ConfigError | None:
    """Why a pairs file that could not be opened as not found is an error, or None when it is simply not
    there yet (the default path): a link to nothing, or a path matching.pairs_file names. Either, read as
    "no curated pairs", dropped every curated pair's polarity and CURATED_ELSEWHERE hold-back unsaid."""
    try:
        link_target(path)
    except DanglingLink as exc:
        return ConfigError(f"{path}: cannot read pairs file: {exc}",
                           hint="mount or restore the file the link names, or point the link (or "
                                "matching.pairs_file) at the pairs file", reason="pairs_missing")
    except OSError:
        pass
    if configured:
        return ConfigError(f"{path}: pairs file not found (matching.pairs_file names it)", hint=_CONFIGURED_HINT,
                           reason="pairs_missing")
    return None


def _not_world_writable(st: os.stat_result, path: Path) -> None:
    """Refuse a pairs file every local user may write: the pairs it lists are what orion trades, and any
    user could add one (as the config file, core.config, found in review)."""
    if os.name != "nt" and st.st_mode & stat.S_IWOTH:
        raise ConfigError(f"{path}: every local user may write this pairs file (mode {stat.S_IMODE(st.st_mode):04o}); "
                          "refusing to trade the pairs it lists", hint=f"chmod o-w {path}", reason="config_unsafe")


def _read_text(path: Path, *, configured: bool = False) -> str:
    """The file's text; "" when it does not exist yet (at the default path only: :func:`_missing`). A
    byte-order mark (Windows editors write one) is dropped: TOML is UTF-8 either way, and ``tomllib``
    refuses the mark. A device, a named pipe or a file above :data:`MAX_PAIRS_BYTES` is refused unread."""
    try:
        raw = read_regular_file(path, MAX_PAIRS_BYTES, check=lambda st: _not_world_writable(st, path))
    except FileNotFoundError:
        refused = _missing(path, configured)
        if refused is not None:
            raise refused from None
        return ""
    except FileRefused as exc:  # /dev/zero read until memory ran out; a named pipe blocked
        raise _refused(path, str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read pairs file: {exc.strerror or exc}") from None
    body = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:  # the offset in the file, the mark counted
        where = exc.start + len(raw) - len(body)
        raise ConfigError(f"{path}: not UTF-8 text (byte {where})", hint="fix or remove the pairs file") from None


def load_pairs(path: Path, *, configured: bool = False) -> list[CuratedPair]:
    """The curated pairs, or an empty list when the file does not exist yet. ``configured``: the path is
    matching.pairs_file's, which must name a file (exit 3 when it does not); a link to nothing is refused
    either way."""
    return parse_pairs(_read_text(path, configured=configured), path)


FILE_HEADER = "# Orion curated Kalshi <-> Polymarket pairs (written by `orion pairs`).\n"


def _entries_text(pairs: Sequence[CuratedPair]) -> str:
    return tomli_w.dumps({"pair": [p.to_toml() for p in pairs]}) if pairs else ""


def save_pairs(path: Path, pairs: Sequence[CuratedPair]) -> None:
    """Atomically replace the file with exactly ``pairs`` (comments are not kept: see :func:`add_pair`)."""
    _write_text(path, FILE_HEADER + "\n" + _entries_text(pairs))


def _appended(text: str, pair: CuratedPair) -> str:
    """``text`` with ``pair``'s entry added at the end, everything before it left as it was."""
    if not text.strip():
        return FILE_HEADER + "\n" + _entries_text([pair])
    gap = "" if text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
    return text + gap + _entries_text([pair])


def _cut(text: str, index: int) -> str:
    """``text`` without the lines of entry ``index``: its ``[[pair]]`` header, its keys up to the last one,
    and the comment lines directly above the header (they describe it), unless those open the file.
    Comments and blank lines after its last key (a note, a commented-out entry, the file's end) stay."""
    lines = text.splitlines(keepends=True)
    heads = _entry_lines(text)
    start = heads[index] - 1
    stop = heads[index + 1] - 1 if index + 1 < len(heads) else len(lines)
    end = start + 1
    for i in range(start + 1, stop):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            end = i + 1
    above = start
    while above > 0 and lines[above - 1].lstrip().startswith("#"):
        above -= 1
    if above > 0:  # a comment block that opens the file is the file's, not the entry's
        start = above
    if start == 0 or not lines[start - 1].strip():  # the blank lines that set the entry apart go with it
        while end < stop and not lines[end].strip():
            end += 1
    return "".join(lines[:start] + lines[end:])


def _save_edit(path: Path, edited: str, intended: Sequence[CuratedPair]) -> None:
    """Write ``edited`` if it parses to exactly ``intended``; otherwise (a layout the line edit cannot
    follow: inline tables, a header inside a multi-line string) rewrite the file whole."""
    try:
        ok = parse_pairs(edited, path) == list(intended)
    except ConfigError:
        ok = False
    if ok:
        _write_text(path, edited)
    else:
        save_pairs(path, intended)


def _write_text(path: Path, text: str) -> None:
    """Atomically replace the file: write a temp file beside it, fsync, rename, fsync the directory
    (:func:`replace_file`: through a symbolic link, keeping the file's mode; a new file is 0600).

    A write that fails (a full disk) names the file and says it is as it was: the pair was not saved.
    """
    try:
        make_private_dirs(path.parent)  # the default location's (a configured one's was refused missing)
        replace_file(path, text.encode("utf-8"))
    except FileRefused as exc:  # a link to nothing (its target removed meanwhile), a device
        raise ConfigError(f"cannot write the pairs file {path}: {exc}; it is as it was",
                          reason="pairs_unwritable") from None
    except OSError as exc:
        raise _unwritable(path, exc) from None


PAIRS_LOCK_TIMEOUT = 30.0


class AlreadyCurated(UsageError):
    """The very pair (ids and polarity) is in the file already: nothing to add, and nothing wrong."""

    def __init__(self, pair: CuratedPair) -> None:
        super().__init__(f"{pair.kalshi} ↔ {pair.polymarket} is already curated")
        self.pair = pair


def _unwritable(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(f"cannot write the pairs file {path}: {exc.strerror or exc}; it is as it was",
                       reason="pairs_unwritable")


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Hold ``<pairs file>.lock`` across a read-modify-write of the file.

    Without it, two `orion pairs` processes each read the file, change their copy and rename it into
    place: the second rename drops the first one's change, so a pair removed can come back as tradable.
    """
    from filelock import FileLock, Timeout

    # Both callers have read the file first (load_pairs), which refuses a device or named pipe, or a link
    # to nothing, before its lock could be made next to it; and refused a missing directory of a configured
    # path (:func:`_check_directory`), so only the default location's is made.
    try:
        make_private_dirs(path.parent)
        # Beside the file itself: an orion using a link to a shared pairs file and one using the file's own
        # path must take one lock, or the second rename drops the first one's change.
        lock_path = f"{link_target(path)}.lock"
    except DanglingLink as exc:
        raise ConfigError(f"cannot write the pairs file {path}: {exc}; it is as it was",
                          reason="pairs_unwritable") from None
    except OSError as exc:
        raise _unwritable(path, exc) from None
    lock = FileLock(lock_path, timeout=PAIRS_LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigError(f"{path} is being changed by another orion process",
                          hint=f"wait and retry; if no orion process is running, remove {lock_path}") from None
    except OSError as exc:
        raise ConfigError(f"{lock_path}: cannot lock the pairs file: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


def list_pairs(path: Path, *, configured: bool = False) -> list[CuratedPair]:
    return load_pairs(path, configured=configured)


def _check_directory(path: Path, configured: bool) -> None:
    """Refuse to write a configured pairs file whose directory does not exist (exit 3, reason
    ``storage_missing``), as a mistyped ledger directory is: made for it, it held a pairs file no other
    orion reads, while theirs went on without the pair."""
    if configured and not path.parent.is_dir():
        problem = "is not a directory" if path.parent.exists() else "does not exist"
        raise ConfigError(f"cannot write the pairs file {path}: directory {path.parent} {problem}; nothing was "
                          "changed", hint=f"create it with `mkdir -p {path.parent}` if the path is right, or fix "
                          "matching.pairs_file", reason="storage_missing")


def add_pair(path: Path, pair: CuratedPair, *, look_up: Callable[[str], str] | None = None,
             around_write: AroundWrite | None = None, configured: bool = False) -> CuratedPair:
    """Append a pair (stamped with ``added_at`` now if absent); a Kalshi market already paired, a
    Polymarket market already paired with the same polarity, or an id that cannot name a market, is
    refused. The very same pair raises :class:`AlreadyCurated`.

    A Polymarket market may be curated twice, once each way: a two-outcome game has one Polymarket
    market and one Kalshi market per team (Kalshi's first team direct, the second ``inverted``). Two
    Kalshi markets the same way round would claim that they settle alike, and the scan would price
    both against the one Polymarket book: a mistyped ticker, not a second bet.

    ``look_up`` gives a YES token id's market (its condition id; it raises when it cannot say): the
    pair is then stored with the condition id, so the rule above holds whichever id names the market
    (`orion pairs add` always passes one). Without it a token id is compared as typed.

    ``around_write(pair)`` is entered once the pair is certain to be added, and the file is written inside
    it: `orion pairs` opens the ledger there (a refused pair creates none) and appends the change's audit
    event in a transaction it commits after the write. A write that fails rolls the event back, and no
    process killed after the write leaves the change unaudited for the seconds a separate transaction took.

    ``configured``: the path is matching.pairs_file's; the file may be missing (this creates it), its
    directory may not (:func:`_check_directory`). A link to nothing is refused either way.
    """
    problem = id_problem(pair.kalshi.strip(), pair.polymarket.strip())  # said of the ids as typed
    if problem:
        raise UsageError(problem, hint="copy the ids from `orion markets` or `orion pairs suggest`")
    _read_text(path)  # a bad file or a link to nothing, before a token is looked up
    _check_directory(path, configured)
    pair = replace(pair, kalshi=canonical_kalshi(pair.kalshi), polymarket=canonical_polymarket(pair.polymarket))
    typed = pair.polymarket
    market_of: dict[str, str] = {}
    if look_up is not None and not typed.startswith("0x"):
        market = canonical_polymarket(look_up(typed))
        if not re.fullmatch(r"0x[0-9a-f]{64}", market):  # the look-up's promise, checked: never stored blind
            raise UsageError(f"Polymarket token {typed} was looked up as {market[:40]!r}, not a condition id")
        market_of[typed] = market
        pair = replace(pair, polymarket=market)
    by_token = f" (the market of YES token {typed})" if typed != pair.polymarket else ""
    # Refused before the lock (the file is replaced whole, so a read without it is consistent): taking
    # it creates <pairs file>.lock, and its directory at a mistyped ORION_HOME, which a refusal leaves.
    _check_addable(load_pairs(path), pair, market_of, by_token)
    with _writing(path):
        text = _read_text(path)
        pairs = parse_pairs(text, path)
        _check_addable(pairs, pair, market_of, by_token)  # again: another process may have changed it
        if pair.added_at is None:
            now = datetime.now(UTC).replace(microsecond=0)
            pair = CuratedPair(pair.kalshi, pair.polymarket, pair.inverted, pair.note, now)
        _change(path, text, pair, around_write, lambda: _save_edit(path, _appended(text, pair), [*pairs, pair]))
    return pair


def _change(path: Path, text: str, pair: CuratedPair, around_write: AroundWrite | None,
            write: Callable[[], None]) -> None:
    """``write`` the change of ``pair`` inside ``around_write(pair)``; the file's ``text`` back if leaving it
    fails once written (its audit event's commit failed: a review found the pair tradable, unaudited, the
    command saying it failed). Called under the pairs lock, so no other change comes between."""
    if around_write is None:
        write()
        return
    existed = path.exists()
    written = False
    try:
        with around_write(pair):
            write()
            written = True
    except BaseException as exc:
        if written:
            try:  # as it was: the text it held, or no file
                if existed:
                    replace_file(path, text.encode("utf-8"))
                else:
                    path.unlink(missing_ok=True)
            except (OSError, FileRefused, DanglingLink) as restore:  # said with the error raised, never hiding it
                left = (f"the pairs file {path} could not be put back as it was "
                        f"({getattr(restore, 'strerror', None) or restore}): it holds the change, which the audit "
                        "log does not")
                if isinstance(exc, OrionError):
                    exc.message += f"; and {left}"
                else:  # an interruption, a driver's own error: said on its own
                    logging.getLogger(__name__).error(left)
        raise


def _check_addable(pairs: Sequence[CuratedPair], pair: CuratedPair, market_of: Mapping[str, str],
                   by_token: str) -> None:
    """Refuse ``pair`` if ``pairs`` hold it already or pair either of its markets the same way."""
    for p in pairs:
        theirs = market_of.get(p.polymarket, p.polymarket)  # an entry naming the same token is that market
        if (p.kalshi, theirs, p.inverted) == (pair.kalshi, pair.polymarket, pair.inverted):
            raise AlreadyCurated(p)
        if p.kalshi == pair.kalshi:
            raise UsageError(
                f"Kalshi market {pair.kalshi} is already paired with {p.polymarket}",
                hint=f"remove the existing pair first: `orion pairs remove {p.kalshi}`",
            )
        if theirs == pair.polymarket and p.inverted == pair.inverted:
            how = "inverted" if p.inverted else "direct (not inverted)"
            raise UsageError(
                f"Polymarket market {pair.polymarket}{by_token} is already paired {how} with Kalshi market "
                f"{p.kalshi}: a Polymarket market pairs with one Kalshi market each way (direct, and "
                "--inverted for the other outcome of a two-outcome event)",
                hint=f"if {pair.kalshi} replaces it, remove the existing pair first: `orion pairs remove {p.kalshi}`",
            )


def _id_kind(market_id: str) -> str:
    return "condition id" if market_id.startswith("0x") else "token id"


def remove_pair(path: Path, kalshi: str, polymarket: str | None = None, *,
                around_write: AroundWrite | None = None, configured: bool = False) -> CuratedPair:
    """Remove the pair of ``kalshi`` (and ``polymarket`` if given); :class:`NotFound` if there is none.

    ``polymarket`` is compared with the id the file holds. A pair added by YES token id holds its
    market's condition id (:func:`add_pair`), and which market a token belongs to takes market data to
    tell; so a token given for a pair held by condition id (or the other way round) is refused with a
    :class:`UsageError` naming the id to give, rather than "no curated pair" for a pair that is there.
    ``around_write`` (given the pair removed) and ``configured`` as for :func:`add_pair`.
    """
    kalshi = canonical_kalshi(kalshi)
    polymarket = canonical_polymarket(polymarket) if polymarket is not None else None
    # Refused before the lock, as in add_pair: an unknown pair at a mistyped ORION_HOME left the lock
    # file there, in a directory made for it.
    _removal(path, load_pairs(path, configured=configured), kalshi, polymarket)
    with _writing(path):
        text = _read_text(path)
        pairs = parse_pairs(text, path)
        i = _removal(path, pairs, kalshi, polymarket)  # again: another process may have changed it
        rest = pairs[:i] + pairs[i + 1 :]
        def write() -> None:
            if len(_entry_lines(text)) == len(pairs):
                _save_edit(path, _cut(text, i), rest)
            else:
                save_pairs(path, rest)

        _change(path, text, pairs[i], around_write, write)
        return pairs[i]


def _removal(path: Path, pairs: Sequence[CuratedPair], kalshi: str, polymarket: str | None) -> int:
    """The index in ``pairs`` of the pair :func:`remove_pair` removes, or its refusal."""
    for i, p in enumerate(pairs):
        if p.kalshi == kalshi and (polymarket is None or p.polymarket == polymarket):
            return i
    held = next((p.polymarket for p in pairs if p.kalshi == kalshi), None)
    if (held is not None and polymarket is not None and _POLYMARKET_ID.fullmatch(polymarket)
            and _id_kind(held) != _id_kind(polymarket)):
        raise UsageError(
            f"the curated pair of {kalshi} is stored with Polymarket {_id_kind(held)} {held}: give that id, not "
            f"{_id_kind(polymarket)} {polymarket} (which market a token id names cannot be told without market "
            "data); nothing was removed",
            hint=f"`orion pairs remove {kalshi} {held}` (or `orion pairs remove {kalshi}`: a Kalshi market has "
                 "one pair)")
    what = _as_typed(kalshi) if polymarket is None else f"{_as_typed(kalshi)} <-> {_as_typed(polymarket)}"
    raise NotFound(f"no curated pair {what} in {path}", hint="`orion pairs list` shows the curated pairs")


def _as_typed(given: str) -> str:
    """An id in a message as written when it is a plain one, else quoted and cut when long (:func:`shown_text`):
    a pasted page or a control character is not echoed back whole."""
    return given if len(given) <= 128 and given.isprintable() and " " not in given else shown_text(given)


def curated_twice(curated: Sequence[CuratedPair], market_of: Mapping[str, str]) -> list[list[CuratedPair]]:
    """Groups of curated pairs that pair one Polymarket market the same way round, told by ``market_of``
    (a Polymarket id → its market's condition id, from the market data).

    The file refuses the same id twice the same way round; a market named once by its condition id and
    once by its YES token id (a hand-edited or older file) is only seen with the market data at hand.
    """
    groups: dict[tuple[str, bool], list[CuratedPair]] = defaultdict(list)
    for p in curated:
        groups[(market_of.get(p.polymarket, p.polymarket), p.inverted)].append(p)
    return [g for g in groups.values() if len(g) > 1]


def _market_ids(candidates: Sequence[MatchCandidate], market_of: Mapping[str, str] | None) -> dict[str, str]:
    """Polymarket id (condition id or YES token id) → its market's condition id: ``market_of``, and the
    YES tokens the candidates name."""
    out = dict(market_of or {})
    for c in candidates:
        token = c.detail.get("yes_token") if c.detail else None
        if isinstance(token, str) and token:
            out.setdefault(token, c.polymarket_id)
    return out


def curated_holder(
    curated: Sequence[CuratedPair],
    candidates: Sequence[MatchCandidate],
    market_of: Mapping[str, str] | None = None,
) -> Callable[[MatchCandidate], str | None]:
    """For a candidate, the Kalshi market a curated pair already pairs its Polymarket market with the same
    way round, or None: the one rule behind ``CURATED_ELSEWHERE`` (and the pair `pairs suggest --accept`
    names as in the way). Ids are mapped as in :func:`hold_back_for_curated`."""
    markets = _market_ids(candidates, market_of)
    taken = {(markets.get(p.polymarket, p.polymarket), p.inverted): p.kalshi for p in curated}
    return lambda c: taken.get((markets.get(c.polymarket_id, c.polymarket_id), c.inverted))


def hold_back_for_curated(
    curated: Sequence[CuratedPair],
    candidates: Sequence[MatchCandidate],
    market_of: Mapping[str, str] | None = None,
) -> list[MatchCandidate]:
    """``candidates``, each passing one that would pair a curated pair's Polymarket market the same way
    round with another Kalshi market held back with ``CURATED_ELSEWHERE``: curated wins.

    Auto-accepted, it would be priced against the one Polymarket book beside the curated pair, which
    `pairs add` and `pairs suggest --accept` refuse (one Kalshi market per Polymarket market each way).
    A candidate of a curated Kalshi market is left as it is: the curated pair supersedes it. ``market_of``
    maps a curated pair's Polymarket id to its market's condition id (a YES token id: the scan knows
    them from the market data); ids it does not map, and the candidates' own YES tokens, are taken as is.
    """
    holder_of = curated_holder(curated, candidates, market_of)
    curated_k = {p.kalshi for p in curated}
    out: list[MatchCandidate] = []
    for c in candidates:
        holder = holder_of(c)
        if c.passed and holder is not None and c.kalshi_id not in curated_k:
            how = "inverted" if c.inverted else "direct"
            why = [*c.detail.get("why", ()), f"polymarket {c.polymarket_id} is curated {how} with kalshi {holder}"]
            c = replace(c, reasons=(CURATED_ELSEWHERE,), detail={**c.detail, "why": why})
        out.append(c)
    return out


def tradable_pairs(
    curated: Sequence[CuratedPair],
    candidates: Sequence[MatchCandidate],
    auto_accept_confidence: float,
    market_of: Mapping[str, str] | None = None,
) -> list[TradablePair]:
    """Curated pairs (always, with any failing checks as reasons) + passing candidates ≥ the threshold.

    A candidate for the same Kalshi market as a curated pair is superseded by the curated pair; one for
    a curated pair's Polymarket market the same way round is held back (:func:`hold_back_for_curated`,
    which ``market_of`` is for). A curated pair the matcher never saw gets ``NOT_MATCHED``; one whose
    polarity differs from the matcher's reading gets ``POLARITY_CONFLICT`` (:func:`polarity_conflict`):
    both are shown, neither blocks (the operator decided).
    """
    candidates = hold_back_for_curated(curated, candidates, market_of)
    by_pair: dict[tuple[str, str], MatchCandidate] = {}
    for c in candidates:
        by_pair[(c.kalshi_id, c.polymarket_id)] = c
        token = c.detail.get("yes_token") if c.detail else None
        if isinstance(token, str) and token:
            by_pair.setdefault((c.kalshi_id, token), c)
    out: list[TradablePair] = []
    curated_k = set()
    for p in curated:
        curated_k.add(p.kalshi)
        found = by_pair.get((p.kalshi, p.polymarket))
        if found is None:
            out.append(TradablePair(p.kalshi, p.polymarket, p.inverted, "curated", None, (NOT_MATCHED,), p.note))
            continue
        reasons = found.reasons + ((POLARITY_CONFLICT,) if polarity_conflict(found, p.inverted) else ())
        out.append(
            TradablePair(
                p.kalshi, found.polymarket_id, p.inverted, "curated", found.confidence, reasons, p.note, found.detail
            )
        )
    for c in candidates:
        if c.kalshi_id in curated_k or c.reasons or c.confidence < auto_accept_confidence:
            continue
        out.append(TradablePair(c.kalshi_id, c.polymarket_id, c.inverted, "auto", c.confidence, (), "", c.detail))
    return out
