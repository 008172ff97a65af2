"""`polytomic-bot check`: verify the set-up and say, one line per check, what to fix.

Every check runs even when an earlier one failed; a check that needs a setting that is
missing or malformed fails and names it. Each check is bounded: remote calls time out after
CALL_TIMEOUT seconds and the check as a whole is abandoned after CHECK_DEADLINE. Lines are
`PASS <check>: <detail>` or `FAIL <check>: <what is wrong> — fix: <what to do>`; no secret
value is ever printed (none is put in a line, and every line is redacted once more).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.config import SETTINGS_HELP, ConfigError, Mode, Settings, load_settings, shown_url
from bot.logs import RedactSecrets

# What manifest.yml asks for under oauth_config.scopes.bot. The installed package cannot read
# manifest.yml, so the list lives here; tests/integration/test_check.py keeps the two equal.
BOT_SCOPES: tuple[str, ...] = ("commands", "chat:write", "chat:write.public", "usergroups:read", "users:read")

CALL_TIMEOUT = 5.0  # seconds per remote call (Slack, Polytomic, database connect)
CHECK_DEADLINE = 15.0  # seconds per check, whatever it is waiting on
INCIDENT_TEST_TEXT = "polytomic-bot check: this channel will hear of every cancellation."

SECRET_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "POLYTOMIC_API_KEY",
    "POLYTOMIC_DEPLOYMENT_KEY",
)
POLYTOMIC_VARIABLES = (
    "POLYTOMIC_API_KEY",
    "POLYTOMIC_DEPLOYMENT_KEY",
    "POLYTOMIC_ORGANIZATION_ID",
    "POLYTOMIC_DEPLOYMENT_URL",
    "POLYTOMIC_API_VERSION",
)
_REJECTED_TOKEN = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)
_REINSTALL = (
    "paste manifest.yml into the app's App Manifest page (api.slack.com/apps), then reinstall the "
    "app to the workspace (Install App → Reinstall) and set SLACK_BOT_TOKEN to the token it shows"
)


@dataclass(frozen=True)
class Result:
    check: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        detail = " ".join(self.detail.split())  # one line, whatever a remote sent
        if self.ok:
            return f"PASS {self.check}: {detail}"
        return f"FAIL {self.check}: {detail} — fix: {' '.join(self.fix.split())}"


class Failed(Exception):
    """Raised inside a check: what is wrong, and what to do about it."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


@dataclass
class Loaded:
    """The settings with every malformed variable left out, and what was wrong with each."""

    settings: Settings
    errors: list[ConfigError] = field(default_factory=list)
    bad: dict[str, ConfigError] = field(default_factory=dict)  # variable -> its error
    present: int = 0  # how many known variables are set

    def require_well_formed(self, *variables: str) -> None:
        for name in variables:
            error = self.bad.get(name)
            if error is not None:
                raise Failed(
                    f"cannot check: {error}",
                    f"correct {error.variable} (see the settings line and .env.example)",
                )


class Unloadable(Exception):
    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def load(environ: Mapping[str, str]) -> Loaded:
    """Every ConfigError, not only the first: drop the culprit and load again."""
    env = dict(environ)
    errors: list[ConfigError] = []
    bad: dict[str, ConfigError] = {}
    for _ in range(2 * len(SETTINGS_HELP) + 2):
        try:
            settings = load_settings(Mode.CHECK, env)
        except ConfigError as error:
            errors.append(error)
            culprits = [error.variable]
            if error.variable == "POLYTOMIC_ORGANIZATION_ID":
                # A deployment key without its organization: neither can be used.
                culprits.append("POLYTOMIC_DEPLOYMENT_KEY")
            culprits = [name for name in culprits if name in env]
            if not culprits:
                raise Unloadable(error) from None
            for name in culprits:
                del env[name]
                bad.setdefault(name, error)
            bad.setdefault(error.variable, error)
            continue
        present = sum(1 for name in SETTINGS_HELP if (environ.get(name) or "").strip())
        return Loaded(settings, errors, bad, present)
    raise Unloadable(errors[-1])


# --------------------------------------------------------------------------- the checks


def check_settings(loaded: Loaded) -> Result:
    if loaded.errors:
        names = ", ".join(dict.fromkeys(e.variable for e in loaded.errors))
        raise Failed(
            "; ".join(str(e) for e in loaded.errors),
            f"correct {names} (every variable is described in .env.example)",
        )
    return Result(
        "settings",
        True,
        f"every value is well-formed ({loaded.present} of {len(SETTINGS_HELP)} variables set)",
    )


def _slack_client(settings: Settings) -> WebClient:
    from bot.slack import make_web_client

    client = make_web_client(settings)
    client.timeout = int(CALL_TIMEOUT)
    client.retry_handlers = []  # one short try: a check must not wait through back-offs
    return client


def _slack_error(error: SlackApiError) -> str:
    response = error.response
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = getattr(response, "status_code", None)
    return f"HTTP {status}" if status else "unknown_error"


def _unreachable_slack(settings: Settings, error: Exception) -> Failed:
    reason = getattr(error, "reason", None)  # urllib wraps socket errors in URLError
    api = shown_url(settings.slack_api_url)
    if isinstance(error, TimeoutError) or isinstance(reason, TimeoutError):
        what = f"the Slack Web API at {api} did not answer within {CALL_TIMEOUT:g} s"
    else:
        cause = type(reason if isinstance(reason, Exception) else error).__name__
        what = f"could not reach the Slack Web API at {api} ({cause})"
    return Failed(
        what,
        "check SLACK_API_URL (leave it unset for https://slack.com/api/) and that this host can reach Slack",
    )


def _rejected_token(code: str) -> Failed:
    return Failed(
        f"Slack rejected SLACK_BOT_TOKEN ({code})",
        "set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) on the app's OAuth & Permissions "
        "page; if the app was uninstalled, reinstall it from manifest.yml",
    )


def _granted_scopes(headers: Mapping[str, Any] | None) -> set[str] | None:
    for name, value in (headers or {}).items():
        if name.lower() == "x-oauth-scopes":
            raw = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
            return {scope.strip() for scope in raw.split(",") if scope.strip()}
    return None


def check_slack_token(loaded: Loaded) -> Result:
    loaded.require_well_formed("SLACK_BOT_TOKEN", "SLACK_API_URL")
    settings = loaded.settings
    if not settings.slack_bot_token:
        raise Failed(
            "SLACK_BOT_TOKEN is not set",
            f"set SLACK_BOT_TOKEN to {SETTINGS_HELP['SLACK_BOT_TOKEN']}",
        )
    try:
        response = _slack_client(settings).auth_test()
    except SlackApiError as error:
        code = _slack_error(error)
        if code in _REJECTED_TOKEN:
            raise _rejected_token(code) from None
        if code == "ratelimited":
            raise Failed("Slack rate-limited auth.test", "run the check again in a minute") from None
        raise Failed(f"auth.test failed ({code})", "check SLACK_BOT_TOKEN and SLACK_API_URL") from None
    except (SlackClientError, OSError, ValueError) as error:
        raise _unreachable_slack(settings, error) from None
    data = response.data if isinstance(response.data, dict) else {}
    who = (
        f"team {data.get('team') or '?'} ({data.get('team_id') or '?'}), "
        f"bot user @{data.get('user') or '?'} ({data.get('user_id') or '?'})"
    )
    granted = _granted_scopes(response.headers)
    if granted is None:
        return Result(
            "slack token",
            True,
            f"{who}; Slack did not report the granted scopes, so they were not compared with manifest.yml",
        )
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise Failed(
            f"{who}, but the token lacks the scope{plural} {', '.join(missing)} that manifest.yml asks for",
            f"reinstall the app from manifest.yml: {_REINSTALL}",
        )
    return Result("slack token", True, f"{who}; granted every scope manifest.yml asks for")


def check_request_credentials(loaded: Loaded) -> Result:
    loaded.require_well_formed("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
    settings = loaded.settings
    http, socket = bool(settings.slack_signing_secret), bool(settings.slack_app_token)
    if http and socket:
        detail = (
            "SLACK_SIGNING_SECRET and SLACK_APP_TOKEN are set: both HTTP (`polytomic-bot serve`) "
            "and Socket Mode (`polytomic-bot socket`) are possible"
        )
    elif http:
        detail = (
            "SLACK_SIGNING_SECRET is set: HTTP (`polytomic-bot serve`) is possible; "
            "Socket Mode would need SLACK_APP_TOKEN"
        )
    elif socket:
        detail = (
            "SLACK_APP_TOKEN is set: Socket Mode (`polytomic-bot socket`) is possible; "
            "HTTP would need SLACK_SIGNING_SECRET"
        )
    else:
        raise Failed(
            "neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN is set, so the bot cannot take "
            "Slack's requests",
            f"for HTTP (`serve`) set SLACK_SIGNING_SECRET to {SETTINGS_HELP['SLACK_SIGNING_SECRET']}; "
            f"for Socket Mode (`socket`) set SLACK_APP_TOKEN to {SETTINGS_HELP['SLACK_APP_TOKEN']}",
        )
    return Result("slack credentials for requests", True, detail)


def check_polytomic(loaded: Loaded) -> Result:
    from bot.polytomic import (
        ConnectionFailed,
        Forbidden,
        PolytomicError,
        RateLimited,
        ServerError,
        TimedOut,
        Unauthorized,
    )
    from bot.services import make_polytomic

    loaded.require_well_formed(*POLYTOMIC_VARIABLES)
    settings = loaded.settings
    if not settings.polytomic_api_key and not settings.polytomic_deployment_key:
        raise Failed(
            "POLYTOMIC_API_KEY is not set",
            f"set POLYTOMIC_API_KEY to {SETTINGS_HELP['POLYTOMIC_API_KEY']} (or, on an on-premises "
            "deployment, POLYTOMIC_DEPLOYMENT_KEY with POLYTOMIC_ORGANIZATION_ID)",
        )
    api_key = bool(settings.polytomic_api_key)
    key = "POLYTOMIC_API_KEY" if api_key else "POLYTOMIC_DEPLOYMENT_KEY"
    key_fix = (
        "create an API key in Polytomic (Settings → API keys) and set POLYTOMIC_API_KEY to it"
        if api_key
        else "set POLYTOMIC_DEPLOYMENT_KEY to the deployment's key and POLYTOMIC_ORGANIZATION_ID to "
        "the organization it is for"
    )
    url = shown_url(settings.polytomic_deployment_url)
    url_fix = (
        "check POLYTOMIC_DEPLOYMENT_URL: it should be the address of the Polytomic deployment "
        "(unset means https://app.polytomic.com), reachable from this host"
    )
    try:
        client = make_polytomic(settings, max_retries=0, timeout=CALL_TIMEOUT)
    except ValueError as error:  # the message never holds the key
        raise Failed(f"cannot use {key}: {error}", key_fix) from None
    with client:
        try:
            me = client.me()
        except Unauthorized as error:
            raise Failed(
                f"Polytomic at {url} rejected {key} (HTTP 401: {error.message})",
                f"{key_fix}; check that POLYTOMIC_DEPLOYMENT_URL is the deployment the key belongs to",
            ) from None
        except Forbidden as error:
            raise Failed(
                f"Polytomic at {url} accepted {key} but refused GET /api/me (HTTP 403: {error.message})",
                f"use a key with access to the organization's API: {key_fix}",
            ) from None
        except RateLimited:
            raise Failed(
                f"Polytomic at {url} rate-limited GET /api/me", "run the check again in a minute"
            ) from None
        except TimedOut:
            raise Failed(f"Polytomic at {url} did not answer within {CALL_TIMEOUT:g} s", url_fix) from None
        except ConnectionFailed as error:
            cause = error.reason or "connection failed"
            raise Failed(f"could not reach Polytomic at {url} ({cause})", url_fix) from None
        except ServerError as error:
            raise Failed(
                f"Polytomic at {url} answered HTTP {error.status} to GET /api/me: {error.message}",
                f"try again later; if it persists, {url_fix}",
            ) from None
        except PolytomicError as error:
            raise Failed(f"GET /api/me at {url} failed: {error}", url_fix) from None
    organization = f"organization {me.organization_name or '?'} ({me.organization_id or '?'}) at {url}"
    if me.is_user or me.email:
        kind = f"a user key ({me.email or me.user_id or '?'}{f', role {me.role}' if me.role else ''})"
    elif me.is_organization:
        kind = "an organization key"
    elif me.is_partner:
        kind = "a partner key"
    elif me.is_system:
        kind = "a system key"
    else:
        kind = "a key"
    return Result("polytomic key", True, f"{organization}; {key} is {kind}")


def check_database(loaded: Loaded) -> Result:
    from bot.db import migrate
    from bot.db.engine import Database, sqlite_file

    loaded.require_well_formed("DATABASE_URL")
    fix_url = "check DATABASE_URL (" + SETTINGS_HELP["DATABASE_URL"] + ")"
    try:
        url: URL = make_url(loaded.settings.database_url)
    except (ArgumentError, ValueError):
        raise Failed("DATABASE_URL cannot be parsed", fix_url) from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(loaded.settings.database_url)
        # Connecting would create an empty file; say what is wrong instead.
        if path is not None and not path.exists():
            raise Failed(
                f"the SQLite database {shown} does not exist",
                "run `polytomic-bot migrate` to create it, or point DATABASE_URL at the bot's database",
            )
    elif "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(int(CALL_TIMEOUT))})
    db = Database(url.render_as_string(hide_password=False), pool_size=1)
    try:
        current = migrate.current_revision(db.engine)
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
        raise Failed(
            f"cannot open {shown}: {reason}",
            f"{fix_url}: host, port, database, user and password, and that the server is running",
        ) from None
    finally:
        db.dispose()
    problem = migrate.schema_problem(current)
    if problem is None:
        return Result("database", True, f"{shown} is reachable and at the newest migration ({current})")
    what, fix = problem
    raise Failed(f"{shown} is reachable but {what}", fix)


def _channel_problem(code: str, channel: str) -> Failed:
    if code == "not_in_channel":
        return Failed(
            f"the bot is not a member of {channel}, so it cannot post there (not_in_channel)",
            f"invite the bot: type /invite @Polytomic (the app's bot user) in {channel}",
        )
    if code == "channel_not_found":
        return Failed(
            f"the bot sees no channel {channel} (channel_not_found)",
            "set INCIDENT_CHANNEL to the channel's ID (C…/G…, at the bottom of the channel's About "
            "tab), not its #name; for a private channel, /invite the bot first",
        )
    if code == "is_archived":
        return Failed(
            f"{channel} is archived (is_archived)", "unarchive it, or set INCIDENT_CHANNEL to another channel"
        )
    if code == "missing_scope":
        return Failed(
            f"the token may not post messages to {channel} (missing_scope)",
            f"reinstall the app from manifest.yml: {_REINSTALL}",
        )
    if code in _REJECTED_TOKEN:
        return Failed(
            f"cannot post to {channel}: Slack rejected SLACK_BOT_TOKEN ({code})",
            "correct SLACK_BOT_TOKEN (see the slack token line)",
        )
    if code == "restricted_action":
        return Failed(
            f"the workspace does not let the bot post in {channel} (restricted_action)",
            "ask a workspace admin to allow the app to post there, "
            "or set INCIDENT_CHANNEL to another channel",
        )
    return Failed(
        f"chat.postMessage to {channel} failed ({code})", "check INCIDENT_CHANNEL and SLACK_BOT_TOKEN"
    )


def check_incident_channel(loaded: Loaded) -> Result:
    loaded.require_well_formed("INCIDENT_CHANNEL")
    settings = loaded.settings
    channel = settings.incident_channel
    if channel is None:
        return Result("incident channel", True, "INCIDENT_CHANNEL is not set (optional)")
    loaded.require_well_formed("SLACK_BOT_TOKEN", "SLACK_API_URL")
    if not settings.slack_bot_token:
        raise Failed(
            f"cannot post to {channel}: SLACK_BOT_TOKEN is not set",
            f"set SLACK_BOT_TOKEN to {SETTINGS_HELP['SLACK_BOT_TOKEN']}",
        )
    client = _slack_client(settings)
    try:
        posted = client.chat_postMessage(channel=channel, text=INCIDENT_TEST_TEXT, unfurl_links=False)
    except SlackApiError as error:
        raise _channel_problem(_slack_error(error), channel) from None
    except (SlackClientError, OSError, ValueError) as error:
        raise _unreachable_slack(settings, error) from None
    data = posted.data if isinstance(posted.data, dict) else {}
    try:
        client.chat_delete(channel=str(data.get("channel") or channel), ts=str(data.get("ts") or ""))
    except SlackApiError as error:
        note = f"but could not delete it ({_slack_error(error)}): delete it by hand"
    except (SlackClientError, OSError, ValueError) as error:
        note = f"but could not delete it ({type(error).__name__}): delete it by hand"
    else:
        note = "and deleted it again"
    return Result("incident channel", True, f"posted a test message to {channel} {note}")


# --------------------------------------------------------------------------- running them

Check = Callable[[Loaded], Result]

CHECKS: tuple[tuple[str, Check, str], ...] = (
    # name, the check, what to do when it does not finish in time
    ("settings", check_settings, "report this as a bug"),
    ("slack token", check_slack_token, "check SLACK_API_URL and that this host can reach Slack"),
    ("slack credentials for requests", check_request_credentials, "report this as a bug"),
    ("polytomic key", check_polytomic, "check POLYTOMIC_DEPLOYMENT_URL and that this host can reach it"),
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
