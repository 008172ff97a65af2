"""Settings: read from the environment here and nowhere else, validated at start-up.

Each process mode needs a different subset (HTTP needs the signing secret, Socket Mode the
app token, `migrate` only the database), so `load_settings` takes the mode and reports the
first problem as one line that names the variable. Secret values are never echoed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

POLYTOMIC_API_VERSIONS = ("2025-09-18", "2024-02-08", "2023-04-25", "2022-12-12", "2021-05-23")
DEFAULT_POLYTOMIC_URL = "https://app.polytomic.com"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_FILE = "polytomic-bot.db"
# Slack allows about 1 post a second per channel; a little wider, so jitter causes no 429s.
DEFAULT_SLACK_POST_INTERVAL = 1.1
# views.publish is Tier 4 (100+ a minute): one every 0.6 s on average, per process.
DEFAULT_SLACK_VIEWS_INTERVAL = 0.6
# The web app's page of a sync, on Polytomic's hosted deployment (an on-premises one names its own).
DEFAULT_SYNC_URL = "https://app.polytomic.com/models/syncs/{sync_id}"

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")


class Mode(Enum):
    """What the process is about to do; decides which settings are required."""

    SERVE = "serve"  # HTTP app + tracker
    SOCKET = "socket"  # Socket Mode app + tracker
    WORKER = "worker"  # tracker alone
    DATABASE = "database"  # migrate, grant, revoke, grants: the database only
    CHECK = "check"  # report every problem instead of stopping at the first


class ConfigError(Exception):
    """One bad setting. `str()` is the one line an operator sees; it never holds a value."""

    def __init__(self, variable: str, problem: str, expected: str) -> None:
        self.variable = variable
        self.problem = problem
        self.expected = expected
        super().__init__(f"{variable} {problem}: {expected}")


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    slack_post_interval: float = DEFAULT_SLACK_POST_INTERVAL
    slack_views_interval: float = DEFAULT_SLACK_VIEWS_INTERVAL  # between views.publish calls
    polytomic_api_key: str | None = field(default=None, repr=False)
    polytomic_deployment_key: str | None = field(default=None, repr=False)
    polytomic_organization_id: str | None = None
    polytomic_deployment_url: str = DEFAULT_POLYTOMIC_URL
    polytomic_api_version: str = POLYTOMIC_API_VERSIONS[0]
    database_url: str = field(default="", repr=False)  # may embed a password
    port: int = 3000
    bot_admins: frozenset[str] = frozenset()
    incident_channel: str | None = None
    poll_interval: float = 5.0
    poll_timeout: float = 1800.0
    lease_ttl: float = 30.0
    list_cache: float = 15.0  # seconds listings of syncs are shared (bot/answers/listing.py)
    log_level: str = "INFO"
    polytomic_webhook_secret: str | None = field(default=None, repr=False)
    events_interval: float = 30.0  # POLYTOMIC_EVENTS_INTERVAL; 0: the events poller is off
    # POLYTOMIC_SYNC_URL: where a sync is seen in Polytomic's web app ({sync_id} is replaced);
    # None: alerts link to nothing (an unknown pattern would make a dead link).
    sync_url: str | None = DEFAULT_SYNC_URL

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


# Names and one-line explanations; .env.example and README are written from the same list.
SETTINGS_HELP: dict[str, str] = {
    "SLACK_BOT_TOKEN": "the bot token, xoxb-… (OAuth & Permissions page of the Slack app)",
    "SLACK_SIGNING_SECRET": "the Slack app's signing secret (Basic Information → App Credentials)",
    "SLACK_APP_TOKEN": "an app-level token, xapp-…, with connections:write (Socket Mode only)",
    "SLACK_API_URL": "base URL of the Slack Web API ending in /api/",
    "SLACK_POST_INTERVAL": "seconds between posts in one channel per process, 0 to 60 (0: only after a 429)",
    "SLACK_VIEWS_INTERVAL": "seconds between Home tab publishes (views.publish) per process, 0 to 60 "
    "(0: only after a 429)",
    "POLYTOMIC_API_KEY": "a Polytomic API key (Settings → API keys), sent as a Bearer token",
    "POLYTOMIC_DEPLOYMENT_KEY": "an on-premises deployment key, used with POLYTOMIC_ORGANIZATION_ID",
    "POLYTOMIC_ORGANIZATION_ID": "the organization ID that goes with POLYTOMIC_DEPLOYMENT_KEY",
    "POLYTOMIC_DEPLOYMENT_URL": "a host name or URL of the Polytomic deployment",
    "POLYTOMIC_API_VERSION": "one of " + ", ".join(POLYTOMIC_API_VERSIONS),
    "DATABASE_URL": "an SQLAlchemy URL: sqlite:///path.db or postgres://user:pass@host/db",
    "PORT": "the TCP port the HTTP app listens on (1-65535)",
    "BOT_ADMINS": "comma-separated Slack user IDs (U…/W…) that hold every permission",
    "INCIDENT_CHANNEL": "a Slack channel ID (C…/G…), not a #name, that hears of every cancellation",
    "POLL_INTERVAL": "seconds between status polls of a cancelling execution (a number > 0)",
    "POLL_TIMEOUT": "seconds of canceling after which the bot escalates (a number > 0)",
    "LEASE_TTL": "seconds a process may hold an operation before another may take it over (>= 1)",
    "LIST_CACHE_SECONDS": "seconds a listing of syncs is shared between askers, 0 to 300",
    "LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "POLYTOMIC_WEBHOOK_SECRET": "the secret Polytomic signs webhook deliveries with, 6 to 32 characters "
    "(unset: POST /polytomic/webhook answers 404)",
    "POLYTOMIC_EVENTS_INTERVAL": "seconds between reads of Polytomic's events API, the webhook's backstop "
    "(0 turns it off; default 30)",
    "POLYTOMIC_SYNC_URL": "a sync's page in Polytomic's web app, an http(s) URL with {sync_id} in it, or "
    "'none' for no link (default " + DEFAULT_SYNC_URL + ")",
}
WEBHOOK_SECRET_LENGTH = (6, 32)  # Polytomic's rule for a webhook's secret


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _missing(name: str) -> ConfigError:
    return ConfigError(name, "is not set", f"it should hold {SETTINGS_HELP[name]}")


def _malformed(name: str, detail: str | None = None) -> ConfigError:
    expected = detail or SETTINGS_HELP[name]
    return ConfigError(name, "is malformed", f"it should hold {expected}")


def _token(env: Mapping[str, str], name: str, prefix: str, required: bool) -> str | None:
    value = _get(env, name)
    if value is None:
        if required:
            raise _missing(name)
        return None
    if not value.startswith(prefix) or any(c.isspace() for c in value):
        raise _malformed(name)
    return value


def _secret(env: Mapping[str, str], name: str, required: bool) -> str | None:
    value = _get(env, name)
    if value is None:
        if required:
            raise _missing(name)
        return None
    if any(c.isspace() for c in value):
        raise _malformed(name)
    return value


def _webhook_secret(env: Mapping[str, str]) -> str | None:
    name = "POLYTOMIC_WEBHOOK_SECRET"
    value = _secret(env, name, required=False)
    low, high = WEBHOOK_SECRET_LENGTH
    if value is not None and not (low <= len(value) <= high and value.isprintable() and value.isascii()):
        raise _malformed(name)
    return value


def _events_interval(env: Mapping[str, str]) -> float:
    name = "POLYTOMIC_EVENTS_INTERVAL"
    number = _number(env, name, 30.0, minimum=0.0)
    if 0 < number < 0.05:
        raise _malformed(name)
    return number


def _sync_url(env: Mapping[str, str]) -> str | None:
    name = "POLYTOMIC_SYNC_URL"
    value = _get(env, name)
    if value is None:
        return DEFAULT_SYNC_URL
    if value.lower() == "none":
        return None
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or value.count("{sync_id}") != 1
        or any(c.isspace() or c in "<>|" for c in value)
        or "{" in value.replace("{sync_id}", "")
    ):
        raise _malformed(name)
    return value


def _http_url(env: Mapping[str, str], name: str, default: str, *, bare_host_ok: bool) -> str:
    value = _get(env, name)
    if value is None:
        return default
    if "://" not in value:
        if not bare_host_ok or not _HOST.match(value.rstrip("/")):
            raise _malformed(name)
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _malformed(name)
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise _malformed(name) from None
    return value


def shown_url(url: str) -> str:
    """`url` as it may be printed or logged: without the `user:password@` a URL may carry."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    value = _get(env, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise _malformed(name) from None
    if not (number >= minimum) or number == float("inf"):  # also rejects NaN
        raise _malformed(name)
    return number


def normalize_database_url(value: str) -> str:
    """Accept the `postgres://` form hosting platforms hand out; use psycopg 3 for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    return value


def default_database_url(cwd: Path | None = None) -> str:
    return f"sqlite:///{(cwd or Path.cwd()) / DEFAULT_DATABASE_FILE}"


def _database_url(env: Mapping[str, str]) -> str:
    value = _get(env, "DATABASE_URL")
    if value is None:
        return default_database_url()
    value = normalize_database_url(value)
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise _malformed("DATABASE_URL") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise _malformed("DATABASE_URL", "a sqlite:/// or postgres:// URL (no other database is supported)")
    if url.get_backend_name() == "sqlite" and not url.database:
        raise _malformed("DATABASE_URL", "a SQLite file path, e.g. sqlite:///polytomic-bot.db")
    return value


def _polytomic_credentials(
    env: Mapping[str, str], required: bool
) -> tuple[str | None, str | None, str | None]:
    api_key = _secret(env, "POLYTOMIC_API_KEY", required=False)
    deployment_key = _secret(env, "POLYTOMIC_DEPLOYMENT_KEY", required=False)
    organization_id = _get(env, "POLYTOMIC_ORGANIZATION_ID")
    if api_key and deployment_key:
        raise ConfigError(
            "POLYTOMIC_DEPLOYMENT_KEY",
            "is set together with POLYTOMIC_API_KEY",
            "set one of them: an API key, or a deployment key with POLYTOMIC_ORGANIZATION_ID",
        )
    if deployment_key and not organization_id:
        raise _missing("POLYTOMIC_ORGANIZATION_ID")
    if required and not api_key and not deployment_key:
        raise _missing("POLYTOMIC_API_KEY")
    return api_key, deployment_key, organization_id


def _user_ids(env: Mapping[str, str], name: str) -> frozenset[str]:
    value = _get(env, name)
    if value is None:
        return frozenset()
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not all(_USER_ID.match(i) for i in ids):
        raise _malformed(name)
    return frozenset(ids)


def _channel_id(env: Mapping[str, str], name: str) -> str | None:
    value = _get(env, name)
    if value is None:
        return None
    if not _CHANNEL_ID.match(value):
        raise _malformed(name)
    return value


def load_settings(mode: Mode, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings `mode` needs; raise ConfigError on the first bad one."""
    env = os.environ if environ is None else environ
    needs_slack = mode in (Mode.SERVE, Mode.SOCKET, Mode.WORKER)

    port_value = _get(env, "PORT")
    port = 3000
    if port_value is not None:
        if not (port_value.isascii() and port_value.isdigit()) or not 1 <= int(port_value) <= 65535:
            raise _malformed("PORT")
        port = int(port_value)

    log_level = (_get(env, "LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise _malformed("LOG_LEVEL")

    api_version = _get(env, "POLYTOMIC_API_VERSION") or POLYTOMIC_API_VERSIONS[0]
    if api_version not in POLYTOMIC_API_VERSIONS:
        raise _malformed("POLYTOMIC_API_VERSION")

    slack_api_url = _http_url(env, "SLACK_API_URL", DEFAULT_SLACK_API_URL, bare_host_ok=False)
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"
    post_interval = _number(env, "SLACK_POST_INTERVAL", DEFAULT_SLACK_POST_INTERVAL, minimum=0.0)
    if post_interval > 60:
        raise _malformed("SLACK_POST_INTERVAL")
    views_interval = _number(env, "SLACK_VIEWS_INTERVAL", DEFAULT_SLACK_VIEWS_INTERVAL, minimum=0.0)
    if views_interval > 60:
        raise _malformed("SLACK_VIEWS_INTERVAL")
    list_cache = _number(env, "LIST_CACHE_SECONDS", 15.0, minimum=0.0)
    if list_cache > 300:
        raise _malformed("LIST_CACHE_SECONDS")

    api_key, deployment_key, organization_id = _polytomic_credentials(env, required=needs_slack)
    return Settings(
        slack_bot_token=_token(env, "SLACK_BOT_TOKEN", "xoxb-", required=needs_slack),
        slack_signing_secret=_secret(env, "SLACK_SIGNING_SECRET", required=mode is Mode.SERVE),
        slack_app_token=_token(env, "SLACK_APP_TOKEN", "xapp-", required=mode is Mode.SOCKET),
        slack_api_url=slack_api_url,
        slack_post_interval=post_interval,
        slack_views_interval=views_interval,
        polytomic_api_key=api_key,
        polytomic_deployment_key=deployment_key,
        polytomic_organization_id=organization_id,
        polytomic_deployment_url=_http_url(
            env, "POLYTOMIC_DEPLOYMENT_URL", DEFAULT_POLYTOMIC_URL, bare_host_ok=True
        ).rstrip("/"),
        polytomic_api_version=api_version,
        database_url=_database_url(env),
        port=port,
        bot_admins=_user_ids(env, "BOT_ADMINS"),
        incident_channel=_channel_id(env, "INCIDENT_CHANNEL"),
        poll_interval=_number(env, "POLL_INTERVAL", 5.0, minimum=0.01),
        poll_timeout=_number(env, "POLL_TIMEOUT", 1800.0, minimum=0.01),
        lease_ttl=_number(env, "LEASE_TTL", 30.0, minimum=1.0),
        list_cache=list_cache,
        log_level=log_level,
        polytomic_webhook_secret=_webhook_secret(env),
        events_interval=_events_interval(env),
        sync_url=_sync_url(env),
    )
