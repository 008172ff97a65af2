"""A stop's checks, pure: what its syncs came to (`tally`), whether it is final, and which
schedules a resume may reactivate. The stop pass (bot/tracker/stop_pass.py) and the summary's
views (bot/views/stops.py) read the same tally, so the words cannot drift from the counts.

A *stop* is many syncs canceled, paused or resumed from one confirm click; it is not called an
incident because the incident channel (`INCIDENT_CHANNEL`, the operations' `incident_*`
columns) already has that word.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from bot.db.models import Operation, Stop, StopSync
from bot.db.stop_statements import TalliedOperation
from bot.operations import FINAL, State, pause_due
from bot.views import notes

# A stop's operation as its tally reads it: the narrow row of its pass's read
# (bot/db/stops.py `tallied`), or the whole row.
OperationRow = Operation | TalliedOperation
_Op = TypeVar("_Op", bound=OperationRow)

CANCELING_KINDS = frozenset({"cancel", "cancel_and_pause"})
PAUSING_KINDS = frozenset({"cancel_and_pause", "pause"})


@dataclass(frozen=True)
class Failure:
    """One sync the stop did not bring where it was asked to, and why (plain words)."""

    sync_id: str
    name: str | None
    why: str


@dataclass(frozen=True)
class Tally:
    size: int
    canceled: int = 0
    canceling: int = 0  # the run is held and its cancel on its way or sent
    waiting: int = 0  # confirmed, not yet taken up (its cancel not sent)
    completed: int = 0  # completed before the cancel landed
    failed: int = 0  # the run failed (while being canceled)
    interrupted: int = 0
    changed: int = 0  # the run had changed or ended since the prompt: reported, not canceled
    denied: int = 0  # the clicker may not cancel it (decided again on confirm)
    not_sent: int = 0  # aborted before its cancel went
    refused: int = 0  # Polytomic refused the cancel
    elsewhere: int = 0  # someone else was canceling that run already
    paused: int = 0
    already_paused: int = 0
    pause_failed: int = 0
    pausing: int = 0
    resumed: int = 0
    resume_failed: int = 0
    failures: tuple[Failure, ...] = field(default_factory=tuple)

    @property
    def settled(self) -> bool:
        return self.canceling == 0 and self.waiting == 0 and self.pausing == 0


_OUTCOME_FIELD = {
    State.CANCELED: "canceled",
    State.COMPLETED: "completed",
    State.FAILED: "failed",
    State.INTERRUPTED: "interrupted",
    State.STALE: "changed",
    State.REJECTED: "refused",
    State.DUPLICATE: "elsewhere",
}


def tally(stop: Stop, members: Sequence[StopSync], ops: Sequence[OperationRow]) -> Tally:
    counts: dict[str, int] = {}
    failures: list[Failure] = []

    def add(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for op in ops:
        state = State(op.state)
        if state is State.CONFIRMED:
            add("waiting")
        elif state not in FINAL:
            add("canceling")
        elif state is State.DENIED:
            aborted = op.last_error == notes.ABORTED
            add("not_sent" if aborted else "denied")
            if not aborted:
                failures.append(Failure(op.sync_id, op.sync_name, "you may not cancel it"))
        else:
            add(_OUTCOME_FIELD[state])
            if state is State.STALE:
                failures.append(
                    Failure(op.sync_id, op.sync_name, "its run had changed or ended since the prompt")
                )
            elif state in (State.FAILED, State.REJECTED, State.INTERRUPTED):
                why = (op.execution_errors or op.last_error or str(state))[:200]
                failures.append(Failure(op.sync_id, op.sync_name, f"{state}: {why}"))
        if op.kind == "cancel_and_pause":
            _schedule(add, failures, op)
            if pause_due(cast(Operation, op)):  # it reads only the tallied columns
                add("pausing")
        _resume(add, failures, op)
    if stop.kind in ("pause", "resume"):
        for member in members:
            if stop.kind == "pause":
                pending = member.was_active is None and member.pause_error is None and stop.aborted_at is None
                if pending:
                    add("pausing")
                _schedule(add, failures, member)
            _resume(add, failures, member)
    return Tally(size=stop.size, failures=tuple(failures), **counts)


def _schedule(
    add: Callable[[str], None],
    failures: list[Failure],
    row: OperationRow | StopSync,
) -> None:
    if row.paused_at is not None:
        add("paused")
    elif row.was_active is False:
        add("already_paused")
    elif row.pause_error is not None:
        add("pause_failed")
        failures.append(
            Failure(row.sync_id, row.sync_name, f"the schedule could not be paused: {row.pause_error[:200]}")
        )


def _resume(add: Callable[[str], None], failures: list[Failure], row: OperationRow | StopSync) -> None:
    if row.resumed_at is not None:
        add("resumed")
    elif row.resume_error is not None:
        add("resume_failed")
        why = f"could not be resumed: {row.resume_error[:200]}"
        failures.append(Failure(row.sync_id, row.sync_name, why))


def resumable_ops(ops: Sequence[_Op]) -> list[_Op]:
    """The operations whose schedule this stop paused and that were active before: a resume
    reactivates these, never one that was already paused."""
    return [op for op in ops if _paused_here(op)]


def resumable_members(stop: Stop, members: Sequence[StopSync]) -> list[StopSync]:
    """A pause's syncs that it paused (active before) and not resumed yet; a resume stop's
    syncs (its prompt listed only schedules the bot paused), not resumed yet."""
    if stop.kind == "resume":
        return [m for m in members if m.resumed_at is None and m.resume_error is None]
    if stop.kind != "pause":
        return []
    return [m for m in members if _paused_here(m)]


def _paused_here(row: OperationRow | StopSync) -> bool:
    """Paused by this stop, active before it, and not resumed (nor failed to) since."""
    paused = row.paused_at is not None and row.was_active is True
    return paused and row.resumed_at is None and row.resume_error is None


def pending_pauses(stop: Stop, members: Sequence[StopSync]) -> list[StopSync]:
    if stop.kind != "pause" or stop.aborted_at is not None:
        return []
    return [m for m in members if m.was_active is None and m.pause_error is None]


def may_resume(stop: Stop, members: Sequence[StopSync], ops: Sequence[OperationRow]) -> int:
    """How many schedules the final summary's Resume button would reactivate."""
    if stop.kind == "resume":
        return 0
    return len(resumable_ops(ops)) + len(resumable_members(stop, members))
