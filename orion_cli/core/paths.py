"""Where orion keeps its files.

``ORION_HOME`` relocates config, data and vault together (one directory, easy to back up or to
point a test at); otherwise the platform's user config and data dirs are used.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "orion"


def home_override() -> Path | None:
    value = os.environ.get("ORION_HOME", "").strip()
    return Path(value).expanduser() if value else None


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


def user_config_file() -> Path:
    return config_dir() / "config.toml"


def default_database_path() -> Path:
    return data_dir() / "orion.db"


def default_database_url() -> str:
    return f"sqlite:///{default_database_path()}"


def default_vault_path() -> Path:
    return data_dir() / "vault.json"


def default_pairs_file() -> Path:
    return config_dir() / "pairs.toml"


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700 (an existing directory is left as it is).

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
