"""Where orion keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def test_private_dirs_are_0700_at_every_level_whatever_the_umask(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``umask 000`` the parents were made 0777: another local user could swap the ledger or
    the pairs file inside them. (The ledger's directories are made only for the default ledger, in the
    data dir: a ledger named by its path must be in a directory that exists.)"""
    import stat

    from orion_cli.core.paths import make_private_dirs
    from orion_cli.store.db import open_database

    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    old = os.umask(0)
    try:
        make_private_dirs(existing / "a" / "b")
        monkeypatch.setenv("ORION_HOME", str(existing / "x" / "y"))
        db = open_database(None)  # the default ledger, in the data dir
        db.dispose()
    finally:
        os.umask(old)
    for d in (existing / "a", existing / "a" / "b", existing / "x", existing / "x" / "y"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755  # what was there is left alone
    make_private_dirs(existing / "a" / "b")  # already there: nothing to do


def test_the_default_ledger_of_an_orion_home_with_a_question_mark_is_in_it(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The default URL was the path pasted after sqlite:///: ORION_HOME=/srv/a?b kept its ledger in /srv/a."""
    from sqlalchemy.engine import make_url

    from orion_cli.core.paths import default_database_url, sqlite_url
    from orion_cli.store.db import open_database

    home = tmp_path / "desk?1" / "50%"
    monkeypatch.setenv("ORION_HOME", str(home))
    assert make_url(default_database_url()).database == str(home / "orion.db")
    assert sqlite_url(Path("/a b/x.db")) == "sqlite:////a b/x.db"  # readable where nothing needs escaping
    open_database(None).dispose()
    assert (home / "orion.db").is_file() and not (tmp_path / "desk").exists()


@pytest.mark.parametrize("where", ["a file", "below a file"])
def test_an_orion_home_at_a_file_is_a_config_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             where: str) -> None:
    """Found in review: ORION_HOME naming a regular file (or a path below one) went unchecked: its
    config.toml could not exist, so `orion config show` ran on the defaults (exit 0) and `orion halt`
    said the ledger was missing (ORION_HOME one suspect among four). Exit 3 naming ORION_HOME."""
    from orion_cli.core import paths
    from orion_cli.core.config import load_settings
    from orion_cli.core.errors import ConfigError, ExitCode

    afile = tmp_path / "home-file"
    afile.write_text("not a directory\n")
    home = afile if where == "a file" else afile / "sub"
    monkeypatch.setenv("ORION_HOME", str(home))
    for call in (lambda: load_settings(environ={"ORION_HOME": str(home)}), paths.config_dir, paths.data_dir):
        with pytest.raises(ConfigError) as info:
            call()
        err = info.value
        assert err.exit_code == ExitCode.CONFIG and err.message.startswith(f"ORION_HOME ({str(home)!r}) ")
        assert "not a directory" in err.message and err.hint is not None and "ORION_HOME" in err.hint


def test_an_orion_home_that_is_a_directory_or_not_there_yet_is_accepted(tmp_path: Path) -> None:
    from orion_cli.core.paths import home_problem

    (tmp_path / "link").symlink_to(tmp_path)
    for home in (tmp_path, tmp_path / "not-yet" / "made", tmp_path / "link"):
        assert home_problem(str(home)) is None
