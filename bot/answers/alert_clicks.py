"""Clicks on an alert's buttons and the start command's answer, after the ack.

Every click is a new request from whoever sent it: the clicker is decided again (and audited)
on every click. Pause and Resume are one conditional update on the alert that only one click
wins (bot.db.alerts.mark_paused); the winner alone calls Polytomic (with an Idempotency-Key),
and a refusal undoes the mark. Mute writes the channel's mute. Each effect is audited and makes
the alert due, so the tracker re-renders it from the row (Resume in place of Pause, the mute).
Restart is recorded before the ack (bot.listeners.alert_actions); Cancel goes on as
`/polytomic cancel` of the sync would, with its own confirm.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.answers.deciding import Decider
from bot.answers.listing import Listings
from bot.answers.requester import Requester
from bot.answers.syncs import resolve
from bot.commands import SyncRef
from bot.db import subscriptions
from bot.db.alerts import AlertStore
from bot.db.audit import Event
from bot.db.bounds import OutcomeUnknown
from bot.db.models import Alert
from bot.polytomic import PolytomicClient, PolytomicError
from bot.views import replies
from bot.views.blocks import plain, sync_label, when
from bot.views.subscriptions import start_prompt


def _alert(store: AlertStore, req: Requester, alert_id: int) -> Alert | None:
    alert = store.get(alert_id)
    if alert is None or alert.channel_id != req.channel_id:
        req.answer(replies.invalid_button())
        return None
    return alert


def answer_pause(
    store: AlertStore,
    polytomic: PolytomicClient,
    decider: Decider,
    nudge: Callable[[], None],
    req: Requester,
    alert_id: int,
    *,
    pause: bool,
) -> None:
    """Pause (or resume) the sync's schedule from its alert: once, by someone who may pause it."""
    alert = _alert(store, req, alert_id)
    if alert is None:
        return
    verb = "alert.pause" if pause else "alert.resume"
    if not decider.allows(req, "pause", alert.sync_id, verb):
        return
    label = sync_label(alert.sync_name, alert.sync_id)
    try:
        won = store.mark_paused(alert_id, by=req.user_id if pause else None)
    except (SQLAlchemyError, OutcomeUnknown):
        req.answer(replies.not_changed_database())
        return
    if not won:
        done = "paused" if pause else "resumed"
        req.answer(
            plain(f"The schedule of {label} was {done} already from this alert; nothing more was sent.")
        )
        return
    stamp = int(decider.clock.now().timestamp())
    key = f"alert-{alert_id}-{'pause' if pause else 'resume'}-{stamp}"
    try:
        polytomic.set_active(alert.sync_id, not pause, idempotency_key=key)
    except PolytomicError as error:
        store.mark_paused(alert_id, by=None if pause else (alert.paused_by or req.user_id))
        req.answer(replies.polytomic_failure(error, alert.sync_id))
        return
    store.touch(
        alert_id,
        audit=Event(
            actor=req.user_id,
            action="pause" if pause else "resume",
            sync_id=alert.sync_id,
            outcome="schedule paused from an alert" if pause else "schedule resumed from an alert",
            channel_id=req.channel_id,
        ),
    )
    nudge()
    if pause:
        req.answer(plain(f"Paused the schedule of {label}: no scheduled runs until someone resumes it."))
    else:
        req.answer(plain(f"Resumed the schedule of {label}."))


def answer_mute(
    store: AlertStore,
    decider: Decider,
    nudge: Callable[[], None],
    req: Requester,
    alert_id: int,
    seconds: float,
) -> None:
    alert = _alert(store, req, alert_id)
    if alert is None or not decider.allows(req, "subscribe", alert.sync_id, "alert.mute"):
        return
    try:
        until = subscriptions.mute(
            store.db,
            alert.channel_id,
            alert.sync_id,
            seconds=seconds,
            actor=req.user_id,
            at=decider.clock.now(),
        )
    except (SQLAlchemyError, OutcomeUnknown):
        req.answer(replies.not_changed_database())
        return
    store.touch(alert_id)
    nudge()
    req.answer(
        plain(
            f"Muted {sync_label(alert.sync_name, alert.sync_id)} here until {when(until)}: its failures post "
            "nothing new until then (the alert is still kept up to date)."
        )
    )


def answer_start(
    polytomic: PolytomicClient, listings: Listings, decider: Decider, req: Requester, ref: SyncRef
) -> None:
    """`/polytomic start <sync>`: for holders of `start`, a prompt with a confirm button."""
    sync_id = resolve(listings, req, ref, "start")
    if sync_id is None or not decider.allows(req, "start", sync_id, "start"):
        return
    try:
        sync = polytomic.get_sync(sync_id)
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, sync_id))
        return
    req.answer(start_prompt(sync))
