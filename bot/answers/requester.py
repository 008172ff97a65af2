"""Who asked, where, and how to answer them: the `Requester` of every answer.

Built the same way for a slash command and for a click (`from_context`): Bolt's context already
holds the user, channel and team it read from the payload, and the body holds the response_url.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.slack import respond
from bot.views.blocks import View

_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


@dataclass(frozen=True)
class Requester:
    """Who asked, where, and how to answer them."""

    user_id: str
    channel_id: str
    response_url: str
    team_id: str | None = None

    @classmethod
    def from_context(cls, context: Mapping[str, Any], body: Mapping[str, Any]) -> Requester | None:
        """From Bolt's `context` (user_id, channel_id, team_id) and the request's body (the
        response_url); None for a payload that lacks what every real command and click carries.
        A click on an ephemeral message may name its channel only in `container`."""
        user_id = context.get("user_id")
        channel_id = context.get("channel_id") or (body.get("container") or {}).get("channel_id")
        response_url = body.get("response_url")
        team_id = context.get("team_id")
        if not (_is_slack_id(user_id) and _is_slack_id(channel_id) and isinstance(response_url, str)):
            return None
        assert isinstance(user_id, str) and isinstance(channel_id, str)
        return cls(user_id, channel_id, response_url, team_id if isinstance(team_id, str) else None)

    def answer(self, view: View, *, replace: bool = False) -> None:
        """Tell them, privately, through their response_url."""
        respond(self.response_url, view, replace_original=replace)


def _is_slack_id(value: object) -> bool:
    return isinstance(value, str) and _SLACK_ID.match(value) is not None
