"""The live-trading gate over its whole input space: flags × environment × TTY, phrases, misspellings."""

from __future__ import annotations

import itertools

import pytest

from orion_cli.core import errors
from orion_cli.core.gate import (
    ENV_AUTHORIZED,
    ENV_PAPER,
    PHRASE,
    Authorization,
    Refused,
    decide,
)

ENVS: dict[str, dict[str, str]] = {
    "none": {},
    "pair": {ENV_PAPER: "0", ENV_AUTHORIZED: "true"},
    "paper_off_only": {ENV_PAPER: "0"},
    "authorized_only": {ENV_AUTHORIZED: "true"},
}


class Asker:
    """Records every prompt; answers with ``answer``."""

    def __init__(self, answer: str | None = PHRASE) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, prompt: str) -> str | None:
        self.asked.append(prompt)
        return self.answer


def expected(live: bool, auth: bool, env: str, tty: bool) -> tuple[str, str]:
    """The matrix of the module docstring, written out independently: ("live"|"paper"|"refused", detail)."""
    if live and auth:
        return "live", "flag"
    if env == "pair":
        return "live", "env"
    if env == "paper_off_only":
        return "refused", f"{ENV_AUTHORIZED}=true"
    if env == "authorized_only":
        return "refused", f"{ENV_PAPER}=0"
    if auth:
        return "refused", "--live"
    if live:
        return ("live", "typed") if tty else ("refused", "--authorize-live")
    return "paper", "paper"


@pytest.mark.parametrize(("live", "auth", "env", "tty"),
                         list(itertools.product([False, True], [False, True], list(ENVS), [False, True])))
def test_matrix(live: bool, auth: bool, env: str, tty: bool) -> None:
    asker = Asker()
    result = decide(live=live, authorize_live=auth, environ=ENVS[env], tty=tty, ask=asker)
    kind, detail = expected(live, auth, env, tty)
    if kind == "refused":
        assert isinstance(result, Refused)
        assert result.missing == detail
        assert detail in result.message
        assert result.exit_code == 6
        err = result.error()
        assert isinstance(err, errors.Refused) and err.exit_code == 6 and err.reason == "NOT_AUTHORIZED"
    else:
        assert isinstance(result, Authorization)
        assert (result.mode, result.how) == (kind, detail)
    # The phrase is asked for in exactly one situation: --live alone, on a terminal, environment unset.
    assert bool(asker.asked) == (live and not auth and tty and env == "none")


def test_no_tty_never_calls_the_prompt_even_when_one_is_given() -> None:
    def boom(prompt: str) -> str:
        raise AssertionError("prompted without a terminal")

    result = decide(live=True, authorize_live=False, environ={}, tty=False, ask=boom)
    assert isinstance(result, Refused) and result.missing == "--authorize-live"


def test_tty_without_a_prompt_callable_refuses() -> None:
    result = decide(live=True, authorize_live=False, environ={}, tty=True, ask=None)
    assert isinstance(result, Refused) and result.missing == "--authorize-live"


@pytest.mark.parametrize("answer", ["confirm live trading", "CONFIRM LIVE", "CONFIRM  LIVE TRADING", "yes", "",
                                    None, "CONFIRM LIVE TRADING!"])
def test_wrong_phrase_refuses(answer: str | None) -> None:
    result = decide(live=True, authorize_live=False, environ={}, tty=True, ask=Asker(answer))
    assert isinstance(result, Refused)
    assert result.missing == "the phrase" and result.exit_code == 6
    assert PHRASE in result.message


@pytest.mark.parametrize("answer", [f"  {PHRASE}", f"{PHRASE} ", f"{PHRASE}\n"])
def test_phrase_with_surrounding_whitespace_is_refused(answer: str) -> None:
    """Found by black-box testing: README says the phrase must be typed exactly; " CONFIRM LIVE TRADING"
    authorized real-money trading."""
    result = decide(live=True, authorize_live=False, environ={}, tty=True, ask=Asker(answer))
    assert isinstance(result, Refused) and result.missing == "the phrase"


@pytest.mark.parametrize("misspelled", [
    {"ORION_LIVE_TRADING_AUTHORISED": "true"},
    {"ORION_PAPER_TRADE": "0"},
    {"ORION_PAPERTRADING": "0", "ORION_LIVE_TRADING_AUTHORISED": "true"},
    {"orion_paper_trading": "0", "orion_live_trading_authorized": "true"},
])
def test_misspelled_variables_change_nothing(misspelled: dict[str, str]) -> None:
    result = decide(live=False, authorize_live=False, environ=misspelled, tty=True, ask=Asker())
    assert isinstance(result, Authorization) and result.mode == "paper" and result.how == "paper"


def test_misspelled_variable_is_named_in_a_note() -> None:
    result = decide(live=False, authorize_live=False, environ={"ORION_LIVE_TRADING_AUTHORISED": "true"}, tty=False)
    assert isinstance(result, Authorization) and result.mode == "paper"
    assert any("ORION_LIVE_TRADING_AUTHORISED" in n and ENV_AUTHORIZED in n for n in result.notes)


def test_misspelled_half_next_to_a_correct_half_is_still_one_half() -> None:
    result = decide(live=False, authorize_live=False, tty=False,
                    environ={ENV_PAPER: "0", "ORION_LIVE_TRADING_AUTHORISED": "true"})
    assert isinstance(result, Refused) and result.missing == f"{ENV_AUTHORIZED}=true"


@pytest.mark.parametrize(("paper", "authorized"), [("1", "true"), ("false", "true"), ("0", "1"), ("0", "yes"),
                                                   ("", "true"), ("0", "")])
def test_only_the_documented_values_are_halves(paper: str, authorized: str) -> None:
    result = decide(live=False, authorize_live=False, tty=False,
                    environ={ENV_PAPER: paper, ENV_AUTHORIZED: authorized})
    assert not (isinstance(result, Authorization) and result.live)


@pytest.mark.parametrize(("environ", "named"), [
    ({ENV_PAPER: "false"}, ENV_PAPER), ({ENV_PAPER: "off"}, ENV_PAPER), ({ENV_PAPER: "no"}, ENV_PAPER),
    ({ENV_AUTHORIZED: "1"}, ENV_AUTHORIZED), ({ENV_AUTHORIZED: "yes"}, ENV_AUTHORIZED),
    ({ENV_PAPER: "false", ENV_AUTHORIZED: "true"}, ENV_PAPER),
])
def test_a_value_that_is_not_the_half_is_named_in_a_note(environ: dict[str, str], named: str) -> None:
    """Found by black-box testing: ORION_PAPER_TRADING=false left trading paper without a word."""
    result = decide(live=False, authorize_live=False, environ=environ, tty=False)
    assert not (isinstance(result, Authorization) and result.live)
    assert [n for n in result.notes if n.startswith(f"ignored {named}=")], result.notes


@pytest.mark.parametrize("environ", [{ENV_PAPER: "1"}, {ENV_PAPER: "true"}, {ENV_PAPER: " Yes "},
                                     {ENV_PAPER: ""},  # found in review: an env file's unset ${X} warned
                                     {ENV_AUTHORIZED: "false"}, {ENV_AUTHORIZED: ""}, {ENV_AUTHORIZED: "0"},
                                     {ENV_PAPER: "0", ENV_AUTHORIZED: "true"}])
def test_values_that_plainly_mean_what_happens_get_no_note(environ: dict[str, str]) -> None:
    assert decide(live=False, authorize_live=False, environ=environ, tty=False).notes == ()


def test_an_odd_value_is_shown_cut_and_quoted() -> None:
    result = decide(live=False, authorize_live=False, environ={ENV_PAPER: "x" * 100}, tty=False)
    assert result.notes == (f"ignored {ENV_PAPER}='{'x' * 20}…' (only 0 turns paper trading off)",)


@pytest.mark.parametrize("environ", [{ENV_PAPER: " 0 ", ENV_AUTHORIZED: "true"},
                                     {ENV_PAPER: "0", ENV_AUTHORIZED: "TRUE"},
                                     {ENV_PAPER: "0", ENV_AUTHORIZED: " true"},
                                     {ENV_PAPER: "0 ", ENV_AUTHORIZED: "True"}])
def test_only_the_exact_values_authorize(environ: dict[str, str]) -> None:
    """Found by black-box testing: "TRUE", " true" and " 0" authorized live trading, while README says
    another value than `0` / `true` changes nothing and the note says "only true is an authorization".
    Now such a half is ignored with that note: the other half alone is refused, and none trades paper."""
    result = decide(live=False, authorize_live=False, tty=False, environ=environ)
    assert not (isinstance(result, Authorization) and result.live)
    assert any(n.startswith("ignored ORION_") and "(only " in n for n in result.notes), result.notes


def test_config_mode_live_is_not_an_authorization() -> None:
    result = decide(live=False, authorize_live=False, environ={}, tty=True, ask=Asker(), config_mode="live")
    assert isinstance(result, Authorization) and result.mode == "paper"
    assert any("trading.mode" in n for n in result.notes)
    refused = decide(live=True, authorize_live=False, environ={}, tty=False, config_mode="live")
    assert isinstance(refused, Refused)


def test_half_set_environment_refuses_before_asking_for_the_phrase() -> None:
    asker = Asker()
    result = decide(live=True, authorize_live=False, environ={ENV_AUTHORIZED: "true"}, tty=True, ask=asker)
    assert isinstance(result, Refused) and result.missing == f"{ENV_PAPER}=0"
    assert asker.asked == []


def test_records() -> None:
    rec = Authorization("live", "typed").to_record()
    assert rec == {"type": "authorization", "mode": "live", "how": "typed", "notes": []}


@pytest.mark.parametrize("env", list(ENVS))
def test_half_pair_names_the_missing_half_of_exactly_a_half_set_pair(env: str) -> None:
    from orion_cli.core.gate import half_pair

    note = half_pair(ENVS[env])
    if env == "paper_off_only":
        assert note is not None and note.startswith(f"{ENV_PAPER}=0 is set but {ENV_AUTHORIZED}=true is missing")
    elif env == "authorized_only":
        assert note is not None and note.startswith(f"{ENV_AUTHORIZED}=true is set but {ENV_PAPER}=0 is missing")
    else:
        assert note is None
    # The values the gate reads as no half are no half here either (decide() stays the judge).
    assert half_pair({ENV_PAPER: "0", ENV_AUTHORIZED: "TRUE"}) is not None
    assert half_pair({ENV_PAPER: "false", ENV_AUTHORIZED: "yes"}) is None


@pytest.mark.parametrize(("environ", "live"), [
    ({}, False),
    ({ENV_PAPER: "0", ENV_AUTHORIZED: "true"}, True),
    ({ENV_PAPER: "0"}, False),
    ({ENV_AUTHORIZED: "true"}, False),
    ({ENV_PAPER: "0", ENV_AUTHORIZED: "True"}, False),
    ({ENV_PAPER: "0", ENV_AUTHORIZED: "1"}, False),
    ({ENV_PAPER: "false", ENV_AUTHORIZED: "true"}, False),
    ({ENV_PAPER: " 0", ENV_AUTHORIZED: "true"}, False),
])
def test_env_authorizes_live_is_exactly_the_gates_environment_pair(environ: dict[str, str], live: bool) -> None:
    """Found by a mutation audit: nothing pinned env_authorizes_live, which picks the ledger of `halt`,
    `reconcile`, `report` and `balance`. With `or` for `and`, half a pair moved them to the live ledger;
    with another spelling of "true", a service trading live (decide() says env) halted the paper ledger."""
    from orion_cli.core.gate import env_authorizes_live

    assert env_authorizes_live(environ) is live
    decision = decide(live=False, authorize_live=False, environ=environ, tty=False)
    assert (isinstance(decision, Authorization) and decision.how == "env") is live


def test_a_lower_case_gate_variable_is_named_in_a_note() -> None:
    """Found by a mutation audit: lower-case names were pinned to change nothing, not to be reported."""
    result = decide(live=False, authorize_live=False, tty=False,
                    environ={"orion_paper_trading": "0", "orion_live_trading_authorized": "true"})
    assert isinstance(result, Authorization) and result.mode == "paper"
    assert any(n.startswith("ignored orion_paper_trading ") and ENV_PAPER in n for n in result.notes), result.notes
    assert any(n.startswith("ignored orion_live_trading_authorized ") for n in result.notes), result.notes


@pytest.mark.parametrize(("misspelled", "meant"), [("ORION_PAPER_TRADE", ENV_PAPER), ("ORION_PAPERTRADING", ENV_PAPER),
                                                   ("ORION_LIVE_TRADING_AUTHORISED", ENV_AUTHORIZED),
                                                   ("ORION_LIVE_TRADING_AUTH", ENV_AUTHORIZED)])
def test_every_misspelling_the_docs_name_is_reported(misspelled: str, meant: str) -> None:
    """Found by a mutation audit: a stricter similarity cutoff (0.95) dropped the note for ORION_PAPER_TRADE, the
    module docstring's own example, and no test noticed."""
    result = decide(live=False, authorize_live=False, environ={misspelled: "0"}, tty=False)
    assert result.notes == (f"ignored {misspelled} (not a gate variable; did you mean {meant}?)",)


def test_the_refusal_hint_names_the_exact_values_that_authorize() -> None:
    """Found by a mutation audit: nothing read the hint, which tells an operator what to set."""
    result = decide(live=True, authorize_live=False, environ={}, tty=False)
    assert isinstance(result, Refused)
    hint = result.error().hint or ""
    assert "--live --authorize-live" in hint and f"{ENV_PAPER}=0 with {ENV_AUTHORIZED}=true" in hint
