"""Prebuilt statements run straight on the driver's cursor: `write(connection, statement,
values)` (the rows it matched) and `fetch(...)` (the rows it returns, as tuples).

The tracker's writes (a pass's save, finish, its audit rows) are statements built once
(bot/db/operation_statements.py); through `Connection.execute` each still paid for a cache key,
a cache look-up, an execution context, a cursor result and its events: about 85 % of a write's
CPU, the driver's own execute the rest. Here each statement is compiled once per dialect and
set of parameter names, exactly as SQLAlchemy compiles it for `Connection.execute`, and its
parameters go through the same bind processors (so a datetime is stored as the same bytes), in
the order the compiled statement names them. A driver error goes through the connection's own
handling: wrapped as `Connection.execute` wraps it (IntegrityError, OperationalError), the
connection invalidated on a disconnect.

`fetch` is the same for a statement that returns rows (a SELECT, an UPDATE or INSERT with an
explicit RETURNING: the claim, the release, the click's look-up and insert): its rows come from
the driver's `fetchall()`, each value through the result processor SQLAlchemy's own result
would apply (from the same compiled columns and the cursor's description, found once per
shape), so a datetime comes back as the same aware datetime; with the compiled columns' keys.

Only for statements that need nothing else from an execution context: for `write` no
RETURNING (so on PostgreSQL, where an INSERT returns its new id, the audit rows' inserts still
go through SQLAlchemy), for either no Python-side column default or onupdate to compute, no
expanding IN. Any other is run by `Connection.execute`, unchanged (each checks, once per
compiled shape). A shape's parameter names are part of its key, so what `construct_params`
works out at each execution (which bind takes which value) is worked out once, at its first;
and a UTC datetime on SQLite, the commonest value, is formatted and parsed in one step, where
that gives exactly what SQLAlchemy's processors give (checked once per shape).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

from bot.db.model_base import UTCDateTime

__all__ = ["fetch", "write"]


class _Shape:
    """One compiled statement and how to turn its values into the driver's parameters."""

    __slots__ = ("columns", "compiled", "keys", "names", "plan", "positional", "processors", "results", "sql")

    def __init__(self, compiled: SQLCompiler, dialect: Dialect) -> None:
        self.compiled = compiled
        self.sql = compiled.string
        self.positional = compiled.positional
        self.processors: Mapping[str, Any] = {
            name: _faster_bind(dialect, compiled.binds[name].type, process)
            for name, process in compiled._bind_processors.items()
        }
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if self.positional else ()
        # A statement that returns rows: its columns in order, their keys (as a Row's), and the
        # result processors, found at the first fetch (they depend on the cursor's description).
        self.columns = compiled._result_columns
        self.keys: tuple[str, ...] = tuple(entry.keyname for entry in self.columns)
        self.results: list[Any] | None = None
        # How values become parameters, found at the first execution (see `_plan`); False:
        # through construct_params every time.
        self.plan: Any = None

    def processed(self, dialect: Dialect, description: Any, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The driver's rows as SQLAlchemy's result gives them: each value through its type's
        result processor (found for the cursor's column types, as CursorResultMetaData does)."""
        processors = self.results
        if processors is None:
            if description is None or len(description) != len(self.columns):
                raise RuntimeError(f"compiled {len(self.columns)} columns, the driver gave {description!r}")
            processors = self.results = [
                _faster_result(dialect, entry.type, entry.type._cached_result_processor(dialect, column[1]))
                for entry, column in zip(self.columns, description, strict=True)
            ]
        if not any(processors):
            return [tuple(row) for row in rows]
        return [
            tuple(value if f is None else f(value) for f, value in zip(processors, row, strict=True))
            for row in rows
        ]

    def parameters(self, values: Mapping[str, Any]) -> Any:
        plan = self.plan
        if not plan:
            params = self.compiled.construct_params(values)  # raises for a value missing
            processors = self.processors
            # Each parameter processed once, though a positional statement may name it twice
            # (the claim's `w_now`).
            for name, process in processors.items():
                params[name] = process(params[name])
            if plan is None:
                self.plan = self._plan(values, params)
        else:
            taken, constants = plan
            params = dict(constants)
            for name, key, process in taken:
                value = values[key]
                params[name] = value if process is None else process(value)
        if self.positional:
            return tuple(params[name] for name in self.names)
        return params

    def _plan(self, values: Mapping[str, Any], processed: Mapping[str, Any]) -> Any:
        """What `construct_params` does for this shape, whose parameters' names are always the
        same (they are part of its key): which bind takes which value, and the binds whose
        value is the statement's own (a literal's), processed once. False when a bind's value
        is computed at each execution (a callable) or SQLAlchemy adds values of its own."""
        compiled = self.compiled
        if getattr(compiled, "_collect_params", False):
            return False
        taken: list[tuple[str, str, Any]] = []
        constants: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            if bind.callable:
                return False
            if bind.key in values:  # construct_params's order of look-ups
                taken.append((name, bind.key, self.processors.get(name)))
            elif name in values:
                taken.append((name, name, self.processors.get(name)))
            else:
                constants[name] = processed[name]
        return taken, constants


# UTCDateTime on SQLite, the most frequent parameter and column (several in every write of a
# pass): through SQLAlchemy, a TypeDecorator's processor calling process_bind_param and then
# SQLite's DATETIME formatting, about a third of a write's parameter work. These do the same in
# one step, and are used only where they give what those give (checked once per shape, below).
def _utc_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    zone = value.tzinfo
    if zone is None:
        raise ValueError("naive datetime given to a UTC column")
    if zone is not UTC:
        value = value.astimezone(UTC)
    # (Formatted by hand: `replace(tzinfo=None)` and `isoformat` cost about twice as much.)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _utc_from_text(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


_PROBES = (
    datetime(2026, 12, 2, 9, 0, 1, 123456, tzinfo=UTC),
    datetime(2026, 12, 2, 9, 0, 1, tzinfo=UTC),  # no microseconds: still written out
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(2026, 6, 30, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-7))),
)


def _faster_bind(dialect: Dialect, type_: Any, process: Any) -> Any:
    if dialect.name != "sqlite" or not isinstance(type_, UTCDateTime):
        return process
    same = all(process(probe) == _utc_text(probe) for probe in _PROBES) and process(None) is None
    return _utc_text if same else process


def _faster_result(dialect: Dialect, type_: Any, process: Any) -> Any:
    if process is None or dialect.name != "sqlite" or not isinstance(type_, UTCDateTime):
        return process
    texts = [_utc_text(probe) for probe in _PROBES]
    same = all(process(text) == _utc_from_text(text) for text in texts) and process(None) is None
    return _utc_from_text if same else process


# Per dialect (an engine's), per statement, set of parameter names and use (write: False,
# fetch: True): the shape, or None when the statement needs Connection.execute.
_SHAPES: weakref.WeakKeyDictionary[Dialect, dict[tuple[Executable, tuple[str, ...], bool], _Shape | None]] = (
    weakref.WeakKeyDictionary()
)


def _shape(
    dialect: Dialect, statement: Executable, keys: tuple[str, ...], rows: bool = False
) -> _Shape | None:
    shapes = _SHAPES.get(dialect)
    if shapes is None:
        shapes = _SHAPES.setdefault(dialect, {})
    try:
        return shapes[(statement, keys, rows)]
    except KeyError:
        pass
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    plain = (
        isinstance(compiled, SQLCompiler)
        and not getattr(compiled, "insert_prefetch", None)
        and not getattr(compiled, "update_prefetch", None)
        and not compiled.literal_execute_params
        and not compiled.post_compile_params
        and not compiled.has_out_parameters
        and not compiled.schema_translate_map
        # Parameter names the driver's format cannot carry as they are (none of the bot's).
        and not compiled.escaped_bind_names
    )
    if plain and rows:
        # Rows matched to the compiled columns by position, as SQLAlchemy's result does for a
        # compiled statement.
        plain = (
            bool(compiled._result_columns)
            and compiled._ordered_columns
            and not compiled._textual_ordered_columns
            and not compiled._ad_hoc_textual
        )
    elif plain:
        plain = not compiled.effective_returning
    # (A column the statement sets to an SQL expression, `postfetch`, is only what an ORM flush
    # would expire afterwards: nothing the execution itself needs.)
    shape = _Shape(compiled, dialect) if plain else None
    shapes[(statement, keys, rows)] = shape
    return shape


def _watched(connection: Connection) -> bool:
    """Someone listens to this connection's statements (a test counting them): let them see."""
    if not (connection._has_events or connection.engine._has_events):
        return False  # no event on the connection nor its engine (bot/db/engine.py keeps none)
    dispatch = connection.dispatch
    return bool(
        dispatch.before_execute
        or dispatch.after_execute
        or dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
    )


def write(connection: Connection, statement: Executable, values: Mapping[str, Any]) -> int:
    """Run `statement` with `values` in the connection's transaction; the rows it matched."""
    keys = tuple(sorted(values))
    shape = _shape(connection.dialect, statement, keys)
    if shape is None or _watched(connection):
        return connection.execute(statement, dict(values)).rowcount
    parameters = shape.parameters(values)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(shape.sql, parameters)
        return int(cursor.rowcount)
    except Exception as error:
        connection._handle_dbapi_exception(error, shape.sql, parameters, cursor, None)
    finally:
        cursor.close()


def fetch(
    connection: Connection, statement: Executable, values: Mapping[str, Any]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """Run `statement` (one that returns rows) with `values` in the connection's transaction:
    its columns' keys and every row it returned, each value as SQLAlchemy's result gives it."""
    keys = tuple(sorted(values))
    shape = _shape(connection.dialect, statement, keys, rows=True)
    if shape is None or _watched(connection):
        result = connection.execute(statement, dict(values))
        return tuple(result.keys()), [tuple(row) for row in result.all()]
    parameters = shape.parameters(values)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(shape.sql, parameters)
        return shape.keys, shape.processed(connection.dialect, cursor.description, cursor.fetchall())
    except Exception as error:
        connection._handle_dbapi_exception(error, shape.sql, parameters, cursor, None)
    finally:
        cursor.close()
