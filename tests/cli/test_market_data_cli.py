"""`orion markets`, `orion book`, `orion snapshot` through the CLI: formats, banners, exit codes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from sim.kalshi_sim import KalshiSim
from sim.polymarket_sim import PolymarketSim
from sim.server import FaultRule
from typer.testing import CliRunner
from venue_down_snapshot import DOWN_REASON, write_venue_down_snapshot

from orion_cli.cli.app import OrionGroup, root
from orion_cli.cli.commands import market_data


def build_app() -> typer.Typer:
    """The root app with these commands registered exactly as the lead registers them in app.py."""
    app = typer.Typer(cls=OrionGroup, name="orion", no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False)
    app.callback()(root)
    app.command("markets")(market_data.markets_command)
    app.command("book")(market_data.book_command)
    app.add_typer(market_data.snapshot_app, name="snapshot")
    return app


APP = build_app()
BRIA_POLY = "will-brian-armstrong-appear-on-the-uponly-podcast-by-december-31-915"


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(APP, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_markets_demo_json_has_the_minimum_fields_and_a_banner() -> None:
    code, out, err = invoke("markets", "--demo", "--json")
    assert code == 0, err
    records = json.loads(out)
    assert len(records) >= 90
    for rec in records:
        assert rec["type"] == "market"
        assert {"venue", "id", "event_id", "title", "close_time", "status"} <= set(rec)
    assert {r["venue"] for r in records} == {"kalshi", "polymarket"}
    assert "DEMO DATA" in err and "2026-05-26" in err and "synthesised" in err
    assert all(isinstance(r["yes_ask"], str | None) for r in records)  # money as decimal strings


@pytest.mark.parametrize("which", ["demo", "snapshot"])
def test_the_synthesised_banner_names_a_command_that_runs(which: str, tmp_path: Path) -> None:
    """Found in review: the banner pointed at `orion snapshot info` with no file, a usage error (the
    demo data's file is inside the package, where no user would look)."""
    import re
    import shlex
    import shutil

    from orion_cli.venues.snapshot import demo_path

    copy = tmp_path / "my snapshot.json.gz"  # a space: the command must quote it
    shutil.copyfile(demo_path(), copy)
    code, _, err = invoke("markets", *(["--demo"] if which == "demo" else ["--snapshot", str(copy)]), "--json")
    assert code == 0, err
    [command] = re.findall(r"details: `orion ([^`]+)`", err)
    code, out, err = invoke(*shlex.split(command), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["path"] == str(demo_path() if which == "demo" else copy) and info["synthesised"]


def test_snapshot_info_wants_one_file_or_demo() -> None:
    assert invoke("snapshot", "info")[0] == 2
    assert invoke("snapshot", "info", "x.json.gz", "--demo")[0] == 2


def test_markets_filters_and_jsonl() -> None:
    code, out, err = invoke("markets", "--demo", "--venue", "kalshi", "--search", "world cup", "--limit", "3",
                            "--jsonl")
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 3 and all(r["venue"] == "kalshi" and "World Cup" in r["title"] for r in lines)
    code, out, _ = invoke("markets", "--demo", "--category", "politics", "--json")
    assert code == 0
    # One name across venues (found in review: Kalshi's "Elections" markets were missed)
    found = {(r["venue"], r["category"].lower()) for r in json.loads(out)}
    assert {v for v, _ in found} == {"kalshi", "polymarket"}, found
    assert {c for _, c in found} <= {"politics", "elections", "us-politics"}
    # scan --category's rule, not a stricter one: a part of either venue's name finds the category on
    # both (found black-box: `elect` listed Kalshi's "Elections" only, not Polymarket's "politics")
    code, out, _ = invoke("markets", "--demo", "--category", "elect", "--json")
    assert code == 0 and {r["category"] for r in json.loads(out)} == {"Elections", "politics"}
    code, out, err = invoke("markets", "--demo", "--search", "no such market anywhere", "--format", "table")
    assert code == 0 and "no markets match" in err
    assert "selects no market" not in err  # no --category: nothing to warn about


def test_markets_warns_as_scan_does_when_the_category_selects_no_market() -> None:
    """Found by a black-box reviewer: `markets --demo --category zzz` said only "no markets match" (rc 0)
    where `scan` warns that the filter selects no market; and scan's list named Kalshi's categories only,
    not Polymarket's "culture"/"politics", which select the same markets. One warning for both commands,
    naming every name either venue uses."""
    code, _out, err = invoke("markets", "--demo", "--category", "zzz", "--format", "table")
    assert code == 0 and "no markets match" in err
    assert ("warning: --category 'zzz' selects no market in demo data set (its categories: culture, Elections, "
            "Entertainment, politics, Sports); nothing to list") in " ".join(err.split()), err
    code, _out, err = invoke("markets", "--demo", "--venue", "polymarket", "--category", "zzz", "--json")
    assert code == 0 and "(its categories: culture, politics, sports)" in " ".join(err.split()), err
    # A category that selects markets (a part of one venue's name too) and a blank one: no warning.
    for chosen in ("culture", "entert", " "):
        code, _out, err = invoke("markets", "--demo", "--category", chosen, "--json")
        assert code == 0 and "selects no market" not in err, (chosen, err)


def test_markets_table_format() -> None:
    code, out, _ = invoke("--format", "table", "markets", "--demo", "--search", "uponly")
    assert code == 0
    assert "KXUPONLY-01-BRIA" in out and "yes ask" in out


def test_book_demo_json_record() -> None:
    code, out, err = invoke("book", "KXUPONLY-01-BRIA", "--demo", "--json")
    assert code == 0, err
    rec = json.loads(out)
    assert rec["type"] == "book" and rec["venue"] == "kalshi" and rec["market"] == "KXUPONLY-01-BRIA"
    assert rec["yes"]["asks"][0] == ["0.2400", "110.00"]
    assert rec["no"]["asks"][0][0] == "0.8000"
    assert rec["fetched_at"].startswith("2026-05-26") and rec["age_seconds"] > 0
    assert "DEMO DATA" in err


def test_book_by_slug_token_and_depth() -> None:
    code, out, _ = invoke("book", BRIA_POLY, "--demo", "--depth", "1", "--json")
    assert code == 0
    rec = json.loads(out)
    assert rec["venue"] == "polymarket" and len(rec["yes"]["bids"]) == 1 and len(rec["no"]["asks"]) == 1
    assert rec["yes"]["asks"][0][0] == "0.15"
    code, out, _ = invoke("book", BRIA_POLY, "--demo", "--format", "table")
    assert code == 0 and "YES" in out and "NO" in out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke("book", "KXNOPE-1", "--demo", "--json")
    assert code == 2
    assert json.loads(err.strip().splitlines()[-1])["exit_code"] == 2
    # Found by a black-box tester: the hint's listing lacked --demo, so it would list the live venues.
    assert "hint: list markets with `orion markets --demo --search TEXT`" in err, err
    assert invoke("markets", "--demo", "--snapshot", str(tmp_path / "x.json"))[0] == 2
    code, _, err = invoke("markets", "--demo", "--venue", "kraken")
    assert code == 2  # found black-box: without the `hint:` line other usage errors carry
    assert err.splitlines()[1] == "hint: --venue takes kalshi, polymarket or all (the default: both)", err
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "orion-market-snapshot", "version": 99, "venues": {}}')
    code, _, err = invoke("markets", "--snapshot", str(bad))
    assert code == 2 and "version 99" in err
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(market_data_demo_bytes()[:500])
    code, _, err = invoke("markets", "--snapshot", str(cut), "--json")
    assert code == 2 and "truncated" in err
    assert invoke("markets", "--snapshot", str(tmp_path / "missing.json"))[0] == 2


def test_book_on_a_venue_the_snapshot_recorded_down_is_exit_5_not_a_missing_market(tmp_path: Path) -> None:
    """Found in a black-box run: `book TICKER --venue kalshi` on a recording whose Kalshi was down said
    "no market ... in snapshot" (exit 2, a mistyped id); `markets --venue kalshi` on it says exit 5."""
    down = str(write_venue_down_snapshot(tmp_path / "down.json"))
    assert invoke("markets", "--venue", "kalshi", "--snapshot", down, "--json")[0] == 5
    for venue in (["--venue", "kalshi"], []):
        code, _, err = invoke("book", "KXUPONLY-01-BRIA", *venue, "--snapshot", down, "--json")
        assert code == 5, err
        record = json.loads(err.strip().splitlines()[-1])
        assert record["reason"] == "venue_unavailable" and record["message"] == f"kalshi unavailable: {DOWN_REASON}"
    code, _, err = invoke("book", "no-such-market-slug", "--venue", "polymarket", "--snapshot", down, "--json")
    assert code == 2 and "no market 'no-such-market-slug' on polymarket" in err, err  # recorded, not listed


def test_a_device_as_the_snapshot_is_exit_2() -> None:
    """Found by a black-box audit: `snapshot info /dev/zero` and `--snapshot /dev/zero` read until memory
    ran out (exit 1, or the OOM killer). /dev/null here: it ends, and was called an empty file."""
    for args in (("snapshot", "info", "/dev/null"), ("markets", "--snapshot", "/dev/null")):
        code, _, err = invoke(*args, "--json")
        assert code == 2 and "/dev/null: not a regular file (a device, FIFO or socket); refusing" in err, (args, err)


@pytest.mark.usefixtures("default_recursion_limit")
def test_a_snapshot_nested_too_deeply_for_the_json_parser_is_exit_2(tmp_path: Path) -> None:
    """Found by a black-box audit: the parser's RecursionError was an internal error (exit 1)."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "orion-market-snapshot", "version": 1, "notes": ' + "[" * 50_000 + "]" * 50_000 + "}")
    for args in (("snapshot", "info", str(deep)), ("markets", "--snapshot", str(deep))):
        code, _, err = invoke(*args, "--json")
        assert code == 2 and f"{deep}: JSON nested too deeply" in err, (args, err)


def market_data_demo_bytes() -> bytes:
    from orion_cli.venues.snapshot import demo_path

    return demo_path().read_bytes()


# -- live, against the loopback simulators ------------------------------------------------------


def dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[KalshiSim, PolymarketSim]]:
    k = KalshiSim()
    p = PolymarketSim.universe(4)
    k.start()
    p.start()
    try:
        yield k, p
    finally:
        k.stop()
        p.stop()


def env_for(kalshi: str, gamma: str, clob: str) -> dict[str, str]:
    return {
        "ORION__KALSHI__PROD_BASE_URL": kalshi,
        "ORION__KALSHI__READ_TOKENS_PER_SECOND": "100000",
        "ORION__POLYMARKET__GAMMA_URL": gamma,
        "ORION__POLYMARKET__CLOB_URL": clob,
    }


def test_snapshot_record_then_replay(sims: tuple[KalshiSim, PolymarketSim], tmp_path: Path) -> None:
    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    path = tmp_path / "rec.json.gz"
    code, out, err = invoke("snapshot", "record", "--out", str(path), "--json", env=env)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["type"] == "snapshot" and summary["markets"]["kalshi"] > 0 and summary["books"]["polymarket"] > 0
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    code, out, err = invoke("markets", "--snapshot", str(path), "--json")
    assert code == 0 and "SNAPSHOT" in err
    replay = json.loads(out)
    assert len(replay) == summary["markets"]["kalshi"] + summary["markets"]["polymarket"]
    code, out, _ = invoke("snapshot", "info", str(path), "--json")
    assert code == 0 and json.loads(out)["version"] == 1


def test_a_snapshot_keeps_no_credential_of_the_venue_urls(sims: tuple[KalshiSim, PolymarketSim],
                                                         tmp_path: Path) -> None:
    """Found in review: `snapshot record` wrote the configured URLs into the file whole, a proxy's
    password included, and `snapshot info` printed them."""
    import gzip

    k, p = sims
    userinfo = "http://proxyuser:S3CRET@"
    env = env_for(k.server.base_url.replace("http://", userinfo) + "/trade-api/v2",
                  p.gamma_url.replace("http://", userinfo), p.clob_url.replace("http://", userinfo))
    path = tmp_path / "rec.json.gz"
    code, _, err = invoke("snapshot", "record", "--out", str(path), "--json", env=env)
    assert code == 0, err
    assert b"S3CRET" not in gzip.decompress(path.read_bytes())
    code, out, _ = invoke("snapshot", "info", str(path), "--json")
    assert code == 0 and "S3CRET" not in out
    assert json.loads(out)["environment"]["kalshi_url"].startswith("http://***@127.0.0.1")
    # A file recorded before the mask (or written by hand) is shown masked too.
    doc = json.loads(gzip.decompress(path.read_bytes()))
    doc["environment"]["polymarket_clob_url"] = "https://u:S3CRET@proxy.example/?api_key=S3CRET"
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    code, out, _ = invoke("snapshot", "info", str(path), "--json")
    assert code == 0 and "S3CRET" not in out


def test_live_markets_one_venue_down_is_degraded(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    k, _ = sims
    dead = dead_url()
    env = env_for(k.server.base_url + "/trade-api/v2", dead, dead)
    code, out, err = invoke("markets", "--json", env=env)
    assert code == 0, err
    assert {r["venue"] for r in json.loads(out)} == {"kalshi"}
    assert "DEGRADED: polymarket data missing (GET " in err  # the cause, not "(polymarket unavailable: …"


def test_live_book_and_both_venues_down_exit_5(sims: tuple[KalshiSim, PolymarketSim]) -> None:
    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    ticker = k.recorded_markets()[0]["ticker"]
    code, out, err = invoke("book", ticker, "--json", env=env)
    assert code == 0, err
    assert json.loads(out)["market"] == ticker
    dead = dead_url()
    code, _, err = invoke("markets", "--json", env=env_for(dead + "/trade-api/v2", dead, dead))
    assert code == 5
    assert json.loads(err.strip().splitlines()[-1])["reason"] == "venue_unavailable"


def test_book_and_markets_of_data_the_venue_sends_unreadable_exit_5_not_1(
        sims: tuple[KalshiSim, PolymarketSim]) -> None:
    """Found black-box: a 200 with a price "abc" in a book, or a listing without its list, was an
    internal error (exit 1, reason bad_data); the venue's data is at fault: exit 5, the venue named."""
    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    ticker = k.recorded_markets()[1]["ticker"]
    k.set_book(ticker, [["abc", "10.00"]], [])
    try:
        code, _, err = invoke("book", ticker, "--json", env=env)
    finally:
        del k.books[ticker]
    assert code == 5, err
    last = json.loads(err.strip().splitlines()[-1])
    assert last["reason"] == "venue_error" and last["message"].startswith(f"kalshi book {ticker}: "), last
    k.server.add_fault(FaultRule("remove_field", field="markets", path_prefix="/trade-api/v2/markets"))
    try:
        code, _, err = invoke("markets", "--venue", "kalshi", "--json", env=env)
    finally:
        k.server.clear_faults()
    assert code == 5, err
    assert json.loads(err.strip().splitlines()[-1])["message"] == "kalshi listing: markets: missing"


@pytest.mark.parametrize("fault", ["unreadable", "missing"])
def test_a_polymarket_book_with_one_tokens_book_unreadable_says_so_and_exits_5(
        sims: tuple[KalshiSim, PolymarketSim], fault: str) -> None:
    """The NO token's book unreadable (a price "abc") or not returned by the CLOB while the YES token's
    reads: `orion book` showed the NO side empty, exit 0, no word, and a trader read "no depth" as a
    fact. The side read is still shown; the other is marked `unavailable` with why in the record, shown
    "unreadable" in the table, named on stderr (venue, market, side, token, why) and the command exits 5."""
    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    m = p.events[1]["markets"][0]
    _yes_token, no_token = json.loads(m["clobTokenIds"])
    saved = p.books[no_token]
    if fault == "unreadable":
        p.books[no_token] = {**saved, "bids": [{"price": "abc", "size": "1"}]}
    else:
        del p.books[no_token]
    why = "books[1].bids[0].price: not a number: 'abc'" if fault == "unreadable" else "no book returned for token"
    try:
        code, out, err = invoke("book", m["slug"], "--json", env=env)
        assert code == 5, err
        rec = json.loads(out)
        assert rec["yes"]["unavailable"] is None and rec["yes"]["asks"], rec  # the side read, as read
        assert rec["no"]["bids"] == rec["no"]["asks"] == [] and why in rec["no"]["unavailable"], rec
        assert f"token {no_token[:20]}" in rec["no"]["unavailable"]
        last = json.loads(err.strip().splitlines()[-1])
        assert (last["exit_code"], last["reason"]) == (5, "venue_error"), last
        assert last["message"].startswith(f"polymarket book {m['conditionId']}: the NO side could not be read ("), last
        assert why in last["message"] and "not because it has no depth" in err
        code, out, err = invoke("--format", "table", "book", m["slug"], env=env)
        assert code == 5 and "unreadable" in out and why in err, out + err
    finally:
        p.books[no_token] = saved
    code, out, err = invoke("book", m["slug"], "--json", env=env)  # both read: as before, exit 0
    assert code == 0, err
    rec = json.loads(out)
    assert rec["yes"]["unavailable"] is None and rec["no"]["unavailable"] is None and rec["no"]["asks"]


def test_a_polymarket_firewall_403_on_book_and_markets_is_the_geoblock_exit_6(
        sims: tuple[KalshiSim, PolymarketSim]) -> None:
    """Found in review: Polymarket's public reads send no credential, yet a blocked host's Cloudflare 403
    page exited 4 ("rejected our credentials", the page in the message); README: a venue refusing this
    host's location is exit 6, reason GEOBLOCKED."""
    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    page = (b"<html><head><title>Attention Required! | Cloudflare</title></head>"
            b"<body><h1>Sorry, you have been blocked</h1><span>Your IP: 203.0.113.77</span></body></html>")
    slug = p.events[0]["markets"][0]["slug"]
    try:
        for prefix in ("/gamma/", "/clob/"):
            p.server.add_fault(FaultRule("status", path_prefix=prefix, status=403, body=page))
        for args in (("book", slug, "--json"), ("markets", "--venue", "polymarket", "--json")):
            code, _, err = invoke(*args, env=env)
            assert code == 6, err
            last = json.loads(err.strip().splitlines()[-1])
            assert last["reason"] == "GEOBLOCKED" and "firewall" in last["message"]
            assert "credentials" not in err and "203.0.113.77" not in err and "<" not in err
    finally:
        p.server.clear_faults()


def test_snapshot_record_refuses_a_bad_out_directory_before_any_request(
        sims: tuple[KalshiSim, PolymarketSim], tmp_path: Path) -> None:
    """Found by a tester: `--out /nonexistent/x.json.gz` fetched both venues, then failed on writing."""
    import os

    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    a_file = tmp_path / "plain"
    a_file.write_text("")
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o500)
    bad = [(tmp_path / "missing" / "x.json.gz", "does not exist"), (a_file / "x.json", "is not a directory")]
    if os.geteuid() != 0:  # root may write anywhere
        bad.append((read_only / "x.json", "is not writable"))
    for out, problem in bad:
        before = len(k.server.requests) + len(p.server.requests)
        code, _, err = invoke("snapshot", "record", "--out", str(out), "--json", env=env)
        assert code == 2, err
        assert problem in err and json.loads(err.strip().splitlines()[-1])["reason"] == "bad_snapshot"
        assert len(k.server.requests) + len(p.server.requests) == before, f"{out}: the venues were fetched"
        assert not out.exists()


def test_snapshot_record_refuses_to_replace_a_file_that_is_not_a_snapshot(
        sims: tuple[KalshiSim, PolymarketSim], tmp_path: Path) -> None:
    """Found by a black-box audit: `--out ~/.local/share/orion/orion.db` (or config.toml) replaced the
    ledger with a snapshot, silently (exit 0); the halt it held and its audit chain were gone. The
    rule of `reconcile --metrics-file`: only a file orion wrote as a snapshot (or an empty one) is replaced."""
    import gzip
    import os

    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    ledger = tmp_path / "orion.db"
    ledger.write_bytes(b"SQLite format 3\x00" + bytes(4080))
    config = tmp_path / "config.toml"
    config.write_text("[limits]\norder_contracts = 1\n")
    gzipped_text = tmp_path / "notes.json.gz"
    gzipped_text.write_bytes(gzip.compress(b'{"format": "something-else"}'))
    link = tmp_path / "link.json"
    os.symlink(tmp_path / "earlier.json", link)
    cases = [(ledger, "it is not an orion snapshot file"), (config, "it is not an orion snapshot file"),
             (gzipped_text, "it is not an orion snapshot file"), (link, "it is a symbolic link")]
    for out, problem in cases:
        before = out.read_bytes() if out.exists() else None
        requests = len(k.server.requests) + len(p.server.requests)
        code, _, err = invoke("snapshot", "record", "--out", str(out), "--json", env=env)
        assert code == 2, f"{out.name}: {err}"
        assert f"refusing to replace {out}: {problem}" in err
        assert len(k.server.requests) + len(p.server.requests) == requests, f"{out}: the venues were fetched"
        assert (out.read_bytes() if out.exists() else None) == before, f"{out.name} was changed"
        assert out.is_symlink() == (out == link)
    # An earlier snapshot, plain or gzipped, is replaced; so is an empty file.
    for name in ("earlier.json", "earlier.json.gz", "empty.json"):
        out = tmp_path / name
        out.write_bytes(b"" if name == "empty.json" else b"placeholder")
        if name != "empty.json":
            code, _, err = invoke("snapshot", "record", "--out", str(out), "--limit", "1", "--json", env=env)
            assert code == 2 and "not an orion snapshot file" in err
            out.unlink()
            code, _, err = invoke("snapshot", "record", "--out", str(out), "--limit", "1", "--json", env=env)
            assert code == 0, err
        first = out.read_bytes()
        code, _, err = invoke("snapshot", "record", "--out", str(out), "--json", env=env)
        assert code == 0, f"{name}: {err}"
        assert out.read_bytes() != first
        code, _, err = invoke("snapshot", "info", str(out), "--json")
        assert code == 0, err


def test_check_writable_names_a_read_only_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-only case of the test above, where the suite runs as root (who may write anywhere)."""
    from orion_cli.venues import snapshot

    assert snapshot.check_writable(tmp_path / "x.json") == tmp_path
    monkeypatch.setattr(snapshot.os, "access", lambda *a, **kw: False)
    with pytest.raises(snapshot.SnapshotError, match="is not writable"):
        snapshot.check_writable(tmp_path / "x.json")


def test_the_hint_when_no_venue_answers_fits_the_command(tmp_path: Path) -> None:
    """Found by a tester: `snapshot record` offline hinted that `--snapshot FILE` or `--demo` work
    offline, and `snapshot record --demo` is "No such option". Recording needs the network."""
    dead = dead_url()
    env = env_for(dead + "/trade-api/v2", dead, dead)
    code, _, err = invoke("snapshot", "record", "--out", str(tmp_path / "r.json"), "--json", env=env)
    assert code == 5
    hint = next(line for line in err.splitlines() if line.startswith("hint:"))
    assert "network" in hint and "--demo" not in hint and "--snapshot" not in hint
    assert not (tmp_path / "r.json").exists()
    code, _, err = invoke("markets", "--json", env=env)  # a reading command: its offline data sets help
    assert code == 5 and "`--demo` work offline" in err


def test_a_recording_keeps_its_errors(sims: tuple[KalshiSim, PolymarketSim], tmp_path: Path) -> None:
    """Found by a tester: `snapshot record` said `"errors":3` (event lookups answered 404) and
    `snapshot info` of the file said 0, so a partial recording looked clean when replayed."""
    import gzip

    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    path = tmp_path / "rec.json.gz"
    k.server.add_fault(FaultRule("status", status=404, path_prefix="/trade-api/v2/events/",
                                 body={"error": {"code": "not_found"}}))
    try:
        code, out, err = invoke("snapshot", "record", "--out", str(path), "--limit", "3", "--json", env=env)
    finally:
        k.server.clear_faults()
    assert code == 0, err
    recorded = json.loads(out)["errors"]
    assert recorded > 0
    stored = json.loads(gzip.decompress(path.read_bytes()))["errors"]
    assert {(e["venue"], e["kind"]) for e in stored} == {("kalshi", "event")}
    # What could not be fetched is stored; what it makes unreadable is found again on reading: the three
    # markets of those events, their fee unknown (an event may override its series' fee).
    assert recorded == len(stored) + 3
    code, out, _ = invoke("snapshot", "info", str(path), "--json")
    assert code == 0 and json.loads(out)["errors"] == recorded
    code, _, err = invoke("markets", "--snapshot", str(path), "--json")
    assert code == 0 and f"{recorded} item(s) could not be read" in err
    # A file without the key (nothing failed, or written before it existed) reads as before; a
    # malformed entry is a bad snapshot (exit 2), never a crash.
    code, out, _ = invoke("snapshot", "info", "--demo", "--json")
    assert code == 0 and json.loads(out)["errors"] == 0
    doc = json.loads(gzip.decompress(path.read_bytes()))
    doc["errors"][0]["venue"] = "kraken"
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    code, _, err = invoke("snapshot", "info", str(path), "--json")
    assert code == 2 and "errors[0]" in err


@pytest.mark.parametrize("limit", [1, 3, 5])
def test_snapshot_record_limit_holds_for_polymarket_events(sims: tuple[KalshiSim, PolymarketSim],
                                                           tmp_path: Path, limit: int) -> None:
    """Found by a tester: `--limit 5` recorded 32 Polymarket markets (whole events, each with several
    markets) with books for only 5 of them. An event is cut to the markets the limit leaves, and
    marked partial so a cut neg-risk event is never priced as a complete basket."""
    import gzip

    k, p = sims
    env = env_for(k.server.base_url + "/trade-api/v2", p.gamma_url, p.clob_url)
    path = tmp_path / "rec.json.gz"
    code, out, err = invoke("snapshot", "record", "--out", str(path), "--venue", "polymarket",
                            "--limit", str(limit), "--json", env=env)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["markets"]["polymarket"] == limit and summary["books"]["polymarket"] == limit
    events = json.loads(gzip.decompress(path.read_bytes()))["venues"]["polymarket"]["events"]
    assert sum(len(e["markets"]) for e in events) == limit
    assert events[-1].get("_orion_partial") is True  # the universe's events hold more than one market
    code, out, err = invoke("markets", "--snapshot", str(path), "--json")
    assert code == 0 and "could not be read" not in err
    replay = json.loads(out)
    assert len(replay) == limit and all("yes_ask" in r for r in replay)  # each with its book


def test_book_of_a_market_whose_recorded_book_was_refused_says_why(isolated_home: Path, tmp_path: Path) -> None:
    """Review: a recorded book the parser refuses (here crossed: YES bid 0.30 + NO bid 0.80) was said to be
    missing ("holds no order book"), even with -v, though `scan -v` names the refusal."""
    import gzip
    import importlib.resources

    with importlib.resources.files("orion_cli.data").joinpath("demo_snapshot.json.gz").open("rb") as raw:
        data = json.load(gzip.open(raw))
    [book] = [b for b in data["venues"]["kalshi"]["orderbooks"] if b["ticker"] == "KXUPONLY-01-BRIA"]
    book["orderbook_fp"] = {"yes_dollars": [["0.3000", "10.00"]], "no_dollars": [["0.8000", "10.00"]]}
    path = tmp_path / "crossed.json"
    path.write_text(json.dumps(data))
    code, _out, err = invoke("--json", "book", "KXUPONLY-01-BRIA", "--snapshot", str(path))
    assert code == 2, err
    message = json.loads(err.strip().splitlines()[-1])["message"]
    assert "was refused" in message and "crossed" in message and "holds no order book" not in message, message


def _demo_altered(tmp_path: Path, name: str, alter: Any) -> Path:
    """The demo recording with ``alter(document)`` applied, written to ``tmp_path/name``."""
    import gzip
    import importlib.resources

    with importlib.resources.files("orion_cli.data").joinpath("demo_snapshot.json.gz").open("rb") as raw:
        data = json.load(gzip.open(raw))
    alter(data)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _series(data: dict[str, Any]) -> list[dict[str, Any]]:
    series: list[dict[str, Any]] = data["venues"]["kalshi"]["series"]
    return series


def test_a_recorded_market_whose_fee_is_unknown_is_said_so_not_a_mistyped_id(isolated_home: Path,
                                                                             tmp_path: Path) -> None:
    """Found by a black-box review: a market the recording holds but orion cannot price (its series' fee type
    `flat`, not modelled) was "no market 'KXUPONLY-01-BRIA'" (exit 2, market_not_found), with a hint to list
    markets that did not list it. As the live venue's market: exit 5, venue_error, saying why."""
    path = _demo_altered(tmp_path, "flat.json", lambda d: [s.update(fee_type="flat") for s in _series(d)
                                                           if s["ticker"] == "KXUPONLY"])
    code, out, err = invoke("--json", "book", "KXUPONLY-01-BRIA", "--snapshot", str(path))
    assert code == 5 and out == "", err
    error = json.loads(err.strip().splitlines()[-1])
    assert error["reason"] == "venue_error" and "fee unknown" in error["message"], error
    assert "KXUPONLY-01-BRIA" in error["message"] and "retrying will not help" in err, err
    code, _, err = invoke("--json", "book", "KXNOSUCH-01-X", "--snapshot", str(path))  # still "no market"
    assert code == 2 and json.loads(err.strip().splitlines()[-1])["reason"] == "market_not_found", err


def test_a_market_whose_series_the_recording_lacks_is_not_priced_at_the_default(isolated_home: Path,
                                                                                tmp_path: Path) -> None:
    """Found by a black-box review: a recording holding series data, but not this market's series, priced it
    at the default quadratic x1, which stands for a read that asked for no series (a x2 series' edge
    overstated). Its fee is unknown: not priced, as the README says of a series not read."""
    path = _demo_altered(tmp_path, "noser.json", lambda d: d["venues"]["kalshi"].update(
        series=[s for s in _series(d) if s["ticker"] != "KXUPONLY"]))
    code, out, err = invoke("--json", "book", "KXUPONLY-01-BRIA", "--snapshot", str(path))
    assert code == 5 and "fee unknown (series KXUPONLY: not among the series read)" in err, err
    code, out, _ = invoke("--json", "markets", "--snapshot", str(path), "--venue", "kalshi")
    assert code == 0 and "KXUPONLY-01-BRIA" not in out
    code, out, _ = invoke("--json", "book", "KXMENWORLDCUP-26-AR", "--snapshot", str(path))  # its series held
    assert code == 0 and "series fee unknown" not in out, out
