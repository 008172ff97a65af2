"""The fake Slack (bot/fakes/slack/server.py, being split into modules): its names, as before."""

from __future__ import annotations

from bot.fakes.slack.server import (
    DEFAULT_SCOPES,
    IN_FLIGHT_GRACE,
    MAX_TEXT_LENGTH,
    POST_MESSAGE_BURST,
    POST_MESSAGE_PER_SECOND,
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_SECONDS,
    TIER_PER_MINUTE,
    Channel,
    Ephemeral,
    FakeSlack,
    Message,
    RecordedCall,
    WindowViolation,
    main,
    validate_blocks,
)

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
