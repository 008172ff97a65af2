"""The incident channel's posts about one operation: the notice (who asked to cancel which
sync, where), and in its thread the escalation and the outcome.

Rendered from the operation's row, like the status message, whose headline they share
(`bot.views.status.headline`, naming the channel the cancel came from). A summary of an
incident that spans many operations is another surface and gets a module of its own.
"""

from __future__ import annotations

from datetime import datetime

from bot.db.models import Operation
from bot.views.blocks import Builder, View, icon, ids, sync_label, user
from bot.views.status import asked_from, headline, retry_button


def incident_notice(op: Operation) -> View:
    """The incident channel's notice: who asked to cancel which sync, where. Edited only when
    that changes (the sync's name arriving late); the outcome goes in its thread."""
    label = sync_label(op.sync_name, op.sync_id)
    if op.kind == "cancel_and_pause":
        label += " (and a pause of its schedule)"
    head = f"{icon(':rotating_light:')}{user(op.requested_by)} requested cancellation of {label}"
    return (
        Builder().section(f"{head}{asked_from(op)}.").context(ids(op.sync_id, op.execution_id or "?")).view()
    )


def incident_escalation(op: Operation, now: datetime) -> View:
    """Posted once in the notice's thread when the run is still canceling after POLL_TIMEOUT."""
    line = headline(op, now, where=True)
    return (
        Builder()
        .section(f"{icon(':warning:')}{line} Polytomic has not stopped the run yet.")
        .actions("cancel_retry", [retry_button(op)])
        .view()
    )


def incident_outcome(op: Operation, now: datetime) -> View:
    return Builder().section(headline(op, now, where=True)).view()
