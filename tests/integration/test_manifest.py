"""manifest.yml against Slack's manifest schema, and the Procfile."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SCHEMA_PATH = SHARED / "slack" / "manifest.schema.json"
BOT_SCOPES = {"commands", "chat:write", "chat:write.public", "usergroups:read", "users:read"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    if not SCHEMA_PATH.exists():
        pytest.fail(f"the shared Slack manifest schema is missing: {SCHEMA_PATH}")
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_manifest_validates_against_the_slack_schema(
    manifest: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_the_schema_is_strict_enough_to_catch_mistakes(
    manifest: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    wrong_type = copy.deepcopy(manifest)
    wrong_type["settings"]["interactivity"]["is_enabled"] = "yes"
    assert list(validator.iter_errors(wrong_type))
    unknown_key = copy.deepcopy(manifest)
    unknown_key["settings"]["socket_mode"] = False
    assert list(validator.iter_errors(unknown_key))


def test_the_polytomic_command(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/polytomic"]
    command = commands[0]
    assert command["should_escape"] is True
    assert command.get("usage_hint", "").strip()
    assert "cancel" in command["usage_hint"]
    assert command.get("description", "").strip()
    assert command["url"].endswith("/slack/events")


def test_interactivity_is_on(manifest: dict[str, Any]) -> None:
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith("/slack/events")


def test_exactly_the_minimal_bot_scopes(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    assert sorted(scopes["bot"]) == sorted(BOT_SCOPES)
    assert len(scopes["bot"]) == len(BOT_SCOPES)
    assert not scopes.get("user")


def test_socket_mode_is_off_with_a_note_on_switching_it_on(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is False
    raw = (ROOT / "manifest.yml").read_text()
    comments = " ".join(line for line in raw.splitlines() if line.lstrip().startswith("#"))
    assert "Socket Mode" in comments or "socket_mode_enabled" in comments
    assert "SLACK_APP_TOKEN" in comments


def test_the_bot_user_exists(manifest: dict[str, Any]) -> None:
    assert manifest["features"]["bot_user"]["display_name"].strip()
    assert manifest["display_information"]["name"].strip()


def _procfile() -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        assert match, f"not a Procfile line: {line!r}"
        assert match.group(1) not in processes, f"{match.group(1)} defined twice"
        processes[match.group(1)] = match.group(2).strip()
    return processes


def test_procfile_web_and_worker() -> None:
    processes = _procfile()
    assert shlex.split(processes["web"])[:2] == ["polytomic-bot", "serve"]
    assert shlex.split(processes["worker"])[:2] == ["polytomic-bot", "worker"]


def test_procfile_migrates_in_the_release_phase() -> None:
    """Platforms with a release phase upgrade the schema once, before new processes start."""
    assert shlex.split(_procfile()["release"]) == ["polytomic-bot", "migrate"]
