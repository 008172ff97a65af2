"""Building the Bolt app logs nothing an operator would take for a misconfiguration: Bolt reads
SLACK_BOT_TOKEN from the environment by itself and warns that it ignores it (the bot hands the
token over through `authorize`); bot/app.py leaves those two notices out, and only those."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import StartupNotices, create_bolt_app
from bot.config import Mode, load_settings
from bot.db import migrate
from bot.services import build_services

ENV = {
    "SLACK_BOT_TOKEN": "xoxb-test-token",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "POLYTOMIC_API_KEY": "test-polytomic-key",
}


def test_building_the_app_with_the_token_in_the_environment_warns_of_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)  # where Bolt looks for the token itself
    settings = load_settings(Mode.SERVE, {**ENV, "DATABASE_URL": url})
    services = build_services(settings, with_tracker=False, responders=1)
    try:
        with caplog.at_level(logging.WARNING, logger="slack_bolt"):
            create_bolt_app(services)
    finally:
        services.stop(1)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")] == []
    # Only while the app is built: afterwards Bolt's warnings reach the log again.
    assert not any(isinstance(f, StartupNotices) for f in logging.getLogger("slack_bolt").filters)


def test_the_filter_drops_exactly_bolts_two_token_notices() -> None:
    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("slack_bolt", logging.WARNING, __file__, 1, message, None, None)

    notices = StartupNotices()
    assert len(StartupNotices.NOTICES) == 2
    for message in StartupNotices.NOTICES:
        assert not notices.filter(record(message))
    assert notices.filter(record("As you gave `client` as well, something else."))
    assert notices.filter(record("Failed to run listener function"))
