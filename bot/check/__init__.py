"""`polytomic-bot check`: verify the set-up and say, one line per check, what to fix.

Every check runs even when an earlier one failed; a check that needs a setting that is
missing or malformed fails and names it. Each check is bounded: remote calls time out after
CALL_TIMEOUT seconds and the check as a whole is abandoned after CHECK_DEADLINE. Lines are
`PASS <check>: <detail>` or `FAIL <check>: <what is wrong> — fix: <what to do>`; no secret
value is ever printed (none is put in a line, and every line is redacted once more).

This module is the runner: the checks in order, each in a thread with its deadline, and the
redacted report. The checks live by what they check: `settings` (loading every setting, and the
settings check), `slack` (the token and its scopes, the request credentials, the incident
channel), `polytomic` (the key), `events` (the events API and the webhook), `database`
(reachable and migrated); `result` holds the `Result` and `Failed` they all answer with. The
checks that call out take the call timeout as an argument; the `check_*` names here pass
CALL_TIMEOUT, read when they run, so setting it here (as a test does) bounds every call.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.check import database, events, polytomic, slack
from bot.check.polytomic import POLYTOMIC_VARIABLES
from bot.check.result import Failed, Result
from bot.check.settings import Loaded, Unloadable, check_settings, load
from bot.check.slack import BOT_SCOPES, INCIDENT_TEST_TEXT, check_request_credentials
from bot.logs import RedactSecrets

__all__ = [
    "BOT_SCOPES",
    "CALL_TIMEOUT",
    "CHECKS",
    "CHECK_DEADLINE",
    "INCIDENT_TEST_TEXT",
    "POLYTOMIC_VARIABLES",
    "SECRET_VARIABLES",
    "Check",
    "Failed",
    "Loaded",
    "Result",
    "Unloadable",
    "check_database",
    "check_events",
    "check_incident_channel",
    "check_polytomic",
    "check_request_credentials",
    "check_settings",
    "check_slack_token",
    "load",
    "main",
    "run_check",
]

CALL_TIMEOUT = 5.0  # seconds per remote call (Slack, Polytomic, database connect)
CHECK_DEADLINE = 15.0  # seconds per check, whatever it is waiting on

SECRET_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "POLYTOMIC_API_KEY",
    "POLYTOMIC_DEPLOYMENT_KEY",
    "POLYTOMIC_WEBHOOK_SECRET",
)


def check_slack_token(loaded: Loaded) -> Result:
    return slack.check_slack_token(loaded, CALL_TIMEOUT)


def check_polytomic(loaded: Loaded) -> Result:
    return polytomic.check_polytomic(loaded, CALL_TIMEOUT)


def check_events(loaded: Loaded) -> Result:
    return events.check_events(loaded, CALL_TIMEOUT)


def check_database(loaded: Loaded) -> Result:
    return database.check_database(loaded, CALL_TIMEOUT)


def check_incident_channel(loaded: Loaded) -> Result:
    return slack.check_incident_channel(loaded, CALL_TIMEOUT)


Check = Callable[[Loaded], Result]

CHECKS: tuple[tuple[str, Check, str], ...] = (
    # name, the check, what to do when it does not finish in time
    ("settings", check_settings, "report this as a bug"),
    ("slack token", check_slack_token, "check SLACK_API_URL and that this host can reach Slack"),
    ("slack credentials for requests", check_request_credentials, "report this as a bug"),
    ("polytomic key", check_polytomic, "check POLYTOMIC_DEPLOYMENT_URL and that this host can reach it"),
    ("polytomic events", check_events, "check POLYTOMIC_DEPLOYMENT_URL and that this host can reach it"),
    ("database", check_database, "check DATABASE_URL and that the database server is up and not locked"),
    ("incident channel", check_incident_channel, "check SLACK_API_URL and that this host can reach Slack"),
)


def run_check(name: str, check: Check, loaded: Loaded, timeout_fix: str) -> Result:
    """One check in a daemon thread, abandoned after CHECK_DEADLINE seconds."""
    outcome: list[Result] = []

    def target() -> None:
        try:
            result = check(loaded)
        except Failed as failed:
            result = Result(name, False, failed.detail, failed.fix)
        except Exception as error:  # a bug in a check must not hide the other checks
            text = (str(error).strip().splitlines() or [""])[0][:200]
            result = Result(
                name,
                False,
                f"the check itself failed: {type(error).__name__}: {text}",
                "report this as a bug",
            )
        outcome.append(result)

    worker = threading.Thread(target=target, name=f"check {name}", daemon=True)
    worker.start()
    worker.join(CHECK_DEADLINE)
    if not outcome:
        return Result(name, False, f"no answer within {CHECK_DEADLINE:g} s", timeout_fix)
    return outcome[0]


def _secrets(environ: Mapping[str, str], loaded: Loaded | None) -> list[str]:
    values = [(environ.get(name) or "").strip() for name in SECRET_VARIABLES]
    raw_url = (environ.get("DATABASE_URL") or "").strip()
    if raw_url:
        try:
            password = make_url(raw_url).password
        except (ArgumentError, ValueError):
            password = None
        if password:
            values.append(str(password))
    if loaded is not None:
        settings = loaded.settings
        values += [
            settings.slack_bot_token or "",
            settings.slack_signing_secret or "",
            settings.slack_app_token or "",
            settings.polytomic_api_key or "",
            settings.polytomic_deployment_key or "",
            settings.polytomic_webhook_secret or "",
        ]
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def _redact(line: str, secrets: list[str]) -> str:
    return RedactSecrets(secrets).redact(line)


def main(environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    """Run every check, print one line each, and return 0 when all passed, else 1."""
    env = os.environ if environ is None else environ
    stream = out or sys.stdout
    try:
        loaded = load(env)
    except Unloadable as unloadable:
        line = Result(
            "settings",
            False,
            f"the settings cannot be loaded: {unloadable.error}",
            f"correct {unloadable.error.variable} (every variable is described in .env.example)",
        ).line()
        print(_redact(line, _secrets(env, None)), file=stream, flush=True)
        return 1
    from bot.logs import setup_logging

    setup_logging(loaded.settings)
    # The report is the output; the clients' own INFO lines about failed calls would repeat it.
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)
    secrets = _secrets(env, loaded)
    failures = 0
    for name, check, timeout_fix in CHECKS:
        result = run_check(name, check, loaded, timeout_fix)
        failures += not result.ok
        print(_redact(result.line(), secrets), file=stream, flush=True)
    return 1 if failures else 0
