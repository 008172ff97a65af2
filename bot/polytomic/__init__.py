"""Everything the bot knows about Polytomic's API, one concept per module:

- errors.py: the error hierarchy (drawn in its docstring), and the one mapping from an HTTP
  answer or a transport failure onto it;
- models.py: the typed results and the tolerant parsing that builds them;
- client.py: PolytomicClient, the one client, with its request loop;
- transport.py: the small pieces the client is built from (auth, path quoting, pagination).

Callers import from here (`from bot.polytomic import PolytomicClient, NotFound`), never from a
module inside, so the package can be rearranged without touching them.
"""

from bot.polytomic.client import DEFAULT_API_VERSION, FANOUT_THREADS, MAX_PAGE_SIZE, PolytomicClient
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
from bot.polytomic.models import (
    Execution,
    ExecutionCounts,
    ExecutionStatus,
    Identity,
    Phase,
    Sync,
    SyncStatus,
    error_text,
    next_page_token,
    parse_error_body,
    parse_execution,
    parse_identity,
    parse_message,
    parse_sync,
    parse_sync_status,
    parse_timestamp,
)
from bot.polytomic.transport import USER_AGENT, validate_idempotency_key

__all__ = [
    "DEFAULT_API_VERSION",
    "ERROR_KINDS",
    "FANOUT_THREADS",
    "MAX_PAGE_SIZE",
    "MAX_RETRY_AFTER",
    "USER_AGENT",
    "BadRequest",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "ErrorKind",
    "Execution",
    "ExecutionCounts",
    "ExecutionStatus",
    "Forbidden",
    "Identity",
    "NotFound",
    "Phase",
    "PolytomicClient",
    "PolytomicError",
    "RateLimited",
    "ServerError",
    "Sync",
    "SyncStatus",
    "TimedOut",
    "Transient",
    "Unauthorized",
    "Unavailable",
    "error_kind",
    "error_text",
    "for_status",
    "from_response",
    "from_transport",
    "next_page_token",
    "parse_error_body",
    "parse_execution",
    "parse_identity",
    "parse_message",
    "parse_retry_after",
    "parse_sync",
    "parse_sync_status",
    "parse_timestamp",
    "validate_idempotency_key",
]
