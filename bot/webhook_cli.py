"""`polytomic-bot webhook register URL | show | remove`: the organization's one webhook, through
Polytomic's /api/webhooks, signed with POLYTOMIC_WEBHOOK_SECRET.

Polytomic allows one webhook per organization, and another team (or the bot's other
deployment: staging beside production) may own it. So `register` creates it when there is none
and updates it when it already points at URL (to set this bot's secret), but refuses to point
one that goes elsewhere at this bot unless given `--replace`; `remove` refuses, the same way,
to delete one that is not this bot's (signed with another secret) unless given `--replace`.
`show` prints it with its secret masked, and says whether the secret is this bot's.
`webhook_problem` is the reading `polytomic-bot check` shares. Nothing here prints a secret.
"""

from __future__ import annotations

import sys
from typing import TextIO
from urllib.parse import urlsplit

from bot.config import Settings, shown_url
from bot.feed.receiver import PATH
from bot.polytomic import PolytomicClient, PolytomicError
from bot.polytomic.models import Webhook

__all__ = ["PATH", "describe", "main", "webhook_problem"]

REFUSED = 1  # exit status: refused (it points elsewhere, or no secret), or Polytomic failed


def describe(hook: Webhook, secret: str | None) -> str:
    ours = "this bot's" if secret and hook.secret_matches(secret) else "NOT this bot's"
    state = "disabled" if hook.disabled else "enabled"
    return (
        f"webhook {hook.id}: {_shown(hook.endpoint)}, {state}, secret {hook.masked_secret} "
        f"({ours} POLYTOMIC_WEBHOOK_SECRET)"
    )


def _shown(endpoint: str | None) -> str:
    """An endpoint as it may be printed: without a `user:password@` it may carry."""
    return shown_url(endpoint) if endpoint else "(no endpoint)"


def webhook_problem(hook: Webhook | None, secret: str | None) -> str | None:
    """Why the organization's webhook does not feed this bot, or None when it does."""
    if hook is None:
        return "no webhook is registered in the organization"
    path = urlsplit(hook.endpoint or "").path.rstrip("/")
    if not path.endswith(PATH):
        return f"the organization's webhook points at {_shown(hook.endpoint)}, not a {PATH} path"
    if not secret or not hook.secret_matches(secret):
        return "the organization's webhook is signed with another secret than POLYTOMIC_WEBHOOK_SECRET"
    if hook.disabled:
        return f"the organization's webhook is disabled ({hook.disabled_reason or 'no reason given'})"
    return None


def _current(client: PolytomicClient) -> Webhook | None:
    hooks = client.list_webhooks()
    return hooks[0] if hooks else None


def main(action: str, url: str | None, replace: bool, settings: Settings, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    from bot.services import make_polytomic

    secret = settings.polytomic_webhook_secret
    if not settings.polytomic_api_key and not settings.polytomic_deployment_key:
        print("polytomic-bot: POLYTOMIC_API_KEY is not set: the webhook is managed with it", file=sys.stderr)
        return 2
    if action in ("register", "remove") and not secret:
        print(
            "polytomic-bot: POLYTOMIC_WEBHOOK_SECRET is not set: set it (6 to 32 characters) to the "
            "secret the bot verifies deliveries with",
            file=sys.stderr,
        )
        return 2
    with make_polytomic(settings, max_retries=2, timeout=10.0) as client:
        try:
            return _act(client, action, url, replace, secret, stream)
        except PolytomicError as error:
            print(
                f"polytomic-bot: Polytomic at {shown_url(settings.polytomic_deployment_url)} failed: "
                f"{type(error).__name__} (HTTP {error.status or '-'})",
                file=sys.stderr,
            )
            return REFUSED


def _act(
    client: PolytomicClient, action: str, url: str | None, replace: bool, secret: str | None, out: TextIO
) -> int:
    hook = _current(client)
    if action == "show":
        print(describe(hook, secret) if hook else "no webhook is registered in the organization", file=out)
        problem = webhook_problem(hook, secret)
        if problem and hook is not None:
            print(f"it does not feed this bot: {problem}", file=out)
        return 0
    assert secret is not None
    if action == "register":
        assert url is not None
        if not urlsplit(url).path.rstrip("/").endswith(PATH):
            print(f"polytomic-bot: the URL must end with {PATH}, where the bot listens", file=sys.stderr)
            return 2
        if hook is None:
            made = client.create_webhook(url, secret)
            print(f"registered {describe(made, secret)}", file=out)
            return 0
        if hook.endpoint != url and not replace:
            print(
                f"polytomic-bot: the organization's one webhook points elsewhere ({_shown(hook.endpoint)}); "
                "another team or deployment may rely on it. Run again with --replace to point it here",
                file=sys.stderr,
            )
            return REFUSED
        updated = client.update_webhook(hook.id, url, secret)
        print(f"updated {describe(updated, secret)}", file=out)
        return 0
    # remove
    if hook is None:
        print("no webhook is registered in the organization", file=out)
        return 0
    if not hook.secret_matches(secret) and not replace:
        print(
            f"polytomic-bot: the organization's webhook ({_shown(hook.endpoint)}) is not this bot's (another "
            "secret signs it). Run again with --replace to remove it anyway",
            file=sys.stderr,
        )
        return REFUSED
    client.delete_webhook(hook.id)
    print(f"removed webhook {hook.id} ({_shown(hook.endpoint)})", file=out)
    return 0
