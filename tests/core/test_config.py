"""Configuration: precedence layers, ORION_HOME, validation errors that name key, source and range."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from orion_cli.core import paths
from orion_cli.core.config import (
    OWN_VARIABLES,
    ConfigError,
    _misspelt_variable,
    _spec_map,
    iter_flat,
    key_specs,
    load_settings,
    lowercase_variable_notes,
    own_variable_near_misses,
    parse_window,
    render_example,
)
from orion_cli.core.errors import ExitCode
from orion_cli.core.redact import mask_url

REPO = Path(__file__).resolve().parents[2]
KEY = "limits.order_notional"


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def user_file(isolated_home: Path) -> Path:
    return isolated_home / "config.toml"


# -- one test per precedence layer -------------------------------------------------------------


def test_defaults_when_nothing_is_set() -> None:
    s = load_settings(environ={})
    assert s.limits.order_notional == Decimal("100")
    assert s.trading.mode == "paper"
    assert s.sources[KEY] == "default"
    assert set(s.sources.values()) == {"default"}
    assert s.config_files == ()


def test_user_config_file_beats_defaults(user_file: Path) -> None:
    _write(user_file, '[limits]\norder_notional = "50"\n')
    s = load_settings(environ={})
    assert s.limits.order_notional == Decimal("50")
    assert s.sources[KEY] == f"user config {user_file}"
    assert s.sources["limits.order_contracts"] == "default"
    assert s.config_files == (str(user_file),)


def test_orion_config_env_file_beats_user_file(user_file: Path, tmp_path: Path) -> None:
    _write(user_file, '[limits]\norder_notional = "50"\norder_contracts = "7"\n')
    other = _write(tmp_path / "other.toml", '[limits]\norder_notional = "40"\n')
    s = load_settings(environ={"ORION_CONFIG": str(other)})
    assert s.limits.order_notional == Decimal("40")
    assert s.sources[KEY] == f"$ORION_CONFIG {other}"
    assert s.limits.order_contracts == Decimal("7")  # keys it does not set fall through to the user file


def test_config_flag_beats_orion_config_env(tmp_path: Path) -> None:
    env_file = _write(tmp_path / "env.toml", '[limits]\norder_notional = "40"\n')
    flag_file = _write(tmp_path / "flag.toml", '[limits]\norder_notional = "30"\n')
    s = load_settings(config_file=flag_file, environ={"ORION_CONFIG": str(env_file)})
    assert s.limits.order_notional == Decimal("30")
    assert s.sources[KEY] == f"--config {flag_file}"
    assert str(env_file) not in s.config_files


def test_environment_variable_beats_config_files(tmp_path: Path) -> None:
    flag_file = _write(tmp_path / "flag.toml", '[limits]\norder_notional = "30"\n')
    s = load_settings(config_file=flag_file, environ={"ORION__LIMITS__ORDER_NOTIONAL": "20"})
    assert s.limits.order_notional == Decimal("20")
    assert s.sources[KEY] == "environment ORION__LIMITS__ORDER_NOTIONAL"


def test_command_line_flag_beats_environment() -> None:
    s = load_settings(environ={"ORION__LIMITS__ORDER_NOTIONAL": "20"}, overrides={KEY: "10"})
    assert s.limits.order_notional == Decimal("10")
    assert s.sources[KEY] == "command line"


def test_none_override_means_flag_not_given() -> None:
    s = load_settings(environ={"ORION__LIMITS__ORDER_NOTIONAL": "20"}, overrides={KEY: None})
    assert s.limits.order_notional == Decimal("20")


def test_real_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORION__TRADING__MIN_EDGE", "0.02")
    assert load_settings().trading.min_edge == Decimal("0.02")


def test_orion_home_relocates_config_data_and_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "elsewhere"
    monkeypatch.setenv("ORION_HOME", str(home))
    assert paths.user_config_file() == home / "config.toml"
    assert paths.default_database_path() == home / "orion.db"
    assert paths.default_vault_path() == home / "vault.json"
    assert paths.default_database_url() == f"sqlite:///{home / 'orion.db'}"
    _write(home / "config.toml", '[trading]\nmin_edge = "0.03"\n')
    assert load_settings(environ={}).trading.min_edge == Decimal("0.03")


def test_toml_floats_and_types_are_exact() -> None:
    # A bare TOML float must arrive as the exact decimal written, not a binary float.
    s = load_settings(environ={"ORION__PAPER__LATENCY_MS": "25", "ORION__KALSHI__ENABLED": "false",
                               "ORION__TRADING__TRADING_WINDOWS": "13:30-20:00, 21:00-22:00"})
    assert s.paper.latency_ms == 25 and s.kalshi.enabled is False
    assert s.trading.trading_windows == ["13:30-20:00", "21:00-22:00"]


def test_toml_float_is_parsed_as_decimal(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", "[trading]\nmin_edge = 0.015\n")
    assert load_settings(config_file=f, environ={}).trading.min_edge == Decimal("0.015")


# -- errors: exit 3, naming key, source and allowed range --------------------------------------


def test_unknown_key_in_file_suggests_the_right_one(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", '[limits]\norder_notionl = "5"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG == 3
    assert "limits.order_notionl" in err.message and str(f) in err.message
    assert err.hint == "did you mean limits.order_notional?"


@pytest.mark.parametrize(("body", "hint"), [
    ('[polymarket]\npairs_file = "/srv/pairs.toml"\n', "did you mean matching.pairs_file?"),
    ("[trading]\ndaily_loss = 5\n", "did you mean breaker.daily_loss?"),
    ('mode = "live"\n', "did you mean trading.mode?"),  # above every table
    ("[trading]\nmax_concurrency = 4\n", "did you mean kalshi.max_concurrency or polymarket.max_concurrency?"),
    ("[polymarket]\ndaily_los = 5\n", "did you mean breaker.daily_loss?"),  # misspelt too
    ("[kalshi]\ntimeout_secs = 5\n", "did you mean kalshi.timeout_seconds?"),  # its own table's first
    # Found in review: another table's key of the very name, or a nearer name anywhere, beat this table's
    # own key: following `[halt] file` → logging.file would log to the sentinel's path and halt nothing.
    ('[halt]\nfile = "/srv/orion/STOP"\n', "did you mean halt.sentinel_file?"),
    ('[polymarket]\nurl = "https://clob.polymarket.com"\n', "did you mean polymarket.gamma_url or "
     "polymarket.clob_url or polymarket.data_url or polymarket.geoblock_url?"),  # not database.url
    ('[alerts]\nchat_id = "-100123"\n', "did you mean alerts.telegram_chat_id?"),  # not polymarket.chain_id
    ('[paper]\nbalance = "500"\n', "did you mean paper.kalshi_balance or paper.polymarket_balance?"),
])
def test_a_key_under_the_wrong_table_suggests_the_key_by_its_own_name(tmp_path: Path, body: str, hint: str) -> None:
    """Found in review: the suggestion matched the whole dotted name, so a key under the wrong table was
    offered one of that table's keys (`[polymarket] pairs_file` → polymarket.chain_id, `[trading]
    daily_loss` → trading.max_unwind_loss, top-level `mode` → nothing), never the key meant."""
    f = _write(tmp_path / "c.toml", body)
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    assert info.value.exit_code == ExitCode.CONFIG and info.value.hint == hint


def test_a_variable_naming_a_key_under_the_wrong_section_suggests_the_key() -> None:
    with pytest.raises(ConfigError) as info:  # was: did you mean limits.total_exposure?
        load_settings(environ={"ORION__LIMITS__DAILY_LOSS": "5"})
    assert info.value.hint == "did you mean breaker.daily_loss?"


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", '[limit]\norder_notional = "5"\n')
    with pytest.raises(ConfigError, match="unknown configuration key limit"):
        load_settings(config_file=f, environ={})


def test_unknown_env_key_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__LIMITS__ORDER_NOTIONL": "5"})
    assert "ORION__LIMITS__ORDER_NOTIONL" in info.value.message
    assert "limits.order_notional" in (info.value.hint or "")


def test_unrelated_orion_variables_are_ignored() -> None:
    s = load_settings(environ={"ORION_DEBUG": "1", "ORION_PAPER_TRADING": "1", "ORIONX": "y",
                               "ORION_OTHER__THING": "x", "ORION_LIMITS__NO_SUCH_KEY": "1"})
    assert s.sources[KEY] == "default"


@pytest.mark.parametrize(("name", "right"), [
    ("orion__limits__order_notional", "ORION__LIMITS__ORDER_NOTIONAL"),
    ("Orion__Limits__Order_Notional", "ORION__LIMITS__ORDER_NOTIONAL"),
    ("orion_limits_order_notional", "ORION__LIMITS__ORDER_NOTIONAL"),  # and a single underscore
    ("orion__halt__sentinel_file", "ORION__HALT__SENTINEL_FILE"),
])
def test_a_configuration_variable_in_lower_case_is_an_error_naming_the_upper_case_one(name: str, right: str) -> None:
    """Found in review: variable names are case-sensitive and orion reads ``ORION__…`` only, so
    ``orion__limits__order_notional=5`` was ignored without a word while the operator thought the limit
    set. Exit 3, saying to use the upper-case spelling; the kill switch goes on only if it is not its own."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: "5"})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG and err.message.startswith(f"{name} is not read")
    assert "upper case" in err.message and err.hint == f"rename it {right}"
    assert lowercase_variable_notes({name: "5"}) == ()  # an error, not also a warning
    if "halt" not in name:
        assert load_settings(environ={name: "5"}, lenient=True).problems


def test_a_lower_case_orion_variable_that_names_no_key_is_only_warned_of() -> None:
    """As another tool's ``ORION_…`` variable: nothing reads it, and it may not be orion's at all."""
    env = {"orion__limits__no_such_key": "5", "orion__x": "1", "orion_home": "/srv", "orion_other": "1",
           "ORION__limits__order_notional": "7"}  # read as it is: only ORION itself must be upper case
    assert load_settings(environ=env).limits.order_notional == Decimal("7")
    assert lowercase_variable_notes(env) == tuple(
        f"ignored {name} (orion reads only upper-case ORION__SECTION__KEY variables, and this one names no "
        "configuration key)" for name in ("orion__limits__no_such_key", "orion__x"))


@pytest.mark.parametrize(("name", "right"), [
    ("ORION_LIMITS__ORDER_NOTIONAL", "ORION__LIMITS__ORDER_NOTIONAL"),   # single after ORION
    ("ORION_limits__order_notional", "ORION__limits__order_notional"),
    ("ORION_LIMITS_ORDER_NOTIONAL", "ORION__LIMITS__ORDER_NOTIONAL"),    # single everywhere
    ("ORION__LIMITS_ORDER_NOTIONAL", "ORION__LIMITS__ORDER_NOTIONAL"),   # single between section and key
    ("ORION_rate_limits_orders_per_minute", "ORION__rate_limits__orders_per_minute"),  # an underscore in the section
    ("ORION_HALT_SENTINEL_FILE", "ORION__HALT__SENTINEL_FILE"),
])
def test_a_config_variable_with_a_single_underscore_between_section_and_key_is_an_error(name: str, right: str) -> None:
    # Ignored (or refused without the right name), a lowered limit would silently stay at the default.
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: "5"})
    assert info.value.exit_code == 3 and info.value.reason == "config_unknown_key"
    assert name in info.value.message and "two underscores" in info.value.message
    assert info.value.hint == f"rename it {right}"


def test_every_key_misspelt_with_single_underscores_is_refused_naming_its_one_right_variable() -> None:
    for spec in key_specs():
        right = f"ORION__{spec.section.upper()}__{spec.key.upper()}"
        for name in (f"ORION_{spec.section}__{spec.key}", f"ORION__{spec.section}_{spec.key}",
                     f"ORION_{spec.section}_{spec.key}"):
            with pytest.raises(ConfigError) as info:
                load_settings(environ={name.upper(): "x"})
            assert info.value.hint == f"rename it {right}", name


@pytest.mark.parametrize("sep", ["_", "__"])
def test_lenient_loading_notes_a_single_underscore_variable_but_refuses_one_for_the_kill_switch(sep: str) -> None:
    limit, halt = f"ORION_LIMITS{sep}ORDER_NOTIONAL", f"ORION_HALT{sep}SENTINEL_FILE"
    s = load_settings(environ={limit: "5"}, lenient=True)
    assert s.limits.order_notional == load_settings(environ={}).limits.order_notional
    assert any(f"{limit} is not read" in p for p in s.problems)
    with pytest.raises(ConfigError, match=f"{halt} is not read"):
        load_settings(environ={halt: "/tmp/stop"}, lenient=True)
    # With the database named, only [halt] is guarded: its misspelt variable is still refused, not noted.
    with pytest.raises(ConfigError, match="ORION__HALT_SENTINEL_FILE is not read"):
        load_settings(environ={"ORION__DATABASE__URL": "sqlite:////tmp/x.db", "ORION__HALT_SENTINEL_FILE": "/tmp/stop"},
                      lenient=True)


def test_engaging_notes_a_wrong_halt_key_apart_but_still_refuses_a_wrong_database_key() -> None:
    """``orion halt`` writes the halt to the database and never reads the sentinel file: a misspelt
    sentinel variable must not keep the switch off (found in review: it exited 3, not halted)."""
    s = load_settings(environ={"ORION_HALT_SENTINEL_FILE": "/tmp/stop", "ORION_LIMITS_ORDER_NOTIONAL": "5"},
                      lenient=True, engaging=True)
    assert s.halt.sentinel_file == ""
    assert len(s.problems) == 2
    (halt_problem,) = s.halt_problems
    assert halt_problem.startswith("ORION_HALT_SENTINEL_FILE is not read")
    assert halt_problem.endswith("(rename it ORION__HALT__SENTINEL_FILE)")
    # the database still decides where the halt goes: a wrong key there is refused, as without engaging
    with pytest.raises(ConfigError, match="ORION_DATABASE_URL is not read"):
        load_settings(environ={"ORION_DATABASE_URL": "sqlite:////tmp/x.db"}, lenient=True, engaging=True)
    assert load_settings(environ={"ORION_LIMITS_ORDER_NOTIONAL": "5"}, lenient=True, engaging=True).halt_problems == ()


# Every ORION_ variable orion or its tests read for another purpose, and the live gate's near misses
# (which the gate notes itself): none is a configuration key, none may be refused as a misspelt one.
NOT_CONFIG_VARIABLES = {
    "ORION_HOME": "/nonexistent-orion-home", "ORION_DEBUG": "1", "ORION_PAPER_TRADING": "0",
    "ORION_LIVE_TRADING_AUTHORIZED": "true",
    "ORION_MASTER_PASSWORD": "pw", "ORION_MASTER_PASSWORD_FILE": "/nonexistent", "ORION_ALERT_WEBHOOK_URL": "x",
    "ORION_TRADE_STOP_AFTER_GATE": "1", "ORION_TEST_CRASH_AT": "l1_recorded", "ORION_DB": "x",
    "ORION_FUZZ_RANDOM": "1", "ORION_FUZZ_EXAMPLES": "5", "ORION_CHAOS_EXECUTIONS": "5",
    "ORION_LIVE_TRADING_AUTHORISED": "true", "ORION_PAPER_TRADE": "0", "ORION_PAPERTRADING": "0",
}


def test_orions_other_variables_are_not_taken_for_misspelt_keys(tmp_path: Path) -> None:
    environ = {**NOT_CONFIG_VARIABLES, "ORION_CONFIG": str(_write(tmp_path / "c.toml", ""))}
    s = load_settings(environ=environ)
    assert all(source == "default" for source in s.sources.values())
    assert load_settings(environ=environ, lenient=True).problems == ()


def test_every_orion_variable_named_in_the_code_is_one_of_its_own() -> None:
    # A variable added to the code must join OWN_VARIABLES, so no later key can make it a "misspelling".
    named = {m for f in (REPO / "orion_cli").rglob("*.py")
             for m in re.findall(r'"(ORION_[A-Z][A-Z0-9_]*)"', f.read_text(encoding="utf-8"))}
    assert named and named <= OWN_VARIABLES
    assert all(not _misspelt_variable(name) for name in OWN_VARIABLES | set(NOT_CONFIG_VARIABLES))


def test_a_near_miss_of_one_of_orions_own_variables_is_named_with_the_one_meant() -> None:
    """Found by a black-box audit: ORION_CONFG=strict.toml traded past the strict limits and
    ORION_HOMEE=… `orion halt` halted the default ledger, with not a word: nothing reads such a name."""
    notes = own_variable_near_misses({"ORION_CONFG": "strict.toml", "ORION_HOMEE": "/srv/b", "orion_home": "/srv/c",
                                      "ORION_MASTER_PASWORD_FILE": "pw", "ORION_DEBGU": "1", "PATH": "/bin"})
    assert notes == (
        "ignored ORION_CONFG (orion reads no such variable; did you mean ORION_CONFIG?)",
        "ignored ORION_DEBGU (orion reads no such variable; did you mean ORION_DEBUG?)",
        "ignored ORION_HOMEE (orion reads no such variable; did you mean ORION_HOME?)",
        "ignored ORION_MASTER_PASWORD_FILE (orion reads no such variable; did you mean ORION_MASTER_PASSWORD_FILE?)",
        "ignored orion_home (orion reads no such variable; did you mean ORION_HOME?)",
    )
    # Found in review: a file's variable is told the file variable, never the one whose value is a
    # password itself; and ORION_CONFIG_FILE, too far from ORION_CONFIG by similarity, is told it.
    assert own_variable_near_misses({"ORION_MASTER_PASSWORD_PATH": "/p", "ORION_CONFIG_FILE": "/c",
                                     "ORION_CONFIG_PATH": "/c"}) == (
        "ignored ORION_CONFIG_FILE (orion reads no such variable; did you mean ORION_CONFIG?)",
        "ignored ORION_CONFIG_PATH (orion reads no such variable; did you mean ORION_CONFIG?)",
        "ignored ORION_MASTER_PASSWORD_PATH (orion reads no such variable; did you mean ORION_MASTER_PASSWORD_FILE?)",
    )
    # The gate's pair too (every command reads it to choose the ledger), unless the caller says them itself.
    gate_typos = {"ORION_LIVE_TRADING_AUTHORISED": "true", "ORION_PAPER_TRADE": "0"}
    assert [n.split()[1] for n in own_variable_near_misses(gate_typos)] == list(gate_typos)
    assert own_variable_near_misses(gate_typos, skip=("ORION_PAPER_TRADING", "ORION_LIVE_TRADING_AUTHORIZED")) == ()
    # Not near misses: orion's own variables, configuration variables (their misspellings are errors),
    # and other tools' ORION_… variables, short ones one or two letters from ORION_HOME included.
    others = {**dict.fromkeys(OWN_VARIABLES, "x"), "ORION__LIMITS__ORDER_NOTIONAL": "5",
              "ORION_LIMITS_ORDER_NOTIONAL": "5", "ORION_HOST": "db1", "ORION_MODE": "live", "ORION_HOME_DIR": "/d",
              "ORION_REGION": "eu", "ORION_DB": "x", "ORION_FUZZ_RANDOM": "1", "ORION_CHAOS_EXECUTIONS": "5",
              "ORION": "x", "HOME": "/root", "XORION_HOME": "x"}
    assert own_variable_near_misses(others) == ()


def test_a_variable_two_keys_could_spell_is_refused_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _spec_map()["rate_limits.orders_per_hour"]
    monkeypatch.setitem(_spec_map(), "rate.limits_orders_per_hour", real)  # as if [rate] had such a key
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION_RATE_LIMITS_ORDERS_PER_HOUR": "5"})
    assert info.value.hint == ("rename it ORION__RATE_LIMITS__ORDERS_PER_HOUR (rate_limits.orders_per_hour) or "
                               "ORION__RATE__LIMITS_ORDERS_PER_HOUR (rate.limits_orders_per_hour)")
    # Spelt right, the real key is still read.
    assert load_settings(environ={"ORION__RATE_LIMITS__ORDERS_PER_HOUR": "500"}).rate_limits.orders_per_hour == 500


def test_orions_own_variable_wins_over_a_key_it_would_misspell(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _spec_map()["paper.latency_ms"]
    monkeypatch.setitem(_spec_map(), "paper.trading", real)  # as if a key made ORION_PAPER_TRADING a misspelling
    assert _misspelt_variable("ORION_PAPER_TRADING")
    assert load_settings(environ={"ORION_PAPER_TRADING": "0"}).sources[KEY] == "default"


def test_out_of_range_in_file_names_key_source_and_range(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", '[limits]\norder_notional = "0"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    msg = info.value.message
    assert info.value.exit_code == 3
    assert KEY in msg and f"--config {f}" in msg and "0.01..1000000 USD" in msg and "below the minimum" in msg


def test_out_of_range_in_env_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__BREAKER__RESET_HOUR_UTC": "24"})
    msg = info.value.message
    assert "breaker.reset_hour_utc" in msg and "environment ORION__BREAKER__RESET_HOUR_UTC" in msg
    assert "0..23" in msg and "above the maximum" in msg


@pytest.mark.parametrize("key", ["breaker.reset_hour_utc", "limits.order_notional"])
@pytest.mark.parametrize("value", ["٣", "３", "1_0", "²", "٣.5", "1_0.5", "--3", "\u00a03"])
def test_a_number_in_env_that_is_not_plain_ascii_is_a_config_error_naming_the_variable(key: str, value: str) -> None:
    """As the command line's numbers (cli/params.ascii_numbers_only): int() and Decimal() read other
    scripts' digits ("٣", "３") and "1_0", so ORION__BREAKER__DAILY_LOSS=٣ was 3; "²" (a digit to
    isdigit(), not to int()) and "--3" were internal errors (exit 1) for an integer key."""
    section, name = key.split(".")
    variable = f"ORION__{section.upper()}__{name.upper()}"
    with pytest.raises(ConfigError) as info:
        load_settings(environ={variable: value})
    assert info.value.exit_code == ExitCode.CONFIG and info.value.reason == "config_invalid"
    assert key in info.value.message and f"environment {variable}" in info.value.message


@pytest.mark.parametrize(("key", "value", "why"), [
    ("limits.order_notional", "10.1234567", "7 decimal places, more than the 6 a number may have"),
    ("trading.min_edge", "0.0100000001", "10 decimal places, more than the 6"),  # within the range
    ("trading.min_edge", "1E-7", "7 decimal places, more than the 6"),
    ("paper.kalshi_balance", "5.0000000", "7 decimal places, more than the 6"),
    ("paper.kalshi_balance", "0" * 25 + "1." + "0" * 30, "30 decimal places"),
    ("limits.order_notional", "1e30", "31 digits before the decimal point, more than the 18"),
    ("rate_limits.orders_per_minute", "0" * 30 + "1", "31 digits, more than the 18 an integer may have"),
    ("rate_limits.orders_per_minute", "9" * 5000, "5000 digits, more than the 18"),  # was exit 1: int()'s limit
])
def test_a_number_with_absurd_precision_or_size_is_a_config_error_naming_key_and_bound(
        key: str, value: str, why: str, tmp_path: Path) -> None:
    """Found in review: a limit, fee or amount took any number of places (0.0100000001, rounded
    silently by Decimal arithmetic beyond 28 digits) and an integer any number of digits (leading
    zeros; thousands of digits were an internal error, exit 1, from int()'s 4300-digit limit)."""
    name = "ORION__" + key.upper().replace(".", "__")
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: value})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG and err.message.startswith(f"{key} = ") and why in err.message
    assert f"environment {name}" in err.message and len(err.message) < 300  # a long number is cut short
    section, _, leaf = key.partition(".")
    for written in (value, f'"{value}"'):  # a TOML number and a quoted one
        if written == value and (value.startswith("0") or "E" in value):
            continue  # not TOML numbers
        f = _write(tmp_path / "c.toml", f"[{section}]\n{leaf} = {written}\n")
        with pytest.raises(ConfigError) as info:
            load_settings(config_file=f, environ={})
        assert info.value.exit_code == ExitCode.CONFIG and info.value.message.startswith(f"{key} = ")
        assert str(f) in info.value.message and "more than the" in info.value.message


def test_an_integer_too_long_for_the_parser_is_named_by_its_own_key_not_a_long_number_in_a_comment(
        tmp_path: Path) -> None:
    """Found in review: the key was taken from the first line with a short number assigned and a long
    digit run anywhere on it, so a ticket number in a comment blamed a valid limit for the 5000-digit
    balance below it."""
    f = _write(tmp_path / "c.toml", "[limits]\norder_notional = 5  # ticket 12345678901234567890\n"
                                    f"[paper]\nkalshi_balance = {'1' * 5000}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG
    assert err.message.startswith("paper.kalshi_balance = (a number of 5000 digits)") and "(at line 4)" in err.message
    assert err.hint == f"fix or remove paper.kalshi_balance in --config {f}"


@pytest.mark.parametrize(("key", "value"), [("limits.order_notional", "10.123456"), ("trading.min_edge", "0.000001"),
                                            ("limits.order_notional", "1E+2"), ("rate_limits.orders_per_hour", "0700")])
def test_six_decimal_places_and_short_integers_are_read(key: str, value: str) -> None:
    s = load_settings(environ={"ORION__" + key.upper().replace(".", "__"): value})
    assert s.sources[key].startswith("environment")


def test_plain_ascii_numbers_in_env_are_read() -> None:
    s = load_settings(environ={"ORION__BREAKER__RESET_HOUR_UTC": " 3 ", "ORION__LIMITS__ORDER_NOTIONAL": "12.50"})
    assert s.breaker.reset_hour_utc == 3 and s.limits.order_notional == Decimal("12.50")


def test_bad_choice_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="one of paper, live"):
        load_settings(environ={"ORION__TRADING__MODE": "yolo"})


@pytest.mark.parametrize(
    "key,value",
    [("paper.latency_ms", "fast"), ("kalshi.enabled", "maybe"), ("trading.min_edge", "NaN"),
     ("trading.min_edge", "inf"), ("trading.min_edge", "abc")],
)
def test_wrong_types_are_config_errors(key: str, value: str) -> None:
    section, name = key.split(".")
    with pytest.raises(ConfigError) as info:
        load_settings(environ={f"ORION__{section.upper()}__{name.upper()}": value})
    assert key in info.value.message


@pytest.mark.parametrize("value", ["notaurl", "clob.polymarket.com", "ftp://h/x", "https://", "https://h:99999/x",
                                   "https://h:port/x", " https://h/x", "https://gamma-api polymarket.com",
                                   "https://gamma\u2010api.polymarket.com"])
def test_a_venue_url_requests_cannot_go_to_is_a_config_error(value: str) -> None:
    """Found by a black-box run: a mistyped venue URL failed every request and read as an outage (exit 5)."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__POLYMARKET__CLOB_URL": value})
    assert info.value.exit_code == ExitCode.CONFIG and "polymarket.clob_url" in info.value.message
    assert "https:// URL with a host" in info.value.message


@pytest.mark.parametrize("value", ["http://clob.polymarket.com", "HTTP://clob.polymarket.com/x", "http://10.0.0.5:8080/x",
                                   "http://127.0.0.1.evil.example/", "http://localhost.evil.example/", "http://[::2]:9/",
                                   "http://u:S3CRET@proxy.example/x", "http://1.2.3.4/"])
def test_a_venue_url_in_clear_text_to_a_host_not_loopback_is_a_config_error(value: str, tmp_path: Path) -> None:
    """Found by a black-box audit: `http://` to any host was accepted, and venue requests carry the API
    key and signatures in their headers. Only https, or http to a loopback host (the simulators)."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__POLYMARKET__CLOB_URL": value})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG and err.reason == "config_invalid"
    assert err.message.startswith("polymarket.clob_url = ")
    assert "from environment ORION__POLYMARKET__CLOB_URL" in err.message
    assert "unencrypted" in err.message
    assert "http:// only to a loopback host: 127.0.0.0/8, ::1, localhost" in err.message
    assert "S3CRET" not in err.message + (err.hint or "")
    f = _write(tmp_path / "c.toml", f'[kalshi]\nprod_base_url = "{value}/trade-api/v2"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    assert info.value.exit_code == ExitCode.CONFIG and "kalshi.prod_base_url" in info.value.message
    assert f"--config {f}" in info.value.message


@pytest.mark.parametrize("value", ["http://127.0.0.1:8080/x", "http://127.0.5.1/x", "http://localhost:9/x",
                                   "http://LocalHost/x", "http://[::1]:9/x", "http://[0:0:0:0:0:0:0:1]/x",
                                   "http://u:pw@127.0.0.1:1/x", "https://clob.polymarket.com", "HTTPS://h.example/x"])
def test_a_venue_url_in_clear_text_only_to_a_loopback_host(value: str) -> None:
    assert load_settings(environ={"ORION__POLYMARKET__CLOB_URL": value}).polymarket.clob_url == value


@pytest.mark.parametrize("value", ["https://u:S3CRET@h:port/x", "https:/u:S3CRET@h/x", "https://u:pa?S3CRET@h/x",
                                   "https://u:S3/CRET@h/x"])
def test_a_refused_venue_url_is_shown_masked(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__KALSHI__PROD_BASE_URL": value})
    assert "S3CRET" not in info.value.message + (info.value.hint or "") and "***@h" in info.value.message


@pytest.mark.parametrize("value", ["trading.stop", "./trading.stop", "ops/trading.stop", " /srv/orion/stop",
                                   "~nosuchuser-orion/stop", "~", "/"])
def test_a_sentinel_file_that_is_not_an_absolute_file_path_is_a_config_error(value: str, tmp_path: Path) -> None:
    """Found by a black-box audit: `sentinel_file = "trading.stop"` was looked for in each process's working
    directory; the operator's file next to the config halted `orion halt --status` run there, while a trade
    started anywhere else (cron's $HOME, a service's /) executed both legs."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__HALT__SENTINEL_FILE": value})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG and err.message.startswith("halt.sentinel_file = ")
    assert any(why in err.message for why in ("working directory", "user this machine does not have", "directory"))
    assert "the absolute path of a file (~ allowed), or empty" in err.message
    f = _write(tmp_path / "c.toml", f'[halt]\nsentinel_file = "{value}"\n')
    with pytest.raises(ConfigError):
        load_settings(config_file=f, environ={})


def test_a_sentinel_file_that_is_a_named_pipe_is_a_config_error(tmp_path: Path) -> None:
    """Found by a black-box audit: a FIFO there hung every command that checks the kill switch."""
    import os

    fifo = tmp_path / "stop"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__HALT__SENTINEL_FILE": str(fifo)})
    assert info.value.exit_code == ExitCode.CONFIG and "not a regular file" in info.value.message
    (tmp_path / "file").write_text("stop\n")
    assert load_settings(environ={"ORION__HALT__SENTINEL_FILE": str(tmp_path / "file")}).halt.sentinel_file


@pytest.mark.parametrize("key", ["matching.pairs_file", "secrets.vault_path", "logging.file"])
@pytest.mark.parametrize("value", ["pairs.toml", "./orion/x.json", "../x", "~nosuchuser-orion/x"])
def test_a_relative_pairs_vault_or_log_file_is_a_config_error_with_a_hint(key: str, value: str,
                                                                          tmp_path: Path) -> None:
    """Found in review: `pairs_file = "pairs.toml"` (or a relative vault_path, logging.file) was read from
    each process's working directory: a cron job started elsewhere traded without the curated pairs,
    found no vault, or logged where no one looked. Refused as a relative halt.sentinel_file is."""
    name = "ORION__" + key.upper().replace(".", "__")
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: value})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG and err.message.startswith(f"{key} = ")
    assert f"environment {name}" in err.message and "the absolute path of a file (~ allowed)" in err.message
    if value.startswith("~"):
        assert "user this machine does not have" in err.message
    else:
        assert "working directory" in err.message
        assert err.hint is not None and err.hint.startswith(f"give {key} as an absolute path, e.g. ")
    section, _, leaf = key.partition(".")
    f = _write(tmp_path / "c.toml", f'[{section}]\n{leaf} = "{value}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    assert str(f) in info.value.message


@pytest.mark.parametrize("key", ["matching.pairs_file", "secrets.vault_path", "logging.file", "halt.sentinel_file"])
@pytest.mark.parametrize("value", ["", "/srv/orion/x.toml", "~/x.toml"])
def test_an_absolute_or_home_pairs_vault_log_or_sentinel_file_is_accepted(key: str, value: str,
                                                                          tmp_path: Path) -> None:
    """From the environment, or from a file, where "" says "none" (a variable set but empty is refused:
    test_an_empty_setting_variable_is_refused_not_taken_for_nothing)."""
    section, _, leaf = key.partition(".")
    if value:
        settings = load_settings(environ={"ORION__" + key.upper().replace(".", "__"): value})
        assert getattr(getattr(settings, section), leaf) == value
    config = tmp_path / "c.toml"
    config.write_text(f'[{section}]\n{leaf} = "{value}"\n')
    assert getattr(getattr(load_settings(config_file=config, environ={}), section), leaf) == value


@pytest.mark.parametrize("value", ["ledger.db", "./ledger.db", "data/ledger.db", "sqlite:///ledger.db",
                                   "sqlite:///data/ledger.db?timeout=5", "sqlite+pysqlite:///ledger.db",
                                   "~nosuchuser-orion/ledger.db"])
def test_a_relative_sqlite_database_is_a_config_error(value: str, tmp_path: Path) -> None:
    """Found in review: `database.url = "ledger.db"` (or sqlite:///ledger.db, from a file or the
    environment) gave each working directory a ledger of its own, and so a kill switch of its own: an
    operator's `orion halt` did not stop a cron job started elsewhere, and limits and the breaker were
    split. Refused, as a relative halt.sentinel_file is (the --db flag is made absolute instead)."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__DATABASE__URL": value})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG and err.message.startswith("database.url = ")
    assert "environment ORION__DATABASE__URL" in err.message
    assert any(why in err.message for why in ("working directory", "user this machine does not have"))
    assert "a SQLite file's absolute path (~ allowed)" in err.message
    f = _write(tmp_path / "c.toml", f'[database]\nurl = "{value}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    assert str(f) in info.value.message


@pytest.mark.parametrize("home", ["orion-home", "./o", "~nosuchuser_orion/o"])
def test_a_relative_orion_home_is_a_config_error_unless_the_kill_switch_names_its_database(home: str) -> None:
    """Found in review: ORION_HOME holds the default ledger, so a relative one gave each working directory
    a ledger, and a kill switch, of its own, as a relative database.url did. Refused; only the kill
    switch with its database named (`orion --db URL halt`) goes on, noting it."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION_HOME": home})
    err = info.value
    assert err.exit_code == ExitCode.CONFIG and err.message.startswith(f"ORION_HOME ({home!r})")
    assert any(why in err.message for why in ("working directory", "user this machine does not have"))
    with pytest.raises(ConfigError):
        load_settings(environ={"ORION_HOME": home}, lenient=True, engaging=True)
    named = load_settings(environ={"ORION_HOME": home}, overrides={"database.url": "/srv/orion/ledger.db"},
                          lenient=True, engaging=True)
    assert any(p.startswith(f"ORION_HOME ({home!r})") for p in named.problems)
    with pytest.raises(ConfigError):  # any other command is refused even so (its config file, its vault)
        load_settings(environ={"ORION_HOME": home}, overrides={"database.url": "/srv/orion/ledger.db"})


@pytest.mark.parametrize("home", [None, "/srv/orion", "~/orion"])
def test_an_absolute_or_unset_orion_home_is_accepted(home: str | None, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings(environ={} if home is None else {"ORION_HOME": home}).problems == ()


@pytest.mark.parametrize("name", ["ORION_HOME", "ORION_CONFIG"])
@pytest.mark.parametrize("value", ["", "  ", "\t"])
def test_an_empty_orion_home_or_config_is_refused_not_taken_for_unset(name: str, value: str) -> None:
    """Review: an empty one (an unset shell variable, ORION_CONFIG=$CFG) ran on the user config or the
    default ledger, silently."""
    with pytest.raises(ConfigError, match=f"{name} is set but empty") as caught:
        load_settings(environ={name: value})
    assert caught.value.exit_code == 3 and f"unset {name}" in (caught.value.hint or "")


@pytest.mark.parametrize("value", ["/srv/orion/ledger.db", "~/ledger.db", "sqlite:////srv/orion/ledger.db",
                                   "sqlite:///~/ledger.db", "postgresql://u@db/orion",
                                   "postgresql+psycopg://u@db/orion", "sqlite:///:memory:", "sqlite://"])
def test_an_absolute_sqlite_database_or_another_url_is_accepted(value: str) -> None:
    """(In-memory SQLite, which no two processes share, is refused when opened: store/db.py.)"""
    assert load_settings(environ={"ORION__DATABASE__URL": value}).database.url == value


@pytest.mark.parametrize("given,expected", [
    ("rel.db", "{cwd}/rel.db"), ("./d/rel.db", "{cwd}/d/rel.db"), ("sqlite:///rel.db", "sqlite:///{cwd}/rel.db"),
    ("sqlite:///d/rel.db?timeout=5", "sqlite:///{cwd}/d/rel.db?timeout=5"), ("~/x.db", "{home}/x.db"),
    ("sqlite:///~/x.db", "sqlite:///{home}/x.db"), ("/abs/x.db", "/abs/x.db"),
    ("sqlite:////abs/x.db", "sqlite:////abs/x.db"), ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("sqlite:///:memory:", "sqlite:///:memory:"), ("host=db dbname=orion", "host=db dbname=orion")])
def test_the_db_flag_is_made_absolute_against_the_working_directory(
        given: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a user typing `--db rel.db` means; the settings then hold a path every process can use."""
    from orion_cli.core.config import absolute_database

    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    assert absolute_database(given) == expected.format(cwd=cwd.resolve(), home=home.resolve())


@pytest.mark.parametrize("given", ["rel.db", "sqlite:///rel.db"])
def test_a_relative_db_from_a_removed_working_directory_is_a_configuration_error(
        given: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: `cd d; rm -r ../d; orion --db rel.db ...` was an internal error (exit 1); exit 3, saying why.
    The command line a message names keeps it as typed."""
    from orion_cli.core.command_line import global_options
    from orion_cli.core.config import absolute_database

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with pytest.raises(ConfigError) as info:
        absolute_database(given)
    assert info.value.exit_code == 3 and "the working directory it would be found in no longer exists" in \
        info.value.message
    assert global_options(None, given) == f"--db {given}"


@pytest.mark.parametrize("value", ["http://127.0.0.1:8080/trade-api/v2", "https://u:pw@proxy.example/x?y=1",
                                   "http://[::1]:9/x"])
def test_venue_urls_that_name_a_host_are_accepted(value: str) -> None:
    assert load_settings(environ={"ORION__KALSHI__PROD_BASE_URL": value}).kalshi.prod_base_url == value


# Every key that names a file (the database's URL may be a SQLite path).
PATH_KEYS = ("database.url", "matching.pairs_file", "halt.sentinel_file", "logging.file", "secrets.vault_path")


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "kill-switch"])
@pytest.mark.parametrize("dotted", PATH_KEYS)
def test_a_path_holding_a_nul_character_is_a_config_error_naming_key_and_source(tmp_path: Path, dotted: str,
                                                                                 lenient: bool) -> None:
    """Found in a black-box run: `pairs_file = "/tmp/a\\u0000b"` was an internal error (ValueError, exit 1)
    when the file was opened, `database.url` so made even `orion halt --status` one, and a sentinel file
    so named was accepted and could never halt. No file name holds a NUL: exit 3, the key and source named
    (in the file, a variable or on the command line). The kill switch's own keys are refused when it loads
    leniently too; another key is listed as a problem, at its default."""
    section, key = dotted.split(".")
    f = _write(tmp_path / "c.toml", f'[{section}]\n{key} = "/tmp/a\\u0000b"\n')
    env = f"ORION__{section.upper()}__{key.upper()}"
    cases: list[tuple[dict[str, object], str]] = [
        ({"config_file": f, "environ": {}}, f"--config {f}"),
        ({"environ": {env: "/tmp/a\x00b"}}, f"environment {env}"),
        ({"overrides": {dotted: "/tmp/a\x00b"}, "environ": {}}, "command line"),  # --db
    ]
    for how, source in cases:
        if lenient and dotted not in ("database.url", "halt.sentinel_file"):
            s = load_settings(lenient=True, **how)  # type: ignore[arg-type]
            assert getattr(getattr(s, section), key) == "" and len(s.problems) == 1, s.problems
            assert "contains a NUL character" in s.problems[0]
            continue
        with pytest.raises(ConfigError) as info:
            load_settings(lenient=lenient, **how)  # type: ignore[arg-type]
        err = info.value
        assert err.exit_code == ExitCode.CONFIG and err.reason == "config_invalid"
        assert err.message.startswith(f"{dotted} = '/tmp/a\\x00b' from {source}: contains a NUL character"), \
            err.message


def test_a_database_url_holding_a_nul_character_is_shown_masked() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={"database.url": "postgresql+psycopg://u:S3CRET@h/d\x00b"}, environ={})
    assert "S3CRET" not in info.value.message and "u:***@h" in info.value.message


def test_wrong_toml_type_is_a_config_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", "[kalshi]\nenabled = 1\n")
    with pytest.raises(ConfigError, match=r"kalshi\.enabled"):
        load_settings(config_file=f, environ={})


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", '[limits]\norder_notional = "5"\norder_contracts = = 3\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    msg = info.value.message
    assert str(f) in msg and "line 3" in msg and "column" in msg
    assert info.value.exit_code == 3


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "nope.toml", environ={})


def test_a_config_path_that_is_a_directory_says_so(tmp_path: Path) -> None:
    """Found by black-box testing: `--config ""` (the current directory) said "IsADirectoryError"."""
    with pytest.raises(ConfigError, match=r"^--config .*: is a directory, not a config file$"):
        load_settings(config_file=tmp_path, environ={})


@pytest.mark.parametrize("nested", ["[" * 600 + "]" * 600, "{a = " * 600 + "1" + "}" * 600])
@pytest.mark.usefixtures("default_recursion_limit")
def test_a_file_nested_too_deeply_for_the_parser_is_a_toml_syntax_error(tmp_path: Path, nested: str) -> None:
    """Found by a black-box audit: tomllib's RecursionError was an internal error (exit 1) for every command."""
    f = _write(tmp_path / "c.toml", f"[limits]\norder_notional = {nested}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    assert info.value.exit_code == ExitCode.CONFIG and info.value.reason == "config_syntax"
    assert info.value.message == f"--config {f}: TOML syntax error: arrays or inline tables nested too deeply"


@pytest.mark.timeout(30)
def test_a_device_or_a_named_pipe_as_the_config_file_is_refused_unread(tmp_path: Path) -> None:
    """Found by a black-box audit: `orion --config /dev/zero ...` read until memory ran out (exit 1 or the OOM
    killer), and a named pipe waited for a writer. /dev/null here: it ends, and was read as an empty file."""
    import os

    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for path in (Path("/dev/null"), fifo):
        with pytest.raises(ConfigError) as info:
            load_settings(config_file=path, environ={})
        assert info.value.exit_code == ExitCode.CONFIG
        assert info.value.message == (f"--config {path}: not a regular file (a device, FIFO or socket), "
                                      "not a config file")


@pytest.mark.timeout(30)
def test_a_config_another_user_may_have_written_is_refused(user_file: Path, tmp_path: Path) -> None:
    """Found reviewing the files on disk: another local user replaced the config.toml of an ORION_HOME left
    world-writable (daily_loss raised to 10,000,000) and orion took its limits without a word. A config
    every user may write is refused, and a user config another user owns; a --config file may be another
    user's (a team's shared config), a world-writable one never."""
    import os

    _write(user_file, '[breaker]\ndaily_loss = "10000000"\n')
    user_file.chmod(0o666)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    assert (info.value.exit_code, info.value.reason) == (ExitCode.CONFIG, "config_unsafe")
    assert "every local user may write it (mode 0666)" in info.value.message and info.value.hint == (
        f"chmod o-w {user_file}")
    shared = tmp_path / "shared.toml"
    _write(shared, '[limits]\norder_notional = "50"\n')
    shared.chmod(0o666)
    with pytest.raises(ConfigError, match="every local user may write it"):
        load_settings(config_file=shared, environ={})
    user_file.chmod(0o600)
    shared.chmod(0o644)
    assert load_settings(environ={}).breaker.daily_loss == Decimal("10000000")  # its own: taken as before
    if os.geteuid() != 0:
        return  # giving a file away needs root
    os.chown(user_file, 65534, 65534)
    os.chown(shared, 65534, 65534)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    assert info.value.reason == "config_unsafe" and "not to this user" in info.value.message
    user_file.unlink()
    assert load_settings(config_file=shared, environ={}).limits.order_notional == Decimal("50")


def test_a_user_config_that_is_not_a_regular_file_is_an_error_not_skipped(user_file: Path, tmp_path: Path) -> None:
    """Found in review: the user's own config.toml was read only if ``is_file()``, so a directory, a FIFO or a
    dangling link there was skipped without a word and every command ran on the defaults."""
    import os

    user_file.mkdir()
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    assert info.value.exit_code == ExitCode.CONFIG
    assert info.value.message == f"{user_file}: is a directory, not a config file"
    # Its path is fixed: the hint said to name "the TOML file itself, e.g. …/config.toml/config.toml",
    # which orion would never read.
    assert info.value.hint == (f"orion reads its user config from exactly this path: move the directory away "
                               f"(mv {user_file} {user_file}.d) or remove it, and write the settings to a file of "
                               "this name if you want one")
    user_file.rmdir()
    with pytest.raises(ConfigError) as info:  # --config names any file: naming the one inside is right
        load_settings(config_file=tmp_path, environ={})
    assert info.value.hint == f"name the TOML file itself, e.g. {tmp_path / 'config.toml'}"

    os.mkfifo(user_file)  # refused unread: a FIFO would wait for a writer
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    assert "not a regular file" in info.value.message
    user_file.unlink()

    user_file.symlink_to(user_file.parent / "gone.toml")
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    assert info.value.message == f"config file not found: {user_file}"
    user_file.unlink()

    assert load_settings(environ={}).config_files == ()  # nothing there: the defaults, as before


def test_the_hint_to_move_a_directory_at_the_user_config_path_is_quoted_for_the_shell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: the hint's `mv` command was unquoted, so at a path with a space (macOS's
    ~/Library/Application Support/orion, or such an ORION_HOME) it named other files than the directory."""
    import shlex

    home = tmp_path / "Application Support"
    (home / "config.toml").mkdir(parents=True)
    monkeypatch.setenv("ORION_HOME", str(home))
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION_HOME": str(home)})
    hint = info.value.hint or ""
    command = hint[hint.index("(mv ") + 1: hint.index(") or remove it")]
    assert shlex.split(command) == ["mv", str(home / "config.toml"), f"{home / 'config.toml'}.d"]


def test_a_config_file_above_16_mib_is_refused_unread(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", "[limits]\norder_notional = 5\n")
    with f.open("r+b") as fh:  # sparse: the padding is never written, and is not read
        fh.truncate(16 * 1024 * 1024 + 1)
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    assert info.value.exit_code == ExitCode.CONFIG
    assert info.value.message == f"--config {f}: larger than 16 MiB (16777217 bytes), not a config file"


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", 'limits = "x"\n')
    with pytest.raises(ConfigError, match="must be a"):
        load_settings(config_file=f, environ={})


def test_cross_check_price_band(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", '[limits]\nprice_band_low = "0.6"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={"ORION__LIMITS__PRICE_BAND_HIGH": "0.5"})
    msg = info.value.message
    assert "price_band_low" in msg and "price_band_high" in msg
    assert f"--config {f}" in msg and "ORION__LIMITS__PRICE_BAND_HIGH" in msg


def test_cross_check_rate_limits() -> None:
    with pytest.raises(ConfigError, match="orders_per_minute"):
        load_settings(environ={"ORION__RATE_LIMITS__ORDERS_PER_MINUTE": "200"})


@pytest.mark.parametrize("window", ["13:30", "25:00-26:00", "aa:bb-cc:dd", "10:61-11:00", "24:30-01:00",
                                    "13:30-13:30", "00:00-00:00",  # equal ends: a typo that read as "always"
                                    "+13:30-20:00", "13:+30-20:00", "13 :30-20:00", "13:5-20:00", "13:30-20:0",
                                    "130:00-20:00",  # int() took a sign, inner spaces and one-digit minutes
                                    "23:00-24:30", "13:00-13:60", "13:60-14:00",  # past the day's end, minute 60
                                    "09:00-10:00, 25:00-26:00", '["09:00-10:00", "13:30-13:30"]'])  # not only the first
def test_cross_check_trading_windows(window: str) -> None:
    with pytest.raises(ConfigError, match="trading_windows"):
        load_settings(environ={"ORION__TRADING__TRADING_WINDOWS": window})


@pytest.mark.parametrize(("window", "minutes"), [(" 13:30 - 20:00 ", (810, 1200)), ("9:05-17:00", (545, 1020)),
                                                 ("22:00-02:00", (1320, 120)), ("00:00-24:00", (0, 1440))])
def test_a_trading_window_may_have_spaces_around_its_times_and_a_one_digit_hour(
        window: str, minutes: tuple[int, int]) -> None:
    assert parse_window(window, "test") == minutes


@pytest.mark.parametrize("window", ["１３:30-20:00", "13:30-２０:00", "١٣:٣٠-20:00", "1_3:30-20:00", "13:30-20:0_0"])
def test_a_trading_window_in_digits_other_than_ascii_is_a_config_error(window: str, tmp_path: Path) -> None:
    """Found in review: int() read full-width and other scripts' digits ("１３:30" as 13:30) and "1_3",
    which ``--since`` and every numeric setting refuse; so does a window, naming the key and where it
    was set (the environment, or the config file)."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__TRADING__TRADING_WINDOWS": window})
    assert info.value.exit_code == ExitCode.CONFIG and "trading.trading_windows" in info.value.message
    assert "ORION__TRADING__TRADING_WINDOWS" in info.value.message
    assert "ASCII digits" in info.value.message
    f = tmp_path / "config.toml"
    f.write_text(f'[trading]\ntrading_windows = ["{window}"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    assert info.value.exit_code == ExitCode.CONFIG and "trading.trading_windows" in info.value.message
    assert str(f) in info.value.message


def test_valid_trading_window_passes() -> None:
    assert load_settings(environ={"ORION__TRADING__TRADING_WINDOWS": "22:00-02:00"}).trading.trading_windows


@pytest.mark.parametrize(("value", "windows"), [
    ('["13:30-20:00"]', ["13:30-20:00"]),
    (' ["13:30-20:00", \'22:00-02:00\',] ', ["13:30-20:00", "22:00-02:00"]),
    ("[]", []),
    ("13:30-20:00, 22:00-02:00", ["13:30-20:00", "22:00-02:00"]),  # the comma-separated form, as before
])
def test_trading_windows_in_the_environment_may_be_written_as_the_toml_array(value: str, windows: list[str]) -> None:
    """Found in review: `ORION__TRADING__TRADING_WINDOWS='["13:30-20:00"]'`, copied from the config file,
    was split at its commas, so its brackets and quotes made the window invalid (exit 3)."""
    s = load_settings(environ={"ORION__TRADING__TRADING_WINDOWS": value})
    assert s.trading.trading_windows == windows


@pytest.mark.parametrize("value", ['["13:30-20:00"', "[1]", '["13:30-20:00"] x = 1', '["13:30-20:00"]\nx = 1',
                                   '[["13:30-20:00"]]', '["25:00-26:00"]'])
def test_a_trading_windows_variable_that_is_not_a_toml_array_of_windows_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ORION__TRADING__TRADING_WINDOWS": value})
    assert info.value.exit_code == ExitCode.CONFIG and "trading.trading_windows" in info.value.message
    assert "ORION__TRADING__TRADING_WINDOWS" in info.value.message


# -- example file and display ------------------------------------------------------------------


def test_render_example_documents_every_key_and_loads_as_defaults(tmp_path: Path) -> None:
    text = render_example()
    for spec in key_specs():
        assert f"# {spec.key} = " in text, spec.dotted
    # Uncommenting every key gives back exactly the defaults.
    keys = {spec.key for spec in key_specs()}
    uncommented = "\n".join(
        line[2:] if line.startswith("# ") and line[2:].split(" = ", 1)[0] in keys else line
        for line in text.splitlines()
    )
    f = _write(tmp_path / "all.toml", uncommented)
    s = load_settings(config_file=f, environ={})
    assert s.as_dict() == load_settings(environ={}).as_dict()
    assert all(src.startswith("--config") for src in s.sources.values())


def test_repo_config_example_matches_render_example() -> None:
    example = REPO / "config.toml.example"
    if not example.exists():
        pytest.skip(f"{example} not generated yet")
    assert example.read_text(encoding="utf-8") == render_example()


WALLET = "0x" + "c68e" * 16  # a wallet key's shape (throwaway value)
WEBHOOK = "https://hooks.slack.com/services/T000/B000/CANARYhooksecret"


@pytest.mark.parametrize(("key", "value"), [
    ("alerts.enabled", WALLET), ("secrets.vault_path", WALLET), ("limits.order_notional", WALLET),
    ("alerts.format", WEBHOOK), ("alerts.format", "123456789:AAHcanaryTokenTelegram0123456789abcd"),
    ("alerts.format", "correct horse battery CANARY"), ("trading.trading_windows", WALLET),
    ("trading.trading_windows", "13:30-20:00 " + "x" * 30 + "CANARY"),
    ("secrets.vault_path", "relative/" + "dir/" * 40 + "CANARYsecret.json"), ("secrets.vault_path", WEBHOOK),
    ("matching.pairs_file", WEBHOOK), ("kalshi.prod_base_url", WALLET),
])
def test_a_refused_value_that_may_be_a_secret_is_not_quoted_whole(key: str, value: str) -> None:
    """Black-box review: `ORION__ALERTS__ENABLED=0x<64 hex> orion halt --status` warned
    `alerts.enabled = '0xc68e…'` with the whole key; so did secrets.vault_path, a webhook URL pasted into
    alerts.format, and limits.order_notional kept ~40 hex characters. A value that looks like a key or a
    token is not shown; any other is clipped to a few characters (URL keys keep their masked whole), a
    trading window entry beyond 40 characters, a path key's value beyond 160 or holding a URL."""
    env = "ORION__" + key.upper().replace(".", "__")
    s = load_settings(environ={env: value}, lenient=True)
    (problem,) = s.problems
    assert problem.startswith((f"{key} = ", f"{key} entry ")) and env in problem, problem
    assert "CANARY" not in problem and "c68ec68e" not in problem and "hooks.slack.com/services" not in problem, problem
    assert "not shown" in problem or "characters)" in problem, problem
    with pytest.raises(ConfigError) as refused:  # strict, as every other command loads it: its hint too
        load_settings(environ={env: value})
    said = f"{refused.value.message} {refused.value.hint}"
    assert "CANARY" not in said and "c68ec68e" not in said and "hooks.slack.com/services" not in said, said


def test_a_short_refused_value_is_still_quoted() -> None:
    s = load_settings(environ={"ORION__ALERTS__FORMAT": "slakc", "ORION__TRADING__TRADING_WINDOWS": "25:00-26:00"},
                      lenient=True)
    assert any("alerts.format = 'slakc' from" in p for p in s.problems), s.problems
    with pytest.raises(ConfigError, match="entry '25:00-26:00' from"):
        load_settings(environ={"ORION__TRADING__TRADING_WINDOWS": "25:00-26:00"})


@pytest.mark.parametrize(("key", "value", "said"), [
    ("trading.trading_windows", "09:30-16:00 UTC", "entry '09:30-16:00 UTC' from"),
    ("trading.trading_windows", "9:30am-4pm America/New_York", "entry '9:30am-4pm America/New_York' from"),
    ("trading.trading_windows", "13:30 - 13:30", "entry '13:30 - 13:30' from"),
    ("secrets.vault_path", "orion/vault/vault.json", "secrets.vault_path = 'orion/vault/vault.json' from"),
    ("halt.sentinel_file", "orion/run/trading.stop", "halt.sentinel_file = 'orion/run/trading.stop' from"),
])
def test_a_refused_window_or_path_is_quoted_whole(key: str, value: str, said: str) -> None:
    """Review: clipped at 12 characters, `"09:30-16:00 UTC"` was quoted as `'09:30-16:00 '… (15 characters)`:
    the ` UTC` that makes it wrong cut off; a relative vault path `'orion/vault/'… (22 characters)`. A
    window entry (up to 40 characters) and a path key's value (up to 160) that do not look like a key or
    token are quoted whole, and the relative path's hint names its own file."""
    env = "ORION__" + key.upper().replace(".", "__")
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={env: value})
    assert said in refused.value.message and "characters)" not in refused.value.message, refused.value.message
    if key != "trading.trading_windows":
        assert f'"/srv/orion/{value.rpartition("/")[2]}"' in (refused.value.hint or ""), refused.value.hint


def test_a_value_that_looks_like_a_key_is_not_shown_by_config_show() -> None:
    """Black-box review: `config show` printed a wallet key set as alerts.telegram_chat_id whole."""
    s = load_settings(environ={"ORION__ALERTS__TELEGRAM_CHAT_ID": WALLET}, lenient=True)
    shown = {k: v for k, v, _ in iter_flat(s)}
    assert shown["alerts.telegram_chat_id"] == "(not shown: it looks like a key or token)"
    s = load_settings(environ={"ORION__ALERTS__TELEGRAM_CHAT_ID": "-1001234567890",
                               "ORION__SECRETS__VAULT_PATH": "/run/secrets/orion_vault_file_for_prod_host"})
    shown = {k: v for k, v, _ in iter_flat(s)}  # a chat id and a dotless absolute path are shown as they are
    assert shown["alerts.telegram_chat_id"] == "-1001234567890"
    assert shown["secrets.vault_path"] == "/run/secrets/orion_vault_file_for_prod_host"


def test_database_url_password_is_masked_in_show() -> None:
    s = load_settings(overrides={"database.url": "postgresql://orion:s3cret@db.example/orion"}, environ={})
    shown = {k: v for k, v, _ in iter_flat(s)}
    assert shown["database.url"] == "postgresql://orion:***@db.example/orion"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


# -- lenient loading: the kill switch engages through a broken file ----------------------------------


def test_lenient_loading_lists_what_is_wrong_and_keeps_the_defaults_for_it(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", '[limits]\norder_notional = "abc"\norder_contractz = 3\n'
                                     'price_band_low = "0.9"\nprice_band_high = "0.5"\n'
                                     '[database]\nbusy_timeout_ms = 2000\n[halt]\nsentinel_file = "/tmp/stop"\n')
    with pytest.raises(ConfigError):
        load_settings(config_file=f, environ={})
    s = load_settings(config_file=f, environ={"ORION__RATE_LIMITS__ORDERS_PER_MINUTE": "x"}, lenient=True)
    assert s.limits.order_notional == Decimal("100") and s.sources[KEY] == "default"
    assert s.rate_limits.orders_per_minute == load_settings(environ={}).rate_limits.orders_per_minute
    assert (s.database.busy_timeout_ms, s.halt.sentinel_file) == (2000, "/tmp/stop")  # what the halt needs
    text = " | ".join(s.problems)
    assert len(s.problems) == 4, s.problems
    for needle in (KEY, "limits.order_contractz", "price_band_low", "ORION__RATE_LIMITS__ORDERS_PER_MINUTE"):
        assert needle in text
    assert load_settings(environ={}, lenient=True).problems == ()


@pytest.mark.parametrize("body", [
    "[database]\nbusy_timeout_ms = 1\n",  # the kill switch's own section must be right
    '[database]\nurll = "sqlite:///x.db"\n',  # a misspelt database key would halt another database
    '[databse]\nurl = "sqlite:///x.db"\n',  # so would a misspelt section
    '[logging]\nlevel = "info"\nurl = "sqlite:///x.db"\n',  # or a deleted [database] header line
    '[halt]\nsentinel_file = 3\n',
    '[limits]\nsentinel_file = "/tmp/stop"\n',  # a deleted [halt] header line
])
def test_lenient_loading_still_refuses_a_wrong_database_or_halt_setting(tmp_path: Path, body: str) -> None:
    f = _write(tmp_path / "c.toml", body)
    with pytest.raises(ConfigError):
        load_settings(config_file=f, environ={}, lenient=True)


@pytest.mark.parametrize("body", [
    "[database]\nbusy_timeout_ms = 1\n", '[databse]\nurl = "sqlite:///x.db"\n', '[newer_section]\nx = 1\n',
    '[logging]\nurl = "sqlite:///x.db"\n'])
def test_with_the_database_named_on_the_command_line_only_the_halt_keys_must_be_right(tmp_path: Path,
                                                                                       body: str) -> None:
    """Found in review: `orion --db URL halt`, the way out the errors name, still failed on a misspelt
    [database] section or value, which the named database makes irrelevant."""
    f = _write(tmp_path / "c.toml", body)
    for named in ({"overrides": {"database.url": "sqlite:////srv/orion/named.db"}, "environ": {}},
                  {"environ": {"ORION__DATABASE__URL": "sqlite:////srv/orion/named.db"}},
                  # Read whatever the case after ORION__ (found in review: this spelling set the URL but did
                  # not count as naming the database, so a broken file still kept the switch off).
                  {"environ": {"ORION__database__Url": "sqlite:////srv/orion/named.db"}}):
        s = load_settings(config_file=f, lenient=True, **named)  # type: ignore[arg-type]
        assert s.database.url == "sqlite:////srv/orion/named.db" and len(s.problems) == 1
    for halt_keys in ('[limits]\nsentinel_file = "/tmp/s"\n', 'sentinel_file = "/tmp/s"\n'):  # header deleted
        with pytest.raises(ConfigError):
            load_settings(config_file=_write(tmp_path / "h.toml", halt_keys),
                          overrides={"database.url": "sqlite:////srv/orion/named.db"}, environ={}, lenient=True)


def test_an_unparseable_file_is_skipped_only_when_the_database_is_named_elsewhere(tmp_path: Path) -> None:
    f = _write(tmp_path / "c.toml", '[database]\nurl = "postgresql+psycopg://u@h/db"\n[limits\n')
    with pytest.raises(ConfigError) as info:  # it may name the database: halting the default one would mislead
        load_settings(config_file=f, environ={}, lenient=True)
    assert info.value.hint is not None and "orion --db URL halt" in info.value.hint
    s = load_settings(config_file=f, environ={}, overrides={"database.url": "sqlite:////srv/other.db"}, lenient=True)
    assert s.database.url == "sqlite:////srv/other.db"
    assert len(s.problems) == 1 and "TOML syntax error" in s.problems[0] and "skipped" in s.problems[0]


def _skipped_only_with_the_database_named(f: Path, problem: str) -> None:
    with pytest.raises(ConfigError) as info:  # it may name the database
        load_settings(config_file=f, environ={}, lenient=True)
    assert info.value.hint is not None and "orion --db URL halt" in info.value.hint
    s = load_settings(config_file=f, environ={}, overrides={"database.url": "sqlite:////srv/other.db"}, lenient=True)
    assert s.database.url == "sqlite:////srv/other.db"
    assert len(s.problems) == 1 and "skipped" in s.problems[0] and problem in s.problems[0]


def test_a_device_is_skipped_as_an_unparseable_file() -> None:
    """`orion --db URL halt` gets past a config file refused unread as past one that cannot be parsed."""
    _skipped_only_with_the_database_named(Path("/dev/null"), "not a regular file")


@pytest.mark.usefixtures("default_recursion_limit")
def test_a_file_nested_too_deeply_is_skipped_as_an_unparseable_one(tmp_path: Path) -> None:
    """Found by a black-box audit: `orion --db URL halt`, the way past a file that cannot be parsed, failed
    with a RecursionError (exit 1, nothing halted) on a file nested too deeply for the parser."""
    f = _write(tmp_path / "c.toml", "x = " + "[" * 600 + "]" * 600)
    _skipped_only_with_the_database_named(f, "nested too deeply")


@pytest.mark.parametrize("second", ["unparseable", "missing"])
def test_a_skipped_file_never_leaves_another_files_database_in_its_place(isolated_home: Path, tmp_path: Path,
                                                                         second: str) -> None:
    """Found in review: the user config's database.url counted as "named elsewhere", so a broken (or
    mistyped, missing) --config file naming the production database was skipped, and the halt
    engaged on the user config's database with exit 0."""
    _write(isolated_home / "config.toml", '[database]\nurl = "sqlite:///user.db"\n')
    prod = tmp_path / "prod.toml"
    if second == "unparseable":
        _write(prod, '[database]\nurl = "sqlite:///prod.db"\n[limits\n')
    with pytest.raises(ConfigError):
        load_settings(config_file=prod, environ={}, lenient=True)
    with pytest.raises(ConfigError):  # an empty variable names nothing
        load_settings(config_file=prod, environ={"ORION__DATABASE__URL": " "}, lenient=True)


@pytest.mark.parametrize(("body", "shown"), [
    ("order_notional = 0.001", "limits.order_notional = 0.001 from"),  # a TOML number, not Decimal('0.001')
    ('order_notional = "abc"', "limits.order_notional = 'abc' from"),
    ("order_notional = true", "limits.order_notional = true from"),
])
def test_a_bad_value_is_shown_as_it_was_written(tmp_path: Path, body: str, shown: str) -> None:
    """Found by black-box testing: the message showed Python's repr, Decimal('0.001')."""
    f = _write(tmp_path / "c.toml", f"[limits]\n{body}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=f, environ={})
    assert shown in info.value.message and "Decimal(" not in info.value.message


@pytest.mark.parametrize("order", ["upper first", "mixed first"])
def test_two_variables_setting_one_key_differently_are_refused_whatever_their_order(order: str) -> None:
    """Mutation audit: section and key are read whatever their case, so ORION__LIMITS__ORDER_NOTIONAL=50 and
    ORION__limits__order_notional=500 both set limits.order_notional, and the one later in the environment
    won, silently (a limit the operator lowered could stay raised)."""
    pair = [("ORION__LIMITS__ORDER_NOTIONAL", "50"), ("ORION__limits__order_notional", "500")]
    environ = dict(pair if order == "upper first" else pair[::-1])
    with pytest.raises(ConfigError) as info:
        load_settings(environ=environ)
    message = info.value.message
    assert info.value.exit_code == ExitCode.CONFIG and KEY in message
    assert "ORION__LIMITS__ORDER_NOTIONAL" in message and "ORION__limits__order_notional" in message


def test_two_variables_setting_one_key_alike_are_one_setting() -> None:
    s = load_settings(environ={"ORION__LIMITS__ORDER_NOTIONAL": "50", "ORION__Limits__Order_Notional": "50"})
    assert s.limits.order_notional == Decimal("50") and s.sources[KEY] == "environment ORION__LIMITS__ORDER_NOTIONAL"


def test_the_kill_switch_refuses_two_variables_naming_its_database_differently() -> None:
    """Lenient loading notes a key set twice and leaves it at its default, except the kill switch's own."""
    s = load_settings(environ={"ORION__LIMITS__ORDER_NOTIONAL": "50", "ORION__limits__order_notional": "500"},
                      lenient=True)
    assert s.limits.order_notional == Decimal("100") and any(KEY in p for p in s.problems)
    third = load_settings(environ={"ORION__LIMITS__ORDER_NOTIONAL": "50", "ORION__limits__order_notional": "500",
                                   "ORION__Limits__Order_Notional": "5"}, lenient=True)
    assert third.limits.order_notional == Decimal("100")  # a third spelling is not taken either
    with pytest.raises(ConfigError, match=r"database\.url is set twice"):
        load_settings(environ={"ORION__DATABASE__URL": "/a.db", "ORION__database__url": "/b.db"}, lenient=True)
