"""Socket Mode transport: Bolt's built-in handler with a prompt connection switch.

slack_sdk's built-in client reads one connection at a time on one thread. When Slack asks it to
reconnect (`disconnect` / `refresh_requested`, routinely), that thread stays blocked reading the
old socket for up to its receive timeout (about 3 s) before it reads the new one, so an envelope
arriving on the new connection is acked after Slack's 3-second deadline. Shutting the old socket
down before it is closed wakes the blocked read at once. The old socket is still only closed
after the new one is up, so nothing sent on it is lost.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient


def _wake(session: Any) -> None:
    sock = getattr(session, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class PromptSwitchClient(SocketModeClient):
    def connect(self) -> None:
        old = self.current_session
        if old is not None:
            close = old.close

            def close_promptly() -> None:  # called by super().connect() once the new socket is up
                _wake(old)
                close()

            old.close = close_promptly  # type: ignore[method-assign]
        super().connect()

    def close(self) -> None:
        _wake(self.current_session)
        super().close()


def make_handler(app: App, app_token: str, web_client: WebClient) -> SocketModeHandler:
    handler = SocketModeHandler(app, app_token, web_client=web_client)
    # Swap in the prompt-switch client before anything connects.
    handler.client.close()
    handler.client = PromptSwitchClient(
        app_token=app_token, logger=app.logger, web_client=web_client, ping_interval=10
    )
    handler.client.socket_mode_request_listeners.append(handler.handle)  # type: ignore[arg-type]
    return handler
