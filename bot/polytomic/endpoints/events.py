"""PolytomicClient's endpoints for events (/api/events, /api/events_types): one page of a time
window, a whole window, and the event types a deployment emits.

The events API has no cursor and an undocumented sort order, so reading a whole window is
`read_window` (event_window.py, pure) driven by `list_events`; this module only builds the
requests: RFC 3339 UTC times with microseconds, `limit` checked against the API's range.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.polytomic.endpoints.base import Endpoints
from bot.polytomic.event_window import EventWindow, read_window
from bot.polytomic.events import MAX_EVENTS_LIMIT, Event, parse_events

__all__: list[str] = []  # internal: PolytomicClient is what callers use


class EventEndpoints(Endpoints):
    """Events (/api/events) and their types (/api/events_types)."""

    def list_events(
        self,
        *,
        type: str | None = None,
        starting_after: datetime | None = None,
        ending_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """One page of GET /api/events: events created strictly after `starting_after` and
        strictly before `ending_before`, at most `limit` (1-100; Polytomic's default is 10).
        The sort order is undocumented and there is no cursor: read_events pages for you."""
        params: dict[str, str] = {}
        if type:
            params["type"] = type
        if starting_after is not None:
            params["starting_after"] = _rfc3339(starting_after, "starting_after")
        if ending_before is not None:
            params["ending_before"] = _rfc3339(ending_before, "ending_before")
        if limit is not None:
            if not 1 <= limit <= MAX_EVENTS_LIMIT:
                raise ValueError(f"limit must be 1-{MAX_EVENTS_LIMIT}")
            params["limit"] = str(limit)
        return parse_events(self._request("GET", "/api/events", params=params).get("data"))

    def read_events(
        self,
        starting_after: datetime | None,
        ending_before: datetime | None = None,
        *,
        type: str | None = None,
        max_requests: int = 50,
    ) -> EventWindow:
        """Every event of a time window, in pages of 100, whatever order Polytomic sorts in
        (event_window.read_window). At most `max_requests` requests: see EventWindow.complete."""

        def fetch(after: datetime | None, before: datetime | None, limit: int) -> list[Event]:
            return self.list_events(type=type, starting_after=after, ending_before=before, limit=limit)

        return read_window(fetch, starting_after, ending_before, max_requests=max_requests)

    def event_types(self) -> list[str]:
        """GET /api/events_types: the type identifiers this deployment emits."""
        items = self._request("GET", "/api/events_types").get("data")
        return [i for i in items if isinstance(i, str)] if isinstance(items, list) else []


def _rfc3339(when: datetime, what: str) -> str:
    """An aware datetime as RFC 3339 UTC with microseconds, the precision the filters need."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
