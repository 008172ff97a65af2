"""The pool that does the work after an ack: Polytomic look-ups and response_url answers.

Bolt's sync App runs listeners on one small shared executor; work that waits on Polytomic or
Slack would starve new requests of their 3-second ack window, so it runs here instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger("bot.responder")


class Responder:
    def __init__(self, workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="responder")

    def submit(self, fn: Callable[..., object], *args: Any) -> Future[None]:
        return self._pool.submit(self._run, fn, *args)

    @staticmethod
    def _run(fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("answer failed: %s", getattr(fn, "__name__", "?"))

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
