"""The fake Slack's views: views.publish (a user's Home tab) and views.open (a modal opened with
a click's trigger_id), answered and recorded as Slack does.

* views.publish needs a `user_id` and a `view` of type `home`, at most 100 blocks that pass the
  Block Kit checks (blocks.py), at most 250 kB of JSON; `not_enabled` when the Home tab is off
  (`set_home_tab(False)`). Each published view is kept per user (`home_views`, `home_view`).
* views.open needs a `trigger_id` of Slack's form (`<unix time>.<digits>.<hex>`, as
  `bot.fakes.signing.make_trigger_id` makes them), used once (`exchanged_trigger_id`) and within
  3 seconds of its time (`expired_trigger_id`), and a `view` of type `modal` (title 24
  characters, submit and close 24, private_metadata 3,000, 100 blocks). Kept in `modals`.

Neither needs a scope. Under FakeSlack's lock, like every other method.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from bot.fakes.slack.blocks import validate_blocks
from bot.fakes.slack.state import ApiError
from bot.fakes.slack.workspace import Workspace

MAX_VIEW_BLOCKS = 100
MAX_VIEW_BYTES = 250_000
TRIGGER_SECONDS = 3.0
_TRIGGER = re.compile(r"^(\d{10})\.\d+\.[0-9a-f]+$")


def _invalid(message: str) -> ApiError:
    return ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {message}"]})


def _check_plain(view: dict[str, Any], key: str, limit: int, *, required: bool) -> None:
    text = view.get(key)
    if text is None and not required:
        return
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        raise _invalid(f"{key} must be plain_text")
    value = text.get("text")
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise _invalid(f"must be less than {limit + 1} characters [json-pointer:/view/{key}/text]")


class Views(Workspace):
    """views.publish and views.open, and what a test reads of them."""

    def _view(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        view = params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise ApiError("invalid_arguments") from None
        if not isinstance(view, dict) or view.get("type") != kind:
            raise _invalid(f"view type must be {kind}")
        if len(json.dumps(view)) > MAX_VIEW_BYTES:
            raise ApiError("view_too_large")
        if self.strict_blocks:
            errors = validate_blocks(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS)
            if errors:
                raise ApiError("invalid_blocks", errors=errors, response_metadata={"messages": errors})
        return view

    def _views_publish(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise ApiError("invalid_arguments")
        if not self._home_tab_enabled:
            raise ApiError("not_enabled")
        view = self._view(params, "home")
        self._home_views.setdefault(user_id, []).append({"view": copy.deepcopy(view), "time": now})
        published = self._views_made[user_id] = self._views_made.get(user_id, 0) + 1  # kept past max_records
        return {"ok": True, "view": {"id": f"V{published:08d}", **view}}

    def _views_open(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        trigger_id = params.get("trigger_id")
        if not isinstance(trigger_id, str) or (match := _TRIGGER.match(trigger_id)) is None:
            raise ApiError("invalid_trigger_id")
        if trigger_id in self._used_triggers:
            raise ApiError("exchanged_trigger_id")
        if now - int(match.group(1)) > TRIGGER_SECONDS + 1:  # the ID's time is whole seconds
            raise ApiError("expired_trigger_id")
        view = self._view(params, "modal")
        _check_plain(view, "title", 24, required=True)
        _check_plain(view, "submit", 24, required=False)
        _check_plain(view, "close", 24, required=False)
        metadata = view.get("private_metadata")
        if metadata is not None and (not isinstance(metadata, str) or len(metadata) > 3000):
            raise ApiError("invalid_arguments")
        self._used_triggers.add(trigger_id)
        self._modals.append({"trigger_id": trigger_id, "view": copy.deepcopy(view), "time": now})
        opened = self._views_made[""] = self._views_made.get("", 0) + 1  # modals: kept past max_records
        return {"ok": True, "view": {"id": f"VM{opened:07d}", **view}}

    # ---- what a test sets and reads -----------------------------------------------------

    def set_home_tab(self, enabled: bool) -> None:
        """The app's Home tab on or off (off: views.publish answers `not_enabled`)."""
        with self._lock:
            self._home_tab_enabled = enabled

    def home_views(self, user_id: str) -> list[dict[str, Any]]:
        """Every Home view published for `user_id`, oldest first: `{"view": …, "time": …}`."""
        with self._lock:
            return copy.deepcopy(self._home_views.get(user_id, []))

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home view `user_id` sees now (the last published), or None."""
        views = self.home_views(user_id)
        return views[-1]["view"] if views else None

    def modals(self) -> list[dict[str, Any]]:
        """Every modal opened, oldest first: `{"trigger_id": …, "view": …, "time": …}`."""
        with self._lock:
            return copy.deepcopy(self._modals)
