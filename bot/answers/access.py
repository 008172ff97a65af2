"""Answers about who may do what: `why`, the audit trail, and grant administration.

Granting and revoking go through the grants' store (bot.db.grants.change), which writes the
grant and its audit row in one transaction, as the CLI does.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from bot.answers.deciding import Decider
from bot.answers.listing import Listings
from bot.answers.requester import Requester
from bot.answers.syncs import resolve
from bot.commands import ACTIONS, GrantCmd, RevokeCmd, SyncRef
from bot.db import audit, grants
from bot.db.bounds import OutcomeUnknown
from bot.db.engine import Database
from bot.permissions import as_rules
from bot.polytomic import PolytomicClient, PolytomicError
from bot.slack import SlackError
from bot.views import access, replies


def answer_why(
    polytomic: PolytomicClient, listings: Listings, decider: Decider, req: Requester, ref: SyncRef
) -> None:
    """Each permission on this sync, and which grant (or none) decides it."""
    sync_id = resolve(listings, req, ref, "why")
    if sync_id is None:
        return
    try:
        sync = polytomic.get_sync(sync_id)
        decisions = [decider.may(req.user_id, action, sync_id) for action in ACTIONS]
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, sync_id))
        return
    except SlackError:
        req.answer(replies.groups_unavailable())
        return
    req.answer(access.why(decisions, sync))


def answer_audit(
    listings: Listings, decider: Decider, db: Database, req: Requester, ref: SyncRef | None
) -> None:
    """A sync's trail for those who may cancel it; the whole trail for admins of `*`."""
    sync_id = None if ref is None else resolve(listings, req, ref, "audit")
    if ref is not None and sync_id is None:
        return
    if not decider.allows(req, "cancel" if sync_id else "admin", sync_id, "audit"):
        return
    req.answer(access.audit_view(audit.recent(db, sync_id=sync_id, limit=20), sync_id))


def answer_grant_change(decider: Decider, db: Database, req: Requester, cmd: GrantCmd | RevokeCmd) -> None:
    verb: grants.Change = "grant" if isinstance(cmd, GrantCmd) else "revoke"
    sync_id = None if cmd.scope == "*" else cmd.scope
    try:
        if not decider.allows(req, "admin", sync_id, verb):
            return
        changed = grants.change(
            db,
            verb,
            cmd.subject,
            cmd.action,
            cmd.scope,
            actor=req.user_id,
            channel_id=req.channel_id,
            at=decider.clock.now(),
        )
    except SQLAlchemyError:  # the grant and its audit row are one transaction: neither is there
        req.answer(replies.not_changed_database())
        return
    except OutcomeUnknown:
        req.answer(replies.recorded_in_doubt(check="/polytomic grants"))
        return
    req.answer(access.grant_changed(verb, cmd.subject.mention, cmd.action, cmd.scope, changed))


def answer_grants(db: Database, admins: frozenset[str], req: Requester) -> None:
    req.answer(access.grants_list(as_rules(grants.every_grant(db)), admins))
