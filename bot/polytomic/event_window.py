"""Reading every event of a time window, whatever order the server sorts in: `read_window`,
and what it found, `EventWindow`.

The events API has no pagination cursor, its sort order is undocumented and its time filters
are strict, so the window is narrowed page by page (see read_window's docstring). It reads
through a page-fetching callable (the client's `list_events`), so it is pure: both orders, ties
on one timestamp and a budget running out are tested without a server. Kept apart from the
event model (events.py) because it is an algorithm over pages, not a shape of data. Imports no
other bot module but events.py.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from bot.polytomic.events import MAX_EVENTS_LIMIT, Event, event_key

__all__ = ["EventOrder", "EventWindow", "read_window"]

_MICROSECOND: Final = timedelta(microseconds=1)
_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)

EventOrder = Literal["ascending", "descending", "unknown"]
# fetch(starting_after, ending_before, limit) -> one page, as the events API answers it.
Fetch = Callable[[datetime | None, datetime | None, int], list[Event]]


@dataclass(frozen=True)
class EventWindow:
    """What read_window found. `events`: each event once, oldest first (those without a
    timestamp last). `complete`: every event of the window was read. `covered_until`: every
    event from the window's start up to (not including) this time was read, so it is the
    safe place to resume from; it is the window's end when complete (None for an open end),
    and the window's start when nothing is certain. Incomplete means the request budget ran
    out or more than `limit` events share one timestamp. `order`: what the pages looked like
    (a server sorts one way; "unknown" until a page shows it), for a log line."""

    events: tuple[Event, ...]
    complete: bool
    covered_until: datetime | None
    requests: int
    order: EventOrder

    @property
    def newest(self) -> datetime | None:
        stamps = [e.created_at for e in self.events if e.created_at is not None]
        return max(stamps) if stamps else None


def _page_order(stamps: list[datetime]) -> EventOrder:
    if all(a <= b for a, b in itertools.pairwise(stamps)) and stamps[0] < stamps[-1]:
        return "ascending"
    if all(a >= b for a, b in itertools.pairwise(stamps)) and stamps[0] > stamps[-1]:
        return "descending"
    return "unknown"


def _inside(lo: datetime | None, hi: datetime | None, a: datetime | None, b: datetime | None) -> bool:
    """(a, b) lies within (lo, hi) and is strictly smaller: narrowing makes progress."""
    a_ok = lo is None or (a is not None and a >= lo)
    b_ok = hi is None or (b is not None and b <= hi)
    smaller = (a is not None and (lo is None or a > lo)) or (b is not None and (hi is None or b < hi))
    return a_ok and b_ok and smaller


def _reach(
    start: datetime | None, covered: list[tuple[datetime | None, datetime | None]]
) -> tuple[bool, datetime | None]:
    """How far the union of the open intervals `covered` reaches from the window's start:
    (True, None) when it reaches an open end, else (False, the first point not covered)."""
    point, first = start, True
    while True:
        best: datetime | None = None
        for a, b in covered:
            if a is None:
                starts = True
            elif point is None:
                starts = False
            else:
                # The window's own start holds no event (strictly after), so a span may begin
                # there; past it, a span must begin before the point to cover the point itself.
                starts = a <= point if first else a < point
            if not starts:
                continue
            if b is None:
                return True, None
            if (point is None or b > point) and (best is None or b > best):
                best = b
        if best is None:
            return False, point
        point, first = best, False


def read_window(
    fetch: Fetch,
    starting_after: datetime | None,
    ending_before: datetime | None = None,
    *,
    limit: int = MAX_EVENTS_LIMIT,
    max_requests: int = 50,
) -> EventWindow:
    """Every event created strictly after `starting_after` and strictly before
    `ending_before` (either None: unbounded), whatever order the server sorts in.

    A page shorter than `limit` holds its whole window. A full page means there is more:
    sorted oldest first, the rest lies after its newest event; newest first, before its
    oldest; in no clear order (or all on one timestamp), anywhere, so the window is split at
    the page's median timestamp. Each narrower window overlaps the page by a microsecond,
    because events can share a timestamp and the filters are strict; what overlaps is
    deduplicated by id. More than `limit` events on one timestamp cannot all be read (the
    API has no cursor): the rest of the window still is, and the result says incomplete.
    Windows are read oldest first, so a run out of budget still covers a prefix.
    """
    if limit < 1 or limit > MAX_EVENTS_LIMIT:
        raise ValueError(f"limit must be 1-{MAX_EVENTS_LIMIT}")
    if max_requests < 1:
        raise ValueError("max_requests must be >= 1")
    found: dict[str, Event] = {}
    covered: list[tuple[datetime | None, datetime | None]] = []
    todo: list[tuple[tuple[bool, datetime], int, datetime | None, datetime | None]] = []
    sequence = 0

    def push(lo: datetime | None, hi: datetime | None) -> None:
        nonlocal sequence
        sequence += 1
        heapq.heappush(todo, ((lo is not None, lo or _EARLIEST), sequence, lo, hi))

    stuck = False

    def push_narrower(
        lo: datetime | None,
        hi: datetime | None,
        window: tuple[datetime | None, datetime | None],
        without_tie: tuple[datetime | None, datetime | None] | None,
    ) -> None:
        """Read `window` next when it is narrower than (lo, hi). When it is not, more than
        `limit` events share the boundary timestamp and some of them cannot be read: say so,
        and read `without_tie` (the same side, that timestamp left out) instead."""
        nonlocal stuck
        if _inside(lo, hi, *window):
            push(*window)
            return
        stuck = True
        if without_tie is not None and _inside(lo, hi, *without_tie):
            push(*without_tie)

    push(starting_after, ending_before)
    requests = 0
    orders: set[EventOrder] = set()
    while todo and requests < max_requests:
        _, _, lo, hi = heapq.heappop(todo)
        page = fetch(lo, hi, limit)
        requests += 1
        for event in page:
            found.setdefault(event_key(event), event)
        stamps = [e.created_at for e in page if e.created_at is not None]
        order = _page_order(stamps) if len(stamps) > 1 else "unknown"
        if order != "unknown":
            orders.add(order)
        if len(page) < limit:
            covered.append((lo, hi))
            continue
        if not stamps:
            stuck = True  # a full page without timestamps cannot be narrowed
            continue
        oldest, newest = min(stamps), max(stamps)
        if order == "ascending":
            covered.append((lo, newest))  # the page is the oldest `limit`: all before its newest
            push_narrower(lo, hi, (newest - _MICROSECOND, hi), None)
        elif order == "descending":
            covered.append((oldest, hi))
            push_narrower(lo, hi, (lo, oldest + _MICROSECOND), None)
        else:
            middle = sorted(stamps)[len(stamps) // 2]
            push_narrower(lo, hi, (lo, middle + _MICROSECOND), (lo, middle))
            push_narrower(lo, hi, (middle - _MICROSECOND, hi), (middle, hi))
    complete = not todo and not stuck
    if complete:
        until = ending_before
    else:
        reached_end, until = _reach(starting_after, covered)
        if reached_end:
            until = ending_before
    events = sorted(
        found.values(),
        key=lambda e: (e.created_at is None, e.created_at or _EARLIEST, e.id or ""),
    )
    seen_order: EventOrder = orders.pop() if len(orders) == 1 else "unknown"
    return EventWindow(
        events=tuple(events),
        complete=complete,
        covered_until=until,
        requests=requests,
        order=seen_order,
    )
