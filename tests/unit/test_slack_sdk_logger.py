"""The logger bot.slack_http gives slack_sdk's clients: it answers slack_sdk's `logger.level`
with the level in effect, so slack_sdk builds its debug line of a whole request (every block,
rendered with repr) only when that line would be logged."""

from __future__ import annotations

import logging

from bot.slack_http import sdk_logger


def test_slack_sdks_logger_reports_the_level_in_effect() -> None:
    """slack_sdk builds its debug line of a whole request when `logger.level <= DEBUG`: the
    logger it is given answers with the level in effect, not NOTSET."""
    sdk = logging.getLogger("slack_sdk")
    child = logging.getLogger("slack_sdk.web.base_client")
    assert child.level == logging.NOTSET  # as slack_sdk leaves it: 0 <= DEBUG, always
    before = sdk.level
    try:
        sdk.setLevel(logging.WARNING)
        logger = sdk_logger("slack_sdk.web.base_client")
        assert logger.level == logging.WARNING
        sdk.setLevel(logging.DEBUG)
        assert logger.level == logging.DEBUG  # followed as it changes
        assert logger.name == "slack_sdk.web.base_client"
    finally:
        sdk.setLevel(before)
