"""What the answers read about many syncs at once (`/polytomic list`, a sync named rather than
given by ID), read within bounds, shared and cached, so that people asking cannot crowd out the
cancels.

One `list running` over 250 syncs costs about 200 requests (the pages, then every sync's
status); forty of them in a second, typed by anyone (listing needs no grant), would spend the
key's budget the cancels and the tracker's polls need. So `Listings`:

- reads the pages of /api/syncs up to a cap (`scan(max_pages)`), and says when it stopped with
  more to read (`SyncScan.truncated`), so a server that always sends a fresh next_page_token
  cannot keep an answer reading for ever. The cap is the caller's: a name look-up, the list,
  and later incident mode each choose theirs, and each says "truncated" honestly;
- keeps each answer (a scan, one sync's status) for `ttl` seconds (a failure for
  `failure_ttl`), and lets concurrent askers share one request in flight (single flight):
  forty listings at once cost what one does;
- sends the status reads of every listing from its own `fanout` threads, and from nowhere
  else; a scan's pages are read one after the other in the asking thread (so a cancel by name
  never queues behind a storm's status reads). Listings thus have at most `fanout` requests,
  plus one a distinct scan, at Polytomic at once, whoever asks. Cancels and polls do not go
  through here: the tracker has a client of its own, and the cancel prompt's reads go straight
  to the answers' client, whose connection pool listings use a few connections of: they never
  wait behind a listing. (The answers themselves run on a lane of their own: bot/responder.py.)

Built once in bot/services.py; closed with the services.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, TypeVar

from bot.polytomic import PolytomicClient, PolytomicError, Sync, SyncStatus

__all__ = ["LISTING_FANOUT", "LISTING_TTL", "Listings", "SyncScan"]

LISTING_TTL: Final = 15.0  # seconds a scan or a sync's status is shared before it is read again
FAILURE_TTL: Final = 2.0  # seconds a failed read is shared (a storm waits out a blip together)
LISTING_FANOUT: Final = 8  # requests listings have at Polytomic at once, at most, all askers together
_MAX_ENTRIES: Final = 5_000  # remembered answers past which the expired ones are dropped

_T = TypeVar("_T")


@dataclass(frozen=True)
class SyncScan:
    """The syncs read, in Polytomic's order; `truncated`: the page cap was reached and the
    server offered more pages (whatever it holds beyond them was not looked at)."""

    syncs: tuple[Sync, ...]
    truncated: bool
    pages: int  # pages read


def scan_syncs(polytomic: PolytomicClient, max_pages: int) -> SyncScan:
    """Read at most `max_pages` pages of /api/syncs, stopping on the last page, or on a page
    token the server repeats (a server bug must not turn a listing into a loop)."""
    if max_pages < 1:
        raise ValueError("max_pages must be >= 1")
    syncs: list[Sync] = []
    seen: set[str] = set()
    token: str | None = None
    for page in range(1, max_pages + 1):
        items, token = polytomic.list_syncs_page(page_token=token)
        syncs.extend(items)
        if not token or token in seen:
            return SyncScan(tuple(syncs), truncated=False, pages=page)
        seen.add(token)
    return SyncScan(tuple(syncs), truncated=True, pages=max_pages)


@dataclass
class _Entry:
    future: Future[object]
    expires: float | None = None  # None while the request is in flight
    read_at: float | None = None  # when its answer came (monotonic)


class Listings:
    """Bounded, shared and cached reads of many syncs (see the module docstring). Thread-safe."""

    def __init__(
        self,
        polytomic: PolytomicClient,
        *,
        ttl: float = LISTING_TTL,
        failure_ttl: float = FAILURE_TTL,
        fanout: int = LISTING_FANOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if fanout < 1 or ttl < 0 or failure_ttl < 0:
            raise ValueError("fanout must be >= 1 and the TTLs >= 0")
        self.polytomic = polytomic
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self.fanout = fanout
        self._monotonic = monotonic
        self._pool = ThreadPoolExecutor(fanout, thread_name_prefix="listing")
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- what the answers ask ---------------------------------------------------------

    def scan(self, max_pages: int) -> SyncScan:
        """The syncs, at most `max_pages` pages of them; raises the PolytomicError of a page.
        Read in the asking thread, one page after the other (one request at a time), so a
        cancel by name never queues behind the status reads of a listing storm."""
        future = self._shared(("scan", max_pages), lambda: scan_syncs(self.polytomic, max_pages), inline=True)
        return _result(future, SyncScan)

    def statuses(self, syncs: Sequence[Sync]) -> list[SyncStatus | PolytomicError]:
        """Each sync's status (or why it could not be read), in order, read `fanout` at a time
        at most, shared with whoever else asks for the same sync meanwhile."""
        futures = [
            self._shared(("status", sync.id), _status_reader(self.polytomic, sync.id)) for sync in syncs
        ]
        out: list[SyncStatus | PolytomicError] = []
        for future in futures:
            try:
                out.append(_result(future, SyncStatus))
            except PolytomicError as error:
                out.append(error)
        return out

    def age(self, max_pages: int, syncs: Sequence[Sync]) -> float:
        """Seconds since the oldest of these answers (the scan, the syncs' statuses) was read:
        what a listing says is at most this old."""
        now = self._monotonic()
        keys: list[Hashable] = [("scan", max_pages), *(("status", sync.id) for sync in syncs)]
        with self._lock:
            read = [
                e.read_at for k in keys if (e := self._entries.get(k)) is not None and e.read_at is not None
            ]
        return max(0.0, now - min(read)) if read else 0.0

    # ---- single flight with a TTL -----------------------------------------------------

    def _shared(self, key: Hashable, read: Callable[[], object], *, inline: bool = False) -> Future[object]:
        """The answer to `key`: kept, in flight, or asked now: on the listing threads, or with
        `inline` in this thread (whoever asks meanwhile waits for this one)."""
        now = self._monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry.expires is None or now < entry.expires):
                return entry.future
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries = {
                    k: e for k, e in self._entries.items() if e.expires is None or now < e.expires
                }
            entry = _Entry(Future() if inline else self._pool.submit(read))
            self._entries[key] = entry
        entry.future.add_done_callback(lambda future: self._settled(entry, future))
        if inline:
            try:
                entry.future.set_result(read())
            except BaseException as error:  # handed to every waiter, and raised here too
                entry.future.set_exception(error)
        return entry.future

    def _settled(self, entry: _Entry, future: Future[object]) -> None:
        failed = future.cancelled() or future.exception() is not None
        with self._lock:
            entry.read_at = self._monotonic()
            entry.expires = entry.read_at + (self.failure_ttl if failed else self.ttl)


def _status_reader(polytomic: PolytomicClient, sync_id: str) -> Callable[[], SyncStatus]:
    return lambda: polytomic.sync_status(sync_id)


def _result(future: Future[object], kind: type[_T]) -> _T:
    value = future.result()
    assert isinstance(value, kind)
    return value
