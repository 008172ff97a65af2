"""The fake Polytomic's webhook as tests drive it: register or remove it directly, make its
deliveries unreliable (duplicated, lost, reordered) or change their retries, read every
delivery attempt, and wait for them.

The deliveries themselves (signing, sending, retrying, the unreliable modes) are the
Deliverer in webhooks.py; what the API answers about the webhook is routes.py.
"""

from __future__ import annotations

import time

from bot.fakes.polytomic.state import PolytomicState
from bot.fakes.polytomic.webhooks import DeliveryAttempt, FakeWebhook

__all__ = ["Deliveries"]


class Deliveries(PolytomicState):
    """The webhook and its deliveries (FakePolytomic's webhook methods)."""

    @property
    def webhook(self) -> FakeWebhook | None:
        with self._lock:
            return self._webhook

    def register_webhook(self, endpoint: str, secret: str) -> FakeWebhook:
        """Set the organization's webhook directly (as POST /api/webhooks would, but also
        when one exists: it is replaced). Deliveries start with the next event."""
        with self._lock:
            self._webhook = FakeWebhook(endpoint, secret, self.organization_id, time.time())
            return self._webhook

    def remove_webhook(self) -> None:
        with self._lock:
            self._webhook = None

    def set_delivery_mode(
        self,
        *,
        duplicate: float = 0.0,
        lose: float = 0.0,
        reorder: int = 0,
        hold: float = 0.5,
        seed: int | None = None,
    ) -> None:
        """Make deliveries unreliable, from now on: `duplicate`/`lose` are the shares of
        events sent twice / never sent (1.0: all); `reorder=N` holds events until N wait (or
        `hold` seconds pass) and sends them shuffled; `seed` makes it repeatable. No
        arguments: reliable again (held events are sent at once)."""
        self._deliverer.set_mode(duplicate=duplicate, lose=lose, reorder=reorder, hold=hold, seed=seed)

    @property
    def delivery_retry_base(self) -> float:
        """Seconds before the first retry of a failed delivery; each next one waits twice as long."""
        return self._deliverer.retry_base

    @delivery_retry_base.setter
    def delivery_retry_base(self, seconds: float) -> None:
        self._deliverer.retry_base = seconds

    @property
    def delivery_max_retries(self) -> int:
        return self._deliverer.max_retries

    @delivery_max_retries.setter
    def delivery_max_retries(self, count: int) -> None:
        self._deliverer.max_retries = count

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every delivery attempt so far (the latest `max_events`), in the order they ended."""
        return self._deliverer.attempts

    @property
    def lost_deliveries(self) -> list[str]:
        """Ids of the events a `lose` mode never delivered."""
        return self._deliverer.lost

    def clear_deliveries(self) -> None:
        self._deliverer.clear()

    def wait_for_deliveries(
        self,
        count: int = 1,
        *,
        event_id: str | None = None,
        event_type: str | None = None,
        ok: bool | None = None,
        timeout: float = 5.0,
    ) -> list[DeliveryAttempt]:
        """Block until `count` matching attempts ended (ok=True: answered 2xx; False: not);
        return them. TimeoutError else."""

        def matching(attempts: list[DeliveryAttempt]) -> list[DeliveryAttempt]:
            return [
                a
                for a in attempts
                if (event_id is None or a.event_id == event_id)
                and (event_type is None or a.event_type == event_type)
                and (ok is None or a.ok is ok)
            ]

        if not self._deliverer.wait(lambda attempts: len(matching(attempts)) >= count, timeout):
            got = len(matching(self._deliverer.attempts))
            raise TimeoutError(f"{got}/{count} matching deliveries after {timeout}s")
        return matching(self._deliverer.attempts)

    def flush_deliveries(self, timeout: float = 10.0) -> None:
        """Block until no delivery is queued, held, retrying or in flight; TimeoutError else."""
        if not self._deliverer.wait_idle(timeout):
            raise TimeoutError(f"deliveries still pending after {timeout}s")
