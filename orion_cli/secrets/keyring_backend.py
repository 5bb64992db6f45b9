"""The OS keyring as an alternative secret backend (``secrets.backend = "keyring"``).

Each credential is one keyring entry (service ``orion``, username = the secret's name), stored as
``orion:b64:<base64>`` so arbitrary bytes round-trip. The keyring API cannot enumerate entries, so an
index entry (``__index__``: JSON ``{name: updated_at}``) records which names are set and when; it holds
no values. Index updates are serialised by a file lock next to the vault.

Backend choice. The auto-detected backend is filtered: the ``fail``/``null`` placeholders and the
``keyrings.alt`` file backends are refused (``PlaintextKeyring`` is plain text on disk and
``EncryptedKeyring`` prompts on the terminal, which would hang cron). A caller (a test) may pass any
backend instance explicitly.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orion_cli.core.errors import SecretsError
from orion_cli.core.paths import make_private_dirs
from orion_cli.secrets.names import same_value

DEFAULT_SERVICE = "orion"
INDEX_USERNAME = "__index__"
_PREFIX = "orion:b64:"

NO_KEYRING_HINT = (
    'use the encrypted vault instead (secrets.backend = "vault", the default; for cron set '
    "ORION_MASTER_PASSWORD_FILE), or install and unlock a desktop keyring service "
    "(e.g. gnome-keyring / KWallet providing org.freedesktop.secrets in a D-Bus session)"
)


def _is_trusted(backend: Any) -> bool:
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring | null.Keyring | chainer.ChainerBackend):
        return False
    return not type(backend).__module__.startswith("keyrings.alt")


def system_keyring() -> Any:
    """The OS keyring backend to use, or :class:`SecretsError` naming the fix when there is none."""
    try:
        import keyring
        from keyring.backends import chainer

        current = keyring.get_keyring()
    except Exception as exc:
        raise SecretsError(
            f"the OS keyring could not be initialised ({type(exc).__name__})",
            hint=NO_KEYRING_HINT,
            reason="no_keyring",
        ) from None
    candidates = list(current.backends) if isinstance(current, chainer.ChainerBackend) else [current]
    usable = [b for b in candidates if _is_trusted(b)]
    if not usable:
        found = ", ".join(type(b).__module__ + "." + type(b).__name__ for b in candidates) or "none"
        raise SecretsError(
            f"no usable OS keyring backend on this machine (found: {found})",
            hint=NO_KEYRING_HINT,
            reason="no_keyring",
        )
    return usable[0]


def encode_value(value: bytes) -> str:
    return _PREFIX + base64.b64encode(value).decode("ascii")


def decode_value(name: str, stored: str) -> bytes:
    if not stored.startswith(_PREFIX):
        return stored.encode("utf-8")  # set by hand with the `keyring` CLI: take it as text
    try:
        return base64.b64decode(stored[len(_PREFIX):], validate=True)
    except binascii.Error:
        raise SecretsError(f"keyring entry for {name} is malformed", reason="keyring_damaged") from None


class KeyringSecrets:
    """Raw storage of named byte values in a keyring backend (validation happens in the store)."""

    def __init__(self, backend: Any, *, service: str = DEFAULT_SERVICE, lock_path: Path | None = None) -> None:
        self.backend = backend
        self.service = service
        self.lock_path = lock_path

    def _fail(self, action: str, name: str, exc: BaseException) -> SecretsError:
        # The backend's message is not echoed: we cannot vouch for what it contains.
        return SecretsError(
            f"keyring: could not {action} {name} ({type(exc).__name__})",
            hint=NO_KEYRING_HINT,
            reason="keyring_error",
        )

    def _get_raw(self, username: str) -> str | None:
        try:
            value = self.backend.get_password(self.service, username)
        except Exception as exc:
            raise self._fail("read", username, exc) from None
        return value if isinstance(value, str) else None

    def holds(self, name: str) -> bool:
        """Whether the keyring has an entry for ``name``, malformed or not (nothing is decoded)."""
        return self._get_raw(name) is not None

    def get(self, name: str) -> bytes | None:
        stored = self._get_raw(name)
        return None if stored is None else decode_value(name, stored)

    def _other(self, name: str, value: bytes) -> bool:
        """Whether the keyring's entry under ``name`` is other than ``value`` (a malformed one is)."""
        try:
            held = self.get(name)
        except SecretsError as exc:
            if exc.reason != "keyring_damaged":  # the keyring failing is its own error, not another value
                raise
            return True
        return held is not None and not same_value(name, held, value)  # set by hand: as typed

    def index(self) -> dict[str, datetime]:
        stored = self._get_raw(INDEX_USERNAME)
        if not stored:
            return {}
        try:
            doc = json.loads(stored)
            return {
                str(k): datetime.fromisoformat(str(v).replace("Z", "+00:00")).astimezone(UTC)
                for k, v in dict(doc).items()
            }
        except (ValueError, TypeError):
            raise SecretsError("keyring: the orion index entry is malformed", reason="keyring_damaged") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self.lock_path is None:
            yield
            return
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.lock_path), timeout=60, mode=0o600)
        try:
            make_private_dirs(self.lock_path.parent)
            lock.acquire()
        except Timeout:  # an OSError too: first
            raise SecretsError("keyring index is locked by another orion process", reason="vault_busy") from None
        except OSError as exc:  # a full disk or quota: the keyring index was not touched
            raise SecretsError(f"cannot create the keyring index's lock {self.lock_path}: {exc.strerror or exc}",
                               hint="free space, or make the directory writable",
                               reason="vault_unwritable") from None
        try:
            yield
        finally:
            lock.release()

    def _write_index(self, index: Mapping[str, datetime]) -> None:
        doc = {k: v.astimezone(UTC).isoformat().replace("+00:00", "Z") for k, v in sorted(index.items())}
        try:
            self.backend.set_password(self.service, INDEX_USERNAME, json.dumps(doc))
        except Exception as exc:
            raise self._fail("update", "the index", exc) from None

    def set_many(self, values: Mapping[str, bytes], now: datetime,
                 refuse: Callable[[list[str]], Exception] | None = None) -> None:
        """Set every value, then the index. On failure, restore what was there (best effort).

        With ``refuse``, a name the keyring already holds with another value (a malformed entry
        counts as another; a read that fails raises) when the lock is taken raises ``refuse(names)``
        before anything is set."""
        with self._locked():
            index = self.index()
            if refuse is not None:
                held = sorted(n for n, v in values.items() if self.holds(n) and self._other(n, v))
                if held:
                    raise refuse(held)
            previous: dict[str, str | None] = {}
            try:
                for name, value in values.items():
                    previous[name] = self._get_raw(name)
                    try:
                        self.backend.set_password(self.service, name, encode_value(value))
                    except Exception as exc:
                        raise self._fail("store", name, exc) from None
                    index[name] = now
                self._write_index(index)
            except BaseException:
                for name, old in previous.items():
                    with contextlib.suppress(Exception):
                        if old is None:
                            self.backend.delete_password(self.service, name)
                        else:
                            self.backend.set_password(self.service, name, old)
                raise

    def remove(self, name: str) -> bool:
        with self._locked():
            index = self.index()
            existed = self._get_raw(name) is not None
            if existed:
                try:
                    self.backend.delete_password(self.service, name)
                except Exception as exc:
                    raise self._fail("remove", name, exc) from None
            if index.pop(name, None) is not None or existed:
                self._write_index(index)
            return existed
