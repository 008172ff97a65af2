"""Every view in bot/views/: its text carries the facts of its blocks in plain words, and
nothing user- or Polytomic-supplied lands unescaped in it."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from typing import get_type_hints

import pytest

import bot.views
from bot.views import blocks, incident, status
from bot.views.blocks import View, escape
from tests.unit.views.cases import (
    _ALLOWED_TOKEN,
    _BOLD_SPAN,
    _TOKEN,
    EVIL,
    NAMES,
    NOW,
    PLAIN_NAME,
    SYNC_ID,
    _dicts,
    all_strings,
    every_case,
    evil_views,
    make_op,
    strings,
    unescaped,
)


def view_functions() -> set[str]:
    """Every public function of every module in bot/views/ that renders a View (a case is
    keyed by the function's bare name, so two modules may not both have one of a name)."""
    found: list[str] = []
    for module_info in pkgutil.iter_modules(bot.views.__path__):
        module = importlib.import_module(f"{bot.views.__name__}.{module_info.name}")
        found += [
            name
            for name, function in inspect.getmembers(module, inspect.isfunction)
            if function.__module__ == module.__name__
            and not name.startswith("_")
            and get_type_hints(function).get("return") is View
        ]
    assert len(found) == len(set(found)), sorted(found)
    return set(found)


def _norm(text: str) -> str:
    """Text without the characters emphasis and icons add, to compare blocks with text."""
    for icon in blocks.ICONS:
        text = text.replace(icon + " ", "")
    return text.replace("*", "").replace("`", "")


def _mrkdwn_strings(view: View) -> list[str]:
    return [d["text"] for d in _dicts(view.blocks) if d.get("type") == "mrkdwn"]


def test_every_view_function_has_cases() -> None:
    """A new view without a case here fails: add it to the cases below."""
    assert set(every_case(None)) == view_functions()


@pytest.mark.parametrize("name", NAMES, ids=["named", "unnamed", "hostile", "markup"])
def test_every_views_text_carries_the_facts_of_its_blocks(name: str | None) -> None:
    problems: list[str] = []
    for function, cases in every_case(name).items():
        for number, (view, facts) in enumerate(cases):
            key = f"{function}[{number}]"
            if not view.text.strip() or not view.blocks:
                problems.append(f"{key}: empty")
            problems += [f"{key}: text lacks {fact!r}" for fact in facts if fact not in view.text]
            block_text = "\n".join(_mrkdwn_strings(view))
            # Every mention and date in the blocks is in the text too...
            problems += [f"{key}: text lacks {t!r}" for t in _TOKEN.findall(block_text) if t not in view.text]
            # ...and so is every line the blocks show, emphasis aside.
            text = _norm(view.text)
            problems += [
                f"{key}: text lacks the line {line!r}"
                for line in _norm(block_text).split("\n")
                if line not in text
            ]
            # The text is mrkdwn to Slack: escaped, with no markup but mentions and dates.
            if found := unescaped(view.text):
                problems.append(f"{key}: unescaped {found} in {view.text!r}")
            stray = _TOKEN.sub("", _ALLOWED_TOKEN.sub("", view.text))
            if "<" in stray or ">" in stray:
                problems.append(f"{key}: markup in {view.text!r}")
    assert problems == []


def test_the_text_is_plain_words() -> None:
    """No emphasis, code or emoji from the views in the text (a name without markup)."""
    problems = []
    for function, cases in every_case(PLAIN_NAME).items():
        for number, (view, _facts) in enumerate(cases):
            text = view.text.replace(escape(EVIL), "")  # a few cases quote the hostile payload
            if "`" in text or _BOLD_SPAN.search(text) or any(icon in text for icon in blocks.ICONS):
                problems.append(f"{function}[{number}]: {text!r}")
            if any(char in view.text + json.dumps(view.blocks) for char in "\x02\x03\x04"):
                problems.append(f"{function}[{number}]: a marker leaked")
    assert problems == []
    # The blocks still show emphasis: the name in bold, IDs as code, the state in bold.
    canceled = status.status_message(make_op(state="canceled", sync_name=PLAIN_NAME), NOW)
    assert f"*{PLAIN_NAME}*" in canceled.blocks[0]["text"]["text"]
    assert "*canceled*" in canceled.blocks[0]["text"]["text"]
    assert f"`{SYNC_ID}`" in canceled.blocks[1]["elements"][0]["text"]
    assert ":rotating_light: " in incident.incident_notice(make_op()).blocks[0]["text"]["text"]


def test_supplied_text_is_escaped_in_every_mrkdwn_string_and_fallback() -> None:
    problems = {}
    for key, view in evil_views().items():
        for text in all_strings(view, skip_plain_text=True):
            if found := unescaped(text):
                problems[key] = (found, text)
    assert problems == {}


def test_the_payload_reaches_the_views_escaped() -> None:
    # The test above would pass on views that drop the name; make sure they show it, escaped.
    views = evil_views()
    for key in ("nothing_running", "cancel_prompt", "status_message:canceled", "incident_notice:canceling"):
        joined = "\n".join(all_strings(views[key]))
        assert "&lt;!channel&gt;" in joined, key
        assert "&amp;" in joined, key
    failed = "\n".join(all_strings(views["status_message:failed"]))
    assert failed.count("&lt;!channel&gt;") >= 2  # the name and Polytomic's error


def test_raw_text_only_in_plain_text_objects() -> None:
    """plain_text is never parsed for mentions or links, so the confirm dialog may quote the
    name as is; anything else with the raw payload would be a leak."""
    for key, view in evil_views().items():
        for block_text in strings(view.blocks):
            if unescaped(block_text):
                plain_texts = [obj["text"] for obj in _dicts(view.blocks) if obj.get("type") == "plain_text"]
                assert block_text in plain_texts, key


def test_a_long_name_is_clipped() -> None:
    view = status.status_message(make_op(sync_name="n" * 5000), NOW)
    assert len(view.text) < 400
    assert len(view.blocks[0]["text"]["text"]) < 3000  # Slack's section text limit


def test_supplied_text_cannot_forge_emphasis() -> None:
    view = status.status_message(make_op(sync_name="a\x02b\x03c\x04d\x00e"), NOW)
    assert "abcde" in view.text and "*abcde*" in view.blocks[0]["text"]["text"]
