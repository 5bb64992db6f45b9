"""The exception tree of the core, each class carrying its process exit code.

The CLI has one error boundary that turns an :class:`OrionError` into a one-line message, an
optional hint and ``exit_code``. Messages must never contain secret values: code that handles
secrets raises with the secret's *name* only.
"""

from __future__ import annotations

from enum import IntEnum

from orion_cli.core.revealed import scrub_revealed


class ExitCode(IntEnum):
    """Process exit codes, documented in ``orion --help`` and the README."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    AUTH = 4
    VENUE_UNAVAILABLE = 5
    REFUSED = 6
    DRIFT = 7
    INTERRUPTED = 130


class OrionError(Exception):
    """Base of every error the operator is expected to read and act on."""

    exit_code: ExitCode = ExitCode.ERROR
    reason: str = "error"

    def __init__(self, message: str, *, hint: str | None = None, reason: str | None = None) -> None:
        # Never a secret the process revealed (a venue's words quoting the request's headers back): an
        # error's text is printed, audited, and stored (an order's reason, an execution's result, a
        # halt's reason) where a later command, which revealed nothing, prints it again (core.revealed).
        message = scrub_revealed(message)
        hint = scrub_revealed(hint) if hint else hint
        super().__init__(message)
        self.message = message
        self.hint = hint
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


class UsageError(OrionError):
    """A bad argument value that the option parser could not catch (exit 2)."""

    exit_code = ExitCode.USAGE
    reason = "usage"


class ConfigError(OrionError):
    """Missing or invalid configuration; the message names the key and its source (exit 3)."""

    exit_code = ExitCode.CONFIG
    reason = "config"


class StorageError(ConfigError):
    """The database cannot be opened or is not an orion database (exit 3: fix the URL/path)."""

    reason = "storage"


class SecretsError(OrionError):
    """Vault locked, wrong master password, malformed or rejected credential (exit 4)."""

    exit_code = ExitCode.AUTH
    reason = "secrets"


class AuthError(SecretsError):
    """A venue rejected our credentials or signature (exit 4)."""

    reason = "auth"


REJECTED_HINT = "check the API key id, private key, key environment (demo/prod) and the system clock"


class VenueUnavailable(OrionError):
    """A venue could not be reached after retries: network, 5xx or 429 exhausted (exit 5)."""

    exit_code = ExitCode.VENUE_UNAVAILABLE
    reason = "venue_unavailable"

    def __init__(self, venue: str, cause: str, *, hint: str | None = None) -> None:
        super().__init__(f"{venue} unavailable: {cause}", hint=hint)
        self.venue = venue
        self.cause = cause


def venue_cause(exc: OrionError) -> str:
    """``exc``'s text for a line that names the venue itself ("kalshi unavailable: …", "DEGRADED:
    kalshi …"): a :class:`VenueUnavailable`'s cause, which its message already prefixes with
    "kalshi unavailable: "; any other error's message. Quoting the message there printed
    "kalshi unavailable: kalshi unavailable: …"."""
    return exc.cause if isinstance(exc, VenueUnavailable) else exc.message


class VenueError(OrionError):
    """A venue answered, but with something we cannot use (bad payload, unexpected error body)."""

    exit_code = ExitCode.VENUE_UNAVAILABLE
    reason = "venue_error"


class DataError(OrionError):
    """A payload field is missing, mistyped or out of range; the message names the field.

    Raised at the boundary so that a bad value never becomes a silent zero.
    """

    exit_code = ExitCode.ERROR
    reason = "bad_data"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Refused(OrionError):
    """A safeguard refused the action: halted, breaker, not authorized, a risk check (exit 6)."""

    exit_code = ExitCode.REFUSED
    reason = "refused"


class Halted(Refused):
    """The kill switch is engaged."""

    reason = "HALTED"


class NotFound(OrionError):
    """A named thing (opportunity, order, pair, secret) does not exist (exit 2: bad argument)."""

    exit_code = ExitCode.USAGE
    reason = "not_found"


class DriftFound(OrionError):
    """``reconcile`` found the ledger and a venue disagree (exit 7)."""

    exit_code = ExitCode.DRIFT
    reason = "drift"
