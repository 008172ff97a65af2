"""PolytomicClient's endpoints for model syncs and their executions (runs): read a sync, list
syncs, its status, pause and resume its schedule; read, list, start and cancel runs.

The tracker and the answers to people read these most: a status message follows one run
through `sync_and_status` and `get_execution`, and a cancel goes through `cancel_execution`
(`cancel_sync` may hit a newer run). Lists are paged by the API (at most MAX_PAGE_SIZE an
answer); the `list_*` methods walk the pages lazily, the `list_*_page` methods read one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, Final

from bot.polytomic.endpoints.base import Endpoints
from bot.polytomic.errors import PolytomicError
from bot.polytomic.models import (
    Execution,
    Sync,
    SyncStatus,
    next_page_token,
    parse_execution,
    parse_message,
    parse_sync,
    parse_sync_status,
)
from bot.polytomic.transport import bool_param, paginate, segment

__all__ = ["MAX_PAGE_SIZE"]

MAX_PAGE_SIZE: Final = 50  # the API caps `limit` at 50


class SyncEndpoints(Endpoints):
    """Model syncs (/api/syncs) and their executions (/api/syncs/{id}/executions)."""

    # -- syncs

    def get_sync(self, sync_id: str) -> Sync:
        body = self._request("GET", f"/api/syncs/{segment(sync_id, 'sync_id')}")
        return parse_sync(body.get("data"), default_id=sync_id)

    def list_syncs_page(
        self,
        *,
        page_token: str | None = None,
        active: bool | None = None,
        mode: str | None = None,
        target_connection_id: str | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> tuple[list[Sync], str | None]:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        params: dict[str, str] = {"limit": str(min(limit, MAX_PAGE_SIZE))}
        if page_token:
            params["page_token"] = page_token
        if active is not None:
            params["active"] = bool_param(active)
        if mode:
            params["mode"] = mode
        if target_connection_id:
            params["target_connection_id"] = target_connection_id
        body = self._request("GET", "/api/syncs", params=params)
        items = body.get("data")
        syncs = [parse_sync(item) for item in items] if isinstance(items, list) else []
        # A list item without an ID cannot be acted on; drop it rather than invent one.
        return [s for s in syncs if s.id], next_page_token(body)

    def list_syncs(
        self,
        *,
        active: bool | None = None,
        mode: str | None = None,
        target_connection_id: str | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> Iterator[Sync]:
        """Every sync matching the filters, fetching pages lazily."""

        def page(token: str | None) -> tuple[list[Sync], str | None]:
            return self.list_syncs_page(
                page_token=token,
                active=active,
                mode=mode,
                target_connection_id=target_connection_id,
                limit=limit,
            )

        return paginate(page, "/api/syncs")

    def sync_status(self, sync_id: str) -> SyncStatus:
        body = self._request("GET", f"/api/syncs/{segment(sync_id, 'sync_id')}/status")
        return parse_sync_status(body.get("data"))

    def sync_and_status(self, sync_id: str) -> tuple[Sync, SyncStatus]:
        """The sync and its status, asked for at the same time: one round trip of waiting
        instead of two. A failed status read raises its error, else a failed sync read."""
        sync = self._alongside(functools.partial(self.get_sync, sync_id))
        try:
            status = self.sync_status(sync_id)
        except PolytomicError:
            sync.cancel()
            raise
        return sync.result(), status

    def set_active(self, sync_id: str, active: bool, *, idempotency_key: str) -> None:
        """Pause/resume the schedule. Pausing does NOT stop a run in progress."""
        self._request(
            "POST",
            f"/api/syncs/{segment(sync_id, 'sync_id')}/activate",
            json_body={"active": bool(active)},
            idempotency_key=idempotency_key,
        )

    # -- executions

    def get_execution(self, sync_id: str, execution_id: str) -> Execution:
        path = f"/api/syncs/{segment(sync_id, 'sync_id')}/executions/{segment(execution_id, 'execution_id')}"
        body = self._request("GET", path)
        return parse_execution(body.get("data"), default_id=execution_id)

    def list_executions_page(
        self,
        sync_id: str,
        *,
        page_token: str | None = None,
        only_completed: bool | None = None,
        ascending: bool | None = None,
    ) -> tuple[list[Execution], str | None]:
        params: dict[str, str] = {}
        if page_token:
            params["page_token"] = page_token
        if only_completed is not None:
            params["only_completed"] = bool_param(only_completed)
        if ascending is not None:
            params["ascending"] = bool_param(ascending)
        body = self._request("GET", f"/api/syncs/{segment(sync_id, 'sync_id')}/executions", params=params)
        items = body.get("data")
        executions = [parse_execution(i) for i in items] if isinstance(items, list) else []
        return executions, next_page_token(body)

    def list_executions(
        self,
        sync_id: str,
        *,
        only_completed: bool | None = None,
        ascending: bool | None = None,
    ) -> Iterator[Execution]:
        """Every execution (newest first unless ascending), fetching pages lazily: stop early."""

        def page(token: str | None) -> tuple[list[Execution], str | None]:
            return self.list_executions_page(
                sync_id, page_token=token, only_completed=only_completed, ascending=ascending
            )

        return paginate(page, "/api/syncs/{id}/executions")

    def start_sync(self, sync_id: str, *, idempotency_key: str, resync: bool = False) -> Execution:
        """Start a run; Conflict (409) when one is already running."""
        payload: dict[str, Any] = {"resync": True} if resync else {}
        body = self._request(
            "POST",
            f"/api/syncs/{segment(sync_id, 'sync_id')}/executions",
            json_body=payload,
            idempotency_key=idempotency_key,
        )
        return parse_execution(body.get("data"))

    def cancel_sync(self, sync_id: str, *, idempotency_key: str) -> str:
        """Ask Polytomic to cancel whatever run the sync has now. Asynchronous: poll the
        status until terminal. Prefer cancel_execution: this may hit a newer run."""
        body = self._request(
            "POST",
            f"/api/syncs/{segment(sync_id, 'sync_id')}/cancel",
            idempotency_key=idempotency_key,
        )
        return parse_message(body.get("data"))

    def cancel_execution(self, sync_id: str, execution_id: str, *, idempotency_key: str) -> str:
        """Ask Polytomic to cancel exactly this run. Asynchronous: poll until terminal."""
        path = (
            f"/api/syncs/{segment(sync_id, 'sync_id')}"
            f"/executions/{segment(execution_id, 'execution_id')}/cancel"
        )
        body = self._request("POST", path, idempotency_key=idempotency_key)
        return parse_message(body.get("data"))
