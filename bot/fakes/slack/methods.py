"""The Web API methods the fake Slack answers (auth.test, chat.postMessage/update/postEphemeral/
delete, usergroups.list and usergroups.users.list, users.info, conversations.info, api.test, and
views.publish/open from views.py), and the scope each one needs.

Each method takes the request's parameters and the time, and answers the JSON body of a
success or raises ApiError; authentication, scopes, limits and faults are checked before it
is called (server.py), under the fake's lock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from bot.fakes.slack.plumbing import truthy
from bot.fakes.slack.records import Ephemeral, Message
from bot.fakes.slack.state import ApiError
from bot.fakes.slack.views import Views

REQUIRED_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "usergroups.users.list": "usergroups:read",
    "usergroups.list": "usergroups:read",
    "users.info": "users:read",
}


class WebApiMethods(Views):
    """The handler of each Web API method, on the workspace it answers from."""

    def _api_test(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return {"ok": True, "args": params}

    def _auth_test(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "polytomic-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel = self._postable_channel(params.get("channel"))
        text, blocks, attachments = self._content(params)
        thread_ts = params.get("thread_ts") or None
        if thread_ts is not None:
            thread_ts = str(thread_ts)
        ts = self._next_ts()
        msg = Message(
            channel=channel.id,
            ts=ts,
            thread_ts=thread_ts,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            versions=[
                {
                    "method": "chat.postMessage",
                    "text": text,
                    "blocks": blocks,
                    "attachments": attachments,
                    "thread_ts": thread_ts,
                    "reply_broadcast": truthy(params.get("reply_broadcast")),
                    "time": now,
                    "edited_ts": None,
                }
            ],
        )
        self._messages[(channel.id, ts)] = msg
        self._bound()
        return {"ok": True, "channel": channel.id, "ts": ts, "message": msg.to_api()}

    def _bot_message(self, params: dict[str, Any]) -> Message:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            raise ApiError("channel_not_found")
        ts = params.get("ts")
        msg = self._messages.get((channel.id, str(ts))) if ts else None
        if msg is None or msg.deleted:
            raise ApiError("message_not_found")
        return msg

    def _chat_update(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        msg = self._bot_message(params)
        channel = self._channels[msg.channel]
        if channel.is_archived:
            raise ApiError("is_archived")
        text, blocks, attachments = self._content(params)
        previous = msg.latest
        version = {
            "method": "chat.update",
            "text": text,
            "blocks": blocks if "blocks" in params else previous.get("blocks"),
            "attachments": attachments if "attachments" in params else previous.get("attachments"),
            "thread_ts": msg.thread_ts,
            "time": now,
            "edited_ts": self._next_ts(),
        }
        msg.versions.append(version)
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": text or "", "message": msg.to_api()}

    def _chat_post_ephemeral(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel = self._postable_channel(params.get("channel"))
        user = params.get("user")
        if not isinstance(user, str) or not user:
            raise ApiError("user_not_found")
        text, blocks, attachments = self._content(params)
        ts = self._next_ts()
        thread_ts = params.get("thread_ts") or None
        self._ephemerals.append(
            Ephemeral(
                channel=channel.id,
                user=user,
                text=text,
                blocks=blocks,
                time=now,
                message_ts=ts,
                thread_ts=str(thread_ts) if thread_ts else None,
                attachments=attachments,
            )
        )
        self._bound()
        return {"ok": True, "message_ts": ts}

    def _chat_delete(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        msg = self._bot_message(params)
        msg.deleted = True
        msg.deleted_at = now
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _usergroups_users_list(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        if self._plan_upgrade_required:
            raise ApiError("plan_upgrade_required")
        group = self._usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise ApiError("no_such_subteam")
        return {"ok": True, "users": list(group["users"])}

    def _usergroups_list(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        if self._plan_upgrade_required:
            raise ApiError("plan_upgrade_required")
        include_users = truthy(params.get("include_users"))
        groups = []
        for group in self._usergroups.values():
            item = {k: v for k, v in group.items() if k != "users"}
            item["user_count"] = len(group["users"])
            if include_users:
                item["users"] = list(group["users"])
            groups.append(item)
        return {"ok": True, "usergroups": groups}

    def _users_info(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        user_id = params.get("user")
        if not isinstance(user_id, str) or not user_id:
            raise ApiError("user_not_found")
        if user_id not in self._users:
            if not (self.auto_users and user_id[:1] in ("U", "W")):
                raise ApiError("user_not_found")
            self.add_user(user_id)
        return {"ok": True, "user": copy.deepcopy(self._users[user_id])}

    def _conversations_info(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"))
        # A bot cannot see private channels it is not in.
        if channel is None or (channel.is_private and not channel.is_member):
            raise ApiError("channel_not_found")
        return {"ok": True, "channel": channel.to_api()}


Method = Callable[[WebApiMethods, dict[str, Any], float], dict[str, Any]]

METHODS: dict[str, Method] = {
    "api.test": WebApiMethods._api_test,
    "auth.test": WebApiMethods._auth_test,
    "chat.postMessage": WebApiMethods._chat_post_message,
    "chat.update": WebApiMethods._chat_update,
    "chat.postEphemeral": WebApiMethods._chat_post_ephemeral,
    "chat.delete": WebApiMethods._chat_delete,
    "usergroups.users.list": WebApiMethods._usergroups_users_list,
    "usergroups.list": WebApiMethods._usergroups_list,
    "users.info": WebApiMethods._users_info,
    "conversations.info": WebApiMethods._conversations_info,
    "views.publish": WebApiMethods._views_publish,
    "views.open": WebApiMethods._views_open,
}
