"""``orion init``: write the commented config file and create/migrate the database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from orion_cli.cli.context import get_app


def init_command(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config file.")] = False,
) -> None:
    """Write the commented example config to the user config dir and create/migrate the database.

    Example:  orion init && orion halt --status
    """
    from orion_cli.core.config import render_example
    from orion_cli.core.errors import Refused
    from orion_cli.core.paths import user_config_file
    from orion_cli.store.audit import AuditLog

    app = get_app(ctx)
    out = app.out
    path = user_config_file()
    wrote = False
    previous: bytes | None = None
    if path.exists() and not path.is_file():
        raise Refused(f"{path} exists and is not a file")
    if path.exists() and not force:
        out.info(f"config file already exists: {path} (use --force to overwrite)")
    else:
        previous = path.read_bytes() if path.exists() else None
        _atomic_write(path, render_example().encode("utf-8"))
        wrote = True
    try:
        settings = app.settings()
        db = app.db()
        AuditLog(db).record("config.initialized", {"config_file": str(path), "config_written": wrote,
                                                   "database": db.display_url}, mode=settings.trading.mode)
    except BaseException:
        # All or nothing: a failing init leaves the previous config file exactly as it was.
        if wrote:
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                _atomic_write(path, previous)
        raise
    if wrote:
        out.success(f"wrote {path}")
    out.success(f"database ready: {db.display_url}")
    out.record(
        {"type": "init", "config_file": str(path), "config_written": wrote, "database": db.display_url},
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp file beside the target, fsync, rename; the temp file never outlives a failure."""
    import tempfile

    from orion_cli.core.errors import ConfigError
    from orion_cli.core.paths import make_private_dirs

    try:
        make_private_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write the config file {path}: {exc.strerror or exc}",
                          reason="config_unwritable") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write the config file {path}: {exc.strerror or exc}",
                              reason="config_unwritable") from None
        raise
