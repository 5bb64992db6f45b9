"""The ``config.loaded`` audit event: which configuration a trade, a reconcile, a halt or a resume ran under.

DESIGN §7 listed the type but nothing wrote it (found by a black-box contract review), so no trade or
reconcile recorded the limits it was judged under.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.resources
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orion_cli.cli.app import app
from orion_cli.core.config import load_settings
from orion_cli.store.audit import AuditLog, reference_json
from orion_cli.store.config_loaded import CONFIG_LOADED, config_payload, record_config_loaded
from orion_cli.store.db import open_database

ORION = Path(sys.executable).parent / "orion"
ORION_ARGV = [str(ORION)] if ORION.exists() else [sys.executable, "-m", "orion_cli"]


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def events(*types: str) -> list[dict[str, Any]]:
    out = run("audit", "tail", "-n", "1000000", "--jsonl", *(a for t in types for a in ("--type", t)))
    assert out.exit_code == 0, out.output
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def loaded() -> list[dict[str, Any]]:
    return [e for e in events() if e["type"] == CONFIG_LOADED]


@pytest.fixture
def ledger(isolated_home: Path) -> Path:
    assert run("init").exit_code == 0
    return isolated_home / "orion.db"


def test_acting_commands_record_the_configuration_once_until_it_changes(ledger: Path) -> None:
    assert loaded() == []  # init, and reading, record none
    assert run("halt", "-r", "x").exit_code == 0
    assert run("resume", "--yes").exit_code == 0
    for _ in range(3):  # cron reconcile every minute: one event, not one a run
        assert run("reconcile", "--demo").exit_code == 0
    first = loaded()
    assert len(first) == 1
    assert first[0]["actor"]["command"] == "halt" and first[0]["mode"] == "paper"
    types = [e["type"] for e in events()]
    assert types.index(CONFIG_LOADED) > types.index("halt.engaged")  # after engaging: nothing delays it

    changed = {"ORION__LIMITS__ORDER_NOTIONAL": "55"}
    assert run("reconcile", "--demo", env=changed).exit_code == 0
    assert run("reconcile", "--demo", env=changed).exit_code == 0
    assert run("reconcile", "--demo").exit_code == 0  # back to the first: recorded again, it differs from the newest
    after = loaded()
    assert [e["actor"]["command"] for e in after] == ["halt", "reconcile", "reconcile"]
    assert after[1]["payload"]["settings"]["limits.order_notional"] == {
        "value": "55", "source": "environment ORION__LIMITS__ORDER_NOTIONAL"}
    assert after[2]["payload"]["digest"] == after[0]["payload"]["digest"] != after[1]["payload"]["digest"]
    assert run("audit", "verify").exit_code == 0


def test_the_same_values_from_elsewhere_are_one_configuration(ledger: Path) -> None:
    """Review: the digest covered each value's source, so a cron job given a limit in the environment and a
    trader reading it from the file, with the same values, recorded config.loaded in turns, every run."""
    from orion_cli.core.config import load_settings

    same = {"ORION__LIMITS__ORDER_NOTIONAL": str(load_settings().limits.order_notional)}
    for env in (None, same, None, same):
        assert run("reconcile", "--demo", env=env).exit_code == 0
    assert len(loaded()) == 1


def test_halt_records_the_configuration_after_its_alert(ledger: Path) -> None:
    """Review: halt recorded config.loaded between engaging and its cancels and alert, so a writer holding the
    lock delayed --cancel-open up to busy_timeout_ms, and a Ctrl-C then lost the alert. It comes last."""
    assert run("halt", "-r", "x", env={"ORION__ALERTS__ENABLED": "true"}).exit_code == 0
    types = [e["type"] for e in events()]
    assert types.index("halt.engaged") < types.index("alert.failed") < types.index(CONFIG_LOADED), types


def test_a_refused_resume_records_no_configuration(ledger: Path) -> None:
    """Review: resume recorded config.loaded before releasing, so one the release refused (a drawdown
    halt without --breaker: nothing resumed) still recorded "the configuration trading resumes under"."""
    from orion_cli.risk.halt import KillSwitch

    db = open_database(str(ledger))
    try:
        KillSwitch(db).engage("drawdown", kind="drawdown")
    finally:
        db.dispose()
    changed = {"ORION__LIMITS__ORDER_NOTIONAL": "55"}  # another configuration than none: it would be recorded
    assert run("resume", "--yes", env=changed).exit_code == 6  # BREAKER: refused by the release
    assert loaded() == []
    assert run("resume", "--yes", "--breaker", env=changed).exit_code == 0
    assert loaded()[-1]["payload"]["settings"]["limits.order_notional"]["value"] == "55"


def test_each_execution_is_recorded_under_its_own_configuration(ledger: Path) -> None:
    """Review: a watch recorded its configuration once, at its start; a cron reconcile under other limits
    recorded in between, and the watch's next execution read as judged under those. Each execution
    checks the newest record and records its own when it is another's (each_time)."""
    from orion_cli.cli.context import AppContext
    from orion_cli.core.config import load_settings
    from orion_cli.store.config_loaded import record_config_loaded

    db = open_database(None)
    try:
        app = AppContext()
        app.record_config(db, "paper")
        app.record_config(db, "paper", each_time=True)  # the newest is its own: nothing recorded
        assert len(loaded()) == 1
        record_config_loaded(db, load_settings(overrides={"limits.order_notional": "55"}), mode="paper")
        app.record_config(db, "paper")  # once per command: not again
        assert len(loaded()) == 2
        app.record_config(db, "paper", each_time=True)  # an execution: its own again, after the other's
        digests = [e["payload"]["digest"] for e in loaded()]
        assert len(digests) == 3 and digests[2] == digests[0] != digests[1]
    finally:
        db.dispose()


def test_the_payload_is_what_config_show_sources_shows_with_the_files_and_a_digest(ledger: Path) -> None:
    assert run("halt").exit_code == 0
    shown = json.loads(run("--json", "config", "show", "--sources").stdout)
    payload = loaded()[0]["payload"]
    assert payload["settings"] == {r["key"]: {"value": r["value"], "source": r["source"]} for r in shown}
    assert payload["settings"]["database.url"] == {"value": f"sqlite:///{ledger}", "source": "default (ORION_HOME)"}
    assert payload["config_files"] == [str(ledger.parent / "config.toml")]
    # the digest: SHA-256 of the canonical JSON of the values alone, which anyone can recompute from the
    # event; not their sources (review: --db in cron and the environment for a trader recorded in turns)
    values = {key: entry["value"] for key, entry in payload["settings"].items()}
    assert payload["digest"] == hashlib.sha256(reference_json(values).encode()).hexdigest()
    assert payload["digest"] == config_payload(load_settings())["digest"]


def test_a_trade_records_it_before_it_decides_and_a_preview_records_nothing(ledger: Path) -> None:
    scan = run("scan", "--demo", "--jsonl")
    op_id = json.loads(scan.stdout.splitlines()[0])["id"]
    assert run("trade", op_id, "--demo").exit_code == 0  # a preview acts on nothing
    assert loaded() == []
    done = run("trade", op_id, "--demo", "--confirm", "--jsonl")
    assert done.exit_code == 0, done.output
    types = [e["type"] for e in events()]
    assert types.count(CONFIG_LOADED) == 1
    assert types.index(CONFIG_LOADED) < types.index("execution.requested")
    assert loaded()[0]["actor"]["command"] == f"trade {op_id}"


def _two_opportunities(path: Path) -> Path:
    """The demo recording with a second tradable pair: GCR's books made BRIA's (curate the pair to trade it).

    A watch over the demo alone trades its one opportunity once, and finds it again under a new id only
    when the minute turns (ids are per minute): a second execution waited up to a minute for it.
    """
    with importlib.resources.files("orion_cli.data").joinpath("demo_snapshot.json.gz").open("rb") as raw:
        data = json.load(gzip.open(raw))
    kalshi = {b["ticker"]: b for b in data["venues"]["kalshi"]["orderbooks"]}
    kalshi[GCR[0]]["orderbook_fp"] = kalshi["KXUPONLY-01-BRIA"]["orderbook_fp"]
    books = {b["asset_id"]: b for b in data["venues"]["polymarket"]["books"]}
    markets = {m["conditionId"]: m for e in data["venues"]["polymarket"]["events"] for m in e["markets"]}
    bria = markets["0x18682f5c3ac9f66132244ac057a2817a1b908702d424680f35de26cad232087d"]
    for src, dst in zip(json.loads(bria["clobTokenIds"]), json.loads(markets[GCR[1]]["clobTokenIds"]), strict=True):
        books[dst].update(asks=books[src]["asks"], bids=books[src]["bids"])
    path.write_text(json.dumps(data))
    return path


GCR = ("KXUPONLY-01-GCR", "0x27aad6b150842f937852361de3f82b7f8c927a2fa89f8b3c49d955af32e73bd1")


def test_a_trade_watch_records_it_once(ledger: Path, isolated_home: Path, tmp_path: Path) -> None:
    snapshot = _two_opportunities(tmp_path / "two.json")
    assert run("pairs", "add", *GCR, "--snapshot", str(snapshot)).exit_code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION")}
    env["ORION_HOME"] = str(isolated_home)
    done = subprocess.run([*ORION_ARGV, "trade", "--watch", "1", "--max-trades", "2", "--snapshot", str(snapshot),
                           "--jsonl"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    executed = [json.loads(line) for line in done.stdout.splitlines() if '"type":"execution"' in line]
    assert [e["status"] for e in executed] == ["done", "done"], done.stdout
    records = loaded()
    assert [e["actor"]["command"] for e in records] == ["trade"]


SECRETS = ("S3CRET-VAULT-PASSWORD", "S3CRET-PROXY-PW", "S3CRET-API-KEY", "S3CRET-HOOK")


def test_no_secret_reaches_the_audit_log(ledger: Path, isolated_home: Path, tmp_path: Path) -> None:
    """Plant secret-looking values wherever one could come from, act, and grep the whole ledger for them."""
    key_like = "0x" + "ab" * 32  # a wallet key set as a setting by mistake
    path_token = "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
    password_file = tmp_path / "pw"
    password_file.write_text("S3CRET-VAULT-PASSWORD\n")
    env = {
        "ORION_MASTER_PASSWORD": "S3CRET-VAULT-PASSWORD",
        "ORION_MASTER_PASSWORD_FILE": str(password_file),
        "ORION_ALERT_WEBHOOK_URL": "https://hooks.example/services/S3CRET-HOOK",
        "ORION__POLYMARKET__CLOB_URL": "https://u:S3CRET-PROXY-PW@proxy.example/clob?api_key=S3CRET-API-KEY",
        # review: a gateway's token in a URL's path
        "ORION__POLYMARKET__DATA_URL": f"https://proxy.example/k/{path_token}/data",
        "ORION__ALERTS__TELEGRAM_CHAT_ID": key_like,
        "KALSHI_API_KEY_ID": "S3CRET-API-KEY",
    }
    for args in (("halt", "-r", "x"), ("resume", "--yes"), ("reconcile", "--demo")):
        result = run(*args, env=env)
        assert result.exit_code == 0, result.output
    records = loaded()
    assert len(records) == 1
    settings = records[0]["payload"]["settings"]
    assert settings["polymarket.clob_url"]["value"] == "https://***@proxy.example/clob?api_key=***"
    assert settings["alerts.telegram_chat_id"]["value"].startswith("(not shown")
    assert settings["polymarket.data_url"]["value"] == "https://proxy.example/k/***/data"
    ledger_bytes = b"".join(p.read_bytes() for p in ledger.parent.glob("orion.db*"))
    tail = run("audit", "tail", "-n", "1000", "--jsonl").stdout
    for secret in (*SECRETS, key_like, "ab" * 32, path_token):
        assert secret.encode() not in ledger_bytes, secret
        assert secret not in tail, secret


def test_a_failed_record_is_a_warning_and_the_command_goes_on(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orion_cli.core.errors import StorageError
    from orion_cli.store import config_loaded

    def locked(*args: Any, **kwargs: Any) -> None:
        raise StorageError("the database is locked (another process is writing)", reason="storage_busy")

    monkeypatch.setattr(config_loaded, "record_config_loaded", locked)
    for args in (("halt", "-r", "x"), ("resume", "--yes"), ("reconcile", "--demo")):
        result = run("-q", *args)
        assert result.exit_code == 0, result.output
        assert ("warning: the configuration in use was not recorded in the audit log (config.loaded): the database "
                "is locked (another process is writing); going on") in result.stderr.splitlines()
    assert loaded() == []


def test_a_broken_chain_is_still_exit_7_and_the_record_links_to_the_anchor(ledger: Path) -> None:
    assert run("halt", "-r", "a").exit_code == 0
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        conn.execute("UPDATE audit_events SET payload = '{\"reason\":\"forged\"}' WHERE seq = 2")
        conn.commit()
    assert run("reconcile", "--demo", env={"ORION__LIMITS__ORDER_NOTIONAL": "55"}).exit_code == 0
    assert [e["actor"]["command"] for e in loaded()] == ["halt", "reconcile"]
    verify = run("--json", "audit", "verify")
    assert verify.exit_code == 7 and json.loads(verify.stdout)["first_bad_seq"] == 2


def test_a_halt_under_a_broken_config_records_none(ledger: Path) -> None:
    config = ledger.parent / "config.toml"
    config.write_text('[limits]\norder_notionl = "5"\n')
    result = run("halt", "-r", "x")
    assert result.exit_code == 0 and "the configuration is invalid" in result.stderr
    config.unlink()
    assert [e["type"] for e in events()] == ["config.initialized", "halt.engaged"]


def test_processes_starting_together_record_it_once(ledger: Path, isolated_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION")}
    env["ORION_HOME"] = str(isolated_home)
    procs = [subprocess.Popen([*ORION_ARGV, "halt", "-r", f"r{i}"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert len(loaded()) == 1
    assert run("audit", "verify").exit_code == 0


def test_record_config_loaded_compares_with_the_newest_record_in_the_ledger(ledger: Path) -> None:
    db = open_database(str(ledger))
    try:
        base, other = load_settings(), load_settings(overrides={"limits.order_notional": "7"})
        assert record_config_loaded(db, base, mode="paper") is not None
        assert record_config_loaded(db, base, mode="live") is None  # one ledger, one record per configuration
        AuditLog(db).record(CONFIG_LOADED, {"unreadable": True})  # a newest one without a digest: recorded anew
        assert record_config_loaded(db, base, mode="paper") is not None
        assert record_config_loaded(db, other, mode="paper") is not None
        assert record_config_loaded(db, other, mode="paper") is None
    finally:
        db.dispose()
