"""What the fake Socket Mode records and hands back to a test: the connections, every frame
both ways, each apps.connections.open call, and the acks (with how long each took).

Plain data: FakeSocketMode keeps them behind its lock and hands out copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from websockets.sync.server import ServerConnection


@dataclass
class SocketConnection:
    """One WebSocket connection from the bot."""

    id: int
    ticket: str
    path: str
    opened_at: float  # time.time()
    closed_at: float | None = None
    close_code: int | None = None
    close_reason: str | None = None
    closed_by: str | None = None  # "server" when the fake closed it, else "client"
    ws: ServerConnection | None = field(default=None, repr=False, compare=False)

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass
class Frame:
    """One text message on a connection. direction: "sent" (fake -> bot) or "received"."""

    connection_id: int
    direction: str
    time: float
    text: str
    data: Any = None  # parsed JSON, or None when the text is not JSON


@dataclass
class OpenCall:
    """One apps.connections.open request."""

    time: float
    token: str | None
    ok: bool
    error: str | None
    url: str | None
    status: int = 200


class Ack(dict[str, Any]):
    """The ack exactly as the client sent it (``{"envelope_id", "payload"?}``), plus timing."""

    def __init__(
        self, data: dict[str, Any], *, elapsed: float, connection_id: int, received_at: float
    ) -> None:
        super().__init__(data)
        self.elapsed = elapsed  # seconds between sending the envelope and receiving this ack
        self.connection_id = connection_id
        self.received_at = received_at

    @property
    def payload(self) -> dict[str, Any] | None:
        value = self.get("payload")
        return value if isinstance(value, dict) else None


@dataclass
class Envelope:
    envelope_id: str
    type: str
    message: dict[str, Any]
    connection_id: int
    sent_at: float  # time.monotonic()
    acks: list[Ack] = field(default_factory=list)


@dataclass
class OpenFault:
    error: str
    remaining: int
    status: int
    retry_after: int | None


def copy_connection(conn: SocketConnection) -> SocketConnection:
    return SocketConnection(
        id=conn.id,
        ticket=conn.ticket,
        path=conn.path,
        opened_at=conn.opened_at,
        closed_at=conn.closed_at,
        close_code=conn.close_code,
        close_reason=conn.close_reason,
        closed_by=conn.closed_by,
        ws=conn.ws,
    )
