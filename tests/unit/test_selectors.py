"""bot.selectors and the stop commands of bot.commands: `cancel|pause|resume <selector>` (pure).

`cancel SYNC SYNC` and `pause SYNC` used to be invalid (tests/unit/test_commands.py held it);
issue 15 makes them a stop of several syncs and a pause of one, on purpose."""

from __future__ import annotations

import pytest

from bot.commands import USAGE, Cancel, Invalid, Stop, SyncRef, parse
from bot.selectors import (
    MAX_NAMED,
    ConnectionRef,
    Everything,
    Named,
    ToConnection,
    Token,
    tokenize,
)

A = "248df4b7-aa70-47b8-a036-33ac447e668d"
B = "99999999-8888-7777-6666-555555555555"
CONN = "c0ffee00-1111-2222-3333-444444444444"
BASE = "https://app.polytomic.com"


def test_several_ids_are_several_syncs() -> None:
    assert parse(f"cancel {A} {B}") == Stop("cancel", Named((SyncRef(id=A), SyncRef(id=B))))


def test_the_same_sync_twice_is_one_cancel() -> None:
    assert parse(f"cancel {A} {A.upper()}") == Cancel(SyncRef(id=A))


def test_urls_and_quoted_names_mix() -> None:
    command = parse(f'cancel {BASE}/models/{B}/syncs/{A} "Nightly orders" “CRM push”')
    assert command == Stop(
        "cancel", Named((SyncRef(id=A), SyncRef(name="Nightly orders"), SyncRef(name="CRM push")))
    )


def test_all_running_differs_from_the_quoted_name() -> None:
    assert parse("cancel all running") == Stop("cancel", Everything(running=True))
    assert parse("CANCEL ALL RUNNING") == Stop("cancel", Everything(running=True))
    assert parse('cancel "all running"') == Cancel(SyncRef(name="all running"))
    assert parse("cancel all") == Cancel(SyncRef(name="all"))  # cancel needs `running`


def test_pause_and_resume_take_all_with_or_without_running() -> None:
    assert parse("pause all") == Stop("pause", Everything(running=False))
    assert parse("pause all running") == Stop("pause", Everything(running=True))
    assert parse("resume all") == Stop("resume", Everything(running=False))


def test_apostrophes_stay_letters() -> None:
    assert parse("cancel Bob's sync") == Cancel(SyncRef(name="Bob's sync"))
    assert parse("cancel 'Bob's sync' \"Ann's\"") == Stop(
        "cancel", Named((SyncRef(name="Bob's sync"), SyncRef(name="Ann's")))
    )
    assert parse("cancel ' OR 1=1 --") == Cancel(SyncRef(name="' OR 1=1 --"))


def test_tokenize_tracks_quotes() -> None:
    assert tokenize('all "all running" it\'s') == [
        Token("all", False),
        Token("all running", True),
        Token("it's", False),
    ]
    assert tokenize('"unclosed x') == [Token('"unclosed', False), Token("x", False)]


@pytest.mark.parametrize(
    ("text", "connection"),
    [
        ("cancel running to Salesforce prod", ConnectionRef(name="Salesforce prod")),
        ('cancel running to "Salesforce prod"', ConnectionRef(name="Salesforce prod")),
        ("cancel to Salesforce prod", ConnectionRef(name="Salesforce prod")),
        (f"cancel running to {CONN.upper()}", ConnectionRef(id=CONN)),
        (f"cancel running to {BASE}/connections/{CONN}", ConnectionRef(id=CONN)),
        (f"cancel running to <{BASE}/connections/{CONN}|SF prod>", ConnectionRef(id=CONN)),
        ("cancel running to a &amp; b", ConnectionRef(name="a & b")),
    ],
)
def test_a_connection_after_to(text: str, connection: ConnectionRef) -> None:
    assert parse(text) == Stop("cancel", ToConnection(connection, running=True))


def test_a_connection_url_with_a_sync_in_it_is_still_a_connection() -> None:
    # A URL after `to` names a connection: it is never read as the sync its path might hold.
    assert parse(f"cancel running to {BASE}/connections/{A}") == Stop(
        "cancel", ToConnection(ConnectionRef(id=A), running=True)
    )


def test_pause_to_covers_every_sync_and_running_narrows_it() -> None:
    assert parse("pause to SF") == Stop("pause", ToConnection(ConnectionRef(name="SF"), running=False))
    assert parse("pause running to SF") == Stop("pause", ToConnection(ConnectionRef(name="SF"), running=True))
    assert parse("resume to SF") == Stop("resume", ToConnection(ConnectionRef(name="SF"), running=False))


def test_pause_of_one_sync_is_a_stop() -> None:
    assert parse(f"pause {A}") == Stop("pause", Named((SyncRef(id=A),)))
    assert parse("resume Nightly orders") == Stop("resume", Named((SyncRef(name="Nightly orders"),)))


@pytest.mark.parametrize(
    "text",
    [
        "pause",
        "resume",
        f"cancel {A} now",  # an ID with an unquoted word: quote names when naming several
        "cancel running to",
        "cancel running to <!channel>",
        "cancel running to <@U123|bob>",
        f"cancel running to {BASE}/connections/{A}/{B}",  # two IDs: which one?
        'cancel running to "SF" "HubSpot"',
        f"cancel {A} <!here>",
        'cancel "" "x"',
        f"pause {A} " + '"' + "x" * 300 + '"',
    ],
)
def test_unreadable_selectors_are_invalid_and_quote_nothing(text: str) -> None:
    command = parse(text)
    assert isinstance(command, Invalid), command
    verb = text.split()[0]
    assert command.usage == USAGE[verb]
    for marker in ("<!", "<@", A, B, "SF", "xxxx"):
        assert marker not in command.problem


def test_at_most_max_named_syncs() -> None:
    names = " ".join(f'"s{i}"' for i in range(MAX_NAMED + 1))
    command = parse(f"cancel {names}")
    assert isinstance(command, Invalid)
    assert str(MAX_NAMED) in command.problem
    names = " ".join(f'"s{i}"' for i in range(MAX_NAMED))
    assert isinstance(parse(f"cancel {names}"), Stop)
