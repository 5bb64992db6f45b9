"""The error tree's contract: each class's exit code and reason, which cron wrappers and pipelines key on.

A mutation audit found that several of them were pinned by no test (NotFound's exit 2, Halted's reason
``HALTED``, DataError's exit 1, AuthError being a SecretsError): each could change and every test pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orion_cli.core.errors import (
    AuthError,
    ConfigError,
    DataError,
    DriftFound,
    ExitCode,
    Halted,
    NotFound,
    OrionError,
    Refused,
    SecretsError,
    StorageError,
    UsageError,
    VenueError,
    VenueUnavailable,
    venue_cause,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_exit_codes_are_the_readme_table() -> None:
    """The README's exit-code table is authoritative: every code orion can exit with is a row of it."""
    text = README.read_text(encoding="utf-8").split("## Exit codes", 1)[1]
    rows = {int(code) for code in re.findall(r"^\| (\d+) \|", text, flags=re.MULTILINE)}
    assert rows == {int(code) for code in ExitCode}
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0, "ERROR": 1, "USAGE": 2, "CONFIG": 3, "AUTH": 4, "VENUE_UNAVAILABLE": 5, "REFUSED": 6, "DRIFT": 7,
        "INTERRUPTED": 130,
    }


@pytest.mark.parametrize(("error", "code", "reason"), [
    (OrionError("x"), 1, "error"),
    (UsageError("x"), 2, "usage"),
    (NotFound("no such opportunity"), 2, "not_found"),  # a bad argument, not a failure to retry
    (ConfigError("x"), 3, "config"),
    (StorageError("x"), 3, "storage"),
    (SecretsError("x"), 4, "secrets"),
    (AuthError("x"), 4, "auth"),
    (VenueUnavailable("kalshi", "timed out"), 5, "venue_unavailable"),
    (VenueError("x"), 5, "venue_error"),
    (DataError("price", "missing"), 1, "bad_data"),
    (Refused("x"), 6, "refused"),
    (Halted("x"), 6, "HALTED"),
    (DriftFound("x"), 7, "drift"),
])
def test_each_error_exits_with_its_documented_code_and_reason(error: OrionError, code: int, reason: str) -> None:
    assert (int(error.exit_code), error.reason) == (code, reason)


def test_the_subclasses_that_are_caught_as_their_parents() -> None:
    """Callers catch the parent: a credential rejected is handled where a secrets error is (exit 4, the
    hint about keys), a damaged ledger where a configuration error is, and the halt where any refusal is."""
    assert issubclass(AuthError, SecretsError) and issubclass(StorageError, ConfigError)
    assert issubclass(Halted, Refused)


def test_a_reason_given_replaces_the_class_reason_but_never_the_exit_code() -> None:
    exc = ConfigError("x", reason="config_invalid", hint="fix it")
    assert (exc.exit_code, exc.reason, exc.hint, str(exc)) == (ExitCode.CONFIG, "config_invalid", "fix it", "x")
    assert ConfigError("y").reason == "config"  # the class's own reason untouched


def test_a_venue_cause_is_said_once_after_the_venue_name() -> None:
    """A line that names the venue itself quotes only the cause: "kalshi unavailable: kalshi unavailable: …"."""
    down = VenueUnavailable("kalshi", "connection refused")
    assert down.message == "kalshi unavailable: connection refused"
    assert venue_cause(down) == "connection refused"
    assert venue_cause(VenueError("kalshi: not JSON")) == "kalshi: not JSON"
    assert venue_cause(DataError("yes_ask", "missing")) == "yes_ask: missing"
