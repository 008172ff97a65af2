"""What the bot does after it has acked a command or a click: runs on the responder pool.

Each function answers the person who asked, through their response_url, and records every
permission decision in the audit table.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.commands import GrantCmd, RevokeCmd, SyncRef
from bot.db import audit, grants
from bot.db.models import Operation
from bot.permissions import Decision, as_rules
from bot.polytomic import PolytomicError, Sync
from bot.services import Services
from bot.slack import SlackError, Throttled, respond
from bot.views import access, prompts, replies
from bot.views.blocks import View
from bot.views.syncs import MAX_LIST, SyncLine, no_such_name, nothing_running, sync_list, sync_status

log = logging.getLogger("bot.interactions")


@dataclass(frozen=True)
class Requester:
    """Who asked, where, and how to answer them."""

    user_id: str
    channel_id: str
    response_url: str
    team_id: str | None = None


def _answer(req: Requester, view: View, *, replace: bool = False) -> None:
    respond(req.response_url, view, replace_original=replace)


GROUP_WAIT_LIMIT = 20.0  # seconds an answer may wait out Slack's rate limit on group look-ups
LIST_SCAN = 200  # syncs looked at by /polytomic list before it says "and more"


def _may(svc: Services, user_id: str, action: str, sync_id: str | None) -> Decision:
    """A decision; waits out a Slack rate limit on the group look-up (never on the ack path)."""
    waited = 0.0
    while True:
        try:
            return svc.authorizer.may(user_id, action, sync_id)
        except Throttled as throttled:
            if waited + throttled.retry_after > GROUP_WAIT_LIMIT:
                raise
            time.sleep(throttled.retry_after)
            waited += throttled.retry_after


def _decide(
    svc: Services, req: Requester, action: str, sync_id: str | None, audit_as: str
) -> Decision | None:
    """A decision, audited; None (and the user told) when Slack could not be asked about groups."""
    try:
        decision = _may(svc, req.user_id, action, sync_id)
    except SlackError:
        _answer(req, replies.groups_unavailable())
        return None
    audit.record(
        svc.db,
        at=svc.clock.now(),
        actor=req.user_id,
        action=audit_as,
        sync_id=sync_id,
        decision=decision,
        channel_id=req.channel_id,
    )
    svc.metrics.decision(action, decision.allowed)
    if not decision.allowed:
        _answer(req, replies.denied(decision))
    return decision


def _shows(svc: Services, user_id: str, action: str, sync_id: str) -> bool:
    """Whether to offer a button; the click is decided (and audited) again when it comes."""
    try:
        return _may(svc, user_id, action, sync_id).allowed
    except SlackError:
        return False


def same_name(a: str | None, b: str) -> bool:
    return a is not None and " ".join(a.split()).casefold() == b.casefold()


def resolve(svc: Services, req: Requester, ref: SyncRef, verb: str) -> str | None:
    """The sync ID a command is about; by name through the list endpoint. None when the user
    has been answered instead (no such name, or several to pick from)."""
    if ref.id is not None:
        return ref.id
    assert ref.name is not None
    try:
        matches = [sync for sync in svc.polytomic.list_syncs() if same_name(sync.name, ref.name)]
    except PolytomicError as error:
        _answer(req, replies.polytomic_failure(error, None))
        return None
    if len(matches) == 1:
        return matches[0].id
    _answer(req, prompts.pick_sync(matches, verb, ref.name) if matches else no_such_name(ref.name))
    return None


def answer_help(svc: Services, req: Requester) -> None:
    try:
        capabilities = svc.authorizer.capabilities(req.user_id)
    except SlackError:
        capabilities = frozenset()  # the commands anyone may run are still worth showing
    _answer(req, replies.help_view(capabilities))


def answer_cancel(svc: Services, req: Requester, ref: SyncRef) -> None:
    """Show the running execution with Cancel / Keep running, or say why there is nothing to do."""
    sync_id = resolve(svc, req, ref, "cancel")
    if sync_id is None:
        return
    decision = _decide(svc, req, "cancel", sync_id, "cancel.request")
    if decision is None or not decision.allowed:
        return
    try:
        sync, status = svc.polytomic.sync_and_status(sync_id)
    except PolytomicError as error:
        _answer(req, replies.polytomic_failure(error, sync_id))
        return
    current = status.current_execution
    if current is None or current.status.is_terminal or not current.id:
        _answer(req, nothing_running(sync, status))
        return
    may_pause = _shows(svc, req.user_id, "pause", sync_id)
    _answer(req, prompts.cancel_prompt(sync, current, current.id, may_pause=may_pause))


def answer_status(svc: Services, req: Requester, ref: SyncRef) -> None:
    sync_id = resolve(svc, req, ref, "status")
    if sync_id is None:
        return
    try:
        sync, status = svc.polytomic.sync_and_status(sync_id)
    except PolytomicError as error:
        _answer(req, replies.polytomic_failure(error, sync_id))
        return
    _answer(req, sync_status(sync, status))


def answer_why(svc: Services, req: Requester, ref: SyncRef) -> None:
    sync_id = resolve(svc, req, ref, "why")
    if sync_id is None:
        return
    try:
        sync = svc.polytomic.get_sync(sync_id)
        decisions = [_may(svc, req.user_id, action, sync_id) for action in ("cancel", "pause", "admin")]
    except PolytomicError as error:
        _answer(req, replies.polytomic_failure(error, sync_id))
        return
    except SlackError:
        _answer(req, replies.groups_unavailable())
        return
    _answer(req, access.why(decisions, sync))


def answer_audit(svc: Services, req: Requester, ref: SyncRef | None) -> None:
    """A sync's trail for those who may cancel it; the whole trail for admins of `*`."""
    sync_id = None if ref is None else resolve(svc, req, ref, "audit")
    if ref is not None and sync_id is None:
        return
    decision = _decide(svc, req, "cancel" if sync_id else "admin", sync_id, "audit")
    if decision is None or not decision.allowed:
        return
    events = audit.recent(svc.db, sync_id=sync_id, limit=20)
    _answer(req, access.audit_view(events, sync_id))


def answer_list(svc: Services, req: Requester, running_only: bool) -> None:
    """The syncs (or those running) with their state; page tokens are followed by the client."""
    try:
        syncs = list(itertools.islice(svc.polytomic.list_syncs(), LIST_SCAN + 1))
    except PolytomicError as error:
        _answer(req, replies.polytomic_failure(error, None))
        return
    unseen = max(0, len(syncs) - LIST_SCAN)  # at least this many not even looked at
    syncs = syncs[:LIST_SCAN]
    # Every sync's status is needed to know which are running; otherwise only the shown ones'.
    looked_at = syncs if running_only else syncs[:MAX_LIST]
    with ThreadPoolExecutor(8, thread_name_prefix="list") as pool:
        lines = list(pool.map(lambda sync: _line(svc, sync), looked_at))
    if running_only:
        lines = [line for line in lines if line.current is not None and line.current.status.is_active]
    shown = lines[:MAX_LIST]
    hidden = len(lines) - len(shown) + unseen + (0 if running_only else len(syncs) - len(looked_at))
    shown = [
        dataclasses.replace(line, may_cancel=_shows(svc, req.user_id, "cancel", line.sync.id))
        if line.current is not None and line.current.status.is_active
        else line
        for line in shown
    ]
    _answer(req, sync_list(shown, running_only=running_only, hidden=hidden, now=svc.clock.now()))


def _line(svc: Services, sync: Sync) -> SyncLine:
    try:
        status = svc.polytomic.sync_status(sync.id)
    except PolytomicError as error:
        return SyncLine(sync, None, error=error.message or type(error).__name__)
    return SyncLine(sync, status.current_execution)


def answer_pick(svc: Services, req: Requester, verb: str, sync_id: str) -> None:
    """A choice among syncs of the same name: go on with the command the user typed."""
    ref = SyncRef(id=sync_id)
    if verb == "cancel":
        answer_cancel(svc, req, ref)
    elif verb == "status":
        answer_status(svc, req, ref)
    elif verb == "why":
        answer_why(svc, req, ref)
    elif verb == "audit":
        answer_audit(svc, req, ref)
    else:
        _answer(req, replies.invalid_button())


def _clicked_operation(
    svc: Services, req: Requester, op_id: int, action: str, audit_as: str
) -> Operation | None:
    """The operation a button is about, if it exists and the clicker may do `action` on it."""
    op = svc.operations.get(op_id)
    if op is None:
        _answer(req, replies.invalid_button())
        return None
    decision = _decide(svc, req, action, op.sync_id, audit_as)
    return op if decision is not None and decision.allowed else None


def answer_resume(svc: Services, req: Requester, op_id: int) -> None:
    """Resume the schedule a cancel-and-pause paused: once, by someone who may pause it."""
    op = _clicked_operation(svc, req, op_id, "pause", "resume")
    if op is None:
        return
    if op.paused_at is None:
        _answer(req, replies.invalid_button())
        return
    # Of several clicks, one wins the row; only the winner talks to Polytomic.
    if not svc.operations.resume(op_id, by=req.user_id):
        _answer(req, replies.already_resumed(op))
        return
    try:
        svc.polytomic.set_active(op.sync_id, True, idempotency_key=f"op-{op.id}-resume")
    except PolytomicError as error:
        svc.operations.undo_resume(op_id)
        _answer(req, replies.polytomic_failure(error, op.sync_id))
        return
    # Hand the row back to the tracker so it re-renders the status message from it.
    svc.operations.reopen(
        op_id,
        audit=audit.Event(
            actor=req.user_id,
            action="resume",
            sync_id=op.sync_id,
            outcome="schedule resumed",
            operation_id=op.id,
            channel_id=req.channel_id,
        ),
    )
    svc.nudge()
    _answer(req, replies.resumed(op))


def answer_grant_change(svc: Services, req: Requester, cmd: GrantCmd | RevokeCmd) -> None:
    verb: grants.Change = "grant" if isinstance(cmd, GrantCmd) else "revoke"
    sync_id = None if cmd.scope == "*" else cmd.scope
    decision = _decide(svc, req, "admin", sync_id, verb)
    if decision is None or not decision.allowed:
        return
    changed = grants.change(
        svc.db,
        verb,
        cmd.subject,
        cmd.action,
        cmd.scope,
        actor=req.user_id,
        channel_id=req.channel_id,
        at=svc.clock.now(),
    )
    _answer(req, access.grant_changed(verb, cmd.subject.mention, cmd.action, cmd.scope, changed))


def answer_grants(svc: Services, req: Requester) -> None:
    _answer(req, access.grants_list(as_rules(grants.every_grant(svc.db)), svc.settings.bot_admins))


def answer_retry(svc: Services, req: Requester, op_id: int, attempt: int) -> None:
    """ "Try the cancel again" on an escalated operation: once per attempt, whoever clicks."""
    op = _clicked_operation(svc, req, op_id, "cancel", "cancel.retry")
    if op is None:
        return
    # Conditional on the attempt the button showed: of several clicks, one wins.
    won = svc.operations.retry(
        op, attempt, poll_timeout=svc.settings.poll_timeout, actor=req.user_id, channel_id=req.channel_id
    )
    if won:
        svc.nudge()
        _answer(req, replies.retry_sent())
    else:
        _answer(req, replies.retry_refused())
