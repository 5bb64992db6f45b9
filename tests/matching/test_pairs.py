"""The curated pairs file: round trip, clear errors, atomic writes, and what is tradable."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from orion_cli.core.errors import ConfigError, NotFound, UsageError
from orion_cli.matching import CuratedPair, MatchCandidate, add_pair, list_pairs, load_pairs, remove_pair, save_pairs
from orion_cli.matching.pairs import (
    CURATED_ELSEWHERE,
    NOT_MATCHED,
    POLARITY_CONFLICT,
    AlreadyCurated,
    hold_back_for_curated,
    tradable_pairs,
)

LAL = CuratedPair("KXNBAGAME-26JAN09MILLAL-LAL", "0x" + "f0" * 32, True, "Lakers = 2nd outcome",
                  datetime(2026, 1, 9, 15, 57, 40, tzinfo=UTC))
MIL = CuratedPair("KXNBAGAME-26JAN09MILLAL-MIL", "1034390102535119817", False, "by YES token")


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    assert load_pairs(path) == []
    save_pairs(path, [LAL, MIL])
    assert load_pairs(path) == [LAL, MIL]
    added = add_pair(path, CuratedPair("KXUPONLY-01-GCR", "0x" + "27" * 32))
    assert added.added_at is not None and added.added_at.tzinfo is not None
    assert [p.kalshi for p in list_pairs(path)] == [LAL.kalshi, MIL.kalshi, "KXUPONLY-01-GCR"]
    assert remove_pair(path, MIL.kalshi) == MIL
    assert load_pairs(path) == [LAL, added]
    assert "[[pair]]" in path.read_text()


def test_bad_toml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    path.write_text('[[pair]]\nkalshi = "A"\npolymarket = "0xabc\ninverted = false\n')
    with pytest.raises(ConfigError) as exc:
        load_pairs(path)
    assert "line 3, column" in str(exc.value) and str(path) in str(exc.value)


@pytest.mark.parametrize("nested", ["[" * 600 + "]" * 600, "{a = " * 600 + "1" + "}" * 600])
@pytest.mark.usefixtures("default_recursion_limit")
def test_a_file_nested_too_deeply_for_the_parser_is_invalid_toml(tmp_path: Path, nested: str) -> None:
    """Found by a black-box audit: tomllib's RecursionError was an internal error (exit 1) for `pairs list`,
    `pairs add` and `scan`."""
    path = tmp_path / "pairs.toml"
    path.write_text(f'[[pair]]\nkalshi = "A"\npolymarket = "0xabc"\nnote = {nested}\n')
    for read in (lambda: load_pairs(path), lambda: add_pair(path, MIL), lambda: remove_pair(path, "A")):
        with pytest.raises(ConfigError) as exc:
            read()
        assert exc.value.message == f"{path}: invalid TOML: arrays or inline tables nested too deeply"
        assert exc.value.exit_code == 3


@pytest.mark.timeout(30)
def test_a_pairs_file_every_user_may_write_is_refused(tmp_path: Path) -> None:
    """The pairs it lists are what orion trades: another local user could add one to a world-writable file
    (as to a config file, found reviewing the files on disk)."""
    path = tmp_path / "pairs.toml"
    save_pairs(path, [LAL])
    path.chmod(0o666)
    with pytest.raises(ConfigError) as exc:
        load_pairs(path)
    assert exc.value.reason == "config_unsafe" and exc.value.hint == f"chmod o-w {path}", exc.value
    path.chmod(0o644)
    assert load_pairs(path) == [LAL]


def test_a_device_or_a_named_pipe_as_the_pairs_file_is_refused_unread(tmp_path: Path) -> None:
    """Found by a black-box audit: matching.pairs_file = "/dev/zero" read until memory ran out, and a named
    pipe waited for a writer. /dev/null here (read only: an add would rename a file over it), which ended
    and was read as a file without pairs."""
    import os

    (tmp_path / "pipe").mkdir()
    fifo = tmp_path / "pipe" / "pairs.toml"
    os.mkfifo(fifo)
    expected = "cannot read pairs file: not a regular file (a device, FIFO or socket)"
    with pytest.raises(ConfigError, match=r"^/dev/null: " + re.escape(expected)):
        load_pairs(Path("/dev/null"))
    for change in (load_pairs, lambda p: add_pair(p, MIL), lambda p: remove_pair(p, MIL.kalshi)):
        with pytest.raises(ConfigError) as exc:
            change(fifo)
        assert exc.value.message == f"{fifo}: {expected}" and exc.value.exit_code == 3
    assert list(fifo.parent.iterdir()) == [fifo] and not fifo.is_file()  # no lock file made next to it


def test_a_pairs_file_above_16_mib_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    save_pairs(path, [LAL])
    with path.open("r+b") as fh:  # sparse: the padding is never written, and is not read
        fh.truncate(16 * 1024 * 1024 + 1)
    with pytest.raises(ConfigError) as exc:
        load_pairs(path)
    assert exc.value.message == f"{path}: cannot read pairs file: larger than 16 MiB (16777217 bytes)"


C1, C2 = "0x" + "01" * 32, "0x" + "02" * 32  # condition ids


def test_bad_entry_names_entry_and_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    path.write_text(f'[[pair]]\nkalshi = "A"\npolymarket = "{C1}"\n\n[[pair]]\nkalshi = "B"\npolymarket = "{C2}"\n'
                    'inverted = "yes"\n')
    with pytest.raises(ConfigError, match=r"pair #2 \(line 5\): 'inverted' must be true or false"):
        load_pairs(path)
    path.write_text('[[pair]]\nkalshi = "A"\n')
    with pytest.raises(ConfigError, match=r"pair #1 \(line 1\): 'polymarket' must be a non-empty string"):
        load_pairs(path)
    path.write_text(f'[[pair]]\nkalshi = "A"\npolymarket = "{C1}"\nsided = 1\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_pairs(path)


def test_duplicate_entry(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    path.write_text(f'[[pair]]\nkalshi = "A"\npolymarket = "{C1}"\n[[pair]]\nkalshi = "A"\npolymarket = "{C2}"\n')
    with pytest.raises(ConfigError, match=r"pair #2 \(line 4\): duplicate of pair #1 \(line 1\)"):
        load_pairs(path)
    save_pairs(path, [LAL])
    with pytest.raises(UsageError, match="already paired"):
        add_pair(path, CuratedPair(LAL.kalshi, "0x" + "11" * 32))
    assert load_pairs(path) == [LAL]


def test_a_polymarket_market_pairs_with_one_kalshi_market_each_way(tmp_path: Path) -> None:
    """Found by a black-box audit: `pairs add` took one Polymarket market for any number of Kalshi
    tickers, so the scan priced two "same" bets against one Polymarket book."""
    path = tmp_path / "pairs.toml"
    game = "0x" + "f0" * 32
    add_pair(path, CuratedPair("KXNBAGAME-26JAN09MILLAL-MIL", game))
    before = path.read_bytes()
    for other in (game, game.upper().replace("0X", "0x")):  # the same condition id, in any case
        with pytest.raises(UsageError, match="already paired direct") as info:
            add_pair(path, CuratedPair("KXNBAGAME-26JAN09MILLAL-MILX", other))
        assert "with Kalshi market KXNBAGAME-26JAN09MILLAL-MIL:" in str(info.value)  # names the pair in the way
        assert "orion pairs remove KXNBAGAME-26JAN09MILLAL-MIL" in (info.value.hint or "")
    assert path.read_bytes() == before
    # The other team of the game is the same Polymarket market the other way round: allowed, once.
    add_pair(path, CuratedPair("KXNBAGAME-26JAN09MILLAL-LAL", game, inverted=True))
    with pytest.raises(UsageError, match="already paired inverted with Kalshi market KXNBAGAME-26JAN09MILLAL-LAL"):
        add_pair(path, CuratedPair("KXNBAGAME-26JAN09MILLAL-LALX", game, inverted=True))
    assert [(p.kalshi, p.inverted) for p in load_pairs(path)] == [("KXNBAGAME-26JAN09MILLAL-MIL", False),
                                                                  ("KXNBAGAME-26JAN09MILLAL-LAL", True)]
    # Removing the pair in the way lets its replacement in.
    remove_pair(path, "KXNBAGAME-26JAN09MILLAL-MIL")
    add_pair(path, CuratedPair("KXNBAGAME-26JAN09MILLAL-MILX", game))


@pytest.mark.parametrize("inverted", [False, True])
def test_a_file_pairing_a_polymarket_market_twice_the_same_way_is_a_config_error(tmp_path: Path,
                                                                                 inverted: bool) -> None:
    """Found by a black-box audit: `add` refuses a second Kalshi market on a Polymarket market the same
    way round, but a hand-edited file holding two was read silently and the scan priced both against the
    one Polymarket book. As a duplicate Kalshi ticker is: an error naming the file and both entries."""
    path = tmp_path / "pairs.toml"
    flag = "true" if inverted else "false"
    game = "0x" + "ab" * 32
    path.write_text(f'[[pair]]\nkalshi = "A"\npolymarket = "{game}"\ninverted = {flag}\n\n'
                    f'[[pair]]\nkalshi = "B"\npolymarket = "{C2}"\n\n'
                    f'[[pair]]\nkalshi = "C"\npolymarket = "0x{game[2:].upper()}"\ninverted = {flag}\n')
    with pytest.raises(ConfigError) as info:
        load_pairs(path)
    message = str(info.value)
    assert message.startswith(f"{path}: pair #3 (line 10): Polymarket market {game} is paired")
    assert "pair #1 (line 1) with A" in message and "with Kalshi market C" in message
    assert ("inverted here" if inverted else "direct (not inverted) here") in message
    assert "keep one of the two entries" in (info.value.hint or "")
    with pytest.raises(ConfigError):  # nothing is added to such a file either
        add_pair(path, CuratedPair("D", "0x" + "03" * 32))
    # Once each way is a two-outcome market's two Kalshi markets: allowed.
    path.write_text(f'[[pair]]\nkalshi = "A"\npolymarket = "{C1}"\n[[pair]]\nkalshi = "C"\npolymarket = "{C1}"\n'
                    'inverted = true\n')
    assert [(p.kalshi, p.inverted) for p in load_pairs(path)] == [("A", False), ("C", True)]


def test_a_yes_token_id_is_held_to_its_market(tmp_path: Path) -> None:
    """Found by a black-box audit: a Polymarket market named by its YES token id slipped past the rule of
    one Kalshi market each way. With ``look_up`` the token is its market: stored, and compared, as it."""
    path = tmp_path / "pairs.toml"
    game = "0x" + "f0" * 32
    markets = {"1111": game, "2222": "0x" + "f1" * 32}
    asked: list[str] = []

    def look_up(token: str) -> str:
        asked.append(token)
        return markets[token].upper().replace("0X", "0x")  # in any case: stored as the venue writes it

    add_pair(path, CuratedPair("KXMIL", game), look_up=look_up)
    assert asked == []  # a condition id needs no look-up
    with pytest.raises(UsageError, match=re.escape(f"market {game} (the market of YES token 1111) is already "
                                                   "paired direct")):
        add_pair(path, CuratedPair("KXMILX", "1111"), look_up=look_up)
    added = add_pair(path, CuratedPair("KXLAL", "1111", inverted=True), look_up=look_up)
    assert added.polymarket == game and load_pairs(path)[-1].polymarket == game
    with pytest.raises(AlreadyCurated):
        add_pair(path, CuratedPair("KXLAL", "1111", inverted=True), look_up=look_up)
    # An entry that names the token itself (hand-edited, or written before) is that market too.
    path.write_text('[[pair]]\nkalshi = "KXOLD"\npolymarket = "2222"\n')
    with pytest.raises(UsageError, match=r"already paired direct .* with Kalshi market KXOLD"):
        add_pair(path, CuratedPair("KXNEW", "2222"), look_up=look_up)
    with pytest.raises(UsageError, match="not a condition id"):  # a look-up's answer is checked, never stored blind
        add_pair(path, CuratedPair("KXNEW", "3333"), look_up=lambda token: "3333")
    assert [p.kalshi for p in load_pairs(path)] == ["KXOLD"]


@pytest.mark.parametrize(("kalshi", "polymarket", "named"), [
    ("KXUPONLY-01-BRIA", "0x18682f5c…087d", "polymarket"),  # an id shortened for display, pasted
    ("KXUPONLY-01-BRIA", "0x" + "ab" * 31, "polymarket"),
    ("Will Bria win?", "0x" + "ab" * 32, "kalshi"),
])
def test_ids_that_cannot_name_a_market_are_refused_on_add(tmp_path: Path, kalshi: str, polymarket: str,
                                                           named: str) -> None:
    """Found in review: the help's own example (an id with a literal "…") was stored, and matched nothing.
    A file that already holds one still loads (a reviewer found that refusing it on load left no way to
    `pairs remove` it), and the pair can be removed."""
    path = tmp_path / "pairs.toml"
    with pytest.raises(UsageError, match=f"^{named} "):
        add_pair(path, CuratedPair(kalshi, polymarket))
    assert not path.exists()
    path.write_text(f'[[pair]]\nkalshi = "{kalshi}"\npolymarket = "{polymarket}"\n', encoding="utf-8")
    assert [p.kalshi for p in load_pairs(path)] == [kalshi.upper()]
    remove_pair(path, kalshi)
    assert load_pairs(path) == []
    add_pair(tmp_path / "ok.toml", CuratedPair("KXUPONLY-01-BRIA", "1234567890"))  # a YES token id is fine


def test_remove_missing_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    save_pairs(path, [LAL])
    with pytest.raises(NotFound, match="no curated pair KXNOPE"):
        remove_pair(path, "KXNOPE")
    with pytest.raises(NotFound):
        remove_pair(path, LAL.kalshi, "0xother")
    assert load_pairs(path) == [LAL]


def test_remove_by_the_other_kind_of_id_than_the_file_holds_names_the_one_to_give(tmp_path: Path) -> None:
    """A token id for a pair held by condition id (as `pairs add` stores one added by token), or a
    condition id for one held by token id (hand-edited): the market data to match them is not at hand."""
    path = tmp_path / "pairs.toml"
    save_pairs(path, [LAL, MIL])
    before = path.read_bytes()
    with pytest.raises(UsageError, match=f"stored with Polymarket condition id {LAL.polymarket}: give that id, "
                                         "not token id 123") as exc:
        remove_pair(path, LAL.kalshi, "123")
    assert exc.value.hint is not None and f"orion pairs remove {LAL.kalshi} {LAL.polymarket}" in exc.value.hint
    with pytest.raises(UsageError, match=f"stored with Polymarket token id {MIL.polymarket}: give that id, "
                                         f"not condition id 0x{'ab' * 32}"):
        remove_pair(path, MIL.kalshi, "0x" + "AB" * 32)
    with pytest.raises(NotFound):  # the same kind of id, another market: there is no such pair
        remove_pair(path, MIL.kalshi, "123")
    with pytest.raises(NotFound):  # not an id at all
        remove_pair(path, LAL.kalshi, "Lakers")
    assert path.read_bytes() == before
    assert remove_pair(path, LAL.kalshi, LAL.polymarket) == LAL


def test_around_write_is_entered_for_a_change_that_goes_ahead_only_and_the_write_is_inside_it(
        tmp_path: Path) -> None:
    """`orion pairs` creates a missing ledger there: a refused change (a bad id, a pair in the way, the
    same pair again, no such pair) must not enter it (found by black-box testing: a refused `pairs add`
    created a ledger at a mistyped path). One that goes ahead is written inside it, so the audit event
    appended there is committed after the write (found by a crash review: a process killed between the
    write and the event's own transaction left the change unaudited), and a failed write leaves it."""
    path = tmp_path / "pairs.toml"
    save_pairs(path, [LAL])
    before = path.read_bytes()
    seen: list[tuple[CuratedPair, bytes, bytes, str]] = []  # the pair, the file on entering and on leaving, how

    @contextlib.contextmanager
    def note(pair: CuratedPair) -> Iterator[None]:
        entered = path.read_bytes()
        try:
            yield
        except BaseException as exc:
            seen.append((pair, entered, path.read_bytes(), type(exc).__name__))
            raise
        seen.append((pair, entered, path.read_bytes(), "ok"))

    for refused in (lambda: add_pair(path, CuratedPair("KXFOO-1", "0xabc"), around_write=note),
                    lambda: add_pair(path, CuratedPair(LAL.kalshi, "0x" + "11" * 32), around_write=note),
                    lambda: add_pair(path, LAL, around_write=note),
                    lambda: remove_pair(path, "KXNOPE-1", around_write=note)):
        with pytest.raises((UsageError, NotFound)):  # AlreadyCurated is a UsageError
            refused()
    assert seen == []

    @contextlib.contextmanager
    def refuse(pair: CuratedPair) -> Iterator[None]:
        raise ConfigError("the ledger cannot be created")
        yield

    for change in (lambda: add_pair(path, CuratedPair(MIL.kalshi, MIL.polymarket), around_write=refuse),
                   lambda: remove_pair(path, LAL.kalshi, around_write=refuse)):
        with pytest.raises(ConfigError, match="cannot be created"):
            change()
        assert path.read_bytes() == before
    added = add_pair(path, CuratedPair(MIL.kalshi, MIL.polymarket), around_write=note)
    after_add = path.read_bytes()
    removed = remove_pair(path, LAL.kalshi, around_write=note)
    assert seen == [(added, before, after_add, "ok"), (removed, after_add, path.read_bytes(), "ok")]
    assert added.added_at is not None and removed == LAL and after_add != before

    # Leaving it fails once the file is written (the event's commit failed): the file is put back as it was,
    # not left holding a change the audit log never names (found reviewing the change itself).
    @contextlib.contextmanager
    def commit_fails(pair: CuratedPair) -> Iterator[None]:
        yield
        raise ConfigError("database error: disk I/O error (test)")

    kept = path.read_bytes()
    for change in (lambda: add_pair(path, CuratedPair(LAL.kalshi, LAL.polymarket), around_write=commit_fails),
                   lambda: remove_pair(path, MIL.kalshi, around_write=commit_fails)):
        with pytest.raises(ConfigError, match="disk I/O error"):
            change()
        assert path.read_bytes() == kept

    # A write that fails is seen failing inside it (where the event is rolled back), the file as it was.
    seen.clear()
    with mock.patch("orion_cli.matching.pairs.replace_file", side_effect=OSError(28, "No space left on device")):
        with pytest.raises(ConfigError):
            add_pair(path, CuratedPair(LAL.kalshi, LAL.polymarket), around_write=note)
    assert [(p.kalshi, how) for p, _, _, how in seen] == [(LAL.kalshi, "ConfigError")]
    assert path.read_bytes() == seen[0][1]


def test_a_refused_change_leaves_no_file_behind(tmp_path: Path) -> None:
    """Found by black-box testing: a refused `pairs remove` (no such pair) at a mistyped ORION_HOME made
    the directory and left `pairs.toml.lock` in it, and a refused remove or add left the lock file
    next to an existing pairs file. A change is refused before the lock is taken."""
    missing = tmp_path / "mistyped-home" / "pairs.toml"
    with pytest.raises(NotFound):
        remove_pair(missing, "KXNOPE-1")
    assert not missing.parent.exists()
    home = tmp_path / "home"
    path = home / "pairs.toml"
    save_pairs(path, [LAL, MIL])
    for refused in (lambda: remove_pair(path, "KXNOPE-1"),
                    lambda: remove_pair(path, LAL.kalshi, "123"),  # the other kind of id than the file holds
                    lambda: add_pair(path, CuratedPair(LAL.kalshi, "0x" + "11" * 32)),  # the ticker is paired
                    lambda: add_pair(path, CuratedPair("KXOTHER-1", LAL.polymarket, True)),  # so is the market
                    lambda: add_pair(path, LAL)):  # the very pair: nothing to add
        with pytest.raises((UsageError, NotFound)):
            refused()
        assert [p.name for p in home.iterdir()] == ["pairs.toml"]


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cfg" / "pairs.toml"
    save_pairs(path, [LAL])
    before = path.read_bytes()
    calls: list[str] = []

    def boom(self: Path, target: Path) -> Path:
        calls.append(str(target))
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", boom)
    # Said as a configuration error naming the file (exit 3); as a bare OSError it reached the CLI's
    # boundary, which took it for stdout's ("could not write the output") or an internal error.
    with pytest.raises(ConfigError, match=r"cannot write the pairs file .*disk full; it is as it was") as info:
        add_pair(path, MIL)
    assert info.value.reason == "pairs_unwritable"
    assert calls == [str(path)]
    assert path.read_bytes() == before
    # no temp file left behind (the writers' lock file stays, as filelock leaves it)
    assert sorted(p.name for p in path.parent.iterdir()) == ["pairs.toml", "pairs.toml.lock"]


def test_atomic_write_fsyncs_before_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    events: list[str] = []
    real_fsync, real_replace = os.fsync, Path.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(Path, "replace", lambda self, t: (events.append("rename"), real_replace(self, t))[1])
    save_pairs(tmp_path / "pairs.toml", [LAL])
    assert events[:2] == ["fsync", "rename"]


def _cand(k: str, p: str, inverted: bool, conf: float, reasons: tuple[str, ...] = ()) -> MatchCandidate:
    return MatchCandidate(k, p, inverted, conf, reasons, 90.0, {"yes_token": "tok-" + p})


def test_tradable_pairs() -> None:
    cands = [
        _cand("K1", "0xP1", False, 0.97),  # auto
        _cand("K2", "0xP2", False, 0.85, ("LOW_SCORE",)),  # below threshold
        _cand("K3", "0xP3", True, 0.99, ("DATE_MISMATCH",)),  # failing check: never auto
        _cand("K4", "0xP4", False, 0.95, ("CLOSE_TIME_GAP",)),  # curated below, shown with reason
        _cand("K5", "0xP5", False, 0.96),
    ]
    curated = [
        CuratedPair("K4", "0xP4", False),
        CuratedPair("K5", "tok-0xP5", True),  # by YES token; polarity disagrees with the matcher
        CuratedPair("K9", "0xP9", False),
    ]
    out = {t.kalshi_id: t for t in tradable_pairs(curated, cands, 0.9)}
    assert set(out) == {"K1", "K4", "K5", "K9"}
    assert out["K1"].source == "auto" and out["K1"].reasons == ()
    assert out["K4"].source == "curated" and out["K4"].reasons == ("CLOSE_TIME_GAP",)
    assert out["K5"].polymarket_id == "0xP5" and out["K5"].inverted is True
    assert out["K5"].reasons == (POLARITY_CONFLICT,)
    assert out["K9"].reasons == (NOT_MATCHED,)
    assert {t.kalshi_id for t in tradable_pairs([], cands, 0.96)} == {"K1", "K5"}


@pytest.mark.parametrize("held", ["ENTITY_MISMATCH", "SUBJECT_SWAPPED", "OPPOSITE_PROPOSITION", "THRESHOLD_MISMATCH",
                                  "DIRECTION_MISMATCH", "PROPOSITION_MISMATCH", "MARKET_KIND_MISMATCH",
                                  "SCALAR_VS_BINARY"])
def test_no_polarity_conflict_where_the_matcher_read_no_polarity(held: str) -> None:
    """A candidate held back because its subjects, propositions, strikes or directions disagree has no
    polarity read (its ``inverted`` is the default): a curated pair against it is not "read as direct"."""
    cands = [_cand("K1", "0xP1", False, 0.4, (held,)), _cand("K2", "0xP2", False, 0.4, ("DATE_MISMATCH", "LOW_SCORE"))]
    out = {t.kalshi_id: t for t in tradable_pairs([CuratedPair("K1", "0xP1", True), CuratedPair("K2", "0xP2", True)],
                                                  cands, 0.9)}
    assert out["K1"].reasons == (held,)
    assert out["K2"].reasons == ("DATE_MISMATCH", "LOW_SCORE", POLARITY_CONFLICT)  # the subjects agreed there


def test_a_curated_polymarket_market_is_not_auto_accepted_again_the_same_way_round() -> None:
    """Found by a black-box audit: a Polymarket market curated with one Kalshi market was auto-accepted,
    the same way round, with another, and the scan priced both against the one book. Curated wins."""
    cands = [
        _cand("K1", "0xP1", False, 0.97),  # P1 is curated direct with K7 below: held back
        _cand("K2", "0xP1", True, 0.97),  # the other way round: P1's other outcome, still auto
        _cand("K3", "0xP3", False, 0.97),  # P3 is curated by its YES token: held back all the same
        _cand("K4", "0xP4", False, 0.97),  # P4 curated by a YES token only ``market_of`` knows
        _cand("K7", "0xP1", False, 0.80, ("LOW_SCORE",)),
    ]
    curated = [CuratedPair("K7", "0xP1"), CuratedPair("K8", "tok-0xP3"), CuratedPair("K9", "t4")]
    out = {t.kalshi_id: t for t in tradable_pairs(curated, cands, 0.9, {"t4": "0xP4"})}
    assert {k: t.source for k, t in out.items()} == {"K2": "auto", "K7": "curated", "K8": "curated",
                                                     "K9": "curated"}
    assert out["K7"].reasons == ("LOW_SCORE",)  # a curated pair's own candidate is not "curated elsewhere"
    held = {c.kalshi_id: c for c in hold_back_for_curated(curated, cands, {"t4": "0xP4"})}
    assert {k for k, c in held.items() if c.reasons == (CURATED_ELSEWHERE,)} == {"K1", "K3", "K4"}
    assert held["K1"].detail["why"] == ["polymarket 0xP1 is curated direct with kalshi K7"]
    assert held["K1"].confidence == 0.97 and held["K2"].reasons == ()


def _change_pairs(path: str, start: object, job: tuple[str, str]) -> None:
    start.wait()  # type: ignore[attr-defined]
    kalshi, polymarket = job
    if polymarket == "remove":
        remove_pair(Path(path), kalshi)
    else:
        add_pair(Path(path), CuratedPair(kalshi, polymarket))


def test_concurrent_adds_and_a_remove_are_all_kept(tmp_path: Path) -> None:
    """Found in review: parallel `orion pairs add`/`remove` each read, changed and renamed the file, so
    the last rename dropped the others' changes: pairs vanished and a removed pair came back."""
    import multiprocessing

    path = tmp_path / "pairs.toml"
    add_pair(path, CuratedPair("KXBAD-1", "424242"))
    jobs = [(f"KXR-{i}", f"300{i}") for i in range(10)] + [("KXBAD-1", "remove")]
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(len(jobs))
    procs = [ctx.Process(target=_change_pairs, args=(str(path), start, job)) for job in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * len(jobs)
    assert sorted(p.kalshi for p in load_pairs(path)) == sorted(k for k, _ in jobs[:-1])


HAND_EDITED = '''# My pairs. Checked against both rulebooks on 2026-01-09.

# Lakers game: Kalshi YES = Polymarket NO
[[pair]]
kalshi = "KXNBA-LAL"   # moneyline
polymarket = "0x''' + "a" * 64 + '''"
inverted = true

# Fed decision
[[pair]]
kalshi = "KXFED-26JAN"
polymarket = "12345"
'''


def test_add_and_remove_keep_the_operators_comments(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    path.write_text(HAND_EDITED)
    add_pair(path, CuratedPair("KXCPI-26JAN", "67890", note="cpi"))
    text = path.read_text()
    assert text.startswith(HAND_EDITED)  # everything before the new entry, byte for byte
    assert [p.kalshi for p in load_pairs(path)] == ["KXNBA-LAL", "KXFED-26JAN", "KXCPI-26JAN"]

    remove_pair(path, "KXNBA-LAL")  # its comment above and its inline comment go with it
    text = path.read_text()
    assert "Lakers" not in text and "moneyline" not in text
    assert "# My pairs. Checked against both rulebooks" in text and "# Fed decision\n[[pair]]" in text
    assert [p.kalshi for p in load_pairs(path)] == ["KXFED-26JAN", "KXCPI-26JAN"]

    remove_pair(path, "KXCPI-26JAN")  # the last entry
    assert [p.kalshi for p in load_pairs(path)] == ["KXFED-26JAN"]
    assert "# Fed decision" in path.read_text()


def test_remove_keeps_notes_after_an_entry_and_a_comment_that_opens_the_file(tmp_path: Path) -> None:
    """Found in review: a note or a commented-out entry after an entry's keys, trailing comments, and
    the operator's own comment directly above the first entry went with the removed pair."""
    path = tmp_path / "pairs.toml"
    path.write_text('# my pairs, read both rulebooks\n[[pair]]\nkalshi = "KXA"\npolymarket = "1"\n'
                    '# note: KXA resolves at noon\n\n# [[pair]]\n# kalshi = "KXOLD"\n\n'
                    '[[pair]]\nkalshi = "KXB"\npolymarket = "2"\n# trailing thought\n')
    remove_pair(path, "KXA")
    text = path.read_text()
    for kept in ("# my pairs, read both rulebooks", "# note: KXA resolves at noon", '# kalshi = "KXOLD"'):
        assert kept in text
    assert [p.kalshi for p in load_pairs(path)] == ["KXB"]
    remove_pair(path, "KXB")
    assert "# trailing thought" in path.read_text() and load_pairs(path) == []


def test_removing_a_middle_entry_leaves_no_growing_gap(tmp_path: Path) -> None:
    """Found in the final read: the blank line before and after a removed middle entry both stayed, so
    each removal left one more blank line between its neighbours."""
    path = tmp_path / "pairs.toml"
    entries = "\n".join(f'[[pair]]\nkalshi = "KX{c}"\npolymarket = "{i}"\n' for i, c in enumerate("ABCD"))
    path.write_text(f"# my pairs\n\n{entries}")
    remove_pair(path, "KXB")
    remove_pair(path, "KXC")
    text = path.read_text()
    assert "\n\n\n" not in text and '"0"\n\n[[pair]]\nkalshi = "KXD"' in text
    assert [p.kalshi for p in load_pairs(path)] == ["KXA", "KXD"]


def test_a_layout_the_line_edit_cannot_follow_is_rewritten_whole(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    path.write_text('# inline\npair = [{kalshi = "KXA", polymarket = "1"}, {kalshi = "KXB", polymarket = "2"}]\n')
    remove_pair(path, "KXA")
    assert [p.kalshi for p in load_pairs(path)] == ["KXB"]
    add_pair(path, CuratedPair("KXC", "3"))
    assert [p.kalshi for p in load_pairs(path)] == ["KXB", "KXC"]


def test_a_file_without_a_final_newline_gets_a_well_formed_entry(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    path.write_text('[[pair]]\nkalshi = "KXA"\npolymarket = "1"')
    add_pair(path, CuratedPair("KXB", "2"))
    assert [p.kalshi for p in load_pairs(path)] == ["KXA", "KXB"]


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "pairs.toml"
    path.write_bytes(b"\xff\xfe[[pair]]")
    with pytest.raises(ConfigError, match="not UTF-8"):  # was an internal error (exit 1)
        load_pairs(path)


def test_ids_typed_in_another_case_are_stored_as_the_venues_write_them(tmp_path: Path) -> None:
    """Found by a black-box run: `pairs add kxfoo 0xAB…` was stored as typed and never matched a market."""
    path = tmp_path / "pairs.toml"
    added = add_pair(path, CuratedPair(" kxnbagame-26jan09millal-lal", "0X" + "F0" * 32))
    assert (added.kalshi, added.polymarket) == (LAL.kalshi, LAL.polymarket)
    assert [(p.kalshi, p.polymarket) for p in load_pairs(path)] == [(LAL.kalshi, LAL.polymarket)]
    with pytest.raises(UsageError, match="already paired"):  # the same market in another case
        add_pair(path, CuratedPair(LAL.kalshi.lower(), "1034390102535119817"))
    assert remove_pair(path, "KXNBAGAME-26jan09MILLAL-LAL", "0x" + "F0" * 32).kalshi == LAL.kalshi
    assert load_pairs(path) == []
    # A hand-written file is read the same way.
    path.write_text(f'[[pair]]\nkalshi = "{MIL.kalshi.lower()}"\npolymarket = "0x{"AB" * 32}"\n')
    assert [(p.kalshi, p.polymarket) for p in load_pairs(path)] == [(MIL.kalshi, "0x" + "ab" * 32)]


def test_a_byte_order_mark_is_read_past_and_an_edit_keeps_the_file_well_formed(tmp_path: Path) -> None:
    """Found by a black-box run: a pairs file saved by a Windows editor (UTF-8 with a BOM) was invalid TOML."""
    path = tmp_path / "pairs.toml"
    entry = f'[[pair]]\nkalshi = "{MIL.kalshi}"\npolymarket = "{MIL.polymarket}"\n'
    path.write_bytes(b"\xef\xbb\xbf# my pairs\n" + entry.encode())
    assert [p.kalshi for p in load_pairs(path)] == [MIL.kalshi]
    add_pair(path, CuratedPair(LAL.kalshi, LAL.polymarket))
    assert [p.kalshi for p in load_pairs(path)] == [MIL.kalshi, LAL.kalshi]
    assert "# my pairs" in path.read_text(encoding="utf-8-sig")
    path.write_bytes(b"\xef\xbb\xbf# \xff\n")  # found in review: the offset counted from after the mark
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 5\)"):
        load_pairs(path)


def test_entries_that_differ_only_in_case_are_one_pair_twice_and_the_error_says_what_to_do(tmp_path: Path) -> None:
    """A file that loaded before ids were compared in upper case: now a duplicate, with the way out."""
    path = tmp_path / "pairs.toml"
    path.write_text(f'[[pair]]\nkalshi = "{MIL.kalshi.lower()}"\npolymarket = "{MIL.polymarket}"\n'
                    f'[[pair]]\nkalshi = "{MIL.kalshi}"\npolymarket = "{MIL.polymarket}"\n')
    with pytest.raises(ConfigError, match="paired twice") as info:
        load_pairs(path)
    assert "keep one of the two entries" in (info.value.hint or "")


# -- a pairs file that is a symbolic link, or that matching.pairs_file names ----------------------------


def test_a_linked_pairs_file_is_changed_through_the_link_and_keeps_its_mode(tmp_path: Path) -> None:
    """Found in review: `pairs add` renamed its new file over a link to a shared pairs file, so the link
    became a private copy and every other orion reading the shared file went on without the pair."""
    shared = tmp_path / "shared" / "pairs.toml"
    shared.parent.mkdir()
    save_pairs(shared, [LAL])
    shared.chmod(0o644)
    link = tmp_path / "home" / "pairs.toml"
    link.parent.mkdir()
    link.symlink_to(shared)
    added = add_pair(link, MIL)
    assert link.is_symlink() and load_pairs(shared) == [LAL, added]
    assert remove_pair(link, LAL.kalshi) == LAL
    assert link.is_symlink() and load_pairs(shared) == [added]
    assert (shared.stat().st_mode & 0o777) == 0o644
    assert sorted(p.name for p in shared.parent.iterdir()) == ["pairs.toml", "pairs.toml.lock"]
    assert sorted(p.name for p in link.parent.iterdir()) == ["pairs.toml"]  # no lock, no temp file beside the link


def test_the_link_and_the_pairs_file_s_own_path_take_one_lock(tmp_path: Path) -> None:
    from filelock import FileLock

    from orion_cli.matching import pairs as pairs_mod

    shared = tmp_path / "pairs.toml"
    save_pairs(shared, [LAL])
    link = tmp_path / "home" / "pairs.toml"
    link.parent.mkdir()
    link.symlink_to(shared)
    pairs_mod.PAIRS_LOCK_TIMEOUT, saved = 0.2, pairs_mod.PAIRS_LOCK_TIMEOUT
    try:
        with FileLock(str(shared) + ".lock"), pytest.raises(ConfigError, match="being changed by another"):
            add_pair(link, MIL)
    finally:
        pairs_mod.PAIRS_LOCK_TIMEOUT = saved
    assert load_pairs(shared) == [LAL]


@pytest.mark.parametrize("configured", [False, True])
def test_a_link_to_nothing_is_a_configuration_error_never_no_curated_pairs(tmp_path: Path, configured: bool) -> None:
    """Found in review: a dangling link read as "no curated pairs" (their polarity and CURATED_ELSEWHERE
    hold-backs silently gone from the scan), and `pairs add` replaced the link with a new file."""
    link = tmp_path / "pairs.toml"
    link.symlink_to(tmp_path / "unmounted" / "pairs.toml")
    for action in (lambda: load_pairs(link, configured=configured), lambda: add_pair(link, MIL, configured=configured),
                   lambda: remove_pair(link, LAL.kalshi, configured=configured)):
        with pytest.raises(ConfigError, match=r"pairs\.toml: cannot read pairs file: it is a symbolic link to "
                                              r".*unmounted/pairs\.toml, which does not exist") as info:
            action()
        assert info.value.reason == "pairs_missing"
    assert link.is_symlink() and not (tmp_path / "unmounted").exists()


def test_a_configured_pairs_file_that_is_not_there_is_an_error_the_default_one_is_empty(tmp_path: Path) -> None:
    """Found in review: ORION__MATCHING__PAIRS_FILE=/nonexistent/x.toml meant "no curated pairs" to `pairs
    list` and `scan`; `pairs add` to a mistyped directory made it (mkdir -p)."""
    missing = tmp_path / "typo" / "sub" / "pairs.toml"
    assert load_pairs(missing) == []  # the default path, not there yet
    for action in (lambda: load_pairs(missing, configured=True), lambda: remove_pair(missing, LAL.kalshi,
                                                                                         configured=True)):
        with pytest.raises(ConfigError, match=r"pairs file not found \(matching\.pairs_file names it\)") as info:
            action()
        assert info.value.reason == "pairs_missing"
    with pytest.raises(ConfigError, match=r"directory .*typo/sub does not exist; nothing was changed") as info:
        add_pair(missing, MIL, configured=True)
    assert info.value.reason == "storage_missing"
    assert not (tmp_path / "typo").exists()
    # Its directory there, `pairs add` starts the file a configured path names.
    missing.parent.mkdir(parents=True)
    added = add_pair(missing, MIL, configured=True)
    assert load_pairs(missing, configured=True) == [added]


def test_a_change_whose_commit_fails_leaves_no_file_where_there_was_none_and_says_a_failed_restore(
        tmp_path: Path) -> None:
    """Found reviewing the restore: a pairs file that did not exist was put back as an empty one, and a restore
    that failed was silent, the file left holding the change the audit log does not."""
    @contextlib.contextmanager
    def commit_fails(pair: CuratedPair) -> Iterator[None]:
        yield
        raise ConfigError("database error: disk I/O error (test)")

    path = tmp_path / "pairs.toml"
    with pytest.raises(ConfigError):
        add_pair(path, CuratedPair(LAL.kalshi, LAL.polymarket), around_write=commit_fails)
    assert not path.exists()

    save_pairs(path, [LAL])
    from orion_cli.matching import pairs as pairs_mod

    real = pairs_mod.replace_file
    calls: list[bytes] = []

    def disk_full_on_the_restore(target: Path, data: bytes, **kwargs: Any) -> Path:
        calls.append(data)
        if len(calls) == 2:  # the change went in; putting it back finds the disk full
            raise OSError(28, "No space left on device")
        return real(target, data, **kwargs)

    with mock.patch.object(pairs_mod, "replace_file", disk_full_on_the_restore):
        with pytest.raises(ConfigError) as caught:
            add_pair(path, CuratedPair(MIL.kalshi, MIL.polymarket), around_write=commit_fails)
    said = caught.value.message
    assert said.startswith("database error: disk I/O error (test); and the pairs file"), said
    assert "(No space left on device): it holds the change, which the audit log does not" in said
    assert "it is as it was" not in said  # found in review: the write's own error said so, contradicting it
