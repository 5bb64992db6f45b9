"""Snapshot files: exact round trip, versioning, gzip, clear errors, and the packaged demo set."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from venue_down_snapshot import write_venue_down_snapshot

from orion_cli.core.errors import ExitCode
from orion_cli.core.models import Venue
from orion_cli.core.money import loads_exact
from orion_cli.venues.snapshot import (
    FORMAT,
    Capture,
    KalshiRaw,
    PolymarketRaw,
    SnapshotError,
    SnapshotSource,
    demo_path,
    demo_source,
    dumps_exact,
    parse_capture,
    parse_kalshi,
    read_capture,
    write_capture,
)


def real_capture(fixtures: Path) -> Capture:
    """Real recorded responses: Kalshi demo markets + a book, Polymarket Gamma markets + a CLOB book."""
    k_markets = json.loads((fixtures / "kalshi/markets__status_open.json").read_text())["markets"]
    k_book = loads_exact((fixtures / "kalshi/orderbook__base.json").read_bytes())
    k_raw = loads_exact(json.dumps(k_markets))
    p_markets = loads_exact((fixtures / "polymarket/gamma_market_live.json").read_bytes())
    p_markets = p_markets if isinstance(p_markets, list) else [p_markets]
    p_book = loads_exact((fixtures / "paired/poly_book.json").read_bytes())
    return Capture(
        kalshi=KalshiRaw(markets=k_raw, orderbooks=[{"ticker": k_raw[0]["ticker"], **k_book}]),
        polymarket=PolymarketRaw(markets=p_markets, books=[p_book]),
        environment={"kalshi": "demo", "polymarket": "prod"},
        notes="test",
    )


@pytest.mark.parametrize("name", ["snap.json", "snap.json.gz"])
def test_round_trip_gives_equal_markets_and_books(fixtures_dir: Path, tmp_path: Path, name: str) -> None:
    cap = real_capture(fixtures_dir)
    before = parse_capture(cap)
    assert before.for_venue(Venue.KALSHI) and before.for_venue(Venue.POLYMARKET)
    assert before.books
    path = tmp_path / name
    write_capture(cap, path)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    after = parse_capture(read_capture(path))
    assert after.markets == before.markets
    assert after.books == before.books
    assert [m.fee_model for m in after.markets] == [m.fee_model for m in before.markets]
    assert read_capture(path).environment == {"kalshi": "demo", "polymarket": "prod"}
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temp file


def test_demo_round_trip(tmp_path: Path) -> None:
    cap = read_capture(demo_path())
    path = tmp_path / "again.json.gz"
    write_capture(cap, path)
    a, b = parse_capture(cap), parse_capture(read_capture(path))
    assert a.markets == b.markets and a.books == b.books
    assert read_capture(path).synthesised == cap.synthesised


def test_a_recording_removes_the_temp_file_a_killed_recording_left(tmp_path: Path) -> None:
    """Found by a crash review: `snapshot record --out F` killed before its rename left `.F.<random>.tmp`,
    up to a whole recording, beside F for good. The next recording of F removes it once it is stale."""
    import os

    from orion_cli.core.files import STALE_TEMP_SECONDS

    path = tmp_path / "s.json.gz"
    left = tmp_path / ".s.json.gz.fcd_k34u.tmp"
    left.write_bytes(b"\x1f\x8b half a recording")
    old = os.stat(left).st_mtime - STALE_TEMP_SECONDS - 1
    os.utime(left, (old, old))
    write_capture(read_capture(demo_path()), path)
    assert path.exists() and not left.exists()


def test_decimals_are_written_digit_for_digit() -> None:
    value = {"p": Decimal("0.1000000000000000055511151231257827"), "n": [Decimal("1E-7"), 5, True, None]}
    text = dumps_exact(value)
    assert text == '{"p":0.1000000000000000055511151231257827,"n":[0.0000001,5,true,null]}'
    assert loads_exact(text)["p"] == value["p"]
    # A zero without its sign, whatever its places ("-0.00" read as a loss to whoever reads the file).
    assert dumps_exact([Decimal("-0"), Decimal("-0.00"), Decimal("-1.50")]) == "[0,0.00,-1.50]"


def write_doc(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


def good_doc() -> dict[str, object]:
    return {"format": FORMAT, "version": 1, "recorded_at": "2026-06-01T00:00:00Z", "venues": {}}


def test_good_minimal_document_reads(tmp_path: Path) -> None:
    cap = read_capture(write_doc(tmp_path / "s.json", good_doc()))
    data = parse_capture(cap)
    assert data.markets == [] and set(data.degraded) == {Venue.KALSHI, Venue.POLYMARKET}


@pytest.mark.parametrize(("venues", "asked"), [
    ({}, (Venue.KALSHI, Venue.POLYMARKET)),  # neither recorded
    ({}, (Venue.KALSHI,)),
])
def test_a_snapshot_without_data_for_any_venue_asked_is_unavailable_not_empty(
        tmp_path: Path, venues: dict[str, object], asked: tuple[Venue, ...]) -> None:
    """Found in a black-box run: replaying a recording whose venues were all unavailable printed two
    contradictory "results cover the other venue only" lines and exited 0, which a cron job reads as
    "no opportunities"; the live run that recorded it exited 5."""
    import asyncio

    from orion_cli.core.errors import VenueUnavailable

    doc = {**good_doc(), "venues": venues, "degraded": {"kalshi": "timed out", "polymarket": "HTTP 503"}}
    source = SnapshotSource(write_doc(tmp_path / "down.json", doc))
    with pytest.raises(VenueUnavailable) as info:
        asyncio.run(source.fetch(asked))
    assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
    assert "timed out" in info.value.message and ("HTTP 503" in info.value.message) == (len(asked) == 2)
    assert "down.json" in (info.value.hint or "")


def test_a_snapshot_with_one_venue_is_degraded_not_unavailable(tmp_path: Path) -> None:
    import asyncio

    cap = read_capture(demo_path())
    half = tmp_path / "half.json"
    write_capture(Capture(recorded_at=cap.recorded_at, polymarket=cap.polymarket, degraded={"kalshi": "timed out"}),
                  half)
    data = asyncio.run(SnapshotSource(half).fetch())
    assert data.for_venue(Venue.POLYMARKET) and data.degraded == {Venue.KALSHI: "timed out"}


def test_a_market_on_a_venue_the_snapshot_recorded_down_is_unavailable_not_missing(tmp_path: Path) -> None:
    """Found in a black-box run: `book TICKER --venue kalshi` and `trade OP` on a recording whose Kalshi
    was down said "no market ... in snapshot" (exit 2, a mistyped id), where `markets --venue kalshi`
    on it, and the live run, say Kalshi is unavailable (exit 5); and a paper reconcile on it, not told
    the market could not be looked up, reported the held Kalshi market checked: clean."""
    import asyncio

    from orion_cli.core.errors import NotFound, VenueUnavailable

    source = SnapshotSource(write_venue_down_snapshot(tmp_path / "down.json", reason="timed out"))
    for venue in (Venue.KALSHI, None):  # named, or told by the ticker's shape as the live source does
        with pytest.raises(VenueUnavailable) as info:
            asyncio.run(source.book("KXUPONLY-01-BRIA", venue=venue))
        assert info.value.exit_code == ExitCode.VENUE_UNAVAILABLE
        assert info.value.message == "kalshi unavailable: timed out" and "down.json" in (info.value.hint or "")
    # Recorded before the reason was stored without its prefix: said once, not "kalshi unavailable: kalshi
    # unavailable: timed out" (found black-box).
    old = SnapshotSource(write_venue_down_snapshot(tmp_path / "old.json", reason="kalshi unavailable: timed out"))
    with pytest.raises(VenueUnavailable) as info:
        asyncio.run(old.book("KXUPONLY-01-BRIA"))
    assert info.value.message == "kalshi unavailable: timed out"
    market, _ = asyncio.run(source.book(PAIRS["KXUPONLY-01-BRIA"]))  # the venue recorded still answers
    assert market.venue is Venue.POLYMARKET
    with pytest.raises(NotFound):  # and a market it does not list is still a bad argument (exit 2)
        asyncio.run(source.book("no-such-market-slug", venue=Venue.POLYMARKET))
    with pytest.raises(NotFound):  # as on a recording that holds Kalshi
        asyncio.run(demo_source().book("KXNOSUCH-01", venue=Venue.KALSHI))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(version=2), "version 2 is not supported"),
        (lambda d: d.update(version="1"), "version missing or not an integer"),
        (lambda d: d.pop("version"), "version missing"),
        (lambda d: d.update(format="something-else"), "not an orion market snapshot"),
        (lambda d: d.update(recorded_at="yesterday"), "recorded_at"),
        (lambda d: d.update(venues={"kraken": {}}), "unknown venue"),
        (lambda d: d.update(venues={"kalshi": {"markets": "nope"}}), "expected a list of objects"),
    ],
)
def test_bad_documents_are_clear_errors(tmp_path: Path, mutate: object, expected: str) -> None:
    doc = good_doc()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(SnapshotError) as info:
        read_capture(write_doc(tmp_path / "s.json", doc))
    assert expected in info.value.message
    assert info.value.exit_code == ExitCode.USAGE


def test_truncated_json_and_gzip(tmp_path: Path) -> None:
    full = tmp_path / "full.json"
    write_capture(read_capture(demo_path()), full)
    text = full.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(text[: len(text) // 2])
    with pytest.raises(SnapshotError, match="truncated JSON"):
        read_capture(cut)
    gz = gzip.compress(text)
    cutgz = tmp_path / "cut.json.gz"
    cutgz.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(SnapshotError, match="truncated gzip"):
        read_capture(cutgz)
    corrupt = tmp_path / "corrupt.json.gz"
    corrupt.write_bytes(gz[:10] + b"\x00" * 50 + gz[60:])
    with pytest.raises(SnapshotError, match="gzip"):
        read_capture(corrupt)


@pytest.mark.parametrize("content", [b"", b"   ", b"\xff\xfe binary", b"[1, 2]", b"not json"])
def test_not_a_snapshot(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(SnapshotError):
        read_capture(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="not found"):
        read_capture(tmp_path / "nope.json")
    with pytest.raises(SnapshotError, match="directory"):
        read_capture(tmp_path)


def test_a_device_is_refused_unread() -> None:
    """Found by a black-box audit: `orion snapshot info /dev/zero` (and `scan --snapshot /dev/zero`) read
    the device until memory ran out (MemoryError, exit 1, or the OOM killer). /dev/null here: it ends."""
    with pytest.raises(SnapshotError) as info:
        read_capture(Path("/dev/null"))
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.message == "/dev/null: not a regular file (a device, FIFO or socket); refusing"


@pytest.mark.timeout(30)
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(SnapshotError, match="not a regular file"):
        read_capture(fifo)


@pytest.mark.parametrize("gz", [False, True])
def test_a_file_above_the_cap_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool) -> None:
    """The cap (2 GiB, as for the decompressed data) lowered to 1 KiB: a file one byte above it is refused
    by its size before anything is read, gzipped or not; one at the cap reads."""
    import orion_cli.venues.snapshot as snapshot

    monkeypatch.setattr(snapshot, "_MAX_BYTES", 1024)
    doc = json.dumps(good_doc()).encode()
    at_cap = doc + b" " * (1024 - len(doc))
    path = tmp_path / "s.json"
    path.write_bytes(at_cap)
    assert read_capture(path).recorded_at.year == 2026
    if gz:  # what it holds is within the cap; the file (the gzip member, then padding) is not
        above = gzip.compress(at_cap)
        above += b"\x00" * (1025 - len(above))
    else:
        above = at_cap + b" "
    path.write_bytes(above)
    with pytest.raises(SnapshotError) as info:
        read_capture(path)
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.message == f"{path}: larger than 1024 bytes (1025 bytes); refusing"


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.usefixtures("default_recursion_limit")
def test_json_nested_too_deeply_is_a_bad_snapshot_not_a_crash(tmp_path: Path, gz: bool) -> None:
    """Found by a black-box audit: the JSON parser's RecursionError escaped as an internal error (exit 1)."""
    text = json.dumps(good_doc())[:-1] + ', "notes": ' + "[" * 50_000 + "]" * 50_000 + "}"
    path = tmp_path / "deep.json"
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    with pytest.raises(SnapshotError) as info:
        read_capture(path)
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.message == f"{path}: JSON nested too deeply (is this a snapshot file?)"
    # Nesting the parser can follow is read (an unknown key is ignored).
    path.write_text(json.dumps(good_doc())[:-1] + ', "extra": ' + "[" * 200 + "]" * 200 + "}")
    assert read_capture(path).notes == ""


def test_one_bad_market_does_not_sink_the_snapshot(fixtures_dir: Path) -> None:
    cap = real_capture(fixtures_dir)
    assert cap.kalshi is not None
    cap.kalshi.markets[1] = {**cap.kalshi.markets[1], "close_time": "NaN-o-clock"}
    data = parse_capture(cap)
    assert any(e.kind == "market" and e.venue == "kalshi" for e in data.errors)
    assert len(data.for_venue(Venue.KALSHI)) == len(cap.kalshi.markets) - 1


_FEE_CASES = [
    ({"fee_type": "mystery", "fee_multiplier": 2}, None),  # a type orion does not know
    ({"fee_type": "flat", "fee_multiplier": 1}, None),  # the "Specific Trading Fees" table: rates not modelled
    ({"fee_type": None, "fee_multiplier": 1}, None),
    ({"fee_type": "", "fee_multiplier": 1}, None),
    ({"fee_type": "quadratic", "fee_multiplier": 1}, {"fee_type_override": "mystery"}),
    ({"fee_type": "quadratic", "fee_multiplier": 1}, {"fee_type_override": "flat", "fee_multiplier_override": 1}),
]


@pytest.mark.parametrize(("series_fee", "event_fee"), _FEE_CASES)
def test_a_market_whose_fee_cannot_be_read_is_not_priced_at_a_guess(
        fixtures_dir: Path, series_fee: dict[str, object], event_fee: dict[str, object] | None) -> None:
    """A series (or event override) whose fee type orion cannot model used to be dropped with an
    item error while its markets were priced at the default quadratic x1 (or, for "flat", at the
    quadratic formula): a fee never read, so an edge that may not be there. The markets are refused."""
    market = loads_exact((fixtures_dir / "kalshi/markets__single.json").read_bytes())["market"]
    st = market["event_ticker"].split("-")[0]
    series = {"ticker": st, "title": "S", "category": "Sports", **series_fee}
    events = [] if event_fee is None else [{"event_ticker": market["event_ticker"], "series_ticker": st,
                                            "title": "E", "mutually_exclusive": False, **event_fee}]
    markets, _, errors = parse_kalshi(KalshiRaw(series=[series], events=events, markets=[market]), datetime.now(UTC))
    assert markets == [], [m.fee_model.source for m in markets]
    assert [(e.kind, e.key) for e in errors if e.kind == "market"] == [("market", market["ticker"])], errors
    assert "fee" in next(e.message for e in errors if e.kind == "market")
    # The same market with a fee it can read is priced by it.
    good, _, errs = parse_kalshi(KalshiRaw(series=[{**series, "fee_type": "quadratic", "fee_multiplier": 2}],
                                           markets=[market]), datetime.now(UTC))
    assert errs == [] and [m.fee_model.multiplier for m in good] == [Decimal(2)]


# -- the demo set -------------------------------------------------------------------------------


def test_demo_states_recording_date_and_synthesis() -> None:
    cap = demo_source().capture()
    assert cap.recorded_at.year == 2026
    assert cap.synthesised and any("depth" in s for s in cap.synthesised)
    assert "not live" in cap.notes.lower() or "Not live" in cap.notes
    assert (Path(demo_path()).parent / "DEMO.md").is_file()


def test_demo_parses_without_errors_and_lists_both_venues() -> None:
    data = demo_source().load()
    assert not data.errors and not data.degraded
    assert len(data.for_venue(Venue.KALSHI)) >= 20 and len(data.for_venue(Venue.POLYMARKET)) >= 20
    assert all(data.book_for(m) is not None for m in data.markets)


PAIRS = {
    "KXUPONLY-01-BRIA": "will-brian-armstrong-appear-on-the-uponly-podcast-by-december-31-915",
    "KXMENWORLDCUP-26-PT": "will-portugal-win-the-2026-fifa-world-cup-912",
    "KXMENWORLDCUP-26-FR": "will-france-win-the-2026-fifa-world-cup-924",
    "KXNBA-26-NYK": "will-the-new-york-knicks-win-the-2026-nba-finals",
    "KXNHL-26-VGK": "will-the-vegas-golden-knights-win-the-2026-nhl-stanley-cup",
    "KXMAYORLA-26-SPRA": "will-spencer-pratt-win-the-2026-los-angeles-mayoral-election-983",
    "KXFOMEN-26-SIN": "will-jannik-sinner-win-the-2026-mens-french-open",
    "KXMENWORLDCUP-26-ES": "will-spain-win-the-2026-fifa-world-cup-963",
}


def best_edge(ticker: str, slug: str) -> Decimal:
    """Best top-of-book net edge per contract after both venues' exact fees."""
    data = demo_source().load()
    km = data.find_market(ticker, Venue.KALSHI)
    pm = data.find_market(slug, Venue.POLYMARKET)
    kb, pb = data.book_for(km), data.book_for(pm)
    assert kb is not None and pb is not None
    edges = []
    for a, b, fa, fb in ((kb.yes.best_ask, pb.no.best_ask, km.fee_model, pm.fee_model),
                         (pb.yes.best_ask, kb.no.best_ask, pm.fee_model, km.fee_model)):
        assert a is not None and b is not None
        size = min(a.size, b.size)
        cost = (a.price + b.price) * size + fa.fill_fee(size, a.price) + fb.fill_fee(size, b.price)
        edges.append((size - cost) / size)
    return max(edges)


def test_demo_has_profitable_and_unprofitable_pairs_after_fees() -> None:
    edges = {t: best_edge(t, s) for t, s in PAIRS.items()}
    assert edges["KXUPONLY-01-BRIA"] > Decimal("0.02")  # real quotes, profitable after fees
    losing = [t for t, e in edges.items() if e <= 0]
    assert len(losing) >= 4
    # Fees matter: the Portugal pair is under $1 before fees and not worth it after.
    data = demo_source().load()
    k = data.book_for(data.find_market("KXMENWORLDCUP-26-PT"))
    p = data.book_for(data.find_market(PAIRS["KXMENWORLDCUP-26-PT"]))
    assert k is not None and p is not None and k.yes.best_ask and p.no.best_ask
    assert k.yes.best_ask.price + p.no.best_ask.price < 1
    assert edges["KXMENWORLDCUP-26-PT"] < Decimal("0.001")
    assert edges["KXNHL-26-VGK"] < Decimal("0.01")  # under $1 before fees, below the default min_edge after


def test_demo_fee_models_are_the_venues() -> None:
    data = demo_source().load()
    k = data.find_market("KXNBA-26-NYK")
    p = data.find_market(PAIRS["KXNBA-26-NYK"])
    assert k.fee_model.kind == "kalshi" and k.fee_model.taker_rate == Decimal("0.07")
    assert p.fee_model.kind == "polymarket" and p.fee_model.taker_rate == Decimal("0.03")


def test_snapshot_source_book_lookup_by_every_reference() -> None:
    src = demo_source()
    data = src.load()
    pm = data.find_market(PAIRS["KXUPONLY-01-BRIA"])
    for ref in (pm.id, pm.yes_token, pm.no_token, PAIRS["KXUPONLY-01-BRIA"]):
        import asyncio

        market, book = asyncio.run(src.book(ref))
        assert market.id == pm.id and book.market_id == pm.id
    assert isinstance(SnapshotSource(demo_path()).name, str)


@pytest.mark.parametrize("text", [b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n", b"market,price\nK,0.4\n",
                                  b"[1, 2"])
def test_a_file_that_is_not_a_json_object_is_not_called_truncated(tmp_path: Path, text: bytes) -> None:
    """Found by black-box testing: an HTML page (a download that saved a login page) or a text file
    was reported as "truncated JSON (the file is incomplete)"."""
    path = tmp_path / "page.json"
    path.write_bytes(text)
    with pytest.raises(SnapshotError, match="not a JSON object") as info:
        read_capture(path)
    assert "truncated" not in info.value.message


def test_a_snapshot_saved_with_a_utf8_bom_still_loads(tmp_path: Path) -> None:
    """Found in the final read: the "is it a JSON object" look before parsing refused a BOM, which the
    JSON parser reads (it used to load)."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + gzip.decompress(demo_path().read_bytes()))
    assert read_capture(path).recorded_at == read_capture(demo_path()).recorded_at


@pytest.mark.parametrize("fraction", [i / 20 for i in range(1, 20)])
def test_a_snapshot_cut_anywhere_is_reported_as_truncated(tmp_path: Path, fraction: float) -> None:
    """Regression: a cut inside a string used to be reported as generic bad JSON."""
    raw = gzip.decompress(demo_path().read_bytes())
    cut = tmp_path / "cut.json"
    cut.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(SnapshotError, match="truncated JSON"):
        read_capture(cut)
