"""bot.views.blocks: escaping, the text's length cut, the small formatters, and that it is a leaf."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from bot.views import blocks
from bot.views.blocks import escape

# ---- escape --------------------------------------------------------------------------------


def test_escape() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert escape("<!channel>") == "&lt;!channel&gt;"
    assert escape("&lt;") == "&amp;lt;"  # & first: never a half-escaped entity
    assert escape("plain *bold* _it_ :emoji: ✓") == "plain *bold* _it_ :emoji: ✓"
    assert escape("") == ""


def test_a_huge_text_is_cut_at_a_line() -> None:
    view = blocks.plain("\n".join(f"<@U{i:05d}> " + "z" * 2900 for i in range(49)))
    assert len(view.text) <= blocks.TEXT_LIMIT + 2
    assert view.text.endswith("\n…")
    assert all(line.startswith("<@U") and line.endswith("z") for line in view.text.split("\n")[:-1])
    assert len(view.blocks) <= 50


def test_duration_and_rows_wording() -> None:
    assert blocks.duration(None) == "an unknown time"
    assert blocks.duration(1) == "1 second"
    assert blocks.duration(45) == "45 seconds"
    assert blocks.duration(150) == "2 min 30 s"
    assert blocks.duration(7200) == "2 h 0 min"
    assert blocks.rows(None) == "an unknown number of rows"
    assert blocks.rows(1) == "1 row"
    assert blocks.rows(1234567) == "1,234,567 rows"


def test_user_mentions_only_ids() -> None:
    assert blocks.user("U123ABC") == "<@U123ABC>"
    assert blocks.user("<!channel>") == "&lt;!channel&gt;"


# ---- a leaf ------------------------------------------------------------------------------------


def _bot_modules_loaded_by(module: str) -> set[str]:
    """The bot modules a fresh interpreter holds after importing `module`."""
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.split('.')[0] == 'bot'))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


def test_blocks_is_a_leaf_and_the_slack_gateway_needs_no_database() -> None:
    assert _bot_modules_loaded_by("bot.views.blocks") == {"bot", "bot.views", "bot.views.blocks"}
    loaded = _bot_modules_loaded_by("bot.slack")
    assert {"bot.views.blocks"} <= loaded
    assert not {m for m in loaded if m.startswith(("bot.db", "bot.polytomic", "bot.permissions"))}, loaded


# ---- the digest ------------------------------------------------------------------------------


def test_a_views_digest_is_of_what_it_shows_and_worked_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    one = blocks.Builder().section("a *sync* canceled").context("ids").view()
    same = blocks.Builder().section("a *sync* canceled").context("ids").view()
    other = blocks.Builder().section("a *sync* canceling").context("ids").view()
    payload = json.dumps({"t": one.text, "b": one.blocks}, sort_keys=True)
    assert one.digest() == hashlib.sha256(payload.encode()).hexdigest()
    assert one.digest() == same.digest() != other.digest()
    assert one == same and one != other  # the kept digest is not part of what a view is
    dumps: list[object] = []
    monkeypatch.setattr(blocks.json, "dumps", lambda *a, **k: dumps.append(a) or "{}")
    for _ in range(3):
        assert one.digest() == same.digest()  # kept: not worked out again
    assert dumps == []
