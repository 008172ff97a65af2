"""Structured logs: one JSON object per line, with the operation ID when there is one.

Secrets never reach a log line: the code does not log them, and as a second line of defence a
filter masks every configured secret value wherever it would appear.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.config import Settings

# Attributes of a LogRecord that are not extras passed by the caller.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            for key, value in list(vars(record).items()):
                if key not in _STANDARD and isinstance(value, str):
                    setattr(record, key, self.redact(value))
        return True


class AlembicChatter(logging.Filter):
    """Drops the two lines Alembic logs whenever it looks at a database ("Context impl …",
    "Will assume … DDL"): /readyz and `grants` look on every call. "Running upgrade …" stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(
        RedactSecrets(
            [
                settings.slack_bot_token,
                settings.slack_signing_secret,
                settings.slack_app_token,
                settings.polytomic_api_key,
                settings.polytomic_deployment_key,
                settings.polytomic_webhook_secret,
            ]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Request-level chatter from the libraries would drown the bot's own lines, and at DEBUG it
    # holds what must never be logged: slack_sdk logs each response_url and body it sends and
    # Bolt each Socket Mode envelope (bot/app.py hands Bolt the `slack_bolt` logger so that this
    # level holds for it), SQLAlchemy each statement's parameters, httpcore each header.
    for noisy in (
        "httpx",
        "httpcore",
        "urllib3",
        "slack_sdk",
        "slack_bolt",
        "sqlalchemy",
        "psycopg",
        "waitress",
        "alembic.runtime.plugins",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    migration = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, AlembicChatter) for f in migration.filters):
        migration.addFilter(AlembicChatter())
