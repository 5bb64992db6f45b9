"""Collecting credentials from the environment / a .env file, and shredding the sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from secrets_testkit import WALLET_KEY

from orion_cli.core.errors import SecretsError
from orion_cli.secrets.importer import Differing, from_dotenv, from_environ, read_value_file, shred


def test_from_environ_aliases_and_key_path(tmp_path: Path, kalshi_pem: str) -> None:
    pem = tmp_path / "kalshi.pem"
    pem.write_text(kalshi_pem)
    env = {
        "KALSHI_API_KEY_ID": "8ccdb333-2be7-4fb0-a051-d86e415bfca4",
        "KALSHI_KEY_ID": "shadowed",
        "KALSHI_PRIVATE_KEY_PATH": "kalshi.pem",
        "PK": WALLET_KEY,
        "CLOB_PASS_PHRASE": "pass",
        "UNRELATED": "x",
    }
    plan = from_environ(env, base_dir=tmp_path)
    assert plan.values["kalshi_api_key_id"] == b"8ccdb333-2be7-4fb0-a051-d86e415bfca4"
    assert plan.values["kalshi_private_key"] == kalshi_pem.encode().rstrip(b"\n")
    assert plan.values["polymarket_private_key"] == WALLET_KEY.encode()
    assert plan.values["polymarket_api_passphrase"] == b"pass"
    assert plan.origins["polymarket_private_key"] == "$PK"
    assert plan.files == [pem] and "$KALSHI_KEY_ID" in plan.shadowed
    assert WALLET_KEY not in repr(plan)


def test_from_dotenv_relative_key_path(tmp_path: Path, kalshi_pem: str) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "k.pem").write_text(kalshi_pem)
    env = tmp_path / ".env"
    env.write_text(f"KALSHI_PRIVATE_KEY_PATH=keys/k.pem\nPOLYMARKET_PRIVATE_KEY=0x{WALLET_KEY}\n")
    plan = from_dotenv(env)
    assert set(plan.values) == {"kalshi_private_key", "polymarket_private_key"}
    assert plan.files == [env, tmp_path / "keys" / "k.pem"]


def test_missing_sources(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="the file named by --from-file does not exist"):
        from_dotenv(tmp_path / "nope.env")
    with pytest.raises(SecretsError, match=r"the file named by \$KALSHI_PRIVATE_KEY_PATH does not exist"):
        from_environ({"KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem")})


def test_a_key_pasted_where_its_path_belongs_is_never_echoed(tmp_path: Path, kalshi_pem: str) -> None:
    """`KALSHI_PRIVATE_KEY_PATH="$(cat k.pem)"` printed the whole key in the error (and cron keeps stderr)."""
    with pytest.raises(SecretsError) as refused:
        from_environ({"KALSHI_PRIVATE_KEY_PATH": kalshi_pem}, base_dir=tmp_path)
    said = f"{refused.value.message} {refused.value.hint}"
    body = [ln for ln in kalshi_pem.splitlines() if ln and not ln.startswith("-----")]
    assert not any(ln in said for ln in body) and "BEGIN" not in said
    assert "not repeated" in said and "without _PATH" in said and "KALSHI_PRIVATE_KEY," in said
    wallet = "0x" + "4c0883a6" * 8
    # hex, bare hex, DER base64, and base64 with "/" (split into path parts, whose last one is short)
    for pasted in (wallet, wallet[2:], "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg",
                   "MIGHAgEAMBMGByqGSM49AgEGCCqG/SM49AwEHBG0w/awIBAQQg+5EA6Auw==", "QUJD" * 200,  # a name too long
                   "~nobody-" + "x" * 40 + "/k.pem"):  # an unknown user's home
        with pytest.raises(SecretsError) as refused:
            from_environ({"KALSHI_PRIVATE_KEY_PATH": pasted}, base_dir=tmp_path)
        assert pasted not in f"{refused.value.message} {refused.value.hint}" and "not repeated" in refused.value.message
    with pytest.raises(SecretsError, match="is a directory, not a credential file"):  # not "larger than"
        read_value_file(tmp_path, named_by="--value-file")


@pytest.mark.parametrize("value", [
    "123456789:TGTOKENabcdefghijklmnopqrstuvwxyz012",  # a Telegram bot token: not hex, not base64
    "https://hooks.slack.com/services/T0/B0/SECRETwebhookpart",  # a webhook URL
    "correct horse battery staple",  # a passphrase
    "pw.with.dots",  # a password looking like a file name
])
def test_a_value_given_where_a_path_belongs_is_never_echoed(tmp_path: Path, value: str) -> None:
    """Black-box review: `--value-file "123456789:TGTOKEN…"` (the value where its file belongs) exited 4
    printing `cannot read 123456789:TGTOKEN…` (also in the JSON error record): only hex- or base64-like
    text was kept back, with a hint about *_PATH variables that this option does not have. A path that
    cannot be opened is never repeated, whatever it looks like; the error names where it came from."""
    for named_by, read in (
            ("--value-file", lambda p: read_value_file(p, named_by="--value-file")),
            ("--from-file", from_dotenv),
            ("old.env:KALSHI_PRIVATE_KEY_PATH",
             lambda p: from_dotenv(_env_with(tmp_path, f"KALSHI_PRIVATE_KEY_PATH={p}\n")))):
        with pytest.raises(SecretsError) as refused:
            read(Path(value))
        said = f"{refused.value.message} {refused.value.hint}"
        assert value not in said and "SECRET" not in said and "TGTOKEN" not in said, said
        assert refused.value.message.startswith(f"the file named by {named_by} does not exist"), said
        assert "not repeated" in refused.value.message and refused.value.reason == "source_unreadable"
    loop = tmp_path / value.replace("/", "_")  # a reason other than "does not exist" is said as it is
    loop.symlink_to(loop.name)  # opening it fails with ELOOP, as root too (unlike a chmod 000 file)
    with pytest.raises(SecretsError) as looped:
        read_value_file(loop, named_by="--value-file")
    assert "cannot be opened (Too many levels" in looped.value.message and value not in looped.value.message


def _env_with(tmp_path: Path, text: str) -> Path:
    env = tmp_path / "old.env"
    env.write_text(text)
    return env


@pytest.mark.timeout(30)
def test_value_file_reads_a_pipe_and_caps_a_device(tmp_path: Path) -> None:
    """``/dev/zero`` passed the size check (a device says 0 bytes) and was read until memory ran out: a
    device is refused; a process substitution (``--value-file <(pass show kalshi)``) stays readable."""
    import os
    import threading

    with pytest.raises(SecretsError, match=r"is neither a regular file nor a pipe .*; not a credential file"):
        read_value_file(Path("/dev/zero"), named_by="--value-file")
    r, w = os.pipe()  # as bash hands over `<(cmd)`: /dev/fd/N, held by its writer
    writer = threading.Thread(target=lambda: (os.write(w, b"from-a-pipe\n"), os.close(w)))
    writer.start()
    try:
        assert read_value_file(Path(f"/dev/fd/{r}"), named_by="--value-file") == b"from-a-pipe"
    finally:
        writer.join()
        os.close(r)


def test_value_file_strips_one_newline(tmp_path: Path) -> None:
    f = tmp_path / "v"
    f.write_bytes(b"value\n\n")
    assert read_value_file(f, named_by="--value-file") == b"value\n"


def test_shred_overwrites_then_deletes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "plain.env"
    f.write_text("PK=" + WALLET_KEY)
    written: list[bytes] = []
    real_open = Path.open

    def spy_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        fh = real_open(self, *args, **kwargs)  # type: ignore[call-overload]
        orig_write = fh.write

        def write(data: bytes) -> int:
            written.append(bytes(data))
            return int(orig_write(data))

        fh.write = write
        return fh

    monkeypatch.setattr(Path, "open", spy_open)
    shred(f)
    assert not f.exists()
    assert written and sum(len(w) for w in written) == len("PK=" + WALLET_KEY)
    assert all(WALLET_KEY.encode() not in w for w in written)


def test_a_dotless_path_that_exists_is_named_and_a_missing_one_is_not_called_a_key(tmp_path: Path) -> None:
    """Found in the final read: a Docker secret path (/run/secrets/kalshi_private_key_pem: 32+ key-alphabet
    characters, no dot) was hidden as "a key" even when something was there, and a missing one was
    told only that the key itself belongs in the variable without _PATH."""
    there = tmp_path / "run" / "secrets" / "kalshi_private_key_pem"
    there.mkdir(parents=True)  # something is there (a directory: unreadable as a credential, even as root)
    with pytest.raises(SecretsError) as refused:
        from_environ({"KALSHI_PRIVATE_KEY_PATH": str(there)})
    assert str(there) in refused.value.message and "is a directory" in refused.value.message
    with pytest.raises(SecretsError) as missing:
        from_environ({"KALSHI_PRIVATE_KEY_PATH": "/run/secrets/polymarket_private_key_x"})
    assert "does not exist" in missing.value.message and "check the path it gives" in (missing.value.hint or "")


def test_a_shadowed_alias_with_a_different_value_is_named_in_differing(tmp_path: Path) -> None:
    """Review (D1): a later alias holding another key was only "shadowed", with nothing to tell it from
    a repeat of the same key, and `--shred-source` destroyed it. Same key however spelt: not differing."""
    import secrets as pysecrets

    first, other = pysecrets.token_hex(32), pysecrets.token_hex(32)
    key_id = "8ccdb333-2be7-4fb0-a051-d86e415bfca4"
    env = tmp_path / ".env"
    env.write_text(f"POLYMARKET_PRIVATE_KEY=0x{first}\nPK={other}\n"
                   f"KALSHI_API_KEY_ID={key_id}\nKALSHI_KEY_ID={key_id.upper()}\n")
    plan = from_dotenv(env)
    assert plan.values["polymarket_private_key"] == f"0x{first}".encode()
    assert sorted(plan.shadowed) == [".env:KALSHI_KEY_ID", ".env:PK"]
    assert plan.differing == [Differing("polymarket_private_key", ".env:PK", ".env:POLYMARKET_PRIVATE_KEY")]
    assert other not in repr(plan) and first not in repr(plan)
    env.write_text(f"POLYMARKET_PRIVATE_KEY=0x{first}\nPK={first.upper()}\n")  # the same key, spelt otherwise
    assert from_dotenv(env).differing == []


def test_a_path_variable_that_was_read_is_not_listed_as_unimported(tmp_path: Path, kalshi_pem: str) -> None:
    """KALSHI_PRIVATE_KEY_PATH is how the key was imported, not a value `--shred-source` would destroy."""
    (tmp_path / "k.pem").write_text(kalshi_pem)
    env = tmp_path / "old.env"
    env.write_text("KALSHI_PRIVATE_KEY_PATH=k.pem\nRPC_URL=https://rpc.example\n")
    plan = from_dotenv(env)
    assert set(plan.values) == {"kalshi_private_key"}
    assert plan.unimported == ["RPC_URL"]


@pytest.mark.parametrize(("line", "name"), [
    ("Zm9vYmFyc2VjcmV0a2V5MQ==", "Zm9vYmFyc2VjcmV0a2V5MQ"),  # base64, mixed case
    ("JBSWY3DPEHPK3PXPJBSWY3DP====", "JBSWY3DPEHPK3PXPJBSWY3DP"),  # base32 (a TOTP seed): one case, padding
    ("#GEZDGNBVGY3TQOJQGEZDGNBV==", "GEZDGNBVGY3TQOJQGEZDGNBV"),  # the same, commented out
    ("#kw==", "kw"),  # a short PEM tail
])
def test_a_line_of_key_material_read_as_an_assignment_is_described_by_its_line(tmp_path: Path, line: str,
                                                                               name: str) -> None:
    """Found in review: a line of base64 or base32 ending in "=" padding reads as NAME=..., and the refusal to
    shred named it: part of a key on stderr. Its "name" is now said by its line alone; a variable's is not."""
    env = tmp_path / "old.env"
    env.write_text(f"POLYMARKET_PRIVATE_KEY={WALLET_KEY}\nRPC_URL=https://rpc.example\n{line}\n")
    plan = from_dotenv(env)
    said = plan.unimported + [u.describe() for u in plan.unkept]
    assert "RPC_URL" in said
    assert not any(name in text for text in said), said
    assert any("line 3" in text and "may be part of a key" in text for text in said), said
