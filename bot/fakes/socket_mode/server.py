"""FakeSocketMode itself: the WebSocket side and the Web API in front put together, started
and stopped.
"""

from __future__ import annotations

import threading

import httpx
from websockets.sync.server import serve

from bot.fakes.socket_mode.web_api import ApiServer, WebApiFront
from bot.fakes.socket_mode.websocket import Sockets


class FakeSocketMode(Sockets, WebApiFront):
    """Fake Socket Mode (WebSocket) + apps.connections.open, in front of a FakeSlack.

    Its constructor, with the fake's settings, is SocketModeState's (state.py).
    """

    def start(self) -> FakeSocketMode:
        if self._ws_server is not None:
            raise RuntimeError("FakeSocketMode already started")
        if not self.slack.running:
            raise RuntimeError("start the FakeSlack first")
        self._ws_server = serve(
            self._handle_connection,
            self._host,
            0,
            process_request=self._check_ticket,
            compression=None,
            ping_interval=self._ws_ping_interval,
            ping_timeout=20,
            close_timeout=1,
            max_size=2**22,
        )
        self._ws_thread = threading.Thread(
            target=self._ws_server.serve_forever, name="FakeSocketMode:ws", daemon=True
        )
        self._ws_thread.start()
        self._http = httpx.Client(timeout=60)
        self._api_server = ApiServer((self._host, 0), self)
        self._api_thread = threading.Thread(
            target=self._api_server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeSocketMode:api",
            daemon=True,
        )
        self._api_thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        if self._api_server is not None:
            self._api_server.shutdown()
            self._api_server.server_close()
            if self._api_thread is not None:
                self._api_thread.join(timeout=5)
            self._api_server = None
        if self._ws_server is not None:
            # Closes open connections (1001) and waits for their handlers.
            self._ws_server.shutdown()
            if self._ws_thread is not None:
                self._ws_thread.join(timeout=5)
            self._ws_server = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> FakeSocketMode:
        if self._ws_server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.ws_url if self._ws_server is not None else "not started"
        return f"<FakeSocketMode {where} connections={len(self._connections)} frames={len(self._frames)}>"
