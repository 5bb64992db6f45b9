"""The live run's secret store (cli.live_venues.LazyStore): a vault re-encrypted under a running watch."""

from __future__ import annotations

from typing import Any

import pytest

from orion_cli.cli import live_venues
from orion_cli.cli.live_venues import REKEY_GRACE_SECONDS, LazyStore


class _Store:
    closed = 0

    def close(self) -> None:
        _Store.closed += 1


def test_a_vault_found_re_encrypted_is_unlocked_again_without_a_prompt_and_the_old_password_waited_out_a_while(
        monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[bool] = []

    def open_store(app: Any, *, ask: bool = True) -> _Store:
        opened.append(ask)
        return _Store()

    monkeypatch.setattr(live_venues, "open_store", open_store)
    clock = [1000.0]
    monkeypatch.setattr("time.monotonic", lambda: clock[0])
    lazy = LazyStore(object())  # type: ignore[arg-type]
    lazy.get()
    assert not lazy.awaiting_new_password()  # a wrong password before any rotation: no wait, a stop
    lazy.rekeyed()
    assert _Store.closed == 1
    lazy.get()
    assert opened == [True, False]  # a run that goes on never stops to prompt
    clock[0] += REKEY_GRACE_SECONDS - 1
    assert lazy.awaiting_new_password()
    clock[0] += 1
    assert not lazy.awaiting_new_password()  # then the old password stops the watch, as before
