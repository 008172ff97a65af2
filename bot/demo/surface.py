"""What the demo page shows each user: Slack's surfaces, rebuilt from the fake Slack's records.

The fake Slack (bot/fakes/slack) holds what the bot did: messages with every version (edits in
place, threads), `chat.postEphemeral`, posts to response_urls, `views.publish` and `views.open`
calls. What it does not know is who a response_url answers and where: Slack shows an answer to a
slash command or a click to that one user in that channel ("only visible to you"), and an answer
with `replace_original` replaces the ephemeral message the click was on. `Surfaces` keeps that
(an `Origin` per response_url it hands out) and replays the posts in order. App Home and modals
are shown generically: whatever view the bot last published for the user, or opened with a
trigger_id of one of the user's clicks.

Everything handed to the page is data (text and Block Kit as the bot sent them); the page's
renderer (static/app.js) escapes all of it. A snapshot is rebuilt only when the fake has recorded
something new (`FakeSlack.recorded_total`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from bot.fakes.slack import FakeSlack, Message, RecordedCall

MAX_SHOWN = 150  # items per channel handed to the page (the newest)
MODAL_METHODS = ("views.open", "views.push", "views.update")


@dataclass(frozen=True)
class Origin:
    """Who a response_url answers, where, and which ephemeral item `replace_original` edits."""

    user: str
    channel: str | None
    replaces: str | None = None


@dataclass
class Item:
    key: str
    channel: str
    time: float
    text: str | None
    blocks: list[Any] | None
    ephemeral: bool
    edited: bool = False
    deleted: bool = False
    user: str | None = None  # an ephemeral's viewer

    def shown(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "time": self.time,
            "text": self.text or "",
            "blocks": self.blocks or [],
            "ephemeral": self.ephemeral,
            "edited": self.edited,
            "replies": [],
        }


class Surfaces:
    """The registry of response_urls and triggers the demo handed out, and the page's snapshots."""

    def __init__(self, slack: FakeSlack, *, max_origins: int = 2_000) -> None:
        self._slack = slack
        self._lock = threading.Lock()
        self._origins: OrderedDict[str, Origin] = OrderedDict()  # response_url ID -> its origin
        self._triggers: OrderedDict[str, str] = OrderedDict()  # trigger_id -> the user who clicked
        self._acks: list[Item] = []  # answers in an ack's body, shown as ephemerals
        self._closed: OrderedDict[str, None] = OrderedDict()  # modal view IDs closed on the page
        self._updates: list[tuple[float, str, dict[str, Any]]] = []  # (when, view ID, view) from acks
        self._max = max_origins
        self._counter = itertools.count(1)
        self._changes = 0
        self._cache: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}

    # ---- what the demo hands out ------------------------------------------------------------

    def response_url(self, user: str, channel: str | None, *, replaces: str | None = None) -> str:
        """A response_url for a command or a click; a click on a bot message passes its key
        (`m|channel|ts`) so the fake Slack edits that message on `replace_original`."""
        message_ts = None
        if replaces is not None and replaces.startswith("m|"):
            _, channel_id, message_ts = replaces.split("|", 2)
            url = self._slack.response_url(f"demo {user}", channel=channel_id, message_ts=message_ts)
        else:
            url = self._slack.response_url(f"demo {user}")
        with self._lock:
            self._origins[_url_id(url)] = Origin(user, channel, replaces)
            _trim(self._origins, self._max)
            self._changes += 1
        return url

    def trigger(self, user: str, trigger_id: str) -> None:
        with self._lock:
            self._triggers[trigger_id] = user
            _trim(self._triggers, self._max)

    def ack_answer(self, user: str, channel: str, text: str | None, blocks: list[Any] | None) -> None:
        """A command acked with a message (a usage error): Slack shows it to the user only."""
        with self._lock:
            item = Item(f"a|{next(self._counter)}", channel, time.time(), text, blocks, True, user=user)
            self._acks.append(item)
            del self._acks[: max(0, len(self._acks) - self._max)]
            self._changes += 1

    def update_modal(self, view_id: str, view: dict[str, Any]) -> None:
        """A submission acked with `response_action: update` (or `push`): the modal shows `view`
        now, under the same ID."""
        with self._lock:
            self._updates.append((time.time(), view_id, dict(view)))
            del self._updates[: max(0, len(self._updates) - self._max)]
            self._changes += 1

    def close_modal(self, view_id: str) -> None:
        with self._lock:
            self._closed[view_id] = None
            _trim(self._closed, self._max)
            self._changes += 1

    # ---- what the page reads ----------------------------------------------------------------

    def message(self, key: str) -> Message | None:
        """The bot message a key names (`m|channel|ts`), or None."""
        if not key.startswith("m|"):
            return None
        _, channel, ts = key.split("|", 2)
        try:
            found = self._slack.message(channel, ts)
        except KeyError:
            return None
        return None if found.deleted else found

    def home(self, user: str) -> dict[str, Any] | None:
        """The App Home view last published for `user` (views.publish answered ok), or None."""
        for call in reversed(self._slack.calls("views.publish")):
            if call.ok and call.params.get("user_id") == user:
                return _view(call)
        return None

    def modal(self, user: str) -> dict[str, Any] | None:
        """The modal open for `user`: the last one opened with one of their triggers (views.open
        or views.push), as views.update last left it, unless they closed it."""
        with self._lock:
            triggers = dict(self._triggers)
            closed = set(self._closed)
            changes: list[tuple[float, str, dict[str, Any], str | None]] = [
                (when, "ack", {**view, "id": view_id}, None) for when, view_id, view in self._updates
            ]
        calls = [c for method in MODAL_METHODS for c in self._slack.calls(method) if c.ok]
        changes += [(c.time, c.method, _view(c), str(c.params.get("trigger_id"))) for c in calls]
        shown: dict[str, Any] | None = None
        for _, how, view, trigger in sorted(changes, key=lambda change: change[0]):
            if how in ("views.update", "ack"):
                if shown is not None and view.get("id") == shown.get("id"):
                    shown = view
            elif triggers.get(trigger or "") == user:
                shown = view
        if shown is None or shown.get("id") in closed:
            return None
        return shown

    def snapshot(self, user: str) -> dict[str, Any]:
        """Every channel as `user` sees it, App Home and any modal: plain data for the page."""
        with self._lock:
            version = (self._slack.recorded_total, self._changes)
            cached = self._cache.get(user)
        if cached is not None and cached[0] == version:
            return cached[1]
        channels = self._channels(user)
        shot = {
            "version": f"{version[0]}.{version[1]}",
            "channels": channels,
            "home": self.home(user),
            "modal": self.modal(user),
        }
        with self._lock:
            self._cache[user] = (version, shot)
        return shot

    def _channels(self, user: str) -> dict[str, list[dict[str, Any]]]:
        items, replies = self._messages()
        for item in self._ephemerals(user):
            items.append(item)
        by_channel: dict[str, list[dict[str, Any]]] = {}
        dm = dm_channel(user)
        for item in sorted(items, key=lambda i: i.time):
            # A DM is its user's alone: the D… channel of app_home_opened, or a post to the
            # user's ID (Slack posts that in the same DM).
            channel = dm if item.channel == user else item.channel
            if item.deleted or (channel.startswith(("D", "U", "W")) and channel != dm):
                continue
            shown = item.shown()
            shown["replies"] = [r.shown() for r in replies.get(item.key, []) if not r.deleted]
            by_channel.setdefault(channel, []).append(shown)
        return {channel: shown[-MAX_SHOWN:] for channel, shown in by_channel.items()}

    def _messages(self) -> tuple[list[Item], dict[str, list[Item]]]:
        """The bot's messages (top level) and the replies of each, by the parent's key."""
        top: list[Item] = []
        replies: dict[str, list[Item]] = {}
        messages = self._slack.messages
        for (channel, ts), message in messages.items():
            item = Item(
                key=f"m|{channel}|{ts}",
                channel=channel,
                time=message.posted_at,
                text=message.text,
                blocks=message.blocks,
                ephemeral=False,
                edited=message.edit_count > 0,
                deleted=message.deleted,
            )
            parent = f"m|{channel}|{message.thread_ts}"
            if message.is_reply and (channel, message.thread_ts) in messages:
                replies.setdefault(parent, []).append(item)
            else:
                top.append(item)
        return top, replies

    def _ephemerals(self, user: str) -> list[Item]:
        """What only `user` sees: chat.postEphemeral, the acks' answers, and the posts to the
        response_urls handed out for them, replayed in order (replace and delete included);
        an answer posted `in_channel` is everyone's."""
        with self._lock:
            origins = dict(self._origins)
            items: dict[str, Item] = {i.key: _copy(i) for i in self._acks}
        for ephemeral in self._slack.ephemerals:
            key = f"p|{ephemeral.message_ts}"
            items[key] = Item(
                key,
                ephemeral.channel,
                ephemeral.time,
                ephemeral.text,
                ephemeral.blocks,
                True,
                user=ephemeral.user,
            )
        counts: dict[str, int] = {}
        for record in self._slack.responses():
            origin = origins.get(str(record.get("id")))
            if origin is None:
                continue
            target = items.get(origin.replaces or "")
            if record.get("delete_original"):
                if target is not None:
                    target.deleted = True
                continue
            if record.get("replace_original"):
                if target is not None:
                    target.text, target.blocks, target.edited = record.get("text"), record.get("blocks"), True
                continue  # a bot message's edit is the fake Slack's own (a new version)
            number = counts[record["id"]] = counts.get(record["id"], 0) + 1
            key = f"r|{record['id']}|{number}"
            channel = origin.channel or "home"
            in_channel = record.get("response_type") == "in_channel"
            items[key] = Item(
                key,
                channel,
                float(record["time"]),
                record.get("text"),
                record.get("blocks"),
                not in_channel,
                user=None if in_channel else origin.user,
            )
        return [i for i in items.values() if i.user in (None, user)]


def dm_channel(user: str) -> str:
    """The user's DM with the app, as the page's app_home_opened names it (D + the user's ID)."""
    return "D" + user[1:]


def _copy(item: Item) -> Item:
    return Item(**vars(item))


def _url_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _trim(table: OrderedDict[str, Any], cap: int) -> None:
    while len(table) > cap:
        table.popitem(last=False)


def _view(call: RecordedCall) -> dict[str, Any]:
    """The view a views.* call carried (a JSON string in a form body, or an object), with the
    ID the fake answered when it gave one."""
    raw = call.params.get("view")
    view: Any = raw
    if isinstance(raw, str):
        try:
            view = json.loads(raw)
        except ValueError:
            view = {}
    if not isinstance(view, dict):
        view = {}
    view = dict(view)
    answered = call.response.get("view") if isinstance(call.response, dict) else None
    if isinstance(answered, dict) and answered.get("id"):
        view["id"] = answered["id"]
    elif call.params.get("view_id"):
        view["id"] = call.params["view_id"]
    view.setdefault("id", f"V{int(call.time * 1000)}")
    shown: dict[str, Any] = view
    return shown
