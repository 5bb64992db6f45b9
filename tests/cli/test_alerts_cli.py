"""Alerts through the CLI: `orion reconcile` and `orion trade` build their sink with `live_venues.alert_sink`.

tests/core/test_alerts.py covers the sink itself; nothing else checks the wiring a command gets: the
vault read lazily for the webhook URL, a vault that cannot be opened turning alerts off with a
warning (never failing the command), and alerts disabled never touching the vault. These tests run
the real app in-process (CliRunner, so no terminal and no prompt) against a throwaway production-KDF
vault (the CLI refuses a weak one) and a loopback HTTPS receiver. The vault accepts only an https://
webhook URL, so the receiver serves a certificate from a throwaway CA that httpx trusts through
``SSL_CERT_FILE``. Drift is injected as tests/cli/test_reconcile_cli.py does it: the paper venue the
command builds is replaced by a subclass that reports one extra position.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from orion_cli.cli.app import app
from orion_cli.core import logs
from orion_cli.core.models import Side, Venue
from orion_cli.secrets import unlock as unlock_mod
from orion_cli.secrets.store import open_store
from orion_cli.secrets.unlock import PASSWORD_FILE_ENV, resolve_master_password
from orion_cli.store.audit import AuditLog
from orion_cli.store.db import open_database
from orion_cli.venues import paper as paper_mod
from orion_cli.venues.trading import Position

ALERTS_OFF_WARNING = "alerts are enabled but off for this run"
ENV_PASSWORD_WARNING = "ORION_MASTER_PASSWORD from the environment"
COMMAND_TIMEOUT = 30.0  # seconds; the command's own alert flush waits at most 5


# -- a loopback HTTPS webhook -----------------------------------------------------------------------


def _tls_files(where: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a 127.0.0.1 server certificate it signed: (ca.pem, server.pem, server.key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orion alerts test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = (where / "ca.pem", where / "server.pem", where / "server.key")
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return files


class Receiver:
    """An HTTPS webhook on 127.0.0.1 that records every JSON body it is sent and answers 200."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200  # what it answers (set back to 200 by clear)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver.lock:
                    receiver.bodies.append(body)
                    receiver.paths.append(self.path)
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def kinds(self) -> list[str]:
        with self.lock:
            return [str(b.get("kind")) for b in self.bodies]

    def clear(self) -> None:
        with self.lock:
            self.bodies.clear()
            self.paths.clear()
            self.status = 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class World:
    """Everything a test shares: the receiver, the vault holding its URL, the right and a wrong password file."""

    receiver: Receiver
    ca: Path
    vault: Path
    password_file: Path
    wrong_password_file: Path
    secret_values: dict[str, str] = field(repr=False)

    def assert_no_secret(self, text: str) -> None:
        for name, value in self.secret_values.items():
            if value in text:  # not a bare assert: its report would print the value
                pytest.fail(f"{name} leaked into the output", pytrace=False)


def _private_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One receiver and one vault per module (a production-KDF vault costs ~1 s to create)."""
    where = tmp_path_factory.mktemp("alerts-cli")
    ca, cert, key = _tls_files(where)
    receiver = Receiver(cert, key)
    token = secrets.token_urlsafe(24)
    url = f"https://127.0.0.1:{receiver.port}/hook/{token}"
    password, wrong = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    password_file = _private_file(where / "master-password", password)
    vault = where / "vault.json"
    store = open_store("vault", vault_path=vault, password=lambda new: resolve_master_password(
        vault, environ={PASSWORD_FILE_ENV: str(password_file)}, prompt=None, keyring_get=None, new=new))
    store.set_many({"alert_webhook_url": url})
    store.close()
    try:
        yield World(receiver, ca, vault, password_file, _private_file(where / "wrong-password", wrong),
                    {"the webhook URL's token": token, "the master password": password,
                     "the wrong master password": wrong})
    finally:
        receiver.close()


@pytest.fixture(autouse=True)
def _environment(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Alerts enabled (generic JSON) on this vault; no OS keyring, no proxy, no password source."""
    import keyring
    from keyring.backends import fail

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)  # a keyring that holds nothing
    monkeypatch.setenv("SSL_CERT_FILE", str(world.ca))  # httpx trusts the throwaway CA (and only it)
    monkeypatch.setenv("ORION__SECRETS__VAULT_PATH", str(world.vault))
    monkeypatch.setenv("ORION__ALERTS__ENABLED", "true")
    monkeypatch.setenv("ORION__ALERTS__FORMAT", "generic")
    monkeypatch.setenv("ORION__ALERTS__TIMEOUT_SECONDS", "5")
    world.receiver.clear()
    unlock_mod.reset_warning_state()
    yield
    logs.reset_logging()  # leave no handler on a closed CliRunner stream to the next test
    unlock_mod.reset_warning_state()


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    """A ledger that exists, as `orion init` leaves it (reconcile refuses one named but missing)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    open_database(url).dispose()
    return url


@pytest.fixture
def drifting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper venue reports one Kalshi position the ledger does not hold (as test_reconcile_cli does)."""
    extra = Position(Venue.KALSHI, "KXNBA-26-NYK", Side.YES, D("3"), D("0.30"), D("0.9"))

    class Drifting(paper_mod.PaperVenue):
        async def positions(self) -> list[Position]:
            found = await super().positions()
            return [*found, extra] if self.venue is Venue.KALSHI else found

    monkeypatch.setattr(paper_mod, "PaperVenue", Drifting)


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    exception: BaseException | None


def _invoke(world: World, *args: str) -> Run:
    # The stderr log handler is made once per process, on the stderr of the moment: remake it on this
    # invocation's (CliRunner closes the previous one), or the alerts warning would be lost.
    logs.reset_logging()
    started = time.monotonic()
    res = CliRunner().invoke(app, list(args))
    run = Run(res.exit_code, res.stdout, res.stderr, time.monotonic() - started, res.exception)
    world.assert_no_secret(run.stdout + run.stderr)
    assert "Traceback" not in run.stdout + run.stderr
    assert run.exception is None or isinstance(run.exception, SystemExit), repr(run.exception)
    assert run.seconds < COMMAND_TIMEOUT
    return run


def _reconcile(world: World, db_file: str) -> Run:
    run = _invoke(world, "--db", db_file, "reconcile", "--demo", "--halt-on-drift", "--json")
    assert run.code == 7, run.stderr
    records = {r["venue"]: r for r in json.loads(run.stdout)}
    assert (records["kalshi"]["status"], records["polymarket"]["status"]) == ("drift", "clean")
    assert "HALTED" in run.stderr
    return run


def _alert_events(db_file: str) -> list[tuple[str, dict[str, Any]]]:
    db = open_database(db_file)
    try:
        return [(e.type, e.payload) for e in AuditLog(db).tail(100, types=("alert",))]
    finally:
        db.dispose()


def _halted(db_file: str) -> bool:
    from orion_cli.risk.halt import KillSwitch

    db = open_database(db_file)
    try:
        return KillSwitch(db).status().halted
    finally:
        db.dispose()


# -- reconcile ------------------------------------------------------------------------------------------


def test_reconcile_drift_is_delivered_to_the_webhook_and_audited_as_sent(
        world: World, db_file: str, drifting: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    run = _reconcile(world, db_file)
    assert ALERTS_OFF_WARNING not in run.stderr
    # The command flushes its alerts before it returns, so they are checked at once, not waited for.
    kinds = world.receiver.kinds()
    assert sorted(kinds) == ["halt", "reconcile.drift"], kinds
    body = next(b for b in world.receiver.bodies if b["kind"] == "reconcile.drift")
    assert body["type"] == "alert" and body["host"] and body["ts"].endswith("Z")
    assert body["payload"]["venue"] == "kalshi" and body["payload"]["mode"] == "paper"
    assert [(d["market"], d["venue_qty"]) for d in body["payload"]["drifts"]] == [("KXNBA-26-NYK", "3")]
    assert set(world.receiver.paths) == {"/hook/" + world.secret_values["the webhook URL's token"]}
    events = _alert_events(db_file)
    assert [t for t, _ in events] == ["alert.sent"] * len(kinds)  # each delivery audited, none as failed
    sent = next(p for _, p in events if p["kind"] == "reconcile.drift")
    assert sent == {**sent, "format": "generic", "status": 200, "error": None}
    world.assert_no_secret(json.dumps(events))  # the URL is never audited
    assert _halted(db_file)


def test_reconcile_halt_on_drift_also_sends_a_halt_alert_once(
        world: World, db_file: str, drifting: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A halt engaged by reconcile is alerted like one engaged by an execution; an existing halt is not re-alerted."""
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    _reconcile(world, db_file)
    assert _halted(db_file)
    halt = next(b for b in world.receiver.bodies if b["kind"] == "halt")
    assert halt["payload"]["kind"] == "reconcile" and halt["payload"]["venue"] == "kalshi"
    assert "drift" in halt["message"]
    _reconcile(world, db_file)  # still halted: the drift is alerted again, the halt is not
    assert world.receiver.kinds().count("halt") == 1
    assert world.receiver.kinds().count("reconcile.drift") == 2


def _alerts_off_warning(stderr: str) -> str:
    """The one warning that alerts are off, which must say the vault could not be read (not "URL not set")."""
    warnings = [line for line in stderr.splitlines() if ALERTS_OFF_WARNING in line]
    assert len(warnings) == 1, stderr
    # The command's own `warning:` line (kept with -q), not a raw `WARNING orion_cli.core.alerts` log record.
    assert warnings[0].startswith("warning: ") and "could not be read" in warnings[0], warnings[0]
    return warnings[0]


@pytest.mark.parametrize("command", ["halt", "resume", "reconcile", "trade"])
def test_quiet_keeps_the_one_warning_that_alerts_are_off(world: World, db_file: str, command: str) -> None:
    """Found black-box: `orion -q halt` with alerts enabled but no way to send them printed only `HALTED`;
    the warning was a log record, which -q drops, so a cron job never learned its halt alert went nowhere.
    It is now the command's own `warning:` line, kept with -q, given once. (No password source here: the
    vault cannot be opened.)"""
    if command == "resume":
        assert _invoke(world, "--db", db_file, "halt", "--reason", "drill").code == 0
        run = _invoke(world, "-q", "--db", db_file, "resume", "--yes")
    elif command == "halt":
        run = _invoke(world, "-q", "--db", db_file, "halt", "--reason", "drill")
    elif command == "reconcile":
        run = _invoke(world, "-q", "--db", db_file, "reconcile", "--demo")
    else:
        scan = _invoke(world, "--db", db_file, "scan", "--demo", "--jsonl")
        assert scan.code == 0, scan.stderr
        op_id = json.loads(scan.stdout.splitlines()[0])["id"]
        run = _invoke(world, "-q", "--db", db_file, "trade", op_id, "--demo", "--confirm", "--size", "7", "--jsonl")
    assert run.code == 0, run.stderr
    assert "ORION_MASTER_PASSWORD_FILE" in _alerts_off_warning(run.stderr)
    assert world.receiver.kinds() == []


@pytest.mark.parametrize("command", ["halt", "resume", "reconcile", "trade"])
def test_quiet_still_says_an_alert_was_not_delivered(
        world: World, db_file: str, drifting: None, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found black-box: a webhook refusing the alert left only an `alert.failed` audit event and, without -q,
    a raw `WARNING orion_cli.core.alerts` log line; with -q (a cron job) nothing said the halt alert went
    nowhere. Each command now says so in its own `warning:` line, kept with -q, once per alert."""
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    monkeypatch.setenv("ORION__ALERTS__RETRIES", "0")
    if command == "resume":
        assert _invoke(world, "--db", db_file, "halt", "--reason", "drill").code == 0
        world.receiver.clear()
        world.receiver.status = 400
        run = _invoke(world, "-q", "--db", db_file, "resume", "--yes")
    elif command == "halt":
        world.receiver.status = 400
        run = _invoke(world, "-q", "--db", db_file, "halt", "--reason", "drill")
    elif command == "reconcile":
        world.receiver.status = 400
        run = _invoke(world, "-q", "--db", db_file, "reconcile", "--demo", "--json")
    else:
        monkeypatch.setenv("ORION__ALERTS__LOW_BALANCE", "1000000")
        scan = _invoke(world, "--db", db_file, "scan", "--demo", "--jsonl")
        assert scan.code == 0, scan.stderr
        op_id = json.loads(scan.stdout.splitlines()[0])["id"]
        world.receiver.status = 400
        run = _invoke(world, "-q", "--db", db_file, "trade", op_id, "--demo", "--confirm", "--size", "7", "--jsonl")
    assert run.code == (7 if command == "reconcile" else 0), run.stderr
    kind = {"halt": "halt", "resume": "resume", "reconcile": "reconcile.drift", "trade": "balance.low"}[command]
    said = [line for line in run.stderr.splitlines() if "was not delivered" in line]
    expected = f"warning: alert {kind} was not delivered (HTTP 400 after 1 attempt); audited as alert.failed"
    assert expected in said and len(said) == len(world.receiver.bodies), run.stderr
    assert "orion_cli.core.alerts" not in run.stderr  # no raw log record besides


def test_the_alerts_warning_and_an_error_reach_logging_file_as_printed(
        world: World, db_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: once the alerts warning became the command's own `warning:` line, a service
    logging to logging.file lost it there (it had been a log record). Every warning, banner and error
    the command prints now reaches the file too, whatever -q and the log level say."""
    log_file = tmp_path / "orion.log"
    monkeypatch.setenv("ORION__LOGGING__FILE", str(log_file))
    run = _invoke(world, "-q", "--db", db_file, "halt", "--reason", "drill")
    assert run.code == 0, run.stderr
    lines = log_file.read_text().splitlines()
    printed = _alerts_off_warning(run.stderr)
    assert [ln for ln in lines if " WARNING " in ln and ln.endswith(printed)], lines
    run = _invoke(world, "--db", db_file, "resume")  # no terminal, no --yes: refused (exit 6)
    assert run.code == 6, run.stderr
    said = [ln for ln in run.stderr.splitlines() if ln.startswith(("error: ", "hint: "))]
    assert len(said) == 2, run.stderr
    lines = log_file.read_text().splitlines()
    for text in said:
        assert [ln for ln in lines if " ERROR " in ln and ln.endswith(text)], (text, lines)


def _unsent(db_file: str) -> list[tuple[str, str]]:
    """(kind, reason) of each alert audited as failed because alerts were unavailable."""
    return [(p["kind"], p["reason"]) for t, p in _alert_events(db_file)
            if t == "alert.failed" and p["error"] == "unavailable" and p["attempts"] == 0]


@pytest.mark.parametrize(("unlock", "reason", "says"), [
    ("wrong-password-file", "wrong_password", "wrong master password"),
    ("no-password-source", "locked", "ORION_MASTER_PASSWORD_FILE"),
])
def test_reconcile_with_a_vault_that_cannot_be_opened_still_reports_drift_with_alerts_off(
        world: World, db_file: str, drifting: None, monkeypatch: pytest.MonkeyPatch, unlock: str,
        reason: str, says: str) -> None:
    if unlock == "wrong-password-file":
        monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.wrong_password_file))
    run = _reconcile(world, db_file)
    assert says in _alerts_off_warning(run.stderr)  # the reason in words, not a bare code
    assert world.receiver.kinds() == []
    # Nothing was sent, and the audit log says so too.
    assert sorted(_unsent(db_file)) == [("halt", reason), ("reconcile.drift", reason)]
    assert _halted(db_file)  # the halt the run was asked for still happened


def test_reconcile_with_alerts_disabled_never_opens_the_vault(
        world: World, db_file: str, drifting: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # The right password, but from the environment: opening the vault would print a warning about it.
    monkeypatch.setenv("ORION__ALERTS__ENABLED", "false")
    monkeypatch.setenv("ORION_MASTER_PASSWORD", world.password_file.read_text().strip())
    run = _reconcile(world, db_file)
    assert ENV_PASSWORD_WARNING not in run.stderr
    # (the commands named carry --db, whose path holds this test's name: it is not a word about alerts)
    said = run.stderr.replace(db_file, "DB").lower()
    assert ALERTS_OFF_WARNING not in run.stderr and "alert" not in said
    assert world.receiver.kinds() == []
    assert _alert_events(db_file) == []


def test_the_environment_password_warning_shows_when_alerts_do_open_the_vault(
        world: World, db_file: str, drifting: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control for the test above: the same set-up with alerts enabled opens the vault, and says so."""
    monkeypatch.setenv("ORION_MASTER_PASSWORD", world.password_file.read_text().strip())
    run = _reconcile(world, db_file)
    assert run.stderr.count(ENV_PASSWORD_WARNING) == 1, run.stderr
    assert "reconcile.drift" in world.receiver.kinds()


# -- trade ----------------------------------------------------------------------------------------------


def test_paper_trade_succeeds_when_alerts_are_enabled_but_the_vault_cannot_be_opened(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.wrong_password_file))
    scan = _invoke(world, "scan", "--demo", "--jsonl")
    assert scan.code == 0, scan.stderr
    op_id = json.loads(scan.stdout.splitlines()[0])["id"]
    run = _invoke(world, "trade", op_id, "--demo", "--confirm", "--size", "7", "--jsonl")
    assert run.code == 0, run.stderr
    execution = json.loads(run.stdout.splitlines()[-1])
    assert execution["type"] == "execution" and execution["status"] == "done", execution
    assert "wrong master password" in _alerts_off_warning(run.stderr)
    assert world.receiver.kinds() == []


def test_a_trade_alerts_a_low_balance_once_per_venue_on_the_way_down(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paper balances (10,000 each by default) below a raised threshold: one balance.low per venue."""
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    monkeypatch.setenv("ORION__ALERTS__LOW_BALANCE", "1000000")
    scan = _invoke(world, "scan", "--demo", "--jsonl")
    assert scan.code == 0, scan.stderr
    op_id = json.loads(scan.stdout.splitlines()[0])["id"]
    run = _invoke(world, "trade", op_id, "--demo", "--confirm", "--size", "7", "--jsonl")
    assert run.code == 0, run.stderr
    low = sorted(b["payload"]["venue"] for b in world.receiver.bodies if b["kind"] == "balance.low")
    assert low == ["kalshi", "polymarket"]
    assert all(b["payload"]["threshold"] == "1000000" for b in world.receiver.bodies if b["kind"] == "balance.low")


def test_a_trade_whose_own_fills_take_a_venue_below_the_threshold_alerts_it(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: the low balance was checked before an execution only, so a trade whose own fills
    took a venue below `alerts.low_balance` was alerted by some later trade, if any. Paper balances start
    at 1000: the threshold sits just under that, so only the fills cross it; once per crossing."""
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    monkeypatch.setenv("ORION__ALERTS__LOW_BALANCE", "999.99")
    scan = _invoke(world, "--db", db_file, "scan", "--demo", "--jsonl")
    assert scan.code == 0, scan.stderr
    op_id = json.loads(scan.stdout.splitlines()[0])["id"]
    run = _invoke(world, "--db", db_file, "trade", op_id, "--demo", "--confirm", "--size", "7", "--jsonl")
    assert run.code == 0, run.stderr
    low = [b for b in world.receiver.bodies if b["kind"] == "balance.low"]
    assert sorted(b["payload"]["venue"] for b in low) == ["kalshi", "polymarket"], world.receiver.kinds()
    assert all(D(b["payload"]["available"]) < D("999.99") and b["payload"]["mode"] == "paper" for b in low)
    again = _invoke(world, "--db", db_file, "trade", op_id, "--demo", "--confirm", "--size", "7",
                    "--idempotency-key", "second", "--jsonl")
    assert again.code in (0, 7), again.stderr
    assert [b["kind"] for b in world.receiver.bodies].count("balance.low") == 2  # still low: not again


# -- halt -----------------------------------------------------------------------------------------------


def test_a_halt_by_hand_is_alerted_once_and_audited_as_sent(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`orion halt` engages the switch and alerts it (kind halt, who and why); halting again alerts nothing."""
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    run = _invoke(world, "--db", db_file, "halt", "--reason", "venue outage", "--json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["halted"] is True and _halted(db_file)
    assert world.receiver.kinds() == ["halt"]
    body = world.receiver.bodies[0]
    assert body["payload"]["kind"] == "manual" and body["payload"]["reason"] == "venue outage"
    assert body["payload"]["mode"] == "paper" and body["payload"]["by"]["user"]
    # A person's halt stops live trading too: said so, whatever the command's mode (found on a first live day).
    assert "trading (paper and live) halted" in body["message"] and "venue outage" in body["message"], body
    assert body["payload"]["scope"] == "all"
    assert [(t, p["kind"]) for t, p in _alert_events(db_file)] == [("alert.sent", "halt")]
    again = _invoke(world, "--db", db_file, "halt", "--reason", "still out")
    assert again.code == 0, again.stderr
    assert world.receiver.kinds() == ["halt"]  # the halt that came first was the one alerted


def test_a_watch_stopped_by_the_sentinel_file_alerts_that_halt_and_one_stopped_by_orion_halt_does_not_again(
        world: World, db_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found reviewing alerts: the sentinel file (the documented emergency path, created by hand or by a
    monitor) stopped every watch, and nothing alerted it: `orion halt` alerts the halt it engages, the file
    has no command. The watch it stops says so; a halt `orion halt` engaged was alerted by it, not again."""
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    sentinel = tmp_path / "HALT"
    sentinel.write_text("ops stop: exchange incident\n")
    monkeypatch.setenv("ORION__HALT__SENTINEL_FILE", str(sentinel))
    run = _invoke(world, "--db", db_file, "trade", "--watch", "1", "--demo", "--jsonl")
    assert run.code == 6, run.stderr
    assert world.receiver.kinds() == ["halt"]
    body = world.receiver.bodies[0]
    assert (body["payload"]["kind"], body["payload"]["sentinel"], body["payload"]["reason"]) == (
        "sentinel", str(sentinel), "ops stop: exchange incident")
    assert f"sentinel file {sentinel}" in body["message"] and "watch stopped" in body["message"], body
    assert [(t, p["kind"]) for t, p in _alert_events(db_file)] == [("alert.sent", "halt")]

    sentinel.unlink()
    run = _invoke(world, "--db", db_file, "halt", "--reason", "by hand")
    assert run.code == 0, run.stderr
    run = _invoke(world, "--db", db_file, "trade", "--watch", "1", "--demo", "--jsonl")
    assert run.code == 6, run.stderr
    assert world.receiver.kinds() == ["halt", "halt"]  # the sentinel's, then `orion halt`'s own: not the watch's


def test_a_halt_never_asks_for_the_vault_password_to_alert(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal with no password source, the halt is engaged and its alert audited as not sent:
    the kill switch does not stop to ask for a password (trade and reconcile may)."""
    from orion_cli.cli import prompts

    def asked(*args: object, **kwargs: object) -> str:
        raise AssertionError("halt asked for the vault password")

    monkeypatch.setattr(prompts, "interactive", lambda: True)
    monkeypatch.setattr(prompts, "ask_secret", asked)
    run = _invoke(world, "--db", db_file, "halt", "--reason", "panic")
    assert run.code == 0, run.stderr
    assert _halted(db_file)
    assert "ORION_MASTER_PASSWORD_FILE" in _alerts_off_warning(run.stderr)
    assert world.receiver.kinds() == []
    assert _unsent(db_file) == [("halt", "locked")]


def test_a_halt_with_alerts_disabled_never_opens_the_vault(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORION__ALERTS__ENABLED", "false")
    monkeypatch.setenv("ORION_MASTER_PASSWORD", world.password_file.read_text().strip())
    run = _invoke(world, "--db", db_file, "halt")
    assert run.code == 0, run.stderr
    assert ENV_PASSWORD_WARNING not in run.stderr and "alert" not in run.stderr.lower()
    assert world.receiver.kinds() == [] and _alert_events(db_file) == []


def test_a_resume_is_alerted_with_the_halt_it_released_and_who_released_it(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: `orion halt` alerted, `orion resume` did not, so a team watching the alert
    channel never learned that trading had restarted. Resuming while not halted alerts nothing."""
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    halt = _invoke(world, "--db", db_file, "halt", "--reason", "venue outage", "--json")
    assert halt.code == 0, halt.stderr
    since = json.loads(halt.stdout)["since"]
    run = _invoke(world, "--db", db_file, "resume", "--yes", "--json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["halted"] is False and not _halted(db_file)
    assert world.receiver.kinds() == ["halt", "resume"]
    body = world.receiver.bodies[1]
    payload = body["payload"]
    assert (payload["was_kind"], payload["was_reason"], payload["was_since"]) == ("manual", "venue outage", since)
    assert payload["mode"] == "paper" and payload["by"]["command"] == "resume" and payload["by"]["user"]
    assert "trading (paper and live) resumed" in body["message"] and "venue outage" in body["message"], body
    assert payload["was_scope"] == "all"
    assert [(t, p["kind"]) for t, p in _alert_events(db_file)] == [("alert.sent", "halt"), ("alert.sent", "resume")]
    again = _invoke(world, "--db", db_file, "resume", "--yes")
    assert again.code == 0, again.stderr
    assert world.receiver.kinds() == ["halt", "resume"]  # nothing was released, nothing alerted


def test_a_resume_warns_of_unhedged_executions_before_it_waits_on_its_alert(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The warning naming the command that resumes an unhedged execution is the operator's next step:
    it must not wait behind the vault's key derivation and the alert's delivery (up to 5 s)."""
    import orion_cli.cli.commands.halt as halt_cmd
    from orion_cli.core import alerts

    order: list[str] = []
    real_sink = alerts.webhook_sink

    def warn(app: object) -> None:
        order.append("warn")

    def sink(*args: Any, **kwargs: Any) -> Any:
        order.append("alert")
        return real_sink(*args, **kwargs)

    monkeypatch.setattr(halt_cmd, "_warn_unhedged", warn)
    monkeypatch.setattr(alerts, "webhook_sink", sink)
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    monkeypatch.setenv("ORION__ALERTS__ENABLED", "false")  # the halt's own alert stays out of the order
    assert _invoke(world, "--db", db_file, "halt").code == 0
    monkeypatch.setenv("ORION__ALERTS__ENABLED", "true")
    run = _invoke(world, "--db", db_file, "resume", "--yes")
    assert run.code == 0, run.stderr
    assert order == ["warn", "alert"] and world.receiver.kinds() == ["resume"]


@pytest.mark.parametrize("command", ["halt", "resume"])
def test_a_stop_during_the_halt_or_resume_alert_wait_is_held_until_it_is_delivered_or_audited(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """Found in review: Ctrl-C (or SIGTERM) during `orion halt`'s or `orion resume`'s wait for its alert
    (up to 5 s) raised out of the wait, as it once did in `trade` and `reconcile`: the alert was neither
    delivered nor audited (no alert.sent, no alert.failed), and a resume exited 130 saying only
    "interrupted". The stop now waits for that bounded wait; the command then ends as the stop does."""
    import os
    import signal

    from orion_cli.core import alerts

    real_flush = alerts.WebhookAlertSink.flush

    def stopped_during_flush(self: Any, timeout: float = 5.0) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # the operator's Ctrl-C, while the sink waits
        real_flush(self, timeout)

    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    if command == "resume":
        monkeypatch.setenv("ORION__ALERTS__ENABLED", "false")  # the halt's own alert stays out of it
        assert _invoke(world, "--db", db_file, "halt", "--reason", "venue outage").code == 0
        monkeypatch.setenv("ORION__ALERTS__ENABLED", "true")
    monkeypatch.setattr(alerts.WebhookAlertSink, "flush", stopped_during_flush)
    args = ["--reason", "venue outage"] if command == "halt" else ["--yes"]
    run = _invoke(world, "--db", db_file, command, *args)
    assert run.code == 130, run.stderr
    assert "stopping after the alerts are delivered or audited" in run.stderr
    done = "the halt was engaged and alerted" if command == "halt" else "the kill switch was released"
    assert f"interrupted: {done}" in run.stderr
    assert world.receiver.kinds() == [command]
    assert [(t, p["kind"]) for t, p in _alert_events(db_file)] == [("alert.sent", command)]
    assert _halted(db_file) is (command == "halt")


def test_a_resume_with_alerts_disabled_never_opens_the_vault(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORION__ALERTS__ENABLED", "false")
    monkeypatch.setenv("ORION_MASTER_PASSWORD", world.password_file.read_text().strip())
    assert _invoke(world, "--db", db_file, "halt").code == 0
    run = _invoke(world, "--db", db_file, "resume", "--yes")
    assert run.code == 0, run.stderr
    assert ENV_PASSWORD_WARNING not in run.stderr and "alert" not in run.stderr.lower()
    assert world.receiver.kinds() == [] and _alert_events(db_file) == []


def test_a_halt_cancels_resting_orders_before_it_opens_the_vault_to_alert(
        world: World, db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: the alert's sink (the vault's key derivation, ~0.4 s, more for a costlier vault)
    was built before --cancel-open, so every resting order waited on it. The cancels go first now."""
    import orion_cli.cli.commands.halt as halt_cmd
    from orion_cli.core import alerts

    order: list[str] = []
    real_sink = alerts.webhook_sink

    def cancel(app: object, mode: str) -> tuple[list[object], list[str], None, list[str]]:
        order.append("cancel")
        return [], [], None, []

    def sink(*args: Any, **kwargs: Any) -> Any:
        order.append("alert")
        return real_sink(*args, **kwargs)

    monkeypatch.setattr(halt_cmd, "_cancel_open", cancel)
    monkeypatch.setattr(alerts, "webhook_sink", sink)
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(world.password_file))
    run = _invoke(world, "--db", db_file, "halt", "--cancel-open")
    assert run.code == 0, run.stderr
    assert order == ["cancel", "alert"] and world.receiver.kinds() == ["halt"]
