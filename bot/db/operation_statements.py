"""The tracker's hot statements on `operations`, built once (bot/db/operations.py and
operation_clicks.py run them).

Each takes its values as parameters at execution: an UPDATE without `.values()` sets the
columns named by the parameters' keys, and the `w_*` parameters are its WHERE's. SQLAlchemy
compiles each shape once and reuses it, where building a fresh statement for every write (its
coercions and its cache key) cost about a third of a write's CPU; the tracker writes several
times per cancellation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import configure_mappers, instrumentation

from bot.db.models import NOT_HOLDING, OPERATIONS, STOPS, Operation

OPS = OPERATIONS


def lease_free(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """The row's lease is nobody's, or has expired by `now`."""
    return or_(OPS.c.lease_owner.is_(None), OPS.c.lease_expires_at < now)


# A pass's write: its row, while this owner holds the lease; a move, only from the state seen.
_MINE = (OPS.c.id == bindparam("w_id"), OPS.c.lease_owner == bindparam("w_owner"))
SAVE = update(OPS).where(*_MINE)
SAVE_MOVE = SAVE.where(OPS.c.state == bindparam("w_state"))
# A stop's sync taking its run (confirmed → canceling, after which its cancel goes): only while
# nobody aborted the rest of the stop, decided by this UPDATE, so that an abort committed at
# any moment before it stops the cancel (a read before it would leave a window).
STOP_ABORTED = exists(select(STOPS.c.id).where(STOPS.c.id == OPS.c.stop_id, STOPS.c.aborted_at.is_not(None)))
SAVE_TAKE_IN_STOP = SAVE_MOVE.where(~STOP_ABORTED)
# ... and when it matched nothing, whether the abort is why (the row still ours, as it was seen).
SAVE_TAKE_ABORTED = select(OPS.c.id).where(*_MINE, OPS.c.state == bindparam("w_state"), STOP_ABORTED)
RELEASE = update(OPS).where(*_MINE).returning(OPS.c.next_poll_at)
# Due at `w_next`, unless an event made the row due since the pass claimed it: then now.
RELEASE_AT = RELEASE.values(
    next_poll_at=case(
        (
            OPS.c.hinted_at.is_not_distinct_from(bindparam("w_hinted", type_=OPS.c.hinted_at.type)),
            bindparam("w_next", type_=OPS.c.next_poll_at.type),
        ),
        else_=bindparam("w_now", type_=OPS.c.next_poll_at.type),
    )
)
_NOW = bindparam("w_now", type_=OPS.c.next_poll_at.type)
_DUE = (
    select(OPS.c.id)
    .where(OPS.c.finished_at.is_(None), OPS.c.next_poll_at <= _NOW, lease_free(_NOW))
    # Rows whose run's end an event told (its final pass, no remote call) before the rest: a
    # stop's last summary does not wait behind its syncs still to confirm.
    .order_by(OPS.c.event_type.is_(None), OPS.c.next_poll_at)
    .limit(bindparam("w_limit"))
    # PostgreSQL: replicas skip rows another is claiming instead of queueing on them.
    .with_for_update(skip_locked=True)
)
# The lease is checked again in the UPDATE itself: on SQLite (no row locks) that is what makes
# the claim exclusive. The lease's owner and expiry are the SET clause, given at execution.
CLAIM = update(OPS).where(OPS.c.id.in_(_DUE.scalar_subquery()), lease_free(_NOW)).returning(*OPS.c)
# ... passing over rows whose pass in this process is stuck (bot/tracker/loop.py's PASS_LIMIT):
# their leases expire so that ANOTHER process takes them; this one must not win them back.
_DUE_SKIPPING = _DUE.where(OPS.c.id.not_in(bindparam("w_skip", expanding=True)))
CLAIM_SKIPPING = (
    update(OPS).where(OPS.c.id.in_(_DUE_SKIPPING.scalar_subquery()), lease_free(_NOW)).returning(*OPS.c)
)
# The confirm click's: the operation that holds the run already, if any, else its new row.
# A start's row never holds a run (the partial unique index's `kind <> 'start'`).
# The states as bound values, not an expanding IN (which is rendered again at every execution
# and cannot run on the driver's cursor: bot/db/direct.py).
HOLDER = select(OPS).where(
    OPS.c.execution_id == bindparam("w_execution"),
    OPS.c.kind != "start",
    OPS.c.state.not_in([literal(state, OPS.c.state.type) for state in NOT_HOLDING]),
)
INSERT = insert(OPS)
INSERT_ID = INSERT.returning(OPS.c.id)  # on both databases: the new row's id, one round trip
# When the earliest unleased, unfinished row falls due.
NEXT_DUE = select(func.min(OPS.c.next_poll_at)).where(
    OPS.c.finished_at.is_(None), OPS.c.lease_owner.is_(None)
)
# ... and the earliest unleased, unfinished stop (bot/db/stops.py), in the same statement: the
# tracker's loop sleeps until the sooner of the two.
_STOP_DUE = (
    select(func.min(STOPS.c.next_poll_at))
    .where(STOPS.c.finished_at.is_(None), STOPS.c.lease_owner.is_(None))
    .scalar_subquery()
)
NEXT_DUE_WITH_STOPS = NEXT_DUE.add_columns(_STOP_DUE)
FINISH = update(OPS).where(
    *_MINE,
    OPS.c.resumed_at.is_not_distinct_from(bindparam("w_resumed", type_=OPS.c.resumed_at.type)),
    OPS.c.cancel_attempt == bindparam("w_attempt"),
)

_OPERATION = instrumentation.manager_of_class(Operation)
_CONFIGURED: list[bool] = []


def loaded(row: Mapping[str, Any] | RowMapping) -> Operation:
    """A claimed row (all of its columns, from CLAIM's RETURNING) as an Operation, as the ORM
    loads one: its values set as the object's loaded state. `Operation(**row)` set each through
    its instrumented attribute, 56 of them, about 30 times the CPU; the object is the same
    (transient, every attribute readable and settable), except that its values count as
    loaded rather than as changes, which nothing reads: a claimed row is written back only by
    the store's statements (bot/db/operations.py), never by a session's flush."""
    if not _CONFIGURED:
        configure_mappers()  # what a model's first constructor call does: attributes set up
        _CONFIGURED.append(True)
    op: Operation = _OPERATION.new_instance()
    op.__dict__.update(row)
    return op
