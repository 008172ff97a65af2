"""The fake Socket Mode (bot/fakes/socket_mode/websocket.py, being split): its names, as before."""

from __future__ import annotations

from bot.fakes.socket_mode.websocket import (
    DEFAULT_APP_TOKEN,
    Ack,
    FakeSocketMode,
    Frame,
    OpenCall,
    SocketConnection,
)

__all__ = ["DEFAULT_APP_TOKEN", "Ack", "FakeSocketMode", "Frame", "OpenCall", "SocketConnection"]
