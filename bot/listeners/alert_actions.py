"""Clicks on an alert's buttons (Restart, Pause, Resume, Cancel, Mute) and on the start
prompt's Start button. A click is a new request from whoever sent it: the clicker is checked
again, on every click.

A start (the prompt's, or an alert's Restart) is recorded as an operation row before the ack,
as a cancel's confirm is (bot.listeners.actions), under a key that makes a double click or a
replayed request one row: the prompt's message, or (alert, failure shown). The tracker then
authorizes the clicker and starts the run (bot.tracker.starts). The other clicks are answered
after the ack (bot.answers.alert_clicks).
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from sqlalchemy.exc import SQLAlchemyError

from bot import commands as parsing
from bot.answers import Requester, alert_clicks
from bot.db import health
from bot.db.bounds import OutcomeUnknown
from bot.db.starts import KEY_SEPARATOR, record_start
from bot.listeners.actions import Handler, _ack_and_answer, _action_value, _listener
from bot.listeners.commands import hand_off
from bot.services import Services
from bot.slack import respond
from bot.views import buttons, replies
from bot.views.blocks import plain

log = logging.getLogger("bot.listeners.alert_actions")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _record(services: Services, req: Requester, ack: Ack, *, key: str, **start: Any) -> None:
    # One row per (what was clicked, who clicked): a click holds nothing until the tracker has
    # authorized it, so one by someone without `start` can't keep out one that has it. The
    # Idempotency-Key sent to Polytomic is `key` alone (bot.tracker.starts.post_key): of two
    # permitted clicks on one alert's failure, Polytomic starts one run.
    start["start_key"] = f"{key}{KEY_SEPARATOR}{req.user_id}"
    try:
        _op_id, made = record_start(
            services.db,
            team_id=req.team_id,
            requested_by=req.user_id,
            response_url=req.response_url,
            poll_timeout=services.settings.poll_timeout,
            clock=services.clock,
            **start,
        )
    except SQLAlchemyError as error:
        log.warning("could not record a start click: %s", health.describe(error))
        _ack_and_answer(services, ack, req, replies.not_recorded())
        return
    except OutcomeUnknown:
        _ack_and_answer(services, ack, req, replies.recorded_in_doubt(start["sync_id"]))
        return
    ack()
    if made:
        if start.get("alert_id") is not None and services.alerts is not None:
            services.alerts.touch(start["alert_id"], restart_op_id=_op_id)
        services.nudge()
    else:
        services.responder.submit(
            respond, req.response_url, plain("That start was requested already; follow it in the channel.")
        )


def handle_start_confirm(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    req = Requester.from_context(context, body)
    sync_id = buttons.parse_start_value(_action_value(body))
    message_ts = str((body.get("container") or {}).get("message_ts") or "")
    clicked = str(((body.get("actions") or [{}])[0]).get("action_ts") or "")
    if req is None or sync_id is None or not (message_ts or clicked):
        _ack_and_answer(services, ack, req, replies.invalid_button())
        return
    # An Idempotency-Key takes letters, digits, "_" and "-" only (a ts has a dot).
    key = f"start-{sync_id}-{_KEY_UNSAFE.sub('_', (message_ts or clicked)[:40])}"
    _record(services, req, ack, key=key, sync_id=sync_id, channel_id=req.channel_id)


def handle_restart(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    req = Requester.from_context(context, body)
    value = buttons.parse_restart_value(_action_value(body))
    alert = None if value is None or services.alerts is None else services.alerts.get(value[0])
    if req is None or value is None or alert is None or alert.channel_id != req.channel_id:
        _ack_and_answer(services, ack, req, replies.invalid_button())
        return
    alert_id, failures = value
    _record(
        services,
        req,
        ack,
        key=f"alert-{alert_id}-{failures}",
        sync_id=alert.sync_id,
        channel_id=alert.channel_id,
        alert_id=alert_id,
        thread_ts=alert.ts,
    )


def _alert_click(
    services: Services, ack: Ack, body: dict[str, Any], context: BoltContext
) -> tuple[Requester, int] | None:
    ack()
    req = Requester.from_context(context, body)
    alert_id = buttons.parse_alert_value(_action_value(body))
    if req is None:
        return None
    if alert_id is None or services.alerts is None:
        services.responder.submit(respond, req.response_url, replies.invalid_button())
        return None
    return req, alert_id


def handle_pause(
    services: Services, ack: Ack, body: dict[str, Any], context: BoltContext, pause: bool = True
) -> None:
    clicked = _alert_click(services, ack, body, context)
    if clicked is None or services.alerts is None:
        return
    req, alert_id = clicked
    services.responder.submit(
        partial(alert_clicks.answer_pause, pause=pause),
        services.alerts,
        services.polytomic,
        services.decider,
        services.nudge,
        req,
        alert_id,
    )


def handle_resume(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    handle_pause(services, ack, body, context, pause=False)


def handle_cancel(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Cancel the run going now: the cancel prompt, as `/polytomic cancel <sync>` shows it."""
    clicked = _alert_click(services, ack, body, context)
    if clicked is None or services.alerts is None:
        return
    req, alert_id = clicked
    alert = services.alerts.get(alert_id)
    if alert is None or alert.channel_id != req.channel_id:
        services.responder.submit(respond, req.response_url, replies.invalid_button())
        return
    hand_off(services, req, parsing.Cancel(sync=parsing.SyncRef(id=alert.sync_id)))


def handle_mute(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    clicked = _alert_click(services, ack, body, context)
    if clicked is None or services.alerts is None:
        return
    req, alert_id = clicked
    action_id = str(((body.get("actions") or [{}])[0]).get("action_id") or "")
    seconds = buttons.MUTE_SECONDS.get(action_id, 3600.0)
    services.responder.submit(
        alert_clicks.answer_mute, services.alerts, services.decider, services.nudge, req, alert_id, seconds
    )


HANDLERS: dict[str, Handler] = {
    buttons.START_CONFIRM_ACTION: handle_start_confirm,
    buttons.ALERT_RESTART_ACTION: handle_restart,
    buttons.ALERT_PAUSE_ACTION: handle_pause,
    buttons.ALERT_RESUME_ACTION: handle_resume,
    buttons.ALERT_CANCEL_ACTION: handle_cancel,
    buttons.ALERT_MUTE_HOUR_ACTION: handle_mute,
    buttons.ALERT_MUTE_DAY_ACTION: handle_mute,
}


def register(app: App, services: Services) -> None:
    for action_id, handler in HANDLERS.items():
        app.action(action_id)(_listener(services, handler))
