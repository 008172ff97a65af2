"""FakeSocketMode's settings and state, behind one lock (and a condition that wakes waiters).

Both halves of the fake derive from `SocketModeState`: the WebSocket side (websocket.py) and
the Web API in front (web_api.py); server.py puts them together. The constructor is here, with
the fake's settings, and so are its two addresses.
"""

from __future__ import annotations

import itertools
import threading
from http.server import ThreadingHTTPServer

import httpx
from websockets.sync.server import Server

from bot.fakes.slack import FakeSlack
from bot.fakes.socket_mode.records import Envelope, Frame, OpenCall, OpenFault, SocketConnection

DEFAULT_APP_TOKEN = "xapp-1-test"


class SocketModeState:
    """The settings and state of one FakeSocketMode."""

    def __init__(
        self,
        slack: FakeSlack,
        app_token: str = DEFAULT_APP_TOKEN,
        *,
        app_id: str | None = None,
        host: str = "127.0.0.1",
        send_hello: bool = True,
        ws_ping_interval: float | None = 20,
    ) -> None:
        self.slack = slack
        self.app_token = app_token
        self.app_id = app_id or slack.app_id
        self.send_hello = send_hello
        self._host = host
        self._ws_ping_interval = ws_ping_interval

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self._connections: list[SocketConnection] = []
        self._frames: list[Frame] = []
        self._open_calls: list[OpenCall] = []
        self._envelopes: dict[str, Envelope] = {}
        self._problems: list[str] = []
        self._open_faults: list[OpenFault] = []
        self._ids = itertools.count(1)
        self._timers: list[threading.Timer] = []

        self._ws_server: Server | None = None
        self._ws_thread: threading.Thread | None = None
        self._api_server: ThreadingHTTPServer | None = None  # web_api.ApiServer
        self._api_thread: threading.Thread | None = None
        self._http: httpx.Client | None = None

    @property
    def ws_port(self) -> int:
        if self._ws_server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._ws_server.socket.getsockname()[1])

    @property
    def api_port(self) -> int:
        if self._api_server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._api_server.server_address[1])

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self.ws_port}/link/"

    @property
    def api_url(self) -> str:
        """SLACK_API_URL for the bot: apps.connections.open here, the rest to FakeSlack."""
        return f"http://{self._host}:{self.api_port}/api/"

    def _problem(self, text: str) -> None:
        with self._changed:
            self._problems.append(text)
            self._changed.notify_all()
