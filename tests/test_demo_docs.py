"""`orion_cli/data/DEMO.md` and `scripts/build_demo_snapshot.py` stay true to the data set and to each other."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DEMO_MD = ROOT / "orion_cli" / "data" / "DEMO.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_demo_snapshot", ROOT / "scripts" / "build_demo_snapshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fixtures(script: ModuleType) -> Path:
    """The shared recorded fixtures (``SHARED_FIXTURES_DIR``, else beside the checkout), or skip.
    (Not an ``ORION_*`` name: the test isolation clears those.)"""
    where = Path(os.environ.get("SHARED_FIXTURES_DIR") or script.DEFAULT_FIXTURES)
    if not all((where / name).is_file() for name in script.PAIR_FILES):
        pytest.skip(f"no shared fixtures at {where} (set SHARED_FIXTURES_DIR)")
    return where


def test_the_build_script_without_its_fixtures_is_a_usage_error_not_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a docs review: run from a checkout not beside `shared/` (no `--fixtures`), the script died
    with a FileNotFoundError traceback. It is a usage error (exit 2) naming the directory and the option."""
    script = _script()
    monkeypatch.setattr(script, "DEFAULT_FIXTURES", tmp_path / "shared" / "fixtures")
    monkeypatch.setattr(script, "DEFAULT_OUT", tmp_path / "out.json.gz")
    for argv in ([], ["--fixtures", str(tmp_path)]):
        with pytest.raises(SystemExit) as exit_:
            script.main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "usage: " in err and "Traceback" not in err, err
        assert f"no recorded fixtures in {argv[-1] if argv else tmp_path / 'shared' / 'fixtures'}" in err, err
        assert "--fixtures DIR" in err
    assert not (tmp_path / "out.json.gz").exists()


def test_report_writes_nothing_unless_an_output_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a docs review: `--report` (documented in DEMO.md as the way to see the full list) also
    rewrote the packaged `demo_snapshot.json.gz`. It now builds in memory and writes only with `--out`."""
    from orion_cli.venues.snapshot import demo_source

    script = _script()
    fixtures = tmp_path / "fixtures"
    for name in script.PAIR_FILES:  # present; what they hold is build()'s business, replaced here
        (fixtures / name).parent.mkdir(parents=True, exist_ok=True)
        (fixtures / name).write_text("{}")
    packaged = tmp_path / "packaged.json.gz"
    monkeypatch.setattr(script, "DEFAULT_OUT", packaged)
    monkeypatch.setattr(script, "build", lambda _fixtures: demo_source().capture())
    monkeypatch.setattr(script, "report", lambda _capture, _fixtures: [])

    script.main(["--fixtures", str(fixtures), "--report"])
    assert not packaged.exists() and "nothing written" in capsys.readouterr().out
    named = tmp_path / "named.json.gz"
    script.main(["--fixtures", str(fixtures), "--report", "--out", str(named)])
    assert named.is_file() and not packaged.exists()
    script.main(["--fixtures", str(fixtures)])  # a build writes the packaged file, as before
    assert packaged.is_file() and f"wrote {packaged}" in capsys.readouterr().out


def test_a_report_whose_reader_stopped_ends_quietly() -> None:
    """`build_demo_snapshot.py --report | head -1`: once head had its line the script died with a
    BrokenPipeError traceback. A reader that stops early now ends it quietly (exit 0: nothing failed)."""
    import subprocess

    fixtures = _fixtures(_script())
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as head's is after its last
    try:
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_demo_snapshot.py"), "--fixtures",
                               str(fixtures), "--report"], stdout=write, stderr=subprocess.PIPE, text=True,
                              timeout=120, check=False)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (0, "")


def test_demo_md_counts_are_the_reports() -> None:
    """Found by a docs review: DEMO.md said "~40 others ≤ 0" and left out a pair with a positive edge
    (Japan, +0.0004). Its table's positive rows and its count of others are the report's."""
    from decimal import Decimal

    script = _script()
    fixtures = _fixtures(script)
    rows = script.report(script.build(fixtures), fixtures)
    text = DEMO_MD.read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| KX") or re.match(r"\| \d+ others", line)]
    positive = {r["kalshi"] for r in rows if r["net_edge"] is not None and r["net_edge"] > 0}
    listed_positive = {line.split()[1] for line in table if re.search(r"\| \*{0,2}\+0\.\d{4}", line)}
    assert listed_positive == positive, (listed_positive, positive)
    for line in table:  # each positive row's figure is the report's
        if line.split()[1] in positive:
            edge = next(r["net_edge"] for r in rows if r["kalshi"] == line.split()[1])
            assert f"+{edge:.4f}" in line, line
    # The rows named on their own below the others: the "advance to the NBA Finals" wordings, the
    # Charles Schwab pairs and the pair with no ask on one side.
    advance = [r for r in rows
               if r["kalshi"] in ("KXNBAWEST-26-SAS", "KXNBAWEST-26-OKC") and "advance" in r["polymarket"]]
    schwab = [r for r in rows if r["kalshi"].startswith("KXPGATOUR-CHSC26-")]
    no_ask = [r for r in rows if r["net_edge"] is None]
    assert len(advance) == 2 and all(r["net_edge"] < 0 for r in advance)
    assert sorted(f"{r['net_edge']:.2f}" for r in schwab) == ["-0.30", "-0.44"]
    assert [r["kalshi"] for r in no_ask] == ["KXIPL-26-SRH"]
    assert any(line.startswith("| KXIPL-26-SRH") for line in table)
    named = {id(r) for r in advance + schwab + no_ask}
    others = [r for r in rows if r["kalshi"] not in positive and id(r) not in named]
    (others_line,) = [line for line in table if re.match(r"\| \d+ others", line)]
    assert int(others_line.split()[1]) == len(others), (others_line, len(others))
    assert all(r["net_edge"] <= Decimal(0) for r in others)
    assert f"each of the {len(rows)}\nrecorded pairs" in text


def test_demo_md_says_what_scan_demo_reports(isolated_home: Path) -> None:
    """DEMO.md's figure for `orion scan --demo` (not the recorded pairs' report) is what it prints."""
    from orion_cli.cli.app import app

    result = CliRunner().invoke(app, ["scan", "--demo", "--jsonl"])
    assert result.exit_code == 0, result.output
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["type"] for r in found] == ["opportunity"] and "KXUPONLY-01-BRIA" in found[0]["pair_key"]
    text = " ".join(DEMO_MD.read_text(encoding="utf-8").split())
    assert "`orion scan --demo` reports one opportunity, the UpOnly pair (KXUPONLY-01-BRIA)" in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
