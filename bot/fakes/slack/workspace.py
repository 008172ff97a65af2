"""The fake Slack's workspace, as a test sets it up: the token's scopes, channels (public,
private, archived, DMs, the bot a member or not), users, user groups, and whether the
workspace is on a free plan (no user groups).

Channels are also made on first use (`auto_channels`), and users too with `auto_users`; the
Web API methods (methods.py) answer from what is here.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.fakes.slack.records import Channel
from bot.fakes.slack.state import SlackState


class Workspace(SlackState):
    """Setting up channels, users, user groups and scopes (FakeSlack's configuration methods)."""

    @property
    def scopes(self) -> str:
        with self._lock:
            return self._scopes

    def set_scopes(self, scopes: str) -> None:
        with self._lock:
            self._scopes = scopes

    def add_channel(
        self,
        id: str,
        name: str | None = None,
        *,
        is_private: bool = False,
        is_member: bool = True,
        archived: bool = False,
        is_im: bool = False,
    ) -> Channel:
        with self._lock:
            channel = Channel(
                id=id,
                name=name or id.lower(),
                is_private=is_private,
                is_member=is_member,
                is_archived=archived,
                is_im=is_im,
            )
            self._channels[id] = channel
            self._removed_channels.discard(id)
            return copy.deepcopy(channel)

    def remove_channel(self, id: str) -> None:
        """Forget a channel; it stays unknown (``channel_not_found``) even with auto_channels."""
        with self._lock:
            self._channels.pop(id, None)
            self._removed_channels.add(id)

    def set_channel(self, id: str, **changes: Any) -> Channel:
        """Change a channel's flags, e.g. ``set_channel("C1", is_member=False, is_archived=True)``."""
        with self._lock:
            channel = self._resolve_channel(id)
            if channel is None:
                raise KeyError(f"unknown channel {id!r}")
            for key, value in changes.items():
                if key == "archived":
                    key = "is_archived"
                if not hasattr(channel, key):
                    raise AttributeError(f"Channel has no field {key!r}")
                setattr(channel, key, value)
            return copy.deepcopy(channel)

    def channel(self, id: str) -> Channel:
        with self._lock:
            if id not in self._channels:
                raise KeyError(f"unknown channel {id!r}; known: {sorted(self._channels)}")
            return copy.deepcopy(self._channels[id])

    def add_user(
        self,
        id: str,
        name: str | None = None,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        deleted: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_bot: bool = False,
        team_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add (or replace) a user answered by users.info. ``extra`` keys are merged in."""
        name = name or id.lower()
        real = real_name if real_name is not None else name.title()
        user: dict[str, Any] = {
            "id": id,
            "team_id": team_id or self.team_id,
            "name": name,
            "real_name": real,
            "deleted": deleted,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "is_bot": is_bot,
            "is_app_user": False,
            "tz": "Etc/UTC",
            "profile": {
                "display_name": display_name if display_name is not None else name,
                "real_name": real,
            },
        }
        user.update(extra)
        with self._lock:
            self._users[id] = user
        return copy.deepcopy(user)

    def update_user(self, id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            if id not in self._users:
                raise KeyError(f"unknown user {id!r}")
            self._users[id].update(changes)
            return copy.deepcopy(self._users[id])

    def remove_user(self, id: str) -> None:
        with self._lock:
            self._users.pop(id, None)

    def add_usergroup(self, id: str, handle: str, members: list[str], *, name: str | None = None) -> None:
        with self._lock:
            self._usergroups[id] = {
                "id": id,
                "team_id": self.team_id,
                "handle": handle,
                "name": name or handle,
                "users": list(members),
                "date_delete": 0,
            }

    def set_usergroup_members(self, id: str, members: list[str]) -> None:
        with self._lock:
            if id not in self._usergroups:
                raise KeyError(f"unknown usergroup {id!r}")
            self._usergroups[id]["users"] = list(members)

    def remove_usergroup(self, id: str) -> None:
        with self._lock:
            self._usergroups.pop(id, None)

    def set_plan_upgrade_required(self, enabled: bool = True) -> None:
        """Free workspace: usergroups.* answer ``plan_upgrade_required``."""
        with self._lock:
            self._plan_upgrade_required = enabled
