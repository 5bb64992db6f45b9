"""The one API venue clients and commands use to read and change credentials.

``open_store(backend, ...)`` returns a :class:`SecretStore` over either the encrypted vault file or the
OS keyring. Reads return :class:`SecretValue`, whose ``repr``/``str``/``format`` are redacted and
which gives its value only through an explicit ``.reveal()`` / ``.reveal_bytes()``, so a value cannot
reach a log line or a traceback by accident. Use it as a context manager to wipe its buffer after
use::

    with store.get("kalshi_private_key") as pem:
        key = load_pem_private_key(pem.reveal_bytes(), None)

The vault is decrypted per call and only the requested entry is kept; the rest is dropped at once.
(Python cannot guarantee that copies made by ``bytes``/``str`` are overwritten; the buffers we own are.)

Every change is made inside ``audit(action, names)`` (see :data:`AuditScope`): action is ``"set"``,
``"remove"`` or ``"rotate"`` (name ``"*"``). The CLI takes the ledger's write transaction there and
appends the ``secrets.changed`` events before the change, committing them after it, so a busy or
broken ledger fails before anything changes. ``on_change(action, name)`` is also called after a
change is durable (and audited). No value is ever passed to either. ``before_change()`` is called
once before a change is made, after every check and password: the CLI opens the ledger the change is
audited in there, so a missing one is created only for a change that goes ahead, never by a command
that fails.
"""

from __future__ import annotations

import abc
import contextlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from orion_cli.core.errors import (
    ConfigError,
    NotFound,
    OrionError,
    Refused,
    SecretsError,
    StorageError,
    UsageError,
)
from orion_cli.core.revealed import note_revealed
from orion_cli.secrets.names import CATALOGUE, check_name, normalise, same_value, unknown_credential
from orion_cli.secrets.unlock import MIN_NEW_PASSWORD_LENGTH, MasterPassword, resolve_master_password
from orion_cli.secrets.vault import DEFAULT_KDF, DerivedKey, Entry, KdfParams, Vault, derive_key

if TYPE_CHECKING:
    from orion_cli.core.config import Settings

OnChange = Callable[[str, str], None]
BeforeChange = Callable[[], object]
PasswordProvider = Callable[[bool], MasterPassword]
"""Called with ``new=True`` when a vault is being created (ask twice), else ``False``."""
# What a caller enters around a change and its audit events (see SecretStore.set_many).
Hold = Callable[[], AbstractContextManager[Any]]
AuditScope = Callable[[str, list[str]], AbstractContextManager[Any]]
"""Called with (action, names) just before a change is made; the change is made inside it. It takes the
ledger's write lock and appends the audit events on entry (so a busy or unusable ledger refuses the
change before anything changed), commits when the block ends cleanly and rolls back when it raises."""


class ChangedButNotAudited(StorageError):
    """The change was made, but the audit transaction holding its events failed afterwards (its commit).

    Rare by construction (the lock is held and the events written before the change; only the commit
    comes after it), and said as what it is: the change stands, so "failed, retry" would be false; and
    it is no success either, since the audit log lacks it (exit 3, like any other ledger failure)."""

    reason = "changed_not_audited"
    password_changed: bool | None = None  # set by a rotation: whether the new password differs from the old

BACKENDS = ("vault", "keyring")
_List = list  # SecretStore.list shadows the builtin inside the class body


class SecretValue:
    """A secret in memory. Redacted in every textual form; ``reveal()`` is the only way in."""

    __slots__ = ("_buf", "_name")

    def __init__(self, name: str, value: bytes) -> None:
        self._name = name
        self._buf = bytearray(value)

    @property
    def name(self) -> str:
        return self._name

    def reveal(self) -> str:
        """The value as text (credentials are UTF-8); remembered so that no output repeats it."""
        try:
            text = bytes(self._buf).decode("utf-8")
        except UnicodeDecodeError:
            raise SecretsError(f"{self._name} is binary, not text; use reveal_bytes()") from None
        self._noted(text)
        return text

    def reveal_bytes(self) -> bytes:
        value = bytes(self._buf)
        self._noted(value.decode("utf-8", "ignore"))
        return value

    def _noted(self, text: str) -> None:
        """Output scrubs a revealed secret (core.revealed.note_revealed); a public identifier (an address) is
        shown as it is."""
        spec = CATALOGUE.get(self._name)
        if spec is None or spec.sensitive:
            note_revealed(text)

    def wipe(self) -> None:
        for i in range(len(self._buf)):
            self._buf[i] = 0
        self._buf = bytearray()

    def __enter__(self) -> SecretValue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()

    def __repr__(self) -> str:
        return f"SecretValue(name={self._name!r}, value=<redacted>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("secret values cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("secret values cannot be copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("secret values cannot be copied")


@dataclass(frozen=True)
class SecretInfo:
    """What ``secrets list`` shows: never a value."""

    name: str
    is_set: bool
    updated_at: datetime | None
    venue: str
    description: str
    known: bool  # in the catalogue
    # Where the value is: the backend ("vault", "keyring"), UNINDEXED for a keyring value orion's index
    # does not list (set by hand: no update time, used all the same), None when unset.
    held: str | None = None

    def as_json(self) -> dict[str, Any]:
        ts = self.updated_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z") \
            if self.updated_at else None
        return {
            "type": "secret",
            "name": self.name,
            "set": self.is_set,
            "updated_at": ts,
            "venue": self.venue,
            "description": self.description,
            "held": self.held,
        }


UNINDEXED = "keyring, outside orion's index"


@dataclass(frozen=True)
class CheckResult:
    """One credential's verdict from ``secrets check``; ``detail`` never contains the value."""

    name: str
    # "unreachable": the venue could not be asked (no verdict on the credential; exit 5, not 4).
    # "unreadable": the venue answered, but not about the credential (a 404, a body or field orion
    # cannot read, an unexpected error): no verdict either (exit 5). Only a refusal is "failed" (exit 4).
    status: Literal["ok", "invalid", "unset", "skipped", "failed", "unreachable", "unreadable"]
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status in ("ok", "unset", "skipped")

    def as_json(self) -> dict[str, Any]:
        return {"type": "secret_check", "name": self.name, "status": self.status, "passed": self.passed,
                "detail": self.detail}


# A venue's check: the store, and the settings of the command that runs it (its --config and environment).
OnlineCheck = Callable[["SecretStore", "Settings"], list[CheckResult]]
_ONLINE_CHECKS: dict[str, OnlineCheck] = {}


def register_online_check(venue: str, check: OnlineCheck) -> None:
    """Venue modules register a function that authenticates against the venue (``check --online``).

    It is given the command's settings and takes the venue's URL from them: a check that loaded its own
    read `$ORION_CONFIG` or the user's config where the command was given `--config`, and sent signed
    credentials to another endpoint than the one the operator chose (found in review).

    It must raise nothing for a rejected credential: return a ``CheckResult`` with status
    ``"failed"`` and a detail that names the venue's answer (never the credential). ``"failed"`` is
    for the venue refusing the credential only; an answer that says nothing about it is
    ``"unreadable"``, no answer ``"unreachable"``.
    """
    _ONLINE_CHECKS[venue] = check


def online_checks() -> dict[str, OnlineCheck]:
    return dict(_ONLINE_CHECKS)


def _now() -> datetime:
    return datetime.now(UTC)


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _validated(values: Mapping[str, str | bytes]) -> dict[str, bytes]:
    """Validate everything before anything is written: one bad value refuses the whole batch."""
    if not values:
        raise UsageError("no credentials to store")
    return {check_name(name): normalise(name, _as_bytes(value)) for name, value in values.items()}


def check_values(values: Mapping[str, str | bytes]) -> None:
    """Refuse (as :meth:`SecretStore.set_many` would) a batch with a bad value, without storing it or
    asking for a password: a command that must be confirmed says so only of a batch it could store."""
    _validated(values)


def _problem(exc: SecretsError) -> str:
    return exc.message.removesuffix("; nothing was written")


class SecretStore(abc.ABC):
    backend: str

    def __init__(self, on_change: OnChange | None, before_change: BeforeChange | None = None,
                 audit: AuditScope | None = None) -> None:
        self._on_change = on_change
        self._before_change = before_change
        self._audit = audit

    def _about_to_change(self) -> None:
        if self._before_change is not None:
            self._before_change()

    def _changed(self, action: str, names: list[str]) -> None:
        if self._on_change is not None:
            for name in names:
                self._on_change(action, name)

    @contextlib.contextmanager
    def _recorded(self, action: str, names: list[str], done: str) -> Iterator[None]:
        """Make the change in the block inside its audit transaction (``audit``), then ``on_change``.

        The order, and why: lock and events first, change, commit last. A failure to lock or to write
        the events (a busy ledger, a full disk) comes before the change, so "failed" is true; a failed
        change rolls the events back, so the log never claims a change that was not made. The one step
        after the change is the commit: if it fails, :class:`ChangedButNotAudited` says the change
        (``done``) was made. (Appending after the change, in its own transaction, had a busy ledger
        report "retry" for a vault already re-keyed under the new password.)
        """
        if self._audit is None:
            yield
        else:
            made = False
            try:
                with self._audit(action, names):
                    yield
                    made = True
            except Exception as exc:
                if not made:
                    raise
                why = exc.message if isinstance(exc, OrionError) else type(exc).__name__
                raise ChangedButNotAudited(
                    f"{done}, but its audit event could not be recorded: {why}",
                    hint="the change stands (do not repeat it); `orion audit tail` will not show it",
                ) from None
        self._changed(action, names)

    @abc.abstractmethod
    def _read(self, name: str) -> bytes | None: ...

    @abc.abstractmethod
    def _stored(self) -> dict[str, datetime]:
        """Names that are set, with their update times (no values)."""

    def _holds(self, name: str) -> bool:
        """Whether there is a value under ``name`` to remove."""
        return name in self._stored()

    def _held_unindexed(self, stored: Mapping[str, datetime]) -> frozenset[str]:
        """Catalogue names whose value the store holds though ``stored`` (its list of names) does not
        name them: none for the vault, whose names are its entries; see :class:`KeyringStore`."""
        return frozenset()

    def _where(self, name: str, stored: Mapping[str, datetime], unindexed: frozenset[str]) -> str | None:
        return self.backend if name in stored else UNINDEXED if name in unindexed else None

    @abc.abstractmethod
    def _write(self, values: dict[str, bytes], *, replace: bool) -> None:
        """Store ``values``; unless ``replace``, refuse (:func:`already_stored`) any name held with
        another value when the writers' lock is taken, writing nothing."""

    @abc.abstractmethod
    def _delete(self, name: str) -> bool: ...

    def get(self, name: str) -> SecretValue:
        """The secret, or :class:`SecretsError` (exit 4) if it is not set."""
        value = self._read(check_name(name))
        if value is None:
            raise SecretsError(
                f"credential {name} is not set",
                hint=f"store it with `orion secrets encrypt` (backend: {self.backend})",
                reason="secret_missing",
            )
        return SecretValue(name, value)

    def get_optional(self, name: str) -> SecretValue | None:
        value = self._read(check_name(name))
        return None if value is None else SecretValue(name, value)

    def reveal_optional(self, name: str) -> str | None:
        """The secret as stripped text for a client that keeps it in its own form; wiped here after."""
        value = self.get_optional(name)
        if value is None:
            return None
        with value:
            return value.reveal().strip()

    def set_many(self, values: Mapping[str, str | bytes], *, replace: bool = False,
                 hold: Hold = contextlib.nullcontext) -> list[str]:
        """Validate all, then store all at once. Returns the names stored, sorted.

        A name already held with another value is refused (:func:`already_stored`, exit 6, nothing
        written) unless ``replace``: an import or a prompt meant to add a credential silently replaced a
        stored one (and ``--shred-source`` then destroyed the file holding the other copy). The same value
        again replaces nothing and is stored (its update time renewed). The check is made again under the
        writers' lock, so a credential another process stores meanwhile is not replaced either.

        ``hold`` is entered around the write and its audit events, after every value is checked and
        every password asked for: the caller holds Ctrl-C/SIGTERM there, which it could not over a
        question or before a refusal."""
        clean = _validated(values)
        self._ready_to_write(create=True)
        names = sorted(clean)
        if not replace:
            self._refuse_replacing(clean)
        self._about_to_change()
        with hold(), self._recorded("set", names, f"stored {', '.join(names)} in the {self.backend}"):
            self._write(clean, replace=replace)
        return names

    def set(self, name: str, value: str | bytes, *, replace: bool = False) -> None:
        self.set_many({name: value}, replace=replace)

    def held(self, names: list[str]) -> list[str]:
        """Those of ``names`` that hold a value now (the vault asks for its password first)."""
        self._ready_to_write(create=False)
        return [n for n in names if self._holds(n)]

    def replacing(self, values: Mapping[str, str | bytes]) -> list[str]:
        """The names, sorted, storing ``values`` would replace: held now with another value (a malformed
        one counts as another; a keyring that fails to read raises). Validates ``values`` as :meth:`set_many` does."""
        return self._replacing(_validated(values))

    def _replacing(self, clean: Mapping[str, bytes]) -> list[str]:
        replaced = []
        for name in self.held(sorted(clean)):
            try:
                now = self._read(name)
            except SecretsError as exc:
                if exc.reason != "keyring_damaged":  # the keyring failing is its own error, not another value
                    raise
                replaced.append(name)  # held, but malformed: replaced all the same
                continue
            if now is not None and not same_value(name, now, clean[name]):  # a value set by hand as typed
                replaced.append(name)
        return replaced

    def refuse_replacing(self, values: Mapping[str, str | bytes]) -> None:
        """:func:`already_stored` when storing ``values`` would replace a stored credential (as
        :meth:`set_many` refuses it without ``replace``); nothing is written either way."""
        self._refuse_replacing(_validated(values))

    def _refuse_replacing(self, clean: Mapping[str, bytes]) -> None:
        replaced = self._replacing(clean)
        if replaced:
            raise already_stored(replaced, self.backend)

    def remove(self, name: str, *, hold: Hold = contextlib.nullcontext) -> None:
        """Delete one credential; ``hold`` as for :meth:`set_many`. No vault yet: nothing to ask for.

        A stored name outside the catalogue (one `list` shows) is removed too; a name that is neither
        stored nor in the catalogue is a mistyped name, not a credential that is "not set"."""
        check_name(name)
        self._ready_to_write(create=False)
        if not self._holds(name):  # asked before the change begins: nothing to remove changes nothing
            raise _not_set(name)
        self._about_to_change()
        with hold(), self._recorded("remove", [name], f"removed {name} from the {self.backend}"):
            if not self._delete(name):  # removed meanwhile by another process (its events roll back)
                raise _not_set(name)

    def list(self) -> list[SecretInfo]:
        """Every catalogue credential (set or not, and where) plus any other stored name, catalogue order
        first. A value the keyring holds outside orion's index is set: orion reads and uses it."""
        stored = self._stored()
        unindexed = self._held_unindexed(stored)
        out = [
            SecretInfo(s.name, s.name in stored or s.name in unindexed, stored.get(s.name), s.venue, s.description,
                       True, self._where(s.name, stored, unindexed))
            for s in CATALOGUE.values()
        ]
        out += [SecretInfo(n, True, stored[n], "", "", False, self.backend) for n in sorted(stored)
                if n not in CATALOGUE]
        return out

    def check(self) -> _List[CheckResult]:
        """Open the store and validate the format of every credential (no network), a value the keyring
        holds outside orion's index too: it is read and used as any other."""
        stored = self._stored()
        unindexed = self._held_unindexed(stored)
        results: list[CheckResult] = []
        for name in [*CATALOGUE, *sorted(n for n in stored if n not in CATALOGUE)]:
            if name not in stored and name not in unindexed:
                results.append(CheckResult(name, "unset", "not set"))
                continue
            if name not in CATALOGUE:
                results.append(CheckResult(name, "skipped", "not in the catalogue; format not checked"))
                continue
            try:
                value = self._read(name)
            except SecretsError as exc:  # stored malformed (a keyring entry set by hand): listed, not fatal
                if exc.reason != "keyring_damaged":  # the store itself failing is its own error, not a bad value
                    raise
                results.append(CheckResult(name, "invalid", _problem(exc)))
                continue
            if value is None:
                results.append(CheckResult(name, "unset", "not set"))
                continue
            try:
                normalise(name, value)
            except SecretsError as exc:
                results.append(CheckResult(name, "invalid", _problem(exc)))
            else:
                results.append(CheckResult(name, "ok", f"well-formed ({UNINDEXED})" if name in unindexed
                                           else "well-formed"))
            finally:
                del value
        return results

    def ready_to_write(self) -> None:
        """Ask for the password a write would need now, before the caller asks its user for values: a
        mistyped master password found after the last answer threw every answer away."""
        self._ready_to_write(create=True)

    def _ready_to_write(self, *, create: bool) -> None:  # noqa: B027 - only the vault asks for a password
        """Ask now for anything the write would ask for (a password), so the held write asks nothing;
        ``create``: also a new vault's password when there is no vault yet."""

    def rotate(self, new_password: str) -> bool:
        raise UsageError(f"rotate applies to the vault backend; this store uses {self.backend}")

    def close(self) -> None:  # noqa: B027 - optional hook; only the vault holds key material
        """Forget any key material held for this store."""

    def __enter__(self) -> SecretStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VaultStore(SecretStore):
    backend = "vault"

    def __init__(self, vault: Vault, password: PasswordProvider, on_change: OnChange | None = None,
                 before_change: BeforeChange | None = None, audit: AuditScope | None = None) -> None:
        super().__init__(on_change, before_change, audit)
        self.vault = vault
        self._password = password
        self._key: DerivedKey | None = None
        self._new_password: MasterPassword | None = None  # asked ahead of creating the vault

    @property
    def path(self) -> Path:
        return self.vault.path

    def _ready_to_write(self, *, create: bool) -> None:
        if self.vault.exists():
            self._key_for_existing()
        elif create and self._new_password is None:
            self._new_password = self._password(True)

    def unlock(self) -> None:
        """Obtain the password and derive the key now (a wrong password fails here, exit 4).

        A missing vault is refused first (``no_vault``): asked for no password, since none opens it."""
        if not self.vault.exists():
            raise SecretsError(f"no vault at {self.vault.path}", hint="create it with `orion secrets encrypt`",
                               reason="no_vault")
        self._key_for_existing()

    def _key_for_existing(self) -> DerivedKey:
        if self._key is None:
            pw = self._password(False)
            self._key = self.vault.unlock(pw.value, pw.source)
        return self._key

    def _entries(self) -> dict[str, Entry]:
        if not self.vault.exists():
            return {}
        return self.vault.load(self._key_for_existing())

    def _read(self, name: str) -> bytes | None:
        if not self.vault.exists():
            raise SecretsError(f"no vault at {self.vault.path}", hint="create it with `orion secrets encrypt`",
                               reason="no_vault")
        entries = self._entries()
        entry = entries.get(name)
        entries.clear()
        return None if entry is None else entry.value

    def _stored(self) -> dict[str, datetime]:
        return {name: e.updated_at for name, e in self._entries().items()}

    def _write(self, values: dict[str, bytes], *, replace: bool) -> None:
        now = _now()
        new_entries = {name: Entry(value, now) for name, value in values.items()}
        if not self.vault.exists():
            pw, self._new_password = self._new_password or self._password(True), None
            try:
                self._key = self.vault.create(pw.value, new_entries)
                return
            except SecretsError as exc:
                if exc.reason != "vault_exists":  # lost a race with another creator: update instead
                    raise
                self._key = self.vault.unlock(pw.value, pw.source)

        def mutate(entries: dict[str, Entry]) -> None:
            held = sorted(n for n, e in new_entries.items()
                          if n in entries and not hmac.compare_digest(entries[n].value, e.value))
            if held and not replace:  # stored by another process since the check: nothing is written
                raise already_stored(held, self.backend)
            entries.update(new_entries)

        self.vault.update(self._key_for_existing(), mutate)

    def _delete(self, name: str) -> bool:
        if not self.vault.exists():
            return False
        removed: list[bool] = []

        def mutate(entries: dict[str, Entry]) -> None:
            removed.append(entries.pop(name, None) is not None)
            if not removed[0]:
                raise _NothingToDo

        try:
            self.vault.update(self._key_for_existing(), mutate)
        except _NothingToDo:
            return False
        return True

    def check(self) -> _List[CheckResult]:
        """As for every store, but a missing vault is an error: there is nothing to open."""
        if not self.vault.exists():
            raise SecretsError(f"no vault at {self.vault.path}", hint="create it with `orion secrets encrypt`",
                               reason="no_vault")
        return super().check()

    def rotate(self, new_password: str) -> bool:
        """New password, new salt, current KDF cost; atomic. Whether the password changed: the same
        one again still re-encrypts (a fresh salt, today's KDF cost), but the old password keeps
        working, which the caller must not claim otherwise."""
        if len(new_password) < MIN_NEW_PASSWORD_LENGTH:
            raise SecretsError(
                f"the new master password is too short (minimum {MIN_NEW_PASSWORD_LENGTH} characters); "
                "nothing was changed",
                reason="weak_password",
            )
        if not self.vault.exists():
            raise SecretsError(f"no vault at {self.vault.path}", hint="create it with `orion secrets encrypt`",
                               reason="no_vault")
        old = self._key_for_existing()
        same = derive_key(new_password, old.kdf, old.salt)
        changed = not hmac.compare_digest(same.check_value(), old.check_value())
        same.wipe()
        self._about_to_change()
        done = ("re-encrypted the vault under the new master password: the old one no longer works" if changed
                else "re-encrypted the vault under a new salt (the same password still works)")
        try:
            with self._recorded("rotate", ["*"], done):
                self._key = self.vault.rekey(old, new_password)
        except ChangedButNotAudited as exc:
            exc.password_changed = changed  # what the caller warns about (a stale password) depends on it
            raise
        finally:
            if self._key is not old:  # re-keyed (audited or not): the old key is of no more use
                old.wipe()
        return changed

    def close(self) -> None:
        self._new_password = None
        if self._key is not None:
            self._key.wipe()
            self._key = None


class _NothingToDo(Exception):
    pass


def already_stored(names: list[str], backend: str) -> Refused:
    """A credential that would be replaced, held with another value, without ``--replace`` (exit 6,
    ``ALREADY_STORED``): names only."""
    listed = ", ".join(names)
    return Refused(
        f"{listed} {'is' if len(names) == 1 else 'are'} already stored in the {backend}, with another value: "
        "nothing was written",
        reason="ALREADY_STORED",
        hint="to replace what is stored, run the same command with --replace (`orion secrets list` shows what "
             "is stored and when it was set)",
    )


def _not_set(name: str) -> OrionError:
    """Nothing stored under ``name``: a credential orion knows is "not set"; any other name is mistyped."""
    if name not in CATALOGUE:
        return unknown_credential(name)
    return NotFound(f"credential {name} is not set", hint="see `orion secrets list`", reason="not_found")


class KeyringStore(SecretStore):
    backend = "keyring"

    def __init__(self, secrets: Any, on_change: OnChange | None = None,
                 before_change: BeforeChange | None = None, audit: AuditScope | None = None) -> None:
        super().__init__(on_change, before_change, audit)
        self._secrets = secrets

    def _read(self, name: str) -> bytes | None:
        value: bytes | None = self._secrets.get(name)
        return value

    def _stored(self) -> dict[str, datetime]:
        index: dict[str, datetime] = self._secrets.index()
        return index

    def _holds(self, name: str) -> bool:
        # The keyring itself, not only orion's index of it: a value set there by hand (or whose index
        # entry was lost) is read and used, so `secrets remove` must be able to delete it.
        return name in self._stored() or self._secrets.holds(name)

    def _held_unindexed(self, stored: Mapping[str, datetime]) -> frozenset[str]:
        # The keyring cannot list its entries: each catalogue name the index does not list is asked for,
        # as a client would read it (`list` said "unset" for a value orion uses and `remove` deletes).
        return frozenset(n for n in CATALOGUE if n not in stored and self._secrets.holds(n))

    def _write(self, values: dict[str, bytes], *, replace: bool) -> None:
        refuse = None if replace else lambda held: already_stored(held, self.backend)
        self._secrets.set_many(values, _now(), refuse=refuse)

    def _delete(self, name: str) -> bool:
        return bool(self._secrets.remove(name))


def open_store(
    backend: str = "vault",
    *,
    vault_path: Path | None = None,
    password: PasswordProvider | None = None,
    on_change: OnChange | None = None,
    before_change: BeforeChange | None = None,
    audit: AuditScope | None = None,
    keyring_backend: Any = None,
    keyring_service: str = "orion",
    kdf: KdfParams = DEFAULT_KDF,
    allow_weak_kdf: bool = False,
) -> SecretStore:
    """The single entry point: a vault store or a keyring store, per ``secrets.backend``.

    ``password`` defaults to the non-interactive unlock chain (file, env, keyring; no prompt); the
    CLI passes one that can prompt on a TTY and warn on stderr. ``keyring_backend`` defaults to the
    OS keyring (refused with a clear error when unusable). ``allow_weak_kdf`` is for tests only.
    """
    from orion_cli.secrets.vault import default_vault_path

    path = Path(vault_path) if vault_path is not None else default_vault_path()
    if backend == "vault":
        provider: PasswordProvider = password or (lambda new: resolve_master_password(path, new=new))
        return VaultStore(Vault(path, kdf=kdf, allow_weak_kdf=allow_weak_kdf), provider, on_change, before_change,
                          audit)
    if backend == "keyring":
        from orion_cli.secrets.keyring_backend import KeyringSecrets, system_keyring

        kr = keyring_backend if keyring_backend is not None else system_keyring()
        lock = path.parent / "keyring.lock"
        return KeyringStore(KeyringSecrets(kr, service=keyring_service, lock_path=lock), on_change,
                            before_change, audit)
    from orion_cli.core.redact import shown_setting

    raise ConfigError(f"secrets.backend: unknown backend {shown_setting(backend)}", hint='use "vault" or "keyring"')
