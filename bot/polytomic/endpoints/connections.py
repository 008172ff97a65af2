"""PolytomicClient's endpoints for the organization's connections (/api/connections): list
them, read one, and resolve a name someone typed to one connection.

They are for naming a sync's destination and for letting people refer to a connection by its
name; the lookup rule (an ID wins over a name, names compared ignoring case) is
`find_connection` in connections.py, pure.
"""

from __future__ import annotations

from bot.polytomic.connections import Connection, find_connection, parse_connection
from bot.polytomic.endpoints.base import Endpoints
from bot.polytomic.transport import segment

__all__: list[str] = []  # internal: PolytomicClient is what callers use


class ConnectionEndpoints(Endpoints):
    """Connections (/api/connections)."""

    def list_connections(self) -> list[Connection]:
        """Every connection of the organization (one request: the API does not page it)."""
        items = self._request("GET", "/api/connections").get("data")
        connections = [parse_connection(i) for i in items] if isinstance(items, list) else []
        return [c for c in connections if c.id]

    def get_connection(self, connection_id: str) -> Connection:
        body = self._request("GET", f"/api/connections/{segment(connection_id, 'connection_id')}")
        return parse_connection(body.get("data"), default_id=connection_id)

    def resolve_connection(self, query: str) -> Connection:
        """The connection whose ID, else whose name (ignoring case), is `query`: one listing.
        UnknownConnection / AmbiguousConnection (models.py) when it cannot be told apart."""
        return find_connection(self.list_connections(), query)
