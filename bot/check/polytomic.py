"""The Polytomic check of `polytomic-bot check`: GET /api/me with the configured key, and one
line that says which way it failed (rejected, refused, rate-limited, timed out, unreachable,
a server error), told apart by the client's error classes, never by their text.

Calls time out after the `timeout` the runner passes (bot.check.CALL_TIMEOUT), with no retry.
"""

from __future__ import annotations

from bot.check.result import Failed, Result
from bot.check.settings import Loaded
from bot.config import SETTINGS_HELP, shown_url

POLYTOMIC_VARIABLES = (
    "POLYTOMIC_API_KEY",
    "POLYTOMIC_DEPLOYMENT_KEY",
    "POLYTOMIC_ORGANIZATION_ID",
    "POLYTOMIC_DEPLOYMENT_URL",
    "POLYTOMIC_API_VERSION",
)


def check_polytomic(loaded: Loaded, timeout: float) -> Result:
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
        client = make_polytomic(settings, max_retries=0, timeout=timeout)
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
            raise Failed(f"Polytomic at {url} did not answer within {timeout:g} s", url_fix) from None
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
