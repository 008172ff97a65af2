"""What the fake Slack records and hands back to a test: every request (`RecordedCall`), the
bot's messages with every version (`Message`), ephemeral messages, channels, and the calls that
arrived while a 429's window was shut (`WindowViolation`).

Plain dataclasses with no lock of their own: FakeSlack keeps them behind its lock and hands
out deep copies, so a test reads a snapshot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedCall:
    """One HTTP request the fake received (Web API method or response_url)."""

    method: str  # Web API method name ("chat.update") or "response_url"
    params: dict[str, Any]  # query + form/JSON body merged; JSON strings (blocks...) parsed
    headers: dict[str, str]
    time: float  # time.time() when the request arrived
    status: int = 0  # HTTP status answered
    response: Any = None  # parsed JSON answer (dict) or text answer (response_url)
    http_method: str = "POST"
    path: str = ""
    token: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    raw_body: bytes = b""

    @property
    def ok(self) -> bool:
        if isinstance(self.response, dict):
            return self.status == 200 and self.response.get("ok") is True
        return self.status == 200

    @property
    def error(self) -> str | None:
        if isinstance(self.response, dict):
            err = self.response.get("error")
            return str(err) if err is not None else None
        return None if self.status == 200 else str(self.response)

    @property
    def response_body(self) -> Any:
        return self.response

    def describe(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time)) + f".{int(self.time * 1000) % 1000:03d}"
        outcome = "ok" if self.ok else (self.error or "?")
        keys = ("channel", "ts", "thread_ts", "user", "usergroup", "text", "replace_original")
        shown = {k: self.params[k] for k in keys if k in self.params}
        if "text" in shown and isinstance(shown["text"], str) and len(shown["text"]) > 60:
            shown["text"] = shown["text"][:57] + "..."
        return f"{stamp} {self.method} -> {self.status} {outcome} {shown}"


@dataclass
class Message:
    """A non-ephemeral message posted by the bot, with every version it ever had."""

    channel: str
    ts: str
    thread_ts: str | None
    user: str
    bot_id: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    deleted_at: float | None = None

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def text(self) -> str | None:
        return self.latest.get("text")

    @property
    def blocks(self) -> list[dict[str, Any]] | None:
        return self.latest.get("blocks")

    @property
    def posted_at(self) -> float:
        return float(self.versions[0]["time"])

    @property
    def edit_count(self) -> int:
        return len(self.versions) - 1

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self) -> dict[str, Any]:
        latest = self.latest
        out: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "bot_id": self.bot_id,
            "ts": self.ts,
            "text": latest.get("text") or "",
        }
        if latest.get("blocks") is not None:
            out["blocks"] = latest["blocks"]
        if latest.get("attachments") is not None:
            out["attachments"] = latest["attachments"]
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        if len(self.versions) > 1:
            out["edited"] = {"user": self.user, "ts": latest["edited_ts"]}
        return out


@dataclass
class Ephemeral:
    """A chat.postEphemeral message. Also readable as a mapping: ``e["text"]``."""

    channel: str
    user: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    time: float
    message_ts: str
    thread_ts: str | None = None
    attachments: list[Any] | None = None

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    is_archived: bool = False
    is_im: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private and not self.is_im,
            "is_im": self.is_im,
            "is_private": self.is_private,
            "is_member": self.is_member,
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
        }


@dataclass(frozen=True)
class WindowViolation:
    """A call that arrived while a 429's Retry-After window for its key was still shut."""

    method: str
    channel: str | None  # the window's channel (chat.postMessage), else None
    time: float  # time.time() when the call arrived
    refused_at: float  # when the 429 that opened the window was answered
    until: float  # when the window ends

    def describe(self) -> str:
        where = f" to {self.channel}" if self.channel else ""
        return (
            f"{self.method}{where} {self.time - self.refused_at:.3f} s after a 429, "
            f"{self.until - self.time:.3f} s before its Retry-After ended"
        )
