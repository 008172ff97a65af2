"""The steps of a reconcile pass that keep its Slack messages in line with the operation.

The status message, the incident channel's notice and its thread replies, and the note to the
requester: each step renders its view (bot.views) and hands it to bot.tracker.posts, which posts,
edits, reposts or records a permanent error. They live apart from the Polytomic steps in
bot.tracker.steps, whose `Pass` inherits them, so that each module holds one side of a pass and
stays small; they read the pass's row (`op`), its time (`now`) and write through its `save`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.db.models import Operation
from bot.operations import (
    FINAL,
    RELEASED,
    State,
    announced,
    in_dm,
    incident_due,
    requester_due,
    stuck,
    stuck_mark,
    told_stuck,
)
from bot.slack import SlackError, respond
from bot.tracker import posts
from bot.tracker.outcome import DONE, Doing, Outcome, again, from_error
from bot.tracker.pass_writes import PassWrites
from bot.views.blocks import View
from bot.views.incident import incident_escalation, incident_notice, incident_outcome
from bot.views.replies import released
from bot.views.status import PROGRESS_EVERY, requester_note, shows_progress, status_message, stuck_note

if TYPE_CHECKING:
    from datetime import datetime

    from bot.tracker.reconcile import Reconciler


class SlackSteps(PassWrites):
    """The Slack side of `bot.tracker.steps.Pass` (which sets these attributes); it writes
    through the pass's buffers (bot.tracker.pass_writes)."""

    r: Reconciler
    op: Operation
    now: datetime
    by_event: bool

    @property
    def holder(self) -> str:
        """Who holds a Slack slot handed out to this operation until it comes back for it."""
        return f"op-{self.op.id}"

    def keep(self, message: posts.Message, view: View, channel: str, **kwargs: Any) -> Outcome:
        return posts.keep(
            self.r.slack,
            self.op,
            message,
            view,
            channel=channel,
            record=self.record,
            flush=self.flush,
            record_edit=self.record_edit,
            holder=self.holder,
            **kwargs,
        )

    def status_view(self, state_only: View | None = None) -> View | Outcome:
        """The status message to send now; else DONE, or when a progress refresh falls due.
        `state_only` is the message without progress, when the caller has rendered it."""
        op = self.op
        if op.status_ts is None:
            return self.whole_status(state_only)
        if state_only is None:
            state_only = status_message(op, self.now, progress=False)
        if state_only.digest() != op.status_digest:
            return self.whole_status(state_only)  # the state changed: show it now
        # Only progress may have changed (rows, elapsed time): once per PROGRESS_EVERY, not
        # every poll. Checked before rendering it: most polls end here.
        edited = op.status_edited_at
        if edited is not None and (self.now - edited).total_seconds() < PROGRESS_EVERY:
            return again(PROGRESS_EVERY - (self.now - edited).total_seconds())
        view = self.whole_status(state_only)
        return DONE if view.digest() == op.status_progress_digest else view

    def whole_status(self, state_only: View | None) -> View:
        """The whole status message: the state-only one as it is when there is no progress to
        show (bot.views.status.shows_progress), so it is rendered once."""
        if state_only is not None and not shows_progress(self.op):
            return state_only
        return status_message(self.op, self.now)

    def status_message(self) -> Outcome:
        op = self.op
        if not announced(op) or op.status_error is not None:
            return DONE
        state_only = status_message(op, self.now, progress=False)
        view = self.status_view(state_only)
        if isinstance(view, Outcome):
            return view
        also = {"status_digest": state_only.digest(), "status_edited_at": self.r.clock.now()}
        kept = self.keep(posts.STATUS, view, op.channel_id, also=also)
        if self.by_event and not kept.failed and op.event_at is not None:
            lag = (self.r.clock.now() - op.event_at).total_seconds()
            self.r.metrics.event_to_edit.observe(max(0.0, lag))
        return kept

    def incident_notice(self) -> Outcome:
        """Posted once; edited only when what it says changed (the sync's name, read late)."""
        op = self.op
        if not incident_due(op) or op.incident_channel is None:
            return DONE
        return self.keep(posts.INCIDENT_NOTICE, incident_notice(op), op.incident_channel)

    def thread_open(self) -> bool:
        """Replies go in the notice's thread: once it is posted, and while it can be used."""
        op = self.op
        return incident_due(op) and op.incident_ts is not None and op.incident_error is None

    def incident_escalation(self) -> Outcome:
        op = self.op
        if not self.thread_open() or op.incident_channel is None:
            return DONE
        if op.state != State.CANCELING or op.escalated_at is None or op.incident_escalation_ts is not None:
            return DONE
        view = incident_escalation(op, self.now)
        return self.keep(posts.INCIDENT_ESCALATION, view, op.incident_channel, thread_ts=op.incident_ts)

    def incident_outcome(self) -> Outcome:
        op = self.op
        if not self.thread_open() or op.incident_channel is None:
            return DONE
        if op.state not in FINAL or op.incident_final_ts is not None:
            return DONE
        view = incident_outcome(op, self.now)
        return self.keep(posts.INCIDENT_OUTCOME, view, op.incident_channel, thread_ts=op.incident_ts)

    def requester_note(self) -> Outcome:
        op = self.op
        if stuck(op) and not told_stuck(op) and op.response_url is not None:
            # A step keeps failing: said once, wherever the channel message stands.
            self.flush()
            respond(op.response_url, stuck_note(op, self.now))
            self.save(notified_state=stuck_mark(op.state))
            return DONE
        # Told that this state's step keeps failing: told of the state too (its headline).
        told = op.notified_state in (op.state, stuck_mark(op.state))
        if requester_due(op) and not told and in_dm(op):
            return self.note_in_dm(released(op))
        if not requester_due(op) or told or op.response_url is None:
            return DONE
        if op.state in RELEASED and not announced(op):
            view = released(op)
            replace = op.state == State.STALE
        else:
            view = requester_note(op, self.now)
            replace = False
        self.flush()
        respond(op.response_url, view, replace_original=replace)
        # response_url allows 5 uses in 30 min: whether or not it took, don't try again.
        self.save(notified_state=op.state)
        return DONE

    def note_in_dm(self, view: View) -> Outcome:
        """Why a cancel started from the Home tab was not sent, as a message in the requester's
        DM with the app; tried again while Slack refuses it for a while, recorded once sent."""
        self.flush()  # what landed before is on the row before this post is tried
        try:
            self.r.slack.post_message(self.op.channel_id, view, holder=self.holder)
        except SlackError as error:
            outcome = from_error(error, Doing.POST)
            if not outcome.final:
                return outcome
        self.save(notified_state=self.op.state)
        return DONE
