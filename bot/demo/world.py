"""The demo's simulated Polytomic and Slack workspace: the fakes of the tests, set up as a small
data team's organization.

Polytomic: four connections and twelve syncs. Some run with their rows growing (a few for a long
time, so there is always something to cancel; their schedules start them again), some run on
short schedules and complete, one fails every few minutes (so the alert flow shows without
waiting long), one is paused, and every sync has a little history. `fail_now` makes the failing
sync fail at once, for the page's button and for tests.

Slack: the three demo users and the two channels. What the bot posts lands in the fake Slack,
where the page (page.py) reads it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from bot.demo.settings import (
    BOT_TOKEN,
    CHANNEL,
    CHANNEL_NAME,
    INCIDENT_CHANNEL,
    INCIDENT_CHANNEL_NAME,
    POLYTOMIC_KEY,
    USERS,
)
from bot.fakes.polytomic import FakePolytomic, FakeSync
from bot.fakes.slack import FakeSlack

# How much the fakes remember: enough for a day's demo on one screen, never more.
MAX_RECORDS = 2_000  # the fake Slack's requests, messages, ephemerals, response_urls
MAX_EVENTS = 2_000  # the fake Polytomic's events and webhook deliveries
MAX_REQUESTS = 5_000  # the fake Polytomic's recorded requests and idempotent answers
MAX_EXECUTIONS = 20  # runs kept per sync (the running one and the newest finished)

FAILING_SYNC = "Tickets to Zendesk"
FAILURE = (
    "Zendesk API answered 429 Too Many Requests: rate limit exceeded for /api/v2/tickets (retry in 60 s)"
)
CANCEL_DELAY = 3.0  # seconds a canceled run stays `canceling`, so the status message shows it


@dataclass(frozen=True)
class Plan:
    """One sync of the demo: where it writes, and how it runs."""

    name: str
    connection: str
    target_object: str
    frequency: str = "hourly"
    running: float | None = None  # rows a second of a run going now (None: not running)
    runs_for: float | None = None  # seconds each run lasts (None: until canceled)
    every: float | None = None  # seconds between scheduled runs (None: no schedule here)
    fails: bool = False
    active: bool = True
    history: str = "completed"  # the last run before the demo began


CONNECTIONS = {
    "Salesforce (production)": "salesforce",
    "HubSpot": "hubspot",
    "Zendesk": "zendesk",
    "App database (Postgres)": "postgresql",
}

PLANS = (
    Plan("Contacts to Salesforce", "Salesforce (production)", "Contact", running=120.0, every=900.0),
    Plan("Opportunities to Salesforce", "Salesforce (production)", "Opportunity", running=40.0, every=900.0),
    Plan("Accounts to Salesforce", "Salesforce (production)", "Account", runs_for=90.0, every=240.0),
    Plan("Churn scores to Salesforce", "Salesforce (production)", "Account", "daily", history="failed"),
    Plan("Leads to HubSpot", "HubSpot", "contacts", running=250.0, runs_for=600.0, every=720.0),
    Plan("Companies to HubSpot", "HubSpot", "companies", runs_for=60.0, every=360.0),
    Plan("Product usage to HubSpot", "HubSpot", "contacts", running=60.0, every=1800.0),
    Plan("Deals to HubSpot", "HubSpot", "deals", active=False),
    Plan(FAILING_SYNC, "Zendesk", "tickets", "continuous", runs_for=25.0, every=180.0, fails=True),
    Plan("Users to Zendesk", "Zendesk", "users", runs_for=45.0, every=300.0),
    Plan("Orders to the app database", "App database (Postgres)", "orders", running=800.0, every=1200.0),
    Plan("Invoices to the app database", "App database (Postgres)", "invoices"),
)


def make_fakes() -> tuple[FakeSlack, FakePolytomic]:
    """The two fakes, with the demo's bounds, not yet started."""
    slack = FakeSlack(BOT_TOKEN, team_name="Demo Data Team", team_domain="demo-data", max_records=MAX_RECORDS)
    polytomic = FakePolytomic(
        POLYTOMIC_KEY,
        organization_name="Demo Data Team",
        max_events=MAX_EVENTS,
        max_recorded=MAX_REQUESTS,
        max_executions=MAX_EXECUTIONS,
    )
    return slack, polytomic


def populate_slack(slack: FakeSlack) -> None:
    for user in USERS:
        slack.add_user(user.id, user.name.split()[0].lower(), real_name=user.name)
    slack.add_channel(CHANNEL, CHANNEL_NAME)
    slack.add_channel(INCIDENT_CHANNEL, INCIDENT_CHANNEL_NAME)


def populate_polytomic(polytomic: FakePolytomic) -> dict[str, FakeSync]:
    """The organization: its connections and syncs, their history, the runs going now and the
    schedules. The syncs by name."""
    connections = {name: polytomic.add_connection(name, kind).id for name, kind in CONNECTIONS.items()}
    syncs: dict[str, FakeSync] = {}
    for number, plan in enumerate(PLANS):
        sync = polytomic.add_sync(
            name=plan.name,
            active=plan.active,
            target_connection_id=connections[plan.connection],
            target_object=plan.target_object,
            frequency=plan.frequency,
            next_run_in=plan.every,
        )
        syncs[plan.name] = sync
        errors = [FAILURE] if plan.history == "failed" else None
        sync.add_past_execution(
            "completed", ago=7200.0 + 60 * number, duration=240.0, rows=4_000 + 917 * number
        )
        sync.add_past_execution(
            plan.history, ago=3600.0 + 60 * number, duration=180.0, rows=3_000 + 431 * number, errors=errors
        )
        run = _run_options(plan)
        if plan.running is not None:
            sync.start_execution(**{**run, "rows_per_second": plan.running})
        if plan.every is not None:
            first = plan.every if plan.running is not None else min(plan.every, 20.0 + 15 * number)
            sync.schedule_runs(plan.every, first_in=first, **run)
    return syncs


def _run_options(plan: Plan) -> dict[str, Any]:
    options: dict[str, Any] = {
        "cancel_delay": CANCEL_DELAY,
        "rows_per_second": plan.running or 150.0,
        "type": "scheduled",
    }
    if plan.runs_for is not None:
        options["outcome"] = "failed" if plan.fails else "completed"
        options["after"] = plan.runs_for
    if plan.fails:
        options["errors"] = [FAILURE]
    return options


def fail_now(polytomic: FakePolytomic) -> str:
    """Make the failing sync fail now (its run going now, or one started for it): the name."""
    sync = next(s for s in polytomic.syncs if s.name == FAILING_SYNC)
    if sync.current_execution is None:
        with contextlib.suppress(RuntimeError):  # the schedule started one meanwhile: fail that
            sync.start_execution(rows_per_second=150.0, cancel_delay=CANCEL_DELAY, type="manual")
    sync.finish_current("failed", errors=[FAILURE])
    return sync.name
