"""Venue-neutral core: configuration, money, domain models, errors and services.

Nothing under ``orion_cli.core`` (or any package other than ``orion_cli.cli``) may import
typer, rich or questionary, and nothing here prints: services return values and raise
:class:`orion_cli.core.errors.OrionError` subclasses that the CLI maps to exit codes.
"""
