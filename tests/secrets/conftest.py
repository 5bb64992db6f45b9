"""Fixtures for the secrets tests: cheap-KDF stores in a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from secrets_testkit import PASSWORD, fixed, rsa_pem

from orion_cli.secrets.store import SecretStore, open_store
from orion_cli.secrets.vault import TEST_KDF


@pytest.fixture(scope="session")
def kalshi_pem() -> str:
    return rsa_pem(2048)


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "vault.json"


@pytest.fixture
def make_store(vault_path: Path) -> Callable[..., SecretStore]:
    def _make(password: str = PASSWORD, **kwargs: object) -> SecretStore:
        return open_store("vault", vault_path=vault_path, password=fixed(password), kdf=TEST_KDF,
                          allow_weak_kdf=True, **kwargs)  # type: ignore[arg-type]

    return _make
