"""PolytomicClient's endpoints for the organization's webhook (/api/webhooks; Polytomic allows
one per organization): list, read, create, update, delete, disable and enable it.

The webhook's secret travels in these requests, so each one names it to `_request` to be kept
out of error texts, and `_webhook_body` checks the endpoint and the secret before anything is
sent, with errors that never echo the secret. A write the caller gives no Idempotency-Key gets
a fresh one, so the client's own retries of that call replay instead of acting twice. (A
delivery Polytomic sends to the bot is read in bot/polytomic/webhooks.py, without a server.)
"""

from __future__ import annotations

import secrets
from typing import Final

from bot.polytomic.endpoints.base import Endpoints
from bot.polytomic.models import Webhook, parse_webhook
from bot.polytomic.transport import segment

__all__ = ["WEBHOOK_SECRET_LENGTH"]

WEBHOOK_SECRET_LENGTH: Final = (6, 32)  # Polytomic's rule for a webhook's secret


class WebhookEndpoints(Endpoints):
    """The organization's webhook (/api/webhooks)."""

    def list_webhooks(self) -> list[Webhook]:
        items = self._request("GET", "/api/webhooks").get("data")
        hooks = [parse_webhook(i) for i in items] if isinstance(items, list) else []
        return [h for h in hooks if h.id]

    def get_webhook(self, webhook_id: str) -> Webhook:
        body = self._request("GET", f"/api/webhooks/{segment(webhook_id, 'webhook_id')}")
        return parse_webhook(body.get("data"), default_id=webhook_id)

    def create_webhook(self, endpoint: str, secret: str, *, idempotency_key: str | None = None) -> Webhook:
        """Register the organization's webhook. Polytomic allows one: when there is one
        already, update it instead (list_webhooks finds it)."""
        payload = _webhook_body(endpoint, secret)
        body = self._request(
            "POST",
            "/api/webhooks",
            json_body=payload,
            idempotency_key=idempotency_key or _fresh_key("webhook-create"),
            also_redact=(secret,),
        )
        return parse_webhook(body.get("data"))

    def update_webhook(
        self, webhook_id: str, endpoint: str, secret: str, *, idempotency_key: str | None = None
    ) -> Webhook:
        """Point the webhook at `endpoint`, signed with `secret` (both are required)."""
        payload = _webhook_body(endpoint, secret)
        body = self._request(
            "PUT",
            f"/api/webhooks/{segment(webhook_id, 'webhook_id')}",
            json_body=payload,
            idempotency_key=idempotency_key or _fresh_key("webhook-update"),
            also_redact=(secret,),
        )
        return parse_webhook(body.get("data"), default_id=webhook_id)

    def delete_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> None:
        self._request(
            "DELETE",
            f"/api/webhooks/{segment(webhook_id, 'webhook_id')}",
            idempotency_key=idempotency_key or _fresh_key("webhook-delete"),
        )

    def disable_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> Webhook:
        """Stop deliveries without deleting the webhook. Events meanwhile are not queued."""
        return self._webhook_action(webhook_id, "disable", idempotency_key)

    def enable_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> Webhook:
        return self._webhook_action(webhook_id, "enable", idempotency_key)

    def _webhook_action(self, webhook_id: str, action: str, idempotency_key: str | None) -> Webhook:
        body = self._request(
            "POST",
            f"/api/webhooks/{segment(webhook_id, 'webhook_id')}/{action}",
            idempotency_key=idempotency_key or _fresh_key(f"webhook-{action}"),
        )
        return parse_webhook(body.get("data"), default_id=webhook_id)


def _webhook_body(endpoint: str, secret: str) -> dict[str, str]:
    """Checked before anything is sent; the errors never echo the secret."""
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        raise ValueError("the webhook endpoint must be an http(s) URL")
    if any(c.isspace() or not c.isprintable() for c in endpoint):
        raise ValueError("the webhook endpoint must not contain whitespace or control characters")
    low, high = WEBHOOK_SECRET_LENGTH
    if not isinstance(secret, str) or not low <= len(secret) <= high:
        raise ValueError(f"the webhook secret must be {low}-{high} characters")
    return {"endpoint": endpoint, "secret": secret}


def _fresh_key(what: str) -> str:
    # One key per call: the client's own retries of that call replay instead of acting twice.
    return f"{what}-{secrets.token_hex(12)}"
