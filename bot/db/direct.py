"""Prebuilt writes run straight on the driver's cursor: `write(connection, statement, values)`.

The tracker's writes (a pass's save, finish, its audit rows) are statements built once
(bot/db/operation_statements.py); through `Connection.execute` each still paid for a cache key,
a cache look-up, an execution context, a cursor result and its events: about 85 % of a write's
CPU, the driver's own execute the rest. Here each statement is compiled once per dialect and
set of parameter names, exactly as SQLAlchemy compiles it for `Connection.execute`, and its
parameters go through the same bind processors (so a datetime is stored as the same bytes), in
the order the compiled statement names them. A driver error goes through the connection's own
handling: wrapped as `Connection.execute` wraps it (IntegrityError, OperationalError), the
connection invalidated on a disconnect.

Only for statements that need nothing else from an execution context: no RETURNING (so on
PostgreSQL, where an INSERT returns its new id, the audit rows' inserts still go through
SQLAlchemy), no column default or onupdate to compute, no expanding IN. Any other is run by
`Connection.execute`, unchanged (`write` checks, once per compiled shape).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["write"]


class _Shape:
    """One compiled statement and how to turn its values into the driver's parameters."""

    __slots__ = ("compiled", "names", "positional", "processors", "sql")

    def __init__(self, compiled: SQLCompiler) -> None:
        self.compiled = compiled
        self.sql = compiled.string
        self.positional = compiled.positional
        self.processors: Mapping[str, Any] = compiled._bind_processors
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if self.positional else ()

    def parameters(self, values: Mapping[str, Any]) -> Any:
        params = self.compiled.construct_params(values)
        processors = self.processors
        if self.positional:
            return tuple(
                processors[name](params[name]) if name in processors else params[name] for name in self.names
            )
        escaped = self.compiled.escaped_bind_names
        return {
            escaped.get(name, name): (processors[name](value) if name in processors else value)
            for name, value in params.items()
        }


# Per dialect (an engine's), per statement and set of parameter names: the shape, or None when
# the statement needs Connection.execute.
_SHAPES: weakref.WeakKeyDictionary[Dialect, dict[tuple[Executable, tuple[str, ...]], _Shape | None]] = (
    weakref.WeakKeyDictionary()
)


def _shape(dialect: Dialect, statement: Executable, keys: tuple[str, ...]) -> _Shape | None:
    shapes = _SHAPES.get(dialect)
    if shapes is None:
        shapes = _SHAPES.setdefault(dialect, {})
    try:
        return shapes[(statement, keys)]
    except KeyError:
        pass
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    plain = (
        isinstance(compiled, SQLCompiler)
        and not compiled.effective_returning
        and not compiled.insert_prefetch
        and not compiled.update_prefetch
        and not compiled.postfetch
        and not compiled.literal_execute_params
        and not compiled.post_compile_params
        and not compiled.has_out_parameters
        and not compiled.schema_translate_map
    )
    shape = _Shape(compiled) if plain else None
    shapes[(statement, keys)] = shape
    return shape


def _watched(connection: Connection) -> bool:
    """Someone listens to this connection's statements (a test counting them): let them see."""
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
