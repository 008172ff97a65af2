"""The grammar of subscribe, unsubscribe, subscriptions and start (bot.commands), and what
counts for alerts (bot.alerts.rules): pure."""

from __future__ import annotations

import pytest

from bot.alerts import rules
from bot.commands import (
    ACTIONS,
    USAGE,
    AllSyncs,
    ConnectionRef,
    Invalid,
    ListSubscriptions,
    Start,
    Subscribe,
    SyncRef,
    Unsubscribe,
    parse,
    read_to_connection,
    split_mode,
)

SYNC = "248df4b7-aa70-47b8-a036-33ac447e668d"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subscribe *", Subscribe(AllSyncs(), "failures")),
        ("subscribe * ALL", Subscribe(AllSyncs(), "all")),
        (f"subscribe {SYNC} finished", Subscribe(SyncRef(id=SYNC), "finished")),
        ("subscribe Nightly orders", Subscribe(SyncRef(name="Nightly orders"), "failures")),
        ("subscribe Nightly orders all", Subscribe(SyncRef(name="Nightly orders"), "all")),
        ('subscribe "Orders all"', Subscribe(SyncRef(name="Orders all"), "failures")),
        ('subscribe "Orders all" finished', Subscribe(SyncRef(name="Orders all"), "finished")),
        ("subscribe to Salesforce", Subscribe(ConnectionRef("Salesforce"), "failures")),
        ("subscribe TO  Sales  force finished", Subscribe(ConnectionRef("Sales force"), "finished")),
        ('subscribe to "Salesforce all"', Subscribe(ConnectionRef("Salesforce all"), "failures")),
        ('subscribe "to the moon"', Subscribe(SyncRef(name="to the moon"), "failures")),
        ("subscribe toast", Subscribe(SyncRef(name="toast"), "failures")),
        ("unsubscribe to Salesforce", Unsubscribe(ConnectionRef("Salesforce"), None)),
        ("unsubscribe * all", Unsubscribe(AllSyncs(), "all")),
        ("subscriptions", ListSubscriptions()),
        (f"start {SYNC}", Start(SyncRef(id=SYNC))),
        ('start "Nightly orders"', Start(SyncRef(name="Nightly orders"))),
    ],
)
def test_the_grammar(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("subscribe", "needs a sync"),
        ("subscribe failures", "needs a sync"),
        ("subscribe to", "Name the connection"),
        ("subscribe to all", "Name the connection"),
        ("subscribe <!channel>", "Name a sync"),
        ("subscribe to <@U123>", "Name the connection"),
        (f"subscribe {SYNC} https://evil.example", "Name a sync"),
        ("subscriptions now", "takes no arguments"),
        ("start", "needs a sync"),
        ("start <#C123>", "Name a sync"),
    ],
)
def test_bad_input_gets_a_clear_answer(text: str, problem: str) -> None:
    command = parse(text)
    assert isinstance(command, Invalid) and problem in command.problem
    verb = text.split()[0]
    assert command.usage == USAGE[verb]


def test_the_pieces_others_share() -> None:
    assert split_mode("Orders finished") == ("Orders", "finished")
    assert split_mode('"Orders finished"') == ('"Orders finished"', None)
    assert read_to_connection("to Salesforce") == "Salesforce"
    assert read_to_connection("toast") is None
    assert {"start", "subscribe"} <= set(ACTIONS)
    assert "subscribe" in USAGE["grant"] and "start" in USAGE["revoke"]


def test_what_counts() -> None:
    assert {"sync.failed", "sync.completed_with_errors"} == rules.FAILED
    assert rules.widest(["failures", "all", "finished"]) == "all"
    assert rules.widest(["failures"]) == "failures"
    assert rules.notice_due("finished", "sync.completed") and rules.notice_due("all", "sync.completed")
    assert not rules.notice_due("failures", "sync.completed")
    assert rules.notice_due("all", "sync.canceled") and not rules.notice_due("finished", "sync.canceled")
    assert not rules.notice_due("all", "sync.failed")  # a failure is a streak, never a notice
    assert not rules.flood(4) and rules.flood(5)
