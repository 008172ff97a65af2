"""The App Home tab in Bolt: app_home_opened, its buttons (Refresh, Cancel…, links) and the
confirm modal. Thin: parse, record what must survive, ack, and hand the rest to the answers.

- **app_home_opened** with tab `home` is acked at once and the home is built afterwards, on the
  homes' lane of the responder. An event Slack sends again (`X-Slack-Retry-Num`, which Bolt also
  sets from a Socket Mode envelope's `retry_attempt`) is a duplicate of one taken already: the
  homes' store takes each event once (its `event_ts`, in the database, whichever replica got the
  first delivery), so a retry changes nothing, unless the first delivery never reached the bot.
  The `messages` tab is ignored.
- **Cancel…** carries no response_url and no channel (a Home tab is neither), so its confirm is a
  modal: views.open with the click's trigger_id (3 seconds), right after the ack.
- **The modal's submission** is the confirm click: the operation row is recorded before the ack,
  as for the confirm button (bot/listeners/actions.py), with the viewer's DM with the app as its
  channel, so the tracker's status message goes there through the same machinery. The modal then
  says what happened (`response_action: update`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest
from sqlalchemy.exc import SQLAlchemyError

from bot.db import health
from bot.db.bounds import OutcomeUnknown
from bot.services import Services
from bot.views import buttons
from bot.views.home_modal import modal_held, modal_no_channel, modal_not_recorded, modal_recorded

log = logging.getLogger("bot.listeners.home")

# The Home tab's action IDs, each with its listener below (links: `home_link_<operation ID>`,
# `home_link_s<stop ID>`).
ACTIONS = (buttons.HOME_REFRESH_ACTION, buttons.HOME_CANCEL_ACTION, buttons.HOME_LINK_ACTION)
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")
_EVENT_TS = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,8})?$")
_RETRY_NUM = re.compile(r"^[0-9]{1,6}$")
_TRIGGER = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


def _id(value: object) -> str | None:
    return value if isinstance(value, str) and _SLACK_ID.match(value) else None


def _retry(request: BoltRequest) -> bool:
    """Slack's retry of an event: X-Slack-Retry-Num 1, 2, 3 over HTTP; Socket Mode's envelopes
    carry `retry_attempt` 0 on the first delivery, which Bolt copies into the same header."""
    values = request.headers.get("x-slack-retry-num") or []
    raw = values[0] if isinstance(values, list | tuple) and values else values
    return isinstance(raw, str) and _RETRY_NUM.match(raw) is not None and int(raw) > 0


def handle_home_opened(
    services: Services, ack: Ack, event: dict[str, Any], context: BoltContext, request: BoltRequest
) -> None:
    ack()
    if event.get("tab") != "home":
        services.metrics.home_events.labels(outcome="other_tab").inc()
        return
    user_id, channel_id = _id(event.get("user")), _id(event.get("channel"))
    event_ts = event.get("event_ts")
    valid_ts = isinstance(event_ts, str) and _EVENT_TS.match(event_ts) is not None
    if user_id is None or not valid_ts or services.home is None:
        log.warning("an app_home_opened without a valid user or event_ts: ignored")
        return
    # Counted here; whether it is new is for the store to say (a retry of an event taken is not).
    services.metrics.home_events.labels(outcome="retry" if _retry(request) else "taken").inc()
    team_id = context.get("team_id")
    team = team_id if isinstance(team_id, str) else None
    services.responder.submit_home(services.home.opened, user_id, team, channel_id, event_ts)


def _user(body: dict[str, Any]) -> str | None:
    return _id((body.get("user") or {}).get("id"))


def handle_refresh(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    ack()
    user_id = _user(body)
    if user_id is not None and services.home is not None:
        services.responder.submit_home(services.home.refresh, user_id)


def handle_cancel(services: Services, ack: Ack, body: dict[str, Any]) -> None:
    ack()
    value = ((body.get("actions") or [{}])[0]).get("value")
    target = buttons.parse_home_cancel_value(value) if isinstance(value, str) else None
    trigger_id = body.get("trigger_id")
    if target is None or not (isinstance(trigger_id, str) and _TRIGGER.match(trigger_id)):
        log.warning("a Home tab Cancel… click without a valid sync, run or trigger_id: ignored")
        return
    if services.home is not None:
        # The main lane: the trigger_id lasts 3 seconds, so never behind the homes' publishes.
        services.responder.submit(services.home.open_cancel_modal, trigger_id, *target)


def handle_link(ack: Ack) -> None:
    ack()  # a link button: Slack opened the link; its click needs only an ack


def handle_modal(services: Services, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    metadata = (body.get("view") or {}).get("private_metadata")
    target = buttons.parse_home_cancel_value(metadata) if isinstance(metadata, str) else None
    user_id = _user(body)
    if target is None or user_id is None or services.homes is None:
        ack(response_action="update", view=modal_not_recorded(in_doubt=False))
        return
    sync_id, execution_id = target
    team_id = context.get("team_id")
    try:
        channel_id = services.homes.dm_channel(user_id)
        if channel_id is None:
            ack(response_action="update", view=modal_no_channel())
            return
        recorded = services.operations.record_click(
            kind="cancel",
            sync_id=sync_id,
            execution_id=execution_id,
            team_id=team_id if isinstance(team_id, str) else None,
            requested_by=user_id,
            channel_id=channel_id,
            response_url=None,  # a modal has none: the status message in the DM says it all
            incident_channel=services.settings.incident_channel,
            poll_timeout=services.settings.poll_timeout,
        )
    except SQLAlchemyError as error:
        log.warning("could not record a Home tab confirm: %s", health.describe(error))
        ack(response_action="update", view=modal_not_recorded(in_doubt=False))
        return
    except OutcomeUnknown:
        log.warning("a Home tab confirm's COMMIT got no answer: it may or may not be recorded")
        ack(response_action="update", view=modal_not_recorded(in_doubt=True))
        return
    if isinstance(recorded, int):
        ack(response_action="update", view=modal_recorded(sync_id, services.names.get(sync_id)))
        services.nudge()
        if services.home_refresher is not None:
            services.home_refresher.stale([user_id])  # the new operation shows on their home
    else:
        ack(response_action="update", view=modal_held(recorded))


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def on_home_opened(ack: Ack, event: dict[str, Any], context: BoltContext, request: BoltRequest) -> None:
        handle_home_opened(services, ack, event, context, request)

    @app.action(buttons.HOME_REFRESH_ACTION)
    def on_refresh(ack: Ack, body: dict[str, Any]) -> None:
        handle_refresh(services, ack, body)

    @app.action(buttons.HOME_CANCEL_ACTION)
    def on_cancel(ack: Ack, body: dict[str, Any]) -> None:
        handle_cancel(services, ack, body)

    @app.action(re.compile(f"^{buttons.HOME_LINK_ACTION}_s?[0-9]{{1,12}}$"))
    def on_link(ack: Ack) -> None:
        handle_link(ack)

    @app.view(buttons.HOME_CANCEL_MODAL)
    def on_modal(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        handle_modal(services, ack, body, context)
