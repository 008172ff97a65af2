"""The demo's parts against the real fakes: the simulated organization (bot/demo/world.py), the
fakes' bounded histories, what the page shows each user (bot/demo/surface.py, replayed from the
fake Slack's records over HTTP), and the page's refusals (bot/demo/page.py). The whole demo, in
a browser, is tests/e2e/test_demo_browser.py."""

from __future__ import annotations

import io
import json
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from bot.demo import settings as demo
from bot.demo.page import DemoPage
from bot.demo.surface import Surfaces
from bot.demo.world import FAILING_SYNC, PLANS, fail_now, make_fakes, populate_polytomic, populate_slack
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.signing import make_trigger_id
from bot.fakes.slack import FakeSlack
from tests.harness import run_cli, wait_until


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake, _ = make_fakes()
    with fake:
        populate_slack(fake)
        yield fake


@pytest.fixture
def polytomic() -> Iterator[FakePolytomic]:
    _, fake = make_fakes()
    with fake:
        populate_polytomic(fake)
        yield fake


def _client(slack: FakeSlack) -> WebClient:
    return WebClient(base_url=slack.api_url, token=slack.bot_token)


# ---- the simulated organization ---------------------------------------------------------------


def test_a_dozen_syncs_to_a_few_connections_some_running(polytomic: FakePolytomic) -> None:
    syncs = polytomic.syncs
    assert len(syncs) == len(PLANS) == 12
    assert len(polytomic.connections) == 4
    assert {s.target_connection_id for s in syncs} == {c.id for c in polytomic.connections}
    running = [s for s in syncs if s.current_execution is not None]
    assert len(running) >= 4
    assert all(s.last_execution is not None for s in syncs)  # every sync has history
    assert any(not s.active for s in syncs)  # and one is paused
    contacts = next(s for s in syncs if s.name == "Contacts to Salesforce")
    run = contacts.current_execution
    assert run is not None
    first = run.rows
    wait_until(lambda: run.rows > first, timeout=5, what="the rows to grow")


def test_fail_now_fails_the_failing_sync_and_says_so_in_an_event(polytomic: FakePolytomic) -> None:
    assert fail_now(polytomic) == FAILING_SYNC
    sync = next(s for s in polytomic.syncs if s.name == FAILING_SYNC)
    last = sync.last_execution
    assert last is not None and last.status == "failed"
    events = httpx.get(
        f"{polytomic.url}/api/events",
        params={"type": "sync.failed"},
        headers={"Authorization": f"Bearer {polytomic.api_key}"},
    ).json()["data"]
    assert any(e["event"]["sync_id"] == sync.id for e in events)
    assert fail_now(polytomic) == FAILING_SYNC  # again: a run is started to fail when none is going


# ---- bounded histories ------------------------------------------------------------------------


def test_the_fake_slack_keeps_at_most_max_records() -> None:
    with FakeSlack(max_records=20) as slack:
        client = _client(slack)
        for n in range(60):
            client.chat_postMessage(channel="C1", text=f"message {n}")
            client.chat_postEphemeral(channel="C1", user="U1", text=f"ephemeral {n}")
            slack.response_url()
        assert len(slack.requests) <= 22
        assert len(slack.messages) <= 22 and len(slack.ephemerals) <= 22
        assert slack.recorded_total == 120
        for _ in range(60):
            client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
        assert len(slack.home_views("U1")) <= 22
        published = client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
        assert published["view"]["id"] == "V00000061"  # IDs stay unique past the bound
        texts = [m.text for m in slack.messages.values()]
        assert "message 59" in texts and "message 0" not in texts  # the oldest go first


def test_the_fake_slack_keeps_everything_by_default() -> None:
    with FakeSlack() as slack:
        client = _client(slack)
        for n in range(30):
            client.chat_postMessage(channel="C1", text=f"message {n}")
        assert len(slack.messages) == 30


def test_the_fake_polytomic_keeps_at_most_max_executions_a_sync() -> None:
    with FakePolytomic(max_executions=3) as fake:
        sync = fake.add_sync(name="s")
        runs = []
        for _ in range(6):
            run = sync.start_execution()
            runs.append(run)
            run.finish("completed")
        live = sync.start_execution()
        assert len(sync.executions) == 3
        assert sync.executions[-1] is live  # the running one is kept
        assert runs[0] not in sync.executions


# ---- what each user sees ----------------------------------------------------------------------


def test_an_answer_to_a_command_is_only_visible_to_its_user(slack: FakeSlack) -> None:
    surfaces = Surfaces(slack)
    url = surfaces.response_url(demo.ONCALL.id, demo.CHANNEL)
    httpx.post(url, json={"text": "only for Omar", "blocks": [{"type": "divider"}]})
    mine = surfaces.snapshot(demo.ONCALL.id)["channels"][demo.CHANNEL]
    assert [(i["text"], i["ephemeral"]) for i in mine] == [("only for Omar", True)]
    assert demo.CHANNEL not in surfaces.snapshot(demo.ANALYST.id)["channels"]


def test_replace_and_delete_original_edit_the_ephemeral_clicked(slack: FakeSlack) -> None:
    surfaces = Surfaces(slack)
    httpx.post(surfaces.response_url(demo.ONCALL.id, demo.CHANNEL), json={"text": "prompt"})
    (prompt,) = surfaces.snapshot(demo.ONCALL.id)["channels"][demo.CHANNEL]
    click = surfaces.response_url(demo.ONCALL.id, demo.CHANNEL, replaces=prompt["key"])
    httpx.post(click, json={"text": "prompt, answered", "replace_original": True})
    (edited,) = surfaces.snapshot(demo.ONCALL.id)["channels"][demo.CHANNEL]
    assert (edited["key"], edited["text"], edited["edited"]) == (prompt["key"], "prompt, answered", True)
    httpx.post(click, json={"delete_original": True})
    assert surfaces.snapshot(demo.ONCALL.id)["channels"].get(demo.CHANNEL, []) == []


def test_in_channel_answers_and_bot_messages_are_everyones_with_threads_and_edits(slack: FakeSlack) -> None:
    surfaces = Surfaces(slack)
    client = _client(slack)
    parent = client.chat_postMessage(channel=demo.CHANNEL, text="status: canceling")
    client.chat_postMessage(channel=demo.CHANNEL, text="a reply", thread_ts=parent["ts"])
    client.chat_update(channel=demo.CHANNEL, ts=parent["ts"], text="status: canceled")
    httpx.post(
        surfaces.response_url(demo.ADMIN.id, demo.CHANNEL),
        json={"text": "for all", "response_type": "in_channel"},
    )
    for user in demo.USERS:
        items = surfaces.snapshot(user.id)["channels"][demo.CHANNEL]
        assert [(i["text"], i["ephemeral"], i["edited"]) for i in items] == [
            ("status: canceled", False, True),
            ("for all", False, False),
        ]
        assert [r["text"] for r in items[0]["replies"]] == ["a reply"]


def test_home_is_whatever_the_bot_last_published_for_the_user(slack: FakeSlack) -> None:
    surfaces = Surfaces(slack)
    assert surfaces.home(demo.ADMIN.id) is None
    client = _client(slack)
    view = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    client.views_publish(user_id=demo.ADMIN.id, view=view)
    home = surfaces.home(demo.ADMIN.id)
    assert home is not None and home["blocks"] == view["blocks"]
    assert surfaces.home(demo.ANALYST.id) is None


# ---- the page refuses bad input and changes nothing -------------------------------------------


def _call(
    page: DemoPage, method: str, path: str, body: Any = None, **headers: str
) -> tuple[str, dict[str, Any]]:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": headers.pop("content_type", "application/json"),
        "CONTENT_LENGTH": str(len(raw)),
        "HTTP_HOST": "127.0.0.1:3000",
        "wsgi.input": io.BytesIO(raw),
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    status: list[str] = []
    out = b"".join(page(environ, lambda s, h: status.append(s)))
    return status[0], json.loads(out) if out.startswith(b"{") else {}


@pytest.mark.parametrize(
    ("path", "body", "headers", "says"),
    [
        ("/demo/command", {"user": "UNOBODY", "channel": demo.CHANNEL, "text": "help"}, {}, "demo users"),
        (
            "/demo/command",
            {"user": demo.ADMIN.id, "channel": "CELSEWHERE", "text": "help"},
            {},
            "demo channels",
        ),
        ("/demo/command", {"user": demo.ADMIN.id, "channel": demo.CHANNEL, "text": "x" * 4001}, {}, "4000"),
        ("/demo/command", {"user": demo.ADMIN.id, "channel": demo.CHANNEL, "text": 7}, {}, "command"),
        ("/demo/command", b"help", {"content_type": "text/plain"}, "JSON"),
        ("/demo/command", b"[1]", {}, "JSON object"),
        (
            "/demo/command",
            {"user": demo.ADMIN.id, "channel": demo.CHANNEL, "text": "help"},
            {"origin": "https://evil.example"},
            "own page",
        ),
        (
            "/demo/click",
            {"user": demo.ADMIN.id, "key": "m|CDEMODATA|1.000001", "channel": demo.CHANNEL},
            {},
            "gone",
        ),
        ("/demo/click", {"user": demo.ADMIN.id, "key": "home|V1"}, {}, "not open"),
        ("/demo/modal", {"user": demo.ADMIN.id, "view_id": "V1", "action": "submit"}, {}, "not open"),
    ],
)
def test_the_page_refuses_bad_input_and_sends_nothing(
    slack: FakeSlack, path: str, body: Any, headers: dict[str, str], says: str
) -> None:
    sent: list[bytes] = []
    page = DemoPage(Surfaces(slack), signing_secret="s" * 32, team_id=slack.team_id, fail_now=lambda: "x")
    page._send = lambda raw, **_: sent.append(raw)  # type: ignore[method-assign, assignment, return-value]
    before = slack.recorded_total
    status, answer = _call(page, "POST", path, body, **headers)
    assert status.startswith("400") and says in answer["error"]
    assert sent == [] and slack.recorded_total == before


def test_the_page_serves_its_files_and_state_and_nothing_else(slack: FakeSlack) -> None:
    page = DemoPage(Surfaces(slack), signing_secret="s" * 32, team_id=slack.team_id, fail_now=lambda: "x")
    assert _call(page, "GET", "/demo/state")[0].startswith("400")  # no user
    assert _call(page, "GET", "/etc/passwd")[0].startswith("404")
    assert _call(page, "GET", "/demo/command")[0].startswith("405")
    status: list[tuple[str, list[tuple[str, str]]]] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO()}
    body = b"".join(page(environ, lambda s, h: status.append((s, h))))
    assert status[0][0] == "200 OK" and b"/demo/app.js" in body
    assert "script-src 'self'" in dict(status[0][1])["Content-Security-Policy"]


# ---- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--database-url", "mysql://u@h/db"], "--database-url is malformed"),
        (["--database-url", "sqlite://"], "--database-url is malformed"),
        (["--port", "70000"], "--port must be 0 to 65535"),
    ],
)
def test_a_bad_flag_is_one_line_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], says: str
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the demo makes its directory
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "mysql://production"}
    done = run_cli(["demo", *args], env, tmp_path)
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # its temporary directory is gone too


def test_a_modal_opened_with_the_users_trigger_then_updated_by_the_ack_then_closed(slack: FakeSlack) -> None:
    surfaces = Surfaces(slack)
    trigger = make_trigger_id()
    surfaces.trigger(demo.ONCALL.id, trigger)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Cancel a sync"}, "blocks": []}
    opened = _client(slack).views_open(trigger_id=trigger, view=modal)
    view_id = opened["view"]["id"]
    assert surfaces.modal(demo.ANALYST.id) is None  # another user's trigger: not theirs
    shown = surfaces.modal(demo.ONCALL.id)
    assert shown is not None and shown["id"] == view_id
    surfaces.update_modal(view_id, {**modal, "title": {"type": "plain_text", "text": "Recorded"}})
    updated = surfaces.modal(demo.ONCALL.id)
    assert updated is not None and updated["title"]["text"] == "Recorded" and updated["id"] == view_id
    surfaces.close_modal(view_id)
    assert surfaces.modal(demo.ONCALL.id) is None


def test_a_port_in_use_is_one_line_that_suggests_port_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(["demo", "--port", str(port)], {"PATH": "/usr/bin:/bin"}, tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("polytomic-bot demo:")]
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "--port 0" in lines[0]
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_dm_is_shown_to_its_user_only_whether_posted_to_the_dm_or_the_user_id(slack: FakeSlack) -> None:
    surfaces = Surfaces(slack)
    client = _client(slack)
    client.chat_postMessage(channel="DDEMOONCALL", text="from the Home tab")
    client.chat_postMessage(channel=demo.ONCALL.id, text="your subscription stopped")
    mine = surfaces.snapshot(demo.ONCALL.id)["channels"]
    assert [i["text"] for i in mine["DDEMOONCALL"]] == ["from the Home tab", "your subscription stopped"]
    assert surfaces.snapshot(demo.ANALYST.id)["channels"] == {}
