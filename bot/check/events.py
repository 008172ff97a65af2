"""The events check of `polytomic-bot check`: does the events API answer this bot's key, and is
the organization's webhook registered with this bot's secret at a /polytomic/webhook path.

Without POLYTOMIC_WEBHOOK_SECRET the webhook is not this bot's to check: the line says the
bot relies on the poller (POLYTOMIC_EVENTS_INTERVAL). Calls time out after `timeout`, no retry.
"""

from __future__ import annotations

from bot.check.polytomic import POLYTOMIC_VARIABLES
from bot.check.result import Failed, Result
from bot.check.settings import Loaded


def check_events(loaded: Loaded, timeout: float) -> Result:
    from bot.polytomic import Forbidden, NotFound, PolytomicError
    from bot.services import make_polytomic
    from bot.webhook_cli import describe, webhook_problem

    loaded.require_well_formed(*POLYTOMIC_VARIABLES, "POLYTOMIC_WEBHOOK_SECRET", "POLYTOMIC_EVENTS_INTERVAL")
    settings = loaded.settings
    if not settings.polytomic_api_key and not settings.polytomic_deployment_key:
        raise Failed("cannot check: POLYTOMIC_API_KEY is not set", "see the polytomic key line")
    secret = settings.polytomic_webhook_secret
    poller = (
        f"the poller reads them every {settings.events_interval:g} s"
        if settings.events_interval > 0
        else "the poller is off (POLYTOMIC_EVENTS_INTERVAL=0)"
    )
    with make_polytomic(settings, max_retries=0, timeout=timeout) as client:
        try:
            client.list_events(limit=1)
        except (Forbidden, NotFound) as error:
            raise Failed(
                f"GET /api/events answered HTTP {error.status}: the bot cannot poll events",
                "use a key allowed to read events, or a deployment new enough to have them; "
                "until then status messages move at POLL_INTERVAL",
            ) from None
        except PolytomicError as error:
            raise Failed(f"GET /api/events failed: {type(error).__name__}", "try again later") from None
        if not secret:
            return Result(
                "polytomic events",
                True,
                f"the events API answers; {poller}; no POLYTOMIC_WEBHOOK_SECRET, so no webhook",
            )
        try:
            hooks = client.list_webhooks()
        except PolytomicError as error:
            raise Failed(f"GET /api/webhooks failed: {type(error).__name__}", "try again later") from None
    hook = hooks[0] if hooks else None
    problem = webhook_problem(hook, secret)
    if problem is not None:
        raise Failed(
            f"the events API answers, but {problem}",
            "run `polytomic-bot webhook register https://<this bot>/polytomic/webhook` (if another "
            "deployment owns the one webhook, this one relies on the poller)",
        )
    assert hook is not None
    return Result("polytomic events", True, f"the events API answers; {poller}; {describe(hook, secret)}")
