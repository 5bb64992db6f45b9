"""``orion init``: write the commented config file and create/migrate the database."""

from __future__ import annotations

import os
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
    if path.exists() and not force:
        if not path.is_file():
            raise Refused(f"{path} exists and is not a file")
        out.info(f"config file already exists: {path} (use --force to overwrite)")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(render_example())
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        wrote = True
        out.success(f"wrote {path}")
    settings = app.settings()
    db = app.db()
    AuditLog(db).record("config.initialized", {"config_file": str(path), "config_written": wrote,
                                               "database": db.display_url}, mode=settings.trading.mode)
    out.success(f"database ready: {db.display_url}")
    out.record(
        {"type": "init", "config_file": str(path), "config_written": wrote, "database": db.display_url},
    )
