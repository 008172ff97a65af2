"""JSON Schema helpers for the tests that hold the fake Polytomic to the real API's contract
(tests/integration/test_fake_polytomic_*.py): the schemas, validators made from them, and
`strict()`, which removes the slack the SDK-generated schemas leave.

Three sources: shared/polytomic/schemas-from-sdk-25.9.10.json (the SDK's models syncs and
executions answer with), the OpenAPI export in shared/polytomic/openapi (formats such as uuid,
non-null fields), and tests/integration/schemas/events-webhooks-connections-sdk-25.9.10.json
(the SDK's models for events, webhooks and connections, generated the same way:
`pip install polytomic==25.9.10`, then `Model.model_json_schema()` for each model it names).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = [
    "FORMATS",
    "check_openapi",
    "event_schema_validator",
    "openapi_validator",
    "sdk_schemas",
    "sdk_validator",
    "strict",
]

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "polytomic"
SDK_SCHEMAS = SHARED / "schemas-from-sdk-25.9.10.json"
OPENAPI = SHARED / "openapi"

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$",
)
FORMATS = jsonschema.FormatChecker()


# jsonschema only checks date-time when rfc3339-validator is installed; do it ourselves.
@FORMATS.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "type" judges non-strings
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value)  # raises on 2025-13-45
    return True


def strict(schema: Any) -> Any:
    """Drop the `{}` (anything) branch of anyOf and forbid properties the schema doesn't name."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "anyOf" in out:
        out["anyOf"] = [branch for branch in out["anyOf"] if branch != {}]
    if out.get("type") == "object" and "properties" in out and out.get("additionalProperties") is True:
        out["additionalProperties"] = False
    return out


@cache
def _sdk() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SDK_SCHEMAS.read_text())
    return data


@cache
def _openapi_components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for path in sorted(OPENAPI.glob("*.yml")):
        schemas.update(yaml.safe_load(path.read_text())["components"]["schemas"])
    return schemas


@cache
def sdk_validator(name: str) -> jsonschema.protocols.Validator:
    schema = strict(copy.deepcopy(_sdk()[name]))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema, format_checker=FORMATS)


@cache
def openapi_validator(name: str) -> jsonschema.protocols.Validator:
    # OpenAPI 3.1+ schemas are JSON Schema 2020-12; refs point at #/components/schemas/...
    schema = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": _openapi_components()}}
    return jsonschema.Draft202012Validator(schema, format_checker=FORMATS)


def check_openapi(name: str, instance: Any) -> None:
    openapi_validator(name).validate(instance)


EVENTS_SCHEMAS = (
    Path(__file__).resolve().parent
    / "integration"
    / "schemas"
    / "events-webhooks-connections-sdk-25.9.10.json"
)


@cache
def event_schema_validator(name: str) -> jsonschema.protocols.Validator:
    """A strict validator for a model of the events/webhooks/connections schema file."""
    schema = strict(copy.deepcopy(json.loads(EVENTS_SCHEMAS.read_text())[name]))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema, format_checker=FORMATS)


def sdk_schemas() -> dict[str, Any]:
    """The raw (not strict) SDK schemas of shared/, for tests showing what strict() adds."""
    return _sdk()
