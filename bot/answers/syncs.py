"""Read-only answers about syncs: help, the cancel prompt, a sync's status, the list of syncs.

They change no row: the cancel prompt only shows the run and its buttons, and the confirm click
is what records an operation (bot.listeners.actions). A sync named rather than given by ID is
resolved here, through Polytomic's list endpoint, read within a cap of pages (NAME_PAGES), and
the list is read the same way (LIST_PAGES); both through `Listings` (bot.answers.listing),
which shares and caches those reads and bounds their fan-out.
"""

from __future__ import annotations

import dataclasses

from bot.answers.deciding import Decider
from bot.answers.listing import Listings
from bot.answers.requester import Requester
from bot.clock import Clock
from bot.commands import SyncRef
from bot.permissions import Authorizer
from bot.polytomic import MAX_PAGE_SIZE, PolytomicClient, PolytomicError
from bot.slack import SlackError
from bot.views import prompts, replies
from bot.views.syncs import (
    MAX_LIST,
    SyncLine,
    no_such_name,
    nothing_running,
    sync_list,
    sync_status,
    too_many_to_search,
)

LIST_SCAN = 200  # syncs looked at by /polytomic list before it says "and more"
LIST_PAGES = LIST_SCAN // MAX_PAGE_SIZE + 1  # pages it reads at most (one more says "and more")
NAME_PAGES = 20  # pages a name look-up reads at most (1,000 syncs) before it asks for the ID


def same_name(a: str | None, b: str) -> bool:
    return a is not None and " ".join(a.split()).casefold() == b.casefold()


def resolve(
    listings: Listings, req: Requester, ref: SyncRef, verb: str, *, max_pages: int = NAME_PAGES
) -> str | None:
    """The sync ID a command is about; by name through the list endpoint, at most `max_pages`
    pages of it. None when the user has been answered instead (no such name, several to pick
    from, or too many syncs to be sure)."""
    if ref.id is not None:
        return ref.id
    assert ref.name is not None
    try:
        scan = listings.scan(max_pages)
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, None))
        return None
    if scan.truncated:
        # A sync of that name (another one, or the only one) may be past the pages read.
        req.answer(too_many_to_search(ref.name, len(scan.syncs), verb))
        return None
    matches = [sync for sync in scan.syncs if same_name(sync.name, ref.name)]
    if len(matches) == 1:
        return matches[0].id
    req.answer(prompts.pick_sync(matches, verb, ref.name) if matches else no_such_name(ref.name))
    return None


def answer_help(authorizer: Authorizer, req: Requester) -> None:
    try:
        capabilities = authorizer.capabilities(req.user_id)
    except SlackError:
        capabilities = frozenset()  # the commands anyone may run are still worth showing
    req.answer(replies.help_view(capabilities))


def answer_cancel(
    polytomic: PolytomicClient, listings: Listings, decider: Decider, req: Requester, ref: SyncRef
) -> None:
    """Show the running execution with Cancel / Keep running, or say why there is nothing to do."""
    sync_id = resolve(listings, req, ref, "cancel")
    if sync_id is None or not decider.allows(req, "cancel", sync_id, "cancel.request"):
        return
    try:
        sync, status = polytomic.sync_and_status(sync_id)
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, sync_id))
        return
    current = status.current_execution
    if current is None or current.status.is_terminal or not current.id:
        req.answer(nothing_running(sync, status))
        return
    may_pause = decider.shows(req.user_id, "pause", sync_id)
    req.answer(prompts.cancel_prompt(sync, current, current.id, may_pause=may_pause))


def answer_status(polytomic: PolytomicClient, listings: Listings, req: Requester, ref: SyncRef) -> None:
    sync_id = resolve(listings, req, ref, "status")
    if sync_id is None:
        return
    try:
        sync, status = polytomic.sync_and_status(sync_id)
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, sync_id))
        return
    req.answer(sync_status(sync, status))


def answer_list(
    listings: Listings, decider: Decider, clock: Clock, req: Requester, running_only: bool
) -> None:
    """The syncs (or those running) with their state, at most LIST_PAGES pages of them."""
    try:
        scan = listings.scan(LIST_PAGES)
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, None))
        return
    syncs = list(scan.syncs[:LIST_SCAN])
    # At least this many not even looked at (one, when only the page cap says there are more).
    unseen = max(len(scan.syncs) - LIST_SCAN, 1 if scan.truncated else 0)
    # Every sync's status is needed to know which are running; otherwise only the shown ones'.
    looked_at = syncs if running_only else syncs[:MAX_LIST]
    lines = [
        SyncLine(sync, None, error=status.message or type(status).__name__)
        if isinstance(status, PolytomicError)
        else SyncLine(sync, status.current_execution)
        for sync, status in zip(looked_at, listings.statuses(looked_at), strict=True)
    ]
    if running_only:
        lines = [line for line in lines if line.current is not None and line.current.status.is_active]
    shown = lines[:MAX_LIST]
    hidden = len(lines) - len(shown) + unseen + (0 if running_only else len(syncs) - len(looked_at))
    shown = [
        dataclasses.replace(line, may_cancel=decider.shows(req.user_id, "cancel", line.sync.id))
        if line.current is not None and line.current.status.is_active
        else line
        for line in shown
    ]
    age = listings.age(LIST_PAGES, looked_at)
    req.answer(sync_list(shown, running_only=running_only, hidden=hidden, now=clock.now(), age=age))
