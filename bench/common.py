"""What the benchmarks share: percentiles, a process's CPU and memory from /proc, the load
generator (in its own process, so the fakes' threads don't slow the client's clock), tables."""

from __future__ import annotations

import math
import multiprocessing
import os
import platform
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.fakes.signing import SLACK_USER_AGENT, sign

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Spread:
    n: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)

        def pick(q: float) -> float:
            # Nearest rank: the smallest sample with at least q of them at or below it.
            return ordered[max(1, math.ceil(q * len(ordered))) - 1]

        return cls(len(ordered), pick(0.50), pick(0.95), pick(0.99), ordered[-1])

    def ms(self) -> str:
        return f"{self.p50 * 1000:.0f} / {self.p99 * 1000:.0f} / {self.max * 1000:.0f} ms"


# ---- the bot's process tree, from /proc ---------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (the bot is one process; a tree in case it ever is not)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name is in parentheses and may hold spaces: split after it.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process tree so far (live processes only)."""
    user = system = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree so far (live processes only)."""
    return sum(cpu_split(pid))


def _status_kb(pid: int, key: str) -> int:
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def rss_mib(pid: int) -> float:
    return _status_kb(pid, "VmRSS") / 1024


def peak_rss_mib(pid: int) -> float:
    """The kernel's high-water mark of resident memory (VmHWM), summed over the tree."""
    return _status_kb(pid, "VmHWM") / 1024


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({model}), {memory:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


# ---- the database -------------------------------------------------------------------------


def fresh_database(url: str, grants: Sequence[tuple[str, str, str]]) -> None:
    """An empty, migrated database holding `grants` (subject, action, scope). PostgreSQL's
    public schema is dropped first: never point the benchmarks at a database you care about."""
    from sqlalchemy import text

    from bot.commands import Subject
    from bot.db import migrate
    from bot.db.engine import Database
    from bot.db.grants import add_grant

    db = Database(url)
    try:
        if db.dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        migrate.upgrade(url)
        for subject, action, scope in grants:
            kind = "usergroup" if subject.startswith("S") else "user"
            add_grant(db, Subject(kind, subject), action, scope, granted_by="cli:bench")
    finally:
        db.dispose()


# ---- load ---------------------------------------------------------------------------------


def _load_worker(
    url: str,
    bodies: list[bytes],
    secret: str,
    concurrency: int,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
    interval: float = 0.0,
) -> None:
    signed = [(body, sign(secret, body)) for body in bodies]  # signing is the client's cost, not timed
    latencies: list[float] = [0.0] * len(signed)
    statuses: list[int] = [0] * len(signed)
    sent_at: list[float] = [0.0] * len(signed)
    cursor = iter(range(len(signed)))
    lock = threading.Lock()

    def run() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                body, headers = signed[index]
                if interval > 0:  # an arrival rate: request i goes no sooner than i intervals in
                    time.sleep(max(0.0, load_started + index * interval - time.monotonic()))
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": SLACK_USER_AGENT,
                    **headers,
                }
                sent_at[index] = time.time()
                began = time.perf_counter()
                try:
                    status = client.post(url, content=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = -1
                latencies[index] = time.perf_counter() - began
                statuses[index] = status

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    load_started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((latencies, statuses, time.monotonic() - load_started, sent_at))


def send_load(
    url: str, bodies: list[bytes], secret: str, concurrency: int, *, rate: float = 0.0
) -> tuple[list[float], list[int], float, list[float]]:
    """POST every body, signed, with up to `concurrency` in flight from a separate process (each
    of its threads keeps one connection open); with `rate` (requests a second), request i is
    sent no sooner than i / rate seconds after the first, else as fast as they are answered.
    Returns each request's latency and status, in
    order, the time the whole load took, and when (wall clock) each request was sent."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    worker = context.Process(
        target=_load_worker,
        args=(url, bodies, secret, concurrency, out, 1.0 / rate if rate > 0 else 0.0),
    )
    worker.start()
    while True:
        try:
            latencies, statuses, took, sent_at = out.get(timeout=1)
            break
        except queue.Empty:
            if not worker.is_alive():
                raise RuntimeError(f"the load generator died (exit code {worker.exitcode})") from None
    worker.join()
    return latencies, statuses, took, sent_at


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (README takes it as it is)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- the machine's speed, in the same run ---------------------------------------------------

# A fixed piece of the kinds of work the bot does per cancellation (SQLAlchemy Core writes to
# SQLite, JSON, HMAC), timed in a fresh interpreter with the bot's environment: the same figure
# on two machines says their CPU per cancellation can be compared; a slower one, or a tracer in
# the environment (coverage's, PYTHONDEVMODE), shows here as it shows in the bot.
_YARDSTICK = """
import hashlib, hmac, json, time
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, create_engine, update
t = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("v", String))
engine = create_engine("sqlite://")
t.metadata.create_all(engine)
with engine.begin() as c:
    c.execute(t.insert(), [{"id": i, "v": ""} for i in range(100)])
stmt = update(t).where(t.c.id == bindparam("w_id"))
body = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 200}}] * 5}
started = time.process_time()
for i in range(3000):
    with engine.begin() as c:
        c.execute(stmt, {"w_id": i % 100, "v": str(i)})
    raw = json.dumps(body).encode()
    hmac.new(b"secret", raw, hashlib.sha256).hexdigest()
    json.loads(raw)
print((time.process_time() - started) * 1000)
"""


def yardstick_ms(env: dict[str, str] | None = None) -> float:
    """CPU milliseconds of the fixed workload above, in a fresh interpreter (the best of 3)."""
    import subprocess
    import sys

    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", _YARDSTICK], env=env, capture_output=True, text=True, check=True
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return min(runs)
