"""A micro-benchmark of PolytomicClient's own CPU per request, against the fake Polytomic in this
process: N rounds of `sync_status` (GET) and `cancel_execution` (POST), the two calls a stop
makes per sync. The caller's thread CPU (time.thread_time) is what is measured, so the fake's
server threads do not count. Not a test; run it to compare a change quickly:

    .venv/bin/python bench/http_calls.py [N]
"""

from __future__ import annotations

import logging
import sys
import time

from bot.fakes.polytomic import FakePolytomic
from bot.polytomic import PolytomicClient

KEY = "pk_live_bench_0123456789"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    logging.basicConfig(level=logging.WARNING)
    with FakePolytomic(KEY) as fake, PolytomicClient(fake.url, api_key=KEY) as client:
        sync = fake.add_sync(name="bench", mode="update", target_object="Lead", frequency="daily")
        run = sync.start_execution(rows_per_second=1)
        for _ in range(50):  # warm the pool and the caches
            client.sync_status(sync.id)
        best_get = best_post = float("inf")
        for _ in range(3):
            cpu = time.thread_time()
            for _ in range(rounds):
                client.sync_status(sync.id)
            best_get = min(best_get, (time.thread_time() - cpu) / rounds)
            cpu = time.thread_time()
            for i in range(rounds):
                client.cancel_execution(sync.id, run.id, idempotency_key=f"bench-key-{i:08d}")
            best_post = min(best_post, (time.thread_time() - cpu) / rounds)
    print(f"client CPU per request: GET status {best_get * 1e6:.0f} us, POST cancel {best_post * 1e6:.0f} us")


if __name__ == "__main__":
    main()
