"""Read-only answers about syncs: help, the cancel prompt, a sync's status, the list of syncs.

They change no row: the cancel prompt only shows the run and its buttons, and the confirm click
is what records an operation (bot.listeners.actions). A sync named rather than given by ID is
resolved here, through Polytomic's list endpoint.
"""

from __future__ import annotations

import dataclasses
import itertools
from concurrent.futures import ThreadPoolExecutor

from bot.answers.deciding import Decider
from bot.answers.requester import Requester
from bot.clock import Clock
from bot.commands import SyncRef
from bot.permissions import Authorizer
from bot.polytomic import PolytomicClient, PolytomicError, Sync
from bot.slack import SlackError
from bot.views import prompts, replies
from bot.views.syncs import MAX_LIST, SyncLine, no_such_name, nothing_running, sync_list, sync_status

LIST_SCAN = 200  # syncs looked at by /polytomic list before it says "and more"


def same_name(a: str | None, b: str) -> bool:
    return a is not None and " ".join(a.split()).casefold() == b.casefold()


def resolve(polytomic: PolytomicClient, req: Requester, ref: SyncRef, verb: str) -> str | None:
    """The sync ID a command is about; by name through the list endpoint. None when the user
    has been answered instead (no such name, or several to pick from)."""
    if ref.id is not None:
        return ref.id
    assert ref.name is not None
    try:
        matches = [sync for sync in polytomic.list_syncs() if same_name(sync.name, ref.name)]
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, None))
        return None
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


def answer_cancel(polytomic: PolytomicClient, decider: Decider, req: Requester, ref: SyncRef) -> None:
    """Show the running execution with Cancel / Keep running, or say why there is nothing to do."""
    sync_id = resolve(polytomic, req, ref, "cancel")
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


def answer_status(polytomic: PolytomicClient, req: Requester, ref: SyncRef) -> None:
    sync_id = resolve(polytomic, req, ref, "status")
    if sync_id is None:
        return
    try:
        sync, status = polytomic.sync_and_status(sync_id)
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, sync_id))
        return
    req.answer(sync_status(sync, status))


def answer_list(
    polytomic: PolytomicClient, decider: Decider, clock: Clock, req: Requester, running_only: bool
) -> None:
    """The syncs (or those running) with their state; page tokens are followed by the client."""
    try:
        syncs = list(itertools.islice(polytomic.list_syncs(), LIST_SCAN + 1))
    except PolytomicError as error:
        req.answer(replies.polytomic_failure(error, None))
        return
    unseen = max(0, len(syncs) - LIST_SCAN)  # at least this many not even looked at
    syncs = syncs[:LIST_SCAN]
    # Every sync's status is needed to know which are running; otherwise only the shown ones'.
    looked_at = syncs if running_only else syncs[:MAX_LIST]
    with ThreadPoolExecutor(8, thread_name_prefix="list") as pool:
        lines = list(pool.map(lambda sync: _line(polytomic, sync), looked_at))
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
    req.answer(sync_list(shown, running_only=running_only, hidden=hidden, now=clock.now()))


def _line(polytomic: PolytomicClient, sync: Sync) -> SyncLine:
    try:
        status = polytomic.sync_status(sync.id)
    except PolytomicError as error:
        return SyncLine(sync, None, error=error.message or type(error).__name__)
    return SyncLine(sync, status.current_execution)
