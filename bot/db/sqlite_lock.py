"""One process per SQLite file: the exclusive lock beside it.

SQLite is for one process: two trackers on one file would both think they own the operations,
and a schema upgrade or a grant written behind a running bot's back is a change it did not
agree to. So `serve`, `socket` and `worker` hold this lock for their whole life, and `migrate`,
`grant` and `revoke` for theirs; whoever comes second is refused. The lock is an flock(2) on
`<file>.lock`, so it goes away with the process, however it dies.
"""

from __future__ import annotations

import fcntl
import os
from typing import IO

from bot.db.engine import sqlite_file


class AlreadyRunning(Exception):
    """Another live process holds the file; `pid` is the one it wrote, when it is readable."""

    def __init__(self, database: str, pid: int | None) -> None:
        self.database = database
        self.pid = pid
        by = f" (pid {pid})" if pid is not None else ""
        super().__init__(f"another polytomic-bot process is using {database}{by}")


def hold(database_url: str) -> IO[str] | None:
    """Take the lock for the life of the returned handle (close it to let go); None when the
    database is not an SQLite file, and AlreadyRunning when another process holds it."""
    database = sqlite_file(database_url)
    if database is None:
        return None
    lock_path = database.with_name(database.name + ".lock")
    handle = lock_path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise AlreadyRunning(str(database), int(holder) if holder.isdigit() else None) from None
    # Only the holder writes, so a refused process leaves the holder's pid in place.
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
