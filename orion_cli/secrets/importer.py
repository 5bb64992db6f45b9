"""Collecting credentials from the places older bots kept them: the environment, a ``.env`` file,
PEM files named by ``*_PATH`` variables, or a single value file; and shredding those sources.

Nothing here validates or stores: :meth:`SecretStore.set_many` validates the whole batch first.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from orion_cli.core.errors import SecretsError
from orion_cli.core.files import FileRefused, read_file_or_stream
from orion_cli.core.redact import looks_like_key
from orion_cli.secrets.dotenv import Unkept, describe_name, scan_dotenv
from orion_cli.secrets.names import CATALOGUE, same_value

MAX_VALUE_FILE_BYTES = 1 << 20


class Differing(NamedTuple):
    """An alias ignored although its value differs from the stored one (origins, never values)."""

    name: str  # the credential, e.g. "polymarket_private_key"
    ignored: str  # e.g. "old.env:PK"
    stored: str  # e.g. "old.env:POLYMARKET_PRIVATE_KEY"


@dataclass
class ImportPlan:
    """Values found (unvalidated), where each came from, and the plaintext files that were read."""

    values: dict[str, bytes] = field(default_factory=dict, repr=False)
    origins: dict[str, str] = field(default_factory=dict)  # name -> "KALSHI_API_KEY_ID" or "KALSHI_..._PATH=<file>"
    files: list[Path] = field(default_factory=list)
    shadowed: list[str] = field(default_factory=list)  # alias variables ignored because an earlier one won
    # The shadowed value variables whose value differs from the one stored (see collect).
    differing: list[Differing] = field(default_factory=list)
    # Variables of a .env file that no credential is read from: names, or the line of one that may be part of a
    # key (dotenv.describe_name); never values (see from_dotenv).
    unimported: list[str] = field(default_factory=list)
    # Values of a .env file its parse does not keep: replaced by a later assignment, commented out.
    unkept: list[Unkept] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"ImportPlan(names={sorted(self.values)}, files={[str(f) for f in self.files]})"


def _exists(path: Path) -> bool:
    """``Path.exists`` for text that may be anything pasted (a 2 KB key: a name too long, an error)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _shown_path(path: Path) -> str:
    """The path of a file that exists (a directory, a device: refused for what it is) for an error
    message, unless it is key material pasted where a path belongs (kept as a guard: a path that
    exists is a real one, so this only ever hides, never shows, what might be a key)."""
    text = str(path)
    if (looks_like_key(text) or looks_like_key(path.name)) and not _exists(path):
        return "the given path (it looks like a key, not a file path; not shown)"
    return text if len(text) <= 512 else text[:80] + "…"


NOT_REPEATED = "its path is not repeated here: a value given in its place would be a secret"


def not_opened(named_by: str, exc: OSError | ValueError | RuntimeError, *, hint: str | None,
               reason: str = "source_unreadable") -> SecretsError:
    """A file named by ``named_by`` (``--value-file``, ``old.env:KALSHI_PRIVATE_KEY_PATH``,
    ``ORION_MASTER_PASSWORD_FILE``) that could not be opened, saying why but never repeating its path.

    A path that cannot be opened may be no path at all but the value itself, given where its path
    belongs (``--value-file "123456789:TGTOKEN…"``, a password in ``ORION_MASTER_PASSWORD_FILE``), and
    DESIGN §7 keeps secret values out of every error: stderr, the JSON error record, cron's mail. Told
    apart by the shape of the text, a Telegram token, a webhook URL or a passphrase slipped through;
    so no such path is shown, whatever it looks like. The operator typed or set it, and the option or
    variable named says where to look."""
    import errno

    if isinstance(exc, RuntimeError):  # "~someone/x" for a user who does not exist
        why = "names the home directory of an unknown user"
    elif isinstance(exc, ValueError):  # an embedded NUL: no path can hold one
        why = "is not a possible path (it holds a NUL character)"
    elif exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
        why = "does not exist"
    else:
        why = f"cannot be opened ({exc.strerror or type(exc).__name__})"
    return SecretsError(f"the file named by {named_by} {why} ({NOT_REPEATED})", hint=hint, reason=reason)


VALUE_FILE_HINT = ("--value-file takes the path of a file holding the value (or <(command), with no file on disk); "
                   "to type the value instead, run `orion secrets encrypt` on a terminal (hidden prompts)")


def read_value_file(path: Path, *, named_by: str, hint: str | None = None) -> bytes:
    """Read one credential from a file; ``-`` is not accepted (no argv/stdin mixups).

    ``named_by`` is where the path came from (``--value-file``, a ``*_PATH`` variable, the prompt):
    a file that cannot be opened is named by it, never by its path (:func:`not_opened`), with ``hint``.
    """
    try:
        data = read_file_or_stream(path, MAX_VALUE_FILE_BYTES)
    except IsADirectoryError:  # its size says nothing about it being a credential
        raise SecretsError(f"{_shown_path(path)} is a directory, not a credential file",
                           reason="source_unreadable") from None
    except FileRefused as exc:  # /dev/zero was read until memory ran out; /dev/tty waited for typing
        what = f"larger than {MAX_VALUE_FILE_BYTES} bytes" if str(exc).startswith("larger") else str(exc)
        raise SecretsError(f"{_shown_path(path)} is {what}; not a credential file") from None
    except (OSError, ValueError) as exc:
        raise not_opened(named_by, exc, hint=hint) from None
    if data.endswith(b"\n"):  # `echo value > file` adds one; validators strip the rest for known names
        data = data[:-1]
        if data.endswith(b"\r"):
            data = data[:-1]
    return data


def collect(variables: Mapping[str, str], *, base_dir: Path, origin_prefix: str = "") -> ImportPlan:
    """Map documented variable names (see ``names.CATALOGUE``) to credentials.

    For each credential the first alias present with a non-empty value wins: the value variables
    first, then the ``*_PATH`` variables (read relative to ``base_dir``). A later value variable with a
    different value is listed in ``plan.differing``: it may be the key the old bot really used (its
    wallet's funds), so `--shred-source` must not destroy its only copy (a shadowed ``*_PATH``
    variable's file is neither read nor shredded).
    """
    plan = ImportPlan()
    for spec in CATALOGUE.values():
        found: str | None = None
        for var in spec.env:
            if variables.get(var, "").strip():
                if found is None:
                    found = var
                    plan.values[spec.name] = variables[var].encode("utf-8")
                    plan.origins[spec.name] = origin_prefix + var
                else:
                    plan.shadowed.append(origin_prefix + var)
                    if not same_value(spec.name, plan.values[spec.name], variables[var].encode("utf-8")):
                        plan.differing.append(Differing(spec.name, origin_prefix + var, origin_prefix + found))
        for var in spec.env_path:
            raw_path = variables.get(var, "").strip()
            if not raw_path:
                continue
            if found is not None:
                plan.shadowed.append(origin_prefix + var)
                continue
            found = var
            where = f"{origin_prefix}{var}"
            hint = (f"{var} names the file holding the key (a relative path is read from {base_dir}): check "
                    f"the path it gives; the key itself goes in {spec.env[0]}, without _PATH")
            try:
                path = Path(raw_path).expanduser()
            except RuntimeError as exc:  # "~someone/key.pem" for a user who does not exist
                raise not_opened(where, exc, hint=hint) from None
            if not path.is_absolute():
                path = base_dir / path
            plan.values[spec.name] = read_value_file(path, named_by=where, hint=hint)
            plan.origins[spec.name] = f"{origin_prefix}{var}={path}"
            plan.files.append(path)
    return plan


def looked_for() -> str:
    """The variables an import looks for, orion's own name for each credential first (and the
    ``*_PATH`` variable naming a file, where there is one): the hint of an import that found nothing,
    and README's list. Each also has older names (``names.CATALOGUE``), found as well."""
    return ", ".join(
        spec.env[0] + (f" (or a file named by {spec.env_path[0]})" if spec.env_path else "")
        for spec in CATALOGUE.values())


def from_environ(environ: Mapping[str, str] | None = None, *, base_dir: Path | None = None) -> ImportPlan:
    env = os.environ if environ is None else environ
    return collect(env, base_dir=base_dir or Path.cwd(), origin_prefix="$")


def from_dotenv(path: Path, *, named_by: str = "--from-file") -> ImportPlan:
    # A missing, unreadable or impossible path (too long) is a typed refusal, its path not repeated.
    data = read_value_file(path, named_by=named_by,
                           hint=f"{named_by} takes the path of a .env file (NAME=value lines); a value itself "
                                "never goes on the command line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretsError(f"{path} is not UTF-8 text", reason="bad_dotenv") from None
    scan = scan_dotenv(text, source=str(path))
    variables = scan.values
    plan = collect(variables, base_dir=path.parent, origin_prefix=f"{path.name}:")
    plan.files.insert(0, path)
    # Nor are the values the file's last assignment of a name replaces (a first wallet key under a
    # second one, an RPC_URL emptied further down) or a commented-out `# OLD_WALLET=0x…`.
    plan.unkept = scan.unkept
    # What the file holds besides credentials (KALSHI_PASSWORD, RPC_URL, OPENAI_API_KEY…): never
    # stored, so `--shred-source` must not destroy the file's copy of them (an empty one holds nothing).
    known = {var for spec in CATALOGUE.values() for var in (*spec.env, *spec.env_path)}
    plan.unimported = [describe_name(name, scan.lines[name], value) for name, value in variables.items()
                       if name not in known and value.strip()]
    return plan


def shred(path: Path) -> None:
    """Overwrite a plaintext source with random bytes, fsync, then delete it.

    Best effort by nature: copy-on-write and journaling filesystems, SSD wear levelling and backups
    may keep old blocks. It still removes the obvious copy that a later `cat` or backup would find.
    """
    try:
        size = path.stat().st_size
        with path.open("r+b", buffering=0) as fh:
            remaining = size
            while remaining > 0:
                chunk = min(remaining, 64 * 1024)
                fh.write(_secrets.token_bytes(chunk))
                remaining -= chunk
            fh.flush()
            os.fsync(fh.fileno())
            fh.seek(0)
            fh.truncate(0)
            os.fsync(fh.fileno())
        path.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        if path.exists():
            raise SecretsError(f"could not shred {path}: {exc.strerror}", hint=f"delete it by hand: rm {path}",
                               reason="shred_failed") from None
