"""Cases for bot/views/stops.py (a stop: many syncs at once), kept beside cases.py so that the
every-view tests hold these views to the same rules: each view's text carries the facts of its
blocks, and nothing supplied (a sync's or a connection's name, Polytomic's errors) is unescaped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.db.models import Stop
from bot.stops import Failure, Tally
from bot.views import stops
from bot.views.blocks import View

SYNC_ID = "248df4b7-aa70-47b8-a036-33ac447e668d"
NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)

Case = tuple[View, tuple[str, ...]]


def make_stop(**fields: Any) -> Stop:
    values: dict[str, Any] = {
        "id": 7,
        "prompt_id": "p" * 22,
        "kind": "cancel",
        "label": "Salesforce prod",
        "requested_by": "UREQUESTER1",
        "team_id": "T1",
        "channel_id": "CCHANNEL1",
        "size": 37,
        "created_at": NOW,
        "updated_at": NOW,
        "prompt_cleared": True,
        "next_poll_at": NOW,
        "attempts": 0,
    }
    values.update(fields)
    return Stop(**values)


def named(count: int, name: str = "Orders") -> list[stops.Named]:
    return [stops.Named(f"{SYNC_ID[:-2]}{i:02d}", f"{name} {i}") for i in range(count)]


RUNNING = Tally(size=37, canceled=30, canceling=5, completed=2)
DONE = Tally(
    size=37,
    canceled=33,
    completed=2,
    changed=1,
    denied=1,
    paused=30,
    failures=(Failure(SYNC_ID, "Orders 3", "its run had changed or ended since the prompt"),),
)


MANY = tuple(Failure(f"{SYNC_ID[:-2]}{i:02d}", f"Orders {i} " + "x" * 140, "y" * 300) for i in range(45))


def stop_cases() -> dict[str, list[Case]]:
    return {
        "stop_prompt": [
            (
                stops.stop_prompt(
                    "cancel", "Salesforce prod", named(25), named(2, "Left"), "p" * 22, may_pause=True
                ),
                (
                    "Cancel 25 syncs running to Salesforce prod?",
                    "Orders 19",
                    "…and 5 more",
                    "Left out, 2 syncs",
                ),
            ),
            (
                stops.stop_prompt("pause", "", named(3), [], "p" * 22, may_pause=False),
                ("schedules of 3 syncs",),
            ),
            (
                stops.stop_prompt("resume", "", named(1), [], "p" * 22, may_pause=False),
                ("Resume the schedules of 1 sync",),
            ),
        ],
        "nothing_to_stop": [
            (
                stops.nothing_to_stop("cancel", "HubSpot", named(1, "Left")),
                ("No sync to HubSpot is running", "Left 0"),
            ),
            (stops.nothing_to_stop("resume", "", []), ("nothing to resume",)),
        ],
        "too_many": [(stops.too_many("cancel", 2345, 2000), ("2,345 syncs", "at most 2,000"))],
        "no_such_connection": [(stops.no_such_connection("SF prod"), ("SF prod",))],
        "ambiguous_name": [(stops.ambiguous_name("Orders", [1, 2]), ("2 syncs are named Orders",))],
        "aborted": [(stops.aborted(True), ("Aborted",)), (stops.aborted(False), ("nothing changed",))],
        "resume_asked": [
            (stops.resume_asked(True, 4), ("Resuming 4 schedules",)),
            (stops.resume_asked(False, 4), ("already",)),
        ],
        "prompt_expired": [(stops.prompt_expired(), ("10 minutes old",))],
        "already_confirmed": [(stops.already_confirmed(), ("confirmed already",))],
        "summary": [
            (
                stops.summary(make_stop(), RUNNING, final=False, resumable=0),
                (
                    "Stopping 37 syncs to Salesforce prod: 30 canceled, 5 canceling, "
                    "2 completed before the cancel landed.",
                    "<@UREQUESTER1>",
                ),
            ),
            (
                stops.summary(make_stop(kind="cancel_and_pause"), DONE, final=True, resumable=30),
                ("Stopped 37 syncs to Salesforce prod: 33 canceled", "30 paused", "see the thread"),
            ),
            (
                stops.summary(
                    make_stop(aborted_at=NOW, aborted_by="UABORT1"), RUNNING, final=False, resumable=0
                ),
                ("aborted by <@UABORT1>",),
            ),
        ],
        "failures_reply": [
            (stops.failures_reply(DONE.failures), ("1 sync did not go as asked", "Orders 3")),
            (stops.failures_reply(MANY), ("45 syncs did not go as asked", "Orders 39", "…and 5 more")),
        ],
        "resumed_reply": [
            (stops.resumed_reply(make_stop(resume_asked_by="URES1"), DONE), ("<@URES1> resumed",))
        ],
        "stop_notice": [
            (
                stops.stop_notice(make_stop()),
                ("<@UREQUESTER1> requested cancellation of 37 syncs to Salesforce prod",),
            )
        ],
        "stop_outcome": [(stops.stop_outcome(make_stop(), DONE), ("Stopped 37 syncs",))],
    }


def evil_stop_views(evil: str) -> dict[str, View]:
    failures = (Failure(SYNC_ID, evil, evil),)
    tally = Tally(size=3, canceled=1, failed=1, failures=failures)
    stop = make_stop(label=evil, requested_by="<!channel>", channel_id="<!here>")
    return {
        "stop_prompt": stops.stop_prompt(
            "cancel", evil, named(2, evil), named(1, evil), "p" * 22, may_pause=True
        ),
        "nothing_to_stop": stops.nothing_to_stop("pause", evil, named(1, evil)),
        "no_such_connection": stops.no_such_connection(evil),
        "ambiguous_name": stops.ambiguous_name(evil, [1, 2]),
        "summary": stops.summary(stop, tally, final=True, resumable=1),
        "failures_reply": stops.failures_reply(failures),
        "stop_notice": stops.stop_notice(stop),
        "stop_outcome": stops.stop_outcome(stop, tally),
    }
