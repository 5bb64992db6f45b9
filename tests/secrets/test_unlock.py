"""The unlock chain: order of sources, file permissions, warnings, no hanging without a TTY."""

from __future__ import annotations

from pathlib import Path

import pytest

from orion_cli.core.errors import ExitCode, SecretsError
from orion_cli.secrets import unlock
from orion_cli.secrets.unlock import (
    KEYRING_SERVICE,
    keyring_username,
    read_password_file,
    reset_warning_state,
    resolve_master_password,
)


@pytest.fixture(autouse=True)
def _fresh_warning() -> None:
    reset_warning_state()


def pw_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    p = tmp_path / "master.txt"
    p.write_text(text)
    p.chmod(mode)
    return p


def no_keyring(service: str, user: str) -> None:
    return None


def test_file_wins_over_everything(tmp_path: Path) -> None:
    f = pw_file(tmp_path, "from-the-file\n")
    env = {"ORION_MASTER_PASSWORD_FILE": str(f), "ORION_MASTER_PASSWORD": "from-env"}
    got = resolve_master_password(tmp_path / "v.json", environ=env, prompt=lambda m: "typed",
                                  keyring_get=lambda s, u: "remembered")
    assert (got.value, got.source) == ("from-the-file", "file")
    assert "from-the-file" not in repr(got)


def test_loose_password_file_refused(tmp_path: Path) -> None:
    f = pw_file(tmp_path, "secret-pass", 0o644)
    with pytest.raises(SecretsError) as err:
        resolve_master_password(tmp_path / "v.json", environ={"ORION_MASTER_PASSWORD_FILE": str(f)})
    assert err.value.exit_code == ExitCode.AUTH and err.value.hint == f"chmod 600 {f}"


@pytest.mark.timeout(30)
def test_a_password_fifo_nothing_writes_to_is_a_pipe_that_gave_nothing_not_a_hang(tmp_path: Path) -> None:
    """Review: ORION_MASTER_PASSWORD_FILE naming a named pipe with no writer blocked the open for ever;
    then it was "is empty", which sent the operator to look at a file with no content of its own."""
    import os

    fifo = tmp_path / "pw"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(SecretsError, match="is a pipe that gave nothing") as err:
        resolve_master_password(tmp_path / "v.json", environ={"ORION_MASTER_PASSWORD_FILE": str(fifo)})
    assert err.value.exit_code == ExitCode.AUTH and err.value.reason == "password_file"
    assert "is empty" not in err.value.message and "process substitution" in (err.value.hint or "")


def test_missing_or_empty_password_file(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="the file named by ORION_MASTER_PASSWORD_FILE does not exist"):
        read_password_file(tmp_path / "nope")
    with pytest.raises(SecretsError, match="empty"):
        read_password_file(pw_file(tmp_path, "\n"))
    with pytest.raises(SecretsError, match="single line"):
        read_password_file(pw_file(tmp_path, "a\nb\n"))


@pytest.mark.parametrize("variable", ["ORION_MASTER_PASSWORD_FILE", "--new-password-file"])
@pytest.mark.parametrize("pasted", ["CANARYpassword with spaces", "correct-horse.battery", "~nobody-CANARYxyzq/pw"])
def test_a_password_given_where_its_file_belongs_is_never_echoed(tmp_path: Path, variable: str, pasted: str) -> None:
    """Black-box review: a value given where a path belongs was echoed (`cannot read <it>`) when it did
    not look like hex or base64: ORION_MASTER_PASSWORD_FILE=<the password> printed the password, in the
    JSON error record too. A password file that cannot be opened is named by its source, never its path."""
    with pytest.raises(SecretsError) as refused:
        if variable == "ORION_MASTER_PASSWORD_FILE":
            resolve_master_password(tmp_path / "v.json", environ={variable: pasted})
        else:
            read_password_file(Path(pasted), variable=variable)
    said = f"{refused.value.message} {refused.value.hint}"
    assert "CANARY" not in said and "horse" not in said, said
    assert refused.value.message.startswith(f"the file named by {variable} ") and "not repeated" in said
    assert refused.value.reason == "password_file" and refused.value.exit_code == ExitCode.AUTH
    assert ("ORION_MASTER_PASSWORD takes one" if variable == "ORION_MASTER_PASSWORD_FILE" else "prompted") in said


@pytest.mark.parametrize("mode", [0o700, 0o755])
def test_a_directory_is_not_a_password_file(tmp_path: Path, mode: int) -> None:
    """Found by black-box testing: a private directory was an internal error (IsADirectoryError), and
    a shared one (ORION_MASTER_PASSWORD_FILE=/tmp) got the hint `chmod 600 /tmp`."""
    folder = tmp_path / "secrets"
    folder.mkdir(mode=mode)
    folder.chmod(mode)
    with pytest.raises(SecretsError, match="is a directory, not a password file") as err:
        resolve_master_password(tmp_path / "v.json", environ={"ORION_MASTER_PASSWORD_FILE": str(folder)})
    assert err.value.exit_code == ExitCode.AUTH and err.value.hint is None and err.value.reason == "password_file"


@pytest.mark.parametrize("variable", ["ORION_MASTER_PASSWORD_FILE", "--new-password-file"])
def test_a_device_is_not_a_password_file(variable: str) -> None:
    """Found by black-box testing: ORION_MASTER_PASSWORD_FILE=/dev/null (mode 0666) got the hint
    `chmod 600 /dev/null`, which run as root breaks /dev/null for every other user of the machine."""
    import os

    with pytest.raises(SecretsError, match="neither a regular file nor a pipe") as err:
        read_password_file(Path(os.devnull), variable=variable)
    assert err.value.exit_code == ExitCode.AUTH and err.value.hint is None and err.value.reason == "password_file"
    assert variable in err.value.message


def test_env_warns_once(tmp_path: Path) -> None:
    warnings: list[str] = []
    for _ in range(3):
        got = resolve_master_password(tmp_path / "v.json", environ={"ORION_MASTER_PASSWORD": "env-pass-1"},
                                      warn=warnings.append, keyring_get=no_keyring)
        assert (got.value, got.source) == ("env-pass-1", "env")
    assert len(warnings) == 1 and "ORION_MASTER_PASSWORD" in warnings[0] and "env-pass-1" not in warnings[0]


def test_keyring_then_prompt(tmp_path: Path) -> None:
    vault = tmp_path / "v.json"
    asked: list[tuple[str, str]] = []

    def kr(service: str, user: str) -> str:
        asked.append((service, user))
        return "remembered-pw"

    got = resolve_master_password(vault, environ={}, keyring_get=kr, prompt=lambda m: "typed")
    assert (got.value, got.source) == ("remembered-pw", "keyring")
    assert asked == [(KEYRING_SERVICE, keyring_username(vault))]
    got = resolve_master_password(vault, environ={}, keyring_get=no_keyring, prompt=lambda m: "typed")
    assert (got.value, got.source) == ("typed", "prompt")


@pytest.mark.parametrize("keyring_usable", [False, True], ids=["no-keyring", "keyring"])
def test_no_source_and_no_tty_fails_fast_with_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   keyring_usable: bool) -> None:
    """`orion secrets remember` is hinted only where an OS keyring orion accepts exists."""
    import keyring
    from keyring.backend import KeyringBackend
    from keyring.backends import fail

    class Usable(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            raise AssertionError("not stored")

    monkeypatch.setattr(keyring, "get_keyring", Usable if keyring_usable else fail.Keyring)
    with pytest.raises(SecretsError) as err:
        resolve_master_password(tmp_path / "v.json", environ={}, keyring_get=no_keyring, prompt=None)
    assert err.value.exit_code == ExitCode.AUTH
    hint = err.value.hint or ""
    assert "ORION_MASTER_PASSWORD_FILE" in hint and "ORION_MASTER_PASSWORD " in hint
    assert ("orion secrets remember" in hint) is keyring_usable, hint


def test_new_password_asks_twice_and_checks(tmp_path: Path) -> None:
    answers = iter(["long-enough-1", "long-enough-1"])
    got = resolve_master_password(tmp_path / "v.json", environ={}, prompt=lambda m: next(answers), new=True,
                                  keyring_get=lambda s, u: "never-used-for-new")
    assert got.value == "long-enough-1"
    answers = iter(["long-enough-1", "long-enough-2"])
    with pytest.raises(SecretsError, match="differ"):
        resolve_master_password(tmp_path / "v.json", environ={}, prompt=lambda m: next(answers), new=True)
    with pytest.raises(SecretsError, match="too short"):
        resolve_master_password(tmp_path / "v.json", environ={"ORION_MASTER_PASSWORD": "short"}, new=True)


def test_default_keyring_getter_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    monkeypatch.setattr(unlock, "_env_warned", False)
    assert unlock.default_keyring_get("orion-vault", "x") is None


@pytest.mark.parametrize("source", ["file", "env", "prompt"])
def test_a_new_password_from_any_source_is_held_to_the_minimum_length(tmp_path: Path, source: str) -> None:
    """Eight characters pass, seven do not, wherever the new password comes from (a vault created with
    ORION_MASTER_PASSWORD_FILE in cron is no weaker than one typed at the prompt)."""

    def resolve(password: str) -> str:
        environ: dict[str, str] = {}
        if source == "file":
            environ["ORION_MASTER_PASSWORD_FILE"] = str(pw_file(tmp_path, password + "\n"))
        elif source == "env":
            environ["ORION_MASTER_PASSWORD"] = password
        answers = iter([password, password])
        return resolve_master_password(tmp_path / "v.json", environ=environ, prompt=lambda m: next(answers),
                                       keyring_get=no_keyring, new=True).value

    assert resolve("eight888") == "eight888"
    with pytest.raises(SecretsError, match="too short") as err:
        resolve("seven77")
    assert err.value.reason == "weak_password" and "seven77" not in err.value.message


def test_an_empty_answer_at_the_prompt_is_no_password(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="no master password entered") as err:
        resolve_master_password(tmp_path / "v.json", environ={}, keyring_get=no_keyring, prompt=lambda m: "")
    assert err.value.reason == "locked" and err.value.exit_code == ExitCode.AUTH


def test_a_keyring_that_fails_the_read_is_said_and_not_taken_for_nothing_remembered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found reviewing the vault in use: a keyring whose read failed (a locked collection, cron without a
    D-Bus session) was "not remembered", and cron's `reconcile` was told to run `orion secrets remember`,
    which had been done, and which then worked at a terminal. The failure is said by its class name (its
    text may quote an entry); a prompt, where there is one, still unlocks."""

    class Locked(Exception):
        pass

    class Backend:
        def get_password(self, service: str, username: str) -> str:
            raise Locked("collection locked; entry secret-ish")

    from orion_cli.secrets import keyring_backend

    monkeypatch.setattr(keyring_backend, "system_keyring", lambda: Backend())
    with pytest.raises(unlock.KeyringUnreadable):
        unlock.default_keyring_get("orion-vault", "x")
    with pytest.raises(SecretsError) as err:
        resolve_master_password(tmp_path / "v.json", environ={})
    assert err.value.reason == "keyring_unreadable" and "(Locked)" in err.value.message
    assert "secret-ish" not in err.value.message + (err.value.hint or "")
    assert "remember" not in (err.value.hint or "") and "ORION_MASTER_PASSWORD_FILE" in (err.value.hint or "")
    assert resolve_master_password(tmp_path / "v.json", environ={}, prompt=lambda m: "typed").source == "prompt"
