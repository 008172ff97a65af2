"""What the bot does after it has acked a command or a click: runs on the responder pool.

Each function answers the person who asked, through their response_url, and records every
permission decision in the audit table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from bot import audit, grants, messages
from bot.commands import GrantCmd, RevokeCmd, SyncRef
from bot.db.models import Operation, utcnow
from bot.operations import State
from bot.permissions import Decision
from bot.polytomic import PolytomicError
from bot.services import Services
from bot.slack import SlackFailure, Throttled, respond

log = logging.getLogger("bot.interactions")


@dataclass(frozen=True)
class Requester:
    """Who asked, where, and how to answer them."""

    user_id: str
    channel_id: str
    response_url: str
    team_id: str | None = None


def _answer(req: Requester, view: messages.View, *, replace: bool = False) -> None:
    respond(req.response_url, view, replace_original=replace)


def _decide(
    svc: Services, req: Requester, action: str, sync_id: str | None, audit_as: str
) -> Decision | None:
    """A decision, audited; None (and the user told) when Slack could not be asked about groups."""
    try:
        decision = svc.authorizer.may(req.user_id, action, sync_id)
    except (Throttled, SlackFailure):
        _answer(
            req, messages.plain("I couldn't check your Slack user groups just now. Try again in a minute.")
        )
        return None
    with svc.db.transaction() as session:
        audit.record(
            session,
            actor=req.user_id,
            action=audit_as,
            sync_id=sync_id,
            decision=decision,
            channel_id=req.channel_id,
        )
    svc.metrics.decision(action, decision.allowed)
    if not decision.allowed:
        _answer(req, messages.denied(decision))
    return decision


def answer_cancel(svc: Services, req: Requester, ref: SyncRef) -> None:
    """Show the running execution with Cancel / Keep running, or say why there is nothing to do."""
    assert ref.id is not None
    decision = _decide(svc, req, "cancel", ref.id, "cancel.request")
    if decision is None or not decision.allowed:
        return
    try:
        sync = svc.polytomic.get_sync(ref.id)
        status = svc.polytomic.sync_status(ref.id)
    except PolytomicError as error:
        _answer(req, messages.polytomic_failure(error, ref.id))
        return
    current = status.current_execution
    if current is None or current.status.is_terminal or not current.id:
        _answer(req, messages.nothing_running(sync, status))
        return
    _answer(req, messages.cancel_prompt(sync, current, current.id))


def answer_status(svc: Services, req: Requester, ref: SyncRef) -> None:
    assert ref.id is not None
    try:
        sync = svc.polytomic.get_sync(ref.id)
        status = svc.polytomic.sync_status(ref.id)
    except PolytomicError as error:
        _answer(req, messages.polytomic_failure(error, ref.id))
        return
    _answer(req, messages.sync_status(sync, status))


def answer_grant_change(svc: Services, req: Requester, cmd: GrantCmd | RevokeCmd) -> None:
    verb = "grant" if isinstance(cmd, GrantCmd) else "revoke"
    sync_id = None if cmd.scope == "*" else cmd.scope
    decision = _decide(svc, req, "admin", sync_id, verb)
    if decision is None or not decision.allowed:
        return
    if isinstance(cmd, GrantCmd):
        changed = grants.add_grant(svc.db, cmd.subject, cmd.action, cmd.scope, granted_by=req.user_id)
    else:
        changed = grants.remove_grant(svc.db, cmd.subject, cmd.action, cmd.scope)
    with svc.db.transaction() as session:
        audit.record(
            session,
            actor=req.user_id,
            action=verb,
            sync_id=sync_id,
            outcome=f"{cmd.subject.kind} {cmd.subject.id} {cmd.action} {cmd.scope}: "
            + ("changed" if changed else "unchanged"),
            channel_id=req.channel_id,
        )
    _answer(req, messages.grant_changed(verb, cmd.subject.mention, cmd.action, cmd.scope, changed))


def answer_grants(svc: Services, req: Requester) -> None:
    _answer(req, messages.grants_list(grants.list_rules(svc.db), svc.settings.bot_admins))


def answer_duplicate(svc: Services, req: Requester, execution_id: str) -> None:
    with svc.db.transaction() as session:
        op = session.scalars(
            select(Operation)
            .where(Operation.execution_id == execution_id)
            .order_by(Operation.id.desc())
            .limit(1)
        ).first()
    if op is not None:
        _answer(req, messages.already_requested(op))


def answer_retry(svc: Services, req: Requester, op_id: int, attempt: int) -> None:
    """ "Try the cancel again" on an escalated operation: once per attempt, whoever clicks."""
    with svc.db.transaction() as session:
        op = session.get(Operation, op_id)
    if op is None:
        _answer(req, messages.invalid_button())
        return
    decision = _decide(svc, req, "cancel", op.sync_id, "cancel.retry")
    if decision is None or not decision.allowed:
        return
    now = utcnow()
    with svc.db.transaction() as session:
        # Conditional on the attempt the button showed: of several clicks, one wins.
        result = session.execute(
            update(Operation)
            .where(
                Operation.id == op_id,
                Operation.state == State.CANCELING,
                Operation.cancel_attempt == attempt,
                Operation.escalated_at.is_not(None),
            )
            .values(
                cancel_attempt=attempt + 1,
                cancel_sent_at=None,
                escalated_at=None,
                incident_escalation_ts=None,
                deadline_at=now + timedelta(seconds=svc.settings.poll_timeout),
                next_poll_at=now,
                updated_at=now,
            )
        )
        won = bool(result.rowcount)  # type: ignore[attr-defined]
        audit.record(
            session,
            actor=req.user_id,
            action="cancel.retry",
            sync_id=op.sync_id,
            outcome="sent again" if won else "already retried or finished",
            operation_id=op_id,
            channel_id=req.channel_id,
        )
    if won:
        svc.nudge()
        _answer(req, messages.plain("Sending the cancel to Polytomic again."))
    else:
        _answer(req, messages.plain("That was already retried, or the run has ended. Nothing more was sent."))
