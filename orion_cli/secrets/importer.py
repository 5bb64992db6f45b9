"""Collecting credentials from the places older bots kept them: the environment, a ``.env`` file,
PEM files named by ``*_PATH`` variables, or a single value file; and shredding those sources.

Nothing here validates or stores: :meth:`SecretStore.set_many` validates the whole batch first.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import secrets as _secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from orion_cli.core.errors import SecretsError
from orion_cli.core.files import FileRefused, read_file_or_stream
from orion_cli.secrets.dotenv import parse_dotenv
from orion_cli.secrets.names import CATALOGUE, normalise

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

    def __repr__(self) -> str:
        return f"ImportPlan(names={sorted(self.values)}, files={[str(f) for f in self.files]})"


# A wallet key (0x + 64 hex), a bare hex secret, or a base64 DER/secret pasted as a path: 32+ characters of
# the key alphabets (base64's "/" included), nothing else. Real credential paths have an extension.
_KEYLIKE = re.compile(r"(0x)?[0-9a-fA-F]{32,}|[A-Za-z0-9+/=_-]{32,}")


def looks_like_key(text: str) -> bool:
    """Whether ``text``, given where a path belongs, is more likely key material than a path."""
    text = text.strip()
    if "\n" in text or "-----BEGIN" in text or "PRIVATE KEY" in text:
        return True
    return bool(_KEYLIKE.fullmatch(text)) and "." not in text


def _exists(path: Path) -> bool:
    """``Path.exists`` for text that may be anything pasted (a 2 KB key: a name too long, an error)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _shown_path(path: Path) -> str:
    """The path for an error message, unless it is key material pasted where a path belongs.

    A PEM key in ``KALSHI_PRIVATE_KEY_PATH`` (or typed at the path prompt) is a likely mistake, and
    the message would otherwise print the whole key to stderr, which cron keeps in its logs.
    """
    text = str(path)
    # Something is there: a real path (a Docker secret's /run/secrets/kalshi_private_key_pem has no dot
    # either), never a key pasted in its place.
    if (looks_like_key(text) or looks_like_key(path.name)) and not _exists(path):
        return "the given path (it looks like a key, not a file path; not shown)"
    return text if len(text) <= 512 else text[:80] + "…"


def read_value_file(path: Path) -> bytes:
    """Read one credential from a file (``--value-file``); ``-`` is not accepted (no argv/stdin mixups)."""
    try:
        data = read_file_or_stream(path, MAX_VALUE_FILE_BYTES)
    except IsADirectoryError:  # its size says nothing about it being a credential
        raise SecretsError(f"{_shown_path(path)} is a directory, not a credential file",
                           reason="source_unreadable") from None
    except FileRefused as exc:  # /dev/zero was read until memory ran out; /dev/tty waited for typing
        what = f"larger than {MAX_VALUE_FILE_BYTES} bytes" if str(exc).startswith("larger") else str(exc)
        raise SecretsError(f"{_shown_path(path)} is {what}; not a credential file") from None
    except OSError as exc:
        shown = _shown_path(path)
        raise SecretsError(f"cannot read {shown}: {exc.strerror}", reason="source_unreadable",
                           hint=None if "not shown" not in shown else "a *_PATH variable names a file; the key "
                                "itself goes in the variable without _PATH") from None
    if data.endswith(b"\n"):  # `echo value > file` adds one; validators strip the rest for known names
        data = data[:-1]
        if data.endswith(b"\r"):
            data = data[:-1]
    return data


def same_value(name: str, a: bytes, b: bytes) -> bool:
    """Whether two values given for credential ``name`` are the same credential once normalised
    (``0x``-prefixed or not, a UUID's case); compared as stripped text when either is malformed."""
    try:
        a, b = normalise(name, a), normalise(name, b)
    except SecretsError:
        a, b = a.strip(), b.strip()
    return hmac.compare_digest(a, b)


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
            if looks_like_key(raw_path) and not _exists(base_dir / raw_path):
                # Before the path is joined to base_dir: a base64 key's "/" would split it into parts.
                raise SecretsError(f"{origin_prefix}{var}: no file at the given path (not shown: it looks like a "
                                   "key rather than a file path)", reason="source_unreadable",
                                   hint="a *_PATH variable names a file: check that it exists; a key itself goes "
                                        "in the variable without _PATH")
            path = Path(raw_path).expanduser()
            if not path.is_absolute():
                path = base_dir / path
            plan.values[spec.name] = read_value_file(path)
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


def from_dotenv(path: Path) -> ImportPlan:
    data = read_value_file(path)  # a missing, unreadable or impossible path (too long) is a typed refusal
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretsError(f"{path} is not UTF-8 text", reason="bad_dotenv") from None
    variables = parse_dotenv(text, source=str(path))
    plan = collect(variables, base_dir=path.parent, origin_prefix=f"{path.name}:")
    plan.files.insert(0, path)
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
