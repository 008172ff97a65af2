"""Making the fake Polytomic misbehave on purpose: answer the next matching requests with a
status of the test's choosing (`inject`, as a gateway failing before Polytomic sees them), reset
the connection (`fail_connection`), slow answers down (`set_latency`), or send them one byte at a
time (`inject(..., drip=seconds)`: a stuck proxy that never quite stops talking).

server.py consults these for every request: an injected fault first, before auth and the
Idempotency-Key; the latency after them (for a POST it is processing time, the key is taken).

`paginate_forever` makes a list never end: every page of it offers a fresh next_page_token (a
proxy or a server bug); routes.py reads it when it pages.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from bot.fakes.polytomic.common import error_body
from bot.fakes.polytomic.recording import Fault, Latency
from bot.fakes.polytomic.state import PolytomicState

__all__ = ["Faults"]


class Faults(PolytomicState):
    """Fault injection and latency (FakePolytomic's fault methods)."""

    def inject(
        self,
        method: str | None,
        path_regex: str,
        *,
        status: int,
        times: int = 1,
        body: bytes | str | dict[str, Any] | None = None,
        retry_after: float | str | None = None,
        latency: float = 0.0,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        drip: float = 0.0,
    ) -> None:
        """Answer the next `times` matching requests (re.search on the raw path) with `status`.

        body: dict -> JSON; bytes/str -> sent as is (text/plain unless content_type says e.g.
        text/html); None -> the documented `{"status", "message"}`. A 429 carries
        `Retry-After: 1` unless retry_after is given ('' sends none; a str such as an HTTP
        date is sent verbatim). Faults happen before auth and idempotency (a gateway failing).
        drip > 0 sends the whole answer, status line first, one byte every `drip` seconds.
        """
        if body is None:
            raw = json.dumps(error_body(status, HTTPStatus(status).phrase)).encode()
            ctype = content_type or "application/json"
        elif isinstance(body, dict):
            raw, ctype = json.dumps(body).encode(), content_type or "application/json"
        else:
            raw = body.encode() if isinstance(body, str) else body
            ctype = content_type or "text/plain; charset=utf-8"
        extra = dict(headers or {})
        if retry_after is None and status == 429:
            retry_after = 1
        if retry_after not in (None, ""):
            if isinstance(retry_after, float) and retry_after.is_integer():
                retry_after = int(retry_after)
            extra["Retry-After"] = str(retry_after)
        with self._lock:
            self._faults.append(
                Fault(method, re.compile(path_regex), times, status, raw, ctype, extra, latency, drip)
            )

    def fail_connection(self, path_regex: str, times: int = 1, *, method: str | None = None) -> None:
        """Reset the connection (no answer at all) for the next `times` matching requests."""
        with self._lock:
            self._faults.append(Fault(method, re.compile(path_regex), times, None))

    def set_latency(self, seconds: float, path_regex: str = ".*", *, method: str | None = None) -> None:
        """Delay every matching answer by `seconds` (0 removes it). For POSTs the delay is
        processing time: the Idempotency-Key is already taken while it runs."""
        with self._lock:
            self._latencies = [
                lat for lat in self._latencies if (lat.method, lat.pattern.pattern) != (method, path_regex)
            ]
            if seconds > 0:
                self._latencies.append(Latency(method, re.compile(path_regex), seconds))

    def paginate_forever(self, kind: str = "syncs", *, on: bool = True) -> None:
        """Every page of the `kind` list ("syncs", "executions") offers a fresh
        next_page_token, whatever it holds (a proxy or a server bug that never ends a list):
        each page answers with the first page's items, and any token is accepted."""
        with self._lock:
            if on:
                self._endless_pages.add(kind)
            else:
                self._endless_pages.discard(kind)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latencies.clear()
            self._endless_pages.clear()

    def _latency_for(self, method: str, path: str) -> float:
        with self._lock:
            return max(
                (
                    lat.seconds
                    for lat in self._latencies
                    if lat.method in (None, method) and lat.pattern.search(path)
                ),
                default=0.0,
            )
