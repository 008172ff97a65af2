"""The demo bot's settings, made from nothing: no environment variable is read.

A shell with production settings exported (`DATABASE_URL`, `SLACK_*`, `POLYTOMIC_*`,
`BOT_ADMINS`, `INCIDENT_CHANNEL`) must not make the demo write its grants into production, post
to a real workspace or cancel a real sync. So the demo hands `load_settings` a mapping of its own
(the same validation as production), never `os.environ`; only `--database-url` changes the
database. Pure: no I/O.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from bot.config import Mode, Settings, load_settings

BOT_TOKEN = "xoxb-demo-bot-token"  # noqa: S105  (the fake Slack's; nothing real)
POLYTOMIC_KEY = "demo-polytomic-key"  # the fake Polytomic's


@dataclass(frozen=True)
class DemoUser:
    id: str
    name: str
    role: str  # what the page says about them


ADMIN = DemoUser("UDEMOADMIN", "Ada Admin", "bot admin (BOT_ADMINS): every permission")
ONCALL = DemoUser("UDEMOONCALL", "Omar On-call", "on-call engineer: cancel on every sync")
ANALYST = DemoUser("UDEMOANALYST", "Ana Analyst", "analyst: no grants")
USERS = (ADMIN, ONCALL, ANALYST)

CHANNEL = "CDEMODATA"  # #data-team, where the demo's people type
CHANNEL_NAME = "data-team"
INCIDENT_CHANNEL = "CDEMOINCIDENT"
INCIDENT_CHANNEL_NAME = "incidents"


@dataclass(frozen=True)
class Secrets:
    """Made afresh for every run: they only ever leave the process towards its own fakes."""

    signing_secret: str
    webhook_secret: str

    @classmethod
    def new(cls) -> Secrets:
        return cls(signing_secret=secrets.token_hex(16), webhook_secret=secrets.token_urlsafe(18)[:24])


def database_url(workdir: Path, flag: str | None) -> str:
    """`--database-url` when given, else a SQLite file in the demo's temporary directory."""
    return flag if flag else f"sqlite:///{workdir / 'demo.db'}"


def demo_environment(
    *, slack_api_url: str, polytomic_url: str, database_url: str, port: int, keys: Secrets
) -> dict[str, str]:
    """Every variable the bot reads, as the demo sets it (the fakes' URLs and credentials)."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": keys.signing_secret,
        "SLACK_API_URL": slack_api_url,
        "POLYTOMIC_API_KEY": POLYTOMIC_KEY,
        "POLYTOMIC_DEPLOYMENT_URL": polytomic_url,
        "POLYTOMIC_WEBHOOK_SECRET": keys.webhook_secret,
        "POLYTOMIC_EVENTS_INTERVAL": "30",
        "DATABASE_URL": database_url,
        "PORT": str(port or 3000),  # the demo listens itself; PORT only has to be valid
        "BOT_ADMINS": ADMIN.id,
        "INCIDENT_CHANNEL": INCIDENT_CHANNEL,
        "POLL_INTERVAL": "1",
        "POLL_TIMEOUT": "300",
        "LOG_LEVEL": "WARNING",
        "LIST_CACHE_SECONDS": "2",
        "POLYTOMIC_SYNC_URL": "none",  # the demo's syncs are in no Polytomic web app
    }


def demo_settings(
    *, slack_api_url: str, polytomic_url: str, database_url: str, port: int, keys: Secrets
) -> Settings:
    """The settings `serve` would load from `demo_environment`, checked the same way."""
    env = demo_environment(
        slack_api_url=slack_api_url,
        polytomic_url=polytomic_url,
        database_url=database_url,
        port=port,
        keys=keys,
    )
    return load_settings(Mode.SERVE, env)
