"""``orion secrets``: every command, every exit code, a canary that must never leak, a real pty."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from secrets_testkit import MemoryKeyring
from typer.testing import CliRunner

from orion_cli.cli.app import app
from orion_cli.cli.commands import secrets as secrets_cmd
from orion_cli.secrets import store as store_mod
from orion_cli.secrets import unlock as unlock_mod
from orion_cli.secrets.store import CheckResult
from orion_cli.secrets.vault import TEST_KDF

if not any(g.name == "secrets" for g in app.registered_groups):  # until app.py registers it
    app.add_typer(secrets_cmd.app, name="secrets")

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "cli test master password"
WALLET_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # Hardhat #0, public test key
WALLET_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
KEY_ID = "8ccdb333-2be7-4fb0-a051-d86e415bfca4"
# Canary values: long, unique, and valid for their credential so they are really stored.
CANARY_PASSPHRASE = "CANARYpassphrase7f3e9b1c2d4a"
CANARY_API_KEY = "CANARYapikey0d9e8f7a6b5c4d3e"
CANARY_SECRET = "Q0FOQVJZLXNlY3JldC1ieXRlcy0xMjM0NTY3OA=="  # base64 of "CANARY-secret-bytes-12345678"
CANARY_PASSWORD = "CANARYmasterpassword5e6f7a8b"


@pytest.fixture(autouse=True)
def _cheap_kdf_and_no_real_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(secrets_cmd, "_TEST_KDF", TEST_KDF)
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    unlock_mod.reset_warning_state()
    yield
    unlock_mod.reset_warning_state()


@pytest.fixture(scope="module")
def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def home(isolated_home: Path) -> Path:
    return isolated_home


@pytest.fixture
def pw_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    f = tmp_path / "master-password"
    f.write_text(PASSWORD + "\n")
    f.chmod(0o600)
    monkeypatch.setenv("ORION_MASTER_PASSWORD_FILE", str(f))
    return f


def run(*args: str, env: dict[str, str | None] | None = None, pre: tuple[str, ...] = ()) -> Any:
    return CliRunner().invoke(app, [*pre, "secrets", *args], env=env, catch_exceptions=False)


def write_env(tmp_path: Path, pem: str, **extra: str) -> Path:
    (tmp_path / "kalshi.pem").write_text(pem)
    lines = {
        "KALSHI_API_KEY_ID": KEY_ID,
        "KALSHI_PRIVATE_KEY_PATH": "kalshi.pem",
        "POLYMARKET_PRIVATE_KEY": WALLET_KEY,
        "POLYMARKET_FUNDER": WALLET_ADDRESS,
        "POLYMARKET_SIGNATURE_TYPE": "2",
        **extra,
    }
    env = tmp_path / "old-bot.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    return env


def listed(*, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    result = run("list", "--json", env=env)
    assert result.exit_code == 0, result.output
    return {r["name"]: r for r in json.loads(result.stdout)}


def vault_of(home: Path) -> Path:
    return home / "vault.json"


# -- encrypt ------------------------------------------------------------------------------------


def test_encrypt_from_file_then_list(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    env = write_env(tmp_path, pem)
    result = run("encrypt", "--from-file", str(env), "--json")
    assert result.exit_code == 0, result.output
    stored = {r["name"]: r["source"] for r in json.loads(result.stdout)}
    assert stored["kalshi_private_key"].startswith("old-bot.env:KALSHI_PRIVATE_KEY_PATH=")
    assert (vault_of(home).stat().st_mode & 0o777) == 0o600
    rows = listed()
    assert rows["kalshi_private_key"]["set"] and rows["polymarket_funder_address"]["set"]
    assert not rows["polymarket_api_key"]["set"] and rows["polymarket_api_key"]["updated_at"] is None
    assert rows["kalshi_private_key"]["updated_at"].endswith("Z")
    assert rows["kalshi_private_key"]["held"] == "vault" and rows["polymarket_api_key"]["held"] is None
    assert env.exists()  # no --shred-source: kept


def test_encrypt_from_env(home: Path, pw_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PK", WALLET_KEY)
    monkeypatch.setenv("CLOB_API_KEY", "abc-key")
    monkeypatch.setenv("CLOB_PASS_PHRASE", "phrase")
    result = run("encrypt", "--from-env")
    assert result.exit_code == 0, result.output
    rows = listed()
    assert rows["polymarket_private_key"]["set"] and rows["polymarket_api_passphrase"]["set"]


def test_encrypt_one_value_file(tmp_path: Path, home: Path, pw_file: Path) -> None:
    f = tmp_path / "hook"
    f.write_text("https://hooks.example.com/services/T000/B000\n")
    assert run("encrypt", "--name", "alert_webhook_url", "--value-file", str(f)).exit_code == 0
    assert listed()["alert_webhook_url"]["set"]


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "alert_webhook_url"],
        ["--from-env", "--from-file", "x.env"],
        ["--name", "not_a_credential", "--value-file", "{f}"],
        ["--name", "Bad Name", "--value-file", "{f}"],
        ["--shred-source"],
        [],  # no TTY and no source
        ["--from-env"],  # nothing documented in the environment
    ],
)
def test_encrypt_usage_errors_exit_2(tmp_path: Path, home: Path, pw_file: Path, args: list[str]) -> None:
    f = tmp_path / "v"
    f.write_text("x")
    result = run("encrypt", *[a.replace("{f}", str(f)) for a in args])
    assert result.exit_code == 2, result.output
    assert not vault_of(home).exists()


@pytest.mark.parametrize("option", ["--value-file", "--from-file"])
@pytest.mark.parametrize("dash", ["-", "./-"])
def test_a_dash_for_a_secret_file_is_a_usage_error_not_a_file_named_dash(
        tmp_path: Path, home: Path, pw_file: Path, monkeypatch: pytest.MonkeyPatch, option: str, dash: str) -> None:
    """Found in review: `--value-file -` read a file named "-" in the working directory (exit 4, "cannot
    read -", or a stray file of that name imported) where stdin was meant. It is a usage error saying
    to pass a path; a file named "-" still works by its absolute path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_text(f"KALSHI_API_KEY_ID={KEY_ID}\n" if option == "--from-file" else f"{KEY_ID}\n")
    named = ["--name", "kalshi_api_key_id"] if option == "--value-file" else []
    result = run("encrypt", *named, option, dash, pre=("--json",))
    assert result.exit_code == 2, result.output
    assert f"{option} -: orion does not read secrets from stdin; pass the path of a file" in result.stderr
    assert not vault_of(home).exists()
    absolute = run("encrypt", *named, option, str(tmp_path / "-"))
    assert absolute.exit_code == 0, absolute.output
    assert listed()["kalshi_api_key_id"]["set"]


def test_rotate_new_password_file_dash_is_a_usage_error(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    before = vault_of(home).read_bytes()
    result = run("rotate", "--new-password-file", "-")
    assert result.exit_code == 2 and "orion does not read secrets from stdin" in result.stderr, result.output
    assert vault_of(home).read_bytes() == before


def test_bad_value_refused_vault_unchanged(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    before = vault_of(home).read_bytes()
    bad = tmp_path / "bad.env"
    bad.write_text(f"POLYMARKET_API_KEY=fine-key\nPOLYMARKET_FUNDER={WALLET_ADDRESS[:-3]}zzz\n")
    result = run("encrypt", "--from-file", str(bad))
    assert result.exit_code == 4
    assert "polymarket_funder_address" in result.stderr and "zzz" not in result.output
    assert vault_of(home).read_bytes() == before
    weak = tmp_path / "weak.pem"
    weak.write_text(rsa.generate_private_key(65537, 1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
    result = run("encrypt", "--name", "kalshi_private_key", "--value-file", str(weak))
    assert result.exit_code == 4 and "1024-bit" in result.stderr
    assert vault_of(home).read_bytes() == before


def test_shred_source(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    env = write_env(tmp_path, pem)
    result = run("encrypt", "--from-file", str(env), "--shred-source")
    assert result.exit_code == 6 and "--yes" in result.stderr  # no terminal to confirm on
    assert env.exists() and not vault_of(home).exists()
    result = run("encrypt", "--from-file", str(env), "--shred-source", "--yes")
    assert result.exit_code == 0, result.output
    assert not env.exists() and not (tmp_path / "kalshi.pem").exists()
    assert listed()["kalshi_private_key"]["set"]


OTHER_WALLET_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Hardhat #1, public


@pytest.mark.parametrize("yes", [(), ("--yes",)])
def test_encrypt_never_replaces_a_stored_credential_without_replace(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, yes: tuple[str, ...]) -> None:
    """Found by a docs review: `encrypt` silently replaced a credential already in the vault, and with
    `--shred-source` then destroyed the file holding the other copy. Now refused (exit 6, ALREADY_STORED,
    naming it, never its value): nothing stored, nothing shredded; `--replace` replaces it on purpose."""
    first = tmp_path / "first.env"
    first.write_text(f"POLYMARKET_PRIVATE_KEY={WALLET_KEY}\n")
    assert run("encrypt", "--from-file", str(first)).exit_code == 0
    vault_before = vault_of(home).read_bytes()
    events_before = _secrets_events()

    env = write_env(tmp_path, pem, POLYMARKET_PRIVATE_KEY=OTHER_WALLET_KEY)
    env_text = env.read_text()
    for args in (("--from-file", str(env), "--shred-source", *yes),
                 ("--name", "polymarket_private_key", "--value-file", str(tmp_path / "value"), "--shred-source", *yes)):
        (tmp_path / "value").write_text(OTHER_WALLET_KEY + "\n")
        refused = run("encrypt", *args, pre=("--json",))
        assert refused.exit_code == 6, refused.output
        error = json.loads(refused.stderr.strip().splitlines()[-1])
        assert error["reason"] == "ALREADY_STORED", error
        assert "polymarket_private_key is already stored in the vault" in error["message"]
        assert "--replace" in refused.stderr
        assert OTHER_WALLET_KEY not in refused.output and WALLET_KEY not in refused.output
        assert vault_of(home).read_bytes() == vault_before and _secrets_events() == events_before
        assert env.read_text() == env_text and (tmp_path / "kalshi.pem").exists() and (tmp_path / "value").exists()

    # The same value again replaces nothing: stored (and its source shredded when asked).
    same = run("encrypt", "--from-file", str(first), "--shred-source", *yes, pre=("--json",))
    if yes:
        assert same.exit_code == 0, same.output
        assert json.loads(same.stdout) == [{"type": "secret_stored", "name": "polymarket_private_key",
                                            "source": "first.env:POLYMARKET_PRIVATE_KEY", "replaced": False}]
        assert not first.exists()

    replaced = run("encrypt", "--from-file", str(env), "--shred-source", *yes, "--replace", pre=("--json",))
    if not yes:  # no terminal to confirm the shredding on: refused as before, for that reason only
        assert replaced.exit_code == 6 and '"NOT_CONFIRMED"' in replaced.stderr, replaced.output
        replaced = run("encrypt", "--from-file", str(env), "--replace", pre=("--json",))
    assert replaced.exit_code == 0, replaced.output
    rows = {r["name"]: r for r in json.loads(replaced.stdout)}
    assert rows["polymarket_private_key"]["replaced"] is True and rows["kalshi_api_key_id"]["replaced"] is False
    assert "replaced the stored polymarket_private_key" in replaced.stderr
    assert env.exists() != bool(yes)
    secrets = store_mod.open_store("vault", vault_path=vault_of(home), kdf=TEST_KDF, allow_weak_kdf=True)
    assert secrets.get("polymarket_private_key").reveal() == "0x" + OTHER_WALLET_KEY


def test_encrypt_prompts_skip_a_stored_credential_unless_replace(
        tmp_path: Path, home: Path, pw_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prompts' side of the same fix: an answer for a credential already stored would replace it, so
    it is not asked for (said so, with --replace); with --replace it is asked for, Enter keeping it."""
    from orion_cli.cli import prompts

    value = tmp_path / "value"
    value.write_text(WALLET_KEY + "\n")
    assert run("encrypt", "--name", "polymarket_private_key", "--value-file", str(value)).exit_code == 0
    answers = {"Kalshi API key id": KEY_ID, "Polymarket wallet": OTHER_WALLET_KEY}
    asked: list[str] = []

    def ask_secret(message: str) -> str:
        asked.append(message)
        return next((v for k, v in answers.items() if message.startswith(k)), "")

    monkeypatch.setattr(prompts, "interactive", lambda: True)
    monkeypatch.setattr(prompts, "ask_secret", ask_secret)
    monkeypatch.setattr(prompts, "ask_text", lambda message: "")
    kept = run("encrypt")
    assert kept.exit_code == 0, kept.output
    assert not any(m.startswith("Polymarket wallet") for m in asked) and any(m.startswith("Kalshi API") for m in asked)
    assert "polymarket_private_key is already stored: not asked (--replace to replace it)" in kept.stderr
    secrets = store_mod.open_store("vault", vault_path=vault_of(home), kdf=TEST_KDF, allow_weak_kdf=True)
    assert secrets.get("polymarket_private_key").reveal() == "0x" + WALLET_KEY

    asked.clear()
    replaced = run("encrypt", "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert "Polymarket wallet private key (32-byte hex) (already stored: Enter keeps it):" in asked
    assert secrets.get("polymarket_private_key").reveal() == "0x" + OTHER_WALLET_KEY

    # Review: with -q the "not asked" lines are gone; a run that asks nothing, or only is skipped, says why.
    answers.clear()
    quiet = run("-q", "encrypt")
    assert quiet.exit_code == 2 and "nothing to store" in quiet.stderr, quiet.output
    assert "not asked for the 2 already stored (kalshi_api_key_id, polymarket_private_key); --replace" in quiet.stderr


@pytest.mark.parametrize("case", ["missing-file", "missing-value-file", "bad-value", "unimported",
                                  "no-password-source", "ledger-directory-missing"])
def test_shred_source_without_yes_says_what_yes_would_not_fix_first(tmp_path: Path, home: Path, pw_file: Path,
                                                                       case: str, monkeypatch: pytest.MonkeyPatch,
                                                                       pem: str) -> None:
    """Found black-box: `encrypt --from-file <missing> --shred-source` with no terminal said NOT_CONFIRMED
    ("add --yes"), and with --yes then that the file does not exist: sent round twice. What can be checked
    before the confirmation (the source read, each value, the shred refusals, the password source, a
    named ledger's directory: the last two found in review) is checked first."""
    pre: tuple[str, ...] = ()
    if case in ("no-password-source", "ledger-directory-missing"):
        args, code = ("--from-file", str(write_env(tmp_path, pem))), 4
        reason = "locked"
        if case == "no-password-source":  # cron's usual mistake: no terminal, no password file
            monkeypatch.delenv("ORION_MASTER_PASSWORD_FILE")
        else:
            pre, code, reason = ("--db", str(tmp_path / "nodir" / "x.db")), 3, "storage_missing"
    elif case == "missing-file":
        args, code, reason = ("--from-file", str(tmp_path / "nope.env")), 4, "source_unreadable"
    elif case == "missing-value-file":
        args = ("--name", "polymarket_private_key", "--value-file", str(tmp_path / "nope"))
        code, reason = 4, "source_unreadable"
    else:
        env = tmp_path / "x.env"
        env.write_text("POLYMARKET_PRIVATE_KEY=0x1234\n" if case == "bad-value"
                       else f"POLYMARKET_PRIVATE_KEY={WALLET_KEY}\nRPC_URL=https://polygon.example/rpc\n")
        args, code = ("--from-file", str(env)), 4 if case == "bad-value" else 6
        reason = "invalid_secret" if case == "bad-value" else "UNIMPORTED_VARIABLES"
    for yes in ((), ("--yes",)):  # the same answer either way
        result = run("encrypt", *args, "--shred-source", *yes, pre=("--json", *pre))
        assert result.exit_code == code, result.output
        error = json.loads(result.stderr.strip().splitlines()[-1])
        assert error["reason"] == reason, error
    assert not vault_of(home).exists()


@pytest.mark.timeout(60)
def test_shred_source_leaves_a_pipe_alone(tmp_path: Path, home: Path, pw_file: Path) -> None:
    """Review: `--value-file <(…) --shred-source --yes` stored the credential, then failed to shred the
    pipe ("could not shred /dev/fd/63", exit 4, hint `rm /dev/fd/63`). A pipe leaves nothing on disk."""
    import os
    import threading

    r, w = os.pipe()  # as bash hands over `<(cmd)`: /dev/fd/N, held by its writer
    writer = threading.Thread(target=lambda: (os.write(w, b"0b9c5c1e-7a3d-4f5e-9a7b-2c3d4e5f6a7b\n"), os.close(w)))
    writer.start()
    try:
        result = run("encrypt", "--name", "kalshi_api_key_id", "--value-file", f"/dev/fd/{r}", "--shred-source",
                     "--yes")
    finally:
        writer.join()
        os.close(r)
    assert result.exit_code == 0, result.output
    assert f"not shredded: /dev/fd/{r} is not a regular file" in result.stderr
    assert listed()["kalshi_api_key_id"]["set"]


def test_shred_source_refused_when_an_ignored_alias_holds_a_different_key(
        tmp_path: Path, home: Path, pw_file: Path) -> None:
    """Review (D1): `POLYMARKET_PRIVATE_KEY` and `PK` with different wallet keys: the first was stored, the
    other only an info line (-q hid it), and `--shred-source --yes` destroyed the only copy of the key the
    old bot may have used. Now refused (exit 6, nothing stored or shredded) naming the variables, never
    the values; without --shred-source the ignored one is a warning, also under -q; the same key twice is
    no reason to refuse."""
    import secrets as pysecrets

    first, other = pysecrets.token_hex(32), pysecrets.token_hex(32)
    env = tmp_path / "two.env"
    env.write_text(f"POLYMARKET_PRIVATE_KEY=0x{first}\nPK=0x{other}\n")
    refused = run("encrypt", "--from-file", str(env), "--shred-source", "--yes", pre=("-q",))
    assert refused.exit_code == 6, refused.output
    assert "two.env:PK differs from two.env:POLYMARKET_PRIVATE_KEY" in refused.stderr
    assert json.loads(refused.stderr.strip().splitlines()[-1])["reason"] == "ALIASES_DIFFER"
    assert env.read_text() == f"POLYMARKET_PRIVATE_KEY=0x{first}\nPK=0x{other}\n"
    assert not vault_of(home).exists()

    kept = run("encrypt", "--from-file", str(env), pre=("-q",))
    assert kept.exit_code == 0, kept.output
    assert "warning: ignored two.env:PK: it holds a different polymarket_private_key than " \
           "two.env:POLYMARKET_PRIVATE_KEY" in kept.stderr
    assert env.exists() and listed()["polymarket_private_key"]["set"]
    # Found by a black-box tester: the warning said "which is the one stored" ahead of an import that a
    # malformed value then refused whole ("nothing was written"): it names the one taken, not stored.
    env.write_text(f"POLYMARKET_PRIVATE_KEY=0x{first}\nPK=0x{other}\nKALSHI_API_KEY_ID=not a key id\n")
    failed = run("encrypt", "--from-file", str(env))
    assert failed.exit_code == 4 and "nothing was written" in failed.stderr, failed.output
    assert "which is the one taken" in failed.stderr and "the one stored" not in failed.stderr, failed.stderr
    said_before = failed.output

    env.write_text(f"POLYMARKET_PRIVATE_KEY=0x{first}\nPK={first.upper()}\n")  # one key under both names
    same = run("encrypt", "--from-file", str(env), "--shred-source", "--yes")
    assert same.exit_code == 0, same.output
    assert "warning" not in same.stderr and "ignored two.env:PK (an earlier alias" in same.stderr
    assert not env.exists()
    said = refused.output + kept.output + same.output + said_before
    assert not any(v in said.lower() for v in (first, other))


@pytest.mark.parametrize("option", ["--value-file", "--from-file"])
@pytest.mark.parametrize("value", ["123456789:TGTOKENabcdefghijklmnopqrstuvwxyz012",
                                   "https://hooks.slack.com/services/T0/B0/CANARYwebhook", CANARY_PASSPHRASE])
def test_a_value_given_where_its_file_belongs_is_never_printed(home: Path, pw_file: Path, option: str,
                                                               value: str) -> None:
    """Black-box review: `secrets encrypt --name telegram_bot_token --value-file "123456789:TGTOKEN…"` exited 4
    printing the token (`cannot read 123456789:TGTOKEN…: No such file or directory`), in the JSON error
    record too, with a hint about *_PATH variables this command does not have. Now the option is named,
    the path never repeated, and the hint is about this option; exit 4, nothing stored."""
    args = ("--name", "telegram_bot_token", "--value-file", value) if option == "--value-file" else (option, value)
    result = run("encrypt", *args, pre=("--json",))
    assert result.exit_code == 4, result.output
    said = result.stdout + result.stderr
    assert value not in said and "TGTOKEN" not in said and "CANARY" not in said, said
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["message"].startswith(f"the file named by {option} does not exist") and "not repeated" in said
    assert f"hint: {option} takes the path of" in result.stderr and "_PATH" not in result.stderr
    assert not vault_of(home).exists()


def test_shred_source_refused_when_the_file_holds_variables_not_imported(
        tmp_path: Path, home: Path, pw_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Black-box review: `--from-file mixed.env --shred-source --yes` with KALSHI_PASSWORD, RPC_URL and
    OPENAI_API_KEY beside POLYMARKET_PRIVATE_KEY stored the one credential and shredded the file: the
    other values were destroyed without a word (the terminal's confirmation did not name them either).
    Now refused (exit 6, UNIMPORTED_VARIABLES, nothing stored or shredded, even with --yes or at a
    terminal) naming the variables, never their values; an empty one holds nothing and is no reason."""
    from orion_cli.cli import prompts

    text = (f"POLYMARKET_PRIVATE_KEY={WALLET_KEY}\nKALSHI_PASSWORD=CANARYkalshipw\n"
            "RPC_URL=https://polygon.example/CANARYrpc\nexport OPENAI_API_KEY='CANARY-sk-123'\nEMPTY=\n")
    env = tmp_path / "mixed.env"
    env.write_text(text)
    refused = run("encrypt", "--from-file", str(env), "--shred-source", "--yes", pre=("-q",))
    assert refused.exit_code == 6, refused.output
    assert "also holds variables orion does not import (KALSHI_PASSWORD, RPC_URL, OPENAI_API_KEY)" in refused.stderr
    assert "EMPTY" not in refused.stderr and "CANARY" not in refused.output
    assert json.loads(refused.stderr.strip().splitlines()[-1])["reason"] == "UNIMPORTED_VARIABLES"
    assert env.read_text() == text and not vault_of(home).exists()

    monkeypatch.setattr(prompts, "interactive", lambda: True)  # no confirmation is asked for: refused first
    monkeypatch.setattr(prompts, "confirm", lambda *a, **k: pytest.fail("asked to confirm"))
    assert run("encrypt", "--from-file", str(env), "--shred-source").exit_code == 6
    assert env.read_text() == text and not vault_of(home).exists()

    env.write_text(f"POLYMARKET_PRIVATE_KEY={WALLET_KEY}\nEMPTY=\n")  # only what is imported: shredded
    done = run("encrypt", "--from-file", str(env), "--shred-source", "--yes")
    assert done.exit_code == 0, done.output
    assert not env.exists() and listed()["polymarket_private_key"]["set"]


OTHER_WALLET_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Hardhat #1, public


@pytest.mark.parametrize(("text", "named"), [
    (f"POLYMARKET_PRIVATE_KEY={OTHER_WALLET_KEY}\nPOLYMARKET_PRIVATE_KEY={WALLET_KEY}\n",
     "POLYMARKET_PRIVATE_KEY on line 1 (replaced on line 2)"),
    (f"RPC_URL=https://rpc.example/CANARYrpc\nRPC_URL=\nPOLYMARKET_PRIVATE_KEY={WALLET_KEY}\n",
     "RPC_URL on line 1 (emptied on line 2)"),
    (f"# the old wallet, kept in case\n#  export OLD_WALLET='{OTHER_WALLET_KEY}'\n"
     f"POLYMARKET_PRIVATE_KEY={WALLET_KEY}\n",
     "OLD_WALLET on line 2 (commented out)"),
], ids=["replaced", "emptied", "commented-out"])
def test_shred_source_refused_when_the_file_holds_values_its_parse_drops(
        tmp_path: Path, home: Path, pw_file: Path, text: str, named: str) -> None:
    """Review: the UNIMPORTED_VARIABLES refusal looked at each name's last assignment only. A first
    wallet key under a second, an RPC_URL emptied further down, a commented-out `# OLD_WALLET=0x…`:
    the one key was stored and the file shredded, the other value lost without a word. Refused now
    (exit 6, nothing stored or shredded), naming the variable and its lines, never the value."""
    env = tmp_path / "old.env"
    env.write_text(text)
    refused = run("encrypt", "--from-file", str(env), "--shred-source", "--yes", pre=("-q",))
    assert refused.exit_code == 6, refused.output
    assert f"also holds values no import keeps ({named})" in refused.stderr
    assert OTHER_WALLET_KEY not in refused.output and "CANARY" not in refused.output
    assert json.loads(refused.stderr.strip().splitlines()[-1])["reason"] == "UNIMPORTED_VARIABLES"
    assert env.read_text() == text and not vault_of(home).exists()


def test_a_refused_shred_never_prints_a_line_of_key_material_read_as_a_name(
        tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    """Found in review: a line of base64 ending in "==" reads as an assignment (the name ``Zm9v…MQ`` given
    "="), and so does the last line of a commented-out PEM block: the refusal printed such "names", secret
    material, on stderr and in the JSON error. They are described by their line alone."""
    import base64
    import secrets as pysecrets

    # A bare secret in base64 with "==" padding, and an old key commented out whose last line reads so too.
    while True:
        bare = base64.b64encode(pysecrets.token_bytes(16)).decode()  # 24 characters, ending "=="
        if bare[0].isalpha() and bare[:-2].isalnum() and bare[:-2] not in (bare[:-2].upper(), bare[:-2].lower()):
            break
    body = "".join(pem.splitlines()[1:-1])
    tail = body[-22:]  # stands for the last line of an old key, made to end "==" (its padding)
    while not (tail[0].isalpha() and tail.isalnum() and tail not in (tail.upper(), tail.lower())):
        tail = base64.b64encode(pysecrets.token_bytes(16)).decode()[:-2]
    old_key = ["#-----BEGIN PRIVATE KEY-----", *(f"#{body[i:i + 64]}" for i in range(0, 128, 64)), f"#{tail}==",
               "#-----END PRIVATE KEY-----"]
    env = tmp_path / "old.env"
    text = "\n".join([f"POLYMARKET_PRIVATE_KEY={WALLET_KEY}", bare, "RPC_URL=https://rpc.example", *old_key]) + "\n"
    env.write_text(text)
    refused = run("encrypt", "--from-file", str(env), "--shred-source", "--yes", pre=("--json",))
    assert refused.exit_code == 6, refused.output
    for material in (bare[:-2], tail, body[:40]):
        assert material not in refused.output, refused.output
    assert "variables orion does not import (a value on line 2 (its name not shown: it may be part of a key), " \
           "RPC_URL)" in refused.stderr, refused.stderr
    assert "a value on line 7 (its name not shown: it may be part of a key) (commented out)" in refused.stderr
    assert env.read_text() == text and not vault_of(home).exists()


@pytest.mark.parametrize("kept", ["pem", "hex"])
def test_shred_source_refused_for_key_material_commented_out_without_an_assignment(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, kept: str) -> None:
    """Found by a black-box review: a commented-out PEM private key whose base64 lines hold "+" or "/" (as real
    ones do) read as no assignment, and `--shred-source --yes` destroyed the file, the only copy of that key;
    so with a bare wallet key in a comment. Refused now (exit 6, nothing stored or shredded), by line."""
    if kept == "pem":
        lines = pem.strip().splitlines()
        old = [f"# {lines[0]}", "# MIIBVQ+GkqhkiG9w0/Gp3/LQmlQ", "# AbCdEf+gh==", f"# {lines[-1]}"]
    else:
        old = [f"# the old wallet, retired: {OTHER_WALLET_KEY.removeprefix('0x')}"]
    env = tmp_path / "old.env"
    text = "\n".join([f"POLYMARKET_PRIVATE_KEY={WALLET_KEY}", *old]) + "\n"
    env.write_text(text)
    refused = run("encrypt", "--from-file", str(env), "--shred-source", "--yes", pre=("--json",))
    assert refused.exit_code == 6, refused.output
    assert json.loads(refused.stderr.strip().splitlines()[-1])["reason"] == "UNIMPORTED_VARIABLES"
    assert "a value on line 2 (its name not shown: it may be part of a key) (commented out)" in refused.stderr
    assert OTHER_WALLET_KEY.removeprefix("0x") not in refused.output and "AbCdEf" not in refused.output
    assert env.read_text() == text and not vault_of(home).exists()


def test_shred_source_not_refused_for_what_the_import_keeps(tmp_path: Path, home: Path, pw_file: Path) -> None:
    """Prose comments, a value assigned twice alike, an assignment emptied and set again, and a
    commented-out copy of the value imported hold nothing the shred destroys: shredded as before."""
    env = tmp_path / "old.env"
    env.write_text(f"# Polymarket: see https://docs.example/?a=b\n# e.g. PK=... works too\n#EMPTY=\n"
                   f"POLYMARKET_PRIVATE_KEY=\nPOLYMARKET_PRIVATE_KEY={WALLET_KEY}\n"
                   f"# POLYMARKET_PRIVATE_KEY={WALLET_KEY}\nPOLYMARKET_PRIVATE_KEY={WALLET_KEY}\n")
    done = run("encrypt", "--from-file", str(env), "--shred-source", "--yes")
    assert done.exit_code == 0, done.output
    assert not env.exists() and listed()["polymarket_private_key"]["set"]


def test_shred_not_done_when_import_fails(tmp_path: Path, home: Path, pw_file: Path) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text("POLYMARKET_PRIVATE_KEY=0x1234\n")
    assert run("encrypt", "--from-file", str(bad), "--shred-source", "--yes").exit_code == 4
    assert bad.exists()


# -- unlocking ----------------------------------------------------------------------------------


def test_wrong_password_exit_4_vault_untouched(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    before = vault_of(home).read_bytes()
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password")
    wrong.chmod(0o600)
    for args in (["list"], ["remove", "polymarket_signature_type"], ["check"]):
        result = run(*args, env={"ORION_MASTER_PASSWORD_FILE": str(wrong)})
        assert result.exit_code == 4 and "wrong master password" in result.stderr
    assert vault_of(home).read_bytes() == before


def test_a_wrong_password_is_blamed_on_the_source_that_gave_it(tmp_path: Path, home: Path, pw_file: Path, pem: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Black-box review: with a wrong ORION_MASTER_PASSWORD, `secrets check` said "hint: check
    ORION_MASTER_PASSWORD_FILE / the remembered keyring entry, or type it again": neither was in play.
    The error and its hint name the source that supplied the password."""
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password")
    wrong.chmod(0o600)
    monkeypatch.delenv("ORION_MASTER_PASSWORD_FILE")
    by_env = run("check", env={"ORION_MASTER_PASSWORD": "not the password"})
    assert by_env.exit_code == 4, by_env.output
    assert "wrong master password from ORION_MASTER_PASSWORD (" in by_env.stderr
    assert "hint: the password came from ORION_MASTER_PASSWORD," in by_env.stderr
    hint = by_env.stderr.split("hint:")[1].splitlines()[0]  # (the env warning names the file, as a better way)
    assert "ORION_MASTER_PASSWORD_FILE" not in hint and "remembered" not in hint
    by_file = run("check", env={"ORION_MASTER_PASSWORD_FILE": str(wrong)})
    assert by_file.exit_code == 4 and "wrong master password from ORION_MASTER_PASSWORD_FILE" in by_file.stderr
    assert "hint: the password came from the file ORION_MASTER_PASSWORD_FILE names" in by_file.stderr
    kr = MemoryKeyring()
    monkeypatch.setattr("keyring.get_keyring", lambda: kr)
    kr.set_password(unlock_mod.KEYRING_SERVICE, unlock_mod.keyring_username(vault_of(home)), "not the password")
    by_keyring = run("list")
    assert by_keyring.exit_code == 4 and "wrong master password remembered in the OS keyring" in by_keyring.stderr
    assert "`orion secrets forget`, then `orion secrets remember`" in by_keyring.stderr


@pytest.mark.parametrize("keyring_usable", [False, True], ids=["no-keyring", "keyring"])
def test_no_password_source_no_tty_exit_4_fast(tmp_path: Path, home: Path, pw_file: Path, pem: str,
                                               monkeypatch: pytest.MonkeyPatch, keyring_usable: bool) -> None:
    """Found in review: the hint named `orion secrets remember` on a machine with no keyring backend, where
    that command fails; it is named only where a keyring can hold the password (the file and the
    environment variable always)."""
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    monkeypatch.delenv("ORION_MASTER_PASSWORD_FILE")
    if keyring_usable:
        kr = MemoryKeyring()
        monkeypatch.setattr("keyring.get_keyring", lambda: kr)
    started = time.monotonic()
    result = run("list")
    assert result.exit_code == 4
    assert time.monotonic() - started < 10
    assert "ORION_MASTER_PASSWORD_FILE=" in result.stderr and "set ORION_MASTER_PASSWORD " in result.stderr
    assert ("orion secrets remember" in result.stderr) is keyring_usable, result.stderr
    if not keyring_usable:  # what it would have sent the operator to
        assert run("remember", env={"ORION_MASTER_PASSWORD_FILE": str(pw_file)}).exit_code == 4


@pytest.mark.parametrize("keyring_usable", [False, True], ids=["no-keyring", "keyring"])
def test_env_password_works_and_warns_once(tmp_path: Path, home: Path, pem: str, monkeypatch: pytest.MonkeyPatch,
                                           keyring_usable: bool) -> None:
    """The warning prefers the password file, and `orion secrets remember` only where a keyring exists."""
    env = {"ORION_MASTER_PASSWORD": PASSWORD}
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem)), env=env).exit_code == 0
    if keyring_usable:
        kr = MemoryKeyring()
        monkeypatch.setattr("keyring.get_keyring", lambda: kr)
    unlock_mod.reset_warning_state()
    result = run("list", "--json", env=env)
    assert result.exit_code == 0
    assert result.stderr.count("ORION_MASTER_PASSWORD from the environment") == 1
    assert ("orion secrets remember" in result.stderr) is keyring_usable, result.stderr


def test_loose_permissions_exit_4(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    vault_of(home).chmod(0o644)
    result = run("list")
    assert result.exit_code == 4 and f"chmod 600 {vault_of(home)}" in result.stderr
    vault_of(home).chmod(0o600)
    pw_file.chmod(0o640)
    result = run("list")
    assert result.exit_code == 4 and f"chmod 600 {pw_file}" in result.stderr


def test_tampered_vault_exit_4(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    raw = bytearray(vault_of(home).read_bytes())
    doc = json.loads(raw)
    doc["ciphertext"] = doc["ciphertext"][:-8] + ("A" * 8 if not doc["ciphertext"].endswith("A" * 8) else "B" * 8)
    vault_of(home).write_text(json.dumps(doc))
    result = run("check")
    assert result.exit_code == 4 and "tampered" in result.stderr


# -- list / remove / rotate / check -------------------------------------------------------------


def test_list_without_vault_needs_no_password(home: Path) -> None:
    rows = listed()
    assert rows and not any(r["set"] for r in rows.values())
    assert all(r["type"] == "secret" for r in rows.values())


def test_list_table_never_shows_values(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    result = run("list", "--format", "table")
    assert result.exit_code == 0 and "kalshi_private_key" in result.stdout
    assert WALLET_KEY not in result.stdout and "BEGIN" not in result.stdout


def test_remove(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    assert run("remove", "polymarket_signature_type").exit_code == 0
    assert not listed()["polymarket_signature_type"]["set"]
    result = run("remove", "polymarket_signature_type")
    assert result.exit_code == 2 and "not set" in result.stderr
    assert run("remove", "Not A Name").exit_code == 2
    # Found by black-box testing: a name orion does not know "is not set" too; it is a usage error
    # naming the credentials orion knows, as `encrypt --name nonsense` says.
    for args in (("remove", "nonsense"), ("encrypt", "--name", "nonsense", "--value-file", str(tmp_path / "v"))):
        result = run(*args)
        assert result.exit_code == 2 and "unknown credential 'nonsense': not a credential orion knows" \
            in result.stderr, args
        assert "names: kalshi_api_key_id, " in result.stderr and "not set" not in result.stderr


def test_remove_and_rotate_refuse_before_the_vault_changes_when_the_ledger_is_unusable(
        tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    """Every vault change is audited: with a ledger that cannot be opened, nothing may change."""
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    before = vault_of(home).read_bytes()
    foreign = tmp_path / "foreign.db"
    foreign.write_text("not a database")
    new = tmp_path / "new-password"
    new.write_text("the new master password\n")
    new.chmod(0o600)
    for args in (("remove", "polymarket_signature_type"), ("rotate", "--new-password-file", str(new))):
        result = run(*args, pre=("--db", str(foreign)))
        assert result.exit_code == 3, result.output
        assert vault_of(home).read_bytes() == before, args
    assert listed()["polymarket_signature_type"]["set"]  # and the old password still opens it


def test_a_refused_change_leaves_no_ledger_behind(tmp_path: Path, home: Path, pem: str) -> None:
    """Found by black-box testing: a failing `secrets remove` (not set), `rotate` (the vault locked) or
    `encrypt` at a mistyped ORION_HOME or --db created a new, empty ledger there (to audit a change
    never made), which `reconcile` then reported clean and `halt` halted. The ledger is opened first
    only if it exists; a missing one is created for a change that goes ahead, and only then."""
    ledger = home / "orion.db"
    new = tmp_path / "new-password"
    new.write_text("short\n")
    new.chmod(0o600)
    value = tmp_path / "value"
    value.write_text("1\n")
    malformed = write_env(tmp_path, pem, TELEGRAM_BOT_TOKEN="garbage")
    for args, code in [(("remove", "telegram_bot_token"), 2), (("remove", "bad name!"), 2),
                       (("rotate", "--new-password-file", str(new)), 4),  # no vault, no password source
                       (("encrypt", "--from-file", str(malformed)), 4),
                       (("encrypt", "--name", "polymarket_signature_type", "--value-file", str(value)), 4)]:
        result = run(*args)
        assert result.exit_code == code, (args, result.output)
        assert not ledger.exists(), args
    assert CliRunner().invoke(app, ["reconcile", "--demo"]).exit_code == 3  # still no ledger there
    # A vault whose ledger is elsewhere (--db): refusals after the password still create nothing.
    other = tmp_path / "other.db"
    env = {"ORION_MASTER_PASSWORD_FILE": str(tmp_path / "master-password")}
    (tmp_path / "master-password").write_text(PASSWORD + "\n")
    (tmp_path / "master-password").chmod(0o600)
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem)), env=env).exit_code == 0
    assert ledger.exists()  # a change made: audited in the ledger it created
    for args, code in [(("remove", "telegram_bot_token"), 2), (("rotate", "--new-password-file", str(new)), 4)]:
        result = run(*args, env=env, pre=("--db", str(other)))
        assert result.exit_code == code, (args, result.output)
        assert not other.exists(), args
    assert run("remove", "polymarket_signature_type", env=env, pre=("--db", str(other))).exit_code == 0
    assert other.exists()


def test_a_ledger_that_cannot_be_created_refuses_the_change_before_the_vault_changes(
        tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    """The missing ledger is created just before the change, not by its audit event after it: one
    that cannot be created (here under a regular file) leaves the vault as it was."""
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    before = vault_of(home).read_bytes()
    (tmp_path / "a-file").write_text("")
    nowhere = tmp_path / "a-file" / "orion.db"
    value = tmp_path / "value"
    value.write_text("1\n")
    new = tmp_path / "new-password"
    new.write_text("the new master password\n")
    new.chmod(0o600)
    for args in (("remove", "polymarket_signature_type"), ("rotate", "--new-password-file", str(new)),
                 ("encrypt", "--name", "polymarket_signature_type", "--value-file", str(value))):
        result = run(*args, pre=("--db", str(nowhere)))
        assert result.exit_code == 3 and "a-file/orion.db" in result.stderr, (args, result.output)
        assert vault_of(home).read_bytes() == before, args


def test_rotate(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    assert run("rotate").exit_code == 2  # no terminal, no --new-password-file
    new = tmp_path / "new-password"
    new.write_text("short")
    new.chmod(0o600)
    assert run("rotate", "--new-password-file", str(new)).exit_code == 4  # too short
    new.write_text("the new master password\n")
    new.chmod(0o644)
    assert run("rotate", "--new-password-file", str(new)).exit_code == 4  # loose file
    new.chmod(0o600)
    result = run("rotate", "--new-password-file", str(new))
    assert result.exit_code == 0, result.output
    assert "old password" in result.stderr  # reminds to update ORION_MASTER_PASSWORD_FILE
    assert run("list").exit_code == 4  # the old password (still in pw_file) no longer works
    rows = listed(env={"ORION_MASTER_PASSWORD_FILE": str(new)})
    assert rows["kalshi_private_key"]["set"]


def test_rotate_without_a_vault_says_there_is_none_not_that_a_password_is_missing(home: Path) -> None:
    """Found black-box: `orion secrets rotate` with no vault and no password source said "the vault is
    locked and no master password source is available" with a hint to set ORION_MASTER_PASSWORD_FILE;
    followed, it then said there is no vault. Now it says so at once, as `secrets check` does."""
    result = run("rotate", "--json")
    assert result.exit_code == 4, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["reason"] == "no_vault", result.stderr
    assert "create it with `orion secrets encrypt`" in result.stderr
    assert "ORION_MASTER_PASSWORD_FILE" not in result.stderr
    assert not vault_of(home).exists()


def test_rotate_to_the_same_password_does_not_claim_the_old_one_stopped_working(
        tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    result = run("rotate", "--new-password-file", str(pw_file), "--json")
    assert result.exit_code == 0, result.output
    assert "no longer works" not in result.stderr and "same as the old one" in result.stderr
    assert "ORION_MASTER_PASSWORD" not in result.stderr  # nothing to update
    assert json.loads(result.stdout)["password_changed"] is False
    assert listed()["kalshi_private_key"]["set"]  # the password file in use still opens it


def test_check(tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("check").exit_code == 4  # no vault yet
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    result = run("check", "--json")
    assert result.exit_code == 0, result.output
    statuses = {r["name"]: r["status"] for r in json.loads(result.stdout)}
    assert statuses["kalshi_private_key"] == "ok" and statuses["polymarket_api_key"] == "unset"
    from orion_cli.cli.commands import secrets as secrets_cmd

    monkeypatch.setattr(secrets_cmd, "ONLINE_CHECK_MODULES", ())
    monkeypatch.setattr(store_mod, "_ONLINE_CHECKS", {})
    result = run("check", "--online")
    assert result.exit_code == 0 and "no online checks" in result.stderr

    monkeypatch.setattr(store_mod, "_ONLINE_CHECKS", {})
    store_mod.register_online_check("kalshi", lambda s, _settings: [
        CheckResult("kalshi_auth", "failed", "401 from venue")])
    result = run("check", "--online")
    assert result.exit_code == 4 and "kalshi_auth" in result.stderr

    # Found black-box: an answer that says nothing about the credentials (a 5xx, a body orion cannot read)
    # was "a venue rejected credentials" (exit 4); it is no verdict: exit 5, saying what happened.
    monkeypatch.setattr(store_mod, "_ONLINE_CHECKS", {})
    store_mod.register_online_check("kalshi", lambda s, _settings: [
        CheckResult("kalshi_api_key_id", "unreadable", "kalshi could not be checked: a non-JSON body")])
    store_mod.register_online_check("polymarket", lambda s, _settings: [
        CheckResult("polymarket_private_key", "unreachable", "polymarket unavailable: connection refused")])
    result = run("check", "--online", "--json")
    assert result.exit_code == 5, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["reason"] == "venue_error" and "rejected" not in result.stderr, result.stderr
    assert error["message"] == ("kalshi answered the credential check with nothing orion can read (nothing was "
                                "learned about the credentials); polymarket could not be reached"), error
    assert {r["name"]: (r["status"], r["passed"]) for r in json.loads(result.stdout)}["kalshi_api_key_id"] == (
        "unreadable", False)

    # A value that a laxer release stored is reported as malformed (exit 4).
    monkeypatch.setattr(store_mod, "_ONLINE_CHECKS", {})
    from orion_cli.secrets import names

    def now_stricter(name: str, raw: bytes) -> bytes:
        raise store_mod.SecretsError(f"{name}: no longer accepted")

    monkeypatch.setitem(names.CATALOGUE, "polymarket_signature_type",
                        dataclasses.replace(names.CATALOGUE["polymarket_signature_type"], validate=now_stricter))
    result = run("check")
    assert result.exit_code == 4 and "polymarket_signature_type" in result.stderr
    # Malformed beside unreachable: exit 4 naming only the malformed one (the other was not judged).
    store_mod.register_online_check("kalshi", lambda s, _settings: [
        CheckResult("kalshi_api_key_id", "unreachable", "kalshi could not be checked: connection refused")])
    result = run("check", "--online", "--json")
    assert result.exit_code == 4, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["message"] == "malformed credentials: polymarket_signature_type", error


def test_check_online_sends_the_credentials_where_the_commands_config_says(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: the venue checks loaded their own settings, without the command's --config, so
    `orion --config demo.toml secrets check --online` signed and sent the credentials to the URL of
    $ORION_CONFIG (or the user's config, or production). Here $ORION_CONFIG names a closed loopback port and
    --config the Kalshi simulator: the check must reach the simulator."""
    import importlib

    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from sim.kalshi_sim import API_PREFIX, KalshiSim

    from orion_cli.cli.commands import secrets as secrets_cmd
    from orion_cli.venues.kalshi import online_check

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    sim = KalshiSim()
    sim.register_key(KEY_ID, load_pem_private_key(pem.encode(), None).public_key())  # type: ignore[arg-type]
    sim.start()
    try:
        elsewhere = tmp_path / "elsewhere.toml"
        elsewhere.write_text('[kalshi]\nprod_base_url = "http://127.0.0.1:9/trade-api/v2"\n')
        chosen = tmp_path / "chosen.toml"
        chosen.write_text(f'[kalshi]\nprod_base_url = "{sim.server.base_url}{API_PREFIX}"\n')
        monkeypatch.setenv("ORION_CONFIG", str(elsewhere))
        monkeypatch.setattr(secrets_cmd, "ONLINE_CHECK_MODULES", ())
        monkeypatch.setattr(store_mod, "_ONLINE_CHECKS", {})
        importlib.reload(online_check)  # registers the Kalshi check alone
        result = run("check", "--online", "--json", pre=("--config", str(chosen)))
        statuses = {r["name"]: (r["status"], r["detail"]) for r in json.loads(result.stdout)}
        assert statuses["kalshi_api_key_id"][0] == "ok", (statuses["kalshi_api_key_id"], result.stderr)
        assert result.exit_code == 0, result.output
        assert any(r.path.endswith("/portfolio/balance") for r in sim.requests)
    finally:
        sim.stop()


# -- keyring: remember / forget, and the keyring backend ----------------------------------------


def test_remember_forget(tmp_path: Path, home: Path, pw_file: Path, pem: str,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    result = run("remember")
    assert result.exit_code == 4 and 'secrets.backend = "vault"' in result.stderr  # no usable keyring here
    kr = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: kr)
    assert run("remember").exit_code == 0
    assert PASSWORD in kr.data.values()
    monkeypatch.delenv("ORION_MASTER_PASSWORD_FILE")
    assert listed()["kalshi_private_key"]["set"]  # unlocked from the keyring
    result = run("forget")
    assert result.exit_code == 0 and kr.data == {}
    assert run("forget").exit_code == 0  # nothing to forget is fine
    assert run("list").exit_code == 4


def test_remember_refuses_a_wrong_password(tmp_path: Path, home: Path, pw_file: Path, pem: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    kr = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: kr)
    result = run("remember", env={"ORION_MASTER_PASSWORD_FILE": None, "ORION_MASTER_PASSWORD": "wrong-password"})
    assert result.exit_code == 4 and kr.data == {}


def test_keyring_backend_via_config(tmp_path: Path, home: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    monkeypatch.setenv("ORION__SECRETS__BACKEND", "keyring")
    result = run("encrypt", "--from-file", str(write_env(tmp_path, pem)))
    assert result.exit_code == 4 and "no usable OS keyring" in result.stderr
    kr = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: kr)
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    assert not vault_of(home).exists()
    assert listed()["polymarket_private_key"]["set"] and listed()["polymarket_private_key"]["held"] == "keyring"
    assert run("rotate").exit_code == 2
    monkeypatch.setenv("ORION__SECRETS__BACKEND", "plaintext")
    assert run("list").exit_code == 3


def test_list_shows_a_value_the_keyring_holds_outside_orions_index_as_set(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: set in the keyring by hand, a credential orion reads, uses and `remove`
    deletes was listed "unset". It is set, held in the keyring outside orion's index."""
    import keyring

    from orion_cli.secrets.keyring_backend import DEFAULT_SERVICE

    monkeypatch.setenv("ORION__SECRETS__BACKEND", "keyring")
    kr = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: kr)
    kr.set_password(DEFAULT_SERVICE, "polymarket_signature_type", "2")
    row = listed()["polymarket_signature_type"]
    assert (row["set"], row["updated_at"], row["held"]) == (True, None, "keyring, outside orion's index")
    assert not listed()["kalshi_private_key"]["set"]
    table = run("list", "--format", "table")
    assert table.exit_code == 0 and "held in" in table.stdout and "outside orion's index" in table.stdout
    assert run("remove", "polymarket_signature_type").exit_code == 0
    assert listed()["polymarket_signature_type"]["held"] is None


def test_audit_events_name_secrets_only(tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    from orion_cli.store.audit import AuditLog
    from orion_cli.store.db import open_database

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    assert run("remove", "polymarket_signature_type").exit_code == 0
    db = open_database(None)
    try:
        events = AuditLog(db).tail(50, types=("secrets.changed",))
    finally:
        db.dispose()
    payloads = [e.payload for e in events]
    assert {"action": "set", "name": "kalshi_private_key", "backend": "vault"} in payloads
    assert {"action": "remove", "name": "polymarket_signature_type", "backend": "vault"} in payloads


def test_prompt_cancelled_exit_130(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orion_cli.cli import prompts

    def cancelled(message: str) -> str:  # what prompts.ask_secret does on Ctrl-C / Ctrl-D
        raise KeyboardInterrupt

    monkeypatch.setattr(prompts, "interactive", lambda: True)
    monkeypatch.setattr(prompts, "ask_secret", cancelled)
    monkeypatch.setattr(prompts, "ask_text", lambda message: "")
    assert run("encrypt").exit_code == 130


def test_interactive_encrypt_with_fake_prompts(tmp_path: Path, home: Path, pem: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from orion_cli.cli import prompts

    (tmp_path / "k.pem").write_text(pem)
    answers = {"Kalshi API key id": KEY_ID, "Polymarket wallet": WALLET_KEY, "New master password": PASSWORD,
               "Repeat": PASSWORD}
    asked: list[str] = []

    def ask_secret(message: str) -> str:
        asked.append(message)
        return next((v for k, v in answers.items() if message.startswith(k)), "")

    monkeypatch.setattr(prompts, "interactive", lambda: True)
    monkeypatch.setattr(prompts, "ask_secret", ask_secret)
    monkeypatch.setattr(prompts, "ask_text", lambda message: str(tmp_path / "k.pem"))
    result = run("encrypt")
    assert result.exit_code == 0, result.output
    assert any(m.startswith("Repeat") for m in asked)
    rows = listed(env={"ORION_MASTER_PASSWORD": PASSWORD})
    assert rows["kalshi_private_key"]["set"] and rows["polymarket_private_key"]["set"]
    assert not rows["polymarket_api_key"]["set"]


def test_interactive_encrypt_asks_again_for_a_bad_value_at_once(tmp_path: Path, home: Path, pem: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a black-box audit: the prompts' answers were validated only after the last prompt, so a
    typo in the first one was reported at the end and every answer was lost (exit 4)."""
    from orion_cli.cli import prompts

    (tmp_path / "k.pem").write_text(pem)
    (tmp_path / "notes.txt").write_text("not a key\n")
    typed = {  # per prompt, the answers in the order they are typed
        "Kalshi API key id": ["not-a-key-id", KEY_ID],
        "Kalshi RSA private key": [str(tmp_path / "missing.pem"), str(tmp_path / "notes.txt"), str(tmp_path / "k.pem")],
        "Polymarket wallet": ["0x1234", ""],  # wrong, then skipped
        "New master password": [PASSWORD], "Repeat": [PASSWORD],
    }
    asked: list[str] = []

    def answer(message: str) -> str:
        asked.append(message)
        queue = next((v for k, v in typed.items() if message.startswith(k)), [])
        return queue.pop(0) if queue else ""

    monkeypatch.setattr(prompts, "interactive", lambda: True)
    monkeypatch.setattr(prompts, "ask_secret", answer)
    monkeypatch.setattr(prompts, "ask_text", answer)
    result = run("encrypt")
    assert result.exit_code == 0, result.output
    # Each bad answer is followed at once by the same question, before the next credential's.
    firsts = [m.split(" (")[0].split(":")[0] for m in asked[:9]]
    assert firsts == (["New master password", "Repeat the new master password"] + ["Kalshi API key id"] * 2
                      + ["Kalshi RSA private key"] * 3 + ["Polymarket wallet private key"] * 2)
    err = result.stderr
    assert "error: kalshi_api_key_id: is not a Kalshi key id" in err and "not-a-key-id" not in err
    assert "error: the file named by your answer does not exist" in err and "missing.pem" not in err
    assert "error: kalshi_private_key: is not a PEM private key" in err
    assert "error: polymarket_private_key: is not a wallet private key" in err and "0x1234" not in err
    assert err.count("hint:") == 4 and "enter it again, or press Enter to skip it" in err
    assert "nothing was written" not in err
    rows = listed(env={"ORION_MASTER_PASSWORD": PASSWORD})
    assert rows["kalshi_api_key_id"]["set"] and rows["kalshi_private_key"]["set"]
    assert not rows["polymarket_private_key"]["set"]


def test_encrypt_with_nothing_to_import_touches_neither_ledger_nor_vault(home: Path, pw_file: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: asking the password first opened the ledger (created it, in a fresh home) before
    "no credentials found" was said."""
    for var in ("KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "POLYMARKET_PRIVATE_KEY", "CLOB_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    result = run("encrypt", "--from-env", pre=("--json",))
    assert result.exit_code == 2 and "no credentials found" in result.stderr, result.output
    assert not vault_of(home).exists() and not list(home.glob("orion.db*")), sorted(home.iterdir())


def test_an_import_that_finds_nothing_names_the_variables_it_looked_for(
        tmp_path: Path, home: Path, pw_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: the hint named KALSHI_PRIVATE_KEY only, while the help (and older bots) name
    KALSHI_PRIVATE_KEY_PATH; README lists the same variables the hint names."""
    from orion_cli.secrets.importer import looked_for
    from orion_cli.secrets.names import CATALOGUE

    for spec in CATALOGUE.values():
        for var in (*spec.env, *spec.env_path):
            monkeypatch.delenv(var, raising=False)
    hint = f"looked for {looked_for()}"
    assert "KALSHI_API_KEY_ID, KALSHI_PRIVATE_KEY (or a file named by KALSHI_PRIVATE_KEY_PATH), " \
           "POLYMARKET_PRIVATE_KEY," in hint
    result = run("encrypt", "--from-env")
    assert result.exit_code == 2, result.output
    assert "no credentials found in the environment" in result.stderr and hint in result.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("UNRELATED=1\n")
    from_file = run("encrypt", "--from-file", str(empty))
    assert from_file.exit_code == 2 and f"no credentials found in {empty}" in from_file.stderr
    assert hint in from_file.stderr
    readme = " ".join((REPO / "README.md").read_text().replace("`", "").split())
    assert looked_for() in readme


@pytest.mark.parametrize("vault", ["existing", "new"])
def test_interactive_encrypt_asks_the_master_password_before_any_credential(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch, vault: str) -> None:
    """Found in review: the master password was asked after the last credential, so a mistyped one (a
    wrong password for the vault, or two new ones that differ) threw every typed answer away."""
    from orion_cli.cli import prompts

    if vault == "existing":
        assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    monkeypatch.delenv("ORION_MASTER_PASSWORD_FILE", raising=False)
    monkeypatch.delenv("ORION_MASTER_PASSWORD", raising=False)
    before = vault_of(home).read_bytes() if vault == "existing" else None
    asked: list[str] = []

    def mistyped(message: str) -> str:
        asked.append(message)
        if message.startswith("Repeat"):
            return PASSWORD + "x"
        if message.startswith("Master password"):
            return "wrong password!"
        return PASSWORD if message.startswith("New master password") else ""  # credentials: skipped

    monkeypatch.setattr(prompts, "interactive", lambda: True)
    monkeypatch.setattr(prompts, "ask_secret", mistyped)
    monkeypatch.setattr(prompts, "ask_text", mistyped)
    result = run("encrypt")
    assert result.exit_code == 4, result.output
    assert "Enter each credential" not in result.stderr
    expected = ["Master password"] if vault == "existing" else ["New master password", "Repeat"]
    assert [m.split(" (")[0][:len(e)] for m, e in zip(asked, expected, strict=False)] == expected, asked
    assert len(asked) == len(expected), asked  # no credential was asked for
    assert (vault_of(home).read_bytes() if vault == "existing" else vault_of(home).exists()) == (before or False)


# -- the canary ---------------------------------------------------------------------------------


def test_canary_never_leaks(tmp_path: Path, home: Path, pem: str, monkeypatch: pytest.MonkeyPatch,
                            capfd: pytest.CaptureFixture[str]) -> None:
    """After a full run of commands, the canary values appear nowhere: not in stdout, stderr, the
    log file, audit events, the database, the vault file (raw or base64), nor in ORION_DEBUG tracebacks."""
    import base64

    import keyring

    log_file = home / "orion.log"
    monkeypatch.setenv("ORION__LOGGING__FILE", str(log_file))
    monkeypatch.setenv("ORION__LOGGING__LEVEL", "debug")
    pwf = tmp_path / "pw"
    pwf.write_text(CANARY_PASSWORD)
    pwf.chmod(0o600)
    monkeypatch.setenv("ORION_MASTER_PASSWORD_FILE", str(pwf))
    kr = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: kr)
    env = write_env(tmp_path, pem, POLYMARKET_API_KEY=CANARY_API_KEY, POLYMARKET_API_SECRET=CANARY_SECRET,
                    POLYMARKET_API_PASSPHRASE=CANARY_PASSPHRASE)
    outputs: list[str] = []

    def go(*args: str, code: int = 0, **kw: Any) -> None:
        result = run(*args, **kw)
        outputs.extend([result.stdout, result.stderr])
        assert result.exit_code == code, result.output

    go("encrypt", "--from-file", str(env), "--shred-source", "--yes", pre=("-v",))
    go("list")
    go("list", "--json")
    go("list", "--format", "table")
    go("check", "--json")
    # The real venue checks run, against closed loopback ports (no network beyond 127.0.0.1): they fail,
    # and their messages must not quote any credential.
    monkeypatch.setenv("ORION__KALSHI__PROD_BASE_URL", "http://127.0.0.1:9/trade-api/v2")
    monkeypatch.setenv("ORION__POLYMARKET__CLOB_URL", "http://127.0.0.1:9")
    go("check", "--online", pre=("-vv",), code=5)  # unreachable: no verdict on the credentials (exit 5, not 4)
    go("remember")
    go("remove", "polymarket_signature_type")
    # A refused value that *contains* the canary: the error must not quote it.
    bad = tmp_path / "bad"
    bad.write_text("not base64 " + CANARY_PASSPHRASE)
    go("encrypt", "--name", "polymarket_api_secret", "--value-file", str(bad), code=4)
    # An unexpected internal error with ORION_DEBUG=1 while a secret is being handled.
    monkeypatch.setenv("ORION_DEBUG", "1")
    from orion_cli.secrets import names

    def explode(name: str, raw: bytes) -> bytes:
        raise RuntimeError("validator crashed")

    original = names.CATALOGUE["polymarket_api_passphrase"]
    names.CATALOGUE["polymarket_api_passphrase"] = dataclasses.replace(original, validate=explode)
    try:
        f = tmp_path / "pp"
        f.write_text(CANARY_PASSPHRASE)
        go("encrypt", "--name", "polymarket_api_passphrase", "--value-file", str(f), code=1)
    finally:
        names.CATALOGUE["polymarket_api_passphrase"] = original
    monkeypatch.delenv("ORION_DEBUG")
    f.unlink()
    bad.unlink()
    new = tmp_path / "newpw"
    new.write_text("CANARYnewmasterpassword9a8b7c")
    new.chmod(0o600)
    go("rotate", "--new-password-file", str(new))
    new.unlink()
    pwf.unlink()
    monkeypatch.delenv("ORION_MASTER_PASSWORD_FILE")
    go("list", "--json")  # unlocked via the (updated) keyring entry
    go("forget")
    captured = capfd.readouterr()
    outputs.extend([captured.out, captured.err])
    assert any("Traceback" in o for o in outputs), "the ORION_DEBUG traceback path was not exercised"

    canaries = [CANARY_API_KEY, CANARY_PASSPHRASE, CANARY_SECRET, CANARY_PASSWORD, "CANARYnewmasterpassword9a8b7c",
                WALLET_KEY]
    forms = [c.encode() for c in canaries] + [base64.b64encode(c.encode()) for c in canaries]
    for text in outputs:
        for c in canaries:
            assert c not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert log_file in files or not log_file.exists()
    assert vault_of(home) in files and any(p.suffix == ".db" for p in files)
    for p in files:
        data = p.read_bytes()
        for form in forms:
            assert form not in data, f"a canary leaked into {p}"
    from orion_cli.store.audit import AuditLog
    from orion_cli.store.db import open_database

    db = open_database(None)
    try:
        dumped = json.dumps([e.to_record() for e in AuditLog(db).tail(1000)])
    finally:
        db.dispose()
    assert "secrets.changed" in dumped
    for c in canaries:
        assert c not in dumped
    # The values really were stored (the test would be vacuous otherwise).
    from orion_cli.secrets.store import open_store
    from orion_cli.secrets.unlock import MasterPassword

    st = open_store("vault", vault_path=vault_of(home), kdf=TEST_KDF, allow_weak_kdf=True,
                    password=lambda new: MasterPassword("CANARYnewmasterpassword9a8b7c", "t"))
    assert st.get("polymarket_api_passphrase").reveal() == CANARY_PASSPHRASE


# -- a real pseudo-terminal ---------------------------------------------------------------------

_PTY_MAIN = """
import sys
from orion_cli.cli.app import app
from orion_cli.cli.commands import secrets as secrets_cmd
from orion_cli.secrets.vault import TEST_KDF
secrets_cmd._TEST_KDF = TEST_KDF  # the test-only cheap KDF, set explicitly in this test process
if not any(g.name == "secrets" for g in app.registered_groups):
    app.add_typer(secrets_cmd.app, name="secrets")
sys.argv = ["orion", *sys.argv[1:]]
app(prog_name="orion")
"""


def _pty_session(args: list[str], answers: list[tuple[str, str]], env: dict[str, str],
                 timeout: float = 60) -> tuple[int, str]:
    """The secrets commands alone (``_PTY_MAIN``) on a pseudo-terminal, typing ``answers`` (tests/pty_session.py)."""
    from pty_session import run_on_pty

    return run_on_pty([sys.executable, "-c", _PTY_MAIN, *args], answers, env, timeout=timeout)


def _pty_env(tmp_path: Path, home: Path) -> dict[str, str]:
    """The child's environment: no master password to find, so the prompts are what it has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORION_MASTER", "PYTEST"))}
    env.update({"ORION_HOME": str(home), "TERM": "xterm", "PYTHONPATH": str(REPO), "NO_COLOR": "1",
                "HOME": str(tmp_path)})
    return env


# The pseudo-terminal sessions' answers, in the order encrypt asks: a new vault's password first, and
# the prompts after Polymarket's wallet, skipped.
_NEW_VAULT_ANSWERS = [("New master password", PASSWORD), ("Repeat", PASSWORD)]
_CLOB_AND_ALERTS_SKIPPED = [(prompt, "") for prompt in
                            ("CLOB API key", "CLOB API secret", "CLOB API passphrase", "webhook", "Telegram")]


@pytest.mark.timeout(180)
def test_tty_prompts_in_a_real_pty(tmp_path: Path, home: Path, pem: str) -> None:
    (tmp_path / "k.pem").write_text(pem)
    env = _pty_env(tmp_path, home)
    answers = [
        *_NEW_VAULT_ANSWERS,
        ("Kalshi API key id", KEY_ID),
        ("path to the .pem", str(tmp_path / "k.pem")),
        ("wallet private key", WALLET_KEY),
        ("funder", WALLET_ADDRESS),
        ("signature type", "1"),
        *_CLOB_AND_ALERTS_SKIPPED,
    ]
    code, transcript = _pty_session(["secrets", "encrypt"], answers, env)
    assert code == 0, transcript[-3000:]
    assert WALLET_KEY not in transcript and PASSWORD not in transcript  # hidden input is not echoed
    # Unlock by typing the password at the prompt (no other source).
    code, transcript = _pty_session(["secrets", "list", "--json"], [("Master password", PASSWORD)], env)
    assert code == 0, transcript[-3000:]
    assert '"name":"kalshi_private_key","set":true' in "".join(transcript.split())
    # A wrong password typed at the prompt: exit 4.
    code, transcript = _pty_session(["secrets", "list"], [("Master password", "wrong password!")], env)
    assert code == 4, transcript[-3000:]


@pytest.mark.timeout(180)
def test_a_bad_answer_is_asked_again_at_once_in_a_real_pty(tmp_path: Path, home: Path, pem: str) -> None:
    """The audit's case on a real terminal: a bad first answer is refused right away, not after the last prompt."""
    (tmp_path / "k.pem").write_text(pem)
    env = _pty_env(tmp_path, home)
    answers = [
        *_NEW_VAULT_ANSWERS,
        ("Kalshi API key id", "not-a-key-id"),
        ("enter it again, or press Enter to skip it", KEY_ID),  # asked again, before the next prompt
        ("path to the .pem", str(tmp_path / "k.pem")),
        ("wallet private key", ""), ("funder", ""), ("signature type", ""),
        *_CLOB_AND_ALERTS_SKIPPED,
    ]
    code, transcript = _pty_session(["secrets", "encrypt"], answers, env, timeout=40)
    assert code == 0, transcript[-3000:]
    error = transcript.index("error: kalshi_api_key_id: is not a Kalshi key id")
    assert error < transcript.index("Kalshi RSA private key")  # said before the next question was asked
    assert "stored 2 credential(s)" in transcript and "not-a-key-id" not in transcript


def test_non_tty_subprocess_without_password_exits_4_without_hanging(tmp_path: Path, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_MASTER")}
    env.update({"ORION_HOME": str(home), "PYTHONPATH": str(REPO)})
    from orion_cli.secrets.vault import Vault

    Vault(home / "vault.json", kdf=TEST_KDF, allow_weak_kdf=True).create(PASSWORD)
    proc = subprocess.run([sys.executable, "-c", _PTY_MAIN, "secrets", "list"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4, proc.stderr
    assert "ORION_MASTER_PASSWORD_FILE" in proc.stderr


# -- a stop while the vault changes ---------------------------------------------------------------


def _stop_right_after(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Ctrl-C lands the moment the vault file has been replaced, before anything else happens."""
    import signal

    from orion_cli.secrets.vault import Vault

    original = getattr(Vault, method)

    def then_stopped(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(Vault, method, then_stopped)


def _secrets_events() -> list[dict[str, Any]]:
    from orion_cli.store.audit import AuditLog
    from orion_cli.store.db import open_database

    db = open_database(None)
    try:
        return [e.payload for e in AuditLog(db).tail(1000) if e.type == "secrets.changed"]
    finally:
        db.dispose()


def test_a_stop_during_rotate_waits_for_the_audit_event_and_the_keyring(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in a black-box run: SIGTERM just after the vault was rewritten exited 130 saying only
    "terminated": the new password was in force, no `secrets.changed` event was written, and the OS
    keyring kept the old password (the next unattended unlock failed)."""
    import keyring

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    kr = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: kr)
    assert run("remember").exit_code == 0
    new = tmp_path / "new-password"
    new.write_text("the new master password\n")
    new.chmod(0o600)
    _stop_right_after(monkeypatch, "rekey")
    result = run("rotate", "--new-password-file", str(new), "--json")
    assert result.exit_code == 130, result.output
    assert "stopping after the vault is re-encrypted and recorded…" in result.stderr
    assert "interrupted: the vault was re-encrypted under the new password and recorded first" in result.stderr
    assert json.loads(result.stdout)["password_changed"] is True  # the outcome is reported, not only the stop
    assert {"action": "rotate", "name": "*", "backend": "vault"} in _secrets_events()
    assert list(kr.data.values()) == ["the new master password"]


@pytest.mark.parametrize(("command", "method", "action"), [
    (("remove", "polymarket_signature_type"), "update", "remove"),
    (("encrypt", "--name", "polymarket_signature_type", "--value-file", "VALUE", "--replace"), "update", "set"),
    (("encrypt", "--from-file", "ENV"), "create", "set"),
])
def test_a_stop_during_a_vault_change_waits_for_its_audit_event(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch,
        command: tuple[str, ...], method: str, action: str) -> None:
    env_file = write_env(tmp_path, pem)
    if method == "update":
        assert run("encrypt", "--from-file", str(env_file)).exit_code == 0
    value = tmp_path / "value"
    value.write_text("1\n")
    args = [{"VALUE": str(value), "ENV": str(env_file)}.get(a, a) for a in command]
    before = len(_secrets_events())
    _stop_right_after(monkeypatch, method)
    result = run(*args)
    assert result.exit_code == 130, result.output
    assert "and audited first" in result.stderr, result.stderr  # said what was finished before stopping
    changed = _secrets_events()[before:]
    assert changed and {e["action"] for e in changed} == {action}
    if method == "create":  # one event per name written
        assert sorted(e["name"] for e in changed) == sorted(n for n, r in listed().items() if r["set"])


def test_a_busy_ledger_refuses_a_vault_change_before_the_vault_changes(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (D3): the vault was changed first and its audit event appended after, in a transaction of
    its own. With another process holding the ledger's write lock, `rotate` said "database is busy …
    retry" (exit 3), but the vault was already re-keyed (the old password refused), unaudited, and the
    keyring not updated. The lock is now taken and the events written before the vault is touched."""
    import sqlite3

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    before, events = vault_of(home).read_bytes(), _secrets_events()
    new = tmp_path / "new-password"
    new.write_text("the new master password\n")
    new.chmod(0o600)
    value = tmp_path / "value"
    value.write_text("1\n")
    monkeypatch.setenv("ORION__DATABASE__BUSY_TIMEOUT_MS", "100")
    holder = sqlite3.connect(home / "orion.db", isolation_level=None)  # another process's write transaction
    holder.execute("BEGIN IMMEDIATE")
    try:
        for args in (("rotate", "--new-password-file", str(new)), ("remove", "polymarket_signature_type"),
                     ("encrypt", "--name", "polymarket_signature_type", "--value-file", str(value), "--replace")):
            result = run(*args)
            assert result.exit_code == 3 and "database is busy" in result.stderr, (args, result.output)
            assert vault_of(home).read_bytes() == before, args
    finally:
        holder.rollback()
        holder.close()
    assert _secrets_events() == events
    assert listed()["polymarket_signature_type"]["set"]  # and the old password still opens it


def _rotate_with_a_failing_audit_commit(tmp_path: Path, pem: str, monkeypatch: pytest.MonkeyPatch,
                                        new_password: str) -> tuple[Any, Any, Path]:
    """`rotate` to ``new_password`` whose audit transaction's commit fails after the vault change, with a
    password remembered in a memory keyring: (the result, the keyring, the new password's file)."""
    import contextlib

    import keyring

    from orion_cli.core.errors import StorageError

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    kr = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: kr)
    assert run("remember").exit_code == 0
    real = secrets_cmd._audit

    def commit_fails(app_ctx: Any, backend: str) -> Any:
        scope = real(app_ctx, backend)

        @contextlib.contextmanager
        def failing(action: str, names: list[str]) -> Iterator[None]:
            with scope(action, names):
                yield
                raise StorageError("database error: disk I/O error (sqlite:///orion.db)")  # rolls it back

        return failing

    monkeypatch.setattr(secrets_cmd, "_audit", commit_fails)
    new = tmp_path / "new-password"
    new.write_text(f"{new_password}\n")
    new.chmod(0o600)
    return run("rotate", "--new-password-file", str(new), pre=("--json",)), kr, new


def test_a_rotation_whose_audit_commit_fails_says_the_vault_was_re_encrypted_and_updates_the_keyring(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one step after the vault change is the audit transaction's commit. If it fails, the rotation
    is not reported as failed ("retry" would re-key again with a password that no longer opens it): the
    error says the vault was re-encrypted and the old password no longer works, and the keyring follows."""
    result, kr, new = _rotate_with_a_failing_audit_commit(tmp_path, pem, monkeypatch, CANARY_PASSWORD)
    assert result.exit_code == 3, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["reason"] == "changed_not_audited" and error["message"].startswith(
        "re-encrypted the vault under the new master password: the old one no longer works, but its audit "
        "event could not be recorded: database error: disk I/O error"), error
    assert "updated the password remembered in the OS keyring" in result.stderr
    # Found in review: the rotation stands, so the password file the environment names is stale too.
    assert "update ORION_MASTER_PASSWORD_FILE / ORION_MASTER_PASSWORD: they hold the old password" in result.stderr
    assert list(kr.data.values()) == [CANARY_PASSWORD]
    assert CANARY_PASSWORD not in result.output and PASSWORD not in result.output
    assert not any(e["action"] == "rotate" for e in _secrets_events())
    assert listed(env={"ORION_MASTER_PASSWORD_FILE": str(new)})["kalshi_private_key"]["set"]


def test_a_same_password_rotation_whose_audit_commit_fails_calls_no_password_stale(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in the final read: with the audit commit failing, a rotation to the same password (a new salt)
    warned that ORION_MASTER_PASSWORD_FILE holds the old password; it still opens the vault."""
    result, kr, _ = _rotate_with_a_failing_audit_commit(tmp_path, pem, monkeypatch, PASSWORD)
    assert result.exit_code == 3, result.output
    assert json.loads(result.stderr.strip().splitlines()[-1])["reason"] == "changed_not_audited"
    assert "hold the old password" not in result.stderr and "no longer opens" not in result.stderr
    assert list(kr.data.values()) == [PASSWORD]

def test_a_keyring_that_refuses_the_new_password_after_rotate_is_a_warning_not_an_internal_error(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (D4): the vault re-keyed, then the OS keyring's set_password raised (a locked collection,
    `PasswordSetError`): `rotate` ended as "unexpected internal error" (exit 1), with no success line and
    no word that the remembered password was now stale. The rotation succeeded and is recorded: exit 0,
    and a warning (also under -q) to run `orion secrets remember`."""
    import secrets as pysecrets

    import keyring
    from keyring.errors import PasswordSetError

    class LockedKeyring(MemoryKeyring):
        locked = False

        def set_password(self, service: str, username: str, password: str) -> None:
            if self.locked:
                raise PasswordSetError("the collection is locked")
            super().set_password(service, username, password)

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    kr = LockedKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: kr)
    assert run("remember").exit_code == 0
    kr.locked = True
    new_password = pysecrets.token_urlsafe(24)
    new = tmp_path / "new-password"
    new.write_text(new_password + "\n")
    new.chmod(0o600)
    result = run("rotate", "--new-password-file", str(new), pre=("-q", "--json"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["password_changed"] is True
    assert "warning: the vault was re-encrypted, but the password remembered in the OS keyring could not be " \
           "updated (PasswordSetError): it no longer opens the vault; run `orion secrets remember`" in result.stderr
    assert new_password not in result.output and PASSWORD not in result.output
    assert list(kr.data.values()) == [PASSWORD]  # stale, as the warning says
    assert {"action": "rotate", "name": "*", "backend": "vault"} in _secrets_events()
    kr.locked = False
    assert run("remember", env={"ORION_MASTER_PASSWORD_FILE": str(new)}).exit_code == 0  # the cure it names
    assert list(kr.data.values()) == [new_password]


def test_a_keyring_that_cannot_be_read_after_rotate_is_not_said_to_hold_the_old_password(
        tmp_path: Path, home: Path, pw_file: Path, pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: a keyring whose read fails (locked, no D-Bus session) was reported as holding a
    remembered password that "no longer opens the vault", though nothing may ever have been remembered."""
    import secrets as pysecrets

    import keyring
    from keyring.errors import KeyringLocked

    class Unreadable(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise KeyringLocked("the collection is locked")

    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem))).exit_code == 0
    monkeypatch.setattr(keyring, "get_keyring", lambda: Unreadable())
    new = tmp_path / "new-password"
    new.write_text(pysecrets.token_urlsafe(24) + "\n")
    new.chmod(0o600)
    result = run("rotate", "--new-password-file", str(new), pre=("-q", "--json"))
    assert result.exit_code == 0, result.output
    assert "no longer opens the vault" not in result.stderr
    assert "warning: the OS keyring could not be read (KeyringLocked): if it remembers this vault's password, " \
           "that is the old one now; `orion secrets remember` stores the new one" in result.stderr


def test_a_refusal_comes_before_any_password_is_asked_for(tmp_path: Path, home: Path, pem: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: asking for the password first (to hold a stop over the write) turned "not
    set" and "invalid name" into "the vault is locked", and made a trader choose a new master
    password before hearing a token was malformed."""
    monkeypatch.delenv("ORION_MASTER_PASSWORD_FILE", raising=False)
    monkeypatch.delenv("ORION_MASTER_PASSWORD", raising=False)

    def reason(result: Any) -> str:
        return str(json.loads(result.stderr.strip().splitlines()[-1])["reason"])

    missing = run("remove", "telegram_bot_token", pre=("--json",))
    assert (missing.exit_code, reason(missing)) == (2, "not_found"), missing.stderr
    bad = run("remove", "bad name!", pre=("--json",))
    assert (bad.exit_code, reason(bad)) == (2, "invalid_name"), bad.stderr
    env = write_env(tmp_path, pem, TELEGRAM_BOT_TOKEN="garbage")
    malformed = run("encrypt", "--from-file", str(env), pre=("--json",))
    assert (malformed.exit_code, reason(malformed)) == (4, "invalid_secret"), malformed.stderr
    assert not vault_of(home).exists()


def test_a_linked_vault_is_changed_through_the_link_and_a_link_to_nothing_is_exit_3(
        tmp_path: Path, home: Path, pw_file: Path, pem: str) -> None:
    """Found in review: with $ORION_HOME/vault.json a link to a shared vault, `secrets remove` said
    "removed" and replaced the link by a private copy: the shared vault, which another orion reads, kept
    the credential (and `rotate` left it under the old password). With a link to nothing, `secrets list`
    listed everything unset (exit 0) and `encrypt` wrote a new vault over the link."""
    shared = tmp_path / "shared" / "vault.json"
    shared.parent.mkdir()
    env = {"ORION__SECRETS__VAULT_PATH": str(shared)}
    assert run("encrypt", "--from-file", str(write_env(tmp_path, pem)), env=env).exit_code == 0
    vault_of(home).symlink_to(shared)
    result = run("remove", "kalshi_api_key_id")
    assert result.exit_code == 0, result.output
    assert vault_of(home).is_symlink()
    assert not listed(env=env)["kalshi_api_key_id"]["set"]  # gone from the shared vault itself
    new = tmp_path / "new-password"
    new.write_text("the new master password\n")
    new.chmod(0o600)
    assert run("rotate", "--new-password-file", str(new)).exit_code == 0
    assert vault_of(home).is_symlink() and (shared.stat().st_mode & 0o777) == 0o600
    assert run("list", env=env).exit_code == 4  # the shared vault no longer opens with the old password
    assert listed(env={**env, "ORION_MASTER_PASSWORD_FILE": str(new)})["kalshi_private_key"]["set"]

    shared.rename(tmp_path / "elsewhere.json")  # the link now names nothing (a share not mounted)
    value = tmp_path / "value"
    value.write_text("1\n")
    for args in (("list", "--json"), ("check",), ("remove", "kalshi_private_key"),
                 ("encrypt", "--name", "polymarket_signature_type", "--value-file", str(value)),
                 ("rotate", "--new-password-file", str(new))):
        result = run(*args)
        assert result.exit_code == 3, (args, result.output)
        assert f"vault {vault_of(home)}: it is a symbolic link to {shared}, which does not exist" in result.stderr
        assert vault_of(home).is_symlink() and not shared.exists(), args
