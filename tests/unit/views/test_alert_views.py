"""The alerts' views: supplied text escaped everywhere, Polytomic's error cut to fit Block Kit,
the buttons a streak offers in each of its states, and the digest's "N syncs to X"."""

from __future__ import annotations

from datetime import timedelta

from bot.views import alerts
from bot.views.blocks import SECTION_LIMIT
from tests.unit.views.alert_cases import URL, evil_alert_views, make_alert
from tests.unit.views.cases import NOW, SYNC_ID, all_strings, make_op, unescaped


def _actions(view: alerts.View) -> list[str]:
    return [e["action_id"] for b in view.blocks if b["type"] == "actions" for e in b["elements"]]


def test_supplied_text_is_escaped_in_every_string() -> None:
    for key, view in evil_alert_views().items():
        for text in all_strings(view, skip_plain_text=True):
            assert unescaped(text) == [], (key, text)
        assert "&lt;!channel&gt;" in view.text, key


def test_a_huge_error_is_cut_to_fit_block_kit() -> None:
    view = alerts.alert_message(make_alert(last_error="x" * 50_000), NOW, sync_url=URL)
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in view.blocks if b["type"] == "section")
    assert "x" * 400 in view.text and "x" * 600 not in view.text


def test_the_buttons_follow_the_streak() -> None:
    open_ = alerts.alert_message(make_alert(), NOW, sync_url=URL)
    assert _actions(open_) == ["alert_restart", "alert_pause", "alert_mute_hour", "alert_mute_day"]
    assert {b["value"] for b in open_.blocks[-1]["elements"]} >= {"7:3", "7"}  # restart bound to failure 3
    paused = alerts.alert_message(make_alert(paused_at=NOW, paused_by="UCAROL"), NOW, sync_url=URL)
    assert "alert_resume" in _actions(paused) and "alert_pause" not in _actions(paused)
    running = make_op(kind="start", state="running", alert_id=7)
    assert "alert_cancel" in _actions(alerts.alert_message(make_alert(), NOW, sync_url=URL, restart=running))
    recovered = alerts.alert_message(make_alert(state="recovered", recovered_at=NOW), NOW, sync_url=URL)
    assert _actions(recovered) == []
    assert _actions(
        alerts.alert_message(make_alert(state="recovered", paused_at=NOW), NOW, sync_url=None)
    ) == ["alert_resume"]


def test_the_link_is_there_only_where_the_pattern_is_known() -> None:
    assert (
        f"In Polytomic: https://app.polytomic.com/models/syncs/{SYNC_ID}"
        in alerts.alert_message(make_alert(), NOW, sync_url=URL).text
    )
    assert "In Polytomic" not in alerts.alert_message(make_alert(), NOW, sync_url=None).text
    assert alerts.sync_link(URL, "../../evil") is None


def test_a_mute_shows_until_it_ends() -> None:
    later = NOW + timedelta(hours=1)
    assert (
        "Muted here until" in alerts.alert_message(make_alert(), NOW, sync_url=None, muted_until=later).text
    )
    assert "Muted" not in alerts.alert_message(make_alert(), later, sync_url=None, muted_until=later).text
