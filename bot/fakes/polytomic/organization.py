"""What the fake Polytomic's organization holds, as tests set it up: model syncs (`add_sync`,
then their runs through FakeSync, syncs.py) and connections (`add_connection`), each found by
ID, listed, or deleted (afterwards everything about it answers 404).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, cast

from bot.fakes.polytomic.connections import FakeConnection
from bot.fakes.polytomic.state import PolytomicState
from bot.fakes.polytomic.syncs import FakeSync

if TYPE_CHECKING:
    from bot.fakes.polytomic.server import FakePolytomic

__all__ = ["Organization"]


class Organization(PolytomicState):
    """Syncs and connections (FakePolytomic's setup methods)."""

    # -- syncs

    def add_sync(
        self,
        sync_id: str | None = None,
        name: str = "Fake sync",
        *,
        active: bool = True,
        mode: str = "updateOrCreate",
        target_connection_id: str | None = None,
        target_object: str = "Contact",
        frequency: str = "hourly",
        next_run_in: float | None = 3600,
    ) -> FakeSync:
        with self._lock:
            sync_id = sync_id or str(uuid.uuid4())
            if sync_id in self._syncs:
                raise ValueError(f"sync {sync_id} already exists")
            sync = FakeSync(
                # The sync keeps the whole fake (its runs emit events and arm the clock), and
                # this mixin only ever runs as part of one.
                cast("FakePolytomic", self),
                sync_id,
                name,
                active=active,
                mode=mode,
                target_connection_id=target_connection_id or str(uuid.uuid4()),
                target_object=target_object,
                frequency=frequency,
                next_run_in=next_run_in,
                now=time.monotonic(),
            )
            self._syncs[sync_id] = sync
            return sync

    def sync(self, sync_id: str) -> FakeSync:
        with self._lock:
            return self._syncs[sync_id]

    @property
    def syncs(self) -> list[FakeSync]:
        with self._lock:
            return list(self._syncs.values())

    def delete_sync(self, sync_id: str) -> None:
        """Model a sync deleted in Polytomic: afterwards everything about it is a 404."""
        with self._lock:
            del self._syncs[sync_id]

    # -- connections

    def add_connection(
        self,
        name: str,
        type_id: str = "salesforce",
        *,
        connection_id: str | None = None,
        type_name: str | None = None,
        status: str = "healthy",
        status_error: str | None = None,
        parent_connection_id: str | None = None,
    ) -> FakeConnection:
        """A connection syncs can write to: `add_sync(target_connection_id=conn.id)`."""
        with self._lock:
            connection = FakeConnection(
                name=name,
                type_id=type_id,
                organization_id=self.organization_id,
                created_wall=time.time(),
                actor={"id": self.user_id, "name": "Fake User", "type": "user"},
                type_name=type_name,
                status=status,
                status_error=status_error,
                parent_connection_id=parent_connection_id,
            )
            if connection_id:
                connection.id = connection_id
            if connection.id in self._connections:
                raise ValueError(f"connection {connection.id} already exists")
            self._connections[connection.id] = connection
            return connection

    def connection(self, connection_id: str) -> FakeConnection:
        with self._lock:
            return self._connections[connection_id]

    @property
    def connections(self) -> list[FakeConnection]:
        with self._lock:
            return list(self._connections.values())

    def delete_connection(self, connection_id: str) -> None:
        with self._lock:
            del self._connections[connection_id]
