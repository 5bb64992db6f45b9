"""The live-trading gate (DESIGN §2): paper unless *both* halves of an authorization are present.

Why a pure function: the gate is the one decision that must never surprise anyone, so it depends only
on what it is given (the two flags, an environment mapping, whether a terminal is attached and a
callable that asks for the phrase) and is tested over its whole input space. It never prints, never
reads ``os.environ`` itself and never prompts unless it is handed a terminal *and* a way to ask.

There are three ways to authorize live trading, each made of two deliberate acts:

* **flag pair** — ``--live --authorize-live`` (how = ``"flag"``);
* **typed** — ``--live`` on an interactive terminal plus the exact phrase ``CONFIRM LIVE TRADING``
  typed at the prompt (how = ``"typed"``);
* **environment pair** — ``ORION_PAPER_TRADING=0`` *and* ``ORION_LIVE_TRADING_AUTHORIZED=true``
  (how = ``"env"``), for services; equivalent to the flag pair.

The full matrix (``L`` = ``--live``, ``A`` = ``--authorize-live``, ``P0`` = ``ORION_PAPER_TRADING``
is exactly ``0``, ``AT`` = ``ORION_LIVE_TRADING_AUTHORIZED`` is exactly ``true``; rows
are tried top to bottom and the first that applies decides):

====  =====================  ======  ===============================================================
 row  flags / environment     TTY     result
====  =====================  ======  ===============================================================
  1   L and A                 any     live, how = flag (the environment is not consulted)
  2   P0 and AT               any     live, how = env (with or without L or A alone)
  3   P0 without AT           any     refused (exit 6): names ``ORION_LIVE_TRADING_AUTHORIZED=true``
  4   AT without P0           any     refused (exit 6): names ``ORION_PAPER_TRADING=0``
  5   A without L             any     refused (exit 6): names ``--live``
  6   L without A             yes     prompt for ``CONFIRM LIVE TRADING``: exact → live, how = typed;
                                      anything else or an empty answer → refused (exit 6); Ctrl-C or
                                      Ctrl-D → interrupted (exit 130), nothing placed
  7   L without A             no      refused (exit 6): names ``--authorize-live`` (never prompts)
  8   nothing                 any     paper, how = paper
====  =====================  ======  ===============================================================

Details that the matrix implies and the tests pin down:

* A half-set environment (rows 3, 4) refuses even when ``--live`` is typed on a terminal: a service
  environment that is half configured is a mistake to fix, not a reason to ask a human.
* Only the two exact names count. A misspelled variable (``ORION_LIVE_TRADING_AUTHORISED``,
  ``ORION_PAPER_TRADE``) is ignored — it changes nothing — and is reported as a note so that the
  operator learns why trading stayed paper. Values other than ``0`` / ``true`` are not halves either;
  one that does not plainly mean "paper on" / "not authorized" (``ORION_PAPER_TRADING=false``) is
  reported as a note too.
* ``trading.mode = "live"`` in the configuration is not an authorization: without one of the pairs
  above the result is paper (with a note saying so).
* The phrase is compared exactly: case, spaces and all. So are the environment values (``TRUE`` or
  `` 0`` is another value, ignored with a note): real money is not authorized by a guess.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from orion_cli.core import errors

PHRASE = "CONFIRM LIVE TRADING"
PROMPT = f"Type {PHRASE} to trade with real money:"
ENV_PAPER = "ORION_PAPER_TRADING"
ENV_AUTHORIZED = "ORION_LIVE_TRADING_AUTHORIZED"
FLAG_LIVE = "--live"
FLAG_AUTHORIZE = "--authorize-live"

Mode = Literal["paper", "live"]
How = Literal["paper", "flag", "typed", "env"]
AskPhrase = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class Authorization:
    """The gate let the command through, in ``mode``; ``how`` is what authorized it."""

    mode: Mode
    how: How
    notes: tuple[str, ...] = ()

    @property
    def live(self) -> bool:
        return self.mode == "live"

    def to_record(self) -> dict[str, Any]:
        return {"type": "authorization", "mode": self.mode, "how": self.how, "notes": list(self.notes)}


@dataclass(frozen=True, slots=True)
class Refused:
    """The gate refused (exit 6). ``missing`` names the half that was not given."""

    missing: str
    message: str
    notes: tuple[str, ...] = ()
    reason: str = "NOT_AUTHORIZED"
    exit_code: int = int(errors.ExitCode.REFUSED)

    def error(self) -> errors.Refused:
        """The exception the CLI raises, so the one error boundary prints it and exits 6."""
        hint = ("live trading needs both halves: --live --authorize-live, --live plus the typed phrase on a "
                f"terminal, or {ENV_PAPER}=0 with {ENV_AUTHORIZED}=true")
        return errors.Refused(self.message, reason=self.reason, hint=hint)


Decision = Authorization | Refused



def env_authorizes_live(environ: Mapping[str, str]) -> bool:
    """Both halves of the environment pair are set: a service trading live through it.

    Commands that only read or reconcile a ledger (``reconcile``, ``report``, ``balance``) then use
    the live ledger, as ``trading.mode = "live"`` would make them.
    """
    return _is_set(environ, ENV_PAPER, "0") and _is_set(environ, ENV_AUTHORIZED, "true")

def half_pair(environ: Mapping[str, str]) -> str | None:
    """A note when exactly one half of the environment pair is set (None otherwise): it authorizes
    nothing (``trade`` refuses, exit 6, rows 3 and 4), and a command that picks its ledger by the pair
    (``reconcile``, ``report``, ``balance``, ``halt``) works on the configured one. Said by every such
    command (:meth:`orion_cli.cli.context.AppContext.mode`), so a cron job learns its environment is
    half set before a trade is refused, not only when one is."""
    paper_off, authorized = _is_set(environ, ENV_PAPER, "0"), _is_set(environ, ENV_AUTHORIZED, "true")
    if paper_off == authorized:
        return None
    have, want = (f"{ENV_PAPER}=0", f"{ENV_AUTHORIZED}=true") if paper_off else (f"{ENV_AUTHORIZED}=true",
                                                                                 f"{ENV_PAPER}=0")
    return (f"{have} is set but {want} is missing: half of the live environment pair authorizes nothing "
            "(`orion trade` refuses it, exit 6)")


def _is_set(environ: Mapping[str, str], name: str, wanted: str) -> bool:
    """Exactly ``wanted``: an authorization to trade real money is not guessed from ``TRUE`` or ``" 0"``
    (README: another value than ``0`` / ``true`` changes nothing; :func:`odd_values` says so)."""
    return environ.get(name) == wanted


def near_misses(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Variables that look like the gate's but are not (they are ignored; say so)."""
    targets = (ENV_PAPER, ENV_AUTHORIZED)
    notes: list[str] = []
    for name in sorted(environ):
        upper = name.upper()
        if name in targets or not upper.startswith("ORION") or upper.startswith("ORION__"):
            continue
        close = difflib.get_close_matches(upper, targets, n=1, cutoff=0.8)
        if close:
            notes.append(f"ignored {name} (not a gate variable; did you mean {close[0]}?)")
    return tuple(notes)


# Values that say what their variable already means without being its half: no note for these.
_PAPER_ON = frozenset({"", "1", "true", "yes", "on"})  # empty: unset through an env file's ${X}
_NOT_AUTHORIZED = frozenset({"", "0", "false", "no", "off"})
_SHOWN_VALUE = 20  # characters of an odd value repeated in its note


def odd_values(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Gate variables set to a value that is not their half and does not plainly mean "no" either.

    ``ORION_PAPER_TRADING=false`` reads as "paper off" to a person, but only ``0`` is the half, so
    trading stays paper (or a lone ``ORION_LIVE_TRADING_AUTHORIZED=true`` is refused); the note says
    why, as for a misspelled name.
    """
    notes: list[str] = []
    paper = environ.get(ENV_PAPER)
    if paper is not None and paper != "0" and paper.strip().lower() not in _PAPER_ON:
        notes.append(f"ignored {ENV_PAPER}={_shown(paper)} (only 0 turns paper trading off)")
    authorized = environ.get(ENV_AUTHORIZED)
    if authorized is not None and authorized != "true" and authorized.strip().lower() not in _NOT_AUTHORIZED:
        notes.append(f"ignored {ENV_AUTHORIZED}={_shown(authorized)} (only true is an authorization)")
    return tuple(notes)


def _shown(value: str) -> str:
    cut = value[:_SHOWN_VALUE] + ("…" if len(value) > _SHOWN_VALUE else "")
    return repr(cut)


def decide(
    *,
    live: bool,
    authorize_live: bool,
    environ: Mapping[str, str],
    tty: bool,
    ask: AskPhrase | None = None,
    config_mode: str = "paper",
    no_prompt: str = "",
) -> Decision:
    """Apply the matrix of the module docstring. ``ask`` is called only in row 6 (``--live`` on a TTY).

    ``no_prompt``: why the phrase is not asked though ``tty`` would allow it (said in the refusal), e.g.
    the banner the operator must see first would go where they cannot see it."""
    notes = [*near_misses(environ), *odd_values(environ)]
    if config_mode == "live":
        notes.append('trading.mode = "live" in the configuration is not an authorization by itself')
    env_paper_off = _is_set(environ, ENV_PAPER, "0")
    env_authorized = _is_set(environ, ENV_AUTHORIZED, "true")

    if live and authorize_live:
        return Authorization("live", "flag", tuple(notes))
    if env_paper_off and env_authorized:
        return Authorization("live", "env", tuple(notes))
    if env_paper_off:
        return Refused(f"{ENV_AUTHORIZED}=true", f"{ENV_PAPER}=0 is set but {ENV_AUTHORIZED}=true is missing: "
                       "one half of the environment authorization; trading refused", tuple(notes))
    if env_authorized:
        return Refused(f"{ENV_PAPER}=0", f"{ENV_AUTHORIZED}=true is set but {ENV_PAPER}=0 is missing: "
                       "one half of the environment authorization; trading refused", tuple(notes))
    if authorize_live and not live:
        return Refused(FLAG_LIVE, f"{FLAG_AUTHORIZE} was given without {FLAG_LIVE}: pass both to trade live",
                       tuple(notes))
    if live:
        if not tty or ask is None or no_prompt:
            why = no_prompt or f"there is no terminal to type {PHRASE!r} on"
            return Refused(FLAG_AUTHORIZE, f"{FLAG_LIVE} was given without {FLAG_AUTHORIZE}, and {why}: pass "
                           f"{FLAG_AUTHORIZE} too", tuple(notes))
        answer = ask(PROMPT)
        if answer == PHRASE:
            return Authorization("live", "typed", tuple(notes))
        return Refused("the phrase", f"live trading not authorized: the phrase typed was not exactly {PHRASE!r}",
                       tuple(notes))
    return Authorization("paper", "paper", tuple(notes))
