"""The database check of `polytomic-bot check`: DATABASE_URL parses, the database opens, and
its schema is at the newest migration.

It never creates or migrates anything: a missing SQLite file is reported rather than opened
(opening would create it), and PostgreSQL connects with a `connect_timeout` of the `timeout`
the runner passes (bot.check.CALL_TIMEOUT) unless the URL sets one.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.check.result import Failed, Result
from bot.check.settings import Loaded
from bot.config import SETTINGS_HELP


def check_database(loaded: Loaded, timeout: float) -> Result:
    from bot.db import migrate
    from bot.db.engine import Database, sqlite_file

    loaded.require_well_formed("DATABASE_URL")
    fix_url = "check DATABASE_URL (" + SETTINGS_HELP["DATABASE_URL"] + ")"
    try:
        url: URL = make_url(loaded.settings.database_url)
    except (ArgumentError, ValueError):
        raise Failed("DATABASE_URL cannot be parsed", fix_url) from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(loaded.settings.database_url)
        # Connecting would create an empty file; say what is wrong instead.
        if path is not None and not path.exists():
            raise Failed(
                f"the SQLite database {shown} does not exist",
                "run `polytomic-bot migrate` to create it, or point DATABASE_URL at the bot's database",
            )
    elif "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(int(timeout))})
    db = Database(url.render_as_string(hide_password=False), pool_size=1)
    try:
        current = migrate.current_revision(db.engine)
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
        raise Failed(
            f"cannot open {shown}: {reason}",
            f"{fix_url}: host, port, database, user and password, and that the server is running",
        ) from None
    finally:
        db.dispose()
    problem = migrate.schema_problem(current)
    if problem is None:
        return Result("database", True, f"{shown} is reachable and at the newest migration ({current})")
    what, fix = problem
    raise Failed(f"{shown} is reachable but {what}", fix)
