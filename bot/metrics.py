"""Prometheus metrics (prometheus_client), one registry per process, served at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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
        self.loop_lag = Gauge(
            "polytomic_bot_tracker_loop_lag_seconds",
            "How late the tracker ran the most overdue operation",
            registry=r,
        )

    def command(self, kind: str) -> None:
        self.commands.labels(kind=kind).inc()

    def decision(self, action: str, allowed: bool) -> None:
        self.decisions.labels(action=action, decision="allowed" if allowed else "denied").inc()

    def remote_error(self, remote: str, kind: str) -> None:
        self.remote_errors.labels(remote=remote, kind=kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
