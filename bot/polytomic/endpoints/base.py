"""What every group of endpoints needs from the client: a way to send one request, and a way to
send one alongside it.

Each other module of endpoints/ is a mixin of PolytomicClient holding the methods of one
resource: they build the request (IDs quoted as one path segment, POSTs with an
Idempotency-Key) and turn the answer into the typed values of models.py, and they send it
through `_request`. The client (client.py) implements both methods once: auth, retries with
backoff, logging, redaction of secrets and the metrics hook. Abstract here, so that the
endpoints depend on that contract only, not on how the client sends.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

__all__: list[str] = []  # internal: PolytomicClient is what callers use

_T = TypeVar("_T")


class Endpoints(ABC):
    """The base of every endpoint mixin; PolytomicClient implements its two methods."""

    @abstractmethod
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        idempotency_key: str | None = None,
        also_redact: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Send one request, retried as the client's policy allows, and return its JSON object
        ({} for an empty body or one that is not an object). Every request but a GET needs an
        `idempotency_key`; `also_redact` names secrets this request sends (a webhook's), kept
        out of error texts like the key is. Failures raise the hierarchy of errors.py."""

    @abstractmethod
    def _alongside(self, call: Callable[[], _T]) -> Future[_T]:
        """Start `call` on the client's own threads, so the caller can send another request
        meanwhile: two round trips of waiting become one."""
