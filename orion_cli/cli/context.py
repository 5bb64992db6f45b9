"""Per-invocation state built by the root callback and stored on ``ctx.obj``.

Settings and the database are opened lazily: ``orion --help`` and ``orion config show`` never
touch SQLAlchemy, and a command that needs the ledger pays for it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from orion_cli.cli.output import Output

if TYPE_CHECKING:
    from orion_cli.core.config import Settings
    from orion_cli.store.db import Database


@dataclass
class AppContext:
    config_path: Path | None = None
    db_url: str | None = None
    fmt: str = "auto"
    verbose: int = 0
    quiet: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    _out: Output | None = None
    _settings: Settings | None = None
    _db: Database | None = None
    _mode_warned: bool = False  # mode() warned of the environment pair's state (once per command)
    # A read-only command's --live (balance, positions, report): the live ledger whatever trading.mode says, as
    # for reconcile --live; no live-trading authorization, since nothing is sent.
    live_asked: bool = False
    _config_recorded: bool = False  # record_config() ran (once per command)

    @property
    def out(self) -> Output:
        if self._out is None:
            self._out = Output(self.fmt, quiet=self.quiet, verbose=self.verbose,
                               command_options=self.command_options())
        return self._out

    def command_options(self) -> str:
        """This command's own --config and --db, as every `orion …` command it names must carry them
        (core/command_line): nothing else carries them to the next command."""
        from orion_cli.core.command_line import global_options

        return global_options(self.config_path, self.db_url)

    def settings(self, *, lenient: bool = False, engaging: bool = False) -> Settings:
        """``lenient`` only for the kill switch (see ``load_settings``); call it before anything else
        reads the settings, as the first call's result is kept for the whole command."""
        if self._settings is None:
            from orion_cli.core.config import absolute_database, load_settings

            overrides = dict(self.overrides)
            if self.db_url:
                # A relative SQLite path on the command line is the working directory's, as typed; the
                # settings refuse one from a file or the environment (whose directory is anyone's guess).
                overrides["database.url"] = absolute_database(self.db_url)
            settings = load_settings(config_file=self.config_path, overrides=overrides, lenient=lenient,
                                     engaging=engaging)
            from orion_cli.core.logs import configure_logging

            log = settings.logging
            if log.level == "debug":
                # The details -v shows: set in a config (cron has no -v), the level changed next to nothing,
                # as orion says most of them itself rather than as log records (found reviewing the keys).
                self.out.verbose = max(self.out.verbose, 1)
            try:
                configure_logging(log.level, log.file, verbose=self.verbose, quiet=self.quiet,
                                  command_options=self.command_options())
            except (OSError, RuntimeError, ValueError) as exc:  # e.g. ~nosuchuser/… (RuntimeError), a NUL
                import dataclasses

                from orion_cli.core.errors import ConfigError

                why = getattr(exc, "strerror", None) or type(exc).__name__
                problem = f"logging.file = {log.file!r} from {settings.sources['logging.file']}: cannot open it ({why})"
                if not lenient:
                    raise ConfigError(problem, hint="fix or remove logging.file", reason="config_invalid") from None
                configure_logging(log.level, "", verbose=self.verbose, quiet=self.quiet,  # stderr only
                                  command_options=self.command_options())
                settings = dataclasses.replace(settings, problems=(*settings.problems, problem))
            self._settings = settings
        return self._settings

    def db(self, *, existing: bool = False, unmarked_ok: bool = False, read_only: bool = False) -> Database:
        """``existing`` (the kill switch, reconcile, audit verify): the ledger must exist already; a
        mistyped --db, ORION__DATABASE__URL or ORION_HOME (or cron running as another user) is
        refused, not created and then reported halted or clean. ``unmarked_ok`` (audit verify): a
        ledger whose orion_meta table was dropped is opened, not refused (store.db.unmarked_ledger).
        ``read_only`` (with ``existing``; a command that only reads the ledger: audit tail and verify,
        halt --status, report): a SQLite ledger is opened read-only, so an archived one (a read-only
        file, directory or mount) is read, and nothing is written beside it (store.db.read_only_uri).
        Not positions or balance: a paper account's balance is made on first use, a live one recorded.
        The first call's answer is kept."""
        if self._db is None:
            from orion_cli.store.db import open_database

            s = self.settings()
            try:
                self._db = open_database(s.database.url or None, busy_timeout_ms=s.database.busy_timeout_ms,
                                         create=not existing, unmarked_ok=unmarked_ok, read_only=read_only,
                                         reset_hour_utc=s.breaker.reset_hour_utc)
            except OSError as exc:
                # e.g. a path component longer than NAME_MAX: the store lets the OSError through.
                from orion_cli.core.errors import ConfigError
                from orion_cli.core.redact import mask_url

                where = s.sources.get("database.url", "default")
                raise ConfigError(
                    f"database.url = {mask_url(s.database.url or 'default')!r} from {where}: cannot open "
                    f"the database ({exc.strerror or type(exc).__name__})",
                    reason="config_invalid",
                ) from None
            self._notice_rollback(self._db, read_only=read_only)
        return self._db

    def _notice_rollback(self, db: Database, *, read_only: bool) -> None:
        """Keep what this machine sees of the ledger's log, and say (and record, where this command may
        write) a ledger found behind it: core.rollback. Never a failure of the command itself: the kill
        switch must engage on a ledger however it came to be, and a state directory orion cannot use
        costs only this protection."""
        from orion_cli.core.errors import OrionError
        from orion_cli.core.paths import state_dir
        from orion_cli.core.rollback import keep_seen, notice_rollback

        try:
            keep_seen(db, state_dir() / "seen")
            if read_only:
                return  # `audit verify` compares what was seen itself; nothing is written from here
            found = notice_rollback(db)
        except (OrionError, OSError) as exc:
            import logging

            logging.getLogger(__name__).debug("rollback check skipped: %s", exc)
            return
        if found is not None:
            behind, held = found
            venues = ", ".join(v.value for v in held)
            then = (f"live trades on {venues}, and resumed executions there, are refused until `orion reconcile "
                    "--live --fix` adopts what the venues hold" if held else "recorded in the audit log")
            self.out.banner(f"warning: {behind.said()}; {then}")

    def db_if_exists(self) -> Database | None:
        """For a command that audits the change it makes (``secrets``, ``pairs``), before it changes
        anything: an existing ledger is opened, so a broken one (foreign, unreachable, of a newer
        schema) refuses before the vault or the pairs file changes; a missing one is not created here,
        but by :meth:`db` once the change goes ahead. Otherwise a command that failed (a credential
        not set, a mistyped market id) left a new, empty ledger at a mistyped --db or ORION_HOME,
        which reconcile then reported clean and the kill switch halted. A named ledger whose directory
        is missing is refused here all the same: the change could never create it."""
        from orion_cli.core.errors import StorageError
        from orion_cli.store.db import MissingLedgerDirectory

        try:
            return self.db(existing=True)
        except StorageError as exc:
            if exc.reason != "storage_missing" or isinstance(exc, MissingLedgerDirectory):
                raise
            return None

    def mode(self) -> str:
        """The ledger this command works on: live when configured, or when the environment pair
        authorizes live trading (a service trading live through it must reconcile its live ledger).

        Warns (stderr, once per command, also with -q) of half of the pair set and of a gate variable
        with a value that is not its half (``ORION_LIVE_TRADING_AUTHORIZED=yes``): these leave the
        ledger as configured, silently, and only ``trade`` said so. A misspelt name is warned by the
        root callback for every command already. The decision itself is the gate's, unchanged."""
        import os

        from orion_cli.core.gate import env_authorizes_live, half_pair, odd_values

        if self.live_asked:
            return "live"
        mode = "live" if self.settings().trading.mode == "live" or env_authorizes_live(os.environ) else "paper"
        if not self._mode_warned:
            self._mode_warned = True
            half = half_pair(os.environ)
            notes = [*([f"{half}; this command works on the {mode} ledger"] if half else []), *odd_values(os.environ)]
            for note in notes:
                self.out.warn(note)
        return mode

    def record_config(self, db: Database, mode: str, *, each_time: bool = False) -> None:
        """Audit the configuration this command acts under (``config.loaded``) when it differs from the one
        this ledger recorded last (store/config_loaded): once per command, or, ``each_time``, on every
        call (each execution of a watch: another process's record may have come in between).

        Never the command's failure: a ledger too busy or unwritable for it is warned of (even with -q)
        and the command goes on, meeting the ledger as it would have. Not recorded for settings loaded
        leniently with problems (the kill switch under a broken file): no trade runs under those."""
        if self._config_recorded and not each_time:
            return
        self._config_recorded = True
        settings = self.settings()
        if settings.problems:
            return
        from sqlalchemy.exc import SQLAlchemyError

        from orion_cli.core.errors import OrionError
        from orion_cli.store.config_loaded import record_config_loaded

        try:
            record_config_loaded(db, settings, mode=mode)
        except (OrionError, SQLAlchemyError, OSError) as exc:
            why = getattr(exc, "message", None) or type(exc).__name__
            self.out.warn(f"the configuration in use was not recorded in the audit log (config.loaded): {why}; "
                          "going on")

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


def get_app(ctx: typer.Context) -> AppContext:
    """The AppContext of the root command, wherever in the command tree we are."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, AppContext):
        obj = AppContext()
        root.obj = obj
    return obj
