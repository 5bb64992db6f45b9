"""Venue credentials, encrypted at rest: the vault file (default) or the OS keyring.

Venue clients read credentials through :func:`open_store` and :meth:`SecretStore.get`, which returns a
redacted :class:`SecretValue`; see ``store.py``. File format and crypto choices: ``vault.py``.
Importing this package is cheap: ``cryptography``, ``keyring`` and ``filelock`` load on first use.
"""

from __future__ import annotations

from orion_cli.secrets.names import CATALOGUE, SecretSpec
from orion_cli.secrets.store import (
    CheckResult,
    SecretInfo,
    SecretStore,
    SecretValue,
    online_checks,
    open_store,
    register_online_check,
)
from orion_cli.secrets.unlock import MasterPassword, resolve_master_password

__all__ = [
    "CATALOGUE",
    "CheckResult",
    "MasterPassword",
    "SecretInfo",
    "SecretSpec",
    "SecretStore",
    "SecretValue",
    "online_checks",
    "open_store",
    "register_online_check",
    "resolve_master_password",
]
