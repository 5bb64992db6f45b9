"""A ledger made the way every ledger was before store/fresh.py: each migration replayed from the empty database.

For the test that holds the one-step creation equal to it (test_fresh.py) and for
benchmarks/bench_new_ledger.py, which times the two.
"""

from __future__ import annotations

from orion_cli.store.db import alembic_upgrade, open_database


def replay_migrations(url: str) -> None:
    """Every migration from the empty database at ``url`` to HEAD, through Alembic, as an older ledger is
    upgraded."""
    db = open_database(url, migrate=False)
    try:
        with db.engine.connect() as conn:
            alembic_upgrade(conn, db.reset_hour_utc)
            conn.commit()
    finally:
        db.dispose()
