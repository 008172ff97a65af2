"""bot/views/stops.py beyond the every-view rules: Slack's size limits hold for the longest lists."""

from __future__ import annotations

from bot.views import stops
from tests.unit.views.stop_cases import MANY, named


def test_a_long_failures_reply_fits_slack_sections() -> None:
    view = stops.failures_reply(MANY)
    assert all(len(block["text"]["text"]) <= 3000 for block in view.blocks)
    assert len(view.blocks) <= 50


def test_a_prompt_of_2000_syncs_lists_20_and_counts_the_rest() -> None:
    view = stops.stop_prompt("cancel", "SF", named(2000), named(300, "Left"), "p" * 22, may_pause=True)
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in view.blocks)
    assert "…and 1,980 more" in view.text and "…and 280 more" in view.text
    assert "Cancel 2,000 syncs" in str(view.blocks)
