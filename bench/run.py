"""Benchmarks of the real bot process against the fakes: ack latency and tracker throughput.

    .venv/bin/python bench/run.py [--commands 300] [--operations 200] [--database-url URL]

Measures, with `polytomic-bot serve` on SQLite (or the given database):
  1. ack latency of signed slash commands and confirm clicks over HTTP (Slack's limit is 3 s),
     sent one at a time and then 8 at a time;
  2. how long the tracker takes to bring N confirmed cancellations to their final Slack message,
     and the bot's peak memory (RSS of the gunicorn worker) while it does.
Numbers vary with the machine; README.md quotes a run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.polytomic import FakePolytomic  # noqa: E402
from tests.fakes.signing import block_actions_body, slash_command_body  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.harness import POLYTOMIC_KEY, BotProcess, base_env, free_port, wait_until  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return (
        f"n={len(ordered)} p50={pick(0.50):.1f} ms p95={pick(0.95):.1f} ms "
        f"p99={pick(0.99):.1f} ms max={ordered[-1] * 1000:.1f} ms"
    )


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (the gunicorn worker)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().split()
            if proc.name == str(pid) or stat[3] == str(pid):
                total += int((proc / "status").read_text().split("VmRSS:")[1].split()[0])
        except (OSError, IndexError):
            continue
    return total


def timed_post(bot: BotProcess, body: bytes) -> float:
    started = time.perf_counter()
    answer = bot.post(body)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--operations", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="polytomic-bot-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    with FakeSlack() as slack, FakePolytomic(api_key=POLYTOMIC_KEY) as polytomic:
        env = base_env(slack, polytomic, database_url, INCIDENT_CHANNEL="CINCIDENT", POLL_INTERVAL="0.5")
        bot = BotProcess("serve", env, workdir, free_port()).start()
        try:
            idle_rss = rss_kb(bot.proc.pid) if bot.proc else 0
            sync = polytomic.add_sync(name="Bench sync")
            sync.start_execution(cancel_delay=None)

            def command(i: int) -> bytes:
                kind = ("help", f"cancel {sync.id}", "status " + sync.id, "frobnicate")[i % 4]
                return slash_command_body(
                    text=kind, user_id="UADMIN", channel_id="CBENCH", response_url=slack.response_url(f"c{i}")
                )

            serial = [timed_post(bot, command(i)) for i in range(args.commands)]
            with ThreadPoolExecutor(8) as pool:
                parallel = list(pool.map(lambda i: timed_post(bot, command(i)), range(args.commands)))
            print(f"slash command ack, one at a time:  {percentiles(serial)}")
            print(f"slash command ack, 8 at a time:    {percentiles(parallel)}")

            syncs = []
            for i in range(args.operations):
                s = polytomic.add_sync(name=f"Bench {i}")
                execution = s.start_execution(cancel_delay=1.0)
                syncs.append((s, execution))
            clicks: list[float] = []
            started = time.perf_counter()
            peak = 0
            for i, (s, execution) in enumerate(syncs):
                value = json.dumps({"s": s.id, "e": execution.id}, separators=(",", ":"))
                body = block_actions_body(
                    user_id="UADMIN",
                    action_id="cancel_confirm",
                    value=value,
                    channel_id=f"CB{i:05d}",
                    response_url=slack.response_url(f"k{i}"),
                )
                clicks.append(timed_post(bot, body))
            print(f"confirm click ack:                 {percentiles(clicks)}")

            def all_final() -> bool:
                nonlocal peak
                peak = max(peak, rss_kb(bot.proc.pid) if bot.proc else 0)
                done = sum(
                    1
                    for m in slack.messages_in("CINCIDENT")
                    if m.is_reply and m.latest["text"].endswith(": canceled.")
                )
                return done >= len(syncs)

            wait_until(all_final, timeout=600, interval=0.25, what="every operation to finish")
            took = time.perf_counter() - started
            cancels = sum(polytomic.effective_cancels(s.id) for s, _ in syncs)
            print(
                f"tracker: {len(syncs)} cancellations confirmed → all final messages in {took:.1f} s "
                f"({len(syncs) / took:.1f} per s; each run takes 1 s to stop after its cancel); "
                f"{cancels} cancels acted"
            )
            print(
                f"memory (RSS, master + worker): idle {idle_rss / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB"
            )
            print(f"slack calls: {len(slack.requests)}, polytomic requests: {len(polytomic.requests)}")
            print(f"(median of serial acks {statistics.median(serial) * 1000:.1f} ms)")
        finally:
            bot.stop()


if __name__ == "__main__":
    main()
