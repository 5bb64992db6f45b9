"""PostgreSQL URLs: a password holding "@", the URL's own options, per-schema locks, and failure hints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from orion_cli.core.errors import StorageError
from orion_cli.core.redact import scrub_url_secrets, url_secrets
from orion_cli.store.db import open_database

# -- a password holding an unescaped "@" --------------------------------------------------------

PLANTED = "hunter@Canary2024Secret"


def _orion(args: list[str], home: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION")}
    env.update({"ORION_HOME": str(home / "orion"), "HOME": str(home), "NO_COLOR": "1",
                "ORION__LOGGING__FILE": str(home / "orion.log"), **(extra_env or {})})
    return subprocess.run([sys.executable, "-m", "orion_cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("via", ["--db", "ORION__DATABASE__URL"])
def test_a_password_with_an_unescaped_at_is_refused_before_connecting_and_never_shown(tmp_path: Path,
                                                                                       via: str) -> None:
    """Found by a black-box run: the driver ended the password at its first "@" and resolved the rest as the
    host, so ``failed to resolve host 'Canary2024Secret@127.0.0.1'`` went to stderr, JSON and the log file."""
    from pgserver import free_port

    url = f"postgresql://orion:{PLANTED}@127.0.0.1:{free_port()}/orion"
    args, env = (["--db", url], None) if via == "--db" else ([], {"ORION__DATABASE__URL": url})
    done = _orion([*args, "--json", "init"], tmp_path, env)
    log = (tmp_path / "orion.log").read_text() if (tmp_path / "orion.log").exists() else ""
    said = done.stdout + done.stderr + log
    assert done.returncode == 3, said
    for piece in ("Canary2024Secret", "hunter", "resolve host"):
        assert piece not in said, piece
    record = json.loads([line for line in (done.stdout + done.stderr).splitlines() if line.startswith("{")][-1])
    assert record["reason"] == "storage_url"
    assert "%40" in done.stderr and "***" not in done.stderr.split("hint:", 1)[1].splitlines()[0]


@pytest.mark.parametrize("userinfo", ["orion:hunter@2024Secret", "orion:a@bcd/efg", "orion:pw?x@yzw"])
def test_every_form_of_an_at_in_the_password_is_refused(userinfo: str) -> None:
    with pytest.raises(StorageError) as refused:
        open_database(f"postgresql://{userinfo}@127.0.0.1:1/orion", migrate=False)
    assert refused.value.reason == "storage_url"
    assert "%40" in (refused.value.hint or "")


def test_a_percent_encoded_at_in_the_password_is_taken() -> None:
    db = open_database("postgresql://orion:hunter%402024Secret@127.0.0.1:1/orion", migrate=False)
    try:
        assert make_url(db.url).password == "hunter@2024Secret"
    finally:
        db.dispose()


def test_a_drivers_message_is_scrubbed_of_every_part_of_the_password() -> None:
    url = f"postgresql+psycopg://orion:{PLANTED}@127.0.0.1:55441/orion?sslpassword=KeyPass99"
    assert "Canary2024Secret" in url_secrets(url) and "KeyPass99" in url_secrets(url)
    said = scrub_url_secrets("failed to resolve host 'Canary2024Secret@127.0.0.1'; KeyPass99", url)
    assert said == "failed to resolve host '***@127.0.0.1'; ***"
