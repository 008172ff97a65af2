"""Answers about permissions: `/polytomic why` (which grant allows each action, or what is
missing and who may grant it), `/polytomic grants`, the answer to a grant or revoke, and
`/polytomic audit` (the decisions and outcomes recorded, newest first).

Grant and rule descriptions are mrkdwn built by `bot.permissions` from IDs alone: they come in
through `trusted`; everything stored from users or Polytomic is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.commands import USAGE
from bot.db.models import AuditEvent
from bot.permissions import Decision, Rule
from bot.polytomic import Sync
from bot.views.blocks import View, bold, clip, code, escape, id_code, plain, sync_label, trusted, user, when
from bot.views.notes import granters


def why(decisions: Sequence[Decision], sync: Sync) -> View:
    """For each action: the grant that allows it, or what is missing and who may grant it."""
    lines = [f"Your permissions on {sync_label(sync.name, sync.id)}:"]
    for decision in decisions:
        action = code(escape(decision.action))
        if decision.allowed:
            lines.append(f"• {action}: allowed by {trusted(decision.rule)}")
        else:
            lines.append(
                f"• {action}: not allowed; you need {trusted(decision.missing)}. "
                f"Who can grant it: {granters(decision)}"
            )
    return plain("\n".join(lines))


def grants_list(rules: Sequence[Rule], admins: frozenset[str]) -> View:
    lines = [bold("Permissions")]
    if admins:
        lines.append("Bot admins (every permission): " + ", ".join(user(a) for a in sorted(admins)))
    if not rules:
        lines.append(f"No grants yet. A bot admin can add one with {code(escape(USAGE['grant']))}.")
    for rule in rules:
        lines.append("• " + trusted(rule.describe()))
    return plain("\n".join(lines))


def grant_changed(verb: str, subject_mention: str, action: str, scope: str, changed: bool) -> View:
    """`subject_mention` is the parsed command's mention of a user or group (IDs only)."""
    where = "every sync" if scope == "*" else f"sync {code(escape(scope))}"
    what = code(escape(action))
    if verb == "grant":
        text = (
            f"{subject_mention} may now {escape(action)} on {where}."
            if changed
            else f"{subject_mention} already had {what} on {where}; nothing changed."
        )
    else:
        text = (
            f"{subject_mention} no longer has {what} on {where}."
            if changed
            else f"{subject_mention} had no {what} grant on {where}; nothing changed."
        )
    return plain(text)


def audit_view(events: Sequence[AuditEvent], sync_id: str | None) -> View:
    where = f" for sync {id_code(sync_id)}" if sync_id else ""
    if not events:
        return plain(f"Nothing in the audit trail{where} yet.")
    lines = [f"{bold(f'Audit trail{where}')}, newest first:"]
    for event in events:
        parts = [when(event.at), user(event.actor), code(escape(event.action))]
        if event.sync_id and not sync_id:
            parts.append(f"sync {id_code(event.sync_id)}")
        if event.decision:
            rule = f" ({escape(clip(event.rule or '', 120))})" if event.rule else ""
            parts.append(bold(escape(event.decision)) + rule)
        if event.outcome:
            parts.append(f"→ {escape(clip(event.outcome, 120))}")
        lines.append("• " + " · ".join(parts))
    return plain("\n".join(lines))
