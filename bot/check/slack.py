"""The Slack checks of `polytomic-bot check`: the bot token (auth.test, and the granted scopes
against manifest.yml's), the credentials Slack's requests are verified with, and the incident
channel (a test message posted and deleted again).

They share one Slack client set-up (one short try, no back-off) and one reading of Slack's
errors, which is why the three live together. Remote calls time out after the `timeout` the
runner passes (bot.check.CALL_TIMEOUT).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.check.result import Failed, Result
from bot.check.settings import Loaded
from bot.config import SETTINGS_HELP, Settings, shown_url

# What manifest.yml asks for under oauth_config.scopes.bot. The installed package cannot read
# manifest.yml, so the list lives here; tests/integration/test_check.py keeps the two equal.
BOT_SCOPES: tuple[str, ...] = ("commands", "chat:write", "chat:write.public", "usergroups:read", "users:read")

INCIDENT_TEST_TEXT = "polytomic-bot check: this channel will hear of every cancellation."

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


def _slack_client(settings: Settings, timeout: float) -> WebClient:
    from bot.slack import make_web_client

    client = make_web_client(settings)
    client.timeout = int(timeout)
    client.retry_handlers = []  # one short try: a check must not wait through back-offs
    return client


def _slack_error(error: SlackApiError) -> str:
    response = error.response
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = getattr(response, "status_code", None)
    return f"HTTP {status}" if status else "unknown_error"


def _unreachable_slack(settings: Settings, error: Exception, timeout: float) -> Failed:
    reason = getattr(error, "reason", None)  # urllib wraps socket errors in URLError
    if isinstance(error, TimeoutError) or isinstance(reason, TimeoutError):
        what = f"the Slack Web API at {shown_url(settings.slack_api_url)} did not answer within {timeout:g} s"
    else:
        cause = type(reason if isinstance(reason, Exception) else error).__name__
        what = f"could not reach the Slack Web API at {shown_url(settings.slack_api_url)} ({cause})"
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


def check_slack_token(loaded: Loaded, timeout: float) -> Result:
    loaded.require_well_formed("SLACK_BOT_TOKEN", "SLACK_API_URL")
    settings = loaded.settings
    if not settings.slack_bot_token:
        raise Failed(
            "SLACK_BOT_TOKEN is not set",
            f"set SLACK_BOT_TOKEN to {SETTINGS_HELP['SLACK_BOT_TOKEN']}",
        )
    try:
        response = _slack_client(settings, timeout).auth_test()
    except SlackApiError as error:
        code = _slack_error(error)
        if code in _REJECTED_TOKEN:
            raise _rejected_token(code) from None
        if code == "ratelimited":
            raise Failed("Slack rate-limited auth.test", "run the check again in a minute") from None
        raise Failed(f"auth.test failed ({code})", "check SLACK_BOT_TOKEN and SLACK_API_URL") from None
    except (SlackClientError, OSError, ValueError) as error:
        raise _unreachable_slack(settings, error, timeout) from None
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


def check_incident_channel(loaded: Loaded, timeout: float) -> Result:
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
    client = _slack_client(settings, timeout)
    try:
        posted = client.chat_postMessage(channel=channel, text=INCIDENT_TEST_TEXT, unfurl_links=False)
    except SlackApiError as error:
        raise _channel_problem(_slack_error(error), channel) from None
    except (SlackClientError, OSError, ValueError) as error:
        raise _unreachable_slack(settings, error, timeout) from None
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
