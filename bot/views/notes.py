"""The words kept on an operation's row, written by the tracker and shown later by the views.

Two kinds, told apart by the row's state:
- on a denied, stale or duplicate row, `last_error` holds a *source* (with the emphasis marks
  of `bot.views.blocks`) for the requester: `replies.released` shows it as it was rendered
  when the click was decided (`denied_note`, `stale_note`, `already_requested_note`);
- anywhere else, `last_error` and `pause_error` hold *plain words* (why Polytomic or Slack
  refused, or why a step will be tried again), which the status message and the replies
  escape like any supplied text (Polytomic's messages are quoted in them).

The words live here rather than in the tracker so that every word the bot says is in views/.
"""

from __future__ import annotations

from bot.db.models import Operation
from bot.permissions import Decision
from bot.polytomic import Execution, Forbidden, NotFound, PolytomicError, Unauthorized
from bot.views.blocks import bold, code, status_text, sync_label, trusted, user, when

# ---- sources for the requester, kept on released rows ----------------------------------------

# On a stop's operation that was never sent because someone clicked Abort the rest first.
ABORTED = "Not sent: the rest of the stop was aborted."


def granters(decision: Decision) -> str:
    """Who may grant what a decision lacks."""
    # Mentions built by bot.permissions from grant rows and BOT_ADMINS: Slack IDs, no text.
    return ", ".join(decision.granters) if decision.granters else "a bot admin (BOT_ADMINS)"


def denied_note(decision: Decision) -> str:
    """The source of `replies.denied`; a denied click keeps it on its row for `released`."""
    return (
        f"You don't have permission to {decision.action} here: you need {trusted(decision.missing)}. "
        f"Who can grant it: {granters(decision)}."
    )


def already_requested_note(op: Operation | None) -> str:
    """The source of `replies.already_requested`; a click that lost the race keeps it on its
    row. None: the winner could not be read back."""
    if op is None:
        return "Someone else is canceling this run."
    return (
        f"A cancellation of {sync_label(op.sync_name, op.sync_id)} was already requested by "
        f"{user(op.requested_by)}; follow it in the channel. Nothing more was sent."
    )


def stale_note(op: Operation, execution: Execution | None, superseded: bool) -> str:
    """The source of `replies.stale`; a stale click keeps it on its row for `released`."""
    label = sync_label(op.sync_name, op.sync_id)
    if superseded:
        text = (
            f"The run you confirmed of {label} has ended and a newer run is going now. "
            f"Nothing was canceled. Run {code('/polytomic cancel')} again to see the new run."
        )
    elif execution is not None and execution.status.value:
        text = (
            f"The run you confirmed of {label} already ended: {bold(status_text(execution.status.value))} "
            f"{when(execution.completed_at)}. Nothing was canceled."
        )
    else:
        text = f"The run you confirmed of {label} is no longer running. Nothing was canceled."
    return text


# ---- plain words: why a step failed, or will be tried again ---------------------------------


def polytomic_refusal(error: PolytomicError, doing: str = "cancel") -> str:
    """Why Polytomic said no, naming the setting to fix when it is the bot's own key."""
    if isinstance(error, Unauthorized):
        return "Polytomic rejected the bot's API key (401): fix the POLYTOMIC_API_KEY setting."
    if isinstance(error, Forbidden):
        return f"The bot's Polytomic key may not {doing} this sync (403): give POLYTOMIC_API_KEY more rights."
    if isinstance(error, NotFound):
        return "Polytomic no longer knows this sync or run (404)."
    return f"Polytomic refused to {doing} ({error.status}): {error.message}"


def polytomic_unreachable(error: PolytomicError | None = None) -> str:
    """Polytomic did not answer (timeout, refused connection, 5xx, 429), with what it said."""
    return "Polytomic unreachable" if error is None else f"Polytomic unreachable: {error.message}"


def polytomic_rate_limited(error: PolytomicError) -> str:
    return f"Polytomic rate limit: {error.message}"


def slack_rate_limited(method: str, retry_after: float) -> str:
    return f"Slack rate-limited {method} for {retry_after:.0f} s"


def groups_unchecked(slack_error: str) -> str:
    """Slack could not list the requester's user groups, so the click waits."""
    return f"could not check Slack user groups: {slack_error}"


def slack_failed(method: str, slack_error: str) -> str:
    return f"Slack {method}: {slack_error}"


def step_failed(error: Exception) -> str:
    """A step failed in a way no other note names: the error's class only, as its text was
    not written for the channel."""
    return type(error).__name__
