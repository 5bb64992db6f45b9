"""Test isolation: every test gets its own ORION_HOME and no inherited ORION_* variables.

Also the storage fixtures: ``db_url`` runs a test once on a SQLite file and once on a fresh database
in a throwaway PostgreSQL cluster (``pg_server``, started once per session; skipped with a reason
when the server binaries are absent).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pgserver
import pytest

from orion_cli.store.db import Database, open_database

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"

# A suite started as a background job of a non-interactive shell (`cmd &` in a script, as a CI runner may)
# inherits SIGINT ignored, and so does every orion the tests start: orion keeps an ignored signal ignored
# (`nohup`, a background job), so the Ctrl-C tests found a command that outlived its Ctrl-C (27 failed
# that way). The tests are of Ctrl-C as a terminal sends it: a handler here makes exec'd children default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# Likewise SIGHUP under `nohup`: the hang-up tests found it ignored, as orion keeps it (2 failed that way).
if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _orion_command_built_once() -> None:
    """``CliRunner().invoke(app, ...)`` builds orion's whole click tree from the Typer app on every call
    (about 50 ms: every command's signature read again), where the console script builds it once per
    process. The tests invoke orion thousands of times, so orion's app is built once per test process
    and reused, as one process would reuse it; any other Typer app a test builds is built as before."""
    import typer.testing

    from orion_cli.cli.app import app as orion_app

    build = typer.testing._get_command
    built = build(orion_app)

    def get_command(app: Any) -> Any:
        return built if app is orion_app else build(app)

    typer.testing._get_command = get_command


_orion_command_built_once()


@pytest.fixture(scope="session", autouse=True)
def _bytecode_cached_for_the_runs_processes(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Under ``PYTHONDONTWRITEBYTECODE`` (set on some CI hosts), nothing caches orion's compiled modules, so
    every ``orion`` a test starts compiled each module it imports from source again: about a quarter of a
    second of each run, hundreds of runs. The environment's wish is kept for the source tree: the bytecode
    goes to this run's temp dir (``PYTHONPYCACHEPREFIX``), shared by the run's worker processes and removed
    with the run's other temp dirs. This process's later compiles (Alembic loads each migration file afresh
    for every upgrade a test replays) are cached there too."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    base = tmp_path_factory.getbasetemp()
    prefix = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "pycache"
    prefix.mkdir(exist_ok=True)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(prefix)


@pytest.fixture(autouse=True)
def _actor_command_forgotten() -> Iterator[None]:
    """The command words a CLI run names for its audit events (``set_actor_command``) are the process's: a CLI test
    left them set ('snapshot record'), and a later test in the same worker that pins ``sys.argv`` to say which
    command signs its events read the earlier test's instead."""
    from orion_cli.core.command_line import set_actor_command

    set_actor_command(None)
    yield
    set_actor_command(None)


@pytest.fixture(scope="session", autouse=True)
def _state_home_for_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What a command saw of each ledger goes to the user's state directory, ORION_HOME or not
    (store.seen_head): a module-scoped fixture that ran a command before the per-test isolation below wrote
    it into the real ~/.local/state/orion. The session's commands keep it in a temp dir; each test its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
        yield


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point ORION_HOME at a temp dir and clear every ORION_* / venue credential variable."""
    for name in list(os.environ):
        if name.startswith("ORION") or name.startswith("KALSHI_") or name.startswith("POLYMARKET_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "orion-home"
    home.mkdir()
    monkeypatch.setenv("ORION_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    # The platform's user dirs too, for a test that unsets ORION_HOME: one ran `orion --db X init` so and
    # wrote its config.toml into the real ~/.config/orion of whoever ran the suite.
    # XDG_STATE_HOME: what a command saw of each ledger (store.seen_head) is kept there, ORION_HOME or not.
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    yield home
    # A command run in this process (CliRunner) whose outcome was decided keeps its stop handlers until
    # the process exits, as the console script ends (stopping.hold_until_exit): given back here.
    from orion_cli.cli.stopping import release_held

    release_held()
    # The secrets a command in this process revealed, which every later output scrubs (core.revealed): a
    # command process's own, forgotten here as the process would end.
    from orion_cli.core.revealed import forget_revealed

    forget_revealed()


@pytest.fixture
def fixtures_dir() -> Path:
    """The shared recorded venue responses (../shared/fixtures)."""
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pgserver.PgServer]:
    """One throwaway PostgreSQL cluster for the whole session (loopback port, socket in its temp dir)."""
    reason = pgserver.missing_reason()
    if reason:
        pytest.skip(reason)
    server = pgserver.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_migrated(pg_server: pgserver.PgServer) -> str:
    """The name of a database of ``pg_server`` made as ``open_database`` makes a new ledger, for ``db_url``
    to copy (the same rows in every new ledger, but its random ledger id: copies share it)."""
    url = pg_server.create_database("migrated")
    open_database(url).dispose()  # nobody stays connected: a template must have no sessions
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def sqlite_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite ledger made as ``open_database`` makes a new one, closed (its WAL checkpointed into the
    file), for ``db_url`` to copy: a copy takes about 3 ms, a new ledger about 10 ms (store/fresh.py)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    open_database(f"sqlite:///{path}").dispose()
    for suffix in ("-wal", "-shm"):
        assert not Path(f"{path}{suffix}").exists(), "the template must be one closed file"
    return path


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    ids=["sqlite", "postgres"],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for an empty ledger: a SQLite file in tmp_path, or a fresh PostgreSQL database.

    For a test that asks for ``db`` too (which opens it), the ledger is a copy of one made once per
    session (``sqlite_migrated``, ``pg_migrated``): making a new ledger, about 10 ms per test on SQLite
    and 0.12 s on PostgreSQL, is paid once. A test of the migrations or of a new ledger asks for
    ``db_url`` alone and gets an empty database (no file, or an empty PostgreSQL database)."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        if "db" in request.fixturenames:
            shutil.copy(request.getfixturevalue("sqlite_migrated"), path)  # the file and its 0600 mode
        yield f"sqlite:///{path}"
        return
    server: pgserver.PgServer = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_migrated") if "db" in request.fixturenames else None
    url = server.create_database(template=template)
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """An open :class:`Database` on ``db_url`` (a copy of the session's migrated ledger), disposed after the test."""
    database = open_database(db_url)
    try:
        yield database
    finally:
        database.dispose()


def _demo_document() -> dict[str, Any]:
    import gzip
    import json

    from orion_cli.venues.snapshot import demo_path

    doc: dict[str, Any] = json.loads(gzip.decompress(demo_path().read_bytes()))
    return doc


@pytest.fixture
def redated_demo(tmp_path: Path) -> Callable[[str], Path]:
    """The demo data set as a snapshot file recorded at another time (``recorded_at`` and each venue's
    ``fetched_at``, ISO text): a recording is judged at its own time, so a market the demo has open
    is past its close in a copy recorded after it."""
    import json

    def make(recorded_at: str) -> Path:
        doc = _demo_document()
        doc["recorded_at"] = recorded_at
        for venue in doc["venues"].values():
            venue["fetched_at"] = recorded_at
        path = tmp_path / f"demo-recorded-{recorded_at.replace(':', '')}.json"
        path.write_text(json.dumps(doc))
        return path

    return make


# The demo's one opportunity buys Polymarket's UpOnly/Brian Armstrong YES at its best ask, 0.15 (320 there).
DEMO_BRIA_YES_TOKEN = "63135575408667591224412466200736995005307966265895477308224847363697705611477"


@pytest.fixture
def fractional_demo(tmp_path: Path) -> Path:
    """The demo data set with 72.4 at the best ask of the Polymarket leg of its one opportunity, which the
    scan then sizes at 72.4 (10.86 dollars at 0.15, no cent to round up): a scanned size with a fraction
    that the default order limits let through."""
    import json

    doc = _demo_document()
    [book] = [b for b in doc["venues"]["polymarket"]["books"] if b["asset_id"] == DEMO_BRIA_YES_TOKEN]
    [best] = [level for level in book["asks"] if level["price"] == "0.15"]
    best["size"] = "72.4"
    path = tmp_path / "demo-fractional.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def fee_heavy_cheap_levels(tmp_path: Path) -> Path:
    """The demo data set with its cross pair's Kalshi NO asks at 0.50 (100) and 0.90 (2000) and the
    Polymarket YES ask at 0.06 (5000): scanned at 2100, far beyond the default $100 order notional, and
    the cheapest Kalshi level's fee per contract (highest at 0.5) is above the scanned size's average.
    A cut at that average fee was then refused by ORDER_NOTIONAL ($101.01 > $100)."""
    import json

    doc = _demo_document()
    [kalshi] = [b for b in doc["venues"]["kalshi"]["orderbooks"] if b["ticker"] == "KXUPONLY-01-BRIA"]
    kalshi["orderbook_fp"]["yes_dollars"] = [["0.1000", "2000.00"], ["0.5000", "100.00"]]
    # NO bids below the best YES bid's complement: a book whose YES and NO bids sum to $1 or more is crossed,
    # which the parser refuses (it would match).
    kalshi["orderbook_fp"]["no_dollars"] = [["0.4800", "100.00"]]
    [poly] = [b for b in doc["venues"]["polymarket"]["books"] if b["asset_id"] == DEMO_BRIA_YES_TOKEN]
    poly["asks"] = [{"price": "0.06", "size": "5000"}]
    poly["bids"] = [{"price": "0.05", "size": "100"}]
    path = tmp_path / "demo-fee-heavy.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def unsearchable(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make ``Path.stat`` under a directory fail as it does where orion may not search it (EACCES):
    root, which runs the tests, would otherwise read through any mode bits."""

    def make(directory: Path) -> None:
        real_stat = Path.stat

        def no_search(self: Path, *args: Any, **kw: Any) -> Any:
            if str(self).startswith(str(directory)):
                raise PermissionError(13, "Permission denied", str(self))
            return real_stat(self, *args, **kw)

        monkeypatch.setattr(Path, "stat", no_search)

    return make


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    """The interpreter's default recursion limit, as the CLI parses its files with it: py_ecc (imported
    with the Polymarket signing libraries the tests cross-check against) raises it process-wide to
    100000, so a nesting test run after such an import would no longer reach the limit."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(before)
