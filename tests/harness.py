"""What the tests share: the real bot as a process (from `bot.fakes.process`, re-exported here)
and a person in the fake workspace (`SlackUser`) who talks to it the way Slack does."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bot.fakes.process import (
    BOT_TOKEN,
    EXECUTABLE,
    POLYTOMIC_KEY,
    SIGNING_SECRET,
    BotProcess,
    base_env,
    free_port,
    wait_until,
)
from bot.fakes.signing import block_actions_body, slash_command_body
from bot.fakes.slack import FakeSlack

__all__ = [
    "BOT_TOKEN",
    "EXECUTABLE",
    "POLYTOMIC_KEY",
    "ROOT",
    "SIGNING_SECRET",
    "BotProcess",
    "SlackUser",
    "all_text",
    "base_env",
    "button",
    "free_port",
    "temp_workdir",
    "wait_until",
]

ROOT = Path(__file__).resolve().parents[1]


class SlackUser:
    """A person in the fake workspace who types commands and clicks buttons."""

    def __init__(self, bot: BotProcess, slack: FakeSlack, user_id: str, channel_id: str = "CGENERAL") -> None:
        self.bot = bot
        self.slack = slack
        self.user_id = user_id
        self.channel_id = channel_id

    def command(self, text: str, **kwargs: Any) -> tuple[httpx.Response, str]:
        """Run /polytomic <text>; returns the HTTP answer (the ack) and the response_url used."""
        response_url = self.slack.response_url(f"{self.user_id}:{text[:20]}")
        body = slash_command_body(
            text=text, user_id=self.user_id, channel_id=self.channel_id, response_url=response_url, **kwargs
        )
        return self.bot.post(body), response_url

    def answers(self, response_url: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait for `count` answers posted to a response_url and return them all."""
        wait_until(lambda: len(self.slack.responses(response_url)) >= count, timeout, what="an answer")
        return self.slack.responses(response_url)

    def click(
        self, action_id: str, value: str, *, message_ts: str | None = None
    ) -> tuple[httpx.Response, str]:
        response_url = self.slack.response_url(f"{self.user_id}:click")
        body = block_actions_body(
            user_id=self.user_id,
            action_id=action_id,
            value=value,
            channel_id=self.channel_id,
            response_url=response_url,
            message_ts=message_ts,
        )
        return self.bot.post(body), response_url


def button(answer: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in answer.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {json.dumps(answer)[:500]}")


def all_text(payload: dict[str, Any]) -> str:
    """Every string in a message (text and blocks), for checks on what a person would see."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk({"text": payload.get("text"), "blocks": payload.get("blocks")})
    return "\n".join(out)


def temp_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="polytomic-bot-test-"))
