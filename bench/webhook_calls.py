"""A micro-benchmark of the bot's CPU per Polytomic webhook it receives: the real `polytomic-bot
serve` process on a SQLite file, N signed `sync.canceled` deliveries of runs it does not track,
sent one after another over one kept connection, and the process's CPU across them (with the few
seconds after the last, for what a delivery sets going once answered). This is what each sync
of a stop pays to hear its run's end, before any pass. Not a test; run it to compare a change:

    .venv/bin/python -m bench.webhook_calls [N]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import cpu_seconds, fresh_database
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.process import POLYTOMIC_KEY, BotProcess, base_env, free_port
from bot.fakes.slack import FakeSlack

SECRET = "bench-webhook-secret"
WARM = 20  # deliveries before the measured ones: the pools and caches warm
AFTER = 3.0  # seconds after the last delivery that are measured too


def _delivery(i: int) -> tuple[bytes, str]:
    event = {
        "id": str(uuid.uuid4()),
        "type": "sync.canceled",
        "created_at": "2026-12-03T19:00:00Z",
        "organization_id": "org-bench",
        "event": {
            "execution_id": str(uuid.uuid4()),
            "sync_id": str(uuid.uuid4()),
            "sync_name": f"Bench {i}",
            "status": "canceled",
            "organization_id": "org-bench",
            "target_connection_id": "conn-bench",
        },
    }
    body = json.dumps(event).encode()
    return body, hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    deliveries = [_delivery(i) for i in range(WARM + count)]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bot.db"
        fresh_database(url, [])
        with FakeSlack() as slack, FakePolytomic(api_key=POLYTOMIC_KEY) as polytomic:
            env = base_env(
                slack,
                polytomic,
                url,
                POLL_INTERVAL="30",
                LEASE_TTL="30",
                POLYTOMIC_WEBHOOK_SECRET=SECRET,
                POLYTOMIC_EVENTS_INTERVAL="30",
            )
            bot = BotProcess("serve", env, Path(folder), free_port()).start()
            assert bot.proc is not None
            try:
                with httpx.Client(base_url=bot.url, timeout=10) as client:

                    def deliver(body: bytes, signature: str) -> int:
                        headers = {"Polytomic-Signature": signature, "Content-Type": "application/json"}
                        return client.post("/polytomic/webhook", content=body, headers=headers).status_code

                    for body, signature in deliveries[:WARM]:
                        deliver(body, signature)
                    time.sleep(AFTER)
                    quiet = cpu_seconds(bot.proc.pid)
                    time.sleep(AFTER)  # the idle process's own CPU over as long: shown beside
                    before = cpu_seconds(bot.proc.pid)
                    idle = before - quiet
                    answers = {deliver(body, signature) for body, signature in deliveries[WARM:]}
                    time.sleep(AFTER)
                    cpu = cpu_seconds(bot.proc.pid) - before
            finally:
                bot.stop()
    if answers != {200}:
        raise SystemExit(f"deliveries answered {sorted(answers)}, not all 200")
    print(
        f"bot CPU per webhook received: {cpu / count * 1e6:.0f} us (n={count}; the {AFTER:.0f} s "
        f"after the last included, of which the idle process's own: {idle / count * 1e6:.0f} us each)"
    )


if __name__ == "__main__":
    main()
