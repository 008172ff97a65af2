"""A stop's answers after the ack: the prompt (what `cancel|pause|resume <selector>` would
stop, who is left out), and the summary's clicks (Abort the rest, Resume the N schedules).

The prompt reads Polytomic (the connection, its syncs, each sync's run) and stores what it
showed as a row (bot/db/stops.py: a button holds 2,000 characters); the confirm click, recorded
before its ack (bot/listeners/actions.py), makes the stop from that row. Each sync is decided on
its own: those the caller may not act on are left out, and named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.answers.deciding import Decider
from bot.answers.listing import Listings
from bot.answers.requester import Requester
from bot.answers.syncs import NAME_PAGES, same_name
from bot.commands import Stop as StopCommand
from bot.db import audit
from bot.db.stops import MAX_STOP, Picked, StopStore
from bot.polytomic import MAX_PAGE_SIZE, PolytomicClient, PolytomicError, Sync, SyncStatus
from bot.polytomic.connections import ConnectionLookupError
from bot.selectors import Everything, Named, ToConnection
from bot.slack import SlackError
from bot.stops import resumable_members, resumable_ops
from bot.views import replies
from bot.views import stops as views
from bot.views.blocks import View
from bot.views.syncs import no_such_name, too_many_to_search

STOP_PAGES = MAX_STOP // MAX_PAGE_SIZE + 1  # pages read at most: one more than MAX_STOP needs


def answer_stop(
    polytomic: PolytomicClient,
    listings: Listings,
    decider: Decider,
    stops: StopStore,
    req: Requester,
    command: StopCommand,
    text: str,
) -> None:
    """The prompt: what would be stopped, who is left out, and the buttons."""
    verb, selector = command.verb, command.selector
    found = _selected(polytomic, listings, req, command)
    if found is None:
        return
    syncs, label, truncated = found
    if truncated or len(syncs) > MAX_STOP:
        req.answer(views.too_many(verb, max(len(syncs), MAX_STOP + 1), MAX_STOP))
        return
    running = verb == "cancel" or (not isinstance(selector, Named) and selector.running)
    excluded: list[views.Named] = []
    picked: list[Picked] = []
    statuses: Sequence[SyncStatus | PolytomicError] = (
        listings.statuses(syncs) if running or verb == "pause" else []
    )
    paused = stops.paused_by_the_bot([s.id for s in syncs]) if verb == "resume" else {}
    for i, sync in enumerate(syncs):
        status = statuses[i] if statuses else None
        if isinstance(status, PolytomicError):
            excluded.append(views.Named(sync.id, sync.name, "Polytomic did not say whether it runs"))
            continue
        current = status.current_execution if status is not None else None
        run = current.id if current is not None and current.status.is_active and current.id else None
        if running and run is None:
            continue  # not running: nothing to cancel (or, with `running`, not selected)
        if verb == "pause" and sync.active is False:
            continue  # already paused: nothing to do
        if verb == "resume" and sync.id not in paused:
            continue  # not paused by the bot: never resumed by it
        picked.append(Picked(sync.id, sync.name, run if verb == "cancel" else None))
    action = "cancel" if verb == "cancel" else "pause"
    allowed: list[Picked] = []
    try:
        # One read of the grants for every decision of the prompt (it lists up to MAX_STOP syncs);
        # the confirm decides each sync again (bot/tracker/stop_grants.py).
        grants = decider.authorizer.snapshot((action, "pause"))
        for one in picked:
            if decider.may(req.user_id, action, one.sync_id, grants=grants).allowed:
                allowed.append(one)
            else:
                excluded.append(views.Named(one.sync_id, one.name, f"you may not {action} it"))
        may_pause = verb == "cancel" and all(
            decider.shows(req.user_id, "pause", p.sync_id, grants=grants) for p in allowed
        )
    except SlackError:
        req.answer(replies.groups_unavailable())
        return
    audit.record(
        decider.db,
        at=decider.clock.now(),
        actor=req.user_id,
        action=f"stop.{verb}.request",
        outcome=f"{len(allowed)} selected, {len(excluded)} left out",
        channel_id=req.channel_id,
    )
    # Listed by name, as people scan for the one they expect.
    allowed.sort(key=lambda p: ((p.name or "").casefold(), p.sync_id))
    excluded.sort(key=lambda n: ((n.name or "").casefold(), n.sync_id))
    if not allowed:
        req.answer(views.nothing_to_stop(verb, label, excluded))
        return
    prompt_id = stops.save_prompt(
        verb=verb,
        command=text,
        label=label,
        requested_by=req.user_id,
        team_id=req.team_id,
        channel_id=req.channel_id,
        syncs=allowed,
    )
    shown = [views.Named(p.sync_id, p.name) for p in allowed]
    req.answer(views.stop_prompt(verb, label, shown, excluded, prompt_id, may_pause=may_pause))


def answer_expired(
    polytomic: PolytomicClient,
    listings: Listings,
    decider: Decider,
    stops: StopStore,
    req: Requester,
    command: StopCommand | None,
    text: str,
) -> None:
    """A prompt confirmed after it expired: say so, then ask again with what runs now."""
    req.answer(views.prompt_expired())
    if command is not None:
        answer_stop(polytomic, listings, decider, stops, req, command, text)


def _selected(
    polytomic: PolytomicClient, listings: Listings, req: Requester, command: StopCommand
) -> tuple[list[Sync], str, bool] | None:
    """The syncs under the selector, the label for the messages (a connection's name), and
    whether the read stopped at its cap. None when the requester has been answered instead."""
    selector = command.selector
    try:
        if isinstance(selector, Everything):
            scan = listings.scan(STOP_PAGES)
            return list(scan.syncs), "", scan.truncated
        if isinstance(selector, ToConnection):
            ref = selector.connection
            try:
                connection = polytomic.resolve_connection(ref.id or ref.name or "")
            except ConnectionLookupError:
                req.answer(views.no_such_connection(ref.name or ref.id or ""))
                return None
            syncs: list[Sync] = []
            for sync in polytomic.list_syncs(target_connection_id=connection.id):
                syncs.append(sync)
                if len(syncs) > MAX_STOP:
                    return syncs, connection.name or connection.id, True
            # The API filters by target; a sync it sends for another target is not one of these.
            syncs = [s for s in syncs if s.target_connection_id in (None, connection.id)]
            return syncs, connection.name or connection.id, False
        return _named(polytomic, listings, req, selector), "", False
    except _Answered:
        return None
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, None))
        return None


def _named(polytomic: PolytomicClient, listings: Listings, req: Requester, selector: Named) -> list[Sync]:
    """Each named sync, by ID (read) or by exact name (one listing); raises PolytomicError."""
    out: list[Sync] = []
    names = [ref.name for ref in selector.syncs if ref.name is not None]
    listed: tuple[Sync, ...] = ()
    if names:
        scan = listings.scan(NAME_PAGES)
        if scan.truncated:
            req.answer(too_many_to_search(names[0], len(scan.syncs), "cancel"))
            raise _Answered
        listed = scan.syncs
    for ref in selector.syncs:
        if ref.id is not None:
            out.append(polytomic.get_sync(ref.id))
            continue
        assert ref.name is not None
        matches = [s for s in listed if same_name(s.name, ref.name)]
        if len(matches) != 1:
            req.answer(no_such_name(ref.name) if not matches else views.ambiguous_name(ref.name, matches))
            raise _Answered
        out.append(matches[0])
    unique: dict[str, Sync] = {}
    for sync in out:
        unique.setdefault(sync.id, sync)
    return list(unique.values())


class _Answered(Exception):
    """The requester has been answered (no such name, several of that name): stop here."""


# ---- the summary's clicks ---------------------------------------------------------------


def answer_abort(
    stops: StopStore, decider: Decider, nudge: Callable[[], None], req: Requester, stop_id: int
) -> None:
    """Abort the rest: whoever asked for the stop, or anyone who may cancel every sync."""
    stop = stops.get(stop_id)
    if stop is None:
        req.answer(replies.invalid_button())
        return
    if req.user_id != stop.requested_by and not decider.allows(req, "cancel", None, "stop.abort"):
        return
    _record(
        req, nudge, lambda: stops.abort(stop_id, by=req.user_id, channel_id=req.channel_id), views.aborted
    )


def answer_resume(
    stops: StopStore, decider: Decider, nudge: Callable[[], None], req: Requester, stop_id: int
) -> None:
    """Resume the N schedules this stop paused: needs `pause` on each of them; once."""
    stop = stops.get(stop_id)
    if stop is None:
        req.answer(replies.invalid_button())
        return
    members, ops = stops.members(stop_id), stops.tallied(stop_id)
    sync_ids = [m.sync_id for m in resumable_members(stop, members)] + [o.sync_id for o in resumable_ops(ops)]
    try:
        for sync_id in sync_ids:
            if not decider.allows(req, "pause", sync_id, "stop.resume"):
                return
    except SlackError:
        req.answer(replies.groups_unavailable())
        return
    _record(
        req,
        nudge,
        lambda: stops.ask_resume(stop_id, by=req.user_id, channel_id=req.channel_id),
        lambda won: views.resume_asked(won, len(sync_ids)),
    )


def _record(
    req: Requester, nudge: Callable[[], None], click: Callable[[], bool], view: Callable[[bool], View]
) -> None:
    """Records a summary's click (`click` says whether it won: a second click, or a replay,
    loses), wakes the tracker if it did, and answers the clicker with `view` of the outcome."""
    try:
        won = click()
    except SQLAlchemyError:
        req.answer(replies.not_changed_database())
        return
    if won:
        nudge()
    req.answer(view(won))
