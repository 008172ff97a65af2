"""The fake Polytomic's settings and state, behind one lock: the base of every part of
FakePolytomic.

Every mixin of FakePolytomic (organization.py, event_feed.py, deliveries.py, inspection.py,
faults.py, and server.py, which puts them together) derives from `PolytomicState`, so each
module holds one concept while all of them share one lock, one condition that wakes every
waiter, and one set of records. The constructor is here, with the fake's settings; so are the
wall clock the answers print (`_wall`, from the monotonic clock runs are timed on) and
`events_order`, the one setting checked whenever it is set (the constructor included).

Everything under `_lock`: a caller holds it while it reads or changes state.
"""

from __future__ import annotations

import collections
import itertools
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from bot.fakes.polytomic.common import DEFAULT_API_KEY, MAX_PAGE
from bot.fakes.polytomic.connections import FakeConnection
from bot.fakes.polytomic.events import EventLog, EventsOrder
from bot.fakes.polytomic.plumbing import Server
from bot.fakes.polytomic.recording import Fault, Latency, RecordedRequest, Stored
from bot.fakes.polytomic.syncs import FakeSync
from bot.fakes.polytomic.webhooks import Deliverer, FakeWebhook, SignatureEncoding

if TYPE_CHECKING:
    from bot.fakes.polytomic.executions import FakeExecution

__all__ = ["PolytomicState"]


class PolytomicState:
    """The settings and state of one FakePolytomic; one lock guards all of it (`_lock`)."""

    def __init__(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        *,
        deployment_key: str | None = None,
        organization_id: str | None = None,
        organization_name: str = "Fake Org",
        events_order: EventsOrder = "descending",
        event_retention: float = 48 * 3600.0,
        max_events: int = 10_000,
        signature_encoding: SignatureEncoding = "hex",
        delivery_retry_base: float = 0.1,
        delivery_max_retries: int = 5,
        delivery_timeout: float = 5.0,
        delivery_concurrency: int = 1,
        max_recorded: int = 200_000,
        max_executions: int | None = None,
    ) -> None:
        """`max_recorded` bounds what a long-lived fake (the demo) keeps: recorded requests,
        idempotent answers and page tokens, oldest dropped first; events and deliveries are
        bounded by `max_events`; `max_executions` bounds each sync's runs (its oldest finished
        ones go first when a run starts; None keeps all)."""
        if max_executions is not None and max_executions < 1:
            raise ValueError("max_executions must be at least 1")
        self.max_executions = max_executions
        self.api_key = api_key
        self.deployment_key = deployment_key
        self.organization_id = organization_id or str(uuid.uuid4())
        self.organization_name = organization_name
        self.user_id = str(uuid.uuid4())
        self.user_email = "fake-user@example.com"
        self.identity: dict[str, Any] | None = None  # set to override GET /api/me's data
        self.executions_page_size = MAX_PAGE
        self.internal_errors: list[str] = []  # bugs in the fake itself; assert it stays empty
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._syncs: dict[str, FakeSync] = {}
        self._max_recorded = max_recorded
        self._requests: collections.deque[RecordedRequest] = collections.deque(maxlen=max_recorded)
        self._faults: list[Fault] = []
        self._latencies: list[Latency] = []
        self._endless_pages: set[str] = set()  # list kinds paged for ever (Faults.paginate_forever)
        self._idempotency: dict[str, Stored] = {}
        self._page_tokens: dict[str, tuple[str, str, tuple[Any, ...]]] = {}
        self._sockets: set[socket.socket] = set()
        self._wall0, self._mono0 = time.time(), time.monotonic()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        # The clock: (due time, seq, run or sync) for every state change that may come due.
        self._clock_cond = threading.Condition(self._lock)
        self._clock: list[tuple[float, int, FakeExecution | FakeSync]] = []
        self._clock_seq = itertools.count()
        self._clock_thread: threading.Thread | None = None
        self._stopping = False
        # Events, connections and the webhook.
        self.events_order = events_order
        self._events = EventLog(retention=event_retention, max_events=max_events)
        self._last_emit = 0.0
        self._connections: dict[str, FakeConnection] = {}
        self._webhook: FakeWebhook | None = None
        self.signature_encoding: SignatureEncoding = signature_encoding
        self._deliverer = Deliverer(
            retry_base=delivery_retry_base,
            max_retries=delivery_max_retries,
            timeout=delivery_timeout,
            concurrency=delivery_concurrency,
            max_records=max_events,
        )

    def _wall(self, mono: float) -> float:
        return self._wall0 + (mono - self._mono0)

    @property
    def events_order(self) -> EventsOrder:
        """The order GET /api/events sorts in (Polytomic does not document it): the first
        `limit` events in this order are answered. Set it to test the bot against either."""
        return self._events_order

    @events_order.setter
    def events_order(self, order: EventsOrder) -> None:
        if order not in ("ascending", "descending"):
            raise ValueError("events_order must be 'ascending' or 'descending'")
        self._events_order = order
