"""The encrypted vault file: format, key derivation, authenticated encryption, atomic writes, locking.

Format (version 1) — one UTF-8 JSON object, written as a whole and never edited in place::

    {
      "format": "orion-vault",
      "version": 1,
      "kdf": {"name": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": "<base64, 16 bytes>"},
      "cipher": {"name": "AES-256-GCM", "nonce": "<base64, 12 bytes>"},
      "check": "<base64, 32 bytes>",
      "ciphertext": "<base64: AES-256-GCM(plaintext) || 16-byte tag>"
    }

* **Key derivation.** ``scrypt(NFC(password), salt, n, r, p)`` yields 64 bytes: the first 32 are the
  AES-256 key, the last 32 an HMAC key. The parameters and salt live in the header, so a later release
  can raise the cost (``rotate`` rewrites the header with the current defaults). scrypt rather than
  PBKDF2: PBKDF2-HMAC-SHA256 at 600,000 iterations costs ~80 ms on the build machine (below the
  100 ms-per-guess floor we want) and is cheap on GPUs; scrypt at n=2^17, r=8 needs 128 MiB per guess.
* **Password check.** ``check = HMAC-SHA256(mac_key, "orion-vault/1 password check")``. It tells a
  wrong password (check differs) from a damaged ciphertext (check matches, tag fails), and costs an
  attacker exactly one KDF evaluation per guess, the same as the ciphertext itself.
* **Encryption.** AES-256-GCM (an AEAD: confidentiality + integrity), a fresh random 96-bit nonce on
  every write. The associated data is the canonical JSON (sorted keys, no spaces) of every header
  field except ``ciphertext``, so a flipped byte anywhere, a truncated file or a header taken from
  another vault all fail authentication. Fernet was not used because it cannot authenticate the
  header as associated data and is AES-128-CBC + HMAC rather than a 256-bit AEAD.
* **Plaintext** (inside the ciphertext): ``{"v": 1, "secrets": {name: {"value": <base64 bytes>,
  "updated_at": "<ISO-8601 UTC>"}}}`` padded with spaces to a multiple of 512 bytes, so the file
  size says little about which credentials are present.
* **On disk.** Written to a temp file in the same directory (mode 0600), fsync'd, renamed over the
  vault, then the directory is fsync'd. A vault that group or others can access is refused.
  Writers hold ``<vault>.lock`` (``filelock``) across read-modify-write, so concurrent writers never
  lose each other's update; readers need no lock because the rename is atomic.
* **A symbolic link** at the vault path (a vault shared by several ORION_HOMEs) is written through: the
  file it names is replaced (temp file and lock beside *that* file, so a process using the link and one
  using the file's own path take the same lock) and the link stays a link. A link to nothing is
  :class:`VaultLinkBroken` (exit 3) for every command, never "no vault yet": one was configured there.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets as _secrets
import stat
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orion_cli.core.errors import ExitCode, SecretsError
from orion_cli.core.files import DanglingLink, FileRefused, link_target, open_without_blocking, replace_file
from orion_cli.core.paths import make_private_dirs

FORMAT_NAME = "orion-vault"
FORMAT_VERSION = 1
CIPHER_NAME = "AES-256-GCM"
_CHECK_LABEL = b"orion-vault/1 password check"
_SALT_BYTES = 16
_NONCE_BYTES = 12
_PAD_TO = 512

# Production floor and ceiling for scrypt. The ceiling keeps a tampered header from making us
# allocate gigabytes; the floor keeps a tampered (or test) header from weakening a real vault.
MIN_SCRYPT_N = 2**17
_MAX_SCRYPT_N = 2**22
_MAX_SCRYPT_R = 32
_MAX_SCRYPT_P = 16
_MAX_SCRYPT_MEMORY = 1 << 30  # 128 * n * r bytes

_HEADER_KEYS = frozenset({"format", "version", "kdf", "cipher", "check", "ciphertext"})


class VaultLinkBroken(SecretsError):
    """The vault path is a symbolic link to nothing (exit 3, reason ``vault_link_dangling``).

    A secrets error (every place that handles an unusable vault handles it: `halt --cancel-open` goes on,
    alerts are off with a warning), but a configuration fault to fix, as a dangling config.toml is: the
    vault (shared, on a share not mounted?) is elsewhere, and an `encrypt` must not start a new one."""

    exit_code = ExitCode.CONFIG
    reason = "vault_link_dangling"

    def __init__(self, path: Path, exc: DanglingLink) -> None:
        super().__init__(f"vault {path}: {exc}; nothing was read or changed",
                         hint="mount or restore the file the link names, or point the link (or secrets.vault_path) "
                              "at the vault")


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost parameters. Stored in every vault header so they can be raised later."""

    n: int = MIN_SCRYPT_N
    r: int = 8
    p: int = 1
    name: str = "scrypt"

    @property
    def is_production_strength(self) -> bool:
        return self.name == "scrypt" and self.n >= MIN_SCRYPT_N and self.r >= 8 and self.p >= 1

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "n": self.n, "r": self.r, "p": self.p}


DEFAULT_KDF = KdfParams()
# Only for tests: ~1000x cheaper. Refused unless a Vault is built with allow_weak_kdf=True.
TEST_KDF = KdfParams(n=2**10, r=8, p=1)


@dataclass(frozen=True)
class Entry:
    """One stored secret. ``value`` is raw bytes (credentials are UTF-8 text, but bytes round-trip)."""

    value: bytes = field(repr=False)
    updated_at: datetime

    def __repr__(self) -> str:
        return f"Entry(value=<redacted>, updated_at={self.updated_at.isoformat()})"


@dataclass(frozen=True)
class _Header:
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    check: bytes
    ciphertext: bytes

    def aad(self) -> bytes:
        return _canonical(_header_fields(self.kdf, self.salt, self.nonce, self.check))


class DerivedKey:
    """The keys derived from the master password for one (kdf params, salt) pair.

    Kept in ``bytearray`` so :meth:`wipe` can overwrite them; the password itself is not retained.
    """

    __slots__ = ("_enc", "_mac", "kdf", "salt")

    def __init__(self, kdf: KdfParams, salt: bytes, material: bytes) -> None:
        self.kdf = kdf
        self.salt = salt
        self._enc = bytearray(material[:32])
        self._mac = bytearray(material[32:64])

    def __repr__(self) -> str:
        return f"DerivedKey(kdf={self.kdf!r}, key=<redacted>)"

    def matches(self, header: _Header) -> bool:
        return self.kdf == header.kdf and hmac.compare_digest(self.salt, header.salt)

    def check_value(self) -> bytes:
        return hmac.new(bytes(self._mac), _CHECK_LABEL, hashlib.sha256).digest()

    def aead(self) -> Any:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(bytes(self._enc))

    def wipe(self) -> None:
        for buf in (self._enc, self._mac):
            for i in range(len(buf)):
                buf[i] = 0


def derive_key(password: str, kdf: KdfParams, salt: bytes) -> DerivedKey:
    """Run the KDF. This is the deliberately slow step (~0.3 s at the default parameters)."""
    if kdf.name != "scrypt":
        raise SecretsError(f"unsupported key derivation function {kdf.name!r}")
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    secret = unicodedata.normalize("NFC", password).encode("utf-8")
    try:
        material = Scrypt(salt=salt, length=64, n=kdf.n, r=kdf.r, p=kdf.p).derive(secret)
    except MemoryError:
        # OpenSSL could not allocate what the parameters ask (the bounds allow up to 1 GiB, which a small
        # machine may not have; a tampered header may ask exactly that), or refuses their combination.
        mib = max(1, 128 * kdf.n * kdf.r // 2**20)  # scrypt's memory: 128·n·r bytes (p runs one at a time)
        raise SecretsError(
            f"the vault's key derivation (scrypt n={kdf.n}, r={kdf.r}, p={kdf.p}; about {mib} MiB of memory) "
            "could not be run: OpenSSL found too little memory for it, or does not take those parameters together",
            hint=f"orion writes n={DEFAULT_KDF.n}, r={DEFAULT_KDF.r}, p={DEFAULT_KDF.p}; other parameters nobody set "
                 "on purpose mean the vault's header was altered: restore it from a backup. If they were raised on "
                 f"purpose, run orion where {mib} MiB of memory is free",
        ) from None
    return DerivedKey(kdf, salt, material)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _header_fields(kdf: KdfParams, salt: bytes, nonce: bytes, check: bytes) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kdf": {**kdf.as_json(), "salt": _b64(salt)},
        "cipher": {"name": CIPHER_NAME, "nonce": _b64(nonce)},
        "check": _b64(check),
    }


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Vault:
    """One vault file. Stateless apart from its path and policy; keys are passed in per call."""

    def __init__(
        self,
        path: Path,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        allow_weak_kdf: bool = False,
        lock_timeout: float = 60.0,
    ) -> None:
        """``allow_weak_kdf`` exists for the test suite only; nothing in the CLI ever passes it."""
        self.path = Path(path)
        self.allow_weak_kdf = allow_weak_kdf
        self._check_kdf_policy(kdf)
        self.kdf = kdf
        self.lock_timeout = lock_timeout

    # -- policy -----------------------------------------------------------------------------

    def _check_kdf_policy(self, kdf: KdfParams) -> None:
        if kdf.name != "scrypt":
            raise SecretsError(f"vault {self.path}: unsupported key derivation function {kdf.name!r}")
        if not (1 <= kdf.r <= _MAX_SCRYPT_R and 1 <= kdf.p <= _MAX_SCRYPT_P):
            raise SecretsError(f"vault {self.path}: scrypt parameters out of range")
        if kdf.n < 2 or kdf.n & (kdf.n - 1) or kdf.n > _MAX_SCRYPT_N or 128 * kdf.n * kdf.r > _MAX_SCRYPT_MEMORY:
            raise SecretsError(f"vault {self.path}: scrypt parameters out of range")
        if not kdf.is_production_strength and not self.allow_weak_kdf:
            raise SecretsError(
                f"vault {self.path}: key derivation parameters are weaker than orion allows "
                f"(scrypt n={kdf.n}, r={kdf.r}); refusing to use it",
                hint="the vault header may have been tampered with; restore it from a backup",
            )

    # -- reading ----------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether there is a vault; :class:`VaultLinkBroken` for a link to nothing, which is no "not yet"."""
        if self.path.exists():
            return True
        self.target()  # raises for a link to nothing
        return False

    def target(self) -> Path:
        """The file the vault is: its path, or the file a symbolic link there names (:func:`link_target`)."""
        try:
            return link_target(self.path)
        except DanglingLink as exc:
            raise VaultLinkBroken(self.path, exc) from None
        except OSError as exc:
            raise SecretsError(f"cannot open vault {self.path}: {exc.strerror or exc}") from None

    def _read_raw(self) -> bytes:
        try:
            # Never waits: a plain open of a named pipe at the vault path (a mistyped secrets.vault_path)
            # blocked until something wrote to it, hanging every command and cron job that unlocks.
            fd = open_without_blocking(self.path)
        except FileNotFoundError:
            self.target()  # a link to nothing says so
            raise SecretsError(
                f"no vault at {self.path}", hint="create it with `orion secrets encrypt`", reason="no_vault"
            ) from None
        except OSError as exc:
            raise SecretsError(f"cannot open vault {self.path}: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise SecretsError(f"vault {self.path} is not a regular file")
            check_private_mode(st.st_mode, self.path, what="vault")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                return fh.read()
        finally:
            os.close(fd)

    def _parse(self, raw: bytes) -> _Header:
        damaged = SecretsError(
            f"vault {self.path} is damaged or is not an orion vault; nothing was changed",
            hint="restore the file from a backup, or move it aside and run `orion secrets encrypt`",
            reason="vault_damaged",
        )
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise damaged from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
            raise damaged
        version = doc.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            raise SecretsError(
                f"vault {self.path} has format version {version}; this orion reads version {FORMAT_VERSION}",
                hint="upgrade orion",
                reason="vault_version",
            )
        if version != FORMAT_VERSION or set(doc) != _HEADER_KEYS:
            raise damaged
        kdf_doc, cipher_doc = doc["kdf"], doc["cipher"]
        if not isinstance(kdf_doc, dict) or set(kdf_doc) != {"name", "n", "r", "p", "salt"}:
            raise damaged
        if not isinstance(cipher_doc, dict) or set(cipher_doc) != {"name", "nonce"}:
            raise damaged
        if cipher_doc["name"] != CIPHER_NAME:
            raise damaged
        for key in ("n", "r", "p"):
            value = kdf_doc[key]
            if not isinstance(value, int) or isinstance(value, bool):
                raise damaged
        if not isinstance(kdf_doc["name"], str):
            raise damaged
        kdf = KdfParams(n=kdf_doc["n"], r=kdf_doc["r"], p=kdf_doc["p"], name=kdf_doc["name"])
        try:
            salt = _strict_b64(kdf_doc["salt"])
            nonce = _strict_b64(cipher_doc["nonce"])
            check = _strict_b64(doc["check"])
            ciphertext = _strict_b64(doc["ciphertext"])
        except ValueError:
            raise damaged from None
        if len(salt) < _SALT_BYTES or len(nonce) != _NONCE_BYTES or len(check) != 32 or len(ciphertext) < 16:
            raise damaged
        self._check_kdf_policy(kdf)
        return _Header(kdf=kdf, salt=salt, nonce=nonce, check=check, ciphertext=ciphertext)

    def read_header(self) -> _Header:
        return self._parse(self._read_raw())

    def unlock(self, password: str, source: str | None = None) -> DerivedKey:
        """Derive the key for the vault as it is on disk and verify the password (exit 4 if wrong).

        ``source`` is where the password came from (``MasterPassword.source``): the hint of a wrong one
        names that place. It named ORION_MASTER_PASSWORD_FILE and the keyring for a password that came
        from ORION_MASTER_PASSWORD, which outranks the keyring and was never mentioned."""
        header = self.read_header()
        key = derive_key(password, header.kdf, header.salt)
        if not hmac.compare_digest(key.check_value(), header.check):
            key.wipe()
            raise SecretsError(
                f"wrong master password{WRONG_PASSWORD_FROM.get(source or '', '')} (or the vault header was "
                "altered); nothing was changed",
                hint=WRONG_PASSWORD_HINTS.get(source or "", WRONG_PASSWORD_HINTS[""]),
                reason="wrong_password",
            )
        return key

    def load(self, key: DerivedKey) -> dict[str, Entry]:
        """Decrypt the vault as it is on disk now. The caller owns and discards the result."""
        return self._decrypt(self.read_header(), key)

    def _decrypt(self, header: _Header, key: DerivedKey) -> dict[str, Entry]:
        if not key.matches(header):
            # The hint said only "run the command again", which then failed as a wrong password: the
            # other rotation set its own new password, which this process does not have.
            raise SecretsError(
                f"vault {self.path} was re-encrypted by another process (`orion secrets rotate`) after this one "
                "unlocked it; nothing was changed by this command",
                hint="the vault now opens with the new password that other rotation set, not the one this command "
                     "used (unless it kept the same one): run the command again with that password (a remembered "
                     "keyring entry was updated by it; ORION_MASTER_PASSWORD_FILE and ORION_MASTER_PASSWORD were "
                     "not)",
                reason="vault_rekeyed",
            )
        if not hmac.compare_digest(key.check_value(), header.check):
            raise SecretsError(
                "wrong master password (or the vault header was altered); nothing was changed",
                reason="wrong_password",
            )
        from cryptography.exceptions import InvalidTag

        try:
            plain = key.aead().decrypt(header.nonce, header.ciphertext, header.aad())
        except InvalidTag:
            raise SecretsError(
                f"vault {self.path} failed authentication: it is damaged or was tampered with; nothing was changed",
                hint="restore the file from a backup",
                reason="vault_damaged",
            ) from None
        return self._decode_payload(plain)

    def _decode_payload(self, plain: bytes) -> dict[str, Entry]:
        damaged = SecretsError(f"vault {self.path}: decrypted payload is malformed", reason="vault_damaged")
        try:
            doc = json.loads(plain.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise damaged from None
        if not isinstance(doc, dict) or doc.get("v") != 1 or not isinstance(doc.get("secrets"), dict):
            raise damaged
        out: dict[str, Entry] = {}
        for name, item in doc["secrets"].items():
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                raise damaged
            try:
                value = _strict_b64(item["value"])
                updated = datetime.fromisoformat(str(item.get("updated_at", "")).replace("Z", "+00:00"))
            except ValueError:
                raise damaged from None
            if updated.tzinfo is None:
                raise damaged
            out[name] = Entry(value=value, updated_at=updated.astimezone(UTC))
        return out

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writer lock. Every read-modify-write of the vault happens inside this."""
        from filelock import FileLock, Timeout

        try:
            make_private_dirs(self.path.parent)
        except OSError as exc:
            raise SecretsError(f"cannot create the vault's directory {self.path.parent}: {exc.strerror or exc}",
                               hint="make the directory writable", reason="vault_unwritable") from None
        # Beside the file the vault is: an orion using a link to a shared vault and one using its own path
        # must take one lock, or each rename drops the other's change.
        lock_path = str(self.target()) + ".lock"
        lock = FileLock(lock_path, timeout=self.lock_timeout, mode=0o600)
        try:
            lock.acquire()
        except Timeout:  # an OSError too: first
            raise SecretsError(
                f"vault {self.path} is locked by another orion process",
                hint=f"wait and retry; if no orion process is running, remove {lock_path}",
                reason="vault_busy",
            ) from None
        except OSError as exc:  # a full disk or quota: the vault was not touched
            raise SecretsError(f"cannot create the vault's lock {lock_path}: {exc.strerror or exc}",
                               hint="free space, or make the directory writable",
                               reason="vault_unwritable") from None
        try:
            yield
        finally:
            lock.release()

    def _encrypt_and_write(self, key: DerivedKey, entries: dict[str, Entry]) -> None:
        payload = {
            "v": 1,
            "secrets": {
                name: {"value": _b64(e.value), "updated_at": _iso(e.updated_at)}
                for name, e in sorted(entries.items())
            },
        }
        plain = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        plain += b" " * (-len(plain) % _PAD_TO)
        nonce = _secrets.token_bytes(_NONCE_BYTES)
        check = key.check_value()
        fields = _header_fields(key.kdf, key.salt, nonce, check)
        ciphertext = key.aead().encrypt(nonce, plain, _canonical(fields))
        doc = {**fields, "ciphertext": _b64(ciphertext)}
        try:
            atomic_write(self.path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
        except DanglingLink as exc:  # the target removed meanwhile: never a new vault in its place
            raise VaultLinkBroken(self.path, exc) from None
        except FileRefused as exc:
            raise SecretsError(f"cannot write the vault {self.path}: {exc}; nothing was changed",
                               reason="vault_unwritable") from None
        except OSError as exc:  # a full disk: nothing may suggest that the change was stored
            raise SecretsError(f"cannot write the vault {self.path}: {exc.strerror or exc}",
                               hint="free space or fix the directory, then run the command again",
                               reason="vault_unwritable") from None

    def create(self, password: str, entries: dict[str, Entry] | None = None) -> DerivedKey:
        """Create a new vault (refuses to overwrite one). Returns the key for further writes."""
        with self.locked():
            if self.exists():
                raise SecretsError(f"a vault already exists at {self.path}", reason="vault_exists")
            key = derive_key(password, self.kdf, _secrets.token_bytes(_SALT_BYTES))
            self._encrypt_and_write(key, dict(entries or {}))
            return key

    def update(self, key: DerivedKey, mutate: Callable[[dict[str, Entry]], None]) -> None:
        """Re-read, decrypt, apply ``mutate`` and write back, all under the writer lock.

        If ``mutate`` raises, nothing is written.
        """
        with self.locked():
            entries = self._decrypt(self.read_header(), key)
            mutate(entries)
            self._encrypt_and_write(key, entries)

    def rekey(self, key: DerivedKey, new_password: str) -> DerivedKey:
        """Re-encrypt everything under a new password, a new salt and the current default KDF cost.

        Atomic: until the rename, the old file (and the old password) stays valid; after it, only
        the new one works.
        """
        with self.locked():
            entries = self._decrypt(self.read_header(), key)
            new_key = derive_key(new_password, self.kdf, _secrets.token_bytes(_SALT_BYTES))
            self._encrypt_and_write(new_key, entries)
            return new_key


# Where a wrong master password came from (MasterPassword.source), for its error and hint.
WRONG_PASSWORD_FROM = {"file": " from ORION_MASTER_PASSWORD_FILE", "env": " from ORION_MASTER_PASSWORD",
                       "keyring": " remembered in the OS keyring", "prompt": ""}
WRONG_PASSWORD_HINTS = {
    "file": "the password came from the file ORION_MASTER_PASSWORD_FILE names, which outranks every other "
            "source: put the right one there (one line), or unset it",
    "env": "the password came from ORION_MASTER_PASSWORD, which outranks the keyring and the prompt: set the "
           "right one there, or unset it",
    "keyring": "the password remembered in the OS keyring does not open this vault (rotated elsewhere?): "
               "`orion secrets forget`, then `orion secrets remember` with the right one",
    "prompt": "type it again",
    "": "check ORION_MASTER_PASSWORD_FILE, ORION_MASTER_PASSWORD or the remembered keyring entry, or type it again",
}


def _strict_b64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("bad base64") from None


def check_private_mode(mode: int, path: Path, *, what: str) -> None:
    """Refuse a file that group or others can access (POSIX only; Windows has no mode bits)."""
    if os.name == "nt":
        return
    if stat.S_IMODE(mode) & 0o077:
        raise SecretsError(
            f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); refusing to use it",
            hint=f"chmod 600 {path}",
            reason="loose_permissions",
        )


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a 0600 temp file, fsync and rename; the old file survives any crash.

    A symbolic link at ``path`` is written through, the file it names replaced (a link to nothing is
    refused): :func:`orion_cli.core.files.replace_file`. The file is 0600 whatever it was.

    Called under the vault's writer lock (:meth:`Vault.locked`), which every writer of it holds: any temp
    file beside it then is a killed write's, holding the secrets as they were, under the password then,
    and is removed whatever its age."""
    make_private_dirs(path.parent)
    replace_file(path, data, mode=0o600, stale_after=0)


def default_vault_path() -> Path:
    """``$ORION_HOME/vault.json`` or ``vault.json`` in the platform's user data dir."""
    from orion_cli.core.paths import default_vault_path as _default

    return _default()
