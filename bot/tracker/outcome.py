"""What one step of a pass came to (an immutable `Outcome`), and the one place where a remote
error becomes one (`from_error`).

The shape is kopf's (`_core/actions/execution.py`): a step does not set retry flags on the
pass, it returns what happened, and the pass takes it in (bot.tracker.steps):

    DONE                     nothing more to do in this step now
    again(d)                 look again in d seconds (a Slack slot handed out, progress due)
    failed(words, d)         may work later: keep `words` on the row (last_error), count the
                             attempt, back off, and come back no sooner than d (a Retry-After)
    refused(words, error)    said no for good: the step decides what that means for the row

`from_error` decides transient versus permanent for every remote error, Polytomic's
(bot.polytomic.errors) and Slack's (bot.slack.SlackError) alike, from the two attributes both
hierarchies carry, `transient` and `retry_after`, and keeps words any database can store. Only
the words depend on which call failed (`Doing`); they are the ones the status message and the
replies show, from bot.views.notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.polytomic import PolytomicError, RateLimited
from bot.polytomic.parsing import clean
from bot.slack import SlackError, SlackFailure, Throttled
from bot.views import notes

RemoteError = PolytomicError | SlackError


@dataclass(frozen=True)
class Outcome:
    final: bool  # this step has nothing left to try now (done, or refused for good)
    delay: float | None = None  # seconds: when to look again (a failure's floor, else a wish)
    error: str | None = None  # why it failed or was refused, in words for the row
    exception: RemoteError | None = None

    @property
    def failed(self) -> bool:
        """A failure that may pass: the attempt counts and the row backs off."""
        return not self.final and self.error is not None


DONE = Outcome(final=True)


def again(delay: float) -> Outcome:
    return Outcome(final=False, delay=delay)


def failed(error: str, delay: float | None = None, exception: RemoteError | None = None) -> Outcome:
    return Outcome(final=False, delay=delay, error=error, exception=exception)


def refused(error: str, exception: RemoteError | None = None) -> Outcome:
    return Outcome(final=True, error=error, exception=exception)


class Doing(StrEnum):
    """The remote call a step was making when it failed."""

    CHECK = "check"  # Polytomic: the click's verification (the sync and its current run)
    CANCEL = "cancel"  # Polytomic: send the cancel
    POLL = "poll"  # Polytomic: read the execution
    NAME = "name"  # Polytomic: read the sync's name (only the messages need it)
    PAUSE = "pause"  # Polytomic: pause the schedule
    GROUPS = "groups"  # Slack: the requester's user groups, for the permission check
    POST = "post"  # Slack: post or edit a message


# Calls asked again whatever the answer: a poll (the run is still going, and Polytomic's answer
# may change), and the group look-up (a decision can't be taken without it).
_ALWAYS_AGAIN = frozenset({Doing.POLL, Doing.GROUPS})


def from_error(error: RemoteError, doing: Doing) -> Outcome:
    """The one place where a remote error becomes an outcome."""
    if isinstance(error, Throttled) and doing is Doing.POST:
        # The gate handed this row a later slot: not a failure, a time to come back.
        return again(error.retry_after)
    # Kept on the row: cleaned of what a database refuses (a Slack error code comes from
    # whatever answered, a proxy included; Polytomic's texts are clean already).
    words = clean(_words(error, doing))
    if error.transient or doing in _ALWAYS_AGAIN:
        return failed(words, error.retry_after, error)
    return refused(words, error)


def _words(error: RemoteError, doing: Doing) -> str:
    if isinstance(error, SlackError):
        if doing is Doing.GROUPS:
            if isinstance(error, Throttled):
                return notes.slack_rate_limited(error.method, error.retry_after)
            assert isinstance(error, SlackFailure)
            return notes.groups_unchecked(error.error)
        assert isinstance(error, SlackFailure)
        # A permanent failure keeps Slack's own code on the row (status_error, incident_error).
        return notes.slack_failed(error.method, error.error) if error.transient else error.error
    if not error.transient:
        return notes.polytomic_refusal(error, "pause" if doing is Doing.PAUSE else "cancel")
    if doing is Doing.POLL:
        if isinstance(error, RateLimited):
            return notes.polytomic_rate_limited(error)
        return notes.polytomic_unreachable()
    return notes.polytomic_unreachable(error)
