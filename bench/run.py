"""Benchmarks of the real bot (`polytomic-bot serve`) against the fakes on 127.0.0.1.

    .venv/bin/python bench/run.py                 # all four, full size (about 13 minutes)
    .venv/bin/python bench/run.py ack tracking    # some of them
    .venv/bin/python bench/run.py ack --rounds 4  # more rounds pooled: steadier on a busy machine
    .venv/bin/python bench/run.py events --operations 100  # webhooks beside polling, 100 at once
    .venv/bin/python bench/run.py --quick         # tiny sizes: a smoke test (the test suite runs it)
    .venv/bin/python bench/run.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

  ack       500 signed `/polytomic cancel <id>` commands, 25 in flight, every Polytomic call
            answered after 1.5 s: the HTTP ack's p50/p99/max beside the floor's (a bare Bolt
            app served the same way whose handler only acks).
  tracking  1,000 cancellations confirmed at once, POLL_INTERVAL=1, each run canceled 5 s after
            its cancel: lag from the run turning terminal to the final edit of its status
            message, Polytomic requests and Slack calls per cancellation, peak RSS, CPU.
  events    the tracking run side by side: polling only (POLL_INTERVAL=1, as `tracking`), and
            with Polytomic's webhook and the events poller on (POLL_INTERVAL=30, the fallback;
            POLYTOMIC_EVENTS_INTERVAL=30): lag, Polytomic requests per cancellation by purpose,
            the bot's CPU per cancellation. The clicks arrive as a stream (--rate, 20 a second),
            then both runs again with every click at once (--no-burst skips those).
  scale     the tracking run at 100, 250, 500, 1,000 and 5,000 operations: CPU per operation,
            peak RSS, lag (where the one-process bot stops keeping up).
  stop      a 1,000-sync stop (`cancel running to <connection>`, confirmed once), the fake Slack
            enforcing Slack's real limits, webhooks on: confirm → every cancel sent, last run
            terminal → final summary, every Slack call of the stop, CPU per sync, peak RSS.
  slack-limits  30 cancellations confirmed at once in one channel, the fake Slack enforcing
            Slack's real rate limits (chat.postMessage about 1 a second per channel, tiers
            per minute): Web API calls, 429s, calls inside a Retry-After window, final states
            delivered. (tracking and scale run with Slack's limits off, in the fake and in
            the bot's pacing, SLACK_POST_INTERVAL=0: they measure the bot's own work.)

Prints Markdown tables (README quotes them) and, with --json FILE, writes the raw figures.
With --profile DIR (needs `pip install -e '.[bench]'`), one more tracking run is sampled with
py-spy and the bot's CPU is broken down by library and by the bot's step.
Each run uses a fresh SQLite file in a temporary folder, or the given PostgreSQL database,
whose public schema it drops and recreates: never point it at a database you care about.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import machine, table, yardstick_ms  # noqa: E402

# Imported in main() and report_profile(), not here: each load generator is a process started
# with multiprocessing's "spawn", which runs this file again (as __mp_main__) before it can
# unpickle its target, and the benchmarks' imports (the bot's database layer, SQLAlchemy) cost
# it 1.2 s of CPU each time.
if TYPE_CHECKING:
    from bench import ack, slack_limits, stop, tracking

BENCHMARKS = ("ack", "tracking", "events", "scale", "slack-limits", "stop")
STOP_FINAL_TARGET = 0.5  # s, last run terminal → final summary, with webhooks
STOP_SLACK_CALLS_TARGET = 60
STOP_CPU_TARGET_MS = 5.0  # the bot's CPU per sync of a stop
STOP_RSS_TARGET_MIB = 250.0
EVENTS_LAG_TARGET = 0.5  # s, p95 of terminal → final edit with webhooks on
EVENTS_REQUESTS_TARGET = 3.0  # Polytomic requests per cancellation, on average
EVENTS_CPU_TARGET_MS = 10.0  # the bot's CPU per cancellation
# events: the clicks arrive as a stream, this many a second. Real Slack takes about 50
# chat.update a minute per workspace (Tier 3) and 1 chat.postMessage a second per channel, so
# 1,000 final edits at once cannot happen there; 20 a second is still 20 times what it carries.
EVENTS_RATE = 20.0
# ... and each run ends 5 s plus up to 1 s (POLL_INTERVAL) after its cancel: a run that ends
# exactly 5 s after it would meet the polls' 1 s grid, and polling's lag would look like none.
EVENTS_JITTER = 1.0
ACK_P99_TARGET = 0.100
ACK_FLOOR_RATIO = 1.5
RSS_TARGET_MIB = 200.0
REFUSED_TARGET = 0.05  # at most this share of Slack calls answered 429 under Slack's real limits


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def database_for(args: argparse.Namespace, workdir: Path) -> str:
    return str(args.database_url or f"sqlite:///{workdir / 'bench.db'}")


def report_ack(result: ack.AckResult) -> str:
    # Against the faster floor at p99, whichever Bolt configuration that is: the stricter test.
    floor_p99 = min(result.floor.p99, result.floor_bolt_defaults.p99)
    ratio = result.bot.p99 / floor_p99
    rows = [
        ["bot: HTTP ack", *_ms(result.bot)],
        ["floor: bare Bolt app, handler only acks, configured as the bot", *_ms(result.floor)],
        ["floor: the same with Bolt's defaults (listener on its executor)", *_ms(result.floor_bolt_defaults)],
        ["bot: confirmation prompt on the response_url", *_ms(result.answers)],
    ]
    lines = [
        f"{result.commands} `/polytomic cancel <id>` commands, {result.concurrency} in flight, every "
        f"Polytomic call answered after {result.polytomic_latency} s; {result.rounds} round(s) of "
        "floor, floor, bot, samples pooled:",
        "",
        table(["measure", "p50", "p99", "max"], rows),
        "",
        table(
            ["target", "measured", "met"],
            [
                [
                    "ack p99 under 100 ms",
                    f"{result.bot.p99 * 1000:.0f} ms",
                    verdict(result.bot.p99 < ACK_P99_TARGET),
                ],
                [
                    "ack p99 within 1.5x the floor's (the faster floor)",
                    f"{ratio:.2f}x",
                    verdict(ratio <= ACK_FLOOR_RATIO),
                ],
                ["every request acked with 200", f"{result.failures} failed", verdict(result.failures == 0)],
            ],
        ),
    ]
    return "\n".join(lines)


def _ms(spread: Any) -> list[str]:
    return [f"{spread.p50 * 1000:.0f} ms", f"{spread.p99 * 1000:.0f} ms", f"{spread.max * 1000:.0f} ms"]


def report_tracking(result: tracking.TrackingResult) -> str:
    lag_target = result.poll_interval + 0.2
    methods = ", ".join(f"{name} {count}" for name, count in sorted(result.slack_methods.items()))
    rows = [
        [
            "operations finished",
            f"{result.finished} of {result.operations} in {result.took:.1f} s",
            "all",
            verdict(result.finished == result.operations and result.wrong_outcomes == 0),
        ],
        [
            "lag: run terminal → final status edit (p50 / p95 / p99)",
            f"{result.lag.p50:.2f} / {result.lag.p95:.2f} / {result.lag.p99:.2f} s"
            f" (max {result.lag.max:.2f})",
            f"p95 ≤ {lag_target:.1f} s",
            verdict(result.lag.p95 <= lag_target),
        ],
        [
            "Polytomic requests per cancellation (mean / max)",
            f"{result.polytomic.mean:.2f} / {result.polytomic.max}",
            f"≤ {result.polytomic_budget}",
            verdict(result.polytomic.max <= result.polytomic_budget),
        ],
        [
            "Slack calls per cancellation (mean / max)",
            f"{result.slack.mean:.2f} / {result.slack.max}",
            f"≤ {result.slack_budget}",
            verdict(result.slack.max <= result.slack_budget),
        ],
        [
            "peak RSS (the bot's process)",
            f"{result.peak_rss_mib:.0f} MiB (idle {result.idle_rss_mib:.0f})",
            f"< {RSS_TARGET_MIB:.0f} MB",
            verdict(result.peak_rss_mib * 1.048576 < RSS_TARGET_MIB),
        ],
        [
            "CPU seconds (bot)",
            f"{result.cpu_seconds:.1f} s ({result.cpu_ms_per_operation:.1f} ms per cancellation)",
            "",
            "",
        ],
        ["confirm-click ack (p50 / p99 / max)", result.click_ack.ms(), "", ""],
    ]
    return "\n".join(
        [
            f"{result.operations} cancellations confirmed at once, POLL_INTERVAL={result.poll_interval:g}, "
            f"each run canceled {result.cancel_delay:g} s after its cancel:",
            "",
            table(["measure", "measured", "target", "met"], rows),
            "",
            f"Slack calls by method: {methods}.",
        ]
    )


def report_events(polling: tracking.TrackingResult, hooked: tracking.TrackingResult) -> str:
    def lag(r: tracking.TrackingResult) -> str:
        return f"{r.lag.p50:.2f} / {r.lag.p95:.2f} / {r.lag.p99:.2f} s (max {r.lag.max:.2f})"

    rows = [
        [
            "operations finished, right outcome, each cancel acted on once",
            f"{polling.finished - polling.wrong_outcomes} of {polling.operations} in {polling.took:.1f} s",
            f"{hooked.finished - hooked.wrong_outcomes} of {hooked.operations} in {hooked.took:.1f} s",
            "all",
            verdict(hooked.finished == hooked.operations and hooked.wrong_outcomes == 0),
        ],
        [
            "lag: run terminal → final status edit (p50 / p95 / p99)",
            lag(polling),
            lag(hooked),
            f"p95 ≤ {EVENTS_LAG_TARGET} s",
            verdict(hooked.lag.p95 <= EVENTS_LAG_TARGET),
        ],
        [
            "Polytomic requests per cancellation (mean, the events API's included)",
            f"{polling.polytomic_total:.2f}",
            f"{hooked.polytomic_total:.2f}",
            f"≤ {EVENTS_REQUESTS_TARGET:g}",
            verdict(hooked.polytomic_total <= EVENTS_REQUESTS_TARGET),
        ],
        [
            "bot CPU per cancellation",
            f"{polling.cpu_ms_per_operation:.1f} ms",
            f"{hooked.cpu_ms_per_operation:.1f} ms",
            f"≤ {EVENTS_CPU_TARGET_MS:g} ms",
            verdict(hooked.cpu_ms_per_operation <= EVENTS_CPU_TARGET_MS),
        ],
        [
            "Slack calls per cancellation (mean / max)",
            f"{polling.slack.mean:.2f} / {polling.slack.max}",
            f"{hooked.slack.mean:.2f} / {hooked.slack.max}",
            "",
            "",
        ],
        ["confirm-click ack (p50 / p99 / max)", polling.click_ack.ms(), hooked.click_ack.ms(), "", ""],
        ["peak RSS", f"{polling.peak_rss_mib:.0f} MiB", f"{hooked.peak_rss_mib:.0f} MiB", "", ""],
        ["webhook deliveries answered 2xx", "-", f"{hooked.deliveries}", "", ""],
    ]
    purposes = sorted(set(polling.polytomic_purposes) | set(hooked.polytomic_purposes))
    by_purpose = [
        [
            name,
            f"{polling.polytomic_purposes.get(name, 0):.2f}",
            f"{hooked.polytomic_purposes.get(name, 0):.2f}",
        ]
        for name in purposes
    ]
    arrival = (
        f"confirmed as a stream of {hooked.rate:g} a second"
        if hooked.rate > 0
        else "confirmed at once (25 in flight)"
    )
    ends = (
        f"{hooked.cancel_delay:g} to {hooked.cancel_delay + hooked.jitter:g}"
        if hooked.jitter
        else f"{hooked.cancel_delay:g}"
    )
    return "\n".join(
        [
            f"{hooked.operations} cancellations {arrival}, each run canceled "
            f"{ends} s after its cancel. Polling only: "
            f"POLL_INTERVAL={polling.poll_interval:g}, no webhook, "
            f"POLYTOMIC_EVENTS_INTERVAL=0. Webhooks: POLL_INTERVAL={hooked.poll_interval:g} (the "
            f"fallback), the webhook registered, POLYTOMIC_EVENTS_INTERVAL={hooked.events_interval:g}.",
            "",
            table(["measure", "polling only", "webhooks", "target (webhooks)", "met"], rows),
            "",
            "Polytomic requests per cancellation, by what they are for:",
            "",
            table(["request", "polling only", "webhooks"], by_purpose),
        ]
    )


def report_scale(results: list[tracking.TrackingResult]) -> str:
    rows = [
        [
            f"{r.operations:,}",
            f"{r.finished:,}",
            f"{r.took:.1f} s",
            f"{r.cpu_seconds:.1f} s",
            f"{r.cpu_ms_per_operation:.1f} ms",
            f"{r.peak_rss_mib:.0f} MiB",
            f"{r.lag.p50:.2f} / {r.lag.p95:.2f} / {r.lag.p99:.2f} s",
            f"{r.polytomic.mean:.2f}",
            f"{r.slack.mean:.2f}",
            f"{r.click_ack.p99 * 1000:.0f} ms",
        ]
        for r in results
    ]
    return table(
        [
            "operations",
            "finished",
            "wall time",
            "CPU",
            "CPU per op",
            "peak RSS",
            "lag p50 / p95 / p99",
            "Polytomic req/op",
            "Slack calls/op",
            "click ack p99",
        ],
        rows,
    )


def report_slack_limits(result: slack_limits.SlackLimitsResult) -> str:
    rows = [
        [
            "Web API calls answered 429",
            f"{result.refused} of {result.calls} ({result.refused_share:.1%})",
            f"≤ {REFUSED_TARGET:.0%}",
            verdict(result.refused_share <= REFUSED_TARGET),
        ],
        [
            "calls sent inside a Retry-After window",
            str(result.window_violations),
            "0",
            verdict(result.window_violations == 0),
        ],
        [
            "final state delivered (status message and incident thread end on canceled)",
            f"{result.operations - result.undelivered} of {result.operations}",
            "all",
            verdict(result.undelivered == 0 and result.finished == result.operations),
        ],
        [
            "all finished (first click → last operation done)",
            f"{result.finished} of {result.operations} in {result.took:.1f} s",
            "",
            "",
        ],
        [
            "lag: run terminal → final status edit (p50 / p95 / max)",
            f"{result.lag.p50:.1f} / {result.lag.p95:.1f} / {result.lag.max:.1f} s",
            "",
            "",
        ],
    ]
    methods = [[f"`{name}`", calls, refused] for name, (calls, refused) in result.by_method.items()]
    lines = [
        f"{result.operations} cancellations confirmed at once in one channel, POLL_INTERVAL="
        f"{result.poll_interval:g}, each run canceled {result.cancel_delay:g} s after its cancel, "
        "the fake Slack enforcing Slack's limits:",
        "",
        table(["measure", "measured", "target", "met"], rows),
        "",
        table(["Web API method", "calls", "429s"], methods),
    ]
    if result.violations:
        lines += ["", "First calls inside a window: " + "; ".join(result.violations) + "."]
    return "\n".join(lines)


def report_stop(result: stop.StopResult) -> str:
    r = result
    methods = ", ".join(f"{name} {count}" for name, count in sorted(r.slack_methods.items()))
    rows = [
        [
            "syncs canceled, each run canceled once",
            f"{r.canceled:,} of {r.syncs:,} ({r.effective_cancels:,} once)",
            "all",
            verdict(r.canceled == r.effective_cancels == r.syncs),
        ],
        ["command → prompt", f"{r.prompt_seconds:.2f} s", "", ""],
        ["confirm → every cancel sent", f"{r.confirm_to_cancels:.2f} s", "", ""],
        [
            "last run terminal → final summary",
            f"{r.terminal_to_final:.2f} s",
            f"≤ {STOP_FINAL_TARGET} s (webhooks)",
            verdict(r.terminal_to_final <= STOP_FINAL_TARGET),
        ],
        [
            "the last terminal event delivered (webhook answered) → final summary",
            f"{r.delivered_to_final:.2f} s",
            "",
            "",
        ],
        [
            "the last operation finished (in the database) → final summary",
            f"{r.settled_to_final:.2f} s",
            "",
            "",
        ],
        [
            "the summary's versions, seconds after the confirm",
            ", ".join(f"{t:.1f}" for t in r.summary_times),
            "",
            "",
        ],
        ["confirm → stop finished (every message delivered)", f"{r.took:.2f} s", "", ""],
        [
            "Slack calls for the whole stop",
            f"{r.slack_calls} ({methods})",
            f"≤ {STOP_SLACK_CALLS_TARGET}",
            verdict(r.slack_calls <= STOP_SLACK_CALLS_TARGET),
        ],
        [
            "Slack calls answered 429 / sent inside a Retry-After window",
            f"{r.slack_refused} / {r.window_violations}",
            "0",
            verdict(r.window_violations == 0),
        ],
        [
            "summary edits; smallest gap between two",
            f"{r.summary_edits}; {r.min_edit_gap:.2f} s",
            "≥ 2 s but the final",
            "",
        ],
        [
            "bot CPU per sync",
            f"{r.cpu_ms_per_sync:.2f} ms",
            f"≤ {STOP_CPU_TARGET_MS} ms",
            verdict(r.cpu_ms_per_sync <= STOP_CPU_TARGET_MS),
        ],
        [
            "of which: the command → its prompt (the listing and each sync's status read)",
            f"{r.prompt_cpu_ms_per_sync:.2f} ms",
            "",
            "",
        ],
        [
            "peak RSS",
            f"{r.peak_rss_mib:.0f} MiB",
            f"< {STOP_RSS_TARGET_MIB:.0f} MiB",
            verdict(r.peak_rss_mib < STOP_RSS_TARGET_MIB),
        ],
    ]
    return table(["measure", "figure", "target", "met"], rows)


def report_profile(samples: Path) -> str:
    from bench import profile

    packages = [[name, f"{share:.0%}"] for name, share in profile.by_package(samples)]
    steps = [[f"`{name}`", f"{share:.0%}"] for name, share in profile.by_bot_step(samples)[:12]]
    return "\n".join(
        [
            f"Where the bot's Python CPU went (py-spy --gil samples in {samples}):",
            "",
            table(["code running (innermost frame)", "share"], packages),
            "",
            table(["the bot's step it ran for", "share"], steps),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "which", nargs="*", metavar="ack|tracking|events|scale|slack-limits|stop", help="default: all six"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the benchmarks still run")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (its public schema is dropped)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    parser.add_argument(
        "--rounds", type=int, default=2, help="ack: rounds of floor, floor, bot (samples pooled)"
    )
    parser.add_argument(
        "--operations",
        type=int,
        default=None,
        help="events: how many cancellations; stop: how many syncs (default 1,000)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=EVENTS_RATE,
        help="events: confirm clicks a second (default %(default)g; 0: all at once, as tracking)",
    )
    parser.add_argument(
        "--no-burst", action="store_true", help="events: skip the runs with every click at once"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="tracking, stop: record the bot with py-spy into this folder and show where its CPU went",
    )
    args = parser.parse_args(argv)
    from bench import ack, profile, slack_limits, stop, tracking

    which = args.which or list(BENCHMARKS)
    unknown = sorted(set(which) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
    quick = args.quick
    raw: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "quick": quick}
    raw["yardstick_ms"] = yardstick_ms()
    print(
        f"# polytomic-bot benchmarks{' (--quick)' if quick else ''}\n\n{raw['date']}, {raw['machine']}, "
        f"database: {'PostgreSQL' if str(args.database_url or '').startswith('postgresql') else 'SQLite'}, "
        f"load average "
        f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}; yardstick {raw['yardstick_ms']:.0f} ms "
        "(a fixed piece of the bot's kinds of work in this interpreter and environment, "
        "bench/common.py: compare CPU figures across machines by it)\n",
        flush=True,
    )

    def workdir() -> Path:
        return Path(tempfile.mkdtemp(prefix="polytomic-bot-bench-"))

    if "ack" in which:
        folder = workdir()
        size = (
            {"commands": 20, "concurrency": 5, "polytomic_latency": 0.1, "warmup": 0, "rounds": 1}
            if quick
            else {"rounds": args.rounds}
        )
        result = ack.run(folder, database_for(args, folder), **size)  # type: ignore[arg-type]
        raw["ack"] = dataclasses.asdict(result)
        print("## Ack latency under load\n\n" + report_ack(result) + "\n", flush=True)

    tracked: dict[int, tracking.TrackingResult] = {}
    delay = {"cancel_delay": 0.5} if quick else {}

    def track(operations: int) -> tracking.TrackingResult:
        if operations not in tracked:
            folder = workdir()
            tracked[operations] = tracking.run(
                folder, database_for(args, folder), operations=operations, **delay
            )  # type: ignore[arg-type]
        return tracked[operations]

    if "tracking" in which:
        size = 5 if quick else 1000
        result = track(size)
        raw["tracking"] = dataclasses.asdict(result)
        print("## Tracking at scale\n\n" + report_tracking(result) + "\n", flush=True)
        if args.profile is not None:
            if not profile.available():
                parser.error("--profile needs py-spy: pip install -e '.[bench]'")
            # A run of its own: sampling costs the bot CPU, so it must not skew the figures above.
            args.profile.mkdir(parents=True, exist_ok=True)
            samples = args.profile / f"tracking-{size}.raw"
            folder = workdir()
            tracking.run(folder, database_for(args, folder), operations=size, profile=samples, **delay)
            print(report_profile(samples) + "\n", flush=True)

    if "events" in which:
        size = args.operations or (5 if quick else 1000)
        rate = 0.0 if quick else args.rate  # quick: the polling run is the tracking run

        def hooked_run(rate: float) -> tracking.TrackingResult:
            folder = workdir()
            return tracking.run(
                folder,
                database_for(args, folder),
                operations=size,
                poll_interval=30.0,
                webhooks=True,
                events_interval=30.0,
                rate=rate,
                jitter=EVENTS_JITTER if rate > 0 else 0.0,
                **delay,  # type: ignore[arg-type]
            )

        if rate > 0:
            folder = workdir()
            polling = tracking.run(
                folder,
                database_for(args, folder),
                operations=size,
                rate=rate,
                jitter=EVENTS_JITTER,
                **delay,  # type: ignore[arg-type]
            )
        else:
            polling = track(size)
        hooked = hooked_run(rate)
        raw["events"] = {"polling": dataclasses.asdict(polling), "webhooks": dataclasses.asdict(hooked)}
        print("## Webhooks beside polling\n\n" + report_events(polling, hooked) + "\n", flush=True)
        if rate > 0 and not args.no_burst:
            # The same two runs with every click at once: the backlog, not the pipeline.
            burst_polling, burst_hooked = track(size), hooked_run(0.0)
            raw["events_burst"] = {
                "polling": dataclasses.asdict(burst_polling),
                "webhooks": dataclasses.asdict(burst_hooked),
            }
            print(
                "## Webhooks beside polling, every click at once\n\n"
                + report_events(burst_polling, burst_hooked)
                + "\n",
                flush=True,
            )

    if "scale" in which:
        sizes = (2, 5) if quick else (100, 250, 500, 1000, 5000)  # quick: 5 is the tracking run's
        results = [track(n) for n in sizes]
        raw["scale"] = [dataclasses.asdict(r) for r in results]
        print("## Cost as work grows\n\n" + report_scale(results) + "\n", flush=True)

    if "slack-limits" in which:
        folder = workdir()
        limited = slack_limits.run(
            folder,
            database_for(args, folder),
            operations=2 if quick else 30,
            cancel_delay=0.5 if quick else 5.0,
        )
        raw["slack_limits"] = dataclasses.asdict(limited)
        print("## Under Slack's real rate limits\n\n" + report_slack_limits(limited) + "\n", flush=True)

    if "stop" in which:
        folder = workdir()
        stopped = stop.run(
            folder,
            database_for(args, folder),
            syncs=args.operations or (3 if quick else 1000),
            cancel_delay=0.5 if quick else 3.0,
        )
        raw["stop"] = dataclasses.asdict(stopped)
        print(f"## A stop of {stopped.syncs:,} syncs\n\n" + report_stop(stopped) + "\n", flush=True)
        if args.profile is not None:
            if not profile.available():
                parser.error("--profile needs py-spy: pip install -e '.[bench]'")
            args.profile.mkdir(parents=True, exist_ok=True)
            samples = args.profile / f"stop-{stopped.syncs}.raw"
            folder = workdir()
            stop.run(folder, database_for(args, folder), syncs=stopped.syncs, profile=samples)
            print(report_profile(samples) + "\n", flush=True)

    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
