"""A fake Slack Web API and response_url sink, served over real HTTP.

The bot under test talks to it with the real slack_sdk clients::

    with FakeSlack() as slack:
        client = WebClient(base_url=slack.api_url, token=slack.bot_token)
        client.chat_postMessage(channel="C1", text="hi")
        WebhookClient(slack.response_url()).send(text="done")
        slack.wait_for(lambda s: s.call_count("chat.postMessage") == 1)

Behaviour follows Slack where it matters for the bot (see /work/shared/slack/PLATFORM.md):

* every Web API answer is HTTP 200 JSON ``{"ok": ...}`` except rate limits (HTTP 429 with
  ``Retry-After``) and unknown methods (HTTP 404 ``unknown_method``);
* ``response_url``: at most 5 successful uses (then HTTP 404 ``used_url``), 30 minutes of
  life (``expired_url``), unknown id -> HTTP 404 ``no_service``; successful uses answer
  ``200 ok`` as text/plain;
* channels: unknown -> ``channel_not_found``; private and the bot not a member ->
  ``not_in_channel``; public and not a member -> allowed only with ``chat:write.public``;
  archived -> ``is_archived``;
* ``chat.update`` edits only messages the bot posted (``message_not_found`` otherwise) and
  keeps every version; when ``blocks``/``attachments`` are omitted the previous ones are
  retained, as Slack documents;
* Block Kit limits that Slack enforces (button text 75, value 2000, confirm title 100 /
  text 300 / confirm+deny 30, section text 3000, header 150, 50 blocks, ...) answer
  ``invalid_blocks`` with an ``errors`` list (disable with ``strict_blocks=False``);
* ``views.publish`` keeps each user's Home views (``home_view``, ``home_views``) and ``views.open``
  each modal (``modals``), with a view's 100 blocks checked and a trigger_id used once within
  3 seconds (views.py); ``set_home_tab(False)`` makes views.publish answer ``not_enabled``;
* scopes are enforced for chat.* (``chat:write``), usergroups.* (``usergroups:read``) and
  users.info (``users:read``) -> ``missing_scope``. conversations.info is not scope-checked;
* rate limits only when asked for: one-off 429s (``inject_rate_limit``), a held window
  (``rate_limit_for``), a sliding window per method (``set_rate_limit``), or Slack's own
  limits (``real_limits=True``: chat.postMessage about 1 a second per channel with a short
  burst, the tier limits per minute of chat.update and the rest). Every 429 with a
  ``Retry-After`` shuts its key (the method; chat.postMessage: per channel) until then, and
  a call that arrives while it is shut is recorded in ``window_violations``.

All state lives behind one lock. Accessors (``requests``, ``messages``, ``message()``,
``responses()``...) return deep-copied snapshots: re-read them (e.g. inside a ``wait_for``
predicate) to observe later changes.

The package, one concept a module: `server` (FakeSlack: the parts put together, started and
stopped, each request routed and checked in Slack's order), `state` (the settings and state
behind the lock, and the rules the parts share: channels, message content, timestamps),
`workspace` (channels, users, user groups, scopes), `methods` (each Web API method's answer),
`response_urls` (the response_url sink), `faults` (injected errors, 429 windows, latency) and
`limits` (Slack's limits and the limiters), `inspection` (what a test reads, and `wait_for`),
`views` (views.publish and views.open), `records` (the recorded calls, messages and channels
handed out), `blocks` (Block Kit
validation), `plumbing` (the HTTP server and parameter parsing). FakeSlack is one object with
one lock, so its methods are grouped into mixins of `state.SlackState`, one per module.

This package must not import bot modules outside ``bot.fakes``.
"""

from __future__ import annotations

from bot.fakes.slack.blocks import validate_blocks
from bot.fakes.slack.limits import (
    IN_FLIGHT_GRACE,
    POST_MESSAGE_BURST,
    POST_MESSAGE_PER_SECOND,
    TIER_PER_MINUTE,
)
from bot.fakes.slack.records import Channel, Ephemeral, Message, RecordedCall, WindowViolation
from bot.fakes.slack.response_urls import RESPONSE_URL_MAX_USES, RESPONSE_URL_TTL_SECONDS
from bot.fakes.slack.server import FakeSlack, main
from bot.fakes.slack.state import DEFAULT_SCOPES, MAX_TEXT_LENGTH

__all__ = [
    "DEFAULT_SCOPES",
    "IN_FLIGHT_GRACE",
    "MAX_TEXT_LENGTH",
    "POST_MESSAGE_BURST",
    "POST_MESSAGE_PER_SECOND",
    "RESPONSE_URL_MAX_USES",
    "RESPONSE_URL_TTL_SECONDS",
    "TIER_PER_MINUTE",
    "Channel",
    "Ephemeral",
    "FakeSlack",
    "Message",
    "RecordedCall",
    "WindowViolation",
    "main",
    "validate_blocks",
]
