"""bot.views.buttons: each button value decodes to what was encoded, anything else to None, and
the buttons the views render carry values their listeners read back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.listeners.actions import HANDLERS
from bot.listeners.alert_actions import HANDLERS as ALERT_HANDLERS
from bot.listeners.home import ACTIONS as HOME_ACTIONS
from bot.polytomic import Sync
from bot.views import buttons, prompts, status, syncs
from tests.unit.views.cases import (
    EXEC_ID,
    NEXT_EXEC,
    NOW,
    SYNC_ID,
    _buttons,
    make_execution,
    make_op,
    make_sync,
)

OTHER_SYNC = "00000000-0000-4000-8000-000000000000"
DEEP = "[" * 1999  # valid-looking JSON start, nested deeper than json.loads recurses
# The values the e2e barrage clicks with (tests/e2e/test_malformed_input.py), and more.
JUNK = [
    "",
    "cancel it {",
    "null",
    "4.2",
    '"x"',
    "[]",
    "{}",
    DEEP,
    "<!channel>" * 300,
    "x" * 2001,
]


# ---- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("execution_id", [EXEC_ID, "a", "A-b_9", "e" * 64, "1234567890"])
@pytest.mark.parametrize("sync_id", [SYNC_ID, OTHER_SYNC])
def test_confirm_value_round_trip(sync_id: str, execution_id: str) -> None:
    value = buttons.confirm_value(sync_id, execution_id)
    assert len(value) <= buttons.MAX_VALUE
    assert buttons.parse_confirm_value(value) == (sync_id, execution_id)


@pytest.mark.parametrize("verb", buttons.PICK_VERBS)
def test_pick_value_round_trip(verb: str) -> None:
    assert buttons.parse_pick_value(buttons.pick_value(verb, SYNC_ID)) == (verb, SYNC_ID)


def test_list_cancel_value_round_trip() -> None:
    assert buttons.parse_list_cancel_value(buttons.list_cancel_value(SYNC_ID)) == SYNC_ID


@pytest.mark.parametrize(("op_id", "attempt"), [(1, 1), (42, 2), (0, 0), (10**12 - 1, 999_999)])
def test_retry_value_round_trip(op_id: int, attempt: int) -> None:
    assert buttons.parse_retry_value(buttons.retry_value(op_id, attempt)) == (op_id, attempt)


@pytest.mark.parametrize("op_id", [1, 42, 10**12 - 1])
def test_resume_value_round_trip(op_id: int) -> None:
    assert buttons.parse_resume_value(buttons.resume_value(op_id)) == op_id


# ---- anything that is not one of ours ------------------------------------------------------------


def _confirm(data: Any) -> str:
    return json.dumps(data)


@pytest.mark.parametrize(
    "value",
    [
        *JUNK,
        _confirm([SYNC_ID, EXEC_ID]),
        _confirm({"s": None, "e": None}),
        _confirm({"s": {"$ne": 1}, "e": EXEC_ID}),
        _confirm({"s": SYNC_ID}),
        _confirm({"s": SYNC_ID, "e": EXEC_ID, "x": 1}),  # more keys than ours
        _confirm({"s": "not-a-uuid", "e": EXEC_ID}),
        _confirm({"s": SYNC_ID.upper(), "e": EXEC_ID}),
        _confirm({"s": f"../../api/syncs/{SYNC_ID}", "e": EXEC_ID}),
        _confirm({"s": f"{SYNC_ID}/executions", "e": EXEC_ID}),
        _confirm({"s": SYNC_ID, "e": f"../{EXEC_ID}"}),
        _confirm({"s": SYNC_ID, "e": f"{EXEC_ID}%2F..%2Fcancel"}),
        _confirm({"s": SYNC_ID, "e": ""}),
        _confirm({"s": SYNC_ID, "e": "e" * 65}),
        _confirm({"s": SYNC_ID, "e": 7}),
        # Valid IDs, padded past what a Slack button holds: not a value the bot made.
        _confirm({"s": SYNC_ID, "e": EXEC_ID, "pad": "x" * 2000}),
    ],
)
def test_a_confirm_value_that_is_not_ours_decodes_to_none(value: str) -> None:
    assert buttons.parse_confirm_value(value) is None


@pytest.mark.parametrize(
    "value",
    [
        *JUNK,
        SYNC_ID,  # a list's value is not a pick's
        json.dumps({"v": "cancel"}),
        json.dumps({"v": "cancel", "s": 7}),
        json.dumps({"v": "grant", "s": SYNC_ID}),  # not a command a pick goes on with
        json.dumps({"v": None, "s": SYNC_ID}),
        json.dumps({"s": SYNC_ID}),
        json.dumps({"v": "cancel", "s": "not-a-uuid"}),
        json.dumps({"v": "cancel", "s": f"{SYNC_ID}/x"}),
        json.dumps(["cancel", SYNC_ID]),
    ],
)
def test_a_pick_value_that_is_not_ours_decodes_to_none(value: str) -> None:
    assert buttons.parse_pick_value(value) is None


@pytest.mark.parametrize(
    "value",
    [
        *JUNK,
        "not-a-uuid",
        SYNC_ID.upper(),
        f"{SYNC_ID}/x",
        f" {SYNC_ID}",
        buttons.pick_value("cancel", SYNC_ID),
    ],
)
def test_a_list_cancel_value_that_is_not_ours_decodes_to_none(value: str) -> None:
    assert buttons.parse_list_cancel_value(value) is None


@pytest.mark.parametrize(
    "value",
    [*JUNK, "42", "42:", ":2", "a:b", "-1:2", "1:-2", "1:2:3", " 1:2", "1" * 13 + ":1", "1:" + "2" * 7],
)
def test_a_retry_value_that_is_not_ours_decodes_to_none(value: str) -> None:
    assert buttons.parse_retry_value(value) is None


@pytest.mark.parametrize("value", [*JUNK, "-1", "1.5", " 42", "4 2", "1" * 13, "²", "42:1"])
def test_a_resume_value_that_is_not_ours_decodes_to_none(value: str) -> None:
    # "²" passes str.isdigit() but int() refuses it: None, never a ValueError in the listener.
    assert buttons.parse_resume_value(value) is None


# ---- the two halves meet: views encode, listeners decode ----------------------------------------


def test_the_action_ids_are_distinct_and_each_has_a_listener() -> None:
    ids = [value for name, value in vars(buttons).items() if name.endswith("_ACTION")]
    # 7 for alerts (issue 14), 5 for stops (issue 15), 3 for the Home tab (issue 16)
    assert len(ids) == len(set(ids)) == 22
    assert all(0 < len(action_id) <= 255 for action_id in ids)
    assert set(HANDLERS) | set(ALERT_HANDLERS) | set(HOME_ACTIONS) == set(ids)


def test_the_buttons_views_render_decode_to_what_they_show() -> None:
    sync = make_sync("Orders")
    prompt = _buttons(prompts.cancel_prompt(sync, make_execution(), EXEC_ID, may_pause=True))
    assert [b["action_id"] for b in prompt] == [
        buttons.CONFIRM_ACTION,
        buttons.PAUSE_CONFIRM_ACTION,
        buttons.DISMISS_ACTION,
    ]
    assert {buttons.parse_confirm_value(b["value"]) for b in prompt} == {(SYNC_ID, EXEC_ID)}

    picks = _buttons(prompts.pick_sync([sync, Sync(id=NEXT_EXEC, name="Orders")], "why", "Orders"))
    assert [buttons.parse_pick_value(b["value"]) for b in picks] == [("why", SYNC_ID), ("why", NEXT_EXEC)]
    assert {b["action_id"] for b in picks} == {buttons.PICK_ACTION}

    listed = _buttons(
        syncs.sync_list(
            [syncs.SyncLine(sync, make_execution(), may_cancel=True)], running_only=True, hidden=0, now=NOW
        )
    )
    assert [(b["action_id"], buttons.parse_list_cancel_value(b["value"])) for b in listed] == [
        (buttons.LIST_CANCEL_ACTION, SYNC_ID)
    ]

    escalated = make_op(escalated_at=NOW, cancel_attempt=3)
    [retry] = _buttons(status.status_message(escalated, NOW))
    assert (retry["action_id"], buttons.parse_retry_value(retry["value"])) == (buttons.RETRY_ACTION, (42, 3))

    paused = make_op(kind="cancel_and_pause", state="canceled", paused_at=NOW)
    [resume] = _buttons(status.status_message(paused, NOW))
    assert (resume["action_id"], buttons.parse_resume_value(resume["value"])) == (buttons.RESUME_ACTION, 42)
