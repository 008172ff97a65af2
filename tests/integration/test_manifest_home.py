"""manifest.yml turns the Home tab on and subscribes app_home_opened on /slack/events, and still
validates against Slack's manifest schema (tests/integration/test_manifest.py checks it whole)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.json"


def test_the_home_tab_and_its_event() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    # Status messages of cancels started from the Home tab go to the DM: shown, read-only.
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["app_home_opened"]
    assert events["request_url"] == manifest["settings"]["interactivity"]["request_url"]
    assert events["request_url"].endswith("/slack/events")
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert [error.message for error in validator.iter_errors(manifest)] == []
    # The schema is strict about these keys: a wrong type is refused.
    home["home_tab_enabled"] = "yes"
    assert list(validator.iter_errors(manifest))
