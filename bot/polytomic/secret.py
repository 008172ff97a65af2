"""Secret, a holder for a credential (an API key, a deployment key, a webhook's secret) that no
repr, str, vars() dump, log line or exception text shows, compared in constant time; and
mask_secret, what a person may see of one (its length).

Kept in a module of its own because three concepts hold secrets: the client's credentials
(client.py, transport.py) and the webhook (models.py). Imports no other bot module.
"""

from __future__ import annotations

import hmac

__all__ = ["Secret", "mask_secret"]


class Secret:
    """Holds a credential (an API key, a webhook secret); its repr/str never show it, so a
    vars() dump, a debugger, a log line or an exception text cannot leak it. Compare with
    `matches`, which takes constant time."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def matches(self, candidate: str) -> bool:
        return hmac.compare_digest(self.value.encode(), candidate.encode())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.matches(other.value)

    def __hash__(self) -> int:
        return hash((Secret, len(self.value)))  # equal secrets have equal lengths

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


def mask_secret(secret: Secret | None) -> str:
    """What a person may see of a secret: its length, never a character of it."""
    if secret is None or not secret.value:
        return "(none)"
    return f"******** ({len(secret.value)} characters)"
