"""``orion audit tail`` and ``orion audit verify``."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from orion_cli.cli.context import get_app
from orion_cli.cli.groups import CommandGroup
from orion_cli.cli.output import Column
from orion_cli.cli.params import finite
from orion_cli.core.plain_text import plain_ascii

if TYPE_CHECKING:
    from orion_cli.cli.output import Output
    from orion_cli.store.audit import AuditLog, Event

app = typer.Typer(help="The append-only, hash-chained audit log.\n\n"
                       "Example:  orion audit tail -n 20 --type halt.engaged", no_args_is_help=True, cls=CommandGroup)

AUDIT_COLUMNS = [
    Column("seq", "seq", "right"),
    Column("ts", "ts"),
    Column("type", "type"),
    Column("mode", "mode"),
    Column("actor.user", "user"),
    Column("actor.command", "command"),
    Column("venue", "venue"),
    Column("market", "market"),
    Column("payload", "payload"),
]

_RELATIVE = re.compile(r"^([0-9]+)([smhd])$")
# What --since takes, as the hint of every refusal of it (a usage error says what is accepted, as the
# parser's own errors point at --help).
SINCE_HINT = ("--since takes an ISO-8601 time (2026-11-21, 2026-11-21T10:00:00Z; UTC unless it names a zone) "
              "or an age in ASCII digits: 30s, 30m, 2h, 1d")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ALTERED_SHOWN = 5  # the altered events `audit tail` names before "and N more"
DEFAULT_LINES = 20  # `audit tail` without -n or --since


def parse_since(text: str) -> str:
    """``2026-11-21``, ``2026-11-21T10:00:00Z`` or a relative ``30m``/``2h``/``1d`` → audit ts text.

    ASCII only (:func:`plain_ascii`): ``\\d`` and int() took "٣d" and "３d" as 3 days."""
    from orion_cli.core.errors import UsageError
    from orion_cli.store.audit import iso_utc

    raw = text.strip()
    if not plain_ascii(raw):
        raise UsageError(f"--since {raw!r}: expected ISO-8601 (2026-11-21T10:00:00Z) or 30m/2h/1d, in ASCII digits",
                         hint=SINCE_HINT)
    m = _RELATIVE.match(raw)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        try:
            delta = {"s": timedelta(seconds=n), "m": timedelta(minutes=n), "h": timedelta(hours=n),
                     "d": timedelta(days=n)}[unit]
            return iso_utc(datetime.now(UTC) - delta)
        except OverflowError:  # 99999999999d: further back than datetime can go
            raise UsageError(f"--since {raw!r}: too far in the past", hint=SINCE_HINT) from None
    try:
        # RFC 3339 allows a lower-case "z" (and "t"), which fromisoformat does not read as UTC.
        ts = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw)
    except ValueError:
        raise UsageError(f"--since {raw!r}: expected ISO-8601 (2026-11-21T10:00:00Z) or 30m/2h/1d",
                         hint=SINCE_HINT) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    try:
        ts = ts.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first representable UTC instant
        raise UsageError(f"--since {raw!r}: out of range", hint=SINCE_HINT) from None
    # Nothing orion records is older; and a year before 1000 has no four-digit text, so the text
    # order (what the ledger compares) would put it after every event.
    return iso_utc(max(ts, EPOCH))


def _did_you_mean(missing: list[str], present: list[str]) -> str:
    """The type or family in the log a missing ``--type`` is likely a misspelling of. The stored types
    are kept as written (a renamed one would split an existing log's history), and they spell alike
    only mostly: `config.initialized` beside `balance.initialised`, so `--type config.initialised`
    found nothing without a word of what was meant."""
    import difflib

    names = sorted({*present, *(t.split(".", 1)[0] for t in present)})
    guesses = [(m, difflib.get_close_matches(m, names, n=1, cutoff=0.75)) for m in missing]
    said = [f"{m!r}: did you mean {g[0]!r}?" for m, g in guesses if g]
    return f" ({'; '.join(said)})" if said else ""


@app.command("tail")
def tail(
    ctx: typer.Context,
    n: Annotated[int | None, typer.Option(
        "-n", "--lines", min=0, max=1_000_000, show_default=False,
        help=f"How many recent events (default {DEFAULT_LINES}; with --since, every event since then).")] = None,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new events (Ctrl-C stops).")] = False,
    type_: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Only this type (halt.engaged) or family (halt); repeatable."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only events at or after: ISO time or 30m/2h/1d; all of them "
                                                 "unless -n is given (a warning says what -n left out).")
    ] = None,
    interval: Annotated[float, typer.Option("--interval", min=0.05, max=60, callback=finite,
                                            help="Follow poll interval, s.")] = 0.5,
) -> None:
    """Show the most recent audit events; JSON lines with --json or when piped.

    With --since and no -n, every event since then is shown, oldest first, as lines (as -f prints
    them), read in batches however many there are. With -n as well, the newest N of them, and a
    warning (even with -q) when that leaves some out.

    Example:  orion audit tail -n 50 --type halt --json | jq .payload   ·   orion audit tail --since 1h --json
    """
    from orion_cli.store.audit import AuditLog

    app_ctx = get_app(ctx)
    out = app_ctx.out
    # The events as they were recorded (hashed): a command one names is not given this one's --config/--db.
    out.commands_in_data = False
    log = AuditLog(app_ctx.db(existing=True, read_only=True))  # a mistyped URL: refused, not an empty log
    # Every type orion writes is lower case: `--type ORDER.FILLED` (or " halt") means order.filled.
    types = tuple(t.strip().lower() for t in type_ or ())
    if not all(types):
        raise typer.BadParameter("an event type or family, e.g. halt.engaged or halt (not empty)",
                                 param_hint="--type")
    since_ts = parse_since(since) if since is not None else None
    missing = log.unmatched(types) if types else []
    if missing:
        present = log.types()
        shown = ", ".join(present[:30]) + (f" and {len(present) - 30} more" if len(present) > 30 else "")
        out.warn(f"no event in this log is of type or family {', '.join(map(repr, missing))}"
                 + _did_you_mean(missing, present)
                 + (f"; its types: {shown}" if present else "; the log is empty")
                 + (" (following for new ones)" if follow else ""))
    # What a follower goes on after when nothing is shown: read first, so nothing appended meanwhile is lost.
    newest_before = log.last_seq() if follow else 0
    altered = _Altered()
    if since_ts is not None and n is None:
        # Every event since then: a pipeline (`--since 1h --json | jq`) must get all of them, and they
        # could be millions, so they are streamed in keyset batches, never held in memory at once.
        last = 0
        for event in log.since(since_ts, types=types):
            last = event.seq
            altered.note(event)
            out.stream(event.to_record(), AUDIT_COLUMNS)
            if out.stdout_closed():  # `| head -1`: the reader went away; reading on would be for no one
                break
        if not last and not follow:  # as the table says it: an empty screen read as a hang (review)
            out.info(f"no audit events since {since}")
    else:
        lines = DEFAULT_LINES if n is None else n
        events = log.tail(lines, types=types, since=since_ts) if lines else []
        if since_ts is not None:
            _say_left_out(out, log, lines, events, types=types, since=since_ts, since_text=str(since))
        for event in events:
            altered.note(event)
        records = [e.to_record() for e in events]
        if follow or out.format in ("json", "jsonl"):
            for rec in records:
                out.stream(rec, AUDIT_COLUMNS)
            if not records and lines and not follow:  # as without -n: silence read as a failure (review)
                out.info("no audit events" + (f" since {since}" if since_ts is not None else ""))
        else:
            out.records(records, AUDIT_COLUMNS, title="audit log", empty="no audit events")
        last = events[-1].seq if events else 0
    altered.warn(out)
    if not follow or out.stdout_closed():  # a follower whose reader went away has no one to follow for
        return
    last = max(last, newest_before)
    while True:
        time.sleep(interval)
        if out.stdout_closed():  # the reader went away while nothing new came
            return
        for event in log.after(last, types=types):
            last = event.seq
            if since_ts and event.ts < since_ts:
                continue
            out.stream(event.to_record(), AUDIT_COLUMNS)
            if out.stdout_closed():
                return


class _Altered:
    """The events shown whose stored JSON is no longer readable: a few seqs kept, and how many."""

    def __init__(self) -> None:
        self.first: list[int] = []
        self.count = 0

    def note(self, event: Event) -> None:
        if not event.readable:
            self.count += 1
            if len(self.first) < ALTERED_SHOWN:
                self.first.append(event.seq)

    def warn(self, out: Output) -> None:
        if not self.count:
            return
        # A few named, then how many more: the first ten alone, with no count, read as all of them.
        more = f" and {self.count - ALTERED_SHOWN} more" if self.count > ALTERED_SHOWN else ""
        out.warn(f"audit event(s) {', '.join(map(str, self.first))}{more} are not readable (JSON, or a column "
                 "that is not text, shown as x'…' and listed in `altered`): the log was altered; "
                 "`orion audit verify` names the first bad event")


def _say_left_out(out: Output, log: AuditLog, lines: int, events: list[Event], *, types: tuple[str, ...], since: str,
                  since_text: str) -> None:
    """Warn (even with -q) when -n left out events since --since: a pipeline given 20 of 81 cannot tell."""
    if len(events) < lines:
        return  # all of them are shown
    total = log.count_since(since, types=types)
    if total <= len(events):
        return
    import shlex

    shown = f"the newest {len(events)}" if events else "none"
    every = " ".join(["orion audit tail --since", shlex.quote(since_text),
                      *(f"--type {shlex.quote(t)}" for t in types)])
    out.warn(f"-n {lines} shows {shown} of the {total} events since {since_text}; omit -n to get them all: `{every}`")


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Recompute the hash chain; exit 7 naming the first bad seq (a row altered, deleted, inserted, reordered).

    Exit 7 too for a log the damaged database cannot give back (from the first seq not read), for a
    log whose table was dropped (from seq 1), and for one whose head anchor was deleted, or its table
    (orion_meta) dropped (from the seq after the newest: newest events deleted with it would go unseen).
    Exit 3 when no ledger exists there: a mistyped --db or ORION_HOME is not created and called intact.
    A SQLite ledger is opened read-only: an archived one (read-only file, directory or mount) is checked.

    Example:  orion audit verify --json
    """
    from orion_cli.cli.streams import unwritten
    from orion_cli.core.errors import DriftFound
    from orion_cli.store.audit import AuditLog

    app_ctx = get_app(ctx)
    # A mistyped URL: refused, not an empty chain. A ledger whose orion_meta (the head anchor's table) was
    # dropped: opened, for the walk to report it broken (exit 7), as a dropped audit_events is.
    result = AuditLog(app_ctx.db(existing=True, unmarked_ok=True, read_only=True)).verify()
    # A broken chain is exit 7 even when stdout refuses the record (a full disk), as reconcile's drift.
    unwritten_output = app_ctx.out.outcome_first(lambda: app_ctx.out.record(
        result.to_record(), [Column("ok", "intact"), Column("events", "events verified"),
                             Column("first_bad_seq", "first bad seq"), Column("problem", "problem")],
        title="audit chain"))
    if not result.ok:
        if unwritten_output is not None:
            app_ctx.out.warn(f"{unwritten(unwritten_output)}; the audit chain is broken, exit 7")
        raise DriftFound(f"audit chain broken at seq {result.first_bad_seq}: {result.problem}",
                         reason="audit_chain_broken")
    if unwritten_output is not None:
        raise unwritten_output  # could not write the output: exit 1
    app_ctx.out.success(f"audit chain intact ({result.events} events)")
