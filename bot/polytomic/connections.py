"""The organization's connections, as typed values: parsed tolerantly from GET /api/connections,
and looked up by what someone typed (`find_connection`: an ID, else a name).

Connection names are not unique in Polytomic and people type them loosely, so the lookup is a
rule of its own with its own errors: UnknownConnection when nothing matches, AmbiguousConnection
(with the candidates, so the answer can offer their IDs) when several names do. Pure, so it is
tested without a server; the client's `resolve_connection` lists the connections and calls it.
Imports no other bot module but parsing.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.polytomic.parsing import as_dict as _dict
from bot.polytomic.parsing import as_str as _str

__all__ = [
    "AmbiguousConnection",
    "Connection",
    "ConnectionLookupError",
    "ConnectionType",
    "UnknownConnection",
    "find_connection",
    "parse_connection",
]


@dataclass(frozen=True)
class ConnectionType:
    """`type` of a connection: `id` is the integration's identifier (salesforce, hubspot,
    postgresql, ...), `name` its display name."""

    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Connection:
    """An item of GET /api/connections. `parent_connection_id` is set on shared copies."""

    id: str
    name: str | None = None
    type: ConnectionType = field(default_factory=ConnectionType)
    status: str | None = None
    status_error: str | None = None
    parent_connection_id: str | None = None
    organization_id: str | None = None


class ConnectionLookupError(LookupError):
    """A connection named in a command could not be told apart: not found, or ambiguous.
    `query` is what was asked for (user input: escape it before showing it)."""

    def __init__(self, message: str, query: str) -> None:
        super().__init__(message)
        self.query = query


class UnknownConnection(ConnectionLookupError):
    """No connection has that ID or name."""


class AmbiguousConnection(ConnectionLookupError):
    """Several connections have that name (names are not unique in Polytomic); `candidates`
    lists them, so the answer can offer their IDs."""

    def __init__(self, message: str, query: str, candidates: tuple[Connection, ...]) -> None:
        super().__init__(message, query)
        self.candidates = candidates


def parse_connection(value: object, *, default_id: str = "") -> Connection:
    raw = _dict(value)
    kind = _dict(raw.get("type"))
    return Connection(
        id=_str(raw.get("id")) or default_id,
        name=_str(raw.get("name")),
        type=ConnectionType(id=_str(kind.get("id")), name=_str(kind.get("name"))),
        status=_str(raw.get("status")),
        status_error=_str(raw.get("status_error")) or None,
        parent_connection_id=_str(raw.get("parent_connection_id")) or None,
        organization_id=_str(raw.get("organization_id")),
    )


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def find_connection(connections: Iterable[Connection], query: str) -> Connection:
    """The connection whose ID is `query`, else the one whose name is `query` (ignoring case
    and surrounding or repeated whitespace). An ID wins over a name: a connection named like
    another's ID cannot hijack it. UnknownConnection or AmbiguousConnection otherwise."""
    wanted = query.strip()
    if not wanted:
        raise UnknownConnection("no connection was named", query)
    listed = [c for c in connections if c.id]
    by_id = [c for c in listed if c.id.lower() == wanted.lower()]
    if len(by_id) == 1:
        return by_id[0]
    folded = _fold(wanted)
    by_name = tuple(c for c in listed if c.name is not None and _fold(c.name) == folded)
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        raise AmbiguousConnection(f"{len(by_name)} connections have that name", query, by_name)
    raise UnknownConnection("no connection has that ID or name", query)
