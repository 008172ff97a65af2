"""The Polytomic API client, moved into a package; split into modules in the next commit."""

from bot.polytomic.client import *  # noqa: F403
from bot.polytomic.client import __all__ as _client_all
from bot.polytomic.client import error_kind

__all__ = [*_client_all, "error_kind"]
