"""The test suite's cheap vault KDF, for tests whose subject is not the vault.

The live end-to-end tests unlock a vault in every CLI run they make; at the production scrypt cost
(n=2**17, about half a second and 128 MiB each) that was a tenth of the whole suite's time. Their
vaults are written at ``TEST_KDF`` instead, and the CLI they run accepts it:

* in a subprocess, through this file as the program (``ORION_ARGV``): it lowers the vault's policy
  floor, then runs ``orion_cli`` exactly as ``python -m orion_cli`` does;
* in the test process, with :func:`accept_cheap_kdf`.

Nothing in orion_cli reads an environment variable or a setting to weaken its KDF: the floor is
lowered only by code the test suite runs. The production cost and its refusal of weaker vaults are
tested in tests/secrets/test_vault.py, and the CLI's own vault path end to end in
tests/cli/test_secrets_cli.py, tests/cli/test_alerts_cli.py and tests/cli/test_accounts_cli.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

ORION_ARGV = [sys.executable, str(Path(__file__).resolve())]


def accept_cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's vaults may be read at ``TEST_KDF`` (undone with ``monkeypatch``)."""
    from orion_cli.secrets import vault

    monkeypatch.setattr(vault, "MIN_SCRYPT_N", vault.TEST_KDF.n)


def lower_kdf_floor() -> None:
    """This process (a CLI run started by a test) reads vaults written at ``TEST_KDF``."""
    from orion_cli.secrets import vault

    vault.MIN_SCRYPT_N = vault.TEST_KDF.n


def _main() -> None:
    import runpy

    lower_kdf_floor()
    sys.path.pop(0)  # this file's directory, which `python -m orion_cli` would not have put there
    runpy.run_module("orion_cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main()
