"""``orion secrets``: put venue credentials into the encrypted vault and manage them.

Values never come from argv: they come from hidden prompts, the environment, a ``.env`` file or a
value file. Nothing here prints a value; every change is audited as ``secrets.changed`` (name only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orion_cli.cli.context import AppContext, get_app
from orion_cli.cli.groups import CommandGroup
from orion_cli.cli.output import Column
from orion_cli.cli.stopping import StopFlag, end_if_stopped, finish_first

if TYPE_CHECKING:
    from orion_cli.secrets.importer import ImportPlan
    from orion_cli.secrets.store import AuditScope, SecretStore
    from orion_cli.secrets.unlock import MasterPassword
    from orion_cli.secrets.vault import KdfParams

app = typer.Typer(
    help="Venue credentials, encrypted at rest (vault file or OS keyring). Values are never printed.\n\n"
         "Example:  orion secrets list",
    no_args_is_help=True,
    cls=CommandGroup,
)

# Tests set this to the cheap test KDF; nothing else does (it is not reachable from env or config).
_TEST_KDF: KdfParams | None = None

LIST_COLUMNS = [
    Column("name", "name"),
    Column("set", "set"),
    Column("updated_at", "updated"),
    Column("venue", "venue"),
    Column("description", "description"),
    Column("held", "held in"),
]
CHECK_COLUMNS = [Column("name", "name"), Column("status", "status"), Column("detail", "detail")]
STORED_COLUMNS = [Column("name", "name"), Column("source", "from")]


# -- wiring -------------------------------------------------------------------------------------


def _vault_path(app_ctx: AppContext) -> Path:
    from orion_cli.secrets.vault import default_vault_path

    configured = app_ctx.settings().secrets.vault_path
    return Path(configured).expanduser() if configured else default_vault_path()


def _prompt_hidden(message: str) -> str:
    from orion_cli.cli.prompts import ask_secret

    return ask_secret(message)


def _password_provider(app_ctx: AppContext, path: Path) -> Any:
    from orion_cli.cli.prompts import interactive
    from orion_cli.secrets.unlock import resolve_master_password

    def provide(new: bool) -> MasterPassword:
        return resolve_master_password(
            path, prompt=_prompt_hidden if interactive() else None, warn=app_ctx.out.warn, new=new
        )

    return provide


def _audit(app_ctx: AppContext, backend: str) -> AuditScope:
    """The change's ``secrets.changed`` events (one per name, in one transaction), written before the
    change under the ledger's write lock and committed after it (see ``SecretStore._recorded``).

    Appended after the change in a transaction of its own, a busy ledger made `rotate` say "database is
    busy … retry" (exit 3) with the vault already re-keyed, unaudited, and the keyring not updated."""

    @contextlib.contextmanager
    def scope(action: str, names: list[str]) -> Iterator[None]:
        from orion_cli.store.audit import AuditLog, batched

        with app_ctx.db().write() as conn:
            with batched(conn):
                for name in names:
                    AuditLog.append(conn, "secrets.changed", {"action": action, "name": name, "backend": backend},
                                    mode=app_ctx.mode())
            yield

    return scope


def _open(app_ctx: AppContext) -> SecretStore:
    from orion_cli.secrets.store import open_store
    from orion_cli.secrets.vault import DEFAULT_KDF

    backend = app_ctx.settings().secrets.backend
    path = _vault_path(app_ctx)
    return open_store(
        backend,
        vault_path=path,
        password=_password_provider(app_ctx, path),
        audit=_audit(app_ctx, backend),
        # The ledger the change is audited in, opened (a missing one created) only once a change goes
        # ahead: a command that fails leaves no ledger behind at a mistyped --db or ORION_HOME.
        before_change=app_ctx.db,
        kdf=_TEST_KDF or DEFAULT_KDF,
        allow_weak_kdf=_TEST_KDF is not None,
    )


# -- encrypt ------------------------------------------------------------------------------------


def _interactive_plan(app_ctx: AppContext, held: set[str], *, replace: bool) -> ImportPlan:
    """Ask for each credential with a hidden prompt (Enter skips); PEM keys are read from a file.

    Each answer is validated as soon as it is given and asked for again while it is wrong: checked only
    after the last prompt, one typo in the first answer threw every answer away. A credential already
    stored (``held``) is not asked for unless ``replace``: an answer would replace it.
    """
    from orion_cli.cli.prompts import ask_text
    from orion_cli.secrets.importer import ImportPlan
    from orion_cli.secrets.names import CATALOGUE

    plan = ImportPlan()
    app_ctx.out.info("Enter each credential (input is hidden); press Enter to skip one.")
    for spec in CATALOGUE.values():
        stored = spec.name in held
        if stored and not replace:
            app_ctx.out.info(f"{spec.name} is already stored: not asked (--replace to replace it)")
            continue
        keeps = " (already stored: Enter keeps it)" if stored else ""
        while True:
            if spec.multiline:
                answer = ask_text(f"{spec.description}{keeps}: path to the .pem file (Enter to skip):").strip()
            else:
                answer = _prompt_hidden(f"{spec.description}{keeps}:")
            if not answer.strip():
                break
            if _take_answer(app_ctx, plan, spec.name, answer, from_path=spec.multiline):
                break
    return plan


def _take_answer(app_ctx: AppContext, plan: ImportPlan, name: str, answer: str, *, from_path: bool) -> bool:
    """Validate one prompt's answer and add it to ``plan``; False (and why, on stderr) to ask again.

    The message names the credential and the problem, never the value (the validators' rule).
    """
    from orion_cli.core.errors import SecretsError
    from orion_cli.secrets.importer import read_value_file
    from orion_cli.secrets.names import normalise

    path: Path | None = None
    try:
        if from_path:
            try:
                path = Path(answer).expanduser()
            except RuntimeError:  # "~someone/key.pem" for a user who does not exist
                raise SecretsError("that path names the home directory of an unknown user") from None
            raw = read_value_file(path, named_by="your answer")
        else:
            raw = answer.encode("utf-8")
        normalise(name, raw)
    except SecretsError as exc:
        hint = "enter it again, or press Enter to skip it"
        app_ctx.out.error(exc.message.removesuffix("; nothing was written"),
                          hint=f"{exc.hint}; {hint}" if exc.hint else hint)
        return False
    plan.values[name] = raw
    plan.origins[name] = str(path) if path is not None else "prompt"
    if path is not None:
        plan.files.append(path)
    return True


@app.command("encrypt")
def encrypt(
    ctx: typer.Context,
    from_env: Annotated[
        bool, typer.Option("--from-env", help="Import the documented variables (KALSHI_API_KEY_ID, "
                                              "KALSHI_PRIVATE_KEY_PATH, POLYMARKET_PRIVATE_KEY, CLOB_API_KEY, ...).")
    ] = False,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="Import the same variables from a .env file.", dir_okay=False)
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Set one credential (with --value-file).")] = None,
    value_file: Annotated[
        Path | None, typer.Option("--value-file", help="File holding the value for --name.", dir_okay=False)
    ] = None,
    shred_source: Annotated[
        bool, typer.Option("--shred-source", help="After a successful import, overwrite and delete the plaintext "
                                                  "source files (asks first; refused for a .env file that also "
                                                  "holds values orion does not import).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before shredding.")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace credentials already stored with another value (without "
                                             "it such an import is refused, exit 6, nothing written or "
                                             "shredded; the prompts skip stored credentials).")
    ] = False,
) -> None:
    """Put venue credentials into the vault: hidden prompts on a terminal, or import them.

    Every value is validated before anything is written; one bad value leaves the vault unchanged. A
    credential already stored is never replaced without --replace: an import giving one another value
    is refused (exit 6, ALREADY_STORED, naming it; nothing stored or shredded), and the prompts skip it.
    At the prompts, each value is checked as it is entered and asked for again until it is valid or
    skipped; the master password is asked for first, so a mistyped one loses no answers.

    Example:  orion secrets encrypt --from-file ~/old-bot/.env --shred-source
    """
    from orion_cli.cli.prompts import confirm, interactive
    from orion_cli.core.errors import Refused, UsageError
    from orion_cli.secrets.importer import (
        VALUE_FILE_HINT,
        ImportPlan,
        from_dotenv,
        from_environ,
        looked_for,
        read_value_file,
        shred,
    )
    from orion_cli.secrets.names import CATALOGUE, unknown_credential

    app_ctx = get_app(ctx)
    out = app_ctx.out
    sources = sum([from_env, from_file is not None, name is not None or value_file is not None])
    if sources > 1:
        raise UsageError("use one of --from-env, --from-file, or --name with --value-file")
    if (name is None) != (value_file is None):
        raise UsageError("--name and --value-file go together")
    if sources == 0 and shred_source:
        raise UsageError("--shred-source needs a file source (--from-env, --from-file or --value-file)")
    _not_stdin(from_file, "--from-file")
    _not_stdin(value_file, "--value-file")

    if sources == 0 and not interactive():
        raise UsageError(
            "no terminal to prompt on: use --from-env, --from-file PATH or --name N --value-file F",
            hint="values are never accepted on the command line",
        )
    if from_env:
        plan = from_environ()
    elif from_file is not None:
        plan = from_dotenv(from_file)
    elif name is not None and value_file is not None:
        if name not in CATALOGUE:
            raise unknown_credential(name)
        plan = ImportPlan(values={name: read_value_file(value_file, named_by="--value-file", hint=VALUE_FILE_HINT)},
                          origins={name: str(value_file)}, files=[value_file])
    else:
        plan = ImportPlan()

    def nothing_to_store() -> UsageError:
        if sources == 0:
            return UsageError("no credentials entered: nothing to store")
        where = "in the environment" if from_env else f"in {from_file}"
        # The exact variables looked for: the hint named KALSHI_PRIVATE_KEY only, while the help names
        # KALSHI_PRIVATE_KEY_PATH, which holds a file's path, not the key.
        return UsageError(f"no credentials found {where}: nothing to store",
                          hint=f"looked for {looked_for()}, and the older names the README lists (PK, "
                               "CLOB_API_KEY, ...)")

    if sources and not plan.values:  # before the ledger and the vault are touched
        raise nothing_to_store()
    if shred_source and from_file is not None and plan.differing:  # even with --yes: nothing is undone
        raise _differing_aliases_refused(from_file, plan)
    if shred_source and from_file is not None and (plan.unimported or plan.unkept):  # the same: their only copy
        raise _unimported_refused(from_file, plan)
    # The audit trail first: a broken ledger must fail before the vault changes (a missing one is
    # created for a change only: before_change in _open).
    app_ctx.db_if_exists()
    store = _open(app_ctx)
    stop = StopFlag(out)
    try:
        # Asked for once all that can be checked without the master password has been (the source
        # read, its refusals, each value, the ledger, the backend): refused first, a file that cannot
        # be read sent the user round twice, `--yes` added only to be told the file does not exist.
        if shred_source and not yes and not interactive():
            from orion_cli.secrets.store import check_values

            check_values(plan.values)
            store.ready_to_write()  # no terminal: a password source that is missing or wrong is said now
            if not replace:  # a refusal of its own: `--yes` added only to be told this next
                store.refuse_replacing(plan.values)
            raise Refused("--shred-source deletes files: confirm with --yes (no terminal to ask on)",
                          reason="NOT_CONFIRMED", hint="add --yes")
        if sources == 0:
            # The master password before the credentials: a mistyped one (or two new ones that differ)
            # found after the last answer threw every answer away.
            store.ready_to_write()
            held = set(store.held(list(CATALOGUE)))
            plan = _interactive_plan(app_ctx, held, replace=replace)
            if not plan.values:
                if held and not replace:  # the lines saying each was not asked are gone under -q
                    raise UsageError("no credentials entered: nothing to store",
                                     hint=f"not asked for the {len(held)} already stored ({', '.join(sorted(held))});"
                                          " --replace asks for them too")
                raise nothing_to_store()
        differing = {d.ignored: d for d in plan.differing}
        for var in plan.shadowed:
            if var in differing:
                d = differing[var]
                out.warn(f"ignored {var}: it holds a different {d.name} than {d.stored}, which is the one taken "
                         "(keep the other value if the old bot used it)")
            else:
                out.info(f"ignored {var} (an earlier alias for the same credential was set)")
        replaced = set(store.replacing(plan.values)) if replace else set()
        stop.install()
        try:
            stored = store.set_many(plan.values, replace=replace,
                                    hold=lambda: stop.section("the credentials are stored and audited"))
        finally:
            stop.restore()
    finally:
        plan.values.clear()
        store.close()
    out.success(f"stored {len(stored)} credential(s) in the {store.backend}")
    if replaced:
        out.info(f"replaced the stored {', '.join(sorted(replaced))}")
    out.records([{"type": "secret_stored", "name": n, "source": plan.origins.get(n, ""), "replaced": n in replaced}
                 for n in stored],
                STORED_COLUMNS, title="stored")
    end_if_stopped(stop, "the credentials were stored and audited")

    if shred_source:
        files = []
        for f in dict.fromkeys(plan.files):
            if f.is_file():
                files.append(f)
            elif f.exists():  # a pipe (`<(pass show …)`) leaves nothing on disk
                out.info(f"not shredded: {f} is not a regular file")
        if not files:
            out.info("no plaintext source files to shred")
            return
        if not yes:
            listing = ", ".join(str(f) for f in files)
            if not confirm(f"Overwrite and delete {listing}?", default=False):
                out.info("source files kept")
                return
        for f in files:
            shred(f)
            out.info(f"shredded {f}")


def _not_stdin(path: Path | None, option: str, command: str = "encrypt") -> None:
    """Refuse ``-`` (and ``./-``, the same path once parsed) as a file: by convention it means stdin.

    It was read as a file named "-" in the working directory (exit 4, "cannot read -", or a stray file
    of that name imported). A value is never read from stdin, which may be a terminal echoing it or a
    pipe nothing ends; a file actually named "-" is given by its absolute path."""
    from orion_cli.core.errors import UsageError

    if path is not None and str(path) == "-":
        raise UsageError(f"{option} -: orion does not read secrets from stdin; pass the path of a file",
                         hint=f"a file named '-' by its absolute path ({option} \"$PWD/-\"); a value with no file "
                              f"on disk: {option} <(command); or run `orion secrets {command}` on a terminal "
                              "to be prompted (hidden input)")


def _differing_aliases_refused(source: Path, plan: ImportPlan) -> Exception:
    """`--shred-source` of a file in which two names for one credential hold different values.

    Only the first is stored; shredding the file would destroy the only copy of the other, which may be
    the wallet key (or API key set) the old bot really used. Refused before anything changes, even with
    --yes: which of them is wanted is the operator's call. Names the variables, never their values.
    """
    from orion_cli.core.errors import Refused

    pairs = "; ".join(f"{d.ignored} differs from {d.stored} ({d.name})" for d in plan.differing)
    return Refused(
        f"--shred-source refused: {source} gives one credential two different values ({pairs}); only the "
        "first would be stored, and the file is the only copy of the other; nothing was stored",
        hint="keep the value you want in the file (save the other elsewhere first), or import without "
             "--shred-source",
        reason="ALIASES_DIFFER",
    )


def _unimported_refused(source: Path, plan: ImportPlan) -> Exception:
    """`--shred-source` of a .env file that also holds values orion does not import.

    They were shredded with it (`KALSHI_PASSWORD`, `RPC_URL`, `OPENAI_API_KEY` beside the wallet key:
    "stored 1 credential(s)", then "shredded"), with no word of them, not even at the terminal's
    confirmation. So were the values the file's parse does not keep: a name's earlier assignment
    replaced by a later one (a first `POLYMARKET_PRIVATE_KEY` under a second: its wallet's only key),
    or emptied (`RPC_URL=`), and a commented-out `# OLD_WALLET=0x…`. Refused before anything changes,
    even with --yes, like ALIASES_DIFFER (exit 6): what to keep is the operator's call. Names the
    variables and their lines, never their values."""
    from orion_cli.core.errors import Refused

    def listed(items: list[str]) -> str:
        shown = 12
        return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")

    held = []
    if plan.unimported:
        held.append(f"variables orion does not import ({listed(plan.unimported)})")
    if plan.unkept:
        held.append(f"values no import keeps ({listed([u.describe() for u in plan.unkept])})")
    return Refused(
        f"--shred-source refused: {source} also holds {' and '.join(held)}; shredding the file would destroy "
        "them; nothing was stored",
        hint="move them to another file (or delete them) first, or import without --shred-source and delete "
             "the file yourself",
        reason="UNIMPORTED_VARIABLES",
    )


# -- list / remove ------------------------------------------------------------------------------


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every credential orion knows: set or not, where it is held, and when it was last changed. Never values.

    Example:  orion secrets list --json
    """
    app_ctx = get_app(ctx)
    with _open(app_ctx) as store:
        infos = store.list()
    app_ctx.out.records([i.as_json() for i in infos], LIST_COLUMNS, title=f"credentials ({store.backend})")


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The credential to delete, e.g. polymarket_api_key.")],
) -> None:
    """Delete one credential from the vault (or keyring).

    Example:  orion secrets remove telegram_bot_token
    """
    app_ctx = get_app(ctx)
    # The audit trail first: a broken ledger must fail before the vault changes (a missing one is
    # created for a change only: before_change in _open).
    app_ctx.db_if_exists()
    stop = StopFlag(app_ctx.out)
    stop.install()
    try:
        with _open(app_ctx) as store:
            store.remove(name, hold=lambda: stop.section(f"{name} is removed and audited"))
    finally:
        stop.restore()
    app_ctx.out.success(f"removed {name}")
    app_ctx.out.record({"type": "secret_removed", "name": name})
    end_if_stopped(stop, f"{name} was removed and audited")


# -- rotate -------------------------------------------------------------------------------------


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    new_password_file: Annotated[
        Path | None, typer.Option("--new-password-file", help="Read the new master password from this file "
                                                              "(mode 0600) instead of prompting.", dir_okay=False)
    ] = None,
) -> None:
    """Re-encrypt the vault under a new master password and a new salt (atomic).

    The old password stops working (the same password again only renews the salt and the KDF cost).
    A password remembered in the OS keyring is updated (if the keyring refuses, a warning says to run
    `orion secrets remember`; the rotation stands).

    Example:  orion secrets rotate
    """
    from orion_cli.cli.prompts import interactive
    from orion_cli.core.errors import UsageError
    from orion_cli.secrets.store import ChangedButNotAudited, VaultStore
    from orion_cli.secrets.unlock import prompt_new_password, read_password_file

    app_ctx = get_app(ctx)
    _not_stdin(new_password_file, "--new-password-file", "rotate")
    # The audit trail first: a broken ledger must fail before the vault changes (a missing one is
    # created for a change only: before_change in _open).
    app_ctx.db_if_exists()
    store = _open(app_ctx)
    if not isinstance(store, VaultStore):
        raise UsageError("rotate applies to the vault backend (secrets.backend = \"vault\")")
    with store:
        store.unlock()  # the current password first: a wrong one fails before anything is asked
        if new_password_file is not None:
            new = read_password_file(new_password_file, variable="--new-password-file")
        elif interactive():
            new = prompt_new_password(_prompt_hidden).value
        else:
            raise UsageError("no terminal to prompt for the new password: use --new-password-file F (chmod 600)")
        # The vault, its audit event and the password remembered in the keyring change together.
        with finish_first(app_ctx.out, "the vault is re-encrypted and recorded") as stop:
            try:
                changed = store.rotate(new)
            except ChangedButNotAudited as exc:  # re-keyed all the same: the keyring and the warnings follow
                _after_rotation(app_ctx, _update_remembered(store.path, new), changed=exc.password_changed is not False)
                raise
            remembered = _update_remembered(store.path, new)
    if changed:
        app_ctx.out.success("vault re-encrypted under the new master password; the old one no longer works")
    else:
        app_ctx.out.success("vault re-encrypted under a new salt; the new password is the same as the old one, "
                            "which still works")
    _after_rotation(app_ctx, remembered, changed=changed)
    app_ctx.out.record({"type": "secrets_rotated", "vault": str(store.path), "password_changed": changed})
    end_if_stopped(stop, "the vault was re-encrypted under the new password and recorded")


def _update_remembered(path: Path, new_password: str) -> str | None:
    """Put the new password in the OS keyring if one is remembered there for this vault.

    "updated", None (no usable keyring, or nothing remembered), ``"unread: <error>"`` when the keyring
    could not be read (whether a password is remembered is unknown), or the name of the error of a
    refused update.
    The vault is already re-keyed when this runs: a keyring that refuses the update (locked, read-only:
    a ``keyring.errors.PasswordSetError``) must not turn that success into "unexpected internal error"
    (exit 1), which it did; it is reported by :func:`_say_remembered` instead."""
    from orion_cli.core.errors import SecretsError
    from orion_cli.secrets.keyring_backend import system_keyring
    from orion_cli.secrets.unlock import KEYRING_SERVICE, keyring_username

    try:
        kr = system_keyring()
    except SecretsError:  # no usable keyring: nothing can be remembered in it
        return None
    # The keyring's own errors (KeyringError and what its backends raise) are caught broadly.
    try:
        remembered = kr.get_password(KEYRING_SERVICE, keyring_username(path))
    except Exception as exc:
        return f"{UNREAD}{type(exc).__name__}"
    if remembered is None:
        return None
    try:
        kr.set_password(KEYRING_SERVICE, keyring_username(path), new_password)
    except Exception as exc:
        return type(exc).__name__
    return "updated"


UNREAD = "unread: "  # _update_remembered's prefix for a keyring that could not be read


def _after_rotation(app_ctx: AppContext, remembered: str | None, *, changed: bool) -> None:
    """What a rotation leaves stale, said whether or not its audit event was committed: the keyring's
    password (:func:`_say_remembered`) and the environment's."""
    import os

    _say_remembered(app_ctx, remembered, changed=changed)
    if changed and (os.environ.get("ORION_MASTER_PASSWORD_FILE") or os.environ.get("ORION_MASTER_PASSWORD")):
        app_ctx.out.warn("update ORION_MASTER_PASSWORD_FILE / ORION_MASTER_PASSWORD: they hold the old password")


def _say_remembered(app_ctx: AppContext, outcome: str | None, *, changed: bool) -> None:
    """What happened to the remembered password. A keyring that could not be updated is a warning, not
    a failure (exit unchanged): the rotation itself succeeded and is recorded, and the old password in
    the keyring is a stale unlock source like ORION_MASTER_PASSWORD_FILE, which `rotate` also only warns
    about; `orion secrets remember` stores the new one. Unchanged password: the keyring's still works."""
    if outcome == "updated":
        app_ctx.out.info("updated the password remembered in the OS keyring")
    elif outcome is not None and outcome.startswith(UNREAD) and changed:
        app_ctx.out.warn(f"the OS keyring could not be read ({outcome.removeprefix(UNREAD)}): if it remembers "
                         "this vault's password, that is the old one now; `orion secrets remember` stores the new one")
    elif outcome is not None and changed:
        app_ctx.out.warn(f"the vault was re-encrypted, but the password remembered in the OS keyring could not be "
                         f"updated ({outcome}): it no longer opens the vault; run `orion secrets remember`")


# -- check --------------------------------------------------------------------------------------


@app.command("check")
def check(
    ctx: typer.Context,
    online: Annotated[
        bool, typer.Option("--online", help="Also authenticate against each venue (registered venue checks).")
    ] = False,
) -> None:
    """Open the vault and validate every credential's format (exit 4 if any is malformed).

    Example:  orion secrets check --online
    """
    from orion_cli.core.errors import AuthError, SecretsError
    from orion_cli.secrets.store import online_checks

    app_ctx = get_app(ctx)
    with _open(app_ctx) as store:
        results = store.check()
        if online:
            _load_online_checks()
            checks = online_checks()
            if not checks:
                app_ctx.out.info("no online checks are available yet (venue clients register them)")
            settings = app_ctx.settings()  # the command's own (--config): where the credentials may be sent
            for venue, run in sorted(checks.items()):
                app_ctx.out.debug(f"checking {venue} online")
                results.extend(run(store, settings))
    app_ctx.out.records([r.as_json() for r in results], CHECK_COLUMNS, title="credential check")
    bad = [r for r in results if not r.passed]
    if any(r.status == "failed" for r in bad):
        raise AuthError(f"a venue rejected credentials: {', '.join(r.name for r in bad if r.status == 'failed')}")
    no_verdict = [r for r in bad if r.status in ("unreachable", "unreadable")]
    if no_verdict and not any(r.status == "invalid" for r in bad):
        from orion_cli.core.errors import VenueError, VenueUnavailable

        def venues(status: str) -> str:
            return ", ".join(sorted({r.name.split("_", 1)[0] for r in bad if r.status == status}))  # kalshi_api_key_id

        down, garbled = venues("unreachable"), venues("unreadable")
        if not garbled:
            raise VenueUnavailable(down, "could not be reached to check the credentials (nothing was "
                                         "learned about them)")
        # The venue answered, but not about the credentials (a 404, a body orion cannot read): no verdict,
        # so not "rejected" (exit 4); the table's detail says what came back.
        raise VenueError(f"{garbled} answered the credential check with nothing orion can read (nothing was "
                         "learned about the credentials)" + (f"; {down} could not be reached" if down else ""),
                         hint="the detail column says what the venue answered; try again later")
    if bad:  # malformed ones, perhaps beside unreachable ones (the table shows those)
        raise SecretsError(f"malformed credentials: {', '.join(r.name for r in bad if r.status == 'invalid')}",
                           hint="re-enter them with `orion secrets encrypt --name NAME --value-file F`",
                           reason="invalid_secret")
    app_ctx.out.success("vault opens; every stored credential is well-formed")


# Venue packages register their checks when these modules are imported (a convention, not a plugin system).
ONLINE_CHECK_MODULES = ("orion_cli.venues.kalshi.online_check", "orion_cli.venues.polymarket.online_check")


def _load_online_checks() -> None:
    import importlib

    for module in ONLINE_CHECK_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise


# -- remember / forget --------------------------------------------------------------------------


@app.command("remember")
def remember(ctx: typer.Context) -> None:
    """Keep the master password in the OS keyring so commands (and cron) unlock without a prompt.

    Example:  orion secrets remember
    """
    from orion_cli.cli.prompts import interactive
    from orion_cli.core.errors import SecretsError, UsageError
    from orion_cli.secrets.keyring_backend import system_keyring
    from orion_cli.secrets.unlock import KEYRING_SERVICE, keyring_username, resolve_master_password
    from orion_cli.secrets.vault import Vault

    app_ctx = get_app(ctx)
    if app_ctx.settings().secrets.backend != "vault":
        raise UsageError("remember applies to the vault backend (the keyring backend needs no master password)")
    path = _vault_path(app_ctx)
    kr = system_keyring()  # fail early, before asking for anything, when there is no keyring
    pw = resolve_master_password(path, prompt=_prompt_hidden if interactive() else None, warn=app_ctx.out.warn,
                                 keyring_get=None)
    vault = Vault(path, allow_weak_kdf=_TEST_KDF is not None)
    vault.unlock(pw.value, pw.source).wipe()  # only a password that opens the vault is remembered
    try:
        kr.set_password(KEYRING_SERVICE, keyring_username(path), pw.value)
    except Exception as exc:
        raise SecretsError(f"keyring: could not store the master password ({type(exc).__name__})") from None
    app_ctx.out.success("master password remembered in the OS keyring (`orion secrets forget` removes it)")
    app_ctx.out.record({"type": "secrets_remembered", "vault": str(path), "keyring": type(kr).__name__})


@app.command("forget")
def forget(ctx: typer.Context) -> None:
    """Remove the remembered master password from the OS keyring.

    Example:  orion secrets forget
    """
    from orion_cli.core.errors import SecretsError
    from orion_cli.secrets.keyring_backend import system_keyring
    from orion_cli.secrets.unlock import KEYRING_SERVICE, keyring_username

    app_ctx = get_app(ctx)
    path = _vault_path(app_ctx)
    kr = system_keyring()
    user = keyring_username(path)
    removed = False
    if kr.get_password(KEYRING_SERVICE, user) is not None:
        try:
            kr.delete_password(KEYRING_SERVICE, user)
        except Exception as exc:
            raise SecretsError(f"keyring: could not delete the entry ({type(exc).__name__})") from None
        removed = True
    if removed:
        app_ctx.out.success("remembered master password removed from the OS keyring")
    else:
        app_ctx.out.info("no master password was remembered for this vault")
    app_ctx.out.record({"type": "secrets_forgotten", "vault": str(path), "removed": removed})
