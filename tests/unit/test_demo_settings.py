"""The demo's settings come from the demo, never from the environment (bot/demo/settings.py):
a shell with production settings exported must not point the demo at production."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import settings as demo

PRODUCTION = {
    "DATABASE_URL": "postgresql://bot:prod-password@db.internal/polytomic_bot",
    "SLACK_BOT_TOKEN": "xoxb-production-token",
    "SLACK_SIGNING_SECRET": "production-signing-secret",
    "SLACK_APP_TOKEN": "xapp-production",
    "SLACK_API_URL": "https://slack.com/api/",
    "POLYTOMIC_API_KEY": "production-polytomic-key",
    "POLYTOMIC_DEPLOYMENT_URL": "https://app.polytomic.com",
    "POLYTOMIC_WEBHOOK_SECRET": "production-webhook",
    "BOT_ADMINS": "UPRODADMIN",
    "INCIDENT_CHANNEL": "CPRODINCIDENT",
    "POLL_INTERVAL": "60",
    "LOG_LEVEL": "DEBUG",
    "POLYTOMIC_SYNC_URL": "https://polytomic.internal/syncs/{sync_id}",
}


def _settings(tmp_path: Path, flag: str | None = None) -> demo.Settings:
    return demo.demo_settings(
        slack_api_url="http://127.0.0.1:5001/api/",
        polytomic_url="http://127.0.0.1:5002",
        database_url=demo.database_url(tmp_path, flag),
        port=0,
        keys=demo.Secrets.new(),
    )


def test_production_settings_in_the_environment_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    settings = _settings(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'demo.db'}"
    assert settings.slack_api_url == "http://127.0.0.1:5001/api/"
    assert settings.polytomic_deployment_url == "http://127.0.0.1:5002"
    assert settings.slack_bot_token == demo.BOT_TOKEN
    assert settings.polytomic_api_key == demo.POLYTOMIC_KEY
    assert settings.bot_admins == frozenset({demo.ADMIN.id})
    assert settings.incident_channel == demo.INCIDENT_CHANNEL
    assert settings.slack_app_token is None
    assert settings.poll_interval == 1.0
    assert settings.sync_url is None  # no link out of the demo
    production_values = set(PRODUCTION.values())
    for value in vars(settings).values():
        assert value not in production_values


def test_only_the_flag_changes_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", PRODUCTION["DATABASE_URL"])
    flag = f"sqlite:///{tmp_path / 'mine.db'}"
    assert _settings(tmp_path, flag).database_url == flag


def test_secrets_are_new_for_every_run() -> None:
    first, second = demo.Secrets.new(), demo.Secrets.new()
    assert first.signing_secret != second.signing_secret
    assert first.webhook_secret != second.webhook_secret
    assert 6 <= len(first.webhook_secret) <= 32  # Polytomic's rule, which config.py checks


def test_the_three_users_are_distinct_and_only_the_admin_is_an_admin(tmp_path: Path) -> None:
    assert len({user.id for user in demo.USERS}) == 3
    assert _settings(tmp_path).bot_admins == frozenset({demo.ADMIN.id})
