"""The App Home tab's work after the ack: read what one person's home shows, publish it, and open
the confirm modal of its Cancel… buttons.

`HomeAnswers.read` gathers a `HomeData` (bot/views/home.py renders it): the person's grants and
those of their groups (every grant read once, their groups asked of Slack through the gateway's
60-second cache), the running syncs, through the listing cache that `/polytomic list` shares
(bot/answers/listing.py: 15 s, single flight, a bounded fan-out), so a hundred people opening
their homes within a minute cost Polytomic a few rounds of reads, not a hundred; and their last
operations and stops (a stop: many syncs at once, with its counts) and the subscriptions they
can manage (bot/db/subscriptions.py `manageable_by`). A
viewer with no permission at all costs Polytomic nothing: their empty state says what the bot
does and who can grant access.

`publish` sends the view with views.publish, which the gateway paces (Tier 4): a call whose
turn is further off than a moment waits for it here, on the homes' own lane of the responder
(never on the threads a cancel prompt needs), up to PUBLISH_PATIENCE seconds, and is read again
once its turn has come.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from bot.answers.listing import Listings
from bot.answers.syncs import LIST_PAGES, LIST_SCAN
from bot.clock import Clock
from bot.db import grants as grant_store
from bot.db import subscriptions
from bot.db.homes import HomeStore, OpenHome
from bot.db.stops import StopStore
from bot.names import SyncNames
from bot.permissions import Authorizer, Rule, as_rules, decide, granters
from bot.polytomic import PolytomicError
from bot.slack import SlackError, SlackGateway, Throttled
from bot.stops import tally
from bot.views.home import HomeData, RunningSync, home, home_tab
from bot.views.home_modal import cancel_modal

log = logging.getLogger("bot.answers.home")

PUBLISH_PATIENCE: Final = 90.0  # seconds a publish waits for its turn (Tier 4 pacing) at most
WAIT_IN_PLACE: Final = 1.0  # seconds a publish waits in the gateway before it is told to come back


@dataclass(frozen=True)
class Standing:
    """What the viewer holds: every grant, the groups of theirs that grants name, and whether
    Slack could say which groups those are."""

    rules: tuple[Rule, ...]
    member_of: frozenset[str]
    groups_unknown: bool


class HomeAnswers:
    """Reads and publishes Home tabs; built once in bot/services.py."""

    def __init__(
        self,
        homes: HomeStore,
        listings: Listings,
        authorizer: Authorizer,
        slack: SlackGateway,
        names: SyncNames,
        clock: Clock,
        stops: StopStore,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.homes = homes
        self.listings = listings
        self.authorizer = authorizer
        self.slack = slack
        self.names = names
        self.clock = clock
        self.stops = stops
        self._sleep = sleep

    # ---- what a home shows ----------------------------------------------------------------

    def standing(self, user_id: str) -> Standing:
        rules = tuple(as_rules(grant_store.every_grant(self.authorizer.db)))
        groups = sorted({rule.subject_id for rule in rules if rule.subject_kind == "usergroup"})
        try:
            member_of = frozenset(g for g in groups if user_id in self.authorizer.group_members(g))
        except SlackError:  # rate-limited or down: the home says so rather than waiting
            return Standing(rules, frozenset(), groups_unknown=True)
        return Standing(rules, member_of, groups_unknown=False)

    def read(self, user_id: str) -> HomeData:
        admins = self.authorizer.admins
        standing = self.standing(user_id)
        mine = [
            rule
            for rule in standing.rules
            if (rule.subject_kind == "user" and rule.subject_id == user_id)
            or (rule.subject_kind == "usergroup" and rule.subject_id in standing.member_of)
        ]
        # Subscriptions: those they made, and every one on a sync they hold `subscribe` on.
        subscribable = {rule.scope for rule in mine if rule.action in ("subscribe", "admin")}
        data = HomeData(
            user_id=user_id,
            is_admin=user_id in admins,
            grants=mine,
            granters=granters(admins, standing.rules, None),
            groups_unknown=standing.groups_unknown,
            operations=self.homes.recent_operations(user_id),
            stops=[
                (stop, tally(stop, self.stops.members(stop.id), self.stops.tallied(stop.id)))
                for stop in self.homes.recent_stops(user_id)
            ],
            workspace_url=self.slack.workspace_url(),
            subscriptions=subscriptions.manageable_by(
                self.authorizer.db, user_id, admin=user_id in admins, subscribable=subscribable
            ),
        )
        if not data.has_permission:
            return data  # the empty state reads nothing from Polytomic
        try:
            scan = self.listings.scan(LIST_PAGES)
        except PolytomicError as error:
            return replace(data, running=(), running_error=error.message or type(error).__name__)
        syncs = list(scan.syncs[:LIST_SCAN])
        running: list[RunningSync] = []
        for sync, status in zip(syncs, self.listings.statuses(syncs), strict=True):
            current = None if isinstance(status, PolytomicError) else status.current_execution
            if current is None or not current.status.is_active or not current.id:
                continue
            if sync.name is not None:
                self.names.put(sync.id, sync.name)  # the modal names it without asking again
            allowed = decide(
                user_id,
                "cancel",
                sync.id,
                admins=admins,
                rules=standing.rules,
                user_groups=standing.member_of,
            ).allowed
            running.append(RunningSync(sync, current, allowed))
        # A run someone's cancel holds already shows who asked, not a button (the listing may be
        # up to its 15 s old: the run may have stopped since).
        held = self.homes.holders([item.execution.id or "" for item in running])
        running = [
            replace(item, held_by=held[item.execution.id]) if item.execution.id in held else item
            for item in running
        ]
        unseen = max(len(scan.syncs) - LIST_SCAN, 1 if scan.truncated else 0)
        age = self.listings.age(LIST_PAGES, syncs)
        return replace(data, running=tuple(running), running_unseen=unseen, age=age)

    # ---- publishing -------------------------------------------------------------------------

    def publish(self, user_id: str) -> bool:
        """Read and publish `user_id`'s home; False when it could not be sent (logged). A
        publish told to wait for its turn reads the home again once its turn has come, so
        what it shows is no older than the listing cache."""
        waited = 0.0
        while True:
            view = home_tab(home(self.read(user_id), self.clock.now()))
            try:
                self.slack.publish_home(user_id, view, wait=WAIT_IN_PLACE)
                return True
            except Throttled as throttled:
                if waited + throttled.retry_after > PUBLISH_PATIENCE:
                    log.warning("a home was not published: Slack's rate limit for views.publish")
                    return False
                self._sleep(throttled.retry_after)
                waited += throttled.retry_after
            except SlackError as error:
                log.warning("a home was not published: %s", error)
                return False

    def opened(self, user_id: str, team_id: str | None, channel_id: str | None, event_ts: str) -> None:
        """app_home_opened (tab `home`): taken once per event, then published."""
        if not self.homes.opened(user_id, team_id, channel_id, event_ts):
            return  # the same event again: a duplicate
        if self.publish(user_id):
            self.homes.published(user_id)

    def refresh(self, user_id: str) -> None:
        """The Refresh button: the home is open, and published afresh."""
        self.homes.touched(user_id)
        if self.publish(user_id):
            self.homes.published(user_id)

    def republish(self, open_home: OpenHome) -> None:
        """A home `claim_due` handed out (marked published already): publish it, or make it
        due again after its window when that failed."""
        if not self.publish(open_home.user_id):
            self.homes.restale(open_home.user_id)

    def open_cancel_modal(self, trigger_id: str, sync_id: str, execution_id: str) -> None:
        """views.open of the confirm modal, at once: a trigger_id lasts 3 seconds."""
        try:
            self.slack.open_modal(trigger_id, cancel_modal(sync_id, execution_id, self.names.get(sync_id)))
        except SlackError as error:
            log.warning("the confirm modal did not open: %s", error)
