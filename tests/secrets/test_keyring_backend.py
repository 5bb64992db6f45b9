"""The keyring backend: an in-memory keyring, the real keyrings.alt file backend, and no backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keyrings.alt.file import PlaintextKeyring
from secrets_testkit import WALLET_KEY, MemoryKeyring

from orion_cli.core.errors import ExitCode, NotFound, SecretsError, UsageError
from orion_cli.secrets import keyring_backend
from orion_cli.secrets.store import SecretStore, open_store


def kr_store(tmp_path: Path, backend: Any, events: list[tuple[str, str]] | None = None) -> SecretStore:
    return open_store("keyring", vault_path=tmp_path / "vault.json", keyring_backend=backend,
                      on_change=(lambda a, n: events.append((a, n))) if events is not None else None)


def exercise(store: SecretStore) -> None:
    store.set_many({"polymarket_private_key": WALLET_KEY, "custom_blob": b"\x00\xff\x10"})
    assert store.get("polymarket_private_key").reveal() == "0x" + WALLET_KEY
    assert store.get("custom_blob").reveal_bytes() == b"\x00\xff\x10"
    listed = {i.name: i for i in store.list()}
    assert listed["polymarket_private_key"].is_set and listed["polymarket_private_key"].updated_at is not None
    assert not listed["kalshi_private_key"].is_set
    assert listed["custom_blob"].is_set and not listed["custom_blob"].known
    checks = {c.name: c.status for c in store.check()}
    assert checks["polymarket_private_key"] == "ok" and checks["kalshi_private_key"] == "unset"
    store.remove("custom_blob")
    with pytest.raises(UsageError, match="unknown credential"):  # gone, and not a name orion knows
        store.remove("custom_blob")
    with pytest.raises(NotFound):
        store.remove("kalshi_private_key")
    with pytest.raises(SecretsError, match="not set"):
        store.get("custom_blob")
    with pytest.raises(SecretsError):
        store.set_many({"polymarket_private_key": "nope"})
    assert store.get("polymarket_private_key").reveal() == "0x" + WALLET_KEY
    with pytest.raises(UsageError):
        store.rotate("a-new-password")


def test_in_memory_keyring(tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    kr = MemoryKeyring()
    exercise(kr_store(tmp_path, kr, events))
    assert events == [("set", "custom_blob"), ("set", "polymarket_private_key"), ("remove", "custom_blob")]
    assert all(WALLET_KEY not in v for v in kr.data.values())  # base64-wrapped, never the raw text
    assert ("orion", "__index__") in kr.data


def test_real_keyrings_alt_file_backend(tmp_path: Path) -> None:
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "keyring_pass.cfg")  # type: ignore[misc]
    exercise(kr_store(tmp_path, kr))
    # A second backend instance on the same file sees the same data.
    kr2 = PlaintextKeyring()
    kr2.file_path = str(tmp_path / "keyring_pass.cfg")  # type: ignore[misc]
    assert kr_store(tmp_path, kr2).get("polymarket_private_key").reveal() == "0x" + WALLET_KEY


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200), blob=st.binary(max_size=200))
def test_keyring_round_trip(tmp_path: Path, text: str, blob: bytes) -> None:
    store = kr_store(tmp_path, MemoryKeyring())
    store.set_many({"custom_text": text, "custom_blob": blob})
    assert store.get("custom_text").reveal() == text
    assert store.get("custom_blob").reveal_bytes() == blob


def test_no_usable_backend_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import keyring
    from keyring.backends import chainer, fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    with pytest.raises(SecretsError) as err:
        open_store("keyring", vault_path=tmp_path / "v.json")
    assert err.value.exit_code == ExitCode.AUTH
    assert 'secrets.backend = "vault"' in (err.value.hint or "")

    # keyrings.alt auto-detected (plaintext file / terminal prompts) is not accepted either.
    class OnlyAlt(chainer.ChainerBackend):
        @property
        def backends(self) -> list[Any]:  # type: ignore[override]
            return [PlaintextKeyring()]

    monkeypatch.setattr(keyring, "get_keyring", lambda: OnlyAlt())
    with pytest.raises(SecretsError, match="PlaintextKeyring"):
        keyring_backend.system_keyring()


def test_backend_errors_never_echo_values(tmp_path: Path) -> None:
    class Broken(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise RuntimeError(f"backend exploded with {password}")

    with pytest.raises(SecretsError) as err:
        kr_store(tmp_path, Broken()).set_many({"polymarket_private_key": WALLET_KEY})
    assert WALLET_KEY not in str(err.value) and "RuntimeError" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_remove_deletes_a_value_the_keyring_holds_outside_orions_index(tmp_path: Path) -> None:
    """Found in review: `remove` asked orion's index alone whether there was anything to remove, so a
    value set in the keyring by hand (used by orion all the same) was "not set" and stayed there."""
    backend = MemoryKeyring()
    store = kr_store(tmp_path, backend)
    value = keyring_backend.encode_value(b"123:abc")
    backend.set_password(keyring_backend.DEFAULT_SERVICE, "telegram_bot_token", value)
    assert store.get("telegram_bot_token").reveal() == "123:abc"
    store.remove("telegram_bot_token")
    assert (keyring_backend.DEFAULT_SERVICE, "telegram_bot_token") not in backend.data
    with pytest.raises(NotFound):
        store.remove("telegram_bot_token")


def test_list_and_check_show_a_value_the_keyring_holds_outside_orions_index(tmp_path: Path) -> None:
    """Found in review: `list` and `check` asked orion's index alone, so a value set in the keyring by
    hand (read and used by orion, and deleted by `remove`) was "unset". It is set, held outside the
    index (no update time), and its format is checked as any other's."""
    backend = MemoryKeyring()
    store = kr_store(tmp_path, backend)
    store.set_many({"polymarket_private_key": WALLET_KEY})
    token = b"123456789:" + b"A" * 35  # a well-formed Telegram bot token
    backend.set_password(keyring_backend.DEFAULT_SERVICE, "telegram_bot_token", keyring_backend.encode_value(token))
    funder = "polymarket_funder_address"
    backend.set_password(keyring_backend.DEFAULT_SERVICE, funder, "not an address")  # by hand: plain text
    listed = {i.name: i.as_json() for i in store.list()}
    assert listed["telegram_bot_token"]["set"] and listed["telegram_bot_token"]["updated_at"] is None
    assert listed["telegram_bot_token"]["held"] == listed[funder]["held"] == "keyring, outside orion's index"
    assert listed[funder]["set"]
    assert listed["polymarket_private_key"]["held"] == "keyring" and listed["polymarket_private_key"]["updated_at"]
    assert not listed["kalshi_private_key"]["set"] and listed["kalshi_private_key"]["held"] is None
    checks = {c.name: c for c in store.check()}
    assert checks["telegram_bot_token"].status == "ok"
    assert "outside orion's index" in checks["telegram_bot_token"].detail
    assert checks[funder].status == "invalid" and checks["kalshi_private_key"].status == "unset"
    assert checks["polymarket_private_key"].status == "ok"
    store.remove("telegram_bot_token")
    assert not {i.name: i for i in store.list()}["telegram_bot_token"].is_set


def test_a_malformed_value_outside_orions_index_is_listed_and_can_be_removed(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    store = kr_store(tmp_path, backend)
    backend.set_password(keyring_backend.DEFAULT_SERVICE, "telegram_bot_token", "orion:b64:!!not base64")
    assert {i.name: i for i in store.list()}["telegram_bot_token"].is_set
    with pytest.raises(SecretsError, match="malformed"):
        store.get("telegram_bot_token")
    # Review: check() stopped at it (exit 4), listing no other credential; it is one invalid row.
    checked = {r.name: r for r in store.check()}
    assert checked["telegram_bot_token"].status == "invalid" and "malformed" in checked["telegram_bot_token"].detail
    assert "not base64" not in checked["telegram_bot_token"].detail
    assert checked["kalshi_api_key_id"].status == "unset"
    store.remove("telegram_bot_token")
    assert (keyring_backend.DEFAULT_SERVICE, "telegram_bot_token") not in backend.data


def test_check_reports_a_failing_keyring_as_its_error_not_as_an_invalid_credential(tmp_path: Path) -> None:
    """Final read: the catch that lists a malformed entry as invalid also took the backend failing to
    read (keyring_error), so `secrets check` blamed a credential for the store's own failure."""
    backend = MemoryKeyring()
    store = kr_store(tmp_path, backend)
    store.set_many({"polymarket_private_key": WALLET_KEY})  # in orion's index: read inside check's catch
    read = backend.get_password

    def broken(service: str, username: str) -> str | None:
        if username == "polymarket_private_key":
            raise RuntimeError("the keyring daemon went away")
        return read(service, username)

    backend.get_password = broken  # type: ignore[method-assign]
    with pytest.raises(SecretsError) as info:
        store.check()
    assert info.value.reason == "keyring_error"


def test_the_null_keyring_is_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """keyring's null backend stores nothing: `orion secrets remember` would say it kept the password."""
    import keyring
    from keyring.backends import null

    monkeypatch.setattr(keyring, "get_keyring", lambda: null.Keyring())
    with pytest.raises(SecretsError) as err:
        keyring_backend.system_keyring()
    assert err.value.reason == "no_keyring"


def test_a_batch_the_keyring_refuses_part_of_leaves_it_as_it_was(tmp_path: Path) -> None:
    class FailsOnOne(MemoryKeyring):
        refuse = ""

        def set_password(self, service: str, username: str, password: str) -> None:
            if username == self.refuse:
                raise RuntimeError("backend down")
            super().set_password(service, username, password)

    kr = FailsOnOne()
    store = kr_store(tmp_path, kr)
    store.set_many({"custom_a": "old-a"})
    before = dict(kr.data)
    kr.refuse = "custom_c"
    with pytest.raises(SecretsError, match="could not store custom_c"):
        store.set_many({"custom_a": "new-a", "custom_b": "new-b", "custom_c": "new-c"}, replace=True)
    assert kr.data == before
