"""The ledger schema revision this build creates and upgrades to.

Here, apart from ``store/db.py``: ``orion --version`` says it without loading SQLAlchemy, so a trader
can tell which build is installed (the package version alone is the same from build to build) and
match it to what a refused ledger's error names.
"""

from __future__ import annotations

# The newest migration; a database already at HEAD skips Alembic entirely (fast start-up).
HEAD_REVISION = "0014"
