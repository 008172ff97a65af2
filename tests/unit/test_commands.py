"""bot.commands: the text after `/polytomic` → a command value (pure, no IO)."""

from __future__ import annotations

import pytest

from bot.commands import (
    ACTIONS,
    MAX_TEXT,
    USAGE,
    Cancel,
    Command,
    GrantCmd,
    Help,
    Invalid,
    ListGrants,
    RevokeCmd,
    Status,
    Subject,
    SyncRef,
    Why,
    parse,
    parse_scope,
    parse_subject,
    parse_sync_ref,
)

SYNC = "248df4b7-aa70-47b8-a036-33ac447e668d"
MODEL = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-8888-7777-6666-555555555555"
BASE = "https://app.polytomic.com"


# ---- verbs -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "help", "HELP", "  help  "])
def test_empty_text_and_help_give_help(text: str) -> None:
    assert parse(text) == Help()


def test_cancel_with_a_uuid() -> None:
    assert parse(f"cancel {SYNC}") == Cancel(SyncRef(id=SYNC))


def test_status_with_a_uuid() -> None:
    assert parse(f"status {SYNC}") == Status(SyncRef(id=SYNC))


def test_verbs_are_case_insensitive_and_whitespace_tolerant() -> None:
    assert parse(f"  CANCEL   {SYNC}  ") == Cancel(SyncRef(id=SYNC))
    assert parse(f"Status\t{SYNC}") == Status(SyncRef(id=SYNC))


def test_upper_case_uuid_is_normalised_to_lower_case() -> None:
    command = parse(f"cancel {SYNC.upper()}")
    assert command == Cancel(SyncRef(id=SYNC))
    assert parse_sync_ref("248DF4B7-aa70-47B8-A036-33ac447e668D") == SyncRef(id=SYNC)


def test_grants_lists() -> None:
    assert parse("grants") == ListGrants()
    assert parse("GRANTS") == ListGrants()


@pytest.mark.parametrize("verb", ["grant", "revoke"])
def test_grant_and_revoke_with_a_user_mention(verb: str) -> None:
    expected_type = GrantCmd if verb == "grant" else RevokeCmd
    command = parse(f"{verb} <@U123ABC|alice> cancel {SYNC}")
    assert command == expected_type(Subject("user", "U123ABC"), "cancel", SYNC)


@pytest.mark.parametrize("verb", ["grant", "revoke"])
def test_grant_and_revoke_with_a_group_mention_and_star(verb: str) -> None:
    expected_type = GrantCmd if verb == "grant" else RevokeCmd
    command = parse(f"{verb} <!subteam^S123|@data-eng> admin *")
    assert command == expected_type(Subject("usergroup", "S123"), "admin", "*")


def test_grant_action_is_case_insensitive() -> None:
    assert parse("grant <@U123> CANCEL *") == GrantCmd(Subject("user", "U123"), "cancel", "*")


def test_grant_scope_may_be_a_url_or_upper_case_uuid() -> None:
    assert parse(f"grant <@U123> cancel {SYNC.upper()}") == GrantCmd(Subject("user", "U123"), "cancel", SYNC)
    assert parse(f"grant <@U123> cancel <{BASE}/syncs/{SYNC}|x>") == GrantCmd(
        Subject("user", "U123"), "cancel", SYNC
    )


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_is_accepted(action: str) -> None:
    command = parse(f"grant <@U123> {action} *")
    assert isinstance(command, GrantCmd)
    assert command.action == action


@pytest.mark.parametrize("action", ["delete", "*", "cancel,admin", "Cancel!"])
def test_unknown_actions_are_refused(action: str) -> None:
    command = parse(f"grant <@U123> {action} *")
    assert isinstance(command, Invalid)
    assert command.usage == USAGE["grant"]
    assert "action" in command.problem


# ---- sync references: UUIDs and Polytomic URLs -------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        f"{BASE}/syncs/{SYNC}",
        f"{BASE}/syncs/{SYNC}/",
        f"{BASE}/syncs/{SYNC.upper()}",
        f"{BASE}/syncs/{SYNC}?tab=executions",
        f"http://polytomic.internal:8080/app/syncs/{SYNC}",
        f"<{BASE}/syncs/{SYNC}>",
        f"<{BASE}/syncs/{SYNC}|{BASE}/syncs/{SYNC}>",
        f"<{BASE}/syncs/{SYNC}|my-sync>",
    ],
)
def test_polytomic_urls_bare_and_as_slack_links(token: str) -> None:
    assert parse_sync_ref(token) == SyncRef(id=SYNC)
    assert parse(f"cancel {token}") == Cancel(SyncRef(id=SYNC))


@pytest.mark.parametrize(
    "token",
    [
        f"{BASE}/models/{MODEL}/syncs/{SYNC}",
        f"{BASE}/connections/{MODEL}/sync/{SYNC}/executions",
        f"<{BASE}/models/{MODEL}/syncs/{SYNC}|link>",
        f"{BASE}/syncs/{SYNC}?from={MODEL}",
    ],
)
def test_a_url_with_two_uuids_takes_the_one_after_a_sync_segment(token: str) -> None:
    assert parse_sync_ref(token) == SyncRef(id=SYNC)


@pytest.mark.parametrize(
    "token",
    [
        f"{BASE}/models/{MODEL}/other/{SYNC}",
        f"{BASE}/x/{MODEL}?y={SYNC}",
        f"<{BASE}/models/{MODEL}/fields/{OTHER}|link>",
    ],
)
def test_ambiguous_urls_are_rejected(token: str) -> None:
    assert parse_sync_ref(token) is None
    command = parse(f"cancel {token}")
    assert isinstance(command, Invalid)
    assert command.usage == USAGE["cancel"]


def test_the_same_uuid_twice_in_a_url_is_not_ambiguous() -> None:
    assert parse_sync_ref(f"{BASE}/x/{SYNC}?again={SYNC.upper()}") == SyncRef(id=SYNC)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-uuid",
        SYNC[:-1],
        SYNC + "0",
        SYNC.replace("-", ""),
        f"{BASE}/syncs/",
        f"ftp://app.polytomic.com/syncs/{SYNC}",
        f"<{BASE}/syncs/nothing-here|x>",
        "<https://evil.example|click>",
        "<!channel>",
        f"<@U123|{SYNC}>",
    ],
)
def test_tokens_that_are_not_sync_references(token: str) -> None:
    assert parse_sync_ref(token) is None


def test_a_slack_link_whose_label_has_spaces_is_one_sync() -> None:
    assert parse(f"cancel <{BASE}/syncs/{SYNC}|Nightly orders sync>") == Cancel(SyncRef(id=SYNC))


def test_a_fragment_does_not_hide_the_sync_segment() -> None:
    assert parse_sync_ref(f"{BASE}/models/{MODEL}/syncs/{SYNC}#runs") == SyncRef(id=SYNC)


# ---- subjects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "subject"),
    [
        ("<@U123>", Subject("user", "U123")),
        ("<@U123|alice>", Subject("user", "U123")),
        ("<@W0ENTERPRISE|bob>", Subject("user", "W0ENTERPRISE")),
        ("<!subteam^S123>", Subject("usergroup", "S123")),
        ("<!subteam^S123|@data-eng>", Subject("usergroup", "S123")),
        ("U123", Subject("user", "U123")),
        ("W123", Subject("user", "W123")),
        ("S123", Subject("usergroup", "S123")),
    ],
)
def test_subjects(token: str, subject: Subject) -> None:
    assert parse_subject(token) == subject
    assert parse(f"grant {token} cancel *") == GrantCmd(subject, "cancel", "*")


def test_subject_mentions_render_back_as_mentions() -> None:
    assert Subject("user", "U123").mention == "<@U123>"
    assert Subject("usergroup", "S123").mention == "<!subteam^S123>"


@pytest.mark.parametrize(
    "token",
    [
        "<@u123>",
        "<@U1>",
        "@alice",
        "alice",
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<#C123|general>",
        "<!subteam^U123>",
        "<@S123>",
        "C123",
        "<https://evil.example|<@U123>>",
        "<@U123",
        "U123>",
    ],
)
def test_bad_subjects(token: str) -> None:
    assert parse_subject(token) is None
    command = parse(f"grant {token} cancel *")
    assert isinstance(command, Invalid)
    assert command.usage == USAGE["grant"]


# ---- scopes ------------------------------------------------------------------------------


def test_scopes() -> None:
    assert parse_scope("*") == "*"
    assert parse_scope(SYNC.upper()) == SYNC
    assert parse_scope(f"{BASE}/syncs/{SYNC}") == SYNC
    for bad in ("**", "all", "", "sync-1", "<!channel>"):
        assert parse_scope(bad) is None


def test_bad_scope_in_a_grant() -> None:
    command = parse("revoke <@U123> cancel everything")
    assert isinstance(command, Invalid)
    assert command.usage == USAGE["revoke"]
    assert "scope" in command.problem


# ---- wrong argument counts and unknown verbs ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("cancel", USAGE["cancel"]),
        (f"cancel {SYNC} now", USAGE["cancel"]),
        ("status", USAGE["status"]),
        (f"status {SYNC} extra", USAGE["status"]),
        ("grant", USAGE["grant"]),
        ("grant <@U123>", USAGE["grant"]),
        ("grant <@U123> cancel", USAGE["grant"]),
        ("grant <@U123> cancel * extra", USAGE["grant"]),
        ("revoke <@U123> cancel", USAGE["revoke"]),
        ("revoke <@U123> cancel * *", USAGE["revoke"]),
        ("grants everything", USAGE["grants"]),
        ("grants <@U123>", USAGE["grants"]),
    ],
)
def test_missing_and_extra_arguments(text: str, usage: str) -> None:
    command = parse(text)
    assert isinstance(command, Invalid)
    assert command.usage == usage
    assert command.problem


@pytest.mark.parametrize("text", ["stop " + SYNC, "cancle " + SYNC, "grantz", "?", "-h"])
def test_unknown_verbs(text: str) -> None:
    command = parse(text)
    assert isinstance(command, Invalid)
    assert command.usage == USAGE["help"]
    assert "know" in command.problem


def test_every_usage_line_names_its_verb() -> None:
    for verb, line in USAGE.items():
        assert line.startswith(f"/polytomic {verb}")


# ---- malformed input ---------------------------------------------------------------------

MALFORMED = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "cancel <!channel>",
    "cancel <!here>",
    "status <!subteam^S123|@everyone>",
    "<https://evil.example|click me>",
    "cancel <https://evil.example|click me>",
    f"cancel <https://evil.example/syncs/{SYNC}|<!channel>>",
    "grant <!channel> cancel *",
    "grant <@U123> <!here> *",
    "grant <@U123> cancel <!channel>",
    "grant <@U123|x> cancel <https://evil.example|click me>",
    "x" * 5000,
    "cancel " + "a" * 5000,
    "cancel " + SYNC + " " + "<!channel> " * 600,
    "キャンセル 🚀",
    "取り消し 248df4b7",
    "cancel\x00" + SYNC,
    "cancel " + SYNC + "\x00",
    "\x00",
    "grant\x00<@U123> cancel *",
    "cancel\n" + SYNC + "\n<!channel>",
    "\uff43\uff41\uff4e\uff43\uff45\uff4c " + SYNC,  # full-width "cancel"
    "",
    " \n ",
]

# Anything else after cancel/status/why is an exact sync name to look up, shown escaped if at
# all; Slack's entities are decoded so that the name compares with Polytomic's.
NAMES = {
    "cancel 🚀": "🚀",
    "status &lt;!channel&gt;": "<!channel>",
    "cancel `rm -rf /`": "`rm -rf /`",
    "cancel ' OR 1=1 --": "' OR 1=1 --",
    'cancel "Nightly   Orders"': "Nightly Orders",
    "why “Orders & co”": "Orders & co",
    "cancel a &amp; b": "a & b",
}


@pytest.mark.parametrize(("text", "name"), NAMES.items())
def test_other_words_are_a_sync_name(text: str, name: str) -> None:
    command = parse(text)
    assert isinstance(command, Cancel | Status | Why)
    assert command.sync == SyncRef(name=name)


def _words(text: str) -> list[str]:
    return [w for w in text.replace("\x00", " ").split() if len(w) > 2]


@pytest.mark.parametrize("text", MALFORMED, ids=lambda t: repr(t[:40]))
def test_malformed_input_is_invalid_and_never_echoed(text: str) -> None:
    command: Command = parse(text)
    if not text.strip():
        assert command == Help()
        return
    assert isinstance(command, Invalid), command
    if isinstance(command, Invalid):
        shown = command.problem + "\n" + command.usage
        # Nothing the user typed comes back: not the whole text, not any of its words
        # (our own vocabulary, like the verb, excepted).
        own_words = set(" ".join(USAGE.values()).split()) | set(command.problem.split())
        assert text.strip() not in shown
        for word in _words(text):
            if not any(word in own for own in own_words):
                assert word not in shown, word
        for marker in ("<!", "<@U", "<http", "\x00", "キャンセル", "🚀", "evil"):
            assert marker not in shown


def test_text_longer_than_the_limit_is_refused_before_it_is_read() -> None:
    just_right = "cancel" + " " * (MAX_TEXT - len("cancel") - len(SYNC)) + SYNC
    assert len(just_right) == MAX_TEXT
    assert parse(just_right) == Cancel(SyncRef(id=SYNC))
    command = parse("cancel " + " " * (MAX_TEXT - len("cancel") - len(SYNC)) + SYNC)
    assert isinstance(command, Invalid)
    assert "long" in command.problem
