"""Makes the simulator importable as ``sim.server`` / ``sim.kalshi_sim`` from any test.

pytest (default ``prepend`` import mode) already puts ``tests/`` on ``sys.path`` when it loads
``tests/conftest.py``; this keeps it true even when only ``tests/sim`` is collected.
See README.md in this folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
