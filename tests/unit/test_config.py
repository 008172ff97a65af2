"""bot.config.load_settings: defaults, what each mode needs, and the one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_DATABASE_FILE,
    POLYTOMIC_API_VERSIONS,
    SETTINGS_HELP,
    ConfigError,
    Mode,
    Settings,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]

BOT_TOKEN = "xoxb-1111-2222-SECRETBOTTOKEN"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
APP_TOKEN = "xapp-1-A111-2222-SECRETAPPTOKEN"
API_KEY = "pk_live_SECRETPOLYTOMICKEY"

SERVE_ENV = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "POLYTOMIC_API_KEY": API_KEY,
}
SOCKET_ENV = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "POLYTOMIC_API_KEY": API_KEY}
WORKER_ENV = {"SLACK_BOT_TOKEN": BOT_TOKEN, "POLYTOMIC_API_KEY": API_KEY}
ENV_FOR = {Mode.SERVE: SERVE_ENV, Mode.SOCKET: SOCKET_ENV, Mode.WORKER: WORKER_ENV, Mode.DATABASE: {}}


def load(mode: Mode = Mode.SERVE, /, **changes: str | None) -> Settings:
    env = dict(ENV_FOR[mode])
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return load_settings(mode, env)


def error_of(mode: Mode = Mode.SERVE, /, **changes: str | None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(mode, **changes)
    return caught.value


def assert_good_error(error: ConfigError, variable: str, *secrets: str) -> None:
    line = str(error)
    assert error.variable == variable
    assert line.startswith(variable + " ")
    assert "\n" not in line and "\r" not in line
    for secret in (*secrets, BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, API_KEY):
        assert secret not in line
        assert secret not in repr(error)


# ---- defaults ----------------------------------------------------------------------------


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load()
    assert settings.slack_bot_token == BOT_TOKEN
    assert settings.slack_signing_secret == SIGNING_SECRET
    assert settings.polytomic_api_key == API_KEY
    assert settings.slack_app_token is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.polytomic_deployment_url == "https://app.polytomic.com"
    assert settings.polytomic_api_version == "2025-09-18"
    assert settings.database_url == f"sqlite:///{tmp_path / DEFAULT_DATABASE_FILE}"
    assert settings.is_sqlite
    assert settings.port == 3000
    assert settings.bot_admins == frozenset()
    assert settings.incident_channel is None
    assert settings.poll_interval == 5.0
    assert settings.poll_timeout == 1800.0
    assert settings.slack_post_interval == 1.1
    assert settings.polytomic_deployment_key is None
    assert settings.polytomic_organization_id is None


def test_secrets_are_not_in_the_settings_repr() -> None:
    text = repr(load(DATABASE_URL="postgres://bot:dbpassword@db.example/bot"))
    for secret in (BOT_TOKEN, SIGNING_SECRET, API_KEY, "dbpassword"):
        assert secret not in text


def test_values_are_read() -> None:
    settings = load(
        PORT="8080",
        BOT_ADMINS=" U123 , W456,,",
        INCIDENT_CHANNEL="C0INCIDENTS",
        POLL_INTERVAL="0.5",
        POLL_TIMEOUT="600",
        POLYTOMIC_API_VERSION="2024-02-08",
        SLACK_API_URL="http://127.0.0.1:9999/api",
        SLACK_POST_INTERVAL="2.5",
    )
    assert settings.port == 8080
    assert settings.bot_admins == frozenset({"U123", "W456"})
    assert settings.incident_channel == "C0INCIDENTS"
    assert settings.poll_interval == 0.5
    assert settings.poll_timeout == 600.0
    assert settings.polytomic_api_version == "2024-02-08"
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.slack_post_interval == 2.5
    assert load(SLACK_POST_INTERVAL="0").slack_post_interval == 0.0  # paced only after a 429


def test_blank_values_count_as_unset() -> None:
    settings = load(PORT="  ", POLL_INTERVAL="", BOT_ADMINS=" ")
    assert (settings.port, settings.poll_interval, settings.bot_admins) == (3000, 5.0, frozenset())


@pytest.mark.parametrize("version", POLYTOMIC_API_VERSIONS)
def test_every_known_api_version_is_accepted(version: str) -> None:
    assert load(POLYTOMIC_API_VERSION=version).polytomic_api_version == version


# ---- required per mode -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "variable"),
    [
        (Mode.SERVE, "SLACK_BOT_TOKEN"),
        (Mode.SERVE, "SLACK_SIGNING_SECRET"),
        (Mode.SERVE, "POLYTOMIC_API_KEY"),
        (Mode.SOCKET, "SLACK_BOT_TOKEN"),
        (Mode.SOCKET, "SLACK_APP_TOKEN"),
        (Mode.SOCKET, "POLYTOMIC_API_KEY"),
        (Mode.WORKER, "SLACK_BOT_TOKEN"),
        (Mode.WORKER, "POLYTOMIC_API_KEY"),
    ],
)
@pytest.mark.parametrize("absent", [None, "", "   "])
def test_each_required_variable(mode: Mode, variable: str, absent: str | None) -> None:
    error = error_of(mode, **{variable: absent})
    assert_good_error(error, variable)
    assert "not set" in str(error)


def test_socket_mode_does_not_need_the_signing_secret() -> None:
    settings = load(Mode.SOCKET)
    assert settings.slack_app_token == APP_TOKEN
    assert settings.slack_signing_secret is None


def test_serve_does_not_need_the_app_token() -> None:
    assert load(Mode.SERVE).slack_app_token is None


def test_worker_needs_neither_signing_secret_nor_app_token() -> None:
    settings = load(Mode.WORKER)
    assert settings.slack_signing_secret is None and settings.slack_app_token is None


def test_database_mode_needs_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Mode.DATABASE, {})
    assert settings.slack_bot_token is None and settings.polytomic_api_key is None
    assert settings.database_url.endswith(DEFAULT_DATABASE_FILE)


def test_database_mode_still_validates_what_is_given() -> None:
    assert_good_error(error_of(Mode.DATABASE, DATABASE_URL="mysql://u:pw@h/db"), "DATABASE_URL", "pw@")


def test_a_deployment_key_with_organization_replaces_the_api_key() -> None:
    settings = load(
        POLYTOMIC_API_KEY=None, POLYTOMIC_DEPLOYMENT_KEY="dk-SECRET", POLYTOMIC_ORGANIZATION_ID="org1"
    )
    assert settings.polytomic_api_key is None
    assert settings.polytomic_deployment_key == "dk-SECRET"
    assert settings.polytomic_organization_id == "org1"


# ---- malformed values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-1111-2222-hunter2USERTOKEN"),
        ("SLACK_BOT_TOKEN", "xapp-1-hunter2WRONGKIND"),
        ("SLACK_BOT_TOKEN", "hunter2NOPREFIX"),
        ("SLACK_BOT_TOKEN", "xoxb-hunter2 WITH SPACE"),
        ("SLACK_SIGNING_SECRET", "hunter2 with spaces"),
        ("POLYTOMIC_API_KEY", "hunter2 key\twith tab"),
        ("PORT", "abc"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("PORT", "-1"),
        ("PORT", "80.5"),
        ("POLL_INTERVAL", "-1"),
        ("POLL_INTERVAL", "0"),
        ("POLL_INTERVAL", "nan"),
        ("POLL_INTERVAL", "inf"),
        ("POLL_INTERVAL", "abc"),
        ("POLL_TIMEOUT", "-5"),
        ("POLL_TIMEOUT", "soon"),
        ("LEASE_TTL", "0.1"),
        ("SLACK_POST_INTERVAL", "-1"),
        ("SLACK_POST_INTERVAL", "61"),
        ("SLACK_POST_INTERVAL", "nan"),
        ("SLACK_POST_INTERVAL", "fast"),
        ("BOT_ADMINS", "U123,bob"),
        ("BOT_ADMINS", "u123"),
        ("BOT_ADMINS", "<@U123>"),
        ("BOT_ADMINS", "S123"),
        ("INCIDENT_CHANNEL", "#incidents"),
        ("INCIDENT_CHANNEL", "incidents"),
        ("INCIDENT_CHANNEL", "U123"),
        ("DATABASE_URL", "mysql://bot:hunter2PW@db.example/bot"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "sqlite://"),
        ("POLYTOMIC_API_VERSION", "2020-01-01"),
        ("POLYTOMIC_API_VERSION", "latest"),
        ("POLYTOMIC_DEPLOYMENT_URL", "ftp://polytomic.example.com"),
        ("POLYTOMIC_DEPLOYMENT_URL", "https://polytomic.example.com:99999"),
        ("POLYTOMIC_DEPLOYMENT_URL", "not a host"),
        ("SLACK_API_URL", "slack.com/api"),
        ("SLACK_API_URL", "gopher://slack.com/api/"),
        ("LOG_LEVEL", "loud"),
    ],
)
def test_malformed_values(variable: str, value: str) -> None:
    error = error_of(**{variable: value})
    assert_good_error(error, variable, value if "hunter2" in value else "\x00")
    assert "malformed" in str(error)
    assert "hunter2" not in str(error)


def test_a_unicode_digit_port_is_a_config_error() -> None:
    assert_good_error(error_of(PORT="²"), "PORT")


def test_a_database_url_with_a_bad_port_is_a_config_error() -> None:
    error = error_of(DATABASE_URL="postgres://bot:hunter2@db.example:notaport/bot")
    assert_good_error(error, "DATABASE_URL", "hunter2")


def test_a_deployment_key_without_organization() -> None:
    error = error_of(POLYTOMIC_API_KEY=None, POLYTOMIC_DEPLOYMENT_KEY="dk-SECRETDEPLOY")
    assert_good_error(error, "POLYTOMIC_ORGANIZATION_ID", "dk-SECRETDEPLOY")


def test_both_polytomic_keys() -> None:
    error = error_of(POLYTOMIC_DEPLOYMENT_KEY="dk-SECRETDEPLOY", POLYTOMIC_ORGANIZATION_ID="org1")
    assert_good_error(error, "POLYTOMIC_DEPLOYMENT_KEY", "dk-SECRETDEPLOY")
    assert "POLYTOMIC_API_KEY" in str(error)


def test_every_error_explains_what_the_variable_should_hold() -> None:
    for variable, value in (("PORT", "abc"), ("INCIDENT_CHANNEL", "#incidents"), ("BOT_ADMINS", "x")):
        error = error_of(**{variable: value})
        assert "should hold" in str(error)
        assert re.search(r"\w", error.expected)


# ---- normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://bot:pw@db.example:5432/bot", "postgresql+psycopg://bot:pw@db.example:5432/bot"),
        ("postgresql://bot:pw@db.example/bot", "postgresql+psycopg://bot:pw@db.example/bot"),
        ("postgresql+psycopg://bot@db.example/bot", "postgresql+psycopg://bot@db.example/bot"),
        ("sqlite:////var/lib/bot/bot.db", "sqlite:////var/lib/bot/bot.db"),
    ],
)
def test_database_urls(given: str, expected: str) -> None:
    settings = load(DATABASE_URL=given)
    assert settings.database_url == expected
    assert settings.is_sqlite is expected.startswith("sqlite")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("polytomic.example.com", "https://polytomic.example.com"),
        ("polytomic.example.com/", "https://polytomic.example.com"),
        ("polytomic.example.com:8443", "https://polytomic.example.com:8443"),
        ("http://polytomic.internal:8080", "http://polytomic.internal:8080"),
        ("https://polytomic.example.com:8443/", "https://polytomic.example.com:8443"),
        ("http://127.0.0.1:5555", "http://127.0.0.1:5555"),
    ],
)
def test_polytomic_deployment_url(given: str, expected: str) -> None:
    assert load(POLYTOMIC_DEPLOYMENT_URL=given).polytomic_deployment_url == expected


# ---- .env.example --------------------------------------------------------------------------


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    assert set(SETTINGS_HELP) <= listed, set(SETTINGS_HELP) - listed
    assert listed <= set(SETTINGS_HELP), listed - set(SETTINGS_HELP)
    # each with a line of explanation right above it
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert index > 0 and lines[index - 1].startswith("#"), line
            assert line.split("=", 1)[1] == "", f"{line}: .env.example must hold no values"
