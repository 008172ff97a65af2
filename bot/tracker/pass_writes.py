"""What a reconcile pass has to write, and when: the buffers behind `Pass.save`.

A pass reads things that record no effect (rows, the status seen), lands effects (a message's
ts, an edit's digest) and decides things worth an audit row. Each kind waits for a different
write: what was read rides on the next save or on the release (`note`); a post's ts must be on
the row before the next remote call (`record`, `flush`), or a post sent again would be a second
message; an edit's digest may wait for the pass's last write (`record_edit`), since an edit sent
again shows the same. Kept apart from the steps (bot.tracker.steps) and the Slack side
(bot.tracker.messages), which both write through these verbs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.db.audit import Event
from bot.db.models import Operation

if TYPE_CHECKING:
    from bot.tracker.reconcile import Reconciler


class PassWrites:
    """The write buffers of one pass over `op`, written under the reconciler's lease."""

    r: Reconciler
    op: Operation

    def start_writes(self) -> None:
        # What the pass read that records no effect: written with the next save, or with the
        # release at the end.
        self.pending: dict[str, Any] = {}
        # Effects that landed (a message's ts, a digest) and audit rows, not written yet: they
        # ride on the next write, which comes before the next remote call (`flush`) or is the
        # pass's release or finish, so each effect is on the row before another is attempted.
        self.unsaved: dict[str, Any] = {}
        # What a successful edit of a message records (its digests): an edit sent again shows
        # what the message shows already and posts nothing, so this waits for the pass's next
        # save or its release or finish, not for the next remote call (`record_edit`).
        self.edited: dict[str, Any] = {}
        self.audits: list[Event] = []

    def save(self, audit: Event | None = None, /, **changes: Any) -> None:
        merged = {**self.pending, **self.edited, **self.unsaved, **changes}
        audits = [*self.audits, audit] if audit is not None else list(self.audits)
        self.pending.clear()
        # Kept until written: a save the database refuses (ExecutionHeld) leaves them for the next.
        self.r.save(self.op, merged, audits)
        self.unsaved.clear()
        self.edited.clear()
        self.audits.clear()

    def record(self, **changes: Any) -> None:
        """An effect that just landed (bot.tracker.posts): on the row in memory now, written
        with the next write (see `unsaved`)."""
        for name, value in changes.items():
            setattr(self.op, name, value)
        self.unsaved.update(changes)

    def record_edit(self, **changes: Any) -> None:
        """A message's edit that just landed (bot.tracker.posts): on the row in memory now,
        written with the pass's next save, release or finish (see `edited`). Only a post's ts
        must be on the row before the next remote call (a post sent again is a second message);
        an edit lost with a crash is sent again, the same, by the next pass."""
        for name, value in changes.items():
            setattr(self.op, name, value)
        self.edited.update(changes)

    def flush(self) -> None:
        """Write the effects that landed and are not written yet: called before every remote
        call. (Audit rows wait for the next save: they record decisions, not effects.)"""
        if self.unsaved:
            self.save()

    def closing(self) -> tuple[dict[str, Any], bool]:
        """What the release or finish writes, and whether it records an effect (then the
        write is waited out like a save, never given up while the database is away)."""
        if self.audits:
            self.save()  # an audit row is an INSERT: a save of its own
        effects = bool(self.unsaved or self.edited)
        changes = {**self.pending, **self.edited, **self.unsaved}
        self.pending.clear()
        self.edited.clear()
        self.unsaved.clear()
        return changes, effects

    def note(self, **changes: Any) -> None:
        """Take in what was read without writing it yet (see `pending`)."""
        for name, value in changes.items():
            setattr(self.op, name, value)
        self.pending.update(changes)
