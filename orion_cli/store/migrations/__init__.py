"""Alembic migrations, applied automatically and idempotently by ``orion_cli.store.db``."""
