"""bot.polytomic.models: connections and their lookup by ID or name, and the webhook model,
whose secret no repr, str, f-string, log line or exception may show (pure)."""

from __future__ import annotations

import copy
import dataclasses
import logging

import pytest

from bot.polytomic import (
    AmbiguousConnection,
    Connection,
    ConnectionType,
    Secret,
    UnknownConnection,
    Webhook,
    find_connection,
    mask_secret,
    parse_connection,
    parse_webhook,
)

SECRET = "hook-secret-ABC123"


def test_a_connection_parses_tolerantly() -> None:
    full = parse_connection(
        {
            "id": "c-1",
            "name": "Salesforce prod",
            "type": {"id": "salesforce", "name": "Salesforce", "logo_url": "x"},
            "status": "healthy",
            "status_error": "",
            "parent_connection_id": "c-0",
            "organization_id": "org",
            "configuration": {"password": "[redacted]"},
        }
    )
    assert full == Connection(
        id="c-1",
        name="Salesforce prod",
        type=ConnectionType(id="salesforce", name="Salesforce"),
        status="healthy",
        status_error=None,
        parent_connection_id="c-0",
        organization_id="org",
    )
    assert parse_connection({"type": "salesforce"}, default_id="c-2") == Connection(id="c-2")
    assert parse_connection(None).id == ""


CONNECTIONS = [
    Connection(id="5b6a3f6e-1f0a-4c39-9d2b-0a3c0e2e9f11", name="Salesforce  Prod"),
    Connection(id="c-2", name="HubSpot"),
    Connection(id="c-3", name="Warehouse"),
    Connection(id="c-4", name="warehouse"),
    Connection(id="c-5", name="c-2"),  # named like another connection's ID
    Connection(id="c-6", name=None),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("5b6a3f6e-1f0a-4c39-9d2b-0a3c0e2e9f11", "5b6a3f6e-1f0a-4c39-9d2b-0a3c0e2e9f11"),
        ("5B6A3F6E-1F0A-4C39-9D2B-0A3C0E2E9F11", "5b6a3f6e-1f0a-4c39-9d2b-0a3c0e2e9f11"),  # UUIDs ignore case
        ("salesforce prod", "5b6a3f6e-1f0a-4c39-9d2b-0a3c0e2e9f11"),  # case and repeated spaces
        ("  SALESFORCE   PROD ", "5b6a3f6e-1f0a-4c39-9d2b-0a3c0e2e9f11"),
        ("hubspot", "c-2"),
        ("c-2", "c-2"),  # the ID wins over a name
        ("c-6", "c-6"),
    ],
)
def test_find_connection_by_id_or_exact_name(query: str, expected: str) -> None:
    assert find_connection(CONNECTIONS, query).id == expected


def test_find_connection_says_when_it_cannot_tell() -> None:
    with pytest.raises(AmbiguousConnection) as ambiguous:
        find_connection(CONNECTIONS, "WAREHOUSE")
    assert {c.id for c in ambiguous.value.candidates} == {"c-3", "c-4"}
    assert ambiguous.value.query == "WAREHOUSE"
    for query in ("Sales", "salesforce prod x", "", "   "):
        with pytest.raises(UnknownConnection):
            find_connection(CONNECTIONS, query)
    with pytest.raises(UnknownConnection):
        find_connection([], "anything")
    assert isinstance(ambiguous.value, LookupError)


# ----------------------------------------------------------------- the webhook's secret


def webhook() -> Webhook:
    return parse_webhook(
        {
            "id": "wh-1",
            "endpoint": "https://bot.example.com/polytomic/webhook",
            "secret": SECRET,
            "disabled": False,
            "organization_id": "org",
            "created_at": "2025-09-18T10:00:00Z",
        }
    )


def test_the_secret_is_held_but_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    hook = webhook()
    assert hook.secret is not None and hook.secret.value == SECRET
    shown = [
        repr(hook),
        str(hook),
        f"{hook}",
        f"{hook!r}",
        "{}".format(hook),  # noqa: UP032 (str.format is its own path)
        repr(hook.secret),
        str(hook.secret),
        repr(dataclasses.asdict(hook)),
        repr(copy.deepcopy(hook)),
        hook.masked_secret,
    ]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("webhook %s %r", hook, hook)
    shown.append(caplog.text)
    for text in shown:
        assert SECRET not in text, text
        assert SECRET[:6] not in text  # not even a prefix
    assert "<redacted>" in repr(hook)
    assert hook.masked_secret == f"******** ({len(SECRET)} characters)"


def test_the_secret_compares_in_constant_time_and_by_value() -> None:
    hook = webhook()
    assert hook.secret_matches(SECRET)
    assert not hook.secret_matches(SECRET + "x") and not hook.secret_matches("")
    assert hook == webhook()  # two reads of the same webhook are equal
    assert Secret("a") != Secret("b") and Secret("a") == Secret("a") and Secret("a") != "a"
    assert hash(Secret("abc")) == hash(Secret("abc"))
    with pytest.raises(TypeError):
        vars(hook.secret)  # no __dict__ to dump


def test_a_webhook_without_a_secret_and_a_disabled_one() -> None:
    bare = parse_webhook(
        {
            "id": "wh-2",
            "disabled": True,
            "disabled_at": "2025-09-18T10:00:00Z",
            "disabled_reason": "too many failures",
        }
    )
    assert bare.secret is None and not bare.secret_matches("anything")
    assert bare.masked_secret == "(none)" and mask_secret(Secret("")) == "(none)"
    assert bare.disabled is True and bare.disabled_reason == "too many failures"
    assert bare.disabled_at is not None
    assert parse_webhook([], default_id="x").id == "x"
