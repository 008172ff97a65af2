"""Button clicks. A click is a new request from whoever sent it: the clicker is checked again.

The confirm click is recorded as an operation row *before* the ack, so that once Slack has
seen the ack nothing is lost to a crash: the tracker authorizes the clicker, checks the run
is still the one they saw, and sends the cancel. The database's unique index on the live
execution makes a double click, a second person or a replayed request lose the race.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from bot import interactions, messages
from bot.db.models import OPERATIONS, utcnow
from bot.interactions import Requester
from bot.operations import State
from bot.services import Services
from bot.slack import respond

log = logging.getLogger("bot.listeners.actions")

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EXECUTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")
_RETRY = re.compile(r"^(\d{1,12}):(\d{1,6})$")


def _requester(body: dict[str, Any]) -> Requester | None:
    """Who clicked and where; None for a payload that lacks what every real click carries."""
    user_id = (body.get("user") or {}).get("id")
    channel_id = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    response_url = body.get("response_url")
    if not (isinstance(user_id, str) and _SLACK_ID.match(user_id)):
        return None
    if not (isinstance(channel_id, str) and _SLACK_ID.match(channel_id)) or not isinstance(response_url, str):
        return None
    team_id = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    return Requester(user_id, channel_id, response_url, team_id if isinstance(team_id, str) else None)


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    value = actions[0].get("value")
    return value if isinstance(value, str) else ""


def parse_confirm_value(value: str) -> tuple[str, str] | None:
    """(sync ID, execution ID) from a confirm button, or None if it is not one of ours."""
    if len(value) > 2000:  # more than any Slack button can carry
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != {"s", "e"}:
        return None
    sync_id, execution_id = data.get("s"), data.get("e")
    if not (isinstance(sync_id, str) and _UUID.match(sync_id)):
        return None
    if not (isinstance(execution_id, str) and _EXECUTION_ID.match(execution_id)):
        return None
    return sync_id, execution_id


def handle_confirm(services: Services, ack: Ack, body: dict[str, Any], kind: str = "cancel") -> None:
    req = _requester(body)
    target = parse_confirm_value(_action_value(body))
    if req is None or target is None:
        ack()
        if req is not None:
            services.responder.submit(respond, req.response_url, messages.invalid_button())
        return
    sync_id, execution_id = target
    now = utcnow()
    try:
        holder = interactions.holder_of(services, execution_id)
        if holder is not None:
            # Already being canceled: say so at once. (A click racing this check still loses
            # later, when it tries to take the run: the database decides, not this read.)
            ack()
            services.responder.submit(respond, req.response_url, messages.already_requested(holder))
            return
        with services.db.core() as conn:
            conn.execute(
                insert(OPERATIONS).values(
                    kind=kind,
                    sync_id=sync_id,
                    execution_id=execution_id,
                    team_id=req.team_id,
                    requested_by=req.user_id,
                    channel_id=req.channel_id,
                    response_url=req.response_url,
                    incident_channel=services.settings.incident_channel,
                    state=State.CONFIRMED,
                    created_at=now,
                    updated_at=now,
                    deadline_at=now + timedelta(seconds=services.settings.poll_timeout),
                    next_poll_at=now,
                    cancel_attempt=1,
                    attempts=0,
                )
            )
    except OperationalError:
        log.warning("could not record a confirm click: database unavailable")
        ack()
        services.responder.submit(
            respond,
            req.response_url,
            messages.not_recorded(),
        )
        return
    ack()
    services.nudge()


def handle_dismiss(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    ack()
    req = _requester(body)
    if req is not None:
        services.responder.submit(partial(respond, req.response_url, None, delete_original=True))


def handle_retry(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    ack()
    req = _requester(body)
    match = _RETRY.match(_action_value(body))
    if req is None:
        return
    if match is None:
        services.responder.submit(respond, req.response_url, messages.invalid_button())
        return
    services.responder.submit(
        interactions.answer_retry, services, req, int(match.group(1)), int(match.group(2))
    )


def handle_resume(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    ack()
    req = _requester(body)
    value = _action_value(body)
    if req is None:
        return
    if not value.isdigit() or len(value) > 12:
        services.responder.submit(respond, req.response_url, messages.invalid_button())
        return
    services.responder.submit(interactions.answer_resume, services, req, int(value))


def handle_pick(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    """A sync chosen among several of one name, or "Cancel…" next to a sync in a list."""
    ack()
    req = _requester(body)
    if req is None:
        return
    action_id = ((body.get("actions") or [{}])[0]).get("action_id")
    value = _action_value(body)
    verb, sync_id = ("cancel", value) if action_id == messages.LIST_CANCEL_ACTION else _pick_value(value)
    if verb is None or not _UUID.match(sync_id):
        services.responder.submit(respond, req.response_url, messages.invalid_button())
        return
    services.responder.submit(interactions.answer_pick, services, req, verb, sync_id)


def _pick_value(value: str) -> tuple[str | None, str]:
    try:
        data = json.loads(value)
    except ValueError:
        return None, ""
    if not isinstance(data, dict) or not isinstance(data.get("s"), str):
        return None, ""
    verb = data.get("v")
    return (verb if verb in ("cancel", "status", "why", "audit") else None), data["s"]


def handle_pause_confirm(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    handle_confirm(services, ack, body, kind="cancel_and_pause")


HANDLERS = {
    messages.CONFIRM_ACTION: handle_confirm,
    messages.PAUSE_CONFIRM_ACTION: handle_pause_confirm,
    messages.DISMISS_ACTION: handle_dismiss,
    messages.RETRY_ACTION: handle_retry,
    messages.RESUME_ACTION: handle_resume,
    messages.PICK_ACTION: handle_pick,
    messages.LIST_CANCEL_ACTION: handle_pick,
}


def register(app: App, services: Services) -> None:
    for action_id, handler in HANDLERS.items():
        app.action(action_id)(_listener(services, handler))


def _listener(
    services: Services, handler: Callable[[Services, Ack, dict[str, Any]], None]
) -> Callable[..., None]:
    # Bolt injects arguments by parameter name: the listener asks for `ack` and `body`.
    def listener(ack: Ack, body: dict[str, Any]) -> None:
        handler(services, ack, body)

    return listener
