"""Everything the bot knows about Polytomic's API, one concept per module:

- errors.py: the error hierarchy (drawn in its docstring), and the one mapping from an HTTP
  answer or a transport failure onto it; error_bodies.py: what a failed answer's body says;
- models.py: the typed results (syncs, executions, their status, the key's identity, the
  webhook) and the tolerant parsing that builds them, on the readers of parsing.py;
- connections.py: connections, and the lookup of one by ID or name;
- secret.py: Secret, a credential no repr shows;
- events.py: events (typed payloads for sync.* and bulk_sync.*); event_window.py: the reading
  of a time window of them whatever the server's sort order;
- webhooks.py: a webhook delivery checked and read without a server (signature, body,
  dedupe key);
- client.py: PolytomicClient, the one client, with its request loop; its endpoints are mixed in
  from endpoints/, a module a resource;
- transport.py: the small pieces the client is built from (auth, path quoting, pagination).

Callers import from here (`from bot.polytomic import PolytomicClient, NotFound`), never from a
module inside, so the package can be rearranged without touching them.
"""

from bot.polytomic.client import (
    DEFAULT_API_VERSION,
    FANOUT_THREADS,
    MAX_PAGE_SIZE,
    WEBHOOK_SECRET_LENGTH,
    PolytomicClient,
)
from bot.polytomic.connections import (
    AmbiguousConnection,
    Connection,
    ConnectionLookupError,
    ConnectionType,
    UnknownConnection,
    find_connection,
    parse_connection,
)
from bot.polytomic.error_bodies import error_text, parse_error_body
from bot.polytomic.errors import (
    ERROR_KINDS,
    MAX_RETRY_AFTER,
    BadRequest,
    ClientError,
    Conflict,
    ConnectionFailed,
    ErrorKind,
    Forbidden,
    NotFound,
    PolytomicError,
    RateLimited,
    ServerError,
    TimedOut,
    Transient,
    Unauthorized,
    Unavailable,
    error_kind,
    for_status,
    from_response,
    from_transport,
    parse_retry_after,
)
from bot.polytomic.event_window import EventOrder, EventWindow, read_window
from bot.polytomic.events import (
    BULK_SYNC_EVENT_TYPES,
    EVENT_TYPES,
    MAX_EVENTS_LIMIT,
    SYNC_EVENT_TYPES,
    TERMINAL_OUTCOMES,
    BulkSyncEventPayload,
    Event,
    Outcome,
    SyncEventPayload,
    event_key,
    parse_event,
    parse_events,
)
from bot.polytomic.models import (
    Execution,
    ExecutionCounts,
    ExecutionStatus,
    Identity,
    Phase,
    Sync,
    SyncStatus,
    Webhook,
    next_page_token,
    parse_execution,
    parse_identity,
    parse_message,
    parse_sync,
    parse_sync_status,
    parse_timestamp,
    parse_webhook,
)
from bot.polytomic.secret import Secret, mask_secret
from bot.polytomic.transport import USER_AGENT, validate_idempotency_key
from bot.polytomic.webhooks import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    BodyTooLarge,
    InvalidSignature,
    MalformedDelivery,
    SignatureForm,
    WebhookError,
    dedupe_key,
    parse_delivery,
    sign,
    verify_signature,
)

__all__ = [
    "BULK_SYNC_EVENT_TYPES",
    "DEFAULT_API_VERSION",
    "ERROR_KINDS",
    "EVENT_TYPES",
    "FANOUT_THREADS",
    "MAX_BODY_BYTES",
    "MAX_EVENTS_LIMIT",
    "MAX_PAGE_SIZE",
    "MAX_RETRY_AFTER",
    "SIGNATURE_HEADER",
    "SYNC_EVENT_TYPES",
    "TERMINAL_OUTCOMES",
    "USER_AGENT",
    "WEBHOOK_SECRET_LENGTH",
    "AmbiguousConnection",
    "BadRequest",
    "BodyTooLarge",
    "BulkSyncEventPayload",
    "ClientError",
    "Conflict",
    "Connection",
    "ConnectionFailed",
    "ConnectionLookupError",
    "ConnectionType",
    "ErrorKind",
    "Event",
    "EventOrder",
    "EventWindow",
    "Execution",
    "ExecutionCounts",
    "ExecutionStatus",
    "Forbidden",
    "Identity",
    "InvalidSignature",
    "MalformedDelivery",
    "NotFound",
    "Outcome",
    "Phase",
    "PolytomicClient",
    "PolytomicError",
    "RateLimited",
    "Secret",
    "ServerError",
    "SignatureForm",
    "Sync",
    "SyncEventPayload",
    "SyncStatus",
    "TimedOut",
    "Transient",
    "Unauthorized",
    "Unavailable",
    "UnknownConnection",
    "Webhook",
    "WebhookError",
    "dedupe_key",
    "error_kind",
    "error_text",
    "event_key",
    "find_connection",
    "for_status",
    "from_response",
    "from_transport",
    "mask_secret",
    "next_page_token",
    "parse_connection",
    "parse_delivery",
    "parse_error_body",
    "parse_event",
    "parse_events",
    "parse_execution",
    "parse_identity",
    "parse_message",
    "parse_retry_after",
    "parse_sync",
    "parse_sync_status",
    "parse_timestamp",
    "parse_webhook",
    "read_window",
    "sign",
    "validate_idempotency_key",
    "verify_signature",
]
