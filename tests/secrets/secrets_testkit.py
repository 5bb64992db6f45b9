"""Helpers shared by the secrets tests: throwaway keys, constants and an in-memory keyring."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from orion_cli.secrets.unlock import MasterPassword

PASSWORD = "correct horse battery staple"
# Hardhat test account #0: a public test key, never funded on mainnet.
WALLET_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
WALLET_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def rsa_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def fixed(password: str) -> Callable[[bool], MasterPassword]:
    return lambda new: MasterPassword(password, "test")


class MemoryKeyring(KeyringBackend):
    """A keyring held in a dict; deleting a missing entry fails as a real backend's does."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.data:
            raise PasswordDeleteError(username)
        del self.data[(service, username)]
