"""The checkpoint's two statements, run on the pooled DBAPI connection directly.

A fresh hire commits four checkpoints, each an UPDATE and an INSERT. Through a SQLAlchemy
``Connection`` each statement also builds an execution context, a cursor result and the
transaction's bookkeeping: a fifth of the poller's CPU per hire (bench/README.md, "CPU per
hire"). Here SQLAlchemy still compiles the statement (once per dialect and set of columns)
and still supplies each column type's bind processor; only the per-call machinery is left
out. The connection comes from the engine's own pool, so its connect and checkout events
(SQLite's pragmas, PostgreSQL's idle ping) apply as before, and a connection the driver
reports as gone is invalidated, as SQLAlchemy would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any] | None
MAX_COMPILED = 256


_FROM_VALUES = object()


@dataclass(frozen=True)
class Compiled:
    """One statement in the dialect's SQL, with how to turn named values into its
    parameters: positional (SQLite's qmark) or named (psycopg's pyformat)."""

    sql: str
    # Per parameter, in the statement's order when positional: its name, its value when the
    # statement fixes it (a literal) or _FROM_VALUES, and its type's bind processor.
    plan: tuple[tuple[str, Any, Processor], ...]
    positional: bool

    def params(self, values: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        out = []
        for name, fixed, proc in self.plan:
            value = values[name] if fixed is _FROM_VALUES else fixed
            out.append(value if proc is None or value is None else proc(value))
        if self.positional:
            return out
        return {name: value for (name, _, _), value in zip(self.plan, out, strict=True)}


def compile_for(engine: Engine, stmt: Executable, keys: Sequence[str] = ()) -> Compiled:
    """``stmt`` as the engine's dialect runs it. ``keys`` name the values an UPDATE sets or
    an INSERT inserts (SQLAlchemy's ``column_keys``); other values are bound by the
    statement's own ``k_`` parameters."""
    dialect = engine.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    positional = bool(compiled.positional)
    # Named: each parameter once, by the name the SQL uses (``binds`` also holds other keys).
    names = (
        tuple(compiled.positiontup)
        if positional
        else tuple(dict.fromkeys(compiled.bind_names.values()))
    )
    plan = []
    for name in names:
        bind = compiled.binds[name]
        from_values = name in keys or name.startswith("k_")
        proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
        plan.append((name, _FROM_VALUES if from_values else bind.effective_value, proc))
    return Compiled(compiled.string, tuple(plan), positional)


def result_processors(engine: Engine, table: Table) -> dict[str, Processor]:
    """Per column of ``table``, what turns the driver's value into SQLAlchemy's (SQLite's
    datetime text into an aware datetime, for one)."""
    dialect = engine.dialect
    return {
        col.name: col.type.dialect_impl(dialect).result_processor(dialect, None)
        for col in table.columns
    }


def row_dict(
    cursor: Any, row: Sequence[Any], processors: Mapping[str, Processor]
) -> dict[str, Any]:
    """One fetched row by column name, each value as SQLAlchemy would have returned it."""
    out = {}
    for column, value in zip(cursor.description, row, strict=True):
        proc = processors[column[0]]
        out[column[0]] = value if proc is None or value is None else proc(value)
    return out


class DirectStatements:
    """Compiled statements per column set, and transactions on raw pooled connections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[tuple[int, tuple[str, ...]], tuple[Executable, Compiled]] = {}
        self._lock = threading.Lock()
        dbapi = engine.dialect.loaded_dbapi
        self._error: type[Exception] = dbapi.Error

    def get(self, stmt: Executable, keys: Sequence[str]) -> Compiled:
        key = (id(stmt), tuple(keys))
        found = self._cache.get(key)
        if found is None or found[0] is not stmt:
            found = (stmt, compile_for(self.engine, stmt, keys))
            with self._lock:
                if len(self._cache) >= MAX_COMPILED:  # a long run's many skip counts
                    self._cache.clear()
                # The statement is kept with its SQL, so its id can't be reused meanwhile.
                self._cache[key] = found
        return found[1]

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A DBAPI cursor in a transaction begun the dialect's way (SQLite: BEGIN IMMEDIATE),
        committed on leaving, rolled back on any exception. Driver errors come out as
        SQLAlchemy's DBAPIError, as from a Connection."""
        try:
            fairy = self.engine.raw_connection()
        except self._error as exc:  # the pool hands on the driver's own connect error
            raise DBAPIError.instance(None, None, exc, self._error) from None
        dbapi_conn = fairy.dbapi_connection
        cursor = None
        try:
            self.engine.dialect.do_begin(dbapi_conn)  # type: ignore[arg-type]
            cursor = fairy.cursor()
            yield cursor
            dbapi_conn.commit()  # type: ignore[union-attr]
        except BaseException as exc:
            gone = isinstance(exc, self._error) and self.engine.dialect.is_disconnect(
                exc,  # type: ignore[arg-type]
                fairy,
                cursor,
            )
            if gone:
                fairy.invalidate(exc)
            else:
                try:
                    dbapi_conn.rollback()  # type: ignore[union-attr]
                except self._error:
                    fairy.invalidate(exc)
            if isinstance(exc, self._error):
                raise DBAPIError.instance(
                    None, None, exc, self._error, connection_invalidated=gone
                ) from None
            raise
        finally:
            if cursor is not None:
                cursor.close()
            fairy.close()  # back to the pool
