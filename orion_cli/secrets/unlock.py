"""Where the master password comes from, in a fixed order, without ever hanging a cron job.

1. ``ORION_MASTER_PASSWORD_FILE``: a file that only its owner can read (mode 0600). Recommended for
   cron and services. A set-but-unusable file is an error, not a silent fall-through.
2. ``ORION_MASTER_PASSWORD``: works, but environments leak (``/proc/<pid>/environ``, ``ps e``, crash
   reports), so it warns once per process on stderr (through the caller's ``warn`` callback).
3. The OS keyring, after ``orion secrets remember``.
4. A hidden prompt, only when the caller passes a ``prompt`` callable (the CLI does so only when
   stdin and stdout are terminals). The core never imports questionary.

With none of these: :class:`SecretsError` (exit 4) whose hint lists the options for cron.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orion_cli.core.errors import SecretsError
from orion_cli.core.files import NOT_FILE_OR_PIPE, open_without_blocking
from orion_cli.core.paths import blank_variable_problem
from orion_cli.secrets.vault import check_private_mode

PASSWORD_FILE_ENV = "ORION_MASTER_PASSWORD_FILE"  # noqa: S105 - a variable name
PASSWORD_ENV = "ORION_MASTER_PASSWORD"  # noqa: S105 - a variable name
KEYRING_SERVICE = "orion-vault"
MIN_NEW_PASSWORD_LENGTH = 8

PromptFn = Callable[[str], str]
"""Ask for one hidden line; return it. Raise KeyboardInterrupt/EOFError to cancel."""
KeyringGetFn = Callable[[str, str], "str | None"]

NO_SOURCE_HINT = (
    "for cron/services: put the password in a file only you can read and set "
    f"{PASSWORD_FILE_ENV}=/path/to/file (chmod 600); or set {PASSWORD_ENV} (discouraged: environments "
    "leak); or run on a terminal to be prompted"
)
REMEMBER = "`orion secrets remember`"


def usable_keyring() -> bool:
    """Whether this machine has an OS keyring `orion secrets remember` can store the password in (the
    filtered backend of :func:`~orion_cli.secrets.keyring_backend.system_keyring`).

    Review: the hints named `orion secrets remember` on machines with no keyring backend, where that
    command fails ("no usable OS keyring backend"): they name it only where it can work."""
    try:
        from orion_cli.secrets.keyring_backend import system_keyring

        system_keyring()
    except Exception:  # no backend, or none orion accepts (a placeholder, a plaintext file)
        return False
    return True


def no_source_hint() -> str:
    """NO_SOURCE_HINT, with `orion secrets remember` among the sources where a keyring can hold it."""
    if not usable_keyring():
        return NO_SOURCE_HINT
    file_source, rest = NO_SOURCE_HINT.split("; ", 1)
    return f"{file_source}; or run {REMEMBER} once to keep it in the OS keyring; {rest}"

_env_warned = False


@dataclass(frozen=True)
class MasterPassword:
    """The password plus where it came from (for messages: "from ORION_MASTER_PASSWORD_FILE")."""

    value: str
    source: str  # "file", "env", "keyring", "prompt"

    def __repr__(self) -> str:
        return f"MasterPassword(source={self.source!r}, value=<redacted>)"

    __str__ = __repr__


def keyring_username(vault_path: Path) -> str:
    """One keyring entry per vault file, so two ORION_HOMEs never share a remembered password."""
    return f"master-password:{Path(vault_path).expanduser().resolve()}"


def read_password_file(path: Path, *, variable: str = PASSWORD_FILE_ENV) -> str:
    """Read a password file: a regular file or a pipe (never a device), private (0600), one non-empty line."""
    try:
        fd = open_without_blocking(path)  # a named pipe nothing writes to reads as empty: no hung cron job
    except (OSError, ValueError) as exc:
        raise _not_opened(variable, exc) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # before the mode check, whose hint would say `chmod 600` the directory
            raise SecretsError(f"{variable}: {path} is a directory, not a password file", reason="password_file")
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            # A device's mode bits say nothing of a password: /dev/null got the hint `chmod 600 /dev/null`
            # (which, run as root, breaks it for every other user), and a private one would be read.
            raise SecretsError(f"{variable}: {path} is {NOT_FILE_OR_PIPE}, not a password file",
                               reason="password_file")
        check_private_mode(mode, path, what=f"password file ({variable})")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(64 * 1024)
    finally:
        os.close(fd)
    if not data and stat.S_ISFIFO(mode):
        # Opened without blocking, a named pipe nothing writes to reads as ended: "is empty" sent the
        # operator to look at a file that has no content of its own.
        raise SecretsError(f"{variable}: {path} is a pipe that gave nothing (nothing was writing to it, or its "
                           "writer closed it without a password)", reason="password_file",
                           hint="a pipe must already have its writer when orion starts (a process substitution, "
                                "<(pass show orion)); otherwise name a regular file (chmod 600)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretsError(f"{variable}: {path} is not UTF-8 text", reason="password_file") from None
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    if not text:
        raise SecretsError(f"{variable}: {path} is empty", reason="password_file")
    if "\n" in text:
        raise SecretsError(f"{variable}: {path} must hold the password on a single line", reason="password_file")
    return text


def _not_opened(variable: str, exc: OSError | ValueError | RuntimeError) -> SecretsError:
    """A password file that cannot be opened, its path never repeated: a password set in
    ``ORION_MASTER_PASSWORD_FILE`` (or given to ``--new-password-file``) by mistake would be shown."""
    from orion_cli.secrets.importer import not_opened

    if variable == PASSWORD_FILE_ENV:
        hint = (f"{PASSWORD_FILE_ENV} names a file holding the password on one line (chmod 600): check the path "
                f"it holds; the password itself never goes there ({PASSWORD_ENV} takes one, discouraged)")
    else:
        hint = (f"{variable} takes the path of a file holding the password on one line (chmod 600); on a terminal, "
                "leave it out to be prompted (hidden input)")
    return not_opened(variable, exc, hint=hint, reason="password_file")


class KeyringUnreadable(Exception):
    """The OS keyring is there but refused the read (a locked collection, no D-Bus session in cron)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # the exception's class name only: never its text, which may quote an entry


def default_keyring_get(service: str, username: str) -> str | None:
    """Look the password up in the OS keyring; no keyring on this machine means "not remembered".

    Uses the same filtered backend as ``remember`` (never a plaintext file or a backend that would
    prompt on the terminal). One that is there but fails the read raises :class:`KeyringUnreadable`:
    taken for "not remembered", a cron job was told to run `orion secrets remember`, which had been done
    and which then worked at a terminal, while cron kept failing (found reviewing the vault in use).
    """
    try:
        from orion_cli.secrets.keyring_backend import system_keyring

        backend = system_keyring()
    except Exception:  # no usable backend: nothing can have been remembered in it
        return None
    try:
        value = backend.get_password(service, username)
    except Exception as exc:  # a locked collection, D-Bus trouble
        raise KeyringUnreadable(type(exc).__name__) from None
    return value if isinstance(value, str) and value else None


def resolve_master_password(
    vault_path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    prompt: PromptFn | None = None,
    keyring_get: KeyringGetFn | None = default_keyring_get,
    warn: Callable[[str], None] | None = None,
    new: bool = False,
) -> MasterPassword:
    """Return the master password from the first available source (see the module docstring).

    ``new=True`` is for creating a vault: the prompt asks twice, the keyring is skipped (nothing can
    be remembered yet) and the password must be at least 8 characters.
    """
    env = os.environ if environ is None else environ
    blank = blank_variable_problem(PASSWORD_FILE_ENV, env.get(PASSWORD_FILE_ENV))
    if blank is not None:  # taken for unset, the keyring or a prompt would unlock instead, unasked
        raise blank
    file_var = env.get(PASSWORD_FILE_ENV, "").strip()
    if file_var:
        try:
            path = Path(file_var).expanduser()
        except RuntimeError as exc:  # "~someone/pw" for a user who does not exist
            raise _not_opened(PASSWORD_FILE_ENV, exc) from None
        password = read_password_file(path)
        return _checked(MasterPassword(password, "file"), new)
    env_value = env.get(PASSWORD_ENV)
    if env_value:
        _warn_env_once(warn)
        return _checked(MasterPassword(env_value, "env"), new)
    unreadable = ""
    if not new and keyring_get is not None:
        try:
            remembered = keyring_get(KEYRING_SERVICE, keyring_username(vault_path))
        except KeyringUnreadable as exc:
            remembered, unreadable = None, exc.kind
        if remembered:
            return MasterPassword(remembered, "keyring")
    if prompt is not None:
        if new:
            return prompt_new_password(prompt)
        typed = prompt("Master password for the orion vault:")
        if not typed:
            raise SecretsError("no master password entered", reason="locked")
        return MasterPassword(typed, "prompt")
    if unreadable:
        raise SecretsError(
            f"the vault is locked: the OS keyring could not be read ({unreadable}), and no other master password "
            "source is available (not a terminal)",
            hint=f"unlock the keyring for this session (cron has no desktop session to unlock it), or set "
                 f"{PASSWORD_FILE_ENV} (chmod 600)",
            reason="keyring_unreadable",
        )
    raise SecretsError(
        "the vault is locked and no master password source is available (not a terminal)",
        hint=no_source_hint(),
        reason="locked",
    )


def prompt_new_password(prompt: PromptFn, *, label: str = "New master password") -> MasterPassword:
    first = prompt(f"{label} (at least {MIN_NEW_PASSWORD_LENGTH} characters):")
    _check_new(first)
    second = prompt(f"Repeat the {label[0].lower() + label[1:]}:")
    if first != second:
        raise SecretsError("the two passwords differ; nothing was changed", reason="password_mismatch")
    return MasterPassword(first, "prompt")


def _checked(pw: MasterPassword, new: bool) -> MasterPassword:
    if new:
        _check_new(pw.value)
    return pw


def _check_new(password: str) -> None:
    if len(password) < MIN_NEW_PASSWORD_LENGTH:
        raise SecretsError(
            f"the new master password is too short (minimum {MIN_NEW_PASSWORD_LENGTH} characters); "
            "nothing was changed",
            reason="weak_password",
        )


def _warn_env_once(warn: Callable[[str], None] | None) -> None:
    global _env_warned
    if _env_warned or warn is None:
        return
    _env_warned = True
    warn(
        f"using {PASSWORD_ENV} from the environment; other processes of this user can read it. "
        f"Prefer {PASSWORD_FILE_ENV} (chmod 600)" + (f" or {REMEMBER}." if usable_keyring() else ".")
    )


def reset_warning_state() -> None:
    """For tests: make the next ORION_MASTER_PASSWORD use warn again."""
    global _env_warned
    _env_warned = False
