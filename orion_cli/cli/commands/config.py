"""``orion config show``: the effective configuration and where each value came from."""

from __future__ import annotations

from typing import Annotated

import typer

from orion_cli.cli.context import get_app
from orion_cli.cli.groups import CommandGroup
from orion_cli.cli.output import Column

app = typer.Typer(help="Inspect the effective configuration, or print every key.\n\nExample:  orion config show "
                       "--sources",
                  no_args_is_help=True, cls=CommandGroup)


@app.command("show")
def show(
    ctx: typer.Context,
    sources: Annotated[bool, typer.Option("--sources", help="Also show where each value came from.")] = False,
) -> None:
    """Show the effective configuration (secrets are never shown; they live in the vault).

    The ledger, vault and pairs file are shown as every command finds them: an empty database.url,
    secrets.vault_path or matching.pairs_file as the file in use (source "default (ORION_HOME)", or the
    user data or config dir), a path with ~ expanded.

    Example:  orion config show --sources
    """
    from orion_cli.core.config import iter_flat

    app_ctx = get_app(ctx)
    settings = app_ctx.settings()
    records = [
        {"type": "config", "key": key, "value": value, "source": source}
        for key, value, source in iter_flat(settings)
    ]
    columns = [Column("key", "key"), Column("value", "value")]
    if sources:
        columns.append(Column("source", "source"))
    else:
        for r in records:
            r.pop("source")
    app_ctx.out.records(records, columns, title="effective configuration")


@app.command("example")
def example(ctx: typer.Context) -> None:
    """Print every configuration key, commented, with its default, unit and allowed range.

    The text of config.toml.example and of the config `orion init` writes; read without the configuration
    (a file it refuses is what one reads this to fix).

    Example:  orion config example > ~/orion-config-reference.toml
    """
    from orion_cli.core.config import render_example

    text = render_example()
    get_app(ctx).out.document(text, {"type": "config_example", "text": text})
