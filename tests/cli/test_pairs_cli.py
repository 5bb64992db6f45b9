"""`orion pairs list|add|remove|suggest` through the CLI: the pairs file, exit codes and the audit trail."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from typer.testing import CliRunner
from venue_down_snapshot import DOWN_REASON, write_venue_down_snapshot

from orion_cli.cli.app import app
from orion_cli.core.paths import default_pairs_file
from orion_cli.store.audit import AuditLog, Event
from orion_cli.store.db import open_database

BRIA_K = "KXUPONLY-01-BRIA"
BRIA_P = "0x18682f5c3ac9f66132244ac057a2817a1b908702d424680f35de26cad232087d"
GCR_K = "KXUPONLY-01-GCR"
GCR_P = "0x27aad6b150842f937852361de3f82b7f8c927a2fa89f8b3c49d955af32e73bd1"
BRIA_YES = "63135575408667591224412466200736995005307966265895477308224847363697705611477"  # BRIA_P's tokens
BRIA_NO = "36076722562614500292739765580530452371911611190241029657346471775738324595052"
LAL_K = "KXNBAGAME-26JAN09MILLAL-LAL"
LAL_P = "0x" + "f0" * 32


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def audit(*types: str) -> list[Event]:
    db = open_database(None)
    try:
        return AuditLog(db).tail(100, types=types)
    finally:
        db.dispose()


def listed() -> list[dict[str, Any]]:
    code, out, err = invoke("pairs", "list", "--json")
    assert code == 0, err
    records: list[dict[str, Any]] = json.loads(out)
    return records


# -- list / add / remove --------------------------------------------------------------------------


def test_list_empty() -> None:
    assert listed() == []
    code, out, err = invoke("pairs", "list", "--format", "table")
    assert code == 0 and out == ""
    assert "no curated pairs in" in err and str(default_pairs_file()) in err
    assert not default_pairs_file().exists()  # listing never creates the file


def test_add_then_list_and_audit() -> None:
    code, out, err = invoke("pairs", "add", LAL_K, LAL_P, "--inverted", "--note", "Lakers = 2nd outcome", "--json")
    assert code == 0, err
    rec = json.loads(out)
    assert rec["type"] == "pair" and rec["kalshi"] == LAL_K and rec["polymarket"] == LAL_P
    assert rec["inverted"] is True and rec["note"] == "Lakers = 2nd outcome" and rec["added_at"].endswith("Z")
    assert "curated" in err and "(inverted)" in err
    code, _, _ = invoke("pairs", "add", BRIA_K, BRIA_P)
    assert code == 0
    pairs = listed()
    assert [(p["kalshi"], p["polymarket"], p["inverted"]) for p in pairs] == [(LAL_K, LAL_P, True),
                                                                              (BRIA_K, BRIA_P, False)]
    doc = tomllib.loads(default_pairs_file().read_text())
    assert doc["pair"][0]["inverted"] is True and doc["pair"][1]["inverted"] is False
    events = audit("pairs.added")
    assert [(e.payload["kalshi"], e.payload["polymarket"], e.payload["inverted"]) for e in events] == [
        (LAL_K, LAL_P, True), (BRIA_K, BRIA_P, False)]
    assert all(e.mode == "paper" for e in events)
    code, out, _ = invoke("pairs", "list", "--format", "table")
    assert code == 0 and LAL_K in out and "Lakers = 2nd outcome" in out


@pytest.mark.parametrize("change", [("add", BRIA_K, BRIA_P), ("remove", LAL_K)], ids=["add", "remove"])
def test_a_change_whose_audit_event_cannot_be_recorded_leaves_the_pairs_file_as_it_was(
        change: tuple[str, ...]) -> None:
    """Found by a crash review: the pairs file was written first and the audit event recorded after, in a
    transaction of its own; a process killed (or a ledger failing) in between left a change to what the
    scan trades that the audit log never named. The file is now written inside the event's transaction."""
    from orion_cli.core.errors import StorageError
    from orion_cli.store import audit as audit_mod

    assert invoke("pairs", "add", LAL_K, LAL_P)[0] == 0
    before = default_pairs_file().read_bytes()

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("the ledger failed (test)")

    with mock.patch.object(audit_mod.AuditLog, "append", staticmethod(failing)):
        code, out, err = invoke("pairs", *change)
    assert code != 0 and out == "", (code, err)
    assert default_pairs_file().read_bytes() == before
    assert [e.payload["kalshi"] for e in audit("pairs.added", "pairs.removed")] == [LAL_K]


@pytest.mark.parametrize("ids", [("",), (" ",), (LAL_K, ""), (LAL_K, " ")])
def test_remove_with_an_empty_id_is_a_usage_error(ids: tuple[str, ...]) -> None:
    """Found by a black-box review: `pairs remove ''` said "no curated pair  in …" (not_found), where `pairs add
    '' ''` is a usage error naming the empty argument."""
    assert invoke("pairs", "add", LAL_K, LAL_P)[0] == 0
    before = default_pairs_file().read_bytes()
    code, out, err = invoke("--json", "pairs", "remove", *ids)
    assert code == 2 and out == "", err
    error = json.loads(err.strip().splitlines()[-1])
    assert error["reason"] == "usage" and "must be non-empty" in error["message"], error
    assert default_pairs_file().read_bytes() == before


def test_add_duplicate_kalshi_ticker_exit_2_and_changes_nothing() -> None:
    assert invoke("pairs", "add", LAL_K, LAL_P)[0] == 0
    before = default_pairs_file().read_bytes()
    code, out, err = invoke("pairs", "add", LAL_K, "0x" + "11" * 32)
    assert code == 2 and out == ""
    assert "already paired" in err and LAL_P in err
    assert default_pairs_file().read_bytes() == before
    assert len(audit("pairs.added")) == 1  # no audit event for a refused change
    # The very same pair again (a provisioning script run twice): nothing changes, and no error.
    code, out, err = invoke("pairs", "add", LAL_K, LAL_P, "--json")
    assert code == 0 and "already curated; nothing changed" in err, err
    assert json.loads(out)["kalshi"] == LAL_K
    assert default_pairs_file().read_bytes() == before and len(audit("pairs.added")) == 1
    # The same ids with the other polarity are a different pair: refused like any other.
    assert invoke("pairs", "add", LAL_K, LAL_P, "--inverted")[0] == 2


def test_add_a_polymarket_market_paired_the_same_way_exit_2_naming_the_pair() -> None:
    """Found by a black-box audit: one Polymarket market was curated for several Kalshi tickers."""
    assert invoke("pairs", "add", BRIA_K, BRIA_P)[0] == 0
    before = default_pairs_file().read_bytes()
    code, out, err = invoke("pairs", "add", GCR_K, BRIA_P, "--json")
    assert code == 2 and out == ""
    error = json.loads(err.strip().splitlines()[-1])
    assert error["exit_code"] == 2 and BRIA_K in error["message"] and BRIA_P in error["message"]
    assert f"orion pairs remove {BRIA_K}" in err
    assert default_pairs_file().read_bytes() == before and len(audit("pairs.added")) == 1
    # The other way round (the other outcome of a two-outcome market) is a pair of its own.
    assert invoke("pairs", "add", GCR_K, BRIA_P, "--inverted")[0] == 0
    assert [(p["kalshi"], p["inverted"]) for p in listed()] == [(BRIA_K, False), (GCR_K, True)]


def test_a_yes_token_id_names_its_market_so_it_pairs_once_each_way() -> None:
    """Found by a black-box audit: `pairs add` refused GCR on BRIA's Polymarket market by condition id,
    but took it by the market's YES token id, and the scan priced both Kalshi markets against the one
    book. The token is looked up (here in the demo data) and the pair stored with the condition id."""
    assert invoke("pairs", "add", BRIA_K, BRIA_P)[0] == 0
    before = default_pairs_file().read_bytes()
    code, out, err = invoke("pairs", "add", GCR_K, BRIA_YES, "--demo", "--json")
    assert code == 2 and out == ""
    error = json.loads(err.strip().splitlines()[-1])
    assert error["exit_code"] == 2 and BRIA_K in error["message"] and BRIA_P in error["message"]
    assert f"the market of YES token {BRIA_YES}" in error["message"] and f"orion pairs remove {BRIA_K}" in err
    assert default_pairs_file().read_bytes() == before and len(audit("pairs.added")) == 1
    # The other way round is a pair of its own, stored by condition id (so the file can compare it).
    code, out, err = invoke("pairs", "add", GCR_K, BRIA_YES, "--demo", "--inverted", "--json")
    assert code == 0, err
    assert json.loads(out)["polymarket"] == BRIA_P and f"(the market of YES token {BRIA_YES})" in err
    assert [(p["kalshi"], p["polymarket"], p["inverted"]) for p in listed()] == [(BRIA_K, BRIA_P, False),
                                                                                 (GCR_K, BRIA_P, True)]
    assert audit("pairs.added")[-1].payload["polymarket"] == BRIA_P
    code, _, err = invoke("pairs", "add", GCR_K, BRIA_YES, "--demo", "--inverted")  # run twice: nothing new
    assert code == 0 and "already curated; nothing changed" in err and len(audit("pairs.added")) == 2


@pytest.mark.parametrize(("polymarket", "env", "exit_code", "said"), [
    (BRIA_NO, None, 2, f"is the NO token of Polymarket market {BRIA_P}"),
    ("123456789", None, 2, "no Polymarket market has the token 123456789 (in the demo data set)"),
    (BRIA_YES, "dead", 5, f"cannot look up the market of Polymarket token {BRIA_YES} on Polymarket"),
])
def test_a_token_id_whose_market_cannot_be_told_is_refused(polymarket: str, env: str | None, exit_code: int,
                                                           said: str) -> None:
    """A NO token reads both ways, a token no market has names nothing, and with Polymarket unreachable
    the market is unknown: none of them can be held to one Kalshi market each way, so none is added."""
    if env == "dead":
        import socket

        with socket.socket() as free:  # a loopback port nothing listens on
            free.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{free.getsockname()[1]}"
        args: tuple[str, ...] = ("pairs", "add", GCR_K, polymarket, "--json")
        environ = {"ORION__POLYMARKET__GAMMA_URL": dead, "ORION__POLYMARKET__CLOB_URL": dead}
    else:
        args, environ = ("pairs", "add", GCR_K, polymarket, "--demo", "--json"), {}
    code, out, err = invoke(*args, env=environ)
    assert code == exit_code and out == "", err
    assert said in json.loads(err.strip().splitlines()[-1])["message"]
    if polymarket == BRIA_NO:
        # the ticker typed, not a placeholder
        assert (f"hint: Kalshi YES settling like that NO token is the pair inverted: `orion pairs add {GCR_K} "
                f"{BRIA_P} --inverted`") in err, err
    assert not default_pairs_file().exists() and audit("pairs.added") == []


def test_a_no_token_given_with_inverted_hints_the_direct_pair_and_that_pair_is_what_was_meant() -> None:
    """Found in review: `pairs add K NO_TOKEN --inverted` (Kalshi YES settles like the NO token's other
    outcome, Polymarket YES) was hinted `pairs add K MARKET --inverted`, the opposite polarity: run as
    printed, its opportunities buy one outcome twice. The hint keeps the meaning typed: direct."""
    code, _, err = invoke("pairs", "add", GCR_K, BRIA_NO, "--demo", "--inverted")
    assert code == 2, err
    hint = next(line for line in err.splitlines() if line.startswith("hint: "))
    assert "is the pair direct" in hint and hint.split("`")[1] == f"orion pairs add {GCR_K} {BRIA_P}", hint
    assert not default_pairs_file().exists()
    code, _, err = invoke(*hint.split("`")[1].split()[1:])  # as printed
    assert code == 0, err
    assert [(p["kalshi"], p["polymarket"], p["inverted"]) for p in listed()] == [(GCR_K, BRIA_P, False)]


def test_a_yes_token_id_looked_up_in_a_recording_of_polymarket_down_is_exit_5(tmp_path: Path) -> None:
    """As with Polymarket unreachable: a recording whose Polymarket was down cannot tell the token's
    market either. It said "no Polymarket market has the token" (exit 2, a mistyped id)."""
    from orion_cli.core.models import Venue

    down = write_venue_down_snapshot(tmp_path / "down.json", Venue.POLYMARKET)
    code, out, err = invoke("pairs", "add", GCR_K, BRIA_YES, "--snapshot", str(down), "--json")
    assert code == 5 and out == "", err
    message = json.loads(err.strip().splitlines()[-1])["message"]
    assert message.startswith(f"cannot look up the market of Polymarket token {BRIA_YES} in the snapshot ")
    assert message.endswith(f"polymarket unavailable: {DOWN_REASON}")
    assert not default_pairs_file().exists() and audit("pairs.added") == []


def test_a_yes_token_id_is_looked_up_on_polymarket_without_recorded_data() -> None:
    from sim.polymarket_sim import PolymarketSim, _tokens_of

    sim = PolymarketSim.universe(1)
    sim.start()
    try:
        market = next(m for _, m in sim.all_markets() if not m.get("closed"))
        yes = _tokens_of(market)[0]
        env = {"ORION__POLYMARKET__GAMMA_URL": sim.gamma_url, "ORION__POLYMARKET__CLOB_URL": sim.clob_url}
        code, out, err = invoke("pairs", "add", LAL_K, yes, "--json", env=env)
    finally:
        sim.stop()
    assert code == 0, err
    assert json.loads(out)["polymarket"] == market["conditionId"].lower()


@pytest.mark.parametrize("args", [("  ", LAL_P), (LAL_K, " ")])
def test_add_blank_ids_exit_2(args: tuple[str, str]) -> None:
    code, _, _ = invoke("pairs", "add", *args)
    assert code == 2
    assert listed() == [] and audit("pairs.added") == []


@pytest.mark.parametrize(("kalshi", "polymarket", "problem"), [
    # A condition id one hex digit short: cut at 40 characters, the message hid the end that was wrong.
    (BRIA_K, BRIA_P[:-1], "is not a condition id: it has 63 hex digits after 0x, and a condition id 64"),
    (BRIA_K, BRIA_P + "0", "it has 65 hex digits after 0x"),
    (BRIA_K, BRIA_P[:-1] + "g", "'g' at character 66 is not a hex digit"),
    (BRIA_K, BRIA_P[:40] + "…", "'…' (U+2026 HORIZONTAL ELLIPSIS, not ASCII) at character 41 is not a hex digit"),
    (BRIA_K, BRIA_YES[:60] + "…", "is not a YES token id: '…' (U+2026 HORIZONTAL ELLIPSIS, not ASCII) at character 61 "
     "is not a decimal digit"),
    (BRIA_K, BRIA_YES + "0" * 5, "is not a YES token id: it has 82 digits, and a token id at most 80"),
    (BRIA_K, "https://polymarket.com/event/uponly-podcast-guests",
     "is neither a condition id (0x and 64 hex digits) nor a YES token id (decimal digits only)"),
    ("KXNBAGAME-26JAN09MILLAL-LAL/2", LAL_P, "'/' at character 28 is not one of the letters, digits"),
    ("KXNBAGAME " + "Z" * 40, LAL_P, "' ' at character 10 is not one of the letters, digits"),
    ("K" * 129, LAL_P, "it is 129 characters long, and a ticker at most 128"),
    ("_KXFOO", LAL_P, "it starts with '_', and a ticker with a letter or a digit"),
])
def test_a_bad_market_id_is_shown_whole_with_what_is_wrong_with_it(kalshi: str, polymarket: str,
                                                                   problem: str) -> None:
    """Found in review: `pairs add` cut the id it refused to its first 40 characters and said only that it
    was "neither a condition id nor a YES token id", so a condition id with a digit lost in copying (66
    characters) showed as 40 good ones. The message holds the whole id as typed, and what is wrong."""
    code, out, err = invoke("pairs", "add", kalshi, polymarket)
    assert code == 2 and out == "", err
    bad = kalshi if problem.startswith(("'/'", "' '", "it is", "it starts")) else polymarket
    assert f"{bad!r}" in err and problem in err, err
    assert listed() == [] and audit("pairs.added") == []


@pytest.mark.parametrize(("kalshi", "problem"), [
    (GCR_P, "it is a Polymarket condition id (0x and 64 hex digits); the Kalshi ticker comes first"),
    (GCR_P.upper(), "it is a Polymarket condition id (0x and 64 hex digits); the Kalshi ticker comes first"),
    (GCR_P[:20], "it is 0x and hex digits, as a Polymarket condition id is; the Kalshi ticker comes first"),
    (BRIA_YES, "it is decimal digits only, as a Polymarket token id is; the Kalshi ticker comes first"),
])
def test_a_polymarket_id_given_for_the_kalshi_ticker_is_refused(kalshi: str, problem: str) -> None:
    """Found by a black-box review: `pairs add <GCR's condition id> <BRIA's condition id>` was stored as the
    Kalshi ticker "0X27AAD6B1…", which paired nothing and made BRIA's real pair CURATED_ELSEWHERE, so the
    scan found nothing. A Polymarket id in the Kalshi slot is refused (exit 2), as the swap the other way is."""
    code, out, err = invoke("pairs", "add", kalshi, BRIA_P, "--json")
    assert code == 2 and out == "", err
    message = json.loads(err.strip().splitlines()[-1])["message"]
    assert f"kalshi {kalshi!r} is not a Kalshi market ticker: {problem}" in message
    assert not default_pairs_file().exists() and audit("pairs.added") == []
    code, out, err = invoke("scan", "--demo", "--jsonl")  # BRIA's own pair is still found
    assert code == 0 and BRIA_K in out, err


@pytest.mark.parametrize(("kalshi", "polymarket", "problem"), [
    # U+2011 (a web page's non-breaking hyphen) looks like the '-' the message lists as allowed.
    ("KXUPONLY\u201101-BRIA", BRIA_P, "'\u2011' (U+2011 NON-BREAKING HYPHEN, not ASCII) at character 9"),
    # A Cyrillic К and the Kelvin sign look like the letter K the message says a ticker may start with.
    ("\u041aXUPONLY-01-BRIA", BRIA_P, "it starts with '\u041a' (U+041A CYRILLIC CAPITAL LETTER KA, not ASCII)"),
    ("\u212aXUPONLY-01-BRIA", BRIA_P, "it starts with '\u212a' (U+212A KELVIN SIGN, not ASCII)"),
    # A Cyrillic а in a condition id looks like the hex digit a.
    (BRIA_K, BRIA_P[:10] + "\u0430" + BRIA_P[11:],
     "'\u0430' (U+0430 CYRILLIC SMALL LETTER A, not ASCII) at character 11 is not a hex digit"),
    (BRIA_K, "\u0661\u0662\u0663", "it starts with '\u0661' (U+0661 ARABIC-INDIC DIGIT ONE, not ASCII)"),
])
def test_a_lookalike_character_in_a_market_id_is_named_by_its_code_point(kalshi: str, polymarket: str,
                                                                         problem: str) -> None:
    """Found in review: the message meant to point at the wrong character showed a lookalike of a valid
    one as itself ('‑' for '-', a Cyrillic 'К' "and a ticker starts with a letter"), so it read as wrong
    about a character that looks right. A character outside ASCII is named by its code point and name."""
    code, out, err = invoke("pairs", "add", kalshi, polymarket)
    assert code == 2 and out == "", err
    assert problem in err, err
    assert listed() == [] and audit("pairs.added") == []


def test_remove_and_audit() -> None:
    assert invoke("pairs", "add", LAL_K, LAL_P)[0] == 0
    assert invoke("pairs", "add", BRIA_K, BRIA_P)[0] == 0
    code, out, err = invoke("pairs", "remove", LAL_K, "--json")
    assert code == 0, err
    assert json.loads(out)["kalshi"] == LAL_K
    assert [p["kalshi"] for p in listed()] == [BRIA_K]
    [event] = audit("pairs.removed")
    assert event.payload["kalshi"] == LAL_K and event.payload["polymarket"] == LAL_P
    # the chain holds: add, add, remove in order
    assert [e.type for e in audit("pairs.added", "pairs.removed")] == ["pairs.added", "pairs.added", "pairs.removed"]


def test_remove_missing_exit_2() -> None:
    code, out, err = invoke("pairs", "remove", "KXNOPE-1")
    assert code == 2 and out == "" and "KXNOPE-1" in err
    assert invoke("pairs", "add", LAL_K, LAL_P)[0] == 0
    code, _, err = invoke("pairs", "remove", LAL_K, "0x" + "99" * 32)  # right ticker, wrong Polymarket id
    assert code == 2
    assert [p["kalshi"] for p in listed()] == [LAL_K]
    assert audit("pairs.removed") == []


def test_a_refused_change_leaves_no_ledger_behind(isolated_home: Path) -> None:
    """Found by black-box testing: a refused `pairs add` (a mistyped id), `remove` (no such pair) or
    `suggest --accept` at a mistyped ORION_HOME or --db created a new, empty ledger there (to audit a
    change never made), which `reconcile` then reported clean and `halt` halted. The ledger is opened
    first only if it exists; a missing one is created for a change that goes ahead, and only then."""
    from orion_cli.matching.pairs import CuratedPair, save_pairs

    ledger = isolated_home / "orion.db"
    for args in (("add", "KXFOO-1", "0xabc"), ("add", GCR_K, BRIA_NO, "--demo"), ("remove", "KXNOPE-1"),
                 ("suggest", "--demo", "--accept", "KXNOSUCH-99")):
        code, _, err = invoke("pairs", *args)
        assert code == 2, (args, err)
        assert not ledger.exists(), args
    save_pairs(default_pairs_file(), [CuratedPair(LAL_K, LAL_P, True, "")])  # curated by hand
    code, _, err = invoke("pairs", "add", LAL_K, LAL_P, "--inverted")  # already there: nothing changes
    assert code == 0 and "nothing changed" in err and not ledger.exists()
    assert invoke("reconcile", "--demo")[0] == 3  # still no ledger there
    assert invoke("pairs", "remove", LAL_K)[0] == 0 and ledger.exists()  # a change made: audited in it
    assert [e.payload["kalshi"] for e in audit("pairs.removed")] == [LAL_K]


def test_a_refused_change_leaves_no_file_behind(tmp_path: Path) -> None:
    """Found by black-box testing: a refused `pairs remove` at a mistyped ORION_HOME created the
    directory with a `pairs.toml.lock` in it; in the home, a refused remove or add left that lock file."""
    mistyped = tmp_path / "orion-hmoe"
    code, _, err = invoke("pairs", "remove", "KXNOPE-1", env={"ORION_HOME": str(mistyped)})
    assert code == 2 and "no curated pair KXNOPE-1" in err
    assert not mistyped.exists()
    assert invoke("pairs", "add", LAL_K, LAL_P)[0] == 0
    home = default_pairs_file().parent
    (home / "pairs.toml.lock").unlink()  # the add's: filelock leaves it after a change
    before = sorted(p.name for p in home.iterdir())
    for args in (("remove", "KXNOPE-1"), ("add", LAL_K, BRIA_P), ("suggest", "--demo", "--accept", LAL_K)):
        code, _, err = invoke("pairs", *args)
        assert code == 2, (args, err)
        assert sorted(p.name for p in home.iterdir()) == before, args


def test_a_ledger_that_cannot_be_created_refuses_the_change_before_the_pairs_file_is_written(
        tmp_path: Path) -> None:
    """The missing ledger is created just before the write, not by its audit event after it: one that
    cannot be created (here under a regular file) leaves the pairs file as it was."""
    assert invoke("pairs", "add", LAL_K, LAL_P)[0] == 0
    before = default_pairs_file().read_bytes()
    (tmp_path / "a-file").write_text("")
    nowhere = str(tmp_path / "a-file" / "orion.db")
    for args in (("add", BRIA_K, BRIA_P), ("remove", LAL_K), ("suggest", "--demo", "--accept", BRIA_K)):
        code, _, err = invoke("--db", nowhere, "pairs", *args)
        assert code == 3 and "a-file/orion.db" in err, (args, err)
        assert default_pairs_file().read_bytes() == before, args


def test_remove_by_the_yes_token_of_a_pair_stored_by_condition_id_names_the_id_to_give() -> None:
    """Found by black-box testing: a pair added by YES token id is stored with its market's condition id,
    and `pairs remove KALSHI TOKEN` said there was no such pair. Which market a token names takes market
    data to tell: the error names the condition id to give, and nothing is removed."""
    assert invoke("pairs", "add", BRIA_K, BRIA_YES, "--demo")[0] == 0
    before = default_pairs_file().read_bytes()
    code, out, err = invoke("pairs", "remove", BRIA_K, BRIA_YES, "--json")
    assert code == 2 and out == ""
    error = json.loads(err.strip().splitlines()[-1])
    assert (error["exit_code"], error["reason"]) == (2, "usage")
    assert f"stored with Polymarket condition id {BRIA_P}: give that id, not token id {BRIA_YES}" in error["message"]
    assert f"orion pairs remove {BRIA_K} {BRIA_P}" in err
    assert default_pairs_file().read_bytes() == before and audit("pairs.removed") == []
    code, out, err = invoke("pairs", "remove", BRIA_K, BRIA_P, "--json")
    assert code == 0, err
    assert json.loads(out)["polymarket"] == BRIA_P and listed() == []


# -- a bad pairs file ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("pairs", "list"), ("pairs", "add", BRIA_K, BRIA_P), ("pairs", "remove", LAL_K)])
def test_bad_toml_exit_3_names_line_and_column(command: tuple[str, ...]) -> None:
    path = default_pairs_file()
    path.write_text(f'[[pair]]\nkalshi = "{LAL_K}"\npolymarket = "0xabc\ninverted = false\n')
    before = path.read_bytes()
    code, out, err = invoke("--json", *command)
    assert code == 3, err
    assert out == ""
    assert "line 3, column" in err and str(path) in err
    assert json.loads(err.strip().splitlines()[-1])["exit_code"] == 3
    assert path.read_bytes() == before  # never "repaired" by overwriting
    assert audit("pairs.added", "pairs.removed") == []


_READERS = [("pairs", "list"), ("pairs", "add", BRIA_K, BRIA_P), ("scan", "--demo"), ("pairs", "suggest", "--demo")]


@pytest.mark.parametrize("command", _READERS)
@pytest.mark.usefixtures("default_recursion_limit")
def test_a_pairs_file_nested_too_deeply_for_the_toml_parser_is_exit_3(command: tuple[str, ...]) -> None:
    """Found by a black-box audit: tomllib's RecursionError was an internal error (exit 1)."""
    path = default_pairs_file()
    path.write_text(f'[[pair]]\nkalshi = "{LAL_K}"\npolymarket = "{LAL_P}"\nnote = {"[" * 600}{"]" * 600}\n')
    before = path.read_bytes()
    code, _, err = invoke(*command)
    assert code == 3 and f"{path}: invalid TOML: arrays or inline tables nested too deeply" in err, err
    assert path.read_bytes() == before and audit("pairs.added") == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", _READERS)
def test_a_named_pipe_as_the_pairs_file_is_exit_3(command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """Found by a black-box audit: matching.pairs_file = "/dev/zero" read until memory ran out (exit 1, or
    the OOM killer), and a named pipe waited for a writer."""
    (tmp_path / "pipe").mkdir()
    fifo = tmp_path / "pipe" / "pairs.toml"
    os.mkfifo(fifo)
    monkeypatch.setenv("ORION__MATCHING__PAIRS_FILE", str(fifo))
    code, _, err = invoke(*command)
    assert code == 3 and f"{fifo}: cannot read pairs file: not a regular file" in err, err
    assert audit("pairs.added") == [] and list(fifo.parent.iterdir()) == [fifo]  # no lock file made next to it


def test_bad_entry_exit_3_names_the_entry() -> None:
    default_pairs_file().write_text(f'[[pair]]\nkalshi = "A"\npolymarket = "0x{"1" * 64}"\ninverted = "yes"\n')
    code, _, err = invoke("pairs", "list")
    assert code == 3 and "pair #1 (line 1)" in err and "inverted" in err


# -- suggest --------------------------------------------------------------------------------------


def test_suggest_demo_lists_candidates_with_confidence_and_reasons() -> None:
    code, out, err = invoke("pairs", "suggest", "--demo", "--min-confidence", "0", "--limit", "500", "--jsonl")
    assert code == 0, err
    assert "DEMO DATA" in err
    cands = [json.loads(line) for line in out.splitlines()]
    assert len(cands) > 50
    for c in cands:
        assert c["type"] == "candidate" and 0 <= c["confidence"] <= 1
        assert isinstance(c["reasons"], list) and isinstance(c["auto_accepted"], bool)
        assert c["auto_accepted"] == (not c["reasons"] and c["confidence"] >= 0.97)
    by_pair = {(c["kalshi_id"], c["polymarket_id"]): c for c in cands}
    assert by_pair[(BRIA_K, BRIA_P)]["reasons"] == [] and by_pair[(BRIA_K, BRIA_P)]["auto_accepted"] is True
    assert by_pair[(GCR_K, GCR_P)]["reasons"] == ["LOW_SCORE"]
    assert cands[0]["kalshi_id"] == BRIA_K  # the auto-accepted candidate comes first
    # --min-confidence and --limit cut the list
    code, out, _ = invoke("pairs", "suggest", "--demo", "--jsonl")
    default = [json.loads(line) for line in out.splitlines()]
    assert default and all(c["confidence"] >= 0.5 for c in default) and len(default) < len(cands)
    code, out, _ = invoke("pairs", "suggest", "--demo", "--jsonl", "--min-confidence", "0", "-n", "3")
    assert len(out.splitlines()) == 3
    assert not default_pairs_file().exists()  # suggesting writes nothing


def test_suggest_table_says_why() -> None:
    code, out, _ = invoke("pairs", "suggest", "--demo", "--format", "table")
    assert code == 0
    assert "passes every check" in out and "LOW_SCORE" in out
    # Found by a black-box reviewer: scan's "net edge if curated" column was shown, never filled (suggest
    # reads no books, so prices nothing; `scan --include-candidates` does).
    assert "if curated" not in out and "auto" in out


def test_suggest_accept_passing_candidate_writes_it() -> None:
    code, _, err = invoke("pairs", "suggest", "--demo", "--jsonl", "--accept", BRIA_K)
    assert code == 0, err
    [pair] = listed()
    assert (pair["kalshi"], pair["polymarket"], pair["inverted"]) == (BRIA_K, BRIA_P, False)
    assert "confidence" in pair["note"]
    [event] = audit("pairs.added")
    assert event.payload["kalshi"] == BRIA_K and event.payload["polymarket"] == BRIA_P
    # Accepting it again changes nothing and is no error (found by black-box testing: exit 2)
    before = default_pairs_file().read_bytes()
    code, _, err = invoke("pairs", "suggest", "--demo", "--accept", BRIA_K)
    assert code == 0 and "already curated; nothing changed" in err, err
    assert len(audit("pairs.added")) == 1 and default_pairs_file().read_bytes() == before


def test_suggest_accept_takes_the_ticker_in_any_case_as_pairs_add_does() -> None:
    """Found in review: `pairs add` took kxfoo for KXFOO, `suggest --accept` said there was no candidate."""
    code, _, err = invoke("pairs", "suggest", "--demo", "--jsonl", "--accept", BRIA_K.lower())
    assert code == 0, err
    assert [(p["kalshi"], p["polymarket"]) for p in listed()] == [(BRIA_K, BRIA_P)]


def test_suggest_accept_held_back_candidate_exit_6() -> None:
    code, _, err = invoke("--json", "pairs", "suggest", "--demo", "--accept", GCR_K)
    assert code == 6, err
    assert "held back" in err and "LOW_SCORE" in err and "pairs add" in err
    rec = json.loads(err.strip().splitlines()[-1])
    assert (rec["type"], rec["exit_code"], rec["reason"]) == ("error", 6, "HELD_BACK")
    assert listed() == [] and audit("pairs.added") == []


def test_suggest_holds_back_a_candidate_whose_market_has_closed_as_the_scan_does(
        redated_demo: Callable[[str], Path]) -> None:
    """Found by a black-box run: `pairs suggest` offered the World Cup pairs of data recorded after their
    Polymarket markets ended (2026-07-20) for curating; curated, their opportunities were refused by every
    `orion trade`. They are held back as MARKET_NOT_OPEN, as the scan holds them, and --accept says why, not
    "curate it with add". (The demo itself, recorded in May 2026, has them open: it is judged at its own time.)"""
    pt_k, pt_p = "KXMENWORLDCUP-26-PT", "0x4f3421fb2daf5cca7430ed8d8132463963081572d75434393a1808fdb8829fe8"
    snap = str(redated_demo("2026-08-01T00:00:00Z"))

    def suggested(*data: str) -> dict[str, Any]:
        code, out, err = invoke("pairs", "suggest", *data, "--min-confidence", "0", "--limit", "500", "--jsonl")
        assert code == 0, err
        [pt] = [c for c in map(json.loads, out.splitlines()) if (c["kalshi_id"], c["polymarket_id"]) == (pt_k, pt_p)]
        return pt

    assert "MARKET_NOT_OPEN" not in suggested("--demo")["reasons"]
    pt = suggested("--snapshot", snap)
    assert "MARKET_NOT_OPEN" in pt["reasons"] and pt["auto_accepted"] is False
    assert f"MARKET_NOT_OPEN: market {pt_p} closed at 2026-07-20T00:00:00.000000Z" in pt["detail"]["why"]
    code, _, err = invoke("--json", "pairs", "suggest", "--snapshot", snap, "--accept", pt_k)
    assert code == 6, err
    assert f"held back (MARKET_NOT_OPEN): market {pt_p} closed at 2026-07-20T00:00:00.000000Z" in err
    assert "pairs add" not in err and listed() == []


def _bria_candidate(out: str) -> dict[str, Any]:
    [bria] = [c for c in map(json.loads, out.splitlines()) if (c["kalshi_id"], c["polymarket_id"]) == (BRIA_K, BRIA_P)]
    return bria


def test_suggest_holds_back_a_candidate_for_a_market_curated_with_another_kalshi_market() -> None:
    """Found by black-box testing: with GCR curated direct with BRIA's Polymarket market, `pairs suggest`
    showed BRIA's candidate as "auto", though the scan holds it back as CURATED_ELSEWHERE (curated wins)
    and `--accept` refused it. It is shown held back, with the scan's reason code, and --accept says so."""
    assert invoke("pairs", "add", GCR_K, BRIA_P)[0] == 0
    code, out, err = invoke("pairs", "suggest", "--demo", "--jsonl")
    assert code == 0, err
    bria = _bria_candidate(out)
    assert (bria["reasons"], bria["auto_accepted"]) == (["CURATED_ELSEWHERE"], False)
    assert f"polymarket {BRIA_P} is curated direct with kalshi {GCR_K}" in bria["detail"]["why"]
    code, out, _ = invoke("pairs", "suggest", "--demo", "--format", "table", env={"COLUMNS": "250"})
    [row] = [line for line in out.splitlines() if BRIA_K in line]
    assert "CURATED_ELSEWHERE" in row and "passes every check" not in row
    before = default_pairs_file().read_bytes()
    code, _, err = invoke("--json", "pairs", "suggest", "--demo", "--accept", BRIA_K)
    assert code == 6, err
    rec = json.loads(err.strip().splitlines()[-1])
    assert (rec["exit_code"], rec["reason"]) == (6, "HELD_BACK")
    assert "(CURATED_ELSEWHERE)" in rec["message"]
    assert f"direct (not inverted) with Kalshi market {GCR_K}" in rec["message"]
    assert f"orion pairs remove {GCR_K}" in err
    assert default_pairs_file().read_bytes() == before and len(audit("pairs.added")) == 1
    # Curated the other way round (the other outcome of a two-outcome market), it claims no direct pair.
    assert invoke("pairs", "remove", GCR_K)[0] == 0
    assert invoke("pairs", "add", GCR_K, BRIA_P, "--inverted")[0] == 0
    code, out, _ = invoke("pairs", "suggest", "--demo", "--jsonl")
    bria = _bria_candidate(out)
    assert (bria["reasons"], bria["auto_accepted"]) == ([], True)


def test_suggest_holds_back_a_candidate_for_a_market_a_curated_pair_names_by_its_yes_token() -> None:
    """As the scan does: a hand-edited (or older) file names the market by its YES token id."""
    default_pairs_file().write_text(f'[[pair]]\nkalshi = "{GCR_K}"\npolymarket = "{BRIA_YES}"\n')
    code, out, err = invoke("pairs", "suggest", "--demo", "--jsonl")
    assert code == 0, err
    bria = _bria_candidate(out)
    assert (bria["reasons"], bria["auto_accepted"]) == (["CURATED_ELSEWHERE"], False)
    code, _, err = invoke("pairs", "suggest", "--demo", "--accept", BRIA_K)
    assert code == 6 and f"orion pairs remove {GCR_K}" in err, err


def test_suggest_accept_unknown_ticker_exit_2() -> None:
    code, _, err = invoke("pairs", "suggest", "--demo", "--accept", "KXNOSUCH-99")
    assert code == 2 and "KXNOSUCH-99" in err
    assert listed() == [] and audit("pairs.added") == []


def test_suggest_bad_pairs_file_exit_3_on_accept() -> None:
    default_pairs_file().write_text("[[pair]\n")
    code, _, err = invoke("pairs", "suggest", "--demo", "--accept", BRIA_K)
    assert code == 3 and "line 1, column" in err
    assert audit("pairs.added") == []


def test_a_pasted_blob_for_a_market_id_is_cut_in_the_message_with_its_length() -> None:
    """A page pasted where an id goes is refused for its length; printing it back whole (the id is shown
    whole so a lost digit can be seen) would bury the message under it, so past 200 characters the
    message shows its start and how long it is."""
    blob = "KX" + "A" * 5000
    code, out, err = invoke("pairs", "add", blob, BRIA_P)
    assert code == 2 and out == "", err
    assert "(5002 characters)" in err and "it is 5002 characters long" in err, err
    assert blob not in err and len(err) < 1000, err


def test_a_linked_pairs_file_is_changed_through_the_link(tmp_path: Path) -> None:
    """Found in review: with $ORION_HOME/pairs.toml a link to a shared file, `pairs add` replaced the link
    with a file of its own and the shared file, which other orions read, never got the pair."""
    shared = tmp_path / "shared" / "pairs.toml"
    shared.parent.mkdir()
    shared.write_text("# shared by the team\n")
    default_pairs_file().parent.mkdir(parents=True, exist_ok=True)
    default_pairs_file().symlink_to(shared)
    code, _, err = invoke("pairs", "add", BRIA_K, BRIA_P, "--demo")
    assert code == 0, err
    assert default_pairs_file().is_symlink()
    assert shared.read_text().startswith("# shared by the team\n")
    assert [p["kalshi"] for p in tomllib.loads(shared.read_text())["pair"]] == [BRIA_K]
    assert invoke("pairs", "remove", BRIA_K)[0] == 0
    assert default_pairs_file().is_symlink() and "pair" not in tomllib.loads(shared.read_text())


@pytest.mark.parametrize("command", [*_READERS, ("pairs", "remove", BRIA_K)])
def test_a_link_to_nothing_or_a_configured_file_not_there_is_exit_3_never_no_curated_pairs(
        command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: a dangling pairs.toml link, or ORION__MATCHING__PAIRS_FILE=/nonexistent/x.toml, was
    read as "no curated pairs" by `pairs list` and `scan` (the curated pairs' polarity and CURATED_ELSEWHERE
    hold-backs silently gone), and `pairs add` replaced the link with a file of its own."""
    link = default_pairs_file()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(tmp_path / "unmounted" / "pairs.toml")
    code, _, err = invoke(*command)
    assert code == 3, (command, err)
    assert f"{link}: cannot read pairs file: it is a symbolic link to {tmp_path}/unmounted/pairs.toml" in err
    assert link.is_symlink() and not (tmp_path / "unmounted").exists()
    configured = tmp_path / "nonexistent" / "x.toml"
    monkeypatch.setenv("ORION__MATCHING__PAIRS_FILE", str(configured))
    code, _, err = invoke(*command)
    if command[:2] == ("pairs", "add"):  # a mistyped directory is refused, never made (as a ledger's is)
        assert code == 3 and f"directory {configured.parent} does not exist" in err, err
        assert "storage_missing" in invoke(*command, "--json")[2]
    else:
        assert code == 3 and f"{configured}: pairs file not found (matching.pairs_file names it)" in err, err
    assert not configured.parent.exists() and audit("pairs.added", "pairs.removed") == []


def test_pairs_add_starts_the_file_matching_pairs_file_names_in_a_directory_that_exists(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = tmp_path / "team" / "pairs.toml"
    configured.parent.mkdir()
    monkeypatch.setenv("ORION__MATCHING__PAIRS_FILE", str(configured))
    assert invoke("pairs", "list")[0] == 3  # not there yet: said, not taken for "none"
    assert invoke("pairs", "add", BRIA_K, BRIA_P)[0] == 0
    assert [p["kalshi"] for p in listed()] == [BRIA_K] and not default_pairs_file().exists()
