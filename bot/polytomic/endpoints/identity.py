"""PolytomicClient's endpoint for who the key belongs to (GET /api/me): the cheap call that
`polytomic-bot check` makes to prove the credentials work before anything else.
"""

from __future__ import annotations

from bot.polytomic.endpoints.base import Endpoints
from bot.polytomic.models import Identity, parse_identity

__all__: list[str] = []  # internal: PolytomicClient is what callers use


class IdentityEndpoints(Endpoints):
    """The key's identity (/api/me)."""

    def me(self) -> Identity:
        """Who the key belongs to: a cheap credentials check."""
        return parse_identity(self._request("GET", "/api/me").get("data"))
