"""Where the bot's CPU goes: py-spy samples of the bot's process, summed by the package of
the innermost frame (the code that was running), or by the bot function that led there.

Used by `bench/run.py tracking --profile DIR`; needs py-spy (`pip install -e '.[bench]'`).
Samples are taken with --gil: only the thread holding the interpreter lock, i.e. the Python
CPU that the one-process bot is bound by (time inside SQLite or the kernel is not in them).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

PACKAGES = (
    ("/bot/", "bot (this project)"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("sqlite3/", "sqlite3"),
    ("psycopg", "psycopg"),
    ("httpx/", "httpx + httpcore"),
    ("httpcore/", "httpx + httpcore"),
    ("h11/", "httpx + httpcore"),
    ("slack_sdk/", "slack_sdk"),
    ("slack_bolt/", "slack_bolt"),
    ("waitress/", "waitress"),
    ("prometheus_client/", "prometheus_client"),
    ("urllib/", "stdlib: urllib + http.client"),
    ("http/client", "stdlib: urllib + http.client"),
    ("json/", "stdlib: json"),
    ("logging/", "stdlib: logging"),
    ("threading.py", "stdlib: threads and queues"),
    ("concurrent/", "stdlib: threads and queues"),
    ("queue.py", "stdlib: threads and queues"),
    ("socket.py", "stdlib: sockets"),
    ("selectors.py", "stdlib: sockets"),
    ("ssl.py", "stdlib: sockets"),
)


def executable() -> str | None:
    """py-spy beside this Python (a venv's bin/ need not be on PATH), or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def available() -> bool:
    return executable() is not None


class Recorder:
    """py-spy recording one process until stop()."""

    def __init__(self, pid: int, out: Path, rate: int = 200) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [
                executable() or "py-spy",
                "record",
                "--pid",
                str(pid),
                "--gil",
                "--nonblocking",
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        self.proc.wait(60)


def _package(frame: str) -> str:
    location = "/" + frame.rsplit("(", 1)[-1]  # "(bot/tracker.py:30)" or "(sqlalchemy/...)"
    for needle, name in PACKAGES:
        if needle in location:
            return name
    return "other (stdlib, C)"


def by_package(raw: Path) -> list[tuple[str, float]]:
    """Share of samples by the package of the innermost frame, largest first."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        counts[_package(stack.split(";")[-1])] += int(number)
    total = sum(counts.values()) or 1
    return [(name, count / total) for name, count in counts.most_common()]


def by_bot_step(raw: Path) -> list[tuple[str, float]]:
    """Share of samples by the innermost function of this project on the stack: which of the
    bot's steps the time (its own and the libraries' it called) was spent for."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        step = "outside the bot's code (server loop, idle threads)"
        for frame in reversed(stack.split(";")):
            if "(bot/" in frame or "/bot/" in frame:
                step = frame.split(" (", 1)[0]
                break
        counts[step] += int(number)
    total = sum(counts.values()) or 1
    return [(name, count / total) for name, count in counts.most_common()]
