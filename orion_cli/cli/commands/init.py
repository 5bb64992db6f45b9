"""``orion init``: write the commented config file and create/migrate the database."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from orion_cli.cli.context import AppContext, get_app


def init_command(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config file (a copy of it, when it "
                                                         "differs from the example, is kept beside it as "
                                                         "config.toml.<UTC time>.bak).")] = False,
) -> None:
    """Write the commented example config to the user config dir and create/migrate the database.

    Example:  orion init && orion halt --status
    """
    from orion_cli.core.config import render_example
    from orion_cli.core.errors import ConfigError
    from orion_cli.core.paths import user_config_file
    from orion_cli.store.audit import AuditLog

    app = get_app(ctx)
    out = app.out
    path = user_config_file()  # first: an ORION_HOME that cannot be everyone's is refused before any write
    wrote = False
    previous: bytes | None = None
    backup: Path | None = None
    if path.exists() and not path.is_file():
        # A configuration problem (exit 3), as every other command says of the same path.
        raise ConfigError(f"{path}: is {'a directory' if path.is_dir() else 'not a regular file'}, not a config "
                          "file; nothing was written",
                          hint=f"move it away (mv {shlex.quote(str(path))} {shlex.quote(str(path) + '.d')}) and "
                               "run `orion init` again", reason="config")
    if path.exists() and not force:
        out.info(f"config file already exists: {path} (use --force to overwrite)")
    else:
        previous = _read_existing(path)
        example = render_example().encode("utf-8")
        try:
            if previous is not None and previous != example:
                # The operator's edits are not ours to lose: --force overwrites, it does not destroy.
                backup = _backup_path(path)
                _atomic_write(backup, previous)
            _atomic_write(path, example)
        except BaseException:
            # No backup of a change that was not made (a full disk). Kept when the config is not as it was: an
            # interrupt after the rename (found in review) must not take the operator's edits with the backup.
            if backup is not None and _unchanged(path, previous):
                backup.unlink(missing_ok=True)
            raise
        wrote = True
    try:
        settings = app.settings()
        db = app.db()
        AuditLog(db).record("config.initialized", {"config_file": str(path), "config_written": wrote,
                                                   "backup": str(backup) if backup else None,
                                                   "database": db.display_url}, mode=settings.trading.mode)
    except BaseException:
        # All or nothing: a failing init leaves the previous config file exactly as it was.
        if wrote:
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                _atomic_write(path, previous)
            if backup is not None:
                backup.unlink(missing_ok=True)
        raise
    if backup is not None:
        out.success(f"kept the previous config as {backup}")
        _warn_ledger_moved(app, previous, db.display_url, backup)
    if wrote:
        out.success(f"wrote {path}")
    out.success(f"database ready: {db.display_url}")
    out.record(
        {"type": "init", "config_file": str(path), "config_written": wrote,
         "backup": str(backup) if backup else None, "database": db.display_url},
    )


def _unchanged(path: Path, previous: bytes | None) -> bool:
    """Whether the config at ``path`` still holds ``previous`` (False when it cannot be told)."""
    try:
        return path.read_bytes() == previous
    except OSError:
        return False


def _read_existing(path: Path) -> bytes | None:
    from orion_cli.core.errors import ConfigError

    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:  # unreadable: overwriting it would lose what could not even be kept
        raise ConfigError(f"cannot read the existing config file {path}: {exc.strerror or exc}",
                          hint="fix its permissions, or move it away", reason="config_unreadable") from None


def _backup_path(path: Path) -> Path:
    """``config.toml.20261122T120000Z.bak``, a new name for each backup (a second --force keeps the first)."""
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.{stamp}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{stamp}-{n}.bak")
    return candidate


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp file beside the target, fsync, rename; the temp file never outlives a failure.

    A config.toml that is a symbolic link (one config shared by several ORION_HOMEs) is written through,
    the file it names replaced and the link kept (it was replaced by a file of its own, the shared
    config left as it was); a link to nothing is refused (exit 3, ``config_missing``) as every other
    command refuses it, never replaced by a new config file."""
    from orion_cli.core.errors import ConfigError
    from orion_cli.core.files import DanglingLink, FileRefused, replace_file
    from orion_cli.core.paths import make_private_dirs

    try:
        make_private_dirs(path.parent)
        replace_file(path, data)
    except DanglingLink as exc:
        raise ConfigError(f"cannot write the config file {path}: {exc}; nothing was written",
                          hint="restore the file the link names, or remove the link and run `orion init` again",
                          reason="config_missing") from None
    except FileRefused as exc:
        raise ConfigError(f"cannot write the config file {path}: {exc}", reason="config_unwritable") from None
    except OSError as exc:
        raise ConfigError(f"cannot write the config file {path}: {exc.strerror or exc}",
                          reason="config_unwritable") from None


def _warn_ledger_moved(app: AppContext, previous: bytes | None, now_url: str, backup: Path) -> None:
    """Warn when the config `--force` replaced named another ledger than the one orion now uses.

    Why: the example names none, so every later command ran on the default ledger (not halted, its own
    limits) while the one the operator's config named, halted perhaps, went unread; nothing said so (found by
    a black-box review). Said even with -q: the kill switch a cron job obeys moved."""
    import tomllib

    from orion_cli.core.redact import mask_url
    from orion_cli.store.db import resolve_url

    try:
        named = tomllib.loads((previous or b"").decode("utf-8")).get("database", {}).get("url")
        was = mask_url(resolve_url(named)) if isinstance(named, str) and named.strip() else None
    except Exception:  # an unreadable old config names nothing this can compare
        return
    if was is not None and was != now_url:
        app.out.warn(f"the replaced config named the ledger {was}; orion now uses {now_url} (the example names "
                     "none), so that ledger's kill switch and trades are no longer read: copy its [database] "
                     f"section from {backup} if it is the one to keep")

