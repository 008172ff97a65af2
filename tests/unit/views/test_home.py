"""The Home tab's view, pure: within Slack's 100 blocks whatever it lists, Cancel… only where the
viewer may cancel, links only of Slack's form, and the confirm modal within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

from bot.fakes.slack.blocks import validate_blocks
from bot.operations import State
from bot.permissions import Rule
from bot.polytomic import Sync
from bot.views import buttons
from bot.views.home import MAX_BLOCKS, HomeData, RunningSync, home, home_tab, message_url
from bot.views.home_modal import cancel_modal, modal_held
from tests.unit.views.cases import EVIL, EXEC_ID, NOW, REQUESTER, SYNC_ID, make_execution, make_op

WORKSPACE = "https://fake-team.slack.com/"


def _uuid(n: int) -> str:
    return f"{n:08x}-aa70-47b8-a036-33ac447e668d"


def _buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    found = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    return found + [el for b in view["blocks"] if b["type"] == "actions" for el in b["elements"]]


def test_a_crowded_home_stays_within_100_blocks_and_says_what_it_left_out() -> None:
    running = [
        RunningSync(Sync(id=_uuid(n), name=f"Sync {n}"), make_execution(id=f"run-{n}"), may_cancel=n % 3 != 0)
        for n in range(300)
    ]
    grants = [Rule(n, "user", REQUESTER, "cancel", _uuid(n)) for n in range(120)]
    ops = [make_op(id=n, state=State.CANCELED.value, status_ts=f"1700000000.{n:06d}") for n in range(10)]
    data = HomeData(
        user_id=REQUESTER,
        grants=grants,
        running=running,
        operations=ops,
        workspace_url=WORKSPACE,
        extra=tuple(f"extra section {n}" for n in range(80)),
    )
    view = home_tab(home(data, NOW))
    assert view["type"] == "home"
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert validate_blocks(view["blocks"], max_blocks=MAX_BLOCKS) == []
    text = json.dumps(view, ensure_ascii=False)
    assert "…and 170 more you may cancel, not shown." in text  # 200 may, 30 shown
    assert "100 running syncs you may not cancel." in text
    assert "…and 80 more. " in text  # grants: 40 of 120 listed
    assert view["blocks"][-1]["type"] == "context" and "more not shown" in text  # the last resort


def test_no_cancel_button_where_the_viewer_may_not_cancel() -> None:
    running = [
        RunningSync(Sync(id=SYNC_ID, name="Theirs"), make_execution(), may_cancel=False),
        RunningSync(Sync(id=_uuid(1), name="Mine"), make_execution(id="run-1"), may_cancel=True),
    ]
    data = HomeData(
        user_id=REQUESTER, grants=[Rule(1, "user", REQUESTER, "cancel", _uuid(1))], running=running
    )
    cancels = [b for b in _buttons(home_tab(home(data, NOW))) if b["action_id"] == buttons.HOME_CANCEL_ACTION]
    assert [buttons.parse_home_cancel_value(b["value"]) for b in cancels] == [(_uuid(1), "run-1")]
    # Nobody's permission: the empty state, with no running syncs and no button at all.
    empty = home_tab(home(HomeData(user_id=REQUESTER, running=running), NOW))
    assert not [b for b in _buttons(empty) if b["action_id"] == buttons.HOME_CANCEL_ACTION]
    assert "You hold no permission yet" in json.dumps(empty)
    # A run whose cancel someone asked for already shows who, not a button.
    held = RunningSync(Sync(id=_uuid(1), name="Mine"), make_execution(id="run-1"), True, held_by=make_op())
    data = HomeData(user_id=REQUESTER, is_admin=True, running=[held])
    assert not [
        b for b in _buttons(home_tab(home(data, NOW))) if b["action_id"] == buttons.HOME_CANCEL_ACTION
    ]


def test_links_only_of_slacks_form() -> None:
    assert (
        message_url(WORKSPACE, "D0ALICE", "1700000000.000100")
        == f"{WORKSPACE}archives/D0ALICE/p1700000000000100"
    )
    reply = message_url(WORKSPACE, "CSALES", "1700000000.000200", "1700000000.000100")
    assert reply == f"{WORKSPACE}archives/CSALES/p1700000000000200?thread_ts=1700000000.000100&cid=CSALES"
    assert message_url(WORKSPACE, "CSALES", "1.2", "1.1|<x>") == f"{WORKSPACE}archives/CSALES/p12"
    for workspace, channel, ts in (
        (None, "D0ALICE", "1700000000.000100"),
        (WORKSPACE, "D0ALICE", None),
        ("https://evil.example/|x>", "D0ALICE", "1.2"),
        ("javascript:alert(1)/", "D0ALICE", "1.2"),
        (WORKSPACE, "<!channel>", "1.2"),
        (WORKSPACE, "D0ALICE", "1.2|x"),
    ):
        assert message_url(workspace, channel, ts) is None


def test_the_confirm_modal_fits_slacks_limits_and_carries_what_the_button_said() -> None:
    modal = cancel_modal(SYNC_ID, EXEC_ID, EVIL)
    assert modal["type"] == "modal" and modal["callback_id"] == buttons.HOME_CANCEL_MODAL
    assert len(modal["title"]["text"]) <= 24 and len(modal["submit"]["text"]) <= 24
    assert buttons.parse_home_cancel_value(modal["private_metadata"]) == (SYNC_ID, EXEC_ID)
    assert validate_blocks(modal["blocks"]) == []
    shown = json.dumps(modal["blocks"])
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    held = json.dumps(modal_held(make_op(sync_name=EVIL)))
    assert "<!channel>" not in held and "already asked" in held


def test_a_home_cancel_is_announced_without_naming_the_dm() -> None:
    from bot.views.incident import incident_notice

    notice = incident_notice(make_op(channel_id="D0ALICE", response_url=None))
    assert "from the Home tab" in notice.text and "D0ALICE" not in json.dumps(notice.blocks)
    assert "<#CCHANNEL1>" in incident_notice(make_op(response_url="https://hooks/x")).text
