"""A fake Slack Socket Mode endpoint: a real WebSocket server plus the Web API in front of it.

The bot connects the way it connects to Slack, with slack_sdk's built-in SocketModeClient::

    with FakeSlack() as slack, FakeSocketMode(slack) as sm:
        env["SLACK_API_URL"] = sm.api_url          # apps.connections.open + every other method
        env["SLACK_APP_TOKEN"] = sm.app_token
        ...start `polytomic-bot socket`...
        sm.wait_connections(1)
        envelope = sm.send_slash_command("help", user_id="U1", channel_id="C1",
                                         response_url=slack.response_url())
        ack = sm.wait_ack(envelope, timeout=3)     # {"envelope_id": ..., "payload": {...}}
        ack.elapsed                                # seconds from the envelope to its ack

Two servers on 127.0.0.1, ephemeral ports:

* ``api_url`` (``http://127.0.0.1:P/api/``): answers ``apps.connections.open`` itself (only
  for the app-level token, ``xapp-…``, as Slack does: ``not_authed`` without a token,
  ``not_allowed_token_type`` for a bot token, ``invalid_auth`` for another ``xapp-``) with a
  one-use ``ws://127.0.0.1:W/link/?ticket=…&app_id=…`` URL, and forwards every other request
  byte for byte to the FakeSlack instance (so its records, faults and state all still apply).
* ``ws_url``: the WebSocket server (the ``websockets`` package, sync API, one thread per
  connection). A connection needs a ticket issued by ``apps.connections.open`` that was not
  used yet (HTTP 401 otherwise). On connect it sends ``hello`` like Slack; ping/pong is the
  WebSocket protocol's (the built-in client pings every ``ping_interval`` and answers pings).

Envelopes go to the newest open connection unless a connection id is given: slash commands,
button clicks (``interactive``) and Events API events (``send_events_api``: ``events_api``
envelopes with ``retry_attempt``, e.g. an app_home_opened from ``bot.fakes.signing``). Everything is
recorded: ``connections``, ``frames`` (both directions, parsed JSON), ``open_calls``, ``acks``;
anything the client sends that is not a well-formed ack of a known envelope lands in
``problems`` (a test fixture should assert it stays empty).

The package: `server` (FakeSocketMode: the parts put together, started and stopped), `state`
(its settings and state behind one lock, and its addresses), `websocket` (the WebSocket side:
tickets, hello, envelopes, acks, refreshes), `web_api` (apps.connections.open and the proxy to
the FakeSlack), `records` (what is recorded and handed out). FakeSocketMode is one object with
one lock, so its methods are grouped into mixins of `state.SocketModeState`.

This package must not import bot modules outside ``bot.fakes``.
"""

from __future__ import annotations

from bot.fakes.socket_mode.records import Ack, Frame, OpenCall, SocketConnection
from bot.fakes.socket_mode.server import FakeSocketMode
from bot.fakes.socket_mode.state import DEFAULT_APP_TOKEN

__all__ = ["DEFAULT_APP_TOKEN", "Ack", "FakeSocketMode", "Frame", "OpenCall", "SocketConnection"]
