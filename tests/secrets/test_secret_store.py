"""The core API: redacted values, batch validation, audit callbacks, rotate, check."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from secrets_testkit import PASSWORD, WALLET_ADDRESS, WALLET_KEY, MemoryKeyring, fixed

from orion_cli.core.errors import ExitCode, NotFound, SecretsError, UsageError
from orion_cli.secrets.store import SecretStore, SecretValue, VaultStore, open_store
from orion_cli.secrets.vault import TEST_KDF, Entry


def test_secret_value_is_redacted_everywhere() -> None:
    v = SecretValue("polymarket_private_key", WALLET_KEY.encode())
    for text in (repr(v), str(v), f"{v}", f"{v!r}", format(v, ""), repr([v]), repr({"k": v})):
        assert WALLET_KEY not in text and "redacted" in text
    with pytest.raises(TypeError):
        pickle.dumps(v)
    with pytest.raises(TypeError):
        copy.deepcopy(v)
    assert v.reveal() == WALLET_KEY
    with v as inner:
        assert inner.reveal_bytes() == WALLET_KEY.encode()
    assert v.reveal_bytes() == b""  # wiped on exit
    with pytest.raises(SecretsError):
        SecretValue("blob", b"\xff").reveal()


def test_batch_validation_is_all_or_nothing(vault_path: Path, make_store: Callable[..., SecretStore]) -> None:
    store = make_store()
    store.set_many({"polymarket_private_key": WALLET_KEY})
    before = vault_path.read_bytes()
    with pytest.raises(SecretsError) as err:
        store.set_many({"polymarket_funder_address": WALLET_ADDRESS, "polymarket_signature_type": "9"})
    assert err.value.exit_code == ExitCode.AUTH and "polymarket_signature_type" in str(err.value)
    assert vault_path.read_bytes() == before
    with pytest.raises(UsageError):
        store.set_many({})


def test_no_vault_yet(vault_path: Path) -> None:
    asked: list[bool] = []

    def pw(new: bool):  # type: ignore[no-untyped-def]
        asked.append(new)
        return fixed(PASSWORD)(new)

    store = open_store("vault", vault_path=vault_path, password=pw, kdf=TEST_KDF, allow_weak_kdf=True)
    assert not any(i.is_set for i in store.list()) and asked == []  # listing an absent vault needs no password
    with pytest.raises(SecretsError) as err:
        store.get("polymarket_private_key")
    assert err.value.reason == "no_vault"
    with pytest.raises(NotFound):
        store.remove("polymarket_private_key")
    store.set_many({"polymarket_private_key": WALLET_KEY})
    assert asked == [True]  # created with a "new" password request
    assert store.get("polymarket_private_key").reveal() == "0x" + WALLET_KEY
    assert asked == [True]  # the derived key is reused, not re-asked


def test_removing_a_name_orion_does_not_know_says_so(make_store: Callable[..., SecretStore]) -> None:
    """Found by black-box testing: `secrets remove nonsense` said the credential "is not set", as for a
    known one not stored yet. A stored name outside the catalogue (`list` shows it) is still removed."""
    store = make_store()
    store.set_many({"polymarket_private_key": WALLET_KEY, "legacy_token": "x"})
    with pytest.raises(UsageError) as err:
        store.remove("nonsense")
    assert err.value.exit_code == ExitCode.USAGE
    assert "not a credential orion knows" in err.value.message and "polymarket_private_key" in str(err.value.hint)
    with pytest.raises(NotFound, match="polymarket_signature_type is not set"):
        store.remove("polymarket_signature_type")
    store.remove("legacy_token")
    with pytest.raises(UsageError, match="not a credential orion knows"):
        store.remove("legacy_token")


def test_on_change_names_never_values(make_store: Callable[..., SecretStore]) -> None:
    events: list[tuple[str, str]] = []
    store = make_store(on_change=lambda a, n: events.append((a, n)))
    store.set_many({"polymarket_private_key": WALLET_KEY, "polymarket_signature_type": "1"})
    store.remove("polymarket_signature_type")
    store.rotate("another long password")
    assert events == [("set", "polymarket_private_key"), ("set", "polymarket_signature_type"),
                      ("remove", "polymarket_signature_type"), ("rotate", "*")]


def test_before_change_is_called_for_a_change_that_goes_ahead_only_and_before_it(
        vault_path: Path, make_store: Callable[..., SecretStore]) -> None:
    """The CLI creates a missing ledger there: a refused change (not set, malformed, too short) must
    not call it, and one that goes ahead calls it before anything is written, so a ledger that cannot
    be created stops the change (found by black-box testing: a failed `secrets remove` created one)."""
    called: list[bool] = []  # whether the vault existed when it was called
    store = make_store(before_change=lambda: called.append(vault_path.exists()))
    with pytest.raises(NotFound):
        store.remove("telegram_bot_token")  # no vault yet
    with pytest.raises(SecretsError):
        store.set_many({"polymarket_signature_type": "9"})
    assert called == []
    store.set_many({"polymarket_private_key": WALLET_KEY})
    assert called == [False]
    before = vault_path.read_bytes()
    with pytest.raises(NotFound):
        store.remove("telegram_bot_token")  # a vault, without that name
    with pytest.raises(SecretsError, match="too short"):
        store.rotate("short")
    assert called == [False] and vault_path.read_bytes() == before

    def refuse() -> None:
        raise OSError("the ledger cannot be created")

    refusing = make_store(before_change=refuse)
    for change in (lambda: refusing.remove("polymarket_private_key"), lambda: refusing.rotate("a brand new password"),
                   lambda: refusing.set_many({"polymarket_signature_type": "1"})):
        with pytest.raises(OSError):
            change()
        assert vault_path.read_bytes() == before
    store.remove("polymarket_private_key")
    store.rotate("a brand new password")
    assert called == [False, True, True]


def test_rotate_new_salt_old_password_stops_working(vault_path: Path,
                                                     make_store: Callable[..., SecretStore]) -> None:
    import json

    store = make_store()
    store.set_many({"polymarket_private_key": WALLET_KEY})
    salt_before = json.loads(vault_path.read_text())["kdf"]["salt"]
    with pytest.raises(SecretsError, match="too short"):
        store.rotate("short")
    assert store.rotate("a brand new password") is True
    assert json.loads(vault_path.read_text())["kdf"]["salt"] != salt_before
    assert store.get("polymarket_private_key").reveal() == "0x" + WALLET_KEY  # same store keeps working
    with pytest.raises(SecretsError) as err:
        make_store(PASSWORD).get("polymarket_private_key")
    assert err.value.reason == "wrong_password"
    assert make_store("a brand new password").get("polymarket_private_key").reveal() == "0x" + WALLET_KEY


def test_rotate_to_the_same_password_says_so_and_it_keeps_working(
        vault_path: Path, make_store: Callable[..., SecretStore]) -> None:
    import json

    store = make_store()
    store.set_many({"polymarket_private_key": WALLET_KEY})
    salt_before = json.loads(vault_path.read_text())["kdf"]["salt"]
    assert store.rotate(PASSWORD) is False
    assert json.loads(vault_path.read_text())["kdf"]["salt"] != salt_before  # re-encrypted all the same
    assert make_store(PASSWORD).get("polymarket_private_key").reveal() == "0x" + WALLET_KEY


def test_rekeyed_by_another_process_is_detected(make_store: Callable[..., SecretStore]) -> None:
    first = make_store()
    first.set_many({"custom": "1"})
    make_store().rotate("rotated elsewhere")
    with pytest.raises(SecretsError) as err:
        first.set_many({"custom": "2"})
    assert err.value.reason == "vault_rekeyed"
    # Review: the loser of two rotations was told only "run the command again", which then failed with a
    # wrong password: the vault now has the other process's new password, which the hint says.
    assert "nothing was changed" in err.value.message
    assert "now opens with the new password that other rotation set" in (err.value.hint or "")
    assert make_store("rotated elsewhere").get("custom").reveal() == "1"


def test_check_reports_invalid_stored_values(make_store: Callable[..., SecretStore]) -> None:
    store = make_store()
    store.set_many({"polymarket_private_key": WALLET_KEY, "custom_extra": "x"})
    assert isinstance(store, VaultStore)
    # Simulate a value stored by an older, laxer release.
    assert store._key is not None
    store.vault.update(store._key, lambda e: e.update(
        {"polymarket_funder_address": Entry(b"0xnot-an-address-" + WALLET_KEY.encode(), datetime.now(UTC))}))
    results = {r.name: r for r in store.check()}
    assert results["polymarket_private_key"].status == "ok"
    assert results["polymarket_funder_address"].status == "invalid"
    assert not results["polymarket_funder_address"].passed
    assert WALLET_KEY not in results["polymarket_funder_address"].detail
    assert results["custom_extra"].status == "skipped" and results["kalshi_private_key"].status == "unset"


def test_unknown_backend_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(Exception) as err:
        open_store("plaintext", vault_path=tmp_path / "v.json")
    assert getattr(err.value, "exit_code", None) == ExitCode.CONFIG


def test_a_change_is_made_inside_its_audit_scope_and_a_failed_commit_says_it_was_made(
        vault_path: Path, make_store: Callable[..., SecretStore], monkeypatch: pytest.MonkeyPatch) -> None:
    """Review (D3): the vault was written first and audited after, in a transaction of its own: a busy
    ledger then had `rotate` report "retry" (exit 3) for a vault already re-keyed. The audit scope is
    now entered (lock taken, events written) before the change and left (committed) after it: a scope
    that cannot be entered changes nothing, a change that fails rolls its events back, and a commit
    that fails after the change is said as a change made but not audited (exit 3), never as "failed"."""
    import contextlib
    import secrets as pysecrets
    from collections.abc import Iterator

    from orion_cli.core.errors import StorageError
    from orion_cli.secrets.store import ChangedButNotAudited

    key = pysecrets.token_hex(32)
    seen: list[object] = []

    @contextlib.contextmanager
    def audit(action: str, names: list[str]) -> Iterator[None]:
        seen.append((action, names, vault_path.exists()))
        try:
            yield
        except Exception as exc:
            seen.append(f"rolled back: {type(exc).__name__}")
            raise
        seen.append("committed")

    store = make_store(audit=audit)
    store.set_many({"polymarket_signature_type": "1", "polymarket_private_key": key})
    # One transaction for the whole batch (review N2), entered before the vault was created.
    assert seen == [("set", ["polymarket_private_key", "polymarket_signature_type"], False), "committed"]
    seen.clear()
    with pytest.raises(NotFound):  # checked before the scope: nothing to audit
        store.remove("telegram_bot_token")
    assert seen == []

    def cannot_write(self: VaultStore, values: dict[str, bytes], *, replace: bool) -> None:
        raise SecretsError("cannot write the vault: No space left on device")

    with monkeypatch.context() as m:
        m.setattr(VaultStore, "_write", cannot_write)
        with pytest.raises(SecretsError, match="cannot write"):
            store.set_many({"polymarket_signature_type": "2"}, replace=True)
    assert seen == [("set", ["polymarket_signature_type"], True), "rolled back: SecretsError"]

    def busy(action: str, names: list[str]) -> contextlib.AbstractContextManager[None]:
        raise StorageError("database is busy: database is locked", reason="storage_busy")

    before = vault_path.read_bytes()
    refused = make_store(audit=busy)
    for change in (lambda: refused.rotate("a brand new password"), lambda: refused.remove("polymarket_private_key"),
                   lambda: refused.set_many({"polymarket_signature_type": "2"}, replace=True)):
        with pytest.raises(StorageError) as err:
            change()
        assert err.value.reason == "storage_busy" and vault_path.read_bytes() == before
    assert make_store().get("polymarket_signature_type").reveal() == "1"  # the old password still opens it

    @contextlib.contextmanager
    def commit_fails(action: str, names: list[str]) -> Iterator[None]:
        yield
        raise StorageError("database error: disk I/O error")

    events: list[tuple[str, str]] = []
    unaudited = make_store(audit=commit_fails, on_change=lambda a, n: events.append((a, n)))
    with pytest.raises(ChangedButNotAudited) as err:
        unaudited.rotate("a brand new password")
    assert err.value.exit_code == ExitCode.CONFIG and err.value.message == (
        "re-encrypted the vault under the new master password: the old one no longer works, but its audit "
        "event could not be recorded: database error: disk I/O error")
    assert "do not repeat it" in str(err.value.hint) and events == []
    assert make_store("a brand new password").get("polymarket_private_key").reveal() == "0x" + key
    with pytest.raises(ChangedButNotAudited, match=r"^removed polymarket_signature_type from the vault, but"):
        make_store("a brand new password", audit=commit_fails).remove("polymarket_signature_type")
    assert not make_store("a brand new password").get_optional("polymarket_signature_type")
    assert key not in repr(seen) + str(err.value)


OTHER_WALLET_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Hardhat #1, public


@pytest.mark.parametrize("by_hand", [WALLET_KEY, WALLET_KEY.upper(), "0x" + WALLET_KEY.upper(), f"  {WALLET_KEY}\n"],
                         ids=["bare", "capitals", "0x-capitals", "spaces"])
def test_a_credential_set_in_the_keyring_by_hand_as_typed_is_the_same_value(tmp_path: Path, by_hand: str) -> None:
    """Review: a wallet key set in the keyring by hand without its 0x (or in capitals) is read as typed, so
    importing the same key was refused as "already stored with another value", pushing the user to
    --replace; a held value is compared as the credential it is (normalised), before and under the lock.
    A keyring that fails to read is its own error (exit 4), not another value."""

    class FailingKeyring(MemoryKeyring):
        fail = False

        def get_password(self, service: str, username: str) -> str | None:
            if self.fail and username == "polymarket_private_key":
                raise RuntimeError("the keyring daemon is gone")
            return super().get_password(service, username)

    kr = FailingKeyring()
    store = open_store("keyring", vault_path=tmp_path / "vault.json", keyring_backend=kr)
    kr.set_password("orion", "polymarket_private_key", by_hand)
    assert store.replacing({"polymarket_private_key": WALLET_KEY}) == []
    store._write({"polymarket_private_key": ("0x" + WALLET_KEY).encode()}, replace=False)  # the check under the lock
    kr.set_password("orion", "polymarket_private_key", by_hand)
    store.set_many({"polymarket_private_key": "0x" + WALLET_KEY})
    assert store.get("polymarket_private_key").reveal() == "0x" + WALLET_KEY
    assert store.replacing({"polymarket_private_key": OTHER_WALLET_KEY}) == ["polymarket_private_key"]
    kr.fail = True
    with pytest.raises(SecretsError) as err:
        store.replacing({"polymarket_private_key": OTHER_WALLET_KEY})
    assert err.value.exit_code == ExitCode.AUTH and err.value.reason == "keyring_error"


@pytest.mark.parametrize("backend", ["vault", "keyring", "keyring-by-hand"])
def test_a_stored_credential_is_replaced_only_on_purpose(tmp_path: Path, backend: str) -> None:
    """A docs review found `encrypt` replacing a stored credential silently. ``set_many`` refuses a name
    held with another value (exit 6, ALREADY_STORED, names only, nothing written) unless ``replace``; the
    same value again is no replacement. The write checks again under the writers' lock: a value another
    process stored after the first check is not replaced either. A value set in the keyring by hand,
    outside orion's index, is held as much as one orion stored."""
    import contextlib
    from collections.abc import Iterator

    from orion_cli.core.errors import Refused

    kr = MemoryKeyring()
    audited: list[str] = []

    @contextlib.contextmanager
    def audit(action: str, names: list[str]) -> Iterator[None]:
        audited.extend(names)
        yield

    def make() -> SecretStore:
        if backend == "vault":
            return open_store("vault", vault_path=tmp_path / "vault.json", password=fixed(PASSWORD), kdf=TEST_KDF,
                              allow_weak_kdf=True, audit=audit)
        return open_store("keyring", vault_path=tmp_path / "vault.json", keyring_backend=kr, audit=audit)

    store = make()
    if backend == "keyring-by-hand":
        kr.set_password("orion", "polymarket_private_key", "0x" + WALLET_KEY)
    else:
        store.set_many({"polymarket_private_key": WALLET_KEY})
    state = (tmp_path / "vault.json").read_bytes() if backend == "vault" else dict(kr.data)

    def unchanged() -> bool:
        return state == ((tmp_path / "vault.json").read_bytes() if backend == "vault" else kr.data)

    with pytest.raises(Refused) as err:
        store.set_many({"polymarket_private_key": OTHER_WALLET_KEY, "polymarket_signature_type": "1"})
    assert err.value.exit_code == ExitCode.REFUSED and err.value.reason == "ALREADY_STORED"
    assert err.value.message.startswith("polymarket_private_key is already stored in the ")
    assert "--replace" in str(err.value.hint) and OTHER_WALLET_KEY not in str(err.value) + str(err.value.hint)
    assert unchanged() and not store.get_optional("polymarket_signature_type")
    assert audited == ([] if backend == "keyring-by-hand" else ["polymarket_private_key"])  # refused before its audit
    assert store.replacing({"polymarket_private_key": OTHER_WALLET_KEY}) == ["polymarket_private_key"]
    assert store.replacing({"polymarket_private_key": WALLET_KEY, "polymarket_signature_type": "1"}) == []

    # Between the check and the write, another process stores it: refused under the lock, nothing written.
    with pytest.raises(Refused, match=r"^polymarket_private_key is already stored"):
        store._write({"polymarket_private_key": ("0x" + OTHER_WALLET_KEY).encode(),
                      "polymarket_signature_type": b"1"}, replace=False)
    assert unchanged()

    store.set_many({"polymarket_private_key": WALLET_KEY})  # the same value: nothing is replaced
    store.set_many({"polymarket_private_key": OTHER_WALLET_KEY}, replace=True)
    assert make().get("polymarket_private_key").reveal() == "0x" + OTHER_WALLET_KEY
