"""A fake Polytomic API over real HTTP, for every test (and the benchmarks and the demo) that
talks to Polytomic.

It stands in for the remote service, so it imports no bot module outside `bot.fakes`. Answers
follow the shapes in /work/shared/polytomic (API.md, the SDK's JSON Schemas and the OpenAPI
export) and the official SDK (polytomic 25.9.10) for events, webhooks and connections:
`tests/integration/test_fake_polytomic_schemas.py` and `test_fake_polytomic_events.py` check
them against those schemas.

    with FakePolytomic() as fake:                      # 127.0.0.1, ephemeral port
        salesforce = fake.add_connection("Salesforce prod", "salesforce")
        sync = fake.add_sync(name="Contacts to Salesforce", target_connection_id=salesforce.id)
        fake.register_webhook("http://127.0.0.1:8080/polytomic/webhook", "s3cret-value")
        run = sync.start_execution(rows_per_second=500)
        ...  # point the code under test at fake.url with fake.api_key
        assert fake.effective_cancels(sync.id) == 1
        assert run.status == "canceled"
        fake.wait_for_deliveries(event_type="sync.canceled")

The modules. FakePolytomic is one object with one lock, so its methods are mixins of one state
class, a mixin a module: state.py (its settings and state), server.py (the parts put together,
started, stopped, the clock, every request served: auth, idempotency), organization.py (syncs
and connections as tests set them up), event_feed.py (the event log's knobs, emitting),
deliveries.py (the webhook's knobs and deliveries), inspection.py (recorded requests, waiting),
faults.py (injected failures and latency). What they hold: syncs.py (model syncs, schedules),
executions.py (runs, on a real clock), events.py (the event log and payloads), webhooks.py (the
webhook and its deliveries), connections.py, recording.py (recorded requests, faults). And:
routes.py (what each endpoint answers), plumbing.py (HTTP), common.py (shared constants and
parsing).

Assumptions where the contract is silent (kept deliberately strict so bugs show up):
- a cancel for a sync or execution with nothing active answers 200 (`acted_on` is None);
- starting a paused sync answers 400; an Idempotency-Key reused for a different request
  answers 422; a malformed Idempotency-Key answers 400; keys are honoured on every write
  (POST, PUT, DELETE), as the SDK sends them;
- answers produced by injected faults are not stored for idempotent replay (they model a
  gateway failing before Polytomic saw the request), real answers (incl. 4xx) are;
- GET /api/events sorts newest first unless `events_order = "ascending"` (undocumented);
  bad filters (limit outside 1-100, a time that is not RFC 3339, an unknown type) answer 422,
  the only 4xx the SDK declares for it; no match answers `{"data": null}` (Go's nil slice);
- events are stamped when emitted; history added with add_past_execution emitted none; an
  `interrupted` run emits no event (no type covers it); a run completed with `errors` emits
  sync.completed_with_errors;
- creating a second webhook answers 422 (the SDK declares no 409 for create); a secret outside
  6-32 characters or an endpoint that is not an http(s) URL answers 422; DELETE answers 200
  with no body; a disabled webhook gets no deliveries, and they are not queued for later.
"""

from bot.fakes.polytomic.common import ACTIVE_STATUSES, DEFAULT_API_KEY, TERMINAL_STATUSES, rfc3339
from bot.fakes.polytomic.connections import FakeConnection
from bot.fakes.polytomic.events import BULK_SYNC_EVENT_TYPES, EVENT_TYPES, SYNC_EVENT_TYPES, EventsOrder
from bot.fakes.polytomic.executions import FakeExecution
from bot.fakes.polytomic.recording import RecordedRequest
from bot.fakes.polytomic.server import FakePolytomic, fake_polytomic, retry_after_date
from bot.fakes.polytomic.syncs import FakeSync
from bot.fakes.polytomic.webhooks import DeliveryAttempt, FakeWebhook, SignatureEncoding, signature

__all__ = [
    "ACTIVE_STATUSES",
    "BULK_SYNC_EVENT_TYPES",
    "DEFAULT_API_KEY",
    "EVENT_TYPES",
    "SYNC_EVENT_TYPES",
    "TERMINAL_STATUSES",
    "DeliveryAttempt",
    "EventsOrder",
    "FakeConnection",
    "FakeExecution",
    "FakePolytomic",
    "FakeSync",
    "FakeWebhook",
    "RecordedRequest",
    "SignatureEncoding",
    "fake_polytomic",
    "retry_after_date",
    "rfc3339",
    "signature",
]
