"""Block Kit validation: the subset of Slack's limits the bot can plausibly hit (button text 75,
value 2000, confirm title 100 / text 300 / confirm+deny 30, section text 3000, header 150, 50
blocks, duplicate block and action IDs...), answered as Slack words them.

Pure and on its own, so that tests can validate a view without a server
(tests/integration/test_fake_slack.py calls `validate_blocks` directly), and so that the
fake's chat.* methods and its response_url sink apply the same rules.
"""

from __future__ import annotations

from typing import Any


def _check_text_object(
    obj: Any, path: str, max_len: int, errors: list[str], *, plain_only: bool = False
) -> None:
    if obj is None:
        errors.append(f"missing required field: text [json-pointer:{path}]")
        return
    if not isinstance(obj, dict):
        errors.append(f"must be an object [json-pointer:{path}]")
        return
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in allowed:
        errors.append(f"must be one of {list(allowed)} [json-pointer:{path}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(f"must be more than 0 characters [json-pointer:{path}/text]")
    elif len(text) > max_len:
        errors.append(f"must be less than {max_len + 1} characters [json-pointer:{path}/text]")


def _check_style(obj: dict[str, Any], path: str, errors: list[str]) -> None:
    if "style" in obj and obj["style"] not in ("primary", "danger"):
        errors.append(f"must be one of ['primary', 'danger'] [json-pointer:{path}/style]")


def _check_confirm(obj: Any, path: str, errors: list[str]) -> None:
    if not isinstance(obj, dict):
        errors.append(f"must be an object [json-pointer:{path}]")
        return
    _check_text_object(obj.get("title"), f"{path}/title", 100, errors, plain_only=True)
    _check_text_object(obj.get("text"), f"{path}/text", 300, errors)
    _check_text_object(obj.get("confirm"), f"{path}/confirm", 30, errors, plain_only=True)
    _check_text_object(obj.get("deny"), f"{path}/deny", 30, errors, plain_only=True)
    _check_style(obj, path, errors)


def _check_element(el: Any, path: str, errors: list[str]) -> None:
    if not isinstance(el, dict) or not isinstance(el.get("type"), str):
        errors.append(f"missing required field: type [json-pointer:{path}]")
        return
    action_id = el.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or not 0 < len(action_id) <= 255):
        errors.append(f"must be 1 to 255 characters [json-pointer:{path}/action_id]")
    if el["type"] == "button":
        _check_text_object(el.get("text"), f"{path}/text", 75, errors, plain_only=True)
        value = el.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > 2000):
            errors.append(f"must be less than 2001 characters [json-pointer:{path}/value]")
        url = el.get("url")
        if url is not None and (not isinstance(url, str) or len(url) > 3000):
            errors.append(f"must be less than 3001 characters [json-pointer:{path}/url]")
        _check_style(el, path, errors)
    if "confirm" in el:
        _check_confirm(el["confirm"], f"{path}/confirm", errors)


def validate_blocks(blocks: Any, *, max_blocks: int = 50) -> list[str]:
    """Slack-style error strings for a message's ``blocks`` (empty list = valid)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"no more than {max_blocks} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        path = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{path}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
                errors.append(f"must be 1 to 255 characters [json-pointer:{path}/block_id]")
            elif block_id in block_ids:
                errors.append(f"duplicate block_id [json-pointer:{path}/block_id]")
            else:
                block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"must provide either text or fields [json-pointer:{path}]")
            if "text" in block:
                _check_text_object(block["text"], f"{path}/text", 3000, errors)
            if "fields" in block:
                fields_ = block["fields"]
                if not isinstance(fields_, list) or not 0 < len(fields_) <= 10:
                    errors.append(f"must have 1 to 10 items [json-pointer:{path}/fields]")
                else:
                    for j, f in enumerate(fields_):
                        _check_text_object(f, f"{path}/fields/{j}", 2000, errors)
            if "accessory" in block:
                _check_element(block["accessory"], f"{path}/accessory", errors)
        elif kind == "header":
            _check_text_object(block.get("text"), f"{path}/text", 150, errors, plain_only=True)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 10:
                errors.append(f"must have 1 to 10 items [json-pointer:{path}/elements]")
            else:
                for j, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") in ("plain_text", "mrkdwn"):
                        _check_text_object(el, f"{path}/elements/{j}", 3000, errors)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 25:
                errors.append(f"must have 1 to 25 items [json-pointer:{path}/elements]")
            else:
                action_ids: set[str] = set()
                for j, el in enumerate(elements):
                    _check_element(el, f"{path}/elements/{j}", errors)
                    aid = el.get("action_id") if isinstance(el, dict) else None
                    if isinstance(aid, str):
                        if aid in action_ids:
                            errors.append(f"duplicate action_id [json-pointer:{path}/elements/{j}/action_id]")
                        action_ids.add(aid)
        # other block types (divider, image, rich_text, ...) are accepted as they are
    return errors
