"""PolytomicClient's endpoints, a mixin a resource, each on the contract of base.py:

- syncs.py: model syncs and their executions (read, list, status, pause, start, cancel);
- connections.py: the organization's connections, and resolving one by ID or name;
- events.py: events of a time window, and the event types;
- webhooks.py: the organization's one webhook;
- identity.py: who the key belongs to.

client.py puts them together as PolytomicClient and sends their requests. Nothing else imports
this package: callers use `from bot.polytomic import PolytomicClient`.
"""

from bot.polytomic.endpoints.connections import ConnectionEndpoints
from bot.polytomic.endpoints.events import EventEndpoints
from bot.polytomic.endpoints.identity import IdentityEndpoints
from bot.polytomic.endpoints.syncs import SyncEndpoints
from bot.polytomic.endpoints.webhooks import WebhookEndpoints

__all__ = [
    "ConnectionEndpoints",
    "EventEndpoints",
    "IdentityEndpoints",
    "SyncEndpoints",
    "WebhookEndpoints",
]
