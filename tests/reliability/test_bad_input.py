"""Bad input, fuzzed: a clear error and a documented exit code every time, never a traceback, never a
partial write.

Three parts:

1. every command and sub-command, discovered from the live Typer tree (a new command is covered the
   day it is registered), with argument vectors built from its real options mixed with garbage;
2. the config file (valid and broken TOML, unknown keys, wrong types, out-of-range values) and
   ``ORION__SECTION__KEY`` overrides, through ``config show`` and ``halt --status``;
3. the commands that write files: a failing run leaves the previous file byte-identical and no temp
   files behind.

Nothing reaches the network: every venue URL points at a closed loopback port, and commands that read
market data get ``--demo`` where they accept it. Options that wait forever (``scan --watch``,
``audit tail -f/--follow``) are never generated. Retries against the dead port run without their
backoff sleeps (``wait_random_exponential`` is swapped for ``wait_none``) so a live attempt costs
milliseconds; the retry count and the error path are unchanged.

Exit 1 (internal error) is a failure here: an unexpected internal error on bad input is a bug.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tenacity
import tomli_w
import typer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from orion_cli.cli.app import app
from orion_cli.cli.commands import secrets as secrets_cmd
from orion_cli.core import logs
from orion_cli.core.config import KeySpec, key_specs
from orion_cli.secrets.vault import TEST_KDF
from orion_cli.store.db import open_database
from orion_cli.venues import http as venue_http

DOCUMENTED = frozenset({0, 2, 3, 4, 5, 6, 7, 130})  # 1 = unexpected internal error: a bug on bad input
TRACEBACK = "Traceback (most recent call last)"
WAITS_FOREVER = ("--watch", "--follow")  # scan --watch S, audit tail -f: loop until Ctrl-C
DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused at once
VENUE_ENV = {
    "ORION__KALSHI__PROD_BASE_URL": f"{DEAD}/trade-api/v2",
    "ORION__KALSHI__DEMO_BASE_URL": f"{DEAD}/trade-api/v2",
    "ORION__POLYMARKET__GAMMA_URL": f"{DEAD}/gamma",
    "ORION__POLYMARKET__CLOB_URL": f"{DEAD}/clob",
    "ORION__POLYMARKET__DATA_URL": f"{DEAD}/data",
    "ORION__POLYMARKET__GEOBLOCK_URL": f"{DEAD}/geoblock",
}
MASTER_PASSWORD = "bad-input fuzz master password"

# The suite draws a fixed set of 25 examples per command (derandomized), so a red run is the same run
# on any machine. Exploring is a separate, deliberate run with fresh draws, e.g.
#   ORION_FUZZ_RANDOM=1 ORION_FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest -n 2 tests/reliability/test_bad_input.py
# and whatever it finds becomes a named entry in REGRESSIONS below.
FUZZ = settings(max_examples=int(os.environ.get("ORION_FUZZ_EXAMPLES", "25")), deadline=None,
                derandomize=os.environ.get("ORION_FUZZ_RANDOM") != "1", print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

INVOCATIONS: Counter[str] = Counter()


# -- the live command tree ------------------------------------------------------------------------


# Click's int and float types, told by class (IntRange and FloatRange derive from them) as cli/params does:
# Click names them "int", "int range", "float range", not "integer", and a branch keyed on a name that
# never occurs fuzzed no int option with numbers at all.
NUMBER_CLASSES = {"IntParamType": "int", "FloatParamType": "float"}


@dataclass(frozen=True)
class Param:
    kind: str  # "option" | "argument"
    names: tuple[str, ...]
    type_name: str
    is_flag: bool
    count: bool
    choices: tuple[str, ...]
    nargs: int
    number: str = ""  # "int" | "float" | "" (see NUMBER_CLASSES)
    bounds: tuple[Any, Any, bool, bool] = (None, None, False, False)  # min, max, min_open, max_open


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    params: tuple[Param, ...]
    is_group: bool
    forbidden: tuple[str, ...] = field(default=())  # option names never generated (they wait forever)

    @property
    def label(self) -> str:
        return " ".join(self.path) or "(root)"

    def has(self, name: str) -> bool:
        return any(name in p.names for p in self.params)


def _param(p: Any) -> Param:
    tp = p.type
    return Param(
        kind=p.param_type_name,
        names=tuple(getattr(p, "opts", ())) + tuple(getattr(p, "secondary_opts", ())),
        type_name=str(getattr(tp, "name", "text")),
        is_flag=bool(getattr(p, "is_flag", False)),
        count=bool(getattr(p, "count", False)),
        choices=tuple(str(c) for c in getattr(tp, "choices", ()) or ()),
        nargs=int(getattr(p, "nargs", 1) or 1),
        number=next((NUMBER_CLASSES[c.__name__] for c in type(tp).__mro__ if c.__name__ in NUMBER_CLASSES), ""),
        bounds=(getattr(tp, "min", None), getattr(tp, "max", None), bool(getattr(tp, "min_open", False)),
                bool(getattr(tp, "max_open", False))),
    )


def discover(cmd: Any = None, path: tuple[str, ...] = ()) -> list[Command]:
    """Every group and command of the registered app, with the parameters Click will parse."""
    cmd = typer.main.get_command(app) if cmd is None else cmd
    params: list[Param] = []
    forbidden: list[str] = []
    for p in cmd.params:
        param = _param(p)
        if any(n in WAITS_FOREVER for n in param.names):
            forbidden.extend(param.names)
            continue
        params.append(param)
    subs = getattr(cmd, "commands", None)
    found = [Command(path, tuple(params), subs is not None, tuple(forbidden))]
    for name, sub in sorted((subs or {}).items()):
        found.extend(discover(sub, (*path, name)))
    return found


# The Click tree the fuzzing walks (tests/conftest.py hands CliRunner one built once per process too).
CLI = typer.main.get_command(app)
COMMANDS = discover(CLI)
ROOT = COMMANDS[0]
LEAVES = [c for c in COMMANDS if not c.is_group]
GROUPS = [c for c in COMMANDS if c.is_group]


def test_the_tree_was_discovered() -> None:
    """Guard against a discovery that silently finds nothing (and so fuzzes nothing)."""
    labels = {c.label for c in LEAVES}
    assert {"init", "config show", "halt", "resume", "audit tail", "audit verify", "pairs add"} <= labels
    assert ROOT.has("--json") and ROOT.has("--config")
    tail = next(c for c in LEAVES if c.label == "audit tail")
    assert "-f" in tail.forbidden and not tail.has("--follow")
    # The number branches of value_for are reached: numeric options are told from their Click type.
    numbers = {(c.label, p.names[0]): p.number for c in COMMANDS for p in c.params if p.number and not p.count}
    assert numbers[("audit tail", "-n")] == "int" and numbers[("audit tail", "--interval")] == "float"
    assert numbers[("book", "--depth")] == "int" and numbers[("trade", "--max-trades")] == "int"
    assert NUMBER_OPTIONS and {p.number for _, p in NUMBER_OPTIONS} == {"int", "float"}
    assert all(value_for(p) is not garbage_text for _, p in NUMBER_OPTIONS)  # no fall-through to text


# -- a scratch world per example --------------------------------------------------------------------


_TEMPLATE: dict[str, Path] = {}


def _template_home() -> Path:
    """An ORION_HOME with a migrated ledger, built once per process and copied per example."""
    if "home" not in _TEMPLATE:
        base = Path(tempfile.mkdtemp(prefix="orion-fuzz-template-"))
        # Removed when the process ends: every run of the suite left one per worker in the temp dir.
        atexit.register(shutil.rmtree, base, True)
        home = base / "home"
        home.mkdir()
        # The ledger alone, as the first command leaves it (no config file: some cases write one).
        open_database(f"sqlite:///{home / 'orion.db'}").dispose()
        _TEMPLATE["home"] = home
    return _TEMPLATE["home"]


@dataclass
class World:
    root: Path
    home: Path
    paths: dict[str, Path]

    def resolve(self, token: str) -> str:
        def sub(m: re.Match[str]) -> str:
            return str(self.paths[m.group(1)])

        return re.sub(r"@@(\w+)@@", sub, token)


PATH_KEYS = ("missing", "adir", "noperm", "empty", "garbage", "under_file", "demo", "truncated", "long",
             "pwfile", "envfile", "pemish", "home_config", "pairs")


@contextlib.contextmanager
def world() -> Iterator[World]:
    from orion_cli.venues.snapshot import demo_path

    root = Path(tempfile.mkdtemp(prefix="orion-fuzz-"))
    noperm = root / "noperm.txt"
    try:
        home = root / "home"
        shutil.copytree(_template_home(), home)
        (root / "adir").mkdir()
        noperm.write_text("secret\n")
        noperm.chmod(0)
        (root / "empty.txt").write_bytes(b"")
        (root / "garbage.bin").write_bytes(bytes(range(256)) * 3)
        (root / "afile").write_text("not a directory\n")
        # A copy: a fuzzed command given a path may write there, and the packaged file must stay intact
        # (a `reconcile --metrics-file @@demo@@` once replaced the bundled demo snapshot mid-suite).
        demo = root / "demo_snapshot.json.gz"
        shutil.copyfile(demo_path(), demo)
        (root / "truncated.json.gz").write_bytes(demo.read_bytes()[: max(1, demo.stat().st_size // 3)])
        pw = root / "master-password"
        pw.write_text(MASTER_PASSWORD + "\n")
        pw.chmod(0o600)
        (root / "creds.env").write_text("POLYMARKET_API_KEY=\nKALSHI_API_KEY_ID=not-a-uuid\n=\n\x7f\n")
        (root / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n")
        paths = {
            "missing": root / "missing.json",
            "adir": root / "adir",
            "noperm": noperm,
            "empty": root / "empty.txt",
            "garbage": root / "garbage.bin",
            "under_file": root / "afile" / "out.json",
            "demo": demo,
            "truncated": root / "truncated.json.gz",
            "long": root / ("L" * 300 + ".json"),
            "pwfile": pw,
            "envfile": root / "creds.env",
            "pemish": root / "key.pem",
            "home_config": home / "config.toml",
            "pairs": home / "pairs.toml",
            "root": root,
            "files": root / "files",  # a valid path key's directory (not made: a missing file is valid)
        }
        with contextlib.chdir(root):  # relative garbage paths land in the scratch dir, never the repo
            yield World(root, home, paths)
    finally:
        with contextlib.suppress(OSError):
            noperm.chmod(0o600)
        shutil.rmtree(root, ignore_errors=True)


# -- garbage ------------------------------------------------------------------------------------------

# argv can carry neither NUL nor lone surrogates from a real shell; everything else is fair game.
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
NASTY = [
    "", " ", "-", "--", "-1", "0", "-0", "1", "NaN", "nan", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400",
    "1e-400", "0x1F", "1_000", "１２", "٣", "9" * 400, "None", "null", "true", "[]", "{}", "'", '"', "\\", "%s",
    "$(id)", "~", ".", "..", "..\\..", "\n", "\t", "\u200b", "ünïcødé", "🦄", "a" * 5000, "=", "--=", "-x=1",
]
PATHS = [f"@@{k}@@" for k in PATH_KEYS] + ["/", "~", "-", "./", "relative/new.json", "x.json.gz"]
UNKNOWN_FLAGS = ["--bogus", "--no-such-option", "-Z", "--json=1", "--demo=yes", "--", "-", "--Json", "---",
                 "--help=1", "-vvvvvvvvvv", "--format", "--db"]
FORMATS = [[], [], ["--json"], ["--json"], ["--jsonl"], ["--format", "table"], ["--format=json"],
           ["--format", "JSONL"], ["--format", "xml"], ["--json", "--jsonl"], ["--format"]]

garbage_text = st.one_of(st.sampled_from(NASTY), st.text(CHARS, max_size=24), st.sampled_from(PATHS))
int_text = st.one_of(
    st.integers(-5, 5).map(str),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["1.5", "1e3", "0x10", " 7", "+3", "٣", "nan", "inf", ""]),
)
float_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "-0.0", "0", "1", "59.99", "60.01", "0.049", ".", "1,5"]),
)
path_text = st.one_of(st.sampled_from(PATHS), garbage_text)
# --db never gets free text with "://": a random URL could name a real host.
DB_VALUES = ["@@missing@@", "@@adir@@", "@@under_file@@", "@@garbage@@", "@@long@@", "sqlite:///@@adir@@",
             "sqlite:////nonexistent-orion-dir/x.db", "sqlite:///@@under_file@@", "nonsense", "mysql://127.0.0.1:9/x",
             "postgresql+psycopg://u:p@127.0.0.1:9/db", "sqlite://", "sqlite:///@@garbage@@", ""]
db_text = st.one_of(st.sampled_from(DB_VALUES), st.text(CHARS, max_size=12).filter(lambda s: ":" not in s))


def value_for(param: Param) -> st.SearchStrategy[str]:
    name = param.names[0] if param.names else ""
    if name == "--db":
        return db_text
    if param.number == "int" and not param.count:
        return st.one_of(int_text, garbage_text)
    if param.number == "float":
        return st.one_of(float_text, garbage_text)
    if param.type_name in ("path", "file"):
        return path_text
    if param.choices:
        return st.one_of(st.sampled_from(param.choices), garbage_text)
    if name in ("--min-edge", "--min-profit"):
        return st.one_of(float_text, garbage_text)
    if name == "--venue":
        return st.one_of(st.sampled_from(["kalshi", "polymarket", "KALSHI", "both", "kalshi,polymarket"]), garbage_text)
    if name == "--since":
        return st.one_of(st.sampled_from(["30m", "0s", "99999999999d", "2026-11-21", "2026-13-45T99:00Z",
                                          "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]),
                         garbage_text)
    return garbage_text


@st.composite
def tokens_for_param(draw: st.DrawFn, param: Param) -> list[str]:
    if param.kind == "argument":
        return [draw(value_for(param)) for _ in range(max(1, param.nargs))]
    name = draw(st.sampled_from(param.names))
    if param.count:
        return [name] * draw(st.integers(1, 3))
    if param.is_flag:
        return [name]
    value = draw(value_for(param))
    if name.startswith("--") and draw(st.integers(0, 4)) == 0:
        return [f"{name}={value}"]
    return [name, value]


@st.composite
def argv_for(draw: st.DrawFn, cmd: Command) -> list[str]:
    """Global options, the command path, a mix of its real options and garbage, and a format flag."""
    front: list[str] = []
    for param in draw(st.lists(st.sampled_from([p for p in ROOT.params if p.names[0] != "--version"]),
                               max_size=2, unique=True)):
        front.extend(draw(tokens_for_param(param)))
    body: list[str] = []
    if cmd.params:
        chosen = draw(st.lists(st.sampled_from(cmd.params), max_size=5))
        # Required arguments usually present, so the command body runs rather than Click refusing early.
        args = [p for p in cmd.params if p.kind == "argument"]
        if args and draw(st.integers(0, 4)):
            chosen = [*args, *[p for p in chosen if p.kind != "argument"]]
        for param in chosen:
            body.extend(draw(tokens_for_param(param)))
    if cmd.has("--demo") and draw(st.integers(0, 4)):
        body.append("--demo")
    if draw(st.integers(0, 3)) == 0:
        body.insert(draw(st.integers(0, len(body))),
                    draw(st.one_of(st.sampled_from(UNKNOWN_FLAGS), garbage_text)))
    fmt = draw(st.sampled_from(FORMATS))
    if draw(st.booleans()):
        front = fmt + front
    else:
        body = body + fmt
    argv = [*front, *cmd.path, *body]
    forbidden = set(cmd.forbidden)
    shorts = {n[1] for n in forbidden if len(n) == 2}
    for tok in argv:
        # Never start a loop that waits forever, also not through a combined short flag like -qf.
        if tok in forbidden or any(tok.startswith(n + "=") for n in forbidden):
            return [*cmd.path, "--help"]
        if tok.startswith("-") and not tok.startswith("--") and shorts & set(tok[1:]):
            return [*cmd.path, "--help"]
    return argv


# -- running and judging -----------------------------------------------------------------------------


JSON_LINES_COMMANDS = [("audit", "tail")]  # DESIGN §2: `audit tail --json` is JSON lines, one event per line


def _invokes(toks: Sequence[str], path: Sequence[str]) -> bool:
    n = len(path)
    return any(tuple(toks[i : i + n]) == tuple(path) for i in range(len(toks) - n + 1))


# Options that read the next token as their value, whatever it looks like: Click parses
# `--config -- --version` as config "--" followed by --version, so that "--" ends nothing.
VALUE_OPTIONS = frozenset(n for c in COMMANDS for p in c.params
                          if p.kind == "option" and not (p.is_flag or p.count) for n in p.names)


def _pre_dash(argv: Sequence[str]) -> list[str]:
    """The tokens before the ``--`` that really ends the options, without option values.

    What follows a value-taking option is its value whatever it looks like (Click's rule): in
    ``halt -r --json`` the ``--json`` is a reason, not a format flag. ``--format X`` is kept as
    ``--format=X``.
    """
    toks: list[str] = []
    it = iter(argv)
    for tok in it:
        if tok == "--":
            break
        short_tail = tok[-1:] if tok.startswith("-") and not tok.startswith("--") and len(tok) > 2 else ""
        takes_value = tok in VALUE_OPTIONS or (
            # -qn: the last letter takes the next token only if no earlier letter took the rest
            bool(short_tail) and f"-{short_tail}" in VALUE_OPTIONS
            and not any(f"-{c}" in VALUE_OPTIONS for c in tok[1:-1]))
        if not takes_value:
            toks.append(tok)
            continue
        value = next(it, None)
        toks.append(f"--format={value}" if tok == "--format" and value is not None else tok)
    return toks


def _is_help_or_version(stdout: str) -> bool:
    return (stdout.lstrip().startswith("Usage:")
            or re.fullmatch(r"orion \S+ \(ledger schema \d{4}\)\n", stdout) is not None)


def _format_requested(argv: Sequence[str]) -> str | None:
    toks = _pre_dash(argv)
    if "--jsonl" in toks and "--json" in toks:
        # A usage error for every command but halt, which warns and goes on with --json's output (app.py:
        # the shorthand is --json's where both are given).
        return "json"
    if "--jsonl" in toks:
        return "jsonl"
    if "--json" in toks:
        return "json"
    for tok in toks:
        value = tok.split("=", 1)[1] if tok.startswith("--format=") else None
        if value is not None and value.lower() in ("json", "jsonl"):
            return value.lower()
    return None


def error_records(stderr: str) -> list[dict[str, Any]]:
    found = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict) and rec.get("type") == "error":
                    found.append(rec)
    return found


@dataclass
class Outcome:
    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def describe(self) -> str:
        exc = "" if self.exception is None or isinstance(self.exception, SystemExit) else repr(self.exception)
        return (f"argv={self.argv!r}\nexit={self.exit_code} {exc}\n--- stdout ---\n{self.stdout[-1500:]}\n"
                f"--- stderr ---\n{self.stderr[-2500:]}")


def invoke(w: World, argv: list[str], label: str, env: dict[str, str] | None = None) -> Outcome:
    argv = [w.resolve(a) for a in argv]
    full_env = {**VENUE_ENV, "ORION_HOME": str(w.home), "NO_COLOR": "1", **(env or {})}
    result = CliRunner().invoke(app, argv, env=full_env, catch_exceptions=True)
    INVOCATIONS[label] += 1
    return Outcome(argv, result.exit_code, result.stdout, result.stderr, result.exception)


def assert_clean(o: Outcome) -> None:
    """Documented exit code, no traceback, and the JSON promises of DESIGN §2."""
    assert o.exit_code in DOCUMENTED, f"undocumented exit code (1 = internal error is a bug)\n{o.describe()}"
    assert o.exception is None or isinstance(o.exception, SystemExit), f"exception escaped\n{o.describe()}"
    assert TRACEBACK not in o.stdout and TRACEBACK not in o.stderr, f"traceback shown\n{o.describe()}"
    toks = _pre_dash(o.argv)
    if {"--help", "-h", "--version"} & set(o.argv) and _is_help_or_version(o.stdout):
        # Help and version text are not data. Judged by the output, not by where the flag sits:
        # Click re-parses tokens after a root-level "--" when they look like options.
        return
    fmt = _format_requested(o.argv)
    if fmt == "json" and any(_invokes(toks, path) for path in JSON_LINES_COMMANDS):
        fmt = "jsonl"
    if o.exit_code != 0 and "--json" in toks:
        recs = error_records(o.stderr)
        assert len(recs) == 1, f"--json failure must write one JSON error object to stderr\n{o.describe()}"
        rec = recs[0]
        assert rec["exit_code"] == o.exit_code and rec.get("reason") and rec.get("message"), o.describe()
    if o.exit_code == 0 and fmt == "json":
        try:
            json.loads(o.stdout)
        except ValueError as exc:
            raise AssertionError(f"--json stdout is not one JSON document ({exc})\n{o.describe()}") from None
    if o.exit_code == 0 and fmt == "jsonl":
        for line in o.stdout.splitlines():
            if line.strip():
                try:
                    json.loads(line)
                except ValueError as exc:
                    raise AssertionError(f"--jsonl line is not JSON ({exc}): {line!r}\n{o.describe()}") from None


@pytest.fixture(autouse=True)
def _offline_and_cheap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Cheap test KDF, no OS keyring, no backoff sleeps against the dead port, fresh logging."""
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(secrets_cmd, "_TEST_KDF", TEST_KDF)
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    monkeypatch.setattr(venue_http, "wait_random_exponential", lambda **_: tenacity.wait_none())
    logs.reset_logging()
    yield
    logs.reset_logging()


# -- part 1: every command's arguments ------------------------------------------------------------------


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.label.replace(" ", "-") for c in COMMANDS])
@FUZZ
@given(data=st.data())
def test_every_command_survives_garbage_arguments(cmd: Command, data: st.DataObject) -> None:
    argv = data.draw(argv_for(cmd), label="argv")
    env: dict[str, str] = {}
    if cmd.path[:1] == ("secrets",) and data.draw(st.booleans(), label="master password file"):
        env["ORION_MASTER_PASSWORD_FILE"] = "@@pwfile@@"
    with world() as w:
        env = {k: w.resolve(v) for k, v in env.items()}
        assert_clean(invoke(w, argv, cmd.label, env))
        logs.reset_logging()


def _takes(param: Param, value: str) -> bool:
    """Our own oracle: whether ``value`` is a number the option must take. Plain ASCII without "_" (as
    core/plain_text.plain_ascii), read by int() or float() as Click reads it, finite, and within its range."""
    if not value.isascii() or "_" in value:
        return False
    try:
        number: float = int(value) if param.number == "int" else float(value)
    except ValueError:
        return False
    if isinstance(number, float) and not math.isfinite(number):
        return False
    low, high, low_open, high_open = param.bounds
    return ((low is None or (number > low if low_open else number >= low))
            and (high is None or (number < high if high_open else number <= high)))


NUMBER_OPTIONS = [(c, p) for c in COMMANDS for p in c.params
                  if p.number and p.kind == "option" and not p.count and any(n.startswith("--") for n in p.names)]


NUMBER_IDS = [f"{c.label.replace(' ', '-') or 'root'}-{p.names[0]}" for c, p in NUMBER_OPTIONS]
# Refused by every number option whatever its range (the survival test draws each only now and then).
NEVER_NUMBERS = ["٣", "３", "1_0", "²", "", " ", "nan", "inf", "1e400", "0x10", "1,5", str(2**70), "1.5"]


def assert_number_refused(cmd: Command, param: Param, value: str) -> None:
    """``value`` given to ``param`` is a usage error naming the option, before the command runs."""
    name = next(n for n in param.names if n.startswith("--"))
    with world() as w:
        o = invoke(w, [*cmd.path, f"{name}={value}"], cmd.label)
    assert_clean(o)
    assert o.exit_code == 2 and "Invalid value for" in o.stderr and f"'{name}'" in o.stderr, o.describe()


@pytest.mark.parametrize(("cmd", "param"), NUMBER_OPTIONS, ids=NUMBER_IDS)
@FUZZ
@given(data=st.data())
def test_a_number_option_refuses_what_is_not_its_number(cmd: Command, param: Param, data: st.DataObject) -> None:
    """What the number branches of value_for draw, where it is not a number the option takes: the
    survival test passes an int option that took "٣", "1_0" or a value out of its range (and ran on
    it) as long as nothing crashed; this one does not."""
    assert_number_refused(cmd, param, data.draw(value_for(param).filter(lambda v: not _takes(param, v)),
                                                label="value"))


@pytest.mark.parametrize(("cmd", "param"), NUMBER_OPTIONS, ids=NUMBER_IDS)
def test_a_number_option_refuses_other_scripts_digits_and_garbage(cmd: Command, param: Param) -> None:
    for value in NEVER_NUMBERS:
        if not _takes(param, value):  # "1.5" is a float option's number; 2**70 one without a maximum
            assert_number_refused(cmd, param, value)


REGRESSIONS = [  # argument vectors the fuzzer found failing once; each is named in the report to the lead
    ["--json", "--bogus", "halt"],  # a bad global option with --json wrote no JSON error object
    ["--json", "--jsonl", "halt", "--status"],  # ... nor did the root callback's own refusal
    ["--json", "--format", "xml", "halt"],
    ["--json", " "],  # unknown command: Typer re-parses the leftovers
    ["--json", "config"],  # a group without its sub-command: an empty error message
    ["--db=@@long@@", "halt", "--status", "--json"],  # a file name too long for the database: exit 1
    ["audit", "tail", "--since", "99999999999d", "--json"],  # timedelta overflow: exit 1
    ["audit", "tail", "--since", "0001-01-01T00:00:00+14:00"],  # datetime overflow: exit 1
    ["--json", "init", "--force"],
    # "--" as the value of --config is not the end of options: --version and --json still count
    ["--json", "--config=@@missing@@", "--config", "--", "-q", "--version"],
    ["--format", "JSONL", "--config", "--bogus", "--", "-q", "--version"],
    ["--config", "--", "halt", "--status", "--json"],  # --json after the command must still be hoisted
    ["halt", "-r", "--json", "--status"],  # --json is the reason here, as Click reads it: not hoisted
    ["--config", "--json", "halt", "--status"],
    ["pairs", "add", "-", "0\x850", "--format", "JSONL"],  # U+0085 in a value split the JSON line
    ["secrets", "encrypt", "--from-file=" + "a" * 5000],  # a file name too long for the OS: exit 1
]


@pytest.mark.parametrize("argv", REGRESSIONS, ids=[" ".join(a) for a in REGRESSIONS])
def test_regressions_found_by_the_fuzzer(argv: list[str]) -> None:
    with world() as w:
        o = invoke(w, argv, "regressions")
        assert_clean(o)
        if "--json" in argv and o.exit_code:
            assert error_records(o.stderr)[0]["message"]


# -- part 2: the config file and environment overrides ------------------------------------------------

SPECS = key_specs()
SPEC_BY_DOTTED = {s.dotted: s for s in SPECS}
PATHISH = {"logging.file", "halt.sentinel_file", "secrets.vault_path", "matching.pairs_file", "database.url"}
SAFE_REL = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="._-"),
                   min_size=1, max_size=12).filter(lambda s: s not in (".", "..") and not s.startswith("~"))
NAMES = st.text(st.characters(whitelist_categories=("Ll",), whitelist_characters="_"), min_size=1, max_size=10)


@dataclass
class Val:
    """One generated value: what goes into TOML (or the environment) and whether it is valid."""

    value: Any
    valid: bool


def _window() -> st.SearchStrategy[str]:
    return st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 24), st.integers(0, 59)).map(
        lambda t: f"{t[0]:02d}:{t[1]:02d}-{t[2]:02d}:{t[3]:02d}")


def valid_value(spec: KeySpec) -> st.SearchStrategy[Any]:
    tp = spec.type
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(spec.min if spec.min is not None else 0, spec.max if spec.max is not None else 1000)
    if tp is Decimal:
        return st.decimals(spec.min, spec.max, allow_nan=False, allow_infinity=False, places=3)
    if tp is str:
        if spec.choices:
            return st.sampled_from(spec.choices)
        if spec.dotted == "database.url":
            return st.sampled_from(["", "sqlite:///@@root@@/fuzz.db"])
        if spec.dotted in PATHISH:  # absolute: a relative one is refused (each process's directory differs)
            return st.one_of(st.just(""), SAFE_REL.map(lambda name: f"@@files@@/{name}"))
        return st.text(CHARS, max_size=30)
    return st.lists(_window(), max_size=3)


def invalid_value(spec: KeySpec) -> st.SearchStrategy[Any]:
    wrong: list[st.SearchStrategy[Any]] = [
        st.sampled_from([[1, 2], {"x": 1}, datetime(2026, 1, 1, tzinfo=UTC), [], {}]),
    ]
    tp = spec.type
    if tp in (int, Decimal):
        lo, hi = spec.min, spec.max
        if lo is not None:
            wrong.append(st.sampled_from([lo - 1, lo - Decimal("0.0001")] if tp is Decimal else [lo - 1, -(2**63)]))
        if hi is not None:
            wrong.append(st.sampled_from([hi + 1, hi * 1000] if tp is Decimal else [hi + 1, 2**63 - 1]))
        wrong.append(st.sampled_from(["nan", "inf", "-Infinity", "1e400", "ten", "", " ", "1,5", True, "0x10"]))
        if tp is int:
            wrong.append(st.sampled_from([Decimal("1.5"), "1.0", "١"]))
    elif tp is bool:
        wrong.append(st.sampled_from(["maybe", 1, 0, "", Decimal("1.0"), "tru"]))
    elif tp is str:
        if spec.choices:
            wrong.append(st.one_of(st.sampled_from([c.upper() + " " for c in spec.choices]), st.text(CHARS, max_size=8))
                         .filter(lambda s: s not in spec.choices))
        wrong.append(st.sampled_from([1, True, Decimal("2.5")]))
    else:
        wrong.append(st.sampled_from([[1], "25:00-26:00", ["9-5"], ["ab:cd-ef:gh"], [True], ["24:60-00:00"]]))
    return st.one_of(*wrong)


def _is_ok(spec: KeySpec, value: Any) -> bool:
    """Our own oracle for a generated value (for values drawn from ``invalid_value`` that happen to fit)."""
    from orion_cli.core.config import _coerce  # the function under test is not the oracle: only for edge types

    try:
        coerced = _coerce(spec, value, "oracle")
    except Exception:
        return False
    if spec.dotted == "trading.trading_windows":
        from orion_cli.core.config import parse_window

        try:
            for w in coerced:
                parse_window(w, "oracle")
        except Exception:
            return False
    return True


@st.composite
def config_values(draw: st.DrawFn, keys: Sequence[KeySpec]) -> dict[str, Val]:
    out: dict[str, Val] = {}
    for spec in keys:
        if draw(st.integers(0, 3)):
            out[spec.dotted] = Val(draw(valid_value(spec)), True)
        else:
            v = draw(invalid_value(spec))
            out[spec.dotted] = Val(v, False)
    return out


def _nested(values: dict[str, Val]) -> dict[str, dict[str, Any]]:
    doc: dict[str, dict[str, Any]] = {}
    for dotted, val in values.items():
        section, key = dotted.split(".", 1)
        doc.setdefault(section, {})[key] = val.value
    return doc


@dataclass
class ConfigCase:
    where: str  # "user" | "--config" | "$ORION_CONFIG" | "none"
    text: bytes
    values: dict[str, Val]
    unknown: list[str]
    syntax_broken: bool
    env: dict[str, str]
    env_values: dict[str, Val]
    env_unknown: list[str]


def _env_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


@st.composite
def config_cases(draw: st.DrawFn) -> ConfigCase:
    keys = draw(st.lists(st.sampled_from(SPECS), max_size=8, unique_by=lambda s: s.dotted))
    values = draw(config_values(keys))
    doc: dict[str, Any] = _nested(values)
    unknown: list[str] = []
    if draw(st.integers(0, 4)) == 0:
        section = draw(st.one_of(st.sampled_from(sorted({s.section for s in SPECS})), NAMES))
        key = draw(NAMES)
        if f"{section}.{key}" not in SPEC_BY_DOTTED:
            doc.setdefault(section, {}) if isinstance(doc.get(section, {}), dict) else None
            if isinstance(doc.get(section, {}), dict):
                doc.setdefault(section, {})[key] = draw(st.one_of(st.integers(), st.text(CHARS, max_size=5)))
                unknown.append(f"{section}.{key}" if section in {s.section for s in SPECS} else section)
    if draw(st.integers(0, 6)) == 0:
        section = draw(st.sampled_from(sorted({s.section for s in SPECS})))
        doc[section] = draw(st.sampled_from([1, "x", [1, 2]]))
        unknown.append(section)
        for dotted in [d for d in values if d.startswith(section + ".")]:
            values.pop(dotted)
    text = tomli_w.dumps(doc).encode("utf-8")
    broken = False
    mutation = draw(st.integers(0, 5))
    if mutation == 0:  # break the syntax somewhere
        junk = draw(st.sampled_from(["[", "]]", "=", "key = ", '"unterminated', "x = 1\nx = 2", "[[limits]]",
                                     "\x01", "= 3", "[trading]\n[trading]", "a.b.c = {", "'''"]))
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + b"\n" + junk.encode() + b"\n" + text[pos:]
        broken = True
    elif mutation == 1 and text:
        text = text[: draw(st.integers(0, len(text)))]
        broken = True  # possibly still valid: the oracle only uses it to relax expectations
    elif mutation == 2 and draw(st.integers(0, 3)) == 0:
        text = draw(st.sampled_from([b"\xff\xfe\x00garbage", b"\xc3\x28 = 1", "ü = 1".encode()]))
        broken = True
    where = draw(st.sampled_from(["user", "--config", "$ORION_CONFIG", "none"]))
    env_keys = draw(st.lists(st.sampled_from(SPECS), max_size=3, unique_by=lambda s: s.dotted))
    env_values = draw(config_values(env_keys))
    env: dict[str, str] = {}
    for dotted, val in list(env_values.items()):
        name = "ORION__" + dotted.upper().replace(".", "__")
        text_value = _env_text(val.value)
        if "\x00" in text_value:
            env_values.pop(dotted)
            continue
        if not val.valid or not _is_ok(SPEC_BY_DOTTED[dotted], text_value):
            val = Val(text_value, _is_ok(SPEC_BY_DOTTED[dotted], text_value))
        env_values[dotted] = Val(text_value, val.valid and _is_ok(SPEC_BY_DOTTED[dotted], text_value))
        env[name] = text_value
    env_unknown: list[str] = []
    if draw(st.integers(0, 5)) == 0:
        name = draw(st.sampled_from(["ORION__NOPE__X", "ORION__LIMITS", "ORION__LIMITS__ORDER_NOTIONAL__X",
                                     "ORION__", "ORION____", "ORION__TRADING__MODEE"]))
        env[name] = draw(st.text(CHARS, max_size=8))
        env_unknown.append(name)
    if draw(st.integers(0, 5)) == 0:
        env["ORION__LIMITS__ORDER_NOTIONAL"] = draw(st.sampled_from(NASTY[:25]))
        env_values["limits.order_notional"] = Val(env["ORION__LIMITS__ORDER_NOTIONAL"],
                                                  _is_ok(SPEC_BY_DOTTED["limits.order_notional"],
                                                         env["ORION__LIMITS__ORDER_NOTIONAL"]))
    for dotted, val in values.items():  # values from invalid_value that happen to be acceptable
        if not val.valid and _is_ok(SPEC_BY_DOTTED[dotted], val.value):
            val.valid = True
    return ConfigCase(where, text, values, unknown, broken, env, env_values, env_unknown)


def _effective(case: ConfigCase, file_used: bool) -> dict[str, Any] | None:
    """The effective raw values when every one is valid, else None."""
    merged: dict[str, Val] = dict(case.values) if file_used else {}
    merged.update(case.env_values)
    if any(not v.valid for v in merged.values()):
        return None
    return {k: v.value for k, v in merged.items()}


def _cross_checks_pass(eff: dict[str, Any]) -> bool:
    from orion_cli.core.config import _coerce

    def get(dotted: str) -> Any:
        spec = SPEC_BY_DOTTED[dotted]
        return _coerce(spec, eff[dotted], "oracle") if dotted in eff else spec.default

    return (get("limits.price_band_low") < get("limits.price_band_high")
            and get("rate_limits.orders_per_minute") <= get("rate_limits.orders_per_hour"))


def _names_key_and_source(message: str, case: ConfigCase, config_path: Path) -> bool:
    if re.search(r"line \d+, column \d+", message):
        return True
    if "ORION__" in message:  # the variable's name is both the key and its source
        return True
    keys = [*case.values, *case.unknown, *case.env_values, *(u.split(".")[0] for u in case.unknown)]
    keys += [s.dotted for s in SPECS]  # cross-checks name keys the case did not set explicitly
    keys += [f"{s.section} in " for s in SPECS]  # "[[limits]]" (junk inserted): "limits in FILE must be a [table]"
    named_key = any(k in message for k in keys)
    named_source = str(config_path) in message or "environment" in message
    return named_key and named_source


KNOWN_CASES = [  # cross-checks, a syntax error at the very end, and bytes that are not UTF-8
    ConfigCase("user", b"[rate_limits]\norders_per_minute = 50\norders_per_hour = 40\n",
               {"rate_limits.orders_per_minute": Val(50, True), "rate_limits.orders_per_hour": Val(40, True)},
               [], False, {}, {}, []),
    ConfigCase("--config", b"[limits]\nprice_band_low = \"0.9\"\n",
               {"limits.price_band_low": Val("0.9", True)}, [], False,
               {"ORION__LIMITS__PRICE_BAND_HIGH": "0.5"}, {"limits.price_band_high": Val("0.5", True)}, []),
    ConfigCase("$ORION_CONFIG", b"[trading]\nmode = ", {}, [], True, {}, {}, []),
    ConfigCase("user", b"[trading]\nmode = \"paper\"\n# \xff\xfe\n", {}, [], True, {}, {}, []),
]


@settings(FUZZ, max_examples=80)
@given(case=config_cases())
@example(case=KNOWN_CASES[0])
@example(case=KNOWN_CASES[1])
@example(case=KNOWN_CASES[2])
@example(case=KNOWN_CASES[3])
def test_config_file_and_environment_fuzz(case: ConfigCase) -> None:
    with world() as w:
        config_path = w.home / "config.toml" if case.where == "user" else w.root / "fuzz-config.toml"
        env = dict(case.env)
        pre: list[str] = []
        if case.where != "none":
            config_path.write_bytes(case.text.replace(b"@@files@@", str(w.paths["files"]).encode()))
        if case.where == "--config":
            pre = ["--config", str(config_path)]
        elif case.where == "$ORION_CONFIG":
            env["ORION_CONFIG"] = str(config_path)
        env = {k: w.resolve(v) for k, v in env.items()}
        file_used = case.where != "none"
        eff = None if case.syntax_broken or case.unknown or case.env_unknown else _effective(case, file_used)
        expect_ok = eff is not None and _cross_checks_pass(eff)
        for argv, label in (([*pre, "config", "show", "--sources", "--json"], "config show (config fuzz)"),
                            ([*pre, "halt", "--status", "--json"], "halt --status (config fuzz)")):
            logs.reset_logging()
            o = invoke(w, argv, label, env)
            o_desc = f"config file ({case.where}):\n{case.text[:1500]!r}\nenv: {case.env!r}\n{o.describe()}"
            assert o.exit_code in (0, 3), f"config problems must exit 0 or 3\n{o_desc}"
            assert TRACEBACK not in o.stdout + o.stderr, o_desc
            if expect_ok:
                assert o.exit_code == 0, f"a valid configuration was refused\n{o_desc}"
            if o.exit_code == 3:
                recs = error_records(o.stderr)
                assert len(recs) == 1 and recs[0]["exit_code"] == 3, o_desc
                message = recs[0]["message"]
                assert _names_key_and_source(message, case, config_path), f"message must name key and source\n{o_desc}"
            elif label.startswith("config show"):
                shown = {r["key"]: r for r in json.loads(o.stdout)}
                for dotted in case.env_values:
                    assert shown[dotted]["source"].startswith("environment ORION__"), o_desc
                if file_used and not case.syntax_broken:
                    venue_keys = {k[len("ORION__"):].lower().replace("__", ".") for k in VENUE_ENV}
                    for dotted in set(case.values) - set(case.env_values) - venue_keys:
                        assert str(config_path) in shown[dotted]["source"], o_desc
        logs.reset_logging()


# -- part 3: never a partial write ------------------------------------------------------------------------


def _temp_files(*dirs: Path) -> list[str]:
    found = []
    for d in dirs:
        if d.is_dir():
            found += [p.name for p in d.iterdir() if p.name.endswith(".tmp") or ".tmp" in p.name]
    return sorted(found)


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file() and p.suffix != ".db"
            and not p.name.startswith("orion.db")}


FAILURES = {  # ways to make a writing command fail after it has started
    "bad env value": {"ORION__LIMITS__ORDER_NOTIONAL": "lots"},
    "unknown env key": {"ORION__LIMITS__NOTIONAL": "5"},
    "db is a directory": {"ORION__DATABASE__URL": "sqlite:///@@adir@@"},
    "db under a file": {"ORION__DATABASE__URL": "sqlite:///@@under_file@@"},
    "db garbage": {"ORION__DATABASE__URL": "sqlite:///@@garbage@@"},
    "missing --config": {"ORION_CONFIG": "@@missing@@"},
}
ORIGINAL_CONFIG = st.sampled_from([
    b"# my hand-tuned config\n[limits]\norder_notional = \"50\"\n",
    b"[trading]\nmode = \"paper\"\n# comment \xc3\xbc\n",
    b"",
])


@FUZZ
@given(failure=st.sampled_from(sorted(FAILURES)), original=ORIGINAL_CONFIG, force=st.booleans())
def test_init_failure_leaves_the_config_file_byte_identical(failure: str, original: bytes, force: bool) -> None:
    with world() as w:
        cfg = w.home / "config.toml"
        cfg.write_bytes(original)
        env = {k: w.resolve(v) for k, v in FAILURES[failure].items()}
        o = invoke(w, ["init", "--json", *(["--force"] if force else [])], "init (partial write)", env)
        assert_clean(o)
        assert o.exit_code != 0, f"{failure}: expected a failure\n{o.describe()}"
        assert cfg.read_bytes() == original, f"{failure}: a failing init changed config.toml\n{o.describe()}"
        assert _temp_files(w.home) == [], o.describe()


def test_init_failure_without_a_previous_file_writes_nothing() -> None:
    with world() as w:
        o = invoke(w, ["init", "--json"], "init (partial write)", {"ORION__LIMITS__ORDER_NOTIONAL": "lots"})
        assert_clean(o)
        assert o.exit_code == 3
        assert not (w.home / "config.toml").exists(), "a failing init left a config file behind"
        assert _temp_files(w.home) == []


PAIRS_FILE = (b"# curated by hand\n[[pair]]\nkalshi = \"KXA\"\npolymarket = \"0xabc\"\ninverted = false\n"
              b"note = \"same rulebook\"\n")


@FUZZ
@given(
    failure=st.one_of(st.sampled_from(sorted(FAILURES)), st.sampled_from(["duplicate", "remove missing",
                                                                          "corrupt pairs file"])),
    op=st.sampled_from(["add", "remove"]),
    kalshi=st.one_of(st.just("KXB"), garbage_text),
)
def test_pairs_failure_leaves_the_pairs_file_byte_identical(failure: str, op: str, kalshi: str) -> None:
    with world() as w:
        pairs = w.home / "pairs.toml"
        original = PAIRS_FILE
        env: dict[str, str] = {}
        if failure == "duplicate":
            args = ["pairs", "add", "KXA", "0xdef"] if op == "add" else ["pairs", "remove", "KXA", "0xnope"]
        elif failure == "remove missing":
            args = ["pairs", "remove", "KXNOPE"]
        elif failure == "corrupt pairs file":
            original = b"[[pair]]\nkalshi = \n"
            args = ["pairs", "add", "KXB", "0xdef"] if op == "add" else ["pairs", "remove", "KXA"]
        else:
            env = {k: w.resolve(v) for k, v in FAILURES[failure].items()}
            args = ["pairs", "add", w.resolve(kalshi) or "KXB", "0xdef"] if op == "add" else ["pairs", "remove", "KXA"]
        pairs.write_bytes(original)
        o = invoke(w, [*args, "--json"], f"pairs {op} (partial write)", env)
        assert_clean(o)
        assert o.exit_code != 0, f"{failure}: expected a failure\n{o.describe()}"
        assert pairs.read_bytes() == original, f"{failure}: a failing `pairs {op}` changed pairs.toml\n{o.describe()}"
        assert _temp_files(w.home) == [], o.describe()


@FUZZ
@given(bad=st.sampled_from(["wrong password", "no password", "bad env file", "bad pem", "unknown name",
                            "missing file", "directory", "empty value", "garbage bytes", "bad db"]))
def test_secrets_encrypt_failure_leaves_the_vault_byte_identical(bad: str) -> None:
    with world() as w:
        pw_env = {"ORION_MASTER_PASSWORD_FILE": str(w.paths["pwfile"])}
        hook = w.root / "hook"
        hook.write_text("https://hooks.example.com/services/T000/B000\n")
        first = invoke(w, ["secrets", "encrypt", "--name", "alert_webhook_url", "--value-file", str(hook)],
                       "secrets encrypt (partial write)", pw_env)
        assert first.exit_code == 0, first.describe()
        vault = w.home / "vault.json"
        before = vault.read_bytes()
        env = dict(pw_env)
        args = ["secrets", "encrypt", "--json"]
        if bad == "wrong password":
            other = w.root / "other-pw"
            other.write_text("not the password\n")
            other.chmod(0o600)
            env = {"ORION_MASTER_PASSWORD_FILE": str(other)}
            args += ["--name", "alert_webhook_url", "--value-file", str(hook)]
        elif bad == "no password":
            env = {}
            args += ["--name", "alert_webhook_url", "--value-file", str(hook)]
        elif bad == "bad env file":
            args += ["--from-file", str(w.paths["envfile"])]
        elif bad == "bad pem":
            args += ["--name", "kalshi_private_key", "--value-file", str(w.paths["pemish"])]
        elif bad == "unknown name":
            args += ["--name", "no_such_secret", "--value-file", str(hook)]
        elif bad == "missing file":
            args += ["--from-file", str(w.paths["missing"])]
        elif bad == "directory":
            args += ["--name", "alert_webhook_url", "--value-file", str(w.paths["adir"])]
        elif bad == "empty value":
            args += ["--name", "alert_webhook_url", "--value-file", str(w.paths["empty"])]
        elif bad == "garbage bytes":
            args += ["--name", "polymarket_private_key", "--value-file", str(w.paths["garbage"])]
        else:
            env["ORION__DATABASE__URL"] = f"sqlite:///{w.paths['adir']}"
            args += ["--name", "alert_webhook_url", "--value-file", str(hook)]
        o = invoke(w, args, "secrets encrypt (partial write)", env)
        assert_clean(o)
        assert o.exit_code != 0, f"{bad}: expected a failure\n{o.describe()}"
        assert vault.read_bytes() == before, f"{bad}: a failing encrypt changed the vault\n{o.describe()}"
        assert _temp_files(w.home, w.root) == [], o.describe()


@pytest.fixture(scope="module")
def live_sims() -> Iterator[dict[str, str]]:
    """Both loopback simulators, so ``snapshot record`` gets as far as writing its file."""
    from sim.kalshi_sim import KalshiSim
    from sim.polymarket_sim import PolymarketSim

    k = KalshiSim()
    p = PolymarketSim.universe(2)
    k.start()
    p.start()
    try:
        yield {"ORION__KALSHI__PROD_BASE_URL": k.server.base_url + "/trade-api/v2",
               "ORION__KALSHI__READ_TOKENS_PER_SECOND": "100000",
               "ORION__POLYMARKET__GAMMA_URL": p.gamma_url, "ORION__POLYMARKET__CLOB_URL": p.clob_url}
    finally:
        k.stop()
        p.stop()


SNAPSHOT_TARGETS = ["missing dir", "under a file", "directory", "name too long", "existing, venues down"]


@pytest.mark.parametrize("target", SNAPSHOT_TARGETS)
def test_snapshot_record_failure_writes_nothing_and_keeps_the_old_file(target: str, live_sims: dict[str, str]) -> None:
    with world() as w:
        existing = w.root / "old.json.gz"
        existing.write_bytes(w.paths["demo"].read_bytes())  # an earlier snapshot: one `record` may replace
        env = dict(live_sims)
        out = {"missing dir": w.root / "no" / "such" / "dir" / "s.json", "under a file": w.paths["under_file"],
               "directory": w.paths["adir"], "name too long": w.paths["long"],
               "existing, venues down": existing}[target]
        if target == "existing, venues down":
            env = {}
        before = {p.name: p.read_bytes() for p in w.root.iterdir() if p.is_file()}
        o = invoke(w, ["snapshot", "record", "--out", str(out), "--limit", "2", "--json"],
                   "snapshot record (partial write)", env)
        assert_clean(o)
        assert o.exit_code != 0, f"{target}: expected a failure\n{o.describe()}"
        if target == "existing, venues down":
            assert o.exit_code == 5, o.describe()  # the venues' failure, not a refusal of the file
        after = {p.name: p.read_bytes() for p in w.root.iterdir() if p.is_file()}
        assert after == before, f"{target}: files changed\n{o.describe()}"
        assert _temp_files(w.root, w.paths["adir"]) == [], o.describe()


def test_snapshot_record_succeeds_against_the_simulators(live_sims: dict[str, str]) -> None:
    """The failure cases above are only meaningful if the same run succeeds with a good path."""
    with world() as w:
        out = w.root / "good.json.gz"
        o = invoke(w, ["snapshot", "record", "--out", str(out), "--limit", "2", "--json"],
                   "snapshot record (partial write)", dict(live_sims))
        assert o.exit_code == 0, o.describe()
        assert out.read_bytes()[:2] == b"\x1f\x8b"
        assert _temp_files(w.root) == []


# -- summary ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _invocation_summary() -> Iterator[None]:
    yield
    if INVOCATIONS:
        width = max(len(k) for k in INVOCATIONS)
        lines = [f"bad-input invocations in this process (pid {os.getpid()}):"]
        lines += [f"  {k:<{width}}  {n:>5}" for k, n in sorted(INVOCATIONS.items())]
        lines.append(f"  {'total':<{width}}  {sum(INVOCATIONS.values()):>5}")
        print("\n" + "\n".join(lines))
