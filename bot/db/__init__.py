"""The database, and the only package that builds SQL: models, engine setup, migrations, and a
store per table with named verbs (operations.py, grants.py, audit.py). No module outside it
builds a statement or opens a session (tests/integration/test_sql_in_db.py)."""

from bot.db.engine import Database
from bot.db.models import AuditEvent, Base, Grant, Operation, utcnow

__all__ = ["AuditEvent", "Base", "Database", "Grant", "Operation", "utcnow"]
