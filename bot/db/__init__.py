"""The database: models, engine setup and migrations."""

from bot.db.engine import Database
from bot.db.models import AuditEvent, Base, Grant, Operation, utcnow

__all__ = ["AuditEvent", "Base", "Database", "Grant", "Operation", "utcnow"]
