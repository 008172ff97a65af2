"""A micro-benchmark of the tracker's typical transaction mix on the operations table, in
process (no bot, no fakes): per cancellation a create, two claims, three saves (to canceling with
an audit row, a field, to canceled with its outcome's audit row), a renew, a release and
a finish. Prints the CPU per cancellation; quick to run before and after a change to the SQL
path (bot/db/engine.py). Not a test: it asserts nothing beyond the rows being written.

    .venv/bin/python bench/dbmix.py [--n 300] [--url sqlite:///...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bot.db.audit import Event
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.db.operations import OperationStore

SENT: Event = {"actor": "bot", "action": "cancel_sent"}


def run(url: str, n: int) -> float:
    upgrade(url)
    db = Database(url)
    store = OperationStore(db)
    started = time.process_time()
    for i in range(n):
        store.create(
            kind="cancel",
            sync_id=f"sync-{i}",
            execution_id=f"exec-{i}-{time.time_ns()}",
            team_id="T1",
            requested_by="U1",
            channel_id="C1",
            response_url=None,
            incident_channel=None,
            poll_timeout=600.0,
        )
        claimed, _due, _stop_due = store.claim_and_next_due("bench", 1, stops=True)
        (op,) = claimed
        store.renew("bench", [op.id])
        store.save(op, "bench", {"state": "canceling", "cancel_sent_at": store.clock.now()}, audit=SENT)
        op.state = "canceling"
        store.release(op.id, "bench", next_at=store.clock.now(), hinted_at=op.hinted_at)
        claimed, _due, _stop_due = store.claim_and_next_due("bench", 1, stops=True)
        (op,) = claimed
        store.save(op, "bench", {"last_error": None})
        store.save(op, "bench", {"state": "canceled"})
        assert store.finish(op, "bench", {})
    spent = time.process_time() - started
    db.dispose()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--url", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
            spent = run(url, args.n)
        print(f"{url.split(':')[0]}: {spent / args.n * 1000:.2f} ms CPU per cancellation (n={args.n})")


if __name__ == "__main__":
    main()
