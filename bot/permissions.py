"""Who may do what: deny by default, decided from grants and BOT_ADMINS.

`decide` is pure. `Authorizer` adds the two lookups a decision needs, the grants that could
apply (read through the grants' store, `bot.db.grants`) and the members of the user groups those
grants name (from Slack, through an injected function), and fetches group members only when a
group grant could matter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.commands import ACTIONS
from bot.db import grants as grant_store
from bot.db.engine import Database
from bot.db.models import Grant

ANY_SYNC = "*"


@dataclass(frozen=True)
class Rule:
    """A grant, detached from the session."""

    id: int
    subject_kind: str
    subject_id: str
    action: str
    scope: str

    @property
    def subject_mention(self) -> str:
        return f"<@{self.subject_id}>" if self.subject_kind == "user" else f"<!subteam^{self.subject_id}>"

    def describe(self) -> str:
        where = "every sync" if self.scope == ANY_SYNC else f"sync `{self.scope}`"
        return f"grant #{self.id}: {self.subject_mention} may {self.action} on {where}"

    @classmethod
    def of(cls, grant: Grant) -> Rule:
        return cls(grant.id, grant.subject_kind, grant.subject_id, grant.action, grant.scope)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    user_id: str
    action: str
    sync_id: str | None  # None for actions that are not about one sync (e.g. listing grants)
    rule: str  # the rule that decided, in words (stored in the audit table)
    grant_id: int | None = None
    granters: tuple[str, ...] = ()  # mentions of who could grant what is missing

    @property
    def missing(self) -> str:
        where = f"sync `{self.sync_id}` (or on `*`)" if self.sync_id else "`*`"
        return f"`{self.action}` on {where}"


def satisfying_actions(action: str) -> tuple[str, ...]:
    # An admin of a scope may grant itself anything on it, so admin implies every action there.
    return (action,) if action == "admin" else (action, "admin")


def satisfying_scopes(sync_id: str | None) -> tuple[str, ...]:
    return (sync_id, ANY_SYNC) if sync_id else (ANY_SYNC,)


def decide(
    user_id: str,
    action: str,
    sync_id: str | None,
    *,
    admins: frozenset[str],
    rules: Sequence[Rule],
    user_groups: frozenset[str],
) -> Decision:
    """Allow when the user is a bot admin, or a grant for them or one of their groups covers it."""
    if user_id in admins:
        return Decision(True, user_id, action, sync_id, "BOT_ADMINS")
    actions, scopes = satisfying_actions(action), satisfying_scopes(sync_id)
    # Prefer the most specific rule in the explanation: the exact action on the exact sync.
    ranked = sorted(
        (r for r in rules if r.action in actions and r.scope in scopes),
        key=lambda r: (r.scope == ANY_SYNC, r.action != action, r.id),
    )
    for rule in ranked:
        if (rule.subject_kind == "user" and rule.subject_id == user_id) or (
            rule.subject_kind == "usergroup" and rule.subject_id in user_groups
        ):
            return Decision(True, user_id, action, sync_id, rule.describe(), rule.id)
    return Decision(False, user_id, action, sync_id, "no grant", granters=granters(admins, rules, sync_id))


def granters(admins: Iterable[str], rules: Iterable[Rule], sync_id: str | None) -> tuple[str, ...]:
    """Who could grant a permission on this sync: bot admins, then holders of `admin` there."""
    mentions = [f"<@{a}>" for a in sorted(admins)]
    scopes = satisfying_scopes(sync_id)
    for rule in rules:
        if rule.action == "admin" and rule.scope in scopes and rule.subject_mention not in mentions:
            mentions.append(rule.subject_mention)
    return tuple(mentions)


def load_rules(db: Database, actions: Sequence[str], sync_id: str | None) -> list[Rule]:
    """The grants that could decide `actions` on this sync, plus admin grants (for granters)."""
    return as_rules(grant_store.grants_for(db, (*actions, "admin"), satisfying_scopes(sync_id)))


def as_rules(grants: Iterable[Grant]) -> list[Rule]:
    return [Rule.of(g) for g in grants]


GroupMembers = Callable[[str], frozenset[str]]


class Authorizer:
    """may(user, action, sync): grants from the database, group members from `group_members`."""

    def __init__(self, db: Database, admins: frozenset[str], group_members: GroupMembers) -> None:
        self.db = db
        self.admins = admins
        self.group_members = group_members

    def may(self, user_id: str, action: str, sync_id: str | None) -> Decision:
        # The read ends before any Slack call: no database lock is held across the network.
        rules = load_rules(self.db, satisfying_actions(action), sync_id)
        return self.decide_from(rules, user_id, action, sync_id)

    def decide_from(self, rules: Sequence[Rule], user_id: str, action: str, sync_id: str | None) -> Decision:
        """The decision from these rules; group members asked only when a group grant could matter."""
        decision = decide(user_id, action, sync_id, admins=self.admins, rules=rules, user_groups=frozenset())
        if decision.allowed:
            return decision
        groups = {
            r.subject_id
            for r in rules
            if r.subject_kind == "usergroup" and r.action in satisfying_actions(action)
        }
        # Only the groups that could grant this are looked up, each at most once.
        member_of = frozenset(g for g in sorted(groups) if user_id in self.group_members(g))
        if not member_of:
            return decision
        return decide(user_id, action, sync_id, admins=self.admins, rules=rules, user_groups=member_of)

    def snapshot(self, actions: Sequence[str]) -> Snapshot:
        """Every grant of these actions (and admin) in one read: many decisions from it, in
        memory, each deciding exactly as `may` would from a read taken at that moment."""
        wanted = tuple(dict.fromkeys(a for action in actions for a in satisfying_actions(action)))
        return Snapshot(self, as_rules(grant_store.grants_of(self.db, (*wanted, "admin"))), wanted)

    def capabilities(self, user_id: str) -> frozenset[str]:
        """Every action the user holds somewhere (on some sync or on `*`): what help offers."""
        if user_id in self.admins:
            return frozenset(ACTIONS)
        grants = as_rules(grant_store.every_grant(self.db))
        held: set[str] = set()
        groups = sorted({g.subject_id for g in grants if g.subject_kind == "usergroup"})
        member_of = {g for g in groups if user_id in self.group_members(g)}
        for rule in grants:
            mine = rule.subject_id == user_id if rule.subject_kind == "user" else rule.subject_id in member_of
            if mine:
                held.update(ACTIONS if rule.action == "admin" else (rule.action,))
        return frozenset(held)


class Snapshot:
    """The grants one read returned (`Authorizer.snapshot`), for many decisions at once: a stop's
    prompt, or the re-authorization of a stop's operations at confirm (bot/tracker/stop_grants.py).
    Group members are asked as `may` asks them (only when a group grant could matter)."""

    def __init__(self, authorizer: Authorizer, rules: list[Rule], actions: tuple[str, ...]) -> None:
        self.authorizer = authorizer
        self.actions = actions
        self.by_scope: dict[str, list[Rule]] = {}
        for rule in rules:
            self.by_scope.setdefault(rule.scope, []).append(rule)

    def may(self, user_id: str, action: str, sync_id: str | None) -> Decision:
        if not set(satisfying_actions(action)) <= set(self.actions):
            return self.authorizer.may(user_id, action, sync_id)  # not read: ask the database
        wanted = (*satisfying_actions(action), "admin")
        # The rules `load_rules` would have read for this sync, in its order (oldest first).
        rules = sorted(
            (
                r
                for scope in satisfying_scopes(sync_id)
                for r in self.by_scope.get(scope, ())
                if r.action in wanted
            ),
            key=lambda r: r.id,
        )
        return self.authorizer.decide_from(rules, user_id, action, sync_id)
