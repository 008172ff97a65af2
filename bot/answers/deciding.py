"""Permission decisions for the answers: asked (waiting out Slack's rate limit on the group
look-up, which is fine after the ack), audited, and explained to whoever was refused."""

from __future__ import annotations

import time

from bot.answers.requester import Requester
from bot.clock import Clock
from bot.db import audit
from bot.db.engine import Database
from bot.metrics import Metrics
from bot.permissions import Authorizer, Decision, Snapshot
from bot.slack import SlackError, Throttled
from bot.views import replies

GROUP_WAIT_LIMIT = 20.0  # seconds an answer may wait out Slack's rate limit on group look-ups


class Decider:
    """Decides for the answers: the authorizer, the audit trail it writes to, the metrics."""

    def __init__(self, authorizer: Authorizer, db: Database, metrics: Metrics, clock: Clock) -> None:
        self.authorizer = authorizer
        self.db = db
        self.metrics = metrics
        self.clock = clock

    def may(
        self, user_id: str, action: str, sync_id: str | None, *, grants: Snapshot | None = None
    ) -> Decision:
        """A decision; waits out a Slack rate limit on the group look-up (never on the ack path).
        With `grants` (one read for many decisions: a stop's prompt), decided from that read."""
        waited = 0.0
        source: Authorizer | Snapshot = grants if grants is not None else self.authorizer
        while True:
            try:
                return source.may(user_id, action, sync_id)
            except Throttled as throttled:
                if waited + throttled.retry_after > GROUP_WAIT_LIMIT:
                    raise
                time.sleep(throttled.retry_after)
                waited += throttled.retry_after

    def decide(self, req: Requester, action: str, sync_id: str | None, audit_as: str) -> Decision | None:
        """A decision, audited; the requester is told when it is a no. None (and the requester
        told) when Slack could not be asked about their groups."""
        try:
            decision = self.may(req.user_id, action, sync_id)
        except SlackError:
            req.answer(replies.groups_unavailable())
            return None
        audit.record(
            self.db,
            at=self.clock.now(),
            actor=req.user_id,
            action=audit_as,
            sync_id=sync_id,
            decision=decision,
            channel_id=req.channel_id,
        )
        self.metrics.decision(action, decision.allowed)
        if not decision.allowed:
            req.answer(replies.denied(decision))
        return decision

    def allows(self, req: Requester, action: str, sync_id: str | None, audit_as: str) -> bool:
        decision = self.decide(req, action, sync_id, audit_as)
        return decision is not None and decision.allowed

    def shows(self, user_id: str, action: str, sync_id: str, *, grants: Snapshot | None = None) -> bool:
        """Whether to offer a button; the click is decided (and audited) again when it comes."""
        try:
            return self.may(user_id, action, sync_id, grants=grants).allowed
        except SlackError:
            return False
