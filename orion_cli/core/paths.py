"""Where orion keeps its files.

``ORION_HOME`` relocates config, data and vault together (one directory, easy to back up or to
point a test at); otherwise the platform's user config and data dirs are used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from orion_cli.core.errors import ConfigError

APP_NAME = "orion"


# orion's own variables that name a file or a directory (the configuration's ``ORION__…`` keys aside):
# what each names, for the refusal of an empty one.
PATH_VARIABLES = {
    "ORION_HOME": "the directory of the config file, ledger and vault",
    "ORION_CONFIG": "a config file",
    "ORION_MASTER_PASSWORD_FILE": "the file holding the vault's master password",
}


def blank_variable_problem(name: str, value: str | None) -> ConfigError | None:
    """An empty or blank ``name`` (one of :data:`PATH_VARIABLES`; None: unset): a configuration error
    (exit 3). It is what an unset shell variable gives (``ORION_CONFIG=$CFG orion trade --watch``, $CFG
    unset): taken for unset, the command ran, silently, under the user config's limits, on the default
    ledger or with another unlock source; as ``--config ""`` is a usage error, an empty variable is refused."""
    if value is None or value.strip():
        return None
    return ConfigError(f"{name} is set but empty: it names {PATH_VARIABLES[name]}, and orion will not guess "
                       "what an empty one meant (an unset shell variable?)",
                       hint=f"unset it (`unset {name}`) to use the default, or set it to a path",
                       reason="config_invalid")


def home_problem(value: str | None) -> ConfigError | None:
    """``ORION_HOME`` holds the default ledger, and with it the kill switch: a relative one is found in
    each process's own working directory, so an operator's `orion halt` would not stop a cron job or a
    service started elsewhere (as a relative ``database.url`` is refused, for the directory around it).
    Unset (None) is no problem; empty or blank is (:func:`blank_variable_problem`)."""
    if value is None:
        return None
    blank = blank_variable_problem("ORION_HOME", value)
    if blank is not None:
        return blank
    value = value.strip()
    try:
        home = Path(value).expanduser()
        if home.is_absolute():
            return _not_a_directory(value, home)
        why = ("is a relative path, looked for in each process's own working directory: a cron job or a service "
               "started elsewhere would keep a ledger, and a kill switch, of its own")
    except RuntimeError:  # ~nosuchuser
        why = "names the home directory of a user this machine does not have"
    hint = "give its absolute path" + ("" if value.startswith("~") else f', e.g. ORION_HOME="$PWD/{value}"')
    return ConfigError(f"ORION_HOME ({value!r}) {why}", hint=hint, reason="config_invalid")


def _not_a_directory(value: str, home: Path) -> ConfigError | None:
    """An ``ORION_HOME`` at a file (or below one) holds no config, ledger or vault: the user config was
    skipped unseen (``config show`` ran on the defaults, exit 0) and the ledger reported missing. One that
    does not exist yet is fine (``orion init`` makes it); one orion may not look into is left to what
    opens it."""
    try:
        mode = home.stat().st_mode
    except NotADirectoryError:
        why = "is below a file, not a directory"
    except OSError:
        return None
    else:
        if stat.S_ISDIR(mode):
            return None
        why = "names a file, not a directory"
    return ConfigError(f"ORION_HOME ({value!r}) {why}: the config file, ledger and vault are kept in it",
                       hint="point ORION_HOME at a directory (a missing one is made by `orion init`), or unset it",
                       reason="config_invalid")


def home_override() -> Path | None:
    """The directory ``ORION_HOME`` names; one that cannot be everyone's is a configuration error (exit 3)
    wherever it is used, never a directory made in the working directory or an internal error."""
    value = os.environ.get("ORION_HOME")
    problem = home_problem(value)
    if problem is not None:
        raise problem
    return None if value is None else Path(value.strip()).expanduser()


def config_dir() -> Path:
    home = home_override()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    home = home_override()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def state_dir() -> Path:
    """The user's state directory, ORION_HOME or not: what this machine saw of each ledger
    (:mod:`orion_cli.store.seen_head`) is kept outside the directory that holds the ledger, which a
    restore from a backup would roll back with it."""
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME))


def user_config_file() -> Path:
    return config_dir() / "config.toml"


def default_database_path() -> Path:
    return data_dir() / "orion.db"


def default_database_url() -> str:
    return sqlite_url(default_database_path())


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file at ``path``, the path taken literally.

    SQLAlchemy reads what follows ``sqlite:///`` as a URL: a ``?`` starts a query (``x?y.db`` opened
    a file ``x``) and ``%41`` is decoded (``xA.db``). Those two are escaped, which SQLAlchemy decodes
    back to exactly ``path``; the rest stays as typed, so the URL shown is still readable.
    """
    return "sqlite:///" + str(path).replace("%", "%25").replace("?", "%3F")


def default_vault_path() -> Path:
    return data_dir() / "vault.json"


def default_pairs_file() -> Path:
    return config_dir() / "pairs.toml"


def owned_like(path: Path, like: Path) -> None:
    """Give ``path``, just made by orion running as root, the owner and group of ``like`` (the ledger it
    sits beside, or the directory it was made in), so that its user can still use it.

    Found in review: root's one `orion --db /srv/orion/orion.db reconcile` (or trade) on a service user's
    ledger left ``….reconcile.lock`` and the ``….locks`` directory root's, and every later run of the
    service's cron reconcile and of its trades failed on them (exit 3). SQLite does the same for the
    ``-wal`` and ``-shm`` it makes. Nothing is changed for anyone but root, nor for a ``like`` root owns."""
    if os.name == "nt" or os.geteuid() != 0:
        return
    try:
        owner = like.stat()
        if owner.st_uid != 0:
            os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
    except OSError:  # gone meanwhile, or a file system without owners: as it was made
        pass


def make_private_dirs(path: Path, *, owner_like: Path | None = None) -> None:
    """Create ``path`` and any missing parents as 0700 (an existing directory is left as it is); made
    by root, each is given ``owner_like``'s owner where that is given (:func:`owned_like`).

    ``Path.mkdir(mode=..., parents=True)`` gives only the last directory that mode; the parents get
    the umask's default, so under ``umask 000`` another local user could replace the ledger, the
    pairs file or the vault inside a world-writable parent."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process
            continue
        if owner_like is not None:
            owned_like(directory, owner_like)
