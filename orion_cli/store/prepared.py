"""The order path's statements, compiled once per dialect and run on the driver's own cursor.

Why: the pre-trade checks and the intent commit run the same handful of statements on every trade,
inside the one serialised write transaction. Measured there (``benchmarks/bench_order_path.py``),
SQLAlchemy's per-execution work — cache lookup, parameter and result processing, result wrapping —
was about a quarter of the CPU, and on PostgreSQL every statement was its own round trip.

A :class:`Prepared` keeps SQLAlchemy for what it is good at (building the SQL, and the column types'
own conversions, e.g. :class:`~orion_cli.store.tables.Money`) and skips the rest. A :class:`Batch`
sends several statements together: on PostgreSQL one simple-query round trip (psycopg binds the
values client-side, with its own quoting); on SQLite, in-process, one after another. Errors come out
as SQLAlchemy's exception classes, exactly as a ``Connection.execute`` would raise them.

Only the column types listed in :func:`_processors` are accepted, so a new type cannot slip through
without its conversion.
"""

from __future__ import annotations

import contextlib
import re
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Boolean, Connection, Dialect, Integer, String, Table, Text, bindparam
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.types import TypeDecorator, TypeEngine

Processor = Callable[[Any], Any] | None
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _processors(type_: TypeEngine[Any], dialect: Dialect) -> tuple[Processor, Processor]:
    """(bind, result) conversions for a column type; None = the driver's value is already right."""
    if isinstance(type_, TypeDecorator):
        def bind(value: Any, _t: Any = type_) -> Any:
            return _t.process_bind_param(value, dialect)

        def result(value: Any, _t: Any = type_) -> Any:
            return _t.process_result_value(value, dialect)

        return bind, result
    if isinstance(type_, Boolean):
        # sqlite3 takes a bool as an int, and returns one; psycopg maps booleans both ways.
        return None, (None if dialect.name != "sqlite" else (lambda v: None if v is None else bool(v)))
    if isinstance(type_, String | Text | Integer | BigInteger):
        return None, None
    raise TypeError(f"Prepared statements do not know how to convert {type_!r}; add it to _processors")


@dataclass(frozen=True, slots=True)
class _Bind:
    name: str  # the compiled parameter name
    key: str | None  # the caller's key (None: a constant of the statement)
    constant: Any
    process: Processor


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    binds: tuple[_Bind, ...]
    row: Any  # a namedtuple class, or None for a statement without rows
    results: tuple[Processor, ...]
    any_result_processor: bool = field(default=False)
    # PostgreSQL: the statement with $1..$n placeholders (for PREPARE), and the names in that order.
    dollar_sql: str = ""
    dollar_names: tuple[str, ...] = ()


class Prepared:
    """One statement, compiled on first use for each dialect it meets."""

    def __init__(self, statement: Executable | Callable[[str], Executable], *, name: str) -> None:
        """``statement``, or a function of the dialect's name for one that differs between dialects.

        ``name`` becomes part of the server-side statement name on PostgreSQL, so it is an identifier.
        """
        if not _NAME.fullmatch(name):
            raise ValueError(f"a prepared statement's name is lower-case letters, digits and _ (≤ 40): {name!r}")
        self._statement = statement
        self.name = name
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._last: tuple[Dialect, _Compiled] | None = None

    @classmethod
    def insert(cls, table: Table, *, name: str) -> Prepared:
        """An INSERT of every column of ``table``, each value under the column's name."""
        return cls(table.insert().values({c.name: bindparam(c.name, type_=c.type) for c in table.columns}),
                   name=name)

    def compiled(self, dialect: Dialect) -> _Compiled:
        last = self._last
        if last is not None and last[0] is dialect:  # a process talks to one database: the usual case
            return last[1]
        key = (dialect.name, dialect.paramstyle)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = self._compile(dialect)
        self._last = (dialect, found)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        statement: Any = self._statement if isinstance(self._statement, Executable) else self._statement(dialect.name)
        c: Compiled = statement.compile(dialect=dialect)
        if getattr(c, "post_compile_params", None) or getattr(c, "literal_execute_params", None):
            raise ValueError(f"{self.name}: expanding parameters (IN with a bound list) cannot be prepared; "
                             "list the values as literals")
        by_name: dict[str, _Bind] = {}
        for bp, compiled_name in c.bind_names.items():  # type: ignore[attr-defined]
            bind, _ = _processors(bp.type, dialect)
            required = bp.value is None and bp.callable is None
            # A constant of the statement is converted once, here, as a caller's value is on each run
            # (a Money constant on SQLite is stored as integer units).
            constant = None if required else bp.effective_value
            if constant is not None and bind is not None:
                constant = bind(constant)
            by_name[compiled_name] = _Bind(compiled_name, bp.key if required else None, constant, bind)
        positiontup = getattr(c, "positiontup", None)
        order = list(positiontup) if dialect.positional and positiontup is not None else list(by_name)
        binds = tuple(by_name[n] for n in order)
        row_type: Any = None
        results: tuple[Processor, ...] = ()
        selected = getattr(statement, "selected_columns", None)
        if selected is not None and getattr(statement, "is_select", False):
            row_type = namedtuple(f"{self.name}_row", list(selected.keys()))  # type: ignore[misc,no-redef]
            results = tuple(_processors(col.type, dialect)[1] for col in selected)
        dollar_sql, dollar_names = ("", ()) if dialect.positional else _dollar_form(c.string)
        return _Compiled(c.string, dialect.positional, binds, row_type, results,
                         any(p is not None for p in results), dollar_sql, dollar_names)

    def parameters(self, dialect: Dialect, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        c = self.compiled(dialect)
        try:
            out = [b.constant if b.key is None else values[b.key] if b.process is None else b.process(values[b.key])
                   for b in c.binds]
        except KeyError as exc:
            raise ValueError(f"{self.name}: a value is required for {exc.args[0]!r}") from None
        if c.positional:
            return tuple(out)
        return {b.name: v for b, v in zip(c.binds, out, strict=True)}

    def rows_of(self, dialect: Dialect, raw: Sequence[Sequence[Any]]) -> list[Any]:
        c = self.compiled(dialect)
        if c.row is None:
            raise TypeError(f"{self.name} returns no rows")
        make = c.row._make
        if not c.any_result_processor:
            return [make(r) for r in raw]
        procs = c.results
        return [make([v if p is None or v is None else p(v) for p, v in zip(procs, r, strict=True)]) for r in raw]

    # -- one statement at a time -------------------------------------------------------------------

    def rows(self, conn: Connection, values: Mapping[str, Any]) -> list[Any]:
        """The statement's rows (namedtuples with the selected columns' names), values converted."""
        batch = Batch(conn)
        result = batch.add(self, values)
        batch.run()
        return result.rows

    def first(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        rows = self.rows(conn, values)
        return rows[0] if rows else None

    def run(self, conn: Connection, values: Mapping[str, Any]) -> None:
        batch = Batch(conn)
        batch.add(self, values)
        batch.run()

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        batch = Batch(conn)
        batch.add_many(self, rows)
        batch.run()


class Result:
    """A batched statement's outcome; ``rows`` is filled in when the batch runs."""

    __slots__ = ("prepared", "rows")

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.rows: list[Any] = []


_DEFERRED_KEY = "orion.prepared.deferred"
# Per driver connection (SQLAlchemy's Connection.info is the pooled connection's): statement name →
# its server-side name, and the generation that names new ones after a failed batch.
_PG_PREPARED_KEY = "orion.prepared.pg_statements"
_PG_GENERATION_KEY = "orion.prepared.pg_generation"
_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")


def _dollar_form(sql: str) -> tuple[str, tuple[str, ...]]:
    """``%(name)s`` placeholders as ``$1..$n`` (a repeated name keeps its number), ``%%`` as ``%``."""
    names: list[str] = []

    def number(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return _PYFORMAT.sub(number, sql), tuple(names)


class Batch:
    """Statements sent together. Rows come back in :class:`Result` objects once :meth:`run` returns."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self._items: list[tuple[Prepared, Any, Result | None]] = []

    def add(self, prepared: Prepared, values: Mapping[str, Any]) -> Result:
        result = Result(prepared)
        self._items.append((prepared, prepared.parameters(self.dialect, values), result))
        return result

    def add_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        for values in rows:
            self._items.append((prepared, prepared.parameters(self.dialect, values), None))

    def __len__(self) -> int:
        return len(self._items)

    def run(self) -> None:
        items, self._items = self._items, []
        if not items:
            return
        driver = self.conn.connection.driver_connection
        if self.dialect.name == "sqlite":
            self._run_sqlite(driver, items)
        else:
            self._run_psycopg(driver, items)

    def _run_sqlite(self, driver: Any, items: list[tuple[Prepared, Any, Result | None]]) -> None:
        cur = driver.cursor()
        try:
            i = 0
            while i < len(items):
                prepared, params, result = items[i]
                sql = prepared.compiled(self.dialect).sql
                if result is None:  # consecutive rows of one add_many: one executemany
                    j = i
                    while j < len(items) and items[j][0] is prepared and items[j][2] is None:
                        j += 1
                    many = [p for _, p, _ in items[i:j]]
                    self._call(cur.executemany, sql, many)
                    i = j
                    continue
                self._call(cur.execute, sql, params)
                if result is not None and prepared.compiled(self.dialect).row is not None:
                    result.rows = prepared.rows_of(self.dialect, cur.fetchall())
                i += 1
        finally:
            cur.close()

    def _run_psycopg(self, driver: Any, items: list[tuple[Prepared, Any, Result | None]]) -> None:
        """One simple query, one round trip: ``EXECUTE`` of session-prepared statements, in order.

        Client-side binding (psycopg's own quoting) lets several statements share the round trip;
        preparing them once per connection keeps the server from planning them on every trade (the
        pipeline's state read alone took longer to plan than to run). A statement not yet prepared
        on this connection is prepared at the head of the same query.
        """
        import psycopg

        from orion_cli.store.db import PG_LOCK_PENDING, pg_write_lock_sql

        info = self.conn.info
        known: dict[str, str] = info.setdefault(_PG_PREPARED_KEY, {})
        generation = info.get(_PG_GENERATION_KEY, 0)
        cur = psycopg.ClientCursor(driver)
        try:
            texts: list[str] = []
            new: dict[str, str] = {}
            shown = "batch of prepared statements: " + ", ".join(p.name for p, _, _ in items)
            try:
                for prepared, params, _ in items:
                    c = prepared.compiled(self.dialect)
                    server = known.get(prepared.name) or new.get(prepared.name)
                    if server is None:
                        server = new[prepared.name] = f"orion_{prepared.name}_{generation}"
                        texts.append(f"PREPARE {server} AS {c.dollar_sql}")
                    args = [params[name] for name in c.dollar_names]
                    texts.append(cur.mogrify(f"EXECUTE {server}({', '.join(['%s'] * len(args))})", args)
                                 if args else f"EXECUTE {server}")
            except self.dialect.loaded_dbapi.Error as exc:  # a value psycopg cannot quote: nothing was sent
                raise _wrapped(shown, exc, self.dialect) from None
            # Taken off only now, with the text about to go: a failure before this leaves it pending.
            lock = bool(info.pop(PG_LOCK_PENDING, False))
            if lock:  # the first statement of a Database.write transaction: the writers' lock first
                texts.insert(0, pg_write_lock_sql(info))
            try:
                self._call(cur.execute, ";\n".join(texts), None, shown=shown)
            except BaseException:
                if lock:  # not known to be held: whatever runs next in this transaction takes it first
                    info[PG_LOCK_PENDING] = True
                # Which statements the session holds is now unknown (a failure mid-text, or the
                # session lost them): the next batch prepares every statement afresh under new names.
                known.clear()
                info[_PG_GENERATION_KEY] = generation + 1
                raise
            known.update(new)
            skip = int(lock)
            prepared_now: set[str] = set()
            for prepared, _, result in items:
                if prepared.name in new and prepared.name not in prepared_now:
                    prepared_now.add(prepared.name)
                    skip += 1
                for _ in range(skip):
                    if not cur.nextset():
                        raise RuntimeError(f"{prepared.name}: the server returned fewer results than statements")
                skip = 1
                if result is not None and prepared.compiled(self.dialect).row is not None:
                    result.rows = prepared.rows_of(self.dialect, cur.fetchall())
        finally:
            cur.close()

    def _call(self, fn: Callable[..., Any], sql: str, params: Any, *, shown: str | None = None) -> None:
        """``fn(sql, params)``, its driver errors as SQLAlchemy's (IntegrityError, OperationalError...).

        ``shown`` stands in for ``sql`` in the error when the text carries bound values: error text
        must never carry values into logs.
        """
        dbapi = self.dialect.loaded_dbapi
        try:
            fn(sql, params) if params is not None else fn(sql)
        except dbapi.Error as exc:
            from orion_cli.store.db import remember_refusal

            if shown is None:
                error = DBAPIError.instance(sql, None, exc, dbapi.Error, hide_parameters=True, dialect=self.dialect)
                remember_refusal(self.conn.info, error)
                raise error from exc
            error = _wrapped(shown, exc, self.dialect)
            remember_refusal(self.conn.info, error)
            raise error from None


def _wrapped(shown: str, exc: Exception, dialect: Dialect) -> DBAPIError:
    """SQLAlchemy's class for a driver error whose text may quote the bound values.

    PostgreSQL quotes the failing line of a client-bound query (``LINE 3: EXECUTE ...('value', ...)``),
    so only the primary message and SQLSTATE are kept; the exception keeps its class (IntegrityError,
    OperationalError...), so callers handle it as before.
    """
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or type(exc).__name__
    state = getattr(diag, "sqlstate", None) or getattr(exc, "sqlstate", None)
    try:
        clean = type(exc)(f"{primary} (SQLSTATE {state})" if state else primary)
    except Exception:  # a driver class that cannot be rebuilt from a message
        clean = dialect.loaded_dbapi.Error(primary)
    wrapped = DBAPIError.instance(shown, None, clean, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  dialect=dialect)
    assert isinstance(wrapped, DBAPIError)  # a driver error always maps to one
    return wrapped


# -- writes deferred to the end of a block -----------------------------------------------------------


@contextlib.contextmanager
def deferred(conn: Connection) -> Iterator[Batch]:
    """Collect the block's :func:`defer` writes and send them together at its end (nested: outermost).

    On PostgreSQL the order path's four writes then cost one round trip instead of four. A failing
    write surfaces when the block ends, still inside the caller's transaction; if the block itself
    raises, nothing collected is sent.
    """
    existing = conn.info.get(_DEFERRED_KEY)
    if existing is not None:
        yield existing
        return
    batch = Batch(conn)
    conn.info[_DEFERRED_KEY] = batch
    try:
        yield batch
    finally:
        conn.info.pop(_DEFERRED_KEY, None)
    batch.run()


def defer(conn: Connection, prepared: Prepared, values: Mapping[str, Any]) -> None:
    """Run now, or at the end of the enclosing :func:`deferred` block."""
    batch = conn.info.get(_DEFERRED_KEY)
    if batch is None:
        prepared.run(conn, values)
    else:
        batch.add(prepared, values)


def defer_many(conn: Connection, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
    batch = conn.info.get(_DEFERRED_KEY)
    if batch is None:
        prepared.run_many(conn, rows)
    else:
        batch.add_many(prepared, rows)
