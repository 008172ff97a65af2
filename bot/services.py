"""Everything a running bot holds, built once from the settings: the wiring, in one place."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.alerts.worker import AlertWorker
from bot.answers.deciding import Decider
from bot.answers.home import HomeAnswers
from bot.answers.home_loop import HomeRefresher
from bot.answers.listing import Listings
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.db.alerts import AlertStore
from bot.db.engine import Database
from bot.db.events import EventStore
from bot.db.homes import HomeStore
from bot.db.operations import OperationStore
from bot.db.stops import StopStore
from bot.feed import EventPoller, Feed
from bot.metrics import Metrics
from bot.names import SyncNames
from bot.permissions import Authorizer
from bot.polytomic import PolytomicClient, error_kind
from bot.responder import AckGate, Responder
from bot.slack import SlackGateway, make_web_client
from bot.tracker import Tracker

log = logging.getLogger("bot.services")


def make_polytomic(
    settings: Settings,
    *,
    max_retries: int,
    timeout: float,
    deadline: float | None = None,
    metrics: Metrics | None = None,
    shared_retry_after: bool = False,
) -> PolytomicClient:
    on_error = None
    if metrics is not None:
        on_error = lambda error: metrics.remote_error("polytomic", error_kind(error))  # noqa: E731
    return PolytomicClient(
        settings.polytomic_deployment_url,
        api_key=settings.polytomic_api_key,
        deployment_key=settings.polytomic_deployment_key,
        organization_id=settings.polytomic_organization_id,
        api_version=settings.polytomic_api_version,
        timeout=timeout,
        deadline=deadline,
        max_retries=max_retries,
        on_error=on_error,
        shared_retry_after=shared_retry_after,
    )


@dataclass
class Services:
    settings: Settings
    db: Database
    operations: OperationStore  # every statement on `operations`, for listeners, answers, tracker
    stops: StopStore  # every statement on the stops' tables (a stop: many syncs at once)
    polytomic: PolytomicClient  # for answers to people: a few quick retries
    slack: SlackGateway
    authorizer: Authorizer
    metrics: Metrics
    responder: Responder
    ack_gate: AckGate
    decider: Decider  # permission decisions for the answers: asked, audited, explained
    listings: Listings  # reads of many syncs for the answers: capped, shared, cached
    clock: Clock = SYSTEM_CLOCK  # the one clock: rows' times, the answers' and the views' now
    tracker: Tracker | None = None
    events: EventStore | None = None  # Polytomic's events, stored once (bot/db/events.py)
    feed: Feed | None = None  # where every event goes, webhook or poll (bot/feed/)
    poller: EventPoller | None = None  # the events poller, when POLYTOMIC_EVENTS_INTERVAL > 0
    names: SyncNames = field(default_factory=SyncNames)  # a short cache of sync names
    homes: HomeStore | None = None  # the App Home tabs (bot/db/homes.py)
    home: HomeAnswers | None = None  # reads and publishes them (bot/answers/home.py)
    home_refresher: HomeRefresher | None = None  # republishes open ones, with the tracker
    alerts: AlertStore | None = None  # alerts, their failures and digests (bot/db/alerts.py)
    alert_worker: AlertWorker | None = None  # intake and passes of alerts, beside the tracker
    _started: bool = field(default=False, repr=False)

    def nudge(self) -> None:
        if self.tracker is not None:
            self.tracker.nudge()

    def nudge_alerts(self) -> None:
        if self.alert_worker is not None:
            self.alert_worker.nudge()

    def start(self) -> None:
        if self.tracker is not None and not self._started:
            self.tracker.start()
            if self.poller is not None:
                self.poller.start()
            if self.home_refresher is not None:
                self.home_refresher.start()
            if self.alert_worker is not None:
                self.alert_worker.start()
            self._started = True

    def stop(self, timeout: float = 8.0) -> None:
        """Drain: answers in progress and tracker steps finish, leases are given up."""
        if self.home_refresher is not None and self._started:
            self.home_refresher.stop(min(timeout, 2.0))  # before the lane it hands homes to
        self.responder.shutdown(wait=False)
        if self.poller is not None and self._started:
            self.poller.stop(min(timeout, 3.0))
        if self.alert_worker is not None and self._started:
            self.alert_worker.stop(min(timeout, 3.0))
        if self.tracker is not None and self._started:
            self.tracker.stop(timeout)
        self.listings.close()
        self.polytomic.close()
        self.db.dispose()


def build_services(
    settings: Settings, *, with_tracker: bool, responders: int = 32, clock: Clock = SYSTEM_CLOCK
) -> Services:
    """Every piece, wired: `clock` is the one every time on a row and in a view comes from."""
    db = Database(settings.database_url)
    operations = OperationStore(db, clock=clock, lease_ttl=settings.lease_ttl)
    stops = StopStore(db, clock=clock, lease_ttl=settings.lease_ttl)
    metrics = Metrics()
    slack = SlackGateway(
        make_web_client(settings),
        post_interval=settings.slack_post_interval,
        views_interval=settings.slack_views_interval,
        on_error=lambda method, error: metrics.slack_error(error),
    )
    authorizer = Authorizer(db, settings.bot_admins, slack.group_members)
    ack_gate = AckGate()
    polytomic = make_polytomic(settings, max_retries=2, timeout=5.0, metrics=metrics)
    services = Services(
        settings=settings,
        db=db,
        operations=operations,
        stops=stops,
        polytomic=polytomic,
        slack=slack,
        authorizer=authorizer,
        metrics=metrics,
        responder=Responder(responders, ack_gate),
        ack_gate=ack_gate,
        decider=Decider(authorizer, db, metrics, clock),
        listings=Listings(polytomic, ttl=settings.list_cache),
        clock=clock,
    )
    services.homes = HomeStore(db, clock=clock)
    services.home = HomeAnswers(
        services.homes, services.listings, authorizer, slack, services.names, clock, stops
    )
    services.events = EventStore(db, clock=clock)
    services.alerts = AlertStore(db, clock=clock, lease_ttl=settings.lease_ttl)
    services.feed = Feed(
        services.events, metrics, nudge=services.nudge, names=services.names, on_new=services.nudge_alerts
    )
    if with_tracker:
        # The tracker's own client retries little: a failed poll is simply tried again on the
        # next pass, and short calls let a SIGTERM drain finish within seconds. An attempt has
        # 5 s in all, so a Polytomic that drips (or hangs) frees a worker within 5 s, and one
        # stuck for some runs keeps no other run's cancel waiting longer (well under LEASE_TTL).
        services.home_refresher = HomeRefresher(services.homes, services.home, services.responder, clock)
        tracker_polytomic = make_polytomic(
            settings, max_retries=1, timeout=5.0, deadline=5.0, metrics=metrics, shared_retry_after=True
        )
        services.tracker = Tracker(
            operations,
            tracker_polytomic,
            slack,
            authorizer,
            settings,
            clock=clock,
            metrics=metrics,
            names=services.names,
            stops=stops,
            # An operation's change of state republishes its requester's open Home tab.
            on_change=services.home_refresher.stale,
        )
        services.alert_worker = AlertWorker(
            services.alerts,
            operations,
            slack,
            tracker_polytomic,
            owner=services.tracker.owner,
            sync_url=settings.sync_url,
            interval=min(1.0, settings.poll_interval),
            clock=clock,
        )
        services.tracker.companions.append(services.alert_worker.run_due)
        services.tracker.reconciler.alerts = services.alerts
        if settings.events_interval > 0:
            services.poller = EventPoller(
                services.events,
                services.feed,
                tracker_polytomic,
                interval=settings.events_interval,
                owner=services.tracker.owner,
                lease_ttl=settings.lease_ttl,
                clock=clock,
            )
    return services
