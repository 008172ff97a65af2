"""Button clicks. A click is a new request from whoever sent it: the clicker is checked again.

The confirm click is recorded as an operation row *before* the ack (within CLICK_SECONDS, so
the ack is in time even when the database is not), so that once Slack has seen the ack nothing
is lost to a crash: the tracker authorizes the clicker, checks the run
is still the one they saw, and sends the cancel. The database's unique index on the live
execution makes a double click, a second person or a replayed request lose the race.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from sqlalchemy.exc import SQLAlchemyError

from bot import commands as parsing
from bot.answers import Requester, clicks, stops
from bot.db import health
from bot.db.bounds import OutcomeUnknown
from bot.db.stops import AlreadyConfirmed, Expired
from bot.listeners.commands import hand_off
from bot.services import Services
from bot.slack import respond
from bot.views import buttons, replies
from bot.views import stops as stop_views
from bot.views.blocks import View

log = logging.getLogger("bot.listeners.actions")

# The commands a sync picked among several of one name (or "Cancel…" in a list) goes on with.
PICKED: dict[str, Callable[[parsing.SyncRef], parsing.Command]] = {
    "cancel": lambda ref: parsing.Cancel(sync=ref),
    "status": lambda ref: parsing.Status(sync=ref),
    "why": lambda ref: parsing.Why(sync=ref),
    "audit": lambda ref: parsing.Audit(sync=ref),
}

Handler = Callable[[Services, Ack, dict[str, Any], BoltContext], None]


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    value = actions[0].get("value")
    return value if isinstance(value, str) else ""


def _ack_and_answer(services: Services, ack: Ack, req: Requester | None, reply: View) -> None:
    """Acks a click answered at once (a bad button, a click the database could not record),
    then tells the clicker why, on the click's response_url (no one to tell without `req`)."""
    ack()
    if req is not None:
        services.responder.submit(respond, req.response_url, reply)


def handle_confirm(
    services: Services, ack: Ack, body: dict[str, Any], context: BoltContext, kind: str = "cancel"
) -> None:
    req = Requester.from_context(context, body)
    target = buttons.parse_confirm_value(_action_value(body))
    if req is None or target is None:
        _ack_and_answer(services, ack, req, replies.invalid_button())
        return
    sync_id, execution_id = target
    try:
        # Within CLICK_SECONDS whatever the database does, so the ack (Slack waits 3 s) can
        # say what happened; an insert given up on is never committed, so no cancel follows.
        recorded = services.operations.record_click(
            kind=kind,
            sync_id=sync_id,
            execution_id=execution_id,
            team_id=req.team_id,
            requested_by=req.user_id,
            channel_id=req.channel_id,
            response_url=req.response_url,
            incident_channel=services.settings.incident_channel,
            poll_timeout=services.settings.poll_timeout,
        )
    except SQLAlchemyError as error:
        log.warning("could not record a confirm click: %s", health.describe(error))
        _ack_and_answer(services, ack, req, replies.not_recorded())
        return
    except OutcomeUnknown:
        log.warning("a confirm click's COMMIT got no answer: it may or may not be recorded")
        _ack_and_answer(services, ack, req, replies.recorded_in_doubt(sync_id))
        return
    ack()
    if isinstance(recorded, int):
        services.nudge()
    else:
        # Already being canceled: say so at once. (A click racing this check still loses
        # later, when it tries to take the run: the database decides, not this read.)
        services.responder.submit(respond, req.response_url, replies.already_requested(recorded))


def handle_pause_confirm(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    handle_confirm(services, ack, body, context, kind="cancel_and_pause")


def handle_dismiss(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    req = Requester.from_context(context, body)
    if req is not None:
        services.responder.submit(partial(respond, req.response_url, None, delete_original=True))


def handle_retry(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    req = Requester.from_context(context, body)
    retry = buttons.parse_retry_value(_action_value(body))
    if req is None:
        return
    if retry is None:
        services.responder.submit(respond, req.response_url, replies.invalid_button())
        return
    op_id, attempt = retry
    services.responder.submit(
        clicks.answer_retry,
        services.operations,
        services.decider,
        services.settings.poll_timeout,
        services.nudge,
        req,
        op_id,
        attempt,
    )


def handle_resume(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    req = Requester.from_context(context, body)
    op_id = buttons.parse_resume_value(_action_value(body))
    if req is None:
        return
    if op_id is None:
        services.responder.submit(respond, req.response_url, replies.invalid_button())
        return
    services.responder.submit(
        clicks.answer_resume,
        services.operations,
        services.polytomic,
        services.decider,
        services.nudge,
        req,
        op_id,
    )


def handle_pick(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """A sync chosen among several of one name, or "Cancel…" next to a sync in a list: the
    command the user typed goes on, with the sync's ID."""
    ack()
    req = Requester.from_context(context, body)
    if req is None:
        return
    action_id = ((body.get("actions") or [{}])[0]).get("action_id")
    value = _action_value(body)
    if action_id == buttons.LIST_CANCEL_ACTION:
        sync_id = buttons.parse_list_cancel_value(value)
        picked = None if sync_id is None else ("cancel", sync_id)
    else:
        picked = buttons.parse_pick_value(value)
    command = None if picked is None else PICKED.get(picked[0])
    if picked is None or command is None:
        services.responder.submit(respond, req.response_url, replies.invalid_button())
        return
    hand_off(services, req, command(parsing.SyncRef(id=picked[1])))


def handle_stop_confirm(
    services: Services, ack: Ack, body: dict[str, Any], context: BoltContext, with_pause: bool = False
) -> None:
    """A stop's confirm click: the stop and its operations are recorded before the ack, from the
    prompt's row (its unique prompt_id makes a double click or a replay lose); an expired prompt
    asks again."""
    req = Requester.from_context(context, body)
    prompt_id = buttons.parse_stop_prompt_value(_action_value(body))
    if req is None or prompt_id is None:
        _ack_and_answer(services, ack, req, replies.invalid_button())
        return
    try:
        recorded = services.stops.confirm(
            prompt_id,
            with_pause=with_pause,
            clicker=req.user_id,
            response_url=req.response_url,
            incident_channel=services.settings.incident_channel,
            poll_timeout=services.settings.poll_timeout,
        )
    except SQLAlchemyError as error:
        log.warning("could not record a stop's confirm click: %s", health.describe(error))
        _ack_and_answer(services, ack, req, replies.not_recorded())
        return
    except OutcomeUnknown:
        # The stop may be recorded (its summary will then come): say so, and where to look.
        log.warning("a stop's confirm click's COMMIT got no answer: it may or may not be recorded")
        _ack_and_answer(services, ack, req, replies.recorded_in_doubt(check="/polytomic list"))
        return
    ack()
    if isinstance(recorded, int):
        services.nudge()
    elif isinstance(recorded, AlreadyConfirmed):
        services.responder.submit(respond, req.response_url, stop_views.already_confirmed())
    elif isinstance(recorded, Expired):
        # Asked again, in one answer after the notice, so the two arrive in order.
        text = recorded.prompt.command
        command = parsing.parse(text)
        services.responder.submit(
            stops.answer_expired,
            services.polytomic,
            services.listings,
            services.decider,
            services.stops,
            req,
            command if isinstance(command, parsing.Stop) else None,
            text,
        )
    else:
        services.responder.submit(respond, req.response_url, replies.invalid_button())


def handle_stop_pause_confirm(
    services: Services, ack: Ack, body: dict[str, Any], context: BoltContext
) -> None:
    handle_stop_confirm(services, ack, body, context, with_pause=True)


def handle_stop_click(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Abort the rest, or Resume the N schedules, on a stop's summary: decided after the ack."""
    ack()
    req = Requester.from_context(context, body)
    if req is None:
        return
    stop_id = buttons.parse_stop_value(_action_value(body))
    if stop_id is None:
        services.responder.submit(respond, req.response_url, replies.invalid_button())
        return
    action_id = ((body.get("actions") or [{}])[0]).get("action_id")
    answer = stops.answer_abort if action_id == buttons.STOP_ABORT_ACTION else stops.answer_resume
    services.responder.submit(answer, services.stops, services.decider, services.nudge, req, stop_id)


HANDLERS: dict[str, Handler] = {
    buttons.CONFIRM_ACTION: handle_confirm,
    buttons.PAUSE_CONFIRM_ACTION: handle_pause_confirm,
    buttons.DISMISS_ACTION: handle_dismiss,
    buttons.RETRY_ACTION: handle_retry,
    buttons.RESUME_ACTION: handle_resume,
    buttons.PICK_ACTION: handle_pick,
    buttons.LIST_CANCEL_ACTION: handle_pick,
    buttons.STOP_CONFIRM_ACTION: handle_stop_confirm,
    buttons.STOP_PAUSE_CONFIRM_ACTION: handle_stop_pause_confirm,
    buttons.STOP_DISMISS_ACTION: handle_dismiss,
    buttons.STOP_ABORT_ACTION: handle_stop_click,
    buttons.STOP_RESUME_ACTION: handle_stop_click,
}


def register(app: App, services: Services) -> None:
    for action_id, handler in HANDLERS.items():
        app.action(action_id)(_listener(services, handler))


def _listener(services: Services, handler: Handler) -> Callable[..., None]:
    # Bolt injects arguments by parameter name: the listener asks for `ack`, `body` and `context`.
    def listener(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        handler(services, ack, body, context)

    return listener
