"""bot.permissions: `decide` and `granters` (pure), and `Authorizer.may` on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.commands import Subject
from bot.db import migrate
from bot.db.engine import Database
from bot.db.grants import add_grant
from bot.permissions import ANY_SYNC, Authorizer, Decision, Rule, decide, granters

S1 = "248df4b7-aa70-47b8-a036-33ac447e668d"
S2 = "11111111-2222-3333-4444-555555555555"
NOBODY: frozenset[str] = frozenset()


def _decide(
    user: str,
    action: str,
    sync_id: str | None,
    rules: list[Rule],
    *,
    admins: frozenset[str] = NOBODY,
    groups: frozenset[str] = NOBODY,
) -> Decision:
    return decide(user, action, sync_id, admins=admins, rules=rules, user_groups=groups)


# ---- decide ------------------------------------------------------------------------------


def test_deny_by_default() -> None:
    decision = _decide("U1", "cancel", S1, [])
    assert decision.allowed is False
    assert decision.grant_id is None
    assert decision.rule == "no grant"
    assert (decision.user_id, decision.action, decision.sync_id) == ("U1", "cancel", S1)


def test_bot_admins_hold_every_permission() -> None:
    for action, sync_id in (("cancel", S1), ("admin", S1), ("admin", None), ("cancel", None)):
        decision = _decide("UADMIN", action, sync_id, [], admins=frozenset({"UADMIN", "UOTHER"}))
        assert decision.allowed is True
        assert decision.rule == "BOT_ADMINS"
    assert _decide("U1", "cancel", S1, [], admins=frozenset({"UADMIN"})).allowed is False


def test_user_grant_on_the_sync() -> None:
    decision = _decide("U1", "cancel", S1, [Rule(7, "user", "U1", "cancel", S1)])
    assert decision.allowed is True
    assert decision.grant_id == 7
    assert "grant #7" in decision.rule and S1 in decision.rule


def test_user_grant_on_every_sync() -> None:
    decision = _decide("U1", "cancel", S1, [Rule(3, "user", "U1", "cancel", ANY_SYNC)])
    assert decision.allowed is True
    assert decision.grant_id == 3
    assert "every sync" in decision.rule


def test_a_grant_for_someone_else_does_not_apply() -> None:
    rules = [Rule(1, "user", "U2", "cancel", S1), Rule(2, "usergroup", "SG", "cancel", ANY_SYNC)]
    assert _decide("U1", "cancel", S1, rules).allowed is False


def test_group_grant_applies_to_members_only() -> None:
    rules = [Rule(4, "usergroup", "SDATA", "cancel", S1)]
    member = _decide("U1", "cancel", S1, rules, groups=frozenset({"SDATA"}))
    assert member.allowed is True
    assert member.grant_id == 4
    assert "<!subteam^SDATA>" in member.rule
    assert _decide("U1", "cancel", S1, rules, groups=frozenset({"SOTHER"})).allowed is False
    # A user ID that happens to equal a group's ID is not a member of it.
    assert _decide("SDATA", "cancel", S1, rules).allowed is False


def test_admin_implies_cancel_but_cancel_does_not_imply_admin() -> None:
    admin_rule = [Rule(5, "user", "U1", "admin", S1)]
    decision = _decide("U1", "cancel", S1, admin_rule)
    assert decision.allowed is True
    assert decision.grant_id == 5
    cancel_rule = [Rule(6, "user", "U1", "cancel", ANY_SYNC)]
    assert _decide("U1", "admin", S1, cancel_rule).allowed is False
    assert _decide("U1", "admin", None, cancel_rule).allowed is False


def test_admin_on_every_sync_covers_listing_and_granting() -> None:
    rules = [Rule(9, "user", "U1", "admin", ANY_SYNC)]
    assert _decide("U1", "admin", None, rules).allowed is True
    assert _decide("U1", "admin", S1, rules).allowed is True
    # ...but an admin on one sync is not an admin of everything.
    assert _decide("U1", "admin", None, [Rule(9, "user", "U1", "admin", S1)]).allowed is False


def test_a_grant_on_another_sync_does_not_apply() -> None:
    rules = [Rule(1, "user", "U1", "cancel", S2), Rule(2, "user", "U1", "admin", S2)]
    assert _decide("U1", "cancel", S1, rules).allowed is False
    assert _decide("U1", "cancel", S2, rules).allowed is True


def test_a_grant_on_one_sync_does_not_cover_sync_less_actions() -> None:
    assert _decide("U1", "cancel", None, [Rule(1, "user", "U1", "cancel", S1)]).allowed is False


@pytest.mark.parametrize("order", [1, -1])
def test_the_most_specific_rule_is_the_one_reported(order: int) -> None:
    rules = [
        Rule(1, "user", "U1", "admin", ANY_SYNC),
        Rule(2, "user", "U1", "cancel", ANY_SYNC),
        Rule(3, "usergroup", "SG", "admin", S1),
        Rule(4, "user", "U1", "cancel", S1),
    ][::order]
    groups = frozenset({"SG"})
    # exact action on the exact sync beats everything
    assert _decide("U1", "cancel", S1, rules, groups=groups).grant_id == 4
    # without it, the exact sync (even through admin) beats any `*` rule
    without_4 = [r for r in rules if r.id != 4]
    assert _decide("U1", "cancel", S1, without_4, groups=groups).grant_id == 3
    # among `*` rules, the exact action beats admin
    star_only = [r for r in rules if r.scope == ANY_SYNC]
    assert _decide("U1", "cancel", S1, star_only).grant_id == 2
    assert _decide("U1", "cancel", S1, [r for r in star_only if r.id != 2]).grant_id == 1


def test_a_denial_lists_who_can_grant() -> None:
    rules = [
        Rule(1, "user", "UCANCEL", "cancel", S1),  # cancel holders cannot grant
        Rule(2, "user", "USYNCADMIN", "admin", S1),
        Rule(3, "usergroup", "SADMINS", "admin", ANY_SYNC),
        Rule(4, "user", "UOTHERADMIN", "admin", S2),  # admin elsewhere: not for this sync
        Rule(5, "user", "UADMIN", "admin", ANY_SYNC),  # already listed as a bot admin
    ]
    decision = _decide("U1", "cancel", S1, rules, admins=frozenset({"UADMIN", "UBOSS"}))
    assert decision.allowed is False
    assert decision.granters == ("<@UADMIN>", "<@UBOSS>", "<@USYNCADMIN>", "<!subteam^SADMINS>")
    assert "`cancel`" in decision.missing and S1 in decision.missing


def test_granters_directly() -> None:
    rules = [Rule(1, "user", "UA", "admin", S1), Rule(2, "user", "UB", "admin", ANY_SYNC)]
    assert granters(frozenset(), [], S1) == ()
    assert granters(frozenset({"UZ", "UY"}), rules, S1) == ("<@UY>", "<@UZ>", "<@UA>", "<@UB>")
    assert granters(frozenset(), rules, S2) == ("<@UB>",)
    assert granters(frozenset(), rules, None) == ("<@UB>",)


# ---- Authorizer.may against SQLite -----------------------------------------------------


class RecordingGroups:
    def __init__(self, members: dict[str, set[str]]) -> None:
        self.members = members
        self.calls: list[str] = []

    def __call__(self, group_id: str) -> frozenset[str]:
        self.calls.append(group_id)
        return frozenset(self.members.get(group_id, set()))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/x.db")
    migrate.upgrade(database.url)
    yield database
    database.dispose()


def _grant(db: Database, kind: str, subject_id: str, action: str, scope: str) -> None:
    assert add_grant(db, Subject(kind, subject_id), action, scope, granted_by="test")  # type: ignore[arg-type]


def test_may_denies_by_default_without_looking_up_groups(db: Database) -> None:
    groups = RecordingGroups({})
    decision = Authorizer(db, NOBODY, groups).may("U1", "cancel", S1)
    assert decision.allowed is False
    assert groups.calls == []


def test_may_allows_a_direct_grant_without_looking_up_groups(db: Database) -> None:
    _grant(db, "user", "U1", "cancel", S1)
    _grant(db, "usergroup", "SG", "cancel", S1)
    groups = RecordingGroups({"SG": {"U1"}})
    decision = Authorizer(db, NOBODY, groups).may("U1", "cancel", S1)
    assert decision.allowed is True
    assert decision.grant_id is not None
    assert "<@U1>" in decision.rule
    assert groups.calls == []


def test_may_allows_bot_admins_without_looking_up_groups(db: Database) -> None:
    _grant(db, "usergroup", "SG", "cancel", S1)
    groups = RecordingGroups({"SG": {"UADMIN"}})
    decision = Authorizer(db, frozenset({"UADMIN"}), groups).may("UADMIN", "admin", None)
    assert decision.allowed is True
    assert decision.rule == "BOT_ADMINS"
    assert groups.calls == []


def test_may_looks_up_only_groups_that_could_grant_each_once(db: Database) -> None:
    _grant(db, "usergroup", "SCANCEL", "cancel", S1)
    _grant(db, "usergroup", "SADMIN", "admin", ANY_SYNC)
    _grant(db, "usergroup", "SADMIN", "cancel", S1)  # same group twice: one lookup
    _grant(db, "usergroup", "SELSEWHERE", "cancel", S2)  # another sync
    _grant(db, "usergroup", "SPAUSE", "pause", S1)  # another action
    _grant(db, "user", "U2", "cancel", S1)  # another user
    groups = RecordingGroups({"SCANCEL": {"U9"}, "SADMIN": {"U8"}})
    decision = Authorizer(db, NOBODY, groups).may("U1", "cancel", S1)
    assert decision.allowed is False
    assert sorted(groups.calls) == ["SADMIN", "SCANCEL"]
    assert decision.granters == ("<!subteam^SADMIN>",)


def test_may_allows_through_a_group(db: Database) -> None:
    _grant(db, "usergroup", "SDATA", "cancel", ANY_SYNC)
    _grant(db, "usergroup", "SOPS", "cancel", S1)
    groups = RecordingGroups({"SDATA": {"U1"}, "SOPS": {"U1"}})
    decision = Authorizer(db, NOBODY, groups).may("U1", "cancel", S1)
    assert decision.allowed is True
    assert "<!subteam^SOPS>" in decision.rule  # the grant on the exact sync is the one reported
    assert sorted(groups.calls) == ["SDATA", "SOPS"]


def test_may_for_admin_ignores_groups_that_only_hold_cancel(db: Database) -> None:
    _grant(db, "usergroup", "SCANCEL", "cancel", ANY_SYNC)
    _grant(db, "usergroup", "SADMIN", "admin", ANY_SYNC)
    groups = RecordingGroups({"SCANCEL": {"U1"}, "SADMIN": {"U1"}})
    decision = Authorizer(db, NOBODY, groups).may("U1", "admin", None)
    assert decision.allowed is True
    assert groups.calls == ["SADMIN"]


def test_may_denies_a_non_member(db: Database) -> None:
    _grant(db, "usergroup", "SDATA", "cancel", S1)
    _grant(db, "user", "UBOSS", "admin", S1)
    groups = RecordingGroups({"SDATA": {"U2"}})
    decision = Authorizer(db, frozenset({"UROOT"}), groups).may("U1", "cancel", S1)
    assert decision.allowed is False
    assert groups.calls == ["SDATA"]
    assert decision.granters == ("<@UROOT>", "<@UBOSS>")
