"""Prometheus metrics (prometheus_client), one registry per process, served at GET /metrics.

Every label takes its values from a fixed set, never from what a remote or a client sent:
Slack's error codes are mapped onto `SLACK_ERRORS` (anything else is `other`, so a proxy that
invents errors cannot grow the series without bound), refusals at the HTTP edge onto
`REFUSED_STATUSES`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# The Slack errors worth telling apart on a dashboard: the bot's own labels (ratelimited,
# connection_error, timeout, redirected) and the error codes of the Web API methods it calls.
SLACK_ERRORS = frozenset(
    {
        "ratelimited",
        "connection_error",
        "timeout",
        "redirected",
        "unknown_error",
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "no_such_subteam",
        "subteam_not_found",
        "plan_upgrade_required",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
        "invalid_arguments",
        "invalid_json",
        "json_not_object",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)
# What the HTTP edge refuses: 400 malformed, 401 unsigned or badly signed, 413 body over the cap,
# 431 head over the cap, 501 a transfer encoding the server does not know.
REFUSED_STATUSES = ("400", "401", "413", "431", "501")
# Polytomic's event types as labels: the known ones (bot.polytomic.events), anything else other.
EVENT_TYPE_LABELS = frozenset(
    {
        "sync.running",
        "sync.completed",
        "sync.completed_with_errors",
        "sync.failed",
        "sync.canceled",
        "bulk_sync.running",
        "bulk_sync.completed",
        "bulk_sync.completed_with_error",
        "bulk_sync.failed",
        "bulk_sync.canceled",
    }
)
EVENT_SOURCES = ("webhook", "poll")
SIGNATURE_FAILURES = ("missing", "malformed", "mismatch")


def slack_error_kind(code: str) -> str:
    """A Slack error code as a label value: itself when it is one of SLACK_ERRORS, else other."""
    return code if code in SLACK_ERRORS else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.commands = Counter(
            "polytomic_bot_commands", "Slash commands by subcommand", ["kind"], registry=r
        )
        self.decisions = Counter(
            "polytomic_bot_permission_decisions", "Permission decisions", ["action", "decision"], registry=r
        )
        self.cancels_sent = Counter(
            "polytomic_bot_cancels_sent", "Cancel requests Polytomic accepted", registry=r
        )
        self.outcomes = Counter("polytomic_bot_outcomes", "Operations by final state", ["state"], registry=r)
        self.confirm_to_terminal = Histogram(
            "polytomic_bot_confirm_to_terminal_seconds",
            "Seconds from a confirm click to a terminal execution status",
            buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
            registry=r,
        )
        self.in_flight = Gauge("polytomic_bot_operations_in_flight", "Unfinished operations", registry=r)
        self.remote_errors = Counter(
            "polytomic_bot_remote_errors", "Errors from Polytomic and Slack", ["remote", "kind"], registry=r
        )
        self.refused_requests = Counter(
            "polytomic_bot_http_refused",
            "Requests refused at the HTTP edge, by status",
            ["status"],
            registry=r,
        )
        for status in REFUSED_STATUSES:
            self.refused_requests.labels(status=status)  # shown as 0 before the first one
        self.loop_lag = Gauge(
            "polytomic_bot_tracker_loop_lag_seconds",
            "How late the tracker ran the most overdue operation",
            registry=r,
        )

        self.events_received = Counter(
            "polytomic_bot_events_received",
            "Polytomic events stored, by source (webhook or poll) and type",
            ["source", "type"],
            registry=r,
        )
        self.event_duplicates = Counter(
            "polytomic_bot_event_duplicates",
            "Polytomic events received again (a webhook redelivery, or a polled one the webhook brought)",
            ["source"],
            registry=r,
        )
        self.signature_failures = Counter(
            "polytomic_bot_webhook_signature_failures",
            "Webhook deliveries refused for their Polytomic-Signature, by reason",
            ["reason"],
            registry=r,
        )
        for source in EVENT_SOURCES:
            self.event_duplicates.labels(source=source)
        for reason in SIGNATURE_FAILURES:
            self.signature_failures.labels(reason=reason)
        self.event_to_edit = Histogram(
            "polytomic_bot_event_to_edit_seconds",
            "Seconds from a terminal Polytomic event (its created_at) to the status message's edit",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )

        self.home_events = Counter(
            "polytomic_bot_home_events",
            "app_home_opened events: a first delivery (taken), Slack's retry of one, another tab",
            ["outcome"],
            registry=r,
        )
        for outcome in ("taken", "retry", "other_tab"):
            self.home_events.labels(outcome=outcome)

    def event_received(self, source: str, type_: str) -> None:
        label = type_ if type_ in EVENT_TYPE_LABELS else "other"
        self.events_received.labels(source=source, type=label).inc()

    def command(self, kind: str) -> None:
        self.commands.labels(kind=kind).inc()

    def decision(self, action: str, allowed: bool) -> None:
        self.decisions.labels(action=action, decision="allowed" if allowed else "denied").inc()

    def remote_error(self, remote: str, kind: str) -> None:
        self.remote_errors.labels(remote=remote, kind=kind).inc()

    def slack_error(self, code: str) -> None:
        self.remote_error("slack", slack_error_kind(code))

    def refused(self, status: int) -> None:
        label = str(status)
        if label in REFUSED_STATUSES:
            self.refused_requests.labels(status=label).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
