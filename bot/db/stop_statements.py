"""The stops' hot statements, built once (bot/db/stops.py runs them), and the narrow row a
stop's tally reads of each of its operations.

As for the operations (bot/db/operation_statements.py), each statement takes its values as
parameters at execution (the `w_*` ones are its WHERE's; an UPDATE without `.values()` sets
the columns its other parameters name), so SQLAlchemy compiles each shape once, and the writes
go through bot/db/direct.py. A 1,000-sync stop runs `hint` with the last writes of each of its
operations, its pass several times a stop, and the loop looks for a due stop ten times a second:
a fresh statement each time (its coercions, its cache key) cost more than running it.

`read_one` runs a prebuilt SELECT of one row through bot/db/direct.py on a pooled connection,
outside any SQLAlchemy transaction: the stop's `aborted` check (once per operation of a stop,
before its cancel) and the loop's look for a due stop paid four times the statement's own cost
for a connection's transaction, its execution context and its result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy.sql import Select

from bot.db import direct
from bot.db.models import OPERATIONS, STOP_SYNCS, STOPS

OPS = OPERATIONS
_UNSETTLED = ("confirmed", "canceling")  # an operation of a stop that may still change the summary

_STOP_TIME = STOPS.c.next_poll_at.type
_NOW = bindparam("w_now", type_=_STOP_TIME)


def _lease_free() -> Any:
    return or_(STOPS.c.lease_owner.is_(None), STOPS.c.lease_expires_at < _NOW)


# An operation of the stop reached a final state: when no other one may still change the
# summary, the stop is due now (bot/db/stops.py `hint`). The IN list is two literals' binds,
# not an expanding IN, so that bot/db/direct.py can run it.
_OTHERS = (
    select(OPS.c.id)
    .where(
        OPS.c.stop_id == bindparam("w_stop"),
        OPS.c.id != bindparam("w_op"),
        OPS.c.state.in_([literal(state) for state in _UNSETTLED]),
    )
    .exists()
)
HINT = update(STOPS).where(STOPS.c.id == bindparam("w_stop"), STOPS.c.finished_at.is_(None), ~_OTHERS)

# Whether the rest of a stop was aborted.
ABORTED = select(STOPS.c.aborted_at).where(STOPS.c.id == bindparam("w_stop"))

# The loop's look: is any stop due (the claim below decides, conditionally)?
_DUE_NOW = (STOPS.c.finished_at.is_(None), STOPS.c.next_poll_at <= _NOW, _lease_free())
ANY_DUE = select(STOPS.c.id).where(*_DUE_NOW).limit(1)
_DUE = (
    select(STOPS.c.id)
    .where(*_DUE_NOW)
    .order_by(STOPS.c.next_poll_at)
    .limit(bindparam("w_limit"))
    .with_for_update(skip_locked=True)
)
# The lease is checked again in the UPDATE itself (on SQLite that makes the claim exclusive);
# the lease's owner and expiry are the SET clause, given at execution.
CLAIM = update(STOPS).where(STOPS.c.id.in_(_DUE.scalar_subquery()), _lease_free()).returning(*STOPS.c)
NEXT_DUE = select(func.min(STOPS.c.next_poll_at)).where(
    STOPS.c.finished_at.is_(None), STOPS.c.lease_owner.is_(None)
)

# A pass's write to its stop, while this owner holds the lease (and renewing it).
_MINE = (STOPS.c.id == bindparam("w_id"), STOPS.c.lease_owner == bindparam("w_owner"))
HELD = update(STOPS).where(*_MINE)
# A sync's pause or resume as it landed.
MEMBER = update(STOP_SYNCS).where(STOP_SYNCS.c.id == bindparam("w_member"))
# A cancel-and-pause sync's schedule resumed by the stop's Resume: only one not resumed yet.
OPERATION_RESUME = update(OPS).where(OPS.c.id == bindparam("w_op"), OPS.c.resumed_at.is_(None))
# The stop given back, due at `w_next`, unless a hint came during the pass (then now).
RELEASE = HELD.values(
    lease_owner=None,
    lease_expires_at=None,
    next_poll_at=case(
        (
            STOPS.c.hinted_at.is_not_distinct_from(bindparam("w_hinted", type_=_STOP_TIME)),
            bindparam("w_next", type_=_STOP_TIME),
        ),
        else_=_NOW,
    ),
)
# Done, unless a click (a resume, an abort) or a hint came during the pass.
FINISH = HELD.where(
    STOPS.c.hinted_at.is_not_distinct_from(bindparam("w_hinted", type_=_STOP_TIME)),
    and_(STOPS.c.resume_asked_at.is_not_distinct_from(bindparam("w_resume_asked", type_=_STOP_TIME))),
).values(finished_at=_NOW, lease_owner=None, lease_expires_at=None)


@dataclass(slots=True)
class TalliedOperation:
    """What a stop's tally, its Resume and its views read of one of its operations
    (bot/stops.py), as a plain object: a 1,000-sync stop's pass reads every one of them, and
    the ORM's loading of them cost eight times the read. Another column is not there
    (reading one raises AttributeError, never a silent None); a resume's columns are set on it
    as they land (bot/db/stops.py `save_operation_resume`)."""

    id: int
    stop_id: int | None
    sync_id: str
    sync_name: str | None
    kind: str
    state: str
    last_error: str | None
    execution_errors: str | None
    paused_at: datetime | None
    was_active: bool | None
    pause_error: str | None
    resumed_at: datetime | None
    resume_error: str | None
    resumed_by: str | None


TALLIED = (
    select(*(OPS.c[field.name] for field in fields(TalliedOperation)))
    .where(OPS.c.stop_id == bindparam("w_stop"))
    .order_by(OPS.c.id)
)


def read_one(engine: Engine, statement: Select[Any], values: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The first row of `statement`, or None: `direct.fetch` on a pooled connection, outside
    any SQLAlchemy transaction (one statement, which both databases run as a transaction of its
    own: SQLite's driver connections are in autocommit mode, bot/db/engine.py; on PostgreSQL the
    pool rolls back what the driver began when the connection is returned)."""
    with engine.connect() as connection:
        rows = direct.fetch(connection, statement, values)[1]
    return rows[0] if rows else None
