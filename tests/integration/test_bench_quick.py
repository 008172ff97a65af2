"""`bench/run.py --quick` still works: every benchmark runs at a small size and reports.

A smoke test only: the figures are printed, not judged (the machine is shared and noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmarks_run_and_report(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    headings = (
        "## Ack latency under load",
        "## Tracking at scale",
        "## Cost as work grows",
        "## Under Slack's real rate limits",
    )
    for heading in headings:
        assert heading in result.stdout, result.stdout
    figures = json.loads(out.read_text())
    ack = figures["ack"]
    assert ack["failures"] == 0
    assert ack["bot"]["n"] == ack["floor"]["n"] == ack["floor_bolt_defaults"]["n"] == ack["commands"]
    assert ack["answers"]["n"] == ack["commands"]  # every command got its confirmation prompt
    tracking = figures["tracking"]
    assert tracking["finished"] == tracking["operations"]
    assert tracking["wrong_outcomes"] == 0
    assert tracking["lag"]["n"] == tracking["operations"]
    assert tracking["peak_rss_mib"] > 0 and tracking["cpu_seconds"] > 0
    assert [run["operations"] for run in figures["scale"]] == [2, 5]
    assert all(run["finished"] == run["operations"] for run in figures["scale"])
    limited = figures["slack_limits"]
    assert limited["finished"] == limited["operations"] and limited["undelivered"] == 0
    assert limited["window_violations"] == 0 and limited["calls"] > 0
    stopped = figures["stop"]  # issue 15: a stop of 3 syncs under Slack's real limits
    assert stopped["canceled"] == stopped["effective_cancels"] == stopped["syncs"] == 3
    assert stopped["window_violations"] == 0 and 0 < stopped["slack_calls"] <= 60
