"""Why a watch stops: each reason with the exit code, hint and event it ends with.

One value for every way the loop ends (a halt, a breaker trip, a geoblock, credentials, the reader
gone, a full disk, a signal), so the last ``stopped`` event (where stdout still takes it), the message
and the exit code agree.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from orion_cli.cli.streams import unwritten
from orion_cli.core.errors import (
    AuthError,
    ConfigError,
    ExitCode,
    Halted,
    OrionError,
    Refused,
    SecretsError,
    VenueError,
)

if TYPE_CHECKING:
    from orion_cli.cli.output import Output

# The watch's reader went away (`| head`, a log shipper that died): trading on unseen is not what was
# asked, so the loop stops between executions, never inside one.
OUTPUT_CLOSED = "the output was closed"
# A watch stopped by the BREAKER check's refusal (no halt needed): a single trade's words, exit 6, reason BREAKER.
REFUSED_BY_BREAKER = "refused by BREAKER: "
# Secrets errors a live watch waits out (the rounds try again): the vault held by another orion process's
# write. Any other (no vault, a key missing or malformed, a vault it cannot unlock) stops it, exit 4.
TRANSIENT_SECRETS_REASONS = frozenset({"vault_busy"})


@dataclasses.dataclass(frozen=True)
class WatchStop:
    """Why ``trade --watch`` stops and how it then ends, decided where the cause is known.

    ``text`` is the ``stopped`` event's ``reason`` (and, after "watch stopped: ", the error's
    message); ``exit_code`` the process's; ``reason_code`` the error record's reason (also the
    ``stopped`` event's: a reader of stdout alone learns it), None for a stop that is no failure;
    ``hint`` the error's. The end of the watch raises from these fields: telling causes apart by their
    text let a new cause (a geoblock) end as whatever its words happened not to start with.
    """

    text: str
    exit_code: int
    reason_code: str | None = None
    hint: str | None = None
    raised: Exception | None = None  # failed(): the error the watch ends with, as it was raised

    @classmethod
    def failed(cls, error: Exception) -> WatchStop:
        """An error outside a trade ended the watch (a ledger busy past its timeout, or that cannot be
        written, where a round records its scan or the breaker's figures; or a bug: exit 1, ``internal``):
        it ends with that error's exit code and reason, after its ``stopped`` record. Found in a black-box
        run: it ended exit 3 with no ``stopped`` record, the stream's last line a ``skipped`` event."""
        if isinstance(error, OrionError):
            return cls(error.message, int(error.exit_code), error.reason, error.hint, error)
        return cls(f"unexpected internal error ({type(error).__name__})", int(ExitCode.ERROR), "internal",
                   None, error)

    @classmethod
    def output_failed(cls, error: OSError) -> WatchStop:
        """Stdout refused a line (a full disk under `> file`): exit 1, "could not write the output", as
        any command's lost output; stopped between executions, with what it did said on stderr."""
        return cls(unwritten(error), int(ExitCode.ERROR), "output_failed", None, error)

    @classmethod
    def finished(cls, text: str) -> WatchStop:
        """A stop that is no failure: the limit of trades reached, or the reader gone (exit 0)."""
        return cls(text, 0)

    @classmethod
    def refused(cls, text: str, reason_code: str, hint: str | None = None) -> WatchStop:
        """A safeguard stops the watch (exit 6), with the reason code a single trade gives for it."""
        return cls(text, int(ExitCode.REFUSED), reason_code, hint)

    @classmethod
    def credentials_refused(cls, error: SecretsError) -> WatchStop:
        """A venue refused orion's credentials, for an order or a read before one (exit 4, reason
        ``auth``), or orion has none it can use (no vault, a venue's keys not in it, a vault it cannot
        unlock: exit 4, the secrets error's reason; a vault path that is a link to nothing: exit 3,
        ``vault_link_dangling``): every later trade there would fail the same way,
        so the watch ends as that single trade would."""
        return cls(error.message, int(error.exit_code), error.reason, error.hint)

    @classmethod
    def venue_refused(cls, error: VenueError) -> WatchStop:
        """A venue takes no order in the format orion signs (exit 5, reason ``ORDER_VERSION_MISMATCH``):
        every later trade there would be refused the same way, after a first leg at the other venue
        may have filled and been unwound at a loss, so the watch ends as that single trade would."""
        return cls(error.message, int(error.exit_code), error.reason, error.hint)

    @classmethod
    def interrupted(cls, text: str) -> WatchStop:
        """Ctrl-C, SIGTERM or SIGHUP (exit 130); ``text`` names the signal. The reason is the error
        boundary's for an interrupted command."""
        return cls(text, int(ExitCode.INTERRUPTED), "interrupted")

    def error(self) -> OrionError:
        """The error the watch ends with when a safeguard stopped it (:class:`Halted` for a halt), a
        venue refused orion's credentials (:class:`AuthError`), or took no order in the format orion
        signs (:class:`VenueError`)."""
        if self.exit_code == int(ExitCode.AUTH):
            kind_4 = AuthError if self.reason_code == AuthError.reason else SecretsError
            return kind_4(f"watch stopped: {self.text}", reason=self.reason_code, hint=self.hint)
        if self.exit_code == int(ExitCode.VENUE_UNAVAILABLE):
            return VenueError(f"watch stopped: {self.text}", reason=self.reason_code, hint=self.hint)
        if self.exit_code == int(ExitCode.CONFIG):  # the vault path a link to nothing (vault_link_dangling)
            return ConfigError(f"watch stopped: {self.text}", reason=self.reason_code, hint=self.hint)
        kind = Halted if self.reason_code == Halted.reason else Refused
        return kind(f"watch stopped: {self.text}", reason=self.reason_code, hint=self.hint)


def watch_output_ended(out: Output) -> WatchStop | None:
    """Whether the watch's stream has ended, and how it then stops: its reader gone (exit 0), or stdout
    refusing a line (exit 1). Asked between executions, never inside one."""
    if not out.stdout_closed():
        return None
    if out.stdout_failure is not None:
        return WatchStop.output_failed(out.stdout_failure)
    return WatchStop.finished(OUTPUT_CLOSED)
