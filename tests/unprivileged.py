"""Run a command as a user meets file permissions, when the suite runs as root.

Root reads and writes any file whatever its mode: a test of what a permission refuses runs its command under
``setpriv`` with root's permission override dropped (or as it is, when not root), and skips saying why when
that cannot be done here.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def as_user() -> list[str]:
    """The prefix that runs a command without root's permission override (none when not root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root, and setpriv(1) is missing to drop root's permission override")
    probe = subprocess.run([*NO_OVERRIDE, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.strip()[:200]}")
    return NO_OVERRIDE
