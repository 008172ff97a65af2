"""The fake Polytomic's connections (GET /api/connections), which syncs write to.

The shape is the SDK's ConnectionResponseSchema (polytomic 25.9.10) with what a listing
typically carries: id, name, organization, type{id, name}, status, the parent of a shared
copy, an empty (redacted) configuration, and who made it when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from bot.fakes.polytomic.common import rfc3339

__all__ = ["FakeConnection"]

# Display names of the integrations tests name most; others get their id title-cased.
_TYPE_NAMES: Final = {
    "salesforce": "Salesforce",
    "hubspot": "HubSpot",
    "postgresql": "PostgreSQL",
    "snowflake": "Snowflake",
    "bigquery": "BigQuery",
    "mysql": "MySQL",
    "redshift": "Redshift",
    "marketo": "Marketo",
    "zendesk": "Zendesk",
    "api": "HTTP API",
}


@dataclass
class FakeConnection:
    name: str
    type_id: str
    organization_id: str
    created_wall: float
    actor: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    type_name: str | None = None
    status: str = "healthy"
    status_error: str | None = None
    parent_connection_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "organization_id": self.organization_id,
            "type": {
                "id": self.type_id,
                "name": self.type_name or _TYPE_NAMES.get(self.type_id, self.type_id.title()),
            },
            "status": self.status,
            "configuration": {},
            "saved": True,
            "policies": [],
            "created_at": rfc3339(self.created_wall),
            "updated_at": rfc3339(self.created_wall),
            "created_by": self.actor,
            "updated_by": self.actor,
        }
        if self.status_error:
            body["status_error"] = self.status_error
        if self.parent_connection_id:
            body["parent_connection_id"] = self.parent_connection_id
        return body
